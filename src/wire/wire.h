/* wire/wire.h — parse and emit every header netsock speaks (STYLE §1).
 *
 * Pure functions: no state, no clock, no allocation. A `repr` is the
 * validated host-order form of a header. `parse` validates lengths (and
 * checksums where the header has one) once and fills the repr; `emit`
 * writes a repr into a buffer the caller sized with the `_LEN` constants.
 *
 * Parse errors are returned as negative enum ns_wire_err values, distinct
 * per reason, so callers can count each drop reason (STYLE §7).
 * IPv4 addresses in reprs are host byte order uint32_t.
 */
#ifndef NS_WIRE_WIRE_H
#define NS_WIRE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The parse errors: name, value, what it means. One X-macro, so the enum
 * and ns_wire_strerror() cannot disagree (STYLE §8). Values never change
 * meaning; new reasons are appended. */
#define NS_WIRE_ERRORS(X)                                                                   \
    X(NS_WIRE_OK, 0, "no error")                                                            \
    X(NS_WIRE_TRUNCATED, 1, "buffer shorter than the header claims or needs")               \
    X(NS_WIRE_BAD_VERSION, 2, "IP version field wrong")                                     \
    X(NS_WIRE_BAD_HLEN, 3, "header length field impossible")                                \
    X(NS_WIRE_BAD_LEN, 4, "total/length field disagrees with the buffer")                   \
    X(NS_WIRE_BAD_CSUM, 5, "checksum does not verify")                                      \
    X(NS_WIRE_UNSUPPORTED, 6, "valid but not a kind we speak (ARP htype...)")               \
    X(NS_WIRE_BAD_FIELD, 7, "a field holds a value the spec forbids")                       \
    /* IPv6 and its extension headers (wire/ipv6.h) */                                     \
    X(NS_WIRE_JUMBO, 8, "IPv6 jumbogram or Jumbo Payload option (RFC 2675): not supported") \
    X(NS_WIRE_EXT_ORDER, 9, "Hop-by-Hop Options header not right after the IPv6 header")    \
    X(NS_WIRE_EXT_LIMIT, 10, "more extension headers than NS_IP6_MAX_EXT")                  \
    X(NS_WIRE_OPT_LIMIT, 11, "more options in one options header than NS_IP6_MAX_OPTS")     \
    X(NS_WIRE_BAD_PADDING, 12, "padding over 7 bytes in a row, or PadN bytes not zero")     \
    X(NS_WIRE_BAD_OPTION, 13, "an option runs past its header, or has an impossible length") \
    X(NS_WIRE_OPT_DISCARD, 14, "an unrecognised option whose type says discard")            \
    X(NS_WIRE_FRAG_INCOMPLETE, 15, "first fragment without the whole header chain")         \
    X(NS_WIRE_FRAG_LEN, 16, "non-last fragment whose length is not a multiple of 8")        \
    X(NS_WIRE_FRAG_TOO_BIG, 17, "fragment ending beyond 65535 bytes of payload")            \
    X(NS_WIRE_ZERO_CSUM, 18, "UDP over IPv6 with a zero checksum")                          \
    X(NS_WIRE_BAD_SRC, 19, "source address the packet or message type forbids")            \
    X(NS_WIRE_BAD_DST, 20, "destination address the packet or message type forbids")       \
    /* NDP and MLD messages (wire/ipv6.h) */                                                \
    X(NS_WIRE_BAD_HOPLIMIT, 21, "hop limit the message type forbids (NDP 255, MLD 1)")      \
    X(NS_WIRE_BAD_CODE, 22, "ICMPv6 code the message type forbids")                         \
    X(NS_WIRE_OPT_ZERO_LEN, 23, "NDP option of length zero")                                \
    X(NS_WIRE_MCAST_TARGET, 24, "NS/NA target or Redirect destination is multicast")        \
    X(NS_WIRE_DAD_DST, 25, "NS from :: not sent to a solicited-node address")               \
    X(NS_WIRE_UNSPEC_SLLA, 26, "RS or NS from :: with a source link-layer address option")  \
    X(NS_WIRE_SOLICITED_MCAST, 27, "NA with the Solicited flag sent to multicast")          \
    X(NS_WIRE_REDIRECT_TARGET, 28, "Redirect target neither link-local nor the destination") \
    X(NS_WIRE_NO_ROUTER_ALERT, 29, "MLD query without the Router Alert option")

enum ns_wire_err {
#define NS_WIRE_ENUM_(name, value, text) name = value,
    NS_WIRE_ERRORS(NS_WIRE_ENUM_)
#undef NS_WIRE_ENUM_
};

/* What a parse error means, for logs: err is the negative value a parser
 * returned (or its positive enum value). Unknown values give "unknown
 * wire error". Never NULL. */
const char *ns_wire_strerror(int err);

/* ---- Internet checksum (RFC 1071, RFC 1624) ------------------------------ */

/* Add `len` bytes at `data` to a running one's-complement sum and return
 * the new partial sum. Chain calls to sum discontiguous pieces; every piece
 * except the last must have even length. Start with sum 0. The partial sum
 * is opaque: only pass it to the ns_csum_* functions. Fast on 64-bit (8
 * bytes per step, 64 with AVX2; any alignment). */
uint32_t ns_csum_add(uint32_t sum, const void *data, size_t len);

/* Copy len bytes from src to dst (which must not overlap) and add them to
 * the partial sum `sum`: the same result as ns_csum_add(sum, src, len)
 * after memcpy(dst, src, len), with each byte read once (DESIGN.md: the
 * checksum fused with a copy). The chaining rule is ns_csum_add's: the
 * bytes continue `sum` at an even offset; to continue at an odd one, start
 * from 0 and combine with ns_csum_block_add. */
uint32_t ns_csum_copy(void *dst, const void *src, size_t len, uint32_t sum);

/* Add `block`, the partial sum of bytes summed on their own from sum 0,
 * to `sum`, the bytes lying `offset` bytes after the start of what `sum`
 * covers: an odd offset byte-swaps the block (RFC 1071 §2(B)). E.g. a
 * buffer split at an odd length n: ns_csum_block_add(ns_csum_add(0, p, n),
 * ns_csum_add(0, p + n, m), n) == ns_csum_add(0, p, n + m) as checksums. */
uint32_t ns_csum_block_add(uint32_t sum, uint32_t block, size_t offset);

/* The portable scalar paths of ns_csum_add and ns_csum_copy, which use
 * vector instructions where the CPU has them (AVX2 on x86-64). Same
 * results; for tests and measurements, so both paths are checked on any
 * machine. */
uint32_t ns_csum_add_generic(uint32_t sum, const void *data, size_t len);
uint32_t ns_csum_copy_generic(void *dst, const void *src, size_t len, uint32_t sum);

/* Fold a partial sum to 16 bits and complement it: the checksum value in
 * host order, to store with ns_wr16(). A buffer whose checksum field is
 * correct folds to 0. */
uint16_t ns_csum_fold(uint32_t sum);

/* ns_csum_fold(ns_csum_add(0, data, len)). */
uint16_t ns_csum(const void *data, size_t len);

/* Partial sum of the IPv4 pseudo-header (RFC 9293 §3.1, RFC 768): src,
 * dst (host order), zero, proto, length. Chain it with ns_csum_add. */
uint32_t ns_csum_pseudo4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

/* RFC 1624 eqn. 3 incremental update: the checksum field value (host
 * order) after a 16-bit word of the covered data changes from old_word to
 * new_word: HC' = ~(~HC + ~m + m'). */
uint16_t ns_csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word);
/* The same for a 32-bit field (two words), e.g. an address rewrite. */
uint16_t ns_csum_update32(uint16_t csum, uint32_t old_val, uint32_t new_val);

/* ---- Ethernet II ---------------------------------------------------------- */

#define NS_ETH_HLEN 14
#define NS_ETH_ALEN 6
#define NS_ETHERTYPE_IPV4 0x0800
#define NS_ETHERTYPE_ARP 0x0806
#define NS_ETHERTYPE_IPV6 0x86DD

struct ns_eth_repr {
    uint8_t dst[NS_ETH_ALEN];
    uint8_t src[NS_ETH_ALEN];
    uint16_t ethertype;
};

/* 0 or -NS_WIRE_TRUNCATED (len < 14). */
int ns_eth_parse(const uint8_t *buf, size_t len, struct ns_eth_repr *r);
/* Write 14 bytes. */
void ns_eth_emit(const struct ns_eth_repr *r, uint8_t *buf);

static inline bool ns_eth_is_multicast(const uint8_t a[NS_ETH_ALEN]) { return (a[0] & 1) != 0; }
static inline bool ns_eth_is_broadcast(const uint8_t a[NS_ETH_ALEN])
{
    return (a[0] & a[1] & a[2] & a[3] & a[4] & a[5]) == 0xff;
}
extern const uint8_t ns_eth_broadcast[NS_ETH_ALEN];

/* ---- ARP for Ethernet/IPv4 (RFC 826) -------------------------------------- */

#define NS_ARP_LEN 28
#define NS_ARP_OP_REQUEST 1
#define NS_ARP_OP_REPLY 2

struct ns_arp_repr {
    uint16_t op;
    uint8_t sha[NS_ETH_ALEN];
    uint32_t spa;
    uint8_t tha[NS_ETH_ALEN];
    uint32_t tpa;
};

/* 0, -NS_WIRE_TRUNCATED (len < 28), -NS_WIRE_UNSUPPORTED (htype != 1,
 * ptype != 0x0800, hlen != 6 or plen != 4), -NS_WIRE_BAD_FIELD (op not 1/2). */
int ns_arp_parse(const uint8_t *buf, size_t len, struct ns_arp_repr *r);
/* Write 28 bytes (htype 1, ptype 0x0800, hlen 6, plen 4). */
void ns_arp_emit(const struct ns_arp_repr *r, uint8_t *buf);

/* ---- IPv4 (RFC 791) ---------------------------------------------------------- */

#define NS_IP4_HLEN 20     /* header without options */
#define NS_IP4_MAX_HLEN 60
#define NS_IP4_MAX_LEN 65535
#define NS_IP4_DF 0x4000
#define NS_IP4_MF 0x2000
#define NS_IP4_OFFMASK 0x1fff
#define NS_IPPROTO_ICMP 1
#define NS_IPPROTO_TCP 6
#define NS_IPPROTO_UDP 17

struct ns_ip4_repr {
    uint8_t hlen;        /* header length in bytes incl. options (20..60) */
    uint8_t tos;
    uint16_t total_len;  /* header + payload */
    uint16_t id;
    bool df, mf;
    uint16_t frag_off;   /* fragment offset in bytes (multiple of 8) */
    uint8_t ttl;
    uint8_t proto;
    uint32_t src, dst;   /* host order */
};

/* Validate an IPv4 header at buf (len = bytes available, e.g. the frame
 * payload, which may carry link-layer padding beyond total_len):
 * -NS_WIRE_TRUNCATED len < 20; -NS_WIRE_BAD_VERSION version != 4;
 * -NS_WIRE_BAD_HLEN IHL < 5 or IHL*4 > len; -NS_WIRE_BAD_LEN total_len <
 * IHL*4 or total_len > len; -NS_WIRE_BAD_CSUM header checksum wrong (only
 * checked when verify_csum). Options are not interpreted (RFC 1122
 * §3.2.1.8 allows ignoring unknown ones); r->hlen tells where they end. */
int ns_ip4_parse(const uint8_t *buf, size_t len, struct ns_ip4_repr *r, bool verify_csum);

/* Write a header of r->hlen bytes: 20 fixed bytes, and when r->hlen > 20
 * the options bytes are expected to be already at buf+20 (emit leaves them
 * and covers them with the checksum). Computes the header checksum. */
void ns_ip4_emit(const struct ns_ip4_repr *r, uint8_t *buf);

/* For fragmentation (RFC 791 §3.2 "copied" flag): copy from the options
 * area `opts` (olen bytes) only the options whose copied flag (bit 7 of the
 * type) is set into `out` (room for olen bytes), padding with End of
 * Option List to a multiple of 4. Malformed options (length < 2 or running
 * past the end) end the walk safely. Returns the bytes written. */
size_t ns_ip4_opts_copied(const uint8_t *opts, size_t olen, uint8_t *out);

/* ---- ICMPv4 (RFC 792) -------------------------------------------------------- */

#define NS_ICMP_HLEN 8
#define NS_ICMP_ECHO_REPLY 0
#define NS_ICMP_DEST_UNREACH 3
#define NS_ICMP_ECHO 8
#define NS_ICMP_TIME_EXCEEDED 11
#define NS_ICMP_PARAM_PROB 12
/* Destination unreachable codes */
#define NS_ICMP_NET_UNREACH 0
#define NS_ICMP_HOST_UNREACH 1
#define NS_ICMP_PROT_UNREACH 2
#define NS_ICMP_PORT_UNREACH 3
#define NS_ICMP_FRAG_NEEDED 4
/* Time exceeded codes */
#define NS_ICMP_EXC_TTL 0
#define NS_ICMP_EXC_FRAGTIME 1

struct ns_icmp4_repr {
    uint8_t type, code;
    /* The 4 bytes after the checksum, interpreted by type: */
    uint16_t id, seq;    /* echo / echo reply */
    uint16_t next_mtu;   /* dest unreachable code 4 (RFC 1191) */
    uint32_t rest;       /* all 4 bytes raw, host order, for any type */
    const uint8_t *payload; /* parse: points into the parsed buffer */
    size_t payload_len;
};

/* 0, -NS_WIRE_TRUNCATED (len < 8), -NS_WIRE_BAD_CSUM (checksum over all
 * len bytes wrong, only when verify_csum). */
int ns_icmp4_parse(const uint8_t *buf, size_t len, struct ns_icmp4_repr *r, bool verify_csum);

/* A short description of an ICMP error type/code in ping(8)'s words
 * ("Time to live exceeded", "Destination Port Unreachable", ...). */
const char *ns_icmp4_describe(uint8_t type, uint8_t code);

/* Write the 8-byte header at buf followed by the payload: if r->payload is
 * not already at buf+8 it is moved there (memmove). For echo types id/seq
 * are written, for dest-unreach code 4 next_mtu, otherwise `rest`. The
 * checksum covers header and payload. Needs 8 + payload_len bytes. */
void ns_icmp4_emit(const struct ns_icmp4_repr *r, uint8_t *buf);

/* ---- UDP (RFC 768) ---------------------------------------------------------- */

#define NS_UDP_HLEN 8

struct ns_udp_repr {
    uint16_t sport, dport;
    uint16_t len;   /* header + payload */
    uint16_t csum;  /* as on the wire; 0 = none (RFC 768) */
};

/* 0, -NS_WIRE_TRUNCATED (len < 8), -NS_WIRE_BAD_LEN (length field < 8 or
 * beyond the buffer). The checksum is not verified here: it needs the
 * pseudo-header (ns_udp_csum). */
int ns_udp_parse(const uint8_t *buf, size_t len, struct ns_udp_repr *r);
/* Write the 8-byte header with r->csum as given. */
void ns_udp_emit(const struct ns_udp_repr *r, uint8_t *buf);
/* The checksum of a UDP datagram (header with its checksum field zero, or
 * verifying: as received) over the IPv4 pseudo-header. When computing, a
 * result of 0 must be sent as 0xffff (RFC 768); ns_udp_csum does that.
 * When verifying a received datagram with a non-zero checksum field, the
 * datagram is intact iff ns_csum_fold(...) over it is 0: use
 * ns_udp_csum_ok. */
uint16_t ns_udp_csum(uint32_t src, uint32_t dst, const uint8_t *udp, size_t len);
bool ns_udp_csum_ok(uint32_t src, uint32_t dst, const uint8_t *udp, size_t len);

/* ---- TCP (RFC 9293) ---------------------------------------------------------- */

#define NS_TCP_HLEN 20      /* header without options */
#define NS_TCP_MAX_HLEN 60  /* data offset 15 words: at most 40 bytes of options */
/* Control bits, byte 13 of the header (RFC 9293 §3.1; CWR and ECE are
 * RFC 3168 §6.1). */
#define NS_TCP_FIN 0x01
#define NS_TCP_SYN 0x02
#define NS_TCP_RST 0x04
#define NS_TCP_PSH 0x08
#define NS_TCP_ACK 0x10
#define NS_TCP_URG 0x20
#define NS_TCP_ECE 0x40
#define NS_TCP_CWR 0x80
/* SACK blocks one option can carry: (40 - 2) / 8 rounded down (RFC 2018 §3). */
#define NS_TCP_MAX_SACK 4

/* One SACK block (RFC 2018 §3): left edge, and right edge = the sequence
 * number just after the last byte of the block. */
struct ns_tcp_sack_block {
    uint32_t left, right;
};

struct ns_tcp_repr {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t hlen;   /* header length incl. options, bytes (parse: from data offset) */
    uint8_t flags;  /* NS_TCP_* (the 8 bits; the 4 reserved bits ignored) */
    uint16_t win;   /* raw window field (not scaled) */
    uint16_t csum;  /* as on the wire */
    uint16_t urp;
    /* Options. Parse sets only what it found; the TCP layer decides which
     * apply to the segment (e.g. MSS and WS only on a SYN, RFC 9293 §3.7.1,
     * RFC 7323 §2.2). */
    bool has_mss;     uint16_t mss;             /* RFC 9293 §3.2 kind 2 */
    bool has_wscale;  uint8_t wscale;           /* RFC 7323 §2 kind 3 (parse clamps > 14
                                                   to 14, RFC 7323 §2.3) */
    bool sack_ok;                               /* RFC 2018 §2 kind 4 */
    bool has_ts;      uint32_t ts_val, ts_ecr;  /* RFC 7323 §3 kind 8 */
    uint8_t n_sack;                             /* RFC 2018 §3 kind 5 */
    struct ns_tcp_sack_block sack[NS_TCP_MAX_SACK];
};

/* Parse the TCP header at buf (len = bytes of the segment available):
 * 0, -NS_WIRE_TRUNCATED (len < 20), -NS_WIRE_BAD_HLEN (data offset < 5 or
 * beyond len). On error *r is left untouched. The checksum is not verified
 * here: it needs the pseudo-header (ns_tcp_csum_ok). The payload starts at
 * buf + r->hlen.
 * Options: NOP and EOL handled; known options with a wrong length are
 * ignored (not applied), unknown kinds skipped by their length; a length of
 * 0 or 1, or one running past the header, ends option parsing (the segment
 * itself is still valid, as Linux tcp_parse_options). A repeated option:
 * the last one wins. SACK blocks are kept in wire order. Never reads past
 * buf + r->hlen. */
int ns_tcp_parse(const uint8_t *buf, size_t len, struct ns_tcp_repr *r);

/* Bytes the options of r take when emitted (a multiple of 4, <= 40). */
size_t ns_tcp_opts_len(const struct ns_tcp_repr *r);

/* Write header and options (hlen = 20 + ns_tcp_opts_len(r), ignoring
 * r->hlen; the caller sizes buf with that, at most NS_TCP_MAX_HLEN), the
 * checksum field written as r->csum (normally 0; the caller fills it with
 * ns_tcp_csum over header+payload). Reserved bits are sent as zero.
 * Values are written as given (a wscale > 14 too, for tests).
 * Layout as Linux: MSS; SACK-permitted and timestamps packed as
 * [SACKOK][TS] when both, [NOP][NOP][TS] or [NOP][NOP][SACKOK] otherwise;
 * [NOP][WS]; SACK blocks as [NOP][NOP][SACK] (the first min(n_sack, k)
 * blocks, k = as many as fit in 40 bytes with the other options: 4 alone,
 * 3 with TS; none fit -> no SACK option). */
void ns_tcp_emit(const struct ns_tcp_repr *r, uint8_t *buf);

/* Checksum over the IPv4 pseudo-header (proto 6, RFC 9293 §3.1) and len
 * bytes of segment (header and payload, len <= 65535): with the checksum
 * field zero, the value to store with ns_wr16(seg + 16, ...). Unlike UDP a
 * computed 0 is sent as 0. ns_tcp_csum_ok: a received segment verifies
 * (folds to 0). */
uint16_t ns_tcp_csum(uint32_t src, uint32_t dst, const uint8_t *seg, size_t len);
bool ns_tcp_csum_ok(uint32_t src, uint32_t dst, const uint8_t *seg, size_t len);
/* The partial sum of the pseudo-header for a segment of seg_len bytes and
 * of its first hlen bytes at seg (the header, checksum field zero; hlen
 * even, as every TCP header length is). Continue it with the payload (e.g.
 * ns_csum_copy while copying it in) and fold: the same value as
 * ns_tcp_csum over the whole segment. */
uint32_t ns_tcp_csum_begin(uint32_t src, uint32_t dst, const uint8_t *seg, size_t hlen,
                           size_t seg_len);

/* ---- helpers ------------------------------------------------------------- */

/* Format an IPv4 address (host order) as dotted quad into buf (>= 16). */
const char *ns_ip4_ntoa(uint32_t addr, char buf[16]);
/* Format a MAC address into buf (>= 18). */
const char *ns_mac_ntoa(const uint8_t mac[NS_ETH_ALEN], char buf[18]);

/* IPv6, ICMPv6, NDP, MLD and IPv6 addresses: wire/ipv6.h (which includes
 * this header; this one does not include it, so the two make no cycle). */

#endif
