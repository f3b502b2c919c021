/* tools/run_stack.c — the stack side of `netsock run` (run_stack.h).
 *
 * Read first: preload/run_proto.h (the protocol), docs/run.md (why this
 * design, and what differs from a kernel socket).
 *
 * Each netsock socket of the programs is a `struct sock`: the stack's
 * socket (nsfd), our end of the kernel socket pair (end), and what is in
 * flight between them. Data moves in batches of up to RUN_SCRATCH bytes:
 *
 *   program -> net:  recv(end) into the scratch buffer, ns_send; what TCP
 *                    does not take waits in s->in until ns_poll says
 *                    POLLOUT (and our end is not read meanwhile, so the
 *                    program's writes block, or EAGAIN, when both are full)
 *   net -> program:  ns_recv(MSG_PEEK), send(end), then ns_recv(MSG_TRUNC)
 *                    drops what the pair took (TCP copies nothing for it);
 *                    when the pair is full we wait for EPOLLOUT on end and
 *                    TCP's receive window closes on its own.
 *
 * The kernel tells us about the program side through our end: EPOLLIN
 * (data, or end of stream after shutdown(SHUT_WR)), EPOLLHUP (every copy
 * of the program's end closed, or both directions shut down), a recv
 * error ECONNRESET (the program closed with data unread: we reset the
 * connection, as Linux does). The stack tells us nothing by itself (no
 * readiness callbacks in the public API): run_stack_pump() asks ns_poll
 * about every socket with something to wait for, after each loop
 * iteration.
 *
 * While a TCP socket is not connected, its program end is made
 * unwritable: the smallest send buffer, filled up with `filler` bytes
 * that sit in our end's receive queue. poll(POLLOUT) then means what it
 * means on Linux — connected (we drain the filler and grow the buffer,
 * through the program's descriptor that connect passed us) or failed (we
 * close our end with the filler unread, so the kernel gives the program's
 * end POLLERR, POLLHUP, POLLIN and POLLOUT, as Linux's tcp_poll does for
 * a refused connection). A listener's end stays so: never writable.
 *
 * Sockets that are gone (closed, or finished both ways) leave a small
 * record (`struct dead`: names, the error) for questions the program may
 * still ask about them: SO_ERROR after a failed non-blocking connect,
 * getpeername after the end of the stream. RUN_DEAD_MAX of them, the
 * oldest forgotten first.
 */
#include "run_stack.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "netsock/socket.h"
#include "run_proto.h"

#define RUN_SCRATCH (256u * 1024u)    /* one batch between a pair and TCP */
#define RUN_BATCH_MAX (1024u * 1024u) /* bytes per socket and direction per pump */
#define RUN_DGRAM_BATCH 64            /* datagrams per socket per pump */
#define RUN_CHAN_MAX 4096             /* control connections open at once */
#define RUN_DEAD_MAX 4096             /* records of sockets gone */
#define RUN_EVENTS 256

enum watch_type { W_CTL, W_CHAN, W_SOCK };
struct watch {
    enum watch_type type;
};

/* One control connection (a thread of a program). */
struct chan {
    struct watch w;
    int fd;
    bool gone; /* closed: freed at the end of the batch (reap) */
    struct chan *prev, *next;
};

enum sock_state {
    S_FRESH,      /* TCP, not connected (nor listening) */
    S_CONNECTING, /* SYN sent; prog_ref holds the program's end */
    S_CONNECTED,  /* data flows (until both ends are done) */
    S_LISTENING,  /* end is the listener's SOCK_SEQPACKET pair */
    S_DGRAM,      /* UDP (or raw) */
};

struct sock {
    struct watch w;
    uint64_t id;
    uint32_t slot;
    enum sock_state state;
    int type;          /* SOCK_STREAM, SOCK_DGRAM, SOCK_RAW */
    int domain;        /* AF_INET or AF_INET6 */
    int nsfd;          /* the stack's descriptor */
    int end;           /* our end of the pair */
    bool registered;   /* end is in the epoll set */
    uint32_t ev;       /* its events there */
    int prog_ref;      /* S_CONNECTING: the program's end, to make it writable */
    uint32_t filler;   /* bytes at the head of end's receive queue that are ours */
    bool prog_eof;     /* we read the end of the program's stream */
    bool prog_hup;     /* our end says HUP: nothing more will come from it */
    bool fin_sent;     /* ns_shutdown(SHUT_WR) done */
    bool net_eof;      /* TCP's stream ended (FIN): passed on with SHUT_WR */
    bool out_blocked;  /* the pair is full: wait for EPOLLOUT */
    bool prog_no_read; /* the program shut down reading: data stays in TCP */
    bool discard;      /* the connection is gone: drop what the program writes */
    int error;         /* pending error for the program (RUN_OP_ERROR, SO_ERROR) */
    uint8_t *in;       /* the program's bytes TCP has not taken yet */
    uint32_t in_off, in_len;
    struct chan *waiter; /* a blocking connect waits for its answer */
    uint32_t wait_seq;
    uint64_t wait_deadline;
    struct sock *handoff; /* S_LISTENING: an accepted connection waiting for room */
    int handoff_prog;     /* ... and its program end */
    struct sockaddr_in6 handoff_peer; /* a sockaddr_in or sockaddr_in6 */
    socklen_t handoff_peerlen;
    uint8_t *dgram;       /* S_DGRAM: one message waiting for room in the pair */
    size_t dgram_len;
    bool ts, tsns;        /* SO_TIMESTAMP, SO_TIMESTAMPNS */
    bool gone;            /* retired: freed at the end of the batch (reap) */
    struct sock *next_gone;
    int inq;              /* TCP_INQ: the library adds its control message */
    bool more;            /* the program's sends say MSG_MORE (RUN_OP_MORE) */
    bool more_held;       /* TCP took bytes with MSG_MORE and none since without it */
    uint64_t bytes_in;    /* program -> net, taken by TCP */
    uint64_t bytes_out;   /* net -> program */
};

/* What remains of a socket that is gone. */
struct dead {
    uint64_t id;
    int error;
    int type;
    int domain;
    bool has_peer;
    struct sockaddr_in6 local, peer; /* sockaddr_in or sockaddr_in6 */
    socklen_t local_len, peer_len;
};

struct run_stack {
    struct ns_stack *st;
    struct ns_loop *loop;
    int epfd;
    struct watch ctl_w;
    int ctl_fd;
    char ctl_name[64];
    long pid;
    struct chan *chans;
    size_t n_chans;
    struct chan *gone_chans; /* closed, freed by reap() */
    struct sock *gone_socks; /* retired, freed by reap() */
    struct sock **slots; /* by slot; NULL when free */
    uint32_t *gens;      /* generation of each slot (the id's high half) */
    uint32_t n_slots, cap_slots;
    uint32_t *free_slots;
    uint32_t n_free;
    size_t n_socks;
    struct dead *dead; /* ring of RUN_DEAD_MAX */
    uint32_t dead_next;
    uint8_t *scratch;  /* one batch of data */
    uint8_t *reqbuf;   /* one request's data (RUN_DATA_MAX) */
    struct pollfd *pfd;
    struct sock **pfd_sock;
    size_t cap_pfd;
    bool more;
    struct run_stack_stats stats;
};

static void sock_retire(struct run_stack *rs, struct sock *s, bool reset);

/* ---- socket records ------------------------------------------------------------------- */

static struct sock *sock_find(struct run_stack *rs, uint64_t id)
{
    uint32_t slot = (uint32_t)(id & 0xffffffffu);
    if (slot == 0 || slot > rs->n_slots)
        return NULL;
    struct sock *s = rs->slots[slot - 1];
    return s && s->id == id ? s : NULL;
}

static struct sock *sock_new(struct run_stack *rs)
{
    uint32_t slot;
    if (rs->n_free) {
        slot = rs->free_slots[--rs->n_free];
    } else {
        if (rs->n_slots == rs->cap_slots) {
            uint32_t cap = rs->cap_slots ? rs->cap_slots * 2 : 64;
            struct sock **s = realloc(rs->slots, cap * sizeof(*s));
            if (!s)
                return NULL;
            rs->slots = s;
            uint32_t *g = realloc(rs->gens, cap * sizeof(*g));
            if (!g)
                return NULL;
            rs->gens = g;
            uint32_t *f = realloc(rs->free_slots, cap * sizeof(*f));
            if (!f)
                return NULL;
            rs->free_slots = f;
            rs->cap_slots = cap;
        }
        slot = rs->n_slots++;
        rs->gens[slot] = 0;
    }
    struct sock *s = calloc(1, sizeof(*s));
    if (!s) {
        rs->free_slots[rs->n_free++] = slot;
        return NULL;
    }
    s->w.type = W_SOCK;
    s->slot = slot;
    s->id = ((uint64_t)++rs->gens[slot] << 32) | (slot + 1);
    s->nsfd = s->end = s->prog_ref = s->handoff_prog = -1;
    rs->slots[slot] = s;
    rs->n_socks++;
    rs->stats.sockets++;
    return s;
}

/* Take s out of the table; its memory goes at the end of the batch
 * (events and poll results still in hand may name it: they check gone). */
static void sock_free(struct run_stack *rs, struct sock *s)
{
    rs->slots[s->slot] = NULL;
    rs->free_slots[rs->n_free++] = s->slot;
    rs->n_socks--;
    s->gone = true;
    s->next_gone = rs->gone_socks;
    rs->gone_socks = s;
}

/* Free what was retired or closed during the batch. */
static void reap(struct run_stack *rs)
{
    while (rs->gone_socks) {
        struct sock *s = rs->gone_socks;
        rs->gone_socks = s->next_gone;
        free(s->in);
        free(s->dgram);
        free(s);
    }
    while (rs->gone_chans) {
        struct chan *c = rs->gone_chans;
        rs->gone_chans = c->next;
        free(c);
    }
}

/* Watch our end for `ev` (0: only HUP and errors; -1u: not at all). */
static void sock_watch(struct run_stack *rs, struct sock *s, uint32_t ev)
{
    if (s->end < 0)
        return;
    if (ev == UINT32_MAX) {
        if (s->registered)
            epoll_ctl(rs->epfd, EPOLL_CTL_DEL, s->end, NULL);
        s->registered = false;
        return;
    }
    if (s->registered && ev == s->ev)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = &s->w};
    if (epoll_ctl(rs->epfd, s->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->end, &e) == 0) {
        s->registered = true;
        s->ev = ev;
    }
}

/* The events a connected socket's end is watched for now. */
static void sock_rewatch(struct run_stack *rs, struct sock *s)
{
    if (s->state != S_CONNECTED && s->state != S_DGRAM) {
        sock_watch(rs, s, s->state == S_LISTENING && s->handoff ? EPOLLOUT : 0);
        return;
    }
    if (s->prog_hup) {
        /* HUP stays reported: watching would spin. What is left in the
         * pair is read when TCP has room (run_stack_pump). */
        sock_watch(rs, s, UINT32_MAX);
        return;
    }
    uint32_t ev = 0;
    if (!s->prog_eof && !s->in_len)
        ev |= EPOLLIN | EPOLLRDHUP;
    if (s->out_blocked)
        ev |= EPOLLOUT;
    sock_watch(rs, s, ev);
}

static void dead_add(struct run_stack *rs, struct sock *s)
{
    struct dead *d = &rs->dead[rs->dead_next++ % RUN_DEAD_MAX];
    memset(d, 0, sizeof(*d));
    d->id = s->id;
    d->error = s->error;
    d->type = s->type;
    d->domain = s->domain;
    if (s->nsfd >= 0) {
        d->local_len = sizeof(d->local);
        if (ns_getsockname(rs->st, s->nsfd, (struct sockaddr *)&d->local, &d->local_len) < 0)
            d->local_len = 0;
        d->peer_len = sizeof(d->peer);
        d->has_peer = ns_getpeername(rs->st, s->nsfd, (struct sockaddr *)&d->peer, &d->peer_len) == 0;
    }
}

static struct dead *dead_find(struct run_stack *rs, uint64_t id)
{
    for (uint32_t i = 0; i < RUN_DEAD_MAX; i++)
        if (rs->dead[i].id == id)
            return &rs->dead[i];
    return NULL;
}

/* ---- pairs ------------------------------------------------------------------------------ */

/* Bind the program's end to "\0netsock-run-PID/ID.KIND". */
static int name_end(struct run_stack *rs, int fd, uint64_t id, char kind)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, RUN_NAME_PREFIX "%ld/%" PRIu64 ".%c",
                     rs->pid, id, kind);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    return bind(fd, (struct sockaddr *)&sun, len) < 0 ? -errno : 0;
}

static void set_sndbuf(int fd, int bytes)
{
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

/* Make the program's end unwritable: the smallest send buffer, filled to
 * the brim (sends fail with EAGAIN, so a blocking write would block).
 * Returns the filler's bytes, now in the peer's receive queue. */
static uint32_t fill_end(int prog)
{
    static const uint8_t zeros[1024];
    int one = 1;
    setsockopt(prog, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
    uint32_t n = 0;
    while (n < 65536) {
        ssize_t w = send(prog, zeros, sizeof(zeros), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w <= 0)
            break;
        n += (uint32_t)w;
    }
    return n;
}

/* A socket pair for socket `id`: *ours non-blocking with a large send
 * buffer, *prog blocking and named. type: SOCK_STREAM or SOCK_SEQPACKET. */
static int make_pair(struct run_stack *rs, int type, uint64_t id, char kind, int *ours, int *prog)
{
    int sv[2];
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    int r = name_end(rs, sv[1], id, kind);
    if (r == 0 && fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0)
        r = -errno;
    if (r < 0) {
        close(sv[0]);
        close(sv[1]);
        return r;
    }
    set_sndbuf(sv[0], RUN_PAIR_SNDBUF);
    *ours = sv[0];
    *prog = sv[1];
    return 0;
}

/* Discard what the program wrote that we have not read (so closing our
 * end does not set ECONNRESET on theirs). */
static void drain_end(struct run_stack *rs, int end)
{
    while (recv(end, rs->scratch, RUN_SCRATCH, MSG_DONTWAIT) > 0)
        ;
}

/* ---- replies ------------------------------------------------------------------------------ */

static void chan_close(struct run_stack *rs, struct chan *c);

static int reply(struct run_stack *rs, struct chan *c, uint32_t seq, int ret, int err,
                 const void *data, uint32_t len, int fd, uint64_t id, int32_t arg0)
{
    struct run_rep rep = {.seq = seq, .ret = ret, .err = ret < 0 ? err : 0, .len = len, .id = id};
    rep.arg[0] = arg0;
    struct iovec iov[2] = {{&rep, sizeof(rep)}, {(void *)(uintptr_t)data, len}};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    if (fd >= 0) {
        memset(&cm, 0, sizeof(cm));
        m.msg_control = cm.buf;
        m.msg_controllen = sizeof(cm.buf);
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &fd, sizeof(int));
    }
    if (sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        /* A thread that does not read its answers, or is gone. */
        chan_close(rs, c);
        return -1;
    }
    return 0;
}

/* Answer a blocking connect that waits on socket s. */
static void reply_waiter(struct run_stack *rs, struct sock *s, int ret, int err)
{
    struct chan *c = s->waiter;
    s->waiter = NULL;
    if (c && !c->gone)
        reply(rs, c, s->wait_seq, ret, err, NULL, 0, -1, 0, 0);
}

/* ---- connecting ------------------------------------------------------------------------- */

/* The handshake of s ended: err 0 (connected) or why it failed. */
static void connect_done(struct run_stack *rs, struct sock *s, int err)
{
    if (err == 0) {
        /* The program's end becomes writable: a large buffer (or about
         * TCP_NOTSENT_LOWAT, when set), no filler. */
        unsigned int lowat = 0;
        socklen_t ll = sizeof(lowat);
        if (ns_getsockopt(rs->st, s->nsfd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, &ll) < 0)
            lowat = 0;
        set_sndbuf(s->prog_ref, run_pair_sndbuf(lowat));
        while (s->filler) {
            ssize_t n = recv(s->end, rs->scratch, s->filler, MSG_DONTWAIT);
            if (n <= 0)
                break;
            s->filler -= (uint32_t)n;
        }
        close(s->prog_ref);
        s->prog_ref = -1;
        s->state = S_CONNECTED;
        sock_rewatch(rs, s);
        reply_waiter(rs, s, 0, 0);
        return;
    }
    /* Failed. A blocking connect hears the error (and it is spent, as
     * Linux clears sk_err when connect returns it); otherwise SO_ERROR
     * finds it. Our end goes with the filler unread: the program's end
     * becomes readable, writable, HUP and ERR at once, as Linux reports a
     * refused connection. */
    s->error = s->waiter ? 0 : err;
    reply_waiter(rs, s, -1, err);
    sock_retire(rs, s, false);
}

/* ---- moving data ------------------------------------------------------------------------ */

/* TCP's stream ended: a FIN (err 0) or an error; all data before it was
 * passed on already (ns_recv reports the end only after the bytes). */
static void net_end(struct run_stack *rs, struct sock *s, int err)
{
    s->net_eof = true;
    if (!err) {
        shutdown(s->end, SHUT_WR); /* the program reads the end of its stream */
        return;
    }
    /* Reset or timed out: the program reads what it has, then the end of
     * the stream, which the library turns into this error (RUN_OP_ERROR);
     * its writes fail with EPIPE, the first one with this error. */
    s->error = err;
    shutdown(s->end, SHUT_RDWR);
    drain_end(rs, s->end);
    sock_retire(rs, s, false);
}

/* Net -> program. Returns false when s is gone. */
static bool net_to_prog(struct run_stack *rs, struct sock *s)
{
    size_t moved = 0;
    while (!s->out_blocked && !s->net_eof && !s->prog_no_read) {
        if (moved >= RUN_BATCH_MAX) {
            rs->more = true;
            break;
        }
        ssize_t n = ns_recv(rs->st, s->nsfd, rs->scratch, RUN_SCRATCH, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            net_end(rs, s, errno);
            return false;
        }
        if (n == 0) {
            net_end(rs, s, 0);
            break;
        }
        ssize_t w = send(s->end, rs->scratch, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                s->out_blocked = true;
                break;
            }
            /* EPIPE: the program shut down reading; TCP keeps the bytes
             * (a close then resets the connection, as on Linux). */
            s->prog_no_read = true;
            break;
        }
        ns_recv(rs->st, s->nsfd, NULL, (size_t)w, MSG_TRUNC | MSG_DONTWAIT);
        moved += (size_t)w;
        s->bytes_out += (uint64_t)w;
        rs->stats.bytes_to_prog += (uint64_t)w;
        if (w < n)
            s->out_blocked = true;
    }
    sock_rewatch(rs, s);
    return true;
}

/* Hand `len` bytes of the program's to TCP; keep what it does not take.
 * Returns false when TCP took less than all (wait for POLLOUT). */
static bool to_tcp(struct run_stack *rs, struct sock *s, const uint8_t *p, uint32_t len)
{
    if (s->discard) {
        s->in_len = 0;
        return true;
    }
    ssize_t k = ns_send(rs->st, s->nsfd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL | (s->more ? MSG_MORE : 0));
    if (k > 0)
        s->more_held = s->more;
    if (k < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            /* The connection is gone (reset, or it ended): what the
             * program writes from now on has nowhere to go. */
            s->discard = true;
            s->in_len = 0;
            return true;
        }
        k = 0;
    }
    s->bytes_in += (uint64_t)k;
    rs->stats.bytes_to_net += (uint64_t)k;
    uint32_t left = len - (uint32_t)k;
    if (!left) {
        s->in_len = 0;
        s->in_off = 0;
        return true;
    }
    if (!s->in || p != s->in + s->in_off) {
        uint8_t *b = realloc(s->in, left);
        if (!b) {
            s->discard = true; /* cannot keep them: the stream is broken */
            return true;
        }
        s->in = b;
        memcpy(s->in, p + k, left);
        s->in_off = 0;
    } else {
        s->in_off += (uint32_t)k;
    }
    s->in_len = left;
    return false;
}

/* Program -> net. Returns false when s is gone. */
static bool prog_to_net(struct run_stack *rs, struct sock *s)
{
    if (s->in_len && !to_tcp(rs, s, s->in + s->in_off, s->in_len)) {
        sock_rewatch(rs, s);
        return true;
    }
    if (!s->in_len) {
        free(s->in);
        s->in = NULL;
        s->in_off = 0;
    }
    size_t moved = 0;
    while (!s->prog_eof) {
        if (moved >= RUN_BATCH_MAX) {
            rs->more = true;
            break;
        }
        ssize_t n = recv(s->end, rs->scratch, RUN_SCRATCH, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            /* ECONNRESET: the program closed with bytes unread (the
             * kernel says so on our end). Linux resets the connection. */
            sock_retire(rs, s, true);
            return false;
        }
        if (n == 0) {
            s->prog_eof = true;
            break;
        }
        moved += (size_t)n;
        if (!to_tcp(rs, s, rs->scratch, (uint32_t)n))
            break;
    }
    if (s->prog_eof && !s->in_len) {
        if (s->prog_hup) {
            /* Every copy closed (or both directions done): the
             * connection finishes without us (ns_close: the data left is
             * sent, then a FIN). */
            sock_retire(rs, s, false);
            return false;
        }
        if (!s->fin_sent && !s->discard) {
            ns_shutdown(rs->st, s->nsfd, SHUT_WR);
            s->fin_sent = true;
        }
    }
    sock_rewatch(rs, s);
    return true;
}

/* Datagrams, net -> program. */
static void dgram_to_prog(struct run_stack *rs, struct sock *s)
{
    for (int i = 0; i < RUN_DGRAM_BATCH && !s->out_blocked; i++) {
        if (s->dgram) {
            if (send(s->end, s->dgram, s->dgram_len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
                (errno == EAGAIN || errno == EWOULDBLOCK)) {
                s->out_blocked = true;
                break;
            }
            free(s->dgram);
            s->dgram = NULL;
            continue;
        }
        struct run_dgram *h = (struct run_dgram *)rs->scratch;
        memset(h, 0, sizeof(*h));
        struct iovec iov = {rs->scratch + sizeof(*h), RUN_SCRATCH - sizeof(*h)};
        struct msghdr m = {.msg_name = &h->from, .msg_namelen = sizeof(h->from), .msg_iov = &iov,
                           .msg_iovlen = 1, .msg_control = h->control,
                           .msg_controllen = sizeof(h->control)};
        ssize_t n = ns_recvmsg(rs->st, s->nsfd, &m, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            h->err = errno; /* ECONNREFUSED and the like, in order */
            n = 0;
        } else {
            h->controllen = (uint32_t)m.msg_controllen;
            h->fromlen = m.msg_namelen;
            if (s->ts || s->tsns) {
                /* SO_TIMESTAMP(NS): the time the datagram left the stack
                 * for the program (the stack keeps no arrival times). */
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                size_t need = s->tsns ? sizeof(struct timespec) : sizeof(struct timeval);
                if (h->controllen + CMSG_SPACE(need) <= sizeof(h->control)) {
                    struct cmsghdr *c = (struct cmsghdr *)(void *)(h->control + h->controllen);
                    c->cmsg_level = SOL_SOCKET;
                    c->cmsg_type = s->tsns ? SCM_TIMESTAMPNS : SCM_TIMESTAMP;
                    c->cmsg_len = CMSG_LEN(need);
                    if (s->tsns) {
                        memcpy(CMSG_DATA(c), &now, sizeof(now));
                    } else {
                        struct timeval tv = {now.tv_sec, now.tv_nsec / 1000};
                        memcpy(CMSG_DATA(c), &tv, sizeof(tv));
                    }
                    h->controllen += (uint32_t)CMSG_SPACE(need);
                }
            }
        }
        h->len = (uint32_t)n;
        size_t total = sizeof(*h) + (size_t)n;
        if (send(s->end, rs->scratch, total, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                continue; /* the program shut down reading: dropped */
            s->dgram = malloc(total);
            if (s->dgram) {
                memcpy(s->dgram, rs->scratch, total);
                s->dgram_len = total;
            }
            s->out_blocked = true;
            break;
        }
        rs->stats.dgrams_to_prog++;
    }
    sock_rewatch(rs, s);
}

/* Datagrams the program wrote on the pair itself (a descriptor the
 * library did not know: write(2) of a connected socket): to the peer. */
static bool dgram_from_prog(struct run_stack *rs, struct sock *s, uint32_t events)
{
    for (int i = 0; i < RUN_DGRAM_BATCH; i++) {
        ssize_t n = recv(s->end, rs->scratch, RUN_SCRATCH, MSG_DONTWAIT);
        if (n > 0) {
            ns_send(rs->st, s->nsfd, rs->scratch, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
            rs->stats.dgrams_to_net++;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        events |= EPOLLHUP;
        break;
    }
    if (events & (EPOLLHUP | EPOLLERR)) {
        sock_retire(rs, s, false);
        return false;
    }
    return true;
}

/* ---- listeners ----------------------------------------------------------------------------- */

/* Send the waiting accepted connection to the program. Returns false
 * while the listener's pair is full. */
static bool handoff_send(struct run_stack *rs, struct sock *l)
{
    struct sock *c = l->handoff;
    struct run_accept rec = {.id = c->id, .peer = l->handoff_peer, .peerlen = l->handoff_peerlen};
    struct iovec iov = {&rec, sizeof(rec)};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof(cm));
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
                       .msg_controllen = sizeof(cm.buf)};
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &l->handoff_prog, sizeof(int));
    if (sendmsg(l->end, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return false;
        /* The listener's pair is shut: nobody will accept it. */
        close(l->handoff_prog);
        l->handoff_prog = -1;
        l->handoff = NULL;
        sock_retire(rs, c, true);
        return true;
    }
    close(l->handoff_prog);
    l->handoff_prog = -1;
    l->handoff = NULL;
    sock_rewatch(rs, c);
    return true;
}

/* Accept what the stack's listener has, as long as the pair takes them. */
static void listener_accept(struct run_stack *rs, struct sock *l)
{
    for (int i = 0; i < 64; i++) {
        if (l->handoff && !handoff_send(rs, l))
            break;
        struct sockaddr_in6 peer;
        socklen_t plen = sizeof(peer);
        int fd = ns_accept4(rs->st, l->nsfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK);
        if (fd < 0)
            break;
        struct sock *c = sock_new(rs);
        int ours = -1, prog = -1;
        if (!c || make_pair(rs, SOCK_STREAM, c->id, RUN_KIND_STREAM, &ours, &prog) < 0) {
            /* No memory or descriptors: refuse it as a full backlog would. */
            struct linger lg = {1, 0};
            ns_setsockopt(rs->st, fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            ns_close(rs->st, fd);
            if (c)
                sock_free(rs, c);
            break;
        }
        /* The listener's options are the connection's (the stack copies
         * its own; these are ours), the pair sized for the inherited
         * TCP_NOTSENT_LOWAT as connect_done sizes it. */
        unsigned int lowat = 0;
        socklen_t ll = sizeof(lowat);
        if (ns_getsockopt(rs->st, fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, &ll) < 0)
            lowat = 0;
        set_sndbuf(prog, run_pair_sndbuf(lowat));
        c->inq = l->inq;
        c->ts = l->ts;
        c->tsns = l->tsns;
        c->type = SOCK_STREAM;
        c->domain = l->domain;
        c->nsfd = fd;
        c->end = ours;
        c->state = S_CONNECTED;
        l->handoff = c;
        l->handoff_prog = prog;
        l->handoff_peer = peer;
        l->handoff_peerlen = plen;
    }
    if (l->handoff)
        handoff_send(rs, l);
    sock_rewatch(rs, l);
}

/* ---- retiring ----------------------------------------------------------------------------- */

/* s is done: remember its names and error, close the stack's socket
 * (reset: with a RST, as close with SO_LINGER {1, 0}), our end and what
 * waits, and free it. */
static void sock_retire(struct run_stack *rs, struct sock *s, bool reset)
{
    dead_add(rs, s);
    reply_waiter(rs, s, -1, ECONNABORTED);
    if (s->handoff) {
        struct sock *c = s->handoff;
        s->handoff = NULL;
        close(s->handoff_prog);
        sock_retire(rs, c, true);
    }
    if (s->nsfd >= 0) {
        if (reset) {
            struct linger lg = {1, 0};
            ns_setsockopt(rs->st, s->nsfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        ns_close(rs->st, s->nsfd);
    }
    sock_watch(rs, s, UINT32_MAX);
    if (s->end >= 0)
        close(s->end);
    if (s->prog_ref >= 0)
        close(s->prog_ref);
    sock_free(rs, s);
}

/* ---- requests ------------------------------------------------------------------------------- */

struct req_ctx {
    struct run_stack *rs;
    struct chan *c;
    const struct run_req *req;
    const uint8_t *data;
    int fd_in; /* a descriptor that came with the request, or -1; set to -1 when kept */
};

static void req_reply(struct req_ctx *q, int ret, const void *data, uint32_t len)
{
    reply(q->rs, q->c, q->req->seq, ret, errno, data, len, -1, 0, 0);
}

static void op_socket(struct req_ctx *q)
{
    struct run_stack *rs = q->rs;
    int domain = q->req->arg[0], type = q->req->arg[1], proto = q->req->arg[2];
    if (domain != AF_INET && domain != AF_INET6) {
        errno = EAFNOSUPPORT;
        req_reply(q, -1, NULL, 0);
        return;
    }
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    int nsfd = ns_socket(rs->st, domain, type | SOCK_NONBLOCK, proto);
    if (nsfd < 0) {
        req_reply(q, -1, NULL, 0);
        return;
    }
    struct sock *s = sock_new(rs);
    int ours = -1, prog = -1, r = -ENOMEM;
    bool stream = base == SOCK_STREAM;
    if (s)
        r = make_pair(rs, stream ? SOCK_STREAM : SOCK_SEQPACKET, s->id,
                      stream ? RUN_KIND_STREAM : RUN_KIND_DGRAM, &ours, &prog);
    if (r < 0) {
        ns_close(rs->st, nsfd);
        if (s)
            sock_free(rs, s);
        errno = -r;
        req_reply(q, -1, NULL, 0);
        return;
    }
    s->type = base;
    s->domain = domain;
    s->nsfd = nsfd;
    s->end = ours;
    if (stream) {
        s->state = S_FRESH;
        s->filler = fill_end(prog);
    } else {
        s->state = S_DGRAM;
        set_sndbuf(prog, RUN_PAIR_SNDBUF);
    }
    sock_rewatch(rs, s);
    reply(rs, q->c, q->req->seq, 0, 0, NULL, 0, prog, s->id, stream ? RUN_KIND_STREAM : RUN_KIND_DGRAM);
    close(prog);
}

static void op_listen(struct req_ctx *q, struct sock *s)
{
    struct run_stack *rs = q->rs;
    if (ns_listen(rs->st, s->nsfd, q->req->arg[0]) < 0) {
        req_reply(q, -1, NULL, 0);
        return;
    }
    if (s->state == S_LISTENING) {
        req_reply(q, 0, NULL, 0); /* a new backlog */
        return;
    }
    /* The listener gets a SOCK_SEQPACKET pair, never writable; the
     * program puts it in place of the stream it had. */
    int ours, prog;
    int r = make_pair(rs, SOCK_SEQPACKET, s->id, RUN_KIND_LISTEN, &ours, &prog);
    if (r < 0) {
        ns_shutdown(rs->st, s->nsfd, SHUT_RDWR);
        errno = -r;
        req_reply(q, -1, NULL, 0);
        return;
    }
    fill_end(prog);
    sock_watch(rs, s, UINT32_MAX);
    close(s->end);
    s->end = ours;
    s->filler = 0;
    s->state = S_LISTENING;
    sock_rewatch(rs, s);
    reply(rs, q->c, q->req->seq, 0, 0, NULL, 0, prog, s->id, RUN_KIND_LISTEN);
    close(prog);
}

static void op_connect(struct req_ctx *q, struct sock *s)
{
    struct run_stack *rs = q->rs;
    const struct sockaddr *addr = (const struct sockaddr *)q->data;
    int r = ns_connect(rs->st, s->nsfd, addr, q->req->len);
    if (s->state != S_FRESH) {
        req_reply(q, r, NULL, 0); /* UDP; or EALREADY, EISCONN, ... */
        return;
    }
    if (r == 0 || errno == EINPROGRESS) {
        if (q->fd_in < 0) {
            errno = EINVAL;
            req_reply(q, -1, NULL, 0);
            return;
        }
        s->prog_ref = q->fd_in;
        q->fd_in = -1;
        s->state = S_CONNECTING;
        if (!q->req->arg[0]) {
            /* Blocking: answered when the handshake ends, or at
             * SO_SNDTIMEO (then EINPROGRESS, as Linux). */
            struct timeval tv = {0};
            socklen_t len = sizeof(tv);
            ns_getsockopt(rs->st, s->nsfd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len);
            s->waiter = q->c;
            s->wait_seq = q->req->seq;
            uint64_t us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
            s->wait_deadline = us ? ns_clock_now_us() + us : NS_TIME_NEVER;
            if (r == 0)
                connect_done(rs, s, 0);
            return;
        }
        if (r == 0) {
            connect_done(rs, s, 0);
            req_reply(q, 0, NULL, 0);
            return;
        }
        errno = EINPROGRESS;
        req_reply(q, -1, NULL, 0);
        return;
    }
    req_reply(q, -1, NULL, 0);
}

/* TCP_INFO: the stack's, in Linux's layout (ns_getsockopt fills it from
 * the connection's state), with the byte counts made exact beyond 4 GiB:
 * the stack counts them from 32-bit sequence numbers, we in 64 bits —
 * acknowledged is what TCP took from us less what it still holds,
 * received what we passed to the program plus what TCP still holds. */
static int tcp_info_get(struct run_stack *rs, struct sock *s, void *val, socklen_t *len)
{
    struct tcp_info ti;
    memset(&ti, 0, sizeof(ti));
    socklen_t n = sizeof(ti);
    if (ns_getsockopt(rs->st, s->nsfd, IPPROTO_TCP, TCP_INFO, &ti, &n) < 0)
        return -1;
    int cnt = ns_sock_list(rs->st, NULL, 0);
    struct ns_sock_info *list = cnt > 0 ? calloc((size_t)cnt, sizeof(*list)) : NULL;
    if (list) {
        int got = ns_sock_list(rs->st, list, cnt);
        for (int i = 0; i < got && i < cnt; i++) {
            if (list[i].fd != s->nsfd)
                continue;
            /* What was sent beyond what was acknowledged: small, so its
             * 32-bit difference is right even when the counts wrapped. */
            uint32_t flight = (uint32_t)(ti.tcpi_bytes_sent - ti.tcpi_bytes_acked);
            ti.tcpi_bytes_acked = s->bytes_in > list[i].send_q ? s->bytes_in - list[i].send_q : 0;
            ti.tcpi_bytes_received = s->bytes_out + list[i].recv_q;
            ti.tcpi_bytes_sent = ti.tcpi_bytes_acked + flight;
            break;
        }
        free(list);
    }
    socklen_t out = *len < sizeof(ti) ? *len : (socklen_t)sizeof(ti);
    memcpy(val, &ti, out);
    *len = out;
    return 0;
}

static void op_getsockopt(struct req_ctx *q, struct sock *s)
{
    struct run_stack *rs = q->rs;
    int level = q->req->arg[0], name = q->req->arg[1];
    uint8_t buf[512];
    socklen_t len = (socklen_t)q->req->arg[2];
    if (q->req->arg[2] < 0) {
        errno = EINVAL;
        req_reply(q, -1, NULL, 0);
        return;
    }
    if (len > sizeof(buf))
        len = sizeof(buf);
    memset(buf, 0, sizeof(buf));
    int r, v = -1;
    if (level == SOL_SOCKET && name == SO_ERROR && s->error) {
        v = s->error;
        s->error = 0;
    } else if (level == SOL_SOCKET && (name == SO_TIMESTAMP || name == SO_TIMESTAMPNS)) {
        v = name == SO_TIMESTAMP ? s->ts : s->tsns;
    } else if (level == IPPROTO_TCP && name == TCP_INQ && s->type == SOCK_STREAM) {
        v = s->inq;
    }
    if (v != -1) {
        r = 0;
        len = len < sizeof(v) ? len : (socklen_t)sizeof(v);
        memcpy(buf, &v, len);
    } else if (level == IPPROTO_TCP && name == TCP_INFO && s->type == SOCK_STREAM) {
        /* What the program wrote before asking is TCP's, as on Linux. */
        if (s->state == S_CONNECTED && !prog_to_net(rs, s)) {
            errno = ENOTCONN; /* it went meanwhile (the program closed it unread: reset) */
            req_reply(q, -1, NULL, 0);
            return;
        }
        r = tcp_info_get(rs, s, buf, &len);
    } else {
        r = ns_getsockopt(rs->st, s->nsfd, level, name, buf, &len);
    }
    req_reply(q, r, buf, r < 0 ? 0 : len);
}

static void op_setsockopt(struct req_ctx *q, struct sock *s)
{
    struct run_stack *rs = q->rs;
    int level = q->req->arg[0], name = q->req->arg[1];
    int v = 0;
    if (q->req->len >= sizeof(int))
        memcpy(&v, q->data, sizeof(v));
    if (level == SOL_SOCKET && (name == SO_TIMESTAMP || name == SO_TIMESTAMPNS)) {
        if (q->req->len < sizeof(int)) {
            errno = EINVAL;
            req_reply(q, -1, NULL, 0);
            return;
        }
        /* sock_set_timestamp: one replaces the other. */
        s->ts = name == SO_TIMESTAMP && v;
        s->tsns = name == SO_TIMESTAMPNS && v;
        req_reply(q, 0, NULL, 0);
        return;
    }
    if (level == IPPROTO_TCP && name == TCP_INQ && s->type == SOCK_STREAM) {
        /* do_tcp_setsockopt: an int, 0 or 1. */
        if (q->req->len < sizeof(int) || v < 0 || v > 1) {
            errno = EINVAL;
            req_reply(q, -1, NULL, 0);
            return;
        }
        s->inq = v;
        req_reply(q, 0, NULL, 0);
        return;
    }
    int r = ns_setsockopt(rs->st, s->nsfd, level, name, q->req->len ? q->data : NULL, q->req->len);
    req_reply(q, r, NULL, 0);
}

/* RUN_OP_MORE: the program's sends begin (arg 1) or stop (0) saying
 * MSG_MORE. What it wrote before goes to TCP first with the flags it was
 * written with. When they stop, the first send without the flag is in the
 * pair already: it goes to TCP without MSG_MORE and pushes what was held;
 * if TCP took everything before (we read the pair meanwhile), what it
 * holds is pushed as Linux's next send would (TCP_CORK off does that,
 * and changes nothing else when the program has not corked). */
static void op_more(struct req_ctx *q, struct sock *s)
{
    struct run_stack *rs = q->rs;
    bool more = q->req->arg[0] != 0;
    if (s->type != SOCK_STREAM) {
        req_reply(q, 0, NULL, 0);
        return;
    }
    if (s->state == S_CONNECTED && more != s->more) {
        s->more = false;
        if (more && !prog_to_net(rs, s)) {
            req_reply(q, 0, NULL, 0); /* gone meanwhile: nothing to hold */
            return;
        }
        s->more = more;
        if (!more && prog_to_net(rs, s) && s->more_held && !s->in_len) {
            int cork = 0;
            socklen_t cl = sizeof(cork);
            if (ns_getsockopt(rs->st, s->nsfd, IPPROTO_TCP, TCP_CORK, &cork, &cl) == 0 && !cork)
                ns_setsockopt(rs->st, s->nsfd, IPPROTO_TCP, TCP_CORK, &cork, sizeof(cork));
            s->more_held = false;
        }
    } else {
        s->more = more;
    }
    req_reply(q, 0, NULL, 0);
}

static void op_shutdown(struct req_ctx *q, struct sock *s)
{
    struct run_stack *rs = q->rs;
    int how = q->req->arg[0];
    if (how < SHUT_RD || how > SHUT_RDWR) {
        errno = EINVAL;
        req_reply(q, -1, NULL, 0);
        return;
    }
    int native = 0, r;
    switch (s->state) {
    case S_CONNECTED:
        if (s->net_eof && s->error) {
            errno = ENOTCONN;
            r = -1;
            break;
        }
        /* Reading: now. Writing: the program shuts its end, so the end of
         * its stream comes after the bytes it wrote; we send the FIN when
         * we read it (prog_to_net). */
        r = how != SHUT_WR ? ns_shutdown(rs->st, s->nsfd, SHUT_RD) : 0;
        native = r == 0;
        break;
    case S_LISTENING:
        r = ns_shutdown(rs->st, s->nsfd, how);
        if (r == 0 && how != SHUT_WR) {
            /* Stops listening: a blocked accept returns (EINVAL). */
            shutdown(s->end, SHUT_RDWR);
            s->state = S_FRESH;
        }
        break;
    case S_DGRAM:
        r = ns_shutdown(rs->st, s->nsfd, how);
        if (how != SHUT_WR)
            shutdown(s->end, SHUT_WR); /* a receive finds the end (0) */
        break;
    default:
        r = ns_shutdown(rs->st, s->nsfd, how);
        break;
    }
    int e = errno;
    reply(rs, q->c, q->req->seq, r, e, NULL, 0, -1, 0, native);
}

static void op_sendmsg(struct req_ctx *q, struct sock *s)
{
    struct run_stack *rs = q->rs;
    int flags = q->req->arg[0];
    uint32_t namelen = (uint32_t)q->req->arg[1], ctllen = (uint32_t)q->req->arg[2];
    if (s->state != S_DGRAM || namelen > q->req->len || ctllen > q->req->len - namelen) {
        errno = EINVAL;
        req_reply(q, -1, NULL, 0);
        return;
    }
    struct iovec iov = {(void *)(uintptr_t)(q->data + namelen + ctllen), q->req->len - namelen - ctllen};
    /* The control messages, aligned for CMSG_* walking. */
    union {
        struct cmsghdr h;
        uint8_t b[1024];
    } ctl;
    if (ctllen > sizeof(ctl.b)) {
        errno = ENOBUFS;
        req_reply(q, -1, NULL, 0);
        return;
    }
    memcpy(ctl.b, q->data + namelen, ctllen);
    struct msghdr m = {.msg_name = namelen ? (void *)(uintptr_t)q->data : NULL, .msg_namelen = namelen,
                       .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctllen ? ctl.b : NULL,
                       .msg_controllen = ctllen};
    ssize_t r = ns_sendmsg(rs->st, s->nsfd, &m, flags | MSG_DONTWAIT);
    if (r >= 0)
        rs->stats.dgrams_to_net++;
    req_reply(q, (int)r, NULL, 0);
}

/* Requests about a socket that is gone: what its record remembers. */
static void op_dead(struct req_ctx *q, struct dead *d)
{
    const struct run_req *req = q->req;
    int v;
    switch (req->op) {
    case RUN_OP_ERROR:
        v = d->error;
        d->error = 0;
        req_reply(q, v, NULL, 0);
        return;
    case RUN_OP_GETSOCKOPT:
        if (req->arg[0] == SOL_SOCKET &&
            (req->arg[1] == SO_ERROR || req->arg[1] == SO_TYPE || req->arg[1] == SO_DOMAIN)) {
            v = req->arg[1] == SO_ERROR ? d->error : req->arg[1] == SO_TYPE ? d->type : d->domain;
            if (req->arg[1] == SO_ERROR)
                d->error = 0;
            req_reply(q, 0, &v, sizeof(v));
            return;
        }
        break;
    case RUN_OP_GETSOCKNAME:
        req_reply(q, 0, &d->local, d->local_len);
        return;
    case RUN_OP_GETPEERNAME:
        if (d->has_peer) {
            req_reply(q, 0, &d->peer, d->peer_len);
            return;
        }
        break;
    case RUN_OP_SETSOCKOPT:
        req_reply(q, 0, NULL, 0); /* Linux takes options on a closed socket */
        return;
    case RUN_OP_CONNECT:
        /* Linux lets a socket whose connect failed connect again: the
         * library makes a new one in its place (ESTALE says so), of the
         * family arg[0] says. */
        reply(q->rs, q->c, req->seq, -1, ESTALE, NULL, 0, -1, 0, d->domain);
        return;
    case RUN_OP_SHUTDOWN:
    case RUN_OP_SENDMSG:
        errno = req->op == RUN_OP_SENDMSG ? EPIPE : ENOTCONN;
        req_reply(q, -1, NULL, 0);
        return;
    default:
        break;
    }
    errno = ENOTCONN;
    req_reply(q, -1, NULL, 0);
}

static void handle_request(struct req_ctx *q)
{
    struct run_stack *rs = q->rs;
    const struct run_req *req = q->req;
    rs->stats.requests++;
    if (req->op == RUN_OP_SOCKET) {
        op_socket(q);
        return;
    }
    struct sock *s = sock_find(rs, req->id);
    if (!s) {
        struct dead *d = dead_find(rs, req->id);
        if (d) {
            op_dead(q, d);
            return;
        }
        errno = EBADF;
        req_reply(q, -1, NULL, 0);
        return;
    }
    uint8_t name[sizeof(struct sockaddr_storage)];
    socklen_t nlen = sizeof(name);
    int r;
    switch (req->op) {
    case RUN_OP_BIND:
        req_reply(q, ns_bind(rs->st, s->nsfd, (const struct sockaddr *)q->data, req->len), NULL, 0);
        break;
    case RUN_OP_LISTEN:
        op_listen(q, s);
        break;
    case RUN_OP_CONNECT:
        op_connect(q, s);
        break;
    case RUN_OP_GETSOCKNAME:
    case RUN_OP_GETPEERNAME:
        r = req->op == RUN_OP_GETSOCKNAME
                ? ns_getsockname(rs->st, s->nsfd, (struct sockaddr *)name, &nlen)
                : ns_getpeername(rs->st, s->nsfd, (struct sockaddr *)name, &nlen);
        req_reply(q, r, name, r < 0 ? 0 : nlen);
        break;
    case RUN_OP_SETSOCKOPT:
        op_setsockopt(q, s);
        break;
    case RUN_OP_GETSOCKOPT:
        op_getsockopt(q, s);
        break;
    case RUN_OP_SHUTDOWN:
        op_shutdown(q, s);
        break;
    case RUN_OP_SENDMSG:
        op_sendmsg(q, s);
        break;
    case RUN_OP_ERROR:
        r = s->error;
        s->error = 0;
        req_reply(q, r, NULL, 0);
        break;
    case RUN_OP_MORE:
        op_more(q, s);
        break;
    default:
        errno = EINVAL;
        req_reply(q, -1, NULL, 0);
        break;
    }
}

/* ---- control connections ------------------------------------------------------------------ */

static void chan_close(struct run_stack *rs, struct chan *c)
{
    /* Blocking connects it waited for go on without an answer. */
    for (uint32_t i = 0; i < rs->n_slots; i++)
        if (rs->slots[i] && rs->slots[i]->waiter == c)
            rs->slots[i]->waiter = NULL;
    epoll_ctl(rs->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        rs->chans = c->next;
    if (c->next)
        c->next->prev = c->prev;
    rs->n_chans--;
    c->gone = true;
    c->next = rs->gone_chans;
    rs->gone_chans = c;
}

static void chan_accept(struct run_stack *rs)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(rs->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct chan *c = rs->n_chans < RUN_CHAN_MAX ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            rs->stats.chan_refused++;
            close(fd);
            continue;
        }
        /* A whole datagram fits in one reply. */
        set_sndbuf(fd, 4 * RUN_DATA_MAX);
        c->w.type = W_CHAN;
        c->fd = fd;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &c->w};
        if (epoll_ctl(rs->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = rs->chans;
        if (rs->chans)
            rs->chans->prev = c;
        rs->chans = c;
        rs->n_chans++;
    }
}

/* One request from c (SOCK_SEQPACKET: one message each). */
static void chan_read(struct run_stack *rs, struct chan *c)
{
    struct run_req req;
    uint8_t *data = rs->reqbuf;
    struct iovec iov[2] = {{&req, sizeof(req)}, {data, RUN_DATA_MAX}};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * 4)];
    } cm;
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = cm.buf,
                       .msg_controllen = sizeof(cm.buf)};
    ssize_t n = recvmsg(c->fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    int fd_in = -1;
    for (struct cmsghdr *h = n > 0 ? CMSG_FIRSTHDR(&m) : NULL; h; h = CMSG_NXTHDR(&m, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t j = 0; j < k; j++) {
            int fd;
            memcpy(&fd, CMSG_DATA(h) + j * sizeof(int), sizeof(int));
            if (fd_in < 0)
                fd_in = fd;
            else
                close(fd); /* one descriptor per request */
        }
    }
    if (n <= 0 || (size_t)n < sizeof(req) || req.len != (size_t)n - sizeof(req) ||
        (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || req.op == 0 || req.op >= RUN_OP__COUNT) {
        if (n > 0)
            rs->stats.bad_requests++;
        if (fd_in >= 0)
            close(fd_in);
        chan_close(rs, c); /* closed by the thread, or not speaking the protocol */
        return;
    }
    struct req_ctx q = {.rs = rs, .c = c, .req = &req, .data = data, .fd_in = fd_in};
    handle_request(&q);
    if (q.fd_in >= 0)
        close(q.fd_in);
}

/* ---- the epoll set --------------------------------------------------------------------------- */

static void sock_event(struct run_stack *rs, struct sock *s, uint32_t ev)
{
    switch (s->state) {
    case S_CONNECTED:
        if (ev & EPOLLHUP)
            s->prog_hup = true;
        if ((ev & EPOLLOUT) && s->out_blocked) {
            s->out_blocked = false;
            if (!net_to_prog(rs, s))
                return;
        }
        if (ev & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR))
            prog_to_net(rs, s);
        else
            sock_rewatch(rs, s);
        return;
    case S_DGRAM:
        if ((ev & EPOLLOUT) && s->out_blocked) {
            s->out_blocked = false;
            dgram_to_prog(rs, s);
        }
        if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
            dgram_from_prog(rs, s, ev);
        return;
    case S_LISTENING:
        if (ev & (EPOLLHUP | EPOLLERR)) {
            sock_retire(rs, s, false); /* closing a listener resets what it held */
            return;
        }
        if (ev & EPOLLOUT)
            listener_accept(rs, s);
        return;
    case S_FRESH:
        if (ev & (EPOLLHUP | EPOLLERR))
            sock_retire(rs, s, false);
        return;
    case S_CONNECTING:
        return; /* we hold the program's end: no HUP before the end of the handshake */
    }
}

static void on_epoll(void *ctx, int fd, uint32_t events)
{
    (void)fd;
    (void)events;
    struct run_stack *rs = ctx;
    struct epoll_event ev[RUN_EVENTS];
    int n = epoll_wait(rs->epfd, ev, RUN_EVENTS, 0);
    for (int i = 0; i < n; i++) {
        struct watch *w = ev[i].data.ptr;
        switch (w->type) {
        case W_CTL:
            chan_accept(rs);
            break;
        case W_CHAN:
            if (!((struct chan *)w)->gone)
                chan_read(rs, (struct chan *)w);
            break;
        case W_SOCK:
            if (!((struct sock *)w)->gone)
                sock_event(rs, (struct sock *)w, ev[i].events);
            break;
        }
    }
    if (n == RUN_EVENTS)
        rs->more = true;
    reap(rs);
}

/* ---- the pump ------------------------------------------------------------------------------- */

/* What s waits for from the stack now (0: nothing). */
static short sock_wants(const struct sock *s)
{
    switch (s->state) {
    case S_CONNECTING:
        return POLLOUT;
    case S_CONNECTED: {
        short want = 0;
        if (!s->out_blocked && !s->net_eof && !s->prog_no_read)
            want |= POLLIN;
        /* TCP's room for what waits in s->in, or what is left in the pair
         * after the program closed. */
        if (s->in_len || (s->prog_hup && !s->prog_eof))
            want |= POLLOUT;
        return want;
    }
    case S_LISTENING:
        return s->handoff ? 0 : POLLIN;
    case S_DGRAM:
        return s->out_blocked ? 0 : POLLIN;
    default:
        return 0;
    }
}

static void sock_ready(struct run_stack *rs, struct sock *s, short revents)
{
    switch (s->state) {
    case S_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof(err);
        ns_getsockopt(rs->st, s->nsfd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (!err && (revents & POLLHUP))
            err = ECONNABORTED; /* shut down while connecting */
        connect_done(rs, s, err);
        return;
    }
    case S_CONNECTED:
        if ((revents & (POLLOUT | POLLERR | POLLHUP)) && (s->in_len || s->prog_hup)) {
            if (!prog_to_net(rs, s))
                return;
        }
        if (revents & (POLLIN | POLLERR | POLLHUP | POLLRDHUP))
            net_to_prog(rs, s);
        return;
    case S_LISTENING:
        listener_accept(rs, s);
        return;
    case S_DGRAM:
        dgram_to_prog(rs, s);
        return;
    default:
        return;
    }
}

bool run_stack_pump(struct run_stack *rs)
{
    rs->more = false;
    if (rs->cap_pfd < rs->n_socks) {
        size_t cap = rs->n_socks * 2;
        struct pollfd *p = realloc(rs->pfd, cap * sizeof(*p));
        if (p)
            rs->pfd = p;
        struct sock **q = realloc(rs->pfd_sock, cap * sizeof(*q));
        if (q)
            rs->pfd_sock = q;
        if (p && q)
            rs->cap_pfd = cap;
    }
    uint64_t now = ns_clock_now_us();
    size_t n = 0;
    for (uint32_t i = 0; i < rs->n_slots && n < rs->cap_pfd; i++) {
        struct sock *s = rs->slots[i];
        if (!s)
            continue;
        if (s->waiter && now >= s->wait_deadline) {
            /* SO_SNDTIMEO passed: the blocking connect says EINPROGRESS,
             * the handshake goes on. */
            reply_waiter(rs, s, -1, EINPROGRESS);
        }
        short want = sock_wants(s);
        if (!want)
            continue;
        rs->pfd[n] = (struct pollfd){.fd = s->nsfd, .events = want};
        rs->pfd_sock[n++] = s;
    }
    if (n && ns_poll(rs->st, rs->pfd, (nfds_t)n, 0) > 0) {
        for (size_t i = 0; i < n; i++) {
            struct sock *s = rs->pfd_sock[i];
            if (rs->pfd[i].revents && !s->gone)
                sock_ready(rs, s, rs->pfd[i].revents);
        }
    }
    reap(rs);
    return rs->more;
}

uint64_t run_stack_deadline(const struct run_stack *rs)
{
    uint64_t d = NS_TIME_NEVER;
    for (uint32_t i = 0; i < rs->n_slots; i++) {
        const struct sock *s = rs->slots[i];
        if (s && s->waiter && s->wait_deadline < d)
            d = s->wait_deadline;
    }
    return d;
}

size_t run_stack_busy(const struct run_stack *rs) { return rs->n_socks; }

void run_stack_get_stats(const struct run_stack *rs, struct run_stack_stats *out)
{
    *out = rs->stats;
}

const char *run_stack_ctl_name(const struct run_stack *rs) { return rs->ctl_name; }

/* ---- life ---------------------------------------------------------------------------------- */

struct run_stack *run_stack_new(struct ns_stack *st, struct ns_loop *loop, int *err)
{
    struct run_stack *rs = calloc(1, sizeof(*rs));
    if (!rs) {
        *err = -ENOMEM;
        return NULL;
    }
    rs->st = st;
    rs->loop = loop;
    rs->pid = (long)getpid();
    rs->ctl_fd = rs->epfd = -1;
    rs->ctl_w.type = W_CTL;
    rs->scratch = malloc(RUN_SCRATCH);
    rs->reqbuf = malloc(RUN_DATA_MAX);
    rs->dead = calloc(RUN_DEAD_MAX, sizeof(*rs->dead));
    if (!rs->scratch || !rs->reqbuf || !rs->dead) {
        *err = -ENOMEM;
        goto fail;
    }
    snprintf(rs->ctl_name, sizeof(rs->ctl_name), RUN_NAME_PREFIX "%ld", rs->pid);
    rs->epfd = epoll_create1(EPOLL_CLOEXEC);
    rs->ctl_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (rs->epfd < 0 || rs->ctl_fd < 0) {
        *err = -errno;
        goto fail;
    }
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t nlen = strlen(rs->ctl_name);
    memcpy(sun.sun_path + 1, rs->ctl_name, nlen);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + nlen);
    if (bind(rs->ctl_fd, (struct sockaddr *)&sun, len) < 0 || listen(rs->ctl_fd, 1024) < 0) {
        *err = -errno;
        goto fail;
    }
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &rs->ctl_w};
    if (epoll_ctl(rs->epfd, EPOLL_CTL_ADD, rs->ctl_fd, &e) < 0) {
        *err = -errno;
        goto fail;
    }
    int r = ns_loop_add_fd(loop, rs->epfd, EPOLLIN, on_epoll, rs);
    if (r < 0) {
        *err = r;
        goto fail;
    }
    return rs;
fail:
    if (rs->ctl_fd >= 0)
        close(rs->ctl_fd);
    if (rs->epfd >= 0)
        close(rs->epfd);
    free(rs->scratch);
    free(rs->reqbuf);
    free(rs->dead);
    free(rs);
    return NULL;
}

void run_stack_free(struct run_stack *rs)
{
    if (!rs)
        return;
    ns_loop_del_fd(rs->loop, rs->epfd);
    for (uint32_t i = 0; i < rs->n_slots; i++)
        if (rs->slots[i])
            sock_retire(rs, rs->slots[i], false);
    while (rs->chans)
        chan_close(rs, rs->chans);
    reap(rs);
    close(rs->ctl_fd);
    close(rs->epfd);
    free(rs->slots);
    free(rs->gens);
    free(rs->free_slots);
    free(rs->pfd);
    free(rs->pfd_sock);
    free(rs->scratch);
    free(rs->reqbuf);
    free(rs->dead);
    free(rs);
}
