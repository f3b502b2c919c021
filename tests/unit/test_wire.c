/* tests/unit/test_wire.c — Ethernet, ARP, IPv4 and ICMPv4 parse/emit:
 * round trips, real packets byte for byte, and every rejection with its
 * exact error code. Truncated inputs are copied into exactly-sized heap
 * blocks so that any read past `len` is caught by ASan.
 *
 * Replay a random failure with the printed NETSOCK_SEED. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "base/rng.h"
#include "wire/bytes.h"
#include "wire/wire.h"

/* An exactly-sized heap copy of the first len bytes (ASan guards its end). */
static uint8_t *dup_exact(const uint8_t *src, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    if (len)
        memcpy(p, src, len);
    return p;
}

/* ---- real packets --------------------------------------------------------- */

/* An ARP request as seen on the wire: who has 24.166.173.159? tell
 * 24.166.172.1 (00:07:0d:af:f4:54), with Ethernet padding to 60 bytes. */
static const uint8_t arp_frame[60] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54, 0x08, 0x06,
    /* ARP */
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54,
    0x18, 0xa6, 0xac, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18, 0xa6, 0xad, 0x9f,
    /* padding */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
};

/* A Linux `ping` echo request 192.168.1.10 -> 192.168.1.1, id 0x1c46 seq 1,
 * 56 data bytes (timestamp then 0x10..0x37), DF set, TTL 64. */
static const uint8_t ping_pkt[84] = {
    0x45, 0x00, 0x00, 0x54, 0x7a, 0x3e, 0x40, 0x00, 0x40, 0x01, 0x3d, 0x0f, 0xc0, 0xa8,
    0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x01,
    /* ICMP */
    0x08, 0x00, 0xa0, 0xeb, 0x1c, 0x46, 0x00, 0x01, 0xd1, 0xa0, 0xf7, 0x65, 0x00, 0x00,
    0x00, 0x00, 0xa8, 0xf3, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13,
    0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21,
    0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};

/* ---- Ethernet --------------------------------------------------------------- */

static void test_eth_parse_real(void **state)
{
    (void)state;
    struct ns_eth_repr r;
    static const uint8_t src[6] = {0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54};
    assert_int_equal(ns_eth_parse(arp_frame, sizeof(arp_frame), &r), 0);
    assert_memory_equal(r.dst, ns_eth_broadcast, 6);
    assert_memory_equal(r.src, src, 6);
    assert_int_equal(r.ethertype, NS_ETHERTYPE_ARP);
    assert_true(ns_eth_is_broadcast(r.dst));
    assert_true(ns_eth_is_multicast(r.dst));
    assert_false(ns_eth_is_broadcast(r.src));
    assert_false(ns_eth_is_multicast(r.src));
    /* Exactly the header is enough. */
    uint8_t *hdr = dup_exact(arp_frame, NS_ETH_HLEN);
    assert_int_equal(ns_eth_parse(hdr, NS_ETH_HLEN, &r), 0);
    free(hdr);
}

static void test_eth_roundtrip(void **state)
{
    (void)state;
    struct ns_eth_repr r = {
        .dst = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb},
        .src = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55},
        .ethertype = NS_ETHERTYPE_IPV6,
    };
    static const uint8_t want[14] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb, 0x02,
                                     0x11, 0x22, 0x33, 0x44, 0x55, 0x86, 0xdd};
    uint8_t buf[16];
    memset(buf, 0xee, sizeof(buf));
    ns_eth_emit(&r, buf);
    assert_memory_equal(buf, want, 14);
    assert_int_equal(buf[14], 0xee); /* wrote 14 bytes, no more */
    struct ns_eth_repr back;
    assert_int_equal(ns_eth_parse(buf, 14, &back), 0);
    assert_memory_equal(back.dst, r.dst, 6);
    assert_memory_equal(back.src, r.src, 6);
    assert_int_equal(back.ethertype, NS_ETHERTYPE_IPV6);
    assert_true(ns_eth_is_multicast(back.dst));
    assert_false(ns_eth_is_broadcast(back.dst));
    /* 802.3 length frames and unknown types are kept, not rejected. */
    r.ethertype = 0x002e;
    ns_eth_emit(&r, buf);
    assert_int_equal(ns_eth_parse(buf, 14, &back), 0);
    assert_int_equal(back.ethertype, 0x002e);
}

static void test_eth_truncated(void **state)
{
    (void)state;
    struct ns_eth_repr r;
    for (size_t len = 0; len < NS_ETH_HLEN; len++) {
        uint8_t *p = dup_exact(arp_frame, len);
        assert_int_equal(ns_eth_parse(p, len, &r), -NS_WIRE_TRUNCATED);
        free(p);
    }
}

static void test_eth_broadcast_const(void **state)
{
    (void)state;
    for (int i = 0; i < 6; i++)
        assert_int_equal(ns_eth_broadcast[i], 0xff);
    assert_true(ns_eth_is_broadcast(ns_eth_broadcast));
    static const uint8_t almost[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    assert_false(ns_eth_is_broadcast(almost));
    assert_true(ns_eth_is_multicast(almost));
}

static void test_mac_ntoa(void **state)
{
    (void)state;
    char buf[18];
    static const uint8_t mac[6] = {0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54};
    assert_ptr_equal(ns_mac_ntoa(mac, buf), buf);
    assert_string_equal(buf, "00:07:0d:af:f4:54");
    assert_string_equal(ns_mac_ntoa(ns_eth_broadcast, buf), "ff:ff:ff:ff:ff:ff");
}

/* ---- ARP ---------------------------------------------------------------------- */

static const uint8_t *arp_pkt(void) { return arp_frame + NS_ETH_HLEN; }

static void test_arp_parse_real(void **state)
{
    (void)state;
    static const uint8_t sha[6] = {0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54};
    static const uint8_t zero[6] = {0};
    struct ns_arp_repr r;
    /* With the Ethernet padding still behind it. */
    assert_int_equal(ns_arp_parse(arp_pkt(), sizeof(arp_frame) - NS_ETH_HLEN, &r), 0);
    assert_int_equal(r.op, NS_ARP_OP_REQUEST);
    assert_memory_equal(r.sha, sha, 6);
    assert_int_equal(r.spa, 0x18a6ac01); /* 24.166.172.1 */
    assert_memory_equal(r.tha, zero, 6);
    assert_int_equal(r.tpa, 0x18a6ad9f); /* 24.166.173.159 */
    /* Emit gives the same 28 bytes back. */
    uint8_t buf[NS_ARP_LEN + 2];
    memset(buf, 0xee, sizeof(buf));
    ns_arp_emit(&r, buf);
    assert_memory_equal(buf, arp_pkt(), NS_ARP_LEN);
    assert_int_equal(buf[NS_ARP_LEN], 0xee);
    /* Exactly 28 bytes is enough. */
    uint8_t *p = dup_exact(arp_pkt(), NS_ARP_LEN);
    assert_int_equal(ns_arp_parse(p, NS_ARP_LEN, &r), 0);
    free(p);
}

static void test_arp_roundtrip(void **state)
{
    (void)state;
    struct ns_arp_repr r = {
        .op = NS_ARP_OP_REPLY,
        .sha = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02},
        .spa = 0x0a000002,
        .tha = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01},
        .tpa = 0x0a000001,
    };
    static const uint8_t want[NS_ARP_LEN] = {
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
        0x0a, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x01,
    };
    uint8_t buf[NS_ARP_LEN];
    ns_arp_emit(&r, buf);
    assert_memory_equal(buf, want, NS_ARP_LEN);
    struct ns_arp_repr back;
    memset(&back, 0x55, sizeof(back));
    assert_int_equal(ns_arp_parse(buf, NS_ARP_LEN, &back), 0);
    assert_int_equal(back.op, r.op);
    assert_memory_equal(back.sha, r.sha, 6);
    assert_int_equal(back.spa, r.spa);
    assert_memory_equal(back.tha, r.tha, 6);
    assert_int_equal(back.tpa, r.tpa);
}

static void test_arp_truncated(void **state)
{
    (void)state;
    struct ns_arp_repr r;
    for (size_t len = 0; len < NS_ARP_LEN; len++) {
        uint8_t *p = dup_exact(arp_pkt(), len);
        assert_int_equal(ns_arp_parse(p, len, &r), -NS_WIRE_TRUNCATED);
        free(p);
    }
}

/* Parse the real request with byte `off` (and off+1 when wide) replaced. */
static int arp_with(size_t off, unsigned val, int wide)
{
    uint8_t buf[NS_ARP_LEN];
    struct ns_arp_repr r;
    memcpy(buf, arp_pkt(), NS_ARP_LEN);
    if (wide)
        ns_wr16(buf + off, (uint16_t)val);
    else
        buf[off] = (uint8_t)val;
    return ns_arp_parse(buf, NS_ARP_LEN, &r);
}

static void test_arp_malformed(void **state)
{
    (void)state;
    /* htype: 6 = IEEE 802, 0, 0x0100 (byte-swapped Ethernet) */
    assert_int_equal(arp_with(0, 6, 1), -NS_WIRE_UNSUPPORTED);
    assert_int_equal(arp_with(0, 0, 1), -NS_WIRE_UNSUPPORTED);
    assert_int_equal(arp_with(0, 0x0100, 1), -NS_WIRE_UNSUPPORTED);
    /* ptype: IPv6, ARP, byte-swapped IPv4 */
    assert_int_equal(arp_with(2, NS_ETHERTYPE_IPV6, 1), -NS_WIRE_UNSUPPORTED);
    assert_int_equal(arp_with(2, NS_ETHERTYPE_ARP, 1), -NS_WIRE_UNSUPPORTED);
    assert_int_equal(arp_with(2, 0x0008, 1), -NS_WIRE_UNSUPPORTED);
    /* hlen, plen */
    for (unsigned v = 0; v < 256; v++) {
        if (v != 6)
            assert_int_equal(arp_with(4, v, 0), -NS_WIRE_UNSUPPORTED);
        if (v != 4)
            assert_int_equal(arp_with(5, v, 0), -NS_WIRE_UNSUPPORTED);
    }
    /* op: only 1 and 2 (RARP 3/4, InARP 8/9, 0, byte-swapped 1) */
    static const unsigned bad_ops[] = {0, 3, 4, 8, 9, 0x0100, 0x0200, 0xffff};
    for (size_t i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++)
        assert_int_equal(arp_with(6, bad_ops[i], 1), -NS_WIRE_BAD_FIELD);
    assert_int_equal(arp_with(6, NS_ARP_OP_REQUEST, 1), 0);
    assert_int_equal(arp_with(6, NS_ARP_OP_REPLY, 1), 0);
    /* Unsupported hardware wins over a bad op: it is not our format at all. */
    uint8_t buf[NS_ARP_LEN];
    struct ns_arp_repr r;
    memcpy(buf, arp_pkt(), NS_ARP_LEN);
    ns_wr16(buf, 6);
    ns_wr16(buf + 6, 0);
    assert_int_equal(ns_arp_parse(buf, NS_ARP_LEN, &r), -NS_WIRE_UNSUPPORTED);
}

/* ---- IPv4 ------------------------------------------------------------------------ */

static void test_ip4_parse_real(void **state)
{
    (void)state;
    struct ns_ip4_repr r;
    assert_int_equal(ns_ip4_parse(ping_pkt, sizeof(ping_pkt), &r, true), 0);
    assert_int_equal(r.hlen, 20);
    assert_int_equal(r.tos, 0);
    assert_int_equal(r.total_len, 84);
    assert_int_equal(r.id, 0x7a3e);
    assert_true(r.df);
    assert_false(r.mf);
    assert_int_equal(r.frag_off, 0);
    assert_int_equal(r.ttl, 64);
    assert_int_equal(r.proto, NS_IPPROTO_ICMP);
    assert_int_equal(r.src, 0xc0a8010a);
    assert_int_equal(r.dst, 0xc0a80101);
    /* Emit reproduces the header byte for byte, checksum included. */
    uint8_t buf[24];
    memset(buf, 0xee, sizeof(buf));
    ns_ip4_emit(&r, buf);
    assert_memory_equal(buf, ping_pkt, 20);
    assert_int_equal(buf[20], 0xee);
}

static void test_ip4_padding_ok(void **state)
{
    (void)state;
    /* A 46-byte IP packet in a 60-byte frame: 14 bytes of link padding
     * after total_len are fine, and total_len == len is fine. */
    uint8_t buf[64] = {0};
    struct ns_ip4_repr r = {.hlen = 20, .total_len = 26, .ttl = 1, .proto = 17,
                            .src = 1, .dst = 2};
    ns_ip4_emit(&r, buf);
    struct ns_ip4_repr back;
    assert_int_equal(ns_ip4_parse(buf, 46, &back, true), 0);
    assert_int_equal(back.total_len, 26);
    uint8_t *p = dup_exact(buf, 26);
    assert_int_equal(ns_ip4_parse(p, 26, &back, true), 0);
    free(p);
}

static void test_ip4_roundtrip_random(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x1b4));
    uint8_t buf[NS_IP4_MAX_HLEN + 64];
    for (int iter = 0; iter < 3000; iter++) {
        struct ns_ip4_repr r = {0};
        r.hlen = (uint8_t)(20 + 4 * ns_rng_below(&rng, 11));
        r.tos = (uint8_t)ns_rng_next(&rng);
        r.total_len = (uint16_t)(r.hlen + ns_rng_below(&rng, 65));
        r.id = (uint16_t)ns_rng_next(&rng);
        r.df = ns_rng_below(&rng, 2);
        r.mf = ns_rng_below(&rng, 2);
        r.frag_off = (uint16_t)(8 * ns_rng_below(&rng, NS_IP4_OFFMASK + 1));
        r.ttl = (uint8_t)ns_rng_next(&rng);
        r.proto = (uint8_t)ns_rng_next(&rng);
        r.src = (uint32_t)ns_rng_next(&rng);
        r.dst = (uint32_t)ns_rng_next(&rng);
        uint8_t opts[40];
        for (size_t i = 0; i < sizeof(opts); i++)
            opts[i] = (uint8_t)ns_rng_next(&rng);
        memset(buf, 0xee, sizeof(buf));
        memcpy(buf + 20, opts, r.hlen - 20u);
        ns_ip4_emit(&r, buf);
        /* Options left as they were, nothing written past hlen. */
        NS_ASSERT_SEED(memcmp(buf + 20, opts, r.hlen - 20u) == 0);
        NS_ASSERT_SEED(buf[r.hlen] == 0xee);
        NS_ASSERT_SEED(ns_csum(buf, r.hlen) == 0);
        NS_ASSERT_SEED(buf[0] >> 4 == 4 && (buf[0] & 15) * 4 == r.hlen);
        /* Reserved flag bit stays clear. */
        NS_ASSERT_SEED((buf[6] & 0x80) == 0);
        struct ns_ip4_repr back;
        memset(&back, 0x55, sizeof(back));
        NS_ASSERT_SEED(ns_ip4_parse(buf, r.total_len, &back, true) == 0);
        NS_ASSERT_SEED(back.hlen == r.hlen && back.tos == r.tos);
        NS_ASSERT_SEED(back.total_len == r.total_len && back.id == r.id);
        NS_ASSERT_SEED(back.df == r.df && back.mf == r.mf && back.frag_off == r.frag_off);
        NS_ASSERT_SEED(back.ttl == r.ttl && back.proto == r.proto);
        NS_ASSERT_SEED(back.src == r.src && back.dst == r.dst);
    }
}

static void test_ip4_flags_fragments(void **state)
{
    (void)state;
    uint8_t buf[20];
    struct ns_ip4_repr r = {.hlen = 20, .total_len = 20, .mf = true, .frag_off = 185 * 8,
                            .ttl = 9, .proto = 6};
    ns_ip4_emit(&r, buf);
    assert_int_equal(ns_rd16(buf + 6), 0x2000 | 185);
    r.mf = false;
    r.df = true;
    r.frag_off = NS_IP4_OFFMASK * 8; /* 65528 */
    ns_ip4_emit(&r, buf);
    assert_int_equal(ns_rd16(buf + 6), 0x4000 | 0x1fff);
    struct ns_ip4_repr back;
    assert_int_equal(ns_ip4_parse(buf, 20, &back, true), 0);
    assert_int_equal(back.frag_off, 65528);
    assert_true(back.df);
    assert_false(back.mf);
    /* The reserved bit is ignored on receipt (RFC 1122 §1.2.2), not an error. */
    buf[6] |= 0x80;
    ns_wr16(buf + 10, 0);
    ns_wr16(buf + 10, ns_csum(buf, 20));
    assert_int_equal(ns_ip4_parse(buf, 20, &back, true), 0);
    assert_true(back.df);
    assert_int_equal(back.frag_off, 65528);
}

/* A valid 24-byte header (one 4-byte option) + 40 payload bytes. */
static void make_ip_with_opt(uint8_t buf[64])
{
    memset(buf, 0x5a, 64);
    buf[20] = 0x94; /* Router Alert, RFC 2113: copied, len 4 */
    buf[21] = 4;
    buf[22] = 0;
    buf[23] = 0;
    struct ns_ip4_repr r = {.hlen = 24, .total_len = 64, .id = 7, .ttl = 1,
                            .proto = 2, .src = 0x0a000001, .dst = 0xe0000016};
    ns_ip4_emit(&r, buf);
}

static void refresh_csum(uint8_t *buf, size_t hlen)
{
    ns_wr16(buf + 10, 0);
    ns_wr16(buf + 10, ns_csum(buf, hlen));
}

static void test_ip4_truncated(void **state)
{
    (void)state;
    uint8_t pkt[64];
    struct ns_ip4_repr r;
    make_ip_with_opt(pkt);
    assert_int_equal(ns_ip4_parse(pkt, 64, &r, true), 0);
    assert_int_equal(r.hlen, 24);
    for (size_t len = 0; len < 64; len++) {
        uint8_t *p = dup_exact(pkt, len);
        int want = len < 20 ? -NS_WIRE_TRUNCATED    /* not even a minimal header */
                   : len < 24 ? -NS_WIRE_BAD_HLEN   /* IHL*4 > len */
                              : -NS_WIRE_BAD_LEN;   /* total_len > len */
        assert_int_equal(ns_ip4_parse(p, len, &r, true), want);
        assert_int_equal(ns_ip4_parse(p, len, &r, false), want);
        free(p);
    }
    /* The ping packet, every truncation. */
    for (size_t len = 0; len < sizeof(ping_pkt); len++) {
        uint8_t *p = dup_exact(ping_pkt, len);
        int want = len < 20 ? -NS_WIRE_TRUNCATED : -NS_WIRE_BAD_LEN;
        assert_int_equal(ns_ip4_parse(p, len, &r, true), want);
        free(p);
    }
}

static void test_ip4_bad_version(void **state)
{
    (void)state;
    uint8_t buf[84];
    struct ns_ip4_repr r;
    for (unsigned v = 0; v < 16; v++) {
        if (v == 4)
            continue;
        memcpy(buf, ping_pkt, sizeof(buf));
        buf[0] = (uint8_t)(v << 4 | 5);
        refresh_csum(buf, 20);
        assert_int_equal(ns_ip4_parse(buf, sizeof(buf), &r, true), -NS_WIRE_BAD_VERSION);
        assert_int_equal(ns_ip4_parse(buf, sizeof(buf), &r, false), -NS_WIRE_BAD_VERSION);
    }
    /* An IPv6 header start. */
    static const uint8_t v6[40] = {0x60, 0, 0, 0, 0, 0, 58, 64};
    assert_int_equal(ns_ip4_parse(v6, sizeof(v6), &r, false), -NS_WIRE_BAD_VERSION);
}

static void test_ip4_bad_hlen(void **state)
{
    (void)state;
    uint8_t buf[84];
    struct ns_ip4_repr r;
    /* IHL 0..4: below the 20-byte minimum (RFC 791 §3.1). */
    for (unsigned ihl = 0; ihl < 5; ihl++) {
        memcpy(buf, ping_pkt, sizeof(buf));
        buf[0] = (uint8_t)(0x40 | ihl);
        refresh_csum(buf, 20);
        assert_int_equal(ns_ip4_parse(buf, sizeof(buf), &r, true), -NS_WIRE_BAD_HLEN);
        assert_int_equal(ns_ip4_parse(buf, sizeof(buf), &r, false), -NS_WIRE_BAD_HLEN);
    }
    /* IHL 15 (60 bytes) in a 40-byte buffer. */
    memcpy(buf, ping_pkt, sizeof(buf));
    buf[0] = 0x4f;
    ns_wr16(buf + 2, 40);
    uint8_t *p = dup_exact(buf, 40);
    assert_int_equal(ns_ip4_parse(p, 40, &r, false), -NS_WIRE_BAD_HLEN);
    free(p);
    /* IHL 6 in exactly 20 bytes. */
    buf[0] = 0x46;
    ns_wr16(buf + 2, 20);
    p = dup_exact(buf, 20);
    assert_int_equal(ns_ip4_parse(p, 20, &r, false), -NS_WIRE_BAD_HLEN);
    free(p);
}

static void test_ip4_bad_total_len(void **state)
{
    (void)state;
    uint8_t buf[84];
    struct ns_ip4_repr r;
    /* total_len < hlen */
    static const uint16_t small[] = {0, 1, 19};
    for (size_t i = 0; i < 3; i++) {
        memcpy(buf, ping_pkt, sizeof(buf));
        ns_wr16(buf + 2, small[i]);
        refresh_csum(buf, 20);
        assert_int_equal(ns_ip4_parse(buf, sizeof(buf), &r, true), -NS_WIRE_BAD_LEN);
    }
    /* total_len < hlen with options: 23 < 24 */
    uint8_t opt[64];
    make_ip_with_opt(opt);
    ns_wr16(opt + 2, 23);
    refresh_csum(opt, 24);
    assert_int_equal(ns_ip4_parse(opt, 64, &r, true), -NS_WIRE_BAD_LEN);
    ns_wr16(opt + 2, 24); /* header only: fine */
    refresh_csum(opt, 24);
    assert_int_equal(ns_ip4_parse(opt, 64, &r, true), 0);
    assert_int_equal(r.total_len, 24);
    /* total_len > len: 85, 0xffff */
    memcpy(buf, ping_pkt, sizeof(buf));
    ns_wr16(buf + 2, 85);
    refresh_csum(buf, 20);
    assert_int_equal(ns_ip4_parse(buf, sizeof(buf), &r, true), -NS_WIRE_BAD_LEN);
    ns_wr16(buf + 2, 0xffff);
    refresh_csum(buf, 20);
    assert_int_equal(ns_ip4_parse(buf, sizeof(buf), &r, true), -NS_WIRE_BAD_LEN);
}

static void test_ip4_bad_csum(void **state)
{
    (void)state;
    uint8_t buf[84];
    struct ns_ip4_repr r;
    /* Flip each bit of the header in turn: always caught. */
    for (size_t bit = 0; bit < 20 * 8; bit++) {
        memcpy(buf, ping_pkt, sizeof(buf));
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int rc = ns_ip4_parse(buf, sizeof(buf), &r, true);
        /* Version/IHL/length bits may trip an earlier check first. */
        if (bit / 8 == 0 || bit / 8 == 2 || bit / 8 == 3)
            assert_int_not_equal(rc, 0);
        else
            assert_int_equal(rc, -NS_WIRE_BAD_CSUM);
    }
    /* A wrong TTL with verify_csum=false is accepted as it stands. */
    memcpy(buf, ping_pkt, sizeof(buf));
    buf[8] = 1;
    assert_int_equal(ns_ip4_parse(buf, sizeof(buf), &r, true), -NS_WIRE_BAD_CSUM);
    assert_int_equal(ns_ip4_parse(buf, sizeof(buf), &r, false), 0);
    assert_int_equal(r.ttl, 1);
    assert_int_equal(r.src, 0xc0a8010a);
    /* Payload bytes are not covered by the header checksum. */
    memcpy(buf, ping_pkt, sizeof(buf));
    buf[40] ^= 0xff;
    assert_int_equal(ns_ip4_parse(buf, sizeof(buf), &r, true), 0);
    /* Options are covered. */
    uint8_t opt[64];
    make_ip_with_opt(opt);
    opt[22] ^= 1;
    assert_int_equal(ns_ip4_parse(opt, 64, &r, true), -NS_WIRE_BAD_CSUM);
    assert_int_equal(ns_ip4_parse(opt, 64, &r, false), 0);
    /* +0 and -0: make the computed checksum 0x0000 by folding it into the
     * ID; the header verifies with 0x0000 and with 0xffff stored. */
    memcpy(buf, ping_pkt, sizeof(buf));
    ns_wr16(buf + 10, 0);
    uint32_t id = (uint32_t)ns_rd16(buf + 4) + ns_csum(buf, 20);
    ns_wr16(buf + 4, (uint16_t)((id & 0xffff) + (id >> 16)));
    assert_int_equal(ns_csum(buf, 20), 0x0000);
    assert_int_equal(ns_ip4_parse(buf, sizeof(buf), &r, true), 0);
    ns_wr16(buf + 10, 0xffff);
    assert_int_equal(ns_ip4_parse(buf, sizeof(buf), &r, true), 0);
    assert_int_equal(r.id, ns_rd16(buf + 4));
}

static void test_ip4_ntoa(void **state)
{
    (void)state;
    char buf[16];
    assert_ptr_equal(ns_ip4_ntoa(0xc0a80001, buf), buf);
    assert_string_equal(buf, "192.168.0.1");
    assert_string_equal(ns_ip4_ntoa(0, buf), "0.0.0.0");
    assert_string_equal(ns_ip4_ntoa(0xffffffffu, buf), "255.255.255.255");
    assert_string_equal(ns_ip4_ntoa(0x0a00ff01, buf), "10.0.255.1");
}

/* ---- IPv4 options copied into fragments (RFC 791 §3.2) --------------------- */

/* Run ns_ip4_opts_copied on exactly-sized heap copies (ASan bounds). */
static size_t opts_copied(const uint8_t *opts, size_t olen, uint8_t *out_copy)
{
    uint8_t *in = dup_exact(opts, olen);
    uint8_t *out = malloc(olen ? olen : 1);
    assert_non_null(out);
    memset(out, 0xee, olen);
    size_t n = ns_ip4_opts_copied(in, olen, out);
    assert_true(n <= olen);
    memcpy(out_copy, out, n);
    free(in);
    free(out);
    return n;
}

static void test_ip4_opts_mix(void **state)
{
    (void)state;
    static const uint8_t opts[40] = {
        0x01,                                     /* NOP */
        0x07, 0x07, 0x04, 0, 0, 0, 0,             /* Record Route: not copied */
        0x83, 0x07, 0x04, 10, 0, 0, 1,            /* LSRR: copied */
        0x01,                                     /* NOP */
        0x82, 0x0b, 1, 2, 3, 4, 5, 6, 7, 8, 9,    /* Security: copied */
        0x44, 0x04, 0x05, 0x00,                   /* Timestamp: not copied */
        0x00,                                     /* EOL */
        0x89, 0x03, 0x01,                         /* after EOL: ignored */
        0x00, 0x00, 0x00,
    };
    static const uint8_t want[20] = {
        0x83, 0x07, 0x04, 10, 0, 0, 1,
        0x82, 0x0b, 1, 2, 3, 4, 5, 6, 7, 8, 9,
        0x00, 0x00, /* EOL padding to 20 */
    };
    uint8_t out[40];
    size_t n = opts_copied(opts, sizeof(opts), out);
    assert_int_equal(n, 20);
    assert_memory_equal(out, want, 20);
}

static void test_ip4_opts_simple(void **state)
{
    (void)state;
    uint8_t out[40];
    /* Nothing copied. */
    static const uint8_t rr[8] = {0x07, 0x07, 0x04, 0, 0, 0, 0, 0x00};
    assert_int_equal(opts_copied(rr, 8, out), 0);
    static const uint8_t nops[4] = {1, 1, 1, 1};
    assert_int_equal(opts_copied(nops, 4, out), 0);
    static const uint8_t eols[4] = {0, 0x83, 0x03, 0x00};
    assert_int_equal(opts_copied(eols, 4, out), 0);
    assert_int_equal(opts_copied(nops, 0, out), 0);
    /* Router Alert (0x94, copied) alone: exactly 4, no padding. */
    static const uint8_t ra[4] = {0x94, 0x04, 0x00, 0x00};
    assert_int_equal(opts_copied(ra, 4, out), 4);
    assert_memory_equal(out, ra, 4);
    /* An unknown option with the copied bit is kept (STYLE §1). */
    static const uint8_t unk[8] = {0x01, 0x01, 0x9e, 0x05, 0xaa, 0xbb, 0xcc, 0x00};
    static const uint8_t unk_want[8] = {0x9e, 0x05, 0xaa, 0xbb, 0xcc, 0x00, 0x00, 0x00};
    assert_int_equal(opts_copied(unk, 8, out), 8);
    assert_memory_equal(out, unk_want, 8);
    /* Copied options running exactly to the end of the area. */
    static const uint8_t full[8] = {0x83, 0x03, 0x04, 0x88, 0x05, 1, 2, 3};
    assert_int_equal(opts_copied(full, 8, out), 8);
    assert_memory_equal(out, full, 8);
}

static void test_ip4_opts_malformed(void **state)
{
    (void)state;
    uint8_t out[40];
    /* Length 0 and 1 would loop forever or misalign: the walk stops, but
     * what was copied before stays. */
    static const uint8_t len0[8] = {0x94, 0x04, 0x00, 0x00, 0x83, 0x00, 0x83, 0x04};
    assert_int_equal(opts_copied(len0, 8, out), 4);
    assert_memory_equal(out, len0, 4);
    static const uint8_t len1[8] = {0x83, 0x01, 0x94, 0x04, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(opts_copied(len1, 8, out), 0);
    /* Length overrunning the area by one, and by a lot. */
    static const uint8_t over1[8] = {0x01, 0x83, 0x08, 4, 0, 0, 0, 0};
    assert_int_equal(opts_copied(over1, 8, out), 0);
    static const uint8_t over[4] = {0x83, 0xff, 0, 0};
    assert_int_equal(opts_copied(over, 4, out), 0);
    /* Type as the very last byte, no room for a length. */
    static const uint8_t lone[4] = {0x01, 0x01, 0x01, 0x83};
    assert_int_equal(opts_copied(lone, 4, out), 0);
    static const uint8_t lone1[1] = {0x83};
    assert_int_equal(opts_copied(lone1, 1, out), 0);
    /* An area not a multiple of 4 never gets padded past its end. */
    static const uint8_t odd[5] = {0x83, 0x05, 1, 2, 3};
    assert_int_equal(opts_copied(odd, 5, out), 5);
    assert_memory_equal(out, odd, 5);
}

static void test_ip4_opts_random(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x0975));
    uint8_t opts[40], out[40];
    for (int iter = 0; iter < 20000; iter++) {
        size_t olen = (size_t)ns_rng_below(&rng, 41);
        for (size_t i = 0; i < olen; i++) {
            /* Small lengths and the special types are likely. */
            uint64_t k = ns_rng_below(&rng, 4);
            opts[i] = (uint8_t)(k == 0 ? ns_rng_below(&rng, 2)
                                : k == 1 ? ns_rng_below(&rng, 12)
                                : k == 2 ? 0x80 | ns_rng_below(&rng, 32)
                                         : ns_rng_next(&rng));
        }
        size_t n = opts_copied(opts, olen, out);
        NS_ASSERT_SEED(n <= olen);
        if (olen % 4 == 0)
            NS_ASSERT_SEED(n % 4 == 0);
        /* The output is a list of copied options, then EOL padding. */
        size_t i = 0;
        while (i < n && out[i] != 0) {
            NS_ASSERT_SEED(out[i] & 0x80);
            NS_ASSERT_SEED(i + 1 < n && out[i + 1] >= 2 && i + out[i + 1] <= n);
            i += out[i + 1];
        }
        for (; i < n; i++)
            NS_ASSERT_SEED(out[i] == 0);
    }
}

/* ---- ICMPv4 ----------------------------------------------------------------------- */

static const uint8_t *ping_icmp(void) { return ping_pkt + 20; }
#define PING_ICMP_LEN (sizeof(ping_pkt) - 20)

static void test_icmp_parse_real(void **state)
{
    (void)state;
    struct ns_icmp4_repr r;
    assert_int_equal(ns_icmp4_parse(ping_icmp(), PING_ICMP_LEN, &r, true), 0);
    assert_int_equal(r.type, NS_ICMP_ECHO);
    assert_int_equal(r.code, 0);
    assert_int_equal(r.id, 0x1c46);
    assert_int_equal(r.seq, 1);
    assert_int_equal(r.rest, 0x1c460001);
    assert_int_equal(r.next_mtu, 0);
    assert_ptr_equal(r.payload, ping_icmp() + 8);
    assert_int_equal(r.payload_len, 56);
    /* Emitting it again (payload elsewhere) gives the same bytes. */
    uint8_t buf[PING_ICMP_LEN + 1];
    memset(buf, 0xee, sizeof(buf));
    ns_icmp4_emit(&r, buf);
    assert_memory_equal(buf, ping_icmp(), PING_ICMP_LEN);
    assert_int_equal(buf[PING_ICMP_LEN], 0xee);
    /* An echo reply built from it differs only in type and checksum. */
    r.type = NS_ICMP_ECHO_REPLY;
    ns_icmp4_emit(&r, buf);
    assert_int_equal(buf[0], 0);
    assert_int_equal(ns_rd16(buf + 2), 0xa0eb + 0x0800); /* RFC 1624: 8 << 8 less */
    assert_memory_equal(buf + 4, ping_icmp() + 4, PING_ICMP_LEN - 4);
    assert_int_equal(ns_csum(buf, PING_ICMP_LEN), 0);
}

static void test_icmp_truncated(void **state)
{
    (void)state;
    struct ns_icmp4_repr r;
    for (size_t len = 0; len < NS_ICMP_HLEN; len++) {
        uint8_t *p = dup_exact(ping_icmp(), len);
        assert_int_equal(ns_icmp4_parse(p, len, &r, true), -NS_WIRE_TRUNCATED);
        assert_int_equal(ns_icmp4_parse(p, len, &r, false), -NS_WIRE_TRUNCATED);
        free(p);
    }
    /* A bare 8-byte header with a correct checksum is fine. */
    uint8_t hdr[8];
    struct ns_icmp4_repr e = {.type = NS_ICMP_ECHO, .id = 1, .seq = 2};
    ns_icmp4_emit(&e, hdr);
    uint8_t *p = dup_exact(hdr, 8);
    assert_int_equal(ns_icmp4_parse(p, 8, &r, true), 0);
    assert_int_equal(r.payload_len, 0);
    free(p);
}

static void test_icmp_bad_csum(void **state)
{
    (void)state;
    uint8_t buf[PING_ICMP_LEN];
    struct ns_icmp4_repr r;
    /* Any byte, header or payload: the checksum covers the whole message. */
    for (size_t i = 0; i < PING_ICMP_LEN; i++) {
        memcpy(buf, ping_icmp(), PING_ICMP_LEN);
        buf[i] ^= 0x10;
        assert_int_equal(ns_icmp4_parse(buf, PING_ICMP_LEN, &r, true), -NS_WIRE_BAD_CSUM);
        assert_int_equal(ns_icmp4_parse(buf, PING_ICMP_LEN, &r, false), 0);
    }
    /* Truncating the message breaks its checksum too. */
    assert_int_equal(ns_icmp4_parse(ping_icmp(), PING_ICMP_LEN - 2, &r, true), -NS_WIRE_BAD_CSUM);
}

static void test_icmp_emit_payload_elsewhere(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x1c3));
    uint8_t payload[301], buf[8 + 301];
    for (int iter = 0; iter < 500; iter++) {
        size_t plen = (size_t)ns_rng_below(&rng, sizeof(payload) + 1); /* odd too */
        for (size_t i = 0; i < plen; i++)
            payload[i] = (uint8_t)ns_rng_next(&rng);
        struct ns_icmp4_repr r = {.type = NS_ICMP_ECHO, .id = (uint16_t)ns_rng_next(&rng),
                                  .seq = (uint16_t)ns_rng_next(&rng), .payload = payload,
                                  .payload_len = plen};
        memset(buf, 0xee, sizeof(buf));
        ns_icmp4_emit(&r, buf);
        NS_ASSERT_SEED(memcmp(buf + 8, payload, plen) == 0);
        NS_ASSERT_SEED(ns_csum(buf, 8 + plen) == 0);
        struct ns_icmp4_repr back;
        NS_ASSERT_SEED(ns_icmp4_parse(buf, 8 + plen, &back, true) == 0);
        NS_ASSERT_SEED(back.type == NS_ICMP_ECHO && back.code == 0);
        NS_ASSERT_SEED(back.id == r.id && back.seq == r.seq);
        NS_ASSERT_SEED(back.payload == buf + 8 && back.payload_len == plen);
    }
}

static void test_icmp_emit_in_place(void **state)
{
    (void)state;
    /* Payload already at buf+8: left as is, covered by the checksum. */
    uint8_t buf[8 + 56];
    memcpy(buf, ping_icmp(), PING_ICMP_LEN);
    memset(buf, 0, 8);
    struct ns_icmp4_repr r = {.type = NS_ICMP_ECHO, .id = 0x1c46, .seq = 1,
                              .payload = buf + 8, .payload_len = 56};
    ns_icmp4_emit(&r, buf);
    assert_memory_equal(buf, ping_icmp(), PING_ICMP_LEN);
    /* No payload at all (NULL): just the header (UBSan: no memmove(NULL)). */
    struct ns_icmp4_repr e = {.type = NS_ICMP_ECHO_REPLY, .id = 3, .seq = 4};
    uint8_t hdr[9];
    hdr[8] = 0xee;
    ns_icmp4_emit(&e, hdr);
    static const uint8_t want[8] = {0x00, 0x00, 0xff, 0xf8, 0x00, 0x03, 0x00, 0x04};
    assert_memory_equal(hdr, want, 8);
    assert_int_equal(hdr[8], 0xee);
}

static void test_icmp_emit_overlapping(void **state)
{
    (void)state;
    static const uint8_t data[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                     11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    /* Payload starting inside the header area (buf+2): moved forward
     * before the header overwrites it. */
    uint8_t buf[40];
    for (size_t at = 0; at <= 16; at++) {
        memset(buf, 0xee, sizeof(buf));
        memcpy(buf + at, data, sizeof(data));
        struct ns_icmp4_repr r = {.type = NS_ICMP_ECHO, .id = 9, .seq = 9,
                                  .payload = buf + at, .payload_len = sizeof(data)};
        ns_icmp4_emit(&r, buf);
        assert_memory_equal(buf + 8, data, sizeof(data));
        assert_int_equal(ns_csum(buf, 8 + sizeof(data)), 0);
    }
    /* Payload before the destination (building in front of it). */
    uint8_t big[60];
    memcpy(big, data, sizeof(data));
    struct ns_icmp4_repr r = {.type = NS_ICMP_ECHO, .payload = big, .payload_len = sizeof(data)};
    ns_icmp4_emit(&r, big + 4);
    assert_memory_equal(big + 12, data, sizeof(data));
    assert_int_equal(ns_csum(big + 4, 8 + sizeof(data)), 0);
}

static void test_icmp_other_types(void **state)
{
    (void)state;
    /* Fragmentation needed (RFC 1191 §4): unused 16 bits zero, MTU. */
    uint8_t quote[28];
    memcpy(quote, ping_pkt, 28);
    uint8_t buf[8 + 28];
    struct ns_icmp4_repr r = {.type = NS_ICMP_DEST_UNREACH, .code = NS_ICMP_FRAG_NEEDED,
                              .next_mtu = 1400, .rest = 0xdeadbeef, .id = 7, .seq = 7,
                              .payload = quote, .payload_len = 28};
    ns_icmp4_emit(&r, buf);
    static const uint8_t want4[4] = {0x00, 0x00, 0x05, 0x78};
    assert_memory_equal(buf + 4, want4, 4);
    struct ns_icmp4_repr back;
    assert_int_equal(ns_icmp4_parse(buf, sizeof(buf), &back, true), 0);
    assert_int_equal(back.type, NS_ICMP_DEST_UNREACH);
    assert_int_equal(back.code, NS_ICMP_FRAG_NEEDED);
    assert_int_equal(back.next_mtu, 1400);
    assert_int_equal(back.rest, 1400);
    assert_int_equal(back.id, 0);
    assert_int_equal(back.seq, 0);
    assert_memory_equal(back.payload, ping_pkt, 28);
    /* Port unreachable: rest written raw, next_mtu neither written nor
     * parsed (it is only meaningful for code 4). */
    r.code = NS_ICMP_PORT_UNREACH;
    r.rest = 0x0000abcd;
    ns_icmp4_emit(&r, buf);
    assert_int_equal(ns_rd32(buf + 4), 0x0000abcd);
    assert_int_equal(ns_icmp4_parse(buf, sizeof(buf), &back, true), 0);
    assert_int_equal(back.rest, 0x0000abcd);
    assert_int_equal(back.next_mtu, 0);
    /* Parameter problem: pointer in the first byte of rest (RFC 792). */
    r.type = NS_ICMP_PARAM_PROB;
    r.code = 0;
    r.rest = 0x09000000;
    ns_icmp4_emit(&r, buf);
    assert_int_equal(buf[4], 9);
    assert_int_equal(ns_icmp4_parse(buf, sizeof(buf), &back, true), 0);
    assert_int_equal(back.type, NS_ICMP_PARAM_PROB);
    assert_int_equal(back.rest, 0x09000000);
    assert_int_equal(back.id, 0);
    /* Time exceeded, an unknown type: rest raw both ways. */
    static const uint8_t types[] = {NS_ICMP_TIME_EXCEEDED, 5, 42, 255};
    for (size_t i = 0; i < sizeof(types); i++) {
        r.type = types[i];
        r.code = 1;
        r.rest = 0x01020304;
        ns_icmp4_emit(&r, buf);
        assert_int_equal(ns_rd32(buf + 4), 0x01020304);
        assert_int_equal(ns_icmp4_parse(buf, sizeof(buf), &back, true), 0);
        assert_int_equal(back.type, types[i]);
        assert_int_equal(back.code, 1);
        assert_int_equal(back.rest, 0x01020304);
    }
}

static void test_full_frame(void **state)
{
    (void)state;
    /* Eth + IPv4 + ICMP built layer by layer equals the real ping (with
     * a made-up Ethernet header), and parses back layer by layer. */
    uint8_t frame[14 + 84];
    struct ns_eth_repr eth = {.dst = {0x02, 0, 0, 0, 0, 1}, .src = {0x02, 0, 0, 0, 0, 2},
                              .ethertype = NS_ETHERTYPE_IPV4};
    struct ns_icmp4_repr icmp;
    assert_int_equal(ns_icmp4_parse(ping_icmp(), PING_ICMP_LEN, &icmp, true), 0);
    struct ns_ip4_repr ip;
    assert_int_equal(ns_ip4_parse(ping_pkt, sizeof(ping_pkt), &ip, true), 0);
    ns_icmp4_emit(&icmp, frame + 14 + 20);
    ns_ip4_emit(&ip, frame + 14);
    ns_eth_emit(&eth, frame);
    assert_memory_equal(frame + 14, ping_pkt, sizeof(ping_pkt));
    struct ns_eth_repr e2;
    struct ns_ip4_repr i2;
    struct ns_icmp4_repr c2;
    assert_int_equal(ns_eth_parse(frame, sizeof(frame), &e2), 0);
    assert_int_equal(e2.ethertype, NS_ETHERTYPE_IPV4);
    assert_int_equal(ns_ip4_parse(frame + 14, sizeof(frame) - 14, &i2, true), 0);
    assert_int_equal(ns_icmp4_parse(frame + 14 + i2.hlen, i2.total_len - i2.hlen, &c2, true), 0);
    assert_int_equal(c2.seq, 1);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eth_parse_real),
        cmocka_unit_test(test_eth_roundtrip),
        cmocka_unit_test(test_eth_truncated),
        cmocka_unit_test(test_eth_broadcast_const),
        cmocka_unit_test(test_mac_ntoa),
        cmocka_unit_test(test_arp_parse_real),
        cmocka_unit_test(test_arp_roundtrip),
        cmocka_unit_test(test_arp_truncated),
        cmocka_unit_test(test_arp_malformed),
        cmocka_unit_test(test_ip4_parse_real),
        cmocka_unit_test(test_ip4_padding_ok),
        cmocka_unit_test(test_ip4_roundtrip_random),
        cmocka_unit_test(test_ip4_flags_fragments),
        cmocka_unit_test(test_ip4_truncated),
        cmocka_unit_test(test_ip4_bad_version),
        cmocka_unit_test(test_ip4_bad_hlen),
        cmocka_unit_test(test_ip4_bad_total_len),
        cmocka_unit_test(test_ip4_bad_csum),
        cmocka_unit_test(test_ip4_ntoa),
        cmocka_unit_test(test_ip4_opts_mix),
        cmocka_unit_test(test_ip4_opts_simple),
        cmocka_unit_test(test_ip4_opts_malformed),
        cmocka_unit_test(test_ip4_opts_random),
        cmocka_unit_test(test_icmp_parse_real),
        cmocka_unit_test(test_icmp_truncated),
        cmocka_unit_test(test_icmp_bad_csum),
        cmocka_unit_test(test_icmp_emit_payload_elsewhere),
        cmocka_unit_test(test_icmp_emit_in_place),
        cmocka_unit_test(test_icmp_emit_overlapping),
        cmocka_unit_test(test_icmp_other_types),
        cmocka_unit_test(test_full_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
