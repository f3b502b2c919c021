/* socket/api.c — the BSD socket API edge: argument checks that do not
 * depend on the protocol, blocking, options, -1/errno.
 *
 * Read first: socket(7), ip(7), udp(7), raw(7), poll(2) (Linux man
 * pages) — netsock returns what Linux returns for the same calls, and
 * tests/unit/test_api_diff.c runs the same call sequences against both.
 * Each errno choice below names the Linux function it mirrors.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "link/link.h"
#include "net/net.h"
#include "netsock/epoll.h"
#include "socket/epoll.h"
#include "socket/fdtable.h"
#include "socket/sock.h"
#include "wire/wire.h"

/* Every public call returns through here: negative errno -> -1/errno. */
static int ret_err(int rc)
{
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return rc;
}

static ssize_t ret_errz(ssize_t rc)
{
    if (rc < 0) {
        errno = (int)-rc;
        return -1;
    }
    return rc;
}

void ns_stack_set_driver(struct ns_stack *st, ns_drive_fn fn, void *ctx)
{
    st->fds->drive_fn = fn;
    st->fds->drive_ctx = ctx;
}

/* The deadline of a call that may block, timeo_us from now. The stack's
 * clock is the time of its last poll, which over a real link can be long
 * ago: the driver brings it up to date first (a drive with deadline 0
 * processes what is due and returns without waiting). */
static uint64_t deadline_after(struct ns_stack *st, struct ns_sock *so, uint64_t timeo_us)
{
    fd_refresh(st, so);
    if (timeo_us == SOCK_TIMEO_NOWAIT)
        return st->now_us;
    if (timeo_us == 0 || st->now_us > NS_TIME_NEVER - timeo_us)
        return NS_TIME_NEVER;
    return st->now_us + timeo_us;
}

/* Let the owning loop run until something happens or the deadline (or
 * sleep until so changes for `events`, when another thread runs it). */
static int sock_wait(struct ns_stack *st, struct ns_sock *so, uint32_t events, uint64_t deadline)
{
    return fd_wait(st, so, events, deadline);
}

/* What wakes a blocked receive, accept or send (sock_wake keys). */
#define WAIT_IN (SOCK_WAKE_IN | POLLERR | POLLHUP | POLLRDHUP)
#define WAIT_OUT (SOCK_WAKE_OUT | POLLERR | POLLHUP)

/* The deadline of a call that may block, found only once it has to wait:
 * a call that completes at once (every non-blocking one that can) runs
 * no loop and reads no clock. */
struct call_deadline {
    uint64_t timeo_us; /* SO_RCVTIMEO / SO_SNDTIMEO */
    uint64_t at;
    bool known;
};

/* Wait for the call. With a driver, the first time only brings the clock
 * up to date (deadline_after, which may process what makes the call
 * possible) and returns 0 so that the caller tries again before it really
 * waits; without one nothing can have changed, and the wait fails at once
 * (-EWOULDBLOCK) as before. */
static int call_wait(struct ns_stack *st, struct ns_sock *so, uint32_t events,
                     struct call_deadline *d)
{
    if (!d->known) {
        d->at = deadline_after(st, so, d->timeo_us);
        d->known = true;
        if (st->fds->drive_fn)
            return 0;
    }
    return sock_wait(st, so, events, d->at);
}

/* After a call that may have taken fd's readiness (read, accepted,
 * filled the send buffer): the epoll sets that hold it learn at once
 * (ep_settle, for ns_epoll_fd). One test when fd is in no set. */
static void settle(struct ns_stack *st, int fd)
{
    struct ns_sock *so = fd_get(st, fd);
    if (so)
        ep_settle_sock(st, so);
}

/* ---- socket, bind, connect ---------------------------------------------------- */

/* Linux limits the checks below use: SOCK_TYPE_MASK and SOCK_MAX
 * (include/linux/net.h), AF_MAX (include/linux/socket.h) and IPPROTO_MAX
 * (include/uapi/linux/in.h, one past IPPROTO_MPTCP), which the C library's
 * headers do not all export. */
#define LINUX_SOCK_TYPE_MASK 0xf
#define LINUX_SOCK_MAX 11
#define LINUX_AF_MAX 46
#define LINUX_IPPROTO_MAX 263

static int socket_do(struct ns_stack *st, int domain, int type, int protocol)
{
    int flags = type & (SOCK_NONBLOCK | SOCK_CLOEXEC);
    int base = type & LINUX_SOCK_TYPE_MASK;

    /* As Linux __sys_socket: unknown flag bits -> EINVAL; then
     * __sock_create: the family is checked before the type. */
    if (type & ~(LINUX_SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC))
        return ret_err(-EINVAL);
    if (domain < 0 || domain >= LINUX_AF_MAX)
        return ret_err(-EAFNOSUPPORT);
    if (base >= LINUX_SOCK_MAX)
        return ret_err(-EINVAL);
    if (!sock_family_known(st, domain))
        return ret_err(-EAFNOSUPPORT);
    /* inet_create: a protocol outside 0..IPPROTO_MAX-1 is EINVAL. */
    if (protocol < 0 || protocol >= LINUX_IPPROTO_MAX)
        return ret_err(-EINVAL);
    /* The protocol switch (socket/sock.h), searched as inet_create does:
     * raw sockets need a protocol (IPPROTO_IP is refused) and take any
     * other number up to IPPROTO_MAX-1, even ones no IPv4 header can
     * carry (such a socket never receives). */
    int err;
    const struct ns_protosw *sw = sock_protosw_find(st, domain, base, &protocol, &err);
    if (!sw)
        return ret_err(err);
    struct ns_sock *so = sw->create(st, protocol, &err);
    if (!so)
        return ret_err(err);
    if (domain == AF_INET6)
        sock_family6_init(so);
    int fd = fd_alloc(st, so);
    if (fd < 0) {
        so->ops->close(st, so);
        return ret_err(fd);
    }
    if (flags & SOCK_NONBLOCK)
        so->flags |= SO_F_NONBLOCK;
    return fd;
}

/* move_addr_to_kernel: a user address longer than sockaddr_storage, or
 * a negative length, is EINVAL before the protocol sees it. */
static bool addrlen_bad(socklen_t len)
{
    return (int)len < 0 || len > (socklen_t)sizeof(struct sockaddr_storage);
}

/* Validate a sockaddr for an AF_INET socket (inet_bind,
 * ip4_datagram_connect): short -> EINVAL, another family -> EAFNOSUPPORT.
 * AF_UNSPEC is accepted where the caller allows it. */
static int sockaddr_in_check(const struct sockaddr *addr, socklen_t len, bool allow_unspec,
                             struct sockaddr_in *out)
{
    if (len < (socklen_t)sizeof(struct sockaddr_in))
        return -EINVAL;
    if (!addr)
        return -EFAULT;
    memcpy(out, addr, sizeof(*out));
    if (out->sin_family == AF_INET)
        return 0;
    if (out->sin_family == AF_UNSPEC && allow_unspec)
        return 0;
    return -EAFNOSUPPORT;
}

/* inet_autobind: a datagram socket without a port gets an ephemeral one
 * before connect or sendmsg look at their arguments (inet_dgram_connect,
 * inet_send_prepare), so even a call that then fails leaves it bound.
 * Raw sockets always have their "port" (the protocol). */
static int sock_autobind(struct ns_stack *st, struct ns_sock *so)
{
    if (so->type != SOCK_DGRAM || (so->flags & SO_F_BOUND))
        return 0;
    struct ns_addr any = sock_any(so);
    return so->ops->bind(st, so, &any, 0) < 0 ? -EAGAIN : 0;
}

/* inet_bind's address check: local, broadcast or multicast (or the
 * wildcard). */
static bool ip4_bindable(struct ns_stack *st, uint32_t a)
{
    return a == INADDR_ANY || ip4_is_local(st, a) || ip4_is_loopback(a) ||
           ip4_is_broadcast(st, a) || ip4_is_multicast(a);
}

/* The interface of a bind (__inet6_bind, rawv6_bind): a link-scoped
 * address takes the sockaddr's sin6_scope_id as the socket's interface
 * (kept even when the bind then fails, as Linux sets sk_bound_dev_if
 * first) and without one the socket must have one already (EINVAL); an
 * interface the socket names that does not exist is ENODEV. */
static int bind6_dev(struct ns_stack *st, struct ns_sock *so, const struct ns_addr *a,
                     uint32_t scope)
{
    if (sock_in6_needs_scope(a)) {
        if (scope)
            so->bound_ifindex = (int)scope;
        if (!so->bound_ifindex)
            return -EINVAL;
    }
    if (so->bound_ifindex && !ns_iface_get(st, so->bound_ifindex))
        return -ENODEV;
    return 0;
}

/* bind(2) on an AF_INET6 socket: Linux inet6_bind / __inet6_bind, and
 * rawv6_bind for raw sockets (IPv6 only: a v4-mapped address is
 * EADDRNOTAVAIL, a wrong family EINVAL). A specific IPv6 unicast address
 * must be one of the host's (not tentative), or ::1 (ipv6_chk_addr: the
 * loopback always has it), else EADDRNOTAVAIL; a connected raw socket
 * may not rebind (EINVAL). */
static int bind6(struct ns_stack *st, struct ns_sock *so, const struct sockaddr *addr,
                 socklen_t addrlen)
{
    bool raw = so->type == SOCK_RAW;
    struct ns_addr a;
    uint16_t port;
    uint32_t scope;
    int rc = sock_parse_in6(addr, addrlen, raw ? -EINVAL : -EAFNOSUPPORT, &a, &port, &scope);
    if (rc < 0)
        return rc;
    bool mcast = a.family == AF_INET6 && a.u.b[0] == 0xff;
    if (raw) {
        if (a.family == AF_INET)
            return -EADDRNOTAVAIL;
        if (so->flags & SO_F_CONNECTED)
            return -EINVAL; /* rawv6_bind: sk_state != TCP_CLOSE */
    } else {
        if (mcast && so->type == SOCK_STREAM)
            return -EINVAL;
        if (so->flags & SO_F_BOUND)
            return -EINVAL; /* active socket, or a double bind */
        if (a.family == AF_INET) {
            if (so->flags & SO_F_V6ONLY)
                return -EINVAL; /* "makes no sense" */
            if ((rc = bind6_dev(st, so, &a, 0)) < 0)
                return rc;
            if (!ip4_bindable(st, ns_addr_to_ip4(&a)))
                return -EADDRNOTAVAIL;
        }
    }
    if (a.family == AF_INET6 && !ns_addr_is_any(&a)) {
        if ((rc = bind6_dev(st, so, &a, scope)) < 0)
            return rc;
        if (!mcast && !(ns_ip6_is_loopback(&a.u.ip6) || ip6_is_local(st, &a.u.ip6)))
            return -EADDRNOTAVAIL; /* ipv6_chk_addr */
    }
    return so->ops->bind(st, so, &a, port);
}

static int bind_do(struct ns_stack *st, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    struct ns_sock *so = fd_get(st, fd);
    struct sockaddr_in sin;
    if (!so)
        return ret_err(fd_err(st, fd));
    if (addrlen_bad(addrlen))
        return ret_err(-EINVAL);
    if (so->family == AF_INET6)
        return ret_err(bind6(st, so, addr, addrlen));
    int rc = sockaddr_in_check(addr, addrlen, false, &sin);
    if (rc == -EAFNOSUPPORT && addrlen >= (socklen_t)sizeof(sin) && sin.sin_family == AF_UNSPEC &&
        sin.sin_addr.s_addr == htonl(INADDR_ANY))
        rc = 0; /* inet_bind: AF_UNSPEC with INADDR_ANY, for old programs */
    if (rc < 0)
        return ret_err(rc);
    uint32_t a = ntohl(sin.sin_addr.s_addr);
    /* inet_bind: local, broadcast or multicast addresses only. */
    if (!ip4_bindable(st, a))
        return ret_err(-EADDRNOTAVAIL);
    if (so->type != SOCK_RAW && (so->flags & SO_F_BOUND))
        return ret_err(-EINVAL); /* already bound */
    struct ns_addr local = ns_addr_ip4(a);
    return ret_err(so->ops->bind(st, so, &local, ntohs(sin.sin_port)));
}

/* The peer of connect(2) on an AF_INET6 socket: Linux
 * __ip6_datagram_connect (UDP and raw; raw through
 * ip6_datagram_connect_v6_only, which takes no sockaddr_in) and
 * tcp_v6_connect. A sockaddr_in on a dual-stack datagram socket, or a
 * v4-mapped address, connects over IPv4; :: means this host (127.0.0.1
 * when bound to an IPv4 address, else ::1). A link-scoped IPv6 peer
 * binds the socket to its sin6_scope_id's interface (EINVAL when the
 * socket is bound to another, or has none); an IPv6 peer of a socket
 * bound to an IPv4 address is EAFNOSUPPORT. */
static int connect6_dst(struct ns_sock *so, const struct sockaddr *addr, socklen_t len,
                        struct ns_addr *out, uint16_t *port)
{
    if (addr->sa_family == AF_INET && so->type == SOCK_DGRAM) {
        if (so->flags & SO_F_V6ONLY)
            return -EAFNOSUPPORT;
        struct sockaddr_in sin;
        int rc = sockaddr_in_check(addr, len, false, &sin);
        *out = ns_addr_from_in(sin.sin_addr);
        *port = ntohs(sin.sin_port);
        return rc;
    }
    uint32_t scope;
    int rc = sock_parse_in6(addr, len, -EAFNOSUPPORT, out, port, &scope);
    if (rc < 0)
        return rc;
    if (ns_addr_is_any(out) && out->family == AF_INET6) {
        if (so->flow.local.family == AF_INET)
            *out = ns_addr_ip4(INADDR_LOOPBACK);
        else
            out->u.b[15] = 1; /* ::1 */
    }
    if (so->type == SOCK_STREAM && out->family == AF_INET6 && out->u.b[0] == 0xff)
        return -ENETUNREACH; /* tcp_v6_connect: multicast */
    if (out->family == AF_INET)
        return (so->flags & SO_F_V6ONLY) ? -ENETUNREACH : 0;
    if (sock_in6_needs_scope(out)) {
        if (scope) {
            if (so->bound_ifindex && so->bound_ifindex != (int)scope)
                return -EINVAL;
            so->bound_ifindex = (int)scope;
        }
        if (!so->bound_ifindex)
            return -EINVAL; /* "connect to link-local address requires an interface" */
    }
    if (so->flow.local.family == AF_INET && !ns_addr_is_any(&so->flow.local))
        return -EAFNOSUPPORT; /* a v4-mapped source for an IPv6 peer (Linux: the same) */
    return 0;
}

static int connect_do(struct ns_stack *st, int fd, const struct sockaddr *addr,
                      socklen_t addrlen)
{
    struct ns_sock *so = fd_get(st, fd);
    struct sockaddr_in sin;
    if (!so)
        return ret_err(fd_err(st, fd));
    if (addrlen_bad(addrlen))
        return ret_err(-EINVAL);
    /* inet_dgram_connect: the family must be there; AF_UNSPEC (with any
     * length from there on) dissolves the association. */
    if (addrlen < (socklen_t)sizeof(sa_family_t))
        return ret_err(-EINVAL);
    if (!addr)
        return ret_err(-EFAULT);
    if (addr->sa_family == AF_UNSPEC)
        return ret_err(so->ops->connect(st, so, &(struct ns_addr){.family = AF_UNSPEC}, 0));
    int rc = sock_autobind(st, so);
    if (rc < 0)
        return ret_err(rc);
    struct ns_addr remote;
    uint16_t rport;
    if (so->family == AF_INET6) {
        rc = connect6_dst(so, addr, addrlen, &remote, &rport);
    } else {
        rc = sockaddr_in_check(addr, addrlen, false, &sin);
        remote = ns_addr_from_in(sin.sin_addr);
        rport = ntohs(sin.sin_port);
    }
    if (rc < 0)
        return ret_err(rc);
    rc = so->ops->connect(st, so, &remote, rport);
    if (rc != -EINPROGRESS || (so->flags & SO_F_NONBLOCK))
        return ret_err(rc);
    /* A blocking connect waits for the handshake (SO_SNDTIMEO bounds it:
     * then EINPROGRESS, as Linux inet_wait_for_connect). */
    uint64_t deadline = deadline_after(st, so, so->sndtimeo_us);
    for (;;) {
        short m = so->ops->poll(st, so);
        if (so->so_error || (m & (POLLOUT | POLLHUP)))
            so->flags &= ~SO_F_CONNECTING; /* reported here: SS_CONNECTED, or ... */
        if (so->so_error) {
            int e = so->so_error;
            so->so_error = 0;
            so->flags &= ~SO_F_CONNECTED; /* ... SS_UNCONNECTED (sock_error) */
            return ret_err(-e);
        }
        if (m & (POLLOUT | POLLHUP))
            return (m & POLLOUT) ? 0 : ret_err(-ECONNREFUSED);
        int w = sock_wait(st, so, WAIT_OUT, deadline);
        if (w == -EAGAIN)
            return ret_err(-EINPROGRESS);
        if (w < 0)
            return ret_err(w);
    }
}

static int listen_do(struct ns_stack *st, int fd, int backlog)
{
    struct ns_sock *so = fd_get(st, fd);
    if (!so)
        return ret_err(fd_err(st, fd));
    if (!so->ops->listen)
        return ret_err(-EOPNOTSUPP); /* inet_listen: only SOCK_STREAM listens */
    return ret_err(so->ops->listen(st, so, backlog));
}

static int accept_do(struct ns_stack *st, int fd, struct sockaddr *addr, socklen_t *addrlen,
                     int flags)
{
    struct ns_sock *so = fd_get(st, fd);
    if (!so)
        return ret_err(fd_err(st, fd));
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return ret_err(-EINVAL);
    if (!so->ops->accept)
        return ret_err(-EOPNOTSUPP);
    if (addr && (!addrlen || (int)*addrlen < 0))
        return ret_err(addrlen ? -EINVAL : -EFAULT);
    bool nonblock = so->flags & SO_F_NONBLOCK;
    struct call_deadline dl = {.timeo_us = so->rcvtimeo_us};
    for (;;) {
        /* Linux do_accept: the descriptor is secured before the protocol
         * hands over a connection, which then cannot fail to get it. */
        int rc = fd_reserve(st);
        struct ns_sock *child = NULL;
        if (rc == 0)
            rc = so->ops->accept(st, so, flags, &child);
        if (rc == 0) {
            int nfd = fd_alloc(st, child);
            if (addr) {
                struct sockaddr_storage peer;
                socklen_t len = sock_name(child, &child->flow.remote, child->flow.rport, &peer);
                socklen_t n = *addrlen < len ? *addrlen : len;
                memcpy(addr, &peer, n);
                *addrlen = len;
            }
            return nfd;
        }
        if (rc != -EAGAIN || nonblock)
            return ret_err(rc);
        /* so is pinned while the call waits (a close from another
         * thread leaves it to this call, as Linux's accept holds its file). */
        int w = call_wait(st, so, WAIT_IN, &dl);
        if (w < 0)
            return ret_err(w);
    }
}

static int accept4_do(struct ns_stack *st, int fd, struct sockaddr *addr, socklen_t *addrlen,
                      int flags)
{
    int rc = accept_do(st, fd, addr, addrlen, flags);
    settle(st, fd);
    return rc;
}

/* ---- send ------------------------------------------------------------------------- */

/* Linux UIO_MAXIOV (glibc IOV_MAX): the most iovecs one call takes. */
#define LINUX_UIO_MAXIOV 1024
/* Linux MAX_RW_COUNT (INT_MAX & PAGE_MASK): the most bytes one call moves. */
#define LINUX_MAX_RW_COUNT 0x7ffff000u

/* copy_msghdr_from_user and import_iovec, for sendmsg and recvmsg alike:
 * a negative name length with a name is EINVAL, more than UIO_MAXIOV
 * iovecs EMSGSIZE (before any is read), an iovec array missing or an
 * iovec longer than SSIZE_MAX EFAULT / EINVAL; *len_out (may be NULL) is
 * the sum, cut at MAX_RW_COUNT as Linux cuts the iovecs. */
static int msg_check(const struct msghdr *msg, size_t *len_out)
{
    if (msg->msg_name && (int)msg->msg_namelen < 0)
        return -EINVAL;
    if (msg->msg_iovlen > LINUX_UIO_MAXIOV)
        return -EMSGSIZE;
    if (msg->msg_iovlen && !msg->msg_iov)
        return -EFAULT;
    size_t total = 0;
    for (size_t i = 0; i < msg->msg_iovlen; i++) {
        size_t n = msg->msg_iov[i].iov_len;
        if (n > (size_t)SSIZE_MAX)
            return -EINVAL;
        total += n < LINUX_MAX_RW_COUNT - total ? n : LINUX_MAX_RW_COUNT - total;
    }
    if (len_out)
        *len_out = total;
    return 0;
}

/* A private copy of an iovec array that can be advanced past bytes
 * already handled (partial stream sends and MSG_WAITALL receives). */
struct iov_cursor {
    struct iovec *iov;
    size_t n, idx;
    struct iovec small[8];
};

static int iov_cursor_init(struct iov_cursor *c, const struct msghdr *msg)
{
    c->n = msg->msg_iovlen;
    c->idx = 0;
    c->iov = c->n <= 8 ? c->small : malloc(c->n * sizeof(struct iovec));
    if (!c->iov)
        return -ENOMEM;
    if (c->n)
        memcpy(c->iov, msg->msg_iov, c->n * sizeof(struct iovec));
    return 0;
}

static void iov_cursor_advance(struct iov_cursor *c, size_t bytes)
{
    while (bytes && c->idx < c->n) {
        struct iovec *v = &c->iov[c->idx];
        size_t k = bytes < v->iov_len ? bytes : v->iov_len;
        v->iov_base = (char *)v->iov_base + k;
        v->iov_len -= k;
        bytes -= k;
        if (v->iov_len == 0)
            c->idx++;
    }
}

static void iov_cursor_free(struct iov_cursor *c)
{
    if (c->iov != c->small)
        free(c->iov);
}

/* msg->msg_name is NULL when no address was given; a non-NULL name with a
 * zero length (sendto(..., addr, 0)) reaches the protocol, which refuses
 * it with EINVAL as Linux udp_sendmsg does. */
static ssize_t do_sendmsg(struct ns_stack *st, int fd, const struct msghdr *msg, int flags)
{
    struct ns_sock *so = fd_get(st, fd);
    if (!so)
        return fd_err(st, fd);
    if (!msg)
        return -EFAULT;
    size_t len;
    int rc = msg_check(msg, &len);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < msg->msg_iovlen; i++)
        if (msg->msg_iov[i].iov_len && !msg->msg_iov[i].iov_base)
            return -EFAULT;
    /* __sys_sendto: move_addr_to_kernel checks the length first. */
    if (msg->msg_name && addrlen_bad(msg->msg_namelen))
        return -EINVAL;
    /* ____sys_sendmsg: the control buffer is copied in before the
     * protocol sees it. */
    if (msg->msg_controllen > INT_MAX)
        return -ENOBUFS;
    if (msg->msg_controllen && !msg->msg_control)
        return -EFAULT;
    rc = sock_autobind(st, so);
    if (rc < 0)
        return rc;

    bool nonblock = (so->flags & SO_F_NONBLOCK) || (flags & MSG_DONTWAIT) ||
                    so->sndtimeo_us == SOCK_TIMEO_NOWAIT;
    struct call_deadline dl = {.timeo_us = so->sndtimeo_us};
    if (so->type != SOCK_STREAM) {
        for (;;) {
            ssize_t n = so->ops->sendmsg(st, so, msg, len, flags);
            if (n != -EAGAIN || nonblock)
                return n;
            int w = call_wait(st, so, WAIT_OUT, &dl);
            if (w < 0)
                return w;
        }
    }
    if ((rc = sock_send_ready(so)) < 0)
        return rc;
    /* A stream send blocks until every byte is queued (or the timeout:
     * then it returns what was queued, as Linux tcp_sendmsg). */
    struct iov_cursor cur;
    if (iov_cursor_init(&cur, msg) < 0)
        return -ENOMEM;
    size_t done = 0;
    ssize_t sr = 0;
    for (;;) {
        struct msghdr part = {.msg_iov = cur.iov + cur.idx, .msg_iovlen = cur.n - cur.idx};
        if (done == 0) { /* the control messages are checked before any byte is queued */
            part.msg_control = msg->msg_control;
            part.msg_controllen = msg->msg_controllen;
        }
        sr = so->ops->sendmsg(st, so, &part, len - done, flags);
        if (sr > 0) {
            done += (size_t)sr;
            iov_cursor_advance(&cur, (size_t)sr);
        }
        if (done == len || (sr < 0 && sr != -EAGAIN) || (len == 0))
            break;
        if (nonblock && (sr == -EAGAIN || sr > 0))
            break;
        int w = call_wait(st, so, WAIT_OUT, &dl);
        if (w < 0) {
            sr = w;
            break;
        }
        if (so->so_error) {
            /* tcp_sendmsg: bytes already queued are returned, and the
             * error stays pending for the next call (or SO_ERROR). */
            sr = -so->so_error;
            if (done == 0)
                so->so_error = 0;
            break;
        }
    }
    iov_cursor_free(&cur);
    if (done > 0)
        return (ssize_t)done;
    return sr < 0 ? sr : 0;
}

/* MSG_CMSG_COMPAT is the kernel's own mark of a 32-bit caller: sendmsg
 * and recvmsg refuse it from anyone else (forbid_cmsg_compat), before
 * even the descriptor is looked at. */
#define LINUX_MSG_CMSG_COMPAT 0x80000000u

static ssize_t sendmsg_do(struct ns_stack *st, int fd, const struct msghdr *msg, int flags)
{
    if ((unsigned)flags & LINUX_MSG_CMSG_COMPAT)
        return ret_errz(-EINVAL);
    if (!msg)
        return ret_errz(fd_get(st, fd) ? -EFAULT : fd_err(st, fd));
    /* copy_msghdr_from_user: without a name the length does not matter;
     * a negative one is EINVAL (msg_check), a long one is cut to
     * sockaddr_storage, a zero one means "no address". */
    struct msghdr m = *msg;
    if (!m.msg_name)
        m.msg_namelen = 0;
    if ((int)m.msg_namelen < 0)
        return ret_errz(fd_get(st, fd) ? -EINVAL : fd_err(st, fd));
    if (m.msg_namelen > (socklen_t)sizeof(struct sockaddr_storage))
        m.msg_namelen = sizeof(struct sockaddr_storage);
    if (!m.msg_name || !m.msg_namelen) {
        m.msg_name = NULL;
        m.msg_namelen = 0;
    }
    ssize_t rc = do_sendmsg(st, fd, &m, flags);
    settle(st, fd);
    return ret_errz(rc);
}

static ssize_t sendto_do(struct ns_stack *st, int fd, const void *buf, size_t len, int flags,
                         const struct sockaddr *dest, socklen_t destlen)
{
    /* import_ubuf: one call moves at most MAX_RW_COUNT bytes, so a UDP
     * send of SIZE_MAX is EMSGSIZE. No object is larger than SSIZE_MAX
     * bytes: a stream send of such a length names memory that cannot all
     * be the caller's. Linux finds out when its copy faults (EFAULT);
     * netsock cannot fault, so it says EFAULT at once. */
    if (len > (size_t)SSIZE_MAX) {
        struct ns_sock *so = fd_get(st, fd);
        if (so && so->type == SOCK_STREAM)
            return ret_errz(-EFAULT);
    }
    if (len > LINUX_MAX_RW_COUNT)
        len = LINUX_MAX_RW_COUNT;
    struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
    struct msghdr msg = {
        .msg_name = (void *)(uintptr_t)dest,
        .msg_namelen = dest ? destlen : 0,
        .msg_iov = &iov,
        .msg_iovlen = 1,
    };
    if (!buf && len)
        return ret_errz(-EFAULT);
    ssize_t rc = do_sendmsg(st, fd, &msg, flags);
    settle(st, fd);
    return ret_errz(rc);
}

/* ---- receive ------------------------------------------------------------------------ */

/* MSG_WAITALL on a stream: keep reading until the buffer is full, the
 * stream ends, an error comes or the timeout passes (tcp_recvmsg). */
static ssize_t recv_waitall(struct ns_stack *st, struct ns_sock *so, struct msghdr *msg,
                            int flags, struct call_deadline *dl)
{
    struct iov_cursor cur;
    if (iov_cursor_init(&cur, msg) < 0)
        return -ENOMEM;
    size_t want = 0, done = 0;
    for (size_t i = 0; i < msg->msg_iovlen; i++)
        want += msg->msg_iov[i].iov_len;
    ssize_t rc = 0;
    while (done < want) {
        struct msghdr part = {.msg_iov = cur.iov + cur.idx, .msg_iovlen = cur.n - cur.idx};
        rc = so->ops->recvmsg(st, so, &part, flags & ~MSG_WAITALL);
        if (rc > 0) {
            done += (size_t)rc;
            iov_cursor_advance(&cur, (size_t)rc);
            continue;
        }
        if (rc == 0)
            break; /* end of stream */
        if (rc != -EAGAIN)
            break;
        if (so->so_error) {
            rc = -so->so_error;
            so->so_error = 0;
            break;
        }
        int w = call_wait(st, so, WAIT_IN, dl);
        if (w < 0) {
            rc = w;
            break;
        }
    }
    iov_cursor_free(&cur);
    msg->msg_flags = 0;
    return done > 0 ? (ssize_t)done : rc;
}

static ssize_t do_recvmsg(struct ns_stack *st, int fd, struct msghdr *msg, int flags)
{
    struct ns_sock *so = fd_get(st, fd);
    if (!so)
        return fd_err(st, fd);
    if (!msg)
        return -EFAULT;
    int rc = msg_check(msg, NULL);
    if (rc < 0)
        return rc;
    if (flags & MSG_ERRQUEUE)
        return -EAGAIN; /* no error queue: as an empty one on Linux */
    /* MSG_OOB is the protocol's: UDP ignores it, raw refuses it, TCP has
     * no urgent data apart from the stream (tcp_recvmsg). */
    /* sock_rcvtimeo: a zero (negative-set) timeout is non-blocking. */
    bool nonblock = (so->flags & SO_F_NONBLOCK) || (flags & MSG_DONTWAIT) ||
                    so->rcvtimeo_us == SOCK_TIMEO_NOWAIT;
    struct call_deadline dl = {.timeo_us = so->rcvtimeo_us};
    if (so->type == SOCK_STREAM && (flags & MSG_WAITALL) && !(flags & MSG_PEEK) && !nonblock)
        return recv_waitall(st, so, msg, flags, &dl);
    for (;;) {
        /* __skb_recv_udp / __skb_try_recv_datagram: a pending error is
         * reported before queued data. */
        if (so->so_error && so->type != SOCK_STREAM) {
            int e = so->so_error;
            so->so_error = 0;
            return -e;
        }
        ssize_t got = so->ops->recvmsg(st, so, msg, flags);
        if (got != -EAGAIN)
            return got;
        /* tcp_recvmsg: queued bytes first, the error once they are read. */
        if (so->so_error) {
            int e = so->so_error;
            so->so_error = 0;
            return -e;
        }
        if (nonblock)
            return got;
        /* __skb_wait_for_more_packets: a blocking read after
         * shutdown(SHUT_RD) finds end of file (0); a non-blocking one
         * never gets there and says EAGAIN. */
        if (so->flags & SO_F_SHUT_RD)
            return 0;
        int w = call_wait(st, so, WAIT_IN, &dl);
        if (w < 0)
            return w;
    }
}

static ssize_t recvmsg_do(struct ns_stack *st, int fd, struct msghdr *msg, int flags)
{
    if ((unsigned)flags & LINUX_MSG_CMSG_COMPAT)
        return ret_errz(-EINVAL);
    ssize_t rc = do_recvmsg(st, fd, msg, flags);
    settle(st, fd);
    return ret_errz(rc);
}

static ssize_t recvfrom_do(struct ns_stack *st, int fd, void *buf, size_t len, int flags,
                           struct sockaddr *src, socklen_t *srclen)
{
    /* __sys_recvfrom: the address goes to a buffer of the stack's own and
     * is copied out after the receive (move_addr_to_user): an address
     * with no length is EFAULT, a negative length EINVAL — and the data
     * was taken all the same. A NULL buffer is refused only when bytes
     * would be copied into it (a zero length, or MSG_TRUNC on TCP, asks
     * for a length). */
    struct sockaddr_storage name;
    struct iovec iov = {.iov_base = buf, .iov_len = len < LINUX_MAX_RW_COUNT ? len : LINUX_MAX_RW_COUNT};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (src) {
        msg.msg_name = &name;
        msg.msg_namelen = sizeof(name);
    }
    ssize_t rc = do_recvmsg(st, fd, &msg, flags);
    settle(st, fd);
    if (rc < 0 || !src)
        return ret_errz(rc);
    if (!srclen)
        return ret_errz(-EFAULT);
    int ulen = (int)*srclen, klen = (int)msg.msg_namelen;
    if (ulen > klen)
        ulen = klen;
    if (ulen < 0)
        return ret_errz(-EINVAL);
    memcpy(src, &name, (size_t)ulen);
    *srclen = (socklen_t)klen; /* the length before truncation (POSIX) */
    return ret_errz(rc);
}

/* ---- shutdown, close ---------------------------------------------------------------- */

static int shutdown_do(struct ns_stack *st, int fd, int how)
{
    struct ns_sock *so = fd_get(st, fd);
    if (!so)
        return ret_err(fd_err(st, fd));
    /* inet_shutdown: how+1 must be 1..3. */
    if (how < SHUT_RD || how > SHUT_RDWR)
        return ret_err(-EINVAL);
    int rc = so->ops->shutdown(st, so, how);
    sock_wake(st, so, SOCK_WAKE_ANY); /* inet_shutdown: sk_state_change, error or not */
    return ret_err(rc);
}

static int close_do(struct ns_stack *st, int fd)
{
    struct ns_sock *so = fd_get_any(st, fd);
    if (!so)
        return ret_err(-EBADF);
    ep_forget(st, so); /* out of every epoll set that watches it */
    fd_free(st, fd);
    so->fd = -1;
    /* Calls blocked in other threads have it pinned (their waiters are
     * its only watchers now): Linux's close() takes the descriptor away
     * but the file lives until those calls return, and does not wake
     * them; the last of them closes it (fd_call_done). */
    if (so->watchers.head) {
        fd_close_defer(st, so);
        return 0;
    }
    so->ops->close(st, so); /* frees so, now or when the protocol is done */
    return 0;
}

/* ---- names ----------------------------------------------------------------------------- */

static int put_name(const struct ns_sock *so, const struct ns_addr *addr, uint16_t port,
                    struct sockaddr *out, socklen_t *outlen)
{
    if (!out || !outlen)
        return -EFAULT;
    if ((int)*outlen < 0)
        return -EINVAL;
    struct sockaddr_storage name;
    socklen_t len = sock_name(so, addr, port, &name);
    socklen_t n = *outlen < len ? *outlen : len;
    memcpy(out, &name, n);
    *outlen = len;
    return 0;
}

static int getsockname_do(struct ns_stack *st, int fd, struct sockaddr *addr,
                          socklen_t *addrlen)
{
    struct ns_sock *so = fd_get(st, fd);
    if (!so)
        return ret_err(fd_err(st, fd));
    return ret_err(put_name(so, &so->flow.local, so->flow.lport, addr, addrlen));
}

static int getpeername_do(struct ns_stack *st, int fd, struct sockaddr *addr,
                          socklen_t *addrlen)
{
    struct ns_sock *so = fd_get(st, fd);
    if (!so)
        return ret_err(fd_err(st, fd));
    /* inet_getname: no peer port means not connected (UDP or raw
     * connected to port 0 included). */
    if (!(so->flags & SO_F_CONNECTED) || so->flow.rport == 0)
        return ret_err(-ENOTCONN);
    return ret_err(put_name(so, &so->flow.remote, so->flow.rport, addr, addrlen));
}

/* ---- options ------------------------------------------------------------------------------ */

static int get_int_opt(const void *val, socklen_t len, int *out)
{
    if (!val)
        return -EFAULT;
    if (len < (socklen_t)sizeof(int))
        return -EINVAL;
    memcpy(out, val, sizeof(int));
    return 0;
}

/* Boolean options that are one socket flag each, for set and get alike. */
static const struct {
    int level, name;
    uint32_t flag;
} flag_opts[] = {
    {SOL_SOCKET, SO_REUSEADDR, SO_F_REUSEADDR}, {SOL_SOCKET, SO_REUSEPORT, SO_F_REUSEPORT},
    {SOL_SOCKET, SO_BROADCAST, SO_F_BROADCAST}, {SOL_SOCKET, SO_KEEPALIVE, SO_F_KEEPALIVE},
    {SOL_SOCKET, SO_DONTROUTE, SO_F_DONTROUTE}, {IPPROTO_IP, IP_PKTINFO, SO_F_PKTINFO},
    {IPPROTO_IP, IP_RECVTTL, SO_F_RECVTTL},     {IPPROTO_IP, IP_RECVTOS, SO_F_RECVTOS},
    {IPPROTO_IP, IP_HDRINCL, SO_F_HDRINCL},     {IPPROTO_IP, IP_RECVERR, SO_F_RECVERR},
    {SOL_SOCKET, SO_OOBINLINE, SO_F_OOBINLINE},
    {IPPROTO_IP, IP_TRANSPARENT, SO_F_TRANSPARENT}, {IPPROTO_IP, IP_RECVORIGDSTADDR, SO_F_RECVORIGDST},
};

/* The flag behind a boolean option, or 0. */
static uint32_t flag_opt(int level, int name)
{
    for (size_t i = 0; i < sizeof(flag_opts) / sizeof(flag_opts[0]); i++)
        if (flag_opts[i].level == level && flag_opts[i].name == name)
            return flag_opts[i].flag;
    return 0;
}

static void set_flag(struct ns_sock *so, uint32_t flag, int on)
{
    if (on)
        so->flags |= flag;
    else
        so->flags &= ~flag;
}

static int set_timeo(const void *val, socklen_t len, uint64_t *out_us)
{
    struct timeval tv;
    if (!val)
        return -EFAULT;
    if (len < (socklen_t)sizeof(tv))
        return -EINVAL;
    memcpy(&tv, val, sizeof(tv));
    /* sock_set_timeout: usec outside [0, 1s) is EDOM; negative sec means 0. */
    if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
        return -EDOM;
    if (tv.tv_sec < 0) {
        *out_us = SOCK_TIMEO_NOWAIT; /* Linux: negative timeout = return at once */
        return 0;
    }
    if (tv.tv_sec == 0 && tv.tv_usec == 0) {
        *out_us = 0;
        return 0;
    }
    *out_us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
    return 0;
}

static int setsockopt_socket(struct ns_stack *st, struct ns_sock *so, int name, const void *val,
                             socklen_t len)
{
    int v = 0, rc;
    switch (name) {
    case SO_RCVTIMEO:
        return set_timeo(val, len, &so->rcvtimeo_us);
    case SO_SNDTIMEO:
        return set_timeo(val, len, &so->sndtimeo_us);
    case SO_LINGER: {
        struct linger l;
        if (!val)
            return -EFAULT;
        if (len < (socklen_t)sizeof(l))
            return -EINVAL;
        memcpy(&l, val, sizeof(l));
        /* sock_setsockopt: l_onoff 0 only clears the flag; the time is
         * kept from the last l_onoff != 0. */
        so->linger_onoff = l.l_onoff != 0;
        if (l.l_onoff)
            so->linger_s = l.l_linger;
        return 0;
    }
    default:
        break;
    }
    if ((rc = get_int_opt(val, len, &v)) < 0)
        return rc;
    uint32_t flag = flag_opt(SOL_SOCKET, name);
    if (flag) {
        set_flag(so, flag, v);
        return 0;
    }
    switch (name) {
    case SO_RCVBUF: {
        /* sock_setsockopt: min_t(u32, val, rmem_max) — a negative value is
         * a huge one — doubled, at least the floor. */
        uint32_t u = (uint32_t)v;
        /* TCP: up to cfg.tcp_rmem_max (4 MiB, Linux tcp_rmem[2]) now
         * that window scaling can offer such a window; other sockets keep
         * net.core.rmem_max. */
        uint32_t max = so->type == SOCK_STREAM ? st->cfg.tcp_rmem_max : SOCK_RMEM_MAX;
        if (u > max)
            u = max;
        so->rcvbuf = u * 2 < SOCK_MIN_RCVBUF ? SOCK_MIN_RCVBUF : u * 2;
        return 0;
    }
    case SO_SNDBUF: {
        uint32_t u = (uint32_t)v; /* as SO_RCVBUF, with wmem_max */
        uint32_t max = so->type == SOCK_STREAM ? st->cfg.tcp_wmem_max : SOCK_WMEM_MAX;
        if (u > max)
            u = max;
        so->sndbuf = u * 2 < SOCK_MIN_SNDBUF ? SOCK_MIN_SNDBUF : u * 2;
        return 0;
    }
    case SO_PRIORITY:
        if (v < 0 || v > 6)
            return -EPERM; /* above 6 needs CAP_NET_ADMIN: refused as unprivileged */
        so->priority = v;
        return 0;
    case SO_MARK:
        so->mark = (uint32_t)v;
        return 0;
    case SO_RCVLOWAT:
        /* sock_setsockopt: negative means INT_MAX, 0 means 1. */
        so->rcvlowat = v < 0 ? INT_MAX : v ? v : 1;
        return 0;
    case SO_TYPE:
    case SO_ERROR:
    case SO_PROTOCOL:
    case SO_DOMAIN:
    case SO_ACCEPTCONN:
        return -ENOPROTOOPT; /* read-only */
    default:
        return -ENOPROTOOPT;
    }
}

static int setsockopt_ip(struct ns_stack *st, struct ns_sock *so, int name, const void *val,
                         socklen_t len)
{
    (void)st;
    int v = 0;
    /* do_ip_setsockopt accepts a single byte for the int options, and
     * "optlen == 0 is equivalent to val == 0". */
    if (len >= 1) {
        if (!val)
            return -EFAULT;
        if (len >= (socklen_t)sizeof(int))
            memcpy(&v, val, sizeof(int));
        else
            v = *(const unsigned char *)val;
    }
    uint32_t flag = flag_opt(IPPROTO_IP, name);
    if (flag && name != IP_HDRINCL) {
        set_flag(so, flag, v);
        return 0;
    }
    switch (name) {
    case IP_TTL:
        if (len < 1)
            return -EINVAL;
        if (v == -1) {
            so->ttl = 0;
            return 0;
        }
        if (v < 1 || v > 255)
            return -EINVAL;
        so->ttl = (uint8_t)v;
        return 0;
    case IP_TOS:
        so->tos = (uint8_t)v;
        return 0;
    case IP_HDRINCL:
        if (so->type != SOCK_RAW)
            return -ENOPROTOOPT;
        set_flag(so, SO_F_HDRINCL, v);
        return 0;
    default:
        return -ENOPROTOOPT;
    }
}

/* Linux's numbers the C library's headers may lack: SOL_RAW, the raw
 * ICMPv6 filter option (ICMPV6_FILTER, netinet/icmp6.h ICMP6_FILTER),
 * IPV6_HDRINCL. */
#define LX_SOL_RAW 255
#define LX_ICMPV6_FILTER 1
#define LX_IPV6_HDRINCL 36
#define LX_ICMP6_FILTER_LEN 32 /* struct icmp6_filter */

/* do_ipv6_setsockopt, the options netsock has (ipv6(7)); anything else is
 * ENOPROTOOPT. As Linux, the value is an int read only when optlen
 * holds one (shorter, or a NULL optval, reads as 0), and every option
 * wants optlen >= sizeof(int) (EINVAL). */
static int setsockopt_ip6(struct ns_stack *st, struct ns_sock *so, int name, const void *val,
                          socklen_t len)
{
    int v = 0;
    if (val && len >= (socklen_t)sizeof(int))
        memcpy(&v, val, sizeof(int));
    bool short_len = len < (socklen_t)sizeof(int);
    bool stream = so->type == SOCK_STREAM;
    uint32_t flag = 0;
    switch (name) {
    case IPV6_V6ONLY:
        /* Only before the socket has a port (inet_num: raw sockets
         * always have one, their protocol). */
        if (short_len || (so->flags & SO_F_BOUND) || so->type == SOCK_RAW)
            return -EINVAL;
        flag = SO_F_V6ONLY;
        break;
    case IPV6_RECVPKTINFO: flag = SO_F_RECVPKTINFO6; break;
    case IPV6_RECVTCLASS: flag = SO_F_RECVTCLASS6; break;
    case IPV6_RECVHOPLIMIT: flag = SO_F_RECVHOPS6; break;
    case IPV6_RECVERR: flag = SO_F_RECVERR6; break;
    case IPV6_UNICAST_HOPS:
        if (short_len || v < -1 || v > 255)
            return -EINVAL;
        so->hops6 = (int16_t)v;
        return 0;
    case IPV6_MULTICAST_HOPS:
        if (stream)
            return -ENOPROTOOPT;
        if (short_len || v < -1 || v > 255)
            return -EINVAL;
        so->mc_hops6 = (int16_t)(v == -1 ? 1 : v);
        return 0;
    case IPV6_MULTICAST_LOOP:
        if (short_len || (v != 0 && v != 1))
            return -EINVAL;
        set_flag(so, SO_F_MC6_NOLOOP, !v);
        return 0;
    case IPV6_MULTICAST_IF:
        if (stream)
            return -ENOPROTOOPT;
        if (short_len)
            return -EINVAL;
        if (v) {
            if (so->bound_ifindex && so->bound_ifindex != v)
                return -EINVAL;
            if (!ns_iface_get(st, v))
                return -ENODEV;
        }
        so->mc_if6 = v;
        return 0;
    case IPV6_TCLASS:
        if (short_len || v < -1 || v > 0xff)
            return -EINVAL;
        if (v == -1)
            v = 0; /* RFC 3542 §6.5: the default traffic class is 0 */
        if (stream) /* TCP owns the ECN bits (RFC 3168) */
            v = (v & ~3) | (so->tclass & 3);
        so->tclass = (uint8_t)v;
        return 0;
    default:
        return -ENOPROTOOPT;
    }
    if (short_len)
        return -EINVAL;
    set_flag(so, flag, v);
    return 0;
}

/* do_rawv6_setsockopt: IPV6_CHECKSUM (an even offset, or negative for
 * none; not at IPPROTO_IPV6 on ICMPv6 sockets, RFC 3542 §3.1, which must
 * checksum) and IPV6_HDRINCL, at IPPROTO_IPV6 or SOL_RAW. */
static int setsockopt_raw6(struct ns_sock *so, int level, int name, const void *val,
                           socklen_t len)
{
    int v;
    int rc = sock_optval_int(val, len, &v);
    if (rc < 0)
        return rc;
    if (name == LX_IPV6_HDRINCL) {
        set_flag(so, SO_F_HDRINCL, v);
        return 0;
    }
    if (name != IPV6_CHECKSUM)
        return -ENOPROTOOPT;
    if (so->flow.proto == IPPROTO_ICMPV6 && level == IPPROTO_IPV6)
        return -EINVAL;
    if (v > 0 && (v & 1))
        return -EINVAL;
    so->csum_off6 = (int16_t)(v < 0 ? -1 : v);
    return 0;
}

/* setsockopt on an AF_INET6 socket at a level other than SOL_SOCKET and
 * the transport's own: rawv6_setsockopt (SOL_RAW, ICMP6_FILTER at
 * IPPROTO_ICMPV6 on ICMPv6 sockets only, else EOPNOTSUPP) and
 * ipv6_setsockopt (IPPROTO_IP goes to the IPv4 options except on raw
 * sockets; any other level but IPPROTO_IPV6 is ENOPROTOOPT). */
static int setsockopt_family6(struct ns_stack *st, struct ns_sock *so, int level, int name,
                              const void *val, socklen_t len)
{
    if (so->type == SOCK_RAW) {
        if (level == IPPROTO_ICMPV6) {
            if (so->flow.proto != IPPROTO_ICMPV6)
                return -EOPNOTSUPP;
            if (name != LX_ICMPV6_FILTER)
                return -ENOPROTOOPT;
            size_t n = len < LX_ICMP6_FILTER_LEN ? len : LX_ICMP6_FILTER_LEN;
            if (n && !val)
                return -EFAULT;
            memcpy(so->icmp6_filter, val, n);
            return 0;
        }
        if (level == LX_SOL_RAW ||
            (level == IPPROTO_IPV6 && (name == IPV6_CHECKSUM || name == LX_IPV6_HDRINCL)))
            return setsockopt_raw6(so, level, name, val, len);
    }
    if (level == IPPROTO_IP && so->type != SOCK_RAW)
        return setsockopt_ip(st, so, name, val, len);
    if (level != IPPROTO_IPV6)
        return -ENOPROTOOPT;
    return setsockopt_ip6(st, so, name, val, len);
}

static int setsockopt_do(struct ns_stack *st, int fd, int level, int optname,
                         const void *optval, socklen_t optlen)
{
    struct ns_sock *so = fd_get(st, fd);
    if (!so)
        return ret_err(fd_err(st, fd));
    if ((int)optlen < 0)
        return ret_err(-EINVAL);
    if (level == SOL_SOCKET) {
        int rc = setsockopt_socket(st, so, optname, optval, optlen);
        /* Stream sockets act on some socket-level options at once
         * (SO_KEEPALIVE arms the keepalive timer, as Linux sk_setsockopt). */
        if (rc == 0 && so->type == SOCK_STREAM && so->ops->setsockopt)
            so->ops->setsockopt(st, so, SOL_SOCKET, optname, optval, optlen);
        return ret_err(rc);
    }
    if (so->family == AF_INET6 && !(level == so->flow.proto && so->type != SOCK_RAW))
        return ret_err(setsockopt_family6(st, so, level, optname, optval, optlen));
    /* Linux ip_setsockopt: a level that is neither IP nor the
     * protocol's is ENOPROTOOPT. */
    if (level == IPPROTO_IP)
        return ret_err(setsockopt_ip(st, so, optname, optval, optlen));
    if (level == so->flow.proto && so->ops->setsockopt)
        return ret_err(so->ops->setsockopt(st, so, level, optname, optval, optlen));
    return ret_err(-ENOPROTOOPT);
}

/* Copy an option value out, truncated to *len as Linux does. */
static int put_opt(void *val, socklen_t *len, const void *v, socklen_t vlen)
{
    if (!len)
        return -EFAULT;
    if ((int)*len < 0)
        return -EINVAL;
    socklen_t n = *len < vlen ? *len : vlen;
    if (n && !val)
        return -EFAULT;
    memcpy(val, v, n);
    *len = n;
    return 0;
}

static int put_timeo(void *val, socklen_t *len, uint64_t us)
{
    if (us == SOCK_TIMEO_NOWAIT)
        us = 0; /* sock_get_timeout: a zero timeout reads as {0, 0} */
    struct timeval tv = {.tv_sec = (time_t)(us / 1000000u), .tv_usec = (suseconds_t)(us % 1000000u)};
    return put_opt(val, len, &tv, sizeof(tv));
}

static int getsockopt_socket(struct ns_stack *st, struct ns_sock *so, int name, void *val,
                             socklen_t *len)
{
    (void)st;
    int v;
    uint32_t flag = flag_opt(SOL_SOCKET, name);
    if (flag) {
        v = !!(so->flags & flag);
        return put_opt(val, len, &v, sizeof(v));
    }
    switch (name) {
    case SO_TYPE: v = so->type; break;
    case SO_PROTOCOL: v = so->flow.proto; break;
    case SO_DOMAIN: v = so->family; break;
    case SO_ERROR:
        v = so->so_error;
        so->so_error = 0;
        break;
    case SO_RCVBUF: v = (int)so->rcvbuf; break;
    case SO_SNDBUF: v = (int)so->sndbuf; break;
    case SO_PRIORITY: v = so->priority; break;
    case SO_MARK: v = (int)so->mark; break;
    case SO_ACCEPTCONN: v = so->ops->listen && so->ops->state_name &&
                               !strcmp(so->ops->state_name(so), "LISTEN"); break;
    case SO_RCVLOWAT: v = so->rcvlowat; break;
    case SO_SNDLOWAT: v = 1; break;
    case SO_RCVTIMEO: return put_timeo(val, len, so->rcvtimeo_us);
    case SO_SNDTIMEO: return put_timeo(val, len, so->sndtimeo_us);
    case SO_LINGER: {
        struct linger l = {.l_onoff = so->linger_onoff, .l_linger = so->linger_s};
        return put_opt(val, len, &l, sizeof(l));
    }
    default:
        return -ENOPROTOOPT;
    }
    return put_opt(val, len, &v, sizeof(v));
}

static int getsockopt_ip(struct ns_stack *st, struct ns_sock *so, int name, void *val,
                         socklen_t *len)
{
    int v;
    uint32_t flag = flag_opt(IPPROTO_IP, name);
    if (flag)
        v = !!(so->flags & flag);
    else if (name == IP_TTL)
        v = so->ttl ? so->ttl : st->cfg.ip_default_ttl;
    else if (name == IP_TOS)
        v = so->tos;
    else
        return -ENOPROTOOPT;
    /* do_ip_getsockopt: a buffer shorter than an int gets one byte when
     * the value fits in one. */
    if (*len > 0 && *len < (socklen_t)sizeof(int) && v >= 0 && v <= 255) {
        unsigned char byte = (unsigned char)v;
        return put_opt(val, len, &byte, 1);
    }
    return put_opt(val, len, &v, sizeof(v));
}

/* An int option value out as do_ipv6_getsockopt copies it: the length
 * read as an int and taken as unsigned (a negative one reads 4 bytes),
 * at most sizeof(int). */
static int put_int6(void *val, socklen_t *len, int v)
{
    if (!len)
        return -EFAULT;
    unsigned n = *len < sizeof(int) ? *len : (unsigned)sizeof(int);
    if (n && !val)
        return -EFAULT;
    memcpy(val, &v, n);
    *len = n;
    return 0;
}

/* do_ipv6_getsockopt, for the options setsockopt_ip6 sets. */
static int getsockopt_ip6(struct ns_stack *st, struct ns_sock *so, int name, void *val,
                          socklen_t *len)
{
    int v;
    switch (name) {
    case IPV6_V6ONLY: v = !!(so->flags & SO_F_V6ONLY); break;
    case IPV6_RECVPKTINFO: v = !!(so->flags & SO_F_RECVPKTINFO6); break;
    case IPV6_RECVTCLASS: v = !!(so->flags & SO_F_RECVTCLASS6); break;
    case IPV6_RECVHOPLIMIT: v = !!(so->flags & SO_F_RECVHOPS6); break;
    case IPV6_RECVERR: v = !!(so->flags & SO_F_RECVERR6); break;
    /* -1: the interface's hop limit (devconf hop_limit, 64 as IPv4's). */
    case IPV6_UNICAST_HOPS: v = so->hops6 >= 0 ? so->hops6 : st->cfg.ip_default_ttl; break;
    case IPV6_MULTICAST_HOPS: v = so->mc_hops6; break;
    case IPV6_MULTICAST_LOOP: v = !(so->flags & SO_F_MC6_NOLOOP); break;
    case IPV6_MULTICAST_IF: v = so->mc_if6; break;
    case IPV6_TCLASS: v = so->tclass; break;
    default: return -ENOPROTOOPT;
    }
    return put_int6(val, len, v);
}

/* getsockopt on an AF_INET6 socket at a level other than SOL_SOCKET and
 * the transport's own: rawv6_getsockopt, then ipv6_getsockopt (as
 * setsockopt_family6). */
static int getsockopt_family6(struct ns_stack *st, struct ns_sock *so, int level, int name,
                              void *val, socklen_t *len)
{
    if (so->type == SOCK_RAW) {
        if (level == IPPROTO_ICMPV6) {
            if (so->flow.proto != IPPROTO_ICMPV6)
                return -EOPNOTSUPP;
            if (name != LX_ICMPV6_FILTER)
                return -ENOPROTOOPT;
            if (!len)
                return -EFAULT;
            if ((int)*len < 0)
                return -EINVAL;
            return put_opt(val, len, so->icmp6_filter, LX_ICMP6_FILTER_LEN);
        }
        if (level == LX_SOL_RAW ||
            (level == IPPROTO_IPV6 && (name == IPV6_CHECKSUM || name == LX_IPV6_HDRINCL))) {
            if (name == LX_IPV6_HDRINCL)
                return put_int6(val, len, !!(so->flags & SO_F_HDRINCL));
            if (name == IPV6_CHECKSUM)
                return put_int6(val, len, so->csum_off6);
            return len ? -ENOPROTOOPT : -EFAULT;
        }
    }
    if (level == IPPROTO_IP && so->type != SOCK_RAW) {
        if (!len)
            return -EFAULT;
        if ((int)*len < 0)
            return -EINVAL;
        return getsockopt_ip(st, so, name, val, len);
    }
    if (level != IPPROTO_IPV6)
        return -ENOPROTOOPT;
    if (!len)
        return -EFAULT;
    return getsockopt_ip6(st, so, name, val, len);
}

static int getsockopt_do(struct ns_stack *st, int fd, int level, int optname, void *optval,
                         socklen_t *optlen)
{
    struct ns_sock *so = fd_get(st, fd);
    if (!so)
        return ret_err(fd_err(st, fd));
    if (level == so->flow.proto && so->type != SOCK_RAW && so->ops->getsockopt)
        return ret_err(so->ops->getsockopt(st, so, level, optname, optval, optlen));
    if (so->family == AF_INET6 && level != SOL_SOCKET)
        return ret_err(getsockopt_family6(st, so, level, optname, optval, optlen));
    /* udp_getsockopt / raw_getsockopt hand every other level to
     * ip_getsockopt, which refuses anything but SOL_IP with EOPNOTSUPP. */
    if (level != SOL_SOCKET && level != IPPROTO_IP)
        return ret_err(-EOPNOTSUPP);
    /* sk_getsockopt, do_ip_getsockopt: the length is read and checked
     * before the option name. */
    if (!optlen)
        return ret_err(-EFAULT);
    if ((int)*optlen < 0)
        return ret_err(-EINVAL);
    if (level == SOL_SOCKET)
        return ret_err(getsockopt_socket(st, so, optname, optval, optlen));
    return ret_err(getsockopt_ip(st, so, optname, optval, optlen));
}

static int fcntl_do(struct ns_stack *st, int fd, int cmd, va_list ap)
{
    struct ns_sock *so = fd_get_any(st, fd); /* any descriptor, epoll sets too */
    if (!so)
        return ret_err(-EBADF);
    switch (cmd) {
    case F_GETFL:
        return O_RDWR | ((so->flags & SO_F_NONBLOCK) ? O_NONBLOCK : 0);
    case F_SETFL: {
        int fl = va_arg(ap, int);
        set_flag(so, SO_F_NONBLOCK, fl & O_NONBLOCK);
        return 0;
    }
    case F_GETFD:
    case F_SETFD:
        return 0; /* no exec across netsock descriptors */
    default:
        return ret_err(-EINVAL);
    }
}

/* ---- poll ------------------------------------------------------------------------------------ */

static int poll_scan(struct ns_stack *st, struct pollfd *fds, nfds_t nfds)
{
    int ready = 0;
    for (nfds_t i = 0; i < nfds; i++) {
        fds[i].revents = 0;
        if (fds[i].fd < 0)
            continue;
        struct ns_sock *so = fd_get_any(st, fds[i].fd);
        if (!so) {
            fds[i].revents = POLLNVAL;
            ready++;
            continue;
        }
        short m = so->ops->poll(st, so);
        fds[i].revents = (short)(m & (fds[i].events | POLLERR | POLLHUP));
        if (fds[i].revents)
            ready++;
    }
    return ready;
}

static int poll_do(struct ns_stack *st, struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
    if (nfds && !fds)
        return ret_err(-EFAULT);
    if (timeout_ms != 0)
        fd_refresh(st, NULL); /* as deadline_after: a fresh clock */
    uint64_t deadline = timeout_ms < 0 ? NS_TIME_NEVER : st->now_us + (uint64_t)timeout_ms * 1000u;
    /* One look at every descriptor (poll(2) is O(nfds) per call); then,
     * if nothing is ready, a private epoll set watches them and only the
     * ones whose readiness changed are looked at again (socket/epoll.c). */
    int ready = poll_scan(st, fds, nfds);
    if (ready || st->now_us >= deadline)
        return ready;
    int rc = ep_poll_wait(st, fds, nfds, deadline);
    if (rc == -EWOULDBLOCK || rc == -EAGAIN)
        return 0;
    return ret_err(rc);
}

/* ---- epoll (socket/epoll.c) ------------------------------------------------------------ */

/* The calls themselves are in "the thread edge" below. */

/* ---- introspection --------------------------------------------------------------------------- */

static int sock_list_do(struct ns_stack *st, struct ns_sock_info *out, int max)
{
    struct fd_table *t = st->fds;
    int n = 0;
    for (int fd = 0; fd < t->cap; fd++) {
        struct ns_sock *so = t->fds[fd];
        if (!so || ep_is_set(so))
            continue;
        if (n < max) {
            struct ns_sock_info *i = &out[n];
            memset(i, 0, sizeof(*i));
            i->fd = fd;
            i->family = so->family;
            i->type = so->type;
            i->protocol = so->flow.proto;
            struct sockaddr_storage name;
            socklen_t len = sock_name(so, &so->flow.local,
                                      so->type == SOCK_RAW ? 0 : so->flow.lport, &name);
            memcpy(&i->local, &name, len);
            if (so->flags & SO_F_CONNECTED) {
                len = sock_name(so, &so->flow.remote, so->flow.rport, &name);
                memcpy(&i->remote, &name, len);
            }
            i->state = so->ops->state_name ? so->ops->state_name(so) : "UNCONN";
            i->recv_q = (uint32_t)so->rxq.bytes;
            i->drops = so->rx_drops;
            if (so->ops->info)
                so->ops->info(so, i);
        }
        n++;
    }
    return n;
}

/* ---- the thread edge ----------------------------------------------------------------
 *
 * Every public call is the function above it with the stack lock around
 * (docs/architecture.md "Threads"): taken here once, let go of only
 * while a call waits (fd_wait, fd_refresh, which pin the socket waited
 * on) and at the end (fd_call_done, which also closes the sockets closed
 * while calls waited on them, and tells a loop sleeping on another
 * thread that it may have work). No lock is taken when the stack is not
 * shared between threads (a simulator host, a stack on no ns_loop): then
 * this costs two tests per call. ns_accept, ns_send, ns_recv go through
 * ns_accept4, ns_sendto, ns_recvfrom. */

int ns_socket(struct ns_stack *st, int domain, int type, int protocol)
{
    fd_lock(st);
    int rc = socket_do(st, domain, type, protocol);
    fd_call_done(st);
    return rc;
}

int ns_bind(struct ns_stack *st, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    fd_lock(st);
    int rc = bind_do(st, fd, addr, addrlen);
    fd_call_done(st);
    return rc;
}

int ns_connect(struct ns_stack *st, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    fd_lock(st);
    int rc = connect_do(st, fd, addr, addrlen);
    fd_call_done(st);
    return rc;
}

int ns_listen(struct ns_stack *st, int fd, int backlog)
{
    fd_lock(st);
    int rc = listen_do(st, fd, backlog);
    fd_call_done(st);
    return rc;
}

int ns_accept4(struct ns_stack *st, int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
    fd_lock(st);
    int rc = accept4_do(st, fd, addr, addrlen, flags);
    fd_call_done(st);
    return rc;
}

int ns_accept(struct ns_stack *st, int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    return ns_accept4(st, fd, addr, addrlen, 0);
}

ssize_t ns_sendmsg(struct ns_stack *st, int fd, const struct msghdr *msg, int flags)
{
    fd_lock(st);
    ssize_t rc = sendmsg_do(st, fd, msg, flags);
    fd_call_done(st);
    return rc;
}

ssize_t ns_sendto(struct ns_stack *st, int fd, const void *buf, size_t len, int flags,
                  const struct sockaddr *dest, socklen_t destlen)
{
    fd_lock(st);
    ssize_t rc = sendto_do(st, fd, buf, len, flags, dest, destlen);
    fd_call_done(st);
    return rc;
}

ssize_t ns_send(struct ns_stack *st, int fd, const void *buf, size_t len, int flags)
{
    return ns_sendto(st, fd, buf, len, flags, NULL, 0);
}

ssize_t ns_recvmsg(struct ns_stack *st, int fd, struct msghdr *msg, int flags)
{
    fd_lock(st);
    ssize_t rc = recvmsg_do(st, fd, msg, flags);
    fd_call_done(st);
    return rc;
}

ssize_t ns_recvfrom(struct ns_stack *st, int fd, void *buf, size_t len, int flags,
                    struct sockaddr *src, socklen_t *srclen)
{
    fd_lock(st);
    ssize_t rc = recvfrom_do(st, fd, buf, len, flags, src, srclen);
    fd_call_done(st);
    return rc;
}

ssize_t ns_recv(struct ns_stack *st, int fd, void *buf, size_t len, int flags)
{
    return ns_recvfrom(st, fd, buf, len, flags, NULL, NULL);
}

int ns_shutdown(struct ns_stack *st, int fd, int how)
{
    fd_lock(st);
    int rc = shutdown_do(st, fd, how);
    fd_call_done(st);
    return rc;
}

int ns_close(struct ns_stack *st, int fd)
{
    fd_lock(st);
    int rc = close_do(st, fd);
    fd_call_done(st);
    return rc;
}

int ns_getsockname(struct ns_stack *st, int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    fd_lock(st);
    int rc = getsockname_do(st, fd, addr, addrlen);
    fd_call_done(st);
    return rc;
}

int ns_getpeername(struct ns_stack *st, int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    fd_lock(st);
    int rc = getpeername_do(st, fd, addr, addrlen);
    fd_call_done(st);
    return rc;
}

int ns_setsockopt(struct ns_stack *st, int fd, int level, int optname, const void *optval,
                  socklen_t optlen)
{
    fd_lock(st);
    int rc = setsockopt_do(st, fd, level, optname, optval, optlen);
    fd_call_done(st);
    return rc;
}

int ns_getsockopt(struct ns_stack *st, int fd, int level, int optname, void *optval,
                  socklen_t *optlen)
{
    fd_lock(st);
    int rc = getsockopt_do(st, fd, level, optname, optval, optlen);
    fd_call_done(st);
    return rc;
}

int ns_fcntl(struct ns_stack *st, int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    fd_lock(st);
    int rc = fcntl_do(st, fd, cmd, ap);
    fd_call_done(st);
    va_end(ap);
    return rc;
}

int ns_poll(struct ns_stack *st, struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
    fd_lock(st);
    int rc = poll_do(st, fds, nfds, timeout_ms);
    fd_call_done(st);
    return rc;
}

int ns_epoll_create1(struct ns_stack *st, int flags)
{
    fd_lock(st);
    int rc = ret_err(ep_create(st, flags));
    fd_call_done(st);
    return rc;
}

int ns_epoll_ctl(struct ns_stack *st, int epfd, int op, int fd, struct epoll_event *ev)
{
    fd_lock(st);
    int rc = ret_err(ep_ctl(st, epfd, op, fd, ev));
    fd_call_done(st);
    return rc;
}

int ns_epoll_wait(struct ns_stack *st, int epfd, struct epoll_event *events, int maxevents,
                  int timeout_ms)
{
    fd_lock(st);
    int rc = ret_err(ep_wait(st, epfd, events, maxevents, timeout_ms));
    fd_call_done(st);
    return rc;
}

int ns_sock_list(struct ns_stack *st, struct ns_sock_info *out, int max)
{
    fd_lock(st);
    int rc = sock_list_do(st, out, max);
    fd_call_done(st);
    return rc;
}
