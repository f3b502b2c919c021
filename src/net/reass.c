/* net/reass.c — reassembly of IPv4 and IPv6 fragments: one core, two
 * tables (one per family, each with its own memory cap as on Linux).
 *
 * Read first: RFC 791 §3.2 (IPv4 fragments), RFC 815 (reassembly by
 * holes), RFC 1122 §3.3.2 (timeout, ICMP time exceeded), RFC 8200 §4.5
 * (IPv6 fragments, the 60 s timeout, Time Exceeded code 1 for a first
 * fragment), RFC 5722 (overlapping fragments are an attack: the datagram
 * goes), RFC 6946 (atomic fragments never get here: net/ipv6.c delivers
 * them whole), and the libslirp ip_reass heap overflow (CVE-2019-14378)
 * for what goes wrong when the arithmetic is trusted.
 *
 * Design: each datagram keeps its fragments in a list sorted by offset.
 * Because overlaps are refused, the datagram is complete exactly when the
 * last fragment has been seen and the byte count received equals the
 * total length — the RFC 815 hole list degenerates to one counter.
 * Policy, as Linux since 2018 for both families: an exact duplicate is
 * ignored; any other overlap discards the whole datagram. Bounds: a
 * datagram ends at 65535 bytes (IPv4 total length, IPv6 payload length),
 * holds at most ip_reass_max_frags fragments, lives ip_reass_timeout_us
 * (IPv4, 30 s) or ip6_reass_timeout_us (IPv6, 60 s), and all datagrams
 * of a family together hold at most ip_reass_mem_max bytes (the oldest
 * discarded first). The reassembled buffer is allocated once, at
 * completion, with a size computed from validated 16-bit fields: nothing
 * is copied past it.
 *
 * What differs by family is in struct reass_family: the key (IPv4
 * addresses as their ::ffff: form, its 16-bit ID; IPv6's 32-bit ID),
 * where a fragment's data starts, how the first fragment's headers become
 * the datagram's, the counters and the ICMP error on timeout.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "wire/bytes.h"
#include "wire/ipv6.h"
#include "wire/wire.h"

struct reass_key {
    struct ns_ip6_addr src, dst;
    uint32_t id;
    uint8_t proto;      /* IPv4's protocol; 0 for IPv6 (RFC 8200 §4.5: the
                           key is source, destination and ID) */
};

/* One fragment as the core sees it. */
struct reass_in {
    struct reass_key key;
    uint32_t off, len;  /* data bytes [off, off+len) of the datagram */
    uint32_t hlen;      /* bytes before the data in this fragment */
    uint32_t keep;      /* of those, the headers a first fragment gives the
                           datagram (IPv4: all; IPv6: the unfragmentable part) */
    bool mf;
    uint32_t nh_off;    /* IPv6: the Next Header field naming the Fragment
                           header, and what it gets (RFC 8200 §4.5) */
    uint8_t nh;
};

struct reass_frag {
    struct reass_frag *next;
    uint32_t off, len, hlen;
    struct ns_pbuf *pb; /* the whole fragment, data at its IP header */
};

struct reass_dgram {
    struct reass_dgram *hnext;
    struct reass_dgram *older, *newer; /* age list */
    struct reass_key key;
    bool have_last;
    uint32_t total;     /* data length, known once the last fragment came */
    uint32_t received;  /* data bytes held */
    uint32_t nfrags;
    uint32_t keep, nh_off; /* from the first fragment (offset 0), once it came */
    uint8_t nh;
    uint64_t mem;       /* bytes charged to the memory cap */
    struct reass_frag *frags;
    struct reass_table *tab;
    struct ns_stack *st;
    struct ns_timer timer;
};

/* What differs by family. */
struct reass_family {
    enum ns_counter c_ok, c_dup, c_overlap, c_too_big, c_bad_frag, c_too_many,
        c_timeout, c_mem;
    uint32_t max_len;   /* keep + data may not pass this */
    uint64_t (*timeout_us)(const struct ns_stack *st);
    /* The headers of a joined datagram of total data bytes at out (keep
     * bytes copied from its first fragment): make them a whole packet's. */
    void (*fixup)(uint8_t *out, const struct reass_dgram *d);
    /* The datagram timed out with its first fragment f held. */
    void (*time_exceeded)(struct ns_stack *st, const struct ns_pbuf *first);
    const char *name;
};

#define REASS_BUCKETS 256

struct reass_table {
    const struct reass_family *fam;
    struct reass_dgram *buckets[REASS_BUCKETS];
    struct reass_dgram *oldest, *newest;
    uint32_t count;
    uint64_t mem;
};

#define CTR(st, c) ((st)->counters[c]++)

static uint32_t reass_hash(const struct reass_key *k)
{
    uint64_t h = 0;
    for (int i = 0; i < 16; i += 4)
        h = (h ^ ns_rd32(k->src.b + i)) * 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 16; i += 4)
        h = (h ^ ns_rd32(k->dst.b + i)) * 0x9e3779b97f4a7c15ull;
    h ^= ((uint64_t)k->id << 8 | k->proto) * 0xc2b2ae3d27d4eb4full;
    return (uint32_t)(h >> 40) % REASS_BUCKETS;
}

static bool key_eq(const struct reass_key *a, const struct reass_key *b)
{
    return a->id == b->id && a->proto == b->proto && ns_ip6_eq(&a->src, &b->src) &&
           ns_ip6_eq(&a->dst, &b->dst);
}

static struct reass_table *table_new(const struct reass_family *fam)
{
    struct reass_table *t = calloc(1, sizeof(*t));
    if (t)
        t->fam = fam;
    return t;
}

static void dgram_free(struct ns_stack *st, struct reass_dgram *d)
{
    struct reass_table *rs = d->tab;
    struct reass_dgram **pp = &rs->buckets[reass_hash(&d->key)];
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

static void table_free(struct ns_stack *st, struct reass_table *t)
{
    if (!t)
        return;
    while (t->oldest)
        dgram_free(st, t->oldest);
    free(t);
}

static void reass_timeout(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    struct ns_stack *st = ctx;
    struct reass_dgram *d = NS_CONTAINER_OF(t, struct reass_dgram, timer);
    const struct reass_family *fam = d->tab->fam;
    (void)now_us;
    char b1[NS_IP6_ADDRSTRLEN];
    CTR(st, fam->c_timeout);
    NS_LOG(st, NS_LOG_INFO, "%s: gave up reassembling id %u from %s: %u of %s bytes after %llu s",
           fam->name, d->key.id,
           ns_ip6_is_v4mapped(&d->key.src) ? ns_ip4_ntoa(ns_ip6_v4mapped_to4(&d->key.src), b1)
                                           : ns_ip6_ntoa(&d->key.src, b1),
           d->received, d->have_last ? "known" : "unknown",
           (unsigned long long)(fam->timeout_us(st) / 1000000));
    /* RFC 1122 §3.3.2, RFC 8200 §4.5: time exceeded (code 1) only if
     * fragment zero came, since the error quotes the start of the
     * datagram. */
    if (d->frags && d->frags->off == 0)
        fam->time_exceeded(st, d->frags->pb);
    dgram_free(st, d);
}

/* Join the fragments of a complete datagram into one buffer. */
static struct ns_pbuf *reass_join(struct ns_stack *st, struct reass_dgram *d)
{
    struct reass_frag *first = d->frags;
    uint32_t keep = d->keep;
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, keep + d->total);
    if (!pb)
        return NULL;
    uint8_t *out = ns_pbuf_data(pb);
    memcpy(out, ns_pbuf_data(first->pb), keep);
    for (struct reass_frag *f = d->frags; f; f = f->next)
        memcpy(out + keep + f->off, ns_pbuf_data(f->pb) + f->hlen, f->len);
    d->tab->fam->fixup(out, d);
    pb->ifindex = first->pb->ifindex;
    pb->flags |= first->pb->flags & NS_PBUF_F_L2_BCAST;
    return pb;
}

/* Make room for `need` more bytes under the cap by discarding the oldest
 * datagrams other than `keep`. False if it cannot fit. */
static bool reass_make_room(struct ns_stack *st, struct reass_table *rs, uint64_t need,
                            struct reass_dgram *keep)
{
    while (rs->mem + need > st->cfg.ip_reass_mem_max) {
        struct reass_dgram *victim = rs->oldest;
        if (victim == keep)
            victim = victim->newer;
        if (!victim)
            return false;
        CTR(st, rs->fam->c_mem);
        dgram_free(st, victim);
    }
    return true;
}

/* The core: take fragment pb described by in. Returns the whole datagram
 * when this one completed it, else NULL. Consumes pb. */
static struct ns_pbuf *reass_add(struct ns_stack *st, struct reass_table *rs,
                                 const struct reass_in *in, struct ns_pbuf *pb)
{
    const struct reass_family *fam = rs->fam;
    uint32_t off = in->off, len = in->len, end = off + len;

    /* RFC 791, RFC 8200 §4.5: every fragment but the last carries a
     * multiple of 8 bytes; an empty fragment carries nothing worth keeping. */
    if (len == 0 || (in->mf && (len & 7))) {
        CTR(st, fam->c_bad_frag);
        ns_pbuf_free(pb);
        return NULL;
    }
    /* The whole datagram must fit the 16-bit length (ping of death). */
    if (end + in->keep > fam->max_len) {
        CTR(st, fam->c_too_big);
        ns_pbuf_free(pb);
        return NULL;
    }

    uint32_t h = reass_hash(&in->key);
    struct reass_dgram *d = rs->buckets[h];
    while (d && !key_eq(&d->key, &in->key))
        d = d->hnext;

    uint64_t cost = pb->cap + sizeof(struct reass_frag);
    if (!d) {
        cost += sizeof(*d);
        if (!reass_make_room(st, rs, cost, NULL)) {
            CTR(st, fam->c_mem);
            ns_pbuf_free(pb);
            return NULL;
        }
        d = calloc(1, sizeof(*d));
        if (!d) {
            CTR(st, fam->c_mem);
            ns_pbuf_free(pb);
            return NULL;
        }
        d->key = in->key;
        d->tab = rs;
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
        ns_timer_arm(&st->wheel, &d->timer, st->now_us + fam->timeout_us(st));
        cost -= sizeof(*d);
    } else if (!reass_make_room(st, rs, cost, d)) {
        CTR(st, fam->c_mem);
        dgram_free(st, d);
        ns_pbuf_free(pb);
        return NULL;
    }

    /* Consistency of the datagram's end. */
    if (!in->mf) {
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
    /* Find the insertion point; refuse overlaps (RFC 5722 §4), ignore
     * exact duplicates. */
    struct reass_frag **pp = &d->frags;
    while (*pp && (*pp)->off + (*pp)->len <= off)
        pp = &(*pp)->next;
    if (*pp && (*pp)->off < end) {
        if ((*pp)->off == off && (*pp)->len == len) {
            CTR(st, fam->c_dup);
            ns_pbuf_free(pb);
            return NULL;
        }
        goto overlap;
    }
    if (d->nfrags >= st->cfg.ip_reass_max_frags) {
        CTR(st, fam->c_too_many);
        dgram_free(st, d);
        ns_pbuf_free(pb);
        return NULL;
    }
    struct reass_frag *f = malloc(sizeof(*f));
    if (!f) {
        CTR(st, fam->c_mem);
        ns_pbuf_free(pb);
        return NULL;
    }
    f->off = off;
    f->len = len;
    f->hlen = in->hlen;
    f->pb = pb;
    f->next = *pp;
    *pp = f;
    d->nfrags++;
    d->received += len;
    d->mem += cost;
    rs->mem += cost;
    if (off == 0) {
        d->keep = in->keep;
        d->nh_off = in->nh_off;
        d->nh = in->nh;
    }
    if (!in->mf) {
        d->have_last = true;
        d->total = end;
    }
    if (!d->have_last || d->received != d->total)
        return NULL;

    /* Complete: no overlaps and every byte of [0, total) present. The
     * per-fragment bound above used each fragment's own headers; the
     * datagram gets fragment zero's, which can be longer (IPv4 options):
     * the length is 16 bits, so check again. */
    if (d->keep + d->total > fam->max_len) {
        CTR(st, fam->c_too_big);
        dgram_free(st, d);
        return NULL;
    }
    struct ns_pbuf *whole = reass_join(st, d);
    dgram_free(st, d);
    if (whole)
        CTR(st, fam->c_ok);
    return whole;

overlap:
    CTR(st, fam->c_overlap);
    dgram_free(st, d);
    ns_pbuf_free(pb);
    return NULL;
}

/* ---- IPv4 ----------------------------------------------------------------------------- */

static uint64_t ip4_timeout_us(const struct ns_stack *st) { return st->cfg.ip_reass_timeout_us; }

static void ip4_fixup(uint8_t *out, const struct reass_dgram *d)
{
    struct ns_ip4_repr ip;
    ns_ip4_parse(out, d->keep + d->total, &ip, false);
    ip.total_len = (uint16_t)(d->keep + d->total);
    ip.mf = false;
    ip.frag_off = 0;
    ns_ip4_emit(&ip, out);
}

static void ip4_time_exceeded(struct ns_stack *st, const struct ns_pbuf *first)
{
    icmp4_send_error(st, first, NS_ICMP_TIME_EXCEEDED, NS_ICMP_EXC_FRAGTIME, 0);
}

static const struct reass_family reass_ip4 = {
    .c_ok = NS_CTR_ip_reass_ok,
    .c_dup = NS_CTR_ip_reass_dup,
    .c_overlap = NS_CTR_ip_reass_drop_overlap,
    .c_too_big = NS_CTR_ip_reass_drop_too_big,
    .c_bad_frag = NS_CTR_ip_reass_drop_bad_frag,
    .c_too_many = NS_CTR_ip_reass_drop_too_many,
    .c_timeout = NS_CTR_ip_reass_drop_timeout,
    .c_mem = NS_CTR_ip_reass_drop_mem,
    .max_len = NS_IP4_MAX_LEN,
    .timeout_us = ip4_timeout_us,
    .fixup = ip4_fixup,
    .time_exceeded = ip4_time_exceeded,
    .name = "ipv4",
};

int ip4_reass_init(struct ns_stack *st)
{
    st->net->reass = table_new(&reass_ip4);
    return st->net->reass ? 0 : -ENOMEM;
}

void ip4_reass_destroy(struct ns_stack *st)
{
    table_free(st, st->net->reass);
    st->net->reass = NULL;
}

uint64_t ip4_reass_mem(const struct ns_stack *st) { return st->net->reass->mem; }
uint32_t ip4_reass_count(const struct ns_stack *st) { return st->net->reass->count; }

struct ns_pbuf *ip4_reass(struct ns_stack *st, struct ns_pbuf *pb)
{
    struct ns_ip4_repr ip;
    NS_STAT_INC(st, ip_reass_frags);
    if (ns_ip4_parse(ns_pbuf_data(pb), pb->len, &ip, false) < 0) {
        NS_STAT_INC(st, ip_drop_bad_len);
        ns_pbuf_free(pb);
        return NULL;
    }
    struct reass_in in = {
        .key = {.src = ns_ip6_v4mapped(ip.src), .dst = ns_ip6_v4mapped(ip.dst), .id = ip.id,
                .proto = ip.proto},
        .off = ip.frag_off,
        .len = (uint32_t)ip.total_len - ip.hlen,
        .hlen = ip.hlen,
        .keep = ip.hlen,
        .mf = ip.mf,
    };
    return reass_add(st, st->net->reass, &in, pb);
}

/* ---- IPv6 ----------------------------------------------------------------------------- */

static uint64_t ip6_timeout_us(const struct ns_stack *st) { return st->cfg.ip6_reass_timeout_us; }

static void ip6_fixup(uint8_t *out, const struct reass_dgram *d)
{
    /* RFC 8200 §4.5: the Fragment header goes, its Next Header takes its
     * place in the header before, and the payload length is the whole. */
    ns_wr16(out + 4, (uint16_t)(d->keep - NS_IP6_HLEN + d->total));
    out[d->nh_off] = d->nh;
}

static void ip6_time_exceeded(struct ns_stack *st, const struct ns_pbuf *first)
{
    icmp6_send_error(st, first, NS_ICMP6_TIME_EXCEEDED, NS_ICMP6_TE_REASSEMBLY, 0);
}

static const struct reass_family reass_ip6 = {
    .c_ok = NS_CTR_ip6_reass_ok,
    .c_dup = NS_CTR_ip6_reass_dup,
    .c_overlap = NS_CTR_ip6_reass_drop_overlap,
    .c_too_big = NS_CTR_ip6_reass_drop_too_big,
    .c_bad_frag = NS_CTR_ip6_reass_drop_bad_frag,
    .c_too_many = NS_CTR_ip6_reass_drop_too_many,
    .c_timeout = NS_CTR_ip6_reass_drop_timeout,
    .c_mem = NS_CTR_ip6_reass_drop_mem,
    .max_len = NS_IP6_HLEN + 0xffff,
    .timeout_us = ip6_timeout_us,
    .fixup = ip6_fixup,
    .time_exceeded = ip6_time_exceeded,
    .name = "ipv6",
};

int reass6_init(struct ns_stack *st)
{
    st->net->ip6->reass = table_new(&reass_ip6);
    return st->net->ip6->reass ? 0 : -ENOMEM;
}

void reass6_destroy(struct ns_stack *st)
{
    table_free(st, st->net->ip6->reass);
    st->net->ip6->reass = NULL;
}

uint64_t ip6_reass_mem(const struct ns_stack *st) { return st->net->ip6->reass->mem; }
uint32_t ip6_reass_count(const struct ns_stack *st) { return st->net->ip6->reass->count; }

struct ns_pbuf *ip6_reass(struct ns_stack *st, struct ns_pbuf *pb, const struct ns_ip6_repr *ip,
                          const struct ns_ip6_ext_info *w)
{
    NS_STAT_INC(st, ip6_reass_frags);
    uint32_t data_off = w->frag_off + NS_IP6_FRAG_HLEN;
    struct reass_in in = {
        .key = {.src = ip->src, .dst = ip->dst, .id = w->frag.id},
        .off = w->frag.offset,
        .len = pb->len - data_off,
        .hlen = data_off,
        .keep = w->frag_off,
        .mf = w->frag.mf,
        .nh_off = w->frag_nh_off,
        .nh = w->frag.next_hdr,
    };
    return reass_add(st, st->net->ip6->reass, &in, pb);
}
