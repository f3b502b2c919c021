/* raw/raw.c — raw IPv4 and IPv6 sockets (SOCK_RAW).
 *
 * Read first: Linux raw(7) — the behaviour implemented here: a raw socket
 * of protocol P receives a copy of every IPv4 datagram of protocol P
 * addressed to this host, IP header included, in addition to the normal
 * protocol processing; it sends with the stack building the IPv4 header,
 * or with IP_HDRINCL (implied by IPPROTO_RAW) the caller's own header, in
 * which the stack fills a zero source address, a zero ID, the total length
 * and the checksum. RFC 1122 §3.2.1 for the header rules.
 *
 * IPv6 (raw(7) for AF_INET6, Linux net/ipv6/raw.c, RFC 3542 §3): a copy
 * of every IPv6 datagram of protocol P for this host, from the
 * upper-layer header on (never the IPv6 header), through ICMP6_FILTER
 * and, when the socket checksums (ICMPv6 always, IPV6_CHECKSUM), only
 * with a checksum that verifies; sent behind an IPv6 header the stack
 * builds, with that checksum filled in, or as written with IPV6_HDRINCL.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "raw/raw.h"
#include "socket/sock.h"
#include "wire/bytes.h"
#include "wire/wire.h"

static bool raw_deliver(struct ns_stack *st, const struct ns_ip4_repr *ip, const struct ns_pbuf *pb);
static void raw_err(struct ns_stack *st, uint8_t type, uint8_t code, const struct ns_ip4_repr *inner);
static bool raw6_deliver(struct ns_stack *st, const struct ns_ip6_repr *ip, const struct ns_pbuf *pb);
static void raw6_err(struct ns_stack *st, uint8_t type, uint8_t code, const struct ns_ip6_repr *inner);

/* What the network layer calls while raw sockets exist. */
static const struct ip_raw_tap raw_tap = {
    .deliver4 = raw_deliver, .err4 = raw_err, .deliver6 = raw6_deliver, .err6 = raw6_err};

static struct ns_sock *raw_create(struct ns_stack *st, int protocol, int *err);
static struct ns_sock *raw6_create(struct ns_stack *st, int protocol, int *err);

/* Raw sockets in the socket switch: any protocol but 0 (inet_create,
 * inet6_create). */
static const struct ns_protosw raw_protosw = {
    .family = AF_INET, .type = SOCK_RAW, .protocol = 0, .create = raw_create};
static const struct ns_protosw raw6_protosw = {
    .family = AF_INET6, .type = SOCK_RAW, .protocol = 0, .create = raw6_create};

int raw_init(struct ns_stack *st)
{
    st->raw = calloc(1, sizeof(*st->raw));
    if (!st->raw)
        return -ENOMEM;
    int rc = sock_register(st, &raw_protosw);
    return rc < 0 ? rc : sock_register(st, &raw6_protosw);
}

void raw_destroy(struct ns_stack *st)
{
    free(st->raw);
    st->raw = NULL;
}

/* Add a new raw socket to the delivery list (the first one opens the
 * network layer's tap). */
static void raw_attach(struct ns_stack *st, struct ns_sock *so)
{
    if (!st->raw->list)
        ip_raw_tap_set(st, &raw_tap);
    so->rnext = st->raw->list;
    st->raw->list = so;
}

static void raw_close(struct ns_stack *st, struct ns_sock *so)
{
    for (struct ns_sock **pp = &st->raw->list; *pp; pp = &(*pp)->rnext) {
        if (*pp == so) {
            *pp = so->rnext;
            break;
        }
    }
    if (!st->raw->list)
        ip_raw_tap_set(st, NULL);
    sock_dgram_free(so);
}

static int raw_bind(struct ns_stack *st, struct ns_sock *so, const struct ns_addr *addr,
                    uint16_t port)
{
    (void)st;
    (void)port; /* raw(7): the port is ignored */
    so->flow.local = *addr;
    so->flags |= SO_F_BOUND;
    return 0;
}

static int raw_connect(struct ns_stack *st, struct ns_sock *so, const struct ns_addr *to,
                       uint16_t port)
{
    if (to->family == AF_UNSPEC) {
        so->flags &= ~SO_F_CONNECTED;
        so->flow.remote = sock_any(so);
        so->flow.rport = 0;
        return 0;
    }
    uint32_t addr = ns_addr_to_ip4(to);
    if (ip4_egress(st, &so->egress, addr)->err)
        return -ENETUNREACH;
    if (ip4_is_broadcast(st, addr) && !(so->flags & SO_F_BROADCAST))
        return -EACCES;
    so->flow.remote = *to;
    so->flow.rport = port; /* ip4_datagram_connect keeps it; getpeername shows it */
    so->flags |= SO_F_CONNECTED;
    return 0;
}

/* IP_HDRINCL: the caller wrote the header; complete and send it as is
 * (no fragmentation, as Linux raw_send_hdrinc). */
static ssize_t raw_send_hdrincl(struct ns_stack *st, struct ns_sock *so, const struct msghdr *msg,
                                size_t len, uint32_t daddr)
{
    if (len < NS_IP4_HLEN)
        return -EINVAL;
    if (len > NS_IP4_MAX_LEN)
        return -EMSGSIZE;
    const struct ip_egress *eg = ip4_egress(st, &so->egress, daddr);
    struct ns_iface *ifp = eg->ifp;
    if (eg->err || !ifp)
        return -ENETUNREACH;
    if (len > ifp->dev->mtu)
        return -EMSGSIZE;
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, (uint32_t)len);
    if (!pb)
        return -ENOBUFS;
    uint8_t *h = ns_pbuf_data(pb);
    sock_iov_gather(msg, h, len);
    size_t ihl = (size_t)(h[0] & 0xf) * 4;
    if (ihl < NS_IP4_HLEN || ihl > len) {
        ns_pbuf_free(pb);
        return -EINVAL;
    }
    ns_wr16(h + 2, (uint16_t)len);
    if (ns_rd16(h + 4) == 0)
        ns_wr16(h + 4, ip4_next_id(st));
    if (ns_rd32(h + 12) == 0)
        ns_wr32(h + 12, eg->local ? daddr : eg->src);
    ns_wr16(h + 10, 0);
    ns_wr16(h + 10, ns_csum(h, ihl));
    int rc = ip4_send_packet_if(st, pb, ifp, eg->nexthop);
    return rc < 0 ? rc : (ssize_t)len;
}

/* Checks in the order of Linux raw_sendmsg. */
static ssize_t raw_sendmsg(struct ns_stack *st, struct ns_sock *so, const struct msghdr *msg,
                           size_t len, int flags)
{
    struct ns_addr dst;
    uint16_t dport;
    if (len > 0xFFFF)
        return -EMSGSIZE;
    if (flags & MSG_OOB)
        return -EOPNOTSUPP;
    int have_dst = sock_msg_dst(msg, &dst, &dport);
    if (have_dst < 0)
        return have_dst;
    if (!have_dst && !(so->flags & SO_F_CONNECTED))
        return -EDESTADDRREQ;
    uint32_t daddr = ns_addr_to_ip4(have_dst ? &dst : &so->flow.remote);
    struct sock_cmsg cm; /* ip_cmsg_send: IP_TTL / IP_TOS for this datagram */
    int rc = sock_cmsg_send(msg, SOCK_CMSG_RAW, &cm);
    if (rc < 0)
        return rc;
    if (ip4_is_broadcast(st, daddr) && !(so->flags & SO_F_BROADCAST))
        return -EACCES;
    rc = sock_send_ready(so);
    if (rc < 0)
        return rc;
    if (so->flags & SO_F_HDRINCL)
        return raw_send_hdrincl(st, so, msg, len, daddr);
    if (len > NS_IP4_MAX_LEN - NS_IP4_HLEN)
        return -EMSGSIZE;
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, (uint32_t)len);
    if (!pb)
        return -ENOBUFS;
    sock_iov_gather(msg, ns_pbuf_data(pb), len);
    struct ip4_out o = {
        .src = ns_addr_to_ip4(&so->flow.local),
        .dst = daddr,
        .proto = (uint8_t)so->flow.proto,
        .ttl = cm.ttl ? (uint8_t)cm.ttl : so->ttl,
        .tos = cm.tos >= 0 ? (uint8_t)cm.tos : so->tos,
    };
    rc = ip4_output_via(st, ip4_egress(st, &so->egress, daddr), &o, pb);
    return rc < 0 ? rc : (ssize_t)len;
}

/* Linux SIN6_LEN_RFC2133. */
#define RAW6_SIN6_LEN 24
/* The largest IPv6 payload (RFC 8200 §3: a 16-bit Payload Length). */
#define RAW6_MAX_PAYLOAD 0xffffu

/* IPV6_HDRINCL: the caller wrote the whole packet, IPv6 header included;
 * it leaves as it is, unfragmented (Linux rawv6_send_hdrinc: longer than
 * the device's MTU is EMSGSIZE, shorter than a header EINVAL). */
static ssize_t raw6_send_hdrincl(struct ns_stack *st, const struct ip_egress *eg,
                                 const struct msghdr *msg, size_t len)
{
    if (len > eg->ifp->dev->mtu)
        return -EMSGSIZE;
    if (len < NS_IP6_HLEN)
        return -EINVAL;
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, (uint32_t)len);
    if (!pb)
        return -ENOBUFS;
    sock_iov_gather(msg, ns_pbuf_data(pb), len);
    int rc = ip6_send_packet_via(st, eg, pb);
    return rc < 0 ? rc : (ssize_t)len;
}

/* rawv6_sendmsg, in its order: the length, MSG_OOB; the destination (a
 * sockaddr_in6 of at least 24 bytes, family AF_INET6 or 0, its port the
 * protocol: 0 for the socket's own, another only under IPPROTO_RAW, at
 * most 255; a scope id for a link-scoped address) or the connected
 * peer; the control messages (ip6_datagram_send_ctl); ICMPv6's type and
 * code must be there (rawv6_probe_proto_opt copies 2 bytes: EFAULT);
 * :: means ::1; the route (ENETUNREACH) and source (IPV6_PKTINFO's, the
 * bound address, or the egress's: EADDRNOTAVAIL without one); then
 * IPV6_HDRINCL's packet as it is, or the payload behind an IPv6 header
 * of ours with the IPV6_CHECKSUM (ICMPv6: always, at 2) filled in over
 * the pseudo-header (RFC 8200 §8.1, RFC 3542 §3.1; rawv6_push_pending_
 * frames: an offset without two bytes behind it in the payload is
 * EINVAL), fragmented beyond the path MTU unless IPV6_DONTFRAG. */
static ssize_t raw6_sendmsg(struct ns_stack *st, struct ns_sock *so, const struct msghdr *msg,
                            size_t len, int flags)
{
    if (len > INT_MAX)
        return -EMSGSIZE;
    if (flags & MSG_OOB)
        return -EOPNOTSUPP;
    struct ns_addr dst = {.family = AF_INET6};
    unsigned proto = so->flow.proto;
    int oif = 0;
    if (msg->msg_name) {
        struct sockaddr_in6 s6;
        if (msg->msg_namelen < RAW6_SIN6_LEN)
            return -EINVAL;
        memset(&s6, 0, sizeof(s6));
        memcpy(&s6, msg->msg_name,
               msg->msg_namelen < sizeof(s6) ? msg->msg_namelen : sizeof(s6));
        if (s6.sin6_family && s6.sin6_family != AF_INET6)
            return -EAFNOSUPPORT;
        unsigned p = ntohs(s6.sin6_port);
        if (p && p != so->flow.proto && so->flow.proto != IPPROTO_RAW)
            return -EINVAL;
        if (p)
            proto = p;
        if (proto > 255)
            return -EINVAL;
        memcpy(dst.u.b, &s6.sin6_addr, 16);
        if (msg->msg_namelen >= sizeof(s6) && s6.sin6_scope_id && sock_in6_needs_scope(&dst))
            oif = (int)s6.sin6_scope_id;
    } else {
        if (!(so->flags & SO_F_CONNECTED))
            return -EDESTADDRREQ;
        dst = so->flow.remote;
    }
    if (!oif)
        oif = so->bound_ifindex;
    struct sock_cmsg cm;
    int rc = sock_cmsg_send(msg, SOCK_CMSG_RAW6, &cm);
    if (rc < 0)
        return rc;
    struct ns_ip6_addr src = ns_ip6_unspecified;
    rc = sock_cmsg_pktinfo6(st, &cm, &oif, &src);
    if (rc < 0)
        return rc;
    bool hdrincl = so->flags & SO_F_HDRINCL;
    if (!hdrincl && proto == IPPROTO_ICMPV6 && len < 2)
        return -EFAULT;
    if (ns_addr_is_any(&dst))
        dst.u.b[15] = 1; /* "connect to host" (BSD): ::1 */
    if (!oif && ns_ip6_is_multicast(&dst.u.ip6))
        oif = so->mc_if6;
    const struct ip_egress *eg = ip6_egress(st, &so->egress, &dst.u.ip6, oif);
    if (eg->err)
        return -ENETUNREACH;
    if (ns_ip6_is_unspecified(&src) && !ns_addr_is_any(&so->flow.local) &&
        !ns_ip6_is_multicast(&so->flow.local.u.ip6))
        src = so->flow.local.u.ip6;
    if (ns_ip6_is_unspecified(&src))
        src = eg->src6;
    if (ns_ip6_is_unspecified(&src))
        return -EADDRNOTAVAIL;
    rc = sock_send_ready(so);
    if (rc < 0)
        return rc;
    if (hdrincl)
        return raw6_send_hdrincl(st, eg, msg, len);
    struct ip6_out o = {.src = src, .dst = dst.u.ip6, .proto = (uint8_t)proto, .oif = oif};
    sock_ip6_out_opts(so, &cm, &o);
    /* ip6_append_data: 65535 bytes of payload; with IPV6_DONTFRAG, what
     * fits the path MTU. */
    if (len > RAW6_MAX_PAYLOAD ||
        (o.dontfrag && len + NS_IP6_HLEN > ip6_path_mtu(st, eg->ifp, &dst.u.ip6)))
        return -EMSGSIZE;
    if (so->csum_off6 >= 0 && (size_t)so->csum_off6 + 1 >= len)
        return -EINVAL;
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, (uint32_t)len);
    if (!pb)
        return -ENOBUFS;
    uint8_t *p = ns_pbuf_data(pb);
    sock_iov_gather(msg, p, len);
    if (so->csum_off6 >= 0) {
        /* Whatever the caller left in the field is not part of the sum. */
        ns_wr16(p + so->csum_off6, 0);
        uint16_t c = ns_ip6_upper_csum(&src, &dst.u.ip6, (uint8_t)proto, p, len);
        if (c == 0 && proto == IPPROTO_UDP)
            c = 0xffff; /* CSUM_MANGLED_0 */
        ns_wr16(p + so->csum_off6, c);
    }
    NS_STAT_INC(st, raw6_tx);
    rc = ip6_output_via(st, eg, &o, pb);
    return rc < 0 ? rc : (ssize_t)len;
}

/* Linux ip6_datagram_connect_v6_only (rawv6's connect): the peer is
 * IPv6 (a v4-mapped peer, as __ip6_datagram_connect hands it to IPv4,
 * takes raw_connect), reached by route (ENETUNREACH) from a source it
 * has (EADDRNOTAVAIL); api.c checked the name and the scope. */
static int raw6_connect(struct ns_stack *st, struct ns_sock *so, const struct ns_addr *to,
                        uint16_t port)
{
    if (to->family != AF_INET6)
        return raw_connect(st, so, to, port);
    const struct ip_egress *eg = ip6_egress(st, &so->egress, &to->u.ip6, so->bound_ifindex);
    if (eg->err)
        return -ENETUNREACH;
    if (ns_addr_is_any(&so->flow.local) && ns_ip6_is_unspecified(&eg->src6))
        return -EADDRNOTAVAIL;
    so->flow.remote = *to;
    so->flow.rport = port;
    so->flags |= SO_F_CONNECTED;
    return 0;
}

static ssize_t raw_recvmsg(struct ns_stack *st, struct ns_sock *so, struct msghdr *msg, int flags)
{
    if (flags & MSG_OOB)
        return -EOPNOTSUPP; /* Linux raw_recvmsg */
    return sock_dgram_recvmsg(st, so, msg, flags, SOCK_DATA_IP);
}

/* rawv6_recvmsg: the datagram from its upper-layer header (no IPv6
 * header, RFC 3542 §3), the sender with port 0. */
static ssize_t raw6_recvmsg(struct ns_stack *st, struct ns_sock *so, struct msghdr *msg, int flags)
{
    if (flags & MSG_OOB)
        return -EOPNOTSUPP;
    return sock_dgram_recvmsg(st, so, msg, flags, SOCK_DATA_UPPER);
}

static const struct ns_sock_ops raw_sock_ops = {
    .bind = raw_bind,
    .connect = raw_connect,
    .sendmsg = raw_sendmsg,
    .recvmsg = raw_recvmsg,
    .poll = sock_dgram_poll,
    .shutdown = sock_dgram_shutdown,
    .close = raw_close,
    .state_name = sock_dgram_state,
};

/* The same for AF_INET6 sockets (Linux rawv6_prot). */
static const struct ns_sock_ops raw6_sock_ops = {
    .bind = raw_bind,
    .connect = raw6_connect,
    .sendmsg = raw6_sendmsg,
    .recvmsg = raw6_recvmsg,
    .poll = sock_dgram_poll,
    .shutdown = sock_dgram_shutdown,
    .close = raw_close,
    .state_name = sock_dgram_state,
};

static struct ns_sock *raw_new(struct ns_stack *st, int protocol, const struct ns_sock_ops *ops,
                               int *err)
{
    struct ns_sock *so = sock_dgram_new(st, SOCK_RAW, protocol, ops, err);
    if (!so)
        return NULL;
    /* inet_create: a raw socket's "port" is its protocol; IPPROTO_RAW
     * implies IP_HDRINCL (raw(7)). */
    so->flow.lport = (uint16_t)protocol;
    if (protocol == IPPROTO_RAW)
        so->flags |= SO_F_HDRINCL;
    raw_attach(st, so);
    return so;
}

static struct ns_sock *raw_create(struct ns_stack *st, int protocol, int *err)
{
    return raw_new(st, protocol, &raw_sock_ops, err);
}

static struct ns_sock *raw6_create(struct ns_stack *st, int protocol, int *err)
{
    return raw_new(st, protocol, &raw6_sock_ops, err);
}

static bool raw_deliver(struct ns_stack *st, const struct ns_ip4_repr *ip, const struct ns_pbuf *pb)
{
    bool any = false;
    struct ns_flow in = ns_flow_ip4(ip->dst, 0, ip->src, 0, ip->proto);
    for (struct ns_sock *so = st->raw->list; so; so = so->rnext) {
        if (so->family != AF_INET || so->flow.proto != in.proto ||
            (!ns_addr_is_any(&so->flow.local) && !ns_addr_eq(&so->flow.local, &in.local)) ||
            ((so->flags & SO_F_CONNECTED) && !ns_addr_eq(&so->flow.remote, &in.remote)))
            continue;
        any = true;
        struct ns_pbuf *c = ns_pbuf_clone(pb);
        if (!c) {
            NS_STAT_INC(st, pbuf_alloc_fail);
            continue;
        }
        c->l3_off = (uint16_t)c->off;
        c->l4_off = (uint16_t)(c->off + ip->hlen);
        if (sock_queue_rcv(st, so, c))
            NS_STAT_INC(st, raw_delivered);
        else
            NS_STAT_INC(st, raw_drop_rcvbuf);
    }
    return any;
}

/* Hand err to the raw sockets of `family` and `proto` connected to dst:
 * as SO_ERROR when the error is hard, a soft one only to those with
 * `recverr` set (Linux raw_err with IP_RECVERR, rawv6_err with
 * IPV6_RECVERR: soft errors such as host unreachable, ARP or neighbour
 * discovery never answered). */
static void raw_err_connected(struct ns_stack *st, int family, unsigned proto,
                              const struct ns_addr *dst, int err, bool fatal, uint32_t recverr)
{
    for (struct ns_sock *so = st->raw->list; so; so = so->rnext)
        if (so->family == family && so->flow.proto == proto && (so->flags & SO_F_CONNECTED) &&
            ns_addr_eq(&so->flow.remote, dst) && (fatal || (so->flags & recverr))) {
            so->so_error = err;
            sock_wake(st, so, SOCK_WAKE_ERR); /* sk_error_report */
        }
}

static void raw_err(struct ns_stack *st, uint8_t type, uint8_t code, const struct ns_ip4_repr *inner)
{
    bool fatal;
    int err = sock_icmp_err(type, code, &fatal);
    if (!err)
        return;
    struct ns_addr dst = ns_addr_ip4(inner->dst);
    raw_err_connected(st, AF_INET, inner->proto, &dst, err, fatal, SO_F_RECVERR);
}

/* Linux icmpv6_filter: is this ICMPv6 message blocked by the socket's
 * ICMP6_FILTER (RFC 3542 §3.2: a set bit blocks its type)? A message
 * without its 4-byte header always is. */
static bool raw6_icmp_filtered(const struct ns_sock *so, const struct ns_pbuf *pb)
{
    if (pb->len < NS_ICMP6_HLEN)
        return true;
    uint8_t type = ns_pbuf_data(pb)[0];
    return (so->icmp6_filter[type >> 5] >> (type & 31)) & 1;
}

/* Must a checksumming raw socket verify pb's sum? Not when the device
 * verified it, nor for a partial sum the sender left to finish; but the
 * loopback, which vouches for every frame, carries the sums raw sockets
 * wrote themselves (IPV6_CHECKSUM -1), so they are verified there as
 * Linux does for a datagram sent without offload (CHECKSUM_NONE). */
static bool raw6_csum_unverified(struct ns_stack *st, const struct ns_pbuf *pb)
{
    if (pb->flags & NS_PBUF_F_CSUM_PARTIAL)
        return false;
    return !(pb->flags & NS_PBUF_F_CSUM_OK) || (int)pb->ifindex == link_lo_ifindex(st);
}

/* ipv6_raw_deliver: a copy to every AF_INET6 raw socket of the protocol
 * whose peer (if connected), bound interface and local address (if
 * bound; multicast always passes, Linux IPV6_MULTICAST_ALL) match, and
 * that its ICMP6_FILTER does not block; a socket that checksums
 * (IPV6_CHECKSUM, ICMPv6 always) gets only datagrams whose checksum
 * verifies (rawv6_rcv, then rawv6_recvmsg's csum_copy_err: counted in
 * raw6_drop_bad_csum and the socket's drops). True when a socket matched,
 * filtered or not (Linux's `delivered`: no Parameter Problem then). */
static bool raw6_deliver(struct ns_stack *st, const struct ns_ip6_repr *ip, const struct ns_pbuf *pb)
{
    bool any = false;
    int csum_ok = -1; /* verified once, when a socket wants it */
    struct ns_addr dst = {.family = AF_INET6}, src = {.family = AF_INET6};
    dst.u.ip6 = ip->dst;
    src.u.ip6 = ip->src;
    bool mcast = ns_ip6_is_multicast(&ip->dst);
    for (struct ns_sock *so = st->raw->list; so; so = so->rnext) {
        if (so->family != AF_INET6 || so->flow.proto != ip->next_hdr ||
            ((so->flags & SO_F_CONNECTED) && !ns_addr_eq(&so->flow.remote, &src)) ||
            (so->bound_ifindex && so->bound_ifindex != (int)pb->ifindex) ||
            (!ns_addr_is_any(&so->flow.local) && !mcast && !ns_addr_eq(&so->flow.local, &dst)))
            continue;
        any = true;
        if (ip->next_hdr == NS_IPPROTO_ICMPV6 && raw6_icmp_filtered(so, pb))
            continue;
        if (so->csum_off6 >= 0 && raw6_csum_unverified(st, pb)) {
            if (csum_ok < 0)
                csum_ok = ns_ip6_upper_csum(&ip->src, &ip->dst, ip->next_hdr,
                                            ns_pbuf_data(pb), pb->len) == 0;
            if (!csum_ok) {
                NS_STAT_INC(st, raw6_drop_bad_csum);
                so->rx_drops++;
                continue;
            }
        }
        /* With the IPv6 header (recvmsg's name and control messages). */
        struct ns_pbuf *c = ns_pbuf_clone_from(pb, pb->l3_off);
        if (!c) {
            NS_STAT_INC(st, pbuf_alloc_fail);
            continue;
        }
        if (sock_queue_rcv(st, so, c))
            NS_STAT_INC(st, raw6_delivered);
        else
            NS_STAT_INC(st, raw_drop_rcvbuf);
    }
    return any;
}

/* Linux rawv6_err: an ICMPv6 error about a datagram of a raw IPv6
 * socket reaches it as SO_ERROR when it is connected to the quoted
 * destination and the error is hard (icmpv6_err_convert), or a soft one
 * (address unreachable: neighbour discovery gave up) with IPV6_RECVERR;
 * netsock has no error queue to put the message in. */
static void raw6_err(struct ns_stack *st, uint8_t type, uint8_t code, const struct ns_ip6_repr *inner)
{
    bool fatal;
    int err = sock_icmp6_err(type, code, &fatal);
    if (!err)
        return;
    struct ns_addr dst = {.family = AF_INET6};
    dst.u.ip6 = inner->dst;
    raw_err_connected(st, AF_INET6, inner->next_hdr, &dst, err, fatal, SO_F_RECVERR6);
}
