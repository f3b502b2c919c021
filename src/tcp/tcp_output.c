/* tcp/tcp_output.c — deciding what to send, and sending it.
 *
 * Read first: RFC 9293 §3.8.6 (managing the window; sender SWS
 * avoidance §3.8.6.2.1), RFC 1122 §4.2.3.4 (when to send data, Nagle),
 * RFC 896 (Nagle), RFC 1122 §4.2.3.3 (receiver SWS: when to advertise a
 * larger window), RFC 5681 §3 (cwnd limits what is in flight), RFC 9293
 * §3.7.1 (the MSS option on SYNs), RFC 7323 §2.2-§2.4 (window scale on
 * SYNs, never in a SYN's window field; scaled windows; rounding that keeps
 * the right edge), §3.2 (TSopt on every segment once negotiated, TSecr =
 * TS.Recent), RFC 2018 (SACK-permitted on SYNs, SACK blocks on ACKs),
 * RFC 6675 §5 (with SACK: lost segments first, then new data, while
 * pipe < cwnd), RFC 8985 §7.3 (sending a tail loss probe).
 *
 * tcp_output() is called whenever something might be sendable: after the
 * application writes, after an ACK arrives, after the application reads
 * (window update), and by timers. It sends as many segments as the
 * windows and the rules allow, then arms the timers that must run.
 */
#include <errno.h>
#include <string.h>

#include "tcp/tcp.h"
#include "wire/bytes.h"

/* Flags a segment carries in each state (FreeBSD tcp_outflags). */
static const uint8_t tcp_outflags[] = {
    [TCPS_CLOSED] = NS_TCP_RST | NS_TCP_ACK,
    [TCPS_LISTEN] = 0,
    [TCPS_SYN_SENT] = NS_TCP_SYN,
    [TCPS_SYN_RECEIVED] = NS_TCP_SYN | NS_TCP_ACK,
    [TCPS_ESTABLISHED] = NS_TCP_ACK,
    [TCPS_CLOSE_WAIT] = NS_TCP_ACK,
    [TCPS_FIN_WAIT_1] = NS_TCP_FIN | NS_TCP_ACK,
    [TCPS_CLOSING] = NS_TCP_FIN | NS_TCP_ACK,
    [TCPS_LAST_ACK] = NS_TCP_FIN | NS_TCP_ACK,
    [TCPS_FIN_WAIT_2] = NS_TCP_ACK,
    [TCPS_TIME_WAIT] = NS_TCP_ACK,
};

uint32_t tcp_flight_size(const struct tcpcb *tp) { return tp->snd_max - tp->snd_una; }

uint32_t tcp_cur_mss(const struct tcpcb *tp)
{
    /* Linux tcp_current_mss: SACK blocks the next segment carries come
     * out of its payload, so no segment exceeds the MTU. */
    uint32_t opt = tcp_sack_opt_len(tp);
    return tp->mss > opt + 64 ? tp->mss - opt : 64;
}

/* The largest data length of one segment starting at seq. RFC 9293
 * §3.7.1: no segment on the wire carries more than the MSS; a TSO device
 * cuts a larger one into such segments, so for it new data (at or beyond
 * SND.MAX) may go as a multiple of the MSS, up to the device's GSO limit
 * less the headers. Retransmissions stay one MSS: loss recovery resends
 * what the peer is missing, segment by segment. */
static uint32_t tcp_seg_max(struct tcpcb *tp, uint32_t seq, uint32_t mss)
{
    if (SEQ_LT(seq, tp->snd_max) || tp->urg_mode)
        return mss; /* urgent mode: each segment carries its own pointer */
    struct ns_dev *dev = tcp_route_dev(tp);
    bool v6 = tp->sock.flow.remote.family == AF_INET6;
    if (!dev || !(dev->offloads & (v6 ? NS_DEV_OFF_TSO6 : NS_DEV_OFF_TSO)))
        return mss;
    /* The whole GSO packet, IP header on, within 64 KiB (IPv6: the
     * Payload Length is 16 bits as well, RFC 8200 §3). */
    uint32_t limit = dev->gso_max_size < NS_IP4_MAX_LEN ? dev->gso_max_size : NS_IP4_MAX_LEN;
    uint32_t hdrs = (v6 ? NS_IP6_HLEN : NS_IP4_HLEN) + NS_TCP_HLEN + tcp_opts_hdr_len(tp) +
                    tcp_sack_opt_len(tp);
    if (limit < hdrs + 2u * mss)
        return mss;
    return (limit - hdrs) / mss * mss;
}

uint32_t tcp_rcv_overcommit_max(const struct tcpcb *tp)
{
    if (tp->rcv_wscale == 0)
        return 0; /* unscaled windows say exactly what they mean */
    uint32_t granule = 1u << tp->rcv_wscale, share = tp->rcvbuf.cap / 16;
    return share > granule ? share : granule;
}

uint32_t tcp_rcv_buf_end(const struct tcpcb *tp)
{
    return tp->rcv_nxt - tp->rcvbuf.len + tp->rcvbuf.cap;
}

/* The window the buffer offers now, before the rule that keeps an
 * advertised edge: the free space rounded down to the scale (RFC 7323
 * §2.3), and zero while that is a silly window (RFC 9293 §3.8.6.2.2: less
 * than an MSS; as Linux __tcp_select_window, once less than half the
 * buffer is free, also less than a sixteenth of it). */
static uint32_t tcp_rcv_wnd_sws(const struct tcpcb *tp)
{
    uint32_t space = tcp_rcv_window(tp) >> tp->rcv_wscale << tp->rcv_wscale;
    uint32_t full = tcp_rcv_window_max(tp);
    if (space < full / 2 && (space < full / 16 || space < tp->mss))
        return 0;
    /* Linux __tcp_select_window: no more than rcv_ssthresh for now. */
    if (space > tp->rcv_ssthresh)
        space = tp->rcv_ssthresh >> tp->rcv_wscale << tp->rcv_wscale;
    return space;
}

uint16_t tcp_select_window(struct tcpcb *tp, bool syn)
{
    /* RFC 7323 §2.2: a SYN's window is never scaled. */
    if (syn) {
        uint32_t space = tcp_rcv_window(tp);
        return (uint16_t)(space > 65535 ? 65535 : space);
    }
    uint8_t shift = tp->rcv_wscale;
    uint32_t offered = SEQ_GT(tp->rcv_adv, tp->rcv_nxt) ? tp->rcv_adv - tp->rcv_nxt : 0;
    uint32_t field = tcp_rcv_wnd_sws(tp) >> shift;
    if ((uint64_t)field << shift < offered) {
        /* RFC 9293 §3.8.6.2.2, RFC 7323 §2.4: never move the right edge
         * left. Rounded down, the scale may cut off part of what was
         * offered when RCV.NXT advanced by less than a granule: round that
         * up instead (Linux tcp_select_window, ALIGN(cur_win)), which may
         * put the edge up to a granule past the buffer; the ring takes it
         * (tcp_rcv_overcommit_max). Such roundings can add up while the
         * application does not read; past the bound the edge retracts by
         * less than a granule (§2.4's other choice), and data up to the
         * largest edge advertised is still taken (tcp_input.c). */
        uint32_t up = (uint32_t)(((uint64_t)offered + (1u << shift) - 1) >> shift);
        uint32_t edge = tp->rcv_nxt + (up << shift);
        int32_t past = (int32_t)(edge - tcp_rcv_buf_end(tp));
        if (past <= 0 || (uint32_t)past <= tcp_rcv_overcommit_max(tp)) {
            field = up;
        } else {
            field = offered >> shift;
            NS_STAT_INC(tp->st, tcp_rcv_wnd_retract);
        }
    }
    return (uint16_t)(field > 65535 ? 65535 : field);
}

/* Build and transmit one segment: data [seq, seq+len) from the send
 * buffer, with `flags`. Returns 0 or -errno from IP. */
static int tcp_xmit(struct tcpcb *tp, uint32_t seq, uint32_t len, uint8_t flags)
{
    struct ns_stack *st = tp->st;
    const struct ns_flow *f = &tp->sock.flow;
    struct ns_tcp_repr th = {
        .sport = tp->sock.flow.lport,
        .dport = tp->sock.flow.rport,
        .seq = seq,
        .flags = flags,
    };
    bool syn = flags & NS_TCP_SYN;
    if (syn) {
        /* RFC 9293 §3.7.1: announce the MSS we can receive. */
        th.has_mss = true;
        th.mss = tcp_mss_for_route(tp);
        /* Linux tcp(7) TCP_MAXSEG: set before the connection, it is also
         * the value announced. */
        if (tp->user_mss && tp->user_mss < th.mss)
            th.mss = tp->user_mss;
        /* RFC 7323 §2.2: WS on a SYN; on a SYN,ACK only when the peer's
         * SYN carried it. Likewise TSopt (§3.2). */
        bool synack = flags & NS_TCP_ACK;
        if ((tp->flags & TF_REQ_SCALE) && (!synack || (tp->flags & TF_RCVD_SCALE))) {
            th.has_wscale = true;
            th.wscale = tp->req_rcv_wscale;
        }
        if ((tp->flags & TF_REQ_TSTMP) && (!synack || (tp->flags & TF_RCVD_TSTMP))) {
            th.has_ts = true;
            th.ts_val = tcp_ts_now(tp);
            th.ts_ecr = synack ? tp->ts_recent : 0; /* §3.2: 0 without ACK */
        }
        /* RFC 2018 §2: SACK-permitted likewise. */
        th.sack_ok = (tp->flags & TF_REQ_SACK) && (!synack || (tp->flags & TF_RCVD_SACK));
    } else {
        if (tcp_ts_on(tp)) {
            /* RFC 7323 §3.2: once negotiated, TSopt on every non-RST segment. */
            th.has_ts = true;
            th.ts_val = tcp_ts_now(tp);
            th.ts_ecr = tp->ts_recent;
        }
        if (flags & NS_TCP_ACK)
            tcp_sack_fill(tp, &th); /* RFC 2018 §4: blocks on every ACK */
    }
    if (flags & NS_TCP_ACK) {
        th.ack = tp->rcv_nxt;
        tp->last_ack_sent = tp->rcv_nxt; /* RFC 7323 §4.3 Last.ACK.sent */
    }
    /* RFC 9293 §3.8.5, as Linux __tcp_transmit_skb: in urgent mode every
     * segment that starts below SND.UP carries URG and the pointer from
     * its first byte (RFC 6093 §3: to the byte after the urgent one),
     * 0xFFFF while SND.UP lies beyond what a 16-bit field reaches. */
    if (tp->urg_mode && !syn && SEQ_LT(seq, tp->snd_up)) {
        if (tp->snd_up - seq <= 0xFFFF) {
            th.flags |= NS_TCP_URG;
            th.urp = (uint16_t)(tp->snd_up - seq);
        } else if (SEQ_GT(seq + 0xFFFF, tp->snd_nxt)) {
            th.flags |= NS_TCP_URG;
            th.urp = 0xFFFF;
        }
    }
    uint8_t shift = syn ? 0 : tp->rcv_wscale;
    th.win = tcp_select_window(tp, syn);
    uint32_t win = (uint32_t)th.win << shift;
    if (syn)
        tp->rcv_ssthresh = win; /* Linux: the window grows from the SYN's */
    size_t hlen = NS_TCP_HLEN + ns_tcp_opts_len(&th);

    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, (uint32_t)(hlen + len));
    if (!pb)
        return -ENOBUFS;
    uint8_t *p = ns_pbuf_data(pb);
    /* PSH when this segment empties the send buffer (RFC 9293 §3.9.1). */
    if (len && seq + len == tp->snd_data + tp->sndbuf.len)
        th.flags |= NS_TCP_PSH;
    ns_tcp_emit(&th, p);
    struct ns_dev *dev = tcp_route_dev(tp);
    if (len > tp->mss) {
        /* TSO (tcp_seg_max): the device cuts wire segments of the MSS,
         * less what options beyond the usual ones take (SACK blocks). */
        uint32_t extra = hlen - NS_TCP_HLEN - tcp_opts_hdr_len(tp);
        pb->gso_size = (uint16_t)(tp->mss > extra ? tp->mss - extra : tp->mss);
        pb->gso_type = f->remote.family == AF_INET6 ? NS_GSO_TCPV6 : NS_GSO_TCPV4;
        NS_STAT_INC(st, tcp_tso_segs);
    }
    if (dev && (dev->offloads & NS_DEV_OFF_TX_CSUM)) {
        /* Left for the device: the field holds the pseudo-header sum. */
        if (len)
            ns_ring_peek(&tp->sndbuf, seq - tp->snd_data, p + hlen, len);
        uint32_t ph = ns_csum_pseudo(&f->local, &f->remote, NS_IPPROTO_TCP, (uint32_t)(hlen + len));
        ns_wr16(p + 16, (uint16_t)~ns_csum_fold(ph));
        ns_pbuf_csum_partial(pb, 0, 16);
    } else {
        /* Pseudo-header and header first; the payload is then summed while it
         * is copied out of the send ring, each byte read once. */
        uint32_t sum = ns_csum_add(
            ns_csum_pseudo(&f->local, &f->remote, NS_IPPROTO_TCP, (uint32_t)(hlen + len)), p, hlen);
        if (len)
            ns_ring_peek_csum(&tp->sndbuf, seq - tp->snd_data, p + hlen, len, &sum);
        ns_wr16(p + 16, ns_csum_fold(sum));
    }

    if (flags & NS_TCP_ACK) {
        tp->flags &= ~(TF_ACKNOW | TF_DELACK);
        tp->delack_segs = 0;
        tcp_timer_cancel(tp, TT_DELACK);
    }
    if (SEQ_GT(tp->rcv_nxt + win, tp->rcv_adv))
        tp->rcv_adv = tp->rcv_nxt + win;
    pb->flags |= NS_PBUF_F_TX_DEFER; /* a full device queue refuses it, not drops it */
    uint32_t nsegs = pb->gso_size && len > pb->gso_size ? (len + pb->gso_size - 1) / pb->gso_size : 1;
    int rc = tcp_ip_output(st, tcp_egress(tp), f, tp->so, !tp->pmtu_locked, pb);
    if (rc == -EAGAIN)
        return tcp_tx_refused(tp, flags); /* nothing was sent (tcp_txwait.c) */
    tp->segs_out += nsegs; /* Linux tcp_transmit_skb: tcp_skb_pcount */
    if (len)
        tp->data_segs_out += nsegs;
    if (SEQ_LT(seq, tp->snd_max) && (len || (flags & (NS_TCP_SYN | NS_TCP_FIN)))) {
        NS_STAT_INC(st, tcp_retrans_segs);
        tp->total_retrans++;
    }
    NS_STAT_INC(st, tcp_tx_segs);
    tp->last_tx_us = st->now_us;
    return rc;
}

void tcp_rcvd(struct tcpcb *tp)
{
    /* Linux tcp_cleanup_rbuf: after a read, a window update goes out when
     * the window can now at least double what is still offered (and that
     * is at most half the largest window); zero-window and silly-window
     * rules included (tcp_rcv_wnd_sws: RFC 9293 §3.8.6.2.2, an update
     * only once an MSS or more can be offered). Not once the peer's FIN
     * came or reading was shut down: no more data will arrive. A pure
     * window update is sent only here, never when the window merely
     * differs from the one the handshake offered. */
    bool rd_shut = TCPS_HAVERCVDFIN(tp->state) || (tp->so && (tp->so->flags & SO_F_SHUT_RD));
    if (TCPS_HAVEESTABLISHED(tp->state) && tp->state != TCPS_TIME_WAIT && !rd_shut) {
        uint32_t offered = SEQ_GT(tp->rcv_adv, tp->rcv_nxt) ? tp->rcv_adv - tp->rcv_nxt : 0;
        if (2ull * offered <= tcp_rcv_window_max(tp)) {
            uint32_t win = tcp_rcv_wnd_sws(tp);
            if (win && win >= 2ull * offered)
                tp->flags |= TF_ACKNOW;
        }
    }
    tcp_output(tp);
}

void tcp_send_ack_now(struct tcpcb *tp)
{
    tp->flags |= TF_ACKNOW;
    tcp_output(tp);
}

void tcp_send_keepalive(struct tcpcb *tp)
{
    if (!tcp_ts_on(tp)) {
        tcp_respond(tp->st, &tp->sock.flow, tp->snd_una - 1, tp->rcv_nxt, NS_TCP_ACK,
                    tcp_select_window(tp, false));
        return;
    }
    /* RFC 7323 §3.2: with timestamps the probe carries TSopt too; it is
     * built like any ACK, but does not count as sending for idle restart. */
    uint64_t last_tx_us = tp->last_tx_us;
    tcp_xmit(tp, tp->snd_una - 1, 0, NS_TCP_ACK);
    tp->last_tx_us = last_tx_us;
}

/* Sequence number our FIN occupies (once the user has closed). */
static uint32_t fin_seq(const struct tcpcb *tp) { return tp->snd_data + tp->sndbuf.len; }

/* Nothing can go by tcp_output_one's rules: synchronized (no SYN),
 * nothing unsent at SND.NXT, no ACK owed, no FIN to send. The common case
 * after an ACK came in, after a read, and once tcp_output's loop has sent
 * the last segment. */
static bool tcp_nothing_to_send(const struct tcpcb *tp)
{
    uint32_t off = SEQ_GT(tp->snd_nxt, tp->snd_data) ? tp->snd_nxt - tp->snd_data : 0;
    return TCPS_HAVEESTABLISHED(tp->state) && !(tp->flags & (TF_ACKNOW | TF_NEEDFIN)) &&
           off >= tp->sndbuf.len;
}

/* Send one segment if the rules allow; returns true when one was sent.
 * `one_from_una`: a retransmission of the first unacknowledged segment,
 * outside the congestion window (fast retransmit, RFC 5681 §3.2). */
static bool tcp_output_one(struct tcpcb *tp, bool one_from_una)
{
    if (!one_from_una && tcp_nothing_to_send(tp))
        return false; /* answered before any of the work below */

    struct ns_stack *st = tp->st;
    uint32_t mss = tcp_cur_mss(tp);
    uint8_t flags = tcp_outflags[tp->state];
    bool idle = tp->snd_una == tp->snd_max;
    bool small_outstanding = SEQ_GT(tp->snd_sml, tp->snd_una) && SEQ_LEQ(tp->snd_sml, tp->snd_max);
    uint32_t seq = one_from_una ? tp->snd_una : tp->snd_nxt;

    if (tp->state == TCPS_CLOSED || tp->state == TCPS_LISTEN)
        return false;
    if (tcp_tx_waiting(tp, one_from_una))
        return false; /* the device queue is full: woken when it drains (tcp_txwait.c) */

    /* SYN: only while it is the first thing unacknowledged. */
    if ((flags & NS_TCP_SYN) && seq != tp->iss)
        flags &= ~NS_TCP_SYN;

    uint32_t off = SEQ_GT(seq, tp->snd_data) ? seq - tp->snd_data : 0;
    uint32_t avail = off < tp->sndbuf.len ? tp->sndbuf.len - off : 0;
    if (flags & NS_TCP_SYN)
        avail = 0; /* no data on our SYN */
    if (!TCPS_HAVEESTABLISHED(tp->state) && !(flags & NS_TCP_SYN))
        avail = 0;

    /* Usable window: the smaller of the peer's window and cwnd. With
     * SACK, cwnd bounds pipe, not SND.NXT - SND.UNA (RFC 6675 §5; SACKed
     * and lost segments have left the network); a tail loss probe with
     * new data ignores cwnd (RFC 8985 §7.3). */
    uint32_t usable;
    if (one_from_una) {
        usable = mss;
    } else if (tcp_sack_active(tp)) {
        uint32_t rwnd = SEQ_GT(tp->snd_una + tp->snd_wnd, seq) ? tp->snd_una + tp->snd_wnd - seq : 0;
        uint32_t pipe = tcp_pipe(tp);
        uint32_t cwnd = tp->cwnd > pipe ? tp->cwnd - pipe : 0;
        if (tp->flags & TF_TLP_SEND)
            cwnd = mss;
        /* Byte counting would let a window of tiny segments (TCP_NODELAY
         * and small writes) put thousands in flight; as Linux counts cwnd
         * in packets, hold new data once twice cwnd's worth of segments
         * are outstanding: later writes then coalesce in the buffer. */
        if (tp->sm.n >= 2 * (tp->cwnd / mss + 1))
            cwnd = 0;
        usable = rwnd < cwnd ? rwnd : cwnd;
    } else {
        uint32_t wnd = tp->snd_wnd < tp->cwnd ? tp->snd_wnd : tp->cwnd;
        usable = SEQ_GT(tp->snd_una + wnd, seq) ? tp->snd_una + wnd - seq : 0;
    }
    bool probe = (tp->flags & TF_PROBE) && tp->snd_wnd == 0;
    if (probe)
        usable = 1; /* RFC 9293 §3.8.6.1: probe a zero window with one byte */
    /* The persist timer fired with the window open but smaller than a
     * segment (sender SWS held the data, nothing in flight): RFC 9293
     * §3.8.6.2.1's override timeout sends what the window takes (Linux
     * tcp_write_wakeup). */
    bool override = (tp->flags & TF_PROBE) && tp->snd_wnd != 0 && !one_from_una;

    uint32_t len = avail < usable ? avail : usable;
    if (len > mss) { /* only then can the device's segment size matter */
        uint32_t seg_max = one_from_una ? mss : tcp_seg_max(tp, seq, mss);
        if (len > seg_max)
            len = seg_max;
        else
            len -= len % mss; /* whole segments; the rest as if sent alone */
    }

    /* FIN goes with the last data, once the user closed and the window
     * lets the data before it out. */
    if (flags & NS_TCP_FIN) {
        if (!(tp->flags & TF_NEEDFIN) || seq + len != fin_seq(tp) ||
            ((tp->flags & TF_SENTFIN) && SEQ_GT(seq, fin_seq(tp))))
            flags &= ~NS_TCP_FIN;
        if ((tp->flags & TF_SENTFIN) && seq == tp->snd_max && !one_from_una)
            flags &= ~NS_TCP_FIN; /* already sent; only a retransmission repeats it */
    }

    bool send = false;
    if (one_from_una) {
        send = len > 0 || (flags & (NS_TCP_SYN | NS_TCP_FIN));
    } else if (len > 0) {
        bool last = off + len == tp->sndbuf.len;
        if (len >= mss)
            send = true;
        else if (tp->urg_mode)
            send = true; /* Linux tcp_nagle_test: urgent mode passes Nagle and the cork */
        else if ((tp->flags & (TF_CORK | TF_MORE)) && !(tp->flags & TF_CORK_FLUSH))
            send = false;
        /* RFC 896 / RFC 1122 §4.2.3.4: with data outstanding, hold a
         * small segment until the ACK comes (unless TCP_NODELAY). As
         * Linux, with Minshall's refinement: only a small segment still
         * unacknowledged holds the next one, so the tail of a large write
         * is not held behind full-sized segments (and delayed ACKs). */
        else if (last && (idle || (tp->flags & TF_NODELAY) || !small_outstanding))
            send = true;
        else if (tp->max_sndwnd && len >= tp->max_sndwnd / 2)
            send = true; /* RFC 9293 §3.8.6.2.1: half the largest window */
        else if (SEQ_LT(seq, tp->snd_max))
            send = true; /* retransmission */
        if (probe || override)
            send = true;
    }
    if (flags & (NS_TCP_SYN | NS_TCP_FIN))
        send = true;
    if ((tp->flags & TF_ACKNOW) && !(flags & NS_TCP_SYN))
        send = true;
    if (!send)
        return false;

    if (flags & NS_TCP_SYN)
        len = 0;
    /* A bare ACK carries SND.MAX, not SND.NXT (FreeBSD tcp_output): after
     * a timeout pulls SND.NXT back (go-back-N), SND.NXT may lie below what
     * the peer already received, and the peer would find the ACK
     * unacceptable (RFC 9293 §3.10.7.4 "first, check sequence number"),
     * drop it without looking at its ACK field, and answer with an ACK of
     * its own; two such peers ACK each other forever. */
    bool bare_ack = len == 0 && !(flags & (NS_TCP_SYN | NS_TCP_FIN));
    int rc = tcp_xmit(tp, bare_ack ? tp->snd_max : seq, len, flags);
    if (rc == -EAGAIN) {
        /* Refused by a full device queue: not sent, so nothing below
         * happens (SND.NXT, SND.MAX, FIN, timers stay as they were). */
        tcp_tx_waiting(tp, one_from_una);
        return false;
    }
    if (rc == -ENOBUFS) {
        /* No packet buffer: not sent either. With data in flight the
         * retransmission timer tries again; with none, the persist timer
         * that tcp_output arms (at TCP_RESOURCE_PROBE_US, no backoff). */
        tp->xmit_nobufs = true;
        return false;
    }
    if (len > 0 && len < mss && !probe)
        tp->snd_sml = seq + len;
    if (!bare_ack && !one_from_una) {
        tcp_sm_sent(tp, seq, len + !!(flags & NS_TCP_FIN), flags & NS_TCP_FIN);
        tcp_rec_sent(tp, len, false);
    }
    if (probe || override)
        tp->flags &= ~TF_PROBE;

    uint32_t end = seq + len + !!(flags & NS_TCP_SYN) + !!(flags & NS_TCP_FIN);
    if (flags & NS_TCP_FIN)
        tp->flags |= TF_SENTFIN;
    if (!one_from_una && !bare_ack)
        tp->snd_nxt = end;
    if (SEQ_GT(end, tp->snd_max)) {
        if (tp->snd_max == tp->snd_una)
            tp->rxt_start_us = st->now_us;
        /* RFC 6298 §3 / Karn: time one new segment per round trip. */
        if (!(tp->flags & TF_RTT_TIMING) && SEQ_GEQ(seq, tp->snd_max)) {
            tp->flags |= TF_RTT_TIMING;
            tp->rtt_seq = seq;
            tp->rtt_start_us = st->now_us;
        }
        tp->snd_max = end;
    }
    if (SEQ_GT(tp->snd_nxt, tp->snd_max))
        tp->snd_max = tp->snd_nxt;
    /* RFC 6298 §5.1: keep a retransmission timer running while data is out. */
    if (end != seq && !tcp_timer_pending(tp, TT_REXMT) && !probe) {
        tcp_timer_cancel(tp, TT_PERSIST);
        tcp_arm_rexmt(tp);
    }
    return !one_from_una;
}

/* Resend len bytes from seq (and the FIN after them) as recorded on the
 * scoreboard; unless a full device refused it, the records it covers are
 * marked sent now. Returns tcp_xmit's result. */
static int tcp_resend(struct tcpcb *tp, uint32_t seq, uint32_t len, bool fin)
{
    int rc = tcp_xmit(tp, seq, len, (uint8_t)(NS_TCP_ACK | (fin ? NS_TCP_FIN : 0)));
    if (rc != -EAGAIN)
        tcp_sm_sent(tp, seq, len + fin, fin);
    return rc;
}

/* RFC 6675 §5 NextSeg rule 1: resend the first lost segment whose
 * retransmission is not in flight, while pipe < cwnd (the first one of a
 * recovery goes out regardless, RFC 6937 §3). One MSS at most: a longer
 * record is split. True when a segment was sent. */
static bool tcp_output_lost(struct tcpcb *tp)
{
    struct tcp_sendrec *r = tcp_sm_next_lost(tp);
    if (!r || tcp_tx_waiting(tp, false))
        return false;
    if (!(tp->flags & TF_PRR_FORCE) && tcp_pipe(tp) >= tp->cwnd)
        return false;
    uint32_t mss = tcp_cur_mss(tp);
    bool fin = r->flags & SR_FIN;
    if (r->end - r->start - fin > mss) {
        uint32_t i = tcp_sm_find(tp, r->start);
        if (!tcp_sm_split(tp, i, r->start + mss))
            return false;
        r = tcp_sm_at(tp, i);
        fin = false;
    }
    uint32_t seq = r->start, len = r->end - r->start - fin;
    /* Small lost records that follow go in the same segment (Linux
     * tcp_retrans_try_collapse), up to one MSS. */
    for (uint32_t i = tcp_sm_find(tp, seq) + 1; !fin && i < tp->sm.n; i++) {
        const struct tcp_sendrec *q = tcp_sm_at(tp, i);
        bool qfin = q->flags & SR_FIN;
        if ((q->flags & (SR_LOST | SR_RETRANS | SR_SACKED)) != SR_LOST ||
            len + (q->end - q->start - qfin) > mss)
            break;
        len += q->end - q->start - qfin;
        fin = qfin;
    }
    if (tcp_resend(tp, seq, len, fin) == -EAGAIN)
        return false; /* a full device: tried again when it has room */
    tcp_rec_sent(tp, len + fin, true);
    if (!tcp_timer_pending(tp, TT_REXMT))
        tcp_arm_rexmt(tp);
    return true;
}

void tcp_tlp_fire(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    if (tcp_tx_waiting(tp, false)) {
        tcp_arm_rexmt(tp); /* the device is full, not the network: no probe */
        return;
    }
    NS_STAT_INC(st, tcp_tlp_probes);
    /* RFC 8985 §7.3: send one segment of new data if there is any and
     * the receiver's window allows, else resend the last segment. */
    uint32_t snd_max = tp->snd_max;
    tp->flags |= TF_TLP_SEND;
    tcp_output_one(tp, false);
    tp->flags &= ~TF_TLP_SEND;
    if (tp->snd_max != snd_max) {
        tp->flags = (tp->flags | TF_TLP) & ~TF_TLP_RETRANS;
    } else if (tp->sm.n) {
        uint32_t i = tp->sm.n - 1;
        struct tcp_sendrec *r = tcp_sm_at(tp, i);
        uint32_t mss = tcp_cur_mss(tp);
        if (r->end - r->start > mss + 1 && tcp_sm_split(tp, i, r->end - mss))
            r = tcp_sm_at(tp, ++i);
        bool fin = r->flags & SR_FIN;
        uint32_t len = r->end - r->start - fin;
        if (tcp_resend(tp, r->start, len, fin) != -EAGAIN)
            tp->flags |= TF_TLP | TF_TLP_RETRANS;
    }
    tp->tlp_end_seq = tp->snd_max;
    /* §7.3: after the probe, the RTO guards the connection. */
    tcp_arm_rexmt(tp);
}

int tcp_output(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    if (tp->pmtu)
        tcp_pmtu_check(tp);
    /* RFC 5681 §4.1: after an idle period longer than the RTO, restart
     * from the restart window. */
    if (tp->snd_una == tp->snd_max && tp->last_tx_us &&
        st->now_us - tp->last_tx_us > tp->rto_us && TCPS_HAVEESTABLISHED(tp->state))
        tp->cc->after_idle(tp);
    bool sack = tcp_sack_active(tp);
    uint32_t snd_max = tp->snd_max;
    tp->xmit_nobufs = false;
    /* Nothing new to send and nothing lost to resend: every rule below
     * needs data unsent or a segment sent now. */
    if (tcp_nothing_to_send(tp) && (!sack || !tcp_sm_next_lost(tp)))
        return 0;
    for (int i = 0; i < 1024; i++) {
        if (sack && tcp_output_lost(tp))
            continue;
        if (!tcp_output_one(tp, false))
            break;
    }
    /* RFC 8985 §7.2: new data went out: (re)start the probe timeout.
     * Not for a zero-window probe: the persist timer has that byte. */
    if (sack && tp->snd_max != snd_max && tp->snd_wnd != 0)
        tcp_tlp_arm(tp);
    /* Corked data with nothing in flight: Linux sends it after at most
     * max(RTO, 200 ms) (tcp(7) TCP_CORK "ceiling"), through the persist
     * timer (tcp_timer_persist). */
    if ((tp->flags & TF_CORK) && tp->state >= TCPS_ESTABLISHED && tp->snd_wnd &&
        tp->snd_una == tp->snd_max && tp->sndbuf.len > tp->snd_nxt - tp->snd_data &&
        !tcp_timer_pending(tp, TT_PERSIST)) {
        uint64_t d = tp->rto_us < TCP_CORK_CEILING_US ? TCP_CORK_CEILING_US : tp->rto_us;
        tcp_timer_arm(tp, TT_PERSIST, st->now_us + d);
    }
    /* Data waiting, nothing in flight and no timer armed: whatever held
     * it back — a zero window (probe it, RFC 9293 §3.8.6.1), a window
     * smaller than a segment (sender SWS: the §3.8.6.2.1 override
     * timeout), a packet buffer that could not be had — the persist
     * timer tries again, so nothing waits forever (Linux
     * tcp_check_probe_timer). */
    if (tp->state >= TCPS_ESTABLISHED && tp->snd_una == tp->snd_max &&
        tp->sndbuf.len > tp->snd_nxt - tp->snd_data && !tcp_timer_pending(tp, TT_REXMT) &&
        !tcp_timer_pending(tp, TT_PERSIST)) {
        tp->persist_shift = 0;
        uint64_t d = tp->rto_us < TCP_PERSIST_MIN_US ? TCP_PERSIST_MIN_US : tp->rto_us;
        if (tp->xmit_nobufs && tp->snd_wnd != 0)
            d = TCP_RESOURCE_PROBE_US;
        tcp_timer_arm(tp, TT_PERSIST, st->now_us + d);
    }
    /* Under TCP_NOTSENT_LOWAT, sending is what frees room for a writer
     * (Linux checks after tcp_push_pending_frames in tcp_data_snd_check). */
    if (tp->notsent_lowat && tp->snd_max != snd_max)
        tcp_check_space(tp);
    return 0;
}

void tcp_retransmit_one(struct tcpcb *tp) { tcp_output_one(tp, true); }
