/* wire/vnet.c — the virtio-net header. See wire/vnet.h.
 *
 * Read first: virtio v1.2 §5.1.6 (struct virtio_net_hdr and its fields).
 */
#include "wire/vnet.h"

static uint16_t rd16(const uint8_t *p, bool le)
{
    return le ? (uint16_t)(p[0] | p[1] << 8) : (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v, bool le)
{
    p[le ? 0 : 1] = (uint8_t)v;
    p[le ? 1 : 0] = (uint8_t)(v >> 8);
}

void ns_vnet_parse(const uint8_t *buf, bool le, struct ns_vnet_repr *r)
{
    r->flags = buf[0];
    r->gso_type = buf[1];
    r->hdr_len = rd16(buf + 2, le);
    r->gso_size = rd16(buf + 4, le);
    r->csum_start = rd16(buf + 6, le);
    r->csum_offset = rd16(buf + 8, le);
    /* buf[10..11]: num_buffers, meaningful only with mergeable receive
     * buffers (VIRTIO_NET_F_MRG_RXBUF), which TUN/TAP does not use. */
}

void ns_vnet_emit(const struct ns_vnet_repr *r, bool le, uint8_t *buf)
{
    buf[0] = r->flags;
    buf[1] = r->gso_type;
    wr16(buf + 2, r->hdr_len, le);
    wr16(buf + 4, r->gso_size, le);
    wr16(buf + 6, r->csum_start, le);
    wr16(buf + 8, r->csum_offset, le);
    wr16(buf + 10, 0, le);
}
