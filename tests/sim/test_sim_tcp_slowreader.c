/* tests/sim/test_sim_tcp_slowreader.c — a receiver whose application
 * stops reading, on a clean simulated link.
 *
 * Topology: alice 192.0.2.10 ─link─ bob 192.0.2.20, 10 ms each way,
 * 100 Mbit/s. Alice writes 4 MiB as fast as her send buffer takes it; bob
 * reads nothing for a while (30 s, 20 min of virtual time), then reads
 * everything. What must hold (RFC 9293 §3.8.6, RFC 7323 §2.4, as Linux):
 *
 *   - bob's window closes to zero once his buffer is full, and every
 *     byte inside any window he advertised is taken (no byte trimmed,
 *     none dropped in the window);
 *   - alice persists: window probes for as long as bob answers, no
 *     retransmission timeout, no ETIMEDOUT;
 *   - once bob reads, his window update goes out at once and the rest of
 *     the 4 MiB arrives within seconds (asserted in virtual time), every
 *     byte intact.
 *
 * Replay a failure: NETSOCK_SEED=<seed> build-test/tests/test_sim_tcp_slowreader
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
#define TOTAL (4u << 20)

struct net {
    struct ns_sim *sim;
    struct ns_stack *alice, *bob;
    int lfd, cfd, sfd;
};

static uint64_t now(const struct net *n) { return ns_sim_now(n->sim); }

static void net_open(struct net *n, uint64_t seed, const struct ns_config *cfg)
{
    memset(n, 0, sizeof(*n));
    n->sim = ns_sim_new(seed);
    assert_non_null(n->sim);
    n->alice = ns_sim_add_host(n->sim, "alice", cfg);
    n->bob = ns_sim_add_host(n->sim, "bob", cfg);
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 10000;
    p.rate_bps = 100000000;
    int ai, bi;
    assert_non_null(ns_sim_connect(n->sim, n->alice, n->bob, &p, &ai, &bi));
    struct in_addr a = {htonl(0xc000020au)}, b = {htonl(0xc0000214u)};
    assert_int_equal(ns_if_addr_add(n->alice, ai, AF_INET, &a, 24), 0);
    assert_int_equal(ns_if_addr_add(n->bob, bi, AF_INET, &b, 24), 0);
    ns_sim_run_for(n->sim, 100000);

    n->lfd = ns_socket(n->bob, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    assert_int_equal(ns_bind(n->bob, n->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(ns_listen(n->bob, n->lfd, 8), 0);
    n->cfd = ns_socket(n->alice, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sin.sin_addr = b;
    int rc = ns_connect(n->alice, n->cfd, (struct sockaddr *)&sin, sizeof(sin));
    NS_ASSERT_SEED(rc == 0 || errno == EINPROGRESS);
    n->sfd = -1;
    uint64_t limit = now(n) + 5 * SEC;
    while (n->sfd < 0 && now(n) < limit) {
        ns_sim_step(n->sim, limit);
        n->sfd = ns_accept4(n->bob, n->lfd, NULL, NULL, SOCK_NONBLOCK);
    }
    NS_ASSERT_SEED(n->sfd >= 0);
}

static uint8_t pattern(uint64_t off) { return (uint8_t)(off * 131 + (off >> 9)); }

struct xfer {
    uint64_t sent, recvd;
    int err;              /* alice's socket error, 0 for none */
    bool bad_byte;
    uint64_t done_at;     /* when bob had read everything */
};

/* Alice writes TOTAL bytes; bob reads only from `resume_at` on. Runs
 * until everything is read, an error, or `until`. */
static void pump(struct net *n, struct xfer *x, uint64_t resume_at, uint64_t until)
{
    static uint8_t buf[16384];
    while (now(n) < until && x->err == 0 && x->recvd < TOTAL) {
        bool progress = false;
        while (x->sent < TOTAL) {
            size_t k = sizeof(buf) < TOTAL - x->sent ? sizeof(buf) : (size_t)(TOTAL - x->sent);
            for (size_t i = 0; i < k; i++)
                buf[i] = pattern(x->sent + i);
            ssize_t w = ns_send(n->alice, n->cfd, buf, k, 0);
            if (w < 0) {
                if (errno != EAGAIN)
                    x->err = errno;
                break;
            }
            x->sent += (uint64_t)w;
            progress = true;
        }
        struct pollfd p = {.fd = n->cfd, .events = 0};
        if (ns_poll(n->alice, &p, 1, 0) == 1 && (p.revents & POLLERR)) {
            socklen_t el = sizeof(x->err);
            ns_getsockopt(n->alice, n->cfd, SOL_SOCKET, SO_ERROR, &x->err, &el);
            break;
        }
        while (now(n) >= resume_at) {
            ssize_t r = ns_recv(n->bob, n->sfd, buf, sizeof(buf), 0);
            if (r <= 0)
                break;
            for (ssize_t i = 0; i < r; i++)
                if (buf[i] != pattern(x->recvd + (uint64_t)i))
                    x->bad_byte = true;
            x->recvd += (uint64_t)r;
            progress = true;
        }
        if (x->recvd == TOTAL)
            x->done_at = now(n);
        if (!progress) {
            uint64_t limit = now(n) < resume_at && resume_at < until ? resume_at : until;
            if (!ns_sim_step(n->sim, limit))
                ns_sim_run_until(n->sim, limit);
        }
    }
}

static uint64_t ctr(struct ns_stack *st, enum ns_counter c) { return ns_stack_counter(st, c); }

/* Bob pauses `pause_s` seconds right after the connection opens. */
static void slow_reader(uint64_t seed, uint64_t pause_s, bool timestamps)
{
    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.tcp_timestamps = timestamps;
    struct net n;
    net_open(&n, seed, &cfg);
    struct xfer x = {0};
    uint64_t resume = now(&n) + pause_s * SEC;
    pump(&n, &x, resume, resume + 120 * SEC);
    uint64_t probes = ctr(n.alice, NS_CTR_tcp_zero_window_probes);
    fprintf(stderr,
            "  pause %llu s%s: read %llu bytes, done %.3f s after resuming; alice: %llu window "
            "probes, %llu RTOs, %llu retransmitted, %llu TLPs; bob: %llu trimmed, %llu dropped in window, %llu retracted\n",
            (unsigned long long)pause_s, timestamps ? "" : " (no timestamps)",
            (unsigned long long)x.recvd,
            x.done_at ? (double)(x.done_at - resume) / 1e6 : -1.0, (unsigned long long)probes,
            (unsigned long long)ctr(n.alice, NS_CTR_tcp_rto_timeouts),
            (unsigned long long)ctr(n.alice, NS_CTR_tcp_retrans_segs),
            (unsigned long long)ctr(n.alice, NS_CTR_tcp_tlp_probes),
            (unsigned long long)ctr(n.bob, NS_CTR_tcp_rcvbuf_trim),
            (unsigned long long)ctr(n.bob, NS_CTR_tcp_rcv_inwin_drop),
            (unsigned long long)ctr(n.bob, NS_CTR_tcp_rcv_wnd_retract));
    NS_ASSERT_SEED(x.err == 0);
    NS_ASSERT_SEED(x.recvd == TOTAL);
    NS_ASSERT_SEED(!x.bad_byte);
    /* Within seconds of resuming: 4 MiB take 0.34 s at 100 Mbit/s, plus
     * slow start from the restart window after the idle period. */
    NS_ASSERT_SEED(x.done_at - resume <= 3 * SEC);
    /* Alice persisted (probes answered for the whole pause), and never
     * timed out: nothing she sent was refused by the window. */
    NS_ASSERT_SEED(probes >= 1);
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_tcp_rto_timeouts) == 0);
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_tcp_timeouts) == 0);
    /* Each probe after the first resends the same byte, and so does the
     * first segment once the window opens; besides, at most a tail loss
     * probe (RFC 8985 §7) resends anything. */
    NS_ASSERT_SEED(ctr(n.alice, NS_CTR_tcp_retrans_segs) <=
                   probes + ctr(n.alice, NS_CTR_tcp_tlp_probes));
    /* Bob took every byte of every window he offered. */
    NS_ASSERT_SEED(ctr(n.bob, NS_CTR_tcp_rcvbuf_trim) == 0);
    NS_ASSERT_SEED(ctr(n.bob, NS_CTR_tcp_rcv_inwin_drop) == 0);
    ns_close(n.alice, n.cfd);
    ns_close(n.bob, n.sfd);
    ns_close(n.bob, n.lfd);
    ns_sim_run_for(n.sim, 300 * SEC);
    struct ns_stack *hosts[2] = {n.alice, n.bob};
    for (int i = 0; i < 2; i++) {
        NS_ASSERT_SEED(hosts[i]->tcp->nconn == 0);
        struct ns_pbuf_pool_stats ps;
        ns_stack_pbuf_stats(hosts[i], &ps);
        NS_ASSERT_SEED(ps.pool_free == ps.pool_total && ps.heap_bytes == 0);
    }
    ns_sim_free(n.sim);
}

static void test_pause_30s(void **state)
{
    (void)state;
    slow_reader(ns_test_seed(1), 30, true);
}

static void test_pause_20min(void **state)
{
    (void)state;
    slow_reader(ns_test_seed(2), 20 * 60, true);
}

static void test_pause_20min_no_timestamps(void **state)
{
    (void)state;
    slow_reader(ns_test_seed(3), 20 * 60, false);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pause_30s),
        cmocka_unit_test(test_pause_20min),
        cmocka_unit_test(test_pause_20min_no_timestamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
