/* tests/fuzz/fuzz_wire.c — libFuzzer target for every parser in
 * src/wire/: each one gets the same bytes. A parser that accepts its input
 * must produce a repr that emits back to bytes it parses again to the same
 * repr (round trip), so a parser/emitter disagreement is a crash here,
 * not a silent corruption later. The IPv6 family (fuzz_ip6 and below)
 * also checks what the walkers report stays inside what they were given.
 *
 * Run: make fuzz, or build-test/tests/fuzz_wire -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/ipv6.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c))                                                              \
            abort();                                                           \
    } while (0)

static uint8_t out[65536 + 64];
static uint8_t out2[65536 + 64];

/* An address from 16 bytes of input (zero-padded). */
static struct ns_ip6_addr addr_from(const uint8_t *data, size_t size, size_t off)
{
    struct ns_ip6_addr a = {{0}};
    for (size_t i = 0; i < 16 && off + i < size; i++)
        a.b[i] = data[off + i];
    return a;
}

/* Every option of one options header: pointers inside it, then the
 * verdict (which must not contradict the iterator). */
static void fuzz_ip6_opts(const uint8_t *hdr, size_t len, uint32_t base, bool hbh, bool mcast)
{
    struct ns_ip6_opt_iter it;
    struct ns_ip6_opt o;
    int rc, n = 0;
    ns_ip6_opt_iter_init(&it, hdr, len, base);
    while ((rc = ns_ip6_opt_next(&it, &o)) == 1) {
        CHECK(o.ptr >= base + 2 && o.ptr + 2 + o.len <= base + len);
        CHECK(o.data == hdr + (o.ptr - base) + 2);
        CHECK(++n <= NS_IP6_MAX_OPTS);
    }
    CHECK(ns_ip6_opt_next(&it, &o) == rc); /* errors and the end are sticky */
    struct ns_ip6_opts_result r;
    int v = ns_ip6_opts_process(hdr, len, base, hbh, mcast, &r);
    if (rc < 0)
        CHECK(v < 0);
    if (r.send_icmp)
        CHECK(r.icmp_ptr >= base + 2 && r.icmp_ptr < base + len &&
              (v == -NS_WIRE_OPT_DISCARD || v == -NS_WIRE_JUMBO));
}

/* The IPv6 header, its extension headers and their options. */
static void fuzz_ip6(const uint8_t *data, size_t size)
{
    struct ns_ip6_repr ip, ip2;
    size_t pkt_len = size;
    if (ns_ip6_parse(data, size, &ip) == 0) {
        /* Every bit of the fixed header is in the repr. */
        pkt_len = NS_IP6_HLEN + ip.payload_len;
        ns_ip6_emit(&ip, out);
        CHECK(memcmp(out, data, NS_IP6_HLEN) == 0);
        memcpy(out + NS_IP6_HLEN, data + NS_IP6_HLEN, ip.payload_len);
        CHECK(ns_ip6_parse(out, pkt_len, &ip2) == 0 && ip2.payload_len == ip.payload_len);
        (void)ns_ip6_check_addrs(&ip);
    }
    struct ns_ip6_ext_info w;
    if (ns_ip6_ext_walk(data, pkt_len, &w) == 0) {
        CHECK(w.upper_off <= pkt_len && w.upper_nh_off < w.upper_off);
        CHECK(w.n_ext <= NS_IP6_MAX_EXT);
        uint32_t end = NS_IP6_HLEN;
        for (unsigned i = 0; i < w.n_ext; i++) {
            CHECK(w.ext[i].off == end);
            end += w.ext[i].len;
            CHECK(end <= pkt_len);
            if (w.ext[i].type == NS_IP6_NH_HOPOPTS || w.ext[i].type == NS_IP6_NH_DSTOPTS)
                fuzz_ip6_opts(data + w.ext[i].off, w.ext[i].len, w.ext[i].off,
                              w.ext[i].type == NS_IP6_NH_HOPOPTS, (data[0] & 1) != 0);
        }
        CHECK(end == w.upper_off);
        if (w.has_frag)
            CHECK(w.frag_off + NS_IP6_FRAG_HLEN <= pkt_len && data[w.frag_nh_off] == 44);
        if (w.has_rt)
            CHECK(data[w.rt_off + 2] == w.rt_type);
        uint32_t ptr = 0;
        if (ns_ip6_frag_check(&w, pkt_len, &ptr) < 0)
            CHECK(ptr < pkt_len);
        if (w.upper == NS_IPPROTO_UDP && !w.fragment) {
            struct ns_udp_repr u;
            if (ns_udp6_parse(data + w.upper_off, pkt_len - w.upper_off, &u) == 0) {
                CHECK(u.csum != 0);
                (void)ns_udp6_csum_ok(&ip.src, &ip.dst, data + w.upper_off, u.len);
            }
        }
    }
    (void)ns_icmp6_error_allowed(data, size, data[0], size > 1 ? data[1] : 0, size & 1);

    struct ns_ip6_frag_repr f, f2;
    if (ns_ip6_frag_parse(data, size, &f) == 0) {
        ns_ip6_frag_emit(&f, out);
        CHECK(ns_ip6_frag_parse(out, NS_IP6_FRAG_HLEN, &f2) == 0 && f.next_hdr == f2.next_hdr &&
              f.offset == f2.offset && f.mf == f2.mf && f.id == f2.id);
    }
    /* The input as one options header by itself. */
    if (size >= 2) {
        size_t hlen = ((size_t)data[1] + 1) * 8;
        fuzz_ip6_opts(data, hlen < size ? hlen : size, 40, data[0] & 1, data[0] & 2);
    }
}

/* ICMPv6, NDP and MLD, with addresses and a hop limit taken from the
 * input's first 33 bytes and the message after them. */
static void fuzz_icmp6(const uint8_t *data, size_t size)
{
    if (size < 33)
        return;
    struct ns_ip6_repr ip = {.hop_limit = data[32], .next_hdr = NS_IPPROTO_ICMPV6};
    ip.src = addr_from(data, size, 0);
    ip.dst = addr_from(data, size, 16);
    const uint8_t *msg = data + 33;
    size_t len = size - 33;

    struct ns_icmp6_repr ic, ic2;
    if (ns_icmp6_parse(&ip.src, &ip.dst, msg, len, &ic, false) == 0) {
        CHECK(ic.payload_len == len - NS_ICMP6_HLEN);
        ns_icmp6_emit(&ip.src, &ip.dst, &ic, out);
        CHECK(ns_icmp6_parse(&ip.src, &ip.dst, out, len, &ic2, true) == 0);
        CHECK(ic2.type == ic.type && ic2.code == ic.code && ic2.rest == ic.rest &&
              !memcmp(out + 4, msg + 4, len - 4));
        (void)ns_icmp6_describe(ic.type, ic.code);
    }

    struct ns_ndp_repr nd, nd2;
    /* Half the time with the hop limit NDP wants, to get past it. */
    struct ns_ip6_repr ndip = ip;
    if (data[32] & 1)
        ndip.hop_limit = NS_NDP_HOP_LIMIT;
    if (ns_ndp_parse(&ndip, msg, len, &nd) == 0) {
        CHECK(nd.opts + nd.opts_len == msg + len);
        size_t n = ns_ndp_emit(&ndip.src, &ndip.dst, &nd, out);
        CHECK(n == len);
        CHECK(ns_ndp_parse(&ndip, out, n, &nd2) == 0);
        CHECK(nd2.type == nd.type && nd2.cur_hop_limit == nd.cur_hop_limit &&
              nd2.ra_flags == nd.ra_flags && nd2.router_lifetime_s == nd.router_lifetime_s &&
              nd2.reachable_ms == nd.reachable_ms && nd2.retrans_ms == nd.retrans_ms &&
              nd2.router == nd.router && nd2.solicited == nd.solicited &&
              nd2.override == nd.override && ns_ip6_eq(&nd2.target, &nd.target) &&
              ns_ip6_eq(&nd2.dest, &nd.dest) && nd2.opts_len == nd.opts_len &&
              nd2.has_mtu == nd.has_mtu && nd2.mtu == nd.mtu && nd2.sll_len == nd.sll_len &&
              (nd.sll == NULL) == (nd2.sll == NULL));
        CHECK(ns_icmp6_csum(&ndip.src, &ndip.dst, out, n) == 0);
        struct ns_ndp_opt_iter it;
        struct ns_ndp_opt o;
        ns_ndp_opt_iter_init(&it, nd.opts, nd.opts_len);
        while (ns_ndp_opt_next(&it, &o) == 1) {
            CHECK(o.body + o.body_len <= msg + len);
            struct ns_ndp_prefix pi, pi2;
            if (ns_ndp_prefix_parse(&o, &pi) == 0) {
                ns_ndp_opt_prefix_emit(out2, &pi);
                struct ns_ndp_opt_iter it2;
                struct ns_ndp_opt o2;
                ns_ndp_opt_iter_init(&it2, out2, NS_NDP_OPT_PREFIX_LEN);
                CHECK(ns_ndp_opt_next(&it2, &o2) == 1 && ns_ndp_prefix_parse(&o2, &pi2) == 0);
                CHECK(pi2.prefix_len == pi.prefix_len && pi2.flags == pi.flags &&
                      pi2.valid_s == pi.valid_s && pi2.preferred_s == pi.preferred_s &&
                      ns_ip6_eq(&pi2.prefix, &pi.prefix));
            }
            struct ns_ndp_rdnss rd;
            if (ns_ndp_rdnss_parse(&o, &rd) == 0) {
                CHECK(rd.n >= 1 && rd.addrs + rd.n * 16 <= o.body + o.body_len);
                struct ns_ip6_addr last = ns_ndp_rdnss_addr(&rd, rd.n - 1);
                (void)last;
            }
        }
    }

    struct ns_mld_query q;
    struct ns_ip6_repr mip = ip;
    mip.hop_limit = NS_MLD_HOP_LIMIT;
    mip.src.b[0] = 0xfe;
    mip.src.b[1] = 0x80;
    if (ns_mld_query_parse(&mip, true, msg, len, &q) == 0) {
        CHECK(q.version == 1 ? len == NS_MLD1_LEN : len >= NS_MLD2_QUERY_MIN_LEN);
        CHECK(q.version == 1 || q.srcs + (size_t)q.n_src * 16 <= msg + len);
    }

    struct ns_mld2_report rep;
    if (ns_mld2_report_parse(msg, len, &rep) == 0) {
        /* Re-emit the records (their aux data dropped) and parse again. */
        static struct ns_mld2_record recs[4096];
        static struct ns_ip6_addr srcs[4096];
        size_t n = 0, ns = 0;
        struct ns_mld2_record r;
        while (n < 4096 && ns_mld2_report_next(&rep, &r) == 1) {
            if (ns + r.n_src > 4096)
                break;
            for (size_t k = 0; k < r.n_src; k++)
                memcpy(srcs[ns + k].b, r.src_bytes + 16 * k, 16);
            r.srcs = srcs + ns;
            ns += r.n_src;
            recs[n++] = r;
        }
        size_t rl = ns_mld2_report_len(recs, n);
        CHECK(rl <= len);
        CHECK(ns_mld2_report_emit(&ip.src, &ip.dst, recs, n, out) == rl);
        struct ns_mld2_report back;
        CHECK(ns_mld2_report_parse(out, rl, &back) == 0 && back.n_rec == n);
        for (size_t i = 0; i < n; i++) {
            CHECK(ns_mld2_report_next(&back, &r) == 1);
            CHECK(r.type == recs[i].type && r.n_src == recs[i].n_src && r.aux_len == 0 &&
                  ns_ip6_eq(&r.group, &recs[i].group));
            CHECK(r.n_src == 0 || !memcmp(r.src_bytes, recs[i].srcs, 16 * (size_t)r.n_src));
        }
    }
}

/* Address helpers on 16 bytes of input. */
static void fuzz_ip6_addr(const uint8_t *data, size_t size)
{
    struct ns_ip6_addr a = addr_from(data, size, 0), b = addr_from(data, size, 16), back;
    char text[NS_IP6_ADDRSTRLEN];
    ns_ip6_ntoa(&a, text);
    CHECK(ns_ip6_aton(text, &back) && ns_ip6_eq(&a, &back));
    unsigned bits = size > 32 ? data[32] : 64;
    unsigned common = ns_ip6_common_prefix_len(&a, &b);
    CHECK(common <= 128 && ns_ip6_prefix_eq(&a, &b, common));
    CHECK(common == 128 || !ns_ip6_prefix_eq(&a, &b, common + 1));
    struct ns_ip6_addr m = ns_ip6_prefix_mask(&a, bits);
    CHECK(ns_ip6_prefix_eq(&m, &a, bits));
    struct ns_ip6_addr sn = ns_ip6_solicited_node(&a);
    CHECK(ns_ip6_is_solicited_node(&sn) && ns_ip6_is_multicast(&sn) && ns_ip6_scope(&sn) == 2);
    if (ns_ip6_is_v4mapped(&a)) {
        struct ns_ip6_addr v = ns_ip6_v4mapped(ns_ip6_v4mapped_to4(&a));
        CHECK(ns_ip6_eq(&v, &a));
    }
    /* Any text at all: parse it, and if it is an address, print it. */
    if (size < NS_IP6_ADDRSTRLEN) {
        char in[NS_IP6_ADDRSTRLEN];
        memcpy(in, data, size);
        in[size] = '\0';
        if (ns_ip6_aton(in, &back))
            ns_ip6_ntoa(&back, text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ns_eth_repr eth, eth2;
    if (ns_eth_parse(data, size, &eth) == 0) {
        ns_eth_emit(&eth, out);
        CHECK(ns_eth_parse(out, NS_ETH_HLEN, &eth2) == 0 && !memcmp(&eth, &eth2, sizeof(eth)));
    }

    struct ns_arp_repr arp, arp2;
    if (ns_arp_parse(data, size, &arp) == 0) {
        ns_arp_emit(&arp, out);
        CHECK(ns_arp_parse(out, NS_ARP_LEN, &arp2) == 0 && arp.op == arp2.op &&
              arp.spa == arp2.spa && arp.tpa == arp2.tpa && !memcmp(arp.sha, arp2.sha, 6) &&
              !memcmp(arp.tha, arp2.tha, 6));
    }

    struct ns_ip4_repr ip, ip2;
    if (ns_ip4_parse(data, size, &ip, false) == 0) {
        /* Emit keeps the options in place: copy the header, re-emit. */
        memcpy(out, data, ip.hlen);
        ns_ip4_emit(&ip, out);
        memcpy(out + ip.hlen, data + ip.hlen, ip.total_len - ip.hlen);
        CHECK(ns_ip4_parse(out, ip.total_len, &ip2, true) == 0);
        CHECK(ip.src == ip2.src && ip.dst == ip2.dst && ip.total_len == ip2.total_len &&
              ip.proto == ip2.proto && ip.frag_off == ip2.frag_off && ip.mf == ip2.mf &&
              ip.df == ip2.df && ip.ttl == ip2.ttl && ip.id == ip2.id);
        uint8_t copied[NS_IP4_MAX_HLEN];
        size_t n = ns_ip4_opts_copied(data + NS_IP4_HLEN, ip.hlen - NS_IP4_HLEN, copied);
        CHECK(n <= (size_t)ip.hlen - NS_IP4_HLEN);
    }

    struct ns_icmp4_repr ic;
    if (ns_icmp4_parse(data, size, &ic, false) == 0) {
        CHECK(ic.payload_len == size - NS_ICMP_HLEN);
        ns_icmp4_emit(&ic, out);
        struct ns_icmp4_repr ic2;
        CHECK(ns_icmp4_parse(out, NS_ICMP_HLEN + ic.payload_len, &ic2, true) == 0);
        CHECK(ic2.type == ic.type && ic2.code == ic.code);
    }

    struct ns_udp_repr u, u2;
    if (ns_udp_parse(data, size, &u) == 0) {
        ns_udp_emit(&u, out);
        CHECK(ns_udp_parse(out, u.len, &u2) == 0);
        CHECK(u2.sport == u.sport && u2.dport == u.dport && u2.len == u.len);
    }

    struct ns_tcp_repr t, t2;
    if (ns_tcp_parse(data, size, &t) == 0) {
        size_t hlen = NS_TCP_HLEN + ns_tcp_opts_len(&t);
        CHECK(hlen <= NS_TCP_MAX_HLEN);
        ns_tcp_emit(&t, out);
        CHECK(ns_tcp_parse(out, hlen, &t2) == 0);
        CHECK(t2.seq == t.seq && t2.ack == t.ack && t2.flags == t.flags && t2.win == t.win &&
              t2.has_mss == t.has_mss && (!t.has_mss || t2.mss == t.mss) &&
              t2.has_ts == t.has_ts && t2.sack_ok == t.sack_ok);
    }

    fuzz_ip6(data, size);
    fuzz_icmp6(data, size);
    fuzz_ip6_addr(data, size);
    (void)ns_wire_strerror(size ? -(int)data[0] : 0);
    return 0;
}
