/* tests/unit/test_ip4.c — IPv4 input checks, local delivery, forwarding,
 * output fragmentation and routing, driven through queue devices.
 *
 * Host bench: 192.0.2.1/24 on interface 1; the peer 192.0.2.10 is known.
 * Router bench: interface 1 192.0.2.1/24 (MTU 1500) toward host A
 * 192.0.2.10, interface 2 198.51.100.1/24 (MTU 1000) toward host B
 * 198.51.100.20, forwarding on. Every drop must be counted under its own
 * counter (STYLE §7) and nothing else may move.
 */
#include <errno.h>
#include <string.h>

#include "frames.h"

#define US_S 1000000ull
#define OUR_IP FR_IP(192, 0, 2, 1)
#define PEER_IP FR_IP(192, 0, 2, 10)
#define R2_IP FR_IP(198, 51, 100, 1)
#define B_IP FR_IP(198, 51, 100, 20)

static const uint8_t PEER_MAC[6] = {0x02, 0xaa, 0, 0, 0, 0x0a};
static const uint8_t B_MAC[6] = {0x02, 0xbb, 0, 0, 0, 0x14};

static uint8_t g_f[FR_MAX], g_g[FR_MAX];

static struct tb *host_bench(uint32_t mtu)
{
    struct tb *tb = tb_new(NULL, 0);
    tb_add_if(tb, mtu, OUR_IP, 24);
    tb_learn(tb, 1, PEER_IP, PEER_MAC, 1000);
    return tb;
}

static struct tb *router_bench(bool forwarding)
{
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.ip_forward = forwarding;
    struct tb *tb = tb_new(&cfg, 0);
    tb_add_if(tb, 1500, OUR_IP, 24);
    tb_add_if(tb, 1000, R2_IP, 24);
    tb_learn(tb, 1, PEER_IP, PEER_MAC, 1000);
    tb_learn(tb, 2, B_IP, B_MAC, 1000);
    return tb;
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 13 + seed * 7 + (i >> 8));
}

/* Recompute the header checksum of the IPv4 header at ip (IHL as set,
 * clipped to avail bytes). */
static void fix_csum(uint8_t *ip, size_t avail)
{
    size_t hlen = (size_t)(ip[0] & 0xf) * 4;
    if (hlen > avail)
        hlen = avail;
    ns_wr16(ip + 10, 0);
    ns_wr16(ip + 10, ns_csum(ip, hlen));
}

/* Inject a frame on if 1 at t; then exactly these counters moved by one:
 * dev_rx_frames, the optional c1 (e.g. ip_rx) and c2 (the drop reason).
 * Nothing left any interface. */
static void expect_drop(struct tb *tb, const uint8_t *f, size_t n, uint64_t t, int c1, int c2)
{
    uint64_t before[NS_CTR__COUNT], after[NS_CTR__COUNT];
    ns_stack_counters(tb->st, before);
    tb_rx(tb, 1, f, n, t);
    ns_stack_counters(tb->st, after);
    tb_assert_quiet(tb);
    for (int i = 0; i < NS_CTR__COUNT; i++) {
        uint64_t want = before[i] + (i == NS_CTR_dev_rx_frames) + (i == c1) + (i == c2);
        if (after[i] != want)
            fail_msg("counter %s: %llu, want %llu", ns_counter_name((enum ns_counter)i),
                     (unsigned long long)after[i], (unsigned long long)want);
    }
}

/* The next frame on ifx must be an echo reply to PEER for (id, seq, data). */
static void expect_echo_reply(struct tb *tb, int ifx, const uint8_t mac[6], uint32_t to,
                              uint16_t id, uint16_t seq, const uint8_t *data, size_t len)
{
    uint8_t us[6];
    tb_mac(ifx, us);
    const struct fr_pkt *p = tb_take(tb, ifx);
    assert_non_null(p);
    assert_true(p->is_icmp);
    assert_memory_equal(p->eth.dst, mac, 6);
    assert_memory_equal(p->eth.src, us, 6);
    assert_int_equal(p->ip.hlen, NS_IP4_HLEN);
    assert_int_equal(p->ip.dst, to);
    assert_int_equal(p->icmp.type, NS_ICMP_ECHO_REPLY);
    assert_int_equal(p->icmp.code, 0);
    assert_int_equal(p->icmp.id, id);
    assert_int_equal(p->icmp.seq, seq);
    assert_int_equal(p->icmp.payload_len, len);
    if (len)
        assert_memory_equal(p->icmp.payload, data, len);
}

/* ---- input validation ---------------------------------------------------------- */

static void test_malformed_ipv4_dropped_and_counted(void **state)
{
    (void)state;
    struct tb *tb = host_bench(1500);
    uint8_t data[32];
    fill(data, sizeof(data), 1);
    const size_t n = fr_echo_frame(g_g, tb->dev[1]->hwaddr, PEER_MAC, PEER_IP, OUR_IP,
                                   NS_ICMP_ECHO, 1, 1, data, sizeof(data));
    uint8_t *ip = g_f + NS_ETH_HLEN;
    uint64_t t = 2000;

    /* The unmodified frame is answered (the cases below differ by one field). */
    tb_rx(tb, 1, g_g, n, t += 10);
    expect_echo_reply(tb, 1, PEER_MAC, PEER_IP, 1, 1, data, sizeof(data));

    /* 19 bytes of IPv4. */
    memcpy(g_f, g_g, n);
    expect_drop(tb, g_f, NS_ETH_HLEN + 19, t += 10, NS_CTR_ip_rx, NS_CTR_ip_drop_short);
    /* Version 6 in an IPv4 EtherType (RFC 1122 §3.2.1.1). */
    memcpy(g_f, g_g, n);
    ip[0] = 0x65;
    fix_csum(ip, n - NS_ETH_HLEN);
    expect_drop(tb, g_f, n, t += 10, NS_CTR_ip_rx, NS_CTR_ip_drop_bad_version);
    /* IHL 4 (16 bytes). */
    memcpy(g_f, g_g, n);
    ip[0] = 0x44;
    fix_csum(ip, n - NS_ETH_HLEN);
    expect_drop(tb, g_f, n, t += 10, NS_CTR_ip_rx, NS_CTR_ip_drop_bad_hlen);
    /* IHL 15 (60 bytes) in a 40-byte packet. */
    memcpy(g_f, g_g, n);
    ip[0] = 0x4f;
    ns_wr16(ip + 2, 40);
    fix_csum(ip, 40);
    expect_drop(tb, g_f, NS_ETH_HLEN + 40, t += 10, NS_CTR_ip_rx, NS_CTR_ip_drop_bad_hlen);
    /* total_len < IHL*4. */
    memcpy(g_f, g_g, n);
    ns_wr16(ip + 2, 19);
    fix_csum(ip, n - NS_ETH_HLEN);
    expect_drop(tb, g_f, n, t += 10, NS_CTR_ip_rx, NS_CTR_ip_drop_bad_len);
    /* total_len one more than the frame carries. */
    memcpy(g_f, g_g, n);
    ns_wr16(ip + 2, (uint16_t)(n - NS_ETH_HLEN + 1));
    fix_csum(ip, n - NS_ETH_HLEN);
    expect_drop(tb, g_f, n, t += 10, NS_CTR_ip_rx, NS_CTR_ip_drop_bad_len);
    /* Bad header checksum (RFC 1122 §3.2.1.2). */
    memcpy(g_f, g_g, n);
    ip[10] ^= 0x01;
    expect_drop(tb, g_f, n, t += 10, NS_CTR_ip_rx, NS_CTR_ip_drop_bad_csum);
    /* A header bit flip the checksum catches (TTL). */
    memcpy(g_f, g_g, n);
    ip[8] ^= 0x40;
    expect_drop(tb, g_f, n, t += 10, NS_CTR_ip_rx, NS_CTR_ip_drop_bad_csum);

    /* Martian sources (RFC 1122 §3.2.1.3): multicast, limited and
     * directed broadcast, loopback. */
    static const uint32_t martians[] = {FR_IP(224, 0, 0, 5), FR_IP(239, 1, 2, 3), 0xffffffffu,
                                        FR_IP(192, 0, 2, 255), FR_IP(127, 0, 0, 1),
                                        FR_IP(127, 9, 9, 9)};
    for (size_t i = 0; i < sizeof(martians) / sizeof(martians[0]); i++) {
        size_t m = fr_echo_frame(g_f, tb->dev[1]->hwaddr, PEER_MAC, martians[i], OUR_IP,
                                 NS_ICMP_ECHO, 1, 2, data, sizeof(data));
        expect_drop(tb, g_f, m, t += 10, NS_CTR_ip_rx, NS_CTR_ip_drop_bad_src);
    }

    /* Link layer: another unicast MAC; an unknown EtherType; a runt. */
    static const uint8_t other[6] = {0x02, 0, 0, 0, 9, 9};
    memcpy(g_f, g_g, n);
    memcpy(g_f, other, 6);
    expect_drop(tb, g_f, n, t += 10, -1, NS_CTR_eth_drop_not_for_us);
    memcpy(g_f, g_g, n);
    ns_wr16(g_f + 12, 0x88b5);
    expect_drop(tb, g_f, n, t += 10, -1, NS_CTR_eth_drop_unknown_type);
    expect_drop(tb, g_g, NS_ETH_HLEN - 1, t += 10, -1, NS_CTR_eth_drop_short);
    /* A multicast destination we did not join. */
    static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    memcpy(g_f, g_g, n);
    memcpy(g_f, mcast, 6);
    expect_drop(tb, g_f, n, t += 10, -1, NS_CTR_eth_drop_not_for_us);

    assert_int_equal(CTR(tb, icmp_rx), 1);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* ip4_is_broadcast: the limited broadcast and each address's directed
 * broadcast (all host bits set), none for /31 and /32 (RFC 3021); the
 * quick test on the two lowest bits must not hide any of them. */
static void test_directed_broadcasts(void **state)
{
    (void)state;
    struct tb *tb = host_bench(1500); /* 192.0.2.1/24 */
    struct { uint32_t a; unsigned plen; } addrs[] = {
        {FR_IP(198, 18, 0, 1), 30}, {FR_IP(198, 18, 1, 9), 29}, {FR_IP(198, 18, 2, 4), 31},
        {FR_IP(198, 18, 3, 7), 32}};
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        struct in_addr in = {.s_addr = htonl(addrs[i].a)};
        assert_int_equal(ns_if_addr_add(tb->st, 1, AF_INET, &in, addrs[i].plen), 0);
    }
    static const struct { uint32_t a; bool bcast; } cases[] = {
        {0xffffffffu, true},           {FR_IP(192, 0, 2, 255), true},
        {FR_IP(192, 0, 2, 254), false}, {FR_IP(192, 0, 2, 127), false},
        {FR_IP(198, 18, 0, 3), true},  {FR_IP(198, 18, 0, 2), false},
        {FR_IP(198, 18, 0, 7), false}, {FR_IP(198, 18, 1, 15), true},
        {FR_IP(198, 18, 1, 11), false}, {FR_IP(198, 18, 2, 5), false},
        {FR_IP(198, 18, 3, 7), false}, {FR_IP(198, 18, 3, 255), false},
        {FR_IP(127, 255, 255, 255), true}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(ip4_is_broadcast(tb->st, cases[i].a), cases[i].bcast);
    tb_free(tb);
}

static void test_ethernet_padding_trimmed(void **state)
{
    (void)state;
    struct tb *tb = host_bench(1500);
    /* Echo requests of 0..17 payload bytes are shorter than Ethernet's 60
     * byte minimum: the frame carries padding after total_len, which must
     * not become part of the datagram (its ICMP checksum would fail, or the
     * reply would echo the padding). */
    for (size_t len = 0; len <= 17; len++) {
        uint8_t data[17];
        fill(data, len, (unsigned)len);
        size_t n = fr_echo_frame(g_f, tb->dev[1]->hwaddr, PEER_MAC, PEER_IP, OUR_IP,
                                 NS_ICMP_ECHO, 0x4242, (uint16_t)len, data, len);
        assert_true(n < 60);
        memset(g_f + n, 0xa5, 60 - n);
        tb_rx(tb, 1, g_f, 60, 2000 + len);
        expect_echo_reply(tb, 1, PEER_MAC, PEER_IP, 0x4242, (uint16_t)len, data, len);
        assert_int_equal(tb->pkt.ip.total_len, NS_IP4_HLEN + NS_ICMP_HLEN + len);
    }
    assert_int_equal(CTR(tb, icmp_drop_bad_csum), 0);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_options_skipped(void **state)
{
    (void)state;
    struct tb *tb = host_bench(1500);
    /* An unknown option (RFC 1122 §3.2.1.8: ignore it), NOPs, and a
     * 40-byte option area full of NOPs ending in EOL. */
    static const uint8_t opts8[8] = {0x9e, 4, 0xde, 0xad, 1, 1, 1, 0};
    uint8_t opts40[40];
    memset(opts40, 1, sizeof(opts40));
    opts40[39] = 0;
    const uint8_t *opts[2] = {opts8, opts40};
    const size_t olen[2] = {sizeof(opts8), sizeof(opts40)};
    uint8_t data[100], icmp[200];
    fill(data, sizeof(data), 3);
    for (int k = 0; k < 2; k++) {
        size_t ilen = fr_icmp_echo(icmp, NS_ICMP_ECHO, 9, (uint16_t)k, data, sizeof(data));
        struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, OUR_IP, NS_IPPROTO_ICMP);
        size_t n = fr_eth(g_f, tb->dev[1]->hwaddr, PEER_MAC, NS_ETHERTYPE_IPV4);
        n += fr_ip4(g_f + n, &ip, opts[k], olen[k], icmp, ilen);
        tb_rx(tb, 1, g_f, n, 2000 + (uint64_t)k);
        expect_echo_reply(tb, 1, PEER_MAC, PEER_IP, 9, (uint16_t)k, data, sizeof(data));
        assert_null(tb_take(tb, 1));
    }
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_unknown_protocol_gets_protocol_unreachable(void **state)
{
    (void)state;
    struct tb *tb = host_bench(1500);
    uint8_t payload[64];
    fill(payload, sizeof(payload), 5);
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, OUR_IP, 253); /* RFC 3692 experimental */
    size_t n = fr_ip4_frame(g_f, tb->dev[1]->hwaddr, PEER_MAC, &ip, payload, sizeof(payload));
    tb_rx(tb, 1, g_f, n, 2000);

    const struct fr_pkt *p = tb_take(tb, 1);
    assert_non_null(p);
    assert_true(p->is_icmp);
    assert_memory_equal(p->eth.dst, PEER_MAC, 6);
    assert_int_equal(p->ip.src, OUR_IP);
    assert_int_equal(p->ip.dst, PEER_IP);
    assert_int_equal(p->icmp.type, NS_ICMP_DEST_UNREACH);
    assert_int_equal(p->icmp.code, NS_ICMP_PROT_UNREACH);
    assert_int_equal(p->icmp.rest, 0);
    /* RFC 792: the quote starts with the offending header; this short
     * datagram is quoted whole. */
    assert_int_equal(p->icmp.payload_len, n - NS_ETH_HLEN);
    assert_memory_equal(p->icmp.payload, g_f + NS_ETH_HLEN, n - NS_ETH_HLEN);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, ip_drop_unknown_proto), 1);
    assert_int_equal(CTR(tb, ip_delivered), 0);
    assert_int_equal(CTR(tb, icmp_tx_unreach), 1);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* ---- forwarding ------------------------------------------------------------------- */

static void test_forward_decrements_ttl_incremental_checksum(void **state)
{
    (void)state;
    struct tb *tb = router_bench(true);
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x1f0d));
    uint8_t data[64], us2[6];
    tb_mac(2, us2);
    uint64_t t = 2000;
    /* Every TTL from 2 to 255, with random IDs and TOS so the checksum
     * update meets every carry pattern (RFC 1624). */
    for (unsigned i = 0; i < 2000; i++) {
        struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, B_IP, NS_IPPROTO_ICMP);
        ip.ttl = (uint8_t)(2 + i % 254);
        ip.id = (uint16_t)ns_rng_next(&rng);
        ip.tos = (uint8_t)ns_rng_next(&rng);
        ip.df = ns_rng_below(&rng, 2);
        size_t len = ns_rng_below(&rng, sizeof(data));
        fill(data, len, i);
        size_t n = fr_echo_frame_ip(g_f, tb->dev[1]->hwaddr, PEER_MAC, &ip, NS_ICMP_ECHO, 3,
                                    (uint16_t)i, data, len);
        tb_rx(tb, 1, g_f, n, t += 10);
        const struct fr_pkt *p = tb_take(tb, 2);
        NS_ASSERT_SEED(p != NULL);
        NS_ASSERT_SEED(memcmp(p->eth.dst, B_MAC, 6) == 0 && memcmp(p->eth.src, us2, 6) == 0);
        NS_ASSERT_SEED(p->len == n);
        NS_ASSERT_SEED(p->ip.ttl == ip.ttl - 1); /* fr_parse verified the checksum */
        /* Byte for byte the same packet but TTL and checksum, and the
         * checksum is what a fresh computation gives. */
        uint8_t want[NS_IP4_HLEN];
        memcpy(want, g_f + NS_ETH_HLEN, NS_IP4_HLEN);
        want[8]--;
        fix_csum(want, NS_IP4_HLEN);
        NS_ASSERT_SEED(memcmp(p->ip_hdr, want, NS_IP4_HLEN) == 0);
        NS_ASSERT_SEED(memcmp(p->l4, g_f + NS_ETH_HLEN + NS_IP4_HLEN, n - 34) == 0);
        NS_ASSERT_SEED(tb_pending(tb, 1) == 0);
    }
    assert_int_equal(CTR(tb, ip_forwarded), 2000);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* The next frame on if 1 must be an ICMP error (type, code) to host A,
 * from 192.0.2.1, quoting `orig` (an IPv4 packet of olen bytes). */
static const struct fr_pkt *expect_error_to_a(struct tb *tb, uint8_t type, uint8_t code,
                                              const uint8_t *orig, size_t olen)
{
    const struct fr_pkt *p = tb_take(tb, 1);
    assert_non_null(p);
    assert_true(p->is_icmp);
    assert_memory_equal(p->eth.dst, PEER_MAC, 6);
    assert_int_equal(p->ip.src, OUR_IP);
    assert_int_equal(p->ip.dst, PEER_IP);
    assert_int_equal(p->icmp.type, type);
    assert_int_equal(p->icmp.code, code);
    size_t q = olen < 548 ? olen : 548;
    assert_int_equal(p->icmp.payload_len, q);
    assert_memory_equal(p->icmp.payload, orig, q);
    assert_null(tb_take(tb, 1));
    return p;
}

static void test_forward_errors(void **state)
{
    (void)state;
    struct tb *tb = router_bench(true);
    uint8_t data[1400];
    fill(data, sizeof(data), 9);
    uint64_t t = 2000;

    /* TTL 1 and TTL 0: time exceeded in transit (RFC 1812 §5.3.1),
     * quoting the packet as it arrived. */
    for (uint8_t ttl = 0; ttl <= 1; ttl++) {
        struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, B_IP, NS_IPPROTO_ICMP);
        ip.ttl = ttl;
        size_t n = fr_echo_frame_ip(g_f, tb->dev[1]->hwaddr, PEER_MAC, &ip, NS_ICMP_ECHO, 1, 1,
                                    data, 56);
        tb_rx(tb, 1, g_f, n, t += 10);
        expect_error_to_a(tb, NS_ICMP_TIME_EXCEEDED, NS_ICMP_EXC_TTL, g_f + NS_ETH_HLEN,
                          n - NS_ETH_HLEN);
        assert_int_equal(tb_pending(tb, 2), 0);
    }
    assert_int_equal(CTR(tb, ip_drop_ttl), 2);

    /* DF and too big for the 1000-byte MTU toward B: fragmentation needed
     * with the next-hop MTU (RFC 1191 §4). */
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, B_IP, NS_IPPROTO_ICMP);
    ip.df = true;
    size_t n = fr_echo_frame_ip(g_f, tb->dev[1]->hwaddr, PEER_MAC, &ip, NS_ICMP_ECHO, 1, 2, data,
                                1000 - 28 + 1);
    tb_rx(tb, 1, g_f, n, t += 10);
    const struct fr_pkt *p = expect_error_to_a(tb, NS_ICMP_DEST_UNREACH, NS_ICMP_FRAG_NEEDED,
                                               g_f + NS_ETH_HLEN, n - NS_ETH_HLEN);
    assert_int_equal(p->icmp.next_mtu, 1000);
    assert_int_equal(p->icmp.rest, 1000); /* high 16 bits unused, zero */
    assert_int_equal(tb_pending(tb, 2), 0);
    assert_int_equal(CTR(tb, ip_drop_df), 1);

    /* Exactly the MTU with DF passes. */
    n = fr_echo_frame_ip(g_f, tb->dev[1]->hwaddr, PEER_MAC, &ip, NS_ICMP_ECHO, 1, 3, data,
                         1000 - 28);
    tb_rx(tb, 1, g_f, n, t += 10);
    p = tb_take(tb, 2);
    assert_non_null(p);
    assert_int_equal(p->ip.total_len, 1000);
    assert_null(tb_take(tb, 1));

    /* No route: network unreachable. */
    ip = fr_ip4_hdr(PEER_IP, FR_IP(203, 0, 113, 5), NS_IPPROTO_ICMP);
    n = fr_echo_frame_ip(g_f, tb->dev[1]->hwaddr, PEER_MAC, &ip, NS_ICMP_ECHO, 1, 4, data, 56);
    tb_rx(tb, 1, g_f, n, t += 10);
    expect_error_to_a(tb, NS_ICMP_DEST_UNREACH, NS_ICMP_NET_UNREACH, g_f + NS_ETH_HLEN,
                      n - NS_ETH_HLEN);
    assert_int_equal(CTR(tb, ip_drop_no_route), 1);

    /* A link-layer broadcast is never forwarded (RFC 1812 §5.3.4), and
     * earns no error either. */
    ip = fr_ip4_hdr(PEER_IP, B_IP, NS_IPPROTO_ICMP);
    n = fr_echo_frame_ip(g_f, fr_mac_bcast, PEER_MAC, &ip, NS_ICMP_ECHO, 1, 5, data, 56);
    expect_drop(tb, g_f, n, t += 10, NS_CTR_ip_rx, NS_CTR_ip_drop_not_for_us);

    assert_int_equal(CTR(tb, ip_forwarded), 1);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_forward_fragments_to_smaller_mtu(void **state)
{
    (void)state;
    struct tb *tb = router_bench(true);
    uint8_t data[1400];
    fill(data, sizeof(data), 11);
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, B_IP, NS_IPPROTO_ICMP);
    ip.id = 0xbeef;
    size_t n = fr_echo_frame_ip(g_f, tb->dev[1]->hwaddr, PEER_MAC, &ip, NS_ICMP_ECHO, 1, 1, data,
                                sizeof(data));
    tb_rx(tb, 1, g_f, n, 2000);
    /* 1428 bytes into a 1000-byte MTU: 976 + 432 data bytes. */
    const struct fr_pkt *p = tb_take(tb, 2);
    assert_non_null(p);
    assert_int_equal(p->ip.total_len, 996);
    assert_true(p->ip.mf);
    assert_int_equal(p->ip.frag_off, 0);
    assert_int_equal(p->ip.ttl, 63);
    assert_int_equal(p->ip.id, 0xbeef);
    assert_memory_equal(p->l4, g_f + 34, 976);
    p = tb_take(tb, 2);
    assert_non_null(p);
    assert_int_equal(p->ip.total_len, 20 + 1408 - 976);
    assert_false(p->ip.mf);
    assert_int_equal(p->ip.frag_off, 976);
    assert_int_equal(p->ip.id, 0xbeef);
    assert_memory_equal(p->l4, g_f + 34 + 976, 1408 - 976);
    assert_null(tb_take(tb, 2));
    assert_int_equal(CTR(tb, ip_forwarded), 1);
    assert_int_equal(CTR(tb, ip_frag_created), 2);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_forwarding_off_drops(void **state)
{
    (void)state;
    struct tb *tb = router_bench(false);
    uint8_t data[56];
    fill(data, sizeof(data), 1);
    size_t n = fr_echo_frame(g_f, tb->dev[1]->hwaddr, PEER_MAC, PEER_IP, B_IP, NS_ICMP_ECHO, 1,
                             1, data, sizeof(data));
    expect_drop(tb, g_f, n, 2000, NS_CTR_ip_rx, NS_CTR_ip_drop_not_for_us);
    /* Even with TTL 1: a host says nothing about packets not for it. */
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, B_IP, NS_IPPROTO_ICMP);
    ip.ttl = 1;
    n = fr_echo_frame_ip(g_f, tb->dev[1]->hwaddr, PEER_MAC, &ip, NS_ICMP_ECHO, 1, 2, data,
                         sizeof(data));
    expect_drop(tb, g_f, n, 3000, NS_CTR_ip_rx, NS_CTR_ip_drop_not_for_us);
    /* Switched on at run time, the same packet goes through. */
    ns_stack_set_forwarding(tb->st, true);
    n = fr_echo_frame(g_f, tb->dev[1]->hwaddr, PEER_MAC, PEER_IP, B_IP, NS_ICMP_ECHO, 1, 3, data,
                      sizeof(data));
    tb_rx(tb, 1, g_f, n, 4000);
    assert_non_null(tb_take(tb, 2));
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* ---- output fragmentation ------------------------------------------------------------ */

/* Take fragments from ifx until the one without MF; check RFC 791 rules
 * and return the reassembled IPv4 payload length (into out) and the
 * header of the first fragment. */
static size_t take_fragments(struct tb *tb, int ifx, uint32_t mtu, uint8_t *out,
                             struct ns_ip4_repr *first)
{
    size_t next_off = 0;
    unsigned count = 0;
    for (;;) {
        const struct fr_pkt *p = tb_take(tb, ifx);
        assert_non_null(p);
        assert_true(p->is_ip);
        assert_true(p->ip.total_len <= mtu);
        if (count == 0)
            *first = p->ip;
        assert_int_equal(p->ip.id, first->id);
        assert_int_equal(p->ip.src, first->src);
        assert_int_equal(p->ip.dst, first->dst);
        assert_int_equal(p->ip.proto, first->proto);
        assert_false(p->ip.df);
        assert_int_equal(p->ip.frag_off, next_off); /* in order, no gap, no overlap */
        memcpy(out + next_off, p->l4, p->l4_len);
        next_off += p->l4_len;
        count++;
        if (!p->ip.mf)
            break;
        /* Every fragment but the last carries a multiple of 8 bytes, and
         * as many as fit. */
        assert_int_equal(p->l4_len % 8, 0);
        assert_true((uint32_t)p->ip.total_len + 8 > mtu);
    }
    assert_true(count > 1);
    return next_off;
}

static void test_output_fragmentation(void **state)
{
    (void)state;
    const uint32_t mtu = 576;
    struct tb *tb = host_bench(mtu);
    static uint8_t data[4000], dgram[FR_MAX];
    fill(data, sizeof(data), 21);

    /* An echo request of 4008 ICMP bytes arrives in three 1480-byte-ish
     * fragments; the reply leaves in fragments that fit 576. */
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, OUR_IP, NS_IPPROTO_ICMP);
    ip.id = 0x5151;
    size_t ilen = fr_icmp_echo(dgram, NS_ICMP_ECHO, 0x99, 7, data, sizeof(data));
    struct fr_piece pc[8];
    unsigned np = fr_split((uint32_t)ilen, 1480, pc, 8);
    for (unsigned i = 0; i < np; i++) {
        size_t n = fr_frag_frame(g_f, tb->dev[1]->hwaddr, PEER_MAC, &ip, dgram, pc[i].off,
                                 pc[i].len, i + 1 < np);
        tb_rx(tb, 1, g_f, n, 2000 + i);
    }
    assert_int_equal(CTR(tb, ip_reass_ok), 1);
    struct ns_ip4_repr first;
    static uint8_t got[FR_MAX];
    size_t len = take_fragments(tb, 1, mtu, got, &first);
    assert_null(tb_take(tb, 1));
    assert_int_equal(len, ilen);
    assert_int_equal(first.src, OUR_IP);
    assert_int_equal(first.dst, PEER_IP);
    struct ns_icmp4_repr r;
    assert_int_equal(ns_icmp4_parse(got, len, &r, true), 0);
    assert_int_equal(r.type, NS_ICMP_ECHO_REPLY);
    assert_int_equal(r.id, 0x99);
    assert_int_equal(r.seq, 7);
    assert_int_equal(r.payload_len, sizeof(data));
    assert_memory_equal(r.payload, data, sizeof(data));
    assert_int_equal(CTR(tb, ip_frag_ok), 1);

    /* Our own large ping fragments the same way (odd length tail). */
    tb_poll(tb, 3000);
    assert_int_equal(tb_ping(tb, PEER_IP, 0x12, 1, data, 2999), 0);
    len = take_fragments(tb, 1, mtu, got, &first);
    assert_null(tb_take(tb, 1));
    assert_int_equal(len, 8 + 2999);
    assert_int_equal(ns_icmp4_parse(got, len, &r, true), 0);
    assert_int_equal(r.type, NS_ICMP_ECHO);
    assert_memory_equal(r.payload, data, 2999);
    /* A different datagram: a different ID. */
    assert_int_not_equal(first.id, 0x5151);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* ---- routing ------------------------------------------------------------------------ */

static void test_routing_longest_prefix_and_gateways(void **state)
{
    (void)state;
    struct tb *tb = host_bench(1500);
    static const uint8_t GW1_MAC[6] = {0x02, 0xcc, 0, 0, 0, 0xfe};
    static const uint8_t GW2_MAC[6] = {0x02, 0xcc, 0, 0, 0, 0xfd};
    const uint32_t gw1 = FR_IP(192, 0, 2, 254), gw2 = FR_IP(192, 0, 2, 253);
    struct in_addr net8 = {htonl(FR_IP(10, 0, 0, 0))}, net16 = {htonl(FR_IP(10, 1, 0, 0))};
    struct in_addr g1 = {htonl(gw1)}, g2 = {htonl(gw2)};
    struct in_addr offlink = {htonl(FR_IP(198, 51, 100, 1))};
    struct in_addr via_gw = {htonl(FR_IP(10, 0, 0, 1))};
    uint8_t f[64], us[6];
    tb_mac(1, us);

    assert_int_equal(ns_route_add(tb->st, AF_INET, &net8, 8, &g1, 0), 0);
    assert_int_equal(ns_route_add(tb->st, AF_INET, &net16, 16, &g2, 0), 0);
    assert_int_equal(ns_route_add(tb->st, AF_INET, &net16, 16, &g1, 0), -EEXIST);
    /* A gateway must be on a connected network: not off-link, not behind
     * another gateway. */
    struct in_addr net24 = {htonl(FR_IP(10, 2, 3, 0))};
    assert_int_equal(ns_route_add(tb->st, AF_INET, &net24, 24, &offlink, 0), -ENETUNREACH);
    assert_int_equal(ns_route_add(tb->st, AF_INET, &net24, 24, &via_gw, 0), -ENETUNREACH);

    /* 10.1.2.3 matches /8 and /16: the /16's gateway is ARPed, not 10.1.2.3. */
    tb_poll(tb, 2000);
    assert_int_equal(tb_ping(tb, FR_IP(10, 1, 2, 3), 1, 1, "x", 1), 0);
    const struct fr_pkt *p = tb_take(tb, 1);
    assert_non_null(p);
    assert_true(p->is_arp && p->arp.op == NS_ARP_OP_REQUEST);
    assert_int_equal(p->arp.tpa, gw2);
    size_t n = fr_arp_reply(f, GW2_MAC, gw2, us, OUR_IP);
    tb_rx(tb, 1, f, n, 2100);
    p = tb_take(tb, 1);
    assert_non_null(p);
    assert_true(p->is_icmp);
    assert_memory_equal(p->eth.dst, GW2_MAC, 6);
    assert_int_equal(p->ip.dst, FR_IP(10, 1, 2, 3));

    /* 10.9.9.9 matches only the /8. */
    assert_int_equal(tb_ping(tb, FR_IP(10, 9, 9, 9), 1, 2, "x", 1), 0);
    p = tb_take(tb, 1);
    assert_non_null(p);
    assert_true(p->is_arp);
    assert_int_equal(p->arp.tpa, gw1);
    n = fr_arp_reply(f, GW1_MAC, gw1, us, OUR_IP);
    tb_rx(tb, 1, f, n, 2200);
    p = tb_take(tb, 1);
    assert_non_null(p);
    assert_memory_equal(p->eth.dst, GW1_MAC, 6);
    assert_int_equal(p->ip.dst, FR_IP(10, 9, 9, 9));

    /* On-link destinations go direct. */
    assert_int_equal(tb_ping(tb, PEER_IP, 1, 3, "x", 1), 0);
    p = tb_take(tb, 1);
    assert_non_null(p);
    assert_memory_equal(p->eth.dst, PEER_MAC, 6);

    /* Without the /16, 10.1.2.3 falls back to the /8. */
    assert_int_equal(ns_route_del(tb->st, AF_INET, &net16, 16), 0);
    assert_int_equal(ns_route_del(tb->st, AF_INET, &net16, 16), -ESRCH);
    assert_int_equal(tb_ping(tb, FR_IP(10, 1, 2, 3), 1, 4, "x", 1), 0);
    p = tb_take(tb, 1);
    assert_non_null(p);
    assert_true(p->is_icmp);
    assert_memory_equal(p->eth.dst, GW1_MAC, 6);

    /* Without any route: refused and counted, nothing sent. */
    assert_int_equal(ns_route_del(tb->st, AF_INET, &net8, 8), 0);
    uint64_t before = CTR(tb, ip_drop_no_route);
    assert_int_equal(tb_ping(tb, FR_IP(10, 1, 2, 3), 1, 5, "x", 1), -ENETUNREACH);
    assert_int_equal(CTR(tb, ip_drop_no_route), before + 1);
    assert_null(tb_take(tb, 1));

    /* A default route catches everything else. */
    struct in_addr any = {0};
    assert_int_equal(ns_route_add(tb->st, AF_INET, &any, 0, &g2, 0), 0);
    assert_int_equal(tb_ping(tb, FR_IP(203, 0, 113, 1), 1, 6, "x", 1), 0);
    p = tb_take(tb, 1);
    assert_non_null(p);
    assert_memory_equal(p->eth.dst, GW2_MAC, 6);
    assert_null(tb_take(tb, 1));
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_ipv4_dropped_and_counted),
        cmocka_unit_test(test_directed_broadcasts),
        cmocka_unit_test(test_ethernet_padding_trimmed),
        cmocka_unit_test(test_options_skipped),
        cmocka_unit_test(test_unknown_protocol_gets_protocol_unreachable),
        cmocka_unit_test(test_forward_decrements_ttl_incremental_checksum),
        cmocka_unit_test(test_forward_errors),
        cmocka_unit_test(test_forward_fragments_to_smaller_mtu),
        cmocka_unit_test(test_forwarding_off_drops),
        cmocka_unit_test(test_output_fragmentation),
        cmocka_unit_test(test_routing_longest_prefix_and_gateways),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
