/* tests/tcpseg.h — TCP segment templates for unit tests (STYLE §14: tests
 * read like the protocol; smoltcp's send!/recv!, lwIP's tcp_helper.c).
 *
 *     tseg_send(t, 1000, .flags = SYN, .seq = 5000, .mss = 1460);
 *     tseg_expect(t, .flags = SYN | ACK, .seq = 100, .ack = 5001, .mss = 1460);
 *     tseg_expect_none(t);
 *
 * The bench (struct tt) is one stack (192.0.2.1/24 on a queue device with
 * MTU 1500) talking to one simulated peer, 192.0.2.10, whose MAC is
 * learnt by ARP up front so no ARP frame ever interferes. tseg_send()
 * builds Ethernet + IPv4 + TCP from the peer with the wire emitters and
 * correct checksums, injects it at the given time and polls the stack.
 * tseg_expect() takes the next frame the stack sent, checks that it is a
 * well-formed TCP segment (every checksum) from us to the peer, and
 * asserts each field the template names; fields left out are "any"
 * (TANY). The stack's ISNs come from a test hook (tcp.h isn_hook):
 * t->isn is the next one handed out.
 *
 * RFC 7323 options: the peer's segment carries a window scale option with
 * .wscale = shift (default TNONE: none) and timestamps with .ts = true,
 * .tsval, .tsecr; an expectation checks .wscale (shift, or TNONE for "no
 * option") and .tsval/.tsecr (TNONE: "no timestamps option").
 *
 * RFC 2018: the peer's segment carries SACK-permitted with .sack_ok and
 * blocks with .nsack, .sack = {{left, right}, ...}; an expectation checks
 * the number of blocks with .nsack (the blocks are in t->th.sack).
 */
#ifndef NS_TESTS_TCPSEG_H
#define NS_TESTS_TCPSEG_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>

#include "frames.h"
#include "netsock/socket.h"
#include "socket/fdtable.h"
#include "socket/sock.h"
#include "tcp/tcp.h"

/* Templates rely on later designated initializers overriding the "any"
 * defaults the macros put first. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Winitializer-overrides"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Woverride-init"
#endif

#define SYN NS_TCP_SYN
#define ACK NS_TCP_ACK
#define FIN NS_TCP_FIN
#define RST NS_TCP_RST
#define PSH NS_TCP_PSH
#define URG NS_TCP_URG

#define US_MS 1000ull
#define US_S 1000000ull

#define TT_OUR_IP FR_IP(192, 0, 2, 1)
#define TT_PEER_IP FR_IP(192, 0, 2, 10)
#define TT_PEER_PORT 40000
#define TT_OUR_PORT 80
#define TT_T0 (1 * US_S) /* the bench starts at t = 1 s */

#define TANY INT64_MIN   /* "any value" in an expectation */
#define TNONE (-2)       /* .mss: "no MSS option" */

struct tt {
    struct tb *tb;
    uint64_t now;          /* time of the last send/poll */
    uint32_t isn;          /* the next ISN the stack picks */
    uint8_t peer_mac[6];
    uint16_t our_port;     /* default ports of segments both ways */
    uint16_t peer_port;
    int fd;                /* the connection under test (tt_open_*) */
    /* The segment tseg_expect() last took. */
    struct ns_tcp_repr th;
    const uint8_t *data;
    uint32_t len;
    uint8_t ip_tos;
    bool ip_df;            /* its IPv4 header had DF */
};

static inline uint32_t tt_isn_hook(struct ns_stack *st, void *ctx)
{
    (void)st;
    return ((struct tt *)ctx)->isn;
}

/* A bench from cfg (NULL: tb_config defaults) and an interface MTU. */
static inline struct tt *tt_new_cfg(const struct ns_config *cfg, uint32_t mtu)
{
    struct tt *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->tb = tb_new(cfg, 0);
    tb_add_if(t->tb, mtu, TT_OUR_IP, 24);
    tb_peer_mac(10, t->peer_mac);
    tb_learn(t->tb, 1, TT_PEER_IP, t->peer_mac, TT_T0);
    t->now = TT_T0;
    t->isn = 1000;
    t->our_port = TT_OUR_PORT;
    t->peer_port = TT_PEER_PORT;
    t->fd = -1;
    t->tb->st->tcp->isn_hook = tt_isn_hook;
    t->tb->st->tcp->isn_hook_ctx = t;
    return t;
}

/* The default bench pins NewReno (RFC 5681/6582): these tests check its
 * exact arithmetic; CUBIC, the stack's default, has its own tests. */
static inline struct tt *tt_new(void)
{
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.tcp_congestion = "newreno";
    return tt_new_cfg(&cfg, 1500);
}

/* Free the bench: the pbuf pool must be whole (nothing leaked, nothing
 * left queued), then every socket is closed and the stack freed. (Not
 * checked after closing: a FIN may then wait for ARP, legitimately.) */
static inline void tt_free(struct tt *t)
{
    tb_assert_pool_clean(t->tb);
    struct ns_stack *st = t->tb->st;
    for (int fd = 0; fd < st->fds->cap; fd++)
        if (st->fds->fds[fd])
            ns_close(st, fd);
    tb_drain(t->tb, 1);
    tb_free(t->tb);
    free(t);
}

/* ---- the peer sends ----------------------------------------------------------- */

struct tseg {
    uint8_t flags;
    uint32_t seq, ack;
    uint32_t win;          /* raw window field (default 65535) */
    uint16_t urp;
    const void *data;
    uint32_t len;          /* payload bytes (data NULL: a pattern) */
    uint16_t mss;          /* MSS option (0: none) */
    int wscale;            /* window scale option shift (TNONE: none; the default) */
    bool ts;               /* timestamps option with tsval, tsecr */
    uint32_t tsval, tsecr;
    bool sack_ok;          /* SACK-permitted option (RFC 2018 §2) */
    uint8_t nsack;         /* SACK blocks (RFC 2018 §3), in sack[] */
    struct ns_tcp_sack_block sack[NS_TCP_MAX_SACK];
    uint16_t sport, dport; /* 0: the bench's ports */
    bool bad_csum;
};

/* The byte with sequence number s in data that tests send without giving
 * bytes (both ways): every byte is checkable where it is delivered. */
static inline uint8_t tt_pat(uint32_t i) { return (uint8_t)(i * 7 + (i >> 8) + 3); }

static inline size_t tt_build(struct tt *t, uint8_t *f, const struct tseg *s)
{
    static uint8_t seg[FR_MAX];
    struct ns_tcp_repr th = {
        .sport = s->sport ? s->sport : t->peer_port,
        .dport = s->dport ? s->dport : t->our_port,
        .seq = s->seq,
        .ack = s->ack,
        .flags = s->flags,
        .win = (uint16_t)s->win,
        .urp = s->urp,
    };
    if (s->mss) {
        th.has_mss = true;
        th.mss = s->mss;
    }
    if (s->wscale != TNONE) {
        th.has_wscale = true;
        th.wscale = (uint8_t)s->wscale;
    }
    if (s->ts) {
        th.has_ts = true;
        th.ts_val = s->tsval;
        th.ts_ecr = s->tsecr;
    }
    th.sack_ok = s->sack_ok;
    th.n_sack = s->nsack;
    memcpy(th.sack, s->sack, sizeof(th.sack));
    size_t hlen = NS_TCP_HLEN + ns_tcp_opts_len(&th);
    assert_true(hlen + s->len < sizeof(seg) - 100);
    ns_tcp_emit(&th, seg);
    for (uint32_t i = 0; i < s->len; i++)
        seg[hlen + i] = s->data ? ((const uint8_t *)s->data)[i]
                                : tt_pat(s->seq + !!(s->flags & NS_TCP_SYN) + i);
    ns_wr16(seg + 16, ns_tcp_csum(TT_PEER_IP, TT_OUR_IP, seg, hlen + s->len));
    if (s->bad_csum)
        seg[16] ^= 0x5a;
    struct ns_ip4_repr ip = fr_ip4_hdr(TT_PEER_IP, TT_OUR_IP, NS_IPPROTO_TCP);
    return fr_ip4_frame(f, t->tb->dev[1]->hwaddr, t->peer_mac, &ip, seg, hlen + s->len);
}

static inline void tseg_send_(struct tt *t, uint64_t now, const struct tseg *s)
{
    static uint8_t f[FR_MAX];
    assert_true(now >= t->now);
    t->now = now;
    size_t n = tt_build(t, f, s);
    tb_rx(t->tb, 1, f, n, now);
}

/* At `now` the peer sends this segment (window 65535 unless given). */
#define tseg_send(t, now, ...)                                                  \
    tseg_send_((t), (now), &(struct tseg){.win = 65535, .wscale = TNONE, __VA_ARGS__})

/* An ICMP error from the peer quoting a TCP header we sent (from us to
 * the peer, with sequence number seq). */
static inline void tt_icmp(struct tt *t, uint64_t now, uint8_t type, uint8_t code,
                           uint16_t next_mtu, uint32_t seq)
{
    static uint8_t f[FR_MAX];
    uint8_t quote[NS_IP4_HLEN + 8 + 12];
    struct ns_ip4_repr inner = fr_ip4_hdr(TT_OUR_IP, TT_PEER_IP, NS_IPPROTO_TCP);
    inner.total_len = 1500;
    inner.hlen = NS_IP4_HLEN;
    inner.df = true;
    ns_ip4_emit(&inner, quote);
    struct ns_tcp_repr th = {.sport = t->our_port, .dport = t->peer_port, .seq = seq,
                             .flags = NS_TCP_ACK, .win = 1000};
    ns_tcp_emit(&th, quote + NS_IP4_HLEN); /* only the first 8 bytes are quoted */
    uint8_t icmp[8 + sizeof(quote)];
    struct ns_icmp4_repr r = {.type = type, .code = code, .next_mtu = next_mtu,
                              .payload = quote, .payload_len = NS_IP4_HLEN + 8};
    ns_icmp4_emit(&r, icmp);
    struct ns_ip4_repr ip = fr_ip4_hdr(TT_PEER_IP, TT_OUR_IP, NS_IPPROTO_ICMP);
    size_t n = fr_ip4_frame(f, t->tb->dev[1]->hwaddr, t->peer_mac, &ip, icmp, 8 + NS_IP4_HLEN + 8);
    assert_true(now >= t->now);
    t->now = now;
    tb_rx(t->tb, 1, f, n, now);
}

/* ---- the stack sends ----------------------------------------------------------- */

struct texp {
    int64_t flags;   /* exact flag byte (TANY allowed) */
    int64_t seq, ack;
    int64_t win;
    int64_t len;     /* payload bytes */
    int64_t mss;     /* MSS option value, TNONE for none */
    int64_t wscale;  /* window scale shift, TNONE for no option */
    int64_t tsval, tsecr; /* timestamps option fields, TNONE for no option */
    int64_t urp;
    int64_t nsack;   /* number of SACK blocks */
    const void *data; /* payload bytes to compare (len of them) */
    bool pat;         /* payload is the pattern: byte i is tt_pat(seq + i) */
    int64_t sport, dport;
};

static inline void tt_dump(const char *what, const struct ns_tcp_repr *th, uint32_t len)
{
    fprintf(stderr, "%s: flags 0x%02x seq %u ack %u win %u len %u%s%u", what, th->flags,
            th->seq, th->ack, th->win, len, th->has_mss ? " mss " : " no-mss ",
            th->has_mss ? th->mss : 0);
    if (th->has_wscale)
        fprintf(stderr, " wscale %u", th->wscale);
    if (th->has_ts)
        fprintf(stderr, " tsval %u tsecr %u", th->ts_val, th->ts_ecr);
    fprintf(stderr, "\n");
}

#define TEXP_CHECK(field, got)                                                   \
    do {                                                                         \
        if (e->field != TANY && (int64_t)(got) != e->field) {                    \
            tt_dump("segment", &t->th, t->len);                                   \
            fail_msg("%s:%d: " #field " is %lld, want %lld", file, line,         \
                     (long long)(got), (long long)e->field);                     \
        }                                                                        \
    } while (0)

/* Take the next frame the stack sent: it must be a TCP segment from us to
 * the peer matching the template. Returns the parsed header (also t->th;
 * payload at t->data, t->len). */
static inline const struct ns_tcp_repr *tseg_expect_(struct tt *t, const struct texp *e,
                                                     const char *file, int line)
{
    const struct fr_pkt *p = tb_take(t->tb, 1);
    if (!p)
        fail_msg("%s:%d: expected a segment, the stack sent nothing", file, line);
    if (!p->is_ip || p->ip.proto != NS_IPPROTO_TCP)
        fail_msg("%s:%d: expected TCP, got %s proto %d", file, line, p->is_arp ? "ARP" : "IP",
                 p->ip.proto);
    assert_int_equal(p->ip.src, TT_OUR_IP);
    assert_int_equal(p->ip.dst, TT_PEER_IP);
    assert_memory_equal(p->eth.dst, t->peer_mac, 6);
    assert_true(ns_tcp_csum_ok(p->ip.src, p->ip.dst, p->l4, p->l4_len));
    assert_int_equal(ns_tcp_parse(p->l4, p->l4_len, &t->th), NS_WIRE_OK);
    t->data = p->l4 + t->th.hlen;
    t->len = (uint32_t)(p->l4_len - t->th.hlen);
    t->ip_tos = p->ip.tos;
    t->ip_df = p->ip.df;
    TEXP_CHECK(sport, t->th.sport);
    TEXP_CHECK(dport, t->th.dport);
    TEXP_CHECK(flags, t->th.flags);
    TEXP_CHECK(seq, t->th.seq);
    TEXP_CHECK(ack, t->th.ack);
    TEXP_CHECK(win, t->th.win);
    TEXP_CHECK(len, t->len);
    TEXP_CHECK(urp, t->th.urp);
    TEXP_CHECK(nsack, t->th.n_sack);
    TEXP_CHECK(mss, t->th.has_mss ? (int64_t)t->th.mss : TNONE);
    TEXP_CHECK(wscale, t->th.has_wscale ? (int64_t)t->th.wscale : TNONE);
    TEXP_CHECK(tsval, t->th.has_ts ? (int64_t)t->th.ts_val : TNONE);
    TEXP_CHECK(tsecr, t->th.has_ts ? (int64_t)t->th.ts_ecr : TNONE);
    if (e->data && memcmp(e->data, t->data, t->len) != 0)
        fail_msg("%s:%d: payload differs", file, line);
    if (e->pat)
        for (uint32_t i = 0; i < t->len; i++)
            if (t->data[i] != tt_pat(t->th.seq + i))
                fail_msg("%s:%d: payload byte %u differs", file, line, i);
    return &t->th;
}

#define TEXP_DEFAULTS                                                            \
    .flags = TANY, .seq = TANY, .ack = TANY, .win = TANY, .len = TANY, .mss = TANY, \
    .wscale = TANY, .tsval = TANY, .tsecr = TANY, .urp = TANY, .sport = TANY, .dport = TANY, \
    .nsack = TANY

/* The next segment the stack sent matches these fields (others: any). */
#define tseg_expect(t, ...)                                                     \
    tseg_expect_((t), &(struct texp){TEXP_DEFAULTS, __VA_ARGS__}, __FILE__, __LINE__)

/* The stack sent nothing (more). */
#define tseg_expect_none(t)                                                     \
    do {                                                                        \
        if (tb_pending((t)->tb, 1)) {                                           \
            tseg_expect_((t), &(struct texp){TEXP_DEFAULTS}, __FILE__, __LINE__); \
            tt_dump("unexpected segment", &(t)->th, (t)->len);                  \
            fail_msg("%s:%d: the stack sent a segment", __FILE__, __LINE__);    \
        }                                                                       \
    } while (0)

/* Frames waiting. */
static inline size_t tt_pending(const struct tt *t) { return tb_pending(t->tb, 1); }

/* ---- time ------------------------------------------------------------------------ */

/* Poll the stack at `now` (timers due by then fire). */
static inline void tt_at(struct tt *t, uint64_t now)
{
    assert_true(now >= t->now);
    t->now = now;
    tb_poll(t->tb, now);
}

/* Step the stack from timer deadline to timer deadline until it sends a
 * frame or `limit` passes: returns the time the first frame left (the
 * frames stay queued), or 0 when none did by `limit` (time is then limit). */
static inline uint64_t tt_next_tx(struct tt *t, uint64_t limit)
{
    while (!tt_pending(t)) {
        uint64_t d = ns_stack_next_deadline(t->tb->st);
        if (d > limit) {
            tt_at(t, limit);
            return tt_pending(t) ? limit : 0;
        }
        tt_at(t, d > t->now ? d : t->now);
    }
    return t->now;
}

/* ---- sockets ---------------------------------------------------------------------- */

static inline struct ns_stack *tt_st(const struct tt *t) { return t->tb->st; }

static inline struct sockaddr_in tt_sin(uint32_t ip, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(ip);
    return a;
}

static inline struct tcpcb *tt_tp(const struct tt *t, int fd)
{
    struct ns_sock *so = fd_get(tt_st(t), fd);
    assert_non_null(so);
    assert_int_equal(so->type, SOCK_STREAM);
    return tcp_sk(so);
}

/* The connection's tcpcb by 4-tuple (works for orphans too), or NULL. */
static inline struct tcpcb *tt_lookup(const struct tt *t)
{
    struct ns_flow key = ns_flow_ip4(TT_OUR_IP, t->our_port, TT_PEER_IP, t->peer_port, IPPROTO_TCP);
    return tcp_lookup(tt_st(t), &key);
}

/* The syncache entry of the test's flow (a half-open connection), or NULL. */
static inline struct syncache_entry *tt_syncache(const struct tt *t)
{
    struct ns_flow key = ns_flow_ip4(TT_OUR_IP, t->our_port, TT_PEER_IP, t->peer_port, IPPROTO_TCP);
    return tcp_syncache_lookup(tt_st(t), &key);
}

static inline int tt_state(const struct tt *t, int fd) { return tt_tp(t, fd)->state; }

static inline int tt_socket(struct tt *t)
{
    int fd = ns_socket(tt_st(t), AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    return fd;
}

static inline void tt_setint(struct tt *t, int fd, int level, int name, int v)
{
    assert_int_equal(ns_setsockopt(tt_st(t), fd, level, name, &v, sizeof(v)), 0);
}

static inline int tt_so_error(struct tt *t, int fd)
{
    int v = -1;
    socklen_t len = sizeof(v);
    assert_int_equal(ns_getsockopt(tt_st(t), fd, SOL_SOCKET, SO_ERROR, &v, &len), 0);
    return v;
}

static inline struct tcp_info tt_info(struct tt *t, int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    assert_int_equal(ns_getsockopt(tt_st(t), fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    return ti;
}

static inline short tt_poll(struct tt *t, int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    int n = ns_poll(tt_st(t), &p, 1, 0);
    assert_true(n >= 0);
    return p.revents;
}

/* Start an active open from our port (bind, then non-blocking connect to
 * the peer): EINPROGRESS, the SYN is left for the caller to expect. */
static inline int tt_connect_start(struct tt *t, int fd)
{
    struct sockaddr_in me = tt_sin(TT_OUR_IP, t->our_port);
    assert_int_equal(ns_bind(tt_st(t), fd, (struct sockaddr *)&me, sizeof(me)), 0);
    struct sockaddr_in peer = tt_sin(TT_PEER_IP, t->peer_port);
    errno = 0;
    assert_int_equal(ns_connect(tt_st(t), fd, (struct sockaddr *)&peer, sizeof(peer)), -1);
    assert_int_equal(errno, EINPROGRESS);
    return fd;
}

/* An ESTABLISHED connection opened by us: our ISS `iss`, the peer's ISS
 * `peer_iss`, the peer's window and MSS option as given. At t->now. */
static inline int tt_open_active(struct tt *t, uint32_t iss, uint32_t peer_iss, uint16_t win,
                                 uint16_t peer_mss)
{
    t->isn = iss;
    int fd = tt_connect_start(t, tt_socket(t));
    tseg_expect(t, .flags = SYN, .seq = iss, .len = 0);
    tseg_send(t, t->now, .flags = SYN | ACK, .seq = peer_iss, .ack = iss + 1, .win = win,
              .mss = peer_mss);
    tseg_expect(t, .flags = ACK, .seq = iss + 1, .ack = peer_iss + 1, .len = 0);
    tseg_expect_none(t);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    t->fd = fd;
    return fd;
}

/* A listener on our port (backlog given); returns its fd. */
static inline int tt_listen(struct tt *t, int backlog)
{
    int lfd = tt_socket(t);
    struct sockaddr_in me = tt_sin(TT_OUR_IP, t->our_port);
    assert_int_equal(ns_bind(tt_st(t), lfd, (struct sockaddr *)&me, sizeof(me)), 0);
    assert_int_equal(ns_listen(tt_st(t), lfd, backlog), 0);
    return lfd;
}

/* An ESTABLISHED connection opened by the peer to a new listener, and
 * accepted. */
static inline int tt_open_passive(struct tt *t, uint32_t iss, uint32_t peer_iss, uint16_t win,
                                  uint16_t peer_mss)
{
    int lfd = tt_listen(t, 8);
    t->isn = iss;
    tseg_send(t, t->now, .flags = SYN, .seq = peer_iss, .win = win, .mss = peer_mss);
    tseg_expect(t, .flags = SYN | ACK, .seq = iss, .ack = peer_iss + 1, .mss = 1460);
    tseg_send(t, t->now, .flags = ACK, .seq = peer_iss + 1, .ack = iss + 1, .win = win);
    tseg_expect_none(t);
    int fd = ns_accept(tt_st(t), lfd, NULL, NULL);
    assert_true(fd >= 0);
    ns_close(tt_st(t), lfd);
    assert_int_equal(tt_state(t, fd), TCPS_ESTABLISHED);
    t->fd = fd;
    return fd;
}

/* Write the n pattern bytes for sequence numbers seq.. on fd; all must be
 * taken. */
static inline void tt_write(struct tt *t, int fd, uint32_t seq, uint32_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    for (uint32_t i = 0; i < n; i++)
        b[i] = tt_pat(seq + i);
    ssize_t w = ns_send(tt_st(t), fd, b, n, 0);
    free(b);
    assert_int_equal(w, (ssize_t)n);
}

/* Read exactly n bytes on fd; they must be the pattern for sequence
 * numbers seq.. */
static inline void tt_read_pat(struct tt *t, int fd, uint32_t seq, uint32_t n)
{
    uint8_t *b = malloc(n + 1);
    assert_non_null(b);
    ssize_t r = ns_recv(tt_st(t), fd, b, n + 1, 0);
    assert_int_equal(r, (ssize_t)n);
    for (uint32_t i = 0; i < n; i++)
        if (b[i] != tt_pat(seq + i))
            fail_msg("byte %u (seq %u) is 0x%02x, want 0x%02x", i, seq + i, b[i], tt_pat(seq + i));
    free(b);
}

/* Read n bytes (more may be waiting); the pattern for seq.. */
static inline void tt_read_part(struct tt *t, int fd, uint32_t seq, uint32_t n)
{
    uint8_t *b = malloc(n);
    assert_non_null(b);
    assert_int_equal(ns_recv(tt_st(t), fd, b, n, 0), (ssize_t)n);
    for (uint32_t i = 0; i < n; i++)
        if (b[i] != tt_pat(seq + i))
            fail_msg("byte %u (seq %u) is 0x%02x, want 0x%02x", i, seq + i, b[i], tt_pat(seq + i));
    free(b);
}

/* Nothing to read: EAGAIN. */
static inline void tt_read_none(struct tt *t, int fd)
{
    uint8_t b[16];
    errno = 0;
    assert_int_equal(ns_recv(tt_st(t), fd, b, sizeof(b), 0), -1);
    assert_int_equal(errno, EAGAIN);
}

static inline uint64_t tt_ctr(const struct tt *t, enum ns_counter c) { return tb_ctr(t->tb, c); }
#define TCTR(t, name) tt_ctr((t), NS_CTR_##name)

#endif
