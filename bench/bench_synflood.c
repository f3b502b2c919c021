/* bench/bench_synflood.c — connections accepted per second while the
 * listener is under a spoofed SYN flood, netsock and Linux in the same run
 * (RFC 4987; docs/tcp.md "SYN floods").
 *
 * One thread, the same loop on both stacks: before each connection it
 * sends the SYNs the flood owes by now (FLOOD_PPS per second of wall
 * time, from random sources in 198.18.0.0/15 and random ports, written
 * with a raw IP_HDRINCL socket), then connect, accept, the server closes,
 * the client reads the FIN and closes. Connections per second are counted
 * after 0.2 s of flood-only warm-up (so the half-open queue is full and
 * every connection comes in on a SYN cookie, or the syncache).
 *
 * - netsock: client and server hosts on a zero-delay simulated link
 *   (bench_util.h, virtual time following the wall clock); the flood is
 *   written on the client's stack. The server has no route to
 *   198.18.0.0/15: its SYN,ACKs go nowhere.
 * - Linux: 192.0.2.1 on the loopback inside a network namespace of its own (unshare), with
 *   198.18.0.0/15 routed into a TUN device no program holds (it discards everything),
 *   so nothing leaves the machine; defaults of
 *   a new namespace (tcp_syncookies 1, somaxconn 4096). Needs root: the
 *   row says "skipped" otherwise.
 * Both listen with backlog 128.
 *
 * Usage: bench_synflood [SECONDS]   (measured per stack, default 3; one row)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"

#define FLOOD_PPS 20000u
#define WARMUP_NS 200000000ull
#define PORT 5004

struct flood {
    uint64_t rng;
    uint64_t t0_ns, sent;
    uint32_t dst; /* host order */
    int (*send)(void *ctx, const uint8_t *pkt, size_t len, uint32_t dst);
    void *ctx;
};

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* One SYN with an MSS option from a random 198.18.0.0/15 source. */
static size_t build_syn(struct flood *f, uint8_t pkt[44])
{
    memset(pkt, 0, 44);
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    uint64_t r = f->rng;
    uint32_t src = 0xc6120000u | (uint32_t)(r & 0x1ffff);
    pkt[0] = 0x45;
    put16(pkt + 2, 44);
    pkt[8] = 64;
    pkt[9] = IPPROTO_TCP;
    put16(pkt + 12, src >> 16);
    put16(pkt + 14, src);
    put16(pkt + 16, f->dst >> 16);
    put16(pkt + 18, f->dst);
    uint8_t *t = pkt + 20;
    put16(t, 1024 + (uint32_t)((r >> 17) % 60000));
    put16(t + 2, PORT);
    put16(t + 4, (uint32_t)(r >> 48));
    put16(t + 6, (uint32_t)(r >> 32));
    t[12] = 6 << 4;
    t[13] = 0x02;
    put16(t + 14, 65535);
    t[20] = 2;
    t[21] = 4;
    put16(t + 22, 1460);
    uint32_t sum = (src >> 16) + (src & 0xffff) + (f->dst >> 16) + (f->dst & 0xffff) +
                   IPPROTO_TCP + 24;
    for (int i = 0; i < 24; i += 2)
        sum += (uint32_t)(t[i] << 8 | t[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put16(t + 16, ~sum & 0xffff);
    return 44;
}

/* Send the SYNs due by now. */
static int flood_catch_up(struct flood *f)
{
    uint64_t due = (bench_now_ns() - f->t0_ns) * FLOOD_PPS / 1000000000ull;
    uint8_t pkt[44];
    while (f->sent < due) {
        size_t n = build_syn(f, pkt);
        if (f->send(f->ctx, pkt, n, f->dst) < 0)
            return -1;
        f->sent++;
    }
    return 0;
}

struct run {
    uint64_t done, measured_ns, syns;
    bool failed;
    const char *why;
};

/* The calls of one side. */
struct ops {
    int (*socket)(void *st);
    int (*connect)(void *st, int fd, const struct sockaddr_in *to);
    int (*accept)(void *st, int lfd);
    ssize_t (*recv)(void *st, int fd, void *b, size_t n);
    int (*close)(void *st, int fd);
};

static void run_loop(struct run *run, const struct ops *o, void *cli, void *srv, int lfd,
                     const struct sockaddr_in *to, struct flood *f, double seconds,
                     void (*idle)(void *), void *idle_ctx)
{
    f->t0_ns = bench_now_ns();
    uint64_t t_rec = f->t0_ns + WARMUP_NS, t_end = t_rec + (uint64_t)(seconds * 1e9);
    while (bench_now_ns() < t_rec) {
        if (flood_catch_up(f) < 0)
            goto fail;
        if (idle)
            idle(idle_ctx); /* let the simulated stacks run */
    }
    for (;;) {
        uint64_t t = bench_now_ns();
        if (t >= t_end)
            break;
        if (flood_catch_up(f) < 0)
            goto fail;
        int c = o->socket(cli), s = -1;
        char b;
        if (c < 0 || o->connect(cli, c, to) < 0 || (s = o->accept(srv, lfd)) < 0) {
            fprintf(stderr, "bench_synflood: connection %llu: %s\n", (unsigned long long)run->done,
                    strerror(errno));
            goto fail;
        }
        o->close(srv, s);
        if (o->recv(cli, c, &b, 1) != 0)
            goto fail;
        o->close(cli, c);
        run->done++;
    }
    run->measured_ns = t_end - t_rec;
    run->syns = f->sent;
    return;
fail:
    run->failed = true;
}

/* ---- netsock ------------------------------------------------------------------ */

static int ns_sock_(void *st) { return ns_socket(st, AF_INET, SOCK_STREAM, 0); }
static int ns_conn_(void *st, int fd, const struct sockaddr_in *to)
{
    return ns_connect(st, fd, (const struct sockaddr *)to, sizeof(*to));
}
static int ns_acc_(void *st, int lfd) { return ns_accept(st, lfd, NULL, NULL); }
static ssize_t ns_recv_(void *st, int fd, void *b, size_t n) { return ns_recv(st, fd, b, n, 0); }
static void ns_idle_(void *r) { bench_rtsim_step(r); }
static int ns_close_(void *st, int fd) { return ns_close(st, fd); }
static const struct ops ns_ops = {ns_sock_, ns_conn_, ns_acc_, ns_recv_, ns_close_};

struct ns_raw {
    struct ns_stack *st;
    int fd;
};
static int ns_raw_send(void *ctx, const uint8_t *pkt, size_t len, uint32_t dst)
{
    struct ns_raw *r = ctx;
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(dst)};
    return ns_sendto(r->st, r->fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0 ? -1 : 0;
}

static void bench_netsock(struct run *run, double seconds)
{
    struct bench_rtsim r;
    if (bench_rtsim_new(&r, NULL) < 0) {
        run->failed = true;
        bench_rtsim_free(&r);
        return;
    }
    struct sockaddr_in to = r.addr_b;
    to.sin_port = htons(PORT);
    int lfd = ns_socket(r.b, AF_INET, SOCK_STREAM, 0);
    struct ns_raw raw = {.st = r.a, .fd = ns_socket(r.a, AF_INET, SOCK_RAW, IPPROTO_RAW)};
    if (lfd < 0 || raw.fd < 0 || ns_bind(r.b, lfd, (struct sockaddr *)&to, sizeof(to)) < 0 ||
        ns_listen(r.b, lfd, 128) < 0) {
        fprintf(stderr, "bench_synflood: netsock: %s\n", strerror(errno));
        run->failed = true;
    } else {
        struct flood f = {.rng = 0x9e3779b97f4a7c15ull, .dst = ntohl(to.sin_addr.s_addr),
                          .send = ns_raw_send, .ctx = &raw};
        run_loop(run, &ns_ops, r.a, r.b, lfd, &to, &f, seconds, ns_idle_, &r);
        fprintf(stderr, "bench_synflood: netsock: %llu SYNs; cookies sent %llu, valid %llu; syncache entries %llu\n",
                (unsigned long long)f.sent,
                (unsigned long long)ns_stack_counter(r.b, NS_CTR_tcp_syncookies_sent),
                (unsigned long long)ns_stack_counter(r.b, NS_CTR_tcp_syncookies_recv),
                (unsigned long long)ns_stack_counter(r.b, NS_CTR_tcp_syncache_added));
    }
    bench_rtsim_free(&r);
}

/* ---- Linux ---------------------------------------------------------------------- */

static int lx_sock_(void *c)
{
    (void)c;
    return socket(AF_INET, SOCK_STREAM, 0);
}
static int lx_conn_(void *c, int fd, const struct sockaddr_in *to)
{
    (void)c;
    return connect(fd, (const struct sockaddr *)to, sizeof(*to));
}
static int lx_acc_(void *c, int lfd)
{
    (void)c;
    return accept(lfd, NULL, NULL);
}
static ssize_t lx_recv_(void *c, int fd, void *b, size_t n)
{
    (void)c;
    return recv(fd, b, n, 0);
}
static int lx_close_(void *c, int fd)
{
    (void)c;
    return close(fd);
}
static const struct ops lx_ops = {lx_sock_, lx_conn_, lx_acc_, lx_recv_, lx_close_};

static int lx_raw_send(void *ctx, const uint8_t *pkt, size_t len, uint32_t dst)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(dst)};
    return sendto(*(int *)ctx, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0 ? -1 : 0;
}

/* The kernel's counter `name` (TcpExt) from /proc/net/netstat, or -1. */
static long long tcpext(const char *name)
{
    FILE *fp = fopen("/proc/net/netstat", "r");
    if (!fp)
        return -1;
    char h[8192], v[8192];
    long long out = -1;
    while (fgets(h, sizeof(h), fp) && fgets(v, sizeof(v), fp)) {
        if (strncmp(h, "TcpExt:", 7) != 0)
            continue;
        char *sh, *sv, *a = strtok_r(h, " \n", &sh), *b = strtok_r(v, " \n", &sv);
        while (a && b) {
            if (strcmp(a, name) == 0)
                out = atoll(b);
            a = strtok_r(NULL, " \n", &sh);
            b = strtok_r(NULL, " \n", &sv);
        }
    }
    fclose(fp);
    return out;
}

static void bench_linux(struct run *run, double seconds)
{
    if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
        run->failed = true;
        run->why = "skipped (needs root: a network namespace)";
        return;
    }
    /* Routed into a TUN device nobody reads, which discards what it is given: a
     * blackhole route would make the kernel drop the SYNs themselves (no
     * route for the SYN,ACK: ListenDrops), not face the flood. */
    if (system("ip link set lo up && ip addr add 192.0.2.1/32 dev lo && ip tuntap add nsk_sink mode tun && ip link set nsk_sink up && "
               "ip route add 198.18.0.0/15 dev nsk_sink") != 0) {
        run->failed = true;
        run->why = "skipped (ip failed)";
        return;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    /* Not 127.0.0.1: a loopback source may not answer 198.18.0.0/15. */
    inet_pton(AF_INET, "192.0.2.1", &to.sin_addr);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (lfd < 0 || raw < 0 || bind(lfd, (struct sockaddr *)&to, sizeof(to)) < 0 ||
        listen(lfd, 128) < 0) {
        fprintf(stderr, "bench_synflood: Linux: %s\n", strerror(errno));
        run->failed = true;
    } else {
        struct flood f = {.rng = 0x9e3779b97f4a7c15ull, .dst = ntohl(to.sin_addr.s_addr),
                          .send = lx_raw_send, .ctx = &raw};
        run_loop(run, &lx_ops, NULL, NULL, lfd, &to, &f, seconds, NULL, NULL);
        fprintf(stderr, "bench_synflood: Linux: %llu SYNs; TcpExtSyncookiesSent %lld, SyncookiesRecv %lld, ListenDrops %lld\n",
                (unsigned long long)f.sent, tcpext("SyncookiesSent"), tcpext("SyncookiesRecv"),
                tcpext("ListenDrops"));
    }
    if (lfd >= 0)
        close(lfd);
    if (raw >= 0)
        close(raw);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    if (seconds <= 0) {
        fprintf(stderr, "usage: bench_synflood [SECONDS]\n");
        return 2;
    }
    alarm((unsigned)(3 * seconds) + 60);
    struct run ns = {0}, lx = {0};
    bench_netsock(&ns, seconds);
    bench_linux(&lx, seconds); /* last: it leaves the process in its own namespace */
    char nsv[64] = "-", lxv[64] = "-";
    if (!ns.failed && ns.done)
        snprintf(nsv, sizeof(nsv), "%.0f", (double)ns.done / ((double)ns.measured_ns / 1e9));
    if (lx.why)
        snprintf(lxv, sizeof(lxv), "%s", lx.why);
    else if (!lx.failed && lx.done)
        snprintf(lxv, sizeof(lxv), "%.0f", (double)lx.done / ((double)lx.measured_ns / 1e9));
    bench_row("tcp_synflood", "TCP connections accepted per second, one at a time, under a "
              "20k SYN/s spoofed flood (netsock: sim link; Linux: loopback in a namespace)",
              "higher", "conn_per_s", nsv, lxv);
    return ns.failed || (lx.failed && !lx.why) ? 1 : 0;
}
