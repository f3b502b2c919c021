/* tcp/tcp_mem.c — the stack-wide limit on the memory TCP's buffers hold,
 * as Linux tcp_mem (net.ipv4.tcp_mem, three thresholds), in bytes of
 * storage actually held: the receive rings, the send rings (base/ring.c
 * charges every change of their storage) and the out-of-order segments
 * (tcp_reass.c), over all connections of the stack.
 *
 * Read first: Linux net/core/sock.c __sk_mem_raise_allocated (the three
 * thresholds and the per-socket minimum), net/ipv4/tcp_input.c
 * tcp_try_rmem_schedule, tcp_prune_queue and tcp_prune_ofo_queue (what
 * goes first when memory is short), tcp_should_expand_sndbuf and
 * tcp_grow_window (no growth under pressure), and RFC 2018 §8 (a receiver
 * may discard data it reported in SACK blocks; the sender keeps it until
 * it is cumulatively acknowledged and resends it).
 *
 *   held <= low         no pressure.
 *   held >  pressure    memory pressure (tcp_mem_pressures counts the
 *                       entries) until held is back at low or below:
 *                       buffers stop growing (receive and send autotuning),
 *                       the receive window is held to what the storage
 *                       has room for plus 4 segments, rings that empty
 *                       give their storage back, and an out-of-order
 *                       segment is admitted only if the stack stays at or
 *                       below `pressure`, after pruning its own queue above
 *                       it (tcp_mem_ooo_drop otherwise).
 *   held >  high        no ring storage grows (in-order data beyond what
 *                       the storage holds is dropped, tcp_mem_rcv_drop;
 *                       send() takes only what fits, tcp_mem_snd_refused).
 *
 * Before ring storage grows past `pressure`, other connections'
 * out-of-order data is pruned to make room (tcp_ooo_pruned), the one that
 * has gone longest without in-order progress first (not the connection's
 * own: it is next to the data that is arriving, and is the queue being
 * moved into the ring). Out-of-order data is the one kind of memory that
 * costs nothing to give up: it was never acknowledged (RFC 2018 §8), and
 * its sender resends it. Linux prunes only the socket that needs memory,
 * which leaves a stack-wide limit to whoever filled it first; here
 * windows stuffed with data that can never be delivered (a hole that is
 * never filled) are what goes first.
 *
 * Every ring's first NS_RING_MIN_STORAGE bytes are granted whatever the
 * stack holds (Linux grants every socket tcp_rmem[0] / tcp_wmem[0]), so
 * every connection makes progress, however slowly, and none wedges:
 * data that is dropped is resent, pruned SACKed data is resent once the
 * sender sees the receiver renege (tcp_recovery.c), and queued data that
 * the ring could not take waits for the application to read
 * (tcp_input_pull). So the stack never holds more than cfg.tcp_mem_high
 * plus those first 4 KiB of each ring.
 */
#include "tcp/tcp.h"

void tcp_mem_init(struct tcp_table *t)
{
    t->mem_rcv.parent = t->mem_snd.parent = t->mem_ooo.parent = &t->mem_all;
}

bool tcp_mem_pressure(struct ns_stack *st)
{
    struct tcp_table *t = st->tcp;
    uint64_t held = t->mem_all.bytes;
    if (t->mem_pressure && held <= st->cfg.tcp_mem_low) {
        t->mem_pressure = false;
    } else if (!t->mem_pressure && held > st->cfg.tcp_mem_pressure) {
        t->mem_pressure = true;
        NS_STAT_INC(st, tcp_mem_pressures);
    }
    return t->mem_pressure;
}

/* Prune out-of-order data of connections other than tp, the one longest
 * without progress first, until `goal` bytes are free. Returns the bytes
 * freed. */
static uint64_t prune_others(struct tcpcb *tp, uint64_t goal)
{
    uint64_t freed = 0;
    struct ns_dlink *l = tp->st->tcp->ooo.head;
    while (l && freed < goal) {
        struct ns_dlink *next = l->next; /* the victim may leave the list */
        struct tcpcb *v = NS_CONTAINER_OF(l, struct tcpcb, ooo_link);
        if (v != tp)
            freed += tcp_reass_prune(v, v->rcv_nxt, goal - freed, true);
        l = next;
    }
    return freed;
}

bool tcp_mem_admit(struct tcpcb *tp, uint64_t cost, enum tcp_mem_use use, uint32_t seq)
{
    struct ns_stack *st = tp->st;
    struct tcp_table *t = st->tcp;
    const struct ns_config *c = &st->cfg;
    if (t->mem_all.bytes + cost <= c->tcp_mem_pressure) {
        tcp_mem_pressure(st);
        return true;
    }
    if (!t->mem_pressure) {
        t->mem_pressure = true; /* Linux enters pressure at the attempt */
        NS_STAT_INC(st, tcp_mem_pressures);
    }
    uint64_t over = t->mem_all.bytes + cost - c->tcp_mem_pressure;
    if (use == TCP_MEM_OOO) {
        /* Linux tcp_prune_ofo_queue(sk, in_skb): the queue's own data
         * above the new segment may make room for it. */
        tcp_reass_prune(tp, seq, over, false);
        return t->mem_all.bytes + cost <= c->tcp_mem_pressure;
    }
    prune_others(tp, over);
    return t->mem_all.bytes + cost <= c->tcp_mem_high;
}

/* What ring r can take without asking for memory: the room its storage
 * has, or the first storage every ring is granted. */
static uint32_t ring_granted_room(const struct ns_ring *r)
{
    if (r->size)
        return ns_ring_room(r);
    return r->cap < NS_RING_MIN_STORAGE ? r->cap : NS_RING_MIN_STORAGE;
}

uint32_t tcp_mem_ring_take(struct tcpcb *tp, struct ns_ring *r, enum tcp_mem_use use,
                           uint32_t len, uint32_t max)
{
    uint32_t room = max > r->len ? max - r->len : 0;
    uint32_t n = len < room ? len : room;
    uint32_t cost = ns_ring_grow_bytes_max(r, n, max);
    if (cost == 0 || (r->size == 0 && cost <= NS_RING_MIN_STORAGE) ||
        tcp_mem_admit(tp, cost, use, 0))
        return n;
    uint32_t fits = ring_granted_room(r);
    return n < fits ? n : fits;
}

bool tcp_mem_snd_writable(struct tcpcb *tp)
{
    const struct ns_ring *r = &tp->sndbuf;
    if (r->size == 0 || ns_ring_room(r) > 0)
        return true;
    /* Other connections' out-of-order data would be pruned to make room
     * (tcp_mem_admit): count it as free. */
    const struct tcp_table *t = tp->st->tcp;
    uint64_t own_ooo = tp->reass_bytes + (uint64_t)tp->reass_segs * tcp_reass_seg_mem(0);
    return t->mem_all.bytes - (t->mem_ooo.bytes - own_ooo) + ns_ring_grow_bytes(r, 1) <=
           tp->st->cfg.tcp_mem_high;
}

uint32_t tcp_mem_rcv_window(const struct tcpcb *tp, uint32_t space)
{
    struct ns_stack *st = tp->st;
    if (!tcp_mem_pressure(st))
        return space;
    uint64_t room = ring_granted_room(&tp->rcvbuf);
    if (st->tcp->mem_all.bytes - st->tcp->mem_ooo.bytes < st->cfg.tcp_mem_high)
        room += 4ull * tp->mss;
    return room < space ? (uint32_t)room : space;
}

uint32_t tcp_mem_syn_window(struct ns_stack *st, uint32_t cap, uint32_t mss)
{
    if (!tcp_mem_pressure(st))
        return cap;
    /* As tcp_mem_rcv_window for a ring without storage yet. */
    uint64_t room = cap < NS_RING_MIN_STORAGE ? cap : NS_RING_MIN_STORAGE;
    if (st->tcp->mem_all.bytes - st->tcp->mem_ooo.bytes < st->cfg.tcp_mem_high)
        room += 4ull * mss;
    return room < cap ? (uint32_t)room : cap;
}

void tcp_mem_reclaim(struct tcpcb *tp)
{
    if (!tcp_mem_pressure(tp->st))
        return;
    if (tp->rcvbuf.len == 0 && tp->rcvbuf.size)
        ns_ring_free(&tp->rcvbuf);
    if (tp->sndbuf.len == 0 && tp->sndbuf.size)
        ns_ring_free(&tp->sndbuf);
    tcp_mem_pressure(tp->st); /* maybe back at low now */
}

void tcp_mem_usage(const struct ns_stack *st, struct ns_stack_usage *out)
{
    const struct tcp_table *t = st->tcp;
    out->tcp_bytes = t->mem_all.bytes;
    out->tcp_rcv_bytes = t->mem_rcv.bytes;
    out->tcp_snd_bytes = t->mem_snd.bytes;
    out->tcp_ooo_bytes = t->mem_ooo.bytes;
    out->tcp_peak_bytes = t->mem_all.peak;
    out->tcp_pressure = t->mem_pressure;
}

bool tcp_stream_writable(struct tcpcb *tp)
{
    return sock_stream_writeable(tp->sndbuf.len, tp->sndbuf.cap) && tcp_mem_snd_writable(tp) &&
           (!tp->notsent_lowat || ((uint64_t)tcp_notsent(tp) << 1) < tp->notsent_lowat);
}

void tcp_check_space(struct tcpcb *tp)
{
    struct ns_sock *so = tp->so;
    if (!so || !(so->flags & SO_F_NOSPACE) || !tcp_stream_writable(tp))
        return;
    so->flags &= ~SO_F_NOSPACE;
    sock_wake(tp->st, so, SOCK_WAKE_OUT);
}
