/* net/ipv6.c — IPv6: the interfaces' IPv6 state and addresses, multicast
 * groups, source selection, the egress decision, output with
 * fragmentation, input with the extension-header chain, local delivery.
 *
 * Read first: RFC 8200 (the protocol: §4 extension headers, §4.5
 * fragments, §5 packet size), RFC 4291 (addresses), RFC 6724 §5 (source
 * selection), RFC 6437 (flow labels), RFC 6946 (atomic fragments),
 * RFC 5095 (routing type 0), docs/ipv6.md. The wire formats are
 * src/wire/ipv6.h; reassembly is net/reass.c, ICMPv6 net/icmp6.c,
 * neighbour discovery net/ndisc.c, routes net/route6.c.
 *
 * The rule that keeps IPv4 worlds unchanged: an interface has IPv6 only
 * once ip6_enable ran for it (directly, or by adding an IPv6 address).
 * Until then a received IPv6 packet is dropped and counted
 * (ip6_drop_disabled), nothing is joined and nothing is sent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/siphash.h"
#include "net/net.h"
#include "wire/bytes.h"
#include "wire/ipv6.h"
#include "wire/wire.h"

int ip6_init(struct ns_stack *st)
{
    struct ip6_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    st->net->ip6 = s;
    for (int i = 0; i < NS_IF_MAX; i++) {
        struct ip6_ifstate *is = &s->ifs[i];
        /* RFC 4861 §10: RETRANS_TIMER 1 s, REACHABLE_TIME 30 s (Linux
         * retrans_time_ms, base_reachable_time_ms). */
        is->retrans_us = 1000000;
        is->base_reachable_us = 30000000;
        is->reachable_us = is->base_reachable_us;
    }
    if (nd_init(st) < 0 || reass6_init(st) < 0)
        return -ENOMEM;
    if (link_proto_register(st, NS_ETHERTYPE_IPV6, ip6_input) < 0)
        return -ENOSPC;
    icmp6_init(st);
    return 0;
}

void ip6_destroy(struct ns_stack *st)
{
    if (!st->net->ip6)
        return;
    reass6_destroy(st);
    nd_destroy(st);
    free(st->net->ip6);
    st->net->ip6 = NULL;
}

void ip6_hooks_set(struct ns_stack *st, const struct ip6_hooks *h) { st->net->ip6->hooks = *h; }

/* ---- multicast groups ------------------------------------------------------------ */

static int mc_find(const struct ip6_ifstate *is, const struct ns_ip6_addr *g)
{
    for (unsigned i = 0; i < is->n_mc; i++)
        if (ns_ip6_eq(&is->mc[i].group, g))
            return (int)i;
    return -1;
}

bool ip6_mc_joined(struct ns_stack *st, int ifindex, const struct ns_ip6_addr *g)
{
    return ip6_enabled(st, ifindex) && mc_find(ip6_ifstate(st, ifindex), g) >= 0;
}

int ip6_mc_join(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *g)
{
    struct ip6_ifstate *is = ip6_ifstate(st, ifp->index);
    int i = mc_find(is, g);
    if (i >= 0) {
        is->mc[i].users++;
        return 0;
    }
    if (is->n_mc == NS_IF_MCAST6_MAX)
        return -ENOSPC;
    if (ifp->dev->link == NS_LINK_ETHER) {
        uint8_t mac[NS_ETH_ALEN];
        ns_ip6_mcast_mac(g, mac);
        if (link_mc_add(ifp, mac) < 0)
            return -ENOSPC;
    }
    is->mc[is->n_mc].group = *g;
    is->mc[is->n_mc].users = 1;
    is->n_mc++;
    if (st->net->ip6->hooks.mc_joined)
        st->net->ip6->hooks.mc_joined(st, ifp, g);
    return 0;
}

int ip6_mc_leave(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *g)
{
    struct ip6_ifstate *is = ip6_ifstate(st, ifp->index);
    int i = mc_find(is, g);
    if (i < 0)
        return -ENOENT;
    if (--is->mc[i].users > 0)
        return 0;
    is->mc[i] = is->mc[--is->n_mc];
    if (ifp->dev->link == NS_LINK_ETHER) {
        uint8_t mac[NS_ETH_ALEN];
        ns_ip6_mcast_mac(g, mac);
        link_mc_del(ifp, mac);
    }
    if (st->net->ip6->hooks.mc_left)
        st->net->ip6->hooks.mc_left(st, ifp, g);
    return 0;
}

/* ---- addresses --------------------------------------------------------------------- */

struct ns_if_addr6 *ip6_addr_find(struct ns_stack *st, int ifindex, const struct ns_ip6_addr *a)
{
    for (int i = ifindex ? ifindex - 1 : 0; i < (ifindex ? ifindex : NS_IF_MAX); i++) {
        struct ip6_ifstate *is = &st->net->ip6->ifs[i];
        for (unsigned k = 0; k < is->n_addr; k++)
            if (ns_ip6_eq(&is->addr[k].addr, a))
                return &is->addr[k];
    }
    return NULL;
}

bool ip6_is_local(struct ns_stack *st, const struct ns_ip6_addr *a)
{
    const struct ns_if_addr6 *ia = ip6_addr_find(st, 0, a);
    return ia && !(ia->flags & IP6_ADDR_TENTATIVE);
}

int ip6_enable(struct ns_stack *st, struct ns_iface *ifp, bool no_linklocal)
{
    struct ip6_ifstate *is = ip6_ifstate(st, ifp->index);
    if (is->enabled)
        return 0;
    is->enabled = true;
    struct ip6_state *s = st->net->ip6;
    if (!s->keyed) {
        /* Drawn at the first enable, never before: a stack that never
         * speaks IPv6 draws nothing more from its generator. */
        for (int i = 0; i < 16; i += 8) {
            uint64_t r = ns_rng_next(&st->rng);
            memcpy(s->flow_key + i, &r, 8);
        }
        s->keyed = true;
    }
    /* RFC 4861 §6.3.2: ReachableTime drawn from [0.5, 1.5) x base. */
    is->reachable_us = is->base_reachable_us / 2 + ns_rng_below(&st->rng, is->base_reachable_us);
    is->reachable_drawn_us = st->now_us;
    /* RFC 4291 §2.8: every interface joins all-nodes. */
    int rc = ip6_mc_join(st, ifp, &ns_ip6_all_nodes);
    if (rc < 0)
        return rc;
    if (ifp->loopback) {
        rc = ip6_addr_add(st, ifp, &ns_ip6_loopback, 128, 0);
    } else if (ifp->dev->link == NS_LINK_ETHER && !no_linklocal) {
        /* RFC 4862 §5.3: fe80::/64 with the interface identifier, here the
         * modified EUI-64 of the MAC (RFC 4291 Appendix A). */
        struct ns_ip6_addr ll = {{0xfe, 0x80}};
        ns_ip6_iid_eui64(ifp->dev->hwaddr, ll.b + 8);
        rc = ip6_addr_add(st, ifp, &ll, 64, 0);
    }
    if (rc < 0 && rc != -EEXIST)
        return rc;
    ip_egress_invalidate(st);
    if (s->hooks.if_enabled)
        s->hooks.if_enabled(st, ifp);
    return 0;
}

int ip6_addr_add(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *a,
                 unsigned prefix_len, uint8_t flags)
{
    if (prefix_len > 128 || ns_ip6_is_unspecified(a) || ns_ip6_is_multicast(a) ||
        ns_ip6_is_v4mapped(a) || (ns_ip6_is_loopback(a) && !ifp->loopback))
        return -EINVAL;
    struct ip6_ifstate *is = ip6_ifstate(st, ifp->index);
    if (!is->enabled) {
        /* Enabling adds the link-local first (RFC 4862 §5.3), unless this
         * is it. */
        bool is_ll = ns_ip6_is_link_local(a) || ifp->loopback;
        int rc = ip6_enable(st, ifp, is_ll);
        if (rc < 0)
            return rc;
        if (ifp->loopback && ns_ip6_is_loopback(a))
            return 0;
    }
    if (ip6_addr_find(st, ifp->index, a))
        return -EEXIST;
    if (is->n_addr == NS_IF_ADDR6_MAX)
        return -ENOSPC;
    struct ns_if_addr6 *ia = &is->addr[is->n_addr];
    memset(ia, 0, sizeof(*ia));
    ia->addr = *a;
    ia->prefix_len = (uint8_t)prefix_len;
    ia->flags = flags;
    if (prefix_len < 128 && !(flags & IP6_ADDR_NOROUTE)) {
        struct ns_route6 r = {.prefix_len = (uint8_t)prefix_len, .ifindex = ifp->index,
                              .metric = 256, .flags = ROUTE6_F_CONNECTED};
        r.dst.family = AF_INET6;
        r.dst.u.ip6 = ns_ip6_prefix_mask(a, prefix_len);
        int rc = route6_add(st, &r);
        if (rc < 0 && rc != -EEXIST)
            return rc;
    }
    /* RFC 4861 §7.2.1: join the solicited-node group of every address. */
    struct ns_ip6_addr sn = ns_ip6_solicited_node(a);
    if (!ifp->loopback && ip6_mc_join(st, ifp, &sn) < 0)
        NS_LOG(st, NS_LOG_WARN, "ipv6: no room to join a solicited-node group on %s",
               ifp->dev->name);
    is->n_addr++;
    ip_egress_invalidate(st);
    char buf[NS_IP6_ADDRSTRLEN];
    NS_LOG(st, ifp->loopback ? NS_LOG_DEBUG : NS_LOG_INFO, "address %s/%u on %s",
           ns_ip6_ntoa(a, buf), prefix_len, ifp->dev->name);
    if (st->net->ip6->hooks.addr_added)
        st->net->ip6->hooks.addr_added(st, ifp, ia);
    return 0;
}

int ip6_addr_del(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *a)
{
    struct ip6_ifstate *is = ip6_ifstate(st, ifp->index);
    struct ns_if_addr6 *ia = ip6_addr_find(st, ifp->index, a);
    if (!ia)
        return -EADDRNOTAVAIL;
    if (st->net->ip6->hooks.addr_removed)
        st->net->ip6->hooks.addr_removed(st, ifp, ia);
    struct ns_if_addr6 gone = *ia;
    *ia = is->addr[--is->n_addr];
    if (gone.prefix_len < 128 && !(gone.flags & IP6_ADDR_NOROUTE)) {
        /* The connected route goes unless another address shares it. */
        bool shared = false;
        for (unsigned k = 0; k < is->n_addr; k++)
            if (is->addr[k].prefix_len == gone.prefix_len &&
                ns_ip6_prefix_eq(&is->addr[k].addr, &gone.addr, gone.prefix_len))
                shared = true;
        if (!shared) {
            struct ns_addr d = {.family = AF_INET6};
            d.u.ip6 = ns_ip6_prefix_mask(&gone.addr, gone.prefix_len);
            route6_del(st, &d, gone.prefix_len, NULL, ifp->index);
        }
    }
    if (!ifp->loopback) {
        struct ns_ip6_addr sn = ns_ip6_solicited_node(&gone.addr);
        ip6_mc_leave(st, ifp, &sn);
    }
    ip_egress_invalidate(st);
    return 0;
}

bool ip6_source_for(struct ns_stack *st, int ifindex, const struct ns_ip6_addr *dst,
                    struct ns_ip6_addr *out)
{
    if (!ip6_enabled(st, ifindex))
        return false;
    const struct ip6_ifstate *is = ip6_ifstate(st, ifindex);
    const struct ns_if_addr6 *best = NULL;
    unsigned best_score = 0;
    uint8_t dscope = ns_ip6_scope(dst);
    for (unsigned k = 0; k < is->n_addr; k++) {
        const struct ns_if_addr6 *a = &is->addr[k];
        if (a->flags & IP6_ADDR_TENTATIVE)
            continue;
        /* RFC 6724 §5 rule 1: the destination itself. */
        if (ns_ip6_eq(&a->addr, dst)) {
            *out = a->addr;
            return true;
        }
        /* Rule 2: a scope at least the destination's, the smallest such;
         * rule 3: not deprecated; rule 8: the longest matching prefix.
         * Scored in that order of weight. */
        uint8_t sc = ns_ip6_scope(&a->addr);
        unsigned score = 1;
        if (sc >= dscope)
            score += (1u << 16) + ((16u - sc) << 12);
        if (!(a->flags & IP6_ADDR_DEPRECATED))
            score += 1u << 10;
        score += ns_ip6_common_prefix_len(&a->addr, dst);
        if (score > best_score) {
            best_score = score;
            best = a;
        }
    }
    if (!best)
        return false;
    *out = best->addr;
    return true;
}

/* ---- the egress --------------------------------------------------------------------- */

/* The only interface with IPv6 other than the loopback, or 0 when there
 * are none or several. */
static int sole_ip6_if(struct ns_stack *st)
{
    int found = 0;
    for (int i = 1; i <= NS_IF_MAX; i++) {
        if (!ip6_enabled(st, i) || i == link_lo_ifindex(st))
            continue;
        if (found)
            return 0;
        found = i;
    }
    return found;
}

void ip6_egress_decide(struct ns_stack *st, const struct ns_ip6_addr *dst, int oif,
                       struct ip_egress *eg)
{
    struct net_state *n = st->net;
    bool to_self = ns_ip6_is_loopback(dst) || ip6_is_local(st, dst);
    struct ns_iface *lo = ns_iface_get(st, link_lo_ifindex(st));
    if (to_self && lo && !ip6_enabled(st, lo->index))
        ip6_enable(st, lo, true); /* ::1 on the loopback at its first use */
    n->egress_decisions++;
    memset(eg, 0, sizeof(*eg));
    eg->gen = n->egress_gen;
    eg->v6 = true;
    eg->oif = oif;
    eg->dst6 = *dst;
    int ifindex = 0;
    struct ns_ip6_addr nexthop = *dst;
    if (to_self) {
        eg->local = true;
        ifindex = link_lo_ifindex(st);
        eg->src6 = *dst; /* Linux: a local destination is its own source */
    } else if (ns_ip6_is_multicast(dst) || ns_ip6_is_link_local(dst)) {
        /* RFC 4007 §6: a link-local or multicast destination is ambiguous
         * without its zone; Linux needs sin6_scope_id (or a bound
         * interface), here with one IPv6 interface that one is meant. */
        ifindex = oif ? oif : sole_ip6_if(st);
        if (!ifindex || !ip6_enabled(st, ifindex)) {
            eg->err = -ENETUNREACH;
            return;
        }
        ip6_source_for(st, ifindex, dst, &eg->src6);
    } else if (route6_lookup(st, dst, oif, &ifindex, &nexthop) < 0) {
        eg->err = -ENETUNREACH;
        return;
    } else {
        ip6_source_for(st, ifindex, dst, &eg->src6);
    }
    eg->ifp = ns_iface_get(st, ifindex);
    if (!eg->ifp) {
        eg->err = -ENETUNREACH;
        return;
    }
    eg->nexthop6 = nexthop;
}

/* ---- output --------------------------------------------------------------------------- */

uint32_t ip6_flow_label(struct ns_stack *st, const struct ns_ip6_addr *src,
                        const struct ns_ip6_addr *dst, uint8_t proto, uint16_t sport,
                        uint16_t dport)
{
    /* RFC 6437 §3: a hash of the 5-tuple under a secret, so that labels
     * are uniformly spread and not predictable (Linux ip6_make_flowlabel
     * folds the flow hash to 20 bits the same way). */
    uint8_t in[16 + 16 + 5];
    memcpy(in, src->b, 16);
    memcpy(in + 16, dst->b, 16);
    in[32] = proto;
    ns_wr16(in + 33, sport);
    ns_wr16(in + 35, dport);
    uint64_t h = ns_siphash(st->net->ip6->flow_key, in, sizeof(in));
    uint32_t label = (uint32_t)(h ^ (h >> 20) ^ (h >> 40)) & 0xfffffu;
    return label ? label : 1;
}

uint32_t ip6_path_mtu(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *dst)
{
    uint32_t mtu = ifp->dev->mtu;
    const struct ip6_ifstate *is = ip6_ifstate(st, ifp->index);
    if (is->mtu && is->mtu < mtu)
        mtu = is->mtu;
    uint32_t pmtu = pmtu6_get(st, dst);
    if (pmtu && pmtu < mtu)
        mtu = pmtu;
    return mtu < NS_IP6_MIN_MTU ? NS_IP6_MIN_MTU : mtu;
}

/* Hand a finished IPv6 packet to the link (pb at the IPv6 header). */
static int ip6_link_output(struct ns_stack *st, struct ns_iface *ifp,
                           const struct ns_ip6_addr *nexthop, struct ns_pbuf *pb)
{
    NS_STAT_INC(st, ip6_tx);
    if (ifp->dev->link == NS_LINK_ETHER)
        return nd_output(st, ifp, nexthop, pb);
    return if_xmit(st, ifp, pb);
}

/* The fragment ID for a datagram to dst: Linux ipv6_select_ident hashes
 * the addresses into a counter table; here a counter per destination
 * starting at a keyed hash of it (RFC 7739 §5.1: per-destination counters
 * initialised randomly), kept in a direct-mapped table. */
static uint32_t frag6_next_id(struct ns_stack *st, const struct ns_ip6_addr *dst)
{
    struct ip6_state *s = st->net->ip6;
    uint64_t h = ns_siphash(s->flow_key, dst->b, 16);
    struct frag6_id *f = &s->frag_id[h % NS_FRAG6_ID_MAX];
    if (!f->used || !ns_ip6_eq(&f->dst, dst)) {
        f->used = true;
        f->dst = *dst;
        f->next = (uint32_t)(h >> 32);
    }
    uint32_t id = f->next++;
    return id ? id : f->next++;
}

/* RFC 8200 §4.5: cut pb (a whole IPv6 packet: the per-fragment headers
 * are the fixed header and every extension header up to and including
 * a Routing header, else Hop-by-Hop only) into fragments of at most mtu
 * bytes, each with a Fragment header. Consumes pb. */
static int ip6_fragment(struct ns_stack *st, struct ns_iface *ifp,
                        const struct ns_ip6_addr *nexthop, struct ns_pbuf *pb, uint32_t mtu)
{
    const uint8_t *pkt = ns_pbuf_data(pb);
    struct ns_ip6_repr ip;
    struct ns_ip6_ext_info w;
    if (ns_ip6_parse(pkt, pb->len, &ip) < 0 || ns_ip6_ext_walk(pkt, pb->len, &w) < 0) {
        ns_pbuf_free(pb);
        return -EINVAL;
    }
    /* The unfragmentable part: up to the last Hop-by-Hop/Routing header. */
    uint32_t unfrag = NS_IP6_HLEN, nh_off = 6;
    for (unsigned i = 0; i < w.n_ext; i++) {
        if (w.ext[i].type != NS_IP6_NH_HOPOPTS && w.ext[i].type != NS_IP6_NH_ROUTING)
            break;
        nh_off = w.ext[i].off;
        unfrag = w.ext[i].off + w.ext[i].len;
    }
    uint8_t first_nh = pkt[nh_off];
    uint32_t data_len = pb->len - unfrag;
    uint32_t room = (mtu - unfrag - NS_IP6_FRAG_HLEN) & ~7u;
    if (mtu < unfrag + NS_IP6_FRAG_HLEN + 8 || room == 0) {
        ns_pbuf_free(pb);
        return -EMSGSIZE;
    }
    uint32_t id = frag6_next_id(st, &ip.dst);
    int rc = 0;
    for (uint32_t done = 0; done < data_len;) {
        uint32_t chunk = data_len - done < room ? data_len - done : room;
        struct ns_pbuf *fp = ns_stack_alloc(st, NS_PBUF_HEADROOM, unfrag + NS_IP6_FRAG_HLEN + chunk);
        if (!fp) {
            rc = -ENOBUFS;
            break;
        }
        uint8_t *out = ns_pbuf_data(fp);
        memcpy(out, pkt, unfrag);
        out[nh_off] = NS_IP6_NH_FRAGMENT;
        ns_wr16(out + 4, (uint16_t)(unfrag - NS_IP6_HLEN + NS_IP6_FRAG_HLEN + chunk));
        struct ns_ip6_frag_repr fr = {.next_hdr = first_nh, .offset = (uint16_t)done,
                                      .mf = done + chunk < data_len, .id = id};
        ns_ip6_frag_emit(&fr, out + unfrag);
        memcpy(out + unfrag + NS_IP6_FRAG_HLEN, pkt + unfrag + done, chunk);
        NS_STAT_INC(st, ip6_frag_created);
        done += chunk;
        ip6_link_output(st, ifp, nexthop, fp);
    }
    if (rc == 0)
        NS_STAT_INC(st, ip6_frag_ok);
    ns_pbuf_free(pb);
    return rc;
}

/* Send a whole IPv6 packet on ifp to nexthop, fragmenting to mtu when
 * allowed. Consumes pb. */
static int ip6_send_packet(struct ns_stack *st, struct ns_iface *ifp,
                           const struct ns_ip6_addr *nexthop, struct ns_pbuf *pb, uint32_t mtu,
                           bool dontfrag)
{
    if (pb->len <= mtu || pb->gso_size)
        return ip6_link_output(st, ifp, nexthop, pb);
    if (dontfrag) {
        NS_STAT_INC(st, ip6_drop_too_big);
        ns_pbuf_free(pb);
        return -EMSGSIZE;
    }
    if (ns_pbuf_csum_finish(pb) < 0) {
        NS_STAT_INC(st, dev_tx_drop_offload);
        ns_pbuf_free(pb);
        return -EINVAL;
    }
    return ip6_fragment(st, ifp, nexthop, pb, mtu);
}

int ip6_send_packet_via(struct ns_stack *st, const struct ip_egress *eg, struct ns_pbuf *pb)
{
    if (eg->err || !eg->ifp) {
        NS_STAT_INC(st, ip6_drop_no_route);
        ns_pbuf_free(pb);
        return eg->err ? eg->err : -ENETUNREACH;
    }
    return ip6_link_output(st, eg->ifp, &eg->nexthop6, pb);
}

int ip6_output(struct ns_stack *st, const struct ip6_out *o, struct ns_pbuf *pb)
{
    struct ip_egress eg;
    ip6_egress_decide(st, &o->dst, o->oif, &eg);
    return ip6_output_via(st, &eg, o, pb);
}

int ip6_output_via(struct ns_stack *st, const struct ip_egress *eg, const struct ip6_out *o,
                   struct ns_pbuf *pb)
{
    if (eg->err) {
        NS_STAT_INC(st, ip6_drop_no_route);
        ns_pbuf_free(pb);
        return eg->err;
    }
    if (pb->len + o->ext_len > 0xffff) {
        NS_STAT_INC(st, ip6_drop_too_big);
        ns_pbuf_free(pb);
        return -EMSGSIZE;
    }
    /* The flow label hashes the upper layer's ports, before any
     * extension header goes in front of them. */
    const uint8_t *l4 = ns_pbuf_data(pb);
    bool ports = (o->proto == NS_IPPROTO_TCP || o->proto == NS_IPPROTO_UDP) && pb->len >= 4;
    uint16_t sport = ports ? ns_rd16(l4) : 0, dport = ports ? ns_rd16(l4 + 2) : 0;
    if (o->ext_len) {
        uint8_t *e = ns_pbuf_push(pb, (uint32_t)o->ext_len);
        if (!e) {
            NS_STAT_INC(st, dev_tx_err);
            ns_pbuf_free(pb);
            return -ENOBUFS;
        }
        memcpy(e, o->ext, o->ext_len);
    }
    struct ns_ip6_repr ip = {.tclass = o->tclass, .payload_len = (uint16_t)pb->len,
                             .next_hdr = o->ext_len ? o->ext_type : o->proto, .dst = o->dst};
    ip.src = o->unspec_src ? ns_ip6_unspecified
             : ns_ip6_is_unspecified(&o->src) ? eg->src6
                                              : o->src;
    /* NDP's DAD probes are the only packets from :: (RFC 4862 §5.4.2). */
    if (ns_ip6_is_unspecified(&ip.src) && !o->unspec_src) {
        NS_STAT_INC(st, ip6_drop_no_src);
        ns_pbuf_free(pb);
        return -EADDRNOTAVAIL;
    }
    const struct ip6_ifstate *is = ip6_ifstate(st, eg->ifp->index);
    if (o->hop_limit_set)
        ip.hop_limit = o->hop_limit;
    else
        ip.hop_limit = is->hop_limit ? is->hop_limit : st->cfg.ip_default_ttl;
    if (o->flow_label)
        ip.flow = o->flow_label & 0xfffffu;
    else
        ip.flow = ip6_flow_label(st, &ip.src, &ip.dst, o->proto, sport, dport);
    uint8_t *hdr = ns_pbuf_push(pb, NS_IP6_HLEN);
    if (!hdr) {
        NS_STAT_INC(st, dev_tx_err);
        ns_pbuf_free(pb);
        return -ENOBUFS;
    }
    ns_ip6_emit(&ip, hdr);
    uint32_t mtu = ip6_path_mtu(st, eg->ifp, &eg->dst6);
    return ip6_send_packet(st, eg->ifp, &eg->nexthop6, pb, mtu, o->dontfrag);
}

/* ---- input ------------------------------------------------------------------------------ */

/* Answer a Parameter Problem about pb and count the drop. */
static void param_prob(struct ns_stack *st, struct ns_pbuf *pb, uint8_t code, uint32_t ptr)
{
    icmp6_send_error(st, pb, NS_ICMP6_PARAM_PROB, code, ptr);
}

/* Deliver a complete datagram (pb at its IPv6 header, ip its header, w
 * its walked extension headers, none of them a Fragment header now). */
static void ip6_deliver(struct ns_stack *st, struct ns_iface *ifp, struct ns_ip6_repr *ip,
                        const struct ns_ip6_ext_info *w, struct ns_pbuf *pb)
{
    pb->l3_off = (uint16_t)pb->off;
    pb->l4_off = (uint16_t)(pb->off + w->upper_off);
    uint8_t proto = w->upper;
    if (proto == NS_IP6_NH_NONE) {
        /* RFC 8200 §4.7: nothing follows; no error. */
        NS_STAT_INC(st, ip6_delivered);
        ns_pbuf_free(pb);
        return;
    }
    struct ns_ip6_repr up = *ip;
    up.next_hdr = proto;
    up.payload_len = (uint16_t)(pb->len - w->upper_off);
    uint32_t upper_nh_off = w->upper_nh_off;
    ns_pbuf_pull(pb, w->upper_off);
    const struct ip_raw_tap *tap = st->net->raw_tap;
    bool raw = tap && tap->deliver6 && tap->deliver6(st, &up, pb);
    const struct ip_protocol *p = st->net->protocols[proto];
    if (!p || !p->input6) {
        if (raw) {
            NS_STAT_INC(st, ip6_delivered);
            ns_pbuf_free(pb);
            return;
        }
        /* RFC 8200 §4: an unrecognised Next Header: Parameter Problem
         * code 1 pointing at it (Linux ip6_protocol_deliver_rcu). */
        NS_STAT_INC(st, ip6_drop_unknown_proto);
        ns_pbuf_push(pb, w->upper_off);
        param_prob(st, pb, NS_ICMP6_PP_NEXT_HEADER, upper_nh_off);
        ns_pbuf_free(pb);
        return;
    }
    NS_STAT_INC(st, ip6_delivered);
    p->input6(st, ifp, &up, pb);
}

/* Process the options headers and the routing header of the walk (RFC
 * 8200 §4.2-§4.4); false when the packet was dropped (pb not freed). */
static bool ip6_ext_process(struct ns_stack *st, struct ns_pbuf *pb, const struct ns_ip6_repr *ip,
                            const struct ns_ip6_ext_info *w)
{
    const uint8_t *pkt = ns_pbuf_data(pb);
    bool mcast = ns_ip6_is_multicast(&ip->dst);
    for (unsigned i = 0; i < w->n_ext; i++) {
        const struct ns_ip6_ext *e = &w->ext[i];
        if (e->type == NS_IP6_NH_HOPOPTS || e->type == NS_IP6_NH_DSTOPTS) {
            struct ns_ip6_opts_result r = {0};
            int rc = ns_ip6_opts_process(pkt + e->off, e->len, e->off,
                                         e->type == NS_IP6_NH_HOPOPTS, mcast, &r);
            if (rc < 0) {
                NS_STAT_INC(st, ip6_drop_option);
                if (r.send_icmp)
                    param_prob(st, pb, NS_ICMP6_PP_OPTION, r.icmp_ptr);
                return false;
            }
        } else if (e->type == NS_IP6_NH_ROUTING) {
            /* RFC 5095 §3 / RFC 8200 §4.4: with segments left 0 any
             * routing header is ignored; otherwise a host implementing no
             * routing type (type 0 is refused outright) answers Parameter
             * Problem code 0 at the type field. */
            if (w->rt_segleft != 0) {
                NS_STAT_INC(st, ip6_drop_routing);
                param_prob(st, pb, NS_ICMP6_PP_HEADER, w->rt_off + 2);
                return false;
            }
        }
    }
    return true;
}

/* Is ip->dst ours on ifp: a local address (the weak host model, as Linux
 * for IPv6), a group joined on ifp, or ::1 on the loopback? */
static bool ip6_for_us(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip)
{
    if (ns_ip6_is_multicast(&ip->dst))
        return ip6_mc_joined(st, ifp->index, &ip->dst);
    if (ns_ip6_is_loopback(&ip->dst))
        return ifp->loopback;
    const struct ns_if_addr6 *a = ip6_addr_find(st, 0, &ip->dst);
    if (!a)
        return false;
    /* A tentative address takes only DAD's NS and NA (RFC 4862 §5.4.3):
     * those arrive for its solicited-node group, not for it. */
    return !(a->flags & IP6_ADDR_TENTATIVE);
}

void ip6_input(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb)
{
    struct ns_ip6_repr ip;
    if (!ip6_enabled(st, ifp->index)) {
        NS_STAT_INC(st, ip6_drop_disabled);
        goto drop;
    }
    NS_STAT_INC(st, ip6_rx);
    switch (ns_ip6_parse(ns_pbuf_data(pb), pb->len, &ip)) {
    case NS_WIRE_OK:
        break;
    case -NS_WIRE_TRUNCATED:
        NS_STAT_INC(st, ip6_drop_short);
        goto drop;
    case -NS_WIRE_BAD_VERSION:
        NS_STAT_INC(st, ip6_drop_bad_version);
        goto drop;
    default: /* NS_WIRE_BAD_LEN, NS_WIRE_JUMBO */
        NS_STAT_INC(st, ip6_drop_bad_len);
        goto drop;
    }
    ns_pbuf_trim(pb, NS_IP6_HLEN + (uint32_t)ip.payload_len);
    /* A GSO packet (TCPv6 from a TSO6 device) is larger than the MTU by
     * design, and is taken as the segments it stands for. */
    if (pb->gso_size)
        NS_STAT_INC(st, ip6_rx_gso);
    /* RFC 4291 §2.7, §2.5.3, Linux ip6_rcv_core: no multicast source, no
     * scope-0 multicast destination, ::1 only on the loopback, and
     * interface-local multicast only from the loopback. */
    if (ns_ip6_check_addrs(&ip) < 0 ||
        (!ifp->loopback && (ns_ip6_is_loopback(&ip.src) || ns_ip6_is_loopback(&ip.dst) ||
                            (ns_ip6_is_multicast(&ip.dst) && ns_ip6_mcast_scope(&ip.dst) == 1))) ||
        ns_ip6_is_v4mapped(&ip.src) || ns_ip6_is_v4mapped(&ip.dst)) {
        NS_STAT_INC(st, ip6_drop_bad_addr);
        goto drop;
    }
    if (!ip6_for_us(st, ifp, &ip)) {
        /* A host: forwarding is off (RFC 8200 §3 hop limit is a router's). */
        NS_STAT_INC(st, ip6_drop_not_for_us);
        goto drop;
    }
    struct ns_ip6_ext_info w;
    const uint8_t *pkt = ns_pbuf_data(pb);
    int rc = ns_ip6_ext_walk(pkt, pb->len, &w);
    if (rc == -NS_WIRE_EXT_ORDER) {
        /* RFC 8200 §4.3: Hop-by-Hop only right after the fixed header. */
        NS_STAT_INC(st, ip6_drop_bad_hdr);
        param_prob(st, pb, NS_ICMP6_PP_NEXT_HEADER, w.err_ptr);
        goto drop;
    }
    if (rc == -NS_WIRE_FRAG_INCOMPLETE) {
        /* RFC 8200 §4.5, RFC 7112 §5: the header chain must be in the
         * first fragment. */
        NS_STAT_INC(st, ip6_drop_bad_hdr);
        param_prob(st, pb, NS_ICMP6_PP_INCOMPLETE_CHAIN, 0);
        goto drop;
    }
    if (rc < 0) {
        NS_STAT_INC(st, ip6_drop_bad_hdr);
        goto drop;
    }
    /* Hop-by-Hop, Destination Options and Routing headers before any
     * Fragment header are processed now; for a fragment, the ones after
     * it once reassembled (RFC 8200 §4.5: the fragmentable part). */
    if (!ip6_ext_process(st, pb, &ip, &w))
        goto drop;
    if (w.has_frag && !w.fragment)
        NS_STAT_INC(st, ip6_rx_atomic_frag); /* RFC 6946 §4: processed in isolation */
    if (w.fragment) {
        uint32_t ptr = 0;
        rc = ns_ip6_frag_check(&w, pb->len, &ptr);
        if (rc < 0) {
            NS_STAT_INC(st, ip6_reass_drop_bad_frag);
            param_prob(st, pb,
                       rc == -NS_WIRE_FRAG_INCOMPLETE ? NS_ICMP6_PP_INCOMPLETE_CHAIN
                                                     : NS_ICMP6_PP_HEADER,
                       ptr);
            goto drop;
        }
        pb = ip6_reass(st, pb, &ip, &w);
        if (!pb)
            return;
        /* The whole datagram, Fragment header removed: walk it again. */
        pkt = ns_pbuf_data(pb);
        if (ns_ip6_parse(pkt, pb->len, &ip) < 0 || ns_ip6_ext_walk(pkt, pb->len, &w) < 0) {
            if (w.err_ptr)
                param_prob(st, pb, NS_ICMP6_PP_NEXT_HEADER, w.err_ptr);
            NS_STAT_INC(st, ip6_drop_bad_hdr);
            goto drop;
        }
        if (!ip6_ext_process(st, pb, &ip, &w))
            goto drop;
    }
    ip6_deliver(st, ifp, &ip, &w, pb);
    return;
drop:
    ns_pbuf_free(pb);
}
