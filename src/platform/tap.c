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
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netsock/os.h"
#include "platform/platform.h"

/* Room for one VLAN tag beyond the Ethernet header, in case the kernel
 * hands a tagged frame through a TAP. */
#define TAP_L2_MAX (14u + 4u)

/* Longest wait at open for an attached, up interface to come up. */
#define TAP_CARRIER_WAIT_US 500000u

struct tap_dev {
    struct ns_dev dev; /* first: a struct ns_dev * is a struct tap_dev * */
    int fd;
    bool created;       /* the interface did not exist before we opened it */
    uint32_t frame_max; /* largest frame read: MTU + link header */
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

static int tap_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    struct tap_dev *t = (struct tap_dev *)dev;
    (void)now_us;
    uint32_t l2_hlen = dev->link == NS_LINK_ETHER ? 14u : 0u;
    uint32_t len = pb->len;
    int rc = 0;
    if (len < l2_hlen || len - l2_hlen > dev->mtu) {
        rc = -EMSGSIZE;
    } else {
        ssize_t n;
        do
            n = write(t->fd, ns_pbuf_data(pb), len);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            /* EAGAIN: the descriptor cannot take more now: refused, the
             * stack waits for POLLOUT (tx_ready). EIO / EBADFD: the
             * interface is down or gone; the frame is lost. */
            rc = errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN
                 : (errno == EIO || errno == EBADFD || errno == ENETDOWN) ? -ENETDOWN
                                                                          : -errno;
        }
    }
    return ns_dev_tx_done(dev, pb, (uint32_t)len, rc);
}

static struct ns_pbuf *tap_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool, uint64_t now_us)
{
    struct tap_dev *t = (struct tap_dev *)dev;
    (void)now_us;
    for (;;) {
        struct ns_pbuf *pb = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, t->frame_max);
        uint8_t scratch[1];
        /* No buffer: a one-byte read takes the whole frame off the queue
         * (each read is one frame) and the rest is discarded. */
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
             * changed under us); other errors: the interface went away.
             * Count it and let the loop come back. */
            dev->stats.rx_drop++;
            return NULL;
        }
        if (!pb || n == 0 || (size_t)n > cap) {
            ns_pbuf_free(pb);
            dev->stats.rx_drop++;
            continue;
        }
        ns_pbuf_trim(pb, (uint32_t)n);
        dev->stats.rx_frames++;
        dev->stats.rx_bytes += (uint64_t)n;
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

static struct ns_dev *tuntap_open(const char *name, short kind, const uint8_t mac[6], int *err)
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

    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = (short)(kind | IFF_NO_PI);
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
    if (!t->created)
        wait_running(ifr.ifr_name);
    t->dev.ops = &tap_ops;
    snprintf(t->dev.name, sizeof(t->dev.name), "%s", ifr.ifr_name);
    t->dev.link = kind == IFF_TAP ? NS_LINK_ETHER : NS_LINK_IP;
    int mtu = plat_if_mtu(ifr.ifr_name);
    t->dev.mtu = mtu > 0 ? (uint32_t)mtu : 1500u;
    t->frame_max = t->dev.mtu + (kind == IFF_TAP ? TAP_L2_MAX : 0u);
    if (kind == IFF_TAP) {
        /* netsock is the far end of the wire: its own MAC, not the kernel
         * interface's. */
        if (mac)
            memcpy(t->dev.hwaddr, mac, 6);
        else
            plat_random_mac(t->dev.hwaddr);
    }
    t->dev.offloads = 0; /* no IFF_VNET_HDR: the kernel hands complete checksums */
    *err = 0;
    return &t->dev;
}

struct ns_dev *ns_tap_open(const char *name, const uint8_t mac[6], int *err)
{
    return tuntap_open(name, IFF_TAP, mac, err);
}

struct ns_dev *ns_tun_open(const char *name, int *err)
{
    return tuntap_open(name, IFF_TUN, NULL, err);
}
