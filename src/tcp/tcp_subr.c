/* tcp/tcp_subr.c — TCP control blocks: creation and destruction, the
 * connection and listener tables, initial sequence numbers, ephemeral
 * ports, resets, and the one door for state changes.
 *
 * Read first: RFC 9293 §3.4.1 (ISN selection), RFC 6528 (ISN = M + F(4-tuple,
 * secret)), RFC 6056 §3.3.3 (port selection, Algorithm 3), RFC 9293
 * §3.10.7.1 (RST generation for segments that belong to nothing), RFC 7323
 * §2.3 (choosing the window shift) and §5.4 (timestamp clock offsets);
 * for buffer autotuning, Linux tcp_rcv_space_adjust / tcp_sndbuf_expand
 * (net/ipv4/tcp_input.c) and the dynamic right-sizing they follow (Fisk
 * and Feng, "Dynamic right-sizing in TCP", 2001), RFC 9293 §3.8.6.2.2
 * (the window's right edge never moves left).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/siphash.h"
#include "tcp/tcp.h"
#include "wire/bytes.h"

/* Every tcpcb flag has a bit of its own (a sum of distinct bits is their
 * union). */
#define TCP_FLAGS(X) \
    X(TF_ACKNOW) X(TF_DELACK) X(TF_NODELAY) X(TF_NEEDFIN) X(TF_SENTFIN) X(TF_CORK) \
    X(TF_FASTRECOVERY) X(TF_RTT_TIMING) X(TF_ORPHAN) X(TF_KEEPALIVE) X(TF_QUICKACK) \
    X(TF_WASIDLE) X(TF_PROBE) X(TF_REQ_SCALE) X(TF_RCVD_SCALE) X(TF_REQ_TSTMP) \
    X(TF_RCVD_TSTMP) X(TF_REQ_SACK) X(TF_RCVD_SACK) X(TF_LOSS) X(TF_TLP) \
    X(TF_TLP_RETRANS) X(TF_PRR_FORCE) X(TF_TLP_SEND) X(TF_NR_PARTIAL) X(TF_CORK_FLUSH) \
    X(TF_BINDADDR_LOCK) X(TF_MORE) X(TF_RCVBUF_LOCK) X(TF_SNDBUF_LOCK) \
    X(TF_DEFER_SYNACK) X(TF_HELD)
#define FLAG_PLUS(f) +(unsigned long long)(f)
#define FLAG_OR(f) | (f)
_Static_assert(0 TCP_FLAGS(FLAG_PLUS) == (0ull TCP_FLAGS(FLAG_OR)), "two TF_* flags share a bit");
#undef FLAG_PLUS
#undef FLAG_OR

const char *const tcp_state_names[] = {
    "CLOSED",   "LISTEN",     "SYN-SENT",  "SYN-RECV",  "ESTAB",     "CLOSE-WAIT",
    "FIN-WAIT-1", "CLOSING", "LAST-ACK", "FIN-WAIT-2", "TIME-WAIT",
};

#define TCP_INITIAL_BUCKETS 256u

static void conn_migrate(struct tcp_table *t, uint32_t buckets);

/* TCP in the IP protocol table (net/net.h). */
static const struct ip_protocol tcp_protocol = {
    .input4 = tcp_input, .err4 = tcp_icmp_err, .input6 = tcp_input6, .err6 = tcp_icmp6_err};

int tcp_init(struct ns_stack *st)
{
    struct tcp_table *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->conn = calloc(TCP_INITIAL_BUCKETS, sizeof(*t->conn));
    if (!t->conn) {
        free(t);
        return -ENOMEM;
    }
    t->conn_mask = TCP_INITIAL_BUCKETS - 1;
    tcp_mem_init(t);
    for (int i = 0; i < 16; i += 8) {
        uint64_t a = ns_rng_next(&st->rng), b = ns_rng_next(&st->rng);
        memcpy(t->isn_key + i, &a, 8);
        memcpy(t->port_key + i, &b, 8);
    }
    /* The connection hash's key: a PRF of the ISN secret under two
     * labels. Drawing it from the generator would move every later draw
     * (ports, ISN clocks, IP IDs of other stacks... the same seed would
     * give other frames). */
    t->conn_key.k0 = ns_siphash(t->isn_key, "netsock conn-hash k0", 20);
    t->conn_key.k1 = ns_siphash(t->isn_key, "netsock conn-hash k1", 20);
    st->tcp = t;
    int rc = tcp_syncache_init(st);
    if (rc < 0) {
        free(t->conn);
        free(t);
        st->tcp = NULL;
        return rc;
    }
    ip_protocol_register(st, NS_IPPROTO_TCP, &tcp_protocol);
    rc = sock_register(st, &tcp_protosw);
    return rc < 0 ? rc : sock_register(st, &tcp6_protosw);
}

void tcp_destroy(struct ns_stack *st)
{
    struct tcp_table *t = st->tcp;
    if (!t)
        return;
    tcp_syncache_destroy(st);
    /* Sockets were closed first (sock_destroy); what is left are orphans
     * (TIME_WAIT, closing) and unaccepted children: free them all. */
    conn_migrate(t, UINT32_MAX);
    for (uint32_t b = 0; b <= t->conn_mask; b++) {
        while (t->conn[b]) {
            struct tcpcb *tp = t->conn[b];
            tcp_hash_remove(tp);
            tp->so = NULL;
            tp->flags |= TF_ORPHAN;
            tcp_timers_cancel(tp);
            tcp_free(tp);
        }
    }
    /* Every byte charged was given back (tcp_mem.c): a leak in the
     * accounting would make the memory limit drift. */
    assert(t->mem_all.bytes == 0 && t->mem_rcv.bytes == 0 && t->mem_snd.bytes == 0 &&
           t->mem_ooo.bytes == 0 && !t->ooo.head && "TCP memory accounting leaked");
    assert(!t->socks.head && "a TCP socket outlived the descriptor table");
    tcp_mem_destroy(t);
    tcp_sm_spares_free(t);
    free(t->conn);
    free(t);
    st->tcp = NULL;
}

struct tcpcb *tcp_child_new(struct tcpcb *l, const struct ns_flow *f)
{
    struct ns_stack *st = l->st;
    struct tcpcb *tp = tcp_new(st, false);
    if (!tp)
        return NULL;
    ns_ring_set_cap(&tp->rcvbuf, l->rcvbuf.cap);
    ns_ring_set_cap(&tp->sndbuf, l->sndbuf.cap);
    tp->flags |= l->flags & TF_BUF_LOCKS; /* SO_RCVBUF/SO_SNDBUF: no autotuning */
    tcp_opts_init(tp); /* the window shift follows the inherited buffer */
    tp->flags |= l->flags & (TF_NODELAY | TF_CORK);
    tp->keep_idle_us = l->keep_idle_us;
    tp->keep_intvl_us = l->keep_intvl_us;
    tp->keep_cnt = l->keep_cnt;
    tp->user_timeout_us = l->user_timeout_us;
    tp->user_mss = l->user_mss;
    tp->notsent_lowat = l->notsent_lowat;
    tp->segs_in = 1; /* the SYN (Linux tcp_create_openreq_child) */
    tp->cc = l->cc; /* TCP_CONGESTION (Linux tcp_ca_openreq_child) */
    tp->sock.flow = *f; /* the connection's 4-tuple */
    sock_inherit_family(&tp->sock, &l->sock); /* AF_INET6 and its IPV6_* options */
    tp->sock.flags |= l->sock.flags & SO_F_OOBINLINE; /* sk_clone: SOCK_URGINLINE */
    tp->ts_offset = tcp_ts_offset(st, &tp->sock.flow);
    return tp;
}

uint16_t tcp_syn_window(const struct tcpcb *l, uint32_t mss)
{
    uint32_t space = tcp_mem_syn_window(l->st, l->rcvbuf.cap, mss);
    return (uint16_t)(space > 65535 ? 65535 : space);
}

struct tcpcb *tcp_new(struct ns_stack *st, bool user)
{
    struct tcpcb *tp = calloc(1, sizeof(*tp));
    if (!tp)
        return NULL;
    tp->st = st;
    sock_setup(st, &tp->sock, SOCK_STREAM, IPPROTO_TCP, &tcp_sock_ops);
    if (user)
        tcp_sock_attach(tp);
    tp->state = TCPS_CLOSED;
    tp->mss = TCP_MSS_NOOPT;
    tp->peer_mss = TCP_MSS_NOOPT;
    tp->rto_us = TCP_RTO_INITIAL_US;
    tp->cc = st->cfg.tcp_congestion ? tcp_cc_find(st->cfg.tcp_congestion) : NULL;
    if (!tp->cc)
        tp->cc = &tcp_cc_newreno;
    tp->keep_idle_us = TCP_KEEPIDLE_US;
    tp->keep_intvl_us = TCP_KEEPINTVL_US;
    tp->keep_cnt = TCP_KEEPCNT_DEFAULT;
    tp->created_us = st->now_us;
    tp->rack_reo_mult = 1;
    tp->sndbuf.acct = &st->tcp->mem_snd; /* the stack-wide limit (tcp_mem.c) */
    tp->rcvbuf.acct = &st->tcp->mem_rcv;
    ns_ring_set_cap(&tp->sndbuf, tp->sock.sndbuf);
    ns_ring_set_cap(&tp->rcvbuf, tp->sock.rcvbuf);
    tcp_timers_init(tp);
    tcp_opts_init(tp);
    return tp;
}

void tcp_sock_attach(struct tcpcb *tp)
{
    tp->so = &tp->sock;
    ns_dlist_push_tail(&tp->st->tcp->socks, &tp->sock_link);
}

void tcp_sock_detach(struct tcpcb *tp)
{
    if (!tp->so)
        return;
    ns_dlist_remove(&tp->st->tcp->socks, &tp->sock_link);
    tp->so = NULL;
}

void tcp_free(struct tcpcb *tp)
{
    tcp_sock_detach(tp);
    tcp_timers_cancel(tp);
    ns_tx_wait_cancel(tp->st, &tp->txw);
    tcp_reass_flush(tp);
    tcp_sm_free(tp);
    ns_ring_free(&tp->sndbuf);
    ns_ring_free(&tp->rcvbuf);
    free(tp);
}

/* STYLE §5: every transition goes through here. */
void tcp_state_change(struct tcpcb *tp, enum tcp_state to)
{
    struct ns_stack *st = tp->st;
    if (tp->state == to)
        return;
    const struct ns_flow *f = &tp->sock.flow;
    char a[48], b[48];
    NS_LOG(st, NS_LOG_DEBUG, "tcp %s:%u > %s:%u %s -> %s", ns_addr_ntop(&f->local, a), f->lport,
           ns_addr_ntop(&f->remote, b), f->rport, tcp_state_names[tp->state], tcp_state_names[to]);
    if (tp->state == TCPS_LISTEN)
        tcp_shared_clear(tp); /* its queues are drained: a fresh recovery state */
    tp->state = (uint8_t)to;
    /* Every transition can change readiness (connected, end of stream,
     * closed): Linux wakes at each of these (sk_state_change from
     * tcp_finish_connect, tcp_fin, tcp_done, the FIN-WAIT-1 -> 2 step). */
    sock_wake(st, tp->so, SOCK_WAKE_ANY);
}

/* ---- tables ------------------------------------------------------------------- */

/* The hash of a flow: keyed with the stack's secret (ns_flow_hash), so
 * that nobody can pick 4-tuples that all land in one chain. Which bucket
 * a connection is in decides nothing that reaches the wire. */
static uint32_t conn_hash(const struct tcp_table *t, const struct ns_flow *f)
{
    return (uint32_t)ns_flow_hash(&t->conn_key, f);
}

/* The chain a connection of hash h is on: the old table's while its
 * bucket there has not been moved yet, else the table's. */
static struct tcpcb **conn_chain(struct tcp_table *t, uint32_t h)
{
    if (t->conn_old && (h & t->conn_old_mask) >= t->conn_moved)
        return &t->conn_old[h & t->conn_old_mask];
    return &t->conn[h & t->conn_mask];
}

/* Move up to `buckets` of the old table's chains into the table; the old
 * table is freed once empty. */
static void conn_migrate(struct tcp_table *t, uint32_t buckets)
{
    while (t->conn_old && buckets--) {
        for (struct tcpcb *tp = t->conn_old[t->conn_moved], *next; tp; tp = next) {
            next = tp->hnext;
            struct tcpcb **b = &t->conn[conn_hash(t, &tp->sock.flow) & t->conn_mask];
            tp->hnext = *b;
            *b = tp;
        }
        t->conn_old[t->conn_moved] = NULL;
        if (++t->conn_moved > t->conn_old_mask) {
            free(t->conn_old);
            t->conn_old = NULL;
            t->conn_old_mask = t->conn_moved = 0;
        }
    }
}

/* Double the table when it holds more connections than buckets, so chains
 * stay short at a million connections (DESIGN.md: O(1) demultiplexing).
 * Incrementally (as Redis's dict and Linux's rhashtable do): the old
 * table stays and every insertion or removal moves TCP_HASH_MIGRATE of
 * its chains, so no connection set-up pays for rehashing a million; the
 * old table is empty long before the next doubling is due (that takes as
 * many insertions as the old table had buckets). */
static void conn_grow(struct tcp_table *t)
{
    conn_migrate(t, UINT32_MAX); /* a doubling still running: finish it */
    uint32_t nb = (t->conn_mask + 1) * 2;
    struct tcpcb **n = calloc(nb, sizeof(*n));
    if (!n)
        return; /* keep the old table: longer chains, still correct */
    t->conn_old = t->conn;
    t->conn_old_mask = t->conn_mask;
    t->conn_moved = 0;
    t->conn = n;
    t->conn_mask = nb - 1;
}

void tcp_hash_insert(struct tcpcb *tp)
{
    struct tcp_table *t = tp->st->tcp;
    if (t->nconn >= t->conn_mask + 1)
        conn_grow(t);
    conn_migrate(t, TCP_HASH_MIGRATE);
    struct tcpcb **b = conn_chain(t, conn_hash(t, &tp->sock.flow));
    tp->hnext = *b;
    *b = tp;
    t->nconn++;
}

void tcp_hash_remove(struct tcpcb *tp)
{
    struct tcp_table *t = tp->st->tcp;
    conn_migrate(t, TCP_HASH_MIGRATE);
    for (struct tcpcb **pp = conn_chain(t, conn_hash(t, &tp->sock.flow)); *pp;
         pp = &(*pp)->hnext) {
        if (*pp == tp) {
            *pp = tp->hnext;
            tp->hnext = NULL;
            t->nconn--;
            return;
        }
    }
}

struct tcpcb *tcp_lookup(struct ns_stack *st, const struct ns_flow *key)
{
    struct tcp_table *t = st->tcp;
    for (struct tcpcb *tp = *conn_chain(t, conn_hash(t, key)); tp; tp = tp->hnext)
        if (ns_flow_eq(&tp->sock.flow, key))
            return tp;
    return NULL;
}

struct tcpcb *tcp_hash_next(const struct tcp_table *t, uint32_t *pos, struct tcpcb *tp)
{
    if (tp && tp->hnext)
        return tp->hnext;
    uint32_t nconn = t->conn_mask + 1;
    uint32_t total = nconn + (t->conn_old ? t->conn_old_mask + 1 : 0);
    while (*pos < total) {
        uint32_t b = (*pos)++;
        struct tcpcb *first = b < nconn ? t->conn[b] : t->conn_old[b - nconn];
        if (first)
            return first;
    }
    return NULL;
}

void tcp_listen_insert(struct tcpcb *tp)
{
    struct tcp_table *t = tp->st->tcp;
    struct tcpcb **b = &t->listen[tp->sock.flow.lport & 255];
    tp->hnext = *b;
    *b = tp;
}

void tcp_listen_remove(struct tcpcb *tp)
{
    struct tcp_table *t = tp->st->tcp;
    if (t->transparent == tp) {
        t->transparent = NULL;
        ip_transparent_ref(tp->st, -1);
    }
    for (struct tcpcb **pp = &t->listen[tp->sock.flow.lport & 255]; *pp; pp = &(*pp)->hnext) {
        if (*pp == tp) {
            *pp = tp->hnext;
            tp->hnext = NULL;
            return;
        }
    }
}

void tcp_acceptq_add(struct tcpcb *l, struct tcpcb *tp)
{
    for (struct tcpcb **pp = &l->synq; *pp; pp = &(*pp)->qnext)
        if (*pp == tp) {
            *pp = tp->qnext;
            l->synq_len--;
            break;
        }
    tp->qnext = NULL;
    if (l->acceptq_tail)
        l->acceptq_tail->qnext = tp;
    else
        l->acceptq = tp;
    l->acceptq_tail = tp;
    l->acceptq_len++;
    sock_wake(tp->st, l->so, SOCK_WAKE_IN); /* tcp_child_process: parent's sk_data_ready */
}

struct tcpcb *tcp_lookup_listener(struct ns_stack *st, const struct ns_addr *laddr, uint16_t lport)
{
    struct tcpcb *wild = NULL;
    for (struct tcpcb *tp = st->tcp->listen[lport & 255]; tp; tp = tp->hnext) {
        const struct ns_flow *f = &tp->sock.flow;
        if (f->lport != lport)
            continue;
        if (!sock_family_accepts(&tp->sock, laddr))
            continue; /* an IPV6_V6ONLY listener takes no IPv4 SYN */
        if (ns_addr_eq(&f->local, laddr))
            return tp; /* an exact address beats the wildcard */
        if (ns_addr_is_any(&f->local) && !wild)
            wild = tp;
    }
    return wild;
}

/* Would `self` binding laddr and `other` overlap in their addresses
 * (Linux inet_rcv_saddr_equal: a wildcard, or the same, as families and
 * IPV6_V6ONLY allow)? Without a socket of our own (an AF_INET
 * connection's port search) the plain IPv4 rule. */
static bool addr_overlap(const struct ns_sock *self, const struct ns_addr *laddr,
                         const struct ns_sock *other)
{
    if (self)
        return sock_bind_addr_clash(self, laddr, other);
    const struct ns_addr *a = &other->flow.local;
    return ns_addr_is_any(a) || ns_addr_is_any(laddr) || ns_addr_eq(a, laddr);
}

/* Linux inet_csk_bind_conflict, simplified to what netsock has: a port is
 * taken when another socket holds it on an overlapping address, unless
 * both set SO_REUSEADDR and the holder is not listening, or both set
 * SO_REUSEPORT. Connections in TIME_WAIT yield to SO_REUSEADDR. */
bool tcp_port_in_use(struct ns_stack *st, const struct ns_addr *laddr, uint16_t lport,
                     const struct ns_sock *self)
{
    struct tcp_table *t = st->tcp;
    uint32_t my_flags = self ? self->flags : 0;
    for (struct tcpcb *tp = t->listen[lport & 255]; tp; tp = tp->hnext) {
        if (tp->sock.flow.lport != lport || (tp->so && tp->so == self))
            continue;
        if (!addr_overlap(self, laddr, &tp->sock))
            continue;
        if (tp->so && (tp->so->flags & my_flags & SO_F_REUSEPORT))
            continue;
        return true;
    }
    uint32_t pos = 0;
    for (struct tcpcb *tp = tcp_hash_next(t, &pos, NULL); tp; tp = tcp_hash_next(t, &pos, tp)) {
        if (tp->sock.flow.lport != lport || (tp->so && tp->so == self))
            continue;
        if (!addr_overlap(self, laddr, &tp->sock))
            continue;
        if (my_flags & SO_F_REUSEADDR) {
            if (!tp->so || (tp->so->flags & SO_F_REUSEADDR))
                continue;
        }
        if (tp->so && (tp->so->flags & my_flags & SO_F_REUSEPORT))
            continue;
        return true;
    }
    /* Bound but idle sockets (bind() without listen/connect). */
    for (struct ns_dlink *k = t->socks.head; k; k = k->next) {
        struct tcpcb *tp = NS_CONTAINER_OF(k, struct tcpcb, sock_link);
        struct ns_sock *so = &tp->sock;
        if (so == self || !(so->flags & SO_F_BOUND) || so->flow.lport != lport)
            continue;
        if (tp->state != TCPS_CLOSED)
            continue; /* counted above */
        if (!addr_overlap(self, laddr, so))
            continue;
        if ((so->flags & my_flags & SO_F_REUSEADDR) || (so->flags & my_flags & SO_F_REUSEPORT))
            continue;
        return true;
    }
    return false;
}

/* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), M a 4-microsecond timer, F SipHash-2-4 under a per-stack key. */
/* The bytes a flow's keyed hashes take in: the local and the remote
 * address (4 bytes each for IPv4, 16 for IPv6, network order), then the
 * local and the remote port (big-endian); `with_lport` false leaves the
 * local port out (RFC 6056's F(laddr, faddr, fport)). Returns the length
 * (at most 36). */
static size_t flow_bytes(const struct ns_flow *f, bool with_lport, uint8_t out[36])
{
    size_t n = 0;
    if (f->local.family == AF_INET) {
        ns_wr32(out, ns_addr_to_ip4(&f->local));
        ns_wr32(out + 4, ns_addr_to_ip4(&f->remote));
        n = 8;
    } else {
        memcpy(out, f->local.u.b, 16);
        memcpy(out + 16, f->remote.u.b, 16);
        n = 32;
    }
    if (with_lport) {
        ns_wr16(out + n, f->lport);
        n += 2;
    }
    ns_wr16(out + n, f->rport);
    return n + 2;
}

uint32_t tcp_new_isn(struct ns_stack *st, const struct ns_flow *f)
{
    if (st->tcp->isn_hook)
        return st->tcp->isn_hook(st, st->tcp->isn_hook_ctx); /* tests only (tcp.h) */
    uint8_t in[36];
    size_t n = flow_bytes(f, true, in);
    uint32_t h = (uint32_t)ns_siphash(st->tcp->isn_key, in, n);
    return h + (uint32_t)(st->now_us / 4);
}

void tcp_set_iss(struct tcpcb *tp)
{
    tp->iss = tcp_new_isn(tp->st, &tp->sock.flow);
    tp->snd_una = tp->snd_nxt = tp->snd_max = tp->snd_sml = tp->iss;
    tp->snd_data = tp->iss + 1;
    /* RFC 8985 §6.2 step 3 compares delivered segments with RACK.fack
     * modulo 2^32: left at 0 it would lie "above" every sequence number
     * of a connection whose ISS is at or above 2^31, and the first SACK
     * would look like reordering. */
    tp->rack_fack = tp->iss;
}

/* RFC 6056 §3.3.3 Algorithm 3 (simple hash-based): a per-destination offset
 * from a keyed hash, plus a global counter, walked until a free 4-tuple. */
int tcp_pick_port(struct ns_stack *st, const struct ns_flow *f)
{
    static const uint32_t lo = SOCK_EPHEMERAL_LO, n = SOCK_EPHEMERAL_HI - SOCK_EPHEMERAL_LO + 1;
    uint8_t in[36];
    size_t len = flow_bytes(f, false, in);
    uint32_t offset = (uint32_t)ns_siphash(st->tcp->port_key, in, len);
    uint32_t *next = &st->tcp->port_offsets[offset & 255];
    struct ns_flow k = *f;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t port = (uint16_t)(lo + (offset + *next + i) % n);
        k.lport = port;
        if (tcp_lookup(st, &k))
            continue;
        if (tcp_lookup_listener(st, &f->local, port))
            continue;
        *next += i + 1;
        return port;
    }
    return -EADDRNOTAVAIL; /* Linux connect(): no free local port */
}

/* ---- control segments ---------------------------------------------------------- */

void tcp_respond(struct ns_stack *st, const struct ns_flow *f, uint32_t seq, uint32_t ack,
                 uint8_t flags, uint16_t win)
{
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, NS_TCP_HLEN);
    if (!pb)
        return;
    struct ns_tcp_repr th = {
        .sport = f->lport, .dport = f->rport, .seq = seq, .ack = ack, .flags = flags, .win = win};
    uint8_t *p = ns_pbuf_data(pb);
    ns_tcp_emit(&th, p);
    /* RFC 9293 §3.1: the pseudo-header of the flow's family. */
    uint32_t sum = ns_csum_pseudo(&f->local, &f->remote, NS_IPPROTO_TCP, NS_TCP_HLEN);
    ns_wr16(p + 16, ns_csum_fold(ns_csum_add(sum, p, NS_TCP_HLEN)));
    if (flags & NS_TCP_RST)
        NS_STAT_INC(st, tcp_tx_rst);
    NS_STAT_INC(st, tcp_tx_segs);
    tcp_ip_output(st, NULL, f, NULL, true, pb);
}

int tcp_ip_output(struct ns_stack *st, const struct ip_egress *eg, const struct ns_flow *f,
                  const struct ns_sock *so, bool df, struct ns_pbuf *pb)
{
    if (f->remote.family == AF_INET6) {
        bool hops = so && so->hops6 >= 0;
        struct ip6_out o = {.src = f->local.u.ip6, .dst = f->remote.u.ip6,
                            .proto = NS_IPPROTO_TCP,
                            .hop_limit = hops ? (uint8_t)so->hops6 : 0, .hop_limit_set = hops,
                            .tclass = so ? so->tclass : 0, .oif = so ? so->bound_ifindex : 0,
                            .dontfrag = true};
        return eg ? ip6_output_via(st, eg, &o, pb) : ip6_output(st, &o, pb);
    }
    struct ip4_out o = {.src = ns_addr_to_ip4(&f->local), .dst = ns_addr_to_ip4(&f->remote),
                        .proto = NS_IPPROTO_TCP, .df = df,
                        .ttl = so ? so->ttl : 0, .tos = so ? so->tos : 0};
    return eg ? ip4_output_via(st, eg, &o, pb) : ip4_output(st, &o, pb);
}

void tcp_reset_for(struct ns_stack *st, const struct ns_flow *in, const struct ns_tcp_repr *th,
                   uint32_t len)
{
    /* RFC 9293 §3.10.7.1: never answer a reset; never to a broadcast. */
    if (th->flags & NS_TCP_RST)
        return;
    if (in->local.family == AF_INET6) {
        if (ns_ip6_is_multicast(&in->local.u.ip6))
            return;
    } else {
        uint32_t dst = ns_addr_to_ip4(&in->local);
        if (ip4_is_broadcast(st, dst) || ip4_is_multicast(dst))
            return;
    }
    if (th->flags & NS_TCP_ACK) {
        tcp_respond(st, in, th->ack, 0, NS_TCP_RST, 0);
    } else {
        uint32_t seglen = len + !!(th->flags & NS_TCP_SYN) + !!(th->flags & NS_TCP_FIN);
        tcp_respond(st, in, 0, th->seq + seglen, NS_TCP_RST | NS_TCP_ACK, 0);
    }
}

void tcp_set_error(struct tcpcb *tp, int err)
{
    if (tp->so && err) {
        tp->so->so_error = err;
        sock_wake(tp->st, tp->so, SOCK_WAKE_ERR); /* sk_error_report */
    }
}

/* Remove an embryonic or unaccepted child from its listener's queues. */
static void tcp_unlink_child(struct tcpcb *l, struct tcpcb *tp)
{
    for (struct tcpcb **pp = &l->synq; *pp; pp = &(*pp)->qnext) {
        if (*pp == tp) {
            *pp = tp->qnext;
            l->synq_len--;
            tp->listener = NULL;
            return;
        }
    }
    struct tcpcb *prev = NULL;
    for (struct tcpcb **pp = &l->acceptq; *pp; prev = *pp, pp = &(*pp)->qnext) {
        if (*pp == tp) {
            *pp = tp->qnext;
            if (l->acceptq_tail == tp)
                l->acceptq_tail = prev;
            l->acceptq_len--;
            tp->listener = NULL;
            return;
        }
    }
}

void tcp_close(struct tcpcb *tp)
{
    struct tcpcb *l = tp->listener;
    tcp_timers_cancel(tp);
    ns_tx_wait_cancel(tp->st, &tp->txw);
    if (tp->state == TCPS_LISTEN) {
        tcp_listen_remove(tp);
    } else if (tp->state != TCPS_CLOSED) {
        tcp_hash_remove(tp);
    }
    if (l) {
        tcp_unlink_child(l, tp);
        tp->flags |= TF_ORPHAN;
    }
    if (tp->state != TCPS_CLOSED && tp->state != TCPS_LISTEN)
        tp->done = true; /* Linux tcp_done: sk_shutdown = SHUTDOWN_MASK */
    tcp_state_change(tp, TCPS_CLOSED);
    if (!tp->so || (tp->flags & TF_ORPHAN))
        tcp_free(tp);
}

void tcp_drop(struct tcpcb *tp, int err)
{
    struct ns_stack *st = tp->st;
    if (tp->state >= TCPS_SYN_RECEIVED && tp->state != TCPS_TIME_WAIT) {
        tcp_respond(st, &tp->sock.flow, tp->snd_nxt, 0, NS_TCP_RST, 0);
        if (tp->state == TCPS_ESTABLISHED || tp->state == TCPS_CLOSE_WAIT)
            NS_STAT_INC(st, tcp_estab_resets);
    }
    if (tp->state < TCPS_ESTABLISHED && tp->state > TCPS_LISTEN)
        NS_STAT_INC(st, tcp_attempt_fails);
    tcp_set_error(tp, err);
    tcp_close(tp);
}

struct ns_dev *tcp_route_dev(struct tcpcb *tp)
{
    const struct ip_egress *eg = tcp_egress(tp);
    return eg->ifp ? eg->ifp->dev : NULL;
}

/* RFC 9293 §3.7.1, RFC 6691: the MSS to announce is the route MTU less
 * the fixed IPv4 and TCP headers. */
uint16_t tcp_mss_for_dev(const struct ns_dev *dev)
{
    uint32_t mtu = dev ? dev->mtu : 1500;
    uint32_t mss = mtu - NS_IP4_HLEN - NS_TCP_HLEN;
    return (uint16_t)(mss > 65495 ? 65495 : mss);
}

uint16_t tcp_mss_for_egress(struct ns_stack *st, const struct ip_egress *eg,
                            const struct ns_addr *dst)
{
    if (!eg->v6)
        return tcp_mss_for_dev(eg->ifp ? eg->ifp->dev : NULL);
    uint32_t mtu = eg->ifp ? ip6_path_mtu(st, eg->ifp, &dst->u.ip6) : NS_IP6_MIN_MTU;
    uint32_t mss = mtu - NS_IP6_HLEN - NS_TCP_HLEN;
    return (uint16_t)(mss > 65475 ? 65475 : mss);
}

uint16_t tcp_mss_for_route(struct tcpcb *tp)
{
    return tcp_mss_for_egress(tp->st, tcp_egress(tp), &tp->sock.flow.remote);
}

uint32_t tcp_path_mtu(struct tcpcb *tp)
{
    uint32_t mtu = (uint32_t)tcp_mss_for_route(tp) + tcp_ip_hlen(&tp->sock.flow) + NS_TCP_HLEN;
    return tp->pmtu && tp->pmtu < mtu ? tp->pmtu : mtu;
}

uint16_t tcp_effective_mss(struct tcpcb *tp)
{
    uint32_t mss = tcp_path_mtu(tp) - tcp_ip_hlen(&tp->sock.flow) - NS_TCP_HLEN;
    if (tp->peer_mss < mss)
        mss = tp->peer_mss;
    if (tp->user_mss && tp->user_mss < mss)
        mss = tp->user_mss;
    /* RFC 7323 §3.2 / Linux tcp_current_mss: the options every segment
     * carries come out of the MSS, so no segment exceeds it. */
    mss -= tcp_opts_hdr_len(tp);
    return (uint16_t)(mss < 64 ? 64 : mss);
}

void tcp_pmtu_check(struct tcpcb *tp)
{
    /* Linux ip_rt_mtu_expires (600 s): a learned path MTU is forgotten,
     * the route's used again (RFC 1191 §6.3: "periodically increase"). */
    if (!tp->pmtu || tp->st->now_us < tp->pmtu_expires_us)
        return;
    tp->pmtu = 0;
    tp->pmtu_locked = false;
    tp->pmtu_expires_us = 0;
    NS_STAT_INC(tp->st, tcp_pmtu_expired);
    if (TCPS_HAVEESTABLISHED(tp->state))
        tp->mss = tcp_effective_mss(tp);
}

uint8_t tcp_wscale_for(const struct ns_stack *st, uint32_t cap, bool locked)
{
    uint32_t most = cap;
    if (st->cfg.tcp_moderate_rcvbuf && !locked && st->cfg.tcp_rmem_max > most)
        most = st->cfg.tcp_rmem_max;
    uint8_t shift = 0;
    while (shift < TCP_WSCALE_MAX && (most >> shift) > 65535u)
        shift++;
    return shift;
}

void tcp_opts_init(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    tp->flags &= ~TF_OPT_MASK;
    tp->snd_wscale = tp->rcv_wscale = tp->peer_wscale = 0;
    tp->ts_recent = 0;
    tp->ts_recent_age_us = 0;
    /* RFC 7323 §2.3: the smallest shift that lets the window field cover
     * the largest the receive buffer may become, since the shift cannot
     * change later: tcp_rmem_max while autotuning may grow the buffer
     * (Linux tcp_select_initial_window sizes it from tcp_rmem[2]), the
     * buffer itself when SO_RCVBUF fixed it or autotuning is off. */
    tp->req_rcv_wscale = tcp_wscale_for(st, tp->rcvbuf.cap, tp->flags & TF_RCVBUF_LOCK);
    if (st->cfg.tcp_window_scaling)
        tp->flags |= TF_REQ_SCALE;
    if (st->cfg.tcp_timestamps)
        tp->flags |= TF_REQ_TSTMP;
    if (st->cfg.tcp_sack)
        tp->flags |= TF_REQ_SACK;
}

/* RFC 7323 §5.4: start each connection's timestamp clock at an offset
 * from a keyed hash of its 4-tuple (Linux secure_tcp_ts_off), so TSvals
 * reveal neither uptime nor other connections' clocks. The key is the ISN
 * secret with a domain tag, so no extra randomness is drawn from the
 * stack's generator. */
uint32_t tcp_ts_offset(struct ns_stack *st, const struct ns_flow *f)
{
    uint8_t in[37];
    size_t n = flow_bytes(f, true, in);
    in[n++] = 'T';
    return (uint32_t)ns_siphash(st->tcp->isn_key, in, n);
}

/* The receive window we can offer: free space in the receive buffer,
 * capped to what the 16-bit field carries without window scaling. */
uint32_t tcp_rcv_window(const struct tcpcb *tp)
{
    /* Out-of-order data lies inside this space already (it is held apart
     * until the hole fills), so the right edge never moves left. Under
     * memory pressure only what the storage can take (tcp_mem.c); the
     * edge already offered is kept by the callers. */
    uint32_t space = tcp_mem_rcv_window(tp, ns_ring_space(&tp->rcvbuf));
    uint32_t max = 65535u << tp->rcv_wscale;
    return space > max ? max : space;
}

void tcp_rcv_grow_window(struct tcpcb *tp, uint32_t len)
{
    /* Linux tcp_grow_window: a window that opens with the data a sender
     * actually sends, not all at once (Linux begins at the SYN's
     * window and, for payload-sized buffers as here, adds
     * max(2 * advmss, 2 * len) per segment). */
    uint32_t space = tcp_rcv_window(tp), most = tcp_rcv_window_max(tp);
    if (space < most)
        most = space;
    if (most <= tp->rcv_ssthresh)
        return;
    uint32_t incr = 2u * tp->mss > 2u * len ? 2u * tp->mss : 2u * len;
    uint32_t room = most - tp->rcv_ssthresh;
    tp->rcv_ssthresh += incr < room ? incr : room;
}

uint32_t tcp_rcv_ring_limit(const struct tcpcb *tp)
{
    uint32_t offered = SEQ_GT(tp->rcv_adv, tp->rcv_nxt) ? tp->rcv_adv - tp->rcv_nxt : 0;
    uint32_t most = tp->rcvbuf.len + offered;
    return most > tp->rcvbuf.cap ? most : tp->rcvbuf.cap;
}

uint32_t tcp_rcv_window_max(const struct tcpcb *tp)
{
    uint32_t max = 65535u << tp->rcv_wscale;
    return tp->rcvbuf.cap > max ? max : tp->rcvbuf.cap;
}

uint32_t tcp_initial_window(const struct tcpcb *tp)
{
    uint32_t mss = tp->mss;
    uint32_t b = 2 * mss > 14600 ? 2 * mss : 14600;
    return 10 * mss < b ? 10 * mss : b;
}

/* Dynamic right-sizing of the receive buffer, as Linux
 * tcp_rcv_space_adjust. Once per RTT (the connection's SRTT: from the
 * handshake, and from every ACK of data we send) the bytes the application
 * read in that RTT are compared with the largest such count so far
 * (rcvq_space); when they exceed it the sender's rate rose, and the buffer
 * grows to
 *     rcvwin = 2*copied + 16*MSS            (a loss costs no throughput)
 *     rcvwin += 2 * rcvwin * (copied - rcvq_space) / rcvq_space
 *                                           (the sender may double per RTT:
 *                                            our window is used one RTT on)
 * bounded by cfg.tcp_rmem_max and by what the negotiated window shift can
 * advertise. The buffer here is payload bytes only, so no skb overhead
 * factor enters (Linux's tcp_space_from_win). The buffer only grows, so
 * the window already advertised is never taken back (RFC 9293
 * §3.8.6.2.2); its storage follows the data actually queued (base/ring.h),
 * so a large cap costs nothing while the application keeps up. Not done
 * when SO_RCVBUF was set (TF_RCVBUF_LOCK, Linux SOCK_RCVBUF_LOCK) or
 * cfg.tcp_moderate_rcvbuf is off. */
void tcp_rcv_rtt_sample(struct tcpcb *tp, uint64_t rtt_us)
{
    /* Biased towards the minimum, as Linux tcp_rcv_rtt_update: a sample
     * below the estimate is taken as is, one above moves it by 1/8. */
    if (tp->rcv_rtt_us == 0 || rtt_us < tp->rcv_rtt_us)
        tp->rcv_rtt_us = rtt_us ? rtt_us : 1;
    else
        tp->rcv_rtt_us += (rtt_us - tp->rcv_rtt_us) / 8;
}

void tcp_rcv_space_adjust(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    if (!TCPS_HAVEESTABLISHED(tp->state) || tp->state == TCPS_TIME_WAIT)
        return;
    uint32_t copied_seq = tp->rcv_nxt - tp->rcvbuf.len; /* next byte the user reads */
    if (tp->rcvq_time_us == 0) {
        /* First read: start measuring (Linux tcp_init_buffer_space starts
         * from the initial window's worth). */
        uint32_t iw = tcp_initial_window(tp);
        tp->rcvq_space = iw < tp->rcvbuf.cap ? iw : tp->rcvbuf.cap;
        tp->rcvq_seq = copied_seq;
        tp->rcvq_time_us = st->now_us;
        return;
    }
    /* Once per RTT: the receiver's own estimate when timestamps give one
     * (a pure receiver's SRTT is the handshake's only), else SRTT. */
    uint64_t rtt = tp->rcv_rtt_us ? tp->rcv_rtt_us : tp->srtt_us;
    if (rtt == 0 || st->now_us - tp->rcvq_time_us < rtt)
        return;
    uint32_t copied = copied_seq - tp->rcvq_seq;
    if (copied > tp->rcvq_space) {
        /* Not under memory pressure (Linux tcp_grow_window). */
        if (st->cfg.tcp_moderate_rcvbuf && !(tp->flags & TF_RCVBUF_LOCK) && tp->rcvq_space &&
            !tcp_mem_pressure(st)) {
            uint64_t rcvwin = 2ull * copied + 16ull * tp->mss;
            uint64_t grow = rcvwin * (copied - tp->rcvq_space) / tp->rcvq_space;
            rcvwin += 2 * grow;
            uint64_t most = st->cfg.tcp_rmem_max;
            uint64_t advertisable = 65535ull << tp->rcv_wscale;
            if (most > advertisable)
                most = advertisable;
            if (rcvwin > most)
                rcvwin = most;
            if (rcvwin > tp->rcvbuf.cap && ns_ring_set_cap(&tp->rcvbuf, (uint32_t)rcvwin) &&
                tp->so)
                tp->so->rcvbuf = tp->rcvbuf.cap; /* SO_RCVBUF reads the new size, as Linux */
        }
        tp->rcvq_space = copied;
    }
    tp->rcvq_seq = copied_seq;
    tp->rcvq_time_us = st->now_us;
}

/* Send-buffer growth, as Linux tcp_sndbuf_expand: room for two windows
 * (at least two initial windows), so a full window can be in flight while
 * the application queues the next one, bounded by cfg.tcp_wmem_max. The
 * window is cwnd, or the largest window the peer offered when that is
 * smaller: netsock grows cwnd even when the peer's window, not cwnd,
 * limits the flight (Linux does not: tcp_is_cwnd_limited), and a buffer
 * beyond twice what the peer can take would only hold data. Only when the
 * congestion window is not already full (Linux tcp_should_expand_sndbuf:
 * then the buffer, not the network, is what holds the sender back), and
 * not when SO_SNDBUF was set (TF_SNDBUF_LOCK). The buffer never shrinks. */
void tcp_sndbuf_expand(struct tcpcb *tp)
{
    struct ns_stack *st = tp->st;
    if ((tp->flags & TF_SNDBUF_LOCK) || !TCPS_HAVEESTABLISHED(tp->state) ||
        tcp_mem_pressure(st))
        return; /* Linux tcp_should_expand_sndbuf: not under memory pressure */
    uint32_t iw = tcp_initial_window(tp);
    if (tcp_flight_size(tp) >= tp->cwnd && tp->sndbuf.cap >= 2 * iw)
        return;
    uint32_t wnd = tp->cwnd;
    if (tp->max_sndwnd && tp->max_sndwnd < wnd)
        wnd = tp->max_sndwnd;
    uint64_t want = 2ull * (wnd > iw ? wnd : iw);
    if (want > st->cfg.tcp_wmem_max)
        want = st->cfg.tcp_wmem_max;
    if (want > tp->sndbuf.cap && ns_ring_set_cap(&tp->sndbuf, (uint32_t)want) && tp->so)
        tp->so->sndbuf = tp->sndbuf.cap;
}
