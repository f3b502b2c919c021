/* bench/bench_tcp.c — one TCP stream, bulk transfer: two netsock stacks
 * on a lossless, zero-delay simulated link (MTU 1500), against the Linux
 * kernel over loopback (MTU 65536) with a plain socket program, in the
 * same run. Both measure wall-clock goodput of `bytes` through the API:
 * send() in 64 KiB calls on one side, recv() on the other.
 *
 * - netsock: one thread runs sender, receiver and the simulator (virtual
 *   time; the link has no delay, so only CPU time counts). Both sockets
 *   get 4 MiB send and receive buffers (SO_SNDBUF/SO_RCVBUF of 2 MiB,
 *   doubled as Linux does): the size Linux's autotuning grows its own
 *   buffers to (tcp_wmem[2] 4 MiB, tcp_rmem[2] 6 MiB), with window scaling.
 * - Linux: sender and receiver threads, default (autotuned) buffers.
 *
 * The stacks take turns, TCP_ROUNDS transfers each, netsock then Linux;
 * the row gives each stack's median.
 *
 * Usage: bench_tcp [megabytes]   (per transfer, default 1024; one row)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define TCP_ROUNDS 3
#define TCP_NS_BUF (2 << 20) /* SO_SNDBUF / SO_RCVBUF: 4 MiB once doubled */

static double now_s(void) { return (double)bench_now_ns() / 1e9; }

static void ns_set_bufs(struct ns_stack *st, int fd)
{
    int v = TCP_NS_BUF;
    ns_setsockopt(st, fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
    ns_setsockopt(st, fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

static double bench_netsock(size_t bytes)
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
    int l = ns_socket(b, AF_INET, SOCK_STREAM, 0);
    ns_set_bufs(b, l); /* inherited by the accepted socket */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(5001), .sin_addr = ba};
    ns_bind(b, l, (struct sockaddr *)&sin, sizeof(sin));
    ns_listen(b, l, 1);
    int c = ns_socket(a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ns_set_bufs(a, c); /* before connect: the window scale is chosen on the SYN */
    ns_connect(a, c, (struct sockaddr *)&sin, sizeof(sin));
    int s = ns_accept(b, l, NULL, NULL);
    ns_fcntl(b, s, F_SETFL, O_NONBLOCK);
    char *buf = calloc(1, 65536), *in = malloc(65536);
    size_t sent = 0, got = 0;
    double t0 = now_s();
    while (got < bytes) {
        bool moved = false;
        if (sent < bytes) {
            ssize_t w = ns_send(a, c, buf, bytes - sent < 65536 ? bytes - sent : 65536, 0);
            if (w > 0)
                sent += (size_t)w, moved = true;
        }
        ssize_t r = ns_recv(b, s, in, 65536, 0);
        if (r > 0)
            got += (size_t)r, moved = true;
        if (!moved && !ns_sim_step(sim, NS_TIME_NEVER))
            break;
    }
    double dt = now_s() - t0;
    free(buf);
    free(in);
    ns_sim_free(sim);
    if (got != bytes) {
        fprintf(stderr, "bench_tcp: netsock: the transfer stalled after %zu of %zu bytes\n", got,
                bytes);
        return -1;
    }
    return (double)bytes * 8 / dt / 1e9;
}

struct linux_rx {
    int fd;
    size_t bytes;
};

static void *linux_receiver(void *arg)
{
    struct linux_rx *rx = arg;
    char *in = malloc(65536);
    size_t got = 0;
    while (got < rx->bytes) {
        ssize_t r = recv(rx->fd, in, 65536, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    free(in);
    rx->bytes = got;
    return NULL;
}

static double bench_linux(size_t bytes)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    socklen_t sl = sizeof(sin);
    if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)&sin, &sl) < 0)
        return -1;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        return -1;
    int s = accept(l, NULL, NULL);
    struct linux_rx rx = {.fd = s, .bytes = bytes};
    pthread_t th;
    char *buf = calloc(1, 65536);
    double t0 = now_s();
    pthread_create(&th, NULL, linux_receiver, &rx);
    size_t sent = 0;
    while (sent < bytes) {
        ssize_t w = send(c, buf, bytes - sent < 65536 ? bytes - sent : 65536, 0);
        if (w <= 0)
            break;
        sent += (size_t)w;
    }
    pthread_join(th, NULL);
    double dt = now_s() - t0;
    free(buf);
    close(c);
    close(s);
    close(l);
    return rx.bytes == bytes ? (double)bytes * 8 / dt / 1e9 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of n results, or -1 when one failed. */
static double median(double *v, int n)
{
    for (int i = 0; i < n; i++)
        if (v[i] < 0)
            return -1;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? strtoul(argv[1], NULL, 0) : 1024;
    size_t bytes = mb << 20;
    alarm(300); /* a hang ends the program, not make bench */
    double ns[TCP_ROUNDS], lx[TCP_ROUNDS];
    for (int i = 0; i < TCP_ROUNDS; i++) {
        ns[i] = bench_netsock(bytes);
        lx[i] = bench_linux(bytes);
    }
    double nsm = median(ns, TCP_ROUNDS), lxm = median(lx, TCP_ROUNDS);
    char title[160], nsv[32] = "-", lxv[32] = "-";
    snprintf(title, sizeof(title),
             "TCP bulk, one stream, %zu MiB, median of %d: Gbit/s (netsock: sim link MTU 1500; "
             "Linux: loopback MTU 65536)",
             mb, TCP_ROUNDS);
    if (nsm >= 0)
        snprintf(nsv, sizeof(nsv), "%.2f", nsm);
    if (lxm >= 0)
        snprintf(lxv, sizeof(lxv), "%.2f", lxm);
    bench_row("tcp_bulk_sim", title, "higher", "gbit_s", nsv, lxv);
    return nsm < 0 || lxm < 0;
}
