/* tests/fuzz/fuzz_input.c — libFuzzer target for a stack's whole frame
 * input path: Ethernet, ARP, IPv4 (forwarding, fragmentation,
 * reassembly), ICMP, UDP and raw socket delivery, with time advancing so
 * timers fire.
 *
 * Input: a sequence of records [flags][len_hi][len_lo][frame bytes]:
 *   flags bit 0   which interface receives the frame (two, forwarding on)
 *   flags bits 1-7  virtual time to advance before it, in 100 ms units
 * Interface 0 (eth0, 02:00:00:00:00:01, MTU 1500) is 192.0.2.2/24,
 * interface 1 (eth1, 02:00:00:00:00:02, MTU 576) is 198.51.100.2/24, and
 * the default route is via 198.51.100.1.
 *
 * Sockets on the stack (so frames reach the UDP demultiplexer and the
 * socket receive path): UDP 0.0.0.0:4000 (echoes what it reads back to
 * the sender), UDP 192.0.2.2:4001 connected to 192.0.2.1:5000, UDP
 * 0.0.0.0:4002 with the smallest SO_RCVBUF, two SO_REUSEPORT sockets on
 * 0.0.0.0:4003, and a raw IPPROTO_ICMP socket; all with IP_PKTINFO,
 * IP_RECVTTL and IP_RECVTOS. After each frame every socket is drained
 * with non-blocking ns_recvmsg into a small control buffer — except the
 * tiny-buffer one, drained only after records that advance time, so that
 * back-to-back datagrams overflow it (udp_drop_rcvbuf).
 *
 * A fresh stack per input; at the end (sockets closed, every timer run
 * out) every buffer must be back in the pool (the check catches leaks on
 * paths that hold packets).
 *
 * Seed corpus: tests/fuzz/gen_corpus.py writes the seed-* files in
 * tests/fuzz/corpus/fuzz_input/.
 *
 * Run: make fuzz (long), or build-test/tests/fuzz_input -max_total_time=60
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/netsock.h"
#include "netsock/socket.h"

static const uint8_t mac0[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac1[6] = {0x02, 0, 0, 0, 0, 0x02};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSOCK 6

static int open_udp(struct ns_stack *st, const char *addr, uint16_t port, bool reuseport)
{
    int fd = ns_socket(st, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        abort();
    int one = 1;
    if (reuseport)
        ns_setsockopt(st, fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, addr, &sin.sin_addr);
    if (ns_bind(st, fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        abort();
    return fd;
}

static void open_sockets(struct ns_stack *st, int fds[NSOCK])
{
    fds[0] = open_udp(st, "0.0.0.0", 4000, false);
    fds[1] = open_udp(st, "192.0.2.2", 4001, false);
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(5000)};
    inet_pton(AF_INET, "192.0.2.1", &peer.sin_addr);
    if (ns_connect(st, fds[1], (struct sockaddr *)&peer, sizeof(peer)) < 0)
        abort();
    fds[2] = open_udp(st, "0.0.0.0", 4002, false);
    int tiny = 1; /* clamped to the minimum: room for one buffer */
    ns_setsockopt(st, fds[2], SOL_SOCKET, SO_RCVBUF, &tiny, sizeof(tiny));
    fds[3] = open_udp(st, "0.0.0.0", 4003, true);
    fds[4] = open_udp(st, "0.0.0.0", 4003, true);
    fds[5] = ns_socket(st, AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP);
    if (fds[5] < 0)
        abort();
    int one = 1;
    for (int k = 0; k < NSOCK; k++) {
        ns_setsockopt(st, fds[k], IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
        ns_setsockopt(st, fds[k], IPPROTO_IP, IP_RECVTTL, &one, sizeof(one));
        ns_setsockopt(st, fds[k], IPPROTO_IP, IP_RECVTOS, &one, sizeof(one));
    }
}

/* Read every queued datagram; the wildcard socket echoes each one. */
static void drain_sockets(struct ns_stack *st, const int fds[NSOCK], bool time_advanced)
{
    static uint8_t buf[65536];
    for (int k = 0; k < NSOCK; k++) {
        if (k == 2 && !time_advanced)
            continue;
        for (int n = 0; n < 1000; n++) {
            struct sockaddr_in from;
            struct iovec iov = {.iov_base = buf, .iov_len = (n & 1) ? 64 : sizeof(buf)};
            union {
                struct cmsghdr align;
                uint8_t b[CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(int)) +
                          CMSG_SPACE(1)];
            } ctl;
            struct msghdr msg = {
                .msg_name = &from,
                .msg_namelen = sizeof(from),
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = ctl.b,
                /* sometimes too small: the MSG_CTRUNC path */
                .msg_controllen = (n & 2) ? CMSG_SPACE(sizeof(struct in_pktinfo)) : sizeof(ctl.b),
            };
            ssize_t len = ns_recvmsg(st, fds[k], &msg, MSG_DONTWAIT | ((n & 4) ? MSG_TRUNC : 0));
            if (len < 0) {
                if (errno == EAGAIN)
                    break;
                continue; /* a pending ICMP error, reported once */
            }
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_len < CMSG_LEN(0) || c->cmsg_len > msg.msg_controllen)
                    abort(); /* a malformed control message */
            /* Echo, but never to port 4000: an echo of our own echo
             * (sent to ourselves) would ping-pong for ever. */
            if (k == 0 && !(msg.msg_flags & MSG_TRUNC) && from.sin_port != htons(4000))
                ns_sendto(st, fds[0], buf, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&from,
                          msg.msg_namelen);
        }
    }
}

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
    int fds[NSOCK];
    open_sockets(st, fds);

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
        drain_sockets(st, fds, (flags >> 1) != 0);
        while (ns_qdev_take(d0, sink, sizeof(sink)) >= 0)
            ;
        while (ns_qdev_take(d1, sink, sizeof(sink)) >= 0)
            ;
    }
    for (int k = 0; k < NSOCK; k++)
        if (ns_close(st, fds[k]) < 0)
            abort();
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
