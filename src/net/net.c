/* net/net.c — the network layer's state: creating and freeing it, and the
 * two registries through which the layers above receive datagrams, the IP
 * protocol table and the raw sockets' tap (net/net.h). */
#include <errno.h>
#include <stdlib.h>

#include "net/net.h"
#include "wire/wire.h"

int net_init(struct ns_stack *st)
{
    struct net_state *n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    st->net = n;
    /* RFC 6864 §4.1: IDs from a per-stack counter with a random start. */
    n->ip_id_next = (uint16_t)ns_rng_next(&st->rng);
    n->icmp_tokens = (uint64_t)st->cfg.icmp_rate_burst * 1000000u;
    n->icmp_tokens_at_us = st->now_us;
    n->egress_gen = 1;
    for (int i = 0; i < NS_IF_MAX; i++)
        ns_timer_init(&n->ifs[i].announce_timer, NULL);
    if (arp_init(st) < 0 || ip4_reass_init(st) < 0)
        return -ENOMEM;
    if (link_proto_register(st, NS_ETHERTYPE_IPV4, ip4_input) < 0 ||
        link_proto_register(st, NS_ETHERTYPE_ARP, arp_input) < 0)
        return -ENOSPC;
    icmp4_init(st);
    return ip6_init(st);
}

void net_destroy(struct ns_stack *st)
{
    struct net_state *n = st->net;
    if (!n)
        return;
    for (int i = 0; i < NS_IF_MAX; i++)
        ns_timer_cancel(&st->wheel, &n->ifs[i].announce_timer);
    ip6_destroy(st);
    ip4_reass_destroy(st);
    arp_destroy(st);
    free(n);
    st->net = NULL;
}

void ip_protocol_register(struct ns_stack *st, uint8_t proto, const struct ip_protocol *p)
{
    st->net->protocols[proto] = p;
}

void ip_raw_tap_set(struct ns_stack *st, const struct ip_raw_tap *tap) { st->net->raw_tap = tap; }

void ip_egress_invalidate(struct ns_stack *st)
{
    struct net_state *n = st->net;
    if (++n->egress_gen == 0)
        n->egress_gen = 1;
}
