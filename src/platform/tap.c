/* platform/tap.c — TAP (Ethernet frames) and TUN (IPv4 packets) devices
 * through /dev/net/tun. See include/netsock/os.h.
 *
 * Read first: Documentation/networking/tuntap.rst (Linux), netdevice(7).
 *
 * One open file is one queue of the kernel interface. IFF_NO_PI: every
 * read(2) returns exactly one frame (or packet, for TUN) with no packet
 * information header, every write(2) sends one. The descriptor is
 * non-blocking: recv reads until EAGAIN (the stack calls it up to its poll
 * budget per poll, which is the batch), xmit writes; a write that fails
 * with EAGAIN (the descriptor's send buffer is full) is refused with
 * -EAGAIN, transmit backpressure, and tx_ready waits for the descriptor to
 * become writable (POLLOUT).
 *
 * Creation and attachment: TUNSETIFF creates the interface when no
 * interface of that name exists, and attaches to it when one does (made
 * persistent with `ip tuntap add`, or owned by another program). An
 * interface created here is not persistent: the kernel removes it when
 * the descriptor is closed. An attached one stays.
 *
 * Attaching to an interface that is up: the kernel turns the carrier on
 * when a queue attaches, but reactivates the interface's transmit queue
 * discipline only later, from its link-watch work; until then it drops
 * what it sends us (the replies to our first frames). Open waits, up to
 * TAP_CARRIER_WAIT_US, for the interface to report IFF_RUNNING.
 *
 * Buffers: a frame is read straight into a pbuf from the stack's pool,
 * sized for the interface's MTU read at open time (SIOCGIFMTU). When the
 * pool is empty the frame is read and dropped (rx_drop), as a NIC drops
 * with an empty RX ring: leaving it in the kernel queue would keep the
 * descriptor readable and spin the loop until the program frees buffers.
 *
 * Offloads (default on; NS_TUNTAP_NO_OFFLOAD turns them off): IFF_VNET_HDR
 * puts a virtio-net header (wire/vnet.h) in front of every frame both
 * ways, TUNSETVNETHDRSZ makes it the 12-byte virtio 1.x one, and
 * TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) lets the kernel send
 * us frames with the TCP/UDP checksum left partial and TCPv4 and TCPv6 GSO
 * packets of up to 64 KiB (what its TCP built for TSO, or what GRO
 * merged). We send it the same (NS_DEV_OFF_TX_CSUM | NS_DEV_OFF_TSO |
 * NS_DEV_OFF_TSO6): the kernel accepts those
 * from any IFF_VNET_HDR writer. Frames are read with readv: the header,
 * then a pool buffer, then a 64 KiB scratch area; a frame longer than the
 * pool buffer is copied into a heap pbuf of its size, so small frames
 * keep their zero-copy read. The header's metadata goes into the pbuf
 * (dev/offload.h): a partial checksum or DATA_VALID marks the frame
 * NS_PBUF_F_CSUM_OK, which TCP and UDP honour instead of verifying.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "dev/offload.h"
#include "netsock/os.h"
#include "platform/platform.h"
#include "wire/vnet.h"
#include "wire/wire.h"

/* wire/vnet.h spells the kernel's constants without its headers. */
_Static_assert(NS_VNET_HLEN == sizeof(struct virtio_net_hdr_v1), "virtio-net header size");
_Static_assert(NS_VNET_F_NEEDS_CSUM == VIRTIO_NET_HDR_F_NEEDS_CSUM, "NEEDS_CSUM");
_Static_assert(NS_VNET_F_DATA_VALID == VIRTIO_NET_HDR_F_DATA_VALID, "DATA_VALID");
_Static_assert(NS_VNET_GSO_TCPV4 == VIRTIO_NET_HDR_GSO_TCPV4, "GSO_TCPV4");
_Static_assert(NS_VNET_GSO_TCPV6 == VIRTIO_NET_HDR_GSO_TCPV6, "GSO_TCPV6");
_Static_assert(NS_VNET_GSO_ECN == VIRTIO_NET_HDR_GSO_ECN, "GSO_ECN");

/* Room for one VLAN tag beyond the Ethernet header, in case the kernel
 * hands a tagged frame through a TAP. */
#define TAP_L2_MAX (14u + 4u)

/* Longest wait at open for an attached, up interface to come up. */
#define TAP_CARRIER_WAIT_US 500000u

/* Data bytes a pool pbuf holds after the standard headroom. */
#define TAP_POOL_ROOM (NS_PBUF_SIZE - NS_PBUF_HEADROOM)

struct tap_dev {
    struct ns_dev dev; /* first: a struct ns_dev * is a struct tap_dev * */
    int fd;
    bool created;       /* the interface did not exist before we opened it */
    bool vnet;          /* IFF_VNET_HDR: a virtio-net header on every frame */
    bool vnet_le;       /* its 16-bit fields are little-endian */
    uint32_t l2_hlen;   /* 14 (TAP) or 0 (TUN) */
    uint32_t frame_max; /* largest frame read: MTU + link header, or a GSO packet */
    uint8_t *big;       /* vnet: frame_max bytes for the part beyond a pool buffer */
};

void plat_random_mac(uint8_t mac[6])
{
    if (getrandom(mac, 6, 0) != 6) {
        /* Practically unreachable (getrandom on 6 bytes does not block or
         * fail once the pool is seeded); still a valid address. */
        memcpy(mac, "\x02\x00\x00\x00\x00\x02", 6);
    }
    mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
}

int plat_if_mtu(const char *ifname)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    int rc = ioctl(s, SIOCGIFMTU, &ifr) < 0 ? -errno : ifr.ifr_mtu;
    close(s);
    return rc;
}

/* Wait until interface `ifname`, when administratively up, is running
 * (carrier on, queue discipline active), at most TAP_CARRIER_WAIT_US. */
static void wait_running(const char *ifname)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return;
    for (unsigned waited_us = 0; waited_us < TAP_CARRIER_WAIT_US; waited_us += 1000) {
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 || !(ifr.ifr_flags & IFF_UP) ||
            (ifr.ifr_flags & IFF_RUNNING))
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    close(s);
}

/* The errno of a failed write, as the device reports it. */
static int tx_errno(int e)
{
    /* EAGAIN: the descriptor cannot take more now: refused, and the stack
     * waits for POLLOUT (tx_ready). EIO / EBADFD: the interface is down
     * or gone; the frame is lost. */
    return e == EAGAIN || e == EWOULDBLOCK ? -EAGAIN
           : (e == EIO || e == EBADFD || e == ENETDOWN) ? -ENETDOWN
                                                        : -e;
}

static int tap_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    struct tap_dev *t = (struct tap_dev *)dev;
    (void)now_us;
    uint32_t len = pb->len;
    int rc = 0;
    /* A GSO packet is longer than the MTU by design; its segments were
     * sized for it (ip4_send_packet checks). */
    uint32_t max = pb->gso_size ? t->l2_hlen + NS_IP4_MAX_LEN : t->l2_hlen + dev->mtu;
    if (len < t->l2_hlen || len > max) {
        rc = -EMSGSIZE;
    } else if (t->vnet) {
        struct ns_vnet_repr r;
        uint8_t hdr[NS_VNET_HLEN];
        if (ns_vnet_from_pbuf(pb, t->l2_hlen, &r) < 0) {
            rc = -EINVAL;
        } else {
            ns_vnet_emit(&r, t->vnet_le, hdr);
            struct iovec iov[2] = {{hdr, sizeof(hdr)}, {ns_pbuf_data(pb), len}};
            ssize_t n;
            do
                n = writev(t->fd, iov, 2);
            while (n < 0 && errno == EINTR);
            if (n < 0)
                rc = tx_errno(errno);
        }
    } else {
        ssize_t n;
        do
            n = write(t->fd, ns_pbuf_data(pb), len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            rc = tx_errno(errno);
    }
    return ns_dev_tx_done(dev, pb, len, rc);
}

/* Read one frame with its virtio-net header: into a pool pbuf when it
 * fits, else copied into a heap pbuf of its size. NULL when none is
 * waiting (*again) or the frame was dropped (counted; try the next). */
static struct ns_pbuf *vnet_read(struct tap_dev *t, struct ns_pbuf_pool *pool, bool *again)
{
    struct ns_dev *dev = &t->dev;
    *again = false;
    uint8_t hdr[NS_VNET_HLEN];
    struct ns_pbuf *pb = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, TAP_POOL_ROOM);
    /* No buffer: the frame is read into the scratch area and dropped. */
    struct iovec iov[3];
    int niov = 0;
    iov[niov++] = (struct iovec){hdr, sizeof(hdr)};
    if (pb)
        iov[niov++] = (struct iovec){ns_pbuf_data(pb), TAP_POOL_ROOM};
    iov[niov++] = (struct iovec){t->big, t->frame_max};
    ssize_t n = readv(t->fd, iov, niov);
    if (n < 0) {
        int e = errno;
        ns_pbuf_free(pb);
        if (e == EAGAIN || e == EINTR) {
            *again = e == EAGAIN;
            return NULL;
        }
        dev->stats.rx_drop++;
        *again = true; /* the interface went away: let the loop come back */
        return NULL;
    }
    if (!pb || (size_t)n <= sizeof(hdr)) {
        ns_pbuf_free(pb);
        dev->stats.rx_drop++;
        return NULL;
    }
    uint32_t flen = (uint32_t)((size_t)n - sizeof(hdr));
    if (flen <= TAP_POOL_ROOM) {
        ns_pbuf_trim(pb, flen);
    } else {
        /* A GSO packet (or a jumbo frame): one copy into a buffer its size. */
        struct ns_pbuf *big = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, flen);
        if (!big) {
            ns_pbuf_free(pb);
            dev->stats.rx_drop++;
            return NULL;
        }
        memcpy(ns_pbuf_data(big), ns_pbuf_data(pb), TAP_POOL_ROOM);
        memcpy(ns_pbuf_data(big) + TAP_POOL_ROOM, t->big, flen - TAP_POOL_ROOM);
        ns_pbuf_free(pb);
        pb = big;
    }
    struct ns_vnet_repr r;
    ns_vnet_parse(hdr, t->vnet_le, &r);
    if (ns_vnet_to_pbuf(&r, pb) < 0) {
        ns_pbuf_free(pb);
        dev->stats.rx_drop++;
        return NULL;
    }
    return pb;
}

static struct ns_pbuf *tap_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool, uint64_t now_us)
{
    struct tap_dev *t = (struct tap_dev *)dev;
    (void)now_us;
    for (;;) {
        struct ns_pbuf *pb;
        if (t->vnet) {
            bool again;
            pb = vnet_read(t, pool, &again);
            if (!pb) {
                if (again)
                    return NULL;
                continue;
            }
        } else {
            pb = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, t->frame_max);
            uint8_t scratch[1];
            /* No buffer: a one-byte read takes the whole frame off the
             * queue (each read is one frame) and the rest is discarded. */
            void *dst = pb ? ns_pbuf_data(pb) : scratch;
            size_t cap = pb ? t->frame_max : sizeof(scratch);
            ssize_t n = read(t->fd, dst, cap);
            if (n < 0) {
                int e = errno;
                ns_pbuf_free(pb);
                if (e == EINTR)
                    continue;
                if (e == EAGAIN)
                    return NULL;
                /* EINVAL / EFAULT: a frame larger than our buffer (the MTU
                 * changed under us); other errors: the interface went
                 * away. Count it and let the loop come back. */
                dev->stats.rx_drop++;
                return NULL;
            }
            if (!pb || n == 0 || (size_t)n > cap) {
                ns_pbuf_free(pb);
                dev->stats.rx_drop++;
                continue;
            }
            ns_pbuf_trim(pb, (uint32_t)n);
        }
        dev->stats.rx_frames++;
        dev->stats.rx_bytes += pb->len;
        return pb;
    }
}

static uint64_t tap_next_deadline(struct ns_dev *dev)
{
    (void)dev;
    return NS_TIME_NEVER; /* driven by the descriptor */
}

static int tap_fd(struct ns_dev *dev) { return ((struct tap_dev *)dev)->fd; }

uint64_t plat_fd_tx_ready(int fd, uint64_t now_us)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int n;
    do
        n = poll(&pfd, 1, 0);
    while (n < 0 && errno == EINTR);
    /* An error or hang-up is "ready" too: xmit then reports it. */
    return n != 0 ? now_us : NS_TIME_NEVER;
}

static uint64_t tap_tx_ready(struct ns_dev *dev, uint64_t now_us)
{
    return plat_fd_tx_ready(((struct tap_dev *)dev)->fd, now_us);
}

static void tap_close(struct ns_dev *dev)
{
    struct tap_dev *t = (struct tap_dev *)dev;
    /* Not persistent when we created it: the kernel removes it now. */
    close(t->fd);
    free(t->big);
    free(t);
}

static const struct ns_dev_ops tap_ops = {
    .xmit = tap_xmit,
    .recv = tap_recv,
    .next_deadline = tap_next_deadline,
    .tick = NULL,
    .fd = tap_fd,
    .close = tap_close,
    .tx_ready = tap_tx_ready,
};

/* Whether this host stores 16-bit values little-endian. */
static bool host_is_le(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* After TUNSETIFF with IFF_VNET_HDR: the 12-byte header, its byte order,
 * and the offloads the kernel may use towards us. Returns 0 or -errno. */
static int vnet_setup(struct tap_dev *t)
{
    int sz = NS_VNET_HLEN;
    if (ioctl(t->fd, TUNSETVNETHDRSZ, &sz) < 0)
        return -errno;
    /* TUN/TAP uses little endian when the host is little-endian, or when
     * told so with TUNSETVNETLE (kernels with TUN_VNET_CROSS_LE); else the
     * host's order (legacy virtio). */
    t->vnet_le = host_is_le();
#ifdef TUNSETVNETLE
    if (!t->vnet_le) {
        int le = 1;
        t->vnet_le = ioctl(t->fd, TUNSETVNETLE, &le) == 0;
    }
#endif
    /* What the kernel may hand us: partial checksums, TCPv4 and TCPv6
     * GSO. Not TUN_F_TSO_ECN (the kernel cuts CWR-marked packets itself
     * then) or UFO/USO (no UDP segmentation here). */
    unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    if (ioctl(t->fd, TUNSETOFFLOAD, off) < 0 && ioctl(t->fd, TUNSETOFFLOAD, TUN_F_CSUM) < 0)
        return -errno;
    return 0;
}

static struct ns_dev *tuntap_open(const char *name, short kind, const uint8_t mac[6],
                                  unsigned flags, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (name && strlen(name) >= IFNAMSIZ) {
        *err = -ENAMETOOLONG;
        return NULL;
    }
    struct tap_dev *t = calloc(1, sizeof(*t));
    if (!t) {
        *err = -ENOMEM;
        return NULL;
    }
    t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (t->fd < 0) {
        *err = -errno;
        free(t);
        return NULL;
    }
    /* Whether it exists decides what close does; a race with another
     * program creating the same name only makes us think we created it,
     * which changes nothing we do (the kernel decides on removal). */
    t->created = !name || !*name || if_nametoindex(name) == 0;

    unsigned features = 0;
    if (!(flags & NS_TUNTAP_NO_OFFLOAD) && ioctl(t->fd, TUNGETFEATURES, &features) == 0)
        t->vnet = features & IFF_VNET_HDR;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = (short)(kind | IFF_NO_PI | (t->vnet ? IFF_VNET_HDR : 0));
    if (name)
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
        /* EINVAL: `name` exists but is not a TUN/TAP of this kind; EBUSY:
         * another program has it open; EPERM: no CAP_NET_ADMIN. */
        *err = -errno;
        close(t->fd);
        free(t);
        return NULL;
    }
    t->l2_hlen = kind == IFF_TAP ? 14u : 0u;
    int mtu = plat_if_mtu(ifr.ifr_name);
    t->dev.mtu = mtu > 0 ? (uint32_t)mtu : 1500u;
    t->frame_max = t->dev.mtu + (kind == IFF_TAP ? TAP_L2_MAX : 0u);
    if (t->vnet) {
        int rc = vnet_setup(t);
        uint32_t big_max = NS_IP4_MAX_LEN + (kind == IFF_TAP ? TAP_L2_MAX : 0u);
        if (t->frame_max < big_max)
            t->frame_max = big_max;
        t->big = rc == 0 ? malloc(t->frame_max) : NULL;
        if (!t->big) {
            /* The descriptor keeps IFF_VNET_HDR: start again without. */
            close(t->fd);
            free(t);
            return tuntap_open(name, kind, mac, flags | NS_TUNTAP_NO_OFFLOAD, err);
        }
        /* Towards the kernel, IFF_VNET_HDR alone is enough for both. */
        t->dev.offloads = NS_DEV_OFF_TX_CSUM | NS_DEV_OFF_TSO | NS_DEV_OFF_TSO6;
        t->dev.gso_max_size = NS_IP4_MAX_LEN;
    }
    if (!t->created)
        wait_running(ifr.ifr_name);
    t->dev.ops = &tap_ops;
    snprintf(t->dev.name, sizeof(t->dev.name), "%s", ifr.ifr_name);
    t->dev.link = kind == IFF_TAP ? NS_LINK_ETHER : NS_LINK_IP;
    if (kind == IFF_TAP) {
        /* netsock is the far end of the wire: its own MAC, not the kernel
         * interface's. */
        if (mac)
            memcpy(t->dev.hwaddr, mac, 6);
        else
            plat_random_mac(t->dev.hwaddr);
    }
    *err = 0;
    return &t->dev;
}

struct ns_dev *ns_tap_open_flags(const char *name, const uint8_t mac[6], unsigned flags, int *err)
{
    return tuntap_open(name, IFF_TAP, mac, flags, err);
}

struct ns_dev *ns_tun_open_flags(const char *name, unsigned flags, int *err)
{
    return tuntap_open(name, IFF_TUN, NULL, flags, err);
}

struct ns_dev *ns_tap_open(const char *name, const uint8_t mac[6], int *err)
{
    return ns_tap_open_flags(name, mac, 0, err);
}

struct ns_dev *ns_tun_open(const char *name, int *err)
{
    return ns_tun_open_flags(name, 0, err);
}
