/* tests/unit/test_pbuf.c — packet buffers and their pool (base/pbuf.c).
 *
 * Every test ends by checking that the pool's statistics are back to their
 * baseline (all pooled buffers free, no heap bytes in use) before the pool
 * is destroyed: a leaked reference fails the test, not just the assert in
 * ns_pbuf_pool_free().
 */
#include "testutil.h"

#include <stdbool.h>
#include <string.h>

#include "netsock/pbuf.h"

static struct ns_pbuf_pool_stats stats(const struct ns_pbuf_pool *pool)
{
    struct ns_pbuf_pool_stats st;
    ns_pbuf_pool_stats(pool, &st);
    return st;
}

static void pool_done(struct ns_pbuf_pool *pool)
{
    struct ns_pbuf_pool_stats st = stats(pool);
    assert_int_equal(st.pool_free, st.pool_total);
    assert_int_equal(st.heap_bytes, 0);
    ns_pbuf_pool_free(pool);
}

static void fill(uint8_t *p, uint32_t len, uint8_t seed)
{
    for (uint32_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

/* --- pool ---------------------------------------------------------------- */

static void test_alloc_until_empty(void **state)
{
    (void)state;
    enum { COUNT = 8 };
    struct ns_pbuf_pool *pool = ns_pbuf_pool_new(COUNT, 0);
    struct ns_pbuf *pb[COUNT];
    assert_non_null(pool);
    struct ns_pbuf_pool_stats st = stats(pool);
    assert_int_equal(st.pool_total, COUNT);
    assert_int_equal(st.pool_free, COUNT);
    assert_int_equal(st.heap_bytes, 0);
    assert_int_equal(st.alloc_fail, 0);

    for (uint32_t i = 0; i < COUNT; i++) {
        pb[i] = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, 100 + i);
        assert_non_null(pb[i]);
        assert_ptr_equal(pb[i]->pool, pool);
        assert_int_equal(pb[i]->cap, NS_PBUF_SIZE);
        assert_int_equal(ns_pbuf_headroom(pb[i]), NS_PBUF_HEADROOM);
        assert_int_equal(pb[i]->len, 100 + i);
        assert_int_equal(pb[i]->refcnt, 1);
        assert_int_equal(pb[i]->flags, 0);
        assert_null(pb[i]->next);
        assert_int_equal(stats(pool).pool_free, COUNT - 1 - i);
        /* Whole storage is usable and distinct from every other buffer. */
        memset(pb[i]->buf, (int)i, pb[i]->cap);
    }
    for (uint32_t i = 0; i < COUNT; i++)
        for (uint32_t j = 0; j < NS_PBUF_SIZE; j++)
            assert_int_equal(pb[i]->buf[j], i);

    assert_null(ns_pbuf_alloc(pool, 0, 1));
    assert_int_equal(stats(pool).alloc_fail, 1);
    assert_null(ns_pbuf_from(pool, "x", 1));
    assert_int_equal(stats(pool).alloc_fail, 2);
    assert_int_equal(stats(pool).pool_free, 0);

    /* A freed buffer is the next one handed out. */
    struct ns_pbuf *back = pb[3];
    ns_pbuf_free(back);
    assert_int_equal(stats(pool).pool_free, 1);
    pb[3] = ns_pbuf_alloc(pool, 0, 1);
    assert_ptr_equal(pb[3], back);
    assert_int_equal(stats(pool).alloc_fail, 2);

    for (uint32_t i = 0; i < COUNT; i++)
        ns_pbuf_free(pb[i]);
    st = stats(pool);
    assert_int_equal(st.pool_free, COUNT);
    assert_int_equal(st.alloc_fail, 2); /* a counter, not a level */
    pool_done(pool);
}

static void test_alloc_resets_metadata(void **state)
{
    (void)state;
    struct ns_pbuf_pool *pool = ns_pbuf_pool_new(1, 0);
    assert_non_null(pool);
    struct ns_pbuf *pb = ns_pbuf_alloc(pool, 10, 20);
    assert_non_null(pb);
    pb->ifindex = 7;
    pb->flags |= NS_PBUF_F_L2_BCAST;
    pb->time_us = 12345;
    pb->next = pb;
    ns_pbuf_free(pb);
    pb = ns_pbuf_alloc(pool, 32, 0);
    assert_non_null(pb);
    assert_int_equal(pb->ifindex, 0);
    assert_int_equal(pb->flags, 0);
    assert_int_equal(pb->time_us, 0);
    assert_null(pb->next);
    assert_int_equal(pb->refcnt, 1);
    assert_int_equal(ns_pbuf_headroom(pb), 32);
    assert_int_equal(pb->len, 0);
    assert_int_equal(ns_pbuf_tailroom(pb), NS_PBUF_SIZE - 32);
    ns_pbuf_free(pb);
    pool_done(pool);
}

static void test_refcount(void **state)
{
    (void)state;
    struct ns_pbuf_pool *pool = ns_pbuf_pool_new(2, 0);
    assert_non_null(pool);
    struct ns_pbuf *pb = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, 64);
    assert_non_null(pb);
    assert_ptr_equal(ns_pbuf_ref(pb), pb);
    assert_int_equal(pb->refcnt, 2);
    ns_pbuf_free(pb);
    assert_int_equal(pb->refcnt, 1);
    assert_int_equal(stats(pool).pool_free, 1); /* still held */
    ns_pbuf_free(pb);
    assert_int_equal(stats(pool).pool_free, 2);
    ns_pbuf_free(NULL); /* ignored */
    assert_int_equal(stats(pool).pool_free, 2);

    /* Same for a heap buffer: storage goes back only on the last drop. */
    struct ns_pbuf_pool *hp = ns_pbuf_pool_new(0, 1 << 20);
    assert_non_null(hp);
    pb = ns_pbuf_alloc(hp, 0, 4000);
    assert_non_null(pb);
    ns_pbuf_ref(pb);
    ns_pbuf_free(pb);
    assert_int_equal(stats(hp).heap_bytes, 4000);
    ns_pbuf_free(pb);
    assert_int_equal(stats(hp).heap_bytes, 0);
    pool_done(hp);
    pool_done(pool);
}

/* --- data bounds --------------------------------------------------------- */

static void test_push_pull_trim_put(void **state)
{
    (void)state;
    struct ns_pbuf_pool *pool = ns_pbuf_pool_new(1, 0);
    uint8_t payload[100];
    assert_non_null(pool);
    fill(payload, sizeof(payload), 1);
    struct ns_pbuf *pb = ns_pbuf_from(pool, payload, sizeof(payload));
    assert_non_null(pb);
    assert_int_equal(ns_pbuf_headroom(pb), NS_PBUF_HEADROOM);
    assert_int_equal(pb->len, 100);
    assert_memory_equal(ns_pbuf_data(pb), payload, 100);
    uint8_t *data0 = ns_pbuf_data(pb);

    /* push: into the headroom, data stays where it was */
    uint8_t *hdr = ns_pbuf_push(pb, 14);
    assert_ptr_equal(hdr, data0 - 14);
    assert_ptr_equal(ns_pbuf_data(pb), hdr);
    assert_int_equal(pb->len, 114);
    assert_int_equal(ns_pbuf_headroom(pb), NS_PBUF_HEADROOM - 14);
    assert_memory_equal(hdr + 14, payload, 100);
    /* beyond the headroom: NULL, nothing changes */
    assert_null(ns_pbuf_push(pb, NS_PBUF_HEADROOM - 14 + 1));
    assert_null(ns_pbuf_push(pb, UINT32_MAX));
    assert_int_equal(ns_pbuf_headroom(pb), NS_PBUF_HEADROOM - 14);
    assert_int_equal(pb->len, 114);
    /* exactly the headroom */
    assert_ptr_equal(ns_pbuf_push(pb, NS_PBUF_HEADROOM - 14), pb->buf);
    assert_int_equal(ns_pbuf_headroom(pb), 0);
    assert_int_equal(pb->len, NS_PBUF_HEADROOM + 100);
    assert_null(ns_pbuf_push(pb, 1));

    /* pull: back off the front */
    assert_ptr_equal(ns_pbuf_pull(pb, NS_PBUF_HEADROOM), data0);
    assert_int_equal(pb->len, 100);
    assert_null(ns_pbuf_pull(pb, 101));
    assert_null(ns_pbuf_pull(pb, UINT32_MAX));
    assert_ptr_equal(ns_pbuf_data(pb), data0);
    assert_int_equal(pb->len, 100);
    assert_ptr_equal(ns_pbuf_pull(pb, 20), data0 + 20);
    assert_memory_equal(ns_pbuf_data(pb), payload + 20, 80);
    assert_int_equal(pb->len, 80);

    /* trim: shortens only */
    ns_pbuf_trim(pb, 1000);
    assert_int_equal(pb->len, 80);
    ns_pbuf_trim(pb, 81);
    assert_int_equal(pb->len, 80);
    ns_pbuf_trim(pb, 80);
    assert_int_equal(pb->len, 80);
    ns_pbuf_trim(pb, 30);
    assert_int_equal(pb->len, 30);
    assert_ptr_equal(ns_pbuf_data(pb), data0 + 20);

    /* put: append into the tailroom */
    uint32_t tail = ns_pbuf_tailroom(pb);
    assert_int_equal(tail, NS_PBUF_SIZE - NS_PBUF_HEADROOM - 20 - 30);
    uint8_t *p = ns_pbuf_put(pb, 10);
    assert_ptr_equal(p, data0 + 20 + 30);
    assert_int_equal(pb->len, 40);
    assert_null(ns_pbuf_put(pb, tail - 10 + 1));
    assert_null(ns_pbuf_put(pb, UINT32_MAX));
    assert_int_equal(pb->len, 40);
    p = ns_pbuf_put(pb, tail - 10);
    assert_ptr_equal(p + (tail - 10), pb->buf + pb->cap);
    assert_int_equal(ns_pbuf_tailroom(pb), 0);
    assert_null(ns_pbuf_put(pb, 1));

    /* pull everything */
    uint32_t len = pb->len;
    assert_non_null(ns_pbuf_pull(pb, len));
    assert_int_equal(pb->len, 0);
    assert_ptr_equal(ns_pbuf_data(pb), pb->buf + pb->cap);
    ns_pbuf_free(pb);
    pool_done(pool);
}

/* --- heap buffers -------------------------------------------------------- */

static void test_heap_bounded(void **state)
{
    (void)state;
    const uint32_t big = 9000;
    const uint64_t need = NS_PBUF_HEADROOM + big;
    struct ns_pbuf_pool *pool = ns_pbuf_pool_new(2, 2 * need);
    assert_non_null(pool);

    /* The pool/heap boundary: headroom + len == NS_PBUF_SIZE is pooled. */
    struct ns_pbuf *edge = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, NS_PBUF_SIZE - NS_PBUF_HEADROOM);
    assert_non_null(edge);
    assert_int_equal(edge->flags & NS_PBUF_F_HEAP, 0);
    assert_int_equal(stats(pool).heap_bytes, 0);
    struct ns_pbuf *over = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, NS_PBUF_SIZE - NS_PBUF_HEADROOM + 1);
    assert_non_null(over);
    assert_true(over->flags & NS_PBUF_F_HEAP);
    assert_int_equal(stats(pool).heap_bytes, NS_PBUF_SIZE + 1);
    assert_int_equal(stats(pool).pool_free, 1);
    ns_pbuf_free(over);
    ns_pbuf_free(edge);
    assert_int_equal(stats(pool).heap_bytes, 0);

    struct ns_pbuf *a = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, big);
    assert_non_null(a);
    assert_true(a->flags & NS_PBUF_F_HEAP);
    assert_int_equal(a->cap, need);
    assert_int_equal(a->len, big);
    assert_int_equal(ns_pbuf_headroom(a), NS_PBUF_HEADROOM);
    assert_int_equal(ns_pbuf_tailroom(a), 0);
    assert_ptr_equal(a->pool, pool);
    memset(ns_pbuf_data(a), 0xab, big); /* all of it is writable */
    assert_int_equal(stats(pool).heap_bytes, need);
    assert_int_equal(stats(pool).pool_free, 2); /* pool untouched */

    struct ns_pbuf *b = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, big);
    assert_non_null(b); /* exactly at the cap: allowed */
    assert_int_equal(stats(pool).heap_bytes, 2 * need);
    /* The cap would be exceeded: refused and counted. */
    assert_null(ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, big));
    assert_int_equal(stats(pool).alloc_fail, 1);
    assert_int_equal(stats(pool).heap_bytes, 2 * need);
    /* Absurd sizes are refused, never wrapped. */
    assert_null(ns_pbuf_alloc(pool, UINT32_MAX, UINT32_MAX));
    assert_int_equal(stats(pool).alloc_fail, 2);
    /* Small buffers come from the pool, whatever the heap use. */
    struct ns_pbuf *c = ns_pbuf_alloc(pool, 0, 100);
    assert_non_null(c);
    assert_int_equal(c->flags & NS_PBUF_F_HEAP, 0); /* small: from the pool */

    ns_pbuf_free(a);
    assert_int_equal(stats(pool).heap_bytes, need);
    a = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, big);
    assert_non_null(a);
    ns_pbuf_free(a);
    ns_pbuf_free(b);
    ns_pbuf_free(c);
    assert_int_equal(stats(pool).alloc_fail, 2);
    pool_done(pool);

    /* An unbounded heap still refuses a buffer whose size does not fit
     * the 32-bit capacity (instead of truncating it). */
    pool = ns_pbuf_pool_new(0, UINT64_MAX);
    assert_non_null(pool);
    assert_null(ns_pbuf_alloc(pool, UINT32_MAX, 1));
    assert_null(ns_pbuf_alloc(pool, 1u << 31, 1u << 31));
    assert_int_equal(stats(pool).alloc_fail, 2);
    assert_int_equal(stats(pool).heap_bytes, 0);
    pool_done(pool);

    /* heap_max_bytes 0: no heap buffers at all. */
    pool = ns_pbuf_pool_new(1, 0);
    assert_non_null(pool);
    assert_null(ns_pbuf_alloc(pool, 0, NS_PBUF_SIZE + 1));
    assert_int_equal(stats(pool).alloc_fail, 1);
    pool_done(pool);
}

/* --- clone --------------------------------------------------------------- */
/* A clone into another pool (platform/iothread.c moves frames between the
 * pools of two threads): the copy is the other pool's, with the offload
 * metadata at the same offsets; the source's pool is not touched. */
static void test_clone_to_another_pool(void **state)
{
    (void)state;
    struct ns_pbuf_pool *a = ns_pbuf_pool_new(1, 1 << 17), *b = ns_pbuf_pool_new(1, 1 << 17);
    assert_non_null(a);
    assert_non_null(b);
    uint8_t big[3000];
    fill(big, sizeof(big), 5);
    struct ns_pbuf *src = ns_pbuf_from(a, big, sizeof(big)); /* heap: beyond NS_PBUF_SIZE */
    assert_non_null(src);
    ns_pbuf_csum_partial(src, 34, 16);
    src->gso_size = 1448;
    src->gso_type = NS_GSO_TCPV4;
    struct ns_pbuf *cl = ns_pbuf_clone_to(b, src);
    assert_non_null(cl);
    assert_ptr_equal(cl->pool, b);
    assert_true(cl->flags & NS_PBUF_F_HEAP);
    assert_true(cl->flags & NS_PBUF_F_CSUM_PARTIAL);
    assert_int_equal(cl->csum_start, src->csum_start);
    assert_int_equal(cl->csum_offset, 16);
    assert_int_equal(cl->gso_size, 1448);
    assert_int_equal(cl->gso_type, NS_GSO_TCPV4);
    assert_memory_equal(ns_pbuf_data(cl), big, sizeof(big));
    assert_int_equal(stats(b).heap_bytes, NS_PBUF_HEADROOM + sizeof(big));
    assert_int_equal(stats(a).heap_bytes, NS_PBUF_HEADROOM + sizeof(big));
    ns_pbuf_free(src);
    assert_int_equal(stats(a).heap_bytes, 0);
    /* A small one takes b's only pooled buffer; then b is empty. */
    src = ns_pbuf_from(a, big, 100);
    struct ns_pbuf *small = ns_pbuf_clone_to(b, src);
    assert_non_null(small);
    assert_int_equal(stats(b).pool_free, 0);
    assert_int_equal(stats(a).pool_free, 0);
    assert_null(ns_pbuf_clone_to(b, src));
    assert_int_equal(stats(b).alloc_fail, 1);
    assert_int_equal(stats(a).alloc_fail, 0);
    ns_pbuf_free(small);
    ns_pbuf_free(src);
    ns_pbuf_free(cl);
    pool_done(a);
    pool_done(b);
}


static void test_clone(void **state)
{
    (void)state;
    struct ns_pbuf_pool *pool = ns_pbuf_pool_new(2, 1 << 16);
    uint8_t payload[300];
    assert_non_null(pool);
    fill(payload, sizeof(payload), 9);

    struct ns_pbuf *src = ns_pbuf_from(pool, payload, sizeof(payload));
    assert_non_null(src);
    assert_non_null(ns_pbuf_pull(src, 14)); /* headroom now differs from default */
    src->ifindex = 3;
    src->flags |= NS_PBUF_F_L2_BCAST;
    src->time_us = 987654321;
    ns_pbuf_ref(src);

    struct ns_pbuf *cl = ns_pbuf_clone(src);
    assert_non_null(cl);
    assert_ptr_not_equal(cl, src);
    assert_ptr_not_equal(cl->buf, src->buf);
    assert_int_equal(cl->len, src->len);
    assert_int_equal(ns_pbuf_headroom(cl), ns_pbuf_headroom(src));
    assert_memory_equal(ns_pbuf_data(cl), payload + 14, sizeof(payload) - 14);
    assert_int_equal(cl->ifindex, 3);
    assert_int_equal(cl->flags, NS_PBUF_F_L2_BCAST);
    assert_true(cl->time_us == 987654321);
    assert_int_equal(cl->refcnt, 1); /* its own, not the source's */
    assert_null(cl->next);
    assert_ptr_equal(cl->pool, pool);
    /* A deep copy: writing one leaves the other alone. */
    ns_pbuf_data(cl)[0] ^= 0xff;
    assert_memory_equal(ns_pbuf_data(src), payload + 14, sizeof(payload) - 14);

    /* Pool empty: clone fails cleanly and is counted. */
    assert_int_equal(stats(pool).pool_free, 0);
    assert_null(ns_pbuf_clone(src));
    assert_int_equal(stats(pool).alloc_fail, 1);
    ns_pbuf_free(cl);
    ns_pbuf_free(src);
    ns_pbuf_free(src);

    /* A large (heap) buffer clones to a heap buffer... */
    uint8_t big[5000];
    fill(big, sizeof(big), 3);
    src = ns_pbuf_from(pool, big, sizeof(big));
    assert_non_null(src);
    assert_true(src->flags & NS_PBUF_F_HEAP);
    cl = ns_pbuf_clone(src);
    assert_non_null(cl);
    assert_true(cl->flags & NS_PBUF_F_HEAP);
    assert_memory_equal(ns_pbuf_data(cl), big, sizeof(big));
    assert_int_equal(stats(pool).heap_bytes, 2 * (NS_PBUF_HEADROOM + sizeof(big)));
    ns_pbuf_free(cl);
    /* ...and once trimmed small, to a pooled one without the heap flag. */
    ns_pbuf_trim(src, 100);
    src->flags |= NS_PBUF_F_L2_BCAST;
    cl = ns_pbuf_clone(src);
    assert_non_null(cl);
    assert_int_equal(cl->flags, NS_PBUF_F_L2_BCAST);
    assert_int_equal(cl->cap, NS_PBUF_SIZE);
    assert_memory_equal(ns_pbuf_data(cl), big, 100);
    ns_pbuf_free(cl);
    ns_pbuf_free(src);
    pool_done(pool);
}

/* --- queues -------------------------------------------------------------- */

static void test_queue_fifo(void **state)
{
    (void)state;
    enum { N = 5 };
    struct ns_pbuf_pool *pool = ns_pbuf_pool_new(N, 1 << 16);
    struct ns_pbuf_queue q;
    struct ns_pbuf *pb[N];
    assert_non_null(pool);
    ns_pbuf_queue_init(&q);
    assert_null(ns_pbuf_queue_pop(&q));
    assert_int_equal(q.count, 0);

    uint64_t bytes = 0;
    for (uint32_t i = 0; i < N; i++) {
        pb[i] = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, 10 * (i + 1));
        assert_non_null(pb[i]);
        pb[i]->next = pb[0]; /* stale link: push must not keep it */
        ns_pbuf_queue_push(&q, pb[i]);
        bytes += 10 * (i + 1);
        assert_int_equal(q.count, i + 1);
        assert_int_equal(q.bytes, bytes);
        assert_ptr_equal(q.head, pb[0]);
        assert_ptr_equal(q.tail, pb[i]);
        assert_null(q.tail->next);
    }
    for (uint32_t i = 0; i < 2; i++) {
        struct ns_pbuf *p = ns_pbuf_queue_pop(&q);
        assert_ptr_equal(p, pb[i]);
        assert_null(p->next);
        bytes -= p->len;
        assert_int_equal(q.count, N - 1 - i);
        assert_int_equal(q.bytes, bytes);
        ns_pbuf_free(p);
    }
    /* Drain the rest, then reuse the empty queue. */
    for (uint32_t i = 2; i < N; i++)
        assert_ptr_equal(ns_pbuf_queue_pop(&q), pb[i]);
    assert_null(ns_pbuf_queue_pop(&q));
    assert_null(q.head);
    assert_null(q.tail);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
    ns_pbuf_queue_push(&q, pb[4]);
    assert_ptr_equal(q.head, pb[4]);
    assert_ptr_equal(q.tail, pb[4]);
    ns_pbuf_queue_push(&q, pb[2]);
    assert_ptr_equal(ns_pbuf_queue_pop(&q), pb[4]);
    assert_ptr_equal(ns_pbuf_queue_pop(&q), pb[2]);
    ns_pbuf_free(pb[2]);
    ns_pbuf_free(pb[3]);
    ns_pbuf_free(pb[4]);
    assert_int_equal(stats(pool).pool_free, N);
    pool_done(pool);
}

static void test_queue_purge_and_chain(void **state)
{
    (void)state;
    struct ns_pbuf_pool *pool = ns_pbuf_pool_new(4, 1 << 16);
    struct ns_pbuf_queue q;
    assert_non_null(pool);
    ns_pbuf_queue_init(&q);
    for (uint32_t i = 0; i < 4; i++)
        ns_pbuf_queue_push(&q, ns_pbuf_alloc(pool, 0, 100));
    struct ns_pbuf *heap = ns_pbuf_alloc(pool, 0, 4000);
    assert_non_null(heap);
    ns_pbuf_queue_push(&q, heap);
    assert_int_equal(q.count, 5);
    assert_int_equal(q.bytes, 4 * 100 + 4000);
    assert_int_equal(stats(pool).pool_free, 0);
    /* A reference held elsewhere survives the purge. */
    ns_pbuf_ref(heap);
    ns_pbuf_queue_purge(&q);
    assert_null(q.head);
    assert_null(q.tail);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
    assert_int_equal(stats(pool).pool_free, 4);
    assert_int_equal(stats(pool).heap_bytes, 4000);
    assert_int_equal(heap->refcnt, 1);
    ns_pbuf_free(heap);
    ns_pbuf_queue_purge(&q); /* empty: harmless */

    /* free_chain walks `next` links. */
    struct ns_pbuf *a = ns_pbuf_alloc(pool, 0, 1);
    struct ns_pbuf *b = ns_pbuf_alloc(pool, 0, 1);
    struct ns_pbuf *c = ns_pbuf_alloc(pool, 0, 5000);
    assert_true(a && b && c);
    a->next = b;
    b->next = c;
    ns_pbuf_free_chain(a);
    ns_pbuf_free_chain(NULL);
    pool_done(pool);
}

static void test_empty_pool(void **state)
{
    (void)state;
    /* A pool with no pooled buffers still serves the heap. */
    struct ns_pbuf_pool *pool = ns_pbuf_pool_new(0, 1 << 16);
    assert_non_null(pool);
    assert_int_equal(stats(pool).pool_total, 0);
    assert_null(ns_pbuf_alloc(pool, 0, 10));
    assert_int_equal(stats(pool).alloc_fail, 1);
    struct ns_pbuf *pb = ns_pbuf_alloc(pool, 0, NS_PBUF_SIZE + 1);
    assert_non_null(pb);
    ns_pbuf_free(pb);
    pool_done(pool);
    ns_pbuf_pool_free(NULL); /* ignored */
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_until_empty),
        cmocka_unit_test(test_alloc_resets_metadata),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_push_pull_trim_put),
        cmocka_unit_test(test_heap_bounded),
        cmocka_unit_test(test_clone),
        cmocka_unit_test(test_clone_to_another_pool),
        cmocka_unit_test(test_queue_fifo),
        cmocka_unit_test(test_queue_purge_and_chain),
        cmocka_unit_test(test_empty_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
