/* net/icmp6.c — ICMPv6: the type table, echo, errors in and out with
 * their rate limit, Path MTU Discovery.
 *
 * Read first: RFC 4443 (§2.4 the rules for sending and receiving, §3
 * errors, §4 echo), RFC 8201 (Path MTU Discovery for IPv6), Linux
 * net/ipv6/icmp.c for what the RFCs leave open (icmpv6_xrlim_allow:
 * icmpv6_time 1000 ms per destination, scaled down by the route's prefix
 * length, for the types of icmpv6 ratemask 0-1,3-127 — every error but
 * Packet Too Big — plus the stack-wide budget shared with ICMPv4).
 *
 * Messages are dispatched by type through st->net->ip6->icmp6[]
 * (icmp6_register): this file takes Echo Request and Reply and the four errors,
 * net/ndisc.c NS and NA; RS, RA, Redirect and MLD are for
 * autoconfiguration to register. RFC 4443 §2.4 (b): an informational
 * message of a type nobody took is dropped (counted); (a)/(d): an error
 * of a type we do not know is passed to the upper layer like the others.
 */
#include <errno.h>
#include <string.h>

#include "base/siphash.h"
#include "net/net.h"
#include "wire/bytes.h"
#include "wire/ipv6.h"
#include "wire/wire.h"

/* RFC 8201 §5.3 / Linux ip6_rt_mtu_expires: a learned path MTU is tried
 * again after 10 minutes. */
#define PMTU6_EXPIRES_US (600ull * 1000000)
/* Linux icmpv6_time: 1000 ms between errors to one destination. */
#define ICMP6_RL_US 1000000ull

void icmp6_register(struct ns_stack *st, uint8_t type, icmp6_handler_fn fn)
{
    st->net->ip6->icmp6[type] = fn;
}

/* A direct-mapped slot of one of ip6_state's per-destination tables. */
static unsigned dst_slot(struct ns_stack *st, const struct ns_ip6_addr *dst, unsigned n)
{
    return (unsigned)(ns_siphash(st->net->ip6->flow_key, dst->b, 16) % n);
}

/* ---- path MTU ------------------------------------------------------------------- */

uint32_t pmtu6_get(struct ns_stack *st, const struct ns_ip6_addr *dst)
{
    const struct pmtu6 *p = &st->net->ip6->pmtu[dst_slot(st, dst, NS_PMTU6_MAX)];
    if (!p->mtu || !ns_ip6_eq(&p->dst, dst) || p->expires_us <= st->now_us)
        return 0;
    return p->mtu;
}

void pmtu6_update(struct ns_stack *st, const struct ns_ip6_addr *dst, uint32_t mtu)
{
    /* RFC 8201 §4: a Packet Too Big below 1280 sets the path MTU to 1280
     * (RFC 8021 retired the atomic fragments RFC 2460 asked for then). */
    if (mtu < NS_IP6_MIN_MTU)
        mtu = NS_IP6_MIN_MTU;
    uint32_t cur = pmtu6_get(st, dst);
    /* §4: a node MUST NOT increase its estimate from a Packet Too Big. */
    if (cur && mtu >= cur) {
        NS_STAT_INC(st, icmp6_pmtu_ignored);
        return;
    }
    struct pmtu6 *p = &st->net->ip6->pmtu[dst_slot(st, dst, NS_PMTU6_MAX)];
    p->dst = *dst;
    p->mtu = mtu;
    p->expires_us = st->now_us + PMTU6_EXPIRES_US;
    NS_STAT_INC(st, icmp6_pmtu_update);
    char b[NS_IP6_ADDRSTRLEN];
    NS_LOG(st, NS_LOG_INFO, "ipv6: path MTU to %s is %u", ns_ip6_ntoa(dst, b), mtu);
    /* The transports read the MTU through their egress: make them look. */
    ip_egress_invalidate(st);
}

/* ---- sending -------------------------------------------------------------------- */

int icmp6_send(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_addr *src,
               const struct ns_ip6_addr *dst, uint8_t hops, const uint8_t *msg, size_t len)
{
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, (uint32_t)len);
    if (!pb)
        return -ENOBUFS;
    struct ip_egress eg;
    ip6_egress_decide(st, dst, ifp ? ifp->index : 0, &eg);
    struct ip6_out o = {.dst = *dst, .proto = NS_IPPROTO_ICMPV6, .oif = ifp ? ifp->index : 0,
                        .hop_limit = hops, .hop_limit_set = hops != 0};
    o.src = src ? *src : eg.src6;
    o.unspec_src = src && ns_ip6_is_unspecified(src); /* DAD (RFC 4862 §5.4.2) */
    uint8_t *p = ns_pbuf_data(pb);
    memcpy(p, msg, len);
    ns_wr16(p + 2, 0);
    ns_wr16(p + 2, ns_icmp6_csum(&o.src, dst, p, len));
    NS_STAT_INC(st, icmp6_tx);
    if (!o.unspec_src && ns_ip6_is_unspecified(&o.src)) {
        NS_STAT_INC(st, ip6_drop_no_src);
        ns_pbuf_free(pb);
        return -EADDRNOTAVAIL;
    }
    return ip6_output_via(st, &eg, &o, pb);
}

/* RFC 4443 §2.4 (f), as Linux icmpv6_xrlim_allow: a token bucket per
 * destination refilled at one token per icmpv6_time (scaled by the
 * route's prefix length: tmo >> ((128 - plen) >> 5)), six deep (Linux
 * XRLIM_BURST_FACTOR), and the stack-wide budget. Packet Too Big is
 * outside the mask. */
static bool icmp6_rate_allow(struct ns_stack *st, uint8_t type, const struct ns_ip6_addr *dst)
{
    if (type == NS_ICMP6_PACKET_TOO_BIG || type >= 128)
        return true;
    int ifindex;
    struct ns_ip6_addr nh;
    uint64_t tmo = ICMP6_RL_US;
    struct ip6_state *s = st->net->ip6;
    if (route6_lookup(st, dst, 0, &ifindex, &nh) == 0) {
        for (unsigned i = 0; i < s->n_routes; i++)
            if (s->routes[i].ifindex == ifindex &&
                ns_ip6_prefix_eq(&s->routes[i].dst.u.ip6, dst, s->routes[i].prefix_len)) {
                tmo >>= (128 - s->routes[i].prefix_len) >> 5;
                break;
            }
    }
    struct icmp6_rl *r = &s->rl[dst_slot(st, dst, NS_ICMP6_RL_MAX)];
    if (!r->used || !ns_ip6_eq(&r->dst, dst)) {
        r->used = true;
        r->dst = *dst;
        r->last_us = st->now_us - 6 * tmo; /* a new peer starts with a full bucket */
    }
    /* The bucket holds (now - last) microseconds of credit, at most 6 tmo. */
    uint64_t credit = st->now_us - r->last_us;
    if (credit > 6 * tmo)
        credit = 6 * tmo;
    if (credit < tmo)
        return false;
    if (!icmp_rate_allow(st))
        return false;
    r->last_us = st->now_us - (credit - tmo);
    return true;
}

/* Tell the protocol that sent the quoted datagram (qpkt, qlen bytes from
 * its IPv6 header) about an error: its upper layer by walking the quoted
 * extension headers. */
static void icmp6_notify(struct ns_stack *st, const struct ns_ip6_addr *from, uint8_t type,
                         uint8_t code, uint32_t info, const uint8_t *qpkt, size_t qlen)
{
    if (qlen < NS_IP6_HLEN || (qpkt[0] >> 4) != 6)
        return;
    struct ns_ip6_repr inner;
    uint8_t hdr[NS_IP6_HLEN];
    memcpy(hdr, qpkt, NS_IP6_HLEN);
    ns_wr16(hdr + 4, 0); /* parse the fixed header alone (the quote is cut) */
    if (ns_ip6_parse(hdr, NS_IP6_HLEN, &inner) < 0)
        return;
    struct ns_ip6_ext_info w;
    if (ns_ip6_ext_walk(qpkt, qlen, &w) < 0 && w.upper_off == 0)
        return;
    if (w.upper_off == 0 || w.upper_off > qlen)
        return;
    if (type == NS_ICMP6_PACKET_TOO_BIG && ip6_is_local(st, &inner.src))
        pmtu6_update(st, &inner.dst, info);
    inner.next_hdr = w.upper;
    const struct ip_protocol *p = st->net->protocols[w.upper];
    if (p && p->err6)
        p->err6(st, from, type, code, info, &inner, qpkt + w.upper_off, qlen - w.upper_off);
    const struct ip_raw_tap *tap = st->net->raw_tap;
    if (tap && tap->err6)
        tap->err6(st, type, code, &inner);
}

void icmp6_send_error(struct ns_stack *st, const struct ns_pbuf *orig, uint8_t type, uint8_t code,
                      uint32_t info)
{
    const uint8_t *pkt = ns_pbuf_data(orig);
    struct ns_ip6_repr ip;
    if (ns_ip6_parse(pkt, orig->len, &ip) < 0)
        return;
    /* RFC 4443 §2.4 (e). */
    if (!ns_icmp6_error_allowed(pkt, orig->len, type, code,
                                (orig->flags & NS_PBUF_F_L2_BCAST) != 0)) {
        NS_STAT_INC(st, icmp6_err_suppressed);
        return;
    }
    bool via_lo = orig->ifindex != 0 && (int)orig->ifindex == link_lo_ifindex(st);
    size_t qlen = ns_icmp6_quote_len(orig->len, NS_IP6_HLEN);
    /* Our own datagram failed before leaving (neighbour discovery gave
     * up): the sending protocol hears it at once, as Linux reports
     * EHOSTUNREACH. */
    if (ip6_is_local(st, &ip.src) && !via_lo) {
        icmp6_notify(st, &ip.src, type, code, info, pkt, qlen);
        return;
    }
    if (!via_lo && !icmp6_rate_allow(st, type, &ip.src)) {
        NS_STAT_INC(st, icmp6_err_ratelimited);
        return;
    }
    uint8_t msg[NS_IP6_MIN_MTU];
    struct ns_icmp6_repr r = {.type = type, .code = code, .mtu = info, .pointer = info,
                              .payload = pkt, .payload_len = qlen};
    /* The source: the address the datagram was sent to when it is one of
     * ours (RFC 4443 §2.2 (a)), else chosen for the destination. */
    struct ns_iface *ifp = ns_iface_get(st, (int)orig->ifindex);
    int oif = ifp && (ns_ip6_is_link_local(&ip.src) || ns_ip6_is_multicast(&ip.src)) ? ifp->index
                                                                                      : 0;
    struct ip_egress eg;
    ip6_egress_decide(st, &ip.src, oif, &eg);
    struct ns_ip6_addr src = (!ns_ip6_is_multicast(&ip.dst) && ip6_is_local(st, &ip.dst))
                                 ? ip.dst
                                 : eg.src6;
    ns_icmp6_emit(&src, &ip.src, &r, msg);
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, (uint32_t)(NS_ICMP6_HLEN + qlen));
    if (!pb)
        return;
    memcpy(ns_pbuf_data(pb), msg, NS_ICMP6_HLEN + qlen);
    NS_STAT_INC(st, icmp6_tx);
    NS_STAT_INC(st, icmp6_tx_err);
    struct ip6_out o = {.src = src, .dst = ip.src, .proto = NS_IPPROTO_ICMPV6, .oif = oif};
    ip6_output_via(st, &eg, &o, pb);
}

/* ---- receiving ------------------------------------------------------------------- */

/* RFC 4443 §4.2: the reply carries the request's identifier, sequence
 * and data; from the address the request went to when that was unicast
 * (Linux icmpv6_echo_reply: else a source chosen for the requester).
 * Linux answers multicast echoes (icmp_echo_ignore_multicast 0). */
static void icmp6_echo(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                       const struct ns_icmp6_repr *m, const struct ns_pbuf *pb)
{
    (void)pb;
    NS_STAT_INC(st, icmp6_rx_echo);
    if (ns_ip6_is_unspecified(&ip->src))
        return;
    struct ns_pbuf *out = ns_stack_alloc(st, NS_PBUF_HEADROOM,
                                         (uint32_t)(NS_ICMP6_HLEN + m->payload_len));
    if (!out)
        return;
    int oif = ns_ip6_is_link_local(&ip->src) || ns_ip6_is_multicast(&ip->dst) ? ifp->index : 0;
    struct ip_egress eg;
    ip6_egress_decide(st, &ip->src, oif, &eg);
    struct ns_ip6_addr src = ns_ip6_is_multicast(&ip->dst) ? eg.src6 : ip->dst;
    struct ns_icmp6_repr r = {.type = NS_ICMP6_ECHO_REPLY, .id = m->id, .seq = m->seq,
                              .payload = m->payload, .payload_len = m->payload_len};
    ns_icmp6_emit(&src, &ip->src, &r, ns_pbuf_data(out));
    NS_STAT_INC(st, icmp6_tx);
    NS_STAT_INC(st, icmp6_tx_echo_reply);
    struct ip6_out o = {.src = src, .dst = ip->src, .proto = NS_IPPROTO_ICMPV6, .oif = oif,
                        .tclass = ip->tclass};
    ip6_output_via(st, &eg, &o, out);
}

/* RFC 4443 §4.2: an Echo Reply is for whoever sent the request — a raw
 * ICMPv6 socket (ping -6), which got its copy before this; counted, as
 * Linux's Icmp6InEchoReplies, not dropped as of an unknown type. */
static void icmp6_echo_reply(struct ns_stack *st, struct ns_iface *ifp,
                             const struct ns_ip6_repr *ip, const struct ns_icmp6_repr *m,
                             const struct ns_pbuf *pb)
{
    (void)ifp, (void)ip, (void)m, (void)pb;
    NS_STAT_INC(st, icmp6_rx_echo_reply);
}

/* The errors: RFC 4443 §3, §2.4 (d) pass them to the upper layer. */
static void icmp6_error_in(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                           const struct ns_icmp6_repr *m, const struct ns_pbuf *pb)
{
    (void)ifp;
    (void)pb;
    NS_STAT_INC(st, icmp6_rx_err);
    uint32_t info = m->type == NS_ICMP6_PACKET_TOO_BIG ? m->mtu
                    : m->type == NS_ICMP6_PARAM_PROB   ? m->pointer
                                                       : 0;
    icmp6_notify(st, &ip->src, m->type, m->code, info, m->payload, m->payload_len);
}

static void icmp6_input(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip6_repr *ip,
                        struct ns_pbuf *pb)
{
    struct ns_icmp6_repr m;
    NS_STAT_INC(st, icmp6_rx);
    bool verify = !(pb->flags & NS_PBUF_F_CSUM_OK);
    switch (ns_icmp6_parse(&ip->src, &ip->dst, ns_pbuf_data(pb), pb->len, &m, verify)) {
    case NS_WIRE_OK:
        break;
    case -NS_WIRE_BAD_CSUM:
        NS_STAT_INC(st, icmp6_drop_bad_csum);
        goto drop;
    default:
        NS_STAT_INC(st, icmp6_drop_short);
        goto drop;
    }
    icmp6_handler_fn fn = st->net->ip6->icmp6[m.type];
    if (fn)
        fn(st, ifp, ip, &m, pb);
    else if (ns_icmp6_is_error(m.type))
        icmp6_error_in(st, ifp, ip, &m, pb); /* §2.4 (d) */
    else
        NS_STAT_INC(st, icmp6_drop_unknown_type); /* §2.4 (b) */
drop:
    ns_pbuf_free(pb);
}

static const struct ip_protocol icmp6_protocol = {.input6 = icmp6_input};

void icmp6_init(struct ns_stack *st)
{
    /* One entry for ICMPv4 and ICMPv6 would mix numbers: ICMPv6 is 58. */
    ip_protocol_register(st, NS_IPPROTO_ICMPV6, &icmp6_protocol);
    icmp6_register(st, NS_ICMP6_ECHO_REQUEST, icmp6_echo);
    icmp6_register(st, NS_ICMP6_ECHO_REPLY, icmp6_echo_reply);
    icmp6_register(st, NS_ICMP6_DEST_UNREACH, icmp6_error_in);
    icmp6_register(st, NS_ICMP6_PACKET_TOO_BIG, icmp6_error_in);
    icmp6_register(st, NS_ICMP6_TIME_EXCEEDED, icmp6_error_in);
    icmp6_register(st, NS_ICMP6_PARAM_PROB, icmp6_error_in);
    nd_register(st);
}
