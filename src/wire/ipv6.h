/* wire/ipv6.h — IPv6 wire formats: the fixed header, extension headers and
 * their options, the pseudo-header checksum, ICMPv6, NDP, MLDv2 and the
 * address helpers. Pure parse/emit like the rest of wire/ (STYLE §1): no
 * state, no clock, no allocation. Included by wire/wire.h; include either.
 *
 * Addresses: `struct ns_ip6_addr`, the 16 bytes in network order exactly
 * as on the wire (unlike IPv4's host-order uint32_t: there is no native
 * 128-bit integer to put them in, and every use — compare, hash, prefix
 * match, print — works on bytes). A struct rather than uint8_t[16] so that
 * it can be assigned, returned and passed by value. The family-generic
 * address type lives above the wire layer.
 *
 * Offsets in IPv6 reprs are from the start of the IPv6 header (the
 * packet), which is what an ICMPv6 Parameter Problem pointer counts
 * (RFC 4443 §3.4) and what reassembly needs to rewrite a Next Header byte.
 *
 * docs/ipv6.md describes these formats and the choices made here. */
#ifndef NS_WIRE_IPV6_H
#define NS_WIRE_IPV6_H

#include "wire/wire.h"

/* ---- addresses (RFC 4291) ------------------------------------------------ */

#define NS_IP6_ALEN 16
/* Longest text form, with the terminating NUL (INET6_ADDRSTRLEN). */
#define NS_IP6_ADDRSTRLEN 46

struct ns_ip6_addr {
    uint8_t b[NS_IP6_ALEN]; /* network order */
};

extern const struct ns_ip6_addr ns_ip6_unspecified;     /* ::     RFC 4291 §2.5.2 */
extern const struct ns_ip6_addr ns_ip6_loopback;        /* ::1    RFC 4291 §2.5.3 */
extern const struct ns_ip6_addr ns_ip6_all_nodes;       /* ff02::1  RFC 4291 §2.7.1 */
extern const struct ns_ip6_addr ns_ip6_all_routers;     /* ff02::2  RFC 4291 §2.7.1 */
extern const struct ns_ip6_addr ns_ip6_all_mld2_routers; /* ff02::16 RFC 3810 §5.2.14 */

bool ns_ip6_eq(const struct ns_ip6_addr *a, const struct ns_ip6_addr *b);
bool ns_ip6_is_unspecified(const struct ns_ip6_addr *a);
bool ns_ip6_is_loopback(const struct ns_ip6_addr *a);
/* fe80::/10 (RFC 4291 §2.5.6). */
bool ns_ip6_is_link_local(const struct ns_ip6_addr *a);
/* ff00::/8 (RFC 4291 §2.7). */
bool ns_ip6_is_multicast(const struct ns_ip6_addr *a);
/* The 4-bit scope field of a multicast address (RFC 4291 §2.7: 1
 * interface-local, 2 link-local, 5 site-local, 8 organization, 0xe global;
 * 0 and 0xf reserved). Meaningless for a unicast address. */
uint8_t ns_ip6_mcast_scope(const struct ns_ip6_addr *a);
/* The scope of any address as RFC 6724 §3.1 orders them: a multicast
 * address's scope field; 2 (link-local) for link-local unicast and for
 * loopback; 5 for deprecated site-local fec0::/10; 0xe (global) for every
 * other unicast address. */
uint8_t ns_ip6_scope(const struct ns_ip6_addr *a);
/* ff02::1:ff00:0/104 (RFC 4291 §2.7.1). */
bool ns_ip6_is_solicited_node(const struct ns_ip6_addr *a);
/* The solicited-node multicast address of a: ff02::1:ff followed by the
 * low 24 bits of a (RFC 4291 §2.7.1). */
struct ns_ip6_addr ns_ip6_solicited_node(const struct ns_ip6_addr *a);
/* The Ethernet destination of a multicast IPv6 address: 33:33 and its
 * last four bytes (RFC 2464 §7). */
void ns_ip6_mcast_mac(const struct ns_ip6_addr *a, uint8_t mac[NS_ETH_ALEN]);
/* ::ffff:0:0/96, an IPv4-mapped address (RFC 4291 §2.5.5.2). */
bool ns_ip6_is_v4mapped(const struct ns_ip6_addr *a);
/* ::ffff:a.b.c.d for an IPv4 address in host order, and back (the low 32
 * bits, host order; meaningful only when ns_ip6_is_v4mapped). */
struct ns_ip6_addr ns_ip6_v4mapped(uint32_t v4);
uint32_t ns_ip6_v4mapped_to4(const struct ns_ip6_addr *a);
/* The modified EUI-64 interface identifier of a 48-bit MAC (RFC 4291
 * Appendix A, RFC 2464 §4): the MAC split by ff:fe with the
 * universal/local bit inverted. For tests and reference: SLAAC uses stable
 * opaque identifiers (RFC 7217) above the wire layer. */
void ns_ip6_iid_eui64(const uint8_t mac[NS_ETH_ALEN], uint8_t iid[8]);
/* True when the first `bits` bits (0..128; more is taken as 128) of a and
 * b are equal. */
bool ns_ip6_prefix_eq(const struct ns_ip6_addr *a, const struct ns_ip6_addr *b, unsigned bits);
/* a with every bit after the first `bits` cleared. */
struct ns_ip6_addr ns_ip6_prefix_mask(const struct ns_ip6_addr *a, unsigned bits);
/* The number of leading bits a and b share (0..128), e.g. for RFC 6724
 * §5 rule 8. */
unsigned ns_ip6_common_prefix_len(const struct ns_ip6_addr *a, const struct ns_ip6_addr *b);
/* RFC 5952 text form (inet_ntop: lower case, longest run of zero groups as
 * "::", ::ffff:a.b.c.d for mapped addresses) into buf, which it returns. */
const char *ns_ip6_ntoa(const struct ns_ip6_addr *a, char buf[NS_IP6_ADDRSTRLEN]);
/* Parse any RFC 4291 §2.2 text form (inet_pton); false if it is not one,
 * *a untouched then. */
bool ns_ip6_aton(const char *text, struct ns_ip6_addr *a);

/* ---- the IPv6 header (RFC 8200 §3) --------------------------------------- */

#define NS_IP6_HLEN 40
#define NS_IP6_MIN_MTU 1280           /* RFC 8200 §5 */
#define NS_IP6_MAX_PAYLOAD 65535      /* without jumbograms, which we refuse */
#define NS_IP6_FLOW_MASK 0x000fffffu  /* the flow label's 20 bits */

/* Next Header values (IANA "Assigned Internet Protocol Numbers"). */
#define NS_IP6_NH_HOPOPTS 0    /* RFC 8200 §4.3 */
#define NS_IP6_NH_ROUTING 43   /* RFC 8200 §4.4 */
#define NS_IP6_NH_FRAGMENT 44  /* RFC 8200 §4.5 */
#define NS_IP6_NH_ESP 50       /* RFC 4303 */
#define NS_IP6_NH_AH 51        /* RFC 4302 */
#define NS_IPPROTO_ICMPV6 58   /* RFC 4443 */
#define NS_IP6_NH_NONE 59      /* RFC 8200 §4.7 */
#define NS_IP6_NH_DSTOPTS 60   /* RFC 8200 §4.6 */

struct ns_ip6_repr {
    uint8_t tclass;        /* traffic class: DSCP << 2 | ECN (RFC 2474, 3168) */
    uint32_t flow;         /* flow label, 20 bits (RFC 6437) */
    uint16_t payload_len;  /* bytes after the 40-byte header, extension headers included */
    uint8_t next_hdr;
    uint8_t hop_limit;
    struct ns_ip6_addr src, dst;
};

/* Validate the fixed header at buf (len = bytes available, e.g. a frame's
 * payload, which may carry link padding past the packet):
 * -NS_WIRE_TRUNCATED len < 40; -NS_WIRE_BAD_VERSION version != 6;
 * -NS_WIRE_JUMBO a jumbogram: payload length 0, next header Hop-by-Hop,
 * and a Jumbo Payload option in that header (RFC 2675 §3; not supported);
 * -NS_WIRE_BAD_LEN payload length runs past len. The packet is then
 * buf[0 .. 40 + payload_len). Addresses are not judged here (see
 * ns_ip6_check_addrs); extension headers are ns_ip6_ext_walk's. */
int ns_ip6_parse(const uint8_t *buf, size_t len, struct ns_ip6_repr *r);
/* Write the 40-byte header (version 6; the flow label's top 12 bits of
 * r->flow are ignored). */
void ns_ip6_emit(const struct ns_ip6_repr *r, uint8_t *buf);
/* Addresses no packet may carry, as Linux ip6_rcv_core: -NS_WIRE_BAD_SRC
 * a multicast source (RFC 4291 §2.7); -NS_WIRE_BAD_DST a multicast
 * destination of scope 0 (RFC 4291 §2.7: reserved, silently dropped). What
 * depends on the receiving interface (loopback destination arriving from
 * outside, interface-local multicast) is for the caller. 0 otherwise. */
int ns_ip6_check_addrs(const struct ns_ip6_repr *r);

/* ---- pseudo-header checksum (RFC 8200 §8.1) ------------------------------ */

/* Partial sum of the IPv6 pseudo-header: source, destination, the
 * upper-layer packet length as 32 bits, three zero bytes, next header.
 * Chain it with ns_csum_add over the upper-layer packet, as
 * ns_csum_pseudo4. With a Routing header, dst is the final destination
 * (RFC 8200 §8.1). */
uint32_t ns_csum_pseudo6(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                         uint32_t upper_len, uint8_t next_header);
/* The checksum of an upper-layer packet of len bytes (its checksum field
 * zero; or as received, to verify: then a correct one gives 0) over the
 * pseudo-header: the value to store with ns_wr16. For TCP and ICMPv6 as
 * they are; UDP maps a computed 0 to 0xffff: ns_udp6_csum. */
uint16_t ns_ip6_upper_csum(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                           uint8_t next_header, const uint8_t *data, size_t len);

/* UDP over IPv6. ns_udp6_parse is ns_udp_parse that also refuses a zero
 * checksum field with -NS_WIRE_ZERO_CSUM (RFC 8200 §8.1: IPv6 receivers
 * MUST discard UDP packets with a zero checksum; the RFC 6935 tunnel
 * exception is not supported). ns_udp6_csum: the value to send (a computed
 * 0 sent as 0xffff, RFC 8200 §8.1); ns_udp6_csum_ok: a received datagram
 * verifies. */
int ns_udp6_parse(const uint8_t *buf, size_t len, struct ns_udp_repr *r);
uint16_t ns_udp6_csum(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                      const uint8_t *udp, size_t len);
bool ns_udp6_csum_ok(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                     const uint8_t *udp, size_t len);

/* ---- extension headers (RFC 8200 §4) ------------------------------------- */

/* At most this many extension headers are walked; one more is
 * -NS_WIRE_EXT_LIMIT. RFC 8200 §4.1's recommended order holds at most six
 * distinct ones plus a second Destination Options header; Linux has no
 * count limit but bounds the options inside (see NS_IP6_MAX_OPTS). */
#define NS_IP6_MAX_EXT 8

#define NS_IP6_FRAG_HLEN 8
#define NS_IP6_FRAG_OFFMASK 0xfff8 /* offset bits of bytes 2-3, already in bytes */
#define NS_IP6_FRAG_MF 0x0001

/* Fragment header (RFC 8200 §4.5). */
struct ns_ip6_frag_repr {
    uint8_t next_hdr;  /* of the fragmentable part */
    uint16_t offset;   /* in bytes, a multiple of 8 */
    bool mf;           /* more fragments */
    uint32_t id;
};

/* 0 or -NS_WIRE_TRUNCATED (len < 8). Reserved bits are ignored (RFC 8200
 * §4.5). */
int ns_ip6_frag_parse(const uint8_t *buf, size_t len, struct ns_ip6_frag_repr *r);
/* Write 8 bytes, reserved fields zero. */
void ns_ip6_frag_emit(const struct ns_ip6_frag_repr *r, uint8_t *buf);
/* RFC 6946 §4: offset 0 and M clear, a whole packet in one fragment, to be
 * processed as such and not reassembled. */
static inline bool ns_ip6_frag_is_atomic(const struct ns_ip6_frag_repr *r)
{
    return r->offset == 0 && !r->mf;
}

/* One extension header met by the walker. */
struct ns_ip6_ext {
    uint8_t type;  /* NS_IP6_NH_HOPOPTS, _ROUTING, _FRAGMENT or _DSTOPTS */
    uint32_t off;  /* offset in the packet */
    uint16_t len;  /* bytes, header included */
};

struct ns_ip6_ext_info {
    uint8_t upper;         /* the first header the walker does not walk: the
                              upper-layer protocol (TCP, UDP, ICMPv6...), 59
                              (No Next Header), ESP or AH (we speak no IPsec),
                              or an unrecognised value */
    uint32_t upper_off;    /* its offset in the packet (after a non-first
                              fragment's header: where the fragment's data is) */
    uint32_t upper_nh_off; /* offset of the Next Header field that names
                              `upper`: 6 without extension headers. The pointer
                              of a Parameter Problem code 1 (RFC 8200 §4) */
    uint8_t n_ext;         /* entries in ext[] */
    struct ns_ip6_ext ext[NS_IP6_MAX_EXT];
    /* Routing header (RFC 8200 §4.4), the first one met: */
    bool has_rt;
    uint32_t rt_off;
    uint8_t rt_type, rt_segleft;
    /* Fragment header (RFC 8200 §4.5): */
    bool has_frag;
    uint32_t frag_off;     /* offset of the fragment header */
    uint32_t frag_nh_off;  /* offset of the Next Header field that names it:
                              reassembly puts frag.next_hdr there */
    struct ns_ip6_frag_repr frag;
    bool fragment;         /* has_frag and not atomic: the caller reassembles */
    uint32_t err_ptr;      /* on -NS_WIRE_EXT_ORDER: the offending Next Header
                              field (a Parameter Problem code 1's pointer) */
};

/* Walk the extension headers of the packet at pkt (from its IPv6 header;
 * len = 40 + payload length as ns_ip6_parse found, or fewer bytes for a
 * packet quoted in an ICMPv6 error). Steps over Hop-by-Hop Options,
 * Routing, Fragment and Destination Options headers, recording each in
 * w->ext[], and stops at any other Next Header value (w->upper), or right
 * after a Fragment header whose offset is not 0 (the rest is fragment
 * data; w->upper is that fragment header's next header). An atomic
 * fragment (RFC 6946) is walked through as a whole packet. Options are not
 * interpreted: ns_ip6_opts_process each Hop-by-Hop/Destination Options
 * entry. Returns 0, or on error (w holds what was met before it):
 * -NS_WIRE_TRUNCATED len < 40 or a header runs past len;
 * -NS_WIRE_EXT_ORDER a Hop-by-Hop header not right after the fixed header
 * (RFC 8200 §4.3; Linux answers it as an unrecognised next header, code
 * 1, pointer w->err_ptr); -NS_WIRE_EXT_LIMIT over NS_IP6_MAX_EXT headers;
 * -NS_WIRE_FRAG_INCOMPLETE a first fragment (offset 0, M set) whose header
 * chain runs past its end (RFC 8200 §4.5: Parameter Problem code 3,
 * pointer 0). Never reads past pkt + len, nor past 40 + 65535 bytes. */
int ns_ip6_ext_walk(const uint8_t *pkt, size_t len, struct ns_ip6_ext_info *w);

/* The checks RFC 8200 §4.5 asks of a fragment, given the walk of a
 * packet of pkt_len bytes (40 + payload length) with w->fragment set, as
 * Linux ip6_frag_queue and ipv6frag_thdr_truncated: -NS_WIRE_FRAG_LEN M
 * set and the fragment's data not a multiple of 8 (Parameter Problem code
 * 0, *ptr = 4, the Payload Length field); -NS_WIRE_FRAG_TOO_BIG offset +
 * data length > 65535 (code 0, *ptr = the Fragment Offset field);
 * -NS_WIRE_FRAG_INCOMPLETE a first fragment without the first bytes of its
 * upper-layer header (ns_ip6_upper_min_len: code 3, *ptr = 0). 0 when none
 * applies (also when w->fragment is false). */
int ns_ip6_frag_check(const struct ns_ip6_ext_info *w, size_t pkt_len, uint32_t *ptr);
/* The bytes of an upper-layer header a first fragment must hold (RFC 8200
 * §4.5 / RFC 7112), as Linux: TCP 20, UDP 8, ICMPv6 8, anything else 1. */
size_t ns_ip6_upper_min_len(uint8_t proto);

/* ---- Hop-by-Hop and Destination options (RFC 8200 §4.2) ------------------ */

/* Options other than padding allowed in one header: one more is
 * -NS_WIRE_OPT_LIMIT (Linux max_hbh_opts_cnt / max_dst_opts_cnt, 8). */
#define NS_IP6_MAX_OPTS 8

#define NS_IP6_OPT_PAD1 0x00          /* RFC 8200 §4.2 */
#define NS_IP6_OPT_PADN 0x01          /* RFC 8200 §4.2 */
#define NS_IP6_OPT_ROUTER_ALERT 0x05  /* RFC 2711 §2 */
#define NS_IP6_OPT_JUMBO 0xc2         /* RFC 2675 §2 */
/* Router Alert values (RFC 2711 §2.1). */
#define NS_IP6_RA_MLD 0
#define NS_IP6_RA_RSVP 1

/* What to do with an unrecognised option: its type's two high bits (RFC
 * 8200 §4.2). */
enum ns_ip6_opt_action {
    NS_IP6_OPT_SKIP = 0,          /* 00: skip it, go on with the header */
    NS_IP6_OPT_DISCARD = 1,       /* 01: discard the packet */
    NS_IP6_OPT_DISCARD_ICMP = 2,  /* 10: discard, Parameter Problem code 2
                                     even if the destination is multicast */
    NS_IP6_OPT_DISCARD_ICMP_UNICAST = 3, /* 11: discard, Parameter Problem
                                            code 2 unless the destination is
                                            multicast */
};

static inline enum ns_ip6_opt_action ns_ip6_opt_action(uint8_t type)
{
    return (enum ns_ip6_opt_action)(type >> 6);
}

/* One option (padding is not reported). */
struct ns_ip6_opt {
    uint8_t type;
    uint8_t len;          /* bytes of data */
    const uint8_t *data;
    uint32_t ptr;         /* offset of its type byte in the packet: the
                             pointer a Parameter Problem about it carries */
};

/* Iterator over the options of one Hop-by-Hop or Destination Options
 * header. Opaque: fill with ns_ip6_opt_iter_init. */
struct ns_ip6_opt_iter {
    const uint8_t *hdr;
    size_t len, off;
    unsigned pad_run, count;
    uint32_t base;
    int err;
};

/* hdr: the whole header (next header and length bytes included), len its
 * length ((hdr[1] + 1) * 8, as the walker recorded); base: its offset in
 * the packet, for ns_ip6_opt.ptr. */
void ns_ip6_opt_iter_init(struct ns_ip6_opt_iter *it, const uint8_t *hdr, size_t len,
                          uint32_t base);
/* Next option: 1 and *o filled; 0 at the end; or, as Linux ip6_parse_tlv
 * judges a header: -NS_WIRE_BAD_OPTION an option runs past the header;
 * -NS_WIRE_BAD_PADDING more than 7 padding bytes in a row or a PadN with
 * non-zero data (RFC 4942 §2.1.9.5); -NS_WIRE_OPT_LIMIT a non-padding
 * option beyond NS_IP6_MAX_OPTS. After an error it keeps returning it. */
int ns_ip6_opt_next(struct ns_ip6_opt_iter *it, struct ns_ip6_opt *o);

struct ns_ip6_opts_result {
    bool router_alert;   /* a Router Alert option (Hop-by-Hop only) */
    uint16_t ra_value;
    bool send_icmp;      /* on -NS_WIRE_OPT_DISCARD / -NS_WIRE_JUMBO: answer
                            with a Parameter Problem code 2 ... */
    uint32_t icmp_ptr;   /* ... whose pointer is this */
};

/* Judge every option of one options header (hdr, len, base as for
 * ns_ip6_opt_iter_init) as a host that knows Pad1, PadN and, in a
 * Hop-by-Hop header (hbh true), Router Alert; every other option is
 * unrecognised and handled by its action bits, with dst_multicast telling
 * whether the packet's destination is multicast. Returns 0 (accept; r
 * says whether Router Alert was there), or: the iterator's errors;
 * -NS_WIRE_BAD_OPTION a Router Alert whose length is not 2 (Linux
 * ipv6_hop_ra); -NS_WIRE_JUMBO a Jumbo Payload option in a Hop-by-Hop
 * header, unsupported and so handled as unrecognised (RFC 8200 §4.2);
 * -NS_WIRE_OPT_DISCARD an unrecognised option whose action is not skip.
 * For those two, r->send_icmp and r->icmp_ptr say whether to answer with a
 * Parameter Problem code 2 and where it points. */
int ns_ip6_opts_process(const uint8_t *hdr, size_t len, uint32_t base, bool hbh,
                        bool dst_multicast, struct ns_ip6_opts_result *r);

/* Write n bytes of padding (RFC 8200 §4.2): nothing for 0, Pad1 for 1, a
 * PadN option of n - 2 zero bytes otherwise (n <= 257). Returns n. */
size_t ns_ip6_pad_emit(uint8_t *buf, size_t n);

/* A Hop-by-Hop Options header holding a Router Alert option and PadN, as
 * MLD sends it (RFC 3810 §5, RFC 2711): 8 bytes. */
#define NS_IP6_HBH_RA_LEN 8
void ns_ip6_hbh_ra_emit(uint8_t next_hdr, uint16_t ra_value, uint8_t *buf);

/* ---- ICMPv6 (RFC 4443) ---------------------------------------------------- */

#define NS_ICMP6_HLEN 8  /* type, code, checksum and 4 bytes every defined
                            message has; shorter ones are dropped (Linux
                            icmpv6_rcv) */
/* Error messages (RFC 4443 §3) */
#define NS_ICMP6_DEST_UNREACH 1
#define NS_ICMP6_PACKET_TOO_BIG 2
#define NS_ICMP6_TIME_EXCEEDED 3
#define NS_ICMP6_PARAM_PROB 4
/* Informational messages (RFC 4443 §4, RFC 4861 §4, RFC 2710, RFC 3810) */
#define NS_ICMP6_ECHO_REQUEST 128
#define NS_ICMP6_ECHO_REPLY 129
#define NS_ICMP6_MLD_QUERY 130
#define NS_ICMP6_MLD1_REPORT 131
#define NS_ICMP6_MLD1_DONE 132
#define NS_ICMP6_RS 133
#define NS_ICMP6_RA 134
#define NS_ICMP6_NS 135
#define NS_ICMP6_NA 136
#define NS_ICMP6_REDIRECT 137
#define NS_ICMP6_MLD2_REPORT 143

/* Destination Unreachable codes (RFC 4443 §3.1) */
#define NS_ICMP6_DU_NO_ROUTE 0
#define NS_ICMP6_DU_ADMIN 1
#define NS_ICMP6_DU_BEYOND_SCOPE 2
#define NS_ICMP6_DU_ADDR 3
#define NS_ICMP6_DU_PORT 4
#define NS_ICMP6_DU_POLICY 5
#define NS_ICMP6_DU_REJECT_ROUTE 6
/* Time Exceeded codes (RFC 4443 §3.3) */
#define NS_ICMP6_TE_HOPLIMIT 0
#define NS_ICMP6_TE_REASSEMBLY 1
/* Parameter Problem codes (RFC 4443 §3.4, RFC 7112 §3) */
#define NS_ICMP6_PP_HEADER 0
#define NS_ICMP6_PP_NEXT_HEADER 1
#define NS_ICMP6_PP_OPTION 2
#define NS_ICMP6_PP_INCOMPLETE_CHAIN 3

/* RFC 4443 §2.1: types 0-127 are errors, 128-255 informational. */
static inline bool ns_icmp6_is_error(uint8_t type) { return type < 128; }

struct ns_icmp6_repr {
    uint8_t type, code;
    /* The 4 bytes after the checksum, by type (parse fills the one that
     * applies; the others are 0; `rest` always): */
    uint16_t id, seq;     /* echo request/reply (RFC 4443 §4.1) */
    uint32_t mtu;         /* packet too big (RFC 4443 §3.2) */
    uint32_t pointer;     /* parameter problem (RFC 4443 §3.4) */
    uint32_t rest;        /* the 4 bytes raw, host order, for any type */
    /* After those 8 bytes: echo data, the invoking packet of an error, or
     * the rest of an NDP/MLD message. Parse: points into the buffer. */
    const uint8_t *payload;
    size_t payload_len;
};

/* 0, -NS_WIRE_TRUNCATED (len < 8), -NS_WIRE_BAD_CSUM (only when
 * verify_csum: the checksum over the pseudo-header from src, dst and all
 * len bytes is wrong, RFC 4443 §2.3). Unknown types are kept (RFC 4443
 * §2.4 (a), (b): the caller passes unknown errors up, drops unknown
 * informational messages). */
int ns_icmp6_parse(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                   const uint8_t *buf, size_t len, struct ns_icmp6_repr *r, bool verify_csum);
/* Write the 8-byte header at buf and the payload after it (moved there,
 * memmove, when r->payload is elsewhere), with the checksum over the
 * pseudo-header. Echo types write id/seq, packet too big the MTU,
 * parameter problem the pointer, every other type `rest`. Needs 8 +
 * payload_len bytes. */
void ns_icmp6_emit(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                   const struct ns_icmp6_repr *r, uint8_t *buf);
/* The checksum of an ICMPv6 message (its field zero when computing):
 * ns_ip6_upper_csum with next header 58. */
uint16_t ns_icmp6_csum(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                       const uint8_t *msg, size_t len);

/* How many bytes of an invoking packet of invoking_len bytes an error
 * message quotes: "as much of invoking packet as possible without the
 * ICMPv6 packet exceeding the minimum IPv6 MTU" (RFC 4443 §3.1-§3.4),
 * where hdrs_len is what the error packet carries before its ICMPv6
 * header (40, plus any extension headers). 0 if those leave no room. */
size_t ns_icmp6_quote_len(size_t invoking_len, size_t hdrs_len);

/* RFC 4443 §2.4 (e): may an error of type/code be sent about the invoking
 * packet pkt (len bytes from its IPv6 header, as received)? No when it is
 * itself an ICMPv6 error (e.1) or a Redirect (e.2; Linux is_ineligible
 * does answer Redirects), or its ICMPv6 type byte is missing (Linux: except
 * in a non-first fragment, which is answered; a chain that cannot be
 * walked is answered, as is_ineligible answers when ipv6_skip_exthdr
 * fails); when it was sent to a
 * multicast address (e.3) or as link-layer multicast or broadcast
 * (ll_multicast, e.4, e.5), except for a Packet Too Big and a Parameter
 * Problem code 2 (which ns_ip6_opts_process asks for to a multicast
 * destination only when the option's action bits are 10); when its source
 * is unspecified or multicast (e.6; anycast is the caller's to know); and
 * when pkt has no valid IPv6 header. Rate limits (§2.4 (f)) are the
 * caller's. */
bool ns_icmp6_error_allowed(const uint8_t *pkt, size_t len, uint8_t type, uint8_t code,
                            bool ll_multicast);

/* A short description of an ICMPv6 error type/code, in RFC 4443's words
 * ("Port unreachable", "Hop limit exceeded in transit", ...). */
const char *ns_icmp6_describe(uint8_t type, uint8_t code);

/* ---- Neighbor Discovery (RFC 4861 §4) -------------------------------------- */

/* Message lengths before the options (RFC 4861 §4.1-§4.5), and the
 * shortest valid message of each type (§6.1.1, §6.1.2, §7.1.1, §7.1.2,
 * §8.1). */
#define NS_NDP_RS_LEN 8
#define NS_NDP_RA_LEN 16
#define NS_NDP_NS_LEN 24
#define NS_NDP_NA_LEN 24
#define NS_NDP_REDIRECT_LEN 40
#define NS_NDP_HOP_LIMIT 255

/* Option types (RFC 4861 §4.6, RFC 3971 §5.3.2, RFC 8106 §5.1). */
#define NS_NDP_OPT_SLLA 1
#define NS_NDP_OPT_TLLA 2
#define NS_NDP_OPT_PREFIX 3
#define NS_NDP_OPT_REDIRECTED 4
#define NS_NDP_OPT_MTU 5
#define NS_NDP_OPT_NONCE 14
#define NS_NDP_OPT_RDNSS 25

/* Router Advertisement flags byte (RFC 4861 §4.2; RFC 4191 §2.2 Prf). */
#define NS_NDP_RA_MANAGED 0x80
#define NS_NDP_RA_OTHER 0x40
#define NS_NDP_RA_PRF_MASK 0x18
/* Prefix Information flags (RFC 4861 §4.6.2). */
#define NS_NDP_PREFIX_ONLINK 0x80
#define NS_NDP_PREFIX_AUTO 0x40
/* "Infinity" for a lifetime (RFC 4861 §4.6.2, RFC 8106 §5.1). */
#define NS_NDP_INFINITE 0xffffffffu

struct ns_ndp_repr {
    uint8_t type;                /* NS_ICMP6_RS ... NS_ICMP6_REDIRECT */
    /* Router Advertisement (§4.2) */
    uint8_t cur_hop_limit;
    uint8_t ra_flags;            /* the whole byte: M, O, and what later RFCs
                                    put there (RFC 4191 Prf, RFC 3775 H) */
    uint16_t router_lifetime_s;
    uint32_t reachable_ms, retrans_ms;
    /* Neighbor Advertisement (§4.4) */
    bool router, solicited, override;
    /* NS, NA and Redirect target; Redirect destination (§4.3-§4.5) */
    struct ns_ip6_addr target, dest;
    /* The options, as on the wire. Parse: validated, every one inside the
     * message with a non-zero length; walk them with ns_ndp_opt_iter for
     * the kinds that repeat (prefix information, RDNSS) and unknown ones.
     * Emit: written after the fixed part (moved there if elsewhere). */
    const uint8_t *opts;
    size_t opts_len;
    /* Parse only: the first option of each of these kinds (a later one is
     * ignored, as Linux ndisc_parse_options), NULL/0/false when absent.
     * Link-layer addresses are the option's bytes after type and length:
     * 6 for Ethernet (len 1), the caller checks the length for its link. */
    const uint8_t *sll, *tll;
    size_t sll_len, tll_len;
    bool has_mtu;
    uint32_t mtu;                /* MTU option (§4.6.4) */
    const uint8_t *redirected;   /* Redirected Header option's packet (§4.6.3) */
    size_t redirected_len;
    const uint8_t *nonce;        /* Nonce option (RFC 3971 §5.3.2; RFC 7527) */
    size_t nonce_len;
};

/* Parse and validate an NDP message: buf/len is the ICMPv6 message (its
 * checksum already verified by ns_icmp6_parse) and ip the IPv6 header it
 * came in. Every check RFC 4861 makes that depends on the message alone:
 * -NS_WIRE_UNSUPPORTED not an NDP type (133-137);
 * -NS_WIRE_BAD_HOPLIMIT hop limit not 255; -NS_WIRE_BAD_CODE code not 0;
 * -NS_WIRE_TRUNCATED shorter than the type's fixed part;
 * -NS_WIRE_OPT_ZERO_LEN / -NS_WIRE_BAD_OPTION an option of length 0 or
 * running past the message (or fewer than 2 bytes left for one);
 * -NS_WIRE_BAD_SRC an RA or Redirect not from a link-local address;
 * -NS_WIRE_MCAST_TARGET an NS/NA target or a Redirect destination that is
 * multicast; -NS_WIRE_DAD_DST an NS from :: not sent to a solicited-node
 * address; -NS_WIRE_UNSPEC_SLLA an RS or NS from :: with a source
 * link-layer address option; -NS_WIRE_SOLICITED_MCAST an NA sent to a
 * multicast address with the Solicited flag; -NS_WIRE_REDIRECT_TARGET a
 * Redirect whose target is neither link-local nor its destination. What
 * needs state (is the RA's sender a router we know, is the Redirect from
 * our first hop) is the caller's. Reserved fields are ignored. */
int ns_ndp_parse(const struct ns_ip6_repr *ip, const uint8_t *buf, size_t len,
                 struct ns_ndp_repr *r);
/* The fixed part of an NDP message of this type, 0 for another type. */
size_t ns_ndp_hdr_len(uint8_t type);
/* Write r as an ICMPv6 message (code 0, reserved fields zero) followed by
 * r->opts, with the checksum over the pseudo-header from src and dst.
 * Returns its length, ns_ndp_hdr_len(r->type) + r->opts_len (0 when
 * r->type is not an NDP type, nothing written). */
size_t ns_ndp_emit(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                   const struct ns_ndp_repr *r, uint8_t *buf);

/* One NDP option (§4.6). */
struct ns_ndp_opt {
    uint8_t type;
    uint8_t len8;          /* length in units of 8 bytes, type and length included */
    const uint8_t *body;   /* the bytes after type and length */
    size_t body_len;       /* len8 * 8 - 2 */
};

struct ns_ndp_opt_iter {
    const uint8_t *p;
    size_t len, off;
};

void ns_ndp_opt_iter_init(struct ns_ndp_opt_iter *it, const uint8_t *opts, size_t len);
/* 1 and *o filled; 0 at the end; -NS_WIRE_OPT_ZERO_LEN, -NS_WIRE_BAD_OPTION
 * (over the end), after which it keeps returning the error. Unknown types
 * are returned like any other (RFC 4861 §4.6: the receiver skips them). */
int ns_ndp_opt_next(struct ns_ndp_opt_iter *it, struct ns_ndp_opt *o);

/* Prefix Information (§4.6.2). */
struct ns_ndp_prefix {
    uint8_t prefix_len;
    uint8_t flags;          /* NS_NDP_PREFIX_ONLINK, _AUTO, and the rest */
    uint32_t valid_s, preferred_s;
    struct ns_ip6_addr prefix;
};
/* 0, -NS_WIRE_BAD_OPTION (not type 3, or shorter than 32 bytes: Linux
 * addrconf_prefix_rcv ignores such an option, and so should the caller),
 * -NS_WIRE_BAD_FIELD prefix length > 128. Lifetimes are not judged here
 * (preferred > valid is SLAAC's to ignore, RFC 4862 §5.5.3 c). */
int ns_ndp_prefix_parse(const struct ns_ndp_opt *o, struct ns_ndp_prefix *p);

/* Recursive DNS Server (RFC 8106 §5.1). */
struct ns_ndp_rdnss {
    uint32_t lifetime_s;
    size_t n;               /* addresses */
    const uint8_t *addrs;   /* n * 16 bytes */
};
/* 0 or -NS_WIRE_BAD_OPTION (not type 25, or a length that is not 3 + 2n:
 * RFC 8106 §5.1, the option is then ignored). */
int ns_ndp_rdnss_parse(const struct ns_ndp_opt *o, struct ns_ndp_rdnss *r);
struct ns_ip6_addr ns_ndp_rdnss_addr(const struct ns_ndp_rdnss *r, size_t i);

/* Option emitters: each writes one option at buf and returns its length
 * (a multiple of 8). */
#define NS_NDP_OPT_LLADDR_LEN 8
#define NS_NDP_OPT_PREFIX_LEN 32
#define NS_NDP_OPT_MTU_LEN 8
/* Source/target link-layer address for Ethernet (RFC 2464 §6): type is
 * NS_NDP_OPT_SLLA or NS_NDP_OPT_TLLA. */
size_t ns_ndp_opt_lladdr_emit(uint8_t *buf, uint8_t type, const uint8_t mac[NS_ETH_ALEN]);
size_t ns_ndp_opt_prefix_emit(uint8_t *buf, const struct ns_ndp_prefix *p);
size_t ns_ndp_opt_mtu_emit(uint8_t *buf, uint32_t mtu);
/* n addresses, 1..127 (RFC 8106 §5.1): 8 + 16n bytes. */
size_t ns_ndp_opt_rdnss_emit(uint8_t *buf, uint32_t lifetime_s, const struct ns_ip6_addr *addrs,
                             size_t n);
/* Redirected Header (§4.6.3): the first bytes of pkt (pkt_len bytes), at
 * most as many as keep the option within `room` bytes, zero-padded to a
 * multiple of 8. Returns 0 (nothing written) when room < 16. For a
 * Redirect to stay within the minimum MTU (RFC 4861 §4.6.3) room is 1280
 * - 40 - the Redirect's length before this option. */
size_t ns_ndp_opt_redirected_emit(uint8_t *buf, const uint8_t *pkt, size_t pkt_len, size_t room);

/* ---- MLD (RFC 2710, RFC 3810) ---------------------------------------------- */

#define NS_MLD1_LEN 24              /* an MLDv1 query/report/done (RFC 2710 §3) */
#define NS_MLD2_QUERY_MIN_LEN 28    /* RFC 3810 §5.1 */
#define NS_MLD2_REPORT_HLEN 8       /* RFC 3810 §5.2 */
#define NS_MLD2_RECORD_HLEN 20      /* RFC 3810 §5.2.4: before the sources */
#define NS_MLD_HOP_LIMIT 1          /* RFC 3810 §5 / §6.2 */

/* Multicast address record types (RFC 3810 §5.2.12). */
#define NS_MLD2_MODE_IS_INCLUDE 1
#define NS_MLD2_MODE_IS_EXCLUDE 2
#define NS_MLD2_CHANGE_TO_INCLUDE 3
#define NS_MLD2_CHANGE_TO_EXCLUDE 4
#define NS_MLD2_ALLOW_NEW_SOURCES 5
#define NS_MLD2_BLOCK_OLD_SOURCES 6

struct ns_mld_query {
    uint8_t version;        /* 1 (24 bytes, RFC 2710) or 2 (>= 28, RFC 3810) */
    uint32_t max_resp_ms;   /* Maximum Response Delay, decoded (RFC 3810 §5.1.3) */
    struct ns_ip6_addr group; /* :: for a General Query */
    /* MLDv2 only: */
    bool suppress;          /* S flag (§5.1.7) */
    uint8_t qrv;            /* Querier's Robustness Variable (§5.1.8) */
    uint32_t qqi_s;         /* Querier's Query Interval, decoded (§5.1.9) */
    uint16_t n_src;
    const uint8_t *srcs;    /* n_src * 16 bytes */
};

/* Parse an MLD query (ICMPv6 type 130, checksum verified by
 * ns_icmp6_parse) that came in the IPv6 header ip, with has_ra_mld true
 * when its Hop-by-Hop header held a Router Alert of value 0 (MLD):
 * -NS_WIRE_UNSUPPORTED not type 130; -NS_WIRE_BAD_LEN a length that is
 * neither 24 nor >= 28 (RFC 3810 §8.1: silently ignored); -NS_WIRE_TRUNCATED
 * sources running past the message; and the checks of RFC 3810 §6.2 (as
 * Linux igmp6_event_query): -NS_WIRE_BAD_SRC source not link-local,
 * -NS_WIRE_BAD_HOPLIMIT hop limit not 1, -NS_WIRE_NO_ROUTER_ALERT. The
 * code field is ignored (RFC 3810 §5.1.2). */
int ns_mld_query_parse(const struct ns_ip6_repr *ip, bool has_ra_mld, const uint8_t *buf,
                       size_t len, struct ns_mld_query *q);
/* RFC 3810 §5.1.3: the Maximum Response Code as milliseconds; §5.1.9: the
 * QQIC as seconds (both exact below 32768 / 128, floating point above). */
uint32_t ns_mld2_decode_mrc(uint16_t code);
uint32_t ns_mld2_decode_qqic(uint8_t code);

/* One multicast address record. */
struct ns_mld2_record {
    uint8_t type;           /* NS_MLD2_* */
    struct ns_ip6_addr group;
    uint16_t n_src;
    const struct ns_ip6_addr *srcs; /* emit: the sources; parse: NULL (see
                                       src_bytes) */
    const uint8_t *src_bytes;       /* parse: n_src * 16 bytes in the buffer */
    uint8_t aux_len;                /* parse: aux data length in 4-byte words
                                       (emit sends 0, RFC 3810 §5.2.6) */
};

/* Bytes of a Version 2 Multicast Listener Report holding the n records. */
size_t ns_mld2_report_len(const struct ns_mld2_record *recs, size_t n);
/* Write it (ICMPv6 type 143, checksum over the pseudo-header from src and
 * dst — normally the link-local source, or :: before one is valid, and
 * ff02::16, RFC 3810 §5.2.13-14). The IPv6 header goes with hop limit 1
 * and a Router Alert Hop-by-Hop header (ns_ip6_hbh_ra_emit). Returns the
 * length, ns_mld2_report_len; n <= 65535. */
size_t ns_mld2_report_emit(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                           const struct ns_mld2_record *recs, size_t n, uint8_t *buf);

/* A parsed report: the records, validated, walked with
 * ns_mld2_report_next. */
struct ns_mld2_report {
    uint16_t n_rec;
    const uint8_t *p;       /* the next record */
    size_t left;            /* bytes from p to the end of the message */
    uint16_t done;          /* records returned so far */
};
/* 0, -NS_WIRE_UNSUPPORTED (not type 143), -NS_WIRE_TRUNCATED (shorter
 * than 8 bytes, or a record running past the end). Bytes after the last
 * record are ignored. */
int ns_mld2_report_parse(const uint8_t *buf, size_t len, struct ns_mld2_report *r);
/* 1 and *rec filled, or 0 after the last record. */
int ns_mld2_report_next(struct ns_mld2_report *r, struct ns_mld2_record *rec);

#endif
