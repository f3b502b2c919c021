/* preload/preload.c — the interposition library of `netsock run`: loaded
 * into a program with LD_PRELOAD, it defines the socket calls in place of
 * glibc's and makes AF_INET and AF_INET6 sockets netsock's.
 *
 * Read first: preload/run_proto.h (what a netsock descriptor is, and the
 * requests), docs/run.md (the design and its limits).
 *
 * A netsock socket is a kernel AF_UNIX socket whose peer the stack
 * process holds, so every call that works on any descriptor — dup, dup2,
 * close, fcntl, fork, exec, select, poll, epoll, read, write, sendfile,
 * splice, FIONREAD, FIONBIO — works on it with no code here. What is here:
 *
 *   - the socket calls proper (socket, bind, listen, accept, connect,
 *     names, options, shutdown): requests to the stack process over this
 *     thread's control connection;
 *   - datagrams: a UDP socket's pair carries a struct run_dgram header
 *     before each datagram, which the receive calls take off (and turn
 *     into the source address and control messages); sends go to the
 *     stack process as requests, so their errors are the stack's, at once;
 *   - the ends of streams: read() returning 0 on a netsock TCP socket
 *     that the kernel shows shut both ways (POLLHUP) asks the stack why —
 *     a reset or a timeout becomes ECONNRESET or ETIMEDOUT, once, as on
 *     Linux; a write failing with EPIPE asks the same (and raises SIGPIPE
 *     only when Linux would).
 *
 * Which descriptors are netsock's: getsockname(2) of one tells (its
 * abstract name, run_proto.h), whatever process holds it and however it
 * got there. The calls on the data path (read, write, send, recv and
 * their vector forms) must not pay a system call for that on every
 * descriptor, so a table by descriptor number remembers the kinds of
 * those this process made, accepted, duplicated or inherited (rebuilt
 * at start, so after exec too). A descriptor the table does not know is
 * passed to glibc: a TCP one then works as it is (the stack's side is
 * the same), a UDP one loses only the datagram headers' meaning.
 *
 * Threads: one control connection per thread (requests of different
 * threads never interleave, and one blocked in connect holds up no
 * other), made on first use, after fork made again, closed when the
 * thread ends. Its descriptor sits high (F_DUPFD from RUN_CHAN_FD_MIN)
 * out of the way of the program's own numbers, and is checked (its inode)
 * before each use in case the program closed or replaced it.
 */
#include "preload.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "run_proto.h"

/* glibc declares the address arguments of the socket calls as
 * transparent unions under _GNU_SOURCE (sys/socket.h): our definitions
 * take the same types and reach the pointer inside. */
#if !defined __cplusplus && defined __GNUC__ && defined __USE_GNU
#define SA_PTR(a) ((a).__sockaddr__)
#else
#define SA_PTR(a) (a)
#endif

#define FDTAB_MAX 65536       /* descriptors the kind table covers */
#define RUN_CHAN_FD_MIN 900   /* control connections go at or above this */
#define CHAN_REG_MAX 4096     /* control connections the fork handler knows */

/* ---- glibc's own functions ---------------------------------------------------------------- */

PRELOAD_HIDDEN void *preload_next(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        fprintf(stderr, "netsock preload: no %s in the C library\n", name);
        abort();
    }
    return p;
}

/* glibc's function `name`, looked up once (real_NAME holds it). */
static void *real_get(void **slot, const char *name)
{
    void *p = *slot;
    if (!p) {
        p = preload_next(name);
        *slot = p;
    }
    return p;
}
#define REAL(name) ((__typeof__(real_##name))real_get((void **)(void *)&real_##name, #name))

static int (*real_socket)(int, int, int);
static int (*real_bind)(int, __CONST_SOCKADDR_ARG, socklen_t);
static int (*real_listen)(int, int);
static int (*real_accept)(int, __SOCKADDR_ARG, socklen_t *);
static int (*real_accept4)(int, __SOCKADDR_ARG, socklen_t *, int);
static int (*real_connect)(int, __CONST_SOCKADDR_ARG, socklen_t);
static int (*real_getsockname)(int, __SOCKADDR_ARG, socklen_t *);
static int (*real_getpeername)(int, __SOCKADDR_ARG, socklen_t *);
static int (*real_getsockopt)(int, int, int, void *, socklen_t *);
static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
static int (*real_shutdown)(int, int);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int, __CONST_SOCKADDR_ARG, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static int (*real_sendmmsg)(int, struct mmsghdr *, unsigned int, int);
static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, __SOCKADDR_ARG, socklen_t *);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
static int (*real_recvmmsg)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_readv)(int, const struct iovec *, int);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_close)(int);
static int (*real_dup)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);
static int (*real_fcntl)(int, int, ...);
static int (*real_fcntl64)(int, int, ...);
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_close_range)(unsigned int, unsigned int, int);
static ssize_t (*real_sendfile)(int, int, off_t *, size_t);
static ssize_t (*real_sendfile64)(int, int, off64_t *, size_t);
static ssize_t (*real_splice)(int, loff_t *, int, loff_t *, size_t, unsigned int);

/* ---- state --------------------------------------------------------------------------------- */

static bool active;
static char ctl_name[64];     /* the control socket's abstract name, no NUL */
static char name_prefix[72];  /* "netsock-run-PID/": our sockets' names begin so */
static size_t name_prefix_len;
static _Atomic unsigned char fdkind[FDTAB_MAX]; /* RUN_KIND_* of netsock descriptors, else 0 */
/* Per-descriptor state of a netsock TCP socket the library acts on. */
#define FD_INQ 0x01    /* TCP_INQ is on: recvmsg adds TCP_CM_INQ (put_inq) */
#define FD_TS 0x02     /* SO_TIMESTAMP: recvmsg adds SCM_TIMESTAMP (put_stamp) */
#define FD_TSNS 0x04   /* SO_TIMESTAMPNS: ... SCM_TIMESTAMPNS */
#define FD_MORE 0x08   /* the last send said MSG_MORE (the stack was told: RUN_OP_MORE) */
static _Atomic unsigned char fdbits[FDTAB_MAX];

PRELOAD_HIDDEN bool preload_active(void) { return active; }

static unsigned char kind_get(int fd)
{
    return fd >= 0 && fd < FDTAB_MAX ? atomic_load_explicit(&fdkind[fd], memory_order_relaxed) : 0;
}

static void kind_set(int fd, unsigned char k)
{
    if (fd >= 0 && fd < FDTAB_MAX) {
        if (atomic_load_explicit(&fdkind[fd], memory_order_relaxed) != k)
            atomic_store_explicit(&fdbits[fd], 0, memory_order_relaxed);
        atomic_store_explicit(&fdkind[fd], k, memory_order_relaxed);
    }
}

static unsigned bits_get(int fd)
{
    return fd >= 0 && fd < FDTAB_MAX ? atomic_load_explicit(&fdbits[fd], memory_order_relaxed) : 0;
}

static void bits_put(int fd, unsigned bits)
{
    if (fd >= 0 && fd < FDTAB_MAX)
        atomic_store_explicit(&fdbits[fd], (unsigned char)bits, memory_order_relaxed);
}

/* Turn `bit` on or off for fd. */
static void bit_set(int fd, unsigned bit, bool on)
{
    bits_put(fd, on ? bits_get(fd) | bit : bits_get(fd) & ~bit);
}

/* dup and its kin: fd2 is now what fd is. */
static void kind_copy(int fd2, int fd)
{
    kind_set(fd2, 0);
    kind_set(fd2, kind_get(fd));
    bits_put(fd2, bits_get(fd));
}

/* What fd is, from its name: RUN_KIND_* with *id, or 0 for a descriptor
 * that is not a netsock socket (any other socket, file, pipe, or none).
 * Keeps errno. */
static int classify(int fd, uint64_t *id)
{
    if (!active || fd < 0)
        return 0;
    int saved = errno;
    struct sockaddr_un sun;
    socklen_t len = sizeof(sun);
    int k = 0;
    if (REAL(getsockname)(fd, (struct sockaddr *)&sun, &len) == 0 && sun.sun_family == AF_UNIX &&
        len > offsetof(struct sockaddr_un, sun_path) + 1 + name_prefix_len && !sun.sun_path[0] &&
        !memcmp(sun.sun_path + 1, name_prefix, name_prefix_len)) {
        size_t n = len - offsetof(struct sockaddr_un, sun_path) - 1 - name_prefix_len;
        const char *p = sun.sun_path + 1 + name_prefix_len;
        uint64_t v = 0;
        size_t i = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            v = v * 10 + (uint64_t)(p[i++] - '0');
        if (i > 0 && i + 2 == n && p[i] == '.' &&
            (p[i + 1] == RUN_KIND_STREAM || p[i + 1] == RUN_KIND_LISTEN || p[i + 1] == RUN_KIND_DGRAM)) {
            k = p[i + 1];
            *id = v;
        }
    }
    kind_set(fd, (unsigned char)k);
    errno = saved;
    return k;
}

/* ---- control connections ------------------------------------------------------------------- */

struct chan {
    int fd;
    pid_t pid;
    dev_t dev;
    ino_t ino;
    uint32_t seq;
    bool busy; /* a request in progress (a signal handler's call takes another connection) */
};

static __thread struct chan tchan = {.fd = -1};
static pthread_key_t chan_key;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static int reg_fds[CHAN_REG_MAX]; /* every thread's connection, for the fork child */
static int reg_n;

static void reg_add(int fd)
{
    pthread_mutex_lock(&reg_mu);
    if (reg_n < CHAN_REG_MAX)
        reg_fds[reg_n++] = fd;
    pthread_mutex_unlock(&reg_mu);
}

static void reg_del(int fd)
{
    pthread_mutex_lock(&reg_mu);
    for (int i = 0; i < reg_n; i++) {
        if (reg_fds[i] == fd) {
            reg_fds[i] = reg_fds[--reg_n];
            break;
        }
    }
    pthread_mutex_unlock(&reg_mu);
}

static void chan_drop(struct chan *c)
{
    if (c->fd >= 0) {
        reg_del(c->fd);
        REAL(close)(c->fd);
    }
    c->fd = -1;
}

/* The thread ends: its connection goes (the key's value is fd + 1). */
static void chan_key_gone(void *v)
{
    int fd = (int)(intptr_t)v - 1;
    if (fd >= 0 && tchan.fd == fd)
        chan_drop(&tchan);
}

static void atfork_prepare(void) { pthread_mutex_lock(&reg_mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&reg_mu); }

/* In the child: the connections are the parent's (the same kernel
 * sockets); ours are made afresh on first use. */
static void atfork_child(void)
{
    for (int i = 0; i < reg_n; i++)
        REAL(close)(reg_fds[i]);
    reg_n = 0;
    pthread_mutex_unlock(&reg_mu);
    tchan.fd = -1;
    tchan.busy = false;
}

static int chan_open(struct chan *c)
{
    int fd = REAL(socket)(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t n = strlen(ctl_name);
    memcpy(sun.sun_path + 1, ctl_name, n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    int r;
    do
        r = REAL(connect)(fd, (struct sockaddr *)&sun, len);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno;
        REAL(close)(fd);
        return -e;
    }
    /* Out of the way of the program's small numbers. */
    struct rlimit rl;
    int base = RUN_CHAN_FD_MIN;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)base * 2)
        base = (int)(rl.rlim_cur * 3 / 4);
    if (fd < base) {
        int hi = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, base);
        if (hi >= 0) {
            REAL(close)(fd);
            fd = hi;
        }
    }
    struct stat sb;
    fstat(fd, &sb);
    c->fd = fd;
    c->pid = getpid();
    c->dev = sb.st_dev;
    c->ino = sb.st_ino;
    reg_add(fd);
    return 0;
}

/* This thread's connection, checked: made after a fork, or when the
 * program closed (or replaced) the descriptor. */
static int chan_get(struct chan *c)
{
    if (c->fd >= 0) {
        struct stat sb;
        if (c->pid == getpid() && fstat(c->fd, &sb) == 0 && sb.st_ino == c->ino && sb.st_dev == c->dev)
            return 0;
        if (c->pid == getpid())
            reg_del(c->fd); /* not ours any more: never close it */
        c->fd = -1;
    }
    int r = chan_open(c);
    if (r == 0 && c == &tchan)
        pthread_setspecific(chan_key, (void *)(intptr_t)(c->fd + 1));
    return r;
}

/* One request and its answer. */
struct call {
    uint32_t op;
    uint64_t id;
    int32_t arg[4];
    const struct iovec *data; /* the request's data, in pieces */
    int n_data;
    int send_fd;              /* a descriptor to pass, or -1 */
    bool interruptible;       /* a signal may end the wait (blocking connect) */
    /* the answer */
    struct run_rep rep;
    void *buf;                /* for the answer's data */
    size_t cap;
    int recv_flags;           /* MSG_CMSG_CLOEXEC for a new descriptor */
    int fd;                   /* a descriptor that came with it, or -1 */
};

static ssize_t chan_roundtrip(struct chan *c, struct call *k)
{
    struct run_req req = {.op = k->op, .seq = ++c->seq, .id = k->id};
    memcpy(req.arg, k->arg, sizeof(req.arg));
    struct iovec iov[8];
    iov[0] = (struct iovec){&req, sizeof(req)};
    size_t total = 0;
    int n = 1;
    for (int i = 0; i < k->n_data && n < 8; i++) {
        iov[n++] = k->data[i];
        total += k->data[i].iov_len;
    }
    if (total > RUN_DATA_MAX)
        return -EMSGSIZE;
    req.len = (uint32_t)total;
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int))];
    } cm;
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    if (k->send_fd >= 0) {
        memset(&cm, 0, sizeof(cm));
        m.msg_control = cm.b;
        m.msg_controllen = sizeof(cm.b);
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &k->send_fd, sizeof(int));
    }
    ssize_t r;
    do
        r = REAL(sendmsg)(c->fd, &m, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    for (;;) {
        struct iovec riov[2] = {{&k->rep, sizeof(k->rep)}, {k->buf, k->cap}};
        struct msghdr rm = {.msg_iov = riov, .msg_iovlen = k->cap ? 2 : 1, .msg_control = cm.b,
                            .msg_controllen = sizeof(cm.b)};
        r = REAL(recvmsg)(c->fd, &rm, k->recv_flags);
        if (r < 0) {
            if (errno == EINTR && !k->interruptible)
                continue;
            return -errno; /* EINTR: the answer, when it comes, is skipped by its seq */
        }
        if (r == 0)
            return -EIO; /* the stack process is gone */
        int fd = -1;
        struct cmsghdr *h = CMSG_FIRSTHDR(&rm);
        if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
            h->cmsg_len >= CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(h), sizeof(int));
        if ((size_t)r < sizeof(k->rep) || k->rep.seq != req.seq) {
            if (fd >= 0)
                REAL(close)(fd); /* the answer to a call a signal ended */
            continue;
        }
        k->fd = fd;
        return r - (ssize_t)sizeof(k->rep);
    }
}

/* Make the call k: returns the answer's data length (its return value in
 * k->rep), or -1 with errno when the stack process cannot be reached or
 * (interruptible calls) a signal came. */
static ssize_t call(struct call *k)
{
    k->fd = -1;
    struct chan tmp = {.fd = -1}, *c = &tchan;
    if (c->busy)
        c = &tmp; /* a signal handler's call while this thread waits for one */
    int r = chan_get(c);
    if (r < 0) {
        errno = r == -ENOENT || r == -ECONNREFUSED ? ENETDOWN : -r;
        return -1;
    }
    c->busy = true;
    ssize_t n = chan_roundtrip(c, k);
    c->busy = false;
    if (c == &tmp)
        chan_drop(&tmp);
    if (n < 0) {
        if (n != -EINTR && c == &tchan)
            chan_drop(c);
        errno = n == -EINTR ? EINTR : n == -EMSGSIZE ? EMSGSIZE : EIO;
        return -1;
    }
    return n;
}

/* The call's result as the libc function returns it: -1 and errno, or
 * the stack's return value. */
static int call_result(struct call *k)
{
    if (k->rep.ret < 0) {
        errno = k->rep.err;
        return -1;
    }
    return k->rep.ret;
}

/* A call with at most one piece of data and no answer data. */
static int simple(uint32_t op, uint64_t id, int a0, int a1, const void *data, size_t len)
{
    struct iovec d = {(void *)(uintptr_t)data, len};
    struct call k = {.op = op, .id = id, .arg = {a0, a1}, .data = &d, .n_data = len ? 1 : 0,
                     .send_fd = -1};
    if (call(&k) < 0)
        return -1;
    return call_result(&k);
}

/* The socket's pending error, taken (0: none). */
static int take_error(uint64_t id)
{
    int r = simple(RUN_OP_ERROR, id, 0, 0, NULL, 0);
    return r > 0 ? r : 0;
}

/* Copy an address out as the kernel's move_addr_to_user does. */
static int put_addr(struct sockaddr *out, socklen_t *outlen, const void *addr, size_t len)
{
    if (!out)
        return 0;
    if (!outlen) {
        errno = EFAULT;
        return -1;
    }
    if ((int)*outlen < 0) {
        errno = EINVAL;
        return -1;
    }
    size_t n = *outlen < len ? *outlen : len;
    memcpy(out, addr, n);
    *outlen = (socklen_t)len;
    return 0;
}

/* ---- start ----------------------------------------------------------------------------------- */

/* The kinds of the netsock descriptors we were given (after exec: the
 * table is new, the descriptors are not). */
static void table_rebuild(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        uint64_t id;
        if (!*end && fd >= 0 && fd != dirfd(d))
            classify((int)fd, &id);
    }
    closedir(d);
}

__attribute__((constructor)) static void preload_init(void)
{
    const char *ctl = getenv(RUN_ENV_CTL);
    if (!ctl || !*ctl || strlen(ctl) >= 48)
        return;
    snprintf(ctl_name, sizeof(ctl_name), "%s", ctl);
    name_prefix_len = (size_t)snprintf(name_prefix, sizeof(name_prefix), "%s/", ctl);
    if (pthread_key_create(&chan_key, chan_key_gone) != 0)
        return;
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    active = true;
    table_rebuild();
}

/* ---- socket, bind, listen, accept, connect ---------------------------------------------------- */

/* The options the library keeps on the program's end of the pair (where
 * a blocking call blocks) go from descriptor `from` to `to`: a listener's
 * new pair takes them from the stream it replaces, an accepted
 * connection from its listener (Linux sk_clone_lock copies them). */
static void end_opts_copy(int to, int from)
{
    static const int names[] = {SO_RCVTIMEO, SO_SNDTIMEO, SO_RCVLOWAT};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct timeval v;
        socklen_t l = sizeof(v);
        if (REAL(getsockopt)(from, SOL_SOCKET, names[i], &v, &l) == 0)
            REAL(setsockopt)(to, SOL_SOCKET, names[i], &v, l);
    }
}

int socket(int domain, int type, int protocol)
{
    if (!active || (domain != AF_INET && domain != AF_INET6))
        return REAL(socket)(domain, type, protocol);
    struct call k = {.op = RUN_OP_SOCKET, .arg = {domain, type, protocol}, .send_fd = -1,
                     .recv_flags = (type & SOCK_CLOEXEC) ? MSG_CMSG_CLOEXEC : 0};
    if (call(&k) < 0)
        return -1;
    if (call_result(&k) < 0) {
        if (k.fd >= 0)
            REAL(close)(k.fd);
        return -1;
    }
    if (k.fd < 0) {
        errno = EIO;
        return -1;
    }
    if (type & SOCK_NONBLOCK)
        REAL(fcntl)(k.fd, F_SETFL, O_RDWR | O_NONBLOCK);
    kind_set(k.fd, (unsigned char)k.rep.arg[0]);
    return k.fd;
}

int bind(int fd, __CONST_SOCKADDR_ARG addr_arg, socklen_t len)
{
    uint64_t id;
    const struct sockaddr *addr = SA_PTR(addr_arg);
    if (!classify(fd, &id))
        return REAL(bind)(fd, addr_arg, len);
    if (len > sizeof(struct sockaddr_storage)) {
        errno = EINVAL; /* move_addr_to_kernel */
        return -1;
    }
    if (len && !addr) {
        errno = EFAULT;
        return -1;
    }
    return simple(RUN_OP_BIND, id, 0, 0, addr, len);
}

int listen(int fd, int backlog)
{
    uint64_t id;
    if (!classify(fd, &id))
        return REAL(listen)(fd, backlog);
    struct call k = {.op = RUN_OP_LISTEN, .id = id, .arg = {backlog}, .send_fd = -1,
                     .recv_flags = MSG_CMSG_CLOEXEC};
    if (call(&k) < 0)
        return -1;
    int r = call_result(&k);
    if (k.fd >= 0) {
        /* The listener's own pair takes the place of the stream, with
         * the descriptor's flags. */
        int fl = REAL(fcntl)(fd, F_GETFL);
        int fdfl = REAL(fcntl)(fd, F_GETFD);
        if (fl >= 0 && (fl & O_NONBLOCK))
            REAL(fcntl)(k.fd, F_SETFL, O_RDWR | O_NONBLOCK);
        end_opts_copy(k.fd, fd);
        unsigned bits = bits_get(fd);
        if (REAL(dup3)(k.fd, fd, fdfl >= 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) >= 0) {
            kind_set(fd, RUN_KIND_LISTEN);
            bits_put(fd, bits & (FD_INQ | FD_TS | FD_TSNS)); /* for what it accepts */
        }
        REAL(close)(k.fd);
    }
    return r;
}

int accept4(int fd, __SOCKADDR_ARG addr_arg, socklen_t *alen, int flags)
{
    uint64_t id;
    int kind = classify(fd, &id);
    if (!kind)
        return REAL(accept4)(fd, addr_arg, alen, flags);
    struct sockaddr *addr = SA_PTR(addr_arg);
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
        errno = EINVAL;
        return -1;
    }
    if (kind != RUN_KIND_LISTEN) {
        errno = kind == RUN_KIND_DGRAM ? EOPNOTSUPP : EINVAL; /* not listening */
        return -1;
    }
    /* One record per connection, with its descriptor: a blocking accept
     * blocks here in the kernel (signals, SA_RESTART, SO_RCVTIMEO and
     * O_NONBLOCK act as on accept), and of several processes waiting on
     * one listener exactly one gets each connection. */
    struct run_accept rec;
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int))];
    } cm;
    for (;;) {
        struct iovec iov = {&rec, sizeof(rec)};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
                           .msg_controllen = sizeof(cm.b)};
        ssize_t n = REAL(recvmsg)(fd, &m, (flags & SOCK_CLOEXEC) ? MSG_CMSG_CLOEXEC : 0);
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EINVAL; /* shut down: not listening any more */
            return -1;
        }
        int nfd = -1;
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
            memcpy(&nfd, CMSG_DATA(h), sizeof(int));
        if (nfd < 0 || (size_t)n != sizeof(rec)) {
            if (nfd >= 0)
                REAL(close)(nfd);
            if (m.msg_flags & MSG_CTRUNC) {
                errno = EMFILE; /* the descriptor could not be installed */
                return -1;
            }
            continue;
        }
        if (flags & SOCK_NONBLOCK)
            REAL(fcntl)(nfd, F_SETFL, O_RDWR | O_NONBLOCK);
        kind_set(nfd, RUN_KIND_STREAM);
        end_opts_copy(nfd, fd);
        bits_put(nfd, bits_get(fd) & (FD_INQ | FD_TS | FD_TSNS));
        size_t plen = rec.peerlen <= sizeof(rec.peer) ? rec.peerlen : sizeof(rec.peer);
        if (put_addr(addr, alen, &rec.peer, plen) < 0) {
            REAL(close)(nfd);
            return -1;
        }
        return nfd;
    }
}

int accept(int fd, __SOCKADDR_ARG addr, socklen_t *alen)
{
    uint64_t id;
    if (!classify(fd, &id))
        return REAL(accept)(fd, addr, alen);
    return accept4(fd, addr, alen, 0);
}

static int connect_stream(int fd, uint64_t id, const struct sockaddr *addr, socklen_t len, bool retried)
{
    int fl = REAL(fcntl)(fd, F_GETFL);
    bool nonblock = fl >= 0 && (fl & O_NONBLOCK);
    struct iovec d = {(void *)(uintptr_t)addr, len};
    struct call k = {.op = RUN_OP_CONNECT, .id = id, .arg = {nonblock}, .data = &d, .n_data = 1,
                     .send_fd = fd, .interruptible = !nonblock};
    if (call(&k) < 0)
        return -1; /* EINTR: the handshake goes on, as Linux's */
    if (k.rep.ret < 0 && k.rep.err == ESTALE && !retried) {
        /* A connect that failed before: Linux lets the socket try again.
         * A new socket takes the old one's place. */
        int fdfl = REAL(fcntl)(fd, F_GETFD);
        int domain = k.rep.arg[0] == AF_INET6 ? AF_INET6 : AF_INET;
        int nfd = socket(domain, SOCK_STREAM | (fdfl >= 0 && (fdfl & FD_CLOEXEC) ? SOCK_CLOEXEC : 0) |
                                      (nonblock ? SOCK_NONBLOCK : 0), 0);
        if (nfd < 0)
            return -1;
        int r = REAL(dup3)(nfd, fd, fdfl >= 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0);
        REAL(close)(nfd);
        if (r < 0)
            return -1;
        uint64_t nid;
        if (classify(fd, &nid) != RUN_KIND_STREAM) {
            errno = EIO;
            return -1;
        }
        return connect_stream(fd, nid, addr, len, true);
    }
    return call_result(&k);
}

int connect(int fd, __CONST_SOCKADDR_ARG addr_arg, socklen_t len)
{
    uint64_t id;
    int kind = classify(fd, &id);
    if (!kind)
        return REAL(connect)(fd, addr_arg, len);
    const struct sockaddr *addr = SA_PTR(addr_arg);
    if (len > sizeof(struct sockaddr_storage)) {
        errno = EINVAL;
        return -1;
    }
    if (len && !addr) {
        errno = EFAULT;
        return -1;
    }
    if (kind == RUN_KIND_STREAM)
        return connect_stream(fd, id, addr, len, false);
    return simple(RUN_OP_CONNECT, id, 1, 0, addr, len);
}

/* ---- names and options ------------------------------------------------------------------------ */

static int get_name(uint32_t op, int fd, uint64_t id, struct sockaddr *addr, socklen_t *alen)
{
    struct sockaddr_storage ss;
    struct call k = {.op = op, .id = id, .send_fd = -1, .buf = &ss, .cap = sizeof(ss)};
    ssize_t n = call(&k);
    (void)fd;
    if (n < 0 || call_result(&k) < 0)
        return -1;
    if (!addr || !alen) {
        errno = EFAULT;
        return -1;
    }
    return put_addr(addr, alen, &ss, (size_t)n);
}

int getsockname(int fd, __SOCKADDR_ARG addr, socklen_t *alen)
{
    uint64_t id;
    if (!classify(fd, &id))
        return REAL(getsockname)(fd, addr, alen);
    return get_name(RUN_OP_GETSOCKNAME, fd, id, SA_PTR(addr), alen);
}

int getpeername(int fd, __SOCKADDR_ARG addr, socklen_t *alen)
{
    uint64_t id;
    if (!classify(fd, &id))
        return REAL(getpeername)(fd, addr, alen);
    return get_name(RUN_OP_GETPEERNAME, fd, id, SA_PTR(addr), alen);
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    uint64_t id;
    if (!classify(fd, &id))
        return REAL(getsockopt)(fd, level, name, val, len);
    if (!len) {
        errno = EFAULT;
        return -1;
    }
    if ((int)*len < 0) {
        errno = EINVAL;
        return -1;
    }
    if (level == SOL_SOCKET && name == SO_ERROR) {
        /* Clear the kernel's own error on our end too (a failed connect
         * leaves ECONNRESET there, to make poll say POLLERR). */
        int e;
        socklen_t el = sizeof(e);
        REAL(getsockopt)(fd, SOL_SOCKET, SO_ERROR, &e, &el);
    }
    uint8_t buf[512];
    struct call k = {.op = RUN_OP_GETSOCKOPT, .id = id, .arg = {level, name, (int)*len},
                     .send_fd = -1, .buf = buf, .cap = sizeof(buf)};
    ssize_t n = call(&k);
    if (n < 0 || call_result(&k) < 0)
        return -1;
    if (n > (ssize_t)*len)
        n = (ssize_t)*len;
    if (n && !val) {
        errno = EFAULT;
        return -1;
    }
    memcpy(val, buf, (size_t)n);
    *len = (socklen_t)n;
    return 0;
}

/* TCP_NOTSENT_LOWAT was set: the stack's TCP takes no more once that
 * many bytes wait unsent, and the program's end of the pair must not
 * hold megabytes more, so its send buffer shrinks to the mark (the kernel
 * doubles it) — or grows back to the pair's own size when the mark is
 * gone (0, or UINT_MAX). */
static void pair_lowat(int fd, const void *val)
{
    unsigned int mark;
    memcpy(&mark, val, sizeof(mark));
    int cur = 0;
    socklen_t cl = sizeof(cur);
    if (REAL(getsockopt)(fd, SOL_SOCKET, SO_SNDBUF, &cur, &cl) < 0 || cur < RUN_PAIR_LOWAT_MIN * 2)
        return; /* not connected yet (the end is kept unwritable): connect sizes it */
    int bytes = run_pair_sndbuf(mark);
    if (REAL(setsockopt)(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) < 0)
        REAL(setsockopt)(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    uint64_t id;
    if (!classify(fd, &id))
        return REAL(setsockopt)(fd, level, name, val, len);
    if ((int)len < 0) {
        errno = EINVAL;
        return -1;
    }
    if (len > 4096) {
        len = 4096; /* no option of the stack's is longer */
    }
    if (len && !val) {
        errno = EFAULT;
        return -1;
    }
    int r = simple(RUN_OP_SETSOCKOPT, id, level, name, val, len);
    if (r == 0 && level == IPPROTO_TCP && name == TCP_NOTSENT_LOWAT && len >= sizeof(int))
        pair_lowat(fd, val);
    if (r == 0 && level == IPPROTO_TCP && name == TCP_INQ && len >= sizeof(int)) {
        int on;
        memcpy(&on, val, sizeof(on));
        bit_set(fd, FD_INQ, on != 0); /* recvmsg adds TCP_CM_INQ (put_inq) */
    }
    if (r == 0 && level == SOL_SOCKET && (name == SO_TIMESTAMP || name == SO_TIMESTAMPNS) &&
        len >= sizeof(int)) {
        int on;
        memcpy(&on, val, sizeof(on));
        /* sock_set_timestamp: one replaces the other. */
        bit_set(fd, FD_TS, name == SO_TIMESTAMP && on);
        bit_set(fd, FD_TSNS, name == SO_TIMESTAMPNS && on);
    }
    if (r == 0 && level == SOL_SOCKET &&
        (name == SO_RCVTIMEO || name == SO_SNDTIMEO || name == SO_RCVLOWAT)) {
        /* Blocking reads and writes happen on our end: they keep these
         * too (accept's wait is a read). */
        REAL(setsockopt)(fd, level, name, val, len);
    }
    return r;
}

int shutdown(int fd, int how)
{
    uint64_t id;
    if (!classify(fd, &id))
        return REAL(shutdown)(fd, how);
    struct call k = {.op = RUN_OP_SHUTDOWN, .id = id, .arg = {how}, .send_fd = -1};
    if (call(&k) < 0)
        return -1;
    if (k.rep.arg[0]) {
        /* The end of the stream must follow the bytes written before:
         * our end carries it, in order. */
        REAL(shutdown)(fd, how);
    }
    return call_result(&k);
}

/* ---- streams: the errors at their ends ------------------------------------------------------- */

/* read() found the end of a netsock TCP stream. A plain end (the peer's
 * FIN) leaves our end writable; a connection that died is shut both ways
 * (POLLHUP): then the stack knows the error, reported once. */
static ssize_t stream_eof(int fd)
{
    struct pollfd p = {.fd = fd, .events = 0};
    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLHUP))
        return 0;
    uint64_t id;
    if (classify(fd, &id) != RUN_KIND_STREAM)
        return 0;
    int e = take_error(id);
    if (e > 0) {
        errno = e;
        return -1;
    }
    return 0;
}

/* A send found EPIPE: the error of a connection that died first (as
 * Linux, no signal), else EPIPE and SIGPIPE unless MSG_NOSIGNAL. */
static ssize_t stream_epipe(int fd, int flags)
{
    uint64_t id;
    if (classify(fd, &id) == RUN_KIND_STREAM) {
        int e = take_error(id);
        if (e > 0) {
            errno = e;
            return -1;
        }
    }
    if (!(flags & MSG_NOSIGNAL))
        raise(SIGPIPE);
    errno = EPIPE;
    return -1;
}

/* MSG_MORE changed on fd's sends: tell the stack (RUN_OP_MORE), which
 * passes it to TCP with the bytes in between. Errors are not the send's:
 * the bytes go anyway, only their segments differ. */
static void stream_more(int fd, bool more)
{
    uint64_t id;
    bit_set(fd, FD_MORE, more);
    if (classify(fd, &id) == RUN_KIND_STREAM) {
        int saved = errno;
        simple(RUN_OP_MORE, id, more, 0, NULL, 0);
        errno = saved;
    }
}

/* write/send/sendmsg on a netsock TCP socket: the kernel's, with
 * MSG_NOSIGNAL so that EPIPE comes back to us first. MSG_OOB: sent as
 * ordinary data (netsock sends no urgent data). MSG_MORE: the stack is
 * told before the first send with it, and after the first without it
 * (once its bytes are in the pair), so TCP holds a small tail as Linux
 * tcp_sendmsg does; sends that keep the flag (or keep without it) cost
 * nothing more. */
static ssize_t stream_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    bool more = flags & MSG_MORE, was = bits_get(fd) & FD_MORE;
    if (more && !was)
        stream_more(fd, true);
    ssize_t r = REAL(sendmsg)(fd, msg, (flags & ~(MSG_OOB | MSG_MORE)) | MSG_NOSIGNAL);
    if (!more && was)
        stream_more(fd, false);
    if (r < 0 && errno == EPIPE)
        return stream_epipe(fd, flags);
    if (r < 0 && errno == ENOTSOCK)
        kind_set(fd, 0);
    return r;
}

/* ---- datagrams ------------------------------------------------------------------------------ */

/* Receive one datagram of a netsock UDP socket: its header off, the
 * address and control messages out. */
static ssize_t dgram_recvmsg(int fd, struct msghdr *msg, int flags)
{
    uint64_t id;
    if (classify(fd, &id) != RUN_KIND_DGRAM)
        return REAL(recvmsg)(fd, msg, flags);
    if (!msg) {
        errno = EFAULT;
        return -1;
    }
    if (msg->msg_iovlen > IOV_MAX - 1) {
        errno = EMSGSIZE;
        return -1;
    }
    if (flags & MSG_ERRQUEUE) {
        errno = EAGAIN; /* no error queue */
        return -1;
    }
    struct run_dgram h;
    struct iovec iov[IOV_MAX];
    iov[0] = (struct iovec){&h, sizeof(h)};
    for (size_t i = 0; i < msg->msg_iovlen; i++)
        iov[i + 1] = msg->msg_iov[i];
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = msg->msg_iovlen + 1};
    int kflags = flags & (MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC | MSG_WAITALL);
    ssize_t r = REAL(recvmsg)(fd, &m, kflags);
    if (r <= 0)
        return r; /* an error, or 0: shut down for reading */
    if ((size_t)r < sizeof(h)) {
        errno = EIO;
        return -1;
    }
    if (h.err) {
        if (flags & MSG_PEEK) {
            /* Linux reports (and clears) the error even when peeking. */
            struct run_dgram tmp;
            REAL(recv)(fd, &tmp, sizeof(tmp), MSG_DONTWAIT);
        }
        errno = h.err;
        return -1;
    }
    msg->msg_flags = m.msg_flags & MSG_TRUNC;
    if (msg->msg_name) {
        if ((int)msg->msg_namelen < 0) {
            errno = EINVAL;
            return -1;
        }
        size_t flen = h.fromlen <= sizeof(h.from) ? h.fromlen : sizeof(h.from);
        size_t n = msg->msg_namelen < flen ? msg->msg_namelen : flen;
        memcpy(msg->msg_name, &h.from, n);
        msg->msg_namelen = (socklen_t)flen;
    }
    size_t cl = h.controllen < sizeof(h.control) ? h.controllen : sizeof(h.control);
    if (msg->msg_control && msg->msg_controllen) {
        size_t n = cl <= msg->msg_controllen ? cl : 0;
        /* Whole messages only; a buffer too small for them says MSG_CTRUNC. */
        if (n < cl) {
            size_t fit = 0;
            struct msghdr w = {.msg_control = h.control, .msg_controllen = cl};
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&w); c; c = CMSG_NXTHDR(&w, c)) {
                size_t end = (size_t)((uint8_t *)c - h.control) + CMSG_SPACE(c->cmsg_len - CMSG_LEN(0));
                if (end > msg->msg_controllen)
                    break;
                fit = end;
            }
            n = fit;
            msg->msg_flags |= MSG_CTRUNC;
        }
        memcpy(msg->msg_control, h.control, n);
        msg->msg_controllen = n;
    } else {
        if (cl)
            msg->msg_flags |= MSG_CTRUNC;
        msg->msg_controllen = 0;
    }
    /* With MSG_TRUNC the kernel returned the whole message's length. */
    return r - (ssize_t)sizeof(h);
}

/* Send one datagram: a request, so the stack's errors are the call's. */
static ssize_t dgram_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    uint64_t id;
    if (classify(fd, &id) != RUN_KIND_DGRAM)
        return REAL(sendmsg)(fd, msg, flags);
    if (!msg) {
        errno = EFAULT;
        return -1;
    }
    if (msg->msg_iovlen > 5) {
        /* Gather it: the request has room for few pieces. */
        size_t total = 0;
        for (size_t i = 0; i < msg->msg_iovlen; i++)
            total += msg->msg_iov[i].iov_len;
        if (total > 65536) {
            errno = EMSGSIZE;
            return -1;
        }
        uint8_t *b = malloc(total ? total : 1);
        if (!b) {
            errno = ENOBUFS;
            return -1;
        }
        size_t off = 0;
        for (size_t i = 0; i < msg->msg_iovlen; i++) {
            memcpy(b + off, msg->msg_iov[i].iov_base, msg->msg_iov[i].iov_len);
            off += msg->msg_iov[i].iov_len;
        }
        struct iovec one = {b, total};
        struct msghdr m2 = *msg;
        m2.msg_iov = &one;
        m2.msg_iovlen = 1;
        ssize_t r = dgram_sendmsg(fd, &m2, flags);
        int e = errno;
        free(b);
        errno = e;
        return r;
    }
    socklen_t namelen = msg->msg_name ? msg->msg_namelen : 0;
    if ((int)namelen < 0 || namelen > sizeof(struct sockaddr_storage)) {
        errno = EINVAL;
        return -1;
    }
    size_t ctllen = msg->msg_control ? msg->msg_controllen : 0;
    if (ctllen > 1024) {
        errno = ENOBUFS;
        return -1;
    }
    struct iovec d[7];
    int n = 0;
    d[n++] = (struct iovec){msg->msg_name, namelen};
    d[n++] = (struct iovec){msg->msg_control, ctllen};
    size_t total = 0;
    for (size_t i = 0; i < msg->msg_iovlen; i++) {
        d[n++] = msg->msg_iov[i];
        total += msg->msg_iov[i].iov_len;
    }
    if (total > 65535) {
        errno = EMSGSIZE; /* larger than any datagram */
        return -1;
    }
    struct call k = {.op = RUN_OP_SENDMSG, .id = id, .arg = {flags & ~MSG_NOSIGNAL, (int)namelen, (int)ctllen},
                     .data = d, .n_data = n, .send_fd = -1};
    if (call(&k) < 0)
        return -1;
    int r = call_result(&k);
    if (r < 0 && errno == EPIPE && !(flags & MSG_NOSIGNAL))
        raise(SIGPIPE);
    return r;
}

/* ---- the data calls ------------------------------------------------------------------------- */

ssize_t read(int fd, void *buf, size_t len)
{
    unsigned char k = kind_get(fd);
    if (k == RUN_KIND_DGRAM) {
        struct iovec iov = {buf, len};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
        return dgram_recvmsg(fd, &m, 0);
    }
    ssize_t r = REAL(read)(fd, buf, len);
    if (r == 0 && k == RUN_KIND_STREAM && len)
        return stream_eof(fd);
    return r;
}

ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
    if (len > buflen)
        abort(); /* glibc's __chk_fail: a buffer overflow caught */
    return read(fd, buf, len);
}

ssize_t readv(int fd, const struct iovec *iov, int n)
{
    unsigned char k = kind_get(fd);
    if (k == RUN_KIND_DGRAM) {
        struct msghdr m = {.msg_iov = (struct iovec *)(uintptr_t)iov, .msg_iovlen = n < 0 ? 0 : (size_t)n};
        if (n < 0) {
            errno = EINVAL;
            return -1;
        }
        return dgram_recvmsg(fd, &m, 0);
    }
    ssize_t r = REAL(readv)(fd, iov, n);
    if (r == 0 && k == RUN_KIND_STREAM) {
        size_t want = 0;
        for (int i = 0; i < n; i++)
            want += iov[i].iov_len;
        if (want)
            return stream_eof(fd);
    }
    return r;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    unsigned char k = kind_get(fd);
    if (k == RUN_KIND_DGRAM) {
        struct iovec iov = {buf, len};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
        return dgram_recvmsg(fd, &m, flags);
    }
    ssize_t r = REAL(recv)(fd, buf, len, flags);
    if (r == 0 && k == RUN_KIND_STREAM && len && !(flags & MSG_PEEK))
        return stream_eof(fd);
    return r;
}

ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
    if (len > buflen)
        abort();
    return recv(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, __SOCKADDR_ARG addr_arg, socklen_t *alen)
{
    unsigned char k = kind_get(fd);
    struct sockaddr *addr = SA_PTR(addr_arg);
    if (k == RUN_KIND_DGRAM) {
        struct iovec iov = {buf, len};
        struct msghdr m = {.msg_name = addr, .msg_namelen = addr && alen ? *alen : 0,
                           .msg_iov = &iov, .msg_iovlen = 1};
        if (addr && !alen) {
            errno = EFAULT;
            return -1;
        }
        ssize_t r = dgram_recvmsg(fd, &m, flags);
        if (r >= 0 && addr)
            *alen = m.msg_namelen;
        return r;
    }
    if (k == RUN_KIND_STREAM) {
        /* TCP names no source: the length comes back 0. */
        ssize_t r = REAL(recvfrom)(fd, buf, len, flags, (struct sockaddr *)NULL, NULL);
        if (r >= 0 && addr && alen)
            *alen = 0;
        if (r == 0 && len && !(flags & MSG_PEEK))
            return stream_eof(fd);
        return r;
    }
    return REAL(recvfrom)(fd, buf, len, flags, addr_arg, alen);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                       __SOCKADDR_ARG addr, socklen_t *alen);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                       __SOCKADDR_ARG addr, socklen_t *alen)
{
    if (len > buflen)
        abort();
    return recvfrom(fd, buf, len, flags, addr, alen);
}

/* Append one control message after what msg->msg_control holds (cap:
 * the buffer's size); MSG_CTRUNC when it does not fit, as put_cmsg(). */
static void put_cmsg(struct msghdr *msg, size_t cap, int level, int type, const void *data, size_t len)
{
    size_t used = msg->msg_control ? CMSG_ALIGN(msg->msg_controllen) : 0;
    if (!msg->msg_control || used > cap || cap - used < CMSG_SPACE(len)) {
        if (cap)
            msg->msg_flags |= MSG_CTRUNC;
        return;
    }
    struct cmsghdr *c = (struct cmsghdr *)(void *)((uint8_t *)msg->msg_control + used);
    memset(c, 0, CMSG_SPACE(len));
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(c), data, len);
    msg->msg_controllen = used + CMSG_SPACE(len);
}

/* TCP_INQ's control message after a receive (Linux tcp_recvmsg with
 * tcp_inq_hint): the bytes left to read — those in the pair; TCP moves
 * what it holds into the pair as it arrives, up to the pair's 4 MiB —
 * and, when none are left but the peer's FIN came, 1, "read on". It goes
 * after what the kernel put in the buffer (cap: the buffer's size). */
static void put_inq(int fd, struct msghdr *msg, size_t cap)
{
    int inq = 0;
    if (REAL(ioctl)(fd, FIONREAD, &inq) < 0)
        inq = 0;
    if (inq == 0) {
        struct pollfd p = {.fd = fd, .events = POLLRDHUP};
        if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP)))
            inq = 1;
    }
    put_cmsg(msg, cap, IPPROTO_TCP, TCP_CM_INQ, &inq, sizeof(inq));
}

/* SO_TIMESTAMP(NS) on a TCP socket: Linux tcp_recv_timestamp adds the
 * receive time of the data read; ours is the time of the read (the
 * stack keeps no arrival times), before TCP_CM_INQ as Linux orders them. */
static void put_stamp(int fd, struct msghdr *msg, size_t cap)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (bits_get(fd) & FD_TSNS) {
        put_cmsg(msg, cap, SOL_SOCKET, SCM_TIMESTAMPNS, &now, sizeof(now));
    } else {
        struct timeval tv = {now.tv_sec, now.tv_nsec / 1000};
        put_cmsg(msg, cap, SOL_SOCKET, SCM_TIMESTAMP, &tv, sizeof(tv));
    }
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    unsigned char k = kind_get(fd);
    if (k == RUN_KIND_DGRAM)
        return dgram_recvmsg(fd, msg, flags);
    if (k == RUN_KIND_STREAM && msg) {
        void *name = msg->msg_name;
        size_t cap = msg->msg_controllen;
        msg->msg_name = NULL;
        ssize_t r = REAL(recvmsg)(fd, msg, flags);
        msg->msg_name = name;
        if (r >= 0 && name)
            msg->msg_namelen = 0;
        if (r > 0 && (bits_get(fd) & (FD_TS | FD_TSNS)))
            put_stamp(fd, msg, cap);
        if (r >= 0 && (bits_get(fd) & FD_INQ))
            put_inq(fd, msg, cap);
        if (r == 0 && !(flags & MSG_PEEK)) {
            size_t want = 0;
            for (size_t i = 0; i < msg->msg_iovlen; i++)
                want += msg->msg_iov[i].iov_len;
            if (want)
                return stream_eof(fd);
        }
        return r;
    }
    ssize_t r = REAL(recvmsg)(fd, msg, flags);
    /* Descriptors received from another process may be netsock's. */
    if (r >= 0 && active && msg && msg->msg_controllen) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < n; i++) {
                int got;
                uint64_t id;
                memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                classify(got, &id);
            }
        }
    }
    return r;
}

int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *timeout)
{
    if (kind_get(fd) != RUN_KIND_DGRAM)
        return REAL(recvmmsg)(fd, v, n, flags, timeout);
    /* One at a time; after the first, only what is queued (no timeout
     * handling beyond that: the first receive blocks as recvmsg would). */
    unsigned int i;
    for (i = 0; i < n; i++) {
        ssize_t r = dgram_recvmsg(fd, &v[i].msg_hdr, i ? (flags | MSG_DONTWAIT) : (flags & ~MSG_WAITFORONE));
        if (r < 0)
            return i ? (int)i : -1;
        v[i].msg_len = (unsigned int)r;
        if (flags & MSG_WAITFORONE)
            flags |= MSG_DONTWAIT;
    }
    return (int)i;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    unsigned char k = kind_get(fd);
    if (k == RUN_KIND_STREAM || k == RUN_KIND_DGRAM) {
        struct iovec iov = {(void *)(uintptr_t)buf, len};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
        return k == RUN_KIND_STREAM ? stream_sendmsg(fd, &m, 0) : dgram_sendmsg(fd, &m, 0);
    }
    return REAL(write)(fd, buf, len);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
    unsigned char k = kind_get(fd);
    if ((k == RUN_KIND_STREAM || k == RUN_KIND_DGRAM) && n >= 0) {
        struct msghdr m = {.msg_iov = (struct iovec *)(uintptr_t)iov, .msg_iovlen = (size_t)n};
        return k == RUN_KIND_STREAM ? stream_sendmsg(fd, &m, 0) : dgram_sendmsg(fd, &m, 0);
    }
    return REAL(writev)(fd, iov, n);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    unsigned char k = kind_get(fd);
    if (k == RUN_KIND_STREAM || k == RUN_KIND_DGRAM) {
        struct iovec iov = {(void *)(uintptr_t)buf, len};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
        return k == RUN_KIND_STREAM ? stream_sendmsg(fd, &m, flags) : dgram_sendmsg(fd, &m, flags);
    }
    return REAL(send)(fd, buf, len, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, __CONST_SOCKADDR_ARG addr_arg,
               socklen_t alen)
{
    unsigned char k = kind_get(fd);
    const struct sockaddr *addr = SA_PTR(addr_arg);
    if (k == RUN_KIND_STREAM || k == RUN_KIND_DGRAM) {
        struct iovec iov = {(void *)(uintptr_t)buf, len};
        /* TCP ignores the address of a connected socket, as Linux. */
        struct msghdr m = {.msg_name = k == RUN_KIND_DGRAM ? (void *)(uintptr_t)addr : NULL,
                           .msg_namelen = k == RUN_KIND_DGRAM && addr ? alen : 0, .msg_iov = &iov,
                           .msg_iovlen = 1};
        return k == RUN_KIND_STREAM ? stream_sendmsg(fd, &m, flags) : dgram_sendmsg(fd, &m, flags);
    }
    return REAL(sendto)(fd, buf, len, flags, addr_arg, alen);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    unsigned char k = kind_get(fd);
    if (k == RUN_KIND_DGRAM)
        return dgram_sendmsg(fd, msg, flags);
    if (k == RUN_KIND_STREAM && msg) {
        struct msghdr m = *msg;
        m.msg_name = NULL;
        m.msg_namelen = 0;
        return stream_sendmsg(fd, &m, flags);
    }
    return REAL(sendmsg)(fd, msg, flags);
}

/* sendfile and splice into a netsock TCP socket: the kernel moves the
 * bytes into the pair. Linux pushes at the end of a sendfile (and of a
 * splice without SPLICE_F_MORE), so after a send with MSG_MORE — a
 * header before a file's body — the stack hears that the sends stopped
 * saying it, as after a write. */
static void stream_push_after(int fd, bool more)
{
    if (!more && (bits_get(fd) & FD_MORE) && kind_get(fd) == RUN_KIND_STREAM)
        stream_more(fd, false);
}

ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
    ssize_t r = REAL(sendfile)(out, in, off, n);
    stream_push_after(out, false);
    return r;
}

ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
    ssize_t r = REAL(sendfile64)(out, in, off, n);
    stream_push_after(out, false);
    return r;
}

ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t len, unsigned int flags)
{
    ssize_t r = REAL(splice)(in, off_in, out, off_out, len, flags);
    stream_push_after(out, flags & SPLICE_F_MORE);
    return r;
}

int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
    if (kind_get(fd) != RUN_KIND_DGRAM)
        return REAL(sendmmsg)(fd, v, n, flags);
    unsigned int i;
    for (i = 0; i < n; i++) {
        ssize_t r = dgram_sendmsg(fd, &v[i].msg_hdr, flags);
        if (r < 0)
            return i ? (int)i : -1;
        v[i].msg_len = (unsigned int)r;
    }
    return (int)i;
}

/* ---- descriptors ------------------------------------------------------------------------------ */

int close(int fd)
{
    kind_set(fd, 0);
    if (fd >= 0 && fd == tchan.fd)
        tchan.fd = -1; /* the program closes every descriptor: this one too */
    return REAL(close)(fd);
}

int dup(int fd)
{
    int r = REAL(dup)(fd);
    if (r >= 0)
        kind_copy(r, fd);
    return r;
}

int dup2(int fd, int fd2)
{
    int r = REAL(dup2)(fd, fd2);
    if (r >= 0 && fd != fd2) {
        kind_copy(r, fd);
        if (r == tchan.fd)
            tchan.fd = -1;
    }
    return r;
}

int dup3(int fd, int fd2, int flags)
{
    int r = REAL(dup3)(fd, fd2, flags);
    if (r >= 0) {
        kind_copy(r, fd);
        if (r == tchan.fd)
            tchan.fd = -1;
    }
    return r;
}

static int fcntl_common(int (*fn)(int, int, ...), int fd, int cmd, va_list ap)
{
    void *arg = va_arg(ap, void *);
    int r = fn(fd, cmd, arg);
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
        kind_copy(r, fd);
    return r;
}

int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    int r = fcntl_common(REAL(fcntl), fd, cmd, ap);
    va_end(ap);
    return r;
}

int fcntl64(int fd, int cmd, ...);
int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    int r = fcntl_common(REAL(fcntl64), fd, cmd, ap);
    va_end(ap);
    return r;
}

int close_range(unsigned int first, unsigned int last, int flags)
{
    int r = REAL(close_range)(first, last, flags);
    if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC)) {
        for (unsigned int fd = first; fd <= last && fd < FDTAB_MAX; fd++)
            kind_set((int)fd, 0);
        if (tchan.fd >= 0 && (unsigned)tchan.fd >= first && (unsigned)tchan.fd <= last)
            tchan.fd = -1;
    }
    return r;
}

int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (req == FIONREAD && kind_get(fd) == RUN_KIND_DGRAM) {
        /* The next datagram's length (as UDP's SIOCINQ), without our header. */
        uint64_t id;
        if (classify(fd, &id) == RUN_KIND_DGRAM) {
            struct run_dgram h;
            ssize_t r = REAL(recv)(fd, &h, sizeof(h), MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
            int v = r >= (ssize_t)sizeof(h) && !h.err ? (int)(r - (ssize_t)sizeof(h)) : 0;
            if (!arg) {
                errno = EFAULT;
                return -1;
            }
            memcpy(arg, &v, sizeof(v));
            return 0;
        }
    }
    return REAL(ioctl)(fd, req, arg);
}
