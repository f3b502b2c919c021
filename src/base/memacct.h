/* base/memacct.h — a running count of bytes of memory held, charged by
 * whoever allocates on behalf of a subsystem (TCP's buffers: the rings of
 * base/ring.c and the out-of-order segments), so that a stack-wide limit
 * can be enforced on what is actually held, not on what sockets may ask
 * for. An account may have a parent, which every charge also moves (TCP
 * keeps one per kind of buffer under one total). Not thread-safe: an
 * account belongs to one stack. */
#ifndef NS_BASE_MEMACCT_H
#define NS_BASE_MEMACCT_H

#include <stdint.h>

struct ns_mem_acct {
    uint64_t bytes;              /* held now */
    uint64_t peak;               /* the most held at once */
    struct ns_mem_acct *parent;  /* also charged; NULL at the top */
    /* Spare first-allocation blocks of the rings charged here (base/ring.c:
     * a ring that drains gives its block back here and the next ring to
     * need one takes it, so small messages cost no malloc/free pair).
     * At most spare_max (0: none kept); not charged while spare; freed by
     * ns_ring_spares_free. */
    void *spare;
    uint32_t nspare, spare_max;
};

/* Add `delta` bytes (negative: released) to a and its ancestors. The
 * caller never releases more than it charged. */
static inline void ns_mem_charge(struct ns_mem_acct *a, int64_t delta)
{
    for (; a; a = a->parent) {
        a->bytes += (uint64_t)delta;
        if (a->bytes > a->peak)
            a->peak = a->bytes;
    }
}

#endif
