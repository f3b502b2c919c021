/* tests/unit/test_siphash.c — SipHash-2-4 against the reference vectors
 * (Aumasson & Bernstein: key 00 01 .. 0f, message 00 01 .. of length
 * 0..63; the paper's Appendix A hashes the 15-byte one), the word-wise
 * entry point (ns_siphash_words) against the byte-wise one, and the
 * properties the callers (RFC 6528 ISNs, RFC 6056 ports) rely on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "base/siphash.h"

/* SipHash-2-4(key = 00..0f, msg = 00 01 .. (len-1)) for len = 0..63, as
 * 64-bit integers: the reference output bytes read little-endian (vector 0
 * is the bytes 31 0e 0e dd 47 db 6f 72). Test data from the SipHash
 * reference vectors. */
static const uint64_t sip24_vectors[64] = {
    0x726fdb47dd0e0e31ull, 0x74f839c593dc67fdull, /* 0, 1 */
    0x0d6c8009d9a94f5aull, 0x85676696d7fb7e2dull, /* 2, 3 */
    0xcf2794e0277187b7ull, 0x18765564cd99a68dull, /* 4, 5 */
    0xcbc9466e58fee3ceull, 0xab0200f58b01d137ull, /* 6, 7 */
    0x93f5f5799a932462ull, 0x9e0082df0ba9e4b0ull, /* 8, 9 */
    0x7a5dbbc594ddb9f3ull, 0xf4b32f46226bada7ull, /* 10, 11 */
    0x751e8fbc860ee5fbull, 0x14ea5627c0843d90ull, /* 12, 13 */
    0xf723ca908e7af2eeull, 0xa129ca6149be45e5ull, /* 14, 15 */
    0x3f2acc7f57c29bdbull, 0x699ae9f52cbe4794ull, /* 16, 17 */
    0x4bc1b3f0968dd39cull, 0xbb6dc91da77961bdull, /* 18, 19 */
    0xbed65cf21aa2ee98ull, 0xd0f2cbb02e3b67c7ull, /* 20, 21 */
    0x93536795e3a33e88ull, 0xa80c038ccd5ccec8ull, /* 22, 23 */
    0xb8ad50c6f649af94ull, 0xbce192de8a85b8eaull, /* 24, 25 */
    0x17d835b85bbb15f3ull, 0x2f2e6163076bcfadull, /* 26, 27 */
    0xde4daaaca71dc9a5ull, 0xa6a2506687956571ull, /* 28, 29 */
    0xad87a3535c49ef28ull, 0x32d892fad841c342ull, /* 30, 31 */
    0x7127512f72f27cceull, 0xa7f32346f95978e3ull, /* 32, 33 */
    0x12e0b01abb051238ull, 0x15e034d40fa197aeull, /* 34, 35 */
    0x314dffbe0815a3b4ull, 0x027990f029623981ull, /* 36, 37 */
    0xcadcd4e59ef40c4dull, 0x9abfd8766a33735cull, /* 38, 39 */
    0x0e3ea96b5304a7d0ull, 0xad0c42d6fc585992ull, /* 40, 41 */
    0x187306c89bc215a9ull, 0xd4a60abcf3792b95ull, /* 42, 43 */
    0xf935451de4f21df2ull, 0xa9538f0419755787ull, /* 44, 45 */
    0xdb9acddff56ca510ull, 0xd06c98cd5c0975ebull, /* 46, 47 */
    0xe612a3cb9ecba951ull, 0xc766e62cfcadaf96ull, /* 48, 49 */
    0xee64435a9752fe72ull, 0xa192d576b245165aull, /* 50, 51 */
    0x0a8787bf8ecb74b2ull, 0x81b3e73d20b49b6full, /* 52, 53 */
    0x7fa8220ba3b2eceaull, 0x245731c13ca42499ull, /* 54, 55 */
    0xb78dbfaf3a8d83bdull, 0xea1ad565322a1a0bull, /* 56, 57 */
    0x60e61c23a3795013ull, 0x6606d7e446282b93ull, /* 58, 59 */
    0x6ca4ecb15c5f91e1ull, 0x9f626da15c9625f3ull, /* 60, 61 */
    0xe51b38608ef25f57ull, 0x958a324ceb064572ull, /* 62, 63 */
};

static void ref_key_msg(uint8_t key[16], uint8_t msg[64])
{
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
}

static void test_siphash_paper_example(void **state)
{
    (void)state;
    uint8_t key[16], msg[64];
    ref_key_msg(key, msg);
    /* Paper Appendix A: the 15-byte message 00..0e hashes to
     * a129ca6149be45e5, i.e. output bytes e5 45 be 49 61 ca 29 a1. */
    uint64_t h = ns_siphash(key, msg, 15);
    assert_true(h == 0xa129ca6149be45e5ull);
    static const uint8_t want_bytes[8] = {0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1};
    for (int i = 0; i < 8; i++)
        assert_int_equal((uint8_t)(h >> (8 * i)), want_bytes[i]);
}

static void test_siphash_vectors(void **state)
{
    (void)state;
    uint8_t key[16], msg[64];
    ref_key_msg(key, msg);
    /* All 64 lengths: empty, every tail length 1..7, one to seven whole
     * words with every tail, and the 63-byte (64th) vector. Each message
     * is copied into an exactly-sized heap block so that ASan catches a
     * read past its end. */
    for (size_t len = 0; len < 64; len++) {
        uint8_t *p = malloc(len ? len : 1);
        assert_non_null(p);
        memcpy(p, msg, len);
        uint64_t h = ns_siphash(key, p, len);
        if (h != sip24_vectors[len])
            fail_msg("len %zu: got %016llx want %016llx", len, (unsigned long long)h,
                     (unsigned long long)sip24_vectors[len]);
        free(p);
    }
}

static void test_siphash_long(void **state)
{
    (void)state;
    uint8_t key[16], msg[64];
    ref_key_msg(key, msg);
    /* Messages longer than the reference vectors, where the length byte
     * (len mod 256) passes 127 and wraps: 00 01 .. ff 00 01 .. of length n.
     * Expected values from a second implementation (OpenSSL 3 `openssl mac
     * -macopt hexkey:000102030405060708090a0b0c0d0e0f -macopt size:8
     * SIPHASH`, output bytes read little-endian). */
    static const struct {
        size_t len;
        uint64_t want;
    } cases[] = {
        {128, 0xdeb79e256c8736aeull},
        {255, 0xa9c169fec74db21aull},
        {256, 0x999d0526d2a7bfd7ull},
        {300, 0x4b0b710db6117839ull},
    };
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)i;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        uint8_t *p = malloc(cases[c].len);
        assert_non_null(p);
        memcpy(p, buf, cases[c].len);
        assert_true(ns_siphash(key, p, cases[c].len) == cases[c].want);
        free(p);
    }
}

static void test_siphash_empty_null(void **state)
{
    (void)state;
    uint8_t key[16], msg[64];
    ref_key_msg(key, msg);
    /* No data at all may be passed as NULL. */
    assert_true(ns_siphash(key, NULL, 0) == sip24_vectors[0]);
}

static void test_siphash_unaligned(void **state)
{
    (void)state;
    uint8_t key[16], msg[64];
    ref_key_msg(key, msg);
    /* Data at every misalignment gives the same result. */
    uint8_t buf[64 + 8];
    for (size_t shift = 0; shift < 8; shift++) {
        memset(buf, 0xa5, sizeof(buf));
        memcpy(buf + shift, msg, 63);
        assert_true(ns_siphash(key, buf + shift, 63) == sip24_vectors[63]);
        assert_true(ns_siphash(key, buf + shift, 15) == sip24_vectors[15]);
    }
    /* So does an unaligned key. */
    uint8_t kbuf[17];
    memcpy(kbuf + 1, key, 16);
    assert_true(ns_siphash(kbuf + 1, msg, 8) == sip24_vectors[8]);
}

static void test_siphash_key_and_length_matter(void **state)
{
    (void)state;
    uint8_t key[16], msg[64];
    ref_key_msg(key, msg);
    uint64_t base = ns_siphash(key, msg, 12);
    /* Flipping any single key bit changes the output (a keyed PRF: RFC
     * 6528 §3 relies on the secret key for unpredictability). */
    for (int bit = 0; bit < 128; bit++) {
        uint8_t k2[16];
        memcpy(k2, key, 16);
        k2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_true(ns_siphash(k2, msg, 12) != base);
    }
    /* Trailing zero bytes are not ignored: the length is hashed too. */
    static const uint8_t zeros[16] = {0};
    for (size_t a = 0; a < 16; a++)
        for (size_t b = a + 1; b <= 16; b++)
            assert_true(ns_siphash(key, zeros, a) != ns_siphash(key, zeros, b));
    /* Lengths 256 apart share the length byte but not the result. */
    uint8_t big[264];
    memset(big, 0, sizeof(big));
    assert_true(ns_siphash(key, big, 8) != ns_siphash(key, big, 264));
}

/* ns_siphash_words equals ns_siphash over the words' little-endian bytes
 * and the tail's low bytes, for every count of words and tail length the
 * flow hash uses and more, and the reference vectors through it. */
static void test_siphash_words_match_bytes(void **state)
{
    (void)state;
    uint8_t key[16];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    struct ns_sipkey k = ns_sipkey_load(key);
    /* The reference messages 00 01 .. as words and a tail. */
    for (size_t len = 0; len < 64; len++) {
        uint64_t w[8] = {0}, tail = 0;
        for (size_t i = 0; i < len / 8 * 8; i++)
            w[i / 8] |= (uint64_t)i << (8 * (i % 8));
        for (size_t i = len / 8 * 8; i < len; i++)
            tail |= (uint64_t)i << (8 * (i % 8));
        /* Bytes above tail_len must not matter. */
        tail |= 0xa5ull << 56;
        assert_true(ns_siphash_words(&k, w, len / 8, tail, len % 8) == sip24_vectors[len]);
    }
    /* Random keys and inputs. */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 500; round++) {
        uint8_t rk[16], bytes[64];
        for (int i = 0; i < 16; i++)
            rk[i] = (uint8_t)((x = x * 6364136223846793005ull + 1442695040888963407ull) >> 56);
        size_t n = (size_t)(round % 6), tail_len = (size_t)(round % 8);
        uint64_t w[6], tail = x * 31;
        for (size_t i = 0; i < n; i++) {
            w[i] = x = x * 6364136223846793005ull + 1442695040888963407ull;
            for (int b = 0; b < 8; b++)
                bytes[8 * i + (size_t)b] = (uint8_t)(w[i] >> (8 * b));
        }
        for (size_t b = 0; b < tail_len; b++)
            bytes[8 * n + b] = (uint8_t)(tail >> (8 * b));
        struct ns_sipkey kk = ns_sipkey_load(rk);
        assert_true(ns_siphash_words(&kk, w, n, tail, tail_len) ==
                    ns_siphash(rk, bytes, 8 * n + tail_len));
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_paper_example),
        cmocka_unit_test(test_siphash_vectors),
        cmocka_unit_test(test_siphash_long),
        cmocka_unit_test(test_siphash_empty_null),
        cmocka_unit_test(test_siphash_unaligned),
        cmocka_unit_test(test_siphash_key_and_length_matter),
        cmocka_unit_test(test_siphash_words_match_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
