/* net/route.c — the IPv4 routing table: longest prefix match.
 *
 * Read first: RFC 1812 §5.2.4 (route lookup, longest match), RFC 1122
 * §3.3.1 (a host's routing decision). The table is a small array kept
 * sorted by prefix length, longest first, so the first match wins. A
 * host has a handful of routes; a router-scale table (a trie) can replace
 * this behind the same three functions. */
#include <errno.h>
#include <string.h>

#include "net/net.h"

int route4_lookup(struct ns_stack *st, uint32_t dst, int *ifindex, uint32_t *nexthop)
{
    const struct ns_route_table4 *t = &st->net->routes4;
    st->net->route4_lookups++;
    for (unsigned i = 0; i < t->n; i++) {
        const struct ns_route4 *r = &t->r[i];
        if ((dst & r->mask) == r->dst) {
            *ifindex = r->ifindex;
            /* The limited broadcast is never sent to a gateway: it leaves
             * on the route's link as a link-layer broadcast (RFC 919 §7,
             * RFC 1122 §3.3.6; Linux __mkroute_output drops the nexthop
             * of an RTN_BROADCAST route). */
            *nexthop = r->gw && !ip4_is_limited_bcast(dst) ? r->gw : dst;
            return 0;
        }
    }
    return -ENETUNREACH;
}

int route4_add(struct ns_stack *st, uint32_t dst, unsigned prefix_len, uint32_t gw, int ifindex,
               bool connected)
{
    struct ns_route_table4 *t = &st->net->routes4;
    uint32_t mask = ip4_prefix_mask(prefix_len);
    unsigned pos = 0;
    for (unsigned i = 0; i < t->n; i++)
        if (t->r[i].dst == (dst & mask) && t->r[i].prefix_len == prefix_len)
            return -EEXIST;
    if (t->n == NS_ROUTE_MAX)
        return -ENOSPC;
    /* Insert after every route with a longer or equal prefix (stable). */
    while (pos < t->n && t->r[pos].prefix_len >= prefix_len)
        pos++;
    memmove(&t->r[pos + 1], &t->r[pos], (t->n - pos) * sizeof(t->r[0]));
    t->r[pos] = (struct ns_route4){
        .dst = dst & mask,
        .mask = mask,
        .prefix_len = (uint8_t)prefix_len,
        .gw = gw,
        .ifindex = ifindex,
        .connected = connected,
    };
    t->n++;
    ip_egress_invalidate(st);
    return 0;
}

int route4_del(struct ns_stack *st, uint32_t dst, unsigned prefix_len)
{
    struct ns_route_table4 *t = &st->net->routes4;
    for (unsigned i = 0; i < t->n; i++) {
        if (t->r[i].dst == dst && t->r[i].prefix_len == prefix_len) {
            memmove(&t->r[i], &t->r[i + 1], (t->n - i - 1) * sizeof(t->r[0]));
            t->n--;
            ip_egress_invalidate(st);
            return 0;
        }
    }
    return -ESRCH;
}
