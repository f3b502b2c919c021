/* tests/unit/test_loop_backpressure.c — transmit backpressure over a real
 * descriptor and the real-time loop (platform/loop.c), without root.
 *
 * Two stacks joined by a SOCK_SEQPACKET socket pair (one frame per
 * message), each end behind a small device of this test whose xmit is a
 * non-blocking send: a full socket refuses with -EAGAIN and tx_ready asks
 * poll(2) for POLLOUT, as TAP does. alice runs on the loop; bob is polled
 * by hand, so the test decides when alice's socket has room.
 *
 *   - A bulk transfer through a small socket buffer: refusals, yet no
 *     drop, no retransmission, every byte in order.
 *   - The loop waits for EPOLLOUT: with alice blocked on her full socket
 *     and nothing else due for ten seconds (the retransmission timeout),
 *     another thread makes room; run_once must come back for it and alice
 *     must send again before any timer fires.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spdev.h"
#include "testutil.h"

#include "netsock/os.h"
#include "netsock/socket.h"

/* ---- two stacks ---------------------------------------------------------- */

struct pair {
    struct ns_loop *loop;
    struct ns_stack *alice, *bob;
    int bob_fd; /* bob's end of the socket pair (for the helper thread) */
    int l, c, s;
};

static void pair_pump(struct pair *p)
{
    ns_loop_run_once(p->loop, ns_clock_now_us() + 2000);
    ns_stack_poll(p->bob, ns_clock_now_us());
}

static void pair_build(struct pair *p)
{
    memset(p, 0, sizeof(*p));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
    int small = 8192;
    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    p->bob_fd = sv[1];
    struct ns_config cfg;
    ns_config_default(&cfg);
    /* Nothing due for 10 s while data is out: the retransmission timeout
     * at least 10 s, and no SACK, so no RACK-TLP probe (armed at 2 SRTT,
     * a few milliseconds: on a loaded machine, where bob is polled late,
     * it fired, retransmitted and ended the loop's wait before the
     * descriptor did). These tests run on the real clock; with only the
     * RTO armed, nothing they check depends on how fast the machine is. */
    cfg.tcp_rto_min_us = 10000000;
    cfg.tcp_sack = false;
    cfg.arp_announce_num = 0;
    cfg.name = "alice";
    p->alice = ns_stack_new(&cfg, ns_clock_now_us());
    cfg.name = "bob";
    p->bob = ns_stack_new(&cfg, ns_clock_now_us());
    assert_int_equal(ns_if_add(p->alice, sp_new(sv[0], 0xa)), 1);
    assert_int_equal(ns_if_add(p->bob, sp_new(sv[1], 0xb)), 1);
    struct in_addr a = {htonl(0xc000020au)}, b = {htonl(0xc0000214u)};
    assert_int_equal(ns_if_addr_add(p->alice, 1, AF_INET, &a, 24), 0);
    assert_int_equal(ns_if_addr_add(p->bob, 1, AF_INET, &b, 24), 0);
    p->loop = ns_loop_new();
    assert_int_equal(ns_loop_add(p->loop, p->alice), 0);

    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(7000), .sin_addr = b};
    p->l = ns_socket(p->bob, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_int_equal(ns_bind(p->bob, p->l, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(ns_listen(p->bob, p->l, 1), 0);
    p->c = ns_socket(p->alice, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_int_equal(ns_connect(p->alice, p->c, (struct sockaddr *)&sin, sizeof(sin)), -1);
    p->s = -1;
    for (int i = 0; i < 1000 && p->s < 0; i++) {
        pair_pump(p);
        p->s = ns_accept4(p->bob, p->l, NULL, NULL, SOCK_NONBLOCK);
    }
    assert_true(p->s >= 0);
    for (int i = 0; i < 5; i++)
        pair_pump(p);
}

static void pair_free(struct pair *p)
{
    ns_loop_free(p->loop);
    ns_stack_free(p->alice);
    ns_stack_free(p->bob);
}

static uint8_t pattern(uint64_t off) { return (uint8_t)(off * 29 + (off >> 11)); }

static void test_bulk_through_a_small_socket(void **state)
{
    (void)state;
    struct pair p;
    pair_build(&p);
    enum { TOTAL = 1 << 20 };
    uint64_t sent = 0, got = 0;
    bool bad = false;
    uint8_t buf[16384];
    for (int i = 0; i < 200000 && got < TOTAL; i++) {
        size_t k = TOTAL - sent < sizeof(buf) ? (size_t)(TOTAL - sent) : sizeof(buf);
        for (size_t j = 0; j < k; j++)
            buf[j] = pattern(sent + j);
        ssize_t w = k ? ns_send(p.alice, p.c, buf, k, 0) : 0;
        if (w > 0)
            sent += (uint64_t)w;
        pair_pump(&p);
        ssize_t r;
        while ((r = ns_recv(p.bob, p.s, buf, sizeof(buf), 0)) > 0) {
            for (ssize_t j = 0; j < r; j++)
                bad |= buf[j] != pattern(got + (uint64_t)j);
            got += (uint64_t)r;
        }
    }
    assert_int_equal(got, TOTAL);
    assert_false(bad);
    struct ns_dev *dev = ns_if_dev(p.alice, 1);
    assert_true(dev->stats.tx_busy > 0);
    assert_int_equal(dev->stats.tx_drop, 0);
    assert_int_equal(ns_stack_counter(p.alice, NS_CTR_dev_tx_deferred), dev->stats.tx_busy);
    assert_int_equal(ns_stack_counter(p.alice, NS_CTR_dev_tx_full_drop), 0);
    assert_int_equal(ns_stack_counter(p.alice, NS_CTR_tcp_retrans_segs), 0);
    pair_free(&p);
}

/* Makes room in alice's socket a little later, from another thread:
 * reads (and forgets) every frame waiting at bob's end (AF_UNIX reports
 * writable only once most of the send buffer is free). */
static void *drain_later(void *arg)
{
    int fd = *(int *)arg;
    usleep(20000);
    uint8_t frame[2048];
    while (recv(fd, frame, sizeof(frame), MSG_DONTWAIT) > 0)
        ;
    return NULL;
}

static void test_loop_waits_for_pollout(void **state)
{
    (void)state;
    struct pair p;
    pair_build(&p);
    /* Fill alice's socket without bob reading: she ends up waiting. */
    static uint8_t data[65536];
    assert_true(ns_send(p.alice, p.c, data, sizeof(data), 0) > 0);
    ns_loop_run_once(p.loop, ns_clock_now_us()); /* no wait: just polls */
    assert_true(ns_if_tx_wait_writable(p.alice, 1));
    struct ns_dev *dev = ns_if_dev(p.alice, 1);
    uint64_t frames = dev->stats.tx_frames;

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, drain_later, &p.bob_fd), 0);
    /* Nothing is due before the retransmission timeout (pair_build: no
     * tail loss probe; the wheel may report an earlier bound, never
     * later), so only the descriptor
     * becoming writable can end a wait before the deadline reported: a
     * loop that did not watch EPOLLOUT would send only when woken by the
     * deadline. */
    bool woken_early = false;
    for (int i = 0; i < 50 && dev->stats.tx_frames == frames; i++) {
        uint64_t deadline = ns_stack_next_deadline(p.alice);
        ns_loop_run_once(p.loop, NS_TIME_NEVER);
        woken_early = ns_clock_now_us() < deadline;
    }
    pthread_join(th, NULL);
    assert_true(dev->stats.tx_frames > frames);
    assert_true(woken_early);
    assert_int_equal(ns_stack_counter(p.alice, NS_CTR_tcp_rto_timeouts), 0);
    assert_int_equal(ns_stack_counter(p.alice, NS_CTR_tcp_retrans_segs), 0);
    pair_free(&p);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_through_a_small_socket),
        cmocka_unit_test(test_loop_waits_for_pollout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
