/* link/link.h — the link layer: interfaces (a device, its index, whether
 * it is the loopback, the senders waiting for its transmit queue), Ethernet
 * in and out, handing frames to devices, and the table of protocols that
 * take received frames (by ethertype).
 *
 * Read first: docs/architecture.md ("Layers", "Transmit backpressure"),
 * include/netsock/dev.h (the device contract). Upper layers register in
 * the ethertype table (link_proto_register) and are never called by name
 * from here; an interface's addresses belong to the network layer that
 * uses them (net/net.h), as Linux's in_device hangs off a net_device.
 */
#ifndef NS_LINK_LINK_H
#define NS_LINK_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "base/dlist.h"
#include "base/stack.h"
#include "netsock/dev.h"

/* A sender waiting for a device to take frames again (transmit
 * backpressure, docs/architecture.md): embedded in what waits (a TCP
 * connection), on one interface's FIFO list while it waits. */
struct ns_tx_waiter {
    struct ns_dlink link;  /* on ifp->txw while waiting */
    struct ns_iface *ifp; /* the interface waited on; NULL when not waiting */
    void (*wake)(struct ns_tx_waiter *w);
};

/* Link-layer multicast addresses one interface receives at most (IPv6
 * all-nodes, a solicited-node group per address, MLD groups). */
#define LINK_MC_MAX 32

/* An interface. Upper layers read index, dev and loopback; the rest is
 * the link layer's. */
struct ns_iface {
    int index;                  /* 1-based; 0 = slot unused */
    struct ns_dev *dev;
    bool loopback;
    /* The device refused a frame (-EAGAIN) and has not been found ready
     * since; senders that must not lose data wait on txw, in order. */
    bool tx_blocked;
    struct ns_dlist txw;
    /* Link-layer multicast groups received (link_mc_add): the MACs and how
     * many users each has. Empty on an interface nobody asked for one, so
     * that such an interface drops every multicast frame, as before. */
    struct {
        uint8_t mac[6];
        uint16_t users;
    } mc[LINK_MC_MAX];
    unsigned n_mc;
};

/* Takes a frame received on ifp, data at the protocol's header (after the
 * Ethernet header, or the whole frame on an IP link). Consumes pb. */
typedef void (*link_input_fn)(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb);

#define LINK_PROTO_MAX 4

/* The link layer's state (st->link). */
struct link_state {
    struct ns_iface ifaces[NS_IF_MAX];
    uint32_t used;              /* bit i: ifaces[i] is in use (the poll loops walk these) */
    int lo_ifindex;             /* the loopback interface (127.0.0.0/8) */
    int tx_refused_ifindex;     /* interface of the last -EAGAIN from if_xmit */
    unsigned tx_wait_ifaces;    /* interfaces with senders waiting (ns_tx_wait) */
    /* The earliest next_deadline of the devices with deadline events
     * (netsock/dev.h), kept until one of them may have moved: the stack
     * called into a device, or a device said so (dev_deadline_stale, which
     * is what their deadline_stale points to). polled_ifaces counts the
     * devices without deadline events, asked on every link_next_deadline. */
    uint64_t dev_deadline;
    bool dev_deadline_stale;
    unsigned polled_ifaces;
    /* Who takes received frames, by ethertype (link_proto_register). */
    struct {
        uint16_t ethertype;
        link_input_fn input;
    } proto[LINK_PROTO_MAX];
    unsigned nproto;
};

/* Allocate st->link: no interfaces. 0 or -ENOMEM. */
int link_init(struct ns_stack *st);
/* Close every interface's device and free st->link. */
void link_destroy(struct ns_stack *st);

/* Frames of `ethertype` received on Ethernet interfaces go to `input`;
 * on an IP link (the loopback, TUN) every frame goes to the protocol of
 * its IP version (NS_ETHERTYPE_IPV4 for version 4, and for anything that
 * is not a registered version). 0, or -ENOSPC when the table is full.
 * Called by the network layer's init. */
int link_proto_register(struct ns_stack *st, uint16_t ethertype, link_input_fn input);
/* The protocol registered for ethertype, or NULL. */
link_input_fn link_proto_input(const struct ns_stack *st, uint16_t ethertype);

/* Add a device as the next free interface (the loopback: the last slot,
 * NS_IF_MAX). Returns the index, -EINVAL for a device without the
 * mandatory ops or with an MTU below 68, -ENOSPC when all are in use. */
int link_if_add(struct ns_stack *st, struct ns_dev *dev, bool loopback);

/* The interface with this index, or NULL. */
struct ns_iface *ns_iface_get(struct ns_stack *st, int ifindex);
/* The loopback interface's index. */
int link_lo_ifindex(const struct ns_stack *st);

/* Receive from every device (at most a budget of frames each), then wake
 * the senders waiting for devices that have room again. Returns the
 * number of frames taken. */
int link_poll(struct ns_stack *st);
/* The earliest time a device needs a poll (its own deadline, or when it
 * will take frames for waiting senders), or NS_TIME_NEVER. */
uint64_t link_next_deadline_compute(struct ns_stack *st);
static inline uint64_t link_next_deadline(struct ns_stack *st)
{
    const struct link_state *l = st->link;
    if (!l->dev_deadline_stale && !l->polled_ifaces && !l->tx_wait_ifaces)
        return l->dev_deadline; /* kept, and nothing else to ask */
    return link_next_deadline_compute(st);
}

/* One frame received on ifp: counted, offload flags applied, handed to
 * the protocol it carries. Consumes pb. */
void if_input(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb);

/* Hand a finished frame to the interface's device. Consumes pb. Returns
 * 0 (sent), -EAGAIN only for a pbuf marked NS_PBUF_F_TX_DEFER that a full
 * device queue refused (not sent, counted as dev_tx_deferred; ns_tx_wait
 * then waits for that interface), or another negative errno: dropped,
 * counted — -ENOBUFS with dev_tx_full_drop for an unmarked frame a full
 * queue refused (UDP, ICMP, ARP, forwarding: Linux's qdisc drop), the
 * device's error with dev_tx_err otherwise. */
int if_xmit(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb);

/* Receive frames sent to the multicast MAC `mac` on ifp (Linux
 * dev_mc_add): counted per user, so that two upper-layer groups mapping to
 * one MAC (RFC 2464 §7 keeps only 32 bits) share it. 0, or -ENOSPC when
 * LINK_MC_MAX MACs are in use. */
int link_mc_add(struct ns_iface *ifp, const uint8_t mac[6]);
/* One user fewer (dev_mc_del); the MAC is refused again when none is
 * left. 0, or -ENOENT when it was not added. */
int link_mc_del(struct ns_iface *ifp, const uint8_t mac[6]);
/* Does ifp receive the multicast MAC `mac`? */
bool link_mc_has(const struct ns_iface *ifp, const uint8_t mac[6]);

/* ---- Ethernet (link/ethernet.c) ------------------------------------------------ */

/* A frame received on ifp. Consumes pb. */
void eth_input(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb);
/* Prepend an Ethernet header (dst, our MAC, ethertype) and transmit. Consumes pb. */
int eth_output(struct ns_stack *st, struct ns_iface *ifp, const uint8_t dst[6], uint16_t ethertype,
               struct ns_pbuf *pb);

/* ---- transmit backpressure (link/iface.c) -------------------------------------- */

/* Right after an output call returned -EAGAIN: make w wait for the
 * interface that refused the frame. w->wake(w) is called once from
 * link_poll when the device can take frames again (ops->tx_ready),
 * waiters of an interface in the order they started waiting; a waiter
 * that is refused again during its wake-up goes to the back and stops the
 * round. Nothing happens when w already waits. */
void ns_tx_wait(struct ns_stack *st, struct ns_tx_waiter *w);
/* Stop waiting (before w's owner is freed). Nothing happens when w does
 * not wait. */
void ns_tx_wait_cancel(struct ns_stack *st, struct ns_tx_waiter *w);
static inline bool ns_tx_waiting(const struct ns_tx_waiter *w) { return w->ifp != NULL; }

#endif
