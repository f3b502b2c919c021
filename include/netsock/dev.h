/* netsock/dev.h — network devices behind an ops table, and the wrappers
 * that stack on any device.
 *
 * A device moves whole frames: Ethernet frames for NS_LINK_ETHER devices,
 * bare IP packets for NS_LINK_IP devices. The stack polls it; the device
 * never calls into the stack. Time comes in as an argument (`now_us`,
 * microseconds on the clock that drives the stack: virtual time in the
 * simulator, CLOCK_MONOTONIC over real devices).
 *
 * Ownership: ns_if_add() hands a device to a stack, which closes it when the
 * stack is freed. A wrapper owns the device it wraps and closes it on close.
 */
#ifndef NETSOCK_DEV_H
#define NETSOCK_DEV_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsock/pbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NS_TIME_NEVER UINT64_MAX

enum ns_link_type {
    NS_LINK_ETHER = 1, /* Ethernet II frames */
    NS_LINK_IP = 2,    /* IP packets, no link header (TUN) */
};

struct ns_dev;

struct ns_dev_ops {
    /* Send one frame. Always consumes `pb` (sent, queued, refused or
     * dropped). Returns
     *   0        sent or queued for sending;
     *   -EAGAIN  transmit queue full (backpressure, as a Linux driver's
     *            netif_stop_queue): the frame was NOT sent, it is counted in
     *            stats.tx_busy, not tx_drop, and the device expects to take
     *            frames again at tx_ready(). Only devices whose queue is
     *            local to the host do this (simulated link ports, the queue
     *            device with a limit, TAP, AF_PACKET); the stack then keeps
     *            TCP data unsent until the device is ready and drops
     *            anything else (docs/architecture.md "Transmit
     *            backpressure"). A frame that could never fit (larger than
     *            the whole queue) is dropped instead, never refused;
     *   another negative errno when the frame was dropped (-EMSGSIZE larger
     *            than the MTU allows, -ENOBUFS no buffer or a queue that
     *            drops, -ENETDOWN no peer). */
    int (*xmit)(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us);

    /* Return the next received frame that is due at or before now_us, in a
     * pbuf allocated from `pool`, or NULL when there is none (or the pool is
     * empty: then the frame stays queued and recv is tried again later). */
    struct ns_pbuf *(*recv)(struct ns_dev *dev, struct ns_pbuf_pool *pool, uint64_t now_us);

    /* Earliest time at which this device has work (a frame becomes due, a
     * delayed frame must be released). NS_TIME_NEVER when idle or when the
     * device is driven by a file descriptor instead. */
    uint64_t (*next_deadline)(struct ns_dev *dev);

    /* Optional (may be NULL): do time-driven internal work due by now_us,
     * such as releasing delayed transmit frames to a wrapped device. The
     * stack calls it before recv on every poll. */
    void (*tick)(struct ns_dev *dev, uint64_t now_us);

    /* Optional: OS descriptor a real-time loop can wait on, or -1. */
    int (*fd)(struct ns_dev *dev);

    /* Release everything (and the wrapped device, for a wrapper). */
    void (*close)(struct ns_dev *dev);

    /* Optional (NULL for a device whose xmit never returns -EAGAIN): when
     * the device expects to take frames again after refusing one.
     *   <= now_us     now;
     *   a later time  when its queue will have drained enough (a simulated
     *                 device on virtual time, or a device that can only
     *                 retry after a while): the stack includes it in
     *                 ns_stack_next_deadline;
     *   NS_TIME_NEVER not by itself: when its descriptor (ops->fd) becomes
     *                 writable, which a real-time loop waits for with
     *                 EPOLLOUT, or when the program takes frames from a
     *                 queue device.
     * May be asked at any time, also when nothing was refused; it may make
     * a system call (poll) but never blocks. */
    uint64_t (*tx_ready)(struct ns_dev *dev, uint64_t now_us);
};

struct ns_dev_stats {
    uint64_t tx_frames, tx_bytes, tx_drop;
    uint64_t tx_busy; /* frames refused with -EAGAIN (queue full; not sent, not dropped here) */
    uint64_t rx_frames, rx_bytes, rx_drop;
};

struct ns_dev {
    const struct ns_dev_ops *ops;
    char name[16];
    enum ns_link_type link;
    uint32_t mtu;       /* largest IP packet the device carries, bytes */
    uint8_t hwaddr[6];  /* MAC address (NS_LINK_ETHER) */
    uint32_t offloads;  /* NS_DEV_OFF_* the device performs */
    uint32_t gso_max_size; /* NS_DEV_OFF_TSO: largest GSO packet xmit takes (IP header on) */
    struct ns_dev_stats stats;
    /* Deadline events (docs/links.md "Deadline events"). A device sets
     * deadline_events when its next_deadline changes only inside the
     * stack's calls into it (xmit, recv, tick) or with a call of
     * ns_dev_deadline_changed() it makes itself (a frame put on its queue
     * by another host or by the program); the stack then keeps its
     * devices' earliest deadline instead of asking each of them on every
     * ns_stack_next_deadline. A device that leaves it false is asked every
     * time. `upper` is the wrapper that holds this device (set by the
     * wrapper); `deadline_stale` belongs to the stack that owns the device
     * (set while it is an interface). */
    bool deadline_events;
    struct ns_dev *upper;
    bool *deadline_stale;
};

/* For device implementations: dev's next_deadline may have moved outside
 * the stack's calls into it. Tells the stack that owns dev (through the
 * wrappers around it); harmless for a device no stack owns. */
static inline void ns_dev_deadline_changed(struct ns_dev *dev)
{
    while (dev->upper)
        dev = dev->upper;
    if (dev->deadline_stale)
        *dev->deadline_stale = true;
}

/* Offloads a device may offer (docs/links.md "Offloads"). The stack hands
 * a device only work it offers: a frame with NS_PBUF_F_CSUM_PARTIAL only
 * to a device with NS_DEV_OFF_TX_CSUM, a GSO packet (gso_size > 0) only to
 * one with NS_DEV_OFF_TSO (TCPv4) or NS_DEV_OFF_TSO6 (TCPv6); for any
 * other device it finishes the checksum
 * or cuts the packet itself first. */
#define NS_DEV_OFF_RX_CSUM 0x1u /* every received frame's checksums already verified */
#define NS_DEV_OFF_TX_CSUM 0x2u /* device finishes partial transport checksums */
#define NS_DEV_OFF_TSO 0x4u     /* device cuts TCPv4 GSO packets up to gso_max_size */
#define NS_DEV_OFF_TSO6 0x8u    /* device cuts TCPv6 GSO packets up to gso_max_size */

/* For device implementations: count a transmit attempt of len bytes that
 * ended with rc (0 sent, -EAGAIN refused, other negative dropped), free pb,
 * return rc. */
static inline int ns_dev_tx_done(struct ns_dev *dev, struct ns_pbuf *pb, uint32_t len, int rc)
{
    if (rc == -EAGAIN) {
        dev->stats.tx_busy++;
    } else if (rc) {
        dev->stats.tx_drop++;
    } else {
        dev->stats.tx_frames++;
        dev->stats.tx_bytes += len;
    }
    ns_pbuf_free(pb);
    return rc;
}

/* ---- offload work in software ---------------------------------------------
 * What a device without the offload does, and what a wrapper that must see
 * wire frames (the fault injector) does to frames that carry offload work.
 * Both act on a frame: l2_hlen is the link header in front of the IPv4
 * header (14 for NS_LINK_ETHER, 0 for NS_LINK_IP). */

/* Finish pb's partial checksum (NS_PBUF_F_CSUM_PARTIAL): sum from
 * csum_start to the end of the data, store the complement in the field,
 * clear the flag (a UDP result of 0 is stored as 0xffff, RFC 768). A pbuf
 * without the flag is left alone. Returns 0, or -EINVAL when the offsets
 * lie outside the data (nothing changes then). */
int ns_pbuf_csum_finish(struct ns_pbuf *pb);

/* Cut a TCPv4 or TCPv6 GSO packet (gso_size > 0, see pbuf.h) into wire segments of
 * at most gso_size payload bytes, as a TSO device would (Linux
 * tcp_gso_segment): each segment gets the headers with its own IPv4 total
 * length, an IP ID one above the previous one (RFC 6864 §4.1), its own
 * sequence number, FIN and PSH only on the last, CWR only on the first
 * (RFC 3168 §6.1.2), and complete IPv4 and TCP checksums (TCPv6: the
 * IPv6 payload length per segment, no ID, the TCP checksum over the IPv6
 * pseudo-header). Segments are
 * allocated from pb's pool (NS_PBUF_HEADROOM headroom), keep pb's ifindex,
 * time_us and NS_PBUF_F_CSUM_OK / NS_PBUF_F_L2_BCAST flags, and are
 * appended to `out` in sequence order. A packet whose payload fits in one
 * segment is not copied: pb itself is appended, finished.
 * Always consumes pb. Returns the number of segments, or -EINVAL (not a
 * well-formed TCP GSO packet) / -ENOBUFS (pool or heap exhausted); on
 * error nothing is appended. */
int ns_gso_segment(struct ns_pbuf *pb, uint32_t l2_hlen, struct ns_pbuf_queue *out);

/* Close any device (NULL ignored). */
static inline void ns_dev_close(struct ns_dev *dev) { if (dev) dev->ops->close(dev); }

/* ---- impairments ---------------------------------------------------------
 * One direction of a link, or of a fault wrapper. Probabilities are in
 * [0, 1]; every random choice comes from a seeded PRNG, so a run is
 * reproducible from its seed. */
struct ns_link_params {
    uint64_t delay_us;         /* one-way propagation delay */
    uint64_t jitter_us;        /* extra delay, uniform in [0, jitter_us]; keeps FIFO order */
    uint64_t rate_bps;         /* bandwidth, bits/s; 0 = unlimited */
    uint32_t queue_bytes;      /* bytes waiting for serialization before tail drop (a
                                  simulated link refuses instead: sim.h); 0 = unlimited */
    uint32_t mtu;              /* largest IP packet carried; 0 = no limit */
    double loss;               /* probability a frame is lost */
    double dup;                /* probability a frame is delivered twice */
    double reorder;            /* probability a frame is held back ... */
    uint64_t reorder_delay_us; /* ... by this much extra, letting later frames pass */
    double corrupt;            /* probability one random bit of the frame is flipped */
};

/* Defaults: no delay, unlimited rate and queue, MTU 1500, no impairments. */
void ns_link_params_default(struct ns_link_params *p);

/* Parse an impairment spec, comma-separated key=value pairs as the tools'
 * --impair option takes them, e.g.
 *   "loss=1%,delay=20ms,jitter=1ms,reorder=1%,dup=0.1%,rate=100mbit,seed=7"
 * Keys and values:
 *   loss, dup, reorder, corrupt   probability: a percentage "1%" or a
 *                                 fraction "0.01", in [0, 1]
 *   delay, jitter, reorder_delay  time with a unit: us, ms or s ("1.5ms");
 *                                 a bare 0 is allowed
 *   rate                          bits/s with a unit as tc(8): bit, kbit,
 *                                 mbit, gbit (x1000) or bps, kbps, mbps,
 *                                 gbps (bytes/s, x8); 0 = unlimited
 *   queue                         bytes, with an optional k or m (x1024),
 *                                 "64k"; 0 = unlimited
 *   mtu                           bytes, 68..65535, or 0 = no limit
 *   seed                          the fault PRNG seed (decimal or 0x hex);
 *                                 stored in *seed (a seed key with seed
 *                                 NULL is an error)
 * reorder without reorder_delay holds frames back by 10 ms.
 * Keys not in the spec keep the values *out held on entry: initialise it
 * (ns_link_params_default) first. An empty spec changes nothing.
 * Returns 0, or -EINVAL with a message naming the offending key=value in
 * errbuf (when errbuf is not NULL); on error *out and *seed are unchanged. */
int ns_link_params_parse(const char *spec, struct ns_link_params *out, uint64_t *seed,
                         char *errbuf, size_t errlen);

struct ns_impair_stats {
    uint64_t frames;     /* frames offered */
    uint64_t delivered;  /* frame copies delivered (dups count twice) */
    uint64_t lost;
    uint64_t duplicated;
    uint64_t reordered;
    uint64_t corrupted;
    uint64_t queue_drop; /* tail drops: queue_bytes exceeded */
    uint64_t mtu_drop;   /* frames larger than the MTU */
    uint64_t queue_full; /* simulated link ports: frames refused with -EAGAIN, the
                            queue being full; not offered, so not in `frames` */
};

/* ---- fault-injection wrapper ---------------------------------------------
 * Wrap any device so that frames it sends (tx) and receives (rx) suffer the
 * given impairments. NULL params leave that direction untouched. Seeded:
 * same seed, same faults. Returns NULL on allocation failure (inner is then
 * left open and still owned by the caller). */
struct ns_dev *ns_fault_wrap(struct ns_dev *inner, const struct ns_link_params *tx,
                             const struct ns_link_params *rx, uint64_t seed);
/* Statistics of a device made by ns_fault_wrap (either may be NULL). */
void ns_fault_stats(const struct ns_dev *fault_dev, struct ns_impair_stats *tx,
                    struct ns_impair_stats *rx);

/* ---- pcap capture wrapper --------------------------------------------------
 * Wrap any device so every frame it sends and receives is written to a
 * capture file at `path`, LINKTYPE_ETHERNET or LINKTYPE_RAW by the inner
 * device's link type. The file is complete and readable (tcpdump -r,
 * Wireshark, tshark) after ns_pcap_flush() or close. Records are written
 * in the order the stack handed or took the frames, each stamped with the
 * `now_us` of that call plus the options' ts_offset_us; the bytes written
 * depend on nothing else (same frames and times, same file). */

enum ns_pcap_format {
    NS_PCAP_CLASSIC = 0, /* pcap (tcpdump's savefile), microsecond timestamps */
    NS_PCAP_NG = 1,      /* pcapng: a section, one interface with its name and a
                            comment on its link and offloads, enhanced packet blocks */
};

struct ns_pcap_opts {
    enum ns_pcap_format format; /* default NS_PCAP_CLASSIC */
    /* Added to now_us for every timestamp. Default 0: the stack's own clock
     * (the simulator's virtual time, counted from 1970 by readers). On a
     * real link, ns_clock_realtime_offset_us() (os.h) turns the monotonic
     * clock into UTC wall-clock time, so captures line up with tcpdump's. */
    uint64_t ts_offset_us;
    /* pcapng only (NULL: the defaults). if_name: the interface's name
     * (default: the inner device's name). comment: the interface's comment
     * (default: the link type, MTU and the offloads the device performs,
     * and what they mean for the frames recorded). */
    const char *if_name;
    const char *comment;
};

/* Fill `o` with the defaults above. */
void ns_pcap_opts_default(struct ns_pcap_opts *o);

/* Wrap inner, capturing to path as opts say (NULL: the defaults). Returns
 * NULL and sets *err (a negative errno: -EINVAL for a bad format, or why
 * the file cannot be created) on failure; inner is then still owned by the
 * caller. */
struct ns_dev *ns_pcap_wrap_opts(struct ns_dev *inner, const char *path,
                                 const struct ns_pcap_opts *opts, int *err);
/* ns_pcap_wrap_opts with the defaults: classic pcap on the stack's clock. */
struct ns_dev *ns_pcap_wrap(struct ns_dev *inner, const char *path, int *err);
/* Flush buffered records of a device made by ns_pcap_wrap to its file. */
int ns_pcap_flush(struct ns_dev *pcap_dev);
/* Frames written so far by a device made by ns_pcap_wrap. */
uint64_t ns_pcap_count(const struct ns_dev *pcap_dev);

/* ---- loopback device -------------------------------------------------------
 * Frames sent come back as received at the next poll (NS_LINK_IP, MTU
 * 65536). Every stack creates one, "lo" with 127.0.0.1/8, as its last
 * interface (NS_IF_MAX), so added devices are numbered from 1. */
struct ns_dev *ns_loopback_new(void);

/* ---- queue device ----------------------------------------------------------
 * A device whose other end is the program: frames the program injects are
 * received by the stack; frames the stack sends wait in a queue the program
 * takes them from. Tests and fuzzers drive a stack through it ("at time T
 * this frame arrives; these frames leave"). mac may be NULL (then
 * 02:00:00:00:00:01). */
struct ns_dev *ns_qdev_new(const char *name, enum ns_link_type link, const uint8_t mac[6],
                           uint32_t mtu);
/* Queue a copy of a frame for the stack to receive. 0 or -ENOMEM. */
int ns_qdev_inject(struct ns_dev *qdev, const void *frame, size_t len);
/* Take the oldest frame the stack sent: copies up to cap bytes into buf and
 * returns the frame's full length, or -1 when none is queued. */
long ns_qdev_take(struct ns_dev *qdev, void *buf, size_t cap);
/* Frames waiting to be taken. */
size_t ns_qdev_pending(const struct ns_dev *qdev);
/* Bound the frames waiting to be taken (0, the default: unbounded). With
 * the bound reached, xmit refuses with -EAGAIN (transmit backpressure, see
 * ns_dev_ops) and tx_ready says NS_TIME_NEVER until ns_qdev_take makes
 * room; the program then polls the stack, which wakes its waiting
 * senders. Returns 0, or -EINVAL for a device that is not a queue device. */
int ns_qdev_set_tx_limit(struct ns_dev *qdev, size_t frames);

#ifdef __cplusplus
}
#endif
#endif
