/* netsock/socket.h — the Berkeley socket API over a netsock stack.
 *
 * Every call is the BSD/POSIX call of the same name with an `ns_` prefix
 * and the stack as first argument, using the system's own types and
 * constants (struct sockaddr_in, AF_INET, SOCK_DGRAM, MSG_PEEK, errno
 * values, struct pollfd). Semantics follow Linux: for the same sequence of
 * calls a netsock socket returns what a Linux socket returns, with the
 * same errno. docs/sockets.md lists the few deliberate differences.
 *
 * Errors: -1 with errno set, as the system calls.
 *
 * Descriptors: small non-negative integers private to each stack, lowest
 * free number first (like file descriptors). They are not OS descriptors.
 *
 * Blocking: sockets block by default. A blocking call drives the loop that
 * owns the stack (ns_stack_set_driver; the simulator installs itself for
 * its hosts) until the call can complete or its timeout (SO_RCVTIMEO /
 * SO_SNDTIMEO, or ns_poll's timeout) passes. With no driver installed a
 * call that would block fails with EWOULDBLOCK. In the simulator, a call
 * that can never complete because no event is pending anywhere fails with
 * EDEADLK rather than hanging.
 *
 * Threading: a stack added to an ns_loop (netsock/os.h) whose
 * ns_loop_run() runs on one thread may be used from any number of other
 * threads: every call here is safe from any thread, a blocking call on
 * another thread sleeps until the loop's thread makes it ready or its
 * timeout passes, shutdown() in one thread wakes a receive blocked in
 * another and close() does not, as on Linux (docs/architecture.md
 * "Threads"). Any other stack (a simulator host, a stack on no loop) is
 * used by one thread at a time. Different stacks may live on different
 * threads and share nothing.
 */
#ifndef NETSOCK_SOCKET_H
#define NETSOCK_SOCKET_H

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "netsock/netsock.h"

#ifdef __cplusplus
extern "C" {
#endif

int ns_socket(struct ns_stack *st, int domain, int type, int protocol);
int ns_bind(struct ns_stack *st, int fd, const struct sockaddr *addr, socklen_t addrlen);
int ns_connect(struct ns_stack *st, int fd, const struct sockaddr *addr, socklen_t addrlen);
int ns_listen(struct ns_stack *st, int fd, int backlog);
int ns_accept(struct ns_stack *st, int fd, struct sockaddr *addr, socklen_t *addrlen);
int ns_accept4(struct ns_stack *st, int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);

ssize_t ns_send(struct ns_stack *st, int fd, const void *buf, size_t len, int flags);
ssize_t ns_sendto(struct ns_stack *st, int fd, const void *buf, size_t len, int flags,
                  const struct sockaddr *dest, socklen_t destlen);
ssize_t ns_sendmsg(struct ns_stack *st, int fd, const struct msghdr *msg, int flags);

ssize_t ns_recv(struct ns_stack *st, int fd, void *buf, size_t len, int flags);
ssize_t ns_recvfrom(struct ns_stack *st, int fd, void *buf, size_t len, int flags,
                    struct sockaddr *src, socklen_t *srclen);
ssize_t ns_recvmsg(struct ns_stack *st, int fd, struct msghdr *msg, int flags);

int ns_shutdown(struct ns_stack *st, int fd, int how);
int ns_close(struct ns_stack *st, int fd);

int ns_getsockname(struct ns_stack *st, int fd, struct sockaddr *addr, socklen_t *addrlen);
int ns_getpeername(struct ns_stack *st, int fd, struct sockaddr *addr, socklen_t *addrlen);
int ns_setsockopt(struct ns_stack *st, int fd, int level, int optname, const void *optval,
                  socklen_t optlen);
int ns_getsockopt(struct ns_stack *st, int fd, int level, int optname, void *optval,
                  socklen_t *optlen);

/* ---- transparent sockets and deferred SYN,ACKs (docs/sockets.md
 * "Transparent sockets") ------------------------------------------------------
 *
 * IP_TRANSPARENT (IPPROTO_IP, an int, Linux's option) set before listen()
 * on a TCP socket, or before bind() on a UDP one, makes it the stack's
 * catch-all: it takes what no other socket takes, to any destination
 * address and port, including addresses that are not the stack's (while
 * such a socket is open the stack delivers unicast packets for other
 * hosts to it instead of dropping them: the job of Linux's TPROXY rules,
 * which netsock does not have). One per protocol; a second fails with
 * EADDRINUSE. getsockname() on an accepted connection gives the
 * destination the peer asked for; a UDP socket learns each datagram's
 * with IP_RECVORIGDSTADDR (an IP_ORIGDSTADDR struct sockaddr_in control
 * message, as Linux). Nothing else answers for another host: no ICMP
 * echo reply, no RST, no port unreachable.
 *
 * NS_TCP_DEFER_SYNACK (IPPROTO_TCP, an int, netsock's own) on a listener:
 * a SYN is not answered; its connection is queued for accept() at once,
 * held in SYN-RECEIVED, and the application gives its verdict with
 * NS_TCP_SYNACK_VERDICT on the accepted descriptor: NS_SYNACK_ACCEPT
 * sends the SYN,ACK (the socket becomes writable once the handshake
 * completes), NS_SYNACK_RESET answers <RST,ACK> as a closed port,
 * NS_SYNACK_UNREACH(code) an ICMP destination unreachable of that code
 * (0..15: NET 0, HOST 1, PORT 3, ADMIN_PROHIB 13). After a refusal the
 * socket is closed (ECONNREFUSED); close() before a verdict refuses with
 * a RST. A held connection answers nothing: the peer's SYN
 * retransmissions wait, its RST ends it. The accept queue (listen's
 * backlog) bounds how many wait to be accepted. */
#define NS_TCP_DEFER_SYNACK 0x4e530001
#define NS_TCP_SYNACK_VERDICT 0x4e530002
#define NS_SYNACK_ACCEPT 1
#define NS_SYNACK_RESET 2
#define NS_SYNACK_UNREACH(code) (0x100 | (code))

/* F_GETFL / F_SETFL (O_NONBLOCK only, as for sockets on Linux). */
int ns_fcntl(struct ns_stack *st, int fd, int cmd, ...);

/* poll(2) over netsock descriptors: POLLIN, POLLOUT, POLLERR, POLLHUP,
 * POLLNVAL, POLLRDHUP. timeout_ms < 0 waits forever (driving the loop). */
int ns_poll(struct ns_stack *st, struct pollfd *fds, nfds_t nfds, int timeout_ms);

/* ---- the loop behind blocking calls ---------------------------------------- */

/* Drive the loop that owns `st` until at least one event has been
 * processed or deadline_us (on the stack's clock) has been reached.
 * deadline_us 0 asks only to bring the stacks up to the current time
 * (process what is due, no waiting): blocking calls do that before
 * computing their timeouts. Returns 0, or a negative errno: -EDEADLK when
 * nothing can ever happen (no pending event and deadline_us is
 * NS_TIME_NEVER). */
typedef int (*ns_drive_fn)(void *ctx, uint64_t deadline_us);

/* Install the driver for blocking calls (NULL: calls that would block fail
 * with EWOULDBLOCK). The simulator installs one for every host. */
void ns_stack_set_driver(struct ns_stack *st, ns_drive_fn fn, void *ctx);

/* ---- introspection (the data of `netsock stat`, like ss -uanp) -------------- */

/* A socket address of either family, as the socket's own family shows
 * it (getsockname): .sin for AF_INET sockets, .sin6 for AF_INET6 ones
 * (an IPv4 peer of a dual-stack socket in its v4-mapped form);
 * .sa.sa_family says which. */
union ns_sockaddr {
    struct sockaddr sa;
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
};

struct ns_sock_info {
    int fd;
    int family;                /* AF_INET, AF_INET6 */
    int type;                  /* SOCK_DGRAM, SOCK_RAW, SOCK_STREAM */
    int protocol;              /* IPPROTO_UDP, IPPROTO_ICMP, ... */
    union ns_sockaddr local;   /* port 0 / the wildcard when unbound */
    union ns_sockaddr remote;  /* all zero (family 0) when not connected */
    const char *state;         /* "UNCONN", "ESTAB", "LISTEN", ... as ss(8) */
    uint32_t recv_q;           /* bytes waiting to be read */
    uint32_t send_q;           /* bytes waiting to be sent */
    uint64_t drops;            /* datagrams dropped: receive buffer full */
    /* TCP (as ss -ti): zero for other sockets. */
    uint32_t srtt_us, rto_us;  /* smoothed RTT and retransmission timeout */
    uint32_t cwnd, ssthresh;   /* bytes */
    uint32_t mss;
    uint32_t retrans;          /* segments retransmitted */
    uint32_t rcvbuf, sndbuf;   /* buffer sizes now, bytes (as ss -m rb/tb; autotuning
                                  grows them) */
};

/* Fill up to max entries (in descriptor order) and return how many sockets
 * the stack has (may exceed max). */
int ns_sock_list(struct ns_stack *st, struct ns_sock_info *out, int max);

#ifdef __cplusplus
}
#endif
#endif
