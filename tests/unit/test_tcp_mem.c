/* tests/unit/test_tcp_mem.c — the stack-wide TCP memory limit (tcp_mem.c,
 * Linux tcp_mem) at exact values: "at this point the stack holds N bytes;
 * this segment arrives; this is kept, this pruned, this dropped".
 *
 * The bench (tests/tcpseg.h) is one stack and one peer; several
 * connections are told apart by the peer's port. Memory is what the
 * rings' storage and the out-of-order segments hold (S below is one
 * queued 1000-byte segment: tcp_reass_seg_mem(1000)); a ring's storage
 * starts at 4096 bytes and doubles.
 *
 *   - out-of-order data is admitted up to tcp_mem_pressure exactly; past
 *     it a segment above the queue is dropped, one below it replaces the
 *     queue's highest (Linux tcp_prune_ofo_queue); pressure is counted
 *     once and ends at tcp_mem_low, when empty rings gave their storage
 *     back;
 *   - a ring that must grow past pressure prunes other connections'
 *     out-of-order data first, the one longest without in-order progress
 *     first, the highest segments first, exactly as much as needed; the
 *     pruned data is resent by the peer and everything is delivered in
 *     order;
 *   - above tcp_mem_high no ring grows: in-order data beyond the storage
 *     is dropped (and resent), send() takes what the storage holds, POLLOUT
 *     follows, a new connection still gets its first 4 KiB; buffers do not
 *     autotune under pressure; queued data the ring cannot take waits for
 *     the reader, with its FIN.
 */
#include <poll.h>

#include "tcpseg.h"
#include "testutil.h"

#define PEER_ISS 5000u
#define OUR_ISS 1000u

static uint64_t S; /* one queued 1000-byte segment */
static int lfd = -1; /* the listener every connection comes through */

static struct tt *bench(uint64_t low, uint64_t pressure, uint64_t high)
{
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.tcp_congestion = "newreno";
    cfg.tcp_mem_low = low;
    cfg.tcp_mem_pressure = pressure;
    cfg.tcp_mem_high = high;
    S = tcp_reass_seg_mem(1000);
    lfd = -1;
    return tt_new_cfg(&cfg, 1500);
}

static struct ns_stack_usage usage(const struct tt *t)
{
    struct ns_stack_usage u;
    ns_stack_usage(tt_st(t), &u);
    return u;
}

/* A connection from peer port `port`, accepted; the peer's data starts at
 * PEER_ISS + 1, ours at OUR_ISS + 1. Leaves the SYN-ACK in t->th. */
static int open_from(struct tt *t, uint16_t port)
{
    if (lfd < 0)
        lfd = tt_listen(t, 16);
    t->peer_port = port;
    t->isn = OUR_ISS;
    tseg_send(t, t->now, .flags = SYN, .seq = PEER_ISS, .win = 65535, .mss = 1460);
    tseg_expect(t, .flags = SYN | ACK, .seq = OUR_ISS, .ack = PEER_ISS + 1, .mss = 1460);
    struct ns_tcp_repr synack = t->th;
    tseg_send(t, t->now, .flags = ACK, .seq = PEER_ISS + 1, .ack = OUR_ISS + 1, .win = 65535);
    tseg_expect_none(t);
    int fd = ns_accept(tt_st(t), lfd, NULL, NULL);
    assert_true(fd >= 0);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    t->th = synack;
    return fd;
}

/* The peer (port) sends 1000 bytes at offset `off` of its stream. */
static void data_at(struct tt *t, uint16_t port, uint32_t off)
{
    t->peer_port = port;
    tseg_send(t, t->now, .flags = ACK, .seq = PEER_ISS + 1 + off, .ack = OUR_ISS + 1, .len = 1000);
}

static void test_ooo_admitted_to_pressure_then_pruned_from_the_top(void **state)
{
    (void)state;
    struct tt *t = bench(2 * tcp_reass_seg_mem(1000), 4 * tcp_reass_seg_mem(1000),
                         100 * tcp_reass_seg_mem(1000));
    int fd = open_from(t, 40001);
    assert_int_equal(usage(t).tcp_bytes, 0); /* nothing held before data */

    /* Offsets 2000..5000: four segments, exactly at pressure. */
    for (uint32_t k = 2; k <= 5; k++) {
        data_at(t, 40001, k * 1000);
        tseg_expect(t, .flags = ACK, .ack = PEER_ISS + 1, .len = 0); /* duplicate ACK */
    }
    struct ns_stack_usage u = usage(t);
    assert_int_equal(u.tcp_ooo_bytes, 4 * S);
    assert_int_equal(u.tcp_bytes, 4 * S);
    assert_false(u.tcp_pressure);
    assert_int_equal(TCTR(t, tcp_mem_pressures), 0);
    assert_int_equal(TCTR(t, tcp_ooo_segs), 4);

    /* Offset 6000, above everything: it would pass pressure, nothing
     * above it can make room: dropped. Pressure begins, counted once. */
    data_at(t, 40001, 6000);
    tseg_expect(t, .flags = ACK, .ack = PEER_ISS + 1, .len = 0);
    u = usage(t);
    assert_int_equal(u.tcp_ooo_bytes, 4 * S);
    assert_true(u.tcp_pressure);
    assert_int_equal(TCTR(t, tcp_mem_ooo_drop), 1);
    assert_int_equal(TCTR(t, tcp_mem_pressures), 1);
    assert_int_equal(TCTR(t, tcp_ooo_pruned), 0);

    /* Offset 1000, below the queue: the highest (5000) makes room. */
    data_at(t, 40001, 1000);
    tseg_expect(t, .flags = ACK, .ack = PEER_ISS + 1, .len = 0);
    u = usage(t);
    assert_int_equal(u.tcp_ooo_bytes, 4 * S);
    assert_int_equal(TCTR(t, tcp_ooo_pruned), 1);
    assert_int_equal(TCTR(t, tcp_mem_ooo_drop), 1);
    assert_int_equal(TCTR(t, tcp_mem_pressures), 1);

    /* The hole fills: 0..5000 in order (the ring's first 4 KiB is always
     * granted; moving queued data in is not refused). */
    data_at(t, 40001, 0);
    tseg_expect(t, .flags = ACK, .ack = PEER_ISS + 1 + 5000, .len = 0);
    u = usage(t);
    assert_int_equal(u.tcp_ooo_bytes, 0);
    assert_int_equal(u.tcp_rcv_bytes, 8192);
    assert_true(u.tcp_pressure); /* 8192 > low */
    /* The peer resends what was pruned and dropped. */
    data_at(t, 40001, 5000);
    data_at(t, 40001, 6000);
    tt_read_pat(t, fd, PEER_ISS + 1, 7000);
    /* Under pressure the emptied ring gave its storage back: the stack
     * holds nothing, and pressure ended (0 <= low). */
    u = usage(t);
    assert_int_equal(u.tcp_bytes, 0);
    assert_false(u.tcp_pressure);
    /* The most held: the ring grew to 8192 while the last queued segment
     * waited to be moved in (or before: 4096 and the whole queue). */
    assert_int_equal(u.tcp_peak_bytes, 8192 + S > 4096 + 4 * S ? 8192 + S : 4096 + 4 * S);
    assert_int_equal(TCTR(t, tcp_mem_pressures), 1);
    tb_drain(t->tb, 1);
    tt_free(t);
}

/* Three connections hold out-of-order data, B1 the first; B1 then makes
 * progress. A fourth connection's ring must grow: B2 (now the one longest
 * without progress) loses all its queue, B3 its highest segment, B1
 * nothing — exactly the 4 S the growth needed. */
static void test_ring_growth_prunes_the_stalest_queue_first(void **state)
{
    (void)state;
    /* Before C's ring grows: 9 S of queues + B1's ring + C's ring. */
    const uint64_t pressure = 9 * (uint64_t)tcp_reass_seg_mem(1000) + 4096 + 4096 + 4096 -
                              4 * (uint64_t)tcp_reass_seg_mem(1000);
    struct tt *t = bench(0, pressure, 1u << 30);
    int b[3];
    for (int i = 0; i < 3; i++)
        b[i] = open_from(t, (uint16_t)(40001 + i));
    int c = open_from(t, 40010);
    for (int i = 0; i < 3; i++) {
        for (uint32_t k = 2; k <= 4; k++) {
            t->now += 1000;
            data_at(t, (uint16_t)(40001 + i), k * 1000);
        }
    }
    /* B1: in-order progress (its hole shrinks, it stays out of order). */
    t->now += 1000;
    data_at(t, 40001, 0);
    tb_drain(t->tb, 1);
    struct ns_stack_usage u = usage(t);
    assert_int_equal(u.tcp_ooo_bytes, 9 * S);
    assert_int_equal(u.tcp_rcv_bytes, 4096);
    /* C: 5 in-order segments, not read: the fifth needs 8192 of storage. */
    for (uint32_t k = 0; k < 5; k++)
        data_at(t, 40010, k * 1000);
    tb_drain(t->tb, 1);
    u = usage(t);
    assert_int_equal(TCTR(t, tcp_ooo_pruned), 4);
    assert_int_equal(TCTR(t, tcp_mem_rcv_drop), 0);
    assert_int_equal(u.tcp_ooo_bytes, 5 * S);
    assert_int_equal(u.tcp_rcv_bytes, 4096 + 8192);
    assert_int_equal(u.tcp_bytes, pressure);
    assert_int_equal(tt_tp(t, b[0])->reass_segs, 3);
    assert_int_equal(tt_tp(t, b[1])->reass_segs, 0);
    assert_int_equal(tt_tp(t, b[2])->reass_segs, 2);
    assert_int_equal(tcp_reass_end(tt_tp(t, b[2])), PEER_ISS + 1 + 4000); /* 4000.. went */
    tt_read_pat(t, c, PEER_ISS + 1, 5000);

    /* Every byte still arrives: the peers resend what is missing (from
     * the hole on, as after a timeout; what is already there is taken as
     * a duplicate). Memory is still tight: these rings growing may prune
     * again (B1 is the stalest now), which the resending covers too. */
    for (uint32_t k = 0; k < 5; k++)
        for (int i = 0; i < 3; i++)
            data_at(t, (uint16_t)(40001 + i), k * 1000);
    tb_drain(t->tb, 1);
    for (int i = 0; i < 3; i++)
        tt_read_pat(t, b[i], PEER_ISS + 1, 5000);
    assert_int_equal(usage(t).tcp_ooo_bytes, 0);
    tt_free(t);
}

/* Above tcp_mem_high no ring grows. */
static void test_above_high_nothing_grows_but_the_first_4k(void **state)
{
    (void)state;
    struct tt *t = bench(4096, 8192, 8192);
    int d = open_from(t, 40001);
    /* D, not reading: 4096 of storage, then 8192 (8192 held: at high). */
    for (uint32_t k = 0; k < 8; k++)
        data_at(t, 40001, k * 1000);
    tb_drain(t->tb, 1);
    assert_int_equal(usage(t).tcp_rcv_bytes, 8192);
    assert_int_equal(TCTR(t, tcp_mem_rcv_drop), 0);
    /* The ninth would need 16384: only the 192 bytes the storage has
     * room for are taken; the ACK says so at once. */
    data_at(t, 40001, 8000);
    tseg_expect(t, .flags = ACK, .ack = PEER_ISS + 1 + 8192, .len = 0);
    assert_int_equal(TCTR(t, tcp_mem_rcv_drop), 1);
    assert_int_equal(TCTR(t, tcp_rcvbuf_trim), 0);
    assert_int_equal(usage(t).tcp_rcv_bytes, 8192);
    assert_true(usage(t).tcp_pressure);
    assert_int_equal(TCTR(t, tcp_mem_pressures), 1);

    /* A new connection E still gets its first 4 KiB (the stack is at
     * high), and offers a window of just that (no 4 segments more: at
     * high). What the peer sends beyond it is trimmed as out of window. */
    int e = open_from(t, 40002);
    assert_int_equal(t->th.win, 4096); /* the SYN-ACK's */
    for (uint32_t k = 0; k < 5; k++)
        data_at(t, 40002, k * 1000);
    tb_drain(t->tb, 1);
    assert_int_equal(usage(t).tcp_rcv_bytes, 8192 + 4096);
    assert_int_equal(TCTR(t, tcp_mem_rcv_drop), 1);
    assert_int_equal(TCTR(t, tcp_rcvbuf_trim), 904);
    assert_int_equal(tt_tp(t, e)->rcvbuf.len, 4096);

    /* D sends: its send ring gets its first 4 KiB (send() takes 4096 of
     * 10000), and under pressure the buffer does not grow (16384, where
     * it would be 2 initial windows, 29200). */
    uint8_t buf[10000];
    for (uint32_t i = 0; i < sizeof(buf); i++)
        buf[i] = tt_pat(OUR_ISS + 1 + i);
    assert_int_equal(ns_send(tt_st(t), d, buf, sizeof(buf), 0), 4096);
    assert_int_equal(TCTR(t, tcp_mem_snd_refused), 1);
    assert_int_equal(tt_tp(t, d)->sndbuf.cap, 16384);
    assert_int_equal(usage(t).tcp_snd_bytes, 4096);
    t->peer_port = 40001;
    tseg_expect(t, .flags = ACK, .seq = OUR_ISS + 1, .len = 1460, .pat = true);
    tseg_expect(t, .flags = ACK, .seq = OUR_ISS + 1 + 1460, .len = 1460, .pat = true);
    tseg_expect(t, .flags = ACK | PSH, .seq = OUR_ISS + 1 + 2920, .len = 1176, .pat = true);
    /* The storage is full until acknowledged: no more, and no POLLOUT. */
    errno = 0;
    assert_int_equal(ns_send(tt_st(t), d, buf + 4096, sizeof(buf) - 4096, 0), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(tt_poll(t, d, POLLOUT) & POLLOUT, 0);
    /* The peer acknowledges it all: the emptied ring is given back
     * (pressure), and send() may start again. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = PEER_ISS + 1 + 8192, .ack = OUR_ISS + 1 + 4096);
    assert_int_equal(usage(t).tcp_snd_bytes, 0);
    assert_int_equal(tt_poll(t, d, POLLOUT) & POLLOUT, POLLOUT);

    /* D's application reads everything: its storage (8192, grown) goes
     * back too (pressure); the stack is at low (E's 4096): pressure ends.
     * E's storage, emptied after that, goes back as well without
     * pressure: it is still its first allocation (tcp_mem_reclaim). */
    tt_read_pat(t, d, PEER_ISS + 1, 8192);
    assert_int_equal(usage(t).tcp_rcv_bytes, 4096);
    assert_false(usage(t).tcp_pressure);
    tt_read_pat(t, e, PEER_ISS + 1, 4096);
    tb_drain(t->tb, 1);
    assert_int_equal(usage(t).tcp_bytes, 0);
    /* Without pressure the send buffer grows again when written. */
    assert_int_equal(ns_send(tt_st(t), d, buf + 4096, 100, 0), 100);
    assert_true(tt_tp(t, d)->sndbuf.cap > 16384);
    tb_drain(t->tb, 1);
    tt_free(t);
}

/* Queued data the ring cannot take (above high) stays queued, not
 * dropped, and moves in when the application reads, with the FIN it
 * reaches; the ACK for it goes out then. */
static void test_queued_data_waits_for_the_reader(void **state)
{
    (void)state;
    const uint64_t limit = 3 * (uint64_t)tcp_reass_seg_mem(1000) + 4096;
    struct tt *t = bench(0, limit, limit);
    int d = open_from(t, 40001);
    /* 4096..7096 out of order, the FIN with the last: 3 S, below pressure. */
    data_at(t, 40001, 4096);
    data_at(t, 40001, 5096);
    tseg_send(t, t->now, .flags = ACK | FIN, .seq = PEER_ISS + 1 + 6096, .ack = OUR_ISS + 1,
              .len = 1000);
    tb_drain(t->tb, 1);
    assert_int_equal(usage(t).tcp_ooo_bytes, 3 * S);
    /* 0..4096 in order: the ring's first 4096 bytes, full; moving the queue
     * in would need 8192 of storage, past high: it stays queued. */
    for (uint32_t k = 0; k < 4; k++)
        data_at(t, 40001, k * 1000);
    tb_drain(t->tb, 1);
    tseg_send(t, t->now, .flags = ACK, .seq = PEER_ISS + 1 + 4000, .ack = OUR_ISS + 1, .len = 96);
    tseg_expect(t, .flags = ACK, .ack = PEER_ISS + 1 + 4096, .len = 0);
    assert_int_equal(usage(t).tcp_rcv_bytes, 4096);
    assert_int_equal(usage(t).tcp_ooo_bytes, 3 * S);
    assert_int_equal(tt_state(t, d), TCPS_ESTABLISHED);
    assert_int_equal(TCTR(t, tcp_mem_ooo_drop), 0);
    /* The application reads: the queue moves in, the FIN is reached. */
    tt_read_pat(t, d, PEER_ISS + 1, 4096);
    tseg_expect(t, .flags = ACK, .ack = PEER_ISS + 1 + 7096 + 1, .len = 0);
    assert_int_equal(tt_state(t, d), TCPS_CLOSE_WAIT);
    assert_int_equal(usage(t).tcp_ooo_bytes, 0);
    tt_read_pat(t, d, PEER_ISS + 1 + 4096, 3000);
    uint8_t b[8];
    assert_int_equal(ns_recv(tt_st(t), d, b, sizeof(b), 0), 0); /* EOF */
    tt_free(t);
}

/* The defaults, and thresholds out of order are refused. */
static void test_config_thresholds_must_be_ordered(void **state)
{
    (void)state;
    struct ns_config cfg;
    ns_config_default(&cfg);
    assert_int_equal(cfg.tcp_mem_low, 96u << 20);
    assert_int_equal(cfg.tcp_mem_pressure, 128u << 20);
    assert_int_equal(cfg.tcp_mem_high, 192u << 20);
    cfg.tcp_mem_low = cfg.tcp_mem_pressure + 1;
    assert_null(ns_stack_new(&cfg, 0));
    ns_config_default(&cfg);
    cfg.tcp_mem_high = cfg.tcp_mem_pressure - 1;
    assert_null(ns_stack_new(&cfg, 0));
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ooo_admitted_to_pressure_then_pruned_from_the_top),
        cmocka_unit_test(test_ring_growth_prunes_the_stalest_queue_first),
        cmocka_unit_test(test_above_high_nothing_grows_but_the_first_4k),
        cmocka_unit_test(test_queued_data_waits_for_the_reader),
        cmocka_unit_test(test_config_thresholds_must_be_ordered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
