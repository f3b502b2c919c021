/* base/ring.h — a byte ring: TCP's send and receive buffers.
 *
 * Two sizes: `cap` is the most the ring may hold (the socket buffer size,
 * which TCP's buffer autotuning may raise), `size` is the storage actually
 * allocated. Storage is allocated on first use and grows geometrically
 * (doubling from NS_RING_MIN_STORAGE, never past cap) as data needs it, so
 * an idle connection costs no buffer memory and one that only ever held a
 * few hundred bytes costs a few KiB, whatever its cap (DESIGN.md: small
 * control blocks, buffers allocated lazily). Storage never shrinks while
 * data flows (no malloc churn on a bulk transfer); it is released by
 * ns_ring_free, which TCP calls when a ring drains and its storage is
 * still the first allocation (tcp_mem_reclaim). Data enters with one copy and leaves with one copy;
 * ns_ring_peek copies from any offset without consuming, which is how
 * retransmissions are built. */
#ifndef NS_BASE_RING_H
#define NS_BASE_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "base/memacct.h"

#define NS_RING_MIN_STORAGE 4096u /* first allocation (or cap, if smaller) */

struct ns_ring {
    uint8_t *buf;
    uint32_t cap;  /* bytes the ring may hold */
    uint32_t size; /* bytes of storage allocated (0 while buf is NULL), <= cap
                    * unless ns_ring_write_max held more */
    uint32_t head; /* offset of the first byte in storage */
    uint32_t len;  /* bytes held */
    struct ns_mem_acct *acct; /* when set, every change of `size` is charged to it */
};

/* Set the capacity. Allocates nothing; storage larger than the new cap is
 * re-packed into a smaller block. Shrinking below len is refused (false),
 * as is a failed re-pack (the ring is then unchanged). */
bool ns_ring_set_cap(struct ns_ring *r, uint32_t cap);
/* Make sure storage exists (NS_RING_MIN_STORAGE bytes, or cap if smaller).
 * False on allocation failure. */
bool ns_ring_reserve(struct ns_ring *r);
/* Release the storage and drop what the ring held; cap is kept. */
void ns_ring_free(struct ns_ring *r);
/* Free the spare blocks kept in a (struct ns_mem_acct's spare list). */
void ns_ring_spares_free(struct ns_mem_acct *a);

/* Free space below the cap (0 when the ring holds the cap or more, see
 * ns_ring_write_max). */
static inline uint32_t ns_ring_space(const struct ns_ring *r)
{
    return r->cap > r->len ? r->cap - r->len : 0;
}
/* Bytes the storage already allocated can take without growing. */
static inline uint32_t ns_ring_room(const struct ns_ring *r) { return r->size - r->len; }
/* The storage ns_ring_write(r, .., len) would add (0 when it fits what is
 * allocated): the same doubling ns_ring_write does, never past cap. */
uint32_t ns_ring_grow_bytes(const struct ns_ring *r, uint32_t len);
/* The same for ns_ring_write_max(r, .., len, max). */
uint32_t ns_ring_grow_bytes_max(const struct ns_ring *r, uint32_t len, uint32_t max);

/* Append up to len bytes; returns how many were stored: at most the free
 * space (cap - len), fewer when storage could not grow (allocation
 * failure: what fits in the storage already held is stored). */
uint32_t ns_ring_write(struct ns_ring *r, const void *data, uint32_t len);
/* ns_ring_write that lets the ring hold up to `max` bytes, past its cap
 * when max > cap (storage then grows past the cap too): TCP's receive
 * ring takes every byte of a window it advertised, which window-scale
 * rounding can put a little past the buffer (tcp_output.c). While more
 * than the cap is held, ns_ring_space is 0. */
uint32_t ns_ring_write_max(struct ns_ring *r, const void *data, uint32_t len, uint32_t max);
/* Copy len bytes starting off bytes into the ring; returns bytes copied
 * (fewer when the ring holds less). Does not consume. */
uint32_t ns_ring_peek(const struct ns_ring *r, uint32_t off, void *out, uint32_t len);
/* ns_ring_peek that also adds the bytes copied to the partial Internet
 * checksum *sum (wire.h), reading each byte once (ns_csum_copy): the bytes
 * continue *sum at an even offset, as ns_csum_add's chaining; a copy the
 * ring's wrap splits in two is combined correctly at any split point. */
uint32_t ns_ring_peek_csum(const struct ns_ring *r, uint32_t off, void *out, uint32_t len,
                           uint32_t *sum);
/* Consume len bytes (at most what is held). */
void ns_ring_drop(struct ns_ring *r, uint32_t len);
/* Copy out and consume. */
uint32_t ns_ring_read(struct ns_ring *r, void *out, uint32_t len);

#endif
