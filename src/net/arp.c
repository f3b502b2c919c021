/* net/arp.c — ARP (RFC 826) and the IPv4 neighbour cache.
 *
 * Read first: RFC 826 (the packet and the merge algorithm), RFC 1122
 * §2.3.2.1 (cache timeout, request flooding limits, queueing while
 * unresolved), RFC 5227 §2.3 (announcing an address), Linux arp(7)
 * for the observable behaviour we match.
 *
 * Entry life:
 *   INCOMPLETE  request sent, packets held (the oldest dropped first when
 *               the neighbour's queue would pass arp_queue_bytes, as Linux
 *               unres_qlen_bytes); retried every arp_retry_us up to
 *               arp_retries requests, then the held packets are dropped
 *               (and forwarded ones answered with ICMP host unreachable)
 *               and the entry removed.
 *   REACHABLE   confirmed by a reply within arp_reachable_us.
 *   STALE       older than that: still used, and the first use sends a
 *               unicast request to re-confirm (PROBE); no answer after
 *               arp_retries requests removes the entry.
 * Entries unused for arp_gc_us are removed. When the cache is full the
 * least recently used entry is evicted: entries in use are touched on
 * every packet, so they are the last to go.
 *
 * Bounds against floods of packets to neighbours that never answer (an
 * echo flood from spoofed on-link sources makes one reply per request,
 * each waiting for a MAC that never comes):
 *   - the hold queues of all neighbours together hold at most
 *     arp_queue_total_bytes (buffer bytes, pb->cap: a small share of the
 *     packet-buffer pool); past it the neighbour that has been holding
 *     packets longest drops its oldest, so the packet pool always keeps
 *     room for everything else;
 *   - at most arp_unres_max neighbours are unresolved at once; a packet to
 *     yet another one is dropped without creating an entry or sending a
 *     request (Linux refuses a new neighbour when its table is full of
 *     entries too fresh to collect, "neighbour table overflow"). So a
 *     flood displaces at most that many resolved entries from the cache
 *     and makes at most arp_unres_max requests per arp_retry_us.
 * Echo requests from unresolvable sources do create an entry, as on Linux
 * (the reply is sent as any packet is); these bounds are what keep them
 * cheap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "wire/wire.h"

enum arp_state { ARP_INCOMPLETE, ARP_REACHABLE, ARP_STALE, ARP_PROBE };

struct arp_entry {
    struct arp_entry *hnext;             /* hash chain */
    struct ns_dlink lru;                 /* on arp_cache.lru */
    int ifindex;
    uint32_t ip;                         /* host order */
    uint8_t mac[NS_ETH_ALEN];
    uint8_t state;
    uint8_t requests;                    /* requests sent this round */
    uint64_t confirmed_us;
    uint64_t used_us;
    uint64_t created_us;
    struct ns_timer timer;
    struct neigh_hold hold;              /* IPv4 packets waiting for the MAC */
    bool unres;                          /* counted in arp_cache.unres */
};

static uint32_t arp_hash(const struct arp_cache *c, int ifindex, uint32_t ip)
{
    uint64_t h = ((uint64_t)ip << 8 | (uint32_t)ifindex) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32) & (c->nbuckets - 1);
}

int arp_init(struct ns_stack *st)
{
    struct arp_cache *c = &st->net->arp;
    uint32_t n = 16;
    while (n < st->cfg.arp_cache_max && n < (1u << 24))
        n <<= 1;
    c->buckets = calloc(n, sizeof(*c->buckets));
    if (!c->buckets)
        return -ENOMEM;
    c->nbuckets = n;
    return 0;
}

static struct arp_entry *arp_find(const struct arp_cache *c, int ifindex, uint32_t ip)
{
    for (struct arp_entry *e = c->buckets[arp_hash(c, ifindex, ip)]; e; e = e->hnext)
        if (e->ip == ip && e->ifindex == ifindex)
            return e;
    return NULL;
}

/* The entry a list link belongs to (NULL for the end of a list). */
#define ARP_OF(link, member) ((link) ? NS_CONTAINER_OF(link, struct arp_entry, member) : NULL)

static void arp_touch(struct ns_stack *st, struct arp_entry *e)
{
    e->used_us = st->now_us;
    if (st->net->arp.lru.head != &e->lru) {
        ns_dlist_remove(&st->net->arp.lru, &e->lru);
        ns_dlist_push_head(&st->net->arp.lru, &e->lru);
    }
}

/* ---- held packets ---------------------------------------------------------------- */

/* Take h's oldest held packet off its queue (and off the cache's totals);
 * NULL when it holds none. Shared with neighbour discovery (ndisc.c):
 * one set of hold queues and byte caps for both families. */
struct ns_pbuf *neigh_hold_pop(struct ns_stack *st, struct neigh_hold *h)
{
    struct arp_cache *c = &st->net->arp;
    struct ns_pbuf *pb = ns_pbuf_queue_pop(&h->q);
    if (!pb)
        return NULL;
    h->bytes -= pb->cap;
    c->hold_bytes -= pb->cap;
    c->hold_pkts--;
    if (!h->q.head)
        ns_dlist_remove(&c->holding, &h->link);
    return pb;
}

/* Hold pb until its neighbour resolves. RFC 1122 §2.3.2.2: SHOULD
 * save at least one packet; a neighbour's queue is bounded by
 * arp_queue_bytes of buffer, the oldest dropped first (Linux
 * unres_qlen_bytes, __neigh_event_send), and all queues together (IPv4's
 * and IPv6's) by arp_queue_total_bytes: past it the longest-waiting
 * neighbour's oldest packet goes. Buffer bytes are pb->cap, what the
 * packet keeps from the pool or the heap (Linux counts skb truesize).
 * `drop` counts what this neighbour's own bound drops. Consumes pb. */
void neigh_hold_push(struct ns_stack *st, struct neigh_hold *h, struct ns_pbuf *pb,
                     enum ns_counter drop)
{
    struct arp_cache *c = &st->net->arp;
    uint32_t size = pb->cap;
    if (size > st->cfg.arp_queue_bytes || size > st->cfg.arp_queue_total_bytes) {
        st->counters[drop]++; /* could never be held */
        ns_pbuf_free(pb);
        return;
    }
    while (h->bytes + size > st->cfg.arp_queue_bytes) {
        st->counters[drop]++;
        ns_pbuf_free(neigh_hold_pop(st, h));
    }
    while (c->hold_bytes + size > st->cfg.arp_queue_total_bytes) {
        NS_STAT_INC(st, arp_queue_total_drop);
        /* hold_bytes > 0: someone holds */
        ns_pbuf_free(neigh_hold_pop(st, NS_CONTAINER_OF(c->holding.head, struct neigh_hold, link)));
    }
    if (!h->q.head)
        ns_dlist_push_tail(&c->holding, &h->link);
    ns_pbuf_queue_push(&h->q, pb);
    h->bytes += size;
    c->hold_bytes += size;
    c->hold_pkts++;
}

void neigh_hold_detach(struct ns_stack *st, struct neigh_hold *h, struct ns_pbuf_queue *out)
{
    struct arp_cache *c = &st->net->arp;
    *out = h->q;
    if (h->q.head) {
        ns_dlist_remove(&c->holding, &h->link);
        c->hold_bytes -= h->bytes;
        c->hold_pkts -= h->q.count;
    }
    ns_pbuf_queue_init(&h->q);
    h->bytes = 0;
}

/* Drop held packets. `icmp` sends host unreachable for packets this
 * stack was forwarding (RFC 1812 §4.3.3.1). */
static void arp_drop_held(struct ns_stack *st, struct ns_pbuf_queue *hold, bool icmp)
{
    struct ns_pbuf *pb;
    while ((pb = ns_pbuf_queue_pop(hold))) {
        if (icmp) {
            NS_STAT_INC(st, arp_resolve_fail);
            icmp4_send_error(st, pb, NS_ICMP_DEST_UNREACH, NS_ICMP_HOST_UNREACH, 0);
        } else {
            NS_STAT_INC(st, arp_queue_drop);
        }
        ns_pbuf_free(pb);
    }
}

static void arp_remove(struct ns_stack *st, struct arp_entry *e, bool icmp)
{
    struct arp_cache *c = &st->net->arp;
    struct arp_entry **pp = &c->buckets[arp_hash(c, e->ifindex, e->ip)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    ns_dlist_remove(&c->lru, &e->lru);
    ns_timer_cancel(&st->wheel, &e->timer);
    /* Finish removing the entry before dropping its packets: the host
     * unreachable errors go back out through arp_output, which may create
     * (and, with the cache full, evict for) an entry of its own. */
    struct ns_pbuf_queue hold;
    neigh_hold_detach(st, &e->hold, &hold);
    if (e->unres)
        c->unres--;
    c->count--;
    free(e);
    arp_drop_held(st, &hold, icmp);
}

void arp_destroy(struct ns_stack *st)
{
    struct arp_cache *c = &st->net->arp;
    while (c->lru.head)
        arp_remove(st, ARP_OF(c->lru.head, lru), false);
    free(c->buckets);
    c->buckets = NULL;
}

/* Send an ARP request for `target` on ifp: broadcast, or unicast to
 * `dst_mac` when re-confirming a known entry (RFC 1122 §2.3.2.1). */
static void arp_send(struct ns_stack *st, struct ns_iface *ifp, uint16_t op, uint32_t spa,
                     const uint8_t *tha, uint32_t tpa, const uint8_t *dst_mac)
{
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, NS_ARP_LEN);
    if (!pb)
        return;
    struct ns_arp_repr r = {.op = op, .spa = spa, .tpa = tpa};
    memcpy(r.sha, ifp->dev->hwaddr, NS_ETH_ALEN);
    if (tha)
        memcpy(r.tha, tha, NS_ETH_ALEN);
    ns_arp_emit(&r, ns_pbuf_data(pb));
    if (op == NS_ARP_OP_REPLY)
        NS_STAT_INC(st, arp_tx_reply);
    else if (spa == tpa)
        NS_STAT_INC(st, arp_tx_announce);
    else
        NS_STAT_INC(st, arp_tx_request);
    eth_output(st, ifp, dst_mac ? dst_mac : ns_eth_broadcast, NS_ETHERTYPE_ARP, pb);
}

static void arp_request(struct ns_stack *st, struct arp_entry *e, const uint8_t *unicast)
{
    struct ns_iface *ifp = ns_iface_get(st, e->ifindex);
    if (!ifp)
        return;
    e->requests++;
    arp_send(st, ifp, NS_ARP_OP_REQUEST, ip4_source_for(st, e->ifindex, e->ip), NULL, e->ip,
             unicast);
}

static void arp_timer(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    struct ns_stack *st = ctx;
    struct arp_entry *e = NS_CONTAINER_OF(t, struct arp_entry, timer);
    char buf[16];

    switch (e->state) {
    case ARP_INCOMPLETE:
    case ARP_PROBE:
        if (e->requests < st->cfg.arp_retries) {
            arp_request(st, e, e->state == ARP_PROBE ? e->mac : NULL);
            ns_timer_arm(&st->wheel, &e->timer, now_us + st->cfg.arp_retry_us);
            return;
        }
        NS_LOG(st, NS_LOG_INFO, "arp: %s did not answer %u requests", ns_ip4_ntoa(e->ip, buf),
               (unsigned)e->requests);
        arp_remove(st, e, true);
        return;
    case ARP_REACHABLE:
    case ARP_STALE:
        /* Garbage collection: unused for arp_gc_us. */
        if (now_us - e->used_us >= st->cfg.arp_gc_us) {
            arp_remove(st, e, false);
            return;
        }
        ns_timer_arm(&st->wheel, &e->timer, e->used_us + st->cfg.arp_gc_us);
        return;
    }
}

static struct arp_entry *arp_create(struct ns_stack *st, int ifindex, uint32_t ip)
{
    struct arp_cache *c = &st->net->arp;
    if (c->count >= st->cfg.arp_cache_max) {
        /* Evict the least recently used entry. */
        NS_STAT_INC(st, arp_evict);
        arp_remove(st, ARP_OF(c->lru.tail, lru), false);
    }
    struct arp_entry *e = calloc(1, sizeof(*e));
    if (!e) {
        NS_STAT_INC(st, arp_cache_full);
        return NULL;
    }
    e->ifindex = ifindex;
    e->ip = ip;
    e->used_us = e->created_us = st->now_us;
    ns_timer_init(&e->timer, arp_timer);
    ns_pbuf_queue_init(&e->hold.q);
    uint32_t h = arp_hash(c, ifindex, ip);
    e->hnext = c->buckets[h];
    c->buckets[h] = e;
    ns_dlist_push_head(&c->lru, &e->lru);
    c->count++;
    return e;
}

/* The entry now has a confirmed MAC: RFC 826 merge. Sends held packets. */
static void arp_confirm(struct ns_stack *st, struct arp_entry *e, const uint8_t mac[6])
{
    if (e->state == ARP_INCOMPLETE && e->requests > 0) {
        char ipb[16], macb[18];
        uint64_t us = st->now_us - e->created_us;
        NS_LOG(st, NS_LOG_INFO, "arp: %s is at %s (resolved in %llu.%03llu ms, %u request%s)",
               ns_ip4_ntoa(e->ip, ipb), ns_mac_ntoa(mac, macb), (unsigned long long)(us / 1000),
               (unsigned long long)(us % 1000), (unsigned)e->requests, e->requests > 1 ? "s" : "");
    }
    memcpy(e->mac, mac, NS_ETH_ALEN);
    e->state = ARP_REACHABLE;
    e->requests = 0;
    e->confirmed_us = st->now_us;
    if (e->unres) {
        e->unres = false;
        st->net->arp.unres--;
    }
    ns_timer_arm(&st->wheel, &e->timer, e->used_us + st->cfg.arp_gc_us);
    struct ns_iface *ifp = ns_iface_get(st, e->ifindex);
    struct ns_pbuf *pb;
    while ((pb = neigh_hold_pop(st, &e->hold))) {
        /* Its sender was told it was sent when it was queued here: if a
         * full device refuses it now, it is lost (and counted so). */
        pb->flags &= ~NS_PBUF_F_TX_DEFER;
        if (ifp)
            eth_output(st, ifp, e->mac, NS_ETHERTYPE_IPV4, pb);
        else
            ns_pbuf_free(pb);
    }
}

void arp_input(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb)
{
    struct ns_arp_repr r;
    char b1[16], b2[18];
    NS_STAT_INC(st, arp_rx);
    int rc = ns_arp_parse(ns_pbuf_data(pb), pb->len, &r);
    ns_pbuf_free(pb);
    if (rc == -NS_WIRE_TRUNCATED) {
        NS_STAT_INC(st, arp_drop_short);
        return;
    }
    if (rc == -NS_WIRE_UNSUPPORTED) {
        NS_STAT_INC(st, arp_drop_unsupported);
        return;
    }
    if (rc < 0) {
        NS_STAT_INC(st, arp_drop_bad_op);
        return;
    }
    /* A sender hardware address must be a unicast MAC, and a sender
     * protocol address must not be broadcast/multicast (cache poisoning). */
    if (ns_eth_is_multicast(r.sha) || ip4_is_multicast(r.spa) || ip4_is_limited_bcast(r.spa)) {
        NS_STAT_INC(st, arp_drop_bad_sender);
        return;
    }
    if (memcmp(r.sha, ifp->dev->hwaddr, NS_ETH_ALEN) == 0)
        return; /* our own frame looped back by a hub */
    if (r.spa != 0 && ip4_if_has_addr(st, ifp->index, r.spa)) {
        /* RFC 5227 §2.4: someone else claims our address. */
        NS_STAT_INC(st, arp_conflict);
        NS_LOG(st, NS_LOG_WARN, "arp: %s claims our address %s", ns_mac_ntoa(r.sha, b2),
               ns_ip4_ntoa(r.spa, b1));
        return;
    }

    /* RFC 826 "merge": update an existing entry for the sender. */
    bool merged = false;
    struct arp_entry *e = NULL;
    if (r.spa != 0) { /* spa 0 is an RFC 5227 probe: never learned */
        e = arp_find(&st->net->arp, ifp->index, r.spa);
        if (e) {
            arp_confirm(st, e, r.sha);
            merged = true;
        }
    }
    if (!ip4_if_has_addr(st, ifp->index, r.tpa))
        return;
    /* RFC 826: we are the target; add the sender if not merged. */
    if (!merged && r.spa != 0) {
        e = arp_create(st, ifp->index, r.spa);
        if (e)
            arp_confirm(st, e, r.sha);
    }
    if (r.op == NS_ARP_OP_REQUEST)
        arp_send(st, ifp, NS_ARP_OP_REPLY, r.tpa, r.sha, r.spa, r.sha);
}

/* RFC 1112 §6.4: IPv4 multicast maps to 01:00:5e + the low 23 bits. */
static void ip4_mcast_mac(uint32_t ip, uint8_t mac[6])
{
    mac[0] = 0x01;
    mac[1] = 0x00;
    mac[2] = 0x5e;
    mac[3] = (uint8_t)((ip >> 16) & 0x7f);
    mac[4] = (uint8_t)(ip >> 8);
    mac[5] = (uint8_t)ip;
}

int arp_output(struct ns_stack *st, struct ns_iface *ifp, uint32_t nexthop, struct ns_pbuf *pb)
{
    if (ip4_is_broadcast(st, nexthop))
        return eth_output(st, ifp, ns_eth_broadcast, NS_ETHERTYPE_IPV4, pb);
    if (ip4_is_multicast(nexthop)) {
        uint8_t mac[6];
        ip4_mcast_mac(nexthop, mac);
        return eth_output(st, ifp, mac, NS_ETHERTYPE_IPV4, pb);
    }

    struct arp_entry *e = arp_find(&st->net->arp, ifp->index, nexthop);
    if (!e) {
        /* Linux neigh_create fails once the table holds nothing it may
         * collect: too many neighbours are being resolved already. */
        if (st->net->arp.unres >= st->cfg.arp_unres_max) {
            NS_STAT_INC(st, arp_unres_drop);
            ns_pbuf_free(pb);
            return -ENOBUFS;
        }
        e = arp_create(st, ifp->index, nexthop);
        if (!e) {
            ns_pbuf_free(pb);
            return -ENOBUFS;
        }
        e->state = ARP_INCOMPLETE;
        e->unres = true;
        st->net->arp.unres++;
        arp_request(st, e, NULL);
        ns_timer_arm(&st->wheel, &e->timer, st->now_us + st->cfg.arp_retry_us);
    }
    arp_touch(st, e);

    if (e->state == ARP_INCOMPLETE) {
        neigh_hold_push(st, &e->hold, pb, NS_CTR_arp_queue_drop);
        return 0;
    }
    if (e->state == ARP_REACHABLE && st->now_us - e->confirmed_us >= st->cfg.arp_reachable_us)
        e->state = ARP_STALE;
    if (e->state == ARP_STALE) {
        /* Re-confirm with a unicast request, still sending meanwhile. */
        e->state = ARP_PROBE;
        e->requests = 0;
        arp_request(st, e, e->mac);
        ns_timer_arm(&st->wheel, &e->timer, st->now_us + st->cfg.arp_retry_us);
    }
    return eth_output(st, ifp, e->mac, NS_ETHERTYPE_IPV4, pb);
}

/* Send the announcements due by now_us on ifp, each address on its own
 * schedule, and re-arm for the next one due. */
static void announce_timer(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    struct ns_stack *st = ctx;
    struct ip4_ifstate *is = NS_CONTAINER_OF(t, struct ip4_ifstate, announce_timer);
    struct ns_iface *ifp = ns_iface_get(st, (int)(is - st->net->ifs) + 1);
    uint64_t next = UINT64_MAX;
    for (unsigned k = 0; ifp && k < is->n_addr4; k++) {
        struct ns_if_addr4 *a = &is->addr4[k];
        if (a->announce_left == 0)
            continue;
        if (a->announce_at_us <= now_us) {
            a->announce_left--;
            arp_send(st, ifp, NS_ARP_OP_REQUEST, a->addr, NULL, a->addr, NULL);
            a->announce_at_us = now_us + st->cfg.arp_announce_interval_us;
        }
        if (a->announce_left && a->announce_at_us < next)
            next = a->announce_at_us;
    }
    if (next != UINT64_MAX)
        ns_timer_arm(&st->wheel, t, next);
}

void arp_announce(struct ns_stack *st, struct ns_iface *ifp, uint32_t addr)
{
    /* RFC 5227 §2.3: ANNOUNCE_NUM ARP requests with sender and target
     * protocol address both ours, ANNOUNCE_INTERVAL apart — for every
     * address, so one added while another is still announcing must not
     * cut the other's announcements short. */
    struct ip4_ifstate *is = ip4_ifstate(st, ifp->index);
    for (unsigned k = 0; k < is->n_addr4; k++) {
        if (is->addr4[k].addr != addr)
            continue;
        is->addr4[k].announce_left = st->cfg.arp_announce_num;
        is->addr4[k].announce_at_us = st->now_us;
    }
    is->announce_timer.fn = announce_timer;
    announce_timer(st, &is->announce_timer, st->now_us);
}

void arp_usage(const struct ns_stack *st, struct ns_stack_usage *out)
{
    const struct arp_cache *c = &st->net->arp;
    out->arp_entries = c->count;
    out->arp_unres = c->unres;
    out->arp_hold_pkts = c->hold_pkts;
    out->arp_hold_bytes = c->hold_bytes;
    out->arp_hold_limit = st->cfg.arp_queue_total_bytes;
}

int arp_lookup(const struct ns_stack *st, int ifindex, uint32_t ip, uint8_t mac[6])
{
    const struct arp_entry *e = arp_find(&st->net->arp, ifindex, ip);
    if (!e || e->state == ARP_INCOMPLETE)
        return -ENOENT;
    memcpy(mac, e->mac, NS_ETH_ALEN);
    return 0;
}

int arp_set(struct ns_stack *st, int ifindex, uint32_t ip, const uint8_t mac[6])
{
    struct arp_entry *e = arp_find(&st->net->arp, ifindex, ip);
    if (!e)
        e = arp_create(st, ifindex, ip);
    if (!e)
        return -ENOMEM;
    arp_confirm(st, e, mac);
    return 0;
}
