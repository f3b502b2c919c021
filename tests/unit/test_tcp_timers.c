/* tests/unit/test_tcp_timers.c — TCP's clocks in the protocol's terms
 * (tests/tcpseg.h): retransmission timeouts and backoff (RFC 6298, RFC
 * 1122 §4.2.3.5), Karn's algorithm, the user timeout (RFC 5482), zero
 * window probing (RFC 9293 §3.8.6.1), keep-alives (RFC 1122 §4.2.3.6) and
 * NewReno congestion control (RFC 5681, RFC 6582, RFC 6928).
 *
 * Times are exact: tt_next_tx() steps the stack from timer deadline to
 * timer deadline and reports when the next segment left.
 */
#include "tcpseg.h"

#define ISS 1000u
#define PISS 5000u
#define A (ISS + 1)
#define P (PISS + 1)
#define MSS 1460u

static struct tt *bench_cfg(void (*tweak)(struct ns_config *))
{
    struct ns_config cfg;
    tb_config(&cfg);
    if (tweak)
        tweak(&cfg);
    return tt_new_cfg(&cfg, 1500);
}

/* Active open whose SYN-ACK comes back `rtt` later (the first RTT sample). */
static int open_rtt(struct tt *t, uint64_t rtt, int sndbuf)
{
    t->isn = ISS;
    int fd = tt_socket(t);
    if (sndbuf)
        tt_setint(t, fd, SOL_SOCKET, SO_SNDBUF, sndbuf);
    tt_connect_start(t, fd);
    tseg_expect(t, .flags = SYN, .seq = ISS);
    tseg_send(t, t->now + rtt, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = MSS);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P);
    t->fd = fd;
    return fd;
}

/* ---- retransmission timeout ---------------------------------------------------------- */

static void few_syn_retries(struct ns_config *c) { c->tcp_syn_retries = 3; }

static void test_syn_backoff_and_timeout(void **state)
{
    (void)state;
    struct tt *t = bench_cfg(few_syn_retries);
    t->isn = ISS;
    uint64_t t0 = t->now;
    int fd = tt_connect_start(t, tt_socket(t));
    tseg_expect(t, .flags = SYN, .seq = ISS, .mss = MSS);
    /* RFC 6298 §2.1: initial RTO 1 s; §5.5: doubled each time. */
    assert_int_equal(tt_info(t, fd).tcpi_rto, 1000000);
    const uint64_t at[] = {1, 3, 7};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tt_next_tx(t, t0 + 100 * US_S), t0 + at[i] * US_S);
        tseg_expect(t, .flags = SYN, .seq = ISS, .mss = MSS, .len = 0);
        tseg_expect_none(t);
        assert_int_equal(tt_state(t, fd), TCPS_SYN_SENT);
    }
    /* After tcp_syn_retries retransmissions, the next timeout gives up. */
    tt_at(t, t0 + 15 * US_S - 1);
    assert_int_equal(tt_state(t, fd), TCPS_SYN_SENT);
    tt_at(t, t0 + 15 * US_S);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSED);
    tseg_expect_none(t);
    assert_true(tt_poll(t, fd, POLLOUT) & POLLERR);
    assert_int_equal(tt_so_error(t, fd), ETIMEDOUT);
    tt_free(t);
}

/* RFC 6298 §2.2-2.3 in integer microseconds, as a reference. */
struct rtt_ref {
    uint64_t srtt, rttvar;
};
static uint64_t rtt_ref_sample(struct rtt_ref *r, uint64_t m)
{
    if (r->srtt == 0) {
        r->srtt = m;
        r->rttvar = m / 2;
    } else {
        uint64_t d = r->srtt > m ? r->srtt - m : m - r->srtt;
        r->rttvar = (3 * r->rttvar + d) / 4;
        r->srtt = (7 * r->srtt + m) / 8;
    }
    uint64_t rto = r->srtt + 4 * r->rttvar;
    return rto < 200000 ? 200000 : rto; /* tcp_rto_min_us */
}

static void test_rto_from_rtt_samples(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = open_rtt(t, 100 * US_MS, 0);
    struct rtt_ref ref = {0, 0};
    /* The SYN's RTT: RTO = SRTT + 4 RTTVAR = 100 + 4 * 50 ms. */
    assert_int_equal(rtt_ref_sample(&ref, 100000), 300000);
    assert_int_equal(tt_info(t, fd).tcpi_rto, 300000);
    assert_int_equal(tt_info(t, fd).tcpi_rtt, 100000);
    /* More 100 ms samples: RTTVAR decays; RTO floors at 200 ms. */
    uint32_t seq = A;
    for (int i = 0; i < 8; i++) {
        tt_write(t, fd, seq, 100);
        tseg_expect(t, .seq = seq, .len = 100);
        seq += 100;
        tseg_send(t, t->now + 100 * US_MS, .flags = ACK, .seq = P, .ack = seq);
        uint64_t want = rtt_ref_sample(&ref, 100000);
        assert_int_equal(tt_info(t, fd).tcpi_rto, want);
    }
    assert_int_equal(tt_info(t, fd).tcpi_rto, 200000);
    /* The retransmission timer runs for exactly the RTO. */
    tt_write(t, fd, seq, 100);
    uint64_t sent = t->now;
    tseg_expect(t, .seq = seq, .len = 100);
    assert_int_equal(tt_next_tx(t, sent + 10 * US_S), sent + 200 * US_MS);
    tseg_expect(t, .seq = seq, .len = 100, .pat = true);
    tt_free(t);
}

static void test_karn_no_sample_from_retransmission(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = open_rtt(t, 100 * US_MS, 0); /* SRTT 100 ms, RTO 300 ms */
    struct tcp_info before = tt_info(t, fd);
    tt_write(t, fd, A, 100);
    uint64_t sent = t->now;
    tseg_expect(t, .seq = A, .len = 100);
    assert_int_equal(tt_next_tx(t, sent + 10 * US_S), sent + 300 * US_MS);
    tseg_expect(t, .seq = A, .len = 100);
    /* The ACK comes 50 ms after the retransmission: ambiguous, no sample
     * (RFC 6298 §3). */
    tseg_send(t, t->now + 50 * US_MS, .flags = ACK, .seq = P, .ack = A + 100);
    struct tcp_info after = tt_info(t, fd);
    assert_int_equal(after.tcpi_rtt, before.tcpi_rtt);
    assert_int_equal(after.tcpi_rttvar, before.tcpi_rttvar);
    assert_int_equal(after.tcpi_rto, before.tcpi_rto);
    /* The next, unambiguous segment is timed again. */
    tt_write(t, fd, A + 100, 100);
    tseg_expect(t, .seq = A + 100, .len = 100);
    tseg_send(t, t->now + 20 * US_MS, .flags = ACK, .seq = P, .ack = A + 200);
    assert_true(tt_info(t, fd).tcpi_rtt < before.tcpi_rtt);
    tt_free(t);
}

static void few_retries2(struct ns_config *c) { c->tcp_retries2 = 3; }

static void test_data_backoff_and_timeout(void **state)
{
    (void)state;
    struct tt *t = bench_cfg(few_retries2);
    struct ns_stack *st = tt_st(t);
    int fd = open_rtt(t, 100 * US_MS, 0); /* RTO 300 ms */
    tt_write(t, fd, A, 100);
    uint64_t t1 = t->now;
    tseg_expect(t, .seq = A, .len = 100);
    /* RFC 6298 §5.5: 300, 600, 1200 ms apart. */
    const uint64_t at[] = {300, 900, 2100};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tt_next_tx(t, t1 + 100 * US_S), t1 + at[i] * US_MS);
        tseg_expect(t, .flags = ACK | PSH, .seq = A, .len = 100, .pat = true);
        tseg_expect_none(t);
        assert_int_equal(tt_info(t, fd).tcpi_retransmits, i + 1);
    }
    /* RFC 1122 §4.2.3.5 R2 (tcp_retries2 = 3): the fourth timeout closes. */
    tt_at(t, t1 + 4500 * US_MS - 1);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    tt_at(t, t1 + 4500 * US_MS);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSED);
    tb_drain(t->tb, 1); /* a reset, or nothing */
    char b[4];
    errno = 0;
    assert_int_equal(ns_recv(st, fd, b, sizeof(b), 0), -1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_int_equal(TCTR(t, tcp_timeouts), 1);
    tt_free(t);
}

static void test_user_timeout(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = open_rtt(t, 100 * US_MS, 0); /* RTO 300 ms */
    tt_setint(t, fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 1000);
    tt_write(t, fd, A, 100);
    uint64_t t1 = t->now;
    tseg_expect(t, .seq = A, .len = 100);
    assert_int_equal(tt_next_tx(t, t1 + 10 * US_S), t1 + 300 * US_MS);
    tseg_expect(t, .seq = A, .len = 100);
    assert_int_equal(tt_next_tx(t, t1 + 950 * US_MS), t1 + 900 * US_MS);
    tseg_expect(t, .seq = A, .len = 100);
    /* RFC 5482: 1 s without an ACK for data sent: ETIMEDOUT, then. */
    tt_at(t, t1 + US_S - 1);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    tt_at(t, t1 + US_S);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSED);
    assert_int_equal(tt_so_error(t, fd), ETIMEDOUT);
    tb_drain(t->tb, 1);
    tt_free(t);
}

/* ---- persist ------------------------------------------------------------------------------ */

static void test_persist_probes(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = open_rtt(t, 0, 0); /* RTO at its 200 ms floor */
    tt_write(t, fd, A, 100);
    tseg_expect(t, .seq = A, .len = 100);
    /* The peer takes it and closes its window. */
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 100, .win = 0);
    uint64_t t0 = t->now;
    tt_write(t, fd, A + 100, 1000);
    tseg_expect_none(t);
    /* RFC 9293 §3.8.6.1: probes of one byte at growing intervals; the
     * peer answers each with its zero window. */
    const uint64_t at[] = {200, 600, 1400, 3000};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tt_next_tx(t, t0 + 100 * US_S), t0 + at[i] * US_MS);
        tseg_expect(t, .flags = TANY, .seq = A + 100, .len = 1, .pat = true);
        tseg_expect_none(t);
        tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A + 100, .win = 0);
        tseg_expect_none(t);
    }
    assert_int_equal(TCTR(t, tcp_zero_window_probes), 4);
    /* Answers to probes are not duplicate ACKs: no fast retransmit. */
    assert_int_equal(TCTR(t, tcp_fast_retransmits), 0);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    /* The window opens: the transfer resumes from SND.UNA. */
    tseg_send(t, t->now + 50 * US_MS, .flags = ACK, .seq = P, .ack = A + 100, .win = 65535);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 100, .len = 1000, .pat = true);
    tseg_expect_none(t);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 1100);
    assert_int_equal(tt_tp(t, fd)->sndbuf.len, 0);
    assert_int_equal(tt_next_tx(t, t->now + 100 * US_S), 0);
    tt_free(t);
}

/* Probes nobody answers end the connection: tcp_retries2 of them, or 8
 * once the user closed the socket (Linux tcp_probe_timer); answered ones
 * go on for ever (above). */
static void test_persist_unanswered_gives_up(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = open_rtt(t, 0, 0);
    tt_write(t, fd, A, 100);
    tseg_expect(t, .seq = A, .len = 100);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 100, .win = 0);
    tt_write(t, fd, A + 100, 1000);
    ns_close(tt_st(t), fd); /* an orphan in FIN_WAIT_1 with data queued */
    assert_non_null(tt_lookup(t));
    /* Nobody answers (not even ARP: frames are only counted here). */
    for (int i = 0; i < 100; i++) {
        tt_at(t, t->now + 10 * US_S);
        tb_drain(t->tb, 1);
    }
    assert_int_equal(TCTR(t, tcp_zero_window_probes), TCP_ORPHAN_RETRIES);
    assert_int_equal(TCTR(t, tcp_timeouts), 1);
    assert_null(tt_lookup(t));
    tt_free(t);
}

/* A window smaller than a segment, nothing in flight (the ACK that
 * would open it further was lost): sender SWS avoidance holds the data,
 * and RFC 9293 §3.8.6.2.1's override timeout (Linux's probe timer,
 * tcp_check_probe_timer / tcp_write_wakeup) sends what the window takes
 * after max(RTO, 200 ms); the retransmission timer then guards it. */
static void test_small_window_override(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = open_rtt(t, 0, 65536); /* RTO at its 200 ms floor */
    tt_write(t, fd, A, 30000);       /* the initial window sends 10 segments */
    for (int i = 0; i < 10; i++)
        tseg_expect(t, .seq = A + i * MSS, .len = MSS);
    tseg_expect_none(t);
    /* Everything acknowledged, but the window left is 500 bytes. */
    uint32_t una = A + 10 * MSS;
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = una, .win = 500);
    uint64_t t0 = t->now;
    tseg_expect_none(t);
    assert_int_equal(tt_next_tx(t, t0 + 100 * US_S), t0 + 200 * US_MS);
    tseg_expect(t, .flags = TANY, .seq = una, .len = 500, .pat = true);
    tseg_expect_none(t);
    assert_true(tcp_timer_pending(tt_tp(t, fd), TT_REXMT));
    /* The peer takes it and opens the window: the rest flows at once. */
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = una + 500, .win = 65535);
    tseg_expect(t, .seq = una + 500, .len = MSS, .pat = true);
    tt_free(t);
}

/* Hold every packet buffer of the stack's pool (a flood that starved it). */
struct hoard {
    struct ns_pbuf *pb[8192];
    int n;
};

static void hoard_all(struct tt *t, struct hoard *h)
{
    struct ns_pbuf *pb;
    while (h->n < 8192 && (pb = ns_stack_alloc(tt_st(t), 0, 64)))
        h->pb[h->n++] = pb;
    assert_null(ns_stack_alloc(tt_st(t), 0, 64));
}

static void hoard_release(struct hoard *h)
{
    while (h->n)
        ns_pbuf_free(h->pb[--h->n]);
}

/* A window probe that finds no packet buffer was not sent: no probe is
 * counted, nothing backs off, and it is tried again every 500 ms (Linux
 * tcp_send_probe0, TCP_RESOURCE_PROBE_INTERVAL) until a buffer is there. */
static void test_persist_probe_without_buffers(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = open_rtt(t, 0, 0);
    tt_write(t, fd, A, 100);
    tseg_expect(t, .seq = A, .len = 100);
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + 100, .win = 0);
    uint64_t t0 = t->now;
    tt_write(t, fd, A + 100, 1000);
    static struct hoard h;
    hoard_all(t, &h);
    /* The probe due at 200 ms fails, and so every 500 ms after it
     * (stepping timer by timer: 0.2, 0.7, 1.2, 1.7 s). */
    uint64_t fails = TCTR(t, pbuf_alloc_fail);
    assert_int_equal(tt_next_tx(t, t0 + 2200 * US_MS), 0);
    assert_int_equal(TCTR(t, pbuf_alloc_fail), fails + 5);
    assert_int_equal(TCTR(t, tcp_zero_window_probes), 0);
    hoard_release(&h);
    assert_int_equal(tt_next_tx(t, t0 + 100 * US_S), t0 + 2700 * US_MS);
    tseg_expect(t, .seq = A + 100, .len = 1, .pat = true);
    assert_int_equal(TCTR(t, tcp_zero_window_probes), 1);
    /* From here the usual backoff: the next probe 400 ms on. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A + 100, .win = 0);
    assert_int_equal(tt_next_tx(t, t0 + 100 * US_S), t0 + 3100 * US_MS);
    tseg_expect(t, .seq = A + 100, .len = 1);
    (void)fd;
    tt_free(t);
}

/* The same for data into an open window that finds no buffer with
 * nothing in flight: before, nothing was armed and the connection froze. */
static void test_send_without_buffers_retries(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = open_rtt(t, 0, 0);
    static struct hoard h;
    hoard_all(t, &h);
    uint64_t t0 = t->now;
    tt_write(t, fd, A, 100);
    tseg_expect_none(t);
    assert_int_equal(tt_tp(t, fd)->snd_max, A); /* not sent, not counted as sent */
    uint64_t fails = TCTR(t, pbuf_alloc_fail);
    /* Tried at 500 ms and 1 s (stepping timer by timer), sent nothing. */
    assert_int_equal(tt_next_tx(t, t0 + 1200 * US_MS), 0);
    assert_int_equal(TCTR(t, pbuf_alloc_fail), fails + 2);
    hoard_release(&h);
    for (int c = 0; c < NS_CTR__COUNT; c++) if (tt_ctr(t, c)) fprintf(stderr, "DBG %s %llu\n", ns_counter_name(c), (unsigned long long)tt_ctr(t, c));
    assert_int_equal(tt_next_tx(t, t0 + 100 * US_S), t0 + 1500 * US_MS);
    tseg_expect(t, .seq = A, .len = 100, .pat = true);
    tt_free(t);
}

/* ---- keep-alive ----------------------------------------------------------------------------- */

static int open_keepalive(struct tt *t)
{
    t->isn = ISS;
    int fd = tt_socket(t);
    tt_setint(t, fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    tt_setint(t, fd, IPPROTO_TCP, TCP_KEEPIDLE, 10);
    tt_setint(t, fd, IPPROTO_TCP, TCP_KEEPINTVL, 2);
    tt_setint(t, fd, IPPROTO_TCP, TCP_KEEPCNT, 3);
    tt_connect_start(t, fd);
    tseg_expect(t, .flags = SYN, .seq = ISS);
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = MSS);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P);
    return fd;
}

static void test_keepalive_unanswered(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = open_keepalive(t);
    uint64_t t0 = t->now;
    /* RFC 1122 §4.2.3.6: after 10 s idle, probes SEG.SEQ = SND.NXT - 1
     * with no data, every 2 s. */
    const uint64_t at[] = {10, 12, 14};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tt_next_tx(t, t0 + 100 * US_S), t0 + at[i] * US_S);
        tseg_expect(t, .flags = ACK, .seq = A - 1, .ack = P, .len = 0);
        tseg_expect_none(t);
    }
    /* Three unanswered: the connection is dropped at the next interval. */
    tt_at(t, t0 + 16 * US_S - 1);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    tt_at(t, t0 + 16 * US_S);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSED);
    assert_int_equal(tt_so_error(t, fd), ETIMEDOUT);
    tb_drain(t->tb, 1);
    tt_free(t);
}

static void test_keepalive_answered(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = open_keepalive(t);
    uint64_t t0 = t->now;
    assert_int_equal(tt_next_tx(t, t0 + 100 * US_S), t0 + 10 * US_S);
    tseg_expect(t, .flags = ACK, .seq = A - 1, .ack = P, .len = 0);
    /* The peer answers: the connection lives, the idle time restarts. */
    tseg_send(t, t0 + 11 * US_S, .flags = ACK, .seq = P, .ack = A);
    assert_int_equal(tt_next_tx(t, t0 + 100 * US_S), t0 + 21 * US_S);
    tseg_expect(t, .flags = ACK, .seq = A - 1, .ack = P, .len = 0);
    tseg_send(t, t->now + 500 * US_MS, .flags = ACK, .seq = P, .ack = A);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    assert_int_equal(tt_so_error(t, fd), 0);
    assert_int_equal(TCTR(t, tcp_keepalive_probes), 2);
    tt_free(t);
}

/* SO_KEEPALIVE switched on after the connection is established takes
 * effect at once, and switched off stops the probes (Linux
 * sk_setsockopt -> tcp_set_keepalive). */
static void test_keepalive_enabled_after_connect(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    t->isn = ISS;
    int fd = tt_socket(t);
    tt_setint(t, fd, IPPROTO_TCP, TCP_KEEPIDLE, 10);
    tt_setint(t, fd, IPPROTO_TCP, TCP_KEEPINTVL, 2);
    tt_connect_start(t, fd);
    tseg_expect(t, .flags = SYN, .seq = ISS);
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = MSS);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P);
    uint64_t t0 = t->now;
    /* Not enabled yet: nothing for 20 s (idle time 10 s). */
    assert_int_equal(tt_next_tx(t, t0 + 20 * US_S), 0);
    tt_setint(t, fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    /* Idle since t0 (the last segment received): the first probe is due
     * at once, then every interval. */
    uint64_t first = tt_next_tx(t, t0 + 25 * US_S);
    assert_true(first >= t0 + 20 * US_S && first <= t0 + 21 * US_S);
    tseg_expect(t, .flags = ACK, .seq = A - 1, .ack = P, .len = 0);
    tseg_send(t, t->now, .flags = ACK, .seq = P, .ack = A);
    tt_setint(t, fd, SOL_SOCKET, SO_KEEPALIVE, 0);
    assert_int_equal(tt_next_tx(t, t->now + 9 * US_S), 0); /* no more probes */
    assert_int_equal(TCTR(t, tcp_keepalive_probes), 1);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    tt_free(t);
}

/* ---- congestion control ------------------------------------------------------------------ */

/* Collect what left: returns how many full data segments, checks each
 * continues the stream at *next. */
static unsigned take_data(struct tt *t, uint32_t *next)
{
    unsigned n = 0;
    while (tt_pending(t)) {
        tseg_expect(t, .seq = *next, .pat = true);
        if (t->len == 0)
            continue;
        *next += t->len;
        n++;
    }
    return n;
}

static void test_initial_window_10(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = open_rtt(t, 0, 0); /* 16384-byte send buffer */
    tt_write(t, fd, A, 16384);
    /* RFC 6928: IW = min(10 MSS, max(2 MSS, 14600)) = 10 segments. */
    for (unsigned i = 0; i < 10; i++)
        tseg_expect(t, .flags = ACK, .seq = A + i * MSS, .len = MSS, .pat = true);
    tseg_expect_none(t);
    assert_int_equal(tt_info(t, fd).tcpi_snd_cwnd, 10);
    tt_free(t);
}

static void test_slow_start_doubles(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = open_rtt(t, 0, 200000);
    tt_write(t, fd, A, 200000);
    uint32_t next = A, acked = A;
    unsigned expect = 10;
    /* RFC 5681 §3.1: cwnd += SMSS per ACK in slow start: the window
     * doubles each round trip when every segment is acknowledged. */
    for (int round = 0; round < 3; round++) {
        unsigned sent = take_data(t, &next);
        assert_int_equal(sent, expect);
        assert_int_equal(tt_info(t, fd).tcpi_snd_cwnd, expect);
        t->now += 50 * US_MS;
        for (unsigned i = 0; i < sent; i++) {
            acked += MSS;
            tseg_send(t, t->now, .flags = ACK, .seq = P, .ack = acked);
        }
        expect *= 2;
    }
    tt_free(t);
}

/* Ten segments out (S0..S9), then `n` duplicate ACKs for S0. */
static struct tt *fast_rtx_bench(int *fd, uint32_t *next, unsigned ndup)
{
    struct tt *t = tt_new();
    *fd = open_rtt(t, 0, 200000);
    tt_write(t, *fd, A, 100000);
    *next = A;
    assert_int_equal(take_data(t, next), 10);
    for (unsigned i = 0; i < ndup; i++)
        tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A);
    return t;
}

static void test_fast_retransmit(void **state)
{
    (void)state;
    int fd;
    uint32_t next;
    struct tt *t = fast_rtx_bench(&fd, &next, 2);
    tseg_expect_none(t);
    /* RFC 5681 §3.2: the third duplicate ACK retransmits S0 at once;
     * ssthresh = FlightSize / 2, cwnd = ssthresh + 3 SMSS. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A);
    tseg_expect(t, .flags = TANY, .seq = A, .len = MSS, .pat = true);
    tseg_expect_none(t);
    struct tcpcb *tp = tt_tp(t, fd);
    assert_int_equal(tp->ssthresh, 10 * MSS / 2);
    assert_int_equal(tp->cwnd, 10 * MSS / 2 + 3 * MSS);
    assert_int_equal(TCTR(t, tcp_fast_retransmits), 1);
    /* Each further duplicate inflates cwnd by SMSS; new data leaves once
     * cwnd exceeds the flight (at the 6th, 7th, ... duplicate). */
    for (unsigned d = 4; d <= 5; d++) {
        tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A);
        tseg_expect_none(t);
    }
    for (unsigned d = 6; d <= 8; d++) {
        tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A);
        tseg_expect(t, .seq = next, .len = MSS, .pat = true);
        next += MSS;
        tseg_expect_none(t);
    }
    tt_free(t);
}

static void test_newreno_partial_ack(void **state)
{
    (void)state;
    int fd;
    uint32_t next;
    struct tt *t = fast_rtx_bench(&fd, &next, 3); /* S0 and S5 were lost */
    tseg_expect(t, .seq = A, .len = MSS);
    struct tcpcb *tp = tt_tp(t, fd);
    uint32_t recover = tp->recover;
    assert_int_equal(recover, A + 10 * MSS);
    /* RFC 6582 §3.2 step 5: the retransmitted S0 fills the first hole;
     * the ACK stops at S5: retransmit S5 at once, stay in recovery. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A + 5 * MSS);
    tseg_expect(t, .seq = A + 5 * MSS, .len = MSS, .pat = true);
    while (tt_pending(t))
        tseg_expect(t, .seq = next, .pat = true), next += t->len;
    assert_true(tp->flags & TF_FASTRECOVERY);
    assert_int_equal(tp->snd_una, A + 5 * MSS);
    /* The partial ACK deflated cwnd by the amount acked, plus one SMSS. */
    assert_int_equal(tp->cwnd, 10 * MSS / 2 + 3 * MSS - 5 * MSS + MSS);
    tt_free(t);
}

static void test_newreno_full_ack_ends_recovery(void **state)
{
    (void)state;
    int fd;
    uint32_t next;
    struct tt *t = fast_rtx_bench(&fd, &next, 10); /* 5 new segments S10..S14 */
    tseg_expect(t, .seq = A, .len = MSS);
    assert_int_equal(take_data(t, &next), 5);
    assert_int_equal(next, A + 15 * MSS);
    struct tcpcb *tp = tt_tp(t, fd);
    assert_true(tp->flags & TF_FASTRECOVERY);
    /* RFC 6582 §3.2 step 3: the ACK covers `recover` (S0..S9): recovery
     * ends, cwnd = min(ssthresh, FlightSize + SMSS) = min(7300, 5 * 1460 + 1460). */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A + 10 * MSS);
    assert_false(tp->flags & TF_FASTRECOVERY);
    assert_int_equal(tp->cwnd, 10 * MSS / 2);
    /* No burst: cwnd (7300) is below the flight (7300): nothing new. */
    tseg_expect_none(t);
    tt_free(t);
}

static void test_rto_resets_cwnd(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = open_rtt(t, 0, 200000); /* RTO 200 ms */
    tt_write(t, fd, A, 100000);
    uint32_t next = A;
    uint64_t t0 = t->now;
    assert_int_equal(take_data(t, &next), 10);
    /* RFC 5681 §3.1 / RFC 6298 §5.4: after the RTO, one segment from
     * SND.UNA; cwnd = 1 SMSS (loss window), ssthresh = FlightSize / 2. */
    assert_int_equal(tt_next_tx(t, t0 + 10 * US_S), t0 + 200 * US_MS);
    tseg_expect(t, .seq = A, .len = MSS, .pat = true);
    tseg_expect_none(t);
    assert_int_equal(tt_info(t, fd).tcpi_snd_cwnd, 1);
    assert_int_equal(tt_tp(t, fd)->ssthresh, 5 * MSS);
    /* Its ACK: cwnd 2, the next two segments go (go-back-N from SND.UNA). */
    tseg_send(t, t->now + 10 * US_MS, .flags = ACK, .seq = P, .ack = A + MSS);
    tseg_expect(t, .seq = A + MSS, .len = MSS, .pat = true);
    tseg_expect(t, .seq = A + 2 * MSS, .len = MSS, .pat = true);
    tseg_expect_none(t);
    tt_free(t);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syn_backoff_and_timeout),
        cmocka_unit_test(test_rto_from_rtt_samples),
        cmocka_unit_test(test_karn_no_sample_from_retransmission),
        cmocka_unit_test(test_data_backoff_and_timeout),
        cmocka_unit_test(test_user_timeout),
        cmocka_unit_test(test_persist_probes),
        cmocka_unit_test(test_persist_unanswered_gives_up),
        cmocka_unit_test(test_small_window_override),
        cmocka_unit_test(test_persist_probe_without_buffers),
        cmocka_unit_test(test_send_without_buffers_retries),
        cmocka_unit_test(test_keepalive_unanswered),
        cmocka_unit_test(test_keepalive_answered),
        cmocka_unit_test(test_keepalive_enabled_after_connect),
        cmocka_unit_test(test_initial_window_10),
        cmocka_unit_test(test_slow_start_doubles),
        cmocka_unit_test(test_fast_retransmit),
        cmocka_unit_test(test_newreno_partial_ack),
        cmocka_unit_test(test_newreno_full_ack_ends_recovery),
        cmocka_unit_test(test_rto_resets_cwnd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
