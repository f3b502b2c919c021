/* base/pbuf.c — packet buffers and their pool. See include/netsock/pbuf.h.
 *
 * The pool is one allocation of headers and one of storage, carved into
 * NS_PBUF_SIZE buffers on a free list: allocation and free are a pointer
 * swap. Buffers too large for the pool come from the heap, bounded by
 * heap_max_bytes so a flood of large datagrams cannot exhaust memory. */
#include "netsock/pbuf.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct ns_pbuf_pool {
    struct ns_pbuf *hdrs;     /* pool_total headers */
    uint8_t *storage;         /* pool_total * NS_PBUF_SIZE bytes */
    struct ns_pbuf *free_list;
    uint32_t pool_total;
    uint32_t pool_free;
    uint64_t heap_bytes;
    uint64_t heap_max_bytes;
    uint64_t alloc_fail;
};

struct ns_pbuf_pool *ns_pbuf_pool_new(uint32_t count, uint64_t heap_max_bytes)
{
    struct ns_pbuf_pool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    if (count) {
        pool->hdrs = calloc(count, sizeof(*pool->hdrs));
        pool->storage = malloc((size_t)count * NS_PBUF_SIZE);
        if (!pool->hdrs || !pool->storage) {
            free(pool->hdrs);
            free(pool->storage);
            free(pool);
            return NULL;
        }
    }
    /* Free list in address order: the first allocations use the first buffers. */
    for (uint32_t i = count; i-- > 0;) {
        struct ns_pbuf *pb = &pool->hdrs[i];
        pb->pool = pool;
        pb->buf = pool->storage + (size_t)i * NS_PBUF_SIZE;
        pb->cap = NS_PBUF_SIZE;
        pb->next = pool->free_list;
        pool->free_list = pb;
    }
    pool->pool_total = pool->pool_free = count;
    pool->heap_max_bytes = heap_max_bytes;
    return pool;
}

void ns_pbuf_pool_free(struct ns_pbuf_pool *pool)
{
    if (!pool)
        return;
    assert(pool->pool_free == pool->pool_total && "pbuf leaked from pool");
    assert(pool->heap_bytes == 0 && "heap pbuf leaked");
    free(pool->hdrs);
    free(pool->storage);
    free(pool);
}

void ns_pbuf_pool_stats(const struct ns_pbuf_pool *pool, struct ns_pbuf_pool_stats *out)
{
    out->pool_total = pool->pool_total;
    out->pool_free = pool->pool_free;
    out->heap_bytes = pool->heap_bytes;
    out->alloc_fail = pool->alloc_fail;
}

static void pbuf_reset(struct ns_pbuf *pb, uint32_t headroom, uint32_t len)
{
    pb->next = NULL;
    pb->off = headroom;
    pb->len = len;
    pb->refcnt = 1;
    pb->ifindex = 0;
    pb->l3_off = pb->l4_off = 0;
    pb->flags &= NS_PBUF_F_HEAP;
    pb->csum_start = pb->csum_offset = 0;
    pb->gso_size = 0;
    pb->gso_type = 0;
    pb->time_us = 0;
}

struct ns_pbuf *ns_pbuf_alloc(struct ns_pbuf_pool *pool, uint32_t headroom, uint32_t len)
{
    uint64_t need = (uint64_t)headroom + len;
    struct ns_pbuf *pb;

    if (need <= NS_PBUF_SIZE) {
        pb = pool->free_list;
        if (!pb) {
            pool->alloc_fail++;
            return NULL;
        }
        pool->free_list = pb->next;
        pool->pool_free--;
        pb->flags = 0;
        pbuf_reset(pb, headroom, len);
        return pb;
    }
    if (need > UINT32_MAX || pool->heap_bytes + need > pool->heap_max_bytes) {
        pool->alloc_fail++;
        return NULL;
    }
    /* Header and storage in one block. */
    pb = malloc(sizeof(*pb) + (size_t)need);
    if (!pb) {
        pool->alloc_fail++;
        return NULL;
    }
    pb->pool = pool;
    pb->buf = (uint8_t *)(pb + 1);
    pb->cap = (uint32_t)need;
    pb->flags = NS_PBUF_F_HEAP;
    pbuf_reset(pb, headroom, len);
    pool->heap_bytes += need;
    return pb;
}

struct ns_pbuf *ns_pbuf_from(struct ns_pbuf_pool *pool, const void *data, uint32_t len)
{
    struct ns_pbuf *pb = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, len);
    if (pb && len)
        memcpy(ns_pbuf_data(pb), data, len);
    return pb;
}

/* What a copy takes over besides the data: the interface, header offsets
 * (same headroom, so they carry over), flags and offload fields. */
static void pbuf_copy_meta(struct ns_pbuf *pb, const struct ns_pbuf *src)
{
    pb->ifindex = src->ifindex;
    pb->l3_off = src->l3_off;
    pb->l4_off = src->l4_off;
    pb->flags = (pb->flags & NS_PBUF_F_HEAP) | (src->flags & ~NS_PBUF_F_HEAP);
    pb->csum_start = src->csum_start;
    pb->csum_offset = src->csum_offset;
    pb->gso_size = src->gso_size;
    pb->gso_type = src->gso_type;
    pb->time_us = src->time_us;
}

struct ns_pbuf *ns_pbuf_clone(const struct ns_pbuf *src) { return ns_pbuf_clone_to(src->pool, src); }

struct ns_pbuf *ns_pbuf_clone_to(struct ns_pbuf_pool *pool, const struct ns_pbuf *src)
{
    struct ns_pbuf *pb = ns_pbuf_alloc(pool, src->off, src->len);
    if (pb)
        ns_pbuf_copy(pb, src); /* fits: allocated for it */
    return pb;
}

int ns_pbuf_copy(struct ns_pbuf *pb, const struct ns_pbuf *src)
{
    if ((uint64_t)src->off + src->len > pb->cap)
        return -1;
    pb->off = src->off;
    pb->len = src->len;
    memcpy(ns_pbuf_data(pb), ns_pbuf_data(src), src->len);
    pbuf_copy_meta(pb, src);
    return 0;
}

struct ns_pbuf *ns_pbuf_clone_from(const struct ns_pbuf *src, uint32_t from)
{
    assert(from <= src->off);
    uint32_t pre = src->off - from;
    struct ns_pbuf *pb = ns_pbuf_alloc(src->pool, from, pre + src->len);
    if (!pb)
        return NULL;
    memcpy(ns_pbuf_data(pb), src->buf + from, pre + src->len);
    ns_pbuf_pull(pb, pre);
    pbuf_copy_meta(pb, src);
    return pb;
}

void ns_pbuf_free(struct ns_pbuf *pb)
{
    if (!pb)
        return;
    assert(pb->refcnt > 0 && "pbuf double free");
    if (--pb->refcnt > 0)
        return;
    struct ns_pbuf_pool *pool = pb->pool;
    if (pb->flags & NS_PBUF_F_HEAP) {
        pool->heap_bytes -= pb->cap;
        free(pb);
        return;
    }
    pb->next = pool->free_list;
    pool->free_list = pb;
    pool->pool_free++;
}

void ns_pbuf_free_chain(struct ns_pbuf *pb)
{
    while (pb) {
        struct ns_pbuf *next = pb->next;
        ns_pbuf_free(pb);
        pb = next;
    }
}

uint8_t *ns_pbuf_push(struct ns_pbuf *pb, uint32_t n)
{
    if (pb->off < n)
        return NULL;
    pb->off -= n;
    pb->len += n;
    return ns_pbuf_data(pb);
}

uint8_t *ns_pbuf_pull(struct ns_pbuf *pb, uint32_t n)
{
    if (pb->len < n)
        return NULL;
    pb->off += n;
    pb->len -= n;
    return ns_pbuf_data(pb);
}

void ns_pbuf_trim(struct ns_pbuf *pb, uint32_t len)
{
    if (len < pb->len)
        pb->len = len;
}

uint8_t *ns_pbuf_put(struct ns_pbuf *pb, uint32_t n)
{
    if (ns_pbuf_tailroom(pb) < n)
        return NULL;
    uint8_t *p = ns_pbuf_data(pb) + pb->len;
    pb->len += n;
    return p;
}

void ns_pbuf_queue_push(struct ns_pbuf_queue *q, struct ns_pbuf *pb)
{
    pb->next = NULL;
    if (q->tail)
        q->tail->next = pb;
    else
        q->head = pb;
    q->tail = pb;
    q->count++;
    q->bytes += pb->len;
}

struct ns_pbuf *ns_pbuf_queue_pop(struct ns_pbuf_queue *q)
{
    struct ns_pbuf *pb = q->head;
    if (!pb)
        return NULL;
    q->head = pb->next;
    if (!q->head)
        q->tail = NULL;
    pb->next = NULL;
    q->count--;
    q->bytes -= pb->len;
    return pb;
}

void ns_pbuf_queue_purge(struct ns_pbuf_queue *q)
{
    struct ns_pbuf *pb;
    while ((pb = ns_pbuf_queue_pop(q)))
        ns_pbuf_free(pb);
}
