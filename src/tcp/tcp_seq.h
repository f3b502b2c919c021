/* tcp/tcp_seq.h — sequence-space arithmetic (RFC 9293 §3.4).
 *
 * Read before touching: RFC 9293 §3.4 ("all arithmetic dealing with
 * sequence numbers must be performed modulo 2**32"; the acceptability
 * tests built from these comparisons are in §3.4 and §3.10.7.4), RFC 1982
 * (serial number arithmetic: why two numbers exactly 2^31 apart have no
 * meaningful order), FreeBSD netinet/tcp_seq.h (the SEQ_LT idiom).
 *
 * a "<" b means b lies in the 2^31 numbers after a, wrapping past 2^32.
 * The comparisons are only meaningful for numbers less than 2^31 apart;
 * at exactly 2^31 apart both SEQ_LT(a, b) and SEQ_LT(b, a) hold (tested).
 * The casts rely on the conversion of uint32_t to int32_t being modulo
 * 2^32, which GCC and Clang define (C11 §6.3.1.3 leaves it to the
 * implementation). Functions rather than bare macros: each argument is
 * converted to uint32_t and evaluated once. */
#ifndef NS_TCP_TCP_SEQ_H
#define NS_TCP_TCP_SEQ_H

#include <stdbool.h>
#include <stdint.h>

static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
/* The earlier / later of two sequence numbers (either one when they are
 * equal; for numbers exactly 2^31 apart, which have no order, seq_min
 * returns b and seq_max a). */
static inline uint32_t seq_min(uint32_t a, uint32_t b) { return seq_lt(b, a) ? b : a; }
static inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(b, a) ? b : a; }

/* RFC 7323 §5.2: timestamps compare the same way, modulo 2^32. */
#define TSTMP_LT(a, b) seq_lt((a), (b))
#define TSTMP_GEQ(a, b) seq_geq((a), (b))
#define TSTMP_GT(a, b) seq_gt((a), (b))

#define SEQ_LT(a, b) seq_lt((a), (b))
#define SEQ_LEQ(a, b) seq_leq((a), (b))
#define SEQ_GT(a, b) seq_gt((a), (b))
#define SEQ_GEQ(a, b) seq_geq((a), (b))
#define SEQ_MIN(a, b) seq_min((a), (b))
#define SEQ_MAX(a, b) seq_max((a), (b))

/* lo <= seq < lo + len, modulo 2^32: seq is one of the len numbers
 * starting at lo (RFC 9293 §3.4, e.g. "RCV.NXT =< SEG.SEQ < RCV.NXT +
 * RCV.WND"). len 0 means the empty window: always false (the zero-window
 * cases of §3.10.7.4 are the caller's to spell out). Exact for any len up
 * to 2^32 - 1, with no 2^31 ambiguity: it measures seq's distance past lo. */
static inline bool seq_in_window(uint32_t seq, uint32_t lo, uint32_t len)
{
    return (uint32_t)(seq - lo) < len;
}

#endif
