/* link/iface.c — interfaces: the table of them, receiving from their
 * devices, handing frames to them (with the offload work a device does
 * not do), transmit backpressure, and the ethertype table that says who
 * takes a received frame.
 *
 * Read first: include/netsock/dev.h (the device contract: xmit consumes,
 * -EAGAIN and tx_ready), docs/architecture.md "Transmit backpressure".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "link/link.h"
#include "wire/wire.h"

/* The next interface in use at or after slot *i (advancing *i past it),
 * or NULL: the interfaces in index order, unused slots skipped. */
static struct ns_iface *if_next(struct link_state *l, int *i)
{
    uint32_t rest = *i < NS_IF_MAX ? l->used >> *i : 0;
    if (!rest)
        return NULL;
    *i += __builtin_ctz(rest);
    return &l->ifaces[(*i)++];
}

int link_init(struct ns_stack *st)
{
    st->link = calloc(1, sizeof(*st->link));
    return st->link ? 0 : -ENOMEM;
}

void link_destroy(struct ns_stack *st)
{
    struct link_state *l = st->link;
    if (!l)
        return;
    struct ns_iface *ifp;
    for (int i = 0; (ifp = if_next(l, &i));) {
        ifp->dev->deadline_stale = NULL; /* it may still queue or purge while closing */
        ns_dev_close(ifp->dev);
        ifp->dev = NULL;
        ifp->index = 0;
    }
    free(l);
    st->link = NULL;
}

int link_proto_register(struct ns_stack *st, uint16_t ethertype, link_input_fn input)
{
    struct link_state *l = st->link;
    if (l->nproto == LINK_PROTO_MAX)
        return -ENOSPC;
    l->proto[l->nproto].ethertype = ethertype;
    l->proto[l->nproto].input = input;
    l->nproto++;
    return 0;
}

link_input_fn link_proto_input(const struct ns_stack *st, uint16_t ethertype)
{
    const struct link_state *l = st->link;
    for (unsigned i = 0; i < l->nproto; i++)
        if (l->proto[i].ethertype == ethertype)
            return l->proto[i].input;
    return NULL;
}

int link_if_add(struct ns_stack *st, struct ns_dev *dev, bool loopback)
{
    if (!dev || !dev->ops || !dev->ops->xmit || !dev->ops->recv || !dev->ops->next_deadline ||
        !dev->ops->close || dev->mtu < 68)
        return -EINVAL; /* RFC 791: every link carries at least 68 bytes */
    struct link_state *l = st->link;
    /* The loopback takes the last slot, so the devices a program adds are
     * numbered from 1 in the order added. */
    int first = loopback ? NS_IF_MAX - 1 : 0;
    for (int i = first; i < NS_IF_MAX; i++) {
        struct ns_iface *ifp = &l->ifaces[i];
        if (ifp->index)
            continue;
        memset(ifp, 0, sizeof(*ifp));
        l->used |= 1u << i;
        ifp->index = i + 1;
        ifp->dev = dev;
        ifp->loopback = loopback;
        dev->deadline_stale = &l->dev_deadline_stale;
        l->dev_deadline_stale = true;
        if (!dev->deadline_events)
            l->polled_ifaces++;
        if (loopback)
            l->lo_ifindex = ifp->index;
        else
            NS_LOG(st, NS_LOG_DEBUG, "interface %d: %s mtu %u", ifp->index, dev->name, dev->mtu);
        return ifp->index;
    }
    return -ENOSPC;
}

struct ns_iface *ns_iface_get(struct ns_stack *st, int ifindex)
{
    if (ifindex < 1 || ifindex > NS_IF_MAX)
        return NULL;
    struct ns_iface *ifp = &st->link->ifaces[ifindex - 1];
    return ifp->index ? ifp : NULL;
}

int link_lo_ifindex(const struct ns_stack *st) { return st->link->lo_ifindex; }

void if_input(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb)
{
    NS_STAT_INC(st, dev_rx_frames);
    pb->ifindex = (uint32_t)ifp->index;
    if (ifp->dev->offloads & NS_DEV_OFF_RX_CSUM)
        pb->flags |= NS_PBUF_F_CSUM_OK; /* the device vouches for every frame */
    pb->flags &= ~NS_PBUF_F_TX_DEFER; /* a looped-back pbuf is input now */
    if (ifp->dev->link == NS_LINK_ETHER) {
        eth_input(st, ifp, pb);
        return;
    }
    /* An IP link: the version nibble says which protocol; anything but a
     * registered version goes to IPv4, whose checks count it. */
    link_input_fn in = NULL;
    if (pb->len && (ns_pbuf_data(pb)[0] >> 4) == 6)
        in = link_proto_input(st, NS_ETHERTYPE_IPV6);
    if (!in)
        in = link_proto_input(st, NS_ETHERTYPE_IPV4);
    if (in)
        in(st, ifp, pb);
    else
        ns_pbuf_free(pb);
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
    ns_dlist_remove(&ifp->txw, &w->link);
    w->ifp = NULL;
    if (!ifp->txw.head)
        st->link->tx_wait_ifaces--;
}

void ns_tx_wait(struct ns_stack *st, struct ns_tx_waiter *w)
{
    struct ns_iface *ifp = ns_iface_get(st, st->link->tx_refused_ifindex);
    if (w->ifp || !ifp)
        return;
    w->ifp = ifp;
    if (!ifp->txw.head)
        st->link->tx_wait_ifaces++;
    ns_dlist_push_tail(&ifp->txw, &w->link);
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
    if (!ifp->txw.head || if_tx_ready_at(st, ifp) > st->now_us)
        return;
    ifp->tx_blocked = false;
    while (ifp->txw.head && !ifp->tx_blocked) {
        struct ns_tx_waiter *w = NS_CONTAINER_OF(ifp->txw.head, struct ns_tx_waiter, link);
        txw_unlink(st, w);
        w->wake(w);
    }
}

bool ns_if_tx_wait_writable(struct ns_stack *st, int ifindex)
{
    struct ns_iface *ifp = ns_iface_get(st, ifindex);
    return ifp && ifp->txw.head && if_tx_ready_at(st, ifp) == NS_TIME_NEVER;
}

int link_poll(struct ns_stack *st)
{
    struct link_state *l = st->link;
    int frames = 0;
    struct ns_iface *ifp;
    for (int i = 0; (ifp = if_next(l, &i));) {
        struct ns_dev *dev = ifp->dev;
        if (dev->ops->tick) {
            dev->ops->tick(dev, st->now_us);
            l->dev_deadline_stale = true;
        }
        for (int n = 0; n < NS_POLL_BUDGET; n++) {
            struct ns_pbuf *pb = dev->ops->recv(dev, st->pool, st->now_us);
            if (!pb)
                break;
            l->dev_deadline_stale = true; /* its queue moved */
            if_input(st, ifp, pb);
            frames++;
        }
    }
    /* After the input (ACKs may have opened windows), before the timers
     * (a retransmission timeout need not fire for data still unsent). */
    for (int i = 0; l->tx_wait_ifaces && (ifp = if_next(l, &i));)
        if_tx_wake(st, ifp);
    return frames;
}

/* link_next_deadline when the kept answer does not do (link.h). */
uint64_t link_next_deadline_compute(struct ns_stack *st)
{
    struct link_state *l = st->link;
    struct ns_iface *ifp;
    if (l->dev_deadline_stale) {
        uint64_t next = NS_TIME_NEVER;
        for (uint32_t m = l->used; m; m &= m - 1) {
            struct ns_dev *dev = l->ifaces[__builtin_ctz(m)].dev;
            if (!dev->deadline_events)
                continue;
            uint64_t d = dev->ops->next_deadline(dev);
            if (d < next)
                next = d;
        }
        l->dev_deadline = next;
        l->dev_deadline_stale = false;
    }
    uint64_t next = l->dev_deadline;
    if (!l->polled_ifaces && !l->tx_wait_ifaces)
        return next;
    for (int i = 0; (ifp = if_next(l, &i));) {
        if (!ifp->dev->deadline_events) {
            uint64_t d = ifp->dev->ops->next_deadline(ifp->dev);
            if (d < next)
                next = d;
        }
        if (ifp->txw.head) {
            /* Senders wait: when the device has room (NS_TIME_NEVER: its
             * descriptor will say, ns_if_tx_wait_writable). */
            uint64_t d = if_tx_ready_at(st, ifp);
            if (d < next)
                next = d;
        }
    }
    return next;
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
        uint32_t tso = pb->gso_type == NS_GSO_TCPV6 ? NS_DEV_OFF_TSO6 : NS_DEV_OFF_TSO;
        if (!(dev->offloads & tso) || pb->len > l2_hlen + dev->gso_max_size)
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
    st->link->dev_deadline_stale = true; /* a device may queue to itself (loopback, delays) */
    if (rc == -EAGAIN && !dev->ops->tx_ready)
        defer = false; /* a device that cannot say when it is ready: a drop */
    if (rc == -EAGAIN) {
        /* Queue full: not sent. The sender keeps the data (TCP), or the
         * frame is lost here (anything else; Linux: a qdisc drop), which
         * its sender hears as before, -ENOBUFS. */
        ifp->tx_blocked = true;
        st->link->tx_refused_ifindex = ifp->index;
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
