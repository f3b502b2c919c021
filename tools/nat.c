/* tools/nat.c — `netsock nat`: user-mode networking for a network
 * namespace (the job of slirp4netns), docs/nat.md.
 *
 *   netsock nat [--configure] [--cidr 10.0.2.0/24] [--mtu 1500] NETNS TAPNAME
 *
 * TAPNAME is made inside NETNS (setns there, /dev/net/tun opened, setns
 * back); a netsock stack is the guest's gateway (.2) and DNS server (.3)
 * on it; everything the guest sends elsewhere is taken by the stack's
 * catch-all sockets (IP_TRANSPARENT, netsock/socket.h) and re-made as
 * ordinary kernel sockets in the namespace nat runs in:
 *
 *   TCP   the guest's SYN is held (NS_TCP_DEFER_SYNACK) until the host
 *         socket's connect() ends: SYN,ACK when it connected, RST when
 *         refused, ICMP unreachable when the destination cannot be
 *         reached; then bytes both ways through one buffer each way,
 *         half-closes (shutdown SHUT_WR) and resets carried across.
 *   UDP   one host socket per guest address and port (endpoint-
 *         independent mapping, RFC 4787 REQ-1), idle timeout 120 s (REQ-5
 *         asks for at least 2 minutes); .3:53 goes to the first resolver
 *         of resolv.conf; ICMP errors on the host socket (IP_RECVERR) go
 *         back to the guest quoting its own datagram.
 *   ICMP  echo requests through unprivileged ping sockets, one per guest
 *         address and identifier, so only a live destination answers.
 *
 * Every pair is an entry of the connection tracking table (struct ct),
 * bounded by --max-conns (the oldest idle UDP or ICMP mapping goes first
 * when it is full), listed by `netsock stat --conntrack`.
 *
 * One thread, one loop: the netsock stack's real-time loop (ns_loop)
 * watches the TAP, each kernel socket (ns_loop_add_fd, edge-triggered)
 * and the netsock epoll set's descriptor (ns_epoll_fd).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/errqueue.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cli.h"
#include "apisock.h"
#include "ctl.h"
#include "dhcpd.h"
#include "hostfwd.h"
#include "link.h"
#include "nat.h"
#include "netsock/epoll.h"
#include "netsock/os.h"
#include "netsock/socket.h"
#include "textbuf.h"
#include "tools.h"
#include "wire/bytes.h"
#include "wire/wire.h"

#define NAT_MTU_MAX 65520u          /* slirp4netns's ceiling */
#define NAT_MAX_CONNS_DEFAULT 4096u
#define NAT_MAX_CONNS_MAX 1048576u
#define NAT_UDP_TIMEOUT_S 120u      /* RFC 4787 REQ-5: at least 2 minutes */
#define NAT_ICMP_TIMEOUT_S 60u      /* RFC 5508 REQ-1: at least 60 s for echo */
#define NAT_TCP_BUF (256u * 1024u)  /* bytes buffered each way per TCP connection */
#define NAT_PREFIX_MAX 32u          /* --allow / --deny prefixes each */
#define NAT_FORWARDS_MAX 64u        /* --forward options */

/* Refusals and drops, each counted (docs/nat.md "Counters"). */
#define NAT_COUNTERS(X)                                                                   \
    X(tcp_opened, "TCP connections relayed (the host connect succeeded)")                 \
    X(tcp_refused_by_host, "TCP connects the destination refused: RST to the guest")      \
    X(tcp_unreachable, "TCP connects that failed otherwise: ICMP unreachable to the guest") \
    X(tcp_resets, "TCP connections ended by a reset from either side")                    \
    X(udp_mappings, "UDP mappings made")                                                  \
    X(udp_expired, "UDP and ICMP mappings expired idle")                                  \
    X(udp_evicted, "UDP and ICMP mappings evicted to make room (table full)")             \
    X(udp_dropped, "guest UDP datagrams dropped (no socket, a send error)")               \
    X(icmp_errors_in, "ICMP errors from host sockets translated to the guest")            \
    X(icmp_echo_mappings, "ICMP echo mappings made")                                      \
    X(icmp_unavailable, "echo requests dropped: no ping socket (net.ipv4.ping_group_range)") \
    X(refused_policy, "guest flows refused by --allow / --deny")                          \
    X(refused_host_loopback, "guest flows to the gateway refused: --disable-host-loopback") \
    X(refused_table_full, "guest flows refused: the table is full of TCP connections")     \
    X(refused_in_cidr, "guest flows to an unused address of the virtual network")         \
    X(refused_no_socket, "guest flows refused: no host socket (socket() or bind() failed)") \
    X(fwd_opened, "forwarded host connections the guest accepted")                   \
    X(fwd_refused_by_guest, "forwarded host connections the guest refused: RST to the client") \
    X(fwd_refused, "forwarded host connections or datagrams refused: table full, no socket")

enum nat_counter {
#define NAT_ENUM(name, desc) NATC_##name,
    NAT_COUNTERS(NAT_ENUM)
#undef NAT_ENUM
        NATC__COUNT
};
static const char *const nat_counter_names[] = {
#define NAT_NAME(name, desc) #name,
    NAT_COUNTERS(NAT_NAME)
#undef NAT_NAME
};

/* CT_UDPIN: a host client of a UDP forward and the netsock socket (on the
 * gateway's address) that stands for it towards the guest. */
enum ct_kind { CT_TCP, CT_UDP, CT_ICMP, CT_UDPIN };
/* CT_CONNECTING: the host connect of a guest's connection is under way;
 * CT_INBOUND: a forwarded host connection waits for the guest's accept. */
enum ct_state { CT_CONNECTING, CT_INBOUND, CT_ESTAB, CT_MAPPED };

struct buf {
    uint8_t *p;
    uint32_t off, len; /* bytes p[off, off+len) wait to be sent */
};

/* One tracked socket pair: the guest's (gsrc -> gdst) and the host
 * socket's (hlocal -> hremote). */
struct ct {
    struct ct *prev, *next; /* nat.all, least recently used first */
    struct ct *hnext;       /* UDP/ICMP: the key hash chain */
    struct nat *nat;
    uint8_t kind, state;
    bool dns;               /* UDP: sent to the gateway's DNS address */
    struct sockaddr_in gsrc, gdst, hlocal, hremote;
    uint16_t gid;           /* ICMP: the guest's echo identifier */
    int hfd;                /* the host (kernel) socket */
    int gfd;                /* TCP, UDPIN: the guest-side netsock socket */
    struct fwd *fwd;        /* UDPIN: its forward (whose socket hfd is not ours) */
    uint64_t bytes_out, bytes_in; /* guest -> host, host -> guest */
    uint64_t created_us, last_us;
    /* TCP: readiness seen (edge-triggered) and the close handshake. */
    bool g_rd, g_wr, h_rd, h_wr;
    bool g_eof, h_eof, g_shut, h_shut;
    struct buf gh, hg;
};

#define CT_HASH 4096u

struct nat {
    struct ns_stack *st;
    struct ns_loop *loop;
    int ep;                 /* netsock epoll set */
    int tl, ul, raw, ricmp; /* catch-all TCP, UDP; raw output; raw ICMP input */
    int tfd;                /* timerfd: expiry once a second */
    char tag_tl, tag_ul, tag_ricmp; /* epoll data of the netsock sockets that are not pairs */
    uint32_t net, mask, gw, dns, guest; /* host order */
    unsigned mtu;           /* the TAP's */
    uint16_t ip_id;         /* identification of the fragments we make */
    struct sockaddr_in resolver;
    bool host_loopback;
    unsigned max_conns, n_conns;
    unsigned udp_timeout_s;
    struct { uint32_t net, mask; } allow[NAT_PREFIX_MAX], deny[NAT_PREFIX_MAX];
    unsigned n_allow, n_deny;
    struct ct *all_head, *all_tail;
    struct ct *hash[CT_HASH];
    uint64_t ctr[NATC__COUNT];
    bool warned_ping;
    const char *name;
    struct hostfwd_table fwds; /* the forwards, as the API socket lists them */
    struct fwd *fwd_list;      /* and their listeners */
    struct dhcpd *dhcp;
    char tag_dhcp;
    uint8_t pkt[65536];     /* packets built for the guest */
};

static void ct_free(struct ct *c);

/* ---- the table ------------------------------------------------------------------------ */

static uint32_t ct_key(uint8_t kind, uint32_t addr, uint16_t port)
{
    uint32_t h = addr * 2654435761u ^ ((uint32_t)port << 8 | kind) * 40503u;
    return (h ^ h >> 15) & (CT_HASH - 1);
}

static void lru_unlink(struct nat *n, struct ct *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        n->all_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        n->all_tail = c->prev;
    c->prev = c->next = NULL;
}

static void lru_append(struct nat *n, struct ct *c)
{
    c->prev = n->all_tail;
    c->next = NULL;
    if (n->all_tail)
        n->all_tail->next = c;
    else
        n->all_head = c;
    n->all_tail = c;
}

/* c was used now: to the tail of the LRU list. */
static void ct_touch(struct ct *c)
{
    c->last_us = ns_clock_now_us();
    if (c->nat->all_tail != c) {
        lru_unlink(c->nat, c);
        lru_append(c->nat, c);
    }
}

/* The UDP or ICMP mapping of a guest address and port (or identifier). */
static struct ct *ct_find(struct nat *n, uint8_t kind, uint32_t addr_be, uint16_t port)
{
    for (struct ct *c = n->hash[ct_key(kind, addr_be, port)]; c; c = c->hnext)
        if (c->kind == kind && c->gsrc.sin_addr.s_addr == addr_be &&
            (kind == CT_ICMP ? c->gid == port : c->gsrc.sin_port == port))
            return c;
    return NULL;
}

/* Room for one more entry: when full, the least recently used UDP or
 * ICMP mapping goes (TCP connections are never evicted). */
static bool ct_room(struct nat *n)
{
    if (n->n_conns < n->max_conns)
        return true;
    for (struct ct *c = n->all_head; c; c = c->next) {
        if (c->kind != CT_TCP) {
            n->ctr[NATC_udp_evicted]++;
            ct_free(c);
            return true;
        }
    }
    return false;
}

static struct ct *ct_new(struct nat *n, uint8_t kind)
{
    struct ct *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->nat = n;
    c->kind = kind;
    c->hfd = c->gfd = -1;
    c->created_us = c->last_us = ns_clock_now_us();
    lru_append(n, c);
    n->n_conns++;
    return c;
}

/* The key c is hashed under: the guest's address and port (identifier
 * for ICMP); for UDPIN the host client's. */
static uint32_t ct_key_of(const struct ct *c)
{
    if (c->kind == CT_UDPIN)
        return ct_key(c->kind, c->hremote.sin_addr.s_addr, c->hremote.sin_port);
    return ct_key(c->kind, c->gsrc.sin_addr.s_addr,
                  c->kind == CT_ICMP ? c->gid : c->gsrc.sin_port);
}

static void ct_hash_add(struct ct *c)
{
    struct ct **b = &c->nat->hash[ct_key_of(c)];
    c->hnext = *b;
    *b = c;
}

static void ct_free(struct ct *c)
{
    struct nat *n = c->nat;
    if (c->kind != CT_TCP) {
        for (struct ct **pp = &n->hash[ct_key_of(c)]; *pp; pp = &(*pp)->hnext)
            if (*pp == c) {
                *pp = c->hnext;
                break;
            }
    }
    if (c->hfd >= 0) {
        ns_loop_del_fd(n->loop, c->hfd);
        close(c->hfd);
    }
    if (c->gfd >= 0)
        ns_close(n->st, c->gfd);
    lru_unlink(n, c);
    n->n_conns--;
    free(c->gh.p);
    free(c->hg.p);
    free(c);
}

/* ---- policy ----------------------------------------------------------------------------- */

static bool in_prefixes(const struct nat *n, bool deny, uint32_t a)
{
    unsigned cnt = deny ? n->n_deny : n->n_allow;
    for (unsigned i = 0; i < cnt; i++) {
        uint32_t net = deny ? n->deny[i].net : n->allow[i].net;
        uint32_t mask = deny ? n->deny[i].mask : n->allow[i].mask;
        if ((a & mask) == net)
            return true;
    }
    return false;
}

/* Where a guest flow to dst goes on the host (dst rewritten: the gateway
 * is the host's loopback, .3:53 the resolver), or false when it is
 * refused (counted). *dns says the DNS rewrite applied. */
static bool nat_route(struct nat *n, struct sockaddr_in *dst, bool *dns)
{
    uint32_t a = ntohl(dst->sin_addr.s_addr);
    *dns = false;
    if (a == n->dns && ntohs(dst->sin_port) == 53 && n->resolver.sin_family) {
        *dst = n->resolver;
        *dns = true;
        return true;
    }
    if (a == n->gw) {
        if (!n->host_loopback) {
            n->ctr[NATC_refused_host_loopback]++;
            return false;
        }
        dst->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return true;
    }
    if ((a & n->mask) == n->net) {
        n->ctr[NATC_refused_in_cidr]++;
        return false;
    }
    if (in_prefixes(n, true, a) || (n->n_allow && !in_prefixes(n, false, a))) {
        n->ctr[NATC_refused_policy]++;
        return false;
    }
    return true;
}

/* The address a reply from host address `from` shows to the guest: the
 * gateway for the host's loopback, else itself. */
static uint32_t guest_view(const struct nat *n, const struct ct *c, struct sockaddr_in *from)
{
    if (c->dns && from->sin_addr.s_addr == n->resolver.sin_addr.s_addr &&
        from->sin_port == n->resolver.sin_port)
        return htonl(n->dns);
    if ((ntohl(from->sin_addr.s_addr) >> 24) == 127)
        return htonl(n->gw);
    return from->sin_addr.s_addr;
}

/* ---- packets to the guest (raw IP_HDRINCL on the stack) ---------------------------------- */

/* Write a 20-byte IPv4 header for proto with payload_len bytes after it. */
static void ip_header(uint8_t *p, uint32_t src_be, uint32_t dst_be, uint8_t proto,
                      size_t payload_len)
{
    struct ns_ip4_repr ip = {
        .hlen = NS_IP4_HLEN, .total_len = (uint16_t)(NS_IP4_HLEN + payload_len), .ttl = 64,
        .proto = proto, .src = ntohl(src_be), .dst = ntohl(dst_be),
    };
    ns_ip4_emit(&ip, p);
}

/* Send IPv4 packet pkt (20-byte header at pkt, total len bytes) to the
 * guest. Raw IP_HDRINCL sockets do not fragment (EMSGSIZE, as Linux), so
 * a packet above the TAP's MTU goes as fragments here (RFC 791 §3.2:
 * 8-byte multiples, one identification, MF on all but the last). */
static void emit(struct nat *n, uint8_t *pkt, size_t len, uint32_t dst_be)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = dst_be};
    if (len <= n->mtu) {
        if (ns_sendto(n->st, n->raw, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
            n->ctr[NATC_udp_dropped]++;
        return;
    }
    struct ns_ip4_repr ip;
    if (ns_ip4_parse(pkt, len, &ip, false) < 0)
        return;
    size_t chunk = (n->mtu - NS_IP4_HLEN) & ~(size_t)7, data = len - NS_IP4_HLEN;
    uint8_t frag[NS_IP4_HLEN + 65536];
    ip.id = ++n->ip_id;
    for (size_t off = 0; off < data; off += chunk) {
        size_t k = data - off < chunk ? data - off : chunk;
        ip.frag_off = (uint16_t)off;
        ip.mf = off + k < data;
        ip.total_len = (uint16_t)(NS_IP4_HLEN + k);
        ns_ip4_emit(&ip, frag);
        memcpy(frag + NS_IP4_HLEN, pkt + NS_IP4_HLEN + off, k);
        if (ns_sendto(n->st, n->raw, frag, NS_IP4_HLEN + k, 0, (struct sockaddr *)&to,
                      sizeof(to)) < 0) {
            n->ctr[NATC_udp_dropped]++;
            return;
        }
    }
}

/* The UDP checksum over the pseudo-header and the datagram at u. */
static uint16_t udp_csum(uint32_t src_be, uint32_t dst_be, const uint8_t *u, size_t len)
{
    uint16_t c = ns_csum_fold(
        ns_csum_add(ns_csum_pseudo4(ntohl(src_be), ntohl(dst_be), NS_IPPROTO_UDP, (uint16_t)len),
                    u, len));
    return c ? c : 0xffff; /* RFC 768: a computed zero goes as all ones */
}

/* A UDP datagram from src (addr and port, network order) to the guest. */
static void emit_udp(struct nat *n, uint32_t src_be, uint16_t sport_be, const struct ct *c,
                     const uint8_t *data, size_t len)
{
    if (len > sizeof(n->pkt) - NS_IP4_HLEN - NS_UDP_HLEN)
        return;
    uint8_t *u = n->pkt + NS_IP4_HLEN;
    memcpy(u, &sport_be, 2);
    memcpy(u + 2, &c->gsrc.sin_port, 2);
    ns_wr16(u + 4, (uint16_t)(NS_UDP_HLEN + len));
    ns_wr16(u + 6, 0);
    memcpy(u + NS_UDP_HLEN, data, len);
    ns_wr16(u + 6, udp_csum(src_be, c->gsrc.sin_addr.s_addr, u, NS_UDP_HLEN + len));
    ip_header(n->pkt, src_be, c->gsrc.sin_addr.s_addr, NS_IPPROTO_UDP, NS_UDP_HLEN + len);
    emit(n, n->pkt, NS_IP4_HLEN + NS_UDP_HLEN + len, c->gsrc.sin_addr.s_addr);
}

/* An ICMP message (header fields type, code, rest; then body) from src to
 * the guest dst. */
static void emit_icmp(struct nat *n, uint32_t src_be, uint32_t dst_be, uint8_t type, uint8_t code,
                      uint32_t rest, const uint8_t *body, size_t len)
{
    if (len > sizeof(n->pkt) - NS_IP4_HLEN - 8)
        return;
    uint8_t *m = n->pkt + NS_IP4_HLEN;
    m[0] = type;
    m[1] = code;
    ns_wr16(m + 2, 0);
    ns_wr32(m + 4, rest);
    memcpy(m + 8, body, len);
    ns_wr16(m + 2, ns_csum_fold(ns_csum_add(0, m, 8 + len)));
    ip_header(n->pkt, src_be, dst_be, NS_IPPROTO_ICMP, 8 + len);
    emit(n, n->pkt, NS_IP4_HLEN + 8 + len, dst_be);
}

/* An ICMP error from the host socket of c (IP_RECVERR) for the guest:
 * same type and code, from the router that sent it (the gateway when it
 * was the host's loopback), quoting the guest's own datagram as the
 * guest sent it (RFC 792: its IP header and at least 64 bits of data). */
static void translate_error(struct nat *n, struct ct *c)
{
    uint8_t data[576];
    char ctl[512];
    struct sockaddr_in orig;
    struct iovec iov = {data, sizeof(data)};
    struct msghdr m = {.msg_name = &orig, .msg_namelen = sizeof(orig), .msg_iov = &iov,
                       .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    for (;;) {
        ssize_t len = recvmsg(c->hfd, &m, MSG_ERRQUEUE | MSG_DONTWAIT);
        if (len < 0)
            return;
        struct sock_extended_err *ee = NULL;
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
            if (h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_RECVERR)
                ee = (struct sock_extended_err *)CMSG_DATA(h);
        if (!ee || ee->ee_origin != SO_EE_ORIGIN_ICMP)
            continue; /* a local error (EMSGSIZE ...): nothing for the guest */
        const struct sockaddr_in *off = (const struct sockaddr_in *)SO_EE_OFFENDER(ee);
        struct sockaddr_in from = *off;
        uint32_t src = off->sin_family == AF_INET ? guest_view(n, c, &from) : orig.sin_addr.s_addr;
        /* The guest's datagram, rebuilt: its header, then what it sent. */
        uint8_t q[NS_IP4_HLEN + 8 + 64];
        size_t qd = (size_t)len < 64 ? (size_t)len : 64;
        uint32_t gdst = guest_view(n, c, &orig);
        if (c->kind == CT_UDP) {
            memcpy(q + NS_IP4_HLEN, &c->gsrc.sin_port, 2);
            memcpy(q + NS_IP4_HLEN + 2, c->dns ? &(uint16_t){htons(53)} : &orig.sin_port, 2);
            ns_wr16(q + NS_IP4_HLEN + 4, (uint16_t)(NS_UDP_HLEN + len));
            ns_wr16(q + NS_IP4_HLEN + 6, 0);
            memcpy(q + NS_IP4_HLEN + 8, data, qd);
            ip_header(q, c->gsrc.sin_addr.s_addr, gdst, NS_IPPROTO_UDP, NS_UDP_HLEN + (size_t)len);
        } else {
            qd = (size_t)len < 8 + 64 ? (size_t)len : 8 + 64;
            memcpy(q + NS_IP4_HLEN, data, qd);
            if (qd >= 8)
                ns_wr16(q + NS_IP4_HLEN + 4, c->gid);
            qd = qd >= 8 ? qd - 8 : 0;
            ip_header(q, c->gsrc.sin_addr.s_addr, gdst, NS_IPPROTO_ICMP, (size_t)len);
        }
        n->ctr[NATC_icmp_errors_in]++;
        uint32_t rest = ee->ee_type == ICMP_DEST_UNREACH && ee->ee_code == ICMP_FRAG_NEEDED
                            ? ee->ee_info & 0xffff
                            : 0;
        emit_icmp(n, src, c->gsrc.sin_addr.s_addr, ee->ee_type, ee->ee_code, rest, q,
                  NS_IP4_HLEN + 8 + qd);
    }
}

/* ---- TCP ------------------------------------------------------------------------------------ */

static void tcp_abort(struct ct *c)
{
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->hfd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    ns_setsockopt(c->nat->st, c->gfd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    c->nat->ctr[NATC_tcp_resets]++;
    ct_free(c);
}

/* Room at the end of b (its bytes moved to the front when that makes
 * some): false when it is full. */
static bool buf_room(struct buf *b)
{
    if (b->len == 0)
        b->off = 0;
    if (b->off + b->len == NAT_TCP_BUF && b->off > 0) {
        memmove(b->p, b->p + b->off, b->len);
        b->off = 0;
    }
    return b->off + b->len < NAT_TCP_BUF;
}

/* One end of a relayed connection: the guest's netsock socket, or the
 * host's kernel socket. */
static ssize_t end_recv(struct ct *c, bool guest, void *p, size_t n)
{
    return guest ? ns_recv(c->nat->st, c->gfd, p, n, 0) : recv(c->hfd, p, n, 0);
}

static ssize_t end_send(struct ct *c, bool guest, const void *p, size_t n)
{
    return guest ? ns_send(c->nat->st, c->gfd, p, n, 0) : send(c->hfd, p, n, MSG_NOSIGNAL);
}

static void end_shut_wr(struct ct *c, bool guest)
{
    if (guest)
        ns_shutdown(c->nat->st, c->gfd, SHUT_WR);
    else
        shutdown(c->hfd, SHUT_WR);
}

/* One direction of c: read from one end (the guest's when from_guest)
 * into b while it has room, write b out to the other end, and pass the
 * end of stream on once b is empty (a FIN for a FIN). rd/eof are the
 * reading end's, wr/shut the writing end's; count adds the bytes read.
 * Returns whether anything moved, or -1 when an error on either end
 * reset the connection (tcp_abort: c is gone). */
static int tcp_pump_dir(struct ct *c, bool from_guest, struct buf *b, bool *rd, bool *eof,
                        bool *wr, bool *shut, uint64_t *count)
{
    bool progress = false;
    while (*rd && !*eof && buf_room(b)) {
        uint32_t end = b->off + b->len;
        ssize_t r = end_recv(c, from_guest, b->p + end, NAT_TCP_BUF - end);
        if (r > 0) {
            b->len += (uint32_t)r;
            *count += (uint64_t)r;
            progress = true;
        } else if (r == 0) {
            *eof = true;
        } else if (errno == EAGAIN) {
            *rd = false;
        } else {
            tcp_abort(c); /* one side reset: reset the other */
            return -1;
        }
    }
    while (b->len && *wr) {
        ssize_t w = end_send(c, !from_guest, b->p + b->off, b->len);
        if (w > 0) {
            b->off += (uint32_t)w;
            b->len -= (uint32_t)w;
            progress = true;
        } else if (w < 0 && errno == EAGAIN) {
            *wr = false;
        } else {
            tcp_abort(c);
            return -1;
        }
    }
    if (*eof && !b->len && !*shut) {
        end_shut_wr(c, !from_guest); /* the reading end's FIN */
        *shut = true;
    }
    return progress;
}

/* Move what can move, both ways; free c when both directions are closed
 * (or reset). Edge-triggered: each side's readiness stays noted until an
 * operation says EAGAIN. */
static void tcp_pump(struct ct *c)
{
    int moved;
    do {
        int out = tcp_pump_dir(c, true, &c->gh, &c->g_rd, &c->g_eof, &c->h_wr, &c->h_shut,
                               &c->bytes_out);
        if (out < 0)
            return;
        int in = tcp_pump_dir(c, false, &c->hg, &c->h_rd, &c->h_eof, &c->g_wr, &c->g_shut,
                              &c->bytes_in);
        if (in < 0)
            return;
        moved = out || in;
    } while (moved);
    if (c->g_shut && c->h_shut) {
        ct_free(c); /* both FINs went across: an orderly close each side */
        return;
    }
    ct_touch(c);
}

static void tcp_start(struct ct *c);

/* The host connect of c ended (writable or in error): the verdict on the
 * guest's held SYN, as the destination answered. */
static void tcp_connected(struct ct *c)
{
    struct nat *n = c->nat;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(c->hfd, SOL_SOCKET, SO_ERROR, &err, &len);
    int verdict = NS_SYNACK_ACCEPT;
    if (err == ECONNREFUSED) {
        verdict = NS_SYNACK_RESET;
        n->ctr[NATC_tcp_refused_by_host]++;
    } else if (err == ENETUNREACH) {
        verdict = NS_SYNACK_UNREACH(ICMP_NET_UNREACH);
        n->ctr[NATC_tcp_unreachable]++;
    } else if (err) {
        verdict = NS_SYNACK_UNREACH(ICMP_HOST_UNREACH); /* EHOSTUNREACH, ETIMEDOUT */
        n->ctr[NATC_tcp_unreachable]++;
    }
    if (ns_setsockopt(n->st, c->gfd, IPPROTO_TCP, NS_TCP_SYNACK_VERDICT, &verdict,
                      sizeof(verdict)) < 0 ||
        verdict != NS_SYNACK_ACCEPT) {
        ct_free(c);
        return;
    }
    n->ctr[NATC_tcp_opened]++;
    /* Keepalive on both sides (Linux's timers: 2 h idle): a peer that
     * died without a word is found on its side, and the reset that ends
     * that socket is carried to the other. */
    int one = 1;
    setsockopt(c->hfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    ns_setsockopt(n->st, c->gfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    len = sizeof(c->hlocal);
    getsockname(c->hfd, (struct sockaddr *)&c->hlocal, &len);
    c->h_wr = c->h_rd = true;
    tcp_start(c);
}

static void on_host_tcp(void *ctx, int fd, uint32_t ev)
{
    (void)fd;
    struct ct *c = ctx;
    if (c->state == CT_CONNECTING) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            tcp_connected(c);
        return;
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->h_rd = true;
    if (ev & (EPOLLOUT | EPOLLERR))
        c->h_wr = true;
    if (c->state == CT_ESTAB)
        tcp_pump(c);
}

/* Both sides of c are connected: the buffers, then data. */
static void tcp_start(struct ct *c)
{
    c->gh.p = malloc(NAT_TCP_BUF);
    c->hg.p = malloc(NAT_TCP_BUF);
    if (!c->gh.p || !c->hg.p) {
        tcp_abort(c);
        return;
    }
    c->state = CT_ESTAB;
    tcp_pump(c);
}

static void on_guest_tcp(struct ct *c, uint32_t ev)
{
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->g_rd = true;
    if (ev & (EPOLLOUT | EPOLLERR))
        c->g_wr = true;
    if (c->state == CT_ESTAB) {
        tcp_pump(c);
    } else if (c->state == CT_INBOUND && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        /* The guest answered the forwarded connection. */
        int err = 0;
        socklen_t len = sizeof(err);
        ns_getsockopt(c->nat->st, c->gfd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            c->nat->ctr[NATC_fwd_refused_by_guest]++;
            tcp_abort(c); /* the host's client gets a RST, as from a closed port */
            return;
        }
        len = sizeof(c->gsrc);
        ns_getsockname(c->nat->st, c->gfd, (struct sockaddr *)&c->gsrc, &len);
        c->nat->ctr[NATC_fwd_opened]++;
        c->g_rd = c->g_wr = c->h_rd = c->h_wr = true; /* each tried until EAGAIN */
        tcp_start(c);
    } else if (ev & (EPOLLERR | EPOLLHUP)) {
        ct_free(c); /* the guest gave up (its RST) before the host connected */
    }
}

/* Refuse held connection g with verdict v and close it. */
static void refuse(struct nat *n, int g, int v)
{
    ns_setsockopt(n->st, g, IPPROTO_TCP, NS_TCP_SYNACK_VERDICT, &v, sizeof(v));
    ns_close(n->st, g);
}

/* The catch-all listener is readable: each held connection gets a host
 * socket connecting to where the guest wanted to go. */
static void on_accept(struct nat *n)
{
    for (;;) {
        struct sockaddr_in peer, dst;
        socklen_t pl = sizeof(peer), dl = sizeof(dst);
        int g = ns_accept4(n->st, n->tl, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK);
        if (g < 0)
            return;
        ns_getsockname(n->st, g, (struct sockaddr *)&dst, &dl);
        struct sockaddr_in to = dst;
        bool dns;
        if (!nat_route(n, &to, &dns)) {
            refuse(n, g, NS_SYNACK_UNREACH(ICMP_PKT_FILTERED)); /* 13: administratively prohibited */
            continue;
        }
        if (!ct_room(n)) {
            n->ctr[NATC_refused_table_full]++;
            refuse(n, g, NS_SYNACK_RESET);
            continue;
        }
        int h = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (h < 0) {
            n->ctr[NATC_refused_no_socket]++;
            refuse(n, g, NS_SYNACK_RESET);
            continue;
        }
        struct ct *c = ct_new(n, CT_TCP);
        if (!c) {
            close(h);
            refuse(n, g, NS_SYNACK_RESET);
            continue;
        }
        c->gfd = g;
        c->hfd = h;
        c->gsrc = peer;
        c->gdst = dst;
        c->hremote = to;
        c->state = CT_CONNECTING;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        ns_epoll_ctl(n->st, n->ep, EPOLL_CTL_ADD, g, &ev);
        if (connect(h, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EINPROGRESS) {
            /* Failed at once (no route): the same verdicts as later. */
            int err = errno;
            int v = err == ECONNREFUSED   ? NS_SYNACK_RESET
                    : err == ENETUNREACH ? NS_SYNACK_UNREACH(ICMP_NET_UNREACH)
                                         : NS_SYNACK_UNREACH(ICMP_HOST_UNREACH);
            n->ctr[v == NS_SYNACK_RESET ? NATC_tcp_refused_by_host : NATC_tcp_unreachable]++;
            ns_setsockopt(n->st, g, IPPROTO_TCP, NS_TCP_SYNACK_VERDICT, &v, sizeof(v));
            ct_free(c);
            continue;
        }
        if (ns_loop_add_fd(n->loop, h, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, on_host_tcp, c) <
            0) {
            ct_free(c);
            continue;
        }
    }
}

/* ---- UDP -------------------------------------------------------------------------------------- */

static void on_host_udp(void *ctx, int fd, uint32_t ev)
{
    struct ct *c = ctx;
    struct nat *n = c->nat;
    if (ev & EPOLLERR)
        translate_error(n, c);
    static uint8_t data[65536];
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t len = recvfrom(fd, data, sizeof(data), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (len < 0) {
            if (errno == EAGAIN)
                break;
            translate_error(n, c); /* an error queued: ECONNREFUSED & co */
            continue;
        }
        uint32_t src = guest_view(n, c, &from);
        uint16_t sport = c->dns && src == htonl(n->dns) ? htons(53) : from.sin_port;
        c->bytes_in += (uint64_t)len;
        c->hremote = from;
        emit_udp(n, src, sport, c, data, (size_t)len);
    }
    ct_touch(c);
}

/* A host socket of kind for a new mapping (UDP, or a ping socket), with
 * IP_RECVERR, watched by the loop; -1 (counted) when it cannot be made. */
static int host_dgram(struct nat *n, struct ct *c, int proto, ns_loop_fd_fn cb)
{
    int h = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (h < 0) {
        if (proto == IPPROTO_ICMP) {
            n->ctr[NATC_icmp_unavailable]++;
            if (!n->warned_ping)
                fprintf(stderr, "netsock nat: no ping socket (%s): echo requests are dropped; "
                                "see net.ipv4.ping_group_range\n", strerror(errno));
            n->warned_ping = true;
        } else {
            n->ctr[NATC_refused_no_socket]++;
        }
        return -1;
    }
    int one = 1;
    setsockopt(h, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
    struct sockaddr_in any = {.sin_family = AF_INET};
    if (bind(h, (struct sockaddr *)&any, sizeof(any)) < 0 ||
        ns_loop_add_fd(n->loop, h, EPOLLIN, cb, c) < 0) {
        n->ctr[NATC_refused_no_socket]++;
        close(h);
        return -1;
    }
    c->hfd = h;
    socklen_t len = sizeof(c->hlocal);
    getsockname(h, (struct sockaddr *)&c->hlocal, &len);
    return h;
}

static void on_guest_udp(struct nat *n)
{
    static uint8_t data[65536];
    for (;;) {
        struct sockaddr_in src, dst = {0};
        char ctl[64];
        struct iovec iov = {data, sizeof(data)};
        struct msghdr m = {.msg_name = &src, .msg_namelen = sizeof(src), .msg_iov = &iov,
                           .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
        ssize_t len = ns_recvmsg(n->st, n->ul, &m, MSG_DONTWAIT);
        if (len < 0)
            return;
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
            if (h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_ORIGDSTADDR)
                memcpy(&dst, CMSG_DATA(h), sizeof(dst));
        if (dst.sin_family != AF_INET)
            continue;
        struct sockaddr_in to = dst;
        bool dns;
        if (!nat_route(n, &to, &dns))
            continue;
        struct ct *c = ct_find(n, CT_UDP, src.sin_addr.s_addr, src.sin_port);
        if (!c) {
            if (!ct_room(n)) {
                n->ctr[NATC_refused_table_full]++;
                continue;
            }
            c = ct_new(n, CT_UDP);
            if (!c)
                continue;
            c->gsrc = src;
            c->state = CT_MAPPED;
            ct_hash_add(c);
            if (host_dgram(n, c, 0, on_host_udp) < 0) {
                ct_free(c);
                continue;
            }
            n->ctr[NATC_udp_mappings]++;
        }
        c->gdst = dst;
        c->hremote = to;
        c->dns |= dns;
        if (sendto(c->hfd, data, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
            n->ctr[NATC_udp_dropped]++;
            if (errno != EAGAIN)
                translate_error(n, c);
        } else {
            c->bytes_out += (uint64_t)len;
        }
        ct_touch(c);
    }
}

/* ---- ICMP echo ------------------------------------------------------------------------------------ */

static void on_host_icmp(void *ctx, int fd, uint32_t ev)
{
    struct ct *c = ctx;
    struct nat *n = c->nat;
    if (ev & EPOLLERR)
        translate_error(n, c);
    uint8_t data[65536];
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t len = recvfrom(fd, data, sizeof(data), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (len < 0) {
            if (errno == EAGAIN)
                break;
            translate_error(n, c);
            continue;
        }
        if (len < 8 || data[0] != ICMP_ECHOREPLY)
            continue;
        c->bytes_in += (uint64_t)len;
        c->hremote = from;
        /* The guest's identifier back in place of the ping socket's. */
        emit_icmp(n, guest_view(n, c, &from), c->gsrc.sin_addr.s_addr, ICMP_ECHOREPLY, 0,
                  (uint32_t)c->gid << 16 | ns_rd16(data + 6), data + 8, (size_t)len - 8);
    }
    ct_touch(c);
}

/* The raw ICMP socket read a packet the guest sent (IP header first):
 * echo requests to other hosts go out through a ping socket. */
static void on_guest_icmp(struct nat *n)
{
    uint8_t pkt[65536];
    for (;;) {
        ssize_t len = ns_recv(n->st, n->ricmp, pkt, sizeof(pkt), MSG_DONTWAIT);
        if (len < 0)
            return;
        struct ns_ip4_repr ip;
        if (ns_ip4_parse(pkt, (size_t)len, &ip, false) < 0 || ip.total_len < ip.hlen + 8u)
            continue;
        const uint8_t *icmp = pkt + ip.hlen;
        size_t ilen = ip.total_len - ip.hlen;
        if (icmp[0] != ICMP_ECHO || ip.dst == n->gw || ip.dst == n->dns)
            continue; /* the stack answers its own addresses */
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(ip.dst)};
        bool dns;
        if (!nat_route(n, &to, &dns))
            continue;
        uint16_t id = ns_rd16(icmp + 4);
        struct ct *c = ct_find(n, CT_ICMP, htonl(ip.src), id);
        if (!c) {
            if (!ct_room(n)) {
                n->ctr[NATC_refused_table_full]++;
                continue;
            }
            c = ct_new(n, CT_ICMP);
            if (!c)
                continue;
            c->gsrc = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(ip.src)};
            c->gid = id;
            c->state = CT_MAPPED;
            ct_hash_add(c);
            if (host_dgram(n, c, IPPROTO_ICMP, on_host_icmp) < 0) {
                ct_free(c);
                continue;
            }
            n->ctr[NATC_icmp_echo_mappings]++;
        }
        c->gdst = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(ip.dst)};
        c->hremote = to;
        /* The kernel puts the socket's identifier and the checksum in. */
        if (sendto(c->hfd, icmp, ilen, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
            translate_error(n, c);
        else
            c->bytes_out += ilen;
        ct_touch(c);
    }
}

/* ---- inbound port forwards (--forward, the API socket) ----------------------------------------- */

/* A forward's host socket: a TCP listener whose connections go to the
 * guest, from the gateway's address (as slirp4netns's). */
struct fwd {
    struct fwd *next;
    struct nat *nat;
    unsigned id;
    struct hostfwd f;
    int lfd;
};

static void on_fwd_accept(void *ctx, int fd, uint32_t events)
{
    (void)events;
    struct fwd *w = ctx;
    struct nat *n = w->nat;
    for (;;) {
        struct sockaddr_in peer;
        socklen_t pl = sizeof(peer);
        int h = accept4(fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (h < 0)
            return;
        struct sockaddr_in gw = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(n->gw)};
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(w->f.guest_port),
                                 .sin_addr.s_addr = w->f.guest_addr ? w->f.guest_addr
                                                                    : htonl(n->guest)};
        int g = -1;
        struct ct *c = NULL;
        if (ct_room(n) && (c = ct_new(n, CT_TCP)) != NULL)
            g = ns_socket(n->st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (g < 0 || ns_bind(n->st, g, (struct sockaddr *)&gw, sizeof(gw)) < 0 ||
            (ns_connect(n->st, g, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EINPROGRESS)) {
            n->ctr[NATC_fwd_refused]++;
            struct linger reset = {.l_onoff = 1, .l_linger = 0};
            setsockopt(h, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
            close(h);
            if (g >= 0)
                ns_close(n->st, g);
            if (c)
                ct_free(c);
            continue;
        }
        c->gfd = g;
        c->hfd = h;
        c->state = CT_INBOUND;
        c->gsrc = gw;
        c->gdst = to;
        c->hremote = peer;
        socklen_t ll = sizeof(c->hlocal);
        getsockname(h, (struct sockaddr *)&c->hlocal, &ll);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        if (ns_epoll_ctl(n->st, n->ep, EPOLL_CTL_ADD, g, &ev) < 0 ||
            ns_loop_add_fd(n->loop, h, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, on_host_tcp, c) <
                0) {
            c->hfd = -1; /* not watched: close it here */
            close(h);
            ct_free(c);
        }
    }
}

/* A UDP forward's host socket is readable: each client's datagrams go to
 * the guest from a netsock socket of its own on the gateway's address, so
 * the guest's answers come back to it by the stack's own demux. */
static void on_fwd_udp(void *ctx, int fd, uint32_t events)
{
    (void)events;
    struct fwd *w = ctx;
    struct nat *n = w->nat;
    static uint8_t data[65536];
    for (;;) {
        struct sockaddr_in peer;
        socklen_t pl = sizeof(peer);
        ssize_t len = recvfrom(fd, data, sizeof(data), MSG_DONTWAIT, (struct sockaddr *)&peer, &pl);
        if (len < 0)
            return;
        struct ct *c = NULL;
        for (c = n->hash[ct_key(CT_UDPIN, peer.sin_addr.s_addr, peer.sin_port)]; c; c = c->hnext)
            if (c->kind == CT_UDPIN && c->fwd == w &&
                c->hremote.sin_addr.s_addr == peer.sin_addr.s_addr &&
                c->hremote.sin_port == peer.sin_port)
                break;
        if (!c) {
            if (!ct_room(n) || !(c = ct_new(n, CT_UDPIN))) {
                n->ctr[NATC_fwd_refused]++;
                continue;
            }
            c->fwd = w;
            c->state = CT_MAPPED;
            c->hremote = peer;
            socklen_t ll = sizeof(c->hlocal);
            getsockname(fd, (struct sockaddr *)&c->hlocal, &ll);
            c->gdst = (struct sockaddr_in){.sin_family = AF_INET,
                                           .sin_port = htons(w->f.guest_port),
                                           .sin_addr.s_addr = w->f.guest_addr ? w->f.guest_addr
                                                                              : htonl(n->guest)};
            struct sockaddr_in gw = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(n->gw)};
            socklen_t gl = sizeof(c->gsrc);
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
            c->gfd = ns_socket(n->st, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
            if (c->gfd < 0 || ns_bind(n->st, c->gfd, (struct sockaddr *)&gw, sizeof(gw)) < 0 ||
                ns_getsockname(n->st, c->gfd, (struct sockaddr *)&c->gsrc, &gl) < 0 ||
                ns_epoll_ctl(n->st, n->ep, EPOLL_CTL_ADD, c->gfd, &ev) < 0) {
                n->ctr[NATC_fwd_refused]++;
                ct_free(c);
                continue;
            }
            ct_hash_add(c);
            n->ctr[NATC_udp_mappings]++;
        }
        if (ns_sendto(n->st, c->gfd, data, (size_t)len, 0, (struct sockaddr *)&c->gdst,
                      sizeof(c->gdst)) >= 0)
            c->bytes_in += (uint64_t)len;
        else
            n->ctr[NATC_udp_dropped]++;
        ct_touch(c);
    }
}

/* The guest answered a UDP forward's client: back through the forward's
 * host socket, to that client. */
static void on_guest_udpin(struct ct *c)
{
    static uint8_t data[65536];
    for (;;) {
        ssize_t len = ns_recv(c->nat->st, c->gfd, data, sizeof(data), MSG_DONTWAIT);
        if (len < 0)
            return;
        if (sendto(c->fwd->lfd, data, (size_t)len, 0, (struct sockaddr *)&c->hremote,
                   sizeof(c->hremote)) >= 0)
            c->bytes_out += (uint64_t)len;
        else
            c->nat->ctr[NATC_udp_dropped]++;
        ct_touch(c);
    }
}

/* apisock_ops.add: open forward f's host listener, then record it. */
static int fwd_add(void *ctx, const struct hostfwd *f, char *err, size_t errlen)
{
    struct nat *n = ctx;
    if (f->host_family != AF_INET) {
        snprintf(err, errlen, "only forwards from IPv4 host addresses for now");
        return -EOPNOTSUPP;
    }
    bool udp = f->proto == IPPROTO_UDP;
    for (unsigned i = 0; i < n->fwds.n; i++)
        if (hostfwd_conflict(&n->fwds.e[i], f)) {
            char b[96];
            snprintf(err, errlen, "forward %u (%s) is there", n->fwds.e[i].id,
                     hostfwd_format(&n->fwds.e[i], b, sizeof(b)));
            return -EEXIST;
        }
    struct fwd *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(f->host_port)};
    memcpy(&a.sin_addr, f->host_addr, 4);
    w->lfd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (w->lfd < 0 || setsockopt(w->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(w->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || (!udp && listen(w->lfd, 128) < 0)) {
        int e = -errno;
        snprintf(err, errlen, "cannot listen on host port %u: %s", f->host_port, strerror(-e));
        if (w->lfd >= 0)
            close(w->lfd);
        free(w);
        return e;
    }
    int id = hostfwd_add(&n->fwds, f, err, errlen);
    w->nat = n;
    if (id < 0 || ns_loop_add_fd(n->loop, w->lfd, EPOLLIN, udp ? on_fwd_udp : on_fwd_accept, w) < 0) {
        if (id > 0)
            hostfwd_remove(&n->fwds, (unsigned)id, err, errlen);
        close(w->lfd);
        free(w);
        return id < 0 ? id : -ENOMEM;
    }
    w->nat = n;
    w->id = (unsigned)id;
    w->f = *f;
    w->f.id = (unsigned)id;
    w->next = n->fwd_list;
    n->fwd_list = w;
    return id;
}

/* apisock_ops.remove: close forward id's host socket; its TCP connections
 * stay, its UDP mappings (which send through that socket) go. */
static int fwd_remove(void *ctx, unsigned id, char *err, size_t errlen)
{
    struct nat *n = ctx;
    int rc = hostfwd_remove(&n->fwds, id, err, errlen);
    if (rc < 0)
        return rc;
    for (struct fwd **pp = &n->fwd_list; *pp; pp = &(*pp)->next) {
        struct fwd *w = *pp;
        if (w->id == id) {
            *pp = w->next;
            for (struct ct *c = n->all_head, *next; c; c = next) {
                next = c->next;
                if (c->kind == CT_UDPIN && c->fwd == w)
                    ct_free(c);
            }
            ns_loop_del_fd(n->loop, w->lfd);
            close(w->lfd);
            free(w);
            break;
        }
    }
    return 0;
}

static void fwd_list(void *ctx, void (*each)(void *arg, const struct hostfwd *f), void *arg)
{
    struct nat *n = ctx;
    for (unsigned i = 0; i < n->fwds.n; i++)
        each(arg, &n->fwds.e[i]);
}

static const struct apisock_ops fwd_ops = {.add = fwd_add, .remove = fwd_remove, .list = fwd_list};

/* ---- the loop ----------------------------------------------------------------------------------- */

/* The netsock epoll set has events: dispatch them. */
static void on_netsock(void *ctx, int fd, uint32_t events)
{
    (void)fd, (void)events;
    struct nat *n = ctx;
    /* One event at a time: handling one may free the entry another of
     * the same batch names (a new flow evicting a UDP forward's mapping,
     * whose socket is in the set). Every handler drains its socket or is
     * edge-triggered, so the bound only keeps the loop's other work going
     * (the descriptor stays readable while events are left). */
    struct epoll_event ev[1];
    for (int i = 0; i < 1024 && ns_epoll_wait(n->st, n->ep, ev, 1, 0) == 1; i++) {
        void *p = ev[0].data.ptr;
        if (p == &n->tag_tl)
            on_accept(n);
        else if (p == &n->tag_ul)
            on_guest_udp(n);
        else if (p == &n->tag_ricmp)
            on_guest_icmp(n);
        else if (p == &n->tag_dhcp)
            dhcpd_service(n->dhcp);
        else if (((struct ct *)p)->kind == CT_UDPIN)
            on_guest_udpin(p);
        else
            on_guest_tcp(p, ev[0].events);
    }
}

/* Once a second: idle UDP and ICMP mappings expire. */
static void on_timer(void *ctx, int fd, uint32_t events)
{
    (void)events;
    struct nat *n = ctx;
    uint64_t ticks;
    if (read(fd, &ticks, sizeof(ticks)) < 0)
        return;
    uint64_t now = ns_clock_now_us();
    for (struct ct *c = n->all_head, *next; c; c = next) {
        next = c->next;
        uint64_t idle = c->kind == CT_ICMP ? NAT_ICMP_TIMEOUT_S : n->udp_timeout_s;
        if (c->kind == CT_TCP)
            continue;
        if (now - c->last_us < idle * 1000000u)
            break; /* LRU order: the rest are younger (TCP ones are skipped) */
        n->ctr[NATC_udp_expired]++;
        ct_free(c);
    }
}

/* ---- `netsock stat --conntrack` ------------------------------------------------------------------- */

static const char *ct_proto(const struct ct *c)
{
    return c->kind == CT_TCP ? "tcp" : c->kind == CT_ICMP ? "icmp" : "udp";
}

static const char *ct_state_name(const struct ct *c)
{
    if (c->kind != CT_TCP)
        return "MAPPED";
    if (c->state == CT_CONNECTING || c->state == CT_INBOUND)
        return "SYN-SENT";
    if (c->g_shut || c->h_shut)
        return "CLOSING";
    return "ESTAB";
}

static char *conntrack_reply(void *ctx, const char *req, size_t *len)
{
    struct nat *n = ctx;
    bool json = strstr(req, "json") != NULL;
    struct textbuf b = {0};
    uint64_t now = ns_clock_now_us();
    if (json)
        tb_printf(&b, "{\"name\": \"%s\", \"max\": %u, \"count\": %u, \"entries\": [", n->name,
                  n->max_conns, n->n_conns);
    else
        tb_printf(&b, "%-5s %-9s %-21s %-21s %-21s %-21s %12s %12s %8s\n", "Proto", "State",
                  "Guest", "Destination", "Host-local", "Host-remote", "Bytes-out", "Bytes-in",
                  "Idle-s");
    for (const struct ct *c = n->all_head; c; c = c->next) {
        char g[64], d[64], hl[64], hr[64];
        union ns_sockaddr gs = {.sin = c->gsrc}, gd = {.sin = c->gdst}, l = {.sin = c->hlocal},
                          r = {.sin = c->hremote};
        if (c->kind == CT_ICMP)
            gs.sin.sin_port = htons(c->gid); /* the identifier in the port's place */
        fmt_sockaddr(g, sizeof(g), &gs);
        fmt_sockaddr(d, sizeof(d), &gd);
        fmt_sockaddr(hl, sizeof(hl), &l);
        fmt_sockaddr(hr, sizeof(hr), &r);
        double idle = (double)(now - c->last_us) / 1e6;
        if (json)
            tb_printf(&b,
                      "%s\n  {\"proto\": \"%s\", \"state\": \"%s\", \"guest\": \"%s\", "
                      "\"destination\": \"%s\", \"host_local\": \"%s\", \"host_remote\": \"%s\", "
                      "\"bytes_out\": %" PRIu64 ", \"bytes_in\": %" PRIu64 ", \"idle_s\": %.1f}",
                      c == n->all_head ? "" : ",", ct_proto(c), ct_state_name(c), g, d, hl, hr,
                      c->bytes_out, c->bytes_in, idle);
        else
            tb_printf(&b, "%-5s %-9s %-21s %-21s %-21s %-21s %12" PRIu64 " %12" PRIu64 " %8.1f\n",
                      ct_proto(c), ct_state_name(c), g, d, hl, hr, c->bytes_out, c->bytes_in, idle);
    }
    if (json) {
        tb_printf(&b, "\n], \"counters\": {");
        for (int i = 0; i < NATC__COUNT; i++)
            tb_printf(&b, "%s\"%s\": %" PRIu64, i ? ", " : "", nat_counter_names[i], n->ctr[i]);
        tb_printf(&b, "}}\n");
    } else {
        tb_printf(&b, "%u of at most %u entries\n", n->n_conns, n->max_conns);
        for (int i = 0; i < NATC__COUNT; i++)
            if (n->ctr[i])
                tb_printf(&b, "    %" PRIu64 " %s\n", n->ctr[i], nat_counter_names[i]);
    }
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* ---- options --------------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: netsock nat [options] NETNS TAPNAME\n"
            "\n"
            "User-mode networking for the network namespace NETNS (a PID or a path such\n"
            "as /run/netns/NAME): creates TAPNAME there and connects the guest to the\n"
            "world through ordinary sockets of the namespace netsock nat runs in.\n"
            "\n"
            "  -c, --configure        give TAPNAME the guest address (.100), a default route\n"
            "                         via the gateway (.2), the MTU, and bring it and lo up\n"
            "      --cidr A.B.C.D/N   the virtual network (default 10.0.2.0/24; N 8 to 25):\n"
            "                         gateway .2, DNS .3, guest .100\n"
            "  -m, --mtu N            MTU, 68 to %u (default 1500)\n"
            "      --disable-host-loopback\n"
            "                         refuse connections to the gateway (the host's 127.0.0.1)\n"
            "      --allow PREFIX     only destinations in PREFIX (A.B.C.D/N, repeatable)\n"
            "      --deny PREFIX      never destinations in PREFIX (repeatable; wins over --allow)\n"
            "      --max-conns N      conntrack entries, 1 to %u (default %u)\n"
            "      --udp-timeout S    idle seconds before a UDP mapping expires, 120 to 86400\n"
            "      --resolv-conf FILE where DNS at .3 goes (default /etc/resolv.conf)\n"
            "      --forward tcp|udp:[HOSTADDR:]HOSTPORT:GUESTPORT\n"
            "                         host connections (datagrams) to HOSTPORT go to the\n"
            "                         guest's GUESTPORT\n"
            "                         (repeatable)\n"
            "      --api-socket PATH  slirp4netns's JSON API (add_hostfwd, list_hostfwd,\n"
            "                         remove_hostfwd) on a Unix socket\n"
            "      --disable-dhcp     no DHCP server on the gateway\n"
            "      --pcap FILE        capture the TAP's frames\n"
            "      --name NAME        the control socket's name (default: TAPNAME)\n"
            "  -q, --quiet            print nothing but errors\n"
            "  -h, --help             this text\n"
            "\n"
            "'netsock stat --conntrack --name NAME' lists the tracked socket pairs.\n",
            NAT_MTU_MAX, NAT_MAX_CONNS_MAX, NAT_MAX_CONNS_DEFAULT);
}

/* A.B.C.D/N with N in [lo, hi] into host-order net and mask. */
static int parse_prefix(const char *prog, const char *opt, const char *v, unsigned lo, unsigned hi,
                        uint32_t *net, uint32_t *mask, unsigned *plen)
{
    char ip[32];
    const char *slash = strchr(v, '/');
    char *end;
    unsigned long p = slash ? strtoul(slash + 1, &end, 10) : 99;
    struct in_addr a;
    if (!slash || (size_t)(slash - v) >= sizeof(ip) || !slash[1] || *end || p < lo || p > hi) {
        cli_bad_value(prog, opt, v, "A.B.C.D/N with N from %u to %u", lo, hi);
        return -1;
    }
    memcpy(ip, v, (size_t)(slash - v));
    ip[slash - v] = 0;
    if (inet_pton(AF_INET, ip, &a) != 1) {
        cli_bad_value(prog, opt, v, "A.B.C.D/N with N from %u to %u", lo, hi);
        return -1;
    }
    *mask = p ? ~0u << (32 - p) : 0;
    *net = ntohl(a.s_addr) & *mask;
    if (plen)
        *plen = (unsigned)p;
    return 0;
}

/* The first IPv4 nameserver of a resolv.conf, or false. */
static bool read_resolver(const char *path, struct sockaddr_in *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[256];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        char addr[64];
        if (sscanf(line, " nameserver %63s", addr) == 1 &&
            inet_pton(AF_INET, addr, &out->sin_addr) == 1) {
            out->sin_family = AF_INET;
            out->sin_port = htons(53);
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* Open a netsock socket for the nat and put it in its epoll set. */
static int nat_socket(struct nat *n, int type, int proto, void *tag)
{
    int fd = ns_socket(n->st, AF_INET, type | SOCK_NONBLOCK, proto);
    if (fd < 0)
        return -1;
    if (tag) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
        ns_epoll_ctl(n->st, n->ep, EPOLL_CTL_ADD, fd, &ev);
    }
    return fd;
}

/* The stack's catch-all sockets, the raw ones, the epoll set. */
static int nat_sockets(struct nat *n)
{
    int one = 1;
    struct sockaddr_in any = {.sin_family = AF_INET};
    n->ep = ns_epoll_create1(n->st, 0);
    if (n->ep < 0)
        return -1;
    n->tl = nat_socket(n, SOCK_STREAM, 0, &n->tag_tl);
    n->ul = nat_socket(n, SOCK_DGRAM, 0, &n->tag_ul);
    n->raw = nat_socket(n, SOCK_RAW, IPPROTO_RAW, NULL);
    n->ricmp = nat_socket(n, SOCK_RAW, IPPROTO_ICMP, &n->tag_ricmp);
    if (n->tl < 0 || n->ul < 0 || n->raw < 0 || n->ricmp < 0)
        return -1;
    if (ns_setsockopt(n->st, n->tl, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0 ||
        ns_setsockopt(n->st, n->tl, IPPROTO_TCP, NS_TCP_DEFER_SYNACK, &one, sizeof(one)) < 0 ||
        ns_listen(n->st, n->tl, 1024) < 0)
        return -1;
    if (ns_setsockopt(n->st, n->ul, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0 ||
        ns_setsockopt(n->st, n->ul, IPPROTO_IP, IP_RECVORIGDSTADDR, &one, sizeof(one)) < 0 ||
        ns_bind(n->st, n->ul, (struct sockaddr *)&any, sizeof(any)) < 0)
        return -1;
    int efd = ns_epoll_fd(n->st, n->ep);
    if (efd < 0 || ns_loop_add_fd(n->loop, efd, EPOLLIN, on_netsock, n) < 0)
        return -1;
    n->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec it = {.it_interval = {1, 0}, .it_value = {1, 0}};
    if (n->tfd < 0 || timerfd_settime(n->tfd, 0, &it, NULL) < 0 ||
        ns_loop_add_fd(n->loop, n->tfd, EPOLLIN, on_timer, n) < 0)
        return -1;
    return 0;
}

/* The DHCP server (unless disabled), the --forward listeners and the API
 * socket. 0, or -1 with a message. */
static int nat_plugins(struct nat *n, int ifindex, unsigned plen, bool dhcp,
                       const struct hostfwd *fw, unsigned nfw, const char *api_path,
                       struct apisock **api)
{
    char err[HOSTFWD_ERR_MAX];
    for (unsigned i = 0; i < nfw; i++) {
        int rc = fwd_add(n, &fw[i], err, sizeof(err));
        if (rc < 0) {
            char b[96];
            fprintf(stderr, "netsock nat: --forward %s: %s\n", hostfwd_format(&fw[i], b, sizeof(b)),
                    err);
            return -1;
        }
    }
    if (api_path) {
        int e = 0;
        *api = apisock_open(api_path, n->loop, &fwd_ops, n, &e);
        if (!*api) {
            fprintf(stderr, "netsock nat: --api-socket %s: %s\n", api_path, strerror(-e));
            return -1;
        }
    }
    if (dhcp) {
        struct dhcpd_config cfg;
        dhcpd_config_default(&cfg, n->net, plen);
        if (n->mtu != 1500)
            cfg.mtu = (uint16_t)n->mtu;
        int e = 0;
        const char *why = NULL;
        n->dhcp = dhcpd_new(n->st, ifindex, &cfg, &e, &why);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &n->tag_dhcp};
        if (!n->dhcp ||
            ns_epoll_ctl(n->st, n->ep, EPOLL_CTL_ADD, dhcpd_fd(n->dhcp), &ev) < 0) {
            fprintf(stderr, "netsock nat: DHCP server: %s\n", why ? why : strerror(-e));
            return -1;
        }
    }
    return 0;
}

int tool_nat(int argc, char **argv)
{
    static const char *const prog = "netsock nat";
    static const char shortopts[] = ":cm:qh";
    enum {
        OPT_CIDR = 0x100, OPT_NO_LOOPBACK, OPT_ALLOW, OPT_DENY, OPT_MAX_CONNS, OPT_UDP_TIMEOUT,
        OPT_RESOLV, OPT_PCAP, OPT_NAME, OPT_FORWARD, OPT_API, OPT_NO_DHCP,
    };
    static const struct option longopts[] = {
        {"configure", no_argument, NULL, 'c'},
        {"cidr", required_argument, NULL, OPT_CIDR},
        {"mtu", required_argument, NULL, 'm'},
        {"disable-host-loopback", no_argument, NULL, OPT_NO_LOOPBACK},
        {"allow", required_argument, NULL, OPT_ALLOW},
        {"deny", required_argument, NULL, OPT_DENY},
        {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
        {"udp-timeout", required_argument, NULL, OPT_UDP_TIMEOUT},
        {"resolv-conf", required_argument, NULL, OPT_RESOLV},
        {"forward", required_argument, NULL, OPT_FORWARD},
        {"api-socket", required_argument, NULL, OPT_API},
        {"disable-dhcp", no_argument, NULL, OPT_NO_DHCP},
        {"pcap", required_argument, NULL, OPT_PCAP},
        {"name", required_argument, NULL, OPT_NAME},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct nat *n = calloc(1, sizeof(*n));
    if (!n)
        return CLI_EXIT_FAIL;
    bool configure = false, quiet = false;
    unsigned mtu = 1500, plen = 24;
    const char *resolv = "/etc/resolv.conf", *pcap = NULL, *api_path = NULL;
    struct hostfwd forwards[NAT_FORWARDS_MAX];
    unsigned n_forwards = 0;
    bool dhcp = true;
    char ferr[HOSTFWD_ERR_MAX];
    n->net = 0x0a000200u; /* 10.0.2.0/24, as slirp4netns */
    n->mask = 0xffffff00u;
    n->host_loopback = true;
    n->max_conns = NAT_MAX_CONNS_DEFAULT;
    n->udp_timeout_s = NAT_UDP_TIMEOUT_S;
    uint64_t u;
    int c, rc = CLI_EXIT_USAGE;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            configure = true;
            break;
        case OPT_CIDR:
            if (parse_prefix(prog, "--cidr", optarg, 8, 25, &n->net, &n->mask, &plen) < 0)
                goto out;
            break;
        case 'm':
            if (cli_uint(prog, "--mtu", optarg, 68, NAT_MTU_MAX, &u) < 0)
                goto out;
            mtu = (unsigned)u;
            break;
        case OPT_NO_LOOPBACK:
            n->host_loopback = false;
            break;
        case OPT_ALLOW:
        case OPT_DENY: {
            bool deny = c == OPT_DENY;
            unsigned *cnt = deny ? &n->n_deny : &n->n_allow;
            if (*cnt == NAT_PREFIX_MAX) {
                cli_usage_error(prog, "at most %u %s prefixes", NAT_PREFIX_MAX,
                                deny ? "--deny" : "--allow");
                goto out;
            }
            uint32_t net, mask;
            if (parse_prefix(prog, deny ? "--deny" : "--allow", optarg, 0, 32, &net, &mask, NULL) <
                0)
                goto out;
            if (deny)
                n->deny[*cnt].net = net, n->deny[*cnt].mask = mask;
            else
                n->allow[*cnt].net = net, n->allow[*cnt].mask = mask;
            (*cnt)++;
            break;
        }
        case OPT_MAX_CONNS:
            if (cli_uint(prog, "--max-conns", optarg, 1, NAT_MAX_CONNS_MAX, &u) < 0)
                goto out;
            n->max_conns = (unsigned)u;
            break;
        case OPT_UDP_TIMEOUT:
            if (cli_uint(prog, "--udp-timeout", optarg, 120, 86400, &u) < 0)
                goto out;
            n->udp_timeout_s = (unsigned)u;
            break;
        case OPT_RESOLV:
            resolv = optarg;
            break;
        case OPT_PCAP:
            pcap = optarg;
            break;
        case OPT_FORWARD:
            if (n_forwards == NAT_FORWARDS_MAX) {
                cli_usage_error(prog, "at most %u --forward", NAT_FORWARDS_MAX);
                goto out;
            }
            if (hostfwd_parse(optarg, &forwards[n_forwards], ferr, sizeof(ferr)) < 0) {
                cli_bad_value(prog, "--forward", optarg, "tcp|udp:[HOSTADDR:]HOSTPORT:GUESTPORT (%s)",
                              ferr);
                goto out;
            }
            n_forwards++;
            break;
        case OPT_API:
            api_path = optarg;
            break;
        case OPT_NO_DHCP:
            dhcp = false;
            break;
        case OPT_NAME:
            if (!ctl_name_ok(optarg)) {
                cli_bad_value(prog, "--name", optarg, "letters, digits, '.', '_' or '-'");
                goto out;
            }
            n->name = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            rc = CLI_EXIT_OK;
            goto out;
        default:
            rc = cli_getopt_error(prog, c, argv, shortopts);
            goto out;
        }
    }
    if (argc - optind != 2) {
        rc = cli_usage_error(prog, argc - optind < 2 ? "expected NETNS and TAPNAME"
                                                     : "unexpected argument '%s'",
                             argv[optind + 2 < argc ? optind + 2 : 0]);
        goto out;
    }
    const char *netns = argv[optind], *tap = argv[optind + 1];
    if (!ctl_name_ok(tap) || strlen(tap) >= 16) {
        cli_bad_value(prog, "TAPNAME", tap, "an interface name of 1 to 15 letters, digits, . _ -");
        goto out;
    }
    if (!n->name)
        n->name = tap;
    n->mtu = mtu;
    n->gw = n->net | 2;
    n->dns = n->net | 3;
    n->guest = n->net | 100;
    if (!read_resolver(resolv, &n->resolver) && !quiet)
        fprintf(stderr, "netsock nat: no IPv4 nameserver in %s: DNS at .3 is not answered\n",
                resolv);

    rc = CLI_EXIT_FAIL;
    int nsfd = nat_netns_open(netns);
    if (nsfd < 0) {
        fprintf(stderr, "netsock nat: %s: %s\n", netns, strerror(-nsfd));
        goto out;
    }
    /* TAPNAME is made in NETNS; everything else lives here. */
    int saved;
    int err = nat_netns_enter(nsfd, &saved);
    close(nsfd);
    if (err < 0) {
        fprintf(stderr, "netsock nat: setns %s: %s\n", netns, strerror(-err));
        goto out;
    }
    char link[32], addr[32], gw_s[INET_ADDRSTRLEN];
    struct in_addr a = {htonl(n->gw)};
    inet_ntop(AF_INET, &a, gw_s, sizeof(gw_s));
    snprintf(link, sizeof(link), "tap:%s", tap);
    snprintf(addr, sizeof(addr), "%s/%u", gw_s, plen);
    struct link_opts lo = {.link = link, .addr = addr, .name = n->name, .pcap = pcap, .mtu = mtu};
    struct link_host h;
    int hr = link_host_open(&h, &lo);
    if (hr == 0 && configure) {
        err = nat_netns_configure(tap, htonl(n->guest), plen, htonl(n->gw), mtu);
        if (err < 0)
            fprintf(stderr, "netsock nat: --configure %s: %s\n", tap, strerror(-err));
    }
    if (nat_netns_leave(saved) < 0) {
        fprintf(stderr, "netsock nat: cannot return to the original namespace\n");
        if (hr == 0)
            link_host_close(&h);
        goto out;
    }
    if (hr < 0)
        goto out;
    if (configure && err < 0) {
        link_host_close(&h);
        goto out;
    }
    n->st = h.st;
    n->loop = h.loop;
    struct in_addr dns_a = {htonl(n->dns)};
    struct ctl_server *ctl = NULL;
    if (ns_if_addr_add(n->st, h.ifindex, AF_INET, &dns_a, plen) < 0 || nat_sockets(n) < 0) {
        fprintf(stderr, "netsock nat: cannot set up the gateway's sockets: %s\n", strerror(errno));
        link_host_close(&h);
        goto out;
    }
    if (ctl_server_open(&ctl, n->name, n->loop, n->st, NULL) < 0) {
        link_host_close(&h);
        goto out;
    }
    ctl_server_set_extra(ctl, "conntrack", conntrack_reply, n);
    hostfwd_table_init(&n->fwds, 0);
    struct apisock *api = NULL;
    if (nat_plugins(n, h.ifindex, plen, dhcp, forwards, n_forwards, api_path, &api) < 0) {
        rc = CLI_EXIT_FAIL;
        goto stop;
    }
    if (!quiet)
        fprintf(stderr, "netsock nat %s: %s in %s, gateway %s, MTU %u; control socket %s\n",
                n->name, tap, netns, gw_s, mtu, ctl_server_path(ctl));
    rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && !ns_loop_stopped(n->loop)) {
        int r = ns_loop_run_once(n->loop, NS_TIME_NEVER);
        if (r < 0 && r != -EINTR) {
            fprintf(stderr, "netsock nat: %s\n", strerror(-r));
            rc = CLI_EXIT_FAIL;
            break;
        }
    }
stop:
    apisock_close(api);
    while (n->fwd_list) {
        struct fwd *w = n->fwd_list;
        n->fwd_list = w->next;
        ns_loop_del_fd(n->loop, w->lfd);
        close(w->lfd);
        free(w);
    }
    hostfwd_table_destroy(&n->fwds);
    if (n->dhcp)
        dhcpd_free(n->dhcp);
    while (n->all_head)
        ct_free(n->all_head);
    ctl_server_close(ctl);
    close(n->tfd);
    ns_stack_poll(n->st, ns_clock_now_us());
    link_host_close(&h);
out:
    free(n);
    return rc;
}
