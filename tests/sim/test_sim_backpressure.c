/* tests/sim/test_sim_backpressure.c — transmit backpressure end to end:
 * a host's own link queue that is full holds its TCP senders back instead
 * of dropping their segments, while a router's full egress queue still
 * drops (include/netsock/dev.h, docs/architecture.md).
 *
 *   direct:  alice 192.0.2.10 ─10 Mbit/s, queue of 3 frames─ bob 192.0.2.20
 *            alice writes 2 MiB as fast as the API takes it. The queue is
 *            full most of the time, yet no frame is dropped at alice's
 *            port, nothing is retransmitted, the bytes arrive exactly, and
 *            the link stays busy (the transfer takes the serialization
 *            time, give or take the handshake and the last RTT).
 *   shared:  two connections from alice over that link share it: each
 *            waits its turn (round robin among the senders of an
 *            interface), neither starves, neither loses a segment.
 *   udp:     a UDP burst on the same link: what does not fit is dropped
 *            at alice's port and counted (dev_tx_full_drop, queue_full).
 *   router:  alice ─100 Mbit/s─ router ─10 Mbit/s, queue of 8 frames─ bob.
 *            alice's own queue (3 frames) still loses nothing, but the
 *            router's egress queue overflows: forwarded packets are
 *            dropped and counted there; TCP recovers them by
 *            retransmission and the bytes arrive exactly.
 *
 * Replay a failure: NETSOCK_SEED=<seed> build-test/tests/test_sim_backpressure
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "testutil.h"

#define PORT 7000
#define SEC 1000000ull
#define FRAME 1514u /* a full-sized Ethernet frame */

struct net {
    struct ns_sim *sim;
    struct ns_stack *alice, *bob, *router; /* router NULL when direct */
    struct ns_simlink *link_a, *link_b;   /* alice's link; the router's link to bob */
    int a_if, b_if, r_if_b;
    uint32_t b_ip;
    int lfd;
};

static uint64_t now(const struct net *n) { return ns_sim_now(n->sim); }

static void net_build(struct net *n, bool with_router)
{
    memset(n, 0, sizeof(*n));
    n->sim = ns_sim_new(ns_test_seed(0xb9c4));
    assert_non_null(n->sim);
    n->alice = ns_sim_add_host(n->sim, "alice", NULL);
    if (with_router) {
        struct ns_config rcfg;
        ns_config_default(&rcfg);
        rcfg.ip_forward = true;
        n->router = ns_sim_add_host(n->sim, "router", &rcfg);
    }
    n->bob = ns_sim_add_host(n->sim, "bob", NULL);

    /* alice's port: 3 frames of queue. */
    struct ns_link_params pa;
    ns_link_params_default(&pa);
    pa.rate_bps = with_router ? 100000000 : 10000000;
    pa.queue_bytes = 3 * FRAME;
    pa.delay_us = 5000;
    struct in_addr any = {0};
    if (!with_router) {
        n->link_a = ns_sim_connect(n->sim, n->alice, n->bob, &pa, &n->a_if, &n->b_if);
        assert_non_null(n->link_a);
        n->b_ip = 0xc0000214u; /* 192.0.2.20 */
        struct in_addr a = {htonl(0xc000020au)}, b = {htonl(n->b_ip)};
        assert_int_equal(ns_if_addr_add(n->alice, n->a_if, AF_INET, &a, 24), 0);
        assert_int_equal(ns_if_addr_add(n->bob, n->b_if, AF_INET, &b, 24), 0);
    } else {
        int r_if_a;
        n->link_a = ns_sim_connect(n->sim, n->alice, n->router, &pa, &n->a_if, &r_if_a);
        /* The router's port towards bob: 10 Mbit/s and 8 frames of queue;
         * bob's port back: plenty for the ACKs. */
        struct ns_link_params pr = pa;
        pr.rate_bps = 10000000;
        pr.queue_bytes = 8 * FRAME;
        n->link_b = ns_sim_connect(n->sim, n->router, n->bob, &pr, &n->r_if_b, &n->b_if);
        assert_non_null(n->link_a);
        assert_non_null(n->link_b);
        n->b_ip = 0xc6336414u; /* 198.51.100.20 */
        struct in_addr a = {htonl(0xc000020au)}, b = {htonl(n->b_ip)};
        struct in_addr g0 = {htonl(0xc0000201u)}, g1 = {htonl(0xc6336401u)};
        assert_int_equal(ns_if_addr_add(n->alice, n->a_if, AF_INET, &a, 24), 0);
        assert_int_equal(ns_if_addr_add(n->bob, n->b_if, AF_INET, &b, 24), 0);
        assert_int_equal(ns_if_addr_add(n->router, r_if_a, AF_INET, &g0, 24), 0);
        assert_int_equal(ns_if_addr_add(n->router, n->r_if_b, AF_INET, &g1, 24), 0);
        assert_int_equal(ns_route_add(n->alice, AF_INET, &any, 0, &g0, 0), 0);
        assert_int_equal(ns_route_add(n->bob, AF_INET, &any, 0, &g1, 0), 0);
    }
    ns_sim_run_for(n->sim, 100000);
    n->lfd = ns_socket(n->bob, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    assert_int_equal(ns_bind(n->bob, n->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(ns_listen(n->bob, n->lfd, 8), 0);
}

static uint8_t pattern(unsigned conn, uint64_t off) { return (uint8_t)(off * 131 + (off >> 9) + conn * 77); }

/* One bulk transfer alice -> bob. */
struct xfer {
    int cfd, sfd;
    uint64_t total, sent, recvd;
    bool bad_byte;
    uint64_t done_at;
};

static void xfer_open(struct net *n, struct xfer *x, uint64_t total)
{
    memset(x, 0, sizeof(*x));
    x->total = total;
    x->sfd = -1;
    x->cfd = ns_socket(n->alice, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(x->cfd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    sin.sin_addr.s_addr = htonl(n->b_ip);
    int rc = ns_connect(n->alice, x->cfd, (struct sockaddr *)&sin, sizeof(sin));
    NS_ASSERT_SEED(rc == -1 && errno == EINPROGRESS);
    uint64_t limit = now(n) + 5 * SEC;
    while (x->sfd < 0 && now(n) < limit) {
        ns_sim_step(n->sim, limit);
        x->sfd = ns_accept4(n->bob, n->lfd, NULL, NULL, SOCK_NONBLOCK);
    }
    NS_ASSERT_SEED(x->sfd >= 0);
}

/* Write and read what the sockets take; true when something moved. */
static bool xfer_move(struct net *n, struct xfer *x, unsigned conn)
{
    uint8_t buf[8192];
    bool moved = false;
    while (x->sent < x->total) {
        size_t k = x->total - x->sent < sizeof(buf) ? (size_t)(x->total - x->sent) : sizeof(buf);
        for (size_t i = 0; i < k; i++)
            buf[i] = pattern(conn, x->sent + i);
        ssize_t w = ns_send(n->alice, x->cfd, buf, k, 0);
        if (w <= 0) {
            NS_ASSERT_SEED(w < 0 && errno == EAGAIN);
            break;
        }
        x->sent += (uint64_t)w;
        moved = true;
    }
    for (;;) {
        ssize_t r = ns_recv(n->bob, x->sfd, buf, sizeof(buf), 0);
        if (r <= 0) {
            NS_ASSERT_SEED(r < 0 && errno == EAGAIN);
            break;
        }
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(conn, x->recvd + (uint64_t)i))
                x->bad_byte = true;
        x->recvd += (uint64_t)r;
        moved = true;
        if (x->recvd == x->total)
            x->done_at = now(n);
    }
    return moved;
}

/* Run transfers until all are done or limit_us passes. */
static void run(struct net *n, struct xfer *x, unsigned nx, uint64_t limit_us)
{
    for (;;) {
        bool all_done = true;
        for (unsigned i = 0; i < nx; i++) {
            xfer_move(n, &x[i], i);
            all_done = all_done && x[i].recvd == x[i].total;
        }
        if (all_done || now(n) >= limit_us)
            return;
        if (!ns_sim_step(n->sim, limit_us))
            return;
    }
}

static uint64_t ctr(struct ns_stack *st, enum ns_counter c) { return ns_stack_counter(st, c); }

static void net_free(struct net *n) { ns_sim_free(n->sim); }

/* ---- a host's own queue: backpressure, no loss ---------------------------- */

static void test_direct_no_loss(void **state)
{
    (void)state;
    struct net n;
    net_build(&n, false);
    struct xfer x;
    xfer_open(&n, &x, 2u << 20);
    uint64_t t0 = now(&n);
    run(&n, &x, 1, t0 + 30 * SEC);
    NS_ASSERT_SEED(x.recvd == x.total);
    NS_ASSERT_SEED(!x.bad_byte);

    struct ns_impair_stats st;
    ns_simlink_stats(n.link_a, 0, &st);
    struct ns_dev *dev = ns_if_dev(n.alice, n.a_if);
    /* The queue was full again and again... */
    NS_ASSERT_SEED(st.queue_full > 100);
    NS_ASSERT_SEED(dev->stats.tx_busy == st.queue_full);
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_dev_tx_deferred) == st.queue_full);
    /* ...and never dropped anything: nothing lost, nothing resent. */
    NS_ASSERT_SEED(st.queue_drop == 0 && st.lost == 0);
    NS_ASSERT_SEED(dev->stats.tx_drop == 0);
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_dev_tx_full_drop) == 0);
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_dev_tx_err) == 0);
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_tcp_retrans_segs) == 0);
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_tcp_rto_timeouts) == 0);
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_tcp_fast_retransmits) == 0);
    struct tcp_info ti;
    socklen_t tl = sizeof(ti);
    assert_int_equal(ns_getsockopt(n.alice, x.cfd, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
    NS_ASSERT_SEED(ti.tcpi_total_retrans == 0);
    /* The link never idled while data waited: the transfer took its
     * serialization time (frames of 1448 payload bytes) plus a little. */
    uint64_t frames = (x.total + 1447) / 1448;
    uint64_t wire_us = frames * FRAME * 8 * SEC / 10000000;
    uint64_t took = x.done_at - t0;
    fprintf(stderr, "direct: %" PRIu64 " bytes in %.3f s (wire time %.3f s), %" PRIu64
            " refusals, 0 drops, 0 retransmissions\n",
            x.total, (double)took / SEC, (double)wire_us / SEC, st.queue_full);
    NS_ASSERT_SEED(took >= wire_us);
    NS_ASSERT_SEED(took < wire_us + wire_us / 20 + 100000);
    net_free(&n);
}

static void test_shared_queue_round_robin(void **state)
{
    (void)state;
    struct net n;
    net_build(&n, false);
    struct xfer x[2];
    xfer_open(&n, &x[0], 1u << 20);
    xfer_open(&n, &x[1], 1u << 20);
    run(&n, x, 2, now(&n) + 30 * SEC);
    for (int i = 0; i < 2; i++) {
        NS_ASSERT_SEED(x[i].recvd == x[i].total);
        NS_ASSERT_SEED(!x[i].bad_byte);
    }
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_tcp_retrans_segs) == 0);
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_dev_tx_full_drop) == 0);
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_dev_tx_deferred) > 100);
    /* Neither starved: they finished close together (the second within
     * 10 % of the whole transfer time after the first). */
    uint64_t first = x[0].done_at < x[1].done_at ? x[0].done_at : x[1].done_at;
    uint64_t last = x[0].done_at < x[1].done_at ? x[1].done_at : x[0].done_at;
    fprintf(stderr, "shared: done at %.3f s and %.3f s\n", (double)x[0].done_at / SEC,
            (double)x[1].done_at / SEC);
    NS_ASSERT_SEED(last - first < last / 10);
    net_free(&n);
}

static void test_udp_still_drops(void **state)
{
    (void)state;
    struct net n;
    net_build(&n, false);
    int u = ns_socket(n.alice, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
    to.sin_addr.s_addr = htonl(n.b_ip);
    uint8_t data[1400] = {0};
    /* Resolve bob's address first (the ARP hold queue would take a burst). */
    assert_int_equal(ns_sendto(n.alice, u, data, 1, 0, (struct sockaddr *)&to, sizeof(to)), 1);
    ns_sim_run_for(n.sim, 100000);
    int ok = 0, nobufs = 0;
    for (int i = 0; i < 20; i++) {
        ssize_t w = ns_sendto(n.alice, u, data, sizeof(data), 0, (struct sockaddr *)&to, sizeof(to));
        if (w == (ssize_t)sizeof(data))
            ok++;
        else if (w == -1 && errno == ENOBUFS)
            nobufs++;
    }
    /* Three fit the queue; the rest are dropped at alice's port. */
    NS_ASSERT_SEED(ok == 3 && nobufs == 17);
    struct ns_impair_stats st;
    ns_simlink_stats(n.link_a, 0, &st);
    NS_ASSERT_SEED(st.queue_full == 17);
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_dev_tx_full_drop) == 17);
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_dev_tx_deferred) == 0);
    net_free(&n);
}

/* ---- a router's egress queue: still drops ----------------------------------- */

static void test_router_egress_drops(void **state)
{
    (void)state;
    struct net n;
    net_build(&n, true);
    struct xfer x;
    xfer_open(&n, &x, 2u << 20);
    run(&n, &x, 1, now(&n) + 60 * SEC);
    NS_ASSERT_SEED(x.recvd == x.total);
    NS_ASSERT_SEED(!x.bad_byte);

    /* The router's port towards bob overflowed: forwarded packets dropped
     * and counted. */
    struct ns_impair_stats rs;
    ns_simlink_stats(n.link_b, 0, &rs);
    struct ns_dev *rdev = ns_if_dev(n.router, n.r_if_b);
    NS_ASSERT_SEED(rs.queue_full > 0);
    NS_ASSERT_SEED(ctr(n.router, NS_CTR_dev_tx_full_drop) == rs.queue_full);
    NS_ASSERT_SEED(rdev->stats.tx_busy == rs.queue_full);
    NS_ASSERT_SEED(ctr(n.router, NS_CTR_dev_tx_deferred) == 0);
    fprintf(stderr,
            "router: %" PRIu64 " forwarded packets dropped at the egress, %" PRIu64
            " retransmitted by alice, %" PRIu64 " refusals at alice's own port\n",
            rs.queue_full, ctr(n.alice, NS_CTR_tcp_retrans_segs),
            ctr(n.alice, NS_CTR_dev_tx_deferred));
    /* TCP found those losses and repaired them. */
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_tcp_retrans_segs) > 0);
    /* alice's own port, fast as it is, refused frames now and then but
     * never lost one. */
    struct ns_impair_stats as;
    ns_simlink_stats(n.link_a, 0, &as);
    NS_ASSERT_SEED(as.queue_drop == 0);
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_dev_tx_full_drop) == 0);
    NS_ASSERT_SEED(ns_if_dev(n.alice, n.a_if)->stats.tx_drop == 0);
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_dev_tx_deferred) == as.queue_full);
    net_free(&n);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_direct_no_loss),
        cmocka_unit_test(test_shared_queue_round_robin),
        cmocka_unit_test(test_udp_still_drops),
        cmocka_unit_test(test_router_egress_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
