/* wire/ipv4.c — IPv4 header parse/emit, option copying for fragments,
 * dotted-quad formatting. See wire.h.
 *
 * Read before touching: RFC 791 §3.1 (header format, options, the
 * "copied" flag), §3.2 (fragmentation: which options go in every
 * fragment); RFC 1122 §3.2.1.1-§3.2.1.8 (what a host MUST check and may
 * ignore); RFC 6864 (the ID field); RFC 1071 (the header checksum).
 *
 * Layout (RFC 791 §3.1):
 *   0 version|IHL  1 TOS  2 total length  4 identification
 *   6 flags|fragment offset  8 TTL  9 protocol  10 header checksum
 *   12 source  16 destination  20 options (IHL*4 - 20 bytes) */
#include "wire/wire.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "wire/bytes.h"

#define IP4_FLAG_RESERVED 0x8000 /* RFC 791 §3.1 flags bit 0 */
#define IP4_OPT_EOL 0            /* RFC 791 §3.1 End of Option List */
#define IP4_OPT_NOP 1            /* RFC 791 §3.1 No Operation */
#define IP4_OPT_COPIED 0x80      /* RFC 791 §3.1 option-type bit 0 */

int ns_ip4_parse(const uint8_t *buf, size_t len, struct ns_ip4_repr *r, bool verify_csum)
{
    if (len < NS_IP4_HLEN)
        return -NS_WIRE_TRUNCATED;
    /* RFC 1122 §3.2.1.1: a datagram whose version is not 4 MUST be
     * silently discarded. */
    if ((buf[0] >> 4) != 4)
        return -NS_WIRE_BAD_VERSION;
    /* RFC 791 §3.1: IHL is in 32-bit words, minimum 5. */
    size_t hlen = (size_t)(buf[0] & 0x0f) * 4;
    if (hlen < NS_IP4_HLEN || hlen > len)
        return -NS_WIRE_BAD_HLEN;
    /* RFC 791 §3.1: total length covers header and data. Bytes beyond it
     * (Ethernet padding) are not part of the datagram. */
    uint16_t total_len = ns_rd16(buf + 2);
    if (total_len < hlen || total_len > len)
        return -NS_WIRE_BAD_LEN;
    /* RFC 1122 §3.2.1.2: a host MUST verify the header checksum and
     * silently discard a datagram whose checksum is wrong. A correct header
     * sums to -0 (RFC 1071 §1(3)). */
    if (verify_csum && ns_csum(buf, hlen) != 0)
        return -NS_WIRE_BAD_CSUM;

    uint16_t flags_frag = ns_rd16(buf + 6);
    r->hlen = (uint8_t)hlen;
    r->tos = buf[1];
    r->total_len = total_len;
    r->id = ns_rd16(buf + 4);
    /* The reserved flag (RFC 791 §3.1 "must be zero") is ignored on
     * receipt, as RFC 1122 §1.2.2 (be liberal) suggests. */
    r->df = (flags_frag & NS_IP4_DF) != 0;
    r->mf = (flags_frag & NS_IP4_MF) != 0;
    /* RFC 791 §3.1: fragment offset in units of 8 octets. */
    r->frag_off = (uint16_t)((flags_frag & NS_IP4_OFFMASK) * 8u);
    r->ttl = buf[8];
    r->proto = buf[9];
    r->src = ns_rd32(buf + 12);
    r->dst = ns_rd32(buf + 16);
    return 0;
}

void ns_ip4_emit(const struct ns_ip4_repr *r, uint8_t *buf)
{
    assert(r->hlen >= NS_IP4_HLEN && r->hlen <= NS_IP4_MAX_HLEN && r->hlen % 4 == 0);
    assert(r->frag_off % 8 == 0 && r->frag_off / 8 <= NS_IP4_OFFMASK);
    assert(r->total_len >= r->hlen);

    buf[0] = (uint8_t)(0x40 | (r->hlen / 4)); /* version 4, IHL */
    buf[1] = r->tos;
    ns_wr16(buf + 2, r->total_len);
    ns_wr16(buf + 4, r->id);
    uint16_t flags_frag = (uint16_t)(r->frag_off / 8);
    if (r->df)
        flags_frag |= NS_IP4_DF;
    if (r->mf)
        flags_frag |= NS_IP4_MF;
    ns_wr16(buf + 6, flags_frag); /* reserved bit 0: RFC 791 §3.1 */
    buf[8] = r->ttl;
    buf[9] = r->proto;
    ns_wr16(buf + 10, 0);
    ns_wr32(buf + 12, r->src);
    ns_wr32(buf + 16, r->dst);
    /* RFC 791 §3.1: the checksum covers the header only, options included,
     * computed with the checksum field zero. */
    ns_wr16(buf + 10, ns_csum(buf, r->hlen));
}

size_t ns_ip4_opts_copied(const uint8_t *opts, size_t olen, uint8_t *out)
{
    size_t n = 0;
    size_t i = 0;

    while (i < olen) {
        uint8_t type = opts[i];
        /* RFC 791 §3.1: EOL ends the options; NOP is a single octet. Both
         * have the copied flag clear, so neither is copied. */
        if (type == IP4_OPT_EOL)
            break;
        if (type == IP4_OPT_NOP) {
            i++;
            continue;
        }
        /* RFC 791 §3.1: every other option is type, length (counting
         * type and length octets), data. A missing length octet, a length
         * < 2 (which would never advance), or one running past the area is
         * malformed: stop there, never reading past olen. */
        if (olen - i < 2)
            break;
        size_t optlen = opts[i + 1];
        if (optlen < 2 || optlen > olen - i)
            break;
        /* RFC 791 §3.2: options with the copied flag go into every
         * fragment; the others only into the first. */
        if (type & IP4_OPT_COPIED) {
            memcpy(out + n, opts + i, optlen);
            n += optlen;
        }
        i += optlen;
    }
    /* RFC 791 §3.1: the header is padded to a 32-bit boundary; pad with
     * EOL (zero). n <= olen here; never write past olen (olen from a real
     * header is a multiple of 4, so this does not cut the padding short). */
    while (n % 4 != 0 && n < olen)
        out[n++] = IP4_OPT_EOL;
    return n;
}

const char *ns_ip4_ntoa(uint32_t addr, char buf[16])
{
    snprintf(buf, 16, "%u.%u.%u.%u", (unsigned)(addr >> 24), (unsigned)((addr >> 16) & 0xff),
             (unsigned)((addr >> 8) & 0xff), (unsigned)(addr & 0xff));
    return buf;
}
