/* tests/sim/test_sim_tcp_autotune.c — socket-buffer autotuning and
 * HyStart++ on a path with a large bandwidth-delay product.
 *
 * Topology: alice 192.0.2.10 ─link─ bob 192.0.2.20, 100 Mbit/s each way,
 * 50 ms each way (RTT 100 ms, BDP 1.25 MB), a bottleneck queue of one BDP.
 * Alice sends a bulk stream to bob, whose application reads everything as
 * soon as it arrives; goodput is the stream's bytes over the virtual time
 * from connect() to the last byte read.
 *
 *   - Autotuning (the defaults): bob's receive buffer grows from 128 KiB
 *     to several BDPs (the window offered follows it, thanks to the
 *     window shift offered for tcp_rmem_max), alice's send buffer grows
 *     from 16 KiB with her congestion window, and goodput comes near the
 *     link rate.
 *   - SO_RCVBUF set on bob (or on his listener): the buffer keeps its size,
 *     and goodput is held to about buffer/RTT. SO_SNDBUF on alice: her
 *     send buffer keeps its size.
 *   - Idle connections (a short request and answer, then nothing) keep
 *     their initial buffer sizes, and their storage stays at a few KiB.
 *   - HyStart++ leaves slow start before the queue overflows: no
 *     retransmission in the whole transfer; with cfg.tcp_hystart off, slow
 *     start overshoots the queue and segments are lost.
 *
 * NETSOCK_VERBOSE=1 prints each transfer's numbers. Everything runs on
 * virtual time; the seed only names the run (nothing here is random).
 * Replay: NETSOCK_SEED=<seed> build-test/tests/test_sim_tcp_autotune
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
#include "socket/fdtable.h"
#include "socket/sock.h"
#include "tcp/tcp.h"
#include "testutil.h"

#define PORT 5001
#define SEC 1000000ull
#define RATE_BPS 100000000ull
#define ONE_WAY_US 50000ull
#define BDP_BYTES (RATE_BPS / 8 * 2 * ONE_WAY_US / SEC) /* 1.25 MB */

struct opts {
    bool hystart;          /* cfg.tcp_hystart on both hosts */
    bool moderate;         /* cfg.tcp_moderate_rcvbuf */
    int bob_rcvbuf;        /* SO_RCVBUF on bob's listener (0: not set) */
    int alice_sndbuf;      /* SO_SNDBUF on alice's socket (0: not set) */
    uint32_t queue_bytes;  /* bottleneck queue */
    uint64_t bytes;        /* stream length */
};

struct result {
    double goodput_bps;                 /* from connect() to the last byte */
    double steady_bps;                  /* over the second half of the stream */
    uint32_t bob_rcvbuf, alice_sndbuf;  /* cap at the end */
    int bob_so_rcvbuf;                  /* getsockopt(SO_RCVBUF) at the end */
    uint32_t max_wnd;                   /* largest window bob offered (alice's view) */
    uint32_t alice_retrans;
    uint32_t alice_ssthresh;
    uint8_t hystart_phase;
};

static bool verbose(void) { return getenv("NETSOCK_VERBOSE") != NULL; }

static struct tcpcb *tp_of(struct ns_stack *st, int fd)
{
    struct ns_sock *so = fd_get(st, fd);
    assert_non_null(so);
    assert_int_equal(so->type, SOCK_STREAM);
    return tcp_sk(so);
}

struct net {
    struct ns_sim *sim;
    struct ns_stack *alice, *bob;
    struct sockaddr_in bob_sin;
    int lfd;
    struct ns_simlink *link;
};

static void net_build(struct net *n, const struct opts *o)
{
    memset(n, 0, sizeof(*n));
    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.tcp_hystart = o->hystart;
    cfg.tcp_moderate_rcvbuf = o->moderate;
    cfg.pbuf_count = 16384; /* a BDP of segments may sit in one stack's queues */
    n->sim = ns_sim_new(ns_test_seed(1));
    assert_non_null(n->sim);
    n->alice = ns_sim_add_host(n->sim, "alice", &cfg);
    n->bob = ns_sim_add_host(n->sim, "bob", &cfg);
    assert_non_null(n->alice);
    assert_non_null(n->bob);
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.rate_bps = RATE_BPS;
    p.delay_us = ONE_WAY_US;
    p.queue_bytes = o->queue_bytes;
    int ai, bi;
    n->link = ns_sim_connect(n->sim, n->alice, n->bob, &p, &ai, &bi);
    assert_non_null(n->link);
    struct in_addr a, b;
    inet_pton(AF_INET, "192.0.2.10", &a);
    inet_pton(AF_INET, "192.0.2.20", &b);
    assert_int_equal(ns_if_addr_add(n->alice, ai, AF_INET, &a, 24), 0);
    assert_int_equal(ns_if_addr_add(n->bob, bi, AF_INET, &b, 24), 0);
    ns_sim_run_for(n->sim, 10000);
    n->bob_sin = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(PORT), .sin_addr = b};
    n->lfd = ns_socket(n->bob, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(n->lfd >= 0);
    if (o->bob_rcvbuf)
        assert_int_equal(ns_setsockopt(n->bob, n->lfd, SOL_SOCKET, SO_RCVBUF, &o->bob_rcvbuf,
                                       sizeof(int)),
                         0);
    assert_int_equal(ns_bind(n->bob, n->lfd, (struct sockaddr *)&n->bob_sin, sizeof(n->bob_sin)), 0);
    assert_int_equal(ns_listen(n->bob, n->lfd, 64), 0);
}

/* Connect from alice to bob; returns alice's fd, *sfd bob's accepted one. */
static int net_connect(struct net *n, int sndbuf, int *sfd)
{
    int c = ns_socket(n->alice, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(c >= 0);
    if (sndbuf)
        assert_int_equal(ns_setsockopt(n->alice, c, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(int)), 0);
    int rc = ns_connect(n->alice, c, (struct sockaddr *)&n->bob_sin, sizeof(n->bob_sin));
    assert_true(rc == 0 || errno == EINPROGRESS);
    *sfd = -1;
    uint64_t limit = ns_sim_now(n->sim) + 5 * SEC;
    while (*sfd < 0 && ns_sim_now(n->sim) < limit) {
        *sfd = ns_accept4(n->bob, n->lfd, NULL, NULL, SOCK_NONBLOCK);
        if (*sfd < 0 && !ns_sim_step(n->sim, limit))
            break;
    }
    NS_ASSERT_SEED(*sfd >= 0);
    return c;
}

static void net_free(struct net *n) { ns_sim_free(n->sim); }

static struct result transfer(const struct opts *o)
{
    struct net n;
    net_build(&n, o);
    uint64_t t0 = ns_sim_now(n.sim);
    int s;
    int c = net_connect(&n, o->alice_sndbuf, &s);
    static uint8_t out[65536], in[65536];
    memset(out, 'x', sizeof(out));
    uint64_t sent = 0, got = 0, t_half = 0;
    uint64_t limit = t0 + 120 * SEC;
    struct tcpcb *atp = tp_of(n.alice, c);
    while (got < o->bytes && ns_sim_now(n.sim) < limit) {
        bool moved = false;
        while (sent < o->bytes) {
            uint64_t want = o->bytes - sent < sizeof(out) ? o->bytes - sent : sizeof(out);
            ssize_t w = ns_send(n.alice, c, out, want, 0);
            if (w <= 0)
                break;
            sent += (uint64_t)w;
            moved = true;
        }
        for (;;) {
            ssize_t r = ns_recv(n.bob, s, in, sizeof(in), 0);
            if (r <= 0)
                break;
            got += (uint64_t)r;
            moved = true;
            if (!t_half && got >= o->bytes / 2)
                t_half = ns_sim_now(n.sim);
        }
        if (!moved && !ns_sim_step(n.sim, limit))
            break;
    }
    if (got != o->bytes) {
        struct tcpcb *b = tp_of(n.bob, s);
        fprintf(stderr,
                "  t=%.3f s sent %llu got %llu; alice una %u max %u cwnd %u ssthresh %u "
                "wnd %u sndbuf %u/%u retrans %u; bob rcvbuf %u/%u\n",
                (double)(ns_sim_now(n.sim) - t0) / SEC, (unsigned long long)sent,
                (unsigned long long)got, atp->snd_una - atp->iss, atp->snd_max - atp->iss,
                atp->cwnd, atp->ssthresh, atp->snd_wnd, atp->sndbuf.len, atp->sndbuf.cap,
                atp->total_retrans, b->rcvbuf.len, b->rcvbuf.cap);
    }
    NS_ASSERT_SEED(got == o->bytes);
    struct result res = {0};
    res.goodput_bps = (double)got * 8 / ((double)(ns_sim_now(n.sim) - t0) / SEC);
    res.steady_bps = (double)(got - o->bytes / 2) * 8 / ((double)(ns_sim_now(n.sim) - t_half) / SEC);
    struct tcpcb *btp = tp_of(n.bob, s);
    res.bob_rcvbuf = btp->rcvbuf.cap;
    res.alice_sndbuf = atp->sndbuf.cap;
    socklen_t len = sizeof(res.bob_so_rcvbuf);
    assert_int_equal(ns_getsockopt(n.bob, s, SOL_SOCKET, SO_RCVBUF, &res.bob_so_rcvbuf, &len), 0);
    res.max_wnd = atp->max_sndwnd;
    res.alice_retrans = atp->total_retrans;
    res.alice_ssthresh = atp->ssthresh;
    res.hystart_phase = atp->hystart.phase;
    /* ns_sock_info (and `netsock stat`) show the sizes too. */
    struct ns_sock_info info[8];
    int k = ns_sock_list(n.bob, info, 8);
    bool seen = false;
    for (int i = 0; i < k && i < 8; i++) {
        if (info[i].fd == s) {
            assert_int_equal(info[i].rcvbuf, res.bob_rcvbuf);
            seen = true;
        }
    }
    assert_true(seen);
    if (verbose())
        fprintf(stderr,
                "transfer %llu MB hystart=%d moderate=%d SO_RCVBUF=%d SO_SNDBUF=%d queue=%u: "
                "goodput %.1f Mbit/s (second half %.1f), bob rcvbuf %u (SO_RCVBUF %d), max window %u, alice "
                "sndbuf %u, retrans %u, ssthresh %u, hystart phase %u\n",
                (unsigned long long)(o->bytes >> 20), o->hystart, o->moderate, o->bob_rcvbuf,
                o->alice_sndbuf, o->queue_bytes, res.goodput_bps / 1e6, res.steady_bps / 1e6, res.bob_rcvbuf,
                res.bob_so_rcvbuf, res.max_wnd, res.alice_sndbuf, res.alice_retrans,
                res.alice_ssthresh, res.hystart_phase);
    ns_close(n.alice, c);
    ns_close(n.bob, s);
    net_free(&n);
    return res;
}

static struct opts defaults(void)
{
    return (struct opts){.hystart = true,
                         .moderate = true,
                         .queue_bytes = 0,
                         .bytes = 40ull << 20};
}

/* The defaults: both buffers grow, the window opens far beyond 128 KiB,
 * goodput comes near the link rate, and HyStart++ leaves slow start
 * before the one-BDP queue overflows. */
static void test_autotuning_fills_the_pipe(void **state)
{
    (void)state;
    struct opts o = defaults();
    struct result r = transfer(&o);
    NS_ASSERT_SEED(r.bob_rcvbuf >= 2 * BDP_BYTES);       /* about 2x what is read per RTT */
    NS_ASSERT_SEED(r.bob_rcvbuf <= 6291456);             /* tcp_rmem_max */
    NS_ASSERT_SEED((uint32_t)r.bob_so_rcvbuf == r.bob_rcvbuf); /* SO_RCVBUF reads it, as Linux */
    NS_ASSERT_SEED(r.max_wnd >= BDP_BYTES);               /* the window followed */
    NS_ASSERT_SEED(r.alice_sndbuf >= BDP_BYTES);          /* ~2 cwnd */
    NS_ASSERT_SEED(r.alice_sndbuf <= 4u << 20);           /* tcp_wmem_max */
    /* Slow start takes ~1.5 s of the ~4.3 s; after it the link is full. */
    NS_ASSERT_SEED(r.goodput_bps >= 0.70 * RATE_BPS);
    NS_ASSERT_SEED(r.steady_bps >= 0.90 * RATE_BPS); /* 95.6 at most: 1448 of 1514 bytes */
    NS_ASSERT_SEED(r.alice_retrans == 0);
    /* HyStart++ ended slow start (CSS rounds done: ssthresh = cwnd then). */
    NS_ASSERT_SEED(r.hystart_phase == HYSTART_DONE);
    NS_ASSERT_SEED(r.alice_ssthresh != UINT32_MAX);
}

/* The same path without autotuning: SO_RCVBUF on the listener (inherited
 * by the connection) pins bob's buffer at the 128 KiB default, and
 * goodput is about one buffer per RTT. */
static void test_so_rcvbuf_keeps_buffer_fixed(void **state)
{
    (void)state;
    struct opts o = defaults();
    o.bob_rcvbuf = 65536; /* doubled: 131072 */
    o.bytes = 4ull << 20;
    struct result r = transfer(&o);
    NS_ASSERT_SEED(r.bob_rcvbuf == 131072);
    NS_ASSERT_SEED(r.bob_so_rcvbuf == 131072);
    NS_ASSERT_SEED(r.max_wnd <= 131072);
    NS_ASSERT_SEED(r.goodput_bps < 131072.0 * 8 / 0.1 * 1.1); /* window-limited */
    /* cfg.tcp_moderate_rcvbuf off: the same without the socket option. */
    o.bob_rcvbuf = 0;
    o.moderate = false;
    r = transfer(&o);
    NS_ASSERT_SEED(r.bob_rcvbuf == 131072);
    NS_ASSERT_SEED(r.goodput_bps < 131072.0 * 8 / 0.1 * 1.1);
}

/* SO_SNDBUF on the sender: its buffer keeps the size asked (doubled). */
static void test_so_sndbuf_keeps_buffer_fixed(void **state)
{
    (void)state;
    struct opts o = defaults();
    o.alice_sndbuf = 32768; /* doubled: 65536 */
    o.bytes = 2ull << 20;
    struct result r = transfer(&o);
    NS_ASSERT_SEED(r.alice_sndbuf == 65536);
    NS_ASSERT_SEED(r.goodput_bps < 65536.0 * 8 / 0.1 * 1.1);
}

/* Connections that only exchange a short request and answer, then stay
 * idle, keep the initial sizes and a few KiB of storage each. */
static void test_idle_connections_stay_small(void **state)
{
    (void)state;
    struct opts o = defaults();
    struct net n;
    net_build(&n, &o);
    enum { CONNS = 16 };
    int c[CONNS], s[CONNS];
    for (int i = 0; i < CONNS; i++)
        c[i] = net_connect(&n, 0, &s[i]);
    char req[200], ans[300], buf[512];
    memset(req, 'q', sizeof(req));
    memset(ans, 'a', sizeof(ans));
    for (int i = 0; i < CONNS; i++)
        assert_int_equal(ns_send(n.alice, c[i], req, sizeof(req), 0), (ssize_t)sizeof(req));
    ns_sim_run_for(n.sim, SEC);
    for (int i = 0; i < CONNS; i++) {
        assert_int_equal(ns_recv(n.bob, s[i], buf, sizeof(buf), 0), (ssize_t)sizeof(req));
        assert_int_equal(ns_send(n.bob, s[i], ans, sizeof(ans), 0), (ssize_t)sizeof(ans));
    }
    ns_sim_run_for(n.sim, SEC);
    for (int i = 0; i < CONNS; i++)
        assert_int_equal(ns_recv(n.alice, c[i], buf, sizeof(buf), 0), (ssize_t)sizeof(ans));
    ns_sim_run_for(n.sim, 30 * SEC); /* idle */
    for (int i = 0; i < CONNS; i++) {
        struct tcpcb *tps[2] = {tp_of(n.alice, c[i]), tp_of(n.bob, s[i])};
        for (int k = 0; k < 2; k++) {
            struct tcpcb *tp = tps[k];
            NS_ASSERT_SEED(tp->rcvbuf.cap == 131072);         /* tcp_rmem_default */
            NS_ASSERT_SEED(tp->sndbuf.cap <= 2 * tcp_initial_window(tp)); /* Linux: 2 IW */
            NS_ASSERT_SEED(tp->rcvbuf.size <= NS_RING_MIN_STORAGE);
            NS_ASSERT_SEED(tp->sndbuf.size <= NS_RING_MIN_STORAGE);
        }
    }
    for (int i = 0; i < CONNS; i++) {
        ns_close(n.alice, c[i]);
        ns_close(n.bob, s[i]);
    }
    net_free(&n);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_autotuning_fills_the_pipe),
        cmocka_unit_test(test_so_rcvbuf_keeps_buffer_fixed),
        cmocka_unit_test(test_so_sndbuf_keeps_buffer_fixed),
        cmocka_unit_test(test_idle_connections_stay_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
