/* platform/spsc.h — a bounded single-producer single-consumer ring of
 * pointers, for handing frames between two threads without a lock
 * (platform/iothread.c). Internal header.
 *
 * One thread only pushes, one other thread only pops. The producer owns
 * `head`, the consumer owns `tail`; each reads the other's index with
 * acquire and publishes its own with release, so what the producer wrote
 * into an object before pushing its pointer is visible to the consumer
 * after the pop (and what the consumer did with a slot before moving
 * `tail` is done before the producer reuses the slot). Each side keeps a
 * cached copy of the other's index and reads the shared one only when the
 * cache says full (producer) or empty (consumer), so a batch of pushes or
 * pops costs one shared read. Capacity is a power of two; indices run
 * freely and wrap at 2^32.
 *
 * Not in base/: the stack core stays free of threads and atomics.
 */
#ifndef NS_PLATFORM_SPSC_H
#define NS_PLATFORM_SPSC_H

#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct spsc_ring {
    void **slots;
    uint32_t mask; /* capacity - 1 */
    /* Producer's cache line: its index and its view of the consumer's. */
    alignas(64) _Atomic uint32_t head;
    uint32_t tail_cache;
    /* Consumer's cache line. */
    alignas(64) _Atomic uint32_t tail;
    uint32_t head_cache;
};

/* Make r a ring of `cap` slots (a power of two, >= 2). 0, -EINVAL or
 * -ENOMEM. */
static inline int spsc_init(struct spsc_ring *r, uint32_t cap)
{
    if (cap < 2 || (cap & (cap - 1)))
        return -EINVAL;
    r->slots = calloc(cap, sizeof(*r->slots));
    if (!r->slots)
        return -ENOMEM;
    r->mask = cap - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->tail_cache = r->head_cache = 0;
    return 0;
}

/* Free the slots (not what they point to). */
static inline void spsc_destroy(struct spsc_ring *r)
{
    free(r->slots);
    r->slots = NULL;
}

static inline uint32_t spsc_capacity(const struct spsc_ring *r) { return r->mask + 1; }

/* Producer: append p. false (nothing changes) when the ring is full. */
static inline bool spsc_push(struct spsc_ring *r, void *p)
{
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (head - r->tail_cache > r->mask) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head - r->tail_cache > r->mask)
            return false;
    }
    r->slots[head & r->mask] = p;
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    return true;
}

/* Consumer: the oldest pointer without removing it, or NULL when empty. */
static inline void *spsc_peek(struct spsc_ring *r)
{
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (tail == r->head_cache) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (tail == r->head_cache)
            return NULL;
    }
    return r->slots[tail & r->mask];
}

/* Consumer: remove and return the oldest pointer, or NULL when empty. */
static inline void *spsc_pop(struct spsc_ring *r)
{
    void *p = spsc_peek(r);
    if (p) {
        uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
        atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
    }
    return p;
}

/* Either side: whether the ring looks empty now (the answer may be stale
 * by the time it is used; the wake-up protocol in iothread.c rechecks). */
static inline bool spsc_empty(struct spsc_ring *r)
{
    return atomic_load_explicit(&r->head, memory_order_seq_cst) ==
           atomic_load_explicit(&r->tail, memory_order_seq_cst);
}

#endif
