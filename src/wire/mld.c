/* wire/mld.c — MLD queries (v1 and v2) and MLDv2 reports. See wire/ipv6.h.
 *
 * Read before touching: RFC 2710 §3 (the MLDv1 message), RFC 3810 §5.1
 * (Query: §5.1.3 Maximum Response Code, §5.1.7-§5.1.9 S, QRV, QQIC),
 * §5.2 (Version 2 Multicast Listener Report and its address records),
 * §6.2 (what a listener checks in a query), §8.1 (telling v1 from v2 by
 * length). Linux net/ipv6/mcast.c igmp6_event_query, mld_newpack and
 * add_grhead for what the kernel sends.
 *
 * Layout after the ICMPv6 type, code, checksum (bytes 0-3):
 *   v1 message  4 maximum response delay  6 reserved  8 multicast address
 *   v2 query    4 maximum response code  6 reserved  8 multicast address
 *               24 resv|S|QRV  25 QQIC  26 number of sources  28 sources
 *   v2 report   4 reserved  6 number of records  8 records:
 *               0 type  1 aux data len  2 number of sources  4 address
 *               20 sources  then aux data (aux data len * 4 bytes) */
#include "wire/ipv6.h"

#include <string.h>

#include "wire/bytes.h"

uint32_t ns_mld2_decode_mrc(uint16_t code)
{
    /* RFC 3810 §5.1.3: below 32768 the value itself; otherwise
     * 1|exp(3)|mant(12) meaning (mant | 0x1000) << (exp + 3). */
    if (code < 0x8000)
        return code;
    uint32_t exp = (code >> 12) & 0x7, mant = code & 0x0fff;
    return (mant | 0x1000) << (exp + 3);
}

uint32_t ns_mld2_decode_qqic(uint8_t code)
{
    /* RFC 3810 §5.1.9: below 128 the value itself; otherwise
     * 1|exp(3)|mant(4) meaning (mant | 0x10) << (exp + 3). */
    if (code < 0x80)
        return code;
    uint32_t exp = (code >> 4) & 0x7, mant = code & 0x0f;
    return (mant | 0x10) << (exp + 3);
}

int ns_mld_query_parse(const struct ns_ip6_repr *ip, bool has_ra_mld, const uint8_t *buf,
                       size_t len, struct ns_mld_query *q)
{
    if (len < NS_ICMP6_HLEN)
        return -NS_WIRE_TRUNCATED;
    if (buf[0] != NS_ICMP6_MLD_QUERY)
        return -NS_WIRE_UNSUPPORTED;
    /* RFC 3810 §6.2: "the node checks if the source address of the
     * message is a valid link-local address, if the Hop Limit is set to 1,
     * and if the Router Alert option is present"; any failing: drop.
     * Checked before the length, in Linux igmp6_event_query's order. */
    if (!ns_ip6_is_link_local(&ip->src))
        return -NS_WIRE_BAD_SRC;
    if (ip->hop_limit != NS_MLD_HOP_LIMIT)
        return -NS_WIRE_BAD_HOPLIMIT;
    if (!has_ra_mld)
        return -NS_WIRE_NO_ROUTER_ALERT;

    /* RFC 3810 §8.1: 24 bytes is MLDv1, 28 or more MLDv2; "Query messages
     * that do not match any of the above conditions (e.g., a Query of
     * length 26 octets) MUST be silently ignored." */
    if (len != NS_MLD1_LEN && len < NS_MLD2_QUERY_MIN_LEN)
        return -NS_WIRE_BAD_LEN;
    memset(q, 0, sizeof(*q));
    memcpy(q->group.b, buf + 8, NS_IP6_ALEN);
    if (len == NS_MLD1_LEN) {
        /* RFC 2710 §3.4: the delay in milliseconds. */
        q->version = 1;
        q->max_resp_ms = ns_rd16(buf + 4);
        return 0;
    }
    q->version = 2;
    q->max_resp_ms = ns_mld2_decode_mrc(ns_rd16(buf + 4));
    q->suppress = (buf[24] & 0x08) != 0;
    q->qrv = buf[24] & 0x07;
    q->qqi_s = ns_mld2_decode_qqic(buf[25]);
    q->n_src = ns_rd16(buf + 26);
    if ((size_t)q->n_src * NS_IP6_ALEN > len - NS_MLD2_QUERY_MIN_LEN)
        return -NS_WIRE_TRUNCATED;
    q->srcs = buf + NS_MLD2_QUERY_MIN_LEN;
    return 0;
}

size_t ns_mld2_report_len(const struct ns_mld2_record *recs, size_t n)
{
    size_t len = NS_MLD2_REPORT_HLEN;
    for (size_t i = 0; i < n; i++)
        len += NS_MLD2_RECORD_HLEN + (size_t)recs[i].n_src * NS_IP6_ALEN;
    return len;
}

size_t ns_mld2_report_emit(const struct ns_ip6_addr *src, const struct ns_ip6_addr *dst,
                           const struct ns_mld2_record *recs, size_t n, uint8_t *buf)
{
    buf[0] = NS_ICMP6_MLD2_REPORT;
    buf[1] = 0;
    ns_wr16(buf + 2, 0);
    ns_wr16(buf + 4, 0);
    ns_wr16(buf + 6, (uint16_t)n);
    uint8_t *p = buf + NS_MLD2_REPORT_HLEN;
    for (size_t i = 0; i < n; i++) {
        p[0] = recs[i].type;
        p[1] = 0; /* RFC 3810 §5.2.6: no auxiliary data */
        ns_wr16(p + 2, recs[i].n_src);
        memcpy(p + 4, recs[i].group.b, NS_IP6_ALEN);
        p += NS_MLD2_RECORD_HLEN;
        for (size_t s = 0; s < recs[i].n_src; s++) {
            memcpy(p, recs[i].srcs[s].b, NS_IP6_ALEN);
            p += NS_IP6_ALEN;
        }
    }
    size_t len = (size_t)(p - buf);
    ns_wr16(buf + 2, ns_icmp6_csum(src, dst, buf, len));
    return len;
}

/* Bytes of the record at p (left bytes available), 0 if it runs past. */
static size_t mld2_record_len(const uint8_t *p, size_t left)
{
    if (left < NS_MLD2_RECORD_HLEN)
        return 0;
    size_t n = NS_MLD2_RECORD_HLEN + (size_t)ns_rd16(p + 2) * NS_IP6_ALEN + (size_t)p[1] * 4;
    return n <= left ? n : 0;
}

int ns_mld2_report_parse(const uint8_t *buf, size_t len, struct ns_mld2_report *r)
{
    if (len < NS_MLD2_REPORT_HLEN)
        return -NS_WIRE_TRUNCATED;
    if (buf[0] != NS_ICMP6_MLD2_REPORT)
        return -NS_WIRE_UNSUPPORTED;
    uint16_t n_rec = ns_rd16(buf + 6);
    const uint8_t *p = buf + NS_MLD2_REPORT_HLEN;
    size_t left = len - NS_MLD2_REPORT_HLEN;
    /* RFC 3810 §5.2.3-§5.2.6: each record is 20 bytes, its sources and
     * its auxiliary data; every one must lie inside the message. */
    for (uint16_t i = 0; i < n_rec; i++) {
        size_t rl = mld2_record_len(p, left);
        if (rl == 0)
            return -NS_WIRE_TRUNCATED;
        p += rl;
        left -= rl;
    }
    r->n_rec = n_rec;
    r->p = buf + NS_MLD2_REPORT_HLEN;
    r->left = len - NS_MLD2_REPORT_HLEN;
    r->done = 0;
    return 0;
}

int ns_mld2_report_next(struct ns_mld2_report *r, struct ns_mld2_record *rec)
{
    if (r->done == r->n_rec)
        return 0;
    size_t rl = mld2_record_len(r->p, r->left); /* validated by parse */
    if (rl == 0)
        return 0;
    rec->type = r->p[0];
    rec->aux_len = r->p[1];
    rec->n_src = ns_rd16(r->p + 2);
    memcpy(rec->group.b, r->p + 4, NS_IP6_ALEN);
    rec->srcs = NULL;
    rec->src_bytes = r->p + NS_MLD2_RECORD_HLEN;
    r->p += rl;
    r->left -= rl;
    r->done++;
    return 1;
}
