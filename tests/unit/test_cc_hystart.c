/* tests/unit/test_cc_hystart.c — HyStart++ (RFC 9406) in CUBIC's slow
 * start, driven with synthetic ACKs and RTT samples.
 *
 * A control block is driven directly through the congestion-control ops,
 * as in test_cc_cubic.c. Each ACK acknowledges one segment (MSS bytes),
 * brings one RTT sample (tcp_rtt_sample, as an ACK with a timestamp echo
 * does), and then "sends" what the window allows (SND.MAX = SND.UNA +
 * cwnd). Rounds follow RFC 9406 §4.2: a round starts with windowEnd =
 * SND.MAX and the first ACK at or past windowEnd starts the next round;
 * one_round() plays exactly one such round with one RTT for all its ACKs.
 *
 * The ACK that reaches windowEnd starts the next round, and its RTT sample
 * is the new round's (as Linux's HyStart and quiche's HyStart++ count it).
 *
 * With an initial window of 10 segments and flat RTTs every ACK grows the
 * window by one segment (about doubling it per round); a round whose minimum RTT is at least
 * lastRoundMinRTT + clamp(lastRoundMinRTT/8, 4 ms, 16 ms) enters CSS
 * (growth divided by 4), CSS_ROUNDS = 5 rounds later slow start ends with
 * ssthresh = cwnd, and a CSS round whose minimum falls below the baseline
 * resumes slow start.
 */
#include <stdio.h>
#include <string.h>

#include "net/net.h"
#include "tcp/tcp.h"
#include "testutil.h"

#define MSS 1000u
#define MS 1000u

struct bench {
    struct ns_stack *st;
    struct tcpcb *tp;
    uint64_t now;
    bool started;    /* a round has begun */
    uint32_t end;    /* the current round's windowEnd, as the test tracks it */
    int rounds;      /* rounds begun */
    bool samples;    /* each ACK brings an RTT sample */
};

static void bench_init_cfg(struct bench *b, bool hystart)
{
    memset(b, 0, sizeof(*b));
    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.tcp_hystart = hystart;
    b->now = 1000000;
    b->st = ns_stack_new(&cfg, b->now);
    assert_non_null(b->st);
    b->tp = tcp_new(b->st, false);
    assert_non_null(b->tp);
    b->tp->mss = MSS;
    b->tp->cc = &tcp_cc_cubic;
    b->tp->cc->init(b->tp);
    b->tp->snd_una = 0;
    b->tp->snd_max = b->tp->cwnd; /* the initial window is out */
    b->samples = true;
}

static void bench_init(struct bench *b) { bench_init_cfg(b, true); }

static void bench_free(struct bench *b)
{
    tcp_free(b->tp);
    ns_stack_free(b->st);
}

static uint8_t phase(const struct bench *b) { return b->tp->hystart.phase; }

/* Would the next ACK start a new round (RFC 9406 §4.2)? */
static bool next_ack_starts_round(const struct bench *b)
{
    return !b->started || SEQ_GEQ(b->tp->snd_una + MSS, b->end);
}

/* One ACK of one segment with an RTT sample of rtt_us. */
static void ack_one(struct bench *b, uint32_t rtt_us)
{
    struct tcpcb *tp = b->tp;
    if (next_ack_starts_round(b)) {
        b->started = true;
        b->end = tp->snd_max;
        b->rounds++;
    }
    tp->snd_una += MSS;
    b->now += 100;
    ns_stack_set_clock(b->st, b->now);
    if (b->samples)
        tcp_rtt_sample(tp, rtt_us);
    tp->cc->ack_received(tp, MSS);
    if (SEQ_GT(tp->snd_una + tp->cwnd, tp->snd_max))
        tp->snd_max = tp->snd_una + tp->cwnd; /* send what cwnd allows */
}

/* Exactly one round: the ACK that starts it up to the last one before the
 * next round starts, every one with the same RTT. */
static void one_round(struct bench *b, uint32_t rtt_us)
{
    assert_true(next_ack_starts_round(b));
    ack_one(b, rtt_us);
    while (!next_ack_starts_round(b))
        ack_one(b, rtt_us);
}

/* Flat RTT: standard slow start throughout, the window doubling per round. */
static void test_flat_rtt_stays_in_slow_start(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    assert_int_equal(phase(&b), HYSTART_SS);
    assert_int_equal(b.tp->cwnd, 10 * MSS);
    for (int r = 0; r < 10; r++) {
        uint32_t start = b.tp->cwnd;
        one_round(&b, 100 * MS);
        /* One MSS per ACK: the initial window plus everything acked. */
        assert_int_equal(b.tp->cwnd, 10 * MSS + b.tp->snd_una);
        assert_true(b.tp->cwnd >= 2 * start - MSS);
        assert_int_equal(phase(&b), HYSTART_SS);
        assert_int_equal(b.tp->ssthresh, UINT32_MAX);
    }
    assert_int_equal(b.rounds, 10);
    /* Samples were taken in: the last round's minimum is 100 ms. */
    assert_int_equal(b.tp->hystart.cur_round_min_rtt_us, 100 * MS);
    assert_int_equal(b.tp->last_rtt_us, 100 * MS);
    bench_free(&b);
}

/* Play `base` for three rounds, then one round at `rise`; return the phase. */
static uint8_t phase_after_rise(uint32_t base, uint32_t rise)
{
    struct bench b;
    bench_init(&b);
    for (int r = 0; r < 3; r++)
        one_round(&b, base);
    one_round(&b, rise);
    uint8_t p = phase(&b);
    if (p == HYSTART_CSS)
        assert_int_equal(b.tp->hystart.css_baseline_min_rtt_us, rise);
    bench_free(&b);
    return p;
}

/* RttThresh = clamp(lastRoundMinRTT / 8, 4 ms, 16 ms): a rise of exactly
 * the threshold enters CSS, one microsecond less does not. */
static void test_rtt_rise_enters_css(void **state)
{
    (void)state;
    /* 100 ms: 12.5 ms. */
    assert_int_equal(phase_after_rise(100 * MS, 112500), HYSTART_CSS);
    assert_int_equal(phase_after_rise(100 * MS, 112499), HYSTART_SS);
    /* 20 ms: 2.5 ms, raised to MIN_RTT_THRESH = 4 ms. */
    assert_int_equal(phase_after_rise(20 * MS, 24 * MS), HYSTART_CSS);
    assert_int_equal(phase_after_rise(20 * MS, 24 * MS - 1), HYSTART_SS);
    /* 200 ms: 25 ms, lowered to MAX_RTT_THRESH = 16 ms. */
    assert_int_equal(phase_after_rise(200 * MS, 216 * MS), HYSTART_CSS);
    assert_int_equal(phase_after_rise(200 * MS, 216 * MS - 1), HYSTART_SS);
}

/* The check waits for N_RTT_SAMPLE samples in the round: CSS begins at
 * the 8th ACK of the round with the higher RTT, not before. */
static void test_css_waits_for_n_rtt_samples(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    for (int r = 0; r < 3; r++)
        one_round(&b, 100 * MS);
    for (unsigned i = 1; i <= HYSTART_N_RTT_SAMPLE; i++) {
        ack_one(&b, 150 * MS);
        assert_int_equal(phase(&b), i < HYSTART_N_RTT_SAMPLE ? HYSTART_SS : HYSTART_CSS);
    }
    bench_free(&b);
}

/* Without a sample per ACK (no timestamps: one timed segment per round)
 * a round never has N_RTT_SAMPLE samples, so slow start is standard. */
static void test_too_few_samples_never_leave_slow_start(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    b.samples = false;
    uint32_t rtt = 100 * MS;
    for (int r = 0; r < 8; r++) {
        tcp_rtt_sample(b.tp, rtt); /* one sample a round, rising steeply */
        rtt += 50 * MS;
        one_round(&b, 0);
        assert_int_equal(phase(&b), HYSTART_SS);
    }
    bench_free(&b);
}

/* In CSS each ACK grows the window by min(N, L*SMSS) / CSS_GROWTH_DIVISOR. */
static void test_css_growth_divided(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    for (int r = 0; r < 3; r++)
        one_round(&b, 100 * MS);
    one_round(&b, 120 * MS); /* CSS from its 8th ACK on */
    assert_int_equal(phase(&b), HYSTART_CSS);
    uint32_t before = b.tp->cwnd;
    for (int i = 0; i < 20; i++)
        ack_one(&b, 120 * MS);
    assert_int_equal(phase(&b), HYSTART_CSS);
    assert_int_equal(b.tp->cwnd - before, 20 * MSS / HYSTART_CSS_GROWTH_DIVISOR);
    /* A stretch ACK of 40 segments counts as L = 8 (min(N, L*SMSS)). */
    before = b.tp->cwnd;
    b.tp->snd_una += 39 * MSS;
    b.tp->cc->ack_received(b.tp, 40 * MSS);
    assert_int_equal(b.tp->cwnd - before, HYSTART_L * MSS / HYSTART_CSS_GROWTH_DIVISOR);
    bench_free(&b);
}

/* Slow start proper also limits a stretch ACK to L*SMSS (RFC 9406 §4.2). */
static void test_slow_start_limit_l(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    uint32_t before = b.tp->cwnd;
    b.tp->snd_una += 20 * MSS;
    b.tp->cc->ack_received(b.tp, 20 * MSS);
    assert_int_equal(b.tp->cwnd - before, HYSTART_L * MSS);
    bench_free(&b);
}

/* CSS_ROUNDS rounds of CSS (the one it began in counts as the first):
 * slow start ends with ssthresh = cwnd, and CUBIC's congestion avoidance
 * grows the window from there. */
static void test_css_rounds_end_slow_start(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    for (int r = 0; r < 3; r++)
        one_round(&b, 100 * MS);
    one_round(&b, 120 * MS);
    assert_int_equal(phase(&b), HYSTART_CSS);
    for (unsigned r = 1; r < HYSTART_CSS_ROUNDS; r++) {
        one_round(&b, 120 * MS);
        assert_int_equal(phase(&b), HYSTART_CSS);
        assert_int_equal(b.tp->ssthresh, UINT32_MAX);
    }
    uint32_t cwnd = b.tp->cwnd;
    ack_one(&b, 120 * MS); /* the first ACK of the next round */
    assert_int_equal(phase(&b), HYSTART_DONE);
    assert_int_equal(b.tp->ssthresh, cwnd);
    assert_int_equal(b.tp->cwnd, cwnd);
    assert_false(tcp_hystart_active(b.tp));
    /* Congestion avoidance now: a round adds far less than CSS would. */
    b.tp->srtt_us = 120 * MS;
    uint32_t ca_start = b.tp->cwnd;
    uint32_t segs = ca_start / MSS;
    for (uint32_t i = 0; i < segs; i++)
        ack_one(&b, 120 * MS);
    assert_true(b.tp->cwnd >= ca_start);
    assert_true(b.tp->cwnd - ca_start < segs * MSS / HYSTART_CSS_GROWTH_DIVISOR);
    bench_free(&b);
}

/* A CSS round whose minimum RTT falls below the baseline: the exit was
 * spurious, slow start (with HyStart++) resumes at full growth. */
static void test_rtt_decrease_resumes_slow_start(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    for (int r = 0; r < 3; r++)
        one_round(&b, 100 * MS);
    one_round(&b, 120 * MS);
    assert_int_equal(phase(&b), HYSTART_CSS);
    /* The next round's samples are below 120 ms: after N_RTT_SAMPLE of
     * them, back to slow start. */
    for (unsigned i = 1; i <= HYSTART_N_RTT_SAMPLE; i++) {
        ack_one(&b, 105 * MS);
        assert_int_equal(phase(&b), i < HYSTART_N_RTT_SAMPLE ? HYSTART_CSS : HYSTART_SS);
    }
    assert_int_equal(b.tp->hystart.css_baseline_min_rtt_us, HYSTART_RTT_NONE);
    uint32_t before = b.tp->cwnd;
    ack_one(&b, 105 * MS);
    assert_int_equal(b.tp->cwnd - before, MSS); /* full slow-start growth again */
    /* And a later rise enters CSS again. */
    while (!next_ack_starts_round(&b))
        ack_one(&b, 105 * MS);
    one_round(&b, 130 * MS);
    assert_int_equal(phase(&b), HYSTART_CSS);
    bench_free(&b);
}

/* A loss during CSS ends HyStart++: CUBIC's response sets ssthresh, and
 * any later slow start (after a timeout) is RFC 5681's. */
static void test_loss_ends_hystart(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    for (int r = 0; r < 3; r++)
        one_round(&b, 100 * MS);
    one_round(&b, 120 * MS);
    assert_int_equal(phase(&b), HYSTART_CSS);
    b.tp->cc->cong_signal(b.tp, CC_RTO);
    assert_int_equal(phase(&b), HYSTART_DONE);
    assert_false(tcp_hystart_active(b.tp));
    assert_int_equal(b.tp->cwnd, MSS);
    /* RFC 5681 slow start: one MSS per ACK, whatever the RTT does. */
    b.tp->cc->ack_received(b.tp, MSS);
    assert_int_equal(b.tp->cwnd, 2 * MSS);
    bench_free(&b);
}

/* cfg.tcp_hystart off: a rising RTT does not end slow start. */
static void test_switch_off(void **state)
{
    (void)state;
    struct bench b;
    bench_init_cfg(&b, false);
    assert_int_equal(phase(&b), HYSTART_OFF);
    uint32_t rtt = 100 * MS;
    for (int r = 0; r < 6; r++) {
        one_round(&b, rtt);
        rtt += 30 * MS;
        assert_int_equal(b.tp->cwnd, 10 * MSS + b.tp->snd_una);
        assert_int_equal(b.tp->ssthresh, UINT32_MAX);
    }
    bench_free(&b);
}

/* NewReno keeps RFC 5681 slow start (HyStart++ is CUBIC's, as Linux). */
static void test_newreno_unaffected(void **state)
{
    (void)state;
    struct bench b;
    bench_init(&b);
    b.tp->cc = &tcp_cc_newreno;
    b.tp->cc->init(b.tp);
    b.tp->snd_max = b.tp->snd_una + b.tp->cwnd;
    uint32_t rtt = 100 * MS;
    for (int r = 0; r < 6; r++) {
        one_round(&b, rtt);
        rtt += 30 * MS;
        assert_int_equal(b.tp->cwnd, 10 * MSS + b.tp->snd_una);
    }
    bench_free(&b);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_rtt_stays_in_slow_start),
        cmocka_unit_test(test_rtt_rise_enters_css),
        cmocka_unit_test(test_css_waits_for_n_rtt_samples),
        cmocka_unit_test(test_too_few_samples_never_leave_slow_start),
        cmocka_unit_test(test_css_growth_divided),
        cmocka_unit_test(test_slow_start_limit_l),
        cmocka_unit_test(test_css_rounds_end_slow_start),
        cmocka_unit_test(test_rtt_decrease_resumes_slow_start),
        cmocka_unit_test(test_loss_ends_hystart),
        cmocka_unit_test(test_switch_off),
        cmocka_unit_test(test_newreno_unaffected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
