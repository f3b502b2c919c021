/* tests/unit/test_wire6.c — the IPv6 header, extension headers and their
 * options, the Fragment header, the pseudo-header checksum, UDP over IPv6
 * and the address helpers: round trips, the Linux kernel's own packets
 * byte for byte (tests/unit/wire6_frames.h, captured by
 * tests/unit/wire6_capture.sh), and every rejection with its exact error
 * code. Truncated inputs are exactly-sized heap copies, so a read past
 * `len` is an ASan error.
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

/* A packet at buf: an IPv6 header (first next header nh, 2001:db8::1 >
 * dst), ext_len bytes of extension headers from ext, then upper_len bytes
 * of 0xab. Returns its length. */
static size_t build_pkt(uint8_t *buf, uint8_t nh, const char *dst, const uint8_t *ext,
                        size_t ext_len, size_t upper_len)
{
    struct ns_ip6_repr ip = {
        .payload_len = (uint16_t)(ext_len + upper_len),
        .next_hdr = nh,
        .hop_limit = 64,
        .src = A("2001:db8::1"),
        .dst = A(dst),
    };
    ns_ip6_emit(&ip, buf);
    memcpy(buf + NS_IP6_HLEN, ext, ext_len);
    memset(buf + NS_IP6_HLEN + ext_len, 0xab, upper_len);
    return NS_IP6_HLEN + ext_len + upper_len;
}

/* ---- the IPv6 header ------------------------------------------------------- */

static void test_ip6_parse_real(void **state)
{
    (void)state;
    struct ns_ip6_repr r;
    assert_int_equal(ns_ip6_parse(IP6(frame_echo_req), IP6LEN(frame_echo_req), &r), 0);
    assert_int_equal(r.tclass, 0);
    assert_int_equal(r.flow, 0x04d94e); /* tshark: ipv6.flow */
    assert_int_equal(r.payload_len, 64);
    assert_int_equal(r.next_hdr, NS_IPPROTO_ICMPV6);
    assert_int_equal(r.hop_limit, 64);
    assert_addr(&r.src, "2001:db8:1::a");
    assert_addr(&r.dst, "2001:db8:1::1");
    assert_int_equal(ns_ip6_check_addrs(&r), 0);

    /* The RA: flow label 0x0ddb43, hop limit 255, link-local addresses. */
    assert_int_equal(ns_ip6_parse(IP6(frame_ra), IP6LEN(frame_ra), &r), 0);
    assert_int_equal(r.flow, 0x0ddb43);
    assert_int_equal(r.hop_limit, 255);
    assert_addr(&r.src, "fe80::ff:fe00:101");

    /* Emitting the parsed header gives the kernel's 40 bytes back. */
    uint8_t out[NS_IP6_HLEN];
    ns_ip6_emit(&r, out);
    assert_memory_equal(out, IP6(frame_ra), NS_IP6_HLEN);

    /* Exactly the header and payload is enough; link padding after is not
     * part of the packet. */
    uint8_t *p = ns_test_dup_exact(IP6(frame_echo_req), IP6LEN(frame_echo_req));
    assert_int_equal(ns_ip6_parse(p, IP6LEN(frame_echo_req), &r), 0);
    free(p);
    uint8_t padded[200];
    memcpy(padded, IP6(frame_echo_req), IP6LEN(frame_echo_req));
    assert_int_equal(ns_ip6_parse(padded, sizeof(padded), &r), 0);
    assert_int_equal(r.payload_len, 64);
}

static void test_ip6_roundtrip_random(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x1b6));
    for (int i = 0; i < 1000; i++) {
        struct ns_ip6_repr r = {
            .tclass = (uint8_t)ns_rng_next(&rng),
            .flow = (uint32_t)ns_rng_next(&rng) & NS_IP6_FLOW_MASK,
            .payload_len = (uint16_t)ns_rng_below(&rng, 200),
            .next_hdr = (uint8_t)ns_rng_next(&rng),
            .hop_limit = (uint8_t)ns_rng_next(&rng),
        };
        for (int k = 0; k < 16; k++) {
            r.src.b[k] = (uint8_t)ns_rng_next(&rng);
            r.dst.b[k] = (uint8_t)ns_rng_next(&rng);
        }
        if (r.payload_len == 0 && r.next_hdr == NS_IP6_NH_HOPOPTS)
            r.next_hdr = NS_IP6_NH_NONE; /* a jumbogram candidate: tested apart */
        uint8_t buf[NS_IP6_HLEN + 200];
        memset(buf, 0, sizeof(buf));
        ns_ip6_emit(&r, buf);
        struct ns_ip6_repr back;
        NS_ASSERT_SEED(ns_ip6_parse(buf, NS_IP6_HLEN + r.payload_len, &back) == 0);
        NS_ASSERT_SEED(back.tclass == r.tclass && back.flow == r.flow &&
                       back.payload_len == r.payload_len && back.next_hdr == r.next_hdr &&
                       back.hop_limit == r.hop_limit && ns_ip6_eq(&back.src, &r.src) &&
                       ns_ip6_eq(&back.dst, &r.dst));
    }
    /* Bits of the flow field above the label's 20 are not sent. */
    struct ns_ip6_repr r = {.flow = 0xfff12345, .next_hdr = NS_IP6_NH_NONE};
    uint8_t buf[NS_IP6_HLEN];
    ns_ip6_emit(&r, buf);
    assert_int_equal(buf[0], 0x60);
    assert_int_equal(buf[1], 0x01);
    struct ns_ip6_repr back;
    assert_int_equal(ns_ip6_parse(buf, sizeof(buf), &back), 0);
    assert_int_equal(back.flow, 0x12345);
    /* Traffic class straddles bytes 0 and 1 (RFC 8200 §3). */
    r.tclass = 0xb8; /* DSCP EF */
    ns_ip6_emit(&r, buf);
    assert_int_equal(buf[0], 0x6b);
    assert_int_equal(buf[1], 0x81);
}

static void test_ip6_truncated(void **state)
{
    (void)state;
    struct ns_ip6_repr r;
    for (size_t len = 0; len < NS_IP6_HLEN; len++) {
        uint8_t *p = ns_test_dup_exact(IP6(frame_echo_req), len);
        assert_int_equal(ns_ip6_parse(p, len, &r), -NS_WIRE_TRUNCATED);
        free(p);
    }
}

static void test_ip6_bad_version(void **state)
{
    (void)state;
    static const uint8_t versions[] = {0, 4, 5, 7, 15};
    struct ns_ip6_repr r;
    for (size_t i = 0; i < sizeof(versions); i++) {
        uint8_t buf[IP6LEN(frame_echo_req)];
        memcpy(buf, IP6(frame_echo_req), sizeof(buf));
        buf[0] = (uint8_t)((versions[i] << 4) | (buf[0] & 0x0f));
        assert_int_equal(ns_ip6_parse(buf, sizeof(buf), &r), -NS_WIRE_BAD_VERSION);
    }
}

static void test_ip6_bad_len(void **state)
{
    (void)state;
    struct ns_ip6_repr r;
    /* Every byte short of what the payload length claims. */
    for (size_t cut = 1; cut <= 64; cut++) {
        size_t len = IP6LEN(frame_echo_req) - cut;
        uint8_t *p = ns_test_dup_exact(IP6(frame_echo_req), len);
        assert_int_equal(ns_ip6_parse(p, len, &r), -NS_WIRE_BAD_LEN);
        free(p);
    }
    /* A payload length of 65535 in a small buffer. */
    uint8_t buf[IP6LEN(frame_echo_req)];
    memcpy(buf, IP6(frame_echo_req), sizeof(buf));
    ns_wr16(buf + 4, 0xffff);
    assert_int_equal(ns_ip6_parse(buf, sizeof(buf), &r), -NS_WIRE_BAD_LEN);
}

static void test_ip6_jumbo(void **state)
{
    (void)state;
    /* RFC 2675 §2-§3: payload length 0, a Hop-by-Hop header with the
     * Jumbo Payload option (0xc2, length 4, the real length). */
    static const uint8_t hbh_jumbo[8] = {NS_IPPROTO_UDP, 0, 0xc2, 4, 0x00, 0x01, 0x00, 0x30};
    uint8_t buf[NS_IP6_HLEN + 8 + 64];
    build_pkt(buf, NS_IP6_NH_HOPOPTS, "2001:db8::2", hbh_jumbo, 8, 64);
    ns_wr16(buf + 4, 0);
    struct ns_ip6_repr r;
    assert_int_equal(ns_ip6_parse(buf, sizeof(buf), &r), -NS_WIRE_JUMBO);
    /* The same header with a non-zero payload length is not a jumbogram:
     * the option itself is refused when the options are processed, as an
     * unrecognised one (action 11: ICMP unless multicast), pointer 42. */
    ns_wr16(buf + 4, 8 + 64);
    assert_int_equal(ns_ip6_parse(buf, sizeof(buf), &r), 0);
    struct ns_ip6_opts_result res;
    assert_int_equal(ns_ip6_opts_process(buf + 40, 8, 40, true, false, &res), -NS_WIRE_JUMBO);
    assert_true(res.send_icmp);
    assert_int_equal(res.icmp_ptr, 42);
    assert_int_equal(ns_ip6_opts_process(buf + 40, 8, 40, true, true, &res), -NS_WIRE_JUMBO);
    assert_false(res.send_icmp);
    /* In a Destination Options header 0xc2 is just unknown. */
    assert_int_equal(ns_ip6_opts_process(buf + 40, 8, 40, false, false, &res),
                     -NS_WIRE_OPT_DISCARD);
    /* Payload length 0 and a Hop-by-Hop header without the option: not a
     * jumbogram; the header parses and the walker finds the truncation. */
    static const uint8_t hbh_pad[8] = {NS_IPPROTO_UDP, 0, 1, 4, 0, 0, 0, 0};
    build_pkt(buf, NS_IP6_NH_HOPOPTS, "2001:db8::2", hbh_pad, 8, 64);
    ns_wr16(buf + 4, 0);
    assert_int_equal(ns_ip6_parse(buf, sizeof(buf), &r), 0);
    struct ns_ip6_ext_info w;
    assert_int_equal(ns_ip6_ext_walk(buf, NS_IP6_HLEN, &w), -NS_WIRE_TRUNCATED);
    /* Payload length 0 and nothing after the header: a jumbo check must
     * not read past the buffer. */
    uint8_t *p = ns_test_dup_exact(buf, NS_IP6_HLEN + 1);
    assert_int_equal(ns_ip6_parse(p, NS_IP6_HLEN + 1, &r), 0);
    free(p);
}

static void test_ip6_check_addrs(void **state)
{
    (void)state;
    struct ns_ip6_repr r = {.src = A("2001:db8::1"), .dst = A("ff02::1")};
    assert_int_equal(ns_ip6_check_addrs(&r), 0);
    r.dst = A("ff0e::1");
    assert_int_equal(ns_ip6_check_addrs(&r), 0);
    r.dst = A("ff00::1"); /* scope 0: reserved */
    assert_int_equal(ns_ip6_check_addrs(&r), -NS_WIRE_BAD_DST);
    r.dst = A("2001:db8::2");
    r.src = A("ff02::1");
    assert_int_equal(ns_ip6_check_addrs(&r), -NS_WIRE_BAD_SRC);
    r.src = ns_ip6_unspecified; /* DAD and RS use :: as source */
    assert_int_equal(ns_ip6_check_addrs(&r), 0);
}

/* ---- extension headers ----------------------------------------------------- */

static void test_ext_walk_real(void **state)
{
    (void)state;
    struct ns_ip6_ext_info w;

    /* No extension header. */
    assert_int_equal(ns_ip6_ext_walk(IP6(frame_echo_req), IP6LEN(frame_echo_req), &w), 0);
    assert_int_equal(w.upper, NS_IPPROTO_ICMPV6);
    assert_int_equal(w.upper_off, 40);
    assert_int_equal(w.upper_nh_off, 6);
    assert_int_equal(w.n_ext, 0);
    assert_false(w.has_frag);
    assert_false(w.has_rt);

    /* MLDv2 report: Hop-by-Hop (Router Alert, PadN), then ICMPv6. */
    assert_int_equal(ns_ip6_ext_walk(IP6(frame_mld2_report), IP6LEN(frame_mld2_report), &w), 0);
    assert_int_equal(w.n_ext, 1);
    assert_int_equal(w.ext[0].type, NS_IP6_NH_HOPOPTS);
    assert_int_equal(w.ext[0].off, 40);
    assert_int_equal(w.ext[0].len, 8);
    assert_int_equal(w.upper, NS_IPPROTO_ICMPV6);
    assert_int_equal(w.upper_off, 48);
    assert_int_equal(w.upper_nh_off, 40);

    /* Destination Options then UDP. */
    assert_int_equal(ns_ip6_ext_walk(IP6(frame_dstopt_udp), IP6LEN(frame_dstopt_udp), &w), 0);
    assert_int_equal(w.n_ext, 1);
    assert_int_equal(w.ext[0].type, NS_IP6_NH_DSTOPTS);
    assert_int_equal(w.upper, NS_IPPROTO_UDP);
    assert_int_equal(w.upper_off, 48);

    /* Next header 253: the walker stops at anything it does not walk, and
     * says which byte named it — the pointer the kernel's Parameter
     * Problem code 1 carries (6). */
    assert_int_equal(ns_ip6_ext_walk(IP6(frame_proto253), IP6LEN(frame_proto253), &w), 0);
    assert_int_equal(w.upper, 253);
    struct ns_icmp6_repr pp;
    const struct ns_ip6_addr src = A("2001:db8:1::1"), dst = A("2001:db8:1::ff:fe00:10a");
    assert_int_equal(ns_icmp6_parse(&src, &dst, IP6(frame_pp_nexthdr) + 40,
                                    IP6LEN(frame_pp_nexthdr) - 40, &pp, true),
                     0);
    assert_int_equal(pp.code, NS_ICMP6_PP_NEXT_HEADER);
    assert_int_equal(pp.pointer, w.upper_nh_off);
}

static void test_ext_walk_fragments_real(void **state)
{
    (void)state;
    struct ns_ip6_ext_info w;
    uint32_t ptr = 99;

    /* First fragment: offset 0, M set; the walk goes on through it to the
     * ICMPv6 header, which the first fragment must hold. */
    assert_int_equal(ns_ip6_ext_walk(IP6(frame_frag1), IP6LEN(frame_frag1), &w), 0);
    assert_true(w.has_frag);
    assert_true(w.fragment);
    assert_int_equal(w.frag_off, 40);
    assert_int_equal(w.frag_nh_off, 6);
    assert_int_equal(w.frag.next_hdr, NS_IPPROTO_ICMPV6);
    assert_int_equal(w.frag.offset, 0);
    assert_true(w.frag.mf);
    assert_int_equal(w.frag.id, 0xf62e7770); /* tshark: ipv6.fraghdr.ident */
    assert_int_equal(w.upper, NS_IPPROTO_ICMPV6);
    assert_int_equal(w.upper_off, 48);
    assert_int_equal(w.upper_nh_off, 40);
    assert_int_equal(IP6(frame_frag1)[w.upper_off], NS_ICMP6_ECHO_REQUEST);
    assert_int_equal(ns_ip6_frag_check(&w, IP6LEN(frame_frag1), &ptr), 0);

    /* Last fragment: offset 1448 (181 units), M clear: the walk stops
     * after the fragment header; what follows is data. */
    assert_int_equal(ns_ip6_ext_walk(IP6(frame_frag2), IP6LEN(frame_frag2), &w), 0);
    assert_true(w.fragment);
    assert_int_equal(w.frag.offset, 1448);
    assert_false(w.frag.mf);
    assert_int_equal(w.frag.id, 0xf62e7770);
    assert_int_equal(w.upper, NS_IPPROTO_ICMPV6);
    assert_int_equal(w.upper_off, 48);
    assert_int_equal(ns_ip6_frag_check(&w, IP6LEN(frame_frag2), &ptr), 0);

    /* The fragment header parses and emits back to the kernel's bytes. */
    struct ns_ip6_frag_repr f;
    assert_int_equal(ns_ip6_frag_parse(IP6(frame_frag2) + 40, 8, &f), 0);
    uint8_t out[NS_IP6_FRAG_HLEN];
    ns_ip6_frag_emit(&f, out);
    assert_memory_equal(out, IP6(frame_frag2) + 40, 8);
    assert_int_equal(ns_ip6_frag_parse(IP6(frame_frag1) + 40, 8, &f), 0);
    ns_ip6_frag_emit(&f, out);
    assert_memory_equal(out, IP6(frame_frag1) + 40, 8);
}

static void test_frag_header(void **state)
{
    (void)state;
    struct ns_ip6_frag_repr f, back;
    uint8_t buf[NS_IP6_FRAG_HLEN];
    for (size_t len = 0; len < NS_IP6_FRAG_HLEN; len++) {
        uint8_t *p = ns_test_dup_exact(buf, len);
        assert_int_equal(ns_ip6_frag_parse(p, len, &f), -NS_WIRE_TRUNCATED);
        free(p);
    }
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(44));
    for (int i = 0; i < 1000; i++) {
        f.next_hdr = (uint8_t)ns_rng_next(&rng);
        f.offset = (uint16_t)(ns_rng_next(&rng) & NS_IP6_FRAG_OFFMASK);
        f.mf = ns_rng_chance(&rng, 0.5);
        f.id = (uint32_t)ns_rng_next(&rng);
        ns_ip6_frag_emit(&f, buf);
        assert_int_equal(buf[1], 0);
        assert_int_equal(buf[3] & 0x06, 0); /* Res */
        NS_ASSERT_SEED(ns_ip6_frag_parse(buf, sizeof(buf), &back) == 0);
        NS_ASSERT_SEED(back.next_hdr == f.next_hdr && back.offset == f.offset &&
                       back.mf == f.mf && back.id == f.id);
        /* RFC 8200 §4.5: reserved fields are ignored on receipt. */
        buf[1] = 0xff;
        buf[3] |= 0x06;
        NS_ASSERT_SEED(ns_ip6_frag_parse(buf, sizeof(buf), &back) == 0);
        NS_ASSERT_SEED(back.offset == f.offset && back.mf == f.mf);
    }
    f.offset = 0;
    f.mf = false;
    assert_true(ns_ip6_frag_is_atomic(&f));
    f.mf = true;
    assert_false(ns_ip6_frag_is_atomic(&f));
    f.mf = false;
    f.offset = 8;
    assert_false(ns_ip6_frag_is_atomic(&f));
}

static void test_ext_walk_chain(void **state)
{
    (void)state;
    /* The RFC 8200 §4.1 order: Hop-by-Hop, Destination Options, Routing
     * (type 4, segments left 2), Fragment (atomic, RFC 6946), Destination
     * Options, TCP. */
    static const uint8_t ext[] = {
        NS_IP6_NH_DSTOPTS, 0, 1, 4, 0, 0, 0, 0,                     /* HBH at 40 */
        NS_IP6_NH_ROUTING, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* DST at 48 (16) */
        NS_IP6_NH_FRAGMENT, 0, 4, 2, 0, 0, 0, 0,                     /* RT at 64 */
        NS_IP6_NH_DSTOPTS, 0, 0, 0, 0x12, 0x34, 0x56, 0x78,          /* FRAG at 72 */
        NS_IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0,                         /* DST at 80 */
    };
    uint8_t buf[NS_IP6_HLEN + sizeof(ext) + 20];
    size_t len = build_pkt(buf, NS_IP6_NH_HOPOPTS, "2001:db8::2", ext, sizeof(ext), 20);
    struct ns_ip6_ext_info w;
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), 0);
    assert_int_equal(w.n_ext, 5);
    static const uint8_t types[] = {NS_IP6_NH_HOPOPTS, NS_IP6_NH_DSTOPTS, NS_IP6_NH_ROUTING,
                                    NS_IP6_NH_FRAGMENT, NS_IP6_NH_DSTOPTS};
    static const uint32_t offs[] = {40, 48, 64, 72, 80};
    static const uint16_t lens[] = {8, 16, 8, 8, 8};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(w.ext[i].type, types[i]);
        assert_int_equal(w.ext[i].off, offs[i]);
        assert_int_equal(w.ext[i].len, lens[i]);
    }
    assert_true(w.has_rt);
    assert_int_equal(w.rt_off, 64);
    assert_int_equal(w.rt_type, 4);
    assert_int_equal(w.rt_segleft, 2);
    assert_true(w.has_frag);
    assert_false(w.fragment); /* atomic: a whole packet */
    assert_int_equal(w.frag.id, 0x12345678);
    assert_int_equal(w.frag_off, 72);
    assert_int_equal(w.frag_nh_off, 64);
    assert_int_equal(w.upper, NS_IPPROTO_TCP);
    assert_int_equal(w.upper_off, 88);
    assert_int_equal(w.upper_nh_off, 80);
    uint32_t ptr;
    assert_int_equal(ns_ip6_frag_check(&w, len, &ptr), 0);

    /* Cut anywhere inside the chain: truncated, never a read past len. */
    for (size_t cut = NS_IP6_HLEN; cut < 88; cut++) {
        uint8_t *p = ns_test_dup_exact(buf, cut);
        assert_int_equal(ns_ip6_ext_walk(p, cut, &w), -NS_WIRE_TRUNCATED);
        free(p);
    }
    for (size_t cut = 0; cut < NS_IP6_HLEN; cut++) {
        uint8_t *p = ns_test_dup_exact(buf, cut);
        assert_int_equal(ns_ip6_ext_walk(p, cut, &w), -NS_WIRE_TRUNCATED);
        free(p);
    }
    /* Exactly the headers, no upper-layer byte: the walk itself is fine. */
    uint8_t *p = ns_test_dup_exact(buf, 88);
    assert_int_equal(ns_ip6_ext_walk(p, 88, &w), 0);
    assert_int_equal(w.upper_off, 88);
    free(p);

    /* No Next Header (RFC 8200 §4.7) ends the walk like an upper layer. */
    static const uint8_t none[] = {NS_IP6_NH_NONE, 0, 1, 4, 0, 0, 0, 0};
    len = build_pkt(buf, NS_IP6_NH_DSTOPTS, "2001:db8::2", none, sizeof(none), 5);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), 0);
    assert_int_equal(w.upper, NS_IP6_NH_NONE);
    assert_int_equal(w.upper_off, 48);
    /* ESP and AH are not walked: we speak no IPsec. */
    len = build_pkt(buf, NS_IP6_NH_AH, "2001:db8::2", none, sizeof(none), 5);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), 0);
    assert_int_equal(w.upper, NS_IP6_NH_AH);
    assert_int_equal(w.upper_off, 40);
}

static void test_ext_walk_order_and_limit(void **state)
{
    (void)state;
    uint8_t buf[NS_IP6_HLEN + 9 * 8 + 8];
    struct ns_ip6_ext_info w;

    /* RFC 8200 §4.3: Hop-by-Hop only right after the IPv6 header. */
    static const uint8_t late_hbh[] = {NS_IP6_NH_HOPOPTS, 0, 1, 4, 0, 0, 0, 0,
                                       NS_IPPROTO_UDP, 0, 1, 4, 0, 0, 0, 0};
    size_t len = build_pkt(buf, NS_IP6_NH_DSTOPTS, "2001:db8::2", late_hbh, sizeof(late_hbh), 8);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), -NS_WIRE_EXT_ORDER);
    assert_int_equal(w.err_ptr, 40); /* the Destination Options' next header byte */
    /* Two Hop-by-Hop headers: the second is out of order too. */
    len = build_pkt(buf, NS_IP6_NH_HOPOPTS, "2001:db8::2", late_hbh, sizeof(late_hbh), 8);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), -NS_WIRE_EXT_ORDER);
    assert_int_equal(w.err_ptr, 40);

    /* NS_IP6_MAX_EXT (8) headers pass, one more is refused. */
    uint8_t chain[9 * 8];
    for (int i = 0; i < 9; i++) {
        uint8_t *h = chain + i * 8;
        h[0] = i == 8 ? NS_IPPROTO_UDP : NS_IP6_NH_DSTOPTS;
        h[1] = 0;
        ns_ip6_pad_emit(h + 2, 6);
    }
    chain[7 * 8] = NS_IPPROTO_UDP; /* 8 headers */
    len = build_pkt(buf, NS_IP6_NH_DSTOPTS, "2001:db8::2", chain, 8 * 8, 8);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), 0);
    assert_int_equal(w.n_ext, NS_IP6_MAX_EXT);
    assert_int_equal(w.upper, NS_IPPROTO_UDP);
    chain[7 * 8] = NS_IP6_NH_DSTOPTS; /* 9 headers */
    len = build_pkt(buf, NS_IP6_NH_DSTOPTS, "2001:db8::2", chain, 9 * 8, 8);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), -NS_WIRE_EXT_LIMIT);
}

static void test_ext_walk_fragment_rules(void **state)
{
    (void)state;
    uint8_t buf[NS_IP6_HLEN + 64];
    struct ns_ip6_ext_info w;
    uint32_t ptr;

    /* A first fragment (offset 0, M) whose Destination Options header
     * runs past its end: RFC 8200 §4.5 / RFC 7112, code 3. */
    static const uint8_t first_cut[] = {NS_IP6_NH_DSTOPTS, 0, 0, 1, 0, 0, 0, 1,
                                        NS_IPPROTO_TCP, 4, 1, 4, 0, 0, 0, 0};
    size_t len = build_pkt(buf, NS_IP6_NH_FRAGMENT, "2001:db8::2", first_cut, sizeof(first_cut),
                           0);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), -NS_WIRE_FRAG_INCOMPLETE);
    /* The same chain cut in an unfragmented packet is plain truncation. */
    static const uint8_t plain_cut[] = {NS_IPPROTO_TCP, 4, 1, 4, 0, 0, 0, 0};
    len = build_pkt(buf, NS_IP6_NH_DSTOPTS, "2001:db8::2", plain_cut, sizeof(plain_cut), 0);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), -NS_WIRE_TRUNCATED);

    /* A first fragment holding 16 bytes of TCP's 20: code 3, pointer 0,
     * as Linux ipv6frag_thdr_truncated (a multiple of 8 bytes of data, so
     * only that rule applies); 24 bytes are enough. */
    static const uint8_t frag_first[] = {NS_IPPROTO_TCP, 0, 0, 1, 0, 0, 0, 7};
    len = build_pkt(buf, NS_IP6_NH_FRAGMENT, "2001:db8::2", frag_first, 8, 16);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), 0);
    ptr = 99;
    assert_int_equal(ns_ip6_frag_check(&w, len, &ptr), -NS_WIRE_FRAG_INCOMPLETE);
    assert_int_equal(ptr, 0);
    len = build_pkt(buf, NS_IP6_NH_FRAGMENT, "2001:db8::2", frag_first, 8, 24);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), 0);
    assert_int_equal(ns_ip6_frag_check(&w, len, &ptr), 0);
    /* UDP needs 8, ICMPv6 8, anything else 1. */
    assert_int_equal(ns_ip6_upper_min_len(NS_IPPROTO_TCP), 20);
    assert_int_equal(ns_ip6_upper_min_len(NS_IPPROTO_UDP), 8);
    assert_int_equal(ns_ip6_upper_min_len(NS_IPPROTO_ICMPV6), 8);
    assert_int_equal(ns_ip6_upper_min_len(NS_IP6_NH_NONE), 1);
    assert_int_equal(ns_ip6_upper_min_len(253), 1);

    /* M set and a length that is not a multiple of 8: code 0 pointing at
     * the Payload Length (4). */
    static const uint8_t frag_mid[] = {NS_IPPROTO_UDP, 0, 0x00, 0x11, 0, 0, 0, 7}; /* off 16, M */
    len = build_pkt(buf, NS_IP6_NH_FRAGMENT, "2001:db8::2", frag_mid, 8, 13);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), 0);
    assert_int_equal(w.frag.offset, 16);
    assert_int_equal(ns_ip6_frag_check(&w, len, &ptr), -NS_WIRE_FRAG_LEN);
    assert_int_equal(ptr, 4);
    /* Without M the last fragment may have any length. */
    static const uint8_t frag_last[] = {NS_IPPROTO_UDP, 0, 0x00, 0x10, 0, 0, 0, 7};
    len = build_pkt(buf, NS_IP6_NH_FRAGMENT, "2001:db8::2", frag_last, 8, 13);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), 0);
    assert_int_equal(ns_ip6_frag_check(&w, len, &ptr), 0);

    /* Offset 65528 + 8 bytes = 65536 > 65535: code 0 at the Fragment
     * Offset field (40 + 2); 7 bytes end at 65535 exactly, accepted. */
    static const uint8_t frag_far[] = {NS_IPPROTO_UDP, 0, 0xff, 0xf8, 0, 0, 0, 7};
    len = build_pkt(buf, NS_IP6_NH_FRAGMENT, "2001:db8::2", frag_far, 8, 8);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), 0);
    assert_int_equal(w.frag.offset, 65528);
    assert_int_equal(ns_ip6_frag_check(&w, len, &ptr), -NS_WIRE_FRAG_TOO_BIG);
    assert_int_equal(ptr, 42);
    len = build_pkt(buf, NS_IP6_NH_FRAGMENT, "2001:db8::2", frag_far, 8, 7);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), 0);
    assert_int_equal(ns_ip6_frag_check(&w, len, &ptr), 0);

    /* A non-first fragment's data is not walked even when it looks like
     * headers (a Hop-by-Hop byte there is not "out of order"). */
    static const uint8_t frag_data[] = {NS_IP6_NH_HOPOPTS, 0, 0x00, 0x08, 0, 0, 0, 7,
                                        NS_IP6_NH_HOPOPTS, 200, 0, 0, 0, 0, 0, 0};
    len = build_pkt(buf, NS_IP6_NH_FRAGMENT, "2001:db8::2", frag_data, sizeof(frag_data), 0);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), 0);
    assert_int_equal(w.upper, NS_IP6_NH_HOPOPTS);
    assert_int_equal(w.upper_off, 48);
    assert_int_equal(w.n_ext, 1);

    /* An atomic fragment before a real one: the real one is reported. */
    static const uint8_t two[] = {NS_IP6_NH_FRAGMENT, 0, 0, 0, 0, 0, 0, 1,
                                  NS_IPPROTO_UDP, 0, 0x00, 0x19, 0, 0, 0, 2}; /* off 24, M */
    len = build_pkt(buf, NS_IP6_NH_FRAGMENT, "2001:db8::2", two, sizeof(two), 8);
    assert_int_equal(ns_ip6_ext_walk(buf, len, &w), 0);
    assert_true(w.fragment);
    assert_int_equal(w.frag.id, 2);
    assert_int_equal(w.frag_off, 48);
    assert_int_equal(w.frag_nh_off, 40);
    assert_int_equal(w.n_ext, 2);
    /* Not a fragment at all: nothing to check. */
    assert_int_equal(ns_ip6_ext_walk(IP6(frame_udp), IP6LEN(frame_udp), &w), 0);
    assert_int_equal(ns_ip6_frag_check(&w, IP6LEN(frame_udp), &ptr), 0);
}

/* ---- options --------------------------------------------------------------- */

/* Process one Destination Options header holding `opts` (padded to a
 * multiple of 8 with PadN by this helper) at offset 40. */
static int process_opts(const uint8_t *opts, size_t n, bool hbh, bool mcast,
                        struct ns_ip6_opts_result *r)
{
    uint8_t hdr[256];
    size_t len = (2 + n + 7) / 8 * 8;
    hdr[0] = NS_IPPROTO_UDP;
    hdr[1] = (uint8_t)(len / 8 - 1);
    memcpy(hdr + 2, opts, n);
    ns_ip6_pad_emit(hdr + 2 + n, len - 2 - n);
    uint8_t *p = ns_test_dup_exact(hdr, len);
    int rc = ns_ip6_opts_process(p, len, 40, hbh, mcast, r);
    free(p);
    return rc;
}

static void test_opts_real(void **state)
{
    (void)state;
    struct ns_ip6_opts_result r;
    /* The MLD report's Router Alert (value 0 = MLD). */
    assert_int_equal(ns_ip6_opts_process(IP6(frame_mld2_report) + 40, 8, 40, true, true, &r), 0);
    assert_true(r.router_alert);
    assert_int_equal(r.ra_value, NS_IP6_RA_MLD);

    /* Option 0x87 in a Destination Options header: action 10, so a
     * Parameter Problem code 2 even to multicast, pointing at the option's
     * type byte: 42, exactly what the kernel answered (frame_pp_option). */
    const uint8_t *dst_hdr = IP6(frame_dstopt_udp) + 40;
    struct ns_ip6_opt_iter it;
    struct ns_ip6_opt o;
    ns_ip6_opt_iter_init(&it, dst_hdr, 8, 40);
    assert_int_equal(ns_ip6_opt_next(&it, &o), 1);
    assert_int_equal(o.type, 0x87);
    assert_int_equal(o.len, 4);
    assert_int_equal(o.ptr, 42);
    assert_int_equal(ns_ip6_opt_next(&it, &o), 0);
    assert_int_equal(ns_ip6_opts_process(dst_hdr, 8, 40, false, false, &r), -NS_WIRE_OPT_DISCARD);
    assert_true(r.send_icmp);
    const struct ns_ip6_addr src = A("2001:db8:1::1"), dst = A("2001:db8:1::ff:fe00:10a");
    struct ns_icmp6_repr pp;
    assert_int_equal(ns_icmp6_parse(&src, &dst, IP6(frame_pp_option) + 40,
                                    IP6LEN(frame_pp_option) - 40, &pp, true),
                     0);
    assert_int_equal(pp.type, NS_ICMP6_PARAM_PROB);
    assert_int_equal(pp.code, NS_ICMP6_PP_OPTION);
    assert_int_equal(pp.pointer, r.icmp_ptr);
    /* The kernel quoted the whole packet; our walk of the quote finds the
     * same option at the same place. */
    assert_memory_equal(pp.payload, IP6(frame_dstopt_udp), IP6LEN(frame_dstopt_udp));
}

static void test_opts_action_bits(void **state)
{
    (void)state;
    /* RFC 8200 §4.2: the two high bits of an unrecognised option's type. */
    static const struct {
        uint8_t type;
        enum ns_ip6_opt_action act;
        int rc;
        bool icmp_unicast, icmp_multicast;
    } cases[] = {
        {0x1e, NS_IP6_OPT_SKIP, 0, false, false},
        {0x3f, NS_IP6_OPT_SKIP, 0, false, false}, /* 001: may change en route, still skip */
        {0x4d, NS_IP6_OPT_DISCARD, -NS_WIRE_OPT_DISCARD, false, false},
        {0x8a, NS_IP6_OPT_DISCARD_ICMP, -NS_WIRE_OPT_DISCARD, true, true},
        {0xde, NS_IP6_OPT_DISCARD_ICMP_UNICAST, -NS_WIRE_OPT_DISCARD, true, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(ns_ip6_opt_action(cases[i].type), cases[i].act);
        /* PadN (4 bytes) first, so the pointer is not the first option's. */
        uint8_t opts[] = {NS_IP6_OPT_PADN, 2, 0, 0, cases[i].type, 2, 0xaa, 0xbb};
        struct ns_ip6_opts_result r;
        for (int mcast = 0; mcast < 2; mcast++) {
            assert_int_equal(process_opts(opts, sizeof(opts), false, mcast, &r), cases[i].rc);
            bool want = mcast ? cases[i].icmp_multicast : cases[i].icmp_unicast;
            assert_int_equal(r.send_icmp, want);
            if (want)
                assert_int_equal(r.icmp_ptr, 40 + 2 + 4);
        }
    }
    /* A skipped option lets the next one be judged. */
    uint8_t opts[] = {0x1e, 0, 0x8a, 0};
    struct ns_ip6_opts_result r;
    assert_int_equal(process_opts(opts, sizeof(opts), false, false, &r), -NS_WIRE_OPT_DISCARD);
    assert_int_equal(r.icmp_ptr, 44);
}

static void test_opts_router_alert(void **state)
{
    (void)state;
    struct ns_ip6_opts_result r;
    uint8_t ra[] = {NS_IP6_OPT_ROUTER_ALERT, 2, 0x00, 0x01};
    assert_int_equal(process_opts(ra, sizeof(ra), true, false, &r), 0);
    assert_true(r.router_alert);
    assert_int_equal(r.ra_value, NS_IP6_RA_RSVP);
    /* Linux ipv6_hop_ra: any other length drops the packet. */
    uint8_t ra3[] = {NS_IP6_OPT_ROUTER_ALERT, 3, 0, 0, 0};
    assert_int_equal(process_opts(ra3, sizeof(ra3), true, false, &r), -NS_WIRE_BAD_OPTION);
    /* In a Destination Options header type 5 is unknown, action 00: skip. */
    assert_int_equal(process_opts(ra3, sizeof(ra3), false, false, &r), 0);
    assert_false(r.router_alert);
}

static void test_opts_padding(void **state)
{
    (void)state;
    struct ns_ip6_opts_result r;
    struct ns_ip6_opt_iter it;
    struct ns_ip6_opt o;
    /* Seven Pad1 are fine (one 8-byte header: 2 + 6, plus one more). */
    uint8_t hdr[16] = {NS_IPPROTO_UDP, 1};
    memset(hdr + 2, NS_IP6_OPT_PAD1, 7);
    hdr[9] = 0x1e; /* a skipped option resets the run */
    hdr[10] = 0;
    memset(hdr + 11, NS_IP6_OPT_PAD1, 5);
    assert_int_equal(ns_ip6_opts_process(hdr, 16, 40, false, false, &r), 0);
    /* Eight in a row: RFC 4942 §2.1.9.5, Linux drops. */
    memset(hdr + 2, NS_IP6_OPT_PAD1, 8);
    hdr[10] = 0x1e;
    hdr[11] = 4;
    ns_ip6_opt_iter_init(&it, hdr, 16, 40);
    assert_int_equal(ns_ip6_opt_next(&it, &o), -NS_WIRE_BAD_PADDING);
    assert_int_equal(ns_ip6_opt_next(&it, &o), -NS_WIRE_BAD_PADDING); /* sticky */
    /* Pad1 then PadN of 7 bytes: 8 in a row. */
    memset(hdr + 2, 0, 14);
    hdr[2] = NS_IP6_OPT_PAD1;
    hdr[3] = NS_IP6_OPT_PADN;
    hdr[4] = 5;
    hdr[10] = 0x1e;
    hdr[11] = 2;
    assert_int_equal(ns_ip6_opts_process(hdr, 16, 40, false, false, &r), -NS_WIRE_BAD_PADDING);
    /* PadN whose data is not zero. */
    uint8_t bad_padn[8] = {NS_IPPROTO_UDP, 0, NS_IP6_OPT_PADN, 4, 0, 0, 1, 0};
    assert_int_equal(ns_ip6_opts_process(bad_padn, 8, 40, false, false, &r),
                     -NS_WIRE_BAD_PADDING);
    /* ns_ip6_pad_emit of n bytes between two options: the iterator sees
     * both options, at the right places, for n up to 7; 8 is too many. */
    for (size_t n = 0; n <= 8; n++) {
        uint8_t h[16] = {NS_IPPROTO_UDP, 1, 0x1e, 0};
        assert_int_equal(ns_ip6_pad_emit(h + 4, n), n);
        h[4 + n] = 0x1f;
        h[5 + n] = (uint8_t)(16 - (4 + n) - 2);
        memset(h + 6 + n, 0xcc, 16 - (6 + n));
        ns_ip6_opt_iter_init(&it, h, 16, 40);
        assert_int_equal(ns_ip6_opt_next(&it, &o), 1);
        assert_int_equal(o.type, 0x1e);
        assert_int_equal(o.ptr, 42);
        if (n == 8) {
            assert_int_equal(ns_ip6_opt_next(&it, &o), -NS_WIRE_BAD_PADDING);
            continue;
        }
        assert_int_equal(ns_ip6_opt_next(&it, &o), 1);
        assert_int_equal(o.type, 0x1f);
        assert_int_equal(o.ptr, 40 + 4 + n);
        assert_int_equal(ns_ip6_opt_next(&it, &o), 0);
    }
}

static void test_opts_malformed(void **state)
{
    (void)state;
    struct ns_ip6_opts_result r;
    /* An option whose length runs past the header. */
    uint8_t over[8] = {NS_IPPROTO_UDP, 0, 0x1e, 5, 0, 0, 0, 0};
    assert_int_equal(ns_ip6_opts_process(over, 8, 40, false, false, &r), -NS_WIRE_BAD_OPTION);
    /* A lone type byte at the end. */
    uint8_t lone[8] = {NS_IPPROTO_UDP, 0, 0x1e, 3, 0, 0, 0, 0x1e};
    assert_int_equal(ns_ip6_opts_process(lone, 8, 40, false, false, &r), -NS_WIRE_BAD_OPTION);
    /* NS_IP6_MAX_OPTS options pass, one more does not (padding aside). */
    uint8_t hdr[24] = {NS_IPPROTO_UDP, 2};
    for (int i = 0; i < 9; i++) {
        hdr[2 + 2 * i] = 0x1e;
        hdr[3 + 2 * i] = 0;
    }
    ns_ip6_pad_emit(hdr + 20, 4);
    assert_int_equal(ns_ip6_opts_process(hdr, 24, 40, false, false, &r), -NS_WIRE_OPT_LIMIT);
    ns_ip6_pad_emit(hdr + 18, 6);
    assert_int_equal(ns_ip6_opts_process(hdr, 24, 40, false, false, &r), 0);
}

static void test_hbh_ra_emit(void **state)
{
    (void)state;
    /* The header Linux puts before an MLDv2 report, byte for byte. */
    uint8_t hbh[NS_IP6_HBH_RA_LEN];
    ns_ip6_hbh_ra_emit(NS_IPPROTO_ICMPV6, NS_IP6_RA_MLD, hbh);
    assert_memory_equal(hbh, IP6(frame_mld2_report) + 40, NS_IP6_HBH_RA_LEN);
    struct ns_ip6_opts_result r;
    ns_ip6_hbh_ra_emit(NS_IPPROTO_ICMPV6, 0x1234, hbh);
    assert_int_equal(ns_ip6_opts_process(hbh, sizeof(hbh), 40, true, true, &r), 0);
    assert_true(r.router_alert);
    assert_int_equal(r.ra_value, 0x1234);
}

/* ---- checksums -------------------------------------------------------------- */

static void test_pseudo6_layout(void **state)
{
    (void)state;
    /* RFC 8200 §8.1: the pseudo-header as bytes, summed with the data,
     * equals ns_csum_pseudo6 chained with the data — including lengths
     * above 16 bits (jumbo-sized) and odd data lengths. */
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(8200));
    for (int i = 0; i < 500; i++) {
        struct ns_ip6_addr s, d;
        for (int k = 0; k < 16; k++) {
            s.b[k] = (uint8_t)ns_rng_next(&rng);
            d.b[k] = (uint8_t)ns_rng_next(&rng);
        }
        uint32_t upper_len = (uint32_t)ns_rng_next(&rng);
        uint8_t nh = (uint8_t)ns_rng_next(&rng);
        size_t n = ns_rng_below(&rng, 64);
        uint8_t buf[40 + 64];
        memcpy(buf, s.b, 16);
        memcpy(buf + 16, d.b, 16);
        ns_wr32(buf + 32, upper_len);
        buf[36] = buf[37] = buf[38] = 0;
        buf[39] = nh;
        for (size_t k = 0; k < n; k++)
            buf[40 + k] = (uint8_t)ns_rng_next(&rng);
        uint16_t want = ns_csum(buf, 40 + n);
        uint32_t sum = ns_csum_pseudo6(&s, &d, upper_len, nh);
        uint16_t got = ns_csum_fold(ns_csum_add(sum, buf + 40, n));
        NS_ASSERT_SEED(want == got);
    }
}

static void test_csum_real_tcp_udp(void **state)
{
    (void)state;
    struct ns_ip6_repr ip;
    /* The kernel's UDP datagram (checksum 0x7a90), SYN (0x0f35) and RST
     * (0x4c7f): each verifies, and recomputing with the field zero gives
     * the kernel's value. */
    static const struct {
        const uint8_t *f;
        size_t len;
        uint8_t proto;
        uint16_t csum;
        size_t field;
    } pkts[] = {
        {frame_udp, sizeof(frame_udp), NS_IPPROTO_UDP, 0x7a90, 6},
        {frame_tcp_syn, sizeof(frame_tcp_syn), NS_IPPROTO_TCP, 0x0f35, 16},
        {frame_tcp_rst, sizeof(frame_tcp_rst), NS_IPPROTO_TCP, 0x4c7f, 16},
    };
    for (size_t i = 0; i < sizeof(pkts) / sizeof(pkts[0]); i++) {
        const uint8_t *p = IP6(pkts[i].f);
        assert_int_equal(ns_ip6_parse(p, pkts[i].len - NS_ETH_HLEN, &ip), 0);
        const uint8_t *seg = p + NS_IP6_HLEN;
        assert_int_equal(ns_rd16(seg + pkts[i].field), pkts[i].csum);
        assert_int_equal(ns_ip6_upper_csum(&ip.src, &ip.dst, pkts[i].proto, seg, ip.payload_len),
                         0);
        uint8_t copy[64];
        memcpy(copy, seg, ip.payload_len);
        ns_wr16(copy + pkts[i].field, 0);
        assert_int_equal(ns_ip6_upper_csum(&ip.src, &ip.dst, pkts[i].proto, copy, ip.payload_len),
                         pkts[i].csum);
        /* The wrong protocol or a swapped address breaks it. */
        assert_int_not_equal(
            ns_ip6_upper_csum(&ip.src, &ip.dst, (uint8_t)(pkts[i].proto + 1), seg, ip.payload_len),
            0);
        ip.src.b[15] ^= 1;
        assert_int_not_equal(
            ns_ip6_upper_csum(&ip.src, &ip.dst, pkts[i].proto, seg, ip.payload_len), 0);
    }
}

static void test_udp6(void **state)
{
    (void)state;
    struct ns_ip6_repr ip;
    struct ns_udp_repr u;
    assert_int_equal(ns_ip6_parse(IP6(frame_udp), IP6LEN(frame_udp), &ip), 0);
    const uint8_t *dgram = IP6(frame_udp) + NS_IP6_HLEN;
    assert_int_equal(ns_udp6_parse(dgram, ip.payload_len, &u), 0);
    assert_int_equal(u.sport, 58845);
    assert_int_equal(u.dport, 9);
    assert_int_equal(u.len, 14);
    assert_true(ns_udp6_csum_ok(&ip.src, &ip.dst, dgram, u.len));
    uint8_t copy[14];
    memcpy(copy, dgram, sizeof(copy));
    ns_wr16(copy + 6, 0);
    assert_int_equal(ns_udp6_csum(&ip.src, &ip.dst, copy, sizeof(copy)), 0x7a90);
    /* RFC 8200 §8.1: a zero checksum is refused over IPv6 (fine over
     * IPv4, RFC 768). */
    assert_int_equal(ns_udp6_parse(copy, sizeof(copy), &u), -NS_WIRE_ZERO_CSUM);
    assert_int_equal(ns_udp_parse(copy, sizeof(copy), &u), 0);
    assert_false(ns_udp6_csum_ok(&ip.src, &ip.dst, copy, sizeof(copy)));
    /* ns_udp6_parse keeps ns_udp_parse's errors. */
    uint8_t *p = ns_test_dup_exact(dgram, 7);
    assert_int_equal(ns_udp6_parse(p, 7, &u), -NS_WIRE_TRUNCATED);
    free(p);
    memcpy(copy, dgram, sizeof(copy));
    ns_wr16(copy + 4, 15);
    assert_int_equal(ns_udp6_parse(copy, sizeof(copy), &u), -NS_WIRE_BAD_LEN);

    /* A datagram whose checksum computes to 0 is sent as 0xffff, which
     * verifies: put the checksum of the zero-filled datagram into its data
     * so that the sum becomes -0. */
    uint8_t d[12] = {0x12, 0x34, 0x00, 0x35, 0x00, 12, 0, 0, 0, 0, 'x', 'y'};
    uint16_t c0 = ns_ip6_upper_csum(&ip.src, &ip.dst, NS_IPPROTO_UDP, d, sizeof(d));
    ns_wr16(d + 8, c0);
    assert_int_equal(ns_ip6_upper_csum(&ip.src, &ip.dst, NS_IPPROTO_UDP, d, sizeof(d)), 0);
    uint16_t c = ns_udp6_csum(&ip.src, &ip.dst, d, sizeof(d));
    assert_int_equal(c, 0xffff);
    ns_wr16(d + 6, c);
    assert_true(ns_udp6_csum_ok(&ip.src, &ip.dst, d, sizeof(d)));
    assert_int_equal(ns_udp6_parse(d, sizeof(d), &u), 0);
}

/* ---- addresses -------------------------------------------------------------- */

static void test_addr_predicates(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool unspec, loop, ll, mcast, snode, mapped;
        uint8_t scope;
    } cases[] = {
        {"::", true, false, false, false, false, false, 0xe},
        {"::1", false, true, false, false, false, false, 0x2},
        {"fe80::1", false, false, true, false, false, false, 0x2},
        {"febf:ffff::1", false, false, true, false, false, false, 0x2},
        {"fec0::1", false, false, false, false, false, false, 0x5},
        {"fe7f::1", false, false, false, false, false, false, 0xe},
        {"2001:db8::1", false, false, false, false, false, false, 0xe},
        {"ff02::1", false, false, false, true, false, false, 0x2},
        {"ff05::2", false, false, false, true, false, false, 0x5},
        {"ff0e::1", false, false, false, true, false, false, 0xe},
        {"ff01::1", false, false, false, true, false, false, 0x1},
        {"ff02::1:ff00:a", false, false, false, true, true, false, 0x2},
        {"ff02::1:fe00:a", false, false, false, true, false, false, 0x2},
        {"ff02::2:ff00:a", false, false, false, true, false, false, 0x2},
        {"::ffff:192.0.2.1", false, false, false, false, false, true, 0xe},
        {"::192.0.2.1", false, false, false, false, false, false, 0xe},
        {"::ffff:0:192.0.2.1", false, false, false, false, false, false, 0xe},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ns_ip6_addr a = A(cases[i].text);
        assert_int_equal(ns_ip6_is_unspecified(&a), cases[i].unspec);
        assert_int_equal(ns_ip6_is_loopback(&a), cases[i].loop);
        assert_int_equal(ns_ip6_is_link_local(&a), cases[i].ll);
        assert_int_equal(ns_ip6_is_multicast(&a), cases[i].mcast);
        assert_int_equal(ns_ip6_is_solicited_node(&a), cases[i].snode);
        assert_int_equal(ns_ip6_is_v4mapped(&a), cases[i].mapped);
        assert_int_equal(ns_ip6_scope(&a), cases[i].scope);
    }
    assert_addr(&ns_ip6_unspecified, "::");
    assert_addr(&ns_ip6_loopback, "::1");
    assert_addr(&ns_ip6_all_nodes, "ff02::1");
    assert_addr(&ns_ip6_all_routers, "ff02::2");
    assert_addr(&ns_ip6_all_mld2_routers, "ff02::16");
}

static void test_addr_text(void **state)
{
    (void)state;
    /* RFC 5952 §4: lower case, no leading zeros, "::" for the longest run
     * of two or more zero groups (the first of equal runs), never for one;
     * §5: mapped addresses with a dotted quad. */
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
        {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
        {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
        {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},
        {"0:0:0:0:0:0:0:0", "::"},
        {"::ffff:c000:0201", "::ffff:192.0.2.1"},
        {"FE80::FF:FE00:10A", "fe80::ff:fe00:10a"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ns_ip6_addr a = A(cases[i].in);
        assert_addr(&a, cases[i].out);
    }
    static const char *bad[] = {"", "2001:db8:::1", "1.2.3.4", "g::1", "2001:db8::1::2",
                                "1:2:3:4:5:6:7:8:9", "fe80::1%eth0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ns_ip6_addr a = ns_ip6_all_nodes;
        assert_false(ns_ip6_aton(bad[i], &a));
        assert_true(ns_ip6_eq(&a, &ns_ip6_all_nodes));
    }
    char buf[NS_IP6_ADDRSTRLEN];
    struct ns_ip6_addr longest;
    memset(longest.b, 0xab, 16); /* abab:... 39 characters */
    assert_int_equal(strlen(ns_ip6_ntoa(&longest, buf)), 39);
}

static void test_addr_solicited_and_mac(void **state)
{
    (void)state;
    struct ns_ip6_addr a = A("2001:db8:1::a"), s = ns_ip6_solicited_node(&a);
    assert_addr(&s, "ff02::1:ff00:a");
    assert_true(ns_ip6_is_solicited_node(&s));
    a = A("fe80::1234:56ff:fe78:9abc");
    s = ns_ip6_solicited_node(&a);
    assert_addr(&s, "ff02::1:ff78:9abc");

    /* Against the kernel: the DAD probe for 2001:db8:1::a goes to the
     * target's solicited-node address, in an Ethernet frame to its
     * multicast MAC 33:33:ff:00:00:0a; the MLD report to ff02::16 in one
     * to 33:33:00:00:00:16. */
    struct ns_ip6_repr ip;
    assert_int_equal(ns_ip6_parse(IP6(frame_ns_dad), IP6LEN(frame_ns_dad), &ip), 0);
    struct ns_ip6_addr target;
    memcpy(target.b, IP6(frame_ns_dad) + 40 + 8, 16);
    s = ns_ip6_solicited_node(&target);
    assert_true(ns_ip6_eq(&s, &ip.dst));
    uint8_t mac[6];
    ns_ip6_mcast_mac(&ip.dst, mac);
    assert_memory_equal(mac, frame_ns_dad, 6);
    static const uint8_t dad_mac[6] = {0x33, 0x33, 0xff, 0x00, 0x00, 0x0a};
    assert_memory_equal(mac, dad_mac, 6);
    ns_ip6_mcast_mac(&ns_ip6_all_mld2_routers, mac);
    assert_memory_equal(mac, frame_mld2_report, 6);
}

static void test_addr_eui64(void **state)
{
    (void)state;
    /* The kernel's link-local address for MAC 02:00:00:00:01:0a (its RS
     * comes from it): fe80::ff:fe00:10a — the U/L bit flipped to 0. */
    struct ns_ip6_repr ip;
    assert_int_equal(ns_ip6_parse(IP6(frame_rs), IP6LEN(frame_rs), &ip), 0);
    uint8_t iid[8];
    ns_ip6_iid_eui64(frame_rs + 6, iid); /* the frame's source MAC */
    struct ns_ip6_addr ll = A("fe80::");
    memcpy(ll.b + 8, iid, 8);
    assert_true(ns_ip6_eq(&ll, &ip.src));
    /* A universal MAC gets the bit set (RFC 4291 Appendix A). */
    static const uint8_t mac[6] = {0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54};
    static const uint8_t want[8] = {0x02, 0x07, 0x0d, 0xff, 0xfe, 0xaf, 0xf4, 0x54};
    ns_ip6_iid_eui64(mac, iid);
    assert_memory_equal(iid, want, 8);
}

static void test_addr_v4mapped(void **state)
{
    (void)state;
    struct ns_ip6_addr m = ns_ip6_v4mapped(0xc0000201);
    assert_addr(&m, "::ffff:192.0.2.1");
    assert_true(ns_ip6_is_v4mapped(&m));
    assert_int_equal(ns_ip6_v4mapped_to4(&m), 0xc0000201);
    struct ns_ip6_addr x = A("::ffff:198.51.100.7");
    assert_int_equal(ns_ip6_v4mapped_to4(&x), 0xc6336407);
    m = ns_ip6_v4mapped(0);
    assert_addr(&m, "::ffff:0.0.0.0");
}

/* Bit i (0 = most significant) of a. */
static int bit(const struct ns_ip6_addr *a, unsigned i) { return (a->b[i / 8] >> (7 - i % 8)) & 1; }

static void test_addr_prefix(void **state)
{
    (void)state;
    struct ns_ip6_addr a = A("2001:db8:1:2::1"), b = A("2001:db8:1:3::1");
    assert_int_equal(ns_ip6_common_prefix_len(&a, &b), 63);
    assert_true(ns_ip6_prefix_eq(&a, &b, 63));
    assert_false(ns_ip6_prefix_eq(&a, &b, 64));
    assert_true(ns_ip6_prefix_eq(&a, &b, 0));
    assert_int_equal(ns_ip6_common_prefix_len(&a, &a), 128);
    assert_true(ns_ip6_prefix_eq(&a, &a, 200)); /* more than 128 is 128 */
    struct ns_ip6_addr m = ns_ip6_prefix_mask(&a, 48);
    assert_addr(&m, "2001:db8:1::");
    m = ns_ip6_prefix_mask(&a, 0);
    assert_addr(&m, "::");
    m = ns_ip6_prefix_mask(&a, 128);
    assert_true(ns_ip6_eq(&m, &a));
    struct ns_ip6_addr ll = A("febf::1");
    m = ns_ip6_prefix_mask(&ll, 10);
    assert_addr(&m, "fe80::");

    /* Random pairs against a bit-by-bit reference. */
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(128));
    for (int i = 0; i < 2000; i++) {
        for (int k = 0; k < 16; k++)
            a.b[k] = (uint8_t)ns_rng_next(&rng);
        b = a;
        unsigned flip = (unsigned)ns_rng_below(&rng, 129); /* 128: equal */
        if (flip < 128)
            b.b[flip / 8] ^= (uint8_t)(0x80 >> (flip % 8));
        for (unsigned k = flip + 1; k < 128; k++)
            if (ns_rng_chance(&rng, 0.5))
                b.b[k / 8] ^= (uint8_t)(0x80 >> (k % 8));
        NS_ASSERT_SEED(ns_ip6_common_prefix_len(&a, &b) == flip);
        unsigned bits = (unsigned)ns_rng_below(&rng, 129);
        NS_ASSERT_SEED(ns_ip6_prefix_eq(&a, &b, bits) == (bits <= flip));
        m = ns_ip6_prefix_mask(&a, bits);
        for (unsigned k = 0; k < 128; k++)
            NS_ASSERT_SEED(bit(&m, k) == (k < bits ? bit(&a, k) : 0));
    }
}

static void test_strerror(void **state)
{
    (void)state;
    /* Every code has its own text; a negative return and the enum value
     * give the same; anything else is said to be unknown. */
    const char *seen[64] = {0};
    int n = 0;
#define CHECK_ONE(name, value, text)                                     \
    assert_string_equal(ns_wire_strerror(-(name)), text);                \
    assert_string_equal(ns_wire_strerror(name), text);                   \
    for (int i = 0; i < n; i++)                                          \
        assert_string_not_equal(seen[i], text);                          \
    seen[n++] = text;
    NS_WIRE_ERRORS(CHECK_ONE)
#undef CHECK_ONE
    assert_true(n > 20);
    assert_string_equal(ns_wire_strerror(-1000), "unknown wire error");
    assert_string_equal(ns_wire_strerror(-NS_WIRE_ZERO_CSUM), "UDP over IPv6 with a zero checksum");
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip6_parse_real),
        cmocka_unit_test(test_ip6_roundtrip_random),
        cmocka_unit_test(test_ip6_truncated),
        cmocka_unit_test(test_ip6_bad_version),
        cmocka_unit_test(test_ip6_bad_len),
        cmocka_unit_test(test_ip6_jumbo),
        cmocka_unit_test(test_ip6_check_addrs),
        cmocka_unit_test(test_ext_walk_real),
        cmocka_unit_test(test_ext_walk_fragments_real),
        cmocka_unit_test(test_frag_header),
        cmocka_unit_test(test_ext_walk_chain),
        cmocka_unit_test(test_ext_walk_order_and_limit),
        cmocka_unit_test(test_ext_walk_fragment_rules),
        cmocka_unit_test(test_opts_real),
        cmocka_unit_test(test_opts_action_bits),
        cmocka_unit_test(test_opts_router_alert),
        cmocka_unit_test(test_opts_padding),
        cmocka_unit_test(test_opts_malformed),
        cmocka_unit_test(test_hbh_ra_emit),
        cmocka_unit_test(test_pseudo6_layout),
        cmocka_unit_test(test_csum_real_tcp_udp),
        cmocka_unit_test(test_udp6),
        cmocka_unit_test(test_addr_predicates),
        cmocka_unit_test(test_addr_text),
        cmocka_unit_test(test_addr_solicited_and_mac),
        cmocka_unit_test(test_addr_eui64),
        cmocka_unit_test(test_addr_v4mapped),
        cmocka_unit_test(test_addr_prefix),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
