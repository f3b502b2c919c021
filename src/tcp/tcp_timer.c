/* tcp/tcp_timer.c — TCP's timers: one entry on the stack's timer wheel
 * per connection, armed for the earliest of its six deadlines.
 *
 * A connection has six timers (TT_REXMT ... TT_RACK, tcp.h), each either
 * off or due at a time of its own (tp->t_at, bits of tp->t_on). The
 * wheel holds one entry for the connection (tp->t_entry), pending at the
 * earliest deadline of the timers that are on, and not pending when none
 * is: arming or cancelling a timer moves the entry only when the earliest
 * deadline changes (as Linux's inet_csk keeps one icsk_retransmit_timer
 * for the retransmission, probe and loss-probe timeouts, here for all
 * six). When the entry fires, the timer due earliest (the lowest TT_ of
 * those due together) is turned off, the entry re-armed for the rest, and
 * then that timer's handler runs; another one also due fires next, in the
 * same advance of the wheel. 192 bytes of wheel entries a connection
 * become 32 and 49 of deadlines and bits.
 *
 * Read first: RFC 6298 (RTO computation, Karn's algorithm, backoff),
 * RFC 9293 §3.8.1 and §3.10.8 (timeouts), §3.8.6.1 (zero-window probing),
 * RFC 1122 §4.2.2.17 (probing), §4.2.3.2 (delayed ACK), §4.2.3.5
 * (R1/R2: when to give up), §4.2.3.6 (keep-alives), RFC 5482 (user
 * timeout), RFC 9293 §3.6.1 (TIME_WAIT, 2 MSL).
 */
#include <errno.h>

#include "tcp/tcp.h"

/* Put the wheel entry at the earliest deadline of the timers that are
 * on, or off the wheel when none is. */
static void tcp_timer_sync(struct tcpcb *tp)
{
    struct ns_wheel *w = &tp->st->wheel;
    unsigned on = tp->t_on;
    if (on == 0) {
        ns_timer_cancel(w, &tp->t_entry);
        return;
    }
    uint64_t at = UINT64_MAX;
    while (on) {
        unsigned k = (unsigned)__builtin_ctz(on);
        on &= on - 1;
        if (tp->t_at[k] < at)
            at = tp->t_at[k];
    }
    if (!ns_timer_pending(&tp->t_entry) || tp->t_entry.expires_us != at)
        ns_timer_arm(w, &tp->t_entry, at);
}

void tcp_timer_arm(struct tcpcb *tp, unsigned kind, uint64_t at)
{
    unsigned bit = 1u << kind;
    uint64_t cur = ns_timer_pending(&tp->t_entry) ? tp->t_entry.expires_us : UINT64_MAX;
    bool was_first = (tp->t_on & bit) && tp->t_at[kind] == cur;
    tp->t_at[kind] = at;
    tp->t_on |= (uint8_t)bit;
    if (at < cur)
        ns_timer_arm(&tp->st->wheel, &tp->t_entry, at);
    else if (was_first && at != cur)
        tcp_timer_sync(tp); /* it was the earliest and moved later */
}

void tcp_timer_cancel(struct tcpcb *tp, unsigned kind)
{
    unsigned bit = 1u << kind;
    if (!(tp->t_on & bit))
        return;
    tp->t_on &= (uint8_t)~bit;
    if (tp->t_on == 0)
        ns_timer_cancel(&tp->st->wheel, &tp->t_entry);
    else if (tp->t_at[kind] == tp->t_entry.expires_us)
        tcp_timer_sync(tp);
}

static uint64_t rto_backed_off(const struct tcpcb *tp)
{
    uint64_t rto = tp->rto_us;
    for (uint32_t i = 0; i < tp->rxt_shift && rto < TCP_RTO_MAX_US; i++)
        rto *= 2;
    return rto > TCP_RTO_MAX_US ? TCP_RTO_MAX_US : rto;
}

uint64_t tcp_rto_deadline(const struct tcpcb *tp) { return tcp_rto_deadline_since(tp, tp->st->now_us); }

uint64_t tcp_rto_deadline_since(const struct tcpcb *tp, uint64_t since)
{
    uint64_t at = since + rto_backed_off(tp);
    /* RFC 5482 §3 / Linux tcp_clamp_rto_to_user_timeout: the user timeout
     * ends the connection when it expires, not at the next backed-off
     * retransmission after it. */
    if (tp->user_timeout_us && tp->rxt_start_us && tp->rxt_start_us + tp->user_timeout_us < at)
        at = tp->rxt_start_us + tp->user_timeout_us;
    return at;
}

void tcp_arm_rexmt(struct tcpcb *tp)
{
    tp->rexmt_mode = TCPT_RTO;
    tcp_timer_arm(tp, TT_REXMT, tcp_rto_deadline(tp));
}

/* RFC 8985 §7.2: the probe timeout takes the retransmission timer's
 * place (one timer, two meanings, as Linux icsk_pending). */
void tcp_arm_tlp(struct tcpcb *tp, uint64_t at)
{
    tp->rexmt_mode = TCPT_TLP;
    tcp_timer_arm(tp, TT_REXMT, at);
}

void tcp_arm_keep(struct tcpcb *tp)
{
    if (tp->flags & TF_KEEPALIVE)
        tcp_timer_arm(tp, TT_KEEP, tp->last_rx_us + tp->keep_idle_us);
}

void tcp_arm_delack(struct tcpcb *tp)
{
    if (!tcp_timer_pending(tp, TT_DELACK))
        tcp_timer_arm(tp, TT_DELACK, tp->st->now_us + tp->st->cfg.tcp_delack_us);
}

/* RFC 6298 §2.2-2.4: SRTT, RTTVAR and RTO from a measurement R. */
void tcp_rtt_sample(struct tcpcb *tp, uint64_t r)
{
    if (r == 0)
        r = 1;
    tp->last_rtt_us = r > UINT32_MAX ? UINT32_MAX : (uint32_t)r; /* for RFC 9406 */
    tp->rtt_samples++;
    if (tp->srtt_us == 0) {
        tp->srtt_us = r;                 /* §2.2 */
        tp->rttvar_us = r / 2;
    } else {
        /* §2.3: beta = 1/4, alpha = 1/8 */
        uint64_t delta = tp->srtt_us > r ? tp->srtt_us - r : r - tp->srtt_us;
        tp->rttvar_us = (3 * tp->rttvar_us + delta) / 4;
        tp->srtt_us = (7 * tp->srtt_us + r) / 8;
    }
    /* RTO = SRTT + max(G, K*RTTVAR), K = 4; clock granularity G 1 us. */
    uint64_t rto = tp->srtt_us + (4 * tp->rttvar_us > 1 ? 4 * tp->rttvar_us : 1);
    /* §2.4 allows a configurable minimum; Linux uses 200 ms. §2.5: a maximum. */
    if (rto < tp->st->cfg.tcp_rto_min_us)
        rto = tp->st->cfg.tcp_rto_min_us;
    if (rto > TCP_RTO_MAX_US)
        rto = TCP_RTO_MAX_US;
    tp->rto_us = rto;
    tp->rxt_shift = 0;
}

/* RFC 1122 §4.2.3.5 R2 / RFC 5482: has this connection tried long enough? */
static bool tcp_gave_up(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    if (tp->user_timeout_us && tp->rxt_start_us &&
        st->now_us - tp->rxt_start_us >= tp->user_timeout_us)
        return true;
    uint32_t limit = tp->state == TCPS_SYN_SENT ? st->cfg.tcp_syn_retries
                     : tp->state == TCPS_SYN_RECEIVED ? st->cfg.tcp_synack_retries
                                                       : st->cfg.tcp_retries2;
    return tp->rxt_shift >= limit && !tp->user_timeout_us;
}

/* The error a connection that timed out reports (Linux tcp_write_err):
 * the last ICMP error it was sent since data was last acknowledged (a
 * soft error: EHOSTUNREACH, ...), else ETIMEDOUT. */
static int tcp_timeout_error(const struct tcpcb *tp)
{
    return tp->soft_error ? tp->soft_error : ETIMEDOUT;
}

/* Linux tcp_retransmit_timer, "receiver dastardly shrinks window": the
 * peer closed its window with our data in flight, so the retransmissions
 * are window probes; they do not end the connection while the peer keeps
 * answering (within 2 x TCP_RTO_MAX, Linux tcp_rtx_probe0_timed_out), nor
 * before a user timeout, and never for an orphan. */
static bool tcp_zero_window_alive(const struct tcpcb *tp)
{
    const struct ns_stack *st = tp->st;
    if (tp->snd_wnd != 0 || !tp->so || !TCPS_HAVEESTABLISHED(tp->state))
        return false;
    if (tp->user_timeout_us && tp->rxt_start_us &&
        st->now_us - tp->rxt_start_us >= tp->user_timeout_us)
        return false;
    return st->now_us - tp->last_rx_us <= 2ull * TCP_RTO_MAX_US;
}

static void tcp_timer_rexmt(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    if (tp->snd_una == tp->snd_max)
        return; /* nothing outstanding */
    if (tp->rexmt_mode == TCPT_TLP) {
        tcp_tlp_fire(tp);
        return;
    }
    if (tcp_gave_up(tp) && !tcp_zero_window_alive(tp)) {
        NS_STAT_INC(st, tcp_timeouts);
        /* A SYN_SENT attempt that never heard back: no RST (nothing synced). */
        tcp_drop(tp, tcp_timeout_error(tp));
        return;
    }
    NS_STAT_INC(st, tcp_rto_timeouts);
    tp->rxt_shift++;
    /* RFC 6298 §5.5-5.7: back off, retransmit the earliest unacked
     * segment; Karn: the retransmission is not timed. */
    tp->flags &= ~TF_RTT_TIMING;
    if (TCPS_HAVEESTABLISHED(tp->state) || tp->state == TCPS_SYN_RECEIVED)
        tp->cc->cong_signal(tp, CC_RTO);
    tp->dupacks = 0;
    if (tcp_sack_active(tp)) {
        tcp_rec_rto(tp); /* the scoreboard says what to resend */
    } else {
        /* Go back N: resend from snd_una as the window allows. */
        tp->flags &= ~TF_FASTRECOVERY;
        tp->snd_nxt = tp->snd_una;
    }
    tcp_arm_rexmt(tp);
    tcp_output(tp);
}

static void tcp_timer_persist(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    if (tp->snd_wnd != 0 && (tp->flags & TF_CORK) && tp->sndbuf.len) {
        /* The cork's ceiling (tcp_output): send what it held. */
        tp->flags |= TF_CORK_FLUSH;
        tcp_output(tp);
        tp->flags &= ~TF_CORK_FLUSH;
        return;
    }
    /* Data in flight has the retransmission timer (Linux tcp_probe_timer
     * stops when packets are out); only a probe byte of ours may be. */
    if (tp->sndbuf.len == 0 || tp->state == TCPS_CLOSED || tcp_timer_pending(tp, TT_REXMT))
        return;
    if (tp->snd_wnd != 0) {
        /* The window is open but tcp_output held the data back with
         * nothing in flight: smaller than a segment (RFC 9293 §3.8.6.2.1:
         * the override timeout sends what it takes), or no packet buffer
         * could be had. Data in flight has the retransmission timer. */
        if (tp->snd_una != tp->snd_max)
            return;
        tp->flags |= TF_PROBE;
        tcp_output(tp);
        tp->flags &= ~TF_PROBE;
        if (tp->snd_una == tp->snd_max && tp->sndbuf.len > tp->snd_nxt - tp->snd_data &&
            !tcp_timer_pending(tp, TT_PERSIST) && !tcp_timer_pending(tp, TT_REXMT))
            tcp_timer_arm(tp, TT_PERSIST, st->now_us + TCP_RESOURCE_PROBE_US);
        return;
    }
    if (tp->user_timeout_us && tp->rxt_start_us &&
        st->now_us - tp->rxt_start_us >= tp->user_timeout_us) {
        NS_STAT_INC(st, tcp_timeouts);
        tcp_drop(tp, tcp_timeout_error(tp));
        return;
    }
    /* RFC 9293 §3.8.6.1: keep probing as long as the receiver answers;
     * probes nobody answers end the connection as unanswered
     * retransmissions would (Linux tcp_probe_timer: tcp_retries2 probes,
     * tcp_orphan_retries for a socket the user closed). */
    uint32_t limit = tp->so ? st->cfg.tcp_retries2 : TCP_ORPHAN_RETRIES;
    if (tp->persist_unanswered >= limit) {
        NS_STAT_INC(st, tcp_timeouts);
        tcp_drop(tp, tcp_timeout_error(tp));
        return;
    }
    /* Probe the zero window with one byte, backing off. */
    tp->snd_nxt = tp->snd_una; /* the probe byte is the first unacknowledged one */
    tp->flags |= TF_PROBE;
    tcp_output(tp);
    uint64_t d;
    if (tp->xmit_nobufs) {
        /* No packet buffer for the probe: our shortage, not the peer's
         * silence. Try again soon, neither backing off nor counting it
         * (Linux tcp_send_probe0: TCP_RESOURCE_PROBE_INTERVAL). */
        tp->flags &= ~TF_PROBE;
        d = TCP_RESOURCE_PROBE_US;
    } else {
        NS_STAT_INC(st, tcp_zero_window_probes);
        tp->persist_unanswered++;
        tp->persist_shift++;
        d = tp->rto_us;
        for (uint32_t i = 0; i < tp->persist_shift && d < TCP_PERSIST_MAX_US; i++)
            d *= 2;
        if (d < TCP_PERSIST_MIN_US)
            d = TCP_PERSIST_MIN_US;
        if (d > TCP_PERSIST_MAX_US)
            d = TCP_PERSIST_MAX_US;
    }
    if (tp->snd_wnd == 0 && tp->state != TCPS_CLOSED)
        tcp_timer_arm(tp, TT_PERSIST, st->now_us + d);
}

static void tcp_timer_keep(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    uint64_t now_us = st->now_us;
    if (!(tp->flags & TF_KEEPALIVE) || !TCPS_HAVEESTABLISHED(tp->state) ||
        tp->state == TCPS_TIME_WAIT)
        return;
    if (now_us - tp->last_rx_us < tp->keep_idle_us && tp->keep_probes == 0) {
        tcp_timer_arm(tp, TT_KEEP, tp->last_rx_us + tp->keep_idle_us);
        return;
    }
    if (tp->keep_probes >= tp->keep_cnt) {
        NS_STAT_INC(st, tcp_timeouts);
        tcp_drop(tp, tcp_timeout_error(tp));
        return;
    }
    /* RFC 1122 §4.2.3.6: a segment with SEG.SEQ = SND.NXT-1 and no data
     * makes the peer answer with an ACK. */
    tp->keep_probes++;
    NS_STAT_INC(st, tcp_keepalive_probes);
    tcp_send_keepalive(tp);
    tcp_timer_arm(tp, TT_KEEP, now_us + tp->keep_intvl_us);
}

static void tcp_timer_delack(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    if (!(tp->flags & TF_DELACK))
        return;
    NS_STAT_INC(st, tcp_delayed_acks);
    tp->flags |= TF_ACKNOW;
    tcp_output(tp);
}

static void tcp_timer_2msl(struct tcpcb *tp)
{
    /* TIME_WAIT over (RFC 9293 §3.10.8), or an orphan stuck in FIN_WAIT_2
     * (Linux tcp_fin_timeout). */
    tcp_close(tp);
}

void tcp_enter_time_wait(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    tcp_state_change(tp, TCPS_TIME_WAIT);
    tcp_timer_cancel(tp, TT_REXMT);
    tcp_timer_cancel(tp, TT_PERSIST);
    tcp_timer_cancel(tp, TT_KEEP);
    tcp_timer_cancel(tp, TT_DELACK);
    tcp_timer_cancel(tp, TT_RACK);
    /* Nothing more is sent, and nothing more arrives but a FIN again:
     * keep the 4-tuple, not the buffers (Linux keeps a small
     * tcp_timewait_sock). Unread data stays readable. */
    tcp_sm_free(tp);
    ns_ring_free(&tp->sndbuf);
    if (tp->rcvbuf.len == 0)
        ns_ring_free(&tp->rcvbuf);
    tcp_timer_arm(tp, TT_2MSL, st->now_us + 2 * st->cfg.tcp_msl_us);
}

/* The connection's wheel entry fired: run the timer due earliest. */
static void tcp_timer_fire(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    struct tcpcb *tp = NS_CONTAINER_OF(t, struct tcpcb, t_entry);
    (void)ctx;
    unsigned due = TT_NKINDS;
    uint64_t at = UINT64_MAX;
    for (unsigned on = tp->t_on; on; on &= on - 1) {
        unsigned k = (unsigned)__builtin_ctz(on);
        if (tp->t_at[k] <= now_us && tp->t_at[k] < at) {
            at = tp->t_at[k];
            due = k;
        }
    }
    if (due == TT_NKINDS) {
        tcp_timer_sync(tp);
        return;
    }
    /* Off, and the entry re-armed for the others, before the handler
     * runs: it may arm timers again, or free the connection. */
    tp->t_on &= (uint8_t)~(1u << due);
    tcp_timer_sync(tp);
    switch (due) {
    case TT_REXMT: tcp_timer_rexmt(tp); break;
    case TT_PERSIST: tcp_timer_persist(tp); break;
    case TT_KEEP: tcp_timer_keep(tp); break;
    case TT_DELACK: tcp_timer_delack(tp); break;
    case TT_2MSL: tcp_timer_2msl(tp); break;
    case TT_RACK: tcp_rack_timeout(tp); break;
    default: break;
    }
}

void tcp_timers_init(struct tcpcb *tp)
{
    ns_timer_init(&tp->t_entry, tcp_timer_fire);
    tp->t_on = 0;
}

void tcp_timers_cancel(struct tcpcb *tp)
{
    tp->t_on = 0;
    ns_timer_cancel(&tp->st->wheel, &tp->t_entry);
}
