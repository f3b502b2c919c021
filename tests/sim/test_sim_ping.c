/* tests/sim/test_sim_ping.c — hosts ping each other across a router on
 * simulated links with seeded faults.
 *
 * Topology (each test builds it fresh from the run's seed):
 *   alice 192.0.2.10/24 ─lan─ router (forwarding) ─wan─ bob 198.51.100.20/24
 *
 * Invariants checked: every reply answers a request we sent, payloads
 * come back intact (corruption never reaches the application), the counters
 * agree with what the application saw, and every packet buffer is back
 * in its pool when the network falls quiet.
 *
 * Replay a failure: NETSOCK_SEED=<seed> build-test/tests/test_sim_ping
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "testutil.h"

#define MAXP 256

struct net {
    struct ns_sim *sim;
    struct ns_stack *alice, *router, *bob;
    struct ns_simlink *lan, *wan;
    struct in_addr a_ip, r_ip1, r_ip2, b_ip;
};

struct pings {
    uint16_t id;
    size_t payload;
    unsigned sent, replies, bad, dups, errors;
    bool got[MAXP];
    uint8_t last_err_type, last_err_code;
    uint32_t last_err_from;
};

static void fill_payload(uint8_t *buf, size_t len, uint16_t seq)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 7 + seq);
}

static void on_echo(void *ctx, struct ns_stack *st, const struct ns_echo_reply *r, uint64_t now)
{
    struct pings *p = ctx;
    (void)st;
    (void)now;
    if (r->icmp_type != 0) {
        p->errors++;
        p->last_err_type = r->icmp_type;
        p->last_err_code = r->icmp_code;
        p->last_err_from = r->from;
        return;
    }
    if (r->id != p->id || r->seq == 0 || r->seq > p->sent || r->len != p->payload) {
        p->bad++;
        return;
    }
    uint8_t want[9000];
    fill_payload(want, r->len, r->seq);
    if (memcmp(want, r->data, r->len) != 0) {
        p->bad++;
        return;
    }
    if (p->got[r->seq - 1]) {
        p->dups++;
        return;
    }
    p->got[r->seq - 1] = true;
    p->replies++;
}

static void net_build(struct net *n, uint64_t seed, const struct ns_link_params *lan,
                      const struct ns_link_params *wan, const char *pcap_dir)
{
    memset(n, 0, sizeof(*n));
    n->sim = ns_sim_new(seed);
    n->alice = ns_sim_add_host(n->sim, "alice", NULL);
    n->router = ns_sim_add_host(n->sim, "router", NULL);
    n->bob = ns_sim_add_host(n->sim, "bob", NULL);
    assert_non_null(n->alice);
    ns_stack_set_forwarding(n->router, true);
    n->lan = ns_sim_add_link(n->sim, "lan", 2, lan);
    n->wan = ns_sim_add_link(n->sim, "wan", 2, wan);
    struct ns_dev *ad = ns_simlink_port(n->lan, 0, NULL);
    struct ns_dev *bd = ns_simlink_port(n->wan, 1, NULL);
    if (pcap_dir) {
        char path[512];
        int err;
        snprintf(path, sizeof(path), "%s/alice.pcap", pcap_dir);
        ad = ns_pcap_wrap(ad, path, &err);
        snprintf(path, sizeof(path), "%s/bob.pcap", pcap_dir);
        bd = ns_pcap_wrap(bd, path, &err);
        assert_non_null(ad);
        assert_non_null(bd);
    }
    int ai = ns_if_add(n->alice, ad);
    int ri1 = ns_if_add(n->router, ns_simlink_port(n->lan, 1, NULL));
    int ri2 = ns_if_add(n->router, ns_simlink_port(n->wan, 0, NULL));
    int bi = ns_if_add(n->bob, bd);
    assert_true(ai > 0 && ri1 > 0 && ri2 > 0 && bi > 0);
    inet_pton(AF_INET, "192.0.2.10", &n->a_ip);
    inet_pton(AF_INET, "192.0.2.1", &n->r_ip1);
    inet_pton(AF_INET, "198.51.100.1", &n->r_ip2);
    inet_pton(AF_INET, "198.51.100.20", &n->b_ip);
    struct in_addr any = {0};
    assert_int_equal(ns_if_addr_add(n->alice, ai, AF_INET, &n->a_ip, 24), 0);
    assert_int_equal(ns_if_addr_add(n->router, ri1, AF_INET, &n->r_ip1, 24), 0);
    assert_int_equal(ns_if_addr_add(n->router, ri2, AF_INET, &n->r_ip2, 24), 0);
    assert_int_equal(ns_if_addr_add(n->bob, bi, AF_INET, &n->b_ip, 24), 0);
    assert_int_equal(ns_route_add(n->alice, AF_INET, &any, 0, &n->r_ip1, 0), 0);
    assert_int_equal(ns_route_add(n->bob, AF_INET, &any, 0, &n->r_ip2, 0), 0);
    ns_sim_run_for(n->sim, 100000);
}

/* Every host's pool back to full once the network is quiet. */
static void assert_pools_idle(struct net *n)
{
    struct ns_stack *hosts[3] = {n->alice, n->router, n->bob};
    for (int i = 0; i < 3; i++) {
        struct ns_pbuf_pool_stats ps;
        ns_stack_pbuf_stats(hosts[i], &ps);
        NS_ASSERT_SEED(ps.pool_free == ps.pool_total);
        NS_ASSERT_SEED(ps.heap_bytes == 0);
    }
}

static void do_pings(struct net *n, struct pings *p, const struct in_addr *dst, unsigned count,
                     size_t payload, uint8_t ttl, uint64_t gap_us)
{
    uint8_t buf[9000];
    p->payload = payload;
    ns_icmp_set_echo_hook(n->alice, on_echo, p);
    for (unsigned i = 0; i < count; i++) {
        p->sent++;
        fill_payload(buf, payload, (uint16_t)p->sent);
        int rc = ns_icmp_echo_send(n->alice, dst, p->id, (uint16_t)p->sent, buf, payload, ttl);
        NS_ASSERT_SEED(rc == 0);
        ns_sim_run_for(n->sim, gap_us);
    }
    /* Long enough for stragglers and for ARP to give up (3 x 1 s). */
    ns_sim_run_for(n->sim, 4000000);
    ns_icmp_set_echo_hook(n->alice, NULL, NULL);
}

static void test_ping_across_router_clean(void **state)
{
    (void)state;
    struct net n;
    net_build(&n, ns_test_seed(1), NULL, NULL, NULL);
    struct pings p = {.id = 7};
    do_pings(&n, &p, &n.b_ip, 20, 56, 0, 100000);
    NS_ASSERT_SEED(p.replies == 20);
    NS_ASSERT_SEED(p.bad == 0 && p.dups == 0 && p.errors == 0);
    NS_ASSERT_SEED(ns_stack_counter(n.bob, NS_CTR_icmp_rx_echo) == 20);
    NS_ASSERT_SEED(ns_stack_counter(n.bob, NS_CTR_icmp_tx_echo_reply) == 20);
    NS_ASSERT_SEED(ns_stack_counter(n.router, NS_CTR_ip_forwarded) == 40);
    /* One ARP resolution per neighbour pair: alice->router, router->bob,
     * bob->router (router->alice learned from alice's request). */
    NS_ASSERT_SEED(ns_stack_counter(n.alice, NS_CTR_arp_tx_request) == 1);
    NS_ASSERT_SEED(ns_stack_counter(n.bob, NS_CTR_arp_tx_request) <= 1);
    assert_pools_idle(&n);
    ns_sim_free(n.sim);
}

static void test_ping_with_loss(void **state)
{
    (void)state;
    struct ns_link_params wan;
    ns_link_params_default(&wan);
    wan.delay_us = 20000;
    wan.loss = 0.05;
    struct net n;
    net_build(&n, ns_test_seed(2), NULL, &wan, NULL);
    struct pings p = {.id = 9};
    do_pings(&n, &p, &n.b_ip, 200, 56, 0, 50000);
    struct ns_impair_stats s0, s1;
    ns_simlink_stats(n.wan, 0, &s0);
    ns_simlink_stats(n.wan, 1, &s1);
    /* ~10% of round trips lose a frame; far outside that means the loss
     * model or the stack is broken. */
    NS_ASSERT_SEED(p.replies >= 150 && p.replies < 200);
    NS_ASSERT_SEED(s0.lost + s1.lost > 0);
    NS_ASSERT_SEED(p.bad == 0 && p.dups == 0);
    NS_ASSERT_SEED(ns_stack_counter(n.alice, NS_CTR_icmp_rx_echo_reply) == p.replies);
    /* Each reply bob sent either reached alice or was lost on the wan. */
    NS_ASSERT_SEED(ns_stack_counter(n.bob, NS_CTR_icmp_tx_echo_reply) >= p.replies);
    assert_pools_idle(&n);
    ns_sim_free(n.sim);
}

static void test_fragmented_ping_refragmented_by_router(void **state)
{
    (void)state;
    struct ns_link_params wan;
    ns_link_params_default(&wan);
    wan.delay_us = 5000;
    wan.mtu = 576; /* the router must fragment alice's 1500-byte fragments again */
    struct net n;
    net_build(&n, ns_test_seed(3), NULL, &wan, NULL);
    struct pings p = {.id = 11};
    do_pings(&n, &p, &n.b_ip, 10, 8000, 0, 200000);
    NS_ASSERT_SEED(p.replies == 10);
    NS_ASSERT_SEED(p.bad == 0);
    NS_ASSERT_SEED(ns_stack_counter(n.alice, NS_CTR_ip_frag_ok) == 10);
    NS_ASSERT_SEED(ns_stack_counter(n.router, NS_CTR_ip_frag_ok) > 0);
    NS_ASSERT_SEED(ns_stack_counter(n.bob, NS_CTR_ip_reass_ok) == 10);
    NS_ASSERT_SEED(ns_stack_counter(n.alice, NS_CTR_ip_reass_ok) == 10);
    assert_pools_idle(&n);
    ns_sim_free(n.sim);
}

static void test_fragmented_ping_with_faults(void **state)
{
    (void)state;
    struct ns_link_params wan;
    ns_link_params_default(&wan);
    wan.delay_us = 10000;
    wan.loss = 0.02;
    wan.dup = 0.05;
    wan.reorder = 0.2;
    wan.reorder_delay_us = 3000;
    wan.corrupt = 0.05;
    struct net n;
    net_build(&n, ns_test_seed(4), NULL, &wan, NULL);
    struct pings p = {.id = 12};
    do_pings(&n, &p, &n.b_ip, 60, 5000, 0, 100000);
    /* Corrupted, duplicated, reordered fragments: whatever arrives is
     * exact, and most datagrams make it. */
    NS_ASSERT_SEED(p.bad == 0);
    NS_ASSERT_SEED(p.replies >= 30);
    NS_ASSERT_SEED(ns_stack_counter(n.bob, NS_CTR_ip_reass_ok) >= p.replies);
    /* Let reassembly timers expire, then everything is released. */
    ns_sim_run_for(n.sim, 40000000);
    assert_pools_idle(&n);
    ns_sim_free(n.sim);
}

static void test_ttl_exceeded(void **state)
{
    (void)state;
    struct net n;
    net_build(&n, ns_test_seed(5), NULL, NULL, NULL);
    struct pings p = {.id = 13};
    do_pings(&n, &p, &n.b_ip, 3, 56, 1, 100000);
    NS_ASSERT_SEED(p.replies == 0);
    NS_ASSERT_SEED(p.errors == 3);
    NS_ASSERT_SEED(p.last_err_type == 11 && p.last_err_code == 0);
    NS_ASSERT_SEED(p.last_err_from == n.r_ip1.s_addr);
    NS_ASSERT_SEED(ns_stack_counter(n.router, NS_CTR_ip_drop_ttl) == 3);
    NS_ASSERT_SEED(ns_stack_counter(n.router, NS_CTR_icmp_tx_time_exceeded) == 3);
    NS_ASSERT_SEED(ns_stack_counter(n.bob, NS_CTR_icmp_rx_echo) == 0);
    ns_sim_free(n.sim);
}

static void test_arp_failure_reports_host_unreachable(void **state)
{
    (void)state;
    struct net n;
    net_build(&n, ns_test_seed(6), NULL, NULL, NULL);
    struct in_addr ghost;
    inet_pton(AF_INET, "192.0.2.99", &ghost);
    struct pings p = {.id = 14};
    do_pings(&n, &p, &ghost, 2, 56, 0, 10000);
    /* RFC 1122 §2.3.2.1: requests retried, then the held packets fail. */
    NS_ASSERT_SEED(ns_stack_counter(n.alice, NS_CTR_arp_tx_request) == 3);
    NS_ASSERT_SEED(ns_stack_counter(n.alice, NS_CTR_arp_resolve_fail) == 2);
    NS_ASSERT_SEED(p.errors == 2);
    NS_ASSERT_SEED(p.last_err_type == 3 && p.last_err_code == 1);
    NS_ASSERT_SEED(p.last_err_from == n.a_ip.s_addr);
    assert_pools_idle(&n);
    ns_sim_free(n.sim);
}

/* Run a faulty scenario with pcaps into dir. */
static void scenario_to_pcap(uint64_t seed, const char *dir)
{
    struct ns_link_params wan;
    ns_link_params_default(&wan);
    wan.delay_us = 15000;
    wan.jitter_us = 2000;
    wan.rate_bps = 2000000;
    wan.loss = 0.05;
    wan.dup = 0.05;
    wan.reorder = 0.1;
    wan.reorder_delay_us = 4000;
    wan.corrupt = 0.02;
    struct net n;
    net_build(&n, seed, NULL, &wan, dir);
    struct pings p = {.id = 15};
    do_pings(&n, &p, &n.b_ip, 30, 3000, 0, 50000);
    ns_sim_free(n.sim);
}

static long read_file(const char *path, uint8_t **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc((size_t)len + 1);
    if (fread(*out, 1, (size_t)len, f) != (size_t)len)
        len = -1;
    fclose(f);
    return len;
}

static bool same_file(const char *a, const char *b)
{
    uint8_t *x = NULL, *y = NULL;
    long lx = read_file(a, &x), ly = read_file(b, &y);
    bool same = lx > 24 && lx == ly && memcmp(x, y, (size_t)lx) == 0;
    free(x);
    free(y);
    return same;
}

static void test_determinism_same_seed_same_bytes(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(77);
    char d1[] = "/tmp/ns-det1-XXXXXX", d2[] = "/tmp/ns-det2-XXXXXX", d3[] = "/tmp/ns-det3-XXXXXX";
    assert_non_null(mkdtemp(d1));
    assert_non_null(mkdtemp(d2));
    assert_non_null(mkdtemp(d3));
    scenario_to_pcap(seed, d1);
    scenario_to_pcap(seed, d2);
    scenario_to_pcap(seed + 1, d3);
    const char *names[] = {"alice.pcap", "bob.pcap"};
    bool all_same = true, differs = false;
    for (int i = 0; i < 2; i++) {
        char a[256], b[256], c[256];
        snprintf(a, sizeof(a), "%s/%s", d1, names[i]);
        snprintf(b, sizeof(b), "%s/%s", d2, names[i]);
        snprintf(c, sizeof(c), "%s/%s", d3, names[i]);
        all_same &= same_file(a, b);
        differs |= !same_file(a, c);
        unlink(a);
        unlink(b);
        unlink(c);
    }
    rmdir(d1);
    rmdir(d2);
    rmdir(d3);
    NS_ASSERT_SEED(all_same);
    NS_ASSERT_SEED(differs); /* the seed really drives the faults */
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_across_router_clean),
        cmocka_unit_test(test_ping_with_loss),
        cmocka_unit_test(test_fragmented_ping_refragmented_by_router),
        cmocka_unit_test(test_fragmented_ping_with_faults),
        cmocka_unit_test(test_ttl_exceeded),
        cmocka_unit_test(test_arp_failure_reports_host_unreachable),
        cmocka_unit_test(test_determinism_same_seed_same_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
