/* tests/unit/test_tcp_sack.c — SACK and the recovery built on it, one
 * segment at a time (tests/tcpseg.h).
 *
 * Receiver: RFC 2018 §4 blocks (most recent first, merged, 4 alone / 3
 * with timestamps, pruned as RCV.NXT advances), RFC 2883 D-SACK for
 * duplicates below RCV.NXT and inside a block. Sender: the scoreboard
 * and pipe (RFC 6675 §2-§4), RACK marking (RFC 8985 §6.2) immediately
 * with DupThresh SACKed segments and by the reordering timer otherwise
 * (§6.3), the tail loss probe (§7), PRR's pacing of recovery (RFC 6937),
 * reneging (RFC 2018 §8), the D-SACK undo (RFC 3708).
 *
 * Sender tests pin NewReno (tt_new) so ssthresh is FlightSize/2.
 */
#include "testutil.h"
#include "tcpseg.h"

#define ISS 1000u
#define A (ISS + 1)          /* our first data byte */
#define PISS 5000u
#define P (PISS + 1)         /* the peer's first data byte */
#define MSS 1460u
#define SEG(k) (A + (k) * MSS) /* start of our k-th segment, from 0 */

static uint64_t ctr(struct tt *t, enum ns_counter c) { return ns_stack_counter(tt_st(t), c); }

#define BLK(l, r) ((struct ns_tcp_sack_block){(l), (r)})

static void assert_block(struct tt *t, int i, uint32_t l, uint32_t r)
{
    if (t->th.sack[i].left != l || t->th.sack[i].right != r)
        fail_msg("block %d is [%u, %u), want [%u, %u)", i, t->th.sack[i].left,
                 t->th.sack[i].right, l, r);
}

/* The peer connects with SACK-permitted (and timestamps when ts). */
static int open_passive_sack(struct tt *t, bool ts)
{
    int lfd = tt_listen(t, 8);
    t->isn = ISS;
    tseg_send(t, t->now, .flags = SYN, .seq = PISS, .mss = MSS, .sack_ok = true, .ts = ts,
              .tsval = 100);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS, .ack = P);
    assert_true(t->th.sack_ok); /* RFC 2018 §2: answered because offered */
    tseg_send(t, t->now, .flags = ACK, .seq = P, .ack = A, .ts = ts, .tsval = 101,
              .tsecr = t->th.ts_val);
    tseg_expect_none(t);
    int fd = ns_accept(tt_st(t), lfd, NULL, NULL);
    assert_true(fd >= 0);
    ns_close(tt_st(t), lfd);
    assert_true(tcp_sack_on(tt_tp(t, fd)));
    t->fd = fd;
    return fd;
}

/* We connect; the peer's SYN,ACK permits SACK (no timestamps) and comes
 * back after 10 ms: SRTT starts at 10 ms. A 64 KiB send buffer. */
static int open_active_sack(struct tt *t)
{
    t->isn = ISS;
    int fd = tt_socket(t);
    tt_setint(t, fd, SOL_SOCKET, SO_SNDBUF, 32768); /* doubled, as Linux */
    tt_connect_start(t, fd);
    tseg_expect(t, .flags = SYN, .seq = ISS);
    assert_true(t->th.sack_ok);
    tseg_send(t, t->now + 10 * US_MS, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = MSS, .sack_ok = true);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P, .nsack = 0);
    tseg_expect_none(t);
    assert_true(tcp_sack_active(tt_tp(t, fd)));
    t->fd = fd;
    return fd;
}

/* ---- negotiation ---------------------------------------------------------------- */

static void test_sack_not_permitted_by_peer(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    t->isn = ISS;
    int fd = tt_connect_start(t, tt_socket(t));
    tseg_expect(t, .flags = SYN);
    assert_true(t->th.sack_ok);
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = MSS);
    tseg_expect(t, .flags = ACK);
    assert_false(tcp_sack_on(tt_tp(t, fd)));
    /* Out-of-order data: the duplicate ACK carries no blocks. */
    tseg_send(t, t->now, .flags = ACK, .seq = P + 100, .ack = A, .len = 100);
    tseg_expect(t, .flags = ACK, .ack = P, .nsack = 0);
    tt_free(t);
}

static void test_sack_switched_off(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.tcp_sack = false;
    struct tt *t = tt_new_cfg(&cfg, 1500);
    tt_listen(t, 8);
    t->isn = ISS;
    tseg_send(t, t->now, .flags = SYN, .seq = PISS, .mss = MSS, .sack_ok = true);
    tseg_expect(t, .flags = SYN | ACK);
    assert_false(t->th.sack_ok); /* never on a SYN,ACK we did not offer */
    tt_free(t);
}

/* ---- receiver: blocks ---------------------------------------------------------------- */

static void test_blocks_most_recent_first(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    open_passive_sack(t, false);
    tseg_send(t, t->now, .flags = ACK, .seq = P + 100, .ack = A, .len = 100);
    tseg_expect(t, .flags = ACK, .ack = P, .nsack = 1);
    assert_block(t, 0, P + 100, P + 200);
    tseg_send(t, t->now, .flags = ACK, .seq = P + 300, .ack = A, .len = 100);
    tseg_expect(t, .flags = ACK, .ack = P, .nsack = 2);
    assert_block(t, 0, P + 300, P + 400);
    assert_block(t, 1, P + 100, P + 200);
    /* The gap between them fills: one block, merged with its neighbours. */
    tseg_send(t, t->now, .flags = ACK, .seq = P + 200, .ack = A, .len = 100);
    tseg_expect(t, .flags = ACK, .ack = P, .nsack = 1);
    assert_block(t, 0, P + 100, P + 400);
    /* Four more islands: four blocks at most without timestamps, the
     * newest first; the oldest report is the one that falls off. */
    for (uint32_t k = 0; k < 4; k++) {
        tseg_send(t, t->now, .flags = ACK, .seq = P + 500 + 200 * k, .ack = A, .len = 100);
        tseg_expect(t, .flags = ACK, .ack = P, .nsack = k + 2 > 4 ? 4 : k + 2);
    }
    assert_block(t, 0, P + 1100, P + 1200);
    assert_block(t, 1, P + 900, P + 1000);
    assert_block(t, 2, P + 700, P + 800);
    assert_block(t, 3, P + 500, P + 600);
    /* The first hole fills: RCV.NXT jumps to P+400, the rest still held. */
    tseg_send(t, t->now, .flags = ACK, .seq = P, .ack = A, .len = 100);
    tseg_expect(t, .flags = ACK, .ack = P + 400, .nsack = 4);
    assert_block(t, 0, P + 1100, P + 1200);
    /* Everything: no blocks left. */
    for (uint32_t k = 0; k < 4; k++)
        tseg_send(t, t->now, .flags = ACK, .seq = P + 400 + 200 * k, .ack = A, .len = 100);
    for (uint32_t k = 0; k < 4; k++)
        tseg_expect(t, .flags = ACK, .ack = P + 600 + 200 * k, .nsack = 3 - k);
    tt_read_pat(t, t->fd, P, 1200);
    tt_free(t);
}

static void test_three_blocks_with_timestamps(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    open_passive_sack(t, true);
    for (uint32_t k = 0; k < 4; k++)
        tseg_send(t, t->now, .flags = ACK, .seq = P + 100 + 200 * k, .ack = A, .len = 100,
                  .ts = true, .tsval = 200 + k);
    for (uint32_t k = 0; k < 4; k++)
        tseg_expect(t, .flags = ACK, .ack = P, .nsack = k + 1 > 3 ? 3 : k + 1);
    assert_true(t->th.has_ts); /* 12 bytes of TS + 28 of three blocks = 40 */
    assert_block(t, 0, P + 700, P + 800);
    assert_block(t, 2, P + 300, P + 400);
    assert_int_equal(t->th.hlen, 60);
    tt_free(t);
}

static void test_dsack_below_ack(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    open_passive_sack(t, false);
    tseg_send(t, t->now, .flags = ACK | PSH, .seq = P, .ack = A, .len = 100);
    tt_at(t, t->now + 50 * US_MS);
    tseg_expect(t, .flags = ACK, .ack = P + 100, .nsack = 0); /* the delayed ACK */
    uint64_t tx = ctr(t, NS_CTR_tcp_dsack_tx);
    /* The peer never saw it and sends the segment again. */
    tseg_send(t, t->now, .flags = ACK | PSH, .seq = P, .ack = A, .len = 100);
    tseg_expect(t, .flags = ACK, .ack = P + 100, .nsack = 1);
    assert_block(t, 0, P, P + 100); /* RFC 2883 §4.1.1: below the ACK */
    assert_int_equal(ctr(t, NS_CTR_tcp_dsack_tx), tx + 1);
    /* Reported once only. */
    tseg_send(t, t->now, .flags = ACK | PSH, .seq = P + 100, .ack = A, .len = 100);
    tt_at(t, t->now + 50 * US_MS);
    tseg_expect(t, .flags = ACK, .ack = P + 200, .nsack = 0);
    tt_free(t);
}

static void test_dsack_inside_block(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    open_passive_sack(t, false);
    tseg_send(t, t->now, .flags = ACK, .seq = P + 200, .ack = A, .len = 200);
    tseg_expect(t, .flags = ACK, .ack = P, .nsack = 1);
    tseg_send(t, t->now, .flags = ACK, .seq = P + 250, .ack = A, .len = 100);
    tseg_expect(t, .flags = ACK, .ack = P, .nsack = 2);
    /* RFC 2883 §4.1.3: the duplicate first, the block holding it next. */
    assert_block(t, 0, P + 250, P + 350);
    assert_block(t, 1, P + 200, P + 400);
    tt_free(t);
}

/* ---- sender: scoreboard, RACK, PRR ------------------------------------------------------ */

/* Write n full segments and take them from the wire (IW10 allows 10). */
static void send_segs(struct tt *t, uint32_t first, uint32_t n)
{
    tt_write(t, t->fd, SEG(first), n * MSS);
    for (uint32_t k = 0; k < n; k++)
        tseg_expect(t, .flags = TANY, .seq = SEG(first + k), .len = MSS, .pat = true);
    tseg_expect_none(t);
}

static void test_sack_three_segments_mark_hole_lost(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    open_active_sack(t);
    struct tcpcb *tp = tt_tp(t, t->fd);
    send_segs(t, 0, 10);
    tt_at(t, t->now + 10 * US_MS);
    /* Segments 1..3 arrived, 0 did not: three SACKed segments is
     * DupThresh, and with no reordering seen RACK marks 0 lost at once
     * (RFC 8985 §6.2 step 4: reo_wnd = 0). */
    tseg_send(t, t->now, .flags = ACK, .seq = P, .ack = A, .nsack = 1,
              .sack = {BLK(SEG(1), SEG(4))});
    assert_int_equal(tp->sacked_bytes, 3 * MSS);
    assert_int_equal(ctr(t, NS_CTR_tcp_sack_recoveries), 1);
    assert_int_equal(ctr(t, NS_CTR_tcp_rack_lost), 1);
    tseg_expect(t, .flags = ACK, .seq = SEG(0), .len = MSS, .pat = true);
    tseg_expect_none(t);
    /* RFC 6675 pipe: 10 out, 3 SACKed, 1 lost and resent. */
    assert_int_equal(tcp_pipe(tp), 7 * MSS);
    assert_int_equal(tp->ssthresh, 5 * MSS); /* FlightSize / 2 */
    /* Everything arrives: recovery ends, the scoreboard empties. */
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = SEG(10));
    assert_false(tp->flags & TF_FASTRECOVERY);
    assert_int_equal(tp->sm.n, 0);
    assert_int_equal(tcp_pipe(tp), 0);
    assert_int_equal(ctr(t, NS_CTR_tcp_retrans_segs), 1);
    tt_free(t);
}

/* RFC 8985 §6.2 step 3: RACK.fack starts at the connection's first
 * sequence number, not 0. With an ISN at or above 2^31, a fack of 0 lies
 * "above" every segment in modular arithmetic, so the first SACK looked
 * like reordering and every fast retransmit waited min_RTT/4. */
static void test_rack_fack_from_iss_above_2_31(void **state)
{
    (void)state;
    static const uint32_t isns[] = {0x80000000u, 0xfffff000u, 0x7ffffff0u};
    for (size_t k = 0; k < sizeof(isns) / sizeof(isns[0]); k++) {
        struct tt *t = tt_new();
        uint32_t iss = isns[k], a = iss + 1;
        t->isn = iss;
        int fd = tt_socket(t);
        tt_setint(t, fd, SOL_SOCKET, SO_SNDBUF, 32768);
        tt_connect_start(t, fd);
        tseg_expect(t, .flags = SYN, .seq = iss);
        tseg_send(t, t->now + 10 * US_MS, .flags = SYN | ACK, .seq = PISS, .ack = a, .mss = MSS,
                  .sack_ok = true);
        tseg_expect(t, .flags = ACK, .seq = a, .ack = P);
        t->fd = fd;
        struct tcpcb *tp = tt_tp(t, fd);
        tt_write(t, fd, a, 10 * MSS);
        for (uint32_t i = 0; i < 10; i++)
            tseg_expect(t, .seq = a + i * MSS, .len = MSS);
        tseg_expect_none(t);
        /* Segments 1..3 SACKed, 0 missing: DupThresh, no reordering seen,
         * so the retransmission of 0 leaves with this very ACK. */
        tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = a, .nsack = 1,
                  .sack = {BLK(a + MSS, a + 4 * MSS)});
        if (tp->rack_reord)
            fail_msg("ISN %#x: reordering seen on the first SACK", iss);
        tseg_expect(t, .flags = ACK, .seq = a, .len = MSS, .pat = true);
        assert_int_equal(ctr(t, NS_CTR_tcp_reordering_seen), 0);
        assert_int_equal(ctr(t, NS_CTR_tcp_rack_lost), 1);
        /* A later SACK below the highest one is reordering, still seen. */
        tseg_send(t, t->now + 100, .flags = ACK, .seq = P, .ack = a, .nsack = 2,
                  .sack = {BLK(a + 6 * MSS, a + 7 * MSS), BLK(a + MSS, a + 4 * MSS)});
        tseg_send(t, t->now + 100, .flags = ACK, .seq = P, .ack = a, .nsack = 2,
                  .sack = {BLK(a + 5 * MSS, a + 7 * MSS), BLK(a + MSS, a + 4 * MSS)});
        assert_true(tp->rack_reord);
        tb_drain(t->tb, 1);
        tt_free(t);
    }
}

static void test_rack_reordering_timer(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    open_active_sack(t);
    send_segs(t, 0, 1);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = SEG(1));
    uint64_t t0 = t->now;
    send_segs(t, 1, 5);
    /* One segment SACKed 10 ms later: below DupThresh, so segment 1 is
     * lost only RACK.rtt + min_RTT/4 after it was sent (RFC 8985 §6.2
     * step 5): 10 ms + 2.5 ms. */
    tseg_send(t, t0 + 10 * US_MS, .flags = ACK, .seq = P, .ack = SEG(1), .nsack = 1,
              .sack = {BLK(SEG(2), SEG(3))});
    tseg_expect_none(t);
    assert_int_equal(tt_next_tx(t, t0 + 100 * US_MS), t0 + 12500);
    tseg_expect(t, .flags = ACK, .seq = SEG(1), .len = MSS, .pat = true);
    assert_int_equal(ctr(t, NS_CTR_tcp_rack_lost), 1);
    tt_free(t);
}

static void test_tlp_resends_last_segment(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    open_active_sack(t);
    struct tcpcb *tp = tt_tp(t, t->fd);
    send_segs(t, 0, 1);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = SEG(1));
    uint64_t t0 = t->now;
    uint32_t cwnd = tp->cwnd;
    send_segs(t, 1, 2);
    /* Silence: after PTO = 2 * SRTT = 20 ms the last segment goes again
     * (RFC 8985 §7.2-7.3), long before the 200 ms RTO. */
    assert_int_equal(tt_next_tx(t, t0 + US_S), t0 + 20 * US_MS);
    tseg_expect(t, .flags = TANY, .seq = SEG(2), .len = MSS);
    tseg_expect_none(t);
    assert_int_equal(ctr(t, NS_CTR_tcp_tlp_probes), 1);
    assert_true(tp->flags & TF_TLP);
    /* Both copies arrived: the peer D-SACKs the probe. No loss: cwnd kept. */
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = SEG(3), .nsack = 1,
              .sack = {BLK(SEG(2), SEG(3))});
    assert_false(tp->flags & TF_TLP);
    assert_int_equal(ctr(t, NS_CTR_tcp_tlp_recoveries), 0);
    assert_true(tp->cwnd >= cwnd);
    tt_free(t);
}

/* SRTT 10 ms, two segments out and unanswered: the tail loss probe
 * (segment 2 again) has just gone out. */
static struct tcpcb *tlp_probe_sent(struct tt *t)
{
    open_active_sack(t);
    send_segs(t, 0, 1);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = SEG(1));
    send_segs(t, 1, 2);
    tt_next_tx(t, t->now + US_S);
    tseg_expect(t, .seq = SEG(2), .len = MSS); /* the probe */
    return tt_tp(t, t->fd);
}

static void test_tlp_repairs_loss_and_reduces_cwnd(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct tcpcb *tp = tlp_probe_sent(t);
    /* The original of segment 2 was lost, the probe repaired it: ACK of
     * everything, then new data acknowledged past the probe (§7.4.2). */
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = SEG(3));
    assert_true(tp->flags & TF_TLP); /* a D-SACK could still come */
    send_segs(t, 3, 1);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = SEG(4));
    assert_false(tp->flags & TF_TLP);
    assert_int_equal(ctr(t, NS_CTR_tcp_tlp_recoveries), 1);
    assert_int_equal(tp->cwnd, tp->ssthresh);
    tt_free(t);
}

static void test_tlp_duplicate_ack_means_no_loss(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct tcpcb *tp = tlp_probe_sent(t);
    uint32_t cwnd = tp->cwnd;
    /* Everything acknowledged, then a pure duplicate ACK (the probe's own,
     * from a receiver that sends no D-SACK): both copies arrived. */
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = SEG(3));
    assert_true(tp->flags & TF_TLP);
    tseg_send(t, t->now + 100, .flags = ACK, .seq = P, .ack = SEG(3));
    assert_false(tp->flags & TF_TLP);
    assert_int_equal(ctr(t, NS_CTR_tcp_tlp_recoveries), 0);
    assert_true(tp->cwnd >= cwnd);
    tt_free(t);
}

/* ACKs that deliver nothing (here: window updates every 40 ms, as
 * answers to keepalives would be) must not push the probe back: it fires
 * PTO after the last delivery — 2 * SRTT + 200 ms for one segment out,
 * capped by the 200 ms RTO (RFC 8985 §7.2).
 * (Re-arming on every ACK starved the FIN of a keepalive connection for
 * 900 s in simulation seed 1504.) */
static void test_tlp_not_postponed_by_empty_acks(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    open_active_sack(t);
    send_segs(t, 0, 1);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = SEG(1));
    uint64_t t0 = t->now;
    send_segs(t, 1, 1);
    for (uint32_t k = 1; k <= 4; k++) {
        tseg_send(t, t0 + k * 40 * US_MS, .flags = ACK, .seq = P, .ack = SEG(1),
                  .win = (uint16_t)(60000 + k));
        if (tt_pending(t))
            fail_msg("sent at k=%u, %llu us after t0", k, (unsigned long long)(t->now - t0));
    }
    assert_int_equal(tt_next_tx(t, t0 + US_S), t0 + 200 * US_MS);
    tseg_expect(t, .flags = TANY, .seq = SEG(1), .len = MSS);
    assert_int_equal(ctr(t, NS_CTR_tcp_tlp_probes), 1);
    tt_free(t);
}

static void test_prr_paces_recovery(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    open_active_sack(t);
    struct tcpcb *tp = tt_tp(t, t->fd);
    send_segs(t, 0, 10);
    tt_write(t, t->fd, SEG(10), 10 * MSS); /* more data waiting */
    tseg_expect_none(t);
    /* Segment 0 lost; 1..9 arrive one by one. */
    uint32_t sent = 0;
    for (uint32_t k = 1; k <= 9; k++) {
        tseg_send(t, t->now + 100, .flags = ACK, .seq = P, .ack = A, .nsack = 1,
                  .sack = {BLK(SEG(1), SEG(k + 1))});
        while (tt_pending(t)) {
            tseg_expect(t, .flags = ACK);
            sent++;
        }
    }
    /* RFC 6937: over the recovery PRR sends about ssthresh/RecoverFS = 1/2
     * of what was delivered (9 segments), the retransmission included;
     * NewReno's inflation or an unbounded window would send 9 or more. */
    assert_true(tp->flags & TF_FASTRECOVERY);
    if (sent < 4 || sent > 6)
        fail_msg("PRR sent %u segments for 9 delivered", sent);
    assert_true(tcp_pipe(tp) <= tp->ssthresh + MSS);
    /* Recovery ends with cwnd = ssthresh (RFC 6937 §3). */
    tseg_send(t, t->now + 100, .flags = ACK, .seq = P, .ack = tp->snd_max);
    assert_false(tp->flags & TF_FASTRECOVERY);
    assert_true(tp->cwnd <= tp->ssthresh);
    tt_free(t);
}

static void test_reneging_resends_sacked_data(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    open_active_sack(t);
    struct tcpcb *tp = tt_tp(t, t->fd);
    send_segs(t, 0, 4);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A, .nsack = 1,
              .sack = {BLK(SEG(2), SEG(4))});
    assert_int_equal(tp->sacked_bytes, 2 * MSS);
    /* Segments 0 and 1 are acknowledged but not 2, which was SACKed: the
     * receiver threw it away (RFC 2018 §8). It must be sent again. */
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = SEG(2));
    assert_int_equal(ctr(t, NS_CTR_tcp_sack_reneging), 1);
    assert_int_equal(tp->sacked_bytes, 0);
    if (!tt_pending(t))
        assert_true(tt_next_tx(t, t->now + US_S));
    tseg_expect(t, .flags = ACK, .seq = SEG(2), .len = MSS, .pat = true);
    tt_free(t);
}

static void test_dsack_undoes_spurious_recovery(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    open_active_sack(t);
    struct tcpcb *tp = tt_tp(t, t->fd);
    send_segs(t, 0, 10);
    uint32_t cwnd = tp->cwnd;
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A, .nsack = 1,
              .sack = {BLK(SEG(1), SEG(4))});
    tseg_expect(t, .seq = SEG(0), .len = MSS); /* resent */
    assert_true(tp->cwnd < cwnd);
    /* Segment 0 was only late: everything is acknowledged, then the
     * retransmission comes back as a duplicate (RFC 3708 §3). */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = SEG(10));
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = SEG(10), .nsack = 1,
              .sack = {BLK(SEG(0), SEG(1))});
    assert_int_equal(ctr(t, NS_CTR_tcp_dsack_rx), 1);
    assert_int_equal(ctr(t, NS_CTR_tcp_spurious_undo), 1);
    assert_true(tp->cwnd >= cwnd);
    tt_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sack_not_permitted_by_peer),
        cmocka_unit_test(test_sack_switched_off),
        cmocka_unit_test(test_blocks_most_recent_first),
        cmocka_unit_test(test_three_blocks_with_timestamps),
        cmocka_unit_test(test_dsack_below_ack),
        cmocka_unit_test(test_dsack_inside_block),
        cmocka_unit_test(test_sack_three_segments_mark_hole_lost),
        cmocka_unit_test(test_rack_fack_from_iss_above_2_31),
        cmocka_unit_test(test_rack_reordering_timer),
        cmocka_unit_test(test_tlp_resends_last_segment),
        cmocka_unit_test(test_tlp_repairs_loss_and_reduces_cwnd),
        cmocka_unit_test(test_tlp_duplicate_ack_means_no_loss),
        cmocka_unit_test(test_tlp_not_postponed_by_empty_acks),
        cmocka_unit_test(test_prr_paces_recovery),
        cmocka_unit_test(test_reneging_resends_sacked_data),
        cmocka_unit_test(test_dsack_undoes_spurious_recovery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
