/* base/timer.c — hierarchical timer wheel. See base/timer.h.
 *
 * Read before touching: Varghese & Lauck, "Hashed and Hierarchical Timing
 * Wheels" (SOSP 1987); the Linux timer wheel (kernel/time/timer.c) for the
 * bitmap idea.
 *
 * Placement. A pending timer with expiry e at wheel time `now` sits
 *   - on the `expired` list when e <= now (due: fires on the next advance);
 *   - else at level L = hibit(e ^ now) / 6, slot (e >> 6L) & 63.
 * Level 10 holds only bits 60..63, so its slots are 0..15 and no shift ever
 * reaches 64 bits.
 *
 * Invariant (checked by asserts): between operations every timer sits where
 * placement puts it *for the current wheel time*. Two consequences the code
 * relies on:
 *   - e and now agree above bit 6L+6 and differ in the digit at level L, so
 *     an occupied slot is always strictly after the current digit
 *     (now >> 6L) & 63: no slot needs "rotation" and the first occupied slot
 *     is one count-trailing-zeros of the bitmap;
 *   - timers with equal expiry share one slot list, so FIFO order among
 *     them is list order, and cascading a slot (moving it as a whole,
 *     in order) keeps it.
 * Cancel therefore finds a timer's slot from its expiry and the wheel time
 * alone, to clear the occupancy bit when the slot empties.
 *
 * A slot at level L with index s is "reached" at time
 *   (now with the bits below 6L+6 cleared) | s << 6L
 * which is <= every expiry in it; ns_wheel_next() is the least of these (or
 * the wheel time when `expired` is non-empty), exact for level 0, whose
 * slots each hold a single expiry. Every reach time of a level is below
 * every reach time of the levels above it, so the least is the first
 * occupied slot of the lowest occupied level.
 *
 * Advance to `target` loops: fire everything on `expired` (callbacks may
 * add to it), then step the wheel time to ns_wheel_next() if that is
 * <= target. A step moves the slots the time passed over onto a local work
 * list, then walks it once: due timers (e <= the new time) are appended to
 * `expired`, the others re-inserted lower down (cascade). No callback runs
 * while the work list is non-empty, so callbacks only ever see timers on
 * real wheel lists, and arm/cancel of any timer (itself, others already
 * due) is the ordinary O(1) list operation. Stepping to the next reach
 * time, never beyond, is what gives expiry order across a long jump: each
 * step fires exactly the timers whose expiry equals the new time.
 *
 * Expiries in the past: a timer armed for e <= wheel time behaves as if
 * armed for the wheel time (it joins the tail of `expired`). It fires on
 * the next advance, after timers already due, in arm order.
 */
#include "base/timer.h"

#include <assert.h>
#include <stddef.h>

#define WHEEL_MASK ((uint64_t)NS_WHEEL_SLOTS - 1)

static_assert(NS_WHEEL_SLOTS == 1 << NS_WHEEL_BITS, "slots must be 2^bits");
static_assert(NS_WHEEL_SLOTS == 64, "occupancy bitmap is one uint64_t per level");
static_assert(NS_WHEEL_LEVELS * NS_WHEEL_BITS >= 64, "levels must cover 64 bits");

/* --- intrusive circular lists with sentinel heads ------------------------ */

static void list_init(struct ns_timer_list *l) { l->head.next = l->head.prev = &l->head; }

static bool list_empty(const struct ns_timer_list *l) { return l->head.next == &l->head; }

static void list_append(struct ns_timer_list *l, struct ns_timer *t)
{
    t->prev = l->head.prev;
    t->next = &l->head;
    l->head.prev->next = t;
    l->head.prev = t;
}

static void list_unlink(struct ns_timer *t)
{
    t->prev->next = t->next;
    t->next->prev = t->prev;
    t->next = t->prev = NULL;
}

/* Move all of src to the tail of dst, keeping order; src ends up empty. */
static void list_splice_tail(struct ns_timer_list *dst, struct ns_timer_list *src)
{
    if (list_empty(src))
        return;
    struct ns_timer *first = src->head.next, *last = src->head.prev;
    first->prev = dst->head.prev;
    dst->head.prev->next = first;
    last->next = &dst->head;
    dst->head.prev = last;
    list_init(src);
}

/* --- placement ----------------------------------------------------------- */

static unsigned level_shift(unsigned level) { return level * NS_WHEEL_BITS; }

/* `now` with the bits below level `level`'s digit cleared, and the digit
 * cleared too: the time its slot 0 is reached. 0 for the top level. */
static uint64_t level_base(uint64_t now, unsigned level)
{
    unsigned above = level_shift(level) + NS_WHEEL_BITS;
    return above >= 64 ? 0 : now >> above << above;
}

static unsigned level_digit(uint64_t now, unsigned level)
{
    return (unsigned)((now >> level_shift(level)) & WHEEL_MASK);
}

/* Level and slot of a timer with expiry e > now. */
static void wheel_locate(uint64_t now, uint64_t e, unsigned *level, unsigned *slot)
{
    assert(e > now);
    unsigned hibit = 63u - (unsigned)__builtin_clzll(e ^ now);
    *level = hibit / NS_WHEEL_BITS;
    *slot = (unsigned)((e >> level_shift(*level)) & WHEEL_MASK);
    assert(*level < NS_WHEEL_LEVELS);
    assert(*slot > level_digit(now, *level));
}

/* The time slot `slot` of level `level` is reached (see file header). */
static uint64_t slot_reach(uint64_t now, unsigned level, unsigned slot)
{
    return level_base(now, level) | (uint64_t)slot << level_shift(level);
}

/* Put t (not on any list) where placement says, at the tail. A slot that
 * becomes occupied moves the cached earliest reach time only if it is
 * earlier, so the cache is updated rather than dropped. */
static void wheel_insert(struct ns_wheel *w, struct ns_timer *t)
{
    if (t->expires_us <= w->now_us) {
        list_append(&w->expired, t);
        return;
    }
    unsigned level, slot;
    wheel_locate(w->now_us, t->expires_us, &level, &slot);
    list_append(&w->slot[level][slot], t);
    uint64_t bit = (uint64_t)1 << slot;
    if (w->pending[level] & bit)
        return; /* the slot was occupied: no reach time changes */
    w->pending[level] |= bit;
    if (w->reach_state != 0) {
        uint64_t reach = slot_reach(w->now_us, level, slot);
        if (w->reach_state == 2 || reach < w->reach_cache)
            w->reach_cache = reach;
        w->reach_state = 1;
    }
}

/* --- public API ---------------------------------------------------------- */

void ns_wheel_init(struct ns_wheel *w, uint64_t now_us)
{
    w->now_us = now_us;
    w->count = 0;
    for (unsigned l = 0; l < NS_WHEEL_LEVELS; l++) {
        w->pending[l] = 0;
        for (unsigned s = 0; s < NS_WHEEL_SLOTS; s++)
            list_init(&w->slot[l][s]);
    }
    list_init(&w->expired);
    w->reach_state = 0;
}

void ns_timer_init(struct ns_timer *t, ns_timer_fn fn)
{
    t->next = t->prev = NULL;
    t->expires_us = 0;
    t->fn = fn;
}

void ns_timer_cancel(struct ns_wheel *w, struct ns_timer *t)
{
    if (!ns_timer_pending(t))
        return;
    assert(w->count > 0);
    uint64_t e = t->expires_us;
    list_unlink(t);
    w->count--;
    if (e <= w->now_us)
        return; /* it was on `expired`, which has no bitmap */
    unsigned level, slot;
    wheel_locate(w->now_us, e, &level, &slot);
    assert(w->pending[level] & ((uint64_t)1 << slot));
    if (list_empty(&w->slot[level][slot])) {
        w->pending[level] &= ~((uint64_t)1 << slot);
        /* Only the earliest slot emptying moves the earliest reach time
         * (reach times of distinct slots differ). */
        if (w->reach_state == 1 && slot_reach(w->now_us, level, slot) <= w->reach_cache)
            w->reach_state = 0;
    }
}

/* The list a pending timer with expiry e sits on at the wheel's time. */
static struct ns_timer_list *wheel_list_of(struct ns_wheel *w, uint64_t e)
{
    if (e <= w->now_us)
        return &w->expired;
    unsigned level, slot;
    wheel_locate(w->now_us, e, &level, &slot);
    return &w->slot[level][slot];
}

void ns_timer_arm(struct ns_wheel *w, struct ns_timer *t, uint64_t expires_us)
{
    assert(t->fn != NULL);
    /* Re-armed into the list it is on, as its last timer: unlinking and
     * appending it again would put it back where it is, so only the
     * expiry changes (as Linux mod_timer when the bucket stays). TCP
     * re-arms its retransmission, probe and delayed-ACK timers for about
     * the same time on every segment. */
    if (ns_timer_pending(t)) {
        struct ns_timer_list *l = wheel_list_of(w, t->expires_us);
        if (t->next == &l->head && wheel_list_of(w, expires_us) == l) {
            t->expires_us = expires_us;
            return;
        }
    }
    ns_timer_cancel(w, t);
    t->expires_us = expires_us;
    wheel_insert(w, t);
    w->count++;
}

/* The earliest reach time among occupied slots, if any (see file header):
 * the first occupied slot of the lowest occupied level. Every reach time
 * at level L is below ((now >> (6L+6)) + 1) << (6L+6), and every one at
 * level L+1 is at least that (its slot lies after now's digit there), so
 * no higher level can hold an earlier one. */
static bool wheel_next_slot(const struct ns_wheel *w, uint64_t *when)
{
    for (unsigned l = 0; l < NS_WHEEL_LEVELS; l++) {
        if (!w->pending[l])
            continue;
        unsigned slot = (unsigned)__builtin_ctzll(w->pending[l]);
        assert(slot > level_digit(w->now_us, l));
        *when = slot_reach(w->now_us, l, slot);
        assert(*when > w->now_us);
        return true;
    }
    *when = UINT64_MAX;
    return false;
}

/* wheel_next_slot through the cache (invalidated by every change of a
 * slot's occupancy and of the wheel time). */
static bool wheel_next_cached(struct ns_wheel *w, uint64_t *when)
{
    if (w->reach_state == 0) {
        w->reach_state = wheel_next_slot(w, &w->reach_cache) ? 1 : 2;
    }
    *when = w->reach_cache;
    return w->reach_state == 1;
}

/* ns_wheel_next when its cached answer does not do (timer.h). */
uint64_t ns_wheel_next_compute(struct ns_wheel *w)
{
    if (!list_empty(&w->expired))
        return w->now_us;
    uint64_t when;
    return wheel_next_cached(w, &when) ? when : UINT64_MAX;
}

/* Move the wheel time to `to`, which must not lie beyond the earliest reach
 * time (wheel_next_slot): due timers go to the tail of `expired` in order,
 * the rest of the slots reached cascade. Runs no callbacks.
 *
 * At each level the occupied slots lie after the old digit, so the slots
 * reached are those up to and including the new digit. A level whose
 * higher digits change would have all its slots passed over; given the
 * precondition that only happens to an empty level. */
static void wheel_step(struct ns_wheel *w, uint64_t to)
{
    struct ns_timer_list work;

    assert(to >= w->now_us);
    if (to == w->now_us)
        return; /* nothing is passed over, and the cache still holds */
    list_init(&work);
    for (unsigned l = 0; l < NS_WHEEL_LEVELS; l++) {
        if (!w->pending[l])
            continue;
        assert(level_base(w->now_us, l) == level_base(to, l));
        unsigned digit = level_digit(to, l);
        uint64_t reached = digit == 63 ? ~(uint64_t)0 : ((uint64_t)1 << (digit + 1)) - 1;
        uint64_t due = w->pending[l] & reached;
        w->pending[l] &= ~due;
        while (due) {
            unsigned slot = (unsigned)__builtin_ctzll(due);
            due &= due - 1;
            list_splice_tail(&work, &w->slot[l][slot]);
        }
    }
    w->now_us = to;
    w->reach_state = 0;
    while (!list_empty(&work)) {
        struct ns_timer *t = work.head.next;
        list_unlink(t);
        wheel_insert(w, t);
    }
}

/* Fire everything on `expired`, including what callbacks add to it. */
static uint64_t wheel_fire_expired(struct ns_wheel *w, uint64_t now_us, void *ctx)
{
    uint64_t fired = 0;
    while (!list_empty(&w->expired)) {
        struct ns_timer *t = w->expired.head.next;
        list_unlink(t);
        assert(w->count > 0);
        w->count--;
        fired++;
        t->fn(ctx, t, now_us);
    }
    return fired;
}

uint64_t ns_wheel_advance(struct ns_wheel *w, uint64_t now_us, void *ctx)
{
    uint64_t fired = 0;
    uint64_t next;

    /* Time has not moved and nothing is due: every slot lies after the
     * wheel's time, so there is nothing to fire or to step. */
    if (now_us <= w->now_us && list_empty(&w->expired))
        return 0;
    if (now_us < w->now_us)
        now_us = w->now_us; /* time never runs backwards; still fire what is due */
    for (;;) {
        fired += wheel_fire_expired(w, now_us, ctx);
        if (!wheel_next_cached(w, &next) || next > now_us)
            break;
        /* next > wheel time, so every step moves time forward. */
        wheel_step(w, next);
    }
    /* Nothing is reached by now_us, so this only moves the time. */
    wheel_step(w, now_us);
    assert(list_empty(&w->expired));
    return fired;
}
