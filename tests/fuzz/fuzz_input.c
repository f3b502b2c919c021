/* tests/fuzz/fuzz_input.c — libFuzzer target for a stack's whole frame
 * input path: Ethernet, ARP, IPv4 (forwarding, fragmentation,
 * reassembly), ICMP, with time advancing so timers fire.
 *
 * Input: a sequence of records [flags][len_hi][len_lo][frame bytes]:
 *   flags bit 0   which interface receives the frame (two, forwarding on)
 *   flags bits 1-7  virtual time to advance before it, in 100 ms units
 * A fresh stack per input; at the end every buffer must be back in the
 * pool (the check catches leaks on paths that hold packets).
 *
 * Run: make fuzz (long), or build-test/tests/fuzz_input -max_total_time=60
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/netsock.h"

static const uint8_t mac0[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac1[6] = {0x02, 0, 0, 0, 0, 0x02};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.pbuf_count = 256;
    cfg.ip_forward = true;
    cfg.arp_cache_max = 16;
    cfg.ip_reass_mem_max = 256 * 1024;
    cfg.ip_reass_max_frags = 16;
    uint64_t now = 1000000;
    struct ns_stack *st = ns_stack_new(&cfg, now);
    if (!st)
        abort();
    struct ns_dev *d0 = ns_qdev_new("eth0", NS_LINK_ETHER, mac0, 1500);
    struct ns_dev *d1 = ns_qdev_new("eth1", NS_LINK_ETHER, mac1, 576);
    int if0 = ns_if_add(st, d0), if1 = ns_if_add(st, d1);
    struct in_addr a0, a1, gw, any = {0};
    inet_pton(AF_INET, "192.0.2.2", &a0);
    inet_pton(AF_INET, "198.51.100.2", &a1);
    inet_pton(AF_INET, "198.51.100.1", &gw);
    ns_if_addr_add(st, if0, AF_INET, &a0, 24);
    ns_if_addr_add(st, if1, AF_INET, &a1, 24);
    ns_route_add(st, AF_INET, &any, 0, &gw, 0);

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
        if (len)
            ns_stack_input(st, (flags & 1) ? if1 : if0, data + i, len, now);
        i += len;
        while (ns_qdev_take(d0, sink, sizeof(sink)) >= 0)
            ;
        while (ns_qdev_take(d1, sink, sizeof(sink)) >= 0)
            ;
    }
    /* Let every timer run out: ARP retries, reassembly timeouts. */
    for (int k = 0; k < 8; k++) {
        now += 10000000;
        ns_stack_poll(st, now);
        while (ns_qdev_take(d0, sink, sizeof(sink)) >= 0)
            ;
        while (ns_qdev_take(d1, sink, sizeof(sink)) >= 0)
            ;
    }
    struct ns_pbuf_pool_stats ps;
    ns_stack_pbuf_stats(st, &ps);
    if (ps.pool_free != ps.pool_total || ps.heap_bytes != 0)
        abort(); /* a path kept a buffer after every timer ran out */
    ns_stack_free(st);
    return 0;
}
