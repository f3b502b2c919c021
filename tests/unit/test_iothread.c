/* tests/unit/test_iothread.c — the hand-off between the stack's thread and
 * a device's I/O thread (platform/spsc.h, platform/iothread.c), without
 * root. Also built under ThreadSanitizer (Makefile TSAN_TESTS).
 *
 *   - The ring: single-thread edges (full, empty, index wrap at 2^32), then
 *     a producer and a consumer thread moving two million pointers through
 *     a ring of four slots, every one in order.
 *   - The wrapper on a real descriptor: two stacks joined by a
 *     SOCK_SEQPACKET socket pair, alice's end behind ns_iothread_wrap.
 *     A frame arriving while alice's loop sleeps wakes it (the pipe); a
 *     transfer of 2 MiB each way at once through a socket too small for
 *     it (the I/O thread is refused by the socket, the stack by the full
 *     ring) arrives byte-exact with no drop and no retransmission.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spdev.h"
#include "testutil.h"

#include "netsock/os.h"
#include "netsock/socket.h"
#include "platform/spsc.h"

/* ---- the ring ------------------------------------------------------------ */

static void test_ring_edges(void **state)
{
    (void)state;
    struct spsc_ring r;
    assert_int_equal(spsc_init(&r, 3), -EINVAL);
    assert_int_equal(spsc_init(&r, 4), 0);
    assert_null(spsc_pop(&r));
    assert_true(spsc_empty(&r));
    int v[5];
    for (int i = 0; i < 4; i++)
        assert_true(spsc_push(&r, &v[i]));
    assert_false(spsc_push(&r, &v[4])); /* full */
    assert_ptr_equal(spsc_peek(&r), &v[0]);
    assert_ptr_equal(spsc_pop(&r), &v[0]);
    assert_true(spsc_push(&r, &v[4]));
    for (int i = 1; i < 5; i++)
        assert_ptr_equal(spsc_pop(&r), &v[i]);
    assert_null(spsc_pop(&r));
    spsc_destroy(&r);

    /* Indices wrap at 2^32: start just below and cross it. */
    assert_int_equal(spsc_init(&r, 4), 0);
    atomic_store(&r.head, UINT32_MAX - 1);
    atomic_store(&r.tail, UINT32_MAX - 1);
    r.tail_cache = r.head_cache = UINT32_MAX - 1;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 4; i++)
            assert_true(spsc_push(&r, &v[i]));
        assert_false(spsc_push(&r, &v[4]));
        for (int i = 0; i < 4; i++)
            assert_ptr_equal(spsc_pop(&r), &v[i]);
        assert_null(spsc_pop(&r));
    }
    spsc_destroy(&r);
}

enum { RING_ITEMS = 2000000 };

/* Pushes 1..RING_ITEMS (as pointers) and counts how often it found the
 * ring full. */
static void *ring_producer(void *arg)
{
    struct spsc_ring *r = arg;
    for (uintptr_t i = 1; i <= RING_ITEMS; i++)
        while (!spsc_push(r, (void *)i))
            sched_yield();
    return NULL;
}

static void test_ring_two_threads(void **state)
{
    (void)state;
    struct spsc_ring r;
    assert_int_equal(spsc_init(&r, 4), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, ring_producer, &r), 0);
    uintptr_t want = 1, wrong = 0;
    while (want <= RING_ITEMS) {
        void *p = spsc_pop(&r);
        if (!p) {
            sched_yield();
            continue;
        }
        wrong += (uintptr_t)p != want;
        want++;
    }
    pthread_join(th, NULL);
    assert_int_equal(wrong, 0);
    assert_null(spsc_pop(&r));
    spsc_destroy(&r);
}

/* ---- two stacks, alice's device on an I/O thread ---------------------------- */

struct pair {
    struct ns_loop *loop; /* alice's */
    struct ns_stack *alice, *bob;
    struct ns_dev *io;    /* alice's device: the wrapper */
};

static void pair_build(struct pair *p)
{
    memset(p, 0, sizeof(*p));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
    int small = 8192;
    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    struct ns_config cfg;
    ns_config_default(&cfg);
    /* Only a lost wake-up could stall the transfer until a timer: the
     * retransmission timeout is 10 s, far beyond what the transfer needs,
     * and the test asserts that it never fired. */
    cfg.tcp_rto_min_us = 10000000;
    cfg.tcp_sack = false;
    cfg.arp_announce_num = 0;
    cfg.name = "alice";
    p->alice = ns_stack_new(&cfg, ns_clock_now_us());
    cfg.name = "bob";
    p->bob = ns_stack_new(&cfg, ns_clock_now_us());
    int err = 1;
    assert_null(ns_iothread_wrap(NULL, &err));
    assert_int_equal(err, -EINVAL);
    p->io = ns_iothread_wrap(sp_new(sv[0], 0xa), &err);
    assert_non_null(p->io);
    assert_int_equal(err, 0);
    assert_int_equal(p->io->mtu, 1500);
    assert_int_equal(p->io->hwaddr[5], 0xa);
    assert_int_equal(ns_if_add(p->alice, p->io), 1);
    assert_int_equal(ns_if_add(p->bob, sp_new(sv[1], 0xb)), 1);
    struct in_addr a = {htonl(0xc000020au)}, b = {htonl(0xc0000214u)};
    assert_int_equal(ns_if_addr_add(p->alice, 1, AF_INET, &a, 24), 0);
    assert_int_equal(ns_if_addr_add(p->bob, 1, AF_INET, &b, 24), 0);
    p->loop = ns_loop_new();
    assert_int_equal(ns_loop_add(p->loop, p->alice), 0);
}

static void pair_free(struct pair *p)
{
    ns_loop_free(p->loop);
    ns_stack_free(p->alice); /* stops the I/O thread, returns its buffers */
    ns_stack_free(p->bob);
}

/* One turn: alice's loop (sleeping up to 2 ms), then bob by hand. */
static void pair_pump(struct pair *p)
{
    ns_loop_run_once(p->loop, ns_clock_now_us() + 2000);
    ns_stack_poll(p->bob, ns_clock_now_us());
}

struct later_send {
    struct ns_stack *st;
    int fd;
    struct sockaddr_in to;
};

/* After 20 ms, while alice's loop sleeps: bob sends "again". */
static void *send_later(void *arg)
{
    struct later_send *ls = arg;
    usleep(20000);
    ns_sendto(ls->st, ls->fd, "again", 5, 0, (struct sockaddr *)&ls->to, sizeof(ls->to));
    ns_stack_poll(ls->st, ns_clock_now_us());
    return NULL;
}

static void test_frame_wakes_the_sleeping_loop(void **state)
{
    (void)state;
    struct pair p;
    pair_build(&p);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(7001),
                             .sin_addr = {htonl(0xc000020au)}};
    int u = ns_socket(p.alice, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_int_equal(ns_bind(p.alice, u, (struct sockaddr *)&sa, sizeof(sa)), 0);
    int v = ns_socket(p.bob, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    /* Bob resolves alice (ARP through the I/O thread both ways) and sends. */
    char got[16];
    ssize_t n = -1;
    for (int i = 0; i < 200 && n < 0; i++) {
        ns_sendto(p.bob, v, "hello", 5, 0, (struct sockaddr *)&sa, sizeof(sa));
        pair_pump(&p);
        pair_pump(&p);
        n = ns_recv(p.alice, u, got, sizeof(got), 0);
    }
    assert_int_equal(n, 5);
    while (ns_recv(p.alice, u, got, sizeof(got), 0) > 0) {
    }
    /* Now with ARP done: alice sleeps with nothing due for a long while;
     * the datagram bob sends from another thread meanwhile must end that
     * sleep (bob is that thread's alone until the join). */
    struct later_send ls = {p.bob, v, sa};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, send_later, &ls), 0);
    bool woken_early = false;
    n = -1;
    for (int i = 0; i < 20 && n < 0; i++) {
        /* The wheel may report an earlier bound than the first timer,
         * never a later one: waking before it is the descriptor's doing. */
        uint64_t deadline = ns_stack_next_deadline(p.alice);
        ns_loop_run_once(p.loop, NS_TIME_NEVER);
        woken_early = ns_clock_now_us() < deadline;
        n = ns_recv(p.alice, u, got, sizeof(got), 0);
    }
    pthread_join(th, NULL);
    assert_int_equal(n, 5);
    assert_memory_equal(got, "again", 5);
    assert_true(woken_early);
    struct ns_iothread_stats io;
    ns_iothread_stats(p.io, &io);
    assert_true(io.wake_stack > 0);
    assert_true(p.io->stats.rx_frames >= 2);
    ns_close(p.alice, u);
    ns_close(p.bob, v);
    pair_free(&p);
}

static uint8_t pattern(uint64_t off, unsigned dir) { return (uint8_t)(off * 29 + (off >> 11) + dir); }

/* Send what fits of [*sent, total) on fd of st. */
static void push_some(struct ns_stack *st, int fd, uint64_t *sent, uint64_t total, unsigned dir)
{
    uint8_t buf[16384];
    size_t k = total - *sent < sizeof(buf) ? (size_t)(total - *sent) : sizeof(buf);
    if (!k)
        return;
    for (size_t j = 0; j < k; j++)
        buf[j] = pattern(*sent + j, dir);
    ssize_t w = ns_send(st, fd, buf, k, 0);
    if (w > 0)
        *sent += (uint64_t)w;
}

/* Read what is there on fd of st, checking it against the pattern. */
static void pull_some(struct ns_stack *st, int fd, uint64_t *got, bool *bad, unsigned dir)
{
    uint8_t buf[16384];
    ssize_t r;
    while ((r = ns_recv(st, fd, buf, sizeof(buf), 0)) > 0) {
        for (ssize_t j = 0; j < r; j++)
            *bad |= buf[j] != pattern(*got + (uint64_t)j, dir);
        *got += (uint64_t)r;
    }
}

static void test_bulk_both_ways(void **state)
{
    (void)state;
    struct pair p;
    pair_build(&p);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(7000),
                              .sin_addr = {htonl(0xc0000214u)}};
    int l = ns_socket(p.bob, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_int_equal(ns_bind(p.bob, l, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(ns_listen(p.bob, l, 1), 0);
    int c = ns_socket(p.alice, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_int_equal(ns_connect(p.alice, c, (struct sockaddr *)&sin, sizeof(sin)), -1);
    int s = -1;
    for (int i = 0; i < 1000 && s < 0; i++) {
        pair_pump(&p);
        s = ns_accept4(p.bob, l, NULL, NULL, SOCK_NONBLOCK);
    }
    assert_true(s >= 0);

    enum { TOTAL = 2 << 20 };
    uint64_t a_sent = 0, a_got = 0, b_sent = 0, b_got = 0;
    bool bad_ab = false, bad_ba = false;
    for (int i = 0; i < 400000 && (a_got < TOTAL || b_got < TOTAL); i++) {
        push_some(p.alice, c, &a_sent, TOTAL, 0);
        push_some(p.bob, s, &b_sent, TOTAL, 1);
        pair_pump(&p);
        pull_some(p.bob, s, &b_got, &bad_ab, 0);
        pull_some(p.alice, c, &a_got, &bad_ba, 1);
    }
    assert_int_equal(b_got, TOTAL); /* alice -> bob */
    assert_int_equal(a_got, TOTAL); /* bob -> alice */
    assert_false(bad_ab);
    assert_false(bad_ba);
    struct ns_iothread_stats io;
    ns_iothread_stats(p.io, &io);
    assert_true(io.inner_tx_busy > 0); /* the small socket refused the I/O thread */
    assert_int_equal(io.inner_tx_drop, 0);
    assert_int_equal(io.fill_nobuf, 0);
    assert_int_equal(p.io->stats.tx_drop, 0);
    assert_int_equal(p.io->stats.rx_drop, 0);
    assert_int_equal(p.io->stats.tx_busy, io.tx_ring_full);
    assert_int_equal(ns_stack_counter(p.alice, NS_CTR_dev_tx_full_drop), 0);
    assert_int_equal(ns_stack_counter(p.alice, NS_CTR_tcp_rto_timeouts), 0);
    assert_int_equal(ns_stack_counter(p.alice, NS_CTR_tcp_retrans_segs), 0);
    assert_int_equal(ns_stack_counter(p.bob, NS_CTR_tcp_retrans_segs), 0);
    ns_close(p.alice, c);
    ns_close(p.bob, s);
    ns_close(p.bob, l);
    pair_free(&p);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_edges),
        cmocka_unit_test(test_ring_two_threads),
        cmocka_unit_test(test_frame_wakes_the_sleeping_loop),
        cmocka_unit_test(test_bulk_both_ways),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
