/* tests/fuzz/fuzz_vnet.c — libFuzzer target for the offload input path:
 * frames with a virtio-net header as a TAP with IFF_VNET_HDR hands them
 * over (dev/offload.h ns_vnet_to_pbuf: partial checksums, DATA_VALID,
 * TCPv4 GSO packets), through Ethernet, IPv4 (local delivery, forwarding
 * to a device without offloads: software segmentation, fragmentation, DF
 * drops), TCP and UDP; and the way back out (ns_vnet_from_pbuf, then the
 * cut a TSO device makes, ns_gso_segment).
 *
 * Input: records [flags][len_hi][len_lo][12-byte virtio-net header, LE]
 * [frame bytes]; len counts header and frame.
 *   flags bits 1-7  virtual time to advance before it, in 100 ms units
 * Interface 0 ("tap0", 02:00:00:00:00:01, MTU 1500, TX checksum offload
 * and TSO) is 192.0.2.2/24; interface 1 (a queue device, MTU 576, no
 * offloads) is 198.51.100.2/24, default route via 198.51.100.1;
 * forwarding on. A TCP listener on port 80 echoes what its connections
 * read; UDP 0.0.0.0:4000 echoes datagrams.
 *
 * A fresh stack per input; at the end (sockets closed, timers run out)
 * every buffer must be back in the pool.
 *
 * Seed corpus: tests/fuzz/corpus/fuzz_vnet/ (a SYN to port 80, a UDP
 * datagram with its checksum left partial, GSO packets to forward with
 * and without DF).
 *
 * Run: build-test/tests/fuzz_vnet -max_total_time=60 tests/fuzz/corpus/fuzz_vnet
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dev/offload.h"
#include "netsock/netsock.h"
#include "netsock/socket.h"
#include "wire/vnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t mac0[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac1[6] = {0x02, 0, 0, 0, 0, 0x02};

/* The TAP side without the descriptor: one pending input frame. */
struct vdev {
    struct ns_dev dev;
    const uint8_t *in; /* header + frame, NULL when none */
    size_t in_len;
};

static int vdev_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    (void)now_us;
    struct ns_vnet_repr r;
    uint8_t hdr[NS_VNET_HLEN];
    int rc = ns_vnet_from_pbuf(pb, 14, &r);
    if (rc == 0) {
        ns_vnet_emit(&r, true, hdr);
        /* What the kernel does with it: cut GSO packets, finish checksums. */
        if (pb->gso_size) {
            struct ns_pbuf_queue q;
            ns_pbuf_queue_init(&q);
            if (ns_gso_segment(pb, 14, &q) >= 0)
                ns_pbuf_queue_purge(&q);
            dev->stats.tx_frames++;
            return 0;
        }
        if (ns_pbuf_csum_finish(pb) < 0)
            abort(); /* from_pbuf accepted these offsets */
    }
    return ns_dev_tx_done(dev, pb, pb->len, rc);
}

static struct ns_pbuf *vdev_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool, uint64_t now_us)
{
    struct vdev *v = (struct vdev *)dev;
    (void)now_us;
    if (!v->in)
        return NULL;
    const uint8_t *in = v->in;
    size_t len = v->in_len;
    v->in = NULL;
    if (len <= NS_VNET_HLEN)
        return NULL;
    struct ns_pbuf *pb = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, (uint32_t)(len - NS_VNET_HLEN));
    if (!pb)
        return NULL;
    memcpy(ns_pbuf_data(pb), in + NS_VNET_HLEN, len - NS_VNET_HLEN);
    struct ns_vnet_repr r;
    ns_vnet_parse(in, true, &r);
    if (ns_vnet_to_pbuf(&r, pb) < 0) {
        ns_pbuf_free(pb);
        return NULL;
    }
    return pb;
}

static uint64_t vdev_deadline(struct ns_dev *dev)
{
    return ((struct vdev *)dev)->in ? 0 : NS_TIME_NEVER;
}

static void vdev_close(struct ns_dev *dev) { free(dev); }

static const struct ns_dev_ops vdev_ops = {
    .xmit = vdev_xmit, .recv = vdev_recv, .next_deadline = vdev_deadline, .close = vdev_close};

#define NCONN 8

static int open_sock(struct ns_stack *st, int type, uint16_t port)
{
    int fd = ns_socket(st, AF_INET, type | SOCK_NONBLOCK, 0);
    if (fd < 0)
        abort();
    int one = 1;
    ns_setsockopt(st, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (ns_bind(st, fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        abort();
    if (type == SOCK_STREAM && ns_listen(st, fd, 4) < 0)
        abort();
    return fd;
}

/* Accept, read everything, echo it (TCP: large writes go out as TSO
 * segments); echo UDP datagrams. */
static void serve(struct ns_stack *st, int lfd, int ufd, int conns[NCONN])
{
    static uint8_t buf[65536];
    for (int k = 0; k < NCONN; k++) {
        if (conns[k] < 0)
            conns[k] = ns_accept(st, lfd, NULL, NULL);
        if (conns[k] < 0)
            continue;
        for (int n = 0; n < 64; n++) {
            ssize_t got = ns_recv(st, conns[k], buf, sizeof(buf), MSG_DONTWAIT);
            if (got <= 0) {
                if (got == 0 || errno != EAGAIN) {
                    ns_close(st, conns[k]);
                    conns[k] = -1;
                }
                break;
            }
            ns_send(st, conns[k], buf, (size_t)got, MSG_DONTWAIT);
        }
    }
    for (int n = 0; n < 64; n++) {
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        ssize_t got = ns_recvfrom(st, ufd, buf, sizeof(buf), MSG_DONTWAIT,
                                  (struct sockaddr *)&from, &flen);
        if (got < 0) {
            if (errno == EAGAIN)
                break;
            continue;
        }
        if (from.sin_port != htons(4000))
            ns_sendto(st, ufd, buf, (size_t)got, MSG_DONTWAIT, (struct sockaddr *)&from, flen);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.pbuf_count = 256;
    cfg.pbuf_heap_max = 1u << 20;
    cfg.ip_forward = true;
    cfg.arp_cache_max = 16;
    uint64_t now = 1000000;
    struct ns_stack *st = ns_stack_new(&cfg, now);
    if (!st)
        abort();
    struct vdev *v = calloc(1, sizeof(*v));
    if (!v)
        abort();
    v->dev.ops = &vdev_ops;
    strcpy(v->dev.name, "tap0");
    v->dev.link = NS_LINK_ETHER;
    v->dev.mtu = 1500;
    memcpy(v->dev.hwaddr, mac0, 6);
    v->dev.offloads = NS_DEV_OFF_TX_CSUM | NS_DEV_OFF_TSO;
    v->dev.gso_max_size = 65535;
    struct ns_dev *d1 = ns_qdev_new("eth1", NS_LINK_ETHER, mac1, 576);
    int if0 = ns_if_add(st, &v->dev), if1 = ns_if_add(st, d1);
    struct in_addr a0, a1, gw, any = {0};
    inet_pton(AF_INET, "192.0.2.2", &a0);
    inet_pton(AF_INET, "198.51.100.2", &a1);
    inet_pton(AF_INET, "198.51.100.1", &gw);
    ns_if_addr_add(st, if0, AF_INET, &a0, 24);
    ns_if_addr_add(st, if1, AF_INET, &a1, 24);
    ns_route_add(st, AF_INET, &any, 0, &gw, 0);
    int lfd = open_sock(st, SOCK_STREAM, 80);
    int ufd = open_sock(st, SOCK_DGRAM, 4000);
    int conns[NCONN];
    for (int k = 0; k < NCONN; k++)
        conns[k] = -1;

    uint8_t sink[2048];
    size_t i = 0;
    while (i + 3 <= size) {
        uint8_t flags = data[i];
        size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
        i += 3;
        if (len > size - i)
            len = size - i;
        now += (uint64_t)(flags >> 1) * 100000;
        v->in = data + i;
        v->in_len = len;
        ns_stack_poll(st, now);
        v->in = NULL;
        i += len;
        serve(st, lfd, ufd, conns);
        while (ns_qdev_take(d1, sink, sizeof(sink)) >= 0)
            ;
    }
    for (int k = 0; k < NCONN; k++)
        if (conns[k] >= 0)
            ns_close(st, conns[k]);
    ns_close(st, lfd);
    ns_close(st, ufd);
    for (int k = 0; k < 40; k++) {
        now += 10000000;
        ns_stack_poll(st, now);
        while (ns_qdev_take(d1, sink, sizeof(sink)) >= 0)
            ;
    }
    struct ns_pbuf_pool_stats ps;
    ns_stack_pbuf_stats(st, &ps);
    if (ps.pool_free != ps.pool_total || ps.heap_bytes != 0)
        abort(); /* a path kept a buffer after every timer ran out */
    ns_stack_free(st);
    return 0;
}
