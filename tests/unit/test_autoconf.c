/* tests/unit/test_autoconf.c — autoconfiguration wired to the IPv6 layer
 * (net/autoconf.c), frame by frame through a queue device: what
 * ns_if_autoconf sends (the MLDv2 report behind its Hop-by-Hop Router
 * Alert, the DAD probe from ::, the RS), and what an RA, an MLD query and
 * a Redirect arriving as frames do to the interface's addresses, routes,
 * link parameters and neighbour cache. The engine's own rules are
 * test_addrconf's; this is the wiring. Delays come from the seeded
 * generator (NETSOCK_SEED replays).
 */
#include <errno.h>
#include <string.h>

#include "frames.h"
#include "frames6.h"
#include "net/addrconf.h"
#include "testutil.h"

#define US_S 1000000ull

static const uint8_t RMAC[6] = {0x02, 0xaa, 0, 0, 0, 0x01};

struct bench {
    struct tb *tb;
    struct ac_if *ac;
    struct ns_ip6_addr ll, router;
    uint64_t t;
};

static void b_init(struct bench *b)
{
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.seed = ns_test_seed(3);
    b->tb = tb_new(&cfg, 0);
    tb_add_if(b->tb, 1500, 0, 0);
    assert_int_equal(ns_if_autoconf(b->tb->st, 1), 0);
    b->ac = autoconf_if(b->tb->st, 1);
    assert_non_null(b->ac);
    b->router = fr6_addr("fe80::1");
}

static struct ac_addr *tentative(struct bench *b)
{
    for (int i = 0; i < AC_MAX_ADDRS; i++)
        if (b->ac->addrs[i].state == AC_ADDR_WAIT || b->ac->addrs[i].state == AC_ADDR_TENTATIVE)
            return &b->ac->addrs[i];
    fail_msg("no tentative address");
    return NULL;
}

/* The next frame is an MLDv2 report (behind a Hop-by-Hop header with the
 * MLD Router Alert, hop limit 1, to ff02::16) with n records; returns them
 * in recs. */
static void expect_report(struct bench *b, const struct ns_ip6_addr *src, unsigned n,
                          struct ns_mld2_record *recs)
{
    struct fr6_pkt p;
    assert_true(tb_take6(b->tb, 1, &p));
    assert_int_equal(p.ip.hop_limit, 1);
    assert_true(ns_ip6_eq(&p.ip.src, src));
    assert_true(ns_ip6_eq(&p.ip.dst, &ns_ip6_all_mld2_routers));
    assert_int_equal(p.w.n_ext, 1);
    assert_int_equal(p.w.ext[0].type, NS_IP6_NH_HOPOPTS);
    struct ns_ip6_opts_result res;
    assert_int_equal(ns_ip6_opts_process(p.ip_hdr + p.w.ext[0].off, p.w.ext[0].len,
                                         p.w.ext[0].off, true, true, &res),
                     0);
    assert_true(res.router_alert);
    assert_int_equal(res.ra_value, NS_IP6_RA_MLD);
    assert_true(p.is_icmp);
    assert_int_equal(p.icmp.type, NS_ICMP6_MLD2_REPORT);
    struct ns_mld2_report rep;
    assert_int_equal(ns_mld2_report_parse(p.ip_hdr + p.w.upper_off, p.ip_len - p.w.upper_off, &rep),
                     0);
    assert_int_equal(rep.n_rec, n);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(ns_mld2_report_next(&rep, &recs[i]), 1);
}

static void expect_dad(struct bench *b, const struct ns_ip6_addr *target)
{
    struct fr6_pkt p;
    assert_true(tb_take6(b->tb, 1, &p));
    assert_true(p.is_nd);
    assert_int_equal(p.nd.type, NS_ICMP6_NS);
    assert_int_equal(p.ip.hop_limit, 255);
    assert_true(ns_ip6_is_unspecified(&p.ip.src));
    struct ns_ip6_addr sn = ns_ip6_solicited_node(target);
    assert_true(ns_ip6_eq(&p.ip.dst, &sn));
    uint8_t mac[6];
    ns_ip6_mcast_mac(&sn, mac);
    assert_memory_equal(p.eth.dst, mac, 6);
    assert_true(ns_ip6_eq(&p.nd.target, target));
    assert_non_null(p.nd.nonce);
}

/* Run one address's DAD from its timer: report, probe, ready 1 s later. */
static struct ns_ip6_addr run_dad(struct bench *b, const struct ns_ip6_addr *report_src)
{
    struct ac_addr *a = tentative(b);
    struct ns_ip6_addr addr = a->addr;
    struct ns_if_addr6 *ia = ip6_addr_find(b->tb->st, 1, &addr);
    assert_non_null(ia);
    assert_true(ia->flags & IP6_ADDR_TENTATIVE);
    assert_false(ip6_is_local(b->tb->st, &addr));
    uint64_t t = a->dad_timer.expires_us;
    tb_poll(b->tb, t);
    struct ns_mld2_record rec;
    expect_report(b, report_src, 1, &rec);
    struct ns_ip6_addr sn = ns_ip6_solicited_node(&addr);
    assert_int_equal(rec.type, NS_MLD2_CHANGE_TO_EXCLUDE);
    assert_true(ns_ip6_eq(&rec.group, &sn));
    expect_dad(b, &addr);
    tb_poll(b->tb, t + US_S);
    assert_false(ip6_addr_find(b->tb->st, 1, &addr)->flags & IP6_ADDR_TENTATIVE);
    assert_true(ip6_is_local(b->tb->st, &addr));
    b->t = t + US_S;
    tb_drain(b->tb, 1); /* the report's repetition, the RS */
    return addr;
}

static void rx_icmp(struct bench *b, const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                    const uint8_t *dmac, uint8_t hops, const uint8_t *ext, size_t ext_len,
                    const uint8_t *msg, size_t len)
{
    uint8_t f[1600];
    size_t n = fr6_frame(f, dmac, RMAC, src, dst, hops, NS_IP6_NH_HOPOPTS, ext, ext_len,
                         NS_IPPROTO_ICMPV6, msg, len);
    tb_rx(b->tb, 1, f, n, b->t);
}

static uint64_t ctr(struct bench *b, enum ns_counter c) { return b->tb->st->counters[c]; }

/* An MLDv2 query (RFC 3810 §5.1) for group, Maximum Response Code mrc. */
static size_t mld_query(uint8_t *out, const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                        const struct ns_ip6_addr *group, uint16_t mrc)
{
    uint8_t data[20] = {0};
    memcpy(data, group->b, 16);
    data[16] = 2;   /* QRV */
    data[17] = 125; /* QQIC */
    return fr6_icmp(out, src, dst, NS_ICMP6_MLD_QUERY, 0, (uint32_t)mrc << 16, data, sizeof(data));
}

static void test_wiring(void **state)
{
    (void)state;
    struct bench b = {0};
    b_init(&b);
    struct ns_stack *st = b.tb->st;
    uint8_t us[6], allnodes_mac[6];
    tb_mac(1, us);
    ns_ip6_mcast_mac(&ns_ip6_all_nodes, allnodes_mac);

    /* Nothing before the DAD delay; the link-local is the engine's (RFC
     * 7217), not the EUI-64 one. */
    assert_int_equal(tb_pending(b.tb, 1), 0);
    struct ns_ip6_addr eui = fr6_addr("fe80::ff:fe00:101");
    assert_null(ip6_addr_find(st, 1, &eui));
    struct ac_addr *first = tentative(&b);
    assert_true(ns_ip6_is_link_local(&first->addr));
    uint64_t ready_at = first->dad_timer.expires_us + US_S;
    b.ll = run_dad(&b, &ns_ip6_unspecified);
    assert_int_equal(b.t, ready_at);
    assert_int_equal(ctr(&b, NS_CTR_rs_tx), 1); /* sent when the link-local was ready */

    /* An RA: default route through the router, the prefix on-link, MTU,
     * hop limit and RetransTimer applied, the router in the neighbour cache. */
    uint8_t opts[64], msg[256];
    size_t ol = ns_ndp_opt_lladdr_emit(opts, NS_NDP_OPT_SLLA, RMAC);
    ol += ns_ndp_opt_mtu_emit(opts + ol, 1400);
    struct ns_ndp_prefix pi = {.prefix_len = 64,
                               .flags = NS_NDP_PREFIX_ONLINK | NS_NDP_PREFIX_AUTO,
                               .valid_s = 3600, .preferred_s = 1800,
                               .prefix = fr6_addr("2001:db8:1::")};
    ol += ns_ndp_opt_prefix_emit(opts + ol, &pi);
    struct ns_ndp_repr ra = {.type = NS_ICMP6_RA, .cur_hop_limit = 32, .router_lifetime_s = 1800,
                             .retrans_ms = 500, .opts = opts, .opts_len = ol};
    size_t n = ns_ndp_emit(&b.router, &ns_ip6_all_nodes, &ra, msg);
    b.t += US_S;
    rx_icmp(&b, &b.router, &ns_ip6_all_nodes, allnodes_mac, 255, NULL, 0, msg, n);
    assert_int_equal(ctr(&b, NS_CTR_ra_rx), 1);
    int oif;
    struct ns_ip6_addr nh, far = fr6_addr("2001:db8:99::1"), near = fr6_addr("2001:db8:1::77");
    assert_int_equal(route6_lookup(st, &far, 0, &oif, &nh), 0);
    assert_int_equal(oif, 1);
    assert_true(ns_ip6_eq(&nh, &b.router));
    assert_int_equal(route6_lookup(st, &near, 0, &oif, &nh), 0);
    assert_true(ns_ip6_eq(&nh, &near));
    const struct ip6_ifstate *is = ip6_ifstate(st, 1);
    assert_int_equal(is->mtu, 1400);
    assert_int_equal(is->hop_limit, 32);
    assert_int_equal(is->retrans_us, 500000);
    uint8_t mac[6];
    assert_true(nd_lookup(st, 1, &b.router, mac) > 0);
    assert_memory_equal(mac, RMAC, 6);

    /* The SLAAC address: tentative, autoconf, then usable. */
    struct ns_ip6_addr g = run_dad(&b, &b.ll);
    assert_true(ns_ip6_prefix_eq(&g, &pi.prefix, 64));
    assert_true(ip6_addr_find(st, 1, &g)->flags & IP6_ADDR_AUTOCONF);
    tb_drain(b.tb, 1);

    /* A General Query behind the Router Alert: one report with both
     * solicited-node groups within its 1 s. */
    uint8_t hbh[NS_IP6_HBH_RA_LEN];
    ns_ip6_hbh_ra_emit(NS_IPPROTO_ICMPV6, NS_IP6_RA_MLD, hbh);
    n = mld_query(msg, &b.router, &ns_ip6_all_nodes, &ns_ip6_unspecified, 1000);
    b.t += 10 * US_S;
    rx_icmp(&b, &b.router, &ns_ip6_all_nodes, allnodes_mac, 1, hbh, sizeof(hbh), msg, n);
    assert_int_equal(ctr(&b, NS_CTR_mld_query_rx), 1);
    assert_int_equal(tb_pending(b.tb, 1), 0);
    b.t += US_S;
    tb_poll(b.tb, b.t);
    struct ns_mld2_record recs[2];
    expect_report(&b, &b.ll, 2, recs);
    struct ns_ip6_addr sn1 = ns_ip6_solicited_node(&b.ll), sn2 = ns_ip6_solicited_node(&g);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(recs[i].type, NS_MLD2_MODE_IS_EXCLUDE);
        assert_true(ns_ip6_eq(&recs[i].group, &sn1) || ns_ip6_eq(&recs[i].group, &sn2));
    }
    assert_false(ns_ip6_eq(&recs[0].group, &recs[1].group));
    /* The same query without the Router Alert is refused (RFC 3810 §6.2). */
    rx_icmp(&b, &b.router, &ns_ip6_all_nodes, allnodes_mac, 1, NULL, 0, msg, n);
    assert_int_equal(ctr(&b, NS_CTR_mld_query_invalid), 1);
    b.t += 2 * US_S;
    tb_poll(b.tb, b.t);
    assert_int_equal(tb_pending(b.tb, 1), 0);

    /* A Redirect from the first-hop router: a host route through the
     * target, whose link-layer address is learned. From another router:
     * refused. */
    static const uint8_t TMAC[6] = {0x02, 0xaa, 0, 0, 0, 0x02};
    struct ns_ip6_addr dest = fr6_addr("2001:db8:99::5"), target = fr6_addr("fe80::2");
    ol = ns_ndp_opt_lladdr_emit(opts, NS_NDP_OPT_TLLA, TMAC);
    struct ns_ndp_repr rd = {.type = NS_ICMP6_REDIRECT, .target = target, .dest = dest,
                             .opts = opts, .opts_len = ol};
    struct ns_ip6_addr other = fr6_addr("fe80::3");
    n = ns_ndp_emit(&other, &b.ll, &rd, msg);
    rx_icmp(&b, &other, &b.ll, us, 255, NULL, 0, msg, n);
    assert_int_equal(ctr(&b, NS_CTR_redirect_bad), 1);
    assert_int_equal(route6_lookup(st, &dest, 0, &oif, &nh), 0);
    assert_true(ns_ip6_eq(&nh, &b.router));
    n = ns_ndp_emit(&b.router, &b.ll, &rd, msg);
    rx_icmp(&b, &b.router, &b.ll, us, 255, NULL, 0, msg, n);
    assert_int_equal(ctr(&b, NS_CTR_redirect_rx), 1);
    assert_int_equal(route6_lookup(st, &dest, 0, &oif, &nh), 0);
    assert_true(ns_ip6_eq(&nh, &target));
    assert_true(nd_lookup(st, 1, &target, mac) > 0);
    assert_memory_equal(mac, TMAC, 6);
    tb_free(b.tb);
}

/* The IPv6 route table is shared with the program's routes: when it is
 * full, the default route an RA asks for is refused and counted. */
static void test_route_table_full_counted(void **state)
{
    (void)state;
    struct bench b = {0};
    b_init(&b);
    struct ns_stack *st = b.tb->st;
    b.ll = run_dad(&b, &ns_ip6_unspecified);
    struct ns_ip6_addr gw = fr6_addr("fe80::9");
    int added = 0;
    for (int i = 0; i < 200; i++) {
        struct ns_ip6_addr d = fr6_addr("2001:db8:f000::");
        d.b[4] = (uint8_t)(i >> 8);
        d.b[5] = (uint8_t)i;
        if (ns_route_add(st, AF_INET6, d.b, 48, gw.b, 1) == 0)
            added++;
    }
    assert_true(added > 0 && added < 200);
    uint8_t opts[16], msg[64], allnodes_mac[6];
    ns_ip6_mcast_mac(&ns_ip6_all_nodes, allnodes_mac);
    size_t ol = ns_ndp_opt_lladdr_emit(opts, NS_NDP_OPT_SLLA, RMAC);
    struct ns_ndp_repr ra = {.type = NS_ICMP6_RA, .router_lifetime_s = 1800, .opts = opts,
                             .opts_len = ol};
    size_t n = ns_ndp_emit(&b.router, &ns_ip6_all_nodes, &ra, msg);
    b.t += US_S;
    rx_icmp(&b, &b.router, &ns_ip6_all_nodes, allnodes_mac, 255, NULL, 0, msg, n);
    assert_int_equal(ac_router_count(b.ac), 1);
    assert_int_equal(ctr(&b, NS_CTR_ra_route_full), 1);
    tb_free(b.tb);
}

/* An IPv4-only stack is untouched: no autoconfiguration, no IPv6. */
static void test_nothing_without_asking(void **state)
{
    (void)state;
    struct tb *tb = tb_new(NULL, 0);
    tb_add_if(tb, 1500, FR_IP(192, 0, 2, 1), 24);
    assert_null(autoconf_if(tb->st, 1));
    tb_poll(tb, 10 * US_S);
    assert_int_equal(tb_pending(tb, 1), 0);
    assert_int_equal(ns_if_autoconf(tb->st, 7), -ENODEV);
    assert_int_equal(ns_if_advertise(tb->st, 1, fr6_addr("2001:db8::").b, 64), -ENOENT);
    tb_free(tb);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wiring),
        cmocka_unit_test(test_route_table_full_counted),
        cmocka_unit_test(test_nothing_without_asking),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc)
        ns_test_fail_hint();
    return rc;
}
