/* tests/unit/test_tcp_states.c — TCP's state machine in the protocol's own
 * terms (tests/tcpseg.h): opening (RFC 9293 §3.5), closing (§3.6), resets
 * (§3.5.2, §3.10.7), RFC 5961 blind-attack defences, listen queues,
 * TIME_WAIT reuse (RFC 6191), ICMP (RFC 5927) and the socket errors of
 * each state (Linux tcp(7)).
 *
 * Our ISS is ISS (via the ISN hook), the peer's PISS; the peer is
 * 192.0.2.10:40000, we are 192.0.2.1:80.
 */
#include "tcpseg.h"

#define ISS 1000u
#define PISS 5000u

/* ---- opening --------------------------------------------------------------------- */

static void test_active_open(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    t->isn = ISS;
    int fd = tt_connect_start(t, tt_socket(t));
    /* RFC 9293 §3.5: <SEQ=ISS><CTL=SYN> with our MSS (1500 - 40). */
    tseg_expect(t, .flags = SYN, .seq = ISS, .ack = 0, .mss = 1460, .win = 65535, .len = 0);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_SYN_SENT);
    assert_int_equal(tt_poll(t, fd, POLLOUT), 0);

    tseg_send(t, t->now + 10 * US_MS, .flags = SYN | ACK, .seq = PISS, .ack = ISS + 1,
              .mss = 1200);
    tseg_expect(t, .flags = ACK, .seq = ISS + 1, .ack = PISS + 1, .len = 0, .mss = TNONE);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    assert_int_equal(tt_poll(t, fd, POLLOUT), POLLOUT);
    assert_int_equal(tt_so_error(t, fd), 0);

    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    assert_int_equal(ns_getpeername(st, fd, (struct sockaddr *)&a, &len), 0);
    assert_int_equal(ntohl(a.sin_addr.s_addr), TT_PEER_IP);
    assert_int_equal(ntohs(a.sin_port), TT_PEER_PORT);
    len = sizeof(a);
    assert_int_equal(ns_getsockname(st, fd, (struct sockaddr *)&a, &len), 0);
    assert_int_equal(ntohl(a.sin_addr.s_addr), TT_OUR_IP);
    assert_int_equal(ntohs(a.sin_port), TT_OUR_PORT);
    /* The peer's MSS option bounds our segments. */
    assert_int_equal(tt_info(t, fd).tcpi_snd_mss, 1200);
    tt_free(t);
}

static void test_passive_open(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int lfd = tt_listen(t, 4);
    t->isn = ISS;
    tseg_send(t, t->now, .flags = SYN, .seq = PISS, .mss = 1400, .win = 8192);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS, .ack = PISS + 1, .mss = 1460, .len = 0);
    tseg_expect_none(t);
    /* Not accepted before the handshake completes. */
    errno = 0;
    assert_int_equal(ns_accept(st, lfd, NULL, NULL), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(tt_poll(t, lfd, POLLIN), 0);

    tseg_send(t, t->now + 1000, .flags = ACK, .seq = PISS + 1, .ack = ISS + 1, .win = 8192);
    tseg_expect_none(t);
    assert_int_equal(tt_poll(t, lfd, POLLIN), POLLIN);
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = ns_accept(st, lfd, (struct sockaddr *)&a, &len);
    assert_true(fd >= 0);
    assert_int_equal(ntohl(a.sin_addr.s_addr), TT_PEER_IP);
    assert_int_equal(ntohs(a.sin_port), TT_PEER_PORT);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    assert_int_equal(tt_info(t, fd).tcpi_snd_mss, 1400);
    assert_int_equal(tt_tp(t, fd)->snd_wnd, 8192);
    assert_int_equal(TCTR(t, tcp_passive_opens), 1);
    tt_free(t);
}

static void test_rst_to_syn_refused(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    t->isn = ISS;
    int fd = tt_connect_start(t, tt_socket(t));
    tseg_expect(t, .flags = SYN, .seq = ISS);
    /* RFC 9293 §3.10.7.3: an acceptable ACK with RST: "connection reset". */
    tseg_send(t, t->now + 1000, .flags = RST | ACK, .seq = 0, .ack = ISS + 1, .win = 0);
    tseg_expect_none(t);
    short ev = tt_poll(t, fd, POLLOUT);
    assert_true(ev & POLLERR);
    assert_int_equal(tt_so_error(t, fd), ECONNREFUSED);
    assert_int_equal(tt_so_error(t, fd), 0);

    /* Second socket: the failed non-blocking connect reports its error
     * to the next connect() (Linux __inet_stream_connect), no new SYN. */
    t->our_port = 81;
    t->isn = ISS + 77;
    int fd2 = tt_connect_start(t, tt_socket(t));
    tseg_expect(t, .flags = SYN, .seq = ISS + 77, .sport = 81);
    tseg_send(t, t->now + 1000, .flags = RST | ACK, .seq = 0, .ack = ISS + 78, .win = 0,
              .dport = 81);
    assert_true(tt_poll(t, fd2, POLLOUT | POLLIN) & POLLERR);
    struct sockaddr_in peer = tt_sin(TT_PEER_IP, TT_PEER_PORT);
    errno = 0;
    assert_int_equal(ns_connect(st, fd2, (struct sockaddr *)&peer, sizeof(peer)), -1);
    assert_int_equal(errno, ECONNREFUSED);
    tseg_expect_none(t);
    /* An RST without an acceptable ACK is ignored in SYN-SENT. */
    t->our_port = 82;
    int fd3 = tt_connect_start(t, tt_socket(t));
    tseg_expect(t, .flags = SYN, .sport = 82);
    tseg_send(t, t->now + 1000, .flags = RST | ACK, .seq = 0, .ack = ISS + 5000, .dport = 82);
    tseg_send(t, t->now + 1000, .flags = RST, .seq = 0, .dport = 82);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd3), TCPS_SYN_SENT);
    assert_int_equal(tt_so_error(t, fd3), 0);
    tt_free(t);
}

static void test_syn_to_closed_port(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    /* RFC 9293 §3.10.7.1: no ACK bit: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
    tseg_send(t, t->now, .flags = SYN, .seq = 0xfffffffeu, .mss = 1460, .dport = 9);
    tseg_expect(t, .flags = RST | ACK, .seq = 0, .ack = 0xffffffffu, .sport = 9,
                .dport = TT_PEER_PORT, .len = 0);
    /* With data and FIN, SEG.LEN counts them all. */
    tseg_send(t, t->now, .flags = SYN | FIN, .seq = 0xfffffff0u, .len = 20, .dport = 9);
    tseg_expect(t, .flags = RST | ACK, .seq = 0, .ack = 0xfffffff0u + 22, .sport = 9);
    tseg_expect_none(t);
    assert_int_equal(TCTR(t, tcp_drop_no_socket), 2);
    tt_free(t);
}

static void test_ack_to_closed_port(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    /* RFC 9293 §3.10.7.1: ACK bit on: <SEQ=SEG.ACK><CTL=RST>. */
    tseg_send(t, t->now, .flags = ACK, .seq = 123, .ack = 0x80000001u, .len = 10, .dport = 9);
    tseg_expect(t, .flags = RST, .seq = 0x80000001u, .ack = 0, .sport = 9, .len = 0);
    /* An RST is never answered. */
    tseg_send(t, t->now, .flags = RST | ACK, .seq = 123, .ack = 5, .dport = 9);
    tseg_expect_none(t);
    tt_free(t);
}

static void test_simultaneous_open(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    t->isn = ISS;
    int fd = tt_connect_start(t, tt_socket(t));
    tseg_expect(t, .flags = SYN, .seq = ISS);
    /* RFC 9293 §3.5 figure 7: the SYNs cross. */
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .mss = 1460);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS, .ack = PISS + 1, .mss = 1460);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_SYN_RECEIVED);
    assert_int_equal(tt_poll(t, fd, POLLOUT), 0);
    /* The peer's own SYN-ACK (it is in SYN-RECEIVED too) completes the
     * handshake; no SYN-ACK is repeated (that would ping-pong forever
     * between two such stacks). */
    tseg_send(t, t->now + 100, .flags = SYN | ACK, .seq = PISS, .ack = ISS + 1, .mss = 1460);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    while (tt_pending(t))
        tseg_expect(t, .flags = ACK, .seq = ISS + 1, .ack = PISS + 1);
    assert_int_equal(tt_poll(t, fd, POLLOUT), POLLOUT);
    /* Data flows. */
    tseg_send(t, t->now + 100, .flags = ACK | PSH, .seq = PISS + 1, .ack = ISS + 1, .len = 5);
    tt_read_pat(t, fd, PISS + 1, 5);
    tt_free(t);
}

static void test_simultaneous_open_plain_ack(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    t->isn = ISS;
    int fd = tt_connect_start(t, tt_socket(t));
    tseg_expect(t, .flags = SYN, .seq = ISS);
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS, .ack = PISS + 1, .mss = 1460);
    /* A peer that answers our SYN-ACK with a bare ACK. */
    tseg_send(t, t->now + 100, .flags = ACK, .seq = PISS + 1, .ack = ISS + 1);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    /* No MSS option from the peer: RFC 9293 §3.7.1 default 536. */
    assert_int_equal(tt_info(t, fd).tcpi_snd_mss, 536);
    tt_free(t);
}

/* ---- closing --------------------------------------------------------------------- */

static void test_close_active_states(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.tcp_msl_us = 2 * US_S;
    struct tt *t = tt_new_cfg(&cfg, 1500);
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    ns_close(tt_st(t), fd);
    /* FIN-WAIT-1: <SEQ=ISS+1><ACK=PISS+1><CTL=FIN,ACK>. */
    tseg_expect(t, .flags = FIN | ACK, .seq = ISS + 1, .ack = PISS + 1, .len = 0);
    tseg_expect_none(t);
    assert_int_equal(tt_lookup(t)->state, TCPS_FIN_WAIT_1);
    /* Our FIN acknowledged: FIN-WAIT-2, nothing sent. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = PISS + 1, .ack = ISS + 2);
    tseg_expect_none(t);
    assert_int_equal(tt_lookup(t)->state, TCPS_FIN_WAIT_2);
    /* The peer's FIN: TIME-WAIT, acknowledged at once. */
    uint64_t tw = t->now + 1000;
    tseg_send(t, tw, .flags = FIN | ACK, .seq = PISS + 1, .ack = ISS + 2);
    tseg_expect(t, .flags = ACK, .seq = ISS + 2, .ack = PISS + 2, .len = 0);
    tseg_expect_none(t);
    assert_int_equal(tt_lookup(t)->state, TCPS_TIME_WAIT);
    /* RFC 9293 §3.6.1: TIME-WAIT lasts 2 MSL, exactly. */
    tt_at(t, tw + 4 * US_S - 1);
    assert_non_null(tt_lookup(t));
    tt_at(t, tw + 4 * US_S);
    assert_null(tt_lookup(t));
    tseg_expect_none(t);
    tt_free(t);
}

static void test_close_passive_states(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int fd = tt_open_passive(t, ISS, PISS, 65535, 1460);
    /* The peer closes: CLOSE-WAIT, its FIN acknowledged at once. */
    tseg_send(t, t->now + 1000, .flags = FIN | ACK, .seq = PISS + 1, .ack = ISS + 1);
    tseg_expect(t, .flags = ACK, .seq = ISS + 1, .ack = PISS + 2);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSE_WAIT);
    char b[8];
    assert_int_equal(ns_recv(st, fd, b, sizeof(b), 0), 0);
    assert_true(tt_poll(t, fd, POLLIN) & POLLIN);
    /* We can still send in CLOSE-WAIT. */
    tt_write(t, fd, ISS + 1, 3);
    tseg_expect(t, .flags = ACK | PSH, .seq = ISS + 1, .ack = PISS + 2, .len = 3, .pat = true);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = PISS + 2, .ack = ISS + 4);
    /* Our close: LAST-ACK with our FIN. */
    ns_close(st, fd);
    tseg_expect(t, .flags = FIN | ACK, .seq = ISS + 4, .ack = PISS + 2);
    assert_int_equal(tt_lookup(t)->state, TCPS_LAST_ACK);
    /* A retransmitted FIN of the peer in LAST-ACK is acknowledged. */
    tseg_send(t, t->now + 1000, .flags = FIN | ACK, .seq = PISS + 1, .ack = ISS + 4);
    tseg_expect(t, .flags = ACK, .ack = PISS + 2);
    assert_int_equal(tt_lookup(t)->state, TCPS_LAST_ACK);
    /* The ACK of our FIN: CLOSED, gone at once. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = PISS + 2, .ack = ISS + 5);
    tseg_expect_none(t);
    assert_null(tt_lookup(t));
    tt_free(t);
}

static void test_simultaneous_close(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    assert_int_equal(ns_shutdown(tt_st(t), fd, SHUT_WR), 0);
    tseg_expect(t, .flags = FIN | ACK, .seq = ISS + 1, .ack = PISS + 1);
    assert_int_equal(tt_state(t, fd), TCPS_FIN_WAIT_1);
    /* The FINs cross: the peer's does not acknowledge ours. */
    tseg_send(t, t->now + 1000, .flags = FIN | ACK, .seq = PISS + 1, .ack = ISS + 1);
    tseg_expect(t, .flags = ACK, .seq = ISS + 2, .ack = PISS + 2);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSING);
    /* The peer acknowledges our FIN: TIME-WAIT. */
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = PISS + 2, .ack = ISS + 2);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_TIME_WAIT);
    char b[4];
    assert_int_equal(ns_recv(tt_st(t), fd, b, sizeof(b), 0), 0);
    tt_free(t);
}

/* TCP_INFO's tcpi_state is Linux's number for the state (TCP_ESTABLISHED
 * .. TCP_CLOSING, netinet/tcp.h), as tcp_get_info reports it and iperf3
 * and ss-style tools read it, in every state a socket can be seen in. */
static void test_tcp_info_state(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    t->isn = ISS;
    int fd = tt_socket(t);
    assert_int_equal(tt_info(t, fd).tcpi_state, TCP_CLOSE);
    tt_connect_start(t, fd);
    tseg_expect(t, .flags = SYN, .seq = ISS);
    assert_int_equal(tt_info(t, fd).tcpi_state, TCP_SYN_SENT);
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .mss = 1460);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS, .ack = PISS + 1, .mss = 1460);
    assert_int_equal(tt_state(t, fd), TCPS_SYN_RECEIVED);
    assert_int_equal(tt_info(t, fd).tcpi_state, TCP_SYN_RECV);
    tseg_send(t, t->now + 100, .flags = ACK, .seq = PISS + 1, .ack = ISS + 1);
    assert_int_equal(tt_info(t, fd).tcpi_state, TCP_ESTABLISHED);
    assert_int_equal(ns_shutdown(st, fd, SHUT_WR), 0);
    tseg_expect(t, .flags = FIN | ACK, .seq = ISS + 1, .ack = PISS + 1);
    assert_int_equal(tt_info(t, fd).tcpi_state, TCP_FIN_WAIT1);
    tseg_send(t, t->now + 100, .flags = ACK, .seq = PISS + 1, .ack = ISS + 2);
    assert_int_equal(tt_info(t, fd).tcpi_state, TCP_FIN_WAIT2);
    tseg_send(t, t->now + 100, .flags = FIN | ACK, .seq = PISS + 1, .ack = ISS + 2);
    tseg_expect(t, .flags = ACK, .seq = ISS + 2, .ack = PISS + 2);
    assert_int_equal(tt_info(t, fd).tcpi_state, TCP_TIME_WAIT);
    tt_free(t);

    /* The passive side: LISTEN, CLOSE-WAIT, LAST-ACK. */
    t = tt_new();
    st = tt_st(t);
    int lfd = tt_listen(t, 4);
    assert_int_equal(tt_info(t, lfd).tcpi_state, TCP_LISTEN);
    tt_free(t);
    t = tt_new();
    st = tt_st(t);
    fd = tt_open_passive(t, ISS, PISS, 65535, 1460);
    tseg_send(t, t->now + 100, .flags = FIN | ACK, .seq = PISS + 1, .ack = ISS + 1);
    tseg_expect(t, .flags = ACK, .seq = ISS + 1, .ack = PISS + 2);
    assert_int_equal(tt_info(t, fd).tcpi_state, TCP_CLOSE_WAIT);
    assert_int_equal(ns_shutdown(st, fd, SHUT_WR), 0);
    tseg_expect(t, .flags = FIN | ACK, .seq = ISS + 1, .ack = PISS + 2);
    assert_int_equal(tt_info(t, fd).tcpi_state, TCP_LAST_ACK);
    tt_free(t);

    /* The FINs cross: CLOSING. */
    t = tt_new();
    st = tt_st(t);
    fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    assert_int_equal(ns_shutdown(st, fd, SHUT_WR), 0);
    tseg_expect(t, .flags = FIN | ACK, .seq = ISS + 1, .ack = PISS + 1);
    tseg_send(t, t->now + 100, .flags = FIN | ACK, .seq = PISS + 1, .ack = ISS + 1);
    tseg_expect(t, .flags = ACK, .seq = ISS + 2, .ack = PISS + 2);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSING);
    assert_int_equal(tt_info(t, fd).tcpi_state, TCP_CLOSING);
    tt_free(t);
}

static void test_half_close(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    assert_int_equal(ns_shutdown(st, fd, SHUT_WR), 0);
    tseg_expect(t, .flags = FIN | ACK, .seq = ISS + 1, .ack = PISS + 1);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = PISS + 1, .ack = ISS + 2);
    assert_int_equal(tt_state(t, fd), TCPS_FIN_WAIT_2);
    /* Writing is over: EPIPE. */
    errno = 0;
    assert_int_equal(ns_send(st, fd, "x", 1, 0), -1);
    assert_int_equal(errno, EPIPE);
    /* Reading is not. */
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = PISS + 1, .ack = ISS + 2, .len = 100);
    tt_read_pat(t, fd, PISS + 1, 100);
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = PISS + 101, .ack = ISS + 2, .len = 50);
    tt_read_pat(t, fd, PISS + 101, 50);
    tt_read_none(t, fd);
    /* The peer's FIN: end of stream. */
    tseg_send(t, t->now + 1000, .flags = FIN | ACK, .seq = PISS + 151, .ack = ISS + 2);
    tseg_expect(t, .flags = ACK, .seq = ISS + 2, .ack = PISS + 152);
    tseg_expect_none(t);
    char b[8];
    assert_int_equal(ns_recv(st, fd, b, sizeof(b), 0), 0);
    assert_int_equal(tt_state(t, fd), TCPS_TIME_WAIT);
    tt_free(t);
}

static void test_time_wait_refin(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.tcp_msl_us = 1 * US_S;
    struct tt *t = tt_new_cfg(&cfg, 1500);
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    ns_close(tt_st(t), fd);
    tseg_expect(t, .flags = FIN | ACK, .seq = ISS + 1);
    uint64_t tw = t->now + 1000;
    tseg_send(t, tw, .flags = FIN | ACK, .seq = PISS + 1, .ack = ISS + 2);
    tseg_expect(t, .flags = ACK, .seq = ISS + 2, .ack = PISS + 2);
    assert_int_equal(tt_lookup(t)->state, TCPS_TIME_WAIT);
    /* RFC 9293 §3.10.7.4: a retransmitted FIN in TIME-WAIT is acknowledged
     * and the 2 MSL timeout restarted. */
    uint64_t refin = tw + 1500 * US_MS;
    tseg_send(t, refin, .flags = FIN | ACK, .seq = PISS + 1, .ack = ISS + 2);
    tseg_expect(t, .flags = ACK, .seq = ISS + 2, .ack = PISS + 2);
    tseg_expect_none(t);
    tt_at(t, refin + 2 * US_S - 1);
    assert_non_null(tt_lookup(t));
    tt_at(t, refin + 2 * US_S);
    assert_null(tt_lookup(t));
    tt_free(t);
}

/* TIME-WAIT as Linux tcp_timewait_state_process (FreeBSD tcp_twcheck):
 * nothing in a segment is taken any more; every segment but a bare ACK or
 * RST exactly at RCV.NXT is answered with an ACK of what was received
 * (the original FIN). */
static void test_time_wait_answers(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.tcp_msl_us = 1 * US_S;
    struct tt *t = tt_new_cfg(&cfg, 1500);
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    ns_close(tt_st(t), fd);
    tseg_expect(t, .flags = FIN | ACK, .seq = ISS + 1);
    tseg_send(t, t->now + 1000, .flags = FIN | ACK, .seq = PISS + 1, .ack = ISS + 2);
    tseg_expect(t, .flags = ACK, .seq = ISS + 2, .ack = PISS + 2);
    struct tcpcb *tp = tt_lookup(t);
    assert_int_equal(tp->state, TCPS_TIME_WAIT);

    /* An ACK above RCV.NXT, inside the window: answered (it was dropped
     * silently), and the 2 MSL timer restarts, as Linux. */
    uint64_t t1 = t->now + 100 * US_MS;
    tseg_send(t, t1, .flags = ACK, .seq = PISS + 2 + 100, .ack = ISS + 2);
    tseg_expect(t, .flags = ACK, .seq = ISS + 2, .ack = PISS + 2, .len = 0);
    tseg_expect_none(t);
    /* ... at most once per 500 ms for bare ACKs (tcp_oow_rate_limited). */
    tseg_send(t, t1 + 1000, .flags = ACK, .seq = PISS + 2 + 200, .ack = ISS + 2);
    tseg_expect_none(t);

    /* A second FIN, at RCV.NXT: RCV.NXT stays past the first one; the
     * ACK acknowledges that FIN only. */
    tseg_send(t, t1 + 2000, .flags = FIN | ACK, .seq = PISS + 2, .ack = ISS + 2);
    tseg_expect(t, .flags = ACK, .seq = ISS + 2, .ack = PISS + 2);
    tseg_expect_none(t);
    assert_int_equal(tp->rcv_nxt, PISS + 2);
    /* Data at RCV.NXT: not taken, answered. */
    tseg_send(t, t1 + 3000, .flags = ACK | PSH, .seq = PISS + 2, .ack = ISS + 2, .len = 10);
    tseg_expect(t, .flags = ACK, .seq = ISS + 2, .ack = PISS + 2, .len = 0);
    tseg_expect_none(t);
    assert_int_equal(tp->rcv_nxt, PISS + 2);
    /* A bare ACK exactly at RCV.NXT: nothing to answer. */
    tseg_send(t, t1 + 4000, .flags = ACK, .seq = PISS + 2, .ack = ISS + 2);
    tseg_expect_none(t);
    /* A RST in the window but not at RCV.NXT: ignored (Linux sends no
     * challenge ACK in TIME-WAIT). */
    tseg_send(t, t1 + 5000, .flags = RST, .seq = PISS + 2 + 10);
    tseg_expect_none(t);
    assert_non_null(tt_lookup(t));
    /* The timer restarted with the last segment carrying an ACK. */
    uint64_t last = t1 + 4000;
    tt_at(t, last + 2 * US_S - 1);
    assert_non_null(tt_lookup(t));
    /* A RST at RCV.NXT ends TIME-WAIT (Linux tcp_rfc1337 = 0). */
    tseg_send(t, last + 2 * US_S - 1, .flags = RST, .seq = PISS + 2);
    tseg_expect_none(t);
    assert_null(tt_lookup(t));
    tt_free(t);
}

static void test_abort_linger_zero(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(ns_setsockopt(tt_st(t), fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
    ns_close(tt_st(t), fd);
    /* RFC 9293 §3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST>, no FIN. */
    const struct ns_tcp_repr *th = tseg_expect(t, .seq = ISS + 1, .len = 0);
    assert_true(th->flags & RST);
    assert_false(th->flags & FIN);
    tseg_expect_none(t);
    assert_null(tt_lookup(t));
    tt_free(t);
}

static void test_close_unread_data_resets(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = PISS + 1, .ack = ISS + 1, .len = 10);
    tb_drain(t->tb, 1); /* whatever ACK policy */
    ns_close(tt_st(t), fd);
    /* RFC 2525 §2.17: unread data -> RST, not FIN. */
    const struct ns_tcp_repr *th = tseg_expect(t, .seq = ISS + 1, .len = 0);
    assert_true(th->flags & RST);
    assert_false(th->flags & FIN);
    tseg_expect_none(t);
    assert_null(tt_lookup(t));
    tt_free(t);
}

/* Data arriving after close(): the connection is reset (Linux
 * tcp_rcv_state_process, RFC 9293 §3.10.4 allows it), and the RST takes
 * its sequence number from the segment's ACK field (RFC 9293 §3.10.7.1,
 * Linux tcp_v4_send_reset), not from SND.NXT: our FIN is not yet
 * acknowledged, so SND.NXT lies one past what the peer expects, and an
 * RFC 5961 peer answers such a RST with a challenge ACK instead of
 * closing. */
static void test_data_after_close_reset_seq(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    ns_close(tt_st(t), fd);
    tseg_expect(t, .flags = FIN | ACK, .seq = ISS + 1, .ack = PISS + 1);
    assert_int_equal(tt_lookup(t)->state, TCPS_FIN_WAIT_1);
    uint64_t after = TCTR(t, tcp_drop_after_close);
    /* The peer has not seen our FIN yet and sends data. */
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = PISS + 1, .ack = ISS + 1, .len = 10);
    tseg_expect(t, .flags = RST, .seq = ISS + 1, .ack = 0, .len = 0);
    tseg_expect_none(t);
    assert_null(tt_lookup(t));
    assert_int_equal(TCTR(t, tcp_drop_after_close), after + 1);
    tt_free(t);

    /* Our FIN acknowledged (FIN-WAIT-2): the RST is at SEG.ACK = SND.NXT. */
    t = tt_new();
    fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    ns_close(tt_st(t), fd);
    tseg_expect(t, .flags = FIN | ACK, .seq = ISS + 1);
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = PISS + 1, .ack = ISS + 2, .len = 10);
    tseg_expect(t, .flags = RST, .seq = ISS + 2, .len = 0);
    tseg_expect_none(t);
    assert_null(tt_lookup(t));
    tt_free(t);
}

/* ---- RFC 5961 ---------------------------------------------------------------------- */

static void test_rst_in_window_challenge(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    /* RFC 5961 §3.2: in the window but not RCV.NXT: challenge ACK. */
    tseg_send(t, t->now + 1000, .flags = RST, .seq = PISS + 1 + 100);
    tseg_expect(t, .flags = ACK, .seq = ISS + 1, .ack = PISS + 1, .len = 0);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    assert_int_equal(TCTR(t, tcp_challenge_acks), 1);
    /* One below RCV.NXT is outside the window: ignored silently. */
    tseg_send(t, t->now + 1000, .flags = RST, .seq = PISS);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    tt_read_none(t, fd);
    tt_free(t);
}

static void test_rst_exact_resets(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    tseg_send(t, t->now + 1000, .flags = RST, .seq = PISS + 1);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSED);
    char b[4];
    errno = 0;
    assert_int_equal(ns_recv(st, fd, b, sizeof(b), 0), -1);
    assert_int_equal(errno, ECONNRESET);
    /* After the reset has been reported, writing gives EPIPE. */
    errno = 0;
    assert_int_equal(ns_send(st, fd, "x", 1, 0), -1);
    assert_int_equal(errno, EPIPE);
    assert_int_equal(TCTR(t, tcp_estab_resets), 1);
    tt_free(t);
}

static void test_rst_out_of_window_ignored(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    uint32_t wnd = tt_tp(t, fd)->rcv_adv - tt_tp(t, fd)->rcv_nxt;
    assert_true(wnd > 0);
    tseg_send(t, t->now + 1000, .flags = RST, .seq = PISS + 1 + wnd);
    tseg_send(t, t->now + 1000, .flags = RST | ACK, .seq = PISS + 1 + 0x40000000u, .ack = ISS + 1);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    assert_int_equal(TCTR(t, tcp_drop_rst_ignored), 2);
    /* The last byte of the window is in it: challenge. */
    tseg_send(t, t->now + 1000, .flags = RST, .seq = PISS + wnd);
    tseg_expect(t, .flags = ACK, .seq = ISS + 1, .ack = PISS + 1);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    tt_free(t);
}

/* RFC 5961 §4.2, as Linux tcp_validate_incoming: any SYN on a
 * synchronized connection — in the window, at RCV.NXT with data, or
 * outside the window — is answered with a challenge ACK and dropped,
 * counted in tcp_syn_challenge. */
static void test_syn_in_established_challenge(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    tseg_send(t, t->now + 1000, .flags = SYN, .seq = PISS + 1 + 10);
    tseg_expect(t, .flags = ACK, .seq = ISS + 1, .ack = PISS + 1, .len = 0);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    assert_int_equal(TCTR(t, tcp_challenge_acks), 1);
    assert_int_equal(TCTR(t, tcp_syn_challenge), 1);
    /* Exactly at RCV.NXT, and with data: still no reset, no data. */
    tseg_send(t, t->now + 600 * US_MS, .flags = SYN | ACK, .seq = PISS + 1, .ack = ISS + 1,
              .len = 10);
    tseg_expect(t, .flags = ACK, .seq = ISS + 1, .ack = PISS + 1, .len = 0);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    tt_read_none(t, fd);
    /* Outside the window: a challenge ACK too (it was an ACK that no
     * limit applied to), not the unacceptable segment's plain ACK. */
    tseg_send(t, t->now + 600 * US_MS, .flags = SYN, .seq = PISS + 1 + 0x40000000u);
    tseg_expect(t, .flags = ACK, .seq = ISS + 1, .ack = PISS + 1, .len = 0);
    tseg_expect_none(t);
    assert_int_equal(TCTR(t, tcp_challenge_acks), 3);
    assert_int_equal(TCTR(t, tcp_syn_challenge), 3);
    assert_int_equal(TCTR(t, tcp_drop_out_of_window), 0);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    tt_free(t);
}

static void test_ack_of_unsent_data(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    /* RFC 9293 §3.10.7.4 / RFC 5961 §5.2: SEG.ACK > SND.NXT: send an ACK,
     * drop the segment (its data too). */
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = PISS + 1, .ack = ISS + 1 + 1000,
              .len = 10);
    tseg_expect(t, .flags = ACK, .seq = ISS + 1, .ack = PISS + 1, .len = 0);
    tseg_expect_none(t);
    tt_read_none(t, fd);
    assert_int_equal(tt_tp(t, fd)->snd_una, ISS + 1);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    tt_free(t);
}

static void test_ack_too_old_challenge(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    assert_int_equal(tt_tp(t, fd)->max_sndwnd, 65535);
    /* SEG.ACK < SND.UNA - MAX.SND.WND: challenge ACK, data dropped. */
    uint64_t ch = TCTR(t, tcp_challenge_acks);
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = PISS + 1, .ack = ISS + 1 - 65535 - 1,
              .len = 10);
    tseg_expect(t, .flags = ACK, .seq = ISS + 1, .ack = PISS + 1, .len = 0);
    tseg_expect_none(t);
    tt_read_none(t, fd);
    assert_int_equal(TCTR(t, tcp_challenge_acks), ch + 1);
    /* SND.UNA - MAX.SND.WND exactly is acceptable (an old duplicate):
     * the data goes through. */
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = PISS + 1, .ack = ISS + 1 - 65535,
              .len = 10);
    tt_read_pat(t, fd, PISS + 1, 10);
    assert_int_equal(TCTR(t, tcp_challenge_acks), ch + 1);
    tt_free(t);
}

/* RFC 5961 §7, as Linux tcp_send_challenge_ack: at most one challenge
 * ACK per 500 ms per connection (tcp_invalid_ratelimit, shared with the
 * ACKs to unacceptable segments), whatever triggers it; by default no
 * stack-wide limit (Linux tcp_challenge_ack_limit = INT_MAX since 6.0:
 * a counter shared by all connections told off-path attackers which
 * 4-tuples and sequence numbers were right, CVE-2016-5696). */
static void test_challenge_ack_rate_limit(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    uint64_t t0 = t->now + 1000;
    unsigned acks = 0;
    /* 1100 in-window RSTs and SYNs within one second: two answered. */
    for (unsigned i = 0; i < 1100; i++) {
        tseg_send(t, t0 + i * 900, .flags = (i & 1) ? SYN : RST, .seq = PISS + 1 + 1 + i);
        while (tt_pending(t)) {
            tseg_expect(t, .flags = ACK, .seq = ISS + 1, .ack = PISS + 1);
            acks++;
        }
    }
    assert_int_equal(acks, 2);
    assert_int_equal(TCTR(t, tcp_challenge_acks), 2);
    assert_int_equal(TCTR(t, tcp_challenge_ack_limited), 1098);
    assert_int_equal(TCTR(t, tcp_syn_challenge), 550);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    /* Another connection has its own allowance. */
    t->peer_port = TT_PEER_PORT + 1;
    t->our_port = TT_OUR_PORT + 1;
    int fd2 = tt_open_active(t, ISS + 5000, PISS, 65535, 1460);
    tseg_send(t, t->now + 1000, .flags = RST, .seq = PISS + 3);
    tseg_expect(t, .flags = ACK, .seq = ISS + 5001, .ack = PISS + 1);
    assert_int_equal(tt_state(t, fd2), TCPS_ESTABLISHED);
    tt_free(t);
}

/* cfg.tcp_challenge_ack_limit: a stack-wide budget per second as well,
 * drawn at random in [limit/2, limit*3/2) as Linux does so that the count
 * answered reveals nothing. */
static void test_challenge_ack_stack_limit(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.tcp_congestion = "newreno";
    cfg.tcp_challenge_ack_limit = 10;
    struct tt *t = tt_new_cfg(&cfg, 1500);
    unsigned acks = 0;
    /* 40 connections, one in-window RST each, within a second. */
    uint64_t t0 = t->now;
    for (unsigned c = 0; c < 40; c++) {
        t->peer_port = (uint16_t)(TT_PEER_PORT + c);
        t->our_port = (uint16_t)(TT_OUR_PORT + c);
        tt_open_active(t, ISS + c * 10000, PISS, 65535, 1460);
        tseg_send(t, t0 + c * 1000, .flags = RST, .seq = PISS + 5);
        while (tt_pending(t)) {
            tseg_expect(t, .flags = ACK, .ack = PISS + 1);
            acks++;
        }
    }
    if (acks < 5 || acks > 14)
        fail_msg("%u challenge ACKs answered, want 5..14", acks);
    assert_int_equal(TCTR(t, tcp_challenge_ack_limited), 40 - acks);
    tt_free(t);
}

/* ---- listen queue --------------------------------------------------------------------- */

static void test_listen_backlog_overflow(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int lfd = tt_listen(t, 2);
    /* Backlog 2: three completed connections wait (Linux: backlog + 1). */
    for (uint16_t i = 0; i < 3; i++) {
        uint16_t port = (uint16_t)(41000 + i);
        t->isn = ISS + i * 1000u;
        tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .sport = port, .mss = 1460);
        tseg_expect(t, .flags = SYN | ACK, .seq = ISS + i * 1000u, .ack = PISS + 1, .dport = port);
        tseg_send(t, t->now + 100, .flags = ACK, .seq = PISS + 1, .ack = ISS + i * 1000u + 1,
                  .sport = port);
        tseg_expect_none(t);
    }
    assert_int_equal(tt_tp(t, lfd)->acceptq_len, 3);
    /* The next SYN is dropped silently (the peer will retry). */
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .sport = 41003, .mss = 1460);
    tseg_expect_none(t);
    assert_int_equal(TCTR(t, tcp_drop_listen_overflow), 1);
    /* One accept makes room; the retried SYN is answered. */
    int c = ns_accept(st, lfd, NULL, NULL);
    assert_true(c >= 0);
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .sport = 41003, .mss = 1460);
    tseg_expect(t, .flags = SYN | ACK, .ack = PISS + 1, .dport = 41003);
    for (int i = 0; i < 2; i++)
        assert_true(ns_accept(st, lfd, NULL, NULL) >= 0);
    tt_free(t);
}

/* A SYN with FIN set, with or without data, is discarded by a listener
 * (Linux tcp_rcv_state_process "if (th->fin) goto discard", FreeBSD
 * tcp_input "drop SYN+FIN"): no SYN,ACK, no embryonic connection. */
static void test_listen_syn_fin_dropped(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    int lfd = tt_listen(t, 8);
    tseg_send(t, t->now + 100, .flags = SYN | FIN, .seq = PISS, .mss = 1460);
    tseg_expect_none(t);
    tseg_send(t, t->now + 100, .flags = SYN | FIN | PSH, .seq = PISS, .mss = 1460, .len = 20,
              .sport = 41001);
    tseg_expect_none(t);
    assert_int_equal(TCTR(t, tcp_drop_syn_fin), 2);
    assert_int_equal(tt_tp(t, lfd)->synq_len, 0);
    assert_null(tt_lookup(t));
    /* An ordinary SYN from the same port is answered. */
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .mss = 1460);
    tseg_expect(t, .flags = SYN | ACK, .ack = PISS + 1);
    assert_int_equal(tt_tp(t, lfd)->synq_len, 1);
    tt_free(t);
}

static void test_synack_retransmit(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int lfd = tt_listen(t, 4);
    t->isn = ISS;
    uint64_t t0 = t->now + 100;
    tseg_send(t, t0, .flags = SYN, .seq = PISS, .mss = 1460);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS, .ack = PISS + 1);
    /* The final ACK is lost: the SYN-ACK is retransmitted after the
     * initial RTO, 1 s (RFC 6298 §2.1), then 2 s later. */
    assert_int_equal(tt_next_tx(t, t0 + 10 * US_S), t0 + US_S);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS, .ack = PISS + 1, .mss = 1460);
    assert_int_equal(tt_next_tx(t, t0 + 10 * US_S), t0 + 3 * US_S);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS, .ack = PISS + 1, .mss = 1460);
    /* A duplicate SYN: SYN-ACK again, at once. */
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .mss = 1460);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS, .ack = PISS + 1);
    tseg_expect_none(t);
    tseg_send(t, t->now + 100, .flags = ACK, .seq = PISS + 1, .ack = ISS + 1);
    int fd = ns_accept(st, lfd, NULL, NULL);
    assert_true(fd >= 0);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    tt_free(t);
}

static void test_time_wait_reuse(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int lfd = tt_listen(t, 4);
    t->isn = ISS;
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .mss = 1460);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS);
    tseg_send(t, t->now + 100, .flags = ACK, .seq = PISS + 1, .ack = ISS + 1);
    int fd = ns_accept(st, lfd, NULL, NULL);
    assert_true(fd >= 0);
    ns_close(st, fd); /* we close first: we end in TIME-WAIT */
    tseg_expect(t, .flags = FIN | ACK, .seq = ISS + 1);
    tseg_send(t, t->now + 100, .flags = FIN | ACK, .seq = PISS + 1, .ack = ISS + 2);
    tseg_expect(t, .flags = ACK, .ack = PISS + 2);
    assert_int_equal(tt_lookup(t)->state, TCPS_TIME_WAIT);

    /* A SYN below the old RCV.NXT does not reopen: the TIME-WAIT ACK. */
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS - 100, .mss = 1460);
    tseg_expect(t, .flags = ACK, .seq = ISS + 2, .ack = PISS + 2);
    tseg_expect_none(t);
    assert_int_equal(tt_lookup(t)->state, TCPS_TIME_WAIT);
    assert_int_equal(TCTR(t, tcp_tw_reuse), 0);

    /* RFC 6191 / RFC 9293 §3.6.1: one above opens a new connection. */
    t->isn = 900000;
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS + 100000, .mss = 1460);
    tseg_expect(t, .flags = SYN | ACK, .seq = 900000, .ack = PISS + 100001);
    assert_int_equal(TCTR(t, tcp_tw_reuse), 1);
    /* Half-open: a syncache entry, no tcpcb yet. */
    assert_null(tt_lookup(t));
    assert_non_null(tt_syncache(t));
    tseg_send(t, t->now + 100, .flags = ACK, .seq = PISS + 100001, .ack = 900001);
    fd = ns_accept(st, lfd, NULL, NULL);
    assert_true(fd >= 0);
    tt_free(t);
}

/* ---- ICMP ------------------------------------------------------------------------------- */

static void test_icmp_port_unreach_syn_sent(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    t->isn = ISS;
    int fd = tt_connect_start(t, tt_socket(t));
    tseg_expect(t, .flags = SYN, .seq = ISS);
    /* RFC 5927 §4.1: a quoted sequence number outside SND.UNA..SND.MAX:
     * ignored. */
    tt_icmp(t, t->now + 100, NS_ICMP_DEST_UNREACH, 3, 0, ISS + 5000);
    assert_int_equal(tt_state(t, fd), TCPS_SYN_SENT);
    assert_int_equal(tt_so_error(t, fd), 0);
    /* In range: the attempt fails with ECONNREFUSED. */
    tt_icmp(t, t->now + 100, NS_ICMP_DEST_UNREACH, 3, 0, ISS);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSED);
    assert_true(tt_poll(t, fd, POLLOUT) & POLLERR);
    assert_int_equal(tt_so_error(t, fd), ECONNREFUSED);
    tseg_expect_none(t);
    tt_free(t);
}

/* ---- socket errors ---------------------------------------------------------------------- */

static void test_connect_errors(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    struct sockaddr_in peer = tt_sin(TT_PEER_IP, TT_PEER_PORT);
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    char b[4];

    /* Never connected: ENOTCONN. */
    int u = tt_socket(t);
    errno = 0;
    assert_int_equal(ns_recv(st, u, b, sizeof(b), 0), -1);
    assert_int_equal(errno, ENOTCONN);
    errno = 0;
    assert_int_equal(ns_getpeername(st, u, (struct sockaddr *)&a, &len), -1);
    assert_int_equal(errno, ENOTCONN);

    t->isn = ISS;
    int fd = tt_connect_start(t, tt_socket(t)); /* EINPROGRESS */
    tseg_expect(t, .flags = SYN, .seq = ISS);
    errno = 0;
    assert_int_equal(ns_connect(st, fd, (struct sockaddr *)&peer, sizeof(peer)), -1);
    assert_int_equal(errno, EALREADY);
    tseg_expect_none(t);
    assert_int_equal(tt_poll(t, fd, POLLOUT), 0);
    tseg_send(t, t->now + 100, .flags = SYN | ACK, .seq = PISS, .ack = ISS + 1, .mss = 1460);
    tseg_expect(t, .flags = ACK);
    assert_int_equal(tt_poll(t, fd, POLLOUT), POLLOUT);
    assert_int_equal(tt_so_error(t, fd), 0);
    /* Linux __inet_stream_connect: the first connect() after the
     * handshake completed says 0 (SS_CONNECTING becomes SS_CONNECTED),
     * later ones EISCONN. */
    assert_int_equal(ns_connect(st, fd, (struct sockaddr *)&peer, sizeof(peer)), 0);
    errno = 0;
    assert_int_equal(ns_connect(st, fd, (struct sockaddr *)&peer, sizeof(peer)), -1);
    assert_int_equal(errno, EISCONN);
    tseg_expect_none(t);
    tt_free(t);
}

/* ---- errors reach the application once, as Linux reports them -------------------- */

/* Blocking calls on the bench: time runs from timer to timer and every
 * segment the stack sends is lost (a peer that went silent). */
static int silent_peer_drive(void *ctx, uint64_t deadline)
{
    struct tt *t = ctx;
    if (deadline == 0)
        return 0;
    uint64_t d = ns_stack_next_deadline(tt_st(t));
    if (d > deadline)
        d = deadline;
    if (d == NS_TIME_NEVER)
        return -EDEADLK;
    tt_at(t, d > t->now ? d : t->now);
    tb_drain(t->tb, 1);
    return 0;
}

static void set_blocking(struct tt *t, int fd)
{
    assert_int_equal(ns_fcntl(tt_st(t), fd, F_SETFL, 0), 0);
    ns_stack_set_driver(tt_st(t), silent_peer_drive, t);
}

/* A user timeout while a blocking send waits for room: the send returns
 * what it queued, and the error is not lost — SO_ERROR (or the next call)
 * says ETIMEDOUT once, then writes give EPIPE and reads end of file
 * (Linux tcp_sendmsg keeps sk_err when it returns a short count). */
static void test_timeout_short_send_keeps_error(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    tt_setint(t, fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 3000);
    set_blocking(t, fd);
    static char big[1 << 20];
    ssize_t n = ns_send(st, fd, big, sizeof(big), 0);
    assert_true(n > 0 && n < (ssize_t)sizeof(big));
    assert_int_equal(tt_tp(t, fd)->state, TCPS_CLOSED);
    assert_int_equal(tt_so_error(t, fd), ETIMEDOUT);
    assert_int_equal(tt_so_error(t, fd), 0);
    char b[4];
    errno = 0;
    assert_int_equal(ns_send(st, fd, "x", 1, 0), -1);
    assert_int_equal(errno, EPIPE);
    assert_int_equal(ns_recv(st, fd, b, sizeof(b), 0), 0);
    tt_free(t);
}

/* The same timeout found by the next call rather than SO_ERROR: a send
 * says ETIMEDOUT once, then EPIPE; a read then finds end of file. */
static void test_timeout_next_call_reports(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    tt_setint(t, fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 3000);
    tt_write(t, fd, ISS + 1, 100);
    for (int i = 0; i < 50 && tt_tp(t, fd)->state != TCPS_CLOSED; i++) {
        tt_at(t, t->now + 200 * US_MS);
        tb_drain(t->tb, 1);
    }
    assert_true(tt_poll(t, fd, POLLOUT) & POLLERR);
    errno = 0;
    assert_int_equal(ns_send(st, fd, "x", 1, 0), -1);
    assert_int_equal(errno, ETIMEDOUT);
    errno = 0;
    assert_int_equal(ns_send(st, fd, "x", 1, 0), -1);
    assert_int_equal(errno, EPIPE);
    char b[4];
    assert_int_equal(ns_recv(st, fd, b, sizeof(b), 0), 0);
    assert_int_equal(tt_so_error(t, fd), 0);
    tt_free(t);
}

/* Linux tcp_reset: a reset in LAST-ACK (the peer's FIN read, ours sent)
 * leaves ECONNRESET in SO_ERROR; reads still find end of file (the FIN
 * came first), writes EPIPE. */
static void test_rst_in_last_ack(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    tseg_send(t, t->now + 1000, .flags = FIN | ACK, .seq = PISS + 1, .ack = ISS + 1);
    tseg_expect(t, .flags = ACK, .ack = PISS + 2);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSE_WAIT);
    assert_int_equal(ns_shutdown(st, fd, SHUT_WR), 0);
    tseg_expect(t, .flags = FIN | ACK, .seq = ISS + 1);
    assert_int_equal(tt_state(t, fd), TCPS_LAST_ACK);
    tseg_send(t, t->now + 1000, .flags = RST, .seq = PISS + 2);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSED);
    char b[4];
    assert_int_equal(ns_recv(st, fd, b, sizeof(b), 0), 0);
    assert_int_equal(tt_so_error(t, fd), ECONNRESET);
    assert_int_equal(tt_so_error(t, fd), 0);
    errno = 0;
    assert_int_equal(ns_send(st, fd, "x", 1, 0), -1);
    assert_int_equal(errno, EPIPE);
    tt_free(t);
}

/* A reset in CLOSE-WAIT: EPIPE (Linux tcp_reset), reads end of file. */
static void test_rst_in_close_wait(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    tseg_send(t, t->now + 1000, .flags = FIN | ACK, .seq = PISS + 1, .ack = ISS + 1);
    tseg_expect(t, .flags = ACK, .ack = PISS + 2);
    tseg_send(t, t->now + 1000, .flags = RST, .seq = PISS + 2);
    char b[4];
    assert_int_equal(ns_recv(st, fd, b, sizeof(b), 0), 0);
    errno = 0;
    assert_int_equal(ns_send(st, fd, "x", 1, 0), -1);
    assert_int_equal(errno, EPIPE); /* the pending EPIPE itself */
    assert_int_equal(tt_so_error(t, fd), 0);
    tt_free(t);
}

/* connect() after a failed non-blocking attempt whose error SO_ERROR
 * already read: ECONNABORTED, and the socket is unconnected again — the
 * next connect() starts a new attempt (Linux __inet_stream_connect). A
 * socket whose blocking connect() succeeded stays "connected" for
 * connect(): EISCONN, also after a reset. */
static void test_connect_after_error(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    struct sockaddr_in peer = tt_sin(TT_PEER_IP, TT_PEER_PORT);
    t->isn = ISS;
    int fd = tt_connect_start(t, tt_socket(t));
    tseg_expect(t, .flags = SYN, .seq = ISS);
    tseg_send(t, t->now + 1000, .flags = RST | ACK, .seq = 0, .ack = ISS + 1, .win = 0);
    assert_int_equal(tt_so_error(t, fd), ECONNREFUSED);
    errno = 0;
    assert_int_equal(ns_connect(st, fd, (struct sockaddr *)&peer, sizeof(peer)), -1);
    assert_int_equal(errno, ECONNABORTED);
    tseg_expect_none(t);
    t->isn = ISS + 500;
    errno = 0;
    assert_int_equal(ns_connect(st, fd, (struct sockaddr *)&peer, sizeof(peer)), -1);
    assert_int_equal(errno, EINPROGRESS);
    tseg_expect(t, .flags = SYN, .seq = ISS + 500);
    /* Established, reported by connect() (0), then reset: EISCONN. */
    tseg_send(t, t->now + 1000, .flags = SYN | ACK, .seq = PISS, .ack = ISS + 501, .mss = 1460);
    tseg_expect(t, .flags = ACK);
    assert_int_equal(ns_connect(st, fd, (struct sockaddr *)&peer, sizeof(peer)), 0);
    tseg_send(t, t->now + 1000, .flags = RST, .seq = PISS + 1);
    assert_int_equal(tt_state(t, fd), TCPS_CLOSED);
    errno = 0;
    assert_int_equal(ns_connect(st, fd, (struct sockaddr *)&peer, sizeof(peer)), -1);
    assert_int_equal(errno, EISCONN);
    assert_int_equal(tt_so_error(t, fd), ECONNRESET);
    tt_free(t);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_active_open),
        cmocka_unit_test(test_passive_open),
        cmocka_unit_test(test_rst_to_syn_refused),
        cmocka_unit_test(test_syn_to_closed_port),
        cmocka_unit_test(test_ack_to_closed_port),
        cmocka_unit_test(test_simultaneous_open),
        cmocka_unit_test(test_simultaneous_open_plain_ack),
        cmocka_unit_test(test_close_active_states),
        cmocka_unit_test(test_close_passive_states),
        cmocka_unit_test(test_simultaneous_close),
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_tcp_info_state),
        cmocka_unit_test(test_time_wait_refin),
        cmocka_unit_test(test_time_wait_answers),
        cmocka_unit_test(test_abort_linger_zero),
        cmocka_unit_test(test_close_unread_data_resets),
        cmocka_unit_test(test_data_after_close_reset_seq),
        cmocka_unit_test(test_rst_in_window_challenge),
        cmocka_unit_test(test_rst_exact_resets),
        cmocka_unit_test(test_rst_out_of_window_ignored),
        cmocka_unit_test(test_syn_in_established_challenge),
        cmocka_unit_test(test_ack_of_unsent_data),
        cmocka_unit_test(test_ack_too_old_challenge),
        cmocka_unit_test(test_challenge_ack_rate_limit),
        cmocka_unit_test(test_challenge_ack_stack_limit),
        cmocka_unit_test(test_listen_backlog_overflow),
        cmocka_unit_test(test_listen_syn_fin_dropped),
        cmocka_unit_test(test_synack_retransmit),
        cmocka_unit_test(test_time_wait_reuse),
        cmocka_unit_test(test_icmp_port_unreach_syn_sent),
        cmocka_unit_test(test_connect_errors),
        cmocka_unit_test(test_timeout_short_send_keeps_error),
        cmocka_unit_test(test_timeout_next_call_reports),
        cmocka_unit_test(test_rst_in_last_ack),
        cmocka_unit_test(test_rst_in_close_wait),
        cmocka_unit_test(test_connect_after_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
