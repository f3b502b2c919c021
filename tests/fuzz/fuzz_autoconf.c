/* tests/fuzz/fuzz_autoconf.c — libFuzzer target for IPv6
 * autoconfiguration (net/addrconf.c, net/mld6.c, net/autoconf.c): the
 * messages a node on the link can send an autoconfigured interface —
 * RAs, RSs, Redirects, NS/NA during DAD, MLD queries — with time
 * advancing so that DAD, solicitations, lifetimes, reports and the
 * tables' bounds all come into play.
 *
 * Input: a sequence of records [flags][len_hi][len_lo][ICMPv6 message]:
 *   flags bit 0     MLD framing: hop limit 1 behind a Hop-by-Hop Router
 *                   Alert (else hop limit 255, no extension header)
 *   flags bits 1-2  the source: fe80::1, fe80::2, 2001:db8:1::9 or ::
 *   flags bits 3-7  virtual time to advance before it, in 200 ms units
 * The target sets the ICMPv6 checksum (so the parsers behind it are
 * reached) and sends the message to ff02::1 from 02:aa:00:00:00:01. The
 * interface (02:00:00:00:00:01, MTU 1500) is autoconfigured from time 0.
 *
 * A fresh stack per input; at the end every lifetime is run out (401 days
 * of virtual time in steps), every buffer must be back in the pool and
 * every table within its bound.
 *
 * Seed corpus: tests/fuzz/corpus/fuzz_autoconf/ (an RA with a prefix and
 * MTU, an MLD General Query, a Redirect).
 * Run: build-test/tests/fuzz_autoconf -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/addrconf.h"
#include "netsock/dev.h"
#include "netsock/netsock.h"
#include "wire/ipv6.h"

static const uint8_t mac0[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t peer[6] = {0x02, 0xaa, 0, 0, 0, 0x01};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.pbuf_count = 256;
    uint64_t now = 0;
    struct ns_stack *st = ns_stack_new(&cfg, now);
    if (!st)
        abort();
    struct ns_dev *d0 = ns_qdev_new("eth0", NS_LINK_ETHER, mac0, 1500);
    int if0 = ns_if_add(st, d0);
    if (ns_if_autoconf(st, if0) < 0)
        abort();
    static const char *const srcs[4] = {"fe80::1", "fe80::2", "2001:db8:1::9", "::"};
    static uint8_t frame[14 + 40 + 8 + 65535];
    uint8_t sink[2048];
    size_t i = 0;
    while (i + 3 <= size) {
        uint8_t flags = data[i];
        size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
        i += 3;
        if (len > size - i)
            len = size - i;
        now += (uint64_t)(flags >> 3) * 200000;
        ns_stack_poll(st, now);
        struct ns_ip6_addr src;
        ns_ip6_aton(srcs[(flags >> 1) & 3], &src);
        bool mld = flags & 1;
        size_t ext = mld ? NS_IP6_HBH_RA_LEN : 0;
        uint8_t *ip = frame + 14, *msg = ip + 40 + ext;
        memcpy(msg, data + i, len);
        if (len >= 4) {
            msg[2] = msg[3] = 0;
            uint16_t c = ns_icmp6_csum(&src, &ns_ip6_all_nodes, msg, len);
            msg[2] = (uint8_t)(c >> 8);
            msg[3] = (uint8_t)c;
        }
        struct ns_ip6_repr r = {.payload_len = (uint16_t)(ext + len),
                                .next_hdr = mld ? NS_IP6_NH_HOPOPTS : NS_IPPROTO_ICMPV6,
                                .hop_limit = mld ? 1 : 255, .src = src, .dst = ns_ip6_all_nodes};
        ns_ip6_emit(&r, ip);
        if (mld)
            ns_ip6_hbh_ra_emit(NS_IPPROTO_ICMPV6, NS_IP6_RA_MLD, ip + 40);
        ns_ip6_mcast_mac(&ns_ip6_all_nodes, frame);
        memcpy(frame + 6, peer, 6);
        frame[12] = 0x86;
        frame[13] = 0xdd;
        ns_stack_input(st, if0, frame, 14 + 40 + ext + len, now);
        i += len;
        while (ns_qdev_take(d0, sink, sizeof(sink)) >= 0)
            ;
    }
    const struct ac_if *ac = autoconf_if(st, if0);
    if (ac_router_count(ac) > AC_MAX_ROUTERS || ac_prefix_count(ac) > AC_MAX_PREFIXES ||
        ac_addr_count(ac) > AC_MAX_ADDRS)
        abort();
    /* Let every lifetime run out: a day in 10-minute steps, then 400 days
     * in steps of a day. An RA may set the retransmission timer to
     * 2^32 - 1 ms (49.7 days; Linux ndisc_router_discovery takes it as
     * it is), so a neighbour that never answers holds its queued packets
     * for three solicitations of that, 149 days, and the error about
     * each, to our own address, as long again. */
    for (int k = 0; k < 144 + 400; k++) {
        now += k < 144 ? 600000000ull : 86400000000ull;
        ns_stack_poll(st, now);
        while (ns_qdev_take(d0, sink, sizeof(sink)) >= 0)
            ;
    }
    struct ns_pbuf_pool_stats ps;
    ns_stack_pbuf_stats(st, &ps);
    if (ps.pool_free != ps.pool_total || ps.heap_bytes != 0)
        abort();
    ns_stack_free(st);
    return 0;
}
