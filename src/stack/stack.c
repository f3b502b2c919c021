/* stack/stack.c — the assembly: builds a stack out of its layers and is
 * the public API's entry to them (netsock/netsock.h): creating and freeing
 * a stack, the poll loop's entry points, interfaces, addresses and routes,
 * counters.
 *
 * Read first: docs/architecture.md "Layers". This is the top of the
 * include graph below the drivers: it calls each layer's init bottom to
 * top (base services, link, network, the socket switch, transports,
 * descriptors) and their destroy top to bottom; the layers themselves
 * know only the ones beneath them and what registered with them.
 * Everything a stack owns hangs off struct ns_stack (no globals); time
 * comes in through every entry point. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/stack.h"
#include "link/link.h"
#include "net/addrconf.h"
#include "net/net.h"
#include "raw/raw.h"
#include "socket/fdtable.h"
#include "socket/sock.h"
#include "tcp/tcp.h"
#include "udp/udp.h"
#include "wire/wire.h"

static const char *const counter_names[] = {
#define NS_X_NAME(name, desc) #name,
    NS_COUNTERS(NS_X_NAME)
#undef NS_X_NAME
};
static const char *const counter_descs[] = {
#define NS_X_DESC(name, desc) desc,
    NS_COUNTERS(NS_X_DESC)
#undef NS_X_DESC
};

void ns_config_default(struct ns_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->name = "netsock";
    cfg->seed = 1;
    cfg->pbuf_count = 4096;
    cfg->pbuf_heap_max = 16u << 20;
    cfg->ip_forward = false;
    cfg->ip_default_ttl = 64;
    cfg->arp_cache_max = 1024;
    cfg->arp_queue_bytes = 212992;
    cfg->arp_queue_total_bytes = 0; /* 1/16 of the pool, set in ns_stack_new */
    cfg->arp_unres_max = 256;
    cfg->arp_retries = 3;
    cfg->arp_retry_us = 1000000;
    cfg->arp_reachable_us = 30000000;
    cfg->arp_gc_us = 60000000;
    cfg->arp_announce_num = 2;
    cfg->arp_announce_interval_us = 2000000;
    cfg->ip_reass_timeout_us = 30000000;
    cfg->ip6_reass_timeout_us = 60000000;
    cfg->ip_reass_mem_max = 4u << 20;
    cfg->ip_reass_max_frags = 256;
    cfg->tcp_rto_min_us = 200000;
    cfg->tcp_msl_us = 30000000;
    cfg->tcp_syn_retries = 6;
    cfg->tcp_synack_retries = 5;
    cfg->tcp_syncookies = 1;
    cfg->somaxconn = 4096;
    cfg->tcp_retries2 = 15;
    cfg->tcp_delack_us = 40000;
    cfg->tcp_rmem_default = 131072;
    cfg->tcp_wmem_default = 16384;
    cfg->tcp_rmem_max = 6291456;
    cfg->tcp_wmem_max = 4u << 20;
    cfg->tcp_moderate_rcvbuf = true;
    cfg->tcp_hystart = true;
    cfg->tcp_window_scaling = true;
    cfg->tcp_timestamps = true;
    cfg->tcp_sack = true;
    cfg->tcp_congestion = "cubic";
    cfg->tcp_mem_low = 96ull << 20;
    cfg->tcp_mem_pressure = 128ull << 20;
    cfg->tcp_mem_high = 192ull << 20;
    cfg->icmp_rate_per_s = 1000;
    cfg->icmp_rate_burst = 50;
    cfg->log_fn = NULL;
    cfg->log_ctx = NULL;
    cfg->log_level = NS_LOG_INFO;
}

/* The loopback, 127.0.0.1/8, takes the last interface slot (NS_IF_MAX),
 * so the devices a program adds are numbered from 1 in the order added. */
static int loopback_init(struct ns_stack *st)
{
    struct ns_dev *lo = ns_loopback_new();
    if (!lo)
        return -ENOMEM;
    int ifindex = link_if_add(st, lo, true);
    if (ifindex < 0) {
        ns_dev_close(lo);
        return ifindex;
    }
    struct in_addr a = {.s_addr = htonl(INADDR_LOOPBACK)};
    return ns_if_addr_add(st, ifindex, AF_INET, &a, 8);
}

static bool config_valid(const struct ns_config *c)
{
    return c->pbuf_count > 0 && c->ip_default_ttl > 0 && c->arp_cache_max > 0 &&
           c->arp_retries > 0 && c->arp_unres_max > 0 && c->ip_reass_max_frags > 0 &&
           /* SO_RCVBUF/SO_SNDBUF double the value asked, in 32 bits */
           c->tcp_rmem_max <= (1u << 30) && c->tcp_wmem_max <= (1u << 30) &&
           c->tcp_mem_low <= c->tcp_mem_pressure && c->tcp_mem_pressure <= c->tcp_mem_high &&
           (!c->tcp_congestion || tcp_cc_find(c->tcp_congestion));
}

struct ns_stack *ns_stack_new(const struct ns_config *cfg, uint64_t now_us)
{
    struct ns_config defaults;
    if (!cfg) {
        ns_config_default(&defaults);
        cfg = &defaults;
    }
    if (!config_valid(cfg))
        return NULL;

    struct ns_stack *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->cfg = *cfg;
    if (st->cfg.arp_queue_total_bytes == 0)
        st->cfg.arp_queue_total_bytes = (uint64_t)cfg->pbuf_count * NS_PBUF_SIZE / 16;
    snprintf(st->name, sizeof(st->name), "%s", cfg->name ? cfg->name : "netsock");
    st->cfg.name = st->name;
    /* Keep the algorithm's own (static) name, not the caller's string. */
    st->cfg.tcp_congestion = cfg->tcp_congestion ? tcp_cc_find(cfg->tcp_congestion)->name : NULL;
    st->now_us = now_us;
    ns_rng_seed(&st->rng, cfg->seed);
    ns_wheel_init(&st->wheel, now_us);

    /* Bottom to top. The generator's draws keep their order (net_init's
     * first IPv4 ID, then tcp_init's secrets): the same seed gives the
     * same stack. */
    st->pool = ns_pbuf_pool_new(cfg->pbuf_count, cfg->pbuf_heap_max);
    if (!st->pool || link_init(st) < 0 || net_init(st) < 0 || sock_init(st) < 0 ||
        udp_init(st) < 0 || raw_init(st) < 0 || tcp_init(st) < 0 || fd_init(st) < 0 ||
        loopback_init(st) < 0) {
        ns_stack_free(st);
        return NULL;
    }
    return st;
}

void ns_stack_free(struct ns_stack *st)
{
    if (!st)
        return;
    /* Top to bottom: the sockets close (and may still send), then the
     * transports free what outlived them, then the devices close. */
    fd_destroy(st);
    udp_destroy(st);
    raw_destroy(st);
    tcp_destroy(st);
    sock_destroy(st);
    link_destroy(st);
    net_destroy(st);
    ns_pbuf_pool_free(st->pool);
    free(st);
}

const char *ns_stack_name(const struct ns_stack *st) { return st->name; }
uint64_t ns_stack_now(const struct ns_stack *st) { return st->now_us; }

static void set_time(struct ns_stack *st, uint64_t now_us)
{
    /* Time never goes backwards for a stack; a stale `now` is clamped. */
    if (now_us > st->now_us)
        st->now_us = now_us;
}

int ns_stack_poll(struct ns_stack *st, uint64_t now_us)
{
    set_time(st, now_us);
    int frames = link_poll(st);
    ns_wheel_advance(&st->wheel, st->now_us, st);
    return frames;
}

uint64_t ns_stack_next_deadline(struct ns_stack *st)
{
    uint64_t next = ns_wheel_next(&st->wheel);
    uint64_t d = link_next_deadline(st);
    return d < next ? d : next;
}

int ns_stack_input(struct ns_stack *st, int ifindex, const void *frame, size_t len,
                   uint64_t now_us)
{
    struct ns_iface *ifp = ns_iface_get(st, ifindex);
    if (!ifp)
        return -ENODEV;
    if (len == 0 || len > 65535)
        return -EINVAL;
    set_time(st, now_us);
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, (uint32_t)len);
    if (!pb)
        return -ENOBUFS;
    memcpy(ns_pbuf_data(pb), frame, len);
    if_input(st, ifp, pb);
    return 0;
}

/* ---- interfaces and addresses ------------------------------------------------ */

int ns_if_add(struct ns_stack *st, struct ns_dev *dev)
{
    int ifindex = link_if_add(st, dev, false);
    if (ifindex > 0)
        ip_egress_invalidate(st); /* a new interface: routes may name it */
    return ifindex;
}

struct ns_dev *ns_if_dev(struct ns_stack *st, int ifindex)
{
    struct ns_iface *ifp = ns_iface_get(st, ifindex);
    return ifp ? ifp->dev : NULL;
}

int ns_if_addr_add(struct ns_stack *st, int ifindex, int af, const void *addr,
                   unsigned prefix_len)
{
    if (af == AF_INET6) {
        if (!addr || prefix_len > 128)
            return -EINVAL;
        struct ns_iface *ifp = ns_iface_get(st, ifindex);
        if (!ifp)
            return -ENODEV;
        struct ns_ip6_addr a;
        memcpy(a.b, addr, 16);
        return ip6_addr_add(st, ifp, &a, prefix_len, 0);
    }
    if (af != AF_INET || !addr || prefix_len > 32)
        return -EINVAL;
    struct ns_iface *ifp = ns_iface_get(st, ifindex);
    if (!ifp)
        return -ENODEV;
    return ip4_addr_add(st, ifp, ntohl(((const struct in_addr *)addr)->s_addr), prefix_len);
}

int ns_if_ipv6_enable(struct ns_stack *st, int ifindex)
{
    struct ns_iface *ifp = ns_iface_get(st, ifindex);
    if (!ifp)
        return -ENODEV;
    return ip6_enable(st, ifp, false);
}

int ns_if_autoconf(struct ns_stack *st, int ifindex) { return autoconf_enable(st, ifindex, NULL); }

int ns_if_advertise(struct ns_stack *st, int ifindex, const void *prefix, unsigned prefix_len)
{
    if (!prefix)
        return autoconf_advertise(st, ifindex, NULL);
    if (prefix_len > 128)
        return -EINVAL;
    struct ns_ip6_addr p;
    memcpy(p.b, prefix, 16);
    if (ns_ip6_is_multicast(&p) || ns_ip6_is_link_local(&p))
        return -EINVAL;
    struct ac_adv_config adv;
    ac_adv_config_default(&adv, &p, (uint8_t)prefix_len);
    return autoconf_advertise(st, ifindex, &adv);
}

int ns_neigh_set(struct ns_stack *st, int ifindex, int af, const void *addr, const uint8_t mac[6])
{
    if (af != AF_INET)
        return -EAFNOSUPPORT;
    struct ns_iface *ifp = ns_iface_get(st, ifindex);
    if (!ifp)
        return -ENODEV;
    if (ifp->loopback || ifp->dev->link != NS_LINK_ETHER)
        return -EOPNOTSUPP;
    if (!addr || !mac)
        return -EINVAL;
    struct in_addr a;
    memcpy(&a, addr, sizeof(a));
    uint32_t ip = ntohl(a.s_addr);
    if (ip == 0 || ip4_is_multicast(ip) || ip4_is_broadcast(st, ip) || (mac[0] & 1))
        return -EINVAL;
    return arp_set(st, ifindex, ip, mac);
}

int ns_if_addr_del(struct ns_stack *st, int ifindex, int af, const void *addr)
{
    if (af != AF_INET6)
        return -EAFNOSUPPORT;
    struct ns_iface *ifp = ns_iface_get(st, ifindex);
    if (!ifp)
        return -ENODEV;
    if (!addr)
        return -EINVAL;
    struct ns_ip6_addr a;
    memcpy(a.b, addr, 16);
    return ip6_addr_del(st, ifp, &a);
}

/* ns_route_add for AF_INET6. */
static int route6_add_public(struct ns_stack *st, const void *dst, unsigned prefix_len,
                             const void *gw, int ifindex)
{
    if (!dst || prefix_len > 128)
        return -EINVAL;
    if (ifindex != 0 && !ns_iface_get(st, ifindex))
        return -ENODEV;
    struct ns_route6 r = {.prefix_len = (uint8_t)prefix_len, .ifindex = ifindex, .metric = 1024};
    r.dst.family = AF_INET6;
    memcpy(r.dst.u.b, dst, 16);
    if (gw) {
        memcpy(r.gw.u.b, gw, 16);
        r.gw.family = AF_INET6;
        if (ns_ip6_is_unspecified(&r.gw.u.ip6))
            r.gw.family = AF_UNSPEC;
    }
    if (r.gw.family == AF_INET6 && !ns_ip6_is_link_local(&r.gw.u.ip6)) {
        /* Linux: the gateway must be on-link by a route of its own. */
        int gw_if;
        struct ns_ip6_addr nh;
        if (route6_lookup(st, &r.gw.u.ip6, ifindex, &gw_if, &nh) < 0 ||
            !ns_ip6_eq(&nh, &r.gw.u.ip6))
            return -ENETUNREACH;
        if (ifindex == 0)
            r.ifindex = gw_if;
    } else if (ifindex == 0) {
        return -EINVAL;
    }
    return route6_add(st, &r);
}

int ns_route_add(struct ns_stack *st, int af, const void *dst, unsigned prefix_len,
                 const void *gw, int ifindex)
{
    if (af == AF_INET6)
        return route6_add_public(st, dst, prefix_len, gw, ifindex);
    if (af != AF_INET || !dst || prefix_len > 32)
        return -EINVAL;
    uint32_t d = ntohl(((const struct in_addr *)dst)->s_addr);
    uint32_t g = gw ? ntohl(((const struct in_addr *)gw)->s_addr) : 0;
    if (ifindex != 0 && !ns_iface_get(st, ifindex))
        return -ENODEV;
    if (g != 0) {
        /* The gateway must be reachable on-link (Linux: "Nexthop has invalid gateway"). */
        int gw_if;
        uint32_t gw_next;
        if (route4_lookup(st, g, &gw_if, &gw_next) < 0 || gw_next != g)
            return -ENETUNREACH;
        if (ifindex == 0)
            ifindex = gw_if;
    } else if (ifindex == 0) {
        return -EINVAL;
    }
    return route4_add(st, d & ip4_prefix_mask(prefix_len), prefix_len, g, ifindex, false);
}

int ns_route_del(struct ns_stack *st, int af, const void *dst, unsigned prefix_len)
{
    if (af == AF_INET6 && dst && prefix_len <= 128) {
        struct ns_addr d = {.family = AF_INET6};
        memcpy(d.u.b, dst, 16);
        return route6_del(st, &d, prefix_len, NULL, 0);
    }
    if (af != AF_INET || !dst || prefix_len > 32)
        return -EINVAL;
    uint32_t d = ntohl(((const struct in_addr *)dst)->s_addr);
    return route4_del(st, d & ip4_prefix_mask(prefix_len), prefix_len);
}

void ns_stack_set_forwarding(struct ns_stack *st, bool on) { st->cfg.ip_forward = on; }

/* ---- counters ------------------------------------------------------------------ */

uint64_t ns_stack_counter(const struct ns_stack *st, enum ns_counter c)
{
    return (unsigned)c < NS_CTR__COUNT ? st->counters[c] : 0;
}

void ns_stack_counters(const struct ns_stack *st, uint64_t *out)
{
    memcpy(out, st->counters, sizeof(st->counters));
}

const char *ns_counter_name(enum ns_counter c)
{
    return (unsigned)c < NS_CTR__COUNT ? counter_names[c] : "?";
}

const char *ns_counter_desc(enum ns_counter c)
{
    return (unsigned)c < NS_CTR__COUNT ? counter_descs[c] : "?";
}

void ns_stack_pbuf_stats(const struct ns_stack *st, struct ns_pbuf_pool_stats *out)
{
    ns_pbuf_pool_stats(st->pool, out);
}

void ns_stack_usage(const struct ns_stack *st, struct ns_stack_usage *out)
{
    memset(out, 0, sizeof(*out));
    arp_usage(st, out);
    out->tcp_limit_low = st->cfg.tcp_mem_low;
    out->tcp_limit_pressure = st->cfg.tcp_mem_pressure;
    out->tcp_limit_high = st->cfg.tcp_mem_high;
    if (st->tcp)
        tcp_mem_usage(st, out);
}
