/* tests/sim/test_sim_multiwait.c — one wait over several simulated hosts
 * (ns_sim_poll): a program that plays a client on one host and its
 * server on another waits on both at once, on plain descriptors and on
 * one epoll set per host:
 * - the wait returns when the first descriptor on any host becomes
 *   ready, at the virtual time the network makes it so, and reports only
 *   the ready ones;
 * - bytes sent each way arrive byte-exact through such waits alone;
 * - the timeout runs on the virtual clock; a wait nothing can end is
 *   EDEADLK; an entry of a host the simulation does not have is EINVAL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "netsock/epoll.h"
#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "testutil.h"

struct two {
    struct ns_sim *sim;
    struct ns_stack *a, *b;
};

/* Hosts a (192.0.2.1) and b (192.0.2.2) on one link with a 5 ms delay. */
static struct two world(void)
{
    struct two w;
    w.sim = ns_sim_new(ns_test_seed(0x3a17u));
    assert_non_null(w.sim);
    w.a = ns_sim_add_host(w.sim, "a", NULL);
    w.b = ns_sim_add_host(w.sim, "b", NULL);
    assert_non_null(w.a);
    assert_non_null(w.b);
    struct ns_link_params lp;
    ns_link_params_default(&lp);
    lp.delay_us = 5000;
    int ia, ib;
    assert_non_null(ns_sim_connect(w.sim, w.a, w.b, &lp, &ia, &ib));
    struct in_addr x = {htonl(0xc0000201u)}, y = {htonl(0xc0000202u)};
    assert_int_equal(ns_if_addr_add(w.a, ia, AF_INET, &x, 24), 0);
    assert_int_equal(ns_if_addr_add(w.b, ib, AF_INET, &y, 24), 0);
    return w;
}

static struct sockaddr_in addr(uint32_t ip, uint16_t port)
{
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(port)};
    s.sin_addr.s_addr = htonl(ip);
    return s;
}

/* A client on a connects to a server on b; one ns_sim_poll over both
 * hosts sees the listener become readable a round trip and a half later
 * (after the handshake's third segment), and then the data each way. */
static void test_client_and_server_in_one_wait(void **state)
{
    (void)state;
    struct two w = world();
    int l = ns_socket(w.b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = addr(0xc0000202u, 80);
    assert_int_equal(ns_bind(w.b, l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(ns_listen(w.b, l, 4), 0);
    int c = ns_socket(w.a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_int_equal(ns_connect(w.a, c, (struct sockaddr *)&sa, sizeof(sa)), -1);
    assert_int_equal(errno, EINPROGRESS);

    uint64_t t0 = ns_sim_now(w.sim);
    struct ns_sim_pollfd p[2] = {{w.a, c, POLLOUT, 0}, {w.b, l, POLLIN, 0}};
    /* The client is writable once the SYN-ACK is back (a round trip, and
     * address resolution), before the server has its connection. */
    assert_int_equal(ns_sim_poll(w.sim, p, 2, -1), 1);
    assert_int_equal(p[0].revents, POLLOUT);
    assert_int_equal(p[1].revents, 0);
    uint64_t t1 = ns_sim_now(w.sim);
    assert_true(t1 - t0 >= 10000); /* the handshake's round trip at least */
    p[0].fd = -1;
    assert_int_equal(ns_sim_poll(w.sim, p, 2, -1), 1);
    assert_int_equal(p[1].revents, POLLIN);
    assert_true(ns_sim_now(w.sim) - t1 >= 5000); /* the third segment's trip */
    int s = ns_accept(w.b, l, NULL, NULL);
    assert_true(s >= 0);

    /* 256 KiB each way, moved only by waits over both hosts' epoll sets. */
    enum { N = 256 * 1024 };
    static unsigned char out_a[N], out_b[N], in_a[N], in_b[N];
    for (size_t i = 0; i < N; i++) {
        out_a[i] = (unsigned char)(i * 31 + 7);
        out_b[i] = (unsigned char)(i * 17 + 3);
    }
    int ea = ns_epoll_create1(w.a, 0), eb = ns_epoll_create1(w.b, 0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT};
    assert_int_equal(ns_epoll_ctl(w.a, ea, EPOLL_CTL_ADD, c, &ev), 0);
    assert_int_equal(ns_epoll_ctl(w.b, eb, EPOLL_CTL_ADD, s, &ev), 0);
    size_t sent_a = 0, sent_b = 0, got_a = 0, got_b = 0;
    struct ns_sim_pollfd q[2] = {{w.a, ea, POLLIN, 0}, {w.b, eb, POLLIN, 0}};
    while (got_a < N || got_b < N) {
        int n = ns_sim_poll(w.sim, q, 2, 10000);
        assert_true(n > 0); /* never a 10 s stall */
        struct end {
            struct ns_stack *st;
            int ep, fd;
            size_t *sent, *got;
            unsigned char *out, *in;
        } e[2] = {
            {w.a, ea, c, &sent_a, &got_a, out_a, in_a},
            {w.b, eb, s, &sent_b, &got_b, out_b, in_b},
        };
        for (int k = 0; k < 2; k++) {
            if (!q[k].revents)
                continue;
            struct epoll_event r[2];
            int m = ns_epoll_wait(e[k].st, e[k].ep, r, 2, 0);
            assert_true(m >= 0);
            for (int j = 0; j < m; j++) {
                if ((r[j].events & EPOLLOUT) && *e[k].sent < N) {
                    ssize_t x = ns_send(e[k].st, e[k].fd, e[k].out + *e[k].sent, N - *e[k].sent, 0);
                    if (x > 0)
                        *e[k].sent += (size_t)x;
                }
                if (r[j].events & EPOLLIN) {
                    ssize_t x = ns_recv(e[k].st, e[k].fd, e[k].in + *e[k].got, N - *e[k].got, 0);
                    if (x > 0)
                        *e[k].got += (size_t)x;
                }
            }
            if (*e[k].sent == N) {
                struct epoll_event in_only = {.events = EPOLLIN};
                ns_epoll_ctl(e[k].st, e[k].ep, EPOLL_CTL_MOD, e[k].fd, &in_only);
            }
        }
    }
    /* a's input is what b sent, and the other way. */
    assert_memory_equal(in_a, out_b, N);
    assert_memory_equal(in_b, out_a, N);
    ns_close(w.a, ea);
    ns_close(w.b, eb);
    ns_close(w.a, c);
    ns_close(w.b, s);
    ns_close(w.b, l);
    ns_sim_free(w.sim);
}

/* The timeout is virtual; nothing pending anywhere and no timeout is
 * EDEADLK; a host of another simulation is EINVAL; NULL is EFAULT;
 * negative descriptors are skipped, unknown ones are POLLNVAL. */
static void test_timeout_and_errors(void **state)
{
    (void)state;
    struct two w = world();
    int ua = ns_socket(w.a, AF_INET, SOCK_DGRAM, 0);
    int ub = ns_socket(w.b, AF_INET, SOCK_DGRAM, 0);
    struct ns_sim_pollfd p[3] = {{w.a, ua, POLLIN, 0}, {w.b, ub, POLLIN, 0}, {w.b, -1, POLLIN, 7}};
    /* Let the links settle (nothing is sent), then wait 300 ms. */
    ns_sim_run_for(w.sim, 1000);
    uint64_t t0 = ns_sim_now(w.sim);
    assert_int_equal(ns_sim_poll(w.sim, p, 3, 300), 0);
    assert_true(ns_sim_now(w.sim) - t0 >= 300000);
    assert_int_equal(p[2].revents, 0);
    assert_int_equal(ns_sim_poll(w.sim, p, 3, -1), -1);
    assert_int_equal(errno, EDEADLK);
    /* A datagram from a to b ends a wait on b's socket. */
    struct sockaddr_in to = addr(0xc0000202u, 9);
    struct sockaddr_in me = addr(0xc0000202u, 9);
    assert_int_equal(ns_bind(w.b, ub, (struct sockaddr *)&me, sizeof(me)), 0);
    assert_int_equal(ns_sendto(w.a, ua, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)), 1);
    assert_int_equal(ns_sim_poll(w.sim, p, 3, -1), 1);
    assert_int_equal(p[1].revents, POLLIN);
    assert_int_equal(p[0].revents, 0);
    /* Errors. */
    struct ns_sim *other = ns_sim_new(1);
    struct ns_stack *stranger = ns_sim_add_host(other, "x", NULL);
    struct ns_sim_pollfd bad = {stranger, 0, POLLIN, 0};
    assert_int_equal(ns_sim_poll(w.sim, &bad, 1, 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(ns_sim_poll(w.sim, NULL, 1, 0), -1);
    assert_int_equal(errno, EFAULT);
    struct ns_sim_pollfd nv = {w.a, 999, POLLIN, 0};
    assert_int_equal(ns_sim_poll(w.sim, &nv, 1, 0), 1);
    assert_int_equal(nv.revents, POLLNVAL);
    ns_sim_free(other);
    ns_close(w.a, ua);
    ns_close(w.b, ub);
    ns_sim_free(w.sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_and_server_in_one_wait),
        cmocka_unit_test(test_timeout_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
