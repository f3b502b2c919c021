/* tests/fuzz/fuzz_ip6.c — libFuzzer target for the IPv6 input path and
 * Neighbour Discovery: IPv6 header checks, the extension-header chain and
 * its options, reassembly, ICMPv6 (echo, errors, Packet Too Big and the
 * path MTU cache), NS/NA and the NUD state machine, with time advancing so
 * that every timer (retransmissions, DELAY/PROBE, reassembly timeouts)
 * fires; raw IPv6 sockets (ICMPv6, and protocol 253 with IPV6_CHECKSUM)
 * take their copies, read after every record with their control messages.
 *
 * Input: a sequence of records [flags][len_hi][len_lo][bytes]:
 *   flags bit 0     the bytes are an IPv6 packet: the target puts an
 *                   Ethernet header in front (to our MAC, or to the
 *                   group's MAC for a multicast destination, from the
 *                   peer's MAC) — so the fuzzer need not find one; clear:
 *                   the bytes are a whole frame
 *   flags bits 1-7  virtual time to advance before it, in 100 ms units
 * The interface (eth0, 02:00:00:00:00:01, MTU 1500) has 2001:db8::2/64
 * and its link-local fe80::ff:fe00:1; the route ::/0 goes via fe80::1.
 *
 * A fresh stack per input; at the end every timer is run out and every
 * buffer must be back in the pool (the check catches leaks on paths that
 * hold packets: neighbour queues, reassembly).
 *
 * Seed corpus: tests/fuzz/gen_corpus6.py writes tests/fuzz/corpus/fuzz_ip6/.
 * Run: build-test/tests/fuzz_ip6 -max_total_time=60
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/dev.h"
#include "netsock/netsock.h"
#include "netsock/socket.h"

static const uint8_t mac0[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t peer[6] = {0x02, 0xaa, 0, 0, 0, 0x01};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.pbuf_count = 256;
    cfg.arp_cache_max = 16;
    cfg.arp_unres_max = 8;
    cfg.ip_reass_mem_max = 256 * 1024;
    cfg.ip_reass_max_frags = 16;
    uint64_t now = 1000000;
    struct ns_stack *st = ns_stack_new(&cfg, now);
    if (!st)
        abort();
    struct ns_dev *d0 = ns_qdev_new("eth0", NS_LINK_ETHER, mac0, 1500);
    int if0 = ns_if_add(st, d0);
    struct in6_addr a6, gw6, any6 = IN6ADDR_ANY_INIT;
    inet_pton(AF_INET6, "2001:db8::2", &a6);
    inet_pton(AF_INET6, "fe80::1", &gw6);
    if (ns_if_addr_add(st, if0, AF_INET6, &a6, 64) < 0 ||
        ns_route_add(st, AF_INET6, &any6, 0, &gw6, if0) < 0)
        abort();

    /* Raw IPv6 sockets: ICMPv6 (filter open, the control messages asked
     * for) and 253 checksummed at offset 2 (RFC 3542 §3.1). */
    int one = 1, two = 2;
    int raw[2] = {ns_socket(st, AF_INET6, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMPV6),
                  ns_socket(st, AF_INET6, SOCK_RAW | SOCK_NONBLOCK, 253)};
    if (raw[0] < 0 || raw[1] < 0)
        abort();
    for (int k = 0; k < 2; k++) {
        ns_setsockopt(st, raw[k], IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
        ns_setsockopt(st, raw[k], IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one));
        ns_setsockopt(st, raw[k], IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof(one));
    }
    ns_setsockopt(st, raw[1], IPPROTO_IPV6, IPV6_CHECKSUM, &two, sizeof(two));

    static uint8_t frame[14 + 65535];
    uint8_t sink[2048];
    size_t i = 0;
    while (i + 3 <= size) {
        uint8_t flags = data[i];
        size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
        i += 3;
        if (len > size - i)
            len = size - i;
        now += (uint64_t)(flags >> 1) * 100000;
        ns_stack_poll(st, now);
        if (flags & 1) {
            /* Wrap an IPv6 packet: to the group's MAC (RFC 2464 §7) for a
             * multicast destination, else to ours. */
            if (len >= 40 && data[i + 24] == 0xff) {
                uint8_t m[6] = {0x33, 0x33, data[i + 36], data[i + 37], data[i + 38], data[i + 39]};
                memcpy(frame, m, 6);
            } else {
                memcpy(frame, mac0, 6);
            }
            memcpy(frame + 6, peer, 6);
            frame[12] = 0x86;
            frame[13] = 0xdd;
            memcpy(frame + 14, data + i, len);
            ns_stack_input(st, if0, frame, len + 14, now);
        } else if (len) {
            ns_stack_input(st, if0, data + i, len, now);
        }
        i += len;
        while (ns_qdev_take(d0, sink, sizeof(sink)) >= 0)
            ;
        for (int k = 0; k < 2; k++) {
            struct sockaddr_in6 from;
            char ctl[64]; /* too small for all three now and then: MSG_CTRUNC */
            struct iovec iov = {sink, (flags & 2) ? 3 : sizeof(sink)};
            struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
                               .msg_iovlen = 1, .msg_control = ctl,
                               .msg_controllen = (flags & 4) ? 20 : sizeof(ctl)};
            while (ns_recvmsg(st, raw[k], &m, MSG_DONTWAIT) >= 0) {
                m.msg_namelen = sizeof(from);
                m.msg_controllen = (flags & 4) ? 20 : sizeof(ctl);
            }
        }
    }
    ns_close(st, raw[0]);
    ns_close(st, raw[1]);
    /* Let every timer run out: NS retries, NUD, reassembly (60 s). */
    for (int k = 0; k < 16; k++) {
        now += 10000000;
        ns_stack_poll(st, now);
        while (ns_qdev_take(d0, sink, sizeof(sink)) >= 0)
            ;
    }
    struct ns_pbuf_pool_stats ps;
    ns_stack_pbuf_stats(st, &ps);
    if (ps.pool_free != ps.pool_total || ps.heap_bytes != 0)
        abort(); /* a path kept a buffer after every timer ran out */
    ns_stack_free(st);
    return 0;
}
