/* core/stack.c — the stack object: creation, the poll loop entry points,
 * interfaces and addresses, counters and logging.
 *
 * Everything a stack owns hangs off struct ns_stack (STYLE §3); time comes
 * in through every entry point (STYLE §2). */
#include "core/stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socket/sock.h"
#include "tcp/tcp.h"
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
    cfg->ip_reass_mem_max = 4u << 20;
    cfg->ip_reass_max_frags = 256;
    cfg->tcp_rto_min_us = 200000;
    cfg->tcp_msl_us = 30000000;
    cfg->tcp_syn_retries = 6;
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
    int ifindex = NS_IF_MAX;
    struct ns_iface *ifp = &st->ifaces[ifindex - 1];
    memset(ifp, 0, sizeof(*ifp));
    ifp->index = ifindex;
    ifp->dev = lo;
    ifp->loopback = true;
    ns_timer_init(&ifp->announce_timer, NULL);
    st->lo_ifindex = ifindex;
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
    st->ip_id_next = (uint16_t)ns_rng_next(&st->rng);
    st->icmp_tokens = (uint64_t)cfg->icmp_rate_burst * 1000000u;
    st->icmp_tokens_at_us = now_us;

    st->pool = ns_pbuf_pool_new(cfg->pbuf_count, cfg->pbuf_heap_max);
    if (!st->pool || arp_init(st) < 0 || ip4_reass_init(st) < 0 || sock_init(st) < 0 ||
        loopback_init(st) < 0) {
        ns_stack_free(st);
        return NULL;
    }
    icmp4_init(st);
    return st;
}

void ns_stack_free(struct ns_stack *st)
{
    if (!st)
        return;
    sock_destroy(st);
    for (int i = 0; i < NS_IF_MAX; i++) {
        struct ns_iface *ifp = &st->ifaces[i];
        if (ifp->index) {
            ns_timer_cancel(&st->wheel, &ifp->announce_timer);
            ns_dev_close(ifp->dev);
            ifp->dev = NULL;
            ifp->index = 0;
        }
    }
    ip4_reass_destroy(st);
    arp_destroy(st);
    ns_pbuf_pool_free(st->pool);
    free(st);
}

const char *ns_stack_name(const struct ns_stack *st) { return st->name; }
uint64_t ns_stack_now(const struct ns_stack *st) { return st->now_us; }

void ns_log(struct ns_stack *st, int level, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    st->cfg.log_fn(st->cfg.log_ctx, st->name, level, st->now_us, msg);
}

struct ns_iface *ns_iface_get(struct ns_stack *st, int ifindex)
{
    if (ifindex < 1 || ifindex > NS_IF_MAX)
        return NULL;
    struct ns_iface *ifp = &st->ifaces[ifindex - 1];
    return ifp->index ? ifp : NULL;
}

static void set_time(struct ns_stack *st, uint64_t now_us)
{
    /* Time never goes backwards for a stack; a stale `now` is clamped. */
    if (now_us > st->now_us)
        st->now_us = now_us;
}

/* Dispatch one received frame by the interface's link type. */
static void if_input(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb)
{
    NS_STAT_INC(st, dev_rx_frames);
    pb->ifindex = (uint32_t)ifp->index;
    if (ifp->dev->offloads & NS_DEV_OFF_RX_CSUM)
        pb->flags |= NS_PBUF_F_CSUM_OK; /* the device vouches for every frame */
    pb->flags &= ~NS_PBUF_F_TX_DEFER; /* a looped-back pbuf is input now */
    if (ifp->dev->link == NS_LINK_ETHER)
        eth_input(st, ifp, pb);
    else
        ip4_input(st, ifp, pb);
}

/* Frames taken from one device per poll before moving on, so one busy
 * device cannot starve timers or the other devices. */
#define NS_POLL_BUDGET 256

/* ---- transmit backpressure ------------------------------------------------------
 * A device whose queue is full refuses a frame with -EAGAIN (dev.h). A TCP
 * segment refused that way was not sent: TCP leaves its sequence
 * variables alone and waits on the interface (ns_tx_wait); every poll
 * asks a device with waiters whether it has room (ops->tx_ready) and, when
 * it has, wakes them in order until one is refused again. Anything else
 * refused is dropped and counted (as Linux drops at a full qdisc). */

/* When the device of ifp expects to take frames (<= now_us: now). Only a
 * device with tx_ready has waiters (if_xmit). */
static uint64_t if_tx_ready_at(const struct ns_stack *st, struct ns_iface *ifp)
{
    struct ns_dev *dev = ifp->dev;
    if (!ifp->tx_blocked || !dev->ops->tx_ready)
        return st->now_us;
    return dev->ops->tx_ready(dev, st->now_us);
}

static void txw_unlink(struct ns_stack *st, struct ns_tx_waiter *w)
{
    struct ns_iface *ifp = w->ifp;
    if (w->prev)
        w->prev->next = w->next;
    else
        ifp->txw_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        ifp->txw_tail = w->prev;
    w->next = w->prev = NULL;
    w->ifp = NULL;
    if (!ifp->txw_head)
        st->tx_wait_ifaces--;
}

void ns_tx_wait(struct ns_stack *st, struct ns_tx_waiter *w)
{
    struct ns_iface *ifp = ns_iface_get(st, st->tx_refused_ifindex);
    if (w->ifp || !ifp)
        return;
    w->ifp = ifp;
    w->next = NULL;
    w->prev = ifp->txw_tail;
    if (ifp->txw_tail) {
        ifp->txw_tail->next = w;
    } else {
        ifp->txw_head = w;
        st->tx_wait_ifaces++;
    }
    ifp->txw_tail = w;
}

void ns_tx_wait_cancel(struct ns_stack *st, struct ns_tx_waiter *w)
{
    if (w->ifp)
        txw_unlink(st, w);
}

/* Wake the senders waiting on ifp if its device has room, in the order
 * they started waiting, until one of them fills it again (it then went to
 * the back: round robin among the waiters). */
static void if_tx_wake(struct ns_stack *st, struct ns_iface *ifp)
{
    if (!ifp->txw_head || if_tx_ready_at(st, ifp) > st->now_us)
        return;
    ifp->tx_blocked = false;
    while (ifp->txw_head && !ifp->tx_blocked) {
        struct ns_tx_waiter *w = ifp->txw_head;
        txw_unlink(st, w);
        w->wake(w);
    }
}

bool ns_if_tx_wait_writable(struct ns_stack *st, int ifindex)
{
    struct ns_iface *ifp = ns_iface_get(st, ifindex);
    return ifp && ifp->txw_head && if_tx_ready_at(st, ifp) == NS_TIME_NEVER;
}

int ns_stack_poll(struct ns_stack *st, uint64_t now_us)
{
    int frames = 0;
    set_time(st, now_us);
    for (int i = 0; i < NS_IF_MAX; i++) {
        struct ns_iface *ifp = &st->ifaces[i];
        if (!ifp->index)
            continue;
        struct ns_dev *dev = ifp->dev;
        if (dev->ops->tick)
            dev->ops->tick(dev, st->now_us);
        for (int n = 0; n < NS_POLL_BUDGET; n++) {
            struct ns_pbuf *pb = dev->ops->recv(dev, st->pool, st->now_us);
            if (!pb)
                break;
            if_input(st, ifp, pb);
            frames++;
        }
    }
    /* After the input (ACKs may have opened windows), before the timers
     * (a retransmission timeout need not fire for data still unsent). */
    for (int i = 0; st->tx_wait_ifaces && i < NS_IF_MAX; i++)
        if (st->ifaces[i].index)
            if_tx_wake(st, &st->ifaces[i]);
    ns_wheel_advance(&st->wheel, st->now_us, st);
    return frames;
}

uint64_t ns_stack_next_deadline(struct ns_stack *st)
{
    uint64_t next = ns_wheel_next(&st->wheel);
    for (int i = 0; i < NS_IF_MAX; i++) {
        struct ns_iface *ifp = &st->ifaces[i];
        if (!ifp->index)
            continue;
        uint64_t d = ifp->dev->ops->next_deadline(ifp->dev);
        if (d < next)
            next = d;
        if (ifp->txw_head) {
            /* Senders wait: when the device has room (NS_TIME_NEVER: its
             * descriptor will say, ns_if_tx_wait_writable). */
            d = if_tx_ready_at(st, ifp);
            if (d < next)
                next = d;
        }
    }
    return next;
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

/* A GSO packet for a device that cannot cut it: cut it here and send the
 * segments (Linux validate_xmit_skb -> skb_gso_segment). Consumes pb. */
static int if_xmit_gso_sw(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb)
{
    struct ns_pbuf_queue segs;
    ns_pbuf_queue_init(&segs);
    uint32_t l2_hlen = ifp->dev->link == NS_LINK_ETHER ? NS_ETH_HLEN : 0u;
    int n = ns_gso_segment(pb, l2_hlen, &segs);
    if (n < 0) {
        NS_STAT_INC(st, dev_tx_drop_offload);
        return n;
    }
    NS_STAT_INC(st, dev_tx_gso_sw);
    int rc = 0;
    struct ns_pbuf *s;
    while ((s = ns_pbuf_queue_pop(&segs))) {
        int r = if_xmit(st, ifp, s);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

int if_xmit(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb)
{
    struct ns_dev *dev = ifp->dev;
    /* Offload work the device does not offer is done here (dev.h). */
    if (pb->gso_size) {
        uint32_t l2_hlen = dev->link == NS_LINK_ETHER ? NS_ETH_HLEN : 0u;
        if (!(dev->offloads & NS_DEV_OFF_TSO) || pb->len > l2_hlen + dev->gso_max_size)
            return if_xmit_gso_sw(st, ifp, pb);
    }
    if ((pb->flags & NS_PBUF_F_CSUM_PARTIAL) && !(dev->offloads & NS_DEV_OFF_TX_CSUM)) {
        if (ns_pbuf_csum_finish(pb) < 0) {
            NS_STAT_INC(st, dev_tx_drop_offload);
            ns_pbuf_free(pb);
            return -EINVAL;
        }
        NS_STAT_INC(st, dev_tx_csum_sw);
    }
    bool defer = pb->flags & NS_PBUF_F_TX_DEFER;
    int rc = dev->ops->xmit(dev, pb, st->now_us);
    if (rc == -EAGAIN && !dev->ops->tx_ready)
        defer = false; /* a device that cannot say when it is ready: a drop */
    if (rc == -EAGAIN) {
        /* Queue full: not sent. The sender keeps the data (TCP), or the
         * frame is lost here (anything else; Linux: a qdisc drop), which
         * its sender hears as before, -ENOBUFS. */
        ifp->tx_blocked = true;
        st->tx_refused_ifindex = ifp->index;
        if (defer) {
            NS_STAT_INC(st, dev_tx_deferred);
        } else {
            NS_STAT_INC(st, dev_tx_full_drop);
            rc = -ENOBUFS;
        }
    } else if (rc < 0) {
        NS_STAT_INC(st, dev_tx_err);
    } else {
        NS_STAT_INC(st, dev_tx_frames);
    }
    return rc;
}

/* ---- interfaces and addresses ------------------------------------------------ */

int ns_if_add(struct ns_stack *st, struct ns_dev *dev)
{
    if (!dev || !dev->ops || !dev->ops->xmit || !dev->ops->recv || !dev->ops->next_deadline ||
        !dev->ops->close || dev->mtu < 68)
        return -EINVAL; /* RFC 791: every link carries at least 68 bytes */
    for (int i = 0; i < NS_IF_MAX; i++) {
        struct ns_iface *ifp = &st->ifaces[i];
        if (ifp->index)
            continue;
        memset(ifp, 0, sizeof(*ifp));
        ifp->index = i + 1;
        ifp->dev = dev;
        ns_timer_init(&ifp->announce_timer, NULL);
        NS_LOG(st, NS_LOG_DEBUG, "interface %d: %s mtu %u", ifp->index, dev->name, dev->mtu);
        return ifp->index;
    }
    return -ENOSPC;
}

struct ns_dev *ns_if_dev(struct ns_stack *st, int ifindex)
{
    struct ns_iface *ifp = ns_iface_get(st, ifindex);
    return ifp ? ifp->dev : NULL;
}

static uint32_t prefix_mask(unsigned prefix_len)
{
    return prefix_len == 0 ? 0 : 0xffffffffu << (32 - prefix_len);
}

int ns_if_addr_add(struct ns_stack *st, int ifindex, int af, const void *addr,
                   unsigned prefix_len)
{
    if (af == AF_INET6)
        return -EAFNOSUPPORT;
    if (af != AF_INET || !addr || prefix_len > 32)
        return -EINVAL;
    struct ns_iface *ifp = ns_iface_get(st, ifindex);
    if (!ifp)
        return -ENODEV;
    uint32_t a = ntohl(((const struct in_addr *)addr)->s_addr);
    if (a == 0 || ip4_is_multicast(a) || ip4_is_limited_bcast(a))
        return -EINVAL;
    for (int i = 0; i < NS_IF_MAX; i++) {
        const struct ns_iface *o = &st->ifaces[i];
        for (unsigned k = 0; o->index && k < o->n_addr4; k++)
            if (o->addr4[k].addr == a)
                return -EEXIST;
    }
    if (ifp->n_addr4 == NS_IF_ADDR_MAX)
        return -ENOSPC;
    struct ns_if_addr4 *ia = &ifp->addr4[ifp->n_addr4];
    ia->addr = a;
    ia->mask = prefix_mask(prefix_len);
    ia->prefix_len = (uint8_t)prefix_len;
    ia->announce_left = 0;
    int rc = route4_add(st, a & ia->mask, prefix_len, 0, ifindex, true);
    if (rc < 0 && rc != -EEXIST)
        return rc;
    ifp->n_addr4++;
    char buf[16];
    NS_LOG(st, ifp->loopback ? NS_LOG_DEBUG : NS_LOG_INFO, "address %s/%u on %s",
           ns_ip4_ntoa(a, buf), prefix_len, ifp->dev->name);
    if (ifp->dev->link == NS_LINK_ETHER)
        arp_announce(st, ifp, a);
    return 0;
}

int ns_route_add(struct ns_stack *st, int af, const void *dst, unsigned prefix_len,
                 const void *gw, int ifindex)
{
    if (af == AF_INET6)
        return -EAFNOSUPPORT;
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
    return route4_add(st, d & prefix_mask(prefix_len), prefix_len, g, ifindex, false);
}

int ns_route_del(struct ns_stack *st, int af, const void *dst, unsigned prefix_len)
{
    if (af != AF_INET || !dst || prefix_len > 32)
        return -EINVAL;
    uint32_t d = ntohl(((const struct in_addr *)dst)->s_addr);
    return route4_del(st, d & prefix_mask(prefix_len), prefix_len);
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
    out->arp_entries = st->arp.count;
    out->arp_unres = st->arp.unres;
    out->arp_hold_pkts = st->arp.hold_pkts;
    out->arp_hold_bytes = st->arp.hold_bytes;
    out->arp_hold_limit = st->cfg.arp_queue_total_bytes;
    out->tcp_limit_low = st->cfg.tcp_mem_low;
    out->tcp_limit_pressure = st->cfg.tcp_mem_pressure;
    out->tcp_limit_high = st->cfg.tcp_mem_high;
    if (st->tcp)
        tcp_mem_usage(st, out);
}
