/* net/net.h — the network layer: IPv4 (net/ipv4.c: input, local delivery,
 * forwarding, output, fragmentation), reassembly (net/ip4_reass.c),
 * routing (net/route.c), ARP, IPv4's neighbour protocol (net/arp.c),
 * ICMPv4 (net/icmp.c); the IPv4 addresses of the interfaces; the IP
 * protocol table transports register in, and the raw sockets' tap.
 *
 * Read first: docs/architecture.md ("Layers", "Policies worth knowing").
 * Transports never are called by name from here: they register a struct
 * ip_protocol under their protocol number (ip_protocol_register), and raw
 * sockets a struct ip_raw_tap (ip_raw_tap_set). The layer below is the
 * link layer (link/link.h), which hands us frames through its ethertype
 * table; ARP sits here rather than there because it resolves IPv4 next
 * hops with IPv4's own addresses and answers its failures with ICMP (as
 * BSD's netinet/if_ether.c and Linux's net/ipv4/arp.c), and NDP will sit
 * next to it, with ICMPv6.
 *
 * IPv4 addresses are host-order uint32_t throughout this layer; the
 * transports' address type (struct ns_addr, base/addr.h) is converted at
 * their boundary.
 */
#ifndef NS_NET_NET_H
#define NS_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/dlist.h"
#include "base/stack.h"
#include "link/link.h"

struct ns_ip4_repr;

/* ---- IPv4 address classes (host order) ---------------------------------------- */

static inline bool ip4_is_multicast(uint32_t a) { return (a >> 28) == 0xe; }
static inline bool ip4_is_loopback(uint32_t a) { return (a >> 24) == 127; }
static inline bool ip4_is_zeronet(uint32_t a) { return (a >> 24) == 0; }
static inline bool ip4_is_limited_bcast(uint32_t a) { return a == 0xffffffffu; }
/* The netmask of a prefix length (0..32), host order. */
static inline uint32_t ip4_prefix_mask(unsigned prefix_len)
{
    return prefix_len == 0 ? 0 : 0xffffffffu << (32 - prefix_len);
}

/* ---- interface addresses --------------------------------------------------------- */

#define NS_IF_ADDR_MAX 8

struct ns_if_addr4 {
    uint32_t addr;      /* host order */
    uint32_t mask;      /* host order */
    uint8_t prefix_len;
    /* RFC 5227 announcements still to send, the next at announce_at_us. */
    uint32_t announce_left;
    uint64_t announce_at_us;
};

/* IPv4 on one interface (Linux in_device). */
struct ip4_ifstate {
    struct ns_if_addr4 addr4[NS_IF_ADDR_MAX];
    unsigned n_addr4;
    /* Fires at the earliest addr4[].announce_at_us still pending (arp.c). */
    struct ns_timer announce_timer;
};

/* ---- routing (net/route.c) ---------------------------------------------------------- */

#define NS_ROUTE_MAX 64

struct ns_route4 {
    uint32_t dst;   /* network, host order, masked */
    uint32_t mask;
    uint8_t prefix_len;
    uint32_t gw;    /* 0 = on-link */
    int ifindex;
    bool connected; /* created by an address, removed with it */
};

struct ns_route_table4 {
    struct ns_route4 r[NS_ROUTE_MAX];
    unsigned n;     /* kept sorted by prefix_len, longest first */
};

/* ---- ARP's neighbour cache (net/arp.c) --------------------------------------------- */

struct arp_entry;

struct arp_cache {
    struct arp_entry **buckets;   /* hash on (ifindex, ip) */
    uint32_t nbuckets;            /* power of two */
    uint32_t count;
    struct ns_dlist lru;          /* most recently used first; the tail is evicted first */
    uint32_t unres;               /* entries being resolved (<= cfg.arp_unres_max) */
    /* Entries holding packets, in the order they started (the head drops
     * first when all hold queues together are full), and the totals. */
    struct ns_dlist holding;
    uint64_t hold_bytes;          /* buffer bytes (pb->cap), <= cfg.arp_queue_total_bytes */
    uint32_t hold_pkts;
};

/* ---- what transports register ------------------------------------------------------ */

/* A transport protocol, under its protocol number: one entry for both IP
 * versions, since IPv4's protocol and IPv6's next header are one number
 * space (IANA "Assigned Internet Protocol Numbers"). IPv6 will add
 * input6/err6 beside input4/err4 (ICMPv6, number 58, registers those
 * alone; TCP and UDP both pairs); a datagram finds only the entry points
 * of its own version, and a NULL one is an unknown protocol. */
struct ip_protocol {
    /* An IPv4 datagram for us (reassembled): pb at the transport header,
     * pb->len the transport length, ip the parsed IPv4 header. Consumes pb. */
    void (*input4)(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip4_repr *ip,
                   struct ns_pbuf *pb);
    /* An ICMPv4 error quoting a datagram of this protocol that we sent:
     * `from` (host order) sent the error (our own address when it arose
     * here, e.g. ARP failed), `inner` is the quoted IPv4 header, `payload`
     * the first bytes of the quoted transport header. */
    void (*err4)(struct ns_stack *st, uint32_t from, uint8_t type, uint8_t code, uint32_t info,
                 const struct ns_ip4_repr *inner, const uint8_t *payload, size_t payload_len);
};

/* Raw sockets' view of every datagram (raw(7)): set by raw/raw.c while
 * raw sockets exist, so that a stack without any pays one test per
 * datagram and no call. */
struct ip_raw_tap {
    /* A copy of a datagram for local delivery, before its protocol (pb at
     * the IPv4 header; not consumed). True when a raw socket took it. */
    bool (*deliver4)(struct ns_stack *st, const struct ns_ip4_repr *ip, const struct ns_pbuf *pb);
    /* An ICMP error quoting `inner`. */
    void (*err4)(struct ns_stack *st, uint8_t type, uint8_t code, const struct ns_ip4_repr *inner);
};

/* ---- the egress decision ------------------------------------------------------------------ */

/* Where datagrams to one destination leave, decided once and kept by the
 * one who sends them (a connection, a connected socket): the route's
 * interface and next hop, or the loopback for an address of this host,
 * and the source address for them. The interface's device gives its MTU
 * and offloads (read through ifp->dev at each use: a device may change
 * them, as a simulated port's MTU follows its link's parameters, and
 * Linux too reads dst->dev->mtu when no learned path MTU applies). The
 * decision holds while net_state.egress_gen is what it was: every change
 * of the routes, the addresses or the interfaces increments it. */
struct ip_egress {
    uint32_t gen;          /* egress_gen when decided; 0: never decided */
    uint32_t dst;          /* the destination decided for (host order) */
    int err;               /* 0, or -ENETUNREACH: no route */
    bool local;            /* an address of this host: through the loopback */
    struct ns_iface *ifp;  /* the outgoing interface (NULL when err) */
    uint32_t nexthop;      /* the gateway, or dst itself (host order) */
    uint32_t src;          /* the source a datagram without one gets (host order) */
};

/* ---- the network layer's state (st->net) --------------------------------------------- */

struct ip4_reass_state;

struct net_state {
    struct ip4_ifstate ifs[NS_IF_MAX];  /* by ifindex - 1 */
    struct ns_route_table4 routes4;
    struct arp_cache arp;
    struct ip4_reass_state *reass;
    uint16_t ip_id_next;
    const struct ip_protocol *protocols[256];
    const struct ip_raw_tap *raw_tap;   /* NULL: no raw sockets */
    /* ICMP error token bucket (RFC 1812 §4.3.2.8, Linux icmp_msgs_per_sec). */
    uint64_t icmp_tokens;               /* millionths of a token */
    uint64_t icmp_tokens_at_us;
    ns_echo_fn echo_fn;
    void *echo_ctx;
    /* Incremented by every change of routes, addresses or interfaces
     * (ip_egress_invalidate): egress decisions of older generations are
     * made again. Never 0 (a zeroed struct ip_egress is undecided). */
    uint32_t egress_gen;
    /* How often an egress was decided and the routing table searched
     * (tests: the packet path does neither for a kept decision). */
    uint64_t egress_decisions;
    uint64_t route4_lookups;
};

/* Allocate st->net (draws the first IPv4 ID from the stack's generator),
 * register IPv4 and ARP with the link layer and ICMP in the protocol
 * table. 0 or -ENOMEM. */
int net_init(struct ns_stack *st);
/* Cancel the announcements, drop what reassembly and ARP hold, free st->net. */
void net_destroy(struct ns_stack *st);

/* Register `p` (static storage) for IP protocol number `proto`,
 * replacing any earlier one. Called by the transports' init. */
void ip_protocol_register(struct ns_stack *st, uint8_t proto, const struct ip_protocol *p);
/* Set (or with NULL remove) the raw sockets' tap. */
void ip_raw_tap_set(struct ns_stack *st, const struct ip_raw_tap *tap);

/* ---- IPv4 (net/ipv4.c) -------------------------------------------------------------- */

/* An IPv4 packet (link header already removed) received on ifp. Consumes pb. */
void ip4_input(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb);

/* Parameters of a locally originated packet. */
struct ip4_out {
    uint32_t src;   /* 0: choose the address of the outgoing interface */
    uint32_t dst;
    uint8_t proto;
    uint8_t ttl;    /* 0: default */
    uint8_t tos;
    bool df;
};

/* Build the IPv4 header in front of pb's data (the transport payload),
 * route, fragment if needed and send. Consumes pb. Returns 0 or
 * -ENETUNREACH / -EMSGSIZE (DF and too big) / -ENOBUFS, or -EAGAIN when
 * pb carries NS_PBUF_F_TX_DEFER and a full device queue refused it (not
 * sent: if_xmit). */
int ip4_output(struct ns_stack *st, const struct ip4_out *o, struct ns_pbuf *pb);

/* Decide the egress to dst now (net_state.egress_decisions counts it):
 * an address of this host or of 127/8 leaves through the loopback, with
 * 127.0.0.1 as source for the loopback range and the address itself
 * otherwise (Linux's local table); anything else by the longest matching
 * route, from the outgoing interface's address for dst (RFC 1122
 * §3.3.4.3), or err -ENETUNREACH. */
void ip4_egress_decide(struct ns_stack *st, uint32_t dst, struct ip_egress *eg);
/* The egress to dst kept in eg, decided again only when it was for
 * another destination or an older generation: the per-packet path of a
 * connection. */
static inline const struct ip_egress *ip4_egress(struct ns_stack *st, struct ip_egress *eg,
                                                 uint32_t dst)
{
    if (eg->gen != st->net->egress_gen || eg->dst != dst)
        ip4_egress_decide(st, dst, eg);
    return eg;
}
/* Routes, addresses or interfaces changed: every kept egress is stale. */
void ip_egress_invalidate(struct ns_stack *st);

/* ip4_output with the egress decided already (eg, for o->dst): no
 * route is looked up. Same contract; eg->err is -ENETUNREACH (counted as
 * ip_drop_no_route). */
int ip4_output_via(struct ns_stack *st, const struct ip_egress *eg, const struct ip4_out *o,
                   struct ns_pbuf *pb);

/* Route and transmit a complete IPv4 packet (header included), fragmenting
 * to the interface MTU when DF is clear. Used by forwarding and raw
 * IP_HDRINCL. Consumes pb. */
int ip4_send_packet(struct ns_stack *st, struct ns_pbuf *pb, int ifindex, uint32_t nexthop);
/* The same on the interface ifp (NULL: no route, counted). */
int ip4_send_packet_if(struct ns_stack *st, struct ns_pbuf *pb, struct ns_iface *ifp,
                       uint32_t nexthop);

/* The next IPv4 ID (RFC 6864 §4.1: a per-stack counter from a random
 * start), for a header the caller writes itself (raw IP_HDRINCL). */
uint16_t ip4_next_id(struct ns_stack *st);

/* Is addr one of ours (any interface) or a broadcast we accept? */
bool ip4_is_local(const struct ns_stack *st, uint32_t addr);
bool ip4_is_broadcast(const struct ns_stack *st, uint32_t addr);
/* The source address for a datagram to dst, an address of this host
 * (local or 127/8): 127.0.0.1 for the loopback range, else dst itself. */
uint32_t ip4_local_source(const struct ns_stack *st, uint32_t dst);
/* The primary address of interface ifindex for reaching dst, or 0. */
uint32_t ip4_source_for(const struct ns_stack *st, int ifindex, uint32_t dst);
/* Is a one of the addresses of interface ifindex? */
bool ip4_if_has_addr(const struct ns_stack *st, int ifindex, uint32_t a);

/* Add address a/prefix_len (host order) to interface ifp: its connected
 * route, and RFC 5227 announcements on Ethernet. 0, -EINVAL (0,
 * multicast, limited broadcast), -EEXIST (on any interface already),
 * -ENOSPC (NS_IF_ADDR_MAX), or route4_add's error. */
int ip4_addr_add(struct ns_stack *st, struct ns_iface *ifp, uint32_t a, unsigned prefix_len);
/* The IPv4 state of interface ifindex (1..NS_IF_MAX). */
static inline struct ip4_ifstate *ip4_ifstate(struct ns_stack *st, int ifindex)
{
    return &st->net->ifs[ifindex - 1];
}

/* ---- reassembly (net/ip4_reass.c) ---------------------------------------------------- */

/* Reassembly (RFC 815 spirit, Linux overlap policy). Takes a fragment (pb
 * holds the whole IPv4 packet), returns a complete datagram pbuf when this
 * fragment finished one, else NULL. Consumes pb. */
struct ns_pbuf *ip4_reass(struct ns_stack *st, struct ns_pbuf *pb);
/* Allocate the reassembly state (0 or -ENOMEM); drop what it holds and
 * free it. Called by net_init and net_destroy. */
int ip4_reass_init(struct ns_stack *st);
void ip4_reass_destroy(struct ns_stack *st);
/* Bytes and datagrams currently held (tests). */
uint64_t ip4_reass_mem(const struct ns_stack *st);
uint32_t ip4_reass_count(const struct ns_stack *st);

/* ---- routing (net/route.c) -------------------------------------------------------------- */

/* Longest-prefix match for dst. On success fills *ifindex and *nexthop
 * (the gateway, or dst itself when on-link) and returns 0; -ENETUNREACH
 * otherwise. */
int route4_lookup(struct ns_stack *st, uint32_t dst, int *ifindex, uint32_t *nexthop);
/* Add a route (dst masked to prefix_len; gw 0: on-link): 0, -EEXIST for
 * the same prefix, -ENOSPC when the table is full. Adding and removing
 * invalidate every kept egress. */
int route4_add(struct ns_stack *st, uint32_t dst, unsigned prefix_len, uint32_t gw, int ifindex,
               bool connected);
/* Remove the route of this prefix: 0 or -ESRCH. */
int route4_del(struct ns_stack *st, uint32_t dst, unsigned prefix_len);

/* ---- ARP (net/arp.c) ---------------------------------------------------------------------- */

/* Allocate the neighbour cache's buckets (cfg.arp_cache_max): 0 or
 * -ENOMEM; remove every entry (held packets dropped, no ICMP) and free
 * them. Called by net_init and net_destroy. */
int arp_init(struct ns_stack *st);
void arp_destroy(struct ns_stack *st);
/* Handle an ARP packet (Ethernet payload) received on ifp. Consumes pb. */
void arp_input(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb);
/* Send the IPv4 packet pb to nexthop on an Ethernet interface: resolve the
 * MAC (queueing pb while resolution is pending), prepend the Ethernet
 * header and transmit. Consumes pb. Returns 0 (sent or queued) or -errno
 * (dropped, counted). */
int arp_output(struct ns_stack *st, struct ns_iface *ifp, uint32_t nexthop, struct ns_pbuf *pb);
/* Start RFC 5227 announcements for a newly added address. */
void arp_announce(struct ns_stack *st, struct ns_iface *ifp, uint32_t addr);
/* Look up a resolved entry (tests, introspection): 0 and the MAC, or -ENOENT. */
int arp_lookup(const struct ns_stack *st, int ifindex, uint32_t ip, uint8_t mac[6]);
/* The ARP part of ns_stack_usage(). */
void arp_usage(const struct ns_stack *st, struct ns_stack_usage *out);

/* ---- ICMPv4 (net/icmp.c) ---------------------------------------------------------------- */

/* Register ICMP in the protocol table (net_init). */
void icmp4_init(struct ns_stack *st);
/* Send an ICMP error about the packet `orig` (whole IPv4 packet, header
 * first). Applies the RFC 1122 §3.2.2 rules (never about an ICMP error,
 * a broadcast, a non-first fragment or a martian source) and the rate
 * limit. Does not consume orig. */
void icmp4_send_error(struct ns_stack *st, const struct ns_pbuf *orig, uint8_t type, uint8_t code,
                      uint32_t info);

#endif
