/* tools/demo.c — `netsock demo`: a small simulated internet, watched.
 *
 *   alice ──lan── router ──wan── bob
 *
 * alice pings bob across a router (forwarding, TTL, ARP on both links),
 * over a lossy, delayed, rate-limited WAN; then with 4000-byte payloads
 * that IPv4 fragments and reassembles; then with TTL 1, which the router
 * answers with "time exceeded"; UDP and a TCP download from bob; then
 * IPv6 beside it all on the lan, alice dual-stack: neighbour discovery,
 * ping -6 to the router through a raw ICMPv6 socket, a TCP download
 * over IPv6 from the router's own server. Output imitates ping(8); afterwards the
 * counters that changed on each host, and the pcap files to open in
 * Wireshark. Everything runs on virtual time from one seed: the same seed
 * gives the same output and the same pcaps, byte for byte.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/icmp6.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "tools.h"
#include "wire/bytes.h"
#include "wire/ipv6.h"
#include "wire/wire.h"

#define MAX_PINGS 1000

struct demo_opts {
    uint64_t seed;
    unsigned count;
    unsigned big_count;
    double wan_loss;
    const char *pcap_dir;
    bool verbose;
    bool quiet;
    size_t tcp_bytes;
};

static void log_line(void *ctx, const char *host, int level, uint64_t now_us, const char *msg)
{
    (void)ctx;
    (void)level;
    printf("  [%4" PRIu64 ".%06" PRIu64 "] %-6s %s\n", now_us / 1000000, now_us % 1000000, host,
           msg);
}

struct pinger {
    uint16_t id;
    uint64_t sent_at[MAX_PINGS];
    bool answered[MAX_PINGS];
    unsigned transmitted, received, errors;
    double rtt_min, rtt_max, rtt_sum, rtt_sum2;
};

/* A reply came after rtt_us: count it in the statistics; its RTT in ms. */
static double pinger_rtt(struct pinger *p, uint64_t rtt_us)
{
    double ms = (double)rtt_us / 1000.0;
    p->received++;
    p->rtt_sum += ms;
    p->rtt_sum2 += ms * ms;
    if (p->received == 1 || ms < p->rtt_min)
        p->rtt_min = ms;
    if (ms > p->rtt_max)
        p->rtt_max = ms;
    return ms;
}

/* One datagram read from the raw ICMP socket: IPv4 header + ICMP. */
static void ping_handle(struct pinger *p, const uint8_t *pkt, size_t len, uint64_t now_us)
{
    struct ns_ip4_repr ip;
    struct ns_icmp4_repr ic;
    char from[16];
    if (ns_ip4_parse(pkt, len, &ip, true) < 0 ||
        ns_icmp4_parse(pkt + ip.hlen, ip.total_len - ip.hlen, &ic, true) < 0)
        return;
    ns_ip4_ntoa(ip.src, from);
    if (ic.type == NS_ICMP_ECHO_REPLY) {
        if (ic.id != p->id || ic.seq == 0 || ic.seq > p->transmitted)
            return;
        unsigned i = ic.seq - 1u;
        if (p->answered[i]) {
            printf("%zu bytes from %s: icmp_seq=%u ttl=%u (DUP!)\n", ic.payload_len + 8, from,
                   ic.seq, ip.ttl);
            return;
        }
        p->answered[i] = true;
        double ms = pinger_rtt(p, now_us - p->sent_at[i]);
        printf("%zu bytes from %s: icmp_seq=%u ttl=%u time=%.3f ms\n", ic.payload_len + 8, from,
               ic.seq, ip.ttl, ms);
        return;
    }
    if (ic.type == NS_ICMP_TIME_EXCEEDED || ic.type == NS_ICMP_DEST_UNREACH) {
        /* The error quotes our request: IPv4 header, then the echo header. */
        struct ns_ip4_repr inner;
        const uint8_t *q = ic.payload;
        if (ic.payload_len < NS_IP4_HLEN + 8 || (q[0] >> 4) != 4)
            return;
        size_t ihl = (size_t)(q[0] & 0xf) * 4;
        inner.proto = q[9];
        if (ihl + 8 > ic.payload_len || inner.proto != NS_IPPROTO_ICMP || q[ihl] != NS_ICMP_ECHO)
            return;
        uint16_t id = (uint16_t)(q[ihl + 4] << 8 | q[ihl + 5]);
        uint16_t seq = (uint16_t)(q[ihl + 6] << 8 | q[ihl + 7]);
        if (id != p->id)
            return;
        p->errors++;
        printf("From %s icmp_seq=%u %s\n", from, seq, ns_icmp4_describe(ic.type, ic.code));
    }
}

/* One ICMPv6 message from the raw ICMPv6 socket (no IPv6 header: RFC
 * 3542 §3), its sender and the hop limit it came with; the socket's
 * ICMP6_FILTER passes only echo replies and errors. */
static void ping_handle6(struct pinger *p, const uint8_t *m, size_t len,
                         const struct sockaddr_in6 *from6, int hops, uint64_t now_us)
{
    char from[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &from6->sin6_addr, from, sizeof(from));
    if (len < NS_ICMP6_HLEN)
        return;
    if (m[0] == NS_ICMP6_ECHO_REPLY) {
        uint16_t seq = ns_rd16(m + 6);
        if (ns_rd16(m + 4) != p->id || seq == 0 || seq > p->transmitted || p->answered[seq - 1])
            return;
        p->answered[seq - 1] = true;
        double ms = pinger_rtt(p, now_us - p->sent_at[seq - 1]);
        /* ping -6 prints the hop limit as "ttl=". */
        printf("%zu bytes from %s: icmp_seq=%u ttl=%d time=%.3f ms\n", len, from, seq, hops, ms);
        return;
    }
    if (ns_icmp6_is_error(m[0]) && len >= NS_ICMP6_HLEN + NS_IP6_HLEN + 8 &&
        m[NS_ICMP6_HLEN + NS_IP6_HLEN] == NS_ICMP6_ECHO_REQUEST &&
        ns_rd16(m + NS_ICMP6_HLEN + NS_IP6_HLEN + 4) == p->id) {
        p->errors++;
        printf("From %s icmp_seq=%u %s\n", from, ns_rd16(m + NS_ICMP6_HLEN + NS_IP6_HLEN + 6),
               ns_icmp6_describe(m[0], m[1]));
    }
}

/* Read one datagram from the ping socket into `p` (IPv4: header and
 * ICMP; IPv6: the ICMPv6 message with its sender and hop limit). */
static void ping_read(struct ns_stack *src, int fd, bool v6, struct pinger *p, uint8_t *buf,
                      uint64_t now_us)
{
    if (!v6) {
        ssize_t n = ns_recv(src, fd, buf, 65536, MSG_DONTWAIT);
        if (n > 0)
            ping_handle(p, buf, (size_t)n, now_us);
        return;
    }
    struct sockaddr_in6 from;
    char ctl[64];
    struct iovec iov = {buf, 65536};
    struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
                       .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    ssize_t n = ns_recvmsg(src, fd, &m, MSG_DONTWAIT);
    if (n <= 0)
        return;
    int hops = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)
            memcpy(&hops, CMSG_DATA(c), sizeof(hops));
    ping_handle6(p, buf, (size_t)n, &from, hops, now_us);
}

/* Ping like ping(8), through a raw ICMP socket: one request a second,
 * poll(2) for answers until the next one is due. An IPv6 destination is
 * pinged as ping -6 does, through a raw ICMPv6 socket (the stack computes
 * the checksum, RFC 3542 §3.1). */
static void run_ping(struct ns_sim *sim, struct ns_stack *src, const char *dst_str, unsigned count,
                     size_t payload, int ttl, uint16_t id)
{
    struct sockaddr_storage dst;
    memset(&dst, 0, sizeof(dst));
    struct sockaddr_in *d4 = (struct sockaddr_in *)(void *)&dst;
    struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)(void *)&dst;
    bool v6 = inet_pton(AF_INET6, dst_str, &d6->sin6_addr) == 1;
    socklen_t dlen = v6 ? sizeof(*d6) : sizeof(*d4);
    if (v6) {
        d6->sin6_family = AF_INET6;
    } else {
        d4->sin_family = AF_INET;
        inet_pton(AF_INET, dst_str, &d4->sin_addr);
    }
    struct pinger p = {.id = id};
    int fd = v6 ? ns_socket(src, AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)
                : ns_socket(src, AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (fd < 0) {
        printf("ping: socket: %s\n", strerror(errno));
        return;
    }
    if (v6) {
        /* As ping -6: echo replies and errors only; the hop limit of each. */
        struct icmp6_filter f;
        ICMP6_FILTER_SETBLOCKALL(&f);
        ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
        ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &f);
        ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &f);
        ns_setsockopt(src, fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f));
        int one = 1;
        ns_setsockopt(src, fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one));
    }
    if (ttl)
        ns_setsockopt(src, fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_UNICAST_HOPS : IP_TTL,
                      &ttl, sizeof(ttl));
    uint8_t *pkt = calloc(1, NS_ICMP_HLEN + payload);
    uint8_t *buf = malloc(65536);

    if (v6)
        printf("PING %s(%s) %zu data bytes\n", dst_str, dst_str, payload);
    else
        printf("PING %s (%s) %zu(%zu) bytes of data%s.\n", dst_str, dst_str, payload,
               payload + 28, ttl ? " (ttl 1)" : "");
    uint64_t start = ns_sim_now(sim);
    for (unsigned i = 0; i < count && i < MAX_PINGS; i++) {
        for (size_t k = 0; k < payload; k++)
            pkt[NS_ICMP_HLEN + k] = (uint8_t)(i + k);
        if (v6) {
            pkt[0] = NS_ICMP6_ECHO_REQUEST; /* checksum (2..3) left 0: the stack's */
            ns_wr16(pkt + 4, id);
            ns_wr16(pkt + 6, (uint16_t)(i + 1));
        } else {
            struct ns_icmp4_repr r = {.type = NS_ICMP_ECHO, .id = id, .seq = (uint16_t)(i + 1),
                                      .payload = pkt + NS_ICMP_HLEN, .payload_len = payload};
            ns_icmp4_emit(&r, pkt);
        }
        p.sent_at[i] = ns_sim_now(sim);
        p.transmitted++;
        if (ns_sendto(src, fd, pkt, NS_ICMP_HLEN + payload, 0, (struct sockaddr *)&dst, dlen) < 0)
            printf("ping: sendto: %s\n", strerror(errno));
        /* Wait for answers until one second after this request (two after
         * the last one, for stragglers). */
        uint64_t until = p.sent_at[i] + (i + 1 == count ? 2000000 : 1000000);
        while (ns_sim_now(sim) < until) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int ms = (int)((until - ns_sim_now(sim) + 999) / 1000);
            if (ns_poll(src, &pfd, 1, ms) <= 0)
                break;
            ping_read(src, fd, v6, &p, buf, ns_sim_now(sim));
        }
        ns_sim_run_until(sim, until);
    }
    ns_close(src, fd);
    free(pkt);
    free(buf);

    unsigned lost = p.transmitted - p.received;
    printf("\n--- %s ping statistics ---\n", dst_str);
    printf("%u packets transmitted, %u received", p.transmitted, p.received);
    if (p.errors)
        printf(", +%u errors", p.errors);
    printf(", %.0f%% packet loss, time %" PRIu64 "ms\n",
           p.transmitted ? 100.0 * lost / p.transmitted : 0.0,
           p.transmitted ? (p.sent_at[p.transmitted - 1] - start) / 1000 : 0);
    if (p.received) {
        double avg = p.rtt_sum / p.received;
        double var = p.rtt_sum2 / p.received - avg * avg;
        printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", p.rtt_min, avg, p.rtt_max,
               sqrt(var > 0 ? var : 0));
    }
    printf("\n");
}

/* ---- TCP ------------------------------------------------------------------- */

static void progress(size_t got, size_t total, uint64_t t_us, bool tty, unsigned *last_quarter)
{
    unsigned pct = (unsigned)(100.0 * (double)got / (double)total);
    if (tty) {
        char bar[41];
        unsigned fill = pct * 40 / 100;
        for (unsigned i = 0; i < 40; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[40] = 0;
        printf("\r  [%s] %3u%%  %7zu KiB  %6.2f s", bar, pct, got / 1024, (double)t_us / 1e6);
        fflush(stdout);
        return;
    }
    while (*last_quarter < 4 && pct >= (*last_quarter + 1) * 25) {
        (*last_quarter)++;
        printf("  %3u%%  %7zu KiB  after %.2f s\n", *last_quarter * 25, got / 1024,
               (double)t_us / 1e6);
    }
}

/* alice downloads `size` bytes from bob's TCP server (bob: the server's
 * stack, at bob_ip, IPv4 or IPv6). One thread drives both ends: each
 * socket is non-blocking, and when neither can make progress the
 * simulation advances to its next event. `path` says what the handshake
 * crosses. Returns true when the stream arrived intact and ended with
 * the server's FIN. */
static bool run_tcp(struct ns_sim *sim, struct ns_stack *alice, struct ns_stack *bob,
                    const char *bob_ip, size_t size, const char *path)
{
    const char *bname = ns_stack_name(bob);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;
    bool v6 = strchr(bob_ip, ':') != NULL;
    int fam = v6 ? AF_INET6 : AF_INET;
    socklen_t slen = v6 ? sizeof(*sin6) : sizeof(*sin);
    if (v6) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(80);
    } else {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(80);
    }
    int lfd = ns_socket(bob, fam, SOCK_STREAM, 0);
    ns_bind(bob, lfd, (struct sockaddr *)&ss, slen);
    ns_listen(bob, lfd, 16);
    int cfd = ns_socket(alice, fam, SOCK_STREAM | SOCK_NONBLOCK, 0);
    inet_pton(fam, bob_ip, v6 ? (void *)&sin6->sin6_addr : (void *)&sin->sin_addr);
    uint64_t t0 = ns_sim_now(sim);
    if (ns_connect(alice, cfd, (struct sockaddr *)&ss, slen) < 0 && errno != EINPROGRESS) {
        printf("connect: %s\n", strerror(errno));
        return false;
    }
    int sfd = ns_accept(bob, lfd, NULL, NULL); /* blocks: drives the handshake */
    if (sfd < 0) {
        printf("accept: %s\n", strerror(errno));
        return false;
    }
    uint64_t t_conn = ns_sim_now(sim);
    printf("alice connected to %s%s%s:80 in %.3f ms (SYN, SYN-ACK, ACK %s)\n", v6 ? "[" : "",
           v6 ? bob_ip : bname, v6 ? "]" : "", (double)(t_conn - t0) / 1000.0, path);
    int one = 1;
    ns_setsockopt(bob, sfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    ns_fcntl(bob, sfd, F_SETFL, O_NONBLOCK);

    uint8_t *chunk = malloc(65536), *in = malloc(65536);
    size_t sent = 0, got = 0;
    uint32_t hash_out = 2166136261u, hash_in = 2166136261u; /* FNV-1a of the stream */
    bool tty = isatty(1), closed = false;
    unsigned quarter = 0;
    while (got < size) {
        bool progress_made = false;
        if (sent < size) {
            size_t n = size - sent < 65536 ? size - sent : 65536;
            for (size_t k = 0; k < n; k++)
                chunk[k] = (uint8_t)((sent + k) * 2654435761u >> 13);
            ssize_t w = ns_send(bob, sfd, chunk, n, 0);
            if (w > 0) {
                for (ssize_t k = 0; k < w; k++)
                    hash_out = (hash_out ^ chunk[k]) * 16777619u;
                sent += (size_t)w;
                progress_made = true;
            }
        } else if (!closed) {
            ns_shutdown(bob, sfd, SHUT_WR); /* bob is done: FIN after the data */
            closed = true;
        }
        ssize_t r = ns_recv(alice, cfd, in, 65536, 0);
        if (r > 0) {
            for (ssize_t k = 0; k < r; k++)
                hash_in = (hash_in ^ in[k]) * 16777619u;
            got += (size_t)r;
            progress(got, size, ns_sim_now(sim) - t_conn, tty, &quarter);
            progress_made = true;
        } else if (r == 0 || (r < 0 && errno != EAGAIN)) {
            break;
        }
        if (!progress_made && !ns_sim_step(sim, NS_TIME_NEVER))
            break;
    }
    if (tty)
        printf("\n");
    ssize_t eof = -1;
    for (int i = 0; i < 1000 && eof != 0; i++) {
        eof = ns_recv(alice, cfd, in, 65536, 0);
        if (eof < 0)
            ns_sim_step(sim, NS_TIME_NEVER);
    }
    uint64_t t_end = ns_sim_now(sim);

    struct ns_sock_info info[8];
    int n = ns_sock_list(bob, info, 8);
    struct ns_sock_info *bi = NULL;
    for (int i = 0; i < n && i < 8; i++)
        if (info[i].fd == sfd)
            bi = &info[i];
    double secs = (double)(t_end - t_conn) / 1e6;
    printf("received %zu bytes in %.2f s of virtual time: %.2f Mbit/s goodput, "
           "stream %s, then EOF (%s)\n",
           got, secs, (double)got * 8 / secs / 1e6, hash_in == hash_out && got == size ? "intact" : "CORRUPT",
           eof == 0 ? (v6 ? "its FIN" : "bob's FIN") : "no FIN?");
    if (bi)
        printf("%s's socket (as ss -ti): %s cwnd:%u ssthresh:%u mss:%u rtt:%.1fms rto:%.0fms "
               "retrans:%u\n",
               bname, bi->state, bi->cwnd / (bi->mss ? bi->mss : 1),
               bi->ssthresh == UINT32_MAX ? 0 : bi->ssthresh / (bi->mss ? bi->mss : 1), bi->mss,
               bi->srtt_us / 1000.0, bi->rto_us / 1000.0, bi->retrans);
    ns_close(alice, cfd);
    ns_close(bob, sfd);
    ns_close(bob, lfd);
    free(chunk);
    free(in);
    printf("\n");
    return hash_in == hash_out && got == size && eof == 0;
}

/* ---- UDP ------------------------------------------------------------------- */

static void print_sockets(struct ns_stack *st)
{
    struct ns_sock_info info[16];
    int n = ns_sock_list(st, info, 16);
    printf("  %s's sockets (as ss -uanw):\n", ns_stack_name(st));
    printf("    %-6s %-7s %-6s %-21s %-21s %s\n", "Proto", "State", "Recv-Q", "Local Address:Port",
           "Peer Address:Port", "Drops");
    for (int i = 0; i < n && i < 16; i++) {
        char l[32], r[32], a[16];
        inet_ntop(AF_INET, &info[i].local.sin.sin_addr, a, sizeof(a));
        snprintf(l, sizeof(l), "%s:%u", a, ntohs(info[i].local.sin.sin_port));
        if (info[i].remote.sa.sa_family == AF_INET) {
            inet_ntop(AF_INET, &info[i].remote.sin.sin_addr, a, sizeof(a));
            snprintf(r, sizeof(r), "%s:%u", a, ntohs(info[i].remote.sin.sin_port));
        } else {
            snprintf(r, sizeof(r), "*:*");
        }
        printf("    %-6s %-7s %-6u %-21s %-21s %" PRIu64 "\n",
               info[i].type == SOCK_RAW ? "raw" : "udp", info[i].state, info[i].recv_q, l, r,
               info[i].drops);
    }
}

/* alice asks bob's UDP "shout" service (port 7) to upper-case a few
 * lines, retrying after a 300 ms SO_RCVTIMEO like any UDP client must. */
static void run_udp(struct ns_sim *sim, struct ns_stack *alice, struct ns_stack *bob,
                    const char *bob_ip)
{
    const char *lines[] = {"hello bob", "udp over a lossy wan", "each line is one datagram",
                           "lost ones are sent again", "bye"};
    int srv = ns_socket(bob, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(7)};
    ns_bind(bob, srv, (struct sockaddr *)&sin, sizeof(sin));
    int cli = ns_socket(alice, AF_INET, SOCK_DGRAM, 0);
    struct timeval tv = {.tv_usec = 300000};
    ns_setsockopt(alice, cli, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ns_setsockopt(bob, srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    inet_pton(AF_INET, bob_ip, &sin.sin_addr);
    ns_connect(alice, cli, (struct sockaddr *)&sin, sizeof(sin));

    char buf[256];
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        for (int attempt = 1; attempt <= 5; attempt++) {
            uint64_t t0 = ns_sim_now(sim);
            ns_send(alice, cli, lines[i], strlen(lines[i]), 0);
            /* bob's server loop: one datagram in, one out. */
            struct sockaddr_in peer;
            socklen_t plen = sizeof(peer);
            ssize_t n = ns_recvfrom(bob, srv, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
            if (n > 0) {
                for (ssize_t k = 0; k < n; k++)
                    if (buf[k] >= 'a' && buf[k] <= 'z')
                        buf[k] = (char)(buf[k] - 32);
                ns_sendto(bob, srv, buf, (size_t)n, 0, (struct sockaddr *)&peer, plen);
            }
            n = ns_recv(alice, cli, buf, sizeof(buf) - 1, 0);
            if (n >= 0) {
                buf[n] = 0;
                printf("alice -> bob:7 \"%s\"  <- \"%s\"  %.3f ms%s\n", lines[i], buf,
                       (double)(ns_sim_now(sim) - t0) / 1000.0,
                       attempt > 1 ? "  (after a retry)" : "");
                break;
            }
            printf("alice -> bob:7 \"%s\"  ... no answer in 300 ms (%s), sending again\n",
                   lines[i], strerror(errno));
            /* A late answer to the lost attempt may still arrive: drop it. */
            while (ns_recv(alice, cli, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                ;
        }
    }

    /* Nobody listens on port 9: bob's stack answers "port unreachable",
     * and the connected socket reports it on its next call, as Linux. */
    int probe = ns_socket(alice, AF_INET, SOCK_DGRAM, 0);
    sin.sin_port = htons(9);
    ns_connect(alice, probe, (struct sockaddr *)&sin, sizeof(sin));
    ns_setsockopt(alice, probe, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n = -1;
    for (int attempt = 0; attempt < 5 && n < 0; attempt++) {
        ns_send(alice, probe, "anyone?", 7, 0);
        n = ns_recv(alice, probe, buf, sizeof(buf), 0);
        if (n < 0 && errno == ECONNREFUSED) {
            printf("alice -> bob:9 \"anyone?\"  <- %s (ICMP port unreachable from bob)\n",
                   strerror(errno));
            break;
        }
    }
    printf("\n");
    print_sockets(alice);
    print_sockets(bob);
    printf("\n");
    ns_close(alice, probe);
    ns_close(alice, cli);
    ns_close(bob, srv);
}

struct host_snap {
    struct ns_stack *st;
    uint64_t before[NS_CTR__COUNT];
};

static void print_changed(struct host_snap *h, unsigned n)
{
    printf("Counters that changed (netsock's MIB; drops are *_drop_*):\n");
    for (unsigned i = 0; i < n; i++) {
        uint64_t now[NS_CTR__COUNT];
        ns_stack_counters(h[i].st, now);
        printf("  %s\n", ns_stack_name(h[i].st));
        unsigned col = 0;
        for (unsigned c = 0; c < NS_CTR__COUNT; c++) {
            if (now[c] == h[i].before[c])
                continue;
            char item[64];
            snprintf(item, sizeof(item), "%s %" PRIu64, ns_counter_name((enum ns_counter)c),
                     now[c] - h[i].before[c]);
            printf("%s%-36s", col == 0 ? "    " : "", item);
            if (++col == 3) {
                printf("\n");
                col = 0;
            }
        }
        if (col)
            printf("\n");
    }
    printf("\n");
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: netsock demo [-q|-v] [--seed N] [--count N] [--loss PERCENT]\n"
            "                    [--tcp-bytes N] [--pcap-dir DIR]\n"
            "\n"
            "Three hosts on a simulated network, on virtual time: pings across a router\n"
            "over a lossy WAN, fragments, time exceeded, UDP, a TCP download.\n"
            "\n"
            "  --seed N          simulation seed (default 42): same seed, same run\n"
            "  --count N         pings per round, 1 to %d (default 10)\n"
            "  --loss PERCENT    WAN loss each way, 0 to 100 (default 5)\n"
            "  --tcp-bytes N     size of the TCP download, 1 to 1073741824 (default 1048576)\n"
            "  --pcap-dir DIR    where the captures go (default: a new private directory,\n"
            "                    $TMPDIR/netsock-demo-XXXXXX)\n"
            "  -q, --quiet       do not print stack events (ARP, reassembly...)\n"
            "  -v, --verbose     print debug-level stack events too\n"
            "  -h, --help        this text\n",
            MAX_PINGS);
}

/* Returns -1 to go on, else the exit status. */
static int parse_opts(int argc, char **argv, struct demo_opts *o)
{
    static const char *const prog = "netsock demo";
    static const char shortopts[] = ":qvh";
    enum { OPT_SEED = 0x100, OPT_COUNT, OPT_LOSS, OPT_TCP_BYTES, OPT_PCAP_DIR };
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, OPT_SEED},
        {"count", required_argument, NULL, OPT_COUNT},
        {"loss", required_argument, NULL, OPT_LOSS},
        {"tcp-bytes", required_argument, NULL, OPT_TCP_BYTES},
        {"pcap-dir", required_argument, NULL, OPT_PCAP_DIR},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_getopt_reset();
    int c;
    uint64_t u;
    double d;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        switch (c) {
        case OPT_SEED:
            if (cli_uint(prog, "--seed", optarg, 0, UINT64_MAX, &o->seed) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_COUNT:
            if (cli_uint(prog, "--count", optarg, 1, MAX_PINGS, &u) < 0)
                return CLI_EXIT_USAGE;
            o->count = (unsigned)u;
            break;
        case OPT_LOSS:
            if (cli_num(prog, "--loss", optarg, 0, 100, "percent", &d) < 0)
                return CLI_EXIT_USAGE;
            o->wan_loss = d / 100.0;
            break;
        case OPT_TCP_BYTES:
            if (cli_uint(prog, "--tcp-bytes", optarg, 1, 1u << 30, &u) < 0)
                return CLI_EXIT_USAGE;
            o->tcp_bytes = (size_t)u;
            break;
        case OPT_PCAP_DIR:
            if (!*optarg) {
                cli_bad_value(prog, "--pcap-dir", optarg, "a directory");
                return CLI_EXIT_USAGE;
            }
            o->pcap_dir = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_getopt_error(prog, c, argv, shortopts);
        }
    }
    if (optind < argc)
        return cli_usage_error(prog, "unexpected argument '%s'", argv[optind]);
    if (o->quiet && o->verbose)
        return cli_usage_error(prog, "--quiet and --verbose exclude each other");
    return -1;
}

static struct ns_dev *capture(struct ns_dev *dev, const char *dir, const char *name,
                              char paths[][256], unsigned *npaths)
{
    char path[256];
    int err = 0;
    snprintf(path, sizeof(path), "%s/%s.pcap", dir, name);
    struct ns_dev *w = ns_pcap_wrap(dev, path, &err);
    if (!w) {
        /* The demo promises its captures: no capture, no demo. */
        fprintf(stderr, "netsock demo: cannot write the capture %s: %s\n", path, strerror(-err));
        exit(1);
    }
    snprintf(paths[(*npaths)++], 256, "%s", path);
    return w;
}

int tool_demo(int argc, char **argv)
{
    struct demo_opts o = {
        .seed = 42, .count = 10, .big_count = 4, .wan_loss = 0.05, .tcp_bytes = 1u << 20};
    int rc = parse_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    char dir[200];
    if (o.pcap_dir) {
        /* The directory asked for: made if absent (private), or an existing one. */
        snprintf(dir, sizeof(dir), "%s", o.pcap_dir);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            fprintf(stderr, "netsock demo: --pcap-dir %s: cannot create it: %s\n", dir,
                    strerror(errno));
            return 1;
        }
    } else {
        /* A new private directory each run (mkdtemp: mode 0700, a name
         * nobody can take first), never a fixed path in /tmp. */
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/netsock-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            fprintf(stderr, "netsock demo: cannot create a directory for the captures (%s): %s\n",
                    dir, strerror(errno));
            return 1;
        }
    }

    struct ns_sim *sim = ns_sim_new(o.seed);
    struct ns_config cfg;
    ns_config_default(&cfg);
    if (!o.quiet) {
        cfg.log_fn = log_line;
        cfg.log_level = o.verbose ? NS_LOG_DEBUG : NS_LOG_INFO;
    }
    struct ns_stack *alice = ns_sim_add_host(sim, "alice", &cfg);
    struct ns_stack *router = ns_sim_add_host(sim, "router", &cfg);
    struct ns_stack *bob = ns_sim_add_host(sim, "bob", &cfg);
    ns_stack_set_forwarding(router, true);

    /* lan: 2 ms, 100 Mbit/s, clean. wan: 20 ms, 10 Mbit/s, lossy and
     * slightly reordering, 64 KB of queue. */
    struct ns_link_params lan, wan;
    ns_link_params_default(&lan);
    lan.delay_us = 2000;
    lan.rate_bps = 100000000;
    ns_link_params_default(&wan);
    wan.delay_us = 20000;
    wan.jitter_us = 3000;
    wan.rate_bps = 10000000;
    wan.queue_bytes = 65536;
    wan.loss = o.wan_loss;
    wan.reorder = 0.02;
    wan.reorder_delay_us = 5000;
    struct ns_simlink *l1 = ns_sim_add_link(sim, "lan", 2, &lan);
    struct ns_simlink *l2 = ns_sim_add_link(sim, "wan", 2, &wan);

    char paths[4][256];
    unsigned npaths = 0;
    int a_if = ns_if_add(alice, capture(ns_simlink_port(l1, 0, NULL), dir, "alice", paths, &npaths));
    int r_if1 = ns_if_add(router, ns_simlink_port(l1, 1, NULL));
    int r_if2 = ns_if_add(router, ns_simlink_port(l2, 0, NULL));
    int b_if = ns_if_add(bob, capture(ns_simlink_port(l2, 1, NULL), dir, "bob", paths, &npaths));

    struct in_addr a_ip, r_ip1, r_ip2, b_ip, any = {0};
    inet_pton(AF_INET, "192.0.2.10", &a_ip);
    inet_pton(AF_INET, "192.0.2.1", &r_ip1);
    inet_pton(AF_INET, "198.51.100.1", &r_ip2);
    inet_pton(AF_INET, "198.51.100.20", &b_ip);

    printf("netsock %s demo: three hosts on a simulated network (seed %" PRIu64 ")\n\n", NS_VERSION,
           o.seed);
    printf("  alice 192.0.2.10 ─lan─ 192.0.2.1 router 198.51.100.1 ─wan─ 198.51.100.20 bob\n");
    printf("        2001:db8:1::10     2001:db8:1::1 (IPv6 on the lan, from the last part on)\n");
    printf("        lan: 2 ms, 100 Mbit/s     wan: 20±3 ms, 10 Mbit/s, %.1f%% loss, 2%% reordering\n\n",
           o.wan_loss * 100);
    if (!o.quiet)
        printf("Stack events are shown as [seconds.micros] host message (virtual time).\n");

    ns_if_addr_add(alice, a_if, AF_INET, &a_ip, 24);
    ns_if_addr_add(router, r_if1, AF_INET, &r_ip1, 24);
    ns_if_addr_add(router, r_if2, AF_INET, &r_ip2, 24);
    ns_if_addr_add(bob, b_if, AF_INET, &b_ip, 24);
    ns_route_add(alice, AF_INET, &any, 0, &r_ip1, 0);
    ns_route_add(bob, AF_INET, &any, 0, &r_ip2, 0);
    ns_sim_run_for(sim, 5000000); /* let the RFC 5227 announcements go out */
    if (!o.quiet)
        printf("\n");

    struct host_snap snaps[3] = {{.st = alice}, {.st = router}, {.st = bob}};
    for (unsigned i = 0; i < 3; i++)
        ns_stack_counters(snaps[i].st, snaps[i].before);

    printf("== alice pings bob across the router (ARP on both links first) ==\n");
    run_ping(sim, alice, "198.51.100.20", o.count, 56, 0, 0x1234);
    printf("== 4000-byte pings: 3 fragments each way; lose one, lose the datagram ==\n");
    run_ping(sim, alice, "198.51.100.20", o.big_count, 4000, 0, 0x1235);
    printf("== TTL 1: the router must not forward it, and says so (RFC 1812 §5.3.1) ==\n");
    run_ping(sim, alice, "198.51.100.20", 2, 56, 1, 0x1236);
    printf("== UDP: alice talks to bob's \"shout\" service through BSD sockets ==\n");
    run_udp(sim, alice, bob, "198.51.100.20");
    printf("== TCP: alice downloads %zu KiB from bob; losses are repaired by retransmission ==\n",
           o.tcp_bytes / 1024);
    bool tcp_ok = run_tcp(sim, alice, bob, "198.51.100.20", o.tcp_bytes, "across the router");

    /* IPv6 starts on an interface only when asked (docs/ipv6.md): the
     * frames above are what an IPv4-only world sends. Now alice and the
     * router's lan side become dual-stack. */
    printf("== IPv6 beside it: alice and the router's lan side get 2001:db8:1::/64 ==\n");
    struct in6_addr a6, r6;
    inet_pton(AF_INET6, "2001:db8:1::10", &a6);
    inet_pton(AF_INET6, "2001:db8:1::1", &r6);
    ns_if_addr_add(alice, a_if, AF_INET6, &a6, 64);
    ns_if_addr_add(router, r_if1, AF_INET6, &r6, 64);
    ns_sim_run_for(sim, 1000000);
    printf("alice pings the router over IPv6 (neighbour discovery first, RFC 4861):\n");
    run_ping(sim, alice, "2001:db8:1::1", 4, 56, 0, 0x1237);
    printf("== TCP over IPv6: alice downloads %zu KiB from the router's own server ==\n",
           o.tcp_bytes / 4 / 1024);
    bool tcp6_ok =
        run_tcp(sim, alice, router, "2001:db8:1::1", o.tcp_bytes / 4, "on the lan, over IPv6");

    print_changed(snaps, 3);

    struct ns_impair_stats ws;
    ns_simlink_stats(l2, 0, &ws);
    printf("WAN router->bob: %" PRIu64 " frames offered, %" PRIu64 " lost, %" PRIu64
           " reordered, %" PRIu64 " queue drops\n",
           ws.frames, ws.lost, ws.reordered, ws.queue_drop);
    ns_simlink_stats(l2, 1, &ws);
    printf("WAN bob->router: %" PRIu64 " frames offered, %" PRIu64 " lost, %" PRIu64
           " reordered, %" PRIu64 " queue drops\n\n",
           ws.frames, ws.lost, ws.reordered, ws.queue_drop);

    ns_sim_free(sim); /* closes the captures */
    printf("Captured every frame alice and bob sent and received:\n");
    for (unsigned i = 0; i < npaths; i++)
        printf("  %s\n", paths[i]);
    printf("Open them with: wireshark %s   or   tcpdump -nn -r %s\n", npaths ? paths[0] : "",
           npaths ? paths[0] : "");
    printf("Same seed, same bytes: run 'netsock demo --seed %" PRIu64
           "' again and compare; try --seed 7 or --loss 20.\n",
           o.seed);
    if (!tcp_ok || !tcp6_ok) {
        fprintf(stderr, "netsock demo: the TCP download%s did not arrive intact\n",
                tcp_ok ? " over IPv6" : "");
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}
