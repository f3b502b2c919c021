/* udp/udp.c — UDP sockets.
 *
 * Read first: RFC 768, RFC 1122 §4.1 (what a host's UDP must do: pass
 * ICMP errors up, verify checksums, accept a zero checksum), RFC 6056
 * §3.3.1 (ephemeral port selection), and Linux udp(7) / net/ipv4/udp.c
 * for the observable behaviour the differential tests hold us to.
 *
 * Demultiplexing is by local address alone (DESIGN.md): a hash on the
 * local port; among the sockets on that port the best match wins — an
 * exact local address beats the wildcard, a connected socket must match
 * the datagram's source and beats an unconnected one (Linux
 * compute_score). Ties go to the socket bound last, as on Linux; a
 * SO_REUSEPORT group spreads datagrams by a hash of the source.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "socket/sock.h"
#include "udp/udp.h"
#include "wire/bytes.h"
#include "wire/wire.h"

#define UDP_HASH_SIZE 1024 /* buckets on the local port */
#define UDP_MAX_PAYLOAD (NS_IP4_MAX_LEN - NS_IP4_HLEN - NS_UDP_HLEN) /* 65507 */
/* RFC 8200 §3: the payload length (UDP header included) is 16 bits. */
#define UDP6_MAX_PAYLOAD (0xFFFF - NS_UDP_HLEN) /* 65527 */

/* A socket bound by the user (not implicitly) keeps its address/port when
 * connect(AF_UNSPEC) dissolves an association (Linux SOCK_BINDADDR_LOCK,
 * SOCK_BINDPORT_LOCK). */
#define SO_F_USER_ADDR 0x10000u
#define SO_F_USER_PORT 0x20000u

struct udp_table {
    struct ns_sock *bucket[UDP_HASH_SIZE];
    uint32_t count;
    /* The IP_TRANSPARENT socket, if any: it takes every datagram no other
     * socket does, to any address and port (netsock/socket.h). */
    struct ns_sock *transparent;
};

static struct ns_sock **udp_bucket(struct ns_stack *st, uint16_t port)
{
    return &st->udp->bucket[port % UDP_HASH_SIZE];
}

void udp_destroy(struct ns_stack *st)
{
    free(st->udp);
    st->udp = NULL;
}

static void udp_hash(struct ns_stack *st, struct ns_sock *so)
{
    struct ns_sock **b = udp_bucket(st, so->flow.lport);
    so->hnext = *b; /* at the head: the last bound wins ties, as Linux */
    *b = so;
    st->udp->count++;
}

static void udp_unhash(struct ns_stack *st, struct ns_sock *so)
{
    if (!(so->flags & SO_F_BOUND))
        return;
    for (struct ns_sock **pp = udp_bucket(st, so->flow.lport); *pp; pp = &(*pp)->hnext) {
        if (*pp == so) {
            *pp = so->hnext;
            so->hnext = NULL;
            st->udp->count--;
            break;
        }
    }
    so->flags &= ~SO_F_BOUND;
}

/* Linux udp_lib_lport_inuse: would so bound to addr:port clash? */
static bool udp_port_conflict(struct ns_stack *st, const struct ns_sock *so,
                              const struct ns_addr *addr, uint16_t port)
{
    for (struct ns_sock *o = *udp_bucket(st, port); o; o = o->hnext) {
        if (o == so || o->flow.lport != port)
            continue;
        if (!sock_bind_addr_clash(so, addr, o))
            continue; /* different specific addresses never clash (nor the families
                         IPV6_V6ONLY keeps apart) */
        if ((o->flags & so->flags & SO_F_REUSEADDR) || (o->flags & so->flags & SO_F_REUSEPORT))
            continue;
        return true;
    }
    return false;
}

/* RFC 6056 §3.3.1 (Algorithm 1): a random start in the ephemeral range,
 * then the next free port. */
static int udp_pick_port(struct ns_stack *st, struct ns_sock *so, const struct ns_addr *addr)
{
    uint32_t n = SOCK_EPHEMERAL_HI - SOCK_EPHEMERAL_LO + 1;
    uint32_t start = (uint32_t)ns_rng_below(&st->rng, n);
    for (uint32_t i = 0; i < n; i++) {
        uint16_t port = (uint16_t)(SOCK_EPHEMERAL_LO + (start + i) % n);
        if (!udp_port_conflict(st, so, addr, port))
            return port;
    }
    return -EAGAIN; /* Linux: EAGAIN when the range is exhausted */
}

static int udp_bind_port(struct ns_stack *st, struct ns_sock *so, const struct ns_addr *addr,
                         uint16_t port)
{
    if (port == 0) {
        int p = udp_pick_port(st, so, addr);
        if (p < 0)
            return p;
        port = (uint16_t)p;
    } else if (udp_port_conflict(st, so, addr, port)) {
        return -EADDRINUSE;
    }
    so->flow.local = *addr;
    so->flow.lport = port;
    so->flags |= SO_F_BOUND;
    udp_hash(st, so);
    return 0;
}

static int udp_bind(struct ns_stack *st, struct ns_sock *so, const struct ns_addr *addr,
                    uint16_t port)
{
    bool user_port = port != 0;
    if ((so->flags & SO_F_TRANSPARENT) && st->udp->transparent)
        return -EADDRINUSE; /* one catch-all per stack */
    int rc = udp_bind_port(st, so, addr, port);
    if (rc < 0)
        return rc;
    if (!ns_addr_is_any(addr))
        so->flags |= SO_F_USER_ADDR;
    if (user_port)
        so->flags |= SO_F_USER_PORT;
    if ((so->flags & SO_F_TRANSPARENT) && !st->udp->transparent) {
        st->udp->transparent = so;
        ip_transparent_ref(st, 1);
    }
    return 0;
}

/* Linux ip_route_output: a zero destination means this host. */
static uint32_t udp_fix_dst(const struct ns_sock *so, uint32_t dst)
{
    if (dst)
        return dst;
    uint32_t local = ns_addr_to_ip4(&so->flow.local);
    return local ? local : INADDR_LOOPBACK;
}

static int udp_connect(struct ns_stack *st, struct ns_sock *so, const struct ns_addr *to,
                       uint16_t port)
{
    if (to->family == AF_UNSPEC) {
        /* udp_disconnect: forget the peer; an implicit address and port
         * are released too. */
        so->flags &= ~SO_F_CONNECTED;
        so->flow.remote = sock_any(so);
        so->flow.rport = 0;
        if (!(so->flags & SO_F_USER_ADDR))
            so->flow.local = sock_any(so);
        if (!(so->flags & SO_F_USER_PORT)) {
            udp_unhash(st, so);
            so->flow.lport = 0;
        }
        return 0;
    }
    struct ns_addr peer = *to;
    if (peer.family == AF_INET)
        peer = ns_addr_ip4(udp_fix_dst(so, ns_addr_to_ip4(to)));
    /* The egress, kept for the datagrams to come (net/net.h). */
    const struct ip_egress *eg = ip_egress_for(st, &so->egress, &peer, so->bound_ifindex);
    if (eg->err)
        return -ENETUNREACH;
    struct ns_addr src = ip_egress_src(eg);
    if (peer.family == AF_INET) {
        /* ip4_datagram_connect: broadcast needs SO_BROADCAST. */
        if (ip4_is_broadcast(st, ns_addr_to_ip4(&peer)) && !(so->flags & SO_F_BROADCAST))
            return -EACCES;
    } else if (ns_addr_is_any(&src) && ns_addr_is_any(&so->flow.local)) {
        return -EADDRNOTAVAIL; /* ip6_dst_lookup_tail: no source address */
    }
    if (ns_addr_is_any(&so->flow.local))
        so->flow.local = src;
    if (!(so->flags & SO_F_BOUND)) {
        struct ns_addr local = so->flow.local;
        int rc = udp_bind_port(st, so, &local, 0);
        if (rc < 0)
            return rc;
    }
    so->flow.remote = peer;
    so->flow.rport = port;
    so->flags |= SO_F_CONNECTED;
    return 0;
}

/* The checks and their order are Linux udp_sendmsg's (the socket was
 * already bound by the caller, as inet_sendmsg does): length, MSG_OOB,
 * destination, control messages, route, broadcast permission, the
 * datagram's size, then a
 * pending error or shutdown when the buffer is allocated. */
/* The UDP header and its checksum at u (the datagram, len bytes with
 * the header) from src to dst, either family: left to the device when
 * the interface offers it (dev.h: the field holds the pseudo-header sum),
 * else computed, a zero sent as all ones (RFC 768; RFC 8200 §8.1). */
static void udp_fill(struct ns_pbuf *pb, uint8_t *u, uint16_t sport, uint16_t dport, uint16_t len,
                     const struct ns_addr *src, const struct ns_addr *dst,
                     const struct ns_iface *ifp)
{
    struct ns_udp_repr r = {.sport = sport, .dport = dport, .len = len, .csum = 0};
    ns_udp_emit(&r, u);
    uint32_t ph = ns_csum_pseudo(src, dst, NS_IPPROTO_UDP, len);
    if (ifp && (ifp->dev->offloads & NS_DEV_OFF_TX_CSUM)) {
        ns_wr16(u + 6, (uint16_t)~ns_csum_fold(ph));
        ns_pbuf_csum_partial(pb, 0, 6);
    } else {
        uint16_t c = ns_csum_fold(ns_csum_add(ph, u, len));
        ns_wr16(u + 6, c == 0 ? 0xffff : c);
    }
}

/* The datagram of a send (either family), the socket bound first to an
 * ephemeral port if it has none (inet_autobind): the payload gathered
 * from msg, the header and checksum filled (udp_fill). NULL with *err
 * (the bind's error, or -ENOBUFS). */
static struct ns_pbuf *udp_build(struct ns_stack *st, struct ns_sock *so, const struct msghdr *msg,
                                 size_t len, uint16_t dport, const struct ns_addr *src,
                                 const struct ns_addr *dst, const struct ns_iface *ifp, int *err)
{
    if (!(so->flags & SO_F_BOUND)) {
        struct ns_addr any = sock_any(so);
        int rc = udp_bind_port(st, so, &any, 0);
        if (rc < 0) {
            *err = rc;
            return NULL;
        }
    }
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, (uint32_t)(NS_UDP_HLEN + len));
    if (!pb) {
        *err = -ENOBUFS;
        return NULL;
    }
    uint8_t *u = ns_pbuf_data(pb);
    sock_iov_gather(msg, u + NS_UDP_HLEN, len);
    udp_fill(pb, u, so->flow.lport, dport, (uint16_t)(NS_UDP_HLEN + len), src, dst, ifp);
    return pb;
}

/* The IPv6 half of udpv6_sendmsg, from the route on (the destination
 * checked already): the egress (kept for the connected peer), the
 * source (IPV6_PKTINFO's, else the bound address, else the egress's;
 * none: EADDRNOTAVAIL),
 * the size, a pending error, the autobind, then ip6_output_via with the
 * hop limit, traffic class and IPV6_DONTFRAG of the control messages,
 * else the socket's (sock_ip6_out_opts). */
static ssize_t udp6_sendmsg(struct ns_stack *st, struct ns_sock *so, const struct msghdr *msg,
                            size_t len, const struct ns_addr *dst, uint16_t dport, int oif,
                            const struct sock_cmsg *cm)
{
    /* ip6_datagram_send_ctl: IPV6_PKTINFO's interface and source. */
    struct ns_addr pi_src = {.family = AF_INET6};
    int rc = sock_cmsg_pktinfo6(st, cm, &oif, &pi_src.u.ip6);
    if (rc < 0)
        return rc;
    const struct ip_egress *eg = ip6_egress(st, &so->egress, &dst->u.ip6, oif);
    if (eg->err)
        return -ENETUNREACH;
    struct ns_addr src = ip_egress_src(eg);
    if (so->flow.local.family == AF_INET6 && !ns_addr_is_any(&so->flow.local) &&
        !ns_ip6_is_multicast(&so->flow.local.u.ip6))
        src = so->flow.local;
    if (!ns_addr_is_any(&pi_src))
        src = pi_src;
    if (ns_addr_is_any(&src))
        return -EADDRNOTAVAIL;
    if (len > UDP6_MAX_PAYLOAD)
        return -EMSGSIZE;
    rc = sock_send_ready(so);
    if (rc < 0)
        return rc;
    struct ns_pbuf *pb = udp_build(st, so, msg, len, dport, &src, dst, eg->ifp, &rc);
    if (!pb)
        return rc;
    struct ip6_out o = {.src = src.u.ip6, .dst = dst->u.ip6, .proto = NS_IPPROTO_UDP, .oif = oif};
    sock_ip6_out_opts(so, cm, &o);
    NS_STAT_INC(st, udp_tx);
    rc = ip6_output_via(st, eg, &o, pb);
    /* ip6_append_data: IPV6_DONTFRAG and too big is the caller's EMSGSIZE. */
    if (rc < 0 && (rc != -EMSGSIZE || o.dontfrag))
        return rc;
    return (ssize_t)len;
}

static ssize_t udp_sendmsg(struct ns_stack *st, struct ns_sock *so, const struct msghdr *msg,
                           size_t len, int flags)
{
    uint32_t daddr;
    uint16_t dport;
    struct ns_addr dst;
    int oif = so->bound_ifindex;
    /* udpv6_sendmsg looks at the destination first, and hands IPv4 ones
     * to udp_sendmsg. */
    int have_dst = so->family == AF_INET6 ? sock_msg_dst_udp6(so, msg, &dst, &dport, &oif) : 0;
    if (have_dst < 0)
        return have_dst;
    if (len > 0xFFFF)
        return -EMSGSIZE;
    if (flags & MSG_OOB)
        return -EOPNOTSUPP;
    if (so->family != AF_INET6)
        have_dst = sock_msg_dst(msg, &dst, &dport);
    if (have_dst < 0)
        return have_dst;
    if (have_dst) {
        if (dport == 0)
            return -EINVAL;
    } else {
        if (!(so->flags & SO_F_CONNECTED))
            return -EDESTADDRREQ;
        dst = so->flow.remote;
        dport = so->flow.rport;
    }
    /* udp_cmsg_send, ip_cmsg_send: IP_TTL / IP_TOS for this datagram. */
    struct sock_cmsg cm;
    enum sock_cmsg_kind kind = dst.family == AF_INET6   ? SOCK_CMSG_UDP_IP6
                               : so->family == AF_INET6 ? SOCK_CMSG_UDP6
                                                        : SOCK_CMSG_UDP;
    int crc = sock_cmsg_send(msg, kind, &cm);
    if (crc < 0)
        return crc;
    if (dst.family == AF_INET6)
        return udp6_sendmsg(st, so, msg, len, &dst, dport, oif, &cm);
    /* ip_cmsg_send(allow_ipv6): IPV6_PKTINFO's source must be v4-mapped;
     * checked, not applied (as IP_PKTINFO). */
    if (cm.has_pi6 && !IN6_IS_ADDR_V4MAPPED(&cm.pi6.ipi6_addr))
        return -EINVAL;
    daddr = ns_addr_to_ip4(&dst);
    daddr = udp_fix_dst(so, daddr);
    /* The egress: the connected peer's as decided before (unless routes
     * changed since), another destination's decided now. The limited
     * broadcast with an output interface (IP_PKTINFO's ipi_ifindex) leaves
     * by that interface whatever the routes say, from its address (Linux
     * ip_route_output_key_hash_rcu: lbcast with an oif, inet_select_addr):
     * a DHCP server answers on the link a request came from. */
    struct ip_egress bcast_eg;
    const struct ip_egress *eg;
    if (cm.pi_ifindex && ip4_is_limited_bcast(daddr)) {
        struct ns_iface *ifp = ns_iface_get(st, cm.pi_ifindex);
        if (!ifp)
            return -ENODEV;
        bcast_eg = (struct ip_egress){
            .dst = daddr,
            .ifp = ifp,
            .nexthop = daddr,
            .src = ip4_source_for(st, cm.pi_ifindex, daddr),
        };
        eg = &bcast_eg;
    } else {
        eg = ip4_egress(st, &so->egress, daddr);
    }
    if (eg->err)
        return -ENETUNREACH;
    uint32_t src = eg->src;
    if (ip4_is_broadcast(st, daddr) && !(so->flags & SO_F_BROADCAST))
        return -EACCES;
    if (len > UDP_MAX_PAYLOAD)
        return -EMSGSIZE; /* __ip_append_data: 65535 - IPv4 and UDP headers */
    int rc = sock_send_ready(so);
    if (rc < 0)
        return rc;
    uint32_t local = ns_addr_to_ip4(&so->flow.local);
    if (local && !ip4_is_broadcast(st, local) && !ip4_is_multicast(local))
        src = local;
    struct ns_addr s_addr = ns_addr_ip4(src), d_addr = ns_addr_ip4(daddr);
    struct ns_pbuf *pb = udp_build(st, so, msg, len, dport, &s_addr, &d_addr, eg->ifp, &rc);
    if (!pb)
        return rc;
    struct ip4_out o = {
        .src = src,
        .dst = daddr,
        .proto = NS_IPPROTO_UDP,
        .ttl = cm.ttl ? (uint8_t)cm.ttl : so->ttl,
        .tos = cm.tos >= 0 ? (uint8_t)cm.tos : so->tos,
    };
    NS_STAT_INC(st, udp_tx);
    rc = ip4_output_via(st, eg, &o, pb);
    if (rc < 0 && rc != -EMSGSIZE)
        return rc;
    return (ssize_t)len;
}

static ssize_t udp_recvmsg(struct ns_stack *st, struct ns_sock *so, struct msghdr *msg, int flags)
{
    return sock_dgram_recvmsg(st, so, msg, flags, SOCK_DATA_UDP);
}

static void udp_close(struct ns_stack *st, struct ns_sock *so)
{
    if (st->udp->transparent == so) {
        st->udp->transparent = NULL;
        ip_transparent_ref(st, -1);
    }
    udp_unhash(st, so);
    sock_dgram_free(so);
}

static int udp_setsockopt(struct ns_stack *st, struct ns_sock *so, int level, int name,
                          const void *val, socklen_t len)
{
    (void)st, (void)so, (void)level, (void)name, (void)val, (void)len;
    return -ENOPROTOOPT;
}

static int udp_getsockopt(struct ns_stack *st, struct ns_sock *so, int level, int name, void *val,
                          socklen_t *len)
{
    (void)st, (void)so, (void)level, (void)name, (void)val, (void)len;
    return -ENOPROTOOPT;
}

static const struct ns_sock_ops udp_sock_ops = {
    .bind = udp_bind,
    .connect = udp_connect,
    .sendmsg = udp_sendmsg,
    .recvmsg = udp_recvmsg,
    .poll = sock_dgram_poll,
    .shutdown = sock_dgram_shutdown,
    .close = udp_close,
    .setsockopt = udp_setsockopt,
    .getsockopt = udp_getsockopt,
    .state_name = sock_dgram_state,
};

/* ---- input -------------------------------------------------------------------- */

/* Linux compute_score: how well so matches the datagram's flow `in`
 * (local = its destination): -1 no match; higher is better. */
static int udp_score(const struct ns_sock *so, const struct ns_flow *in, int ifindex)
{
    if (so->flow.lport != in->lport || !sock_family_accepts(so, &in->local))
        return -1;
    int score = 0;
    if (!ns_addr_is_any(&so->flow.local)) {
        if (!ns_addr_eq(&so->flow.local, &in->local))
            return -1;
        score += 4;
    }
    if (so->flags & SO_F_CONNECTED) {
        if (!ns_addr_eq(&so->flow.remote, &in->remote) ||
            (so->flow.rport && so->flow.rport != in->rport))
            return -1;
        score += 4;
    }
    if (so->bound_ifindex) {
        if (so->bound_ifindex != ifindex)
            return -1;
        score += 4;
    }
    return score;
}

/* Which member of a SO_REUSEPORT group takes the flow (a fixed mix of
 * the IPv4 4-tuple: the choice shows on the wire, so it stays what it
 * was; the group is the receiver's own and not worth aiming at). */
static uint32_t reuseport_hash(const struct ns_flow *in)
{
    uint32_t saddr = ns_addr_to_ip4(&in->remote), daddr = ns_addr_to_ip4(&in->local);
    uint64_t h = ((uint64_t)saddr << 32 | daddr) * 0x9e3779b97f4a7c15ull;
    h ^= ((uint64_t)in->rport << 16 | in->lport) * 0xc2b2ae3d27d4eb4full;
    return (uint32_t)(h >> 32);
}

static void udp_deliver(struct ns_stack *st, struct ns_sock *so, struct ns_pbuf *pb)
{
    if (sock_queue_rcv(st, so, pb))
        NS_STAT_INC(st, udp_delivered);
    else
        NS_STAT_INC(st, udp_drop_rcvbuf);
}

/* The header of a received datagram (pb at it): parsed, pb trimmed to
 * its length, the checksum verified — a zero one is "none" over IPv4
 * (RFC 768, RFC 1122 §4.1.3.4) and a drop over IPv6 (RFC 8200 §8.1:
 * mandatory). `in` has the addresses; its ports are filled. False:
 * counted, and the caller frees pb. */
static bool udp_check(struct ns_stack *st, struct ns_pbuf *pb, struct ns_flow *in,
                      struct ns_udp_repr *u)
{
    NS_STAT_INC(st, udp_rx);
    switch (ns_udp_parse(ns_pbuf_data(pb), pb->len, u)) {
    case NS_WIRE_OK:
        break;
    case -NS_WIRE_TRUNCATED:
        NS_STAT_INC(st, udp_drop_short);
        return false;
    default:
        NS_STAT_INC(st, udp_drop_bad_len);
        return false;
    }
    ns_pbuf_trim(pb, u->len);
    in->lport = u->dport;
    in->rport = u->sport;
    if (u->csum == 0 && in->local.family == AF_INET6) {
        NS_STAT_INC(st, udp_drop_bad_csum); /* Linux udp6_csum_zero_error */
        return false;
    }
    if (u->csum && !(pb->flags & NS_PBUF_F_CSUM_OK) &&
        ns_csum_fold(ns_csum_add(ns_csum_pseudo(&in->remote, &in->local, NS_IPPROTO_UDP, pb->len),
                                 ns_pbuf_data(pb), pb->len)) != 0) {
        NS_STAT_INC(st, udp_drop_bad_csum);
        return false;
    }
    return true;
}

static void udp_rcv(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb,
                    const struct ns_flow *flow, const struct ns_udp_repr *hdr, bool multi);

static void udp_input(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip4_repr *ip,
                      struct ns_pbuf *pb)
{
    struct ns_udp_repr u;
    struct ns_flow in = ns_flow_ip4(ip->dst, 0, ip->src, 0, NS_IPPROTO_UDP);
    if (!udp_check(st, pb, &in, &u)) {
        ns_pbuf_free(pb);
        return;
    }
    udp_rcv(st, ifp, pb, &in, &u, ip4_is_broadcast(st, ip->dst) || ip4_is_multicast(ip->dst));
}

/* An IPv6 datagram for us (ip_protocol.input6; Linux __udp6_lib_rcv). */
static void udp_input6(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                       struct ns_pbuf *pb)
{
    struct ns_udp_repr u;
    struct ns_flow in = ns_flow_ip6(&ip->dst, 0, &ip->src, 0, NS_IPPROTO_UDP);
    if (!udp_check(st, pb, &in, &u)) {
        ns_pbuf_free(pb);
        return;
    }
    udp_rcv(st, ifp, pb, &in, &u, ns_ip6_is_multicast(&ip->dst));
}

/* Deliver a checked datagram (pb at its UDP header) of flow `flow` to
 * the best socket, a copy to every match when it went to a group or a
 * broadcast address, or answer port unreachable (ICMP or ICMPv6 by the
 * flow's family). Consumes pb. */
static void udp_rcv(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb,
                    const struct ns_flow *flow, const struct ns_udp_repr *hdr, bool multi)
{
    struct ns_flow in = *flow;
    struct ns_udp_repr u = *hdr;
    struct ns_sock *best = NULL;
    int best_score = -1, nbest = 0;
    if (pb->flags & NS_PBUF_F_NONLOCAL) {
        /* For another host: the transparent socket's, or nobody's (and
         * no port unreachable: the port is not ours to refuse). */
        if (!st->udp->transparent) {
            NS_STAT_INC(st, udp_drop_no_port);
            goto drop;
        }
        ns_pbuf_pull(pb, NS_UDP_HLEN);
        udp_deliver(st, st->udp->transparent, pb);
        return;
    }
    for (struct ns_sock *so = *udp_bucket(st, u.dport); so; so = so->hnext) {
        int sc = udp_score(so, &in, ifp->index);
        if (sc < 0)
            continue;
        if (multi) {
            /* Broadcast: a copy for every matching socket. */
            struct ns_pbuf *c = ns_stack_alloc(st, pb->off, pb->len);
            if (!c)
                continue;
            memcpy(c->buf, pb->buf, pb->off + pb->len);
            c->ifindex = pb->ifindex;
            c->l3_off = pb->l3_off;
            c->l4_off = pb->l4_off;
            ns_pbuf_pull(c, NS_UDP_HLEN);
            udp_deliver(st, so, c);
            best = so;
            continue;
        }
        if (sc > best_score) {
            best = so;
            best_score = sc;
            nbest = 1;
        } else if (sc == best_score && (so->flags & best->flags & SO_F_REUSEPORT)) {
            nbest++;
        }
    }
    if (multi) {
        if (!best)
            NS_STAT_INC(st, udp_drop_no_port);
        goto drop;
    }
    if (!best && st->udp->transparent) {
        best = st->udp->transparent;
    } else if (!best) {
        /* RFC 1122 §4.1.3.1: SHOULD send port unreachable. */
        NS_STAT_INC(st, udp_drop_no_port);
        ns_pbuf_push(pb, pb->off - pb->l3_off);
        if (in.local.family == AF_INET6)
            icmp6_send_error(st, pb, NS_ICMP6_DEST_UNREACH, NS_ICMP6_DU_PORT, 0); /* RFC 4443 §3.1 */
        else
            icmp4_send_error(st, pb, NS_ICMP_DEST_UNREACH, NS_ICMP_PORT_UNREACH, 0);
        goto drop;
    }
    if (nbest > 1) {
        /* SO_REUSEPORT group: pick one member by flow hash. */
        uint32_t k = reuseport_hash(&in) % (uint32_t)nbest;
        for (struct ns_sock *so = *udp_bucket(st, u.dport); so; so = so->hnext) {
            if (udp_score(so, &in, ifp->index) == best_score &&
                (so->flags & SO_F_REUSEPORT) && k-- == 0) {
                best = so;
                break;
            }
        }
    }
    ns_pbuf_pull(pb, NS_UDP_HLEN);
    udp_deliver(st, best, pb);
    return;
drop:
    ns_pbuf_free(pb);
}

/* An ICMP error's errno for the connected socket that sent the quoted
 * datagram of flow `out` (local = its source): hard errors, soft ones
 * only with IP_RECVERR, reported by the next call (no error queue). */
static void udp_err_deliver(struct ns_stack *st, const struct ns_flow *out, int err, bool fatal)
{
    for (struct ns_sock *so = *udp_bucket(st, out->lport); so; so = so->hnext) {
        if (so->flow.lport == out->lport && (so->flags & SO_F_CONNECTED) &&
            ns_addr_eq(&so->flow.remote, &out->remote) && so->flow.rport == out->rport &&
            (ns_addr_is_any(&so->flow.local) || ns_addr_eq(&so->flow.local, &out->local))) {
            if (fatal || (so->flags & SO_F_RECVERR)) {
                so->so_error = err;
                sock_wake(st, so, SOCK_WAKE_ERR); /* sk_error_report */
            }
            return;
        }
    }
}

/* ICMP error about a datagram we sent (RFC 1122 §4.1.3.3: pass it up).
 * As Linux __udp4_lib_err: hard errors, and soft ones with IP_RECVERR,
 * only to a connected socket, reported by the next call on it (there is
 * no error queue). */
static void udp_err(struct ns_stack *st, uint32_t from, uint8_t type, uint8_t code, uint32_t info,
                    const struct ns_ip4_repr *inner, const uint8_t *payload, size_t payload_len)
{
    (void)from;
    (void)info;
    if (payload_len < 4)
        return;
    uint16_t sport = ns_rd16(payload), dport = ns_rd16(payload + 2);
    bool fatal;
    int err = sock_icmp_err(type, code, &fatal);
    if (!err)
        return;
    /* The quoted datagram's flow, seen from here (we sent it). */
    struct ns_flow out = ns_flow_ip4(inner->src, sport, inner->dst, dport, NS_IPPROTO_UDP);
    udp_err_deliver(st, &out, err, fatal);
}

/* An ICMPv6 error about a datagram we sent (Linux __udp6_lib_err): the
 * same rule as udp_err; a Packet Too Big is a hard EMSGSIZE (IPv6
 * sockets default to IPV6_PMTUDISC_WANT), the path MTU itself learned by
 * the network layer. */
static void udp_err6(struct ns_stack *st, const struct ns_ip6_addr *from, uint8_t type,
                     uint8_t code, uint32_t info, const struct ns_ip6_repr *inner,
                     const uint8_t *payload, size_t payload_len)
{
    (void)from;
    (void)info;
    if (payload_len < 4)
        return;
    uint16_t sport = ns_rd16(payload), dport = ns_rd16(payload + 2);
    bool fatal;
    int err = sock_icmp6_err(type, code, &fatal);
    if (!err)
        return;
    if (type == NS_ICMP6_PACKET_TOO_BIG)
        fatal = true;
    struct ns_flow out = ns_flow_ip6(&inner->src, sport, &inner->dst, dport, NS_IPPROTO_UDP);
    udp_err_deliver(st, &out, err, fatal);
}

static struct ns_sock *udp_create(struct ns_stack *st, int protocol, int *err)
{
    return sock_dgram_new(st, SOCK_DGRAM, protocol, &udp_sock_ops, err);
}

/* UDP in the network layer's protocol table and in the socket switch. */
static const struct ip_protocol udp_protocol = {
    .input4 = udp_input, .err4 = udp_err, .input6 = udp_input6, .err6 = udp_err6};
static const struct ns_protosw udp_protosw = {
    .family = AF_INET, .type = SOCK_DGRAM, .protocol = IPPROTO_UDP, .create = udp_create};
static const struct ns_protosw udp6_protosw = {
    .family = AF_INET6, .type = SOCK_DGRAM, .protocol = IPPROTO_UDP, .create = udp_create};

int udp_init(struct ns_stack *st)
{
    st->udp = calloc(1, sizeof(*st->udp));
    if (!st->udp)
        return -ENOMEM;
    ip_protocol_register(st, NS_IPPROTO_UDP, &udp_protocol);
    int rc = sock_register(st, &udp_protosw);
    return rc < 0 ? rc : sock_register(st, &udp6_protosw);
}
