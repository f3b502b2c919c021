/* wire/udp.c — UDP header (RFC 768).
 *
 * Read first: RFC 768 (format, pseudo-header checksum, zero = no
 * checksum, an all-zero result sent as all ones), RFC 1122 §4.1.3.4;
 * over IPv6 RFC 8200 §8.1 (pseudo-header; the checksum is mandatory). */
#include "wire/bytes.h"
#include "wire/ipv6.h"

int ns_udp_parse(const uint8_t *buf, size_t len, struct ns_udp_repr *r)
{
    if (len < NS_UDP_HLEN)
        return -NS_WIRE_TRUNCATED;
    r->sport = ns_rd16(buf);
    r->dport = ns_rd16(buf + 2);
    r->len = ns_rd16(buf + 4);
    r->csum = ns_rd16(buf + 6);
    /* RFC 768: the length counts the header, so is at least 8. */
    if (r->len < NS_UDP_HLEN || r->len > len)
        return -NS_WIRE_BAD_LEN;
    return 0;
}

void ns_udp_emit(const struct ns_udp_repr *r, uint8_t *buf)
{
    ns_wr16(buf, r->sport);
    ns_wr16(buf + 2, r->dport);
    ns_wr16(buf + 4, r->len);
    ns_wr16(buf + 6, r->csum);
}

uint16_t ns_udp_csum(uint32_t src, uint32_t dst, const uint8_t *udp, size_t len)
{
    uint16_t c = ns_csum_fold(ns_csum_add(ns_csum_pseudo4(src, dst, NS_IPPROTO_UDP, (uint16_t)len),
                                          udp, len));
    /* RFC 768: a computed zero is transmitted as all ones. */
    return c == 0 ? 0xffff : c;
}

bool ns_udp_csum_ok(uint32_t src, uint32_t dst, const uint8_t *udp, size_t len)
{
    return ns_csum_fold(ns_csum_add(ns_csum_pseudo4(src, dst, NS_IPPROTO_UDP, (uint16_t)len), udp,
                                    len)) == 0;
}

int ns_udp6_parse(const uint8_t *buf, size_t len, struct ns_udp_repr *r)
{
    int rc = ns_udp_parse(buf, len, r);
    if (rc < 0)
        return rc;
    /* RFC 8200 §8.1: unlike IPv4, the checksum is mandatory; "IPv6
     * receivers must discard UDP packets containing a zero checksum"
     * (Linux udp6_csum_init). RFC 6935's exception for tunnels that ask
     * for it is not supported. */
    if (r->csum == 0)
        return -NS_WIRE_ZERO_CSUM;
    return 0;
}

uint16_t ns_udp6_csum(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                      const uint8_t *udp, size_t len)
{
    uint16_t c = ns_ip6_upper_csum(src, dst, NS_IPPROTO_UDP, udp, len);
    /* RFC 8200 §8.1: a computed zero is sent as 0xffff. */
    return c == 0 ? 0xffff : c;
}

bool ns_udp6_csum_ok(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                     const uint8_t *udp, size_t len)
{
    return ns_ip6_upper_csum(src, dst, NS_IPPROTO_UDP, udp, len) == 0;
}
