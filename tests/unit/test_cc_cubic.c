/* tests/unit/test_cc_cubic.c — CUBIC's window against RFC 9438's formulas.
 *
 * A control block is driven directly through the congestion-control ops:
 * a loss at W segments, then one window of ACKs per RTT, and the window
 * after t seconds is compared with W_cubic(t) = C(t-K)^3 + W_max,
 * K = cbrt(W_max (1-beta)/C), C = 0.4, beta = 0.7 (RFC 9438 §4.2, §4.6).
 */
#include <math.h>
#include <stdio.h>

#include "net/net.h"
#include "tcp/tcp.h"
#include "testutil.h"

#define MSS 1000u
#define RTT_US 100000u

struct bench {
    struct ns_stack *st;
    struct tcpcb *tp;
    uint64_t now;
};

static void bench_init(struct bench *b)
{
    b->now = 1000000;
    b->st = ns_stack_new(NULL, b->now);
    assert_non_null(b->st);
    b->tp = tcp_new(b->st, false);
    assert_non_null(b->tp);
    b->tp->mss = MSS;
    b->tp->srtt_us = RTT_US;
    b->tp->cc = &tcp_cc_cubic;
    b->tp->cc->init(b->tp);
}

static void bench_free(struct bench *b)
{
    tcp_free(b->tp);
    ns_stack_free(b->st);
}

/* One round trip: a window's worth of ACKs, one segment each. */
static void one_rtt(struct bench *b)
{
    uint32_t segs = b->tp->cwnd / MSS;
    for (uint32_t i = 0; i < segs; i++)
        b->tp->cc->ack_received(b->tp, MSS);
    b->now += RTT_US;
    ns_stack_set_clock(b->st, b->now);
}

static double w_cubic(double t, double w_max)
{
    double k = cbrt(w_max * (1 - 0.7) / 0.4);
    return 0.4 * pow(t - k, 3) + w_max;
}

static void lose_at(struct bench *b, uint32_t segs)
{
    b->tp->cwnd = segs * MSS;
    b->tp->ssthresh = segs * MSS; /* in congestion avoidance */
    b->tp->snd_una = 0;
    b->tp->snd_max = segs * MSS; /* a full window in flight */
    b->tp->cc->cong_signal(b->tp, CC_DUPACK3);
    b->tp->cc->post_recovery(b->tp);
}

static void test_multiplicative_decrease(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    lose_at(&b, 100);
    /* §4.6: ssthresh = cwnd * 0.7, and cwnd = ssthresh after recovery. */
    assert_int_equal(b.tp->ssthresh, 70 * MSS);
    assert_int_equal(b.tp->cwnd, 70 * MSS);
    bench_free(&b);
}

static void test_window_follows_cubic_function(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    lose_at(&b, 100);
    one_rtt(&b); /* the epoch starts here */
    double k = cbrt(100 * 0.3 / 0.4); /* ~4.217 s */
    /* Grow for 8 s: concave up to W_max around t = K, convex beyond. */
    double prev_growth = 1e9;
    for (int r = 2; r <= 80; r++) {
        double before = (double)b.tp->cwnd / MSS;
        one_rtt(&b);
        double t = (r - 1) * RTT_US / 1e6;
        double w = (double)b.tp->cwnd / MSS;
        double want = w_cubic(t, 100);
        /* The window tracks W_cubic(t) within a few segments (it aims at
         * W_cubic(t + RTT), and the Reno-friendly floor applies early). */
        if (t > 0.5)
            assert_true(fabs(w - want) < 4.0 + 0.05 * want);
        double growth = w - before;
        /* The epoch starts with the first ACK after recovery, so the
         * first round trip grows less; from then on growth slows. */
        if (t > 0.25 && t < k - 0.5) {
            assert_true(growth <= prev_growth + 0.5); /* concave: slowing */
            prev_growth = growth;
        }
    }
    /* At t = K the window is back at W_max. */
    assert_true((double)b.tp->cwnd / MSS > 100.0);
    bench_free(&b);
}

static void test_plateau_near_w_max(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    lose_at(&b, 200);
    double k = cbrt(200 * 0.3 / 0.4);
    int rounds = (int)(k * 1e6 / RTT_US);
    uint32_t w_before = 0, w_at = 0;
    for (int r = 1; r <= rounds + 3; r++) {
        if (r == rounds - 3)
            w_before = b.tp->cwnd;
        one_rtt(&b);
        if (r == rounds)
            w_at = b.tp->cwnd;
    }
    /* Around K the window barely moves (the plateau at W_max). */
    assert_true((w_at - w_before) / MSS <= 3);
    assert_true(fabs((double)w_at / MSS - 200) < 6);
    bench_free(&b);
}

static void test_fast_convergence(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    lose_at(&b, 100);
    lose_at(&b, 80); /* below the last maximum: release bandwidth */
    /* §4.7: W_max = cwnd * (1 + beta) / 2 = 68 segments. */
    struct {
        double w_max, w_last_max, k;
    } *c = (void *)b.tp->cc_priv;
    assert_true(fabs(c->w_max - 68.0) < 1e-9);
    assert_true(fabs(c->w_last_max - 80.0) < 1e-9);
    assert_int_equal(b.tp->ssthresh, 56 * MSS);
    bench_free(&b);
}

static void test_timeout_restarts_from_one_segment(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    b.tp->cwnd = 50 * MSS;
    b.tp->cc->cong_signal(b.tp, CC_RTO);
    assert_int_equal(b.tp->cwnd, MSS);
    assert_int_equal(b.tp->ssthresh, 35 * MSS);
    /* Slow start back to ssthresh, then CUBIC. */
    while (b.tp->cwnd < b.tp->ssthresh)
        one_rtt(&b);
    assert_true(b.tp->cwnd <= 2 * b.tp->ssthresh);
    bench_free(&b);
}

static void test_reno_friendly_region(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    /* A tiny window on a short RTT: CUBIC's curve is slower than Reno, so
     * the Reno-friendly estimate (alpha = 3(1-beta)/(1+beta) per RTT)
     * drives the window (§4.3). */
    b.tp->srtt_us = 1000;
    lose_at(&b, 10);
    uint32_t start = b.tp->cwnd;
    for (int r = 0; r < 20; r++)
        one_rtt(&b);
    double alpha = 3 * 0.3 / 1.7;
    double grew = (double)(b.tp->cwnd - start) / MSS;
    assert_true(grew >= 20 * alpha * 0.8); /* about alpha segments per RTT */
    bench_free(&b);
}

static void test_lookup_by_name(void **state)
{
    (void)state;
    assert_ptr_equal(tcp_cc_find("cubic"), &tcp_cc_cubic);
    assert_ptr_equal(tcp_cc_find("reno"), &tcp_cc_newreno);
    assert_null(tcp_cc_find("vegas"));
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multiplicative_decrease),
        cmocka_unit_test(test_window_follows_cubic_function),
        cmocka_unit_test(test_plateau_near_w_max),
        cmocka_unit_test(test_fast_convergence),
        cmocka_unit_test(test_timeout_restarts_from_one_segment),
        cmocka_unit_test(test_reno_friendly_region),
        cmocka_unit_test(test_lookup_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
