/* tcp/tcp_recovery.c — loss detection and recovery when SACK is in use.
 *
 * Read first: RFC 8985 (RACK-TLP: §6 RACK, a segment is lost when one
 * sent sufficiently later was delivered; §6.3 the reordering timer; §7
 * tail loss probes), RFC 6675 (§5 recovery on the scoreboard: enter on
 * loss, retransmit lost segments first, then new data, while pipe <
 * cwnd; §5.1 timeouts), RFC 6937 (Proportional Rate Reduction: how much
 * may be sent on each ACK during recovery), RFC 2883 §4 and RFC 8985
 * §6.2 step 4 (D-SACKs widen the reordering window).
 *
 * Without SACK, tcp_input.c recovers with NewReno (RFC 6582) instead.
 *
 * States (FreeBSD/Linux names in brackets): open; recovery
 * (TF_FASTRECOVERY [Recovery]) entered when RACK first marks a segment
 * lost, left when SND.UNA reaches `recover`; loss (TF_LOSS [Loss])
 * after an RTO, likewise until `recover`. In recovery PRR sets cwnd on
 * each ACK; in loss the window slow-starts from one segment.
 */
#include "tcp/tcp.h"

/* The oldest outstanding segment is SACKed: the receiver reneged (a
 * cumulative ACK would have covered it otherwise). */
static bool head_sacked(const struct tcpcb *tp)
{
    return tp->sm.n && (tcp_sm_at(tp, 0)->flags & SR_SACKED);
}

/* RFC 8985 §6.2: was segment 1 sent after segment 2? (end_seq breaks ties) */
static bool sent_after(uint64_t t1, uint32_t seq1, uint64_t t2, uint32_t seq2)
{
    return t1 > t2 || (t1 == t2 && SEQ_GT(seq1, seq2));
}

void tcp_rack_delivered(struct tcpcb *tp, const struct tcp_sendrec *r)
{
    uint64_t rtt = tp->st->now_us - r->xmit_us;
    /* §6.2 step 2: a retransmitted segment delivered faster than the
     * minimum RTT was most likely delivered by its earlier transmission:
     * its time says nothing. */
    if ((r->flags & SR_EVER_RETRANS) && rtt < tp->rack_min_rtt_us)
        return;
    tp->rack_rtt_us = rtt;
    if (tp->rack_min_rtt_us == 0 || rtt < tp->rack_min_rtt_us)
        tp->rack_min_rtt_us = rtt;
    if (!tp->rack_valid || sent_after(r->xmit_us, r->end, tp->rack_xmit_us, tp->rack_end_seq)) {
        tp->rack_xmit_us = r->xmit_us;
        tp->rack_end_seq = r->end;
        tp->rack_valid = true;
    }
    /* §6.2 step 3: RACK.fack is the highest sequence delivered (SACKed
     * or cumulatively acknowledged); an original transmission delivered
     * below it arrived out of order. */
    if (SEQ_GT(r->end, tp->rack_fack)) {
        tp->rack_fack = r->end;
    } else if (!(r->flags & SR_EVER_RETRANS) && SEQ_LT(r->end, tp->rack_fack) &&
               !tp->rack_reord) {
        tp->rack_reord = true;
        NS_STAT_INC(tp->st, tcp_reordering_seen);
    }
}

/* §6.2 step 4: the reordering window. */
static uint64_t rack_reo_wnd(const struct tcpcb *tp)
{
    /* Until reordering is seen, be quick: none in recovery, or once
     * DupThresh segments were SACKed (what RFC 6675 would do). */
    if (!tp->rack_reord &&
        ((tp->flags & (TF_FASTRECOVERY | TF_LOSS)) || tp->sacked_bytes >= TCP_DUPTHRESH * tp->mss))
        return 0;
    uint64_t w = tp->rack_reo_mult * tp->rack_min_rtt_us / 4;
    return tp->srtt_us && w > tp->srtt_us ? tp->srtt_us : w;
}

/* §6.2 step 5: mark lost what was sent more than RACK.rtt + reo_wnd
 * before the latest delivered segment was sent; returns the time until
 * the next candidate would qualify (0: none). */
static uint64_t rack_detect_loss(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    if (!tp->rack_valid)
        return 0;
    uint64_t reo = rack_reo_wnd(tp), timeout = 0;
    /* Originals go out in sequence order, so past both RACK.end_seq and
     * the highest retransmission nothing was sent before RACK.xmit_ts
     * (Linux keeps a list in send-time order for the same purpose). */
    uint32_t stop = SEQ_GT(tp->sm_rexmit_high, tp->rack_end_seq) ? tp->sm_rexmit_high
                                                                 : tp->rack_end_seq;
    for (uint32_t i = 0; i < tp->sm.n; i++) {
        struct tcp_sendrec *r = tcp_sm_at(tp, i);
        if (SEQ_GEQ(r->start, stop))
            break;
        if ((r->flags & SR_SACKED) || (r->flags & (SR_LOST | SR_RETRANS)) == SR_LOST)
            continue;
        if (!sent_after(tp->rack_xmit_us, tp->rack_end_seq, r->xmit_us, r->end))
            continue;
        uint64_t due = r->xmit_us + tp->rack_rtt_us + reo;
        if (due <= st->now_us) {
            tcp_sm_mark_lost(tp, r);
            NS_STAT_INC(st, tcp_rack_lost);
        } else if (due - st->now_us > timeout) {
            timeout = due - st->now_us;
        }
    }
    return timeout;
}

/* RFC 6937 §3: cwnd for this ACK (DeliveredData = `delivered`). */
static void prr_update(struct tcpcb *tp, int64_t delivered)
{
    if (delivered > 0)
        tp->prr_delivered += (uint32_t)delivered;
    int64_t pipe = tcp_pipe(tp), ssthresh = tp->ssthresh, sndcnt;
    if (pipe > ssthresh) {
        /* Proportional part: spread the reduction over the round trip. */
        int64_t fs = tp->recover_fs ? tp->recover_fs : 1;
        sndcnt = ((int64_t)tp->prr_delivered * ssthresh + fs - 1) / fs - tp->prr_out;
    } else {
        /* Slow-start reduction bound (PRR-SSRB): catch up to ssthresh no
         * faster than slow start would. */
        int64_t limit = (int64_t)tp->prr_delivered - tp->prr_out;
        if (delivered > limit)
            limit = delivered;
        limit += tp->mss;
        sndcnt = ssthresh - pipe < limit ? ssthresh - pipe : limit;
    }
    if (sndcnt < 0)
        sndcnt = 0;
    tp->cwnd = (uint32_t)(pipe + sndcnt);
}

static void rec_enter(struct tcpcb *tp, uint32_t prior_una)
{
    struct ns_stack *st = tp->st;
    NS_STAT_INC(st, tcp_sack_recoveries);
    /* RFC 6675 §5 step 4.1: RecoveryPoint = HighData; ssthresh from the
     * congestion control (RFC 5681 eq. 4, or CUBIC's beta). */
    tp->recover = tp->snd_max;
    tp->prior_cwnd = tp->cwnd;
    tp->prior_ssthresh = tp->ssthresh;
    tp->undo_marker = prior_una;
    tp->undo_retrans = 0;
    tp->undo_valid = true;
    tp->cc->cong_signal(tp, CC_DUPACK3);
    tp->flags |= TF_FASTRECOVERY | TF_PRR_FORCE;
    tp->flags &= ~(TF_RTT_TIMING | TF_TLP);
    /* RFC 6937 §3: RecoverFS = SND.NXT - SND.UNA at the start. */
    tp->recover_fs = tp->snd_max - prior_una;
    tp->prr_delivered = tp->prr_out = 0;
}

static void rec_exit(struct tcpcb *tp)
{
    tp->flags &= ~(TF_FASTRECOVERY | TF_PRR_FORCE);
    /* RFC 6937 §3: the window is ssthresh when recovery completes. */
    tp->cc->post_recovery(tp);
    /* RFC 8985 §6.2 step 4: after 16 recoveries without a D-SACK the
     * reordering window returns to its base. */
    if (tp->rack_reo_persist && --tp->rack_reo_persist == 0)
        tp->rack_reo_mult = 1;
}

/* Loss detection and the state it moves the connection to, for an ACK
 * (delivered bytes, SND.UNA before it) or the reordering timer. */
static void rec_detect(struct tcpcb *tp, uint32_t prior_una, int64_t delivered)
{
    struct ns_stack *st = tp->st;
    if (tp->sacked_bytes || tp->lost_bytes || (tp->flags & (TF_FASTRECOVERY | TF_LOSS | TF_TLP))) {
        uint64_t timeout = rack_detect_loss(tp);
        if (timeout)
            tcp_timer_arm(tp, TT_RACK, st->now_us + timeout);
        else
            tcp_timer_cancel(tp, TT_RACK);
    }
    if (tp->flags & TF_FASTRECOVERY) {
        if (SEQ_GEQ(tp->snd_una, tp->recover))
            rec_exit(tp);
        else
            prr_update(tp, delivered);
        return;
    }
    if (tp->flags & TF_LOSS) {
        if (SEQ_GEQ(tp->snd_una, tp->recover))
            tp->flags &= ~TF_LOSS;
        return;
    }
    if (tp->lost_bytes > tp->retrans_bytes) {
        rec_enter(tp, prior_una);
        prr_update(tp, delivered);
    }
}

/* RFC 8985 §7.4: did the tail loss probe repair a loss? */
static void tlp_ack(struct tcpcb *tp, const struct ns_tcp_repr *th, uint32_t prior_una, bool dsack)
{
    if (!(tp->flags & TF_TLP))
        return;
    if (!(tp->flags & TF_TLP_RETRANS)) {
        /* A probe with new data: RACK judges the segments before it. */
        if (SEQ_GEQ(tp->snd_una, tp->tlp_end_seq))
            tp->flags &= ~TF_TLP;
        return;
    }
    if (dsack && th->sack[0].right == tp->tlp_end_seq) {
        /* §7.4.1: the probe was a duplicate: nothing was lost. */
        tp->flags &= ~(TF_TLP | TF_TLP_RETRANS);
        return;
    }
    if (tp->snd_una == tp->tlp_end_seq && prior_una == tp->snd_una && !th->n_sack) {
        /* A pure duplicate ACK at the probe's end: both copies arrived
         * and the receiver sent no D-SACK (Linux tcp_process_tlp_ack):
         * nothing was lost. */
        tp->flags &= ~(TF_TLP | TF_TLP_RETRANS);
        return;
    }
    if (!SEQ_GT(tp->snd_una, tp->tlp_end_seq))
        return; /* at the probe's end: a D-SACK may still follow */
    tp->flags &= ~(TF_TLP | TF_TLP_RETRANS);
    if (tp->flags & (TF_FASTRECOVERY | TF_LOSS))
        return;
    /* §7.4.2: acknowledged past the probe without a D-SACK for it: only
     * the probe arrived, a segment was lost and the probe repaired it;
     * respond as fast recovery would have. */
    NS_STAT_INC(tp->st, tcp_tlp_recoveries);
    tp->cc->cong_signal(tp, CC_DUPACK3);
    tp->cc->post_recovery(tp);
}

/* RFC 3708 §3: a D-SACK for a segment retransmitted in the last
 * recovery shows the original arrived after all; once every such
 * retransmission is reported, the recovery was spurious (reordering, not
 * loss): restore the window it cut (RFC 4015 §3 would restore it too). */
static void undo_dsack(struct tcpcb *tp, const struct ns_tcp_sack_block *b)
{
    if (!tp->undo_valid || SEQ_LT(b->left, tp->undo_marker) || SEQ_GT(b->right, tp->recover))
        return;
    if (tp->undo_retrans && --tp->undo_retrans)
        return;
    tp->undo_valid = false;
    NS_STAT_INC(tp->st, tcp_spurious_undo);
    if (tp->cwnd < tp->prior_cwnd)
        tp->cwnd = tp->prior_cwnd;
    if (tp->ssthresh < tp->prior_ssthresh)
        tp->ssthresh = tp->prior_ssthresh;
    tp->flags &= ~(TF_FASTRECOVERY | TF_PRR_FORCE);
}

void tcp_rec_ack(struct tcpcb *tp, const struct ns_tcp_repr *th, uint32_t prior_una,
                 uint32_t prior_sacked)
{
    struct ns_stack *st = tp->st;
    bool dsack = th->n_sack ? tcp_sm_sack(tp, th) : false;
    if (dsack) {
        NS_STAT_INC(st, tcp_dsack_rx);
        /* RFC 8985 §6.2 step 4: widen the reordering window, at most
         * once a round trip, and keep it for 16 recoveries. */
        if (!tp->rack_dsack_round_on || SEQ_GEQ(tp->snd_una, tp->rack_dsack_round)) {
            tp->rack_dsack_round = tp->snd_max;
            tp->rack_dsack_round_on = true;
            if (tp->rack_reo_mult < 255)
                tp->rack_reo_mult++;
            tp->rack_reo_persist = TCP_REO_PERSIST;
        }
        undo_dsack(tp, &th->sack[0]);
    }
    /* RFC 2018 §8: the receiver may discard what it SACKed. An ACK that
     * stops at a SACKed segment shows it did (Linux
     * tcp_check_sack_reneging): forget every SACK, treat everything
     * outstanding as lost and resend it from one segment, as after a
     * timeout. */
    if (head_sacked(tp)) {
        NS_STAT_INC(st, tcp_sack_reneging);
        tcp_sm_mark_all_lost(tp, true);
        tp->flags &= ~(TF_FASTRECOVERY | TF_PRR_FORCE);
        tp->flags |= TF_LOSS;
        tp->recover = tp->snd_max;
        tp->cc->cong_signal(tp, CC_RTO);
    }
    int64_t delivered = (int64_t)(tp->snd_una - prior_una) + (int64_t)tp->sacked_bytes -
                        (int64_t)prior_sacked;
    rec_detect(tp, prior_una, delivered);
    tlp_ack(tp, th, prior_una, dsack);
    uint32_t acked = tp->snd_una - prior_una;
    if (acked && !(tp->flags & TF_FASTRECOVERY))
        tp->cc->ack_received(tp, acked);
    tcp_sm_check(tp);
    /* Re-arm the probe only for an ACK that delivered something (Linux
     * FLAG_SET_XMIT_TIMER): ACKs that bring nothing new — answers to
     * keepalives, window updates — would otherwise push it back for ever
     * and, with the RTO it replaced, starve the retransmission. */
    if (delivered > 0)
        tcp_tlp_arm(tp);
}

void tcp_rack_timeout(struct tcpcb *tp)
{
    /* §6.3: the reordering window passed for a candidate: look again. */
    rec_detect(tp, tp->snd_una, 0);
    tcp_output(tp);
}

void tcp_rec_sent(struct tcpcb *tp, uint32_t len, bool retransmission)
{
    if (tp->flags & TF_FASTRECOVERY) {
        tp->prr_out += len;
        if (retransmission && tp->undo_valid)
            tp->undo_retrans++;
    }
    tp->flags &= ~TF_PRR_FORCE;
}

void tcp_rec_rto(struct tcpcb *tp)
{
    /* RFC 6675 §5.1 / RFC 8985 §6.3: after a timeout every segment not
     * SACKed is lost and is resent, oldest first, as the window opens
     * again from one segment. A SACKed first segment means the receiver
     * reneged (RFC 2018 §8): then no SACK is trusted. */
    bool reneged = head_sacked(tp);
    if (reneged)
        NS_STAT_INC(tp->st, tcp_sack_reneging);
    tcp_sm_mark_all_lost(tp, reneged);
    tp->undo_valid = false;
    tp->flags &= ~(TF_FASTRECOVERY | TF_PRR_FORCE | TF_TLP | TF_TLP_RETRANS);
    tp->flags |= TF_LOSS;
    tp->recover = tp->snd_max;
    tcp_timer_cancel(tp, TT_RACK);
}

void tcp_tlp_arm(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    if (!tcp_sack_active(tp) || tp->snd_una == tp->snd_max || tp->srtt_us == 0 ||
        (tp->flags & (TF_FASTRECOVERY | TF_LOSS | TF_TLP)) || tp->state == TCPS_TIME_WAIT ||
        tp->rxt_shift)
        return;
    /* RFC 8985 §7.2: PTO = 2*SRTT, plus the worst-case delayed ACK when
     * only one segment is out (its ACK may be delayed); at least 2 ms;
     * never beyond the RTO. */
    uint64_t pto = 2 * tp->srtt_us;
    if (tp->snd_max - tp->snd_una <= tp->mss)
        pto += TCP_WCDELACK_US;
    if (pto < TCP_PTO_MIN_US)
        pto = TCP_PTO_MIN_US; /* Linux TCP_TIMEOUT_MIN: not faster than the clock's grain */
    /* Never past the RTO counted from the last progress (Linux
     * tcp_rto_delta_us), so new data sent now and then cannot keep
     * pushing the probe, and the timeout it replaces, further out. */
    uint64_t since = tp->rxt_start_us && tp->rxt_start_us < st->now_us ? tp->rxt_start_us
                                                                       : st->now_us;
    uint64_t at = st->now_us + pto, rto_at = tcp_rto_deadline_since(tp, since);
    if (rto_at < st->now_us)
        rto_at = st->now_us;
    tcp_arm_tlp(tp, at < rto_at ? at : rto_at);
}
