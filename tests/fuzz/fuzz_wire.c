/* tests/fuzz/fuzz_wire.c — libFuzzer target for every parser in
 * src/wire/: each one gets the same bytes. A parser that accepts its input
 * must produce a repr that emits back to bytes it parses again to the same
 * repr (round trip), so a parser/emitter disagreement is a crash here,
 * not a silent corruption later.
 *
 * Run: make fuzz, or build-test/tests/fuzz_wire -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c))                                                              \
            abort();                                                           \
    } while (0)

static uint8_t out[65536 + 64];

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
    return 0;
}
