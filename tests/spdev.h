/* tests/spdev.h — a device over one end of a socket pair, for tests that
 * join stacks by a real descriptor without root: each frame is one
 * message of a SOCK_SEQPACKET (or datagram) pair; xmit is a non-blocking
 * send (a full socket refuses with -EAGAIN), tx_ready asks poll(2) for
 * POLLOUT, as TAP does; the device has no deadlines of its own.
 *
 *     struct ns_dev *dev = sp_new(fd, 1);   // MAC 02:00:00:00:00:01
 */
#ifndef NS_TESTS_SPDEV_H
#define NS_TESTS_SPDEV_H

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

#include "netsock/dev.h"
#include "netsock/pbuf.h"

struct sp_dev {
    struct ns_dev dev;
    int fd;
};

static inline int sp_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    struct sp_dev *d = (struct sp_dev *)dev;
    (void)now_us;
    uint32_t len = pb->len;
    int rc = 0;
    if (send(d->fd, ns_pbuf_data(pb), len, MSG_DONTWAIT) < 0)
        rc = errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return ns_dev_tx_done(dev, pb, len, rc);
}

static inline struct ns_pbuf *sp_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool,
                                      uint64_t now_us)
{
    struct sp_dev *d = (struct sp_dev *)dev;
    (void)now_us;
    struct ns_pbuf *pb = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, 1514);
    if (!pb)
        return NULL;
    ssize_t n = recv(d->fd, ns_pbuf_data(pb), 1514, MSG_DONTWAIT);
    if (n <= 0) {
        ns_pbuf_free(pb);
        return NULL;
    }
    ns_pbuf_trim(pb, (uint32_t)n);
    dev->stats.rx_frames++;
    return pb;
}

static inline uint64_t sp_next_deadline(struct ns_dev *dev)
{
    (void)dev;
    return NS_TIME_NEVER;
}

static inline int sp_fd(struct ns_dev *dev) { return ((struct sp_dev *)dev)->fd; }

static inline uint64_t sp_tx_ready(struct ns_dev *dev, uint64_t now_us)
{
    struct pollfd p = {.fd = ((struct sp_dev *)dev)->fd, .events = POLLOUT};
    return poll(&p, 1, 0) > 0 ? now_us : NS_TIME_NEVER;
}

static inline void sp_close(struct ns_dev *dev)
{
    close(((struct sp_dev *)dev)->fd);
    free(dev);
}

static const struct ns_dev_ops sp_ops = {
    .xmit = sp_xmit,
    .recv = sp_recv,
    .next_deadline = sp_next_deadline,
    .fd = sp_fd,
    .close = sp_close,
    .tx_ready = sp_tx_ready,
};

static inline struct ns_dev *sp_new(int fd, uint8_t last)
{
    struct sp_dev *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    d->dev.ops = &sp_ops;
    strcpy(d->dev.name, "sp");
    d->dev.link = NS_LINK_ETHER;
    d->dev.mtu = 1500;
    memcpy(d->dev.hwaddr, (const uint8_t[]){2, 0, 0, 0, 0, last}, 6);
    d->fd = fd;
    return &d->dev;
}

#endif
