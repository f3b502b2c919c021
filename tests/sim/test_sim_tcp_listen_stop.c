/* tests/sim/test_sim_tcp_listen_stop.c — a listener that stops listening
 * without being closed, by shutdown(SHUT_RD) or connect(AF_UNSPEC) (Linux
 * inet_shutdown / tcp_disconnect -> inet_csk_listen_stop): the connections
 * nobody accepted are reset, as on close, and the socket is CLOSED and may
 * listen again.
 *
 *   cli 192.0.2.1 ─ 1 ms ─ srv 192.0.2.2:80
 *
 * Two clients connect and wait in the accept queue; the server stops
 * listening; both clients see ECONNRESET. Then the server closes the
 * socket and the clients' later segments (a RST of their own) must find
 * nothing of the old listener (before the fix, the queued connections kept
 * a pointer to it: a use after free under ASan). Finally every buffer is
 * back in both pools.
 *
 * Replay a failure: NETSOCK_SEED=<seed> build-test/tests/test_sim_tcp_listen_stop
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "testutil.h"

struct world {
    struct ns_sim *sim;
    struct ns_stack *cli, *srv;
    struct sockaddr_in srv_addr;
};

static void world_init(struct world *w)
{
    w->sim = ns_sim_new(ns_test_seed(11));
    w->cli = ns_sim_add_host(w->sim, "cli", NULL);
    w->srv = ns_sim_add_host(w->sim, "srv", NULL);
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 1000;
    int ic, is;
    NS_ASSERT_SEED(ns_sim_connect(w->sim, w->cli, w->srv, &p, &ic, &is) != NULL);
    struct in_addr ca, sa;
    inet_pton(AF_INET, "192.0.2.1", &ca);
    inet_pton(AF_INET, "192.0.2.2", &sa);
    NS_ASSERT_SEED(ns_if_addr_add(w->cli, ic, AF_INET, &ca, 24) == 0);
    NS_ASSERT_SEED(ns_if_addr_add(w->srv, is, AF_INET, &sa, 24) == 0);
    w->srv_addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(80), .sin_addr = sa};
}

static int listener(struct world *w)
{
    int l = ns_socket(w->srv, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(80)};
    NS_ASSERT_SEED(l >= 0);
    NS_ASSERT_SEED(ns_bind(w->srv, l, (struct sockaddr *)&any, sizeof(any)) == 0);
    NS_ASSERT_SEED(ns_listen(w->srv, l, 8) == 0);
    return l;
}

/* A client connected to the server, its connection in the accept queue. */
static int client(struct world *w)
{
    int c = ns_socket(w->cli, AF_INET, SOCK_STREAM, 0);
    NS_ASSERT_SEED(c >= 0);
    NS_ASSERT_SEED(ns_connect(w->cli, c, (struct sockaddr *)&w->srv_addr, sizeof(w->srv_addr)) == 0);
    return c;
}

static const char *state_of(struct ns_stack *st, int fd)
{
    struct ns_sock_info info[8];
    int n = ns_sock_list(st, info, 8);
    for (int i = 0; i < n && i < 8; i++)
        if (info[i].fd == fd)
            return info[i].state;
    return "(none)";
}

static void check_pools(struct world *w)
{
    /* Past TIME_WAIT and every timer: nothing may hold a buffer. */
    ns_sim_run_for(w->sim, 200 * 1000000ull);
    struct ns_pbuf_pool_stats a, b;
    ns_stack_pbuf_stats(w->cli, &a);
    ns_stack_pbuf_stats(w->srv, &b);
    NS_ASSERT_SEED(a.pool_free == a.pool_total);
    NS_ASSERT_SEED(b.pool_free == b.pool_total);
}

/* stop(w, l): make listener l stop listening. */
static void stop_listening(struct world *w, int l, int how)
{
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    int c1 = client(w), c2 = client(w);
    ns_sim_run_for(w->sim, 10000);
    struct ns_sock_info info[8];
    int n = ns_sock_list(w->srv, info, 8);
    NS_ASSERT_SEED(n == 1 && info[0].recv_q == 2); /* two waiting for accept */

    if (how == SHUT_RD) {
        NS_ASSERT_SEED(ns_shutdown(w->srv, l, SHUT_RD) == 0);
    } else {
        struct sockaddr sa = {.sa_family = AF_UNSPEC};
        NS_ASSERT_SEED(ns_connect(w->srv, l, &sa, sizeof(sa)) == 0);
    }
    NS_ASSERT_SEED(!strcmp(state_of(w->srv, l), "CLOSED"));
    ns_sim_run_for(w->sim, 10000);

    /* Each client was reset, as by a close of the listener. */
    char buf[8];
    NS_ASSERT_SEED(ns_recv(w->cli, c1, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == ECONNRESET);
    NS_ASSERT_SEED(ns_recv(w->cli, c2, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == ECONNRESET);
    NS_ASSERT_SEED(ns_stack_counter(w->cli, NS_CTR_tcp_estab_resets) >= 2);

    /* The socket listens again; a new client gets through and is accepted. */
    NS_ASSERT_SEED(ns_listen(w->srv, l, 8) == 0);
    int c3 = client(w);
    int s3 = ns_accept(w->srv, l, NULL, NULL);
    NS_ASSERT_SEED(s3 >= 0);
    NS_ASSERT_SEED(!strcmp(state_of(w->srv, s3), "ESTAB"));

    /* Close everything; the clients' resets find nothing stale. */
    NS_ASSERT_SEED(ns_close(w->srv, s3) == 0);
    NS_ASSERT_SEED(ns_close(w->srv, l) == 0);
    for (int i = 0; i < 3; i++) {
        int c = i == 0 ? c1 : i == 1 ? c2 : c3;
        ns_setsockopt(w->cli, c, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
        NS_ASSERT_SEED(ns_close(w->cli, c) == 0);
    }
    check_pools(w);
}

static void test_shutdown_rd_resets_the_accept_queue(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    stop_listening(&w, listener(&w), SHUT_RD);
    ns_sim_free(w.sim);
}

static void test_connect_unspec_resets_the_accept_queue(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    stop_listening(&w, listener(&w), -1);
    ns_sim_free(w.sim);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shutdown_rd_resets_the_accept_queue),
        cmocka_unit_test(test_connect_unspec_resets_the_accept_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
