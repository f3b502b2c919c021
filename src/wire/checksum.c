/* wire/checksum.c — the Internet checksum. See wire.h.
 *
 * Read before touching: RFC 1071 (computing the Internet checksum: §1 the
 * definition, §2 the byte-order, parallel-summation and deferred-carry
 * tricks used here), RFC 1141 and RFC 1624 (incremental update: eqn. 3 and
 * the +0/-0 discussion in §3-§5), RFC 9293 §3.1 / RFC 768 (pseudo-header).
 *
 * The partial sum handed between calls is a 32-bit value congruent (mod
 * 0xffff) to the one's-complement sum of the data read as big-endian 16-bit
 * words, and is zero only when all summed data was zero. Internally each
 * call sums native-order 64-bit words and converts once at the end. */
#include "wire/ipv6.h"

#include <stdbool.h>
#include <string.h>

/* Constant-folded by the compiler; portable without <endian.h>. */
static inline bool host_is_le(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v)); /* any alignment */
    return v;
}

/* One's-complement add of 64-bit words: an overflow carry is added back
 * at once (RFC 1071 §2(C): the sum may be formed in wider words and folded
 * later). acc + w wrapped is < w, so adding the carry cannot overflow. */
static inline uint64_t add64(uint64_t acc, uint64_t w)
{
    acc += w;
    return acc + (acc < w);
}

/* Fold with end-around carry (RFC 1071 §4.1 "fold 32-bit sum to 16 bits"):
 * hi + lo with the carry of that addition added back, which cannot carry
 * again (hi + lo wrapped is < hi). A nonzero input folds to a nonzero
 * result. */
static inline uint32_t fold64to32(uint64_t x)
{
    uint32_t hi = (uint32_t)(x >> 32), lo = (uint32_t)x;
    lo += hi;
    return lo + (lo < hi);
}

static inline uint16_t fold32to16(uint32_t x)
{
    while (x >> 16)
        x = (x & 0xffffu) + (x >> 16);
    return (uint16_t)x;
}

/* Byte-swap a partial sum: a block summed as if it started at an even
 * offset, moved to an odd one (RFC 1071 §2(B)). Rotating a 32-bit value by
 * 8 multiplies it by 2^8 mod 0xffff (2^32 = 1 mod 0xffff), which is what
 * swapping the bytes of its 16-bit fold does (Linux csum_shift). */
static inline uint32_t rot8(uint32_t x) { return x << 8 | x >> 24; }

/* Native 64-bit words of p[0..len) into acc, the tail zero-padded. An odd
 * final byte is the high byte of a word whose low byte is zero (RFC 1071
 * §4.1 "left-over byte", RFC 9293 §3.1 "padded on the right with zeros"). */
static inline uint64_t sum_words(uint64_t acc, const uint8_t *p, size_t len)
{
    /* 32 bytes per iteration, four independent 8-byte loads. */
    while (len >= 32) {
        acc = add64(acc, load64(p));
        acc = add64(acc, load64(p + 8));
        acc = add64(acc, load64(p + 16));
        acc = add64(acc, load64(p + 24));
        p += 32;
        len -= 32;
    }
    while (len >= 8) {
        acc = add64(acc, load64(p));
        p += 8;
        len -= 8;
    }
    if (len) {
        /* The tail starts at an even offset, so its pairing into words is
         * unchanged. */
        uint8_t tail[8] = {0};
        size_t off = 0; /* in fixed-size pieces: a copy of 1..7 bytes costs a loop */
        if (len & 4) {
            memcpy(tail, p, 4);
            off = 4;
        }
        if (len & 2) {
            memcpy(tail + off, p + off, 2);
            off += 2;
        }
        if (len & 1)
            tail[off] = p[off];
        acc = add64(acc, load64(tail));
    }
    return acc;
}

/* Turn a native-order 64-bit accumulator into a partial sum and add it to
 * `sum`. Summing native 16-bit words gives the byte-swapped big-endian sum
 * (RFC 1071 §2(B) byte order independence): swap once at the end, by
 * rotating the 32-bit fold by 8, which is congruent to swapping the bytes
 * of its 16-bit fold (see rot8). */
static inline uint32_t finish(uint32_t sum, uint64_t acc)
{
    uint32_t s = fold64to32(acc);
    if (host_is_le())
        s = rot8(s);
    return fold64to32((uint64_t)sum + s);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CSUM_AVX2 1
#include <immintrin.h>

/* AVX2: 64 bytes per iteration in eight 32-bit lanes per register. For a
 * lane word w = hi << 16 | lo (two native 16-bit words), `hi` accumulates
 * w >> 16 exactly and `all` accumulates w modulo 2^32; the sum of the lo
 * halves is then all - (hi << 16) modulo 2^32, exact while it stays below
 * 2^32. A block of at most AVX2_BLOCK iterations adds at most
 * 2 * AVX2_BLOCK * 0xffff < 2^32 to each lane, so neither overflows; the
 * lanes are then widened and added to the 64-bit accumulator. Everything
 * is congruent modulo 0xffff to the scalar sum of native 16-bit words
 * (RFC 1071 §2(C): any word size, carries folded later), and the result is
 * zero only when the data is. Per 32 bytes: a load, a shift and two adds
 * (plus a store when copying), against eight scalar instructions. */
#define AVX2_BLOCK 16384u

__attribute__((target("avx2"))) static uint64_t avx2_lanes(uint64_t acc, __m256i hi, __m256i all)
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i lo = _mm256_sub_epi32(all, _mm256_slli_epi32(hi, 16));
    /* Widen the 32-bit lanes to 64 and add them all up (< 2^36). */
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(_mm256_unpacklo_epi32(hi, zero),
                                                  _mm256_unpackhi_epi32(hi, zero)),
                                 _mm256_add_epi64(_mm256_unpacklo_epi32(lo, zero),
                                                  _mm256_unpackhi_epi32(lo, zero)));
    __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    uint64_t t = (uint64_t)_mm_cvtsi128_si64(s2) + (uint64_t)_mm_extract_epi64(s2, 1);
    return add64(acc, t);
}

/* Sum (and copy, with dst) the leading multiple of 64 bytes of src; returns
 * the bytes done through *done. */
__attribute__((target("avx2"))) static uint64_t avx2_sum(uint64_t acc, uint8_t *dst,
                                                         const uint8_t *src, size_t len,
                                                         size_t *done)
{
    size_t n = len / 64;
    *done = n * 64;
    while (n) {
        size_t k = n < AVX2_BLOCK ? n : AVX2_BLOCK;
        n -= k;
        __m256i hi = _mm256_setzero_si256(), all = _mm256_setzero_si256();
        if (dst) {
            for (; k; k--, src += 64, dst += 64) {
                __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)src);
                __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(src + 32));
                _mm256_storeu_si256((__m256i *)(void *)dst, a);
                _mm256_storeu_si256((__m256i *)(void *)(dst + 32), b);
                hi = _mm256_add_epi32(hi, _mm256_srli_epi32(a, 16));
                hi = _mm256_add_epi32(hi, _mm256_srli_epi32(b, 16));
                all = _mm256_add_epi32(all, a);
                all = _mm256_add_epi32(all, b);
            }
        } else {
            for (; k; k--, src += 64) {
                __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)src);
                __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(src + 32));
                hi = _mm256_add_epi32(hi, _mm256_srli_epi32(a, 16));
                hi = _mm256_add_epi32(hi, _mm256_srli_epi32(b, 16));
                all = _mm256_add_epi32(all, a);
                all = _mm256_add_epi32(all, b);
            }
        }
        acc = avx2_lanes(acc, hi, all);
    }
    return acc;
}

/* The CPU's answer is fixed for the process; the compiler's runtime keeps
 * it (no state of ours). Short buffers stay scalar: the lane reduction
 * costs about what 64 bytes of scalar summing do. */
static inline bool use_avx2(size_t len) { return len >= 128 && __builtin_cpu_supports("avx2"); }
#endif

uint32_t ns_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t acc = 0;
#ifdef CSUM_AVX2
    if (use_avx2(len)) {
        size_t done;
        acc = avx2_sum(acc, NULL, p, len, &done);
        p += done; /* a multiple of 64: the rest starts at an even offset */
        len -= done;
    }
#endif
    return finish(sum, sum_words(acc, p, len));
}

uint32_t ns_csum_copy(void *dst, const void *src, size_t len, uint32_t sum)
{
#ifdef CSUM_AVX2
    /* Fused: each 32-byte load feeds both the store and the sum. */
    if (use_avx2(len)) {
        size_t done;
        uint64_t acc = avx2_sum(0, dst, src, len, &done);
        memcpy((uint8_t *)dst + done, (const uint8_t *)src + done, len - done);
        return finish(sum, sum_words(acc, (const uint8_t *)src + done, len - done));
    }
#endif
    /* Scalar, a fused loop (load, store, add, carry per 8 bytes) costs more
     * instructions than the library's vector memcpy followed by the sum
     * (measured: docs/tcp.md), so copy first; the sum then reads what the
     * copy just left in L1. */
    return ns_csum_copy_generic(dst, src, len, sum);
}

uint32_t ns_csum_add_generic(uint32_t sum, const void *data, size_t len)
{
    return finish(sum, sum_words(0, data, len));
}

uint32_t ns_csum_copy_generic(void *dst, const void *src, size_t len, uint32_t sum)
{
    if (len)
        memcpy(dst, src, len);
    return finish(sum, sum_words(0, dst, len));
}

uint32_t ns_csum_block_add(uint32_t sum, uint32_t block, size_t offset)
{
    if (offset & 1)
        block = rot8(block);
    return fold64to32((uint64_t)sum + block);
}

uint16_t ns_csum_fold(uint32_t sum)
{
    /* RFC 1071 §1(2): the checksum is the complement of the folded sum;
     * §1(3): data including a correct checksum sums to -0, so this is 0. */
    return (uint16_t)~fold32to16(sum);
}

uint16_t ns_csum(const void *data, size_t len) { return ns_csum_fold(ns_csum_add(0, data, len)); }

uint32_t ns_csum_pseudo4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
    /* RFC 9293 §3.1 / RFC 768: src, dst, zero byte + protocol, length.
     * Six terms of at most 0xffff cannot overflow 32 bits. */
    return (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) + proto + len;
}

/* RFC 1624 §3 eqn. 3: HC' = ~(~HC + ~m + m'). Unlike eqn. 2 (HC - ~m - m')
 * it never produces 0xffff (-0) where a full recomputation gives 0x0000
 * (RFC 1624 §5 example); it equals a full recomputation whenever the
 * covered data (checksum field aside) is not all zero, which holds for
 * every real header (IPv4 version, TCP/UDP ports or pseudo-header). */
uint16_t ns_csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word)
{
    uint32_t sum = (uint32_t)(uint16_t)~csum + (uint16_t)~old_word + new_word;
    return (uint16_t)~fold32to16(sum);
}

uint16_t ns_csum_update32(uint16_t csum, uint32_t old_val, uint32_t new_val)
{
    /* Eqn. 3 with both words at once (m = old hi + old lo). */
    uint32_t sum = (uint32_t)(uint16_t)~csum + (uint16_t)~(old_val >> 16) +
                   (uint16_t)~(old_val & 0xffffu) + (new_val >> 16) + (new_val & 0xffffu);
    return (uint16_t)~fold32to16(sum);
}

uint32_t ns_csum_pseudo6(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                         uint32_t upper_len, uint8_t next_header)
{
    /* RFC 8200 §8.1: source, destination, the upper-layer packet length
     * as 32 bits, three zero bytes and the next header, summed as 16-bit
     * words. 18 words of at most 0xffff and a byte cannot overflow 32
     * bits. */
    uint32_t sum = 0;
    for (size_t i = 0; i < NS_IP6_ALEN; i += 2) {
        sum += (uint32_t)(src->b[i] << 8 | src->b[i + 1]);
        sum += (uint32_t)(dst->b[i] << 8 | dst->b[i + 1]);
    }
    return sum + (upper_len >> 16) + (upper_len & 0xffffu) + next_header;
}
