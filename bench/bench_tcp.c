/* bench/bench_tcp.c — one TCP stream, bulk transfer: two netsock stacks
 * on a lossless, zero-delay simulated link (MTU 1500), against the Linux
 * kernel over loopback (MTU 65536) with a plain socket program, in the
 * same run. Both measure wall-clock goodput of `bytes` through the API:
 * send() on one side, recv() on the other.
 *
 * Usage: bench_tcp [megabytes]   (prints one Markdown table row)
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

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(5001), .sin_addr = ba};
    ns_bind(b, l, (struct sockaddr *)&sin, sizeof(sin));
    ns_listen(b, l, 1);
    int c = ns_socket(a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
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
    return got == bytes ? (double)bytes * 8 / dt / 1e9 : -1;
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

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? strtoul(argv[1], NULL, 0) : 200;
    size_t bytes = mb << 20;
    double ns = bench_netsock(bytes);
    double lx = bench_linux(bytes);
    printf("| TCP bulk, one stream, %zu MiB: Gbit/s (netsock: sim link MTU 1500; Linux: loopback) "
           "| %.2f | %.2f | %.2f |\n",
           mb, ns, lx, lx > 0 ? ns / lx : 0.0);
    return ns < 0 || lx < 0;
}
