/* dev/offload.c — offload work done in software: finishing a partial
 * checksum, cutting a TCPv4 or TCPv6 GSO packet into wire segments, and the
 * translation between a pbuf's offload metadata and the virtio-net header
 * of TUN/TAP. See include/netsock/dev.h, include/netsock/pbuf.h and
 * dev/offload.h.
 *
 * Read first: RFC 1071 (the checksum), RFC 9293 §3.1 (the TCP header and
 * its pseudo-header) and §3.7.1 (segments no larger than the MSS), RFC
 * 6864 §4.1 (IP IDs of atomic datagrams), RFC 3168 §6.1.2 (CWR on one
 * segment), virtio v1.2 §5.1.6.2 (what a device does with NEEDS_CSUM and
 * GSO), and Linux net/ipv4/tcp_offload.c (tcp_gso_segment: PSH and FIN on
 * the last segment, CWR on the first) for what peers expect of a cut
 * packet. TCPv6 (RFC 8200 §8.1 for its pseudo-header): the same cut,
 * with the IPv6 Payload Length per segment and no ID (an IPv6 packet
 * has none outside a Fragment header); a GSO packet carries no
 * extension headers (TCP sends none).
 */
#include "dev/offload.h"

#include <errno.h>
#include <string.h>

#include "wire/bytes.h"
#include "wire/ipv6.h"
#include "wire/wire.h"

int ns_pbuf_csum_finish(struct ns_pbuf *pb)
{
    if (!(pb->flags & NS_PBUF_F_CSUM_PARTIAL))
        return 0;
    uint32_t end = pb->off + pb->len;
    if (pb->csum_start < pb->off || (uint32_t)pb->csum_start + pb->csum_offset + 2u > end)
        return -EINVAL;
    uint8_t *span = pb->buf + pb->csum_start;
    /* The field holds the pseudo-header sum: summing the span with it in
     * place adds the pseudo-header (RFC 9293 §3.1), and the complement is
     * the checksum. */
    uint16_t c = ns_csum_fold(ns_csum_add(0, span, end - pb->csum_start));
    /* RFC 768: a UDP checksum computing to 0 is sent as all ones (0 means
     * "none"). The UDP checksum is the only one 6 bytes into its header. */
    if (c == 0 && pb->csum_offset == 6)
        c = 0xffff;
    ns_wr16(span + pb->csum_offset, c);
    pb->flags &= ~NS_PBUF_F_CSUM_PARTIAL;
    return 0;
}

/* The headers of a TCPv4 or TCPv6 GSO frame, validated against the frame. */
struct gso_hdrs {
    bool v6;
    uint32_t ihl, thl;     /* IP (IPv6: 40) and TCP header lengths */
    uint32_t hdr;          /* l2_hlen + ihl + thl */
    uint32_t payload;      /* TCP payload bytes */
    uint32_t src, dst;     /* IPv4, host order */
    struct ns_ip6_addr src6, dst6;
};

static int gso_parse(const struct ns_pbuf *pb, uint32_t l2_hlen, struct gso_hdrs *h)
{
    const uint8_t *f = ns_pbuf_data(pb);
    if (pb->gso_size == 0 || pb->len < l2_hlen + NS_IP4_HLEN)
        return -EINVAL;
    const uint8_t *ip = f + l2_hlen;
    uint32_t tot;
    if (pb->gso_type == NS_GSO_TCPV6) {
        /* TCP right after the fixed header: no extension headers. */
        h->v6 = true;
        h->ihl = NS_IP6_HLEN;
        if (pb->len < l2_hlen + NS_IP6_HLEN + NS_TCP_HLEN || ip[0] >> 4 != 6 ||
            ip[6] != NS_IPPROTO_TCP)
            return -EINVAL;
        tot = NS_IP6_HLEN + ns_rd16(ip + 4);
        if (l2_hlen + tot > pb->len || tot < NS_IP6_HLEN + NS_TCP_HLEN)
            return -EINVAL;
        memcpy(h->src6.b, ip + 8, 16);
        memcpy(h->dst6.b, ip + 24, 16);
    } else if (pb->gso_type == NS_GSO_TCPV4) {
        h->v6 = false;
        h->ihl = (ip[0] & 0x0fu) * 4u;
        tot = ns_rd16(ip + 2);
        if (ip[0] >> 4 != 4 || h->ihl < NS_IP4_HLEN || ip[9] != NS_IPPROTO_TCP ||
            tot < h->ihl + NS_TCP_HLEN || l2_hlen + tot > pb->len ||
            (ns_rd16(ip + 6) & (NS_IP4_MF | NS_IP4_OFFMASK)))
            return -EINVAL; /* a fragment is never a GSO packet */
        h->src = ns_rd32(ip + 12);
        h->dst = ns_rd32(ip + 16);
    } else {
        return -EINVAL;
    }
    h->thl = (ip[h->ihl + 12] >> 4) * 4u;
    if (h->thl < NS_TCP_HLEN || h->ihl + h->thl > tot)
        return -EINVAL;
    h->hdr = l2_hlen + h->ihl + h->thl;
    h->payload = tot - h->ihl - h->thl;
    return 0;
}

/* Give the segment at f (whole frame: l2, IP, TCP, len payload bytes)
 * its lengths, ID (IPv4), sequence number, flags and checksums. */
static void gso_fix_segment(uint8_t *f, uint32_t l2_hlen, const struct gso_hdrs *h, uint32_t len,
                            uint16_t id, uint32_t seq, uint8_t flags)
{
    uint8_t *ip = f + l2_hlen;
    uint8_t *th = ip + h->ihl;
    ns_wr32(th + 4, seq);
    th[13] = flags;
    ns_wr16(th + 16, 0);
    if (h->v6) {
        ns_wr16(ip + 4, (uint16_t)(h->thl + len));
        ns_wr16(th + 16, ns_ip6_upper_csum(&h->src6, &h->dst6, NS_IPPROTO_TCP, th, h->thl + len));
        return;
    }
    ns_wr16(ip + 2, (uint16_t)(h->ihl + h->thl + len));
    ns_wr16(ip + 4, id);
    ns_wr16(ip + 10, 0);
    ns_wr16(ip + 10, ns_csum(ip, h->ihl));
    ns_wr16(th + 16, ns_tcp_csum(h->src, h->dst, th, h->thl + len));
}

int ns_gso_segment(struct ns_pbuf *pb, uint32_t l2_hlen, struct ns_pbuf_queue *out)
{
    struct gso_hdrs h;
    if (gso_parse(pb, l2_hlen, &h) < 0) {
        ns_pbuf_free(pb);
        return -EINVAL;
    }
    uint8_t *f = ns_pbuf_data(pb);
    uint8_t *th = f + l2_hlen + h.ihl;
    uint16_t id = h.v6 ? 0 : ns_rd16(f + l2_hlen + 4);
    uint32_t seq = ns_rd32(th + 4);
    uint8_t flags = th[13];
    uint32_t mss = pb->gso_size;
    const uint32_t keep = NS_PBUF_F_CSUM_OK | NS_PBUF_F_L2_BCAST;

    if (h.payload <= mss) {
        /* One segment: it is the packet itself, finished in place. */
        ns_pbuf_trim(pb, h.hdr + h.payload);
        gso_fix_segment(f, l2_hlen, &h, h.payload, id, seq, flags);
        pb->gso_size = 0;
        pb->gso_type = 0;
        pb->flags &= ~NS_PBUF_F_CSUM_PARTIAL;
        ns_pbuf_queue_push(out, pb);
        return 1;
    }

    struct ns_pbuf_queue segs;
    ns_pbuf_queue_init(&segs);
    uint32_t nseg = (h.payload + mss - 1) / mss;
    for (uint32_t i = 0; i < nseg; i++) {
        uint32_t off = i * mss;
        uint32_t len = h.payload - off < mss ? h.payload - off : mss;
        struct ns_pbuf *s = ns_pbuf_alloc(pb->pool, NS_PBUF_HEADROOM, h.hdr + len);
        if (!s) {
            ns_pbuf_queue_purge(&segs);
            ns_pbuf_free(pb);
            return -ENOBUFS;
        }
        uint8_t *sf = ns_pbuf_data(s);
        memcpy(sf, f, h.hdr);
        memcpy(sf + h.hdr, f + h.hdr + off, len);
        /* tcp_gso_segment: PSH and FIN belong to the end of the data, so
         * to the last segment; CWR announces one window reduction, so only
         * the first carries it (RFC 3168 §6.1.2). IDs count up, as each
         * segment were its own datagram (RFC 6864 §4.1). */
        uint8_t sflags = flags;
        if (i + 1 < nseg)
            sflags &= (uint8_t)~(NS_TCP_FIN | NS_TCP_PSH);
        if (i > 0)
            sflags &= (uint8_t)~NS_TCP_CWR;
        gso_fix_segment(sf, l2_hlen, &h, len, (uint16_t)(id + i), seq + off, sflags);
        s->ifindex = pb->ifindex;
        s->time_us = pb->time_us;
        s->flags |= pb->flags & keep;
        ns_pbuf_queue_push(&segs, s);
    }
    ns_pbuf_free(pb);
    struct ns_pbuf *s;
    while ((s = ns_pbuf_queue_pop(&segs)))
        ns_pbuf_queue_push(out, s);
    return (int)nseg;
}

int ns_vnet_from_pbuf(const struct ns_pbuf *pb, uint32_t l2_hlen, struct ns_vnet_repr *r)
{
    memset(r, 0, sizeof(*r));
    if (pb->flags & NS_PBUF_F_CSUM_PARTIAL) {
        if (pb->csum_start < pb->off ||
            (uint32_t)pb->csum_start + pb->csum_offset + 2u > pb->off + pb->len)
            return -EINVAL;
        r->flags = NS_VNET_F_NEEDS_CSUM;
        r->csum_start = (uint16_t)(pb->csum_start - pb->off);
        r->csum_offset = pb->csum_offset;
    }
    if (pb->gso_size) {
        struct gso_hdrs h;
        /* §5.1.6.2: GSO needs the checksum left partial at the TCP header. */
        if (gso_parse(pb, l2_hlen, &h) < 0 || !(pb->flags & NS_PBUF_F_CSUM_PARTIAL) ||
            r->csum_start != l2_hlen + h.ihl || r->csum_offset != 16)
            return -EINVAL;
        if (h.payload > pb->gso_size) {
            const uint8_t *th = ns_pbuf_data(pb) + l2_hlen + h.ihl;
            r->gso_type = h.v6 ? NS_VNET_GSO_TCPV6 : NS_VNET_GSO_TCPV4;
            if (th[13] & NS_TCP_CWR)
                r->gso_type |= NS_VNET_GSO_ECN;
            r->gso_size = pb->gso_size;
            r->hdr_len = (uint16_t)h.hdr;
        }
    }
    return 0;
}

int ns_vnet_to_pbuf(const struct ns_vnet_repr *r, struct ns_pbuf *pb)
{
    uint8_t gso = r->gso_type & (uint8_t)~NS_VNET_GSO_ECN;
    if (r->flags & NS_VNET_F_NEEDS_CSUM) {
        if ((uint32_t)r->csum_start + r->csum_offset + 2u > pb->len)
            return -EINVAL;
    }
    if (gso != NS_VNET_GSO_NONE) {
        if (gso != NS_VNET_GSO_TCPV4 && gso != NS_VNET_GSO_TCPV6)
            return -EPROTONOSUPPORT; /* not offered (TUNSETOFFLOAD), not ours to cut */
        if (r->gso_size == 0 || !(r->flags & NS_VNET_F_NEEDS_CSUM))
            return -EINVAL;
    }
    if (r->flags & NS_VNET_F_NEEDS_CSUM) {
        /* A partial checksum comes from the kernel's own stack on this
         * host: nothing crossed a wire, so nothing to verify (Linux treats
         * CHECKSUM_PARTIAL on receive the same). */
        ns_pbuf_csum_partial(pb, r->csum_start, r->csum_offset);
        pb->flags |= NS_PBUF_F_CSUM_OK;
    } else if (r->flags & NS_VNET_F_DATA_VALID) {
        pb->flags |= NS_PBUF_F_CSUM_OK; /* §5.1.6.4: the device verified it */
    }
    if (gso != NS_VNET_GSO_NONE) {
        pb->gso_size = r->gso_size;
        pb->gso_type = gso == NS_VNET_GSO_TCPV6 ? NS_GSO_TCPV6 : NS_GSO_TCPV4;
    }
    return 0;
}
