/* wire/icmpv6.c — ICMPv6 header parse/emit, the checksum, the quote
 * length and the "may an error be sent" rules. See wire/ipv6.h.
 *
 * Read before touching: RFC 4443 §2.1 (message classes), §2.3 (checksum
 * over the pseudo-header), §2.4 (processing rules: (a)-(b) unknown types,
 * (c) what an error quotes, (e) when no error is sent), §3.1-§3.4 (error
 * formats), §4.1-§4.2 (echo); RFC 7112 §3 (Parameter Problem code 3);
 * Linux net/ipv6/icmp.c icmpv6_rcv and icmp6_send / is_ineligible.
 *
 * Layout: 0 type  1 code  2 checksum  4 four type-specific bytes (echo
 * id/seq, MTU, pointer, unused)  8 payload. */
#include "wire/ipv6.h"

#include <string.h>

#include "wire/bytes.h"

uint16_t ns_icmp6_csum(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                       const uint8_t *msg, size_t len)
{
    /* RFC 4443 §2.3: the checksum covers the pseudo-header (next header
     * 58) and the whole message. */
    return ns_ip6_upper_csum(src, dst, NS_IPPROTO_ICMPV6, msg, len);
}

int ns_icmp6_parse(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                   const uint8_t *buf, size_t len, struct ns_icmp6_repr *r, bool verify_csum)
{
    if (len < NS_ICMP6_HLEN)
        return -NS_WIRE_TRUNCATED;
    /* A message with its checksum in place sums to -0 (RFC 1071 §1(3)). */
    if (verify_csum && ns_icmp6_csum(src, dst, buf, len) != 0)
        return -NS_WIRE_BAD_CSUM;

    memset(r, 0, sizeof(*r));
    r->type = buf[0];
    r->code = buf[1];
    r->rest = ns_rd32(buf + 4);
    switch (r->type) {
    case NS_ICMP6_ECHO_REQUEST:
    case NS_ICMP6_ECHO_REPLY: /* RFC 4443 §4.1-§4.2: identifier, sequence */
        r->id = ns_rd16(buf + 4);
        r->seq = ns_rd16(buf + 6);
        break;
    case NS_ICMP6_PACKET_TOO_BIG: /* RFC 4443 §3.2: the next-hop MTU */
        r->mtu = r->rest;
        break;
    case NS_ICMP6_PARAM_PROB: /* RFC 4443 §3.4: offset in the invoking packet */
        r->pointer = r->rest;
        break;
    default:
        break;
    }
    r->payload = buf + NS_ICMP6_HLEN;
    r->payload_len = len - NS_ICMP6_HLEN;
    return 0;
}

void ns_icmp6_emit(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                   const struct ns_icmp6_repr *r, uint8_t *buf)
{
    /* The payload first: it may overlap the header about to be written
     * (an error built in the buffer of the packet it quotes). */
    if (r->payload_len && r->payload != buf + NS_ICMP6_HLEN)
        memmove(buf + NS_ICMP6_HLEN, r->payload, r->payload_len);
    buf[0] = r->type;
    buf[1] = r->code;
    ns_wr16(buf + 2, 0);
    switch (r->type) {
    case NS_ICMP6_ECHO_REQUEST:
    case NS_ICMP6_ECHO_REPLY:
        ns_wr16(buf + 4, r->id);
        ns_wr16(buf + 6, r->seq);
        break;
    case NS_ICMP6_PACKET_TOO_BIG:
        ns_wr32(buf + 4, r->mtu);
        break;
    case NS_ICMP6_PARAM_PROB:
        ns_wr32(buf + 4, r->pointer);
        break;
    default:
        ns_wr32(buf + 4, r->rest); /* RFC 4443 §3.1, §3.3: "unused", zero */
        break;
    }
    ns_wr16(buf + 2, ns_icmp6_csum(src, dst, buf, NS_ICMP6_HLEN + r->payload_len));
}

size_t ns_icmp6_quote_len(size_t invoking_len, size_t hdrs_len)
{
    /* RFC 4443 §3.1-§3.4: "As much of invoking packet as possible without
     * the ICMPv6 packet exceeding the minimum IPv6 MTU" (1280). Linux
     * icmp6_send: min(len, IPV6_MIN_MTU - sizeof(ipv6hdr) - sizeof(icmp6hdr)). */
    if (hdrs_len + NS_ICMP6_HLEN >= NS_IP6_MIN_MTU)
        return 0;
    size_t room = NS_IP6_MIN_MTU - hdrs_len - NS_ICMP6_HLEN;
    return invoking_len < room ? invoking_len : room;
}

bool ns_icmp6_error_allowed(const uint8_t *pkt, size_t len, uint8_t type, uint8_t code,
                            bool ll_multicast)
{
    struct ns_ip6_repr ip;
    if (ns_ip6_parse(pkt, len, &ip) < 0)
        return false;
    size_t pkt_len = NS_IP6_HLEN + (size_t)ip.payload_len;

    /* RFC 4443 §2.4 (e.6): never to a source that does not name one node
     * (Linux icmp6_send: "addr_any/mcast source"). */
    if (ns_ip6_is_unspecified(&ip.src) || ns_ip6_is_multicast(&ip.src))
        return false;
    /* (e.3)-(e.5): not about a packet sent to multicast, on the link or
     * in IPv6, except Packet Too Big (so path MTU discovery works for
     * multicast) and Parameter Problem code 2 for an option whose action
     * asks for it. */
    if (ns_ip6_is_multicast(&ip.dst) || ll_multicast) {
        bool exempt = type == NS_ICMP6_PACKET_TOO_BIG ||
                      (type == NS_ICMP6_PARAM_PROB && code == NS_ICMP6_PP_OPTION);
        if (!exempt)
            return false;
    }
    /* (e.1), (e.2): never about an ICMPv6 error or a Redirect. Find the
     * ICMPv6 header as Linux is_ineligible does: a packet whose chain
     * cannot be walked is answered (ipv6_skip_exthdr failing makes it
     * eligible: the Parameter Problems about a misplaced Hop-by-Hop header
     * or an incomplete first fragment's chain are sent), one whose ICMPv6
     * type byte is missing is not, except a non-first fragment, whose
     * type is unknowable. */
    struct ns_ip6_ext_info w;
    if (ns_ip6_ext_walk(pkt, pkt_len, &w) < 0)
        return true;
    if (w.fragment && w.frag.offset != 0)
        return true;
    if (w.upper == NS_IPPROTO_ICMPV6) {
        if (w.upper_off >= pkt_len)
            return false;
        uint8_t t = pkt[w.upper_off];
        if (ns_icmp6_is_error(t) || t == NS_ICMP6_REDIRECT)
            return false;
    }
    return true;
}

const char *ns_icmp6_describe(uint8_t type, uint8_t code)
{
    /* The names RFC 4443 §3 (and RFC 7112 §3) give the codes. */
    switch (type) {
    case NS_ICMP6_DEST_UNREACH:
        switch (code) {
        case NS_ICMP6_DU_NO_ROUTE: return "No route to destination";
        case NS_ICMP6_DU_ADMIN: return "Communication with destination administratively prohibited";
        case NS_ICMP6_DU_BEYOND_SCOPE: return "Beyond scope of source address";
        case NS_ICMP6_DU_ADDR: return "Address unreachable";
        case NS_ICMP6_DU_PORT: return "Port unreachable";
        case NS_ICMP6_DU_POLICY: return "Source address failed ingress/egress policy";
        case NS_ICMP6_DU_REJECT_ROUTE: return "Reject route to destination";
        default: return "Destination unreachable";
        }
    case NS_ICMP6_PACKET_TOO_BIG:
        return "Packet too big";
    case NS_ICMP6_TIME_EXCEEDED:
        return code == NS_ICMP6_TE_HOPLIMIT ? "Hop limit exceeded in transit"
                                            : "Fragment reassembly time exceeded";
    case NS_ICMP6_PARAM_PROB:
        switch (code) {
        case NS_ICMP6_PP_HEADER: return "Erroneous header field encountered";
        case NS_ICMP6_PP_NEXT_HEADER: return "Unrecognized Next Header type encountered";
        case NS_ICMP6_PP_OPTION: return "Unrecognized IPv6 option encountered";
        case NS_ICMP6_PP_INCOMPLETE_CHAIN: return "First fragment has incomplete header chain";
        default: return "Parameter problem";
        }
    default:
        return ns_icmp6_is_error(type) ? "Unknown ICMPv6 error" : "Not an ICMPv6 error";
    }
}
