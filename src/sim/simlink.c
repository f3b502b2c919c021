/* sim/simlink.c — the simulated link: a hub of 2..16 ports on virtual time.
 * See include/netsock/sim.h (semantics) and sim/simlink.h (ownership).
 *
 * A frame sent from port i gets one impairment verdict from port i's
 * parameters (dev/impair.h: MTU, queue, serialization, loss, corruption,
 * jitter, reordering, duplication); each copy is then delivered to every
 * other attached port at its arrival time. The queue is the sending
 * host's own: a frame that does not fit is refused with -EAGAIN (transmit
 * backpressure, include/netsock/dev.h) rather than dropped, and tx_ready
 * says when the serializer will have made room for it. Frames in flight are stored as
 * refcounted byte blobs (struct sim_frame), one per copy, shared by all
 * destination ports: the receiving stack's pool is only known when it
 * calls recv, which copies the blob into a pbuf from that pool. A blob
 * holds its deliveries too, one per port of the link, so a frame in
 * flight is one allocation; blobs of frames up to SIM_FRAME_POOLED bytes
 * are of one size per link, and up to SIM_FRAME_SPARES freed ones are kept
 * for the next frames (a few KiB per link).
 *
 * Memory: ports are embedded in the link. A handed-out port holds a
 * reference on the link, as does the simulation until ns_simlink_free();
 * the last reference frees it, so the link and the stacks owning its ports
 * may be freed in either order.
 *
 * Determinism: every port has its own PRNG stream derived from the link
 * seed and the port number, so one port's traffic never changes another
 * port's faults.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "dev/impair.h"
#include "sim/simlink.h"

#define ETH_HLEN 14u
#define MTU_UNLIMITED 65535u /* the dev->mtu we advertise for params.mtu == 0 */
#define SIM_FRAME_POOLED 1536u /* frames up to this long use the link's blob size */
#define SIM_FRAME_SPARES 8u    /* freed blobs of that size a link keeps */

/* A frame due at one port at one time; the port's queue is sorted by
 * time_us, FIFO among equal times (as struct ns_frameq). */
struct sim_delivery {
    struct sim_delivery *next;
    uint64_t time_us;
    struct sim_frame *frame;
};

/* One copy of a frame in flight, shared by its destination ports: its
 * deliveries (dl[j] for port j; the sender's own unused) and then its
 * bytes, in one block freed with the last delivery. */
struct sim_frame {
    uint32_t refcnt; /* deliveries queued */
    uint32_t len;
    bool pooled;     /* of the link's pooled size: kept as a spare when freed */
    struct ns_simlink *link;
    struct sim_frame *next_spare;
    uint8_t *data;   /* after dl[] */
    struct sim_delivery dl[];
};

struct sim_port {
    struct ns_dev dev; /* first: the port's device */
    struct ns_simlink *link;
    unsigned index;
    bool taken;    /* device handed out by ns_simlink_port */
    bool attached; /* taken and not yet closed */
    struct ns_link_params params;
    struct ns_rng rng;
    struct ns_impair_dir dir;
    struct ns_impair_stats stats;
    struct sim_delivery *rx_head, *rx_tail; /* frames arriving at this port */
    uint32_t refused_len; /* length of the last frame refused with -EAGAIN */
};

struct ns_simlink {
    char name[32];
    uint64_t seed;
    unsigned nports;
    unsigned refs; /* 1 for the simulation until ns_simlink_free, +1 per attached port */
    bool dead;     /* ns_simlink_free was called */
    struct sim_frame *spare; /* freed pooled blobs, SIM_FRAME_SPARES at most */
    unsigned nspare;
    struct sim_port ports[];
};

static const struct ns_dev_ops simport_ops;

/* ---- frames and deliveries ------------------------------------------------ */

/* A blob for a frame of len bytes with its deliveries, refcnt 1 (the
 * caller's), or NULL. */
static struct sim_frame *frame_new(struct ns_simlink *link, uint32_t len)
{
    size_t dl_bytes = link->nports * sizeof(struct sim_delivery);
    bool pooled = len <= SIM_FRAME_POOLED;
    struct sim_frame *fr = pooled ? link->spare : NULL;
    if (fr) {
        link->spare = fr->next_spare;
        link->nspare--;
    } else {
        fr = malloc(sizeof(*fr) + dl_bytes + (pooled ? SIM_FRAME_POOLED : len));
        if (!fr)
            return NULL;
    }
    fr->refcnt = 1;
    fr->len = len;
    fr->pooled = pooled;
    fr->link = link;
    fr->data = (uint8_t *)fr->dl + dl_bytes;
    return fr;
}

static void frame_put(struct sim_frame *fr)
{
    if (--fr->refcnt)
        return;
    struct ns_simlink *link = fr->link;
    if (fr->pooled && link->nspare < SIM_FRAME_SPARES) {
        fr->next_spare = link->spare;
        link->spare = fr;
        link->nspare++;
        return;
    }
    free(fr);
}

/* Insert delivery d of fr, due at time_us, into port p's receive queue,
 * taking a reference. */
static void port_enqueue(struct sim_port *p, struct sim_frame *fr, struct sim_delivery *d,
                         uint64_t time_us)
{
    d->time_us = time_us;
    d->frame = fr;
    fr->refcnt++;
    ns_dev_deadline_changed(&p->dev); /* another host's send: the port's stack must look again */
    if (!p->rx_tail || p->rx_tail->time_us <= time_us) {
        d->next = NULL;
        if (p->rx_tail)
            p->rx_tail->next = d;
        else
            p->rx_head = d;
        p->rx_tail = d;
        return;
    }
    /* Out of order (a reordered frame's successors): before the first
     * delivery due strictly later; the tail is, so the walk terminates. */
    struct sim_delivery **link = &p->rx_head;
    while ((*link)->time_us <= time_us)
        link = &(*link)->next;
    d->next = *link;
    *link = d;
}

static struct sim_delivery *port_pop(struct sim_port *p)
{
    struct sim_delivery *d = p->rx_head;
    if (d) {
        p->rx_head = d->next;
        if (!p->rx_head)
            p->rx_tail = NULL;
    }
    return d;
}

static void port_purge(struct sim_port *p)
{
    struct sim_delivery *d;
    if (p->rx_head)
        ns_dev_deadline_changed(&p->dev);
    while ((d = port_pop(p)))
        frame_put(d->frame);
}

static void link_unref(struct ns_simlink *link)
{
    if (--link->refs)
        return;
    while (link->spare) { /* no frame is left in flight: only spares */
        struct sim_frame *fr = link->spare;
        link->spare = fr->next_spare;
        free(fr);
    }
    free(link);
}

/* ---- port device ops ------------------------------------------------------ */

static int simport_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    struct sim_port *p = (struct sim_port *)dev;
    struct ns_simlink *link = p->link;
    struct ns_impair_verdict v;
    int rc;

    if (link->dead) {
        rc = -ENETDOWN;
        goto drop;
    }
    /* The port's queue is the sending host's own (its NIC's): when it is
     * full the frame is refused, not dropped, and the host waits until
     * the serializer has drained enough (tx_ready). A frame larger than
     * the whole queue is left to the engine, which drops it. */
    uint64_t ready_us = p->params.queue_bytes && p->params.rate_bps
                            ? ns_impair_queue_ready(&p->params, &p->dir, pb->len, now_us)
                            : now_us;
    if (ready_us > now_us && ready_us != NS_TIME_NEVER) {
        p->refused_len = pb->len;
        p->stats.queue_full++;
        dev->stats.tx_busy++;
        ns_pbuf_free(pb);
        return -EAGAIN;
    }
    rc = ns_impair_frame(&p->params, &p->rng, &p->dir, &p->stats, pb->len, ETH_HLEN, now_us, &v);
    if (rc < 0)
        goto drop;

    for (unsigned c = 0; c < v.count; c++) {
        struct sim_frame *fr = frame_new(link, pb->len); /* our reference, dropped below */
        if (!fr) {
            p->stats.delivered--; /* this copy never reaches the wire */
            continue;
        }
        memcpy(fr->data, ns_pbuf_data(pb), pb->len);
        if (v.flags & NS_IMPAIR_CORRUPT)
            ns_impair_flip(fr->data, v.corrupt_bit);
        for (unsigned j = 0; j < link->nports; j++) {
            struct sim_port *dst = &link->ports[j];
            if (j == p->index || !dst->attached)
                continue; /* a hub does not echo; unplugged ports get nothing */
            port_enqueue(dst, fr, &fr->dl[j], v.arrival_us[c]);
        }
        frame_put(fr);
    }
    dev->stats.tx_frames++;
    dev->stats.tx_bytes += pb->len;
    ns_pbuf_free(pb);
    return 0;

drop:
    dev->stats.tx_drop++;
    ns_pbuf_free(pb);
    return rc;
}

static struct ns_pbuf *simport_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool, uint64_t now_us)
{
    struct sim_port *p = (struct sim_port *)dev;
    struct sim_delivery *d = p->rx_head;
    if (!d || d->time_us > now_us)
        return NULL;
    struct ns_pbuf *pb = ns_pbuf_from(pool, d->frame->data, d->frame->len);
    if (!pb)
        return NULL; /* pool empty: the frame stays queued */
    port_pop(p);
    frame_put(d->frame);
    dev->stats.rx_frames++;
    dev->stats.rx_bytes += pb->len;
    return pb;
}

static uint64_t simport_next_deadline(struct ns_dev *dev)
{
    struct sim_port *p = (struct sim_port *)dev;
    return p->rx_head ? p->rx_head->time_us : NS_TIME_NEVER;
}

static uint64_t simport_tx_ready(struct ns_dev *dev, uint64_t now_us)
{
    struct sim_port *p = (struct sim_port *)dev;
    /* Room for the frame refused last (a full-sized one if none was). */
    uint32_t len = p->refused_len ? p->refused_len : ETH_HLEN + dev->mtu;
    uint64_t t = ns_impair_queue_ready(&p->params, &p->dir, len, now_us);
    return t == NS_TIME_NEVER ? now_us : t; /* never fits: let xmit drop it */
}

static int simport_fd(struct ns_dev *dev)
{
    (void)dev;
    return -1;
}

static void simport_close(struct ns_dev *dev)
{
    struct sim_port *p = (struct sim_port *)dev;
    port_purge(p);
    p->attached = false; /* stays `taken`: a port is handed out once */
    /* Its wrapper and stack are going away with it: nothing to tell. */
    p->dev.upper = NULL;
    p->dev.deadline_stale = NULL;
    link_unref(p->link);
}

static const struct ns_dev_ops simport_ops = {
    .xmit = simport_xmit,
    .recv = simport_recv,
    .next_deadline = simport_next_deadline,
    .tick = NULL,
    .fd = simport_fd,
    .close = simport_close,
    .tx_ready = simport_tx_ready,
};

/* ---- link ----------------------------------------------------------------- */

static void port_set_params(struct sim_port *p, const struct ns_link_params *params)
{
    if (params)
        p->params = *params;
    else
        ns_link_params_default(&p->params);
    p->dev.mtu = p->params.mtu ? p->params.mtu : MTU_UNLIMITED;
}

struct ns_simlink *ns_simlink_new(const char *name, unsigned nports,
                                  const struct ns_link_params *params, uint64_t seed)
{
    if (nports < 2 || nports > NS_SIMLINK_MAX_PORTS)
        return NULL;
    struct ns_simlink *link = calloc(1, sizeof(*link) + nports * sizeof(link->ports[0]));
    if (!link)
        return NULL;
    snprintf(link->name, sizeof(link->name), "%s", name ? name : "link");
    link->seed = seed;
    link->nports = nports;
    link->refs = 1;

    uint64_t x = seed;
    for (unsigned i = 0; i < nports; i++) {
        struct sim_port *p = &link->ports[i];
        char devname[64];
        p->link = link;
        p->index = i;
        p->dev.ops = &simport_ops;
        p->dev.link = NS_LINK_ETHER;
        p->dev.deadline_events = true; /* port_enqueue and port_purge say so */
        snprintf(devname, sizeof(devname), "%s.%u", link->name, i);
        memcpy(p->dev.name, devname, sizeof(p->dev.name) - 1);
        p->dev.name[sizeof(p->dev.name) - 1] = '\0';
        port_set_params(p, params);
        ns_rng_seed(&p->rng, ns_rng_splitmix(&x));
    }
    return link;
}

void ns_simlink_free(struct ns_simlink *link)
{
    if (!link || link->dead)
        return;
    link->dead = true;
    for (unsigned i = 0; i < link->nports; i++)
        port_purge(&link->ports[i]);
    link_unref(link);
}

uint64_t ns_simlink_next_deadline(const struct ns_simlink *link)
{
    uint64_t t = NS_TIME_NEVER;
    for (unsigned i = 0; i < link->nports; i++) {
        const struct sim_delivery *d = link->ports[i].rx_head;
        if (d && d->time_us < t)
            t = d->time_us;
    }
    return t;
}

void ns_simlink_set_params(struct ns_simlink *link, unsigned port,
                           const struct ns_link_params *params)
{
    if (!link || port >= link->nports)
        return;
    port_set_params(&link->ports[port], params);
}

struct ns_dev *ns_simlink_port(struct ns_simlink *link, unsigned port, const uint8_t mac[6])
{
    if (!link || link->dead || port >= link->nports || link->ports[port].taken)
        return NULL;
    struct sim_port *p = &link->ports[port];
    if (mac) {
        memcpy(p->dev.hwaddr, mac, 6);
    } else {
        /* Locally administered unicast (first octet 0x02): four octets from
         * the link seed, the last the port, so ports of a link never clash
         * and links with different seeds almost never do. */
        uint64_t x = link->seed ^ 0x6d61632d61646472ull; /* "mac-addr" */
        uint64_t h = ns_rng_splitmix(&x);
        p->dev.hwaddr[0] = 0x02;
        p->dev.hwaddr[1] = (uint8_t)(h >> 24);
        p->dev.hwaddr[2] = (uint8_t)(h >> 16);
        p->dev.hwaddr[3] = (uint8_t)(h >> 8);
        p->dev.hwaddr[4] = (uint8_t)h;
        p->dev.hwaddr[5] = (uint8_t)port;
    }
    p->taken = true;
    p->attached = true;
    link->refs++;
    return &p->dev;
}

void ns_simlink_stats(const struct ns_simlink *link, unsigned port, struct ns_impair_stats *out)
{
    if (!link || port >= link->nports) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = link->ports[port].stats;
}
