/* wire/ndp.c — Neighbor Discovery messages and options. See wire/ipv6.h.
 *
 * Read before touching: RFC 4861 §4.1-§4.5 (message formats), §4.6
 * (option format; unknown options skipped), §4.6.1-§4.6.4 (link-layer
 * address, prefix information, redirected header, MTU), §6.1.1, §6.1.2,
 * §7.1.1, §7.1.2, §8.1 (validity checks, all made here but those that
 * need state); RFC 2464 §6 (the Ethernet link-layer address option);
 * RFC 8106 §5.1 (RDNSS); RFC 3971 §5.3.2 and RFC 7527 (the nonce Linux
 * puts in DAD probes). Linux net/ipv6/ndisc.c ndisc_rcv, ndisc_recv_ns,
 * ndisc_recv_na, ndisc_router_discovery, ndisc_redirect_rcv and
 * ndisc_opt.c / ndisc_parse_options for the kernel's order and choices.
 *
 * Layout after the ICMPv6 type, code, checksum (bytes 0-3):
 *   RS        4 reserved  8 options
 *   RA        4 cur hop limit  5 flags  6 router lifetime  8 reachable
 *             time  12 retrans timer  16 options
 *   NS        4 reserved  8 target  24 options
 *   NA        4 R|S|O and reserved  8 target  24 options
 *   Redirect  4 reserved  8 target  24 destination  40 options
 * Option: 0 type  1 length in 8-byte units (type and length included)
 * 2 body. */
#include "wire/ipv6.h"

#include <assert.h>
#include <string.h>

#include "wire/bytes.h"

#define NA_FLAG_ROUTER 0x80    /* RFC 4861 §4.4 */
#define NA_FLAG_SOLICITED 0x40
#define NA_FLAG_OVERRIDE 0x20
#define OPT_MAX_LEN (255 * 8)  /* the length byte's limit */

size_t ns_ndp_hdr_len(uint8_t type)
{
    switch (type) {
    case NS_ICMP6_RS: return NS_NDP_RS_LEN;
    case NS_ICMP6_RA: return NS_NDP_RA_LEN;
    case NS_ICMP6_NS: return NS_NDP_NS_LEN;
    case NS_ICMP6_NA: return NS_NDP_NA_LEN;
    case NS_ICMP6_REDIRECT: return NS_NDP_REDIRECT_LEN;
    default: return 0;
    }
}

/* ---- options ---------------------------------------------------------------- */

void ns_ndp_opt_iter_init(struct ns_ndp_opt_iter *it, const uint8_t *opts, size_t len)
{
    it->p = opts;
    it->len = len;
    it->off = 0;
}

int ns_ndp_opt_next(struct ns_ndp_opt_iter *it, struct ns_ndp_opt *o)
{
    if (it->off >= it->len)
        return 0;
    const uint8_t *p = it->p + it->off;
    size_t left = it->len - it->off;
    /* Linux ndisc_parse_options: a message whose options end in a stub
     * too short for a type and a length, or run past it, is invalid. An
     * error does not advance, so it is returned again. */
    if (left < 2)
        return -NS_WIRE_BAD_OPTION;
    /* RFC 4861 §4.6: "The value 0 is invalid. Nodes MUST silently discard
     * an ND packet that contains an option with length zero." */
    if (p[1] == 0)
        return -NS_WIRE_OPT_ZERO_LEN;
    size_t olen = (size_t)p[1] * 8;
    if (olen > left)
        return -NS_WIRE_BAD_OPTION;
    o->type = p[0];
    o->len8 = p[1];
    o->body = p + 2;
    o->body_len = olen - 2;
    it->off += olen;
    return 1;
}

int ns_ndp_prefix_parse(const struct ns_ndp_opt *o, struct ns_ndp_prefix *p)
{
    /* RFC 4861 §4.6.2: length 4. Linux addrconf_prefix_rcv ignores a
     * shorter option and reads the first 32 bytes of a longer one. */
    if (o->type != NS_NDP_OPT_PREFIX || o->len8 < 4)
        return -NS_WIRE_BAD_OPTION;
    const uint8_t *b = o->body;
    /* 0 prefix length  1 L|A|reserved  2 valid  6 preferred  10 reserved2
     * 14 prefix */
    if (b[0] > 128)
        return -NS_WIRE_BAD_FIELD;
    p->prefix_len = b[0];
    p->flags = b[1];
    p->valid_s = ns_rd32(b + 2);
    p->preferred_s = ns_rd32(b + 6);
    memcpy(p->prefix.b, b + 14, NS_IP6_ALEN);
    return 0;
}

int ns_ndp_rdnss_parse(const struct ns_ndp_opt *o, struct ns_ndp_rdnss *r)
{
    /* RFC 8106 §5.1: length 3 + 2n for n >= 1 addresses: 0 reserved
     * 2 lifetime  6 addresses. */
    if (o->type != NS_NDP_OPT_RDNSS || o->len8 < 3 || o->len8 % 2 == 0)
        return -NS_WIRE_BAD_OPTION;
    r->lifetime_s = ns_rd32(o->body + 2);
    r->n = ((size_t)o->len8 - 1) / 2;
    r->addrs = o->body + 6;
    return 0;
}

struct ns_ip6_addr ns_ndp_rdnss_addr(const struct ns_ndp_rdnss *r, size_t i)
{
    assert(i < r->n);
    struct ns_ip6_addr a;
    memcpy(a.b, r->addrs + i * NS_IP6_ALEN, NS_IP6_ALEN);
    return a;
}

size_t ns_ndp_opt_lladdr_emit(uint8_t *buf, uint8_t type, const uint8_t mac[NS_ETH_ALEN])
{
    /* RFC 2464 §6: length 1, the 6-byte address. */
    buf[0] = type;
    buf[1] = 1;
    memcpy(buf + 2, mac, NS_ETH_ALEN);
    return NS_NDP_OPT_LLADDR_LEN;
}

size_t ns_ndp_opt_prefix_emit(uint8_t *buf, const struct ns_ndp_prefix *p)
{
    buf[0] = NS_NDP_OPT_PREFIX;
    buf[1] = 4;
    buf[2] = p->prefix_len;
    buf[3] = p->flags;
    ns_wr32(buf + 4, p->valid_s);
    ns_wr32(buf + 8, p->preferred_s);
    ns_wr32(buf + 12, 0); /* Reserved2 */
    memcpy(buf + 16, p->prefix.b, NS_IP6_ALEN);
    return NS_NDP_OPT_PREFIX_LEN;
}

size_t ns_ndp_opt_mtu_emit(uint8_t *buf, uint32_t mtu)
{
    /* RFC 4861 §4.6.4: length 1, 2 reserved bytes, the MTU. */
    buf[0] = NS_NDP_OPT_MTU;
    buf[1] = 1;
    ns_wr16(buf + 2, 0);
    ns_wr32(buf + 4, mtu);
    return NS_NDP_OPT_MTU_LEN;
}

size_t ns_ndp_opt_rdnss_emit(uint8_t *buf, uint32_t lifetime_s, const struct ns_ip6_addr *addrs,
                             size_t n)
{
    assert(n >= 1 && n <= 127);
    buf[0] = NS_NDP_OPT_RDNSS;
    buf[1] = (uint8_t)(1 + 2 * n);
    ns_wr16(buf + 2, 0);
    ns_wr32(buf + 4, lifetime_s);
    for (size_t i = 0; i < n; i++)
        memcpy(buf + 8 + i * NS_IP6_ALEN, addrs[i].b, NS_IP6_ALEN);
    return 8 + n * NS_IP6_ALEN;
}

size_t ns_ndp_opt_redirected_emit(uint8_t *buf, const uint8_t *pkt, size_t pkt_len, size_t room)
{
    if (room > OPT_MAX_LEN)
        room = OPT_MAX_LEN;
    if (room < 16)
        return 0;
    /* RFC 4861 §4.6.3: type 4, length, 6 reserved bytes, the packet
     * truncated so the Redirect stays within the minimum MTU. Like Linux
     * ndisc_send_redirect, the quoted length is cut to a multiple of 8
     * rather than padded. */
    size_t data = pkt_len < room - 8 ? pkt_len : room - 8;
    data &= ~(size_t)7;
    if (data == 0)
        return 0;
    if (pkt != buf + 8)
        memmove(buf + 8, pkt, data);
    buf[0] = NS_NDP_OPT_REDIRECTED;
    buf[1] = (uint8_t)((8 + data) / 8);
    memset(buf + 2, 0, 6);
    return 8 + data;
}

/* ---- messages ----------------------------------------------------------------- */

/* Walk the options once: check every length, keep the first of the kinds
 * the repr names (Linux ndisc_parse_options keeps the first and ignores
 * duplicates). */
static int ndp_scan_opts(struct ns_ndp_repr *r)
{
    struct ns_ndp_opt_iter it;
    struct ns_ndp_opt o;
    int rc;

    ns_ndp_opt_iter_init(&it, r->opts, r->opts_len);
    while ((rc = ns_ndp_opt_next(&it, &o)) == 1) {
        switch (o.type) {
        case NS_NDP_OPT_SLLA:
            if (!r->sll) {
                r->sll = o.body;
                r->sll_len = o.body_len;
            }
            break;
        case NS_NDP_OPT_TLLA:
            if (!r->tll) {
                r->tll = o.body;
                r->tll_len = o.body_len;
            }
            break;
        case NS_NDP_OPT_MTU: /* RFC 4861 §4.6.4: 2 reserved, the MTU */
            if (!r->has_mtu) {
                r->has_mtu = true;
                r->mtu = ns_rd32(o.body + 2);
            }
            break;
        case NS_NDP_OPT_REDIRECTED: /* RFC 4861 §4.6.3: 6 reserved, the packet */
            if (!r->redirected) {
                r->redirected = o.body + 6;
                r->redirected_len = o.body_len - 6;
            }
            break;
        case NS_NDP_OPT_NONCE:
            if (!r->nonce) {
                r->nonce = o.body;
                r->nonce_len = o.body_len;
            }
            break;
        default:
            /* Prefix information and RDNSS may repeat: the caller walks
             * them. Unknown options: RFC 4861 §4.6 "MUST silently ignore
             * any options they do not recognize". */
            break;
        }
    }
    return rc;
}

int ns_ndp_parse(const struct ns_ip6_repr *ip, const uint8_t *buf, size_t len,
                 struct ns_ndp_repr *r)
{
    if (len < NS_ICMP6_HLEN)
        return -NS_WIRE_TRUNCATED;
    uint8_t type = buf[0];
    size_t hlen = ns_ndp_hdr_len(type);
    if (hlen == 0)
        return -NS_WIRE_UNSUPPORTED;
    /* RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1: hop limit 255 (so
     * the message cannot have come through a router) and code 0, checked
     * first for every type as Linux ndisc_rcv does. */
    if (ip->hop_limit != NS_NDP_HOP_LIMIT)
        return -NS_WIRE_BAD_HOPLIMIT;
    if (buf[1] != 0)
        return -NS_WIRE_BAD_CODE;
    /* ICMP length 8 (RS), 16 (RA), 24 (NS, NA), 40 (Redirect) or more. */
    if (len < hlen)
        return -NS_WIRE_TRUNCATED;

    memset(r, 0, sizeof(*r));
    r->type = type;
    r->opts = buf + hlen;
    r->opts_len = len - hlen;
    switch (type) {
    case NS_ICMP6_RA:
        /* RFC 4861 §6.1.2: the source is the router's link-local address. */
        if (!ns_ip6_is_link_local(&ip->src))
            return -NS_WIRE_BAD_SRC;
        r->cur_hop_limit = buf[4];
        r->ra_flags = buf[5];
        r->router_lifetime_s = ns_rd16(buf + 6);
        r->reachable_ms = ns_rd32(buf + 8);
        r->retrans_ms = ns_rd32(buf + 12);
        break;
    case NS_ICMP6_NS:
    case NS_ICMP6_NA:
        memcpy(r->target.b, buf + 8, NS_IP6_ALEN);
        /* RFC 4861 §7.1.1, §7.1.2: the target is not a multicast address. */
        if (ns_ip6_is_multicast(&r->target))
            return -NS_WIRE_MCAST_TARGET;
        if (type == NS_ICMP6_NA) {
            r->router = (buf[4] & NA_FLAG_ROUTER) != 0;
            r->solicited = (buf[4] & NA_FLAG_SOLICITED) != 0;
            r->override = (buf[4] & NA_FLAG_OVERRIDE) != 0;
            /* RFC 4861 §7.1.2: to a multicast address, Solicited is 0. */
            if (r->solicited && ns_ip6_is_multicast(&ip->dst))
                return -NS_WIRE_SOLICITED_MCAST;
        } else if (ns_ip6_is_unspecified(&ip->src) && !ns_ip6_is_solicited_node(&ip->dst)) {
            /* RFC 4861 §7.1.1: a DAD probe (source ::) goes to the
             * target's solicited-node address (Linux checks the prefix). */
            return -NS_WIRE_DAD_DST;
        }
        break;
    case NS_ICMP6_REDIRECT:
        /* RFC 4861 §8.1: from a link-local address (the first-hop router's,
         * which the caller checks); the destination is not multicast; the
         * target is link-local (a better router) or the destination
         * itself (it is on-link). */
        if (!ns_ip6_is_link_local(&ip->src))
            return -NS_WIRE_BAD_SRC;
        memcpy(r->target.b, buf + 8, NS_IP6_ALEN);
        memcpy(r->dest.b, buf + 24, NS_IP6_ALEN);
        if (ns_ip6_is_multicast(&r->dest))
            return -NS_WIRE_MCAST_TARGET;
        if (!ns_ip6_is_link_local(&r->target) && !ns_ip6_eq(&r->target, &r->dest))
            return -NS_WIRE_REDIRECT_TARGET;
        break;
    default: /* RS: nothing but reserved bytes before the options */
        break;
    }

    /* Every type: each option has a non-zero length and lies inside the
     * message. */
    int rc = ndp_scan_opts(r);
    if (rc < 0)
        return rc;
    /* RFC 4861 §6.1.1 (RS), §7.1.1 (NS): from the unspecified address,
     * there is no source link-layer address option (there is no address
     * to bind it to). */
    if ((type == NS_ICMP6_RS || type == NS_ICMP6_NS) && r->sll &&
        ns_ip6_is_unspecified(&ip->src))
        return -NS_WIRE_UNSPEC_SLLA;
    return 0;
}

size_t ns_ndp_emit(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                   const struct ns_ndp_repr *r, uint8_t *buf)
{
    size_t hlen = ns_ndp_hdr_len(r->type);
    if (hlen == 0)
        return 0;
    if (r->opts_len && r->opts != buf + hlen)
        memmove(buf + hlen, r->opts, r->opts_len);
    memset(buf, 0, hlen); /* code 0 and every reserved field */
    buf[0] = r->type;
    switch (r->type) {
    case NS_ICMP6_RA:
        buf[4] = r->cur_hop_limit;
        buf[5] = r->ra_flags;
        ns_wr16(buf + 6, r->router_lifetime_s);
        ns_wr32(buf + 8, r->reachable_ms);
        ns_wr32(buf + 12, r->retrans_ms);
        break;
    case NS_ICMP6_NA:
        buf[4] = (uint8_t)((r->router ? NA_FLAG_ROUTER : 0) |
                           (r->solicited ? NA_FLAG_SOLICITED : 0) |
                           (r->override ? NA_FLAG_OVERRIDE : 0));
        memcpy(buf + 8, r->target.b, NS_IP6_ALEN);
        break;
    case NS_ICMP6_NS:
        memcpy(buf + 8, r->target.b, NS_IP6_ALEN);
        break;
    case NS_ICMP6_REDIRECT:
        memcpy(buf + 8, r->target.b, NS_IP6_ALEN);
        memcpy(buf + 24, r->dest.b, NS_IP6_ALEN);
        break;
    default:
        break;
    }
    size_t len = hlen + r->opts_len;
    ns_wr16(buf + 2, ns_icmp6_csum(src, dst, buf, len));
    return len;
}
