/* tcp/tcp_syncache.c — half-open connections: the syncache and SYN cookies.
 *
 * Read first: RFC 4987 §3.3 (SYN cache) and §3.6 (SYN cookies), RFC 9293
 * §3.10.7.2, RFC 7323 §3.2; the design is FreeBSD's tcp_syncache.c (a
 * hash of small entries, a bucket limit and a total bound, one timer per
 * bucket), the cookie encoding and the limits are Linux's
 * (net/ipv4/syncookies.c, tcp_conn_request): docs/tcp.md "SYN floods".
 *
 * A SYN to a listener makes an entry here, not a tcpcb: sizeof(struct
 * syncache_entry) bytes (docs/tcp.md gives the figure). The entry answers
 * with SYN,ACKs — at 1, 3, 7, 15 and 31 s (Linux tcp_synack_retries 5,
 * the RTO doubling from 1 s) — and expires 63 s after the SYN without a
 * word to the peer, which may well be spoofed (no RST backscatter). The
 * final ACK makes the tcpcb. When the entry's bucket, the cache or the
 * listener's half-open queue is full, the SYN,ACK carries a cookie
 * instead and nothing is kept.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/socket.h"
#include "tcp/tcp.h"
#include "tcp/tcp_syncache.h"
#include "wire/bytes.h"

#define TCP_SYNACK_TIMEOUT_US 1000000u /* Linux TCP_TIMEOUT_INIT */
/* Linux TCP_SYNCOOKIE_VALID: ACKs are checked as cookies for two minutes
 * after the listener last sent one (tcp_synq_no_recent_overflow). */
#define TCP_SYNCOOKIE_VALID_US 120000000ull
#define COOKIEBITS 24u
#define COOKIEMASK ((1u << COOKIEBITS) - 1)
#define MAX_SYNCOOKIE_AGE 2u
#define TSBITS 6u
#define TSMASK ((1u << TSBITS) - 1)
#define TS_OPT_WSCALE_MASK 0xfu
#define TS_OPT_SACK (1u << 4)
#define TS_OPT_ECN (1u << 5)

const uint16_t tcp_cookie_msstab[TCP_COOKIE_NMSS] = {536, 1300, 1440, 1460};

static void syncache_timer(void *ctx, struct ns_timer *t, uint64_t now_us);

int tcp_syncache_init(struct ns_stack *st)
{
    struct tcp_table *t = st->tcp;
    struct syncache *sc = &t->syncache;
    sc->buckets = calloc(TCP_SYNCACHE_BUCKETS, sizeof(*sc->buckets));
    if (!sc->buckets)
        return -ENOMEM;
    for (uint32_t i = 0; i < TCP_SYNCACHE_BUCKETS; i++)
        ns_timer_init(&sc->buckets[i].timer, syncache_timer);
    /* Keys as the connection hash's: PRFs of the ISN secret under labels,
     * so making them draws nothing from the stack's generator. */
    sc->hash_key.k0 = ns_siphash(t->isn_key, "netsock syncache k0", 19);
    sc->hash_key.k1 = ns_siphash(t->isn_key, "netsock syncache k1", 19);
    for (int i = 0; i < 2; i++) {
        uint64_t a = ns_siphash(t->isn_key, i ? "netsock cookie 1a" : "netsock cookie 0a", 17);
        uint64_t b = ns_siphash(t->isn_key, i ? "netsock cookie 1b" : "netsock cookie 0b", 17);
        memcpy(sc->cookie_key[i], &a, 8);
        memcpy(sc->cookie_key[i] + 8, &b, 8);
    }
    return 0;
}

static struct syncache_bucket *syncache_bucket(struct ns_stack *st, const struct ns_flow *f)
{
    struct syncache *sc = &st->tcp->syncache;
    return &sc->buckets[ns_flow_hash(&sc->hash_key, f) & (TCP_SYNCACHE_BUCKETS - 1)];
}

struct syncache_entry *tcp_syncache_lookup(struct ns_stack *st, const struct ns_flow *f)
{
    for (struct syncache_entry *e = syncache_bucket(st, f)->head; e; e = e->next)
        if (ns_flow_eq(&e->flow, f))
            return e;
    return NULL;
}

/* Unlink e from bucket b (the bucket's timer is left armed: it finds
 * nothing to do, or the next deadline) and free it. */
static void syncache_remove(struct ns_stack *st, struct syncache_bucket *b,
                            struct syncache_entry *e)
{
    for (struct syncache_entry **pp = &b->head; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    b->len--;
    st->tcp->syncache.count--;
    e->listener->synq_len--;
    free(e);
}

/* Arm b's timer for its earliest deadline (none when empty). */
static void syncache_rearm(struct ns_stack *st, struct syncache_bucket *b)
{
    uint64_t first = UINT64_MAX;
    for (struct syncache_entry *e = b->head; e; e = e->next)
        if (e->deadline_us < first)
            first = e->deadline_us;
    if (first == UINT64_MAX)
        ns_timer_cancel(&st->wheel, &b->timer);
    else if (!ns_timer_pending(&b->timer) || b->timer.expires_us != first)
        ns_timer_arm(&st->wheel, &b->timer, first);
}

void tcp_syncache_purge(struct ns_stack *st, struct tcpcb *l)
{
    struct syncache *sc = &st->tcp->syncache;
    if (!sc->buckets || l->synq_len == 0)
        return;
    for (uint32_t i = 0; i < TCP_SYNCACHE_BUCKETS && l->synq_len > 0; i++) {
        struct syncache_bucket *b = &sc->buckets[i];
        bool changed = false;
        for (struct syncache_entry *e = b->head, *next; e; e = next) {
            next = e->next;
            if (e->listener == l) {
                syncache_remove(st, b, e);
                changed = true;
            }
        }
        if (changed)
            syncache_rearm(st, b);
    }
}

void tcp_syncache_destroy(struct ns_stack *st)
{
    struct syncache *sc = &st->tcp->syncache;
    if (!sc->buckets)
        return;
    for (uint32_t i = 0; i < TCP_SYNCACHE_BUCKETS; i++) {
        struct syncache_bucket *b = &sc->buckets[i];
        ns_timer_cancel(&st->wheel, &b->timer);
        while (b->head)
            syncache_remove(st, b, b->head);
    }
    free(sc->buckets);
    sc->buckets = NULL;
}

/* ---- the SYN,ACK -------------------------------------------------------------------- */

/* What a SYN,ACK says, from an entry or for a cookie. */
struct synack {
    uint32_t iss, irs;
    uint32_t ts_val, ts_ecr;
    uint16_t peer_mss;           /* the SYN's MSS (for the window under memory pressure) */
    uint8_t flags;               /* SCF_*: the options we answer */
    uint8_t wscale;              /* our shift (when SCF_WS) */
};

/* The MSS we announce to flow f's peer: the route's (tcp_mss_for_route)
 * or TCP_MAXSEG's when smaller. */
static uint16_t synack_mss(struct ns_stack *st, const struct tcpcb *l, const struct ns_flow *f,
                           struct ip_egress *eg)
{
    const struct ip_egress *e = ip_egress_for(st, eg, &f->remote, l->sock.bound_ifindex);
    uint16_t mss = tcp_mss_for_egress(st, e, &f->remote);
    if (l->user_mss && l->user_mss < mss)
        mss = l->user_mss;
    return mss;
}

/* tcp_effective_mss of the connection to come: our announced MSS (the
 * route's, or TCP_MAXSEG's), the peer's, less the timestamp option. */
static uint32_t synack_eff_mss(uint16_t ours, uint16_t peer, bool ts)
{
    uint32_t mss = peer < ours ? peer : ours;
    mss -= ts ? 12u : 0u;
    return mss < 64 ? 64 : mss;
}

/* Our window shift for children of l (tcp_opts_init computes the same). */
static uint8_t synack_wscale(struct ns_stack *st, const struct tcpcb *l)
{
    return tcp_wscale_for(st, l->rcvbuf.cap, l->flags & TF_RCVBUF_LOCK);
}

/* Send the SYN,ACK s on flow f (local = our end); `rexmit` counts it as
 * a retransmission. Without a packet buffer it is simply not sent (the
 * next retransmission, or the peer's, tries again). */
static void synack_send(struct ns_stack *st, const struct tcpcb *l, const struct ns_flow *f,
                        const struct synack *s, bool rexmit)
{
    struct ip_egress eg = {0};
    uint16_t mss = synack_mss(st, l, f, &eg);
    struct ns_tcp_repr th = {
        .sport = f->lport,
        .dport = f->rport,
        .seq = s->iss,
        .ack = s->irs + 1,
        .flags = NS_TCP_SYN | NS_TCP_ACK,
        .win = tcp_syn_window(l, synack_eff_mss(mss, s->peer_mss, s->flags & SCF_TS)),
        .has_mss = true,
        .mss = mss,
    };
    /* RFC 7323 §2.2, §3.2, RFC 2018 §2: each option only when the SYN
     * carried it (SCF_* say so). */
    if (s->flags & SCF_WS) {
        th.has_wscale = true;
        th.wscale = s->wscale;
    }
    if (s->flags & SCF_TS) {
        th.has_ts = true;
        th.ts_val = s->ts_val;
        th.ts_ecr = s->ts_ecr;
    }
    th.sack_ok = s->flags & SCF_SACK;
    size_t hlen = NS_TCP_HLEN + ns_tcp_opts_len(&th);
    struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, (uint32_t)hlen);
    if (!pb)
        return;
    uint8_t *p = ns_pbuf_data(pb);
    ns_tcp_emit(&th, p);
    uint32_t sum = ns_csum_pseudo(&f->local, &f->remote, NS_IPPROTO_TCP, (uint32_t)hlen);
    ns_wr16(p + 16, ns_csum_fold(ns_csum_add(sum, p, hlen)));
    if (rexmit)
        NS_STAT_INC(st, tcp_retrans_segs);
    NS_STAT_INC(st, tcp_tx_segs);
    tcp_ip_output(st, &eg, f, l->so, true, pb);
}

/* The SYN,ACK of entry e, now. */
static void syncache_respond(struct ns_stack *st, const struct syncache_entry *e, bool rexmit)
{
    struct synack s = {
        .iss = e->iss,
        .irs = e->irs,
        .peer_mss = e->peer_mss,
        .flags = e->flags & (SCF_WS | SCF_SACK | SCF_TS),
        .wscale = synack_wscale(st, e->listener),
    };
    if (e->flags & SCF_TS) {
        s.ts_val = (uint32_t)(st->now_us / 1000) + tcp_ts_offset(st, &e->flow);
        s.ts_ecr = e->ts_recent;
    }
    synack_send(st, e->listener, &e->flow, &s, rexmit);
}

/* A bucket's timer: retransmit the SYN,ACKs that are due, expire the
 * entries whose last one went unanswered (Linux reqsk_timer_handler):
 * silently, so a spoofed source gets nothing more from us. */
static void syncache_timer(void *ctx, struct ns_timer *t, uint64_t now_us)
{
    struct ns_stack *st = ctx;
    struct syncache_bucket *b = NS_CONTAINER_OF(t, struct syncache_bucket, timer);
    for (struct syncache_entry *e = b->head, *next; e; e = next) {
        next = e->next;
        if (e->deadline_us > now_us)
            continue;
        uint32_t retries = st->cfg.tcp_synack_retries;
        if (e->rxt >= retries) {
            NS_STAT_INC(st, tcp_syncache_expired);
            syncache_remove(st, b, e);
            continue;
        }
        e->rxt++;
        e->deadline_us = now_us + ((uint64_t)TCP_SYNACK_TIMEOUT_US << e->rxt);
        syncache_respond(st, e, true);
    }
    syncache_rearm(st, b);
}

/* ---- SYN cookies ----------------------------------------------------------------------- */

/* A keyed hash of flow f and c (Linux cookie_hash): the addresses and
 * ports of the connection seen from our end. */
static uint32_t cookie_hash(const uint8_t key[16], const struct ns_flow *f, uint32_t c)
{
    uint8_t in[2 * sizeof(f->local.u) + 8];
    size_t n = 0;
    memcpy(in + n, &f->local.u, sizeof(f->local.u));
    n += sizeof(f->local.u);
    memcpy(in + n, &f->remote.u, sizeof(f->remote.u));
    n += sizeof(f->remote.u);
    ns_wr16(in + n, f->lport);
    ns_wr16(in + n + 2, f->rport);
    ns_wr32(in + n + 4, c);
    n += 8;
    return (uint32_t)ns_siphash(key, in, n);
}

uint32_t tcp_cookie_mss_index(uint16_t mss)
{
    uint32_t i = TCP_COOKIE_NMSS - 1;
    while (i > 0 && mss < tcp_cookie_msstab[i])
        i--;
    return i;
}

/* Linux secure_tcp_syn_cookie: the top 8 bits count minutes; the low 24
 * carry the data under a hash that depends on the count. */
uint32_t tcp_cookie_make(const uint8_t key[2][16], const struct ns_flow *f, uint32_t irs,
                         uint32_t count, uint32_t data)
{
    return cookie_hash(key[0], f, 0) + irs + (count << COOKIEBITS) +
           ((cookie_hash(key[1], f, count) + data) & COOKIEMASK);
}

int64_t tcp_cookie_check(const uint8_t key[2][16], const struct ns_flow *f, uint32_t irs,
                         uint32_t cookie, uint32_t count)
{
    uint32_t c = cookie - cookie_hash(key[0], f, 0) - irs;
    uint32_t diff = (count - (c >> COOKIEBITS)) & ((uint32_t)-1 >> COOKIEBITS);
    if (diff >= MAX_SYNCOOKIE_AGE)
        return -1; /* made more than a minute before the current counter */
    uint32_t data = (c - cookie_hash(key[1], f, count - diff)) & COOKIEMASK;
    if (data >= TCP_COOKIE_NMSS)
        return -1; /* the hash under that counter does not match */
    return data;
}

uint32_t tcp_cookie_ts(uint32_t ts_now, int wscale, bool sack, bool ecn)
{
    uint32_t options = wscale >= 0 ? (uint32_t)wscale & TS_OPT_WSCALE_MASK : TS_OPT_WSCALE_MASK;
    if (sack)
        options |= TS_OPT_SACK;
    if (ecn)
        options |= TS_OPT_ECN;
    uint32_t ts = (ts_now & ~TSMASK) | options;
    if (SEQ_GT(ts, ts_now))
        ts -= TSMASK + 1; /* never a TSval from the future */
    return ts;
}

bool tcp_cookie_ts_decode(uint32_t tsecr, int *wscale, bool *sack, bool *ecn)
{
    uint32_t options = tsecr & TSMASK;
    uint32_t ws = options & TS_OPT_WSCALE_MASK;
    *sack = options & TS_OPT_SACK;
    *ecn = options & TS_OPT_ECN;
    if (ws == TS_OPT_WSCALE_MASK) {
        *wscale = -1;
        return true;
    }
    if (ws > TCP_WSCALE_MAX)
        return false;
    *wscale = (int)ws;
    return true;
}

/* Answer the SYN th on flow `in` with a cookie (Linux tcp_conn_request
 * with want_cookie): nothing is kept. Without timestamps the SYN,ACK
 * offers no window scaling and no SACK (tcp_clear_options): the ACK
 * could not tell us they were agreed. */
static void syncache_send_cookie(struct ns_stack *st, struct tcpcb *l, const struct ns_flow *in,
                                 const struct ns_tcp_repr *th)
{
    struct syncache *sc = &st->tcp->syncache;
    uint16_t mss = th->has_mss ? th->mss : TCP_MSS_NOOPT;
    uint32_t mssind = tcp_cookie_mss_index(mss);
    struct synack s = {
        .irs = th->seq,
        .iss = tcp_cookie_make(sc->cookie_key, in, th->seq, tcp_cookie_time(st->now_us), mssind),
        .peer_mss = mss,
        .wscale = synack_wscale(st, l),
    };
    if (th->has_ts && st->cfg.tcp_timestamps) {
        s.flags |= SCF_TS;
        bool ws = th->has_wscale && st->cfg.tcp_window_scaling;
        bool sack = th->sack_ok && st->cfg.tcp_sack;
        if (ws)
            s.flags |= SCF_WS;
        if (sack)
            s.flags |= SCF_SACK;
        uint32_t ts_now = (uint32_t)(st->now_us / 1000) + tcp_ts_offset(st, in);
        s.ts_val = tcp_cookie_ts(ts_now, ws ? th->wscale : -1, sack, false);
        s.ts_ecr = th->ts_val;
    }
    if (!l->cookie_sent || st->now_us - l->last_cookie_us > TCP_SYNCOOKIE_VALID_US) {
        /* Linux tcp_syn_flood_action says so too, once per episode here. */
        NS_LOG(st, NS_LOG_INFO, "tcp: possible SYN flooding on port %u: sending cookies",
               (unsigned)l->sock.flow.lport);
    }
    l->last_cookie_us = st->now_us;
    l->cookie_sent = true;
    NS_STAT_INC(st, tcp_syncookies_sent);
    synack_send(st, l, in, &s, false);
}

/* ---- SYN arrival --------------------------------------------------------------------------- */

static void syncache_hold(struct ns_stack *st, struct tcpcb *l, const struct ns_flow *in,
                          const struct ns_tcp_repr *th);

void tcp_syncache_syn(struct ns_stack *st, struct tcpcb *l, const struct ns_flow *in,
                      const struct ns_tcp_repr *th)
{
    struct syncache *sc = &st->tcp->syncache;
    struct syncache_bucket *b = syncache_bucket(st, in);
    for (struct syncache_entry *e = b->head; e; e = e->next) {
        if (!ns_flow_eq(&e->flow, in))
            continue;
        if (e->listener == l && e->irs == th->seq) {
            /* The peer retransmitted its SYN: our SYN,ACK was lost
             * (FreeBSD syncache_add "retransmit the SYN,ACK"). */
            NS_STAT_INC(st, tcp_syncache_dupsyn);
            e->flags |= SCF_RTX;
            syncache_respond(st, e, true);
            return;
        }
        /* A new SYN on the flow (another ISN): start over from it. */
        syncache_remove(st, b, e);
        break;
    }
    if (l->flags & TF_DEFER_SYNACK) {
        syncache_hold(st, l, in, th);
        return;
    }
    /* Cookies when the listener's request queue is full (Linux
     * tcp_conn_request, inet_csk_reqsk_queue_is_full) or the bucket or
     * the cache is (FreeBSD syncache_add). The request queue holds
     * 2 * backlog + 16 here, where Linux sends cookies from backlog on:
     * a cookie loses the options a SYN without timestamps offered, and a
     * lost final ACK is fatal to it, so a burst of honest SYNs above the
     * backlog is better cached (docs/tcp.md "SYN floods"). tcp_syncookies
     * 2 sends only cookies. */
    bool full = l->synq_len >= 2 * l->backlog + 16 || b->len >= TCP_SYNCACHE_BUCKET_LIMIT ||
                sc->count >= TCP_SYNCACHE_LIMIT;
    if (full || st->cfg.tcp_syncookies >= 2) {
        if (full)
            NS_STAT_INC(st, tcp_syncache_overflow);
        if (st->cfg.tcp_syncookies) {
            syncache_send_cookie(st, l, in, th);
        } else {
            NS_STAT_INC(st, tcp_drop_listen_overflow);
        }
        return;
    }
    struct syncache_entry *e = calloc(1, sizeof(*e));
    if (!e) {
        NS_STAT_INC(st, tcp_drop_nomem);
        return;
    }
    e->listener = l;
    e->flow = *in;
    e->irs = th->seq;
    e->iss = tcp_new_isn(st, in);
    e->peer_mss = th->has_mss ? th->mss : TCP_MSS_NOOPT;
    e->peer_win = th->win;
    if (th->has_wscale && st->cfg.tcp_window_scaling) {
        e->flags |= SCF_WS;
        e->peer_wscale = th->wscale; /* parse clamped it to 14 (RFC 7323 §2.3) */
    }
    if (th->sack_ok && st->cfg.tcp_sack)
        e->flags |= SCF_SACK;
    if (th->has_ts && st->cfg.tcp_timestamps) {
        e->flags |= SCF_TS;
        e->ts_recent = th->ts_val;
    }
    e->deadline_us = st->now_us + TCP_SYNACK_TIMEOUT_US;
    e->next = b->head;
    b->head = e;
    b->len++;
    sc->count++;
    l->synq_len++;
    NS_STAT_INC(st, tcp_syncache_added);
    NS_STAT_INC(st, tcp_passive_opens);
    syncache_respond(st, e, false);
    if (!ns_timer_pending(&b->timer) || b->timer.expires_us > e->deadline_us)
        ns_timer_arm(&st->wheel, &b->timer, e->deadline_us);
}

/* ---- the final ACK ------------------------------------------------------------------------- */

/* What the handshake agreed, for the tcpcb made from it. */
struct synres {
    uint32_t iss, irs;
    uint16_t peer_mss, peer_win;
    int peer_wscale;             /* -1: none */
    bool sack, ts;
    uint32_t ts_recent;
    uint64_t sent_us;            /* when our only SYN,ACK left (0: unknown or retransmitted) */
};

/* Make the connection the handshake r agreed, in SYN-RECEIVED with our
 * SYN,ACK sent (Linux tcp_v4_syn_recv_sock), hashed and on l's SYN queue
 * so that the ACK's processing moves it to the accept queue. */
static struct tcpcb *syncache_make_tcpcb(struct ns_stack *st, struct tcpcb *l,
                                         const struct ns_flow *in, const struct synres *r)
{
    struct tcpcb *tp = tcp_child_new(l, in);
    if (!tp) {
        NS_STAT_INC(st, tcp_drop_nomem);
        return NULL;
    }
    if (r->peer_wscale >= 0) {
        tp->flags |= TF_RCVD_SCALE;
        tp->peer_wscale = (uint8_t)r->peer_wscale;
    }
    if (r->sack)
        tp->flags |= TF_RCVD_SACK;
    if (r->ts) {
        tp->flags |= TF_RCVD_TSTMP;
        tp->ts_recent = r->ts_recent;
        tp->ts_recent_age_us = st->now_us;
    } else {
        tp->flags &= ~TF_REQ_TSTMP; /* our SYN,ACK did not offer them */
    }
    if (!(tp->flags & TF_RCVD_SCALE))
        tp->flags &= ~TF_REQ_SCALE;
    if (!(tp->flags & TF_RCVD_SACK))
        tp->flags &= ~TF_REQ_SACK;
    tp->irs = r->irs;
    tp->rcv_nxt = r->irs + 1;
    tp->last_ack_sent = tp->rcv_nxt;
    tp->iss = r->iss;
    tp->snd_una = tp->snd_sml = r->iss;
    tp->snd_nxt = tp->snd_max = r->iss + 1; /* our SYN,ACK */
    tp->snd_data = r->iss + 1;
    tp->rack_fack = r->iss;
    tp->peer_mss = r->peer_mss;
    tp->snd_wnd = r->peer_win;
    tp->snd_wl1 = r->irs;
    if (r->sent_us) {
        /* RFC 6298 §3 (Karn): the SYN,ACK went once: time it. */
        tp->flags |= TF_RTT_TIMING;
        tp->rtt_seq = r->iss;
        tp->rtt_start_us = r->sent_us;
    }
    tp->listener = l;
    tp->qnext = l->synq;
    l->synq = tp;
    l->synq_len++;
    tcp_state_change(tp, TCPS_SYN_RECEIVED);
    tcp_hash_insert(tp);
    tp->mss = tcp_effective_mss(tp);
    /* What our SYN,ACK offered (tcp_xmit does this for a SYN it sends). */
    tp->rcv_ssthresh = tcp_syn_window(l, tp->mss);
    tp->rcv_adv = tp->rcv_nxt + tp->rcv_ssthresh;
    tp->cc->init(tp);
    tcp_arm_rexmt(tp); /* until the ACK is processed, as any SYN-RECEIVED */
    return tp;
}

/* A SYN for a NS_TCP_DEFER_SYNACK listener (l): the connection it asks
 * for is made now, held (TF_HELD: in SYN-RECEIVED with nothing sent) and
 * queued for accept(), so that the application learns the SYN's
 * destination before anything answers it (tcp_syncache_verdict). The
 * caller made sure the accept queue has room, which bounds how many wait. */
static void syncache_hold(struct ns_stack *st, struct tcpcb *l, const struct ns_flow *in,
                          const struct ns_tcp_repr *th)
{
    struct synres r = {
        .iss = tcp_new_isn(st, in),
        .irs = th->seq,
        .peer_mss = th->has_mss ? th->mss : TCP_MSS_NOOPT,
        .peer_win = th->win,
        .peer_wscale = th->has_wscale && st->cfg.tcp_window_scaling ? th->wscale : -1,
        .sack = th->sack_ok && st->cfg.tcp_sack,
        .ts = th->has_ts && st->cfg.tcp_timestamps,
        .ts_recent = th->ts_val,
    };
    struct tcpcb *tp = syncache_make_tcpcb(st, l, in, &r);
    if (!tp)
        return;
    /* Nothing sent yet: the SYN,ACK goes by the verdict. */
    tcp_timer_cancel(tp, TT_REXMT);
    tp->snd_nxt = tp->snd_max = tp->iss;
    tp->flags |= TF_HELD;
    NS_STAT_INC(st, tcp_syn_held);
    NS_STAT_INC(st, tcp_passive_opens);
    tcp_acceptq_add(l, tp);
}

int tcp_syncache_verdict(struct tcpcb *tp, int verdict)
{
    struct ns_stack *st = tp->st;
    if (!(tp->flags & TF_HELD) || tp->state != TCPS_SYN_RECEIVED)
        return -EINVAL;
    if (verdict == NS_SYNACK_ACCEPT) {
        tp->flags &= ~TF_HELD;
        tp->flags |= TF_RTT_TIMING;
        tp->rtt_seq = tp->iss;
        tp->rtt_start_us = st->now_us;
        tcp_output(tp); /* <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> (RFC 9293 §3.10.7.2) */
        return 0;
    }
    if (verdict == NS_SYNACK_RESET) {
        /* RFC 9293 §3.10.7.1: what a CLOSED port answers a SYN with. */
        tcp_respond(st, &tp->sock.flow, 0, tp->rcv_nxt, NS_TCP_RST | NS_TCP_ACK, 0);
    } else if ((verdict & ~0xff) == NS_SYNACK_UNREACH(0) && (verdict & 0xff) <= 15) {
        /* The SYN, as much of it as an ICMP error quotes (RFC 792: the
         * IP header and 64 bits of data), rebuilt from the connection. */
        uint8_t syn[NS_IP4_HLEN + NS_TCP_HLEN];
        const struct ns_flow *f = &tp->sock.flow;
        struct ns_ip4_repr ip = {
            .src = ns_addr_to_ip4(&f->remote), .dst = ns_addr_to_ip4(&f->local),
            .proto = NS_IPPROTO_TCP, .ttl = 64, .total_len = sizeof(syn), .hlen = NS_IP4_HLEN,
            .df = true,
        };
        struct ns_tcp_repr th = {.sport = f->rport, .dport = f->lport, .seq = tp->irs,
                                 .flags = NS_TCP_SYN};
        if (f->local.family != AF_INET)
            return -EINVAL;
        ns_ip4_emit(&ip, syn);
        ns_tcp_emit(&th, syn + NS_IP4_HLEN);
        struct ns_pbuf *pb = ns_stack_alloc(st, NS_PBUF_HEADROOM, sizeof(syn));
        if (pb) {
            memcpy(ns_pbuf_data(pb), syn, sizeof(syn));
            pb->ifindex = 0;
            icmp4_send_error(st, pb, NS_ICMP_DEST_UNREACH, (uint8_t)(verdict & 0xff), 0);
            ns_pbuf_free(pb);
        }
    } else {
        return -EINVAL;
    }
    NS_STAT_INC(st, tcp_held_refused);
    NS_STAT_INC(st, tcp_attempt_fails);
    tp->flags &= ~TF_HELD;
    tcp_set_error(tp, ECONNREFUSED);
    tcp_close(tp);
    return 0;
}

/* Linux sk_acceptq_is_full: the accept queue holds backlog + 1. */
static bool acceptq_full(const struct tcpcb *l) { return l->acceptq_len >= l->backlog + 1; }

struct tcpcb *tcp_syncache_ack(struct ns_stack *st, struct tcpcb *l, const struct ns_flow *in,
                               const struct ns_tcp_repr *th, bool *reset)
{
    struct syncache *sc = &st->tcp->syncache;
    *reset = false;
    struct syncache_bucket *b = syncache_bucket(st, in);
    struct syncache_entry *e = tcp_syncache_lookup(st, in);
    if (e && e->listener == l) {
        /* RFC 9293 §3.10.7.4 in SYN-RECEIVED: an ACK outside SND.UNA <
         * SEG.ACK =< SND.NXT gets a RST (FreeBSD syncache_expand). */
        if (th->ack != e->iss + 1) {
            NS_STAT_INC(st, tcp_drop_bad_ack);
            *reset = true;
            return NULL;
        }
        if (SEQ_LEQ(th->seq, e->irs) || SEQ_GT(th->seq, e->irs + 1 + 65535u)) {
            NS_STAT_INC(st, tcp_drop_out_of_window);
            return NULL;
        }
        if (acceptq_full(l)) {
            /* Linux (tcp_abort_on_overflow 0): the ACK is dropped, the
             * request kept; our SYN,ACK retransmission draws another. */
            NS_STAT_INC(st, tcp_drop_listen_overflow);
            return NULL;
        }
        struct synres r = {
            .iss = e->iss, .irs = e->irs, .peer_mss = e->peer_mss, .peer_win = e->peer_win,
            .peer_wscale = (e->flags & SCF_WS) ? e->peer_wscale : -1,
            .sack = e->flags & SCF_SACK, .ts = e->flags & SCF_TS, .ts_recent = e->ts_recent,
            .sent_us = e->rxt || (e->flags & SCF_RTX) ? 0 : e->deadline_us - TCP_SYNACK_TIMEOUT_US,
        };
        if (th->has_ts && r.ts)
            r.ts_recent = th->ts_val; /* RFC 7323 §4.3: TS.Recent from this ACK */
        syncache_remove(st, b, e);
        syncache_rearm(st, b);
        return syncache_make_tcpcb(st, l, in, &r);
    }
    /* Linux cookie_v4_check: only while cookies were sent lately. */
    if (!st->cfg.tcp_syncookies || !l->cookie_sent ||
        st->now_us - l->last_cookie_us > TCP_SYNCOOKIE_VALID_US) {
        *reset = true;
        return NULL;
    }
    uint32_t irs = th->seq - 1;
    int64_t mssind = tcp_cookie_check(sc->cookie_key, in, irs, th->ack - 1,
                                      tcp_cookie_time(st->now_us));
    struct synres r = {.iss = th->ack - 1, .irs = irs, .peer_wscale = -1, .peer_win = th->win};
    bool ok = mssind >= 0;
    if (ok && th->has_ts && st->cfg.tcp_timestamps && th->ts_ecr) {
        bool ecn;
        ok = tcp_cookie_ts_decode(th->ts_ecr, &r.peer_wscale, &r.sack, &ecn);
        /* cookie_timestamp_decode: options we would not have offered. */
        if ((r.sack && !st->cfg.tcp_sack) || (r.peer_wscale >= 0 && !st->cfg.tcp_window_scaling))
            ok = false;
        r.ts = true;
        r.ts_recent = th->ts_val;
    }
    if (!ok) {
        NS_STAT_INC(st, tcp_syncookies_failed);
        *reset = true;
        return NULL;
    }
    NS_STAT_INC(st, tcp_syncookies_recv);
    if (acceptq_full(l)) {
        NS_STAT_INC(st, tcp_drop_listen_overflow);
        return NULL;
    }
    r.peer_mss = tcp_cookie_msstab[mssind];
    NS_STAT_INC(st, tcp_passive_opens);
    return syncache_make_tcpcb(st, l, in, &r);
}

void tcp_syncache_rst(struct ns_stack *st, struct tcpcb *l, const struct ns_flow *in,
                      const struct ns_tcp_repr *th)
{
    struct syncache_entry *e = tcp_syncache_lookup(st, in);
    if (!e || e->listener != l)
        return;
    /* RFC 5961 §3.2 is moot here (no data yet): the RST must be at
     * RCV.NXT exactly, as FreeBSD syncache_chkrst asks. */
    if (th->seq != e->irs + 1)
        return;
    NS_STAT_INC(st, tcp_syncache_reset);
    struct syncache_bucket *b = syncache_bucket(st, in);
    syncache_remove(st, b, e);
    syncache_rearm(st, b);
}

void tcp_syncache_icmp(struct ns_stack *st, const struct ns_flow *out, uint32_t seq, bool abort)
{
    struct syncache_entry *e = tcp_syncache_lookup(st, out);
    /* RFC 5927 §4.1: the quoted segment must be our SYN,ACK (Linux
     * tcp_req_err). */
    if (!e || seq != e->iss || !abort)
        return;
    NS_STAT_INC(st, tcp_syncache_icmp);
    struct syncache_bucket *b = syncache_bucket(st, out);
    syncache_remove(st, b, e);
    syncache_rearm(st, b);
}
