/* platform/iothread.c — a device wrapper that runs another device's reads
 * and writes on a thread of its own. See include/netsock/os.h
 * (ns_iothread_wrap) and docs/links.md "I/O thread".
 *
 * Why: over TAP most of the time of a bulk transfer is system calls
 * (read(2) of each frame; write(2) of each frame, in which the kernel
 * runs its own TCP input for it). On the stack's thread they take turns
 * with TCP; here they run beside it, on the second core.
 *
 * Threads and what each owns:
 *   stack thread  the wrapper's ns_dev ops (xmit, recv, tx_ready, fd,
 *                 close), the stack's pbuf pool, dev.stats;
 *   I/O thread    the inner device (every one of its ops), io_pool (a
 *                 pbuf pool of its own: pools are not thread-safe).
 * Five single-producer single-consumer rings (platform/spsc.h) carry
 * pbuf pointers between them; no lock anywhere:
 *   fill_small, fill_big  stack -> I/O  empty buffers of the stack's pool
 *                         (NS_PBUF_SIZE pooled ones; heap ones for a
 *                         64 KiB GSO packet), allocated on its thread;
 *   rx       I/O -> stack  frames read, in those buffers: the I/O thread
 *                          reads a frame into io_pool (the inner device's
 *                          recv), copies it into a fill buffer its size
 *                          and frees its own; the stack takes the frame
 *                          as it is;
 *   tx       stack -> I/O  frames to send, in the stack's buffers;
 *   tx_done  I/O -> stack  the same, sent (copied into io_pool first) or
 *                          dropped, with the inner xmit's result in
 *                          time_us, to be counted and freed by their owner.
 * So each frame is copied once between pools, and always on the I/O
 * thread: the stack's thread only moves pointers. Ownership moves with
 * the pointer (release on push, acquire on pop).
 *
 * Bounds: IOT_FILL_SMALL + IOT_FILL_BIG empty or received buffers of the
 * stack's pool are lent out at a time (at most 4.6 MiB: the big ones count
 * against the pool's heap limit), so the rx ring, as large as both, never
 * overflows; when no buffer of the right size is there the I/O thread
 * holds its one frame and stops reading until the stack lends more, so
 * the kernel keeps what follows (its own queue and its own drops, as with
 * a slow reader). At most IOT_TX_RING frames to send are in flight
 * (credits: the stack counts what it handed over and did not get back, so
 * tx_done never overflows). io_pool holds IOT_POOL_BUFS buffers and room
 * for two GSO packets: the frame held and the copy of one being sent.
 *
 * Wake-ups, both with the same "flag, then recheck" protocol so that none
 * is lost and a busy consumer costs no system call:
 *   I/O -> stack: a pipe whose read end is this device's ops->fd, which
 *     the loop waits on. The I/O thread writes one byte when it hands
 *     over received frames (or frees room while the stack waits for
 *     transmit room) and no byte is pending (stack_signalled). The stack
 *     clears the flag, reads the byte and looks at the rings again only
 *     when it found nothing. A pipe's read end never reports EPOLLOUT,
 *     so a loop waiting for transmit room sleeps until the I/O thread
 *     says there is some (an eventfd would always be writable).
 *   stack -> I/O: an eventfd. Before sleeping in poll(2) the I/O thread
 *     publishes what it waits for (io_want: frames to send; room in the
 *     rx ring) and looks again; the stack writes the eventfd only when it
 *     made that happen and the I/O thread said it waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "netsock/os.h"
#include "platform/spsc.h"

#define IOT_FILL_SMALL 224u /* pooled buffers lent to the I/O thread */
#define IOT_FILL_BIG 64u    /* heap buffers for GSO packets lent to it */
#define IOT_RX_RING 512u    /* >= IOT_FILL_SMALL + IOT_FILL_BIG */
#define IOT_TX_RING 256u
#define IOT_POOL_BUFS 16u
/* The largest frame a device hands over: a 64 KiB GSO packet with its
 * headroom and a VLAN-tagged Ethernet header. */
#define IOT_FRAME_MAX (NS_PBUF_HEADROOM + 65535u + 18u)
#define IOT_HEAP_MAX (3u * IOT_FRAME_MAX)
_Static_assert(IOT_RX_RING >= IOT_FILL_SMALL + IOT_FILL_BIG, "rx ring holds every lent buffer");
/* Frames read per turn before the I/O thread looks at its other work. */
#define IOT_RX_BATCH 64u

#define IO_WANT_TX 0x1u   /* sleeping: a frame to send wakes it */
#define IO_WANT_FILL 0x2u /* sleeping with a frame and no buffer for it: a lent one wakes it */

struct iot_dev {
    struct ns_dev dev; /* first: a struct ns_dev * is a struct iot_dev * */
    struct ns_dev *inner;
    struct ns_pbuf_pool *io_pool;
    struct spsc_ring fill_small, fill_big, rx, tx, tx_done;
    int wake_rd, wake_wr; /* pipe, I/O -> stack; wake_rd is ops->fd */
    int io_evfd;          /* eventfd, stack -> I/O */
    pthread_t thread;
    bool started;

    _Atomic bool stack_signalled; /* a byte is (about to be) in the pipe */
    _Atomic bool tx_wait;         /* the stack waits for transmit room */
    _Atomic uint32_t io_want;     /* IO_WANT_*: what the sleeping I/O thread waits for */
    _Atomic bool stop;

    /* Stack thread only. */
    uint32_t tx_credit_used; /* frames pushed to tx and not back from tx_done */
    uint32_t lent_small, lent_big; /* buffers in fill rings, the I/O thread's hands, rx */
    uint64_t fill_nobuf, tx_ring_full;

    /* I/O thread only. */
    struct ns_pbuf *held;    /* a frame read (io_pool) that waits for a fill buffer */
    bool tx_blocked;         /* the inner device refused: wait for POLLOUT */

    /* Written by the I/O thread, read by the stack's (relaxed). */
    _Atomic uint64_t rx_wait_buf, wake_stack_n, wake_io_n;
    _Atomic uint64_t inner_rx_drop, inner_tx_drop, inner_tx_busy;
};

/* ---- wake-ups ------------------------------------------------------------ */

/* I/O thread: make the stack's descriptor readable unless it already is. */
static void wake_stack(struct iot_dev *d)
{
    if (atomic_exchange(&d->stack_signalled, true))
        return;
    char b = 1;
    ssize_t n;
    do
        n = write(d->wake_wr, &b, 1);
    while (n < 0 && errno == EINTR);
    atomic_fetch_add_explicit(&d->wake_stack_n, 1, memory_order_relaxed);
}

/* Stack thread: wake the I/O thread if it sleeps waiting for `what`. Call
 * after the push that provides it. */
static void wake_io(struct iot_dev *d, uint32_t what)
{
    atomic_thread_fence(memory_order_seq_cst); /* the push before the load */
    uint32_t want = atomic_load(&d->io_want);
    if (!(want & what) || !atomic_compare_exchange_strong(&d->io_want, &want, 0u))
        return;
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(d->io_evfd, &one, sizeof(one));
    while (n < 0 && errno == EINTR);
}

/* ---- the I/O thread ------------------------------------------------------ */

/* The fill ring whose buffers fit frame pb. */
static struct spsc_ring *fill_for(struct iot_dev *d, const struct ns_pbuf *pb)
{
    return (uint64_t)pb->off + pb->len <= NS_PBUF_SIZE ? &d->fill_small : &d->fill_big;
}

/* Send what the stack queued, until the inner device refuses. True when
 * something moved. */
static bool io_transmit(struct iot_dev *d)
{
    bool moved = false;
    struct ns_pbuf *pb;
    while (!d->tx_blocked && (pb = spsc_peek(&d->tx))) {
        struct ns_pbuf *copy = ns_pbuf_clone_to(d->io_pool, pb);
        int rc = copy ? d->inner->ops->xmit(d->inner, copy, ns_clock_now_us()) : -ENOBUFS;
        if (rc == -EAGAIN) {
            /* Not sent; the stack's frame stays first in the ring. */
            d->tx_blocked = true;
            break;
        }
        pb->time_us = (uint64_t)(int64_t)rc;
        spsc_pop(&d->tx);
        spsc_push(&d->tx_done, pb); /* never full: credits */
        moved = true;
    }
    if (moved) {
        atomic_thread_fence(memory_order_seq_cst); /* the push before the load */
        if (atomic_load(&d->tx_wait) && atomic_exchange(&d->tx_wait, false))
            wake_stack(d);
    }
    return moved;
}

/* Read up to a batch of frames, each copied into a buffer the stack lent,
 * into the rx ring. True when some came. */
static bool io_receive(struct iot_dev *d)
{
    unsigned n = 0;
    while (n < IOT_RX_BATCH) {
        if (!d->held)
            d->held = d->inner->ops->recv(d->inner, d->io_pool, ns_clock_now_us());
        if (!d->held)
            break;
        struct ns_pbuf *pb = spsc_pop(fill_for(d, d->held));
        if (!pb) {
            atomic_fetch_add_explicit(&d->rx_wait_buf, 1, memory_order_relaxed);
            break; /* the frame waits in d->held, the next ones in the kernel */
        }
        ns_pbuf_copy(pb, d->held); /* fits: fill_for */
        ns_pbuf_free(d->held);
        d->held = NULL;
        spsc_push(&d->rx, pb); /* never full: no more buffers are lent */
        n++;
    }
    if (n)
        wake_stack(d);
    return n > 0;
}

/* Publish the inner device's own drop counters for the stack's thread. */
static void io_publish(struct iot_dev *d)
{
    const struct ns_dev_stats *s = &d->inner->stats;
    atomic_store_explicit(&d->inner_rx_drop, s->rx_drop, memory_order_relaxed);
    atomic_store_explicit(&d->inner_tx_drop, s->tx_drop, memory_order_relaxed);
    atomic_store_explicit(&d->inner_tx_busy, s->tx_busy, memory_order_relaxed);
}

static void *io_main(void *arg)
{
    struct iot_dev *d = arg;
    int fd = d->inner->ops->fd(d->inner);
    while (!atomic_load(&d->stop)) {
        bool moved = io_transmit(d);
        moved |= io_receive(d);
        io_publish(d);
        if (moved)
            continue; /* the device may have more: sleep only when idle */

        /* Say what wakes us, then look once more (wake_io pairs). */
        bool room = !d->held;
        uint32_t want = IO_WANT_TX | (room ? 0u : IO_WANT_FILL);
        atomic_store(&d->io_want, want);
        atomic_thread_fence(memory_order_seq_cst);
        if ((!d->tx_blocked && !spsc_empty(&d->tx)) ||
            (!room && !spsc_empty(fill_for(d, d->held))) || atomic_load(&d->stop)) {
            atomic_store(&d->io_want, 0u);
            continue;
        }
        struct pollfd pfd[2] = {
            {.fd = fd, .events = (short)((room ? POLLIN : 0) | (d->tx_blocked ? POLLOUT : 0))},
            {.fd = d->io_evfd, .events = POLLIN},
        };
        int n = poll(pfd, 2, -1);
        atomic_store(&d->io_want, 0u);
        if (n < 0)
            continue; /* EINTR (signals are blocked here, so hardly) */
        if (pfd[1].revents & POLLIN) {
            uint64_t v;
            if (read(d->io_evfd, &v, sizeof(v)) == (ssize_t)sizeof(v))
                atomic_fetch_add_explicit(&d->wake_io_n, 1, memory_order_relaxed);
        }
        if (pfd[0].revents & (POLLOUT | POLLERR | POLLHUP))
            d->tx_blocked = false; /* xmit reports an error itself */
    }
    return NULL;
}

/* ---- the stack's side ------------------------------------------------------ */

/* Count and free what the I/O thread finished sending. */
static void drain_tx_done(struct iot_dev *d)
{
    struct ns_pbuf *pb;
    while ((pb = spsc_pop(&d->tx_done))) {
        d->tx_credit_used--;
        ns_dev_tx_done(&d->dev, pb, pb->len, (int)(int64_t)pb->time_us);
    }
}

static int iot_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    struct iot_dev *d = (struct iot_dev *)dev;
    (void)now_us;
    drain_tx_done(d);
    if (d->tx_credit_used >= IOT_TX_RING) {
        d->tx_ring_full++;
        return ns_dev_tx_done(dev, pb, pb->len, -EAGAIN);
    }
    spsc_push(&d->tx, pb); /* never full: credits */
    d->tx_credit_used++;
    wake_io(d, IO_WANT_TX);
    return 0; /* queued: counted when the I/O thread is done with it */
}

/* Lend the I/O thread empty buffers of the stack's pool up to the
 * IOT_FILL_* counts, and wake it if it waits for one. */
static void refill(struct iot_dev *d, struct ns_pbuf_pool *pool)
{
    bool lent = false;
    while (d->lent_small < IOT_FILL_SMALL) {
        struct ns_pbuf *pb = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, NS_PBUF_SIZE - NS_PBUF_HEADROOM);
        if (!pb)
            goto nobuf;
        spsc_push(&d->fill_small, pb); /* never full: counted */
        d->lent_small++;
        lent = true;
    }
    while (d->lent_big < IOT_FILL_BIG) {
        struct ns_pbuf *pb = ns_pbuf_alloc(pool, NS_PBUF_HEADROOM, IOT_FRAME_MAX - NS_PBUF_HEADROOM);
        if (!pb)
            goto nobuf;
        spsc_push(&d->fill_big, pb);
        d->lent_big++;
        lent = true;
    }
    goto done;
nobuf:
    /* The pool is empty (or its heap limit reached): the I/O thread waits
     * with what it has; the stack lends more at its next poll. */
    d->fill_nobuf++;
done:
    if (lent)
        wake_io(d, IO_WANT_FILL);
}

/* The next received frame (in a buffer of `pool` lent earlier), or NULL
 * when the rx ring is empty (and the descriptor no longer readable). */
static struct ns_pbuf *iot_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool, uint64_t now_us)
{
    struct iot_dev *d = (struct iot_dev *)dev;
    (void)now_us;
    drain_tx_done(d);
    dev->stats.rx_drop = atomic_load_explicit(&d->inner_rx_drop, memory_order_relaxed);
    struct ns_pbuf *pb = spsc_pop(&d->rx);
    if (!pb) {
        refill(d, pool);
        /* Nothing: consume the wake-up, then look again, since the I/O
         * thread may have pushed in between (it writes again only once
         * the flag is clear). */
        atomic_store(&d->stack_signalled, false);
        atomic_thread_fence(memory_order_seq_cst);
        char buf[16];
        while (read(d->wake_rd, buf, sizeof(buf)) > 0) {
        }
        pb = spsc_pop(&d->rx);
        if (!pb)
            return NULL;
        /* More may follow that our next poll must see. */
        atomic_store(&d->stack_signalled, true);
        char b = 1;
        if (write(d->wake_wr, &b, 1) < 0) {
            /* Full pipe: already readable. */
        }
    }
    if (pb->flags & NS_PBUF_F_HEAP)
        d->lent_big--;
    else
        d->lent_small--;
    if (d->lent_small < IOT_FILL_SMALL * 3 / 4 || d->lent_big < IOT_FILL_BIG * 3 / 4)
        refill(d, pool); /* in batches: one wake-up for many */
    dev->stats.rx_frames++;
    dev->stats.rx_bytes += pb->len;
    return pb;
}

static uint64_t iot_next_deadline(struct ns_dev *dev)
{
    (void)dev;
    return NS_TIME_NEVER; /* driven by the descriptor */
}

static int iot_fd(struct ns_dev *dev) { return ((struct iot_dev *)dev)->wake_rd; }

static uint64_t iot_tx_ready(struct ns_dev *dev, uint64_t now_us)
{
    struct iot_dev *d = (struct iot_dev *)dev;
    drain_tx_done(d);
    if (d->tx_credit_used < IOT_TX_RING)
        return now_us;
    /* Ask to be woken when room comes, then look again (io_transmit pairs). */
    atomic_store(&d->tx_wait, true);
    atomic_thread_fence(memory_order_seq_cst);
    drain_tx_done(d);
    if (d->tx_credit_used < IOT_TX_RING) {
        atomic_store(&d->tx_wait, false);
        return now_us;
    }
    return NS_TIME_NEVER;
}

static void iot_close(struct ns_dev *dev)
{
    struct iot_dev *d = (struct iot_dev *)dev;
    if (d->started) {
        atomic_store(&d->stop, true);
        uint64_t one = 1;
        if (write(d->io_evfd, &one, sizeof(one)) < 0) {
            /* The counter cannot overflow from one write; nothing to do. */
        }
        pthread_join(d->thread, NULL);
    }
    /* One thread again: every buffer goes back to its own pool. */
    struct ns_pbuf *pb;
    while ((pb = spsc_pop(&d->tx))) /* never sent */
        ns_dev_tx_done(dev, pb, pb->len, -ENETDOWN);
    drain_tx_done(d);
    while ((pb = spsc_pop(&d->rx)))
        ns_pbuf_free(pb);
    while ((pb = spsc_pop(&d->fill_small)))
        ns_pbuf_free(pb);
    while ((pb = spsc_pop(&d->fill_big)))
        ns_pbuf_free(pb);
    ns_pbuf_free(d->held);
    ns_dev_close(d->inner);
    ns_pbuf_pool_free(d->io_pool);
    spsc_destroy(&d->rx);
    spsc_destroy(&d->fill_small);
    spsc_destroy(&d->fill_big);
    spsc_destroy(&d->tx);
    spsc_destroy(&d->tx_done);
    if (d->wake_rd >= 0)
        close(d->wake_rd);
    if (d->wake_wr >= 0)
        close(d->wake_wr);
    if (d->io_evfd >= 0)
        close(d->io_evfd);
    free(d);
}

static const struct ns_dev_ops iot_ops = {
    .xmit = iot_xmit,
    .recv = iot_recv,
    .next_deadline = iot_next_deadline,
    .tick = NULL,
    .fd = iot_fd,
    .close = iot_close,
    .tx_ready = iot_tx_ready,
};

struct ns_dev *ns_iothread_wrap(struct ns_dev *inner, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!inner || !inner->ops->fd || inner->ops->fd(inner) < 0 ||
        (inner->ops->next_deadline && inner->ops->next_deadline(inner) != NS_TIME_NEVER)) {
        *err = -EINVAL; /* only a device driven by its descriptor alone */
        return NULL;
    }
    struct iot_dev *d = calloc(1, sizeof(*d));
    if (!d) {
        *err = -ENOMEM;
        return NULL;
    }
    d->wake_rd = d->wake_wr = d->io_evfd = -1;
    d->inner = inner;
    int pfd[2];
    *err = 0;
    if (pipe2(pfd, O_NONBLOCK | O_CLOEXEC) < 0) {
        *err = -errno;
    } else {
        d->wake_rd = pfd[0];
        d->wake_wr = pfd[1];
        d->io_evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (d->io_evfd < 0)
            *err = -errno;
    }
    if (!*err) {
        d->io_pool = ns_pbuf_pool_new(IOT_POOL_BUFS, IOT_HEAP_MAX);
        if (!d->io_pool || spsc_init(&d->rx, IOT_RX_RING) ||
            spsc_init(&d->fill_small, IOT_RX_RING) || spsc_init(&d->fill_big, IOT_RX_RING) ||
            spsc_init(&d->tx, IOT_TX_RING) || spsc_init(&d->tx_done, IOT_TX_RING))
            *err = -ENOMEM;
    }
    d->dev = *inner; /* name, link, MTU, address, offloads */
    d->dev.ops = &iot_ops;
    memset(&d->dev.stats, 0, sizeof(d->dev.stats));
    if (!*err) {
        /* The thread takes no signals: they stay with the program's
         * threads (and the loop's signalfd). */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int rc = pthread_create(&d->thread, NULL, io_main, d);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc) {
            *err = -rc;
        } else {
            d->started = true;
            char tname[16];
            snprintf(tname, sizeof(tname), "ns-io-%.9s", inner->name);
            pthread_setname_np(d->thread, tname);
        }
    }
    if (*err) {
        d->inner = NULL; /* still the caller's */
        iot_close(&d->dev);
        return NULL;
    }
    return &d->dev;
}

void ns_iothread_stats(const struct ns_dev *dev, struct ns_iothread_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!dev || dev->ops != &iot_ops)
        return;
    const struct iot_dev *d = (const struct iot_dev *)dev;
    out->rx_wait_buf = atomic_load_explicit(&d->rx_wait_buf, memory_order_relaxed);
    out->tx_ring_full = d->tx_ring_full;
    out->fill_nobuf = d->fill_nobuf;
    out->wake_stack = atomic_load_explicit(&d->wake_stack_n, memory_order_relaxed);
    out->wake_io = atomic_load_explicit(&d->wake_io_n, memory_order_relaxed);
    out->inner_rx_drop = atomic_load_explicit(&d->inner_rx_drop, memory_order_relaxed);
    out->inner_tx_drop = atomic_load_explicit(&d->inner_tx_drop, memory_order_relaxed);
    out->inner_tx_busy = atomic_load_explicit(&d->inner_tx_busy, memory_order_relaxed);
}
