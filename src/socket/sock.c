/* socket/sock.c — the socket object every protocol embeds: the protocol
 * switch (which protocol makes a socket of a given family, type and
 * protocol), the fields every socket starts with, and the parts of
 * datagram sockets that UDP and raw sockets share (receive queue
 * accounting, recvmsg with control messages, sendmsg's destination and
 * its control messages, poll, shutdown).
 *
 * Read first: POSIX recvmsg(2)/socket(7)/ip(7) man pages for MSG_TRUNC,
 * MSG_PEEK, IP_PKTINFO, IP_RECVTTL semantics on Linux; Linux inet_create
 * (net/ipv4/af_inet.c) for how the switch is searched.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "socket/sock.h"
#include "wire/bytes.h"
#include "wire/wire.h"

/* Every socket flag has a bit of its own (a sum of distinct bits is their
 * union), and none lies in the protocols' range 0x10000..0x80000. */
#define SOCK_FLAGS(X) \
    X(SO_F_NONBLOCK) X(SO_F_REUSEADDR) X(SO_F_REUSEPORT) X(SO_F_BROADCAST) \
    X(SO_F_BOUND) X(SO_F_CONNECTED) X(SO_F_SHUT_RD) X(SO_F_SHUT_WR) X(SO_F_HDRINCL) \
    X(SO_F_PKTINFO) X(SO_F_RECVTTL) X(SO_F_RECVTOS) X(SO_F_KEEPALIVE) \
    X(SO_F_DONTROUTE) X(SO_F_RECVERR) X(SO_F_CONNECTING) X(SO_F_V6ONLY) \
    X(SO_F_RECVPKTINFO6) X(SO_F_RECVTCLASS6) X(SO_F_RECVHOPS6) X(SO_F_MC6_NOLOOP) \
    X(SO_F_RECVERR6) X(SO_F_NOSPACE) X(SO_F_OOBINLINE) X(SO_F_TRANSPARENT) \
    X(SO_F_RECVORIGDST)
#define FLAG_PLUS(f) +(unsigned long long)(f)
#define FLAG_OR(f) | (f)
_Static_assert(0 SOCK_FLAGS(FLAG_PLUS) == (0ull SOCK_FLAGS(FLAG_OR)),
               "two SO_F_* flags share a bit");
_Static_assert(((0u SOCK_FLAGS(FLAG_OR)) & 0xf0000u) == 0,
               "an SO_F_* flag in the protocols' range");
#undef FLAG_PLUS
#undef FLAG_OR

int sock_init(struct ns_stack *st)
{
    st->sock = calloc(1, sizeof(*st->sock));
    return st->sock ? 0 : -ENOMEM;
}

void sock_destroy(struct ns_stack *st)
{
    free(st->sock);
    st->sock = NULL;
}

int sock_register(struct ns_stack *st, const struct ns_protosw *sw)
{
    struct sock_state *s = st->sock;
    if (s->nsw == SOCK_PROTOSW_MAX)
        return -ENOSPC;
    s->sw[s->nsw++] = sw;
    return 0;
}

bool sock_family_known(const struct ns_stack *st, int family)
{
    const struct sock_state *s = st->sock;
    for (unsigned i = 0; i < s->nsw; i++)
        if (s->sw[i]->family == family)
            return true;
    return false;
}

const struct ns_protosw *sock_protosw_find(const struct ns_stack *st, int family, int type,
                                           int *protocol, int *err)
{
    /* Linux inet_create: among the entries of this type, the one of this
     * protocol; protocol 0 (IPPROTO_IP) takes the type's default; an
     * entry of protocol 0 takes any protocol but 0. No entry of the type
     * at all: the type is not supported; entries but no match: the
     * protocol is not. */
    const struct sock_state *s = st->sock;
    *err = -ESOCKTNOSUPPORT;
    for (unsigned i = 0; i < s->nsw; i++) {
        const struct ns_protosw *sw = s->sw[i];
        if (sw->family != family || sw->type != type)
            continue;
        if (*protocol == sw->protocol) {
            if (*protocol != 0)
                return sw;
        } else if (*protocol == 0) {
            *protocol = sw->protocol;
            return sw;
        } else if (sw->protocol == 0) {
            return sw;
        }
        *err = -EPROTONOSUPPORT;
    }
    return NULL;
}

void sock_setup(struct ns_stack *st, struct ns_sock *so, int type, int protocol,
                const struct ns_sock_ops *ops)
{
    so->fd = -1;
    so->type = type;
    so->family = AF_INET;
    so->ops = ops;
    so->flow.local = so->flow.remote = ns_addr_any(AF_INET);
    so->flow.proto = (uint16_t)protocol;
    if (type == SOCK_STREAM) {
        so->rcvbuf = st->cfg.tcp_rmem_default;
        so->sndbuf = st->cfg.tcp_wmem_default;
    } else {
        so->rcvbuf = SOCK_RMEM_DEFAULT;
        so->sndbuf = SOCK_WMEM_DEFAULT;
    }
    so->rcvlowat = 1;
    ns_pbuf_queue_init(&so->rxq);
}

struct ns_sock *sock_dgram_new(struct ns_stack *st, int type, int protocol,
                               const struct ns_sock_ops *ops, int *err)
{
    struct ns_sock *so = calloc(1, sizeof(*so));
    if (!so) {
        *err = -ENOMEM;
        return NULL;
    }
    sock_setup(st, so, type, protocol, ops);
    return so;
}

void sock_family6_init(struct ns_sock *so)
{
    so->family = AF_INET6;
    so->flow.local = so->flow.remote = ns_addr_any(AF_INET6);
    so->hops6 = -1;
    so->mc_hops6 = 1; /* IPV6_DEFAULT_MCASTHOPS */
    so->csum_off6 = -1;
    /* rawv6_init_sk: ICMPv6 (RFC 4443 §2.3) is always checksummed, at 2. */
    if (so->type == SOCK_RAW && so->flow.proto == IPPROTO_ICMPV6)
        so->csum_off6 = 2;
}

void sock_inherit_family(struct ns_sock *child, const struct ns_sock *parent)
{
    child->family = parent->family;
    child->flags |= parent->flags & (SO_F_V6ONLY | SO_F_RECVPKTINFO6 | SO_F_RECVTCLASS6 |
                                     SO_F_RECVHOPS6 | SO_F_MC6_NOLOOP);
    child->hops6 = parent->hops6;
    child->mc_hops6 = parent->mc_hops6;
    child->tclass = parent->tclass;
    child->mc_if6 = parent->mc_if6;
    child->csum_off6 = parent->csum_off6;
}

struct ns_addr sock_any(const struct ns_sock *so)
{
    return ns_addr_any(so->family == AF_INET6 ? AF_INET6 : AF_INET);
}

socklen_t sock_name(const struct ns_sock *so, const struct ns_addr *a, uint16_t port,
                    struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    if (so->family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)out;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        /* An AF_INET ns_addr's bytes are already ::ffff:a.b.c.d. */
        memcpy(&s6->sin6_addr, a->u.b, 16);
        return sizeof(*s6);
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)(void *)out;
    sin->sin_family = AF_INET;
    sin->sin_addr = ns_addr_to_in(a);
    sin->sin_port = htons(port);
    return sizeof(*sin);
}

bool sock_in6_needs_scope(const struct ns_addr *a)
{
    if (a->family != AF_INET6)
        return false;
    if (a->u.b[0] == 0xfe && (a->u.b[1] & 0xc0) == 0x80)
        return true;
    return a->u.b[0] == 0xff && ((a->u.b[1] & 0x0f) == 1 || (a->u.b[1] & 0x0f) == 2);
}

/* Linux SIN6_LEN_RFC2133: a sockaddr_in6 without sin6_scope_id. */
#define LX_SIN6_LEN_RFC2133 24

int sock_parse_in6(const struct sockaddr *sa, socklen_t len, int wrong_family,
                   struct ns_addr *addr, uint16_t *port, uint32_t *scope)
{
    struct sockaddr_in6 s6;
    if (len < LX_SIN6_LEN_RFC2133)
        return -EINVAL;
    if (!sa)
        return -EFAULT;
    memset(&s6, 0, sizeof(s6));
    memcpy(&s6, sa, len < (socklen_t)sizeof(s6) ? len : sizeof(s6));
    if (s6.sin6_family != AF_INET6)
        return wrong_family;
    *addr = ns_addr_from_in6(&s6.sin6_addr);
    if (IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr))
        addr->family = AF_INET; /* the same bytes: an IPv4 address */
    *port = ntohs(s6.sin6_port);
    *scope = len >= (socklen_t)sizeof(s6) ? s6.sin6_scope_id : 0;
    return 0;
}

/* What Linux keeps in sk_rcv_saddr for a bound address (host order): the
 * IPv4 address; 0 for the wildcards; for a specific IPv6 address
 * LOOPBACK4_IPV6, 127.0.0.6, which no IPv4 datagram is addressed to
 * (__inet6_bind). */
static uint32_t rcv_saddr4(const struct ns_addr *a)
{
    if (a->family == AF_INET)
        return ns_addr_to_ip4(a);
    return ns_addr_is_any(a) ? 0 : 0x7f000006u;
}

/* ipv6_addr_type as ipv6_rcv_saddr_equal needs it. */
enum { ADDR6_MAPPED, ADDR6_ANY, ADDR6_OTHER };

static int addr6_kind(const struct ns_addr *a)
{
    if (a->family == AF_INET)
        return ADDR6_MAPPED;
    return ns_addr_is_any(a) ? ADDR6_ANY : ADDR6_OTHER;
}

/* ipv4_rcv_saddr_equal with both wildcards matching. */
static bool saddr4_equal(uint32_t a, uint32_t b, bool b_v6only)
{
    if (b_v6only)
        return false;
    return a == b || a == 0 || b == 0;
}

bool sock_bind_addr_clash(const struct ns_sock *so, const struct ns_addr *addr,
                          const struct ns_sock *other)
{
    bool only1 = so->family == AF_INET6 && (so->flags & SO_F_V6ONLY);
    bool only2 = other->family == AF_INET6 && (other->flags & SO_F_V6ONLY);
    const struct ns_addr *a2 = &other->flow.local;
    if (so->family != AF_INET6)
        return saddr4_equal(rcv_saddr4(addr), rcv_saddr4(a2), only2);
    /* ipv6_rcv_saddr_equal: an AF_INET peer counts as a mapped address. */
    int t1 = addr6_kind(addr), t2 = other->family == AF_INET6 ? addr6_kind(a2) : ADDR6_MAPPED;
    if (t1 == ADDR6_MAPPED && t2 == ADDR6_MAPPED)
        return saddr4_equal(rcv_saddr4(addr), rcv_saddr4(a2), only2);
    if (t1 == ADDR6_ANY && t2 == ADDR6_ANY)
        return true;
    if (t2 == ADDR6_ANY && !(only2 && t1 == ADDR6_MAPPED))
        return true;
    if (t1 == ADDR6_ANY && !(only1 && t2 == ADDR6_MAPPED))
        return true;
    return other->family == AF_INET6 && memcmp(addr->u.b, a2->u.b, 16) == 0;
}

void sock_dgram_free(struct ns_sock *so)
{
    ns_pbuf_queue_purge(&so->rxq);
    free(so);
}

int sock_msg_dst(const struct msghdr *msg, struct ns_addr *addr, uint16_t *port)
{
    struct sockaddr_in dst;
    if (!msg->msg_name)
        return 0;
    if (msg->msg_namelen < (socklen_t)sizeof(dst))
        return -EINVAL;
    memcpy(&dst, msg->msg_name, sizeof(dst));
    if (dst.sin_family != AF_INET && dst.sin_family != AF_UNSPEC)
        return -EAFNOSUPPORT;
    *addr = ns_addr_from_in(dst.sin_addr);
    *port = ntohs(dst.sin_port);
    return 1;
}

int sock_msg_dst_udp6(const struct ns_sock *so, const struct msghdr *msg, struct ns_addr *addr,
                      uint16_t *port, int *oif)
{
    *oif = so->bound_ifindex;
    if (!msg->msg_name)
        goto none;
    /* udpv6_sendmsg: the family must be there, then by family. */
    if (msg->msg_namelen < (socklen_t)sizeof(sa_family_t))
        return -EINVAL;
    sa_family_t fam;
    memcpy(&fam, msg->msg_name, sizeof(fam));
    if (fam == AF_INET) {
        /* do_udp_sendmsg: udp_sendmsg takes the sockaddr_in as it is. */
        if (so->flags & SO_F_V6ONLY)
            return -ENETUNREACH;
        return sock_msg_dst(msg, addr, port);
    }
    if (fam == AF_UNSPEC)
        goto none;
    if (fam != AF_INET6)
        return -EINVAL;
    uint32_t scope;
    int rc = sock_parse_in6(msg->msg_name, msg->msg_namelen, -EINVAL, addr, port, &scope);
    if (rc < 0)
        return rc;
    if (ns_addr_is_any(addr)) {
        if (so->flow.local.family == AF_INET)
            *addr = ns_addr_ip4(0); /* "this host" over IPv4, as udp_sendmsg takes 0.0.0.0 */
        else
            addr->u.b[15] = 1; /* udpv6_sendmsg: :: is ::1 (ipv6_addr_any, loopback) */
    }
    if (addr->family == AF_INET)
        return (so->flags & SO_F_V6ONLY) ? -ENETUNREACH : 1;
    /* A link-scoped destination's zone (RFC 4007 §6): the sockaddr's
     * sin6_scope_id, else the bound interface (udpv6_sendmsg: a scope id
     * other than the bound interface is EINVAL). */
    if (scope && sock_in6_needs_scope(addr)) {
        if (so->bound_ifindex && (int)scope != so->bound_ifindex)
            return -EINVAL;
        *oif = (int)scope;
    }
    /* An IPv6 destination from a socket bound to an IPv4 address: Linux
     * says EAFNOSUPPORT (udpv6_sendmsg, tcp_v6_connect). */
    if (so->flow.local.family == AF_INET && !ns_addr_is_any(&so->flow.local))
        return -EAFNOSUPPORT;
    return 1;
none:
    if (!(so->flags & SO_F_CONNECTED))
        return -EDESTADDRREQ;
    return 0;
}

int sock_send_ready(struct ns_sock *so)
{
    /* sock_alloc_send_pskb: a pending error first, then SEND_SHUTDOWN. */
    if (so->so_error) {
        int e = so->so_error;
        so->so_error = 0;
        return -e;
    }
    if (so->flags & SO_F_SHUT_WR)
        return -EPIPE; /* netsock raises no SIGPIPE (nor does Linux for datagrams) */
    return 0;
}

void sock_wake_watchers(struct ns_stack *st, struct ns_sock *so, uint32_t key)
{
    for (struct ns_dlink *l = so->watchers.head, *next; l; l = next) {
        next = l->next;
        struct sock_watch *w = NS_CONTAINER_OF(l, struct sock_watch, link);
        if (w->fn(st, w, key) && w->exclusive)
            break;
    }
}

void sock_watch_add(struct ns_sock *so, struct sock_watch *w)
{
    if (w->exclusive)
        ns_dlist_push_tail(&so->watchers, &w->link);
    else
        ns_dlist_push_head(&so->watchers, &w->link);
}

void sock_watch_del(struct ns_sock *so, struct sock_watch *w)
{
    ns_dlist_remove(&so->watchers, &w->link);
}

bool sock_queue_rcv(struct ns_stack *st, struct ns_sock *so, struct ns_pbuf *pb)
{
    /* Linux charges the buffer's true size, not the payload, against
     * sk_rcvbuf: many tiny datagrams fill it long before rcvbuf bytes of
     * payload arrive. We charge the pbuf's storage the same way. */
    /* No check of shutdown(SHUT_RD): Linux keeps queueing datagrams for a
     * socket shut for reading (__udp_enqueue_schedule_skb,
     * __sock_queue_rcv_skb) and recv still returns them. */
    if (so->rx_mem + pb->cap > so->rcvbuf) {
        so->rx_drops++;
        ns_pbuf_free(pb);
        return false;
    }
    so->rx_mem += pb->cap;
    ns_pbuf_queue_push(&so->rxq, pb);
    sock_wake(st, so, SOCK_WAKE_IN); /* sk_data_ready */
    return true;
}

void sock_iov_gather(const struct msghdr *msg, uint8_t *dst, size_t len)
{
    for (size_t i = 0; i < msg->msg_iovlen && len; i++) {
        size_t n = msg->msg_iov[i].iov_len < len ? msg->msg_iov[i].iov_len : len;
        if (n)
            memcpy(dst, msg->msg_iov[i].iov_base, n);
        dst += n;
        len -= n;
    }
}

/* Bytes scattering len bytes into msg's iovecs would copy, or -EFAULT
 * when an iovec with a NULL base would receive some (Linux finds out when
 * the copy faults; netsock looks first). */
static ssize_t iov_scatter_len(const struct msghdr *msg, size_t len)
{
    size_t done = 0;
    for (size_t i = 0; i < msg->msg_iovlen && done < len; i++) {
        size_t n = msg->msg_iov[i].iov_len;
        if (n > len - done)
            n = len - done;
        if (n && !msg->msg_iov[i].iov_base)
            return -EFAULT;
        done += n;
    }
    return (ssize_t)done;
}

/* Scatter len bytes into msg's iovecs; returns bytes copied. */
static size_t iov_scatter(struct msghdr *msg, const uint8_t *src, size_t len)
{
    size_t done = 0;
    for (size_t i = 0; i < msg->msg_iovlen && done < len; i++) {
        size_t n = msg->msg_iov[i].iov_len;
        if (n > len - done)
            n = len - done;
        if (n)
            memcpy(msg->msg_iov[i].iov_base, src + done, n);
        done += n;
    }
    return done;
}

/* Linux values the C library's headers do not all carry. */
#define LX_SO_TIMESTAMPING_OLD 37
#define LX_SO_TIMESTAMPING_NEW 65
#define LX_SCM_TXTIME 61
#define LX_UDP_SEGMENT 103
#define LX_IP_PROTOCOL 52
#define LX_IPV6_2292PKTINFO 2
#define LX_IPV6_2292HOPLIMIT 8
#define LX_IPV6_FLOWINFO 11
/* SOF_TIMESTAMPING_TX_RECORD_MASK: TX_HARDWARE, TX_SOFTWARE, TX_SCHED,
 * TX_ACK, TX_COMPLETION. */
#define LX_SOF_TX_RECORD_MASK ((1u << 0) | (1u << 1) | (1u << 8) | (1u << 9) | (1u << 18))

/* The payload of control message c as a 32-bit value; false when its
 * length is not exactly that. */
static bool cmsg_u32(const struct cmsghdr *c, size_t cmsg_len, uint32_t *v)
{
    if (cmsg_len != CMSG_LEN(sizeof(*v)))
        return false;
    memcpy(v, CMSG_DATA(c), sizeof(*v));
    return true;
}

/* Linux __sock_cmsg_send. */
static int cmsg_sol_socket(const struct cmsghdr *c, size_t cmsg_len, int type)
{
    uint32_t v;
    switch (type) {
    case SO_MARK: /* needs CAP_NET_RAW: netsock has no privileges, as root */
        return cmsg_u32(c, cmsg_len, &v) ? 0 : -EINVAL;
    case SO_PRIORITY:
        if (!cmsg_u32(c, cmsg_len, &v))
            return -EINVAL;
        return v <= 6 ? 0 : -EPERM; /* as setsockopt(SO_PRIORITY), unprivileged */
    case LX_SO_TIMESTAMPING_OLD:
    case LX_SO_TIMESTAMPING_NEW:
        /* Transmit timestamps: accepted, none are generated (netsock has
         * no error queue). */
        if (!cmsg_u32(c, cmsg_len, &v) || (v & ~LX_SOF_TX_RECORD_MASK))
            return -EINVAL;
        return 0;
    case SCM_RIGHTS:
    case SCM_CREDENTIALS:
        return 0; /* "semantically in SOL_UNIX": ignored on an inet socket */
    case LX_SCM_TXTIME: /* only with SO_TXTIME set, which netsock does not have */
    default:
        return -EINVAL;
    }
}

/* Linux ip_cmsg_send, SOL_IP part. */
static int cmsg_sol_ip(const struct cmsghdr *c, size_t cmsg_len, int type, struct sock_cmsg *out)
{
    int v;
    switch (type) {
    case IP_TTL:
        if (cmsg_len != CMSG_LEN(sizeof(int)))
            return -EINVAL;
        memcpy(&v, CMSG_DATA(c), sizeof(v));
        if (v < 1 || v > 255)
            return -EINVAL;
        out->ttl = v;
        return 0;
    case IP_TOS:
        if (cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&v, CMSG_DATA(c), sizeof(v));
        else if (cmsg_len == CMSG_LEN(1))
            v = *(const unsigned char *)CMSG_DATA(c);
        else
            return -EINVAL;
        if (v < 0 || v > 255)
            return -EINVAL;
        out->tos = v;
        return 0;
    case IP_PKTINFO: {
        /* ip_cmsg_send: ipi_ifindex is the output interface. netsock
         * applies it to the limited broadcast only (udp_sendmsg); the
         * source address is not applied (docs/sockets.md). */
        if (cmsg_len != CMSG_LEN(sizeof(struct in_pktinfo)))
            return -EINVAL;
        struct in_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof(pi));
        out->pi_ifindex = pi.ipi_ifindex;
        return 0;
    }
    case LX_IP_PROTOCOL:
        if (cmsg_len != CMSG_LEN(sizeof(int)))
            return -EINVAL;
        memcpy(&v, CMSG_DATA(c), sizeof(v));
        return v >= 1 && v <= 255 ? 0 : -EINVAL;
    case IP_RETOPTS:
        /* netsock sends no IP options: only the empty list is accepted. */
        return cmsg_len == CMSG_LEN(0) ? 0 : -EINVAL;
    default:
        return -EINVAL;
    }
}

/* __udp_cmsg_send: UDP_SEGMENT only. netsock has no UDP GSO: a segment
 * size of 0 (none) is all it takes. */
static int cmsg_udp(const struct cmsghdr *c, size_t cmsg_len, int type)
{
    uint16_t gso;
    if (type != LX_UDP_SEGMENT || cmsg_len != CMSG_LEN(sizeof(gso)))
        return -EINVAL;
    memcpy(&gso, CMSG_DATA(c), sizeof(gso));
    return gso ? -EINVAL : 0;
}

/* Linux ip6_datagram_send_ctl, SOL_IPV6 part (RFC 3542 §6: ancillary
 * data on send). The extension-header messages (IPV6_HOPOPTS,
 * IPV6_DSTOPTS, IPV6_RTHDR, ...) are refused: netsock sends no extension
 * headers of the application's. */
static int cmsg_sol_ipv6(const struct cmsghdr *c, size_t cmsg_len, int type, struct sock_cmsg *out)
{
    int v;
    uint32_t flowinfo;
    switch (type) {
    case IPV6_PKTINFO:
    case LX_IPV6_2292PKTINFO:
        if (cmsg_len < CMSG_LEN(sizeof(out->pi6)))
            return -EINVAL;
        memcpy(&out->pi6, CMSG_DATA(c), sizeof(out->pi6));
        out->has_pi6 = true;
        return 0;
    case LX_IPV6_FLOWINFO:
        if (cmsg_len < CMSG_LEN(sizeof(flowinfo)))
            return -EINVAL;
        memcpy(&flowinfo, CMSG_DATA(c), sizeof(flowinfo));
        /* A flow label needs a lease (fl6_sock_lookup): netsock has no
         * flow label manager, so only label 0 goes. */
        return (ntohl(flowinfo) & 0xfffffu) ? -EINVAL : 0;
    case IPV6_HOPLIMIT:
    case LX_IPV6_2292HOPLIMIT:
    case IPV6_TCLASS:
        if (cmsg_len != CMSG_LEN(sizeof(int)))
            return -EINVAL;
        memcpy(&v, CMSG_DATA(c), sizeof(v));
        if (v < -1 || v > 0xff)
            return -EINVAL;
        if (type == IPV6_TCLASS)
            out->tclass6 = v;
        else
            out->hops6 = v;
        return 0;
    case IPV6_DONTFRAG:
        if (cmsg_len != CMSG_LEN(sizeof(int)))
            return -EINVAL;
        memcpy(&v, CMSG_DATA(c), sizeof(v));
        out->dontfrag6 = v != 0;
        return 0;
    default:
        return -EINVAL;
    }
}

int sock_cmsg_send(const struct msghdr *msg, enum sock_cmsg_kind kind, struct sock_cmsg *out)
{
    out->ttl = 0;
    out->tos = -1;
    out->pi_ifindex = 0;
    out->has_pi6 = false;
    out->hops6 = out->tclass6 = out->dontfrag6 = -1;
    bool ip6 = kind == SOCK_CMSG_RAW6 || kind == SOCK_CMSG_UDP_IP6;
    const char *base = msg->msg_control;
    size_t size = msg->msg_controllen, off = 0;
    /* for_each_cmsghdr: CMSG_FIRSTHDR, then __cmsg_nxthdr, each header
     * whole inside the buffer; a message must fit (CMSG_OK). */
    while (size >= sizeof(struct cmsghdr) && off <= size - sizeof(struct cmsghdr)) {
        const struct cmsghdr *c = (const struct cmsghdr *)(const void *)(base + off);
        struct cmsghdr h;
        memcpy(&h, c, sizeof(h));
        if (h.cmsg_len < sizeof(struct cmsghdr) || h.cmsg_len > size - off)
            return -EINVAL;
        int rc = 0;
        if (h.cmsg_level == SOL_SOCKET) {
            rc = cmsg_sol_socket(c, h.cmsg_len, h.cmsg_type);
        } else if (ip6) {
            /* ip6_datagram_send_ctl: only SOL_IPV6 besides SOL_SOCKET. */
            if (h.cmsg_level == IPPROTO_IPV6)
                rc = cmsg_sol_ipv6(c, h.cmsg_len, h.cmsg_type, out);
            else if (kind == SOCK_CMSG_UDP_IP6 && h.cmsg_level == IPPROTO_UDP)
                rc = cmsg_udp(c, h.cmsg_len, h.cmsg_type);
        } else if (kind != SOCK_CMSG_TCP && h.cmsg_level == IPPROTO_IP) {
            rc = cmsg_sol_ip(c, h.cmsg_len, h.cmsg_type, out);
        } else if (kind == SOCK_CMSG_UDP6 && h.cmsg_level == IPPROTO_IPV6 &&
                   h.cmsg_type == IPV6_PKTINFO) {
            /* Kept for the caller, who knows the destination's family:
             * over IPv4 it must be v4-mapped (ip_cmsg_send(allow_ipv6)),
             * over IPv6 a source of ours (ip6_datagram_send_ctl). */
            if (h.cmsg_len < CMSG_LEN(sizeof(out->pi6)))
                return -EINVAL;
            memcpy(&out->pi6, CMSG_DATA(c), sizeof(out->pi6));
            out->has_pi6 = true;
        } else if ((kind == SOCK_CMSG_UDP || kind == SOCK_CMSG_UDP6) &&
                   h.cmsg_level == IPPROTO_UDP) {
            rc = cmsg_udp(c, h.cmsg_len, h.cmsg_type);
        }
        if (rc < 0)
            return kind == SOCK_CMSG_TCP ? -EINVAL : rc;
        if (CMSG_ALIGN(h.cmsg_len) > size - off)
            break;
        off += CMSG_ALIGN(h.cmsg_len);
    }
    return 0;
}

int sock_cmsg_pktinfo6(struct ns_stack *st, const struct sock_cmsg *cm, int *oif,
                       struct ns_ip6_addr *src)
{
    if (!cm->has_pi6)
        return 0;
    int ifi = (int)cm->pi6.ipi6_ifindex;
    if (ifi) {
        if (*oif && ifi != *oif)
            return -EINVAL;
        *oif = ifi;
    }
    struct ns_ip6_addr a;
    memcpy(a.b, &cm->pi6.ipi6_addr, 16);
    if (*oif) {
        if (!ns_iface_get(st, *oif))
            return -ENODEV;
    } else if (ns_ip6_is_link_local(&a)) {
        return -EINVAL; /* a link-local source needs its interface */
    }
    if (!ns_ip6_is_unspecified(&a)) {
        if (!(ns_ip6_is_loopback(&a) || ip6_is_local(st, &a)))
            return -EINVAL;
        *src = a;
    }
    return 0;
}

void sock_ip6_out_opts(const struct ns_sock *so, const struct sock_cmsg *cm, struct ip6_out *o)
{
    bool mc = ns_ip6_is_multicast(&o->dst);
    int hops = cm->hops6 >= 0 ? cm->hops6 : mc ? so->mc_hops6 : so->hops6;
    if (hops >= 0) {
        o->hop_limit = (uint8_t)hops;
        o->hop_limit_set = true;
    } else if (mc) {
        o->hop_limit = 1; /* IPV6_DEFAULT_MCASTHOPS */
        o->hop_limit_set = true;
    }
    o->tclass = cm->tclass6 >= 0 ? (uint8_t)cm->tclass6 : so->tclass;
    o->dontfrag = cm->dontfrag6 > 0;
}

/* Append one control message; sets MSG_CTRUNC when it does not fit. */
static void put_cmsg(struct msghdr *msg, size_t *used, int level, int type, const void *data,
                     size_t len)
{
    size_t space = CMSG_SPACE(len);
    if (!msg->msg_control || *used + space > msg->msg_controllen) {
        msg->msg_flags |= MSG_CTRUNC;
        return;
    }
    struct cmsghdr *c = (struct cmsghdr *)(void *)((char *)msg->msg_control + *used);
    memset(c, 0, space);
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(c), data, len);
    *used += space;
}

ssize_t sock_dgram_recvmsg(struct ns_stack *st, struct ns_sock *so, struct msghdr *msg, int flags,
                           enum sock_dgram_data data_from)
{
    bool from_l3 = data_from == SOCK_DATA_IP;
    (void)st;
    struct ns_pbuf *pb = so->rxq.head;
    if (!pb)
        return -EAGAIN;
    const uint8_t *ip = pb->buf + pb->l3_off;
    /* Either version's header (RFC 8200 §3: the version nibble). */
    bool v6 = (ip[0] >> 4) == 6;
    struct ns_addr from, to;
    if (v6) {
        from = (struct ns_addr){.family = AF_INET6};
        to = (struct ns_addr){.family = AF_INET6};
        memcpy(from.u.b, ip + 8, 16);
        memcpy(to.u.b, ip + 24, 16);
    } else {
        from = ns_addr_ip4(ns_rd32(ip + 12));
        to = ns_addr_ip4(ns_rd32(ip + 16));
    }
    const uint8_t *data = from_l3 ? ip : ns_pbuf_data(pb);
    size_t dlen = from_l3 ? pb->len + (size_t)(pb->off - pb->l3_off) : pb->len;

    ssize_t fits = iov_scatter_len(msg, dlen);
    if (fits < 0) {
        if (!(flags & MSG_PEEK)) {
            ns_pbuf_queue_pop(&so->rxq); /* Linux: the datagram is dropped */
            so->rx_mem -= pb->cap;
            so->rx_drops++;
            ns_pbuf_free(pb);
        }
        return fits;
    }
    size_t copied = iov_scatter(msg, data, dlen);
    msg->msg_flags = 0;
    if (copied < dlen)
        msg->msg_flags |= MSG_TRUNC;
    if (msg->msg_name) {
        struct sockaddr_storage name;
        uint16_t port = data_from == SOCK_DATA_UDP ? ns_rd16(pb->buf + pb->l4_off) : 0;
        socklen_t len = sock_name(so, &from, port, &name);
        if (v6 && so->family == AF_INET6 && sock_in6_needs_scope(&from))
            ((struct sockaddr_in6 *)(void *)&name)->sin6_scope_id = pb->ifindex;
        socklen_t n = msg->msg_namelen < len ? msg->msg_namelen : len;
        memcpy(msg->msg_name, &name, n);
        msg->msg_namelen = len;
    }
    size_t cused = 0;
    /* ip6_datagram_recv_common_ctl: IPV6_PKTINFO first, its destination
     * v4-mapped for an IPv4 datagram, before the IPv4 control messages
     * (udpv6_recvmsg); an IPv6 datagram then brings the hop limit and the
     * traffic class when asked (ip6_datagram_recv_specific_ctl), and no
     * IPv4 ones. */
    if (so->family == AF_INET6 && (so->flags & SO_F_RECVPKTINFO6)) {
        struct in6_pktinfo pi6 = {.ipi6_ifindex = pb->ifindex};
        memcpy(&pi6.ipi6_addr, to.u.b, 16);
        put_cmsg(msg, &cused, IPPROTO_IPV6, IPV6_PKTINFO, &pi6, sizeof(pi6));
    }
    if (v6) {
        if (so->flags & SO_F_RECVHOPS6) {
            int hops = ip[7];
            put_cmsg(msg, &cused, IPPROTO_IPV6, IPV6_HOPLIMIT, &hops, sizeof(hops));
        }
        if (so->flags & SO_F_RECVTCLASS6) {
            int tc = (ip[0] & 0x0f) << 4 | ip[1] >> 4;
            put_cmsg(msg, &cused, IPPROTO_IPV6, IPV6_TCLASS, &tc, sizeof(tc));
        }
        goto cmsg_done;
    }
    if (so->flags & SO_F_PKTINFO) {
        struct in_pktinfo pi = {.ipi_ifindex = (int)pb->ifindex};
        pi.ipi_addr.s_addr = htonl(ns_addr_to_ip4(&to));
        pi.ipi_spec_dst.s_addr = pi.ipi_addr.s_addr;
        put_cmsg(msg, &cused, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
    }
    if (so->flags & SO_F_RECVTTL) {
        int ttl = ip[8];
        put_cmsg(msg, &cused, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
    }
    if (so->flags & SO_F_RECVTOS) {
        uint8_t tos = ip[1];
        put_cmsg(msg, &cused, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
    }
    if ((so->flags & SO_F_RECVORIGDST) && !from_l3) {
        /* Linux ip_cmsg_recv_dstaddr: the datagram's destination address
         * and port, what a transparent socket needs to answer from them. */
        struct sockaddr_in od = {.sin_family = AF_INET};
        od.sin_addr.s_addr = htonl(ns_addr_to_ip4(&to));
        od.sin_port = htons(ns_rd16(pb->buf + pb->l4_off + 2));
        put_cmsg(msg, &cused, IPPROTO_IP, IP_ORIGDSTADDR, &od, sizeof(od));
    }
cmsg_done:
    msg->msg_controllen = cused;

    if (!(flags & MSG_PEEK)) {
        ns_pbuf_queue_pop(&so->rxq);
        so->rx_mem -= pb->cap;
        ns_pbuf_free(pb);
    }
    /* MSG_TRUNC in flags: return the datagram's real length (Linux). */
    return (ssize_t)((flags & MSG_TRUNC) ? dlen : copied);
}

short sock_dgram_poll(struct ns_stack *st, struct ns_sock *so)
{
    (void)st;
    short m = 0;
    if (so->so_error)
        m |= POLLERR;
    if (so->flags & SO_F_SHUT_RD)
        m |= POLLRDHUP | POLLIN;
    if ((so->flags & (SO_F_SHUT_RD | SO_F_SHUT_WR)) == (SO_F_SHUT_RD | SO_F_SHUT_WR))
        m |= POLLHUP;
    if (so->rxq.head)
        m |= POLLIN;
    if (m & POLLIN)
        m |= POLLRDNORM;
    /* sock_writeable: sends complete at once here, so always writable,
     * even after shutdown(SHUT_WR) (Linux does not look at it). */
    m |= POLLOUT | POLLWRNORM | POLLWRBAND;
    return m;
}

int sock_icmp_err(uint8_t type, uint8_t code, bool *fatal)
{
    /* Linux icmp_err_convert[] (net/ipv4/icmp.c): errno and "fatal". */
    static const struct {
        uint8_t err, fatal;
    } unreach[16] = {
        {ENETUNREACH, 0},  /* 0 net unreachable */
        {EHOSTUNREACH, 0}, /* 1 host unreachable */
        {ENOPROTOOPT, 1},  /* 2 protocol unreachable */
        {ECONNREFUSED, 1}, /* 3 port unreachable */
        {EMSGSIZE, 0},     /* 4 fragmentation needed */
        {EOPNOTSUPP, 0},   /* 5 source route failed */
        {ENETUNREACH, 1},  /* 6 net unknown */
        {EHOSTDOWN, 1},    /* 7 host unknown */
        {ENONET, 1},       /* 8 source host isolated */
        {ENETUNREACH, 1},  /* 9 net prohibited */
        {EHOSTUNREACH, 1}, /* 10 host prohibited */
        {ENETUNREACH, 0},  /* 11 net unreachable for TOS */
        {EHOSTUNREACH, 0}, /* 12 host unreachable for TOS */
        {EHOSTUNREACH, 1}, /* 13 communication prohibited */
        {EHOSTUNREACH, 1}, /* 14 host precedence violation */
        {EHOSTUNREACH, 1}, /* 15 precedence cut-off */
    };
    *fatal = false;
    if (type == NS_ICMP_DEST_UNREACH) {
        if (code >= 16)
            return EHOSTUNREACH;
        *fatal = unreach[code].fatal;
        return unreach[code].err;
    }
    if (type == NS_ICMP_TIME_EXCEEDED)
        return EHOSTUNREACH;
    if (type == NS_ICMP_PARAM_PROB) {
        *fatal = true;
        return EPROTO;
    }
    return 0;
}

int sock_icmp6_err(uint8_t type, uint8_t code, bool *fatal)
{
    /* Linux tab_unreach[] (net/ipv6/icmp.c), by RFC 4443 §3.1 code. */
    static const struct {
        uint8_t err, fatal;
    } unreach[7] = {
        {ENETUNREACH, 0},  /* 0 no route to destination */
        {EACCES, 1},       /* 1 administratively prohibited */
        {EHOSTUNREACH, 0}, /* 2 beyond the scope of the source address */
        {EHOSTUNREACH, 0}, /* 3 address unreachable */
        {ECONNREFUSED, 1}, /* 4 port unreachable */
        {EACCES, 1},       /* 5 source address failed policy */
        {EACCES, 1},       /* 6 reject route */
    };
    *fatal = false;
    switch (type) {
    case NS_ICMP6_DEST_UNREACH:
        if (code >= 7) {
            *fatal = true;
            return EPROTO;
        }
        *fatal = unreach[code].fatal;
        return unreach[code].err;
    case NS_ICMP6_PACKET_TOO_BIG:
        return EMSGSIZE;
    case NS_ICMP6_TIME_EXCEEDED:
        return EHOSTUNREACH;
    case NS_ICMP6_PARAM_PROB:
        *fatal = true;
        return EPROTO;
    default:
        return 0;
    }
}

int sock_dgram_shutdown(struct ns_stack *st, struct ns_sock *so, int how)
{
    (void)st;
    if (how == SHUT_RD || how == SHUT_RDWR)
        so->flags |= SO_F_SHUT_RD;
    if (how == SHUT_WR || how == SHUT_RDWR)
        so->flags |= SO_F_SHUT_WR;
    /* inet_shutdown: an unconnected datagram socket is "not connected",
     * yet the shutdown still takes effect. */
    return (so->flags & SO_F_CONNECTED) ? 0 : -ENOTCONN;
}

const char *sock_dgram_state(const struct ns_sock *so)
{
    return (so->flags & SO_F_CONNECTED) ? "ESTAB" : "UNCONN";
}
