/* tests/unit/test_icmp6_wire.c — ICMPv6 (echo, errors, the 1280-byte quote
 * rule, when an error may be sent), Neighbor Discovery messages and
 * options, and MLD queries and reports: the Linux kernel's and radvd's
 * packets (tests/unit/wire6_frames.h) parsed field by field and rebuilt
 * byte for byte by our emitters, and every validity check of RFC 4861
 * and RFC 3810 with its own error code.
 *
 * Replay a random failure with the printed NETSOCK_SEED. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "wire6_test.h"

#include "base/rng.h"
#include "wire/bytes.h"
#include "wire/ipv6.h"

/* A captured frame taken apart: its IPv6 header, and where its upper
 * layer (ICMPv6 here) starts and how long it is. */
struct pkt {
    struct ns_ip6_repr ip;
    const uint8_t *l4;
    size_t l4_len;
};

static struct pkt take(const uint8_t *frame, size_t frame_len)
{
    struct pkt p;
    const uint8_t *ip6 = frame + NS_ETH_HLEN;
    assert_int_equal(ns_ip6_parse(ip6, frame_len - NS_ETH_HLEN, &p.ip), 0);
    struct ns_ip6_ext_info w;
    assert_int_equal(ns_ip6_ext_walk(ip6, NS_IP6_HLEN + p.ip.payload_len, &w), 0);
    p.l4 = ip6 + w.upper_off;
    p.l4_len = NS_IP6_HLEN + p.ip.payload_len - w.upper_off;
    return p;
}
#define TAKE(f) take(f, sizeof(f))

/* ---- ICMPv6 ----------------------------------------------------------------- */

static void test_icmp6_echo_real(void **state)
{
    (void)state;
    struct pkt q = TAKE(frame_echo_req), a = TAKE(frame_echo_rep);
    struct ns_icmp6_repr rq, ra;
    assert_int_equal(ns_icmp6_parse(&q.ip.src, &q.ip.dst, q.l4, q.l4_len, &rq, true), 0);
    assert_int_equal(rq.type, NS_ICMP6_ECHO_REQUEST);
    assert_int_equal(rq.code, 0);
    assert_int_equal(rq.id, 0x7082); /* tshark: icmpv6.echo.identifier */
    assert_int_equal(rq.seq, 1);
    assert_int_equal(rq.payload_len, 56);
    assert_false(ns_icmp6_is_error(rq.type));
    assert_int_equal(ns_icmp6_parse(&a.ip.src, &a.ip.dst, a.l4, a.l4_len, &ra, true), 0);
    assert_int_equal(ra.type, NS_ICMP6_ECHO_REPLY);
    assert_int_equal(ra.id, rq.id);
    assert_int_equal(ra.seq, rq.seq);
    assert_int_equal(ra.payload_len, rq.payload_len);
    assert_memory_equal(ra.payload, rq.payload, rq.payload_len);

    /* The reply built from the request, as an echo responder would: the
     * kernel's reply byte for byte, checksum included. */
    struct ns_icmp6_repr reply = rq;
    reply.type = NS_ICMP6_ECHO_REPLY;
    uint8_t out[64];
    ns_icmp6_emit(&a.ip.src, &a.ip.dst, &reply, out);
    assert_memory_equal(out, a.l4, a.l4_len);
    /* And in place, over the request's own bytes. */
    uint8_t inplace[64];
    memcpy(inplace, q.l4, q.l4_len);
    reply.payload = inplace + NS_ICMP6_HLEN;
    ns_icmp6_emit(&a.ip.src, &a.ip.dst, &reply, inplace);
    assert_memory_equal(inplace, a.l4, a.l4_len);
}

static void test_icmp6_csum(void **state)
{
    (void)state;
    struct pkt q = TAKE(frame_echo_req);
    struct ns_icmp6_repr r;
    assert_int_equal(ns_icmp6_csum(&q.ip.src, &q.ip.dst, q.l4, q.l4_len), 0);
    uint8_t copy[64];
    memcpy(copy, q.l4, q.l4_len);
    /* Any one byte changed: the checksum no longer verifies (RFC 4443
     * §2.3), unless the caller does not ask. */
    for (size_t i = 0; i < q.l4_len; i++) {
        copy[i] ^= 0x5a;
        assert_int_equal(ns_icmp6_parse(&q.ip.src, &q.ip.dst, copy, q.l4_len, &r, true),
                         -NS_WIRE_BAD_CSUM);
        assert_int_equal(ns_icmp6_parse(&q.ip.src, &q.ip.dst, copy, q.l4_len, &r, false), 0);
        copy[i] ^= 0x5a;
    }
    /* The pseudo-header covers both addresses. */
    struct ns_ip6_addr other = A("2001:db8:1::b");
    assert_int_equal(ns_icmp6_parse(&other, &q.ip.dst, q.l4, q.l4_len, &r, true),
                     -NS_WIRE_BAD_CSUM);
    assert_int_equal(ns_icmp6_parse(&q.ip.src, &other, q.l4, q.l4_len, &r, true),
                     -NS_WIRE_BAD_CSUM);
    /* Every ICMPv6 message the kernel, radvd and the bridge sent verifies. */
    static const struct {
        const uint8_t *f;
        size_t len;
    } all[] = {
        {frame_mld2_report, sizeof(frame_mld2_report)}, {frame_ns_dad, sizeof(frame_ns_dad)},
        {frame_rs, sizeof(frame_rs)}, {frame_ra, sizeof(frame_ra)},
        {frame_ns_mcast, sizeof(frame_ns_mcast)}, {frame_na_rso, sizeof(frame_na_rso)},
        {frame_na_plain, sizeof(frame_na_plain)}, {frame_echo_rep, sizeof(frame_echo_rep)},
        {frame_redirect, sizeof(frame_redirect)}, {frame_addr_unreach, sizeof(frame_addr_unreach)},
        {frame_ptb, sizeof(frame_ptb)}, {frame_time_exceeded, sizeof(frame_time_exceeded)},
        {frame_port_unreach, sizeof(frame_port_unreach)},
        {frame_pp_nexthdr, sizeof(frame_pp_nexthdr)}, {frame_pp_option, sizeof(frame_pp_option)},
        {frame_mld2_query, sizeof(frame_mld2_query)}, {frame_mld1_query, sizeof(frame_mld1_query)},
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        struct pkt p = take(all[i].f, all[i].len);
        assert_int_equal(ns_icmp6_parse(&p.ip.src, &p.ip.dst, p.l4, p.l4_len, &r, true), 0);
    }
}

static void test_icmp6_truncated(void **state)
{
    (void)state;
    struct pkt q = TAKE(frame_echo_req);
    struct ns_icmp6_repr r;
    for (size_t len = 0; len < NS_ICMP6_HLEN; len++) {
        uint8_t *p = ns_test_dup_exact(q.l4, len);
        assert_int_equal(ns_icmp6_parse(&q.ip.src, &q.ip.dst, p, len, &r, false),
                         -NS_WIRE_TRUNCATED);
        free(p);
    }
    uint8_t *p = ns_test_dup_exact(q.l4, NS_ICMP6_HLEN);
    assert_int_equal(ns_icmp6_parse(&q.ip.src, &q.ip.dst, p, NS_ICMP6_HLEN, &r, false), 0);
    assert_int_equal(r.payload_len, 0);
    free(p);
}

static void test_icmp6_errors_real(void **state)
{
    (void)state;
    struct ns_icmp6_repr r;
    struct ns_ip6_repr inner;
    struct ns_ip6_ext_info w;

    /* Packet Too Big from the router in front of the 1280 link: MTU 1280,
     * and the quote is as long as the 1280-byte rule allows: the kernel's
     * min(1448, 1280 - 40 - 8) = 1232, ours too. */
    struct pkt p = TAKE(frame_ptb);
    assert_int_equal(ns_icmp6_parse(&p.ip.src, &p.ip.dst, p.l4, p.l4_len, &r, true), 0);
    assert_int_equal(r.type, NS_ICMP6_PACKET_TOO_BIG);
    assert_true(ns_icmp6_is_error(r.type));
    assert_int_equal(r.mtu, 1280);
    assert_int_equal(NS_IP6_HLEN + p.ip.payload_len, NS_IP6_MIN_MTU);
    /* The quote is cut: its header claims 1408 bytes of payload, so it
     * does not parse as a whole packet, and the walker takes what is
     * there (the echo request's header). */
    assert_int_equal(ns_ip6_parse(r.payload, r.payload_len, &inner), -NS_WIRE_BAD_LEN);
    assert_int_equal(ns_rd16(r.payload + 4), 1408);
    assert_int_equal(r.payload_len, ns_icmp6_quote_len(NS_IP6_HLEN + 1408, 40));
    assert_int_equal(r.payload_len, 1232);
    assert_int_equal(ns_ip6_ext_walk(r.payload, r.payload_len, &w), 0);
    assert_int_equal(w.upper, NS_IPPROTO_ICMPV6);
    assert_int_equal(r.payload[w.upper_off], NS_ICMP6_ECHO_REQUEST);
    struct ns_ip6_addr quoted_dst;
    memcpy(quoted_dst.b, r.payload + 24, 16);
    assert_addr(&quoted_dst, "2001:db8:2::b");
    /* Emit it again from its repr: the kernel's bytes. */
    uint8_t out[1240];
    ns_icmp6_emit(&p.ip.src, &p.ip.dst, &r, out);
    assert_memory_equal(out, p.l4, p.l4_len);

    /* Time Exceeded (hop limit) quoting the whole 104-byte request. */
    p = TAKE(frame_time_exceeded);
    assert_int_equal(ns_icmp6_parse(&p.ip.src, &p.ip.dst, p.l4, p.l4_len, &r, true), 0);
    assert_int_equal(r.type, NS_ICMP6_TIME_EXCEEDED);
    assert_int_equal(r.code, NS_ICMP6_TE_HOPLIMIT);
    assert_int_equal(r.rest, 0);
    assert_int_equal(r.payload_len, 104);
    assert_int_equal(r.payload_len, ns_icmp6_quote_len(104, 40));
    assert_int_equal(ns_ip6_parse(r.payload, r.payload_len, &inner), 0);
    assert_int_equal(inner.hop_limit, 1);
    ns_icmp6_emit(&p.ip.src, &p.ip.dst, &r, out);
    assert_memory_equal(out, p.l4, p.l4_len);

    /* Port Unreachable quoting exactly the UDP datagram's packet. */
    p = TAKE(frame_port_unreach);
    assert_int_equal(ns_icmp6_parse(&p.ip.src, &p.ip.dst, p.l4, p.l4_len, &r, true), 0);
    assert_int_equal(r.type, NS_ICMP6_DEST_UNREACH);
    assert_int_equal(r.code, NS_ICMP6_DU_PORT);
    assert_int_equal(r.payload_len, IP6LEN(frame_udp));
    assert_memory_equal(r.payload, IP6(frame_udp), IP6LEN(frame_udp));
    assert_string_equal(ns_icmp6_describe(r.type, r.code), "Port unreachable");

    /* Address Unreachable, once neighbour discovery failed. */
    p = TAKE(frame_addr_unreach);
    assert_int_equal(ns_icmp6_parse(&p.ip.src, &p.ip.dst, p.l4, p.l4_len, &r, true), 0);
    assert_int_equal(r.code, NS_ICMP6_DU_ADDR);
    assert_string_equal(ns_icmp6_describe(r.type, r.code), "Address unreachable");

    /* Parameter Problem code 1 (next header 253), pointer 6. */
    p = TAKE(frame_pp_nexthdr);
    assert_int_equal(ns_icmp6_parse(&p.ip.src, &p.ip.dst, p.l4, p.l4_len, &r, true), 0);
    assert_int_equal(r.type, NS_ICMP6_PARAM_PROB);
    assert_int_equal(r.code, NS_ICMP6_PP_NEXT_HEADER);
    assert_int_equal(r.pointer, 6);
    assert_memory_equal(r.payload, IP6(frame_proto253), IP6LEN(frame_proto253));
    ns_icmp6_emit(&p.ip.src, &p.ip.dst, &r, out);
    assert_memory_equal(out, p.l4, p.l4_len);
}

static void test_icmp6_quote_len(void **state)
{
    (void)state;
    /* RFC 4443 §3: as much as fits in 1280 bytes of ICMPv6 packet. */
    static const struct {
        size_t invoking, hdrs, want;
    } cases[] = {
        {0, 40, 0},       {100, 40, 100},   {1232, 40, 1232}, {1233, 40, 1232},
        {1500, 40, 1232}, {65575, 40, 1232}, {1224, 48, 1224}, {2000, 48, 1224},
        {500, 1272, 0},   {500, 1271, 1},    {500, 1280, 0},   {500, 5000, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(ns_icmp6_quote_len(cases[i].invoking, cases[i].hdrs), cases[i].want);
    /* Whatever the lengths, the error packet never passes 1280 bytes. */
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(1280));
    for (int i = 0; i < 10000; i++) {
        size_t inv = ns_rng_below(&rng, 70000), hdrs = 40 + 8 * ns_rng_below(&rng, 200);
        size_t q = ns_icmp6_quote_len(inv, hdrs);
        NS_ASSERT_SEED(q <= inv);
        NS_ASSERT_SEED(q == 0 || hdrs + NS_ICMP6_HLEN + q <= NS_IP6_MIN_MTU);
        NS_ASSERT_SEED(q == inv || hdrs + NS_ICMP6_HLEN + q == NS_IP6_MIN_MTU ||
                       hdrs + NS_ICMP6_HLEN >= NS_IP6_MIN_MTU);
    }
}

static void test_icmp6_classes(void **state)
{
    (void)state;
    for (int t = 0; t < 256; t++)
        assert_int_equal(ns_icmp6_is_error((uint8_t)t), t < 128);
    assert_string_equal(ns_icmp6_describe(NS_ICMP6_DEST_UNREACH, 0), "No route to destination");
    assert_string_equal(ns_icmp6_describe(NS_ICMP6_DEST_UNREACH, 6), "Reject route to destination");
    assert_string_equal(ns_icmp6_describe(NS_ICMP6_DEST_UNREACH, 99), "Destination unreachable");
    assert_string_equal(ns_icmp6_describe(NS_ICMP6_TIME_EXCEEDED, 1),
                        "Fragment reassembly time exceeded");
    assert_string_equal(ns_icmp6_describe(NS_ICMP6_PARAM_PROB, 3),
                        "First fragment has incomplete header chain");
    assert_string_equal(ns_icmp6_describe(NS_ICMP6_PACKET_TOO_BIG, 0), "Packet too big");
    assert_string_equal(ns_icmp6_describe(100, 0), "Unknown ICMPv6 error");
    assert_string_equal(ns_icmp6_describe(NS_ICMP6_ECHO_REQUEST, 0), "Not an ICMPv6 error");

    /* Parameter Problem: the pointer is 32 bits; other errors keep their
     * 4 bytes in `rest`. */
    struct ns_icmp6_repr r = {.type = NS_ICMP6_PARAM_PROB, .code = 0, .pointer = 0x12345678};
    uint8_t buf[8];
    struct ns_ip6_addr s = A("2001:db8::1"), d = A("2001:db8::2");
    ns_icmp6_emit(&s, &d, &r, buf);
    assert_int_equal(ns_rd32(buf + 4), 0x12345678);
    struct ns_icmp6_repr back;
    assert_int_equal(ns_icmp6_parse(&s, &d, buf, 8, &back, true), 0);
    assert_int_equal(back.pointer, 0x12345678);
    assert_int_equal(back.mtu, 0);
    r = (struct ns_icmp6_repr){.type = 200, .rest = 0xdeadbeef};
    ns_icmp6_emit(&s, &d, &r, buf);
    assert_int_equal(ns_icmp6_parse(&s, &d, buf, 8, &back, true), 0);
    assert_int_equal(back.type, 200);
    assert_int_equal(back.rest, 0xdeadbeef);
}

/* An IPv6 packet src > dst carrying `nh` and `body`. */
static size_t mk(uint8_t *buf, const char *src, const char *dst, uint8_t nh, const uint8_t *body,
                 size_t n)
{
    struct ns_ip6_repr ip = {.payload_len = (uint16_t)n, .next_hdr = nh, .hop_limit = 64,
                             .src = A(src), .dst = A(dst)};
    ns_ip6_emit(&ip, buf);
    memcpy(buf + NS_IP6_HLEN, body, n);
    return NS_IP6_HLEN + n;
}

static void test_icmp6_error_allowed(void **state)
{
    (void)state;
    uint8_t buf[200];
    static const uint8_t udp[8] = {0, 1, 0, 2, 0, 8, 0, 0};
    size_t len = mk(buf, "2001:db8::1", "2001:db8::2", NS_IPPROTO_UDP, udp, sizeof(udp));
    assert_true(ns_icmp6_error_allowed(buf, len, NS_ICMP6_DEST_UNREACH, 4, false));
    /* (e.4)/(e.5): link-layer multicast: only PTB and PP code 2. */
    assert_false(ns_icmp6_error_allowed(buf, len, NS_ICMP6_DEST_UNREACH, 4, true));
    assert_true(ns_icmp6_error_allowed(buf, len, NS_ICMP6_PACKET_TOO_BIG, 0, true));
    assert_true(ns_icmp6_error_allowed(buf, len, NS_ICMP6_PARAM_PROB, 2, true));
    assert_false(ns_icmp6_error_allowed(buf, len, NS_ICMP6_PARAM_PROB, 0, true));
    /* (e.3): to a multicast address, the same. */
    len = mk(buf, "2001:db8::1", "ff02::1", NS_IPPROTO_UDP, udp, sizeof(udp));
    assert_false(ns_icmp6_error_allowed(buf, len, NS_ICMP6_DEST_UNREACH, 4, false));
    assert_false(ns_icmp6_error_allowed(buf, len, NS_ICMP6_TIME_EXCEEDED, 0, false));
    assert_true(ns_icmp6_error_allowed(buf, len, NS_ICMP6_PACKET_TOO_BIG, 0, false));
    assert_true(ns_icmp6_error_allowed(buf, len, NS_ICMP6_PARAM_PROB, 2, false));
    /* (e.6): from :: or a multicast source, never. */
    len = mk(buf, "::", "2001:db8::2", NS_IPPROTO_UDP, udp, sizeof(udp));
    assert_false(ns_icmp6_error_allowed(buf, len, NS_ICMP6_PACKET_TOO_BIG, 0, false));
    len = mk(buf, "ff02::1", "2001:db8::2", NS_IPPROTO_UDP, udp, sizeof(udp));
    assert_false(ns_icmp6_error_allowed(buf, len, NS_ICMP6_DEST_UNREACH, 0, false));
    /* (e.1): never about an ICMPv6 error (the kernel's own Port
     * Unreachable), but about an echo request yes; (e.2) nor about a
     * Redirect. */
    assert_false(ns_icmp6_error_allowed(IP6(frame_port_unreach), IP6LEN(frame_port_unreach),
                                        NS_ICMP6_DEST_UNREACH, 4, false));
    assert_true(ns_icmp6_error_allowed(IP6(frame_echo_req), IP6LEN(frame_echo_req),
                                       NS_ICMP6_TIME_EXCEEDED, 0, false));
    assert_false(ns_icmp6_error_allowed(IP6(frame_redirect), IP6LEN(frame_redirect),
                                        NS_ICMP6_PARAM_PROB, 0, false));
    /* ... also behind extension headers: the MLD report's Hop-by-Hop. The
     * report is informational (and to multicast, so PTB only). */
    assert_true(ns_icmp6_error_allowed(IP6(frame_mld2_report), IP6LEN(frame_mld2_report),
                                       NS_ICMP6_PACKET_TOO_BIG, 0, false));
    /* ICMPv6 whose type byte is missing: not answered (Linux is_ineligible). */
    len = mk(buf, "2001:db8::1", "2001:db8::2", NS_IPPROTO_ICMPV6, udp, 0);
    assert_false(ns_icmp6_error_allowed(buf, len, NS_ICMP6_PARAM_PROB, 0, false));
    /* A non-first fragment's type is unknowable: answered; a first
     * fragment's is read (an echo request). */
    assert_true(ns_icmp6_error_allowed(IP6(frame_frag2), IP6LEN(frame_frag2),
                                       NS_ICMP6_TIME_EXCEEDED, 1, false));
    assert_true(ns_icmp6_error_allowed(IP6(frame_frag1), IP6LEN(frame_frag1),
                                       NS_ICMP6_TIME_EXCEEDED, 1, false));
    /* ... even when its data happens to start with an error's type byte. */
    static const uint8_t frag_err[16] = {NS_IPPROTO_ICMPV6, 0, 0x00, 0x08, 0, 0, 0, 9,
                                         NS_ICMP6_DEST_UNREACH, 4, 0, 0, 0, 0, 0, 0};
    size_t flen = mk(buf, "2001:db8::1", "2001:db8::2", NS_IP6_NH_FRAGMENT, frag_err, 16);
    assert_true(ns_icmp6_error_allowed(buf, flen, NS_ICMP6_TIME_EXCEEDED, 1, false));
    /* Not IPv6: no error. */
    len = mk(buf, "2001:db8::1", "2001:db8::2", NS_IPPROTO_UDP, udp, sizeof(udp));
    buf[0] = 0x45;
    assert_false(ns_icmp6_error_allowed(buf, len, NS_ICMP6_PARAM_PROB, 0, false));
    /* A chain that cannot be walked (a Hop-by-Hop header out of place) is
     * answered, as Linux is_ineligible does: the Parameter Problem code 1
     * about it is the point. */
    static const uint8_t late_hbh[16] = {NS_IP6_NH_HOPOPTS, 0, 1, 4, 0, 0, 0, 0,
                                         NS_IPPROTO_UDP, 0, 1, 4, 0, 0, 0, 0};
    len = mk(buf, "2001:db8::1", "2001:db8::2", NS_IP6_NH_DSTOPTS, late_hbh, sizeof(late_hbh));
    assert_true(ns_icmp6_error_allowed(buf, len, NS_ICMP6_PARAM_PROB, 1, false));
    assert_false(ns_icmp6_error_allowed(buf, 39, NS_ICMP6_PARAM_PROB, 1, false));
}

/* ---- NDP -------------------------------------------------------------------- */

static int ndp_parse_frame(const uint8_t *f, size_t len, struct pkt *p, struct ns_ndp_repr *r)
{
    *p = take(f, len);
    return ns_ndp_parse(&p->ip, p->l4, p->l4_len, r);
}

static void test_ndp_rs_ra_real(void **state)
{
    (void)state;
    struct pkt p;
    struct ns_ndp_repr r;
    static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0x01, 0x0a};
    static const uint8_t mac_r[6] = {0x02, 0, 0, 0, 0x01, 0x01};

    assert_int_equal(ndp_parse_frame(frame_rs, sizeof(frame_rs), &p, &r), 0);
    assert_int_equal(r.type, NS_ICMP6_RS);
    assert_non_null(r.sll);
    assert_int_equal(r.sll_len, 6);
    assert_memory_equal(r.sll, mac_a, 6);
    assert_null(r.tll);
    assert_int_equal(r.opts_len, 8);

    /* radvd's advertisement, every field as configured (see
     * wire6_capture.sh's radvd.conf). */
    assert_int_equal(ndp_parse_frame(frame_ra, sizeof(frame_ra), &p, &r), 0);
    assert_int_equal(r.type, NS_ICMP6_RA);
    assert_int_equal(r.cur_hop_limit, 64);
    assert_int_equal(r.ra_flags, NS_NDP_RA_OTHER);
    assert_int_equal(r.router_lifetime_s, 1800);
    assert_int_equal(r.reachable_ms, 30000);
    assert_int_equal(r.retrans_ms, 1000);
    assert_true(r.has_mtu);
    assert_int_equal(r.mtu, 1500);
    assert_memory_equal(r.sll, mac_r, 6);
    /* The repeating options: one prefix, one RDNSS, in radvd's order. */
    struct ns_ndp_opt_iter it;
    struct ns_ndp_opt o;
    static const uint8_t order[] = {NS_NDP_OPT_PREFIX, NS_NDP_OPT_RDNSS, NS_NDP_OPT_MTU,
                                    NS_NDP_OPT_SLLA};
    ns_ndp_opt_iter_init(&it, r.opts, r.opts_len);
    for (size_t i = 0; i < sizeof(order); i++) {
        assert_int_equal(ns_ndp_opt_next(&it, &o), 1);
        assert_int_equal(o.type, order[i]);
        if (o.type == NS_NDP_OPT_PREFIX) {
            struct ns_ndp_prefix pi;
            assert_int_equal(ns_ndp_prefix_parse(&o, &pi), 0);
            assert_int_equal(pi.prefix_len, 64);
            assert_int_equal(pi.flags, NS_NDP_PREFIX_ONLINK | NS_NDP_PREFIX_AUTO);
            assert_int_equal(pi.valid_s, 86400);
            assert_int_equal(pi.preferred_s, 14400);
            assert_addr(&pi.prefix, "2001:db8:1::");
        } else if (o.type == NS_NDP_OPT_RDNSS) {
            struct ns_ndp_rdnss dns;
            assert_int_equal(ns_ndp_rdnss_parse(&o, &dns), 0);
            assert_int_equal(dns.lifetime_s, 600);
            assert_int_equal(dns.n, 2);
            struct ns_ip6_addr d0 = ns_ndp_rdnss_addr(&dns, 0), d1 = ns_ndp_rdnss_addr(&dns, 1);
            assert_addr(&d0, "2001:db8:1::53");
            assert_addr(&d1, "2001:db8:1::54");
        }
    }
    assert_int_equal(ns_ndp_opt_next(&it, &o), 0);
}

static void test_ndp_ns_na_real(void **state)
{
    (void)state;
    struct pkt p;
    struct ns_ndp_repr r;
    static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0x01, 0x0a};
    static const uint8_t mac_r[6] = {0x02, 0, 0, 0, 0x01, 0x01};
    static const uint8_t nonce[6] = {0x71, 0x1e, 0xf3, 0x07, 0xce, 0x68}; /* tshark */

    /* DAD probe: from ::, to the solicited-node group, no SLLA, with the
     * nonce Linux adds (RFC 7527) kept. */
    assert_int_equal(ndp_parse_frame(frame_ns_dad, sizeof(frame_ns_dad), &p, &r), 0);
    assert_true(ns_ip6_is_unspecified(&p.ip.src));
    assert_addr(&r.target, "2001:db8:1::a");
    assert_null(r.sll);
    assert_non_null(r.nonce);
    assert_int_equal(r.nonce_len, 6);
    assert_memory_equal(r.nonce, nonce, 6);

    assert_int_equal(ndp_parse_frame(frame_ns_mcast, sizeof(frame_ns_mcast), &p, &r), 0);
    assert_int_equal(r.type, NS_ICMP6_NS);
    assert_addr(&r.target, "2001:db8:1::1");
    assert_memory_equal(r.sll, mac_a, 6);

    assert_int_equal(ndp_parse_frame(frame_na_rso, sizeof(frame_na_rso), &p, &r), 0);
    assert_int_equal(r.type, NS_ICMP6_NA);
    assert_true(r.router);
    assert_true(r.solicited);
    assert_true(r.override);
    assert_addr(&r.target, "2001:db8:1::1");
    assert_int_equal(r.tll_len, 6);
    assert_memory_equal(r.tll, mac_r, 6);

    assert_int_equal(ndp_parse_frame(frame_na_plain, sizeof(frame_na_plain), &p, &r), 0);
    assert_false(r.router);
    assert_true(r.solicited);
    assert_false(r.override);
    assert_int_equal(r.opts_len, 0);
    assert_null(r.tll);
}

static void test_ndp_redirect_real(void **state)
{
    (void)state;
    struct pkt p;
    struct ns_ndp_repr r;
    assert_int_equal(ndp_parse_frame(frame_redirect, sizeof(frame_redirect), &p, &r), 0);
    assert_int_equal(r.type, NS_ICMP6_REDIRECT);
    assert_addr(&r.target, "2001:db8:1::99");
    assert_addr(&r.dest, "2001:db8:1::99");
    assert_null(r.tll); /* R had not resolved ::99 */
    assert_non_null(r.redirected);
    assert_int_equal(r.redirected_len, 104);
    struct ns_ip6_repr inner;
    assert_int_equal(ns_ip6_parse(r.redirected, r.redirected_len, &inner), 0);
    assert_addr(&inner.dst, "2001:db8:1::99");
    assert_int_equal(inner.payload_len, 64);

    /* Rebuilt with our Redirected Header emitter from the quoted packet,
     * with room to spare: the kernel's message byte for byte. */
    uint8_t opts[120];
    size_t n = ns_ndp_opt_redirected_emit(opts, r.redirected, r.redirected_len,
                                          NS_IP6_MIN_MTU - 40 - NS_NDP_REDIRECT_LEN);
    assert_int_equal(n, 112);
    struct ns_ndp_repr out = {.type = NS_ICMP6_REDIRECT, .target = r.target, .dest = r.dest,
                              .opts = opts, .opts_len = n};
    uint8_t msg[200];
    assert_int_equal(ns_ndp_emit(&p.ip.src, &p.ip.dst, &out, msg), p.l4_len);
    assert_memory_equal(msg, p.l4, p.l4_len);
}

static void test_ndp_emit_roundtrip_real(void **state)
{
    (void)state;
    /* Parse every captured NDP message and emit it again from its repr:
     * the same bytes, checksum included (reserved fields zero, flags in
     * place). */
    static const struct {
        const uint8_t *f;
        size_t len;
    } all[] = {
        {frame_rs, sizeof(frame_rs)},           {frame_ra, sizeof(frame_ra)},
        {frame_ns_dad, sizeof(frame_ns_dad)},   {frame_ns_mcast, sizeof(frame_ns_mcast)},
        {frame_na_rso, sizeof(frame_na_rso)},   {frame_na_plain, sizeof(frame_na_plain)},
        {frame_redirect, sizeof(frame_redirect)},
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        struct pkt p;
        struct ns_ndp_repr r;
        assert_int_equal(ndp_parse_frame(all[i].f, all[i].len, &p, &r), 0);
        uint8_t out[256];
        memset(out, 0xee, sizeof(out));
        assert_int_equal(ns_ndp_emit(&p.ip.src, &p.ip.dst, &r, out), p.l4_len);
        assert_memory_equal(out, p.l4, p.l4_len);
        assert_int_equal(out[p.l4_len], 0xee);
    }
}

static void test_ndp_build_like_radvd(void **state)
{
    (void)state;
    /* The RA and the kernel's NS, RS and NA built from scratch with the
     * option emitters, in the senders' option order: their bytes. */
    struct pkt p = TAKE(frame_ra);
    uint8_t opts[128];
    size_t n = 0;
    struct ns_ndp_prefix pi = {.prefix_len = 64,
                               .flags = NS_NDP_PREFIX_ONLINK | NS_NDP_PREFIX_AUTO,
                               .valid_s = 86400,
                               .preferred_s = 14400,
                               .prefix = A("2001:db8:1::")};
    n += ns_ndp_opt_prefix_emit(opts + n, &pi);
    struct ns_ip6_addr dns[2] = {A("2001:db8:1::53"), A("2001:db8:1::54")};
    n += ns_ndp_opt_rdnss_emit(opts + n, 600, dns, 2);
    n += ns_ndp_opt_mtu_emit(opts + n, 1500);
    static const uint8_t mac_r[6] = {0x02, 0, 0, 0, 0x01, 0x01};
    static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0x01, 0x0a};
    n += ns_ndp_opt_lladdr_emit(opts + n, NS_NDP_OPT_SLLA, mac_r);
    struct ns_ndp_repr ra = {.type = NS_ICMP6_RA,
                             .cur_hop_limit = 64,
                             .ra_flags = NS_NDP_RA_OTHER,
                             .router_lifetime_s = 1800,
                             .reachable_ms = 30000,
                             .retrans_ms = 1000,
                             .opts = opts,
                             .opts_len = n};
    uint8_t msg[256];
    assert_int_equal(ns_ndp_emit(&p.ip.src, &p.ip.dst, &ra, msg), p.l4_len);
    assert_memory_equal(msg, p.l4, p.l4_len);

    p = TAKE(frame_ns_mcast);
    n = ns_ndp_opt_lladdr_emit(opts, NS_NDP_OPT_SLLA, mac_a);
    struct ns_ndp_repr ns = {.type = NS_ICMP6_NS, .target = A("2001:db8:1::1"), .opts = opts,
                             .opts_len = n};
    assert_int_equal(ns_ndp_emit(&p.ip.src, &p.ip.dst, &ns, msg), p.l4_len);
    assert_memory_equal(msg, p.l4, p.l4_len);

    p = TAKE(frame_rs);
    struct ns_ndp_repr rs = {.type = NS_ICMP6_RS, .opts = opts, .opts_len = n};
    assert_int_equal(ns_ndp_emit(&p.ip.src, &p.ip.dst, &rs, msg), p.l4_len);
    assert_memory_equal(msg, p.l4, p.l4_len);

    p = TAKE(frame_na_rso);
    n = ns_ndp_opt_lladdr_emit(opts, NS_NDP_OPT_TLLA, mac_r);
    struct ns_ndp_repr na = {.type = NS_ICMP6_NA, .router = true, .solicited = true,
                             .override = true, .target = A("2001:db8:1::1"), .opts = opts,
                             .opts_len = n};
    assert_int_equal(ns_ndp_emit(&p.ip.src, &p.ip.dst, &na, msg), p.l4_len);
    assert_memory_equal(msg, p.l4, p.l4_len);

    /* In place: options already after the fixed part stay there. */
    p = TAKE(frame_na_rso);
    ns_ndp_opt_lladdr_emit(msg + NS_NDP_NA_LEN, NS_NDP_OPT_TLLA, mac_r);
    na.opts = msg + NS_NDP_NA_LEN;
    assert_int_equal(ns_ndp_emit(&p.ip.src, &p.ip.dst, &na, msg), p.l4_len);
    assert_memory_equal(msg, p.l4, p.l4_len);
    /* Not an NDP type: nothing. */
    na.type = NS_ICMP6_ECHO_REQUEST;
    assert_int_equal(ns_ndp_emit(&p.ip.src, &p.ip.dst, &na, msg), 0);
}

/* A mutable copy of a captured NDP message and its IPv6 header. */
struct ndp_case {
    struct ns_ip6_repr ip;
    uint8_t msg[256];
    size_t len;
};

static struct ndp_case ndp_case(const uint8_t *f, size_t flen)
{
    struct ndp_case c;
    struct pkt p = take(f, flen);
    c.ip = p.ip;
    memcpy(c.msg, p.l4, p.l4_len);
    c.len = p.l4_len;
    return c;
}
#define NDP_CASE(f) ndp_case(f, sizeof(f))

static int ndp_check(struct ndp_case *c)
{
    struct ns_ndp_repr r;
    uint8_t *p = ns_test_dup_exact(c->msg, c->len);
    int rc = ns_ndp_parse(&c->ip, p, c->len, &r);
    free(p);
    return rc;
}

static void test_ndp_validity(void **state)
{
    (void)state;
    struct ndp_case c;

    /* RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1 for every type: hop
     * limit 255, code 0, the minimum length. */
    static const struct {
        const uint8_t *f;
        size_t len, min;
    } all[] = {
        {frame_rs, sizeof(frame_rs), 8},           {frame_ra, sizeof(frame_ra), 16},
        {frame_ns_mcast, sizeof(frame_ns_mcast), 24}, {frame_na_rso, sizeof(frame_na_rso), 24},
        {frame_redirect, sizeof(frame_redirect), 40},
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        c = ndp_case(all[i].f, all[i].len);
        assert_int_equal(ndp_check(&c), 0);
        c.ip.hop_limit = 254;
        assert_int_equal(ndp_check(&c), -NS_WIRE_BAD_HOPLIMIT);
        c.ip.hop_limit = 255;
        c.msg[1] = 1;
        assert_int_equal(ndp_check(&c), -NS_WIRE_BAD_CODE);
        c.msg[1] = 0;
        assert_int_equal(ns_ndp_hdr_len(c.msg[0]), all[i].min);
        for (size_t len = 0; len < all[i].min; len++) {
            size_t keep = c.len;
            c.len = len;
            assert_int_equal(ndp_check(&c), -NS_WIRE_TRUNCATED);
            c.len = keep;
        }
        /* Exactly the fixed part, no options: valid. */
        c.len = all[i].min;
        assert_int_equal(ndp_check(&c), 0);
    }

    /* Options: a zero length, one past the end, a stub of one byte. */
    c = NDP_CASE(frame_ns_mcast);
    c.msg[25] = 0;
    assert_int_equal(ndp_check(&c), -NS_WIRE_OPT_ZERO_LEN);
    c.msg[25] = 2;
    assert_int_equal(ndp_check(&c), -NS_WIRE_BAD_OPTION);
    c = NDP_CASE(frame_ns_mcast);
    c.msg[c.len++] = NS_NDP_OPT_MTU;
    assert_int_equal(ndp_check(&c), -NS_WIRE_BAD_OPTION);

    /* RA and Redirect come from a link-local address. */
    c = NDP_CASE(frame_ra);
    c.ip.src = A("2001:db8:1::1");
    assert_int_equal(ndp_check(&c), -NS_WIRE_BAD_SRC);
    c = NDP_CASE(frame_redirect);
    c.ip.src = A("2001:db8:1::1");
    assert_int_equal(ndp_check(&c), -NS_WIRE_BAD_SRC);

    /* Multicast targets and Redirect destinations. */
    c = NDP_CASE(frame_ns_mcast);
    memcpy(c.msg + 8, ns_ip6_all_nodes.b, 16);
    assert_int_equal(ndp_check(&c), -NS_WIRE_MCAST_TARGET);
    c = NDP_CASE(frame_na_rso);
    memcpy(c.msg + 8, ns_ip6_all_nodes.b, 16);
    assert_int_equal(ndp_check(&c), -NS_WIRE_MCAST_TARGET);
    c = NDP_CASE(frame_redirect);
    memcpy(c.msg + 8, ns_ip6_all_nodes.b, 16); /* target = dest = ff02::1 */
    memcpy(c.msg + 24, ns_ip6_all_nodes.b, 16);
    assert_int_equal(ndp_check(&c), -NS_WIRE_MCAST_TARGET);

    /* DAD: to the solicited-node address and without SLLA. */
    c = NDP_CASE(frame_ns_dad);
    c.ip.dst = ns_ip6_all_nodes;
    assert_int_equal(ndp_check(&c), -NS_WIRE_DAD_DST);
    c = NDP_CASE(frame_ns_mcast);
    c.ip.src = ns_ip6_unspecified;
    assert_int_equal(ndp_check(&c), -NS_WIRE_UNSPEC_SLLA);
    c = NDP_CASE(frame_rs);
    c.ip.src = ns_ip6_unspecified;
    assert_int_equal(ndp_check(&c), -NS_WIRE_UNSPEC_SLLA);
    c.len = NS_NDP_RS_LEN; /* an RS from :: without SLLA is fine */
    assert_int_equal(ndp_check(&c), 0);

    /* NA to a multicast address: Solicited must be clear. */
    c = NDP_CASE(frame_na_rso);
    c.ip.dst = ns_ip6_all_nodes;
    assert_int_equal(ndp_check(&c), -NS_WIRE_SOLICITED_MCAST);
    c.msg[4] &= (uint8_t)~0x40; /* unsolicited, to all nodes: valid */
    assert_int_equal(ndp_check(&c), 0);

    /* Redirect target: link-local, or the destination itself. */
    c = NDP_CASE(frame_redirect);
    struct ns_ip6_addr t = A("2001:db8:1::98");
    memcpy(c.msg + 8, t.b, 16);
    assert_int_equal(ndp_check(&c), -NS_WIRE_REDIRECT_TARGET);
    t = A("fe80::1");
    memcpy(c.msg + 8, t.b, 16);
    assert_int_equal(ndp_check(&c), 0);

    /* Not an NDP type. */
    c = NDP_CASE(frame_echo_req);
    c.ip.hop_limit = 255;
    assert_int_equal(ndp_check(&c), -NS_WIRE_UNSUPPORTED);
}

static void test_ndp_options(void **state)
{
    (void)state;
    /* Unknown options are skipped (the DAD nonce is one the parser knows;
     * 200 is not); the first of a repeated kind wins. */
    struct ndp_case c = NDP_CASE(frame_ns_mcast);
    static const uint8_t unknown[8] = {200, 1, 1, 2, 3, 4, 5, 6};
    static const uint8_t sll2[8] = {NS_NDP_OPT_SLLA, 1, 9, 9, 9, 9, 9, 9};
    memmove(c.msg + 32, c.msg + 24, 8);
    memcpy(c.msg + 24, unknown, 8);
    memcpy(c.msg + 40, sll2, 8);
    c.len = 48;
    struct ns_ndp_repr r;
    assert_int_equal(ns_ndp_parse(&c.ip, c.msg, c.len, &r), 0);
    static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0x01, 0x0a};
    assert_memory_equal(r.sll, mac_a, 6);
    struct ns_ndp_opt_iter it;
    struct ns_ndp_opt o;
    ns_ndp_opt_iter_init(&it, r.opts, r.opts_len);
    assert_int_equal(ns_ndp_opt_next(&it, &o), 1);
    assert_int_equal(o.type, 200);
    assert_int_equal(o.len8, 1);
    assert_int_equal(o.body_len, 6);
    assert_memory_equal(o.body, unknown + 2, 6);
    /* An error does not move the iterator on. */
    static const uint8_t bad[16] = {NS_NDP_OPT_MTU, 1, 0, 0, 0, 0, 5, 0xdc, 7, 0};
    ns_ndp_opt_iter_init(&it, bad, sizeof(bad));
    assert_int_equal(ns_ndp_opt_next(&it, &o), 1);
    assert_int_equal(ns_ndp_opt_next(&it, &o), -NS_WIRE_OPT_ZERO_LEN);
    assert_int_equal(ns_ndp_opt_next(&it, &o), -NS_WIRE_OPT_ZERO_LEN);

    /* Prefix Information: at least 4 units (Linux reads a longer one);
     * prefix length at most 128. */
    uint8_t pbuf[48];
    struct ns_ndp_prefix pi = {.prefix_len = 48, .flags = NS_NDP_PREFIX_ONLINK, .valid_s = 1,
                               .preferred_s = 2, .prefix = A("2001:db8:5::")},
                         back;
    assert_int_equal(ns_ndp_opt_prefix_emit(pbuf, &pi), 32);
    ns_ndp_opt_iter_init(&it, pbuf, 32);
    assert_int_equal(ns_ndp_opt_next(&it, &o), 1);
    assert_int_equal(ns_ndp_prefix_parse(&o, &back), 0);
    assert_int_equal(back.prefix_len, 48);
    assert_int_equal(back.flags, NS_NDP_PREFIX_ONLINK);
    assert_int_equal(back.valid_s, 1);
    assert_int_equal(back.preferred_s, 2);
    assert_true(ns_ip6_eq(&back.prefix, &pi.prefix));
    o.len8 = 3;
    assert_int_equal(ns_ndp_prefix_parse(&o, &back), -NS_WIRE_BAD_OPTION);
    o.len8 = 5;
    assert_int_equal(ns_ndp_prefix_parse(&o, &back), 0);
    o.len8 = 4;
    pbuf[2] = 129;
    assert_int_equal(ns_ndp_prefix_parse(&o, &back), -NS_WIRE_BAD_FIELD);
    pbuf[2] = 128;
    assert_int_equal(ns_ndp_prefix_parse(&o, &back), 0);
    o.type = NS_NDP_OPT_MTU;
    assert_int_equal(ns_ndp_prefix_parse(&o, &back), -NS_WIRE_BAD_OPTION);

    /* RDNSS: 3 + 2n units. */
    uint8_t dbuf[8 + 3 * 16];
    struct ns_ip6_addr dns[3] = {A("2001:db8::53"), A("2001:db8::54"), A("2001:db8::55")};
    assert_int_equal(ns_ndp_opt_rdnss_emit(dbuf, NS_NDP_INFINITE, dns, 3), 56);
    ns_ndp_opt_iter_init(&it, dbuf, sizeof(dbuf));
    assert_int_equal(ns_ndp_opt_next(&it, &o), 1);
    assert_int_equal(o.len8, 7);
    struct ns_ndp_rdnss rd;
    assert_int_equal(ns_ndp_rdnss_parse(&o, &rd), 0);
    assert_int_equal(rd.n, 3);
    assert_int_equal(rd.lifetime_s, NS_NDP_INFINITE);
    struct ns_ip6_addr d2 = ns_ndp_rdnss_addr(&rd, 2);
    assert_true(ns_ip6_eq(&d2, &dns[2]));
    for (uint8_t l = 1; l <= 6; l++) {
        o.len8 = l;
        assert_int_equal(ns_ndp_rdnss_parse(&o, &rd), (l == 3 || l == 5) ? 0 : -NS_WIRE_BAD_OPTION);
    }
    o.len8 = 3;
    o.type = NS_NDP_OPT_PREFIX;
    assert_int_equal(ns_ndp_rdnss_parse(&o, &rd), -NS_WIRE_BAD_OPTION);

    /* Redirected Header: cut to a multiple of 8 within the room. */
    uint8_t pkt[2100], obuf[2100];
    for (size_t i = 0; i < sizeof(pkt); i++)
        pkt[i] = (uint8_t)i;
    assert_int_equal(ns_ndp_opt_redirected_emit(obuf, pkt, 100, 1000), 8 + 96);
    assert_int_equal(obuf[1], 13);
    assert_memory_equal(obuf + 8, pkt, 96);
    assert_int_equal(ns_ndp_opt_redirected_emit(obuf, pkt, 1500, 1200), 1200);
    assert_int_equal(ns_ndp_opt_redirected_emit(obuf, pkt, 1500, 5000), 8 + 1496);
    assert_int_equal(ns_ndp_opt_redirected_emit(obuf, pkt, 2100, 5000), 2040); /* len 255 */
    assert_int_equal(obuf[1], 255);
    assert_int_equal(ns_ndp_opt_redirected_emit(obuf, pkt, 1500, 15), 0);
    assert_int_equal(ns_ndp_opt_redirected_emit(obuf, pkt, 7, 100), 0);
    assert_int_equal(ns_ndp_opt_redirected_emit(obuf, pkt, 1500, 16), 16);
}

/* ---- MLD -------------------------------------------------------------------- */

static void test_mld2_report_real(void **state)
{
    (void)state;
    struct pkt p = TAKE(frame_mld2_report);
    assert_int_equal(p.ip.hop_limit, 1);
    assert_true(ns_ip6_eq(&p.ip.dst, &ns_ip6_all_mld2_routers));
    struct ns_mld2_report rep;
    assert_int_equal(ns_mld2_report_parse(p.l4, p.l4_len, &rep), 0);
    assert_int_equal(rep.n_rec, 2);
    struct ns_mld2_record rec[2];
    static const char *groups[2] = {"ff02::1:ff00:a", "ff02::1:ff00:10a"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ns_mld2_report_next(&rep, &rec[i]), 1);
        assert_int_equal(rec[i].type, NS_MLD2_CHANGE_TO_EXCLUDE); /* "to_ex" */
        assert_int_equal(rec[i].n_src, 0);
        assert_int_equal(rec[i].aux_len, 0);
        assert_addr(&rec[i].group, groups[i]);
    }
    assert_int_equal(ns_mld2_report_next(&rep, &rec[0]), 0);

    /* The whole IPv6 packet rebuilt: header (hop limit 1), Hop-by-Hop
     * Router Alert, the report — the kernel's bytes. */
    struct ns_mld2_record mine[2] = {
        {.type = NS_MLD2_CHANGE_TO_EXCLUDE, .group = A(groups[0])},
        {.type = NS_MLD2_CHANGE_TO_EXCLUDE, .group = A(groups[1])},
    };
    uint8_t out[200];
    size_t rlen = ns_mld2_report_len(mine, 2);
    assert_int_equal(rlen, p.l4_len);
    struct ns_ip6_repr ip = {.payload_len = (uint16_t)(NS_IP6_HBH_RA_LEN + rlen),
                             .next_hdr = NS_IP6_NH_HOPOPTS, .hop_limit = NS_MLD_HOP_LIMIT,
                             .src = p.ip.src, .dst = ns_ip6_all_mld2_routers};
    ns_ip6_emit(&ip, out);
    ns_ip6_hbh_ra_emit(NS_IPPROTO_ICMPV6, NS_IP6_RA_MLD, out + NS_IP6_HLEN);
    assert_int_equal(ns_mld2_report_emit(&ip.src, &ip.dst, mine, 2, out + 48), rlen);
    assert_int_equal(48 + rlen, IP6LEN(frame_mld2_report));
    assert_memory_equal(out, IP6(frame_mld2_report), IP6LEN(frame_mld2_report));
}

static void test_mld2_report_sources(void **state)
{
    (void)state;
    struct ns_ip6_addr srcs[3] = {A("2001:db8::1"), A("2001:db8::2"), A("2001:db8::3")};
    struct ns_mld2_record recs[3] = {
        {.type = NS_MLD2_MODE_IS_INCLUDE, .group = A("ff0e::101"), .n_src = 3, .srcs = srcs},
        {.type = NS_MLD2_ALLOW_NEW_SOURCES, .group = A("ff0e::102"), .n_src = 1, .srcs = srcs + 2},
        {.type = NS_MLD2_MODE_IS_EXCLUDE, .group = A("ff05::2")},
    };
    struct ns_ip6_addr s = A("fe80::1");
    uint8_t buf[256];
    size_t len = ns_mld2_report_emit(&s, &ns_ip6_all_mld2_routers, recs, 3, buf);
    assert_int_equal(len, 8 + 20 + 48 + 20 + 16 + 20);
    assert_int_equal(len, ns_mld2_report_len(recs, 3));
    struct ns_icmp6_repr ic;
    assert_int_equal(ns_icmp6_parse(&s, &ns_ip6_all_mld2_routers, buf, len, &ic, true), 0);
    assert_int_equal(ic.type, NS_ICMP6_MLD2_REPORT);
    struct ns_mld2_report rep;
    assert_int_equal(ns_mld2_report_parse(buf, len, &rep), 0);
    for (int i = 0; i < 3; i++) {
        struct ns_mld2_record r;
        assert_int_equal(ns_mld2_report_next(&rep, &r), 1);
        assert_int_equal(r.type, recs[i].type);
        assert_true(ns_ip6_eq(&r.group, &recs[i].group));
        assert_int_equal(r.n_src, recs[i].n_src);
        for (int k = 0; k < r.n_src; k++)
            assert_memory_equal(r.src_bytes + 16 * k, recs[i].srcs[k].b, 16);
    }
    /* Cut anywhere inside the records: truncated; a count beyond them too. */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *p = ns_test_dup_exact(buf, cut);
        assert_int_equal(ns_mld2_report_parse(p, cut, &rep), -NS_WIRE_TRUNCATED);
        free(p);
    }
    ns_wr16(buf + 6, 4);
    assert_int_equal(ns_mld2_report_parse(buf, len, &rep), -NS_WIRE_TRUNCATED);
    /* Aux data is skipped by its length (words of 4 bytes). */
    uint8_t aux[8 + 20 + 8] = {NS_ICMP6_MLD2_REPORT, 0, 0, 0, 0, 0, 0, 1,
                               NS_MLD2_MODE_IS_EXCLUDE, 2, 0, 0};
    assert_int_equal(ns_mld2_report_parse(aux, sizeof(aux), &rep), 0);
    struct ns_mld2_record r;
    assert_int_equal(ns_mld2_report_next(&rep, &r), 1);
    assert_int_equal(r.aux_len, 2);
    assert_int_equal(ns_mld2_report_next(&rep, &r), 0);
    aux[9] = 3;
    assert_int_equal(ns_mld2_report_parse(aux, sizeof(aux), &rep), -NS_WIRE_TRUNCATED);
    aux[0] = NS_ICMP6_MLD1_REPORT;
    assert_int_equal(ns_mld2_report_parse(aux, sizeof(aux), &rep), -NS_WIRE_UNSUPPORTED);
}

static void test_mld_query_real(void **state)
{
    (void)state;
    struct ns_mld_query q;
    struct ns_ip6_opts_result ra;

    /* The Linux bridge's MLDv2 General Query, its Router Alert found by
     * the options code (RA then two Pad1). */
    struct pkt p = TAKE(frame_mld2_query);
    assert_int_equal(ns_ip6_opts_process(IP6(frame_mld2_query) + 40, 8, 40, true, true, &ra), 0);
    assert_true(ra.router_alert);
    assert_int_equal(ra.ra_value, NS_IP6_RA_MLD);
    assert_int_equal(ns_mld_query_parse(&p.ip, true, p.l4, p.l4_len, &q), 0);
    assert_int_equal(q.version, 2);
    assert_int_equal(q.max_resp_ms, 10000);
    assert_true(ns_ip6_is_unspecified(&q.group));
    assert_false(q.suppress);
    assert_int_equal(q.qrv, 2);
    assert_int_equal(q.qqi_s, 125);
    assert_int_equal(q.n_src, 0);

    /* The same querier in MLDv1 mode: 24 bytes. */
    p = TAKE(frame_mld1_query);
    assert_int_equal(ns_mld_query_parse(&p.ip, true, p.l4, p.l4_len, &q), 0);
    assert_int_equal(q.version, 1);
    assert_int_equal(q.max_resp_ms, 10000);
    assert_true(ns_ip6_is_unspecified(&q.group));

    /* RFC 3810 §6.2: link-local source, hop limit 1, Router Alert. */
    p = TAKE(frame_mld2_query);
    struct ns_ip6_repr ip = p.ip;
    ip.src = A("2001:db8::1");
    assert_int_equal(ns_mld_query_parse(&ip, true, p.l4, p.l4_len, &q), -NS_WIRE_BAD_SRC);
    ip = p.ip;
    ip.hop_limit = 2;
    assert_int_equal(ns_mld_query_parse(&ip, true, p.l4, p.l4_len, &q), -NS_WIRE_BAD_HOPLIMIT);
    assert_int_equal(ns_mld_query_parse(&p.ip, false, p.l4, p.l4_len, &q),
                     -NS_WIRE_NO_ROUTER_ALERT);
}

static void test_mld_query_lengths(void **state)
{
    (void)state;
    struct pkt p = TAKE(frame_mld2_query);
    uint8_t buf[28 + 2 * 16];
    memcpy(buf, p.l4, 28);
    struct ns_mld_query q;
    /* RFC 3810 §8.1: 24 is v1, 28+ is v2, everything else ignored. */
    for (size_t len = 0; len < 28; len++) {
        if (len == 24)
            continue;
        uint8_t *c = ns_test_dup_exact(buf, len);
        int want = len < 8 ? -NS_WIRE_TRUNCATED : -NS_WIRE_BAD_LEN;
        assert_int_equal(ns_mld_query_parse(&p.ip, true, c, len, &q), want);
        free(c);
    }
    /* A group-and-source-specific query with 2 sources; the count
     * claiming 3 runs past the message. */
    struct ns_ip6_addr g = A("ff0e::101"), s0 = A("2001:db8::1"), s1 = A("2001:db8::2");
    memcpy(buf + 8, g.b, 16);
    buf[24] = 0x08 | 3; /* S, QRV 3 */
    buf[25] = 0x8f;     /* QQIC: exp 0 mant 15 = 31 << 3 = 248 s */
    ns_wr16(buf + 4, 0x8000 | (2 << 12) | 0x123); /* MRC exp 2 mant 0x123 */
    ns_wr16(buf + 26, 2);
    memcpy(buf + 28, s0.b, 16);
    memcpy(buf + 44, s1.b, 16);
    assert_int_equal(ns_mld_query_parse(&p.ip, true, buf, sizeof(buf), &q), 0);
    assert_int_equal(q.version, 2);
    assert_true(ns_ip6_eq(&q.group, &g));
    assert_true(q.suppress);
    assert_int_equal(q.qrv, 3);
    assert_int_equal(q.qqi_s, 248);
    assert_int_equal(q.max_resp_ms, (0x123u | 0x1000u) << 5);
    assert_int_equal(q.n_src, 2);
    assert_memory_equal(q.srcs + 16, s1.b, 16);
    ns_wr16(buf + 26, 3);
    assert_int_equal(ns_mld_query_parse(&p.ip, true, buf, sizeof(buf), &q), -NS_WIRE_TRUNCATED);
    buf[0] = NS_ICMP6_MLD1_REPORT;
    assert_int_equal(ns_mld_query_parse(&p.ip, true, buf, sizeof(buf), &q), -NS_WIRE_UNSUPPORTED);
}

static void test_mld_codes(void **state)
{
    (void)state;
    /* RFC 3810 §5.1.3 and §5.1.9: exact below the float range, then
     * (mant | 1 << bits) << (exp + 3). */
    assert_int_equal(ns_mld2_decode_mrc(0), 0);
    assert_int_equal(ns_mld2_decode_mrc(10000), 10000);
    assert_int_equal(ns_mld2_decode_mrc(32767), 32767);
    assert_int_equal(ns_mld2_decode_mrc(0x8000), 32768);
    assert_int_equal(ns_mld2_decode_mrc(0xffff), 8387584);
    assert_int_equal(ns_mld2_decode_qqic(0), 0);
    assert_int_equal(ns_mld2_decode_qqic(125), 125);
    assert_int_equal(ns_mld2_decode_qqic(127), 127);
    assert_int_equal(ns_mld2_decode_qqic(0x80), 128);
    assert_int_equal(ns_mld2_decode_qqic(0xff), 31744);
    /* The encodings are monotonic: a larger code never means less time. */
    for (uint32_t c = 1; c <= 0xffff; c++)
        assert_true(ns_mld2_decode_mrc((uint16_t)c) > ns_mld2_decode_mrc((uint16_t)(c - 1)));
    for (uint32_t c = 1; c <= 0xff; c++)
        assert_true(ns_mld2_decode_qqic((uint8_t)c) > ns_mld2_decode_qqic((uint8_t)(c - 1)));
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_icmp6_echo_real),
        cmocka_unit_test(test_icmp6_csum),
        cmocka_unit_test(test_icmp6_truncated),
        cmocka_unit_test(test_icmp6_errors_real),
        cmocka_unit_test(test_icmp6_quote_len),
        cmocka_unit_test(test_icmp6_classes),
        cmocka_unit_test(test_icmp6_error_allowed),
        cmocka_unit_test(test_ndp_rs_ra_real),
        cmocka_unit_test(test_ndp_ns_na_real),
        cmocka_unit_test(test_ndp_redirect_real),
        cmocka_unit_test(test_ndp_emit_roundtrip_real),
        cmocka_unit_test(test_ndp_build_like_radvd),
        cmocka_unit_test(test_ndp_validity),
        cmocka_unit_test(test_ndp_options),
        cmocka_unit_test(test_mld2_report_real),
        cmocka_unit_test(test_mld2_report_sources),
        cmocka_unit_test(test_mld_query_real),
        cmocka_unit_test(test_mld_query_lengths),
        cmocka_unit_test(test_mld_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
