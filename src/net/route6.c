/* net/route6.c — the IPv6 routing table: longest prefix match, then the
 * lowest metric.
 *
 * Read first: RFC 4861 §5.2 (a host's next-hop determination: the prefix
 * list, then the default router list), RFC 4191 §3 (routes from RAs). As
 * on Linux, on-link prefixes and default routers are routes here, told
 * apart by their flags (ROUTE6_F_CONNECTED from an address,
 * ROUTE6_F_RA from a Router Advertisement) and their metric. A small
 * array kept sorted, as IPv4's (net/route.c); the prefixes are struct
 * ns_addr (AF_INET6), compared by bytes.
 */
#include <errno.h>
#include <string.h>

#include "net/net.h"

/* Does r come before a route of prefix_len/metric in the table? */
static bool route6_before(const struct ns_route6 *r, unsigned prefix_len, uint32_t metric)
{
    return r->prefix_len > prefix_len || (r->prefix_len == prefix_len && r->metric <= metric);
}

int route6_add(struct ns_stack *st, const struct ns_route6 *in)
{
    struct ip6_state *s = st->net->ip6;
    if (in->dst.family != AF_INET6 || in->prefix_len > 128 || in->ifindex < 1 ||
        in->ifindex > NS_IF_MAX || (in->gw.family != AF_UNSPEC && in->gw.family != AF_INET6))
        return -EINVAL;
    struct ns_route6 r = *in;
    r.dst.u.ip6 = ns_ip6_prefix_mask(&in->dst.u.ip6, in->prefix_len);
    for (unsigned i = 0; i < s->n_routes; i++) {
        const struct ns_route6 *o = &s->routes[i];
        if (o->prefix_len == r.prefix_len && ns_addr_eq(&o->dst, &r.dst) &&
            ns_addr_eq(&o->gw, &r.gw) && o->ifindex == r.ifindex)
            return -EEXIST;
    }
    if (s->n_routes == NS_ROUTE6_MAX)
        return -ENOSPC;
    unsigned pos = 0;
    while (pos < s->n_routes && route6_before(&s->routes[pos], r.prefix_len, r.metric))
        pos++;
    memmove(&s->routes[pos + 1], &s->routes[pos], (s->n_routes - pos) * sizeof(s->routes[0]));
    s->routes[pos] = r;
    s->n_routes++;
    ip_egress_invalidate(st);
    return 0;
}

int route6_del(struct ns_stack *st, const struct ns_addr *dst, unsigned prefix_len,
               const struct ns_addr *gw, int ifindex)
{
    struct ip6_state *s = st->net->ip6;
    if (dst->family != AF_INET6 || prefix_len > 128)
        return -ESRCH;
    struct ns_ip6_addr d = ns_ip6_prefix_mask(&dst->u.ip6, prefix_len);
    for (unsigned i = 0; i < s->n_routes; i++) {
        const struct ns_route6 *r = &s->routes[i];
        if (r->prefix_len != prefix_len || !ns_ip6_eq(&r->dst.u.ip6, &d) ||
            (ifindex && r->ifindex != ifindex) || (gw && !ns_addr_eq(&r->gw, gw)))
            continue;
        memmove(&s->routes[i], &s->routes[i + 1], (s->n_routes - i - 1) * sizeof(s->routes[0]));
        s->n_routes--;
        ip_egress_invalidate(st);
        return 0;
    }
    return -ESRCH;
}

int route6_lookup(struct ns_stack *st, const struct ns_ip6_addr *dst, int oif, int *ifindex,
                  struct ns_ip6_addr *nexthop)
{
    struct ip6_state *s = st->net->ip6;
    st->net->route4_lookups++; /* one count of table searches for both families */
    for (unsigned i = 0; i < s->n_routes; i++) {
        const struct ns_route6 *r = &s->routes[i];
        if ((oif && r->ifindex != oif) || !ip6_enabled(st, r->ifindex) ||
            !ns_ip6_prefix_eq(&r->dst.u.ip6, dst, r->prefix_len))
            continue;
        if (r->expires_us && r->expires_us <= st->now_us)
            continue;
        *ifindex = r->ifindex;
        *nexthop = r->gw.family == AF_INET6 ? r->gw.u.ip6 : *dst;
        return 0;
    }
    return -ENETUNREACH;
}
