/* tests/sim/test_sim_udp.c — UDP and raw sockets over simulated links with
 * seeded loss, reordering, duplication and corruption.
 *
 * Topologies (each test builds its own from the run's seed):
 *   pair:    alice 192.0.2.10 ─link─ bob 192.0.2.20
 *   routed:  alice 192.0.2.10/24 ─lan─ router ─wan─ bob 198.51.100.20/24
 *   hub:     N hosts 198.18.0.1.. on one N-port link (a hub)
 *
 * Invariants checked: every datagram that arrives is byte-for-byte one
 * that was sent (a header carries sequence number, endpoints, length and a
 * hash; the body is regenerated from them), arrives once when the links do
 * not duplicate and only as identical copies when they do; the counters
 * account for every datagram (sent == delivered + lost on the link +
 * dropped by a checksum, exactly, on a single link); corruption never
 * reaches the application; receive-buffer overflow, ICMP errors,
 * broadcast, poll and SO_RCVTIMEO behave as on Linux, on virtual time;
 * every packet buffer is back in its pool once sockets are closed and the
 * timers have run out.
 *
 * Replay a failure: NETSOCK_SEED=<seed> build-test/tests/test_sim_udp
 * (the failing assertion prints the command).
 *
 * Captures: with NETSOCK_PCAP_DIR=<dir> set, every host's devices are
 * wrapped with ns_pcap_wrap into a fresh <dir>/test_sim_udp-XXXXXX; a
 * failing test flushes them and prints the directory, a passing test
 * removes it. Without the variable nothing is captured.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "testutil.h"

#define MAX_HOSTS 8
#define MAX_PCAPS 24
#define DG_HDR 20u        /* seq(4) src(2) dst(2) len(4) hash(8) */
#define DG_MAX 65507u     /* largest UDP payload over IPv4 */
#define UDP_PORT 4000

/* ---- the simulated world ------------------------------------------------------- */

struct world {
    struct ns_sim *sim;
    struct ns_stack *h[MAX_HOSTS];
    struct in_addr ip[MAX_HOSTS]; /* each host's address on its first link */
    unsigned nhosts;
    struct ns_simlink *link[2];
    /* pcap capture (NETSOCK_PCAP_DIR) */
    char pcap_dir[400];
    struct ns_dev *pcap_dev[MAX_PCAPS];
    char pcap_path[MAX_PCAPS][480];
    unsigned npcap;
};

/* The world of the running test, for the failure hook. */
static struct world *g_world;

/* On failure: flush the captures and say where they are. */
static void world_fail_hook(void)
{
    struct world *w = g_world;
    if (!w || !w->npcap)
        return;
    for (unsigned i = 0; i < w->npcap; i++)
        ns_pcap_flush(w->pcap_dev[i]);
    fprintf(stderr, "pcap captures of the failing run: %s\n", w->pcap_dir);
}

/* NS_ASSERT_SEED, writing the pcaps first. `cond` is evaluated once (it
 * often makes a call); the failure message still shows its text. */
#define CHECK(cond)                                                            \
    do {                                                                       \
        bool check_ok_ = (cond);                                               \
        if (!check_ok_)                                                        \
            world_fail_hook();                                                 \
        NS_ASSERT_SEED(check_ok_ && #cond);                                    \
    } while (0)

static void world_init(struct world *w, uint64_t seed)
{
    memset(w, 0, sizeof(*w));
    w->sim = ns_sim_new(seed);
    assert_non_null(w->sim);
    const char *dir = getenv("NETSOCK_PCAP_DIR");
    if (dir && *dir) {
        snprintf(w->pcap_dir, sizeof(w->pcap_dir), "%s/test_sim_udp-XXXXXX", dir);
        if (!mkdtemp(w->pcap_dir))
            w->pcap_dir[0] = 0;
    }
    g_world = w;
}

static struct ns_stack *world_host(struct world *w, const char *name, bool forward)
{
    assert_true(w->nhosts < MAX_HOSTS);
    struct ns_stack *st = ns_sim_add_host(w->sim, name, NULL);
    assert_non_null(st);
    ns_stack_set_forwarding(st, forward);
    w->h[w->nhosts++] = st;
    return st;
}

/* Attach `st` to port `port` of `link` with address addr/prefix; returns
 * the interface index. Wraps the device in a pcap writer when capturing. */
static int world_attach(struct world *w, struct ns_stack *st, struct ns_simlink *link,
                        unsigned port, const char *addr, unsigned prefix)
{
    struct ns_dev *dev = ns_simlink_port(link, port, NULL);
    assert_non_null(dev);
    if (w->pcap_dir[0] && w->npcap < MAX_PCAPS) {
        char *path = w->pcap_path[w->npcap];
        int err;
        snprintf(path, sizeof(w->pcap_path[0]), "%s/%s-%u.pcap", w->pcap_dir, ns_stack_name(st),
                 port);
        struct ns_dev *pd = ns_pcap_wrap(dev, path, &err);
        assert_non_null(pd);
        dev = pd;
        w->pcap_dev[w->npcap++] = pd;
    }
    int ifindex = ns_if_add(st, dev);
    assert_true(ifindex > 0);
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, addr, &a), 1);
    assert_int_equal(ns_if_addr_add(st, ifindex, AF_INET, &a, prefix), 0);
    for (unsigned i = 0; i < w->nhosts; i++)
        if (w->h[i] == st && w->ip[i].s_addr == 0)
            w->ip[i] = a;
    return ifindex;
}

static void add_default_route(struct ns_stack *st, const char *gw)
{
    struct in_addr g, any = {0};
    inet_pton(AF_INET, gw, &g);
    assert_int_equal(ns_route_add(st, AF_INET, &any, 0, &g, 0), 0);
}

/* alice ─(port 0) link (port 1)─ bob, both on 192.0.2.0/24. */
static void build_pair(struct world *w, uint64_t seed, const struct ns_link_params *p)
{
    world_init(w, seed);
    struct ns_stack *a = world_host(w, "alice", false), *b = world_host(w, "bob", false);
    w->link[0] = ns_sim_add_link(w->sim, "link", 2, p);
    world_attach(w, a, w->link[0], 0, "192.0.2.10", 24);
    world_attach(w, b, w->link[0], 1, "192.0.2.20", 24);
    ns_sim_run_for(w->sim, 100000);
}

/* alice ─lan─ router ─wan─ bob (h[0], h[1], h[2]). */
static void build_routed(struct world *w, uint64_t seed, const struct ns_link_params *lan,
                         const struct ns_link_params *wan)
{
    world_init(w, seed);
    struct ns_stack *a = world_host(w, "alice", false), *r = world_host(w, "router", true),
                    *b = world_host(w, "bob", false);
    w->link[0] = ns_sim_add_link(w->sim, "lan", 2, lan);
    w->link[1] = ns_sim_add_link(w->sim, "wan", 2, wan);
    world_attach(w, a, w->link[0], 0, "192.0.2.10", 24);
    world_attach(w, r, w->link[0], 1, "192.0.2.1", 24);
    world_attach(w, r, w->link[1], 0, "198.51.100.1", 24);
    world_attach(w, b, w->link[1], 1, "198.51.100.20", 24);
    add_default_route(a, "192.0.2.1");
    add_default_route(b, "198.51.100.1");
    ns_sim_run_for(w->sim, 100000);
}

/* n hosts on one n-port hub, 198.18.0.(i+1)/24. */
static void build_hub(struct world *w, uint64_t seed, unsigned n, const struct ns_link_params *p)
{
    static const char *names[MAX_HOSTS] = {"h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8"};
    world_init(w, seed);
    for (unsigned i = 0; i < n; i++)
        world_host(w, names[i], false);
    w->link[0] = ns_sim_add_link(w->sim, "hub", n, p);
    for (unsigned i = 0; i < n; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "198.18.0.%u", i + 1);
        world_attach(w, w->h[i], w->link[0], i, addr, 24);
    }
    ns_sim_run_for(w->sim, 100000);
}

/* Close every socket of every host, let every timer run out (ARP, 30 s
 * reassembly), require every pool full again, and free the world. */
static void world_finish(struct world *w)
{
    struct ns_sock_info info[64];
    for (unsigned i = 0; i < w->nhosts; i++) {
        int n = ns_sock_list(w->h[i], info, 64);
        for (int k = 0; k < n && k < 64; k++)
            ns_close(w->h[i], info[k].fd);
    }
    ns_sim_run_for(w->sim, 40000000);
    for (unsigned i = 0; i < w->nhosts; i++) {
        struct ns_pbuf_pool_stats ps;
        ns_stack_pbuf_stats(w->h[i], &ps);
        CHECK(ps.pool_free == ps.pool_total);
        CHECK(ps.heap_bytes == 0);
    }
    ns_sim_free(w->sim); /* closes (and completes) the pcap files */
    for (unsigned i = 0; i < w->npcap; i++)
        unlink(w->pcap_path[i]);
    if (w->pcap_dir[0])
        rmdir(w->pcap_dir);
    g_world = NULL;
}

/* ---- datagrams that check themselves ----------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The test's own PRNG (sizes, order); seeded from the run's seed. */
struct trng {
    uint64_t s;
};
static uint64_t trng_next(struct trng *r) { return mix64(r->s++); }
static uint32_t trng_range(struct trng *r, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)(trng_next(r) % (uint64_t)(hi - lo + 1));
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Datagram number `seq` from host src to host dst, len >= DG_HDR bytes:
 * a header, then a body derived from (seq, src, dst), hashed. */
static void dg_fill(uint8_t *buf, size_t len, uint32_t seq, uint16_t src, uint16_t dst)
{
    put32(buf, seq);
    buf[4] = (uint8_t)(src >> 8), buf[5] = (uint8_t)src;
    buf[6] = (uint8_t)(dst >> 8), buf[7] = (uint8_t)dst;
    put32(buf + 8, (uint32_t)len);
    uint64_t k = mix64((uint64_t)seq << 32 | (uint32_t)src << 16 | dst);
    for (size_t i = DG_HDR; i < len; i += 8) {
        uint64_t v = mix64(k + i);
        for (size_t j = 0; j < 8 && i + j < len; j++)
            buf[i + j] = (uint8_t)(v >> (8 * j));
    }
    uint64_t h = fnv1a(buf + DG_HDR, len - DG_HDR);
    put32(buf + 12, (uint32_t)(h >> 32));
    put32(buf + 16, (uint32_t)h);
}

struct dg_id {
    uint32_t seq;
    uint16_t src, dst;
};

/* Is buf[0..len) exactly a datagram dg_fill made? Fills *id. */
static bool dg_check(const uint8_t *buf, size_t len, struct dg_id *id)
{
    static uint8_t want[DG_MAX];
    if (len < DG_HDR || get32(buf + 8) != len)
        return false;
    uint64_t h = fnv1a(buf + DG_HDR, len - DG_HDR);
    if (get32(buf + 12) != (uint32_t)(h >> 32) || get32(buf + 16) != (uint32_t)h)
        return false;
    id->seq = get32(buf);
    id->src = (uint16_t)(buf[4] << 8 | buf[5]);
    id->dst = (uint16_t)(buf[6] << 8 | buf[7]);
    dg_fill(want, len, id->seq, id->src, id->dst);
    return memcmp(want, buf, len) == 0;
}

/* RFC 1071 one's complement sum of a UDP payload (it starts at an even
 * offset of the UDP header, so word alignment is the same). */
static uint16_t ones_sum(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | (i + 1 < n ? p[i + 1] : 0));
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* A datagram that is not what was sent, yet passed the UDP checksum: is it
 * one the checksum cannot tell from the original? That happens only when
 * a datagram took two or more bit flips (on two links, or in two of its
 * fragments) that cancel in the 16-bit one's complement sum, e.g. +0x0400
 * in one word and -0x0400 in another (RFC 1071 §2: the sum is blind to
 * such pairs; real links have a CRC in front of it). True when buf
 * differs from the datagram its header names in >= 2 bits and has the
 * same sum. A header damaged beyond recognition is not excused. */
static bool dg_checksum_twin(const uint8_t *buf, size_t len)
{
    static uint8_t want[DG_MAX];
    if (len < DG_HDR || get32(buf + 8) != len)
        return false;
    dg_fill(want, len, get32(buf), (uint16_t)(buf[4] << 8 | buf[5]),
            (uint16_t)(buf[6] << 8 | buf[7]));
    unsigned bits = 0;
    for (size_t i = 0; i < len; i++)
        bits += (unsigned)__builtin_popcount((unsigned)(want[i] ^ buf[i]));
    return bits >= 2 && ones_sum(want, len) == ones_sum(buf, len);
}

/* ---- socket helpers ------------------------------------------------------------- */

static struct sockaddr_in sin_of(struct in_addr a, uint16_t port)
{
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = a};
    return s;
}

static struct sockaddr_in sin_str(const char *addr, uint16_t port)
{
    struct in_addr a;
    inet_pton(AF_INET, addr, &a);
    return sin_of(a, port);
}

static int udp_socket_bound(struct ns_stack *st, uint16_t port)
{
    int fd = ns_socket(st, AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in any = sin_str("0.0.0.0", port);
    assert_int_equal(ns_bind(st, fd, (struct sockaddr *)&any, sizeof(any)), 0);
    return fd;
}

static void send_dg(struct ns_stack *st, int fd, struct sockaddr_in to, uint32_t seq,
                    uint16_t src, uint16_t dst, size_t len)
{
    static uint8_t buf[DG_MAX];
    dg_fill(buf, len, seq, src, dst);
    ssize_t n = ns_sendto(st, fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to));
    CHECK(n == (ssize_t)len);
}

/* What one receiver saw. */
struct rx_log {
    uint32_t nsent;        /* datagrams sent towards it (seq < nsent valid) */
    uint8_t *count;        /* copies seen, per seq */
    uint32_t received;     /* datagrams read, copies included */
    uint32_t distinct;
    uint32_t dups;
    uint32_t bad;          /* not a datagram that was sent: must stay 0 */
    uint32_t twins;        /* damaged, but invisible to the checksum (see dg_checksum_twin) */
    uint32_t out_of_order; /* seq lower than the highest seen before */
    uint32_t max_seq;
};

static void rx_log_init(struct rx_log *l, uint32_t nsent)
{
    memset(l, 0, sizeof(*l));
    l->nsent = nsent;
    l->count = calloc(nsent ? nsent : 1, 1);
    assert_non_null(l->count);
}

static void rx_log_free(struct rx_log *l) { free(l->count); }

static void rx_log_note(struct rx_log *l, const uint8_t *buf, size_t len, uint16_t want_src,
                        uint16_t want_dst)
{
    struct dg_id id;
    l->received++;
    if (!dg_check(buf, len, &id) || id.seq >= l->nsent || id.src != want_src ||
        id.dst != want_dst) {
        if (dg_checksum_twin(buf, len))
            l->twins++;
        else
            l->bad++;
        return;
    }
    if (l->distinct && id.seq < l->max_seq)
        l->out_of_order++;
    if (id.seq > l->max_seq)
        l->max_seq = id.seq;
    if (l->count[id.seq]++)
        l->dups++;
    else
        l->distinct++;
}

/* Read everything queued on fd without blocking; returns datagrams read. */
static uint32_t drain(struct ns_stack *st, int fd, struct rx_log *l, uint16_t src, uint16_t dst)
{
    static uint8_t buf[DG_MAX + 1];
    uint32_t n = 0;
    for (;;) {
        ssize_t r = ns_recv(st, fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r < 0) {
            CHECK(errno == EAGAIN);
            return n;
        }
        rx_log_note(l, buf, (size_t)r, src, dst);
        n++;
    }
}

/* Give every port of a link the same parameters. */
static void set_link_params(struct ns_simlink *link, unsigned nports,
                            const struct ns_link_params *p)
{
    for (unsigned port = 0; port < nports; port++)
        ns_simlink_set_params(link, port, p);
}

static uint64_t ctr(struct ns_stack *st, enum ns_counter c) { return ns_stack_counter(st, c); }

/* Every reason a host drops a damaged datagram on the way in. */
static uint64_t damage_drops(struct ns_stack *st)
{
    static const enum ns_counter c[] = {
        NS_CTR_ip_drop_short,   NS_CTR_ip_drop_bad_version, NS_CTR_ip_drop_bad_hlen,
        NS_CTR_ip_drop_bad_len, NS_CTR_ip_drop_bad_csum,    NS_CTR_ip_drop_bad_src,
        NS_CTR_ip_drop_not_for_us, NS_CTR_ip_drop_unknown_proto, NS_CTR_udp_drop_short,
        NS_CTR_udp_drop_bad_len, NS_CTR_udp_drop_bad_csum,  NS_CTR_udp_drop_no_port,
    };
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        sum += ctr(st, c[i]);
    return sum;
}

/* Send one datagram alice -> bob and read it, resolving ARP both ways
 * before faults are switched on. */
static void warm_up(struct world *w, struct ns_stack *a, int afd, struct ns_stack *b, int bfd,
                    struct sockaddr_in to_b)
{
    uint8_t buf[64];
    send_dg(a, afd, to_b, 0, 0, 0, 32);
    CHECK(ns_recv(b, bfd, buf, sizeof(buf), 0) == 32);
    (void)w;
}

/* ---- tests ---------------------------------------------------------------------- */

/* One link, loss only: every datagram alice sends is either delivered to
 * bob's socket, intact and once, or counted lost by the link. Exactly. */
static void test_loss_exact_accounting(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(101);
    struct world w;
    build_pair(&w, seed, NULL);
    struct ns_stack *a = w.h[0], *b = w.h[1];
    int afd = ns_socket(a, AF_INET, SOCK_DGRAM, 0);
    int bfd = udp_socket_bound(b, UDP_PORT);
    struct sockaddr_in to_b = sin_of(w.ip[1], UDP_PORT);
    warm_up(&w, a, afd, b, bfd, to_b);

    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 1000;
    p.loss = 0.1;
    ns_simlink_set_params(w.link[0], 0, &p);
    struct ns_impair_stats s0, s1;
    ns_simlink_stats(w.link[0], 0, &s0);
    uint64_t delivered0 = ctr(b, NS_CTR_udp_delivered);

    const uint32_t n = 2000;
    struct trng r = {seed};
    struct rx_log log;
    rx_log_init(&log, n);
    for (uint32_t i = 0; i < n; i++) {
        send_dg(a, afd, to_b, i, 0, 0, trng_range(&r, 32, 1472));
        ns_sim_run_for(w.sim, 200);
        drain(b, bfd, &log, 0, 0);
    }
    ns_sim_run_for(w.sim, 100000);
    drain(b, bfd, &log, 0, 0);

    ns_simlink_stats(w.link[0], 0, &s1);
    uint64_t frames = s1.frames - s0.frames, lost = s1.lost - s0.lost;
    CHECK(log.bad == 0 && log.twins == 0 && log.dups == 0);
    CHECK(frames == n); /* no ARP traffic in between: one frame per datagram */
    CHECK(lost > 0);
    CHECK(log.received + lost == n);
    CHECK(ctr(b, NS_CTR_udp_delivered) - delivered0 == log.received);
    CHECK(damage_drops(b) == 0 && ctr(b, NS_CTR_udp_drop_rcvbuf) == 0);
    CHECK(log.out_of_order == 0); /* nothing reorders on this link */
    rx_log_free(&log);
    world_finish(&w);
}

/* One link with loss, reordering and corruption: sent == delivered + lost
 * + dropped by a checksum, and each corrupted frame is one such drop. A
 * single flipped bit is always caught by the IPv4 header or UDP checksum
 * (RFC 1071: the one's complement sum detects every single-bit error);
 * the one escape is a flip that turns the UDP checksum field into zero
 * ("no checksum", RFC 768), which leaves the data intact and happens once
 * in ~10^8 corrupted frames. */
static void test_corruption_caught_exact_accounting(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(102);
    struct world w;
    build_pair(&w, seed, NULL);
    struct ns_stack *a = w.h[0], *b = w.h[1];
    int afd = ns_socket(a, AF_INET, SOCK_DGRAM, 0);
    int bfd = udp_socket_bound(b, UDP_PORT);
    struct sockaddr_in to_b = sin_of(w.ip[1], UDP_PORT);
    warm_up(&w, a, afd, b, bfd, to_b);

    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 1000;
    p.loss = 0.05;
    p.corrupt = 0.1;
    p.reorder = 0.1;
    p.reorder_delay_us = 3000;
    ns_simlink_set_params(w.link[0], 0, &p);
    struct ns_impair_stats s0, s1;
    ns_simlink_stats(w.link[0], 0, &s0);
    uint64_t damage0 = damage_drops(b);

    const uint32_t n = 2000;
    struct trng r = {seed};
    struct rx_log log;
    rx_log_init(&log, n);
    for (uint32_t i = 0; i < n; i++) {
        send_dg(a, afd, to_b, i, 0, 0, trng_range(&r, 32, 1472));
        ns_sim_run_for(w.sim, 200);
        drain(b, bfd, &log, 0, 0);
    }
    ns_sim_run_for(w.sim, 100000);
    drain(b, bfd, &log, 0, 0);

    ns_simlink_stats(w.link[0], 0, &s1);
    uint64_t lost = s1.lost - s0.lost, corrupted = s1.corrupted - s0.corrupted;
    uint64_t damaged = damage_drops(b) - damage0;
    CHECK(s1.frames - s0.frames == n);
    /* No damaged byte reached bob: one frame per datagram, one flip at
     * most, and the checksums catch every single flip. */
    CHECK(log.bad == 0 && log.twins == 0 && log.dups == 0);
    CHECK(corrupted > 0 && s1.reordered > s0.reordered);
    CHECK(log.out_of_order > 0);
    CHECK(log.received + lost + damaged == n);
    CHECK(damaged == corrupted);
    CHECK(ctr(b, NS_CTR_udp_drop_bad_csum) > 0);
    rx_log_free(&log);
    world_finish(&w);
}

/* Across a router, every fault on both links, datagrams from tiny to
 * fragmented: whatever bob reads is a datagram alice sent, duplicates are
 * identical copies, and the counters agree with what bob read. */
static void test_all_faults_across_router(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(103);
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 2000;
    p.jitter_us = 500;
    p.loss = 0.03;
    p.dup = 0.05;
    p.reorder = 0.1;
    p.reorder_delay_us = 2000;
    p.corrupt = 0.03;
    struct world w;
    build_routed(&w, seed, NULL, NULL);
    struct ns_stack *a = w.h[0], *rt = w.h[1], *b = w.h[2];
    int afd = ns_socket(a, AF_INET, SOCK_DGRAM, 0);
    int bfd = udp_socket_bound(b, UDP_PORT);
    struct sockaddr_in to_b = sin_of(w.ip[2], UDP_PORT);
    /* Resolve ARP on clean links first: ARP has no checksum, so a
     * corrupted reply would poison a cache for the whole run. */
    warm_up(&w, a, afd, b, bfd, to_b);
    set_link_params(w.link[0], 2, &p);
    set_link_params(w.link[1], 2, &p);

    const uint32_t n = 800;
    struct trng r = {seed};
    struct rx_log log;
    rx_log_init(&log, n);
    uint64_t delivered0 = ctr(b, NS_CTR_udp_delivered);
    for (uint32_t i = 0; i < n; i++) {
        /* mostly single frames, one in five fragmented */
        size_t len = trng_range(&r, 0, 4) ? trng_range(&r, DG_HDR, 1472) : trng_range(&r, 1473, 6000);
        send_dg(a, afd, to_b, i, 0, 0, len);
        ns_sim_run_for(w.sim, trng_range(&r, 0, 1000));
        drain(b, bfd, &log, 0, 0);
    }
    ns_sim_run_for(w.sim, 1000000);
    drain(b, bfd, &log, 0, 0);

    struct ns_impair_stats s[4];
    uint64_t corrupted = 0, duplicated = 0;
    for (unsigned l = 0; l < 2; l++)
        for (unsigned port = 0; port < 2; port++) {
            ns_simlink_stats(w.link[l], port, &s[l * 2 + port]);
            corrupted += s[l * 2 + port].corrupted;
            duplicated += s[l * 2 + port].duplicated;
        }
    /* Nothing but sent datagrams; a datagram flipped twice (on both links,
     * or in two fragments) can pass the checksum, ~1 in 10^4 runs of
     * this size: such twins are recognised exactly and tolerated. */
    CHECK(log.bad == 0 && log.twins <= 2);
    CHECK(ctr(b, NS_CTR_udp_delivered) - delivered0 == log.received);
    CHECK(log.distinct + log.twins >= n * 7 / 10 && log.distinct < n);
    CHECK(duplicated > 0 && log.dups > 0);
    CHECK(log.out_of_order > 0);
    /* Corruption happened and was caught somewhere on the path. */
    CHECK(corrupted > 0);
    CHECK(damage_drops(rt) + damage_drops(b) + ctr(b, NS_CTR_icmp_drop_bad_csum) > 0);
    CHECK(ctr(b, NS_CTR_ip_reass_ok) > 0);
    rx_log_free(&log);
    world_finish(&w);
}

/* 30000-byte datagrams cross a router whose wan has a 576-byte MTU: alice
 * fragments to 1500, the router fragments again, bob reassembles and
 * echoes each one back. The largest datagram there is (65507 bytes)
 * reaches the router (45 fragments) and bob too: cut to 576 it takes 118
 * fragments, within ip_reass_max_frags (256). */
static void test_large_datagrams_fragmented_across_router(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(104);
    struct ns_link_params wan;
    ns_link_params_default(&wan);
    wan.delay_us = 5000;
    wan.mtu = 576;
    wan.reorder = 0.2;
    wan.reorder_delay_us = 1000;
    struct world w;
    build_routed(&w, seed, NULL, &wan);
    struct ns_stack *a = w.h[0], *rt = w.h[1], *b = w.h[2];
    int afd = udp_socket_bound(a, UDP_PORT);
    int bfd = udp_socket_bound(b, UDP_PORT);
    struct sockaddr_in to_b = sin_of(w.ip[2], UDP_PORT);
    static uint8_t buf[DG_MAX + 1];
    const size_t sizes[] = {30000, 30000, 30000, 30000, 30000, 30000, 30000, 30000, 12345};
    const uint32_t n = sizeof(sizes) / sizeof(sizes[0]);

    for (uint32_t i = 0; i < n; i++) {
        send_dg(a, afd, to_b, i, 0, 1, sizes[i]);
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t got = ns_recvfrom(b, bfd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        struct dg_id id;
        CHECK(got == (ssize_t)sizes[i] && dg_check(buf, (size_t)got, &id) && id.seq == i);
        CHECK(from.sin_addr.s_addr == w.ip[0].s_addr && ntohs(from.sin_port) == UDP_PORT);
        /* echo it */
        CHECK(ns_sendto(b, bfd, buf, (size_t)got, 0, (struct sockaddr *)&from, fl) == got);
        got = ns_recv(a, afd, buf, sizeof(buf), 0);
        CHECK(got == (ssize_t)sizes[i] && dg_check(buf, (size_t)got, &id) && id.seq == i);
    }
    CHECK(ctr(a, NS_CTR_ip_frag_ok) == n);
    CHECK(ctr(rt, NS_CTR_ip_frag_ok) > 0); /* 1500-byte fragments cut again for 576 */
    CHECK(ctr(b, NS_CTR_ip_reass_ok) == n);
    CHECK(ctr(b, NS_CTR_ip_frag_ok) == n); /* bob's echoes, cut for 576 */
    CHECK(ctr(a, NS_CTR_ip_reass_ok) == n);
    CHECK(ctr(b, NS_CTR_udp_drop_rcvbuf) == 0);

    /* 65507 bytes: to the router in 1500-byte fragments, to bob in 576-byte ones. */
    int rfd = udp_socket_bound(rt, UDP_PORT);
    struct sockaddr_in to_r = sin_str("192.0.2.1", UDP_PORT);
    send_dg(a, afd, to_r, n, 0, 2, DG_MAX);
    struct dg_id id;
    ssize_t got = ns_recv(rt, rfd, buf, sizeof(buf), 0);
    CHECK(got == DG_MAX && dg_check(buf, DG_MAX, &id) && id.seq == n);
    send_dg(a, afd, to_b, n + 1, 0, 1, DG_MAX);
    got = ns_recv(b, bfd, buf, sizeof(buf), 0);
    CHECK(got == DG_MAX && dg_check(buf, DG_MAX, &id) && id.seq == n + 1);
    CHECK(ctr(b, NS_CTR_ip_reass_drop_too_many) == 0);
    /* One byte more than fits in an IPv4 datagram: EMSGSIZE, as Linux. */
    errno = 0;
    CHECK(ns_sendto(a, afd, buf, DG_MAX + 1, 0, (struct sockaddr *)&to_b, sizeof(to_b)) == -1 &&
          errno == EMSGSIZE);
    world_finish(&w);
}

/* A burst beyond SO_RCVBUF: the first datagrams that fit are kept in
 * order, the rest are dropped and counted, globally and per socket. */
static void test_rcvbuf_overflow_counted(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(105);
    struct world w;
    build_pair(&w, seed, NULL);
    struct ns_stack *a = w.h[0], *b = w.h[1];
    int afd = ns_socket(a, AF_INET, SOCK_DGRAM, 0);
    int bfd = udp_socket_bound(b, UDP_PORT);
    int small = 4096;
    assert_int_equal(ns_setsockopt(b, bfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    int eff;
    socklen_t el = sizeof(eff);
    assert_int_equal(ns_getsockopt(b, bfd, SOL_SOCKET, SO_RCVBUF, &eff, &el), 0);
    CHECK(eff == 8192); /* Linux doubles the request */
    struct sockaddr_in to_b = sin_of(w.ip[1], UDP_PORT);

    const uint32_t n = 50, len = 100;
    for (uint32_t i = 0; i < n; i++)
        send_dg(a, afd, to_b, i, 0, 0, len); /* one burst: nobody reads meanwhile */
    ns_sim_run_for(w.sim, 100000);
    CHECK(ctr(a, NS_CTR_udp_tx) == n);

    struct ns_sock_info info[4];
    CHECK(ns_sock_list(b, info, 4) == 1);
    uint64_t dropped = ctr(b, NS_CTR_udp_drop_rcvbuf);
    uint64_t kept = ctr(b, NS_CTR_udp_delivered);
    CHECK(kept > 0 && dropped > 0 && kept + dropped == n);
    CHECK(info[0].fd == bfd && info[0].drops == dropped);
    CHECK(info[0].recv_q == kept * len);
    CHECK(ntohs(info[0].local.sin.sin_port) == UDP_PORT && strcmp(info[0].state, "UNCONN") == 0);

    struct rx_log log;
    rx_log_init(&log, n);
    drain(b, bfd, &log, 0, 0);
    CHECK(log.received == kept && log.distinct == kept && log.bad == 0 && log.twins == 0);
    CHECK(log.out_of_order == 0 && log.max_seq == kept - 1); /* the head of the burst */
    CHECK(ns_sock_list(b, info, 4) == 1 && info[0].recv_q == 0 && info[0].drops == dropped);
    rx_log_free(&log);
    world_finish(&w);
}

/* RFC 1122 §4.1.3.3 and Linux udp_err: a port unreachable from across the
 * router reaches the connected socket as ECONNREFUSED on its next call
 * (once), never the unconnected one. */
static void test_port_unreachable_connected_only(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(106);
    struct world w;
    build_routed(&w, seed, NULL, NULL);
    struct ns_stack *a = w.h[0], *b = w.h[2];
    struct sockaddr_in closed = sin_of(w.ip[2], 7777);
    int cfd = ns_socket(a, AF_INET, SOCK_DGRAM, 0);
    int ufd = ns_socket(a, AF_INET, SOCK_DGRAM, 0);
    assert_int_equal(ns_connect(a, cfd, (struct sockaddr *)&closed, sizeof(closed)), 0);
    uint8_t buf[64] = "knock";

    CHECK(ns_send(a, cfd, buf, 5, 0) == 5);
    CHECK(ns_sendto(a, ufd, buf, 5, 0, (struct sockaddr *)&closed, sizeof(closed)) == 5);
    ns_sim_run_for(w.sim, 100000);
    CHECK(ctr(b, NS_CTR_icmp_tx_unreach) == 2);
    CHECK(ctr(a, NS_CTR_icmp_rx_unreach) == 2);

    struct pollfd pf[2] = {{.fd = cfd, .events = POLLIN}, {.fd = ufd, .events = POLLIN}};
    CHECK(ns_poll(a, pf, 2, 0) == 1);
    CHECK(pf[0].revents == POLLERR && pf[1].revents == 0);
    errno = 0;
    CHECK(ns_recv(a, cfd, buf, sizeof(buf), 0) == -1 && errno == ECONNREFUSED);
    errno = 0;
    CHECK(ns_recv(a, cfd, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN);
    errno = 0;
    CHECK(ns_recv(a, ufd, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN);
    int soerr = -1;
    socklen_t sl = sizeof(soerr);
    CHECK(ns_getsockopt(a, ufd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0);

    /* Again: this time the send after the error reports it. */
    CHECK(ns_send(a, cfd, buf, 5, 0) == 5);
    ns_sim_run_for(w.sim, 100000);
    errno = 0;
    CHECK(ns_send(a, cfd, buf, 5, 0) == -1 && errno == ECONNREFUSED);
    CHECK(ns_send(a, cfd, buf, 5, 0) == 5); /* reported once */
    ns_sim_run_for(w.sim, 100000);
    sl = sizeof(soerr);
    CHECK(ns_getsockopt(a, cfd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == ECONNREFUSED);
    world_finish(&w);
}

/* Linux icmp_err_convert: host unreachable is a soft error. A neighbour
 * that never answers ARP (192.0.2.99 on alice's LAN) reaches a connected
 * UDP or raw socket as EHOSTUNREACH only with IP_RECVERR (Linux
 * __udp4_lib_err, raw_err); without it, nothing. */
static void test_host_unreachable_needs_recverr(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(112);
    struct world w;
    build_routed(&w, seed, NULL, NULL);
    struct ns_stack *a = w.h[0];
    struct in_addr nobody;
    inet_pton(AF_INET, "192.0.2.99", &nobody);
    struct sockaddr_in to = sin_of(nobody, 7);
    int fds[4] = {ns_socket(a, AF_INET, SOCK_DGRAM, 0), ns_socket(a, AF_INET, SOCK_DGRAM, 0),
                  ns_socket(a, AF_INET, SOCK_RAW, IPPROTO_ICMP),
                  ns_socket(a, AF_INET, SOCK_RAW, IPPROTO_ICMP)};
    int one = 1, v = -1;
    socklen_t vl = sizeof(v);
    for (int i = 0; i < 4; i++) {
        CHECK(fds[i] >= 0 && ns_connect(a, fds[i], (struct sockaddr *)&to, sizeof(to)) == 0);
        if (i % 2)
            CHECK(ns_setsockopt(a, fds[i], IPPROTO_IP, IP_RECVERR, &one, sizeof(one)) == 0);
    }
    CHECK(ns_getsockopt(a, fds[1], IPPROTO_IP, IP_RECVERR, &v, &vl) == 0 && v == 1);
    uint8_t echo[8] = {8, 0, 0xf7, 0xff, 0, 0, 0, 0}; /* type 8, checksum of the rest */
    for (int i = 0; i < 4; i++)
        CHECK(ns_send(a, fds[i], echo, sizeof(echo), 0) == (ssize_t)sizeof(echo));
    ns_sim_run_for(w.sim, 5000000); /* 3 ARP requests 1 s apart, then the drop */
    CHECK(ctr(a, NS_CTR_arp_resolve_fail) == 4);
    for (int i = 0; i < 4; i++) {
        uint8_t buf[64];
        errno = 0;
        ssize_t n = ns_recv(a, fds[i], buf, sizeof(buf), MSG_DONTWAIT);
        if (i % 2)
            CHECK(n == -1 && errno == EHOSTUNREACH);
        else
            CHECK(n == -1 && errno == EAGAIN);
        ns_close(a, fds[i]);
    }
    world_finish(&w);
}

/* Three hosts on a hub. Directed (192.0.2.255) and limited
 * (255.255.255.255) broadcast need SO_BROADCAST (EACCES without, as
 * Linux), and then reach every other host; nobody answers a broadcast to
 * a closed port with an ICMP error (RFC 1122 §4.1.3.1). h1's default
 * route points at h3: the limited broadcast must still go to the link's
 * broadcast address, not to the gateway. */
static void test_broadcast_reaches_every_host(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(107);
    struct world w;
    world_init(&w, seed);
    for (unsigned i = 0; i < 3; i++) {
        static const char *names[] = {"h1", "h2", "h3"};
        world_host(&w, names[i], false);
    }
    w.link[0] = ns_sim_add_link(w.sim, "hub", 3, NULL);
    world_attach(&w, w.h[0], w.link[0], 0, "192.0.2.1", 24);
    world_attach(&w, w.h[1], w.link[0], 1, "192.0.2.2", 24);
    world_attach(&w, w.h[2], w.link[0], 2, "192.0.2.3", 24);
    add_default_route(w.h[0], "192.0.2.3");
    ns_sim_run_for(w.sim, 100000);
    int fd[3];
    for (unsigned i = 0; i < 3; i++)
        fd[i] = udp_socket_bound(w.h[i], UDP_PORT);
    struct ns_stack *s = w.h[0];
    struct sockaddr_in dirb = sin_str("192.0.2.255", UDP_PORT);
    struct sockaddr_in limb = sin_str("255.255.255.255", UDP_PORT);
    struct sockaddr_in closedb = sin_str("192.0.2.255", UDP_PORT + 1);
    uint8_t buf[256];

    errno = 0;
    CHECK(ns_sendto(s, fd[0], "x", 1, 0, (struct sockaddr *)&dirb, sizeof(dirb)) == -1 &&
          errno == EACCES);
    errno = 0;
    CHECK(ns_sendto(s, fd[0], "x", 1, 0, (struct sockaddr *)&limb, sizeof(limb)) == -1 &&
          errno == EACCES);
    int c = ns_socket(s, AF_INET, SOCK_DGRAM, 0);
    errno = 0;
    CHECK(ns_connect(s, c, (struct sockaddr *)&dirb, sizeof(dirb)) == -1 && errno == EACCES);

    int one = 1;
    assert_int_equal(ns_setsockopt(s, fd[0], SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)), 0);
    send_dg(s, fd[0], dirb, 0, 0, 0xffff, 100);
    send_dg(s, fd[0], limb, 1, 0, 0xffff, 200);
    send_dg(s, fd[0], closedb, 2, 0, 0xffff, 300);
    ns_sim_run_for(w.sim, 100000);
    for (unsigned i = 1; i < 3; i++) {
        for (uint32_t k = 0; k < 2; k++) {
            struct sockaddr_in from;
            socklen_t fl = sizeof(from);
            ssize_t n = ns_recvfrom(w.h[i], fd[i], buf, sizeof(buf), MSG_DONTWAIT,
                                    (struct sockaddr *)&from, &fl);
            struct dg_id id;
            CHECK(n == (ssize_t)(100 * (k + 1)) && dg_check(buf, (size_t)n, &id) && id.seq == k);
            CHECK(from.sin_addr.s_addr == w.ip[0].s_addr && ntohs(from.sin_port) == UDP_PORT);
        }
        errno = 0;
        CHECK(ns_recv(w.h[i], fd[i], buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN);
        CHECK(ctr(w.h[i], NS_CTR_udp_drop_no_port) == 1);
        CHECK(ctr(w.h[i], NS_CTR_icmp_tx) == 0);
    }
    CHECK(ctr(s, NS_CTR_icmp_rx) == 0);
    CHECK(ctr(s, NS_CTR_arp_tx_request) == 0); /* broadcasts need no neighbour */
    world_finish(&w);
}

/* ns_poll waits in virtual time: a timeout with nothing arriving costs
 * exactly the timeout; a datagram ends the wait the instant it arrives. */
static void test_poll_waits_in_virtual_time(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(108);
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 7000;
    struct world w;
    build_pair(&w, seed, &p);
    struct ns_stack *a = w.h[0], *b = w.h[1];
    int afd = ns_socket(a, AF_INET, SOCK_DGRAM, 0);
    int bfd = udp_socket_bound(b, UDP_PORT);
    struct sockaddr_in to_b = sin_of(w.ip[1], UDP_PORT);
    warm_up(&w, a, afd, b, bfd, to_b);
    ns_sim_run_for(w.sim, 10000);

    struct pollfd pf = {.fd = bfd, .events = POLLIN};
    uint64_t t0 = ns_sim_now(w.sim);
    CHECK(ns_poll(b, &pf, 1, 0) == 0 && ns_sim_now(w.sim) == t0);
    CHECK(ns_poll(b, &pf, 1, 250) == 0 && pf.revents == 0);
    CHECK(ns_sim_now(w.sim) == t0 + 250000);

    uint64_t t1 = ns_sim_now(w.sim);
    send_dg(a, afd, to_b, 1, 0, 0, 64);
    CHECK(ns_poll(b, &pf, 1, 1000) == 1 && pf.revents == POLLIN);
    CHECK(ns_sim_now(w.sim) == t1 + p.delay_us); /* not a microsecond later */
    uint8_t buf[128];
    CHECK(ns_recv(b, bfd, buf, sizeof(buf), MSG_DONTWAIT) == 64);

    /* POLLOUT is always ready on a datagram socket. */
    pf.events = POLLIN | POLLOUT;
    CHECK(ns_poll(b, &pf, 1, -1) == 1 && pf.revents == POLLOUT);
    world_finish(&w);
}

/* SO_RCVTIMEO: a blocking recv gives up with EAGAIN after exactly the
 * timeout of virtual time. Without a timeout and with nothing left to
 * happen anywhere, the simulator reports EDEADLK instead of hanging. */
static void test_rcvtimeo_in_virtual_time(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(109);
    struct world w;
    build_pair(&w, seed, NULL);
    struct ns_stack *b = w.h[1];
    int bfd = udp_socket_bound(b, UDP_PORT);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 305000};
    assert_int_equal(ns_setsockopt(b, bfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    uint8_t buf[64];
    uint64_t t0 = ns_sim_now(w.sim);
    errno = 0;
    CHECK(ns_recv(b, bfd, buf, sizeof(buf), 0) == -1 && errno == EAGAIN);
    CHECK(ns_sim_now(w.sim) == t0 + 305000);

    struct timeval zero = {0};
    assert_int_equal(ns_setsockopt(b, bfd, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof(zero)), 0);
    errno = 0;
    CHECK(ns_recv(b, bfd, buf, sizeof(buf), 0) == -1 && errno == EDEADLK);
    world_finish(&w);
}

/* Eight hosts on a faulty hub send datagrams of random sizes to random
 * peers in random order. Every datagram read is one that was sent to that
 * host, from the host its header and source address name. */
static void test_many_hosts_on_a_hub(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(110);
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 500;
    p.jitter_us = 200;
    p.loss = 0.02;
    p.dup = 0.02;
    p.reorder = 0.05;
    p.reorder_delay_us = 1500;
    p.corrupt = 0.02;
    const unsigned nh = 8;
    struct world w;
    build_hub(&w, seed, nh, NULL);
    int fd[MAX_HOSTS];
    for (unsigned i = 0; i < nh; i++)
        fd[i] = udp_socket_bound(w.h[i], UDP_PORT);
    /* Every host greets every other on the clean hub (ARP resolved, as in
     * test_all_faults_across_router), then the faults start. */
    static uint8_t buf[DG_MAX + 1];
    for (unsigned s = 0; s < nh; s++) {
        for (unsigned d = 0; d < nh; d++) {
            struct sockaddr_in to = sin_of(w.ip[d], UDP_PORT);
            if (s != d)
                CHECK(ns_sendto(w.h[s], fd[s], "hi", 2, 0, (struct sockaddr *)&to, sizeof(to)) == 2);
        }
    }
    ns_sim_run_for(w.sim, 100000);
    for (unsigned h = 0; h < nh; h++)
        for (unsigned k = 0; k + 1 < nh; k++)
            CHECK(ns_recv(w.h[h], fd[h], buf, sizeof(buf), MSG_DONTWAIT) == 2);
    set_link_params(w.link[0], nh, &p);
    uint64_t delivered0 = 0;
    for (unsigned h = 0; h < nh; h++)
        delivered0 += ctr(w.h[h], NS_CTR_udp_delivered);

    const uint32_t n = 2000;
    uint16_t *dst_of = calloc(n, sizeof(*dst_of)), *src_of = calloc(n, sizeof(*src_of));
    uint8_t *copies = calloc(n, 1);
    assert_true(dst_of && src_of && copies);
    struct trng r = {seed};
    uint32_t received = 0, distinct = 0, dups = 0, bad = 0, twins = 0;

    for (uint32_t i = 0; i <= n; i++) {
        if (i < n) {
            uint16_t s = (uint16_t)trng_range(&r, 0, nh - 1);
            uint16_t d = (uint16_t)((s + trng_range(&r, 1, nh - 1)) % nh);
            src_of[i] = s, dst_of[i] = d;
            size_t len = trng_range(&r, 0, 9) ? trng_range(&r, DG_HDR, 1472) : trng_range(&r, 1473, 4000);
            send_dg(w.h[s], fd[s], sin_of(w.ip[d], UDP_PORT), i, s, d, len);
            ns_sim_run_for(w.sim, trng_range(&r, 0, 400));
        } else {
            ns_sim_run_for(w.sim, 1000000);
        }
        for (unsigned h = 0; h < nh; h++) {
            for (;;) {
                struct sockaddr_in from;
                socklen_t fl = sizeof(from);
                ssize_t got = ns_recvfrom(w.h[h], fd[h], buf, sizeof(buf), MSG_DONTWAIT,
                                          (struct sockaddr *)&from, &fl);
                if (got < 0)
                    break;
                received++;
                struct dg_id id;
                if (!dg_check(buf, (size_t)got, &id)) {
                    /* a datagram cut in fragments may take two flips */
                    if (dg_checksum_twin(buf, (size_t)got))
                        twins++;
                    else
                        bad++;
                    continue;
                }
                if (id.seq >= n || id.dst != h ||
                    id.src != src_of[id.seq] || id.dst != dst_of[id.seq] ||
                    from.sin_addr.s_addr != w.ip[id.src].s_addr ||
                    ntohs(from.sin_port) != UDP_PORT) {
                    bad++;
                    continue;
                }
                if (copies[id.seq]++)
                    dups++;
                else
                    distinct++;
            }
        }
    }
    uint64_t delivered = 0 - delivered0, damaged = 0;
    for (unsigned h = 0; h < nh; h++) {
        delivered += ctr(w.h[h], NS_CTR_udp_delivered);
        damaged += damage_drops(w.h[h]);
    }
    struct ns_impair_stats s;
    uint64_t corrupted = 0;
    for (unsigned port = 0; port < nh; port++) {
        ns_simlink_stats(w.link[0], port, &s);
        corrupted += s.corrupted;
    }
    CHECK(bad == 0 && twins <= 2);
    CHECK(received == delivered);
    CHECK(distinct >= n * 8 / 10);
    CHECK(dups > 0);
    CHECK(corrupted > 0 && damaged > 0);
    free(dst_of);
    free(src_of);
    free(copies);
    world_finish(&w);
}

/* ---- raw ICMP: ping(8) done by hand ---------------------------------------------- */

static uint16_t csum16(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)(p[n - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* An echo request (RFC 792): type 8, code 0, checksum, id, seq, data. */
static size_t build_echo(uint8_t *p, uint16_t id, uint16_t seq, size_t datalen)
{
    p[0] = 8, p[1] = 0, p[2] = p[3] = 0;
    p[4] = (uint8_t)(id >> 8), p[5] = (uint8_t)id, p[6] = (uint8_t)(seq >> 8), p[7] = (uint8_t)seq;
    for (size_t i = 0; i < datalen; i++)
        p[8 + i] = (uint8_t)(i ^ seq);
    uint16_t c = csum16(p, 8 + datalen);
    p[2] = (uint8_t)(c >> 8), p[3] = (uint8_t)c;
    return 8 + datalen;
}

/* A raw ICMP socket on alice pings bob across the router through a lossy
 * wan: replies come with their IPv4 header; bob's own raw ICMP socket sees
 * a copy of each request while bob's stack answers it (raw(7)). */
static void test_raw_icmp_ping_across_router(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(111);
    struct ns_link_params wan;
    ns_link_params_default(&wan);
    wan.delay_us = 10000;
    wan.loss = 0.1;
    struct world w;
    build_routed(&w, seed, NULL, &wan);
    struct ns_stack *a = w.h[0], *b = w.h[2];
    int rfd = ns_socket(a, AF_INET, SOCK_RAW, IPPROTO_ICMP);
    int bfd = ns_socket(b, AF_INET, SOCK_RAW, IPPROTO_ICMP);
    CHECK(rfd >= 0 && bfd >= 0);
    struct sockaddr_in to_b = sin_of(w.ip[2], 0);
    const uint16_t ident = 0x4242;
    const size_t datalen = 56;
    enum { count = 30 };
    bool answered[count + 1];
    memset(answered, 0, sizeof(answered));
    unsigned replies = 0, requests_seen = 0;
    uint8_t req[128], rep[256];

    for (unsigned seq = 1; seq <= count + 1; seq++) {
        size_t len = build_echo(req, ident, (uint16_t)seq, datalen);
        if (seq <= count)
            CHECK(ns_sendto(a, rfd, req, len, 0, (struct sockaddr *)&to_b, sizeof(to_b)) ==
                  (ssize_t)len);
        /* Like ping: wait up to 200 ms for replies, late ones included
         * (the first request waits for ARP, which may be retried). */
        len = 8 + datalen;
        struct pollfd pf = {.fd = rfd, .events = POLLIN};
        while (ns_poll(a, &pf, 1, seq <= count ? 200 : 3000) == 1) {
            struct sockaddr_in from;
            socklen_t fl = sizeof(from);
            ssize_t n = ns_recvfrom(a, rfd, rep, sizeof(rep), 0, (struct sockaddr *)&from, &fl);
            CHECK(n == (ssize_t)(20 + len));
            /* IPv4 header: version 4, IHL 5, total length, protocol ICMP,
             * from bob to alice, header checksum good, TTL 64 less the
             * router's hop. */
            CHECK(rep[0] == 0x45 && (size_t)(rep[2] << 8 | rep[3]) == (size_t)n && rep[9] == 1);
            CHECK(memcmp(rep + 12, &w.ip[2].s_addr, 4) == 0 &&
                  memcmp(rep + 16, &w.ip[0].s_addr, 4) == 0);
            CHECK(csum16(rep, 20) == 0 && rep[8] == 64 - 1);
            /* ICMP echo reply with our id, a seq we sent, our data. */
            const uint8_t *ic = rep + 20;
            unsigned rseq = (unsigned)(ic[6] << 8 | ic[7]);
            CHECK(ic[0] == 0 && ic[1] == 0 && csum16(ic, len) == 0);
            CHECK((ic[4] << 8 | ic[5]) == ident && rseq >= 1 && rseq <= seq && rseq <= count);
            build_echo(req, ident, (uint16_t)rseq, datalen);
            CHECK(memcmp(ic + 8, req + 8, datalen) == 0);
            CHECK(from.sin_family == AF_INET && from.sin_addr.s_addr == w.ip[2].s_addr &&
                  from.sin_port == 0);
            CHECK(!answered[rseq]); /* the links do not duplicate */
            answered[rseq] = true;
            replies++;
        }
    }
    /* bob's raw socket: a copy of every request that reached bob. */
    for (;;) {
        uint8_t pkt[256];
        ssize_t n = ns_recv(b, bfd, pkt, sizeof(pkt), MSG_DONTWAIT);
        if (n < 0)
            break;
        CHECK(n == (ssize_t)(20 + 8 + datalen) && pkt[20] == 8);
        requests_seen++;
    }
    CHECK(replies >= count * 6 / 10 && replies <= count);
    CHECK(requests_seen == ctr(b, NS_CTR_icmp_rx_echo) && requests_seen >= replies);
    CHECK(ctr(b, NS_CTR_icmp_tx_echo_reply) == requests_seen);
    CHECK(ctr(a, NS_CTR_raw_delivered) == replies);
    world_finish(&w);
}

/* A dual-stack socket (AF_INET6 on ::) across a router: it receives the
 * IPv4 datagrams of its port from a v4-mapped source, answers to that
 * name, connects to it; ns_sock_list shows it as AF_INET6 with the
 * v4-mapped addresses getsockname gives; a port unreachable reaches it
 * connected as ECONNREFUSED; a v6-only twin on another port takes no
 * IPv4 at all (counted as no port, answered with port unreachable). */
static void test_dual_stack_across_router(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(112);
    struct world w;
    build_routed(&w, seed, NULL, NULL);
    struct ns_stack *a = w.h[0], *b = w.h[2];
    int bfd = ns_socket(b, AF_INET6, SOCK_DGRAM, 0);
    assert_true(bfd >= 0);
    struct sockaddr_in6 any6 = {.sin6_family = AF_INET6, .sin6_port = htons(UDP_PORT)};
    assert_int_equal(ns_bind(b, bfd, (struct sockaddr *)&any6, sizeof(any6)), 0);
    int afd = udp_socket_bound(a, UDP_PORT + 1);
    struct sockaddr_in to_b = sin_of(w.ip[2], UDP_PORT);
    uint8_t buf[64] = "over ipv4";
    CHECK(ns_sendto(a, afd, buf, 9, 0, (struct sockaddr *)&to_b, sizeof(to_b)) == 9);
    ns_sim_run_for(w.sim, 100000);

    struct sockaddr_in6 from;
    socklen_t flen = sizeof(from);
    memset(buf, 0, sizeof(buf));
    CHECK(ns_recvfrom(b, bfd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen) == 9);
    CHECK(flen == sizeof(from) && from.sin6_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&from.sin6_addr));
    CHECK(memcmp(&from.sin6_addr.s6_addr[12], &w.ip[0], 4) == 0 && ntohs(from.sin6_port) == UDP_PORT + 1);
    CHECK(ns_connect(b, bfd, (struct sockaddr *)&from, flen) == 0);
    CHECK(ns_send(b, bfd, "back", 4, 0) == 4);
    ns_sim_run_for(w.sim, 100000);
    struct sockaddr_in src;
    socklen_t slen = sizeof(src);
    CHECK(ns_recvfrom(a, afd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&src, &slen) == 4);
    CHECK(src.sin_addr.s_addr == w.ip[2].s_addr && ntohs(src.sin_port) == UDP_PORT);

    struct ns_sock_info info[4];
    CHECK(ns_sock_list(b, info, 4) == 1);
    CHECK(info[0].family == AF_INET6 && info[0].local.sa.sa_family == AF_INET6);
    CHECK(IN6_IS_ADDR_V4MAPPED(&info[0].local.sin6.sin6_addr) &&
          memcmp(&info[0].local.sin6.sin6_addr.s6_addr[12], &w.ip[2], 4) == 0);
    CHECK(ntohs(info[0].local.sin6.sin6_port) == UDP_PORT && strcmp(info[0].state, "ESTAB") == 0);
    CHECK(info[0].remote.sa.sa_family == AF_INET6 &&
          memcmp(&info[0].remote.sin6.sin6_addr.s6_addr[12], &w.ip[0], 4) == 0);
    CHECK(ns_sock_list(a, info, 4) == 1 && info[0].family == AF_INET &&
          info[0].local.sa.sa_family == AF_INET);

    /* a's socket goes; b's next datagram draws a port unreachable. */
    CHECK(ns_close(a, afd) == 0);
    CHECK(ns_send(b, bfd, "gone", 4, 0) == 4);
    ns_sim_run_for(w.sim, 100000);
    errno = 0;
    CHECK(ns_recv(b, bfd, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == ECONNREFUSED);

    int ofd = ns_socket(b, AF_INET6, SOCK_DGRAM, 0);
    int one = 1;
    CHECK(ns_setsockopt(b, ofd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0);
    any6.sin6_port = htons(UDP_PORT + 2);
    CHECK(ns_bind(b, ofd, (struct sockaddr *)&any6, sizeof(any6)) == 0);
    uint64_t noport = ctr(b, NS_CTR_udp_drop_no_port);
    afd = ns_socket(a, AF_INET, SOCK_DGRAM, 0);
    to_b.sin_port = htons(UDP_PORT + 2);
    CHECK(ns_sendto(a, afd, buf, 4, 0, (struct sockaddr *)&to_b, sizeof(to_b)) == 4);
    ns_sim_run_for(w.sim, 100000);
    CHECK(ctr(b, NS_CTR_udp_drop_no_port) == noport + 1);
    errno = 0;
    CHECK(ns_recv(b, ofd, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN);
    ns_close(a, afd);
    ns_close(b, ofd);
    ns_close(b, bfd);
    world_finish(&w);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_exact_accounting),
        cmocka_unit_test(test_corruption_caught_exact_accounting),
        cmocka_unit_test(test_all_faults_across_router),
        cmocka_unit_test(test_large_datagrams_fragmented_across_router),
        cmocka_unit_test(test_rcvbuf_overflow_counted),
        cmocka_unit_test(test_port_unreachable_connected_only),
        cmocka_unit_test(test_broadcast_reaches_every_host),
        cmocka_unit_test(test_poll_waits_in_virtual_time),
        cmocka_unit_test(test_rcvtimeo_in_virtual_time),
        cmocka_unit_test(test_many_hosts_on_a_hub),
        cmocka_unit_test(test_raw_icmp_ping_across_router),
        cmocka_unit_test(test_host_unreachable_needs_recverr),
        cmocka_unit_test(test_dual_stack_across_router),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

