/* tests/sim/test_sim_slaac.c — stateless autoconfiguration in the
 * simulator: a router host and two hosts on one simulated link (a
 * three-port hub), IPv6 with autoconfiguration on every interface, the
 * router advertising 2001:db8:1::/64 (ns_if_advertise).
 *
 * Checked: each host forms a link-local address and a SLAAC address in
 * the prefix (RFC 4862 §5.5.3), distinct, preferred, by a bound of
 * virtual time that follows from the protocol (DAD delay < 1 s + 1 s of
 * probing, the router's first RA when its own link-local is ready, the
 * hosts' RS answered within 0.5 s, then DAD of the new address); their
 * default route goes through the router's link-local address; the hosts
 * exchange echo requests and replies over the SLAAC addresses. A fourth
 * host (IPv6 without autoconfiguration) already holds the address alice
 * would form first: alice's DAD finds it taken (RFC 4862 §5.4.4), she
 * forms the next one with DAD_Counter 1 (RFC 7217 §6) and keeps it; the
 * holder keeps its own. A manual address that duplicates bob's is
 * refused by DAD on alice's interface.
 *
 * Replay: NETSOCK_SEED=<seed> build-test/tests/test_sim_slaac.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "base/stack.h"
#include "link/link.h"
#include "net/addrconf.h"
#include "net/net.h"
#include "testutil.h"

#define US_S 1000000ull

struct world {
    struct ns_sim *sim;
    struct ns_simlink *lan;
    struct ns_stack *h[4]; /* 0 router, 1 alice, 2 bob, 3 the holder */
    int ifx[4];
};

static const uint8_t MACS[4][6] = {
    {0x02, 0x10, 0, 0, 0, 1}, {0x02, 0x10, 0, 0, 0, 2}, {0x02, 0x10, 0, 0, 0, 3},
    {0x02, 0x10, 0, 0, 0, 4},
};

static struct ns_ip6_addr A(const char *s)
{
    struct ns_ip6_addr a;
    assert_true(ns_ip6_aton(s, &a));
    return a;
}

static void add(struct world *w, int i, const char *name)
{
    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.arp_announce_num = 0;
    w->h[i] = ns_sim_add_host(w->sim, name, &cfg);
    assert_non_null(w->h[i]);
    struct ns_dev *dev = ns_simlink_port(w->lan, (unsigned)i, MACS[i]);
    assert_non_null(dev);
    w->ifx[i] = ns_if_add(w->h[i], dev);
    assert_true(w->ifx[i] > 0);
}

/* The SLAAC address of host i in 2001:db8:1::/64, preferred; false when none. */
static bool slaac_addr(struct world *w, int i, struct ns_ip6_addr *out)
{
    const struct ip6_ifstate *is = ip6_ifstate(w->h[i], w->ifx[i]);
    struct ns_ip6_addr pfx = A("2001:db8:1::");
    for (unsigned k = 0; k < is->n_addr; k++) {
        const struct ns_if_addr6 *a = &is->addr[k];
        if (ns_ip6_prefix_eq(&a->addr, &pfx, 64) &&
            !(a->flags & (IP6_ADDR_TENTATIVE | IP6_ADDR_DEPRECATED))) {
            *out = a->addr;
            return true;
        }
    }
    return false;
}

static void test_two_hosts_get_addresses_and_talk(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(7);
    struct world w = {0};
    w.sim = ns_sim_new(seed);
    w.lan = ns_sim_add_link(w.sim, "lan", 4, NULL);
    add(&w, 0, "router");
    add(&w, 1, "alice");
    add(&w, 2, "bob");
    add(&w, 3, "holder");
    ns_stack_set_forwarding(w.h[0], true);
    for (int i = 0; i < 3; i++)
        NS_ASSERT_SEED(ns_if_autoconf(w.h[i], w.ifx[i]) == 0);
    NS_ASSERT_SEED(ns_if_autoconf(w.h[1], w.ifx[1]) == -EALREADY);
    struct ns_ip6_addr pfx = A("2001:db8:1::");
    NS_ASSERT_SEED(ns_if_advertise(w.h[0], w.ifx[0], pfx.b, 64) == 0);
    /* The address alice will try first (her secret is drawn now), held
     * already by the fourth host, which does no autoconfiguration. */
    const struct ac_if *aif = autoconf_if(w.h[1], w.ifx[1]);
    NS_ASSERT_SEED(aif != NULL);
    uint8_t c0 = 0, c1 = 1;
    struct ns_ip6_addr taken = pfx, second = pfx;
    NS_ASSERT_SEED(ac_stable_iid(&aif->cfg, &pfx, &c0, taken.b + 8) && c0 == 0);
    NS_ASSERT_SEED(ac_stable_iid(&aif->cfg, &pfx, &c1, second.b + 8));
    NS_ASSERT_SEED(ns_if_addr_add(w.h[3], w.ifx[3], AF_INET6, taken.b, 64) == 0);

    /* Link-local DAD: < 1 s delay + 1 s, so every RS and the router's
     * first RA by 2 s; the answer to the RSs by 2 + 3 s (MIN_DELAY_BETWEEN_RAS
     * after the first); SLAAC DAD: < 1 s + 1 s more. Eight seconds is more
     * than the sum. */
    ns_sim_run_for(w.sim, 8 * US_S);
    /* alice's first choice was taken: one conflict, then idgen_delay (1 s)
     * and DAD (1 s) for the next. */
    ns_sim_run_for(w.sim, 2 * US_S);
    struct ns_ip6_addr a1, a2;
    NS_ASSERT_SEED(slaac_addr(&w, 1, &a1));
    NS_ASSERT_SEED(slaac_addr(&w, 2, &a2));
    NS_ASSERT_SEED(!ns_ip6_eq(&a1, &a2));
    NS_ASSERT_SEED(ns_stack_counter(w.h[1], NS_CTR_slaac_addr_added) == 1);
    NS_ASSERT_SEED(ns_stack_counter(w.h[1], NS_CTR_dad_conflict) == 1);
    NS_ASSERT_SEED(ns_stack_counter(w.h[2], NS_CTR_dad_conflict) == 0);
    NS_ASSERT_SEED(ns_ip6_eq(&a1, &second));
    NS_ASSERT_SEED(ip6_addr_find(w.h[1], w.ifx[1], &taken) == NULL);
    NS_ASSERT_SEED(ip6_addr_find(w.h[3], w.ifx[3], &taken) != NULL);
    /* The hosts solicited and the router, listening to all-routers, heard
     * both (whether it answered depends on whether its link-local address
     * was ready then: its first RA goes when it is, test_addrconf checks
     * the answers' timing). */
    NS_ASSERT_SEED(ns_stack_counter(w.h[1], NS_CTR_rs_tx) >= 1);
    NS_ASSERT_SEED(ns_stack_counter(w.h[2], NS_CTR_rs_tx) >= 1);
    NS_ASSERT_SEED(ns_stack_counter(w.h[0], NS_CTR_icmp6_rx) >= 2);
    NS_ASSERT_SEED(ns_stack_counter(w.h[0], NS_CTR_ra_tx) >= 1);
    /* The router keeps no SLAAC address of its own (it forwards: RAs ignored). */
    struct ns_ip6_addr ar;
    NS_ASSERT_SEED(!slaac_addr(&w, 0, &ar));

    /* Default route: the router's link-local address. */
    const struct ac_if *rif = autoconf_if(w.h[0], w.ifx[0]);
    const struct ac_addr *rll = ac_linklocal(rif);
    NS_ASSERT_SEED(rll != NULL);
    int oif;
    struct ns_ip6_addr nh;
    struct ns_ip6_addr far = A("2001:db8:99::1");
    NS_ASSERT_SEED(route6_lookup(w.h[1], &far, 0, &oif, &nh) == 0);
    NS_ASSERT_SEED(oif == w.ifx[1] && ns_ip6_eq(&nh, &rll->addr));
    /* The prefix is on-link: bob is reached directly. */
    NS_ASSERT_SEED(route6_lookup(w.h[1], &a2, 0, &oif, &nh) == 0);
    NS_ASSERT_SEED(ns_ip6_eq(&nh, &a2));

    /* Traffic: ten echo requests alice -> bob over the SLAAC addresses. */
    uint64_t replies0 = ns_stack_counter(w.h[1], NS_CTR_icmp6_rx);
    uint64_t req0 = ns_stack_counter(w.h[2], NS_CTR_icmp6_rx);
    for (int i = 0; i < 10; i++) {
        uint8_t msg[16] = {NS_ICMP6_ECHO_REQUEST, 0, 0, 0, 0x12, 0x34, 0, (uint8_t)i, 'p', 'i', 'n', 'g'};
        struct ns_iface *ifp = ns_iface_get(w.h[1], w.ifx[1]);
        NS_ASSERT_SEED(icmp6_send(w.h[1], ifp, &a1, &a2, 0, msg, sizeof(msg)) == 0);
        ns_sim_run_for(w.sim, 100000);
    }
    NS_ASSERT_SEED(ns_stack_counter(w.h[2], NS_CTR_icmp6_rx) - req0 >= 10);
    NS_ASSERT_SEED(ns_stack_counter(w.h[1], NS_CTR_icmp6_rx) - replies0 >= 10);

    /* alice adds bob's address by hand: DAD refuses it (no other
     * identifier for a manual address), bob keeps his. */
    NS_ASSERT_SEED(ns_if_addr_add(w.h[1], w.ifx[1], AF_INET6, a2.b, 64) == 0);
    NS_ASSERT_SEED(ip6_addr_find(w.h[1], w.ifx[1], &a2) != NULL); /* tentative */
    NS_ASSERT_SEED(!ip6_is_local(w.h[1], &a2));
    ns_sim_run_for(w.sim, 3 * US_S);
    NS_ASSERT_SEED(ip6_addr_find(w.h[1], w.ifx[1], &a2) == NULL);
    NS_ASSERT_SEED(ns_stack_counter(w.h[1], NS_CTR_dad_conflict) == 2);
    NS_ASSERT_SEED(ip6_is_local(w.h[2], &a2));
    ns_sim_free(w.sim);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_hosts_get_addresses_and_talk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
