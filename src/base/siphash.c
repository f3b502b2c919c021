/* base/siphash.c — SipHash-2-4. See siphash.h.
 *
 * Read before touching: J.-P. Aumasson, D. J. Bernstein, "SipHash: a fast
 * short-input PRF" (INDOCRYPT 2012), §2 (the algorithm: initialization,
 * compression with c = 2 SipRounds a word, finalization with d = 4, and
 * the SipRound itself); Appendix A walks through one hash of a 15-byte
 * message, with its intermediate states.
 *
 * Written from the paper's description. The state is four 64-bit words;
 * message and key are read little-endian byte by byte, so the result is
 * the same on any host and the data needs no alignment. */
#include "base/siphash.h"

#define SIP_C_ROUNDS 2 /* compression rounds per message word */
#define SIP_D_ROUNDS 4 /* finalization rounds */

struct sip_state {
    uint64_t v0, v1, v2, v3;
};

static inline uint64_t sip_rotl(uint64_t x, unsigned b) { return (x << b) | (x >> (64 - b)); }

/* n bytes (n <= 8) at p as a little-endian integer. */
static inline uint64_t sip_load_le(const uint8_t *p, size_t n)
{
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    return w;
}

/* One SipRound (paper §2): two add-rotate-xor half rounds on
 * (v0, v1) and (v2, v3), then on (v0, v3) and (v2, v1), with v0 and v2
 * rotated by 32 between them. */
static inline void sip_round(struct sip_state *s)
{
    s->v0 += s->v1;
    s->v2 += s->v3;
    s->v1 = sip_rotl(s->v1, 13) ^ s->v0;
    s->v3 = sip_rotl(s->v3, 16) ^ s->v2;
    s->v0 = sip_rotl(s->v0, 32);

    s->v2 += s->v1;
    s->v0 += s->v3;
    s->v1 = sip_rotl(s->v1, 17) ^ s->v2;
    s->v3 = sip_rotl(s->v3, 21) ^ s->v0;
    s->v2 = sip_rotl(s->v2, 32);
}

/* Compression of one message word m (paper §2): v3 ^= m, c SipRounds,
 * v0 ^= m. */
static inline void sip_absorb(struct sip_state *s, uint64_t m)
{
    s->v3 ^= m;
    /* c = 2 rounds, written out: compilers do not unroll the loop at -O2,
     * and its counter costs a third on a flow's hash. */
    _Static_assert(SIP_C_ROUNDS == 2, "sip_absorb writes out c = 2 rounds");
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

/* Initialization (paper §2): the key XORed with the ASCII string
 * "somepseudorandomlygeneratedbytes" as four big-endian words. */
static inline struct sip_state sip_init(uint64_t k0, uint64_t k1)
{
    struct sip_state s = {
        .v0 = k0 ^ 0x736f6d6570736575ull,
        .v1 = k1 ^ 0x646f72616e646f6dull,
        .v2 = k0 ^ 0x6c7967656e657261ull,
        .v3 = k1 ^ 0x7465646279746573ull,
    };
    return s;
}

/* Finalization (paper §2): v2 ^= 0xff, d SipRounds, XOR of all four. */
static inline uint64_t sip_final(struct sip_state *s)
{
    s->v2 ^= 0xff;
    _Static_assert(SIP_D_ROUNDS == 4, "sip_final writes out d = 4 rounds");
    sip_round(s);
    sip_round(s);
    sip_round(s);
    sip_round(s);
    return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

struct ns_sipkey ns_sipkey_load(const uint8_t key[16])
{
    struct ns_sipkey k = {.k0 = sip_load_le(key, 8), .k1 = sip_load_le(key + 8, 8)};
    return k;
}

uint64_t ns_siphash_words(const struct ns_sipkey *key, const uint64_t *w, size_t n, uint64_t tail,
                          size_t tail_len)
{
    struct sip_state s = sip_init(key->k0, key->k1);
    for (size_t i = 0; i < n; i++)
        sip_absorb(&s, w[i]);
    /* The last word: the tail's bytes, the length mod 256 on top. */
    uint64_t mask = tail_len ? ~0ull >> (64 - 8 * tail_len) : 0;
    sip_absorb(&s, (tail & mask) | (uint64_t)((8 * n + tail_len) & 0xff) << 56);
    return sip_final(&s);
}

uint64_t ns_siphash(const uint8_t key[16], const void *data, size_t len)
{
    const uint8_t *in = data;
    struct sip_state s = sip_init(sip_load_le(key, 8), sip_load_le(key + 8, 8));

    /* Compression: every whole 8-byte word... */
    size_t whole = len - len % 8;
    for (size_t off = 0; off < whole; off += 8)
        sip_absorb(&s, sip_load_le(in + off, 8));
    /* ...then a last word holding the 0..7 remaining bytes, zero padding,
     * and len mod 256 in its most significant byte (paper §2: the message
     * is zero-padded so that, with one final byte holding its length mod
     * 256, it is a whole number of little-endian words). */
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    if (len % 8 != 0) /* (no pointer arithmetic on a NULL data of length 0) */
        last |= sip_load_le(in + whole, len % 8);
    sip_absorb(&s, last);
    return sip_final(&s);
}
