/* socket/epoll.h — epoll sets over netsock descriptors (socket/epoll.c),
 * and the private sets behind a blocking ns_poll.
 *
 * Read first: epoll(7) and epoll_ctl(2) (Linux man pages), and
 * docs/sockets.md "epoll". A set is a descriptor of the stack's table
 * like a socket: its object embeds a struct ns_sock of type
 * EP_SOCK_TYPE (0, which no socket has), so fd_get (sockets only) does
 * not find it and fd_get_any does. Each registration is an item: a
 * watcher on its target (socket/sock.h sock_watch) that queues itself on
 * the set's ready list when sock_wake tells it of a change, so a wait
 * costs O(ready), not O(registered).
 *
 * Layer 7 with the descriptor table and the API (socket/api.c).
 */
#ifndef NS_SOCKET_EPOLL_H
#define NS_SOCKET_EPOLL_H

#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "base/stack.h"
#include "base/dlist.h"

struct ns_sock;
struct ep_set;

/* The type of an epoll set's embedded struct ns_sock. */
#define EP_SOCK_TYPE 0

/* Is this object (from fd_get_any) an epoll set? */
static inline bool ep_is_set(const struct ns_sock *so);

/* ns_epoll_create1, ns_epoll_ctl, ns_epoll_wait (netsock/epoll.h has
 * the contract) returning -errno. */
int ep_create(struct ns_stack *st, int flags);
int ep_ctl(struct ns_stack *st, int epfd, int op, int fd, const struct epoll_event *ev);
int ep_wait(struct ns_stack *st, int epfd, struct epoll_event *events, int maxevents,
            int timeout_ms);

/* Whether an epoll set has events, told to an observer outside the
 * stack (ns_epoll_fd's eventfd, src/platform/epoll_fd.c): READY when its
 * ready list stops being empty, EMPTY when it empties, CLOSE when the set
 * goes (free ctx then). */
enum ep_notify { EP_NOTIFY_EMPTY, EP_NOTIFY_READY, EP_NOTIFY_CLOSE };
typedef void (*ep_notify_fn)(void *ctx, enum ep_notify what);
/* Install fn on set epfd and tell it at once whether the set has events
 * (registrations on the list that are no longer ready are dropped first).
 * Returns 0; 1 with *old_ctx when the set has one already (kept); -EBADF,
 * -EINVAL (not a set). */
int ep_set_notifier(struct ns_stack *st, int epfd, ep_notify_fn fn, void *ctx, void **old_ctx);
/* A call on `so` may have taken its readiness (data read, a connection
 * accepted, the buffer filled): registrations of so that are on a ready
 * list and no longer ready leave it, and so on up through nested sets,
 * so that a notifier says "empty" as soon as it is (ns_epoll_fd is
 * readable exactly while the set has events). One test when so is in no
 * set; called by the API after those calls. */
void ep_settle(struct ns_stack *st, struct ns_sock *so, int depth);
static inline void ep_settle_sock(struct ns_stack *st, struct ns_sock *so);

/* The descriptor is closing: take every item watching `so` off its set
 * (Linux eventpoll_release), before the object goes. */
void ep_forget(struct ns_stack *st, struct ns_sock *so);

/* ns_poll's wait: the pollfds (none ready: the caller scanned them) are
 * watched by a private set and the loop driven until one becomes ready
 * or `deadline` (stack clock) passes; their revents are filled in.
 * Returns how many are ready (0 at the deadline) or -errno (-ENOMEM,
 * the driver's error). Costs O(nfds) once, then O(ready) per wake-up. */
int ep_poll_wait(struct ns_stack *st, struct pollfd *fds, nfds_t nfds, uint64_t deadline);

#include "socket/sock.h"

static inline bool ep_is_set(const struct ns_sock *so)
{
    return so->type == EP_SOCK_TYPE;
}

static inline void ep_settle_sock(struct ns_stack *st, struct ns_sock *so)
{
    if (so->watchers.head)
        ep_settle(st, so, 0);
}

#endif
