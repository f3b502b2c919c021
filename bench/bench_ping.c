/* bench/bench_ping.c — ICMP echo round trips per second: two netsock
 * stacks on a zero-delay simulated link, against the Linux kernel pinging
 * itself on loopback through a raw socket, measured in the same run.
 *
 * What it measures: the per-packet cost of a whole request/response
 * through each stack (Ethernet+ARP-cache hit+IPv4+ICMP both ways for
 * netsock; the kernel's loopback path plus two system calls per
 * direction for Linux). A ratio above 1 means netsock turns round faster.
 *
 * Usage: bench_ping [round_trips]   (prints one row, bench_util.h format)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned replies;
static void on_echo(void *ctx, struct ns_stack *st, const struct ns_echo_reply *r, uint64_t now)
{
    (void)ctx, (void)st, (void)now;
    if (r->icmp_type == 0)
        replies++;
}

static double bench_netsock(unsigned n)
{
    struct ns_sim *sim = ns_sim_new(1);
    struct ns_stack *a = ns_sim_add_host(sim, "a", NULL);
    struct ns_stack *b = ns_sim_add_host(sim, "b", NULL);
    int ia, ib;
    ns_sim_connect(sim, a, b, NULL, &ia, &ib);
    struct in_addr aa, ba;
    inet_pton(AF_INET, "192.0.2.1", &aa);
    inet_pton(AF_INET, "192.0.2.2", &ba);
    ns_if_addr_add(a, ia, AF_INET, &aa, 24);
    ns_if_addr_add(b, ib, AF_INET, &ba, 24);
    ns_sim_run_for(sim, 10000000); /* announcements done */
    ns_icmp_set_echo_hook(a, on_echo, NULL);
    uint8_t payload[56] = {0};
    ns_icmp_echo_send(a, &ba, 1, 0, payload, sizeof(payload), 0); /* warm ARP */
    ns_sim_run_for(sim, 1000);
    replies = 0;
    double t0 = now_s();
    for (unsigned i = 0; i < n; i++) {
        unsigned want = replies + 1;
        ns_icmp_echo_send(a, &ba, 1, (uint16_t)i, payload, sizeof(payload), 0);
        while (replies < want && ns_sim_step(sim, UINT64_MAX))
            ;
    }
    double dt = now_s() - t0;
    unsigned got = replies;
    ns_sim_free(sim);
    if (got != n) {
        fprintf(stderr, "bench_ping: netsock got %u of %u replies\n", got, n);
        return -1;
    }
    return n / dt;
}

static uint16_t csum16(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* Linux: raw ICMP socket to 127.0.0.1 (needs root or CAP_NET_RAW). */
static double bench_linux(unsigned n)
{
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (fd < 0) {
        fprintf(stderr, "bench_ping: raw socket: %s (need root)\n", strerror(errno));
        return -1;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    uint8_t pkt[64], buf[256];
    uint16_t id = (uint16_t)getpid();
    double t0 = now_s();
    unsigned got = 0;
    for (unsigned i = 0; i < n; i++) {
        memset(pkt, 0, sizeof(pkt));
        pkt[0] = 8;
        pkt[4] = (uint8_t)(id >> 8), pkt[5] = (uint8_t)id;
        pkt[6] = (uint8_t)(i >> 8), pkt[7] = (uint8_t)i;
        uint16_t c = csum16(pkt, sizeof(pkt));
        pkt[2] = (uint8_t)(c >> 8), pkt[3] = (uint8_t)c;
        if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
            break;
        /* The raw socket sees our request and the reply: wait for the reply. */
        for (;;) {
            ssize_t r = recv(fd, buf, sizeof(buf), 0);
            if (r < 28)
                break;
            size_t hl = (size_t)(buf[0] & 0xf) * 4;
            if (buf[hl] == 0 && buf[hl + 4] == pkt[4] && buf[hl + 5] == pkt[5] &&
                buf[hl + 6] == pkt[6] && buf[hl + 7] == pkt[7]) {
                got++;
                break;
            }
        }
    }
    double dt = now_s() - t0;
    close(fd);
    return got == n ? n / dt : -1;
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 200000;
    double ns = bench_netsock(n);
    double lx = bench_linux(n);
    char nss[32] = "-", lxs[32] = "skipped (needs root)";
    if (ns > 0)
        snprintf(nss, sizeof(nss), "%.0f", ns);
    if (lx > 0)
        snprintf(lxs, sizeof(lxs), "%.0f", lx);
    else if (geteuid() == 0)
        snprintf(lxs, sizeof(lxs), "-");
    bench_row("icmp_echo",
              "ICMP echo, 56-byte payload, one in flight: round trips/s (netsock: sim link; "
              "Linux: raw socket to 127.0.0.1)",
              "higher", "rt_per_s", nss, lxs);
    return ns < 0 ? 1 : 0;
}
