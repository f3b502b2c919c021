/* socket/fdtable.h — the descriptor table of the BSD API (socket/api.c):
 * small integers naming sockets, the lowest free one first, as POSIX
 * open() gives them; and the driver that blocking calls run.
 *
 * Read first: docs/architecture.md "Layers" (this is layer 7, above the
 * transports: sockets are made and found through the protocol switch of
 * socket/sock.h, never by name). */
#ifndef NS_SOCKET_FDTABLE_H
#define NS_SOCKET_FDTABLE_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "base/dlist.h"
#include "base/stack.h"
#include "netsock/socket.h"
#include "socket/sock.h"

struct ns_sock;

/* A call that lets go of the stack lock to wait (fd_wait, fd_refresh):
 * its watcher on the socket it waits on (an epoll set's embedded socket
 * for ns_epoll_wait and ns_poll) wakes it when that socket's readiness
 * changes, and pins the socket meanwhile: ns_close leaves the socket to
 * the last call that has one (fd_close_defer, fd_call_done), as a
 * Linux system call holds a reference on its file. Lives on the waiting
 * thread's C stack. docs/architecture.md "Threads". */
struct fd_waiter {
    struct sock_watch watch; /* on so->watchers while waiting */
    uint32_t events;         /* the keys that wake it (SOCK_WAKE_*; 0: any) */
    bool woken;
    bool parked;             /* sleeping on cv (fd_park) */
    pthread_cond_t cv;
    struct ns_dlink plink;   /* on fd_table.parked while parked */
};

/* A driver that knows threads (platform/loop.c) blocks a call its own
 * way: called by fd_wait with the stack lock held and w on the socket, it
 * either drives the loop itself (letting go of the lock meanwhile) or,
 * when another thread is driving, parks the caller (fd_park) until w is
 * woken or the deadline (stack clock) passes. Returns as ns_drive_fn. */
typedef int (*fd_block_fn)(void *ctx, struct ns_stack *st, struct fd_waiter *w,
                           uint64_t deadline_us);
/* Told at the end of every call (stack lock held) when the stack is
 * shared between threads: the call may have queued frames or armed a
 * timer the driver sleeping on another thread must wake up for. */
typedef void (*fd_kick_fn)(void *ctx, struct ns_stack *st);

/* The socket API's state (st->fds). */
struct fd_table {
    struct ns_sock **fds;
    uint64_t *used;    /* bitmap of descriptors in use */
    /* One bit per word of `used` that is full (Linux full_fds_bits): the
     * search for the lowest free descriptor skips 4096 at a time. */
    uint64_t *full;
    /* No descriptor below this is free (Linux next_fd): where the search
     * starts. */
    int next_fd;
    int cap;
    int count;
    /* Runs the loop that owns the stack for blocking calls (ns_stack_set_driver). */
    ns_drive_fn drive_fn;
    void *drive_ctx;
    /* Threads (fd_threads_enable): the stack lock, taken by every call of
     * the API and by the driver around its work, only once the stack is
     * shared (`threads`: set before other threads use the stack, never
     * cleared, so reading it needs no lock). */
    bool threads;
    pthread_mutex_t lock;
    struct ns_dlist parked; /* fd_waiter.plink: calls asleep in fd_park */
    /* Sockets closed while calls waited on them (fd_close_defer),
     * closed by fd_call_done once none has them pinned. Room for one per
     * waiting call is made before it waits (so fd_close_defer cannot
     * fail): each such socket has at least one. */
    struct ns_sock **closing;
    int n_closing, cap_closing, n_waiting;
    fd_block_fn block_fn;
    fd_kick_fn kick_fn;
};

/* Allocate st->fds (empty). 0 or -ENOMEM. */
int fd_init(struct ns_stack *st);
/* Close every socket still open (as ns_close), then free st->fds. */
void fd_destroy(struct ns_stack *st);

/* The socket behind fd, or NULL (also for an epoll set: not a socket). */
struct ns_sock *fd_get(struct ns_stack *st, int fd);
/* Whatever is behind fd (a socket or an epoll set, socket/epoll.h), or NULL. */
struct ns_sock *fd_get_any(struct ns_stack *st, int fd);
/* The error for a descriptor fd_get did not find: -ENOTSOCK when it
 * names something that is not a socket, else -EBADF (sockfd_lookup). */
int fd_err(struct ns_stack *st, int fd);
/* Let the loop that owns the stack run until something happens or the
 * deadline (stack clock), or, when another thread drives the stack,
 * sleep until `so` (a socket or an epoll set's socket, pinned meanwhile)
 * changes for one of `events` (SOCK_WAKE_* keys, 0: any): the driver's
 * result, -EWOULDBLOCK without a driver, -EAGAIN when the deadline has
 * passed. The stack lock is let go of meanwhile: anything not pinned may
 * have changed when it returns. */
int fd_wait(struct ns_stack *st, struct ns_sock *so, uint32_t events, uint64_t deadline);
/* Bring the stack's clock up to date (the driver with deadline 0: what
 * is due now is processed, nothing waited for), `so` (may be NULL)
 * pinned meanwhile: the lock is let go of as in fd_wait. */
void fd_refresh(struct ns_stack *st, struct ns_sock *so);

/* ---- threads (docs/architecture.md "Threads") ---------------------------------- */

/* The stack is shared between threads from now on: every API call takes
 * the stack lock, block_fn blocks calls, kick_fn hears of every call.
 * Called by the driver before other threads use the stack. */
void fd_threads_enable(struct ns_stack *st, fd_block_fn block_fn, fd_kick_fn kick_fn);
/* The stack lock (nothing when the stack is not shared). Not recursive:
 * the API takes it once per call, the driver around its polls. */
static inline void fd_lock(struct ns_stack *st)
{
    if (st->fds->threads)
        pthread_mutex_lock(&st->fds->lock);
}
static inline void fd_unlock(struct ns_stack *st)
{
    if (st->fds->threads)
        pthread_mutex_unlock(&st->fds->lock);
}
/* Sleep (stack lock held, let go of while asleep) until w is woken or
 * `until` (CLOCK_MONOTONIC; NULL: no limit): 0, or -EAGAIN at the time.
 * For a block_fn. */
int fd_park(struct ns_stack *st, struct fd_waiter *w, const struct timespec *until);
/* Wake every call asleep in fd_park on st (they look again: the driver
 * stopped, or nobody drives any more). Takes the stack lock. */
void fd_wake_parked(struct ns_stack *st);
/* ns_close of a socket that calls are waiting on (so->watchers are
 * their waiters): the protocol's close is left to fd_call_done. */
void fd_close_defer(struct ns_stack *st, struct ns_sock *so);
/* The end of every API call, stack lock held: the sockets closed while
 * calls waited on them are closed once none has them pinned; the driver
 * hears of the call (kick_fn); the lock is let go of. One test when
 * neither applies (no threads, nothing closing). */
void fd_call_done_slow(struct ns_stack *st);
static inline void fd_call_done(struct ns_stack *st)
{
    if (st->fds->threads || st->fds->n_closing)
        fd_call_done_slow(st);
}
/* Make sure a descriptor is free (growing the table): 0, -EMFILE past
 * 2^24 descriptors, or -ENOMEM. After it, fd_alloc cannot fail. */
int fd_reserve(struct ns_stack *st);
/* Give so the lowest free descriptor (so->fd): the descriptor, or
 * -EMFILE / -ENOMEM. */
int fd_alloc(struct ns_stack *st, struct ns_sock *so);
/* Release descriptor fd (its socket is the caller's to close). */
void fd_free(struct ns_stack *st, int fd);

#endif
