/* tests/sim/test_sim_rawproto.c — the example protocol of
 * examples/rawproto_lib.c (stop-and-wait over raw sockets, IP protocol
 * 253) between two simulated hosts on faulty links.
 *
 * The protocol code is compiled into this test by #including its source
 * (tests/CMakeLists.txt builds one file per test; the example is small and
 * uses only the public API).
 *
 * Invariants: every message is delivered exactly once, in order, intact;
 * the raw sockets see only their own protocol from their peer; no ICMP
 * "protocol unreachable" is sent while a raw socket takes protocol 253;
 * every packet buffer is back in its pool at the end.
 *
 * Replay a failure: NETSOCK_SEED=<seed> build-test/tests/test_sim_rawproto
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "testutil.h"

#include "../../examples/rawproto_lib.c"

#define NMSG 300

struct inbox {
    uint32_t count;
    uint32_t bad; /* out of order, wrong length or wrong bytes */
};

static size_t msg_len(uint32_t seq) { return 1 + (seq * 2654435761u) % RP_MAX_MSG; }

static void msg_fill(uint8_t *buf, uint32_t seq)
{
    size_t len = msg_len(seq);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seq * 31 + i * 7);
}

static void on_msg(void *ctx, uint32_t seq, const uint8_t *msg, size_t len)
{
    struct inbox *in = ctx;
    uint8_t want[RP_MAX_MSG];
    msg_fill(want, in->count);
    if (seq != in->count || len != msg_len(seq) || memcmp(want, msg, len) != 0)
        in->bad++;
    in->count++;
}

struct pair {
    struct ns_sim *sim;
    struct ns_stack *a, *b;
    struct in_addr a_ip, b_ip;
};

static void pair_build(struct pair *p, uint64_t seed, const struct ns_link_params *lp)
{
    p->sim = ns_sim_new(seed);
    p->a = ns_sim_add_host(p->sim, "alice", NULL);
    p->b = ns_sim_add_host(p->sim, "bob", NULL);
    assert_non_null(p->a);
    assert_non_null(p->b);
    int ia, ib;
    assert_non_null(ns_sim_connect(p->sim, p->a, p->b, lp, &ia, &ib));
    inet_pton(AF_INET, "192.0.2.1", &p->a_ip);
    inet_pton(AF_INET, "192.0.2.2", &p->b_ip);
    assert_int_equal(ns_if_addr_add(p->a, ia, AF_INET, &p->a_ip, 24), 0);
    assert_int_equal(ns_if_addr_add(p->b, ib, AF_INET, &p->b_ip, 24), 0);
    ns_sim_run_for(p->sim, 100000);
}

static uint64_t min3(uint64_t x, uint64_t y, uint64_t z)
{
    uint64_t m = x < y ? x : y;
    return m < z ? m : z;
}

/* Send NMSG messages alice -> bob; the loop of examples/rawproto.c. */
static void run_transfer(struct pair *p, struct rp_conn *a, struct rp_conn *b)
{
    uint8_t buf[RP_MAX_MSG];
    uint32_t next = 0;
    const uint64_t limit_us = ns_sim_now(p->sim) + 600 * 1000000ull;
    while ((next < NMSG || rp_busy(a)) && !a->error && ns_sim_now(p->sim) < limit_us) {
        uint64_t now = ns_sim_now(p->sim);
        if (!rp_busy(a) && next < NMSG) {
            msg_fill(buf, next);
            NS_ASSERT_SEED(rp_send(a, buf, msg_len(next), now) == 0);
            next++;
        }
        uint64_t t = min3(ns_sim_next_deadline(p->sim), rp_next_deadline(a), rp_next_deadline(b));
        NS_ASSERT_SEED(t != NS_TIME_NEVER);
        ns_sim_run_until(p->sim, t > now ? t : now);
        rp_service(a, ns_sim_now(p->sim));
        rp_service(b, ns_sim_now(p->sim));
    }
    NS_ASSERT_SEED(a->error == 0);
}

static void finish(struct pair *p, struct rp_conn *a, struct rp_conn *b)
{
    struct ns_stack *hosts[2] = {p->a, p->b};
    /* Protocol 253 is reachable while raw sockets take it (RFC 1122
     * §3.2.2.1): no "protocol unreachable" so far. */
    for (int i = 0; i < 2; i++)
        NS_ASSERT_SEED(ns_stack_counter(hosts[i], NS_CTR_ip_drop_unknown_proto) == 0);
    rp_close(a);
    rp_close(b);
    ns_sim_run_for(p->sim, 40000000);
    for (int i = 0; i < 2; i++) {
        struct ns_pbuf_pool_stats ps;
        ns_stack_pbuf_stats(hosts[i], &ps);
        NS_ASSERT_SEED(ps.pool_free == ps.pool_total && ps.heap_bytes == 0);
    }
    ns_sim_free(p->sim);
}

/* 10% loss each way: every message once, in order. */
static void test_rawproto_over_lossy_link(void **state)
{
    (void)state;
    struct ns_link_params lp;
    ns_link_params_default(&lp);
    lp.delay_us = 2000;
    lp.loss = 0.1;
    struct pair p;
    pair_build(&p, ns_test_seed(21), &lp);
    struct inbox in = {0};
    struct rp_conn a, b;
    assert_int_equal(rp_open(&a, p.a, "alice", p.b_ip, 10000, NULL, NULL), 0);
    assert_int_equal(rp_open(&b, p.b, "bob", p.a_ip, 10000, on_msg, &in), 0);
    run_transfer(&p, &a, &b);

    NS_ASSERT_SEED(in.count == NMSG && in.bad == 0);
    NS_ASSERT_SEED(a.stats.acked == NMSG && b.stats.delivered == NMSG);
    NS_ASSERT_SEED(a.stats.retransmits > 0 && b.stats.dup_data > 0);
    NS_ASSERT_SEED(a.stats.bad == 0 && b.stats.bad == 0);
    /* Every DATA either reached bob or was lost: bob saw each message
     * once as new and dup_data times again. */
    NS_ASSERT_SEED(b.stats.delivered + b.stats.dup_data <= a.stats.data_sent);
    NS_ASSERT_SEED(ns_stack_counter(p.b, NS_CTR_raw_delivered) ==
                   b.stats.delivered + b.stats.dup_data);
    finish(&p, &a, &b);
}

/* Loss, duplication, reordering and corruption: the protocol's checksum
 * and 32-bit numbers keep delivery exact. */
static void test_rawproto_with_every_fault(void **state)
{
    (void)state;
    struct ns_link_params lp;
    ns_link_params_default(&lp);
    lp.delay_us = 2000;
    lp.jitter_us = 500;
    lp.loss = 0.1;
    lp.dup = 0.1;
    lp.reorder = 0.1;
    lp.reorder_delay_us = 15000; /* later than the RTO: old copies arrive late */
    lp.corrupt = 0.05;
    struct pair p;
    pair_build(&p, ns_test_seed(22), &lp);
    struct inbox in = {0};
    struct rp_conn a, b;
    assert_int_equal(rp_open(&a, p.a, "alice", p.b_ip, 10000, NULL, NULL), 0);
    assert_int_equal(rp_open(&b, p.b, "bob", p.a_ip, 10000, on_msg, &in), 0);
    run_transfer(&p, &a, &b);

    NS_ASSERT_SEED(in.count == NMSG && in.bad == 0);
    NS_ASSERT_SEED(a.stats.acked == NMSG);
    NS_ASSERT_SEED(b.stats.dup_data > 0 && a.stats.stale_acks > 0);
    /* Corrupted packets are dropped by IPv4 (header) or by rp itself
     * (raw IP has no transport checksum of its own). */
    NS_ASSERT_SEED(a.stats.bad + b.stats.bad + ns_stack_counter(p.a, NS_CTR_ip_drop_bad_csum) +
                       ns_stack_counter(p.b, NS_CTR_ip_drop_bad_csum) >
                   0);
    finish(&p, &a, &b);
}

/* A raw socket of protocol 253 sees only that protocol, and only from the
 * peer it is connected to; unconnected, it sees every sender. */
static void test_raw_socket_filters(void **state)
{
    (void)state;
    struct pair p;
    pair_build(&p, ns_test_seed(23), NULL);
    int conn = ns_socket(p.b, AF_INET, SOCK_RAW | SOCK_NONBLOCK, RP_PROTO);
    int any = ns_socket(p.b, AF_INET, SOCK_RAW | SOCK_NONBLOCK, RP_PROTO);
    int other = ns_socket(p.b, AF_INET, SOCK_RAW | SOCK_NONBLOCK, 254);
    int tx = ns_socket(p.a, AF_INET, SOCK_RAW, RP_PROTO);
    NS_ASSERT_SEED(conn >= 0 && any >= 0 && other >= 0 && tx >= 0);
    struct sockaddr_in stranger = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.0.2.99", &stranger.sin_addr);
    NS_ASSERT_SEED(ns_connect(p.b, conn, (struct sockaddr *)&stranger, sizeof(stranger)) == 0);
    struct sockaddr_in to_b = {.sin_family = AF_INET, .sin_addr = p.b_ip};
    NS_ASSERT_SEED(ns_sendto(p.a, tx, "rp!", 3, 0, (struct sockaddr *)&to_b, sizeof(to_b)) == 3);
    ns_sim_run_for(p.sim, 100000);
    uint8_t buf[128];
    NS_ASSERT_SEED(ns_recv(p.b, any, buf, sizeof(buf), 0) == 23); /* IPv4 header + 3 */
    NS_ASSERT_SEED(buf[9] == RP_PROTO && memcmp(buf + 20, "rp!", 3) == 0);
    NS_ASSERT_SEED(ns_recv(p.b, conn, buf, sizeof(buf), 0) == -1 && errno == EAGAIN);
    NS_ASSERT_SEED(ns_recv(p.b, other, buf, sizeof(buf), 0) == -1 && errno == EAGAIN);
    NS_ASSERT_SEED(ns_stack_counter(p.b, NS_CTR_icmp_tx) == 0);
    /* With no raw socket left for 253, the protocol is unreachable. */
    ns_close(p.b, conn);
    ns_close(p.b, any);
    NS_ASSERT_SEED(ns_sendto(p.a, tx, "rp?", 3, 0, (struct sockaddr *)&to_b, sizeof(to_b)) == 3);
    ns_sim_run_for(p.sim, 100000);
    NS_ASSERT_SEED(ns_stack_counter(p.b, NS_CTR_ip_drop_unknown_proto) == 1);
    NS_ASSERT_SEED(ns_stack_counter(p.b, NS_CTR_icmp_tx_unreach) == 1);
    ns_close(p.b, other);
    ns_close(p.a, tx);
    ns_sim_run_for(p.sim, 40000000);
    struct ns_pbuf_pool_stats ps;
    ns_stack_pbuf_stats(p.b, &ps);
    NS_ASSERT_SEED(ps.pool_free == ps.pool_total);
    ns_sim_free(p.sim);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rawproto_over_lossy_link),
        cmocka_unit_test(test_rawproto_with_every_fault),
        cmocka_unit_test(test_raw_socket_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
