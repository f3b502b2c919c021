/* tests/unit/test_addrconf.c — IPv6 autoconfiguration of one interface
 * (net/addrconf.c, net/mld6.c) on a real stack's timer wheel: every
 * message the engine sends is parsed back with src/wire's parsers, every
 * transition is checked at its exact virtual time (timers read from the
 * engine, which draws its delays from the seeded generator: NETSOCK_SEED
 * replays a run).
 *
 * Covered: RFC 7217 identifiers; DAD (RFC 4862 §5.4) with its random
 * delay, probe, completion, conflicts by NA and by NS, our own looped NS,
 * RFC 7217 retries up to idgen_retries; router solicitation (RFC 4861
 * §6.3.7); RA processing: default routers, on-link prefixes, SLAAC with
 * lifetimes and the two-hour rule (RFC 4862 §5.5.3), the MTU option, the
 * accept_ra/forwarding rule, bounds under an RA flood; redirects (§8);
 * MLDv2 reports on join and leave and answers to queries (RFC 3810 §6).
 */
#include <errno.h>
#include <string.h>

#include "frames.h"
#include "net/addrconf.h"
#include "testutil.h"

#define US_S 1000000ull
#define MAXLOG 1024

static const uint8_t MAC[6] = {0x02, 0, 0, 0, 0x01, 0x01};

struct sent {
    struct ns_ip6_addr src, dst;
    uint8_t msg[512];
    size_t len;
    bool mld;
};

struct evlog {
    int kind; /* 'a' address, 'r' router, 'p' prefix, 'm' params, 'd' redirect */
    int ev;   /* enum ac_addr_event, or 1 add / 0 remove */
    struct ns_ip6_addr addr;
    uint64_t at_us;
};

struct bench {
    struct tb *tb;
    struct ac_if ifp;
    struct sent sent[MAXLOG];
    size_t nsent, taken;
    struct evlog ev[MAXLOG];
    size_t nev, ev_taken;
    struct ns_ip6_addr first_hop; /* what first_hop() answers (:: none) */
};

static void b_output(void *ctx, struct ac_if *ifp, const struct ns_ip6_addr *src,
                     const struct ns_ip6_addr *dst, const uint8_t *msg, size_t len, bool mld)
{
    (void)ifp;
    struct bench *b = ctx;
    assert_true(b->nsent < MAXLOG);
    assert_true(len <= sizeof(b->sent[0].msg));
    struct sent *s = &b->sent[b->nsent++];
    s->src = *src;
    s->dst = *dst;
    memcpy(s->msg, msg, len);
    s->len = len;
    s->mld = mld;
}

static void b_log(struct bench *b, int kind, int ev, const struct ns_ip6_addr *a)
{
    assert_true(b->nev < MAXLOG);
    b->ev[b->nev++] = (struct evlog){kind, ev, a ? *a : ns_ip6_unspecified, b->tb->st->now_us};
}

static void b_addr_event(void *ctx, struct ac_if *ifp, const struct ac_addr *a, enum ac_addr_event ev)
{
    (void)ifp;
    b_log(ctx, 'a', (int)ev, &a->addr);
}
static void b_router_event(void *ctx, struct ac_if *ifp, const struct ns_ip6_addr *r, bool add)
{
    (void)ifp;
    b_log(ctx, 'r', add, r);
}
static void b_prefix_event(void *ctx, struct ac_if *ifp, const struct ns_ip6_addr *p, uint8_t plen,
                           bool add)
{
    (void)ifp;
    (void)plen;
    b_log(ctx, 'p', add, p);
}
static void b_params_event(void *ctx, struct ac_if *ifp)
{
    (void)ifp;
    b_log(ctx, 'm', 1, NULL);
}
static bool b_first_hop(void *ctx, struct ac_if *ifp, const struct ns_ip6_addr *dest,
                        struct ns_ip6_addr *router)
{
    (void)ifp;
    (void)dest;
    struct bench *b = ctx;
    if (ns_ip6_is_unspecified(&b->first_hop))
        return false;
    *router = b->first_hop;
    return true;
}
static void b_redirect_event(void *ctx, struct ac_if *ifp, const struct ns_ip6_addr *dest,
                             const struct ns_ip6_addr *target)
{
    (void)ifp;
    b_log(ctx, 'd', target != NULL, dest);
}

static const struct ac_ops OPS = {
    .output = b_output,
    .addr_event = b_addr_event,
    .router_event = b_router_event,
    .prefix_event = b_prefix_event,
    .params_event = b_params_event,
    .first_hop = b_first_hop,
    .redirect_event = b_redirect_event,
};

static struct bench *bench_new_cfg(struct ac_config *cfg)
{
    struct bench *b = calloc(1, sizeof(*b));
    assert_non_null(b);
    struct ns_config sc;
    tb_config(&sc);
    sc.seed = ns_test_seed(1);
    b->tb = tb_new(&sc, 0);
    ac_init(&b->ifp, b->tb->st, 1, cfg, &OPS, b);
    return b;
}

static struct bench *bench_new(void)
{
    struct ac_config cfg;
    ac_config_default(&cfg, MAC, 1500);
    return bench_new_cfg(&cfg);
}

static void bench_free(struct bench *b)
{
    ac_disable(&b->ifp);
    ac_mld_reset(&b->ifp);
    assert_int_equal(ns_wheel_count(&b->tb->st->wheel), 0);
    tb_free(b->tb);
    free(b);
}

static uint64_t ctr(struct bench *b, enum ns_counter c) { return b->tb->st->counters[c]; }

static void at(struct bench *b, uint64_t t) { ns_stack_poll(b->tb->st, t); }

static struct ns_ip6_addr A(const char *s)
{
    struct ns_ip6_addr a;
    assert_true(ns_ip6_aton(s, &a));
    return a;
}

/* The next message sent, or NULL. */
static const struct sent *take(struct bench *b)
{
    return b->taken < b->nsent ? &b->sent[b->taken++] : NULL;
}

static const struct evlog *take_ev(struct bench *b)
{
    return b->ev_taken < b->nev ? &b->ev[b->ev_taken++] : NULL;
}

static void expect_ev(struct bench *b, int kind, int ev, const struct ns_ip6_addr *a, uint64_t t)
{
    const struct evlog *e = take_ev(b);
    assert_non_null(e);
    assert_int_equal(e->kind, kind);
    assert_int_equal(e->ev, ev);
    if (a)
        assert_true(ns_ip6_eq(&e->addr, a));
    assert_int_equal(e->at_us, t);
}

static void expect_no_ev(struct bench *b) { assert_null(take_ev(b)); }
static void expect_quiet(struct bench *b) { assert_null(take(b)); }

/* Parse a sent NDP message back: the wire layer's own checks pass. */
static void parse_ndp(const struct sent *s, struct ns_ndp_repr *r)
{
    assert_false(s->mld);
    struct ns_icmp6_repr ic;
    assert_int_equal(ns_icmp6_parse(&s->src, &s->dst, s->msg, s->len, &ic, true), 0);
    struct ns_ip6_repr ip = {.next_hdr = NS_IPPROTO_ICMPV6, .hop_limit = 255,
                             .src = s->src, .dst = s->dst, .payload_len = (uint16_t)s->len};
    assert_int_equal(ns_ndp_parse(&ip, s->msg, s->len, r), 0);
}

/* The next message is a DAD probe for target; returns its nonce's first byte. */
static void expect_dad_ns(struct bench *b, const struct ns_ip6_addr *target, uint8_t nonce[6])
{
    const struct sent *s = take(b);
    assert_non_null(s);
    struct ns_ndp_repr r;
    parse_ndp(s, &r);
    assert_int_equal(r.type, NS_ICMP6_NS);
    assert_true(ns_ip6_is_unspecified(&s->src));
    struct ns_ip6_addr sn = ns_ip6_solicited_node(target);
    assert_true(ns_ip6_eq(&s->dst, &sn));
    assert_true(ns_ip6_eq(&r.target, target));
    assert_null(r.sll);
    assert_non_null(r.nonce);
    assert_int_equal(r.nonce_len, 6);
    if (nonce)
        memcpy(nonce, r.nonce, 6);
}

/* The next message is an MLDv2 report with one record of type for group. */
static void expect_report(struct bench *b, uint8_t type, const struct ns_ip6_addr *group)
{
    const struct sent *s = take(b);
    assert_non_null(s);
    assert_true(s->mld);
    assert_true(ns_ip6_eq(&s->dst, &ns_ip6_all_mld2_routers));
    struct ns_icmp6_repr ic;
    assert_int_equal(ns_icmp6_parse(&s->src, &s->dst, s->msg, s->len, &ic, true), 0);
    struct ns_mld2_report rep;
    assert_int_equal(ns_mld2_report_parse(s->msg, s->len, &rep), 0);
    assert_int_equal(rep.n_rec, 1);
    struct ns_mld2_record rec;
    assert_int_equal(ns_mld2_report_next(&rep, &rec), 1);
    assert_int_equal(rec.type, type);
    assert_true(ns_ip6_eq(&rec.group, group));
    assert_int_equal(rec.n_src, 0);
}

static void expect_rs(struct bench *b, const struct ns_ip6_addr *src)
{
    const struct sent *s = take(b);
    assert_non_null(s);
    struct ns_ndp_repr r;
    parse_ndp(s, &r);
    assert_int_equal(r.type, NS_ICMP6_RS);
    assert_true(ns_ip6_eq(&s->src, src));
    assert_true(ns_ip6_eq(&s->dst, &ns_ip6_all_routers));
    assert_non_null(r.sll);
    assert_memory_equal(r.sll, MAC, 6);
}

/* The entry whose DAD timer runs (the only tentative one). */
static struct ac_addr *tentative_addr(struct bench *b)
{
    struct ac_addr *t = NULL;
    for (int i = 0; i < AC_MAX_ADDRS; i++) {
        struct ac_addr *a = &b->ifp.addrs[i];
        if (a->state == AC_ADDR_WAIT || a->state == AC_ADDR_TENTATIVE) {
            assert_null(t);
            t = a;
        }
    }
    assert_non_null(t);
    return t;
}

static struct ac_group *group_of(struct bench *b, const struct ns_ip6_addr *g)
{
    for (int i = 0; i < AC_MAX_GROUPS; i++)
        if ((b->ifp.groups[i].refs || b->ifp.groups[i].leaving) &&
            ns_ip6_eq(&b->ifp.groups[i].group, g))
            return &b->ifp.groups[i];
    return NULL;
}

/* Skip the router solicitations still being repeated. */
static void skip_rs(struct bench *b)
{
    while (b->taken < b->nsent && !b->sent[b->taken].mld &&
           b->sent[b->taken].msg[0] == NS_ICMP6_RS)
        b->taken++;
}

/* Run the DAD of the one tentative address to its end; returns it and the
 * time it became ready. Checks the join's report and the probe go at the
 * DAD timer, the report's repetition within (0, 1 s] after it, the result
 * retrans_time after the probe. */
static struct ns_ip6_addr run_dad(struct bench *b, uint64_t *ready_at)
{
    struct ac_addr *a = tentative_addr(b);
    struct ns_ip6_addr addr = a->addr;
    uint64_t t = a->dad_timer.expires_us;
    assert_int_equal(a->state, AC_ADDR_WAIT);
    skip_rs(b);
    expect_quiet(b);
    at(b, t);
    struct ns_ip6_addr sn = ns_ip6_solicited_node(&addr);
    /* The solicited-node join's report (RFC 4862 §5.4.2), then the probe. */
    skip_rs(b);
    expect_report(b, NS_MLD2_CHANGE_TO_EXCLUDE, &sn);
    expect_dad_ns(b, &addr, NULL);
    assert_int_equal(a->state, AC_ADDR_TENTATIVE);
    struct ac_group *m = group_of(b, &sn);
    assert_non_null(m);
    uint64_t r2 = m->timer.expires_us;
    assert_true(r2 > t && r2 <= t + US_S);
    if (r2 < t + US_S) {
        at(b, r2);
        skip_rs(b);
        expect_report(b, NS_MLD2_CHANGE_TO_EXCLUDE, &sn);
        at(b, t + US_S - 1);
        assert_int_equal(a->state, AC_ADDR_TENTATIVE);
        at(b, t + US_S);
    } else {
        at(b, t + US_S); /* the report was armed first: it goes first */
        skip_rs(b);
        expect_report(b, NS_MLD2_CHANGE_TO_EXCLUDE, &sn);
    }
    assert_int_equal(a->state, AC_ADDR_PREFERRED);
    *ready_at = t + US_S;
    return addr;
}

/* Enable the interface and run the link-local address through DAD. */
static struct ns_ip6_addr enable_ll(struct bench *b, uint64_t *ready_at)
{
    ac_enable(&b->ifp);
    struct ac_addr *a = tentative_addr(b);
    assert_true(ns_ip6_is_link_local(&a->addr));
    /* RFC 4862 §5.4.2 / Linux rtr_solicit_delay: a random delay in [0, 1 s). */
    assert_true(a->dad_timer.expires_us < US_S);
    expect_ev(b, 'a', AC_EV_TENTATIVE, &a->addr, 0);
    expect_quiet(b); /* ff02::1 is never reported (RFC 3810 §6) */
    struct ns_ip6_addr ll = run_dad(b, ready_at);
    expect_ev(b, 'a', AC_EV_READY, &ll, *ready_at);
    return ll;
}

/* ---- RA construction ---------------------------------------------------------------- */

struct ra_spec {
    struct ns_ip6_addr src;
    uint16_t router_lifetime_s;
    uint32_t mtu;              /* 0: no option */
    struct ns_ndp_prefix pi[4];
    int npi;
    uint8_t cur_hop_limit;
    uint32_t retrans_ms;
};

static void ra_in(struct bench *b, const struct ra_spec *spec)
{
    uint8_t opts[256], msg[300];
    size_t olen = 0;
    olen += ns_ndp_opt_lladdr_emit(opts + olen, NS_NDP_OPT_SLLA, (const uint8_t[6]){2, 0xaa, 0, 0, 0, 1});
    if (spec->mtu)
        olen += ns_ndp_opt_mtu_emit(opts + olen, spec->mtu);
    for (int i = 0; i < spec->npi; i++)
        olen += ns_ndp_opt_prefix_emit(opts + olen, &spec->pi[i]);
    struct ns_ndp_repr r = {.type = NS_ICMP6_RA, .cur_hop_limit = spec->cur_hop_limit,
                            .router_lifetime_s = spec->router_lifetime_s,
                            .retrans_ms = spec->retrans_ms, .opts = opts, .opts_len = olen};
    size_t n = ns_ndp_emit(&spec->src, &ns_ip6_all_nodes, &r, msg);
    struct ns_ip6_repr ip = {.next_hdr = NS_IPPROTO_ICMPV6, .hop_limit = 255, .src = spec->src,
                             .dst = ns_ip6_all_nodes, .payload_len = (uint16_t)n};
    struct ns_ndp_repr parsed;
    assert_int_equal(ns_ndp_parse(&ip, msg, n, &parsed), 0);
    ac_ra_input(&b->ifp, &ip, &parsed);
}

static struct ns_ndp_prefix pio(const char *prefix, uint8_t plen, uint8_t flags, uint32_t valid,
                                uint32_t preferred)
{
    return (struct ns_ndp_prefix){.prefix_len = plen, .flags = flags, .valid_s = valid,
                                  .preferred_s = preferred, .prefix = A(prefix)};
}

#define LA (NS_NDP_PREFIX_ONLINK | NS_NDP_PREFIX_AUTO)

/* Message from a neighbour: NS or NA with target, from src. */
static bool nd_in(struct bench *b, uint8_t type, const struct ns_ip6_addr *src,
                  const struct ns_ip6_addr *target, const uint8_t *nonce)
{
    uint8_t opts[16], msg[64];
    size_t olen = 0;
    if (nonce) {
        opts[0] = NS_NDP_OPT_NONCE;
        opts[1] = 1;
        memcpy(opts + 2, nonce, 6);
        olen = 8;
    }
    struct ns_ip6_addr dst = type == NS_ICMP6_NS ? ns_ip6_solicited_node(target) : ns_ip6_all_nodes;
    struct ns_ndp_repr r = {.type = type, .target = *target, .opts = opts, .opts_len = olen,
                            .override = true};
    size_t n = ns_ndp_emit(src, &dst, &r, msg);
    struct ns_ip6_repr ip = {.next_hdr = NS_IPPROTO_ICMPV6, .hop_limit = 255, .src = *src,
                             .dst = dst, .payload_len = (uint16_t)n};
    struct ns_ndp_repr parsed;
    assert_int_equal(ns_ndp_parse(&ip, msg, n, &parsed), 0);
    return type == NS_ICMP6_NS ? ac_ns_input(&b->ifp, &ip, &parsed)
                               : ac_na_input(&b->ifp, &ip, &parsed);
}

/* ---- RFC 7217 identifiers --------------------------------------------------------- */

static void test_stable_iid_is_a_keyed_function_of_its_inputs(void **state)
{
    (void)state;
    struct ac_config cfg;
    ac_config_default(&cfg, MAC, 1500);
    cfg.gen_mode = AC_GEN_STABLE;
    memset(cfg.secret, 0x5a, 16);
    struct ns_ip6_addr p1 = A("2001:db8:1::"), p2 = A("2001:db8:2::");
    uint8_t a[8], b[8], c = 0;
    assert_true(ac_stable_iid(&cfg, &p1, &c, a));
    assert_int_equal(c, 0);
    c = 0;
    assert_true(ac_stable_iid(&cfg, &p1, &c, b));
    assert_memory_equal(a, b, 8); /* stable: same inputs, same identifier */
    c = 0;
    assert_true(ac_stable_iid(&cfg, &p2, &c, b));
    assert_memory_not_equal(a, b, 8); /* RFC 7217 §5: differs per prefix */
    c = 1;
    assert_true(ac_stable_iid(&cfg, &p1, &c, b));
    assert_memory_not_equal(a, b, 8); /* ... per DAD_Counter */
    struct ac_config cfg2 = cfg;
    cfg2.secret[15] ^= 1;
    c = 0;
    assert_true(ac_stable_iid(&cfg2, &p1, &c, b));
    assert_memory_not_equal(a, b, 8); /* ... per secret */
    cfg2 = cfg;
    cfg2.mac[5] ^= 1;
    c = 0;
    assert_true(ac_stable_iid(&cfg2, &p1, &c, b));
    assert_memory_not_equal(a, b, 8); /* ... per interface */
    cfg2 = cfg;
    cfg2.network_id = (const uint8_t *)"ssid";
    cfg2.network_id_len = 4;
    c = 0;
    assert_true(ac_stable_iid(&cfg2, &p1, &c, b));
    assert_memory_not_equal(a, b, 8); /* ... per Network_ID */
    /* The host bits of the prefix argument do not matter: only its /64. */
    struct ns_ip6_addr p1h = A("2001:db8:1::1234");
    c = 0;
    assert_true(ac_stable_iid(&cfg, &p1h, &c, b));
    assert_memory_equal(a, b, 8);
}

static void test_reserved_iids(void **state)
{
    (void)state;
    /* RFC 5453 §3. */
    assert_true(ac_iid_reserved((const uint8_t[8]){0}));
    assert_true(ac_iid_reserved((const uint8_t[8]){0x02, 0x00, 0x5e, 0xff, 0xfe, 0x12, 0x34, 0x56}));
    assert_true(ac_iid_reserved((const uint8_t[8]){0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80}));
    assert_true(ac_iid_reserved((const uint8_t[8]){0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
    assert_false(ac_iid_reserved((const uint8_t[8]){0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}));
    assert_false(ac_iid_reserved((const uint8_t[8]){0x02, 0x00, 0x5e, 0xff, 0xfd, 0, 0, 0}));
    assert_false(ac_iid_reserved((const uint8_t[8]){0, 0, 0, 0, 0, 0, 0, 1}));
}

static void test_eui64_mode_uses_the_mac(void **state)
{
    (void)state;
    struct ac_config cfg;
    ac_config_default(&cfg, MAC, 1500);
    cfg.gen_mode = AC_GEN_EUI64;
    struct bench *b = bench_new_cfg(&cfg);
    ac_enable(&b->ifp);
    struct ac_addr *a = tentative_addr(b);
    struct ns_ip6_addr want = A("fe80::ff:fe00:101");
    assert_true(ns_ip6_eq(&a->addr, &want));
    bench_free(b);
}

/* ---- DAD and router solicitation ---------------------------------------------------- */

static void test_enable_dad_then_router_solicitations(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    uint64_t ready;
    struct ns_ip6_addr ll = enable_ll(b, &ready);
    /* Linux addrconf_dad_completed: the first RS when the link-local
     * address is ready, then RTR_SOLICITATION_INTERVAL (4 s) apart, three in
     * all (RFC 4861 §6.3.7, §10). */
    expect_rs(b, &ll);
    expect_quiet(b);
    at(b, ready + 4 * US_S - 1);
    expect_quiet(b);
    at(b, ready + 4 * US_S);
    expect_rs(b, &ll);
    at(b, ready + 8 * US_S);
    expect_rs(b, &ll);
    at(b, ready + 60 * US_S);
    expect_quiet(b);
    assert_int_equal(ctr(b, NS_CTR_rs_tx), 3);
    assert_int_equal(ctr(b, NS_CTR_dad_ns_tx), 1);
    assert_non_null(ac_linklocal(&b->ifp));
    bench_free(b);
}

static void test_ra_stops_solicitations(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    uint64_t ready;
    struct ns_ip6_addr ll = enable_ll(b, &ready);
    expect_rs(b, &ll);
    at(b, ready + US_S);
    struct ra_spec ra = {.src = A("fe80::1"), .router_lifetime_s = 0};
    ra_in(b, &ra);
    at(b, ready + 60 * US_S);
    expect_quiet(b);
    assert_int_equal(ctr(b, NS_CTR_rs_tx), 1);
    bench_free(b);
}

static void test_no_dad_when_dad_transmits_zero(void **state)
{
    (void)state;
    struct ac_config cfg;
    ac_config_default(&cfg, MAC, 1500);
    cfg.dad_transmits = 0;
    cfg.accept_ra = false;
    struct bench *b = bench_new_cfg(&cfg);
    ac_enable(&b->ifp);
    at(b, 0);
    assert_non_null(ac_linklocal(&b->ifp));
    const struct ac_addr *ll = ac_linklocal(&b->ifp);
    struct ns_ip6_addr sn = ns_ip6_solicited_node(&ll->addr);
    expect_report(b, NS_MLD2_CHANGE_TO_EXCLUDE, &sn);
    expect_quiet(b); /* no probe, and no RS with accept_ra off */
    assert_int_equal(ctr(b, NS_CTR_dad_ns_tx), 0);
    bench_free(b);
}

/* A conflict by NA drops the address; RFC 7217 §6 forms the next one
 * with DAD_Counter + 1, idgen_delay later, up to idgen_retries times. */
static void test_dad_conflict_by_na_retries_then_gives_up(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    ac_enable(&b->ifp);
    struct ns_ip6_addr seen[5];
    uint64_t t = tentative_addr(b)->dad_timer.expires_us;
    struct ns_ip6_addr peer = A("fe80::99");
    for (int round = 0; round <= AC_IDGEN_RETRIES; round++) {
        struct ac_addr *a = tentative_addr(b);
        assert_int_equal(a->dad_counter, round);
        seen[round] = a->addr;
        for (int j = 0; j < round; j++)
            assert_false(ns_ip6_eq(&seen[j], &a->addr));
        assert_int_equal(a->dad_timer.expires_us, t);
        at(b, t);
        assert_int_equal(a->state, AC_ADDR_TENTATIVE);
        b->taken = b->nsent;
        /* Someone answers for it half a second into the probe. */
        at(b, t + US_S / 2);
        assert_true(nd_in(b, NS_ICMP6_NA, &peer, &seen[round], NULL));
        assert_int_equal(ctr(b, NS_CTR_dad_conflict), (uint64_t)round + 1);
        assert_null(ac_addr_find(&b->ifp, &seen[round]));
        t = t + US_S / 2 + AC_IDGEN_DELAY_US;
    }
    assert_int_equal(ctr(b, NS_CTR_dad_giveup), 1);
    assert_int_equal(ac_addr_count(&b->ifp), 0);
    at(b, t + 100 * US_S);
    assert_null(ac_linklocal(&b->ifp));
    assert_int_equal(ctr(b, NS_CTR_rs_tx), 0); /* no link-local, no RS */
    bench_free(b);
}

static void test_dad_ns_from_unspecified(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    ac_enable(&b->ifp);
    struct ac_addr *a = tentative_addr(b);
    struct ns_ip6_addr addr = a->addr;
    uint64_t t = a->dad_timer.expires_us;
    at(b, t);
    uint8_t nonce[6];
    take(b); /* the report */
    expect_dad_ns(b, &addr, nonce);
    /* Our own probe looped back (RFC 7527 §4.2): not a conflict. */
    assert_true(nd_in(b, NS_ICMP6_NS, &ns_ip6_unspecified, &addr, nonce));
    assert_int_equal(ctr(b, NS_CTR_dad_looped), 1);
    assert_int_equal(ctr(b, NS_CTR_dad_conflict), 0);
    /* An NS from a unicast source for it: someone resolving it, ignored
     * (RFC 4862 §5.4.3), and not answered (true). */
    struct ns_ip6_addr peer = A("fe80::99");
    assert_true(nd_in(b, NS_ICMP6_NS, &peer, &addr, NULL));
    assert_int_equal(ctr(b, NS_CTR_dad_conflict), 0);
    /* Another node probing it (other nonce): a conflict. */
    uint8_t other[6];
    memcpy(other, nonce, 6);
    other[0] ^= 0xff;
    assert_true(nd_in(b, NS_ICMP6_NS, &ns_ip6_unspecified, &addr, other));
    assert_int_equal(ctr(b, NS_CTR_dad_conflict), 1);
    assert_null(ac_addr_find(&b->ifp, &addr));
    bench_free(b);
}

static void test_na_for_preferred_address_is_not_dad(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    uint64_t ready;
    struct ns_ip6_addr ll = enable_ll(b, &ready);
    struct ns_ip6_addr peer = A("fe80::99");
    assert_false(nd_in(b, NS_ICMP6_NA, &peer, &ll, NULL));
    assert_false(nd_in(b, NS_ICMP6_NS, &ns_ip6_unspecified, &ll, NULL));
    assert_non_null(ac_linklocal(&b->ifp));
    assert_int_equal(ctr(b, NS_CTR_dad_conflict), 0);
    bench_free(b);
}

static void test_manual_address_dad_conflict_no_retry(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    uint64_t ready;
    enable_ll(b, &ready);
    b->taken = b->nsent;
    b->ev_taken = b->nev;
    struct ns_ip6_addr addr = A("2001:db8::2");
    assert_int_equal(ac_addr_add(&b->ifp, &addr, 64), 0);
    assert_int_equal(ac_addr_add(&b->ifp, &addr, 64), -EEXIST);
    assert_int_equal(ac_addr_add(&b->ifp, &ns_ip6_all_nodes, 64), -EINVAL);
    expect_ev(b, 'a', AC_EV_TENTATIVE, &addr, ready);
    struct ac_addr *a = tentative_addr(b);
    at(b, a->dad_timer.expires_us);
    take(b);
    expect_dad_ns(b, &addr, NULL);
    struct ns_ip6_addr peer = A("fe80::99");
    assert_true(nd_in(b, NS_ICMP6_NA, &peer, &addr, NULL));
    assert_null(ac_addr_find(&b->ifp, &addr));
    at(b, b->tb->st->now_us + 10 * US_S);
    assert_null(ac_addr_find(&b->ifp, &addr)); /* no new identifier for a manual address */
    assert_int_equal(ac_addr_count(&b->ifp), 1);
    assert_int_equal(ac_addr_del(&b->ifp, &addr), -ENOENT);
    bench_free(b);
}

/* ---- RA processing ---------------------------------------------------------------------- */

static void test_slaac_from_ra_and_lifetimes(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    uint64_t ready;
    enable_ll(b, &ready);
    b->taken = b->nsent;
    uint64_t t0 = ready + 2 * US_S;
    at(b, t0);
    struct ns_ip6_addr router = A("fe80::1");
    struct ra_spec ra = {.src = router, .router_lifetime_s = 1800, .mtu = 1400,
                         .cur_hop_limit = 64, .npi = 1};
    ra.pi[0] = pio("2001:db8:1::", 64, LA, 3600, 1800);
    ra_in(b, &ra);
    assert_int_equal(ctr(b, NS_CTR_ra_rx), 1);
    expect_ev(b, 'r', 1, &router, t0);
    assert_int_equal(b->ifp.params.mtu, 1400);
    assert_int_equal(b->ifp.params.cur_hop_limit, 64);
    expect_ev(b, 'm', 1, NULL, t0);
    struct ns_ip6_addr pfx = A("2001:db8:1::");
    expect_ev(b, 'p', 1, &pfx, t0);
    struct ac_addr *a = tentative_addr(b);
    struct ns_ip6_addr addr = a->addr;
    assert_true(ns_ip6_prefix_eq(&addr, &pfx, 64));
    assert_int_equal(a->origin, AC_ORIGIN_SLAAC);
    expect_ev(b, 'a', AC_EV_TENTATIVE, &addr, t0);
    assert_int_equal(ctr(b, NS_CTR_slaac_addr_added), 1);
    uint64_t ok;
    struct ns_ip6_addr got = run_dad(b, &ok);
    assert_true(ns_ip6_eq(&got, &addr));
    expect_ev(b, 'a', AC_EV_READY, &addr, ok);
    /* RFC 4862 §5.5.4: deprecated when the preferred lifetime ends, removed
     * with the valid one; the router and the prefix time out on theirs. */
    at(b, t0 + 1800 * US_S - 1);
    expect_no_ev(b);
    at(b, t0 + 1800 * US_S);
    const struct evlog *e1 = take_ev(b), *e2 = take_ev(b);
    assert_non_null(e1);
    assert_non_null(e2);
    /* Same instant: the address's deprecation and the router's end. */
    bool dep = (e1->kind == 'a' && e1->ev == AC_EV_DEPRECATED) ||
               (e2->kind == 'a' && e2->ev == AC_EV_DEPRECATED);
    bool gone = (e1->kind == 'r' && e1->ev == 0) || (e2->kind == 'r' && e2->ev == 0);
    assert_true(dep && gone);
    assert_int_equal(ac_addr_find(&b->ifp, &addr)->state, AC_ADDR_DEPRECATED);
    assert_int_equal(ac_router_count(&b->ifp), 0);
    at(b, t0 + 3600 * US_S - 1);
    expect_no_ev(b);
    at(b, t0 + 3600 * US_S);
    e1 = take_ev(b);
    e2 = take_ev(b);
    assert_non_null(e1);
    assert_non_null(e2);
    assert_null(ac_addr_find(&b->ifp, &addr));
    assert_int_equal(ac_prefix_count(&b->ifp), 0);
    /* Leaving the solicited-node group was reported. */
    struct ns_ip6_addr sn = ns_ip6_solicited_node(&addr);
    b->taken = b->nsent - 1;
    expect_report(b, NS_MLD2_CHANGE_TO_INCLUDE, &sn);
    bench_free(b);
}

/* Set up one SLAAC address from an RA at t0 with valid v, preferred p;
 * returns it after DAD. */
static struct ac_addr *slaac_one(struct bench *b, uint32_t v, uint32_t p)
{
    uint64_t ready;
    enable_ll(b, &ready);
    struct ra_spec ra = {.src = A("fe80::1"), .router_lifetime_s = 0, .npi = 1};
    ra.pi[0] = pio("2001:db8:1::", 64, NS_NDP_PREFIX_AUTO, v, p);
    ra_in(b, &ra);
    uint64_t ok;
    struct ns_ip6_addr addr = run_dad(b, &ok);
    return ac_addr_find(&b->ifp, &addr);
}

static void refresh(struct bench *b, uint32_t v, uint32_t p)
{
    struct ra_spec ra = {.src = A("fe80::1"), .router_lifetime_s = 0, .npi = 1};
    ra.pi[0] = pio("2001:db8:1::", 64, NS_NDP_PREFIX_AUTO, v, p);
    ra_in(b, &ra);
}

static void test_two_hour_rule(void **state)
{
    (void)state;
    const uint64_t H = 3600 * US_S;
    struct bench *b = bench_new();
    struct ac_addr *a = slaac_one(b, 3 * 3600, 3 * 3600);
    uint64_t t = b->tb->st->now_us;
    /* Remaining ~3 h; an RA says 10 min: cut to two hours, not 10 min. */
    refresh(b, 600, 600);
    assert_int_equal(a->valid_until_us, t + 2 * H);
    assert_int_equal(a->preferred_until_us, t + 600 * US_S); /* taken as sent */
    /* An RA with a longer lifetime than what is left: taken. */
    refresh(b, 5 * 3600, 600);
    assert_int_equal(a->valid_until_us, t + 5 * H);
    /* 4 h later one hour is left: a 10 min RA leaves it at one hour. */
    at(b, t + 4 * H);
    assert_int_equal(a->state, AC_ADDR_DEPRECATED);
    refresh(b, 600, 0);
    assert_int_equal(a->valid_until_us, t + 5 * H);
    /* Valid lifetime 0 cannot kill it either. */
    refresh(b, 0, 0);
    assert_int_equal(a->valid_until_us, t + 5 * H);
    assert_non_null(ac_addr_find(&b->ifp, &a->addr));
    /* A preferred lifetime again makes it preferred. */
    refresh(b, 600, 300);
    assert_int_equal(a->state, AC_ADDR_PREFERRED);
    at(b, t + 4 * H + 300 * US_S);
    assert_int_equal(a->state, AC_ADDR_DEPRECATED);
    at(b, t + 5 * H - 1);
    assert_non_null(ac_addr_find(&b->ifp, &a->addr));
    struct ns_ip6_addr addr = a->addr;
    at(b, t + 5 * H);
    assert_null(ac_addr_find(&b->ifp, &addr));
    bench_free(b);
}

static void test_infinite_lifetimes(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    struct ac_addr *a = slaac_one(b, NS_NDP_INFINITE, NS_NDP_INFINITE);
    assert_int_equal(a->valid_until_us, UINT64_MAX);
    assert_false(ns_timer_pending(&a->lft_timer));
    at(b, 1000000 * US_S);
    assert_int_equal(a->state, AC_ADDR_PREFERRED);
    bench_free(b);
}

static void test_prefix_options_ignored(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    uint64_t ready;
    enable_ll(b, &ready);
    b->ev_taken = b->nev;
    struct ra_spec ra = {.src = A("fe80::1"), .npi = 4};
    ra.pi[0] = pio("fe80::", 64, LA, 3600, 1800);           /* link-local: §5.5.3 b */
    ra.pi[1] = pio("2001:db8:2::", 64, LA, 100, 200);       /* preferred > valid: c */
    ra.pi[2] = pio("ff02::", 64, LA, 100, 100);             /* multicast */
    ra.pi[3] = pio("2001:db8:3::", 48, LA, 100, 100);       /* on-link only: not /64 */
    ra_in(b, &ra);
    assert_int_equal(ctr(b, NS_CTR_ra_bad_prefix), 3);
    assert_int_equal(ctr(b, NS_CTR_slaac_bad_plen), 1);
    struct ns_ip6_addr p3 = A("2001:db8:3::");
    expect_ev(b, 'p', 1, &p3, ready);
    expect_no_ev(b);
    assert_int_equal(ac_addr_count(&b->ifp), 1);
    /* On-link with valid 0 removes it at once (RFC 4861 §6.3.4). */
    ra.npi = 1;
    ra.pi[0] = pio("2001:db8:3::", 48, NS_NDP_PREFIX_ONLINK, 0, 0);
    ra_in(b, &ra);
    expect_ev(b, 'p', 0, &p3, ready);
    /* An autonomous prefix with valid 0 that we do not know: nothing. */
    ra.pi[0] = pio("2001:db8:4::", 64, NS_NDP_PREFIX_AUTO, 0, 0);
    ra_in(b, &ra);
    expect_no_ev(b);
    bench_free(b);
}

static void test_ra_mtu_option(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    uint64_t ready;
    enable_ll(b, &ready);
    struct ra_spec ra = {.src = A("fe80::1"), .mtu = 1279};
    ra_in(b, &ra);
    ra.mtu = 1501;
    ra_in(b, &ra);
    assert_int_equal(ctr(b, NS_CTR_ra_bad_mtu), 2);
    assert_int_equal(b->ifp.params.mtu, 1500);
    ra.mtu = 1280;
    ra_in(b, &ra);
    assert_int_equal(b->ifp.params.mtu, 1280);
    ra.mtu = 1500;
    ra_in(b, &ra);
    assert_int_equal(b->ifp.params.mtu, 1500);
    bench_free(b);
}

static void test_ra_ignored_when_forwarding_or_accept_ra_off(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        struct ac_config cfg;
        ac_config_default(&cfg, MAC, 1500);
        if (k)
            cfg.forwarding = true;
        else
            cfg.accept_ra = false;
        struct bench *b = bench_new_cfg(&cfg);
        uint64_t ready;
        struct ns_ip6_addr ll = enable_ll(b, &ready);
        (void)ll;
        expect_quiet(b); /* no RS */
        struct ra_spec ra = {.src = A("fe80::1"), .router_lifetime_s = 1800, .npi = 1};
        ra.pi[0] = pio("2001:db8:1::", 64, LA, 3600, 1800);
        ra_in(b, &ra);
        assert_int_equal(ctr(b, NS_CTR_ra_ignored), 1);
        assert_int_equal(ac_router_count(&b->ifp), 0);
        assert_int_equal(ac_prefix_count(&b->ifp), 0);
        assert_int_equal(ac_addr_count(&b->ifp), 1);
        bench_free(b);
    }
}

static void test_router_lifetime_zero_removes(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    uint64_t ready;
    enable_ll(b, &ready);
    struct ns_ip6_addr r = A("fe80::1");
    struct ra_spec ra = {.src = r, .router_lifetime_s = 600};
    ra_in(b, &ra);
    expect_ev(b, 'r', 1, &r, ready);
    at(b, ready + 100 * US_S);
    ra_in(b, &ra); /* refresh: expiry moves */
    at(b, ready + 650 * US_S);
    assert_int_equal(ac_router_count(&b->ifp), 1);
    ra.router_lifetime_s = 0;
    ra_in(b, &ra);
    expect_ev(b, 'r', 0, &r, ready + 650 * US_S);
    assert_int_equal(ac_router_count(&b->ifp), 0);
    bench_free(b);
}

/* An attacker on the link sends RAs from ever new routers with ever new
 * prefixes: every table stops at its bound, counted, and nothing grows. */
static void test_ra_flood_is_bounded(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    uint64_t ready;
    enable_ll(b, &ready);
    const int N = 2000;
    for (int i = 0; i < N; i++) {
        struct ra_spec ra = {.router_lifetime_s = 9000, .npi = 2};
        ra.src = A("fe80::");
        ra.src.b[14] = (uint8_t)(i >> 8);
        ra.src.b[15] = (uint8_t)(i + 1);
        ra.pi[0] = pio("2001:db8::", 64, LA, 86400, 86400);
        ra.pi[0].prefix.b[4] = (uint8_t)(i >> 8);
        ra.pi[0].prefix.b[5] = (uint8_t)i;
        ra.pi[1] = pio("2001:db8:ffff::", 64, NS_NDP_PREFIX_ONLINK, 86400, 86400);
        ra.pi[1].prefix.b[6] = (uint8_t)(i >> 8);
        ra.pi[1].prefix.b[7] = (uint8_t)i;
        ra_in(b, &ra);
    }
    assert_int_equal(ctr(b, NS_CTR_ra_rx), N);
    assert_int_equal(ac_router_count(&b->ifp), AC_MAX_ROUTERS);
    assert_int_equal(ctr(b, NS_CTR_ra_router_full), N - AC_MAX_ROUTERS);
    assert_int_equal(ac_prefix_count(&b->ifp), AC_MAX_PREFIXES);
    assert_int_equal(ctr(b, NS_CTR_ra_prefix_full), 2 * N - AC_MAX_PREFIXES);
    assert_int_equal(ac_addr_count(&b->ifp), AC_MAX_ADDRS);
    assert_int_equal(ctr(b, NS_CTR_slaac_addr_added), AC_MAX_ADDRS - 1);
    assert_int_equal(ctr(b, NS_CTR_slaac_addr_full), N - (AC_MAX_ADDRS - 1));
    /* Groups: all-nodes and one solicited-node group per address (the
     * others join at DAD): bounded by the address table. */
    at(b, b->tb->st->now_us + 2 * US_S);
    assert_int_equal(ctr(b, NS_CTR_mld_group_full), 0);
    /* Timers pending: bounded by the tables, not by N. */
    assert_true(ns_wheel_count(&b->tb->st->wheel) <=
                AC_MAX_ROUTERS + AC_MAX_PREFIXES + 2 * AC_MAX_ADDRS + AC_MAX_GROUPS + 2);
    bench_free(b);
}

/* ---- redirects ------------------------------------------------------------------------- */

static bool redirect_in(struct bench *b, const struct ns_ip6_addr *src, const struct ns_ip6_addr *dest,
                        const struct ns_ip6_addr *target)
{
    uint8_t msg[64];
    const struct ac_addr *ll = ac_linklocal(&b->ifp);
    struct ns_ndp_repr r = {.type = NS_ICMP6_REDIRECT, .target = *target, .dest = *dest};
    size_t n = ns_ndp_emit(src, &ll->addr, &r, msg);
    struct ns_ip6_repr ip = {.next_hdr = NS_IPPROTO_ICMPV6, .hop_limit = 255, .src = *src,
                             .dst = ll->addr, .payload_len = (uint16_t)n};
    struct ns_ndp_repr parsed;
    assert_int_equal(ns_ndp_parse(&ip, msg, n, &parsed), 0);
    return ac_redirect_input(&b->ifp, &ip, &parsed);
}

static void test_redirects(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    uint64_t ready;
    enable_ll(b, &ready);
    b->ev_taken = b->nev;
    struct ns_ip6_addr r1 = A("fe80::1"), r2 = A("fe80::2"), dest = A("2001:db8:9::5"), nh;
    b->first_hop = r1;
    /* §8.1: not from the first-hop router: dropped. */
    assert_false(redirect_in(b, &r2, &dest, &r2));
    assert_int_equal(ctr(b, NS_CTR_redirect_bad), 1);
    assert_false(ac_redirect_lookup(&b->ifp, &dest, &nh));
    /* From it: the destination's next hop becomes the target. */
    assert_true(redirect_in(b, &r1, &dest, &r2));
    expect_ev(b, 'd', 1, &dest, ready);
    assert_true(ac_redirect_lookup(&b->ifp, &dest, &nh));
    assert_true(ns_ip6_eq(&nh, &r2));
    /* Target == destination: the destination is on-link. */
    assert_true(redirect_in(b, &r1, &dest, &dest));
    assert_true(ac_redirect_lookup(&b->ifp, &dest, &nh));
    assert_true(ns_ip6_eq(&nh, &dest));
    /* No first hop (on-link or unreachable): dropped. */
    b->first_hop = ns_ip6_unspecified;
    assert_false(redirect_in(b, &r1, &dest, &r2));
    assert_int_equal(ctr(b, NS_CTR_redirect_bad), 2);
    /* A flood of destinations: the table stays bounded, the oldest go. */
    b->first_hop = r1;
    b->ev_taken = b->nev;
    for (int i = 0; i < 200; i++) {
        struct ns_ip6_addr d = A("2001:db8:7::");
        d.b[14] = (uint8_t)(i >> 8);
        d.b[15] = (uint8_t)i;
        at(b, ready + (uint64_t)(i + 1) * 1000);
        assert_true(redirect_in(b, &r1, &d, &r2));
    }
    assert_int_equal(ctr(b, NS_CTR_redirect_evict), 200 + 1 - AC_MAX_REDIRECTS);
    /* Each replaced destination was withdrawn (its host route goes), the
     * first to go being the oldest: dest. */
    int added = 0, withdrawn = 0;
    const struct evlog *e;
    bool first_withdrawn_is_dest = false;
    while ((e = take_ev(b))) {
        if (e->ev == 1)
            added++;
        else if (withdrawn++ == 0)
            first_withdrawn_is_dest = ns_ip6_eq(&e->addr, &dest);
    }
    assert_int_equal(added, 200);
    assert_int_equal(withdrawn, 200 + 1 - AC_MAX_REDIRECTS);
    assert_true(first_withdrawn_is_dest);
    assert_false(ac_redirect_lookup(&b->ifp, &dest, &nh)); /* the oldest went first */
    struct ns_ip6_addr last = A("2001:db8:7::c7");
    b->ev_taken = b->nev;
    assert_true(ac_redirect_lookup(&b->ifp, &last, &nh));
    /* A router does not take redirects. */
    b->ifp.cfg.forwarding = true;
    assert_false(redirect_in(b, &r1, &dest, &r2));
    assert_int_equal(ctr(b, NS_CTR_redirect_ignored), 1);
    bench_free(b);
}

/* ---- MLDv2 ----------------------------------------------------------------------------- */

static struct bench *bench_no_rs(void)
{
    struct ac_config cfg;
    ac_config_default(&cfg, MAC, 1500);
    cfg.rtr_solicits = 0;
    return bench_new_cfg(&cfg);
}

static void test_mld_join_leave_reports(void **state)
{
    (void)state;
    struct bench *b = bench_no_rs();
    uint64_t ready;
    struct ns_ip6_addr ll = enable_ll(b, &ready);
    struct ns_ip6_addr g = A("ff02::1:ff00:abcd");
    uint64_t t = ready + 10 * US_S;
    at(b, t);
    expect_quiet(b);
    assert_int_equal(ac_mld_join(&b->ifp, &g), 0);
    /* RFC 3810 §6.1: now, from the link-local address, and once more
     * within (0, 1 s]. */
    const struct sent *s = &b->sent[b->taken];
    expect_report(b, NS_MLD2_CHANGE_TO_EXCLUDE, &g);
    assert_true(ns_ip6_eq(&s->src, &ll));
    struct ac_group *m = group_of(b, &g);
    assert_non_null(m);
    uint64_t r2 = m->timer.expires_us;
    assert_true(r2 > t && r2 <= t + AC_MLD_UNSOL_US);
    at(b, r2 - 1);
    expect_quiet(b);
    at(b, r2);
    expect_report(b, NS_MLD2_CHANGE_TO_EXCLUDE, &g);
    at(b, t + 10 * US_S);
    expect_quiet(b);
    /* A second join is a reference, no report; the first leave neither. */
    assert_int_equal(ac_mld_join(&b->ifp, &g), 0);
    ac_mld_leave(&b->ifp, &g);
    expect_quiet(b);
    assert_true(ac_mld_joined(&b->ifp, &g));
    ac_mld_leave(&b->ifp, &g);
    assert_false(ac_mld_joined(&b->ifp, &g));
    expect_report(b, NS_MLD2_CHANGE_TO_INCLUDE, &g);
    at(b, t + 12 * US_S);
    expect_report(b, NS_MLD2_CHANGE_TO_INCLUDE, &g);
    at(b, t + 20 * US_S);
    expect_quiet(b);
    bench_free(b);
}

static void test_mld_queries(void **state)
{
    (void)state;
    struct bench *b = bench_no_rs();
    uint64_t ready;
    struct ns_ip6_addr ll = enable_ll(b, &ready);
    uint64_t t = ready + 10 * US_S;
    at(b, t);
    b->taken = b->nsent;
    /* General Query, Maximum Response Delay 10 s: one report with the
     * solicited-node group (ff02::1 never), IS_EX, within [t, t + 10 s). */
    struct ns_mld_query q = {.version = 2, .max_resp_ms = 10000, .group = ns_ip6_unspecified};
    ac_mld_query_input(&b->ifp, &q);
    uint64_t due = b->ifp.mld_general.expires_us;
    assert_true(ns_timer_pending(&b->ifp.mld_general));
    assert_true(due >= t && due < t + 10 * US_S);
    /* A second General Query with a later answer does not move it. */
    ac_mld_query_input(&b->ifp, &q);
    q.max_resp_ms = 0;
    ac_mld_query_input(&b->ifp, &q); /* ... an immediate one does */
    assert_int_equal(b->ifp.mld_general.expires_us, t);
    at(b, t);
    struct ns_ip6_addr sn = ns_ip6_solicited_node(&ll);
    expect_report(b, NS_MLD2_MODE_IS_EXCLUDE, &sn);
    expect_quiet(b);
    /* Group-specific query for our group, and one for a group we are not in. */
    q.max_resp_ms = 2000;
    q.group = sn;
    ac_mld_query_input(&b->ifp, &q);
    q.group = A("ff02::1:ff99:9999");
    ac_mld_query_input(&b->ifp, &q);
    at(b, t + 2 * US_S);
    expect_report(b, NS_MLD2_MODE_IS_EXCLUDE, &sn);
    expect_quiet(b);
    /* MLDv1: ignored, counted. */
    q.version = 1;
    ac_mld_query_input(&b->ifp, &q);
    at(b, t + 20 * US_S);
    expect_quiet(b);
    assert_int_equal(ctr(b, NS_CTR_mld_v1_ignored), 1);
    bench_free(b);
}

static void test_mld_table_bounded(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    ac_enable(&b->ifp);
    int ok = 0;
    for (int i = 0; i < 100; i++) {
        struct ns_ip6_addr g = A("ff02::1:ff00:0");
        g.b[15] = (uint8_t)i;
        ok += ac_mld_join(&b->ifp, &g) == 0;
    }
    assert_int_equal(ok, AC_MAX_GROUPS - 1); /* ff02::1 holds one */
    assert_int_equal(ctr(b, NS_CTR_mld_group_full), 100 - ok);
    bench_free(b);
}

static void test_disable_removes_everything(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    struct ac_addr *a = slaac_one(b, 3600, 3600);
    struct ra_spec ra = {.src = A("fe80::1"), .router_lifetime_s = 1800, .npi = 1};
    ra.pi[0] = pio("2001:db8:5::", 64, NS_NDP_PREFIX_ONLINK, 3600, 1800);
    ra_in(b, &ra);
    assert_non_null(a);
    b->ev_taken = b->nev;
    ac_disable(&b->ifp);
    int removed = 0, routers = 0, prefixes = 0;
    const struct evlog *e;
    while ((e = take_ev(b))) {
        removed += e->kind == 'a' && e->ev == AC_EV_REMOVED;
        routers += e->kind == 'r' && e->ev == 0;
        prefixes += e->kind == 'p' && e->ev == 0;
    }
    assert_int_equal(removed, 2);
    assert_int_equal(routers, 1);
    assert_int_equal(prefixes, 1);
    assert_int_equal(ac_addr_count(&b->ifp), 0);
    assert_int_equal(ns_wheel_count(&b->tb->st->wheel), 0);
    bench_free(b);
}


/* ---- advertising as a router -------------------------------------------------------- */

static void expect_ra(struct bench *b, uint16_t lifetime, struct ns_ndp_repr *out)
{
    const struct sent *s = take(b);
    assert_non_null(s);
    struct ns_ndp_repr r;
    parse_ndp(s, &r);
    assert_int_equal(r.type, NS_ICMP6_RA);
    assert_true(ns_ip6_is_link_local(&s->src));
    assert_true(ns_ip6_eq(&s->dst, &ns_ip6_all_nodes));
    assert_int_equal(r.router_lifetime_s, lifetime);
    assert_non_null(r.sll);
    assert_memory_equal(r.sll, MAC, 6);
    if (out)
        *out = r;
}

static void test_router_advertisements(void **state)
{
    (void)state;
    struct ac_config cfg;
    ac_config_default(&cfg, MAC, 1500);
    cfg.forwarding = true;
    struct bench *b = bench_new_cfg(&cfg);
    struct ac_adv_config adv;
    struct ns_ip6_addr pfx = A("2001:db8:1::");
    ac_adv_config_default(&adv, &pfx, 64);
    ac_adv_start(&b->ifp, &adv);
    uint64_t ready;
    enable_ll(b, &ready);
    /* The first RA when the link-local address is ready (no RS: forwarding). */
    struct ns_ndp_repr r;
    expect_ra(b, 1800, &r);
    struct ns_ndp_opt_iter it;
    struct ns_ndp_opt o;
    struct ns_ndp_prefix pi;
    int npi = 0;
    ns_ndp_opt_iter_init(&it, r.opts, r.opts_len);
    while (ns_ndp_opt_next(&it, &o) > 0)
        if (o.type == NS_NDP_OPT_PREFIX && ns_ndp_prefix_parse(&o, &pi) == 0)
            npi++;
    assert_int_equal(npi, 1);
    assert_true(ns_ip6_eq(&pi.prefix, &pfx));
    assert_int_equal(pi.flags, LA);
    assert_int_equal(pi.valid_s, 2592000);
    /* §6.2.4: the next two at most 16 s apart, then [200 s, 600 s]. */
    uint64_t last = ready;
    for (int i = 0; i < 3; i++) {
        uint64_t next = b->ifp.adv_timer.expires_us;
        if (i < 2)
            assert_true(next > last && next <= last + 16 * US_S);
        else
            assert_true(next >= last + 200 * US_S && next <= last + 600 * US_S);
        at(b, next - 1);
        expect_quiet(b);
        at(b, next);
        expect_ra(b, 1800, NULL);
        last = next;
    }
    /* §6.2.6: an RS is answered within 0.5 s, but not within 3 s of the last RA. */
    struct ns_ndp_repr rs = {.type = NS_ICMP6_RS};
    struct ns_ip6_repr ip = {.src = A("fe80::99"), .dst = ns_ip6_all_routers, .hop_limit = 255};
    at(b, last + 1 * US_S);
    ac_rs_input(&b->ifp, &ip, &rs);
    assert_int_equal(b->ifp.adv_timer.expires_us, last + 3 * US_S);
    at(b, last + 3 * US_S);
    expect_ra(b, 1800, NULL);
    last += 3 * US_S;
    at(b, last + 10 * US_S);
    ac_rs_input(&b->ifp, &ip, &rs);
    uint64_t due = b->ifp.adv_timer.expires_us;
    assert_true(due >= last + 10 * US_S && due <= last + 10 * US_S + AC_MAX_RA_DELAY_TIME_US);
    at(b, due);
    expect_ra(b, 1800, NULL);
    /* §6.2.5: stopping sends a last RA with Router Lifetime 0. */
    ac_adv_stop(&b->ifp);
    expect_ra(b, 0, NULL);
    assert_int_equal(ctr(b, NS_CTR_ra_tx), 7);
    bench_free(b);
}

/* A stack being freed cancels every timer, sending nothing. */
static void test_destroy_is_silent(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    slaac_one(b, 3600, 1800);
    struct ns_mld_query q = {.version = 2, .max_resp_ms = 10000};
    ac_mld_query_input(&b->ifp, &q);
    assert_true(ns_wheel_count(&b->tb->st->wheel) > 0);
    size_t sent = b->nsent, evs = b->nev;
    ac_destroy(&b->ifp);
    assert_int_equal(ns_wheel_count(&b->tb->st->wheel), 0);
    assert_int_equal(b->nsent, sent);
    assert_int_equal(b->nev, evs);
    tb_free(b->tb);
    free(b);
}

/* A host ignores RSs. */
static void test_host_ignores_rs(void **state)
{
    (void)state;
    struct bench *b = bench_new();
    uint64_t ready;
    enable_ll(b, &ready);
    b->taken = b->nsent;
    struct ns_ndp_repr rs = {.type = NS_ICMP6_RS};
    struct ns_ip6_repr ip = {.src = A("fe80::99"), .dst = ns_ip6_all_routers, .hop_limit = 255};
    ac_rs_input(&b->ifp, &ip, &rs);
    assert_false(ns_timer_pending(&b->ifp.adv_timer));
    bench_free(b);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stable_iid_is_a_keyed_function_of_its_inputs),
        cmocka_unit_test(test_reserved_iids),
        cmocka_unit_test(test_eui64_mode_uses_the_mac),
        cmocka_unit_test(test_enable_dad_then_router_solicitations),
        cmocka_unit_test(test_ra_stops_solicitations),
        cmocka_unit_test(test_no_dad_when_dad_transmits_zero),
        cmocka_unit_test(test_dad_conflict_by_na_retries_then_gives_up),
        cmocka_unit_test(test_dad_ns_from_unspecified),
        cmocka_unit_test(test_na_for_preferred_address_is_not_dad),
        cmocka_unit_test(test_manual_address_dad_conflict_no_retry),
        cmocka_unit_test(test_slaac_from_ra_and_lifetimes),
        cmocka_unit_test(test_two_hour_rule),
        cmocka_unit_test(test_infinite_lifetimes),
        cmocka_unit_test(test_prefix_options_ignored),
        cmocka_unit_test(test_ra_mtu_option),
        cmocka_unit_test(test_ra_ignored_when_forwarding_or_accept_ra_off),
        cmocka_unit_test(test_router_lifetime_zero_removes),
        cmocka_unit_test(test_ra_flood_is_bounded),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_mld_join_leave_reports),
        cmocka_unit_test(test_mld_queries),
        cmocka_unit_test(test_mld_table_bounded),
        cmocka_unit_test(test_disable_removes_everything),
        cmocka_unit_test(test_router_advertisements),
        cmocka_unit_test(test_host_ignores_rs),
        cmocka_unit_test(test_destroy_is_silent),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc)
        ns_test_fail_hint();
    return rc;
}
