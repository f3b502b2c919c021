/* tcp/cc/hystart.c — HyStart++: slow start that leaves early when the
 * round-trip time starts to rise.
 *
 * Read first: RFC 9406 §4.2 (the algorithm), §4.3 (constants; use it only
 * for the initial slow start), RFC 5681 §3.1 (the slow start it modifies).
 *
 * Rounds (§4.2): a round starts with windowEnd = SND.NXT (here SND.MAX,
 * the same unless a timeout pulled SND.NXT back) and ends with the first
 * ACK at or above it; that ACK starts the next round, and its RTT sample
 * belongs to the new round. In each round the smallest RTT sample is kept
 * (currentRoundMinRTT) with a count of samples. During standard slow
 * start, once a round has N_RTT_SAMPLE samples and the last round had
 * one, RttThresh = clamp(lastRoundMinRTT / MIN_RTT_DIVISOR,
 * MIN_RTT_THRESH, MAX_RTT_THRESH); a round minimum at or above
 * lastRoundMinRTT + RttThresh enters Conservative Slow Start (CSS) with
 * that minimum as its baseline. In CSS the window grows by a quarter of
 * slow start's (CSS_GROWTH_DIVISOR); a CSS round whose minimum (again
 * after N_RTT_SAMPLE samples) falls below the baseline shows the exit was
 * spurious and slow start resumes; after CSS_ROUNDS rounds of CSS (the
 * round in which CSS began counts as the first), slow start ends:
 * ssthresh = cwnd, and the algorithm's congestion avoidance takes over. A
 * loss in SS or CSS ends HyStart++ through the algorithm's own response
 * (tcp_hystart_stop).
 *
 * RTT samples are the connection's RFC 6298 measurements (tcp_rtt_sample
 * records each in tp->last_rtt_us and counts it in tp->rtt_samples). With
 * RFC 7323 timestamps every ACK of new data gives one; without them TCP
 * times one segment per round trip, too few for N_RTT_SAMPLE, so
 * HyStart++ then never leaves standard slow start (RFC 9406 §4.2 needs
 * per-ACK samples).
 *
 * Which algorithms use it: CUBIC (the default), as Linux applies its
 * HyStart to CUBIC only. NewReno keeps RFC 5681's slow start unchanged
 * (it is the reference the unit tests check arithmetic against); it could
 * call these functions as CUBIC does.
 */
#include <string.h>

#include "tcp/tcp.h"

void tcp_hystart_init(struct tcpcb *tp)
{
    struct tcp_hystart *h = &tp->hystart;
    memset(h, 0, sizeof(*h));
    h->last_round_min_rtt_us = HYSTART_RTT_NONE;
    h->cur_round_min_rtt_us = HYSTART_RTT_NONE;
    h->css_baseline_min_rtt_us = HYSTART_RTT_NONE;
    h->rtt_seen = tp->rtt_samples;
    h->phase = tp->st->cfg.tcp_hystart && tp->ssthresh == UINT32_MAX ? HYSTART_SS : HYSTART_OFF;
}

bool tcp_hystart_active(const struct tcpcb *tp)
{
    const struct tcp_hystart *h = &tp->hystart;
    return (h->phase == HYSTART_SS || h->phase == HYSTART_CSS) && tp->ssthresh == UINT32_MAX;
}

void tcp_hystart_stop(struct tcpcb *tp)
{
    if (tp->hystart.phase != HYSTART_OFF)
        tp->hystart.phase = HYSTART_DONE;
}

/* §4.2: "At the start of each round ..." */
static void new_round(struct tcpcb *tp)
{
    struct tcp_hystart *h = &tp->hystart;
    h->last_round_min_rtt_us = h->cur_round_min_rtt_us;
    h->cur_round_min_rtt_us = HYSTART_RTT_NONE;
    h->rtt_sample_count = 0;
    h->window_end = tp->snd_max;
    h->round_started = true;
}

void tcp_hystart_slow_start(struct tcpcb *tp, uint32_t acked)
{
    struct tcp_hystart *h = &tp->hystart;
    if (!h->round_started) {
        new_round(tp);
    } else if (SEQ_GEQ(tp->snd_una, h->window_end)) {
        if (h->phase == HYSTART_CSS && ++h->css_rounds >= HYSTART_CSS_ROUNDS) {
            /* §4.2: "If CSS_ROUNDS rounds are complete, enter congestion
             * avoidance by setting the ssthresh to the current cwnd." */
            tp->ssthresh = tp->cwnd;
            h->phase = HYSTART_DONE;
            return;
        }
        new_round(tp);
    }
    /* "Keep track of the minimum observed RTT" — one sample per new
     * measurement, not per ACK (an ACK without a sample adds nothing). */
    if (tp->rtt_samples != h->rtt_seen) {
        h->rtt_seen = tp->rtt_samples;
        if (tp->last_rtt_us < h->cur_round_min_rtt_us)
            h->cur_round_min_rtt_us = tp->last_rtt_us;
        if (h->rtt_sample_count < UINT16_MAX)
            h->rtt_sample_count++;
    }
    uint32_t limit = HYSTART_L * tp->mss;
    uint32_t inc = acked < limit ? acked : limit; /* min(N, L*SMSS) */
    bool enough = h->rtt_sample_count >= HYSTART_N_RTT_SAMPLE &&
                  h->cur_round_min_rtt_us != HYSTART_RTT_NONE;
    if (h->phase == HYSTART_SS) {
        tp->cwnd += inc;
        if (enough && h->last_round_min_rtt_us != HYSTART_RTT_NONE) {
            uint32_t last = h->last_round_min_rtt_us;
            uint32_t thresh = last / HYSTART_MIN_RTT_DIVISOR;
            if (thresh > HYSTART_MAX_RTT_THRESH_US)
                thresh = HYSTART_MAX_RTT_THRESH_US;
            if (thresh < HYSTART_MIN_RTT_THRESH_US)
                thresh = HYSTART_MIN_RTT_THRESH_US;
            if ((uint64_t)h->cur_round_min_rtt_us >= (uint64_t)last + thresh) {
                /* The delay rose: Conservative Slow Start. */
                h->css_baseline_min_rtt_us = h->cur_round_min_rtt_us;
                h->css_rounds = 0;
                h->phase = HYSTART_CSS;
            }
        }
    } else {
        tp->cwnd += inc / HYSTART_CSS_GROWTH_DIVISOR;
        if (enough && h->cur_round_min_rtt_us < h->css_baseline_min_rtt_us) {
            /* The RTT fell back: the exit was spurious, resume slow start
             * (with HyStart++). */
            h->css_baseline_min_rtt_us = HYSTART_RTT_NONE;
            h->phase = HYSTART_SS;
        }
    }
}
