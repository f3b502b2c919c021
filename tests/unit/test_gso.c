/* tests/unit/test_gso.c — offload work in software (dev/offload.c) and the
 * virtio-net header (wire/vnet.c):
 *   - the 12-byte header's exact bytes in both byte orders;
 *   - pbuf metadata to header (TX) and header to metadata (RX), and the
 *     frames each side must refuse;
 *   - ns_pbuf_csum_finish: a partial TCP or UDP checksum finished equals
 *     the one computed whole (RFC 9293 §3.1), UDP's 0 sent as 0xffff
 *     (RFC 768);
 *   - ns_gso_segment: a TCPv4 GSO packet cut into wire segments with the
 *     right lengths, IDs (wrapping), sequence numbers (wrapping), flags
 *     (PSH/FIN last, CWR first), checksums and payload, for Ethernet and
 *     bare IP; one segment in place; malformed packets and an empty pool;
 *     a TCPv6 GSO packet (TSO6) in its virtio-net header and cut;
 *   - the fault wrapper hides TSO and cuts received GSO packets into wire
 *     frames before impairing them; a frame it corrupts fails its checksum
 *     even when the checksum was left partial.
 * Every test ends with the pool back at its baseline.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "dev/offload.h"
#include "netsock/dev.h"
#include "wire/bytes.h"
#include "wire/ipv6.h"
#include "wire/vnet.h"
#include "wire/wire.h"

#define SRC 0xc0000201u /* 192.0.2.1 */
#define DST 0xc000020au /* 192.0.2.10 */

static struct ns_pbuf_pool *g_pool;

static int setup(void **state)
{
    (void)state;
    g_pool = ns_pbuf_pool_new(256, 4u << 20);
    return g_pool ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    struct ns_pbuf_pool_stats ps;
    ns_pbuf_pool_stats(g_pool, &ps);
    assert_int_equal(ps.pool_free, ps.pool_total);
    assert_int_equal(ps.heap_bytes, 0);
    ns_pbuf_pool_free(g_pool);
    return 0;
}

static uint8_t pat(uint32_t i) { return (uint8_t)(i * 13 + (i >> 9) + 1); }

/* A frame: [l2_hlen bytes of Ethernet] IPv4 (id, DF) TCP (seq, flags,
 * timestamps option: 32-byte header) and `payload` pattern bytes. The
 * TCP checksum is left partial (pseudo-header sum in the field) and the
 * pbuf marked so; gso_size set when given. */
static struct ns_pbuf *tcp_frame(uint32_t l2_hlen, uint16_t id, uint32_t seq, uint8_t flags,
                                 uint32_t payload, uint16_t gso_size)
{
    struct ns_tcp_repr th = {.sport = 80, .dport = 40000, .seq = seq, .ack = 777,
                             .flags = flags, .win = 1000, .has_ts = true, .ts_val = 5,
                             .ts_ecr = 6};
    uint32_t thl = (uint32_t)(NS_TCP_HLEN + ns_tcp_opts_len(&th));
    assert_int_equal(thl, 32);
    uint32_t len = l2_hlen + NS_IP4_HLEN + thl + payload;
    struct ns_pbuf *pb = ns_pbuf_alloc(g_pool, NS_PBUF_HEADROOM, len);
    assert_non_null(pb);
    uint8_t *f = ns_pbuf_data(pb);
    if (l2_hlen) {
        memcpy(f, "\x02\xaa\x00\x00\x00\x0a\x02\x00\x00\x00\x01\x01\x08\x00", 14);
    }
    struct ns_ip4_repr ip = {.hlen = NS_IP4_HLEN, .total_len = (uint16_t)(len - l2_hlen),
                             .id = id, .df = true, .ttl = 64, .proto = NS_IPPROTO_TCP,
                             .src = SRC, .dst = DST};
    ns_ip4_emit(&ip, f + l2_hlen);
    uint8_t *t = f + l2_hlen + NS_IP4_HLEN;
    ns_tcp_emit(&th, t);
    for (uint32_t i = 0; i < payload; i++)
        t[thl + i] = pat(i);
    uint32_t ph = ns_csum_pseudo4(SRC, DST, NS_IPPROTO_TCP, (uint16_t)(thl + payload));
    ns_wr16(t + 16, (uint16_t)~ns_csum_fold(ph));
    ns_pbuf_csum_partial(pb, l2_hlen + NS_IP4_HLEN, 16);
    if (gso_size) {
        pb->gso_size = gso_size;
        pb->gso_type = NS_GSO_TCPV4;
    }
    return pb;
}

/* ---- the virtio-net header ------------------------------------------------------ */

static void test_vnet_bytes_both_orders(void **state)
{
    (void)state;
    struct ns_vnet_repr r = {.flags = NS_VNET_F_NEEDS_CSUM,
                             .gso_type = NS_VNET_GSO_TCPV4 | NS_VNET_GSO_ECN,
                             .hdr_len = 0x0042,
                             .gso_size = 0x05a8,
                             .csum_start = 0x0022,
                             .csum_offset = 0x0010};
    uint8_t b[NS_VNET_HLEN];
    memset(b, 0xee, sizeof(b));
    ns_vnet_emit(&r, true, b);
    static const uint8_t le[NS_VNET_HLEN] = {0x01, 0x81, 0x42, 0x00, 0xa8, 0x05,
                                             0x22, 0x00, 0x10, 0x00, 0x00, 0x00};
    assert_memory_equal(b, le, sizeof(le));
    struct ns_vnet_repr back;
    ns_vnet_parse(b, true, &back);
    assert_memory_equal(&back, &r, sizeof(r));

    ns_vnet_emit(&r, false, b);
    static const uint8_t be[NS_VNET_HLEN] = {0x01, 0x81, 0x00, 0x42, 0x05, 0xa8,
                                             0x00, 0x22, 0x00, 0x10, 0x00, 0x00};
    assert_memory_equal(b, be, sizeof(be));
    ns_vnet_parse(b, false, &back);
    assert_memory_equal(&back, &r, sizeof(r));
}

static void test_vnet_from_pbuf(void **state)
{
    (void)state;
    struct ns_vnet_repr r;
    /* A GSO packet: NEEDS_CSUM at the TCP header, TCPV4, headers 14+20+32. */
    struct ns_pbuf *pb = tcp_frame(14, 1, 100, NS_TCP_ACK, 4000, 1448);
    assert_int_equal(ns_vnet_from_pbuf(pb, 14, &r), 0);
    assert_int_equal(r.flags, NS_VNET_F_NEEDS_CSUM);
    assert_int_equal(r.gso_type, NS_VNET_GSO_TCPV4);
    assert_int_equal(r.gso_size, 1448);
    assert_int_equal(r.hdr_len, 14 + 20 + 32);
    assert_int_equal(r.csum_start, 34);
    assert_int_equal(r.csum_offset, 16);
    ns_pbuf_free(pb);

    /* CWR on the packet: the ECN bit tells the kernel to clear it after
     * the first segment. Over TUN there is no link header. */
    pb = tcp_frame(0, 1, 100, NS_TCP_ACK | NS_TCP_CWR, 4000, 1448);
    assert_int_equal(ns_vnet_from_pbuf(pb, 0, &r), 0);
    assert_int_equal(r.gso_type, NS_VNET_GSO_TCPV4 | NS_VNET_GSO_ECN);
    assert_int_equal(r.csum_start, 20);
    assert_int_equal(r.hdr_len, 52);
    ns_pbuf_free(pb);

    /* A GSO packet that is one segment anyway: no GSO in the header. */
    pb = tcp_frame(14, 1, 100, NS_TCP_ACK, 1448, 1448);
    assert_int_equal(ns_vnet_from_pbuf(pb, 14, &r), 0);
    assert_int_equal(r.flags, NS_VNET_F_NEEDS_CSUM);
    assert_int_equal(r.gso_type, NS_VNET_GSO_NONE);
    assert_int_equal(r.gso_size, 0);
    ns_pbuf_free(pb);

    /* A complete checksum: an all-zero header. */
    pb = tcp_frame(14, 1, 100, NS_TCP_ACK, 10, 0);
    pb->flags &= ~NS_PBUF_F_CSUM_PARTIAL;
    assert_int_equal(ns_vnet_from_pbuf(pb, 14, &r), 0);
    assert_int_equal(r.flags, 0);
    assert_int_equal(r.gso_type, 0);
    assert_int_equal(r.csum_start, 0);
    /* GSO needs the partial checksum: refused. */
    pb->gso_size = 5;
    pb->gso_type = NS_GSO_TCPV4;
    assert_int_equal(ns_vnet_from_pbuf(pb, 14, &r), -EINVAL);
    ns_pbuf_free(pb);

    /* Offsets beyond the frame: refused. */
    pb = tcp_frame(14, 1, 100, NS_TCP_ACK, 10, 0);
    pb->csum_offset = (uint16_t)(pb->len);
    assert_int_equal(ns_vnet_from_pbuf(pb, 14, &r), -EINVAL);
    ns_pbuf_free(pb);
}

static void test_vnet_to_pbuf(void **state)
{
    (void)state;
    struct ns_pbuf *pb = ns_pbuf_alloc(g_pool, NS_PBUF_HEADROOM, 1000);
    assert_non_null(pb);
    /* NEEDS_CSUM: partial at the same place of the frame, and trusted. */
    struct ns_vnet_repr r = {.flags = NS_VNET_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16};
    assert_int_equal(ns_vnet_to_pbuf(&r, pb), 0);
    assert_true(pb->flags & NS_PBUF_F_CSUM_PARTIAL);
    assert_true(pb->flags & NS_PBUF_F_CSUM_OK);
    assert_int_equal(pb->csum_start, pb->off + 34);
    assert_int_equal(pb->csum_offset, 16);
    assert_int_equal(pb->gso_size, 0);
    /* After the Ethernet header is pulled the offset still points right. */
    ns_pbuf_pull(pb, 14);
    assert_int_equal(pb->csum_start - pb->off, 20);
    ns_pbuf_free(pb);

    /* DATA_VALID: trusted, nothing partial. */
    pb = ns_pbuf_alloc(g_pool, NS_PBUF_HEADROOM, 1000);
    r = (struct ns_vnet_repr){.flags = NS_VNET_F_DATA_VALID};
    assert_int_equal(ns_vnet_to_pbuf(&r, pb), 0);
    assert_int_equal(pb->flags & (NS_PBUF_F_CSUM_OK | NS_PBUF_F_CSUM_PARTIAL), NS_PBUF_F_CSUM_OK);
    ns_pbuf_free(pb);

    /* No flags: the stack verifies. */
    pb = ns_pbuf_alloc(g_pool, NS_PBUF_HEADROOM, 1000);
    r = (struct ns_vnet_repr){0};
    assert_int_equal(ns_vnet_to_pbuf(&r, pb), 0);
    assert_int_equal(pb->flags & (NS_PBUF_F_CSUM_OK | NS_PBUF_F_CSUM_PARTIAL), 0);
    ns_pbuf_free(pb);

    /* GSO TCPv4 with ECN: a GSO packet of the given segment size; hdr_len
     * (which Linux fills with its linear length) is ignored. */
    pb = ns_pbuf_alloc(g_pool, NS_PBUF_HEADROOM, 30000);
    r = (struct ns_vnet_repr){.flags = NS_VNET_F_NEEDS_CSUM,
                              .gso_type = NS_VNET_GSO_TCPV4 | NS_VNET_GSO_ECN,
                              .hdr_len = 9999, .gso_size = 1448, .csum_start = 34,
                              .csum_offset = 16};
    assert_int_equal(ns_vnet_to_pbuf(&r, pb), 0);
    assert_int_equal(pb->gso_size, 1448);
    assert_int_equal(pb->gso_type, NS_GSO_TCPV4);
    /* GSO TCPv6 (TUN_F_TSO6): the same, of type NS_GSO_TCPV6. */
    struct ns_pbuf *pb6 = ns_pbuf_alloc(g_pool, NS_PBUF_HEADROOM, 30000);
    r = (struct ns_vnet_repr){.flags = NS_VNET_F_NEEDS_CSUM, .gso_type = NS_VNET_GSO_TCPV6,
                              .gso_size = 1428, .csum_start = 54, .csum_offset = 16};
    assert_int_equal(ns_vnet_to_pbuf(&r, pb6), 0);
    assert_int_equal(pb6->gso_size, 1428);
    assert_int_equal(pb6->gso_type, NS_GSO_TCPV6);
    ns_pbuf_free(pb6);

    /* Refused, pbuf untouched: other GSO types, GSO without NEEDS_CSUM or
     * with size 0, a checksum field past the end. */
    struct ns_pbuf *fresh = ns_pbuf_alloc(g_pool, NS_PBUF_HEADROOM, 1000);
    static const struct ns_vnet_repr bad[] = {
        {.flags = NS_VNET_F_NEEDS_CSUM, .gso_type = NS_VNET_GSO_UDP, .gso_size = 1000,
         .csum_start = 34, .csum_offset = 6},
        {.flags = NS_VNET_F_NEEDS_CSUM, .gso_type = NS_VNET_GSO_UDP_L4, .gso_size = 1000,
         .csum_start = 34, .csum_offset = 6},
        {.flags = 0, .gso_type = NS_VNET_GSO_TCPV4, .gso_size = 1448},
        {.flags = NS_VNET_F_NEEDS_CSUM, .gso_type = NS_VNET_GSO_TCPV4, .gso_size = 0,
         .csum_start = 34, .csum_offset = 16},
        {.flags = NS_VNET_F_NEEDS_CSUM, .csum_start = 990, .csum_offset = 9},
    };
    static const int want[] = {-EPROTONOSUPPORT, -EPROTONOSUPPORT, -EINVAL, -EINVAL, -EINVAL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ns_vnet_to_pbuf(&bad[i], fresh), want[i]);
        assert_int_equal(fresh->flags & ~NS_PBUF_F_HEAP, 0);
        assert_int_equal(fresh->gso_size, 0);
    }
    ns_pbuf_free(fresh);
    ns_pbuf_free(pb);
}

/* ---- finishing a partial checksum ----------------------------------------------- */

static void test_csum_finish_tcp(void **state)
{
    (void)state;
    for (uint32_t payload = 0; payload < 40; payload += 13) {
        struct ns_pbuf *pb = tcp_frame(14, 9, 1234, NS_TCP_ACK | NS_TCP_PSH, payload, 0);
        uint8_t *t = ns_pbuf_data(pb) + 34;
        uint32_t seg = pb->len - 34;
        assert_false(ns_tcp_csum_ok(SRC, DST, t, seg)); /* partial: not valid yet */
        assert_int_equal(ns_pbuf_csum_finish(pb), 0);
        assert_false(pb->flags & NS_PBUF_F_CSUM_PARTIAL);
        assert_true(ns_tcp_csum_ok(SRC, DST, t, seg));
        uint16_t got = ns_rd16(t + 16);
        ns_wr16(t + 16, 0);
        assert_int_equal(got, ns_tcp_csum(SRC, DST, t, seg)); /* as computed whole */
        ns_wr16(t + 16, got);
        /* Done once: a second call changes nothing. */
        assert_int_equal(ns_pbuf_csum_finish(pb), 0);
        assert_int_equal(ns_rd16(t + 16), got);
        ns_pbuf_free(pb);
    }
}

static void test_csum_finish_udp_zero_is_ffff(void **state)
{
    (void)state;
    /* A datagram whose checksum computes to 0: the last payload word is
     * chosen to make the sum all ones. */
    uint8_t u[NS_UDP_HLEN + 4] = {0};
    struct ns_udp_repr r = {.sport = 7, .dport = 9, .len = sizeof(u)};
    ns_udp_emit(&r, u);
    u[8] = 0x12;
    u[9] = 0x34;
    uint16_t c = ns_csum_fold(ns_csum_add(ns_csum_pseudo4(SRC, DST, NS_IPPROTO_UDP, sizeof(u)),
                                          u, sizeof(u)));
    ns_wr16(u + 10, c);
    assert_int_equal(
        ns_csum_fold(ns_csum_add(ns_csum_pseudo4(SRC, DST, NS_IPPROTO_UDP, sizeof(u)), u, sizeof(u))),
        0);

    struct ns_pbuf *pb = ns_pbuf_from(g_pool, u, sizeof(u));
    assert_non_null(pb);
    uint8_t *d = ns_pbuf_data(pb);
    ns_wr16(d + 6, (uint16_t)~ns_csum_fold(ns_csum_pseudo4(SRC, DST, NS_IPPROTO_UDP, sizeof(u))));
    ns_pbuf_csum_partial(pb, 0, 6);
    assert_int_equal(ns_pbuf_csum_finish(pb), 0);
    assert_int_equal(ns_rd16(d + 6), 0xffff); /* RFC 768: never 0, which means "none" */
    assert_true(ns_udp_csum_ok(SRC, DST, d, sizeof(u)));

    /* Offsets outside the data: refused, nothing written. */
    ns_pbuf_csum_partial(pb, 0, 6);
    pb->csum_offset = sizeof(u);
    assert_int_equal(ns_pbuf_csum_finish(pb), -EINVAL);
    assert_true(pb->flags & NS_PBUF_F_CSUM_PARTIAL);
    ns_pbuf_free(pb);
}

/* ---- cutting GSO packets -------------------------------------------------------- */

/* Check that `segs` are the wire segments of a GSO packet made by
 * tcp_frame(l2, id, seq, flags, payload, mss). */
static void check_segments(struct ns_pbuf_queue *segs, uint32_t l2, uint16_t id, uint32_t seq,
                           uint8_t flags, uint32_t payload, uint32_t mss)
{
    uint32_t nseg = (payload + mss - 1) / mss;
    assert_int_equal(segs->count, nseg);
    uint32_t off = 0;
    for (uint32_t i = 0; i < nseg; i++) {
        struct ns_pbuf *s = ns_pbuf_queue_pop(segs);
        assert_non_null(s);
        uint32_t len = payload - off < mss ? payload - off : mss;
        const uint8_t *f = ns_pbuf_data(s);
        assert_int_equal(s->len, l2 + 20 + 32 + len);
        assert_int_equal(s->gso_size, 0);
        assert_false(s->flags & NS_PBUF_F_CSUM_PARTIAL);
        if (l2)
            assert_memory_equal(f, "\x02\xaa\x00\x00\x00\x0a\x02\x00\x00\x00\x01\x01\x08\x00", 14);
        struct ns_ip4_repr ip;
        assert_int_equal(ns_ip4_parse(f + l2, s->len - l2, &ip, true), NS_WIRE_OK);
        assert_int_equal(ip.total_len, 20 + 32 + len);
        assert_int_equal(ip.id, (uint16_t)(id + i));
        assert_true(ip.df);
        assert_int_equal(ip.src, SRC);
        assert_int_equal(ip.dst, DST);
        const uint8_t *t = f + l2 + 20;
        assert_true(ns_tcp_csum_ok(SRC, DST, t, 32 + len));
        struct ns_tcp_repr th;
        assert_int_equal(ns_tcp_parse(t, 32 + len, &th), NS_WIRE_OK);
        assert_int_equal(th.seq, seq + off);
        assert_int_equal(th.ack, 777);
        assert_true(th.has_ts && th.ts_val == 5 && th.ts_ecr == 6);
        uint8_t want = flags;
        if (i + 1 < nseg)
            want &= (uint8_t)~(NS_TCP_FIN | NS_TCP_PSH);
        if (i > 0)
            want &= (uint8_t)~NS_TCP_CWR;
        assert_int_equal(th.flags, want);
        for (uint32_t k = 0; k < len; k++)
            if (t[32 + k] != pat(off + k))
                fail_msg("segment %u byte %u differs", i, k);
        off += len;
        ns_pbuf_free(s);
    }
    assert_int_equal(off, payload);
}

static void test_gso_segment_ethernet(void **state)
{
    (void)state;
    /* 10000 bytes in 1448-byte segments: 6 full and 1312. IDs wrap past
     * 0xffff, sequence numbers past 2^32. */
    uint8_t flags = NS_TCP_ACK | NS_TCP_PSH | NS_TCP_FIN | NS_TCP_CWR;
    struct ns_pbuf *pb = tcp_frame(14, 0xfffd, 0xffffe000u, flags, 10000, 1448);
    pb->flags |= NS_PBUF_F_CSUM_OK;
    pb->ifindex = 3;
    struct ns_pbuf_queue q;
    ns_pbuf_queue_init(&q);
    assert_int_equal(ns_gso_segment(pb, 14, &q), 7);
    /* What the packet said about itself travels with each segment. */
    for (struct ns_pbuf *s = q.head; s; s = s->next) {
        assert_true(s->flags & NS_PBUF_F_CSUM_OK);
        assert_int_equal(s->ifindex, 3);
    }
    check_segments(&q, 14, 0xfffd, 0xffffe000u, flags, 10000, 1448);
}

static void test_gso_segment_ip_exact_multiple(void **state)
{
    (void)state;
    /* A TUN frame (no link header), 3 segments of exactly 1000. */
    struct ns_pbuf *pb = tcp_frame(0, 42, 7, NS_TCP_ACK | NS_TCP_PSH, 3000, 1000);
    struct ns_pbuf_queue q;
    ns_pbuf_queue_init(&q);
    assert_int_equal(ns_gso_segment(pb, 0, &q), 3);
    check_segments(&q, 0, 42, 7, NS_TCP_ACK | NS_TCP_PSH, 3000, 1000);
}

static void test_gso_segment_one_in_place(void **state)
{
    (void)state;
    struct ns_pbuf *pb = tcp_frame(14, 5, 99, NS_TCP_ACK | NS_TCP_FIN, 500, 1448);
    struct ns_pbuf_queue q;
    ns_pbuf_queue_init(&q);
    assert_int_equal(ns_gso_segment(pb, 14, &q), 1);
    assert_ptr_equal(q.head, pb); /* no copy */
    check_segments(&q, 14, 5, 99, NS_TCP_ACK | NS_TCP_FIN, 500, 1448);
}

static void test_gso_segment_refuses_malformed(void **state)
{
    (void)state;
    struct ns_pbuf_queue q;
    ns_pbuf_queue_init(&q);
    /* Not GSO at all. */
    struct ns_pbuf *pb = tcp_frame(14, 1, 1, NS_TCP_ACK, 3000, 0);
    assert_int_equal(ns_gso_segment(pb, 14, &q), -EINVAL);
    /* UDP in the protocol field. */
    pb = tcp_frame(14, 1, 1, NS_TCP_ACK, 3000, 1000);
    ns_pbuf_data(pb)[14 + 9] = NS_IPPROTO_UDP;
    assert_int_equal(ns_gso_segment(pb, 14, &q), -EINVAL);
    /* A fragment. */
    pb = tcp_frame(14, 1, 1, NS_TCP_ACK, 3000, 1000);
    ns_wr16(ns_pbuf_data(pb) + 14 + 6, NS_IP4_MF);
    assert_int_equal(ns_gso_segment(pb, 14, &q), -EINVAL);
    /* Total length beyond the frame. */
    pb = tcp_frame(14, 1, 1, NS_TCP_ACK, 3000, 1000);
    ns_pbuf_trim(pb, pb->len - 1);
    assert_int_equal(ns_gso_segment(pb, 14, &q), -EINVAL);
    /* A TCP data offset past the IP payload. */
    pb = tcp_frame(14, 1, 1, NS_TCP_ACK, 10, 1000);
    ns_pbuf_data(pb)[14 + 20 + 12] = 0xf0;
    assert_int_equal(ns_gso_segment(pb, 14, &q), -EINVAL);
    /* Not IPv4. */
    pb = tcp_frame(14, 1, 1, NS_TCP_ACK, 3000, 1000);
    ns_pbuf_data(pb)[14] = 0x65;
    assert_int_equal(ns_gso_segment(pb, 14, &q), -EINVAL);
    assert_int_equal(q.count, 0);
}

static void test_gso_segment_pool_empty(void **state)
{
    (void)state;
    /* A pool of 4 buffers cannot hold 7 segments: nothing is appended,
     * everything is given back. */
    struct ns_pbuf_pool *pool = ns_pbuf_pool_new(4, 1u << 20);
    struct ns_pbuf_pool *saved = g_pool;
    g_pool = pool;
    struct ns_pbuf *pb = tcp_frame(14, 1, 1, NS_TCP_ACK, 10000, 1448);
    g_pool = saved;
    struct ns_pbuf_queue q;
    ns_pbuf_queue_init(&q);
    assert_int_equal(ns_gso_segment(pb, 14, &q), -ENOBUFS);
    assert_int_equal(q.count, 0);
    struct ns_pbuf_pool_stats ps;
    ns_pbuf_pool_stats(pool, &ps);
    assert_int_equal(ps.pool_free, 4);
    assert_int_equal(ps.heap_bytes, 0);
    ns_pbuf_pool_free(pool);
}

/* ---- the fault wrapper over a device with offloads ---------------------------- */

/* A device that offers TSO and checksum offload, returns the frames
 * queued in `rx` and keeps what it is sent in `tx` (metadata intact). */
struct offdev {
    struct ns_dev dev;
    struct ns_pbuf_queue rx, tx;
};

static int offdev_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    (void)now_us;
    ns_pbuf_queue_push(&((struct offdev *)dev)->tx, pb);
    return 0;
}

static struct ns_pbuf *offdev_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool, uint64_t now_us)
{
    (void)pool, (void)now_us;
    return ns_pbuf_queue_pop(&((struct offdev *)dev)->rx);
}

static uint64_t offdev_deadline(struct ns_dev *dev)
{
    return ((struct offdev *)dev)->rx.head ? 0 : NS_TIME_NEVER;
}

static void offdev_close(struct ns_dev *dev)
{
    struct offdev *o = (struct offdev *)dev;
    ns_pbuf_queue_purge(&o->rx);
    ns_pbuf_queue_purge(&o->tx);
    free(o);
}

static const struct ns_dev_ops offdev_ops = {.xmit = offdev_xmit,
                                             .recv = offdev_recv,
                                             .next_deadline = offdev_deadline,
                                             .close = offdev_close};

static struct offdev *offdev_new(void)
{
    struct offdev *o = calloc(1, sizeof(*o));
    assert_non_null(o);
    o->dev.ops = &offdev_ops;
    strcpy(o->dev.name, "off");
    o->dev.link = NS_LINK_ETHER;
    o->dev.mtu = 1500;
    o->dev.offloads = NS_DEV_OFF_TX_CSUM | NS_DEV_OFF_TSO;
    o->dev.gso_max_size = 65535;
    ns_pbuf_queue_init(&o->rx);
    ns_pbuf_queue_init(&o->tx);
    return o;
}

static void test_fault_cuts_rx_gso_and_hides_tso(void **state)
{
    (void)state;
    struct offdev *o = offdev_new();
    struct ns_link_params p;
    ns_link_params_default(&p);
    struct ns_dev *f = ns_fault_wrap(&o->dev, &p, &p, 1);
    assert_non_null(f);
    /* Segments must reach the impairments one by one: no TSO above. */
    assert_int_equal(f->offloads, NS_DEV_OFF_TX_CSUM);
    struct ns_pbuf *pb = tcp_frame(14, 100, 5000, NS_TCP_ACK | NS_TCP_PSH, 5000, 1448);
    pb->flags |= NS_PBUF_F_CSUM_OK;
    ns_pbuf_queue_push(&o->rx, pb);
    struct ns_pbuf_queue got;
    ns_pbuf_queue_init(&got);
    struct ns_pbuf *s;
    while ((s = f->ops->recv(f, g_pool, 0)))
        ns_pbuf_queue_push(&got, s);
    check_segments(&got, 14, 100, 5000, NS_TCP_ACK | NS_TCP_PSH, 5000, 1448);
    struct ns_impair_stats rx;
    ns_fault_stats(f, NULL, &rx);
    assert_int_equal(rx.frames, 4);
    assert_int_equal(rx.delivered, 4);
    ns_dev_close(f);
}

static void test_fault_corrupts_finished_checksum(void **state)
{
    (void)state;
    struct offdev *o = offdev_new();
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.corrupt = 1.0;
    struct ns_dev *f = ns_fault_wrap(&o->dev, &p, &p, 7);
    assert_non_null(f);
    /* tx: a partial checksum would be finished by the device over the
     * corrupted bytes and hide the damage; the wrapper finishes it before
     * the flip, so the frame on the wire fails its check. */
    for (int i = 0; i < 20; i++) {
        struct ns_pbuf *pb = tcp_frame(14, 1, 1, NS_TCP_ACK, 200, 0);
        assert_int_equal(f->ops->xmit(f, pb, 0), 0);
        struct ns_pbuf *w = ns_pbuf_queue_pop(&o->tx);
        assert_non_null(w);
        assert_false(w->flags & NS_PBUF_F_CSUM_PARTIAL);
        const uint8_t *d = ns_pbuf_data(w);
        struct ns_ip4_repr ip;
        bool ip_ok = ns_ip4_parse(d + 14, w->len - 14, &ip, true) == NS_WIRE_OK;
        bool tcp_ok = ns_tcp_csum_ok(SRC, DST, d + 34, w->len - 34);
        bool eth_hit = memcmp(d, "\x02\xaa\x00\x00\x00\x0a\x02\x00\x00\x00\x01\x01\x08\x00", 14);
        /* One bit flipped somewhere: Ethernet, IP header or TCP. */
        assert_true(eth_hit || !ip_ok || !tcp_ok);
        ns_pbuf_free(w);
    }
    /* rx: a corrupted frame loses the device's word for its checksum. */
    struct ns_pbuf *pb = tcp_frame(14, 1, 1, NS_TCP_ACK, 200, 0);
    pb->flags |= NS_PBUF_F_CSUM_OK;
    ns_pbuf_queue_push(&o->rx, pb);
    struct ns_pbuf *r = f->ops->recv(f, g_pool, 0);
    assert_non_null(r);
    assert_false(r->flags & NS_PBUF_F_CSUM_OK);
    ns_pbuf_free(r);
    ns_dev_close(f);
}

/* ---- TCPv6 (TSO6) --------------------------------------------------------------- */

static const struct ns_ip6_addr SRC6 = {{0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
static const struct ns_ip6_addr DST6 = {{0x20, 0x01, 0x0d, 0xb8, [15] = 2}};

/* tcp_frame over IPv6: [Ethernet] IPv6 (no extension headers) TCP with
 * timestamps (32 bytes) and `payload` pattern bytes, the checksum left
 * partial over the IPv6 pseudo-header (RFC 8200 §8.1), GSO TCPv6. */
static struct ns_pbuf *tcp6_frame(uint32_t l2_hlen, uint32_t seq, uint8_t flags, uint32_t payload,
                                  uint16_t gso_size)
{
    struct ns_tcp_repr th = {.sport = 80, .dport = 40000, .seq = seq, .ack = 777,
                             .flags = flags, .win = 1000, .has_ts = true, .ts_val = 5,
                             .ts_ecr = 6};
    uint32_t thl = 32, len = l2_hlen + NS_IP6_HLEN + thl + payload;
    struct ns_pbuf *pb = ns_pbuf_alloc(g_pool, NS_PBUF_HEADROOM, len);
    assert_non_null(pb);
    uint8_t *f = ns_pbuf_data(pb);
    if (l2_hlen)
        memcpy(f, "\x02\xaa\x00\x00\x00\x0a\x02\x00\x00\x00\x01\x01\x86\xdd", 14);
    struct ns_ip6_repr ip = {.flow = 0x12345, .payload_len = (uint16_t)(thl + payload),
                             .next_hdr = NS_IPPROTO_TCP, .hop_limit = 64, .src = SRC6,
                             .dst = DST6};
    ns_ip6_emit(&ip, f + l2_hlen);
    uint8_t *t = f + l2_hlen + NS_IP6_HLEN;
    ns_tcp_emit(&th, t);
    for (uint32_t i = 0; i < payload; i++)
        t[thl + i] = pat(i);
    uint32_t ph = ns_csum_pseudo6(&SRC6, &DST6, thl + payload, NS_IPPROTO_TCP);
    ns_wr16(t + 16, (uint16_t)~ns_csum_fold(ph));
    ns_pbuf_csum_partial(pb, l2_hlen + NS_IP6_HLEN, 16);
    pb->gso_size = gso_size;
    pb->gso_type = NS_GSO_TCPV6;
    return pb;
}

/* A TCPv6 GSO packet, as TCP builds it for a TSO6 device: the header a
 * TAP device reads says GSO_TCPV6 with the headers' length; cut in
 * software, each segment has its own Payload Length, sequence number,
 * flags (PSH/FIN last, CWR first) and a TCP checksum that verifies over
 * the IPv6 pseudo-header, the fixed header otherwise unchanged (flow
 * label, hop limit, addresses). */
static void test_gso_segment_tcpv6(void **state)
{
    (void)state;
    uint8_t flags = NS_TCP_ACK | NS_TCP_PSH | NS_TCP_CWR;
    struct ns_pbuf *pb = tcp6_frame(14, 0xfffff000u, flags, 5000, 1428);
    struct ns_vnet_repr r;
    assert_int_equal(ns_vnet_from_pbuf(pb, 14, &r), 0);
    assert_int_equal(r.gso_type, NS_VNET_GSO_TCPV6 | NS_VNET_GSO_ECN);
    assert_int_equal(r.gso_size, 1428);
    assert_int_equal(r.hdr_len, 14 + 40 + 32);
    assert_int_equal(r.csum_start, 14 + 40);
    struct ns_pbuf_queue q;
    ns_pbuf_queue_init(&q);
    assert_int_equal(ns_gso_segment(pb, 14, &q), 4);
    uint32_t off = 0;
    for (uint32_t i = 0; i < 4; i++) {
        struct ns_pbuf *s = ns_pbuf_queue_pop(&q);
        uint32_t len = 5000 - off < 1428 ? 5000 - off : 1428;
        const uint8_t *f = ns_pbuf_data(s);
        assert_int_equal(s->len, 14 + 40 + 32 + len);
        assert_false(s->flags & NS_PBUF_F_CSUM_PARTIAL);
        struct ns_ip6_repr ip;
        assert_int_equal(ns_ip6_parse(f + 14, s->len - 14, &ip), NS_WIRE_OK);
        assert_int_equal(ip.payload_len, 32 + len);
        assert_int_equal(ip.flow, 0x12345);
        assert_int_equal(ip.hop_limit, 64);
        assert_true(ns_ip6_eq(&ip.src, &SRC6) && ns_ip6_eq(&ip.dst, &DST6));
        const uint8_t *t = f + 14 + 40;
        assert_int_equal(ns_ip6_upper_csum(&SRC6, &DST6, NS_IPPROTO_TCP, t, 32 + len), 0);
        struct ns_tcp_repr th;
        assert_int_equal(ns_tcp_parse(t, 32 + len, &th), NS_WIRE_OK);
        assert_int_equal(th.seq, 0xfffff000u + off);
        uint8_t want = flags;
        if (i < 3)
            want &= (uint8_t)~NS_TCP_PSH;
        if (i > 0)
            want &= (uint8_t)~NS_TCP_CWR;
        assert_int_equal(th.flags, want);
        for (uint32_t k = 0; k < len; k++)
            if (t[32 + k] != pat(off + k))
                fail_msg("segment %u byte %u differs", i, k);
        off += len;
        ns_pbuf_free(s);
    }
    /* Refused: extension headers in front of TCP (not a packet TCP makes). */
    pb = tcp6_frame(0, 1, NS_TCP_ACK, 3000, 1428);
    ns_pbuf_data(pb)[6] = NS_IP6_NH_DSTOPTS;
    assert_int_equal(ns_gso_segment(pb, 0, &q), -EINVAL);
    assert_int_equal(q.count, 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vnet_bytes_both_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vnet_from_pbuf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vnet_to_pbuf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csum_finish_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csum_finish_udp_zero_is_ffff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gso_segment_ethernet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gso_segment_ip_exact_multiple, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gso_segment_one_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gso_segment_refuses_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gso_segment_pool_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gso_segment_tcpv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_cuts_rx_gso_and_hides_tso, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_corrupts_finished_checksum, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
