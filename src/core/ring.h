/* core/ring.h — a byte ring: TCP's send and receive buffers.
 *
 * Storage is allocated on first use (ns_ring_reserve), so an idle
 * connection costs no buffer memory (DESIGN.md: small control blocks,
 * buffers allocated lazily). Data enters with one copy and leaves with one
 * copy; ns_ring_peek copies from any offset without consuming, which is
 * how retransmissions are built. */
#ifndef NS_CORE_RING_H
#define NS_CORE_RING_H

#include <stdbool.h>
#include <stdint.h>

struct ns_ring {
    uint8_t *buf;
    uint32_t cap;  /* bytes the ring may hold (storage may be NULL until used) */
    uint32_t head; /* offset of the first byte */
    uint32_t len;  /* bytes held */
};

/* Set the capacity (no allocation yet). Shrinking below len is refused. */
bool ns_ring_set_cap(struct ns_ring *r, uint32_t cap);
/* Allocate storage if not yet done. False on allocation failure. */
bool ns_ring_reserve(struct ns_ring *r);
void ns_ring_free(struct ns_ring *r);

static inline uint32_t ns_ring_space(const struct ns_ring *r) { return r->cap - r->len; }

/* Append up to len bytes; returns how many fit (allocating on first use). */
uint32_t ns_ring_write(struct ns_ring *r, const void *data, uint32_t len);
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
