/* tests/unit/test_tcp_rfc7323.c — RFC 7323 in the protocol's terms
 * (tests/tcpseg.h): the window scale option (§2: negotiation, unscaled
 * SYN windows, scaled windows both ways, rounding that never moves the
 * right edge left), timestamps (§3: negotiation, TSval clock, TSecr =
 * TS.Recent; §4: the TS.Recent update rule and RTT measurement), PAWS
 * (§5), the MSS less the option bytes, and the ns_config switches.
 *
 * The shift offered covers the largest the receive buffer may become:
 * with autotuning (cfg.tcp_moderate_rcvbuf, the default) that is
 * tcp_rmem_max, 6 MiB, shift 7 as Linux (test_ws_shift_covers_autotuning).
 * The other tests use a bench with autotuning off, where the shift covers
 * the 131072-byte buffer: 2 (131072 >> 2 = 32768 fits 16 bits, >> 1 does
 * not), which keeps their window arithmetic small.
 */
#include "tcpseg.h"

/* tt_new_fixed() with receive-buffer autotuning off: the shift follows the
 * socket's buffer. */
static struct tt *tt_new_fixed(void)
{
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.tcp_congestion = "newreno";
    cfg.tcp_moderate_rcvbuf = false;
    return tt_new_cfg(&cfg, 1500);
}

#define ISS 1000u
#define PISS 5000u
#define A (ISS + 1)  /* our first data byte */
#define P (PISS + 1) /* the peer's first data byte */
#define PTS 7000000u /* the peer's timestamp clock at the handshake */
#define RTT (20 * US_MS)

struct opts {
    int peer_ws;     /* the peer's shift, or TNONE */
    bool peer_ts;
};

/* Active open; the peer answers RTT later with the options in `o`.
 * Returns the fd; *our_ts: the TSval of our SYN. */
static int open_active(struct tt *t, struct opts o, uint32_t *our_ts)
{
    t->isn = ISS;
    int fd = tt_connect_start(t, tt_socket(t));
    /* §2.2: WS on the SYN, its window not scaled; §3.2: TSecr 0. */
    tseg_expect(t, .flags = SYN, .seq = ISS, .win = 65535, .mss = 1460, .wscale = 2, .tsecr = 0);
    uint32_t syn_ts = t->th.ts_val;
    tseg_send(t, t->now + RTT, .flags = SYN | ACK, .seq = PISS, .ack = A, .win = 1000,
              .mss = 1460, .wscale = o.peer_ws, .ts = o.peer_ts, .tsval = PTS, .tsecr = syn_ts);
    if (o.peer_ts)
        tseg_expect(t, .flags = ACK, .seq = A, .ack = P, .tsval = syn_ts + RTT / US_MS,
                    .tsecr = PTS);
    else
        tseg_expect(t, .flags = ACK, .seq = A, .ack = P, .tsval = TNONE);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    if (our_ts)
        *our_ts = syn_ts;
    t->fd = fd;
    return fd;
}

/* ---- window scale (§2) ------------------------------------------------------------ */

static void test_ws_negotiated_active(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    int fd = open_active(t, (struct opts){.peer_ws = 7}, NULL);
    struct tcpcb *tp = tt_tp(t, fd);
    /* §2.2: the SYN,ACK's window (1000) is taken as it is. */
    assert_int_equal(tp->snd_wnd, 1000);
    assert_int_equal(tp->snd_wscale, 7);
    assert_int_equal(tp->rcv_wscale, 2);
    /* Our ACK above offered the SYN's window, 65535, rounded down to the
     * shift: a window that grows with the data (Linux rcv_ssthresh). */
    assert_int_equal(t->th.win, 65535 >> 2);
    /* From now on the peer's windows are shifted by 7. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A, .win = 100);
    assert_int_equal(tp->snd_wnd, 100u << 7);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A, .win = 65535);
    assert_int_equal(tp->snd_wnd, 65535u << 7);
    /* And ours by 2: 1000 bytes received grow the window offered by
     * 2 MSS (Linux tcp_grow_window) to 65535 + 2920, field 17113. */
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = P, .ack = A, .len = 1000);
    tt_at(t, t->now + 50 * US_MS);
    tseg_expect(t, .flags = ACK, .ack = P + 1000, .win = (65535 + 2920) >> 2);
    tt_read_pat(t, fd, P, 1000);
    struct tcp_info ti = tt_info(t, fd);
    assert_true(ti.tcpi_options & TCPI_OPT_WSCALE);
    assert_int_equal(ti.tcpi_snd_wscale, 7);
    assert_int_equal(ti.tcpi_rcv_wscale, 2);
    tt_free(t);
}

static void test_ws_negotiated_passive(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    int lfd = tt_listen(t, 8);
    t->isn = ISS;
    tseg_send(t, t->now, .flags = SYN, .seq = PISS, .win = 2000, .mss = 1460, .wscale = 3);
    /* The SYN,ACK answers with our shift; its window is not scaled. */
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS, .ack = P, .win = 65535, .wscale = 2,
                .tsval = TNONE);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A, .win = 1000);
    /* The SYN,ACK could offer at most 65535 bytes; the rest of the buffer
     * is announced with the first ACK of data, not by a window update of
     * its own right after the handshake (Linux sends none either). */
    tseg_expect_none(t);
    int fd = ns_accept(tt_st(t), lfd, NULL, NULL);
    assert_true(fd >= 0);
    struct tcpcb *tp = tt_tp(t, fd);
    assert_int_equal(tp->snd_wnd, 8000); /* the ACK's window, << 3 */
    assert_int_equal(tp->rcv_wscale, 2);
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = P, .ack = A, .len = 10);
    tt_at(t, t->now + 50 * US_MS);
    /* 131062 free, but the window grows from the SYN,ACK's 65535 by
     * 2 MSS per segment (Linux tcp_grow_window): 68455, rounded down to
     * the scale. */
    tseg_expect(t, .flags = ACK, .ack = P + 10, .win = (65535 + 2920) >> 2);
    tt_free(t);
}

/* Only one side offers WS: neither shifts (§2.2). */
static void test_ws_not_used_without_both(void **state)
{
    (void)state;
    /* The peer's SYN,ACK has no WS: we do not scale ours either. */
    struct tt *t = tt_new_fixed();
    int fd = open_active(t, (struct opts){.peer_ws = TNONE}, NULL);
    struct tcpcb *tp = tt_tp(t, fd);
    assert_int_equal(tp->snd_wscale, 0);
    assert_int_equal(tp->rcv_wscale, 0);
    assert_int_equal(t->th.win, 65535); /* capped to 16 bits, unscaled */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A, .win = 100);
    assert_int_equal(tp->snd_wnd, 100);
    tt_free(t);

    /* The peer's SYN has no WS: our SYN,ACK carries none. */
    t = tt_new_fixed();
    tt_listen(t, 8);
    t->isn = ISS;
    tseg_send(t, t->now, .flags = SYN, .seq = PISS, .mss = 1460);
    tseg_expect(t, .flags = SYN | ACK, .wscale = TNONE, .tsval = TNONE);
    tt_free(t);

    /* Window scaling switched off: none offered, the peer's is ignored. */
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.tcp_window_scaling = false;
    cfg.tcp_moderate_rcvbuf = false;
    t = tt_new_cfg(&cfg, 1500);
    t->isn = ISS;
    fd = tt_connect_start(t, tt_socket(t));
    tseg_expect(t, .flags = SYN, .wscale = TNONE, .win = 65535);
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = 1460, .wscale = 5,
              .win = 1000);
    tseg_expect(t, .flags = ACK, .ack = P, .win = 65535);
    tp = tt_tp(t, fd);
    assert_int_equal(tp->snd_wscale, 0);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A, .win = 1000);
    assert_int_equal(tp->snd_wnd, 1000);
    tt_free(t);
}

/* A large SO_RCVBUF: a larger shift, the SYN window still 16 bits. */
static void test_ws_shift_from_rcvbuf(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    int s = tt_socket(t);
    tt_setint(t, s, SOL_SOCKET, SO_RCVBUF, 4 << 20); /* up to tcp_rmem_max, doubled: 8 MiB */
    int v = 0;
    socklen_t len = sizeof(v);
    assert_int_equal(ns_getsockopt(tt_st(t), s, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
    assert_int_equal(v, 8 << 20);
    t->isn = ISS;
    tt_connect_start(t, s);
    /* 8 MiB >> 7 = 65536 does not fit 16 bits, >> 8 does. */
    tseg_expect(t, .flags = SYN, .win = 65535, .wscale = 8);
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = 1460, .wscale = 0);
    tseg_expect(t, .flags = ACK, .ack = P, .win = 65535 >> 8); /* the SYN's window, for now */
    tt_free(t);
}

/* §2.4 with a reader that stops: the field is the free space shifted
 * right (rounded down), but never so little that the right edge (SEG.ACK
 * + SEG.WND << shift) moves left; every byte inside any window offered is
 * taken, also the few that rounding put past the 80000-byte buffer; and
 * once the peer has filled the last window, the window is zero. */
static void test_ws_rounding_keeps_right_edge(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    t->isn = ISS;
    int s = tt_socket(t);
    tt_setint(t, s, SOL_SOCKET, SO_RCVBUF, 40000); /* 80000 bytes: shift 1 */
    tt_connect_start(t, s);
    tseg_expect(t, .flags = SYN, .wscale = 1, .win = 65535);
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = 1460, .wscale = 0);
    tseg_expect(t, .flags = ACK, .ack = P, .win = 65535 >> 1);
    uint32_t edge = P + (65535 & ~1u), seq = P, win = 1;
    bool rounded_up = false;
    /* The peer fills every window with odd-sized segments; nothing is
     * read, so the free space is odd half the time. */
    for (int i = 0; i < 1000 && (win != 0 || seq != edge); i++) {
        uint32_t n = edge - seq < 1001 ? edge - seq : 1001;
        assert_true(n > 0);
        tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = seq, .ack = A, .len = n);
        seq += n;
        tt_at(t, t->now + 50 * US_MS);
        while (tt_pending(t)) {
            const struct ns_tcp_repr *th = tseg_expect(t, .flags = ACK);
            assert_int_equal(th->ack, seq); /* all of it taken */
            win = (uint32_t)th->win << 1;
            uint32_t right = th->ack + win;
            assert_true(SEQ_GEQ(right, edge));
            if (SEQ_GT(right, P + 80000))
                rounded_up = true; /* a byte past the buffer: kept the edge */
            edge = right;
        }
    }
    assert_int_equal(win, 0);
    assert_true(rounded_up);
    /* The buffer, and at most the bound rounding may add. */
    uint32_t got = seq - P;
    assert_true(got >= 80000 && got <= 80000 + tcp_rcv_overcommit_max(tt_tp(t, s)));
    assert_int_equal(TCTR(t, tcp_rcvbuf_trim), 0);
    assert_int_equal(TCTR(t, tcp_rcv_inwin_drop), 0);
    assert_int_equal(TCTR(t, tcp_rcv_wnd_retract), 0);
    tt_read_pat(t, s, P, got);
    tt_free(t);
}

/* ---- timestamps (§3, §4) ---------------------------------------------------------- */

static void test_ts_negotiated(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    uint32_t syn_ts;
    int fd = open_active(t, (struct opts){.peer_ws = 7, .peer_ts = true}, &syn_ts);
    struct tcp_info ti = tt_info(t, fd);
    assert_true(ti.tcpi_options & TCPI_OPT_TIMESTAMPS);
    /* Every segment now carries TSopt: data and ACKs. */
    tt_write(t, fd, A, 100);
    tseg_expect(t, .flags = ACK | PSH, .seq = A, .len = 100, .tsval = syn_ts + RTT / US_MS,
                .tsecr = PTS);
    tt_free(t);

    /* The peer's SYN,ACK without TSopt: none used, the full MSS for data. */
    t = tt_new_fixed();
    fd = open_active(t, (struct opts){.peer_ws = 7}, NULL);
    assert_false(tt_info(t, fd).tcpi_options & TCPI_OPT_TIMESTAMPS);
    tseg_send(t, t->now, .flags = ACK, .seq = P, .ack = A, .win = 1000); /* << 7 */
    tt_write(t, fd, A, 3000);
    tseg_expect(t, .seq = A, .len = 1460, .tsval = TNONE);
    tt_free(t);

    /* Passive: TSopt on the SYN,ACK echoes the SYN's TSval. */
    t = tt_new_fixed();
    tt_listen(t, 8);
    t->isn = ISS;
    tseg_send(t, t->now, .flags = SYN, .seq = PISS, .mss = 1460, .ts = true, .tsval = PTS);
    tseg_expect(t, .flags = SYN | ACK, .wscale = TNONE, .tsecr = PTS);
    tt_free(t);
}

static void test_ts_switched_off(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.tcp_timestamps = false;
    cfg.tcp_window_scaling = false;
    cfg.tcp_sack = false;
    struct tt *t = tt_new_cfg(&cfg, 1500);
    t->isn = ISS;
    int fd = tt_connect_start(t, tt_socket(t));
    tseg_expect(t, .flags = SYN, .mss = 1460, .wscale = TNONE, .tsval = TNONE);
    assert_int_equal(t->th.hlen, 24); /* MSS alone, as before RFC 7323 and RFC 2018 */
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = 1460, .wscale = 2,
              .ts = true, .tsval = PTS);
    tseg_expect(t, .flags = ACK, .ack = P, .tsval = TNONE);
    assert_int_equal(t->th.hlen, 20);
    tt_write(t, fd, A, 1460);
    tseg_expect(t, .seq = A, .len = 1460, .tsval = TNONE);
    tt_free(t);
}

/* TSval follows a millisecond clock; TSecr echoes TS.Recent. */
static void test_tsval_monotonic_tsecr_echo(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    uint32_t syn_ts;
    int fd = open_active(t, (struct opts){.peer_ws = 0, .peer_ts = true}, &syn_ts);
    uint64_t t_syn = t->now - RTT;
    uint32_t last = syn_ts;
    for (uint32_t i = 0; i < 5; i++) {
        uint64_t at = t->now + 7 * US_MS + 300 * i;
        tseg_send(t, at, .flags = ACK | PSH, .seq = P + i, .ack = A, .len = 1, .ts = true,
                  .tsval = PTS + 10 * (i + 1), .tsecr = last);
        tt_at(t, t->now + 50 * US_MS); /* the delayed ACK */
        const struct ns_tcp_repr *th = tseg_expect(t, .flags = ACK, .ack = P + i + 1,
                                                   .tsecr = PTS + 10 * (i + 1));
        assert_true(TSTMP_GEQ(th->ts_val, last));
        assert_int_equal(th->ts_val, syn_ts + (uint32_t)((t->now - t_syn) / US_MS));
        last = th->ts_val;
    }
    tt_read_pat(t, fd, P, 5);
    tt_free(t);
}

/* §4.3: TS.Recent only from a segment at or left of Last.ACK.sent, so the
 * echo is that of the earliest segment not yet acknowledged. */
static void test_ts_recent_update_rule(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    int fd = open_active(t, (struct opts){.peer_ws = 0, .peer_ts = true}, NULL);
    /* Out of order (beyond Last.ACK.sent = P): its TSval is not taken;
     * the duplicate ACK echoes the handshake's. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 100, .ack = A, .len = 100, .ts = true,
              .tsval = PTS + 50);
    tseg_expect(t, .flags = ACK, .ack = P, .tsecr = PTS);
    assert_int_equal(tt_tp(t, fd)->ts_recent, PTS);
    /* The hole fills with a segment sent earlier (lower TSval, but not
     * below TS.Recent): its TSval is echoed. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A, .len = 100, .ts = true,
              .tsval = PTS + 30);
    tseg_expect(t, .flags = ACK, .ack = P + 200, .tsecr = PTS + 30);
    /* A later in-order segment moves it on. */
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = P + 200, .ack = A, .len = 10,
              .ts = true, .tsval = PTS + 60);
    tt_at(t, t->now + 50 * US_MS);
    tseg_expect(t, .flags = ACK, .ack = P + 210, .tsecr = PTS + 60);
    tt_read_pat(t, fd, P, 210);
    tt_free(t);
}

/* §4.1 RTTM: the RTT comes from TSecr, on every ACK of new data. */
static void test_rtt_from_tsecr(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    int fd = open_active(t, (struct opts){.peer_ws = 0, .peer_ts = true}, NULL);
    /* The SYN,ACK echoed our SYN 20 ms later: the first sample. */
    struct tcp_info ti = tt_info(t, fd);
    assert_int_equal(ti.tcpi_rtt, 20000);
    tt_write(t, fd, A, 1000);
    const struct ns_tcp_repr *th = tseg_expect(t, .seq = A, .len = 1000);
    uint32_t data_ts = th->ts_val;
    /* The ACK comes 40 ms later echoing the data segment's TSval:
     * SRTT = 7/8 * 20000 + 1/8 * 40000. */
    tseg_send(t, t->now + 40 * US_MS, .flags = ACK, .seq = P, .ack = A + 1000, .ts = true,
              .tsval = PTS + 40, .tsecr = data_ts);
    ti = tt_info(t, fd);
    assert_int_equal(ti.tcpi_rtt, 22500);
    /* A retransmitted segment: the echo names the retransmission, so the
     * sample is valid (no Karn ambiguity). */
    tt_write(t, fd, A + 1000, 500);
    tseg_expect(t, .seq = A + 1000, .len = 500);
    assert_true(tt_next_tx(t, t->now + 10 * US_S) != 0); /* the RTO fires */
    th = tseg_expect(t, .seq = A + 1000, .len = 500);
    assert_int_equal(TCTR(t, tcp_rto_timeouts), 1);
    uint32_t rtx_ts = th->ts_val;
    tseg_send(t, t->now + 30 * US_MS, .flags = ACK, .seq = P, .ack = A + 1500, .ts = true,
              .tsval = PTS + 2000, .tsecr = rtx_ts);
    ti = tt_info(t, fd);
    /* (7 * 22500 + 30000) / 8 */
    assert_int_equal(ti.tcpi_rtt, 23437);
    tt_free(t);
}

/* ---- PAWS (§5) -------------------------------------------------------------------- */

static void test_paws_drops_old_segment(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    int fd = open_active(t, (struct opts){.peer_ws = 0, .peer_ts = true}, NULL);
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = P, .ack = A, .len = 100, .ts = true,
              .tsval = PTS + 100);
    tt_at(t, t->now + 50 * US_MS);
    tseg_expect(t, .flags = ACK, .ack = P + 100, .tsecr = PTS + 100);
    /* An old duplicate (TSval below TS.Recent) in the window: dropped,
     * answered with an ACK at once, counted. */
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = P + 100, .ack = A, .len = 50,
              .ts = true, .tsval = PTS + 99);
    tseg_expect(t, .flags = ACK, .ack = P + 100, .tsecr = PTS + 100);
    tseg_expect_none(t);
    assert_int_equal(TCTR(t, tcp_drop_paws), 1);
    assert_int_equal(tt_tp(t, fd)->rcv_nxt, P + 100);
    /* The same bytes with a current TSval are taken. */
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = P + 100, .ack = A, .len = 50,
              .ts = true, .tsval = PTS + 100);
    assert_int_equal(tt_tp(t, fd)->rcv_nxt, P + 150);
    tt_read_pat(t, fd, P, 150);
    tb_drain(t->tb, 1);
    tt_free(t);
}

/* RFC 6191 §2: in TIME-WAIT, timestamps decide whether a SYN reopens the
 * 4-tuple, not its sequence number. */
static void test_time_wait_reuse_by_timestamp(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    int fd = open_active(t, (struct opts){.peer_ws = 0, .peer_ts = true}, NULL);
    ns_close(tt_st(t), fd); /* we close first: we end in TIME-WAIT */
    tseg_expect(t, .flags = FIN | ACK, .seq = A);
    tseg_send(t, t->now + 1000, .flags = FIN | ACK, .seq = P, .ack = A + 1, .ts = true,
              .tsval = PTS + 10);
    tseg_expect(t, .flags = ACK, .ack = P + 1);
    assert_int_equal(tt_lookup(t)->state, TCPS_TIME_WAIT);
    /* Above the old sequence space, but an older TSval: an old duplicate
     * (the sequence rule alone would have reopened). */
    tseg_send(t, t->now + 1000, .flags = SYN, .seq = P + 100000, .mss = 1460, .ts = true,
              .tsval = PTS + 5);
    tseg_expect(t, .flags = ACK, .ack = P + 1);
    assert_int_equal(TCTR(t, tcp_tw_reuse), 0);
    assert_int_equal(tt_lookup(t)->state, TCPS_TIME_WAIT);
    /* Below it, but a newer TSval: a new incarnation; the 4-tuple is
     * free (no listener here, so the SYN itself is refused). */
    tseg_send(t, t->now + 1000, .flags = SYN, .seq = P - 1000, .mss = 1460, .ts = true,
              .tsval = PTS + 20);
    assert_int_equal(TCTR(t, tcp_tw_reuse), 1);
    assert_null(tt_lookup(t));
    tseg_expect(t, .flags = RST | ACK, .ack = P - 999);
    tt_free(t);
}

/* Linux tcp_oow_rate_limited: a bare ACK failing PAWS (5 s older than
 * TS.Recent: no reordered ACK) is answered at most once per 500 ms; data
 * failing PAWS always is. */
static void test_paws_ack_rate_limited(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    open_active(t, (struct opts){.peer_ws = 0, .peer_ts = true}, NULL);
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = P, .ack = A, .len = 100, .ts = true,
              .tsval = PTS + 100);
    tt_at(t, t->now + 50 * US_MS);
    tseg_expect(t, .flags = ACK, .ack = P + 100);
    for (int i = 0; i < 3; i++)
        tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 100, .ack = A, .ts = true,
                  .tsval = PTS - 5000);
    tseg_expect(t, .flags = ACK, .ack = P + 100); /* the first only */
    tseg_expect_none(t);
    assert_int_equal(TCTR(t, tcp_drop_paws), 3);
    assert_int_equal(TCTR(t, tcp_oow_ack_limited), 2);
    /* Data failing PAWS is still answered at once. */
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = P + 100, .ack = A, .len = 10,
              .ts = true, .tsval = PTS - 5000);
    tseg_expect(t, .flags = ACK, .ack = P + 100);
    /* Half a second later a bare ACK is answered again. */
    tseg_send(t, t->now + 500 * US_MS, .flags = ACK, .seq = P + 100, .ack = A, .ts = true,
              .tsval = PTS - 5000);
    tseg_expect(t, .flags = ACK, .ack = P + 100);
    tseg_expect_none(t);
    /* A duplicate ACK overtaken in the network (TSval 50 ms behind, within
     * one RTO, nothing else new) is taken, not dropped (Linux
     * tcp_disordered_ack): its SACK blocks would matter. */
    uint64_t paws = TCTR(t, tcp_drop_paws);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 100, .ack = A, .ts = true,
              .tsval = PTS + 50);
    assert_int_equal(TCTR(t, tcp_drop_paws), paws);
    tseg_expect_none(t);
    tt_free(t);
}

/* Linux tcp_validate_incoming: a SYN failing PAWS gets the challenge ACK
 * (RFC 5961 §4.2) any SYN on a synchronized connection gets. */
static void test_paws_syn_challenged(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    int fd = open_active(t, (struct opts){.peer_ws = 0, .peer_ts = true}, NULL);
    tseg_send(t, t->now + 1000, .flags = SYN, .seq = P + 10, .ts = true, .tsval = PTS - 1000);
    tseg_expect(t, .flags = ACK, .ack = P);
    tseg_expect_none(t);
    assert_int_equal(TCTR(t, tcp_syn_challenge), 1);
    assert_int_equal(TCTR(t, tcp_challenge_acks), 1);
    assert_int_equal(TCTR(t, tcp_drop_paws), 0);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    tt_free(t);
}

static void test_paws_spares_rst(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    int fd = open_active(t, (struct opts){.peer_ws = 0, .peer_ts = true}, NULL);
    tseg_send(t, t->now + 1000, .flags = RST, .seq = P, .ts = true, .tsval = PTS - 1000);
    tseg_expect_none(t);
    assert_int_equal(TCTR(t, tcp_drop_paws), 0);
    assert_int_equal(tt_so_error(t, fd), ECONNRESET);
    tt_free(t);
}

/* §5.5: after 24 days idle TS.Recent is invalid: an older TSval passes. */
static void test_paws_24_days(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    int fd = open_active(t, (struct opts){.peer_ws = 0, .peer_ts = true}, NULL);
    uint64_t later = t->now + 25ull * 24 * 3600 * US_S;
    tseg_send(t, later, .flags = ACK | PSH, .seq = P, .ack = A, .len = 10, .ts = true,
              .tsval = PTS - 5);
    assert_int_equal(TCTR(t, tcp_drop_paws), 0);
    assert_int_equal(tt_tp(t, fd)->rcv_nxt, P + 10);
    assert_int_equal(tt_tp(t, fd)->ts_recent, PTS - 5);
    tt_read_pat(t, fd, P, 10);
    tb_drain(t->tb, 1);
    tt_free(t);
}

/* With autotuning the shift covers tcp_rmem_max (6 MiB: 7, as Linux
 * sizes it from tcp_rmem[2]), on our SYN and on our SYN,ACK, so the
 * window can follow the buffer as it grows; a socket whose SO_RCVBUF was
 * set keeps the shift of its buffer (it never grows), also when it
 * inherits the setting from its listener. */
static void test_ws_shift_covers_autotuning(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.tcp_congestion = "newreno";
    struct tt *t = tt_new_cfg(&cfg, 1500);
    t->isn = ISS;
    int fd = tt_connect_start(t, tt_socket(t));
    tseg_expect(t, .flags = SYN, .win = 65535, .wscale = 7);
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = 1460, .wscale = 0);
    tseg_expect(t, .flags = ACK, .ack = P, .win = 65535 >> 7); /* 511: Linux's "win 502" */
    assert_int_equal(tt_tp(t, fd)->rcv_wscale, 7);
    tt_free(t);

    /* Passive: the SYN,ACK offers 7 too. */
    t = tt_new_cfg(&cfg, 1500);
    tt_listen(t, 8);
    t->isn = ISS;
    tseg_send(t, t->now, .flags = SYN, .seq = PISS, .mss = 1460, .wscale = 0);
    tseg_expect(t, .flags = SYN | ACK, .wscale = 7, .win = 65535);
    tt_free(t);

    /* SO_RCVBUF set (any size): the buffer's own shift. */
    t = tt_new_cfg(&cfg, 1500);
    t->isn = ISS;
    int s = tt_socket(t);
    tt_setint(t, s, SOL_SOCKET, SO_RCVBUF, 65536); /* doubled: 131072, shift 2 */
    tt_connect_start(t, s);
    tseg_expect(t, .flags = SYN, .wscale = 2);
    tt_free(t);

    /* ... and a listener passes SO_RCVBUF on to its connections. */
    t = tt_new_cfg(&cfg, 1500);
    int l = tt_socket(t);
    tt_setint(t, l, SOL_SOCKET, SO_RCVBUF, 40000); /* 80000 bytes: shift 1 */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(TT_OUR_PORT)};
    assert_int_equal(ns_bind(tt_st(t), l, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(ns_listen(tt_st(t), l, 8), 0);
    t->isn = ISS;
    tseg_send(t, t->now, .flags = SYN, .seq = PISS, .mss = 1460, .wscale = 0);
    tseg_expect(t, .flags = SYN | ACK, .wscale = 1);
    tt_free(t);
}

/* ---- segment size ------------------------------------------------------------------ */

/* With timestamps every segment carries 12 option bytes: the data per
 * segment is the MSS less 12, so no segment exceeds the MSS (Linux). */
static void test_ts_data_is_mss_less_12(void **state)
{
    (void)state;
    struct tt *t = tt_new_fixed();
    int fd = open_active(t, (struct opts){.peer_ws = 7, .peer_ts = true}, NULL);
    assert_int_equal(tt_info(t, fd).tcpi_snd_mss, 1448);
    tseg_send(t, t->now, .flags = ACK, .seq = P, .ack = A, .win = 1000); /* 128000 bytes */
    tt_write(t, fd, A, 3000);
    tseg_expect(t, .seq = A, .len = 1448);
    assert_int_equal(t->th.hlen, 32);
    tseg_expect(t, .seq = A + 1448, .len = 1448);
    tseg_expect(t, .seq = A + 2896, .len = 104);
    tseg_expect_none(t);
    tt_free(t);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_negotiated_active),
        cmocka_unit_test(test_ws_negotiated_passive),
        cmocka_unit_test(test_ws_not_used_without_both),
        cmocka_unit_test(test_ws_shift_from_rcvbuf),
        cmocka_unit_test(test_ws_shift_covers_autotuning),
        cmocka_unit_test(test_ws_rounding_keeps_right_edge),
        cmocka_unit_test(test_ts_negotiated),
        cmocka_unit_test(test_ts_switched_off),
        cmocka_unit_test(test_tsval_monotonic_tsecr_echo),
        cmocka_unit_test(test_ts_recent_update_rule),
        cmocka_unit_test(test_rtt_from_tsecr),
        cmocka_unit_test(test_paws_drops_old_segment),
        cmocka_unit_test(test_paws_spares_rst),
        cmocka_unit_test(test_paws_syn_challenged),
        cmocka_unit_test(test_paws_ack_rate_limited),
        cmocka_unit_test(test_time_wait_reuse_by_timestamp),
        cmocka_unit_test(test_paws_24_days),
        cmocka_unit_test(test_ts_data_is_mss_less_12),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
