/* tests/unit/test_threads.c — a stack shared between threads
 * (docs/architecture.md "Threads"): a loopback stack on an ns_loop whose
 * ns_loop_run runs on a thread of its own, used from several others.
 *
 * - echo: an epoll echo server thread (ns_epoll_wait blocking) and four
 *   clients pushing 4 MiB each way, verified byte for byte: two clients
 *   with a writer thread and a reader thread on the same socket (blocking
 *   ns_send and ns_recv asleep at once), two on one thread each with
 *   non-blocking sockets and a blocking ns_poll;
 * - what wakes a call blocked in another thread, and what does not, each
 *   sequence run once on the kernel's sockets and once on netsock's with
 *   the same code (struct api), and the results compared: shutdown
 *   (SHUT_RD, SHUT_RDWR) wakes a blocked recv with 0 (on an unconnected
 *   UDP socket too, though shutdown itself says ENOTCONN), SHUT_WR a
 *   send blocked on full buffers (it returns what it queued); close does not wake
 *   it (the data sent afterwards is what it returns, and the socket is
 *   closed only when it returns: the peer sees the FIN then); close of a
 *   listener does not wake a blocked accept, which takes the next
 *   connection; shutdown of a listener wakes it with EINVAL; close of an
 *   epoll set does not wake its ns_epoll_wait; of two threads in
 *   epoll_wait on one set, one event wakes one (edge-triggered), or both
 *   (level-triggered: the first one's wait wakes the next);
 * - ns_loop_stop wakes a sleeping call with EINTR; a call's timeout
 *   (SO_RCVTIMEO) passes while it sleeps.
 *
 * Built and run under ThreadSanitizer too (make test: build-tsan/), where
 * a data race fails the run. No timing decides a result: a call is known
 * to be blocked (asleep in the stack, or in the kernel's wait) before the
 * other thread acts. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "netsock/epoll.h"
#include "netsock/os.h"
#include "netsock/socket.h"
#include "socket/fdtable.h"

/* ---- a stack on a loop thread --------------------------------------------------- */

struct world {
    struct ns_stack *st;
    struct ns_loop *loop;
    pthread_t thread;
};

static void *loop_main(void *arg)
{
    struct world *w = arg;
    ns_loop_run(w->loop);
    return NULL;
}

static void world_start(struct world *w)
{
    w->st = ns_stack_new(NULL, ns_clock_now_us());
    assert_non_null(w->st);
    w->loop = ns_loop_new();
    assert_non_null(w->loop);
    assert_int_equal(ns_loop_add(w->loop, w->st), 0);
    assert_int_equal(pthread_create(&w->thread, NULL, loop_main, w), 0);
}

static void world_stop(struct world *w)
{
    ns_loop_stop(w->loop);
    assert_int_equal(pthread_join(w->thread, NULL), 0);
    ns_stack_free(w->st);
    ns_loop_free(w->loop);
}

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* ---- echo: epoll server, four clients -------------------------------------------- */

#define ECHO_PORT 7007
#define ECHO_CLIENTS 4
#define ECHO_BYTES (4u << 20)
#define CHUNK 16384

/* The byte at offset i of client c's stream. */
static uint8_t pattern(int c, size_t i)
{
    uint32_t x = (uint32_t)(i * 2654435761u) ^ (uint32_t)(c * 40503u + 17u);
    return (uint8_t)(x >> 13);
}

struct conn {
    int fd;
    uint8_t buf[CHUNK];
    size_t len, off; /* bytes read and not yet echoed: buf[off..len) */
    bool eof;
};

struct server {
    struct ns_stack *st;
    int lfd, ep;
    atomic_int finished; /* connections that ended */
};

static void *server_main(void *arg)
{
    struct server *sv = arg;
    struct ns_stack *st = sv->st;
    struct conn *conns[64] = {0};
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = sv->lfd};
    assert_int_equal(ns_epoll_ctl(st, sv->ep, EPOLL_CTL_ADD, sv->lfd, &ev), 0);
    while (atomic_load(&sv->finished) < ECHO_CLIENTS) {
        struct epoll_event evs[8];
        int n = ns_epoll_wait(st, sv->ep, evs, 8, -1);
        assert_true(n > 0);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == sv->lfd) {
                int c;
                while ((c = ns_accept4(st, sv->lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    assert_true(c < 64);
                    conns[c] = calloc(1, sizeof(struct conn));
                    conns[c]->fd = c;
                    struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.fd = c};
                    assert_int_equal(ns_epoll_ctl(st, sv->ep, EPOLL_CTL_ADD, c, &e), 0);
                }
                assert_int_equal(errno, EAGAIN);
                continue;
            }
            /* Edge-triggered: move bytes until both directions say EAGAIN. */
            struct conn *k = conns[fd];
            for (;;) {
                if (k->off < k->len) {
                    ssize_t w = ns_send(st, fd, k->buf + k->off, k->len - k->off, 0);
                    if (w < 0) {
                        assert_int_equal(errno, EAGAIN);
                        break;
                    }
                    k->off += (size_t)w;
                    continue;
                }
                if (k->eof)
                    break;
                ssize_t r = ns_recv(st, fd, k->buf, sizeof(k->buf), 0);
                if (r < 0) {
                    assert_int_equal(errno, EAGAIN);
                    break;
                }
                k->len = (size_t)r;
                k->off = 0;
                if (r == 0) {
                    k->eof = true;
                    break;
                }
            }
            if (k->eof && k->off == k->len) {
                assert_int_equal(ns_close(st, fd), 0); /* leaves every set */
                free(k);
                conns[fd] = NULL;
                atomic_fetch_add(&sv->finished, 1);
            }
        }
    }
    return NULL;
}

struct client {
    struct ns_stack *st;
    int id, fd;
    bool failed;
};

static int client_connect(struct ns_stack *st, bool nonblock)
{
    int fd = ns_socket(st, AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = loopback(ECHO_PORT);
    assert_int_equal(ns_connect(st, fd, (struct sockaddr *)&a, sizeof(a)), 0); /* blocking */
    if (nonblock)
        assert_int_equal(ns_fcntl(st, fd, F_SETFL, O_NONBLOCK), 0);
    return fd;
}

static void *writer_main(void *arg)
{
    struct client *c = arg;
    uint8_t buf[CHUNK];
    for (size_t off = 0; off < ECHO_BYTES;) {
        size_t n = ECHO_BYTES - off < sizeof(buf) ? ECHO_BYTES - off : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(c->id, off + i);
        ssize_t w = ns_send(c->st, c->fd, buf, n, 0); /* blocking: every byte */
        if (w != (ssize_t)n) {
            c->failed = true;
            return NULL;
        }
        off += n;
    }
    if (ns_shutdown(c->st, c->fd, SHUT_WR) != 0)
        c->failed = true;
    return NULL;
}

/* Read the echo to its end; false on a wrong byte or a short stream. */
static bool read_echo(struct client *c, size_t *got)
{
    uint8_t buf[CHUNK];
    for (;;) {
        ssize_t r = ns_recv(c->st, c->fd, buf, sizeof(buf), 0);
        if (r < 0 && errno == EAGAIN)
            return true; /* non-blocking: come back */
        if (r <= 0)
            return r == 0 && *got == ECHO_BYTES;
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern(c->id, *got + (size_t)i))
                return false;
        *got += (size_t)r;
    }
}

/* A writer thread and this one, both blocking on one socket. */
static void *client_blocking_main(void *arg)
{
    struct client *c = arg;
    c->fd = client_connect(c->st, false);
    pthread_t wt;
    assert_int_equal(pthread_create(&wt, NULL, writer_main, c), 0);
    size_t got = 0;
    bool ok = read_echo(c, &got);
    pthread_join(wt, NULL);
    if (!ok || got != ECHO_BYTES)
        c->failed = true;
    ns_close(c->st, c->fd);
    return NULL;
}

/* One thread, a non-blocking socket and a blocking ns_poll. */
static void *client_poll_main(void *arg)
{
    struct client *c = arg;
    c->fd = client_connect(c->st, true);
    size_t sent = 0, got = 0;
    bool shut = false;
    uint8_t buf[CHUNK];
    for (;;) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN | (shut ? 0 : POLLOUT)};
        int n = ns_poll(c->st, &p, 1, -1);
        if (n != 1) {
            c->failed = true;
            break;
        }
        if ((p.revents & POLLOUT) && !shut) {
            size_t k = ECHO_BYTES - sent < sizeof(buf) ? ECHO_BYTES - sent : sizeof(buf);
            for (size_t i = 0; i < k; i++)
                buf[i] = pattern(c->id, sent + i);
            ssize_t w = ns_send(c->st, c->fd, buf, k, 0);
            if (w > 0)
                sent += (size_t)w;
            else if (errno != EAGAIN)
                c->failed = true;
            if (sent == ECHO_BYTES) {
                ns_shutdown(c->st, c->fd, SHUT_WR);
                shut = true;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            size_t before = got;
            if (!read_echo(c, &got)) {
                c->failed = true;
                break;
            }
            if (got == before && got == ECHO_BYTES)
                break; /* read_echo returned at the end of the stream */
            if (got == ECHO_BYTES && shut) {
                /* The end of the stream may be next: look once more. */
                ssize_t r = ns_recv(c->st, c->fd, buf, 1, 0);
                if (r == 0)
                    break;
                if (r > 0 || errno != EAGAIN) {
                    c->failed = true;
                    break;
                }
            }
        }
    }
    if (got != ECHO_BYTES)
        c->failed = true;
    ns_close(c->st, c->fd);
    return NULL;
}

static void test_echo(void **state)
{
    (void)state;
    struct world w;
    world_start(&w);
    struct server sv = {.st = w.st};
    sv.lfd = ns_socket(w.st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = loopback(ECHO_PORT);
    assert_int_equal(ns_bind(w.st, sv.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(ns_listen(w.st, sv.lfd, 16), 0);
    sv.ep = ns_epoll_create1(w.st, 0);
    assert_true(sv.ep >= 0);
    pthread_t server;
    assert_int_equal(pthread_create(&server, NULL, server_main, &sv), 0);

    struct client cl[ECHO_CLIENTS];
    pthread_t ct[ECHO_CLIENTS];
    for (int i = 0; i < ECHO_CLIENTS; i++) {
        cl[i] = (struct client){.st = w.st, .id = i};
        assert_int_equal(pthread_create(&ct[i], NULL,
                                        i < 2 ? client_blocking_main : client_poll_main, &cl[i]),
                         0);
    }
    for (int i = 0; i < ECHO_CLIENTS; i++) {
        pthread_join(ct[i], NULL);
        if (cl[i].failed)
            fail_msg("client %d: the echo was not the %u bytes sent", i, ECHO_BYTES);
    }
    pthread_join(server, NULL);
    assert_int_equal(ns_close(w.st, sv.ep), 0);
    assert_int_equal(ns_close(w.st, sv.lfd), 0);
    world_stop(&w);
}

/* ---- the same sequences on the kernel's sockets and on netsock's ------------------ */

/* The calls a sequence makes, on one side or the other. */
struct api {
    const char *name;
    struct world *w; /* netsock's side, NULL for the kernel */
    int (*socket)(struct api *, int, int, int);
    int (*bind)(struct api *, int, const struct sockaddr *, socklen_t);
    int (*listen)(struct api *, int, int);
    int (*connect)(struct api *, int, const struct sockaddr *, socklen_t);
    int (*accept)(struct api *, int);
    ssize_t (*send)(struct api *, int, const void *, size_t);
    ssize_t (*recv)(struct api *, int, void *, size_t);
    int (*shutdown)(struct api *, int, int);
    int (*close)(struct api *, int);
    int (*getsockname)(struct api *, int, struct sockaddr *, socklen_t *);
    int (*epoll_create)(struct api *);
    int (*epoll_ctl)(struct api *, int, int, int, struct epoll_event *);
    int (*epoll_wait)(struct api *, int, struct epoll_event *, int, int);
};

static int k_socket(struct api *a, int d, int t, int p) { (void)a; return socket(d, t, p); }
static int k_bind(struct api *a, int fd, const struct sockaddr *s, socklen_t l) { (void)a; return bind(fd, s, l); }
static int k_listen(struct api *a, int fd, int b) { (void)a; return listen(fd, b); }
static int k_connect(struct api *a, int fd, const struct sockaddr *s, socklen_t l) { (void)a; return connect(fd, s, l); }
static int k_accept(struct api *a, int fd) { (void)a; return accept(fd, NULL, NULL); }
static ssize_t k_send(struct api *a, int fd, const void *b, size_t n) { (void)a; return send(fd, b, n, MSG_NOSIGNAL); }
static ssize_t k_recv(struct api *a, int fd, void *b, size_t n) { (void)a; return recv(fd, b, n, 0); }
static int k_shutdown(struct api *a, int fd, int h) { (void)a; return shutdown(fd, h); }
static int k_close(struct api *a, int fd) { (void)a; return close(fd); }
static int k_getsockname(struct api *a, int fd, struct sockaddr *s, socklen_t *l) { (void)a; return getsockname(fd, s, l); }
static int k_epoll_create(struct api *a) { (void)a; return epoll_create1(0); }
static int k_epoll_ctl(struct api *a, int ep, int op, int fd, struct epoll_event *e) { (void)a; return epoll_ctl(ep, op, fd, e); }
static int k_epoll_wait(struct api *a, int ep, struct epoll_event *e, int n, int t) { (void)a; return epoll_wait(ep, e, n, t); }

static int n_socket(struct api *a, int d, int t, int p) { return ns_socket(a->w->st, d, t, p); }
static int n_bind(struct api *a, int fd, const struct sockaddr *s, socklen_t l) { return ns_bind(a->w->st, fd, s, l); }
static int n_listen(struct api *a, int fd, int b) { return ns_listen(a->w->st, fd, b); }
static int n_connect(struct api *a, int fd, const struct sockaddr *s, socklen_t l) { return ns_connect(a->w->st, fd, s, l); }
static int n_accept(struct api *a, int fd) { return ns_accept(a->w->st, fd, NULL, NULL); }
static ssize_t n_send(struct api *a, int fd, const void *b, size_t n) { return ns_send(a->w->st, fd, b, n, 0); }
static ssize_t n_recv(struct api *a, int fd, void *b, size_t n) { return ns_recv(a->w->st, fd, b, n, 0); }
static int n_shutdown(struct api *a, int fd, int h) { return ns_shutdown(a->w->st, fd, h); }
static int n_close(struct api *a, int fd) { return ns_close(a->w->st, fd); }
static int n_getsockname(struct api *a, int fd, struct sockaddr *s, socklen_t *l) { return ns_getsockname(a->w->st, fd, s, l); }
static int n_epoll_create(struct api *a) { return ns_epoll_create1(a->w->st, 0); }
static int n_epoll_ctl(struct api *a, int ep, int op, int fd, struct epoll_event *e) { return ns_epoll_ctl(a->w->st, ep, op, fd, e); }
static int n_epoll_wait(struct api *a, int ep, struct epoll_event *e, int n, int t) { return ns_epoll_wait(a->w->st, ep, e, n, t); }

static const struct api kernel_api = {
    "kernel", NULL, k_socket, k_bind, k_listen, k_connect, k_accept, k_send, k_recv,
    k_shutdown, k_close, k_getsockname, k_epoll_create, k_epoll_ctl, k_epoll_wait,
};
static const struct api netsock_api = {
    "netsock", NULL, n_socket, n_bind, n_listen, n_connect, n_accept, n_send, n_recv,
    n_shutdown, n_close, n_getsockname, n_epoll_create, n_epoll_ctl, n_epoll_wait,
};

/* A blocking call on a thread of its own. */
enum call_kind { CALL_RECV, CALL_ACCEPT, CALL_EPOLL_WAIT, CALL_SEND_BIG };
struct call {
    struct api *api;
    enum call_kind kind;
    int fd;
    atomic_int tid; /* the thread's id, once it runs */
    atomic_bool done;
    long rc;
    int err;
    char data[8];
    pthread_t thread;
};

static void *call_main(void *arg)
{
    struct call *c = arg;
    atomic_store(&c->tid, (int)syscall(SYS_gettid));
    struct epoll_event ev;
    switch (c->kind) {
    case CALL_RECV:
        c->rc = c->api->recv(c->api, c->fd, c->data, sizeof(c->data));
        break;
    case CALL_ACCEPT:
        c->rc = c->api->accept(c->api, c->fd);
        break;
    case CALL_SEND_BIG: {
        /* More than both buffers hold: blocks once they are full. */
        static char big[8 << 20];
        c->rc = c->api->send(c->api, c->fd, big, sizeof(big));
        break;
    }
    case CALL_EPOLL_WAIT:
        c->rc = c->api->epoll_wait(c->api, c->fd, &ev, 1, -1);
        if (c->rc == 1)
            c->data[0] = (char)ev.data.fd;
        break;
    }
    c->err = c->rc < 0 ? errno : 0;
    atomic_store(&c->done, true);
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Is the kernel thread `tid` asleep in the network stack (not on a
 * futex, not running)? */
static bool kernel_blocked(int tid)
{
    char path[64], buf[64] = {0};
    snprintf(path, sizeof(path), "/proc/self/task/%d/wchan", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return n > 0 && strcmp(buf, "0") != 0 && !strstr(buf, "futex") && !strstr(buf, "nanosleep");
}

/* How many calls sleep in netsock's stack (fd_park). */
static int netsock_parked(struct world *w)
{
    int n = 0;
    fd_lock(w->st);
    for (struct ns_dlink *l = w->st->fds->parked.head; l; l = l->next)
        n++;
    fd_unlock(w->st);
    return n;
}

/* Start the call and return once it is blocked. */
static void call_start(struct call *c, struct api *api, enum call_kind kind, int fd)
{
    *c = (struct call){.api = api, .kind = kind, .fd = fd};
    int parked = api->w ? netsock_parked(api->w) : 0;
    assert_int_equal(pthread_create(&c->thread, NULL, call_main, c), 0);
    for (int i = 0; i < 10000; i++) {
        if (atomic_load(&c->done))
            fail_msg("%s: the call returned %ld (errno %d) instead of blocking", api->name,
                     c->rc, c->err);
        int tid = atomic_load(&c->tid);
        if (tid && (api->w ? netsock_parked(api->w) > parked : kernel_blocked(tid)))
            return;
        sleep_ms(1);
    }
    fail_msg("%s: the call did not block", api->name);
}

/* Wait for the call to return (it must: the other thread woke it). */
static void call_join(struct call *c)
{
    assert_int_equal(pthread_join(c->thread, NULL), 0);
}

/* Is it still blocked after the other thread acted? It is known asleep
 * again (or never woken) once it sleeps there after a pause. */
static bool call_still_blocked(struct call *c)
{
    sleep_ms(20);
    if (atomic_load(&c->done))
        return false;
    if (c->api->w)
        return netsock_parked(c->api->w) > 0;
    return kernel_blocked(atomic_load(&c->tid));
}

static uint16_t port_of(struct api *a, int fd)
{
    struct sockaddr_in s;
    socklen_t l = sizeof(s);
    assert_int_equal(a->getsockname(a, fd, (struct sockaddr *)&s, &l), 0);
    return ntohs(s.sin_port);
}

/* A listener on 127.0.0.1 (any port) and a connection to it: *l, *c, *s. */
static void tcp_pair(struct api *a, int *l, int *c, int *s)
{
    *l = a->socket(a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = loopback(0);
    assert_int_equal(a->bind(a, *l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(a->listen(a, *l, 8), 0);
    sa.sin_port = htons(port_of(a, *l));
    *c = a->socket(a, AF_INET, SOCK_STREAM, 0);
    assert_int_equal(a->connect(a, *c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    *s = a->accept(a, *l);
    assert_true(*s >= 0);
}

/* What a sequence saw: compared between the two sides. */
struct seen {
    char line[256];
};

__attribute__((format(printf, 2, 3))) static void seen_add(struct seen *s, const char *fmt, ...)
{
    size_t n = strlen(s->line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->line + n, sizeof(s->line) - n, fmt, ap);
    va_end(ap);
}

/* recv blocked on c; shutdown(c, how) from this thread. */
static void seq_shutdown_recv(struct api *a, struct seen *out, int how)
{
    int l, c, s;
    tcp_pair(a, &l, &c, &s);
    struct call k;
    call_start(&k, a, CALL_RECV, c);
    seen_add(out, "shutdown %d ", a->shutdown(a, c, how));
    call_join(&k);
    seen_add(out, "recv %ld errno %d", k.rc, k.err);
    a->close(a, c);
    a->close(a, s);
    a->close(a, l);
}

static void seq_shutdown_rd(struct api *a, struct seen *out) { seq_shutdown_recv(a, out, SHUT_RD); }
static void seq_shutdown_rdwr(struct api *a, struct seen *out) { seq_shutdown_recv(a, out, SHUT_RDWR); }
static void seq_shutdown_wr(struct api *a, struct seen *out)
{
    /* SHUT_WR does not end the receive: it goes on until data comes. */
    int l, c, s;
    tcp_pair(a, &l, &c, &s);
    struct call k;
    call_start(&k, a, CALL_RECV, c);
    seen_add(out, "shutdown %d ", a->shutdown(a, c, SHUT_WR));
    seen_add(out, "blocked %d ", call_still_blocked(&k));
    seen_add(out, "send %zd ", a->send(a, s, "y", 1));
    call_join(&k);
    seen_add(out, "recv %ld '%c'", k.rc, k.data[0]);
    a->close(a, c);
    a->close(a, s);
    a->close(a, l);
}

/* recv blocked on c; close(c) from this thread; then the peer sends. */
static void seq_close_recv(struct api *a, struct seen *out)
{
    int l, c, s;
    tcp_pair(a, &l, &c, &s);
    struct call k;
    call_start(&k, a, CALL_RECV, c);
    seen_add(out, "close %d ", a->close(a, c));
    seen_add(out, "blocked %d ", call_still_blocked(&k));
    seen_add(out, "send %zd ", a->send(a, s, "x", 1));
    call_join(&k);
    seen_add(out, "recv %ld '%c' ", k.rc, k.data[0]);
    /* Closed once the receive returned: the peer reads the end. */
    char b[4];
    seen_add(out, "peer recv %zd", a->recv(a, s, b, sizeof(b)));
    a->close(a, s);
    a->close(a, l);
}

/* accept blocked on l; close(l); a connection comes; then another. */
static void seq_close_accept(struct api *a, struct seen *out)
{
    int l = a->socket(a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = loopback(0);
    assert_int_equal(a->bind(a, l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(a->listen(a, l, 8), 0);
    sa.sin_port = htons(port_of(a, l));
    struct call k;
    call_start(&k, a, CALL_ACCEPT, l);
    seen_add(out, "close %d ", a->close(a, l));
    seen_add(out, "blocked %d ", call_still_blocked(&k));
    int c = a->socket(a, AF_INET, SOCK_STREAM, 0);
    seen_add(out, "connect %d ", a->connect(a, c, (struct sockaddr *)&sa, sizeof(sa)));
    call_join(&k);
    seen_add(out, "accept ok %d errno %d ", k.rc >= 0, k.err);
    int c2 = a->socket(a, AF_INET, SOCK_STREAM, 0);
    int rc = a->connect(a, c2, (struct sockaddr *)&sa, sizeof(sa));
    seen_add(out, "connect again %d errno %d", rc, rc < 0 ? errno : 0);
    if (k.rc >= 0)
        a->close(a, (int)k.rc);
    a->close(a, c);
    a->close(a, c2);
}

/* accept blocked on l; shutdown(l, SHUT_RD). */
static void seq_shutdown_accept(struct api *a, struct seen *out)
{
    int l = a->socket(a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = loopback(0);
    assert_int_equal(a->bind(a, l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(a->listen(a, l, 8), 0);
    struct call k;
    call_start(&k, a, CALL_ACCEPT, l);
    seen_add(out, "shutdown %d ", a->shutdown(a, l, SHUT_RD));
    call_join(&k);
    seen_add(out, "accept %ld errno %d", k.rc, k.err);
    a->close(a, l);
}

/* epoll_wait blocked on ep (holding s's peer c); close(ep); c readable. */
static void seq_close_epoll(struct api *a, struct seen *out)
{
    int l, c, s;
    tcp_pair(a, &l, &c, &s);
    int ep = a->epoll_create(a);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = 42};
    assert_int_equal(a->epoll_ctl(a, ep, EPOLL_CTL_ADD, c, &ev), 0);
    struct call k;
    call_start(&k, a, CALL_EPOLL_WAIT, ep);
    seen_add(out, "close %d ", a->close(a, ep));
    seen_add(out, "blocked %d ", call_still_blocked(&k));
    seen_add(out, "send %zd ", a->send(a, s, "z", 1));
    call_join(&k);
    seen_add(out, "epoll_wait %ld data %d", k.rc, (int)k.data[0]);
    a->close(a, c);
    a->close(a, s);
    a->close(a, l);
}

/* How many of the calls have returned, once one has (and a pause for
 * any other the same change wakes). */
static int calls_returned(struct call *k, int n)
{
    for (int i = 0; i < 10000; i++) {
        int done = 0;
        for (int j = 0; j < n; j++)
            done += atomic_load(&k[j].done);
        if (done)
            break;
        sleep_ms(1);
    }
    sleep_ms(20);
    int done = 0;
    for (int j = 0; j < n; j++)
        done += atomic_load(&k[j].done);
    return done;
}

/* Two threads in epoll_wait on one set; one byte arrives. Edge-triggered:
 * one of them returns (epoll_wait waits exclusively), the other with the
 * next byte. Level-triggered: the event stays, and the first one's wait
 * wakes the second (Linux ep_done_scan). */
static void seq_epoll_two_waiters(struct api *a, struct seen *out, uint32_t et)
{
    int l, c, s;
    tcp_pair(a, &l, &c, &s);
    int ep = a->epoll_create(a);
    struct epoll_event ev = {.events = EPOLLIN | et, .data.fd = 7};
    assert_int_equal(a->epoll_ctl(a, ep, EPOLL_CTL_ADD, c, &ev), 0);
    struct call k[2];
    call_start(&k[0], a, CALL_EPOLL_WAIT, ep);
    call_start(&k[1], a, CALL_EPOLL_WAIT, ep);
    seen_add(out, "send %zd ", a->send(a, s, "1", 1));
    seen_add(out, "returned %d ", calls_returned(k, 2));
    if (!(atomic_load(&k[0].done) && atomic_load(&k[1].done)))
        seen_add(out, "send %zd ", a->send(a, s, "2", 1));
    for (int i = 0; i < 2; i++) {
        call_join(&k[i]);
        seen_add(out, "wait %ld data %d ", k[i].rc, (int)k[i].data[0]);
    }
    a->close(a, ep);
    a->close(a, c);
    a->close(a, s);
    a->close(a, l);
}

static void seq_epoll_two_et(struct api *a, struct seen *out) { seq_epoll_two_waiters(a, out, EPOLLET); }
static void seq_epoll_two_lt(struct api *a, struct seen *out) { seq_epoll_two_waiters(a, out, 0); }

/* UDP: recv blocked on an unconnected socket; shutdown(SHUT_RD) says
 * ENOTCONN but sets the shutdown and wakes the receive, which returns 0
 * (Linux inet_shutdown: "wake up other listeners, even on unconnected
 * UDP sockets"). */
static void seq_udp_shutdown(struct api *a, struct seen *out)
{
    int u = a->socket(a, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = loopback(0);
    assert_int_equal(a->bind(a, u, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct call k;
    call_start(&k, a, CALL_RECV, u);
    int rc = a->shutdown(a, u, SHUT_RD);
    seen_add(out, "shutdown %d errno %d ", rc, rc < 0 ? errno : 0);
    call_join(&k);
    seen_add(out, "recv %ld errno %d", k.rc, k.err);
    a->close(a, u);
}

/* A send blocked on full buffers (the peer reads nothing); shutdown(SHUT_WR)
 * from another thread: the send returns what it had queued. */
static void seq_shutdown_send(struct api *a, struct seen *out)
{
    int l, c, s;
    tcp_pair(a, &l, &c, &s);
    struct call k;
    call_start(&k, a, CALL_SEND_BIG, c);
    seen_add(out, "shutdown %d ", a->shutdown(a, c, SHUT_WR));
    call_join(&k);
    seen_add(out, "send queued some %d errno %d ", k.rc > 0, k.err);
    char b[4];
    seen_add(out, "send again %zd ", a->send(a, c, b, 1));
    seen_add(out, "errno %d", errno);
    a->close(a, c);
    a->close(a, s);
    a->close(a, l);
}

static void run_both(void (*seq)(struct api *, struct seen *), const char *name)
{
    struct seen ks = {{0}}, ns = {{0}};
    struct api k = kernel_api, n = netsock_api;
    seq(&k, &ks);
    struct world w;
    world_start(&w);
    n.w = &w;
    seq(&n, &ns);
    world_stop(&w);
    if (strcmp(ks.line, ns.line) != 0)
        fail_msg("%s:\n  kernel:  %s\n  netsock: %s", name, ks.line, ns.line);
    printf("%-16s %s\n", name, ns.line);
}

static void test_shutdown_rd_wakes_recv(void **state) { (void)state; run_both(seq_shutdown_rd, "shutdown RD"); }
static void test_shutdown_rdwr_wakes_recv(void **state) { (void)state; run_both(seq_shutdown_rdwr, "shutdown RDWR"); }
static void test_shutdown_wr_keeps_recv(void **state) { (void)state; run_both(seq_shutdown_wr, "shutdown WR"); }
static void test_close_keeps_recv(void **state) { (void)state; run_both(seq_close_recv, "close recv"); }
static void test_close_keeps_accept(void **state) { (void)state; run_both(seq_close_accept, "close accept"); }
static void test_shutdown_wakes_accept(void **state) { (void)state; run_both(seq_shutdown_accept, "shutdown accept"); }
static void test_close_keeps_epoll_wait(void **state) { (void)state; run_both(seq_close_epoll, "close epoll"); }
static void test_udp_shutdown_wakes_recv(void **state) { (void)state; run_both(seq_udp_shutdown, "udp shutdown"); }
static void test_shutdown_wakes_send(void **state) { (void)state; run_both(seq_shutdown_send, "shutdown send"); }
static void test_epoll_two_waiters_et(void **state) { (void)state; run_both(seq_epoll_two_et, "epoll 2 ET"); }
static void test_epoll_two_waiters_lt(void **state) { (void)state; run_both(seq_epoll_two_lt, "epoll 2 LT"); }

/* ---- the loop's side ------------------------------------------------------------------ */

/* ns_loop_stop wakes a call asleep on another thread: EINTR. */
static void test_stop_wakes(void **state)
{
    (void)state;
    struct world w;
    world_start(&w);
    struct api n = netsock_api;
    n.w = &w;
    int l, c, s;
    tcp_pair(&n, &l, &c, &s);
    struct call k;
    call_start(&k, &n, CALL_RECV, c);
    ns_loop_stop(w.loop);
    call_join(&k);
    assert_int_equal(k.rc, -1);
    assert_int_equal(k.err, EINTR);
    assert_int_equal(pthread_join(w.thread, NULL), 0);
    ns_stack_free(w.st);
    ns_loop_free(w.loop);
}

/* SO_RCVTIMEO passes while the call sleeps (the loop has nothing to do). */
static void test_timeout_while_asleep(void **state)
{
    (void)state;
    struct world w;
    world_start(&w);
    struct api n = netsock_api;
    n.w = &w;
    int l, c, s;
    tcp_pair(&n, &l, &c, &s);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 30000};
    assert_int_equal(ns_setsockopt(w.st, c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    struct call k = {.api = &n, .kind = CALL_RECV, .fd = c};
    assert_int_equal(pthread_create(&k.thread, NULL, call_main, &k), 0);
    call_join(&k);
    assert_int_equal(k.rc, -1);
    assert_int_equal(k.err, EAGAIN);
    ns_close(w.st, c);
    ns_close(w.st, s);
    ns_close(w.st, l);
    world_stop(&w);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_shutdown_rd_wakes_recv),
        cmocka_unit_test(test_shutdown_rdwr_wakes_recv),
        cmocka_unit_test(test_shutdown_wr_keeps_recv),
        cmocka_unit_test(test_close_keeps_recv),
        cmocka_unit_test(test_close_keeps_accept),
        cmocka_unit_test(test_shutdown_wakes_accept),
        cmocka_unit_test(test_close_keeps_epoll_wait),
        cmocka_unit_test(test_udp_shutdown_wakes_recv),
        cmocka_unit_test(test_shutdown_wakes_send),
        cmocka_unit_test(test_epoll_two_waiters_et),
        cmocka_unit_test(test_epoll_two_waiters_lt),
        cmocka_unit_test(test_stop_wakes),
        cmocka_unit_test(test_timeout_while_asleep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
