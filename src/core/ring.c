/* core/ring.c — see ring.h. */
#include "core/ring.h"

#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

bool ns_ring_set_cap(struct ns_ring *r, uint32_t cap)
{
    if (cap < r->len)
        return false;
    if (r->buf && cap != r->cap) {
        /* Re-pack into new storage of the new size. */
        uint8_t *nb = malloc(cap ? cap : 1);
        if (!nb)
            return false;
        ns_ring_peek(r, 0, nb, r->len);
        free(r->buf);
        r->buf = nb;
        r->head = 0;
    }
    r->cap = cap;
    return true;
}

bool ns_ring_reserve(struct ns_ring *r)
{
    if (!r->buf)
        r->buf = malloc(r->cap ? r->cap : 1);
    return r->buf != NULL;
}

void ns_ring_free(struct ns_ring *r)
{
    free(r->buf);
    r->buf = NULL;
    r->head = r->len = 0;
}

uint32_t ns_ring_write(struct ns_ring *r, const void *data, uint32_t len)
{
    uint32_t n = len < ns_ring_space(r) ? len : ns_ring_space(r);
    if (n == 0 || !ns_ring_reserve(r))
        return 0;
    uint32_t tail = (r->head + r->len) % r->cap;
    uint32_t first = r->cap - tail < n ? r->cap - tail : n;
    memcpy(r->buf + tail, data, first);
    memcpy(r->buf, (const uint8_t *)data + first, n - first);
    r->len += n;
    return n;
}

uint32_t ns_ring_peek(const struct ns_ring *r, uint32_t off, void *out, uint32_t len)
{
    if (off >= r->len)
        return 0;
    uint32_t n = len < r->len - off ? len : r->len - off;
    uint32_t start = (r->head + off) % r->cap;
    uint32_t first = r->cap - start < n ? r->cap - start : n;
    memcpy(out, r->buf + start, first);
    memcpy((uint8_t *)out + first, r->buf, n - first);
    return n;
}

uint32_t ns_ring_peek_csum(const struct ns_ring *r, uint32_t off, void *out, uint32_t len,
                           uint32_t *sum)
{
    if (off >= r->len)
        return 0;
    uint32_t n = len < r->len - off ? len : r->len - off;
    uint32_t start = (r->head + off) % r->cap;
    uint32_t first = r->cap - start < n ? r->cap - start : n;
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
    r->head = (r->head + len) % r->cap;
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
