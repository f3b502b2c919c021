/* tcp/tcp_usrreq.c — TCP's socket operations: the only file socket/
 * calls into (STYLE §4).
 *
 * Read first: RFC 9293 §3.10.1-§3.10.6 (the user calls OPEN, SEND,
 * RECEIVE, CLOSE, ABORT, STATUS and their answers in each state), Linux
 * tcp(7) for the errno values and options, RFC 2525 §2.17 (closing with
 * unread data sends a reset).
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/socket.h"
#include "tcp/tcp.h"

static struct tcpcb *TP(struct ns_sock *so) { return tcp_sk(so); }

static int tcp_bind(struct ns_stack *st, struct ns_sock *so, const struct ns_addr *addr,
                    uint16_t port)
{
    if (port == 0) {
        /* inet_csk_get_port: any free port from the ephemeral range. */
        uint32_t n = SOCK_EPHEMERAL_HI - SOCK_EPHEMERAL_LO + 1;
        uint32_t start = (uint32_t)ns_rng_below(&st->rng, n);
        uint32_t i;
        for (i = 0; i < n; i++) {
            port = (uint16_t)(SOCK_EPHEMERAL_LO + (start + i) % n);
            if (!tcp_port_in_use(st, addr, port, so))
                break;
        }
        if (i == n)
            return -EADDRINUSE;
    } else if (tcp_port_in_use(st, addr, port, so)) {
        return -EADDRINUSE;
    }
    so->flow.local = *addr;
    so->flow.lport = port;
    so->flags |= SO_F_BOUND;
    if (!ns_addr_is_any(addr))
        TP(so)->flags |= TF_BINDADDR_LOCK;
    return 0;
}

static void tcp_apply_bufs(struct ns_sock *so)
{
    struct tcpcb *tp = TP(so);
    ns_ring_set_cap(&tp->rcvbuf, so->rcvbuf);
    ns_ring_set_cap(&tp->sndbuf, so->sndbuf);
}

static int tcp_listen(struct ns_stack *st, struct ns_sock *so, int backlog)
{
    struct tcpcb *tp = TP(so);
    if (tp->state != TCPS_CLOSED && tp->state != TCPS_LISTEN)
        return -EINVAL; /* inet_listen: only from CLOSE or LISTEN */
    /* Linux __sys_listen: clamped to net.core.somaxconn (cfg.somaxconn,
     * 4096 by default); negative means 0. */
    if (backlog < 0)
        backlog = 0;
    if ((uint32_t)backlog > st->cfg.somaxconn)
        backlog = (int)st->cfg.somaxconn;
    if (tp->state == TCPS_CLOSED)
        tcp_shared_clear(tp); /* empty queues in place of any recovery state */
    tp->backlog = (uint32_t)backlog;
    if (tp->state == TCPS_LISTEN)
        return 0;
    if (!(so->flags & SO_F_BOUND)) {
        struct ns_addr any = sock_any(so);
        int rc = tcp_bind(st, so, &any, 0); /* listen() autobinds */
        if (rc < 0)
            return rc;
    }
    /* Two listeners on one address and port need SO_REUSEPORT on both. */
    for (struct tcpcb *o = st->tcp->listen[so->flow.lport & 255]; o; o = o->hnext)
        if (o->sock.flow.lport == so->flow.lport && ns_addr_eq(&o->sock.flow.local, &so->flow.local) &&
            !(o->so && (o->so->flags & so->flags & SO_F_REUSEPORT)))
            return -EADDRINUSE;
    if (so->flags & SO_F_TRANSPARENT) {
        /* The stack's one catch-all listener (socket.h). */
        if (st->tcp->transparent)
            return -EADDRINUSE;
        st->tcp->transparent = tp;
        ip_transparent_ref(st, 1);
    }
    tcp_apply_bufs(so);
    tp->flags |= (so->flags & SO_F_KEEPALIVE) ? TF_KEEPALIVE : 0;
    tcp_state_change(tp, TCPS_LISTEN);
    tcp_listen_insert(tp);
    return 0;
}

static int tcp_accept(struct ns_stack *st, struct ns_sock *so, int flags, struct ns_sock **child)
{
    (void)st;
    struct tcpcb *l = TP(so);
    if (l->state != TCPS_LISTEN)
        return -EINVAL; /* inet_accept: not listening */
    struct tcpcb *tp = l->acceptq;
    if (!tp)
        return -EAGAIN;
    l->acceptq = tp->qnext;
    if (!l->acceptq)
        l->acceptq_tail = NULL;
    l->acceptq_len--;
    tp->qnext = NULL;
    tp->listener = NULL;
    /* The connection's own socket becomes the user's (its 4-tuple is
     * already there). */
    tcp_sock_attach(tp);
    struct ns_sock *nso = tp->so;
    nso->rcvbuf = tp->rcvbuf.cap;
    nso->sndbuf = tp->sndbuf.cap;
    /* The new socket inherits the listener's options (Linux). */
    nso->flags |= so->flags & (SO_F_KEEPALIVE | SO_F_REUSEADDR | SO_F_REUSEPORT);
    nso->flags |= SO_F_BOUND | SO_F_CONNECTED;
    if (flags & SOCK_NONBLOCK)
        nso->flags |= SO_F_NONBLOCK;
    nso->ttl = so->ttl;
    nso->tos = so->tos;
    nso->rcvtimeo_us = so->rcvtimeo_us;
    nso->sndtimeo_us = so->sndtimeo_us;
    nso->rcvlowat = so->rcvlowat;
    nso->linger_onoff = so->linger_onoff;
    nso->linger_s = so->linger_s;
    nso->mark = so->mark;
    nso->priority = so->priority;
    if (so->flags & SO_F_KEEPALIVE) {
        /* The connection was established before it had a socket, so its
         * keepalive timer (RFC 1122 §4.2.3.6) starts now. */
        tp->flags |= TF_KEEPALIVE;
        tcp_arm_keep(tp);
    }
    *child = nso;
    return 0;
}

static void tcp_close_listener(struct tcpcb *l);

/* Abort whatever the connection is doing and return to CLOSED, keeping
 * the socket (connect(AF_UNSPEC), Linux tcp_disconnect). A listener stops
 * listening: the connections nobody accepted go as on close (Linux
 * inet_csk_listen_stop), so none keeps a pointer to it. */
static void tcp_disconnect(struct tcpcb *tp)
{
    struct ns_sock *so = tp->so;
    if (tp->state == TCPS_LISTEN) {
        tcp_close_listener(tp);
        tcp_listen_remove(tp);
    } else if (tp->state != TCPS_CLOSED) {
        if (tp->state >= TCPS_SYN_RECEIVED && tp->state != TCPS_TIME_WAIT)
            tcp_respond(tp->st, &tp->sock.flow, tp->snd_nxt, 0, NS_TCP_RST, 0);
        tcp_hash_remove(tp);
    }
    tcp_timers_cancel(tp);
    tcp_reass_flush(tp);
    ns_ring_drop(&tp->sndbuf, tp->sndbuf.len);
    ns_ring_drop(&tp->rcvbuf, tp->rcvbuf.len);
    tcp_state_change(tp, TCPS_CLOSED);
    tp->done = tp->rcvd_fin = false;
    tp->flags &= TF_NODELAY | TF_CORK | TF_KEEPALIVE | TF_BUF_LOCKS | TF_BINDADDR_LOCK;
    so->flags &= ~(SO_F_CONNECTED | SO_F_CONNECTING | SO_F_SHUT_RD | SO_F_SHUT_WR);
    /* tcp_disconnect: the peer is forgotten, and the local address
     * unless bind() named it (inet_reset_saddr); the port stays. */
    so->flow.remote = sock_any(so);
    so->flow.rport = 0;
    if (!(tp->flags & TF_BINDADDR_LOCK))
        so->flow.local = sock_any(so);
}

static int tcp_connect(struct ns_stack *st, struct ns_sock *so, const struct ns_addr *to,
                       uint16_t port)
{
    struct tcpcb *tp = TP(so);
    if (to->family == AF_UNSPEC) {
        tcp_disconnect(tp);
        return 0;
    }
    /* __inet_stream_connect: the socket's state (SS_CONNECTING while an
     * EINPROGRESS attempt has not been reported on, SS_CONNECTED once it
     * has or a blocking connect completed) and the connection's decide. */
    bool connecting = so->flags & SO_F_CONNECTING;
    switch (tp->state) {
    case TCPS_CLOSED:
        if (connecting) {
            /* The attempt (or the connection it became) ended by a RST, a
             * timeout or an ICMP error: that error, or ECONNABORTED once
             * it was read (SO_ERROR); the socket is unconnected again, and
             * the next connect() starts a new attempt. */
            int e = so->so_error ? so->so_error : ECONNABORTED;
            so->so_error = 0;
            so->flags &= ~(SO_F_CONNECTING | SO_F_CONNECTED);
            return -e;
        }
        if (so->flags & SO_F_CONNECTED)
            return -EISCONN; /* SS_CONNECTED: whatever became of the connection */
        break;
    case TCPS_SYN_SENT:
    case TCPS_SYN_RECEIVED:
        return connecting ? -EALREADY : -EISCONN;
    case TCPS_LISTEN:
        return -EISCONN;
    default:
        if (connecting) {
            /* The first connect() after an EINPROGRESS one that
             * completed: 0, and the socket is connected (then EISCONN). */
            so->flags &= ~SO_F_CONNECTING;
            return 0;
        }
        return -EISCONN;
    }
    struct ns_addr peer, src;
    if (to->family == AF_INET6) {
        /* tcp_v6_connect (the socket layer refused multicast): the
         * egress and the source address for it, none: EADDRNOTAVAIL. */
        peer = *to;
        const struct ip_egress *eg = ip6_egress(st, &so->egress, &peer.u.ip6, so->bound_ifindex);
        if (eg->err)
            return -ENETUNREACH;
        src = ns_addr_is_any(&so->flow.local) ? ip_egress_src(eg) : so->flow.local;
        if (ns_addr_is_any(&src))
            return -EADDRNOTAVAIL;
    } else {
        uint32_t addr = ns_addr_to_ip4(to);
        if (addr == 0)
            addr = INADDR_LOOPBACK; /* Linux: connecting to 0.0.0.0 means this host */
        /* tcp_v4_connect: no route, or a broadcast/multicast destination. */
        if (ip4_is_broadcast(st, addr) || ip4_is_multicast(addr))
            return -ENETUNREACH;
        /* The egress, decided here and kept for the connection's segments;
         * to an address of this host from that address itself. */
        const struct ip_egress *eg = ip4_egress(st, &so->egress, addr);
        if (eg->err)
            return -ENETUNREACH;
        peer = ns_addr_ip4(addr);
        src = ns_addr_ip4(eg->local ? addr : eg->src);
        if (!ns_addr_is_any(&so->flow.local))
            src = so->flow.local;
    }
    /* The connection's 4-tuple (the one copy: the socket's flow). */
    struct ns_flow f = {.local = src, .remote = peer,
                        .lport = so->flow.lport, .rport = port, .proto = so->flow.proto};
    if (so->flags & SO_F_BOUND) {
        if (tcp_lookup(st, &f))
            return -EADDRNOTAVAIL;
    } else {
        int p = tcp_pick_port(st, &f);
        if (p < 0)
            return p;
        f.lport = (uint16_t)p;
        so->flags |= SO_F_BOUND;
    }
    so->so_error = 0;
    so->flow = f;
    tcp_apply_bufs(so);
    if (so->flags & SO_F_KEEPALIVE)
        tp->flags |= TF_KEEPALIVE;
    tp->linger_zero = 0;
    /* RFC 9293 §3.10.1 OPEN (active): ISS, <SEQ=ISS><CTL=SYN>, SYN-SENT. */
    tcp_set_iss(tp);
    tp->snd_wnd = 0;
    tp->max_sndwnd = 0;
    tp->rxt_shift = 0;
    tp->rto_us = TCP_RTO_INITIAL_US;
    tp->srtt_us = tp->rttvar_us = 0;
    tp->rcvq_time_us = 0; /* autotuning measures afresh */
    tp->rcvd_fin = false;
    tp->done = false;
    tp->soft_error = 0;
    tp->flags &= TF_NODELAY | TF_CORK | TF_KEEPALIVE | TF_BUF_LOCKS | TF_BINDADDR_LOCK;
    tcp_opts_init(tp); /* RFC 7323: WS and TSopt on our SYN, per the stack's switches */
    tp->ts_offset = tcp_ts_offset(st, &so->flow);
    tp->mss = tcp_mss_for_route(tp);
    if (tp->user_mss && tp->user_mss < tp->mss)
        tp->mss = tp->user_mss;
    tp->cc->init(tp);
    tcp_state_change(tp, TCPS_SYN_SENT);
    tcp_hash_insert(tp);
    so->flags |= SO_F_CONNECTED | SO_F_CONNECTING;
    NS_STAT_INC(st, tcp_active_opens);
    tcp_output(tp);
    return -EINPROGRESS;
}

/* Linux tcp_sendmsg ignores a destination address: so do we. */

static ssize_t tcp_sendmsg(struct ns_stack *st, struct ns_sock *so, const struct msghdr *msg,
                           size_t len, int flags)
{
    struct tcpcb *tp = TP(so);
    switch (tp->state) {
    case TCPS_ESTABLISHED:
    case TCPS_CLOSE_WAIT:
        break;
    case TCPS_SYN_SENT:
    case TCPS_SYN_RECEIVED:
        return -EAGAIN; /* sk_stream_wait_connect: wait for the handshake */
    default:
        return -EPIPE;  /* never connected, or our FIN is out */
    }
    if (tp->flags & TF_NEEDFIN)
        return -EPIPE;
    if (msg->msg_controllen) {
        /* tcp_sendmsg_locked: SOL_SOCKET messages are checked, others
         * ignored; any error is EINVAL. */
        struct sock_cmsg cm;
        int rc = sock_cmsg_send(msg, SOCK_CMSG_TCP, &cm);
        if (rc < 0)
            return rc;
    }
    if (len == 0)
        return 0;
    tcp_sndbuf_expand(tp); /* room for ~2 cwnd unless SO_SNDBUF set (Linux) */
    uint32_t space = ns_ring_space(&tp->sndbuf);
    if (tp->notsent_lowat) {
        /* Linux tcp_stream_memory_free: no new segment's worth once the
         * unsent bytes reach TCP_NOTSENT_LOWAT; below it, up to the mark
         * or one segment (the skb being filled), whichever is more. */
        uint32_t notsent = tcp_notsent(tp);
        if (notsent >= tp->notsent_lowat) {
            so->flags |= SO_F_NOSPACE;
            return -EAGAIN;
        }
        uint32_t room = tp->notsent_lowat - notsent;
        if (room < tp->mss)
            room = tp->mss;
        if (space > room)
            space = room;
    }
    if (space < len)
        so->flags |= SO_F_NOSPACE; /* tcp_sendmsg_locked, wait_for_space */
    if (space == 0)
        return -EAGAIN;
    /* The stack-wide memory limit (tcp_mem.c): above tcp_mem_high only
     * what the storage already holds room for (Linux sk_stream_wait_memory). */
    uint32_t want = len < space ? (uint32_t)len : space;
    uint32_t take = tcp_mem_ring_take(tp, &tp->sndbuf, TCP_MEM_SND, want, tp->sndbuf.cap);
    if (take < want)
        NS_STAT_INC(st, tcp_mem_snd_refused);
    if (take < len)
        so->flags |= SO_F_NOSPACE;
    if (take == 0)
        return -EAGAIN;
    space = take;
    size_t done = 0;
    for (size_t i = 0; i < msg->msg_iovlen && done < len && space; i++) {
        size_t n = msg->msg_iov[i].iov_len;
        if (n > len - done)
            n = len - done;
        if (n > space)
            n = space;
        uint32_t w = ns_ring_write(&tp->sndbuf, msg->msg_iov[i].iov_base, (uint32_t)n);
        done += w;
        space -= w;
        if (w < n)
            break;
    }
    if (done == 0)
        return -ENOBUFS;
    if (flags & MSG_OOB) {
        /* Linux tcp_mark_urg: the last byte written is urgent; SND.UP
         * points past it (RFC 6093 §3) and urgent mode lasts until it is
         * acknowledged (tcp_clean_rtx_queue). */
        tp->snd_up = tp->snd_data + tp->sndbuf.len;
        tp->urg_mode = true;
    }
    /* Linux tcp_push: after a send with MSG_MORE, push as under TCP_CORK
     * (whole segments go, a smaller tail waits). What sends the tail is
     * what would for TCP_NODELAY off: the next send without MSG_MORE, an
     * ACK that Nagle's rule lets it follow, or with nothing in flight the
     * persist timer after max(RTO, 200 ms) (tcp_check_probe_timer). */
    if (flags & MSG_MORE)
        tp->flags |= TF_MORE;
    tcp_output(tp);
    tp->flags &= ~TF_MORE;
    return (ssize_t)done;
}

uint32_t tcp_copied_seq(const struct tcpcb *tp)
{
    return tp->rcv_nxt - tp->rcvbuf.len - (tp->rcvd_fin || TCPS_HAVERCVDFIN(tp->state));
}

/* Linux tcp_recv_urg: recv(MSG_OOB) reads the urgent byte kept out of
 * the stream, once (MSG_PEEK leaves it); never waits. */
static ssize_t tcp_recv_urg(struct tcpcb *tp, struct msghdr *msg, int flags)
{
    struct ns_sock *so = &tp->sock;
    if ((so->flags & SO_F_OOBINLINE) || tp->urg_state == TCP_URG_NONE ||
        tp->urg_state == TCP_URG_READ)
        return -EINVAL;
    if (tp->state == TCPS_CLOSED && !(tp->rcvd_fin || TCPS_HAVERCVDFIN(tp->state)))
        return -ENOTCONN;
    if (tp->urg_state == TCP_URG_VALID) {
        if (!(flags & MSG_PEEK))
            tp->urg_state = TCP_URG_READ;
        msg->msg_flags |= MSG_OOB;
        size_t room = 0;
        for (size_t i = 0; i < msg->msg_iovlen && !room; i++)
            if (msg->msg_iov[i].iov_len) {
                room = 1;
                if (!(flags & MSG_TRUNC)) {
                    if (!msg->msg_iov[i].iov_base)
                        return -EFAULT;
                    memcpy(msg->msg_iov[i].iov_base, &tp->urg_byte, 1);
                }
            }
        if (!room)
            msg->msg_flags |= MSG_TRUNC;
        return (ssize_t)room;
    }
    if (tp->state == TCPS_CLOSED || (so->flags & SO_F_SHUT_RD) || tp->rcvd_fin ||
        TCPS_HAVERCVDFIN(tp->state))
        return 0;
    return -EAGAIN;
}

static ssize_t tcp_recvmsg(struct ns_stack *st, struct ns_sock *so, struct msghdr *msg, int flags)
{
    (void)st;
    struct tcpcb *tp = TP(so);
    if (tp->state == TCPS_LISTEN)
        return -ENOTCONN;
    msg->msg_flags = 0;
    msg->msg_controllen = 0;
    if (msg->msg_name)
        msg->msg_namelen = 0;
    if (flags & MSG_OOB)
        return tcp_recv_urg(tp, msg, flags);
    size_t want = 0;
    for (size_t i = 0; i < msg->msg_iovlen; i++)
        want += msg->msg_iov[i].iov_len;
    /* Linux tcp_recvmsg_locked at the urgent mark: a read stops before
     * the urgent byte; one that starts at it steps over it (unless
     * SO_OOBINLINE), the byte being read apart with MSG_OOB. */
    uint32_t skip = 0, avail = tp->rcvbuf.len;
    if (tp->urg_state != TCP_URG_NONE) {
        uint32_t off = tp->urg_seq - tcp_copied_seq(tp);
        if (off == 0 && avail && !(so->flags & SO_F_OOBINLINE))
            skip = 1;
        else if (off && off < avail)
            avail = off;
    }
    if (skip && avail == 1 && want && !(flags & MSG_PEEK)) {
        /* Only the urgent byte is left: passing it ends the mark. */
        ns_ring_drop(&tp->rcvbuf, 1);
        tp->urg_state = TCP_URG_NONE;
        skip = 0;
        avail = 0;
        if (tp->rcvbuf.len == 0)
            tcp_mem_reclaim(tp);
    }
    if (avail - skip == 0 || want == 0) {
        if (want == 0 && avail - skip)
            return 0;
        /* tcp_recvmsg: once the FIN came (SOCK_DONE), end of stream, also
         * after a reset that followed it (its error stays for SO_ERROR). */
        if (TCPS_HAVERCVDFIN(tp->state) || tp->rcvd_fin || (so->flags & SO_F_SHUT_RD))
            return 0; /* end of stream */
        if (tp->state == TCPS_CLOSED && !so->so_error) {
            /* Never connected: ENOTCONN; after a completed close: EOF. */
            return (so->flags & SO_F_CONNECTED) ? 0 : -ENOTCONN;
        }
        return -EAGAIN;
    }
    size_t done = 0;
    avail -= skip;
    for (size_t i = 0; i < msg->msg_iovlen && done < avail; i++) {
        size_t len = msg->msg_iov[i].iov_len;
        uint32_t n = len < avail - done ? (uint32_t)len : (uint32_t)(avail - done);
        if (!(flags & MSG_TRUNC) && n) {
            /* tcp_recvmsg_locked: a copy that faults ends the read, EFAULT
             * if nothing was copied; MSG_TRUNC copies nothing. */
            if (!msg->msg_iov[i].iov_base) {
                if (done == 0)
                    return -EFAULT;
                break;
            }
            n = ns_ring_peek(&tp->rcvbuf, skip + (uint32_t)done, msg->msg_iov[i].iov_base, n);
        }
        done += n;
    }
    if (!(flags & MSG_PEEK)) {
        ns_ring_drop(&tp->rcvbuf, skip + (uint32_t)done);
        if (tp->urg_state != TCP_URG_NONE && SEQ_GT(tcp_copied_seq(tp), tp->urg_seq))
            tp->urg_state = TCP_URG_NONE; /* read past the mark */
        /* Dynamic right-sizing: maybe grow the buffer to what the
         * application reads per RTT (Linux tcp_rcv_space_adjust). */
        tcp_rcv_space_adjust(tp);
        /* Queued data the memory limit kept out of the ring fits now. */
        if (TCPS_HAVEESTABLISHED(tp->state))
            tcp_input_pull(tp);
        if (tp->rcvbuf.len == 0)
            tcp_mem_reclaim(tp); /* drained: maybe give the storage back */
        /* Reading opened the window: maybe tell the peer (tcp_rcvd
         * applies the receiver-side SWS rule). */
        if (TCPS_HAVEESTABLISHED(tp->state) && tp->state != TCPS_TIME_WAIT)
            tcp_rcvd(tp);
    }
    return (ssize_t)done;
}

/* Linux tcp_poll, bit for bit: the listener's accept queue; HUP when
 * shut both ways or closed (a fresh socket too); end of stream and
 * SHUT_RD readable; once past the handshake, data readable, writable by
 * sk_stream_is_writeable (a third of the send buffer free) or at once
 * after shutdown(SHUT_WR) (a write fails with EPIPE instead of waiting),
 * PRI while the urgent byte is unread; ERR for a pending error. */
static short tcp_poll(struct ns_stack *st, struct ns_sock *so)
{
    (void)st;
    struct tcpcb *tp = TP(so);
    short m = 0;
    if (tp->state == TCPS_LISTEN)
        return tp->acceptq ? POLLIN | POLLRDNORM : 0; /* inet_csk_listen_poll */
    /* A connection that ended (reset, timeout) is shut both ways (tcp_done:
     * SHUTDOWN_MASK): readable (end of file) and writable (EPIPE) at once. */
    bool rd_shut = TCPS_HAVERCVDFIN(tp->state) || (so->flags & SO_F_SHUT_RD) || tp->done;
    bool wr_shut = (tp->flags & TF_NEEDFIN) || (so->flags & SO_F_SHUT_WR) || tp->done;
    if ((rd_shut && wr_shut) || tp->state == TCPS_CLOSED)
        m |= POLLHUP;
    if (rd_shut)
        m |= POLLIN | POLLRDNORM | POLLRDHUP;
    if (tp->state != TCPS_SYN_SENT && tp->state != TCPS_SYN_RECEIVED) {
        /* An urgent byte kept out of the stream at the read position
         * does not make the socket readable by itself. */
        uint32_t target = 1;
        if (tp->urg_state != TCP_URG_NONE && tp->urg_seq == tcp_copied_seq(tp) &&
            !(so->flags & SO_F_OOBINLINE))
            target = 2;
        if (tp->rcvbuf.len >= target)
            m |= POLLIN | POLLRDNORM;
        if (wr_shut) {
            m |= POLLOUT | POLLWRNORM;
        } else if (tcp_stream_writable(tp)) {
            m |= POLLOUT | POLLWRNORM;
        } else {
            so->flags |= SO_F_NOSPACE; /* tell the watchers when it drains */
        }
        /* TCP_URG_VALID: the urgent byte (the one before the urgent
         * pointer, RFC 6093) has arrived and is not read yet. */
        if (tp->urg_state == TCP_URG_VALID)
            m |= POLLPRI;
    }
    if (so->so_error)
        m |= POLLERR;
    return m;
}

/* RFC 9293 §3.10.4 CLOSE (and shutdown(SHUT_WR)): queue a FIN after the
 * data, ESTABLISHED -> FIN-WAIT-1 or CLOSE-WAIT -> LAST-ACK. */
static void tcp_usr_fin(struct tcpcb *tp)
{
    tp->flags |= TF_NEEDFIN;
    if (tp->state == TCPS_ESTABLISHED || tp->state == TCPS_SYN_RECEIVED)
        tcp_state_change(tp, TCPS_FIN_WAIT_1);
    else if (tp->state == TCPS_CLOSE_WAIT)
        tcp_state_change(tp, TCPS_LAST_ACK);
    tcp_output(tp);
}

static int tcp_shutdown(struct ns_stack *st, struct ns_sock *so, int how)
{
    (void)st;
    struct tcpcb *tp = TP(so);
    switch (tp->state) {
    case TCPS_CLOSED:
        so->flags |= (how != SHUT_WR ? SO_F_SHUT_RD : 0) | (how != SHUT_RD ? SO_F_SHUT_WR : 0);
        return -ENOTCONN;
    case TCPS_LISTEN:
        if (how == SHUT_WR)
            return 0; /* inet_shutdown: nothing to do; else stop listening */
        /* fall through */
    case TCPS_SYN_SENT:
        tcp_disconnect(tp);
        return 0;
    default:
        break;
    }
    if (how != SHUT_WR)
        so->flags |= SO_F_SHUT_RD;
    if (how != SHUT_RD && !(tp->flags & TF_NEEDFIN)) {
        so->flags |= SO_F_SHUT_WR;
        tcp_usr_fin(tp);
    }
    return 0;
}

static void tcp_close_listener(struct tcpcb *l)
{
    /* Unaccepted connections die with their listener (Linux resets the
     * established ones; embryonic ones just vanish). */
    tcp_syncache_purge(l->st, l);
    while (l->synq) {
        struct tcpcb *c = l->synq;
        tcp_close(c);
    }
    while (l->acceptq) {
        struct tcpcb *c = l->acceptq;
        tcp_drop(c, 0);
    }
}

static void tcp_usr_close(struct ns_stack *st, struct ns_sock *so)
{
    struct tcpcb *tp = TP(so);
    if (tp->state == TCPS_LISTEN)
        tcp_close_listener(tp);
    if (tp->flags & TF_HELD)
        tcp_syncache_verdict(tp, NS_SYNACK_RESET); /* closed before a verdict: refused */
    bool abort = (so->linger_onoff && so->linger_s == 0) || tp->rcvbuf.len > 0 ||
                 tp->reass != NULL;
    /* The connection lives on without its descriptor (an orphan) until
     * it is done, then tcp_free frees it, socket and all. */
    tcp_sock_detach(tp);
    tp->flags |= TF_ORPHAN;
    switch (tp->state) {
    case TCPS_CLOSED:
        tcp_free(tp);
        return;
    case TCPS_LISTEN:
    case TCPS_SYN_SENT:
        tcp_close(tp);
        return;
    default:
        break;
    }
    if (abort) {
        /* RFC 2525 §2.17 / RFC 9293 §3.10.5 ABORT: unread data or
         * SO_LINGER zero: reset instead of an orderly close. */
        if (tp->rcvbuf.len || tp->reass)
            NS_STAT_INC(st, tcp_drop_after_close);
        tcp_drop(tp, 0);
        return;
    }
    if (!(tp->flags & TF_NEEDFIN)) {
        tcp_usr_fin(tp);
    } else if (tp->state == TCPS_FIN_WAIT_2) {
        tcp_timer_arm(tp, TT_2MSL, st->now_us + TCP_FIN_TIMEOUT_US);
    }
}

static const char *tcp_state_str(const struct ns_sock *so)
{
    /* Names as ss(8) prints them. */
    return tcp_state_names[tcp_sk_const(so)->state];
}

static int tcp_setsockopt(struct ns_stack *st, struct ns_sock *so, int level, int name,
                          const void *val, socklen_t len)
{
    (void)st;
    struct tcpcb *tp = TP(so);
    if (level == SOL_SOCKET) {
        /* Called after the socket layer applied the option. */
        /* A size the user chose is kept: no autotuning for it (Linux
         * SOCK_RCVBUF_LOCK / SOCK_SNDBUF_LOCK). */
        if (name == SO_RCVBUF)
            tp->flags |= TF_RCVBUF_LOCK;
        if (name == SO_SNDBUF)
            tp->flags |= TF_SNDBUF_LOCK;
        if (name == SO_KEEPALIVE) {
            if (so->flags & SO_F_KEEPALIVE) {
                tp->flags |= TF_KEEPALIVE;
                if (TCPS_HAVEESTABLISHED(tp->state) && tp->state != TCPS_TIME_WAIT)
                    tcp_arm_keep(tp);
            } else {
                tp->flags &= ~TF_KEEPALIVE;
                tcp_timer_cancel(tp, TT_KEEP);
            }
        }
        return 0;
    }
    /* do_tcp_setsockopt: the length is checked before the value is read. */
    if (name == TCP_CONGESTION) {
        char buf[16] = {0};
        if (len < 1)
            return -EINVAL;
        if (!val)
            return -EFAULT;
        memcpy(buf, val, len < sizeof(buf) - 1 ? len : sizeof(buf) - 1);
        const struct tcp_cc_ops *cc = tcp_cc_find(buf);
        if (!cc)
            return -ENOENT; /* Linux: unknown algorithm */
        if (cc != tp->cc) {
            tp->cc = cc;
            if (TCPS_HAVEESTABLISHED(tp->state)) {
                /* Switching mid-connection keeps the window it has. */
                uint32_t cwnd = tp->cwnd, ssthresh = tp->ssthresh;
                cc->init(tp);
                tp->cwnd = cwnd;
                tp->ssthresh = ssthresh;
            }
        }
        return 0;
    }
    int v;
    int rc = sock_optval_int(val, len, &v);
    if (rc < 0)
        return rc;
    switch (name) {
    case TCP_NODELAY:
        tp->flags = v ? tp->flags | TF_NODELAY : tp->flags & ~TF_NODELAY;
        if (v) {
            /* Linux __tcp_sock_set_nodelay (TCP_NAGLE_PUSH): what is
             * queued goes now, even under TCP_CORK; the cork still holds
             * what is written later. */
            tp->flags |= TF_CORK_FLUSH;
            tcp_output(tp);
            tp->flags &= ~TF_CORK_FLUSH;
        }
        return 0;
    case TCP_CORK:
        tp->flags = v ? tp->flags | TF_CORK : tp->flags & ~TF_CORK;
        if (!v)
            tcp_output(tp);
        return 0;
    case TCP_MAXSEG:
        if (v != 0 && (v < 88 || v > 32767))
            return -EINVAL; /* Linux TCP_MIN_MSS .. MAX_TCP_WINDOW */
        tp->user_mss = (uint16_t)v;
        return 0;
    case TCP_KEEPIDLE:
    case TCP_KEEPINTVL:
        if (v < 1 || v > 32767)
            return -EINVAL;
        if (name == TCP_KEEPIDLE)
            tp->keep_idle_us = (uint64_t)v * 1000000u;
        else
            tp->keep_intvl_us = (uint64_t)v * 1000000u;
        tcp_arm_keep(tp);
        return 0;
    case TCP_KEEPCNT:
        if (v < 1 || v > 127)
            return -EINVAL;
        tp->keep_cnt = (uint32_t)v;
        return 0;
    case TCP_NOTSENT_LOWAT:
        /* Any value, as Linux (-1 is UINT_MAX, no mark); writers may
         * go on when it rose. */
        tp->notsent_lowat = (uint32_t)v;
        return 0;
    case TCP_USER_TIMEOUT:
        if (v < 0)
            return -EINVAL;
        tp->user_timeout_us = (uint64_t)v * 1000u;
        return 0;
    case NS_TCP_DEFER_SYNACK:
        tp->flags = v ? tp->flags | TF_DEFER_SYNACK : tp->flags & ~TF_DEFER_SYNACK;
        return 0;
    case NS_TCP_SYNACK_VERDICT:
        return tcp_syncache_verdict(tp, v);
    case TCP_QUICKACK:
        /* tcp(7): not permanent. Setting it sends the ACK being delayed
         * now (Linux tcp_cleanup_rbuf in quickack mode); later data is
         * acknowledged by the usual rules again. */
        tp->flags = v ? tp->flags | TF_QUICKACK : tp->flags & ~TF_QUICKACK;
        if (v && (tp->flags & TF_DELACK))
            tcp_send_ack_now(tp);
        return 0;
    default:
        return -ENOPROTOOPT;
    }
}

/* The state as Linux numbers it (include/net/tcp_states.h, netinet/tcp.h's
 * TCP_ESTABLISHED .. TCP_CLOSING): what tcp_get_info puts in tcpi_state
 * and what tools reading struct tcp_info compare it with. */
static uint8_t tcp_linux_state(enum tcp_state s)
{
    static const uint8_t linux_state[] = {
        [TCPS_CLOSED] = TCP_CLOSE,           [TCPS_LISTEN] = TCP_LISTEN,
        [TCPS_SYN_SENT] = TCP_SYN_SENT,      [TCPS_SYN_RECEIVED] = TCP_SYN_RECV,
        [TCPS_ESTABLISHED] = TCP_ESTABLISHED, [TCPS_CLOSE_WAIT] = TCP_CLOSE_WAIT,
        [TCPS_FIN_WAIT_1] = TCP_FIN_WAIT1,   [TCPS_CLOSING] = TCP_CLOSING,
        [TCPS_LAST_ACK] = TCP_LAST_ACK,      [TCPS_FIN_WAIT_2] = TCP_FIN_WAIT2,
        [TCPS_TIME_WAIT] = TCP_TIME_WAIT,
    };
    return (unsigned)s < sizeof(linux_state) ? linux_state[s] : TCP_CLOSE;
}

/* Linux's struct tcp_info (linux/tcp.h, as of 6.1): glibc's netinet/tcp.h
 * declares it only up to tcpi_total_retrans; what follows is the rest of
 * the kernel's layout, which iperf3 and ss-style tools read. */
struct tcp_info_linux {
    struct tcp_info base;
    uint64_t pacing_rate, max_pacing_rate;
    uint64_t bytes_acked, bytes_received;     /* RFC 4898 tcpEStatsAppHCThruOctets{Acked,Received} */
    uint32_t segs_out, segs_in;
    uint32_t notsent_bytes, min_rtt;
    uint32_t data_segs_in, data_segs_out;
    uint64_t delivery_rate;
    uint64_t busy_time, rwnd_limited, sndbuf_limited;
    uint32_t delivered, delivered_ce;
    uint64_t bytes_sent, bytes_retrans;
    uint32_t dsack_dups, reord_seen;
    uint32_t rcv_ooopack, snd_wnd;
};
_Static_assert(sizeof(struct tcp_info) == 104, "glibc's struct tcp_info ends at tcpi_total_retrans");
_Static_assert(sizeof(struct tcp_info_linux) == 232, "Linux 6.1's struct tcp_info");

/* Linux tcp_get_info from the connection's state. What netsock keeps no
 * state for stays 0: tcpi_delivery_rate, tcpi_delivered(_ce), the
 * busy/limited times, tcpi_bytes_retrans, tcpi_dsack_dups,
 * tcpi_rcv_ooopack, the last-data times. tcpi_bytes_acked/received come
 * from the sequence numbers (exact up to 4 GiB each way; they wrap after
 * that), tcpi_bytes_sent is the new data sent (retransmissions not
 * counted), tcpi_min_rtt RACK's minimum RTT or else the latest sample
 * (netsock keeps no windowed minimum), tcpi_pacing_rate what Linux would pace at (netsock does not
 * pace: tcpi_max_pacing_rate is "no limit"). */
static void tcp_get_info(struct tcpcb *tp, struct tcp_info_linux *x)
{
    struct tcp_info *ti = &x->base;
    memset(x, 0, sizeof(*x));
    ti->tcpi_state = tcp_linux_state(tp->state);
    /* Linux's TCP_CA_Open, Disorder, Recovery, Loss. */
    ti->tcpi_ca_state = (tp->flags & TF_LOSS) ? 4 : (tp->flags & TF_FASTRECOVERY) ? 3
                        : (tp->dupacks || tp->sacked_bytes) ? 1 : 0;
    ti->tcpi_retransmits = (uint8_t)tp->rxt_shift;
    ti->tcpi_probes = (uint8_t)tp->persist_unanswered;
    ti->tcpi_backoff = (uint8_t)tp->rxt_shift;
    if (tcp_ts_on(tp))
        ti->tcpi_options |= TCPI_OPT_TIMESTAMPS;
    if ((tp->flags & TF_REQ_SACK) && (tp->flags & TF_RCVD_SACK))
        ti->tcpi_options |= TCPI_OPT_SACK;
    if (tcp_ws_on(tp)) {
        ti->tcpi_options |= TCPI_OPT_WSCALE;
        ti->tcpi_snd_wscale = tp->snd_wscale & 15;
        ti->tcpi_rcv_wscale = tp->rcv_wscale & 15;
    }
    ti->tcpi_rto = (uint32_t)tp->rto_us;
    ti->tcpi_ato = TCP_DELACK_US;
    uint32_t mss = tp->mss ? tp->mss : 1;
    ti->tcpi_snd_mss = tp->mss;
    ti->tcpi_rcv_mss = tp->peer_mss;
    ti->tcpi_unacked = (tp->snd_max - tp->snd_una + mss - 1) / mss;
    ti->tcpi_sacked = tp->sacked_bytes / mss;
    ti->tcpi_lost = tp->lost_bytes / mss;
    ti->tcpi_retrans = tp->retrans_bytes / mss;
    if (tp->last_rx_us && tp->st->now_us >= tp->last_rx_us)
        ti->tcpi_last_ack_recv = (uint32_t)((tp->st->now_us - tp->last_rx_us) / 1000u);
    ti->tcpi_pmtu = tcp_path_mtu(tp);
    ti->tcpi_rcv_ssthresh = tp->rcv_ssthresh;
    ti->tcpi_rtt = (uint32_t)tp->srtt_us;
    ti->tcpi_rttvar = (uint32_t)tp->rttvar_us;
    ti->tcpi_snd_ssthresh = tp->ssthresh == UINT32_MAX ? 0x7fffffff : tp->ssthresh / mss;
    ti->tcpi_snd_cwnd = tp->mss ? tp->cwnd / tp->mss : 0;
    ti->tcpi_advmss = tcp_mss_for_route(tp);
    ti->tcpi_reordering = 3; /* Linux's tcp_reordering: netsock keeps no estimate */
    ti->tcpi_rcv_rtt = (uint32_t)tp->rcv_rtt_us;
    ti->tcpi_rcv_space = tp->rcvq_space; /* autotuning's bytes read per RTT, as Linux */
    ti->tcpi_total_retrans = tp->total_retrans;

    /* tcp_update_pacing_rate: cwnd per RTT, 200 % in slow start (below
     * half ssthresh), else 120 %. */
    if (tp->srtt_us && tp->mss) {
        uint64_t ratio = tp->cwnd < tp->ssthresh / 2 ? 200 : 120;
        x->pacing_rate = (uint64_t)tp->cwnd * 1000000u / tp->srtt_us * ratio / 100;
    }
    x->max_pacing_rate = UINT64_MAX;
    bool synced = TCPS_HAVEESTABLISHED(tp->state);
    if (synced) {
        x->bytes_acked = tp->snd_una - tp->iss - 1u;      /* the SYN is not data; a FIN is counted */
        x->bytes_received = tp->rcv_nxt - tp->irs - 1u;
        x->bytes_sent = tp->snd_max - tp->iss - 1u;
    }
    x->segs_out = tp->segs_out;
    x->segs_in = tp->segs_in;
    x->data_segs_out = tp->data_segs_out;
    x->data_segs_in = tp->data_segs_in;
    x->notsent_bytes = tcp_notsent(tp);
    /* RACK's minimum when it measured one (SACK recovery keeps it), else
     * the latest RTT sample; Linux's ~0U before any. */
    x->min_rtt = tp->rack_min_rtt_us ? (uint32_t)tp->rack_min_rtt_us
                 : tp->rtt_samples ? tp->last_rtt_us : UINT32_MAX;
    x->reord_seen = tp->rack_reord ? 1 : 0;
    x->snd_wnd = tp->snd_wnd;
}

static int tcp_getsockopt(struct ns_stack *st, struct ns_sock *so, int level, int name, void *val,
                          socklen_t *len)
{
    (void)st;
    (void)level;
    struct tcpcb *tp = TP(so);
    if (!len)
        return -EFAULT;
    if ((int)*len < 0)
        return -EINVAL;
    if (name == TCP_INFO) {
        /* As Linux do_tcp_getsockopt: up to the caller's length. */
        struct tcp_info_linux ti;
        tcp_get_info(tp, &ti);
        socklen_t n = *len < sizeof(ti) ? *len : (socklen_t)sizeof(ti);
        memcpy(val, &ti, n);
        *len = n;
        return 0;
    }
    if (name == TCP_CONGESTION) {
        socklen_t n = *len < 16 ? *len : 16;
        char buf[16] = {0};
        strcpy(buf, tp->cc->name);
        memcpy(val, buf, n);
        *len = n;
        return 0;
    }
    int v;
    switch (name) {
    case TCP_NODELAY: v = !!(tp->flags & TF_NODELAY); break;
    case TCP_CORK: v = !!(tp->flags & TF_CORK); break;
    case TCP_MAXSEG: v = TCPS_HAVEESTABLISHED(tp->state) ? tp->mss : (tp->user_mss ? tp->user_mss : TCP_MSS_NOOPT); break;
    case TCP_KEEPIDLE: v = (int)(tp->keep_idle_us / 1000000u); break;
    case TCP_KEEPINTVL: v = (int)(tp->keep_intvl_us / 1000000u); break;
    case TCP_KEEPCNT: v = (int)tp->keep_cnt; break;
    case TCP_NOTSENT_LOWAT: v = (int)tp->notsent_lowat; break;
    case TCP_USER_TIMEOUT: v = (int)(tp->user_timeout_us / 1000u); break;
    case TCP_QUICKACK: v = !!(tp->flags & TF_QUICKACK); break;
    case NS_TCP_DEFER_SYNACK: v = !!(tp->flags & TF_DEFER_SYNACK); break;
    case NS_TCP_SYNACK_VERDICT: v = !!(tp->flags & TF_HELD); break; /* 1: still held */
    default: return -ENOPROTOOPT;
    }
    socklen_t n = *len < sizeof(v) ? *len : (socklen_t)sizeof(v);
    memcpy(val, &v, n);
    *len = n;
    return 0;
}

static void tcp_info_fill(const struct ns_sock *so, struct ns_sock_info *out)
{
    const struct tcpcb *tp = tcp_sk_const(so);
    if (tp->state == TCPS_LISTEN) {
        out->recv_q = tp->acceptq_len; /* as ss: queued connections */
        out->send_q = tp->backlog;
        return;
    }
    out->recv_q = tp->rcvbuf.len;
    out->send_q = tp->sndbuf.len;
    out->rcvbuf = tp->rcvbuf.cap;
    out->sndbuf = tp->sndbuf.cap;
    out->srtt_us = (uint32_t)tp->srtt_us;
    out->rto_us = (uint32_t)tp->rto_us;
    out->cwnd = tp->cwnd;
    out->ssthresh = tp->ssthresh;
    out->mss = tp->mss;
    out->retrans = tp->total_retrans;
}

const struct ns_sock_ops tcp_sock_ops = {
    .bind = tcp_bind,
    .connect = tcp_connect,
    .sendmsg = tcp_sendmsg,
    .recvmsg = tcp_recvmsg,
    .poll = tcp_poll,
    .shutdown = tcp_shutdown,
    .close = tcp_usr_close,
    .setsockopt = tcp_setsockopt,
    .getsockopt = tcp_getsockopt,
    .state_name = tcp_state_str,
    .listen = tcp_listen,
    .accept = tcp_accept,
    .info = tcp_info_fill,
};

static struct ns_sock *tcp_create(struct ns_stack *st, int protocol, int *err)
{
    (void)protocol;
    struct tcpcb *tp = tcp_new(st, true);
    if (!tp) {
        *err = -ENOMEM;
        return NULL;
    }
    return &tp->sock;
}

const struct ns_protosw tcp_protosw = {
    .family = AF_INET, .type = SOCK_STREAM, .protocol = IPPROTO_TCP, .create = tcp_create};
const struct ns_protosw tcp6_protosw = {
    .family = AF_INET6, .type = SOCK_STREAM, .protocol = IPPROTO_TCP, .create = tcp_create};
