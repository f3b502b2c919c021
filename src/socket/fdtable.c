/* socket/fdtable.c — the descriptor table. See fdtable.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "socket/epoll.h"
#include "socket/fdtable.h"
#include "socket/sock.h"

int fd_init(struct ns_stack *st)
{
    st->fds = calloc(1, sizeof(*st->fds));
    if (!st->fds)
        return -ENOMEM;
    if (pthread_mutex_init(&st->fds->lock, NULL) != 0) {
        free(st->fds);
        st->fds = NULL;
        return -ENOMEM;
    }
    return 0;
}

void fd_destroy(struct ns_stack *st)
{
    struct fd_table *t = st->fds;
    if (!t)
        return;
    /* The stack is going: no other thread uses it, and its loop may be
     * gone already (ns_loop_free before ns_stack_free): the closes below
     * take no lock and tell no driver. */
    t->threads = false;
    t->kick_fn = NULL;
    t->block_fn = NULL;
    t->drive_fn = NULL;
    for (int fd = 0; fd < t->cap; fd++)
        if (t->fds[fd])
            ns_close(st, fd);
    free(t->fds);
    free(t->used);
    free(t->full);
    free(t->closing);
    pthread_mutex_destroy(&t->lock);
    free(t);
    st->fds = NULL;
}

struct ns_sock *fd_get_any(struct ns_stack *st, int fd)
{
    struct fd_table *t = st->fds;
    if (fd < 0 || fd >= t->cap)
        return NULL;
    return t->fds[fd];
}

struct ns_sock *fd_get(struct ns_stack *st, int fd)
{
    struct ns_sock *so = fd_get_any(st, fd);
    return so && !ep_is_set(so) ? so : NULL;
}

int fd_err(struct ns_stack *st, int fd)
{
    return fd_get_any(st, fd) ? -ENOTSOCK : -EBADF;
}

/* A waiter's watcher: the socket it waits on changed. It counts as a
 * wake-up (sock_wake_watchers) only for a waiter not woken yet: the
 * waiters on an epoll set are exclusive, so one change wakes one
 * ns_epoll_wait, the next change the next one (Linux's epoll_wait waits
 * exclusively: ep_poll). */
static bool waiter_wake(struct ns_stack *st, struct sock_watch *sw, uint32_t key)
{
    (void)st;
    struct fd_waiter *w = NS_CONTAINER_OF(sw, struct fd_waiter, watch);
    if (key && w->events && !(key & w->events))
        return false; /* a change it does not wait for (keys are hints: ANY wakes all) */
    if (w->woken)
        return false;
    w->woken = true;
    if (w->parked)
        pthread_cond_signal(&w->cv);
    return true;
}

/* Pin so (may be NULL) for a wait: 0, or -ENOMEM when the room its
 * close may need (fd_close_defer) cannot be made. */
static int waiter_pin(struct ns_stack *st, struct ns_sock *so, struct fd_waiter *w,
                      uint32_t events)
{
    struct fd_table *t = st->fds;
    *w = (struct fd_waiter){.events = events};
    w->watch.fn = waiter_wake;
    if (!so)
        return 0;
    if (t->n_waiting >= t->cap_closing) {
        int cap = t->cap_closing ? t->cap_closing * 2 : 8;
        struct ns_sock **c = realloc(t->closing, (size_t)cap * sizeof(*c));
        if (!c)
            return -ENOMEM;
        t->closing = c;
        t->cap_closing = cap;
    }
    t->n_waiting++;
    w->watch.exclusive = ep_is_set(so);
    sock_watch_add(so, &w->watch);
    return 0;
}

static void waiter_unpin(struct ns_stack *st, struct ns_sock *so, struct fd_waiter *w)
{
    if (!so)
        return;
    st->fds->n_waiting--;
    sock_watch_del(so, &w->watch);
}

int fd_wait(struct ns_stack *st, struct ns_sock *so, uint32_t events, uint64_t deadline)
{
    struct fd_table *t = st->fds;
    if (!t->drive_fn)
        return -EWOULDBLOCK;
    if (st->now_us >= deadline)
        return -EAGAIN;
    struct fd_waiter w;
    int rc = waiter_pin(st, so, &w, events);
    if (rc < 0)
        return rc;
    if (t->block_fn) {
        rc = t->block_fn(t->drive_ctx, st, &w, deadline);
    } else {
        /* The driver runs application code (descriptor callbacks) that
         * may make calls on this stack: never with the lock held. */
        fd_unlock(st);
        rc = t->drive_fn(t->drive_ctx, deadline);
        fd_lock(st);
    }
    waiter_unpin(st, so, &w);
    return rc;
}

void fd_refresh(struct ns_stack *st, struct ns_sock *so)
{
    struct fd_table *t = st->fds;
    if (!t->drive_fn)
        return;
    struct fd_waiter w;
    if (waiter_pin(st, so, &w, 0) < 0)
        return; /* no room to pin it: the clock stays as it is */
    fd_unlock(st);
    t->drive_fn(t->drive_ctx, 0);
    fd_lock(st);
    waiter_unpin(st, so, &w);
}

/* ---- threads ------------------------------------------------------------------ */

void fd_threads_enable(struct ns_stack *st, fd_block_fn block_fn, fd_kick_fn kick_fn)
{
    struct fd_table *t = st->fds;
    t->block_fn = block_fn;
    t->kick_fn = kick_fn;
    t->threads = true;
}

int fd_park(struct ns_stack *st, struct fd_waiter *w, const struct timespec *until)
{
    struct fd_table *t = st->fds;
    if (w->woken)
        return 0;
    /* The condition variable times out on the clock `until` is on (the
     * driver's: it maps the stack's clock to CLOCK_MONOTONIC). */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &attr);
    pthread_condattr_destroy(&attr);
    w->parked = true;
    ns_dlist_push_tail(&t->parked, &w->plink);
    int rc = 0;
    while (!w->woken) {
        int e = until ? pthread_cond_timedwait(&w->cv, &t->lock, until)
                      : pthread_cond_wait(&w->cv, &t->lock);
        if (e == ETIMEDOUT && !w->woken) {
            rc = -EAGAIN;
            break;
        }
    }
    ns_dlist_remove(&t->parked, &w->plink);
    w->parked = false;
    pthread_cond_destroy(&w->cv);
    return rc;
}

void fd_wake_parked(struct ns_stack *st)
{
    struct fd_table *t = st->fds;
    fd_lock(st);
    for (struct ns_dlink *l = t->parked.head; l; l = l->next) {
        struct fd_waiter *w = NS_CONTAINER_OF(l, struct fd_waiter, plink);
        w->woken = true;
        pthread_cond_signal(&w->cv);
    }
    fd_unlock(st);
}

void fd_close_defer(struct ns_stack *st, struct ns_sock *so)
{
    struct fd_table *t = st->fds;
    t->closing[t->n_closing++] = so; /* room made by waiter_pin */
}

void fd_call_done_slow(struct ns_stack *st)
{
    struct fd_table *t = st->fds;
    /* Closed while calls waited on them: once none has one pinned (its
     * waiters are its only watchers after ns_close took it out of every
     * epoll set), its protocol closes it. */
    for (int i = 0; i < t->n_closing;) {
        struct ns_sock *so = t->closing[i];
        if (so->watchers.head) {
            i++;
            continue;
        }
        t->closing[i] = t->closing[--t->n_closing];
        so->ops->close(st, so);
    }
    if (t->threads) {
        if (t->kick_fn)
            t->kick_fn(t->drive_ctx, st);
        pthread_mutex_unlock(&t->lock);
    }
}

/* The lowest free descriptor, or -1 when every slot is in use: from
 * next_fd on, over the summary bitmap first (Linux find_next_fd), so a
 * table of n descriptors costs at most n / 4096 word tests, and the
 * common case (next_fd free) one. */
static int fd_lowest_free(const struct fd_table *t)
{
    int words = t->cap / 64;
    int w = t->next_fd / 64;
    if (w >= words)
        return -1;
    if (t->used[w] != UINT64_MAX) {
        /* The word of next_fd: its free bits at or above next_fd. */
        uint64_t freebits = ~t->used[w] & (UINT64_MAX << (t->next_fd % 64));
        if (freebits)
            return w * 64 + __builtin_ctzll(freebits);
        w++;
    }
    for (int fw = w / 64; fw * 64 < words; fw++) {
        uint64_t notfull = ~t->full[fw];
        if (fw == w / 64)
            notfull &= UINT64_MAX << (w % 64);
        if (!notfull)
            continue;
        int uw = fw * 64 + __builtin_ctzll(notfull);
        if (uw >= words)
            return -1;
        return uw * 64 + __builtin_ctzll(~t->used[uw]);
    }
    return -1;
}

int fd_reserve(struct ns_stack *st)
{
    struct fd_table *t = st->fds;
    if (t->count < t->cap)
        return 0;
    int words = t->cap / 64;
    int ncap = t->cap ? t->cap * 2 : 64;
    if (ncap > (1 << 24))
        return -EMFILE;
    struct ns_sock **nf = realloc(t->fds, (size_t)ncap * sizeof(*nf));
    if (!nf)
        return -ENOMEM;
    t->fds = nf;
    uint64_t *nu = realloc(t->used, (size_t)(ncap / 64) * sizeof(*nu));
    if (!nu)
        return -ENOMEM;
    t->used = nu;
    int fwords = (ncap / 64 + 63) / 64, ofwords = (words + 63) / 64;
    uint64_t *nfull = realloc(t->full, (size_t)fwords * sizeof(*nfull));
    if (!nfull)
        return -ENOMEM;
    t->full = nfull;
    memset(t->fds + t->cap, 0, (size_t)(ncap - t->cap) * sizeof(*nf));
    memset(t->used + words, 0, (size_t)(ncap / 64 - words) * sizeof(*nu));
    memset(t->full + ofwords, 0, (size_t)(fwords - ofwords) * sizeof(*nfull));
    t->cap = ncap;
    return 0;
}

int fd_alloc(struct ns_stack *st, struct ns_sock *so)
{
    int rc = fd_reserve(st);
    if (rc < 0)
        return rc;
    struct fd_table *t = st->fds;
    int fd = fd_lowest_free(t);
    int w = fd / 64;
    t->used[w] |= 1ull << (fd % 64);
    if (t->used[w] == UINT64_MAX)
        t->full[w / 64] |= 1ull << (w % 64);
    t->next_fd = fd + 1;
    t->fds[fd] = so;
    t->count++;
    so->fd = fd;
    return fd;
}

void fd_free(struct ns_stack *st, int fd)
{
    struct fd_table *t = st->fds;
    t->fds[fd] = NULL;
    int w = fd / 64;
    t->used[w] &= ~(1ull << (fd % 64));
    t->full[w / 64] &= ~(1ull << (w % 64));
    if (fd < t->next_fd)
        t->next_fd = fd;
    t->count--;
}
