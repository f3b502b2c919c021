/* tests/sim/test_sim_tcp_mem.c — many connections under a small stack-wide
 * TCP memory limit (tcp_mem.c): every byte is still delivered exactly
 * once and in order, no connection wedges, and the limit holds.
 *
 * Topology: alice 192.0.2.10 ─link─ bob 192.0.2.20, 50 Mbit/s, 5 ms each
 * way, 1 % loss and 1 % reordering on the data direction (so bob holds
 * out-of-order data), a queue of 256 KiB. Alice opens CONNS connections
 * to bob and sends each STREAM bytes of its own pattern, then closes.
 * Bob's application reads slowly (4 KiB per connection every 25 ms, below
 * the link rate) so that the receive rings fill; bob's limit is low 512
 * KiB, pressure 768 KiB, high 1 MiB, against CONNS windows of 128 KiB and
 * more (autotuning) that would hold several MiB.
 *
 * Checked, for SACK on (the default) and off (NewReno: the sender learns
 * nothing from a prune but the holes):
 *   - every stream arrives whole, byte for byte, then EOF, within the
 *     virtual-time bound (no connection wedged);
 *   - the limit was reached (tcp_mem_pressures), out-of-order data was
 *     pruned to make room and some refused; what was pruned or refused
 *     was resent by alice (her retransmissions);
 *   - bob never held more than tcp_mem_high plus the first 4 KiB each
 *     receive ring is always granted (the accounts' peak: every change
 *     counts);
 *   - at the end bob's TCP memory is 0 and every buffer back in its pool.
 *
 * Replay: NETSOCK_SEED=<seed> build-test/tests/test_sim_tcp_mem
 * (NETSOCK_VERBOSE=1 prints the run's numbers).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "socket/sock.h"
#include "tcp/tcp.h"
#include "testutil.h"

#define CONNS 32
#define STREAM (192u * 1024)
#define PORT 5001
#define SEC 1000000ull
#define READ_EVERY_US 25000ull
#define READ_CHUNK 4096u
#define MEM_LOW (512u << 10)
#define MEM_PRESSURE (768u << 10)
#define MEM_HIGH (1u << 20)

static bool verbose(void) { return getenv("NETSOCK_VERBOSE") != NULL; }

/* Byte `off` of stream `i`. */
static uint8_t pat(unsigned i, uint64_t off) { return (uint8_t)(off * 31 + (off >> 9) + i * 17 + 5); }

struct conn {
    int cfd, sfd;           /* alice's, bob's */
    uint64_t sent, got;
    bool closed, eof;
};

struct world {
    struct ns_sim *sim;
    struct ns_stack *alice, *bob;
    int lfd;
    struct conn c[CONNS];
};

static void build(struct world *w, bool sack)
{
    memset(w, 0, sizeof(*w));
    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.tcp_sack = sack;
    cfg.pbuf_count = 16384;
    w->sim = ns_sim_new(ns_test_seed(10));
    assert_non_null(w->sim);
    w->alice = ns_sim_add_host(w->sim, "alice", &cfg);
    cfg.tcp_mem_low = MEM_LOW;
    cfg.tcp_mem_pressure = MEM_PRESSURE;
    cfg.tcp_mem_high = MEM_HIGH;
    w->bob = ns_sim_add_host(w->sim, "bob", &cfg);
    assert_non_null(w->alice);
    assert_non_null(w->bob);
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.rate_bps = 50000000;
    p.delay_us = 5000;
    p.queue_bytes = 256u << 10;
    int ai, bi;
    struct ns_simlink *link = ns_sim_connect(w->sim, w->alice, w->bob, &p, &ai, &bi);
    assert_non_null(link);
    /* Loss and reordering towards bob (port 0 is alice's side). */
    struct ns_link_params lossy = p;
    lossy.loss = 0.01;
    lossy.reorder = 0.01;
    lossy.reorder_delay_us = 3000;
    ns_simlink_set_params(link, 0, &lossy);
    struct in_addr a, b;
    inet_pton(AF_INET, "192.0.2.10", &a);
    inet_pton(AF_INET, "192.0.2.20", &b);
    assert_int_equal(ns_if_addr_add(w->alice, ai, AF_INET, &a, 24), 0);
    assert_int_equal(ns_if_addr_add(w->bob, bi, AF_INET, &b, 24), 0);
    ns_sim_run_for(w->sim, 10000);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT), .sin_addr = b};
    w->lfd = ns_socket(w->bob, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(w->lfd >= 0);
    assert_int_equal(ns_bind(w->bob, w->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(ns_listen(w->bob, w->lfd, CONNS), 0);
    for (unsigned i = 0; i < CONNS; i++) {
        w->c[i].sfd = -1;
        w->c[i].cfd = ns_socket(w->alice, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(w->c[i].cfd >= 0);
        int rc = ns_connect(w->alice, w->c[i].cfd, (struct sockaddr *)&sin, sizeof(sin));
        assert_true(rc == 0 || errno == EINPROGRESS);
    }
}

/* Bob accepts; which of alice's connections it is, by its port. */
static void accept_all(struct world *w)
{
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof(peer);
        int fd = ns_accept4(w->bob, w->lfd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK);
        if (fd < 0)
            return;
        for (unsigned i = 0; i < CONNS; i++) {
            struct sockaddr_in me;
            socklen_t ml = sizeof(me);
            assert_int_equal(ns_getsockname(w->alice, w->c[i].cfd, (struct sockaddr *)&me, &ml), 0);
            if (me.sin_port == peer.sin_port)
                w->c[i].sfd = fd;
        }
    }
}

static bool alice_sends(struct world *w)
{
    static uint8_t buf[16384];
    bool moved = false;
    for (unsigned i = 0; i < CONNS; i++) {
        struct conn *c = &w->c[i];
        struct pollfd p = {.fd = c->cfd, .events = POLLOUT};
        if (c->sent < STREAM && (ns_poll(w->alice, &p, 1, 0) != 1 || !(p.revents & POLLOUT)))
            continue;
        while (c->sent < STREAM) {
            uint64_t n = STREAM - c->sent < sizeof(buf) ? STREAM - c->sent : sizeof(buf);
            for (uint64_t k = 0; k < n; k++)
                buf[k] = pat(i, c->sent + k);
            ssize_t r = ns_send(w->alice, c->cfd, buf, n, 0);
            if (r <= 0)
                break;
            c->sent += (uint64_t)r;
            moved = true;
        }
        if (c->sent == STREAM && !c->closed) {
            assert_int_equal(ns_shutdown(w->alice, c->cfd, SHUT_WR), 0);
            c->closed = true;
        }
    }
    return moved;
}

static void bob_reads(struct world *w)
{
    uint8_t buf[READ_CHUNK];
    for (unsigned i = 0; i < CONNS; i++) {
        struct conn *c = &w->c[i];
        if (c->sfd < 0 || c->eof)
            continue;
        ssize_t r = ns_recv(w->bob, c->sfd, buf, sizeof(buf), 0);
        if (r == 0) {
            NS_ASSERT_SEED(c->got == STREAM); /* EOF only after everything */
            c->eof = true;
            continue;
        }
        if (r < 0) {
            NS_ASSERT_SEED(errno == EAGAIN);
            continue;
        }
        for (ssize_t k = 0; k < r; k++) {
            if (buf[k] != pat(i, c->got + (uint64_t)k)) {
                ns_test_fail_hint();
                fail_msg("stream %u: byte %llu is 0x%02x, want 0x%02x", i,
                         (unsigned long long)(c->got + (uint64_t)k), buf[k],
                         pat(i, c->got + (uint64_t)k));
            }
        }
        c->got += (uint64_t)r;
        NS_ASSERT_SEED(c->got <= STREAM);
    }
}

static bool all_done(const struct world *w)
{
    for (unsigned i = 0; i < CONNS; i++)
        if (!w->c[i].eof)
            return false;
    return true;
}

static void run(bool sack)
{
    static struct world w;
    build(&w, sack);
    const uint64_t limit = ns_sim_now(w.sim) + 300 * SEC;
    uint64_t next_read = ns_sim_now(w.sim);
    while (!all_done(&w) && ns_sim_now(w.sim) < limit) {
        accept_all(&w);
        alice_sends(&w);
        if (ns_sim_now(w.sim) >= next_read) {
            bob_reads(&w);
            next_read = ns_sim_now(w.sim) + READ_EVERY_US;
        }
        ns_sim_run_for(w.sim, 1000);
    }
    uint64_t counters[NS_CTR__COUNT], acounters[NS_CTR__COUNT];
    ns_stack_counters(w.bob, counters);
    ns_stack_counters(w.alice, acounters);
    struct ns_stack_usage u;
    ns_stack_usage(w.bob, &u);
    if (verbose() || !all_done(&w)) {
        fprintf(stderr,
                "sack=%d: t=%.2f s, bob held at most %llu bytes (high %u); pressures %llu, "
                "ooo pruned %llu, ooo refused %llu, in-order cut %llu, ooo queued %llu; alice "
                "retransmitted %llu segments, %llu RTOs, reneging seen %llu\n",
                sack, (double)ns_sim_now(w.sim) / SEC, (unsigned long long)u.tcp_peak_bytes, MEM_HIGH,
                (unsigned long long)counters[NS_CTR_tcp_mem_pressures],
                (unsigned long long)counters[NS_CTR_tcp_ooo_pruned],
                (unsigned long long)counters[NS_CTR_tcp_mem_ooo_drop],
                (unsigned long long)counters[NS_CTR_tcp_mem_rcv_drop],
                (unsigned long long)counters[NS_CTR_tcp_ooo_segs],
                (unsigned long long)acounters[NS_CTR_tcp_retrans_segs],
                (unsigned long long)acounters[NS_CTR_tcp_rto_timeouts],
                (unsigned long long)acounters[NS_CTR_tcp_sack_reneging]);
        for (unsigned i = 0; i < CONNS; i++)
            if (!w.c[i].eof)
                fprintf(stderr, "  stream %u: sent %llu, got %llu\n", i,
                        (unsigned long long)w.c[i].sent, (unsigned long long)w.c[i].got);
    }
    NS_ASSERT_SEED(all_done(&w));
    NS_ASSERT_SEED(counters[NS_CTR_tcp_mem_pressures] > 0);
    NS_ASSERT_SEED(counters[NS_CTR_tcp_ooo_pruned] > 0);
    NS_ASSERT_SEED(counters[NS_CTR_tcp_mem_ooo_drop] > 0);
    NS_ASSERT_SEED(u.tcp_peak_bytes > MEM_PRESSURE);
    /* Beyond high only the first 4 KiB each receive ring always gets. */
    NS_ASSERT_SEED(u.tcp_peak_bytes <= MEM_HIGH + CONNS * NS_RING_MIN_STORAGE);
    NS_ASSERT_SEED(acounters[NS_CTR_tcp_retrans_segs] > 0);
    /* Everything closes; nothing is held. */
    for (unsigned i = 0; i < CONNS; i++) {
        ns_close(w.alice, w.c[i].cfd);
        ns_close(w.bob, w.c[i].sfd);
    }
    ns_close(w.bob, w.lfd);
    ns_sim_run_for(w.sim, 5 * SEC);
    ns_stack_usage(w.bob, &u);
    NS_ASSERT_SEED(u.tcp_bytes == 0);
    NS_ASSERT_SEED(u.arp_hold_pkts == 0);
    ns_sim_free(w.sim);
}

static void test_every_byte_under_the_limit_sack(void **state)
{
    (void)state;
    run(true);
}

static void test_every_byte_under_the_limit_newreno(void **state)
{
    (void)state;
    run(false);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte_under_the_limit_sack),
        cmocka_unit_test(test_every_byte_under_the_limit_newreno),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
