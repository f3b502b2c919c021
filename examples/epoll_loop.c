/* examples/epoll_loop.c — netsock inside the application's own epoll loop
 * ("bring your own loop", docs/links.md).
 *
 * A program that already has an event loop keeps it. netsock gives it two
 * OS descriptors, and needs nothing else (no thread, no driver, no signal,
 * no timeout arithmetic):
 *
 *   1. ns_stack_fd(sfd) (ns_stack_fd_new): readable when the stack must
 *      be polled — its device has frames (or room, while TCP waits for a
 *      full device queue), or its next deadline came (a timerfd inside);
 *      ns_stack_fd_arm(sfd) before every sleep, and
 *      ns_stack_poll(st, ns_clock_now_us()) when it was readable;
 *   2. ns_epoll_fd(st, nep): readable exactly while the netsock epoll set
 *      nep (the listener and the connections) has events; then
 *      ns_epoll_wait(st, nep, ..., 0) says which.
 *
 * The sockets are non-blocking. No driver is installed (ns_loop is not
 * used), so a call that would block fails at once with EAGAIN instead of
 * running a loop.
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
 * came from the stack's descriptor, the sockets' and the signalfd.
 *
 * Usage: epoll_loop TAPNAME ADDRESS/PREFIX [PORT]
 * Exit status 0 after a signal, 1 when something cannot be set up, 2 on a
 * usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <netsock/epoll.h>
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
    int lfd, nep; /* the listener; the netsock epoll set (data.ptr: NULL or a conn) */
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

/* Serve what the netsock epoll set reports ready (level-triggered: what
 * is left is reported again, and its descriptor stays readable). */
static void serve(struct server *s)
{
    struct epoll_event evs[16];
    int n = ns_epoll_wait(s->st, s->nep, evs, 16, 0);
    for (int k = 0; k < n; k++) {
        struct conn *c = evs[k].data.ptr;
        if (c) {
            if (!c->resp_len)
                conn_read(s, c);
            if (c->fd >= 0 && c->resp_len) {
                conn_write(s, c);
                /* Room for the rest of the answer, not more input. */
                struct epoll_event mod = {.events = EPOLLOUT, .data.ptr = c};
                if (c->fd >= 0)
                    ns_epoll_ctl(s->st, s->nep, EPOLL_CTL_MOD, c->fd, &mod);
            }
            continue;
        }
        for (;;) {
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
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->conns[i]};
            if (ns_epoll_ctl(s->st, s->nep, EPOLL_CTL_ADD, fd, &ev) < 0)
                conn_close(s, &s->conns[i]);
        }
    }
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

    /* netsock's own epoll set, and the two descriptors for ours. */
    s.nep = ns_epoll_create1(s.st, 0);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    struct ns_stack_fd *sfd = ns_stack_fd_new(s.st, &err);
    if (s.nep < 0 || ns_epoll_ctl(s.st, s.nep, EPOLL_CTL_ADD, s.lfd, &lev) < 0 || !sfd) {
        fprintf(stderr, "epoll_loop: netsock epoll: %s\n", strerror(sfd ? errno : -err));
        return 1;
    }
    int stack_fd = ns_stack_fd(sfd), sock_fd = ns_epoll_fd(s.st, s.nep);

    /* The application's epoll set: the stack's descriptor (1), the
     * sockets' (2), and its own signalfd. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    int sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event stack_ev = {.events = EPOLLIN, .data.fd = stack_fd};
    struct epoll_event sock_ev = {.events = EPOLLIN, .data.fd = sock_fd};
    struct epoll_event sig_ev = {.events = EPOLLIN, .data.fd = sig_fd};
    if (sock_fd < 0 || sig_fd < 0 || ep < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, stack_fd, &stack_ev) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, sock_fd, &sock_ev) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, sig_fd, &sig_ev) < 0) {
        perror("epoll_loop: epoll");
        return 1;
    }
    printf("ready: http://%s:%d/ on %s\n", addr_s, port, argv[1]);
    fflush(stdout);

    unsigned long wake_stack = 0, wake_sockets = 0, wake_signal = 0;
    bool stop = false;
    while (!stop) {
        /* (1) the stack's descriptor: armed for its next deadline and for
         * the device's writability when TCP waits for it. No timeout. */
        if (ns_stack_fd_arm(sfd) < 0) {
            perror("epoll_loop: arm");
            return 1;
        }
        struct epoll_event ev[8];
        int n = epoll_wait(ep, ev, 8, -1);
        if (n < 0 && errno != EINTR) {
            perror("epoll_loop: epoll_wait");
            return 1;
        }
        bool sockets_ready = false;
        for (int i = 0; i < n; i++) {
            if (ev[i].data.fd == sig_fd) {
                struct signalfd_siginfo si;
                if (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                    stop = true;
                wake_signal++;
            } else if (ev[i].data.fd == stack_fd) {
                /* let the stack catch up: frames in, timers, frames out */
                ns_stack_poll(s.st, ns_clock_now_us());
                wake_stack++;
            } else {
                wake_sockets++;
                sockets_ready = true;
            }
        }
        /* (2) the sockets, when their set's descriptor said some are
         * ready: whatever is ready now (O(ready)). A stack poll that made
         * sockets ready makes that descriptor readable, so the next
         * epoll_wait returns at once for them. */
        if (sockets_ready)
            serve(&s);
    }

    printf("served %lu requests; wake-ups: %lu stack, %lu sockets, %lu signal\n", s.served,
           wake_stack, wake_sockets, wake_signal);
    for (int i = 0; i < MAX_CONNS; i++)
        if (s.conns[i].fd >= 0)
            ns_close(s.st, s.conns[i].fd);
    ns_close(s.st, s.lfd);
    ns_close(s.st, s.nep); /* closes sock_fd */
    ns_stack_fd_free(sfd);
    close(ep);
    close(sig_fd);
    ns_stack_free(s.st); /* closes the TAP */
    return 0;
}
