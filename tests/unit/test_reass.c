/* tests/unit/test_reass.c — IPv4 reassembly (RFC 791 §3.2, RFC 815,
 * RFC 1122 §3.3.2; overlap policy of RFC 5722 / Linux).
 *
 * Datagrams are ICMP echo *replies* sent to the stack in fragments; the
 * echo hook sees the reassembled payload, which is compared byte for byte
 * with what was fragmented. Randomised parts use a seeded ns_rng: replay
 * a failure with the NETSOCK_SEED the failure prints. Runs under ASan, so
 * any write past a reassembly buffer fails the test too.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "frames.h"

#include "base/rng.h"

#define US_S 1000000ull
#define OUR_IP FR_IP(192, 0, 2, 1)
#define PEER_IP FR_IP(192, 0, 2, 10)
#define MAX_PIECES 80

static const uint8_t PEER_MAC[6] = {0x02, 0xaa, 0, 0, 0, 0x0a};

static uint8_t g_frame[FR_MAX];
static uint8_t g_dgram[FR_MAX]; /* the ICMP message being fragmented */
static uint8_t g_data[FR_MAX];  /* its echo payload */

/* What the echo hook saw. */
struct seen {
    unsigned replies, bad;
    uint16_t last_id, last_seq;
    uint8_t last_ttl;
    size_t want_len;
    const uint8_t *want;
};

static void on_echo(void *ctx, struct ns_stack *st, const struct ns_echo_reply *r, uint64_t now)
{
    struct seen *s = ctx;
    (void)st;
    (void)now;
    if (r->icmp_type != NS_ICMP_ECHO_REPLY) {
        s->bad++;
        return;
    }
    s->replies++;
    s->last_id = r->id;
    s->last_seq = r->seq;
    s->last_ttl = r->ttl;
    if (!s->want || r->len != s->want_len || memcmp(r->data, s->want, r->len) != 0)
        s->bad++;
}

static struct tb *bench(const struct ns_config *cfg, struct seen *seen)
{
    struct ns_config c;
    if (cfg)
        c = *cfg;
    else
        tb_config(&c);
    /* The peer stays resolved however much virtual time the timeouts
     * take, so the ICMP errors they cause leave at once (and no packet
     * waits in an ARP queue when the pool is checked). */
    c.arp_reachable_us = c.arp_gc_us = 1000000 * US_S;
    struct tb *tb = tb_new(&c, 0);
    tb_add_if(tb, 1500, OUR_IP, 24);
    tb_learn(tb, 1, PEER_IP, PEER_MAC, 1000);
    ns_icmp_set_echo_hook(tb->st, on_echo, seen);
    return tb;
}

/* Build the echo reply (id, seq) carrying data_len bytes of g_data into
 * g_dgram; returns the ICMP length. */
static size_t make_dgram(uint16_t id, uint16_t seq, size_t data_len)
{
    return fr_icmp_echo(g_dgram, NS_ICMP_ECHO_REPLY, id, seq, g_data, data_len);
}

/* At t, the piece [off, off+len) of g_dgram arrives as a fragment. */
static void send_piece(struct tb *tb, const struct ns_ip4_repr *ip, uint32_t off, uint32_t len,
                       bool mf, uint64_t t)
{
    size_t n = fr_frag_frame(g_frame, tb->dev[1]->hwaddr, PEER_MAC, ip, g_dgram, off, len, mf);
    tb_rx(tb, 1, g_frame, n, t);
}

static void fill_random(struct ns_rng *rng, uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)ns_rng_next(rng);
}

static void shuffle(struct ns_rng *rng, unsigned *a, unsigned n)
{
    for (unsigned i = n; i > 1; i--) {
        unsigned j = (unsigned)ns_rng_below(rng, i);
        unsigned t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Cut `total` bytes into k pieces at k-1 distinct random multiples of 8. */
static unsigned random_pieces(struct ns_rng *rng, uint32_t total, unsigned k,
                              struct fr_piece *pc)
{
    uint32_t slots = (total - 1) / 8; /* cut points 8, 16, ... < total */
    uint32_t cuts[MAX_PIECES];
    if (k > slots + 1)
        k = slots + 1;
    unsigned nc = 0;
    while (nc < k - 1) {
        uint32_t c = 8 * (1 + (uint32_t)ns_rng_below(rng, slots));
        bool dup = false;
        for (unsigned i = 0; i < nc; i++)
            dup |= cuts[i] == c;
        if (!dup)
            cuts[nc++] = c;
    }
    qsort(cuts, nc, sizeof(cuts[0]), cmp_u32);
    uint32_t prev = 0;
    for (unsigned i = 0; i < nc; i++) {
        pc[i] = (struct fr_piece){prev, cuts[i] - prev};
        prev = cuts[i];
    }
    pc[nc] = (struct fr_piece){prev, total - prev};
    return nc + 1;
}

static void assert_reass_empty(const struct tb *tb)
{
    NS_ASSERT_SEED(ip4_reass_count(tb->st) == 0);
    NS_ASSERT_SEED(ip4_reass_mem(tb->st) == 0);
}

/* ---- random datagrams, random orders, exact duplicates --------------------------- */

static void test_random_reassembly(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x4ea55));
    struct seen seen = {0};
    struct tb *tb = bench(NULL, &seen);
    const unsigned cases = 3000;
    uint64_t t = 2000;
    struct fr_piece pc[MAX_PIECES];
    unsigned order[MAX_PIECES + 8];
    uint64_t dups = 0;

    for (unsigned c = 0; c < cases; c++) {
        /* Sizes: mostly small, some up to ~60000 bytes. */
        unsigned pick = (unsigned)ns_rng_below(&rng, 100);
        size_t data_len = pick < 55   ? 1 + ns_rng_below(&rng, 2000)
                          : pick < 90 ? 2000 + ns_rng_below(&rng, 18000)
                                      : 20000 + ns_rng_below(&rng, 40000);
        fill_random(&rng, g_data, data_len);
        uint16_t id = (uint16_t)c;
        size_t total = make_dgram(0x3333, id, data_len);
        /* Between 2 and 64 pieces, at random cut points. */
        unsigned k = 2 + (unsigned)ns_rng_below(&rng, 63);
        unsigned np = random_pieces(&rng, (uint32_t)total, k, pc);
        NS_ASSERT_SEED(np >= 2 && np <= 64);
        for (unsigned i = 0; i < np; i++)
            order[i] = i;
        shuffle(&rng, order, np);
        /* Exact duplicates of pieces other than the one that completes the
         * datagram, anywhere before it. */
        unsigned n = np;
        unsigned ndup = ns_rng_below(&rng, 3) == 0 ? 1 + (unsigned)ns_rng_below(&rng, 4) : 0;
        for (unsigned d = 0; d < ndup; d++) {
            unsigned which = order[ns_rng_below(&rng, np - 1)];
            unsigned at = (unsigned)ns_rng_below(&rng, n); /* before the last slot */
            memmove(&order[at + 1], &order[at], (n - at) * sizeof(order[0]));
            order[at] = which;
            n++;
        }
        dups += ndup;

        struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, OUR_IP, NS_IPPROTO_ICMP);
        ip.id = (uint16_t)(0x8000 + c);
        ip.ttl = (uint8_t)(1 + ns_rng_below(&rng, 255));
        seen.want = g_data;
        seen.want_len = data_len;
        unsigned before = seen.replies;
        for (unsigned i = 0; i < n; i++) {
            const struct fr_piece *p = &pc[order[i]];
            NS_ASSERT_SEED(seen.replies == before); /* not before the last piece */
            send_piece(tb, &ip, p->off, p->len, p->off + p->len < total, t += 7);
        }
        NS_ASSERT_SEED(seen.replies == before + 1);
        NS_ASSERT_SEED(seen.bad == 0);
        NS_ASSERT_SEED(seen.last_seq == id);
        NS_ASSERT_SEED(seen.last_ttl == ip.ttl);
        assert_reass_empty(tb);
    }
    NS_ASSERT_SEED(CTR(tb, ip_reass_ok) == cases);
    NS_ASSERT_SEED(CTR(tb, ip_reass_dup) == dups);
    NS_ASSERT_SEED(CTR(tb, ip_reass_drop_overlap) == 0);
    NS_ASSERT_SEED(CTR(tb, icmp_rx_echo_reply) == cases);
    tb_assert_quiet(tb);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* ---- overlaps ---------------------------------------------------------------------- */

static void test_partial_overlap_discards_datagram(void **state)
{
    (void)state;
    struct ns_rng rng;
    ns_rng_seed(&rng, ns_test_seed(0x0fe41));
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.ip_reass_timeout_us = 1 * US_S;
    struct seen seen = {0};
    struct tb *tb = bench(&cfg, &seen);
    struct fr_piece pc[MAX_PIECES];
    unsigned order[MAX_PIECES + 1];
    uint64_t t = 2000;
    unsigned done = 0;

    for (unsigned c = 0; done < 1000 && c < 5000; c++) {
        size_t data_len = 64 + ns_rng_below(&rng, 6000);
        fill_random(&rng, g_data, data_len);
        size_t total = make_dgram(0x4444, (uint16_t)c, data_len);
        unsigned np = random_pieces(&rng, (uint32_t)total, 2 + (unsigned)ns_rng_below(&rng, 20),
                                    pc);
        /* The intruder X (MF set, multiple of 8) overlaps piece R partly:
         * 0 straddles R's end into the next piece, 1 lies strictly inside
         * R, 2 starts with R but is shorter, 3 starts with R and runs into
         * the next piece. */
        unsigned r = (unsigned)ns_rng_below(&rng, np);
        uint32_t roff = pc[r].off, rend = pc[r].off + pc[r].len;
        bool has_next = r + 1 < np;
        uint32_t nend = has_next ? pc[r + 1].off + pc[r + 1].len : 0;
        struct fr_piece x;
        switch (ns_rng_below(&rng, 4)) {
        case 0:
            if (!has_next || pc[r].len < 16 || pc[r + 1].len < 9)
                continue;
            x.off = roff + 8;
            x.len = rend + 8 - x.off;
            (void)nend;
            break;
        case 1:
            if (pc[r].len < 24)
                continue;
            x = (struct fr_piece){roff + 8, 8};
            break;
        case 2:
            if (pc[r].len < 16)
                continue;
            x = (struct fr_piece){roff, 8};
            break;
        default:
            if (!has_next || pc[r + 1].len < 9)
                continue;
            x = (struct fr_piece){roff, rend - roff + 8};
            break;
        }
        NS_ASSERT_SEED(x.len % 8 == 0 && x.off % 8 == 0);
        NS_ASSERT_SEED(!(x.off == roff && x.len == pc[r].len));
        /* Real pieces in random order, X anywhere before the last of them
         * (after it, the datagram would already be complete). */
        for (unsigned i = 0; i < np; i++)
            order[i] = i;
        shuffle(&rng, order, np);
        unsigned at = (unsigned)ns_rng_below(&rng, np);
        memmove(&order[at + 1], &order[at], (np - at) * sizeof(order[0]));
        order[at] = MAX_PIECES; /* X */

        struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, OUR_IP, NS_IPPROTO_ICMP);
        ip.id = (uint16_t)c;
        uint64_t overlaps = CTR(tb, ip_reass_drop_overlap);
        for (unsigned i = 0; i <= np; i++) {
            const struct fr_piece *p = order[i] == MAX_PIECES ? &x : &pc[order[i]];
            bool mf = order[i] == MAX_PIECES || p->off + p->len < total;
            send_piece(tb, &ip, p->off, p->len, mf, t += 3);
        }
        if (CTR(tb, ip_reass_drop_overlap) != overlaps + 1) {
            fprintf(stderr, "case %u total %zu x [%u,+%u) r=%u\n", c, total, x.off, x.len, r);
            for (unsigned i = 0; i <= np; i++) {
                const struct fr_piece *p = order[i] == MAX_PIECES ? &x : &pc[order[i]];
                fprintf(stderr, "  [%u,+%u)%s\n", p->off, p->len, order[i] == MAX_PIECES ? " X" : "");
            }
        }
        NS_ASSERT_SEED(CTR(tb, ip_reass_drop_overlap) == overlaps + 1);
        NS_ASSERT_SEED(seen.replies == 0);
        /* What is left (pieces after the discard) times out. */
        tb_poll(tb, t += cfg.ip_reass_timeout_us);
        assert_reass_empty(tb);
        tb_drain(tb, 1);
        done++;
    }
    NS_ASSERT_SEED(done == 1000);
    NS_ASSERT_SEED(CTR(tb, ip_reass_ok) == 0);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_conflicting_last_fragments(void **state)
{
    (void)state;
    struct seen seen = {0};
    struct tb *tb = bench(NULL, &seen);
    memset(g_data, 0x61, 3000);
    make_dgram(1, 1, 3000);
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, OUR_IP, NS_IPPROTO_ICMP);

    /* Two last fragments ending at 1100 and 1200. */
    ip.id = 1;
    send_piece(tb, &ip, 1000, 100, false, 2000);
    send_piece(tb, &ip, 1000, 200, false, 2001);
    assert_int_equal(CTR(tb, ip_reass_drop_overlap), 1);
    assert_int_equal(ip4_reass_count(tb->st), 0);
    /* Two last fragments that do not even touch: [1000,1100) and [2000,2100). */
    ip.id = 2;
    send_piece(tb, &ip, 2000, 100, false, 2002);
    send_piece(tb, &ip, 0, 1000, true, 2003);
    send_piece(tb, &ip, 1000, 100, false, 2004);
    assert_int_equal(CTR(tb, ip_reass_drop_overlap), 2);
    assert_int_equal(ip4_reass_count(tb->st), 0);
    /* A last fragment ending before data already held. */
    ip.id = 3;
    send_piece(tb, &ip, 1000, 1000, true, 2005);
    send_piece(tb, &ip, 504, 8, false, 2006);
    assert_int_equal(CTR(tb, ip_reass_drop_overlap), 3);
    /* A middle fragment beyond the known end. */
    ip.id = 4;
    send_piece(tb, &ip, 1000, 100, false, 2007);
    send_piece(tb, &ip, 1096, 16, true, 2008);
    assert_int_equal(CTR(tb, ip_reass_drop_overlap), 4);
    /* An exact duplicate of the last fragment is just a duplicate. */
    ip.id = 5;
    send_piece(tb, &ip, 1000, 100, false, 2009);
    send_piece(tb, &ip, 1000, 100, false, 2010);
    assert_int_equal(CTR(tb, ip_reass_drop_overlap), 4);
    assert_int_equal(CTR(tb, ip_reass_dup), 1);
    assert_int_equal(ip4_reass_count(tb->st), 1);

    assert_int_equal(seen.replies, 0);
    assert_int_equal(CTR(tb, ip_reass_ok), 0);
    tb_poll(tb, 2010 + 30 * US_S);
    assert_reass_empty(tb);
    tb_drain(tb, 1);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

/* ---- timeout --------------------------------------------------------------------- */

static void missing_piece(bool lose_first)
{
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.ip_reass_timeout_us = 5 * US_S;
    struct seen seen = {0};
    struct tb *tb = bench(&cfg, &seen);
    memset(g_data, 0x5c, 4000);
    /* An echo *request* this time: the error quotes it (an error about an
     * echo request is allowed). */
    size_t total = fr_icmp_echo(g_dgram, NS_ICMP_ECHO, 0x77, 1, g_data, 4000);
    struct fr_piece pc[8];
    unsigned np = fr_split((uint32_t)total, 1480, pc, 8);
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, OUR_IP, NS_IPPROTO_ICMP);
    ip.id = 0x6006;
    const uint64_t t0 = 3 * US_S;
    unsigned skip = lose_first ? 0 : 1, sent = 0;
    size_t first_len = 0;
    for (unsigned i = 0; i < np; i++) {
        if (i == skip)
            continue;
        send_piece(tb, &ip, pc[i].off, pc[i].len, i + 1 < np, t0 + sent++);
        if (i == 0)
            first_len = NS_IP4_HLEN + pc[0].len;
    }
    assert_int_equal(ip4_reass_count(tb->st), 1);
    assert_true(ip4_reass_mem(tb->st) > 0);
    assert_int_equal(CTR(tb, icmp_rx), 0);

    /* The timer runs from the first fragment. */
    tb_poll(tb, t0 + cfg.ip_reass_timeout_us - 1);
    assert_int_equal(ip4_reass_count(tb->st), 1);
    assert_null(tb_take(tb, 1));
    tb_poll(tb, t0 + cfg.ip_reass_timeout_us);
    assert_reass_empty(tb);
    assert_int_equal(CTR(tb, ip_reass_drop_timeout), 1);
    if (lose_first) {
        /* RFC 1122 §3.3.2: no fragment zero, no error. */
        assert_null(tb_take(tb, 1));
        assert_int_equal(CTR(tb, icmp_tx_time_exceeded), 0);
        assert_int_equal(CTR(tb, icmp_err_suppressed), 0); /* not even attempted */
    } else {
        const struct fr_pkt *p = tb_take(tb, 1);
        assert_non_null(p);
        assert_true(p->is_icmp);
        assert_int_equal(p->ip.dst, PEER_IP);
        assert_int_equal(p->ip.src, OUR_IP);
        assert_int_equal(p->icmp.type, NS_ICMP_TIME_EXCEEDED);
        assert_int_equal(p->icmp.code, NS_ICMP_EXC_FRAGTIME);
        /* It quotes fragment zero as it arrived: header, then data. */
        assert_int_equal(p->icmp.payload_len, 548);
        assert_int_equal(ns_rd16(p->icmp.payload + 2), first_len);
        assert_int_equal(ns_rd16(p->icmp.payload + 4), 0x6006);
        assert_int_equal(ns_rd16(p->icmp.payload + 6), NS_IP4_MF);
        assert_memory_equal(p->icmp.payload + NS_IP4_HLEN, g_dgram, 548 - NS_IP4_HLEN);
        assert_null(tb_take(tb, 1));
    }
    assert_int_equal(seen.replies, 0);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_timeout_with_fragment_zero_sends_time_exceeded(void **state)
{
    (void)state;
    missing_piece(false);
}

static void test_timeout_without_fragment_zero_is_silent(void **state)
{
    (void)state;
    missing_piece(true);
}

/* ---- bounds ------------------------------------------------------------------------ */

static void test_largest_datagram_and_ping_of_death(void **state)
{
    (void)state;
    struct seen seen = {0};
    struct tb *tb = bench(NULL, &seen);
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, OUR_IP, NS_IPPROTO_ICMP);
    uint64_t t = 2000;
    for (size_t i = 0; i < 65535; i++)
        g_data[i] = (uint8_t)(i * 7 + (i >> 9));

    /* Exactly 65535 bytes (20 + 65515): the largest legal datagram. */
    const size_t max_data = 65535 - 20 - 8;
    size_t total = make_dgram(0x5555, 1, max_data);
    assert_int_equal(total, 65515);
    seen.want = g_data;
    seen.want_len = max_data;
    ip.id = 1;
    send_piece(tb, &ip, 0, 32768, true, t += 10);
    send_piece(tb, &ip, 32768, (uint32_t)total - 32768, false, t += 10);
    assert_int_equal(seen.replies, 1);
    assert_int_equal(seen.bad, 0);
    assert_reass_empty(tb);

    /* One byte more: the last fragment would end at 65536. */
    ip.id = 2;
    send_piece(tb, &ip, 0, 32768, true, t += 10);
    uint64_t too_big = CTR(tb, ip_reass_drop_too_big);
    send_piece(tb, &ip, 32768, (uint32_t)total - 32768 + 1, false, t += 10);
    assert_int_equal(CTR(tb, ip_reass_drop_too_big), too_big + 1);
    /* The classic: the largest offset (8191 * 8 = 65528) with 1480 bytes,
     * and even with 8 bytes and MF. */
    struct ns_ip4_repr pod = ip;
    pod.id = 3;
    pod.frag_off = 65528;
    pod.mf = false;
    size_t n = fr_eth(g_frame, tb->dev[1]->hwaddr, PEER_MAC, NS_ETHERTYPE_IPV4);
    n += fr_ip4(g_frame + n, &pod, NULL, 0, g_data, 1480);
    tb_rx(tb, 1, g_frame, n, t += 10);
    assert_int_equal(CTR(tb, ip_reass_drop_too_big), too_big + 2);
    pod.mf = true;
    n = fr_eth(g_frame, tb->dev[1]->hwaddr, PEER_MAC, NS_ETHERTYPE_IPV4);
    n += fr_ip4(g_frame + n, &pod, NULL, 0, g_data, 8);
    tb_rx(tb, 1, g_frame, n, t += 10);
    assert_int_equal(CTR(tb, ip_reass_drop_too_big), too_big + 3);

    /* Options in fragment zero make its header 60 bytes: a datagram whose
     * pieces each fit (20-byte headers on the others) but which would be
     * 60 + 65515 bytes in all. */
    static const uint8_t nops[40] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    ip.id = 4;
    n = fr_eth(g_frame, tb->dev[1]->hwaddr, PEER_MAC, NS_ETHERTYPE_IPV4);
    struct ns_ip4_repr f0 = ip;
    f0.mf = true;
    n += fr_ip4(g_frame + n, &f0, nops, sizeof(nops), g_dgram, 32768);
    tb_rx(tb, 1, g_frame, n, t += 10);
    send_piece(tb, &ip, 32768, (uint32_t)total - 32768, false, t += 10);
    assert_int_equal(CTR(tb, ip_reass_drop_too_big), too_big + 4);
    assert_int_equal(seen.replies, 1);
    assert_int_equal(ip4_reass_count(tb->st), 1); /* id 2's legal pieces wait */

    tb_poll(tb, t + 31 * US_S);
    assert_reass_empty(tb);
    tb_drain(tb, 1);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_bad_fragment_lengths(void **state)
{
    (void)state;
    struct seen seen = {0};
    struct tb *tb = bench(NULL, &seen);
    memset(g_data, 0x33, 200);
    make_dgram(1, 1, 200);
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, OUR_IP, NS_IPPROTO_ICMP);
    /* Not a multiple of 8 with MF set, at offset 0 and in the middle. */
    for (uint32_t len = 1; len < 16; len++) {
        if (len == 8)
            continue;
        ip.id = (uint16_t)len;
        send_piece(tb, &ip, 0, len, true, 2000 + len);
        send_piece(tb, &ip, 64, len, true, 2000 + len);
    }
    assert_int_equal(CTR(tb, ip_reass_drop_bad_frag), 28);
    /* A fragment with no data at all. */
    ip.id = 99;
    send_piece(tb, &ip, 8, 0, true, 3000);
    send_piece(tb, &ip, 8, 0, false, 3001);
    assert_int_equal(CTR(tb, ip_reass_drop_bad_frag), 30);
    assert_reass_empty(tb);
    assert_int_equal(seen.replies, 0);
    tb_assert_quiet(tb);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_too_many_fragments(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.ip_reass_max_frags = 8;
    struct seen seen = {0};
    struct tb *tb = bench(&cfg, &seen);
    memset(g_data, 0x44, 200);
    size_t total = make_dgram(1, 1, 200); /* 208 bytes */
    struct fr_piece pc[32];
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, OUR_IP, NS_IPPROTO_ICMP);
    seen.want = g_data;
    seen.want_len = 200;

    /* Exactly ip_reass_max_frags pieces: fine. */
    unsigned np = fr_split((uint32_t)total, 32, pc, 32);
    assert_int_equal(np, 7);
    /* Split the first piece once more: 8 pieces. */
    struct fr_piece eight[8] = {{0, 16}, {16, 16}};
    memcpy(&eight[2], &pc[1], 6 * sizeof(pc[0]));
    ip.id = 1;
    for (unsigned i = 0; i < 8; i++)
        send_piece(tb, &ip, eight[i].off, eight[i].len, i < 7, 2000 + i);
    assert_int_equal(seen.replies, 1);
    assert_int_equal(seen.bad, 0);

    /* Nine pieces: the ninth distinct one discards the datagram. */
    struct fr_piece nine[9] = {{0, 16}, {16, 8}, {24, 8}};
    memcpy(&nine[3], &pc[1], 6 * sizeof(pc[0]));
    ip.id = 2;
    for (unsigned i = 0; i < 9; i++)
        send_piece(tb, &ip, nine[i].off, nine[i].len, i < 8, 3000 + i);
    assert_int_equal(CTR(tb, ip_reass_drop_too_many), 1);
    assert_int_equal(seen.replies, 1);
    assert_reass_empty(tb);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

static void test_memory_cap_evicts_oldest(void **state)
{
    (void)state;
    struct ns_config cfg;
    tb_config(&cfg);
    cfg.ip_reass_mem_max = 64 * 1024;
    struct seen seen = {0};
    struct tb *tb = bench(&cfg, &seen);
    memset(g_data, 0x77, 1100);
    size_t total = make_dgram(1, 1, 1092); /* 1100 bytes: [0,1000) + [1000,1100) */
    assert_int_equal(total, 1100);
    struct ns_ip4_repr ip = fr_ip4_hdr(PEER_IP, OUR_IP, NS_IPPROTO_ICMP);
    const unsigned n = 100;
    uint64_t t = 2000;
    uint32_t max_count = 0;

    /* The first halves of 100 datagrams: the cap is never exceeded. */
    for (unsigned i = 0; i < n; i++) {
        ip.id = (uint16_t)(1000 + i);
        send_piece(tb, &ip, 0, 1000, true, t += 10);
        assert_true(ip4_reass_mem(tb->st) <= cfg.ip_reass_mem_max);
        if (ip4_reass_count(tb->st) > max_count)
            max_count = ip4_reass_count(tb->st);
    }
    uint32_t kept = ip4_reass_count(tb->st);
    assert_true(kept > 10 && kept < n);
    assert_int_equal(kept, max_count);
    assert_int_equal(CTR(tb, ip_reass_drop_mem), n - kept);

    /* At the cap, a piece for the oldest datagram makes room by evicting
     * the next oldest, never the datagram it belongs to. */
    const unsigned oldest = n - kept;
    seen.want = g_data;
    seen.want_len = 1092;
    ip.id = (uint16_t)(1000 + oldest);
    send_piece(tb, &ip, 1000, 100, false, t += 10);
    assert_int_equal(seen.replies, 1);
    assert_int_equal(CTR(tb, ip_reass_drop_mem), n - kept + 1);
    assert_int_equal(ip4_reass_count(tb->st), kept - 2);
    assert_true(ip4_reass_mem(tb->st) <= cfg.ip_reass_mem_max);

    /* The newest kept - 2 are still there: completing them delivers each
     * (with the cap lifted, so completing one evicts nothing) ... */
    tb->st->cfg.ip_reass_mem_max = 16u << 20;
    for (unsigned i = n; i-- > oldest + 2;) {
        ip.id = (uint16_t)(1000 + i);
        send_piece(tb, &ip, 1000, 100, false, t += 10);
        assert_int_equal(seen.replies, 1 + n - i);
    }
    assert_reass_empty(tb);
    /* ... and the evicted ones are gone: their second halves wait alone. */
    for (unsigned i = 0; i <= oldest + 1; i++) {
        if (i == oldest)
            continue;
        ip.id = (uint16_t)(1000 + i);
        send_piece(tb, &ip, 1000, 100, false, t += 10);
    }
    assert_int_equal(seen.replies, kept - 1);
    assert_int_equal(seen.bad, 0);
    assert_int_equal(ip4_reass_count(tb->st), n - kept + 1);
    tb->st->cfg.ip_reass_mem_max = cfg.ip_reass_mem_max;

    /* Big heap fragments obey the cap too. */
    static uint8_t big[40000];
    memset(big, 0x12, sizeof(big));
    memcpy(g_dgram, big, sizeof(big));
    for (unsigned i = 0; i < 10; i++) {
        ip.id = (uint16_t)(5000 + i);
        send_piece(tb, &ip, 0, 30000, true, t += 10);
        assert_true(ip4_reass_mem(tb->st) <= cfg.ip_reass_mem_max);
    }
    tb_poll(tb, t + 31 * US_S);
    assert_reass_empty(tb);
    tb_drain(tb, 1);
    tb_assert_pool_clean(tb);
    tb_free(tb);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_reassembly),
        cmocka_unit_test(test_partial_overlap_discards_datagram),
        cmocka_unit_test(test_conflicting_last_fragments),
        cmocka_unit_test(test_timeout_with_fragment_zero_sends_time_exceeded),
        cmocka_unit_test(test_timeout_without_fragment_zero_is_silent),
        cmocka_unit_test(test_largest_datagram_and_ping_of_death),
        cmocka_unit_test(test_bad_fragment_lengths),
        cmocka_unit_test(test_too_many_fragments),
        cmocka_unit_test(test_memory_cap_evicts_oldest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
