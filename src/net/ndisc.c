/* net/ndisc.c — Neighbour Discovery address resolution and Neighbor
 * Unreachability Detection (RFC 4861 §7), the IPv6 neighbour cache.
 *
 * Read first: RFC 4861 §7.2 (resolution: NS to the solicited-node group,
 * NA back), §7.3 (NUD and the states below), Appendix C (the state
 * machine), §10 (the constants), Linux net/core/neighbour.c
 * (neigh_timer_handler) and net/ipv6/ndisc.c for what we match.
 *
 * States (RFC 4861 §7.3.2), with Linux's timers:
 *   INCOMPLETE  an NS went to the solicited-node group; packets held
 *               (the hold queues and byte caps are ARP's, shared:
 *               neigh_hold_*); an NS every RetransTimer (1 s), after
 *               MAX_MULTICAST_SOLICIT (3) unanswered the entry goes and
 *               each held packet is answered Destination Unreachable code
 *               3 (address unreachable, RFC 4861 §7.2.2).
 *   REACHABLE   confirmed (solicited NA, or nd_confirm) within
 *               ReachableTime (30 s base, drawn from [0.5, 1.5) x base);
 *               then STALE, or DELAY when used within the last
 *               DELAY_FIRST_PROBE_TIME (Linux neigh_timer_handler).
 *   STALE       not confirmed lately: still used; the first packet sent
 *               makes it DELAY. Unused for arp_gc_us (60 s, Linux
 *               gc_stale_time) it is removed.
 *   DELAY       5 s (DELAY_FIRST_PROBE_TIME) for an upper layer to
 *               confirm it; then PROBE.
 *   PROBE       unicast NS every RetransTimer, MAX_UNICAST_SOLICIT (3);
 *               no answer removes it.
 * Bounds: at most cfg.arp_cache_max entries (least recently used evicted,
 * as ARP's), at most cfg.arp_unres_max being resolved at once (shared
 * with ARP: one budget of unresolved neighbours), the hold queues within
 * ARP's byte caps.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/siphash.h"
#include "net/net.h"
#include "wire/bytes.h"
#include "wire/ipv6.h"
#include "wire/wire.h"

#define ND_DELAY_FIRST_PROBE_US 5000000ull /* RFC 4861 §10 */
#define ND_MAX_MULTICAST_SOLICIT 3
#define ND_MAX_UNICAST_SOLICIT 3
/* Linux neigh_periodic_work draws ReachableTime again every 300 s. */
#define ND_REACHABLE_REDRAW_US 300000000ull

struct nd_entry {
    struct nd_entry *hnext;
    struct ns_dlink lru;        /* most recently used first */
    int ifindex;
    struct ns_ip6_addr ip;
    uint8_t mac[NS_ETH_ALEN];
    uint8_t state;              /* enum nd_state */
    uint8_t probes;             /* solicitations sent in this state */
    bool router;                /* the IsRouter flag (RFC 4861 §7.2.5) */
    bool unres;                 /* counted in arp_cache.unres */
    uint64_t confirmed_us, used_us, updated_us;
    struct ns_timer timer;
    struct neigh_hold hold;
    struct ns_ip6_addr probe_src; /* source of the packet that started resolution */
};

struct nd_table {
    struct nd_entry **buckets;
    uint32_t nbuckets;
    uint32_t count;
    struct ns_dlist lru;
};

static uint32_t nd_hash(struct ns_stack *st, int ifindex, const struct ns_ip6_addr *ip)
{
    uint64_t h = ns_siphash(st->net->ip6->flow_key, ip->b, 16) ^ (uint64_t)ifindex;
    return (uint32_t)(h * 0x9e3779b97f4a7c15ull >> 32) & (st->net->ip6->nd->nbuckets - 1);
}

int nd_init(struct ns_stack *st)
{
    struct nd_table *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    uint32_t n = 16;
    while (n < st->cfg.arp_cache_max && n < (1u << 24))
        n <<= 1;
    t->buckets = calloc(n, sizeof(*t->buckets));
    if (!t->buckets) {
        free(t);
        return -ENOMEM;
    }
    t->nbuckets = n;
    st->net->ip6->nd = t;
    return 0;
}

static struct nd_entry *nd_find(struct ns_stack *st, int ifindex, const struct ns_ip6_addr *ip)
{
    struct nd_table *t = st->net->ip6->nd;
    for (struct nd_entry *e = t->buckets[nd_hash(st, ifindex, ip)]; e; e = e->hnext)
        if (e->ifindex == ifindex && ns_ip6_eq(&e->ip, ip))
            return e;
    return NULL;
}

uint32_t nd_count(const struct ns_stack *st) { return st->net->ip6->nd->count; }

static void nd_set_unres(struct ns_stack *st, struct nd_entry *e, bool unres)
{
    if (e->unres == unres)
        return;
    e->unres = unres;
    if (unres)
        st->net->arp.unres++;
    else
        st->net->arp.unres--;
}

static void nd_remove(struct ns_stack *st, struct nd_entry *e, bool icmp)
{
    struct nd_table *t = st->net->ip6->nd;
    struct nd_entry **pp = &t->buckets[nd_hash(st, e->ifindex, &e->ip)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    ns_dlist_remove(&t->lru, &e->lru);
    ns_timer_cancel(&st->wheel, &e->timer);
    nd_set_unres(st, e, false);
    struct ns_pbuf_queue held;
    neigh_hold_detach(st, &e->hold, &held);
    t->count--;
    free(e);
    /* After the entry is gone: the errors may go out through nd_output. */
    struct ns_pbuf *pb;
    while ((pb = ns_pbuf_queue_pop(&held))) {
        if (icmp) {
            NS_STAT_INC(st, nd_resolve_fail);
            /* RFC 4861 §7.2.2: address unreachable for each packet. */
            icmp6_send_error(st, pb, NS_ICMP6_DEST_UNREACH, NS_ICMP6_DU_ADDR, 0);
        } else {
            NS_STAT_INC(st, nd_queue_drop);
        }
        ns_pbuf_free(pb);
    }
}

void nd_destroy(struct ns_stack *st)
{
    struct nd_table *t = st->net->ip6 ? st->net->ip6->nd : NULL;
    if (!t)
        return;
    while (t->lru.head)
        nd_remove(st, NS_CONTAINER_OF(t->lru.head, struct nd_entry, lru), false);
    free(t->buckets);
    free(t);
    st->net->ip6->nd = NULL;
}

/* ReachableTime of the interface, drawn again when due (RFC 4861 §6.3.2). */
static uint64_t nd_reachable_us(struct ns_stack *st, int ifindex)
{
    struct ip6_ifstate *is = ip6_ifstate(st, ifindex);
    if (st->now_us - is->reachable_drawn_us >= ND_REACHABLE_REDRAW_US) {
        is->reachable_us = is->base_reachable_us / 2 + ns_rng_below(&st->rng, is->base_reachable_us);
        is->reachable_drawn_us = st->now_us;
    }
    return is->reachable_us;
}

/* ---- sending NS and NA ------------------------------------------------------------ */

void nd_send_ns(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *src,
                const struct ns_ip6_addr *target, bool unicast)
{
    uint8_t msg[NS_NDP_NS_LEN + 8];
    uint8_t opts[8];
    size_t olen = 0;
    /* RFC 4861 §4.3: the source link-layer address, except from ::
     * (RFC 4862 §5.4.2: DAD probes carry none). */
    if (!ns_ip6_is_unspecified(src))
        olen = ns_ndp_opt_lladdr_emit(opts, NS_NDP_OPT_SLLA, ifp->dev->hwaddr);
    struct ns_ip6_addr dst = unicast ? *target : ns_ip6_solicited_node(target);
    struct ns_ndp_repr r = {.type = NS_ICMP6_NS, .target = *target, .opts = opts,
                            .opts_len = olen};
    size_t len = ns_ndp_emit(src, &dst, &r, msg);
    NS_STAT_INC(st, nd_tx_ns);
    icmp6_send(st, ifp, src, &dst, NS_NDP_HOP_LIMIT, msg, len);
}

/* RFC 4861 §7.2.4: answer an NS for target. */
static void nd_send_na(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *target,
                       const struct ns_ip6_addr *dst, bool solicited)
{
    uint8_t msg[NS_NDP_NA_LEN + 8];
    uint8_t opts[8];
    size_t olen = ns_ndp_opt_lladdr_emit(opts, NS_NDP_OPT_TLLA, ifp->dev->hwaddr);
    /* Override: set for a unicast address (not anycast, which we do not
     * have); Router: clear, a host. */
    struct ns_ndp_repr r = {.type = NS_ICMP6_NA, .target = *target, .solicited = solicited,
                            .override = true, .opts = opts, .opts_len = olen};
    size_t len = ns_ndp_emit(target, dst, &r, msg);
    NS_STAT_INC(st, nd_tx_na);
    icmp6_send(st, ifp, target, dst, NS_NDP_HOP_LIMIT, msg, len);
}

/* ---- the state machine --------------------------------------------------------------- */

static void nd_enter(struct ns_stack *st, struct nd_entry *e, enum nd_state s, uint64_t timer_at)
{
    e->state = (uint8_t)s;
    e->updated_us = st->now_us;
    e->probes = 0;
    nd_set_unres(st, e, s == ND_INCOMPLETE);
    ns_timer_arm(&st->wheel, &e->timer, timer_at);
}

/* Solicit e: multicast while INCOMPLETE, unicast in PROBE. */
static void nd_solicit(struct ns_stack *st, struct nd_entry *e)
{
    struct ns_iface *ifp = ns_iface_get(st, e->ifindex);
    if (!ifp)
        return;
    /* RFC 4861 §7.2.2: from the source of the packet that prompted it
     * when that is ours on this interface, else one of the interface's. */
    struct ns_ip6_addr src;
    const struct ns_if_addr6 *a = ip6_addr_find(st, e->ifindex, &e->probe_src);
    if (a && !(a->flags & IP6_ADDR_TENTATIVE))
        src = e->probe_src;
    else if (!ip6_source_for(st, e->ifindex, &e->ip, &src))
        return;
    e->probes++;
    nd_send_ns(st, ifp, &src, &e->ip, e->state == ND_PROBE);
}

static void nd_timer(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    struct ns_stack *st = ctx;
    struct nd_entry *e = NS_CONTAINER_OF(t, struct nd_entry, timer);
    uint64_t retrans = ip6_ifstate(st, e->ifindex)->retrans_us;
    char b[NS_IP6_ADDRSTRLEN];
    switch (e->state) {
    case ND_INCOMPLETE:
    case ND_PROBE: {
        unsigned max = e->state == ND_INCOMPLETE ? ND_MAX_MULTICAST_SOLICIT : ND_MAX_UNICAST_SOLICIT;
        if (e->probes >= max) {
            NS_LOG(st, NS_LOG_INFO, "ndisc: %s did not answer %u solicitations",
                   ns_ip6_ntoa(&e->ip, b), (unsigned)e->probes);
            nd_remove(st, e, true);
            return;
        }
        nd_solicit(st, e);
        ns_timer_arm(&st->wheel, &e->timer, now_us + retrans);
        return;
    }
    case ND_REACHABLE:
        /* Linux neigh_timer_handler: used lately, DELAY; else STALE. */
        if (now_us < e->used_us + ND_DELAY_FIRST_PROBE_US)
            nd_enter(st, e, ND_DELAY, now_us + ND_DELAY_FIRST_PROBE_US);
        else
            nd_enter(st, e, ND_STALE, now_us + st->cfg.arp_gc_us);
        return;
    case ND_DELAY:
        if (now_us <= e->confirmed_us + nd_reachable_us(st, e->ifindex)) {
            /* Confirmed lately (nd_confirm; Linux neigh_timer_handler):
             * reachable again. */
            nd_enter(st, e, ND_REACHABLE, e->confirmed_us + nd_reachable_us(st, e->ifindex));
            return;
        }
        nd_enter(st, e, ND_PROBE, now_us + retrans);
        nd_solicit(st, e);
        return;
    case ND_STALE:
        if (now_us - e->used_us >= st->cfg.arp_gc_us) {
            nd_remove(st, e, false);
            return;
        }
        ns_timer_arm(&st->wheel, &e->timer, e->used_us + st->cfg.arp_gc_us);
        return;
    }
}

static struct nd_entry *nd_create(struct ns_stack *st, int ifindex, const struct ns_ip6_addr *ip)
{
    struct nd_table *t = st->net->ip6->nd;
    if (t->count >= st->cfg.arp_cache_max) {
        NS_STAT_INC(st, nd_evict);
        nd_remove(st, NS_CONTAINER_OF(t->lru.tail, struct nd_entry, lru), false);
    }
    struct nd_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->ifindex = ifindex;
    e->ip = *ip;
    e->used_us = e->updated_us = st->now_us;
    ns_timer_init(&e->timer, nd_timer);
    ns_pbuf_queue_init(&e->hold.q);
    uint32_t h = nd_hash(st, ifindex, ip);
    e->hnext = t->buckets[h];
    t->buckets[h] = e;
    ns_dlist_push_head(&t->lru, &e->lru);
    t->count++;
    return e;
}

static void nd_touch(struct ns_stack *st, struct nd_entry *e)
{
    struct nd_table *t = st->net->ip6->nd;
    e->used_us = st->now_us;
    if (t->lru.head != &e->lru) {
        ns_dlist_remove(&t->lru, &e->lru);
        ns_dlist_push_head(&t->lru, &e->lru);
    }
}

/* Send what e holds now that its MAC is known. */
static void nd_flush(struct ns_stack *st, struct nd_entry *e)
{
    struct ns_iface *ifp = ns_iface_get(st, e->ifindex);
    struct ns_pbuf *pb;
    while ((pb = neigh_hold_pop(st, &e->hold))) {
        pb->flags &= ~NS_PBUF_F_TX_DEFER; /* reported sent when queued */
        if (ifp)
            eth_output(st, ifp, e->mac, NS_ETHERTYPE_IPV6, pb);
        else
            ns_pbuf_free(pb);
    }
}

int nd_output(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *nexthop,
              struct ns_pbuf *pb)
{
    if (ns_ip6_is_multicast(nexthop)) {
        /* RFC 2464 §7: 33:33 and the group's last 32 bits. */
        uint8_t mac[NS_ETH_ALEN];
        ns_ip6_mcast_mac(nexthop, mac);
        return eth_output(st, ifp, mac, NS_ETHERTYPE_IPV6, pb);
    }
    struct nd_entry *e = nd_find(st, ifp->index, nexthop);
    if (!e) {
        if (st->net->arp.unres >= st->cfg.arp_unres_max) {
            NS_STAT_INC(st, nd_unres_drop);
            ns_pbuf_free(pb);
            return -ENOBUFS;
        }
        e = nd_create(st, ifp->index, nexthop);
        if (!e) {
            NS_STAT_INC(st, nd_unres_drop);
            ns_pbuf_free(pb);
            return -ENOBUFS;
        }
        if (pb->len >= NS_IP6_HLEN)
            memcpy(e->probe_src.b, ns_pbuf_data(pb) + 8, 16);
        nd_enter(st, e, ND_INCOMPLETE, st->now_us + ip6_ifstate(st, ifp->index)->retrans_us);
        nd_solicit(st, e);
    }
    nd_touch(st, e);
    switch (e->state) {
    case ND_INCOMPLETE:
        neigh_hold_push(st, &e->hold, pb, NS_CTR_nd_queue_drop);
        return 0;
    case ND_STALE:
        /* RFC 4861 §7.3.3: sending to a STALE neighbour starts DELAY. */
        nd_enter(st, e, ND_DELAY, st->now_us + ND_DELAY_FIRST_PROBE_US);
        break;
    default:
        break;
    }
    return eth_output(st, ifp, e->mac, NS_ETHERTYPE_IPV6, pb);
}

int nd_lookup(struct ns_stack *st, int ifindex, const struct ns_ip6_addr *ip, uint8_t mac[6])
{
    const struct nd_entry *e = nd_find(st, ifindex, ip);
    if (!e)
        return -ENOENT;
    if (mac && e->state != ND_INCOMPLETE)
        memcpy(mac, e->mac, NS_ETH_ALEN);
    return e->state;
}

void nd_confirm(struct ns_stack *st, int ifindex, const struct ns_ip6_addr *ip)
{
    struct nd_entry *e = nd_find(st, ifindex, ip);
    if (!e || e->state == ND_INCOMPLETE)
        return;
    e->confirmed_us = st->now_us;
    /* In DELAY the timer sees the confirmation (Linux neigh_timer_handler);
     * STALE and PROBE become REACHABLE now. */
    if (e->state == ND_STALE || e->state == ND_PROBE || e->state == ND_REACHABLE)
        nd_enter(st, e, ND_REACHABLE, st->now_us + nd_reachable_us(st, ifindex));
}

/* A link-layer address learned without a solicitation (NS's source
 * option, RA, Redirect; RFC 4861 §7.2.3, §6.3.4, §8.3): a new entry is
 * STALE; an existing one becomes STALE when the address changed (or it
 * was INCOMPLETE, whose packets then leave). */
static void nd_update_unsolicited(struct ns_stack *st, struct ns_iface *ifp,
                                  const struct ns_ip6_addr *ip, const uint8_t *mac)
{
    struct nd_entry *e = nd_find(st, ifp->index, ip);
    if (!e) {
        e = nd_create(st, ifp->index, ip);
        if (!e)
            return;
        memcpy(e->mac, mac, NS_ETH_ALEN);
        nd_enter(st, e, ND_STALE, st->now_us + st->cfg.arp_gc_us);
        return;
    }
    if (e->state == ND_INCOMPLETE) {
        memcpy(e->mac, mac, NS_ETH_ALEN);
        nd_enter(st, e, ND_STALE, st->now_us + st->cfg.arp_gc_us);
        nd_flush(st, e);
        return;
    }
    if (memcmp(e->mac, mac, NS_ETH_ALEN) != 0) {
        memcpy(e->mac, mac, NS_ETH_ALEN);
        nd_enter(st, e, ND_STALE, st->now_us + st->cfg.arp_gc_us);
    }
}

void nd_learn(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *ip,
              const uint8_t mac[6], bool is_router)
{
    nd_update_unsolicited(st, ifp, ip, mac);
    struct nd_entry *e = nd_find(st, ifp->index, ip);
    if (e)
        e->router = is_router;
}

/* ---- receiving ------------------------------------------------------------------------ */

/* The ICMPv6 message in pb as an NDP message: false (counted) when RFC
 * 4861's checks fail. */
static bool nd_parse(struct ns_stack *st, const struct ns_ip6_repr *ip, const struct ns_pbuf *pb,
                     struct ns_ndp_repr *r)
{
    if (ns_ndp_parse(ip, ns_pbuf_data(pb), pb->len, r) < 0) {
        NS_STAT_INC(st, nd_drop_invalid);
        return false;
    }
    return true;
}

static void dad_evidence(struct ns_stack *st, struct ns_iface *ifp, struct ns_if_addr6 *a,
                         bool from_ns, bool probe)
{
    NS_STAT_INC(st, nd_dad_conflict);
    if (st->net->ip6->hooks.dad_event)
        st->net->ip6->hooks.dad_event(st, ifp, a, from_ns, probe);
}

static void nd_ns_input(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                        const struct ns_icmp6_repr *m, const struct ns_pbuf *pb)
{
    (void)m;
    NS_STAT_INC(st, nd_rx_ns);
    struct ns_ndp_repr r;
    if (!nd_parse(st, ip, pb, &r))
        return;
    if (r.sll && r.sll_len != NS_ETH_ALEN) {
        NS_STAT_INC(st, nd_drop_invalid); /* §7.1.1: wrong length for the link */
        return;
    }
    struct ns_if_addr6 *a = ip6_addr_find(st, ifp->index, &r.target);
    if (!a) {
        NS_STAT_INC(st, nd_drop_not_ours);
        return;
    }
    bool dad = ns_ip6_is_unspecified(&ip->src);
    if (a->flags & IP6_ADDR_TENTATIVE) {
        /* RFC 4862 §5.4.3: never answered while tentative; a probe from
         * another node means a duplicate. */
        dad_evidence(st, ifp, a, true, dad);
        return;
    }
    if (!dad && r.sll)
        nd_update_unsolicited(st, ifp, &ip->src, r.sll);
    /* RFC 4861 §7.2.4: unicast NA to the solicitor, or to all-nodes for a
     * DAD probe (Solicited clear). */
    nd_send_na(st, ifp, &r.target, dad ? &ns_ip6_all_nodes : &ip->src, !dad);
}

/* RFC 4861 §7.2.5: an accepted NA's link-layer address (if any) and
 * IsRouter flag go into e; Solicited makes it REACHABLE, else it becomes
 * STALE when `stale` (the address changed, or e was INCOMPLETE). */
static void nd_na_apply(struct ns_stack *st, struct nd_entry *e, const struct ns_ndp_repr *r,
                        bool stale)
{
    if (r->tll)
        memcpy(e->mac, r->tll, NS_ETH_ALEN);
    e->router = r->router;
    if (r->solicited) {
        e->confirmed_us = st->now_us;
        nd_enter(st, e, ND_REACHABLE, st->now_us + nd_reachable_us(st, e->ifindex));
    } else if (stale) {
        nd_enter(st, e, ND_STALE, st->now_us + st->cfg.arp_gc_us);
    }
}

static void nd_na_input(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                        const struct ns_icmp6_repr *m, const struct ns_pbuf *pb)
{
    (void)m;
    NS_STAT_INC(st, nd_rx_na);
    struct ns_ndp_repr r;
    if (!nd_parse(st, ip, pb, &r))
        return;
    if (r.tll && r.tll_len != NS_ETH_ALEN) {
        NS_STAT_INC(st, nd_drop_invalid);
        return;
    }
    struct ns_if_addr6 *a = ip6_addr_find(st, ifp->index, &r.target);
    if (a) {
        /* RFC 4862 §5.4.4: someone else has it (our own NA looped back by
         * a hub is not evidence). */
        if (!r.tll || memcmp(r.tll, ifp->dev->hwaddr, NS_ETH_ALEN) != 0)
            dad_evidence(st, ifp, a, false, false);
        return;
    }
    /* RFC 4861 §7.2.5: no entry, nothing to do (no entry is created). */
    struct nd_entry *e = nd_find(st, ifp->index, &r.target);
    if (!e)
        return;
    if (e->state == ND_INCOMPLETE) {
        if (!r.tll)
            return;
        nd_na_apply(st, e, &r, true);
        nd_flush(st, e);
        return;
    }
    bool differs = r.tll && memcmp(r.tll, e->mac, NS_ETH_ALEN) != 0;
    if (!r.override && differs) {
        /* §7.2.5: keep the address; a REACHABLE entry becomes STALE. */
        if (e->state == ND_REACHABLE)
            nd_enter(st, e, ND_STALE, st->now_us + st->cfg.arp_gc_us);
        return;
    }
    nd_na_apply(st, e, &r, differs);
}

void nd_register(struct ns_stack *st)
{
    icmp6_register(st, NS_ICMP6_NS, nd_ns_input);
    icmp6_register(st, NS_ICMP6_NA, nd_na_input);
}
