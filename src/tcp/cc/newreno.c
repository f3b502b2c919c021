/* tcp/cc/newreno.c — NewReno congestion control.
 *
 * Read first: RFC 5681 §3.1 (slow start and congestion avoidance, with
 * appropriate byte counting: cwnd grows by at most SMSS per ACK in slow
 * start and by about SMSS per RTT in avoidance), §3.2 (fast retransmit:
 * ssthresh = max(FlightSize/2, 2*SMSS), cwnd = ssthresh + 3*SMSS), §4.1
 * (restart after idle), RFC 6582 (NewReno recovery, driven from
 * tcp_input.c), RFC 6928 (initial window of 10 segments).
 */
#include "tcp/tcp.h"

static void newreno_init(struct tcpcb *tp)
{
    tp->cwnd = tcp_initial_window(tp);
    tp->ssthresh = UINT32_MAX; /* RFC 5681 §3.1: arbitrarily high */
    tp->bytes_acked = 0;
    tp->recover = tp->snd_una;
}

static void newreno_ack_received(struct tcpcb *tp, uint32_t acked)
{
    uint32_t mss = tp->mss;
    if (tp->cwnd < tp->ssthresh) {
        /* Slow start: cwnd += min(N, SMSS) (RFC 5681 eq. 2). */
        tp->cwnd += acked < mss ? acked : mss;
        return;
    }
    /* Congestion avoidance: one SMSS per cwnd of data acknowledged. */
    tp->bytes_acked += acked;
    if (tp->bytes_acked >= tp->cwnd) {
        tp->bytes_acked -= tp->cwnd;
        tp->cwnd += mss;
    }
}

static void newreno_cong_signal(struct tcpcb *tp, enum tcp_cc_signal sig)
{
    uint32_t mss = tp->mss;
    uint32_t flight = tcp_flight_size(tp);
    uint32_t half = flight / 2 > 2 * mss ? flight / 2 : 2 * mss; /* RFC 5681 eq. 4 */
    tp->ssthresh = half;
    tp->bytes_acked = 0;
    if (sig == CC_DUPACK3)
        tp->cwnd = tp->ssthresh + 3 * mss; /* §3.2 step 3 */
    else
        tp->cwnd = mss;                     /* §3.1: loss window after RTO */
}

static void newreno_post_recovery(struct tcpcb *tp)
{
    /* RFC 6582 §3.2 step 3: cwnd = min(ssthresh, FlightSize + SMSS). */
    uint32_t f = tcp_flight_size(tp) + tp->mss;
    tp->cwnd = tp->ssthresh < f ? tp->ssthresh : f;
}

static void newreno_after_idle(struct tcpcb *tp)
{
    /* RFC 5681 §4.1: cwnd = min(RW, cwnd), RW = the initial window. */
    uint32_t rw = tcp_initial_window(tp);
    if (tp->cwnd > rw)
        tp->cwnd = rw;
}

const struct tcp_cc_ops tcp_cc_newreno = {
    .name = "newreno",
    .init = newreno_init,
    .ack_received = newreno_ack_received,
    .cong_signal = newreno_cong_signal,
    .post_recovery = newreno_post_recovery,
    .after_idle = newreno_after_idle,
};
