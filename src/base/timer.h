/* base/timer.h — hierarchical timer wheel.
 *
 * Scales to millions of timers: arm and cancel are O(1) (intrusive doubly
 * linked slots), and most timers are cancelled before they fire (TCP
 * retransmit, delayed ACK), so they never cost more than that.
 *
 * Layout: NS_WHEEL_LEVELS levels of 64 slots; level L covers times whose
 * highest bit differing from the wheel's current time lies in bits
 * [6L, 6L+6). A 64-bit occupancy bitmap per level makes "next non-empty
 * slot" one count-trailing-zeros. Advancing time moves the slots that time
 * passed over onto a work list; timers due by then fire, the others are
 * re-inserted at a lower level (cascading). Time unit: microseconds.
 *
 * Timers fire in order of expiry time; timers with equal expiry fire in the
 * order they were armed (deterministic).
 */
#ifndef NS_BASE_TIMER_H
#define NS_BASE_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define NS_WHEEL_BITS 6
#define NS_WHEEL_SLOTS 64
#define NS_WHEEL_LEVELS 11 /* 11 * 6 = 66 >= 64 bits */

struct ns_timer;
/* Called when a timer fires; the timer is no longer pending and may be
 * re-armed (or freed) from inside the callback. */
typedef void (*ns_timer_fn)(void *ctx, struct ns_timer *t, uint64_t now_us);

struct ns_timer {
    struct ns_timer *next, *prev; /* slot list; prev == NULL when not pending */
    uint64_t expires_us;
    ns_timer_fn fn;
};

struct ns_timer_list {
    struct ns_timer head; /* sentinel */
};

struct ns_wheel {
    uint64_t now_us;                                   /* wheel time */
    uint64_t pending[NS_WHEEL_LEVELS];                 /* occupancy bitmaps */
    struct ns_timer_list slot[NS_WHEEL_LEVELS][NS_WHEEL_SLOTS];
    struct ns_timer_list expired;                      /* armed at/before now */
    uint64_t count;                                    /* pending timers */
    /* The earliest reach time (wheel_next_slot), kept up to date when a
     * slot becomes occupied and dropped only when the earliest slot
     * empties or the wheel time moves, so that asking for the next
     * deadline again costs a test. */
    uint64_t reach_cache;
    uint8_t reach_state;                               /* 0 unknown, 1 reach_cache, 2 none */
};

/* Initialise an empty wheel at time now_us. The wheel holds pointers into
 * itself (list sentinels): it must not be copied or moved once initialised. */
void ns_wheel_init(struct ns_wheel *w, uint64_t now_us);

/* Initialise a timer (not pending) with its callback. */
void ns_timer_init(struct ns_timer *t, ns_timer_fn fn);

/* Arm (or re-arm) t to fire at expires_us. An expiry at or before the
 * wheel's time fires on the next ns_wheel_advance(); for ordering it counts
 * as the wheel's time (after timers already due, in arm order). Re-arming a
 * pending timer moves it, and it counts as armed now for FIFO order. */
void ns_timer_arm(struct ns_wheel *w, struct ns_timer *t, uint64_t expires_us);

/* Cancel t if pending; harmless otherwise. */
void ns_timer_cancel(struct ns_wheel *w, struct ns_timer *t);

static inline bool ns_timer_pending(const struct ns_timer *t) { return t->prev != 0; }

/* Advance the wheel to now_us (>= the wheel's time; an earlier time counts
 * as the wheel's time), firing every timer whose expiry is <= now_us, in
 * expiry order, as fn(ctx, timer, now_us). Timers armed by callbacks for
 * <= now_us fire during the same call. Callbacks may arm and cancel any
 * timer but must not call ns_wheel_advance() on the same wheel. Returns
 * the number fired. */
uint64_t ns_wheel_advance(struct ns_wheel *w, uint64_t now_us, void *ctx);

/* ns_wheel_next: a lower bound on the earliest pending expiry (exact when that timer sits
 * in the lowest level; the wheel's time when a timer is already due), or
 * UINT64_MAX when none is pending (a timer may also be pending at
 * UINT64_MAX itself: ns_wheel_count() tells them apart). Calling advance
 * at that time makes progress: either fires or cascades. */
uint64_t ns_wheel_next_compute(struct ns_wheel *w);
static inline uint64_t ns_wheel_next(struct ns_wheel *w)
{
    /* The cached answer, when nothing is due and it is known. */
    if (w->expired.head.next == &w->expired.head && w->reach_state != 0)
        return w->reach_state == 1 ? w->reach_cache : UINT64_MAX;
    return ns_wheel_next_compute(w);
}

static inline uint64_t ns_wheel_count(const struct ns_wheel *w) { return w->count; }

#endif
