/* tests/unit/test_loop.c — the real-time loop (platform/loop.c) without
 * devices that need root: a stack on a queue device, a pipe as an extra
 * descriptor. Checks that run_once sleeps until the caller's deadline and
 * no further, wakes for a readable descriptor and runs its callback,
 * stops with -EINTR, drives blocking socket calls (SO_RCVTIMEO runs out
 * on the platform clock), and that a stack timer wakes it. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <unistd.h>

#include "testutil.h"

#include "netsock/os.h"
#include "netsock/socket.h"

struct fd_seen {
    int calls;
    struct ns_loop *loop;
    bool stop;
};

static void on_readable(void *ctx, int fd, uint32_t events)
{
    struct fd_seen *s = ctx;
    char c;
    assert_true(events & EPOLLIN);
    assert_int_equal(read(fd, &c, 1), 1);
    s->calls++;
    if (s->stop)
        ns_loop_stop(s->loop);
}

static struct ns_stack *new_stack(void)
{
    struct ns_stack *st = ns_stack_new(NULL, ns_clock_now_us());
    assert_non_null(st);
    int ifindex = ns_if_add(st, ns_qdev_new("q0", NS_LINK_ETHER, NULL, 1500));
    assert_int_equal(ifindex, 1);
    return st;
}

static void test_clock(void **state)
{
    (void)state;
    uint64_t a = ns_clock_now_us();
    usleep(2000);
    uint64_t b = ns_clock_now_us();
    assert_true(b >= a + 2000);
    assert_true(b < a + 2000000);
}

static void test_deadline_and_fd(void **state)
{
    (void)state;
    struct ns_loop *loop = ns_loop_new();
    assert_non_null(loop);
    struct ns_stack *st = new_stack();
    assert_int_equal(ns_loop_add(loop, st), 0);
    assert_int_equal(ns_loop_add(loop, st), -EEXIST);

    /* Nothing happens: run_once returns at the deadline, not before and
     * not long after. */
    uint64_t t0 = ns_clock_now_us();
    assert_int_equal(ns_loop_run_once(loop, t0 + 20000), 0);
    uint64_t t1 = ns_clock_now_us();
    assert_true(t1 >= t0 + 20000);
    assert_true(t1 < t0 + 1000000);

    /* A readable extra descriptor wakes it and its callback runs. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct fd_seen seen = {.loop = loop};
    assert_int_equal(ns_loop_add_fd(loop, p[0], EPOLLIN, on_readable, &seen), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    t0 = ns_clock_now_us();
    assert_int_equal(ns_loop_run_once(loop, NS_TIME_NEVER), 0);
    assert_int_equal(seen.calls, 1);
    assert_true(ns_clock_now_us() < t0 + 1000000);

    /* Removed: no more callbacks. */
    assert_int_equal(ns_loop_del_fd(loop, p[0]), 0);
    assert_int_equal(ns_loop_del_fd(loop, p[0]), -ENOENT);
    assert_int_equal(write(p[1], "y", 1), 1);
    assert_int_equal(ns_loop_run_once(loop, ns_clock_now_us() + 1000), 0);
    assert_int_equal(seen.calls, 1);

    /* ns_loop_stop from a callback: run returns, later calls say -EINTR. */
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    seen.stop = true;
    assert_int_equal(ns_loop_add_fd(loop, p[0], EPOLLIN, on_readable, &seen), 0);
    assert_int_equal(write(p[1], "z", 1), 1);
    assert_false(ns_loop_stopped(loop));
    assert_int_equal(ns_loop_run(loop), 0);
    assert_true(ns_loop_stopped(loop));
    assert_int_equal(seen.calls, 2);
    assert_int_equal(ns_loop_run_once(loop, NS_TIME_NEVER), -EINTR);

    ns_loop_free(loop);
    ns_stack_free(st);
    close(p[0]);
    close(p[1]);
}

static void test_blocking_call(void **state)
{
    (void)state;
    struct ns_loop *loop = ns_loop_new();
    struct ns_stack *st = new_stack();
    assert_int_equal(ns_loop_add(loop, st), 0);
    struct in_addr a = {.s_addr = htonl(0xc0000202)}; /* 192.0.2.2 */
    assert_int_equal(ns_if_addr_add(st, 1, AF_INET, &a, 24), 0);

    /* A blocking recv with a 30 ms timeout runs the loop on the platform
     * clock and gives up with EAGAIN after 30 ms. */
    int fd = ns_socket(st, AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9999)};
    assert_int_equal(ns_bind(st, fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    struct timeval tv = {.tv_usec = 30000};
    assert_int_equal(ns_setsockopt(st, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    ns_stack_poll(st, ns_clock_now_us());
    uint64_t t0 = ns_clock_now_us();
    char buf[16];
    assert_int_equal(ns_recv(st, fd, buf, sizeof(buf), 0), -1);
    assert_int_equal(errno, EAGAIN);
    uint64_t t1 = ns_clock_now_us();
    assert_true(t1 >= t0 + 30000);
    assert_true(t1 < t0 + 1000000);

    /* A datagram to ourselves goes through the loopback: the blocking
     * recv returns it. */
    sin.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(ns_sendto(st, fd, "hi", 2, 0, (struct sockaddr *)&sin, sizeof(sin)), 2);
    assert_int_equal(ns_recv(st, fd, buf, sizeof(buf), 0), 2);
    assert_memory_equal(buf, "hi", 2);

    /* A stopped loop makes blocking calls fail with EINTR. */
    ns_loop_stop(loop);
    assert_int_equal(ns_recv(st, fd, buf, sizeof(buf), 0), -1);
    assert_int_equal(errno, EINTR);
    ns_close(st, fd);

    ns_loop_free(loop);
    ns_stack_free(st);
}

/* Stack timers wake the loop: the second gratuitous ARP announcement
 * (RFC 5227), 20 ms after the first here, leaves with no input at all. */
static void test_timer_wakes(void **state)
{
    (void)state;
    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.arp_announce_interval_us = 20000;
    struct ns_stack *st = ns_stack_new(&cfg, ns_clock_now_us());
    struct ns_dev *q = ns_qdev_new("q0", NS_LINK_ETHER, NULL, 1500);
    assert_int_equal(ns_if_add(st, q), 1);
    struct ns_loop *loop = ns_loop_new();
    assert_int_equal(ns_loop_add(loop, st), 0);
    struct in_addr a = {.s_addr = htonl(0xc0000202)};
    uint64_t t0 = ns_clock_now_us();
    ns_stack_poll(st, t0); /* the stack's `now` is t0: the first announcement's time */
    assert_int_equal(ns_if_addr_add(st, 1, AF_INET, &a, 24), 0);
    while (ns_qdev_pending(q) < 2 && ns_clock_now_us() < t0 + 2000000)
        assert_int_equal(ns_loop_run_once(loop, NS_TIME_NEVER), 0);
    assert_int_equal(ns_qdev_pending(q), 2);
    uint64_t t1 = ns_clock_now_us();
    assert_true(t1 >= t0 + 20000);
    assert_true(t1 < t0 + 1000000);
    ns_loop_free(loop);
    ns_stack_free(st);
}

/* ns_stack_fd: the application's own loop sleeps on one descriptor and
 * wakes when the stack's next deadline comes (the second gratuitous ARP,
 * 20 ms after the first), polls the stack, and the announcement leaves;
 * re-armed for a deadline that is not there, the descriptor is quiet. */
static void test_stack_fd(void **state)
{
    (void)state;
    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.arp_announce_interval_us = 20000;
    cfg.arp_announce_num = 2;
    struct ns_stack *st = ns_stack_new(&cfg, ns_clock_now_us());
    struct ns_dev *q = ns_qdev_new("q0", NS_LINK_ETHER, NULL, 1500);
    assert_int_equal(ns_if_add(st, q), 1);
    int err = 0;
    struct ns_stack_fd *sfd = ns_stack_fd_new(st, &err);
    assert_non_null(sfd);
    struct in_addr a = {.s_addr = htonl(0xc0000202)};
    ns_stack_poll(st, ns_clock_now_us());
    assert_int_equal(ns_if_addr_add(st, 1, AF_INET, &a, 24), 0);
    assert_int_equal(ns_qdev_pending(q), 1);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7};
    assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, ns_stack_fd(sfd), &ev), 0);
    assert_int_equal(ns_stack_fd_arm(sfd), 0);
    int n = 0;
    for (int i = 0; i < 100 && ns_qdev_pending(q) < 2; i++) {
        n = epoll_wait(ep, &ev, 1, 2000); /* no timeout of the loop's own: the fd's */
        assert_int_equal(n, 1);
        ns_stack_poll(st, ns_clock_now_us());
        assert_int_equal(ns_stack_fd_arm(sfd), 0);
    }
    assert_int_equal(ns_qdev_pending(q), 2);
    if (ns_stack_next_deadline(st) == NS_TIME_NEVER)
        assert_int_equal(epoll_wait(ep, &ev, 1, 50), 0);
    close(ep);
    ns_stack_fd_free(sfd);
    ns_stack_free(st);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_deadline_and_fd),
        cmocka_unit_test(test_blocking_call),
        cmocka_unit_test(test_timer_wakes),
        cmocka_unit_test(test_stack_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
