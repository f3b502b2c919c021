/* platform/epoll_fd.c — OS descriptors for the application's own loop:
 * ns_epoll_fd, an eventfd readable exactly while a netsock epoll set has
 * events, and ns_stack_fd, one descriptor readable when the stack must be
 * polled (a device readable, or writable while senders wait, or the
 * stack's next deadline reached: a timerfd), so that an application's
 * loop (epoll, libuv, glib) waits on netsock next to its kernel
 * descriptors with two descriptors and no timeout arithmetic. See
 * netsock/os.h.
 *
 * The set tells this file when its ready list stops being empty and when
 * it empties (socket/epoll.h ep_set_notifier; the API settles a socket's
 * registrations after every call that can take its readiness), and the
 * eventfd's counter follows: 1 while there are events, 0 otherwise. The
 * descriptor belongs to the set and is closed with it.
 *
 * A driver (layer 9 of docs/architecture.md): it reaches into the socket
 * API's epoll sets and makes OS calls.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "netsock/dev.h"
#include "netsock/os.h"
#include "socket/epoll.h"
#include "socket/fdtable.h"

struct epoll_os_fd {
    int efd;
};

static void epoll_fd_notify(void *ctx, enum ep_notify what)
{
    struct epoll_os_fd *o = ctx;
    uint64_t v = 1;
    switch (what) {
    case EP_NOTIFY_READY:
        if (write(o->efd, &v, sizeof(v)) < 0) {
            /* EAGAIN only at a counter of 2^64-2: cannot happen (0 or 1). */
        }
        break;
    case EP_NOTIFY_EMPTY:
        if (read(o->efd, &v, sizeof(v)) < 0) {
            /* EAGAIN: already 0. */
        }
        break;
    case EP_NOTIFY_CLOSE:
        close(o->efd);
        free(o);
        break;
    }
}

int ns_epoll_fd(struct ns_stack *st, int epfd)
{
    struct epoll_os_fd *o = malloc(sizeof(*o));
    if (!o) {
        errno = ENOMEM;
        return -1;
    }
    o->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (o->efd < 0) {
        int e = errno;
        free(o);
        errno = e;
        return -1;
    }
    void *old = NULL;
    fd_lock(st); /* the set is the stack's (docs/architecture.md "Threads") */
    int rc = ep_set_notifier(st, epfd, epoll_fd_notify, o, &old);
    int efd = rc == 1 ? ((struct epoll_os_fd *)old)->efd : o->efd; /* 1: the set's, made before */
    fd_unlock(st);
    if (rc != 0) {
        close(o->efd);
        free(o);
        if (rc == 1)
            return efd;
        errno = -rc;
        return -1;
    }
    return efd;
}

/* ---- the stack's "poll me now" descriptor ------------------------------------ */

/* The stack's descriptor: an epoll set (OS) holding its devices'
 * descriptors and a timerfd. */
struct ns_stack_fd {
    struct ns_stack *st;
    int epfd;                    /* the descriptor handed out */
    int tfd;                     /* timerfd at ns_stack_next_deadline, in epfd */
    int dev_fd[NS_IF_MAX + 1];   /* per interface index, -1: none */
    uint32_t dev_events[NS_IF_MAX + 1];
};

struct ns_stack_fd *ns_stack_fd_new(struct ns_stack *st, int *err)
{
    struct ns_stack_fd *s = calloc(1, sizeof(*s));
    if (!s) {
        *err = -ENOMEM;
        return NULL;
    }
    s->st = st;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = s->tfd};
    if (s->epfd < 0 || s->tfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->tfd, &ev) < 0)
        goto fail;
    for (int i = 0; i <= NS_IF_MAX; i++) {
        struct ns_dev *dev = i ? ns_if_dev(st, i) : NULL;
        s->dev_fd[i] = dev && dev->ops->fd ? dev->ops->fd(dev) : -1;
        if (s->dev_fd[i] < 0)
            continue;
        s->dev_events[i] = EPOLLIN;
        ev = (struct epoll_event){.events = EPOLLIN, .data.fd = s->dev_fd[i]};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->dev_fd[i], &ev) < 0)
            goto fail;
    }
    return s;
fail:
    *err = -errno;
    ns_stack_fd_free(s);
    return NULL;
}

int ns_stack_fd(const struct ns_stack_fd *s)
{
    return s->epfd;
}

int ns_stack_fd_arm(struct ns_stack_fd *s)
{
    /* A device whose senders wait for room is watched for EPOLLOUT too,
     * and only then (writable is its normal state), as the real-time
     * loop does (platform/loop.c watch_writable). */
    for (int i = 1; i <= NS_IF_MAX; i++) {
        if (s->dev_fd[i] < 0)
            continue;
        fd_lock(s->st);
        bool tx_wait = ns_if_tx_wait_writable(s->st, i);
        fd_unlock(s->st);
        uint32_t want = EPOLLIN | (tx_wait ? EPOLLOUT : 0u);
        if (want == s->dev_events[i])
            continue;
        struct epoll_event ev = {.events = want, .data.fd = s->dev_fd[i]};
        if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->dev_fd[i], &ev) < 0)
            return -errno;
        s->dev_events[i] = want;
    }
    /* The timer at the stack's next deadline (absolute, on the clock the
     * stack runs on: ns_clock_now_us is CLOCK_MONOTONIC); a deadline
     * already passed fires at once. Reading it clears a past expiry. */
    uint64_t expired;
    if (read(s->tfd, &expired, sizeof(expired)) < 0) {
        /* EAGAIN: it had not fired */
    }
    fd_lock(s->st);
    uint64_t d = ns_stack_next_deadline(s->st);
    fd_unlock(s->st);
    struct itimerspec its = {0};
    if (d != NS_TIME_NEVER) {
        if (d == 0)
            d = 1; /* 0 would disarm it */
        its.it_value.tv_sec = (time_t)(d / 1000000u);
        its.it_value.tv_nsec = (long)(d % 1000000u) * 1000;
    }
    if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        return -errno;
    return 0;
}

void ns_stack_fd_free(struct ns_stack_fd *s)
{
    if (!s)
        return;
    if (s->tfd >= 0)
        close(s->tfd);
    if (s->epfd >= 0)
        close(s->epfd);
    free(s);
}
