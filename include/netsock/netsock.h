/* netsock/netsock.h — the stack object: configuration, time, interfaces,
 * routes, counters, logging.
 *
 * Model (see docs/architecture.md):
 * - All state hangs off a `struct ns_stack`; a process may run any number of
 *   stacks (the simulator runs many). There are no mutable globals.
 * - The stack never reads a clock and never blocks. Every entry point takes
 *   `now_us`: microseconds on a monotonic clock chosen by the caller (virtual
 *   time in the simulator). Time must never go backwards for one stack.
 * - A driver loop calls ns_stack_poll() at least by the time
 *   ns_stack_next_deadline() returns, and whenever a device has input.
 * - Threading: one thread drives a given stack (and its loop). Different
 *   stacks may be driven by different threads.
 *
 * Errors: functions here return 0 or a non-negative value on success and a
 * negative errno (-EINVAL, -ENOMEM, ...) on failure. The BSD socket API
 * (a later layer) converts to -1/errno at its edge.
 */
#ifndef NETSOCK_NETSOCK_H
#define NETSOCK_NETSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsock/counters.h"
#include "netsock/dev.h"
#include "netsock/pbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NS_VERSION "0.1.0"

/* Log levels, as syslog(3). */
enum { NS_LOG_ERR = 3, NS_LOG_WARN = 4, NS_LOG_INFO = 6, NS_LOG_DEBUG = 7 };

/* Log hook: receives one formatted line (no trailing newline) for every
 * event at or below the configured level. `now_us` is the stack's time. */
typedef void (*ns_log_fn)(void *ctx, const char *stack_name, int level, uint64_t now_us,
                          const char *msg);

/* Runtime configuration: every knob with a safe default set by
 * ns_config_default(); the comment gives the default and where it comes
 * from. */
struct ns_config {
    const char *name;          /* host name in logs; default "netsock" (copied) */
    uint64_t seed;             /* PRNG seed (ISNs, ports, IDs); default 1 */

    uint32_t pbuf_count;       /* pooled packet buffers; default 4096 */
    uint64_t pbuf_heap_max;    /* heap bytes for large buffers; default 16 MiB */

    bool ip_forward;           /* route packets between interfaces; default false */
    uint8_t ip_default_ttl;    /* default 64 (Linux ip_default_ttl) */

    uint32_t arp_cache_max;    /* neighbour entries; default 1024 (Linux gc_thresh3) */
    uint32_t arp_queue_bytes;  /* buffer bytes (2048 per pooled packet, a heap packet's
                                  size) held per unresolved neighbour, the oldest dropped
                                  first; default 212992 (Linux unres_qlen_bytes), 104
                                  pooled packets */
    uint64_t arp_queue_total_bytes; /* buffer bytes held by all unresolved neighbours
                                  together, the longest-waiting one's oldest packet
                                  dropped first; 0 (the default) means 1/16 of the
                                  packet pool, pbuf_count * 2048 / 16 (256 packets of
                                  the default 4096), so neighbours that never answer
                                  cannot take the pool. Linux has no such total: its
                                  queues live in general memory */
    uint32_t arp_unres_max;    /* neighbours being resolved at once; a packet to one more
                                  is dropped without an entry or a request (Linux refuses
                                  a neighbour when its table is full of fresh entries).
                                  Bounds the requests a flood makes us send to this many
                                  per arp_retry_us. Default 256, a quarter of
                                  arp_cache_max, so a flood evicts at most that many
                                  resolved neighbours */
    uint32_t arp_retries;      /* requests before giving up; default 3 (Linux mcast_solicit) */
    uint64_t arp_retry_us;     /* gap between requests; default 1 s (Linux retrans_time) */
    uint64_t arp_reachable_us; /* confirmed entry trusted this long; default 30 s */
    uint64_t arp_gc_us;        /* idle entry removed after; default 60 s (Linux gc_stale_time) */
    uint32_t arp_announce_num; /* gratuitous ARPs on address add; default 2 (RFC 5227 ANNOUNCE_NUM) */
    uint64_t arp_announce_interval_us; /* default 2 s (RFC 5227 ANNOUNCE_INTERVAL) */

    uint64_t ip_reass_timeout_us; /* default 30 s (Linux ipfrag_time) */
    uint64_t ip6_reass_timeout_us; /* IPv6's; default 60 s (RFC 8200 §4.5, Linux
                                     ip6frag_time); memory cap and fragment count
                                     are ip_reass_mem_max and ip_reass_max_frags,
                                     counted apart for each family */
    uint64_t ip_reass_mem_max;    /* bytes held by all reassembly; default 4 MiB (Linux ipfrag_high_thresh) */
    uint32_t ip_reass_max_frags;  /* fragments per datagram; default 256 (a 64 KiB
                                     datagram over a 576-byte MTU needs 118) */

    uint64_t tcp_rto_min_us;   /* default 200 ms (Linux TCP_RTO_MIN; RFC 6298 says 1 s) */
    uint64_t tcp_msl_us;       /* TIME_WAIT lasts 2 MSL; default 30 s (Linux: 60 s TIME_WAIT) */
    uint32_t tcp_syn_retries;  /* default 6 (Linux tcp_syn_retries) */
    uint32_t tcp_synack_retries; /* SYN,ACK retransmissions of a half-open connection (1 s,
                                  doubling) before it silently expires; default 5 (Linux
                                  tcp_synack_retries: gone 63 s after the SYN) */
    uint32_t tcp_syncookies;   /* 1: answer with a SYN cookie (RFC 4987 §3.6) when the
                                  syncache bucket, the syncache or the listener's half-open
                                  queue (its backlog) is full; 2: always; 0: never (such SYNs
                                  are dropped). Default 1 (Linux tcp_syncookies) */
    uint32_t somaxconn;        /* listen() clamps its backlog to this; default 4096 (Linux
                                  net.core.somaxconn); raise it for bigger accept queues */
    uint32_t tcp_retries2;     /* data retransmissions before ETIMEDOUT; default 15 */
    uint64_t tcp_delack_us;    /* delayed ACK timer; default 40 ms (Linux), RFC 1122 <= 500 ms */
    uint32_t tcp_rmem_default; /* initial receive buffer of a TCP socket; default 131072
                                  (Linux tcp_rmem[1]) */
    uint32_t tcp_wmem_default; /* initial send buffer; default 16384 (Linux tcp_wmem[1]) */
    uint32_t tcp_rmem_max;     /* largest receive buffer autotuning grows to, and the
                                  largest SO_RCVBUF a TCP socket may ask for (before the
                                  doubling); default 6 MiB (6291456, Linux tcp_rmem[2]).
                                  Other sockets keep the net.core.rmem_max cap of 212992 */
    uint32_t tcp_wmem_max;     /* likewise for the send buffer and SO_SNDBUF; default
                                  4 MiB (Linux tcp_wmem[2]) */
    bool tcp_moderate_rcvbuf;  /* receive-buffer autotuning (dynamic right-sizing: about
                                  twice what the application reads per RTT, up to
                                  tcp_rmem_max) for sockets without SO_RCVBUF; default
                                  true (Linux tcp_moderate_rcvbuf). The send buffer
                                  always grows to about two congestion windows (up to
                                  tcp_wmem_max) unless SO_SNDBUF was set, as Linux */
    bool tcp_hystart;          /* HyStart++ (RFC 9406) for CUBIC's initial slow start:
                                  leave slow start when the RTT rises; default true
                                  (Linux has HyStart on for CUBIC, tcp_cubic hystart=1) */
    bool tcp_window_scaling;   /* offer the RFC 7323 §2 window scale option; default true
                                  (Linux tcp_window_scaling). Our shift is the smallest
                                  that lets 16 bits << shift cover the largest the receive
                                  buffer may become: tcp_rmem_max while autotuning may
                                  grow it (as Linux), else the buffer (at most 14) */
    bool tcp_timestamps;       /* offer RFC 7323 §3 timestamps (RTTM, PAWS); default true
                                  (Linux tcp_timestamps). TSval counts milliseconds from a
                                  per-connection offset (a keyed hash of the 4-tuple) */
    bool tcp_sack;             /* offer SACK (RFC 2018) and, when both ends agree, recover
                                  from loss with the scoreboard: RACK-TLP loss detection
                                  (RFC 8985), RFC 6675 recovery, PRR (RFC 6937); D-SACK
                                  (RFC 2883) is always sent. Default true (Linux tcp_sack);
                                  without SACK, NewReno (RFC 6582) recovers */
    const char *tcp_congestion; /* congestion control of new connections: "cubic"
                                  (RFC 9438, the default, as Linux) or "newreno";
                                  TCP_CONGESTION changes it per socket */
    uint32_t tcp_challenge_ack_limit; /* RFC 5961 §7 challenge ACKs per second for the
                                  whole stack, on top of one per 500 ms per connection
                                  (always); each second's budget is drawn at random in
                                  [limit/2, limit*3/2). Default 0: no stack-wide limit
                                  (Linux tcp_challenge_ack_limit is INT_MAX, off, since
                                  6.0: a shared budget leaks other connections' state) */
    /* The limit on what all TCP connections' buffers hold together, as Linux
     * tcp_mem but in bytes of storage actually allocated: receive rings,
     * send rings, out-of-order segments (docs/tcp.md "Memory"). Above
     * tcp_mem_pressure the stack is under memory pressure until it is back
     * at tcp_mem_low: buffers stop growing, out-of-order data is pruned
     * first (and admitted only below tcp_mem_pressure); above tcp_mem_high
     * no buffer grows. Every connection keeps its first 4 KiB per ring.
     * Defaults 96 / 128 / 192 MiB: Linux's tcp_mem on a 2 GiB machine
     * (pressure 1/16 of memory, low 3/4 and high 3/2 of it), under 1 % of
     * this 24 GiB machine, room for ~18 connections with fully grown
     * 6 MiB + 4 MiB buffers or 6000 with 32 KiB in flight; an embedded
     * stack sets them to 1/16 of its memory, as Linux would.
     * low <= pressure <= high. */
    uint64_t tcp_mem_low;      /* default 96 MiB (Linux tcp_mem[0]) */
    uint64_t tcp_mem_pressure; /* default 128 MiB (Linux tcp_mem[1]) */
    uint64_t tcp_mem_high;     /* default 192 MiB (Linux tcp_mem[2]) */

    uint32_t icmp_rate_per_s;  /* ICMP errors per second; default 1000 (Linux icmp_msgs_per_sec) */
    uint32_t icmp_rate_burst;  /* burst; default 50 (Linux icmp_msgs_burst) */

    ns_log_fn log_fn;          /* default NULL: no logging */
    void *log_ctx;
    int log_level;             /* default NS_LOG_INFO */
};

struct ns_stack;

/* Fill `cfg` with the defaults above. */
void ns_config_default(struct ns_config *cfg);

/* Create a stack at time now_us. cfg may be NULL for defaults. Returns NULL
 * on allocation failure or an invalid configuration. */
struct ns_stack *ns_stack_new(const struct ns_config *cfg, uint64_t now_us);

/* Free a stack, closing its devices and releasing every buffer. */
void ns_stack_free(struct ns_stack *st);

const char *ns_stack_name(const struct ns_stack *st);
/* The time of the last call that passed now_us in. */
uint64_t ns_stack_now(const struct ns_stack *st);

/* Advance the stack to now_us: run device tick work, take received frames
 * from every device and process them, let senders waiting for a full
 * device send again once it has room, fire due timers. Returns the number
 * of frames processed. */
int ns_stack_poll(struct ns_stack *st, uint64_t now_us);

/* The earliest time at which ns_stack_poll() has work: a timer, a device
 * deadline, or a full device expected to take frames again. NS_TIME_NEVER when there is nothing scheduled. May be earlier
 * than strictly needed (never later). */
uint64_t ns_stack_next_deadline(struct ns_stack *st);

/* Process one frame as if it had been received on interface `ifindex` at
 * now_us (the frame is copied). This is the input path that fuzzers and
 * tests drive. Returns 0, -ENODEV for a bad ifindex, -ENOBUFS when no
 * buffer could be had (counted), -EINVAL for len 0 or > 65535. */
int ns_stack_input(struct ns_stack *st, int ifindex, const void *frame, size_t len,
                   uint64_t now_us);

/* ---- interfaces and addresses ------------------------------------------- */

#define NS_IF_MAX 16

/* Attach a device as a new interface; the stack now owns `dev`. Returns the
 * interface index (>= 1) or -ENOSPC / -EINVAL. */
int ns_if_add(struct ns_stack *st, struct ns_dev *dev);

/* The device of interface ifindex, or NULL. Still owned by the stack. */
struct ns_dev *ns_if_dev(struct ns_stack *st, int ifindex);

/* True when senders (TCP connections) wait for interface ifindex's device
 * to take frames again and the device will say so through its descriptor
 * becoming writable (its tx_ready is NS_TIME_NEVER, include/netsock/dev.h):
 * a real-time loop then waits for EPOLLOUT on that descriptor and polls
 * the stack. Waits that end at a known time are in ns_stack_next_deadline
 * instead. */
bool ns_if_tx_wait_writable(struct ns_stack *st, int ifindex);

/* Add an address to an interface. af is AF_INET (addr -> struct in_addr)
 * or AF_INET6 (struct in6_addr, prefix_len <= 128). Adds the connected
 * route for the prefix; IPv4 on Ethernet sends gratuitous ARP
 * announcements (RFC 5227 §2.3); the first IPv6 address turns IPv6 on for
 * the interface (ns_if_ipv6_enable: its link-local address comes first).
 * Returns 0, -EEXIST, -ENOSPC, -EINVAL, -ENODEV. */
int ns_if_addr_add(struct ns_stack *st, int ifindex, int af, const void *addr,
                   unsigned prefix_len);

/* Turn IPv6 on on an interface without giving it a global address (an
 * interface has IPv6 only once asked, so that IPv4-only programs send
 * nothing new): joins ff02::1 and, on Ethernet, adds the link-local
 * fe80::/64 address from the MAC's EUI-64 (RFC 4862 §5.3); on the
 * loopback, ::1. 0, -ENODEV, -ENOSPC. */
int ns_if_ipv6_enable(struct ns_stack *st, int ifindex);

/* IPv6 autoconfiguration on an Ethernet interface, as a Linux host with
 * its default sysctls (docs/ipv6.md "Autoconfiguration"): IPv6 on, a
 * link-local address with an RFC 7217 stable interface identifier
 * checked by Duplicate Address Detection, router solicitations, router
 * advertisements taken (when not forwarding: default routes, on-link
 * prefixes, SLAAC addresses, the MTU), redirects, MLDv2 reports; every
 * IPv6 address added to the interface afterwards goes through DAD too.
 * 0, -ENODEV, -EOPNOTSUPP (not Ethernet), -EALREADY, -ENOMEM. */
int ns_if_autoconf(struct ns_stack *st, int ifindex);

/* Advertise as a router on an autoconfigured interface (RFC 4861 §6.2):
 * the 16-byte IPv6 prefix/prefix_len (network order) on-link and
 * autonomous, Router Lifetime 1800 s; prefix NULL stops, with a last
 * advertisement of lifetime 0. Forwarding is ns_stack_set_forwarding's.
 * 0, -ENOENT (not autoconfigured), -EINVAL. */
int ns_if_advertise(struct ns_stack *st, int ifindex, const void *prefix, unsigned prefix_len);

/* Tell the neighbour cache that addr is at the Ethernet address mac on
 * interface ifindex, as an ARP reply would (Linux SIOCSARP with ATF_COM,
 * `ip neigh replace ADDR lladdr MAC nud reachable`): a DHCP server unicasts
 * an offer to a client that has no address to answer ARP with (RFC 2131
 * §4.1). The entry then ages like one learned. AF_INET only (addr -> struct
 * in_addr). 0, -EAFNOSUPPORT, -ENODEV, -EOPNOTSUPP (not Ethernet), -EINVAL
 * (a broadcast, multicast or zero address, a multicast MAC), -ENOMEM. */
int ns_neigh_set(struct ns_stack *st, int ifindex, int af, const void *addr, const uint8_t mac[6]);

/* Remove an address from an interface: AF_INET6 only (its connected
 * route goes with it). 0, -EADDRNOTAVAIL, -EAFNOSUPPORT, -ENODEV. */
int ns_if_addr_del(struct ns_stack *st, int ifindex, int af, const void *addr);

/* Add a route: dst/prefix_len via gateway gw (NULL or 0.0.0.0 for on-link)
 * out of interface ifindex (0: the interface whose connected route covers
 * gw). prefix_len 0 is the default route. For AF_INET6 (struct in6_addr,
 * prefix_len <= 128) gw may be link-local (then ifindex is needed) or
 * covered by an on-link route. Returns 0, -EEXIST, -ENETUNREACH
 * (gw not on a connected network), -ENOSPC, -EINVAL. */
int ns_route_add(struct ns_stack *st, int af, const void *dst, unsigned prefix_len,
                 const void *gw, int ifindex);

/* Remove the route dst/prefix_len (either family). 0 or -ESRCH. */
int ns_route_del(struct ns_stack *st, int af, const void *dst, unsigned prefix_len);

/* Turn IPv4 forwarding between interfaces on or off. */
void ns_stack_set_forwarding(struct ns_stack *st, bool on);

/* ---- counters ------------------------------------------------------------ */

uint64_t ns_stack_counter(const struct ns_stack *st, enum ns_counter c);
/* Copy all counters into out[NS_CTR__COUNT]. */
void ns_stack_counters(const struct ns_stack *st, uint64_t *out);
const char *ns_counter_name(enum ns_counter c);
const char *ns_counter_desc(enum ns_counter c);

/* Pool statistics of the stack's packet buffers (leak checks in tests). */
void ns_stack_pbuf_stats(const struct ns_stack *st, struct ns_pbuf_pool_stats *out);

/* What the stack's bounded resources hold now (`netsock stat -s`, tests). */
struct ns_stack_usage {
    uint32_t arp_entries;     /* neighbour cache entries (cfg.arp_cache_max at most) */
    uint32_t arp_unres;       /* ... being resolved (cfg.arp_unres_max at most) */
    uint32_t arp_hold_pkts;   /* packets waiting for a neighbour's MAC */
    uint64_t arp_hold_bytes;  /* their buffer bytes (cfg.arp_queue_total_bytes at most) */
    uint64_t tcp_bytes;       /* storage TCP's buffers hold: the three below */
    uint64_t tcp_rcv_bytes;   /* receive rings */
    uint64_t tcp_snd_bytes;   /* send rings */
    uint64_t tcp_ooo_bytes;   /* out-of-order segments */
    uint64_t tcp_peak_bytes;  /* the most tcp_bytes has been */
    bool tcp_pressure;        /* under memory pressure (cfg.tcp_mem_pressure) */
    /* The limits in force (from the configuration). */
    uint64_t arp_hold_limit;  /* cfg.arp_queue_total_bytes */
    uint64_t tcp_limit_low, tcp_limit_pressure, tcp_limit_high; /* cfg.tcp_mem_* */
};
void ns_stack_usage(const struct ns_stack *st, struct ns_stack_usage *out);

/* ---- ICMP echo ------------------------------------------------------------
 * Until raw sockets land, programs ping through these two calls. */

struct ns_echo_reply {
    uint32_t from;       /* who answered, network byte order */
    uint16_t id, seq;
    uint8_t icmp_type;   /* 0 echo reply; else the ICMP error (3 unreachable,
                            11 time exceeded) a router sent about our request */
    uint8_t icmp_code;
    uint8_t ttl;         /* echo reply only */
    const uint8_t *data; /* echo payload, valid during the callback only; NULL for errors */
    size_t len;
};
typedef void (*ns_echo_fn)(void *ctx, struct ns_stack *st, const struct ns_echo_reply *r,
                           uint64_t now_us);

/* Send an ICMP echo request (RFC 792) to dst (struct in_addr). ttl 0 means
 * the default. Returns 0 or -ENETUNREACH, -EMSGSIZE (> 65507 bytes with DF
 * clear is fragmented; larger is refused), -ENOBUFS. */
int ns_icmp_echo_send(struct ns_stack *st, const void *dst, uint16_t id, uint16_t seq,
                      const void *data, size_t len, uint8_t ttl);

/* Receive echo replies through fn (NULL to stop). */
void ns_icmp_set_echo_hook(struct ns_stack *st, ns_echo_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
