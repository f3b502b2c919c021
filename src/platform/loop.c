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
 *
 * Threads (docs/architecture.md "Threads"): one thread at a time runs
 * the loop's iterations, the one holding run_mu (ns_loop_run holds it
 * for as long as it runs; a nested iteration, a callback's blocking
 * call, is the holder's own). The loop takes each stack's lock
 * (socket/fdtable.h fd_lock) around what it does to that stack — poll,
 * next deadline, device write interest — and holds none while it sleeps
 * or runs descriptor callbacks. A blocking call on another thread
 * (loop_block) drives the loop itself when nobody runs it, and otherwise
 * sleeps on its own condition variable until the socket it waits on
 * changes (the stack's state door wakes it, under the stack lock) or its
 * deadline passes. A call from another thread may have queued frames
 * (the loopback) or armed a timer earlier than the loop's sleep, or
 * found a device's queue full: at its end loop_kick writes the loop's
 * eventfd when the stack's next deadline is before the time the loop
 * sleeps until, or a device it does not watch for room must be.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "netsock/os.h"
#include "netsock/socket.h"
#include "socket/fdtable.h"

enum watch_kind { WATCH_DEV, WATCH_USER, WATCH_SIGNAL, WATCH_WAKE };

/* What one epoll registration stands for (epoll_event.data.ptr). */
struct watch {
    enum watch_kind kind;
    int fd;
    uint32_t events;     /* registered with epoll */
    struct ns_stack *st; /* WATCH_DEV: the stack and interface of the device */
    int ifindex;
    bool dead; /* removed while events for it may still be in hand */
    atomic_bool out; /* WATCH_DEV: EPOLLOUT is in `events` (read by loop_kick) */
    ns_loop_fd_fn cb;
    void *ctx;
    struct watch *next; /* in loop->watches */
};

#define LOOP_EVENTS 64

struct ns_loop {
    int epfd;
    struct ns_stack **stacks;
    size_t n_stacks, cap_stacks;
    /* The device watches of every stack, in one array made by
     * ns_loop_add (before other threads come: loop_kick reads it). */
    struct watch **devs;
    size_t n_devs;
    struct watch *watches; /* every registration, dead ones until swept */
    unsigned depth;        /* nesting of run_once (a callback may block) */
    atomic_bool stop;      /* ns_loop_stop may come from any thread */
    bool no_pwait2;        /* kernel without epoll_pwait2: millisecond sleeps */
    int sigfd;             /* -1 until ns_loop_catch_signals */
    sigset_t old_mask;
    /* Threads (the file's comment): who runs the iterations now. */
    pthread_mutex_t run_mu;
    atomic_bool owned;
    _Atomic pthread_t owner; /* meaningful while owned */
    atomic_bool run_wanted;  /* ns_loop_run waits for a call's iteration to end */
    /* Waking the sleeping loop from another thread (loop_kick,
     * ns_loop_stop): an eventfd in the epoll set. sleep_until is when
     * the loop will wake by itself (0 while it works, NS_TIME_NEVER while
     * it finds out); kicked: the eventfd was written and not yet read. */
    int wakefd;
    _Atomic uint64_t sleep_until;
    atomic_bool kicked;
};

static struct watch *watch_add(struct ns_loop *loop, enum watch_kind kind, int fd,
                               uint32_t events, ns_loop_fd_fn cb, void *ctx, int *err);

struct ns_loop *ns_loop_new(void)
{
    struct ns_loop *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return NULL;
    loop->sigfd = -1;
    loop->wakefd = -1;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0 || pthread_mutex_init(&loop->run_mu, NULL) != 0) {
        if (loop->epfd >= 0)
            close(loop->epfd);
        free(loop);
        return NULL;
    }
    int err;
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0 ||
        !watch_add(loop, WATCH_WAKE, loop->wakefd, EPOLLIN, NULL, NULL, &err)) {
        ns_loop_free(loop);
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
     * outlives its loop may only be freed (ns_stack_free): its calls would
     * tell the loop of them (loop_kick). */
    for (struct watch *w = loop->watches; w; w = w->next)
        w->dead = true;
    sweep(loop);
    if (loop->sigfd >= 0) {
        close(loop->sigfd);
        pthread_sigmask(SIG_SETMASK, &loop->old_mask, NULL);
    }
    if (loop->wakefd >= 0)
        close(loop->wakefd);
    close(loop->epfd);
    pthread_mutex_destroy(&loop->run_mu);
    free(loop->stacks);
    free(loop->devs);
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
static int loop_iterate(struct ns_loop *loop, uint64_t deadline_us);

/* ---- who runs the loop ------------------------------------------------------------ */

static bool loop_is_owner(struct ns_loop *loop)
{
    return atomic_load(&loop->owned) && pthread_equal(atomic_load(&loop->owner), pthread_self());
}

static void loop_claim(struct ns_loop *loop)
{
    atomic_store(&loop->owner, pthread_self());
    atomic_store(&loop->owned, true);
}

/* Let go of the loop: calls asleep on other threads look again (one of
 * them may have to drive it now). */
static void loop_release(struct ns_loop *loop)
{
    atomic_store(&loop->owned, false);
    pthread_mutex_unlock(&loop->run_mu);
    for (size_t i = 0; i < loop->n_stacks; i++)
        fd_wake_parked(loop->stacks[i]);
}

/* Wake the loop from its sleep (any thread). */
static void loop_wake(struct ns_loop *loop)
{
    int saved = errno; /* a call's errno is already set when it kicks */
    uint64_t v = 1;
    if (write(loop->wakefd, &v, sizeof(v)) < 0) {
        /* EAGAIN: the counter is already non-zero, the loop will wake */
    }
    errno = saved;
}

/* The driver behind blocking socket calls on a stack of this loop. */
static int loop_drive(void *ctx, uint64_t deadline_us)
{
    struct ns_loop *loop = ctx;
    if (deadline_us == 0) {
        /* Only bring the stacks up to date (socket.h): no waiting and no
         * descriptor callbacks, so a callback that makes socket calls is
         * never re-entered. Safe on any thread (each stack's lock). */
        poll_stacks(loop);
        return atomic_load(&loop->stop) ? -EINTR : 0;
    }
    return ns_loop_run_once(loop, deadline_us);
}

/* How a call blocks (fd_block_fn), st's lock held: the loop's own thread
 * runs an iteration (nested), as does a thread that finds nobody running
 * it; while another thread runs it, the caller sleeps until its socket
 * changes or the deadline (the stack's clock is CLOCK_MONOTONIC here). */
static int loop_block(void *ctx, struct ns_stack *st, struct fd_waiter *w, uint64_t deadline_us)
{
    struct ns_loop *loop = ctx;
    if (atomic_load(&loop->stop))
        return -EINTR;
    bool nested = loop_is_owner(loop);
    if (nested ||
        (!atomic_load(&loop->run_wanted) && pthread_mutex_trylock(&loop->run_mu) == 0)) {
        if (!nested)
            loop_claim(loop);
        fd_unlock(st);
        int rc = loop_iterate(loop, deadline_us);
        if (!nested)
            loop_release(loop);
        fd_lock(st);
        return rc;
    }
    struct timespec ts;
    if (deadline_us != NS_TIME_NEVER) {
        ts.tv_sec = (time_t)(deadline_us / 1000000u);
        ts.tv_nsec = (long)(deadline_us % 1000000u) * 1000;
    }
    int rc = fd_park(st, w, deadline_us == NS_TIME_NEVER ? NULL : &ts);
    return rc == 0 && atomic_load(&loop->stop) ? -EINTR : rc;
}

/* At the end of a call on st (its lock held): wake the loop if it sleeps
 * past what the call left due (loopback frames, a timer). Nothing for the
 * loop's own thread (it looks before it sleeps). */
static void loop_kick(void *ctx, struct ns_stack *st)
{
    struct ns_loop *loop = ctx;
    uint64_t until = atomic_load(&loop->sleep_until);
    if (until == 0 || loop_is_owner(loop))
        return;
    bool wake = ns_stack_next_deadline(st) < until;
    /* A send that found a device's queue full: the loop must watch its
     * descriptor for room (watch_writable), which it does not yet. */
    for (size_t i = 0; i < loop->n_devs && !wake; i++) {
        struct watch *w = loop->devs[i];
        if (w->st == st && !atomic_load(&w->out) && ns_if_tx_wait_writable(st, w->ifindex))
            wake = true;
    }
    if (wake && !atomic_exchange(&loop->kicked, true))
        loop_wake(loop);
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
    struct watch **devs = realloc(loop->devs, (loop->n_devs + NS_IF_MAX) * sizeof(*devs));
    if (!devs)
        return -ENOMEM;
    loop->devs = devs;
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
    for (int k = 0; k < n_added; k++)
        loop->devs[loop->n_devs++] = added[k];
    loop->stacks[loop->n_stacks++] = st;
    ns_stack_set_driver(st, loop_drive, loop);
    fd_threads_enable(st, loop_block, loop_kick);
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

/* Poll every stack now (under its lock, the clock read under it so that
 * two threads polling never hand a stack times out of order); returns
 * the frames they processed. */
static int poll_stacks(struct ns_loop *loop)
{
    int frames = 0;
    for (size_t i = 0; i < loop->n_stacks; i++) {
        struct ns_stack *st = loop->stacks[i];
        fd_lock(st);
        frames += ns_stack_poll(st, ns_clock_now_us());
        fd_unlock(st);
    }
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
        fd_lock(w->st);
        bool tx_wait = ns_if_tx_wait_writable(w->st, w->ifindex);
        fd_unlock(w->st);
        uint32_t want = EPOLLIN | (tx_wait ? EPOLLOUT : 0u);
        if (want == w->events)
            continue;
        struct epoll_event ev = {.events = want, .data.ptr = w};
        if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) == 0) {
            w->events = want;
            atomic_store(&w->out, tx_wait);
        }
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
        atomic_store(&loop->stop, true);
}

static void read_wake(struct ns_loop *loop)
{
    uint64_t v;
    if (read(loop->wakefd, &v, sizeof(v)) < 0) {
        /* EAGAIN: read already */
    }
    atomic_store(&loop->kicked, false);
}

/* One iteration (ns_loop_run_once), by the thread that runs the loop. */
static int loop_iterate(struct ns_loop *loop, uint64_t deadline_us)
{
    if (atomic_load(&loop->stop))
        return -EINTR;
    loop->depth++;
    /* Frames processed here (arrived since the last iteration, or looped
     * back) may have made a socket ready: the caller must get to look
     * before we sleep, so then the wait only collects what is ready. */
    bool busy = poll_stacks(loop) > 0;

    /* From here a call on another thread that leaves work due wakes us
     * (loop_kick): NS_TIME_NEVER until we know when we wake, then that. */
    atomic_store(&loop->sleep_until, NS_TIME_NEVER);
    uint64_t wake = busy ? 0 : deadline_us;
    for (size_t i = 0; i < loop->n_stacks; i++) {
        fd_lock(loop->stacks[i]);
        uint64_t d = ns_stack_next_deadline(loop->stacks[i]);
        fd_unlock(loop->stacks[i]);
        if (d < wake)
            wake = d;
    }
    atomic_store(&loop->sleep_until, wake ? wake : 1);
    watch_writable(loop);
    struct epoll_event ev[LOOP_EVENTS];
    int n = loop_wait(loop, ev, LOOP_EVENTS, wake);
    atomic_store(&loop->sleep_until, 0);
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
        case WATCH_WAKE:
            read_wake(loop);
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
    return atomic_load(&loop->stop) ? -EINTR : 0;
}

int ns_loop_run_once(struct ns_loop *loop, uint64_t deadline_us)
{
    if (loop_is_owner(loop))
        return loop_iterate(loop, deadline_us); /* nested: from a callback */
    pthread_mutex_lock(&loop->run_mu);
    loop_claim(loop);
    int rc = loop_iterate(loop, deadline_us);
    loop_release(loop);
    return rc;
}

int ns_loop_run(struct ns_loop *loop)
{
    /* This thread runs the loop until it stops: blocking calls on other
     * threads sleep meanwhile instead of driving it. */
    bool nested = loop_is_owner(loop);
    if (!nested) {
        if (pthread_mutex_trylock(&loop->run_mu) != 0) {
            /* A blocking call on another thread is running an iteration
             * (nobody ran the loop when it came): end its sleep, and keep
             * calls from starting another until this thread has the loop. */
            atomic_store(&loop->run_wanted, true);
            loop_wake(loop);
            pthread_mutex_lock(&loop->run_mu);
            atomic_store(&loop->run_wanted, false);
        }
        loop_claim(loop);
    }
    while (loop_iterate(loop, NS_TIME_NEVER) == 0)
        ;
    if (!nested)
        loop_release(loop);
    return 0;
}

void ns_loop_stop(struct ns_loop *loop)
{
    atomic_store(&loop->stop, true);
    loop_wake(loop); /* from another thread, the loop may be asleep */
}

int ns_loop_stopped(const struct ns_loop *loop) { return atomic_load(&loop->stop); }

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
