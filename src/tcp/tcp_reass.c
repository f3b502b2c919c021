/* tcp/tcp_reass.c — the out-of-order queue.
 *
 * Read first: RFC 9293 §3.10.7.4 "seventh, process the segment text"
 * (segments beyond RCV.NXT are held until the gap fills), RFC 1122
 * §4.2.2.20 (SHOULD queue out-of-order segments), RFC 9293 §3.9.1 on
 * overlapping and duplicate data.
 *
 * Segments are copied and kept sorted by sequence number with overlaps
 * trimmed on insertion, so the queue never holds a byte twice; a segment
 * whose every byte is already queued is dropped, and queued segments a new
 * one covers are replaced by it, each counted in tcp_ooo_merge (Linux
 * TCPOFOMerge). It is
 * bounded by max(TCP_REASS_MAX_SEGS, buffer / 512) segments and by the
 * receive buffer (the caller only queues data inside the advertised
 * window). A segment beyond everything queued, the common case while a
 * hole waits, is appended at the tail (reass_last) without a walk.
 */
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"

struct tcp_seg {
    struct tcp_seg *next;
    uint32_t seq;
    uint32_t len;
    bool fin;
    uint8_t data[];
};

static struct tcp_seg *seg_new(uint32_t seq, const uint8_t *data, uint32_t len, bool fin)
{
    struct tcp_seg *s = malloc(sizeof(*s) + len);
    if (!s)
        return NULL;
    s->next = NULL;
    s->seq = seq;
    s->len = len;
    s->fin = fin;
    if (len)
        memcpy(s->data, data, len);
    return s;
}

bool tcp_reass_insert(struct tcpcb *tp, uint32_t seq, const uint8_t *data, uint32_t len, bool fin)
{
    struct ns_stack *st = tp->st;
    struct tcp_seg **pp = &tp->reass;
    struct tcp_seg *last = tp->reass_last;
    if (last && !last->fin && SEQ_GEQ(seq, last->seq + last->len))
        pp = &last->next; /* beyond everything queued: no walk */

    /* Skip segments that end before this one starts. Nothing follows a
     * FIN (RFC 9293 §3.10.7.4 "eighth": the FIN ends the sequence space):
     * a duplicate FIN, or data past a queued FIN, is dropped here, or the
     * copy would stay queued after the first was delivered. */
    while (*pp && SEQ_LEQ((*pp)->seq + (*pp)->len, seq)) {
        if ((*pp)->fin) {
            NS_STAT_INC(st, tcp_ooo_merge);
            return true;
        }
        pp = &(*pp)->next;
    }
    /* A predecessor overlapping our start: cut our front. */
    if (*pp && SEQ_LT((*pp)->seq, seq) && SEQ_GT((*pp)->seq + (*pp)->len, seq)) {
        uint32_t cut = (*pp)->seq + (*pp)->len - seq;
        tcp_sack_rcv_dup(tp, seq, seq + (cut < len ? cut : len)); /* RFC 2883 */
        if (cut >= len && (!fin || (*pp)->fin)) {
            NS_STAT_INC(st, tcp_ooo_merge); /* entirely duplicate (its FIN too) */
            return true;
        }
        if (cut > len)
            cut = len;
        seq += cut;
        data += cut;
        len -= cut;
        pp = &(*pp)->next;
    }
    /* Successors we cover entirely are replaced; a partial one cuts our tail. */
    while (*pp && SEQ_GEQ((*pp)->seq, seq) && SEQ_LEQ((*pp)->seq + (*pp)->len, seq + len) &&
           !((*pp)->fin && !fin)) {
        struct tcp_seg *dead = *pp;
        if (dead->len)
            tcp_sack_rcv_dup(tp, dead->seq, dead->seq + dead->len); /* RFC 2883 */
        *pp = dead->next;
        if (dead == tp->reass_last) /* the tail goes: its predecessor is last now */
            tp->reass_last = pp == &tp->reass ? NULL : NS_CONTAINER_OF(pp, struct tcp_seg, next);
        tp->reass_bytes -= dead->len;
        tp->reass_segs--;
        free(dead);
        NS_STAT_INC(st, tcp_ooo_merge); /* Linux TCPOFOMerge counts these too */
    }
    if (*pp && SEQ_LT((*pp)->seq, seq + len)) {
        len = (*pp)->seq - seq;
        fin = false;
    }
    if (len == 0 && !fin) {
        NS_STAT_INC(st, tcp_ooo_merge); /* its successors held all of it */
        return true;
    }
    /* The window bounds the bytes; the count bounds the per-segment
     * overhead (tiny segments), scaled with the buffer so that a full
     * window of ordinary segments always fits. */
    uint32_t max_segs = tp->rcvbuf.cap / 512 > TCP_REASS_MAX_SEGS ? tp->rcvbuf.cap / 512
                                                                   : TCP_REASS_MAX_SEGS;
    if (tp->reass_segs >= max_segs) {
        NS_STAT_INC(st, tcp_ooo_drop);
        return false;
    }
    struct tcp_seg *s = seg_new(seq, data, len, fin);
    if (!s) {
        NS_STAT_INC(st, tcp_ooo_drop);
        return false;
    }
    s->next = *pp;
    *pp = s;
    if (!s->next)
        tp->reass_last = s;
    tp->reass_bytes += len;
    tp->reass_segs++;
    NS_STAT_INC(st, tcp_ooo_segs);
    return true;
}

uint32_t tcp_reass_pull(struct tcpcb *tp, bool *fin)
{
    uint32_t moved = 0;
    *fin = false;
    while (tp->reass && SEQ_LEQ(tp->reass->seq, tp->rcv_nxt)) {
        struct tcp_seg *s = tp->reass;
        uint32_t skip = tp->rcv_nxt - s->seq;
        if (skip < s->len) {
            uint32_t n = ns_ring_write_max(&tp->rcvbuf, s->data + skip, s->len - skip,
                                           tcp_rcv_ring_limit(tp));
            tp->rcv_nxt += n;
            moved += n;
            if (n < s->len - skip)
                break; /* buffer full: keep the rest queued */
        }
        if (s->fin && tp->rcv_nxt == s->seq + s->len)
            *fin = true;
        tp->reass = s->next;
        if (!tp->reass)
            tp->reass_last = NULL;
        tp->reass_bytes -= s->len;
        tp->reass_segs--;
        free(s);
        if (*fin) {
            /* Nothing follows a FIN: whatever is left is stale. */
            tcp_reass_flush(tp);
            break;
        }
    }
    return moved;
}

uint32_t tcp_reass_end(const struct tcpcb *tp)
{
    return tp->reass_last ? tp->reass_last->seq + tp->reass_last->len : tp->rcv_nxt;
}

void tcp_reass_span(const struct tcpcb *tp, uint32_t *l, uint32_t *r)
{
    uint32_t rs = 0, re = 0;
    for (const struct tcp_seg *s = tp->reass; s; s = s->next) {
        if (s == tp->reass || s->seq != re)
            rs = s->seq; /* a new run starts */
        re = s->seq + s->len;
        if (SEQ_LEQ(rs, *l) && SEQ_GEQ(re, *r)) {
            while (s->next && s->next->seq == re) {
                s = s->next;
                re = s->seq + s->len;
            }
            *l = rs;
            *r = re;
            return;
        }
    }
}

void tcp_reass_flush(struct tcpcb *tp)
{
    while (tp->reass) {
        struct tcp_seg *s = tp->reass;
        tp->reass = s->next;
        free(s);
    }
    tp->reass_last = NULL;
    tp->reass_bytes = 0;
    tp->reass_segs = 0;
    tp->rcv_nsack = 0; /* nothing out of order is held any more */
}
