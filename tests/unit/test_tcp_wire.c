/* tests/unit/test_tcp_wire.c — TCP header and options (RFC 9293 §3.1,
 * §3.2; RFC 7323; RFC 2018): a real Linux SYN field by field and byte for
 * byte, round trips of every option combination, the exact emitted
 * layouts, every truncation, bad data offsets, malformed options with
 * their documented result, and the checksum against a hand computation.
 * Inputs are copied into exactly-sized heap blocks so that any read past
 * `len` is caught by ASan.
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

/* Parse an exactly-sized copy of buf[0..len). */
static int parse_exact(const uint8_t *buf, size_t len, struct ns_tcp_repr *r)
{
    uint8_t *p = dup_exact(buf, len);
    int rc = ns_tcp_parse(p, len, r);
    free(p);
    return rc;
}

/* Every field of two reprs (SACK blocks up to n_sack). */
static void assert_repr_equal(const struct ns_tcp_repr *got, const struct ns_tcp_repr *want)
{
    assert_int_equal(got->sport, want->sport);
    assert_int_equal(got->dport, want->dport);
    assert_int_equal(got->seq, want->seq);
    assert_int_equal(got->ack, want->ack);
    assert_int_equal(got->hlen, want->hlen);
    assert_int_equal(got->flags, want->flags);
    assert_int_equal(got->win, want->win);
    assert_int_equal(got->csum, want->csum);
    assert_int_equal(got->urp, want->urp);
    assert_int_equal(got->has_mss, want->has_mss);
    if (want->has_mss)
        assert_int_equal(got->mss, want->mss);
    assert_int_equal(got->has_wscale, want->has_wscale);
    if (want->has_wscale)
        assert_int_equal(got->wscale, want->wscale);
    assert_int_equal(got->sack_ok, want->sack_ok);
    assert_int_equal(got->has_ts, want->has_ts);
    if (want->has_ts) {
        assert_int_equal(got->ts_val, want->ts_val);
        assert_int_equal(got->ts_ecr, want->ts_ecr);
    }
    assert_int_equal(got->n_sack, want->n_sack);
    for (size_t i = 0; i < want->n_sack; i++) {
        assert_int_equal(got->sack[i].left, want->sack[i].left);
        assert_int_equal(got->sack[i].right, want->sack[i].right);
    }
}

/* ---- a real SYN ------------------------------------------------------------ */

/* A Linux 6.18 SYN, captured with an AF_PACKET socket on lo: connect()
 * from 127.0.0.1:38298 to 127.0.0.1:54321 (a closed port) on a socket
 * with TCP_MAXSEG 1460 and SO_RCVBUF 4 MiB (so window scale 7, as a
 * default Linux host sends; the window field is then 65535). Options
 * as Linux lays them out: MSS 1460, SACK-permitted + timestamps, NOP +
 * window scale 7. The checksum field is as captured: on loopback Linux
 * leaves the checksum to "offload" (CHECKSUM_PARTIAL), so the field holds
 * the folded pseudo-header sum, 0xfe30, not the final checksum (0xd452,
 * see test_tcp_csum_hand). */
static const uint8_t linux_syn[40] = {
    0x95, 0x9a, 0xd4, 0x31,  /* ports 38298 -> 54321 */
    0x2e, 0xf3, 0x85, 0x34,  /* seq */
    0x00, 0x00, 0x00, 0x00,  /* ack */
    0xa0, 0x02, 0xff, 0xff,  /* doff 10 (40 bytes), SYN, window 65535 */
    0xfe, 0x30, 0x00, 0x00,  /* checksum (partial), urgent pointer */
    0x02, 0x04, 0x05, 0xb4,  /* MSS 1460 */
    0x04, 0x02, 0x08, 0x0a,  /* SACK-permitted, TS kind/len */
    0xdc, 0x32, 0x7b, 0x84,  /* TSval */
    0x00, 0x00, 0x00, 0x00,  /* TSecr */
    0x01, 0x03, 0x03, 0x07,  /* NOP, WS 7 */
};
#define LOOPBACK 0x7f000001u /* 127.0.0.1 */

static void test_tcp_parse_linux_syn(void **state)
{
    (void)state;
    struct ns_tcp_repr r;
    assert_int_equal(parse_exact(linux_syn, sizeof(linux_syn), &r), 0);
    assert_int_equal(r.sport, 38298);
    assert_int_equal(r.dport, 54321);
    assert_int_equal(r.seq, 0x2ef38534);
    assert_int_equal(r.ack, 0);
    assert_int_equal(r.hlen, 40);
    assert_int_equal(r.flags, NS_TCP_SYN);
    assert_int_equal(r.win, 65535);
    assert_int_equal(r.csum, 0xfe30);
    assert_int_equal(r.urp, 0);
    assert_true(r.has_mss);
    assert_int_equal(r.mss, 1460);
    assert_true(r.sack_ok);
    assert_true(r.has_ts);
    assert_int_equal(r.ts_val, 0xdc327b84);
    assert_int_equal(r.ts_ecr, 0);
    assert_true(r.has_wscale);
    assert_int_equal(r.wscale, 7);
    assert_int_equal(r.n_sack, 0);

    /* Emitting the parsed repr gives the captured bytes back: the layout
     * is Linux's. */
    assert_int_equal(ns_tcp_opts_len(&r), 20);
    uint8_t buf[64];
    memset(buf, 0xee, sizeof(buf));
    ns_tcp_emit(&r, buf);
    assert_memory_equal(buf, linux_syn, sizeof(linux_syn));
    assert_int_equal(buf[40], 0xee);

    /* With a payload behind it (a SYN with data, e.g. TFO). */
    uint8_t seg[44];
    memcpy(seg, linux_syn, 40);
    memcpy(seg + 40, "data", 4);
    assert_int_equal(parse_exact(seg, sizeof(seg), &r), 0);
    assert_int_equal(r.hlen, 40);
    assert_int_equal(r.mss, 1460);
}

/* A data segment as Linux sends it with timestamps and three SACK blocks:
 * [NOP][NOP][TS] [NOP][NOP][SACK 3 blocks], 40 bytes of options (RFC 2018
 * §3: with timestamps at most 3 blocks fit). */
static const uint8_t linux_ack_sack[60] = {
    0xd4, 0x31, 0x95, 0x9a, 0x00, 0x00, 0x10, 0x00, 0x2e, 0xf3, 0x85, 0x35,
    0xf0, 0x10, 0x01, 0xf5, 0x00, 0x00, 0x00, 0x00,  /* doff 15, ACK, win 501 */
    0x01, 0x01, 0x08, 0x0a, 0x00, 0x01, 0x02, 0x03, 0xdc, 0x32, 0x7b, 0x84,
    0x01, 0x01, 0x05, 0x1a,                          /* SACK, 2 + 3 * 8 */
    0x2e, 0xf3, 0xa5, 0x35, 0x2e, 0xf3, 0xb5, 0x35,  /* block 1 */
    0x2e, 0xf3, 0x95, 0x35, 0x2e, 0xf3, 0x9d, 0x35,  /* block 2 */
    0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00,  /* block 3, across 2^32 */
};

static void test_tcp_parse_ack_sack(void **state)
{
    (void)state;
    struct ns_tcp_repr r;
    assert_int_equal(parse_exact(linux_ack_sack, sizeof(linux_ack_sack), &r), 0);
    struct ns_tcp_repr want = {
        .sport = 54321, .dport = 38298, .seq = 0x1000, .ack = 0x2ef38535, .hlen = 60,
        .flags = NS_TCP_ACK, .win = 501,
        .has_ts = true, .ts_val = 0x00010203, .ts_ecr = 0xdc327b84,
        .n_sack = 3,
        .sack = {{0x2ef3a535, 0x2ef3b535}, {0x2ef39535, 0x2ef39d35}, {0xffffff00, 0x100}},
    };
    assert_repr_equal(&r, &want);
    uint8_t buf[60];
    ns_tcp_emit(&r, buf);
    assert_memory_equal(buf, linux_ack_sack, sizeof(buf));
}

/* ---- checksum ----------------------------------------------------------------- */

static void test_tcp_csum_hand(void **state)
{
    (void)state;
    uint8_t seg[43];
    memcpy(seg, linux_syn, 40);
    /* The captured field is the pseudo-header sum alone (loopback
     * checksum offload): 7f00 + 0001 + 7f00 + 0001 + 0006 + 0028 = fe30. */
    assert_int_equal(ns_rd16(linux_syn + 16),
                     (uint16_t)~ns_csum_fold(ns_csum_pseudo4(LOOPBACK, LOOPBACK, 6, 40)));
    assert_false(ns_tcp_csum_ok(LOOPBACK, LOOPBACK, linux_syn, 40));

    /* By hand, 16-bit words, checksum field zero (RFC 9293 §3.1):
     *   pseudo-header  7f00 0001 7f00 0001 0006 0028
     *   header         959a d431 2ef3 8534 0000 0000 a002 ffff 0000 0000
     *   options        0204 05b4 0402 080a dc32 7b84 0000 0000 0103 0307
     *   sum = 6_2ba7; fold: 2ba7 + 6 = 2bad; complement: d452. */
    ns_wr16(seg + 16, 0);
    assert_int_equal(ns_tcp_csum(LOOPBACK, LOOPBACK, seg, 40), 0xd452);
    ns_wr16(seg + 16, 0xd452);
    assert_true(ns_tcp_csum_ok(LOOPBACK, LOOPBACK, seg, 40));
    /* Any other address or a flipped bit no longer verifies. */
    assert_false(ns_tcp_csum_ok(LOOPBACK, LOOPBACK + 1, seg, 40));
    seg[5] ^= 0x01;
    assert_false(ns_tcp_csum_ok(LOOPBACK, LOOPBACK, seg, 40));
    seg[5] ^= 0x01;

    /* With an odd-length payload "abc", padded with a zero byte for the
     * sum only: length 002b instead of 0028, plus words 6162 6300:
     *   6_2ba7 + 3 + 6162 + 6300 = 6_f00c; f00c + 6 = f012; ~ = 0fed. */
    memcpy(seg + 40, "abc", 3);
    ns_wr16(seg + 16, 0);
    assert_int_equal(ns_tcp_csum(LOOPBACK, LOOPBACK, seg, 43), 0x0fed);
    ns_wr16(seg + 16, 0x0fed);
    assert_true(ns_tcp_csum_ok(LOOPBACK, LOOPBACK, seg, 43));
}

/* RFC 1071 §1 the slow way: big-endian words, odd byte padded, end-around
 * carry, complement. */
static uint16_t ref_tcp_csum(uint32_t src, uint32_t dst, const uint8_t *seg, size_t len)
{
    uint64_t sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + len;
    for (size_t i = 0; i < len; i += 2)
        sum += ((uint64_t)seg[i] << 8) | (i + 1 < len ? seg[i + 1] : 0u);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void test_tcp_csum_random(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x7c5));
    static uint8_t seg[1600];
    for (int iter = 0; iter < 2000; iter++) {
        size_t len = NS_TCP_HLEN + (size_t)ns_rng_below(&rng, sizeof(seg) - NS_TCP_HLEN + 1);
        for (size_t i = 0; i < len; i++)
            seg[i] = (uint8_t)ns_rng_next(&rng);
        uint32_t src = (uint32_t)ns_rng_next(&rng), dst = (uint32_t)ns_rng_next(&rng);
        ns_wr16(seg + 16, 0);
        uint16_t c = ns_tcp_csum(src, dst, seg, len);
        NS_ASSERT_SEED(c == ref_tcp_csum(src, dst, seg, len));
        ns_wr16(seg + 16, c);
        NS_ASSERT_SEED(ns_tcp_csum_ok(src, dst, seg, len));
    }
}

/* ---- emit: layouts and round trips ------------------------------------------- */

static struct ns_tcp_repr base_repr(void)
{
    struct ns_tcp_repr r = {
        .sport = 0x1234, .dport = 443, .seq = 0xfffffff0, .ack = 0x80000001,
        .flags = NS_TCP_ACK | NS_TCP_PSH, .win = 0xabcd, .csum = 0, .urp = 7,
    };
    return r;
}

/* Emit r into a 0xee-filled buffer, check the data offset and that no
 * byte past the header was written; return the header length. */
static size_t emit_checked(const struct ns_tcp_repr *r, uint8_t buf[NS_TCP_MAX_HLEN + 8])
{
    memset(buf, 0xee, NS_TCP_MAX_HLEN + 8);
    ns_tcp_emit(r, buf);
    size_t olen = ns_tcp_opts_len(r);
    assert_true(olen % 4 == 0 && olen <= 40);
    size_t hlen = NS_TCP_HLEN + olen;
    assert_int_equal((size_t)(buf[12] >> 4) * 4, hlen);
    assert_int_equal(buf[12] & 0x0f, 0); /* reserved bits sent as zero */
    for (size_t i = hlen; i < NS_TCP_MAX_HLEN + 8; i++)
        assert_int_equal(buf[i], 0xee);
    return hlen;
}

static void test_tcp_emit_fixed_header(void **state)
{
    (void)state;
    struct ns_tcp_repr r = base_repr();
    r.hlen = 44; /* ignored by emit */
    r.csum = 0xbeef;
    static const uint8_t want[20] = {0x12, 0x34, 0x01, 0xbb, 0xff, 0xff, 0xff, 0xf0, 0x80, 0x00,
                                     0x00, 0x01, 0x50, 0x18, 0xab, 0xcd, 0xbe, 0xef, 0x00, 0x07};
    uint8_t buf[NS_TCP_MAX_HLEN + 8];
    assert_int_equal(ns_tcp_opts_len(&r), 0);
    assert_int_equal(emit_checked(&r, buf), 20);
    assert_memory_equal(buf, want, 20);
}

/* The option bytes emit writes for each layout (RFC 7323 Appendix A,
 * Linux tcp_options_write). */
static void test_tcp_emit_layouts(void **state)
{
    (void)state;
    uint8_t buf[NS_TCP_MAX_HLEN + 8];
    struct ns_tcp_repr r;

    r = base_repr();
    r.has_mss = true;
    r.mss = 536;
    assert_int_equal(emit_checked(&r, buf), 24);
    static const uint8_t mss[4] = {0x02, 0x04, 0x02, 0x18};
    assert_memory_equal(buf + 20, mss, 4);

    r = base_repr();
    r.sack_ok = true;
    assert_int_equal(emit_checked(&r, buf), 24);
    static const uint8_t sackok[4] = {0x01, 0x01, 0x04, 0x02};
    assert_memory_equal(buf + 20, sackok, 4);

    r = base_repr();
    r.has_ts = true;
    r.ts_val = 0x01020304;
    r.ts_ecr = 0xa0b0c0d0;
    assert_int_equal(emit_checked(&r, buf), 32);
    static const uint8_t ts[12] = {0x01, 0x01, 0x08, 0x0a, 0x01, 0x02,
                                   0x03, 0x04, 0xa0, 0xb0, 0xc0, 0xd0};
    assert_memory_equal(buf + 20, ts, 12);

    r.sack_ok = true; /* packed into the TS word's padding */
    assert_int_equal(emit_checked(&r, buf), 32);
    static const uint8_t sackts[12] = {0x04, 0x02, 0x08, 0x0a, 0x01, 0x02,
                                       0x03, 0x04, 0xa0, 0xb0, 0xc0, 0xd0};
    assert_memory_equal(buf + 20, sackts, 12);

    r = base_repr();
    r.has_wscale = true;
    r.wscale = 14;
    assert_int_equal(emit_checked(&r, buf), 24);
    static const uint8_t ws[4] = {0x01, 0x03, 0x03, 0x0e};
    assert_memory_equal(buf + 20, ws, 4);

    r = base_repr();
    r.n_sack = 1;
    r.sack[0].left = 0x11223344;
    r.sack[0].right = 0x55667788;
    assert_int_equal(emit_checked(&r, buf), 32);
    static const uint8_t sack1[12] = {0x01, 0x01, 0x05, 0x0a, 0x11, 0x22,
                                      0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    assert_memory_equal(buf + 20, sack1, 12);

    /* Everything a SYN can carry, in Linux order. */
    r = base_repr();
    r.flags = NS_TCP_SYN | NS_TCP_ECE | NS_TCP_CWR;
    r.has_mss = true;
    r.mss = 1460;
    r.sack_ok = true;
    r.has_ts = true;
    r.ts_val = 1;
    r.ts_ecr = 0;
    r.has_wscale = true;
    r.wscale = 7;
    assert_int_equal(emit_checked(&r, buf), 40);
    static const uint8_t syn[20] = {0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08,
                                    0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
                                    0x00, 0x00, 0x01, 0x03, 0x03, 0x07};
    assert_memory_equal(buf + 20, syn, 20);
    assert_int_equal(buf[13], 0xc2);
}

/* Option bytes the emit rule documents, counted here independently:
 * MSS 4; TS 12 (with or without SACKOK); SACKOK alone 4; WS 4; SACK 4 + 8
 * per block, as many blocks as fit in the 40 bytes. Returns the options
 * length and the number of blocks emitted. */
static size_t expect_opts(const struct ns_tcp_repr *r, size_t *blocks)
{
    size_t other = (r->has_mss ? 4 : 0) + (r->has_ts ? 12 : r->sack_ok ? 4 : 0) +
                   (r->has_wscale ? 4 : 0);
    size_t n = r->n_sack > NS_TCP_MAX_SACK ? NS_TCP_MAX_SACK : r->n_sack;
    while (n > 0 && other + 4 + 8 * n > 40)
        n--;
    *blocks = n;
    return other + (n ? 4 + 8 * n : 0);
}

/* Every combination of MSS, WS, SACKOK, TS, with 0..4 SACK blocks (and
 * more than 4 asked for): emitted length, then parse gives the repr back,
 * with the blocks that fit. */
static void test_tcp_roundtrip_all_combos(void **state)
{
    (void)state;
    static const uint8_t n_sacks[] = {0, 1, 2, 3, 4, 5, 255};
    int count = 0;
    for (unsigned mask = 0; mask < 16; mask++) {
        for (size_t k = 0; k < sizeof(n_sacks); k++) {
            struct ns_tcp_repr r = base_repr();
            r.has_mss = mask & 1;
            r.mss = r.has_mss ? 1460 : 0;
            r.has_wscale = (mask & 2) != 0;
            r.wscale = r.has_wscale ? 9 : 0;
            r.sack_ok = (mask & 4) != 0;
            r.has_ts = (mask & 8) != 0;
            if (r.has_ts) {
                r.ts_val = 0xfedcba98;
                r.ts_ecr = 0x00000001;
            }
            r.n_sack = n_sacks[k];
            for (uint32_t i = 0; i < NS_TCP_MAX_SACK; i++) {
                r.sack[i].left = 0xfffff000u + 0x100u * i;
                r.sack[i].right = r.sack[i].left + 0x80u;
            }
            r.csum = (uint16_t)(mask * 256 + k);

            size_t blocks;
            size_t olen = expect_opts(&r, &blocks);
            assert_int_equal(ns_tcp_opts_len(&r), olen);
            uint8_t buf[NS_TCP_MAX_HLEN + 8];
            size_t hlen = emit_checked(&r, buf);
            assert_int_equal(hlen, 20 + olen);

            struct ns_tcp_repr back;
            assert_int_equal(parse_exact(buf, hlen, &back), 0);
            struct ns_tcp_repr want = r;
            want.hlen = (uint8_t)hlen;
            want.n_sack = (uint8_t)blocks;
            assert_repr_equal(&back, &want);
            count++;
        }
    }
    assert_int_equal(count, 16 * 7);

    /* The block limits the header comment promises. */
    struct ns_tcp_repr r = base_repr();
    size_t blocks;
    r.n_sack = 4;
    expect_opts(&r, &blocks);
    assert_int_equal(blocks, 4); /* alone: 4 + 32 = 36 */
    assert_int_equal(ns_tcp_opts_len(&r), 36);
    r.has_ts = true;
    expect_opts(&r, &blocks);
    assert_int_equal(blocks, 3); /* with TS: 12 + 4 + 24 = 40 */
    assert_int_equal(ns_tcp_opts_len(&r), 40);
    r.has_wscale = true;
    assert_int_equal(ns_tcp_opts_len(&r), 36); /* 12 + 4 + 4 + 16: 2 blocks */
}

/* RFC 7323 §2.3: a shift count above 14 is used as 14. */
static void test_tcp_wscale_clamp(void **state)
{
    (void)state;
    static const uint8_t sent[] = {0, 1, 7, 13, 14, 15, 16, 100, 255};
    for (size_t i = 0; i < sizeof(sent); i++) {
        struct ns_tcp_repr r = base_repr();
        r.has_wscale = true;
        r.wscale = sent[i];
        uint8_t buf[NS_TCP_MAX_HLEN + 8];
        size_t hlen = emit_checked(&r, buf);
        assert_int_equal(buf[23], sent[i]); /* emitted as given */
        struct ns_tcp_repr back;
        assert_int_equal(parse_exact(buf, hlen, &back), 0);
        assert_true(back.has_wscale);
        assert_int_equal(back.wscale, sent[i] > 14 ? 14 : sent[i]);
    }
}

static void test_tcp_flags_reserved(void **state)
{
    (void)state;
    uint8_t buf[NS_TCP_MAX_HLEN + 8];
    /* All 256 values of the control-bit byte round trip. */
    for (unsigned f = 0; f < 256; f++) {
        struct ns_tcp_repr r = base_repr();
        r.flags = (uint8_t)f;
        size_t hlen = emit_checked(&r, buf);
        assert_int_equal(buf[13], f);
        struct ns_tcp_repr back;
        assert_int_equal(parse_exact(buf, hlen, &back), 0);
        assert_int_equal(back.flags, f);
    }
    /* The 4 reserved bits are ignored on receipt (RFC 9293 §3.1). */
    struct ns_tcp_repr r = base_repr();
    emit_checked(&r, buf);
    buf[12] |= 0x0f;
    struct ns_tcp_repr back;
    assert_int_equal(parse_exact(buf, 20, &back), 0);
    assert_int_equal(back.hlen, 20);
    assert_int_equal(back.flags, r.flags);
}

/* Random reprs: the emitted header is always 20 + ns_tcp_opts_len bytes,
 * nothing is written past it, and parse gives the repr back. */
static void test_tcp_emit_random(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x7e1));
    for (int iter = 0; iter < 20000; iter++) {
        struct ns_tcp_repr r;
        memset(&r, 0, sizeof(r));
        r.sport = (uint16_t)ns_rng_next(&rng);
        r.dport = (uint16_t)ns_rng_next(&rng);
        r.seq = (uint32_t)ns_rng_next(&rng);
        r.ack = (uint32_t)ns_rng_next(&rng);
        r.hlen = (uint8_t)ns_rng_next(&rng); /* garbage: ignored */
        r.flags = (uint8_t)ns_rng_next(&rng);
        r.win = (uint16_t)ns_rng_next(&rng);
        r.csum = (uint16_t)ns_rng_next(&rng);
        r.urp = (uint16_t)ns_rng_next(&rng);
        r.has_mss = ns_rng_below(&rng, 2);
        r.mss = (uint16_t)ns_rng_next(&rng);
        r.has_wscale = ns_rng_below(&rng, 2);
        r.wscale = (uint8_t)ns_rng_below(&rng, 15);
        r.sack_ok = ns_rng_below(&rng, 2);
        r.has_ts = ns_rng_below(&rng, 2);
        r.ts_val = (uint32_t)ns_rng_next(&rng);
        r.ts_ecr = (uint32_t)ns_rng_next(&rng);
        r.n_sack = (uint8_t)(ns_rng_below(&rng, 4) ? ns_rng_below(&rng, 5) : ns_rng_next(&rng));
        for (int i = 0; i < NS_TCP_MAX_SACK; i++) {
            r.sack[i].left = (uint32_t)ns_rng_next(&rng);
            r.sack[i].right = (uint32_t)ns_rng_next(&rng);
        }
        uint8_t buf[NS_TCP_MAX_HLEN + 8];
        size_t blocks;
        size_t olen = expect_opts(&r, &blocks);
        NS_ASSERT_SEED(ns_tcp_opts_len(&r) == olen);
        size_t hlen = emit_checked(&r, buf);
        NS_ASSERT_SEED(hlen == NS_TCP_HLEN + olen);
        struct ns_tcp_repr back;
        NS_ASSERT_SEED(parse_exact(buf, hlen, &back) == 0);
        struct ns_tcp_repr want = r;
        want.hlen = (uint8_t)hlen;
        want.n_sack = (uint8_t)blocks;
        assert_repr_equal(&back, &want);
    }
}

/* ---- rejections ----------------------------------------------------------------- */

static void test_tcp_truncated(void **state)
{
    (void)state;
    struct ns_tcp_repr r;
    memset(&r, 0x5a, sizeof(r));
    /* Fewer than 20 bytes: truncated, whatever the data offset says. */
    for (size_t len = 0; len < NS_TCP_HLEN; len++)
        assert_int_equal(parse_exact(linux_syn, len, &r), -NS_WIRE_TRUNCATED);
    /* 20..39 bytes of a 40-byte header: the data offset points past the
     * buffer. */
    for (size_t len = NS_TCP_HLEN; len < sizeof(linux_syn); len++)
        assert_int_equal(parse_exact(linux_syn, len, &r), -NS_WIRE_BAD_HLEN);
    /* On error the repr is untouched. */
    assert_int_equal(r.sport, 0x5a5a);
    assert_int_equal(parse_exact(linux_syn, sizeof(linux_syn), &r), 0);
    /* Every length of the 60-byte header too. */
    for (size_t len = 0; len < sizeof(linux_ack_sack); len++)
        assert_int_equal(parse_exact(linux_ack_sack, len, &r),
                         len < NS_TCP_HLEN ? -NS_WIRE_TRUNCATED : -NS_WIRE_BAD_HLEN);
    assert_int_equal(parse_exact(linux_ack_sack, sizeof(linux_ack_sack), &r), 0);
}

static void test_tcp_bad_doff(void **state)
{
    (void)state;
    uint8_t seg[NS_TCP_MAX_HLEN];
    memset(seg, 0x01, sizeof(seg)); /* NOP options */
    memcpy(seg, linux_syn, 12);
    seg[13] = NS_TCP_ACK;
    struct ns_tcp_repr r;
    /* Data offset 0..4: shorter than the fixed header (RFC 9293 §3.1). */
    for (unsigned doff = 0; doff < 5; doff++) {
        seg[12] = (uint8_t)(doff << 4);
        for (size_t len = NS_TCP_HLEN; len <= sizeof(seg); len++)
            assert_int_equal(parse_exact(seg, len, &r), -NS_WIRE_BAD_HLEN);
    }
    /* 5..15: fine when the buffer holds doff*4 bytes, bad one byte short. */
    for (unsigned doff = 5; doff <= 15; doff++) {
        seg[12] = (uint8_t)(doff << 4 | 0x0e); /* reserved bits ignored */
        assert_int_equal(parse_exact(seg, doff * 4, &r), 0);
        assert_int_equal(r.hlen, doff * 4);
        assert_int_equal(r.flags, NS_TCP_ACK);
        if (doff > 5)
            assert_int_equal(parse_exact(seg, doff * 4 - 1, &r), -NS_WIRE_BAD_HLEN);
        assert_int_equal(parse_exact(seg, sizeof(seg), &r), 0);
        assert_int_equal(r.hlen, doff * 4);
    }
}

/* ---- malformed options ------------------------------------------------------------ */

/* One options area and what parse must make of it. */
struct opt_case {
    const char *what;
    uint8_t olen;        /* multiple of 4, <= 40 */
    uint8_t opts[40];
    struct ns_tcp_repr want; /* option fields only */
};

#define MSS1460 0x02, 0x04, 0x05, 0xb4
#define WS7 0x01, 0x03, 0x03, 0x07
#define SACKOK 0x01, 0x01, 0x04, 0x02
#define TS_1_2 0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2

static const struct opt_case opt_cases[] = {
    {"all NOP", 40, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {0}},
    {"all EOL", 40, {0}, {0}},
    {"EOL ends the list: an MSS after it is padding", 8, {MSS1460, 0x00, 0x02, 0x04, 0x05},
     {.has_mss = true, .mss = 1460}},
    {"EOL first", 4, {0x00, 0x03, 0x03, 0x07}, {0}},
    /* Length 0 or 1 cannot be skipped: parsing ends, what came before
     * stays. */
    {"length 0 ends parsing", 12, {MSS1460, 0x08, 0x00, 0x01, 0x01, WS7},
     {.has_mss = true, .mss = 1460}},
    {"length 1 ends parsing", 12, {MSS1460, 0x13, 0x01, 0x01, 0x01, WS7},
     {.has_mss = true, .mss = 1460}},
    {"length 0 on an unknown kind", 8, {0xfe, 0x00, 0x01, 0x01, WS7}, {0}},
    {"length 1 on MSS", 8, {0x02, 0x01, 0x01, 0x01, WS7}, {0}},
    /* Running past the header: parsing ends. */
    {"TS running past the header", 12, {0x01, 0x01, 0x01, 0x01, MSS1460, 0x01, 0x01, 0x08, 0x0a},
     {.has_mss = true, .mss = 1460}},
    {"unknown kind length 255", 8, {WS7, 0x1e, 0xff, 0x00, 0x00},
     {.has_wscale = true, .wscale = 7}},
    {"SACK length 11 (ignored), then a kind in the last byte", 12,
     {0x05, 0x0b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {0}},
    {"kind in the last byte, no length", 4, {0x01, 0x01, 0x01, 0x02}, {0}},
    {"option ending exactly at the header end", 12, {TS_1_2},
     {.has_ts = true, .ts_val = 1, .ts_ecr = 2}},
    /* Known kinds with a wrong length: not applied, parsing goes on. */
    {"MSS length 3", 8, {0x02, 0x03, 0x05, 0x01, 0x03, 0x03, 0x07, 0x00},
     {.has_wscale = true, .wscale = 7}},
    {"MSS length 6", 8, {0x02, 0x06, 0x05, 0xb4, 0x00, 0x00, 0x04, 0x02}, {.sack_ok = true}},
    {"MSS length 2", 8, {0x02, 0x02, 0x01, 0x01, WS7}, {.has_wscale = true, .wscale = 7}},
    {"WS length 4", 8, {0x03, 0x04, 0x07, 0x00, SACKOK}, {.sack_ok = true}},
    {"WS length 2", 4, {0x03, 0x02, 0x04, 0x02}, {.sack_ok = true}},
    {"SACKOK length 3", 8, {0x04, 0x03, 0x00, 0x01, MSS1460}, {.has_mss = true, .mss = 1460}},
    {"SACKOK length 4", 8, {0x04, 0x04, 0x00, 0x00, WS7}, {.has_wscale = true, .wscale = 7}},
    {"TS length 8", 12, {0x08, 0x08, 1, 2, 3, 4, 5, 6, MSS1460}, {.has_mss = true, .mss = 1460}},
    {"TS length 12", 16, {0x08, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, SACKOK}, {.sack_ok = true}},
    {"TS length 2", 8, {0x08, 0x02, 0x01, 0x01, WS7}, {.has_wscale = true, .wscale = 7}},
    {"SACK length 2 (no blocks)", 4, {0x05, 0x02, 0x04, 0x02}, {.sack_ok = true}},
    {"SACK length 9", 16, {0x05, 0x09, 1, 2, 3, 4, 5, 6, 7, 0x01, 0x01, 0x01, MSS1460},
     {.has_mss = true, .mss = 1460}},
    {"SACK length 14 (not 2 + 8n)", 20,
     {0x05, 0x0e, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x01, 0x01, WS7},
     {.has_wscale = true, .wscale = 7}},
    {"SACK length 17", 20,
     {0x05, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x01, 0x01, 0x01}, {0}},
    /* Valid SACK sizes. */
    {"SACK 2 blocks", 20,
     {0x01, 0x01, 0x05, 0x12, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x10},
     {.n_sack = 2, .sack = {{1, 2}, {0xffffffff, 0x10}}}},
    {"SACK 4 blocks", 36,
     {0x01, 0x01, 0x05, 0x22, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
      0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8},
     {.n_sack = 4, .sack = {{1, 2}, {3, 4}, {5, 6}, {7, 8}}}},
    /* Unknown kinds are skipped by their length. */
    {"unknown kinds skipped", 20,
     {0x1e, 0x06, 0xaa, 0xbb, 0xcc, 0xdd, 0x01, 0x01, MSS1460, 0xfd, 0x04, 0xab, 0xcd, 0x03,
      0x03, 0x05, 0x00},
     {.has_mss = true, .mss = 1460, .has_wscale = true, .wscale = 5}},
    {"unknown kind of length 2", 8, {0x22, 0x02, 0x04, 0x02, WS7},
     {.sack_ok = true, .has_wscale = true, .wscale = 7}},
    /* Options in any order, unpadded. */
    {"unpadded, any order", 20,
     {0x03, 0x03, 0x02, 0x08, 0x0a, 0, 0, 0, 9, 0, 0, 0, 8, 0x04, 0x02, 0x02, 0x04, 0x00, 0x40,
      0x00},
     {.has_mss = true, .mss = 64, .has_wscale = true, .wscale = 2, .sack_ok = true,
      .has_ts = true, .ts_val = 9, .ts_ecr = 8}},
    /* A repeated option: the last one wins (as Linux). */
    {"MSS twice", 8, {MSS1460, 0x02, 0x04, 0x02, 0x18}, {.has_mss = true, .mss = 536}},
    {"WS 15 clamped", 4, {0x01, 0x03, 0x03, 0x0f}, {.has_wscale = true, .wscale = 14}},
    {"WS 255 clamped", 4, {0x01, 0x03, 0x03, 0xff}, {.has_wscale = true, .wscale = 14}},
};

static void test_tcp_opts_malformed(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(opt_cases) / sizeof(opt_cases[0]); c++) {
        const struct opt_case *oc = &opt_cases[c];
        assert_true(oc->olen % 4 == 0 && oc->olen <= 40);
        uint8_t seg[NS_TCP_MAX_HLEN];
        memcpy(seg, linux_syn, NS_TCP_HLEN);
        seg[12] = (uint8_t)(((NS_TCP_HLEN + oc->olen) / 4) << 4);
        memcpy(seg + NS_TCP_HLEN, oc->opts, oc->olen);
        size_t len = NS_TCP_HLEN + oc->olen;

        struct ns_tcp_repr r;
        int rc = parse_exact(seg, len, &r);
        if (rc != 0)
            fail_msg("%s: rc %d", oc->what, rc);
        struct ns_tcp_repr want = oc->want;
        want.sport = 38298;
        want.dport = 54321;
        want.seq = 0x2ef38534;
        want.hlen = (uint8_t)len;
        want.flags = NS_TCP_SYN;
        want.win = 0xffff;
        want.csum = 0xfe30;
        print_message("%s\n", oc->what);
        assert_repr_equal(&r, &want);
    }
}

/* Options never read into the payload: a kind in the last header byte
 * followed by payload bytes that would make a valid MSS. */
static void test_tcp_opts_stop_at_header(void **state)
{
    (void)state;
    uint8_t seg[28];
    memcpy(seg, linux_syn, NS_TCP_HLEN);
    seg[12] = 6 << 4; /* 24-byte header */
    static const uint8_t tail[8] = {0x01, 0x01, 0x01, 0x02, 0x04, 0x05, 0xb4, 0x00};
    memcpy(seg + NS_TCP_HLEN, tail, sizeof(tail));
    struct ns_tcp_repr r;
    assert_int_equal(parse_exact(seg, sizeof(seg), &r), 0);
    assert_int_equal(r.hlen, 24);
    assert_false(r.has_mss);
    /* A TS whose length reaches into the payload: not applied. */
    static const uint8_t tail2[8] = {0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 1};
    memcpy(seg + NS_TCP_HLEN, tail2, sizeof(tail2));
    assert_int_equal(parse_exact(seg, sizeof(seg), &r), 0);
    assert_false(r.has_ts);
}

/* Random option areas (biased towards known kinds, odd lengths, 0 and 1)
 * in exactly-sized buffers: parse succeeds, never reads out of bounds,
 * and its result is within range; re-emitting it and parsing again gives
 * the same options (with the SACK blocks that fit). */
static void test_tcp_opts_random(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x0b7));
    static const uint8_t kinds[] = {0, 1, 2, 3, 4, 5, 8, 19, 30, 34, 253, 254};
    for (int iter = 0; iter < 50000; iter++) {
        size_t olen = 4 * (size_t)ns_rng_below(&rng, 11);
        uint8_t seg[NS_TCP_MAX_HLEN];
        memcpy(seg, linux_syn, NS_TCP_HLEN);
        seg[12] = (uint8_t)(((NS_TCP_HLEN + olen) / 4) << 4);
        size_t i = 0;
        while (i < olen) {
            uint64_t pick = ns_rng_below(&rng, 8);
            if (pick == 0) { /* a raw byte */
                seg[NS_TCP_HLEN + i++] = (uint8_t)ns_rng_next(&rng);
                continue;
            }
            seg[NS_TCP_HLEN + i++] = kinds[ns_rng_below(&rng, sizeof(kinds))];
            if (i < olen) {
                /* A length near the right one for the kinds we know. */
                static const uint8_t lens[] = {0, 1, 2, 3, 4, 10, 18, 26, 34, 9, 11, 255};
                seg[NS_TCP_HLEN + i++] = lens[ns_rng_below(&rng, sizeof(lens))];
            }
            for (uint64_t k = ns_rng_below(&rng, 9); k > 0 && i < olen; k--)
                seg[NS_TCP_HLEN + i++] = (uint8_t)ns_rng_next(&rng);
        }
        size_t len = NS_TCP_HLEN + olen;
        struct ns_tcp_repr r;
        NS_ASSERT_SEED(parse_exact(seg, len, &r) == 0);
        NS_ASSERT_SEED(r.hlen == len);
        NS_ASSERT_SEED(r.n_sack <= NS_TCP_MAX_SACK);
        NS_ASSERT_SEED(!r.has_wscale || r.wscale <= 14);

        /* Canonical form: emit, parse again. */
        uint8_t buf[NS_TCP_MAX_HLEN + 8];
        size_t blocks;
        expect_opts(&r, &blocks);
        size_t hlen = emit_checked(&r, buf);
        struct ns_tcp_repr back;
        NS_ASSERT_SEED(parse_exact(buf, hlen, &back) == 0);
        struct ns_tcp_repr want = r;
        want.hlen = (uint8_t)hlen;
        want.n_sack = (uint8_t)blocks;
        assert_repr_equal(&back, &want);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_parse_linux_syn),
        cmocka_unit_test(test_tcp_parse_ack_sack),
        cmocka_unit_test(test_tcp_csum_hand),
        cmocka_unit_test(test_tcp_csum_random),
        cmocka_unit_test(test_tcp_emit_fixed_header),
        cmocka_unit_test(test_tcp_emit_layouts),
        cmocka_unit_test(test_tcp_roundtrip_all_combos),
        cmocka_unit_test(test_tcp_wscale_clamp),
        cmocka_unit_test(test_tcp_flags_reserved),
        cmocka_unit_test(test_tcp_emit_random),
        cmocka_unit_test(test_tcp_truncated),
        cmocka_unit_test(test_tcp_bad_doff),
        cmocka_unit_test(test_tcp_opts_malformed),
        cmocka_unit_test(test_tcp_opts_stop_at_header),
        cmocka_unit_test(test_tcp_opts_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
