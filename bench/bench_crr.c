/* bench/bench_crr.c — TCP connection rate: connect, a 1-byte request, a
 * 1-byte answer, close; connections per second, netsock and Linux in the
 * same run (netperf calls this TCP_CRR).
 *
 * One thread plays client and server with blocking calls, one connection
 * at a time, the same sequence on both stacks (struct crr_ops):
 *
 *     client: socket, TCP_NODELAY, connect          (the three-way handshake)
 *     server: accept
 *     client: send 1 byte;  server: recv 1, send 1, close   (server FIN first)
 *     client: recv 1, recv 0 (the server's FIN), close
 *
 * The server closes first, as an HTTP/1.0 server does, so TIME_WAIT stays
 * on the server's side and the client's ephemeral ports are free again at
 * once; a client that closed first would run out of ports (28232 of them)
 * within the run.
 *
 * - netsock: client and server hosts on a zero-delay simulated link
 *   (bench_util.h). The blocking calls drive both stacks through a driver
 *   whose virtual clock follows the wall clock, so a timer wait (an RTO, a
 *   delayed ACK) costs its real duration.
 * - Linux: the same calls on 127.0.0.1. Loopback does the kernel's work
 *   inside the system calls, so one thread can play both sides.
 *
 * The stacks take turns (CRR_ROUNDS rounds of netsock then Linux, each
 * with 0.1 s of warm-up that is not counted) so load from elsewhere on a
 * shared machine hits both alike.
 *
 * Usage: bench_crr [SECONDS]   (measured per stack, default 2; one row)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"

#define CRR_PORT 5003
#define CRR_ROUNDS 4
#define CRR_WARMUP_NS 100000000u

/* The calls one connection makes, on either stack; ctx is the stack of
 * the side making the call (netsock) or NULL (Linux). */
struct crr_ops {
    int (*socket)(void *ctx); /* a TCP socket with TCP_NODELAY */
    int (*connect)(void *ctx, int fd, const struct sockaddr_in *to);
    int (*accept)(void *ctx, int lfd);
    ssize_t (*send)(void *ctx, int fd, const void *buf, size_t len);
    ssize_t (*recv)(void *ctx, int fd, void *buf, size_t len);
    int (*close)(void *ctx, int fd);
};

struct crr_env {
    const struct crr_ops *ops;
    void *cli, *srv;        /* ctx of the client's and the server's calls */
    int lfd;                /* the server's listener */
    struct sockaddr_in to;  /* its address */
};

/* One connection, start to end. Returns 0, or -1 naming the failed step. */
static int crr_one(const struct crr_env *e, const char **step)
{
    const struct crr_ops *o = e->ops;
    uint8_t b = 'q';
    int s = -1, c = o->socket(e->cli);
    *step = "socket";
    if (c < 0)
        return -1;
    *step = "connect";
    if (o->connect(e->cli, c, &e->to) < 0)
        goto fail;
    *step = "accept";
    if ((s = o->accept(e->srv, e->lfd)) < 0)
        goto fail;
    *step = "request";
    if (o->send(e->cli, c, &b, 1) != 1 || o->recv(e->srv, s, &b, 1) != 1)
        goto fail;
    *step = "answer";
    if (o->send(e->srv, s, &b, 1) != 1)
        goto fail;
    o->close(e->srv, s);
    s = -1;
    if (o->recv(e->cli, c, &b, 1) != 1)
        goto fail;
    *step = "server's FIN";
    if (o->recv(e->cli, c, &b, 1) != 0)
        goto fail;
    o->close(e->cli, c);
    return 0;
fail:
    if (s >= 0)
        o->close(e->srv, s);
    o->close(e->cli, c);
    return -1;
}

struct crr_run {
    const char *stack;
    uint64_t measured_ns, done;
    struct bench_lat lat;
    bool failed;
};

/* Connections back to back for the warm-up and then `seconds`. */
static void crr_round(struct crr_run *run, const struct crr_env *e, double seconds)
{
    uint64_t t0 = bench_now_ns(), t_record = t0 + CRR_WARMUP_NS;
    uint64_t t_end = t_record + (uint64_t)(seconds * 1e9);
    for (;;) {
        uint64_t t = bench_now_ns();
        if (t >= t_end)
            break;
        const char *step;
        if (crr_one(e, &step) < 0) {
            fprintf(stderr, "bench_crr: %s: connection %llu: %s failed: %s\n", run->stack,
                    (unsigned long long)run->done, step, strerror(errno));
            run->failed = true;
            return;
        }
        uint64_t done = bench_now_ns();
        if (t >= t_record) {
            run->done++;
            bench_lat_add(&run->lat, done - t);
        }
    }
    run->measured_ns += t_end - t_record;
}

/* ---- netsock ------------------------------------------------------------------ */

static int ns_op_socket(void *st)
{
    int one = 1, fd = ns_socket(st, AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && ns_setsockopt(st, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
        ns_close(st, fd);
        return -1;
    }
    return fd;
}
static int ns_op_connect(void *st, int fd, const struct sockaddr_in *to)
{
    return ns_connect(st, fd, (const struct sockaddr *)to, sizeof(*to));
}
static int ns_op_accept(void *st, int lfd) { return ns_accept(st, lfd, NULL, NULL); }
static ssize_t ns_op_send(void *st, int fd, const void *b, size_t n) { return ns_send(st, fd, b, n, 0); }
static ssize_t ns_op_recv(void *st, int fd, void *b, size_t n) { return ns_recv(st, fd, b, n, 0); }
static int ns_op_close(void *st, int fd) { return ns_close(st, fd); }

static const struct crr_ops ns_ops = {ns_op_socket, ns_op_connect, ns_op_accept,
                                      ns_op_send,   ns_op_recv,    ns_op_close};

static void bench_netsock(struct crr_run *run, double seconds)
{
    struct bench_rtsim r;
    if (bench_rtsim_new(&r, NULL) < 0) {
        run->failed = true;
        bench_rtsim_free(&r);
        return;
    }
    struct crr_env e = {.ops = &ns_ops, .cli = r.a, .srv = r.b, .to = r.addr_b};
    e.to.sin_port = htons(CRR_PORT);
    e.lfd = ns_socket(r.b, AF_INET, SOCK_STREAM, 0);
    if (e.lfd < 0 || ns_bind(r.b, e.lfd, (struct sockaddr *)&e.to, sizeof(e.to)) < 0 ||
        ns_listen(r.b, e.lfd, 128) < 0) {
        fprintf(stderr, "bench_crr: netsock: listen: %s\n", strerror(errno));
        run->failed = true;
    } else {
        crr_round(run, &e, seconds);
    }
    bench_rtsim_free(&r);
}

/* ---- Linux ---------------------------------------------------------------------- */

static int lx_op_socket(void *ctx)
{
    (void)ctx;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}
static int lx_op_connect(void *ctx, int fd, const struct sockaddr_in *to)
{
    (void)ctx;
    return connect(fd, (const struct sockaddr *)to, sizeof(*to));
}
static int lx_op_accept(void *ctx, int lfd)
{
    (void)ctx;
    return accept(lfd, NULL, NULL);
}
static ssize_t lx_op_send(void *ctx, int fd, const void *b, size_t n)
{
    (void)ctx;
    return send(fd, b, n, MSG_NOSIGNAL);
}
static ssize_t lx_op_recv(void *ctx, int fd, void *b, size_t n)
{
    (void)ctx;
    return recv(fd, b, n, 0);
}
static int lx_op_close(void *ctx, int fd)
{
    (void)ctx;
    return close(fd);
}

static const struct crr_ops lx_ops = {lx_op_socket, lx_op_connect, lx_op_accept,
                                      lx_op_send,   lx_op_recv,    lx_op_close};

static void bench_linux(struct crr_run *run, double seconds)
{
    struct crr_env e = {.ops = &lx_ops, .to = {.sin_family = AF_INET}};
    inet_pton(AF_INET, "127.0.0.1", &e.to.sin_addr);
    socklen_t sl = sizeof(e.to);
    e.lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (e.lfd < 0 || bind(e.lfd, (struct sockaddr *)&e.to, sizeof(e.to)) < 0 ||
        listen(e.lfd, 128) < 0 || getsockname(e.lfd, (struct sockaddr *)&e.to, &sl) < 0) {
        fprintf(stderr, "bench_crr: Linux: listen: %s\n", strerror(errno));
        run->failed = true;
    } else {
        crr_round(run, &e, seconds);
    }
    if (e.lfd >= 0)
        close(e.lfd);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    if (seconds <= 0) {
        fprintf(stderr, "usage: bench_crr [SECONDS]\n");
        return 2;
    }
    alarm((unsigned)(2.5 * seconds) + 60); /* a hang ends the program, not make bench */
    struct crr_run ns = {.stack = "netsock"}, lx = {.stack = "Linux"};
    for (int round = 0; round < CRR_ROUNDS; round++) {
        if (!ns.failed)
            bench_netsock(&ns, seconds / CRR_ROUNDS);
        if (!lx.failed)
            bench_linux(&lx, seconds / CRR_ROUNDS);
    }
    char nsv[32] = "-", lxv[32] = "-";
    if (!ns.failed && ns.done)
        snprintf(nsv, sizeof(nsv), "%.0f", (double)ns.done / ((double)ns.measured_ns / 1e9));
    if (!lx.failed && lx.done)
        snprintf(lxv, sizeof(lxv), "%.0f", (double)lx.done / ((double)lx.measured_ns / 1e9));
    bench_row("tcp_crr", "TCP connect + 1 B request + 1 B answer + close, one at a time: "
              "connections/s (netsock: sim link; Linux: loopback)",
              "higher", "conn_per_s", nsv, lxv);
    fprintf(stderr, "bench_crr: time per connection p50/p99: netsock %.1f/%.1f µs, Linux %.1f/%.1f µs\n",
            bench_lat_quantile_us(&ns.lat, 0.5), bench_lat_quantile_us(&ns.lat, 0.99),
            bench_lat_quantile_us(&lx.lat, 0.5), bench_lat_quantile_us(&lx.lat, 0.99));
    bench_lat_free(&ns.lat);
    bench_lat_free(&lx.lat);
    return ns.failed || lx.failed;
}
