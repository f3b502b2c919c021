/* base/ring.c — see ring.h. */
#include "base/ring.h"

#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

/* The storage is now `size` bytes: charge the difference to the account. */
static void ring_resized(struct ns_ring *r, uint32_t size)
{
    if (r->acct)
        ns_mem_charge(r->acct, (int64_t)size - (int64_t)r->size);
    r->size = size;
}

/* Fresh storage of `size` bytes: a spare block of the account when size
 * is the first allocation's and one is kept, else malloc. */
static uint8_t *ring_alloc(struct ns_ring *r, uint32_t size)
{
    struct ns_mem_acct *a = r->acct;
    if (a && a->spare && size == NS_RING_MIN_STORAGE) {
        void *b = a->spare;
        memcpy(&a->spare, b, sizeof(void *)); /* the next spare */
        a->nspare--;
        return b;
    }
    return malloc(size ? size : 1);
}

/* Give storage of `size` bytes back: to the account's spares when it is
 * a first allocation and there is room, else free. */
static void ring_release(struct ns_ring *r, uint8_t *buf, uint32_t size)
{
    struct ns_mem_acct *a = r->acct;
    if (buf && a && size == NS_RING_MIN_STORAGE && a->nspare < a->spare_max) {
        memcpy(buf, &a->spare, sizeof(void *));
        a->spare = buf;
        a->nspare++;
        return;
    }
    free(buf);
}

void ns_ring_spares_free(struct ns_mem_acct *a)
{
    while (a->spare) {
        void *b = a->spare;
        memcpy(&a->spare, b, sizeof(void *));
        free(b);
    }
    a->nspare = 0;
}

/* Move the contents into new storage of `size` bytes (>= len), head at 0. */
static bool ring_repack(struct ns_ring *r, uint32_t size)
{
    uint8_t *nb = ring_alloc(r, size);
    if (!nb)
        return false;
    ns_ring_peek(r, 0, nb, r->len);
    ring_release(r, r->buf, r->size);
    r->buf = nb;
    ring_resized(r, size);
    r->head = 0;
    return true;
}

/* The storage size that holds `need` bytes: doubling from what is held (or
 * NS_RING_MIN_STORAGE), never past cap; past the cap (ns_ring_write_max)
 * an eighth more than the cap at once, or need if more, so that bytes
 * that trickle in past the cap do not re-pack the whole ring each time. */
static uint32_t ring_size_for(const struct ns_ring *r, uint32_t need)
{
    if (need <= r->size)
        return r->size;
    uint64_t size = r->size ? r->size : NS_RING_MIN_STORAGE;
    while (size < need)
        size *= 2;
    uint64_t most = r->cap;
    if (need > r->cap) {
        most = (uint64_t)r->cap + r->cap / 8;
        if (most < need)
            most = need;
    }
    return size > most ? (uint32_t)most : (uint32_t)size;
}

/* Bytes a write of len may store when the ring may hold `max`. */
static uint32_t ring_fit(const struct ns_ring *r, uint32_t len, uint32_t max)
{
    uint32_t room = max > r->len ? max - r->len : 0;
    return len < room ? len : room;
}

uint32_t ns_ring_grow_bytes_max(const struct ns_ring *r, uint32_t len, uint32_t max)
{
    uint32_t n = ring_fit(r, len, max);
    return n ? ring_size_for(r, r->len + n) - r->size : 0;
}

uint32_t ns_ring_grow_bytes(const struct ns_ring *r, uint32_t len)
{
    return ns_ring_grow_bytes_max(r, len, r->cap);
}

bool ns_ring_set_cap(struct ns_ring *r, uint32_t cap)
{
    if (cap < r->len)
        return false;
    if (r->buf && r->size > cap && !ring_repack(r, cap))
        return false;
    r->cap = cap;
    return true;
}

/* Storage of `size` bytes for a ring that has none. False when the
 * allocation failed; the ring is then unchanged. */
static bool ring_first_storage(struct ns_ring *r, uint32_t size)
{
    r->buf = ring_alloc(r, size);
    if (!r->buf)
        return false;
    ring_resized(r, size);
    r->head = 0;
    return true;
}

bool ns_ring_reserve(struct ns_ring *r)
{
    if (r->buf)
        return true;
    return ring_first_storage(r, r->cap < NS_RING_MIN_STORAGE ? r->cap : NS_RING_MIN_STORAGE);
}

void ns_ring_free(struct ns_ring *r)
{
    ring_release(r, r->buf, r->size);
    r->buf = NULL;
    ring_resized(r, 0);
    r->head = r->len = 0;
}

/* Storage for at least `need` bytes (ring_size_for). False when the
 * allocation failed; the ring is then unchanged. */
static bool ring_grow(struct ns_ring *r, uint32_t need)
{
    if (need <= r->size)
        return true;
    uint32_t size = ring_size_for(r, need);
    return r->buf ? ring_repack(r, size) : ring_first_storage(r, size);
}

uint32_t ns_ring_write(struct ns_ring *r, const void *data, uint32_t len)
{
    return ns_ring_write_max(r, data, len, r->cap);
}

uint32_t ns_ring_write_max(struct ns_ring *r, const void *data, uint32_t len, uint32_t max)
{
    uint32_t n = ring_fit(r, len, max);
    if (n == 0)
        return 0;
    if (!ring_grow(r, r->len + n)) {
        /* Out of memory: store what the storage already held takes. */
        uint32_t held = r->size - r->len;
        n = n < held ? n : held;
        if (n == 0)
            return 0;
    }
    uint32_t tail = (r->head + r->len) % r->size;
    uint32_t first = r->size - tail < n ? r->size - tail : n;
    memcpy(r->buf + tail, data, first);
    if (n > first) /* wrapped */
        memcpy(r->buf, (const uint8_t *)data + first, n - first);
    r->len += n;
    return n;
}

uint32_t ns_ring_peek(const struct ns_ring *r, uint32_t off, void *out, uint32_t len)
{
    if (off >= r->len)
        return 0;
    uint32_t n = len < r->len - off ? len : r->len - off;
    uint32_t start = (r->head + off) % r->size;
    uint32_t first = r->size - start < n ? r->size - start : n;
    memcpy(out, r->buf + start, first);
    if (n > first) /* wrapped */
        memcpy((uint8_t *)out + first, r->buf, n - first);
    return n;
}

uint32_t ns_ring_peek_csum(const struct ns_ring *r, uint32_t off, void *out, uint32_t len,
                           uint32_t *sum)
{
    if (off >= r->len)
        return 0;
    uint32_t n = len < r->len - off ? len : r->len - off;
    uint32_t start = (r->head + off) % r->size;
    uint32_t first = r->size - start < n ? r->size - start : n;
    uint32_t s = ns_csum_copy(out, r->buf + start, first, *sum);
    if (n > first) /* the wrapped part starts `first` bytes in, maybe odd */
        s = ns_csum_block_add(s, ns_csum_copy((uint8_t *)out + first, r->buf, n - first, 0), first);
    *sum = s;
    return n;
}

void ns_ring_drop(struct ns_ring *r, uint32_t len)
{
    if (len > r->len)
        len = r->len;
    if (len == 0)
        return;
    r->head = (r->head + len) % r->size;
    r->len -= len;
    if (r->len == 0)
        r->head = 0;
}

uint32_t ns_ring_read(struct ns_ring *r, void *out, uint32_t len)
{
    uint32_t n = ns_ring_peek(r, 0, out, len);
    ns_ring_drop(r, n);
    return n;
}
