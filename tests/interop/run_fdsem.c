/* tests/interop/run_fdsem.c — descriptor semantics of netsock sockets
 * under `netsock run`, compared with the kernel's
 * (tests/interop/test_run_fdsem.sh).
 *
 *   run_fdsem server ADDR PORT   the peer: TCP and UDP services on the
 *                                kernel (never under netsock)
 *   run_fdsem client ADDR PORT CLOSED_PORT
 *                                the checks; each prints one line, the
 *                                same for the kernel's sockets and for
 *                                netsock's (the script runs it both ways
 *                                and compares the transcripts)
 *
 * The server's TCP connections start with one command byte and a 32-bit
 * argument: 'E' echo until EOF; 'S' wait ARG ms, send "hello", then echo;
 * 'R' wait ARG ms, then reset the connection (SO_LINGER {1, 0}); 'F' send
 * "bye" and a FIN, then read to EOF. Its UDP socket echoes datagrams.
 *
 * Lines name the call and what it returned: a number, or -1 and the
 * errno's name; poll results as flag names. Nothing that differs between
 * two kernel runs (ports, times) is printed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *ename(int e)
{
    switch (e) {
    case EAGAIN: return "EAGAIN";
    case EINPROGRESS: return "EINPROGRESS";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case EPIPE: return "EPIPE";
    case EINTR: return "EINTR";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case ENOTCONN: return "ENOTCONN";
    case EISCONN: return "EISCONN";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case EMSGSIZE: return "EMSGSIZE";
    case EALREADY: return "EALREADY";
    case EADDRINUSE: return "EADDRINUSE";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return "E?";
    }
}

static void say(const char *what, long r)
{
    if (r < 0)
        printf("%s: -1 %s\n", what, ename(errno));
    else
        printf("%s: %ld\n", what, r);
    fflush(stdout);
}

static const char *pollbits(short r)
{
    static char b[128];
    b[0] = 0;
    static const struct {
        short bit;
        const char *name;
    } names[] = {{POLLIN, "IN"},   {POLLPRI, "PRI"},   {POLLOUT, "OUT"},    {POLLERR, "ERR"},
                 {POLLHUP, "HUP"}, {POLLNVAL, "NVAL"}, {POLLRDHUP, "RDHUP"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (r & names[i].bit) {
            strcat(b, b[0] ? "|" : "");
            strcat(b, names[i].name);
        }
    return b[0] ? b : "0";
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void msleep(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

/* ---- the server -------------------------------------------------------------------------- */

static int slow_go[2]; /* a byte on it: the slow listener starts accepting */

static void *serve_conn(void *arg)
{
    int c = (int)(intptr_t)arg;
    uint8_t cmd[5];
    size_t got = 0;
    while (got < 5) {
        ssize_t n = recv(c, cmd + got, 5 - got, 0);
        if (n <= 0) {
            close(c);
            return NULL;
        }
        got += (size_t)n;
    }
    uint32_t a;
    memcpy(&a, cmd + 1, 4);
    a = ntohl(a);
    switch (cmd[0]) {
    case 'S':
        msleep((int)a);
        send(c, "hello", 5, MSG_NOSIGNAL);
        break;
    case 'R': {
        msleep((int)a);
        struct linger l = {1, 0};
        setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        close(c);
        return NULL;
    }
    case 'A':
        msleep((int)a);
        if (write(slow_go[1], "A", 1) != 1)
            die("slow listener");
        break;
    case 'F':
        send(c, "bye", 3, MSG_NOSIGNAL);
        shutdown(c, SHUT_WR);
        break;
    default:
        break;
    }
    char buf[65536];
    ssize_t n;
    while ((n = recv(c, buf, sizeof(buf), 0)) > 0)
        if (cmd[0] != 'F' && send(c, buf, (size_t)n, MSG_NOSIGNAL) < 0)
            break;
    close(c);
    return NULL;
}

static void *serve_udp(void *arg)
{
    int u = (int)(intptr_t)arg;
    char buf[65536];
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n >= 0)
            sendto(u, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

/* The slow listener (the server's port + 1, backlog 1): two connections
 * fill its accept queue and later SYNs are dropped (Linux
 * tcp_conn_request; backlog 0 would answer with SYN cookies) until a
 * connection's 'A' command has it accept one run's connections. */
static void *serve_slow(void *arg)
{
    int l = (int)(intptr_t)arg;
    char b;
    for (;;) {
        if (read(slow_go[0], &b, 1) != 1)
            continue;
        /* One run's four: the two that filled the queue, the interrupted
         * connect's and the restarted one's; then full again for the next. */
        for (int i = 0; i < 4; i++) {
            int c = accept(l, NULL, NULL);
            if (c >= 0)
                close(c);
        }
    }
    return NULL;
}

static int server(const char *addr, int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, addr, &sin.sin_addr);
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, 64) < 0)
        die("server listen");
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    if (bind(u, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        die("server udp bind");
    pthread_t t;
    pthread_create(&t, NULL, serve_udp, (void *)(intptr_t)u);
    struct sockaddr_in slow = sin;
    slow.sin_port = htons((uint16_t)(port + 1));
    int sl = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(sl, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (pipe(slow_go) < 0 || bind(sl, (struct sockaddr *)&slow, sizeof(slow)) < 0 || listen(sl, 1) < 0)
        die("server slow listen");
    pthread_create(&t, NULL, serve_slow, (void *)(intptr_t)sl);
    printf("serving\n");
    fflush(stdout);
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0)
            continue;
        pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)c);
        pthread_detach(t);
    }
    return 0;
}

/* ---- the client ---------------------------------------------------------------------------- */

static struct sockaddr_in srv, closed;

/* A blocking connection to the server with command cmd/arg sent. */
static int conn(char cmd, uint32_t arg)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&srv, sizeof(srv)) < 0)
        die("connect");
    uint8_t b[5] = {(uint8_t)cmd};
    uint32_t a = htonl(arg);
    memcpy(b + 1, &a, 4);
    if (send(s, b, 5, 0) != 5)
        die("send command");
    return s;
}

/* Read exactly n bytes (or to EOF) within 5 s. */
static ssize_t read_n(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) != 1)
            break;
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Wait up to 5 s for events on fd; the revents. */
static short wait_for(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    return poll(&p, 1, 5000) == 1 ? p.revents : 0;
}

static void t_socket(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    say("socket(NONBLOCK|CLOEXEC)", s >= 0);
    say("  O_NONBLOCK", !!(fcntl(s, F_GETFL) & O_NONBLOCK));
    say("  FD_CLOEXEC", !!(fcntl(s, F_GETFD) & FD_CLOEXEC));
    int v;
    socklen_t l = sizeof(v);
    getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l);
    say("  SO_TYPE", v);
    getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &l);
    say("  SO_DOMAIN", v);
    getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &l);
    say("  SO_PROTOCOL", v);
    say("  getpeername unconnected", getpeername(s, (struct sockaddr *)&(struct sockaddr_in){0}, &(socklen_t){16}));
    say("  accept not listening", accept(s, NULL, NULL));
    say("  listen", listen(s, 4));
    struct pollfd p = {.fd = s, .events = POLLIN | POLLOUT};
    say("  poll listener idle", poll(&p, 1, 0));
    say("  accept4 idle (non-blocking)", accept4(s, NULL, NULL, 0));
    close(s);
}

static void t_connect(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    say("connect non-blocking", connect(s, (struct sockaddr *)&srv, sizeof(srv)));
    printf("  poll POLLOUT: %s\n", pollbits(wait_for(s, POLLOUT)));
    int e = -1;
    socklen_t l = sizeof(e);
    getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l);
    say("  SO_ERROR", e);
    say("  connect again", connect(s, (struct sockaddr *)&srv, sizeof(srv)));
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    getpeername(s, (struct sockaddr *)&a, &al);
    say("  getpeername port is the server's", a.sin_port == srv.sin_port && al == sizeof(a));
    al = sizeof(a);
    getsockname(s, (struct sockaddr *)&a, &al);
    say("  getsockname has a port", a.sin_port != 0 && a.sin_family == AF_INET);
    al = 4;
    getsockname(s, (struct sockaddr *)&a, &al);
    say("  getsockname truncated: length", al);
    close(s);

    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    say("connect non-blocking, refused", connect(s, (struct sockaddr *)&closed, sizeof(closed)));
    short r = wait_for(s, POLLOUT);
    printf("  poll POLLOUT: %s\n", pollbits(r));
    struct pollfd p = {.fd = s, .events = POLLIN | POLLOUT | POLLRDHUP};
    poll(&p, 1, 0);
    printf("  poll everything: %s\n", pollbits(p.revents));
    l = sizeof(e);
    getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l);
    printf("  SO_ERROR: %s\n", ename(e));
    l = sizeof(e);
    getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l);
    say("  SO_ERROR again", e);
    close(s);

    s = socket(AF_INET, SOCK_STREAM, 0);
    say("connect blocking, refused", connect(s, (struct sockaddr *)&closed, sizeof(closed)));
    close(s);
}

static void t_dup(void)
{
    char buf[16] = {0};
    int s = conn('E', 0);
    int d = dup(s);
    say("dup", d > s);
    say("  write dup", write(d, "abc", 3));
    say("  read original", read_n(s, buf, 3));
    printf("  data: %.3s\n", buf);
    say("  close original", close(s));
    say("  write dup after close", write(d, "xyz", 3));
    say("  read dup", read_n(d, buf, 3));
    printf("  data: %.3s\n", buf);

    int fds[2];
    if (pipe(fds) < 0)
        die("pipe");
    int t = conn('E', 0);
    say("dup2 pipe onto socket", dup2(fds[1], t) == t);
    say("  write it", write(t, "q", 1));
    say("  read the pipe", read(fds[0], buf, sizeof(buf)));
    close(t);
    int u = conn('E', 0);
    say("dup2 socket onto socket", dup2(d, u) == u);
    say("  write it", write(u, "uvw", 3));
    say("  read the other", read_n(d, buf, 3));
    printf("  data: %.3s\n", buf);
    int f = fcntl(d, F_DUPFD_CLOEXEC, 50);
    say("fcntl F_DUPFD_CLOEXEC", f >= 50);
    say("  FD_CLOEXEC", !!(fcntl(f, F_GETFD) & FD_CLOEXEC));
    say("  send on it", send(f, "mn", 2, 0));
    say("  recv", read_n(d, buf, 2));
    close(f);
    close(u);
    close(d);
    close(fds[0]);
    close(fds[1]);
}

static void t_mix(void)
{
    int fds[2];
    if (pipe(fds) < 0)
        die("pipe");
    int s = conn('E', 0);
    struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = s, .events = POLLIN}};
    say("poll pipe+socket, nothing", poll(p, 2, 0));
    write(fds[1], "p", 1);
    say("poll after pipe write", poll(p, 2, 0));
    printf("  pipe %s socket %s\n", pollbits(p[0].revents), pollbits(p[1].revents));
    send(s, "s", 1, 0);
    wait_for(s, POLLIN);
    say("poll after echo", poll(p, 2, 0));
    printf("  pipe %s socket %s\n", pollbits(p[0].revents), pollbits(p[1].revents));

    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(fds[0], &rd);
    FD_SET(s, &rd);
    FD_SET(s, &wr);
    struct timeval tv = {0, 0};
    say("select", select((s > fds[0] ? s : fds[0]) + 1, &rd, &wr, NULL, &tv));
    printf("  pipe readable %d socket readable %d writable %d\n", FD_ISSET(fds[0], &rd),
           FD_ISSET(s, &rd), FD_ISSET(s, &wr));

    int ep = epoll_create1(EPOLL_CLOEXEC), ep2 = epoll_create1(0), ep3 = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[0]};
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev);
    ev.data.fd = s;
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    epoll_ctl(ep3, EPOLL_CTL_ADD, s, &ev); /* the same socket in a second set */
    ev.data.fd = ep;
    epoll_ctl(ep2, EPOLL_CTL_ADD, ep, &ev); /* nested */
    struct epoll_event out[4];
    int n = epoll_wait(ep, out, 4, 1000);
    int seen_pipe = 0, seen_sock = 0;
    for (int i = 0; i < n; i++) {
        seen_pipe |= out[i].data.fd == fds[0];
        seen_sock |= out[i].data.fd == s;
    }
    printf("epoll_wait: %d (pipe %d socket %d)\n", n, seen_pipe, seen_sock);
    say("  second set", epoll_wait(ep3, out, 4, 1000));
    say("  nested set", epoll_wait(ep2, out, 4, 1000));
    char c;
    read(fds[0], &c, 1);
    read(s, &c, 1);
    say("  after reading both", epoll_wait(ep, out, 4, 0));
    /* Edge-triggered, writable too. */
    int et = epoll_create1(0);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.fd = s;
    epoll_ctl(et, EPOLL_CTL_ADD, s, &ev);
    n = epoll_wait(et, out, 4, 1000);
    printf("EPOLLET: %d %s\n", n, n == 1 ? (out[0].events & EPOLLOUT ? "OUT" : "no OUT") : "");
    say("  again: nothing new", epoll_wait(et, out, 4, 0));
    send(s, "e", 1, 0);
    /* The echo brings an EPOLLIN edge. (netsock may add EPOLLOUT edges
     * before it, when the stack takes what was written: docs/run.md.) */
    int in_edges = 0;
    for (int i = 0; i < 20 && !in_edges; i++) {
        n = epoll_wait(et, out, 4, 2000);
        in_edges += n == 1 && (out[0].events & EPOLLIN);
        if (n <= 0)
            break;
    }
    say("  after echo: an EPOLLIN edge", in_edges);
    close(et);
    close(ep3);
    close(ep2);
    close(ep);
    close(s);
    close(fds[0]);
    close(fds[1]);
}

struct blocked {
    int fd;
    ssize_t r;
    int err;
    char buf[16];
};

static void *blocked_recv(void *arg)
{
    struct blocked *b = arg;
    b->r = recv(b->fd, b->buf, sizeof(b->buf), 0);
    b->err = errno;
    return NULL;
}

static void t_threads(void)
{
    /* close() in one thread while another is blocked in recv: Linux's
     * recv keeps the socket and returns when the data comes. */
    int s = conn('S', 400);
    char c5[5];
    struct blocked b = {.fd = s};
    pthread_t t;
    pthread_create(&t, NULL, blocked_recv, &b);
    msleep(100);
    say("close while another thread is in recv", close(s));
    pthread_join(t, NULL);
    errno = b.err;
    say("  that recv", b.r);
    /* shutdown(SHUT_RD) in one thread wakes a recv in another. */
    s = conn('S', 3000);
    struct blocked b2 = {.fd = s};
    pthread_create(&t, NULL, blocked_recv, &b2);
    msleep(100);
    say("shutdown(SHUT_RD) while another thread is in recv", shutdown(s, SHUT_RD));
    pthread_join(t, NULL);
    errno = b2.err;
    say("  that recv", b2.r);
    close(s);
    (void)c5;
}

static void on_alarm(int sig) { (void)sig; }

static void t_signals(void)
{
    struct sigaction sa = {.sa_handler = on_alarm};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {.it_value = {0, 100000}};
    int s = conn('S', 600);
    char buf[8];
    setitimer(ITIMER_REAL, &it, NULL);
    say("recv interrupted (no SA_RESTART)", recv(s, buf, sizeof(buf), 0));
    close(s);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    s = conn('S', 600);
    setitimer(ITIMER_REAL, &it, NULL);
    say("recv with SA_RESTART", recv(s, buf, sizeof(buf), 0));
    close(s);
    /* accept, blocking, interrupted */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(l, (struct sockaddr *)&lo, sizeof(lo));
    listen(l, 4);
    sa.sa_flags = 0;
    sigaction(SIGALRM, &sa, NULL);
    setitimer(ITIMER_REAL, &it, NULL);
    say("accept interrupted (no SA_RESTART)", accept(l, NULL, NULL));
    close(l);
    /* connect, blocking, to a listener whose queue is full (its SYNs are
     * dropped): without SA_RESTART EINTR, the handshake going on; with
     * it the call resumes and returns when the listener makes room (the
     * 'A' command, 500 ms on) and a retransmitted SYN gets through. */
    struct sockaddr_in slow = srv;
    slow.sin_port = htons((uint16_t)(ntohs(srv.sin_port) + 1));
    int filler[2];
    for (int i = 0; i < 2; i++) {
        filler[i] = socket(AF_INET, SOCK_STREAM, 0);
        say("connect to the slow listener (fills its queue)",
            connect(filler[i], (struct sockaddr *)&slow, sizeof(slow)));
    }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    setitimer(ITIMER_REAL, &it, NULL);
    say("connect interrupted (no SA_RESTART)", connect(c, (struct sockaddr *)&slow, sizeof(slow)));
    int go = conn('A', 500);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    int c2 = socket(AF_INET, SOCK_STREAM, 0);
    setitimer(ITIMER_REAL, &it, NULL);
    say("connect with SA_RESTART", connect(c2, (struct sockaddr *)&slow, sizeof(slow)));
    close(c2);
    close(c);
    close(go);
    close(filler[0]);
    close(filler[1]);
    signal(SIGALRM, SIG_DFL);
}

static void t_data(void)
{
    int s = conn('E', 0);
    char buf[200000];
    say("recv idle, MSG_DONTWAIT", recv(s, buf, 10, MSG_DONTWAIT));
    int on = 1;
    say("ioctl FIONBIO 1", ioctl(s, FIONBIO, &on));
    say("  recv idle", recv(s, buf, 10, 0));
    on = 0;
    ioctl(s, FIONBIO, &on);
    say("  O_NONBLOCK after FIONBIO 0", !!(fcntl(s, F_GETFL) & O_NONBLOCK));
    send(s, "0123456789", 10, 0);
    wait_for(s, POLLIN);
    msleep(50);
    int q = -1;
    say("ioctl FIONREAD", ioctl(s, FIONREAD, &q));
    say("  bytes", q);
    say("recv MSG_PEEK", recv(s, buf, 4, MSG_PEEK));
    say("recv MSG_WAITALL", recv(s, buf, 10, MSG_WAITALL));
    printf("  data: %.10s\n", buf);
    struct iovec w[3] = {{"ab", 2}, {"cde", 3}, {"f", 1}};
    say("writev", writev(s, w, 3));
    char x[3], y[3];
    struct iovec r[2] = {{x, 3}, {y, 3}};
    wait_for(s, POLLIN);
    msleep(50);
    say("readv", readv(s, r, 2));
    printf("  data: %.3s %.3s\n", x, y);
    struct sockaddr_in from = {0};
    socklen_t fl = sizeof(from);
    send(s, "z", 1, 0);
    say("recvfrom on TCP", recvfrom(s, buf, 1, MSG_WAITALL, (struct sockaddr *)&from, &fl));
    say("  address length", fl);

    /* sendfile from a file */
    char path[] = "/tmp/run_fdsem.XXXXXX";
    int f = mkstemp(path);
    unlink(path);
    for (int i = 0; i < 100000; i++)
        buf[i] = (char)(i * 7);
    if (write(f, buf, 100000) != 100000)
        die("write file");
    off_t off = 0;
    ssize_t sent = 0;
    while (sent < 100000) {
        ssize_t k = sendfile(s, f, &off, 100000 - (size_t)sent);
        if (k <= 0)
            break;
        sent += k;
    }
    say("sendfile", sent);
    static char back[100000];
    say("  echoed", read_n(s, back, 100000));
    say("  same bytes", !memcmp(back, buf, 100000));
    close(f);

    say("shutdown(SHUT_WR)", shutdown(s, SHUT_WR));
    say("  send after", send(s, "x", 1, MSG_NOSIGNAL));
    say("  read to the end", read(s, buf, 10));
    printf("  poll: %s\n", pollbits(wait_for(s, POLLIN | POLLOUT | POLLRDHUP)));
    close(s);

    s = conn('F', 0);
    say("peer's FIN: read", read_n(s, buf, 3));
    say("  read again", read(s, buf, 3));
    printf("  poll: %s\n", pollbits(wait_for(s, POLLIN | POLLOUT | POLLRDHUP)));
    say("  send still", send(s, "ok", 2, MSG_NOSIGNAL));
    close(s);
}

static void t_reset(void)
{
    int s = conn('R', 100);
    short r = wait_for(s, POLLIN);
    say("reset by peer: POLLIN and POLLHUP", (r & (POLLIN | POLLHUP)) == (POLLIN | POLLHUP));
    char buf[8];
    say("  read", read(s, buf, sizeof(buf)));
    say("  read again", read(s, buf, sizeof(buf)));
    say("  send", send(s, "x", 1, MSG_NOSIGNAL));
    close(s);
    s = conn('R', 100);
    wait_for(s, POLLIN);
    say("reset by peer: send first", send(s, "x", 1, MSG_NOSIGNAL));
    say("  send again", send(s, "x", 1, MSG_NOSIGNAL));
    close(s);
}

/* recvmsg of up to n bytes: "BYTES inq INQ" (INQ from TCP_CM_INQ, "none"
 * when no such control message came). */
static const char *recv_inq(int s, size_t n)
{
    static char out[64];
    char buf[128];
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int))];
    } cm;
    struct iovec iov = {buf, n < sizeof(buf) ? n : sizeof(buf)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
                       .msg_controllen = sizeof(cm.b)};
    ssize_t r = recvmsg(s, &m, 0);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    int inq;
    if (c && c->cmsg_level == IPPROTO_TCP && c->cmsg_type == TCP_CM_INQ) {
        memcpy(&inq, CMSG_DATA(c), sizeof(inq));
        snprintf(out, sizeof(out), "%zd inq %d", r, inq);
    } else {
        snprintf(out, sizeof(out), "%zd inq none", r);
    }
    return out;
}

static void t_options(void)
{
    int s = conn('E', 0);
    int v = 1;
    socklen_t l = sizeof(v);
    say("TCP_NODELAY set", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)));
    v = 0;
    getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &l);
    say("  get", v);
    v = 65536;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
    l = sizeof(v);
    getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &l);
    say("SO_RCVBUF 65536 reads", v);
    v = 1;
    say("SO_KEEPALIVE", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)));
    say("TCP option 9999", setsockopt(s, IPPROTO_TCP, 9999, &v, sizeof(v)));
    l = sizeof(v);
    say("  get", getsockopt(s, IPPROTO_TCP, 9999, &v, &l));
    struct tcp_info ti;
    l = sizeof(ti);
    say("TCP_INFO", getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &l));
    say("  state", ti.tcpi_state);
    say("  mss set", ti.tcpi_snd_mss > 0);
    say("  rtt and cwnd set", ti.tcpi_rtt > 0 && ti.tcpi_snd_cwnd > 0);
    struct timeval tv = {0, 200000};
    say("SO_RCVTIMEO", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
    char buf[4];
    say("  recv times out", recv(s, buf, sizeof(buf), 0));
    l = sizeof(tv);
    getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, &l);
    say("  get usec", tv.tv_usec);
    close(s);
    /* TCP_NOTSENT_LOWAT: 0 unset; with a mark, what a writer can queue
     * while the peer does not read is its window and about the mark, not
     * the send buffer's megabytes (the server reads only after 2 s). */
    s = conn('S', 2000);
    v = -1;
    l = sizeof(v);
    getsockopt(s, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &l);
    say("TCP_NOTSENT_LOWAT unset", v);
    v = 16384;
    say("  set 16384", setsockopt(s, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof(v)));
    v = -1;
    l = sizeof(v);
    getsockopt(s, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &l);
    say("  get", v);
    static char big[65536];
    size_t queued = 0;
    for (;;) {
        ssize_t n = send(s, big, sizeof(big), MSG_DONTWAIT);
        if (n > 0) {
            queued += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN && queued < (64u << 20)) {
            struct pollfd p = {.fd = s, .events = POLLOUT};
            if (poll(&p, 1, 300) == 1)
                continue;
        }
        break;
    }
    say("  queued while the peer does not read: under 1 MiB", queued > 0 && queued < (1u << 20));
    close(s);
    /* TCP_INQ: the bytes left after a receive, as a control message. */
    s = conn('E', 0);
    v = 1;
    say("TCP_INQ set", setsockopt(s, IPPROTO_TCP, TCP_INQ, &v, sizeof(v)));
    v = 0;
    l = sizeof(v);
    getsockopt(s, IPPROTO_TCP, TCP_INQ, &v, &l);
    say("  get", v);
    v = 2;
    say("  set 2", setsockopt(s, IPPROTO_TCP, TCP_INQ, &v, sizeof(v)));
    send(s, "0123456789", 10, 0);
    wait_for(s, POLLIN);
    msleep(50);
    printf("  recvmsg 4 of 10: %s\n", recv_inq(s, 4));
    printf("  recvmsg the rest: %s\n", recv_inq(s, 100));
    close(s);
    s = conn('F', 0);
    v = 1;
    setsockopt(s, IPPROTO_TCP, TCP_INQ, &v, sizeof(v));
    wait_for(s, POLLRDHUP);
    printf("  recvmsg after the peer's FIN: %s\n", recv_inq(s, 100));
    close(s);
    /* tcpi_state is Linux's number in other states too. */
    s = conn('F', 0);
    char bye[4];
    read_n(s, bye, 3);
    wait_for(s, POLLRDHUP);
    say("  read to the FIN", read(s, bye, sizeof(bye)));
    l = sizeof(ti);
    getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &l);
    say("TCP_INFO after the peer's FIN: state", ti.tcpi_state);
    close(s);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(ls, (struct sockaddr *)&lo, sizeof(lo));
    listen(ls, 4);
    l = sizeof(ti);
    getsockopt(ls, IPPROTO_TCP, TCP_INFO, &ti, &l);
    say("TCP_INFO of a listener: state", ti.tcpi_state);
    close(ls);
}

static void t_listen(void)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    say("bind 127.0.0.1", bind(l, (struct sockaddr *)&lo, sizeof(lo)));
    say("listen", listen(l, 8));
    socklen_t ll = sizeof(lo);
    getsockname(l, (struct sockaddr *)&lo, &ll);
    say("accept4 nothing yet", accept4(l, NULL, NULL, 0));
    int c = socket(AF_INET, SOCK_STREAM, 0);
    say("connect to it", connect(c, (struct sockaddr *)&lo, sizeof(lo)));
    printf("  listener poll: %s\n", pollbits(wait_for(l, POLLIN | POLLOUT)));
    struct sockaddr_in peer, mine;
    socklen_t pl = sizeof(peer), ml = sizeof(mine);
    int a = accept4(l, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    say("accept4(NONBLOCK|CLOEXEC)", a >= 0);
    say("  O_NONBLOCK", !!(fcntl(a, F_GETFL) & O_NONBLOCK));
    say("  FD_CLOEXEC", !!(fcntl(a, F_GETFD) & FD_CLOEXEC));
    getsockname(c, (struct sockaddr *)&mine, &ml);
    say("  peer is the client", pl == sizeof(peer) && peer.sin_port == mine.sin_port &&
                                    peer.sin_addr.s_addr == mine.sin_addr.s_addr);
    say("  client writes", send(c, "hi", 2, 0));
    char buf[4];
    say("  accepted reads", read_n(a, buf, 2));
    struct pollfd lp = {.fd = l, .events = POLLIN | POLLOUT};
    poll(&lp, 1, 0);
    printf("  listener poll after: %s\n", pollbits(lp.revents));
    int bad = socket(AF_INET, SOCK_STREAM, 0);
    say("bind the same address again", bind(bad, (struct sockaddr *)&lo, sizeof(lo)));
    close(bad);
    close(a);
    close(c);
    close(l);
}

/* An int option of fd, printed as "  NAME: VALUE" (or its error). */
static void show_int(int fd, int level, int name, const char *what)
{
    int v = -1;
    socklen_t l = sizeof(v);
    char line[96];
    snprintf(line, sizeof(line), "  %s", what);
    say(line, getsockopt(fd, level, name, &v, &l) < 0 ? -1 : v);
}

/* Linux copies the listener into each connection it accepts
 * (sk_clone_lock, tcp_create_openreq_child): the options set on the
 * listener are the accepted socket's. */
static void t_inherit(void)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1, v;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(l, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    v = 77;
    setsockopt(l, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v));
    v = 11;
    setsockopt(l, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v));
    v = 5;
    setsockopt(l, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v));
    setsockopt(l, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    v = 12345;
    setsockopt(l, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof(v));
    v = 4321;
    setsockopt(l, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof(v));
    setsockopt(l, IPPROTO_TCP, TCP_INQ, &one, sizeof(one));
    v = 65536;
    setsockopt(l, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
    v = 98304;
    setsockopt(l, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
    struct timeval tv = {1, 500000};
    setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    tv.tv_sec = 2;
    setsockopt(l, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct linger lg = {1, 7};
    setsockopt(l, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    v = 0x20;
    setsockopt(l, IPPROTO_IP, IP_TOS, &v, sizeof(v));
    v = 33;
    setsockopt(l, IPPROTO_IP, IP_TTL, &v, sizeof(v));
    setsockopt(l, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one));
    say("listener with options", bind(l, (struct sockaddr *)&lo, sizeof(lo)) == 0 && listen(l, 4) == 0);
    socklen_t ll = sizeof(lo);
    getsockname(l, (struct sockaddr *)&lo, &ll);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&lo, sizeof(lo));
    int a = accept(l, NULL, NULL);
    say("accepted", a >= 0);
    show_int(a, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE");
    show_int(a, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR");
    show_int(a, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE");
    show_int(a, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL");
    show_int(a, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT");
    show_int(a, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY");
    show_int(a, IPPROTO_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT");
    show_int(a, IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT");
    show_int(a, IPPROTO_TCP, TCP_INQ, "TCP_INQ");
    show_int(a, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF");
    show_int(a, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF");
    show_int(a, IPPROTO_IP, IP_TOS, "IP_TOS");
    show_int(a, IPPROTO_IP, IP_TTL, "IP_TTL");
    show_int(a, SOL_SOCKET, SO_TIMESTAMP, "SO_TIMESTAMP");
    socklen_t tl = sizeof(tv);
    getsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, &tl);
    printf("  SO_RCVTIMEO: %ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
    tl = sizeof(tv);
    getsockopt(a, SOL_SOCKET, SO_SNDTIMEO, &tv, &tl);
    printf("  SO_SNDTIMEO: %ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
    tl = sizeof(lg);
    getsockopt(a, SOL_SOCKET, SO_LINGER, &lg, &tl);
    printf("  SO_LINGER: %d %d\n", lg.l_onoff, lg.l_linger);
    /* They act, not only read back: the accepted socket's receive times
     * out after the inherited 1.5 s, and TCP_INQ's message comes. */
    char buf[8];
    say("  recv with nothing sent (times out)", recv(a, buf, sizeof(buf), 0));
    send(c, "xyz", 3, 0);
    wait_for(a, POLLIN);
    /* Its control messages: SO_TIMESTAMP's, then TCP_INQ's. */
    union {
        struct cmsghdr h;
        char b[256];
    } cm;
    struct iovec iov = {buf, sizeof(buf)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
                       .msg_controllen = sizeof(cm.b)};
    say("  recvmsg", recvmsg(a, &m, 0));
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
        int inq = -1;
        if (h->cmsg_level == IPPROTO_TCP && h->cmsg_type == TCP_CM_INQ)
            memcpy(&inq, CMSG_DATA(h), sizeof(inq));
        printf("    cmsg level %d type %d length %zu%s%d\n", h->cmsg_level, h->cmsg_type,
               (size_t)h->cmsg_len, inq >= 0 ? " inq " : " ", inq >= 0 ? inq : 0);
    }
    close(a);
    close(c);
    close(l);
}

/* Linux's tcpi_notsent_bytes (linux/tcp.h's struct tcp_info, past the end
 * of glibc's): bytes written that TCP has not sent. */
#define TCPI_NOTSENT_OFF 144
static long notsent(int s)
{
    uint8_t ti[232];
    socklen_t l = sizeof(ti);
    uint32_t v;
    if (getsockopt(s, IPPROTO_TCP, TCP_INFO, ti, &l) < 0 || l < TCPI_NOTSENT_OFF + 4)
        return -1;
    memcpy(&v, ti + TCPI_NOTSENT_OFF, sizeof(v));
    return v;
}

/* MSG_MORE (tcp_sendmsg, tcp_push): the bytes of a send with it wait
 * (unsent) for the next send without it, which sends both. (Segment by
 * segment: test_tcp_data's test_msg_more.) */
static void t_more(void)
{
    /* Nothing in flight first: the server's "hello" acknowledges the
     * command (else its ACK, coming after the send, would let Nagle send
     * the held bytes, on Linux as on netsock, but at a time that differs). */
    int s = conn('S', 0);
    char buf[8];
    say("hello read", read_n(s, buf, 5));
    say("send 3 with MSG_MORE", send(s, "abc", 3, MSG_MORE));
    say("  unsent", notsent(s));
    say("send 3 without", send(s, "def", 3, 0));
    say("  unsent", notsent(s));
    say("  echoed", read_n(s, buf, 6));
    printf("  data: %.6s\n", buf);
    say("send 3 with MSG_MORE again", send(s, "ghi", 3, MSG_MORE));
    say("  unsent", notsent(s));
    say("write 2 (no flags)", write(s, "jk", 2));
    say("  unsent", notsent(s));
    say("  echoed", read_n(s, buf, 5));
    /* A header with MSG_MORE, the body by sendfile: the end of a
     * sendfile pushes (Linux do_sendfile without SPLICE_F_MORE). */
    char path[] = "/tmp/run_fdsem_moreXXXXXX";
    int f = mkstemp(path);
    unlink(path);
    if (f < 0 || write(f, "body!", 5) != 5)
        die("temporary file");
    say("send 3 with MSG_MORE, then", send(s, "hdr", 3, MSG_MORE));
    off_t off = 0;
    say("  sendfile 5", sendfile(s, f, &off, 5));
    say("  unsent", notsent(s));
    say("  echoed", read_n(s, buf, 8));
    printf("  data: %.8s\n", buf);
    close(f);
    close(s);
}

static void t_fork(void)
{
    int s = conn('E', 0);
    pid_t p = fork();
    if (p == 0) {
        /* the child writes on the socket it inherited, and a new one */
        ssize_t r = send(s, "child", 5, 0);
        int t = conn('F', 0);
        char b[3];
        ssize_t k = read_n(t, b, 3);
        _exit(r == 5 && k == 3 && !memcmp(b, "bye", 3) ? 0 : 1);
    }
    int st;
    waitpid(p, &st, 0);
    say("fork: the child's exit status", WEXITSTATUS(st));
    char buf[8];
    say("  the parent reads what it sent", read_n(s, buf, 5));
    printf("  data: %.5s\n", buf);
    close(s);
}

/* recvmsg of one datagram: its length and the timestamp control message
 * that came with it ("SCM_TIMESTAMP near now", "SCM_TIMESTAMPNS near now",
 * "none"); near: within 10 s of the clock. */
static const char *recv_stamp(int u)
{
    static char out[64];
    char buf[64];
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(struct timespec)) + 64];
    } cm;
    struct iovec iov = {buf, sizeof(buf)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
                       .msg_controllen = sizeof(cm.b)};
    ssize_t r = recvmsg(u, &m, 0);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    const char *what = "none";
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET)
            continue;
        if (c->cmsg_type == SCM_TIMESTAMP) {
            struct timeval tv;
            memcpy(&tv, CMSG_DATA(c), sizeof(tv));
            what = labs(tv.tv_sec - now.tv_sec) <= 10 ? "SCM_TIMESTAMP near now" : "SCM_TIMESTAMP far";
        } else if (c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            what = labs(ts.tv_sec - now.tv_sec) <= 10 ? "SCM_TIMESTAMPNS near now" : "SCM_TIMESTAMPNS far";
        }
    }
    snprintf(out, sizeof(out), "%zd %s", r, what);
    return out;
}

static void t_udp(void)
{
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    say("UDP sendto", sendto(u, "dgram1", 6, 0, (struct sockaddr *)&srv, sizeof(srv)));
    printf("  poll: %s\n", pollbits(wait_for(u, POLLIN)));
    int q = -1;
    ioctl(u, FIONREAD, &q);
    say("  FIONREAD", q);
    char buf[64];
    struct sockaddr_in from;
    socklen_t fl = sizeof(from);
    say("  recvfrom", recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl));
    say("  from the server", fl == sizeof(from) && from.sin_port == srv.sin_port &&
                                 from.sin_addr.s_addr == srv.sin_addr.s_addr);
    sendto(u, "0123456789", 10, 0, (struct sockaddr *)&srv, sizeof(srv));
    wait_for(u, POLLIN);
    struct iovec iov = {buf, 4};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    say("  recvmsg into 4 bytes", recvmsg(u, &m, 0));
    say("  MSG_TRUNC", !!(m.msg_flags & MSG_TRUNC));
    sendto(u, "abcdef", 6, 0, (struct sockaddr *)&srv, sizeof(srv));
    wait_for(u, POLLIN);
    say("  recv MSG_TRUNC, 2 bytes", recv(u, buf, 2, MSG_TRUNC));
    say("send unconnected", send(u, "x", 1, 0));
    say("connect", connect(u, (struct sockaddr *)&srv, sizeof(srv)));
    say("  write", write(u, "conn", 4));
    wait_for(u, POLLIN);
    say("  read", read(u, buf, sizeof(buf)));
    /* SO_TIMESTAMP and SO_TIMESTAMPNS: one replaces the other, and each
     * datagram comes with the time (near now). */
    int on = 1;
    socklen_t ol = sizeof(on);
    say("SO_TIMESTAMP", setsockopt(u, SOL_SOCKET, SO_TIMESTAMP, &on, sizeof(on)));
    write(u, "ts", 2);
    wait_for(u, POLLIN);
    printf("  recvmsg: %s\n", recv_stamp(u));
    say("SO_TIMESTAMPNS", setsockopt(u, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)));
    getsockopt(u, SOL_SOCKET, SO_TIMESTAMP, &on, &ol);
    say("  SO_TIMESTAMP now", on);
    write(u, "ns", 2);
    wait_for(u, POLLIN);
    printf("  recvmsg: %s\n", recv_stamp(u));
    on = 0;
    setsockopt(u, SOL_SOCKET, SO_TIMESTAMP, &on, sizeof(on));
    ol = sizeof(on);
    getsockopt(u, SOL_SOCKET, SO_TIMESTAMPNS, &on, &ol);
    say("  SO_TIMESTAMP 0: SO_TIMESTAMPNS now", on);
    write(u, "no", 2);
    wait_for(u, POLLIN);
    printf("  recvmsg: %s\n", recv_stamp(u));
    close(u);
    u = socket(AF_INET, SOCK_DGRAM, 0);
    connect(u, (struct sockaddr *)&closed, sizeof(closed));
    say("UDP to a closed port: send", send(u, "x", 1, 0));
    /* Linux says POLLERR; netsock's pair can only say POLLIN (docs/run.md). */
    say("  poll: readable or error", (wait_for(u, POLLIN) & (POLLIN | POLLERR)) != 0);
    say("  recv", recv(u, buf, sizeof(buf), 0));
    close(u);
}

static void t_passthrough(void)
{
    /* AF_UNIX and AF_NETLINK stay the kernel's. */
    int sv[2];
    say("socketpair(AF_UNIX)", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    say("  write", write(sv[0], "unix", 4));
    char buf[8192];
    say("  read", read(sv[1], buf, sizeof(buf)));
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "run_fdsem.%ld", (long)getpid());
    socklen_t ul = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(un.sun_path + 1));
    int ul_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    say("AF_UNIX bind (abstract)", bind(ul_fd, (struct sockaddr *)&un, ul));
    say("  listen", listen(ul_fd, 1));
    int uc = socket(AF_UNIX, SOCK_STREAM, 0);
    say("  connect", connect(uc, (struct sockaddr *)&un, ul));
    int ua = accept(ul_fd, NULL, NULL);
    say("  accept", ua >= 0);
    struct sockaddr_un got;
    socklen_t gl = sizeof(got);
    getsockname(ul_fd, (struct sockaddr *)&got, &gl);
    say("  getsockname is the same name", gl == ul && !memcmp(got.sun_path, un.sun_path, ul - offsetof(struct sockaddr_un, sun_path)));
    /* A netsock socket and an AF_UNIX one in one poll. */
    int s = conn('E', 0);
    send(s, "x", 1, 0);
    write(uc, "y", 1);
    struct pollfd p[2] = {{.fd = s, .events = POLLIN}, {.fd = ua, .events = POLLIN}};
    msleep(50);
    say("poll a netsock socket and an AF_UNIX one", poll(p, 2, 5000));
    printf("  %s / %s\n", pollbits(p[0].revents), pollbits(p[1].revents));
    close(s);
    close(ua);
    close(uc);
    close(ul_fd);
    close(sv[0]);
    close(sv[1]);

    int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    say("socket(AF_NETLINK, NETLINK_ROUTE)", nl >= 0);
    struct sockaddr_nl snl = {.nl_family = AF_NETLINK};
    say("  bind", bind(nl, (struct sockaddr *)&snl, sizeof(snl)));
    socklen_t nll = sizeof(snl);
    getsockname(nl, (struct sockaddr *)&snl, &nll);
    say("  getsockname: family", snl.nl_family);
    struct {
        struct nlmsghdr h;
        struct rtgenmsg g;
    } req = {.h = {.nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
                   .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1},
             .g = {.rtgen_family = AF_UNSPEC}};
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    say("  RTM_GETLINK sent", sendto(nl, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) ==
                                 (ssize_t)sizeof(req));
    ssize_t n = recv(nl, buf, sizeof(buf), 0);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    say("  the kernel answers with RTM_NEWLINK", n >= (ssize_t)sizeof(*h) && h->nlmsg_type == RTM_NEWLINK &&
                                                   h->nlmsg_seq == 1);
    close(nl);
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "server"))
        return server(argv[2], atoi(argv[3]));
    if (argc < 5 || strcmp(argv[1], "client")) {
        fprintf(stderr, "usage: run_fdsem server ADDR PORT | client ADDR PORT CLOSED_PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    srv = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3]))};
    inet_pton(AF_INET, argv[2], &srv.sin_addr);
    closed = srv;
    closed.sin_port = htons((uint16_t)atoi(argv[4]));
    const char *only = getenv("RUN_FDSEM_ONLY");
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {{"socket", t_socket},   {"connect", t_connect}, {"dup", t_dup},
                 {"mix", t_mix},         {"threads", t_threads}, {"signals", t_signals},
                 {"data", t_data},       {"reset", t_reset},     {"options", t_options},
                 {"listen", t_listen},   {"inherit", t_inherit}, {"more", t_more},
                 {"fork", t_fork},       {"udp", t_udp},
                 {"passthrough", t_passthrough}};
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (only && strcmp(only, tests[i].name))
            continue;
        printf("== %s\n", tests[i].name);
        tests[i].fn();
    }
    return 0;
}
