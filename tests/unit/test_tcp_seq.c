/* tests/unit/test_tcp_seq.c — sequence-space comparisons and windows
 * (RFC 9293 §3.4) across the 2^32 wrap and at the 2^31 ambiguity, on
 * purpose (STYLE §10). */
#include <stdint.h>

#include "testutil.h"

#include "base/rng.h"
#include "tcp/tcp_seq.h"

#define HALF 0x80000000u /* 2^31 */

/* Check every comparison for a pair with a strictly before b. */
static void check_before(uint32_t a, uint32_t b)
{
    assert_true(SEQ_LT(a, b));
    assert_true(SEQ_LEQ(a, b));
    assert_false(SEQ_GT(a, b));
    assert_false(SEQ_GEQ(a, b));
    assert_false(SEQ_LT(b, a));
    assert_false(SEQ_LEQ(b, a));
    assert_true(SEQ_GT(b, a));
    assert_true(SEQ_GEQ(b, a));
    assert_int_equal(SEQ_MIN(a, b), a);
    assert_int_equal(SEQ_MIN(b, a), a);
    assert_int_equal(SEQ_MAX(a, b), b);
    assert_int_equal(SEQ_MAX(b, a), b);
}

static void test_seq_plain(void **state)
{
    (void)state;
    check_before(0, 1);
    check_before(1000, 2000);
    check_before(0x7ffffffeu, 0x7fffffffu);
    for (uint32_t a = 0; a < 4; a++) {
        assert_false(SEQ_LT(a, a));
        assert_true(SEQ_LEQ(a, a));
        assert_false(SEQ_GT(a, a));
        assert_true(SEQ_GEQ(a, a));
        assert_int_equal(SEQ_MIN(a, a), a);
        assert_int_equal(SEQ_MAX(a, a), a);
    }
}

static void test_seq_wrap(void **state)
{
    (void)state;
    /* Across 2^32: 0xffffffff is just before 0. */
    check_before(0xffffffffu, 0);
    check_before(0xfffffff0u, 0x10u);
    check_before(0xffffff00u, 0x000000ffu);
    /* Plain unsigned order would say the opposite. */
    assert_true(0xffffffffu > 0u);
    assert_true(SEQ_LT(0xffffffffu, 0u));
    /* Around 2^31, which is not special by itself. */
    check_before(0x7fffffffu, HALF);
    check_before(HALF - 10, HALF + 10);
    /* The furthest ahead that still compares as after: 2^31 - 1. */
    check_before(0, HALF - 1);
    check_before(0xfffffff0u, 0xfffffff0u + (HALF - 1));
    check_before(HALF, 0xffffffffu);
    /* 2^31 + 1 ahead wraps around to "before". */
    check_before(HALF + 1, 0);
    check_before(10 - (HALF - 1), 10);
}

static void test_seq_half_apart(void **state)
{
    (void)state;
    /* Exactly 2^31 apart there is no order (RFC 1982 §3.2 leaves it
     * undefined): the (int32_t) difference is INT32_MIN both ways, so each
     * is "less than" the other. Documented in tcp_seq.h; callers must keep
     * windows below 2^31 (RFC 7323 §2.3 bounds them at 2^30). */
    const uint32_t pairs[][2] = {{0, HALF}, {1, HALF + 1}, {0xffffffffu, HALF - 1}, {HALF, 0}};
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        uint32_t a = pairs[i][0], b = pairs[i][1];
        assert_true(SEQ_LT(a, b));
        assert_true(SEQ_LT(b, a));
        assert_false(SEQ_GT(a, b));
        assert_false(SEQ_GT(b, a));
        assert_int_equal(SEQ_MIN(a, b), b);
        assert_int_equal(SEQ_MAX(a, b), a);
    }
}

static void test_seq_args_once(void **state)
{
    (void)state;
    /* The macros evaluate each argument once and convert to uint32_t. */
    uint32_t i = 5;
    assert_true(SEQ_LT(i++, 6));
    assert_int_equal(i, 6);
    assert_int_equal(SEQ_MAX(i++, 0xfffffffeu), 6);
    assert_int_equal(i, 7);
    /* A wider value is reduced modulo 2^32 like any sequence number. */
    uint64_t wide = 0x100000005ull;
    assert_true(SEQ_LT((uint32_t)wide, 6));
}

static void test_seq_in_window(void **state)
{
    (void)state;
    /* [1000, 1010) */
    assert_false(seq_in_window(999, 1000, 10));
    assert_true(seq_in_window(1000, 1000, 10));
    assert_true(seq_in_window(1009, 1000, 10));
    assert_false(seq_in_window(1010, 1000, 10));
    /* Empty window: nothing is inside, not even lo. */
    assert_false(seq_in_window(1000, 1000, 0));
    assert_false(seq_in_window(0, 0, 0));
    assert_false(seq_in_window(0xffffffffu, 0xffffffffu, 0));
    /* Length 1. */
    assert_true(seq_in_window(7, 7, 1));
    assert_false(seq_in_window(8, 7, 1));
    assert_false(seq_in_window(6, 7, 1));
    /* A window across 2^32: [0xfffffff0, 0x10). */
    uint32_t lo = 0xfffffff0u;
    assert_false(seq_in_window(0xffffffefu, lo, 0x20));
    assert_true(seq_in_window(0xfffffff0u, lo, 0x20));
    assert_true(seq_in_window(0xffffffffu, lo, 0x20));
    assert_true(seq_in_window(0, lo, 0x20));
    assert_true(seq_in_window(0xf, lo, 0x20));
    assert_false(seq_in_window(0x10, lo, 0x20));
    /* Ending exactly at 2^32: [0xffffff00, 0). */
    assert_true(seq_in_window(0xffffffffu, 0xffffff00u, 0x100));
    assert_false(seq_in_window(0, 0xffffff00u, 0x100));
    /* Windows of 2^31 and more have no 2^31 ambiguity: the test measures
     * the distance past lo. */
    assert_true(seq_in_window(HALF - 1, 0, HALF));
    assert_false(seq_in_window(HALF, 0, HALF));
    assert_true(seq_in_window(HALF, 0, HALF + 1));
    assert_false(seq_in_window(lo - 1, lo, 0xffffffffu));
    assert_true(seq_in_window(lo - 2, lo, 0xffffffffu));
    assert_true(seq_in_window(lo + 5, lo, 0xffffffffu));
}

/* Random pairs: the comparisons agree with the signed distance and with
 * each other, and seq_in_window with an explicit walk for short windows. */
static void test_seq_random(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x5e9));
    for (int iter = 0; iter < 100000; iter++) {
        uint32_t a = (uint32_t)ns_rng_next(&rng);
        /* Half the time near a wrap point, half anywhere. */
        if (ns_rng_below(&rng, 2))
            a = (ns_rng_below(&rng, 2) ? 0u : HALF) + (uint32_t)ns_rng_below(&rng, 64) - 32u;
        uint32_t d = (uint32_t)ns_rng_below(&rng, HALF); /* 0 .. 2^31 - 1 */
        uint32_t b = a + d;
        if (d == 0) {
            NS_ASSERT_SEED(SEQ_LEQ(a, b) && SEQ_GEQ(a, b) && !SEQ_LT(a, b) && !SEQ_GT(a, b));
        } else {
            NS_ASSERT_SEED(SEQ_LT(a, b) && SEQ_GT(b, a) && !SEQ_GEQ(a, b) && !SEQ_LEQ(b, a));
            NS_ASSERT_SEED(SEQ_MIN(a, b) == a && SEQ_MAX(a, b) == b);
            NS_ASSERT_SEED(SEQ_MIN(b, a) == a && SEQ_MAX(b, a) == b);
        }
        uint32_t len = (uint32_t)ns_rng_below(&rng, 40);
        uint32_t seq = a + (uint32_t)ns_rng_below(&rng, 48) - 4u;
        bool inside = false;
        for (uint32_t k = 0; k < len; k++)
            if (a + k == seq)
                inside = true;
        NS_ASSERT_SEED(seq_in_window(seq, a, len) == inside);
        /* In the window (len < 2^31) iff lo <= seq < lo + len by SEQ_*. */
        NS_ASSERT_SEED(inside == (len > 0 && SEQ_GEQ(seq, a) && SEQ_LT(seq, a + len)));
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_plain),
        cmocka_unit_test(test_seq_wrap),
        cmocka_unit_test(test_seq_half_apart),
        cmocka_unit_test(test_seq_args_once),
        cmocka_unit_test(test_seq_in_window),
        cmocka_unit_test(test_seq_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
