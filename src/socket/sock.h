/* socket/sock.h — the socket object every protocol embeds (struct
 * ns_sock: flags, options, the datagram queue), the operations each
 * protocol implements (struct ns_sock_ops), the protocol switch through
 * which the BSD API finds them (struct ns_protosw), and what datagram
 * sockets share (socket/sock.c). This is layer 5, below the transports,
 * as Linux's struct sock and BSD's socketvar.h: udp/, raw/ and tcp/ build
 * on it; the descriptor table and the API (socket/fdtable.h, api.c) sit
 * above them.
 *
 * The BSD API (socket/api.c) validates arguments that do not depend on
 * the protocol, converts sockaddrs to host order, and turns negative errno
 * into -1/errno. Protocol ops do one non-blocking attempt and return
 * -EAGAIN when they would block; api.c does the blocking by driving the
 * loop (sock_wait) and retrying.
 */
#ifndef NS_SOCKET_SOCK_H
#define NS_SOCKET_SOCK_H

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "base/addr.h"
#include "base/dlist.h"
#include "base/stack.h"
#include "net/net.h"
#include "netsock/socket.h"

struct ns_sock;

struct ns_sock_ops {
    /* Bind to addr:port (port 0 = pick an ephemeral port). The address
     * was already checked to be local, broadcast, multicast or wildcard. */
    int (*bind)(struct ns_stack *st, struct ns_sock *so, const struct ns_addr *addr,
                uint16_t port);
    /* Connect to addr:port; an addr of family AF_UNSPEC dissolves the
     * association. */
    int (*connect)(struct ns_stack *st, struct ns_sock *so, const struct ns_addr *addr,
                   uint16_t port);
    /* One attempt to send `len` bytes gathered from msg->msg_iov to
     * msg->msg_name (NULL: the connected peer; see sock_msg_dst). Checks
     * its arguments in the order of the Linux protocol's sendmsg. Returns
     * bytes sent or -errno. */
    ssize_t (*sendmsg)(struct ns_stack *st, struct ns_sock *so, const struct msghdr *msg,
                       size_t len, int flags);
    /* One attempt to receive; -EAGAIN when nothing is queued. */
    ssize_t (*recvmsg)(struct ns_stack *st, struct ns_sock *so, struct msghdr *msg, int flags);
    /* Readiness: POLLIN/POLLOUT/POLLERR/POLLHUP bits. */
    short (*poll)(struct ns_stack *st, struct ns_sock *so);
    int (*shutdown)(struct ns_stack *st, struct ns_sock *so, int how);
    /* The descriptor is gone (ns_close): release the protocol's state
     * and the socket itself, now (datagram sockets: sock_dgram_free) or
     * once the protocol is done with it (a closing TCP connection). The
     * caller does not touch `so` again. */
    void (*close)(struct ns_stack *st, struct ns_sock *so);
    /* Protocol-level options (level == the socket's protocol), may be NULL. */
    int (*setsockopt)(struct ns_stack *st, struct ns_sock *so, int level, int name,
                      const void *val, socklen_t len);
    int (*getsockopt)(struct ns_stack *st, struct ns_sock *so, int level, int name, void *val,
                      socklen_t *len);
    const char *(*state_name)(const struct ns_sock *so);
    /* Stream sockets only (NULL otherwise: EOPNOTSUPP). listen: 0/-errno.
     * accept: one attempt: 0 with *child, the next ready connection's
     * socket (off the queue, SOCK_NONBLOCK of flags applied, no descriptor
     * yet: the caller gives it one, which fd_reserve made sure it can),
     * or -EAGAIN / -EINVAL (not listening). */
    int (*listen)(struct ns_stack *st, struct ns_sock *so, int backlog);
    int (*accept)(struct ns_stack *st, struct ns_sock *so, int flags, struct ns_sock **child);
    /* Fill send_q and stream details for ns_sock_list (may be NULL). */
    void (*info)(const struct ns_sock *so, struct ns_sock_info *out);
};

/* Socket flags */
#define SO_F_NONBLOCK 0x0001u
#define SO_F_REUSEADDR 0x0002u
#define SO_F_REUSEPORT 0x0004u
#define SO_F_BROADCAST 0x0008u
#define SO_F_BOUND 0x0010u      /* has a local port (explicit or implicit) */
#define SO_F_CONNECTED 0x0020u  /* has a remote address */
#define SO_F_SHUT_RD 0x0040u
#define SO_F_SHUT_WR 0x0080u
#define SO_F_HDRINCL 0x0100u
#define SO_F_PKTINFO 0x0200u
#define SO_F_RECVTTL 0x0400u
#define SO_F_RECVTOS 0x0800u
#define SO_F_KEEPALIVE 0x1000u
#define SO_F_DONTROUTE 0x2000u
#define SO_F_RECVERR 0x4000u    /* IP_RECVERR: soft ICMP errors too (no error queue) */
/* A stream connect() answered EINPROGRESS and no later connect() has
 * reported how it ended (Linux SS_CONNECTING; SO_F_CONNECTED without it
 * is SS_CONNECTED). */
#define SO_F_CONNECTING 0x8000u
/* Bits 0x10000..0x80000 belong to the protocols (UDP's SO_F_USER_*);
 * the socket layer's own flags sit below and above them (sock.c checks
 * at compile time that no two share a bit). */
/* IPv6 (AF_INET6 sockets only). */
#define SO_F_V6ONLY 0x01000000u       /* IPV6_V6ONLY: no IPv4 through this socket */
#define SO_F_RECVPKTINFO6 0x02000000u /* IPV6_RECVPKTINFO */
#define SO_F_RECVTCLASS6 0x04000000u  /* IPV6_RECVTCLASS */
#define SO_F_RECVHOPS6 0x08000000u    /* IPV6_RECVHOPLIMIT */
#define SO_F_MC6_NOLOOP 0x10000000u   /* IPV6_MULTICAST_LOOP turned off */
#define SO_F_RECVERR6 0x40000000u     /* IPV6_RECVERR: soft ICMPv6 errors too (raw; no queue) */

/* A writer found no room (a send said EAGAIN, or poll found the socket
 * not writable): the next time the send buffer drains to the writable
 * mark, tell the watchers (Linux SOCK_NOSPACE, sk_stream_write_space). */
#define SO_F_NOSPACE 0x20000000u
#define SO_F_OOBINLINE 0x100000u /* SO_OOBINLINE: TCP's urgent byte stays in the stream */

/* IP_TRANSPARENT: a catch-all socket for traffic to any address
 * (docs/sockets.md "Transparent sockets"); IP_RECVORIGDSTADDR: recvmsg
 * reports each datagram's destination address and port. */
#define SO_F_TRANSPARENT 0x200000u
#define SO_F_RECVORIGDST 0x400000u

/* ---- readiness pushed to watchers ---------------------------------------------
 *
 * A socket's watchers (Linux's socket wait queue) are told of every change
 * that can make it readable, writable or in error: the protocols call
 * sock_wake at the moment of the change (data queued, a state transition,
 * an error, the accept queue growing, the send buffer draining), so
 * nobody has to scan sockets to find the ready ones. The watchers are the
 * items of epoll sets (socket/epoll.c), which queue themselves on their
 * set's ready list; what a watcher reports is read from ops->poll when the
 * set is waited on, never from the key. */

/* What changed (sock_wake's key, a hint as Linux's wake-up keys): watchers
 * whose events share no bit with it are not told. 0 is "anything". */
#define SOCK_WAKE_ANY 0u
#define SOCK_WAKE_IN (POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND) /* sk_data_ready */
#define SOCK_WAKE_OUT (POLLOUT | POLLWRNORM | POLLWRBAND)         /* sk_write_space */
#define SOCK_WAKE_ERR POLLERR                                      /* sk_error_report */

struct sock_watch {
    struct ns_dlink link; /* on so->watchers */
    bool exclusive;       /* EPOLLEXCLUSIVE: listed after the others */
    /* Called by sock_wake. Returns true when it counts as a wake-up: the
     * walk stops after the first exclusive watcher that returns true
     * (Linux __wake_up_common with nr_exclusive 1). */
    bool (*fn)(struct ns_stack *st, struct sock_watch *w, uint32_t key);
};

/* A socket. The protocol's object embeds it (TCP: struct tcpcb; UDP and
 * raw sockets are a bare struct ns_sock), so it lives as long as the
 * protocol needs it, which may be after its descriptor closed. */
struct ns_sock {
    /* Laid out without holes (a TCP control block embeds it: issue 14). */
    const struct ns_sock_ops *ops;
    int fd;            /* the descriptor (fdtable.h), -1 while it has none */
    int type;     /* SOCK_DGRAM, SOCK_RAW, SOCK_STREAM */
    /* AF_INET or AF_INET6 (Linux sk_family): what its sockaddrs are. The
     * flow's addresses are kept as the network sees them whatever the
     * family: an IPv4 peer of an AF_INET6 socket is an AF_INET ns_addr
     * (whose bytes are its v4-mapped form), an unbound AF_INET6 socket has
     * the AF_INET6 wildcard. */
    int family;
    uint32_t flags;
    int so_error;      /* pending asynchronous error (positive errno), SO_ERROR */

    uint32_t rcvbuf;   /* SO_RCVBUF, bytes (as Linux: twice what was asked) */
    uint32_t sndbuf;
    int rcvlowat;      /* SO_RCVLOWAT, stored and reported only (UDP ignores it) */
    int linger_onoff, linger_s;
    int bound_ifindex; /* SO_BINDTODEVICE (0 = any) */
    uint32_t mark;     /* SO_MARK, stored and reported only */
    int priority;      /* SO_PRIORITY, stored and reported only */
    int mc_if6;        /* IPV6_MULTICAST_IF, an interface index or 0 */
    uint32_t rx_mem;   /* datagrams: bytes charged against rcvbuf (buffer sizes) */

    /* Local and remote address and port, and the protocol (IPPROTO_*):
     * wildcards until bound or connected. For TCP the connection's
     * 4-tuple, kept here only (the control block embeds this socket). */
    struct ns_flow flow;

    /* IPv6 options (AF_INET6 sockets, ipv6(7)); IPv4 datagrams of a
     * dual-stack socket use ttl and tos below, as Linux does. */
    int16_t hops6;     /* IPV6_UNICAST_HOPS, -1: the default (64) */
    int16_t mc_hops6;  /* IPV6_MULTICAST_HOPS (default 1) */
    int16_t csum_off6; /* raw: IPV6_CHECKSUM offset, -1: none (ICMPv6: 2) */
    uint8_t tclass;    /* IPV6_TCLASS */
    uint8_t ttl;       /* IP_TTL; 0 = stack default */
    uint8_t tos;       /* IP_TOS */

    /* Where its datagrams to flow.remote (or the last destination) leave,
     * decided once per generation of the routes (net/net.h ip4_egress). */
    struct ip_egress egress;

    uint64_t rcvtimeo_us; /* 0 = block forever; SOCK_TIMEO_NOWAIT = never wait */
    uint64_t sndtimeo_us;

    /* Datagram receive queue (UDP, raw): pbufs with l3_off/l4_off set. */
    struct ns_pbuf_queue rxq;
    uint64_t rx_drops;

    /* Who is told of readiness changes (sock_wake); exclusive ones last. */
    struct ns_dlist watchers;

    /* Protocol hash links (udp/). */
    struct ns_sock *hnext;
    struct ns_sock *rnext; /* raw socket list */
    uint32_t icmp6_filter[8]; /* raw ICMPv6: ICMP6_FILTER, a set bit blocks the type */
};

/* One kind of socket a protocol makes (Linux struct inet_protosw): the
 * protocol switch maps socket(family, type, protocol) to it. */
struct ns_protosw {
    int family;    /* AF_INET, AF_INET6 */
    int type;      /* SOCK_STREAM, SOCK_DGRAM, SOCK_RAW */
    int protocol;  /* IPPROTO_TCP, IPPROTO_UDP, or 0: any protocol but 0 (raw) */
    /* A new socket of `protocol` (the one asked, or the entry's): the
     * protocol's object, its struct ns_sock set up (sock_setup), no
     * descriptor yet. NULL and *err (-ENOMEM) on failure. */
    struct ns_sock *(*create)(struct ns_stack *st, int protocol, int *err);
};

#define SOCK_PROTOSW_MAX 8

/* The socket layer's state (st->sock): the protocol switch. */
struct sock_state {
    const struct ns_protosw *sw[SOCK_PROTOSW_MAX];
    unsigned nsw;
};

/* Allocate st->sock (an empty switch): 0 or -ENOMEM; free it. */
int sock_init(struct ns_stack *st);
void sock_destroy(struct ns_stack *st);
/* Add an entry (static storage) to the switch: 0 or -ENOSPC. Called by
 * the transports' init. */
int sock_register(struct ns_stack *st, const struct ns_protosw *sw);
/* Does any entry make sockets of this family? */
bool sock_family_known(const struct ns_stack *st, int family);
/* The entry for socket(family, type, *protocol), as Linux inet_create
 * searches: the type's entry of that protocol; for protocol 0 the type's
 * first entry (*protocol becomes its protocol); an entry of protocol 0
 * matches any other. NULL with *err -ESOCKTNOSUPPORT (no entry of the
 * type) or -EPROTONOSUPPORT (none of the protocol, or 0 asked of a
 * protocol-0 entry). */
const struct ns_protosw *sock_protosw_find(const struct ns_stack *st, int family, int type,
                                           int *protocol, int *err);

/* The fields every socket starts with: no descriptor, the type's default
 * buffers (TCP's cfg.tcp_rmem_default/tcp_wmem_default, else Linux's
 * net.core defaults), SO_RCVLOWAT 1, an empty datagram queue. The rest
 * must be zero (a calloc'd or embedded object). */
void sock_setup(struct ns_stack *st, struct ns_sock *so, int type, int protocol,
                const struct ns_sock_ops *ops);
/* A datagram socket (UDP, raw: a bare struct ns_sock), set up; NULL and
 * *err on failure. */
struct ns_sock *sock_dgram_new(struct ns_stack *st, int type, int protocol,
                               const struct ns_sock_ops *ops, int *err);
/* A new socket of family AF_INET6 (ns_socket, after the protocol made
 * it): the AF_INET6 wildcard in its flow, Linux inet6_create's defaults
 * (IPV6_V6ONLY off, unicast hops -1, multicast hops 1, raw ICMPv6
 * checksummed at offset 2). */
void sock_family6_init(struct ns_sock *so);
/* What a connection accepted on `parent` inherits of its family and
 * IPv6 options (Linux tcp_v6_syn_recv_sock copying ipv6_pinfo). */
void sock_inherit_family(struct ns_sock *child, const struct ns_sock *parent);
/* The wildcard of the socket's family, for a socket that forgets its
 * address (disconnect). */
struct ns_addr sock_any(const struct ns_sock *so);

/* An address as the socket's family shows it (getsockname, getpeername,
 * accept, recvfrom): a sockaddr_in for AF_INET sockets; for AF_INET6 a
 * sockaddr_in6, an IPv4 address in its v4-mapped form, the AF_INET6
 * wildcard as ::, scope id 0 (no link-local addresses yet) and flow info
 * 0. Returns the length of the whole address. */
socklen_t sock_name(const struct ns_sock *so, const struct ns_addr *a, uint16_t port,
                    struct sockaddr_storage *out);

/* Parse a sockaddr_in6 for an AF_INET6 socket: -EINVAL when shorter than
 * the RFC 2133 form (24 bytes, SIN6_LEN_RFC2133), `wrong_family` when
 * sin6_family is not AF_INET6; else 0 with *addr (a v4-mapped address as
 * the AF_INET ns_addr, the rest as AF_INET6), *port (host order) and
 * *scope (0 for the short form). */
/* __ipv6_addr_needs_scope_id: link-local unicast, and multicast of
 * interface- or link-local scope (RFC 4291 §2.7), name an interface. */
bool sock_in6_needs_scope(const struct ns_addr *a);
int sock_parse_in6(const struct sockaddr *sa, socklen_t len, int wrong_family,
                   struct ns_addr *addr, uint16_t *port, uint32_t *scope);

/* Do two sockets binding one port clash in their addresses? Linux
 * inet_rcv_saddr_equal with match_wildcard (ipv4_rcv_saddr_equal,
 * ipv6_rcv_saddr_equal): `so` about to bind `addr`, `other` bound to its
 * flow.local; families, IPV6_V6ONLY and the wildcard of each decide. */
bool sock_bind_addr_clash(const struct ns_sock *so, const struct ns_addr *addr,
                          const struct ns_sock *other);

/* May a datagram or segment to the local address `dst` (of the
 * packet's family) reach a socket bound to its wildcard? Not an IPv4
 * one through an IPV6_V6ONLY socket, not IPv6 through an AF_INET one
 * (Linux compute_score's ipv6_only_sock test). */
static inline bool sock_family_accepts(const struct ns_sock *so, const struct ns_addr *dst)
{
    if (dst->family == AF_INET)
        return !(so->family == AF_INET6 && (so->flags & SO_F_V6ONLY));
    return so->family == AF_INET6;
}

/* Free a datagram socket and whatever its queue holds. */
void sock_dgram_free(struct ns_sock *so);

/* Charge a received datagram to so's receive buffer and queue it, or drop
 * it (counted in so->rx_drops; returns false) when rcvbuf is full. Consumes
 * pb either way. */
bool sock_queue_rcv(struct ns_stack *st, struct ns_sock *so, struct ns_pbuf *pb);

/* Where a queued datagram's bytes for the application start. */
enum sock_dgram_data {
    SOCK_DATA_UDP,   /* the UDP payload; the name carries the UDP source port */
    SOCK_DATA_IP,    /* the IPv4 header (raw IPv4, raw(7)); port 0 */
    SOCK_DATA_UPPER, /* the upper-layer header after the IPv6 header and its
                        extension headers (raw IPv6, Linux rawv6_recvmsg); port 0 */
};

/* Datagram recvmsg shared by UDP and raw: pops (or peeks) the next queued
 * datagram, copies it into msg's iovecs from where `data` says, fills
 * msg_name (source address, and for UDP the source port; a link-scoped
 * IPv6 source gets the receiving interface as sin6_scope_id, as Linux
 * ipv6_iface_scope_id), control messages (IP_PKTINFO, IP_TTL, IP_TOS;
 * IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_TCLASS when enabled) and MSG_TRUNC.
 * An iovec with a NULL base that would receive bytes is -EFAULT, and the
 * datagram is lost unless MSG_PEEK, as Linux's failed copy
 * (udp_recvmsg); a NULL buffer with no room asks only for the length
 * (MSG_TRUNC). */
ssize_t sock_dgram_recvmsg(struct ns_stack *st, struct ns_sock *so, struct msghdr *msg, int flags,
                           enum sock_dgram_data data);

/* The destination of a sendmsg, as the first checks of Linux udp_sendmsg
 * and raw_sendmsg: 0 when msg_name is NULL, 1 with *addr and *port filled
 * in (the sockaddr_in's address, also for AF_UNSPEC), or -EINVAL (short)
 * / -EAFNOSUPPORT (neither AF_INET nor AF_UNSPEC). */
int sock_msg_dst(const struct msghdr *msg, struct ns_addr *addr, uint16_t *port);

/* The destination of a sendmsg on an AF_INET6 UDP socket, as the first
 * checks of Linux udpv6_sendmsg: 0 for none (NULL, or AF_UNSPEC: then
 * -EDESTADDRREQ unless connected), 1 with *addr and *port (a sockaddr_in
 * is taken as udp_sendmsg takes it, a v4-mapped sockaddr_in6 as its IPv4
 * address, :: as ::1) and *oif the interface a link-scoped destination
 * names (its scope id, else the bound interface); -EINVAL for a short
 * name, another family or a scope id other than the bound interface,
 * -ENETUNREACH for IPv4 through an IPV6_V6ONLY socket, -EAFNOSUPPORT
 * for IPv6 from a socket bound to an IPv4 address. */
int sock_msg_dst_udp6(const struct ns_sock *so, const struct msghdr *msg, struct ns_addr *addr,
                      uint16_t *port, int *oif);

/* Just before a datagram is built (Linux sock_alloc_send_pskb): report
 * and clear a pending error, or -EPIPE after shutdown(SHUT_WR); else 0. */
int sock_send_ready(struct ns_sock *so);

/* Readiness of a datagram socket, as Linux datagram_poll: POLLERR for a
 * pending error, POLLIN|POLLRDHUP after SHUT_RD, POLLHUP when shut both
 * ways, POLLIN with data queued, POLLOUT. */
short sock_dgram_poll(struct ns_stack *st, struct ns_sock *so);
/* shutdown(2) and the ss(8) state name, the same for UDP and raw sockets. */
int sock_dgram_shutdown(struct ns_stack *st, struct ns_sock *so, int how);
const char *sock_dgram_state(const struct ns_sock *so);

/* Copy len bytes gathered from an iovec array into dst. */
void sock_iov_gather(const struct msghdr *msg, uint8_t *dst, size_t len);

/* What the control messages of one sendmsg ask for (sock_cmsg_send). */
struct sock_cmsg {
    int ttl;   /* IP_TTL for this datagram, 1..255; 0: the socket's */
    int tos;   /* IP_TOS for this datagram, 0..255; -1: the socket's */
    int pi_ifindex;          /* IP_PKTINFO's ipi_ifindex (SOCK_CMSG_UDP): the interface a
                                limited broadcast leaves by; 0: none */
    bool has_pi6;            /* an IPV6_PKTINFO came (SOCK_CMSG_UDP6, _IP6 kinds): */
    struct in6_pktinfo pi6;  /* its source and interface, for the caller to check */
    /* ip6_datagram_send_ctl (the _IP6 kinds): -1 when not given (or given
     * as -1, which means the same: the socket's). */
    int hops6;               /* IPV6_HOPLIMIT, 0..255 */
    int tclass6;             /* IPV6_TCLASS, 0..255 */
    int dontfrag6;           /* IPV6_DONTFRAG, 0 or 1 */
};

/* Whose rules sock_cmsg_send applies. */
enum sock_cmsg_kind {
    SOCK_CMSG_TCP, /* tcp_sendmsg_locked: sock_cmsg_send, SOL_SOCKET only */
    SOCK_CMSG_RAW, /* raw_sendmsg: ip_cmsg_send (SOL_SOCKET, SOL_IP) */
    SOCK_CMSG_UDP, /* udp_sendmsg: udp_cmsg_send (SOL_UDP), then ip_cmsg_send */
    SOCK_CMSG_UDP6, /* the same from an AF_INET6 socket: ip_cmsg_send also takes
                       SOL_IPV6 IPV6_PKTINFO with a v4-mapped address */
    SOCK_CMSG_RAW6,     /* rawv6_sendmsg: ip6_datagram_send_ctl (SOL_SOCKET,
                           SOL_IPV6: IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_TCLASS,
                           IPV6_DONTFRAG, IPV6_FLOWINFO; other levels ignored) */
    SOCK_CMSG_UDP_IP6,  /* udpv6_sendmsg to an IPv6 peer: udp_cmsg_send, then
                           ip6_datagram_send_ctl */
};

/* Check the control messages of a sendmsg as Linux does for `kind` and
 * fill *out. Every message must fit the buffer (CMSG_OK) and have a known
 * type with a valid length and value at the levels `kind` looks at; other
 * levels are ignored. Returns 0, -EINVAL, or -EPERM (SO_PRIORITY above 6,
 * as for setsockopt); TCP turns every error into -EINVAL, as
 * tcp_sendmsg_locked does. msg_control must be readable for
 * msg_controllen bytes (api.c checked that it is not NULL). */
int sock_cmsg_send(const struct msghdr *msg, enum sock_cmsg_kind kind, struct sock_cmsg *out);

/* ip6_datagram_send_ctl's IPV6_PKTINFO, when cm has one: its interface,
 * unless 0, must agree with *oif when that is set (EINVAL), must exist
 * (ENODEV) and becomes *oif; its source, unless ::, must be an address
 * of ours (EINVAL; a link-local one without an interface EINVAL) and is
 * put in *src. The interface then named (*oif) must exist (ENODEV). 0
 * otherwise (nothing changed). */
int sock_cmsg_pktinfo6(struct ns_stack *st, const struct sock_cmsg *cm, int *oif,
                       struct ns_ip6_addr *src);
/* The per-datagram IPv6 fields of o (o->dst set) for a datagram socket,
 * as Linux udpv6_sendmsg and rawv6_sendmsg fill them: the hop limit of an
 * IPV6_HOPLIMIT control message, else IPV6_MULTICAST_HOPS to a group or
 * IPV6_UNICAST_HOPS (-1: the interface's default); the traffic class of
 * IPV6_TCLASS, else the socket's; IPV6_DONTFRAG. */
void sock_ip6_out_opts(const struct ns_sock *so, const struct sock_cmsg *cm, struct ip6_out *o);

/* A negative SO_RCVTIMEO/SO_SNDTIMEO: calls do not wait (Linux stores a
 * zero timeout, which getsockopt reports as {0, 0} like "forever"). */
#define SOCK_TIMEO_NOWAIT UINT64_MAX

/* Tell so's watchers that its readiness may have changed (key: what
 * changed, SOCK_WAKE_*). Costs a test when nobody watches. Called from
 * the state door of every protocol; must not be called while a watcher
 * list is being walked for the same socket (watchers only queue). */
void sock_wake_watchers(struct ns_stack *st, struct ns_sock *so, uint32_t key);
static inline void sock_wake(struct ns_stack *st, struct ns_sock *so, uint32_t key)
{
    if (so && so->watchers.head)
        sock_wake_watchers(st, so, key);
}
/* Add a watcher (exclusive ones after every other, as Linux
 * add_wait_queue_exclusive) / take it off. */
void sock_watch_add(struct ns_sock *so, struct sock_watch *w);
void sock_watch_del(struct ns_sock *so, struct sock_watch *w);

/* An int option value as Linux's tcp and rawv6 setsockopt read it:
 * -EINVAL when optlen is shorter than an int, then -EFAULT for no buffer;
 * 0 with the value in *out. (The socket-level options check the buffer
 * first: get_int_opt in api.c.) */
static inline int sock_optval_int(const void *val, socklen_t len, int *out)
{
    if (len < (socklen_t)sizeof(int))
        return -EINVAL;
    if (!val)
        return -EFAULT;
    memcpy(out, val, sizeof(int));
    return 0;
}

/* Linux sk_stream_is_writeable for a stream send buffer holding `queued`
 * of `size` bytes: not full, and free space at least half of what is
 * queued (sk_stream_wspace >= sk_stream_min_wspace: a third of the buffer
 * free once it is in use). */
static inline bool sock_stream_writeable(uint32_t queued, uint32_t size)
{
    return queued < size && size - queued >= queued / 2;
}

/* Linux default and limits for SO_RCVBUF / SO_SNDBUF (net.core.*). */
#define SOCK_RMEM_DEFAULT 212992u
#define SOCK_WMEM_DEFAULT 212992u
#define SOCK_RMEM_MAX 212992u
#define SOCK_WMEM_MAX 212992u
#define SOCK_MIN_RCVBUF 2304u /* Linux SOCK_MIN_RCVBUF */
#define SOCK_MIN_SNDBUF 4608u

/* Ephemeral port range, Linux ip_local_port_range defaults. */
#define SOCK_EPHEMERAL_LO 32768u
#define SOCK_EPHEMERAL_HI 60999u

/* Map an ICMP error (type, code) to the errno Linux reports, and whether
 * Linux treats it as "hard" (fatal: reported to a connected socket even
 * without IP_RECVERR). 0 for types that carry no error. */
int sock_icmp_err(uint8_t type, uint8_t code, bool *fatal);
/* The same for an ICMPv6 error (RFC 4443 §3, Linux icmpv6_err_convert):
 * Destination Unreachable by code (port unreachable ECONNREFUSED, fatal;
 * no route ENETUNREACH; administratively prohibited EACCES, fatal;
 * address unreachable EHOSTUNREACH), Packet Too Big EMSGSIZE, Time
 * Exceeded EHOSTUNREACH, Parameter Problem EPROTO (fatal); 0 for others. */
int sock_icmp6_err(uint8_t type, uint8_t code, bool *fatal);

#endif
