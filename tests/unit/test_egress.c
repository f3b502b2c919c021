/* tests/unit/test_egress.c — a connection decides its egress (route, next
 * hop, source, interface) once and keeps it (net/net.h struct ip_egress):
 * no route is looked up per segment, and a change of the routes, the
 * addresses or the interfaces makes it decide once more, after which its
 * segments follow the new route.
 *
 *   client 192.0.2.1/24 ─A─ 192.0.2.2/24 server, also 198.18.0.1/32
 *          198.51.100.1/24 ─B─ 198.51.100.2/24
 *
 * The client reaches 198.18.0.1 through 198.18.0.0/15 via 192.0.2.2
 * (link A); a /32 via 198.51.100.2 moves it to link B, its removal back.
 * The counters read are the network layer's own (net_state): egress
 * decisions and routing-table searches.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "testutil.h"

#include "net/net.h"
#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"

struct world {
    struct ns_sim *sim;
    struct ns_stack *c, *s;
    int c_a, c_b;         /* the client's interfaces on links A and B */
    int cfd, sfd;         /* the connection's two ends */
    uint64_t sent, got;   /* stream positions (client to server) */
};

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static void world_build(struct world *w)
{
    memset(w, 0, sizeof(*w));
    w->sim = ns_sim_new(ns_test_seed(5));
    w->c = ns_sim_add_host(w->sim, "client", NULL);
    w->s = ns_sim_add_host(w->sim, "server", NULL);
    int s_a, s_b;
    assert_non_null(ns_sim_connect(w->sim, w->c, w->s, NULL, &w->c_a, &s_a));
    assert_non_null(ns_sim_connect(w->sim, w->c, w->s, NULL, &w->c_b, &s_b));
    struct in_addr a;
    a = ip("192.0.2.1");
    assert_int_equal(ns_if_addr_add(w->c, w->c_a, AF_INET, &a, 24), 0);
    a = ip("198.51.100.1");
    assert_int_equal(ns_if_addr_add(w->c, w->c_b, AF_INET, &a, 24), 0);
    a = ip("192.0.2.2");
    assert_int_equal(ns_if_addr_add(w->s, s_a, AF_INET, &a, 24), 0);
    a = ip("198.18.0.1");
    assert_int_equal(ns_if_addr_add(w->s, s_a, AF_INET, &a, 32), 0);
    a = ip("198.51.100.2");
    assert_int_equal(ns_if_addr_add(w->s, s_b, AF_INET, &a, 24), 0);
    struct in_addr net = ip("198.18.0.0"), gw = ip("192.0.2.2");
    assert_int_equal(ns_route_add(w->c, AF_INET, &net, 15, &gw, 0), 0);

    int l = ns_socket(w->s, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(7)};
    assert_int_equal(ns_bind(w->s, l, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(ns_listen(w->s, l, 1), 0);
    w->cfd = ns_socket(w->c, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sin.sin_addr = ip("198.18.0.1");
    assert_int_equal(ns_connect(w->c, w->cfd, (struct sockaddr *)&sin, sizeof(sin)), -1);
    assert_int_equal(errno, EINPROGRESS);
    w->sfd = ns_accept(w->s, l, NULL, NULL); /* drives the simulation */
    assert_true(w->sfd >= 0);
    ns_fcntl(w->s, w->sfd, F_SETFL, O_NONBLOCK);
    ns_close(w->s, l);
}

static uint8_t pat(uint64_t i) { return (uint8_t)(i * 7 + (i >> 8)); }

/* Move `bytes` more from client to server and check them. */
static void transfer(struct world *w, uint64_t bytes)
{
    uint64_t end = w->sent + bytes;
    uint8_t buf[4096];
    while (w->got < end) {
        bool moved = false;
        if (w->sent < end) {
            size_t n = end - w->sent < sizeof(buf) ? (size_t)(end - w->sent) : sizeof(buf);
            for (size_t i = 0; i < n; i++)
                buf[i] = pat(w->sent + i);
            ssize_t k = ns_send(w->c, w->cfd, buf, n, 0);
            if (k > 0) {
                w->sent += (uint64_t)k;
                moved = true;
            }
        }
        ssize_t r = ns_recv(w->s, w->sfd, buf, sizeof(buf), 0);
        if (r > 0) {
            for (ssize_t i = 0; i < r; i++)
                assert_int_equal(buf[i], pat(w->got + (uint64_t)i));
            w->got += (uint64_t)r;
            moved = true;
        }
        if (!moved)
            assert_true(ns_sim_step(w->sim, NS_TIME_NEVER));
    }
    ns_sim_run_for(w->sim, 100000); /* the last ACKs */
}

struct snap {
    uint64_t decisions, lookups, segs, tx_a, tx_b;
};

static struct snap snap(const struct world *w)
{
    struct snap s = {
        .decisions = w->c->net->egress_decisions,
        .lookups = w->c->net->route4_lookups,
        .segs = ns_stack_counter(w->c, NS_CTR_tcp_tx_segs),
        .tx_a = ns_if_dev(w->c, w->c_a)->stats.tx_frames,
        .tx_b = ns_if_dev(w->c, w->c_b)->stats.tx_frames,
    };
    return s;
}

static void test_one_decision_per_generation(void **state)
{
    (void)state;
    struct world w;
    world_build(&w);
    ns_sim_run_for(w.sim, 100000);

    /* Established: 256 KiB go out without a decision or a route lookup. */
    struct snap a = snap(&w);
    transfer(&w, 256u << 10);
    struct snap b = snap(&w);
    NS_ASSERT_SEED(b.segs - a.segs > 150);
    NS_ASSERT_SEED(b.decisions == a.decisions);
    NS_ASSERT_SEED(b.lookups == a.lookups);
    NS_ASSERT_SEED(b.tx_a - a.tx_a >= b.segs - a.segs && b.tx_b == a.tx_b);

    /* A more specific route via link B: one decision, then link B. */
    struct in_addr host = ip("198.18.0.1"), gw_b = ip("198.51.100.2");
    assert_int_equal(ns_route_add(w.c, AF_INET, &host, 32, &gw_b, 0), 0);
    a = snap(&w);
    transfer(&w, 256u << 10);
    b = snap(&w);
    NS_ASSERT_SEED(b.decisions == a.decisions + 1);
    NS_ASSERT_SEED(b.lookups == a.lookups + 1);
    NS_ASSERT_SEED(b.tx_b - a.tx_b >= b.segs - a.segs); /* every segment, and ARP */
    NS_ASSERT_SEED(b.tx_a == a.tx_a);

    /* Removing it: one decision, back on link A. */
    assert_int_equal(ns_route_del(w.c, AF_INET, &host, 32), 0);
    a = snap(&w);
    transfer(&w, 64u << 10);
    b = snap(&w);
    NS_ASSERT_SEED(b.decisions == a.decisions + 1);
    NS_ASSERT_SEED(b.tx_a - a.tx_a >= b.segs - a.segs && b.tx_b == a.tx_b);

    /* A new address, a new interface: each a generation, one decision. */
    struct in_addr extra = ip("192.0.2.9");
    assert_int_equal(ns_if_addr_add(w.c, w.c_a, AF_INET, &extra, 24), 0);
    a = snap(&w);
    transfer(&w, 64u << 10);
    b = snap(&w);
    NS_ASSERT_SEED(b.decisions == a.decisions + 1);
    assert_true(ns_if_add(w.c, ns_loopback_new()) > 0);
    a = snap(&w);
    transfer(&w, 64u << 10);
    b = snap(&w);
    NS_ASSERT_SEED(b.decisions == a.decisions + 1);
    NS_ASSERT_SEED(b.lookups == a.lookups + 1);

    ns_sim_free(w.sim);
}

/* The server's end decided when it answered the SYN, and keeps that
 * decision for every ACK of the transfer. */
static void test_server_end_decides_once(void **state)
{
    (void)state;
    struct world w;
    world_build(&w);
    uint64_t d0 = w.s->net->egress_decisions;
    uint64_t acks0 = ns_stack_counter(w.s, NS_CTR_tcp_tx_segs);
    transfer(&w, 256u << 10);
    NS_ASSERT_SEED(ns_stack_counter(w.s, NS_CTR_tcp_tx_segs) - acks0 > 50);
    NS_ASSERT_SEED(w.s->net->egress_decisions == d0);
    ns_sim_free(w.sim);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_decision_per_generation),
        cmocka_unit_test(test_server_end_decides_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
