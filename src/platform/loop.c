/* platform/loop.c — the real-time loop: drives stacks over real devices on
 * the platform clock, sleeping in epoll(7) until the next stack deadline
 * or a readable device. See include/netsock/os.h.
 *
 * One iteration (ns_loop_run_once):
 *   1. poll every stack at ns_clock_now_us() (everything due now);
 *   2. sleep in epoll_wait until the earliest stack deadline, the caller's
 *      deadline or a ready descriptor (device, extra fd, signalfd); a
 *      device whose full transmit queue holds senders back
 *      (ns_if_tx_wait_writable) is watched for EPOLLOUT too;
 *   3. run the callbacks of ready extra descriptors, note signals;
 *   4. poll every stack again at the new time.
 * Polling every stack each time is simple and costs little with a few
 * stacks (a poll with no input is a handful of calls); many stacks on one
 * loop would want per-stack readiness instead.
 *
 * Timing: epoll_pwait2 (Linux 5.11) sleeps to the microsecond; on older
 * kernels epoll_wait takes milliseconds, so a deadline is rounded up to
 * the next one: timers then fire up to 1 ms late, never early.
 *
 * Signals: ns_loop_catch_signals() blocks SIGINT and SIGTERM in the calling
 * thread and reads them from a signalfd in the epoll set: no signal
 * handler, no global state. The blocked mask is inherited by threads
 * created afterwards and by child processes; ns_loop_free() restores the
 * mask it found.
 *
 * Blocking socket calls: ns_loop_add() installs loop_drive as the stack's
 * driver; one call is one iteration, bounded by the call's deadline. A
 * stopped loop makes blocking calls fail with EINTR, like a system call
 * interrupted by a signal.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "netsock/os.h"
#include "netsock/socket.h"

enum watch_kind { WATCH_DEV, WATCH_USER, WATCH_SIGNAL };

/* What one epoll registration stands for (epoll_event.data.ptr). */
struct watch {
    enum watch_kind kind;
    int fd;
    uint32_t events;     /* registered with epoll */
    struct ns_stack *st; /* WATCH_DEV: the stack and interface of the device */
    int ifindex;
    bool dead; /* removed while events for it may still be in hand */
    ns_loop_fd_fn cb;
    void *ctx;
    struct watch *next; /* in loop->watches */
};

#define LOOP_EVENTS 64

struct ns_loop {
    int epfd;
    struct ns_stack **stacks;
    size_t n_stacks, cap_stacks;
    struct watch *watches; /* every registration, dead ones until swept */
    unsigned depth;        /* nesting of run_once (a callback may block) */
    bool stop;
    bool no_pwait2;        /* kernel without epoll_pwait2: millisecond sleeps */
    int sigfd;             /* -1 until ns_loop_catch_signals */
    sigset_t old_mask;
};

struct ns_loop *ns_loop_new(void)
{
    struct ns_loop *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return NULL;
    loop->sigfd = -1;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        free(loop);
        return NULL;
    }
    return loop;
}

static void sweep(struct ns_loop *loop)
{
    struct watch **pp = &loop->watches;
    while (*pp) {
        struct watch *w = *pp;
        if (w->dead) {
            *pp = w->next;
            free(w);
        } else {
            pp = &w->next;
        }
    }
}

void ns_loop_free(struct ns_loop *loop)
{
    if (!loop)
        return;
    /* The stacks are not touched: they may already be gone. A stack that
     * outlives its loop must not make blocking calls any more. */
    for (struct watch *w = loop->watches; w; w = w->next)
        w->dead = true;
    sweep(loop);
    if (loop->sigfd >= 0) {
        close(loop->sigfd);
        pthread_sigmask(SIG_SETMASK, &loop->old_mask, NULL);
    }
    close(loop->epfd);
    free(loop->stacks);
    free(loop);
}

static struct watch *watch_add(struct ns_loop *loop, enum watch_kind kind, int fd,
                               uint32_t events, ns_loop_fd_fn cb, void *ctx, int *err)
{
    struct watch *w = calloc(1, sizeof(*w));
    if (!w) {
        *err = -ENOMEM;
        return NULL;
    }
    w->kind = kind;
    w->fd = fd;
    w->events = events;
    w->cb = cb;
    w->ctx = ctx;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        *err = -errno;
        free(w);
        return NULL;
    }
    w->next = loop->watches;
    loop->watches = w;
    *err = 0;
    return w;
}

static int poll_stacks(struct ns_loop *loop);

/* The driver behind blocking socket calls on a stack of this loop. */
static int loop_drive(void *ctx, uint64_t deadline_us)
{
    struct ns_loop *loop = ctx;
    if (deadline_us == 0) {
        /* Only bring the stacks up to date (socket.h): no waiting and no
         * descriptor callbacks, so a callback that makes socket calls is
         * never re-entered. */
        poll_stacks(loop);
        return loop->stop ? -EINTR : 0;
    }
    return ns_loop_run_once(loop, deadline_us);
}

int ns_loop_add(struct ns_loop *loop, struct ns_stack *st)
{
    if (!loop || !st)
        return -EINVAL;
    for (size_t i = 0; i < loop->n_stacks; i++)
        if (loop->stacks[i] == st)
            return -EEXIST;
    if (loop->n_stacks == loop->cap_stacks) {
        size_t cap = loop->cap_stacks ? loop->cap_stacks * 2 : 4;
        struct ns_stack **s = realloc(loop->stacks, cap * sizeof(*s));
        if (!s)
            return -ENOMEM;
        loop->stacks = s;
        loop->cap_stacks = cap;
    }
    /* Register each device descriptor; undo on failure. */
    struct watch *added[NS_IF_MAX];
    int n_added = 0, err = 0;
    for (int i = 1; i <= NS_IF_MAX; i++) {
        struct ns_dev *dev = ns_if_dev(st, i);
        int fd = dev && dev->ops->fd ? dev->ops->fd(dev) : -1;
        if (fd < 0)
            continue;
        struct watch *w = watch_add(loop, WATCH_DEV, fd, EPOLLIN, NULL, NULL, &err);
        if (w) {
            w->st = st;
            w->ifindex = i;
        }
        if (!w) {
            for (int k = 0; k < n_added; k++) {
                epoll_ctl(loop->epfd, EPOLL_CTL_DEL, added[k]->fd, NULL);
                added[k]->dead = true;
            }
            if (!loop->depth)
                sweep(loop);
            return err;
        }
        added[n_added++] = w;
    }
    loop->stacks[loop->n_stacks++] = st;
    ns_stack_set_driver(st, loop_drive, loop);
    return 0;
}

int ns_loop_add_fd(struct ns_loop *loop, int fd, uint32_t epoll_events, ns_loop_fd_fn cb,
                   void *ctx)
{
    if (!loop || fd < 0 || !cb)
        return -EINVAL;
    int err;
    return watch_add(loop, WATCH_USER, fd, epoll_events, cb, ctx, &err) ? 0 : err;
}

int ns_loop_del_fd(struct ns_loop *loop, int fd)
{
    if (!loop)
        return -EINVAL;
    for (struct watch *w = loop->watches; w; w = w->next) {
        if (w->kind == WATCH_USER && w->fd == fd && !w->dead) {
            /* The descriptor may already be closed: then epoll dropped it. */
            epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
            w->dead = true; /* freed once no event batch can refer to it */
            if (!loop->depth)
                sweep(loop);
            return 0;
        }
    }
    return -ENOENT;
}

/* Poll every stack now; returns the frames they processed. */
static int poll_stacks(struct ns_loop *loop)
{
    uint64_t now = ns_clock_now_us();
    int frames = 0;
    for (size_t i = 0; i < loop->n_stacks; i++)
        frames += ns_stack_poll(loop->stacks[i], now);
    return frames;
}

/* Milliseconds for epoll_wait until `wake_us` (rounded up), -1 for never. */
static int wait_ms(uint64_t wake_us, uint64_t now_us)
{
    if (wake_us == NS_TIME_NEVER)
        return -1;
    if (wake_us <= now_us)
        return 0;
    uint64_t ms = (wake_us - now_us + 999) / 1000;
    return ms > 1000000000u ? 1000000000 : (int)ms;
}

/* Transmit backpressure: a device whose senders wait for its descriptor
 * to become writable is watched for EPOLLOUT as well, and only then (a
 * writable descriptor is the normal state: watching it always would spin). */
static void watch_writable(struct ns_loop *loop)
{
    for (struct watch *w = loop->watches; w; w = w->next) {
        if (w->kind != WATCH_DEV || w->dead)
            continue;
        uint32_t want = EPOLLIN | (ns_if_tx_wait_writable(w->st, w->ifindex) ? EPOLLOUT : 0u);
        if (want == w->events)
            continue;
        struct epoll_event ev = {.events = want, .data.ptr = w};
        if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) == 0)
            w->events = want;
    }
}

/* Sleep until wake_us (NS_TIME_NEVER: no limit) or an event. */
static int loop_wait(struct ns_loop *loop, struct epoll_event *ev, int max, uint64_t wake_us)
{
    uint64_t now = ns_clock_now_us();
    if (!loop->no_pwait2) {
        struct timespec ts, *tsp = NULL;
        if (wake_us != NS_TIME_NEVER) {
            uint64_t us = wake_us > now ? wake_us - now : 0;
            ts.tv_sec = (time_t)(us / 1000000u);
            ts.tv_nsec = (long)(us % 1000000u) * 1000;
            tsp = &ts;
        }
        int n = epoll_pwait2(loop->epfd, ev, max, tsp, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        loop->no_pwait2 = true;
    }
    return epoll_wait(loop->epfd, ev, max, wait_ms(wake_us, now));
}

static void read_signals(struct ns_loop *loop)
{
    struct signalfd_siginfo si;
    while (read(loop->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        loop->stop = true;
}

int ns_loop_run_once(struct ns_loop *loop, uint64_t deadline_us)
{
    if (loop->stop)
        return -EINTR;
    loop->depth++;
    /* Frames processed here (arrived since the last iteration, or looped
     * back) may have made a socket ready: the caller must get to look
     * before we sleep, so then the wait only collects what is ready. */
    bool busy = poll_stacks(loop) > 0;

    uint64_t wake = busy ? 0 : deadline_us;
    for (size_t i = 0; i < loop->n_stacks; i++) {
        uint64_t d = ns_stack_next_deadline(loop->stacks[i]);
        if (d < wake)
            wake = d;
    }
    watch_writable(loop);
    struct epoll_event ev[LOOP_EVENTS];
    int n = loop_wait(loop, ev, LOOP_EVENTS, wake);
    for (int i = 0; i < n; i++) {
        struct watch *w = ev[i].data.ptr;
        if (w->dead)
            continue;
        switch (w->kind) {
        case WATCH_DEV:
            break; /* the stacks are polled below */
        case WATCH_SIGNAL:
            read_signals(loop);
            break;
        case WATCH_USER:
            w->cb(w->ctx, w->fd, ev[i].events);
            break;
        }
    }
    /* n < 0: EINTR from a signal we do not catch; nothing to do but poll. */
    poll_stacks(loop);
    if (--loop->depth == 0)
        sweep(loop);
    return loop->stop ? -EINTR : 0;
}

int ns_loop_run(struct ns_loop *loop)
{
    while (ns_loop_run_once(loop, NS_TIME_NEVER) == 0)
        ;
    return 0;
}

void ns_loop_stop(struct ns_loop *loop) { loop->stop = true; }

int ns_loop_stopped(const struct ns_loop *loop) { return loop->stop; }

void ns_loop_catch_signals(struct ns_loop *loop)
{
    if (loop->sigfd >= 0)
        return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &set, &loop->old_mask) != 0)
        return;
    loop->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    int err;
    if (loop->sigfd < 0 || !watch_add(loop, WATCH_SIGNAL, loop->sigfd, EPOLLIN, NULL, NULL, &err)) {
        /* Cannot watch them: let them act as before rather than be lost. */
        if (loop->sigfd >= 0)
            close(loop->sigfd);
        loop->sigfd = -1;
        pthread_sigmask(SIG_SETMASK, &loop->old_mask, NULL);
    }
}
