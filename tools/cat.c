/* tools/cat.c — `netsock cat`: like nc(1), with its own stack on a real
 * link: stdin to a TCP or UDP socket, the socket to stdout.
 *
 *   netsock cat --link tap:t1 --addr 198.51.100.2/24 --gw 198.51.100.1 192.0.2.1 9 < file
 *   netsock cat --link tap:t1 --addr 198.51.100.2/24 -l 5000 > received
 *
 * One thread on the real-time loop: stdin is one more descriptor of the
 * loop (ns_loop_add_fd); its callback moves what it reads into the socket.
 * A regular file (epoll cannot watch one) is read as the socket takes it.
 * TCP half-close: at the end of stdin, shutdown(SHUT_WR), then keep
 * copying the socket to stdout until the peer closes. UDP: each read of
 * stdin is one datagram; runs until interrupted (or -q SECS after the end
 * of stdin).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "link.h"
#include "netsock/os.h"
#include "netsock/socket.h"
#include "tools.h"

#define CAT_BUF 65536
#define CAT_UDP_DGRAM 1472 /* one Ethernet frame per datagram */

struct cat {
    struct ns_stack *st;
    struct ns_loop *loop;
    int fd;              /* the netsock socket */
    bool udp;
    uint8_t in[CAT_BUF]; /* stdin bytes not yet taken by the socket */
    size_t in_off, in_len;
    bool stdin_eof, stdin_watched, stdin_file, shut_sent, sock_eof;
    bool in_stdin_cb;    /* on_stdin is running (socket calls run the loop again) */
    int error;           /* a fatal errno */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: netsock cat --link ... --addr A.B.C.D/N [options] HOST PORT\n"
            "       netsock cat --link ... --addr A.B.C.D/N [options] -l [ADDR] PORT\n"
            "\n"
            "Like nc: stdin to a socket, the socket to stdout, over netsock's own stack.\n"
            "\n"
            "  -l       listen for one connection (TCP) or the first datagram (UDP)\n"
            "  -u       UDP (one datagram per read of stdin, at most %d bytes)\n"
            "  -q SECS  after the end of stdin, quit after SECS (UDP; TCP waits for the\n"
            "           peer to close)\n"
            "%s",
            CAT_UDP_DGRAM, link_usage());
}

/* Move buffered stdin bytes into the socket; half-close after the last. */
static void cat_push(struct cat *c)
{
    while (c->in_off < c->in_len) {
        ssize_t n = ns_send(c->st, c->fd, c->in + c->in_off, c->in_len - c->in_off, MSG_DONTWAIT);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED)
                c->error = errno;
            if (errno == ECONNREFUSED && c->udp) {
                fprintf(stderr, "netsock cat: %s\n", strerror(errno));
                c->in_off = c->in_len; /* nc -u: report and go on */
                continue;
            }
            return;
        }
        c->in_off += (size_t)n;
    }
    c->in_off = c->in_len = 0;
    if (c->stdin_eof && !c->shut_sent && !c->udp) {
        ns_shutdown(c->st, c->fd, SHUT_WR);
        c->shut_sent = true;
    }
}

/* Read stdin into the (empty) buffer. */
static void cat_read_stdin(struct cat *c)
{
    size_t want = c->udp ? CAT_UDP_DGRAM : CAT_BUF;
    ssize_t n = read(0, c->in, want);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (n < 0)
            fprintf(stderr, "netsock cat: stdin: %s\n", strerror(errno));
        c->stdin_eof = true;
        return;
    }
    c->in_off = 0;
    c->in_len = (size_t)n;
}

/* The loop found stdin readable: move one buffer into the socket. While
 * the socket keeps up, stdin stays watched; when it does not (or at the
 * end of stdin), stop watching until the main loop has pushed the rest,
 * so a slow peer slows the reading. */
static void on_stdin(void *ctx, int fd, uint32_t events)
{
    struct cat *c = ctx;
    (void)events;
    /* Every socket call runs one loop iteration first (a fresh clock),
     * which finds stdin still readable: not again from in here. */
    if (c->in_stdin_cb)
        return;
    c->in_stdin_cb = true;
    if (c->in_len == 0)
        cat_read_stdin(c);
    cat_push(c);
    if (c->in_len || c->stdin_eof) {
        ns_loop_del_fd(c->loop, fd);
        c->stdin_watched = false;
    }
    c->in_stdin_cb = false;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Socket to stdout until it would block. */
static void cat_pull(struct cat *c)
{
    static uint8_t buf[CAT_BUF];
    for (;;) {
        ssize_t n = ns_recv(c->st, c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            if (write_all(1, buf, (size_t)n) < 0) {
                c->error = errno;
                return;
            }
            continue;
        }
        if (n == 0 && !c->udp) {
            c->sock_eof = true;
            return;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            if (c->udp && errno == ECONNREFUSED) {
                fprintf(stderr, "netsock cat: %s\n", strerror(errno));
                continue;
            }
            c->error = errno;
        }
        return;
    }
}

static int parse_port(const char *s, uint16_t *port)
{
    char *end;
    long p = strtol(s, &end, 10);
    if (*end || p < 0 || p > 65535)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

/* Set up the socket: connect, or listen/accept (TCP) or wait for the
 * first datagram (UDP). Returns 0 or -1 with a message. */
static int cat_open(struct cat *c, bool listen_mode, const char *host, uint16_t port)
{
    struct ns_stack *st = c->st;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (host && inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        fprintf(stderr, "netsock cat: '%s' is not an IPv4 address\n", host);
        return -1;
    }
    int fd = ns_socket(st, AF_INET, c->udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (fd < 0) {
        fprintf(stderr, "netsock cat: socket: %s\n", strerror(errno));
        return -1;
    }
    if (!listen_mode) {
        if (ns_connect(st, fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
            fprintf(stderr, "netsock cat: connect to %s:%u: %s\n", host, port, strerror(errno));
            ns_close(st, fd);
            return -1;
        }
        c->fd = fd;
        return 0;
    }
    int one = 1;
    ns_setsockopt(st, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ns_bind(st, fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        (!c->udp && ns_listen(st, fd, 1) < 0)) {
        fprintf(stderr, "netsock cat: bind port %u: %s\n", port, strerror(errno));
        ns_close(st, fd);
        return -1;
    }
    if (!c->udp) {
        struct sockaddr_in peer;
        socklen_t plen = sizeof(peer);
        int cfd = ns_accept(st, fd, (struct sockaddr *)&peer, &plen);
        ns_close(st, fd);
        if (cfd < 0) {
            if (errno != EINTR)
                fprintf(stderr, "netsock cat: accept: %s\n", strerror(errno));
            return -1;
        }
        c->fd = cfd;
        return 0;
    }
    /* UDP: the first datagram names the peer. */
    static uint8_t buf[65536];
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);
    ssize_t n = ns_recvfrom(st, fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
    if (n < 0 || ns_connect(st, fd, (struct sockaddr *)&peer, plen) < 0) {
        if (errno != EINTR)
            fprintf(stderr, "netsock cat: %s\n", strerror(errno));
        ns_close(st, fd);
        return -1;
    }
    c->fd = fd;
    return write_all(1, buf, (size_t)n);
}

int tool_cat(int argc, char **argv)
{
    struct link_opts lo = {0};
    bool listen_mode = false, udp = false;
    double quit_s = -1;
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        int rc = link_parse_opt(&lo, argc, argv, &i);
        if (rc < 0)
            return 2;
        if (rc > 0) {
            i--;
            continue;
        }
        const char *a = argv[i];
        if (!strcmp(a, "-l")) {
            listen_mode = true;
        } else if (!strcmp(a, "-u")) {
            udp = true;
        } else if (!strcmp(a, "-lu") || !strcmp(a, "-ul")) {
            listen_mode = udp = true;
        } else if (!strcmp(a, "-q") && i + 1 < argc) {
            quit_s = strtod(argv[++i], NULL);
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "netsock cat: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    const char *host = NULL, *port_s = NULL;
    if (npos == 2) {
        host = pos[0];
        port_s = pos[1];
    } else if (npos == 1 && listen_mode) {
        port_s = pos[0];
    }
    uint16_t port;
    if (!lo.link || !lo.addr || !port_s || parse_port(port_s, &port) < 0 ||
        (!listen_mode && port == 0)) {
        usage(stderr);
        return 2;
    }
    if (!lo.name)
        lo.name = "cat";

    struct link_host h;
    if (link_host_open(&h, &lo) < 0)
        return 1;
    struct cat *c = calloc(1, sizeof(*c));
    if (!c) {
        link_host_close(&h);
        return 1;
    }
    c->st = h.st;
    c->loop = h.loop;
    c->udp = udp;
    c->fd = -1;
    int rc = 0;
    if (cat_open(c, listen_mode, host, port) < 0) {
        rc = 1;
        goto out;
    }
    ns_fcntl(c->st, c->fd, F_SETFL, O_NONBLOCK);
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    uint64_t quit_at = NS_TIME_NEVER;
    for (;;) {
        if (ns_loop_stopped(c->loop) || c->error)
            break;
        if (!c->stdin_eof && c->in_len == 0 && !c->stdin_watched) {
            if (!c->stdin_file) {
                int r = ns_loop_add_fd(c->loop, 0, EPOLLIN, on_stdin, c);
                if (r == -EPERM)
                    c->stdin_file = true; /* a regular file: epoll cannot watch it */
                else if (r == 0)
                    c->stdin_watched = true;
                else
                    c->stdin_eof = true; /* no stdin at all */
            }
            if (c->stdin_file)
                cat_read_stdin(c);
        }
        cat_push(c);
        if (c->stdin_eof && c->in_len == 0 && quit_at == NS_TIME_NEVER && quit_s >= 0)
            quit_at = ns_clock_now_us() + (uint64_t)(quit_s * 1e6);
        /* TCP is done when both directions are: our FIN sent, theirs read. */
        if (!c->udp && c->sock_eof && c->shut_sent)
            break;
        if (quit_at != NS_TIME_NEVER && ns_clock_now_us() >= quit_at)
            break;
        struct pollfd p = {.fd = c->fd, .events = 0};
        if (!c->sock_eof)
            p.events |= POLLIN;
        if (c->in_len)
            p.events |= POLLOUT;
        if (!p.events)
            p.fd = -1; /* only stdin (through the loop) or time can move us */
        int timeout = 1000;
        if (c->stdin_file && !c->stdin_eof && c->in_len == 0)
            timeout = 0;
        if (quit_at != NS_TIME_NEVER) {
            uint64_t now = ns_clock_now_us();
            int left = quit_at > now ? (int)((quit_at - now + 999) / 1000) : 0;
            if (left < timeout)
                timeout = left;
        }
        int n = ns_poll(c->st, &p, 1, timeout);
        if (n < 0) {
            if (errno != EINTR)
                c->error = errno;
            break;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR))
            cat_pull(c);
    }
    if (c->error) {
        fprintf(stderr, "netsock cat: %s\n", strerror(c->error));
        rc = 1;
    }
out:
    if (c->stdin_watched)
        ns_loop_del_fd(c->loop, 0);
    if (c->fd >= 0) {
        ns_close(c->st, c->fd);
        /* Let the last ACK or FIN leave before the device goes away. */
        if (!ns_loop_stopped(c->loop))
            ns_loop_run_once(c->loop, ns_clock_now_us() + 50000);
        ns_stack_poll(c->st, ns_clock_now_us());
    }
    if (lo.verbose || ns_loop_stopped(c->loop))
        link_print_counters(h.st, stderr);
    free(c);
    link_host_close(&h);
    return rc;
}
