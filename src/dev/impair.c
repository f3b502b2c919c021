/* dev/impair.c — impairment decisions and the time-sorted frame queue.
 * See dev/impair.h for the order of decisions. All arithmetic is integer
 * and saturating, so extreme parameters (rate 1 bit/s, delays near
 * UINT64_MAX) cannot overflow into early arrivals. */
#include "dev/impair.h"

#include <errno.h>
#include <string.h>

#define US_PER_S 1000000u

void ns_link_params_default(struct ns_link_params *p)
{
    memset(p, 0, sizeof(*p));
    p->mtu = 1500;
}

/* ns_rng_chance without the call for an impairment that is off (the
 * common case): a probability of 0 or less draws nothing there either. */
static inline bool chance(struct ns_rng *rng, double p)
{
    return !(p <= 0.0) && ns_rng_chance(rng, p);
}

static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* Bytes still waiting for (or in) serialization when the serializer is busy
 * for wait_us more microseconds at rate_bps. Saturates. */
static uint64_t backlog_bytes(uint64_t wait_us, uint64_t rate_bps)
{
    if (wait_us && rate_bps > UINT64_MAX / wait_us)
        return UINT64_MAX;
    return wait_us * rate_bps / (8ull * US_PER_S);
}

/* Advance the serializer of `d` by one frame of len bytes starting at
 * max(now, busy_until); returns the departure time (end of the last bit).
 * time = len*8*1e6/rate exactly: the remainder of the division is carried
 * in busy_frac while the link stays busy, so back-to-back frames see the
 * exact long-run rate, not one rounded down per frame. */
static uint64_t serialize(struct ns_impair_dir *d, uint64_t rate_bps, uint32_t len,
                          uint64_t now_us)
{
    if (d->busy_until_us < now_us) {
        d->busy_until_us = now_us; /* idle: start now, no leftover fraction */
        d->busy_frac = 0;
    }
    uint64_t bit_us = (uint64_t)len * 8u * US_PER_S; /* <= 2^32 * 8e6 < 2^55 */
    uint64_t q = bit_us / rate_bps, r = bit_us % rate_bps;
    if (r >= rate_bps - d->busy_frac) { /* frac + r >= rate, without overflow */
        q++;
        d->busy_frac = r - (rate_bps - d->busy_frac);
    } else {
        d->busy_frac += r;
    }
    d->busy_until_us = sat_add(d->busy_until_us, q);
    return d->busy_until_us;
}

uint64_t ns_impair_queue_ready(const struct ns_link_params *p, const struct ns_impair_dir *d,
                               uint32_t len, uint64_t now_us)
{
    if (!p->rate_bps || !p->queue_bytes)
        return now_us; /* an unlimited link never queues (step 2) */
    if (len > p->queue_bytes)
        return NS_TIME_NEVER;
    uint64_t wait_us = d->busy_until_us > now_us ? d->busy_until_us - now_us : 0;
    uint64_t room = p->queue_bytes - len;
    if (backlog_bytes(wait_us, p->rate_bps) <= room)
        return now_us;
    /* backlog_bytes(w) = floor(w * rate / 8e6) <= room exactly when
     * w * rate < (room + 1) * 8e6, i.e. w <= ceil((room + 1) * 8e6 / rate) - 1.
     * room < 2^32, so the product stays below 2^55. */
    uint64_t bits_us = (room + 1) * 8u * US_PER_S;
    uint64_t w_max = bits_us / p->rate_bps + (bits_us % p->rate_bps != 0) - 1;
    return d->busy_until_us - w_max; /* > now_us: the backlog is over room now */
}

int ns_impair_frame(const struct ns_link_params *p, struct ns_rng *rng, struct ns_impair_dir *d,
                    struct ns_impair_stats *st, uint32_t len, uint32_t l2_hlen, uint64_t now_us,
                    struct ns_impair_verdict *v)
{
    memset(v, 0, sizeof(*v));
    st->frames++;

    uint32_t ip_len = len > l2_hlen ? len - l2_hlen : 0;
    if (p->mtu && ip_len > p->mtu) {
        st->mtu_drop++;
        return -EMSGSIZE;
    }

    uint64_t depart_us = now_us;
    if (p->rate_bps) {
        if (p->queue_bytes) {
            uint64_t wait_us = d->busy_until_us > now_us ? d->busy_until_us - now_us : 0;
            uint64_t backlog = backlog_bytes(wait_us, p->rate_bps);
            if (backlog > UINT64_MAX - len || backlog + len > p->queue_bytes) {
                st->queue_drop++;
                return -ENOBUFS;
            }
        }
        depart_us = serialize(d, p->rate_bps, len, now_us);
    }

    if (chance(rng, p->loss)) {
        v->flags |= NS_IMPAIR_LOST;
        st->lost++;
        return 0;
    }

    if (len && chance(rng, p->corrupt)) {
        /* Only bits after the link header: a real NIC's FCS check would
         * discard a frame with a damaged header; the point of corruption is
         * to exercise the IP and transport checksums. */
        uint32_t start = len > l2_hlen ? l2_hlen : 0;
        v->corrupt_bit = start * 8u + (uint32_t)ns_rng_below(rng, (uint64_t)(len - start) * 8u);
        v->flags |= NS_IMPAIR_CORRUPT;
        st->corrupted++;
    }

    uint64_t arrival = sat_add(depart_us, p->delay_us);
    if (p->jitter_us)
        arrival = sat_add(arrival, p->jitter_us == UINT64_MAX
                                       ? ns_rng_next(rng)
                                       : ns_rng_below(rng, p->jitter_us + 1));
    /* A link is FIFO: never arrive before the previous in-order frame. */
    if (arrival < d->last_arrival_us)
        arrival = d->last_arrival_us;

    if (chance(rng, p->reorder)) {
        /* Held back; not the new FIFO floor, so later frames overtake it. */
        arrival = sat_add(arrival, p->reorder_delay_us);
        v->flags |= NS_IMPAIR_REORDERED;
        st->reordered++;
    } else {
        d->last_arrival_us = arrival;
    }

    v->count = 1;
    v->arrival_us[0] = arrival;
    if (chance(rng, p->dup)) {
        v->count = 2;
        v->arrival_us[1] = arrival;
        v->flags |= NS_IMPAIR_DUPLICATED;
        st->duplicated++;
    }
    st->delivered += v->count;
    return 0;
}

/* ---- frame queue ---------------------------------------------------------- */

void ns_frameq_insert(struct ns_frameq *q, struct ns_pbuf *pb)
{
    q->count++;
    if (!q->tail || q->tail->time_us <= pb->time_us) { /* in order: append */
        pb->next = NULL;
        if (q->tail)
            q->tail->next = pb;
        else
            q->head = pb;
        q->tail = pb;
        return;
    }
    /* Out of order: before the first frame due strictly later (FIFO among
     * equals). The tail is due later, so this stops before running off. */
    struct ns_pbuf **link = &q->head;
    while ((*link)->time_us <= pb->time_us)
        link = &(*link)->next;
    pb->next = *link;
    *link = pb;
}

struct ns_pbuf *ns_frameq_pop_due(struct ns_frameq *q, uint64_t now_us)
{
    struct ns_pbuf *pb = q->head;
    if (!pb || pb->time_us > now_us)
        return NULL;
    q->head = pb->next;
    if (!q->head)
        q->tail = NULL;
    pb->next = NULL;
    q->count--;
    return pb;
}

void ns_frameq_purge(struct ns_frameq *q)
{
    ns_pbuf_free_chain(q->head);
    ns_frameq_init(q);
}
