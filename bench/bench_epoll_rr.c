/* bench/bench_epoll_rr.c — 1-byte TCP request/response on one connection
 * while N idle connections are registered in the same epoll sets:
 * round trips/s at N = 100 and N = 20,000, netsock (ns_epoll_wait) and
 * Linux (epoll_wait) in the same run. A wait that costs O(ready) gives
 * the same rate at both N; one that scans what is registered slows down
 * with N.
 *
 * Each stack: a listener on the server, N+1 connections to it; every
 * accepted socket is in the server's epoll set, every client socket in
 * the client's (EPOLLIN, level-triggered); the last connection carries
 * the exchange, the others stay idle. One thread loops: epoll_wait(0) on
 * the server set (answer each byte), on the client set (count the answer,
 * send the next byte), and for netsock one simulator step (bench_util.h:
 * two hosts on a zero-delay link, virtual time following the wall clock).
 * Every socket has TCP_NODELAY. 0.5 s of warm-up (the set-up of 20,000
 * connections leaves work behind it for a moment), then SECONDS measured
 * per stack and N.
 *
 * Linux needs 2 * 20,001 descriptors: the program raises RLIMIT_NOFILE
 * (as root it can); if it cannot, Linux's 20,000 column says skipped.
 *
 * Usage: bench_epoll_rr [SECONDS [N]]   (default 2; N: measure netsock at
 * that N only, print the rate on stderr and no row — for profiling)
 * Prints two rows (bench_util.h format): round trips/s at both N, and the
 * rate at 20,000 divided by the rate at 100 (1.00: no slowdown).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"
#include "netsock/epoll.h"

#define ER_BATCH 1000
#define ER_WARMUP_NS 500000000u

/* Which stack: netsock (two simulated hosts) or Linux (loopback). */
struct er_world {
    struct bench_rtsim sim; /* netsock only */
    bool is_ns;
};

static struct ns_stack *er_cli(struct er_world *w)
{
    return w->sim.a;
}

static struct ns_stack *er_srv(struct er_world *w)
{
    return w->sim.b;
}

static int er_socket(struct er_world *w, struct ns_stack *st)
{
    int one = 1, fd;
    if (w->is_ns) {
        fd = ns_socket(st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd >= 0)
            ns_setsockopt(st, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    } else {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd >= 0)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

static void er_pump(struct er_world *w)
{
    if (w->is_ns)
        bench_rtsim_step(&w->sim);
}

static int er_epoll(struct er_world *w, struct ns_stack *st)
{
    return w->is_ns ? ns_epoll_create1(st, 0) : epoll_create1(0);
}

static int er_add(struct er_world *w, struct ns_stack *st, int ep, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    return w->is_ns ? ns_epoll_ctl(st, ep, EPOLL_CTL_ADD, fd, &ev)
                    : epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int er_wait(struct er_world *w, struct ns_stack *st, int ep, struct epoll_event *evs)
{
    return w->is_ns ? ns_epoll_wait(st, ep, evs, 64, 0) : epoll_wait(ep, evs, 64, 0);
}

static ssize_t er_send(struct er_world *w, struct ns_stack *st, int fd)
{
    return w->is_ns ? ns_send(st, fd, "x", 1, 0) : send(fd, "x", 1, 0);
}

static ssize_t er_recv(struct er_world *w, struct ns_stack *st, int fd)
{
    char b[16];
    return w->is_ns ? ns_recv(st, fd, b, sizeof(b), 0) : recv(fd, b, sizeof(b), 0);
}

static void er_close(struct er_world *w, struct ns_stack *st, int fd)
{
    if (w->is_ns)
        ns_close(st, fd);
    else
        close(fd);
}

/* Open n connections to `to`, in batches, every end in its side's epoll
 * set (cli[i], srv[i]: the two ends, in no matching order). Returns 0, or
 * -1 with a message. */
static int er_open(struct er_world *w, int n, int *cli, int *srv, int lfd, int cep, int sep,
                   const struct sockaddr_in *to)
{
    struct ns_stack *cs = er_cli(w), *ss = er_srv(w);
    int opened = 0, accepted = 0;
    while (accepted < n) {
        for (int k = 0; k < ER_BATCH && opened < n; k++, opened++) {
            int fd = er_socket(w, cs);
            int rc = fd < 0 ? -1
                     : w->is_ns ? ns_connect(cs, fd, (const struct sockaddr *)to, sizeof(*to))
                                : connect(fd, (const struct sockaddr *)to, sizeof(*to));
            if (fd < 0 || (rc < 0 && errno != EINPROGRESS)) {
                fprintf(stderr, "bench_epoll_rr: connect %d: %s\n", opened, strerror(errno));
                return -1;
            }
            cli[opened] = fd;
            if (er_add(w, cs, cep, fd) < 0)
                return -1;
        }
        for (int spins = 0; accepted < opened; spins++) {
            int fd = w->is_ns ? ns_accept4(ss, lfd, NULL, NULL, SOCK_NONBLOCK)
                              : accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
            if (fd < 0) {
                if (errno != EAGAIN || spins > 10000000) {
                    fprintf(stderr, "bench_epoll_rr: accept: %s\n", strerror(errno));
                    return -1;
                }
                er_pump(w);
                continue;
            }
            int one = 1;
            if (w->is_ns)
                ns_setsockopt(ss, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            else
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            srv[accepted++] = fd;
            if (er_add(w, ss, sep, fd) < 0)
                return -1;
        }
    }
    return 0;
}

/* Round trips/s on the last of n+1 connections, n idle ones registered;
 * -1 on failure. */
static double er_measure(bool is_ns, int n, double seconds)
{
    struct er_world w = {.is_ns = is_ns};
    struct sockaddr_in to = {.sin_family = AF_INET};
    if (is_ns && bench_rtsim_new(&w.sim, NULL) < 0)
        return -1;
    struct ns_stack *cs = er_cli(&w), *ss = er_srv(&w);
    int total = n + 1;
    int *cli = calloc((size_t)total, sizeof(int)), *srv = calloc((size_t)total, sizeof(int));
    for (int i = 0; i < total && cli && srv; i++)
        cli[i] = srv[i] = -1;
    int lfd = er_socket(&w, ss);
    to.sin_addr.s_addr = is_ns ? w.sim.addr_b.sin_addr.s_addr : htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(to);
    double rate = -1;
    int cep = er_epoll(&w, cs), sep = er_epoll(&w, ss);
    if (!cli || !srv || lfd < 0 || cep < 0 || sep < 0)
        goto out;
    if (is_ns ? ns_bind(ss, lfd, (struct sockaddr *)&to, sizeof(to)) ||
                    ns_listen(ss, lfd, 4096) ||
                    ns_getsockname(ss, lfd, (struct sockaddr *)&to, &len)
              : bind(lfd, (struct sockaddr *)&to, sizeof(to)) || listen(lfd, 4096) ||
                    getsockname(lfd, (struct sockaddr *)&to, &len))
        goto out;
    if (er_open(&w, total, cli, srv, lfd, cep, sep, &to) < 0)
        goto out;
    int active = cli[total - 1];
    struct epoll_event evs[64];
    uint64_t t0 = bench_now_ns(), t_rec = t0 + ER_WARMUP_NS;
    uint64_t t_end = t_rec + (uint64_t)(seconds * 1e9), done = 0;
    if (er_send(&w, cs, active) != 1)
        goto out;
    for (;;) {
        int k = er_wait(&w, ss, sep, evs);
        for (int i = 0; i < k; i++) {
            ssize_t r = er_recv(&w, ss, evs[i].data.fd);
            for (ssize_t j = 0; j < r; j++)
                er_send(&w, ss, evs[i].data.fd);
        }
        k = er_wait(&w, cs, cep, evs);
        bool stop = false;
        for (int i = 0; i < k; i++) {
            if (er_recv(&w, cs, evs[i].data.fd) != 1 || evs[i].data.fd != active)
                continue;
            uint64_t now = bench_now_ns();
            if (now >= t_rec)
                done++;
            if (now >= t_end)
                stop = true;
            else
                er_send(&w, cs, active);
        }
        if (stop)
            break;
        er_pump(&w);
    }
    rate = (double)done / seconds;
out:
    for (int i = 0; i < total && cli && srv; i++) {
        if (cli[i] >= 0)
            er_close(&w, cs, cli[i]);
        if (srv[i] >= 0)
            er_close(&w, ss, srv[i]);
    }
    if (!is_ns) {
        if (lfd >= 0)
            close(lfd);
        if (cep >= 0)
            close(cep);
        if (sep >= 0)
            close(sep);
    }
    free(cli);
    free(srv);
    if (is_ns)
        bench_rtsim_free(&w.sim);
    return rate;
}

static void fmt_rate(char *b, size_t n, double v)
{
    if (v < 0)
        snprintf(b, n, "-");
    else
        snprintf(b, n, "%.0f", v);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 2;
    if (!(seconds > 0)) {
        fprintf(stderr, "usage: bench_epoll_rr [SECONDS]\n");
        return 2;
    }
    if (argc > 2) {
        int n = atoi(argv[2]);
        fprintf(stderr, "bench_epoll_rr: N=%d netsock %.0f/s\n", n, er_measure(true, n, seconds));
        return 0;
    }
    const int ns[2] = {100, 20000};
    struct rlimit rl = {.rlim_cur = 2 * 20001 + 64, .rlim_max = 2 * 20001 + 64};
    struct rlimit have;
    getrlimit(RLIMIT_NOFILE, &have);
    bool lx_big = have.rlim_cur >= rl.rlim_cur || setrlimit(RLIMIT_NOFILE, &rl) == 0;
    double r_ns[2], r_lx[2];
    for (int i = 0; i < 2; i++) {
        r_ns[i] = er_measure(true, ns[i], seconds);
        r_lx[i] = i == 1 && !lx_big ? -2 : er_measure(false, ns[i], seconds);
        fprintf(stderr, "bench_epoll_rr: N=%d netsock %.0f/s Linux %.0f/s\n", ns[i], r_ns[i],
                r_lx[i]);
    }
    char a[32], b[32], c[32], d[32], nsv[80], lxv[80];
    fmt_rate(a, sizeof(a), r_ns[0]);
    fmt_rate(b, sizeof(b), r_ns[1]);
    fmt_rate(c, sizeof(c), r_lx[0]);
    fmt_rate(d, sizeof(d), r_lx[1]);
    snprintf(nsv, sizeof(nsv), "%s,%s", a, b);
    if (r_lx[1] == -2)
        snprintf(lxv, sizeof(lxv), "skipped (needs 40k descriptors)");
    else
        snprintf(lxv, sizeof(lxv), "%s,%s", c, d);
    bench_row("tcp_rr_epoll", "TCP RR 1 B with epoll_wait, 100 / 20,000 registered connections",
              "higher", "rt_per_s_100,rt_per_s_20000", nsv, lxv);
    char rn[32] = "-", rl_[32] = "-";
    if (r_ns[0] > 0 && r_ns[1] >= 0)
        snprintf(rn, sizeof(rn), "%.2f", r_ns[1] / r_ns[0]);
    if (r_lx[0] > 0 && r_lx[1] >= 0)
        snprintf(rl_, sizeof(rl_), "%.2f", r_lx[1] / r_lx[0]);
    bench_row("tcp_rr_epoll_scale",
              "TCP RR 1 B with epoll_wait: rate at 20,000 registered / at 100 (1 = flat)",
              "higher", "ratio", rn, r_lx[1] == -2 ? "skipped (needs 40k descriptors)" : rl_);
    bool ok = r_ns[0] > 0 && r_ns[1] > 0 && r_lx[0] > 0 && (r_lx[1] > 0 || r_lx[1] == -2);
    return ok ? 0 : 1;
}
