/* tests/sim/test_sim_tcp_liveness.c — how TCP finds out that the other
 * end is gone, on a simulated link that can be cut.
 *
 * Topology: alice 192.0.2.10 ─link─ bob 192.0.2.20, 10 ms each way.
 * "Cutting" the link sets loss = 1.0 on both ports; restoring it sets the
 * original parameters back.
 *
 *   - TCP_USER_TIMEOUT (RFC 5482, RFC 9293 §3.8.3 USER TIMEOUT): a sender
 *     whose data goes unacknowledged longer than the user timeout fails
 *     with ETIMEDOUT; a link that comes back in time loses nothing.
 *   - R2 without a user timeout (RFC 1122 §4.2.3.5; tcp_retries2): after
 *     that many retransmissions the connection fails with ETIMEDOUT.
 *   - Keep-alives (RFC 1122 §4.2.3.6): an idle connection whose peer went
 *     away fails with ETIMEDOUT after idle + count x interval; one whose
 *     peer is alive survives any idle period.
 *
 * Replay a failure: NETSOCK_SEED=<seed> build-test/tests/test_sim_tcp_liveness
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "tcp/tcp.h"
#include "testutil.h"

#define PORT 7000
#define SEC 1000000ull

struct net {
    struct ns_sim *sim;
    struct ns_stack *alice, *bob;
    struct ns_simlink *link;
    struct ns_link_params params;
    uint32_t a_ip, b_ip; /* host order */
    int lfd;             /* bob's listener */
    int cfd, sfd;        /* alice's client socket, bob's accepted socket */
};

static uint64_t now(const struct net *n) { return ns_sim_now(n->sim); }

static void net_build(struct net *n, uint64_t seed, uint32_t retries2)
{
    memset(n, 0, sizeof(*n));
    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.tcp_msl_us = SEC;
    if (retries2)
        cfg.tcp_retries2 = retries2;
    n->sim = ns_sim_new(seed);
    assert_non_null(n->sim);
    n->alice = ns_sim_add_host(n->sim, "alice", &cfg);
    n->bob = ns_sim_add_host(n->sim, "bob", &cfg);
    ns_link_params_default(&n->params);
    n->params.delay_us = 10000;
    n->params.rate_bps = 10000000;
    int ai, bi;
    n->link = ns_sim_connect(n->sim, n->alice, n->bob, &n->params, &ai, &bi);
    assert_non_null(n->link);
    n->a_ip = 0xc000020au;
    n->b_ip = 0xc0000214u;
    struct in_addr a = {htonl(n->a_ip)}, b = {htonl(n->b_ip)};
    assert_int_equal(ns_if_addr_add(n->alice, ai, AF_INET, &a, 24), 0);
    assert_int_equal(ns_if_addr_add(n->bob, bi, AF_INET, &b, 24), 0);
    ns_sim_run_for(n->sim, 100000);

    n->lfd = ns_socket(n->bob, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(n->lfd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    assert_int_equal(ns_bind(n->bob, n->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(ns_listen(n->bob, n->lfd, 8), 0);
    n->cfd = ns_socket(n->alice, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(n->cfd >= 0);
    n->sfd = -1;
}

/* Connect alice to bob (options already set on n->cfd) and accept. */
static void net_connect(struct net *n)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    sin.sin_addr.s_addr = htonl(n->b_ip);
    int rc = ns_connect(n->alice, n->cfd, (struct sockaddr *)&sin, sizeof(sin));
    NS_ASSERT_SEED(rc == 0 || errno == EINPROGRESS);
    uint64_t limit = now(n) + 5 * SEC;
    while (n->sfd < 0 && now(n) < limit) {
        ns_sim_step(n->sim, limit);
        n->sfd = ns_accept4(n->bob, n->lfd, NULL, NULL, SOCK_NONBLOCK);
    }
    NS_ASSERT_SEED(n->sfd >= 0);
    struct pollfd p = {.fd = n->cfd, .events = POLLOUT};
    NS_ASSERT_SEED(ns_poll(n->alice, &p, 1, 0) == 1 && (p.revents & POLLOUT));
}

static void link_down(struct net *n)
{
    struct ns_link_params dead = n->params;
    dead.loss = 1.0;
    ns_simlink_set_params(n->link, 0, &dead);
    ns_simlink_set_params(n->link, 1, &dead);
}

static void link_up(struct net *n)
{
    ns_simlink_set_params(n->link, 0, &n->params);
    ns_simlink_set_params(n->link, 1, &n->params);
}

static uint8_t pattern(uint64_t off) { return (uint8_t)(off * 131 + (off >> 9)); }

/* A bulk transfer alice -> bob, driven until `until_us`, until everything
 * is delivered, or until alice's socket reports an error. Returns alice's
 * error (0 for none). `cut_at`/`heal_at`: when to cut and restore the
 * link (NS_TIME_NEVER: never). */
struct xfer {
    uint64_t total, sent, recvd;
    int err;
    uint64_t err_at;
    bool bad_byte;
};

static void pump(struct net *n, struct xfer *x, uint64_t until_us, uint64_t cut_at, uint64_t heal_at)
{
    uint8_t buf[4096];
    bool cut = false, healed = false;
    while (now(n) < until_us && x->err == 0 && x->recvd < x->total) {
        if (!cut && now(n) >= cut_at) {
            link_down(n);
            cut = true;
        }
        if (cut && !healed && now(n) >= heal_at) {
            link_up(n);
            healed = true;
        }
        bool progress = false;
        while (x->sent < x->total) {
            size_t k = sizeof(buf);
            if (k > x->total - x->sent)
                k = (size_t)(x->total - x->sent);
            for (size_t i = 0; i < k; i++)
                buf[i] = pattern(x->sent + i);
            ssize_t w = ns_send(n->alice, n->cfd, buf, k, 0);
            if (w < 0) {
                if (errno != EAGAIN) {
                    x->err = errno;
                    x->err_at = now(n);
                }
                break;
            }
            x->sent += (uint64_t)w;
            progress = true;
        }
        if (x->err)
            break;
        struct pollfd p = {.fd = n->cfd, .events = 0};
        if (ns_poll(n->alice, &p, 1, 0) == 1 && (p.revents & POLLERR)) {
            int e = 0;
            socklen_t el = sizeof(e);
            ns_getsockopt(n->alice, n->cfd, SOL_SOCKET, SO_ERROR, &e, &el);
            x->err = e;
            x->err_at = now(n);
            break;
        }
        for (;;) {
            ssize_t r = ns_recv(n->bob, n->sfd, buf, sizeof(buf), 0);
            if (r <= 0)
                break;
            for (ssize_t i = 0; i < r; i++)
                if (buf[i] != pattern(x->recvd + (uint64_t)i))
                    x->bad_byte = true;
            x->recvd += (uint64_t)r;
            progress = true;
        }
        if (!progress) {
            uint64_t limit = until_us;
            if (!cut && cut_at < limit)
                limit = cut_at;
            if (cut && !healed && heal_at < limit)
                limit = heal_at;
            if (!ns_sim_step(n->sim, limit))
                ns_sim_run_until(n->sim, limit);
        }
    }
}

static void set_int(struct ns_stack *st, int fd, int level, int name, int v)
{
    assert_int_equal(ns_setsockopt(st, fd, level, name, &v, sizeof(v)), 0);
}

/* Nothing left behind once both ends are closed and time passes. */
static void assert_clean(struct net *n)
{
    ns_close(n->alice, n->cfd);
    if (n->sfd >= 0)
        ns_close(n->bob, n->sfd);
    ns_close(n->bob, n->lfd);
    link_up(n);
    ns_sim_run_for(n->sim, 300 * SEC);
    struct ns_stack *hosts[2] = {n->alice, n->bob};
    for (int i = 0; i < 2; i++) {
        NS_ASSERT_SEED(ns_sock_list(hosts[i], NULL, 0) == 0);
        NS_ASSERT_SEED(hosts[i]->tcp->nconn == 0);
        struct ns_pbuf_pool_stats ps;
        ns_stack_pbuf_stats(hosts[i], &ps);
        NS_ASSERT_SEED(ps.pool_free == ps.pool_total && ps.heap_bytes == 0);
    }
}

/* RFC 5482 / RFC 9293 §3.8.3: data unacknowledged for longer than the user
 * timeout aborts the connection with ETIMEDOUT — close to the timeout, not
 * at the next exponentially backed-off retransmission. */
static void test_user_timeout_expires(void **state)
{
    (void)state;
    struct net n;
    net_build(&n, ns_test_seed(1), 0);
    set_int(n.alice, n.cfd, IPPROTO_TCP, TCP_USER_TIMEOUT, 2500);
    net_connect(&n);
    struct xfer x = {.total = 4u << 20};
    uint64_t cut = now(&n) + 500000;
    pump(&n, &x, cut + 60 * SEC, cut, NS_TIME_NEVER);
    NS_ASSERT_SEED(x.err == ETIMEDOUT);
    NS_ASSERT_SEED(!x.bad_byte);
    NS_ASSERT_SEED(x.recvd < x.total);
    /* The timeout runs from the last acknowledgment of new data, which
     * arrives within a few milliseconds of the cut: before it when the
     * cut also loses the ACKs in flight (at 10 Mbit/s a delayed ACK
     * covers two segments, ~2.3 ms), so allow one RTT (20 ms) either
     * way. (Exactly at the cut without RFC 7323, 2 ms before it with.) */
    fprintf(stderr, "  user timeout 2.5 s: ETIMEDOUT %.3f s after the cut\n",
            (double)(x.err_at - cut) / 1e6);
    NS_ASSERT_SEED(x.err_at >= cut + 2500000 - 20000);
    NS_ASSERT_SEED(x.err_at <= cut + 2600000);
    /* Once the link is back, bob learns of the abort from alice's RST
     * (answering his next segment) or his own retransmissions. */
    assert_clean(&n);
    ns_sim_free(n.sim);
}

/* The link is down for less than the user timeout: nothing is lost. */
static void test_user_timeout_outage_survived(void **state)
{
    (void)state;
    struct net n;
    net_build(&n, ns_test_seed(2), 0);
    set_int(n.alice, n.cfd, IPPROTO_TCP, TCP_USER_TIMEOUT, 20000);
    net_connect(&n);
    struct xfer x = {.total = 2u << 20};
    uint64_t cut = now(&n) + 300000;
    pump(&n, &x, cut + 300 * SEC, cut, cut + 8 * SEC);
    NS_ASSERT_SEED(x.err == 0);
    NS_ASSERT_SEED(!x.bad_byte);
    NS_ASSERT_SEED(x.recvd == x.total);
    NS_ASSERT_SEED(ns_stack_counter(n.alice, NS_CTR_tcp_rto_timeouts) > 0);
    assert_clean(&n);
    ns_sim_free(n.sim);
}

/* RFC 1122 §4.2.3.5 R2: without a user timeout, tcp_retries2
 * retransmissions of the same data end the connection with ETIMEDOUT. */
static void test_retries2_gives_up(void **state)
{
    (void)state;
    struct net n;
    net_build(&n, ns_test_seed(3), 4);
    net_connect(&n);
    struct xfer x = {.total = 1u << 20};
    uint64_t cut = now(&n) + 200000;
    pump(&n, &x, cut + 600 * SEC, cut, NS_TIME_NEVER);
    NS_ASSERT_SEED(x.err == ETIMEDOUT);
    NS_ASSERT_SEED(!x.bad_byte);
    /* 4 backed-off retransmissions, then one more timeout: with an RTO of
     * at least 200 ms that is at least 0.2 x (1+2+4+8+16) = 6.2 s, and
     * with RTO <= 1 s here at most 31 s. */
    fprintf(stderr, "  retries2 4: ETIMEDOUT %.3f s after the cut\n", (double)(x.err_at - cut) / 1e6);
    NS_ASSERT_SEED(x.err_at - cut >= 6 * SEC);
    NS_ASSERT_SEED(x.err_at - cut <= 32 * SEC);
    NS_ASSERT_SEED(ns_stack_counter(n.alice, NS_CTR_tcp_timeouts) == 1);
    assert_clean(&n);
    ns_sim_free(n.sim);
}

/* Idle connection, keepalive on; run `idle_s` seconds and report the
 * error alice's socket ends with (0: none) and when. */
static int idle_keepalive(struct net *n, uint64_t idle_s, uint64_t cut_at, uint64_t *err_at)
{
    uint64_t until = now(n) + idle_s * SEC;
    bool cut = false;
    while (now(n) < until) {
        if (!cut && now(n) >= cut_at) {
            link_down(n);
            cut = true;
        }
        struct pollfd p = {.fd = n->cfd, .events = POLLIN};
        if (ns_poll(n->alice, &p, 1, 0) == 1) {
            uint8_t b;
            ssize_t r = ns_recv(n->alice, n->cfd, &b, 1, 0);
            *err_at = now(n);
            return r < 0 ? errno : -1; /* -1: data or EOF, unexpected */
        }
        uint64_t limit = !cut && cut_at < until ? cut_at : until;
        if (!ns_sim_step(n->sim, limit))
            ns_sim_run_until(n->sim, limit);
    }
    return 0;
}

static void keepalive_on(struct ns_stack *st, int fd)
{
    set_int(st, fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    set_int(st, fd, IPPROTO_TCP, TCP_KEEPIDLE, 5);
    set_int(st, fd, IPPROTO_TCP, TCP_KEEPINTVL, 2);
    set_int(st, fd, IPPROTO_TCP, TCP_KEEPCNT, 3);
}

/* RFC 1122 §4.2.3.6: keep-alives find a dead peer: after the idle time
 * and keepcnt unanswered probes keepintvl apart, ETIMEDOUT (Linux: at
 * idle + cnt x intvl of silence). */
static void test_keepalive_detects_dead_peer(void **state)
{
    (void)state;
    struct net n;
    net_build(&n, ns_test_seed(4), 0);
    keepalive_on(n.alice, n.cfd);
    net_connect(&n);
    /* Some traffic first, so "last heard from" is a known time. */
    struct xfer x = {.total = 10000};
    pump(&n, &x, now(&n) + 5 * SEC, NS_TIME_NEVER, NS_TIME_NEVER);
    NS_ASSERT_SEED(x.recvd == x.total && x.err == 0);
    uint64_t quiet = now(&n);
    uint64_t err_at = 0;
    int e = idle_keepalive(&n, 60, quiet + SEC, &err_at);
    fprintf(stderr, "  keepalive 5+3x2: ETIMEDOUT %.3f s after the last segment\n",
            (double)(err_at - quiet) / 1e6);
    NS_ASSERT_SEED(e == ETIMEDOUT);
    NS_ASSERT_SEED(err_at - quiet >= 11 * SEC - 100000);
    NS_ASSERT_SEED(err_at - quiet <= 12 * SEC);
    NS_ASSERT_SEED(ns_stack_counter(n.alice, NS_CTR_tcp_keepalive_probes) == 3);
    assert_clean(&n);
    ns_sim_free(n.sim);
}

/* A live peer answers every probe: an hour of silence changes nothing,
 * and the connection still carries data afterwards. Both ends keep alive
 * (bob's through the listener, inherited by accept). */
static void test_keepalive_live_peer_survives(void **state)
{
    (void)state;
    struct net n;
    net_build(&n, ns_test_seed(5), 0);
    keepalive_on(n.alice, n.cfd);
    keepalive_on(n.bob, n.lfd);
    net_connect(&n);
    uint64_t err_at = 0;
    int e = idle_keepalive(&n, 3600, NS_TIME_NEVER, &err_at);
    NS_ASSERT_SEED(e == 0);
    uint64_t a_probes = ns_stack_counter(n.alice, NS_CTR_tcp_keepalive_probes);
    uint64_t b_probes = ns_stack_counter(n.bob, NS_CTR_tcp_keepalive_probes);
    fprintf(stderr, "  keepalive for an hour: %llu + %llu probes\n", (unsigned long long)a_probes,
            (unsigned long long)b_probes);
    /* About one probe per idle period from each end (each answer counts as
     * traffic for the end that probed, but the other end's idle timer keeps
     * running: Linux probes from both). */
    NS_ASSERT_SEED(a_probes >= 3600 / 5 / 2 && a_probes <= 3600 / 5 + 1);
    NS_ASSERT_SEED(b_probes >= 3600 / 5 / 2 && b_probes <= 3600 / 5 + 1);
    struct xfer x = {.total = 100000};
    pump(&n, &x, now(&n) + 10 * SEC, NS_TIME_NEVER, NS_TIME_NEVER);
    NS_ASSERT_SEED(x.recvd == x.total && x.err == 0 && !x.bad_byte);
    assert_clean(&n);
    ns_sim_free(n.sim);
}

/* A peer that lost its state (its socket was aborted while the link was
 * down, so our side never heard the RST) answers a keep-alive probe with a
 * RST: ECONNRESET, well before keepcnt probes. */
static void test_keepalive_peer_lost_state(void **state)
{
    (void)state;
    struct net n;
    net_build(&n, ns_test_seed(6), 0);
    keepalive_on(n.alice, n.cfd);
    net_connect(&n);
    link_down(&n);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(ns_setsockopt(n.bob, n.sfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    ns_close(n.bob, n.sfd);
    n.sfd = -1;
    ns_sim_run_for(n.sim, SEC);
    link_up(&n);
    uint64_t t0 = now(&n), err_at = 0;
    int e = idle_keepalive(&n, 60, NS_TIME_NEVER, &err_at);
    NS_ASSERT_SEED(e == ECONNRESET);
    NS_ASSERT_SEED(err_at - t0 <= 6 * SEC);
    assert_clean(&n);
    ns_sim_free(n.sim);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_timeout_expires),
        cmocka_unit_test(test_user_timeout_outage_survived),
        cmocka_unit_test(test_retries2_gives_up),
        cmocka_unit_test(test_keepalive_detects_dead_peer),
        cmocka_unit_test(test_keepalive_live_peer_survives),
        cmocka_unit_test(test_keepalive_peer_lost_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
