/* tcp/tcp_input.c — segment arrival.
 *
 * Read first: RFC 9293 §3.10.7 "SEGMENT ARRIVES" — this file follows its
 * order step by step and cites it at each rule; RFC 5961 (challenge ACKs
 * for in-window RST and SYN, the ACK range check, §7 rate limiting); RFC
 * 5681 §3.2 and RFC 6582 (fast retransmit, NewReno recovery); RFC 6298
 * (RTT samples); RFC 1122 §4.2.3.2 (delayed ACK); RFC 6191 (reusing a
 * TIME_WAIT 4-tuple); RFC 5927 (validating ICMP errors); RFC 7323 (§2
 * window scale negotiation, §4 RTTM and the TS.Recent rule, §5 PAWS).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"
#include "wire/bytes.h"

/* One parsed segment, as the steps below see it. */
struct seg {
    struct ns_flow in;  /* where it came from and went (local = its destination) */
    struct ns_tcp_repr th;
    const uint8_t *data;
    uint32_t len;       /* payload bytes */
    bool syn_window;    /* the window field is a SYN's: never scaled (RFC 7323 §2.2) */
};

/* The peer's window from this segment, in bytes (RFC 7323 §2.3). */
static uint32_t seg_wnd(const struct tcpcb *tp, const struct seg *s)
{
    if ((s->th.flags & NS_TCP_SYN) || s->syn_window)
        return s->th.win;
    return (uint32_t)s->th.win << tp->snd_wscale;
}

/* RFC 7323 §2.2, §3.2: what the peer's SYN (or SYN,ACK) offered. */
static void tcp_syn_options(struct tcpcb *tp, const struct ns_tcp_repr *th)
{
    if (th->has_wscale) {
        tp->flags |= TF_RCVD_SCALE;
        tp->peer_wscale = th->wscale; /* parse clamped it to 14 (§2.3) */
    }
    if (th->sack_ok)
        tp->flags |= TF_RCVD_SACK; /* RFC 2018 §2 */
    if (th->has_ts) {
        tp->flags |= TF_RCVD_TSTMP;
        tp->ts_recent = th->ts_val;
        tp->ts_recent_age_us = tp->st->now_us;
    }
}

/* RFC 7323 §4.1 RTTM: an RTT sample from the TSecr of an ACK that
 * acknowledges new data. The echo names the transmission that the ACK
 * answers, a retransmission included, so Karn's ambiguity does not arise
 * and the sample is taken whether or not the data was retransmitted (as
 * Linux tcp_ack_update_rtt); the §4.3 rules for TS.Recent make the echo
 * the earliest unacknowledged segment's, so delayed ACKs and holes
 * lengthen the sample, never shorten it. TSvals count milliseconds: the
 * sample is measured from the start of the echoed millisecond, so it is
 * never below the true RTT (and at most 1 ms above it). One sample per
 * ACK feeds RFC 6298 unchanged (Linux also does not apply RFC 7323
 * Appendix G's per-window scaling of alpha and beta). Returns false when
 * there is no usable echo (then the caller falls back to timing one
 * segment per round trip, RFC 6298 §3). */
static bool tcp_ts_rtt(struct tcpcb *tp, const struct seg *s)
{
    if (!tcp_ts_on(tp) || !s->th.has_ts || s->th.ts_ecr == 0 || !(s->th.flags & NS_TCP_ACK))
        return false;
    uint32_t ms = tcp_ts_now(tp) - s->th.ts_ecr;
    if (ms >= TCP_RTO_MAX_US / 1000)
        return false; /* an echo from the future, or absurdly old */
    tcp_rtt_sample(tp, (uint64_t)ms * 1000 + tp->st->now_us % 1000);
    return true;
}

/* Linux tcp_disordered_ack: a duplicate ACK that was merely overtaken
 * by a later segment (ACKs reordered in the network) fails PAWS, yet is
 * no old duplicate: pure ACK at RCV.NXT, acknowledging SND.UNA, leaving
 * the window alone, and its TSval at most one RTO behind TS.Recent. Its
 * SACK blocks matter to loss recovery, so it is taken, not dropped. */
static bool tcp_disordered_ack(const struct tcpcb *tp, const struct seg *s)
{
    const struct ns_tcp_repr *th = &s->th;
    return (th->flags & (NS_TCP_ACK | NS_TCP_SYN | NS_TCP_FIN)) == NS_TCP_ACK && s->len == 0 &&
           th->seq == tp->rcv_nxt && th->ack == tp->snd_una && seg_wnd(tp, s) == tp->snd_wnd &&
           tp->ts_recent - th->ts_val <= tp->rto_us / 1000;
}

/* Linux __tcp_oow_rate_limited (tcp_invalid_ratelimit): has this
 * connection sent an ACK answering an unacceptable segment, or a
 * challenge ACK, in the last TCP_OOW_ACK_US? If not, the caller may send
 * one now, and the clock restarts. Two peers that each find the other's
 * ACKs unacceptable cannot keep each other busy, and an attacker gets at
 * most one answer per 500 ms per connection. */
static bool tcp_oow_rate_limited(struct tcpcb *tp)
{
    uint64_t now = tp->st->now_us;
    if (tp->last_oow_ack_us && now - tp->last_oow_ack_us < TCP_OOW_ACK_US)
        return true;
    tp->last_oow_ack_us = now;
    return false;
}

/* Linux tcp_oow_rate_limited (RFC 7323 §5.3 and RFC 9293 §3.10.7.4 ask
 * for an ACK to a PAWS failure or an unacceptable segment): a segment
 * carrying data or a FIN, and no SYN, is always answered (it is unlikely
 * to be part of an ACK loop); a bare ACK or a SYN at most once per
 * TCP_OOW_ACK_US. */
static bool tcp_oow_ack_limited(struct tcpcb *tp, const struct seg *s)
{
    if ((s->len || (s->th.flags & NS_TCP_FIN)) && !(s->th.flags & NS_TCP_SYN))
        return false;
    if (!tcp_oow_rate_limited(tp))
        return false;
    NS_STAT_INC(tp->st, tcp_oow_ack_limited);
    return true;
}

/* RFC 7323 §5.3 R1, PAWS: is the segment's TSval older than TS.Recent?
 * Not for a RST (Linux tcp_validate_incoming accepts a reset that fails
 * PAWS; its sequence number is checked as any RST's), nor for a duplicate
 * ACK that was merely overtaken (tcp_disordered_ack). §5.5: after 24 days
 * without a TS.Recent update the peer's clock may have wrapped: TS.Recent
 * is invalid, and the segment's TSval replaces it. */
static bool tcp_paws_reject(struct tcpcb *tp, const struct seg *s)
{
    const struct ns_tcp_repr *th = &s->th;
    if (!tcp_ts_on(tp) || !th->has_ts || (th->flags & NS_TCP_RST) ||
        !TSTMP_LT(th->ts_val, tp->ts_recent) || tcp_disordered_ack(tp, s))
        return false;
    if (tp->st->now_us - tp->ts_recent_age_us > TCP_PAWS_IDLE_US) {
        tp->ts_recent = th->ts_val;
        tp->ts_recent_age_us = tp->st->now_us;
        return false;
    }
    return true;
}

/* RFC 6191 §2: may this SYN reopen a 4-tuple in TIME-WAIT? With
 * timestamps on the old connection and in the SYN, when its TSval is
 * newer than TS.Recent (whatever its sequence number: the clocks tell the
 * incarnations apart); an equal TSval, or no timestamps, falls back to
 * RFC 9293 §3.6.1: a sequence number above the old RCV.NXT. */
static bool tcp_tw_reusable(const struct tcpcb *tp, const struct ns_tcp_repr *th)
{
    if (tcp_ts_on(tp) && th->has_ts && th->ts_val != tp->ts_recent)
        return TSTMP_GT(th->ts_val, tp->ts_recent);
    return SEQ_GT(th->seq, tp->rcv_nxt);
}

/* RFC 5961 §7, as Linux tcp_send_challenge_ack: a challenge ACK, at most
 * one per TCP_OOW_ACK_US per connection (the clock shared with the ACKs
 * to unacceptable segments), then, when cfg.tcp_challenge_ack_limit is
 * set, within a stack-wide budget per second drawn at random in
 * [limit/2, limit*3/2) (Linux: a fixed shared budget let an off-path
 * attacker count the challenge ACKs of other connections and find their
 * 4-tuples and sequence numbers, CVE-2016-5696; since Linux 6.0 the
 * stack-wide limit is off by default, as it is here). */
static void tcp_challenge_ack(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    struct tcp_table *t = st->tcp;
    if (tcp_oow_rate_limited(tp)) {
        NS_STAT_INC(st, tcp_challenge_ack_limited);
        return;
    }
    uint32_t limit = st->cfg.tcp_challenge_ack_limit;
    if (limit) {
        uint64_t second = st->now_us / 1000000;
        if (!t->challenge_budget_valid || second != t->challenge_second) {
            uint32_t half = limit / 2 + (limit & 1);
            t->challenge_second = second;
            t->challenge_budget = half + (uint32_t)ns_rng_below(&st->rng, limit);
            t->challenge_budget_valid = true;
        }
        if (t->challenge_budget == 0) {
            NS_STAT_INC(st, tcp_challenge_ack_limited);
            return;
        }
        t->challenge_budget--;
    }
    NS_STAT_INC(st, tcp_challenge_acks);
    tcp_send_ack_now(tp);
}

/* RFC 5961 §4.2 (Linux tcp_validate_incoming, "syn_challenge"): a SYN on
 * a synchronized connection — in the window or not, failing PAWS or not —
 * is answered with a challenge ACK and dropped, never with a reset. */
static void tcp_syn_challenge(struct tcpcb *tp)
{
    NS_STAT_INC(tp->st, tcp_syn_challenge);
    tcp_challenge_ack(tp);
}

/* Both ends synchronized: size the windows and start congestion control. */
static void tcp_established(struct tcpcb *tp, const struct seg *s)
{
    /* RFC 7323 §2.2: the shifts apply once both SYNs carried WS, from
     * the first segment after the SYNs on. */
    if (tcp_ws_on(tp)) {
        tp->snd_wscale = tp->peer_wscale;
        tp->rcv_wscale = tp->req_rcv_wscale;
    }
    tp->mss = tcp_effective_mss(tp);
    tp->snd_wnd = seg_wnd(tp, s);
    if (tp->snd_wnd > tp->max_sndwnd)
        tp->max_sndwnd = tp->snd_wnd;
    tp->snd_wl1 = s->th.seq;
    tp->snd_wl2 = s->th.ack;
    tp->cc->init(tp);
    tcp_state_change(tp, TCPS_ESTABLISHED);
    tp->last_rx_us = tp->st->now_us;
    tcp_arm_keep(tp);
}

/* ---- LISTEN (RFC 9293 §3.10.7.2) -------------------------------------------- */

static void tcp_input_sync(struct tcpcb *tp, struct seg *s);

/* A segment for listener l (RFC 9293 §3.10.7.2). Half-open connections
 * live in the syncache (tcp_syncache.c) until the final ACK makes their
 * tcpcb, which then processes that ACK as any SYN-RECEIVED would. */
static void tcp_input_listen(struct ns_stack *st, struct tcpcb *l, struct seg *s)
{
    const struct ns_tcp_repr *th = &s->th;
    if (th->flags & NS_TCP_RST) {
        /* "first, check for a RST: ignore" — it may end a half-open one */
        tcp_syncache_rst(st, l, &s->in, th);
        return;
    }
    if (th->flags & NS_TCP_ACK) {
        /* "second, check for an ACK: <SEQ=SEG.ACK><CTL=RST>" — unless it
         * completes a handshake of the syncache or carries a valid cookie. */
        bool reset = true;
        struct tcpcb *tp = NULL;
        if (!(th->flags & NS_TCP_SYN))
            tp = tcp_syncache_ack(st, l, &s->in, th, &reset);
        if (tp) {
            tp->last_rx_us = st->now_us;
            tcp_input_sync(tp, s);
        } else if (reset) {
            tcp_reset_for(st, &s->in, th, s->len);
        }
        return;
    }
    if (!(th->flags & NS_TCP_SYN))
        return; /* "fourth, other text or control: drop" */
    /* A SYN with FIN set opens and closes at once: no real stack sends
     * one, scanners do. Linux (tcp_rcv_state_process) and FreeBSD
     * (tcp_input, "drop SYN+FIN") discard it, with or without data. */
    if (th->flags & NS_TCP_FIN) {
        NS_STAT_INC(st, tcp_drop_syn_fin);
        return;
    }
    /* Linux tcp_conn_request: a SYN that would overflow the accept queue
     * (sk_acceptq_is_full: backlog + 1 wait) is dropped, cookies or not,
     * and the peer's SYN retransmission tries again later. */
    if (l->acceptq_len >= l->backlog + 1) {
        NS_STAT_INC(st, tcp_drop_listen_overflow);
        return;
    }
    /* "third, check for a SYN": RCV.NXT = SEG.SEQ+1, IRS = SEG.SEQ, ISS
     * chosen, <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> sent — by the syncache. */
    tcp_syncache_syn(st, l, &s->in, th);
}

/* A segment for a held connection (TF_HELD: the peer's SYN is waiting
 * for the application's verdict, unanswered). The peer, in SYN-SENT, can
 * only repeat its SYN or give up with a RST; neither is answered. */
static void tcp_input_held(struct tcpcb *tp, const struct seg *s)
{
    const struct ns_tcp_repr *th = &s->th;
    if ((th->flags & NS_TCP_RST) && th->seq == tp->rcv_nxt) {
        /* RFC 9293 §3.10.7.4 in SYN-RECEIVED, as the syncache does for
         * a half-open entry: the attempt is over. */
        NS_STAT_INC(tp->st, tcp_syncache_reset);
        tcp_set_error(tp, ECONNRESET);
        tcp_close(tp);
        return;
    }
    if ((th->flags & NS_TCP_SYN) && !(th->flags & NS_TCP_ACK) && th->seq == tp->irs)
        NS_STAT_INC(tp->st, tcp_held_dupsyn);
}

/* ---- SYN-SENT (RFC 9293 §3.10.7.3) -------------------------------------------- */

static void tcp_input_syn_sent(struct tcpcb *tp, const struct seg *s)
{
    struct ns_stack *st = tp->st;
    const struct ns_tcp_repr *th = &s->th;
    bool ack_ok = false;
    /* "first, check the ACK bit": acceptable if SND.UNA < SEG.ACK =< SND.NXT. */
    if (th->flags & NS_TCP_ACK) {
        if (SEQ_LEQ(th->ack, tp->iss) || SEQ_GT(th->ack, tp->snd_max)) {
            if (!(th->flags & NS_TCP_RST))
                tcp_reset_for(st, &s->in, th, s->len);
            NS_STAT_INC(st, tcp_drop_bad_ack);
            return;
        }
        ack_ok = true;
    }
    /* "second, check the RST bit": with an acceptable ACK the peer refused. */
    if (th->flags & NS_TCP_RST) {
        if (ack_ok) {
            NS_STAT_INC(st, tcp_rx_rst);
            tcp_drop(tp, ECONNREFUSED);
        } else {
            NS_STAT_INC(st, tcp_drop_rst_ignored);
        }
        return;
    }
    if (!(th->flags & NS_TCP_SYN))
        return; /* "fifth: drop" */
    /* "fourth, check the SYN bit" */
    tp->irs = th->seq;
    tp->rcv_nxt = th->seq + 1;
    tp->rcv_adv = tp->rcv_nxt;
    tp->peer_mss = th->has_mss ? th->mss : TCP_MSS_NOOPT;
    tcp_syn_options(tp, th);
    if (ack_ok) {
        /* Our SYN is acknowledged: ESTABLISHED, <ACK> sent. */
        tp->snd_una = th->ack;
        if (!tcp_ts_rtt(tp, s) && (tp->flags & TF_RTT_TIMING) && tp->rxt_shift == 0)
            tcp_rtt_sample(tp, st->now_us - tp->rtt_start_us);
        tp->flags &= ~TF_RTT_TIMING;
        tp->rxt_shift = 0;
        tcp_timer_cancel(tp, TT_REXMT);
        tcp_established(tp, s);
        tp->flags |= TF_ACKNOW;
        tcp_output(tp);
        return;
    }
    /* Simultaneous open (RFC 9293 §3.5 figure 7): SYN-RECEIVED, and send
     * <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. */
    tp->snd_wnd = th->win;
    tp->snd_wl1 = th->seq;
    tcp_state_change(tp, TCPS_SYN_RECEIVED);
    tp->snd_nxt = tp->iss;
    tcp_output(tp);
}

/* ---- ACK processing (RFC 9293 §3.10.7.4 "fifth") ------------------------------- */

/* New data acknowledged: advance SND.UNA, free the send buffer, take an
 * RTT sample, drive congestion control. */
static void tcp_ack_new(struct tcpcb *tp, const struct seg *s)
{
    struct ns_stack *st = tp->st;
    uint32_t ack = s->th.ack;
    uint32_t acked = ack - tp->snd_una;

    /* RFC 7323 §4.1: with timestamps, every ACK of new data is a sample
     * (tcp_ts_rtt); else RFC 6298 §3 / Karn: only a segment never
     * retransmitted is timed. */
    if (tcp_ts_rtt(tp, s)) {
        tp->flags &= ~TF_RTT_TIMING;
    } else if ((tp->flags & TF_RTT_TIMING) && SEQ_GT(ack, tp->rtt_seq)) {
        tcp_rtt_sample(tp, st->now_us - tp->rtt_start_us);
        tp->flags &= ~TF_RTT_TIMING;
    }
    if (SEQ_GT(ack, tp->snd_data)) {
        uint32_t n = ack - tp->snd_data;
        if (n > tp->sndbuf.len)
            n = tp->sndbuf.len; /* the rest acknowledges our FIN */
        ns_ring_drop(&tp->sndbuf, n);
        tp->snd_data += n;
        if (tp->sndbuf.len == 0)
            tcp_mem_reclaim(tp); /* drained: maybe give the storage back */
        tcp_check_space(tp);
    }
    tp->snd_una = ack;
    if (SEQ_LT(tp->snd_nxt, tp->snd_una))
        tp->snd_nxt = tp->snd_una;
    if (tp->urg_mode && SEQ_GEQ(ack, tp->snd_up))
        tp->urg_mode = false; /* the urgent byte arrived: urgent mode ends */

    if (tcp_sack_active(tp)) {
        /* The scoreboard drives recovery and the window (tcp_rec_ack). */
        tcp_sm_ack(tp, ack);
    } else if (tp->flags & TF_FASTRECOVERY) {
        if (SEQ_GEQ(ack, tp->recover)) {
            /* RFC 6582 §3.2 step 3: a full ACK ends recovery. */
            tp->flags &= ~TF_FASTRECOVERY;
            tp->cc->post_recovery(tp);
        } else {
            /* Step 5: a partial ACK: retransmit the next hole, deflate. */
            tcp_retransmit_one(tp);
            tp->cwnd = tp->cwnd > acked ? tp->cwnd - acked : tp->mss;
            if (acked >= tp->mss)
                tp->cwnd += tp->mss;
            /* RFC 6582 §3.2 step 5 / §4 "Impatient": only the first
             * partial ACK restarts the timer, so a window with many holes
             * ends in a timeout instead of one hole per RTT. */
            if (!(tp->flags & TF_NR_PARTIAL)) {
                tp->flags |= TF_NR_PARTIAL;
                tcp_arm_rexmt(tp);
            }
        }
    } else {
        tp->cc->ack_received(tp, acked);
    }
    tp->dupacks = 0;
    tp->rxt_shift = 0;
    tp->persist_shift = 0;
    tp->rxt_start_us = st->now_us;
    tp->soft_error = 0; /* Linux tcp_ack: something worked */
    /* RFC 6298 §5.2-5.3: stop the timer when all is acked, else restart
     * (NewReno recovery keeps it running from the partial ACK's
     * retransmission instead). */
    if (tp->snd_una == tp->snd_max)
        tcp_timer_cancel(tp, TT_REXMT);
    else if (!(tp->flags & TF_FASTRECOVERY) || tcp_sack_active(tp))
        tcp_arm_rexmt(tp);
}

/* RFC 5681 §2 "duplicate acknowledgment": same ACK, no data, no SYN/FIN,
 * same window, and data outstanding. */
static void tcp_dupack(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    NS_STAT_INC(st, tcp_dupacks);
    tp->dupacks++;
    if (tp->flags & TF_FASTRECOVERY) {
        /* RFC 6582 §3.2 step 4 / RFC 5681 §3.2 step 4: inflate. */
        tp->cwnd += tp->mss;
        tcp_output(tp);
        return;
    }
    if (tp->dupacks == 3 && !SEQ_LT(tp->snd_una, tp->recover)) {
        /* RFC 6582 §3.2 step 2 / RFC 5681 §3.2 steps 2-3. */
        NS_STAT_INC(st, tcp_fast_retransmits);
        tp->cc->cong_signal(tp, CC_DUPACK3);
        tp->recover = tp->snd_max;
        tp->flags |= TF_FASTRECOVERY;
        tp->flags &= ~TF_NR_PARTIAL;
        tp->flags &= ~TF_RTT_TIMING;
        tcp_retransmit_one(tp);
        tcp_arm_rexmt(tp);
        tcp_output(tp);
    }
}

/* Our FIN has been acknowledged. */
static bool fin_acked(const struct tcpcb *tp)
{
    return (tp->flags & TF_SENTFIN) && tp->snd_una == tp->snd_max;
}

/* Returns false when the segment must be dropped (or tp is gone). */
static bool tcp_process_ack(struct tcpcb *tp, const struct seg *s)
{
    struct ns_stack *st = tp->st;
    const struct ns_tcp_repr *th = &s->th;

    if (tp->state == TCPS_SYN_RECEIVED) {
        /* "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED" */
        if (SEQ_LEQ(th->ack, tp->snd_una) || SEQ_GT(th->ack, tp->snd_max)) {
            tcp_reset_for(st, &s->in, th, s->len);
            NS_STAT_INC(st, tcp_drop_bad_ack);
            return false;
        }
        struct tcpcb *l = tp->listener;
        tcp_established(tp, s);
        if (l)
            tcp_acceptq_add(l, tp); /* from the SYN queue to the accept queue */
        /* fall through to the ESTABLISHED processing of this ACK */
    }

    /* RFC 5961 §5.2: acceptable if SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT. */
    if (SEQ_GT(th->ack, tp->snd_max)) {
        /* "If the ACK acks something not yet sent, send an ACK, drop." */
        NS_STAT_INC(st, tcp_drop_bad_ack);
        tcp_send_ack_now(tp);
        return false;
    }
    if (SEQ_LT(th->ack, tp->snd_una - tp->max_sndwnd)) {
        NS_STAT_INC(st, tcp_drop_bad_ack);
        tcp_challenge_ack(tp);
        return false;
    }

    uint32_t win = seg_wnd(tp, s);
    uint32_t prior_una = tp->snd_una, prior_sacked = tp->sacked_bytes;
    if (SEQ_GT(th->ack, tp->snd_una)) {
        tcp_ack_new(tp, s);
    } else if (th->ack == tp->snd_una && s->len == 0 &&
               !(th->flags & (NS_TCP_SYN | NS_TCP_FIN)) && win == tp->snd_wnd && win != 0 &&
               tp->snd_una != tp->snd_max) {
        /* RFC 5681 §2 duplicate ACK. Not with a zero window: that is the
         * answer to a window probe (RFC 9293 §3.8.6.1), no sign of loss
         * (FreeBSD counts duplicates only while the retransmission timer,
         * not the persist timer, runs). With SACK, RACK decides instead. */
        if (tcp_sack_active(tp))
            NS_STAT_INC(st, tcp_dupacks);
        else
            tcp_dupack(tp);
    }
    if (tcp_sack_active(tp))
        tcp_rec_ack(tp, th, prior_una, prior_sacked);

    /* Window update: "If SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and
     * SND.WL2 =< SEG.ACK), set SND.WND <- SEG.WND ..." */
    if (SEQ_LT(tp->snd_wl1, th->seq) ||
        (tp->snd_wl1 == th->seq && SEQ_LEQ(tp->snd_wl2, th->ack))) {
        bool opened = tp->snd_wnd == 0 && win > 0;
        tp->snd_wnd = win;
        tp->snd_wl1 = th->seq;
        tp->snd_wl2 = th->ack;
        if (win > tp->max_sndwnd)
            tp->max_sndwnd = win;
        if (opened) {
            tcp_timer_cancel(tp, TT_PERSIST);
            tp->persist_shift = 0;
            /* RFC 9293 §3.8.6.1: the window reopened; a probe byte the
             * peer did not take is sent again with what follows it, now,
             * rather than after a retransmission timeout (FreeBSD sets
             * SND.NXT back to SND.UNA when it starts persisting). */
            tp->snd_nxt = tp->snd_una;
            if (tp->snd_una != tp->snd_max && !tcp_timer_pending(tp, TT_REXMT))
                tcp_arm_rexmt(tp);
        }
    }

    switch (tp->state) {
    case TCPS_FIN_WAIT_1:
        if (fin_acked(tp)) {
            tcp_state_change(tp, TCPS_FIN_WAIT_2);
            /* Linux tcp_fin_timeout: an orphan does not wait forever. */
            if (!tp->so)
                tcp_timer_arm(tp, TT_2MSL, st->now_us + TCP_FIN_TIMEOUT_US);
        }
        break;
    case TCPS_CLOSING:
        if (fin_acked(tp))
            tcp_enter_time_wait(tp);
        break;
    case TCPS_LAST_ACK:
        if (fin_acked(tp)) {
            tcp_close(tp);
            return false;
        }
        break;
    default:
        break;
    }
    return true;
}

/* ---- data and FIN (RFC 9293 §3.10.7.4 "seventh", "eighth") ---------------------- */

static void tcp_process_fin(struct tcpcb *tp)
{
    /* "If the FIN bit is set, signal the user 'connection closing' ...
     * advance RCV.NXT over the FIN, and send an acknowledgment." */
    tp->rcv_nxt++;
    tp->flags |= TF_ACKNOW;
    tp->rcvd_fin = true; /* Linux SOCK_DONE: EOF even after a later reset */
    switch (tp->state) {
    case TCPS_SYN_RECEIVED:
    case TCPS_ESTABLISHED:
        tcp_state_change(tp, TCPS_CLOSE_WAIT);
        break;
    case TCPS_FIN_WAIT_1:
        /* Our FIN not yet acked (else we would be in FIN-WAIT-2). */
        if (fin_acked(tp))
            tcp_enter_time_wait(tp);
        else
            tcp_state_change(tp, TCPS_CLOSING);
        break;
    case TCPS_FIN_WAIT_2:
        tcp_timer_cancel(tp, TT_2MSL);
        tcp_enter_time_wait(tp);
        break;
    default:
        break;
    }
}

void tcp_input_pull(struct tcpcb *tp)
{
    if (!tcp_reass_ready(tp))
        return;
    bool fin;
    tcp_reass_pull(tp, &fin);
    tcp_sack_rcv_prune(tp);
    tp->flags |= TF_ACKNOW;
    if (fin && (tp->state == TCPS_ESTABLISHED || tp->state == TCPS_FIN_WAIT_1 ||
                tp->state == TCPS_FIN_WAIT_2))
        tcp_process_fin(tp); /* RFC 9293 §3.10.7.4 "eighth", reached late */
    tcp_output(tp); /* the ACK, also from TIME-WAIT when the FIN took us there */
}

/* Accept in-order data into the receive buffer, or queue it out of order. */
static void tcp_process_data(struct tcpcb *tp, const struct seg *s, bool *fin)
{
    struct ns_stack *st = tp->st;
    uint32_t seq = s->th.seq;
    const uint8_t *data = s->data;
    uint32_t len = s->len;
    uint32_t rcv_before = tp->rcv_nxt;

    if (seq == tp->rcv_nxt) {
        /* Every byte inside a window we advertised is taken, also past
         * the buffer's size (tcp_rcv_ring_limit), as far as the memory
         * limit lets the storage grow (tcp_mem.c: tcp_mem_rcv_drop, the
         * peer resends what our ACK says is missing); only a failed
         * allocation otherwise leaves some for the peer to send again. */
        uint32_t limit = tcp_rcv_ring_limit(tp);
        uint32_t room = limit > tp->rcvbuf.len ? limit - tp->rcvbuf.len : 0;
        uint32_t fit = len < room ? len : room;
        uint32_t take = tcp_mem_ring_take(tp, &tp->rcvbuf, TCP_MEM_RCV, fit, limit);
        if (take < fit) {
            NS_STAT_INC(st, tcp_mem_rcv_drop);
            tp->flags |= TF_ACKNOW;
        }
        uint32_t n = ns_ring_write_max(&tp->rcvbuf, data, take, limit);
        if (n < take)
            NS_STAT_ADD(st, tcp_rcv_inwin_drop, take - n);
        if (fit < len)
            NS_STAT_ADD(st, tcp_rcvbuf_trim, len - fit); /* past every edge advertised */
        if (n < len)
            *fin = false;
        tp->rcv_nxt += n;
        tcp_rcv_grow_window(tp, n);
        if (tp->reass && n == 0) {
            tp->flags |= TF_ACKNOW; /* nothing taken: say so at once */
        } else if (tp->reass) {
            /* The hole filled: deliver what waited, ACK at once
             * (RFC 5681 §4.2: SHOULD for segments that fill gaps). */
            bool rfin;
            tcp_reass_pull(tp, &rfin);
            if (rfin)
                *fin = true;
            tcp_sack_rcv_prune(tp);
            tp->flags |= TF_ACKNOW;
        } else if (n) {
            /* RFC 1122 §4.2.3.2 / RFC 5681 §4.2: ACK at least every
             * second full-sized segment, else within the delayed-ACK
             * timeout. */
            tp->delack_segs += len / tp->mss; /* a GRO aggregate counts as its segments */
            if (tp->delack_segs >= 2 || *fin) {
                tp->flags |= TF_ACKNOW;
            } else {
                tp->flags |= TF_DELACK;
                tcp_arm_delack(tp);
            }
        }
        if (tp->rcv_nxt != rcv_before)
            sock_wake(st, tp->so, SOCK_WAKE_IN); /* tcp_data_ready */
        return;
    }
    /* Out of order: keep it, and send a duplicate ACK at once (RFC 5681
     * §4.2) that reports it (RFC 2018 §4). */
    if (tcp_reass_insert(tp, seq, data, len, *fin) && len)
        tcp_sack_rcv_add(tp, seq, seq + len);
    *fin = false;
    tp->flags |= TF_ACKNOW;
}

/* ---- TIME-WAIT (RFC 9293 §3.10.7.4) ------------------------------------------ */

/* A segment for a connection in TIME-WAIT, as Linux
 * tcp_timewait_state_process (FreeBSD tcp_twcheck alike). The connection
 * is over: nothing a segment carries is taken any more — no data, no ACK
 * field, no FIN (RCV.NXT stays one past the FIN received, so a second FIN
 * never advances it). A SYN that may reopen the 4-tuple was handled
 * before (tcp_tw_reusable). Then:
 *  - a bare ACK or a RST exactly at RCV.NXT (and not failing PAWS) is in
 *    order: the RST ends TIME-WAIT (Linux tcp_rfc1337 = 0), the ACK
 *    restarts the 2 MSL timer;
 *  - any other RST is ignored (no challenge ACK in TIME-WAIT on Linux);
 *  - everything else — a retransmitted FIN (RFC 9293 §3.10.7.4 "eighth":
 *    "acknowledge it, and restart the 2 MSL timeout"), data, an ACK above
 *    RCV.NXT, an old SYN — is answered with an ACK of what was received,
 *    bare ACKs and SYNs at most once per 500 ms (tcp_oow_ack_limited),
 *    and restarts the timer when it carries an ACK or failed PAWS. */
/* Linux tcp_check_urg: a new urgent pointer (one past the urgent byte,
 * RFC 6093 §3 and Linux's default tcp_stdurg=0). */
static void tcp_check_urg(struct tcpcb *tp, uint32_t up)
{
    uint32_t ptr = up - 1; /* the urgent byte */
    uint32_t copied = tcp_copied_seq(tp);
    if (SEQ_GT(copied, ptr))
        return; /* already seen and read */
    if (SEQ_LT(ptr, tp->rcv_nxt))
        return; /* do not replay a pointer into data already received */
    if (tp->urg_state != TCP_URG_NONE && SEQ_LEQ(ptr, tp->urg_seq))
        return; /* the same pointer again, or an older one */
    /* The byte just read was the old urgent byte, kept out of the stream
     * but not passed yet: step over it, as a read would have. */
    if (tp->urg_state != TCP_URG_NONE && tp->urg_seq == copied && tp->so &&
        !(tp->so->flags & SO_F_OOBINLINE) && copied != tp->rcv_nxt && tp->rcvbuf.len)
        ns_ring_drop(&tp->rcvbuf, 1);
    tp->urg_state = TCP_URG_NOTYET;
    tp->urg_seq = ptr;
}

void tcp_urg(struct tcpcb *tp, bool urg, uint32_t up, uint32_t start, const uint8_t *data,
             uint32_t len)
{
    if (urg)
        tcp_check_urg(tp, up);
    /* Is the urgent byte in this segment? (Out of order too: the byte is
     * taken from whichever segment holds it.) */
    if (tp->urg_state == TCP_URG_NOTYET) {
        uint32_t off = tp->urg_seq - start;
        if (off < len) {
            tp->urg_byte = data[off];
            tp->urg_state = TCP_URG_VALID;
            sock_wake(tp->st, tp->so, SOCK_WAKE_IN); /* POLLPRI (sk_data_ready) */
        }
    }
}

static void tcp_input_time_wait(struct tcpcb *tp, const struct seg *s)
{
    struct ns_stack *st = tp->st;
    const struct ns_tcp_repr *th = &s->th;
    bool paws_reject = tcp_paws_reject(tp, s);
    bool bare = s->len == 0 && !(th->flags & (NS_TCP_SYN | NS_TCP_FIN));
    if (!paws_reject && th->seq == tp->rcv_nxt && (bare || (th->flags & NS_TCP_RST))) {
        if (th->flags & NS_TCP_RST) {
            NS_STAT_INC(st, tcp_rx_rst);
            tcp_close(tp);
            return;
        }
        tcp_timer_arm(tp, TT_2MSL, st->now_us + 2 * st->cfg.tcp_msl_us);
        if (tcp_ts_on(tp) && th->has_ts) {
            tp->ts_recent = th->ts_val;
            tp->ts_recent_age_us = st->now_us;
        }
        return;
    }
    if (th->flags & NS_TCP_RST) {
        NS_STAT_INC(st, tcp_drop_rst_ignored);
        return;
    }
    if (paws_reject)
        NS_STAT_INC(st, tcp_drop_paws);
    else
        NS_STAT_INC(st, tcp_drop_time_wait);
    if (paws_reject || (th->flags & NS_TCP_ACK))
        tcp_timer_arm(tp, TT_2MSL, st->now_us + 2 * st->cfg.tcp_msl_us);
    if (!tcp_oow_ack_limited(tp, s))
        tcp_send_ack_now(tp);
}

/* ---- synchronized states (RFC 9293 §3.10.7.4) --------------------------------- */

static void tcp_input_sync(struct tcpcb *tp, struct seg *s)
{
    struct ns_stack *st = tp->st;
    struct ns_tcp_repr *th = &s->th;
    bool syn = th->flags & NS_TCP_SYN, fin = th->flags & NS_TCP_FIN;
    uint32_t seglen = s->len + syn + fin;

    /* RFC 9293 §3.5 figure 7, simultaneous open: in SYN-RECEIVED the
     * peer's SYN,ACK repeats its ISN (SEG.SEQ = IRS) and acknowledges our
     * SYN. Take it as the ACK it is, past its SYN (as Linux
     * tcp_rcv_state_process), not as a duplicate SYN: answering with our
     * SYN,ACK again would ping-pong forever between two such stacks. */
    if (tp->state == TCPS_SYN_RECEIVED && !tp->listener && syn && (th->flags & NS_TCP_ACK) &&
        th->seq == tp->irs && SEQ_GT(th->ack, tp->snd_una) && SEQ_LEQ(th->ack, tp->snd_max)) {
        th->flags &= (uint8_t)~NS_TCP_SYN;
        th->seq++;
        syn = false;
        seglen--;
        s->syn_window = true;
    }

    /* RFC 7323 §5.3 R1, PAWS: a duplicate from an earlier incarnation
     * of the sequence space: ACK it and drop it. */
    if (tcp_paws_reject(tp, s)) {
        if (syn && !(tp->state == TCPS_SYN_RECEIVED && th->seq == tp->irs)) {
            tcp_syn_challenge(tp);
            return;
        }
        NS_STAT_INC(st, tcp_drop_paws);
        if (!tcp_oow_ack_limited(tp, s))
            tcp_send_ack_now(tp);
        return;
    }

    /* "first, check sequence number": the four acceptability cases. */
    uint32_t wnd = tcp_rcv_window(tp);
    if (SEQ_GT(tp->rcv_adv, tp->rcv_nxt) && tp->rcv_adv - tp->rcv_nxt > wnd)
        wnd = tp->rcv_adv - tp->rcv_nxt;
    bool ok;
    if (seglen == 0)
        ok = wnd == 0 ? th->seq == tp->rcv_nxt : seq_in_window(th->seq, tp->rcv_nxt, wnd);
    else
        ok = wnd != 0 && (seq_in_window(th->seq, tp->rcv_nxt, wnd) ||
                          seq_in_window(th->seq + seglen - 1, tp->rcv_nxt, wnd));
    /* A zero window still takes ACKs, RSTs and URGs (RFC 9293 §3.10.7.4).
     * The text it carried (a window probe) was not acceptable: "an
     * acknowledgment should be sent in reply" (§3.10.7.4), which is also
     * what keeps the prober's persist timer from giving up (§3.8.6.1). */
    if (!ok && wnd == 0 && th->seq == tp->rcv_nxt) {
        ok = true;
        if (seglen > 0)
            tp->flags |= TF_ACKNOW;
        s->len = 0;
        fin = false;
    }
    if (!ok) {
        if (th->flags & NS_TCP_RST) {
            NS_STAT_INC(st, tcp_drop_rst_ignored);
            return;
        }
        if (tp->state == TCPS_SYN_RECEIVED && syn && th->seq == tp->irs) {
            /* The peer retransmitted its SYN: our SYN-ACK was lost. */
            NS_STAT_INC(st, tcp_drop_out_of_window);
            tp->snd_nxt = tp->iss;
            tcp_output(tp);
            return;
        }
        if (syn) {
            tcp_syn_challenge(tp);
            return;
        }
        /* "send an acknowledgment ... and drop the segment"; a segment
         * wholly below RCV.NXT is a duplicate: say so (RFC 2883 §4). */
        NS_STAT_INC(st, tcp_drop_out_of_window);
        if (s->len && SEQ_LEQ(th->seq + s->len, tp->rcv_nxt))
            tcp_sack_rcv_dup(tp, th->seq, th->seq + s->len);
        if (!tcp_oow_ack_limited(tp, s))
            tcp_send_ack_now(tp);
        return;
    }

    /* RFC 7323 §4.3, §5.3 R3: remember the TSval to echo, from segments
     * that start at or before the edge we last acknowledged (so that the
     * echo stays that of the earliest segment not yet acknowledged). */
    if (tcp_ts_on(tp) && th->has_ts && TSTMP_GEQ(th->ts_val, tp->ts_recent) &&
        SEQ_LEQ(th->seq, tp->last_ack_sent)) {
        tp->ts_recent = th->ts_val;
        tp->ts_recent_age_us = st->now_us;
    }

    /* The receiver's RTT for autotuning: data echoing one of our TSvals
     * came back one round trip after that TSval left (Linux
     * tcp_rcv_rtt_measure_ts). */
    if (s->len && tcp_ts_on(tp) && th->has_ts && th->ts_ecr) {
        uint32_t ms = tcp_ts_now(tp) - th->ts_ecr;
        if (ms < TCP_RTO_MAX_US / 1000)
            tcp_rcv_rtt_sample(tp, (uint64_t)ms * 1000 + 500);
    }

    /* "second, check the RST bit" with RFC 5961 §3.2. */
    if (th->flags & NS_TCP_RST) {
        if (th->seq != tp->rcv_nxt) {
            tcp_challenge_ack(tp); /* in window, not exact: challenge */
            return;
        }
        NS_STAT_INC(st, tcp_rx_rst);
        /* The error as Linux tcp_reset reports it: ECONNREFUSED in
         * SYN-SENT (tcp_input_syn_sent), EPIPE in CLOSE-WAIT, ECONNRESET
         * in every other state a socket can see — SYN-RECEIVED of an
         * active (simultaneous) open, CLOSING and LAST-ACK included. A
         * passive open's child just goes away (back to LISTEN, RFC 9293
         * §3.10.7.4); in TIME-WAIT the user's connection had already
         * ended (Linux has handed it to a timewait socket): no error. */
        switch (tp->state) {
        case TCPS_SYN_RECEIVED:
            if (tp->listener)
                tcp_close(tp);
            else
                tcp_drop(tp, ECONNRESET);
            return;
        case TCPS_TIME_WAIT:
            tcp_close(tp);
            return;
        default:
            if (tp->state == TCPS_ESTABLISHED || tp->state == TCPS_CLOSE_WAIT)
                NS_STAT_INC(st, tcp_estab_resets);
            tcp_set_error(tp, tp->state == TCPS_CLOSE_WAIT ? EPIPE : ECONNRESET);
            tcp_close(tp);
            return;
        }
    }

    /* "fourth, check the SYN bit" — RFC 5961 §4: challenge ACK. */
    if (syn) {
        if (tp->state == TCPS_SYN_RECEIVED && th->seq == tp->irs) {
            tp->snd_nxt = tp->iss; /* duplicate SYN: repeat our SYN-ACK */
            tcp_output(tp);
            return;
        }
        tcp_syn_challenge(tp);
        return;
    }

    /* The urgent pointer counts from the segment's own first byte, which
     * the trimming below may move. */
    uint32_t urg_up = th->seq + th->urp;

    /* Trim data already received (duplicate) and data beyond the window. */
    if (SEQ_LT(th->seq, tp->rcv_nxt)) {
        uint32_t dup = tp->rcv_nxt - th->seq;
        if (s->len)
            tcp_sack_rcv_dup(tp, th->seq, th->seq + (dup < s->len ? dup : s->len));
        if (dup >= s->len) {
            s->data += s->len;
            s->len = 0;
        } else {
            s->data += dup;
            s->len -= dup;
        }
        th->seq = tp->rcv_nxt;
        tp->flags |= TF_ACKNOW; /* a duplicate: the peer missed our ACK */
    }
    if (s->len > 0 && SEQ_GT(th->seq + s->len, tp->rcv_nxt + wnd)) {
        uint32_t keep = tp->rcv_nxt + wnd - th->seq;
        NS_STAT_ADD(st, tcp_rcvbuf_trim, s->len - keep);
        s->len = keep;
        fin = false; /* the FIN lay beyond the window */
    }

    /* "fifth, check the ACK field" */
    if (!(th->flags & NS_TCP_ACK))
        return;
    if (!tcp_process_ack(tp, s))
        return;

    /* "sixth, check the URG bit" */
    if (TCPS_HAVEESTABLISHED(tp->state) && !TCPS_HAVERCVDFIN(tp->state))
        tcp_urg(tp, th->flags & NS_TCP_URG, urg_up, th->seq, s->data, s->len);

    /* "seventh, process the segment text" in ESTABLISHED, FIN-WAIT-1/2. */
    if (s->len > 0) {
        switch (tp->state) {
        case TCPS_ESTABLISHED:
        case TCPS_FIN_WAIT_1:
        case TCPS_FIN_WAIT_2:
            if (!tp->so && (tp->flags & TF_ORPHAN)) {
                /* Linux tcp_rcv_state_process: data for a socket the
                 * user closed is answered with a reset (RFC 9293 §3.10.4
                 * allows it), one that answers this segment: <SEQ=SEG.ACK>
                 * (§3.10.7.1, Linux tcp_v4_send_reset). SND.NXT would lie
                 * past a FIN the peer has not acknowledged, and an RFC 5961
                 * peer answers that with a challenge ACK, not a close. */
                NS_STAT_INC(st, tcp_drop_after_close);
                if (tp->state == TCPS_ESTABLISHED)
                    NS_STAT_INC(st, tcp_estab_resets);
                tcp_reset_for(st, &s->in, th, s->len);
                tcp_close(tp);
                return;
            }
            tcp_process_data(tp, s, &fin);
            break;
        default:
            /* CLOSE-WAIT and later: "this should not occur", ignore. */
            break;
        }
    } else if (fin && th->seq != tp->rcv_nxt) {
        /* A bare FIN out of order: remember it for when the gap fills. */
        tcp_reass_insert(tp, th->seq, NULL, 0, true);
        fin = false;
        tp->flags |= TF_ACKNOW;
    }

    /* "eighth, check the FIN bit" */
    if (fin && tp->state != TCPS_CLOSED && tp->state != TCPS_LISTEN &&
        tp->state != TCPS_SYN_SENT)
        tcp_process_fin(tp);

    tcp_output(tp);
}

static void tcp_rcv(struct ns_stack *st, struct ns_pbuf *pb, const struct ns_flow *in, bool multi);

void tcp_input(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip4_repr *ip,
               struct ns_pbuf *pb)
{
    (void)ifp; /* checksum offload is per frame (NS_PBUF_F_CSUM_OK), see if_input */
    struct ns_flow in = ns_flow_ip4(ip->dst, 0, ip->src, 0, NS_IPPROTO_TCP);
    tcp_rcv(st, pb, &in, ip4_is_broadcast(st, ip->dst) || ip4_is_multicast(ip->dst));
}

void tcp_input6(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                struct ns_pbuf *pb)
{
    (void)ifp;
    struct ns_flow in = ns_flow_ip6(&ip->dst, 0, &ip->src, 0, NS_IPPROTO_TCP);
    tcp_rcv(st, pb, &in, ns_ip6_is_multicast(&ip->dst));
}

/* A segment (pb at its TCP header) of either family, its flow's
 * addresses in `in` (ports filled here); `multi`: sent to a broadcast or
 * group address. Consumes pb. */
static void tcp_rcv(struct ns_stack *st, struct ns_pbuf *pb, const struct ns_flow *in, bool multi)
{
    struct seg s = {.in = *in, .len = 0};
    NS_STAT_INC(st, tcp_rx_segs);
    switch (ns_tcp_parse(ns_pbuf_data(pb), pb->len, &s.th)) {
    case NS_WIRE_OK:
        break;
    case -NS_WIRE_TRUNCATED:
        NS_STAT_INC(st, tcp_drop_short);
        goto drop;
    default:
        NS_STAT_INC(st, tcp_drop_bad_hlen);
        goto drop;
    }
    s.in.lport = s.th.dport;
    s.in.rport = s.th.sport;
    /* RFC 9293 §3.1: the pseudo-header of the flow's family; a segment
     * with its checksum in place sums to -0. */
    if (!(pb->flags & NS_PBUF_F_CSUM_OK) &&
        ns_csum_fold(ns_csum_add(ns_csum_pseudo(&s.in.remote, &s.in.local, NS_IPPROTO_TCP, pb->len),
                                 ns_pbuf_data(pb), pb->len)) != 0) {
        NS_STAT_INC(st, tcp_drop_bad_csum);
        goto drop;
    }
    /* RFC 1122 §4.2.3.10: TCP is unicast only. */
    if (multi || (pb->flags & NS_PBUF_F_L2_BCAST)) {
        NS_STAT_INC(st, tcp_drop_bcast);
        goto drop;
    }
    s.data = ns_pbuf_data(pb) + s.th.hlen;
    s.len = pb->len - s.th.hlen;

    struct tcpcb *tp = tcp_lookup(st, &s.in);
    if (tp && tp->state == TCPS_TIME_WAIT && (s.th.flags & NS_TCP_SYN) &&
        !(s.th.flags & (NS_TCP_RST | NS_TCP_ACK)) && tcp_tw_reusable(tp, &s.th)) {
        NS_STAT_INC(st, tcp_tw_reuse);
        tcp_close(tp);
        tp = NULL;
    }
    if (!tp) {
        /* A segment for another host reaches only the transparent
         * listener; one for us any listener, that one last. */
        bool nonlocal = pb->flags & NS_PBUF_F_NONLOCAL;
        struct tcpcb *l = nonlocal ? NULL : tcp_lookup_listener(st, &s.in.local, s.in.lport);
        if (!l)
            l = st->tcp->transparent;
        if (l) {
            tcp_input_listen(st, l, &s);
        } else if (nonlocal) {
            NS_STAT_INC(st, tcp_drop_nonlocal); /* not ours to reset */
        } else {
            /* RFC 9293 §3.10.7.1: CLOSED — answer with a reset. */
            NS_STAT_INC(st, tcp_drop_no_socket);
            tcp_reset_for(st, &s.in, &s.th, s.len);
        }
        goto drop;
    }
    if (tp->flags & TF_HELD) {
        tcp_input_held(tp, &s);
        goto drop;
    }
    tp->last_rx_us = st->now_us;
    /* Linux tcp_segs_in: a GRO packet counts its segments. */
    uint32_t nsegs = pb->gso_size && s.len > pb->gso_size ? (s.len + pb->gso_size - 1) / pb->gso_size : 1;
    tp->segs_in += nsegs;
    if (s.len)
        tp->data_segs_in += nsegs;
    tp->keep_probes = 0;
    tp->persist_unanswered = 0;
    if (tp->state == TCPS_SYN_SENT)
        tcp_input_syn_sent(tp, &s);
    else if (tp->state == TCPS_TIME_WAIT)
        tcp_input_time_wait(tp, &s);
    else
        tcp_input_sync(tp, &s);
drop:
    ns_pbuf_free(pb);
}

/* The path MTU went down: a smaller MSS takes effect now, and what no
 * longer fits is sent again (counted as tcp_pmtu_updates). */
static void tcp_pmtu_shrunk(struct tcpcb *tp)
{
    uint16_t mss = tcp_effective_mss(tp);
    if (mss >= tp->mss)
        return;
    tp->mss = mss;
    NS_STAT_INC(tp->st, tcp_pmtu_updates);
    if (tcp_sack_active(tp)) {
        /* Resend what no longer fits (Linux tcp_simple_retransmit):
         * the retransmission splits it to the new MSS. */
        for (uint32_t i = 0; i < tp->sm.n; i++) {
            struct tcp_sendrec *r = tcp_sm_at(tp, i);
            if (r->end - r->start > tp->mss)
                tcp_sm_mark_lost(tp, r);
        }
    } else {
        tp->snd_nxt = tp->snd_una;
    }
    tcp_output(tp);
}

/* An ICMP error's errno for tp. Linux tcp_v4_err / tcp_v6_err: an error
 * during the handshake aborts it; on an established connection it is
 * only a soft error (RFC 5461), kept to be reported should the
 * connection time out (tcp_timeout_error). */
static void tcp_icmp_report(struct tcpcb *tp, int err)
{
    if (tp->state == TCPS_SYN_SENT || (tp->state == TCPS_SYN_RECEIVED && !tp->listener)) {
        NS_STAT_INC(tp->st, tcp_attempt_fails);
        tcp_set_error(tp, err);
        tcp_close(tp);
    } else {
        tp->soft_error = err;
    }
}

/* ICMP errors about our segments (RFC 1122 §4.2.3.9, RFC 5927 §4.1: the
 * quoted sequence number must be in flight, or the error is ignored). */
void tcp_icmp_err(struct ns_stack *st, uint32_t from, uint8_t type, uint8_t code, uint32_t info,
                  const struct ns_ip4_repr *inner, const uint8_t *payload, size_t payload_len)
{
    (void)from;
    if (payload_len < 8)
        return;
    uint16_t sport = ns_rd16(payload), dport = ns_rd16(payload + 2);
    uint32_t seq = ns_rd32(payload + 4);
    /* The quoted segment's flow, seen from here (we sent it). */
    struct ns_flow out = ns_flow_ip4(inner->src, sport, inner->dst, dport, NS_IPPROTO_TCP);
    struct tcpcb *tp = tcp_lookup(st, &out);
    if (!tp) {
        /* A half-open connection's SYN,ACK? Linux tcp_v4_err gives up on
         * a request for the errors that say the peer is unreachable. */
        bool abort = type == NS_ICMP_PARAM_PROB || type == NS_ICMP_TIME_EXCEEDED ||
                     (type == NS_ICMP_DEST_UNREACH &&
                      (code == NS_ICMP_NET_UNREACH || code == NS_ICMP_HOST_UNREACH));
        tcp_syncache_icmp(st, &out, seq, abort);
        return;
    }
    if (!tp || SEQ_LT(seq, tp->snd_una) || SEQ_GT(seq, tp->snd_max))
        return;
    if (type == NS_ICMP_DEST_UNREACH && code == NS_ICMP_FRAG_NEEDED) {
        /* RFC 1191 §6.3: lower the MSS to fit the reported MTU, resend.
         * Linux __ip_rt_update_pmtu: never below min_pmtu (552); a report
         * below it (an attacker's "MTU 100", or 0 from an old router) sets
         * 552 and stops setting DF, so a real path that small fragments
         * rather than drops. The value expires after 10 minutes
         * (tcp_pmtu_check). */
        uint32_t mtu = info, path = tcp_path_mtu(tp);
        bool lock = false;
        if (mtu < TCP_MIN_PMTU) {
            mtu = path < TCP_MIN_PMTU ? path : TCP_MIN_PMTU;
            lock = true;
        }
        if (mtu >= path && !(lock && !tp->pmtu_locked))
            return;
        tp->pmtu = (uint16_t)mtu;
        tp->pmtu_locked = tp->pmtu_locked || lock;
        tp->pmtu_expires_us = st->now_us + TCP_PMTU_EXPIRES_US;
        tcp_pmtu_shrunk(tp);
        return;
    }
    bool fatal;
    int err = sock_icmp_err(type, code, &fatal);
    if (err)
        tcp_icmp_report(tp, err);
}

/* ICMPv6 errors about our segments (Linux tcp_v6_err): the same rules as
 * tcp_icmp_err. A Packet Too Big's MTU the network layer has learned
 * already (RFC 8201 §5.2, the path MTU cache): the connection's MSS
 * follows it (RFC 8201 §5.4). */
void tcp_icmp6_err(struct ns_stack *st, const struct ns_ip6_addr *from, uint8_t type, uint8_t code,
                   uint32_t info, const struct ns_ip6_repr *inner, const uint8_t *payload,
                   size_t payload_len)
{
    (void)from;
    (void)info;
    if (payload_len < 8)
        return;
    uint16_t sport = ns_rd16(payload), dport = ns_rd16(payload + 2);
    uint32_t seq = ns_rd32(payload + 4);
    struct ns_flow out = ns_flow_ip6(&inner->src, sport, &inner->dst, dport, NS_IPPROTO_TCP);
    bool fatal;
    int err = sock_icmp6_err(type, code, &fatal);
    struct tcpcb *tp = tcp_lookup(st, &out);
    if (!tp) {
        /* tcp_v6_err -> tcp_req_err: a hard error ends the request. */
        tcp_syncache_icmp(st, &out, seq, err && fatal);
        return;
    }
    if (SEQ_LT(seq, tp->snd_una) || SEQ_GT(seq, tp->snd_max))
        return;
    if (type == NS_ICMP6_PACKET_TOO_BIG) {
        tcp_pmtu_shrunk(tp);
        return;
    }
    if (err)
        tcp_icmp_report(tp, err);
}
