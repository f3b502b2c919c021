/* wire/tcp.c — TCP header and options parse/emit, TCP checksum. See wire.h.
 *
 * Read before touching: RFC 9293 §3.1 (header format, data offset,
 * pseudo-header checksum), §3.2 (option format: EOL, NOP, MSS; options
 * accepted in any segment (MUST-4), unknown kinds ignored (MUST-5), illegal
 * option lengths handled (MUST-7)), §3.7.1 (the MSS option);
 * RFC 7323 §2 (window scale, the limit of 14 in §2.3) and §3 (timestamps),
 * Appendix A (the NOP-padded layout); RFC 2018 §2-§3 (SACK-permitted, SACK
 * blocks); RFC 3168 §6.1 (ECE and CWR). Linux net/ipv4/tcp_input.c
 * tcp_parse_options() and tcp_output.c tcp_options_write() for what the
 * peers we talk to actually do.
 *
 * Layout (RFC 9293 §3.1):
 *   0 source port  2 destination port  4 sequence number  8 ack number
 *   12 data offset (4 bits) | reserved (4 bits)  13 control bits
 *   14 window  16 checksum  18 urgent pointer  20 options (doff*4 - 20 bytes) */
#include "wire/wire.h"

#include <assert.h>
#include <string.h>

#include "wire/bytes.h"

/* Option kinds (RFC 9293 §3.2, RFC 7323, RFC 2018) and their lengths. */
#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2
#define TCP_OPT_WSCALE 3
#define TCP_OPT_SACK_PERM 4
#define TCP_OPT_SACK 5
#define TCP_OPT_TS 8

#define TCP_OLEN_MSS 4
#define TCP_OLEN_WSCALE 3
#define TCP_OLEN_SACK_PERM 2
#define TCP_OLEN_TS 10
#define TCP_OLEN_SACK_BASE 2     /* kind + length before the blocks */
#define TCP_OLEN_SACK_PERBLOCK 8 /* left, right edge */

#define TCP_MAX_OPTS (NS_TCP_MAX_HLEN - NS_TCP_HLEN) /* 40 bytes */
#define TCP_MAX_WSCALE 14                            /* RFC 7323 §2.3 */

/* Apply one option of a known kind whose length octet is optlen (>= 2,
 * and the whole option lies inside the header). A wrong length means the
 * option is not applied (Linux does the same); parsing goes on. */
static void tcp_apply_opt(const uint8_t *opt, size_t optlen, struct ns_tcp_repr *r)
{
    switch (opt[0]) {
    case TCP_OPT_MSS: /* RFC 9293 §3.2: kind 2, length 4, 16-bit MSS. */
        if (optlen == TCP_OLEN_MSS) {
            r->has_mss = true;
            r->mss = ns_rd16(opt + 2);
        }
        break;
    case TCP_OPT_WSCALE: /* RFC 7323 §2.2: kind 3, length 3, shift count. */
        if (optlen == TCP_OLEN_WSCALE) {
            r->has_wscale = true;
            /* RFC 7323 §2.3: a shift count above 14 SHOULD be logged
             * (the TCP layer may do that) but MUST be used as 14. */
            r->wscale = opt[2] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : opt[2];
        }
        break;
    case TCP_OPT_SACK_PERM: /* RFC 2018 §2: kind 4, length 2. */
        if (optlen == TCP_OLEN_SACK_PERM)
            r->sack_ok = true;
        break;
    case TCP_OPT_SACK: /* RFC 2018 §3: kind 5, length 2 + 8n, n >= 1. */
        if (optlen >= TCP_OLEN_SACK_BASE + TCP_OLEN_SACK_PERBLOCK &&
            (optlen - TCP_OLEN_SACK_BASE) % TCP_OLEN_SACK_PERBLOCK == 0) {
            size_t n = (optlen - TCP_OLEN_SACK_BASE) / TCP_OLEN_SACK_PERBLOCK;
            /* 40 bytes of options hold at most 4 blocks; keep the bound
             * explicit so the array can never overflow. */
            if (n > NS_TCP_MAX_SACK)
                n = NS_TCP_MAX_SACK;
            for (size_t i = 0; i < n; i++) {
                const uint8_t *b = opt + TCP_OLEN_SACK_BASE + i * TCP_OLEN_SACK_PERBLOCK;
                r->sack[i].left = ns_rd32(b);
                r->sack[i].right = ns_rd32(b + 4);
            }
            r->n_sack = (uint8_t)n;
        }
        break;
    case TCP_OPT_TS: /* RFC 7323 §3.2: kind 8, length 10, TSval, TSecr. */
        if (optlen == TCP_OLEN_TS) {
            r->has_ts = true;
            r->ts_val = ns_rd32(opt + 2);
            r->ts_ecr = ns_rd32(opt + 6);
        }
        break;
    default:
        /* RFC 9293 §3.2: unknown options are skipped by their length
         * (the caller does that). */
        break;
    }
}

/* Walk the options area opts[0..olen). */
static void tcp_parse_opts(const uint8_t *opts, size_t olen, struct ns_tcp_repr *r)
{
    size_t i = 0;

    while (i < olen) {
        uint8_t kind = opts[i];
        /* RFC 9293 §3.2: EOL ends the list; NOP is a single octet. */
        if (kind == TCP_OPT_EOL)
            break;
        if (kind == TCP_OPT_NOP) {
            i++;
            continue;
        }
        /* RFC 9293 §3.2: every other option is kind, length (counting
         * kind and length octets), data. A missing length octet, a length
         * < 2 (which would never advance) or one running past the header
         * cannot be skipped reliably: stop here. RFC 9293 §3.2 (MUST-7):
         * an implementation MUST be prepared to handle an illegal option
         * length; it suggests resetting the connection, but Linux
         * tcp_parse_options stops the same way and keeps the segment, and
         * so do we (what was parsed before stays applied). */
        if (olen - i < 2)
            break;
        size_t optlen = opts[i + 1];
        if (optlen < 2 || optlen > olen - i)
            break;
        tcp_apply_opt(opts + i, optlen, r);
        i += optlen;
    }
}

int ns_tcp_parse(const uint8_t *buf, size_t len, struct ns_tcp_repr *r)
{
    if (len < NS_TCP_HLEN)
        return -NS_WIRE_TRUNCATED;
    /* RFC 9293 §3.1: data offset in 32-bit words; the fixed header alone
     * is 5 words. */
    size_t hlen = (size_t)(buf[12] >> 4) * 4;
    if (hlen < NS_TCP_HLEN || hlen > len)
        return -NS_WIRE_BAD_HLEN;

    memset(r, 0, sizeof(*r));
    r->sport = ns_rd16(buf);
    r->dport = ns_rd16(buf + 2);
    r->seq = ns_rd32(buf + 4);
    r->ack = ns_rd32(buf + 8);
    r->hlen = (uint8_t)hlen;
    /* RFC 9293 §3.1 "Rsrvd": the low 4 bits of byte 12 are zero when
     * sent and ignored on receipt. Byte 13 holds the 8 control bits, CWR
     * and ECE included (RFC 3168 §6.1). */
    r->flags = buf[13];
    r->win = ns_rd16(buf + 14);
    r->csum = ns_rd16(buf + 16);
    r->urp = ns_rd16(buf + 18);
    tcp_parse_opts(buf + NS_TCP_HLEN, hlen - NS_TCP_HLEN, r);
    return 0;
}

/* The SACK blocks emit will write: r->n_sack capped by what fits in the
 * 40 option bytes beside the other options (RFC 2018 §3: "the SACK option
 * SHOULD be filled out ... as many blocks as space allows"). */
static size_t tcp_sack_blocks(const struct ns_tcp_repr *r, size_t other_len)
{
    size_t n = r->n_sack < NS_TCP_MAX_SACK ? r->n_sack : NS_TCP_MAX_SACK;
    /* [NOP][NOP][kind][len] then 8 bytes a block. */
    size_t room = TCP_MAX_OPTS - other_len;
    size_t fit = room >= 4 ? (room - 4) / TCP_OLEN_SACK_PERBLOCK : 0;
    return n < fit ? n : fit;
}

/* Options without SACK blocks, as emitted: at most 4 + 12 + 4 = 20. */
static size_t tcp_opts_len_nosack(const struct ns_tcp_repr *r)
{
    size_t n = 0;
    if (r->has_mss)
        n += 4; /* [MSS] */
    if (r->has_ts)
        n += 12; /* [SACKOK][TS] or [NOP][NOP][TS] (RFC 7323 Appendix A) */
    else if (r->sack_ok)
        n += 4; /* [NOP][NOP][SACKOK] */
    if (r->has_wscale)
        n += 4; /* [NOP][WS] */
    return n;
}

size_t ns_tcp_opts_len(const struct ns_tcp_repr *r)
{
    size_t n = tcp_opts_len_nosack(r);
    size_t blocks = tcp_sack_blocks(r, n);
    if (blocks > 0)
        n += 4 + blocks * TCP_OLEN_SACK_PERBLOCK; /* [NOP][NOP][SACK] */
    return n;
}

void ns_tcp_emit(const struct ns_tcp_repr *r, uint8_t *buf)
{
    size_t olen_nosack = tcp_opts_len_nosack(r);
    size_t blocks = tcp_sack_blocks(r, olen_nosack);
    uint8_t *p = buf + NS_TCP_HLEN;

    /* Each option group is written as whole 32-bit words, NOP-padded in
     * front, so every group starts word-aligned (RFC 7323 Appendix A). */
    if (r->has_mss) {
        p[0] = TCP_OPT_MSS;
        p[1] = TCP_OLEN_MSS;
        ns_wr16(p + 2, r->mss);
        p += 4;
    }
    if (r->has_ts) {
        if (r->sack_ok) { /* SACK-permitted fills the 2 pad bytes. */
            p[0] = TCP_OPT_SACK_PERM;
            p[1] = TCP_OLEN_SACK_PERM;
        } else {
            p[0] = TCP_OPT_NOP;
            p[1] = TCP_OPT_NOP;
        }
        p[2] = TCP_OPT_TS;
        p[3] = TCP_OLEN_TS;
        ns_wr32(p + 4, r->ts_val);
        ns_wr32(p + 8, r->ts_ecr);
        p += 12;
    } else if (r->sack_ok) {
        p[0] = TCP_OPT_NOP;
        p[1] = TCP_OPT_NOP;
        p[2] = TCP_OPT_SACK_PERM;
        p[3] = TCP_OLEN_SACK_PERM;
        p += 4;
    }
    if (r->has_wscale) {
        p[0] = TCP_OPT_NOP;
        p[1] = TCP_OPT_WSCALE;
        p[2] = TCP_OLEN_WSCALE;
        p[3] = r->wscale;
        p += 4;
    }
    if (blocks > 0) {
        p[0] = TCP_OPT_NOP;
        p[1] = TCP_OPT_NOP;
        p[2] = TCP_OPT_SACK;
        p[3] = (uint8_t)(TCP_OLEN_SACK_BASE + blocks * TCP_OLEN_SACK_PERBLOCK);
        p += 4;
        for (size_t i = 0; i < blocks; i++) {
            ns_wr32(p, r->sack[i].left);
            ns_wr32(p + 4, r->sack[i].right);
            p += TCP_OLEN_SACK_PERBLOCK;
        }
    }

    size_t hlen = (size_t)(p - buf);
    assert(hlen == NS_TCP_HLEN + ns_tcp_opts_len(r));
    assert(hlen % 4 == 0 && hlen <= NS_TCP_MAX_HLEN);

    ns_wr16(buf, r->sport);
    ns_wr16(buf + 2, r->dport);
    ns_wr32(buf + 4, r->seq);
    ns_wr32(buf + 8, r->ack);
    buf[12] = (uint8_t)((hlen / 4) << 4); /* data offset; reserved bits zero */
    buf[13] = r->flags;
    ns_wr16(buf + 14, r->win);
    ns_wr16(buf + 16, r->csum);
    ns_wr16(buf + 18, r->urp);
}

uint16_t ns_tcp_csum(uint32_t src, uint32_t dst, const uint8_t *seg, size_t len)
{
    /* RFC 9293 §3.1: the checksum covers the pseudo-header (source,
     * destination, zero, protocol 6, TCP length) and the whole segment,
     * with the checksum field taken as zero. The TCP length is not in
     * the header, so it must fit the pseudo-header's 16 bits. */
    assert(len <= 0xffff);
    return ns_csum_fold(
        ns_csum_add(ns_csum_pseudo4(src, dst, NS_IPPROTO_TCP, (uint16_t)len), seg, len));
}

uint32_t ns_tcp_csum_begin(uint32_t src, uint32_t dst, const uint8_t *seg, size_t hlen,
                           size_t seg_len)
{
    assert(hlen % 2 == 0 && hlen <= seg_len && seg_len <= 0xffff);
    return ns_csum_add(ns_csum_pseudo4(src, dst, NS_IPPROTO_TCP, (uint16_t)seg_len), seg, hlen);
}

bool ns_tcp_csum_ok(uint32_t src, uint32_t dst, const uint8_t *seg, size_t len)
{
    /* A received segment with its checksum in place sums to -0. */
    return ns_tcp_csum(src, dst, seg, len) == 0;
}
