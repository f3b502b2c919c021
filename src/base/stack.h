/* base/stack.h — the core of the stack object: what every layer uses
 * (configuration, name, clock, random numbers, timer wheel, packet pool,
 * counters, log) and one pointer per layer to that layer's own state.
 * Not installed: only src/ and tests include it.
 *
 * Read first: docs/architecture.md "Layers" — every layer takes `struct
 * ns_stack *st` as its context (no globals) and keeps its state in a
 * struct of its own, defined in its own header (link/link.h, net/net.h,
 * socket/sock.h, tcp/tcp.h, udp/udp.h, raw/raw.h, socket/fdtable.h); here
 * those structs are only named. A layer touches no other layer's fields:
 * it calls that layer's functions. The assembly (stack/stack.c) creates
 * the states, bottom to top, by calling each layer's init.
 */
#ifndef NS_BASE_STACK_H
#define NS_BASE_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"
#include "base/timer.h"
#include "netsock/netsock.h"

/* The object that holds `member` at ptr (intrusive lists, embedded timers). */
#define NS_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- counters and logging ---------------------------------------------------- */

#define NS_STAT_INC(st, name) ((st)->counters[NS_CTR_##name]++)
#define NS_STAT_ADD(st, name, n) ((st)->counters[NS_CTR_##name] += (n))

/* Format a message and hand it to the configured log hook (base/log.c).
 * Call through NS_LOG, which skips the formatting when nobody listens. */
void ns_log(struct ns_stack *st, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define NS_LOG(st, level, ...)                                                 \
    do {                                                                       \
        if ((st)->cfg.log_fn && (level) <= (st)->cfg.log_level)                \
            ns_log((st), (level), __VA_ARGS__);                                \
    } while (0)

/* ---- the stack ------------------------------------------------------------------ */

/* Each layer's state (docs/architecture.md has the table). */
struct link_state;  /* link/link.h: interfaces, the ethertype table, transmit waiters */
struct net_state;   /* net/net.h: IPv4 addresses, routes, ARP, reassembly, ICMP, the
                       IP protocol table, the egress generation */
struct sock_state;  /* socket/sock.h: the protocol switch (socket kinds and their ops) */
struct udp_table;   /* udp/udp.h */
struct tcp_table;   /* tcp/tcp.h */
struct raw_table;   /* raw/raw.h */
struct fd_table;    /* socket/fdtable.h: descriptors, the blocking-call driver */

struct ns_stack {
    struct ns_config cfg;
    char name[32];
    uint64_t now_us;
    struct ns_rng rng;
    struct ns_wheel wheel;
    struct ns_pbuf_pool *pool;
    uint64_t counters[NS_CTR__COUNT];

    struct link_state *link;
    struct net_state *net;
    struct sock_state *sock;
    struct udp_table *udp;
    struct tcp_table *tcp;
    struct raw_table *raw;
    struct fd_table *fds;
};

/* Move the stack's clock forward without processing anything: for a
 * driver that knows nothing is due before now_us (the simulator), so that
 * calls made next (a send, a timer armed) see the right time. */
static inline void ns_stack_set_clock(struct ns_stack *st, uint64_t now_us)
{
    if (now_us > st->now_us)
        st->now_us = now_us;
}

/* A packet buffer from the stack's pool with `headroom` bytes in front of
 * `len` data bytes, or NULL (counted in pbuf_alloc_fail). */
static inline struct ns_pbuf *ns_stack_alloc(struct ns_stack *st, uint32_t headroom, uint32_t len)
{
    struct ns_pbuf *pb = ns_pbuf_alloc(st->pool, headroom, len);
    if (!pb)
        NS_STAT_INC(st, pbuf_alloc_fail);
    return pb;
}

#endif
