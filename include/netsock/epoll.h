/* netsock/epoll.h — epoll(7) over netsock descriptors.
 *
 * The calls are Linux's epoll_create1, epoll_ctl and epoll_wait with an
 * `ns_` prefix and the stack as first argument, on the system's own
 * struct epoll_event and EPOLL* constants (<sys/epoll.h>). For the same
 * calls they return what Linux returns, errno included; docs/sockets.md
 * "epoll" lists the differences. Errors: -1 with errno set.
 *
 * An epoll set is a netsock descriptor of its stack (ns_close closes it;
 * socket calls on it fail with ENOTSOCK, ns_poll and ns_fcntl work). It
 * watches descriptors of the same stack: sockets and other epoll sets
 * (nested sets, at most 4 levels below the outermost one, no loops).
 * Readiness is pushed: the stack queues a registered descriptor on its
 * set's ready list at the moment it can become ready, so ns_epoll_wait
 * costs O(ready descriptors), not O(registered ones).
 *
 * Threading: as every netsock socket call (netsock/socket.h): any thread
 * for a stack on an ns_loop whose ns_loop_run runs on a thread, else the
 * one thread that uses the stack.
 */
#ifndef NETSOCK_EPOLL_H
#define NETSOCK_EPOLL_H

#include <sys/epoll.h>

#include "netsock/netsock.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A new, empty epoll set: its descriptor, or -1 with EINVAL (a flag other
 * than EPOLL_CLOEXEC, which is accepted and means nothing here), ENOMEM,
 * EMFILE. */
int ns_epoll_create1(struct ns_stack *st, int flags);

/* Add (EPOLL_CTL_ADD), change (EPOLL_CTL_MOD) or remove (EPOLL_CTL_DEL)
 * the registration of descriptor fd in set epfd. ev->events: EPOLLIN,
 * EPOLLOUT, EPOLLPRI (TCP urgent data unread), EPOLLRDHUP, EPOLLRDNORM,
 * EPOLLWRNORM, ... with EPOLLET (report a change once, not while it
 * lasts), EPOLLONESHOT (report once, then nothing until EPOLL_CTL_MOD),
 * EPOLLEXCLUSIVE (ADD only: of several sets watching fd with it, a
 * change wakes one that is waiting); EPOLLERR and EPOLLHUP are always
 * reported. ev->data comes back with each event. ev is not read for DEL
 * (may be NULL). Errors as Linux: EFAULT (ev NULL), EBADF, EINVAL (epfd
 * not a set, fd == epfd, an unknown op, EPOLLEXCLUSIVE with MOD, on a set
 * or with other flags, MOD of an exclusive registration), ELOOP (a set
 * inside itself through others, or nesting deeper than 4), EEXIST,
 * ENOENT, ENOMEM. Closing fd (ns_close) removes it from every set. */
int ns_epoll_ctl(struct ns_stack *st, int epfd, int op, int fd, struct epoll_event *ev);

/* Up to maxevents ready registrations of epfd into events, oldest ready
 * first (those a call leaves are reported first by the next; a
 * level-triggered one still ready is reported again after the others).
 * timeout_ms: 0 returns at once, < 0 waits forever, else at most that
 * long; waiting drives the loop that owns the stack (ns_stack_set_driver,
 * as blocking socket calls do). Returns the count (0: the timeout
 * passed), or -1: EINVAL (maxevents <= 0 or too large, epfd not a set),
 * EFAULT (events NULL), EBADF, EDEADLK (simulator: waiting forever with
 * nothing pending anywhere). Without a driver a wait returns 0 at once. */
int ns_epoll_wait(struct ns_stack *st, int epfd, struct epoll_event *events, int maxevents,
                  int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
