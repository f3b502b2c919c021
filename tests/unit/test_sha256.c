/* tests/unit/test_sha256.c — tools/sha256.c against the FIPS 180-4
 * example vectors (NIST "Cryptographic Standards and Guidelines: Examples
 * with Intermediate Values", SHA-256: "abc", the 448-bit message
 * "abcdbcdecdefdefg...nopq", and one million 'a'), the empty message, the
 * padding edges (55, 56, 63, 64, 119, 120 bytes: one or two final blocks),
 * and incremental updates in every split against the one-shot hash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "../../tools/sha256.c"

static void check_hex(const void *msg, size_t len, const char *want)
{
    uint8_t d[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1];
    sha256(msg, len, d);
    sha256_hex(d, hex);
    assert_string_equal(hex, want);
}

static void test_sha256_fips_abc(void **state)
{
    (void)state;
    check_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_sha256_fips_448_bits(void **state)
{
    (void)state;
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(strlen(m) * 8, 448);
    check_hex(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_fips_million_a(void **state)
{
    (void)state;
    /* Fed 1000 bytes at a time, as a stream would arrive. */
    char chunk[1000];
    memset(chunk, 'a', sizeof(chunk));
    struct sha256 c;
    sha256_init(&c);
    for (int i = 0; i < 1000; i++)
        sha256_update(&c, chunk, sizeof(chunk));
    uint8_t d[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1];
    sha256_final(&c, d);
    sha256_hex(d, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_sha256_empty(void **state)
{
    (void)state;
    check_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* §5.1.1 padding: 55 bytes leave room for 0x80 and the length in one
 * block; 56..63 need a second block; 64 is a whole block. */
static void test_sha256_padding_edges(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        const char *hex;
    } v[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
    };
    char a[128];
    memset(a, 'a', sizeof(a));
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        check_hex(a, v[i].len, v[i].hex);
}

/* Any split of the message into two updates gives the one-shot digest. */
static void test_sha256_incremental_splits(void **state)
{
    (void)state;
    uint8_t msg[300], whole[SHA256_LEN], parts[SHA256_LEN];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    sha256(msg, sizeof(msg), whole);
    for (size_t cut = 0; cut <= sizeof(msg); cut++) {
        struct sha256 c;
        sha256_init(&c);
        sha256_update(&c, msg, cut);
        sha256_update(&c, msg + cut, 0);
        sha256_update(&c, msg + cut, sizeof(msg) - cut);
        sha256_final(&c, parts);
        assert_memory_equal(whole, parts, SHA256_LEN);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_fips_abc),
        cmocka_unit_test(test_sha256_fips_448_bits),
        cmocka_unit_test(test_sha256_fips_million_a),
        cmocka_unit_test(test_sha256_empty),
        cmocka_unit_test(test_sha256_padding_edges),
        cmocka_unit_test(test_sha256_incremental_splits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
