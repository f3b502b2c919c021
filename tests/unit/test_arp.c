/* tests/unit/test_arp.c — ARP (RFC 826) and the neighbour cache, driven
 * through a queue device: "at time T this frame arrives; these leave".
 *
 * The bench is one stack, 192.0.2.1/24 on interface 1 (MAC
 * 02:00:00:00:01:01); peers are 192.0.2.10.. with MACs 02:aa:00:00:00:nn.
 * Policies checked are the ones docs/architecture.md states: RFC 826
 * merge, entries created only when we are the target, bounded hold queue
 * dropping the oldest, arp_retries requests arp_retry_us apart, unicast
 * re-confirmation once stale, idle removal, LRU eviction, RFC 5227
 * announcements.
 */
#include <errno.h>
#include <string.h>

#include "frames.h"

#define US_S 1000000ull
#define OUR_IP FR_IP(192, 0, 2, 1)
#define PEER_IP FR_IP(192, 0, 2, 10)

static const uint8_t PEER_MAC[6] = {0x02, 0xaa, 0, 0, 0, 0x0a};
static const uint8_t PEER_MAC2[6] = {0x02, 0xaa, 0, 0, 0, 0xbb};

static struct tb *bench(const struct ns_config *cfg)
{
    struct tb *tb = tb_new(cfg, 0);
    tb_add_if(tb, 1500, OUR_IP, 24);
    return tb;
}

/* Check that the next frame on if 1 is an ARP request for tpa, broadcast
 * (dst NULL) or unicast to dst, from us. */
static void expect_request(struct tb *tb, uint32_t tpa, const uint8_t *dst)
{
    uint8_t us[6];
    tb_mac(1, us);
    const struct fr_pkt *p = tb_take(tb, 1);
    assert_non_null(p);
    assert_true(p->is_arp);
    assert_int_equal(p->arp.op, NS_ARP_OP_REQUEST);
    assert_memory_equal(p->eth.dst, dst ? dst : fr_mac_bcast, 6);
    assert_memory_equal(p->eth.src, us, 6);
    assert_memory_equal(p->arp.sha, us, 6);
    assert_int_equal(p->arp.spa, OUR_IP);
    assert_int_equal(p->arp.tpa, tpa);
}

/* Check that the next frame on if 1 is our echo request seq to dst_mac. */
static void expect_ping(struct tb *tb, const uint8_t dst_mac[6], uint32_t dst, uint16_t seq)
{
    const struct fr_pkt *p = tb_take(tb, 1);
    assert_non_null(p);
    assert_true(p->is_icmp);
    assert_memory_equal(p->eth.dst, dst_mac, 6);
    assert_int_equal(p->ip.dst, dst);
    assert_int_equal(p->ip.src, OUR_IP);
    assert_int_equal(p->icmp.type, NS_ICMP_ECHO);
    assert_int_equal(p->icmp.seq, seq);
}

static void ping_at(struct tb *tb, uint64_t t, uint32_t dst, uint16_t seq)
{
    tb_poll(tb, t);
    uint8_t data[4] = {(uint8_t)(seq >> 8), (uint8_t)seq, 0xab, 0xcd};
    assert_int_equal(tb_ping(tb, dst, 0x77, seq, data, sizeof(data)), 0);
}

/* ---- requests and replies ------------------------------------------------------ */

static void test_request_to_us_is_answered_and_learned(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL);
    uint8_t f[64], us[6], mac[6];
    tb_mac(1, us);
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), -ENOENT);

    /* t=1 ms: who-has 192.0.2.1 tell 192.0.2.10 */
    size_t n = fr_arp_request(f, PEER_MAC, PEER_IP, OUR_IP);
    tb_rx(tb, 1, f, n, 1000);

    /* 192.0.2.1 is-at 02:00:00:00:01:01, unicast to the asker. */
    const struct fr_pkt *p = tb_take(tb, 1);
    assert_non_null(p);
    assert_true(p->is_arp);
    assert_memory_equal(p->eth.dst, PEER_MAC, 6);
    assert_memory_equal(p->eth.src, us, 6);
    assert_int_equal(p->arp.op, NS_ARP_OP_REPLY);
    assert_memory_equal(p->arp.sha, us, 6);
    assert_int_equal(p->arp.spa, OUR_IP);
    assert_memory_equal(p->arp.tha, PEER_MAC, 6);
    assert_int_equal(p->arp.tpa, PEER_IP);
    assert_null(tb_take(tb, 1));

    /* RFC 826: the requester was added to the cache ... */
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), 0);
    assert_memory_equal(mac, PEER_MAC, 6);
    assert_int_equal(CTR(tb, arp_rx), 1);
    assert_int_equal(CTR(tb, arp_tx_reply), 1);

    /* ... so a packet to it leaves at once, without a request. */
    ping_at(tb, 2000, PEER_IP, 1);
    expect_ping(tb, PEER_MAC, PEER_IP, 1);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, arp_tx_request), 0);

    /* A reply to us (not a request) teaches us nothing new to send. */
    n = fr_arp_reply(f, PEER_MAC2, PEER_IP, us, OUR_IP);
    tb_rx(tb, 1, f, n, 3000);
    assert_null(tb_take(tb, 1));
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), 0);
    assert_memory_equal(mac, PEER_MAC2, 6); /* merged: the newest MAC wins */
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_request_for_other_ip_not_answered_but_merged(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL);
    uint8_t f[64], mac[6];

    /* who-has 192.0.2.99 tell 192.0.2.10: not us, not in the cache. */
    size_t n = fr_arp_request(f, PEER_MAC, PEER_IP, FR_IP(192, 0, 2, 99));
    tb_rx(tb, 1, f, n, 1000);
    assert_null(tb_take(tb, 1));
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), -ENOENT); /* arp_accept=0 */
    assert_int_equal(CTR(tb, arp_tx_reply), 0);

    /* A gratuitous announcement of a stranger creates nothing either. */
    n = fr_arp_frame(f, fr_mac_bcast, PEER_MAC, NS_ARP_OP_REQUEST, PEER_MAC, PEER_IP, NULL,
                     PEER_IP);
    tb_rx(tb, 1, f, n, 1500);
    assert_null(tb_take(tb, 1));
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), -ENOENT);

    /* Once known, the same peer's requests for others update its entry
     * (RFC 826 merge: "if the pair is already in the table, update"). */
    tb_learn(tb, 1, PEER_IP, PEER_MAC, 2000);
    n = fr_arp_request(f, PEER_MAC2, PEER_IP, FR_IP(192, 0, 2, 99));
    tb_rx(tb, 1, f, n, 3000);
    assert_null(tb_take(tb, 1));
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), 0);
    assert_memory_equal(mac, PEER_MAC2, 6);

    /* And traffic follows the new MAC. */
    ping_at(tb, 4000, PEER_IP, 1);
    expect_ping(tb, PEER_MAC2, PEER_IP, 1);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* ---- RFC 5227 announcements ------------------------------------------------------ */

static void test_gratuitous_announcements_on_address_add(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.arp_announce_num = 3;
    cfg.arp_announce_interval_us = 500000;
    const uint64_t t0 = 7 * US_S;
    struct tb *tb = tb_new(&cfg, t0);
    tb_add_if(tb, 1500, 0, 0);
    uint8_t us[6];
    tb_mac(1, us);

    assert_null(tb_take(tb, 1));
    struct in_addr a = {.s_addr = htonl(OUR_IP)};
    assert_int_equal(ns_if_addr_add(tb->st, 1, AF_INET, &a, 24), 0);

    /* RFC 5227 §2.3: ANNOUNCE_NUM requests, spa == tpa == the address,
     * tha zero, broadcast, ANNOUNCE_INTERVAL apart; the first at once. */
    for (unsigned k = 0; k < 3; k++) {
        uint64_t due = t0 + k * cfg.arp_announce_interval_us;
        if (k > 0) {
            tb_poll(tb, due - 1);
            assert_null(tb_take(tb, 1));
            tb_poll(tb, due);
        }
        const struct fr_pkt *p = tb_take(tb, 1);
        assert_non_null(p);
        assert_true(p->is_arp);
        assert_memory_equal(p->eth.dst, fr_mac_bcast, 6);
        assert_memory_equal(p->eth.src, us, 6);
        assert_int_equal(p->arp.op, NS_ARP_OP_REQUEST);
        assert_memory_equal(p->arp.sha, us, 6);
        assert_int_equal(p->arp.spa, OUR_IP);
        assert_int_equal(p->arp.tpa, OUR_IP);
        assert_memory_equal(p->arp.tha, fr_mac_zero, 6);
        assert_null(tb_take(tb, 1));
    }
    /* And no more. */
    tb_poll(tb, t0 + 60 * US_S);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, arp_tx_announce), 3);
    assert_int_equal(CTR(tb, arp_tx_request), 0);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* Two addresses added half an interval apart: each gets its own full set
 * of announcements on its own schedule. */
static void test_announcements_for_each_address(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.arp_announce_num = 2;
    cfg.arp_announce_interval_us = 2 * US_S;
    const uint64_t t0 = 1 * US_S, half = US_S;
    const uint32_t ip2 = FR_IP(198, 51, 100, 7);
    struct tb *tb = tb_new(&cfg, t0);
    tb_add_if(tb, 1500, 0, 0);
    struct in_addr a = {.s_addr = htonl(OUR_IP)}, b = {.s_addr = htonl(ip2)};

    assert_int_equal(ns_if_addr_add(tb->st, 1, AF_INET, &a, 24), 0);
    tb_poll(tb, t0 + half);
    assert_int_equal(ns_if_addr_add(tb->st, 1, AF_INET, &b, 24), 0);
    /* Expected: A at t0 and t0+2s, B at t0+1s and t0+3s. */
    static const struct {
        uint64_t at;
        int which;
    } want[] = {{0, 0}, {1, 1}, {2, 0}, {3, 1}};
    const struct fr_pkt *p;
    for (size_t i = 0; i < 4; i++) {
        uint64_t at = t0 + want[i].at * US_S;
        if (at > t0 + half) {
            tb_poll(tb, at - 1);
            assert_null(tb_take(tb, 1));
            tb_poll(tb, at);
        }
        p = tb_take(tb, 1);
        assert_non_null(p);
        assert_true(p->is_arp);
        uint32_t addr = want[i].which ? ip2 : OUR_IP;
        assert_int_equal(p->arp.spa, addr);
        assert_int_equal(p->arp.tpa, addr);
    }
    tb_poll(tb, t0 + 60 * US_S);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, arp_tx_announce), 4);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* ---- resolution ------------------------------------------------------------------ */

static void test_unresolved_neighbour_queues_retries_and_flushes_in_order(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL);
    const uint64_t t0 = 5 * US_S, r = 1 * US_S; /* arp_retry_us default */
    uint8_t f[64], us[6];
    tb_mac(1, us);

    /* t0: ping 1 to an unknown neighbour: one broadcast request, the
     * ping is held. */
    ping_at(tb, t0, PEER_IP, 1);
    expect_request(tb, PEER_IP, NULL);
    assert_null(tb_take(tb, 1));
    /* t0+100 ms, +200 ms: two more pings; no second request. */
    ping_at(tb, t0 + 100000, PEER_IP, 2);
    ping_at(tb, t0 + 200000, PEER_IP, 3);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, arp_tx_request), 1);

    /* Retries exactly arp_retry_us apart, arp_retries (3) in all. */
    tb_poll(tb, t0 + r - 1);
    assert_null(tb_take(tb, 1));
    tb_poll(tb, t0 + r);
    expect_request(tb, PEER_IP, NULL);
    tb_poll(tb, t0 + 2 * r - 1);
    assert_null(tb_take(tb, 1));
    tb_poll(tb, t0 + 2 * r);
    expect_request(tb, PEER_IP, NULL);
    assert_null(tb_take(tb, 1));

    /* t0+2.5 s: the reply. The three pings leave at once, in order. */
    size_t n = fr_arp_reply(f, PEER_MAC, PEER_IP, us, OUR_IP);
    tb_rx(tb, 1, f, n, t0 + 2 * r + 500000);
    expect_ping(tb, PEER_MAC, PEER_IP, 1);
    expect_ping(tb, PEER_MAC, PEER_IP, 2);
    expect_ping(tb, PEER_MAC, PEER_IP, 3);
    assert_null(tb_take(tb, 1));

    /* No further requests once resolved. */
    tb_poll(tb, t0 + 10 * r);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, arp_tx_request), 3);
    assert_int_equal(CTR(tb, arp_queue_drop), 0);
    assert_int_equal(CTR(tb, arp_resolve_fail), 0);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_hold_queue_drops_oldest(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    const unsigned held = 4, k = 3;
    cfg.arp_queue_bytes = held * NS_PBUF_SIZE + NS_PBUF_SIZE - 1; /* room for 4, not 5 */
    struct tb *tb = bench(&cfg);
    uint8_t f[64], us[6];
    tb_mac(1, us);

    for (unsigned i = 1; i <= held + k; i++)
        ping_at(tb, 1000 + i, PEER_IP, (uint16_t)i);
    expect_request(tb, PEER_IP, NULL);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, arp_queue_drop), k);
    assert_int_equal(tb->st->net->arp.hold_pkts, held);
    assert_int_equal(tb->st->net->arp.hold_bytes, held * NS_PBUF_SIZE);

    size_t n = fr_arp_reply(f, PEER_MAC, PEER_IP, us, OUR_IP);
    tb_rx(tb, 1, f, n, 50000);
    /* The oldest k were dropped; the newest `held` leave in order. */
    for (unsigned i = k + 1; i <= held + k; i++)
        expect_ping(tb, PEER_MAC, PEER_IP, (uint16_t)i);
    assert_null(tb_take(tb, 1));
    assert_int_equal(tb->st->net->arp.hold_pkts, 0);
    assert_int_equal(tb->st->net->arp.hold_bytes, 0);
    assert_int_equal(tb->st->net->arp.unres, 0);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* All hold queues together: at most arp_queue_total_bytes; past it the
 * neighbour that has held packets longest drops its oldest. */
static void test_hold_queues_capped_in_total(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.arp_queue_total_bytes = 5 * NS_PBUF_SIZE;
    struct tb *tb = bench(&cfg);
    uint8_t f[64], us[6], macs[3][6];
    tb_mac(1, us);
    const uint32_t a = FR_IP(192, 0, 2, 20), b = FR_IP(192, 0, 2, 21), c = FR_IP(192, 0, 2, 22);
    tb_peer_mac(20, macs[0]);
    tb_peer_mac(21, macs[1]);
    tb_peer_mac(22, macs[2]);

    /* a holds 1 2 3, b holds 4 5: the total is full. */
    ping_at(tb, 1000, a, 1);
    ping_at(tb, 1001, a, 2);
    ping_at(tb, 1002, a, 3);
    ping_at(tb, 1003, b, 4);
    ping_at(tb, 1004, b, 5);
    assert_int_equal(tb_drain(tb, 1), 2); /* a request each */
    assert_int_equal(tb->st->net->arp.hold_pkts, 5);
    assert_int_equal(CTR(tb, arp_queue_total_drop), 0);
    /* c 6: a (holding since 1000) drops 1. b 7: a drops 2. */
    ping_at(tb, 1005, c, 6);
    assert_int_equal(CTR(tb, arp_queue_total_drop), 1);
    ping_at(tb, 1006, b, 7);
    assert_int_equal(CTR(tb, arp_queue_total_drop), 2);
    assert_int_equal(tb->st->net->arp.hold_pkts, 5);
    assert_int_equal(tb->st->net->arp.hold_bytes, 5 * NS_PBUF_SIZE);
    assert_int_equal(tb->st->net->arp.unres, 3);
    /* a 8, 9, 10: a 3 goes (a empties and is the newest holder now), then
     * b 4 and b 5. */
    ping_at(tb, 1007, a, 8);
    ping_at(tb, 1008, a, 9);
    ping_at(tb, 1009, a, 10);
    assert_int_equal(CTR(tb, arp_queue_total_drop), 5);
    assert_int_equal(CTR(tb, arp_queue_drop), 0);
    assert_int_equal(tb_drain(tb, 1), 1); /* c's request */

    /* Everything resolves: what was kept leaves in order. */
    size_t n = fr_arp_reply(f, macs[0], a, us, OUR_IP);
    tb_rx(tb, 1, f, n, 2000);
    expect_ping(tb, macs[0], a, 8);
    expect_ping(tb, macs[0], a, 9);
    expect_ping(tb, macs[0], a, 10);
    n = fr_arp_reply(f, macs[1], b, us, OUR_IP);
    tb_rx(tb, 1, f, n, 2001);
    expect_ping(tb, macs[1], b, 7);
    n = fr_arp_reply(f, macs[2], c, us, OUR_IP);
    tb_rx(tb, 1, f, n, 2002);
    expect_ping(tb, macs[2], c, 6);
    assert_null(tb_take(tb, 1));
    assert_int_equal(tb->st->net->arp.hold_pkts, 0);
    assert_int_equal(tb->st->net->arp.hold_bytes, 0);
    assert_int_equal(tb->st->net->arp.unres, 0);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* At most arp_unres_max neighbours are resolved at once: a packet to one
 * more is dropped with no entry and no request; a slot frees when an
 * entry resolves or gives up. */
static void test_unresolved_entries_capped(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.arp_unres_max = 3;
    struct tb *tb = bench(&cfg);
    uint8_t f[64], us[6], mac[6], got[6];
    tb_mac(1, us);
    const uint64_t t0 = 1 * US_S, r = 1 * US_S;

    for (unsigned i = 0; i < 3; i++) {
        ping_at(tb, t0 + i, FR_IP(192, 0, 2, 30 + i), (uint16_t)i);
        expect_request(tb, FR_IP(192, 0, 2, 30 + i), NULL);
    }
    assert_int_equal(tb->st->net->arp.unres, 3);
    /* The fourth: refused, nothing sent, nothing created. */
    tb_poll(tb, t0 + 10);
    assert_int_equal(tb_ping(tb, FR_IP(192, 0, 2, 33), 0x77, 3, "x", 1), -ENOBUFS);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, arp_unres_drop), 1);
    assert_int_equal(CTR(tb, arp_tx_request), 3);
    assert_int_equal(tb->st->net->arp.count, 3);
    /* A known neighbour is not affected. */
    tb_learn(tb, 1, PEER_IP, PEER_MAC, t0 + 20);
    ping_at(tb, t0 + 30, PEER_IP, 9);
    expect_ping(tb, PEER_MAC, PEER_IP, 9);
    /* .30 answers: its slot frees, .33 may be resolved now. */
    tb_peer_mac(30, mac);
    size_t n = fr_arp_reply(f, mac, FR_IP(192, 0, 2, 30), us, OUR_IP);
    tb_rx(tb, 1, f, n, t0 + 40);
    expect_ping(tb, mac, FR_IP(192, 0, 2, 30), 0);
    assert_int_equal(tb->st->net->arp.unres, 2);
    ping_at(tb, t0 + 50, FR_IP(192, 0, 2, 33), 4);
    expect_request(tb, FR_IP(192, 0, 2, 33), NULL);
    assert_int_equal(tb->st->net->arp.unres, 3);
    tb_poll(tb, t0 + 60);
    assert_int_equal(tb_ping(tb, FR_IP(192, 0, 2, 34), 0x77, 5, "x", 1), -ENOBUFS);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, arp_unres_drop), 2);
    /* .31 and .32 give up after 3 requests: two slots free. */
    tb_poll(tb, t0 + r + 1);
    tb_poll(tb, t0 + r + 2);
    tb_poll(tb, t0 + 2 * r + 1);
    tb_poll(tb, t0 + 2 * r + 2);
    tb_poll(tb, t0 + 3 * r + 1);
    tb_poll(tb, t0 + 3 * r + 2);
    tb_drain(tb, 1);
    assert_int_equal(arp_lookup(tb->st, 1, FR_IP(192, 0, 2, 31), got), -ENOENT);
    assert_int_equal(tb->st->net->arp.unres, 1);
    assert_int_equal(CTR(tb, arp_resolve_fail), 2);
    ping_at(tb, t0 + 3 * r + 10, FR_IP(192, 0, 2, 34), 6);
    expect_request(tb, FR_IP(192, 0, 2, 34), NULL);
    assert_int_equal(tb->st->net->arp.unres, 2);
    for (uint64_t t = t0 + 3 * r + 10; t <= t0 + 8 * r; t += r / 10) {
        tb_poll(tb, t);
        tb_drain(tb, 1);
    }
    assert_int_equal(tb->st->net->arp.unres, 0);
    assert_int_equal(tb->st->net->arp.hold_pkts, 0);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* A flood of echo requests from 200 on-link sources that never answer
 * ARP, 20000 a second for 2 s, against the default configuration: the
 * replies wait in hold queues that never take more than 1/16 of the pool
 * (256 buffers), no allocation fails, at most arp_unres_max (256)
 * neighbours are resolved at a time, with 3 requests each, and a peer
 * that is known keeps being answered throughout. */
static void test_echo_flood_from_unresolvable_sources(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL);
    uint8_t f[128], us[6];
    tb_mac(1, us);
    struct ns_pbuf_pool_stats ps;
    ns_stack_pbuf_stats(tb->st, &ps);
    const uint32_t pool = ps.pool_total;
    const uint64_t total_cap = (uint64_t)pool * NS_PBUF_SIZE / 16;
    assert_int_equal(tb->st->cfg.arp_queue_total_bytes, total_cap);
    tb_learn(tb, 1, PEER_IP, PEER_MAC, 1000);

    const uint64_t t0 = 1 * US_S, gap = 50; /* 20000/s */
    uint8_t data[56];
    memset(data, 0xa5, sizeof(data));
    uint32_t least_free = pool, most_held = 0, requests = 0, peer_answers = 0;
    for (unsigned i = 0; i < 40000; i++) {
        uint32_t src = FR_IP(192, 0, 2, 40 + i % 200);
        uint8_t smac[6];
        tb_peer_mac(1, smac); /* the frames come from one router's MAC */
        size_t n = fr_echo_frame(f, us, smac, src, OUR_IP, NS_ICMP_ECHO, 1, (uint16_t)i, data,
                                 sizeof(data));
        tb_rx(tb, 1, f, n, t0 + i * gap);
        if (i % 100 == 0) {
            /* The known peer pings us: answered at once. */
            n = fr_echo_frame(f, us, PEER_MAC, PEER_IP, OUR_IP, NS_ICMP_ECHO, 2, (uint16_t)i,
                              data, 8);
            tb_rx(tb, 1, f, n, t0 + i * gap);
        }
        const struct fr_pkt *p;
        while ((p = tb_take(tb, 1))) {
            if (p->is_arp && p->arp.op == NS_ARP_OP_REQUEST)
                requests++;
            else if (p->is_icmp && p->ip.dst == PEER_IP && p->icmp.type == NS_ICMP_ECHO_REPLY)
                peer_answers++;
            else
                fail_msg("unexpected frame during the flood");
        }
        ns_stack_pbuf_stats(tb->st, &ps);
        if (ps.pool_free < least_free)
            least_free = ps.pool_free;
        if (tb->st->net->arp.hold_pkts > most_held)
            most_held = tb->st->net->arp.hold_pkts;
        assert_true(tb->st->net->arp.hold_bytes <= total_cap);
        assert_true(tb->st->net->arp.unres <= 256);
    }
    assert_int_equal(peer_answers, 400);
    assert_int_equal(most_held, total_cap / NS_PBUF_SIZE);
    assert_true(pool - least_free <= total_cap / NS_PBUF_SIZE + 2);
    assert_int_equal(CTR(tb, pbuf_alloc_fail), 0);
    assert_int_equal(CTR(tb, icmp_tx_echo_reply), 40000 + 400);
    /* 200 sources, each resolved once in 2 s (its entry lives 3 s): 200
     * entries created, their first 2 requests sent (at t, t+1 s). */
    assert_int_equal(requests, 400);
    assert_int_equal(CTR(tb, arp_unres_drop), 0);
    assert_true(CTR(tb, arp_queue_total_drop) >= 40000 - 256);
    /* After 3 s of silence every entry gave up; nothing is held. */
    for (uint64_t t = t0 + 40000 * gap; t <= t0 + 40000 * gap + 3 * US_S; t += 100000) {
        tb_poll(tb, t);
        tb_drain(tb, 1);
    }
    assert_int_equal(tb->st->net->arp.unres, 0);
    assert_int_equal(tb->st->net->arp.hold_pkts, 0);
    assert_int_equal(CTR(tb, arp_queue_total_drop) + CTR(tb, arp_queue_drop) +
                         CTR(tb, arp_resolve_fail),
                     40000);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

struct echo_log {
    unsigned n;
    uint8_t type[8], code[8];
    uint16_t seq[8];
};

static void on_echo(void *ctx, struct ns_stack *st, const struct ns_echo_reply *r, uint64_t now)
{
    struct echo_log *log = ctx;
    (void)st;
    (void)now;
    if (log->n < 8) {
        log->type[log->n] = r->icmp_type;
        log->code[log->n] = r->icmp_code;
        log->seq[log->n] = r->seq;
    }
    log->n++;
}

static void test_no_reply_drops_held_packets(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL);
    const uint64_t t0 = 1 * US_S, r = 1 * US_S;
    struct echo_log log = {0};
    ns_icmp_set_echo_hook(tb->st, on_echo, &log);
    uint8_t mac[6];

    ping_at(tb, t0, PEER_IP, 1);
    ping_at(tb, t0 + 10, PEER_IP, 2);
    expect_request(tb, PEER_IP, NULL);
    tb_poll(tb, t0 + r);
    expect_request(tb, PEER_IP, NULL);
    tb_poll(tb, t0 + 2 * r);
    expect_request(tb, PEER_IP, NULL);
    /* Still waiting until the third request has had its arp_retry_us. */
    tb_poll(tb, t0 + 3 * r - 1);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, arp_resolve_fail), 0);
    tb_poll(tb, t0 + 3 * r);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, arp_resolve_fail), 2);
    assert_int_equal(CTR(tb, arp_tx_request), 3);
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), -ENOENT);
    /* The pinger hears "host unreachable" for each, as Linux's
     * EHOSTUNREACH; no ICMP went on the wire. */
    assert_int_equal(log.n, 2);
    assert_int_equal(log.type[0], NS_ICMP_DEST_UNREACH);
    assert_int_equal(log.code[0], NS_ICMP_HOST_UNREACH);
    assert_int_equal(log.seq[0], 1);
    assert_int_equal(log.seq[1], 2);
    assert_int_equal(CTR(tb, icmp_tx_unreach), 0);
    tb_poll(tb, t0 + 100 * r);
    assert_null(tb_take(tb, 1));
    tb_assert_pool_clean(tb);

    /* A new packet later starts a fresh resolution. */
    ping_at(tb, t0 + 101 * r, PEER_IP, 3);
    expect_request(tb, PEER_IP, NULL);
    tb_free(tb);
}

/* A router that cannot resolve the next hop answers the packets it held
 * with host unreachable (RFC 1812 §4.3.3.1 / RFC 1122 §2.3.2.2). With a
 * one-entry cache the neighbour being given up on is the only entry, and
 * the error itself needs a fresh entry for its destination. */
static void unresolved_forward(uint32_t cache_max)
{
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.ip_forward = true;
    cfg.arp_cache_max = cache_max;
    struct tb *tb = tb_new(&cfg, 0);
    tb_add_if(tb, 1500, OUR_IP, 24);
    tb_add_if(tb, 1500, FR_IP(198, 51, 100, 1), 24);
    const uint32_t b_ip = FR_IP(198, 51, 100, 20);
    const uint64_t t0 = 1 * US_S, r = 1 * US_S;
    uint8_t f[128], us[6], mac[6];
    tb_mac(1, us);
    tb_learn(tb, 1, PEER_IP, PEER_MAC, t0 - 1000);

    uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const size_t n_echo = fr_echo_frame(f, us, PEER_MAC, PEER_IP, b_ip, NS_ICMP_ECHO, 5, 1, data, 8);
    tb_rx(tb, 1, f, n_echo, t0);
    for (unsigned k = 0; k < 3; k++) {
        tb_poll(tb, t0 + k * r);
        const struct fr_pkt *p = tb_take(tb, 2);
        assert_non_null(p);
        assert_true(p->is_arp && p->arp.tpa == b_ip);
    }
    assert_null(tb_take(tb, 1));
    tb_poll(tb, t0 + 3 * r);
    assert_int_equal(CTR(tb, arp_resolve_fail), 1);
    assert_null(tb_take(tb, 2));
    assert_int_equal(arp_lookup(tb->st, 2, b_ip, mac), -ENOENT);
    if (cache_max == 1) {
        /* A's entry was evicted for B's: ask for A first, then answer. */
        expect_request(tb, PEER_IP, NULL);
        assert_null(tb_take(tb, 1));
        size_t n = fr_arp_reply(f, PEER_MAC, PEER_IP, us, OUR_IP);
        tb_rx(tb, 1, f, n, t0 + 3 * r + 1000);
    }
    const struct fr_pkt *p = tb_take(tb, 1);
    assert_non_null(p);
    assert_true(p->is_icmp);
    assert_memory_equal(p->eth.dst, PEER_MAC, 6);
    assert_int_equal(p->ip.src, OUR_IP);
    assert_int_equal(p->ip.dst, PEER_IP);
    assert_int_equal(p->icmp.type, NS_ICMP_DEST_UNREACH);
    assert_int_equal(p->icmp.code, NS_ICMP_HOST_UNREACH);
    /* The quote is the packet as it was held (TTL already decremented). */
    assert_int_equal(p->icmp.payload_len, n_echo - NS_ETH_HLEN);
    assert_null(tb_take(tb, 1));
    assert_true(tb->st->net->arp.count <= cache_max);
    /* Only the entries that must exist: A (and B is gone). */
    assert_int_equal(tb->st->net->arp.count, 1);
    assert_int_equal(CTR(tb, arp_evict), cache_max == 1 ? 1 : 0);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_unresolved_forward_host_unreachable(void **state)
{
    (void)state;
    unresolved_forward(1024);
}

static void test_unresolved_forward_host_unreachable_tiny_cache(void **state)
{
    (void)state;
    unresolved_forward(1);
}

/* ---- ageing -------------------------------------------------------------------------- */

static void test_stale_entry_reconfirmed_by_unicast(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL);
    const uint64_t t0 = 1 * US_S, reach = 30 * US_S, r = 1 * US_S;
    uint8_t f[64], us[6], mac[6];
    tb_mac(1, us);
    tb_learn(tb, 1, PEER_IP, PEER_MAC, t0);

    /* Just before arp_reachable_us: used without any request. */
    ping_at(tb, t0 + reach - 1, PEER_IP, 1);
    expect_ping(tb, PEER_MAC, PEER_IP, 1);
    assert_null(tb_take(tb, 1));

    /* At arp_reachable_us: the packet still leaves, after a unicast
     * request to the MAC we know (RFC 1122 §2.3.2.1). */
    ping_at(tb, t0 + reach, PEER_IP, 2);
    expect_request(tb, PEER_IP, PEER_MAC);
    expect_ping(tb, PEER_MAC, PEER_IP, 2);
    assert_null(tb_take(tb, 1));
    /* Further use while probing sends no more requests. */
    ping_at(tb, t0 + reach + 10, PEER_IP, 3);
    expect_ping(tb, PEER_MAC, PEER_IP, 3);
    assert_null(tb_take(tb, 1));

    /* The peer confirms; nothing more is asked. */
    size_t n = fr_arp_reply(f, PEER_MAC, PEER_IP, us, OUR_IP);
    tb_rx(tb, 1, f, n, t0 + reach + 300000);
    tb_poll(tb, t0 + reach + 5 * r);
    assert_null(tb_take(tb, 1));
    assert_int_equal(CTR(tb, arp_tx_request), 1);

    /* Confirmed at t0+reach+0.3 s: trusted for another arp_reachable_us. */
    uint64_t t1 = t0 + reach + 300000;
    ping_at(tb, t1 + reach - 1, PEER_IP, 4);
    expect_ping(tb, PEER_MAC, PEER_IP, 4);
    assert_null(tb_take(tb, 1));

    /* Stale again, and this time the peer is gone: arp_retries unicast
     * requests, then the entry is removed. */
    ping_at(tb, t1 + reach, PEER_IP, 5);
    expect_request(tb, PEER_IP, PEER_MAC);
    expect_ping(tb, PEER_MAC, PEER_IP, 5);
    tb_poll(tb, t1 + reach + r);
    expect_request(tb, PEER_IP, PEER_MAC);
    tb_poll(tb, t1 + reach + 2 * r);
    expect_request(tb, PEER_IP, PEER_MAC);
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), 0);
    tb_poll(tb, t1 + reach + 3 * r);
    assert_null(tb_take(tb, 1));
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), -ENOENT);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_unused_entry_removed_after_gc(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL);
    const uint64_t t0 = 2 * US_S, gc = 60 * US_S;
    uint8_t mac[6];
    tb_learn(tb, 1, PEER_IP, PEER_MAC, t0);
    tb_poll(tb, t0 + gc - 1);
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), 0);
    tb_poll(tb, t0 + gc);
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), -ENOENT);
    assert_null(tb_take(tb, 1));

    /* An entry in use lives on: learned at t1, used at t1+20 s; gone
     * arp_gc_us after that last use, not after learning. */
    const uint64_t t1 = t0 + 2 * gc;
    tb_learn(tb, 1, PEER_IP, PEER_MAC, t1);
    ping_at(tb, t1 + 20 * US_S, PEER_IP, 1);
    expect_ping(tb, PEER_MAC, PEER_IP, 1);
    tb_poll(tb, t1 + gc);
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), 0);
    tb_poll(tb, t1 + 20 * US_S + gc - 1);
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), 0);
    tb_poll(tb, t1 + 20 * US_S + gc);
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), -ENOENT);
    assert_null(tb_take(tb, 1));
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_cache_full_evicts_lru_keeps_active(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.arp_cache_max = 4;
    struct tb *tb = bench(&cfg);
    uint8_t macs[16][6], got[6];
    uint64_t t = 1000;
    for (unsigned i = 0; i < 16; i++)
        tb_peer_mac(10 + i, macs[i]);

    /* Fill: .10 .11 .12 .13 */
    for (unsigned i = 0; i < 4; i++)
        tb_learn(tb, 1, FR_IP(192, 0, 2, 10 + i), macs[i], t += 1000);
    /* .10 is the oldest entry but in active use; each new neighbour
     * evicts the least recently used one, never .10. */
    for (unsigned i = 4; i < 16; i++) {
        ping_at(tb, t += 1000, FR_IP(192, 0, 2, 10), (uint16_t)i);
        expect_ping(tb, macs[0], FR_IP(192, 0, 2, 10), (uint16_t)i);
        tb_learn(tb, 1, FR_IP(192, 0, 2, 10 + i), macs[i], t += 1000);
        assert_int_equal(CTR(tb, arp_evict), i - 3);
        /* The victim is the oldest idle entry: .11 first, then .12 ... */
        assert_int_equal(arp_lookup(tb->st, 1, FR_IP(192, 0, 2, 10 + i - 3), got), -ENOENT);
        assert_int_equal(arp_lookup(tb->st, 1, FR_IP(192, 0, 2, 10), got), 0);
        assert_memory_equal(got, macs[0], 6);
        for (unsigned j = i - 2; j <= i; j++)
            assert_int_equal(arp_lookup(tb->st, 1, FR_IP(192, 0, 2, 10 + j), got), 0);
    }
    assert_int_equal(tb->st->net->arp.count, 4);
    assert_int_equal(CTR(tb, arp_tx_request), 0);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* ---- malformed and hostile ARP --------------------------------------------------------- */

/* Inject a frame at t and check nothing leaves, no entry for PEER_IP,
 * and exactly counter c went up by one. */
static void expect_dropped(struct tb *tb, const uint8_t *f, size_t n, uint64_t t,
                           enum ns_counter c)
{
    uint64_t before[NS_CTR__COUNT], after[NS_CTR__COUNT];
    uint8_t mac[6];
    ns_stack_counters(tb->st, before);
    tb_rx(tb, 1, f, n, t);
    ns_stack_counters(tb->st, after);
    assert_null(tb_take(tb, 1));
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), -ENOENT);
    for (int i = 0; i < NS_CTR__COUNT; i++) {
        uint64_t want = before[i];
        if (i == (int)c)
            want++;
        if (i == NS_CTR_dev_rx_frames || (i == NS_CTR_arp_rx && c != NS_CTR_eth_drop_bad_src))
            want++;
        if (after[i] != want)
            fail_msg("counter %s: %llu, want %llu", ns_counter_name((enum ns_counter)i),
                     (unsigned long long)after[i], (unsigned long long)want);
    }
}

static void test_malformed_arp_counted_and_ignored(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL);
    uint8_t f[64], good[64];
    uint64_t t = 1000;
    const size_t good_len = fr_arp_request(good, PEER_MAC, PEER_IP, OUR_IP);
    size_t n = good_len;

    /* Short: 27 bytes of ARP. */
    expect_dropped(tb, good, NS_ETH_HLEN + NS_ARP_LEN - 1, t += 10, NS_CTR_arp_drop_short);
    /* Wrong htype, ptype, hlen, plen. */
    static const struct {
        size_t off;
        uint8_t val;
    } bad[] = {{0, 0x01}, {1, 0x06}, {2, 0x86}, {3, 0xdd}, {4, 8}, {5, 16}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(f, good, n);
        f[NS_ETH_HLEN + bad[i].off] = bad[i].val;
        expect_dropped(tb, f, n, t += 10, NS_CTR_arp_drop_unsupported);
    }
    /* Opcodes other than request/reply (RARP 3, InARP 8, 0). */
    static const uint8_t ops[] = {0, 3, 4, 8, 9};
    for (size_t i = 0; i < sizeof(ops); i++) {
        memcpy(f, good, n);
        f[NS_ETH_HLEN + 6] = 0;
        f[NS_ETH_HLEN + 7] = ops[i];
        expect_dropped(tb, f, n, t += 10, NS_CTR_arp_drop_bad_op);
    }
    /* Multicast or broadcast sender MAC inside ARP, unicast frame source. */
    static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    n = fr_arp_frame(f, fr_mac_bcast, PEER_MAC, NS_ARP_OP_REQUEST, mcast, PEER_IP, NULL, OUR_IP);
    expect_dropped(tb, f, n, t += 10, NS_CTR_arp_drop_bad_sender);
    n = fr_arp_frame(f, fr_mac_bcast, PEER_MAC, NS_ARP_OP_REQUEST, fr_mac_bcast, PEER_IP, NULL,
                     OUR_IP);
    expect_dropped(tb, f, n, t += 10, NS_CTR_arp_drop_bad_sender);
    /* Broadcast/multicast sender protocol address. */
    n = fr_arp_frame(f, fr_mac_bcast, PEER_MAC, NS_ARP_OP_REQUEST, PEER_MAC, 0xffffffffu, NULL,
                     OUR_IP);
    expect_dropped(tb, f, n, t += 10, NS_CTR_arp_drop_bad_sender);
    n = fr_arp_frame(f, fr_mac_bcast, PEER_MAC, NS_ARP_OP_REQUEST, PEER_MAC, FR_IP(224, 0, 0, 1),
                     NULL, OUR_IP);
    expect_dropped(tb, f, n, t += 10, NS_CTR_arp_drop_bad_sender);
    /* A multicast Ethernet source never reaches ARP. */
    n = fr_arp_frame(f, fr_mac_bcast, mcast, NS_ARP_OP_REQUEST, PEER_MAC, PEER_IP, NULL, OUR_IP);
    expect_dropped(tb, f, n, t += 10, NS_CTR_eth_drop_bad_src);

    /* The well-formed request still works afterwards, padded to 60 bytes
     * as Ethernet does. */
    memset(good + good_len, 0x5a, 60 - good_len);
    tb_rx(tb, 1, good, 60, t += 10);
    const struct fr_pkt *p = tb_take(tb, 1);
    assert_non_null(p);
    assert_true(p->is_arp && p->arp.op == NS_ARP_OP_REPLY);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_claim_of_our_address_is_a_conflict(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL);
    uint8_t f[64], us[6], mac[6];
    tb_mac(1, us);
    tb_learn(tb, 1, PEER_IP, PEER_MAC, 1000);
    size_t n;

    /* An attacker announces 192.0.2.1 (gratuitous request), replies with
     * it, and asks for the peer while claiming to be us. */
    n = fr_arp_frame(f, fr_mac_bcast, PEER_MAC2, NS_ARP_OP_REQUEST, PEER_MAC2, OUR_IP, NULL,
                     OUR_IP);
    tb_rx(tb, 1, f, n, 2000);
    n = fr_arp_reply(f, PEER_MAC2, OUR_IP, us, OUR_IP);
    tb_rx(tb, 1, f, n, 3000);
    n = fr_arp_frame(f, fr_mac_bcast, PEER_MAC2, NS_ARP_OP_REQUEST, PEER_MAC2, OUR_IP, NULL,
                     PEER_IP);
    tb_rx(tb, 1, f, n, 4000);
    /* Even a request for our own address from "us" gets no answer. */
    n = fr_arp_request(f, PEER_MAC2, OUR_IP, OUR_IP);
    tb_rx(tb, 1, f, n, 5000);

    assert_int_equal(CTR(tb, arp_conflict), 4);
    assert_null(tb_take(tb, 1));
    assert_int_equal(arp_lookup(tb->st, 1, OUR_IP, mac), -ENOENT);
    assert_int_equal(arp_lookup(tb->st, 1, PEER_IP, mac), 0);
    assert_memory_equal(mac, PEER_MAC, 6);
    assert_int_equal(tb->st->net->arp.count, 1);

    /* Traffic still goes to the real peer. */
    ping_at(tb, 6000, PEER_IP, 1);
    expect_ping(tb, PEER_MAC, PEER_IP, 1);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_probe_with_zero_sender_not_learned(void **state)
{
    (void)state;
    struct tb *tb = bench(NULL);
    uint8_t f[64], mac[6];
    /* RFC 5227 §2.1.1 probe for our address: spa 0. We defend by
     * answering, but learn nothing about 0.0.0.0. */
    size_t n = fr_arp_request(f, PEER_MAC, 0, OUR_IP);
    tb_rx(tb, 1, f, n, 1000);
    const struct fr_pkt *p = tb_take(tb, 1);
    assert_non_null(p);
    assert_true(p->is_arp && p->arp.op == NS_ARP_OP_REPLY);
    assert_int_equal(p->arp.spa, OUR_IP);
    assert_memory_equal(p->eth.dst, PEER_MAC, 6);
    assert_int_equal(arp_lookup(tb->st, 1, 0, mac), -ENOENT);
    assert_int_equal(tb->st->net->arp.count, 0);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_to_us_is_answered_and_learned),
        cmocka_unit_test(test_request_for_other_ip_not_answered_but_merged),
        cmocka_unit_test(test_gratuitous_announcements_on_address_add),
        cmocka_unit_test(test_announcements_for_each_address),
        cmocka_unit_test(test_unresolved_neighbour_queues_retries_and_flushes_in_order),
        cmocka_unit_test(test_hold_queue_drops_oldest),
        cmocka_unit_test(test_hold_queues_capped_in_total),
        cmocka_unit_test(test_unresolved_entries_capped),
        cmocka_unit_test(test_echo_flood_from_unresolvable_sources),
        cmocka_unit_test(test_no_reply_drops_held_packets),
        cmocka_unit_test(test_unresolved_forward_host_unreachable),
        cmocka_unit_test(test_unresolved_forward_host_unreachable_tiny_cache),
        cmocka_unit_test(test_stale_entry_reconfirmed_by_unicast),
        cmocka_unit_test(test_unused_entry_removed_after_gc),
        cmocka_unit_test(test_cache_full_evicts_lru_keeps_active),
        cmocka_unit_test(test_malformed_arp_counted_and_ignored),
        cmocka_unit_test(test_claim_of_our_address_is_a_conflict),
        cmocka_unit_test(test_probe_with_zero_sender_not_learned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
