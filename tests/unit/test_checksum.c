/* tests/unit/test_checksum.c — the Internet checksum (RFC 1071, RFC 1624)
 * against a byte-at-a-time reference, over random lengths, alignments and
 * chunkings, plus known vectors and the incremental-update corners; the
 * copy-and-sum primitive (ns_csum_copy), sums combined at odd offsets
 * (ns_csum_block_add) and the send ring's ns_ring_peek_csum, on both the
 * vector and the portable paths.
 *
 * Replay a random failure with the printed NETSOCK_SEED. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "base/ring.h"
#include "base/rng.h"
#include "wire/bytes.h"
#include "wire/wire.h"

#define MAX_LEN 4096
#define MAX_ALIGN 16

/* ---- reference: RFC 1071 §1 literally, one byte pair at a time ---------- */

static uint32_t ref_sum(const uint8_t *p, size_t len)
{
    uint64_t sum = 0;
    size_t i;
    for (i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8; /* odd byte padded on the right */
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint32_t)sum;
}

static uint16_t ref_csum(const uint8_t *p, size_t len) { return (uint16_t)~ref_sum(p, len); }

static void fill_random(struct ns_rng *rng, uint8_t *p, size_t len)
{
    /* Mix plain random bytes with runs biased to 0x00/0xff, which stress
     * carries and the 0/-0 distinction. */
    unsigned mode = (unsigned)ns_rng_below(rng, 4);
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)ns_rng_next(rng);
        if (mode == 1)
            b = ns_rng_below(rng, 8) ? 0xff : b;
        else if (mode == 2)
            b = ns_rng_below(rng, 8) ? 0x00 : b;
        p[i] = b;
    }
}

/* ---- known vectors ---------------------------------------------------- */

static void test_rfc1071_example(void **state)
{
    (void)state;
    /* RFC 1071 §3 numerical example: the sum of these bytes is ddf2. */
    static const uint8_t ex[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    assert_int_equal(ref_sum(ex, 8), 0xddf2);
    assert_int_equal(ns_csum(ex, 8), 0x220d);
    assert_int_equal(ns_csum_fold(ns_csum_add(0, ex, 8)), 0x220d);
    /* Same answer at every alignment. */
    uint8_t buf[8 + MAX_ALIGN];
    for (size_t off = 0; off < MAX_ALIGN; off++) {
        memset(buf, 0xa5, sizeof(buf));
        memcpy(buf + off, ex, 8);
        assert_int_equal(ns_csum(buf + off, 8), 0x220d);
    }
    /* Data followed by its checksum verifies to 0 (RFC 1071 §1(3)). */
    uint8_t withsum[10];
    memcpy(withsum, ex, 8);
    ns_wr16(withsum + 8, ns_csum(ex, 8));
    assert_int_equal(ns_csum(withsum, 10), 0);
}

static void test_ipv4_header_vector(void **state)
{
    (void)state;
    /* A well-known IPv4 header (192.168.0.1 -> 192.168.0.199, UDP) whose
     * checksum is b861. */
    uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                     0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    assert_int_equal(ns_csum(h, 20), 0xb861);
    ns_wr16(h + 10, 0xb861);
    assert_int_equal(ns_csum(h, 20), 0);
    h[10] ^= 0x01;
    assert_int_not_equal(ns_csum(h, 20), 0);
}

static void test_small_vectors(void **state)
{
    (void)state;
    static const uint8_t one = 0xab, two[2] = {0x12, 0x34}, three[3] = {0x12, 0x34, 0x56};
    /* Empty data sums to +0; its checksum is 0xffff. */
    assert_int_equal(ns_csum(&one, 0), 0xffff);
    assert_int_equal(ns_csum_add(0, &one, 0), 0);
    /* One byte is the high byte of a word (RFC 9293 §3.1 padding). */
    assert_int_equal(ns_csum(&one, 1), (uint16_t)~0xab00);
    assert_int_equal(ns_csum(two, 2), (uint16_t)~0x1234);
    assert_int_equal(ns_csum(three, 3), (uint16_t)~(0x1234 + 0x5600));
    /* Fold: end-around carry, then complement. */
    assert_int_equal(ns_csum_fold(0), 0xffff);
    assert_int_equal(ns_csum_fold(0xffff), 0);
    assert_int_equal(ns_csum_fold(0x1fffe), 0);          /* 0xfffe + 1 */
    assert_int_equal(ns_csum_fold(0x12345678), (uint16_t)~(0x1234 + 0x5678));
    assert_int_equal(ns_csum_fold(0xffffffffu), 0);      /* 0xffff+0xffff=1fffe -> ffff */
}

static void test_all_ones(void **state)
{
    (void)state;
    /* All 0xff: every add carries. Even lengths sum to -0 (checksum 0). */
    uint8_t *buf = malloc(65536 + MAX_ALIGN);
    assert_non_null(buf);
    memset(buf, 0xff, 65536 + MAX_ALIGN);
    for (size_t len = 0; len <= 600; len++)
        for (size_t off = 0; off < 8; off++) {
            uint16_t got = ns_csum(buf + off, len);
            assert_int_equal(got, ref_csum(buf + off, len));
            if (len >= 2 && len % 2 == 0)
                assert_int_equal(got, 0);
        }
    /* The largest IP datagram, aligned and not. */
    for (size_t off = 0; off < MAX_ALIGN; off++) {
        assert_int_equal(ns_csum(buf + off, 65535), ref_csum(buf + off, 65535));
        assert_int_equal(ns_csum(buf + off, 65536), 0);
    }
    /* A chained sum of many all-ones pieces keeps its carries. */
    uint32_t sum = 0;
    for (int i = 0; i < 1000; i++)
        sum = ns_csum_add(sum, buf, 64);
    assert_int_equal(ns_csum_fold(sum), 0);
    free(buf);
}

static void test_odd_lengths(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x0dd1e5));
    uint8_t data[MAX_LEN + 1], padded[MAX_LEN + 2];
    for (int iter = 0; iter < 500; iter++) {
        size_t len = 2 * (size_t)ns_rng_below(&rng, MAX_LEN / 2) + 1;
        fill_random(&rng, data, len);
        memcpy(padded, data, len);
        padded[len] = 0;
        /* An odd buffer sums as if one zero byte were appended. */
        NS_ASSERT_SEED(ns_csum(data, len) == ns_csum(padded, len + 1));
        NS_ASSERT_SEED(ns_csum(data, len) == ref_csum(data, len));
        /* A nonzero pad byte must not leak into the sum. */
        data[len] = 0x5a;
        NS_ASSERT_SEED(ns_csum(data, len) == ref_csum(data, len));
    }
}

/* ---- random against the reference ------------------------------------- */

static void test_random_vs_reference(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0xc5c5c5));
    uint8_t *buf = malloc(MAX_LEN + MAX_ALIGN);
    assert_non_null(buf);
    for (int iter = 0; iter < 5000; iter++) {
        size_t off = (size_t)ns_rng_below(&rng, MAX_ALIGN);
        /* Bias towards short lengths, where the tail handling lives. */
        size_t len = (size_t)(ns_rng_below(&rng, 2) ? ns_rng_below(&rng, 80)
                                                      : ns_rng_below(&rng, MAX_LEN + 1));
        fill_random(&rng, buf, MAX_LEN + MAX_ALIGN);
        const uint8_t *p = buf + off;
        uint16_t want = ref_csum(p, len);
        NS_ASSERT_SEED(ns_csum(p, len) == want);
        NS_ASSERT_SEED(ns_csum_fold(ns_csum_add(0, p, len)) == want);
        /* The partial sum is zero only for all-zero data. */
        NS_ASSERT_SEED((ns_csum_add(0, p, len) == 0) == (ref_sum(p, len) == 0));
    }
    free(buf);
}

static void test_random_chaining(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0xc4a1));
    uint8_t *buf = malloc(MAX_LEN + MAX_ALIGN);
    assert_non_null(buf);
    for (int iter = 0; iter < 3000; iter++) {
        size_t off = (size_t)ns_rng_below(&rng, MAX_ALIGN);
        size_t len = (size_t)ns_rng_below(&rng, MAX_LEN + 1);
        fill_random(&rng, buf, MAX_LEN + MAX_ALIGN);
        const uint8_t *p = buf + off;
        /* Cut into pieces of random even length (the last one takes the
         * rest, odd or even); each piece starts at an arbitrary address. */
        uint32_t sum = 0;
        size_t pos = 0;
        while (pos < len) {
            size_t left = len - pos;
            size_t piece = 2 * (size_t)ns_rng_below(&rng, left / 2 + 1);
            if (piece == 0 || ns_rng_below(&rng, 8) == 0)
                piece = left;
            if (piece > left)
                piece = left;
            sum = ns_csum_add(sum, p + pos, piece);
            pos += piece;
        }
        NS_ASSERT_SEED(ns_csum_fold(sum) == ref_csum(p, len));
        /* Empty pieces anywhere change nothing. */
        sum = ns_csum_add(ns_csum_add(0, p, 0), p, len);
        NS_ASSERT_SEED(ns_csum_fold(ns_csum_add(sum, p, 0)) == ref_csum(p, len));
    }
    free(buf);
}

/* ---- copy and sum (ns_csum_copy), odd offsets, the ring ------------------ */

#define COPY_MAX_LEN 9000
#define GUARD 32

/* Check one ns_csum_copy / ns_csum_copy_generic call: dst + doff receives
 * exactly len bytes of src + soff (guards around it untouched) and the sum
 * continues `prefix` (an even number of bytes already summed) as the
 * byte-at-a-time reference over prefix + data says. */
static void check_copy(struct ns_rng *rng, const uint8_t *prefix, size_t plen, const uint8_t *src,
                       size_t len, size_t doff, bool generic)
{
    static uint8_t dst[COPY_MAX_LEN + 2 * GUARD + MAX_ALIGN];
    static uint8_t whole[64 + COPY_MAX_LEN];
    uint8_t fill = (uint8_t)ns_rng_next(rng);
    size_t end = GUARD + doff + len + GUARD; /* the part of dst in play */
    memset(dst, fill, end);
    uint32_t sum = ns_csum_add(0, prefix, plen);
    uint8_t *d = dst + GUARD + doff;
    uint32_t got = generic ? ns_csum_copy_generic(d, src, len, sum) : ns_csum_copy(d, src, len, sum);
    memcpy(whole, prefix, plen);
    memcpy(whole + plen, src, len);
    NS_ASSERT_SEED(ns_csum_fold(got) == ref_csum(whole, plen + len));
    NS_ASSERT_SEED((got == 0) == (ref_sum(whole, plen + len) == 0));
    NS_ASSERT_SEED(memcmp(d, src, len) == 0);
    for (size_t i = 0; i < GUARD + doff; i++)
        NS_ASSERT_SEED(dst[i] == fill);
    for (size_t i = GUARD + doff + len; i < end; i++)
        NS_ASSERT_SEED(dst[i] == fill);
}

static void test_copy_vs_reference(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0xc0b1));
    uint8_t *buf = malloc(COPY_MAX_LEN + MAX_ALIGN);
    uint8_t prefix[64];
    assert_non_null(buf);
    for (int iter = 0; iter < 2000; iter++) {
        size_t soff = (size_t)ns_rng_below(&rng, MAX_ALIGN);
        size_t doff = (size_t)ns_rng_below(&rng, MAX_ALIGN);
        /* Random lengths 0..9000, biased to the short ones and to the
         * edges of the 64-byte vector blocks. */
        size_t len;
        switch (ns_rng_below(&rng, 4)) {
        case 0: len = (size_t)ns_rng_below(&rng, 80); break;
        case 1: len = 64 * (size_t)ns_rng_below(&rng, 141) + (size_t)ns_rng_below(&rng, 3) - 1; break;
        default: len = (size_t)ns_rng_below(&rng, COPY_MAX_LEN + 1); break;
        }
        if (len > COPY_MAX_LEN)
            len = 0; /* 64*0 - 1 wrapped */
        size_t plen = 2 * (size_t)ns_rng_below(&rng, 33);
        fill_random(&rng, buf, soff + len + 8); /* + 8: bytes past the end are not summed */
        fill_random(&rng, prefix, sizeof(prefix));
        check_copy(&rng, prefix, plen, buf + soff, len, doff, false);
        check_copy(&rng, prefix, plen, buf + soff, len, doff, true);
        /* The portable sum agrees with the (possibly vector) one. */
        NS_ASSERT_SEED(ns_csum_fold(ns_csum_add_generic(0, buf + soff, len)) ==
                       ns_csum_fold(ns_csum_add(0, buf + soff, len)));
    }
    free(buf);
}

static void test_copy_all_alignments(void **state)
{
    (void)state;
    /* Every source and destination alignment against every length up to
     * three vector blocks and a bit, all-ones data (every add carries). */
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0xa11a));
    uint8_t src[256 + MAX_ALIGN], none[1] = {0};
    memset(src, 0xff, sizeof(src));
    for (size_t len = 0; len <= 200; len += (len < 140 ? 1 : 7))
        for (size_t soff = 0; soff < MAX_ALIGN; soff++)
            for (size_t doff = 0; doff < MAX_ALIGN; doff += 3)
                check_copy(&rng, none, 0, src + soff, len, doff, soff & 1);
}

static void test_copy_large(void **state)
{
    (void)state;
    /* Longer than one vector block (16384 iterations of 64 bytes), with the
     * largest lane values, so the per-block lane bounds are exercised. */
    size_t len = 2u * 16384u * 64u + 77u;
    uint8_t *src = malloc(len), *dst = malloc(len);
    assert_non_null(src);
    assert_non_null(dst);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0) {
            memset(src, 0xff, len);
        } else {
            struct ns_rng rng;
            ns_rng_seed(&rng, ns_test_seed(0x1a7e));
            fill_random(&rng, src, len);
        }
        uint16_t want = ref_csum(src, len);
        assert_int_equal(ns_csum(src, len), want);
        assert_int_equal(ns_csum_fold(ns_csum_copy(dst, src, len, 0)), want);
        assert_memory_equal(dst, src, len);
        assert_int_equal(ns_csum_fold(ns_csum_add_generic(0, src, len)), want);
    }
    free(src);
    free(dst);
}

static void test_block_add_odd_splits(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x0dd5));
    uint8_t *buf = malloc(COPY_MAX_LEN + MAX_ALIGN), *out = malloc(COPY_MAX_LEN);
    assert_non_null(buf);
    assert_non_null(out);
    for (int iter = 0; iter < 1500; iter++) {
        size_t off = (size_t)ns_rng_below(&rng, MAX_ALIGN);
        size_t len = (size_t)ns_rng_below(&rng, COPY_MAX_LEN + 1);
        fill_random(&rng, buf, off + len);
        const uint8_t *p = buf + off;
        /* Up to four pieces at arbitrary (often odd) cut points, each
         * summed on its own from 0 and copied; combined by offset. */
        uint32_t sum = 0;
        size_t pos = 0;
        int pieces = 0;
        while (pos < len || pieces == 0) {
            size_t left = len - pos;
            size_t piece = ++pieces == 4 ? left : (size_t)ns_rng_below(&rng, left + 1);
            uint32_t block;
            if (ns_rng_below(&rng, 2)) {
                block = ns_csum_copy(out + pos, p + pos, piece, 0);
            } else {
                block = ns_csum_add(0, p + pos, piece);
                memcpy(out + pos, p + pos, piece);
            }
            sum = ns_csum_block_add(sum, block, pos);
            pos += piece;
        }
        NS_ASSERT_SEED(ns_csum_fold(sum) == ref_csum(p, len));
        NS_ASSERT_SEED((sum == 0) == (ref_sum(p, len) == 0));
        NS_ASSERT_SEED(memcmp(out, p, len) == 0);
    }
    free(buf);
    free(out);
}

static void test_ring_peek_csum(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x719c));
    uint8_t *data = malloc(COPY_MAX_LEN), *a = malloc(COPY_MAX_LEN), *b = malloc(COPY_MAX_LEN);
    uint8_t hdr[60];
    assert_non_null(data);
    assert_non_null(a);
    assert_non_null(b);
    for (int iter = 0; iter < 1000; iter++) {
        struct ns_ring r = {0};
        uint32_t cap = 1 + (uint32_t)ns_rng_below(&rng, COPY_MAX_LEN);
        assert_true(ns_ring_set_cap(&r, cap));
        /* Fill it with data[0..cap) starting at any place (odd ones too),
         * so that the data wraps round the end of the storage. */
        uint32_t skew = (uint32_t)ns_rng_below(&rng, cap);
        fill_random(&rng, data, cap);
        assert_int_equal(ns_ring_write(&r, data + cap - skew, skew), skew); /* junk */
        assert_int_equal(ns_ring_write(&r, data, cap - skew), cap - skew);
        ns_ring_drop(&r, skew);
        assert_int_equal(ns_ring_write(&r, data + cap - skew, skew), skew);
        uint32_t held = r.len;
        assert_int_equal(held, cap);
        uint32_t off = (uint32_t)ns_rng_below(&rng, held + 1);
        uint32_t len = (uint32_t)ns_rng_below(&rng, held - off + 2); /* may ask one too many */
        size_t hlen = 2 * (size_t)ns_rng_below(&rng, 31);
        fill_random(&rng, hdr, sizeof(hdr));
        uint32_t sum = ns_csum_add(0, hdr, hlen);
        uint32_t n = ns_ring_peek_csum(&r, off, a, len, &sum);
        uint32_t want_n = ns_ring_peek(&r, off, b, len);
        NS_ASSERT_SEED(n == want_n);
        NS_ASSERT_SEED(memcmp(a, b, n) == 0);
        NS_ASSERT_SEED(memcmp(a, data + off, n) == 0);
        uint8_t *whole = malloc(hlen + n + 1);
        assert_non_null(whole);
        memcpy(whole, hdr, hlen);
        memcpy(whole + hlen, b, n);
        NS_ASSERT_SEED(ns_csum_fold(sum) == ref_csum(whole, hlen + n));
        free(whole);
        ns_ring_free(&r);
    }
    free(data);
    free(a);
    free(b);
}

static void test_tcp_csum_begin(void **state)
{
    (void)state;
    /* A segment summed in two parts (header; payload while copied) has the
     * checksum ns_tcp_csum gives the whole. */
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x7c9));
    uint8_t *seg = malloc(60 + COPY_MAX_LEN), *payload = malloc(COPY_MAX_LEN);
    assert_non_null(seg);
    assert_non_null(payload);
    for (int iter = 0; iter < 1000; iter++) {
        uint32_t src = (uint32_t)ns_rng_next(&rng), dst = (uint32_t)ns_rng_next(&rng);
        size_t hlen = 20 + 4 * (size_t)ns_rng_below(&rng, 11);
        size_t len = (size_t)ns_rng_below(&rng, COPY_MAX_LEN + 1);
        fill_random(&rng, seg, hlen);
        ns_wr16(seg + 16, 0);
        fill_random(&rng, payload, len);
        uint32_t sum = ns_tcp_csum_begin(src, dst, seg, hlen, hlen + len);
        uint16_t c = ns_csum_fold(ns_csum_copy(seg + hlen, payload, len, sum));
        NS_ASSERT_SEED(c == ns_tcp_csum(src, dst, seg, hlen + len));
        ns_wr16(seg + 16, c);
        NS_ASSERT_SEED(ns_tcp_csum_ok(src, dst, seg, hlen + len));
    }
    free(seg);
    free(payload);
}

/* ---- pseudo-header ----------------------------------------------------- */

static void test_pseudo4(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x9e0d0));
    uint8_t pkt[12 + 256];
    for (int iter = 0; iter < 2000; iter++) {
        uint32_t src = (uint32_t)ns_rng_next(&rng), dst = (uint32_t)ns_rng_next(&rng);
        if (iter == 0)
            src = dst = 0xffffffffu; /* carries */
        uint8_t proto = (uint8_t)ns_rng_next(&rng);
        size_t plen = (size_t)ns_rng_below(&rng, 257);
        uint16_t len16 = (uint16_t)(iter == 1 ? 0xffff : plen);
        /* RFC 9293 §3.1: src, dst, zero, proto, TCP length, as bytes. */
        ns_wr32(pkt, src);
        ns_wr32(pkt + 4, dst);
        pkt[8] = 0;
        pkt[9] = proto;
        ns_wr16(pkt + 10, len16);
        fill_random(&rng, pkt + 12, plen);
        uint32_t sum = ns_csum_pseudo4(src, dst, proto, len16);
        NS_ASSERT_SEED(ns_csum_fold(sum) == ref_csum(pkt, 12));
        NS_ASSERT_SEED(ns_csum_fold(ns_csum_add(sum, pkt + 12, plen)) == ref_csum(pkt, 12 + plen));
    }
}

static void test_udp_with_pseudo(void **state)
{
    (void)state;
    /* A UDP datagram 10.0.0.1:1234 -> 10.0.0.2:53 carrying "hi!" (odd
     * length); its checksum written in place verifies over pseudo-header
     * + datagram. */
    uint8_t udp[11] = {0x04, 0xd2, 0x00, 0x35, 0x00, 0x0b, 0x00, 0x00, 'h', 'i', '!'};
    uint32_t src = 0x0a000001, dst = 0x0a000002;
    uint32_t ph = ns_csum_pseudo4(src, dst, NS_IPPROTO_UDP, sizeof(udp));
    uint16_t c = ns_csum_fold(ns_csum_add(ph, udp, sizeof(udp)));
    /* By hand: 0a00+0001+0a00+0002+0011+000b + 04d2+0035+000b+0000+6869+2100 */
    uint32_t hand = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 0x0011 + 0x000b + 0x04d2 + 0x0035 +
                    0x000b + 0x6869 + 0x2100;
    while (hand >> 16)
        hand = (hand & 0xffff) + (hand >> 16);
    assert_int_equal(c, (uint16_t)~hand);
    ns_wr16(udp + 6, c);
    assert_int_equal(ns_csum_fold(ns_csum_add(ph, udp, sizeof(udp))), 0);
}

/* ---- incremental update (RFC 1624) -------------------------------------- */

static void test_update_rfc1624_example(void **state)
{
    (void)state;
    /* RFC 1624 §5: other bytes sum to cd7a; m = 5555 -> m' = 3285. The
     * header checksum goes dd2f -> 0000 (eqn. 3 gives 0000 like a full
     * recomputation; eqn. 2 would have given ffff). */
    uint8_t h[6];
    ns_wr16(h, 0xcd7a);
    ns_wr16(h + 2, 0x5555);
    ns_wr16(h + 4, 0);
    uint16_t hc = ns_csum(h, 6);
    assert_int_equal(hc, 0xdd2f);
    uint16_t hc2 = ns_csum_update16(hc, 0x5555, 0x3285);
    assert_int_equal(hc2, 0x0000);
    ns_wr16(h + 2, 0x3285);
    ns_wr16(h + 4, 0);
    assert_int_equal(ns_csum(h, 6), hc2); /* full recomputation agrees */
    ns_wr16(h + 4, hc2);
    assert_int_equal(ns_csum(h, 6), 0);   /* and it verifies */
    /* No change, no checksum change. */
    assert_int_equal(ns_csum_update16(0x1234, 0xabcd, 0xabcd), 0x1234);
    assert_int_equal(ns_csum_update32(0x1234, 0xdeadbeef, 0xdeadbeef), 0x1234);
}

/* Random buffer of `words` 16-bit words with the checksum at word `ci`,
 * never all zero outside the checksum (RFC 1624 eqn. 3 precondition; true
 * of every real header). Returns the checksum stored. */
static uint16_t make_summed(struct ns_rng *rng, uint8_t *buf, size_t words, size_t ci)
{
    fill_random(rng, buf, words * 2);
    ns_wr16(buf + 2 * ci, 0);
    if (ns_csum_add(0, buf, words * 2) == 0)
        buf[2 * ((ci + 1) % words)] = 0x45;
    uint16_t c = ns_csum(buf, words * 2);
    ns_wr16(buf + 2 * ci, c);
    return c;
}

static void test_update16_random(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x1624));
    uint8_t buf[128];
    for (int iter = 0; iter < 5000; iter++) {
        size_t words = 2 + (size_t)ns_rng_below(&rng, 63);
        size_t ci = (size_t)ns_rng_below(&rng, words);
        uint16_t c = make_summed(&rng, buf, words, ci);
        /* Change a few words in a row, updating each time. */
        int changes = 1 + (int)ns_rng_below(&rng, 4);
        for (int k = 0; k < changes; k++) {
            size_t wi;
            do
                wi = (size_t)ns_rng_below(&rng, words);
            while (wi == ci);
            uint16_t old_w = ns_rd16(buf + 2 * wi);
            uint16_t new_w;
            switch (ns_rng_below(&rng, 4)) {
            case 0: new_w = 0x0000; break;
            case 1: new_w = 0xffff; break;
            case 2: new_w = (uint16_t)~old_w; break;
            default: new_w = (uint16_t)ns_rng_next(&rng); break;
            }
            ns_wr16(buf + 2 * wi, new_w);
            /* Skip the one case eqn. 3 does not cover (all other words 0). */
            ns_wr16(buf + 2 * ci, 0);
            if (ns_csum_add(0, buf, words * 2) == 0) {
                ns_wr16(buf + 2 * wi, old_w);
                ns_wr16(buf + 2 * ci, c);
                continue;
            }
            uint16_t full = ns_csum(buf, words * 2);
            c = ns_csum_update16(c, old_w, new_w);
            NS_ASSERT_SEED(c == full);
            ns_wr16(buf + 2 * ci, c);
            NS_ASSERT_SEED(ns_csum(buf, words * 2) == 0);
        }
    }
}

static void test_update32_random(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x16243));
    uint8_t buf[128];
    for (int iter = 0; iter < 5000; iter++) {
        size_t words = 3 + (size_t)ns_rng_below(&rng, 62);
        /* A 32-bit field (words wi, wi+1) at any even offset, and the
         * checksum at any other word. */
        size_t wi = (size_t)ns_rng_below(&rng, words - 1);
        size_t ci = (size_t)ns_rng_below(&rng, words - 2);
        if (ci >= wi)
            ci += 2;
        uint16_t c = make_summed(&rng, buf, words, ci);
        uint32_t old_v = ns_rd32(buf + 2 * wi);
        uint32_t new_v;
        switch (ns_rng_below(&rng, 4)) {
        case 0: new_v = 0; break;
        case 1: new_v = 0xffffffffu; break;
        case 2: new_v = ~old_v; break;
        default: new_v = (uint32_t)ns_rng_next(&rng); break;
        }
        ns_wr32(buf + 2 * wi, new_v);
        ns_wr16(buf + 2 * ci, 0);
        if (ns_csum_add(0, buf, words * 2) == 0)
            continue;
        uint16_t full = ns_csum(buf, words * 2);
        uint16_t upd = ns_csum_update32(c, old_v, new_v);
        NS_ASSERT_SEED(upd == full);
        /* Two 16-bit updates give the same. */
        uint16_t two = ns_csum_update16(ns_csum_update16(c, (uint16_t)(old_v >> 16),
                                                         (uint16_t)(new_v >> 16)),
                                        (uint16_t)old_v, (uint16_t)new_v);
        NS_ASSERT_SEED(two == full);
        ns_wr16(buf + 2 * ci, upd);
        NS_ASSERT_SEED(ns_csum(buf, words * 2) == 0);
    }
}

static void test_update_ip_nat(void **state)
{
    (void)state;
    /* Rewrite the source address and decrement the TTL of a real IPv4
     * header incrementally; the result equals a fresh emit. */
    struct ns_ip4_repr r = {
        .hlen = 20, .tos = 0, .total_len = 84, .id = 0x7a3e, .df = true, .ttl = 64,
        .proto = NS_IPPROTO_ICMP, .src = 0xc0a8010a, .dst = 0xc0a80101,
    };
    uint8_t a[20], b[20];
    ns_ip4_emit(&r, a);
    assert_int_equal(ns_rd16(a + 10), 0x3d0f);
    uint16_t c = ns_rd16(a + 10);
    c = ns_csum_update32(c, r.src, 0xcb007107);
    /* TTL shares a word with the protocol (RFC 1624 §4 / RFC 1141). */
    c = ns_csum_update16(c, (uint16_t)(64 << 8 | NS_IPPROTO_ICMP),
                         (uint16_t)(63 << 8 | NS_IPPROTO_ICMP));
    r.src = 0xcb007107;
    r.ttl = 63;
    ns_ip4_emit(&r, b);
    assert_int_equal(c, ns_rd16(b + 10));
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc1071_example),
        cmocka_unit_test(test_ipv4_header_vector),
        cmocka_unit_test(test_small_vectors),
        cmocka_unit_test(test_all_ones),
        cmocka_unit_test(test_odd_lengths),
        cmocka_unit_test(test_random_vs_reference),
        cmocka_unit_test(test_random_chaining),
        cmocka_unit_test(test_copy_vs_reference),
        cmocka_unit_test(test_copy_all_alignments),
        cmocka_unit_test(test_copy_large),
        cmocka_unit_test(test_block_add_odd_splits),
        cmocka_unit_test(test_ring_peek_csum),
        cmocka_unit_test(test_tcp_csum_begin),
        cmocka_unit_test(test_pseudo4),
        cmocka_unit_test(test_udp_with_pseudo),
        cmocka_unit_test(test_update_rfc1624_example),
        cmocka_unit_test(test_update16_random),
        cmocka_unit_test(test_update32_random),
        cmocka_unit_test(test_update_ip_nat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
