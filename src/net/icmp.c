/* net/icmp.c — ICMPv4: echo, errors in and out.
 *
 * Read first: RFC 792 (messages), RFC 1122 §3.2.2 (what a host must and
 * must not send: never an error about an error, a broadcast, a non-first
 * fragment or a martian source), RFC 1812 §4.3.2.8 (rate limiting),
 * RFC 1191 (the next-hop MTU in "fragmentation needed").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "net/net.h"
#include "wire/bytes.h"
#include "wire/wire.h"

/* Linux quotes as much of the offending datagram as fits in a 576-byte
 * reply (RFC 1812 §4.3.2.3); RFC 792's minimum is header + 8 bytes. */
#define ICMP_ERR_MAX_LEN 576

static bool icmp_is_error_type(uint8_t type)
{
    switch (type) {
    case NS_ICMP_DEST_UNREACH:
    case 4: /* source quench */
    case 5: /* redirect */
    case NS_ICMP_TIME_EXCEEDED:
    case NS_ICMP_PARAM_PROB:
        return true;
    default:
        return false;
    }
}

/* Token bucket: icmp_rate_per_s tokens a second, icmp_rate_burst deep.
 * Tokens are counted in millionths, so elapsed_us * rate is exactly the
 * refill: no fraction is lost however often this runs (with a coarser
 * unit a flood of offenders closer together than one unit's worth of time
 * refilled nothing and starved the bucket for good). */
#define ICMP_TOKEN 1000000u

bool icmp_rate_allow(struct ns_stack *st)
{
    uint64_t cap = (uint64_t)st->cfg.icmp_rate_burst * ICMP_TOKEN;
    uint64_t rate = st->cfg.icmp_rate_per_s;
    uint64_t elapsed = st->now_us - st->net->icmp_tokens_at_us;
    st->net->icmp_tokens_at_us = st->now_us;
    /* Past cap/rate microseconds the bucket is full anyway; clamping first
     * keeps the product from overflowing. */
    uint64_t add = rate == 0 ? 0 : elapsed > cap / rate ? cap : elapsed * rate;
    st->net->icmp_tokens = cap - st->net->icmp_tokens < add ? cap : st->net->icmp_tokens + add;
    if (st->net->icmp_tokens < ICMP_TOKEN)
        return false;
    st->net->icmp_tokens -= ICMP_TOKEN;
    return true;
}

/* Notify the local protocol that sent `inner` of an ICMP error. */
static void icmp_notify(struct ns_stack *st, uint32_t from, uint8_t type, uint8_t code,
                        uint32_t info, const uint8_t *quoted, size_t qlen)
{
    struct ns_ip4_repr inner;
    /* The quote may be cut short of total_len: parse the header only. */
    if (qlen < NS_IP4_HLEN || (quoted[0] >> 4) != 4)
        return;
    size_t hlen = (size_t)(quoted[0] & 0xf) * 4;
    if (hlen < NS_IP4_HLEN || hlen > qlen)
        return;
    uint8_t hdr[NS_IP4_MAX_HLEN];
    memcpy(hdr, quoted, hlen);
    ns_wr16(hdr + 2, (uint16_t)hlen); /* parse the header alone */
    if (ns_ip4_parse(hdr, hlen, &inner, false) < 0)
        return;
    const struct ip_raw_tap *tap = st->net->raw_tap;
    if (tap)
        tap->err4(st, type, code, &inner);
    const struct ip_protocol *p = st->net->protocols[inner.proto];
    if (p && p->err4)
        p->err4(st, from, type, code, info, &inner, quoted + hlen, qlen - hlen);
}

void icmp4_send_error(struct ns_stack *st, const struct ns_pbuf *orig, uint8_t type, uint8_t code,
                      uint32_t info)
{
    struct ns_ip4_repr ip;
    const uint8_t *pkt = ns_pbuf_data(orig);
    if (ns_ip4_parse(pkt, orig->len, &ip, false) < 0)
        return;

    /* A datagram this host sent to itself through the loopback: Linux
     * __icmp_send answers it like any other (loopback sources are martian
     * only when they arrive on a real interface), through the loopback,
     * without rate limit (icmpv4_xrlim_allow exempts IFF_LOOPBACK). */
    bool via_lo = orig->ifindex != 0 && (int)orig->ifindex == link_lo_ifindex(st);

    /* RFC 1122 §3.2.2: the datagrams no error may be sent about. */
    bool suppress = (orig->flags & NS_PBUF_F_L2_BCAST) || ip.frag_off != 0 ||
                    ip4_is_broadcast(st, ip.dst) || ip4_is_multicast(ip.dst) || ip.src == 0 ||
                    ip4_is_broadcast(st, ip.src) || ip4_is_multicast(ip.src) ||
                    (ip4_is_loopback(ip.src) && !via_lo) || (ip.src >> 28) == 0xf; /* class E */
    if (!suppress && ip.proto == NS_IPPROTO_ICMP) {
        if (ip.total_len < ip.hlen + 1u || icmp_is_error_type(pkt[ip.hlen]))
            suppress = true;
    }
    if (suppress) {
        NS_STAT_INC(st, icmp_err_suppressed);
        return;
    }

    size_t qlen = ip.total_len;
    if (qlen > ICMP_ERR_MAX_LEN - NS_IP4_HLEN - NS_ICMP_HLEN)
        qlen = ICMP_ERR_MAX_LEN - NS_IP4_HLEN - NS_ICMP_HLEN;

    /* Our own packet failed before leaving (e.g. ARP never answered):
     * tell the sending protocol directly, as Linux reports EHOSTUNREACH. */
    if (ip4_is_local(st, ip.src) && !via_lo) {
        icmp_notify(st, ip.src, type, code, info, pkt, qlen);
        return;
    }
    if (!via_lo && !icmp_rate_allow(st)) {
        NS_STAT_INC(st, icmp_err_ratelimited);
        return;
    }

    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, (uint32_t)(NS_ICMP_HLEN + qlen));
    if (!pb)
        return;
    struct ns_icmp4_repr r = {
        .type = type,
        .code = code,
        .next_mtu = (uint16_t)info,
        .rest = (type == NS_ICMP_DEST_UNREACH && code == NS_ICMP_FRAG_NEEDED) ? info
                : (type == NS_ICMP_PARAM_PROB)                               ? info << 24
                                                                             : 0,
        .payload = pkt,
        .payload_len = qlen,
    };
    ns_icmp4_emit(&r, ns_pbuf_data(pb));
    if (type == NS_ICMP_TIME_EXCEEDED)
        NS_STAT_INC(st, icmp_tx_time_exceeded);
    else if (type == NS_ICMP_DEST_UNREACH)
        NS_STAT_INC(st, icmp_tx_unreach);
    NS_STAT_INC(st, icmp_tx);
    /* Reply from the address the datagram was sent to when it is ours;
     * otherwise (forwarding) from the outgoing interface. */
    struct ip4_out o = {
        .src = ip4_is_local(st, ip.dst) ? ip.dst : 0,
        .dst = ip.src,
        .proto = NS_IPPROTO_ICMP,
        .tos = 0xc0, /* RFC 1812 §4.3.2.5: precedence "internetwork control" */
    };
    ip4_output(st, &o, pb);
}

static void icmp_echo_reply(struct ns_stack *st, const struct ns_ip4_repr *ip,
                            struct ns_pbuf *pb)
{
    /* Linux icmp_echo_ignore_broadcasts=1 (RFC 1122 §3.2.2.6 allows it). */
    if ((pb->flags & NS_PBUF_F_L2_BCAST) || ip4_is_broadcast(st, ip->dst) ||
        ip4_is_multicast(ip->dst)) {
        NS_STAT_INC(st, icmp_drop_bcast_echo);
        ns_pbuf_free(pb);
        return;
    }
    /* For another host, taken only for raw sockets to see (a transparent
     * stack): that host answers or not, we never forge its reply. */
    if (pb->flags & NS_PBUF_F_NONLOCAL) {
        NS_STAT_INC(st, icmp_drop_nonlocal_echo);
        ns_pbuf_free(pb);
        return;
    }
    /* RFC 792: reverse the addresses, type 0, same id/seq/data. The
     * request's buffer becomes the reply. */
    uint8_t *p = ns_pbuf_data(pb);
    uint16_t old_word = ns_rd16(p);
    p[0] = NS_ICMP_ECHO_REPLY;
    ns_wr16(p + 2, ns_csum_update16(ns_rd16(p + 2), old_word, ns_rd16(p)));
    NS_STAT_INC(st, icmp_tx_echo_reply);
    NS_STAT_INC(st, icmp_tx);
    struct ip4_out o = {.src = ip->dst, .dst = ip->src, .proto = NS_IPPROTO_ICMP, .tos = ip->tos};
    ip4_output(st, &o, pb);
}

/* An ICMP error quoting one of our echo requests: report it to the echo
 * hook, as ping(8) prints "From 192.0.2.1 icmp_seq=1 Time to live
 * exceeded". */
static void icmp_echo_err(struct ns_stack *st, uint32_t from, uint8_t type, uint8_t code,
                          uint32_t info, const struct ns_ip4_repr *inner, const uint8_t *payload,
                          size_t payload_len)
{
    (void)info;
    (void)inner;
    if (!st->net->echo_fn || payload_len < NS_ICMP_HLEN || payload[0] != NS_ICMP_ECHO)
        return;
    struct ns_echo_reply er = {
        .from = htonl(from),
        .id = ns_rd16(payload + 4),
        .seq = ns_rd16(payload + 6),
        .icmp_type = type,
        .icmp_code = code,
    };
    st->net->echo_fn(st->net->echo_ctx, st, &er, st->now_us);
}

static void icmp4_input(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip4_repr *ip,
                        struct ns_pbuf *pb);

static const struct ip_protocol icmp4_protocol = {.input4 = icmp4_input, .err4 = icmp_echo_err};

void icmp4_init(struct ns_stack *st) { ip_protocol_register(st, NS_IPPROTO_ICMP, &icmp4_protocol); }

static void icmp4_input(struct ns_stack *st, struct ns_iface *ifp, const struct ns_ip4_repr *ip,
                        struct ns_pbuf *pb)
{
    struct ns_icmp4_repr r;
    (void)ifp;
    NS_STAT_INC(st, icmp_rx);
    switch (ns_icmp4_parse(ns_pbuf_data(pb), pb->len, &r, true)) {
    case NS_WIRE_OK:
        break;
    case -NS_WIRE_BAD_CSUM:
        NS_STAT_INC(st, icmp_drop_bad_csum);
        goto drop;
    default:
        NS_STAT_INC(st, icmp_drop_short);
        goto drop;
    }
    switch (r.type) {
    case NS_ICMP_ECHO:
        NS_STAT_INC(st, icmp_rx_echo);
        icmp_echo_reply(st, ip, pb);
        return;
    case NS_ICMP_ECHO_REPLY:
        NS_STAT_INC(st, icmp_rx_echo_reply);
        if (st->net->echo_fn) {
            struct ns_echo_reply er = {
                .from = htonl(ip->src),
                .id = r.id,
                .seq = r.seq,
                .ttl = ip->ttl,
                .data = r.payload,
                .len = r.payload_len,
            };
            st->net->echo_fn(st->net->echo_ctx, st, &er, st->now_us);
        }
        goto drop;
    case NS_ICMP_DEST_UNREACH:
        NS_STAT_INC(st, icmp_rx_unreach);
        icmp_notify(st, ip->src, r.type, r.code, r.code == NS_ICMP_FRAG_NEEDED ? r.next_mtu : 0, r.payload,
                    r.payload_len);
        goto drop;
    case NS_ICMP_TIME_EXCEEDED:
        NS_STAT_INC(st, icmp_rx_time_exceeded);
        icmp_notify(st, ip->src, r.type, r.code, 0, r.payload, r.payload_len);
        goto drop;
    case NS_ICMP_PARAM_PROB:
        icmp_notify(st, ip->src, r.type, r.code, r.rest >> 24, r.payload, r.payload_len);
        goto drop;
    default:
        NS_STAT_INC(st, icmp_drop_unknown_type);
        goto drop;
    }
drop:
    ns_pbuf_free(pb);
}

int ns_icmp_echo_send(struct ns_stack *st, const void *dst, uint16_t id, uint16_t seq,
                      const void *data, size_t len, uint8_t ttl)
{
    if (!dst || (len && !data))
        return -EINVAL;
    if (len > NS_IP4_MAX_LEN - NS_IP4_HLEN - NS_ICMP_HLEN)
        return -EMSGSIZE;
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, (uint32_t)(NS_ICMP_HLEN + len));
    if (!pb)
        return -ENOBUFS;
    uint8_t *p = ns_pbuf_data(pb);
    if (len)
        memcpy(p + NS_ICMP_HLEN, data, len);
    struct ns_icmp4_repr r = {
        .type = NS_ICMP_ECHO,
        .id = id,
        .seq = seq,
        .payload = p + NS_ICMP_HLEN,
        .payload_len = len,
    };
    ns_icmp4_emit(&r, p);
    NS_STAT_INC(st, icmp_tx);
    struct ip4_out o = {
        .dst = ntohl(((const struct in_addr *)dst)->s_addr),
        .proto = NS_IPPROTO_ICMP,
        .ttl = ttl,
    };
    return ip4_output(st, &o, pb);
}

void ns_icmp_set_echo_hook(struct ns_stack *st, ns_echo_fn fn, void *ctx)
{
    st->net->echo_fn = fn;
    st->net->echo_ctx = ctx;
}
