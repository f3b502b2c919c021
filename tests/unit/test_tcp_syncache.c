/* tests/unit/test_tcp_syncache.c — half-open connections (tcp_syncache.c):
 * the syncache entry's life (RFC 4987 §3.3; SYN,ACK retransmission and
 * silent expiry as Linux tcp_synack_retries), SYN cookies (RFC 4987 §3.6,
 * Linux's encoding) encoded and decoded for every MSS / window scale /
 * SACK combination, and cookies that must fail: another secret, an old
 * counter, a forged ACK.
 *
 * Our ISS is ISS (via the ISN hook) for cached entries, the peer's PISS;
 * the peer is 192.0.2.10:40000, we are 192.0.2.1:80.
 */
#include "tcpseg.h"

#define ISS 1000u
#define PISS 5000u

/* ---- the syncache entry ------------------------------------------------------------- */

static void test_entry_lifecycle(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int lfd = tt_listen(t, 4);
    t->isn = ISS;
    uint64_t t0 = t->now + 100;
    tseg_send(t, t0, .flags = SYN, .seq = PISS, .mss = 1460);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS, .ack = PISS + 1, .mss = 1460);
    /* A compact entry, no tcpcb. */
    assert_null(tt_lookup(t));
    struct syncache_entry *e = tt_syncache(t);
    assert_non_null(e);
    assert_int_equal(e->irs, PISS);
    assert_int_equal(e->iss, ISS);
    assert_int_equal(tt_tp(t, lfd)->synq_len, 1);
    assert_int_equal(st->tcp->syncache.count, 1);
    assert_int_equal(TCTR(t, tcp_syncache_added), 1);
    /* Unanswered: SYN,ACKs at 1, 3, 7, 15, 31 s (1 s doubling, 5 retries). */
    uint64_t at[] = {1, 3, 7, 15, 31};
    for (int i = 0; i < 5; i++) {
        tb_learn(t->tb, 1, TT_PEER_IP, t->peer_mac, t->now); /* the peer's ARP entry stays fresh */
        assert_int_equal(tt_next_tx(t, t0 + 100 * US_S), t0 + at[i] * US_S);
        tseg_expect(t, .flags = SYN | ACK, .seq = ISS, .ack = PISS + 1, .mss = 1460);
    }
    /* At 63 s the entry expires without a word (no RST backscatter to a
     * source that may be spoofed). */
    assert_int_equal(tt_next_tx(t, t0 + 62 * US_S), 0);
    assert_non_null(tt_syncache(t));
    assert_int_equal(tt_next_tx(t, t0 + 100 * US_S), 0);
    assert_null(tt_syncache(t));
    assert_int_equal(TCTR(t, tcp_syncache_expired), 1);
    assert_int_equal(TCTR(t, tcp_tx_rst), 0);
    assert_int_equal(tt_tp(t, lfd)->synq_len, 0);
    assert_int_equal(st->tcp->syncache.count, 0);
    /* Its final ACK now finds nothing: a RST (RFC 9293 §3.10.7.2). */
    tb_learn(t->tb, 1, TT_PEER_IP, t->peer_mac, t->now);
    tseg_send(t, t->now + 100, .flags = ACK, .seq = PISS + 1, .ack = ISS + 1);
    tseg_expect(t, .flags = RST, .seq = ISS + 1);
    assert_int_equal(ns_accept(st, lfd, NULL, NULL), -1);

    /* The next handshake completes: the ACK makes the tcpcb, ESTABLISHED
     * on the accept queue, the entry gone. */
    t->isn = ISS + 7;
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS + 10, .mss = 1300);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS + 7, .ack = PISS + 11);
    tseg_send(t, t->now + 100, .flags = ACK, .seq = PISS + 11, .ack = ISS + 8, .len = 10);
    tseg_expect_none(t); /* the data's ACK is delayed */
    assert_null(tt_syncache(t));
    assert_int_equal(st->tcp->syncache.count, 0);
    struct tcpcb *tp = tt_lookup(t);
    assert_non_null(tp);
    assert_int_equal(tp->state, TCPS_ESTABLISHED);
    assert_int_equal(tp->peer_mss, 1300);
    assert_int_equal(tp->rcv_nxt, PISS + 21);
    int fd = ns_accept(st, lfd, NULL, NULL);
    assert_true(fd >= 0);
    tt_read_pat(t, fd, PISS + 11, 10);
    assert_int_equal(tt_tp(t, lfd)->synq_len, 0);
    tt_free(t);
}

/* An ACK that does not acknowledge our SYN,ACK gets a RST and leaves the
 * entry; a RST at RCV.NXT removes it; closing the listener drops the rest. */
static void test_entry_bad_ack_rst_close(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int lfd = tt_listen(t, 4);
    t->isn = ISS;
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .mss = 1460);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS);
    tseg_send(t, t->now + 100, .flags = ACK, .seq = PISS + 1, .ack = ISS + 5);
    tseg_expect(t, .flags = RST, .seq = ISS + 5);
    assert_non_null(tt_syncache(t));
    /* A RST off RCV.NXT is ignored; at RCV.NXT it ends the entry. */
    tseg_send(t, t->now + 100, .flags = RST, .seq = PISS + 100);
    assert_non_null(tt_syncache(t));
    tseg_send(t, t->now + 100, .flags = RST, .seq = PISS + 1);
    assert_null(tt_syncache(t));
    assert_int_equal(TCTR(t, tcp_syncache_reset), 1);
    tseg_expect_none(t);
    /* Entries die with their listener: nothing is sent, nothing leaks. */
    for (uint16_t i = 0; i < 5; i++)
        tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .sport = (uint16_t)(41000 + i));
    for (int i = 0; i < 5; i++)
        tseg_expect(t, .flags = SYN | ACK);
    assert_int_equal(st->tcp->syncache.count, 5);
    ns_close(st, lfd);
    assert_int_equal(st->tcp->syncache.count, 0);
    assert_int_equal(tt_next_tx(t, t->now + 100 * US_S), 0);
    tt_free(t);
}

/* Linux tcp_req_err: a host-unreachable about the entry's SYN,ACK ends
 * it; one quoting another sequence number, or a port unreachable, not. */
static void test_entry_icmp(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    tt_listen(t, 4);
    t->isn = ISS;
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .mss = 1460);
    tseg_expect(t, .flags = SYN | ACK, .seq = ISS);
    tt_icmp(t, t->now + 100, NS_ICMP_DEST_UNREACH, NS_ICMP_HOST_UNREACH, 0, ISS + 1);
    tt_icmp(t, t->now + 100, NS_ICMP_DEST_UNREACH, NS_ICMP_PORT_UNREACH, 0, ISS);
    assert_non_null(tt_syncache(t));
    tt_icmp(t, t->now + 100, NS_ICMP_DEST_UNREACH, NS_ICMP_HOST_UNREACH, 0, ISS);
    assert_null(tt_syncache(t));
    assert_int_equal(TCTR(t, tcp_syncache_icmp), 1);
    tseg_expect_none(t);
    tt_free(t);
}

/* ---- SYN cookies: the encoding ------------------------------------------------------ */

static const struct ns_flow *cookie_flow(void)
{
    static struct ns_flow f;
    f = ns_flow_ip4(FR_IP(192, 0, 2, 1), 80, FR_IP(198, 18, 3, 4), 40123, IPPROTO_TCP);
    return &f;
}

static void test_cookie_roundtrip(void **state)
{
    (void)state;
    uint8_t key[2][16], other[2][16];
    for (int i = 0; i < 16; i++) {
        key[0][i] = (uint8_t)(i * 13 + 1);
        key[1][i] = (uint8_t)(i * 29 + 7);
        other[0][i] = key[0][i];
        other[1][i] = key[1][i];
    }
    other[1][3] ^= 0x40; /* another secret, differing in one bit */
    const struct ns_flow *f = cookie_flow();
    uint32_t irs = 0xfffffff0u; /* the arithmetic wraps */
    uint32_t counts[] = {0, 1, 255, 256, 0x12345};
    for (uint32_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        uint32_t count = counts[c];
        for (uint32_t m = 0; m < TCP_COOKIE_NMSS; m++) {
            uint32_t cookie = tcp_cookie_make(key, f, irs, count, m);
            /* The current and the previous counter are accepted ... */
            assert_int_equal(tcp_cookie_check(key, f, irs, cookie, count), m);
            assert_int_equal(tcp_cookie_check(key, f, irs, cookie, count + 1), m);
            /* ... an older one, another secret, another flow or ISN not. */
            assert_int_equal(tcp_cookie_check(key, f, irs, cookie, count + 2), -1);
            assert_int_equal(tcp_cookie_check(key, f, irs, cookie, count + 200), -1);
            assert_int_equal(tcp_cookie_check(other, f, irs, cookie, count), -1);
            /* (The cookie is relative to the ISN, as Linux's: an ISN a few
             * away shifts the data, one further away fails.) */
            assert_int_equal(tcp_cookie_check(key, f, irs + 1000, cookie, count), -1);
            struct ns_flow g = *f;
            g.rport++;
            assert_int_equal(tcp_cookie_check(key, &g, irs, cookie, count), -1);
            /* A cookie from the future (a counter not yet reached) too. */
            if (count > 0)
                assert_int_equal(tcp_cookie_check(key, f, irs, cookie, count - 1), -1);
        }
    }
    /* MSS to index: the largest table value not above the peer's. */
    assert_int_equal(tcp_cookie_mss_index(100), 0);
    assert_int_equal(tcp_cookie_mss_index(536), 0);
    assert_int_equal(tcp_cookie_mss_index(1299), 0);
    assert_int_equal(tcp_cookie_mss_index(1300), 1);
    assert_int_equal(tcp_cookie_mss_index(1459), 2);
    assert_int_equal(tcp_cookie_mss_index(1460), 3);
    assert_int_equal(tcp_cookie_mss_index(9000), 3);
    /* The options in the TSval, every combination, at clocks near a wrap. */
    uint32_t clocks[] = {0, 63, 64, 1000000, 0xffffffffu};
    for (uint32_t k = 0; k < 5; k++) {
        for (int ws = -1; ws <= 14; ws++) {
            for (int sack = 0; sack < 2; sack++) {
                for (int ecn = 0; ecn < 2; ecn++) {
                    uint32_t ts = tcp_cookie_ts(clocks[k], ws, sack, ecn);
                    assert_true(SEQ_LEQ(ts, clocks[k]));
                    assert_true(clocks[k] - ts < 64);
                    int ws2;
                    bool sack2, ecn2;
                    assert_true(tcp_cookie_ts_decode(ts, &ws2, &sack2, &ecn2));
                    assert_int_equal(ws2, ws);
                    assert_int_equal(sack2, sack);
                    assert_int_equal(ecn2, ecn);
                }
            }
        }
    }
    /* A shift of 15 is "none"; nothing decodes to more than 14. */
    int ws;
    bool sack, ecn;
    for (uint32_t v = 0; v < 64; v++) {
        if (tcp_cookie_ts_decode(v, &ws, &sack, &ecn))
            assert_true(ws <= 14);
        else
            assert_true((v & 15) > 14 && (v & 15) != 15);
    }
}

/* ---- SYN cookies on the wire --------------------------------------------------------- */

static struct tt *tt_cookies(uint32_t mode)
{
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.tcp_congestion = "newreno";
    cfg.tcp_syncookies = mode;
    return tt_new_cfg(&cfg, 1500);
}

/* Every MSS of the table (and values between), every window shift and
 * SACK on and off, with timestamps: the cookie's ACK makes a connection
 * with exactly what the SYN offered. */
static void test_cookie_wire_every_option(void **state)
{
    (void)state;
    struct tt *t = tt_cookies(2); /* always cookies */
    struct ns_stack *st = tt_st(t);
    int lfd = tt_listen(t, 128);
    uint16_t msss[] = {536, 1000, 1300, 1440, 1460, 8960};
    uint16_t want[] = {536, 536, 1300, 1440, 1460, 1460};
    uint16_t port = 41000;
    int n = 0;
    for (int m = 0; m < 6; m++) {
        for (int ws = -1; ws <= 14; ws++) {
            for (int sack = 0; sack < 2; sack++, port++, n++) {
                t->peer_port = port;
                tseg_send(t, t->now + 1000, .flags = SYN, .seq = PISS, .mss = msss[m],
                          .wscale = ws < 0 ? TNONE : ws, .sack_ok = sack, .ts = true,
                          .tsval = 777, .tsecr = 0);
                const struct ns_tcp_repr *th = tseg_expect(t, .flags = SYN | ACK, .ack = PISS + 1,
                                                           .tsecr = 777);
                assert_null(tt_syncache(t)); /* nothing kept */
                assert_int_equal(th->has_wscale, ws >= 0);
                assert_int_equal(th->sack_ok, sack);
                uint32_t cookie = th->seq, tsval = th->ts_val;
                tseg_send(t, t->now + 1000, .flags = ACK, .seq = PISS + 1, .ack = cookie + 1,
                          .ts = true, .tsval = 778, .tsecr = tsval);
                tseg_expect_none(t);
                struct tcpcb *tp = tt_lookup(t);
                assert_non_null(tp);
                assert_int_equal(tp->state, TCPS_ESTABLISHED);
                assert_int_equal(tp->peer_mss, want[m]);
                assert_int_equal(tp->iss, cookie);
                assert_int_equal(tcp_ws_on(tp), ws >= 0);
                if (ws >= 0)
                    assert_int_equal(tp->snd_wscale, ws);
                assert_int_equal(tcp_sack_on(tp), sack);
                assert_true(tcp_ts_on(tp));
                assert_int_equal(tp->ts_recent, 778);
                int fd = ns_accept(st, lfd, NULL, NULL);
                assert_true(fd >= 0);
                ns_close(st, fd);
                tseg_expect(t, .flags = FIN | ACK, .seq = cookie + 1);
                tseg_send(t, t->now + 1000, .flags = FIN | ACK, .seq = PISS + 1, .ack = cookie + 2,
                          .ts = true, .tsval = 779, .tsecr = tsval);
                tseg_expect(t, .flags = ACK, .ack = PISS + 2); /* TIME-WAIT: quiet now */
            }
        }
    }
    assert_int_equal(TCTR(t, tcp_syncookies_sent), n);
    assert_int_equal(TCTR(t, tcp_syncookies_recv), n);
    assert_int_equal(TCTR(t, tcp_syncookies_failed), 0);
    assert_int_equal(TCTR(t, tcp_syncache_added), 0);
    /* Without timestamps the cookie's SYN,ACK offers neither WS nor SACK
     * (the ACK could not say they were agreed): MSS only. */
    t->peer_port = 60000;
    tseg_send(t, t->now + 1000, .flags = SYN, .seq = PISS, .mss = 1440, .wscale = 7,
              .sack_ok = true);
    const struct ns_tcp_repr *th =
        tseg_expect(t, .flags = SYN | ACK, .mss = 1460, .wscale = TNONE, .tsval = TNONE);
    assert_false(th->sack_ok);
    uint32_t cookie = th->seq;
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = PISS + 1, .ack = cookie + 1);
    struct tcpcb *tp = tt_lookup(t);
    assert_non_null(tp);
    assert_int_equal(tp->state, TCPS_ESTABLISHED);
    assert_int_equal(tp->peer_mss, 1440);
    assert_false(tcp_ws_on(tp) || tcp_sack_on(tp) || tcp_ts_on(tp));
    tt_free(t);
}

/* A full half-open queue (2 * backlog + 16) turns the next SYN into a
 * cookie (tcp_syncookies 1); a forged or stale cookie is refused with a
 * RST and counted. */
static void test_cookie_when_full_and_bad(void **state)
{
    (void)state;
    struct tt *t = tt_new();
    struct ns_stack *st = tt_st(t);
    int lfd = tt_listen(t, 1);
    for (uint16_t i = 0; i < 18; i++) {
        t->peer_port = (uint16_t)(41000 + i);
        tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .mss = 1460);
        tseg_expect(t, .flags = SYN | ACK);
    }
    assert_int_equal(tt_tp(t, lfd)->synq_len, 18);
    assert_int_equal(TCTR(t, tcp_syncookies_sent), 0);
    t->peer_port = 42000;
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .mss = 1460);
    uint32_t cookie = tseg_expect(t, .flags = SYN | ACK, .ack = PISS + 1)->seq;
    assert_null(tt_syncache(t));
    assert_int_equal(TCTR(t, tcp_syncookies_sent), 1);
    assert_int_equal(TCTR(t, tcp_syncache_overflow), 1);
    assert_int_equal(tt_tp(t, lfd)->synq_len, 18);
    /* A forged cookie: RST, counted. */
    tseg_send(t, t->now + 100, .flags = ACK, .seq = PISS + 1, .ack = cookie + 2);
    tseg_expect(t, .flags = RST, .seq = cookie + 2);
    assert_int_equal(TCTR(t, tcp_syncookies_failed), 1);
    assert_null(tt_lookup(t));
    /* Two minutes on (another cookie sent meanwhile, so ACKs are still
     * checked as cookies), the counter has moved twice: refused. */
    t->peer_port = 42001;
    for (int i = 0; i < 119; i++)
        tt_at(t, t->now + US_S);
    tb_drain(t->tb, 1); /* the entries' retransmissions (and ARP) */
    tb_learn(t->tb, 1, TT_PEER_IP, t->peer_mac, t->now);
    tb_drain(t->tb, 1); /* what waited for ARP */
    assert_int_equal(st->tcp->syncache.count, 0); /* all expired */
    st->cfg.tcp_syncookies = 2; /* the queue is empty now: force the cookie */
    tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .mss = 1460);
    uint32_t fresh = tseg_expect(t, .flags = SYN | ACK)->seq;
    t->peer_port = 42000;
    tb_learn(t->tb, 1, TT_PEER_IP, t->peer_mac, t->now);
    tseg_send(t, t->now + 2 * US_S, .flags = ACK, .seq = PISS + 1, .ack = cookie + 1);
    tseg_expect(t, .flags = RST);
    assert_int_equal(TCTR(t, tcp_syncookies_failed), 2);
    /* The fresh one is good (the accept queue has room: backlog + 1). */
    t->peer_port = 42001;
    tseg_send(t, t->now + 100, .flags = ACK, .seq = PISS + 1, .ack = fresh + 1);
    tseg_expect_none(t);
    assert_int_equal(TCTR(t, tcp_syncookies_recv), 1);
    assert_non_null(tt_lookup(t));
    assert_true(ns_accept(st, lfd, NULL, NULL) >= 0);
    tt_free(t);
}

/* tcp_syncookies 0: a full queue drops the SYN, counted; and listen()
 * clamps its backlog to cfg.somaxconn. */
static void test_no_cookies_and_somaxconn(void **state)
{
    (void)state;
    struct tt *t = tt_cookies(0);
    struct ns_stack *st = tt_st(t);
    int lfd = tt_listen(t, 0);
    for (uint16_t i = 0; i < 17; i++) {
        t->peer_port = (uint16_t)(41000 + i);
        tseg_send(t, t->now + 100, .flags = SYN, .seq = PISS, .mss = 1460);
        if (i < 16)
            tseg_expect(t, .flags = SYN | ACK);
    }
    tseg_expect_none(t);
    assert_int_equal(TCTR(t, tcp_drop_listen_overflow), 1);
    assert_int_equal(TCTR(t, tcp_syncookies_sent), 0);
    assert_int_equal(ns_listen(st, lfd, 100000), 0);
    assert_int_equal(tt_tp(t, lfd)->backlog, 4096);
    st->cfg.somaxconn = 65536;
    assert_int_equal(ns_listen(st, lfd, 100000), 0);
    assert_int_equal(tt_tp(t, lfd)->backlog, 65536);
    assert_int_equal(ns_listen(st, lfd, -1), 0);
    assert_int_equal(tt_tp(t, lfd)->backlog, 0);
    tt_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_lifecycle),
        cmocka_unit_test(test_entry_bad_ack_rst_close),
        cmocka_unit_test(test_entry_icmp),
        cmocka_unit_test(test_cookie_roundtrip),
        cmocka_unit_test(test_cookie_wire_every_option),
        cmocka_unit_test(test_cookie_when_full_and_bad),
        cmocka_unit_test(test_no_cookies_and_somaxconn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
