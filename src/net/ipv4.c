/* net/ipv4.c — IPv4 input, local delivery, forwarding, output and
 * fragmentation.
 *
 * Read first: RFC 791 (the protocol), RFC 1122 §3.2.1 and §3.3 (what a
 * host must check and do), RFC 1812 §5.2-5.3 (forwarding), RFC 1624
 * (incremental checksum update when the TTL changes), RFC 6864 (the ID
 * field). Reassembly lives in ip4_reass.c, ICMP in icmp.c.
 *
 * GSO packets (pbuf.h: one TCP segment standing for several wire segments
 * of gso_size payload bytes, from TCP for a TSO device or from a device
 * that received them) are measured by their largest wire segment against
 * the MTU, never fragmented as a whole (docs/links.md "Offloads").
 */
#include <errno.h>
#include <string.h>

#include "net/net.h"
#include "wire/bytes.h"
#include "wire/wire.h"

bool ip4_is_local(const struct ns_stack *st, uint32_t addr)
{
    for (uint32_t m = st->net->addr4_ifs; m; m &= m - 1) {
        const struct ip4_ifstate *is = &st->net->ifs[__builtin_ctz(m)];
        for (unsigned k = 0; k < is->n_addr4; k++)
            if (is->addr4[k].addr == addr)
                return true;
    }
    return false;
}

void ip_transparent_ref(struct ns_stack *st, int delta)
{
    st->net->transparent_socks += (uint32_t)delta;
}

bool ip4_is_broadcast(const struct ns_stack *st, uint32_t addr)
{
    if (ip4_is_limited_bcast(addr))
        return true;
    /* A directed broadcast has every host bit set, and only prefixes of
     * 30 bits or less have one: its two lowest bits are ones. Most
     * unicast addresses are told apart here, without the scan. */
    if ((addr & 3) != 3)
        return false;
    for (uint32_t m = st->net->addr4_ifs; m; m &= m - 1) {
        const struct ip4_ifstate *is = &st->net->ifs[__builtin_ctz(m)];
        for (unsigned k = 0; k < is->n_addr4; k++) {
            const struct ns_if_addr4 *a = &is->addr4[k];
            /* RFC 3021: /31 and /32 have no directed broadcast. */
            if (a->prefix_len < 31 && addr == (a->addr | ~a->mask))
                return true;
        }
    }
    return false;
}

bool ip4_if_has_addr(const struct ns_stack *st, int ifindex, uint32_t a)
{
    const struct ip4_ifstate *is = &st->net->ifs[ifindex - 1];
    for (unsigned i = 0; i < is->n_addr4; i++)
        if (is->addr4[i].addr == a)
            return true;
    return false;
}

uint32_t ip4_local_source(const struct ns_stack *st, uint32_t dst)
{
    /* Linux's local table: "local 127.0.0.0/8 dev lo src 127.0.0.1" and
     * "broadcast 127.255.255.255 dev lo src 127.0.0.1" carry the
     * loopback's address as preferred source (__ip_route_output_key
     * takes fib_prefsrc); "local <addr>" routes of other interfaces have
     * the address itself. */
    if (ip4_is_loopback(dst))
        return ip4_source_for(st, link_lo_ifindex(st), dst);
    return dst;
}

uint32_t ip4_source_for(const struct ns_stack *st, int ifindex, uint32_t dst)
{
    if (ifindex < 1 || ifindex > NS_IF_MAX)
        return 0;
    const struct ip4_ifstate *is = &st->net->ifs[ifindex - 1];
    if (is->n_addr4 == 0)
        return 0;
    /* RFC 1122 §3.3.4.3: prefer the address on the destination's subnet. */
    for (unsigned k = 0; k < is->n_addr4; k++)
        if ((dst & is->addr4[k].mask) == (is->addr4[k].addr & is->addr4[k].mask))
            return is->addr4[k].addr;
    return is->addr4[0].addr;
}

int ip4_addr_add(struct ns_stack *st, struct ns_iface *ifp, uint32_t a, unsigned prefix_len)
{
    if (a == 0 || ip4_is_multicast(a) || ip4_is_limited_bcast(a))
        return -EINVAL;
    if (ip4_is_local(st, a))
        return -EEXIST;
    struct ip4_ifstate *is = ip4_ifstate(st, ifp->index);
    if (is->n_addr4 == NS_IF_ADDR_MAX)
        return -ENOSPC;
    struct ns_if_addr4 *ia = &is->addr4[is->n_addr4];
    ia->addr = a;
    ia->mask = ip4_prefix_mask(prefix_len);
    ia->prefix_len = (uint8_t)prefix_len;
    ia->announce_left = 0;
    int rc = route4_add(st, a & ia->mask, prefix_len, 0, ifp->index, true);
    if (rc < 0 && rc != -EEXIST)
        return rc;
    is->n_addr4++;
    st->net->addr4_ifs |= 1u << (ifp->index - 1);
    ip_egress_invalidate(st); /* a new local address, a new source for some */
    char buf[16];
    NS_LOG(st, ifp->loopback ? NS_LOG_DEBUG : NS_LOG_INFO, "address %s/%u on %s",
           ns_ip4_ntoa(a, buf), prefix_len, ifp->dev->name);
    if (ifp->dev->link == NS_LINK_ETHER)
        arp_announce(st, ifp, a);
    return 0;
}

/* A GSO packet's TCP header length (pb at the IPv4 header), or 0 when the
 * packet is too short to hold one. */
static uint32_t gso_tcp_hlen(const struct ns_pbuf *pb)
{
    const uint8_t *p = ns_pbuf_data(pb);
    uint32_t ihl = (p[0] & 0x0fu) * 4u;
    if (pb->len < ihl + NS_TCP_HLEN)
        return 0;
    return (p[ihl + 12] >> 4) * 4u;
}

/* The length of the largest packet pb puts on the wire (pb at the IPv4
 * header): pb->len, or for a GSO packet its first segment's. */
static uint32_t ip4_wire_len(const struct ns_pbuf *pb)
{
    if (!pb->gso_size)
        return pb->len;
    uint32_t hdrs = (ns_pbuf_data(pb)[0] & 0x0fu) * 4u + gso_tcp_hlen(pb);
    uint32_t seg = hdrs + pb->gso_size;
    return seg < pb->len ? seg : pb->len;
}

/* Hand a finished IPv4 packet to the interface's link layer. Consumes pb. */
static int link_output(struct ns_stack *st, struct ns_iface *ifp, uint32_t nexthop,
                       struct ns_pbuf *pb)
{
    NS_STAT_INC(st, ip_tx);
    if (ifp->dev->link == NS_LINK_ETHER)
        return arp_output(st, ifp, nexthop, pb);
    return if_xmit(st, ifp, pb);
}

/* RFC 791 §3.2 "Fragmentation": split pb (a whole IPv4 packet, DF clear)
 * into fragments that fit `mtu`. Options marked "copied" go into every
 * fragment, the rest only into the first. Consumes pb. */
static int ip4_fragment(struct ns_stack *st, struct ns_iface *ifp, uint32_t nexthop,
                        struct ns_pbuf *pb, uint32_t mtu)
{
    struct ns_ip4_repr ip;
    const uint8_t *pkt = ns_pbuf_data(pb);
    int rc = 0;
    if (ns_ip4_parse(pkt, pb->len, &ip, false) < 0) {
        ns_pbuf_free(pb);
        return -EINVAL;
    }
    uint8_t later_opts[NS_IP4_MAX_HLEN - NS_IP4_HLEN];
    size_t later_olen = ns_ip4_opts_copied(pkt + NS_IP4_HLEN, ip.hlen - NS_IP4_HLEN, later_opts);
    uint32_t data_len = ip.total_len - ip.hlen;
    const uint8_t *data = pkt + ip.hlen;

    for (uint32_t done = 0; done < data_len;) {
        uint32_t hlen = done == 0 ? ip.hlen : (uint32_t)(NS_IP4_HLEN + later_olen);
        uint32_t room = (mtu - hlen) & ~7u; /* every fragment but the last: multiple of 8 */
        if (room == 0) {
            rc = -EMSGSIZE;
            break;
        }
        uint32_t chunk = data_len - done < room ? data_len - done : room;
        struct ns_pbuf *fp = ns_stack_alloc(st, NS_PBUF_HEADROOM, hlen + chunk);
        if (!fp) {
            rc = -ENOBUFS;
            break;
        }
        uint8_t *out = ns_pbuf_data(fp);
        if (done == 0)
            memcpy(out + NS_IP4_HLEN, pkt + NS_IP4_HLEN, ip.hlen - NS_IP4_HLEN);
        else
            memcpy(out + NS_IP4_HLEN, later_opts, later_olen);
        memcpy(out + hlen, data + done, chunk);
        struct ns_ip4_repr f = ip;
        f.hlen = (uint8_t)hlen;
        f.total_len = (uint16_t)(hlen + chunk);
        f.frag_off = (uint16_t)(ip.frag_off + done);
        /* A fragment of a fragment keeps the original's MF on its tail. */
        f.mf = (done + chunk < data_len) || ip.mf;
        ns_ip4_emit(&f, out);
        NS_STAT_INC(st, ip_frag_created);
        done += chunk;
        link_output(st, ifp, nexthop, fp);
    }
    if (rc == 0)
        NS_STAT_INC(st, ip_frag_ok);
    ns_pbuf_free(pb);
    return rc;
}

int ip4_send_packet(struct ns_stack *st, struct ns_pbuf *pb, int ifindex, uint32_t nexthop)
{
    return ip4_send_packet_if(st, pb, ns_iface_get(st, ifindex), nexthop);
}

int ip4_send_packet_if(struct ns_stack *st, struct ns_pbuf *pb, struct ns_iface *ifp,
                       uint32_t nexthop)
{
    if (!ifp) {
        NS_STAT_INC(st, ip_drop_no_route);
        ns_pbuf_free(pb);
        return -ENETUNREACH;
    }
    uint32_t mtu = ifp->dev->mtu;
    if (ip4_wire_len(pb) <= mtu)
        return link_output(st, ifp, nexthop, pb);
    if (ns_rd16(ns_pbuf_data(pb) + 6) & NS_IP4_DF) {
        NS_STAT_INC(st, ip_drop_df);
        ns_pbuf_free(pb);
        return -EMSGSIZE;
    }
    if (pb->gso_size) {
        /* Segments too big for this link and DF clear (forwarded): cut
         * them, then fragment each (Linux ip_finish_output_gso). */
        struct ns_pbuf_queue segs;
        ns_pbuf_queue_init(&segs);
        if (ns_gso_segment(pb, 0, &segs) < 0) {
            NS_STAT_INC(st, dev_tx_drop_offload);
            return -ENOBUFS;
        }
        NS_STAT_INC(st, dev_tx_gso_sw);
        int rc = 0;
        struct ns_pbuf *s;
        while ((s = ns_pbuf_queue_pop(&segs))) {
            int r = ip4_send_packet_if(st, s, ifp, nexthop);
            if (r < 0 && rc == 0)
                rc = r;
        }
        return rc;
    }
    /* Each fragment carries part of the data: the checksum covering all
     * of it must be complete before the cut. */
    if (ns_pbuf_csum_finish(pb) < 0) {
        NS_STAT_INC(st, dev_tx_drop_offload);
        ns_pbuf_free(pb);
        return -EINVAL;
    }
    return ip4_fragment(st, ifp, nexthop, pb, mtu);
}

uint16_t ip4_next_id(struct ns_stack *st) { return st->net->ip_id_next++; }

void ip4_egress_decide(struct ns_stack *st, uint32_t dst, struct ip_egress *eg)
{
    struct net_state *n = st->net;
    n->egress_decisions++;
    eg->gen = n->egress_gen;
    eg->dst = dst;
    eg->err = 0;
    eg->v6 = false; /* a socket's kept egress may have been IPv6 */
    int ifindex;
    uint32_t nexthop;
    if (ip4_is_local(st, dst) || ip4_is_loopback(dst)) {
        /* To this host: through the loopback (Linux's "local" table). */
        eg->local = true;
        ifindex = link_lo_ifindex(st);
        nexthop = dst;
        eg->src = ip4_local_source(st, dst);
        if (!eg->src)
            eg->src = ip4_source_for(st, ifindex, dst);
    } else if (route4_lookup(st, dst, &ifindex, &nexthop) < 0) {
        eg->local = false;
        eg->err = -ENETUNREACH;
        eg->ifp = NULL;
        eg->nexthop = eg->src = 0;
        return;
    } else {
        eg->local = false;
        eg->src = ip4_source_for(st, ifindex, dst);
    }
    eg->ifp = ns_iface_get(st, ifindex);
    eg->nexthop = nexthop;
}

int ip4_output(struct ns_stack *st, const struct ip4_out *o, struct ns_pbuf *pb)
{
    struct ip_egress eg;
    ip4_egress_decide(st, o->dst, &eg);
    return ip4_output_via(st, &eg, o, pb);
}

int ip4_output_via(struct ns_stack *st, const struct ip_egress *eg, const struct ip4_out *o,
                   struct ns_pbuf *pb)
{
    if (eg->err) {
        NS_STAT_INC(st, ip_drop_no_route);
        ns_pbuf_free(pb);
        return eg->err;
    }
    if (pb->len + NS_IP4_HLEN > NS_IP4_MAX_LEN) {
        ns_pbuf_free(pb);
        return -EMSGSIZE;
    }
    uint8_t *hdr = ns_pbuf_push(pb, NS_IP4_HLEN);
    if (!hdr) {
        NS_STAT_INC(st, dev_tx_err);
        ns_pbuf_free(pb);
        return -ENOBUFS;
    }
    struct ns_ip4_repr ip = {
        .hlen = NS_IP4_HLEN,
        .tos = o->tos,
        .total_len = (uint16_t)pb->len,
        /* RFC 6864 §4.1: the ID only needs to be unique among fragmentable
         * datagrams in flight; a per-stack counter from a random start. */
        .id = ip4_next_id(st),
        .df = o->df,
        .ttl = o->ttl ? o->ttl : st->cfg.ip_default_ttl,
        .proto = o->proto,
        .src = o->src ? o->src : eg->src,
        .dst = o->dst,
    };
    ns_ip4_emit(&ip, hdr);
    if (pb->gso_size) {
        /* The device numbers the segments ip.id, ip.id + 1, ... (RFC 6864
         * §4.1): keep those out of the next datagrams' way. */
        uint32_t payload = pb->len - NS_IP4_HLEN - gso_tcp_hlen(pb);
        if (payload > pb->gso_size)
            st->net->ip_id_next = (uint16_t)(st->net->ip_id_next + (payload - 1) / pb->gso_size);
    }
    return ip4_send_packet_if(st, pb, eg->ifp, eg->nexthop);
}

/* RFC 1812 §5.3: forward a packet not addressed to us. Consumes pb. */
static void ip4_forward(struct ns_stack *st, struct ns_iface *inif, const struct ns_ip4_repr *ip,
                        struct ns_pbuf *pb)
{
    (void)inif;
    /* RFC 1812 §5.3.4 / RFC 1122 §3.3.6: never forward link-layer
     * broadcasts. */
    if (pb->flags & NS_PBUF_F_L2_BCAST) {
        NS_STAT_INC(st, ip_drop_not_for_us);
        goto drop;
    }
    /* RFC 1812 §5.3.1: TTL 1 or 0 must not be forwarded; say so. */
    if (ip->ttl <= 1) {
        NS_STAT_INC(st, ip_drop_ttl);
        icmp4_send_error(st, pb, NS_ICMP_TIME_EXCEEDED, NS_ICMP_EXC_TTL, 0);
        goto drop;
    }
    int ifindex;
    uint32_t nexthop;
    if (route4_lookup(st, ip->dst, &ifindex, &nexthop) < 0) {
        NS_STAT_INC(st, ip_drop_no_route);
        icmp4_send_error(st, pb, NS_ICMP_DEST_UNREACH, NS_ICMP_NET_UNREACH, 0);
        goto drop;
    }
    struct ns_iface *outif = ns_iface_get(st, ifindex);
    if (ip->df && ip4_wire_len(pb) > outif->dev->mtu) {
        /* RFC 1191 §4: report the next-hop MTU. */
        NS_STAT_INC(st, ip_drop_df);
        icmp4_send_error(st, pb, NS_ICMP_DEST_UNREACH, NS_ICMP_FRAG_NEEDED, outif->dev->mtu);
        goto drop;
    }
    /* Decrement TTL; RFC 1624 eqn. 3 updates the checksum in place. The
     * TTL shares its 16-bit word with the protocol number. */
    uint8_t *h = ns_pbuf_data(pb);
    uint16_t old_word = ns_rd16(h + 8);
    h[8]--;
    ns_wr16(h + 10, ns_csum_update16(ns_rd16(h + 10), old_word, ns_rd16(h + 8)));
    NS_STAT_INC(st, ip_forwarded);
    ip4_send_packet(st, pb, ifindex, nexthop);
    return;
drop:
    ns_pbuf_free(pb);
}

/* Deliver a complete datagram (pb at the IPv4 header) to its protocol.
 * `parsed`: its header as ip4_input parsed it, or NULL for a datagram
 * that reassembly put together (parsed here). */
static void ip4_deliver(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb,
                        const struct ns_ip4_repr *parsed)
{
    struct ns_ip4_repr ip;
    if (parsed)
        ip = *parsed;
    else if (ns_ip4_parse(ns_pbuf_data(pb), pb->len, &ip, false) < 0) {
        NS_STAT_INC(st, ip_drop_bad_len);
        ns_pbuf_free(pb);
        return;
    }
    pb->l3_off = (uint16_t)pb->off;
    pb->l4_off = (uint16_t)(pb->off + ip.hlen);
    /* raw(7): raw sockets get a copy first, whatever the protocol. */
    const struct ip_raw_tap *tap = st->net->raw_tap;
    bool raw = tap && tap->deliver4(st, &ip, pb);
    const struct ip_protocol *p = st->net->protocols[ip.proto];
    bool known = p && p->input4;
    if (!known && raw) {
        NS_STAT_INC(st, ip_delivered); /* a raw socket took it (raw(7)) */
        ns_pbuf_free(pb);
        return;
    }
    if (!known && (pb->flags & NS_PBUF_F_NONLOCAL)) {
        NS_STAT_INC(st, ip_drop_not_for_us); /* not ours to refuse */
        ns_pbuf_free(pb);
        return;
    }
    if (!known) {
        /* RFC 1122 §3.2.2.1: SHOULD send protocol unreachable. */
        NS_STAT_INC(st, ip_drop_unknown_proto);
        icmp4_send_error(st, pb, NS_ICMP_DEST_UNREACH, NS_ICMP_PROT_UNREACH, 0);
        ns_pbuf_free(pb);
        return;
    }
    NS_STAT_INC(st, ip_delivered);
    ns_pbuf_pull(pb, ip.hlen);
    p->input4(st, ifp, &ip, pb);
}

void ip4_input(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb)
{
    struct ns_ip4_repr ip;
    NS_STAT_INC(st, ip_rx);
    bool verify = !(ifp->dev->offloads & NS_DEV_OFF_RX_CSUM);
    switch (ns_ip4_parse(ns_pbuf_data(pb), pb->len, &ip, verify)) {
    case NS_WIRE_OK:
        break;
    case -NS_WIRE_TRUNCATED:
        NS_STAT_INC(st, ip_drop_short);
        goto drop;
    case -NS_WIRE_BAD_VERSION:
        NS_STAT_INC(st, ip_drop_bad_version);
        goto drop;
    case -NS_WIRE_BAD_HLEN:
        NS_STAT_INC(st, ip_drop_bad_hlen);
        goto drop;
    case -NS_WIRE_BAD_CSUM:
        NS_STAT_INC(st, ip_drop_bad_csum);
        goto drop;
    default:
        NS_STAT_INC(st, ip_drop_bad_len);
        goto drop;
    }
    /* Link layers pad short frames (Ethernet to 60 bytes): trust total_len. */
    ns_pbuf_trim(pb, ip.total_len);
    /* A GSO packet is larger than the MTU by design (the device said so),
     * and is taken as the segments it stands for. */
    if (pb->gso_size)
        NS_STAT_INC(st, ip_rx_gso);

    /* RFC 1122 §3.2.1.3: silently discard martian sources. */
    if (ip4_is_multicast(ip.src) || ip4_is_limited_bcast(ip.src) ||
        (ip4_is_loopback(ip.src) && !ifp->loopback) || ip4_is_broadcast(st, ip.src)) {
        NS_STAT_INC(st, ip_drop_bad_src);
        goto drop;
    }

    if (ip4_is_local(st, ip.dst) || ip4_is_broadcast(st, ip.dst) ||
        (ifp->loopback && ip4_is_loopback(ip.dst))) {
        if (ip.mf || ip.frag_off) {
            pb = ip4_reass(st, pb);
            if (pb)
                ip4_deliver(st, ifp, pb, NULL);
            return;
        }
        ip4_deliver(st, ifp, pb, &ip);
        return;
    }
    if (st->net->transparent_socks && !ip4_is_multicast(ip.dst) &&
        !(pb->flags & NS_PBUF_F_L2_BCAST)) {
        /* A transparent socket takes traffic to any address (the job of
         * Linux's TPROXY target with IP_TRANSPARENT sockets): deliver it
         * here, marked, so that only such sockets see it and no protocol
         * answers for a host we are not. */
        pb->flags |= NS_PBUF_F_NONLOCAL;
        NS_STAT_INC(st, ip_rx_nonlocal);
        if (ip.mf || ip.frag_off) {
            pb = ip4_reass(st, pb);
            if (!pb)
                return;
            pb->flags |= NS_PBUF_F_NONLOCAL;
            ip4_deliver(st, ifp, pb, NULL);
            return;
        }
        ip4_deliver(st, ifp, pb, &ip);
        return;
    }
    if (ip4_is_multicast(ip.dst) || !st->cfg.ip_forward) {
        /* No multicast groups yet; a host drops what is not its own
         * (RFC 1122 §3.3.4.2 "silently discard"). */
        NS_STAT_INC(st, ip_drop_not_for_us);
        goto drop;
    }
    ip4_forward(st, ifp, &ip, pb);
    return;
drop:
    ns_pbuf_free(pb);
}
