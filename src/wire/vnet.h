/* wire/vnet.h — the virtio-net header (struct virtio_net_hdr_v1) that
 * precedes every frame on a TAP/TUN descriptor opened with IFF_VNET_HDR.
 *
 * Read first: the virtio specification v1.2 §5.1.6 "Device Operation"
 * (the header, §5.1.6.2 packet transmission: NEEDS_CSUM, csum_start,
 * csum_offset, gso_type, hdr_len, gso_size; §5.1.6.4 packet reception:
 * DATA_VALID), linux/virtio_net.h (the same constants) and
 * Documentation/networking/tuntap.rst.
 *
 * Layout (12 bytes): flags u8, gso_type u8, hdr_len, gso_size, csum_start,
 * csum_offset, num_buffers: 16-bit fields, little-endian for a virtio 1.x
 * device and in the host's order for a legacy one; TUN/TAP speaks little
 * endian on little-endian hosts, and on others after TUNSETVNETLE, so the
 * caller says which (`le`). Pure functions, as the rest of wire/.
 */
#ifndef NS_WIRE_VNET_H
#define NS_WIRE_VNET_H

#include <stdbool.h>
#include <stdint.h>

#define NS_VNET_HLEN 12u /* with num_buffers (virtio 1.x); TUNSETVNETHDRSZ 12 */

#define NS_VNET_F_NEEDS_CSUM 0x1u /* checksum at csum_start+csum_offset left to finish */
#define NS_VNET_F_DATA_VALID 0x2u /* receive: the checksums were verified */

#define NS_VNET_GSO_NONE 0u
#define NS_VNET_GSO_TCPV4 1u
#define NS_VNET_GSO_UDP 3u
#define NS_VNET_GSO_TCPV6 4u
#define NS_VNET_GSO_UDP_L4 5u
#define NS_VNET_GSO_ECN 0x80u /* TCP with ECN: CWR on the first segment only */

struct ns_vnet_repr {
    uint8_t flags;        /* NS_VNET_F_* */
    uint8_t gso_type;     /* NS_VNET_GSO_*, maybe | NS_VNET_GSO_ECN */
    uint16_t hdr_len;     /* GSO: bytes of headers (link to transport) in front of the payload */
    uint16_t gso_size;    /* GSO: payload bytes per segment */
    uint16_t csum_start;  /* NEEDS_CSUM: where the checksummed span starts, from the frame start */
    uint16_t csum_offset; /* NEEDS_CSUM: the field's offset from csum_start */
};

/* Read the header at buf (NS_VNET_HLEN bytes). No validation here: the
 * values are checked against the frame by whoever uses them. */
void ns_vnet_parse(const uint8_t *buf, bool le, struct ns_vnet_repr *r);

/* Write r into buf (NS_VNET_HLEN bytes; num_buffers 0). */
void ns_vnet_emit(const struct ns_vnet_repr *r, bool le, uint8_t *buf);

#endif
