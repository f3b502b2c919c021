/* tools/cat.c — `netsock cat`: nc(1) (OpenBSD netcat's options and
 * messages) with its own stack on a real link: stdin to a TCP or UDP
 * socket, the socket to stdout.
 *
 *   netsock cat --link tap:t1 --addr 198.51.100.2/24 --gw 198.51.100.1 192.0.2.1 9 < file
 *   netsock cat --link tap:t1 --addr 198.51.100.2/24 -l 5000 > received
 *   netsock cat --link tap:t1 --addr 198.51.100.2/24 -vz 192.0.2.1 1-1024
 *
 * One thread on the real-time loop: stdin is one more descriptor of the
 * loop (ns_loop_add_fd); its callback moves what it reads into the socket.
 * A regular file (epoll cannot watch one) is read as the socket takes it.
 * TCP half-close: at the end of stdin, shutdown(SHUT_WR), then keep
 * copying the socket to stdout until the peer closes. UDP: each read of
 * stdin is one datagram; runs until interrupted (or -q SECS after the end
 * of stdin, or -w SECS idle).
 *
 * Exit status: 0 when everything read from stdin was taken by the peer's
 * connection and the connection ended cleanly; 1 when data did not get
 * through (refused, reset, timed out with data unsent, interrupted before
 * the end, an ICMP port unreachable on UDP); 2 for usage errors. With -z,
 * 0 when a port was open. man/netsock-cat.1 has every option.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cli.h"
#include "link.h"
#include "netsock/os.h"
#include "netsock/socket.h"
#include "textbuf.h"
#include "tools.h"

#define CAT_BUF 65536
#define CAT_UDP_DGRAM 1472        /* one Ethernet frame per datagram */
#define CAT_MAX_SECONDS 2147483.0 /* INT_MAX milliseconds */
#define CAT_PROGRESS_US 1000000u  /* progress line: after a second, then every second */
#define CAT_UDP_SCAN_WAIT_MS 1000 /* -uz: how long a port unreachable may take */

static const char *const prog = "netsock cat";

struct cat_opts {
    struct link_opts link;
    bool listen, keep, udp, verbose, scan, json;
    double quit_s;   /* -q: after the end of stdin; < 0: never */
    double wait_s;   /* -w: connect and idle timeout; 0: none */
    uint16_t src_port;
    bool src_port_given;
    const char *host;           /* connect: the peer; listen: the local address or NULL */
    union ns_sockaddr addr;     /* host, parsed (AF_INET or AF_INET6; port 0) */
    uint16_t port_lo, port_hi;  /* -z: a range */
};

/* Why the run ended, for the exit status and --json. */
enum cat_status { ST_OK, ST_REFUSED, ST_TIMEOUT, ST_RESET, ST_INTERRUPTED, ST_ERROR };
static const char *const status_names[] = {"ok",    "refused",     "timeout",
                                           "reset", "interrupted", "error"};

struct cat {
    const struct cat_opts *o;
    struct ns_stack *st;
    struct ns_loop *loop;
    int fd;              /* the netsock socket */
    bool udp, connected; /* !connected: UDP -l -k, replies go to the last sender */
    union ns_sockaddr peer, local;
    bool have_peer;
    uint8_t in[CAT_BUF]; /* stdin bytes not yet taken by the socket */
    size_t in_off, in_len;
    bool stdin_eof, stdin_watched, stdin_file, shut_sent, sock_eof;
    bool in_stdin_cb;    /* on_stdin is running (socket calls run the loop again) */
    int error;           /* a fatal errno */
    uint64_t sent, received, conns;
    uint64_t start_us, last_io_us, progress_at_us;
    bool progress_shown, progress_tty;
    enum cat_status status;
    char message[160];   /* the runtime error, for --json */
    struct textbuf scan; /* -z --json: the per-port results */
    unsigned scan_n;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: netsock cat --link L --addr A/N [options] [-knuvz] [-p port] [-q secs]\n"
            "                   [-w secs] HOST PORT\n"
            "       netsock cat --link L --addr A/N [options] -l [-ku] [ADDR] PORT\n"
            "\n"
            "Like nc (OpenBSD netcat): stdin to a socket, the socket to stdout, over\n"
            "netsock's own stack.\n"
            "\n"
            "  -l           listen for a connection (TCP) or the first datagram (UDP)\n"
            "  -k           with -l: after a connection ends, accept the next one (UDP:\n"
            "               take datagrams from any sender)\n"
            "  -u           UDP (one datagram per read of stdin, at most %d bytes)\n"
            "  -v           report connections on stderr as nc does\n"
            "  -n           accepted; addresses are never resolved\n"
            "  -N           accepted; the end of stdin always sends a FIN (TCP)\n"
            "  -p port      local port to connect from (with -l: the port to listen on)\n"
            "  -q secs      after the end of stdin, quit after secs (negative: never)\n"
            "  -w secs      give up a connection attempt, or a connection idle for secs\n"
            "  -z           scan: connect to each port of PORT or LO-HI and close, send\n"
            "               nothing; exit 0 when one was open\n"
            "  --json       a JSON summary on stderr at the end (stdout stays the data)\n"
            "  -h, --help   this text\n"
            "%s"
            "\n"
            "A progress line goes to stderr once a transfer runs longer than a second,\n"
            "when stderr is a terminal.\n",
            CAT_UDP_DGRAM, link_usage());
}

/* ---- messages ------------------------------------------------------------------------------ */

/* A runtime failure: the status, and the message (on stderr unless
 * --json, which carries it in "error"). */
static void cat_fail(struct cat *c, enum cat_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cat_fail(struct cat *c, enum cat_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof(c->message), fmt, ap);
    va_end(ap);
    c->status = st;
    if (!c->o->json)
        fprintf(stderr, "%s: %s\n", prog, c->message);
}

/* -v: nc's words on stderr. */
static void cat_verbose(const struct cat *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void cat_verbose(const struct cat *c, const char *fmt, ...)
{
    if (!c->o->verbose || c->o->json)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static enum cat_status status_of(int err)
{
    switch (err) {
    case ECONNREFUSED: return ST_REFUSED;
    case ETIMEDOUT: return ST_TIMEOUT;
    case ECONNRESET:
    case EPIPE: return ST_RESET;
    default: return ST_ERROR;
    }
}

static void fmt_bytes(char *out, size_t len, double b)
{
    if (b < 1024)
        snprintf(out, len, "%.0f B", b);
    else if (b < 1048576)
        snprintf(out, len, "%.1f KiB", b / 1024);
    else if (b < 1073741824.0)
        snprintf(out, len, "%.1f MiB", b / 1048576);
    else
        snprintf(out, len, "%.2f GiB", b / 1073741824.0);
}

/* The progress line, rewritten in place (stderr is a terminal). */
static void progress_print(struct cat *c, uint64_t now)
{
    char s[32], r[32], rate[32];
    double secs = (double)(now - c->start_us) / 1e6;
    fmt_bytes(s, sizeof(s), (double)c->sent);
    fmt_bytes(r, sizeof(r), (double)c->received);
    fmt_bytes(rate, sizeof(rate), secs > 0 ? (double)(c->sent + c->received) / secs : 0);
    fprintf(stderr, "\r%s: %s sent, %s received, %.0f s, %s/s\033[K", prog, s, r, secs, rate);
    c->progress_shown = true;
}

static void progress_maybe(struct cat *c)
{
    if (!c->progress_tty)
        return;
    uint64_t now = ns_clock_now_us();
    if (now < c->progress_at_us)
        return;
    progress_print(c, now);
    c->progress_at_us = now + CAT_PROGRESS_US;
}

static void progress_end(struct cat *c)
{
    if (!c->progress_shown)
        return;
    progress_print(c, ns_clock_now_us());
    fputc('\n', stderr);
    c->progress_shown = false;
}

/* ---- the data path ------------------------------------------------------------------------- */

/* Move buffered stdin bytes into the socket; half-close after the last. */
static void cat_push(struct cat *c)
{
    while (c->in_off < c->in_len) {
        ssize_t n;
        if (c->connected)
            n = ns_send(c->st, c->fd, c->in + c->in_off, c->in_len - c->in_off, MSG_DONTWAIT);
        else if (c->have_peer)
            n = ns_sendto(c->st, c->fd, c->in + c->in_off, c->in_len - c->in_off, MSG_DONTWAIT,
                          &c->peer.sa, sizeof(c->peer));
        else
            return; /* UDP -l -k: nobody to send to yet */
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->error = errno;
            return;
        }
        c->in_off += (size_t)n;
        c->sent += (uint64_t)n;
        c->last_io_us = ns_clock_now_us();
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
        if (n < 0 && !c->o->json)
            fprintf(stderr, "%s: stdin: %s\n", prog, strerror(errno));
        c->stdin_eof = true;
        return;
    }
    c->in_off = 0;
    c->in_len = (size_t)n;
    c->last_io_us = ns_clock_now_us();
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

/* The address of a (IPv4 or IPv6) as nc prints it, into buf. */
static const char *addr_str(const union ns_sockaddr *a, char buf[INET6_ADDRSTRLEN])
{
    if (a->sa.sa_family == AF_INET6)
        return inet_ntop(AF_INET6, &a->sin6.sin6_addr, buf, INET6_ADDRSTRLEN);
    return inet_ntop(AF_INET, &a->sin.sin_addr, buf, INET6_ADDRSTRLEN);
}

static uint16_t addr_port(const union ns_sockaddr *a)
{
    return ntohs(a->sa.sa_family == AF_INET6 ? a->sin6.sin6_port : a->sin.sin_port);
}

/* a with port set; its length for the socket calls in *len. */
static union ns_sockaddr addr_with_port(const union ns_sockaddr *a, uint16_t port, socklen_t *len)
{
    union ns_sockaddr r = *a;
    if (r.sa.sa_family == AF_INET6) {
        r.sin6.sin6_port = htons(port);
        *len = sizeof(r.sin6);
    } else {
        r.sin.sin_family = AF_INET;
        r.sin.sin_port = htons(port);
        *len = sizeof(r.sin);
    }
    return r;
}

/* Socket to stdout until it would block. */
static void cat_pull(struct cat *c)
{
    static uint8_t buf[CAT_BUF];
    for (;;) {
        union ns_sockaddr from;
        socklen_t flen = sizeof(from);
        ssize_t n = ns_recvfrom(c->st, c->fd, buf, sizeof(buf), MSG_DONTWAIT,
                                (struct sockaddr *)&from, &flen);
        if (n > 0 || (n == 0 && c->udp)) {
            if (!c->connected) {
                c->peer = from;
                c->have_peer = true;
            }
            if (write_all(1, buf, (size_t)n) < 0) {
                c->error = errno;
                return;
            }
            c->received += (uint64_t)n;
            c->last_io_us = ns_clock_now_us();
            continue;
        }
        if (n == 0) {
            c->sock_eof = true;
            return;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            c->error = errno;
        return;
    }
}

/* Unsent bytes: still in our buffer, or queued in the TCP socket. */
static bool data_pending(struct cat *c)
{
    if (c->in_len > c->in_off)
        return true;
    if (c->udp)
        return false;
    struct ns_sock_info info[8];
    int n = ns_sock_list(c->st, info, 8);
    for (int i = 0; i < n && i < 8; i++)
        if (info[i].fd == c->fd)
            return info[i].send_q > 0;
    return false;
}

/* Copy both ways on c->fd until the connection is done, a timeout, an
 * error or a signal. Returns true when it ended cleanly. */
static bool transfer(struct cat *c)
{
    const struct cat_opts *o = c->o;
    c->shut_sent = c->sock_eof = false;
    c->error = 0;
    ns_fcntl(c->st, c->fd, F_SETFL, O_NONBLOCK);
    c->last_io_us = ns_clock_now_us();
    uint64_t quit_at = NS_TIME_NEVER;
    uint64_t idle_us = (uint64_t)(o->wait_s * 1e6);
    bool clean = false;
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
        progress_maybe(c);
        uint64_t now = ns_clock_now_us();
        if (c->stdin_eof && c->in_len == 0 && quit_at == NS_TIME_NEVER && o->quit_s >= 0)
            quit_at = now + (uint64_t)(o->quit_s * 1e6);
        /* TCP is done when both directions are: our FIN sent, theirs read. */
        if (!c->udp && c->sock_eof && c->shut_sent) {
            clean = true;
            break;
        }
        if (quit_at != NS_TIME_NEVER && now >= quit_at) {
            clean = !data_pending(c);
            if (!clean)
                cat_fail(c, ST_TIMEOUT, "quit (-q %g) with data unsent", o->quit_s);
            break;
        }
        if (idle_us && now >= c->last_io_us + idle_us) {
            /* nc -w: an idle connection is closed silently; what was
             * still unsent did not get through. */
            clean = !data_pending(c);
            if (!clean)
                cat_fail(c, ST_TIMEOUT, "connection idle for %g s with data unsent", o->wait_s);
            break;
        }
        struct pollfd p = {.fd = c->fd, .events = 0};
        if (!c->sock_eof)
            p.events |= POLLIN;
        if (c->in_len)
            p.events |= POLLOUT;
        if (!p.events)
            p.fd = -1; /* only stdin (through the loop) or time can move us */
        uint64_t wake = now + 1000000;
        if (c->stdin_file && !c->stdin_eof && c->in_len == 0)
            wake = now;
        if (quit_at < wake)
            wake = quit_at;
        if (idle_us && c->last_io_us + idle_us < wake)
            wake = c->last_io_us + idle_us;
        if (c->progress_tty && c->progress_at_us < wake)
            wake = c->progress_at_us;
        int timeout = wake > now ? (int)((wake - now + 999) / 1000) : 0;
        int n = ns_poll(c->st, &p, 1, timeout);
        if (n < 0) {
            if (errno != EINTR)
                c->error = errno;
            break;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR))
            cat_pull(c);
    }
    if (c->stdin_watched) {
        ns_loop_del_fd(c->loop, 0);
        c->stdin_watched = false;
    }
    if (c->error) {
        if (c->udp && c->error == ECONNREFUSED)
        {
            char ip[INET6_ADDRSTRLEN];
            cat_fail(c, ST_REFUSED, "%s:%u (udp): %s (nothing listens there)",
                     addr_str(&c->peer, ip), addr_port(&c->peer), strerror(c->error));
        }
        else
            cat_fail(c, status_of(c->error), "%s", strerror(c->error));
        return false;
    }
    if (!clean && ns_loop_stopped(c->loop)) {
        /* Interrupted: for UDP, the normal end once stdin has gone out. */
        if (c->udp && c->stdin_eof && !data_pending(c))
            return true;
        cat_fail(c, ST_INTERRUPTED, "interrupted before the %s was complete",
                 c->udp ? "input was sent" : "connection");
        return false;
    }
    return clean;
}

/* ---- connecting --------------------------------------------------------------------------- */

/* connect(2) with the -w timeout (0: as long as the stack tries). Returns
 * 0 or a positive errno. */
static int connect_timeout(struct cat *c, int fd, const union ns_sockaddr *to, socklen_t tolen)
{
    if (c->o->wait_s <= 0)
        return ns_connect(c->st, fd, &to->sa, tolen) < 0 ? errno : 0;
    ns_fcntl(c->st, fd, F_SETFL, O_NONBLOCK);
    if (ns_connect(c->st, fd, &to->sa, tolen) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return errno;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n = ns_poll(c->st, &p, 1, (int)(c->o->wait_s * 1000));
    if (n < 0)
        return errno;
    if (n == 0)
        return EINPROGRESS; /* nc: "timed out: Operation now in progress" */
    int err = 0;
    socklen_t len = sizeof(err);
    ns_getsockopt(c->st, fd, SOL_SOCKET, SO_ERROR, &err, &len);
    return err;
}

static int open_socket(struct cat *c)
{
    int family = c->o->addr.sa.sa_family == AF_INET6 ? AF_INET6 : AF_INET;
    int fd = ns_socket(c->st, family, c->udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (fd < 0)
        cat_fail(c, ST_ERROR, "socket: %s", strerror(errno));
    return fd;
}

/* -p: the local port to connect from. */
static int bind_src_port(struct cat *c, int fd)
{
    if (!c->o->src_port_given)
        return 0;
    int one = 1;
    ns_setsockopt(c->st, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    union ns_sockaddr any = {0};
    any.sa.sa_family = c->o->addr.sa.sa_family;
    socklen_t len;
    union ns_sockaddr sin = addr_with_port(&any, c->o->src_port, &len);
    if (ns_bind(c->st, fd, &sin.sa, len) < 0) {
        cat_fail(c, ST_ERROR, "bind to port %u: %s", c->o->src_port, strerror(errno));
        return -1;
    }
    return 0;
}

static void note_local(struct cat *c, int fd)
{
    socklen_t len = sizeof(c->local);
    ns_getsockname(c->st, fd, (struct sockaddr *)&c->local, &len);
}

/* One port of -z: TCP connects and closes; UDP sends one datagram and
 * waits for a port unreachable (nothing back means open, as nc says). */
static bool scan_port(struct cat *c, uint16_t port)
{
    const char *proto = c->udp ? "udp" : "tcp";
    int fd = open_socket(c);
    if (fd < 0 || bind_src_port(c, fd) < 0) {
        if (fd >= 0)
            ns_close(c->st, fd);
        return false;
    }
    socklen_t tolen;
    union ns_sockaddr to = addr_with_port(&c->o->addr, port, &tolen);
    int err = connect_timeout(c, fd, &to, tolen);
    if (!err && c->udp) {
        ns_send(c->st, fd, "X", 1, MSG_DONTWAIT);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int wait_ms = c->o->wait_s > 0 ? (int)(c->o->wait_s * 1000) : CAT_UDP_SCAN_WAIT_MS;
        if (ns_poll(c->st, &p, 1, wait_ms) > 0 && (p.revents & POLLERR)) {
            socklen_t len = sizeof(err);
            ns_getsockopt(c->st, fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
    }
    ns_close(c->st, fd);
    if (c->o->json)
        tb_printf(&c->scan, "%s{\"port\": %u, \"open\": %s, \"error\": %s%s%s}",
                  c->scan_n++ ? ", " : "", port, err ? "false" : "true", err ? "\"" : "",
                  err ? (err == EINPROGRESS ? "timed out" : strerror(err)) : "null",
                  err ? "\"" : "");
    const char *host = c->o->host;
    if (!err)
        cat_verbose(c, "Connection to %s %u port [%s/*] succeeded!", host, port, proto);
    else if (err == EINPROGRESS)
        cat_verbose(c, "%s: connect to %s port %u (%s) timed out: %s", prog, host, port, proto,
                    strerror(err));
    else
        cat_verbose(c, "%s: connect to %s port %u (%s) failed: %s", prog, host, port, proto,
                    strerror(err));
    return !err;
}

static int run_scan(struct cat *c)
{
    bool any = false;
    for (unsigned port = c->o->port_lo; port <= c->o->port_hi; port++) {
        if (ns_loop_stopped(c->loop)) {
            c->status = ST_INTERRUPTED;
            snprintf(c->message, sizeof(c->message), "interrupted");
            return CLI_EXIT_FAIL;
        }
        any |= scan_port(c, (uint16_t)port);
    }
    if (!any) {
        c->status = ST_REFUSED;
        snprintf(c->message, sizeof(c->message), "no port open");
    }
    return any ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int run_connect(struct cat *c)
{
    const char *proto = c->udp ? "udp" : "tcp";
    socklen_t tolen;
    union ns_sockaddr to = addr_with_port(&c->o->addr, c->o->port_lo, &tolen);
    int fd = open_socket(c);
    if (fd < 0)
        return CLI_EXIT_FAIL;
    if (bind_src_port(c, fd) < 0) {
        ns_close(c->st, fd);
        return CLI_EXIT_FAIL;
    }
    int err = connect_timeout(c, fd, &to, tolen);
    if (err) {
        if (err == EINPROGRESS)
            cat_fail(c, ST_TIMEOUT, "connect to %s port %u (%s) timed out: %s", c->o->host,
                     c->o->port_lo, proto, strerror(err));
        else
            cat_fail(c, status_of(err), "connect to %s port %u (%s) failed: %s", c->o->host,
                     c->o->port_lo, proto, strerror(err));
        ns_close(c->st, fd);
        return CLI_EXIT_FAIL;
    }
    c->fd = fd;
    c->peer = to;
    c->have_peer = c->connected = true;
    c->conns = 1;
    note_local(c, fd);
    cat_verbose(c, "Connection to %s %u port [%s/*] succeeded!", c->o->host, c->o->port_lo,
                proto);
    return transfer(c) ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int run_listen(struct cat *c)
{
    const struct cat_opts *o = c->o;
    socklen_t sinlen;
    union ns_sockaddr sin = addr_with_port(&o->addr, o->port_lo, &sinlen);
    int lfd = open_socket(c);
    if (lfd < 0)
        return CLI_EXIT_FAIL;
    int one = 1;
    ns_setsockopt(c->st, lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ns_bind(c->st, lfd, &sin.sa, sinlen) < 0 ||
        (!c->udp && ns_listen(c->st, lfd, 1) < 0)) {
        cat_fail(c, ST_ERROR, "bind %s port %u: %s", o->host ? o->host : "0.0.0.0", o->port_lo,
                 strerror(errno));
        ns_close(c->st, lfd);
        return CLI_EXIT_FAIL;
    }
    note_local(c, lfd);
    char ip[INET6_ADDRSTRLEN];
    cat_verbose(c, "%s on %s %u", c->udp ? "Bound" : "Listening", addr_str(&c->local, ip),
                addr_port(&c->local));
    int rc = CLI_EXIT_OK;
    if (c->udp) {
        /* The first datagram names the peer; without -k it is the only one. */
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        while (ns_poll(c->st, &p, 1, 1000) == 0 && !ns_loop_stopped(c->loop))
            ;
        if (ns_loop_stopped(c->loop)) {
            cat_fail(c, ST_INTERRUPTED, "interrupted before a datagram came");
            ns_close(c->st, lfd);
            return CLI_EXIT_FAIL;
        }
        c->fd = lfd;
        cat_pull(c); /* not connected yet: records the sender */
        if (c->error) {
            cat_fail(c, ST_ERROR, "%s", strerror(c->error));
            ns_close(c->st, lfd);
            return CLI_EXIT_FAIL;
        }
        c->conns = 1;
        cat_verbose(c, "Connection received on %s %u", addr_str(&c->peer, ip),
                    addr_port(&c->peer));
        if (!o->keep) {
            ns_connect(c->st, lfd, &c->peer.sa, sizeof(c->peer));
            c->connected = true;
        }
        rc = transfer(c) ? CLI_EXIT_OK : CLI_EXIT_FAIL;
        ns_close(c->st, lfd);
        c->fd = -1;
        return rc;
    }
    for (;;) {
        union ns_sockaddr peer;
        socklen_t plen = sizeof(peer);
        int cfd = ns_accept(c->st, lfd, &peer.sa, &plen);
        if (cfd < 0) {
            if (errno == EINTR || ns_loop_stopped(c->loop)) {
                if (!c->conns)
                    cat_fail(c, ST_INTERRUPTED, "interrupted before a connection came");
            } else {
                cat_fail(c, ST_ERROR, "accept: %s", strerror(errno));
            }
            if (!c->conns || c->status != ST_OK)
                rc = CLI_EXIT_FAIL;
            break;
        }
        c->fd = cfd;
        c->peer = peer;
        c->have_peer = c->connected = true;
        c->conns++;
        cat_verbose(c, "Connection received on %s %u", addr_str(&peer, ip), addr_port(&peer));
        bool ok = transfer(c);
        ns_close(c->st, cfd);
        c->fd = -1;
        if (!ok)
            rc = CLI_EXIT_FAIL;
        if (!o->keep || ns_loop_stopped(c->loop))
            break;
    }
    ns_close(c->st, lfd);
    return rc;
}

/* ---- options ------------------------------------------------------------------------------ */

/* PORT or (with -z) LO-HI. */
static int parse_ports(const char *v, bool range_ok, int lo, struct cat_opts *o)
{
    const char *dash = strchr(v, '-');
    if (dash && range_ok) {
        char a[8], b[8];
        size_t na = (size_t)(dash - v), nb = strlen(dash + 1);
        if (na && na < sizeof(a) && nb && nb < sizeof(b)) {
            memcpy(a, v, na);
            a[na] = 0;
            memcpy(b, dash + 1, nb + 1);
            uint16_t plo, phi;
            if (cli_port(prog, "port range", a, 1, &plo) < 0 ||
                cli_port(prog, "port range", b, 1, &phi) < 0)
                return -1;
            if (plo > phi)
                return cli_bad_value(prog, "port range", v, "LO-HI with LO <= HI");
            o->port_lo = plo;
            o->port_hi = phi;
            return 0;
        }
        return cli_bad_value(prog, "port range", v, "a port or LO-HI, ports from 1 to 65535");
    }
    if (dash)
        return cli_bad_value(prog, "port", v, "one port from 1 to 65535 (ranges only with -z)");
    if (cli_port(prog, "port", v, lo, &o->port_lo) < 0)
        return -1;
    o->port_hi = o->port_lo;
    return 0;
}

/* Returns -1 to go on, else the exit status. */
static int parse_opts(int argc, char **argv, struct cat_opts *o)
{
    static const char shortopts[] = ":hklNnp:q:uvw:z";
    enum { OPT_JSON = 0x100 };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        LINK_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        int r = link_opt(&o->link, prog, c, optarg);
        if (r < 0)
            return CLI_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case 'k': o->keep = true; break;
        case 'l': o->listen = true; break;
        case 'N': break; /* the end of stdin always half-closes */
        case 'n': break; /* never resolves names anyway */
        case 'u': o->udp = true; break;
        case 'v': o->verbose = true; break;
        case 'z': o->scan = true; break;
        case OPT_JSON: o->json = true; break;
        case 'p':
            if (cli_port(prog, "-p", optarg, 1, &o->src_port) < 0)
                return CLI_EXIT_USAGE;
            o->src_port_given = true;
            break;
        case 'q':
            if (cli_num(prog, "-q", optarg, -1, CAT_MAX_SECONDS, "seconds", &o->quit_s) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'w':
            if (cli_num(prog, "-w", optarg, 0.001, CAT_MAX_SECONDS, "seconds", &o->wait_s) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_getopt_error(prog, c, argv, shortopts);
        }
    }
    int npos = argc - optind;
    char **pos = argv + optind;
    if (o->keep && !o->listen)
        return cli_usage_error(prog, "-k needs -l");
    if (o->scan && o->listen)
        return cli_usage_error(prog, "-z and -l exclude each other");
    if (o->listen) {
        /* -l [ADDR] PORT, or -l -p PORT (as Debian's nc). */
        if (npos > 2)
            return cli_usage_error(prog, "unexpected argument '%s'", pos[2]);
        if (npos == 0 && !o->src_port_given)
            return cli_usage_error(prog, "-l needs a port to listen on");
        if (npos == 2) {
            if (cli_ip(prog, "listen address", pos[0], &o->addr) < 0)
                return CLI_EXIT_USAGE;
            o->host = pos[0];
        }
        if (npos >= 1) {
            if (parse_ports(pos[npos - 1], false, 0, o) < 0)
                return CLI_EXIT_USAGE;
            if (o->src_port_given && o->src_port != o->port_lo)
                return cli_usage_error(prog, "-p %u and port %u: two ports to listen on",
                                       o->src_port, o->port_lo);
        } else {
            o->port_lo = o->port_hi = o->src_port;
        }
    } else {
        if (npos < 2)
            return cli_usage_error(prog, npos ? "no port after the host '%s'" : "no host and port%s",
                                   npos ? pos[0] : "");
        if (npos > 2)
            return cli_usage_error(prog, "unexpected argument '%s'", pos[2]);
        if (cli_ip(prog, "host", pos[0], &o->addr) < 0)
            return CLI_EXIT_USAGE;
        o->host = pos[0];
        if (parse_ports(pos[1], o->scan, 1, o) < 0)
            return CLI_EXIT_USAGE;
    }
    if (link_opts_check(&o->link, prog) < 0)
        return CLI_EXIT_USAGE;
    return -1;
}

static void print_json(const struct cat *c, int rc)
{
    const struct cat_opts *o = c->o;
    char local[64], peer[64];
    fmt_sockaddr(local, sizeof(local), &c->local);
    fmt_sockaddr(peer, sizeof(peer), &c->peer);
    struct textbuf b = {0};
    tb_printf(&b, "{\"mode\": \"%s\", \"protocol\": \"%s\", \"local\": ",
              o->scan ? "scan" : o->listen ? "listen" : "connect", o->udp ? "udp" : "tcp");
    if (c->local.sa.sa_family == AF_INET || c->local.sa.sa_family == AF_INET6)
        tb_printf(&b, "\"%s\"", local);
    else
        tb_printf(&b, "null");
    tb_printf(&b, ", \"peer\": ");
    if (c->have_peer && !o->scan)
        tb_printf(&b, "\"%s\"", peer);
    else
        tb_printf(&b, "null");
    tb_printf(&b,
              ", \"connections\": %" PRIu64 ", \"bytes_sent\": %" PRIu64
              ", \"bytes_received\": %" PRIu64 ", \"status\": \"%s\", \"error\": ",
              c->conns, c->sent, c->received, status_names[c->status]);
    if (c->message[0]) {
        tb_printf(&b, "\"");
        for (const char *p = c->message; *p; p++) {
            if (*p == '"' || *p == '\\')
                tb_printf(&b, "\\");
            tb_printf(&b, "%c", *p);
        }
        tb_printf(&b, "\"");
    } else {
        tb_printf(&b, "null");
    }
    if (o->scan)
        tb_printf(&b, ", \"scan\": [%s]", c->scan.p ? c->scan.p : "");
    tb_printf(&b, ", \"exit_status\": %d}\n", rc);
    if (b.p)
        fputs(b.p, stderr);
    free(b.p);
}

int tool_cat(int argc, char **argv)
{
    struct cat_opts o = {.quit_s = -1};
    int rc = parse_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (!o.link.name)
        o.link.name = "cat";
    struct link_host h;
    if (link_host_open(&h, &o.link) < 0)
        return CLI_EXIT_FAIL;
    struct cat *c = calloc(1, sizeof(*c));
    if (!c) {
        link_host_close(&h);
        return CLI_EXIT_FAIL;
    }
    c->o = &o;
    c->st = h.st;
    c->loop = h.loop;
    c->udp = o.udp;
    c->fd = -1;
    c->start_us = ns_clock_now_us();
    c->progress_tty = isatty(2) && !o.json;
    c->progress_at_us = c->start_us + CAT_PROGRESS_US;
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    if (o.scan)
        rc = run_scan(c);
    else if (o.listen)
        rc = run_listen(c);
    else
        rc = run_connect(c);
    progress_end(c);
    if (c->fd >= 0) {
        ns_close(c->st, c->fd);
        c->fd = -1;
    }
    /* Let the last ACK or FIN leave before the device goes away. */
    if (!ns_loop_stopped(c->loop))
        ns_loop_run_once(c->loop, ns_clock_now_us() + 50000);
    ns_stack_poll(c->st, ns_clock_now_us());
    if (rc == CLI_EXIT_OK)
        c->status = ST_OK;
    else if (c->status == ST_OK)
        c->status = ST_ERROR;
    if (o.json)
        print_json(c, rc);
    if (o.link.verbose || (ns_loop_stopped(c->loop) && !o.json))
        link_print_counters(h.st, stderr);
    free(c->scan.p);
    free(c);
    link_host_close(&h);
    return rc;
}
