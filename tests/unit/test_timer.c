/* tests/unit/test_timer.c — the hierarchical timer wheel (base/timer.c).
 *
 * Every test drives the wheel through a small fixture that keeps its own
 * model: how many timers are pending, and the arm order of each timer. The
 * common callback checks, for every timer that fires, that
 *   - it is no longer pending and the wheel's count matches the model;
 *   - it was due (expiry <= the time passed to advance);
 *   - it comes after the previous one in (expiry, arm order): expiry order
 *     with FIFO among equal expiries;
 * and then performs the timer's scripted action (re-arm itself, cancel or
 * arm others). Randomized tests take their seed from ns_test_seed().
 */
#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/timer.h"

struct fixture;

struct tt {
    struct ns_timer t; /* first: a struct ns_timer * is a struct tt * */
    struct fixture *fx;
    uint32_t id;
    uint64_t eff;     /* expiry as ordered: max(expiry, wheel time at arm) */
    uint64_t seq;     /* arm order */
    uint32_t fired;
    uint64_t fired_at;        /* wheel time when it last fired */
    /* scripted action when it fires */
    uint64_t period;          /* re-arm itself at expiry + period (0: no) */
    uint32_t repeat;          /* how many more times to re-arm */
    uint32_t again;           /* re-arm itself this many times at its own expiry */
    struct tt *cancel[4];     /* cancel these */
    struct tt *arm_other;     /* arm this one ... */
    uint64_t arm_other_at;    /* ... for this expiry */
};

struct fixture {
    struct ns_wheel *w;
    uint64_t live;       /* pending timers according to the model */
    uint64_t seq;        /* arm counter */
    uint64_t target;     /* now_us of the advance in progress */
    uint64_t last_eff, last_seq;
    bool any_fired;
    uint32_t *order;     /* ids in firing order (if non-NULL) */
    size_t norder, order_cap;
    uint64_t nfired;
    bool seeded;         /* failures print the seed */
};

#define FX_CHECK(fx, cond)                                                     \
    do {                                                                       \
        if ((fx)->seeded)                                                      \
            NS_ASSERT_SEED(cond);                                              \
        else                                                                   \
            assert_true(cond);                                                 \
    } while (0)

static void fx_init(struct fixture *fx, uint64_t now, size_t order_cap)
{
    memset(fx, 0, sizeof(*fx));
    fx->w = malloc(sizeof(*fx->w));
    assert_non_null(fx->w);
    ns_wheel_init(fx->w, now);
    if (order_cap) {
        fx->order = malloc(order_cap * sizeof(*fx->order));
        assert_non_null(fx->order);
        fx->order_cap = order_cap;
    }
}

static void fx_done(struct fixture *fx)
{
    free(fx->w);
    free(fx->order);
}

static void tt_fire(void *ctx, struct ns_timer *t, uint64_t now_us);

static void tt_init(struct fixture *fx, struct tt *x, uint32_t id)
{
    memset(x, 0, sizeof(*x));
    ns_timer_init(&x->t, tt_fire);
    x->fx = fx;
    x->id = id;
}

static void fx_arm(struct fixture *fx, struct tt *x, uint64_t e)
{
    if (!ns_timer_pending(&x->t))
        fx->live++;
    x->eff = e > fx->w->now_us ? e : fx->w->now_us;
    x->seq = fx->seq++;
    ns_timer_arm(fx->w, &x->t, e);
    FX_CHECK(fx, ns_timer_pending(&x->t));
    FX_CHECK(fx, x->t.expires_us == e);
    FX_CHECK(fx, ns_wheel_count(fx->w) == fx->live);
}

static void fx_cancel(struct fixture *fx, struct tt *x)
{
    if (ns_timer_pending(&x->t))
        fx->live--;
    ns_timer_cancel(fx->w, &x->t);
    FX_CHECK(fx, !ns_timer_pending(&x->t));
    FX_CHECK(fx, ns_wheel_count(fx->w) == fx->live);
}

static uint64_t fx_advance(struct fixture *fx, uint64_t now)
{
    fx->target = now > fx->w->now_us ? now : fx->w->now_us;
    uint64_t before = fx->nfired;
    uint64_t n = ns_wheel_advance(fx->w, now, fx);
    FX_CHECK(fx, n == fx->nfired - before);
    FX_CHECK(fx, fx->w->now_us == fx->target);
    FX_CHECK(fx, ns_wheel_count(fx->w) == fx->live);
    return n;
}

static void tt_fire(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    struct fixture *fx = ctx;
    struct tt *x = (struct tt *)t;

    FX_CHECK(fx, x->fx == fx);
    FX_CHECK(fx, !ns_timer_pending(t));
    FX_CHECK(fx, now_us == fx->target);
    FX_CHECK(fx, t->expires_us <= now_us);
    fx->live--;
    FX_CHECK(fx, ns_wheel_count(fx->w) == fx->live);
    /* expiry order, FIFO among equal expiries */
    if (fx->any_fired)
        FX_CHECK(fx, x->eff > fx->last_eff || (x->eff == fx->last_eff && x->seq > fx->last_seq));
    fx->any_fired = true;
    fx->last_eff = x->eff;
    fx->last_seq = x->seq;
    if (fx->order) {
        FX_CHECK(fx, fx->norder < fx->order_cap);
        fx->order[fx->norder++] = x->id;
    }
    fx->nfired++;
    x->fired++;
    x->fired_at = fx->w->now_us;

    for (size_t i = 0; i < sizeof(x->cancel) / sizeof(x->cancel[0]); i++)
        if (x->cancel[i])
            fx_cancel(fx, x->cancel[i]);
    if (x->arm_other)
        fx_arm(fx, x->arm_other, x->arm_other_at);
    if (x->again) {
        x->again--;
        fx_arm(fx, x, t->expires_us);
    }
    if (x->period && x->repeat) {
        x->repeat--;
        fx_arm(fx, x, t->expires_us + x->period);
    }
}

/* --- basics -------------------------------------------------------------- */

static void test_empty(void **state)
{
    (void)state;
    struct fixture fx;
    fx_init(&fx, 1000, 0);
    assert_int_equal(ns_wheel_count(fx.w), 0);
    assert_true(ns_wheel_next(fx.w) == UINT64_MAX);
    assert_int_equal(fx_advance(&fx, 5000000), 0);
    assert_true(ns_wheel_next(fx.w) == UINT64_MAX);
    /* Time never runs backwards. */
    assert_int_equal(fx_advance(&fx, 10), 0);
    assert_true(fx.w->now_us == 5000000);
    fx_done(&fx);
}

static void test_fire_once_at_expiry(void **state)
{
    (void)state;
    struct fixture fx;
    struct tt a;
    fx_init(&fx, 0, 4);
    tt_init(&fx, &a, 1);
    assert_false(ns_timer_pending(&a.t));
    fx_arm(&fx, &a, 100);
    assert_true(ns_wheel_next(fx.w) <= 100);
    assert_int_equal(fx_advance(&fx, 99), 0);
    assert_true(ns_timer_pending(&a.t));
    assert_true(ns_wheel_next(fx.w) == 100); /* exact once in level 0 */
    assert_int_equal(fx_advance(&fx, 100), 1);
    assert_int_equal(a.fired, 1);
    assert_false(ns_timer_pending(&a.t));
    assert_int_equal(fx_advance(&fx, 1000000), 0);
    assert_int_equal(a.fired, 1);
    fx_done(&fx);
}

static void test_fifo_equal_expiry(void **state)
{
    (void)state;
    enum { N = 8 };
    struct fixture fx;
    struct tt x[N];
    fx_init(&fx, 0, N);
    for (uint32_t i = 0; i < N; i++)
        tt_init(&fx, &x[i], i);
    /* Four armed far ahead (high level), four more after the wheel moved
     * close (low level): all eight must still fire in arm order. */
    const uint64_t e = 3 * 262144 + 4096 * 5 + 64 * 7 + 9;
    for (uint32_t i = 0; i < 4; i++)
        fx_arm(&fx, &x[i], e);
    assert_int_equal(fx_advance(&fx, e - 3), 0);
    for (uint32_t i = 4; i < N; i++)
        fx_arm(&fx, &x[i], e);
    /* Re-arming moves x[1] to the end of the FIFO. */
    fx_arm(&fx, &x[1], e);
    assert_int_equal(fx_advance(&fx, e), N);
    const uint32_t want[N] = {0, 2, 3, 4, 5, 6, 7, 1};
    assert_memory_equal(fx.order, want, sizeof(want));
    fx_done(&fx);
}

static void test_cancel_before_fire(void **state)
{
    (void)state;
    struct fixture fx;
    struct tt a, b, c, never;
    fx_init(&fx, 0, 4);
    tt_init(&fx, &a, 1);
    tt_init(&fx, &b, 2);
    tt_init(&fx, &c, 3);
    tt_init(&fx, &never, 4);
    fx_arm(&fx, &a, 10);       /* level 0 */
    fx_arm(&fx, &b, 10);       /* same slot as a */
    fx_arm(&fx, &c, 5000000);  /* high level */
    fx_cancel(&fx, &never);    /* never armed: harmless */
    fx_cancel(&fx, &a);
    fx_cancel(&fx, &a);        /* twice: harmless */
    assert_int_equal(ns_wheel_count(fx.w), 2);
    assert_true(ns_wheel_next(fx.w) == 10); /* b still there */
    fx_cancel(&fx, &b);
    /* The emptied slot no longer counts for next(). */
    assert_true(ns_wheel_next(fx.w) > 10 && ns_wheel_next(fx.w) <= 5000000);
    fx_cancel(&fx, &c);
    assert_true(ns_wheel_next(fx.w) == UINT64_MAX);
    assert_int_equal(fx_advance(&fx, 10000000), 0);
    assert_int_equal(a.fired + b.fired + c.fired, 0);
    /* A cancelled timer can be armed again. */
    fx_arm(&fx, &a, 10000001);
    assert_int_equal(fx_advance(&fx, 10000001), 1);
    assert_int_equal(a.fired, 1);
    fx_done(&fx);
}

static void test_rearm_moves(void **state)
{
    (void)state;
    struct fixture fx;
    struct tt a, b;
    fx_init(&fx, 0, 8);
    tt_init(&fx, &a, 1);
    tt_init(&fx, &b, 2);
    fx_arm(&fx, &a, 1000000);
    fx_arm(&fx, &b, 500);
    fx_arm(&fx, &a, 100); /* earlier */
    assert_int_equal(ns_wheel_count(fx.w), 2);
    assert_int_equal(fx_advance(&fx, 100), 1);
    assert_int_equal(a.fired, 1);
    fx_arm(&fx, &b, 1 << 20); /* later */
    assert_int_equal(fx_advance(&fx, 1000000), 0);
    assert_int_equal(b.fired, 0);
    assert_true(ns_timer_pending(&b.t));
    assert_int_equal(fx_advance(&fx, 1 << 20), 1);
    assert_int_equal(b.fired, 1);
    assert_int_equal(a.fired, 1);
    fx_done(&fx);
}

static void test_arm_in_past(void **state)
{
    (void)state;
    struct fixture fx;
    struct tt a, b, c, d;
    fx_init(&fx, 0, 8);
    tt_init(&fx, &a, 1);
    tt_init(&fx, &b, 2);
    tt_init(&fx, &c, 3);
    tt_init(&fx, &d, 4);
    assert_int_equal(fx_advance(&fx, 1000), 0);
    fx_arm(&fx, &d, 1001);
    fx_arm(&fx, &a, 500);
    fx_arm(&fx, &b, 0);
    fx_arm(&fx, &c, 1000);
    assert_true(ns_timer_pending(&a.t) && ns_timer_pending(&b.t) && ns_timer_pending(&c.t));
    assert_true(ns_wheel_next(fx.w) == 1000); /* due now */
    /* An advance that does not move time still fires what is due, in arm
     * order, and leaves the future timer alone. */
    assert_int_equal(fx_advance(&fx, 1000), 3);
    const uint32_t want[] = {1, 2, 3};
    assert_memory_equal(fx.order, want, sizeof(want));
    assert_true(ns_wheel_next(fx.w) == 1001);
    /* Also through an advance to an earlier time. */
    fx_arm(&fx, &a, 7);
    assert_int_equal(fx_advance(&fx, 5), 1);
    assert_int_equal(a.fired, 2);
    assert_int_equal(d.fired, 0);
    assert_int_equal(fx_advance(&fx, 1001), 1);
    assert_int_equal(d.fired, 1);
    fx_done(&fx);
}

/* --- callbacks ----------------------------------------------------------- */

static void test_periodic(void **state)
{
    (void)state;
    struct fixture fx;
    struct tt p, q;
    fx_init(&fx, 0, 64);
    tt_init(&fx, &p, 1);
    tt_init(&fx, &q, 2);
    p.period = 1000;
    p.repeat = 9;
    fx_arm(&fx, &p, 1000);
    q.period = 250;
    q.repeat = 1000; /* keeps going */
    fx_arm(&fx, &q, 250);
    /* One call covering all ten periods of p: every re-arm for <= now fires
     * in the same call, interleaved with q in expiry order (the fixture
     * checks the order). */
    assert_int_equal(fx_advance(&fx, 10000), 10 + 40);
    assert_int_equal(p.fired, 10);
    assert_false(ns_timer_pending(&p.t));
    assert_int_equal(q.fired, 40);
    assert_true(ns_timer_pending(&q.t));
    assert_true(q.t.expires_us == 10250);
    /* Small steps: q fires once per 250 us. */
    for (uint64_t now = 10001; now <= 12000; now++)
        fx_advance(&fx, now);
    assert_int_equal(q.fired, 48);

    fx_cancel(&fx, &q);
    assert_int_equal(ns_wheel_count(fx.w), 0);
    fx_done(&fx);
}

static void test_rearm_inside_callback(void **state)
{
    (void)state;
    struct fixture fx;
    struct tt r, s, x, y;
    fx_init(&fx, 12000, 16);
    tt_init(&fx, &r, 1);
    tt_init(&fx, &s, 2);
    tt_init(&fx, &x, 3);
    tt_init(&fx, &y, 4);
    /* r re-arms itself twice for its own (now past) expiry: it fires again
     * in the same call, behind s which was armed before the re-arm. */
    r.again = 2;
    fx_arm(&fx, &r, 12005);
    fx_arm(&fx, &s, 12005);
    /* x arms y for the advance's target: y fires in the same call, last. */
    x.arm_other = &y;
    x.arm_other_at = 20000;
    fx_arm(&fx, &x, 12003);
    assert_int_equal(fx_advance(&fx, 20000), 6);
    const uint32_t want[] = {3, 1, 2, 1, 1, 4};
    assert_int_equal(fx.norder, 6);
    assert_memory_equal(fx.order, want, sizeof(want));
    assert_int_equal(r.fired, 3);
    assert_int_equal(ns_wheel_count(fx.w), 0);
    fx_done(&fx);
}

static void test_cancel_others_in_callback(void **state)
{
    (void)state;
    struct fixture fx;
    struct tt a, b, c, d, e, f, g;
    fx_init(&fx, 0, 16);
    tt_init(&fx, &a, 1);
    tt_init(&fx, &b, 2);
    tt_init(&fx, &c, 3);
    tt_init(&fx, &d, 4);
    tt_init(&fx, &e, 5);
    tt_init(&fx, &f, 6);
    tt_init(&fx, &g, 7);
    /* a..d due together (already on the due list when a runs), e one
     * microsecond later, f far away; all start in the same high slot. */
    fx_arm(&fx, &a, 5000);
    fx_arm(&fx, &b, 5000);
    fx_arm(&fx, &c, 5000);
    fx_arm(&fx, &d, 5000);
    fx_arm(&fx, &e, 5001);
    fx_arm(&fx, &f, 1ull << 40);
    a.cancel[0] = &c;  /* due, not yet fired */
    a.cancel[1] = &e;  /* pending in the next slot */
    a.cancel[2] = &f;  /* pending far away */
    a.cancel[3] = &a;  /* itself: no longer pending, harmless */
    a.arm_other = &g;  /* due now: fires in this call, after d */
    a.arm_other_at = 5000;
    assert_int_equal(fx_advance(&fx, 6000), 4);
    const uint32_t want[] = {1, 2, 4, 7};
    assert_int_equal(fx.norder, 4);
    assert_memory_equal(fx.order, want, sizeof(want));
    assert_int_equal(c.fired + e.fired + f.fired, 0);
    assert_int_equal(ns_wheel_count(fx.w), 0);
    assert_true(ns_wheel_next(fx.w) == UINT64_MAX); /* no stale bitmap bits */
    assert_int_equal(fx_advance(&fx, 1ull << 41), 0);
    fx_done(&fx);
}

static void test_cancel_others_same_cascade(void **state)
{
    (void)state;
    struct fixture fx;
    struct tt k1, k2, k3, k4;
    fx_init(&fx, 0, 16);
    tt_init(&fx, &k1, 1);
    tt_init(&fx, &k2, 2);
    tt_init(&fx, &k3, 3);
    tt_init(&fx, &k4, 4);
    /* All four share one level-3 slot at arm time and cascade together;
     * k1 cancels two of its former slot mates after they moved down. */
    const uint64_t base = 300000;
    fx_arm(&fx, &k1, base);
    fx_arm(&fx, &k2, base + 1);
    fx_arm(&fx, &k3, base + 4096);
    fx_arm(&fx, &k4, base + 70000);
    k1.cancel[0] = &k2;
    k1.cancel[1] = &k3;
    assert_int_equal(fx_advance(&fx, base), 1);
    assert_int_equal(ns_wheel_count(fx.w), 1);
    assert_true(ns_wheel_next(fx.w) > base + 4096);
    fx_arm(&fx, &k2, base + 2);
    assert_int_equal(fx_advance(&fx, base + 100000), 2);
    const uint32_t want[] = {1, 2, 4};
    assert_memory_equal(fx.order, want, sizeof(want));
    assert_int_equal(k3.fired, 0);
    fx_done(&fx);
}

/* --- time: big jumps, small steps, next() -------------------------------- */

#define HOUR_US (3600ull * 1000 * 1000)

static void test_big_jump(void **state)
{
    (void)state;
    enum { N = 600 };
    struct fixture fx;
    struct tt *x = calloc(N, sizeof(*x));
    struct ns_rng rng;
    assert_non_null(x);
    ns_rng_seed(&rng, ns_test_seed(7));
    fx_init(&fx, 123456789, 0);
    fx.seeded = true;
    uint64_t start = fx.w->now_us;
    for (uint32_t i = 0; i < N; i++) {
        tt_init(&fx, &x[i], i);
        uint64_t e;
        if (i < 2 * 34) /* level edges: start + 2^k - 1 and start + 2^k */
            e = start + (1ull << (i / 2)) - (i % 2);
        else
            e = start + 1 + ns_rng_below(&rng, 5 * HOUR_US);
        fx_arm(&fx, &x[i], e);
    }
    NS_ASSERT_SEED(fx_advance(&fx, start + 5 * HOUR_US) == N);
    for (uint32_t i = 0; i < N; i++)
        NS_ASSERT_SEED(x[i].fired == 1 && x[i].fired_at == x[i].t.expires_us);
    NS_ASSERT_SEED(ns_wheel_count(fx.w) == 0);
    free(x);
    fx_done(&fx);
}

/* Step the wheel one microsecond at a time from `from` to `to`, checking
 * that every timer fires exactly at its expiry and that next() stays a
 * lower bound, exact for timers within the current 64 us block. */
static void step_check(struct fixture *fx, struct tt *x, size_t n, uint64_t from, uint64_t to)
{
    for (uint64_t now = from; now <= to; now++) {
        uint64_t min = UINT64_MAX;
        for (size_t i = 0; i < n; i++)
            if (ns_timer_pending(&x[i].t) && x[i].t.expires_us < min)
                min = x[i].t.expires_us;
        uint64_t next = ns_wheel_next(fx->w);
        assert_true(next <= min);
        if (min != UINT64_MAX && (min ^ fx->w->now_us) < 64)
            assert_true(next == min);
        fx_advance(fx, now);
        for (size_t i = 0; i < n; i++) {
            if (x[i].t.expires_us <= now) {
                assert_int_equal(x[i].fired, 1);
                assert_true(x[i].fired_at == x[i].t.expires_us);
            } else {
                assert_int_equal(x[i].fired, 0);
            }
        }
    }
}

static void test_small_steps(void **state)
{
    (void)state;
    static const uint64_t edges[] = {1, 62, 63, 64, 65, 127, 128, 4095, 4096, 4097, 4160,
                                     262143, 262144, 262145, 266240};
    enum { NE = sizeof(edges) / sizeof(edges[0]) };
    struct fixture fx;
    struct tt x[NE + 3];
    fx_init(&fx, 0, 0);
    for (uint32_t i = 0; i < NE; i++) {
        tt_init(&fx, &x[i], i);
        fx_arm(&fx, &x[i], edges[i]);
    }
    step_check(&fx, x, NE, 1, 266300);
    assert_int_equal(ns_wheel_count(fx.w), 0);

    /* Around 2^24 after a jump close to it. */
    const uint64_t m = 1ull << 24;
    for (uint32_t i = 0; i < 3; i++)
        tt_init(&fx, &x[i], i);
    fx_arm(&fx, &x[0], m - 1);
    fx_arm(&fx, &x[1], m);
    fx_arm(&fx, &x[2], m + 64);
    fx_advance(&fx, m - 200);
    step_check(&fx, x, 3, m - 199, m + 200);
    fx_done(&fx);
}

static void test_next_lower_bound_progress(void **state)
{
    (void)state;
    enum { N = 1500 };
    struct fixture fx;
    struct tt *x = calloc(N, sizeof(*x));
    struct ns_rng rng;
    assert_non_null(x);
    ns_rng_seed(&rng, ns_test_seed(11));
    fx_init(&fx, 1000, 0);
    fx.seeded = true;
    for (uint32_t i = 0; i < N; i++) {
        tt_init(&fx, &x[i], i);
        fx_arm(&fx, &x[i], fx.w->now_us + ns_rng_below(&rng, 1ull << (1 + ns_rng_below(&rng, 36))));
    }
    uint64_t iterations = 0;
    while (ns_wheel_count(fx.w) > 0) {
        NS_ASSERT_SEED(++iterations < (uint64_t)N * 64);
        uint64_t now = fx.w->now_us, min = UINT64_MAX;
        for (uint32_t i = 0; i < N; i++)
            if (ns_timer_pending(&x[i].t)) {
                uint64_t e = x[i].t.expires_us > now ? x[i].t.expires_us : now;
                if (e < min)
                    min = e;
            }
        uint64_t next = ns_wheel_next(fx.w);
        NS_ASSERT_SEED(next >= now);
        NS_ASSERT_SEED(next <= min);
        if ((min ^ now) < 64)
            NS_ASSERT_SEED(next == min);
        uint64_t fired = fx_advance(&fx, next);
        NS_ASSERT_SEED(fired > 0 || ns_wheel_next(fx.w) > next);
        /* Churn: arm (sometimes in the past) and cancel as a stack would. */
        uint32_t j = (uint32_t)ns_rng_below(&rng, N);
        switch (ns_rng_below(&rng, 8)) {
        case 0:
            fx_cancel(&fx, &x[j]);
            break;
        case 1:
            if (fx.w->now_us > 10)
                fx_arm(&fx, &x[j], fx.w->now_us - ns_rng_below(&rng, 10));
            break;
        case 2:
            fx_arm(&fx, &x[j], fx.w->now_us + 1 + ns_rng_below(&rng, 1u << 20));
            break;
        default:
            break;
        }
    }
    NS_ASSERT_SEED(ns_wheel_next(fx.w) == UINT64_MAX);
    free(x);
    fx_done(&fx);
}

/* Re-arming a timer that is the last of its slot, for an expiry in the
 * same slot, only changes its expiry (ns_timer_arm's shortcut); re-arming
 * one that is not the last moves it behind the others. The fixture checks
 * every firing against (expiry, arm order), so either done wrong shows. */
static void test_rearm_in_place(void **state)
{
    (void)state;
    struct fixture fx;
    struct tt a, b, c, d;
    fx_init(&fx, 1 << 12, 8);
    tt_init(&fx, &a, 1);
    tt_init(&fx, &b, 2);
    tt_init(&fx, &c, 3);
    tt_init(&fx, &d, 4);
    uint64_t t0 = fx.w->now_us;
    fx_arm(&fx, &a, t0 + 100); /* level 1: slots of 64 us */
    fx_arm(&fx, &b, t0 + 100);
    fx_arm(&fx, &a, t0 + 100); /* not the last: goes behind b */
    fx_arm(&fx, &c, t0 + 150);
    fx_arm(&fx, &c, t0 + 160); /* the last, same slot: in place */
    fx_arm(&fx, &d, t0 + 160); /* after c among equals */
    fx_advance(&fx, t0 + 200);
    assert_int_equal(fx.nfired, 4);
    assert_int_equal(fx.order[0], 2);
    assert_int_equal(fx.order[1], 1);
    assert_int_equal(fx.order[2], 3);
    assert_int_equal(fx.order[3], 4);
    assert_int_equal(c.fired_at, t0 + 160);
    fx_done(&fx);
}

/* The reach time of a timer with expiry e at wheel time now, by the
 * placement rule of base/timer.c (its slot's start), or now when due. */
static uint64_t reach_of(uint64_t now, uint64_t e)
{
    if (e <= now)
        return now;
    unsigned shift = (63u - (unsigned)__builtin_clzll(e ^ now)) / 6 * 6;
    unsigned above = shift + 6;
    uint64_t base = above >= 64 ? 0 : now >> above << above;
    return base | ((e >> shift) & 63) << shift;
}

/* ns_wheel_next keeps its answer between calls and updates it on arm and
 * cancel: after every single arm or cancel it must equal the least reach
 * time of the timers pending, computed here from scratch. A cached answer
 * left stale by an arm of an earlier timer would be later than that (the
 * timer would fire late); one left stale by the cancel of the earliest
 * would be earlier (an advance that does nothing). */
static void test_next_cached_exact(void **state)
{
    (void)state;
    enum { N = 400 };
    struct fixture fx;
    struct tt *x = calloc(N, sizeof(*x));
    struct ns_rng rng;
    assert_non_null(x);
    ns_rng_seed(&rng, ns_test_seed(12));
    fx_init(&fx, 5000, 0);
    fx.seeded = true;
    for (uint32_t i = 0; i < N; i++)
        tt_init(&fx, &x[i], i);
    for (int round = 0; round < 20000; round++) {
        uint32_t j = (uint32_t)ns_rng_below(&rng, N);
        uint64_t now = fx.w->now_us;
        switch (ns_rng_below(&rng, 6)) {
        case 0:
        case 1:
            fx_cancel(&fx, &x[j]);
            break;
        case 2:
            fx_advance(&fx, now + ns_rng_below(&rng, 1u << ns_rng_below(&rng, 20)));
            break;
        default:
            fx_arm(&fx, &x[j], now + 1 + ns_rng_below(&rng, 1ull << (1 + ns_rng_below(&rng, 40))));
            break;
        }
        now = fx.w->now_us;
        uint64_t want = UINT64_MAX;
        for (uint32_t i = 0; i < N; i++)
            if (ns_timer_pending(&x[i].t)) {
                uint64_t r = reach_of(now, x[i].t.expires_us);
                if (r < want)
                    want = r;
            }
        NS_ASSERT_SEED(ns_wheel_next(fx.w) == want);
    }
    free(x);
    fx_done(&fx);
}

/* Virtual time makes "late" exact: with the answer for a timer far away
 * cached, a timer armed nearer fires at its own expiry, not at the far
 * one's; cancelled again, the wheel's next time goes back to the far one. */
static void test_next_cached_no_late_fire(void **state)
{
    (void)state;
    struct fixture fx;
    struct tt far, near;
    fx_init(&fx, 1000, 0);
    tt_init(&fx, &far, 1);
    tt_init(&fx, &near, 2);
    fx_arm(&fx, &far, 1000 + 5000000);
    uint64_t far_next = ns_wheel_next(fx.w);
    assert_true(far_next > 1000 + 20); /* near: level 0, where next is exact */
    fx_arm(&fx, &near, 1000 + 20);
    assert_int_equal(ns_wheel_next(fx.w), 1000 + 20);
    fx_cancel(&fx, &near);
    assert_int_equal(ns_wheel_next(fx.w), far_next);
    fx_arm(&fx, &near, 1000 + 20);
    while (!near.fired)
        fx_advance(&fx, ns_wheel_next(fx.w));
    assert_int_equal(near.fired_at, 1000 + 20);
    assert_int_equal(far.fired, 0);
    fx_done(&fx);
}

static void test_near_uint64_max(void **state)
{
    (void)state;
    static const uint64_t exps[] = {
        UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 63, UINT64_MAX - 64, 1ull << 63,
        (1ull << 63) - 1, 1ull << 60, (1ull << 60) - 1, UINT64_MAX - (1ull << 60) + 1,
    };
    enum { NX = sizeof(exps) / sizeof(exps[0]) };
    struct fixture fx;
    struct tt x[NX];

    /* From 0, one call to the end of time. */
    fx_init(&fx, 0, 0);
    for (uint32_t i = 0; i < NX; i++) {
        tt_init(&fx, &x[i], i);
        fx_arm(&fx, &x[i], exps[i]);
    }
    assert_true(ns_wheel_next(fx.w) <= (1ull << 60) - 1);
    assert_int_equal(fx_advance(&fx, UINT64_MAX), NX);
    for (uint32_t i = 0; i < NX; i++)
        assert_true(x[i].fired == 1 && x[i].fired_at == exps[i]);
    assert_true(ns_wheel_next(fx.w) == UINT64_MAX);
    assert_int_equal(fx_advance(&fx, UINT64_MAX), 0); /* terminates */
    /* At the end of time, arming for it is due at once. */
    fx_arm(&fx, &x[0], UINT64_MAX);
    assert_true(ns_wheel_next(fx.w) == UINT64_MAX);
    assert_int_equal(ns_wheel_count(fx.w), 1);
    assert_int_equal(fx_advance(&fx, UINT64_MAX), 1);
    fx_done(&fx);

    /* From just below, following next() until nothing is pending. */
    fx_init(&fx, UINT64_MAX - 5000, 0);
    for (uint32_t i = 0; i < 4; i++) {
        tt_init(&fx, &x[i], i);
        fx_arm(&fx, &x[i], exps[i]);
    }
    uint64_t iterations = 0;
    while (ns_wheel_count(fx.w) > 0) {
        assert_true(++iterations < 100);
        fx_advance(&fx, ns_wheel_next(fx.w));
    }
    for (uint32_t i = 0; i < 4; i++)
        assert_true(x[i].fired == 1 && x[i].fired_at == exps[i]);
    fx_done(&fx);
}

/* --- randomized ---------------------------------------------------------- */

static const struct tt *g_sort_base;

static int cmp_eff_seq(const void *pa, const void *pb)
{
    const struct tt *a = &g_sort_base[*(const uint32_t *)pa];
    const struct tt *b = &g_sort_base[*(const uint32_t *)pb];
    if (a->eff != b->eff)
        return a->eff < b->eff ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void test_random_order_vs_sorted(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct fixture fx;
    struct tt *x = calloc(N, sizeof(*x));
    uint32_t *ref = malloc(N * sizeof(*ref));
    struct ns_rng rng;
    assert_true(x && ref);
    ns_rng_seed(&rng, ns_test_seed(42));
    fx_init(&fx, 5000, N);
    fx.seeded = true;
    uint64_t last = 0;
    for (uint32_t i = 0; i < N; i++) {
        tt_init(&fx, &x[i], i);
        uint64_t e;
        if (i > 0 && ns_rng_below(&rng, 8) == 0)
            e = last; /* equal expiries, to exercise FIFO */
        else
            e = fx.w->now_us + 1 + ns_rng_below(&rng, 1ull << (1 + ns_rng_below(&rng, 40)));
        fx_arm(&fx, &x[i], e);
        last = e;
    }
    /* Re-arm and cancel some at random. */
    for (uint32_t k = 0; k < N / 4; k++) {
        struct tt *t = &x[ns_rng_below(&rng, N)];
        if (ns_rng_below(&rng, 2))
            fx_cancel(&fx, t);
        else
            fx_arm(&fx, t, fx.w->now_us + 1 + ns_rng_below(&rng, 1ull << 30));
    }
    size_t nref = 0;
    for (uint32_t i = 0; i < N; i++)
        if (ns_timer_pending(&x[i].t))
            ref[nref++] = i;
    g_sort_base = x;
    qsort(ref, nref, sizeof(*ref), cmp_eff_seq);

    /* Advance in random steps, tiny to huge, until everything fired. */
    while (ns_wheel_count(fx.w) > 0) {
        uint64_t step = ns_rng_below(&rng, 1ull << (ns_rng_below(&rng, 42)));
        uint64_t before = fx.nfired;
        fx_advance(&fx, fx.w->now_us + step);
        for (uint64_t i = before; i < fx.nfired; i++)
            NS_ASSERT_SEED(x[fx.order[i]].t.expires_us <= fx.w->now_us);
        /* Nothing still pending was due. */
        NS_ASSERT_SEED(ns_wheel_next(fx.w) > fx.w->now_us);
    }
    NS_ASSERT_SEED(fx.norder == nref);
    for (size_t i = 0; i < nref; i++)
        NS_ASSERT_SEED(fx.order[i] == ref[i]);
    free(x);
    free(ref);
    fx_done(&fx);
}

/* Scale: a million timers, 90% cancelled before they fire. A lean timer
 * and callback keep memory and time down; order is still checked. */
struct lean {
    struct ns_timer t;
    uint32_t seq;
};

struct lean_ctx {
    struct ns_wheel *w;
    uint64_t fired, left;
    uint64_t last_e;
    uint32_t last_seq;
    bool bad;
};

static void lean_fire(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    struct lean_ctx *c = ctx;
    struct lean *l = (struct lean *)t;
    uint64_t e = t->expires_us;
    c->left--;
    if (e > now_us || ns_timer_pending(t) || ns_wheel_count(c->w) != c->left ||
        (c->fired && (e < c->last_e || (e == c->last_e && l->seq <= c->last_seq))))
        c->bad = true;
    c->fired++;
    c->last_e = e;
    c->last_seq = l->seq;
}

static void test_scale_million(void **state)
{
    (void)state;
    enum { N = 1000000 };
    const uint64_t span = 600ull * 1000 * 1000; /* ten minutes */
    struct lean *x = malloc(N * sizeof(*x));
    struct ns_wheel *w = malloc(sizeof(*w));
    struct ns_rng rng;
    assert_true(x && w);
    ns_rng_seed(&rng, ns_test_seed(1000000));
    ns_wheel_init(w, 0);
    uint64_t e = 0;
    for (uint32_t i = 0; i < N; i++) {
        ns_timer_init(&x[i].t, lean_fire);
        x[i].seq = i;
        if (i == 0 || ns_rng_below(&rng, 16) != 0)
            e = 1 + ns_rng_below(&rng, span);
        ns_timer_arm(w, &x[i].t, e);
    }
    NS_ASSERT_SEED(ns_wheel_count(w) == N);
    uint64_t left = N;
    for (uint32_t i = 0; i < N; i++)
        if (ns_rng_below(&rng, 10) != 0) {
            ns_timer_cancel(w, &x[i].t);
            left--;
        }
    NS_ASSERT_SEED(ns_wheel_count(w) == left);
    NS_ASSERT_SEED(left > N / 20 && left < N / 5);

    struct lean_ctx c = {.w = w, .left = left};
    /* First half in 1 ms ticks, the rest in one jump. */
    for (uint64_t now = 1000; now <= span / 2; now += 1000)
        ns_wheel_advance(w, now, &c);
    ns_wheel_advance(w, span, &c);
    NS_ASSERT_SEED(!c.bad);
    NS_ASSERT_SEED(c.fired == left);
    NS_ASSERT_SEED(ns_wheel_count(w) == 0);
    NS_ASSERT_SEED(ns_wheel_next(w) == UINT64_MAX);
    for (uint32_t i = 0; i < N; i++)
        NS_ASSERT_SEED(!ns_timer_pending(&x[i].t));
    free(x);
    free(w);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_fire_once_at_expiry),
        cmocka_unit_test(test_fifo_equal_expiry),
        cmocka_unit_test(test_cancel_before_fire),
        cmocka_unit_test(test_rearm_moves),
        cmocka_unit_test(test_arm_in_past),
        cmocka_unit_test(test_periodic),
        cmocka_unit_test(test_rearm_inside_callback),
        cmocka_unit_test(test_cancel_others_in_callback),
        cmocka_unit_test(test_cancel_others_same_cascade),
        cmocka_unit_test(test_big_jump),
        cmocka_unit_test(test_small_steps),
        cmocka_unit_test(test_next_lower_bound_progress),
        cmocka_unit_test(test_rearm_in_place),
        cmocka_unit_test(test_next_cached_exact),
        cmocka_unit_test(test_next_cached_no_late_fire),
        cmocka_unit_test(test_near_uint64_max),
        cmocka_unit_test(test_random_order_vs_sorted),
        cmocka_unit_test(test_scale_million),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
