/* wire/icmp.c — ICMPv4 header parse/emit. See wire.h.
 *
 * Read before touching: RFC 792 (message formats; the checksum covers the
 * whole ICMP message), RFC 1122 §3.2.2 (what a host does with each type),
 * RFC 1191 §4 (Next-Hop MTU in "fragmentation needed"), RFC 1812 §4.3.2.
 *
 * Layout: 0 type  1 code  2 checksum  4 four type-specific bytes
 * ("rest of header": echo id/seq, next-hop MTU, pointer, gateway)
 * 8 payload. */
#include "wire/wire.h"

#include <string.h>

#include "wire/bytes.h"

int ns_icmp4_parse(const uint8_t *buf, size_t len, struct ns_icmp4_repr *r, bool verify_csum)
{
    if (len < NS_ICMP_HLEN)
        return -NS_WIRE_TRUNCATED;
    /* RFC 792: the checksum is over the whole ICMP message starting with
     * the type. A correct message sums to -0 (RFC 1071 §1(3)). */
    if (verify_csum && ns_csum(buf, len) != 0)
        return -NS_WIRE_BAD_CSUM;

    r->type = buf[0];
    r->code = buf[1];
    r->rest = ns_rd32(buf + 4);
    r->id = 0;
    r->seq = 0;
    r->next_mtu = 0;
    if (r->type == NS_ICMP_ECHO || r->type == NS_ICMP_ECHO_REPLY) {
        /* RFC 792 "Echo or Echo Reply Message": identifier, sequence. */
        r->id = ns_rd16(buf + 4);
        r->seq = ns_rd16(buf + 6);
    } else if (r->type == NS_ICMP_DEST_UNREACH && r->code == NS_ICMP_FRAG_NEEDED) {
        /* RFC 1191 §4: unused (16 bits), then Next-Hop MTU (16 bits). */
        r->next_mtu = ns_rd16(buf + 6);
    }
    r->payload = buf + NS_ICMP_HLEN;
    r->payload_len = len - NS_ICMP_HLEN;
    return 0;
}

void ns_icmp4_emit(const struct ns_icmp4_repr *r, uint8_t *buf)
{
    /* Move the payload first: it may overlap buf, even the header bytes
     * about to be written (e.g. a reply built in the request's buffer
     * shifted by a few bytes). Never memmove from NULL, even 0 bytes. */
    if (r->payload_len && r->payload != buf + NS_ICMP_HLEN)
        memmove(buf + NS_ICMP_HLEN, r->payload, r->payload_len);
    buf[0] = r->type;
    buf[1] = r->code;
    ns_wr16(buf + 2, 0);
    if (r->type == NS_ICMP_ECHO || r->type == NS_ICMP_ECHO_REPLY) {
        ns_wr16(buf + 4, r->id);
        ns_wr16(buf + 6, r->seq);
    } else if (r->type == NS_ICMP_DEST_UNREACH && r->code == NS_ICMP_FRAG_NEEDED) {
        /* RFC 1191 §4: the high-order 16 bits stay unused (zero). */
        ns_wr16(buf + 4, 0);
        ns_wr16(buf + 6, r->next_mtu);
    } else {
        ns_wr32(buf + 4, r->rest);
    }
    /* RFC 792: checksum over the whole message with the field zero. */
    ns_wr16(buf + 2, ns_csum(buf, NS_ICMP_HLEN + r->payload_len));
}

/* The words ping(8) (iputils) prints for an ICMP error. */
const char *ns_icmp4_describe(uint8_t type, uint8_t code)
{
    if (type == NS_ICMP_TIME_EXCEEDED)
        return code == 0 ? "Time to live exceeded" : "Frag reassembly time exceeded";
    if (type == NS_ICMP_DEST_UNREACH) {
        switch (code) {
        case 0: return "Destination Net Unreachable";
        case 1: return "Destination Host Unreachable";
        case 2: return "Destination Protocol Unreachable";
        case 3: return "Destination Port Unreachable";
        case 4: return "Frag needed and DF set";
        case 13: return "Packet filtered";
        default: return "Dest Unreachable";
        }
    }
    if (type == NS_ICMP_PARAM_PROB)
        return "Parameter problem";
    return "Bad ICMP type";
}
