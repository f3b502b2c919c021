/* tests/frames6.h — IPv6 frames for the network-layer tests: builders of
 * Ethernet + IPv6 (+ extension headers) + ICMPv6/NDP, and a parser of
 * what the stack sent that fails the test on any malformed header or
 * checksum. Include after frames.h (the bench). */
#ifndef NS_TESTS_FRAMES6_H
#define NS_TESTS_FRAMES6_H

#include "frames.h"

#include "net/net.h"
#include "wire/ipv6.h"

static inline struct ns_ip6_addr fr6_addr(const char *text)
{
    struct ns_ip6_addr a;
    assert_true(ns_ip6_aton(text, &a));
    return a;
}

/* Ethernet + IPv6 header + `ext` (ext_len bytes of extension headers,
 * whose first next header is `first_nh` and whose last names `proto`;
 * without ext, first_nh is ignored) + payload. Returns the frame length. */
static inline size_t fr6_frame(uint8_t *buf, const uint8_t dmac[6], const uint8_t smac[6],
                               const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                               uint8_t hops, uint8_t first_nh, const uint8_t *ext,
                               size_t ext_len, uint8_t proto, const uint8_t *payload, size_t len)
{
    fr_eth(buf, dmac, smac, NS_ETHERTYPE_IPV6);
    struct ns_ip6_repr ip = {.payload_len = (uint16_t)(ext_len + len),
                             .next_hdr = ext_len ? first_nh : proto, .hop_limit = hops,
                             .src = *src, .dst = *dst};
    ns_ip6_emit(&ip, buf + NS_ETH_HLEN);
    if (ext_len)
        memcpy(buf + NS_ETH_HLEN + NS_IP6_HLEN, ext, ext_len);
    memcpy(buf + NS_ETH_HLEN + NS_IP6_HLEN + ext_len, payload, len);
    return NS_ETH_HLEN + NS_IP6_HLEN + ext_len + len;
}

/* An ICMPv6 message (checksum over src/dst) into out; returns its length. */
static inline size_t fr6_icmp(uint8_t *out, const struct ns_ip6_addr *src,
                              const struct ns_ip6_addr *dst, uint8_t type, uint8_t code,
                              uint32_t rest, const uint8_t *data, size_t len)
{
    struct ns_icmp6_repr r = {.type = type, .code = code, .rest = rest, .payload = data,
                              .payload_len = len};
    if (type == NS_ICMP6_ECHO_REQUEST || type == NS_ICMP6_ECHO_REPLY) {
        r.id = (uint16_t)(rest >> 16);
        r.seq = (uint16_t)rest;
    }
    if (type == NS_ICMP6_PACKET_TOO_BIG)
        r.mtu = rest;
    if (type == NS_ICMP6_PARAM_PROB)
        r.pointer = rest;
    ns_icmp6_emit(src, dst, &r, out);
    return NS_ICMP6_HLEN + len;
}

/* An NS (target; SLLA mac unless NULL) or NA (flags) as an ICMPv6 message. */
static inline size_t fr6_ns(uint8_t *out, const struct ns_ip6_addr *src,
                            const struct ns_ip6_addr *dst, const struct ns_ip6_addr *target,
                            const uint8_t *sll)
{
    uint8_t opts[8];
    size_t olen = sll ? ns_ndp_opt_lladdr_emit(opts, NS_NDP_OPT_SLLA, sll) : 0;
    struct ns_ndp_repr r = {.type = NS_ICMP6_NS, .target = *target, .opts = opts,
                            .opts_len = olen};
    return ns_ndp_emit(src, dst, &r, out);
}

static inline size_t fr6_na(uint8_t *out, const struct ns_ip6_addr *src,
                            const struct ns_ip6_addr *dst, const struct ns_ip6_addr *target,
                            const uint8_t *tll, bool solicited, bool override)
{
    uint8_t opts[8];
    size_t olen = tll ? ns_ndp_opt_lladdr_emit(opts, NS_NDP_OPT_TLLA, tll) : 0;
    struct ns_ndp_repr r = {.type = NS_ICMP6_NA, .target = *target, .solicited = solicited,
                            .override = override, .opts = opts, .opts_len = olen};
    return ns_ndp_emit(src, dst, &r, out);
}

/* What the stack sent, as IPv6. */
struct fr6_pkt {
    struct ns_eth_repr eth;
    struct ns_ip6_repr ip;
    const uint8_t *ip_hdr;
    size_t ip_len;
    struct ns_ip6_ext_info w;
    bool is_icmp;              /* an ICMPv6 message, not a fragment */
    struct ns_icmp6_repr icmp;
    bool is_nd;
    struct ns_ndp_repr nd;
};

/* Parse an IPv6 frame; fails the test on anything malformed (a frame
 * that is not IPv6 fails too). */
static inline void fr6_parse(const uint8_t *f, size_t len, struct fr6_pkt *p)
{
    memset(p, 0, sizeof(*p));
    assert_int_equal(ns_eth_parse(f, len, &p->eth), 0);
    assert_int_equal(p->eth.ethertype, NS_ETHERTYPE_IPV6);
    p->ip_hdr = f + NS_ETH_HLEN;
    p->ip_len = len - NS_ETH_HLEN;
    assert_int_equal(ns_ip6_parse(p->ip_hdr, p->ip_len, &p->ip), 0);
    assert_int_equal(NS_IP6_HLEN + p->ip.payload_len, p->ip_len);
    assert_int_equal(ns_ip6_ext_walk(p->ip_hdr, p->ip_len, &p->w), 0);
    if (p->w.upper == NS_IPPROTO_ICMPV6 && !p->w.fragment) {
        assert_int_equal(ns_icmp6_parse(&p->ip.src, &p->ip.dst, p->ip_hdr + p->w.upper_off,
                                        p->ip_len - p->w.upper_off, &p->icmp, true),
                         0);
        p->is_icmp = true;
        if (p->icmp.type >= NS_ICMP6_RS && p->icmp.type <= NS_ICMP6_REDIRECT) {
            assert_int_equal(ns_ndp_parse(&p->ip, p->ip_hdr + p->w.upper_off,
                                          p->ip_len - p->w.upper_off, &p->nd),
                             0);
            p->is_nd = true;
        }
    }
}

/* The next frame ifx sent, as IPv6 (tb->out holds it), or false. */
static inline bool tb_take6(struct tb *tb, int ifx, struct fr6_pkt *p)
{
    long n = ns_qdev_take(tb->dev[ifx], tb->out, sizeof(tb->out));
    if (n < 0)
        return false;
    fr6_parse(tb->out, (size_t)n, p);
    return true;
}

#endif
