/* socket/epoll.c — epoll sets on netsock descriptors, as Linux
 * fs/eventpoll.c: ns_epoll_create1 / ns_epoll_ctl / ns_epoll_wait, the
 * wait behind a blocking ns_poll, and what a closing descriptor does to
 * the sets that watch it. See socket/epoll.h.
 *
 * Read first: epoll(7), epoll_ctl(2), epoll_wait(2).
 *
 * The public calls (ns_epoll_*) are socket/api.c's, which turns the
 * -errno of these into -1/errno.
 *
 * How readiness flows (Linux ep_poll_callback, ep_send_events):
 * - an item is a watcher on its target (sock_watch). sock_wake, called by
 *   the protocols at every change, runs ep_item_wake, which appends the
 *   item to its set's ready list (once: `ready` says it is there) and, as
 *   the set itself became interesting, wakes the sets that watch this set.
 * - ns_epoll_wait takes the ready list, asks each item's target for its
 *   mask now (ops->poll) and reports the bits the item asked for; an item
 *   found not ready is dropped from the list; level-triggered items go
 *   back at the tail, edge-triggered ones wait for the next wake-up,
 *   one-shot ones are disabled until EPOLL_CTL_MOD. Those not reached
 *   (maxevents) stay at the head for the next call. So a wait costs
 *   O(ready items), whatever the number registered.
 * - a set's own readiness (poll on it, or a set inside another) is
 *   "some item on its ready list is really ready" (__ep_eventpoll_poll).
 *
 * Threads: everything here runs under the stack lock (socket/fdtable.h,
 * docs/architecture.md "Threads"); a thread blocked in ns_epoll_wait or
 * ns_poll waits with a watcher of its own (an fd_waiter) on the set's
 * embedded socket, which the wake-up of the sets that watch this one
 * (sock_wake on ep->sock) reaches too. So a socket's and a set's
 * watchers are items and waiters: ep_item_of tells them apart.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "socket/epoll.h"
#include "socket/fdtable.h"
#include "socket/sock.h"

/* Linux EP_MAX_NESTS: the longest chain of sets inside sets. */
#define EP_MAX_NESTS 4
/* Linux EP_MAX_EVENTS: maxevents above this is EINVAL. */
#define EP_MAX_EVENTS (INT_MAX / (int)sizeof(struct epoll_event))
/* Linux EP_PRIVATE_BITS: the flags of an item that are not events. */
#define EP_PRIVATE_BITS (EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)
/* EPOLLEXCLUSIVE_OK_BITS: what may come with EPOLLEXCLUSIVE. */
#define EP_EXCLUSIVE_OK_BITS \
    (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE)

struct ep_set {
    struct ns_sock sock;    /* type EP_SOCK_TYPE; its watchers: items of outer sets */
    struct ns_dlist ready;  /* ep_item.rdlink, in the order they became ready */
    struct ns_dlist items;  /* every item of the set (ep_item.setlink) */
    unsigned waiters;       /* ns_epoll_wait calls driving the loop for this set */
    bool private;           /* ns_poll's: not a descriptor, not a nested target */
    /* Told whether the set has events (ep_notify_sync): ns_epoll_fd. */
    ep_notify_fn notify;
    void *notify_ctx;
    bool notified;          /* what notify was last told */
};

struct ep_item {
    struct sock_watch w;    /* on the target's watchers */
    struct ep_set *ep;
    struct ns_sock *target; /* a socket, or an epoll set's embedded sock */
    int fd;
    uint32_t events;        /* as registered, EPOLLERR|EPOLLHUP added */
    epoll_data_t data;
    struct ns_dlink rdlink; /* on ep->ready while `ready` */
    struct ns_dlink setlink;
    bool ready;
};

static struct ep_set *ep_of(struct ns_sock *so)
{
    return NS_CONTAINER_OF(so, struct ep_set, sock);
}

static bool ep_item_wake(struct ns_stack *st, struct sock_watch *w, uint32_t key);

/* The item behind a watcher of a socket or set, or NULL for a blocked
 * call's waiter (socket/fdtable.h). */
static struct ep_item *ep_item_of(struct ns_dlink *l)
{
    struct sock_watch *w = NS_CONTAINER_OF(l, struct sock_watch, link);
    return w->fn == ep_item_wake ? NS_CONTAINER_OF(w, struct ep_item, w) : NULL;
}

/* Tell the notifier when whether the set has events changed. */
static void ep_notify_sync(struct ep_set *ep)
{
    bool has = ep->ready.head != NULL;
    if (ep->notify && has != ep->notified) {
        ep->notified = has;
        ep->notify(ep->notify_ctx, has ? EP_NOTIFY_READY : EP_NOTIFY_EMPTY);
    }
}

static void ep_ready_add(struct ep_item *it)
{
    if (!it->ready) {
        ns_dlist_push_tail(&it->ep->ready, &it->rdlink);
        it->ready = true;
        ep_notify_sync(it->ep);
    }
}

static void ep_ready_del(struct ep_item *it)
{
    if (it->ready) {
        ns_dlist_remove(&it->ep->ready, &it->rdlink);
        it->ready = false;
        ep_notify_sync(it->ep);
    }
}

static uint32_t ep_set_poll(struct ns_stack *st, struct ep_set *ep, int depth);

/* What the item's target is ready for now, among what the item asks
 * (Linux ep_item_poll). */
static uint32_t ep_item_poll(struct ns_stack *st, struct ep_item *it, int depth)
{
    uint32_t m;
    if (ep_is_set(it->target))
        m = ep_set_poll(st, ep_of(it->target), depth + 1);
    else
        m = (uint16_t)it->target->ops->poll(st, it->target);
    return m & it->events & ~(uint32_t)EP_PRIVATE_BITS;
}

/* A set is readable while an item of its ready list is really ready;
 * the ones found not ready leave the list (__ep_eventpoll_poll). */
static uint32_t ep_set_poll(struct ns_stack *st, struct ep_set *ep, int depth)
{
    if (depth > EP_MAX_NESTS + 1)
        return 0; /* cannot happen: the nesting is checked at EPOLL_CTL_ADD */
    for (struct ns_dlink *l = ep->ready.head, *next; l; l = next) {
        next = l->next;
        struct ep_item *it = NS_CONTAINER_OF(l, struct ep_item, rdlink);
        if (ep_item_poll(st, it, depth))
            return EPOLLIN | EPOLLRDNORM;
        ep_ready_del(it);
    }
    return 0;
}

static short ep_sock_poll(struct ns_stack *st, struct ns_sock *so)
{
    return (short)ep_set_poll(st, ep_of(so), 0);
}

/* The target of `it` changed (Linux ep_poll_callback). */
static bool ep_item_wake(struct ns_stack *st, struct sock_watch *w, uint32_t key)
{
    struct ep_item *it = NS_CONTAINER_OF(w, struct ep_item, w);
    struct ep_set *ep = it->ep;
    bool ewake = false;
    /* Disabled by EPOLLONESHOT, or a change the item does not ask about. */
    if ((it->events & ~(uint32_t)EP_PRIVATE_BITS) && !(key && !(key & it->events))) {
        ep_ready_add(it);
        if (ep->waiters && (it->events & EPOLLEXCLUSIVE)) {
            /* An exclusive item wakes its waiter only for what it waits on. */
            uint32_t inout = key & (EPOLLIN | EPOLLOUT);
            if (inout == 0 || (inout == EPOLLIN && (it->events & EPOLLIN)) ||
                (inout == EPOLLOUT && (it->events & EPOLLOUT)))
                ewake = true;
        }
        sock_wake(st, &ep->sock, EPOLLIN); /* the sets that watch this one */
    }
    if (!(it->events & EPOLLEXCLUSIVE))
        ewake = true;
    return ewake;
}

static void ep_item_free(struct ep_item *it)
{
    ep_ready_del(it);
    sock_watch_del(it->target, &it->w);
    ns_dlist_remove(&it->ep->items, &it->setlink);
    free(it);
}

static void ep_set_free(struct ns_stack *st, struct ep_set *ep)
{
    while (ep->items.head)
        ep_item_free(NS_CONTAINER_OF(ep->items.head, struct ep_item, setlink));
    ep_forget(st, &ep->sock);
    if (ep->notify)
        ep->notify(ep->notify_ctx, EP_NOTIFY_CLOSE);
    free(ep);
}

static void ep_sock_close(struct ns_stack *st, struct ns_sock *so)
{
    ep_set_free(st, ep_of(so));
}

/* An epoll set in the descriptor table is no socket: only poll (and
 * close) apply to it; fd_get never hands it to a socket call. */
static const struct ns_sock_ops ep_sock_ops = {
    .poll = ep_sock_poll,
    .close = ep_sock_close,
};

static struct ep_set *ep_set_new(void)
{
    struct ep_set *ep = calloc(1, sizeof(*ep));
    if (!ep)
        return NULL;
    ep->sock.fd = -1;
    ep->sock.type = EP_SOCK_TYPE;
    ep->sock.ops = &ep_sock_ops;
    return ep;
}

void ep_forget(struct ns_stack *st, struct ns_sock *so)
{
    (void)st;
    /* Blocked calls' waiters stay: they pin the object (ns_close). */
    for (struct ns_dlink *l = so->watchers.head, *next; l; l = next) {
        next = l->next;
        struct ep_item *it = ep_item_of(l);
        if (it)
            ep_item_free(it);
    }
}

/* Queue the item if its target is ready now, and tell whoever waits
 * (ep_insert, ep_modify). */
static void ep_item_check(struct ns_stack *st, struct ep_item *it)
{
    if (ep_item_poll(st, it, 0) && !it->ready) {
        ep_ready_add(it);
        sock_wake(st, &it->ep->sock, EPOLLIN);
    }
}

static struct ep_item *ep_item_new(struct ep_set *ep, struct ns_sock *target, int fd,
                                   uint32_t events, epoll_data_t data)
{
    struct ep_item *it = calloc(1, sizeof(*it));
    if (!it)
        return NULL;
    it->ep = ep;
    it->target = target;
    it->fd = fd;
    it->events = events | EPOLLERR | EPOLLHUP; /* always reported */
    it->data = data;
    it->w.exclusive = (events & EPOLLEXCLUSIVE) != 0;
    it->w.fn = ep_item_wake;
    ns_dlist_push_tail(&ep->items, &it->setlink);
    sock_watch_add(target, &it->w);
    return it;
}

/* The item of `ep` watching (target, fd), or NULL: a target is in few
 * sets, so its watcher list is short (Linux keeps a tree per set). */
static struct ep_item *ep_find(struct ep_set *ep, struct ns_sock *target, int fd)
{
    for (struct ns_dlink *l = target->watchers.head; l; l = l->next) {
        struct ep_item *it = ep_item_of(l);
        if (it && it->ep == ep && it->fd == fd)
            return it;
    }
    return NULL;
}

/* ---- nesting (Linux ep_loop_check) -------------------------------------------- */

/* How deep sets go below `ep` (0: no set inside), or INT_MAX when `into`
 * is among them (a loop) or they go deeper than EP_MAX_NESTS
 * (ep_loop_check_proc). */
static int ep_depth_down(struct ep_set *ep, struct ep_set *into, int depth)
{
    int result = 0;
    for (struct ns_dlink *l = ep->items.head; l; l = l->next) {
        struct ep_item *it = NS_CONTAINER_OF(l, struct ep_item, setlink);
        if (!ep_is_set(it->target))
            continue;
        struct ep_set *sub = ep_of(it->target);
        int d;
        if (sub == into || depth > EP_MAX_NESTS) {
            d = INT_MAX;
        } else {
            d = ep_depth_down(sub, into, depth + 1);
            d = d == INT_MAX ? INT_MAX : d + 1;
        }
        if (d > result)
            result = d;
        if (result > EP_MAX_NESTS)
            break;
    }
    return result;
}

/* How many sets are stacked above `ep` at most (ep_get_upwards_depth_proc). */
static int ep_depth_up(struct ep_set *ep)
{
    int result = 0;
    for (struct ns_dlink *l = ep->sock.watchers.head; l; l = l->next) {
        struct ep_item *it = ep_item_of(l);
        if (!it || it->ep->private)
            continue;
        int d = ep_depth_up(it->ep) + 1;
        if (d > result)
            result = d;
    }
    return result;
}

/* May `to` go inside `ep`? Not when `ep` is below `to` already, nor when
 * the chain through the new link would be longer than EP_MAX_NESTS
 * (Linux 6.x ep_loop_check, which counts the sets above `ep` too). */
static bool ep_loop_ok(struct ep_set *ep, struct ep_set *to)
{
    int down = ep_depth_down(to, ep, 0);
    if (down > EP_MAX_NESTS)
        return false;
    return down + 1 + ep_depth_up(ep) <= EP_MAX_NESTS;
}

/* ---- the API -------------------------------------------------------------------------- */

int ep_create(struct ns_stack *st, int flags)
{
    /* do_epoll_create: EPOLL_CLOEXEC is the only flag (and means nothing
     * for a netsock descriptor). */
    if (flags & ~EPOLL_CLOEXEC)
        return -EINVAL;
    struct ep_set *ep = ep_set_new();
    if (!ep)
        return -ENOMEM;
    int fd = fd_alloc(st, &ep->sock);
    if (fd < 0)
        free(ep);
    return fd;
}

int ep_ctl(struct ns_stack *st, int epfd, int op, int fd, const struct epoll_event *ev)
{
    /* do_epoll_ctl, in its order: the event is read first (not for DEL),
     * both descriptors must exist, epfd must be a set other than fd. */
    bool has_event = op != EPOLL_CTL_DEL;
    if (has_event && !ev)
        return -EFAULT;
    struct ns_sock *eso = fd_get_any(st, epfd);
    if (!eso)
        return -EBADF;
    struct ns_sock *target = fd_get_any(st, fd);
    if (!target)
        return -EBADF;
    if (eso == target || !ep_is_set(eso))
        return -EINVAL;
    struct ep_set *ep = ep_of(eso);
    uint32_t events = has_event ? ev->events : 0;
    /* EPOLLEXCLUSIVE only at ADD, not on a set, and only with
     * EPOLLIN/OUT/ERR/HUP/ET/WAKEUP. */
    if (has_event && (events & EPOLLEXCLUSIVE)) {
        if (op == EPOLL_CTL_MOD)
            return -EINVAL;
        if (op == EPOLL_CTL_ADD &&
            (ep_is_set(target) || (events & ~(uint32_t)EP_EXCLUSIVE_OK_BITS)))
            return -EINVAL;
    }
    if (op == EPOLL_CTL_ADD && ep_is_set(target) && !ep_loop_ok(ep, ep_of(target)))
        return -ELOOP;
    struct ep_item *it = ep_find(ep, target, fd);
    switch (op) {
    case EPOLL_CTL_ADD:
        if (it)
            return -EEXIST;
        it = ep_item_new(ep, target, fd, events, ev->data);
        if (!it)
            return -ENOMEM;
        ep_item_check(st, it);
        return 0;
    case EPOLL_CTL_DEL:
        if (!it)
            return -ENOENT;
        ep_item_free(it);
        return 0;
    case EPOLL_CTL_MOD:
        if (!it)
            return -ENOENT;
        if (it->events & EPOLLEXCLUSIVE)
            return -EINVAL;
        it->events = events | EPOLLERR | EPOLLHUP;
        it->data = ev->data;
        ep_item_check(st, it);
        return 0;
    default:
        return -EINVAL;
    }
}

/* Events are left after a wait took its share (level-triggered ones go
 * back on the list, or more than it asked for): the next call asleep in
 * ns_epoll_wait on this set gets to look too, as Linux's ep_done_scan
 * wakes the set's wait queue. One test when nobody waits. */
static void ep_wake_waiter(struct ns_stack *st, struct ep_set *ep)
{
    for (struct ns_dlink *l = ep->sock.watchers.head; l; l = l->next) {
        if (ep_item_of(l))
            continue;
        struct sock_watch *w = NS_CONTAINER_OF(l, struct sock_watch, link);
        if (w->fn(st, w, EPOLLIN))
            break; /* one not woken yet is woken */
    }
}

/* Report up to `max` ready items (Linux ep_send_events). */
static int ep_send_events(struct ns_stack *st, struct ep_set *ep, struct epoll_event *out,
                          int max)
{
    struct ns_dlist tx = ep->ready;
    ep->ready = (struct ns_dlist){0};
    int n = 0;
    while (tx.head && n < max) {
        struct ep_item *it = NS_CONTAINER_OF(tx.head, struct ep_item, rdlink);
        ns_dlist_remove(&tx, &it->rdlink);
        it->ready = false;
        uint32_t rev = ep_item_poll(st, it, 0);
        if (!rev)
            continue; /* woken, but not ready for what it asks: dropped */
        out[n].events = rev;
        out[n].data = it->data;
        n++;
        if (it->events & EPOLLONESHOT)
            it->events &= EP_PRIVATE_BITS; /* disabled until EPOLL_CTL_MOD */
        else if (!(it->events & EPOLLET))
            ep_ready_add(it); /* level-triggered: looked at again next time */
    }
    /* The ones not reached go first next time (ep_done_scan). */
    if (tx.head) {
        if (ep->ready.head) {
            tx.tail->next = ep->ready.head;
            ep->ready.head->prev = tx.tail;
            ep->ready.head = tx.head;
        } else {
            ep->ready = tx;
        }
    }
    ep_notify_sync(ep);
    if (!ep->ready.head)
        ep_settle(st, &ep->sock, 1); /* the sets holding this one: nothing here now */
    else if (n && ep->sock.watchers.head)
        ep_wake_waiter(st, ep);
    return n;
}

int ep_wait(struct ns_stack *st, int epfd, struct epoll_event *events, int maxevents,
            int timeout_ms)
{
    /* do_epoll_wait: maxevents, the buffer, then the descriptor. */
    if (maxevents <= 0 || maxevents > EP_MAX_EVENTS)
        return -EINVAL;
    if (!events)
        return -EFAULT;
    struct ns_sock *eso = fd_get_any(st, epfd);
    if (!eso)
        return -EBADF;
    if (!ep_is_set(eso))
        return -EINVAL;
    struct ep_set *ep = ep_of(eso);
    int n = ep_send_events(st, ep, events, maxevents);
    if (n || timeout_ms == 0)
        return n;
    /* Blocking: from here this call waits in the set (an exclusive
     * registration's wake-up may pick it). Bring the clock up to date (as
     * every call that may wait), then drive the loop (or sleep while
     * another thread drives it) until an item is reported or the time is
     * up. The set is pinned while this call waits: closed meanwhile (by
     * another thread, or a callback the loop ran), it goes when the call
     * returns, and the wait goes on until then, as Linux's epoll_wait
     * holds its file. */
    ep->waiters++;
    fd_refresh(st, &ep->sock);
    uint64_t deadline = timeout_ms < 0 ? NS_TIME_NEVER : st->now_us + (uint64_t)timeout_ms * 1000u;
    for (;;) {
        n = ep_send_events(st, ep, events, maxevents);
        if (n)
            break;
        int w = fd_wait(st, &ep->sock, EPOLLIN, deadline);
        if (w == -EWOULDBLOCK || w == -EAGAIN) {
            n = ep_send_events(st, ep, events, maxevents);
            break;
        }
        if (w < 0) {
            n = w;
            break;
        }
    }
    ep->waiters--;
    return n;
}

int ep_set_notifier(struct ns_stack *st, int epfd, ep_notify_fn fn, void *ctx, void **old_ctx)
{
    struct ns_sock *eso = fd_get_any(st, epfd);
    if (!eso)
        return -EBADF;
    if (!ep_is_set(eso))
        return -EINVAL;
    struct ep_set *ep = ep_of(eso);
    if (ep->notify) {
        *old_ctx = ep->notify_ctx;
        return 1;
    }
    ep->notify = fn;
    ep->notify_ctx = ctx;
    ep->notified = false;
    ep_set_poll(st, ep, 0); /* what is on the list but no longer ready goes */
    ep_notify_sync(ep);
    return 0;
}

void ep_settle(struct ns_stack *st, struct ns_sock *so, int depth)
{
    if (depth > EP_MAX_NESTS + 1)
        return;
    for (struct ns_dlink *l = so->watchers.head, *next; l; l = next) {
        next = l->next;
        struct ep_item *it = ep_item_of(l);
        if (!it)
            continue;
        struct ep_set *ep = it->ep;
        if (!it->ready || ep->private || ep_item_poll(st, it, 0))
            continue;
        ep_ready_del(it);
        if (!ep->ready.head)
            ep_settle(st, &ep->sock, depth + 1); /* the sets that hold this one */
    }
}

/* ---- ns_poll's wait ------------------------------------------------------------------- */

int ep_poll_wait(struct ns_stack *st, struct pollfd *fds, nfds_t nfds, uint64_t deadline)
{
    struct ep_set *ep = ep_set_new();
    if (!ep)
        return -ENOMEM;
    ep->private = true;
    int rc = 0;
    for (nfds_t i = 0; i < nfds && rc == 0; i++) {
        struct ns_sock *so = fds[i].fd >= 0 ? fd_get_any(st, fds[i].fd) : NULL;
        epoll_data_t d = {.ptr = &fds[i]};
        if (so && !ep_item_new(ep, so, fds[i].fd, (uint16_t)fds[i].events, d))
            rc = -ENOMEM;
    }
    int ready = 0;
    while (rc == 0 && ready == 0) {
        int w = fd_wait(st, &ep->sock, 0, deadline);
        if (w < 0) {
            rc = w;
            break;
        }
        /* Only what was woken is looked at again. */
        while (ep->ready.head) {
            struct ep_item *it = NS_CONTAINER_OF(ep->ready.head, struct ep_item, rdlink);
            ep_ready_del(it);
            struct pollfd *p = it->data.ptr;
            p->revents = (short)ep_item_poll(st, it, 0);
            if (p->revents)
                ready++;
        }
    }
    ep_set_free(st, ep);
    return ready ? ready : rc;
}
