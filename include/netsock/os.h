/* netsock/os.h — netsock on real Linux links: TAP, TUN and AF_PACKET
 * devices, the platform clock, and the real-time loop that drives stacks
 * over them.
 *
 * This is the only part of netsock that opens OS devices and reads the
 * clock (src/platform/); the stack itself stays
 * sans-IO. Linux only. Opening devices needs CAP_NET_ADMIN (TAP/TUN
 * creation) or CAP_NET_RAW (AF_PACKET).
 */
#ifndef NETSOCK_OS_H
#define NETSOCK_OS_H

#include <stdint.h>

#include "netsock/netsock.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CLOCK_MONOTONIC in microseconds: the `now_us` for stacks on real links. */
uint64_t ns_clock_now_us(void);

/* CLOCK_REALTIME minus CLOCK_MONOTONIC, in microseconds: added to a
 * ns_clock_now_us() time it gives UTC wall-clock time (microseconds since
 * 1970). Read once, when a capture starts (ns_pcap_opts.ts_offset_us):
 * the stack's clock stays monotonic, and a later change of the system
 * time does not move the capture's timestamps. */
uint64_t ns_clock_realtime_offset_us(void);

/* ---- devices -----------------------------------------------------------------
 * Each returns a device to hand to ns_if_add(), or NULL with *err set to a
 * negative errno. The device is non-blocking; ops->fd gives the descriptor
 * the loop waits on; reads and writes are batched. mac NULL: a random
 * locally administered unicast address (from the OS random source: only
 * platform/ may read it). */

/* TAP: Ethernet frames through /dev/net/tun (IFF_TAP | IFF_NO_PI). The
 * kernel interface `name` is created if absent (and removed on close when
 * created here), or attached to when it exists (e.g. made persistent with
 * `ip tuntap add`). The kernel side's configuration (addresses, up) is the
 * caller's business.
 * Offloads are on (docs/links.md "Offloads"): IFF_VNET_HDR with
 * TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4), so both sides pass TCP segments
 * of up to 64 KiB and leave checksums to the other (the device offers
 * NS_DEV_OFF_TX_CSUM | NS_DEV_OFF_TSO, and marks received frames whose
 * checksums the kernel vouches for). Where the kernel lacks IFF_VNET_HDR
 * the device opens without offloads. */
struct ns_dev *ns_tap_open(const char *name, const uint8_t mac[6], int *err);

/* TUN: IPv4 packets, no link layer (IFF_TUN | IFF_NO_PI), offloads as TAP. */
struct ns_dev *ns_tun_open(const char *name, int *err);

/* Flags for the _flags variants. */
#define NS_TUNTAP_NO_OFFLOAD 0x1u /* no IFF_VNET_HDR: whole frames, complete checksums */

/* ns_tap_open / ns_tun_open with flags (0 = the same as those). */
struct ns_dev *ns_tap_open_flags(const char *name, const uint8_t mac[6], unsigned flags, int *err);
struct ns_dev *ns_tun_open_flags(const char *name, unsigned flags, int *err);

/* AF_PACKET on an existing interface `ifname` (e.g. one end of a veth
 * pair), with a TPACKET_V2 receive ring. netsock uses the interface's MAC
 * address unless mac is given (then the interface is put in promiscuous
 * mode). */
struct ns_dev *ns_packet_open(const char *ifname, const uint8_t mac[6], int *err);

/* ---- device I/O on a thread of its own ----------------------------------------
 * Wrap a device driven by its descriptor (TAP, TUN, AF_PACKET) so that its
 * reads and writes run on a thread the wrapper starts: the stack's thread
 * then only moves frames through lock-free rings (the one copy each
 * way is the I/O thread's), while the system calls run on another core (docs/links.md "I/O thread").
 * The wrapper offers the inner device's link type, MTU, MAC address and
 * offloads; its descriptor (ops->fd) is a pipe the I/O thread makes
 * readable when frames wait or transmit room came back, so ns_loop and
 * ns_stack_fd drive it as any device. Backpressure: a full transmit ring
 * (256 frames) refuses with -EAGAIN (stats.tx_busy); the stack lends the
 * I/O thread 224 empty pool buffers and 64 of 64 KiB for GSO packets
 * (4.2 MiB of the stack's heap limit), and without one the I/O thread
 * stops reading, so frames wait in the kernel's queue. The
 * wrapper owns inner from then on and closes it (after stopping the
 * thread) on close. Only the stack's thread may use the wrapper (as any
 * device); the inner device is the I/O thread's alone.
 * Returns the device, or NULL with *err: -EINVAL (inner has no descriptor
 * or has deadlines of its own, as a fault wrapper does: wrap the OS device
 * itself and put pcap / fault wrappers on top), -ENOMEM, or why a pipe,
 * eventfd or thread could not be made; inner is then still the caller's. */
struct ns_dev *ns_iothread_wrap(struct ns_dev *inner, int *err);

/* What the I/O thread of a device made by ns_iothread_wrap has counted
 * (all zero for another device). Call from the stack's thread. */
struct ns_iothread_stats {
    uint64_t rx_wait_buf;   /* times the I/O thread stopped reading: no empty buffer of
                               the stack's was lent to it; frames waited in the kernel */
    uint64_t tx_ring_full;  /* frames refused with -EAGAIN: the transmit ring was full
                               (also in stats.tx_busy) */
    uint64_t fill_nobuf;    /* times the stack's pool could not lend buffers (empty or at
                               its heap limit): the I/O thread waits, nothing is dropped */
    uint64_t wake_stack;    /* wake-ups of the stack's thread (pipe writes) */
    uint64_t wake_io;       /* wake-ups of the I/O thread by the stack (eventfd) */
    uint64_t inner_rx_drop; /* the inner device's own counters, as the I/O thread */
    uint64_t inner_tx_drop; /*   last published them (rx_drop is in stats.rx_drop, */
    uint64_t inner_tx_busy; /*   tx_drop in stats.tx_drop) */
};
void ns_iothread_stats(const struct ns_dev *dev, struct ns_iothread_stats *out);

/* ---- netsock readiness in the application's own loop ------------------------- */

/* An OS descriptor (an eventfd) readable exactly while netsock epoll set
 * epfd of st has events, i.e. while ns_epoll_wait(st, epfd, ..., 0)
 * would return some: put it in your own epoll/libuv/glib loop next to
 * kernel descriptors, and call ns_epoll_wait with timeout 0 when it is
 * readable. It is the set's (the same number on every call), closed when
 * the set is closed: do not close or read it yourself. The stack must
 * still be polled (ns_stack_poll: its devices' descriptors, and
 * ns_stack_next_deadline) for anything to change. Returns the descriptor
 * or -1 with errno: EBADF, EINVAL (epfd is not an epoll set), ENOMEM,
 * EMFILE. */
int ns_epoll_fd(struct ns_stack *st, int epfd);

/* The stack's "poll me now" descriptor: one OS descriptor (an epoll set
 * of the kernel's) that becomes readable when st must be polled — one of
 * its devices readable (or writable while TCP waits for a full device
 * queue, ns_if_tx_wait_writable), or its next deadline
 * (ns_stack_next_deadline, on CLOCK_MONOTONIC: use ns_clock_now_us as the
 * stack's clock) reached. With it and ns_epoll_fd an application's own
 * loop waits on netsock with two descriptors and no timeout of its own:
 *
 *     ns_stack_fd_arm(sfd);                 before every sleep
 *     epoll_wait(app_ep, ...);              ns_stack_fd(sfd) and ns_epoll_fd(st, ep) in it
 *     ns_stack_poll(st, ns_clock_now_us()); when the first was readable
 *     ns_epoll_wait(st, ep, evs, n, 0);     when the second is
 *
 * Made after the stack's devices were added (ns_if_add): later ones are
 * not watched. NULL with *err (-errno) on failure. */
struct ns_stack_fd;
struct ns_stack_fd *ns_stack_fd_new(struct ns_stack *st, int *err);
/* The descriptor (the object's; do not close it). */
int ns_stack_fd(const struct ns_stack_fd *s);
/* Before sleeping on it: the timer at the stack's next deadline, device
 * write interest as TCP needs it. 0 or -errno. */
int ns_stack_fd_arm(struct ns_stack_fd *s);
/* Close the descriptor and free the object (not the stack). */
void ns_stack_fd_free(struct ns_stack_fd *s);

/* ---- the real-time loop ---------------------------------------------------------
 * Drives stacks over real devices: polls each stack at its deadline or
 * when one of its devices' descriptors is readable, sleeping in epoll in
 * between. ns_loop_add() installs the loop as the stack's driver, so
 * blocking socket calls (ns_recv, ns_accept, ns_poll with a timeout)
 * run the loop until they can complete.
 *
 * Threads (docs/architecture.md "Threads"): one thread at a time runs a
 * loop. While a thread is in ns_loop_run, the socket calls on its stacks
 * may come from any other thread: a blocking one sleeps until the loop's
 * thread makes it ready, its timeout passes or the loop stops (EINTR).
 * Make the loop, its stacks (ns_loop_add) and its descriptors before
 * other threads use them; descriptor callbacks run on the loop's thread
 * with no lock held, and may make any call. */

struct ns_loop;

struct ns_loop *ns_loop_new(void);
/* Free the loop (not the stacks). A stack added to it may be freed
 * before or after; after, it makes no more calls but ns_stack_free. */
void ns_loop_free(struct ns_loop *loop);

/* Add a stack: its devices' descriptors join the loop's epoll set (add
 * the stack's devices with ns_if_add first). Returns 0 or -errno. */
int ns_loop_add(struct ns_loop *loop, struct ns_stack *st);

/* Watch another descriptor (a control socket, stdin): cb runs from the
 * loop when it is ready. Returns 0 or -errno. */
typedef void (*ns_loop_fd_fn)(void *ctx, int fd, uint32_t epoll_events);
int ns_loop_add_fd(struct ns_loop *loop, int fd, uint32_t epoll_events, ns_loop_fd_fn cb,
                   void *ctx);
int ns_loop_del_fd(struct ns_loop *loop, int fd);

/* Process everything due now, then sleep until the next deadline, a
 * readable device or deadline_us (NS_TIME_NEVER: no limit), and process
 * again. Returns 0, or -EINTR when ns_loop_stop() was called or SIGINT /
 * SIGTERM arrived (after ns_loop_catch_signals()). */
int ns_loop_run_once(struct ns_loop *loop, uint64_t deadline_us);

/* Run until stopped (ns_loop_stop, or a caught signal). Returns 0. */
int ns_loop_run(struct ns_loop *loop);

/* Make ns_loop_run return (safe from a callback and from any thread:
 * wakes the loop, and the calls asleep on its stacks, with EINTR). */
void ns_loop_stop(struct ns_loop *loop);

/* Catch SIGINT and SIGTERM: the loop stops at the next wake-up instead of
 * the process dying, so the program can close connections, flush pcaps
 * and print counters. */
void ns_loop_catch_signals(struct ns_loop *loop);

/* True once a caught signal arrived or ns_loop_stop() was called. */
int ns_loop_stopped(const struct ns_loop *loop);

#ifdef __cplusplus
}
#endif
#endif
