/* tests/unit/test_impair.c — the impairment engine (dev/impair.h): MTU and
 * queue drops, exact serialization, loss/dup/reorder/corrupt statistics,
 * jitter without reordering, determinism; and the time-sorted frame queue. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "testutil.h"

#include "dev/impair.h"

struct impair_run {
    struct ns_link_params p;
    struct ns_rng rng;
    struct ns_impair_dir dir;
    struct ns_impair_stats st;
};

static void run_init(struct impair_run *r, uint64_t seed)
{
    memset(r, 0, sizeof(*r));
    ns_link_params_default(&r->p);
    ns_rng_seed(&r->rng, seed);
}

static int offer(struct impair_run *r, uint32_t len, uint32_t l2, uint64_t now,
                 struct ns_impair_verdict *v)
{
    return ns_impair_frame(&r->p, &r->rng, &r->dir, &r->st, len, l2, now, v);
}

static void test_defaults(void **state)
{
    (void)state;
    struct ns_link_params p;
    memset(&p, 0xa5, sizeof(p));
    ns_link_params_default(&p);
    assert_int_equal(p.delay_us, 0);
    assert_int_equal(p.jitter_us, 0);
    assert_int_equal(p.rate_bps, 0);
    assert_int_equal(p.queue_bytes, 0);
    assert_int_equal(p.mtu, 1500);
    assert_true(p.loss == 0.0 && p.dup == 0.0 && p.reorder == 0.0 && p.corrupt == 0.0);
    assert_int_equal(p.reorder_delay_us, 0);

    /* Defaults deliver every frame once, at once, and draw no randomness. */
    struct impair_run r;
    run_init(&r, 1);
    struct ns_rng before = r.rng;
    struct ns_impair_verdict v;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(offer(&r, 100, 14, 1000 + (uint64_t)i, &v), 0);
        assert_int_equal(v.count, 1);
        assert_int_equal(v.arrival_us[0], 1000 + (uint64_t)i);
        assert_int_equal(v.flags, 0);
    }
    assert_memory_equal(&before, &r.rng, sizeof(before));
    assert_int_equal(r.st.frames, 100);
    assert_int_equal(r.st.delivered, 100);
}

static void test_mtu_drop(void **state)
{
    (void)state;
    struct impair_run r;
    struct ns_impair_verdict v;
    run_init(&r, 1);
    /* Ethernet: the IP size is len - 14. */
    assert_int_equal(offer(&r, 1514, 14, 0, &v), 0);
    assert_int_equal(v.count, 1);
    assert_int_equal(offer(&r, 1515, 14, 0, &v), -EMSGSIZE);
    assert_int_equal(v.count, 0);
    /* IP device: no link header. */
    assert_int_equal(offer(&r, 1500, 0, 0, &v), 0);
    assert_int_equal(offer(&r, 1501, 0, 0, &v), -EMSGSIZE);
    assert_int_equal(r.st.mtu_drop, 2);
    assert_int_equal(r.st.frames, 4);
    assert_int_equal(r.st.delivered, 2);
    /* mtu 0: no limit. */
    r.p.mtu = 0;
    assert_int_equal(offer(&r, 65535, 14, 0, &v), 0);
}

static void test_serialization_exact(void **state)
{
    (void)state;
    struct impair_run r;
    struct ns_impair_verdict v;
    run_init(&r, 1);
    r.p.rate_bps = 1000000; /* 1 Mbit/s: 8 us per byte */
    r.p.delay_us = 500;
    /* Three 1000-byte frames back to back at t=0: 8000 us each. */
    for (uint64_t i = 1; i <= 3; i++) {
        assert_int_equal(offer(&r, 1000, 14, 0, &v), 0);
        assert_int_equal(v.arrival_us[0], i * 8000 + 500);
    }
    /* Offered while the link is busy (t=10000, busy until 24000). */
    assert_int_equal(offer(&r, 125, 14, 10000, &v), 0);
    assert_int_equal(v.arrival_us[0], 24000 + 1000 + 500);
    /* After an idle gap, serialization starts at now. */
    assert_int_equal(offer(&r, 125, 14, 100000, &v), 0);
    assert_int_equal(v.arrival_us[0], 100000 + 1000 + 500);

    /* A rate that does not divide: 100 bytes at 3 Mbit/s = 266.67 us. The
     * remainder carries, so three frames take exactly 800 us. */
    run_init(&r, 1);
    r.p.rate_bps = 3000000;
    assert_int_equal(offer(&r, 100, 14, 0, &v), 0);
    assert_int_equal(v.arrival_us[0], 266);
    assert_int_equal(offer(&r, 100, 14, 0, &v), 0);
    assert_int_equal(v.arrival_us[0], 533);
    assert_int_equal(offer(&r, 100, 14, 0, &v), 0);
    assert_int_equal(v.arrival_us[0], 800);
    /* 1000 frames later the total is still exact: 1003 * 800/3 rounded down. */
    for (int i = 0; i < 1000; i++)
        offer(&r, 100, 14, 0, &v);
    assert_int_equal(v.arrival_us[0], 1003ull * 800 / 3);

    /* Extremes do not overflow: 64 KiB at 1 bit/s, and a huge rate. */
    run_init(&r, 1);
    r.p.mtu = 0;
    r.p.rate_bps = 1;
    assert_int_equal(offer(&r, 65535, 0, 0, &v), 0);
    assert_int_equal(v.arrival_us[0], 65535ull * 8 * 1000000);
    run_init(&r, 1);
    r.p.rate_bps = UINT64_MAX;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(offer(&r, 1500, 0, 7, &v), 0);
        assert_int_equal(v.arrival_us[0], 7);
    }
}

static void test_queue_tail_drop_exact(void **state)
{
    (void)state;
    struct impair_run r;
    struct ns_impair_verdict v;
    run_init(&r, 1);
    r.p.rate_bps = 1000000; /* 1 byte = 8 us */
    r.p.queue_bytes = 3000;
    /* Backlog before each 1000-byte frame at t=0: 0, 1000, 2000 -> fit
     * (2000 + 1000 = 3000 is not > 3000); the fourth (3000 + 1000) drops. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(offer(&r, 1000, 14, 0, &v), 0);
    assert_int_equal(offer(&r, 1000, 14, 0, &v), -ENOBUFS);
    assert_int_equal(v.count, 0);
    assert_int_equal(r.st.queue_drop, 1);
    /* A drop does not occupy the link: the busy time is still 24000. At
     * t=8000 the backlog is 2000 bytes: 1000 fits, 1001 does not. */
    assert_int_equal(offer(&r, 1001, 14, 8000, &v), -ENOBUFS);
    assert_int_equal(offer(&r, 1000, 14, 8000, &v), 0);
    assert_int_equal(v.arrival_us[0], 32000);
    assert_int_equal(r.st.queue_drop, 2);
    assert_int_equal(r.st.frames, 6);
    assert_int_equal(r.st.delivered, 4);
    /* Once drained, a full queue's worth fits again (one big frame). */
    r.p.mtu = 0;
    assert_int_equal(offer(&r, 3001, 14, 32000, &v), -ENOBUFS);
    assert_int_equal(offer(&r, 3000, 14, 32000, &v), 0);
    /* Unlimited rate never queues, whatever queue_bytes says. */
    run_init(&r, 1);
    r.p.queue_bytes = 10;
    for (int i = 0; i < 10; i++)
        assert_int_equal(offer(&r, 1000, 14, 0, &v), 0);
}

static void test_loss_rate(void **state)
{
    (void)state;
    struct impair_run r;
    struct ns_impair_verdict v;
    uint64_t seed = ns_test_seed(42);
    run_init(&r, seed);
    r.p.loss = 0.1;
    const int n = 100000;
    int lost = 0;
    for (int i = 0; i < n; i++) {
        NS_ASSERT_SEED(offer(&r, 100, 14, (uint64_t)i, &v) == 0);
        if (v.count == 0) {
            NS_ASSERT_SEED(v.flags & NS_IMPAIR_LOST);
            lost++;
        }
    }
    /* Binomial(1e5, 0.1): sd = 94.9; 6 sd is ~570. */
    double sd = sqrt(n * 0.1 * 0.9);
    NS_ASSERT_SEED(fabs(lost - n * 0.1) < 6 * sd);
    NS_ASSERT_SEED(r.st.lost == (uint64_t)lost);
    NS_ASSERT_SEED(r.st.delivered == (uint64_t)(n - lost));
    NS_ASSERT_SEED(r.st.frames == (uint64_t)n);

    /* loss 1.0 drops everything, loss 0 nothing. */
    run_init(&r, seed);
    r.p.loss = 1.0;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(offer(&r, 100, 14, 0, &v), 0);
        assert_int_equal(v.count, 0);
    }
    assert_int_equal(r.st.lost, 100);
}

static void test_dup_reorder_corrupt(void **state)
{
    (void)state;
    struct impair_run r;
    struct ns_impair_verdict v;
    uint64_t seed = ns_test_seed(7);
    const int n = 20000;

    /* Duplication: two copies, the second not before the first. */
    run_init(&r, seed);
    r.p.dup = 0.25;
    r.p.delay_us = 100;
    int dups = 0;
    for (int i = 0; i < n; i++) {
        NS_ASSERT_SEED(offer(&r, 100, 14, (uint64_t)i * 10, &v) == 0);
        NS_ASSERT_SEED(v.arrival_us[0] == (uint64_t)i * 10 + 100);
        if (v.count == 2) {
            NS_ASSERT_SEED(v.flags & NS_IMPAIR_DUPLICATED);
            NS_ASSERT_SEED(v.arrival_us[1] >= v.arrival_us[0]);
            NS_ASSERT_SEED(v.arrival_us[1] <= v.arrival_us[0] + 1000);
            dups++;
        } else {
            NS_ASSERT_SEED(v.count == 1 && !(v.flags & NS_IMPAIR_DUPLICATED));
        }
    }
    NS_ASSERT_SEED(fabs(dups - n * 0.25) < 6 * sqrt(n * 0.25 * 0.75));
    NS_ASSERT_SEED(r.st.duplicated == (uint64_t)dups);
    NS_ASSERT_SEED(r.st.delivered == (uint64_t)(n + dups));

    /* Reordering: held back by exactly reorder_delay_us; the next in-order
     * frame is not held back behind it (it overtakes). */
    run_init(&r, seed);
    r.p.reorder = 0.1;
    r.p.reorder_delay_us = 5000;
    r.p.delay_us = 100;
    int reordered = 0, overtaken = 0;
    uint64_t last_reordered = 0;
    for (int i = 0; i < n; i++) {
        uint64_t now = (uint64_t)i * 10;
        NS_ASSERT_SEED(offer(&r, 100, 14, now, &v) == 0);
        if (v.flags & NS_IMPAIR_REORDERED) {
            NS_ASSERT_SEED(v.arrival_us[0] == now + 100 + 5000);
            last_reordered = v.arrival_us[0];
            reordered++;
        } else {
            NS_ASSERT_SEED(v.arrival_us[0] == now + 100);
            if (v.arrival_us[0] < last_reordered)
                overtaken++;
        }
    }
    NS_ASSERT_SEED(fabs(reordered - n * 0.1) < 6 * sqrt(n * 0.1 * 0.9));
    NS_ASSERT_SEED(r.st.reordered == (uint64_t)reordered);
    NS_ASSERT_SEED(overtaken > 0);

    /* Corruption: one bit, after the Ethernet header, spread over the
     * whole payload. */
    run_init(&r, seed);
    r.p.corrupt = 0.5;
    int corrupted = 0;
    uint32_t min_bit = UINT32_MAX, max_bit = 0;
    for (int i = 0; i < n; i++) {
        NS_ASSERT_SEED(offer(&r, 64, 14, 0, &v) == 0);
        NS_ASSERT_SEED(v.count == 1);
        if (v.flags & NS_IMPAIR_CORRUPT) {
            NS_ASSERT_SEED(v.corrupt_bit >= 14 * 8 && v.corrupt_bit < 64 * 8);
            min_bit = v.corrupt_bit < min_bit ? v.corrupt_bit : min_bit;
            max_bit = v.corrupt_bit > max_bit ? v.corrupt_bit : max_bit;
            corrupted++;
        }
    }
    NS_ASSERT_SEED(fabs(corrupted - n * 0.5) < 6 * sqrt(n * 0.25));
    NS_ASSERT_SEED(r.st.corrupted == (uint64_t)corrupted);
    NS_ASSERT_SEED(min_bit == 14 * 8 && max_bit == 64 * 8 - 1);

    /* ns_impair_flip flips exactly that bit. */
    uint8_t buf[4] = {0};
    ns_impair_flip(buf, 8 * 2 + 5);
    assert_int_equal(buf[2], 0x20);
    assert_int_equal(buf[0] | buf[1] | buf[3], 0);
}

static void test_jitter_keeps_order(void **state)
{
    (void)state;
    struct impair_run r;
    struct ns_impair_verdict v;
    uint64_t seed = ns_test_seed(99);
    run_init(&r, seed);
    r.p.delay_us = 1000;
    r.p.jitter_us = 500;
    uint64_t prev = 0, min_extra = UINT64_MAX, max_extra = 0;
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t now = i * 10; /* much closer together than the jitter */
        NS_ASSERT_SEED(offer(&r, 100, 14, now, &v) == 0);
        uint64_t a = v.arrival_us[0];
        NS_ASSERT_SEED(a >= prev); /* never reordered */
        NS_ASSERT_SEED(a >= now + 1000);
        /* The FIFO floor is an earlier frame's arrival, itself at most
         * 500 us late for an earlier `now`: never more than 500 us here. */
        uint64_t extra = a - now - 1000;
        NS_ASSERT_SEED(extra <= 500);
        min_extra = extra < min_extra ? extra : min_extra;
        max_extra = extra > max_extra ? extra : max_extra;
        prev = a;
    }
    NS_ASSERT_SEED(min_extra < max_extra && max_extra == 500); /* real spread */
    NS_ASSERT_SEED(r.st.reordered == 0);

    /* Sparse frames get independent uniform jitter in [0, 500]. */
    run_init(&r, seed);
    r.p.jitter_us = 500;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < 10000; i++) {
        offer(&r, 100, 14, i * 10000, &v);
        uint64_t extra = v.arrival_us[0] - i * 10000;
        NS_ASSERT_SEED(extra <= 500);
        sum += extra;
    }
    NS_ASSERT_SEED(fabs((double)sum / 10000 - 250.0) < 10.0);
}

/* Record every verdict of a run with all impairments on. */
static void run_all(uint64_t seed, struct ns_impair_verdict *out, int n, int *rcs)
{
    struct impair_run r;
    run_init(&r, seed);
    r.p.delay_us = 300;
    r.p.jitter_us = 200;
    r.p.rate_bps = 10000000;
    r.p.queue_bytes = 20000;
    r.p.loss = 0.05;
    r.p.dup = 0.05;
    r.p.reorder = 0.05;
    r.p.reorder_delay_us = 1000;
    r.p.corrupt = 0.05;
    for (int i = 0; i < n; i++)
        rcs[i] = offer(&r, 60 + (uint32_t)(i % 1400), 14, (uint64_t)i * 100, &out[i]);
}

static void test_determinism(void **state)
{
    (void)state;
    enum { N = 5000 };
    static struct ns_impair_verdict a[N], b[N], c[N];
    static int ra[N], rb[N], rc[N];
    uint64_t seed = ns_test_seed(2024);
    run_all(seed, a, N, ra);
    run_all(seed, b, N, rb);
    run_all(seed + 1, c, N, rc);
    NS_ASSERT_SEED(memcmp(ra, rb, sizeof(ra)) == 0);
    for (int i = 0; i < N; i++) {
        NS_ASSERT_SEED(a[i].count == b[i].count && a[i].flags == b[i].flags);
        NS_ASSERT_SEED(a[i].corrupt_bit == b[i].corrupt_bit);
        for (unsigned k = 0; k < a[i].count; k++)
            NS_ASSERT_SEED(a[i].arrival_us[k] == b[i].arrival_us[k]);
    }
    int differ = 0;
    for (int i = 0; i < N; i++)
        if (a[i].count != c[i].count || a[i].flags != c[i].flags ||
            (a[i].count && a[i].arrival_us[0] != c[i].arrival_us[0]))
            differ++;
    NS_ASSERT_SEED(differ > N / 20);
}

/* ---- frame queue ---------------------------------------------------------- */

static struct ns_pbuf *tagged(struct ns_pbuf_pool *pool, uint8_t tag, uint64_t due)
{
    struct ns_pbuf *pb = ns_pbuf_from(pool, &tag, 1);
    assert_non_null(pb);
    pb->time_us = due;
    return pb;
}

static void test_frameq(void **state)
{
    (void)state;
    struct ns_pbuf_pool *pool = ns_pbuf_pool_new(32, 0);
    struct ns_frameq q;
    ns_frameq_init(&q);
    assert_int_equal(ns_frameq_next_due(&q), NS_TIME_NEVER);
    assert_null(ns_frameq_pop_due(&q, UINT64_MAX));

    /* tag: due time order, FIFO among equal times. */
    ns_frameq_insert(&q, tagged(pool, 1, 100));
    ns_frameq_insert(&q, tagged(pool, 3, 200));
    ns_frameq_insert(&q, tagged(pool, 4, 200));
    ns_frameq_insert(&q, tagged(pool, 7, 500)); /* the reordered one */
    ns_frameq_insert(&q, tagged(pool, 5, 300)); /* overtakes it */
    ns_frameq_insert(&q, tagged(pool, 2, 100)); /* equal to the head: after it */
    ns_frameq_insert(&q, tagged(pool, 0, 50));  /* before everything */
    ns_frameq_insert(&q, tagged(pool, 6, 300));
    ns_frameq_insert(&q, tagged(pool, 8, 500));
    assert_int_equal(q.count, 9);
    assert_int_equal(ns_frameq_next_due(&q), 50);

    assert_null(ns_frameq_pop_due(&q, 49));
    uint8_t expect = 0;
    uint64_t times[] = {50, 100, 100, 200, 200, 300, 300, 500, 500};
    for (uint64_t now = 0; now <= 600; now += 50) {
        struct ns_pbuf *pb;
        while ((pb = ns_frameq_pop_due(&q, now))) {
            assert_true(pb->time_us <= now);
            assert_int_equal(pb->time_us, times[expect]);
            assert_int_equal(ns_pbuf_data(pb)[0], expect);
            assert_null(pb->next);
            expect++;
            ns_pbuf_free(pb);
        }
        assert_true(ns_frameq_next_due(&q) > now);
    }
    assert_int_equal(expect, 9);
    assert_int_equal(q.count, 0);
    assert_null(q.head);
    assert_null(q.tail);

    /* Tail stays right after out-of-order inserts: appending still works. */
    ns_frameq_insert(&q, tagged(pool, 1, 10));
    ns_frameq_insert(&q, tagged(pool, 0, 5));
    ns_frameq_insert(&q, tagged(pool, 2, 20));
    assert_int_equal(ns_pbuf_data(q.tail)[0], 2);

    /* Purge returns every buffer. */
    ns_frameq_purge(&q);
    assert_int_equal(q.count, 0);
    assert_int_equal(ns_frameq_next_due(&q), NS_TIME_NEVER);
    struct ns_pbuf_pool_stats ps;
    ns_pbuf_pool_stats(pool, &ps);
    assert_int_equal(ps.pool_free, ps.pool_total);
    ns_pbuf_pool_free(pool);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_mtu_drop),
        cmocka_unit_test(test_serialization_exact),
        cmocka_unit_test(test_queue_tail_drop_exact),
        cmocka_unit_test(test_loss_rate),
        cmocka_unit_test(test_dup_reorder_corrupt),
        cmocka_unit_test(test_jitter_keeps_order),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_frameq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
