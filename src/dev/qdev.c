/* dev/qdev.c — the queue device: the program is the other end of the wire.
 * See include/netsock/dev.h.
 *
 * Both directions hold malloc'd copies, never pbufs: injected frames arrive
 * before any stack (and pool) is involved, and a sent frame is copied and
 * its pbuf freed at once, so frames left untaken never pin the stack's
 * pool and the device may safely be closed after that pool is gone. The
 * cost (one malloc per frame) is fine for a device that serves tests and
 * fuzzers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/dev.h"

struct qframe {
    struct qframe *next;
    uint32_t len;
    uint8_t data[];
};

struct qlist {
    struct qframe *head, *tail;
    size_t count;
};

struct qdev {
    struct ns_dev dev; /* first: a struct ns_dev * is a struct qdev * */
    struct qlist rx;   /* injected, for the stack to receive */
    struct qlist tx;   /* sent by the stack, for the program to take */
    size_t tx_limit;   /* frames tx may hold (0: unbounded); then -EAGAIN */
};

static const struct ns_dev_ops qdev_ops;

static struct qdev *to_qdev(const struct ns_dev *dev)
{
    return dev && dev->ops == &qdev_ops ? (struct qdev *)(uintptr_t)dev : NULL;
}

static int qlist_push_copy(struct qlist *l, const void *data, uint32_t len)
{
    struct qframe *f = malloc(sizeof(*f) + len);
    if (!f)
        return -ENOMEM;
    f->next = NULL;
    f->len = len;
    if (len)
        memcpy(f->data, data, len);
    if (l->tail)
        l->tail->next = f;
    else
        l->head = f;
    l->tail = f;
    l->count++;
    return 0;
}

static struct qframe *qlist_pop(struct qlist *l)
{
    struct qframe *f = l->head;
    if (!f)
        return NULL;
    l->head = f->next;
    if (!l->head)
        l->tail = NULL;
    l->count--;
    return f;
}

static void qlist_purge(struct qlist *l)
{
    struct qframe *f;
    while ((f = qlist_pop(l)))
        free(f);
}

static int qdev_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    struct qdev *q = (struct qdev *)dev;
    (void)now_us;
    uint32_t l2_hlen = dev->link == NS_LINK_ETHER ? 14u : 0u;
    uint32_t ip_len = pb->len > l2_hlen ? pb->len - l2_hlen : 0;
    int rc = 0;
    if (dev->mtu && ip_len > dev->mtu)
        rc = -EMSGSIZE; /* a stack bug worth seeing in tests: it sent more than the MTU */
    else if (q->tx_limit && q->tx.count >= q->tx_limit)
        rc = -EAGAIN; /* full: backpressure until the program takes frames */
    else
        rc = qlist_push_copy(&q->tx, ns_pbuf_data(pb), pb->len) ? -ENOBUFS : 0;
    return ns_dev_tx_done(dev, pb, pb->len, rc);
}

static uint64_t qdev_tx_ready(struct ns_dev *dev, uint64_t now_us)
{
    struct qdev *q = (struct qdev *)dev;
    /* Room appears only when the program takes a frame. */
    return !q->tx_limit || q->tx.count < q->tx_limit ? now_us : NS_TIME_NEVER;
}

static struct ns_pbuf *qdev_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool, uint64_t now_us)
{
    struct qdev *q = (struct qdev *)dev;
    (void)now_us;
    struct qframe *f = q->rx.head;
    if (!f)
        return NULL;
    struct ns_pbuf *pb = ns_pbuf_from(pool, f->data, f->len);
    if (!pb)
        return NULL; /* pool empty: keep the frame for a later poll */
    free(qlist_pop(&q->rx));
    dev->stats.rx_frames++;
    dev->stats.rx_bytes += pb->len;
    return pb;
}

static uint64_t qdev_next_deadline(struct ns_dev *dev)
{
    /* Injected frames are due at once. */
    return ((struct qdev *)dev)->rx.head ? 0 : NS_TIME_NEVER;
}

static int qdev_fd(struct ns_dev *dev)
{
    (void)dev;
    return -1;
}

static void qdev_close(struct ns_dev *dev)
{
    struct qdev *q = (struct qdev *)dev;
    qlist_purge(&q->rx);
    qlist_purge(&q->tx);
    free(q);
}

static const struct ns_dev_ops qdev_ops = {
    .xmit = qdev_xmit,
    .recv = qdev_recv,
    .next_deadline = qdev_next_deadline,
    .tick = NULL,
    .fd = qdev_fd,
    .close = qdev_close,
    .tx_ready = qdev_tx_ready,
};

struct ns_dev *ns_qdev_new(const char *name, enum ns_link_type link, const uint8_t mac[6],
                           uint32_t mtu)
{
    static const uint8_t default_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    struct qdev *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->dev.ops = &qdev_ops;
    snprintf(q->dev.name, sizeof(q->dev.name), "%s", name ? name : "qdev");
    q->dev.link = link;
    q->dev.mtu = mtu;
    memcpy(q->dev.hwaddr, mac ? mac : default_mac, 6);
    q->dev.deadline_events = true; /* ns_qdev_inject says so */
    return &q->dev;
}

int ns_qdev_inject(struct ns_dev *qdev, const void *frame, size_t len)
{
    struct qdev *q = to_qdev(qdev);
    if (!q || (len && !frame))
        return -EINVAL;
    if (len > UINT32_MAX)
        return -EMSGSIZE;
    int rc = qlist_push_copy(&q->rx, frame, (uint32_t)len);
    if (rc == 0)
        ns_dev_deadline_changed(qdev); /* due now */
    return rc;
}

long ns_qdev_take(struct ns_dev *qdev, void *buf, size_t cap)
{
    struct qdev *q = to_qdev(qdev);
    struct qframe *f = q ? qlist_pop(&q->tx) : NULL;
    if (!f)
        return -1;
    size_t n = f->len < cap ? f->len : cap;
    if (n)
        memcpy(buf, f->data, n);
    long len = (long)f->len;
    free(f);
    return len;
}

size_t ns_qdev_pending(const struct ns_dev *qdev)
{
    struct qdev *q = to_qdev(qdev);
    return q ? q->tx.count : 0;
}

int ns_qdev_set_tx_limit(struct ns_dev *qdev, size_t frames)
{
    struct qdev *q = to_qdev(qdev);
    if (!q)
        return -EINVAL;
    q->tx_limit = frames;
    return 0;
}
