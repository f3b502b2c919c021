/* socket/fdtable.h — the descriptor table of the BSD API (socket/api.c):
 * small integers naming sockets, the lowest free one first, as POSIX
 * open() gives them; and the driver that blocking calls run.
 *
 * Read first: docs/architecture.md "Layers" (this is layer 7, above the
 * transports: sockets are made and found through the protocol switch of
 * socket/sock.h, never by name). */
#ifndef NS_SOCKET_FDTABLE_H
#define NS_SOCKET_FDTABLE_H

#include <stdint.h>

#include "base/stack.h"
#include "netsock/socket.h"

struct ns_sock;

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
 * deadline (stack clock): the driver's result, -EWOULDBLOCK without a
 * driver, -EAGAIN when the deadline has passed. */
int fd_wait(struct ns_stack *st, uint64_t deadline);
/* Make sure a descriptor is free (growing the table): 0, -EMFILE past
 * 2^24 descriptors, or -ENOMEM. After it, fd_alloc cannot fail. */
int fd_reserve(struct ns_stack *st);
/* Give so the lowest free descriptor (so->fd): the descriptor, or
 * -EMFILE / -ENOMEM. */
int fd_alloc(struct ns_stack *st, struct ns_sock *so);
/* Release descriptor fd (its socket is the caller's to close). */
void fd_free(struct ns_stack *st, int fd);

#endif
