/* wire/ip6addr.c — IPv6 address helpers. See wire/ipv6.h.
 *
 * Read before touching: RFC 4291 §2.2 (text), §2.4 (types), §2.5.2-§2.5.6
 * (unspecified, loopback, IPv4-mapped, link-local), §2.7 (multicast,
 * scope), §2.7.1 (solicited-node), Appendix A (modified EUI-64);
 * RFC 2464 §4 and §7 (Ethernet: interface identifier, multicast MAC);
 * RFC 5952 (canonical text form); RFC 6724 §3.1 (scopes). */
#include "wire/ipv6.h"

#include <arpa/inet.h>
#include <string.h>

#include "wire/bytes.h"

const struct ns_ip6_addr ns_ip6_unspecified = {{0}};
const struct ns_ip6_addr ns_ip6_loopback = {{[15] = 1}};
const struct ns_ip6_addr ns_ip6_all_nodes = {{0xff, 0x02, [15] = 0x01}};
const struct ns_ip6_addr ns_ip6_all_routers = {{0xff, 0x02, [15] = 0x02}};
const struct ns_ip6_addr ns_ip6_all_mld2_routers = {{0xff, 0x02, [15] = 0x16}};

/* RFC 4291 §2.7: scope values. */
#define IP6_SCOPE_LINK 0x2
#define IP6_SCOPE_SITE 0x5
#define IP6_SCOPE_GLOBAL 0xe

bool ns_ip6_eq(const struct ns_ip6_addr *a, const struct ns_ip6_addr *b)
{
    return memcmp(a->b, b->b, NS_IP6_ALEN) == 0;
}

bool ns_ip6_is_unspecified(const struct ns_ip6_addr *a)
{
    return ns_ip6_eq(a, &ns_ip6_unspecified);
}

bool ns_ip6_is_loopback(const struct ns_ip6_addr *a) { return ns_ip6_eq(a, &ns_ip6_loopback); }

bool ns_ip6_is_link_local(const struct ns_ip6_addr *a)
{
    return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80; /* fe80::/10 */
}

bool ns_ip6_is_multicast(const struct ns_ip6_addr *a) { return a->b[0] == 0xff; }

uint8_t ns_ip6_mcast_scope(const struct ns_ip6_addr *a) { return a->b[1] & 0x0f; }

uint8_t ns_ip6_scope(const struct ns_ip6_addr *a)
{
    if (ns_ip6_is_multicast(a))
        return ns_ip6_mcast_scope(a);
    /* RFC 6724 §3.1: link-local unicast and loopback are link-local in
     * scope, the deprecated site-local fec0::/10 (RFC 3879) site-local as
     * in Linux __ipv6_addr_type, every other unicast address global. */
    if (ns_ip6_is_link_local(a) || ns_ip6_is_loopback(a))
        return IP6_SCOPE_LINK;
    if (a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0xc0)
        return IP6_SCOPE_SITE;
    return IP6_SCOPE_GLOBAL;
}

/* ff02::1:ff00:0/104 */
static const uint8_t solicited_prefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                             0,    0,    0, 1, 0xff};

bool ns_ip6_is_solicited_node(const struct ns_ip6_addr *a)
{
    return memcmp(a->b, solicited_prefix, sizeof(solicited_prefix)) == 0;
}

struct ns_ip6_addr ns_ip6_solicited_node(const struct ns_ip6_addr *a)
{
    /* RFC 4291 §2.7.1: the prefix ff02::1:ff00:0/104 and the low 24 bits
     * of the address. */
    struct ns_ip6_addr s;
    memcpy(s.b, solicited_prefix, sizeof(solicited_prefix));
    memcpy(s.b + 13, a->b + 13, 3);
    return s;
}

void ns_ip6_mcast_mac(const struct ns_ip6_addr *a, uint8_t mac[NS_ETH_ALEN])
{
    /* RFC 2464 §7: 33:33 followed by the last four octets. */
    mac[0] = 0x33;
    mac[1] = 0x33;
    memcpy(mac + 2, a->b + 12, 4);
}

/* ::ffff:0:0/96 */
static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool ns_ip6_is_v4mapped(const struct ns_ip6_addr *a)
{
    return memcmp(a->b, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
}

struct ns_ip6_addr ns_ip6_v4mapped(uint32_t v4)
{
    /* RFC 4291 §2.5.5.2: 80 zero bits, 16 one bits, the IPv4 address. */
    struct ns_ip6_addr a;
    memcpy(a.b, v4mapped_prefix, sizeof(v4mapped_prefix));
    ns_wr32(a.b + 12, v4);
    return a;
}

uint32_t ns_ip6_v4mapped_to4(const struct ns_ip6_addr *a) { return ns_rd32(a->b + 12); }

void ns_ip6_iid_eui64(const uint8_t mac[NS_ETH_ALEN], uint8_t iid[8])
{
    /* RFC 2464 §4, RFC 4291 Appendix A: the OUI, ff:fe, the rest of the
     * MAC; then the "u" (universal/local) bit, 0x02 of the first byte,
     * inverted. */
    iid[0] = (uint8_t)(mac[0] ^ 0x02);
    iid[1] = mac[1];
    iid[2] = mac[2];
    iid[3] = 0xff;
    iid[4] = 0xfe;
    iid[5] = mac[3];
    iid[6] = mac[4];
    iid[7] = mac[5];
}

unsigned ns_ip6_common_prefix_len(const struct ns_ip6_addr *a, const struct ns_ip6_addr *b)
{
    for (unsigned i = 0; i < NS_IP6_ALEN; i++) {
        uint8_t x = (uint8_t)(a->b[i] ^ b->b[i]);
        if (x) {
            unsigned n = 0;
            while (!(x & 0x80)) {
                x = (uint8_t)(x << 1);
                n++;
            }
            return i * 8 + n;
        }
    }
    return 128;
}

bool ns_ip6_prefix_eq(const struct ns_ip6_addr *a, const struct ns_ip6_addr *b, unsigned bits)
{
    if (bits > 128)
        bits = 128;
    return ns_ip6_common_prefix_len(a, b) >= bits;
}

struct ns_ip6_addr ns_ip6_prefix_mask(const struct ns_ip6_addr *a, unsigned bits)
{
    struct ns_ip6_addr m = *a;
    if (bits >= 128)
        return m;
    unsigned byte = bits / 8;
    m.b[byte] &= (uint8_t)(0xff00u >> (bits % 8));
    memset(m.b + byte + 1, 0, NS_IP6_ALEN - byte - 1);
    return m;
}

const char *ns_ip6_ntoa(const struct ns_ip6_addr *a, char buf[NS_IP6_ADDRSTRLEN])
{
    /* glibc's inet_ntop writes the RFC 5952 form; it cannot fail with a
     * buffer of INET6_ADDRSTRLEN. */
    if (!inet_ntop(AF_INET6, a->b, buf, NS_IP6_ADDRSTRLEN))
        buf[0] = '\0';
    return buf;
}

bool ns_ip6_aton(const char *text, struct ns_ip6_addr *a)
{
    uint8_t b[NS_IP6_ALEN];
    if (inet_pton(AF_INET6, text, b) != 1)
        return false;
    memcpy(a->b, b, NS_IP6_ALEN);
    return true;
}
