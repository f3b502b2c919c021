/* dev/impair.h — the impairment engine shared by the simulated link
 * (sim/simlink.c) and the fault-injection wrapper (dev/fault.c), so the
 * rules for MTU, queueing, serialization, loss, corruption, jitter,
 * reordering and duplication exist once. Internal header.
 *
 * The engine only decides; it never touches frame bytes or buffers. For
 * each frame offered in one direction it returns 0, 1 or 2 arrival times
 * and, for corruption, which bit the caller must flip. The caller keeps
 * the copies in a time-sorted queue (struct ns_frameq for pbufs) until they
 * are due.
 *
 * Order of decisions for one frame (each random draw happens only when its
 * probability is > 0, so a link without impairments consumes no
 * randomness):
 *   1. MTU: IP size (len - link header) > mtu          -> mtu_drop, -EMSGSIZE
 *   2. queue: backlog bytes + len > queue_bytes         -> queue_drop, -ENOBUFS
 *      (only with a rate limit: an unlimited link never queues)
 *   3. serialization: departure = max(now, busy_until) + len*8/rate
 *   4. loss (the frame used the wire, then vanished)    -> lost, 0 copies
 *   5. corruption: one bit after the link header        -> corrupt_bit
 *   6. arrival = departure + delay + uniform[0, jitter], never earlier than
 *      the previous in-order arrival of this direction (jitter keeps FIFO)
 *   7. reorder: arrival += reorder_delay_us; later frames may overtake it
 *   8. duplication: a second copy arriving at the same time (queued after
 *      the first: the frame queue is FIFO for equal times)
 */
#ifndef NS_DEV_IMPAIR_H
#define NS_DEV_IMPAIR_H

#include <stdint.h>

#include "base/rng.h"
#include "netsock/dev.h"
#include "netsock/pbuf.h"

/* Per-direction state carried between frames. Zero-initialise it. */
struct ns_impair_dir {
    uint64_t busy_until_us;   /* serializer busy until this time */
    uint64_t busy_frac;       /* remainder of the last serialization division,
                                 in units of 1/rate_bps microseconds, carried so
                                 the long-run rate is exact */
    uint64_t last_arrival_us; /* latest in-order arrival so far (FIFO floor) */
};

#define NS_IMPAIR_LOST 0x1u
#define NS_IMPAIR_CORRUPT 0x2u
#define NS_IMPAIR_REORDERED 0x4u
#define NS_IMPAIR_DUPLICATED 0x8u

/* The decision for one frame. */
struct ns_impair_verdict {
    unsigned count;         /* copies to deliver: 0, 1 or 2 */
    uint64_t arrival_us[2]; /* arrival time of each copy, arrival_us[1] >= arrival_us[0] */
    uint32_t flags;         /* NS_IMPAIR_* */
    uint32_t corrupt_bit;   /* with NS_IMPAIR_CORRUPT: flip bit (corrupt_bit & 7) of
                               byte (corrupt_bit >> 3), counted from the frame start */
};

/* Decide the fate of one frame of `len` bytes, whose first `l2_hlen` bytes
 * are the link header (14 for Ethernet, 0 for IP devices), offered at
 * now_us. Updates `dir` and `st`. Returns 0 (verdict filled; count may be
 * 0 for a lost frame), or -EMSGSIZE / -ENOBUFS for an MTU or queue drop
 * (verdict->count is then 0). */
int ns_impair_frame(const struct ns_link_params *p, struct ns_rng *rng, struct ns_impair_dir *dir,
                    struct ns_impair_stats *st, uint32_t len, uint32_t l2_hlen, uint64_t now_us,
                    struct ns_impair_verdict *v);

/* When the queue check (step 2) would let a frame of `len` bytes in:
 * now_us when it does now (or the direction has no queue limit), else the
 * earliest later time the serializer's backlog has drained enough, or
 * NS_TIME_NEVER when the frame is larger than the whole queue. Pure: no
 * state changes, no randomness. A port that refuses frames instead of
 * dropping them (sim/simlink.c) asks this before ns_impair_frame. */
uint64_t ns_impair_queue_ready(const struct ns_link_params *p, const struct ns_impair_dir *dir,
                               uint32_t len, uint64_t now_us);

/* Flip the bit named by a verdict's corrupt_bit in `data`. */
static inline void ns_impair_flip(uint8_t *data, uint32_t bit)
{
    data[bit >> 3] ^= (uint8_t)(1u << (bit & 7));
}

/* ---- time-sorted frame queue --------------------------------------------
 * pbufs linked through pb->next, sorted by pb->time_us (the due time),
 * FIFO among equal times. Insertion is O(1) when frames come in due order
 * (the common case: only reordered frames are inserted out of order). The
 * queue holds one reference to each pbuf. */
struct ns_frameq {
    struct ns_pbuf *head, *tail;
    uint32_t count;
};

static inline void ns_frameq_init(struct ns_frameq *q)
{
    q->head = q->tail = NULL;
    q->count = 0;
}
/* Insert pb (consumed) at its due time pb->time_us. */
void ns_frameq_insert(struct ns_frameq *q, struct ns_pbuf *pb);
/* Remove and return the first frame due at or before now_us, or NULL. */
struct ns_pbuf *ns_frameq_pop_due(struct ns_frameq *q, uint64_t now_us);
/* Due time of the first frame, or NS_TIME_NEVER when empty. */
static inline uint64_t ns_frameq_next_due(const struct ns_frameq *q)
{
    return q->head ? q->head->time_us : NS_TIME_NEVER;
}
/* Free every queued frame. */
void ns_frameq_purge(struct ns_frameq *q);

#endif
