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
    return st->fds ? 0 : -ENOMEM;
}

void fd_destroy(struct ns_stack *st)
{
    struct fd_table *t = st->fds;
    if (!t)
        return;
    for (int fd = 0; fd < t->cap; fd++)
        if (t->fds[fd])
            ns_close(st, fd);
    free(t->fds);
    free(t->used);
    free(t->full);
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

int fd_wait(struct ns_stack *st, uint64_t deadline)
{
    struct fd_table *t = st->fds;
    if (!t->drive_fn)
        return -EWOULDBLOCK;
    if (st->now_us >= deadline)
        return -EAGAIN;
    return t->drive_fn(t->drive_ctx, deadline);
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
