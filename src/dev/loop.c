/* dev/loop.c — the loopback device: every frame sent is received again,
 * on the same stack, at the next poll. NS_LINK_IP (no link header), MTU
 * 65536 as Linux lo. The pbuf itself is passed back: no copy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/dev.h"

struct loop_dev {
    struct ns_dev dev;
    struct ns_pbuf_queue q;
};

static int loop_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    struct loop_dev *l = (struct loop_dev *)dev;
    (void)now_us;
    dev->stats.tx_frames++;
    dev->stats.tx_bytes += pb->len;
    ns_pbuf_queue_push(&l->q, pb);
    return 0;
}

static struct ns_pbuf *loop_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool, uint64_t now_us)
{
    struct loop_dev *l = (struct loop_dev *)dev;
    (void)pool;
    (void)now_us;
    struct ns_pbuf *pb = ns_pbuf_queue_pop(&l->q);
    if (pb) {
        dev->stats.rx_frames++;
        dev->stats.rx_bytes += pb->len;
    }
    return pb;
}

static uint64_t loop_next_deadline(struct ns_dev *dev)
{
    struct loop_dev *l = (struct loop_dev *)dev;
    return l->q.head ? 0 : NS_TIME_NEVER;
}

static void loop_close(struct ns_dev *dev)
{
    struct loop_dev *l = (struct loop_dev *)dev;
    ns_pbuf_queue_purge(&l->q);
    free(l);
}

static const struct ns_dev_ops loop_ops = {
    .xmit = loop_xmit,
    .recv = loop_recv,
    .next_deadline = loop_next_deadline,
    .close = loop_close,
};

struct ns_dev *ns_loopback_new(void)
{
    struct loop_dev *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->dev.ops = &loop_ops;
    strcpy(l->dev.name, "lo");
    l->dev.link = NS_LINK_IP;
    l->dev.mtu = 65536;
    /* Nothing crosses a wire: checksums need no verification. */
    l->dev.offloads = NS_DEV_OFF_RX_CSUM;
    l->dev.deadline_events = true; /* only its own xmit and recv move its queue */
    ns_pbuf_queue_init(&l->q);
    return &l->dev;
}
