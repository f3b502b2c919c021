/* tests/frames.h — frame builders, a frame parser and a small test bench
 * for the link/network layer tests (STYLE §14: "at time T this frame
 * arrives; these frames leave").
 *
 * Builders write whole Ethernet frames with the wire emitters
 * (ns_eth_emit, ns_arp_emit, ns_ip4_emit, ns_icmp4_emit) into a caller's
 * buffer and return the frame length. fr_parse() turns a frame the stack
 * sent back into reprs, checking every checksum on the way.
 *
 * The bench (struct tb) is one stack with up to TB_IFS queue-device
 * interfaces. tb_rx() injects a frame at time T and polls the stack at T;
 * tb_take() returns the next frame an interface sent, parsed, or NULL.
 * Addresses are host-order uint32_t, written FR_IP(192, 0, 2, 1).
 */
#ifndef NS_TESTS_FRAMES_H
#define NS_TESTS_FRAMES_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "net/net.h"
#include "netsock/netsock.h"
#include "wire/bytes.h"
#include "wire/wire.h"

#define FR_IP(a, b, c, d)                                                      \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* Room for the largest frame: 14 + 65535, rounded up. */
#define FR_MAX 65600

static const uint8_t fr_mac_zero[6] = {0, 0, 0, 0, 0, 0};
static const uint8_t fr_mac_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* ---- builders -------------------------------------------------------------- */

/* Ethernet header; returns 14. */
static inline size_t fr_eth(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6],
                            uint16_t ethertype)
{
    struct ns_eth_repr e = {.ethertype = ethertype};
    memcpy(e.dst, dst, 6);
    memcpy(e.src, src, 6);
    ns_eth_emit(&e, buf);
    return NS_ETH_HLEN;
}

/* A default IPv4 header template: TTL 64, id 0x1234, no flags. */
static inline struct ns_ip4_repr fr_ip4_hdr(uint32_t src, uint32_t dst, uint8_t proto)
{
    struct ns_ip4_repr r = {.hlen = NS_IP4_HLEN, .ttl = 64, .id = 0x1234, .proto = proto,
                            .src = src, .dst = dst};
    return r;
}

/* IPv4 packet at buf: header from tmpl (hlen and total_len are computed),
 * then olen bytes of options (multiple of 4), then the payload. Returns
 * the packet length. */
static inline size_t fr_ip4(uint8_t *buf, const struct ns_ip4_repr *tmpl, const uint8_t *opts,
                            size_t olen, const void *payload, size_t plen)
{
    struct ns_ip4_repr r = *tmpl;
    assert_true(olen % 4 == 0 && olen <= 40);
    r.hlen = (uint8_t)(NS_IP4_HLEN + olen);
    assert_true(r.hlen + plen <= NS_IP4_MAX_LEN);
    r.total_len = (uint16_t)(r.hlen + plen);
    if (olen)
        memcpy(buf + NS_IP4_HLEN, opts, olen);
    if (plen)
        memmove(buf + r.hlen, payload, plen);
    ns_ip4_emit(&r, buf);
    return r.total_len;
}

/* ICMP echo (type 8) or echo reply (type 0) message at buf. */
static inline size_t fr_icmp_echo(uint8_t *buf, uint8_t type, uint16_t id, uint16_t seq,
                                  const void *data, size_t len)
{
    struct ns_icmp4_repr r = {.type = type, .id = id, .seq = seq, .payload = data,
                              .payload_len = len};
    ns_icmp4_emit(&r, buf);
    return NS_ICMP_HLEN + len;
}

/* Ethernet + IPv4 (header template ip, proto forced to ICMP) + ICMP echo. */
static inline size_t fr_echo_frame_ip(uint8_t *buf, const uint8_t dmac[6], const uint8_t smac[6],
                                      const struct ns_ip4_repr *ip, uint8_t type, uint16_t id,
                                      uint16_t seq, const void *data, size_t len)
{
    static uint8_t icmp[FR_MAX];
    size_t ilen = fr_icmp_echo(icmp, type, id, seq, data, len);
    struct ns_ip4_repr r = *ip;
    r.proto = NS_IPPROTO_ICMP;
    size_t n = fr_eth(buf, dmac, smac, NS_ETHERTYPE_IPV4);
    return n + fr_ip4(buf + n, &r, NULL, 0, icmp, ilen);
}

static inline size_t fr_echo_frame(uint8_t *buf, const uint8_t dmac[6], const uint8_t smac[6],
                                   uint32_t src, uint32_t dst, uint8_t type, uint16_t id,
                                   uint16_t seq, const void *data, size_t len)
{
    struct ns_ip4_repr ip = fr_ip4_hdr(src, dst, NS_IPPROTO_ICMP);
    return fr_echo_frame_ip(buf, dmac, smac, &ip, type, id, seq, data, len);
}

/* Ethernet + IPv4 with an arbitrary protocol and payload. */
static inline size_t fr_ip4_frame(uint8_t *buf, const uint8_t dmac[6], const uint8_t smac[6],
                                  const struct ns_ip4_repr *ip, const void *payload, size_t plen)
{
    size_t n = fr_eth(buf, dmac, smac, NS_ETHERTYPE_IPV4);
    return n + fr_ip4(buf + n, ip, NULL, 0, payload, plen);
}

/* Ethernet + ARP. tha NULL means zero. */
static inline size_t fr_arp_frame(uint8_t *buf, const uint8_t dmac[6], const uint8_t smac[6],
                                  uint16_t op, const uint8_t sha[6], uint32_t spa,
                                  const uint8_t *tha, uint32_t tpa)
{
    struct ns_arp_repr a = {.op = op, .spa = spa, .tpa = tpa};
    memcpy(a.sha, sha, 6);
    memcpy(a.tha, tha ? tha : fr_mac_zero, 6);
    size_t n = fr_eth(buf, dmac, smac, NS_ETHERTYPE_ARP);
    ns_arp_emit(&a, buf + n);
    return n + NS_ARP_LEN;
}

/* A broadcast ARP request from (mac, ip) asking for tpa. */
static inline size_t fr_arp_request(uint8_t *buf, const uint8_t mac[6], uint32_t ip, uint32_t tpa)
{
    return fr_arp_frame(buf, fr_mac_bcast, mac, NS_ARP_OP_REQUEST, mac, ip, NULL, tpa);
}

/* A unicast ARP reply from (mac, ip) to (tha, tpa). */
static inline size_t fr_arp_reply(uint8_t *buf, const uint8_t mac[6], uint32_t ip,
                                  const uint8_t tha[6], uint32_t tpa)
{
    return fr_arp_frame(buf, tha, mac, NS_ARP_OP_REPLY, mac, ip, tha, tpa);
}

/* One fragment of a datagram whose payload (everything after the IPv4
 * header) is data[0..]: header from tmpl with frag_off = off and MF = mf,
 * carrying data[off, off+len). Returns the frame length. */
static inline size_t fr_frag_frame(uint8_t *buf, const uint8_t dmac[6], const uint8_t smac[6],
                                   const struct ns_ip4_repr *tmpl, const uint8_t *data, size_t off,
                                   size_t len, bool mf)
{
    struct ns_ip4_repr r = *tmpl;
    assert_true(off % 8 == 0 && off / 8 <= NS_IP4_OFFMASK);
    r.frag_off = (uint16_t)off;
    r.mf = mf;
    size_t n = fr_eth(buf, dmac, smac, NS_ETHERTYPE_IPV4);
    return n + fr_ip4(buf + n, &r, NULL, 0, data + off, len);
}

struct fr_piece {
    uint32_t off, len;
};

/* Split `total` payload bytes into pieces of `size` (a multiple of 8)
 * with a shorter tail. Returns the number of pieces (<= max). */
static inline unsigned fr_split(uint32_t total, uint32_t size, struct fr_piece *out, unsigned max)
{
    unsigned n = 0;
    assert_true(size > 0 && size % 8 == 0);
    for (uint32_t off = 0; off < total; off += size) {
        assert_true(n < max);
        out[n].off = off;
        out[n].len = total - off < size ? total - off : size;
        n++;
    }
    return n;
}

/* ---- parser ---------------------------------------------------------------- */

/* A frame the stack sent, taken apart. Pointers point into the frame. */
struct fr_pkt {
    size_t len;
    struct ns_eth_repr eth;
    bool is_arp;
    struct ns_arp_repr arp;
    bool is_ip;
    struct ns_ip4_repr ip;
    const uint8_t *ip_hdr;  /* the IPv4 header */
    const uint8_t *l4;      /* IPv4 payload */
    size_t l4_len;
    bool is_icmp;           /* IPv4, protocol 1, not a fragment */
    struct ns_icmp4_repr icmp;
};

/* Parse a frame; fails the test when any header is malformed or any
 * checksum is wrong (a stack must never send such a frame). ICMP is only
 * parsed in unfragmented packets. */
static inline void fr_parse(const uint8_t *f, size_t len, struct fr_pkt *p)
{
    memset(p, 0, sizeof(*p));
    p->len = len;
    assert_int_equal(ns_eth_parse(f, len, &p->eth), 0);
    if (p->eth.ethertype == NS_ETHERTYPE_ARP) {
        assert_int_equal(ns_arp_parse(f + NS_ETH_HLEN, len - NS_ETH_HLEN, &p->arp), 0);
        p->is_arp = true;
    } else if (p->eth.ethertype == NS_ETHERTYPE_IPV4) {
        p->ip_hdr = f + NS_ETH_HLEN;
        assert_int_equal(ns_ip4_parse(p->ip_hdr, len - NS_ETH_HLEN, &p->ip, true), 0);
        /* A sender never pads an IPv4 frame it builds itself. */
        assert_int_equal(p->ip.total_len, len - NS_ETH_HLEN);
        p->is_ip = true;
        p->l4 = p->ip_hdr + p->ip.hlen;
        p->l4_len = p->ip.total_len - p->ip.hlen;
        if (p->ip.proto == NS_IPPROTO_ICMP && !p->ip.mf && p->ip.frag_off == 0) {
            assert_int_equal(ns_icmp4_parse(p->l4, p->l4_len, &p->icmp, true), 0);
            p->is_icmp = true;
        }
    }
}

/* ---- the bench --------------------------------------------------------------- */

#define TB_IFS 3

struct tb {
    struct ns_stack *st;
    struct ns_dev *dev[TB_IFS + 1]; /* by ifindex */
    int nifs;
    uint8_t out[FR_MAX];            /* the frame last taken */
    struct fr_pkt pkt;              /* ... parsed */
};

/* The bench's own MAC on interface i: 02:00:00:00:0i:01. */
static inline void tb_mac(int i, uint8_t mac[6])
{
    static const uint8_t base[6] = {0x02, 0, 0, 0, 0, 0x01};
    memcpy(mac, base, 6);
    mac[4] = (uint8_t)i;
}

/* Peer MACs: 02:aa:00:00:00:nn. */
static inline void tb_peer_mac(unsigned n, uint8_t mac[6])
{
    static const uint8_t base[6] = {0x02, 0xaa, 0, 0, 0, 0};
    memcpy(mac, base, 6);
    mac[4] = (uint8_t)(n >> 8);
    mac[5] = (uint8_t)n;
}

/* A config for tests: defaults, but no address announcements (they would
 * be extra frames in every scenario) unless a test asks for them. */
static inline void tb_config(struct ns_config *cfg)
{
    ns_config_default(cfg);
    cfg->name = "test";
    cfg->arp_announce_num = 0;
}

static inline struct tb *tb_new(const struct ns_config *cfg, uint64_t now_us)
{
    struct ns_config def;
    if (!cfg) {
        tb_config(&def);
        cfg = &def;
    }
    struct tb *tb = calloc(1, sizeof(*tb));
    assert_non_null(tb);
    tb->st = ns_stack_new(cfg, now_us);
    assert_non_null(tb->st);
    return tb;
}

/* Add a queue-device interface with MAC tb_mac(ifindex), `mtu`, and the
 * address ip/prefix (ip 0: none). Returns the ifindex. */
static inline int tb_add_if(struct tb *tb, uint32_t mtu, uint32_t ip, unsigned prefix)
{
    uint8_t mac[6];
    int want = tb->nifs + 1;
    assert_true(want <= TB_IFS);
    tb_mac(want, mac);
    struct ns_dev *dev = ns_qdev_new("q", NS_LINK_ETHER, mac, mtu);
    assert_non_null(dev);
    int ifx = ns_if_add(tb->st, dev);
    assert_int_equal(ifx, want);
    tb->dev[ifx] = dev;
    tb->nifs = ifx;
    if (ip) {
        struct in_addr a = {.s_addr = htonl(ip)};
        assert_int_equal(ns_if_addr_add(tb->st, ifx, AF_INET, &a, prefix), 0);
    }
    return ifx;
}

/* At now_us this frame arrives on interface ifx (then the stack is polled
 * at now_us, so timers due by then fire too). */
static inline void tb_rx(struct tb *tb, int ifx, const void *frame, size_t len, uint64_t now_us)
{
    assert_int_equal(ns_qdev_inject(tb->dev[ifx], frame, len), 0);
    ns_stack_poll(tb->st, now_us);
}

static inline void tb_poll(struct tb *tb, uint64_t now_us) { ns_stack_poll(tb->st, now_us); }

static inline size_t tb_pending(const struct tb *tb, int ifx) { return ns_qdev_pending(tb->dev[ifx]); }

/* The next frame interface ifx sent, parsed (into tb->pkt), or NULL. */
static inline const struct fr_pkt *tb_take(struct tb *tb, int ifx)
{
    long n = ns_qdev_take(tb->dev[ifx], tb->out, sizeof(tb->out));
    if (n < 0)
        return NULL;
    assert_true((size_t)n <= sizeof(tb->out));
    fr_parse(tb->out, (size_t)n, &tb->pkt);
    return &tb->pkt;
}

/* Discard every frame interface ifx sent; returns how many. */
static inline size_t tb_drain(struct tb *tb, int ifx)
{
    size_t n = 0;
    while (ns_qdev_take(tb->dev[ifx], tb->out, sizeof(tb->out)) >= 0)
        n++;
    return n;
}

static inline uint64_t tb_ctr(const struct tb *tb, enum ns_counter c)
{
    return ns_stack_counter(tb->st, c);
}
#define CTR(tb, name) tb_ctr((tb), NS_CTR_##name)

/* Our address on interface ifx (its first). */
static inline uint32_t tb_ip(const struct tb *tb, int ifx)
{
    return tb->st->net->ifs[ifx - 1].addr4[0].addr;
}

/* Make the stack learn (ip, mac) on ifx the RFC 826 way: the peer asks for
 * our address; the reply leaves and is checked. */
static inline void tb_learn(struct tb *tb, int ifx, uint32_t ip, const uint8_t mac[6],
                            uint64_t now_us)
{
    uint8_t f[64];
    size_t n = fr_arp_request(f, mac, ip, tb_ip(tb, ifx));
    tb_rx(tb, ifx, f, n, now_us);
    const struct fr_pkt *p = tb_take(tb, ifx);
    assert_non_null(p);
    assert_true(p->is_arp && p->arp.op == NS_ARP_OP_REPLY && p->arp.tpa == ip);
    uint8_t got[6];
    assert_int_equal(arp_lookup(tb->st, ifx, ip, got), 0);
    assert_memory_equal(got, mac, 6);
}

/* Every pooled buffer back and no heap buffer left. */
static inline void tb_assert_pool_clean(const struct tb *tb)
{
    struct ns_pbuf_pool_stats ps;
    ns_stack_pbuf_stats(tb->st, &ps);
    assert_int_equal(ps.pool_free, ps.pool_total);
    assert_int_equal(ps.heap_bytes, 0);
}

/* No frame waiting on any interface. */
static inline void tb_assert_quiet(const struct tb *tb)
{
    for (int i = 1; i <= tb->nifs; i++)
        assert_int_equal(tb_pending(tb, i), 0);
}

static inline void tb_free(struct tb *tb)
{
    ns_stack_free(tb->st);
    free(tb);
}

/* Ping from the stack (ns_icmp_echo_send) to dst. */
static inline int tb_ping(struct tb *tb, uint32_t dst, uint16_t id, uint16_t seq, const void *data,
                          size_t len)
{
    struct in_addr a = {.s_addr = htonl(dst)};
    return ns_icmp_echo_send(tb->st, &a, id, seq, data, len, 0);
}

#endif
