/* base/addr.c — the address type's helpers that are not inline: text
 * form and the pseudo-header checksum by family. See addr.h. */
#include "base/addr.h"

#include <stdio.h>

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
