/* dev/offload.h — between a pbuf's offload metadata (pbuf.h) and the
 * virtio-net header TUN/TAP devices speak (wire/vnet.h). Internal: the
 * TAP/TUN device and tests use it; the software offload work itself
 * (ns_pbuf_csum_finish, ns_gso_segment) is public in netsock/dev.h. */
#ifndef NS_DEV_OFFLOAD_H
#define NS_DEV_OFFLOAD_H

#include "netsock/dev.h"
#include "wire/vnet.h"

/* Describe the frame in pb (l2_hlen bytes of link header before IPv4) for
 * a device that reads a virtio-net header: NEEDS_CSUM with csum_start and
 * csum_offset from the frame start for a partial checksum; for a GSO
 * packet longer than one segment also gso_type TCPV4 or TCPV6 (| ECN when
 * the header carries CWR), gso_size and hdr_len (link, IP and TCP headers).
 * Returns 0, or -EINVAL when the metadata does not fit the frame (a GSO
 * packet that is not well-formed TCPv4 or TCPv6 with its checksum left
 * partial at the TCP header): the frame must not be sent. */
int ns_vnet_from_pbuf(const struct ns_pbuf *pb, uint32_t l2_hlen, struct ns_vnet_repr *r);

/* Apply the header of a received frame (pb's data, header removed):
 * NEEDS_CSUM -> NS_PBUF_F_CSUM_PARTIAL at the given offsets and
 * NS_PBUF_F_CSUM_OK; DATA_VALID -> NS_PBUF_F_CSUM_OK; GSO TCPV4 / TCPV6
 * (with or without ECN) -> gso_size, gso_type NS_GSO_TCPV4 / NS_GSO_TCPV6.
 * hdr_len is ignored
 * (Linux fills it with the linear part's length, not the headers').
 * Returns 0; -EINVAL for offsets beyond the frame, GSO without NEEDS_CSUM
 * or with gso_size 0; -EPROTONOSUPPORT for another GSO type. On error pb
 * is unchanged and the frame is to be dropped. */
int ns_vnet_to_pbuf(const struct ns_vnet_repr *r, struct ns_pbuf *pb);

#endif
