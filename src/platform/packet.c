/* platform/packet.c — AF_PACKET device on an existing interface, with a
 * TPACKET_V2 receive ring. See include/netsock/os.h.
 *
 * Read first: packet(7), Documentation/networking/packet_mmap.rst (Linux).
 *
 * Receive: a PACKET_RX_RING mapped into the process; the kernel fills
 * frames and flips their status to TP_STATUS_USER, recv copies one into a
 * pbuf and hands the slot back (TP_STATUS_KERNEL) — no system call per
 * frame. TPACKET_V2, not V3: V3 hands over whole blocks and only retires a
 * partly filled block after its timeout (milliseconds), which is latency a
 * ping or a TCP handshake would see.
 * Transmit: send(2) per frame on the socket bound to the interface
 * (PACKET_QDISC_BYPASS when the kernel allows it). A TX ring would save
 * the system call but needs a flush point the device ops do not have.
 * Backpressure: EAGAIN (the socket's send buffer is full) is refused with
 * -EAGAIN until the socket is writable (POLLOUT); ENOBUFS (the driver's
 * queue is busy, or the qdisc full: the frame was freed) is refused too,
 * but writability says nothing about the driver, so tx_ready retries after
 * PACKET_TX_RETRY_US.
 * Our own frames: PACKET_IGNORE_OUTGOING (Linux 4.20); on older kernels
 * frames with sll_pkttype PACKET_OUTGOING are skipped in recv.
 * Checksums: a frame the kernel produced on this host (e.g. across a veth
 * pair) may carry a partial TCP/UDP checksum (TP_STATUS_CSUMNOTREADY: the
 * checksum offload never ran); recv completes it (IPv4 and IPv6), so the
 * stack sees what a real wire would carry.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netsock/os.h"
#include "platform/platform.h"
#include "wire/bytes.h"
#include "wire/ipv6.h"
#include "wire/wire.h"

/* Ring geometry: frames of a power-of-two size holding the header and a
 * 64 KiB packet — not just an MTU's worth: a veth (or a NIC with GRO)
 * hands AF_PACKET the unsegmented TSO/GSO packet, up to 64 KiB, and a
 * slot too small for it loses it for good (the sender's retransmissions
 * are just as big). About RING_BYTES of them (64 slots). */
#define RING_BYTES (8u << 20)
#define RING_MAX_PACKET 65536u
#define RING_BLOCK_MIN (64u << 10)

/* After ENOBUFS, try again this much later (a 1 Gbit/s NIC sends about
 * eight full-sized frames in this time). */
#define PACKET_TX_RETRY_US 100u

struct packet_dev {
    struct ns_dev dev; /* first */
    int fd;
    uint64_t tx_retry_us; /* after ENOBUFS: not before this time */
    int ifindex;
    bool promisc;
    uint8_t *ring;
    size_t ring_len;
    uint32_t frame_size, frame_nr, head; /* head: next slot to read */
};

static struct tpacket2_hdr *slot(const struct packet_dev *p, uint32_t i)
{
    return (struct tpacket2_hdr *)(void *)(p->ring + (size_t)i * p->frame_size);
}

static int packet_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    struct packet_dev *p = (struct packet_dev *)dev;
    uint32_t len = pb->len;
    int rc = 0;
    if (len < 14 || len - 14 > dev->mtu) {
        rc = -EMSGSIZE;
    } else {
        ssize_t n;
        do
            n = send(p->fd, ns_pbuf_data(pb), len, MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (errno == ENOBUFS)
                p->tx_retry_us = now_us + PACKET_TX_RETRY_US;
            rc = (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) ? -EAGAIN
                 : (errno == ENETDOWN || errno == ENXIO)                      ? -ENETDOWN
                                                                              : -errno;
        }
    }
    return ns_dev_tx_done(dev, pb, (uint32_t)len, rc);
}

static uint64_t packet_tx_ready(struct ns_dev *dev, uint64_t now_us)
{
    struct packet_dev *p = (struct packet_dev *)dev;
    if (p->tx_retry_us > now_us)
        return p->tx_retry_us;
    return plat_fd_tx_ready(p->fd, now_us);
}

/* Store the TCP or UDP checksum of l4 (l4_len bytes, pseudo-header sum
 * `sum`) at its field (offset off). */
static void store_csum(uint8_t *l4, uint32_t l4_len, uint32_t off, uint8_t proto, uint32_t sum)
{
    ns_wr16(l4 + off, 0);
    uint16_t c = ns_csum_fold(ns_csum_add(sum, l4, l4_len));
    if (proto == 17 && c == 0)
        c = 0xffff; /* RFC 768, RFC 8200 §8.1: 0 means "no checksum" */
    ns_wr16(l4 + off, c);
}

/* The checksum field's offset for a TCP/UDP header of l4_len bytes, or 0. */
static uint32_t csum_field(uint8_t proto, uint32_t l4_len)
{
    if (proto == 6 && l4_len >= 20)
        return 16;
    if (proto == 17 && l4_len >= 8)
        return 6;
    return 0;
}

/* Fill in the TCP or UDP checksum of an IPv4 or IPv6 packet whose
 * checksum the kernel left to an offload that never ran (IPv6: TCP or UDP
 * right after the fixed header, as the kernel's own packets are).
 * Anything else is left alone (the stack drops it if it is wrong). */
static void finish_csum(uint8_t *frame, uint32_t len)
{
    if (len >= 14 + 40 && ns_rd16(frame + 12) == 0x86dd) {
        uint8_t *ip = frame + 14;
        uint32_t plen = ns_rd16(ip + 4), off;
        if ((ip[0] >> 4) != 6 || 14 + 40 + plen > len || !(off = csum_field(ip[6], plen)))
            return;
        struct ns_ip6_addr src, dst;
        memcpy(src.b, ip + 8, 16);
        memcpy(dst.b, ip + 24, 16);
        store_csum(ip + 40, plen, off, ip[6], ns_csum_pseudo6(&src, &dst, plen, ip[6]));
        return;
    }
    if (len < 14 + 20 || ns_rd16(frame + 12) != 0x0800)
        return;
    uint8_t *ip = frame + 14;
    uint32_t ihl = (uint32_t)(ip[0] & 0xf) * 4;
    uint32_t total = ns_rd16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || 14 + total > len)
        return;
    if (ns_rd16(ip + 6) & 0x3fff)
        return; /* a fragment: never has a partial checksum */
    uint8_t proto = ip[9];
    uint32_t l4_len = total - ihl, off = csum_field(proto, l4_len);
    if (!off)
        return;
    store_csum(ip + ihl, l4_len, off, proto,
               ns_csum_pseudo4(ns_rd32(ip + 12), ns_rd32(ip + 16), proto, (uint16_t)l4_len));
}

static struct ns_pbuf *packet_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool, uint64_t now_us)
{
    struct packet_dev *p = (struct packet_dev *)dev;
    (void)now_us;
    for (;;) {
        struct tpacket2_hdr *h = slot(p, p->head);
        uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
        if (!(status & TP_STATUS_USER))
            return NULL;
        const struct sockaddr_ll *sll =
            (const struct sockaddr_ll *)(const void *)((const uint8_t *)h +
                                                       TPACKET_ALIGN(sizeof(*h)));
        struct ns_pbuf *pb = NULL;
        bool ours = sll->sll_pkttype == PACKET_OUTGOING;
        if (!ours) {
            if (h->tp_snaplen < h->tp_len || h->tp_mac + h->tp_snaplen > p->frame_size) {
                dev->stats.rx_drop++; /* truncated: larger than the ring's frames */
            } else {
                pb = ns_pbuf_from(pool, (const uint8_t *)h + h->tp_mac, h->tp_snaplen);
                if (!pb)
                    dev->stats.rx_drop++; /* pool empty: as a NIC with no RX buffer */
                else if (status & TP_STATUS_CSUMNOTREADY)
                    finish_csum(ns_pbuf_data(pb), pb->len);
            }
        }
        __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        p->head = (p->head + 1) % p->frame_nr;
        if (pb) {
            dev->stats.rx_frames++;
            dev->stats.rx_bytes += pb->len;
            return pb;
        }
    }
}

static uint64_t packet_next_deadline(struct ns_dev *dev)
{
    struct packet_dev *p = (struct packet_dev *)dev;
    /* Frames left in the ring (the stack stopped at its poll budget) are
     * due now; otherwise the descriptor wakes the loop. */
    uint32_t status = __atomic_load_n(&slot(p, p->head)->tp_status, __ATOMIC_ACQUIRE);
    return (status & TP_STATUS_USER) ? 0 : NS_TIME_NEVER;
}

static int packet_fd(struct ns_dev *dev) { return ((struct packet_dev *)dev)->fd; }

static void packet_close(struct ns_dev *dev)
{
    struct packet_dev *p = (struct packet_dev *)dev;
    if (p->ring)
        munmap(p->ring, p->ring_len);
    /* Closing the socket also drops its promiscuous membership. */
    if (p->fd >= 0)
        close(p->fd);
    free(p);
}

static const struct ns_dev_ops packet_ops = {
    .xmit = packet_xmit,
    .recv = packet_recv,
    .next_deadline = packet_next_deadline,
    .tick = NULL,
    .fd = packet_fd,
    .close = packet_close,
    .tx_ready = packet_tx_ready,
};

static uint32_t pow2_at_least(uint32_t x)
{
    uint32_t v = 1;
    while (v < x)
        v <<= 1;
    return v;
}

static int setup_ring(struct packet_dev *p)
{
    int version = TPACKET_V2;
    if (setsockopt(p->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0)
        return -errno;
    /* Frame: header + sockaddr_ll, padding so the IP header is aligned,
     * then Ethernet (with room for a VLAN tag) and a packet of up to
     * 64 KiB (GSO/GRO aggregates, see RING_BYTES). */
    uint32_t payload = p->dev.mtu > RING_MAX_PACKET ? p->dev.mtu : RING_MAX_PACKET;
    uint32_t need = (uint32_t)TPACKET_ALIGN(TPACKET2_HDRLEN) + 16u + 18u + payload;
    p->frame_size = pow2_at_least(need < TPACKET_ALIGNMENT ? TPACKET_ALIGNMENT : need);
    uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE);
    uint32_t block = p->frame_size > RING_BLOCK_MIN ? p->frame_size : RING_BLOCK_MIN;
    if (block < page)
        block = page;
    uint32_t blocks = RING_BYTES / block ? RING_BYTES / block : 1;
    struct tpacket_req req = {
        .tp_block_size = block,
        .tp_block_nr = blocks,
        .tp_frame_size = p->frame_size,
        .tp_frame_nr = blocks * (block / p->frame_size),
    };
    if (setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
        return -errno;
    p->frame_nr = req.tp_frame_nr;
    p->ring_len = (size_t)block * blocks;
    void *ring = mmap(NULL, p->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
    if (ring == MAP_FAILED)
        return -errno;
    p->ring = ring;
    return 0;
}

static int packet_setup(struct packet_dev *p, const char *ifname, const uint8_t mac[6])
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    if (ioctl(p->fd, SIOCGIFINDEX, &ifr) < 0)
        return -errno;
    p->ifindex = ifr.ifr_ifindex;
    if (ioctl(p->fd, SIOCGIFHWADDR, &ifr) < 0)
        return -errno;
    if (ifr.ifr_hwaddr.sa_family != 1 /* ARPHRD_ETHER */)
        return -EPROTONOSUPPORT; /* only Ethernet links */
    uint8_t if_mac[6];
    memcpy(if_mac, ifr.ifr_hwaddr.sa_data, 6);
    int mtu = plat_if_mtu(ifname);
    p->dev.mtu = mtu > 0 ? (uint32_t)mtu : 1500u;

    /* Our own transmissions would come back through the ring otherwise. */
    int one = 1;
    (void)setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
    (void)setsockopt(p->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
    int rc = setup_ring(p);
    if (rc < 0)
        return rc;
    /* Bind after the ring exists, so no frame arrives before it. */
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_protocol = htons(ETH_P_ALL),
        .sll_ifindex = p->ifindex,
    };
    if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
        return -errno;

    if (mac && memcmp(mac, if_mac, 6) != 0) {
        /* Frames to a MAC the interface does not own only reach us in
         * promiscuous mode; the membership ends with the socket. */
        struct packet_mreq mr = {.mr_ifindex = p->ifindex, .mr_type = PACKET_MR_PROMISC};
        if (setsockopt(p->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
            return -errno;
        p->promisc = true;
        memcpy(p->dev.hwaddr, mac, 6);
    } else {
        memcpy(p->dev.hwaddr, if_mac, 6);
    }
    return 0;
}

struct ns_dev *ns_packet_open(const char *ifname, const uint8_t mac[6], int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ) {
        *err = -EINVAL;
        return NULL;
    }
    struct packet_dev *p = calloc(1, sizeof(*p));
    if (!p) {
        *err = -ENOMEM;
        return NULL;
    }
    p->dev.ops = &packet_ops;
    snprintf(p->dev.name, sizeof(p->dev.name), "%s", ifname);
    p->dev.link = NS_LINK_ETHER;
    /* Protocol 0 until bound: nothing is queued before the ring is set up. */
    p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        *err = -errno;
        free(p);
        return NULL;
    }
    int rc = packet_setup(p, ifname, mac);
    if (rc < 0) {
        *err = rc;
        packet_close(&p->dev);
        return NULL;
    }
    *err = 0;
    return &p->dev;
}
