/* wire/eth.c — Ethernet II frame header. See wire.h.
 *
 * Read before touching: IEEE 802.3 §3.2 (frame format), RFC 894
 * (IPv4 over Ethernet), RFC 7042 §2 (EtherType and multicast bit).
 * The EtherType is kept as it is: values below 0x0600 (802.3 length
 * frames) and unknown types are for the caller to count, not for the
 * parser to reject (STYLE §1). */
#include "wire/wire.h"

#include <stdio.h>
#include <string.h>

#include "wire/bytes.h"

const uint8_t ns_eth_broadcast[NS_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

int ns_eth_parse(const uint8_t *buf, size_t len, struct ns_eth_repr *r)
{
    if (len < NS_ETH_HLEN)
        return -NS_WIRE_TRUNCATED;
    memcpy(r->dst, buf, NS_ETH_ALEN);
    memcpy(r->src, buf + 6, NS_ETH_ALEN);
    r->ethertype = ns_rd16(buf + 12);
    return 0;
}

void ns_eth_emit(const struct ns_eth_repr *r, uint8_t *buf)
{
    memcpy(buf, r->dst, NS_ETH_ALEN);
    memcpy(buf + 6, r->src, NS_ETH_ALEN);
    ns_wr16(buf + 12, r->ethertype);
}

const char *ns_mac_ntoa(const uint8_t mac[NS_ETH_ALEN], char buf[18])
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
             mac[5]);
    return buf;
}
