/* net/net.h — the network layer: IPv4 (net/ipv4.c: input, local delivery,
 * forwarding, output, fragmentation), reassembly (net/reass.c),
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
#include <string.h>

#include "base/addr.h"
#include "base/dlist.h"
#include "base/stack.h"
#include "link/link.h"
#include "wire/ipv6.h"

struct ns_ip4_repr;
struct ns_ip6_repr;
struct ns_icmp6_repr;

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

/* The packets one neighbour (IPv4's or IPv6's) holds while it is being
 * resolved. Every hold queue counts against one pair of byte caps, ARP's
 * (cfg.arp_queue_bytes per neighbour, cfg.arp_queue_total_bytes in all). */
struct neigh_hold {
    struct ns_pbuf_queue q;
    uint32_t bytes;              /* buffer bytes (pb->cap) */
    /* While q is not empty: on arp_cache.holding, in the order the
     * neighbours started holding (the head waited longest). */
    struct ns_dlink link;
};

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
    /* An IPv6 datagram for us (reassembled, extension headers processed):
     * pb at the upper-layer header, pb->len its length, pb->ifindex the
     * receiving interface, pb->l3_off the IPv6 header; `ip` is the fixed
     * header with next_hdr set to this protocol and payload_len to
     * pb->len (so the pseudo-header is ip->src, ip->dst, pb->len, proto).
     * Consumes pb. */
    void (*input6)(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                   struct ns_pbuf *pb);
    /* An ICMPv6 error (RFC 4443 §3) quoting an IPv6 datagram of this
     * protocol that we sent: `from` sent it (ours when it arose here),
     * type/code/info (the MTU of a Packet Too Big, the pointer of a
     * Parameter Problem), `inner` the quoted fixed header with next_hdr
     * set to this protocol, `payload` the quoted bytes of its upper-layer
     * header (after the quoted extension headers). */
    void (*err6)(struct ns_stack *st, const struct ns_ip6_addr *from, uint8_t type, uint8_t code,
                 uint32_t info, const struct ns_ip6_repr *inner, const uint8_t *payload,
                 size_t payload_len);
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
    /* IPv6 (raw(7) for AF_INET6, Linux raw6): a copy of a datagram for
     * local delivery before its protocol, pb at the upper-layer header
     * (raw IPv6 sockets never see the IPv6 header), ip as for
     * ip_protocol.input6. Not consumed; true when a raw socket took it.
     * NULL: no IPv6 raw sockets. */
    bool (*deliver6)(struct ns_stack *st, const struct ns_ip6_repr *ip, const struct ns_pbuf *pb);
    /* An ICMPv6 error (or the stack's own, neighbour discovery failing)
     * quoting `inner`, next_hdr its upper layer. */
    void (*err6)(struct ns_stack *st, uint8_t type, uint8_t code, const struct ns_ip6_repr *inner);
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
    /* IPv6 (ip6_egress_decide; the IPv4 fields above are then unused): */
    bool v6;
    int oif;               /* the interface asked for (a link-local or
                              multicast destination's scope id), 0: none */
    struct ns_ip6_addr dst6, nexthop6, src6; /* src6 :: when the interface has
                                                no usable address */
};

/* ---- the network layer's state (st->net) --------------------------------------------- */

struct reass_table;
struct ip6_state;
struct ac_state;

struct net_state {
    struct ip4_ifstate ifs[NS_IF_MAX];  /* by ifindex - 1 */
    /* Bit i set: ifs[i] holds an IPv4 address. The per-packet scans
     * (ip4_is_local, ip4_is_broadcast) visit only those slots, not all
     * NS_IF_MAX (addresses are never removed, so bits are only set). */
    uint32_t addr4_ifs;
    _Static_assert(NS_IF_MAX <= 32, "addr4_ifs is one bit per interface");
    struct ip6_state *ip6;              /* IPv6 (net/ipv6.c): NULL until first enabled */
    struct ac_state *ac;                /* IPv6 autoconfiguration (net/autoconf.c) */
    struct ns_route_table4 routes4;
    struct arp_cache arp;
    struct reass_table *reass;        /* IPv4's */
    uint16_t ip_id_next;
    const struct ip_protocol *protocols[256];
    const struct ip_raw_tap *raw_tap;   /* NULL: no raw sockets */
    /* ICMP error token bucket (RFC 1812 §4.3.2.8, Linux icmp_msgs_per_sec). */
    uint64_t icmp_tokens;               /* millionths of a token */
    uint64_t icmp_tokens_at_us;
    ns_echo_fn echo_fn;
    void *echo_ctx;
    /* Transparent sockets (IP_TRANSPARENT catch-alls) open now: while
     * there is one, unicast packets to addresses not ours are delivered
     * locally, marked NS_PBUF_F_NONLOCAL, instead of being dropped. */
    uint32_t transparent_socks;
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
    if (eg->gen != st->net->egress_gen || eg->dst != dst || eg->v6)
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

/* A transparent socket opens (delta 1) or closes (-1): see
 * net_state.transparent_socks. */
void ip_transparent_ref(struct ns_stack *st, int delta);

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

/* ---- reassembly (net/reass.c: one core for IPv4 and IPv6) ----------------------------- */

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
/* Hold pb on h within the shared caps (drop: the counter of h's own
 * bound). Consumes pb. */
void neigh_hold_push(struct ns_stack *st, struct neigh_hold *h, struct ns_pbuf *pb,
                     enum ns_counter drop);
/* h's oldest packet, or NULL. */
struct ns_pbuf *neigh_hold_pop(struct ns_stack *st, struct neigh_hold *h);
/* Move everything h holds to out (h empty after; the caps released). */
void neigh_hold_detach(struct ns_stack *st, struct neigh_hold *h, struct ns_pbuf_queue *out);
/* Start RFC 5227 announcements for a newly added address. */
void arp_announce(struct ns_stack *st, struct ns_iface *ifp, uint32_t addr);
/* Look up a resolved entry (tests, introspection): 0 and the MAC, or -ENOENT. */
int arp_lookup(const struct ns_stack *st, int ifindex, uint32_t ip, uint8_t mac[6]);
/* Set ip's MAC on ifindex as if an ARP reply had just said so (the entry
 * created when missing, an older MAC replaced, held packets sent):
 * ns_neigh_set's IPv4 half. 0 or -ENOMEM. */
int arp_set(struct ns_stack *st, int ifindex, uint32_t ip, const uint8_t mac[6]);
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
/* The stack-wide ICMP error token bucket (icmp_rate_per_s, icmp_rate_burst;
 * Linux icmp_global_allow, which ICMPv6 shares): true and one token
 * taken, or false. */
bool icmp_rate_allow(struct ns_stack *st);

/* ==== IPv6 (net/ipv6.c, net/route6.c, net/icmp6.c, net/ndisc.c, net/reass.c) ==== */

/* IPv6 on an interface starts only when asked (ip6_enable, or adding an
 * IPv6 address): an interface nobody asked for sends and accepts no IPv6
 * at all, so IPv4-only worlds are byte for byte what they were. Enabling
 * it joins all-nodes (ff02::1) and, on Ethernet, adds the link-local
 * address fe80::/64 from the EUI-64 of the MAC (RFC 4291 §2.5.1, RFC 4862
 * §5.3) unless cfg-less callers asked otherwise (ip6_enable's flag). */

#define NS_IF_ADDR6_MAX 16          /* Linux max_addresses */
#define NS_IP6_MIN_MTU 1280         /* RFC 8200 §5 */
#define NS_IP6_DEFAULT_HOPS 64      /* Linux hop_limit */
#define NS_ROUTE6_MAX 64
#define NS_IF_MCAST6_MAX 16         /* IPv6 groups joined per interface */

/* Address flags (struct ns_if_addr6.flags). */
#define IP6_ADDR_TENTATIVE 0x01     /* RFC 4862 §5.4: being checked by DAD; not a
                                       source, not answered for (NS/NA), not
                                       accepted as a destination */
#define IP6_ADDR_DEPRECATED 0x02    /* RFC 4862 §5.5.4: not chosen as a source */
#define IP6_ADDR_AUTOCONF 0x04      /* made by SLAAC */
#define IP6_ADDR_NOROUTE 0x08       /* add no connected route for its prefix */

struct ns_if_addr6 {
    struct ns_ip6_addr addr;
    uint8_t prefix_len;
    uint8_t flags;                  /* IP6_ADDR_* */
    uint64_t valid_until_us;        /* 0: forever (lifetimes are v6auto's) */
    uint64_t preferred_until_us;    /* 0: forever */
};

/* An IPv6 multicast group joined on an interface, with its users. */
struct ns_if_mcast6 {
    struct ns_ip6_addr group;
    uint16_t users;
};

/* IPv6 on one interface (Linux inet6_dev). */
struct ip6_ifstate {
    bool enabled;
    struct ns_if_addr6 addr[NS_IF_ADDR6_MAX];
    unsigned n_addr;
    struct ns_if_mcast6 mc[NS_IF_MCAST6_MAX];
    unsigned n_mc;
    uint32_t mtu;                   /* IPv6 link MTU (an RA's MTU option); 0: the device's */
    uint8_t hop_limit;              /* an RA's Cur Hop Limit; 0: NS_IP6_DEFAULT_HOPS */
    /* Neighbour Discovery (RFC 4861 §6.3.2, §10; an RA may change them) */
    uint64_t retrans_us;            /* RetransTimer: 1 s */
    uint64_t base_reachable_us;     /* BaseReachableTime: 30 s */
    uint64_t reachable_us;          /* ReachableTime: base x [0.5, 1.5), drawn again
                                       when base changes and every 300 s (Linux
                                       neigh_periodic_work) */
    uint64_t reachable_drawn_us;
};

/* A route (RFC 4861 §5.1 prefix list and default router list become
 * routes here, as on Linux). Prefixes are struct ns_addr (AF_INET6). */
struct ns_route6 {
    struct ns_addr dst;             /* masked to prefix_len */
    uint8_t prefix_len;
    struct ns_addr gw;              /* AF_UNSPEC: on-link */
    int ifindex;
    uint32_t metric;                /* lower wins between equal prefixes (Linux 256 static,
                                       1024 RA) */
    uint8_t flags;                  /* ROUTE6_F_* */
    uint64_t expires_us;            /* 0: never (lifetimes are the owner's to enforce) */
};
#define ROUTE6_F_CONNECTED 0x01     /* made by an address, removed with it */
#define ROUTE6_F_RA 0x02            /* learned from a Router Advertisement */

/* An ICMPv6 message for us, of the type registered (icmp6_register):
 * ifp the receiving interface, ip the IPv6 header (next_hdr 58,
 * payload_len the ICMPv6 length), m the parsed message with its checksum
 * verified, pb at the ICMPv6 header (pb->len its length; pb->flags has
 * NS_PBUF_F_L2_BCAST for link-layer multicast). pb is not consumed. */
typedef void (*icmp6_handler_fn)(struct ns_stack *st, struct ns_iface *ifp,
                                 const struct ns_ip6_repr *ip, const struct ns_icmp6_repr *m,
                                 const struct ns_pbuf *pb);

/* What the layers beside IPv6 (autoconfiguration, MLD) hear about. */
struct ip6_hooks {
    /* IPv6 was turned on on ifp (its link-local is there already). */
    void (*if_enabled)(struct ns_stack *st, struct ns_iface *ifp);
    /* An address was added (a: its entry) or is being removed. */
    void (*addr_added)(struct ns_stack *st, struct ns_iface *ifp, const struct ns_if_addr6 *a);
    void (*addr_removed)(struct ns_stack *st, struct ns_iface *ifp, const struct ns_if_addr6 *a);
    /* A group was joined for the first time / left by its last user. */
    void (*mc_joined)(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *g);
    void (*mc_left)(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *g);
    /* Duplicate Address Detection's evidence (RFC 4862 §5.4.3, §5.4.4):
     * an NS for a tentative address of ours (from_ns; dad_probe: its
     * source is ::, another node's DAD), or an NA for any address of ours
     * (a: the address). Without the hook these are counted
     * (nd_dad_conflict) and otherwise ignored. */
    void (*dad_event)(struct ns_stack *st, struct ns_iface *ifp, struct ns_if_addr6 *a,
                      bool from_ns, bool dad_probe);
};

struct nd_table;
struct reass_table;
struct pmtu6_entry;

#define NS_PMTU6_MAX 256            /* destinations with a learned path MTU */
#define NS_ICMP6_RL_MAX 256         /* destinations with an ICMPv6 rate-limit bucket */
#define NS_FRAG6_ID_MAX 256         /* destinations with a fragment ID counter */

/* IPv6's state (st->net->ip6). */
struct ip6_state {
    struct ip6_ifstate ifs[NS_IF_MAX];   /* by ifindex - 1 */
    struct ns_route6 routes[NS_ROUTE6_MAX];
    unsigned n_routes;                   /* sorted: longest prefix, then metric, first */
    icmp6_handler_fn icmp6[256];         /* by type (icmp6_register) */
    struct ip6_hooks hooks;
    bool keyed;                          /* flow_key drawn (at the first enable) */
    uint8_t flow_key[16];                /* RFC 6437 §3 flow label hash, fragment IDs */
    struct nd_table *nd;
    struct reass_table *reass;
    /* Path MTU per destination (RFC 8201 §5.3), and ICMPv6 error rate
     * limit per destination (RFC 4443 §2.4 (f), Linux icmpv6_xrlim_allow),
     * fragment IDs per destination (Linux ipv6_select_ident): small
     * direct-mapped tables, a new destination replacing the slot's old one. */
    struct pmtu6 {
        struct ns_ip6_addr dst;
        uint32_t mtu;
        uint64_t expires_us;
    } pmtu[NS_PMTU6_MAX];
    struct icmp6_rl {
        struct ns_ip6_addr dst;
        uint64_t last_us;
        bool used;
    } rl[NS_ICMP6_RL_MAX];
    struct frag6_id {
        struct ns_ip6_addr dst;
        uint32_t next;
        bool used;
    } frag_id[NS_FRAG6_ID_MAX];
};

/* Allocate st->net->ip6 (nothing drawn from the generator, no frame
 * sent): net_init. ip6_destroy: net_destroy. */
int ip6_init(struct ns_stack *st);
void ip6_destroy(struct ns_stack *st);

/* The IPv6 state of interface ifindex (1..NS_IF_MAX). */
static inline struct ip6_ifstate *ip6_ifstate(struct ns_stack *st, int ifindex)
{
    return &st->net->ip6->ifs[ifindex - 1];
}
static inline bool ip6_enabled(const struct ns_stack *st, int ifindex)
{
    return ifindex >= 1 && ifindex <= NS_IF_MAX && st->net->ip6->ifs[ifindex - 1].enabled;
}

/* Turn IPv6 on on ifp (nothing happens when it is on already): join
 * ff02::1; on Ethernet, add fe80::<EUI-64>/64 unless `no_linklocal`
 * (autoconfiguration adds its own, RFC 7217); on the loopback, add ::1/128.
 * Then the if_enabled hook. 0 or ip6_addr_add's error. */
int ip6_enable(struct ns_stack *st, struct ns_iface *ifp, bool no_linklocal);
/* Add a/prefix_len to ifp (enabling IPv6 there first, with its
 * link-local): joins a's solicited-node group (RFC 4861 §7.2.1), adds the
 * on-link route of its prefix (not for /128, nor with IP6_ADDR_NOROUTE),
 * invalidates every kept egress, calls addr_added. 0, -EINVAL (::,
 * multicast, v4-mapped, ::1 off the loopback, prefix over 128), -EEXIST
 * (on this interface already), -ENOSPC (NS_IF_ADDR6_MAX). */
int ip6_addr_add(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *a,
                 unsigned prefix_len, uint8_t flags);
/* Remove a from ifp: its connected route, its solicited-node group; the
 * addr_removed hook first. 0 or -EADDRNOTAVAIL. */
int ip6_addr_del(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *a);
/* The entry of a on interface ifindex (0: any interface), or NULL. */
struct ns_if_addr6 *ip6_addr_find(struct ns_stack *st, int ifindex, const struct ns_ip6_addr *a);
/* Is a an address of this host that may be a destination (not tentative)? */
bool ip6_is_local(struct ns_stack *st, const struct ns_ip6_addr *a);
/* The source for dst leaving through interface ifindex (RFC 6724 §5,
 * the rules that apply to a host without policy: same address, scope,
 * avoid deprecated, longest matching prefix), false when the interface
 * has no usable address. */
bool ip6_source_for(struct ns_stack *st, int ifindex, const struct ns_ip6_addr *dst,
                    struct ns_ip6_addr *out);
/* Join / leave group g on ifp (counted per user): the link-layer MAC
 * (RFC 2464 §7) and, the first time / the last, the mc_joined / mc_left
 * hooks. 0, -ENOSPC, -ENOENT (leave of a group not joined). */
int ip6_mc_join(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *g);
int ip6_mc_leave(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *g);
bool ip6_mc_joined(struct ns_stack *st, int ifindex, const struct ns_ip6_addr *g);
/* Set the hooks (static storage or copied: copied). */
void ip6_hooks_set(struct ns_stack *st, const struct ip6_hooks *h);

/* ---- IPv6 routes (net/route6.c) ---- */

/* Add a route (dst masked to prefix_len): 0, -EINVAL (not AF_INET6,
 * prefix over 128, no interface), -EEXIST (same prefix, gateway and
 * interface), -ENOSPC. Invalidates every kept egress. */
int route6_add(struct ns_stack *st, const struct ns_route6 *r);
/* Remove the route of prefix dst/prefix_len on ifindex (0: any) with
 * gateway gw (NULL: any): 0 or -ESRCH. */
int route6_del(struct ns_stack *st, const struct ns_addr *dst, unsigned prefix_len,
               const struct ns_addr *gw, int ifindex);
/* Longest prefix match (then lowest metric) for dst among routes of
 * interface oif (0: all; Linux: a link-local or multicast destination
 * needs its scope id, and then any interface with IPv6 is on-link for it).
 * Fills *ifindex and *nexthop (the gateway, or dst) and returns 0;
 * -ENETUNREACH otherwise. */
int route6_lookup(struct ns_stack *st, const struct ns_ip6_addr *dst, int oif, int *ifindex,
                  struct ns_ip6_addr *nexthop);

/* ---- IPv6 input and output (net/ipv6.c) ---- */

/* An IPv6 packet (link header removed) received on ifp: RFC 8200 checks,
 * extension headers, reassembly, delivery through the IP protocol table
 * (input6) and the raw tap (deliver6). Every drop counted. Consumes pb. */
void ip6_input(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb);

/* Parameters of a locally originated IPv6 datagram. */
struct ip6_out {
    struct ns_ip6_addr src;   /* ::: the egress's source */
    struct ns_ip6_addr dst;
    uint8_t proto;            /* next header of the payload */
    uint8_t hop_limit;        /* used when hop_limit_set (IPV6_UNICAST_HOPS) */
    bool hop_limit_set;       /* else: the interface's (64; 255 is the caller's
                                 for NDP) */
    uint8_t tclass;
    uint32_t flow_label;      /* 0: RFC 6437 hash of the flow (addresses,
                                 protocol, TCP/UDP ports) */
    int oif;                  /* scope id / bound interface; 0: by route */
    bool dontfrag;            /* IPV6_DONTFRAG: -EMSGSIZE rather than fragment */
    bool unspec_src;          /* send from :: (RFC 4862 §5.4.2: DAD's NS), not
                                 from the egress's source */
    /* Extension headers to put between the fixed header and the payload
     * (MLD's Hop-by-Hop header with Router Alert, RFC 3810 §5): ext_len
     * bytes, the first of type ext_type, the last naming `proto`. */
    uint8_t ext_type;
    const uint8_t *ext;
    size_t ext_len;
};

/* Decide the egress to dst for interface oif (0: by route) now: an
 * address of this host or ::1 through the loopback; a link-local or
 * multicast destination on oif (-ENETUNREACH without one, unless the host
 * has exactly one interface with IPv6 enabled beside the loopback);
 * anything else by route6_lookup; the source by ip6_source_for. */
void ip6_egress_decide(struct ns_stack *st, const struct ns_ip6_addr *dst, int oif,
                       struct ip_egress *eg);
/* The kept decision, made again when stale or for another destination. */
static inline const struct ip_egress *ip6_egress(struct ns_stack *st, struct ip_egress *eg,
                                                 const struct ns_ip6_addr *dst, int oif)
{
    if (eg->gen != st->net->egress_gen || !eg->v6 || eg->oif != oif ||
        memcmp(eg->dst6.b, dst->b, 16) != 0)
        ip6_egress_decide(st, dst, oif, eg);
    return eg;
}
/* The kept egress to dst of either family (ip4_egress or ip6_egress;
 * oif only for IPv6, where it is the zone of a link-scoped destination). */
static inline const struct ip_egress *ip_egress_for(struct ns_stack *st, struct ip_egress *eg,
                                                    const struct ns_addr *dst, int oif)
{
    if (dst->family == AF_INET6)
        return ip6_egress(st, eg, &dst->u.ip6, oif);
    return ip4_egress(st, eg, ns_addr_to_ip4(dst));
}
/* The source an egress gives datagrams without one, as an ns_addr of
 * the egress's family (:: when an IPv6 interface has no usable address). */
static inline struct ns_addr ip_egress_src(const struct ip_egress *eg)
{
    if (!eg->v6)
        return ns_addr_ip4(eg->src);
    struct ns_addr a = {.family = AF_INET6};
    a.u.ip6 = eg->src6;
    return a;
}
/* Build the IPv6 header in front of pb's data (the upper-layer packet,
 * its checksum done or NS_PBUF_F_CSUM_PARTIAL), fragment to the path MTU
 * (RFC 8200 §4.5: only the source fragments; -EMSGSIZE with dontfrag or
 * for GSO) and send: on Ethernet through neighbour discovery. Consumes
 * pb. 0, -ENETUNREACH, -EMSGSIZE, -ENOBUFS, -EADDRNOTAVAIL (no source),
 * -EAGAIN as ip4_output_via. */
int ip6_output_via(struct ns_stack *st, const struct ip_egress *eg, const struct ip6_out *o,
                   struct ns_pbuf *pb);
/* Send pb, a whole IPv6 packet its sender wrote (pb at the IPv6 header;
 * raw IPV6_HDRINCL, Linux rawv6_send_hdrinc), as it is — no field filled
 * in, never fragmented — out of eg's interface to its next hop. Consumes
 * pb. 0, eg->err (-ENETUNREACH), or the link's error. */
int ip6_send_packet_via(struct ns_stack *st, const struct ip_egress *eg, struct ns_pbuf *pb);
/* ip6_output_via with an egress decided for this datagram alone. */
int ip6_output(struct ns_stack *st, const struct ip6_out *o, struct ns_pbuf *pb);
/* The MTU for datagrams to dst leaving by ifp: the path MTU learned
 * (RFC 8201), else the interface's IPv6 MTU; never below 1280. */
uint32_t ip6_path_mtu(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *dst);
/* The RFC 6437 flow label of a flow (20 bits, never 0). */
uint32_t ip6_flow_label(struct ns_stack *st, const struct ns_ip6_addr *src,
                        const struct ns_ip6_addr *dst, uint8_t proto, uint16_t sport,
                        uint16_t dport);

/* ---- ICMPv6 (net/icmp6.c) ---- */

/* Register ICMPv6 (58) in the protocol table and echo, the errors and
 * NDP's NS/NA in the type table (ip6_init). */
void icmp6_init(struct ns_stack *st);
/* Take ICMPv6 messages of `type` (replacing any handler; NULL removes
 * it). Echo Request and Reply, the errors and NS/NA are registered by this layer;
 * RS, RA, Redirect and MLD are free for autoconfiguration. */
void icmp6_register(struct ns_stack *st, uint8_t type, icmp6_handler_fn fn);
/* Send an ICMPv6 error about orig (the invoking packet, pb at its IPv6
 * header) per RFC 4443 §2.4 (e) (ns_icmp6_error_allowed) and the rate
 * limit (§2.4 (f), Linux: icmpv6_time 1000 ms per destination for the
 * types in icmpv6 ratemask, 0-127 but Packet Too Big). Not consumed. */
void icmp6_send_error(struct ns_stack *st, const struct ns_pbuf *orig, uint8_t type, uint8_t code,
                      uint32_t info);
/* Send the ICMPv6 message msg (len bytes; its checksum is computed here)
 * from src to dst out of ifp (NULL: by route) with hop limit `hops` (0:
 * the interface's): src NULL chooses the egress's source (-EADDRNOTAVAIL
 * without one), src :: sends from :: (DAD). For NDP (hop limit 255);
 * MLD, which needs a Hop-by-Hop header, uses ip6_output's ext. 0 or
 * ip6_output's error. */
int icmp6_send(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *src,
               const struct ns_ip6_addr *dst, uint8_t hops, const uint8_t *msg, size_t len);

/* ---- IPv6 reassembly (net/reass.c) and path MTU (net/icmp6.c) ---- */

/* A fragment (pb the whole packet at its IPv6 header, ip its header, w
 * its walk with w->fragment set and ns_ip6_frag_check passed): the whole
 * datagram when this completed it (Fragment header removed, its Next
 * Header put back), else NULL. Same bounds and overlap policy as
 * ip4_reass; ip6_reass_timeout_us (60 s). Consumes pb. */
struct ns_pbuf *ip6_reass(struct ns_stack *st, struct ns_pbuf *pb, const struct ns_ip6_repr *ip,
                          const struct ns_ip6_ext_info *w);
int reass6_init(struct ns_stack *st);
void reass6_destroy(struct ns_stack *st);
uint64_t ip6_reass_mem(const struct ns_stack *st);
uint32_t ip6_reass_count(const struct ns_stack *st);
/* The path MTU learned for dst (RFC 8201 §5.3, Linux mtu_expires 10 min),
 * 0 when none or expired. */
uint32_t pmtu6_get(struct ns_stack *st, const struct ns_ip6_addr *dst);
/* Learn mtu (clamped to >= 1280, RFC 8201 §4; only decreases) for dst:
 * every kept egress is invalidated (the transports read the new MTU). */
void pmtu6_update(struct ns_stack *st, const struct ns_ip6_addr *dst, uint32_t mtu);

/* ---- Neighbour Discovery (net/ndisc.c) ---- */

/* The neighbour cache (nd_init: 0 or -ENOMEM; nd_destroy drops what it
 * holds, no ICMP); NS and NA in the ICMPv6 type table (nd_register). */
int nd_init(struct ns_stack *st);
void nd_destroy(struct ns_stack *st);
void nd_register(struct ns_stack *st);
/* Send a Neighbor Solicitation for target on ifp (RFC 4861 §7.2.2):
 * to its solicited-node group, or unicast to `dst_mac`'s owner (NUD
 * probe: dst is target then), from src (:: for DAD, RFC 4862 §5.4.2:
 * then without a source link-layer address option). */
void nd_send_ns(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *src,
                const struct ns_ip6_addr *target, bool unicast);
/* The entries in the cache (tests). */
uint32_t nd_count(const struct ns_stack *st);
/* Send the IPv6 packet pb to nexthop on the Ethernet interface ifp:
 * multicast to its MAC (RFC 2464 §7), unicast through the neighbour
 * cache (RFC 4861 §7.2.2: INCOMPLETE holds it). Consumes pb. */
int nd_output(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *nexthop,
              struct ns_pbuf *pb);
/* NUD state of a neighbour (tests, introspection): ND_* or -ENOENT; mac
 * filled when known. */
enum nd_state { ND_INCOMPLETE = 1, ND_REACHABLE, ND_STALE, ND_DELAY, ND_PROBE };
int nd_lookup(struct ns_stack *st, int ifindex, const struct ns_ip6_addr *ip, uint8_t mac[6]);
/* Upper-layer reachability confirmation (RFC 4861 §7.3.1: TCP saw new
 * data acknowledged): the entry becomes REACHABLE. */
void nd_confirm(struct ns_stack *st, int ifindex, const struct ns_ip6_addr *ip);
/* Learn from a Router Advertisement / Redirect: the link-layer address of
 * ip (RFC 4861 §6.3.4, §8.3): STALE unless it is the same. is_router sets
 * the router flag. */
void nd_learn(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *ip,
              const uint8_t mac[6], bool is_router);

#endif
