/* dev/fault.c — fault-injection wrapper: any device, with seeded
 * impairments on what it sends (tx) and receives (rx). See
 * include/netsock/dev.h and dev/impair.h (the rules themselves).
 *
 * tx: a frame from the stack gets its verdict at xmit time and waits in
 *     txq until due; then it goes to the inner device's xmit. Due frames are
 *     released by tick, and also by xmit and recv, so a driver that never
 *     calls tick still sees them leave on time.
 * rx: every frame the inner device has due is pulled at recv time, given
 *     its verdict and parked in rxq; recv returns frames from rxq once due.
 * A direction with NULL params is a straight call to the inner device.
 *
 * Offloads (docs/links.md "Offloads"): impairments apply per wire frame,
 * so a GSO packet must not reach them whole. On tx the wrapper hides TSO
 * from the stack (which then sends MSS-sized segments) and cuts any GSO
 * packet it is handed anyway; on rx it cuts GSO packets from the inner
 * device into their wire segments (ns_gso_segment) before impairing each.
 * A partial checksum may stay partial, except on a frame the wrapper
 * corrupts: that one gets its checksum finished first, as a wire corrupts
 * a frame whose checksum the sender computed, and loses
 * NS_PBUF_F_CSUM_OK, so the stack verifies it and drops it.
 *
 * Queued pbufs belong to the stack's pool; close frees them, so the stack
 * must close its devices before freeing its pool (it does).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/impair.h"
#include "netsock/dev.h"

struct fault_dir {
    bool on; /* false: pass-through */
    struct ns_link_params params;
    struct ns_rng rng;
    struct ns_impair_dir state;
    struct ns_impair_stats stats;
    struct ns_frameq q;
};

struct fault_dev {
    struct ns_dev dev; /* first */
    struct ns_dev *inner;
    uint32_t l2_hlen;
    struct fault_dir tx, rx;
};

static const struct ns_dev_ops fault_ops;

static struct fault_dev *to_fault(const struct ns_dev *dev)
{
    return dev && dev->ops == &fault_ops ? (struct fault_dev *)(uintptr_t)dev : NULL;
}

/* Run pb through one direction's impairments and queue the copies.
 * Consumes pb. Returns 0 or the engine's drop error. */
static int fault_impair(struct fault_dev *f, struct fault_dir *d, struct ns_pbuf *pb,
                        uint64_t now_us)
{
    struct ns_impair_verdict v;
    int rc = ns_impair_frame(&d->params, &d->rng, &d->state, &d->stats, pb->len, f->l2_hlen,
                             now_us, &v);
    if (rc < 0 || v.count == 0) {
        ns_pbuf_free(pb);
        return rc;
    }
    if (v.flags & NS_IMPAIR_CORRUPT) {
        if (pb->refcnt > 1) {
            /* Shared (a pcap wrapper outside us records it after we
             * return): corrupt a copy, never the bytes others hold. */
            struct ns_pbuf *copy = ns_pbuf_clone(pb);
            ns_pbuf_free(pb);
            if (!copy) {
                d->stats.delivered -= v.count; /* no buffer: lost after all */
                d->stats.lost++;
                return 0;
            }
            pb = copy;
        }
        (void)ns_pbuf_csum_finish(pb); /* bad offsets: the frame is garbage anyway */
        ns_impair_flip(ns_pbuf_data(pb), v.corrupt_bit);
        pb->flags &= ~NS_PBUF_F_CSUM_OK;
    }
    if (v.count == 2) {
        /* An empty pool makes the duplicate vanish; nothing else to do. */
        struct ns_pbuf *copy = ns_pbuf_clone(pb);
        if (copy) {
            copy->time_us = v.arrival_us[1];
            pb->time_us = v.arrival_us[0];
            ns_frameq_insert(&d->q, pb);
            ns_frameq_insert(&d->q, copy);
            return 0;
        }
        d->stats.delivered--;
    }
    pb->time_us = v.arrival_us[0];
    ns_frameq_insert(&d->q, pb);
    return 0;
}

/* fault_impair for a frame that may be a GSO packet: its wire segments
 * one by one. Consumes pb. Returns 0 or the first drop error. */
static int fault_impair_frame(struct fault_dev *f, struct fault_dir *d, struct ns_pbuf *pb,
                              uint64_t now_us)
{
    if (!pb->gso_size)
        return fault_impair(f, d, pb, now_us);
    struct ns_pbuf_queue segs;
    ns_pbuf_queue_init(&segs);
    int n = ns_gso_segment(pb, f->l2_hlen, &segs);
    if (n < 0)
        return n;
    int rc = 0;
    struct ns_pbuf *s;
    while ((s = ns_pbuf_queue_pop(&segs))) {
        int r = fault_impair(f, d, s, now_us);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

/* Hand every transmit frame due by now_us to the inner device. */
static void fault_release_tx(struct fault_dev *f, uint64_t now_us)
{
    struct ns_pbuf *pb;
    while ((pb = ns_frameq_pop_due(&f->tx.q, now_us))) {
        /* The inner device counts its own drops; the stack was told 0 when
         * it handed us the frame, as with any frame lost on the wire. */
        (void)f->inner->ops->xmit(f->inner, pb, now_us);
    }
}

static int fault_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    struct fault_dev *f = (struct fault_dev *)dev;
    uint32_t len = pb->len;
    int rc;

    if (!f->tx.on) {
        /* Pass-through: the inner device's backpressure too. */
        rc = f->inner->ops->xmit(f->inner, pb, now_us);
    } else {
        /* Queue, then release everything due: frames due earlier sort
         * before this one, and with zero delay it leaves at once. */
        rc = fault_impair_frame(f, &f->tx, pb, now_us);
        fault_release_tx(f, now_us);
    }
    if (rc == -EAGAIN) {
        dev->stats.tx_busy++;
    } else if (rc < 0) {
        dev->stats.tx_drop++;
    } else {
        dev->stats.tx_frames++;
        dev->stats.tx_bytes += len;
    }
    return rc;
}

static struct ns_pbuf *fault_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool, uint64_t now_us)
{
    struct fault_dev *f = (struct fault_dev *)dev;
    struct ns_pbuf *pb;

    if (f->tx.on)
        fault_release_tx(f, now_us);
    if (!f->rx.on) {
        pb = f->inner->ops->recv(f->inner, pool, now_us);
    } else {
        while ((pb = f->inner->ops->recv(f->inner, pool, now_us)))
            if (fault_impair_frame(f, &f->rx, pb, now_us) < 0)
                dev->stats.rx_drop++;
        pb = ns_frameq_pop_due(&f->rx.q, now_us);
    }
    if (pb) {
        dev->stats.rx_frames++;
        dev->stats.rx_bytes += pb->len;
    }
    return pb;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static uint64_t fault_next_deadline(struct ns_dev *dev)
{
    struct fault_dev *f = (struct fault_dev *)dev;
    uint64_t t = f->inner->ops->next_deadline(f->inner);
    t = min_u64(t, ns_frameq_next_due(&f->tx.q));
    return min_u64(t, ns_frameq_next_due(&f->rx.q));
}

static void fault_tick(struct ns_dev *dev, uint64_t now_us)
{
    struct fault_dev *f = (struct fault_dev *)dev;
    fault_release_tx(f, now_us);
    if (f->inner->ops->tick)
        f->inner->ops->tick(f->inner, now_us);
}

/* Only a pass-through direction passes the inner device's backpressure
 * on; with transmit impairments the wrapper is a link of its own, whose
 * queue drops (queue_bytes) and whose released frames an inner device that
 * refuses them loses, as frames lost on the wire. */
static uint64_t fault_tx_ready(struct ns_dev *dev, uint64_t now_us)
{
    struct fault_dev *f = (struct fault_dev *)dev;
    if (f->tx.on || !f->inner->ops->tx_ready)
        return now_us;
    return f->inner->ops->tx_ready(f->inner, now_us);
}

static int fault_fd(struct ns_dev *dev)
{
    struct fault_dev *f = (struct fault_dev *)dev;
    return f->inner->ops->fd ? f->inner->ops->fd(f->inner) : -1;
}

static void fault_close(struct ns_dev *dev)
{
    struct fault_dev *f = (struct fault_dev *)dev;
    ns_frameq_purge(&f->tx.q);
    ns_frameq_purge(&f->rx.q);
    ns_dev_close(f->inner);
    free(f);
}

static const struct ns_dev_ops fault_ops = {
    .xmit = fault_xmit,
    .recv = fault_recv,
    .next_deadline = fault_next_deadline,
    .tick = fault_tick,
    .fd = fault_fd,
    .close = fault_close,
    .tx_ready = fault_tx_ready,
};

static void fault_dir_init(struct fault_dir *d, const struct ns_link_params *p, uint64_t seed)
{
    d->on = p != NULL;
    if (p)
        d->params = *p;
    ns_rng_seed(&d->rng, seed);
    ns_frameq_init(&d->q);
}

struct ns_dev *ns_fault_wrap(struct ns_dev *inner, const struct ns_link_params *tx,
                             const struct ns_link_params *rx, uint64_t seed)
{
    if (!inner)
        return NULL;
    struct fault_dev *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    /* The wrapper looks like the inner device to the stack. */
    f->dev = *inner;
    f->dev.ops = &fault_ops;
    memset(&f->dev.stats, 0, sizeof(f->dev.stats));
    f->inner = inner;
    /* Its deadline is the inner device's or its own queue's, which moves
     * only in xmit and tick: deadline events as the inner device has them,
     * passed up from it. */
    f->dev.upper = NULL;
    f->dev.deadline_stale = NULL;
    inner->upper = &f->dev;
    f->l2_hlen = inner->link == NS_LINK_ETHER ? 14u : 0u;
    if (tx) {
        /* Faults per wire frame: the stack must send MSS-sized segments. */
        f->dev.offloads &= ~(NS_DEV_OFF_TSO | NS_DEV_OFF_TSO6);
        f->dev.gso_max_size = 0;
    }
    /* Independent streams per direction: rx traffic never shifts tx faults. */
    uint64_t x = seed;
    fault_dir_init(&f->tx, tx, ns_rng_splitmix(&x));
    fault_dir_init(&f->rx, rx, ns_rng_splitmix(&x));
    return &f->dev;
}

void ns_fault_stats(const struct ns_dev *fault_dev, struct ns_impair_stats *tx,
                    struct ns_impair_stats *rx)
{
    struct fault_dev *f = to_fault(fault_dev);
    if (tx) {
        if (f)
            *tx = f->tx.stats;
        else
            memset(tx, 0, sizeof(*tx));
    }
    if (rx) {
        if (f)
            *rx = f->rx.stats;
        else
            memset(rx, 0, sizeof(*rx));
    }
}
