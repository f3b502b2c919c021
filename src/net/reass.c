/* net/ip4_reass.c — IPv4 reassembly.
 *
 * Read first: RFC 791 §3.2 (fragments), RFC 815 (reassembly by holes),
 * RFC 1122 §3.3.2 (timeout, ICMP time exceeded), RFC 5722 (why
 * overlapping fragments are an attack, not a network accident), and the
 * libslirp ip_reass heap overflow (CVE-2019-14378) for what goes wrong
 * when the arithmetic is trusted.
 *
 * Design: each datagram keeps its fragments in a list sorted by offset.
 * Because overlaps are refused, the datagram is complete exactly when the
 * last fragment has been seen and the byte count received equals the
 * total length — the RFC 815 hole list degenerates to one counter.
 * Policy, as Linux since 2018: an exact duplicate is ignored; any other
 * overlap discards the whole datagram (RFC 5722 does the same for IPv6).
 * Bounds: a datagram ends at 65535 bytes, holds at most ip_reass_max_frags
 * fragments, lives ip_reass_timeout_us, and all datagrams together hold at
 * most ip_reass_mem_max bytes (the oldest are discarded first). The
 * reassembled buffer is allocated once, at completion, with a size
 * computed from validated 16-bit fields: nothing is copied past it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "wire/wire.h"

struct reass_frag {
    struct reass_frag *next;
    uint32_t off, len;  /* data bytes [off, off+len) of the datagram */
    uint32_t hlen;      /* IPv4 header length of this fragment */
    struct ns_pbuf *pb; /* the whole fragment, data at its IPv4 header */
};

struct reass_dgram {
    struct reass_dgram *hnext;
    struct reass_dgram *older, *newer; /* age list */
    uint32_t src, dst;
    uint16_t id;
    uint8_t proto;
    bool have_last;
    uint32_t total;     /* data length, known once the last fragment came */
    uint32_t received;  /* data bytes held */
    uint32_t nfrags;
    uint64_t mem;       /* bytes charged to the memory cap */
    struct reass_frag *frags;
    struct ns_stack *st;
    struct ns_timer timer;
};

#define REASS_BUCKETS 256

struct ip4_reass_state {
    struct reass_dgram *buckets[REASS_BUCKETS];
    struct reass_dgram *oldest, *newest;
    uint32_t count;
    uint64_t mem;
};

static uint32_t reass_hash(uint32_t src, uint32_t dst, uint16_t id, uint8_t proto)
{
    uint64_t h = ((uint64_t)src << 32 | dst) * 0x9e3779b97f4a7c15ull;
    h ^= ((uint64_t)id << 8 | proto) * 0xc2b2ae3d27d4eb4full;
    return (uint32_t)(h >> 40) % REASS_BUCKETS;
}

int ip4_reass_init(struct ns_stack *st)
{
    st->net->reass = calloc(1, sizeof(*st->net->reass));
    return st->net->reass ? 0 : -ENOMEM;
}

static void dgram_free(struct ns_stack *st, struct reass_dgram *d)
{
    struct ip4_reass_state *rs = st->net->reass;
    struct reass_dgram **pp = &rs->buckets[reass_hash(d->src, d->dst, d->id, d->proto)];
    while (*pp != d)
        pp = &(*pp)->hnext;
    *pp = d->hnext;
    if (d->older)
        d->older->newer = d->newer;
    else
        rs->oldest = d->newer;
    if (d->newer)
        d->newer->older = d->older;
    else
        rs->newest = d->older;
    ns_timer_cancel(&st->wheel, &d->timer);
    for (struct reass_frag *f = d->frags, *next; f; f = next) {
        next = f->next;
        ns_pbuf_free(f->pb);
        free(f);
    }
    rs->count--;
    rs->mem -= d->mem;
    free(d);
}

void ip4_reass_destroy(struct ns_stack *st)
{
    if (!st->net->reass)
        return;
    while (st->net->reass->oldest)
        dgram_free(st, st->net->reass->oldest);
    free(st->net->reass);
    st->net->reass = NULL;
}

uint64_t ip4_reass_mem(const struct ns_stack *st) { return st->net->reass->mem; }
uint32_t ip4_reass_count(const struct ns_stack *st) { return st->net->reass->count; }

static void reass_timeout(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    struct ns_stack *st = ctx;
    struct reass_dgram *d = NS_CONTAINER_OF(t, struct reass_dgram, timer);
    (void)now_us;
    char b1[16];
    NS_STAT_INC(st, ip_reass_drop_timeout);
    NS_LOG(st, NS_LOG_INFO, "ipv4: gave up reassembling id %u from %s: %u of %s bytes after %llu s",
           d->id, ns_ip4_ntoa(d->src, b1), d->received, d->have_last ? "known" : "unknown",
           (unsigned long long)(st->cfg.ip_reass_timeout_us / 1000000));
    /* RFC 1122 §3.3.2: time exceeded (code 1) only if fragment zero came,
     * since the error quotes the start of the datagram. */
    if (d->frags && d->frags->off == 0)
        icmp4_send_error(st, d->frags->pb, NS_ICMP_TIME_EXCEEDED, NS_ICMP_EXC_FRAGTIME, 0);
    dgram_free(st, d);
}

/* Join the fragments of a complete datagram into one buffer. */
static struct ns_pbuf *reass_join(struct ns_stack *st, struct reass_dgram *d)
{
    struct reass_frag *first = d->frags;
    uint32_t hlen = first->hlen;
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, hlen + d->total);
    if (!pb)
        return NULL;
    uint8_t *out = ns_pbuf_data(pb);
    memcpy(out, ns_pbuf_data(first->pb), hlen);
    for (struct reass_frag *f = d->frags; f; f = f->next)
        memcpy(out + hlen + f->off, ns_pbuf_data(f->pb) + f->hlen, f->len);
    struct ns_ip4_repr ip;
    ns_ip4_parse(out, hlen + d->total, &ip, false);
    ip.total_len = (uint16_t)(hlen + d->total);
    ip.mf = false;
    ip.frag_off = 0;
    ns_ip4_emit(&ip, out);
    pb->ifindex = first->pb->ifindex;
    pb->flags |= first->pb->flags & NS_PBUF_F_L2_BCAST;
    return pb;
}

/* Make room for `need` more bytes under the cap by discarding the oldest
 * datagrams other than `keep`. False if it cannot fit. */
static bool reass_make_room(struct ns_stack *st, uint64_t need, struct reass_dgram *keep)
{
    struct ip4_reass_state *rs = st->net->reass;
    while (rs->mem + need > st->cfg.ip_reass_mem_max) {
        struct reass_dgram *victim = rs->oldest;
        if (victim == keep)
            victim = victim->newer;
        if (!victim)
            return false;
        NS_STAT_INC(st, ip_reass_drop_mem);
        dgram_free(st, victim);
    }
    return true;
}

struct ns_pbuf *ip4_reass(struct ns_stack *st, struct ns_pbuf *pb)
{
    struct ip4_reass_state *rs = st->net->reass;
    struct ns_ip4_repr ip;
    NS_STAT_INC(st, ip_reass_frags);
    if (ns_ip4_parse(ns_pbuf_data(pb), pb->len, &ip, false) < 0) {
        NS_STAT_INC(st, ip_drop_bad_len);
        ns_pbuf_free(pb);
        return NULL;
    }
    uint32_t off = ip.frag_off;
    uint32_t len = (uint32_t)ip.total_len - ip.hlen;
    uint32_t end = off + len;

    /* RFC 791: every fragment but the last carries a multiple of 8 bytes;
     * an empty fragment carries nothing worth keeping. */
    if (len == 0 || (ip.mf && (len & 7))) {
        NS_STAT_INC(st, ip_reass_drop_bad_frag);
        ns_pbuf_free(pb);
        return NULL;
    }
    /* The whole datagram must fit the 16-bit total length (ping of death). */
    if (end + ip.hlen > NS_IP4_MAX_LEN) {
        NS_STAT_INC(st, ip_reass_drop_too_big);
        ns_pbuf_free(pb);
        return NULL;
    }

    uint32_t h = reass_hash(ip.src, ip.dst, ip.id, ip.proto);
    struct reass_dgram *d = rs->buckets[h];
    while (d && !(d->src == ip.src && d->dst == ip.dst && d->id == ip.id && d->proto == ip.proto))
        d = d->hnext;

    uint64_t cost = pb->cap + sizeof(struct reass_frag);
    if (!d) {
        cost += sizeof(*d);
        if (!reass_make_room(st, cost, NULL)) {
            NS_STAT_INC(st, ip_reass_drop_mem);
            ns_pbuf_free(pb);
            return NULL;
        }
        d = calloc(1, sizeof(*d));
        if (!d) {
            NS_STAT_INC(st, ip_reass_drop_mem);
            ns_pbuf_free(pb);
            return NULL;
        }
        d->src = ip.src;
        d->dst = ip.dst;
        d->id = ip.id;
        d->proto = ip.proto;
        d->st = st;
        d->mem = sizeof(*d);
        rs->mem += sizeof(*d);
        d->hnext = rs->buckets[h];
        rs->buckets[h] = d;
        d->older = rs->newest;
        if (rs->newest)
            rs->newest->newer = d;
        else
            rs->oldest = d;
        rs->newest = d;
        rs->count++;
        ns_timer_init(&d->timer, reass_timeout);
        ns_timer_arm(&st->wheel, &d->timer, st->now_us + st->cfg.ip_reass_timeout_us);
        cost -= sizeof(*d);
    } else if (!reass_make_room(st, cost, d)) {
        NS_STAT_INC(st, ip_reass_drop_mem);
        dgram_free(st, d);
        ns_pbuf_free(pb);
        return NULL;
    }

    /* Consistency of the datagram's end. */
    if (!ip.mf) {
        /* A second, different last fragment, or one ending before data
         * already held: the sender contradicts itself. */
        const struct reass_frag *tail = d->frags;
        while (tail && tail->next)
            tail = tail->next;
        if ((d->have_last && end != d->total) || (tail && tail->off + tail->len > end))
            goto overlap;
    } else if (d->have_last && end > d->total) {
        goto overlap;
    }
    /* Find the insertion point; refuse overlaps, ignore exact duplicates. */
    struct reass_frag **pp = &d->frags;
    while (*pp && (*pp)->off + (*pp)->len <= off) {
        pp = &(*pp)->next;
    }
    if (*pp && (*pp)->off < end) {
        if ((*pp)->off == off && (*pp)->len == len) {
            NS_STAT_INC(st, ip_reass_dup);
            ns_pbuf_free(pb);
            return NULL;
        }
        goto overlap;
    }
    if (d->nfrags >= st->cfg.ip_reass_max_frags) {
        NS_STAT_INC(st, ip_reass_drop_too_many);
        dgram_free(st, d);
        ns_pbuf_free(pb);
        return NULL;
    }
    struct reass_frag *f = malloc(sizeof(*f));
    if (!f) {
        NS_STAT_INC(st, ip_reass_drop_mem);
        ns_pbuf_free(pb);
        return NULL;
    }
    f->off = off;
    f->len = len;
    f->hlen = ip.hlen;
    f->pb = pb;
    f->next = *pp;
    *pp = f;
    d->nfrags++;
    d->received += len;
    d->mem += cost;
    rs->mem += cost;
    if (!ip.mf) {
        d->have_last = true;
        d->total = end;
    }
    if (!d->have_last || d->received != d->total)
        return NULL;

    /* Complete: no overlaps and every byte of [0, total) present. The
     * per-fragment bound above used each fragment's own header; the
     * datagram gets fragment zero's, which options can make longer (60
     * bytes): RFC 791 §3.1, total length is 16 bits, so check again. */
    if (d->frags->hlen + d->total > NS_IP4_MAX_LEN) {
        NS_STAT_INC(st, ip_reass_drop_too_big);
        dgram_free(st, d);
        return NULL;
    }
    struct ns_pbuf *whole = reass_join(st, d);
    dgram_free(st, d);
    if (whole)
        NS_STAT_INC(st, ip_reass_ok);
    return whole;

overlap:
    NS_STAT_INC(st, ip_reass_drop_overlap);
    dgram_free(st, d);
    ns_pbuf_free(pb);
    return NULL;
}
