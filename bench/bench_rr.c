/* bench/bench_rr.c — TCP request/response: round trips per second and
 * round-trip latency (p50, p99), netsock and Linux in the same run.
 *
 * CONNS connections each keep one SIZE-byte request in flight (closed
 * loop): the client sends SIZE bytes, the server reads them and answers
 * SIZE bytes, the client reads the answer and sends the next request. The
 * application code is the same for both stacks (struct rr_io):
 *
 * - netsock: client host and server host on a zero-delay simulated link
 *   (bench_util.h; the virtual clock follows the wall clock). One thread
 *   runs a loop of ns_poll(timeout 0) over the server's sockets, the same
 *   over the client's, and one simulator step.
 * - Linux: client and server sockets on 127.0.0.1, one thread running a
 *   loop over one epoll set holding both ends (level-triggered), so the
 *   kernel does its work inside the same thread's system calls.
 *
 * Every socket has TCP_NODELAY. Latency is wall-clock time from the
 * client's send() to the recv() that completes the answer; round trips/s
 * counts the answers completed in the measuring windows. The stacks take
 * turns: RR_ROUNDS rounds of netsock then Linux, each round with fresh
 * connections, 0.1 s of warm-up that is not counted, then SECONDS /
 * RR_ROUNDS of measuring.
 *
 * Usage: bench_rr SIZE CONNS [SECONDS]
 *   SIZE 1..1024 bytes, CONNS 1..1024, SECONDS measured per stack (default 2).
 * Prints two rows (bench_util.h format): round trips/s, and latency.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"

#define RR_PORT 5002
#define RR_WARMUP_NS 100000000u /* per round */
#define RR_ROUNDS 4
#define RR_MAX_SIZE 1024

/* The two socket calls of the data path, on either stack; ctx is the
 * end's stack (netsock) or NULL (Linux). */
struct rr_io {
    ssize_t (*send)(void *ctx, int fd, const void *buf, size_t len);
    ssize_t (*recv)(void *ctx, int fd, void *buf, size_t len);
};

/* One end of a connection. */
struct rr_end {
    void *ctx;       /* passed to rr_io */
    int fd;
    size_t got;      /* bytes of the current request/answer received */
    uint64_t t_sent; /* client: when the request in flight was sent */
};

/* One stack's measurement, accumulated over the rounds. */
struct rr_run {
    const char *stack;        /* "netsock" or "Linux" */
    struct rr_io io;
    size_t size;
    uint8_t buf[RR_MAX_SIZE];
    uint64_t t_record, t_end; /* this round's measuring window, bench_now_ns() */
    uint64_t measured_ns;     /* sum of the windows */
    uint64_t done;            /* answers completed in the windows */
    struct bench_lat lat;     /* their round-trip times */
    const char *err;          /* first failure, or NULL */
    bool err_reported;
};

static void rr_fail(struct rr_run *run, const char *what)
{
    if (!run->err)
        run->err = what;
}

/* Send a whole message; small messages on an idle connection always fit
 * in the send buffer, so anything else is a failure. */
static void rr_send_msg(struct rr_run *run, struct rr_end *e)
{
    if (run->io.send(e->ctx, e->fd, run->buf, run->size) != (ssize_t)run->size)
        rr_fail(run, "short or failed send");
}

/* The server's socket is readable: take what there is of the request;
 * once it is complete, answer it. */
static void rr_server_ready(struct rr_run *run, struct rr_end *s)
{
    ssize_t r = run->io.recv(s->ctx, s->fd, run->buf, run->size - s->got);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (r <= 0) {
        rr_fail(run, r == 0 ? "server: unexpected EOF" : "server: recv failed");
        return;
    }
    s->got += (size_t)r;
    if (s->got == run->size) {
        s->got = 0;
        rr_send_msg(run, s);
    }
}

/* The client's socket is readable: take what there is of the answer; once
 * it is complete, count it and send the next request. */
static void rr_client_ready(struct rr_run *run, struct rr_end *c)
{
    ssize_t r = run->io.recv(c->ctx, c->fd, run->buf, run->size - c->got);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (r <= 0) {
        rr_fail(run, r == 0 ? "client: unexpected EOF" : "client: recv failed");
        return;
    }
    c->got += (size_t)r;
    if (c->got < run->size)
        return;
    c->got = 0;
    uint64_t now = bench_now_ns();
    if (now >= run->t_record && now < run->t_end) {
        run->done++;
        if (bench_lat_add(&run->lat, now - c->t_sent) < 0)
            rr_fail(run, "out of memory");
    }
    c->t_sent = now;
    rr_send_msg(run, c);
}

/* Start a round: the warm-up, then `seconds` of measuring; every client
 * (cli[0], cli[stride], ...) sends its first request. */
static void rr_start(struct rr_run *run, struct rr_end *cli, int conns, int stride,
                     double seconds)
{
    uint64_t now = bench_now_ns();
    run->t_record = now + RR_WARMUP_NS;
    run->t_end = run->t_record + (uint64_t)(seconds * 1e9);
    run->measured_ns += run->t_end - run->t_record;
    for (int i = 0; i < conns; i++) {
        cli[i * stride].t_sent = now;
        rr_send_msg(run, &cli[i * stride]);
    }
}

struct rr_result {
    double rt_per_s, p50_us, p99_us, max_us;
};

/* Report a round's failure (once); -1 when the run has failed. */
static int rr_check(struct rr_run *run)
{
    if (run->err && !run->err_reported) {
        fprintf(stderr, "bench_rr: %s: %s (errno %d: %s)\n", run->stack, run->err, errno,
                strerror(errno));
        run->err_reported = true;
    }
    return run->err ? -1 : 0;
}

/* The results over every round. */
static int rr_finish(struct rr_run *run, struct rr_result *res)
{
    if (run->err || !run->done)
        return -1;
    res->rt_per_s = (double)run->done / ((double)run->measured_ns / 1e9);
    res->p50_us = bench_lat_quantile_us(&run->lat, 0.50);
    res->p99_us = bench_lat_quantile_us(&run->lat, 0.99);
    res->max_us = run->lat.n ? run->lat.ns[run->lat.n - 1] / 1000.0 : -1;
    if (res->max_us > 100000)
        fprintf(stderr, "bench_rr: %s: slowest round trip took %.1f ms (a stall)\n",
                run->stack, res->max_us / 1000);
    return 0;
}

/* ---- netsock ------------------------------------------------------------------ */

static ssize_t ns_io_send(void *ctx, int fd, const void *buf, size_t len)
{
    return ns_send(ctx, fd, buf, len, 0);
}

static ssize_t ns_io_recv(void *ctx, int fd, void *buf, size_t len)
{
    return ns_recv(ctx, fd, buf, len, 0);
}

/* One round on netsock: set up, measure for `seconds`, tear down. */
static int bench_netsock(struct rr_run *run, int conns, double seconds)
{
    struct bench_rtsim r;
    if (bench_rtsim_new(&r, NULL) < 0) {
        rr_fail(run, "cannot build the simulated network");
        bench_rtsim_free(&r);
        return -1;
    }
    struct rr_end *cli = calloc((size_t)conns, sizeof(*cli)), *srv = calloc((size_t)conns, sizeof(*srv));
    struct pollfd *cpf = calloc((size_t)conns, sizeof(*cpf)), *spf = calloc((size_t)conns, sizeof(*spf));
    int rc = -1, one = 1;
    if (!cli || !srv || !cpf || !spf)
        goto out;

    struct sockaddr_in sin = r.addr_b;
    sin.sin_port = htons(RR_PORT);
    int l = ns_socket(r.b, AF_INET, SOCK_STREAM, 0);
    if (l < 0 || ns_bind(r.b, l, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        ns_listen(r.b, l, conns) < 0)
        goto fail;
    for (int i = 0; i < conns; i++) {
        /* Blocking calls: the driver (bench_util.h) runs both stacks. */
        int c = ns_socket(r.a, AF_INET, SOCK_STREAM, 0);
        if (c < 0 || ns_setsockopt(r.a, c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
            ns_connect(r.a, c, (struct sockaddr *)&sin, sizeof(sin)) < 0)
            goto fail;
        int s = ns_accept(r.b, l, NULL, NULL);
        if (s < 0 || ns_setsockopt(r.b, s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
            goto fail;
        ns_fcntl(r.a, c, F_SETFL, O_NONBLOCK);
        ns_fcntl(r.b, s, F_SETFL, O_NONBLOCK);
        cli[i] = (struct rr_end){.ctx = r.a, .fd = c};
        srv[i] = (struct rr_end){.ctx = r.b, .fd = s};
        cpf[i] = (struct pollfd){.fd = c, .events = POLLIN};
        spf[i] = (struct pollfd){.fd = s, .events = POLLIN};
    }

    rr_start(run, cli, conns, 1, seconds);
    for (;;) {
        if (bench_now_ns() >= run->t_end || run->err)
            break;
        if (ns_poll(r.b, spf, (nfds_t)conns, 0) > 0)
            for (int i = 0; i < conns; i++)
                if (spf[i].revents) {
                    if (spf[i].revents & (POLLERR | POLLHUP | POLLNVAL))
                        rr_fail(run, "server: socket error");
                    rr_server_ready(run, &srv[i]);
                }
        if (ns_poll(r.a, cpf, (nfds_t)conns, 0) > 0)
            for (int i = 0; i < conns; i++)
                if (cpf[i].revents) {
                    if (cpf[i].revents & (POLLERR | POLLHUP | POLLNVAL))
                        rr_fail(run, "client: socket error");
                    rr_client_ready(run, &cli[i]);
                }
        bench_rtsim_step(&r);
    }
    rc = rr_check(run);
    goto out;
fail:
    fprintf(stderr, "bench_rr: netsock: setup failed: %s\n", strerror(errno));
    rr_fail(run, "setup failed");
out:
    free(cli);
    free(srv);
    free(cpf);
    free(spf);
    bench_rtsim_free(&r);
    return rc;
}

/* ---- Linux ---------------------------------------------------------------------- */

static ssize_t lx_io_send(void *ctx, int fd, const void *buf, size_t len)
{
    (void)ctx;
    return send(fd, buf, len, MSG_NOSIGNAL);
}

static ssize_t lx_io_recv(void *ctx, int fd, void *buf, size_t len)
{
    (void)ctx;
    return recv(fd, buf, len, 0);
}

/* One round on Linux: set up, measure for `seconds`, tear down. */
static int bench_linux(struct rr_run *run, int conns, double seconds)
{
    struct rr_end *ends = calloc(2 * (size_t)conns, sizeof(*ends)); /* client i at 2i, server at 2i+1 */
    struct epoll_event *evs = calloc(2 * (size_t)conns, sizeof(*evs));
    int rc = -1, one = 1, l = -1, ep = epoll_create1(0);
    if (!ends || !evs || ep < 0)
        goto out;
    for (int i = 0; i < 2 * conns; i++)
        ends[i].fd = -1;

    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    socklen_t sl = sizeof(sin);
    l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, conns) < 0 ||
        getsockname(l, (struct sockaddr *)&sin, &sl) < 0)
        goto fail;
    for (int i = 0; i < conns; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        ends[2 * i].fd = c;
        if (c < 0 || setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
            connect(c, (struct sockaddr *)&sin, sizeof(sin)) < 0)
            goto fail;
        int s = accept(l, NULL, NULL);
        ends[2 * i + 1].fd = s;
        if (s < 0 || setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
            goto fail;
        for (int k = 0; k < 2; k++) {
            int fd = ends[2 * i + k].fd;
            fcntl(fd, F_SETFL, O_NONBLOCK);
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(2 * i + k)};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                goto fail;
        }
    }

    rr_start(run, ends, conns, 2, seconds);
    for (;;) {
        if (bench_now_ns() >= run->t_end || run->err)
            break;
        int n = epoll_wait(ep, evs, 2 * conns, 100);
        if (n < 0 && errno != EINTR)
            rr_fail(run, "epoll_wait failed");
        for (int k = 0; k < n; k++) {
            uint32_t idx = evs[k].data.u32;
            if (evs[k].events & (EPOLLERR | EPOLLHUP))
                rr_fail(run, "socket error");
            if (idx & 1)
                rr_server_ready(run, &ends[idx]);
            else
                rr_client_ready(run, &ends[idx]);
        }
    }
    rc = rr_check(run);
    goto out;
fail:
    fprintf(stderr, "bench_rr: Linux: setup failed: %s\n", strerror(errno));
    rr_fail(run, "setup failed");
out:
    if (ends)
        for (int i = 0; i < 2 * conns; i++)
            if (ends[i].fd >= 0)
                close(ends[i].fd);
    if (l >= 0)
        close(l);
    if (ep >= 0)
        close(ep);
    free(ends);
    free(evs);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_rr SIZE CONNS [SECONDS]\n");
        return 2;
    }
    size_t size = strtoul(argv[1], NULL, 0);
    int conns = atoi(argv[2]);
    double seconds = argc > 3 ? atof(argv[3]) : 2.0;
    if (size < 1 || size > RR_MAX_SIZE || conns < 1 || conns > 1024 || seconds <= 0) {
        fprintf(stderr, "bench_rr: SIZE 1..%d, CONNS 1..1024, SECONDS > 0\n", RR_MAX_SIZE);
        return 2;
    }
    alarm((unsigned)(2.5 * seconds) + 60); /* a hang ends the program, not make bench */

    /* Alternate the stacks in RR_ROUNDS rounds, so that a burst of load
     * from elsewhere on a shared machine hits both alike. */
    static struct rr_run ns_run, lx_run;
    ns_run = (struct rr_run){.stack = "netsock", .io = {ns_io_send, ns_io_recv}, .size = size};
    lx_run = (struct rr_run){.stack = "Linux", .io = {lx_io_send, lx_io_recv}, .size = size};
    for (int round = 0; round < RR_ROUNDS; round++) {
        if (!ns_run.err)
            bench_netsock(&ns_run, conns, seconds / RR_ROUNDS);
        if (!lx_run.err)
            bench_linux(&lx_run, conns, seconds / RR_ROUNDS);
    }
    struct rr_result ns, lx;
    int ns_rc = rr_finish(&ns_run, &ns), lx_rc = rr_finish(&lx_run, &lx);
    bench_lat_free(&ns_run.lat);
    bench_lat_free(&lx_run.lat);

    char id[64], title[160], nsv[96], lxv[96];
    const char *cs = conns == 1 ? "" : "s";
    snprintf(id, sizeof(id), "tcp_rr_%zub_%dc", size, conns);
    snprintf(title, sizeof(title),
             "TCP request/response, %zu B each way, %d connection%s: round trips/s "
             "(netsock: sim link; Linux: loopback)",
             size, conns, cs);
    snprintf(nsv, sizeof(nsv), ns_rc ? "-" : "%.0f", ns.rt_per_s);
    snprintf(lxv, sizeof(lxv), lx_rc ? "-" : "%.0f", lx.rt_per_s);
    bench_row(id, title, "higher", "rt_per_s", nsv, lxv);

    snprintf(id, sizeof(id), "tcp_rr_%zub_%dc_latency", size, conns);
    snprintf(title, sizeof(title),
             "TCP request/response, %zu B, %d connection%s: latency p50 / p99, µs (lower is better)",
             size, conns, cs);
    if (ns_rc)
        snprintf(nsv, sizeof(nsv), "-,-");
    else
        snprintf(nsv, sizeof(nsv), "%.1f,%.1f", ns.p50_us, ns.p99_us);
    if (lx_rc)
        snprintf(lxv, sizeof(lxv), "-,-");
    else
        snprintf(lxv, sizeof(lxv), "%.1f,%.1f", lx.p50_us, lx.p99_us);
    bench_row(id, title, "lower", "p50_us,p99_us", nsv, lxv);
    return ns_rc || lx_rc;
}
