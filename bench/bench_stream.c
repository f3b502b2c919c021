/* bench/bench_stream.c — the kernel's side of the bulk-transfer rows that
 * run over real links (bench/tap.sh): a timed TCP sender or receiver, and
 * the two servers it talks to when the peer is the kernel too.
 *
 * Not a benchmark by itself: it measures one TCP stream through the Linux
 * socket API, whoever the peer is (netsock host over TAP, or the kernel in
 * another namespace over veth), so both columns of a row use the same
 * client program.
 *
 *   bench_stream send ADDR PORT SECONDS
 *       Connect, then send 64 KiB writes for SECONDS (non-blocking, so the
 *       time limit holds even when the window is closed). Goodput counts
 *       the bytes the peer has acknowledged at the end (TCP_INFO
 *       tcpi_bytes_acked), not the bytes still queued in our send buffer.
 *       Ends with a reset (SO_LINGER 0) rather than waiting for the queue
 *       to drain. Use with a discard server.
 *   bench_stream recv ADDR PORT SECONDS
 *       Connect, then read for SECONDS; goodput counts the bytes read. Use
 *       with a chargen server.
 *   bench_stream discard PORT      serve forever: read and drop (RFC 863)
 *   bench_stream chargen PORT      serve forever: send until the peer goes
 *                                  (a constant 64 KiB buffer, not RFC 864's
 *                                  rotating lines)
 *
 * Congestion control: every socket (connecting, and listening so accepted
 * ones inherit it) uses $BENCH_KERNEL_CC, default "cubic", the algorithm
 * netsock runs by default, whatever net.ipv4.tcp_congestion_control says
 * (this machine's default is bbr, which ignores random loss and would
 * compare a different algorithm, not a different stack).
 *
 * The clock starts when connect() returns, so the handshake is not
 * counted; slow start is. send/recv print one line on stdout:
 *     MBIT_PER_S BYTES SECONDS
 * and the connection's TCP_INFO (RTT, retransmissions, cwnd) on stderr.
 * Exit status 0, or 1 with a message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

static uint8_t buf[CHUNK];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what)
{
    fprintf(stderr, "bench_stream: %s: %s\n", what, strerror(errno));
    return 1;
}

/* Milliseconds until `deadline`, rounded up, at least 0. */
static int ms_left(double deadline)
{
    double left = deadline - now_s();
    return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

static void print_info(int fd, const char *mode)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
        fprintf(stderr,
                "bench_stream %s: rtt %.2f ms, retransmitted segments %u, cwnd %u, mss %u\n",
                mode, ti.tcpi_rtt / 1000.0, ti.tcpi_total_retrans, ti.tcpi_snd_cwnd,
                ti.tcpi_snd_mss);
}

/* Pin the congestion control (see the header comment). */
static void set_cc(int fd)
{
    const char *cc = getenv("BENCH_KERNEL_CC");
    if (!cc || !*cc)
        cc = "cubic";
    if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) < 0)
        fprintf(stderr, "bench_stream: TCP_CONGESTION %s: %s (kernel default kept)\n", cc,
                strerror(errno));
}

static int connect_to(const char *addr, const char *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
        fprintf(stderr, "bench_stream: bad address '%s'\n", addr);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0)
        set_cc(fd);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        die("connect");
        return -1;
    }
    return fd;
}

static int run_send(int fd, double seconds)
{
    double t0 = now_s(), deadline = t0 + seconds;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int ms = ms_left(deadline);
        if (ms == 0)
            break;
        if (poll(&p, 1, ms) < 0 && errno != EINTR)
            return die("poll");
        if (p.revents & (POLLERR | POLLHUP))
            return die("connection lost");
        if ((p.revents & POLLOUT) && send(fd, buf, CHUNK, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
            errno != EAGAIN && errno != EWOULDBLOCK)
            return die("send");
    }
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        return die("TCP_INFO");
    double dt = now_s() - t0;
    /* bytes_acked counts the SYN's sequence number too. */
    uint64_t bytes = ti.tcpi_bytes_acked ? ti.tcpi_bytes_acked - 1 : 0;
    print_info(fd, "send");
    printf("%.2f %llu %.3f\n", (double)bytes * 8 / dt / 1e6, (unsigned long long)bytes, dt);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)); /* reset, no drain */
    close(fd);
    return 0;
}

static int run_recv(int fd, double seconds)
{
    double t0 = now_s(), deadline = t0 + seconds;
    uint64_t bytes = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ms = ms_left(deadline);
        if (ms == 0)
            break;
        if (poll(&p, 1, ms) < 0 && errno != EINTR)
            return die("poll");
        if (!p.revents)
            continue;
        ssize_t n = recv(fd, buf, CHUNK, MSG_DONTWAIT);
        if (n == 0) {
            fprintf(stderr, "bench_stream: the peer closed early\n");
            return 1;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return die("recv");
        if (n > 0)
            bytes += (uint64_t)n;
    }
    double dt = now_s() - t0;
    print_info(fd, "recv");
    printf("%.2f %llu %.3f\n", (double)bytes * 8 / dt / 1e6, (unsigned long long)bytes, dt);
    close(fd); /* unread data: a reset, which ends the server's side too */
    return 0;
}

/* Accept one connection at a time, forever: discard reads and drops,
 * chargen writes until the peer goes. */
static int run_server(const char *port, int chargen)
{
    int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, 16) < 0)
        return die("listen");
    set_cc(l); /* accepted sockets inherit it */
    for (;;) {
        int fd = accept(l, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return die("accept");
        }
        if (chargen)
            while (send(fd, buf, CHUNK, MSG_NOSIGNAL) > 0)
                ;
        else
            while (recv(fd, buf, CHUNK, 0) > 0)
                ;
        close(fd);
    }
}

int main(int argc, char **argv)
{
    for (size_t i = 0; i < CHUNK; i++)
        buf[i] = (uint8_t)(i % 251);
    if (argc == 5 && (!strcmp(argv[1], "send") || !strcmp(argv[1], "recv"))) {
        double seconds = atof(argv[4]);
        if (seconds <= 0) {
            fprintf(stderr, "bench_stream: SECONDS must be > 0\n");
            return 2;
        }
        alarm((unsigned)seconds + 30); /* connect or a stuck peer cannot hang the bench */
        int fd = connect_to(argv[2], argv[3]);
        if (fd < 0)
            return 1;
        return argv[1][0] == 's' ? run_send(fd, seconds) : run_recv(fd, seconds);
    }
    if (argc == 3 && (!strcmp(argv[1], "discard") || !strcmp(argv[1], "chargen")))
        return run_server(argv[2], argv[1][0] == 'c');
    fprintf(stderr, "usage: bench_stream send|recv ADDR PORT SECONDS\n"
                    "       bench_stream discard|chargen PORT\n");
    return 2;
}
