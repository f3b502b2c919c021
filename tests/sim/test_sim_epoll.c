/* tests/sim/test_sim_epoll.c — epoll and the blocking ns_poll on a
 * simulated host, where one thread can be blocked in a wait while the
 * network runs (test_api_diff compares everything one thread can see
 * against the kernel's epoll):
 * - EPOLLEXCLUSIVE: a change is given to every exclusive registration up
 *   to the first whose set has a waiter, none after it (Linux
 *   ep_poll_callback / __wake_up_common with one exclusive wake-up);
 * - a blocking ns_poll over many descriptors reports the one that became
 *   ready, duplicates included;
 * - waits run out on the virtual clock; a wait that can never end is
 *   EDEADLK;
 * - ns_epoll_fd's eventfd is readable exactly while the set has events:
 *   after a datagram arrives, not after it is read, not after an
 *   edge-triggered event was reported, through nested sets, and it is
 *   closed with its set.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>

#include "netsock/epoll.h"
#include "netsock/netsock.h"
#include "netsock/os.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "testutil.h"

#define LO 0x7f000001u

static struct ns_sim *world(struct ns_stack **st)
{
    struct ns_sim *sim = ns_sim_new(ns_test_seed(0xe9011u));
    assert_non_null(sim);
    *st = ns_sim_add_host(sim, "h", NULL);
    assert_non_null(*st);
    return sim;
}

static struct sockaddr_in lo(uint16_t port)
{
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(port)};
    s.sin_addr.s_addr = htonl(LO);
    return s;
}

static uint16_t port_of(struct ns_stack *st, int fd)
{
    struct sockaddr_in s;
    socklen_t len = sizeof(s);
    assert_int_equal(ns_getsockname(st, fd, (struct sockaddr *)&s, &len), 0);
    return ntohs(s.sin_port);
}

static int listener(struct ns_stack *st, uint16_t *port)
{
    int l = ns_socket(st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = lo(0);
    assert_int_equal(ns_bind(st, l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(ns_listen(st, l, 8), 0);
    *port = port_of(st, l);
    return l;
}

static void add(struct ns_stack *st, int ep, int fd, uint32_t events, uint64_t tag)
{
    struct epoll_event ev = {.events = events, .data.u64 = tag};
    assert_int_equal(ns_epoll_ctl(st, ep, EPOLL_CTL_ADD, fd, &ev), 0);
}

static int count(struct ns_stack *st, int ep)
{
    struct epoll_event evs[8];
    return ns_epoll_wait(st, ep, evs, 8, 0);
}

/* Three sets watch a listener with EPOLLEXCLUSIVE, a fourth without.
 * The connection arrives while a wait blocks in set `waiting`: the sets
 * registered before it are told too (nobody waits in them), those after
 * it are not; the non-exclusive one always is. */
static void exclusive_case(int waiting)
{
    struct ns_stack *st;
    struct ns_sim *sim = world(&st);
    uint16_t port;
    int l = listener(st, &port);
    int ex[3], plain = ns_epoll_create1(st, 0);
    for (int i = 0; i < 3; i++) {
        ex[i] = ns_epoll_create1(st, 0);
        add(st, ex[i], l, EPOLLIN | EPOLLEXCLUSIVE, (uint64_t)i);
    }
    add(st, plain, l, EPOLLIN, 9);
    int c = ns_socket(st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in d = lo(port);
    assert_int_equal(ns_connect(st, c, (struct sockaddr *)&d, sizeof(d)), -1);
    assert_int_equal(errno, EINPROGRESS);

    struct epoll_event ev;
    assert_int_equal(ns_epoll_wait(st, ex[waiting], &ev, 1, 1000), 1);
    assert_int_equal(ev.data.u64, (uint64_t)waiting);
    assert_true(ev.events & EPOLLIN);
    for (int i = 0; i < 3; i++)
        if (i != waiting)
            assert_int_equal(count(st, ex[i]), i < waiting ? 1 : 0);
    assert_int_equal(count(st, plain), 1);

    ns_close(st, c);
    ns_close(st, l);
    for (int i = 0; i < 3; i++)
        ns_close(st, ex[i]);
    ns_close(st, plain);
    ns_sim_free(sim);
}

static void test_exclusive_first_waits(void **state)
{
    (void)state;
    exclusive_case(0);
}

static void test_exclusive_middle_waits(void **state)
{
    (void)state;
    exclusive_case(1);
}

/* A blocking ns_poll over 500 idle UDP sockets (one of them twice) ends
 * when a datagram reaches that one; only its entries are set. */
static void test_poll_many(void **state)
{
    (void)state;
    struct ns_stack *st;
    struct ns_sim *sim = world(&st);
    enum { N = 500, HOT = 321 };
    static struct pollfd p[N + 1];
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = ns_socket(st, AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in a = lo(0);
        assert_int_equal(ns_bind(st, fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    }
    p[N] = (struct pollfd){.fd = fds[HOT], .events = POLLIN | POLLRDNORM};
    int tx = ns_socket(st, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in d = lo(port_of(st, fds[HOT]));
    assert_int_equal(ns_sendto(st, tx, "x", 1, 0, (struct sockaddr *)&d, sizeof(d)), 1);
    uint64_t t0 = ns_sim_now(sim);
    assert_int_equal(ns_poll(st, p, N + 1, 5000), 2);
    assert_true(ns_sim_now(sim) - t0 < 1000000); /* the datagram, not the timeout */
    for (int i = 0; i < N; i++)
        assert_int_equal(p[i].revents, i == HOT ? POLLIN : 0);
    assert_int_equal(p[N].revents, POLLIN | POLLRDNORM);
    /* Nothing more comes: the timeout, on the virtual clock. */
    char b[4];
    assert_int_equal(ns_recv(st, fds[HOT], b, sizeof(b), 0), 1);
    t0 = ns_sim_now(sim);
    assert_int_equal(ns_poll(st, p, N + 1, 300), 0);
    assert_true(ns_sim_now(sim) - t0 >= 300000);
    for (int i = 0; i < N; i++)
        ns_close(st, fds[i]);
    ns_close(st, tx);
    ns_sim_free(sim);
}

/* ns_epoll_wait: the timeout runs on the virtual clock; waiting forever
 * on a set nothing can make ready is EDEADLK, not a hang. */
static void test_wait_timeout_deadlock(void **state)
{
    (void)state;
    struct ns_stack *st;
    struct ns_sim *sim = world(&st);
    int ep = ns_epoll_create1(st, 0);
    int u = ns_socket(st, AF_INET, SOCK_DGRAM, 0);
    add(st, ep, u, EPOLLIN, 1);
    struct epoll_event ev;
    uint64_t t0 = ns_sim_now(sim);
    assert_int_equal(ns_epoll_wait(st, ep, &ev, 1, 250), 0);
    assert_true(ns_sim_now(sim) - t0 >= 250000);
    assert_int_equal(ns_epoll_wait(st, ep, &ev, 1, -1), -1);
    assert_int_equal(errno, EDEADLK);
    ns_close(st, u);
    ns_close(st, ep);
    ns_sim_free(sim);
}

/* Is the OS descriptor readable now? */
static bool os_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_epoll_fd(void **state)
{
    (void)state;
    struct ns_stack *st;
    struct ns_sim *sim = world(&st);
    int u = ns_socket(st, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = lo(0);
    assert_int_equal(ns_bind(st, u, (struct sockaddr *)&a, sizeof(a)), 0);
    struct sockaddr_in d = lo(port_of(st, u));
    int tx = ns_socket(st, AF_INET, SOCK_DGRAM, 0);
    int ep = ns_epoll_create1(st, 0), outer = ns_epoll_create1(st, 0);
    add(st, ep, u, EPOLLIN, 1);
    add(st, outer, ep, EPOLLIN, 2);
    int efd = ns_epoll_fd(st, ep), ofd = ns_epoll_fd(st, outer);
    assert_true(efd >= 0 && ofd >= 0 && efd != ofd);
    assert_int_equal(ns_epoll_fd(st, ep), efd); /* the set's, once */
    assert_int_equal(ns_epoll_fd(st, u), -1);
    assert_int_equal(errno, EINVAL);
    assert_false(os_readable(efd));
    assert_false(os_readable(ofd));

    /* Level-triggered: readable from the datagram's arrival until it is read. */
    assert_int_equal(ns_sendto(st, tx, "x", 1, 0, (struct sockaddr *)&d, sizeof(d)), 1);
    assert_false(os_readable(efd)); /* not delivered before the stack runs */
    ns_sim_run_for(sim, 1000);
    assert_true(os_readable(efd));
    assert_true(os_readable(ofd));
    struct epoll_event ev;
    assert_int_equal(ns_epoll_wait(st, ep, &ev, 1, 0), 1);
    assert_true(os_readable(efd)); /* still queued: still an event */
    char b[4];
    assert_int_equal(ns_recv(st, u, b, sizeof(b), 0), 1);
    assert_false(os_readable(efd));
    assert_false(os_readable(ofd));

    /* Edge-triggered: readable until the event is reported. */
    struct epoll_event mod = {.events = EPOLLIN | EPOLLET, .data.u64 = 1};
    assert_int_equal(ns_epoll_ctl(st, ep, EPOLL_CTL_MOD, u, &mod), 0);
    assert_int_equal(ns_sendto(st, tx, "y", 1, 0, (struct sockaddr *)&d, sizeof(d)), 1);
    ns_sim_run_for(sim, 1000);
    assert_true(os_readable(efd));
    assert_true(os_readable(ofd));
    assert_int_equal(ns_epoll_wait(st, ep, &ev, 1, 0), 1);
    assert_false(os_readable(efd));
    assert_false(os_readable(ofd)); /* nothing inside: nothing outside */

    /* Closed with its set. */
    ns_close(st, ep);
    assert_int_equal(fcntl(efd, F_GETFD), -1);
    assert_int_equal(errno, EBADF);
    ns_close(st, outer);
    assert_int_equal(fcntl(ofd, F_GETFD), -1);
    ns_close(st, u);
    ns_close(st, tx);
    ns_sim_free(sim);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exclusive_first_waits),
        cmocka_unit_test(test_exclusive_middle_waits),
        cmocka_unit_test(test_poll_many),
        cmocka_unit_test(test_wait_timeout_deadlock),
        cmocka_unit_test(test_epoll_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
