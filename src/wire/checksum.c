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
#include "wire/wire.h"

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

/* Fold with end-around carry (RFC 1071 §4.1 "fold 32-bit sum to 16 bits").
 * A nonzero input folds to a nonzero result. */
static inline uint32_t fold64to32(uint64_t x)
{
    while (x >> 32)
        x = (x & 0xffffffffu) + (x >> 32);
    return (uint32_t)x;
}

static inline uint16_t fold32to16(uint32_t x)
{
    while (x >> 16)
        x = (x & 0xffffu) + (x >> 16);
    return (uint16_t)x;
}

uint32_t ns_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t acc = 0;

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
        /* The tail, zero-padded. An odd final byte is the high byte of a
         * word whose low byte is zero (RFC 1071 §4.1 "left-over byte",
         * RFC 9293 §3.1 "padded on the right with zeros"). The tail starts
         * at an even offset, so its pairing into words is unchanged. */
        uint8_t tail[8] = {0};
        memcpy(tail, p, len);
        acc = add64(acc, load64(tail));
    }

    /* Summing native 16-bit words gives the byte-swapped big-endian sum
     * (RFC 1071 §2(B) byte order independence): swap once at the end. */
    uint16_t s16 = fold32to16(fold64to32(acc));
    if (host_is_le())
        s16 = (uint16_t)((s16 << 8) | (s16 >> 8));
    return fold64to32((uint64_t)sum + s16);
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
