/* tests/unit/test_ring.c — the byte ring behind TCP's socket buffers
 * (base/ring.h): storage allocated on first use and grown by doubling as
 * data needs it, never past the cap; contents kept in order across growth,
 * wrap-around and cap changes.
 */
#include <stdlib.h>
#include <string.h>

#include "base/ring.h"
#include "testutil.h"

static void fill(uint8_t *p, uint32_t n, uint32_t from)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = (uint8_t)((from + i) * 7 + 3);
}

static void check(const uint8_t *p, uint32_t n, uint32_t from)
{
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(p[i], (uint8_t)((from + i) * 7 + 3));
}

/* No storage until data arrives; then only what the data needs. */
static void test_lazy_and_small(void **state)
{
    (void)state;
    struct ns_ring r = {0};
    assert_true(ns_ring_set_cap(&r, 6u << 20));
    assert_null(r.buf);
    assert_int_equal(r.size, 0);
    assert_int_equal(ns_ring_space(&r), 6u << 20);
    uint8_t d[100];
    fill(d, sizeof(d), 0);
    assert_int_equal(ns_ring_write(&r, d, sizeof(d)), 100);
    assert_non_null(r.buf);
    assert_int_equal(r.size, NS_RING_MIN_STORAGE);
    uint8_t out[100];
    assert_int_equal(ns_ring_read(&r, out, sizeof(out)), 100);
    check(out, 100, 0);
    ns_ring_free(&r);
    assert_null(r.buf);
    assert_int_equal(r.size, 0);
    assert_int_equal(r.cap, 6u << 20); /* the cap survives */
    /* A cap below the minimum allocation: storage is the cap. */
    struct ns_ring s = {0};
    ns_ring_set_cap(&s, 1000);
    assert_true(ns_ring_reserve(&s));
    assert_int_equal(s.size, 1000);
    assert_int_equal(ns_ring_write(&s, d, 100), 100);
    ns_ring_free(&s);
}

/* Storage doubles as data accumulates, stops at the cap, and the bytes
 * come out in order, wrapped or not. */
static void test_growth_keeps_order(void **state)
{
    (void)state;
    struct ns_ring r = {0};
    ns_ring_set_cap(&r, 100000);
    uint8_t *buf = malloc(200000), *out = malloc(200000);
    fill(buf, 200000, 0);
    uint32_t in = 0, got = 0;
    /* Keep a few bytes in the ring while writing odd sizes, so the head
     * moves and growth happens with wrapped contents. */
    while (got < 90000) {
        uint32_t w = ns_ring_write(&r, buf + in, 3001);
        in += w;
        uint32_t n = ns_ring_read(&r, out + got, 1000);
        got += n;
        assert_true(r.size <= r.cap);
        assert_true(r.len <= r.size);
    }
    check(out, got, 0);
    in += ns_ring_write(&r, buf + in, r.cap - r.len);
    assert_int_equal(in - got, r.cap);
    assert_int_equal(r.size, 100000); /* filled to the cap: storage is the cap */
    assert_int_equal(r.len, r.cap);
    assert_int_equal(ns_ring_write(&r, buf, 10), 0); /* full */
    /* Peek at an offset across the wrap. */
    uint8_t p[5000];
    assert_int_equal(ns_ring_peek(&r, 90000, p, 5000), 5000);
    check(p, 5000, got + 90000);
    assert_int_equal(ns_ring_peek(&r, 99000, p, 5000), 1000);
    free(buf);
    free(out);
    ns_ring_free(&r);
}

/* Doubling: 4096, 8192, 16384, ... up to what the data needs. */
static void test_doubling_sizes(void **state)
{
    (void)state;
    struct ns_ring r = {0};
    ns_ring_set_cap(&r, 1u << 20);
    static uint8_t d[40000];
    fill(d, sizeof(d), 5);
    ns_ring_write(&r, d, 4096);
    assert_int_equal(r.size, 4096);
    ns_ring_write(&r, d, 1);
    assert_int_equal(r.size, 8192);
    ns_ring_write(&r, d, 20000);
    assert_int_equal(r.size, 32768);
    assert_int_equal(r.len, 24097);
    ns_ring_free(&r);
}

/* Raising the cap (autotuning) allocates nothing and keeps the contents;
 * lowering it below the storage re-packs; below len it is refused. */
static void test_cap_changes(void **state)
{
    (void)state;
    struct ns_ring r = {0};
    ns_ring_set_cap(&r, 10000);
    uint8_t d[9000], out[9000];
    fill(d, sizeof(d), 0);
    assert_int_equal(ns_ring_write(&r, d, 9000), 9000);
    ns_ring_drop(&r, 5000); /* head moves: contents now start mid-storage */
    assert_int_equal(ns_ring_write(&r, d, 3000), 3000); /* wraps */
    uint32_t size = r.size;
    assert_true(ns_ring_set_cap(&r, 1u << 20));
    assert_int_equal(r.size, size); /* no allocation for a bigger cap */
    assert_int_equal(ns_ring_space(&r), (1u << 20) - 7000);
    assert_false(ns_ring_set_cap(&r, 6999)); /* below what it holds */
    assert_true(ns_ring_set_cap(&r, 7000));
    assert_int_equal(r.size, 7000);
    assert_int_equal(ns_ring_read(&r, out, 4000), 4000);
    check(out, 4000, 5000);
    assert_int_equal(ns_ring_read(&r, out, 3000), 3000);
    check(out, 3000, 0);
    ns_ring_free(&r);
}

/* Every change of the storage is charged to the ring's account (and its
 * parent); ns_ring_grow_bytes says beforehand what a write would add. */
static void test_storage_charged_to_account(void **state)
{
    (void)state;
    struct ns_mem_acct top = {0}, acct = {.parent = &top};
    struct ns_ring r = {.acct = &acct};
    assert_true(ns_ring_set_cap(&r, 100000));
    uint8_t d[20000];
    fill(d, sizeof(d), 0);
    assert_int_equal(ns_ring_grow_bytes(&r, 1), 4096);
    assert_int_equal(ns_ring_grow_bytes(&r, 0), 0);
    assert_int_equal(ns_ring_write(&r, d, 1000), 1000);
    assert_int_equal(acct.bytes, 4096);
    assert_int_equal(top.bytes, 4096);
    assert_int_equal(ns_ring_room(&r), 3096);
    assert_int_equal(ns_ring_grow_bytes(&r, 3096), 0);
    assert_int_equal(ns_ring_grow_bytes(&r, 3097), 4096);    /* 4096 -> 8192 */
    assert_int_equal(ns_ring_grow_bytes(&r, 19000), 28672);  /* -> 32768 */
    assert_int_equal(ns_ring_write(&r, d + 1000, 19000), 19000);
    assert_int_equal(acct.bytes, 32768);
    assert_int_equal(ns_ring_grow_bytes(&r, 200000), 100000 - 32768); /* at most cap */
    /* Shrinking the cap re-packs the storage: charged too. */
    assert_true(ns_ring_set_cap(&r, 25000));
    assert_int_equal(acct.bytes, 25000);
    assert_int_equal(top.peak, 32768);
    uint8_t out[20000];
    assert_int_equal(ns_ring_read(&r, out, sizeof(out)), 20000);
    check(out, 20000, 0);
    ns_ring_free(&r);
    assert_int_equal(acct.bytes, 0);
    assert_int_equal(top.bytes, 0);
    assert_int_equal(top.peak, 32768);
    assert_true(ns_ring_reserve(&r));
    assert_int_equal(top.bytes, 4096);
    ns_ring_free(&r);
    assert_int_equal(top.bytes, 0);
}

/* A ring that drains gives its first 4 KiB block to the account's
 * spares (up to spare_max) and the next ring to need one takes that very
 * block; blocks that grew, and blocks past the bound, are freed; spares
 * are not charged. */
static void test_spare_blocks(void **state)
{
    (void)state;
    struct ns_mem_acct a = {.spare_max = 2};
    struct ns_ring r[3] = {{0}};
    uint8_t data[5000];
    fill(data, sizeof data, 0);
    for (int i = 0; i < 3; i++) {
        r[i].acct = &a;
        assert_true(ns_ring_set_cap(&r[i], 1u << 20));
        assert_int_equal(ns_ring_write(&r[i], data, 10), 10);
    }
    uint8_t *first = r[0].buf;
    for (int i = 0; i < 3; i++)
        ns_ring_free(&r[i]);
    assert_int_equal(a.nspare, 2); /* the third was freed: the bound */
    assert_int_equal(a.bytes, 0);  /* spares are not charged */
    /* Last in, first out: r[1]'s block, then r[0]'s. */
    assert_int_equal(ns_ring_write(&r[2], data, 10), 10);
    assert_int_equal(ns_ring_write(&r[2 - 1], data, 10), 10);
    assert_ptr_equal(r[1].buf, first);
    assert_int_equal(a.nspare, 0);
    assert_int_equal(a.bytes, 2 * NS_RING_MIN_STORAGE);
    /* Contents written into a reused block read back intact. A ring that
     * grows gives the block it outgrew to the spares, but not its grown
     * storage when it drains. */
    assert_int_equal(ns_ring_write(&r[1], data + 10, sizeof data - 10), sizeof data - 10);
    assert_int_equal(a.nspare, 1);
    uint8_t out[5000];
    assert_int_equal(ns_ring_read(&r[1], out, sizeof out), sizeof out);
    check(out, sizeof out, 0);
    ns_ring_free(&r[1]);
    assert_int_equal(a.nspare, 1);
    ns_ring_free(&r[2]);
    assert_int_equal(a.nspare, 2);
    ns_ring_spares_free(&a);
    assert_null(a.spare);
    assert_int_equal(a.nspare, 0);
    assert_int_equal(a.bytes, 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lazy_and_small),
        cmocka_unit_test(test_growth_keeps_order),
        cmocka_unit_test(test_doubling_sizes),
        cmocka_unit_test(test_cap_changes),
        cmocka_unit_test(test_storage_charged_to_account),
        cmocka_unit_test(test_spare_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
