/* tools/demo.c — `netsock demo`: a small simulated internet, watched.
 *
 *   alice ──lan── router ──wan── bob
 *
 * alice pings bob across a router (forwarding, TTL, ARP on both links),
 * over a lossy, delayed, rate-limited WAN; then with 4000-byte payloads
 * that IPv4 fragments and reassembles; then with TTL 1, which the router
 * answers with "time exceeded". Output imitates ping(8); afterwards the
 * counters that changed on each host, and the pcap files to open in
 * Wireshark. Everything runs on virtual time from one seed: the same seed
 * gives the same output and the same pcaps, byte for byte.
 */
#include <arpa/inet.h>
#include <errno.h>
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
        double ms = (double)(now_us - p->sent_at[i]) / 1000.0;
        p->received++;
        p->rtt_sum += ms;
        p->rtt_sum2 += ms * ms;
        if (p->received == 1 || ms < p->rtt_min)
            p->rtt_min = ms;
        if (ms > p->rtt_max)
            p->rtt_max = ms;
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

/* Ping like ping(8), through a raw ICMP socket: one request a second,
 * poll(2) for answers until the next one is due. */
static void run_ping(struct ns_sim *sim, struct ns_stack *src, const char *dst_str, unsigned count,
                     size_t payload, int ttl, uint16_t id)
{
    struct sockaddr_in dst = {.sin_family = AF_INET};
    inet_pton(AF_INET, dst_str, &dst.sin_addr);
    struct pinger p = {.id = id};
    int fd = ns_socket(src, AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (fd < 0) {
        printf("ping: socket: %s\n", strerror(errno));
        return;
    }
    if (ttl)
        ns_setsockopt(src, fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
    uint8_t *pkt = calloc(1, NS_ICMP_HLEN + payload);
    uint8_t *buf = malloc(65536);

    printf("PING %s (%s) %zu(%zu) bytes of data%s.\n", dst_str, dst_str, payload, payload + 28,
           ttl ? " (ttl 1)" : "");
    uint64_t start = ns_sim_now(sim);
    for (unsigned i = 0; i < count && i < MAX_PINGS; i++) {
        for (size_t k = 0; k < payload; k++)
            pkt[NS_ICMP_HLEN + k] = (uint8_t)(i + k);
        struct ns_icmp4_repr r = {.type = NS_ICMP_ECHO, .id = id, .seq = (uint16_t)(i + 1),
                                  .payload = pkt + NS_ICMP_HLEN, .payload_len = payload};
        ns_icmp4_emit(&r, pkt);
        p.sent_at[i] = ns_sim_now(sim);
        p.transmitted++;
        if (ns_sendto(src, fd, pkt, NS_ICMP_HLEN + payload, 0, (struct sockaddr *)&dst,
                      sizeof(dst)) < 0)
            printf("ping: sendto: %s\n", strerror(errno));
        /* Wait for answers until one second after this request (two after
         * the last one, for stragglers). */
        uint64_t until = p.sent_at[i] + (i + 1 == count ? 2000000 : 1000000);
        while (ns_sim_now(sim) < until) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int ms = (int)((until - ns_sim_now(sim) + 999) / 1000);
            if (ns_poll(src, &pfd, 1, ms) <= 0)
                break;
            ssize_t n = ns_recv(src, fd, buf, 65536, MSG_DONTWAIT);
            if (n > 0)
                ping_handle(&p, buf, (size_t)n, ns_sim_now(sim));
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

/* alice downloads `size` bytes from bob's TCP server over the lossy WAN.
 * One thread drives both ends: each socket is non-blocking, and when
 * neither can make progress the simulation advances to its next event.
 * Returns true when the stream arrived intact and ended with bob's FIN. */
static bool run_tcp(struct ns_sim *sim, struct ns_stack *alice, struct ns_stack *bob,
                    const char *bob_ip, size_t size)
{
    int lfd = ns_socket(bob, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
    ns_bind(bob, lfd, (struct sockaddr *)&sin, sizeof(sin));
    ns_listen(bob, lfd, 16);
    int cfd = ns_socket(alice, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    inet_pton(AF_INET, bob_ip, &sin.sin_addr);
    uint64_t t0 = ns_sim_now(sim);
    if (ns_connect(alice, cfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS) {
        printf("connect: %s\n", strerror(errno));
        return false;
    }
    int sfd = ns_accept(bob, lfd, NULL, NULL); /* blocks: drives the handshake */
    if (sfd < 0) {
        printf("accept: %s\n", strerror(errno));
        return false;
    }
    uint64_t t_conn = ns_sim_now(sim);
    printf("alice connected to bob:80 in %.3f ms (SYN, SYN-ACK, ACK across the router)\n",
           (double)(t_conn - t0) / 1000.0);
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
           eof == 0 ? "bob's FIN" : "no FIN?");
    if (bi)
        printf("bob's socket (as ss -ti): %s cwnd:%u ssthresh:%u mss:%u rtt:%.1fms rto:%.0fms "
               "retrans:%u\n",
               bi->state, bi->cwnd / (bi->mss ? bi->mss : 1),
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
    bool tcp_ok = run_tcp(sim, alice, bob, "198.51.100.20", o.tcp_bytes);

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
    if (!tcp_ok) {
        fprintf(stderr, "netsock demo: the TCP download did not arrive intact\n");
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}
