/* tests/unit/test_ip6.c — the IPv6 network layer on a queue device: the
 * "IPv6 only when asked" rule, addresses and groups, echo through
 * neighbour discovery, each NUD transition at exact virtual times,
 * extension headers (RFC 8200 §4, RFC 5095), fragmentation and
 * reassembly (RFC 8200 §4.5, RFC 5722, RFC 6946), ICMPv6 errors with
 * their rate limit (RFC 4443 §2.4) and Path MTU Discovery (RFC 8201).
 *
 * The peer is the test: it writes frames into the stack's device and
 * reads what the stack sends, parsed by frames6.h (which fails on any
 * malformed header or checksum).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "frames6.h"

#define US_S 1000000ull

static const uint8_t PEER_MAC[6] = {0x02, 0xaa, 0, 0, 0, 0x10};
static uint8_t g_frame[FR_MAX];
static uint8_t g_msg[FR_MAX];

static struct ns_ip6_addr OURS, PEER;

static void addrs(void)
{
    OURS = fr6_addr("2001:db8::1");
    PEER = fr6_addr("2001:db8::10");
}

/* A bench with one Ethernet interface (mtu), and 2001:db8::1/64 on it
 * when `v6`. */
static struct tb *bench6(uint32_t mtu, bool v6)
{
    addrs();
    struct tb *tb = tb_new(NULL, 0);
    tb_add_if(tb, mtu, FR_IP(192, 0, 2, 1), 24);
    if (v6)
        assert_int_equal(ns_if_addr_add(tb->st, 1, AF_INET6, OURS.b, 64), 0);
    return tb;
}

/* The peer sends an echo request (id, seq, data) to dst at t. */
static void peer_echo(struct tb *tb, const struct ns_ip6_addr *dst, uint16_t seq,
                      const uint8_t *data, size_t len, uint64_t t)
{
    size_t m = fr6_icmp(g_msg, &PEER, dst, NS_ICMP6_ECHO_REQUEST, 0, 0x4242u << 16 | seq, data,
                        len);
    uint8_t dmac[6];
    if (ns_ip6_is_multicast(dst))
        ns_ip6_mcast_mac(dst, dmac);
    else
        memcpy(dmac, tb->dev[1]->hwaddr, 6);
    size_t n = fr6_frame(g_frame, dmac, PEER_MAC, &PEER, dst, 64, 0, NULL, 0, NS_IPPROTO_ICMPV6,
                         g_msg, m);
    tb_rx(tb, 1, g_frame, n, t);
}

/* The peer answers the stack's NS for PEER with a solicited NA. */
static void peer_na(struct tb *tb, bool solicited, bool override, uint64_t t)
{
    size_t m = fr6_na(g_msg, &PEER, &OURS, &PEER, PEER_MAC, solicited, override);
    size_t n = fr6_frame(g_frame, tb->dev[1]->hwaddr, PEER_MAC, &PEER, &OURS, 255, 0, NULL, 0,
                         NS_IPPROTO_ICMPV6, g_msg, m);
    tb_rx(tb, 1, g_frame, n, t);
}

/* The next frame is an NS for PEER: multicast to its solicited-node
 * group, or unicast to PEER_MAC. */
static void expect_ns(struct tb *tb, bool unicast)
{
    struct fr6_pkt p;
    assert_true(tb_take6(tb, 1, &p));
    assert_true(p.is_nd);
    assert_int_equal(p.nd.type, NS_ICMP6_NS);
    assert_true(ns_ip6_eq(&p.nd.target, &PEER));
    assert_int_equal(p.ip.hop_limit, 255);
    if (unicast) {
        assert_memory_equal(p.eth.dst, PEER_MAC, 6);
        assert_true(ns_ip6_eq(&p.ip.dst, &PEER));
    } else {
        struct ns_ip6_addr sn = ns_ip6_solicited_node(&PEER);
        uint8_t mac[6];
        ns_ip6_mcast_mac(&sn, mac);
        assert_memory_equal(p.eth.dst, mac, 6);
        assert_true(ns_ip6_eq(&p.ip.dst, &sn));
    }
    /* RFC 4861 §7.2.2: our link-layer address goes with it. */
    assert_non_null(p.nd.sll);
    assert_memory_equal(p.nd.sll, tb->dev[1]->hwaddr, 6);
}

/* Resolve PEER: it pings us, we solicit, it answers; the reply leaves. */
static void resolve_peer(struct tb *tb, uint64_t t)
{
    static const uint8_t data[4] = {1, 2, 3, 4};
    peer_echo(tb, &OURS, 1, data, sizeof(data), t);
    expect_ns(tb, false);
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, NULL), ND_INCOMPLETE);
    peer_na(tb, true, true, t);
    struct fr6_pkt p;
    assert_true(tb_take6(tb, 1, &p));
    assert_true(p.is_icmp);
    assert_int_equal(p.icmp.type, NS_ICMP6_ECHO_REPLY);
    assert_memory_equal(p.eth.dst, PEER_MAC, 6);
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, NULL), ND_REACHABLE);
}

/* ---- only when asked -------------------------------------------------------------- */

static void test_disabled_interface_takes_and_sends_nothing(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, false);
    static const uint8_t data[8] = {0};
    /* Addressed to the link-local the interface would have, and to
     * all-nodes: nothing answers, each counted. */
    struct ns_ip6_addr ll = {{0xfe, 0x80}};
    ns_ip6_iid_eui64(tb->dev[1]->hwaddr, ll.b + 8);
    peer_echo(tb, &ll, 1, data, sizeof(data), 0);
    peer_echo(tb, &ns_ip6_all_nodes, 2, data, sizeof(data), 0);
    tb_poll(tb, 10 * US_S);
    assert_int_equal(tb_pending(tb, 1), 0);
    /* The all-nodes frame is refused by the link (no group joined), the
     * unicast one by IPv6. */
    assert_int_equal(CTR(tb, ip6_drop_disabled), 1);
    assert_int_equal(CTR(tb, eth_drop_not_for_us), 1);
    assert_int_equal(CTR(tb, ip6_rx), 0);
    tb_free(tb);
}

static void test_enable_adds_link_local_and_groups(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, false);
    assert_int_equal(ns_if_ipv6_enable(tb->st, 1), 0);
    struct ns_ip6_addr ll = {{0xfe, 0x80}};
    ns_ip6_iid_eui64(tb->dev[1]->hwaddr, ll.b + 8);
    assert_non_null(ip6_addr_find(tb->st, 1, &ll));
    assert_true(ip6_mc_joined(tb->st, 1, &ns_ip6_all_nodes));
    struct ns_ip6_addr sn = ns_ip6_solicited_node(&ll);
    assert_true(ip6_mc_joined(tb->st, 1, &sn));
    uint8_t mac[6];
    ns_ip6_mcast_mac(&sn, mac);
    assert_true(link_mc_has(ns_iface_get(tb->st, 1), mac));
    /* Enabling sends nothing by itself (DAD and RS are autoconfiguration's). */
    assert_int_equal(tb_pending(tb, 1), 0);
    /* A global address: its group, its on-link route; removing undoes both. */
    addrs();
    assert_int_equal(ns_if_addr_add(tb->st, 1, AF_INET6, OURS.b, 64), 0);
    assert_int_equal(ns_if_addr_add(tb->st, 1, AF_INET6, OURS.b, 64), -EEXIST);
    struct ns_ip6_addr sn2 = ns_ip6_solicited_node(&OURS);
    assert_true(ip6_mc_joined(tb->st, 1, &sn2));
    int ifx;
    struct ns_ip6_addr nh;
    assert_int_equal(route6_lookup(tb->st, &PEER, 0, &ifx, &nh), 0);
    assert_int_equal(ifx, 1);
    assert_true(ns_ip6_eq(&nh, &PEER));
    assert_int_equal(ns_if_addr_del(tb->st, 1, AF_INET6, OURS.b), 0);
    assert_false(ip6_mc_joined(tb->st, 1, &sn2));
    assert_int_equal(route6_lookup(tb->st, &PEER, 0, &ifx, &nh), -ENETUNREACH);
    assert_int_equal(ns_if_addr_del(tb->st, 1, AF_INET6, OURS.b), -EADDRNOTAVAIL);
    /* Addresses no interface may have. */
    struct ns_ip6_addr bad = fr6_addr("ff02::5");
    assert_int_equal(ns_if_addr_add(tb->st, 1, AF_INET6, bad.b, 64), -EINVAL);
    assert_int_equal(ns_if_addr_add(tb->st, 1, AF_INET6, ns_ip6_loopback.b, 128), -EINVAL);
    assert_int_equal(ns_if_addr_add(tb->st, 1, AF_INET6, OURS.b, 129), -EINVAL);
    tb_free(tb);
}

/* ---- echo and neighbour discovery --------------------------------------------------- */

static void test_echo_resolves_the_peer(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, true);
    resolve_peer(tb, 0);
    assert_int_equal(CTR(tb, nd_tx_ns), 1);
    assert_int_equal(CTR(tb, icmp6_tx_echo_reply), 1);
    /* Echo to all-nodes is answered too (Linux), from our address. */
    static const uint8_t data[2] = {9, 9};
    peer_echo(tb, &ns_ip6_all_nodes, 2, data, sizeof(data), 1);
    struct fr6_pkt p;
    assert_true(tb_take6(tb, 1, &p));
    assert_int_equal(p.icmp.type, NS_ICMP6_ECHO_REPLY);
    assert_true(ns_ip6_eq(&p.ip.src, &OURS));
    tb_assert_quiet(tb);
    tb_free(tb);
}

static void test_ns_is_answered_and_teaches_stale(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, true);
    struct ns_ip6_addr sn = ns_ip6_solicited_node(&OURS);
    uint8_t mac[6];
    ns_ip6_mcast_mac(&sn, mac);
    size_t m = fr6_ns(g_msg, &PEER, &sn, &OURS, PEER_MAC);
    size_t n = fr6_frame(g_frame, mac, PEER_MAC, &PEER, &sn, 255, 0, NULL, 0, NS_IPPROTO_ICMPV6,
                         g_msg, m);
    tb_rx(tb, 1, g_frame, n, 0);
    struct fr6_pkt p;
    assert_true(tb_take6(tb, 1, &p));
    assert_true(p.is_nd);
    assert_int_equal(p.nd.type, NS_ICMP6_NA);
    assert_true(p.nd.solicited && p.nd.override && !p.nd.router);
    assert_true(ns_ip6_eq(&p.nd.target, &OURS));
    assert_true(ns_ip6_eq(&p.ip.dst, &PEER));
    assert_memory_equal(p.eth.dst, PEER_MAC, 6);
    assert_memory_equal(p.nd.tll, tb->dev[1]->hwaddr, 6);
    /* RFC 4861 §7.2.3: the solicitor is learned STALE; sending it the NA
     * made it DELAY (§7.3.3). */
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, NULL), ND_DELAY);
    /* An NS for someone else's address is not answered; hop limit 254 is
     * invalid (RFC 4861 §7.1.1). */
    struct ns_ip6_addr other = fr6_addr("2001:db8::99");
    m = fr6_ns(g_msg, &PEER, &sn, &other, PEER_MAC);
    n = fr6_frame(g_frame, mac, PEER_MAC, &PEER, &sn, 255, 0, NULL, 0, NS_IPPROTO_ICMPV6, g_msg, m);
    tb_rx(tb, 1, g_frame, n, 1);
    m = fr6_ns(g_msg, &PEER, &sn, &OURS, PEER_MAC);
    n = fr6_frame(g_frame, mac, PEER_MAC, &PEER, &sn, 254, 0, NULL, 0, NS_IPPROTO_ICMPV6, g_msg, m);
    tb_rx(tb, 1, g_frame, n, 2);
    assert_int_equal(CTR(tb, nd_drop_not_ours), 1);
    assert_int_equal(CTR(tb, nd_drop_invalid), 1);
    tb_assert_quiet(tb);
    tb_free(tb);
}

/* Every NUD transition at its exact time (RFC 4861 §7.3, Appendix C;
 * Linux timers). */
static void test_nud_transitions_at_exact_times(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, true);
    uint64_t reach = ip6_ifstate(tb->st, 1)->reachable_us;
    /* RFC 4861 §6.3.2: drawn from [0.5, 1.5) x 30 s. */
    assert_true(reach >= 15 * US_S && reach < 45 * US_S);
    uint64_t t0 = 1 * US_S;
    resolve_peer(tb, t0);
    /* REACHABLE until confirmed + ReachableTime; used at t0 (> 5 s ago by
     * then), so STALE, not DELAY. */
    tb_poll(tb, t0 + reach - 1);
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, NULL), ND_REACHABLE);
    tb_poll(tb, t0 + reach);
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, NULL), ND_STALE);
    assert_int_equal(tb_pending(tb, 1), 0);
    /* STALE: the next packet leaves at once and starts DELAY. */
    uint64_t t1 = t0 + reach + 3 * US_S;
    static const uint8_t d[1] = {7};
    peer_echo(tb, &OURS, 2, d, 1, t1);
    struct fr6_pkt p;
    assert_true(tb_take6(tb, 1, &p));
    assert_int_equal(p.icmp.type, NS_ICMP6_ECHO_REPLY);
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, NULL), ND_DELAY);
    /* DELAY_FIRST_PROBE_TIME 5 s, then PROBE with a unicast NS. */
    tb_poll(tb, t1 + 5 * US_S - 1);
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, NULL), ND_DELAY);
    assert_int_equal(tb_pending(tb, 1), 0);
    tb_poll(tb, t1 + 5 * US_S);
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, NULL), ND_PROBE);
    expect_ns(tb, true);
    /* MAX_UNICAST_SOLICIT 3, RetransTimer 1 s apart, then gone. */
    tb_poll(tb, t1 + 6 * US_S);
    expect_ns(tb, true);
    tb_poll(tb, t1 + 7 * US_S);
    expect_ns(tb, true);
    assert_int_equal(tb_pending(tb, 1), 0);
    tb_poll(tb, t1 + 8 * US_S - 1);
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, NULL), ND_PROBE);
    tb_poll(tb, t1 + 8 * US_S);
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, NULL), -ENOENT);
    assert_int_equal(tb_pending(tb, 1), 0);

    /* Again, answered in PROBE: a solicited NA makes it REACHABLE. */
    uint64_t t2 = t1 + 20 * US_S;
    resolve_peer(tb, t2);
    reach = ip6_ifstate(tb->st, 1)->reachable_us;
    /* Used 2 s before ReachableTime ends: DELAY rather than STALE
     * (Linux neigh_timer_handler). */
    peer_echo(tb, &OURS, 3, d, 1, t2 + reach - 2 * US_S);
    assert_true(tb_take6(tb, 1, &p));
    tb_poll(tb, t2 + reach);
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, NULL), ND_DELAY);
    /* An upper-layer confirmation inside DELAY: REACHABLE when it ends. */
    nd_confirm(tb->st, 1, &PEER);
    tb_poll(tb, t2 + reach + 5 * US_S);
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, NULL), ND_REACHABLE);
    assert_int_equal(tb_pending(tb, 1), 0);
    tb_free(tb);
}

/* INCOMPLETE: MAX_MULTICAST_SOLICIT NS a second apart, then the held
 * packets are dropped (RFC 4861 §7.2.2: address unreachable — to our own
 * sender here, not on the wire) and the entry goes. */
static void test_incomplete_gives_up_after_three(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, true);
    static const uint8_t d[1] = {7};
    peer_echo(tb, &OURS, 1, d, 1, 0);
    expect_ns(tb, false);
    /* The reply waits in a hold queue counted in ARP's (shared) totals. */
    struct ns_stack_usage u;
    ns_stack_usage(tb->st, &u);
    assert_int_equal(u.arp_hold_pkts, 1);
    assert_int_equal(u.arp_unres, 1);
    tb_poll(tb, 1 * US_S - 1);
    assert_int_equal(tb_pending(tb, 1), 0);
    tb_poll(tb, 1 * US_S);
    expect_ns(tb, false);
    tb_poll(tb, 2 * US_S);
    expect_ns(tb, false);
    tb_poll(tb, 3 * US_S - 1);
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, NULL), ND_INCOMPLETE);
    tb_poll(tb, 3 * US_S);
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, NULL), -ENOENT);
    assert_int_equal(CTR(tb, nd_resolve_fail), 1);
    ns_stack_usage(tb->st, &u);
    assert_int_equal(u.arp_hold_pkts, 0);
    assert_int_equal(u.arp_unres, 0);
    tb_assert_quiet(tb);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* Unsolicited NA without override for a REACHABLE entry with another
 * address: STALE, address kept (RFC 4861 §7.2.5). */
static void test_na_without_override(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, true);
    resolve_peer(tb, 0);
    static const uint8_t other_mac[6] = {0x02, 0xbb, 0, 0, 0, 1};
    size_t m = fr6_na(g_msg, &PEER, &OURS, &PEER, other_mac, false, false);
    size_t n = fr6_frame(g_frame, tb->dev[1]->hwaddr, PEER_MAC, &PEER, &OURS, 255, 0, NULL, 0,
                         NS_IPPROTO_ICMPV6, g_msg, m);
    tb_rx(tb, 1, g_frame, n, 1);
    uint8_t mac[6];
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, mac), ND_STALE);
    assert_memory_equal(mac, PEER_MAC, 6);
    /* With override: the new address, STALE (unsolicited). */
    m = fr6_na(g_msg, &PEER, &OURS, &PEER, other_mac, false, true);
    n = fr6_frame(g_frame, tb->dev[1]->hwaddr, PEER_MAC, &PEER, &OURS, 255, 0, NULL, 0,
                  NS_IPPROTO_ICMPV6, g_msg, m);
    tb_rx(tb, 1, g_frame, n, 2);
    assert_int_equal(nd_lookup(tb->st, 1, &PEER, mac), ND_STALE);
    assert_memory_equal(mac, other_mac, 6);
    tb_free(tb);
}

/* ---- extension headers ------------------------------------------------------------------ */

/* Send `ext` before an echo request and return the Parameter Problem
 * that comes back (the peer is resolved first). */
static bool ext_probe(struct tb *tb, uint8_t first_nh, const uint8_t *ext, size_t ext_len,
                      uint8_t proto, struct fr6_pkt *p, uint64_t t)
{
    static const uint8_t d[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t m = fr6_icmp(g_msg, &PEER, &OURS, NS_ICMP6_ECHO_REQUEST, 0, 0x42420001u, d, sizeof(d));
    size_t n = fr6_frame(g_frame, tb->dev[1]->hwaddr, PEER_MAC, &PEER, &OURS, 64, first_nh, ext,
                         ext_len, proto, g_msg, m);
    tb_rx(tb, 1, g_frame, n, t);
    return tb_take6(tb, 1, p);
}

static void test_extension_headers(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, true);
    resolve_peer(tb, 0);
    struct fr6_pkt p;
    uint64_t t = 10 * US_S; /* each error 2 s apart: under the rate limit */

    /* Hop-by-Hop with PadN, Destination Options with PadN: accepted. */
    uint8_t hbh[16] = {NS_IP6_NH_DSTOPTS, 0, NS_IP6_OPT_PADN, 4, 0, 0, 0, 0,
                       NS_IPPROTO_ICMPV6, 0, NS_IP6_OPT_PADN, 4, 0, 0, 0, 0};
    assert_true(ext_probe(tb, NS_IP6_NH_HOPOPTS, hbh, 16, NS_IPPROTO_ICMPV6, &p, t));
    assert_int_equal(p.icmp.type, NS_ICMP6_ECHO_REPLY);

    /* Routing type 0 with segments left: Parameter Problem code 0 at the
     * type field (RFC 5095 §3): 40 + 2. */
    uint8_t rh0[24] = {NS_IPPROTO_ICMPV6, 2, 0, 1};
    assert_true(ext_probe(tb, NS_IP6_NH_ROUTING, rh0, 24, NS_IPPROTO_ICMPV6, &p, t += 2 * US_S));
    assert_int_equal(p.icmp.type, NS_ICMP6_PARAM_PROB);
    assert_int_equal(p.icmp.code, NS_ICMP6_PP_HEADER);
    assert_int_equal(p.icmp.pointer, 42);
    /* ... and with segments left 0 it is ignored (RFC 8200 §4.4). */
    uint8_t rh0z[24] = {NS_IPPROTO_ICMPV6, 2, 0, 0};
    assert_true(ext_probe(tb, NS_IP6_NH_ROUTING, rh0z, 24, NS_IPPROTO_ICMPV6, &p, t += 2 * US_S));
    assert_int_equal(p.icmp.type, NS_ICMP6_ECHO_REPLY);

    /* Unknown option, action 10: Parameter Problem code 2 at the option. */
    uint8_t dst10[8] = {NS_IPPROTO_ICMPV6, 0, 0x80 | 0x1e, 4, 0, 0, 0, 0};
    assert_true(ext_probe(tb, NS_IP6_NH_DSTOPTS, dst10, 8, NS_IPPROTO_ICMPV6, &p, t += 2 * US_S));
    assert_int_equal(p.icmp.type, NS_ICMP6_PARAM_PROB);
    assert_int_equal(p.icmp.code, NS_ICMP6_PP_OPTION);
    assert_int_equal(p.icmp.pointer, 42);
    /* Action 01: dropped silently; action 00: skipped. */
    uint8_t dst01[8] = {NS_IPPROTO_ICMPV6, 0, 0x40 | 0x1e, 4, 0, 0, 0, 0};
    assert_false(ext_probe(tb, NS_IP6_NH_DSTOPTS, dst01, 8, NS_IPPROTO_ICMPV6, &p, t += 2 * US_S));
    uint8_t dst00[8] = {NS_IPPROTO_ICMPV6, 0, 0x1e, 4, 0, 0, 0, 0};
    assert_true(ext_probe(tb, NS_IP6_NH_DSTOPTS, dst00, 8, NS_IPPROTO_ICMPV6, &p, t += 2 * US_S));
    assert_int_equal(p.icmp.type, NS_ICMP6_ECHO_REPLY);

    /* Hop-by-Hop after a Destination Options header: code 1 at the Next
     * Header that names it (40). */
    uint8_t late[16] = {NS_IP6_NH_HOPOPTS, 0, NS_IP6_OPT_PADN, 4, 0, 0, 0, 0,
                        NS_IPPROTO_ICMPV6, 0, NS_IP6_OPT_PADN, 4, 0, 0, 0, 0};
    assert_true(ext_probe(tb, NS_IP6_NH_DSTOPTS, late, 16, NS_IPPROTO_ICMPV6, &p, t += 2 * US_S));
    assert_int_equal(p.icmp.type, NS_ICMP6_PARAM_PROB);
    assert_int_equal(p.icmp.code, NS_ICMP6_PP_NEXT_HEADER);
    assert_int_equal(p.icmp.pointer, 40);

    /* An unknown upper layer (253): code 1 at the fixed header's Next
     * Header (6). */
    assert_true(ext_probe(tb, 0, NULL, 0, 253, &p, t += 2 * US_S));
    assert_int_equal(p.icmp.type, NS_ICMP6_PARAM_PROB);
    assert_int_equal(p.icmp.code, NS_ICMP6_PP_NEXT_HEADER);
    assert_int_equal(p.icmp.pointer, 6);
    assert_int_equal(CTR(tb, ip6_drop_routing), 1);
    assert_int_equal(CTR(tb, ip6_drop_option), 2);
    assert_int_equal(CTR(tb, ip6_drop_bad_hdr), 1);
    assert_int_equal(CTR(tb, ip6_drop_unknown_proto), 1);
    tb_assert_quiet(tb);
    tb_free(tb);
}

/* ---- fragments ---------------------------------------------------------------------------- */

/* Send g_msg[0..len) (an ICMPv6 message) as fragments of `piece` data
 * bytes (multiple of 8) with ID id, in the order of `order` (indices), at t. */
static void send_frags(struct tb *tb, size_t len, size_t piece, uint32_t id, const unsigned *order,
                       unsigned n, uint64_t t)
{
    for (unsigned k = 0; k < n; k++) {
        size_t off = order[k] * piece;
        size_t chunk = len - off < piece ? len - off : piece;
        uint8_t fh[8];
        struct ns_ip6_frag_repr fr = {.next_hdr = NS_IPPROTO_ICMPV6, .offset = (uint16_t)off,
                                      .mf = off + chunk < len, .id = id};
        ns_ip6_frag_emit(&fr, fh);
        uint8_t ext[8 + 1500];
        memcpy(ext, fh, 8);
        size_t fn = fr6_frame(g_frame, tb->dev[1]->hwaddr, PEER_MAC, &PEER, &OURS, 64,
                              NS_IP6_NH_FRAGMENT, ext, 8, 0, g_msg + off, chunk);
        /* fr6_frame put proto 0 after ext: the fragment header names it. */
        tb_rx(tb, 1, g_frame, fn, t);
    }
}

static void test_fragmented_echo_both_ways(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, true);
    resolve_peer(tb, 0);
    uint8_t data[3000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    size_t len = fr6_icmp(g_msg, &PEER, &OURS, NS_ICMP6_ECHO_REQUEST, 0, 0x42420005u, data,
                          sizeof(data));
    unsigned order[3] = {2, 0, 1};
    send_frags(tb, len, 1232, 77, order, 3, 1 * US_S);
    assert_int_equal(CTR(tb, ip6_reass_ok), 1);
    /* The reply: 3008 bytes of ICMPv6 in fragments of at most 1500 bytes,
     * one ID, offsets contiguous, reassembled by hand equal to the echo. */
    uint8_t whole[4000];
    size_t got = 0;
    uint32_t id = 0;
    struct fr6_pkt p;
    unsigned nfrag = 0;
    bool last = false;
    while (tb_take6(tb, 1, &p)) {
        assert_true(p.w.has_frag);
        assert_true(p.ip_len <= 1500);
        if (nfrag == 0)
            id = p.w.frag.id;
        assert_int_equal(p.w.frag.id, id);
        assert_int_equal(p.w.frag.offset, got);
        size_t dl = p.ip_len - p.w.frag_off - 8;
        memcpy(whole + got, p.ip_hdr + p.w.frag_off + 8, dl);
        got += dl;
        last = !p.w.frag.mf;
        nfrag++;
    }
    assert_true(last);
    assert_int_equal(nfrag, 3);
    assert_int_equal(got, len);
    assert_int_equal(whole[0], NS_ICMP6_ECHO_REPLY);
    assert_memory_equal(whole + 8, data, sizeof(data));
    tb_free(tb);
}

static void test_fragment_overlap_and_atomic(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, true);
    resolve_peer(tb, 0);
    uint8_t data[2000] = {0};
    size_t len = fr6_icmp(g_msg, &PEER, &OURS, NS_ICMP6_ECHO_REQUEST, 0, 0x42420006u, data,
                          sizeof(data));
    /* 0..1232 and then 1224..: overlapping (RFC 5722): the datagram goes,
     * even when the rest comes. */
    unsigned first[1] = {0};
    send_frags(tb, len, 1232, 5, first, 1, 1);
    uint8_t fh[8];
    struct ns_ip6_frag_repr fr = {.next_hdr = NS_IPPROTO_ICMPV6, .offset = 1224, .mf = false,
                                  .id = 5};
    ns_ip6_frag_emit(&fr, fh);
    size_t fn = fr6_frame(g_frame, tb->dev[1]->hwaddr, PEER_MAC, &PEER, &OURS, 64,
                          NS_IP6_NH_FRAGMENT, fh, 8, 0, g_msg + 1224, len - 1224);
    tb_rx(tb, 1, g_frame, fn, 2);
    assert_int_equal(CTR(tb, ip6_reass_drop_overlap), 1);
    assert_int_equal(ip6_reass_count(tb->st), 0);
    assert_int_equal(tb_pending(tb, 1), 0);
    /* An atomic fragment (offset 0, M clear) is the whole packet (RFC
     * 6946 §4): answered, not queued for reassembly. */
    len = fr6_icmp(g_msg, &PEER, &OURS, NS_ICMP6_ECHO_REQUEST, 0, 0x42420007u, data, 16);
    unsigned one[1] = {0};
    send_frags(tb, len, 1232, 6, one, 1, 3);
    struct fr6_pkt p;
    assert_true(tb_take6(tb, 1, &p));
    assert_int_equal(p.icmp.type, NS_ICMP6_ECHO_REPLY);
    assert_int_equal(CTR(tb, ip6_rx_atomic_frag), 1);
    assert_int_equal(CTR(tb, ip6_reass_frags), 2);
    tb_free(tb);
}

/* RFC 8200 §4.5: after 60 s, Time Exceeded code 1 quoting the first
 * fragment; without the first fragment, silence. */
static void test_reassembly_timeout(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, true);
    resolve_peer(tb, 0);
    uint8_t data[2000] = {0};
    size_t len = fr6_icmp(g_msg, &PEER, &OURS, NS_ICMP6_ECHO_REQUEST, 0, 0x42420008u, data,
                          sizeof(data));
    unsigned first[1] = {0}, second[1] = {1};
    send_frags(tb, len, 1232, 9, first, 1, 1 * US_S);
    send_frags(tb, len, 1232, 10, second, 1, 1 * US_S);
    assert_int_equal(ip6_reass_count(tb->st), 2);
    tb_poll(tb, 61 * US_S - 1);
    assert_int_equal(tb_pending(tb, 1), 0);
    tb_poll(tb, 61 * US_S);
    assert_int_equal(ip6_reass_count(tb->st), 0);
    assert_int_equal(CTR(tb, ip6_reass_drop_timeout), 2);
    struct fr6_pkt p;
    assert_true(tb_take6(tb, 1, &p));
    assert_int_equal(p.icmp.type, NS_ICMP6_TIME_EXCEEDED);
    assert_int_equal(p.icmp.code, NS_ICMP6_TE_REASSEMBLY);
    assert_int_equal(tb_pending(tb, 1), 0);
    tb_free(tb);
}

/* ---- ICMPv6 errors and PMTU ------------------------------------------------------------------ */

/* Linux icmpv6_xrlim_allow: 1000 ms >> ((128 - 64) >> 5) = 250 ms per
 * destination on a /64, six deep. */
static void test_error_rate_limit(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, true);
    resolve_peer(tb, 0);
    struct fr6_pkt p;
    unsigned answered = 0;
    for (int i = 0; i < 10; i++)
        if (ext_probe(tb, 0, NULL, 0, 253, &p, 10 * US_S))
            answered++;
    assert_int_equal(answered, 6);
    assert_int_equal(CTR(tb, icmp6_err_ratelimited), 4);
    /* 250 ms later: one more. */
    assert_false(ext_probe(tb, 0, NULL, 0, 253, &p, 10 * US_S + 249999));
    assert_true(ext_probe(tb, 0, NULL, 0, 253, &p, 10 * US_S + 250000));
    tb_free(tb);
}

static void test_packet_too_big_lowers_path_mtu(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, true);
    resolve_peer(tb, 0);
    /* A PTB from a router quoting a packet of ours to PEER. */
    struct ns_ip6_addr router = fr6_addr("2001:db8::fe");
    uint8_t quote[48];
    struct ns_ip6_repr inner = {.payload_len = 1460, .next_hdr = NS_IPPROTO_UDP, .hop_limit = 64,
                                .src = OURS, .dst = PEER};
    ns_ip6_emit(&inner, quote);
    memset(quote + 40, 0, 8);
    size_t m = fr6_icmp(g_msg, &router, &OURS, NS_ICMP6_PACKET_TOO_BIG, 0, 1400, quote, 48);
    size_t n = fr6_frame(g_frame, tb->dev[1]->hwaddr, PEER_MAC, &router, &OURS, 64, 0, NULL, 0,
                         NS_IPPROTO_ICMPV6, g_msg, m);
    uint32_t gen = tb->st->net->egress_gen;
    tb_rx(tb, 1, g_frame, n, 1);
    assert_int_equal(pmtu6_get(tb->st, &PEER), 1400);
    assert_true(tb->st->net->egress_gen != gen);
    struct ns_iface *ifp = ns_iface_get(tb->st, 1);
    assert_int_equal(ip6_path_mtu(tb->st, ifp, &PEER), 1400);
    /* Never raised by a PTB; below 1280 is 1280 (RFC 8201 §4). */
    m = fr6_icmp(g_msg, &router, &OURS, NS_ICMP6_PACKET_TOO_BIG, 0, 1450, quote, 48);
    n = fr6_frame(g_frame, tb->dev[1]->hwaddr, PEER_MAC, &router, &OURS, 64, 0, NULL, 0,
                  NS_IPPROTO_ICMPV6, g_msg, m);
    tb_rx(tb, 1, g_frame, n, 2);
    assert_int_equal(pmtu6_get(tb->st, &PEER), 1400);
    m = fr6_icmp(g_msg, &router, &OURS, NS_ICMP6_PACKET_TOO_BIG, 0, 600, quote, 48);
    n = fr6_frame(g_frame, tb->dev[1]->hwaddr, PEER_MAC, &router, &OURS, 64, 0, NULL, 0,
                  NS_IPPROTO_ICMPV6, g_msg, m);
    tb_rx(tb, 1, g_frame, n, 3);
    assert_int_equal(pmtu6_get(tb->st, &PEER), 1280);
    /* A 1452-byte echo now leaves in fragments of at most 1280 bytes. */
    uint8_t data[1452] = {0};
    peer_echo(tb, &OURS, 9, data, sizeof(data), 4);
    struct fr6_pkt p;
    unsigned frags = 0;
    while (tb_take6(tb, 1, &p)) {
        assert_true(p.w.has_frag);
        assert_true(p.ip_len <= 1280);
        frags++;
    }
    assert_int_equal(frags, 2);
    /* Expired after 10 minutes (Linux mtu_expires). */
    tb_poll(tb, 3 + 600 * US_S);
    assert_int_equal(pmtu6_get(tb->st, &PEER), 0);
    tb_free(tb);
}

/* RFC 4443 §2.4 (e): no error about a packet to multicast, except a
 * Parameter Problem code 2 for an option whose action bits are 10; none
 * about an ICMPv6 error. */
static void test_errors_never_about_multicast_or_errors(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, true);
    resolve_peer(tb, 0);
    static const uint8_t d[8] = {0};
    uint64_t t = 10 * US_S;
    struct fr6_pkt p;
    uint8_t mac[6];
    ns_ip6_mcast_mac(&ns_ip6_all_nodes, mac);
    for (int action = 2; action <= 3; action++) {
        uint8_t opt[8] = {NS_IPPROTO_ICMPV6, 0, (uint8_t)(action << 6 | 0x1e), 4, 0, 0, 0, 0};
        size_t m = fr6_icmp(g_msg, &PEER, &ns_ip6_all_nodes, NS_ICMP6_ECHO_REQUEST, 0, 1, d, 8);
        size_t n = fr6_frame(g_frame, mac, PEER_MAC, &PEER, &ns_ip6_all_nodes, 64,
                             NS_IP6_NH_DSTOPTS, opt, 8, NS_IPPROTO_ICMPV6, g_msg, m);
        tb_rx(tb, 1, g_frame, n, t += 2 * US_S);
        if (action == 2) {
            assert_true(tb_take6(tb, 1, &p));
            assert_int_equal(p.icmp.type, NS_ICMP6_PARAM_PROB);
            assert_int_equal(p.icmp.code, NS_ICMP6_PP_OPTION);
        } else {
            assert_int_equal(tb_pending(tb, 1), 0);
        }
    }
    /* An unknown protocol to all-nodes: silence (code 1 is not exempt). */
    size_t n = fr6_frame(g_frame, mac, PEER_MAC, &PEER, &ns_ip6_all_nodes, 64, 0, NULL, 0, 253,
                         d, 8);
    tb_rx(tb, 1, g_frame, n, t += 2 * US_S);
    assert_int_equal(tb_pending(tb, 1), 0);
    /* A Destination Unreachable with an unknown option (action 10) in a
     * Destination Options header: dropped, never answered (e.1). */
    uint8_t opt[8] = {NS_IPPROTO_ICMPV6, 0, 0x80 | 0x1e, 4, 0, 0, 0, 0};
    size_t m = fr6_icmp(g_msg, &PEER, &OURS, NS_ICMP6_DEST_UNREACH, 4, 0, d, 8);
    n = fr6_frame(g_frame, tb->dev[1]->hwaddr, PEER_MAC, &PEER, &OURS, 64, NS_IP6_NH_DSTOPTS, opt,
                  8, NS_IPPROTO_ICMPV6, g_msg, m);
    tb_rx(tb, 1, g_frame, n, t += 2 * US_S);
    assert_int_equal(tb_pending(tb, 1), 0);
    /* Action 11 to multicast asks for no error at all: not counted. */
    assert_int_equal(CTR(tb, icmp6_err_suppressed), 2);
    tb_free(tb);
}

/* The IPv6 table has its own memory cap (ip_reass_mem_max, as Linux's
 * per-family ip6frag_high_thresh): the oldest datagrams go first; and a
 * datagram of more than ip_reass_max_frags fragments goes. */
static void test_reassembly_bounds(void **state)
{
    (void)state;
    addrs();
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.ip_reass_mem_max = 16 * 1024;
    cfg.ip_reass_max_frags = 4;
    struct tb *tb = tb_new(&cfg, 0);
    tb_add_if(tb, 1500, FR_IP(192, 0, 2, 1), 24);
    assert_int_equal(ns_if_addr_add(tb->st, 1, AF_INET6, OURS.b, 64), 0);
    uint8_t data[4000] = {0};
    size_t len = fr6_icmp(g_msg, &PEER, &OURS, NS_ICMP6_ECHO_REQUEST, 0, 1, data, sizeof(data));
    unsigned first[1] = {0};
    for (uint32_t id = 1; id <= 12; id++)
        send_frags(tb, len, 1232, id, first, 1, id);
    assert_true(ip6_reass_mem(tb->st) <= cfg.ip_reass_mem_max);
    assert_true(CTR(tb, ip6_reass_drop_mem) > 0);
    assert_true(ip6_reass_count(tb->st) < 12);
    /* IPv4's table is untouched by IPv6's datagrams. */
    assert_int_equal(ip4_reass_count(tb->st), 0);
    /* Five fragments of 8 bytes for one datagram: the fifth drops it. */
    unsigned order[5] = {0, 1, 2, 3, 4};
    send_frags(tb, len, 8, 99, order, 5, 20);
    assert_int_equal(CTR(tb, ip6_reass_drop_too_many), 1);
    tb_poll(tb, 200 * US_S);
    assert_int_equal(ip6_reass_count(tb->st), 0);
    /* The Time Exceeded errors wait for the peer's address, which never
     * comes: 3 s later they are dropped too. */
    for (uint64_t k = 201; k <= 204; k++)
        tb_poll(tb, k * US_S);
    assert_int_equal(nd_count(tb->st), 0);
    tb_drain(tb, 1);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* DAD's probe (RFC 4862 §5.4.2): an NS from ::, to the target's
 * solicited-node group, without a source link-layer address; MLD's
 * Hop-by-Hop header through ip6_output's ext. */
static void test_dad_probe_and_ext_output(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, true);
    struct ns_iface *ifp = ns_iface_get(tb->st, 1);
    struct ns_ip6_addr tentative = fr6_addr("2001:db8::77");
    nd_send_ns(tb->st, ifp, &ns_ip6_unspecified, &tentative, false);
    struct fr6_pkt p;
    assert_true(tb_take6(tb, 1, &p));
    assert_true(p.is_nd);
    assert_int_equal(p.nd.type, NS_ICMP6_NS);
    assert_true(ns_ip6_is_unspecified(&p.ip.src));
    struct ns_ip6_addr sn = ns_ip6_solicited_node(&tentative);
    assert_true(ns_ip6_eq(&p.ip.dst, &sn));
    assert_null(p.nd.sll);
    /* Hop-by-Hop with Router Alert in front of an ICMPv6 message. */
    uint8_t hbh[NS_IP6_HBH_RA_LEN];
    ns_ip6_hbh_ra_emit(NS_IPPROTO_ICMPV6, NS_IP6_RA_MLD, hbh);
    uint8_t msg[8];
    size_t m = fr6_icmp(msg, &OURS, &ns_ip6_all_nodes, NS_ICMP6_ECHO_REQUEST, 0, 1, NULL, 0);
    struct ns_pbuf *pb = ns_stack_alloc(tb->st, NS_PBUF_HEADROOM, (uint32_t)m);
    assert_non_null(pb);
    memcpy(ns_pbuf_data(pb), msg, m);
    struct ip6_out o = {.src = OURS, .dst = ns_ip6_all_nodes, .proto = NS_IPPROTO_ICMPV6,
                        .oif = 1, .hop_limit = 1, .hop_limit_set = true,
                        .ext_type = NS_IP6_NH_HOPOPTS, .ext = hbh, .ext_len = sizeof(hbh)};
    assert_int_equal(ip6_output(tb->st, &o, pb), 0);
    assert_true(tb_take6(tb, 1, &p));
    assert_int_equal(p.ip.next_hdr, NS_IP6_NH_HOPOPTS);
    assert_int_equal(p.ip.hop_limit, 1);
    assert_int_equal(p.w.n_ext, 1);
    assert_true(p.is_icmp);
    assert_int_equal(p.icmp.type, NS_ICMP6_ECHO_REQUEST);
    tb_free(tb);
}

/* Two netsock stacks on one wire resolve each other (both sides of NS/NA
 * are ours) and exchange a fragmented echo. */
static void test_two_stacks(void **state)
{
    (void)state;
    addrs();
    struct tb *a = tb_new(NULL, 0), *b = tb_new(NULL, 0);
    tb_add_if(a, 1500, 0, 0);
    tb_add_if(b, 1500, 0, 0);
    /* b's MAC differs from a's (both benches number their interfaces alike). */
    b->dev[1]->hwaddr[5] = 0x02;
    assert_int_equal(ns_if_addr_add(a->st, 1, AF_INET6, OURS.b, 64), 0);
    assert_int_equal(ns_if_addr_add(b->st, 1, AF_INET6, PEER.b, 64), 0);
    uint8_t data[3000];
    memset(data, 0x5a, sizeof(data));
    uint8_t msg[3100];
    size_t m = fr6_icmp(msg, &OURS, &PEER, NS_ICMP6_ECHO_REQUEST, 0, 0x00010001u, data,
                        sizeof(data));
    assert_int_equal(icmp6_send(a->st, NULL, NULL, &PEER, 0, msg, m), 0);
    /* Carry frames both ways until the wire is quiet. */
    static uint8_t f[FR_MAX];
    for (int round = 0; round < 20; round++) {
        long n;
        bool moved = false;
        while ((n = ns_qdev_take(a->dev[1], f, sizeof(f))) >= 0) {
            tb_rx(b, 1, f, (size_t)n, (uint64_t)round);
            moved = true;
        }
        while ((n = ns_qdev_take(b->dev[1], f, sizeof(f))) >= 0) {
            tb_rx(a, 1, f, (size_t)n, (uint64_t)round);
            moved = true;
        }
        if (!moved)
            break;
    }
    assert_int_equal(CTR(b, icmp6_rx_echo), 1);
    assert_int_equal(CTR(b, ip6_reass_ok), 1);
    assert_int_equal(CTR(a, ip6_reass_ok), 1); /* the reply, fragmented by b */
    assert_int_equal(nd_lookup(a->st, 1, &PEER, NULL), ND_REACHABLE);
    assert_true(nd_lookup(b->st, 1, &OURS, NULL) > 0);
    tb_free(a);
    tb_free(b);
}

/* What a flood can fill is bounded: echo requests from many on-link
 * sources that never answer NS make at most arp_unres_max neighbours
 * being resolved (the budget ARP shares), the rest dropped and counted;
 * NS with source link-layer addresses from many sources make at most
 * arp_cache_max entries, the least recently used evicted. */
static void test_neighbour_flood_bounds(void **state)
{
    (void)state;
    addrs();
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.arp_unres_max = 4;
    cfg.arp_cache_max = 8;
    struct tb *tb = tb_new(&cfg, 0);
    tb_add_if(tb, 1500, FR_IP(192, 0, 2, 1), 24);
    assert_int_equal(ns_if_addr_add(tb->st, 1, AF_INET6, OURS.b, 64), 0);
    static const uint8_t d[4] = {0};
    struct ns_ip6_addr saved = PEER;
    for (int i = 0; i < 10; i++) {
        PEER.b[15] = (uint8_t)(0x20 + i);
        peer_echo(tb, &OURS, (uint16_t)i, d, sizeof(d), 1);
    }
    assert_int_equal(nd_count(tb->st), 4);
    assert_int_equal(CTR(tb, nd_unres_drop), 6);
    tb_drain(tb, 1);
    struct ns_ip6_addr sn = ns_ip6_solicited_node(&OURS);
    uint8_t mac[6];
    ns_ip6_mcast_mac(&sn, mac);
    for (int i = 0; i < 20; i++) {
        PEER.b[15] = (uint8_t)(0x80 + i);
        size_t m = fr6_ns(g_msg, &PEER, &sn, &OURS, PEER_MAC);
        size_t n = fr6_frame(g_frame, mac, PEER_MAC, &PEER, &sn, 255, 0, NULL, 0,
                             NS_IPPROTO_ICMPV6, g_msg, m);
        tb_rx(tb, 1, g_frame, n, 2);
    }
    assert_int_equal(nd_count(tb->st), 8);
    assert_true(CTR(tb, nd_evict) >= 12);
    PEER = saved;
    for (uint64_t k = 3; k < 200; k += 1)
        tb_poll(tb, k * US_S);
    tb_drain(tb, 1);
    assert_int_equal(nd_count(tb->st), 0);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* ::1 through the loopback: ping ourselves. */
static void test_loopback(void **state)
{
    (void)state;
    struct tb *tb = bench6(1500, true);
    struct ip_egress eg;
    ip6_egress_decide(tb->st, &ns_ip6_loopback, 0, &eg);
    assert_int_equal(eg.err, 0);
    assert_true(eg.local);
    assert_int_equal(eg.ifp->index, link_lo_ifindex(tb->st));
    assert_true(ip6_enabled(tb->st, link_lo_ifindex(tb->st)));
    /* An echo request to ::1 comes back as a reply to ::1, through the
     * loopback; nothing leaves the Ethernet interface. */
    uint8_t msg[16];
    size_t m = fr6_icmp(msg, &ns_ip6_loopback, &ns_ip6_loopback, NS_ICMP6_ECHO_REQUEST, 0, 1,
                        NULL, 0);
    assert_int_equal(icmp6_send(tb->st, NULL, &ns_ip6_loopback, &ns_ip6_loopback, 0, msg, m), 0);
    for (int i = 0; i < 4; i++)
        tb_poll(tb, (uint64_t)i);
    assert_int_equal(CTR(tb, icmp6_rx_echo), 1);
    assert_int_equal(CTR(tb, icmp6_tx_echo_reply), 1);
    assert_int_equal(tb_pending(tb, 1), 0);
    tb_free(tb);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disabled_interface_takes_and_sends_nothing),
        cmocka_unit_test(test_enable_adds_link_local_and_groups),
        cmocka_unit_test(test_echo_resolves_the_peer),
        cmocka_unit_test(test_ns_is_answered_and_teaches_stale),
        cmocka_unit_test(test_nud_transitions_at_exact_times),
        cmocka_unit_test(test_incomplete_gives_up_after_three),
        cmocka_unit_test(test_na_without_override),
        cmocka_unit_test(test_extension_headers),
        cmocka_unit_test(test_fragmented_echo_both_ways),
        cmocka_unit_test(test_fragment_overlap_and_atomic),
        cmocka_unit_test(test_reassembly_timeout),
        cmocka_unit_test(test_error_rate_limit),
        cmocka_unit_test(test_packet_too_big_lowers_path_mtu),
        cmocka_unit_test(test_errors_never_about_multicast_or_errors),
        cmocka_unit_test(test_reassembly_bounds),
        cmocka_unit_test(test_dad_probe_and_ext_output),
        cmocka_unit_test(test_two_stacks),
        cmocka_unit_test(test_neighbour_flood_bounds),
        cmocka_unit_test(test_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
