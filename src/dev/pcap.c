/* dev/pcap.c — pcap capture wrapper: every frame a device sends and
 * receives, written to a classic pcap or a pcapng file. See
 * include/netsock/dev.h.
 *
 * Classic pcap (https://www.tcpdump.org/manpages/pcap-savefile.5.html,
 * draft-ietf-opsawg-pcap): a 24-byte file header
 *   magic 0xa1b2c3d4 (microsecond timestamps), version 2.4, thiszone 0,
 *   sigfigs 0, snaplen, LINKTYPE (1 Ethernet, 101 raw IP)
 * then per frame a 16-byte record header (ts_sec, ts_usec, incl_len,
 * orig_len) and incl_len bytes.
 *
 * pcapng (draft-ietf-opsawg-pcapng): a Section Header Block (byte-order
 * magic 0x1a2b3c4d, version 1.0, section length -1 "not given",
 * shb_userappl "netsock VERSION"), one Interface Description Block
 * (linktype, snaplen, if_name, if_tsresol 6 = microseconds, opt_comment
 * describing the link and its offloads), then one Enhanced Packet Block
 * per frame (interface 0, 64-bit timestamp, captured and original
 * length, the frame padded to 32 bits). Every block and option is padded
 * to 4 bytes and ends with its total length repeated.
 *
 * libpcap writes in the writer's byte order and readers detect it from the
 * magic; we always write little-endian, so the file is the same bytes on
 * every host (determinism).
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
 * inner device offers; the pcapng interface comment says which.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/dev.h"
#include "netsock/netsock.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAPNG_SHB 0x0a0d0d0au
#define PCAPNG_IDB 0x00000001u
#define PCAPNG_EPB 0x00000006u
#define PCAPNG_BOM 0x1a2b3c4du
#define PCAPNG_OPT_END 0
#define PCAPNG_OPT_COMMENT 1
#define PCAPNG_SHB_USERAPPL 4
#define PCAPNG_IF_NAME 2
#define PCAPNG_IF_TSRESOL 9
#define PCAP_SNAPLEN 262144u
#define LINKTYPE_ETHERNET 1u
#define LINKTYPE_RAW 101u
#define PCAP_BUF_BYTES 65536u

struct pcap_dev {
    struct ns_dev dev; /* first */
    struct ns_dev *inner;
    FILE *f;
    enum ns_pcap_format format;
    uint64_t ts_offset_us; /* added to now_us in every timestamp */
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
    uint8_t hdr[28];
    size_t hlen;
    uint32_t incl = pb->len < PCAP_SNAPLEN ? pb->len : PCAP_SNAPLEN;
    uint64_t ts = now_us + p->ts_offset_us;
    uint32_t pad = 0;
    if (p->format == NS_PCAP_NG) {
        /* Enhanced Packet Block: type, total length, interface 0,
         * timestamp (high, low) in if_tsresol units, captured and
         * original length; then the data, padding and the length again. */
        pad = (4 - incl % 4) % 4;
        uint32_t total = 28 + incl + pad + 4;
        wr32le(hdr, PCAPNG_EPB);
        wr32le(hdr + 4, total);
        wr32le(hdr + 8, 0);
        wr32le(hdr + 12, (uint32_t)(ts >> 32));
        wr32le(hdr + 16, (uint32_t)ts);
        wr32le(hdr + 20, incl);
        wr32le(hdr + 24, pb->len);
        hlen = 28;
    } else {
        /* ts_sec is 32 bits in this format: it wraps in 2106. */
        wr32le(hdr, (uint32_t)(ts / 1000000u));
        wr32le(hdr + 4, (uint32_t)(ts % 1000000u));
        wr32le(hdr + 8, incl);
        wr32le(hdr + 12, pb->len);
        hlen = 16;
    }
    if (fwrite(hdr, hlen, 1, p->f) != 1 ||
        (incl && fwrite(ns_pbuf_data(pb), incl, 1, p->f) != 1)) {
        pcap_fail(p);
        return;
    }
    if (p->format == NS_PCAP_NG) {
        uint8_t tail[8] = {0};
        wr32le(tail + pad, 28 + incl + pad + 4);
        if (fwrite(tail, pad + 4, 1, p->f) != 1) {
            pcap_fail(p);
            return;
        }
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

void ns_pcap_opts_default(struct ns_pcap_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->format = NS_PCAP_CLASSIC;
}

/* A growing byte buffer for the pcapng header blocks. */
struct blk {
    uint8_t *buf;
    size_t len, cap;
    bool oom;
};

static void blk_put(struct blk *b, const void *data, size_t len)
{
    if (b->oom)
        return;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *n = realloc(b->buf, cap);
        if (!n) {
            b->oom = true;
            return;
        }
        b->buf = n;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, len);
    b->len += len;
}

static void blk_u16(struct blk *b, uint16_t v)
{
    uint8_t x[2];
    wr16le(x, v);
    blk_put(b, x, 2);
}

static void blk_u32(struct blk *b, uint32_t v)
{
    uint8_t x[4];
    wr32le(x, v);
    blk_put(b, x, 4);
}

/* One option: code, length, value padded to 32 bits. */
static void blk_opt(struct blk *b, uint16_t code, const void *val, size_t len)
{
    static const uint8_t zero[4];
    if (len > 0xfff0)
        len = 0xfff0;
    blk_u16(b, code);
    blk_u16(b, (uint16_t)len);
    blk_put(b, val, len);
    blk_put(b, zero, (4 - len % 4) % 4);
}

/* Close the block begun at `start` (type and a length placeholder):
 * end-of-options, the total length at both ends. */
static void blk_end(struct blk *b, size_t start, bool options)
{
    if (options) {
        blk_u16(b, PCAPNG_OPT_END);
        blk_u16(b, 0);
    }
    uint32_t total = (uint32_t)(b->len - start + 4);
    blk_u32(b, total);
    if (!b->oom)
        wr32le(b->buf + start + 4, total);
}

/* The interface comment: what the link is and which offloads the device
 * performs, so a reader knows why checksums may look wrong and segments
 * exceed the MTU. */
static void offload_comment(const struct ns_dev *d, char *out, size_t cap)
{
    char off[96] = "";
    if (d->offloads & NS_DEV_OFF_TX_CSUM)
        strcat(off, " tx-checksum");
    if (d->offloads & NS_DEV_OFF_RX_CSUM)
        strcat(off, " rx-checksum");
    if (d->offloads & NS_DEV_OFF_TSO)
        snprintf(off + strlen(off), sizeof(off) - strlen(off), " tso(%u bytes)",
                 (unsigned)d->gso_max_size);
    if (d->offloads & NS_DEV_OFF_TSO6)
        strcat(off, " tso6");
    snprintf(out, cap,
             "netsock %s: %s, mtu %u; offloads:%s%s", NS_VERSION,
             d->link == NS_LINK_IP ? "raw IPv4 (tun)" : "ethernet", (unsigned)d->mtu,
             *off ? off : " none",
             (d->offloads & (NS_DEV_OFF_TX_CSUM | NS_DEV_OFF_TSO | NS_DEV_OFF_TSO6))
                 ? "; frames are recorded as the stack hands them to the device, so sent "
                   "TCP/UDP checksums may be partial (the device finishes them) and TCP "
                   "segments may exceed the mtu (the device cuts them)"
                 : "");
}

/* The pcapng section header and interface description. */
static int pcapng_header(FILE *f, const struct ns_dev *inner, const struct ns_pcap_opts *o)
{
    struct blk b = {0};
    char appl[32], comment[512];
    snprintf(appl, sizeof(appl), "netsock %s", NS_VERSION);

    blk_u32(&b, PCAPNG_SHB);
    blk_u32(&b, 0);
    blk_u32(&b, PCAPNG_BOM);
    blk_u16(&b, 1); /* version 1.0 */
    blk_u16(&b, 0);
    blk_u32(&b, 0xffffffffu); /* section length: not given (-1) */
    blk_u32(&b, 0xffffffffu);
    blk_opt(&b, PCAPNG_SHB_USERAPPL, appl, strlen(appl));
    blk_end(&b, 0, true);

    size_t idb = b.len;
    const char *name = o->if_name ? o->if_name : inner->name;
    if (o->comment)
        snprintf(comment, sizeof(comment), "%s", o->comment);
    else
        offload_comment(inner, comment, sizeof(comment));
    static const uint8_t tsresol = 6; /* 10^-6 s */
    blk_u32(&b, PCAPNG_IDB);
    blk_u32(&b, 0);
    blk_u16(&b, (uint16_t)(inner->link == NS_LINK_IP ? LINKTYPE_RAW : LINKTYPE_ETHERNET));
    blk_u16(&b, 0);
    blk_u32(&b, PCAP_SNAPLEN);
    if (*name)
        blk_opt(&b, PCAPNG_IF_NAME, name, strlen(name));
    blk_opt(&b, PCAPNG_IF_TSRESOL, &tsresol, 1);
    blk_opt(&b, PCAPNG_OPT_COMMENT, comment, strlen(comment));
    blk_end(&b, idb, true);

    int rc = b.oom ? -ENOMEM : fwrite(b.buf, b.len, 1, f) == 1 ? 0 : -EIO;
    free(b.buf);
    return rc;
}

static int pcap_header(FILE *f, const struct ns_dev *inner)
{
    uint8_t hdr[24];
    wr32le(hdr, PCAP_MAGIC_US);
    wr16le(hdr + 4, 2); /* version 2.4 */
    wr16le(hdr + 6, 4);
    wr32le(hdr + 8, 0);  /* thiszone: timestamps are UTC (or the stack's clock) */
    wr32le(hdr + 12, 0); /* sigfigs */
    wr32le(hdr + 16, PCAP_SNAPLEN);
    wr32le(hdr + 20, inner->link == NS_LINK_IP ? LINKTYPE_RAW : LINKTYPE_ETHERNET);
    return fwrite(hdr, sizeof(hdr), 1, f) == 1 ? 0 : -EIO;
}

struct ns_dev *ns_pcap_wrap_opts(struct ns_dev *inner, const char *path,
                                 const struct ns_pcap_opts *opts, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    struct ns_pcap_opts defaults;
    if (!opts) {
        ns_pcap_opts_default(&defaults);
        opts = &defaults;
    }
    if (!inner || !path || (opts->format != NS_PCAP_CLASSIC && opts->format != NS_PCAP_NG)) {
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
    p->format = opts->format;
    p->ts_offset_us = opts->ts_offset_us;
    int rc = p->format == NS_PCAP_NG ? pcapng_header(p->f, inner, opts) : pcap_header(p->f, inner);
    if (rc < 0) {
        fclose(p->f);
        free(p);
        *err = rc;
        return NULL;
    }

    p->dev = *inner; /* looks like the inner device to the stack */
    p->dev.ops = &pcap_ops;
    memset(&p->dev.stats, 0, sizeof(p->dev.stats));
    p->inner = inner;
    /* Its deadline is the inner device's: deadline events as the inner
     * device has them, passed up from it. */
    p->dev.upper = NULL;
    p->dev.deadline_stale = NULL;
    inner->upper = &p->dev;
    *err = 0;
    return &p->dev;
}

struct ns_dev *ns_pcap_wrap(struct ns_dev *inner, const char *path, int *err)
{
    return ns_pcap_wrap_opts(inner, path, NULL, err);
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
