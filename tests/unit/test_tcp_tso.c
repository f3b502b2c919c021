/* tests/unit/test_tcp_tso.c — TCP and IPv4 over a device with checksum
 * offload and TSO, in the protocol's terms (tests/tcpseg.h).
 *
 * The bench's queue device sits under a "NIC" (struct nic below) that
 * offers NS_DEV_OFF_TX_CSUM | NS_DEV_OFF_TSO, records what the stack hands
 * it (length, gso_size, partial checksum) and then does the work a real
 * one does (ns_gso_segment, ns_pbuf_csum_finish), so the expectations see
 * wire segments, each checked whole (checksums included) by tseg_expect.
 * On receive it can mark frames as a GRO device would (a GSO packet whose
 * checksum the device vouches for).
 *
 * What must hold: new data leaves in segments of several MSS (RFC 9293
 * §3.7.1 holds per wire segment: each is one MSS at most), only as many as
 * the windows allow (RFC 5681 §3.1), the tail smaller than an MSS still
 * under Nagle's rule (RFC 896); retransmissions are one MSS; IP IDs of the
 * segments do not collide with later datagrams (RFC 6864 §4.1); received
 * GSO packets are taken whole with the device's word for their checksum;
 * a GSO packet forwarded to a device without TSO is cut in software, and
 * measured against the MTU by its segments, not its total length.
 */
#include "tcpseg.h"

#define ISS 1000u
#define PISS 5000u
#define A (ISS + 1)
#define P (PISS + 1)

struct nic_tx {
    uint32_t len;      /* frame bytes handed to the NIC */
    uint16_t gso_size;
    bool partial;
};

struct nic {
    struct ns_dev dev;
    struct ns_dev *inner; /* the bench's queue device */
    struct nic_tx tx[64];
    unsigned ntx;
    uint16_t rx_gso_size; /* > 0: mark received TCP frames as GSO packets */
    bool rx_csum_ok;      /* mark received frames NS_PBUF_F_CSUM_OK */
};

static int nic_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    struct nic *n = (struct nic *)dev;
    assert_true(n->ntx < 64);
    n->tx[n->ntx++] = (struct nic_tx){.len = pb->len, .gso_size = pb->gso_size,
                                      .partial = pb->flags & NS_PBUF_F_CSUM_PARTIAL};
    /* The stack hands over only what the device offers. */
    assert_true(!pb->gso_size || (dev->offloads & NS_DEV_OFF_TSO));
    assert_true(!(pb->flags & NS_PBUF_F_CSUM_PARTIAL) || (dev->offloads & NS_DEV_OFF_TX_CSUM));
    struct ns_pbuf_queue q;
    ns_pbuf_queue_init(&q);
    if (pb->gso_size) {
        assert_true(ns_gso_segment(pb, NS_ETH_HLEN, &q) > 0);
    } else {
        assert_int_equal(ns_pbuf_csum_finish(pb), 0);
        ns_pbuf_queue_push(&q, pb);
    }
    struct ns_pbuf *s;
    while ((s = ns_pbuf_queue_pop(&q)))
        assert_int_equal(n->inner->ops->xmit(n->inner, s, now_us), 0);
    return 0;
}

static struct ns_pbuf *nic_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool, uint64_t now_us)
{
    struct nic *n = (struct nic *)dev;
    struct ns_pbuf *pb = n->inner->ops->recv(n->inner, pool, now_us);
    if (!pb)
        return NULL;
    const uint8_t *f = ns_pbuf_data(pb);
    bool tcp = pb->len > 34 && ns_rd16(f + 12) == NS_ETHERTYPE_IPV4 && f[14 + 9] == 6;
    if (tcp && n->rx_gso_size) {
        pb->gso_size = n->rx_gso_size;
        pb->gso_type = NS_GSO_TCPV4;
    }
    if (n->rx_csum_ok)
        pb->flags |= NS_PBUF_F_CSUM_OK;
    return pb;
}

static uint64_t nic_deadline(struct ns_dev *dev)
{
    struct nic *n = (struct nic *)dev;
    return n->inner->ops->next_deadline(n->inner);
}

static void nic_close(struct ns_dev *dev)
{
    struct nic *n = (struct nic *)dev;
    ns_dev_close(n->inner);
    free(n);
}

static const struct ns_dev_ops nic_ops = {
    .xmit = nic_xmit, .recv = nic_recv, .next_deadline = nic_deadline, .close = nic_close};

/* A bench as tt_new(), with the NIC (offering `offloads`) over the queue
 * device of interface 1. */
static struct tt *tso_new(uint32_t offloads, struct nic **nic_out)
{
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.tcp_congestion = "newreno";
    struct tt *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->tb = tb_new(&cfg, 0);
    uint8_t mac[6];
    tb_mac(1, mac);
    struct nic *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    n->inner = ns_qdev_new("q", NS_LINK_ETHER, mac, 1500);
    assert_non_null(n->inner);
    n->dev = *n->inner;
    n->dev.ops = &nic_ops;
    n->dev.offloads = offloads;
    n->dev.gso_max_size = NS_IP4_MAX_LEN;
    assert_int_equal(ns_if_add(t->tb->st, &n->dev), 1);
    t->tb->dev[1] = n->inner;
    t->tb->nifs = 1;
    struct in_addr a = {.s_addr = htonl(TT_OUR_IP)};
    assert_int_equal(ns_if_addr_add(t->tb->st, 1, AF_INET, &a, 24), 0);
    tb_peer_mac(10, t->peer_mac);
    tb_learn(t->tb, 1, TT_PEER_IP, t->peer_mac, TT_T0);
    t->now = TT_T0;
    t->isn = 1000;
    t->our_port = TT_OUR_PORT;
    t->peer_port = TT_PEER_PORT;
    t->fd = -1;
    t->tb->st->tcp->isn_hook = tt_isn_hook;
    t->tb->st->tcp->isn_hook_ctx = t;
    n->ntx = 0;
    *nic_out = n;
    return t;
}

#define FULL (NS_ETH_HLEN + NS_IP4_HLEN + NS_TCP_HLEN + 1460)

/* tt_open_active with a 64 KiB send buffer (SO_SNDBUF 32768, doubled). */
static int open_big_sndbuf(struct tt *t)
{
    t->isn = ISS;
    int fd = tt_socket(t);
    tt_setint(t, fd, SOL_SOCKET, SO_SNDBUF, 32768);
    tt_connect_start(t, fd);
    tseg_expect(t, .flags = SYN, .seq = ISS, .len = 0);
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = PISS, .ack = A, .win = 65535, .mss = 1460);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P, .len = 0);
    tseg_expect_none(t);
    t->fd = fd;
    return fd;
}

static void test_new_data_in_multi_mss_segments(void **state)
{
    (void)state;
    struct nic *n;
    struct tt *t = tso_new(NS_DEV_OFF_TX_CSUM | NS_DEV_OFF_TSO, &n);
    int fd = open_big_sndbuf(t);
    n->ntx = 0;
    tt_write(t, fd, A, 20000);
    /* The initial window, 10 MSS (RFC 6928), as one segment of 14600
     * that the NIC cuts into ten of 1460; only the last byte of the
     * buffer would carry PSH. */
    assert_int_equal(n->ntx, 1);
    assert_int_equal(n->tx[0].len, NS_ETH_HLEN + NS_IP4_HLEN + NS_TCP_HLEN + 14600);
    assert_int_equal(n->tx[0].gso_size, 1460);
    assert_true(n->tx[0].partial);
    assert_int_equal(TCTR(t, tcp_tso_segs), 1);
    uint16_t id0 = 0;
    for (uint32_t i = 0; i < 10; i++) {
        tseg_expect(t, .flags = ACK, .seq = A + i * 1460, .ack = P, .len = 1460, .pat = true);
        if (i == 0)
            id0 = t->tb->pkt.ip.id;
        assert_int_equal(t->tb->pkt.ip.id, (uint16_t)(id0 + i));
        assert_true(t->tb->pkt.ip.df);
    }
    tseg_expect_none(t);

    /* All acknowledged: cwnd 16060 (slow start, RFC 5681 eq. 2). 5400
     * bytes remain: three whole MSS as one segment, then the 1020-byte
     * tail on its own, with PSH, sent at once (nothing small is
     * outstanding, RFC 896 as Linux). */
    n->ntx = 0;
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A + 14600);
    assert_int_equal(n->ntx, 2);
    assert_int_equal(n->tx[0].gso_size, 1460);
    assert_int_equal(n->tx[0].len, NS_ETH_HLEN + NS_IP4_HLEN + NS_TCP_HLEN + 4380);
    assert_int_equal(n->tx[1].gso_size, 0);
    assert_true(n->tx[1].partial);
    for (uint32_t i = 0; i < 3; i++) {
        tseg_expect(t, .flags = ACK, .seq = A + 14600 + i * 1460, .len = 1460, .pat = true);
        /* The IDs go on where the first segment's stopped. */
        assert_int_equal(t->tb->pkt.ip.id, (uint16_t)(id0 + 10 + i));
    }
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 18980, .len = 1020, .pat = true);
    assert_int_equal(t->tb->pkt.ip.id, (uint16_t)(id0 + 13));
    tseg_expect_none(t);
    assert_int_equal(TCTR(t, tcp_tso_segs), 2);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A + 20000);
    tseg_expect_none(t);
    tt_free(t);
}

static void test_retransmission_is_one_mss(void **state)
{
    (void)state;
    struct nic *n;
    struct tt *t = tso_new(NS_DEV_OFF_TX_CSUM | NS_DEV_OFF_TSO, &n);
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    tt_write(t, fd, A, 14600);
    assert_int_equal(tb_drain(t->tb, 1), 10);
    /* No ACK: the timeout resends the first MSS alone (go-back-N from
     * SND.UNA), as a plain segment. */
    n->ntx = 0;
    uint64_t at = tt_next_tx(t, t->now + 5 * US_S);
    assert_true(at > 0);
    tseg_expect(t, .flags = ACK, .seq = A, .len = 1460, .pat = true);
    tseg_expect_none(t);
    assert_int_equal(n->ntx, 1);
    assert_int_equal(n->tx[0].gso_size, 0);
    assert_int_equal(n->tx[0].len, FULL);
    assert_int_equal(TCTR(t, tcp_tso_segs), 1);
    assert_int_equal(TCTR(t, tcp_rto_timeouts), 1);
    /* The ACK for it: the rest of what was lost goes again, still one
     * MSS per segment (it is below SND.MAX). */
    n->ntx = 0;
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A + 1460);
    assert_true(n->ntx >= 1);
    for (unsigned i = 0; i < n->ntx; i++)
        assert_int_equal(n->tx[i].gso_size, 0);
    tb_drain(t->tb, 1);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A + 14600);
    tb_drain(t->tb, 1);
    tt_free(t);
}

static void test_checksum_offload_without_tso(void **state)
{
    (void)state;
    struct nic *n;
    struct tt *t = tso_new(NS_DEV_OFF_TX_CSUM, &n);
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    n->ntx = 0;
    tt_write(t, fd, A, 5000);
    /* Segments of one MSS, each with its checksum left to the NIC. */
    assert_int_equal(n->ntx, 4);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(n->tx[i].gso_size, 0);
        assert_true(n->tx[i].partial);
    }
    for (uint32_t i = 0; i < 3; i++)
        tseg_expect(t, .flags = ACK, .seq = A + i * 1460, .len = 1460, .pat = true);
    tseg_expect(t, .flags = ACK | PSH, .seq = A + 4380, .len = 620, .pat = true);
    assert_int_equal(TCTR(t, tcp_tso_segs), 0);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A + 5000);
    tt_free(t);
}

static void test_no_offload_complete_checksums(void **state)
{
    (void)state;
    struct nic *n;
    struct tt *t = tso_new(0, &n);
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    n->ntx = 0;
    tt_write(t, fd, A, 3000);
    assert_int_equal(n->ntx, 3);
    for (unsigned i = 0; i < 3; i++)
        assert_false(n->tx[i].partial || n->tx[i].gso_size);
    tb_drain(t->tb, 1);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A + 3000);
    tt_free(t);
}

static void test_timestamps_fit_the_mtu(void **state)
{
    (void)state;
    struct nic *n;
    struct tt *t = tso_new(NS_DEV_OFF_TX_CSUM | NS_DEV_OFF_TSO, &n);
    t->isn = ISS;
    int fd = tt_connect_start(t, tt_socket(t));
    tseg_expect(t, .flags = SYN, .seq = ISS);
    uint32_t tsval = t->th.ts_val;
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = PISS, .ack = A, .mss = 1460, .ts = true,
              .tsval = 77, .tsecr = tsval);
    tseg_expect(t, .flags = ACK, .seq = A, .ack = P, .tsecr = 77);
    n->ntx = 0;
    tt_write(t, fd, A, 8000);
    /* With timestamps every segment carries 12 bytes of options: the MSS
     * for data is 1448, and so is each wire segment's payload. Five whole
     * segments in one, the 760-byte tail alone. */
    assert_int_equal(n->ntx, 2);
    assert_int_equal(n->tx[0].gso_size, 1448);
    assert_int_equal(n->tx[0].len, NS_ETH_HLEN + NS_IP4_HLEN + NS_TCP_HLEN + 12 + 5 * 1448);
    assert_int_equal(n->tx[1].gso_size, 0);
    uint32_t seq = A;
    for (int i = 0; i < 5; i++) {
        tseg_expect(t, .flags = ACK, .seq = seq, .len = 1448, .tsecr = 77, .pat = true);
        assert_int_equal(t->tb->pkt.ip.total_len, 1500);
        seq += 1448;
    }
    tseg_expect(t, .flags = ACK | PSH, .seq = seq, .len = 760, .pat = true);
    tseg_expect_none(t);
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P, .ack = A + 8000, .ts = true, .tsval = 78,
              .tsecr = tsval);
    tt_free(t);
}

static void test_rx_gso_packet_taken_whole(void **state)
{
    (void)state;
    struct nic *n;
    struct tt *t = tso_new(NS_DEV_OFF_TX_CSUM | NS_DEV_OFF_TSO, &n);
    int fd = tt_open_active(t, ISS, PISS, 65535, 1460);
    /* Four segments' worth in one frame larger than the MTU, as GRO hands
     * it over; its checksum field is not valid (left partial by the
     * sender), and the device vouches for it. */
    n->rx_gso_size = 1460;
    n->rx_csum_ok = true;
    tseg_send(t, t->now + 1000, .flags = ACK | PSH, .seq = P, .ack = A, .len = 5840,
              .bad_csum = true);
    assert_int_equal(TCTR(t, ip_rx_gso), 1);
    assert_int_equal(TCTR(t, tcp_drop_bad_csum), 0);
    tt_read_pat(t, fd, P, 5840);
    assert_true(tt_next_tx(t, t->now + US_S) > 0);
    tseg_expect(t, .flags = ACK, .ack = P + 5840);
    /* Without the device's word a bad checksum is a drop, GSO or not. */
    n->rx_csum_ok = false;
    tseg_send(t, t->now + 1000, .flags = ACK, .seq = P + 5840, .ack = A, .len = 2920,
              .bad_csum = true);
    assert_int_equal(TCTR(t, tcp_drop_bad_csum), 1);
    tt_read_none(t, fd);
    tt_free(t);
}

#define FWD_IP FR_IP(198, 51, 100, 10)

/* A TCP segment from the peer (192.0.2.10) to FWD_IP through us, with DF
 * and `len` pattern bytes, as an Ethernet frame to our MAC on if 1. */
static size_t fwd_frame(struct tt *t, uint8_t *f, uint32_t len)
{
    static uint8_t seg[FR_MAX];
    struct ns_tcp_repr th = {.sport = 40000, .dport = 5001, .seq = 77, .ack = 1,
                             .flags = NS_TCP_ACK | NS_TCP_PSH, .win = 1000};
    ns_tcp_emit(&th, seg);
    for (uint32_t i = 0; i < len; i++)
        seg[NS_TCP_HLEN + i] = tt_pat(77 + i);
    ns_wr16(seg + 16, ns_tcp_csum(TT_PEER_IP, FWD_IP, seg, NS_TCP_HLEN + len));
    struct ns_ip4_repr ip = fr_ip4_hdr(TT_PEER_IP, FWD_IP, NS_IPPROTO_TCP);
    ip.df = true;
    return fr_ip4_frame(f, t->tb->dev[1]->hwaddr, t->peer_mac, &ip, seg, NS_TCP_HLEN + len);
}

static void test_forwarded_gso_cut_in_software(void **state)
{
    (void)state;
    struct nic *n;
    struct tt *t = tso_new(NS_DEV_OFF_TX_CSUM | NS_DEV_OFF_TSO, &n);
    ns_stack_set_forwarding(tt_st(t), true);
    int ifx = tb_add_if(t->tb, 1500, FR_IP(198, 51, 100, 1), 24); /* no offloads */
    uint8_t mac2[6];
    tb_peer_mac(20, mac2);
    tb_learn(t->tb, ifx, FWD_IP, mac2, t->now);
    /* 4000 bytes of payload with DF, in a frame far above the MTU: as a
     * GSO packet of 1460-byte segments it fits, so it is forwarded, cut
     * into wire segments for the device without TSO. */
    n->rx_gso_size = 1460;
    n->rx_csum_ok = true;
    static uint8_t f[FR_MAX];
    size_t len = fwd_frame(t, f, 4000);
    tb_rx(t->tb, 1, f, len, t->now + 1000);
    assert_int_equal(CTR(t->tb, ip_forwarded), 1);
    assert_int_equal(CTR(t->tb, ip_drop_df), 0);
    assert_int_equal(CTR(t->tb, dev_tx_gso_sw), 1);
    uint32_t seq = 77;
    for (int i = 0; i < 3; i++) {
        const struct fr_pkt *p = tb_take(t->tb, ifx); /* checks every checksum */
        assert_non_null(p);
        assert_int_equal(p->ip.ttl, 63);
        assert_true(p->ip.df);
        struct ns_tcp_repr th;
        assert_int_equal(ns_tcp_parse(p->l4, p->l4_len, &th), 0);
        assert_true(ns_tcp_csum_ok(TT_PEER_IP, FWD_IP, p->l4, p->l4_len));
        uint32_t want = i < 2 ? 1460u : 1080u;
        assert_int_equal(p->l4_len - th.hlen, want);
        assert_int_equal(th.seq, seq);
        assert_int_equal(th.flags, i < 2 ? NS_TCP_ACK : NS_TCP_ACK | NS_TCP_PSH);
        seq += want;
    }
    assert_int_equal(tb_pending(t->tb, ifx), 0);

    /* Segments that do not fit the next hop, with DF: "fragmentation
     * needed" with the MTU (RFC 1191 §4), as for any packet. */
    n->rx_gso_size = 1480;
    len = fwd_frame(t, f, 4000);
    tb_rx(t->tb, 1, f, len, t->now + 1000);
    assert_int_equal(CTR(t->tb, ip_drop_df), 1);
    const struct fr_pkt *p = tb_take(t->tb, 1);
    assert_non_null(p);
    assert_true(p->is_icmp);
    assert_int_equal(p->icmp.type, NS_ICMP_DEST_UNREACH);
    assert_int_equal(p->icmp.code, NS_ICMP_FRAG_NEEDED);
    assert_int_equal(p->icmp.next_mtu, 1500);
    assert_int_equal(tb_pending(t->tb, ifx), 0);
    tt_free(t);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_data_in_multi_mss_segments),
        cmocka_unit_test(test_retransmission_is_one_mss),
        cmocka_unit_test(test_checksum_offload_without_tso),
        cmocka_unit_test(test_no_offload_complete_checksums),
        cmocka_unit_test(test_timestamps_fit_the_mtu),
        cmocka_unit_test(test_rx_gso_packet_taken_whole),
        cmocka_unit_test(test_forwarded_gso_cut_in_software),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
