/* wire/ipv6.c — the IPv6 header, the extension header walker, Hop-by-Hop
 * and Destination options, the Fragment header, the upper-layer checksum.
 * See wire/ipv6.h.
 *
 * Read before touching: RFC 8200 §3 (header format), §4 (extension
 * headers: order §4.1, options and their action bits §4.2, Hop-by-Hop
 * first §4.3, Routing §4.4, Fragment §4.5 with its receive checks,
 * Destination Options §4.6, No Next Header §4.7), §8.1 (pseudo-header);
 * RFC 2675 (jumbograms, which we refuse); RFC 2711 (Router Alert);
 * RFC 4942 §2.1.9.5 (padding); RFC 6946 (atomic fragments); RFC 7112
 * (the whole header chain in the first fragment); RFC 4291 §2.7 (address
 * rules). Linux net/ipv6/ip6_input.c ip6_rcv_core, exthdrs.c
 * ip6_parse_tlv and reassembly.c ipv6_frag_rcv for what the kernel does
 * where the RFCs leave a choice.
 *
 * Layout (RFC 8200 §3):
 *   0 version (4) | traffic class (8) | flow label (20)
 *   4 payload length  6 next header  7 hop limit  8 source  24 destination
 * Extension headers (§4.3-§4.6): 0 next header  1 length in 8-byte units
 * not counting the first 8 (not for Fragment: always 8 bytes). */
#include "wire/ipv6.h"

#include <assert.h>
#include <string.h>

#include "wire/bytes.h"

#define IP6_MAX_PKT (NS_IP6_HLEN + NS_IP6_MAX_PAYLOAD)
#define IP6_MAX_PAD_RUN 7 /* RFC 4942 §2.1.9.5, Linux ip6_parse_tlv */

/* ---- options ------------------------------------------------------------- */

void ns_ip6_opt_iter_init(struct ns_ip6_opt_iter *it, const uint8_t *hdr, size_t len,
                          uint32_t base)
{
    it->hdr = hdr;
    it->len = len;
    it->off = 2; /* after next header and length */
    it->pad_run = 0;
    it->count = 0;
    it->base = base;
    it->err = 0;
}

static int opt_fail(struct ns_ip6_opt_iter *it, int err)
{
    it->err = err;
    return err;
}

int ns_ip6_opt_next(struct ns_ip6_opt_iter *it, struct ns_ip6_opt *o)
{
    if (it->err)
        return it->err;
    while (it->off < it->len) {
        const uint8_t *p = it->hdr + it->off;
        size_t left = it->len - it->off;

        /* RFC 8200 §4.2: Pad1 is the one option without length and data. */
        if (p[0] == NS_IP6_OPT_PAD1) {
            /* RFC 4942 §2.1.9.5: padding only ever needs 7 bytes to reach
             * an 8-byte boundary; more is a covert channel or an attack.
             * Linux ip6_parse_tlv drops such a packet. */
            if (++it->pad_run > IP6_MAX_PAD_RUN)
                return opt_fail(it, -NS_WIRE_BAD_PADDING);
            it->off++;
            continue;
        }
        /* RFC 8200 §4.2: type, data length (not counting type and
         * length), data. One running past the header is malformed. */
        if (left < 2)
            return opt_fail(it, -NS_WIRE_BAD_OPTION);
        size_t olen = 2 + (size_t)p[1];
        if (olen > left)
            return opt_fail(it, -NS_WIRE_BAD_OPTION);
        if (p[0] == NS_IP6_OPT_PADN) {
            it->pad_run += (unsigned)olen;
            if (it->pad_run > IP6_MAX_PAD_RUN)
                return opt_fail(it, -NS_WIRE_BAD_PADDING);
            /* RFC 4942 §2.1.9.5: a receiver should check that PadN's data
             * is zero (Linux does). */
            for (size_t i = 2; i < olen; i++)
                if (p[i] != 0)
                    return opt_fail(it, -NS_WIRE_BAD_PADDING);
            it->off += olen;
            continue;
        }
        /* Linux max_hbh_opts_cnt / max_dst_opts_cnt: a bound on the work
         * one header can ask for. */
        if (++it->count > NS_IP6_MAX_OPTS)
            return opt_fail(it, -NS_WIRE_OPT_LIMIT);
        it->pad_run = 0;
        o->type = p[0];
        o->len = p[1];
        o->data = p + 2;
        o->ptr = it->base + (uint32_t)it->off;
        it->off += olen;
        return 1;
    }
    return 0;
}

int ns_ip6_opts_process(const uint8_t *hdr, size_t len, uint32_t base, bool hbh,
                        bool dst_multicast, struct ns_ip6_opts_result *r)
{
    struct ns_ip6_opt_iter it;
    struct ns_ip6_opt o;
    int rc;

    memset(r, 0, sizeof(*r));
    ns_ip6_opt_iter_init(&it, hdr, len, base);
    while ((rc = ns_ip6_opt_next(&it, &o)) == 1) {
        if (hbh && o.type == NS_IP6_OPT_ROUTER_ALERT) {
            /* RFC 2711 §2.1: length 2, a 16-bit value. Linux ipv6_hop_ra
             * drops the packet otherwise. A repeated one: the last wins. */
            if (o.len != 2)
                return -NS_WIRE_BAD_OPTION;
            r->router_alert = true;
            r->ra_value = ns_rd16(o.data);
            continue;
        }
        /* Everything else is unrecognised, the Jumbo Payload option too:
         * we do not support jumbograms, and RFC 8200 §4.2 says what a node
         * that does not know an option does with it, by its type's two
         * high bits (0xc2: 11). Counted apart, as it is a known kind. */
        enum ns_ip6_opt_action act = ns_ip6_opt_action(o.type);
        int err = (hbh && o.type == NS_IP6_OPT_JUMBO) ? -NS_WIRE_JUMBO : -NS_WIRE_OPT_DISCARD;
        if (act == NS_IP6_OPT_SKIP)
            continue; /* 00: skip over it and go on */
        /* 10: Parameter Problem code 2 whatever the destination; 11: only
         * if it is not multicast; 01: discard silently. */
        if (act == NS_IP6_OPT_DISCARD_ICMP ||
            (act == NS_IP6_OPT_DISCARD_ICMP_UNICAST && !dst_multicast)) {
            r->send_icmp = true;
            r->icmp_ptr = o.ptr; /* RFC 8200 §4.2: points at the option type */
        }
        return err;
    }
    return rc;
}

size_t ns_ip6_pad_emit(uint8_t *buf, size_t n)
{
    assert(n <= 257);
    if (n == 0)
        return 0;
    if (n == 1) {
        buf[0] = NS_IP6_OPT_PAD1;
        return 1;
    }
    buf[0] = NS_IP6_OPT_PADN;
    buf[1] = (uint8_t)(n - 2);
    memset(buf + 2, 0, n - 2);
    return n;
}

void ns_ip6_hbh_ra_emit(uint8_t next_hdr, uint16_t ra_value, uint8_t *buf)
{
    /* RFC 8200 §4.3: next header, length 0 (8 bytes); RFC 2711 §2.1:
     * type 5, length 2, value; then 2 bytes of PadN to the 8-byte
     * boundary. The layout Linux sends MLD reports with. */
    buf[0] = next_hdr;
    buf[1] = 0;
    buf[2] = NS_IP6_OPT_ROUTER_ALERT;
    buf[3] = 2;
    ns_wr16(buf + 4, ra_value);
    ns_ip6_pad_emit(buf + 6, 2);
}

/* ---- the fixed header ----------------------------------------------------- */

/* A Jumbo Payload option in the Hop-by-Hop header at hbh (avail bytes of
 * it present, at most its length). */
static bool hbh_has_jumbo(const uint8_t *hbh, size_t avail)
{
    if (avail < 2)
        return false;
    size_t hlen = ((size_t)hbh[1] + 1) * 8;
    struct ns_ip6_opt_iter it;
    struct ns_ip6_opt o;
    ns_ip6_opt_iter_init(&it, hbh, hlen < avail ? hlen : avail, NS_IP6_HLEN);
    while (ns_ip6_opt_next(&it, &o) == 1)
        if (o.type == NS_IP6_OPT_JUMBO)
            return true;
    return false;
}

int ns_ip6_parse(const uint8_t *buf, size_t len, struct ns_ip6_repr *r)
{
    if (len < NS_IP6_HLEN)
        return -NS_WIRE_TRUNCATED;
    /* RFC 8200 §3: version 6. Linux ip6_rcv_core drops anything else. */
    if ((buf[0] >> 4) != 6)
        return -NS_WIRE_BAD_VERSION;
    uint16_t payload_len = ns_rd16(buf + 4);
    /* RFC 2675 §3: a jumbogram has payload length 0 and a Jumbo Payload
     * option in a Hop-by-Hop header. We do not take them (no link here
     * carries 64 KiB frames); said apart from a plain length error. */
    if (payload_len == 0 && buf[6] == NS_IP6_NH_HOPOPTS &&
        hbh_has_jumbo(buf + NS_IP6_HLEN, len - NS_IP6_HLEN))
        return -NS_WIRE_JUMBO;
    /* RFC 8200 §3: payload length counts everything after the fixed
     * header. Bytes beyond it (Ethernet padding) are not the packet's. */
    if (payload_len > len - NS_IP6_HLEN)
        return -NS_WIRE_BAD_LEN;

    r->tclass = (uint8_t)((buf[0] << 4) | (buf[1] >> 4));
    r->flow = ((uint32_t)(buf[1] & 0x0f) << 16) | ns_rd16(buf + 2);
    r->payload_len = payload_len;
    r->next_hdr = buf[6];
    r->hop_limit = buf[7];
    memcpy(r->src.b, buf + 8, NS_IP6_ALEN);
    memcpy(r->dst.b, buf + 24, NS_IP6_ALEN);
    return 0;
}

void ns_ip6_emit(const struct ns_ip6_repr *r, uint8_t *buf)
{
    buf[0] = (uint8_t)(0x60 | (r->tclass >> 4));
    buf[1] = (uint8_t)((r->tclass << 4) | ((r->flow >> 16) & 0x0f));
    ns_wr16(buf + 2, (uint16_t)r->flow);
    ns_wr16(buf + 4, r->payload_len);
    buf[6] = r->next_hdr;
    buf[7] = r->hop_limit;
    memcpy(buf + 8, r->src.b, NS_IP6_ALEN);
    memcpy(buf + 24, r->dst.b, NS_IP6_ALEN);
}

int ns_ip6_check_addrs(const struct ns_ip6_repr *r)
{
    /* RFC 4291 §2.7: "Multicast addresses must not be used as source
     * addresses in IPv6 packets" (Linux ip6_rcv_core drops them). */
    if (ns_ip6_is_multicast(&r->src))
        return -NS_WIRE_BAD_SRC;
    /* RFC 4291 §2.7: a packet to a multicast address of the reserved
     * scope 0 must be silently dropped (Linux ip6_rcv_core). */
    if (ns_ip6_is_multicast(&r->dst) && ns_ip6_mcast_scope(&r->dst) == 0)
        return -NS_WIRE_BAD_DST;
    return 0;
}

/* ---- upper-layer checksum (RFC 8200 §8.1) ---------------------------------- */

uint16_t ns_ip6_upper_csum(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                           uint8_t next_header, const uint8_t *data, size_t len)
{
    assert(len <= UINT32_MAX);
    return ns_csum_fold(
        ns_csum_add(ns_csum_pseudo6(src, dst, (uint32_t)len, next_header), data, len));
}

/* ---- Fragment header (RFC 8200 §4.5) --------------------------------------- */

int ns_ip6_frag_parse(const uint8_t *buf, size_t len, struct ns_ip6_frag_repr *r)
{
    if (len < NS_IP6_FRAG_HLEN)
        return -NS_WIRE_TRUNCATED;
    /* 0 next header  1 reserved  2 offset (13 bits, 8-byte units) |
     * res (2) | M  4 identification. Reserved bits: ignored on receipt. */
    uint16_t off_flags = ns_rd16(buf + 2);
    r->next_hdr = buf[0];
    r->offset = (uint16_t)(off_flags & NS_IP6_FRAG_OFFMASK);
    r->mf = (off_flags & NS_IP6_FRAG_MF) != 0;
    r->id = ns_rd32(buf + 4);
    return 0;
}

void ns_ip6_frag_emit(const struct ns_ip6_frag_repr *r, uint8_t *buf)
{
    assert(r->offset % 8 == 0);
    buf[0] = r->next_hdr;
    buf[1] = 0;
    ns_wr16(buf + 2, (uint16_t)(r->offset | (r->mf ? NS_IP6_FRAG_MF : 0)));
    ns_wr32(buf + 4, r->id);
}

size_t ns_ip6_upper_min_len(uint8_t proto)
{
    /* Linux ipv6frag_thdr_truncated: the fixed headers of the common
     * protocols, a byte of anything else. */
    switch (proto) {
    case NS_IPPROTO_TCP: return NS_TCP_HLEN;
    case NS_IPPROTO_UDP: return NS_UDP_HLEN;
    case NS_IPPROTO_ICMPV6: return NS_ICMP6_HLEN;
    default: return 1;
    }
}

int ns_ip6_frag_check(const struct ns_ip6_ext_info *w, size_t pkt_len, uint32_t *ptr)
{
    if (!w->fragment)
        return 0;
    size_t data_off = (size_t)w->frag_off + NS_IP6_FRAG_HLEN;
    if (pkt_len < data_off)
        return -NS_WIRE_TRUNCATED;
    size_t data_len = pkt_len - data_off;
    /* RFC 8200 §4.5 (RFC 7112 §5): a first fragment must hold every header
     * through the upper-layer one: Parameter Problem code 3, pointer 0.
     * Checked first, as Linux ipv6_frag_rcv does. */
    if (w->frag.offset == 0 && (size_t)w->upper_off + ns_ip6_upper_min_len(w->upper) > pkt_len) {
        *ptr = 0;
        return -NS_WIRE_FRAG_INCOMPLETE;
    }
    /* RFC 8200 §4.5: a fragment that would put the reassembled payload
     * beyond 65535 bytes: code 0 pointing at its Fragment Offset field.
     * Like Linux ip6_frag_queue, offset + data length of this fragment. */
    if ((size_t)w->frag.offset + data_len > NS_IP6_MAX_PAYLOAD) {
        *ptr = w->frag_off + 2;
        return -NS_WIRE_FRAG_TOO_BIG;
    }
    /* RFC 8200 §4.5: with M set, the length must be a multiple of 8:
     * code 0 pointing at the Payload Length field. */
    if (w->frag.mf && data_len % 8 != 0) {
        *ptr = 4;
        return -NS_WIRE_FRAG_LEN;
    }
    return 0;
}

/* ---- the walker -------------------------------------------------------------- */

static bool ext_walked(uint8_t nh)
{
    return nh == NS_IP6_NH_HOPOPTS || nh == NS_IP6_NH_ROUTING || nh == NS_IP6_NH_FRAGMENT ||
           nh == NS_IP6_NH_DSTOPTS;
}

int ns_ip6_ext_walk(const uint8_t *pkt, size_t len, struct ns_ip6_ext_info *w)
{
    memset(w, 0, sizeof(*w));
    if (len < NS_IP6_HLEN)
        return -NS_WIRE_TRUNCATED;
    if (len > IP6_MAX_PKT)
        len = IP6_MAX_PKT;

    size_t off = NS_IP6_HLEN; /* the header being looked at */
    size_t nh_off = 6;        /* the Next Header field that named it */
    uint8_t nh = pkt[6];
    bool first_frag = false;  /* inside the first fragment of a packet */

    while (ext_walked(nh)) {
        /* RFC 8200 §4.3: the Hop-by-Hop header "must immediately follow
         * the IPv6 header". Anywhere else Linux has no handler for next
         * header 0 and answers as for an unrecognised one (code 1). */
        if (nh == NS_IP6_NH_HOPOPTS && off != NS_IP6_HLEN) {
            w->err_ptr = (uint32_t)nh_off;
            return -NS_WIRE_EXT_ORDER;
        }
        if (w->n_ext == NS_IP6_MAX_EXT)
            return -NS_WIRE_EXT_LIMIT;
        size_t hlen;
        if (nh == NS_IP6_NH_FRAGMENT) {
            hlen = NS_IP6_FRAG_HLEN; /* RFC 8200 §4.5: no length field */
        } else {
            if (len - off < 2)
                goto truncated;
            hlen = ((size_t)pkt[off + 1] + 1) * 8; /* RFC 8200 §4.3, §4.4, §4.6 */
        }
        if (hlen > len - off)
            goto truncated;

        struct ns_ip6_ext *e = &w->ext[w->n_ext++];
        e->type = nh;
        e->off = (uint32_t)off;
        e->len = (uint16_t)hlen;

        if (nh == NS_IP6_NH_ROUTING && !w->has_rt) {
            /* RFC 8200 §4.4: 2 routing type, 3 segments left. What to do
             * with them (RFC 5095: never act on type 0) is the caller's. */
            w->has_rt = true;
            w->rt_off = (uint32_t)off;
            w->rt_type = pkt[off + 2];
            w->rt_segleft = pkt[off + 3];
        } else if (nh == NS_IP6_NH_FRAGMENT) {
            struct ns_ip6_frag_repr f;
            ns_ip6_frag_parse(pkt + off, hlen, &f);
            /* The first real fragment header is the one reassembly is
             * about; headers after it belong to the fragmentable part (an
             * atomic fragment before it is only recorded). */
            if (!w->fragment) {
                w->has_frag = true;
                w->frag_off = (uint32_t)off;
                w->frag_nh_off = (uint32_t)nh_off;
                w->frag = f;
                w->fragment = !ns_ip6_frag_is_atomic(&f);
                if (w->fragment && f.offset != 0) {
                    /* RFC 8200 §4.5: past a non-first fragment's header
                     * is data, not headers. */
                    w->upper = f.next_hdr;
                    w->upper_off = (uint32_t)(off + hlen);
                    w->upper_nh_off = (uint32_t)off;
                    return 0;
                }
                if (w->fragment)
                    first_frag = true;
            }
        }
        nh_off = off; /* every extension header starts with its Next Header */
        nh = pkt[off];
        off += hlen;
    }
    w->upper = nh;
    w->upper_off = (uint32_t)off;
    w->upper_nh_off = (uint32_t)nh_off;
    return 0;

truncated:
    /* RFC 8200 §4.5 (RFC 7112): a first fragment whose header chain does
     * not end inside it is an error of its own (code 3). */
    return first_frag ? -NS_WIRE_FRAG_INCOMPLETE : -NS_WIRE_TRUNCATED;
}
