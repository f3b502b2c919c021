/* tools/sha256.h — SHA-256 (FIPS 180-4 §6.2), incremental, for the
 * `netsock host` POST /sink service and the tests that check it.
 *
 * Contract: sha256_init, any number of sha256_update calls (any lengths,
 * including 0), one sha256_final. The context holds no pointers; copy it
 * to hash a prefix and go on. Not constant-time with respect to anything
 * secret: it checks transfers, it does not protect keys. */
#ifndef NS_TOOLS_SHA256_H
#define NS_TOOLS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
    uint32_t h[8];       /* H(i), the intermediate hash value (§6.2.2) */
    uint64_t len_bytes;  /* message length so far */
    uint8_t block[64];   /* partial message block */
    size_t block_len;    /* bytes in block[] */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
/* Pad, finish and write the 32-byte digest; the context is then spent. */
void sha256_final(struct sha256 *c, uint8_t out[SHA256_LEN]);

/* One-shot convenience. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* Lower-case hex of a digest into hex[65] (NUL-terminated). */
void sha256_hex(const uint8_t digest[SHA256_LEN], char hex[2 * SHA256_LEN + 1]);

#endif
