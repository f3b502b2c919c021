/* net/autoconf.c — the autoconfiguration engine (net/addrconf.c,
 * net/mld6.c) wired to IPv6 (net/ipv6.c, net/route6.c, net/icmp6.c,
 * net/ndisc.c): one `struct ac_if` per interface it was turned on for,
 * its ICMPv6 types registered (RS, RA, Redirect, MLD Query; NS and NA
 * are looked at first for DAD and then passed to neighbour discovery),
 * its decisions made into IPv6 addresses, routes and link parameters.
 *
 * Read first: net/addrconf.h, docs/ipv6.md "Autoconfiguration".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/addrconf.h"
#include "net/net.h"
#include "wire/ipv6.h"

#define RA_ROUTE_METRIC 1024   /* Linux IP6_RT_PRIO_USER for RA routes */
#define REDIRECT_METRIC 0

/* Add a route the engine asked for; a full IPv6 route table refuses it,
 * counted (the engine's own tables are bounded, the route table is
 * shared with the program's routes). */
static void add_route(struct ns_stack *st, const struct ns_route6 *r)
{
    if (route6_add(st, r) == -ENOSPC)
        NS_STAT_INC(st, ra_route_full);
}

struct ac_state {
    struct ac_if *ifs[NS_IF_MAX];    /* by ifindex - 1; NULL: not configured */
    icmp6_handler_fn nd_ns, nd_na;   /* neighbour discovery's own handlers */
    bool removing;                   /* the engine is removing an address */
};

static struct ac_if *ac_of(struct ns_stack *st, int ifindex)
{
    struct ac_state *s = st->net->ac;
    if (!s || ifindex < 1 || ifindex > NS_IF_MAX)
        return NULL;
    return s->ifs[ifindex - 1];
}

struct ac_if *autoconf_if(struct ns_stack *st, int ifindex) { return ac_of(st, ifindex); }

/* ---- the engine's requests ------------------------------------------------------ */

static void op_output(void *ctx, struct ac_if *acif, const struct ns_ip6_addr *src,
                      const struct ns_ip6_addr *dst, const uint8_t *msg, size_t len, bool mld)
{
    struct ns_stack *st = ctx;
    struct ns_iface *ifp = ns_iface_get(st, acif->ifindex);
    if (!ifp)
        return;
    if (!mld) {
        /* RFC 4861 §6.1, §7.1: hop limit 255. */
        icmp6_send(st, ifp, src, dst, NS_NDP_HOP_LIMIT, msg, len);
        return;
    }
    /* RFC 3810 §5: hop limit 1 and a Router Alert in a Hop-by-Hop header
     * in front of the ICMPv6 message (its checksum is unchanged: the
     * pseudo-header names ICMPv6, not the header chain); from :: before
     * the link-local address is ready (§5.2.13). */
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, (uint32_t)len);
    if (!pb)
        return;
    memcpy(ns_pbuf_data(pb), msg, len);
    uint8_t hbh[NS_IP6_HBH_RA_LEN];
    ns_ip6_hbh_ra_emit(NS_IPPROTO_ICMPV6, NS_IP6_RA_MLD, hbh);
    struct ip6_out o = {.src = *src, .unspec_src = ns_ip6_is_unspecified(src), .dst = *dst,
                        .proto = NS_IPPROTO_ICMPV6, .hop_limit = NS_MLD_HOP_LIMIT,
                        .hop_limit_set = true, .oif = acif->ifindex,
                        .ext_type = NS_IP6_NH_HOPOPTS, .ext = hbh, .ext_len = sizeof(hbh)};
    ip6_output(st, &o, pb);
}

/* Is g the solicited-node group of an address the engine owns? Those
 * groups the engine joins and reports itself, when DAD starts. */
static bool engine_group(struct ac_if *acif, const struct ns_ip6_addr *g)
{
    if (!ns_ip6_is_solicited_node(g))
        return false;
    for (int i = 0; i < AC_MAX_ADDRS; i++) {
        const struct ac_addr *a = &acif->addrs[i];
        if (a->state == AC_ADDR_FREE)
            continue;
        struct ns_ip6_addr sn = ns_ip6_solicited_node(&a->addr);
        if (ns_ip6_eq(&sn, g))
            return true;
    }
    return false;
}

static void op_addr_event(void *ctx, struct ac_if *acif, const struct ac_addr *a,
                          enum ac_addr_event ev)
{
    struct ns_stack *st = ctx;
    struct ns_iface *ifp = ns_iface_get(st, acif->ifindex);
    if (!ifp)
        return;
    struct ns_if_addr6 *ia = ip6_addr_find(st, acif->ifindex, &a->addr);
    switch (ev) {
    case AC_EV_TENTATIVE: {
        /* The prefix route of a SLAAC address is the on-link prefix's
         * (RFC 4862 §5.5.3: an address says nothing about on-link). */
        uint8_t flags = IP6_ADDR_TENTATIVE;
        if (a->origin == AC_ORIGIN_SLAAC)
            flags |= IP6_ADDR_AUTOCONF | IP6_ADDR_NOROUTE;
        if (!ia)
            ip6_addr_add(st, ifp, &a->addr, a->plen, flags);
        else
            ia->flags |= IP6_ADDR_TENTATIVE;
        break;
    }
    case AC_EV_READY:
    case AC_EV_DEPRECATED:
        if (!ia)
            return;
        if (ia->flags & IP6_ADDR_TENTATIVE) {
            char buf[NS_IP6_ADDRSTRLEN];
            NS_LOG(st, NS_LOG_INFO, "address %s/%u on %s ready (DAD passed)",
                   ns_ip6_ntoa(&a->addr, buf), a->plen, ifp->dev->name);
        }
        ia->flags &= (uint8_t)~(IP6_ADDR_TENTATIVE | IP6_ADDR_DEPRECATED);
        if (ev == AC_EV_DEPRECATED)
            ia->flags |= IP6_ADDR_DEPRECATED;
        ia->valid_until_us = a->valid_until_us == UINT64_MAX ? 0 : a->valid_until_us;
        ia->preferred_until_us = a->preferred_until_us == UINT64_MAX ? 0 : a->preferred_until_us;
        ip_egress_invalidate(st);
        break;
    case AC_EV_REMOVED:
        if (ia && (ia->flags & IP6_ADDR_TENTATIVE)) {
            char buf[NS_IP6_ADDRSTRLEN];
            NS_LOG(st, NS_LOG_INFO, "address %s on %s dropped while tentative",
                   ns_ip6_ntoa(&a->addr, buf), ifp->dev->name);
        }
        if (ia) {
            st->net->ac->removing = true;
            ip6_addr_del(st, ifp, &a->addr);
            st->net->ac->removing = false;
        }
        break;
    }
}

static void op_router_event(void *ctx, struct ac_if *acif, const struct ns_ip6_addr *router,
                            bool add)
{
    struct ns_stack *st = ctx;
    /* RFC 4861 §5.1: the default router list is a default route per router. */
    struct ns_addr any = {.family = AF_INET6}, gw = {.family = AF_INET6};
    gw.u.ip6 = *router;
    if (add) {
        struct ns_route6 r = {.dst = any, .prefix_len = 0, .gw = gw, .ifindex = acif->ifindex,
                              .metric = RA_ROUTE_METRIC, .flags = ROUTE6_F_RA};
        add_route(st, &r);
    } else {
        route6_del(st, &any, 0, &gw, acif->ifindex);
    }
}

static void op_prefix_event(void *ctx, struct ac_if *acif, const struct ns_ip6_addr *prefix,
                            uint8_t plen, bool add)
{
    struct ns_stack *st = ctx;
    /* RFC 4861 §5.1: an on-link prefix is a route without gateway. */
    struct ns_addr d = {.family = AF_INET6};
    d.u.ip6 = *prefix;
    if (add) {
        struct ns_route6 r = {.dst = d, .prefix_len = plen, .ifindex = acif->ifindex,
                              .metric = RA_ROUTE_METRIC, .flags = ROUTE6_F_RA};
        add_route(st, &r);
    } else {
        struct ns_addr none = {.family = AF_UNSPEC};
        route6_del(st, &d, plen, &none, acif->ifindex);
    }
}

static void op_params_event(void *ctx, struct ac_if *acif)
{
    struct ns_stack *st = ctx;
    struct ip6_ifstate *is = ip6_ifstate(st, acif->ifindex);
    const struct ac_params *p = &acif->params;
    if (p->cur_hop_limit)
        is->hop_limit = p->cur_hop_limit;
    if (p->retrans_ms)
        is->retrans_us = (uint64_t)p->retrans_ms * 1000;
    if (p->reachable_ms && (uint64_t)p->reachable_ms * 1000 != is->base_reachable_us) {
        /* RFC 4861 §6.3.4: a new BaseReachableTime draws ReachableTime again. */
        is->base_reachable_us = (uint64_t)p->reachable_ms * 1000;
        is->reachable_us = is->base_reachable_us / 2 + ns_rng_below(&st->rng, is->base_reachable_us);
        is->reachable_drawn_us = st->now_us;
    }
    is->mtu = p->mtu == acif->cfg.link_mtu ? 0 : p->mtu;
    ip_egress_invalidate(st);
}

static bool op_first_hop(void *ctx, struct ac_if *acif, const struct ns_ip6_addr *dest,
                         struct ns_ip6_addr *router)
{
    struct ns_stack *st = ctx;
    int oif;
    struct ns_ip6_addr nh;
    if (route6_lookup(st, dest, acif->ifindex, &oif, &nh) < 0 || oif != acif->ifindex ||
        ns_ip6_eq(&nh, dest))
        return false;
    *router = nh;
    return true;
}

static void op_redirect_event(void *ctx, struct ac_if *acif, const struct ns_ip6_addr *dest,
                              const struct ns_ip6_addr *target)
{
    struct ns_stack *st = ctx;
    /* RFC 4861 §8.3: a host route for the destination (Linux keeps a route
     * exception). */
    struct ns_addr d = {.family = AF_INET6};
    d.u.ip6 = *dest;
    route6_del(st, &d, 128, NULL, acif->ifindex);
    if (!target)
        return;
    struct ns_route6 r = {.dst = d, .prefix_len = 128, .ifindex = acif->ifindex,
                          .metric = REDIRECT_METRIC, .flags = ROUTE6_F_RA};
    if (!ns_ip6_eq(target, dest)) {
        r.gw.family = AF_INET6;
        r.gw.u.ip6 = *target;
    }
    add_route(st, &r);
}

static const struct ac_ops autoconf_ops = {
    .output = op_output,
    .addr_event = op_addr_event,
    .router_event = op_router_event,
    .prefix_event = op_prefix_event,
    .params_event = op_params_event,
    .first_hop = op_first_hop,
    .redirect_event = op_redirect_event,
};

/* ---- what IPv6 tells us --------------------------------------------------------- */

static void hook_mc_joined(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *g)
{
    struct ac_if *acif = ac_of(st, ifp->index);
    if (acif && !engine_group(acif, g))
        ac_mld_join(acif, g);
}

static void hook_mc_left(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *g)
{
    struct ac_if *acif = ac_of(st, ifp->index);
    if (acif && !engine_group(acif, g))
        ac_mld_leave(acif, g);
}

/* An address the program added to an autoconfigured interface goes
 * through DAD like the engine's own (Linux: every address does). */
static void hook_addr_added(struct ns_stack *st, struct ns_iface *ifp, const struct ns_if_addr6 *a)
{
    struct ac_if *acif = ac_of(st, ifp->index);
    if (!acif || ac_addr_find(acif, &a->addr))
        return;
    if (ac_addr_add(acif, &a->addr, a->prefix_len) < 0)
        NS_LOG(st, NS_LOG_WARN, "autoconf: no room to check an address on %s", ifp->dev->name);
}

static void hook_addr_removed(struct ns_stack *st, struct ns_iface *ifp,
                              const struct ns_if_addr6 *a)
{
    struct ac_if *acif = ac_of(st, ifp->index);
    if (acif && !st->net->ac->removing && ac_addr_find(acif, &a->addr)) {
        st->net->ac->removing = true;
        ac_addr_del(acif, &a->addr);
        st->net->ac->removing = false;
    }
}

static const struct ip6_hooks autoconf_hooks = {
    .mc_joined = hook_mc_joined,
    .mc_left = hook_mc_left,
    .addr_added = hook_addr_added,
    .addr_removed = hook_addr_removed,
};

/* ---- ICMPv6 input ------------------------------------------------------------------- */

/* Parse an NDP message for us; false (counted) when it is invalid. */
static bool nd_parse(struct ns_stack *st, const struct ns_ip6_repr *ip, const struct ns_pbuf *pb,
                     struct ns_ndp_repr *r)
{
    if (ns_ndp_parse(ip, ns_pbuf_data(pb), pb->len, r) < 0) {
        NS_STAT_INC(st, ra_invalid);
        return false;
    }
    return true;
}

static void in_rs(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                  const struct ns_icmp6_repr *m, const struct ns_pbuf *pb)
{
    (void)m;
    struct ac_if *acif = ac_of(st, ifp->index);
    struct ns_ndp_repr r;
    if (acif && nd_parse(st, ip, pb, &r))
        ac_rs_input(acif, ip, &r);
}

static void in_ra(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                  const struct ns_icmp6_repr *m, const struct ns_pbuf *pb)
{
    (void)m;
    struct ac_if *acif = ac_of(st, ifp->index);
    struct ns_ndp_repr r;
    if (!acif) {
        NS_STAT_INC(st, ra_ignored);
        return;
    }
    if (nd_parse(st, ip, pb, &r)) {
        acif->cfg.forwarding = st->cfg.ip_forward;
        ac_ra_input(acif, ip, &r);
        /* RFC 4861 §6.3.4: the source link-layer address updates the
         * router's neighbour entry. */
        if (r.sll && r.sll_len == NS_ETH_ALEN)
            nd_learn(st, ifp, &ip->src, r.sll, true);
    }
}

static void in_redirect(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                        const struct ns_icmp6_repr *m, const struct ns_pbuf *pb)
{
    (void)m;
    struct ac_if *acif = ac_of(st, ifp->index);
    struct ns_ndp_repr r;
    if (!acif || !nd_parse(st, ip, pb, &r))
        return;
    acif->cfg.forwarding = st->cfg.ip_forward;
    if (ac_redirect_input(acif, ip, &r) && r.tll && r.tll_len == NS_ETH_ALEN)
        nd_learn(st, ifp, &r.target, r.tll, false); /* §8.3 */
}

static void in_ns(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                  const struct ns_icmp6_repr *m, const struct ns_pbuf *pb)
{
    struct ac_state *s = st->net->ac;
    struct ac_if *acif = ac_of(st, ifp->index);
    struct ns_ndp_repr r;
    if (acif && ns_ndp_parse(ip, ns_pbuf_data(pb), pb->len, &r) == 0 && ac_ns_input(acif, ip, &r))
        return; /* DAD's (RFC 4862 §5.4.3) */
    if (s->nd_ns)
        s->nd_ns(st, ifp, ip, m, pb);
}

static void in_na(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                  const struct ns_icmp6_repr *m, const struct ns_pbuf *pb)
{
    struct ac_state *s = st->net->ac;
    struct ac_if *acif = ac_of(st, ifp->index);
    struct ns_ndp_repr r;
    /* RFC 4862 §5.4.4 (our own NA looped back by a hub is no evidence, as
     * neighbour discovery judges it). */
    if (acif && ns_ndp_parse(ip, ns_pbuf_data(pb), pb->len, &r) == 0 &&
        !(r.tll && r.tll_len == NS_ETH_ALEN && memcmp(r.tll, ifp->dev->hwaddr, NS_ETH_ALEN) == 0) &&
        ac_na_input(acif, ip, &r))
        return;
    if (s->nd_na)
        s->nd_na(st, ifp, ip, m, pb);
}

static void in_mld_query(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                         const struct ns_icmp6_repr *m, const struct ns_pbuf *pb)
{
    (void)m;
    struct ac_if *acif = ac_of(st, ifp->index);
    if (!acif)
        return;
    /* RFC 3810 §6.2: a query must carry a Router Alert: look in the
     * Hop-by-Hop header, right after the fixed one. */
    bool has_ra = false;
    const uint8_t *pkt = pb->buf + pb->l3_off;
    size_t plen = (size_t)(ns_pbuf_data(pb) - pkt) + pb->len;
    struct ns_ip6_ext_info w;
    if (ns_ip6_ext_walk(pkt, plen, &w) == 0 && w.n_ext && w.ext[0].type == NS_IP6_NH_HOPOPTS) {
        struct ns_ip6_opts_result res;
        if (ns_ip6_opts_process(pkt + w.ext[0].off, w.ext[0].len, w.ext[0].off, true,
                                ns_ip6_is_multicast(&ip->dst), &res) == 0)
            has_ra = res.router_alert && res.ra_value == NS_IP6_RA_MLD;
    }
    struct ns_mld_query q;
    if (ns_mld_query_parse(ip, has_ra, ns_pbuf_data(pb), pb->len, &q) < 0) {
        NS_STAT_INC(st, mld_query_invalid);
        return;
    }
    ac_mld_query_input(acif, &q);
}

/* ---- setup -------------------------------------------------------------------------- */

int autoconf_init(struct ns_stack *st)
{
    struct ac_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    st->net->ac = s;
    return 0;
}

void autoconf_destroy(struct ns_stack *st)
{
    struct ac_state *s = st->net->ac;
    if (!s)
        return;
    for (int i = 0; i < NS_IF_MAX; i++) {
        if (s->ifs[i])
            ac_destroy(s->ifs[i]);
        free(s->ifs[i]);
    }
    free(s);
    st->net->ac = NULL;
}

/* The first interface turned on takes the ICMPv6 types (a stack that
 * never autoconfigures keeps neighbour discovery's handlers as they are). */
static void autoconf_register(struct ns_stack *st)
{
    struct ac_state *s = st->net->ac;
    struct ip6_state *s6 = st->net->ip6;
    if (s6->icmp6[NS_ICMP6_RA] == in_ra)
        return;
    s->nd_ns = s6->icmp6[NS_ICMP6_NS];
    s->nd_na = s6->icmp6[NS_ICMP6_NA];
    icmp6_register(st, NS_ICMP6_RS, in_rs);
    icmp6_register(st, NS_ICMP6_RA, in_ra);
    icmp6_register(st, NS_ICMP6_REDIRECT, in_redirect);
    icmp6_register(st, NS_ICMP6_NS, in_ns);
    icmp6_register(st, NS_ICMP6_NA, in_na);
    icmp6_register(st, NS_ICMP6_MLD_QUERY, in_mld_query);
    ip6_hooks_set(st, &autoconf_hooks);
}

int autoconf_enable(struct ns_stack *st, int ifindex, const struct ac_config *cfg_in)
{
    struct ns_iface *ifp = ns_iface_get(st, ifindex);
    if (!ifp)
        return -ENODEV;
    if (ifp->loopback || ifp->dev->link != NS_LINK_ETHER)
        return -EOPNOTSUPP;
    struct ac_state *s = st->net->ac;
    if (s->ifs[ifindex - 1])
        return -EALREADY;
    struct ac_if *acif = calloc(1, sizeof(*acif));
    if (!acif)
        return -ENOMEM;
    struct ac_config cfg;
    if (cfg_in)
        cfg = *cfg_in;
    else
        ac_config_default(&cfg, ifp->dev->hwaddr, ifp->dev->mtu);
    cfg.forwarding = st->cfg.ip_forward;
    autoconf_register(st);
    s->ifs[ifindex - 1] = acif;
    ac_init(acif, st, ifindex, &cfg, &autoconf_ops, st);
    /* IPv6 on, without neighbour discovery's EUI-64 link-local: the
     * engine forms its own (RFC 7217) and checks it (RFC 4862 §5.4). If
     * IPv6 was on already, its link-local gives way. */
    struct ip6_ifstate *is = ip6_ifstate(st, ifindex);
    if (is->enabled) {
        for (unsigned k = 0; k < is->n_addr; k++)
            if (ns_ip6_is_link_local(&is->addr[k].addr)) {
                ip6_addr_del(st, ifp, &is->addr[k].addr);
                k--;
            }
    }
    int rc = ip6_enable(st, ifp, true);
    if (rc < 0)
        return rc;
    ac_enable(acif);
    return 0;
}

int autoconf_advertise(struct ns_stack *st, int ifindex, const struct ac_adv_config *adv)
{
    struct ac_if *acif = ac_of(st, ifindex);
    if (!acif)
        return -ENOENT;
    struct ns_iface *ifp = ns_iface_get(st, ifindex);
    /* RFC 4291 §2.8: a router listens to all-routers (where RSs go). */
    if (adv && !acif->adv_on)
        ip6_mc_join(st, ifp, &ns_ip6_all_routers);
    else if (!adv && acif->adv_on)
        ip6_mc_leave(st, ifp, &ns_ip6_all_routers);
    if (adv)
        ac_adv_start(acif, adv);
    else
        ac_adv_stop(acif);
    return 0;
}
