/* tcp/cc/cubic.c — CUBIC congestion control.
 *
 * Read first: RFC 9438 (CUBIC for fast and long-distance networks):
 * §4.2 the window function W_cubic(t) = C*(t-K)^3 + W_max with
 * K = cbrt(W_max*(1-beta)/C), §4.3 the Reno-friendly region (W_est grows by
 * alpha_cubic per window, alpha = 3(1-beta)/(1+beta)), §4.4-4.5 the concave
 * and convex regions (cwnd moves toward W_cubic(t+RTT), at most 1.5x per
 * RTT), §4.6 multiplicative decrease (beta_cubic = 0.7), §4.7 fast
 * convergence, §4.8 timeouts. Windows here are counted in segments
 * (doubles) as the RFC does; tp->cwnd stays in bytes.
 *
 * Slow start: the initial one is HyStart++ (RFC 9406, cc/hystart.c) when
 * cfg.tcp_hystart is on (the default); later ones, and all of them with
 * the switch off, are RFC 5681's.
 */
#include <math.h>
#include <string.h>

#include "tcp/tcp.h"

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7

struct cubic {
    double w_max;      /* segments, window before the last reduction */
    double w_last_max; /* for fast convergence */
    double k;          /* seconds */
    double w_est;      /* Reno-friendly estimate, segments */
    double cwnd_seg;   /* fractional cwnd in segments during CA */
    uint64_t epoch_us; /* start of the current congestion-avoidance epoch; 0 = none */
};

_Static_assert(sizeof(struct cubic) <= sizeof(((struct tcpcb *)0)->cc_priv),
               "cubic state must fit in tcpcb.cc_priv");

static struct cubic *cub(struct tcpcb *tp) { return (struct cubic *)(void *)tp->cc_priv; }

static double w_cubic(const struct cubic *c, double t)
{
    double d = t - c->k;
    return CUBIC_C * d * d * d + c->w_max;
}

static void cubic_init(struct tcpcb *tp)
{
    memset(tp->cc_priv, 0, sizeof(tp->cc_priv));
    tp->cwnd = tcp_initial_window(tp);
    tp->ssthresh = UINT32_MAX;
    tp->bytes_acked = 0;
    tp->recover = tp->snd_una;
    tcp_hystart_init(tp);
}

static void cubic_ack_received(struct tcpcb *tp, uint32_t acked)
{
    struct cubic *c = cub(tp);
    uint32_t mss = tp->mss;
    if (tp->cwnd < tp->ssthresh) {
        if (tcp_hystart_active(tp))
            tcp_hystart_slow_start(tp, acked); /* RFC 9406 */
        else
            tp->cwnd += acked < mss ? acked : mss; /* RFC 5681 slow start */
        return;
    }
    uint64_t now = tp->st->now_us;
    double cwnd = (double)tp->cwnd / mss;
    if (c->epoch_us == 0) {
        /* First CA ack since the last reduction (or ever): start an epoch
         * (RFC 9438 §4.2: t is measured from here). */
        c->epoch_us = now;
        if (c->w_max < cwnd) {
            c->w_max = cwnd; /* no reduction yet: plateau at the current window */
            c->k = 0;
        } else {
            c->k = cbrt(c->w_max * (1 - CUBIC_BETA) / CUBIC_C);
        }
        c->w_est = cwnd;
        c->cwnd_seg = cwnd;
    }
    double segs = (double)acked / mss;
    double rtt = tp->srtt_us ? (double)tp->srtt_us / 1e6 : 0.1;
    double t = (double)(now - c->epoch_us) / 1e6;
    /* §4.3: Reno-friendly estimate. */
    double alpha = 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA);
    c->w_est += alpha * segs / c->cwnd_seg;
    double target = w_cubic(c, t + rtt);
    if (w_cubic(c, t) < c->w_est) {
        c->cwnd_seg = c->w_est; /* §4.3: Reno-friendly region */
    } else {
        /* §4.4/4.5: grow toward the target, at most 1.5x per RTT. */
        if (target < c->cwnd_seg)
            target = c->cwnd_seg;
        if (target > 1.5 * c->cwnd_seg)
            target = 1.5 * c->cwnd_seg;
        c->cwnd_seg += (target - c->cwnd_seg) / c->cwnd_seg * segs;
    }
    uint32_t bytes = (uint32_t)(c->cwnd_seg * mss);
    if (bytes > tp->cwnd)
        tp->cwnd = bytes;
}

static void cubic_cong_signal(struct tcpcb *tp, enum tcp_cc_signal sig)
{
    struct cubic *c = cub(tp);
    uint32_t mss = tp->mss;
    double cwnd = (double)tp->cwnd / mss;
    /* §4.7 fast convergence: give up bandwidth to newer flows. */
    if (cwnd < c->w_last_max)
        c->w_max = cwnd * (1 + CUBIC_BETA) / 2;
    else
        c->w_max = cwnd;
    c->w_last_max = cwnd;
    c->k = cbrt(c->w_max * (1 - CUBIC_BETA) / CUBIC_C);
    c->epoch_us = 0;
    tcp_hystart_stop(tp); /* RFC 9406 §4.2: a loss ends slow start */
    /* §4.6: ssthresh = cwnd * beta_cubic, at least 2 segments. */
    uint32_t ss = (uint32_t)(cwnd * CUBIC_BETA * mss);
    tp->ssthresh = ss > 2 * mss ? ss : 2 * mss;
    tp->bytes_acked = 0;
    if (sig == CC_DUPACK3)
        tp->cwnd = tp->ssthresh + 3 * mss; /* RFC 5681 §3.2 inflation during recovery */
    else
        tp->cwnd = mss; /* §4.8: a timeout restarts from one segment */
}

static void cubic_post_recovery(struct tcpcb *tp)
{
    tp->cwnd = tp->ssthresh; /* §4.6: cwnd = ssthresh when recovery ends */
}

static void cubic_after_idle(struct tcpcb *tp)
{
    uint32_t rw = tcp_initial_window(tp);
    if (tp->cwnd > rw)
        tp->cwnd = rw;
    cub(tp)->epoch_us = 0; /* no growth credited for the idle time */
}

const struct tcp_cc_ops tcp_cc_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .ack_received = cubic_ack_received,
    .cong_signal = cubic_cong_signal,
    .post_recovery = cubic_post_recovery,
    .after_idle = cubic_after_idle,
};

const struct tcp_cc_ops *tcp_cc_find(const char *name)
{
    if (!strcmp(name, "cubic"))
        return &tcp_cc_cubic;
    if (!strcmp(name, "newreno") || !strcmp(name, "reno"))
        return &tcp_cc_newreno;
    return NULL;
}
