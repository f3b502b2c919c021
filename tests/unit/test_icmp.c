/* tests/unit/test_icmp.c — ICMPv4 (RFC 792): echo, the RFC 1122 §3.2.2
 * rules on when an error must not be sent, the token-bucket rate limit
 * (RFC 1812 §4.3.2.8) and the quote length (RFC 1812 §4.3.2.3).
 *
 * Host bench: 192.0.2.1/24 on interface 1, peer 192.0.2.10 known.
 * Router bench: adds 198.51.100.1/24 on interface 2 (host B
 * 198.51.100.20 known) with forwarding on, to provoke errors about
 * packets in transit (time exceeded).
 */
#include <errno.h>
#include <string.h>

#include "frames.h"

#define US_S 1000000ull
#define OUR_IP FR_IP(192, 0, 2, 1)
#define PEER_IP FR_IP(192, 0, 2, 10)
#define BCAST_IP FR_IP(192, 0, 2, 255)
#define R2_IP FR_IP(198, 51, 100, 1)
#define B_IP FR_IP(198, 51, 100, 20)
#define PROTO_UNKNOWN 253 /* RFC 3692 experimental: nobody handles it */

static const uint8_t PEER_MAC[6] = {0x02, 0xaa, 0, 0, 0, 0x0a};
static const uint8_t B_MAC[6] = {0x02, 0xbb, 0, 0, 0, 0x14};

static uint8_t g_f[FR_MAX];

static struct tb *bench(const struct ns_config *cfg, bool router)
{
    struct ns_config c;
    if (cfg)
        c = *cfg;
    else
        tb_config(&c);
    c.ip_forward = router;
    struct tb *tb = tb_new(&c, 0);
    tb_add_if(tb, 1500, OUR_IP, 24);
    tb_learn(tb, 1, PEER_IP, PEER_MAC, 1000);
    if (router) {
        tb_add_if(tb, 1500, R2_IP, 24);
        tb_learn(tb, 2, B_IP, B_MAC, 1000);
    }
    return tb;
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 29 + seed);
}

/* A packet of protocol PROTO_UNKNOWN from src to dst, plen bytes,
 * Ethernet destination dmac. */
static size_t unknown_proto_frame(uint8_t *f, const uint8_t dmac[6], uint32_t src, uint32_t dst,
                                  size_t plen)
{
    static uint8_t payload[FR_MAX];
    fill(payload, plen, 3);
    struct ns_ip4_repr ip = fr_ip4_hdr(src, dst, PROTO_UNKNOWN);
    return fr_ip4_frame(f, dmac, PEER_MAC, &ip, payload, plen);
}

/* ---- echo ---------------------------------------------------------------------------- */

static void test_echo_reply(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL, false);
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0xec40));
    uint8_t data[1472], us[6];
    tb_mac(1, us);
    uint64_t t = 2000;
    /* Random ids, sequence numbers, TTL, TOS and payloads (every length
     * parity) so the reply's checksum update meets every carry. */
    for (unsigned i = 0; i < 1000; i++) {
        size_t len = i < 4 ? i : ns_rng_below(&rng, sizeof(data) + 1);
        for (size_t k = 0; k < len; k++)
            data[k] = (uint8_t)ns_rng_next(&rng);
        struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, OUR_IP, NS_IPPROTO_ICMP);
        ip.ttl = (uint8_t)(1 + ns_rng_below(&rng, 255));
        ip.id = (uint16_t)ns_rng_next(&rng);
        uint16_t id = (uint16_t)ns_rng_next(&rng), seq = (uint16_t)ns_rng_next(&rng);
        size_t n = fr_echo_frame_ip(g_f, us, PEER_MAC, &ip, NS_ICMP_ECHO, id, seq, data, len);
        tb_rx(tb, 1, g_f, n, t += 10);

        const struct fr_pkt *p = tb_take(tb, 1); /* checksums verified by fr_parse */
        NS_ASSERT_SEED(p != NULL && p->is_icmp);
        NS_ASSERT_SEED(memcmp(p->eth.dst, PEER_MAC, 6) == 0);
        NS_ASSERT_SEED(memcmp(p->eth.src, us, 6) == 0);
        NS_ASSERT_SEED(p->ip.src == OUR_IP && p->ip.dst == PEER_IP);
        NS_ASSERT_SEED(p->ip.proto == NS_IPPROTO_ICMP);
        NS_ASSERT_SEED(p->ip.ttl == 64);
        NS_ASSERT_SEED(p->icmp.type == NS_ICMP_ECHO_REPLY && p->icmp.code == 0);
        NS_ASSERT_SEED(p->icmp.id == id && p->icmp.seq == seq);
        NS_ASSERT_SEED(p->icmp.payload_len == len);
        NS_ASSERT_SEED(len == 0 || memcmp(p->icmp.payload, data, len) == 0);
        /* The checksum is the one a fresh computation gives. */
        uint8_t fresh[8 + sizeof(data)];
        fr_icmp_echo(fresh, NS_ICMP_ECHO_REPLY, id, seq, data, len);
        NS_ASSERT_SEED(memcmp(p->l4, fresh, 8) == 0);
        NS_ASSERT_SEED(tb_pending(tb, 1) == 0);
    }
    assert_int_equal(CTR(tb, icmp_rx_echo), 1000);
    assert_int_equal(CTR(tb, icmp_tx_echo_reply), 1000);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_echo_to_broadcast_ignored(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL, false);
    uint8_t data[32], us[6];
    tb_mac(1, us);
    fill(data, sizeof(data), 1);
    static const struct {
        uint32_t dst;
        bool l2_bcast;
    } cases[] = {
        {BCAST_IP, false},    /* directed broadcast, unicast frame */
        {BCAST_IP, true},     /* directed broadcast, broadcast frame */
        {0xffffffffu, true},  /* limited broadcast */
        {0xffffffffu, false},
        {OUR_IP, true},       /* our address in a link-layer broadcast */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = fr_echo_frame(g_f, cases[i].l2_bcast ? fr_mac_bcast : us, PEER_MAC, PEER_IP,
                                 cases[i].dst, NS_ICMP_ECHO, 1, (uint16_t)i, data, sizeof(data));
        tb_rx(tb, 1, g_f, n, 2000 + i);
        assert_null(tb_take(tb, 1));
        assert_int_equal(CTR(tb, icmp_drop_bcast_echo), i + 1);
    }
    assert_int_equal(CTR(tb, icmp_tx), 0);
    assert_int_equal(CTR(tb, icmp_err_suppressed), 0);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_bad_icmp_dropped(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL, false);
    uint8_t data[40], us[6];
    tb_mac(1, us);
    fill(data, sizeof(data), 2);
    size_t n = fr_echo_frame(g_f, us, PEER_MAC, PEER_IP, OUR_IP, NS_ICMP_ECHO, 1, 1, data,
                             sizeof(data));
    g_f[NS_ETH_HLEN + NS_IP4_HLEN + 2] ^= 0x10; /* ICMP checksum */
    tb_rx(tb, 1, g_f, n, 2000);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, icmp_drop_bad_csum), 1);
    /* A flipped payload bit is caught the same way. */
    n = fr_echo_frame(g_f, us, PEER_MAC, PEER_IP, OUR_IP, NS_ICMP_ECHO, 1, 2, data, sizeof(data));
    g_f[n - 1] ^= 0x01;
    tb_rx(tb, 1, g_f, n, 2001);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, icmp_drop_bad_csum), 2);
    /* Fewer than 8 bytes of ICMP. */
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, OUR_IP, NS_IPPROTO_ICMP);
    static const uint8_t stub[7] = {8, 0, 0xf7, 0xff, 0, 0, 0};
    n = fr_ip4_frame(g_f, us, PEER_MAC, &ip, stub, sizeof(stub));
    tb_rx(tb, 1, g_f, n, 2002);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, icmp_drop_short), 1);
    assert_int_equal(CTR(tb, icmp_rx_echo), 0);
    assert_int_equal(CTR(tb, icmp_tx), 0);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* ---- when no error may be sent (RFC 1122 §3.2.2) -------------------------------------- */

/* Inject at t on if 1; nothing may leave anywhere, icmp_err_suppressed
 * goes up by one, and no rate-limit token is spent. */
static void expect_suppressed(struct tb *tb, const uint8_t *f, size_t n, uint64_t t)
{
    uint64_t supp = CTR(tb, icmp_err_suppressed), tx = CTR(tb, icmp_tx);
    tb_poll(tb, t);
    uint64_t tokens = tb->st->net->icmp_tokens;
    tb_rx(tb, 1, f, n, t);
    tb_assert_quiet(tb);
    assert_int_equal(CTR(tb, icmp_err_suppressed), supp + 1);
    assert_int_equal(CTR(tb, icmp_tx), tx);
    assert_int_equal(tb->st->net->icmp_tokens, tokens);
}

/* An ICMP message of `type` (code 0) in an IPv4 header ip, TTL 1, sent
 * through the router toward B: it would earn a time exceeded. */
static size_t transit_icmp(uint8_t *f, uint8_t type, uint8_t ttl)
{
    uint8_t icmp[8 + 28];
    struct ns_icmp4_repr r = {.type = type, .code = 0, .rest = 0};
    memset(icmp, 0, sizeof(icmp));
    icmp[8] = 0x45; /* a quoted header, for the error types */
    r.payload = icmp + 8;
    r.payload_len = 28;
    ns_icmp4_emit(&r, icmp);
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, B_IP, NS_IPPROTO_ICMP);
    ip.ttl = ttl;
    uint8_t us[6];
    tb_mac(1, us);
    return fr_ip4_frame(f, us, PEER_MAC, &ip, icmp, sizeof(icmp));
}

static void test_no_error_about_icmp_errors(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL, true);
    /* Destination unreachable, source quench, redirect, time exceeded,
     * parameter problem: never an error about an error. */
    static const uint8_t err_types[] = {3, 4, 5, 11, 12};
    uint64_t t = 2000;
    for (size_t i = 0; i < sizeof(err_types); i++) {
        size_t n = transit_icmp(g_f, err_types[i], 1);
        expect_suppressed(tb, g_f, n, t += 10);
    }
    assert_int_equal(CTR(tb, ip_drop_ttl), sizeof(err_types));
    /* Queries (echo request, echo reply, timestamp, info, address mask)
     * are not errors: they get time exceeded. */
    static const uint8_t query_types[] = {8, 0, 13, 14, 15, 17};
    for (size_t i = 0; i < sizeof(query_types); i++) {
        size_t n = transit_icmp(g_f, query_types[i], 1);
        tb_rx(tb, 1, g_f, n, t += 10);
        const struct fr_pkt *p = tb_take(tb, 1);
        assert_non_null(p);
        assert_true(p->is_icmp);
        assert_int_equal(p->ip.dst, PEER_IP);
        assert_int_equal(p->icmp.type, NS_ICMP_TIME_EXCEEDED);
        assert_int_equal(p->icmp.code, NS_ICMP_EXC_TTL);
        assert_int_equal(p->icmp.payload_len, n - NS_ETH_HLEN);
        assert_memory_equal(p->icmp.payload, g_f + NS_ETH_HLEN, n - NS_ETH_HLEN);
        tb_assert_quiet(tb);
    }
    assert_int_equal(CTR(tb, icmp_tx_time_exceeded), sizeof(query_types));
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_no_error_about_non_first_fragment(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL, true);
    uint8_t data[2000], us[6];
    tb_mac(1, us);
    fill(data, sizeof(data), 4);
    data[0] = NS_ICMP_ECHO; /* an echo request's first fragment (not an error) */
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, B_IP, NS_IPPROTO_ICMP);
    ip.ttl = 1;
    /* Later fragments (with and without MF), TTL 1 in transit. */
    size_t n = fr_frag_frame(g_f, us, PEER_MAC, &ip, data, 1480, 400, true);
    expect_suppressed(tb, g_f, n, 2000);
    n = fr_frag_frame(g_f, us, PEER_MAC, &ip, data, 1880, 120, false);
    expect_suppressed(tb, g_f, n, 2010);
    /* Fragment zero of the same datagram is answered. */
    n = fr_frag_frame(g_f, us, PEER_MAC, &ip, data, 0, 400, true);
    tb_rx(tb, 1, g_f, n, 2020);
    const struct fr_pkt *p = tb_take(tb, 1);
    assert_non_null(p);
    assert_int_equal(p->icmp.type, NS_ICMP_TIME_EXCEEDED);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_no_error_about_broadcast_or_martian(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL, false);
    uint8_t us[6];
    tb_mac(1, us);
    uint64_t t = 2000;
    size_t n;

    /* Control: unknown protocol to our address earns protocol unreachable. */
    n = unknown_proto_frame(g_f, us, PEER_IP, OUR_IP, 40);
    tb_rx(tb, 1, g_f, n, t += 10);
    const struct fr_pkt *p = tb_take(tb, 1);
    assert_non_null(p);
    assert_int_equal(p->icmp.type, NS_ICMP_DEST_UNREACH);
    assert_int_equal(p->icmp.code, NS_ICMP_PROT_UNREACH);

    /* IP broadcast destinations. */
    n = unknown_proto_frame(g_f, us, PEER_IP, BCAST_IP, 40);
    expect_suppressed(tb, g_f, n, t += 10);
    n = unknown_proto_frame(g_f, fr_mac_bcast, PEER_IP, 0xffffffffu, 40);
    expect_suppressed(tb, g_f, n, t += 10);
    /* A link-layer broadcast to our unicast address. */
    n = unknown_proto_frame(g_f, fr_mac_bcast, PEER_IP, OUR_IP, 40);
    expect_suppressed(tb, g_f, n, t += 10);
    /* Sources that do not name a single host: 0.0.0.0, class E (the
     * input path already drops multicast, broadcast and loopback ones). */
    n = unknown_proto_frame(g_f, us, 0, OUR_IP, 40);
    expect_suppressed(tb, g_f, n, t += 10);
    n = unknown_proto_frame(g_f, us, FR_IP(240, 0, 0, 1), OUR_IP, 40);
    expect_suppressed(tb, g_f, n, t += 10);
    assert_int_equal(CTR(tb, ip_drop_unknown_proto), 6);

    /* Addresses the input path never lets through, straight at
     * icmp4_send_error: multicast destination and every martian source. */
    static const uint32_t srcs[] = {PEER_IP, PEER_IP, FR_IP(224, 0, 0, 9), 0xffffffffu,
                                    BCAST_IP, FR_IP(127, 0, 0, 1)};
    static const uint32_t dsts[] = {FR_IP(224, 0, 0, 1), FR_IP(239, 255, 0, 1), OUR_IP, OUR_IP,
                                    OUR_IP, OUR_IP};
    for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
        struct ns_ip4_repr ip = fr_ip4_hdr(srcs[i], dsts[i], PROTO_UNKNOWN);
        uint8_t payload[16] = {0};
        struct ns_pbuf *pb = ns_pbuf_alloc(tb->st->pool, NS_PBUF_HEADROOM, 36);
        assert_non_null(pb);
        fr_ip4(ns_pbuf_data(pb), &ip, NULL, 0, payload, sizeof(payload));
        uint64_t supp = CTR(tb, icmp_err_suppressed);
        icmp4_send_error(tb->st, pb, NS_ICMP_DEST_UNREACH, NS_ICMP_PROT_UNREACH, 0);
        ns_pbuf_free(pb);
        tb_assert_quiet(tb);
        assert_int_equal(CTR(tb, icmp_err_suppressed), supp + 1);
    }
    assert_int_equal(CTR(tb, icmp_tx), 1);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* ---- rate limit ------------------------------------------------------------------------ */

static void test_rate_limit(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.icmp_rate_burst = 10;
    cfg.icmp_rate_per_s = 4;
    struct tb *tb = bench(&cfg, false);
    uint8_t us[6];
    tb_mac(1, us);
    const size_t n = unknown_proto_frame(g_f, us, PEER_IP, OUR_IP, 20);
    const uint64_t t0 = 5 * US_S;

    /* 200 offending packets at the same instant: a burst's worth of
     * errors, the rest counted. */
    for (unsigned i = 0; i < 200; i++)
        assert_int_equal(ns_qdev_inject(tb->dev[1], g_f, n), 0);
    tb_poll(tb, t0);
    assert_int_equal(tb_drain(tb, 1), 10);
    assert_int_equal(CTR(tb, icmp_tx_unreach), 10);
    assert_int_equal(CTR(tb, icmp_err_ratelimited), 190);
    assert_int_equal(CTR(tb, ip_drop_unknown_proto), 200);

    /* Echo replies are not errors: never limited. */
    uint8_t data[8] = {0};
    size_t m = fr_echo_frame(g_f + FR_MAX / 2, us, PEER_MAC, PEER_IP, OUR_IP, NS_ICMP_ECHO, 1, 1,
                             data, sizeof(data));
    tb_rx(tb, 1, g_f + FR_MAX / 2, m, t0);
    const struct fr_pkt *p = tb_take(tb, 1);
    assert_non_null(p);
    assert_int_equal(p->icmp.type, NS_ICMP_ECHO_REPLY);

    /* One second later: icmp_rate_per_s more. */
    for (unsigned i = 0; i < 200; i++)
        assert_int_equal(ns_qdev_inject(tb->dev[1], g_f, n), 0);
    tb_poll(tb, t0 + US_S);
    assert_int_equal(tb_drain(tb, 1), 4);
    assert_int_equal(CTR(tb, icmp_err_ratelimited), 190 + 196);

    /* A quarter second: one token. Just before it: none. */
    tb_rx(tb, 1, g_f, n, t0 + US_S + 249999);
    assert_int_equal(tb_drain(tb, 1), 0);
    tb_rx(tb, 1, g_f, n, t0 + US_S + 250000);
    assert_int_equal(tb_drain(tb, 1), 1);

    /* A long quiet spell refills only up to the burst. */
    for (unsigned i = 0; i < 200; i++)
        assert_int_equal(ns_qdev_inject(tb->dev[1], g_f, n), 0);
    tb_poll(tb, t0 + 1000 * US_S);
    assert_int_equal(CTR(tb, icmp_tx_unreach), 10 + 4 + 1 + 10);
    tb_drain(tb, 1); /* the errors, and a unicast ARP re-confirming the peer */
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* A steady flood, offenders closer together than one token's worth of
 * time: the bucket must still refill at icmp_rate_per_s. */
static void test_rate_limit_under_flood(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.icmp_rate_burst = 10;
    cfg.icmp_rate_per_s = 10; /* one token per 100 ms */
    struct tb *tb = bench(&cfg, false);
    uint8_t us[6];
    tb_mac(1, us);
    const size_t n = unknown_proto_frame(g_f, us, PEER_IP, OUR_IP, 20);
    const uint64_t t0 = 5 * US_S;
    for (unsigned i = 0; i < 10; i++)
        tb_rx(tb, 1, g_f, n, t0);
    assert_int_equal(tb_drain(tb, 1), 10);
    /* One offender every 90 us for 2 s (up to t0 + 1999980 us): 19.9998
     * tokens accrue, so 19 errors. */
    size_t sent = 0;
    for (uint64_t t = t0 + 90; t < t0 + 2 * US_S; t += 90) {
        tb_rx(tb, 1, g_f, n, t);
        sent += tb_drain(tb, 1);
    }
    assert_int_equal(sent, 19);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* ---- quote length ---------------------------------------------------------------------- */

static void test_quote_capped_at_576(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL, false);
    uint8_t us[6];
    tb_mac(1, us);
    static const size_t sizes[] = {0, 100, 527, 528, 529, 1000, 1480};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = unknown_proto_frame(g_f, us, PEER_IP, OUR_IP, sizes[i]);
        size_t orig = n - NS_ETH_HLEN;
        tb_rx(tb, 1, g_f, n, 2000 + i * 10);
        const struct fr_pkt *p = tb_take(tb, 1);
        assert_non_null(p);
        assert_true(p->is_icmp);
        assert_int_equal(p->icmp.type, NS_ICMP_DEST_UNREACH);
        /* As much as fits in 576 bytes (RFC 1812 §4.3.2.3), and at least
         * the header plus 8 bytes (RFC 792). */
        size_t want = orig < 548 ? orig : 548;
        assert_true(p->ip.total_len <= 576);
        assert_int_equal(p->ip.total_len, NS_IP4_HLEN + NS_ICMP_HLEN + want);
        assert_int_equal(p->icmp.payload_len, want);
        assert_memory_equal(p->icmp.payload, g_f + NS_ETH_HLEN, want);
    }
    /* A 60-byte header with options: still within 576. */
    uint8_t opts[40], payload[1400];
    memset(opts, 1, sizeof(opts));
    fill(payload, sizeof(payload), 8);
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, OUR_IP, PROTO_UNKNOWN);
    size_t n = fr_eth(g_f, us, PEER_MAC, NS_ETHERTYPE_IPV4);
    n += fr_ip4(g_f + n, &ip, opts, sizeof(opts), payload, sizeof(payload));
    tb_rx(tb, 1, g_f, n, 3000);
    const struct fr_pkt *p = tb_take(tb, 1);
    assert_non_null(p);
    assert_int_equal(p->ip.total_len, 576);
    assert_memory_equal(p->icmp.payload, g_f + NS_ETH_HLEN, 548);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_reply),
        cmocka_unit_test(test_echo_to_broadcast_ignored),
        cmocka_unit_test(test_bad_icmp_dropped),
        cmocka_unit_test(test_no_error_about_icmp_errors),
        cmocka_unit_test(test_no_error_about_non_first_fragment),
        cmocka_unit_test(test_no_error_about_broadcast_or_martian),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_rate_limit_under_flood),
        cmocka_unit_test(test_quote_capped_at_576),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
