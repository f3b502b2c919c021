/* tcp/tcp_syncache.h — half-open connections without a tcpcb: the
 * syncache and SYN cookies (tcp_syncache.c).
 *
 * Read first: RFC 4987 (SYN flooding attacks and common mitigations:
 * §3.3 SYN cache, §3.6 SYN cookies), RFC 9293 §3.10.7.2 (a SYN arriving
 * in LISTEN), RFC 7323 §3.2 (timestamps on the SYN,ACK), docs/tcp.md
 * "SYN floods".
 */
#ifndef NS_TCP_SYNCACHE_H
#define NS_TCP_SYNCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/addr.h"
#include "base/timer.h"

struct ns_stack;
struct tcpcb;
struct ns_tcp_repr;

/* One half-open connection (FreeBSD struct syncache, much smaller): what
 * the SYN said and what our SYN,ACK said, nothing more. */
struct syncache_entry {
    struct syncache_entry *next; /* bucket chain */
    struct tcpcb *listener;
    struct ns_flow flow;         /* local = our end */
    uint64_t deadline_us;        /* next SYN,ACK retransmission, or expiry */
    uint32_t iss, irs;
    uint32_t ts_recent;          /* the SYN's TSval (when SCF_TS) */
    uint16_t peer_mss;           /* the SYN's MSS option (536 when absent) */
    uint16_t peer_win;           /* the SYN's window (never scaled) */
    uint8_t peer_wscale;         /* the SYN's WS option (when SCF_WS) */
    uint8_t flags;               /* SCF_* */
    uint8_t rxt;                 /* SYN,ACK retransmissions so far */
};
#define SCF_WS 0x01u   /* the SYN carried WS, and we offer it */
#define SCF_SACK 0x02u /* ... SACK-permitted */
#define SCF_TS 0x04u   /* ... timestamps */
#define SCF_RTX 0x08u  /* a SYN,ACK went more than once (no RTT sample: RFC 6298 §3) */

/* One bucket: its chain and one timer for all its entries (FreeBSD's
 * per-bucket callout), armed for the earliest deadline in it. */
struct syncache_bucket {
    struct syncache_entry *head;
    uint32_t len;
    struct ns_timer timer;
};

/* FreeBSD's defaults: 512 buckets of at most 30 entries. */
#define TCP_SYNCACHE_BUCKETS 512u
#define TCP_SYNCACHE_BUCKET_LIMIT 30u
#define TCP_SYNCACHE_LIMIT (TCP_SYNCACHE_BUCKETS * TCP_SYNCACHE_BUCKET_LIMIT)

struct syncache {
    struct syncache_bucket *buckets;
    uint32_t count;              /* entries in all buckets (<= TCP_SYNCACHE_LIMIT) */
    struct ns_sipkey hash_key;   /* bucket of a flow */
    uint8_t cookie_key[2][16];   /* Linux syncookie_secret[2] */
};

int tcp_syncache_init(struct ns_stack *st);
/* Drop every entry (stack teardown). */
void tcp_syncache_destroy(struct ns_stack *st);
/* The listener l goes away: its entries vanish (no RST, as Linux). */
void tcp_syncache_purge(struct ns_stack *st, struct tcpcb *l);
/* The entry of flow f (local = our end), or NULL. */
struct syncache_entry *tcp_syncache_lookup(struct ns_stack *st, const struct ns_flow *f);

/* A SYN (no ACK, RST or FIN) arrived on listener l from flow `in`:
 * answer a retransmitted SYN from the entry, else cache a new entry, or
 * answer with a SYN cookie when the bucket, the cache or the listener's
 * half-open queue is full (cfg.tcp_syncookies 1; 2: always a cookie),
 * else drop it (counted). The accept queue's bound is checked by the
 * caller. */
void tcp_syncache_syn(struct ns_stack *st, struct tcpcb *l, const struct ns_flow *in,
                      const struct ns_tcp_repr *th);
/* An ACK without SYN arrived on listener l for flow `in`. When an entry
 * or a valid cookie matches, returns the new connection in SYN-RECEIVED
 * (hashed, its listener set, our SYN,ACK counted as sent) for the caller
 * to process the ACK on; *reset is false. NULL otherwise: *reset says
 * whether the caller should answer with a RST (no entry and no valid
 * cookie: RFC 9293 §3.10.7.2 "second, check for an ACK"), false when the
 * ACK was dropped (accept queue full, out of window: the entry stays). */
struct tcpcb *tcp_syncache_ack(struct ns_stack *st, struct tcpcb *l, const struct ns_flow *in,
                               const struct ns_tcp_repr *th, bool *reset);
/* A RST for flow `in` reached listener l: an entry whose window holds
 * it is removed (RFC 9293 §3.10.7.4 in SYN-RECEIVED). */
void tcp_syncache_rst(struct ns_stack *st, struct tcpcb *l, const struct ns_flow *in,
                      const struct ns_tcp_repr *th);

/* An ICMP error quoting a segment of flow `out` (local = our end) with
 * sequence number seq, for which no tcpcb exists: when it is about an
 * entry's SYN,ACK and `abort` (the peer is unreachable: Linux tcp_v4_err
 * for a request), the entry is removed (Linux tcp_req_err). */
void tcp_syncache_icmp(struct ns_stack *st, const struct ns_flow *out, uint32_t seq, bool abort);

/* The application's verdict on held connection tp (TF_HELD, accepted
 * from a NS_TCP_DEFER_SYNACK listener): NS_SYNACK_ACCEPT sends our
 * SYN,ACK now; NS_SYNACK_RESET answers the SYN with <RST,ACK> as a
 * closed port does; NS_SYNACK_UNREACH(code) with an ICMP destination
 * unreachable of that code quoting the SYN, as a router that cannot
 * reach the destination does. After a refusal tp is CLOSED (the socket
 * stays until closed). 0, or -EINVAL (not held, unknown verdict). */
int tcp_syncache_verdict(struct tcpcb *tp, int verdict);

/* ---- SYN cookies (pure: exported for unit tests) ---------------------------------- */

/* Linux msstab: the MSS values a cookie can name (its index). */
#define TCP_COOKIE_NMSS 4u
extern const uint16_t tcp_cookie_msstab[TCP_COOKIE_NMSS];
/* The index of the largest table MSS not above mss (0 when below all). */
uint32_t tcp_cookie_mss_index(uint16_t mss);
/* Linux secure_tcp_syn_cookie: the ISS carrying `data` (< 2^24) for the
 * SYN of sequence irs on flow f, at counter `count` (minutes). */
uint32_t tcp_cookie_make(const uint8_t key[2][16], const struct ns_flow *f, uint32_t irs,
                         uint32_t count, uint32_t data);
/* Linux check_tcp_syn_cookie: the data of cookie (the ACK's SEG.ACK - 1)
 * for irs (SEG.SEQ - 1) on flow f if it was made at counter `count` or
 * `count - 1`, else -1. */
int64_t tcp_cookie_check(const uint8_t key[2][16], const struct ns_flow *f, uint32_t irs,
                         uint32_t cookie, uint32_t count);
/* Linux cookie_init_timestamp: a TSval not above ts_now whose low 6 bits
 * carry the SYN's options: wscale (0..14, or 15: none), SACK, ECN. */
uint32_t tcp_cookie_ts(uint32_t ts_now, int wscale, bool sack, bool ecn);
/* Linux cookie_timestamp_decode: the options the TSecr of a cookie's ACK
 * carries. False when they cannot be ours (a shift above 14). */
bool tcp_cookie_ts_decode(uint32_t tsecr, int *wscale, bool *sack, bool *ecn);
/* The cookie counter: it ages by one every minute (Linux tcp_cookie_time). */
static inline uint32_t tcp_cookie_time(uint64_t now_us) { return (uint32_t)(now_us / 60000000u); }

#endif
