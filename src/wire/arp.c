/* wire/arp.c — ARP for Ethernet and IPv4. See wire.h.
 *
 * Read before touching: RFC 826 ("Packet format" and "Packet Reception"),
 * RFC 5227 §2.1 (probes: spa 0), RFC 5494 §2 (opcodes), IANA "Address
 * Resolution Protocol (ARP) Parameters" (htype 1 = Ethernet).
 *
 * Layout (RFC 826 "Packet format"):
 *   0 ar$hrd  2 ar$pro  4 ar$hln  5 ar$pln  6 ar$op
 *   8 ar$sha  14 ar$spa  18 ar$tha  24 ar$tpa  (28 bytes for Ethernet/IPv4) */
#include "wire/wire.h"

#include <string.h>

#include "wire/bytes.h"

#define ARP_HTYPE_ETHER 1

int ns_arp_parse(const uint8_t *buf, size_t len, struct ns_arp_repr *r)
{
    if (len < NS_ARP_LEN)
        return -NS_WIRE_TRUNCATED;
    /* RFC 826 "Packet Reception": if the pair <ar$hrd, ar$pro> is not one
     * we speak (and the lengths are not theirs), drop. */
    if (ns_rd16(buf) != ARP_HTYPE_ETHER || ns_rd16(buf + 2) != NS_ETHERTYPE_IPV4)
        return -NS_WIRE_UNSUPPORTED;
    if (buf[4] != NS_ETH_ALEN || buf[5] != 4)
        return -NS_WIRE_UNSUPPORTED;
    uint16_t op = ns_rd16(buf + 6);
    /* RFC 826 ar$op: REQUEST 1, REPLY 2. Others (RARP 3/4, InARP 8/9,
     * RFC 5494 experimental) are not ARP for us. */
    if (op != NS_ARP_OP_REQUEST && op != NS_ARP_OP_REPLY)
        return -NS_WIRE_BAD_FIELD;
    r->op = op;
    memcpy(r->sha, buf + 8, NS_ETH_ALEN);
    r->spa = ns_rd32(buf + 14);
    memcpy(r->tha, buf + 18, NS_ETH_ALEN);
    r->tpa = ns_rd32(buf + 24);
    return 0;
}

void ns_arp_emit(const struct ns_arp_repr *r, uint8_t *buf)
{
    ns_wr16(buf, ARP_HTYPE_ETHER);
    ns_wr16(buf + 2, NS_ETHERTYPE_IPV4);
    buf[4] = NS_ETH_ALEN;
    buf[5] = 4;
    ns_wr16(buf + 6, r->op);
    memcpy(buf + 8, r->sha, NS_ETH_ALEN);
    ns_wr32(buf + 14, r->spa);
    memcpy(buf + 18, r->tha, NS_ETH_ALEN);
    ns_wr32(buf + 24, r->tpa);
}
