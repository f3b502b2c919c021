/* examples/tap_server.c — an HTTP server on netsock that the Linux kernel
 * reaches over a TAP device, so curl on the same machine can talk to it:
 *
 *     curl ── kernel 192.0.2.1 ─ tap ns0 ─ netsock 192.0.2.2:80 (this program)
 *
 * As root (CAP_NET_ADMIN), preferably inside a network namespace of your
 * own (`ip netns add try; ip netns exec try bash`, then `ip link set lo up`):
 *
 *     ip tuntap add dev ns0 mode tap
 *     ip addr add 192.0.2.1/24 dev ns0
 *     ip link set ns0 up
 *     build/examples/tap_server ns0 192.0.2.2/24 &
 *     curl http://192.0.2.2/
 *     kill %1
 *     ip tuntap del dev ns0 mode tap
 *
 * It prints "ready: http://192.0.2.2:80/ on ns0" once it listens; curl then
 * gets "hello from netsock" and the request count. SIGINT or SIGTERM ends
 * it: the blocked accept fails with EINTR, and it prints how many requests
 * it served. (Without the `ip tuntap add`, the program creates ns0 itself
 * and removes it on exit; the kernel side then has to be configured after
 * it started.)
 *
 * The code is plain blocking BSD sockets: the real-time loop
 * (ns_loop_add) is the stack's driver, so a blocking ns_accept or ns_recv
 * runs the loop — reads the TAP, fires timers, sleeps in epoll — until it
 * can complete. One connection at a time; examples/epoll_loop.c does the
 * same with non-blocking sockets in the application's own epoll loop.
 *
 * Usage: tap_server TAPNAME ADDRESS/PREFIX [PORT]
 * Exit status 0 after a signal, 1 when the link or the socket cannot be set
 * up, 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <netsock/netsock.h>
#include <netsock/os.h>
#include <netsock/socket.h>

/* Read the request head (up to the blank line) from fd. Returns its
 * length, 0 when the client closed first, -1 with errno on error. */
static ssize_t read_request(struct ns_stack *st, int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len < cap - 1) {
        ssize_t n = ns_recv(st, fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            return n;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            return (ssize_t)len;
    }
    errno = EMSGSIZE;
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: tap_server TAPNAME ADDRESS/PREFIX [PORT]\n");
        return 2;
    }
    const char *tap = argv[1];
    char addr_s[32];
    snprintf(addr_s, sizeof(addr_s), "%s", argv[2]);
    char *slash = strchr(addr_s, '/');
    struct in_addr addr;
    unsigned prefix = slash ? (unsigned)strtoul(slash + 1, NULL, 10) : 24;
    if (slash)
        *slash = '\0';
    int port = argc > 3 ? atoi(argv[3]) : 80;
    if (inet_pton(AF_INET, addr_s, &addr) != 1 || prefix < 1 || prefix > 30 || port < 1 ||
        port > 65535) {
        fprintf(stderr, "tap_server: bad address %s or port\n", argv[2]);
        return 2;
    }

    /* The stack, its one interface and the loop that drives it. */
    struct ns_stack *st = ns_stack_new(NULL, ns_clock_now_us());
    int err = 0;
    struct ns_dev *dev = ns_tap_open(tap, NULL, &err);
    if (!st || !dev) {
        fprintf(stderr, "tap_server: tap %s: %s\n", tap, strerror(dev ? ENOMEM : -err));
        return 1;
    }
    int ifindex = ns_if_add(st, dev);
    struct ns_loop *loop = ns_loop_new();
    if (ifindex < 0 || ns_if_addr_add(st, ifindex, AF_INET, &addr, prefix) < 0 || !loop ||
        ns_loop_add(loop, st) < 0) {
        fprintf(stderr, "tap_server: cannot set up the stack\n");
        return 1;
    }
    ns_loop_catch_signals(loop); /* SIGINT/SIGTERM: blocking calls fail with EINTR */

    int lfd = ns_socket(st, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1;
    if (lfd < 0 || ns_setsockopt(st, lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        ns_bind(st, lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || ns_listen(st, lfd, 64) < 0) {
        perror("tap_server: listen");
        return 1;
    }
    printf("ready: http://%s:%d/ on %s\n", addr_s, port, tap);
    fflush(stdout);

    unsigned long served = 0;
    for (;;) {
        int fd = ns_accept(st, lfd, NULL, NULL); /* runs the loop until a client comes */
        if (fd < 0) {
            if (errno == EINTR)
                break; /* a signal: stop */
            perror("tap_server: accept");
            continue;
        }
        /* A client that sends nothing must not hold the server forever. */
        struct timeval tmo = {.tv_sec = 5};
        ns_setsockopt(st, fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
        char req[2048], body[128], resp[512];
        ssize_t n = read_request(st, fd, req, sizeof(req));
        if (n > 0) {
            int blen = snprintf(body, sizeof(body), "hello from netsock, request %lu\n", served + 1);
            int rlen = snprintf(resp, sizeof(resp),
                                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                                blen, body);
            if (ns_send(st, fd, resp, (size_t)rlen, 0) == rlen)
                served++;
        }
        ns_close(st, fd); /* FIN after the response; the stack finishes the close */
        if (n < 0 && errno == EINTR)
            break;
    }
    printf("served %lu requests\n", served);
    ns_close(st, lfd);
    ns_loop_free(loop);
    ns_stack_free(st); /* closes the TAP (and removes it if it made it) */
    return 0;
}
