/* core/stack.h — the stack object and the internal interfaces between
 * layers. Not installed: only src/ and tests include it.
 *
 * Layers call each other through these functions, top to bottom and back
 * (DESIGN.md "Layers"): ip4_* (net/) calls eth_output (link/), which calls
 * arp_* and the device. Input goes eth_input -> ip4_input -> icmp4_input.
 */
#ifndef NS_CORE_STACK_H
#define NS_CORE_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/dlist.h"
#include "base/rng.h"
#include "base/timer.h"
#include "netsock/netsock.h"
#include "netsock/socket.h"

#define NS_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- logging and counters -------------------------------------------------- */

#define NS_STAT_INC(st, name) ((st)->counters[NS_CTR_##name]++)
#define NS_STAT_ADD(st, name, n) ((st)->counters[NS_CTR_##name] += (n))

void ns_log(struct ns_stack *st, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define NS_LOG(st, level, ...)                                                 \
    do {                                                                       \
        if ((st)->cfg.log_fn && (level) <= (st)->cfg.log_level)                \
            ns_log((st), (level), __VA_ARGS__);                                \
    } while (0)

/* ---- interfaces ------------------------------------------------------------- */

#define NS_IF_ADDR_MAX 8

struct ns_if_addr4 {
    uint32_t addr;      /* host order */
    uint32_t mask;      /* host order */
    uint8_t prefix_len;
    /* RFC 5227 announcements still to send, the next at announce_at_us. */
    uint32_t announce_left;
    uint64_t announce_at_us;
};

/* A sender waiting for a device to take frames again (transmit
 * backpressure, docs/architecture.md): embedded in what waits (a TCP
 * connection), on one interface's FIFO list while it waits. */
struct ns_tx_waiter {
    struct ns_tx_waiter *next, *prev;
    struct ns_iface *ifp; /* the interface waited on; NULL when not waiting */
    void (*wake)(struct ns_tx_waiter *w);
};

struct ns_iface {
    int index;                  /* 1-based; 0 = slot unused */
    struct ns_dev *dev;
    struct ns_if_addr4 addr4[NS_IF_ADDR_MAX];
    unsigned n_addr4;
    bool loopback;
    /* Fires at the earliest addr4[].announce_at_us still pending. */
    struct ns_timer announce_timer;
    /* The device refused a frame (-EAGAIN) and has not been found ready
     * since; senders that must not lose data wait on txw_head. */
    bool tx_blocked;
    struct ns_tx_waiter *txw_head, *txw_tail;
};

/* ---- routing (net/route.c) --------------------------------------------------- */

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

/* Longest-prefix match for dst. On success fills *ifindex and *nexthop
 * (the gateway, or dst itself when on-link) and returns 0; -ENETUNREACH
 * otherwise. */
int route4_lookup(const struct ns_stack *st, uint32_t dst, int *ifindex, uint32_t *nexthop);
int route4_add(struct ns_stack *st, uint32_t dst, unsigned prefix_len, uint32_t gw, int ifindex,
               bool connected);
int route4_del(struct ns_stack *st, uint32_t dst, unsigned prefix_len);

/* ---- ARP neighbour cache (link/arp.c) ---------------------------------------- */

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

int arp_init(struct ns_stack *st);
void arp_destroy(struct ns_stack *st);
/* Handle an ARP packet (Ethernet payload) received on ifindex. Consumes pb. */
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

/* ---- Ethernet (link/ethernet.c) ----------------------------------------------- */

/* A frame received on ifp. Consumes pb. */
void eth_input(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb);
/* Prepend an Ethernet header (dst, our MAC, ethertype) and transmit. Consumes pb. */
int eth_output(struct ns_stack *st, struct ns_iface *ifp, const uint8_t dst[6], uint16_t ethertype,
               struct ns_pbuf *pb);
/* Hand a finished frame to the interface's device. Consumes pb. Returns
 * 0 (sent), -EAGAIN only for a pbuf marked NS_PBUF_F_TX_DEFER that a full
 * device queue refused (not sent, counted as dev_tx_deferred;
 * st->tx_refused_ifindex names the interface, see ns_tx_wait), or another
 * negative errno: dropped, counted — -ENOBUFS with dev_tx_full_drop for an
 * unmarked frame a full queue refused (UDP, ICMP, ARP, forwarding: Linux's
 * qdisc drop), the device's error with dev_tx_err otherwise. */
int if_xmit(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb);

/* ---- transmit backpressure (core/stack.c) ------------------------------------- */

/* Right after an output call returned -EAGAIN: make w wait for the
 * interface that refused the frame (st->tx_refused_ifindex). w->wake(w)
 * is called once from ns_stack_poll when the device can take frames again
 * (ops->tx_ready), waiters of an interface in the order they started
 * waiting; a waiter that is refused again during its wake-up goes to the
 * back and stops the round. Nothing happens when w already waits. */
void ns_tx_wait(struct ns_stack *st, struct ns_tx_waiter *w);
/* Stop waiting (before w's owner is freed). Nothing happens when w does
 * not wait. */
void ns_tx_wait_cancel(struct ns_stack *st, struct ns_tx_waiter *w);
static inline bool ns_tx_waiting(const struct ns_tx_waiter *w) { return w->ifp != NULL; }

/* ---- IPv4 (net/ipv4.c, net/ip4_reass.c) ---------------------------------------- */

struct ip4_reass_state;
struct sock_table;
struct udp_table;
struct tcp_table;
struct ns_sock;

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

/* Route and transmit a complete IPv4 packet (header included), fragmenting
 * to the interface MTU when DF is clear. Used by ip4_output and forwarding.
 * Consumes pb. */
int ip4_send_packet(struct ns_stack *st, struct ns_pbuf *pb, int ifindex, uint32_t nexthop);

/* Is addr one of ours (any interface) or a broadcast we accept? */
bool ip4_is_local(const struct ns_stack *st, uint32_t addr);
bool ip4_is_broadcast(const struct ns_stack *st, uint32_t addr);
/* The source address for a datagram to dst, an address of this host
 * (local or 127/8): 127.0.0.1 for the loopback range, else dst itself. */
uint32_t ip4_local_source(const struct ns_stack *st, uint32_t dst);
/* The primary address of interface ifindex for reaching dst, or 0. */
uint32_t ip4_source_for(const struct ns_stack *st, int ifindex, uint32_t dst);

/* Reassembly (RFC 815 spirit, Linux overlap policy). Takes a fragment (pb
 * holds the whole IPv4 packet), returns a complete datagram pbuf when this
 * fragment finished one, else NULL. Consumes pb. */
struct ns_pbuf *ip4_reass(struct ns_stack *st, struct ns_pbuf *pb);
int ip4_reass_init(struct ns_stack *st);
void ip4_reass_destroy(struct ns_stack *st);
/* Bytes and datagrams currently held (tests). */
uint64_t ip4_reass_mem(const struct ns_stack *st);
uint32_t ip4_reass_count(const struct ns_stack *st);

/* Protocol handler: receives pb with data at the transport header, pb->len
 * the transport length, and the parsed IPv4 header. Consumes pb. */
struct ns_ip4_repr;
typedef void (*ip4_proto_input_fn)(struct ns_stack *st, struct ns_iface *ifp,
                                   const struct ns_ip4_repr *ip, struct ns_pbuf *pb);
/* ICMP error notification for a protocol: `from` (host order) sent the
 * error (our own address when the error arose locally, e.g. ARP failed), `inner` is the quoted original header,
 * `payload` the first bytes of the quoted transport header. */
typedef void (*ip4_proto_err_fn)(struct ns_stack *st, uint32_t from, uint8_t type, uint8_t code,
                                 uint32_t info, const struct ns_ip4_repr *inner,
                                 const uint8_t *payload, size_t payload_len);

/* ---- raw sockets (raw/raw.c) ------------------------------------------------------- */

/* Give every raw socket of ip->proto that matches a copy of the datagram
 * (pb at the IPv4 header; not consumed). True when at least one matched. */
bool raw_deliver(struct ns_stack *st, const struct ns_ip4_repr *ip, const struct ns_pbuf *pb);
/* An ICMP error quoting `inner`: report hard errors to connected raw sockets. */
void raw_err(struct ns_stack *st, uint8_t type, uint8_t code, const struct ns_ip4_repr *inner);

/* ---- ICMPv4 (net/icmp.c) ------------------------------------------------------- */

/* Register ICMP's input and error handlers with the stack. */
void icmp4_init(struct ns_stack *st);
void icmp4_input(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip4_repr *ip,
                 struct ns_pbuf *pb);
/* Send an ICMP error about the packet `orig` (whole IPv4 packet, header
 * first). Applies the RFC 1122 §3.2.2 rules (never about an ICMP error,
 * a broadcast, a non-first fragment or a martian source) and the rate
 * limit. Does not consume orig. */
void icmp4_send_error(struct ns_stack *st, const struct ns_pbuf *orig, uint8_t type, uint8_t code,
                      uint32_t info);

/* ---- the stack ----------------------------------------------------------------- */

struct ns_stack {
    struct ns_config cfg;
    char name[32];
    uint64_t now_us;
    struct ns_rng rng;
    struct ns_wheel wheel;
    struct ns_pbuf_pool *pool;
    uint64_t counters[NS_CTR__COUNT];

    struct ns_iface ifaces[NS_IF_MAX];
    int lo_ifindex;             /* the loopback interface (127.0.0.0/8) */
    int tx_refused_ifindex;     /* interface of the last -EAGAIN from if_xmit */
    unsigned tx_wait_ifaces;    /* interfaces with senders waiting (ns_tx_wait) */

    struct ns_route_table4 routes4;
    struct arp_cache arp;
    struct ip4_reass_state *reass;
    uint16_t ip_id_next;

    ip4_proto_input_fn proto_input[256];
    ip4_proto_err_fn proto_err[256];

    /* ICMP error token bucket (RFC 1812 §4.3.2.8, Linux icmp_msgs_per_sec). */
    uint64_t icmp_tokens;       /* millionths of a token */
    uint64_t icmp_tokens_at_us;

    ns_echo_fn echo_fn;
    void *echo_ctx;

    /* Socket layer (socket/, udp/, raw/). */
    struct sock_table *socks;
    struct udp_table *udp;
    struct tcp_table *tcp;
    struct ns_sock *raw_list;
    ns_drive_fn drive_fn;
    void *drive_ctx;
};

/* Move the stack's clock forward without processing anything: for a
 * driver that knows nothing is due before now_us (the simulator), so that
 * calls made next (a send, a timer armed) see the right time. */
static inline void ns_stack_set_clock(struct ns_stack *st, uint64_t now_us)
{
    if (now_us > st->now_us)
        st->now_us = now_us;
}

/* The interface with this index, or NULL. */
struct ns_iface *ns_iface_get(struct ns_stack *st, int ifindex);

static inline struct ns_pbuf *ns_stack_alloc(struct ns_stack *st, uint32_t headroom, uint32_t len)
{
    struct ns_pbuf *pb = ns_pbuf_alloc(st->pool, headroom, len);
    if (!pb)
        NS_STAT_INC(st, pbuf_alloc_fail);
    return pb;
}

/* IPv4 address classes (host order). */
static inline bool ip4_is_multicast(uint32_t a) { return (a >> 28) == 0xe; }
static inline bool ip4_is_loopback(uint32_t a) { return (a >> 24) == 127; }
static inline bool ip4_is_zeronet(uint32_t a) { return (a >> 24) == 0; }
static inline bool ip4_is_limited_bcast(uint32_t a) { return a == 0xffffffffu; }

#endif
