/* base/addr.c — the address type's helpers that are not inline: text
 * form and the pseudo-header checksum by family. See addr.h. */
#include "base/addr.h"

#include <stdio.h>

#include "base/siphash.h"
#include "wire/ipv6.h"

const char *ns_addr_ntop(const struct ns_addr *a, char buf[48])
{
    if (a->family == AF_INET)
        return ns_ip4_ntoa(ns_addr_to_ip4(a), buf);
    if (a->family == AF_INET6)
        return ns_ip6_ntoa(&a->u.ip6, buf);
    snprintf(buf, 48, "(none)");
    return buf;
}

uint32_t ns_csum_pseudo(const struct ns_addr *src, const struct ns_addr *dst, uint8_t proto,
                        uint32_t len)
{
    if (src->family == AF_INET6)
        return ns_csum_pseudo6(&src->u.ip6, &dst->u.ip6, len, proto);
    return ns_csum_pseudo4(ns_addr_to_ip4(src), ns_addr_to_ip4(dst), proto, (uint16_t)len);
}

/* The address as two big-endian words (IPv6 form). */
static void addr_words(const struct ns_addr *a, uint64_t *w)
{
    w[0] = (uint64_t)ntohl(a->u.w[0]) << 32 | ntohl(a->u.w[1]);
    w[1] = (uint64_t)ntohl(a->u.w[2]) << 32 | ntohl(a->u.w[3]);
}

uint64_t ns_flow_hash(const struct ns_sipkey *key, const struct ns_flow *f)
{
    /* 6 bytes after the addresses: both ports and the protocol's low byte. */
    uint64_t tail = (uint64_t)f->lport << 32 | (uint64_t)f->rport << 16 | (f->proto & 0xffu);
    if (f->local.family == AF_INET) {
        uint64_t w = (uint64_t)ns_addr_to_ip4(&f->local) << 32 | ns_addr_to_ip4(&f->remote);
        return ns_siphash_words(key, &w, 1, tail, 6);
    }
    uint64_t w[4];
    addr_words(&f->local, w);
    addr_words(&f->remote, w + 2);
    return ns_siphash_words(key, w, 4, tail, 6);
}
