/* tcp/tcp_sack.c — selective acknowledgments, both ends.
 *
 * Read first: RFC 2018 (the option; §4 which blocks a receiver reports,
 * most recent first; §8 the sender keeps SACKed data until it is
 * cumulatively acknowledged, because the receiver may renege), RFC 2883
 * (D-SACK: reporting a duplicate segment in the first block), RFC 6675
 * §2-§4 (the sender's scoreboard and "pipe").
 *
 * Receiver: rcv_sack[] holds up to NS_TCP_MAX_SACK blocks, the first one
 * the block holding the segment that arrived last (merged with the
 * out-of-order queue's contiguous data around it), the rest in the order
 * they were last reported. A pending D-SACK block is sent once, first.
 *
 * Sender: the scoreboard is a ring of records, one per segment as it was
 * sent, tiling [SND.UNA, SND.MAX) in sequence order. Each carries its last
 * transmission time (RACK needs it) and SR_* marks; sacked_bytes,
 * lost_bytes and retrans_bytes are kept in step with the marks, so pipe
 * (tcp_pipe) costs nothing. Records are split only at MSS multiples from
 * their start (a block edge elsewhere leaves the record unmarked, as
 * Linux tcp_match_skb_to_sack does), so a peer cannot make us keep more
 * records than segments.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp.h"

/* ---- receiver ------------------------------------------------------------------ */

static bool blk_overlaps(const struct ns_tcp_sack_block *b, uint32_t l, uint32_t r)
{
    return SEQ_LEQ(b->left, r) && SEQ_GEQ(b->right, l);
}

void tcp_sack_rcv_add(struct tcpcb *tp, uint32_t seq, uint32_t end)
{
    if (!tcp_sack_on(tp))
        return;
    uint32_t l = seq, r = end;
    if (tp->rcv_nsack && tp->rcv_sack[0].right == seq && tcp_reass_end(tp) == end)
        l = tp->rcv_sack[0].left; /* the newest block grew at the tail: no walk */
    else
        tcp_reass_span(tp, &l, &r);
    /* RFC 2018 §4: the first block holds the newest segment; the others
     * repeat the most recently reported blocks, minus those the new block
     * now contains. */
    struct ns_tcp_sack_block out[NS_TCP_MAX_SACK];
    uint8_t n = 0;
    out[n++] = (struct ns_tcp_sack_block){l, r};
    for (uint8_t i = 0; i < tp->rcv_nsack && n < NS_TCP_MAX_SACK; i++)
        if (!blk_overlaps(&tp->rcv_sack[i], l, r))
            out[n++] = tp->rcv_sack[i];
    memcpy(tp->rcv_sack, out, n * sizeof(out[0]));
    tp->rcv_nsack = n;
}

void tcp_sack_rcv_prune(struct tcpcb *tp)
{
    uint8_t n = 0;
    for (uint8_t i = 0; i < tp->rcv_nsack; i++) {
        struct ns_tcp_sack_block b = tp->rcv_sack[i];
        if (SEQ_LEQ(b.right, tp->rcv_nxt))
            continue;
        if (SEQ_LT(b.left, tp->rcv_nxt))
            b.left = tp->rcv_nxt;
        tp->rcv_sack[n++] = b;
    }
    tp->rcv_nsack = n;
}

void tcp_sack_rcv_dup(struct tcpcb *tp, uint32_t seq, uint32_t end)
{
    if (!tcp_sack_on(tp) || !SEQ_LT(seq, end))
        return;
    tp->rcv_dsack = (struct ns_tcp_sack_block){seq, end};
    tp->rcv_dsack_valid = true;
}

/* Blocks the next segment carries: as many as fit beside the other
 * options (ns_tcp_emit: 4 alone, 3 with timestamps). */
static uint32_t sack_blocks_next(const struct tcpcb *tp)
{
    uint32_t n = tp->rcv_nsack + (tp->rcv_dsack_valid ? 1u : 0u);
    uint32_t fit = tcp_ts_on(tp) ? 3u : NS_TCP_MAX_SACK;
    return n < fit ? n : fit;
}

uint32_t tcp_sack_opt_len(const struct tcpcb *tp)
{
    if (!tcp_sack_on(tp))
        return 0;
    uint32_t n = sack_blocks_next(tp);
    return n ? 4 + 8 * n : 0;
}

void tcp_sack_fill(struct tcpcb *tp, struct ns_tcp_repr *th)
{
    if (!tcp_sack_on(tp))
        return;
    uint8_t n = 0;
    int first = -1;
    if (tp->rcv_dsack_valid) {
        /* RFC 2883 §4: the D-SACK block first; when the duplicate lies in
         * a block the receiver holds, that block second. */
        th->sack[n++] = tp->rcv_dsack;
        tp->rcv_dsack_valid = false;
        NS_STAT_INC(tp->st, tcp_dsack_tx);
        for (uint8_t i = 0; i < tp->rcv_nsack; i++)
            if (SEQ_LEQ(tp->rcv_sack[i].left, tp->rcv_dsack.left) &&
                SEQ_GEQ(tp->rcv_sack[i].right, tp->rcv_dsack.right)) {
                first = i;
                th->sack[n++] = tp->rcv_sack[i];
                break;
            }
    }
    for (uint8_t i = 0; i < tp->rcv_nsack && n < NS_TCP_MAX_SACK; i++)
        if (i != first)
            th->sack[n++] = tp->rcv_sack[i];
    th->n_sack = n;
}

/* ---- sender scoreboard ------------------------------------------------------------ */

/* The scoreboard exists only while data is in flight: it is allocated
 * with the first record and given back when the last one leaves
 * (tcp_sm_ack), so an idle connection holds none of it. An array of the
 * first size (TCP_SM_FIRST_CAP records) goes to the stack's spares
 * (tcp_table.sm_spare, at most TCP_SM_SPARES), which the next scoreboard
 * takes: request/response does not pay a malloc/free pair per message. */
void tcp_sm_free(struct tcpcb *tp)
{
    struct tcp_table *t = tp->st->tcp;
    struct tcp_sendrec *rec = tp->sm.rec;
    if (rec && tp->sm.cap == TCP_SM_FIRST_CAP && t->sm_nspare < TCP_SM_SPARES) {
        memcpy(rec, &t->sm_spare, sizeof(void *)); /* the next spare */
        t->sm_spare = rec;
        t->sm_nspare++;
    } else {
        free(rec);
    }
    memset(&tp->sm, 0, sizeof(tp->sm));
    tp->sacked_bytes = tp->lost_bytes = tp->retrans_bytes = 0;
}

void tcp_sm_spares_free(struct tcp_table *t)
{
    while (t->sm_spare) {
        void *b = t->sm_spare;
        memcpy(&t->sm_spare, b, sizeof(void *));
        free(b);
    }
    t->sm_nspare = 0;
}

/* Room for `need` records; false when memory ran out. */
static bool sm_reserve(struct tcpcb *tp, uint32_t need)
{
    struct tcp_sendmap *sm = &tp->sm;
    if (need <= sm->cap)
        return true;
    uint32_t cap = sm->cap ? sm->cap : TCP_SM_FIRST_CAP;
    while (cap < need)
        cap *= 2;
    struct tcp_table *t = tp->st->tcp;
    struct tcp_sendrec *rec;
    if (cap == TCP_SM_FIRST_CAP && t->sm_spare) {
        rec = t->sm_spare;
        memcpy(&t->sm_spare, rec, sizeof(void *));
        t->sm_nspare--;
    } else {
        rec = malloc(cap * sizeof(*rec));
    }
    if (!rec)
        return false;
    for (uint32_t i = 0; i < sm->n; i++)
        rec[i] = *tcp_sm_at(tp, i);
    free(sm->rec);
    sm->rec = rec;
    sm->cap = cap;
    sm->head = 0;
    return true;
}

static uint32_t rec_len(const struct tcp_sendrec *r) { return r->end - r->start; }

uint32_t tcp_sm_find(const struct tcpcb *tp, uint32_t seq)
{
    uint32_t n = tp->sm.n;
    if (n == 0)
        return 0;
    uint32_t base = tcp_sm_at(tp, 0)->start;
    uint32_t off = seq - base;
    if (off >= tcp_sm_at(tp, n - 1)->end - base)
        return n;
    uint32_t lo = 0, hi = n - 1; /* the last record starting at or before seq */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (tcp_sm_at(tp, mid)->start - base <= off)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

bool tcp_sm_split(struct tcpcb *tp, uint32_t i, uint32_t seq)
{
    if (!sm_reserve(tp, tp->sm.n + 1))
        return false;
    for (uint32_t j = tp->sm.n; j > i + 1; j--)
        *tcp_sm_at(tp, j) = *tcp_sm_at(tp, j - 1);
    struct tcp_sendrec *a = tcp_sm_at(tp, i), *b = tcp_sm_at(tp, i + 1);
    *b = *a;
    b->start = seq;
    a->end = seq;
    a->flags &= (uint16_t)~SR_FIN; /* the FIN is the last sequence number */
    tp->sm.n++;
    return true;
}

void tcp_sm_sent(struct tcpcb *tp, uint32_t seq, uint32_t len, bool fin)
{
    if (!tcp_sack_active(tp) || len == 0)
        return;
    uint64_t now = tp->st->now_us;
    if (SEQ_LT(seq, tp->snd_max) && SEQ_GT(seq + len, tp->snd_max)) {
        /* Resent data and new data in one segment (sending resumed below
         * SND.MAX, e.g. after a window probe): two parts. */
        uint32_t old = tp->snd_max - seq;
        tcp_sm_sent(tp, seq, old, false);
        tcp_sm_sent(tp, tp->snd_max, len - old, fin);
        return;
    }
    if (SEQ_GEQ(seq, tp->snd_max)) {
        /* New data, appended (SND.MAX is still the old value). */
        struct tcp_sendrec r = {.start = seq, .end = seq + len, .xmit_us = now,
                                .flags = fin ? SR_FIN : 0};
        if (!sm_reserve(tp, tp->sm.n + 1)) {
            /* Out of memory: the last record grows to cover the segment,
             * so the records still tile (coarser, never wrong). */
            NS_STAT_INC(tp->st, tcp_sack_sm_nomem);
            if (tp->sm.n) {
                struct tcp_sendrec *last = tcp_sm_at(tp, tp->sm.n - 1);
                last->end = seq + len;
                last->xmit_us = now;
                last->flags |= r.flags;
            }
            return;
        }
        if (tp->sm.n == 0)
            tp->sm_rexmit_high = seq;
        *tcp_sm_at(tp, tp->sm.n) = r;
        tp->sm.n++;
        return;
    }
    /* A retransmission: each record it covers was just sent again. */
    for (uint32_t i = tcp_sm_find(tp, seq); i < tp->sm.n; i++) {
        struct tcp_sendrec *r = tcp_sm_at(tp, i);
        if (!SEQ_LT(r->start, seq + len))
            break;
        r->xmit_us = now;
        r->flags |= SR_EVER_RETRANS;
        if (SEQ_GT(r->end, tp->sm_rexmit_high))
            tp->sm_rexmit_high = r->end;
        if ((r->flags & (SR_LOST | SR_RETRANS | SR_SACKED)) == SR_LOST) {
            r->flags |= SR_RETRANS;
            tp->retrans_bytes += rec_len(r);
        }
    }
}

/* Take record r's bytes out of the counts its marks put them in. */
static void rec_uncount(struct tcpcb *tp, const struct tcp_sendrec *r, uint32_t bytes)
{
    if (r->flags & SR_SACKED) {
        tp->sacked_bytes -= bytes;
        return;
    }
    if (r->flags & SR_LOST)
        tp->lost_bytes -= bytes;
    if (r->flags & SR_RETRANS)
        tp->retrans_bytes -= bytes;
}

void tcp_sm_ack(struct tcpcb *tp, uint32_t ack)
{
    struct tcp_sendmap *sm = &tp->sm;
    while (sm->n) {
        struct tcp_sendrec *r = tcp_sm_at(tp, 0);
        if (SEQ_LEQ(r->end, ack)) {
            rec_uncount(tp, r, rec_len(r));
            if (!(r->flags & SR_SACKED))
                tcp_rack_delivered(tp, r);
            sm->head = (sm->head + 1) & (sm->cap - 1);
            sm->n--;
            continue;
        }
        if (SEQ_LT(r->start, ack)) {
            /* Part of the record arrived (the receiver trimmed or a
             * smaller MSS resent it): the rest stays. */
            rec_uncount(tp, r, ack - r->start);
            r->start = ack;
        }
        break;
    }
    if (sm->n == 0 && sm->rec)
        tcp_sm_free(tp); /* nothing in flight: no scoreboard (the counts are zeroed) */
    if (SEQ_LT(tp->lost_hint, ack))
        tp->lost_hint = ack;
}

static void rec_mark_sacked(struct tcpcb *tp, struct tcp_sendrec *r)
{
    if (r->flags & SR_SACKED)
        return;
    rec_uncount(tp, r, rec_len(r));
    r->flags = (uint16_t)((r->flags & ~(SR_LOST | SR_RETRANS)) | SR_SACKED);
    tp->sacked_bytes += rec_len(r);
    tcp_rack_delivered(tp, r);
}

/* Mark the records inside [l, r), splitting at MSS multiples from a
 * record's start so that the part the block covers can be marked. */
static void sm_sack_block(struct tcpcb *tp, uint32_t l, uint32_t r)
{
    uint32_t mss = tp->mss;
    for (uint32_t i = tcp_sm_find(tp, l); i < tp->sm.n; i++) {
        struct tcp_sendrec *rec = tcp_sm_at(tp, i);
        if (SEQ_GEQ(rec->start, r))
            break;
        if (SEQ_LT(rec->start, l)) {
            /* The block starts inside: split at the first MSS multiple
             * at or after l, and look at the second part next. */
            uint32_t k = (l - rec->start + mss - 1) / mss * mss;
            if (k >= rec_len(rec) || !tcp_sm_split(tp, i, rec->start + k))
                continue;
            continue;
        }
        if (SEQ_GT(rec->end, r)) {
            /* The block ends inside: mark the whole MSS multiples it covers. */
            uint32_t k = (r - rec->start) / mss * mss;
            if (k == 0 || !tcp_sm_split(tp, i, rec->start + k))
                break;
            rec = tcp_sm_at(tp, i);
        }
        rec_mark_sacked(tp, rec);
    }
}

bool tcp_sm_sack(struct tcpcb *tp, const struct ns_tcp_repr *th)
{
    struct ns_stack *st = tp->st;
    bool dsack = false;
    for (uint8_t b = 0; b < th->n_sack; b++) {
        uint32_t l = th->sack[b].left, r = th->sack[b].right;
        if (b == 0 && SEQ_LT(l, r) &&
            (SEQ_LEQ(r, th->ack) ||
             (th->n_sack > 1 && SEQ_GEQ(l, th->sack[1].left) && SEQ_LEQ(r, th->sack[1].right)))) {
            /* RFC 2883 §5: a first block below the cumulative ACK, or
             * inside the second block, reports a duplicate. */
            dsack = true;
            continue;
        }
        /* RFC 2018 §3 / RFC 6675 §4: a block must lie in (SND.UNA, SND.MAX]. */
        if (!SEQ_LT(l, r) || SEQ_LEQ(r, tp->snd_una) || SEQ_GT(r, tp->snd_max) ||
            SEQ_LT(l, tp->snd_una - tp->max_sndwnd)) {
            NS_STAT_INC(st, tcp_sack_bad_blocks);
            continue;
        }
        if (SEQ_LT(l, tp->snd_una))
            l = tp->snd_una;
        sm_sack_block(tp, l, r);
    }
    return dsack;
}

void tcp_sm_mark_lost(struct tcpcb *tp, struct tcp_sendrec *r)
{
    if (r->flags & SR_SACKED)
        return;
    if (!(r->flags & SR_LOST)) {
        r->flags |= SR_LOST;
        tp->lost_bytes += rec_len(r);
    } else if (r->flags & SR_RETRANS) {
        /* The retransmission was lost too. */
        r->flags &= (uint16_t)~SR_RETRANS;
        tp->retrans_bytes -= rec_len(r);
    }
    if (SEQ_LT(r->start, tp->lost_hint) || SEQ_GT(tp->lost_hint, tp->snd_max))
        tp->lost_hint = r->start;
}

void tcp_sm_mark_all_lost(struct tcpcb *tp, bool forget_sacks)
{
    for (uint32_t i = 0; i < tp->sm.n; i++) {
        struct tcp_sendrec *r = tcp_sm_at(tp, i);
        if (forget_sacks && (r->flags & SR_SACKED)) {
            r->flags &= (uint16_t)~SR_SACKED;
            tp->sacked_bytes -= rec_len(r);
        }
        tcp_sm_mark_lost(tp, r);
    }
    tp->lost_hint = tp->snd_una;
}

struct tcp_sendrec *tcp_sm_next_lost(struct tcpcb *tp)
{
    if (tp->lost_bytes <= tp->retrans_bytes)
        return NULL; /* every lost record's retransmission is in flight */
    uint32_t from = tp->lost_hint;
    if (SEQ_LT(from, tp->snd_una) || SEQ_GT(from, tp->snd_max))
        from = tp->snd_una;
    for (uint32_t i = tcp_sm_find(tp, from); i < tp->sm.n; i++) {
        struct tcp_sendrec *r = tcp_sm_at(tp, i);
        if ((r->flags & (SR_LOST | SR_RETRANS | SR_SACKED)) == SR_LOST) {
            tp->lost_hint = r->start;
            return r;
        }
    }
    tp->lost_hint = tp->snd_max;
    return NULL;
}

void tcp_sm_check(const struct tcpcb *tp)
{
#ifndef NDEBUG
    if (tp->sm.n > 64 && (tp->snd_una & 0xf0) != 0)
        return; /* long scoreboards: spot checks, so debug builds stay fast */
    uint32_t sacked = 0, lost = 0, retrans = 0;
    for (uint32_t i = 0; i < tp->sm.n; i++) {
        const struct tcp_sendrec *r = tcp_sm_at(tp, i);
        assert(SEQ_LT(r->start, r->end));
        assert(i > 0 || r->start == tp->snd_una);
        assert(i + 1 == tp->sm.n ? r->end == tp->snd_max : r->end == tcp_sm_at(tp, i + 1)->start);
        if (r->flags & SR_SACKED)
            sacked += rec_len(r);
        else if (r->flags & SR_LOST)
            lost += rec_len(r);
        if ((r->flags & (SR_SACKED | SR_RETRANS)) == SR_RETRANS)
            retrans += rec_len(r);
    }
    assert(sacked == tp->sacked_bytes && lost == tp->lost_bytes && retrans == tp->retrans_bytes);
#else
    (void)tp;
#endif
}
