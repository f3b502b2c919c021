/* examples/epoll_loop.c — netsock inside the application's own epoll loop
 * ("bring your own loop", docs/links.md).
 *
 * A program that already has an event loop keeps it. netsock needs three
 * things from it, and nothing else (no thread, no driver, no signal):
 *
 *   1. the device's descriptor in the loop's set, for reading:
 *      ns_if_dev(st, ifindex)->ops->fd(dev); and for writing too while
 *      ns_if_tx_wait_writable(st, ifindex) says TCP waits for a full
 *      device queue to drain;
 *   2. a timeout no later than ns_stack_next_deadline(st) (the stack's
 *      timers: retransmission, delayed ACK, ARP, TIME_WAIT);
 *   3. ns_stack_poll(st, ns_clock_now_us()) after every wake-up: it reads
 *      the device, runs the protocols and fires due timers.
 *
 * The sockets are non-blocking and checked with ns_poll(..., 0) after each
 * ns_stack_poll. No driver is installed (ns_loop is not used), so a call
 * that would block fails at once with EAGAIN instead of running a loop.
 *
 * This program: an HTTP server on netsock over a TAP device, serving up to
 * 64 connections at once, next to a descriptor of the application's own —
 * a signalfd for SIGINT and SIGTERM — in one epoll set. Set up as for
 * examples/tap_server.c, as root:
 *
 *     ip tuntap add dev ns0 mode tap
 *     ip addr add 192.0.2.1/24 dev ns0
 *     ip link set ns0 up
 *     build/examples/epoll_loop ns0 192.0.2.2/24 &
 *     curl http://192.0.2.2/
 *     kill %1
 *     ip tuntap del dev ns0 mode tap
 *
 * It prints "ready: http://192.0.2.2:80/ on ns0" once it listens, and on
 * SIGINT/SIGTERM how many requests it served and how many loop wake-ups
 * came from the device, the stack's timers and the signalfd.
 *
 * Usage: epoll_loop TAPNAME ADDRESS/PREFIX [PORT]
 * Exit status 0 after a signal, 1 when something cannot be set up, 2 on a
 * usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <netsock/netsock.h>
#include <netsock/os.h>
#include <netsock/socket.h>

#define MAX_CONNS 64

struct conn {
    int fd; /* netsock descriptor; -1: free */
    char req[2048];
    size_t req_len;
    char resp[256];
    size_t resp_len, resp_sent; /* resp_len > 0: the request is complete */
};

struct server {
    struct ns_stack *st;
    int lfd;
    struct conn conns[MAX_CONNS];
    unsigned long served;
};

static void conn_close(struct server *s, struct conn *c)
{
    ns_close(s->st, c->fd);
    c->fd = -1;
}

/* Take what a readable connection has; once the request head is complete,
 * make the answer. */
static void conn_read(struct server *s, struct conn *c)
{
    ssize_t n = ns_recv(s->st, c->fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len, 0);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0 || c->resp_len) {
        conn_close(s, c); /* closed, reset, or more than one request */
        return;
    }
    c->req_len += (size_t)n;
    c->req[c->req_len] = '\0';
    if (!strstr(c->req, "\r\n\r\n")) {
        if (c->req_len == sizeof(c->req) - 1)
            conn_close(s, c); /* head too large */
        return;
    }
    char body[96];
    int blen = snprintf(body, sizeof(body), "hello from netsock in your epoll loop, request %lu\n",
                        s->served + 1);
    int rlen = snprintf(c->resp, sizeof(c->resp),
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                        "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                        blen, body);
    c->resp_len = (size_t)rlen;
}

/* Send what the send buffer takes; close once the answer is out. */
static void conn_write(struct server *s, struct conn *c)
{
    ssize_t n = ns_send(s->st, c->fd, c->resp + c->resp_sent, c->resp_len - c->resp_sent, 0);
    if (n < 0) {
        if (errno != EAGAIN)
            conn_close(s, c);
        return;
    }
    c->resp_sent += (size_t)n;
    if (c->resp_sent == c->resp_len) {
        s->served++;
        conn_close(s, c); /* FIN after the answer */
    }
}

/* After ns_stack_poll: serve every socket that is ready, until none is
 * (an answer written may make room, an accept may find more). */
static void serve(struct server *s)
{
    for (int round = 0; round < 8; round++) {
        struct pollfd pfd[1 + MAX_CONNS];
        pfd[0] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
        for (int i = 0; i < MAX_CONNS; i++) {
            struct conn *c = &s->conns[i];
            pfd[1 + i] = (struct pollfd){.fd = c->fd, .events = c->resp_len ? POLLOUT : POLLIN};
        }
        if (ns_poll(s->st, pfd, 1 + MAX_CONNS, 0) <= 0)
            return;
        for (int i = 0; i < MAX_CONNS; i++) {
            struct conn *c = &s->conns[i];
            if (c->fd < 0 || !pfd[1 + i].revents)
                continue;
            if (!c->resp_len)
                conn_read(s, c);
            if (c->fd >= 0 && c->resp_len)
                conn_write(s, c);
        }
        while (pfd[0].revents & POLLIN) {
            int fd = ns_accept4(s->st, s->lfd, NULL, NULL, SOCK_NONBLOCK);
            if (fd < 0)
                break;
            int i = 0;
            while (i < MAX_CONNS && s->conns[i].fd >= 0)
                i++;
            if (i == MAX_CONNS) {
                ns_close(s->st, fd); /* full */
                continue;
            }
            s->conns[i] = (struct conn){.fd = fd};
        }
    }
}

/* epoll_wait's timeout for a wake-up at wake_us: milliseconds, rounded up
 * (a timer then fires up to 1 ms late, never early); -1 for never. */
static int timeout_ms(uint64_t wake_us, uint64_t now_us)
{
    if (wake_us == NS_TIME_NEVER)
        return -1;
    if (wake_us <= now_us)
        return 0;
    uint64_t ms = (wake_us - now_us + 999) / 1000;
    return ms > 86400000u ? 86400000 : (int)ms;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: epoll_loop TAPNAME ADDRESS/PREFIX [PORT]\n");
        return 2;
    }
    char addr_s[32];
    snprintf(addr_s, sizeof(addr_s), "%s", argv[2]);
    char *slash = strchr(addr_s, '/');
    unsigned prefix = slash ? (unsigned)strtoul(slash + 1, NULL, 10) : 24;
    if (slash)
        *slash = '\0';
    struct in_addr addr;
    int port = argc > 3 ? atoi(argv[3]) : 80;
    if (inet_pton(AF_INET, addr_s, &addr) != 1 || prefix < 1 || prefix > 30 || port < 1 ||
        port > 65535) {
        fprintf(stderr, "epoll_loop: bad address %s or port\n", argv[2]);
        return 2;
    }

    /* The stack and its TAP interface; no ns_loop. */
    struct server s = {.st = ns_stack_new(NULL, ns_clock_now_us())};
    int err = 0;
    struct ns_dev *dev = ns_tap_open(argv[1], NULL, &err);
    if (!s.st || !dev) {
        fprintf(stderr, "epoll_loop: tap %s: %s\n", argv[1], strerror(dev ? ENOMEM : -err));
        return 1;
    }
    int ifindex = ns_if_add(s.st, dev);
    if (ifindex < 0 || ns_if_addr_add(s.st, ifindex, AF_INET, &addr, prefix) < 0) {
        fprintf(stderr, "epoll_loop: cannot configure the interface\n");
        return 1;
    }
    for (int i = 0; i < MAX_CONNS; i++)
        s.conns[i].fd = -1;
    s.lfd = ns_socket(s.st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (s.lfd < 0 || ns_bind(s.st, s.lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        ns_listen(s.st, s.lfd, 64) < 0) {
        perror("epoll_loop: listen");
        return 1;
    }

    /* The application's epoll set: the device (1), and its own signalfd. */
    struct ns_dev *d = ns_if_dev(s.st, ifindex);
    int dev_fd = d->ops->fd ? d->ops->fd(d) : -1;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    int sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event dev_ev = {.events = EPOLLIN, .data.fd = dev_fd};
    struct epoll_event sig_ev = {.events = EPOLLIN, .data.fd = sig_fd};
    if (dev_fd < 0 || sig_fd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, dev_fd, &dev_ev) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, sig_fd, &sig_ev) < 0) {
        perror("epoll_loop: epoll");
        return 1;
    }
    printf("ready: http://%s:%d/ on %s\n", addr_s, port, argv[1]);
    fflush(stdout);

    unsigned long wake_dev = 0, wake_timer = 0, wake_signal = 0;
    bool stop = false;
    while (!stop) {
        /* (1) also wait for writability while TCP waits for the device. */
        uint32_t want = EPOLLIN | (ns_if_tx_wait_writable(s.st, ifindex) ? EPOLLOUT : 0u);
        if (want != dev_ev.events) {
            dev_ev.events = want;
            epoll_ctl(ep, EPOLL_CTL_MOD, dev_fd, &dev_ev);
        }
        /* (2) sleep no longer than the stack's next deadline. */
        struct epoll_event ev[8];
        int n = epoll_wait(ep, ev, 8, timeout_ms(ns_stack_next_deadline(s.st), ns_clock_now_us()));
        if (n < 0 && errno != EINTR) {
            perror("epoll_loop: epoll_wait");
            return 1;
        }
        if (n == 0)
            wake_timer++;
        for (int i = 0; i < n; i++) {
            if (ev[i].data.fd == sig_fd) {
                struct signalfd_siginfo si;
                if (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                    stop = true;
                wake_signal++;
            } else {
                wake_dev++;
            }
        }
        /* (3) let the stack catch up: frames in, timers, frames out. */
        ns_stack_poll(s.st, ns_clock_now_us());
        serve(&s);
    }

    printf("served %lu requests; wake-ups: %lu device, %lu timer, %lu signal\n", s.served,
           wake_dev, wake_timer, wake_signal);
    for (int i = 0; i < MAX_CONNS; i++)
        if (s.conns[i].fd >= 0)
            ns_close(s.st, s.conns[i].fd);
    ns_close(s.st, s.lfd);
    close(ep);
    close(sig_fd);
    ns_stack_free(s.st); /* closes the TAP */
    return 0;
}
