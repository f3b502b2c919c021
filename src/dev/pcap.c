/* dev/pcap.c — pcap capture wrapper: every frame a device sends and
 * receives, written to a classic pcap file. See include/netsock/dev.h.
 *
 * Format (https://www.tcpdump.org/manpages/pcap-savefile.5.html and
 * draft-ietf-opsawg-pcap): a 24-byte file header
 *   magic 0xa1b2c3d4 (microsecond timestamps), version 2.4, thiszone 0,
 *   sigfigs 0, snaplen, LINKTYPE (1 Ethernet, 101 raw IP)
 * then per frame a 16-byte record header (ts_sec, ts_usec, incl_len,
 * orig_len) and incl_len bytes. libpcap writes in the writer's byte order
 * and readers detect it from the magic; we always write little-endian, so
 * the file is the same bytes on every host (determinism).
 *
 * Capture points: tx when the stack hands a frame to xmit (before the inner
 * device, which may drop it), rx when the inner device's recv returns one.
 * Writes go through a stdio buffer; a write error is counted and stops
 * further writing, never disturbs the data path.
 *
 * Offloads (docs/links.md "Offloads"): frames are recorded as they are,
 * like tcpdump on a Linux interface with offloads on: a GSO packet as one
 * record of up to 64 KiB (below the snap length), a checksum left for the
 * device as the pseudo-header sum it holds. The wrapper offers what the
 * inner device offers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/dev.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_SNAPLEN 262144u
#define LINKTYPE_ETHERNET 1u
#define LINKTYPE_RAW 101u
#define PCAP_BUF_BYTES 65536u

struct pcap_dev {
    struct ns_dev dev; /* first */
    struct ns_dev *inner;
    FILE *f;
    uint64_t count;        /* records written */
    uint64_t write_errors; /* records (or flushes) that failed */
    bool failed;           /* after the first error nothing more is written */
};

static const struct ns_dev_ops pcap_ops;

static struct pcap_dev *to_pcap(const struct ns_dev *dev)
{
    return dev && dev->ops == &pcap_ops ? (struct pcap_dev *)(uintptr_t)dev : NULL;
}

static void wr16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void wr32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void pcap_fail(struct pcap_dev *p)
{
    p->write_errors++;
    p->failed = true;
}

static void pcap_record(struct pcap_dev *p, const struct ns_pbuf *pb, uint64_t now_us)
{
    if (p->failed)
        return;
    uint8_t hdr[16];
    uint32_t incl = pb->len < PCAP_SNAPLEN ? pb->len : PCAP_SNAPLEN;
    /* ts_sec is 32 bits in this format: virtual time wraps after 136 years. */
    wr32le(hdr, (uint32_t)(now_us / 1000000u));
    wr32le(hdr + 4, (uint32_t)(now_us % 1000000u));
    wr32le(hdr + 8, incl);
    wr32le(hdr + 12, pb->len);
    if (fwrite(hdr, sizeof(hdr), 1, p->f) != 1 ||
        (incl && fwrite(ns_pbuf_data(pb), incl, 1, p->f) != 1)) {
        pcap_fail(p);
        return;
    }
    p->count++;
}

static int pcap_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    struct pcap_dev *p = (struct pcap_dev *)dev;
    uint32_t len = pb->len;
    /* Recorded once the inner device has answered, so a frame it refuses
     * for a full queue (-EAGAIN: sent again later) is not captured twice.
     * Our reference keeps the bytes; holders of a shared pbuf do not
     * change it (the fault wrapper copies before corrupting). */
    ns_pbuf_ref(pb);
    int rc = p->inner->ops->xmit(p->inner, pb, now_us);
    if (rc != -EAGAIN)
        pcap_record(p, pb, now_us);
    ns_pbuf_free(pb);
    if (rc == -EAGAIN) {
        dev->stats.tx_busy++;
    } else if (rc < 0) {
        dev->stats.tx_drop++;
    } else {
        dev->stats.tx_frames++;
        dev->stats.tx_bytes += len;
    }
    return rc;
}

static uint64_t pcap_tx_ready(struct ns_dev *dev, uint64_t now_us)
{
    struct pcap_dev *p = (struct pcap_dev *)dev;
    return p->inner->ops->tx_ready ? p->inner->ops->tx_ready(p->inner, now_us) : now_us;
}

static struct ns_pbuf *pcap_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool, uint64_t now_us)
{
    struct pcap_dev *p = (struct pcap_dev *)dev;
    struct ns_pbuf *pb = p->inner->ops->recv(p->inner, pool, now_us);
    if (pb) {
        pcap_record(p, pb, now_us);
        dev->stats.rx_frames++;
        dev->stats.rx_bytes += pb->len;
    }
    return pb;
}

static uint64_t pcap_next_deadline(struct ns_dev *dev)
{
    struct pcap_dev *p = (struct pcap_dev *)dev;
    return p->inner->ops->next_deadline(p->inner);
}

static void pcap_tick(struct ns_dev *dev, uint64_t now_us)
{
    struct pcap_dev *p = (struct pcap_dev *)dev;
    if (p->inner->ops->tick)
        p->inner->ops->tick(p->inner, now_us);
}

static int pcap_fd(struct ns_dev *dev)
{
    struct pcap_dev *p = (struct pcap_dev *)dev;
    return p->inner->ops->fd ? p->inner->ops->fd(p->inner) : -1;
}

static void pcap_close(struct ns_dev *dev)
{
    struct pcap_dev *p = (struct pcap_dev *)dev;
    (void)ns_pcap_flush(dev);
    fclose(p->f);
    ns_dev_close(p->inner);
    free(p);
}

static const struct ns_dev_ops pcap_ops = {
    .xmit = pcap_xmit,
    .recv = pcap_recv,
    .next_deadline = pcap_next_deadline,
    .tick = pcap_tick,
    .fd = pcap_fd,
    .close = pcap_close,
    .tx_ready = pcap_tx_ready,
};

struct ns_dev *ns_pcap_wrap(struct ns_dev *inner, const char *path, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!inner || !path) {
        *err = -EINVAL;
        return NULL;
    }
    struct pcap_dev *p = calloc(1, sizeof(*p));
    if (!p) {
        *err = -ENOMEM;
        return NULL;
    }
    p->f = fopen(path, "wb");
    if (!p->f) {
        *err = errno ? -errno : -EIO;
        free(p);
        return NULL;
    }
    setvbuf(p->f, NULL, _IOFBF, PCAP_BUF_BYTES);

    uint8_t hdr[24];
    wr32le(hdr, PCAP_MAGIC_US);
    wr16le(hdr + 4, 2); /* version 2.4 */
    wr16le(hdr + 6, 4);
    wr32le(hdr + 8, 0);  /* thiszone: timestamps are UTC (here: the stack's clock) */
    wr32le(hdr + 12, 0); /* sigfigs */
    wr32le(hdr + 16, PCAP_SNAPLEN);
    wr32le(hdr + 20, inner->link == NS_LINK_IP ? LINKTYPE_RAW : LINKTYPE_ETHERNET);
    if (fwrite(hdr, sizeof(hdr), 1, p->f) != 1) {
        fclose(p->f);
        free(p);
        *err = -EIO;
        return NULL;
    }

    p->dev = *inner; /* looks like the inner device to the stack */
    p->dev.ops = &pcap_ops;
    memset(&p->dev.stats, 0, sizeof(p->dev.stats));
    p->inner = inner;
    *err = 0;
    return &p->dev;
}

int ns_pcap_flush(struct ns_dev *pcap_dev)
{
    struct pcap_dev *p = to_pcap(pcap_dev);
    if (!p)
        return -EINVAL;
    if (fflush(p->f) != 0 && !p->failed)
        pcap_fail(p);
    return p->failed ? -EIO : 0;
}

uint64_t ns_pcap_count(const struct ns_dev *pcap_dev)
{
    struct pcap_dev *p = to_pcap(pcap_dev);
    return p ? p->count : 0;
}
