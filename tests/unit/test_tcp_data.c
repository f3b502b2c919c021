/* tests/unit/test_tcp_data.c — TCP data transfer in the protocol's terms
 * (tests/tcpseg.h): delivery, reassembly and trimming (RFC 9293 §3.10.7.4
 * "seventh"), windows and SWS avoidance (RFC 9293 §3.8.6, RFC 1122
 * §4.2.3.3-4), PSH and URG (RFC 9293 §3.9.1, RFC 6093), MSS (RFC 9293
 * §3.7.1, RFC 1191), Nagle (RFC 896), delayed ACKs (RFC 1122 §4.2.3.2,
 * RFC 5681 §4.2) and sequence-number wraparound (RFC 9293 §3.4).
 */
#include "tcpseg.h"

#define ISS 1000u
#define PISS 5000u
#define A (ISS + 1)   /* our first data byte */
#define P (PISS + 1)  /* the peer's first data byte */

/* An established connection we opened; window 65535 and MSS 1460 both ways. */
static struct tt *estab(int *fd)
{
    struct tt *t = tt_new();
    *fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    return t;
}

/* ---- receiving ------------------------------------------------------------------------ */

static void test_in_order_delivery(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    uint64_t t0 = t->now + 1000;
    tseg_send(t, t0, .flags = ACK, .seq = P, .ack = A, .len = 100);
    tseg_send(t, t0 + 1000, .flags = ACK, .seq = P + 100, .ack = A, .len = 100);
    tseg_send(t, t0 + 2000, .flags = ACK | PSH, .seq = P + 200, .ack = A, .len = 100);
    /* Small segments: one delayed ACK, 40 ms after the first. */
    tseg_expect_none(t);
    assert_int_equal(tt_next_tx(t, t0 + US_S), t0 + 40 * US_MS);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P + 300, .len = 0);
    tseg_expect_none(t);
    tt_read_pat(t, fd, P, 300);
    tt_read_none(t, fd);
    tt_free(t);
}

static void test_out_of_order_reassembly(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A, .len = 100);
    tb_drain(t->tb, 1);
    tt_at(t, t->now + 50 * US_MS); /* let any delayed ACK go */
    tb_drain(t->tb, 1);
    /* A hole at P+100: out-of-order data gets an immediate duplicate ACK
     * (RFC 5681 §4.2) and is not readable. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 300, .ack = A, .len = 100);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P + 100, .len = 0);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 200, .ack = A, .len = 100);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P + 100, .len = 0);
    tseg_expect_none(t);
    tt_read_pat(t, fd, P, 100);
    tt_read_none(t, fd);
    /* The hole fills: everything is delivered, ACKed at once. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 100, .ack = A, .len = 100);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P + 400, .len = 0);
    tseg_expect_none(t);
    tt_read_pat(t, fd, P + 100, 300);
    assert_int_equal(TCTR(t, tcp_ooo_segs), 2);
    tt_free(t);
}

static void test_duplicate_and_overlap_trimmed(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A, .len = 100);
    /* Overlapping the delivered data: only the new half is taken. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 50, .ack = A, .len = 100);
    /* A pure duplicate: re-ACKed at once (the peer missed our ACK). */
    tb_drain(t->tb, 1);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A, .len = 150);
    tseg_expect(t, .flags = ACK, .ack = P + 150);
    /* Out-of-order pieces that overlap each other. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 300, .ack = A, .len = 100);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 250, .ack = A, .len = 100);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 260, .ack = A, .len = 20);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 380, .ack = A, .len = 70);
    tb_drain(t->tb, 1);
    assert_int_equal(TCTR(t, tcp_ooo_merge), 1); /* P+260: already queued */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 140, .ack = A, .len = 120);
    tseg_expect(t, .flags = ACK, .ack = P + 450);
    /* The application sees every byte once, in order. */
    tt_read_pat(t, fd, P, 450);
    tt_read_none(t, fd);
    tt_free(t);
}

/* Out-of-order segments dropped because queued data already holds all
 * they carry — and queued segments a new one covers, which it replaces —
 * are counted (tcp_ooo_merge, Linux TCPOFOMerge); partial overlaps are
 * trimmed and kept. Every byte still arrives once. */
static void test_ooo_overlap_counted(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 100, .ack = A, .len = 100);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 120, .ack = A, .len = 30);
    assert_int_equal(TCTR(t, tcp_ooo_merge), 1);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 100, .ack = A, .len = 100);
    assert_int_equal(TCTR(t, tcp_ooo_merge), 2);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 300, .ack = A, .len = 50);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 400, .ack = A, .len = 50);
    uint64_t queued = TCTR(t, tcp_ooo_segs);
    /* [250, 500) covers both: they go, it is queued. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 250, .ack = A, .len = 250);
    assert_int_equal(TCTR(t, tcp_ooo_merge), 4);
    assert_int_equal(TCTR(t, tcp_ooo_segs), queued + 1);
    /* A partial overlap is trimmed and kept: not counted. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 450, .ack = A, .len = 100);
    assert_int_equal(TCTR(t, tcp_ooo_merge), 4);
    assert_int_equal(TCTR(t, tcp_ooo_segs), queued + 2);
    /* A FIN after the data, then the same FIN again: the copy is dropped. */
    tseg_send(t, t->now + 1000, .flags = ACK | FIN, .seq = P + 550, .ack = A);
    tseg_send(t, t->now + 1000, .flags = ACK | FIN, .seq = P + 550, .ack = A);
    assert_int_equal(TCTR(t, tcp_ooo_merge), 5);
    tb_drain(t->tb, 1);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A, .len = 100);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 200, .ack = A, .len = 50);
    tseg_expect(t, .flags = ACK, .ack = P + 200);
    tseg_expect(t, .flags = ACK, .ack = P + 551);
    tt_read_pat(t, fd, P, 550);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSE_WAIT);
    tt_free(t);
}

/* A connection whose receive buffer (and so window) is 4096 bytes. */
static struct tt *estab_small_rcvbuf(int *fd)
{
    struct tt *t = tt_new();
    t->isn = ISS;
    int s = tt_socket(t);
    tt_setint(t, s, SOL_SOCKET, SO_RCVBUF, 2048); /* doubled: 4096 */
    tt_connect_start(t, s);
    tseg_expect(t, .flags = SYN, .seq = ISS, .win = 4096);
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = 1460);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P, .win = 4096);
    *fd = s;
    return t;
}

static void test_data_beyond_window_trimmed(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab_small_rcvbuf(&fd);
    /* 4596 bytes into a 4096-byte window: the last 500 are cut. */
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = P, .ack = A, .len = 4596);
    tt_at(t, t->now + 50 * US_MS);
    tseg_expect(t, .flags = ACK, .ack = P + 4096, .win = 0);
    tseg_expect_none(t);
    assert_int_equal(TCTR(t, tcp_rcvbuf_trim), 500);
    tt_read_pat(t, fd, P, 4096);
    tt_free(t);
}

static void test_zero_window_and_update(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab_small_rcvbuf(&fd);
    uint32_t edge = P + 4096; /* right edge of the window offered so far */
    uint32_t seq = P;
    const uint32_t lens[] = {1460, 1460, 1176};
    for (int i = 0; i < 3; i++) {
        tseg_send(t, t->now + 1000, .flags = ACK, .seq = seq, .ack = A, .len = lens[i]);
        seq += lens[i];
        tt_at(t, t->now + 50 * US_MS);
        while (tt_pending(t)) {
            const struct ns_tcp_repr *th = tseg_expect(t, .flags = ACK);
            /* RFC 9293 §3.8.6.2.2: the right edge never moves left. */
            assert_true(SEQ_GEQ(th->ack + th->win, edge));
            edge = th->ack + th->win;
        }
    }
    assert_int_equal(tt_tp(t, fd)->rcv_nxt, P + 4096);
    assert_int_equal(edge, P + 4096); /* the last ACK said window 0 */
    /* A window probe with one byte: not accepted, answered with an ACK
     * of the zero window (RFC 9293 §3.8.6.1, §3.10.7.4). */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 4096, .ack = A, .len = 1);
    tseg_expect(t, .flags = ACK, .ack = P + 4096, .win = 0);
    tseg_expect_none(t);
    /* Reading 100 bytes: no update yet (receiver SWS, RFC 1122 §4.2.3.3). */
    tt_read_part(t, fd, P, 100);
    tseg_expect_none(t);
    /* 2100 free >= min(2 MSS, half the buffer) = 2048: a window update. */
    tt_read_part(t, fd, P + 100, 2000);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P + 4096, .win = 2100);
    tseg_expect_none(t);
    /* Data up to the new edge is taken, beyond it is not. */
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = P + 4096, .ack = A, .len = 2200);
    tt_at(t, t->now + 50 * US_MS);
    tseg_expect(t, .flags = ACK, .ack = P + 4096 + 2100, .win = 0);
    tt_read_pat(t, fd, P + 2100, 4096);
    tt_free(t);
}

/* After a read, a window update goes out only when the window can at
 * least double what is still offered (Linux tcp_cleanup_rbuf), not as
 * soon as it grew by 2 MSS: 8192-byte buffer, 4380 bytes received and
 * unread leave 3812 offered; reads of 1000 and 2000 bytes (window 4812,
 * 6812 < 2 x 3812) send nothing, the last 1380 (8192) the update. */
static void test_window_update_doubles(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    t->isn = ISS;
    int fd = tt_socket(t);
    tt_setint(t, fd, SOL_SOCKET, SO_RCVBUF, 4096); /* doubled: 8192 */
    tt_connect_start(t, fd);
    tseg_expect(t, .flags = SYN, .seq = ISS, .win = 8192);
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = 1460);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P, .win = 8192);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A, .len = 1460);
    tseg_send(t, t->now, .flags = ACK, .seq = P + 1460, .ack = A, .len = 1460);
    tseg_expect(t, .flags = ACK, .ack = P + 2920, .win = 8192 - 2920);
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = P + 2920, .ack = A, .len = 1460);
    tt_at(t, t->now + 50 * US_MS); /* the delayed ACK */
    tseg_expect(t, .flags = ACK, .ack = P + 4380, .win = 8192 - 4380);
    tseg_expect_none(t);
    tt_read_part(t, fd, P, 1000);
    tseg_expect_none(t);
    tt_read_part(t, fd, P + 1000, 2000);
    tseg_expect_none(t); /* 6812 < 7624: no update (it grew by more than 2 MSS) */
    tt_read_part(t, fd, P + 3000, 1380);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P + 4380, .win = 8192);
    tseg_expect_none(t);
    tt_free(t);
}

static void test_fin_with_data(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    struct ns_stack *st = tt_st(t);
    tseg_send(t, t->now + 1000, .flags = ACK | PSH | FIN, .seq = P, .ack = A, .len = 200);
    /* The FIN is acknowledged at once, after the data. */
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P + 201, .len = 0);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSE_WAIT);
    tt_read_part(t, fd, P, 200);
    char b[8];
    assert_int_equal(ns_recv(st, fd, b, sizeof(b), 0), 0);
    /* Data after the FIN ("should not occur"): ignored. */
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = P + 201, .ack = A, .len = 50);
    assert_int_equal(tt_tp(t, fd)->rcv_nxt, P + 201);
    assert_int_equal(ns_recv(st, fd, b, sizeof(b), 0), 0);
    tb_drain(t->tb, 1);
    tt_free(t);
}

static void test_out_of_order_fin(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    struct ns_stack *st = tt_st(t);
    /* Data and FIN past a hole wait for it. */
    tseg_send(t, t->now + 1000, .flags = ACK | FIN, .seq = P + 100, .ack = A, .len = 100);
    tseg_expect(t, .flags = ACK, .ack = P);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A, .len = 100);
    tseg_expect(t, .flags = ACK, .ack = P + 201);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSE_WAIT);
    tt_read_part(t, fd, P, 200);
    char b[8];
    assert_int_equal(ns_recv(st, fd, b, sizeof(b), 0), 0);
    tt_free(t);
}

/* Read one byte with MSG_OOB: the urgent byte, or the errno. */
static int recv_oob(struct tt *t, int fd, int flags)
{
    uint8_t b = 0;
    ssize_t r = ns_recv(tt_st(t), fd, &b, 1, MSG_OOB | flags);
    return r == 1 ? b : -errno;
}

/* RFC 9293 §3.8.5 with RFC 6093 §3 (as Linux tcp_check_urg/tcp_urg):
 * the urgent pointer points one past the urgent byte; that byte is kept
 * out of the stream and read with MSG_OOB; a later pointer replaces an
 * earlier one, an older or repeated one is ignored. */
static void test_urgent_receive(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    struct ns_stack *st = tt_st(t);
    /* urp 3 at P: the urgent byte is P + 2. */
    tseg_send(t, t->now + 1000, .flags = ACK | PSH | URG, .seq = P, .ack = A, .len = 10, .urp = 3);
    struct tcpcb *tp = tt_tp(t, fd);
    assert_int_equal(tp->urg_state, TCP_URG_VALID);
    assert_int_equal(tp->urg_seq, P + 2);
    struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLPRI};
    assert_int_equal(ns_poll(st, &pfd, 1, 0), 1);
    assert_int_equal(pfd.revents, POLLIN | POLLPRI);
    /* Reads stop at the mark and step over the byte. */
    tt_read_pat(t, fd, P, 2);
    assert_int_equal(recv_oob(t, fd, MSG_PEEK), tt_pat(P + 2));
    assert_int_equal(recv_oob(t, fd, 0), tt_pat(P + 2));
    assert_int_equal(recv_oob(t, fd, 0), -EINVAL);
    tt_read_pat(t, fd, P + 3, 7);
    /* The urgent byte not yet here (urp beyond the segment): no PRI
     * until the segment that carries it arrives, out of order too. */
    tseg_send(t, t->now + 1000, .flags = ACK | URG, .seq = P + 10, .ack = A, .len = 5, .urp = 9);
    assert_int_equal(tp->urg_state, TCP_URG_NOTYET);
    assert_int_equal(tp->urg_seq, P + 18);
    assert_int_equal(recv_oob(t, fd, 0), -EAGAIN);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 16, .ack = A, .len = 4);
    assert_int_equal(tp->urg_state, TCP_URG_VALID);
    assert_int_equal(tp->urg_byte, tt_pat(P + 18));
    /* An older pointer changes nothing. */
    tseg_send(t, t->now + 1000, .flags = ACK | URG, .seq = P + 15, .ack = A, .len = 1, .urp = 1);
    assert_int_equal(tp->urg_seq, P + 18);
    tt_read_pat(t, fd, P + 10, 8); /* the gap filled: up to the mark */
    /* Reading on without MSG_OOB steps over the byte: it is lost. */
    tt_read_pat(t, fd, P + 19, 1);
    assert_int_equal(tp->urg_state, TCP_URG_NONE);
    assert_int_equal(recv_oob(t, fd, 0), -EINVAL);
    tb_drain(t->tb, 1);
    tt_free(t);
}

/* SO_OOBINLINE: the urgent byte stays in the stream (RFC 6093 §4's
 * advice), POLLPRI until it is read, reads still stop before it. */
static void test_urgent_inline(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    tt_setint(t, fd, SOL_SOCKET, SO_OOBINLINE, 1);
    tseg_send(t, t->now + 1000, .flags = ACK | PSH | URG, .seq = P, .ack = A, .len = 10, .urp = 3);
    assert_int_equal(recv_oob(t, fd, 0), -EINVAL);
    tt_read_pat(t, fd, P, 2);
    struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLPRI};
    assert_int_equal(ns_poll(tt_st(t), &pfd, 1, 0), 1);
    assert_int_equal(pfd.revents, POLLIN | POLLPRI);
    tt_read_pat(t, fd, P + 2, 8);
    assert_int_equal(tt_tp(t, fd)->urg_state, TCP_URG_NONE);
    tb_drain(t->tb, 1);
    tt_free(t);
}

/* send(MSG_OOB) as Linux tcp_mark_urg and __tcp_transmit_skb: the last
 * byte written is urgent; segments starting below SND.UP carry URG with
 * the pointer one past that byte, whatever Nagle would hold; once it is
 * acknowledged, urgent mode ends. */
static void test_urgent_send(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    uint8_t b[3000];
    for (uint32_t i = 0; i < sizeof(b); i++)
        b[i] = tt_pat(A + i);
    assert_int_equal(ns_send(tt_st(t), fd, b, sizeof(b), MSG_OOB), (ssize_t)sizeof(b));
    /* The pointer is counted from each segment's own first byte. */
    tseg_expect(t, .flags = ACK | URG, .seq = A, .len = 1460, .urp = 3000, .pat = true);
    tseg_expect(t, .flags = ACK | URG, .seq = A + 1460, .len = 1460, .urp = 1540, .pat = true);
    tseg_expect(t, .flags = ACK | PSH | URG, .seq = A + 2920, .len = 80, .urp = 80, .pat = true);
    tseg_expect_none(t);
    /* A small write with a small segment outstanding: Nagle would hold
     * it, urgent mode sends it (past SND.UP: no URG). */
    tt_write(t, fd, A + 3000, 10);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 3000, .len = 10, .urp = 0, .pat = true);
    tseg_expect_none(t);
    struct tcpcb *tp = tt_tp(t, fd);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A + 2920);
    assert_true(tp->urg_mode);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A + 3010);
    assert_false(tp->urg_mode);
    /* Urgent mode over, Nagle is back: with 10 bytes unacknowledged a
     * small write waits. */
    tt_write(t, fd, A + 3010, 10);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 3010, .len = 10, .urp = 0, .pat = true);
    tt_write(t, fd, A + 3020, 10);
    tseg_expect_none(t);
    tt_free(t);
}

/* ---- sending -------------------------------------------------------------------------- */

static void test_psh_on_last_segment(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    tt_write(t, fd, A, 3000);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P, .len = 1460, .pat = true);
    tseg_expect(t, .flags = ACK, .seq = A + 1460, .len = 1460, .pat = true);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 2920, .len = 80, .pat = true);
    tseg_expect_none(t);
    tt_free(t);
}

static void test_mss_option_from_route_mtu(void **state)
{
    (void)state;
    struct tt *t = tt_new_cfg(NULL, 1000);
    t->isn = ISS;
    int fd = tt_connect_start(t, tt_socket(t));
    /* RFC 9293 §3.7.1: MSS = MTU - 40. */
    tseg_expect(t, .flags = SYN, .seq = ISS, .mss = 960);
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = 1460);
    tseg_expect(t, .flags = ACK);
    /* Segments never exceed min(peer MSS, ours). */
    tt_write(t, fd, A, 2000);
    tseg_expect(t, .flags = ACK, .seq = A, .len = 960, .pat = true);
    tseg_expect(t, .flags = ACK, .seq = A + 960, .len = 960, .pat = true);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 1920, .len = 80, .pat = true);
    tseg_expect_none(t);
    tt_free(t);
}

static void test_mss_default_536(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = tt_open_active(t, ISS, PISS, 65535, 0); /* no MSS option */
    assert_int_equal(tt_info(t, fd).tcpi_snd_mss, TCP_MSS_NOOPT);
    tt_write(t, fd, A, 1200);
    tseg_expect(t, .flags = ACK, .seq = A, .len = 536, .pat = true);
    tseg_expect(t, .flags = ACK, .seq = A + 536, .len = 536, .pat = true);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 1072, .len = 128, .pat = true);
    tseg_expect_none(t);
    tt_free(t);
}

static void test_tcp_maxseg(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    t->isn = ISS;
    int fd = tt_socket(t);
    tt_setint(t, fd, IPPROTO_TCP, TCP_MAXSEG, 500);
    tt_connect_start(t, fd);
    /* Linux tcp(7): set before the connection, it is also announced. */
    tseg_expect(t, .flags = SYN, .seq = ISS, .mss = 500);
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = 1460);
    tseg_expect(t, .flags = ACK);
    assert_int_equal(tt_info(t, fd).tcpi_snd_mss, 500);
    tt_write(t, fd, A, 1100);
    tseg_expect(t, .flags = ACK, .seq = A, .len = 500);
    tseg_expect(t, .flags = ACK, .seq = A + 500, .len = 500);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 1000, .len = 100);
    tseg_expect_none(t);
    tt_free(t);
}

/* TCP_NOTSENT_LOWAT (Linux tcp_stream_memory_free): 0 (unset) by default;
 * with a mark a send takes no more once the bytes not sent yet reach it
 * (below it: up to the mark, or one segment), and POLLOUT waits until
 * twice the unsent bytes are below it. The peer's window (1000 bytes)
 * keeps the rest unsent. */
static void test_notsent_lowat(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int fd = tt_open_active(t, 1000, 5000, 1000, 1460);
    int v = -1;
    socklen_t l = sizeof(v);
    assert_int_equal(ns_getsockopt(st, fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &l), 0);
    assert_int_equal(v, 0);
    tt_setint(t, fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 2000);
    l = sizeof(v);
    assert_int_equal(ns_getsockopt(st, fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &l), 0);
    assert_int_equal(v, 2000);
    static uint8_t b[8000];
    assert_int_equal(ns_send(st, fd, b, sizeof(b), 0), 2000);
    tseg_expect(t, .flags = TANY, .seq = 1001, .len = 1000);
    tseg_expect_none(t);
    /* 1000 unsent: a send may take a segment more, poll says not yet. */
    assert_int_equal(tt_poll(t, fd, POLLOUT), 0);
    assert_int_equal(ns_send(st, fd, b, sizeof(b), 0), 1460);
    errno = 0;
    assert_int_equal(ns_send(st, fd, b, sizeof(b), 0), -1);
    assert_int_equal(errno, EAGAIN);
    /* 3460 written. The peer takes 1000 and offers 1200: 1260 unsent,
     * below the mark but twice it is not: still no POLLOUT. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = 5001, .ack = 2001, .win = 1200);
    tseg_expect(t, .flags = TANY, .seq = 2001, .len = 1200);
    tseg_expect_none(t);
    assert_int_equal(tt_poll(t, fd, POLLOUT), 0);
    /* 1200 more: 60 unsent, writable. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = 5001, .ack = 3201, .win = 1200);
    tseg_expect(t, .flags = TANY, .seq = 3201, .len = 1200);
    tseg_expect_none(t);
    assert_int_equal(tt_poll(t, fd, POLLOUT), POLLOUT);
    /* Unset again: the send buffer's room is the only bound. */
    tt_setint(t, fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 0);
    assert_true(ns_send(st, fd, b, sizeof(b), 0) > 2000);
    tt_free(t);
}

static void test_nagle(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    /* Idle: a small write leaves at once. */
    tt_write(t, fd, A, 100);
    tseg_expect(t, .flags = ACK | PSH, .seq = A, .len = 100);
    /* With data outstanding, small writes wait for the ACK (RFC 896). */
    tt_write(t, fd, A + 100, 100);
    tt_write(t, fd, A + 200, 100);
    tseg_expect_none(t);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 100);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 100, .len = 200, .pat = true);
    tseg_expect_none(t);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 300);
    /* TCP_NODELAY: every write leaves at once. */
    tt_setint(t, fd, IPPROTO_TCP, TCP_NODELAY, 1);
    tt_write(t, fd, A + 300, 100);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 300, .len = 100);
    tt_write(t, fd, A + 400, 100);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 400, .len = 100);
    tseg_expect_none(t);
    tt_free(t);
}

/* tcp(7), Linux __tcp_sock_set_nodelay: setting TCP_NODELAY while
 * TCP_CORK is on pushes what is queued at once (TCP_NAGLE_PUSH); the
 * cork stays on for what is written afterwards. */
static void test_nodelay_flushes_cork(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    tt_setint(t, fd, IPPROTO_TCP, TCP_CORK, 1);
    tt_write(t, fd, A, 100);
    tt_write(t, fd, A + 100, 100);
    tseg_expect_none(t);
    tt_at(t, t->now + 10 * US_MS);
    tseg_expect_none(t);
    tt_setint(t, fd, IPPROTO_TCP, TCP_NODELAY, 1);
    tseg_expect(t, .flags = ACK | PSH, .seq = A, .len = 200, .pat = true);
    tseg_expect_none(t);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 200);
    /* Still corked: a later small write waits (for the 200 ms ceiling). */
    uint64_t w = t->now;
    tt_write(t, fd, A + 200, 50);
    tseg_expect_none(t);
    assert_int_equal(tt_next_tx(t, w + US_S), w + 200 * US_MS);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 200, .len = 50, .pat = true);
    tt_free(t);
}

/* Send n pattern bytes for sequence numbers seq.. with these send flags. */
static void write_flags(struct tt *t, int fd, uint32_t seq, uint32_t n, int flags)
{
    uint8_t b[4096];
    assert_true(n <= sizeof(b));
    for (uint32_t i = 0; i < n; i++)
        b[i] = tt_pat(seq + i);
    assert_int_equal(ns_send(tt_st(t), fd, b, n, flags), (ssize_t)n);
}

/* Linux tcp_sendmsg with MSG_MORE (tcp_push with TCP_NAGLE_CORK): the
 * send's whole segments go, its smaller tail waits for the next send
 * without MSG_MORE; a tail nothing follows goes after max(RTO, 200 ms),
 * as TCP_CORK's (tcp_check_probe_timer). Without the flag the same
 * sends are segments of their own (the idle-Nagle case). */
static void test_msg_more(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    /* A header with MSG_MORE, then its body: one segment. */
    write_flags(t, fd, A, 100, MSG_MORE);
    tseg_expect_none(t);
    tt_at(t, t->now + 10 * US_MS);
    tseg_expect_none(t);
    write_flags(t, fd, A + 100, 300, 0);
    tseg_expect(t, .flags = ACK | PSH, .seq = A, .len = 400, .pat = true);
    tseg_expect_none(t);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 400);
    /* The same two sends without MSG_MORE on an idle connection: the
     * first leaves at once (Nagle holds the second behind it). */
    write_flags(t, fd, A + 400, 100, 0);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 400, .len = 100, .pat = true);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 500);
    /* 3000 bytes with MSG_MORE: two whole segments, 80 held; the next
     * send without it sends them with its own bytes. */
    write_flags(t, fd, A + 500, 3000, MSG_MORE);
    tseg_expect(t, .flags = ACK, .seq = A + 500, .len = 1460);
    tseg_expect(t, .flags = ACK, .seq = A + 1960, .len = 1460);
    tseg_expect_none(t);
    write_flags(t, fd, A + 3500, 20, 0);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 3420, .len = 100, .pat = true);
    tseg_expect_none(t);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 3520);
    /* A tail nobody follows: out after 200 ms; the flag does not stay
     * (the next plain send goes at once). */
    uint64_t w = t->now;
    write_flags(t, fd, A + 3520, 50, MSG_MORE);
    tseg_expect_none(t);
    assert_int_equal(tt_next_tx(t, w + US_S), w + 200 * US_MS);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 3520, .len = 50, .pat = true);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 3570);
    write_flags(t, fd, A + 3570, 10, 0);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 3570, .len = 10, .pat = true);
    tt_free(t);
}

/* A 32- or 64-bit field of Linux's struct tcp_info (linux/tcp.h) at byte
 * offset off, past what glibc's struct declares. */
static uint64_t tcpi_at(const uint8_t *ti, size_t off, size_t size)
{
    uint64_t v64 = 0;
    uint32_t v32 = 0;
    if (size == 8)
        memcpy(&v64, ti + off, 8);
    else
        memcpy(&v32, ti + off, 4);
    return size == 8 ? v64 : v32;
}

/* TCP_INFO fills Linux's whole layout (232 bytes) from the connection:
 * the bytes and segments each way, what is unsent, the peer's window. */
static void test_tcp_info_counts(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd); /* SYN and ACK out, SYN,ACK in */
    tt_write(t, fd, A, 3000);
    tseg_expect(t, .flags = ACK, .seq = A, .len = 1460);
    tseg_expect(t, .flags = ACK, .seq = A + 1460, .len = 1460);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 2920, .len = 80);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 2920, .win = 30000, .len = 100);
    uint8_t ti[232];
    socklen_t l = sizeof(ti);
    assert_int_equal(ns_getsockopt(tt_st(t), fd, IPPROTO_TCP, TCP_INFO, ti, &l), 0);
    assert_int_equal(l, 232);
    assert_int_equal(tcpi_at(ti, 120, 8), 2920); /* tcpi_bytes_acked */
    assert_int_equal(tcpi_at(ti, 128, 8), 100);  /* tcpi_bytes_received */
    assert_int_equal(tcpi_at(ti, 136, 4), 5);    /* tcpi_segs_out: SYN, ACK, 3 of data */
    assert_int_equal(tcpi_at(ti, 140, 4), 2);    /* tcpi_segs_in: SYN,ACK and the ACK */
    assert_int_equal(tcpi_at(ti, 144, 4), 0);    /* tcpi_notsent_bytes */
    assert_int_equal(tcpi_at(ti, 152, 4), 1);    /* tcpi_data_segs_in */
    assert_int_equal(tcpi_at(ti, 156, 4), 3);    /* tcpi_data_segs_out */
    assert_int_equal(tcpi_at(ti, 200, 8), 3000); /* tcpi_bytes_sent */
    assert_int_equal(tcpi_at(ti, 228, 4), 30000); /* tcpi_snd_wnd */
    struct tcp_info g;
    memcpy(&g, ti, sizeof(g));
    assert_int_equal(g.tcpi_unacked, 1);
    assert_int_equal(g.tcpi_pmtu, 1500);
    /* A caller with glibc's struct gets glibc's part. */
    l = sizeof(g);
    assert_int_equal(ns_getsockopt(tt_st(t), fd, IPPROTO_TCP, TCP_INFO, &g, &l), 0);
    assert_int_equal(l, sizeof(g));
    tt_free(t);
}

/* Linux sk_clone_lock, tcp_create_openreq_child, tcp_ca_openreq_child:
 * a connection accepted from a listener has the listener's options. */
static void test_accept_inherits(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int lfd = tt_listen(t, 8);
    tt_setint(t, lfd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 5000);
    tt_setint(t, lfd, IPPROTO_TCP, TCP_USER_TIMEOUT, 3000);
    tt_setint(t, lfd, SOL_SOCKET, SO_PRIORITY, 4);
    tt_setint(t, lfd, SOL_SOCKET, SO_RCVLOWAT, 10);
    assert_int_equal(ns_setsockopt(st, lfd, IPPROTO_TCP, TCP_CONGESTION, "newreno", 7), 0);
    struct timeval tv = {1, 250000};
    assert_int_equal(ns_setsockopt(st, lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    tv.tv_sec = 3;
    assert_int_equal(ns_setsockopt(st, lfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
    struct linger lg = {1, 9};
    assert_int_equal(ns_setsockopt(st, lfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    t->isn = ISS;
    tseg_send(t, t->now, .flags = SYN, .seq = PISS, .win = 65535, .mss = 1460);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS, .ack = P, .mss = 1460);
    tseg_send(t, t->now, .flags = ACK, .seq = P, .ack = A, .win = 65535);
    int fd = ns_accept(st, lfd, NULL, NULL);
    assert_true(fd >= 0);
    int v = -1;
    socklen_t l = sizeof(v);
    assert_int_equal(ns_getsockopt(st, fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &l), 0);
    assert_int_equal(v, 5000);
    assert_int_equal(ns_getsockopt(st, fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, &l), 0);
    assert_int_equal(v, 3000);
    assert_int_equal(ns_getsockopt(st, fd, SOL_SOCKET, SO_PRIORITY, &v, &l), 0);
    assert_int_equal(v, 4);
    assert_int_equal(ns_getsockopt(st, fd, SOL_SOCKET, SO_RCVLOWAT, &v, &l), 0);
    assert_int_equal(v, 10);
    char cc[16] = {0};
    l = sizeof(cc);
    assert_int_equal(ns_getsockopt(st, fd, IPPROTO_TCP, TCP_CONGESTION, cc, &l), 0);
    assert_string_equal(cc, "newreno");
    memset(&tv, 0, sizeof(tv));
    l = sizeof(tv);
    assert_int_equal(ns_getsockopt(st, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &l), 0);
    assert_true(tv.tv_sec == 1 && tv.tv_usec == 250000);
    l = sizeof(tv);
    assert_int_equal(ns_getsockopt(st, fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &l), 0);
    assert_true(tv.tv_sec == 3 && tv.tv_usec == 250000);
    memset(&lg, 0, sizeof(lg));
    l = sizeof(lg);
    assert_int_equal(ns_getsockopt(st, fd, SOL_SOCKET, SO_LINGER, &lg, &l), 0);
    assert_true(lg.l_onoff == 1 && lg.l_linger == 9);
    tt_free(t);
}

static void test_sender_sws(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd); /* the peer offered 65535: MAX.SND.WND */
    tt_write(t, fd, A, 100);
    tseg_expect(t, .flags = ACK | PSH, .seq = A, .len = 100);
    /* The peer's window shrinks to 300 bytes. */
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 100, .win = 300);
    /* RFC 9293 §3.8.6.2.1: 300 bytes of a 2000-byte write are neither a
     * full segment, nor all the data, nor half the largest window: wait. */
    tt_write(t, fd, A + 100, 2000);
    tseg_expect_none(t);
    /* The window opens: full segments, then the rest. */
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 100, .win = 4000);
    tseg_expect(t, .flags = ACK, .seq = A + 100, .len = 1460);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 1560, .len = 540);
    tseg_expect_none(t);
    tt_free(t);
}

static void test_sender_sws_half_window(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = tt_open_active(t, ISS, PISS, 1000, 1460); /* MAX.SND.WND 1000 */
    tt_write(t, fd, A, 1);
    tseg_expect(t, .flags = ACK | PSH, .seq = A, .len = 1);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 1, .win = 600);
    /* 600 >= MAX.SND.WND / 2: sent although smaller than a segment. */
    tt_write(t, fd, A + 1, 3000);
    tseg_expect(t, .flags = ACK, .seq = A + 1, .len = 600);
    tseg_expect_none(t);
    tt_free(t);
}

/* ---- delayed ACK ------------------------------------------------------------------------ */

static void test_delayed_ack_one_segment(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    uint64_t t0 = t->now + 1000;
    tseg_send(t, t0, .flags = ACK, .seq = P, .ack = A, .len = 1460);
    tseg_expect_none(t);
    /* RFC 1122 §4.2.3.2: within the delayed-ACK timeout, here 40 ms exactly. */
    assert_int_equal(tt_next_tx(t, t0 + US_S), t0 + 40 * US_MS);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P + 1460, .len = 0);
    tseg_expect_none(t);
    assert_int_equal(TCTR(t, tcp_delayed_acks), 1);
    tt_free(t);
}

static void test_delayed_ack_two_segments(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    uint64_t t0 = t->now + 1000;
    tseg_send(t, t0, .flags = ACK, .seq = P, .ack = A, .len = 1460);
    tseg_expect_none(t);
    /* RFC 5681 §4.2: an ACK for at least every second full segment. */
    tseg_send(t, t0 + 1000, .flags = ACK, .seq = P + 1460, .ack = A, .len = 1460);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P + 2920, .len = 0);
    tseg_expect_none(t);
    /* No delayed ACK follows. */
    assert_int_equal(tt_next_tx(t, t0 + US_S), 0);
    tseg_send(t, t->now, .flags = ACK, .seq = P + 2920, .ack = A, .len = 1460);
    tseg_expect_none(t);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 4380, .ack = A, .len = 1460);
    tseg_expect(t, .flags = ACK, .ack = P + 5840);
    tt_free(t);
}

static void test_delayed_ack_ooo_immediate(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    uint64_t t0 = t->now + 1000;
    tseg_send(t, t0, .flags = ACK, .seq = P + 1460, .ack = A, .len = 1460);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P, .len = 0);
    /* Filling the gap is acknowledged at once too (RFC 5681 §4.2). */
    tseg_send(t, t0 + 1000, .flags = ACK, .seq = P, .ack = A, .len = 1460);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P + 2920, .len = 0);
    tseg_expect_none(t);
    tt_free(t);
}

/* ---- sequence space -------------------------------------------------------------------- */

static void test_seq_edges(void **state)
{
    (void)state;
    /* RFC 9293 §3.4 / RFC 1982 at the edges of the 32-bit space. */
    assert_true(SEQ_LT(0xffffffffu, 0));
    assert_true(SEQ_GT(0, 0xffffffffu));
    assert_true(SEQ_LT(0xfffffff0u, 0x10u));
    assert_true(SEQ_LEQ(0x7fffffffu, 0xfffffffeu));
    assert_false(SEQ_LT(0x10u, 0xfffffff0u));
    assert_int_equal(SEQ_MAX(0xfffffff0u, 5), 5);
    assert_int_equal(SEQ_MIN(0xfffffff0u, 5), 0xfffffff0u);
    assert_true(seq_in_window(2, 0xfffffff0u, 0x20));
    assert_false(seq_in_window(0x10, 0xfffffff0u, 0x20));
    assert_true(seq_in_window(0xffffffffu, 0xffffffffu, 1));
    assert_false(seq_in_window(0, 0xffffffffu, 1));
}

static void test_wraparound_both_ways(void **state)
{
    (void)state;
    const uint32_t I = 0xfffffff0u;
    struct tt *t = tt_new();
    int fd = tt_open_active(t, I, I, 65535, 1460);
    /* Our data across 2^32: 3000 bytes from 0xfffffff1. */
    tt_write(t, fd, I + 1, 3000);
    tseg_expect(t, .flags = ACK, .seq = I + 1, .ack = I + 1, .len = 1460, .pat = true);
    tseg_expect(t, .flags = ACK, .seq = I + 1 + 1460, .len = 1460, .pat = true);
    tseg_expect(t, .flags = ACK | PSH, .seq = I + 1 + 2920, .len = 80, .pat = true);
    /* A partial ACK just past the wrap, then the rest. */
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = I + 1, .ack = 5);
    assert_int_equal(tt_tp(t, fd)->snd_una, 5);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = I + 1, .ack = I + 1 + 3000);
    assert_int_equal(tt_tp(t, fd)->snd_una, I + 3001);
    assert_int_equal(tt_tp(t, fd)->sndbuf.len, 0);
    assert_false(tcp_timer_pending(tt_tp(t, fd), TT_REXMT));
    /* The peer's data across 2^32, one segment out of order. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = I + 1 + 1000, .ack = I + 3001, .len = 1000);
    tseg_expect(t, .flags = ACK, .ack = I + 1);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = I + 1, .ack = I + 3001, .len = 1000);
    tseg_expect(t, .flags = ACK, .seq = I + 3001, .ack = I + 2001);
    tt_read_pat(t, fd, I + 1, 2000);
    /* FIN across the wrap too. */
    tseg_send(t, t->now + 1000, .flags = ACK | FIN, .seq = I + 2001, .ack = I + 3001);
    tseg_expect(t, .flags = ACK, .ack = I + 2002);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSE_WAIT);
    tt_free(t);
}

/* ---- ICMP ------------------------------------------------------------------------------- */

static void test_icmp_frag_needed(void **state)
{
    (void)state;
    int fd;
    struct tt *t = estab(&fd);
    tt_write(t, fd, A, 2920);
    tseg_expect(t, .flags = ACK, .seq = A, .len = 1460);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 1460, .len = 1460);
    /* RFC 5927 §4.1: quoting a sequence number not in flight: ignored. */
    tt_icmp(t, t->now + 1000, NS_ICMP_DEST_UNREACH, NS_ICMP_FRAG_NEEDED, 576, A + 5000);
    tseg_expect_none(t);
    assert_int_equal(tt_tp(t, fd)->mss, 1460);
    tt_icmp(t, t->now + 1000, NS_ICMP_DEST_UNREACH, NS_ICMP_FRAG_NEEDED, 576, A - 100);
    tseg_expect_none(t);
    assert_int_equal(tt_tp(t, fd)->mss, 1460);
    /* RFC 1191 §6.3: MTU 576 -> MSS 536, retransmitted smaller. */
    tt_icmp(t, t->now + 1000, NS_ICMP_DEST_UNREACH, NS_ICMP_FRAG_NEEDED, 576, A);
    assert_int_equal(tt_tp(t, fd)->mss, 536);
    assert_int_equal(tt_info(t, fd).tcpi_snd_mss, 536);
    uint32_t seq = A;
    while (tt_pending(t)) {
        const struct ns_tcp_repr *th = tseg_expect(t, .seq = seq, .pat = true);
        assert_true(t->len <= 536 && t->len > 0);
        seq = th->seq + t->len;
    }
    assert_true(SEQ_GT(seq, A));
    assert_int_equal(TCTR(t, tcp_pmtu_updates), 1);
    tt_free(t);
}

/* Linux min_pmtu / mtu_expires: a "fragmentation needed" below 552 (a
 * forged MTU 100) sets the path MTU to 552 — MSS 512, DF no longer set —
 * never less; the learned value is forgotten exactly 10 minutes later
 * and full-sized segments with DF go out again. */
static void test_pmtu_floor_and_expiry(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.tcp_congestion = "newreno";
    cfg.arp_reachable_us = cfg.arp_gc_us = 3600 * US_S; /* no ARP in 10 minutes */
    struct tt *t = tt_new_cfg(&cfg, 1500);
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    tt_write(t, fd, A, 2920);
    tseg_expect(t, .seq = A, .len = 1460);
    assert_true(t->ip_df);
    tseg_expect(t, .seq = A + 1460, .len = 1460);
    uint64_t t_icmp = t->now + 1000;
    tt_icmp(t, t_icmp, NS_ICMP_DEST_UNREACH, NS_ICMP_FRAG_NEEDED, 100, A);
    assert_int_equal(tt_tp(t, fd)->mss, 512);
    uint32_t seq = A;
    while (tt_pending(t)) {
        const struct ns_tcp_repr *th = tseg_expect(t, .seq = seq, .pat = true);
        assert_true(t->len <= 512 && t->len > 0);
        assert_false(t->ip_df); /* below the floor: let the path fragment */
        seq = th->seq + t->len;
    }
    /* A second report, MTU 0 (an old router): no lower. */
    tt_icmp(t, t->now + 1000, NS_ICMP_DEST_UNREACH, NS_ICMP_FRAG_NEEDED, 0, A);
    assert_int_equal(tt_tp(t, fd)->mss, 512);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A + 2920);
    tseg_expect_none(t);
    uint32_t next = A + 2920;
    /* 1 ms before the 10 minutes: still 512. */
    tt_at(t, t_icmp + 600 * US_S - 1000);
    tt_write(t, fd, next, 1460);
    tseg_expect(t, .seq = next, .len = 512);
    tseg_expect(t, .seq = next + 512, .len = 512);
    tseg_expect(t, .seq = next + 1024, .len = 436);
    tseg_send(t, t->now + 500, .flags = ACK, .seq = P, .ack = next + 1460);
    next += 1460;
    assert_int_equal(TCTR(t, tcp_pmtu_expired), 0);
    /* At 10 minutes the route's MTU is back: 1460 bytes, DF. */
    tt_at(t, t_icmp + 600 * US_S);
    tt_write(t, fd, next, 1460);
    tseg_expect(t, .seq = next, .len = 1460, .pat = true);
    assert_true(t->ip_df);
    assert_int_equal(tt_tp(t, fd)->mss, 1460);
    assert_int_equal(TCTR(t, tcp_pmtu_expired), 1);
    assert_int_equal(TCTR(t, tcp_pmtu_updates), 1);
    tt_free(t);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_delivery),
        cmocka_unit_test(test_out_of_order_reassembly),
        cmocka_unit_test(test_duplicate_and_overlap_trimmed),
        cmocka_unit_test(test_ooo_overlap_counted),
        cmocka_unit_test(test_data_beyond_window_trimmed),
        cmocka_unit_test(test_zero_window_and_update),
        cmocka_unit_test(test_window_update_doubles),
        cmocka_unit_test(test_fin_with_data),
        cmocka_unit_test(test_out_of_order_fin),
        cmocka_unit_test(test_urgent_receive),
        cmocka_unit_test(test_urgent_inline),
        cmocka_unit_test(test_urgent_send),
        cmocka_unit_test(test_psh_on_last_segment),
        cmocka_unit_test(test_mss_option_from_route_mtu),
        cmocka_unit_test(test_mss_default_536),
        cmocka_unit_test(test_tcp_maxseg),
        cmocka_unit_test(test_nagle),
        cmocka_unit_test(test_notsent_lowat),
        cmocka_unit_test(test_nodelay_flushes_cork),
        cmocka_unit_test(test_msg_more),
        cmocka_unit_test(test_tcp_info_counts),
        cmocka_unit_test(test_accept_inherits),
        cmocka_unit_test(test_sender_sws),
        cmocka_unit_test(test_sender_sws_half_window),
        cmocka_unit_test(test_delayed_ack_one_segment),
        cmocka_unit_test(test_delayed_ack_two_segments),
        cmocka_unit_test(test_delayed_ack_ooo_immediate),
        cmocka_unit_test(test_seq_edges),
        cmocka_unit_test(test_wraparound_both_ways),
        cmocka_unit_test(test_icmp_frag_needed),
        cmocka_unit_test(test_pmtu_floor_and_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
