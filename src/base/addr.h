/* base/addr.h — one address type for both IP versions (struct ns_addr)
 * and one flow key (struct ns_flow), used from the socket object down to
 * the demultiplexing tables of TCP, UDP and raw sockets; the pseudo-header
 * checksum of either family; the keyed hash of a flow.
 *
 * An address is its family and 16 bytes in network order. An IPv4
 * address is kept in its IPv4-mapped form, ::ffff:a.b.c.d (RFC 4291
 * §2.5.5.2), with family AF_INET: so the 16 bytes of every ns_addr are an
 * IPv6 address, and a dual-stack socket can later see an IPv4 peer as the
 * ::ffff: address Linux shows by changing the family alone. The IPv4
 * wildcard is ::ffff:0.0.0.0 with AF_INET; a zeroed ns_addr (family
 * AF_UNSPEC) is no address at all. Addresses compare equal when family
 * and bytes do (ns_addr_eq): an AF_INET and an AF_INET6 address never do.
 *
 * The network layer keeps IPv4 addresses as host-order uint32_t
 * (net/net.h); transports convert at their boundary with ns_addr_ip4 and
 * ns_addr_to_ip4.
 */
#ifndef NS_BASE_ADDR_H
#define NS_BASE_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "wire/ipv6.h"

struct ns_addr {
    uint16_t family;  /* AF_INET, AF_INET6; AF_UNSPEC (0): none */
    uint16_t zero;    /* always 0, so that equal addresses are equal bytes */
    union {
        uint8_t b[16];
        uint32_t w[4];
        struct ns_ip6_addr ip6;
    } u;              /* network order; AF_INET: ::ffff:a.b.c.d */
};

/* The IPv4 address `host` (host order), e.g. INADDR_ANY or INADDR_LOOPBACK. */
static inline struct ns_addr ns_addr_ip4(uint32_t host)
{
    struct ns_addr a = {.family = AF_INET};
    a.u.w[2] = htonl(0xffffu);
    a.u.w[3] = htonl(host);
    return a;
}

/* The IPv4 address of an AF_INET ns_addr, host order (0 for any other). */
static inline uint32_t ns_addr_to_ip4(const struct ns_addr *a)
{
    return a->family == AF_INET ? ntohl(a->u.w[3]) : 0;
}

/* From and to the system's types (network order inside both). */
static inline struct ns_addr ns_addr_from_in(struct in_addr in) { return ns_addr_ip4(ntohl(in.s_addr)); }

static inline struct ns_addr ns_addr_from_in6(const struct in6_addr *in6)
{
    struct ns_addr a = {.family = AF_INET6};
    memcpy(a.u.b, in6, 16);
    return a;
}

/* 0.0.0.0 for an address that is not AF_INET. */
static inline struct in_addr ns_addr_to_in(const struct ns_addr *a)
{
    struct in_addr in = {.s_addr = htonl(ns_addr_to_ip4(a))};
    return in;
}

/* The 16 bytes, whatever the family (an AF_INET address gives its
 * ::ffff: form). */
static inline void ns_addr_to_in6(const struct ns_addr *a, struct in6_addr *out)
{
    memcpy(out, a->u.b, 16);
}

/* The wildcard of a family (INADDR_ANY, in6addr_any). */
static inline struct ns_addr ns_addr_any(int family)
{
    if (family == AF_INET)
        return ns_addr_ip4(INADDR_ANY);
    struct ns_addr a = {.family = (uint16_t)family};
    return a;
}

/* Same family and same bytes. */
static inline bool ns_addr_eq(const struct ns_addr *a, const struct ns_addr *b)
{
    return a->family == b->family && a->u.w[3] == b->u.w[3] && a->u.w[2] == b->u.w[2] &&
           a->u.w[1] == b->u.w[1] && a->u.w[0] == b->u.w[0];
}

/* The wildcard of its family, or no address at all. */
static inline bool ns_addr_is_any(const struct ns_addr *a)
{
    if (a->family == AF_INET)
        return a->u.w[3] == 0;
    return (a->u.w[0] | a->u.w[1] | a->u.w[2] | a->u.w[3]) == 0;
}

/* Format an address for logs ("192.0.2.1", "2001:db8::1") into buf. */
const char *ns_addr_ntop(const struct ns_addr *a, char buf[48]);

/* The partial sum of the pseudo-header for a transport segment of `len`
 * bytes of protocol `proto` from src to dst, by family: RFC 9293 §3.1 /
 * RFC 768 for AF_INET (ns_csum_pseudo4: 16-bit length), RFC 8200 §8.1 for
 * AF_INET6 (ns_csum_pseudo6: 32-bit length). Chain it with ns_csum_add
 * over the segment and fold (wire/wire.h). Both addresses are of one
 * family. */
uint32_t ns_csum_pseudo(const struct ns_addr *src, const struct ns_addr *dst, uint8_t proto,
                        uint32_t len);

/* ---- the flow key -------------------------------------------------------------- */

/* What demultiplexes a datagram or segment to its socket, seen from this
 * host: our address and port, the peer's, the protocol. A socket holds
 * its own (struct ns_sock.flow: wildcards where it is not bound or not
 * connected); a received packet is turned into one (local = its
 * destination) and looked up. */
struct ns_flow {
    struct ns_addr local, remote;
    uint16_t lport, rport; /* host order; a raw socket's lport is its protocol (inet_num) */
    uint16_t proto;        /* IPPROTO_*; a raw socket's may pass 255 (then nothing matches) */
    uint16_t zero;
};

/* The flow of a received IPv4 packet: from src:sport to dst:dport (host
 * order), protocol proto; local is its destination. */
static inline struct ns_flow ns_flow_ip4(uint32_t dst, uint16_t dport, uint32_t src, uint16_t sport,
                                         uint8_t proto)
{
    struct ns_flow f = {.local = ns_addr_ip4(dst), .remote = ns_addr_ip4(src), .lport = dport,
                        .rport = sport, .proto = proto};
    return f;
}

/* The same for an IPv6 packet: from src:sport to dst:dport. */
static inline struct ns_flow ns_flow_ip6(const struct ns_ip6_addr *dst, uint16_t dport,
                                         const struct ns_ip6_addr *src, uint16_t sport,
                                         uint8_t proto)
{
    struct ns_flow f = {.local = {.family = AF_INET6}, .remote = {.family = AF_INET6},
                        .lport = dport, .rport = sport, .proto = proto};
    f.local.u.ip6 = *dst;
    f.remote.u.ip6 = *src;
    return f;
}

/* The keyed hash of a flow: SipHash-2-4 (base/siphash.h) under `key`, a
 * secret of the stack's, so that nobody who does not know it can choose
 * flows that fall into one bucket of a table (hash flooding), and a
 * receive-side steering of packets to queues can later use the same
 * function with the same key. What is hashed, host-independent (as
 * ns_siphash_words takes it): for AF_INET one word of both addresses
 * (host order, local in the high half), for AF_INET6 each address as two
 * big-endian words; then 6 bytes, lport << 32 | rport << 16 | the
 * protocol's low byte. */
struct ns_sipkey;
uint64_t ns_flow_hash(const struct ns_sipkey *key, const struct ns_flow *f);

/* Both ends and both ports equal (the protocol is the caller's). */
static inline bool ns_flow_eq(const struct ns_flow *a, const struct ns_flow *b)
{
    return a->lport == b->lport && a->rport == b->rport && ns_addr_eq(&a->local, &b->local) &&
           ns_addr_eq(&a->remote, &b->remote);
}

#endif
