/* preload/run_proto.h — what `netsock run` (the stack process,
 * tools/run_stack.c) and the interposition library it preloads into the
 * program (preload/preload.c) say to each other. docs/run.md explains the
 * design; this file is the contract.
 *
 * Descriptors. Every netsock socket of the program is one end of a kernel
 * AF_UNIX socket pair whose other end the stack process holds:
 *   - a TCP socket (fresh, connecting, connected): SOCK_STREAM; the bytes
 *     the program writes are the bytes TCP sends, the bytes the stack
 *     writes are the bytes TCP received; EOF is the peer's FIN;
 *   - a TCP listener: SOCK_SEQPACKET; each accepted connection arrives as
 *     one struct run_accept record carrying the connection's descriptor
 *     (SCM_RIGHTS), so accept(2) is one recvmsg(2);
 *   - a UDP socket: SOCK_SEQPACKET; each received datagram is one message,
 *     a struct run_dgram header followed by the payload.
 * The program's end is bound to the abstract address
 *     "\0" RUN_NAME_PREFIX "<stack pid>/<socket id>.<kind>"
 * (kind: RUN_KIND_STREAM, RUN_KIND_LISTEN, RUN_KIND_DGRAM), so any process
 * holding the descriptor — after dup, fork or exec — learns with one
 * getsockname(2) that it is a netsock socket, which one, and what kind.
 * The kernel counts the references: the stack sees the close when the
 * last copy in any process is closed.
 *
 * Control channel. The calls that are not data (socket, bind, connect,
 * listen, options, names, shutdown, UDP sends) are requests on a
 * SOCK_SEQPACKET connection to the abstract address "\0" RUN_NAME_PREFIX
 * "<stack pid>" (environment variable RUN_ENV_CTL holds it without the
 * NUL), one connection per thread of the program: a struct run_req and
 * its data in one message, answered by one struct run_rep message with
 * the same seq. A request may carry a descriptor (SCM_RIGHTS), and so may
 * a reply (a new socket).
 */
#ifndef NS_RUN_PROTO_H
#define NS_RUN_PROTO_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define RUN_ENV_CTL "NETSOCK_RUN_CTL"
/* Set (to "1") when the stack has IPv6 addresses: getaddrinfo(AF_UNSPEC)
 * then asks for AAAA records too. */
#define RUN_ENV_INET6 "NETSOCK_RUN_INET6"
#define RUN_NAME_PREFIX "netsock-run-"

#define RUN_KIND_STREAM 't'
#define RUN_KIND_LISTEN 'l'
#define RUN_KIND_DGRAM 'u'

enum run_op {
    RUN_OP_SOCKET = 1, /* arg: domain, type, protocol. Reply: the descriptor
                          (SCM_RIGHTS), id, arg[0] its kind */
    RUN_OP_BIND,       /* data: the address */
    RUN_OP_LISTEN,     /* arg[0]: backlog. Reply: on the first listen a new
                          descriptor (the listener's pair) the program puts
                          in place of its own with dup3(2) */
    RUN_OP_CONNECT,    /* data: the address; arg[0]: 1 when the program's
                          descriptor is non-blocking; a TCP connect carries
                          the descriptor. A blocking connect is answered
                          when the handshake ends */
    RUN_OP_GETSOCKNAME,
    RUN_OP_GETPEERNAME,
    RUN_OP_SETSOCKOPT, /* arg: level, name; data: the value */
    RUN_OP_GETSOCKOPT, /* arg: level, name, the buffer's length */
    RUN_OP_SHUTDOWN,   /* arg[0]: how. Reply arg[0]: 1 when the program must
                          also shut its own end down (the end of stream then
                          follows the data it wrote) */
    RUN_OP_SENDMSG,    /* UDP: arg: flags, name length, control length; data:
                          name, control, payload */
    RUN_OP_ERROR,      /* take the socket's pending error (0: none): at the
                          end of a stream, or EPIPE, the program asks why */
    RUN_OP_MORE,       /* arg[0]: 1 when the program's sends on this TCP
                          socket now say MSG_MORE, 0 when they stop (sent
                          after the data of the first send without it): the
                          stack passes MSG_MORE to TCP with the bytes
                          between */
    RUN_OP__COUNT
};

/* The send buffer of a connected pair's ends (SO_SNDBUFFORCE; the kernel
 * doubles it: 4 MiB), so that the pair never limits TCP's rate. */
#define RUN_PAIR_SNDBUF (2 << 20)

/* With TCP_NOTSENT_LOWAT the program's end holds about the mark, not
 * megabytes more than TCP's unsent bytes (at least RUN_PAIR_LOWAT_MIN). */
#define RUN_PAIR_LOWAT_MIN 8192
static inline int run_pair_sndbuf(unsigned int notsent_lowat)
{
    if (!notsent_lowat || notsent_lowat >= RUN_PAIR_SNDBUF)
        return RUN_PAIR_SNDBUF;
    return notsent_lowat < RUN_PAIR_LOWAT_MIN ? RUN_PAIR_LOWAT_MIN : (int)notsent_lowat;
}

/* Largest data of one request or reply: a whole UDP datagram with its
 * address and control messages. */
#define RUN_DATA_MAX (65536 + 1024)

struct run_req {
    uint32_t op;
    uint32_t seq;
    uint64_t id;     /* the socket; 0 for RUN_OP_SOCKET */
    int32_t arg[4];
    uint32_t len;    /* bytes of data after the header */
    uint32_t pad;
};

struct run_rep {
    uint32_t seq;
    int32_t ret;     /* the call's return value (>= 0), or -1 */
    int32_t err;     /* errno when ret is -1 */
    uint32_t len;    /* bytes of data after the header */
    uint64_t id;     /* RUN_OP_SOCKET: the new socket */
    int32_t arg[2];
};

/* One accepted connection on a listener's pair (with its descriptor).
 * The peer's address is a sockaddr_in or, on an AF_INET6 listener, a
 * sockaddr_in6 (an IPv4 peer of a dual-stack one: v4-mapped), peerlen
 * bytes of it. */
struct run_accept {
    uint64_t id;
    struct sockaddr_in6 peer;
    uint32_t peerlen;
    uint32_t pad;
};

/* The header of one datagram on a UDP socket's pair, stack to program;
 * the payload follows. err != 0: no datagram but a pending error
 * (ECONNREFUSED after an ICMP port unreachable), reported by the receive
 * that finds it, in order with the datagrams. */
#define RUN_DGRAM_CONTROL_MAX 96
struct run_dgram {
    uint32_t len;        /* payload bytes */
    int32_t err;
    struct sockaddr_in6 from; /* a sockaddr_in or sockaddr_in6, fromlen bytes */
    uint32_t fromlen;
    uint32_t controllen;      /* bytes used in control[] */
    uint32_t pad;             /* control[] at a multiple of 8 */
    uint8_t control[RUN_DGRAM_CONTROL_MAX]; /* cmsgs, as recvmsg(2) returns them */
};
_Static_assert(offsetof(struct run_dgram, control) % 8 == 0, "cmsgs need 8-byte alignment");

#endif
