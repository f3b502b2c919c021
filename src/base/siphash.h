/* base/siphash.h — SipHash-2-4, a keyed pseudo-random function
 * (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012).
 *
 * What it is for: the keyed hashes RFC 6528 §3 (initial sequence numbers:
 * ISN = M + F(localip, localport, remoteip, remoteport, secretkey)) and
 * RFC 6056 §3.3.3-§3.3.5 (ephemeral port selection) call for, and the
 * connection table's bucket of a flow (ns_flow_hash, base/addr.h). A PRF with a
 * secret 128-bit key, so an off-path attacker cannot predict the output
 * for a 4-tuple it has not observed. Pure: no state, no allocation. */
#ifndef NS_BASE_SIPHASH_H
#define NS_BASE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-2-4 of len bytes with a 128-bit key: the keyed hash RFC 6528 (ISNs)
 * and RFC 6056 (ephemeral ports) call for. key is 16 bytes, read as two
 * little-endian 64-bit words (k0 = key[0..7]) as in the paper; data may be
 * unaligned and NULL when len is 0. The result is the paper's 64-bit
 * output as an integer: its little-endian bytes are the paper's output
 * bytes. Equal inputs give equal outputs on every host. */
uint64_t ns_siphash(const uint8_t key[16], const void *data, size_t len);

/* A key as its two words, k0 = key[0..7] and k1 = key[8..15] read
 * little-endian: loaded once, for hashing on the packet path. */
struct ns_sipkey {
    uint64_t k0, k1;
};
struct ns_sipkey ns_sipkey_load(const uint8_t key[16]);

/* SipHash-2-4 of n 64-bit words and then tail_len (0..7) more bytes:
 * the same value as ns_siphash over the words' little-endian
 * serialization followed by tail's tail_len low-order bytes (little-endian
 * too), without reading bytes one by one (a flow's hash on every segment,
 * base/addr.h). */
uint64_t ns_siphash_words(const struct ns_sipkey *key, const uint64_t *w, size_t n, uint64_t tail,
                          size_t tail_len);

#endif
