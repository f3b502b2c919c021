/* tests/sim/test_sim_tcp.c — randomized TCP scenarios on simulated
 * networks, every one driven by a seed.
 *
 * For each seed the generator builds:
 *   - a topology: two hosts on one link; two hosts joined by a forwarding
 *     router over two links; or three to five hosts on one hub;
 *   - impairments for every port (each direction): loss up to 10%,
 *     duplication, reordering (reorder_delay), corruption, delay 0-200 ms,
 *     jitter, rate 1-100 Mbit/s and small queues;
 *   - listeners on one or more hosts and dozens of connections between
 *     them, staggered in time, each with its own sizes (0 bytes to a few
 *     hundred KB, with 1-byte and MSS-sized edges) in both directions, its
 *     own write and read chunk sizes, slow readers (zero windows), small
 *     socket buffers, Nagle on or off, keepalive, half-closes
 *     (shutdown(SHUT_WR) then keep reading), request/response (the server
 *     answers after EOF), and aborts (SO_LINGER 0 close by either side);
 *   - RFC 7323 per host: window scaling and timestamps each on or off
 *     (on with probability 3/4, from a generator of its own so the rest of
 *     the scenario is the same whatever is chosen), so peers that differ
 *     are covered; NETSOCK_RFC7323=on or =off sets both on every host.
 *
 * Every socket is non-blocking; a small scheduler polls every stack's
 * sockets with ns_poll(timeout 0), acts on what is ready, and advances the
 * simulation (ns_sim_step / ns_sim_run_until) only when nothing is.
 *
 * Invariants:
 *   - every byte delivered exactly once and in order: each byte is checked
 *     against the generator as it arrives, and a running hash of what was
 *     sent is compared with a running hash of what was received;
 *   - every connection reaches its expected end: EOF after all the data
 *     for orderly closes; ECONNRESET/EPIPE for the peer of an abort;
 *   - nothing leaks: once everything is closed and the network runs for
 *     2*MSL and more, every stack has no sockets, an empty TCP table, and
 *     its packet-buffer pool is full again;
 *   - no assertion or sanitizer report fires.
 *
 * Seeds: 1..SIM_TCP_SEEDS (200, set by tests/CMakeLists.txt) by default;
 * `--seeds A-B` on the command line runs seeds A..B (ctest runs the 200
 * as several such entries, tests/CMakeLists.txt, so that none runs long);
 * NETSOCK_SEEDS=<count> runs 1..count (a soak, `make soak`;
 * NETSOCK_SEED_FIRST=<n> starts at n instead); NETSOCK_SEED=<n> runs only
 * seed n. The environment wins over the command line. Every few seconds
 * (NS_TEST_PROGRESS_S) a line names the seed running, its scenario and
 * the command that replays it, so a run killed by a timeout can be
 * replayed. NETSOCK_VERBOSE=1 prints a line per seed (and drop counters
 * on failure), NETSOCK_KEEP_GOING=1 goes on after a failure,
 * NETSOCK_DEBUG_CONN=<id> traces one connection's application events,
 * NETSOCK_TRACE=1 logs every stack's debug lines (TCP state changes),
 * NETSOCK_SIM_IPV6=1 runs every connection over IPv6 (2001:db8::10+i on
 * each host; the routed topology, which needs an IPv6 router netsock
 * does not have, is replaced by the two-host LAN); NETSOCK_SIM_IPV6=mixed
 * makes the listeners dual-stack AF_INET6 sockets and sends every other
 * connection to a wildcard listener over IPv4 from an AF_INET socket. A
 * failure prints the seed, the replay command, and re-runs the seed with
 * every device captured to /tmp/netsock-fail-<seed>/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "net/net.h"
#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "socket/fdtable.h"
#include "tcp/tcp.h"
#include "testutil.h"

#define MAX_HOSTS 6
#define MAX_LISTENERS 12
#define MAX_CONNS 48
#define MSL_US 1000000u
#define SCENARIO_LIMIT_US (900ull * 1000000u) /* virtual time for the transfers */
#define MSS_1500 1460u

/* ---- a small deterministic PRNG for the scenario's own choices ----------- */

struct prng {
    uint64_t s;
};

static uint64_t prng_next(struct prng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t prng_below(struct prng *r, uint64_t n) { return n ? prng_next(r) % n : 0; }
static uint64_t prng_range(struct prng *r, uint64_t lo, uint64_t hi) { return lo + prng_below(r, hi - lo + 1); }
static double prng_unit(struct prng *r) { return (double)(prng_next(r) >> 11) / 9007199254740992.0; }
static bool prng_chance(struct prng *r, double p) { return prng_unit(r) < p; }

/* ---- stream contents and hashes ------------------------------------------- */

/* Byte `off` of the stream named `key`. */
static uint8_t stream_byte(uint64_t key, uint64_t off)
{
    uint64_t x = key + (off >> 3) * 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return (uint8_t)(x >> ((off & 7) * 8));
}

static void stream_fill(uint64_t key, uint64_t off, uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = stream_byte(key, off + i);
}

/* FNV-1a, 64 bit, running. */
static uint64_t hash_update(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
#define HASH_INIT 0xcbf29ce484222325ull

/* ---- the scenario ----------------------------------------------------------- */

struct side {
    int fd;             /* -1: not open (yet, or any more) */
    int host;
    bool is_client;
    uint64_t key_tx, key_rx;   /* stream names for what we send / receive */
    uint64_t to_send, sent, tx_hash;
    uint64_t to_recv, recvd, rx_hash;
    bool opened, connected, eof, shut_wr, done;
    int err;            /* errno that ended it (abort victims) */
    /* Behaviour. */
    uint32_t wchunk_max, rchunk_max;
    uint64_t read_gap_us, next_read_us;
    bool half_close;    /* shutdown(SHUT_WR) when everything is sent */
    bool wait_eof;      /* send only after the peer's EOF (request/response) */
    bool aborter;       /* close with SO_LINGER 0 ... */
    uint64_t abort_sent, abort_recvd; /* ... once this much is sent and received */
    bool victim;        /* the peer aborts: expect ECONNRESET / EPIPE */
};

struct conn {
    int id;
    int listener;
    bool abort;
    uint64_t start_us;
    uint32_t caddr;     /* client address and port (host order), for accept */
    uint16_t cport;
    struct side c, s;
    /* Client socket options. */
    int rcvbuf, sndbuf;
    bool nodelay, keepalive;
};

struct listener {
    int host;
    int fd;
    uint16_t port;
    int backlog;
    int rcvbuf, sndbuf;
    bool nodelay;
    bool wild;  /* bound to the wildcard */
};

struct pollent {
    struct conn *c;
    struct side *sd;
    int li;
};

#define POLL_CAP (MAX_CONNS * 2 + MAX_LISTENERS)

struct scenario {
    uint64_t seed;
    struct prng rng;
    struct ns_sim *sim;
    int topo;           /* 0 pair, 1 router, 2 hub */
    int nhosts;         /* endpoints; hosts[nhosts] is the router in topo 1 */
    struct ns_stack *hosts[MAX_HOSTS + 1];
    int nstacks;
    unsigned ws_mask, ts_mask; /* hosts with window scaling / timestamps on */
    uint32_t addr[MAX_HOSTS]; /* host order */
    struct ns_simlink *links[2];
    int nlinks;
    unsigned nports[2];
    struct listener ls[MAX_LISTENERS];
    int nls;
    struct conn cs[MAX_CONNS];
    int ncs;
    const char *pcap_dir;
    bool failed;
    char why[1024];
    char params_desc[512];
    bool listeners_closed;
    /* Big arrays live here, not on the stack: slow under ASan. */
    uint8_t buf[65536];  /* I/O buffer */
    struct pollfd fds[MAX_HOSTS][POLL_CAP];
    struct pollent ents[MAX_HOSTS][POLL_CAP];
};

static void trace_log(void *ctx, const char *stack_name, int level, uint64_t now, const char *msg)
{
    (void)ctx;
    (void)level;
    fprintf(stderr, "%10.6f %s: %s\n", (double)now / 1e6, stack_name, msg);
}

static void failf(struct scenario *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(struct scenario *sc, const char *fmt, ...)
{
    if (sc->failed)
        return;
    sc->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sc->why, sizeof(sc->why), fmt, ap);
    va_end(ap);
}

static uint64_t now_us(const struct scenario *sc) { return ns_sim_now(sc->sim); }

/* ---- topology --------------------------------------------------------------- */

static void random_params(struct prng *r, struct ns_link_params *p)
{
    ns_link_params_default(p);
    p->delay_us = prng_chance(r, 0.3) ? prng_below(r, 2000) : prng_below(r, 200001);
    if (prng_chance(r, 0.2))
        p->jitter_us = prng_below(r, 5000);
    if (prng_chance(r, 0.6))
        p->rate_bps = prng_range(r, 1, 100) * 1000000u;
    if (prng_chance(r, 0.4))
        p->queue_bytes = (uint32_t)prng_range(r, 3000, 64000);
    if (prng_chance(r, 0.6))
        p->loss = prng_unit(r) * 0.10;
    if (prng_chance(r, 0.3))
        p->dup = prng_unit(r) * 0.05;
    if (prng_chance(r, 0.3)) {
        p->reorder = prng_unit(r) * 0.2;
        p->reorder_delay_us = prng_range(r, 100, 30000);
    }
    if (prng_chance(r, 0.3))
        p->corrupt = prng_unit(r) * 0.05;
}

static void describe_params(char *out, size_t cap, const struct ns_link_params *p)
{
    snprintf(out, cap, "[d=%" PRIu64 "ms j=%" PRIu64 "us r=%" PRIu64 "M q=%u l=%.3f dup=%.3f ro=%.3f/%" PRIu64
                       "us c=%.3f]",
             p->delay_us / 1000, p->jitter_us, p->rate_bps / 1000000, p->queue_bytes, p->loss,
             p->dup, p->reorder, p->reorder_delay_us, p->corrupt);
}

static struct ns_dev *port_dev(struct scenario *sc, struct ns_simlink *link, unsigned port,
                               const char *host)
{
    struct ns_dev *d = ns_simlink_port(link, port, NULL);
    if (d && sc->pcap_dir) {
        char path[512];
        int err;
        snprintf(path, sizeof(path), "%s/%s-port%u.pcap", sc->pcap_dir, host, port);
        struct ns_dev *w = ns_pcap_wrap(d, path, &err);
        if (w)
            d = w;
    }
    return d;
}

/* RFC 7323 switches for host `i` (see the header comment). */
static void host_opts(struct scenario *sc, struct prng *optr, int i, struct ns_config *cfg)
{
    const char *e = getenv("NETSOCK_RFC7323");
    bool ws = prng_chance(optr, 0.75), ts = prng_chance(optr, 0.75);
    if (e && strcmp(e, "on") == 0)
        ws = ts = true;
    else if (e && strcmp(e, "off") == 0)
        ws = ts = false;
    cfg->tcp_window_scaling = ws;
    cfg->tcp_timestamps = ts;
    sc->ws_mask |= (unsigned)ws << i;
    sc->ts_mask |= (unsigned)ts << i;
}

/* NETSOCK_SIM_IPV6: 1 the connections over IPv6, "mixed" both families
 * (0 or unset: IPv4 only). */
static int sim_ipv6_mode(void)
{
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("NETSOCK_SIM_IPV6");
        v = !e || !*e || !strcmp(e, "0") ? 0 : !strcmp(e, "mixed") ? 2 : 1;
    }
    return v;
}
static bool sim_ipv6(void) { return sim_ipv6_mode() != 0; }
static bool sim_mixed(void) { return sim_ipv6_mode() == 2; }

/* 2001:db8::<n> */
static struct in6_addr sim_addr6(uint32_t n)
{
    struct in6_addr a;
    memset(&a, 0, sizeof(a));
    a.s6_addr[0] = 0x20;
    a.s6_addr[1] = 0x01;
    a.s6_addr[2] = 0x0d;
    a.s6_addr[3] = 0xb8;
    uint32_t be = htonl(n);
    memcpy(&a.s6_addr[12], &be, 4);
    return a;
}

static socklen_t sim_name_family(const struct scenario *sc, int h, uint16_t port, bool specific,
                                 bool v6, struct sockaddr_storage *out);

/* The name of host h's port in this run's family: its address, or the
 * wildcard when !specific. Returns the length. */
static socklen_t sim_name(const struct scenario *sc, int h, uint16_t port, bool specific,
                          struct sockaddr_storage *out)
{
    return sim_name_family(sc, h, port, specific, sim_ipv6(), out);
}

/* The same in the family asked (v6 or IPv4). */
static socklen_t sim_name_family(const struct scenario *sc, int h, uint16_t port, bool specific,
                                 bool v6, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        if (specific)
            s6->sin6_addr = sim_addr6(10 + (uint32_t)h);
        return sizeof(*s6);
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)out;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    s4->sin_addr.s_addr = specific ? htonl(sc->addr[h]) : 0;
    return sizeof(*s4);
}

/* A name's address as a host-order word (IPv6: its last 32 bits, which
 * tell the hosts apart) and port. */
static void sim_addr_port(const struct sockaddr_storage *ss, uint32_t *addr, uint16_t *port)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        uint32_t w;
        memcpy(&w, &s6->sin6_addr.s6_addr[12], 4);
        *addr = ntohl(w);
        *port = ntohs(s6->sin6_port);
        return;
    }
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
    *addr = ntohl(s4->sin_addr.s_addr);
    *port = ntohs(s4->sin_port);
}

static void build_topology(struct scenario *sc)
{
    struct prng optr = {sc->seed * 0xd1342543de82ef95ull + 7};
    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.tcp_msl_us = MSL_US;
    /* ARP is warmed up on a clean network first and then left alone: a
     * corrupted ARP reply or announcement (ARP has no checksum, and the
     * simulated wire no FCS) would poison a cache. */
    cfg.arp_reachable_us = 3600ull * 1000000u;
    cfg.arp_gc_us = 7200ull * 1000000u;
    cfg.arp_retries = 10;
    if (getenv("NETSOCK_TRACE")) {
        cfg.log_fn = trace_log;
        cfg.log_level = NS_LOG_DEBUG;
    }

    uint64_t roll = prng_below(&sc->rng, 10);
    sc->topo = roll < 4 ? 0 : roll < 7 ? 1 : 2;
    if (sim_ipv6() && sc->topo == 1)
        sc->topo = 0; /* a host does not forward IPv6 */
    char name[16];
    if (sc->topo == 0 || sc->topo == 2) {
        sc->nhosts = sc->topo == 0 ? 2 : (int)prng_range(&sc->rng, 3, 5);
        sc->nports[0] = (unsigned)sc->nhosts;
        sc->links[0] = ns_sim_add_link(sc->sim, "lan", sc->nports[0], NULL);
        sc->nlinks = 1;
        for (int i = 0; i < sc->nhosts; i++) {
            snprintf(name, sizeof(name), "h%d", i);
            struct ns_config hcfg = cfg;
            host_opts(sc, &optr, i, &hcfg);
            sc->hosts[i] = ns_sim_add_host(sc->sim, name, &hcfg);
            int ifi = ns_if_add(sc->hosts[i], port_dev(sc, sc->links[0], (unsigned)i, name));
            assert_true(ifi > 0);
            sc->addr[i] = 0xc0000200u + 10 + (uint32_t)i; /* 192.0.2.10+i */
            struct in_addr a = {htonl(sc->addr[i])};
            assert_int_equal(ns_if_addr_add(sc->hosts[i], ifi, AF_INET, &a, 24), 0);
            if (sim_ipv6()) {
                struct in6_addr a6 = sim_addr6(10 + (uint32_t)i);
                assert_int_equal(ns_if_addr_add(sc->hosts[i], ifi, AF_INET6, &a6, 64), 0);
            }
        }
        sc->nstacks = sc->nhosts;
    } else {
        sc->nhosts = 2;
        struct ns_config h0cfg = cfg, h1cfg = cfg;
        host_opts(sc, &optr, 0, &h0cfg);
        host_opts(sc, &optr, 1, &h1cfg);
        sc->hosts[0] = ns_sim_add_host(sc->sim, "h0", &h0cfg);
        struct ns_config rcfg = cfg;
        rcfg.ip_forward = true;
        sc->hosts[2] = ns_sim_add_host(sc->sim, "router", &rcfg);
        sc->hosts[1] = ns_sim_add_host(sc->sim, "h1", &h1cfg);
        ns_stack_set_forwarding(sc->hosts[2], true);
        sc->links[0] = ns_sim_add_link(sc->sim, "lan", 2, NULL);
        sc->links[1] = ns_sim_add_link(sc->sim, "wan", 2, NULL);
        sc->nports[0] = sc->nports[1] = 2;
        sc->nlinks = 2;
        int i0 = ns_if_add(sc->hosts[0], port_dev(sc, sc->links[0], 0, "h0"));
        int r0 = ns_if_add(sc->hosts[2], port_dev(sc, sc->links[0], 1, "router"));
        int r1 = ns_if_add(sc->hosts[2], port_dev(sc, sc->links[1], 0, "router"));
        int i1 = ns_if_add(sc->hosts[1], port_dev(sc, sc->links[1], 1, "h1"));
        assert_true(i0 > 0 && r0 > 0 && r1 > 0 && i1 > 0);
        sc->addr[0] = 0xc000020au;  /* 192.0.2.10 */
        sc->addr[1] = 0xc6336414u;  /* 198.51.100.20 */
        struct in_addr a0 = {htonl(sc->addr[0])}, a1 = {htonl(sc->addr[1])};
        struct in_addr g0 = {htonl(0xc0000201u)}, g1 = {htonl(0xc6336401u)}, any = {0};
        assert_int_equal(ns_if_addr_add(sc->hosts[0], i0, AF_INET, &a0, 24), 0);
        assert_int_equal(ns_if_addr_add(sc->hosts[1], i1, AF_INET, &a1, 24), 0);
        assert_int_equal(ns_if_addr_add(sc->hosts[2], r0, AF_INET, &g0, 24), 0);
        assert_int_equal(ns_if_addr_add(sc->hosts[2], r1, AF_INET, &g1, 24), 0);
        assert_int_equal(ns_route_add(sc->hosts[0], AF_INET, &any, 0, &g0, 0), 0);
        assert_int_equal(ns_route_add(sc->hosts[1], AF_INET, &any, 0, &g1, 0), 0);
        sc->nstacks = 3;
    }
    /* Warm ARP up on the clean network: everybody pings everybody. */
    ns_sim_run_for(sc->sim, 10000);
    for (int i = 0; i < sc->nhosts; i++)
        for (int j = 0; j < sc->nhosts; j++)
            if (i != j) {
                struct in_addr d = {htonl(sc->addr[j])};
                ns_icmp_echo_send(sc->hosts[i], &d, 1, 1, "warm", 4, 0);
            }
    /* ... and past the last RFC 5227 announcement (2 s after the first). */
    ns_sim_run_for(sc->sim, 2500000);
    /* Now the impairments, per port (= per direction). Corruption on one
     * link only: a frame that crosses the router could otherwise take a
     * flip on each hop, and two flips of the same bit in opposite
     * directions, an even number of bytes apart, leave the Internet
     * checksum unchanged (RFC 1071) — real links catch that with their
     * CRC, the simulated wire has none (seed 1418 before this rule). */
    size_t off = 0;
    int corrupt_link = (int)prng_below(&sc->rng, (uint64_t)sc->nlinks);
    for (int l = 0; l < sc->nlinks; l++)
        for (unsigned p = 0; p < sc->nports[l]; p++) {
            struct ns_link_params lp;
            random_params(&sc->rng, &lp);
            if (l != corrupt_link)
                lp.corrupt = 0;
            ns_simlink_set_params(sc->links[l], p, &lp);
            char d[160];
            describe_params(d, sizeof(d), &lp);
            if (off < sizeof(sc->params_desc))
                off += (size_t)snprintf(sc->params_desc + off, sizeof(sc->params_desc) - off,
                                        "%s%d.%u%s", off ? " " : "", l, p, d);
        }
}

/* ---- connections -------------------------------------------------------------- */

static uint64_t random_size(struct prng *r)
{
    static const uint64_t edges[] = {0, 1, 2, MSS_1500 - 1, MSS_1500, MSS_1500 + 1, 2 * MSS_1500,
                                     65535, 65536};
    uint64_t roll = prng_below(r, 100);
    if (roll < 25)
        return edges[prng_below(r, sizeof(edges) / sizeof(edges[0]))];
    if (roll < 80)
        return prng_range(r, 1, 8192);
    if (roll < 97)
        return prng_range(r, 8193, 32768);
    return prng_range(r, 32769, 200000);
}

static void side_init(struct prng *r, struct side *sd, bool client, int host)
{
    memset(sd, 0, sizeof(*sd));
    sd->fd = -1;
    sd->host = host;
    sd->is_client = client;
    sd->tx_hash = sd->rx_hash = HASH_INIT;
    uint64_t w = prng_below(r, 4);
    sd->wchunk_max = w == 0 ? 1 + (uint32_t)prng_below(r, 100) : w == 1 ? MSS_1500 : 65536;
    uint64_t rr = prng_below(r, 4);
    sd->rchunk_max = rr == 0 ? 1 + (uint32_t)prng_below(r, 100) : rr == 1 ? 1000 : 65536;
    if (prng_chance(r, 0.1)) {
        /* A slow reader: one read of up to 1-8 KB every 1-50 ms (zero
         * windows, persist probes, window updates). */
        sd->read_gap_us = prng_range(r, 1000, 50000);
        sd->rchunk_max = (uint32_t)prng_range(r, 1024, 8192);
    }
}

static void make_listeners(struct scenario *sc)
{
    /* Servers: in the pair and router topologies either host or both; on a
     * hub a random subset (at least one). */
    for (int h = 0; h < sc->nhosts; h++) {
        bool server = h == 0 || prng_chance(&sc->rng, 0.6);
        if (!server)
            continue;
        int n = (int)prng_range(&sc->rng, 1, 3);
        for (int k = 0; k < n && sc->nls < MAX_LISTENERS; k++) {
            struct listener *l = &sc->ls[sc->nls++];
            l->host = h;
            l->port = (uint16_t)(5000 + k);
            l->backlog = (int)prng_range(&sc->rng, 2, 64);
            l->rcvbuf = prng_chance(&sc->rng, 0.2) ? (int)prng_range(&sc->rng, 1200, 16384) : 0;
            l->sndbuf = prng_chance(&sc->rng, 0.2) ? (int)prng_range(&sc->rng, 2400, 16384) : 0;
            l->nodelay = prng_chance(&sc->rng, 0.5);
            struct ns_stack *st = sc->hosts[h];
            l->fd = ns_socket(st, sim_ipv6() ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            assert_true(l->fd >= 0);
            int one = 1;
            ns_setsockopt(st, l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            /* Keepalive on every accepted connection: the peer of an abort
             * whose RST was lost still finds out. */
            int idle = 2, intvl = 1, cnt = 30;
            ns_setsockopt(st, l->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
            ns_setsockopt(st, l->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
            ns_setsockopt(st, l->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
            ns_setsockopt(st, l->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
            if (l->rcvbuf)
                ns_setsockopt(st, l->fd, SOL_SOCKET, SO_RCVBUF, &l->rcvbuf, sizeof(int));
            if (l->sndbuf)
                ns_setsockopt(st, l->fd, SOL_SOCKET, SO_SNDBUF, &l->sndbuf, sizeof(int));
            if (l->nodelay)
                ns_setsockopt(st, l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            struct sockaddr_storage ss;
            l->wild = prng_chance(&sc->rng, 0.5);
            socklen_t sl = sim_name(sc, h, l->port, !l->wild, &ss);
            assert_int_equal(ns_bind(st, l->fd, (struct sockaddr *)&ss, sl), 0);
            assert_int_equal(ns_listen(st, l->fd, l->backlog), 0);
        }
    }
}

static void make_conns(struct scenario *sc)
{
    int n = (int)prng_range(&sc->rng, 8, 36);
    for (int i = 0; i < n; i++) {
        struct conn *c = &sc->cs[sc->ncs];
        memset(c, 0, sizeof(*c));
        c->id = sc->ncs;
        c->listener = (int)prng_below(&sc->rng, (uint64_t)sc->nls);
        int sh = sc->ls[c->listener].host;
        int ch = (int)prng_below(&sc->rng, (uint64_t)sc->nhosts - 1);
        if (ch >= sh)
            ch++;
        side_init(&sc->rng, &c->c, true, ch);
        side_init(&sc->rng, &c->s, false, sh);
        c->start_us = prng_chance(&sc->rng, 0.5) ? 0 : prng_below(&sc->rng, 3000000);
        uint64_t k = sc->seed * 1000003u + (uint64_t)c->id * 2;
        c->c.key_tx = c->s.key_rx = k;
        c->s.key_tx = c->c.key_rx = k + 1;
        uint64_t up = random_size(&sc->rng), down = random_size(&sc->rng);
        if (prng_chance(&sc->rng, 0.2))
            down = 0;
        else if (prng_chance(&sc->rng, 0.2))
            up = 0;
        c->c.to_send = c->s.to_recv = up;
        c->s.to_send = c->c.to_recv = down;
        c->rcvbuf = prng_chance(&sc->rng, 0.2) ? (int)prng_range(&sc->rng, 1200, 16384) : 0;
        c->sndbuf = prng_chance(&sc->rng, 0.2) ? (int)prng_range(&sc->rng, 2400, 16384) : 0;
        c->nodelay = prng_chance(&sc->rng, 0.5);
        c->keepalive = prng_chance(&sc->rng, 0.3);
        c->abort = prng_chance(&sc->rng, 0.12);
        if (c->abort) {
            struct side *ab = prng_chance(&sc->rng, 0.5) ? &c->c : &c->s;
            struct side *vi = ab == &c->c ? &c->s : &c->c;
            ab->aborter = true;
            vi->victim = true;
            ab->abort_sent = prng_below(&sc->rng, ab->to_send + 1);
            ab->abort_recvd = prng_chance(&sc->rng, 0.5) ? 0 : prng_below(&sc->rng, vi->to_send + 1);
            c->keepalive = true; /* the client may be the victim */
        } else {
            /* Orderly: the server either answers after the client's EOF
             * (request/response; then the client must half-close) or
             * streams at once. At least one side half-closes, or both
             * would wait for the other's EOF. */
            c->s.wait_eof = prng_chance(&sc->rng, 0.3);
            c->c.half_close = c->s.wait_eof || prng_chance(&sc->rng, 0.7);
            c->s.half_close = !c->c.half_close || prng_chance(&sc->rng, 0.5);
        }
        sc->ncs++;
    }
}

/* ---- the application: one side's event handling ---------------------------------- */

static struct ns_stack *side_stack(struct scenario *sc, const struct side *sd)
{
    return sc->hosts[sd->host];
}

static void side_close(struct scenario *sc, struct side *sd)
{
    if (sd->fd >= 0) {
        ns_close(side_stack(sc, sd), sd->fd);
        sd->fd = -1;
    }
    sd->done = true;
}

/* The side ended with an error (errno e). */
static void side_error(struct scenario *sc, struct conn *c, struct side *sd, int e, const char *what)
{
    if (!sd->victim || (e != ECONNRESET && e != EPIPE)) {
        failf(sc, "conn %d (port %u) %s: %s failed: %s (sent %" PRIu64 "/%" PRIu64 ", recvd %" PRIu64
                  "/%" PRIu64 ", abort=%d)",
              c->id, c->cport, sd->is_client ? "client" : "server", what, strerror(e), sd->sent, sd->to_send,
              sd->recvd, sd->to_recv, c->abort);
    }
    sd->err = e;
    side_close(sc, sd);
}

static void client_open(struct scenario *sc, struct conn *c)
{
    struct side *sd = &c->c;
    struct ns_stack *st = side_stack(sc, sd);
    sd->opened = true;
    const struct listener *l = &sc->ls[c->listener];
    /* Mixed: every other connection to a wildcard (dual-stack) listener
     * comes over IPv4, from an AF_INET socket. */
    bool v6 = sim_ipv6() && !(sim_mixed() && l->wild && (c->id & 1));
    sd->fd = ns_socket(st, v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (sd->fd < 0) {
        failf(sc, "conn %d: socket: %s", c->id, strerror(errno));
        return;
    }
    int one = 1;
    if (c->rcvbuf)
        ns_setsockopt(st, sd->fd, SOL_SOCKET, SO_RCVBUF, &c->rcvbuf, sizeof(int));
    if (c->sndbuf)
        ns_setsockopt(st, sd->fd, SOL_SOCKET, SO_SNDBUF, &c->sndbuf, sizeof(int));
    if (c->nodelay)
        ns_setsockopt(st, sd->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (c->keepalive) {
        int idle = 2, intvl = 1, cnt = 30;
        ns_setsockopt(st, sd->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        ns_setsockopt(st, sd->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
        ns_setsockopt(st, sd->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
        ns_setsockopt(st, sd->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    }
    struct sockaddr_storage dst;
    socklen_t dl = sim_name_family(sc, l->host, l->port, true, v6, &dst);
    int rc = ns_connect(st, sd->fd, (struct sockaddr *)&dst, dl);
    if (rc == 0) {
        sd->connected = true;
    } else if (errno != EINPROGRESS) {
        failf(sc, "conn %d: connect: %s", c->id, strerror(errno));
        return;
    }
    struct sockaddr_storage me;
    socklen_t ml = sizeof(me);
    assert_int_equal(ns_getsockname(st, sd->fd, (struct sockaddr *)&me, &ml), 0);
    sim_addr_port(&me, &c->caddr, &c->cport);
}

/* Events this side wants now. */
static short side_events(const struct scenario *sc, const struct side *sd)
{
    short ev = 0;
    if (sd->is_client && !sd->connected)
        return POLLOUT;
    if (sd->sent < sd->to_send && !(sd->wait_eof && !sd->eof))
        ev |= POLLOUT;
    if (!sd->eof && now_us(sc) >= sd->next_read_us)
        ev |= POLLIN;
    return ev;
}

/* Act on readiness `re`; returns true when something changed. */
static bool side_act(struct scenario *sc, struct conn *c, struct side *sd, short re)
{
    struct ns_stack *st = side_stack(sc, sd);
    bool progress = false;
    const char *who = sd->is_client ? "client" : "server";
    const char *dbg = getenv("NETSOCK_DEBUG_CONN");
    if (dbg && atoi(dbg) == c->id)
        fprintf(stderr, "%.6f conn %d %s re %#x sent %" PRIu64 " recvd %" PRIu64 " eof %d\n",
                (double)now_us(sc) / 1e6, c->id, who, (unsigned)re, sd->sent, sd->recvd, sd->eof);

    if (sd->is_client && !sd->connected) {
        if (!(re & (POLLOUT | POLLERR | POLLHUP)))
            return false;
        int e = 0;
        socklen_t el = sizeof(e);
        ns_getsockopt(st, sd->fd, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e || !(re & POLLOUT)) {
            side_error(sc, c, sd, e ? e : ECONNREFUSED, "connect");
            return true;
        }
        sd->connected = true;
        progress = true;
    }

    /* An abort, once its moment has come. */
    if (sd->aborter && sd->sent >= sd->abort_sent && sd->recvd >= sd->abort_recvd) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        ns_setsockopt(st, sd->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        side_close(sc, sd);
        return true;
    }

    /* Write. */
    if ((re & POLLOUT) && sd->sent < sd->to_send && !(sd->wait_eof && !sd->eof)) {
        for (int k = 0; k < 4 && sd->sent < sd->to_send; k++) {
            uint8_t *buf = sc->buf;
            uint64_t n = prng_range(&sc->rng, 1, sd->wchunk_max);
            if (n > sd->to_send - sd->sent)
                n = sd->to_send - sd->sent;
            if (sd->aborter && sd->sent < sd->abort_sent && n > sd->abort_sent - sd->sent)
                n = sd->abort_sent - sd->sent;
            stream_fill(sd->key_tx, sd->sent, buf, (size_t)n);
            ssize_t w = ns_send(st, sd->fd, buf, (size_t)n, 0);
            if (w < 0) {
                if (errno == EAGAIN)
                    break;
                side_error(sc, c, sd, errno, "send");
                return true;
            }
            if (w == 0 || (uint64_t)w > n) {
                failf(sc, "conn %d %s: send returned %zd for %" PRIu64, c->id, who, w, n);
                return true;
            }
            sd->tx_hash = hash_update(sd->tx_hash, buf, (size_t)w);
            sd->sent += (uint64_t)w;
            progress = true;
            if (sd->aborter && sd->sent >= sd->abort_sent)
                break;
        }
    }
    if (sd->sent == sd->to_send && sd->half_close && !sd->shut_wr && !sd->victim && !sd->aborter &&
        (sd->connected || !sd->is_client)) {
        if (ns_shutdown(st, sd->fd, SHUT_WR) < 0) {
            side_error(sc, c, sd, errno, "shutdown");
            return true;
        }
        sd->shut_wr = true;
        progress = true;
    }

    /* Read. */
    if ((re & (POLLIN | POLLERR | POLLHUP)) && !sd->eof && now_us(sc) >= sd->next_read_us) {
        for (int k = 0; k < 4; k++) {
            uint8_t *buf = sc->buf;
            size_t n = (size_t)prng_range(&sc->rng, 1, sd->rchunk_max);
            ssize_t r = ns_recv(st, sd->fd, buf, n, 0);
            if (r < 0) {
                if (errno == EAGAIN)
                    break;
                side_error(sc, c, sd, errno, "recv");
                return true;
            }
            progress = true;
            if (r == 0) {
                sd->eof = true;
                if (sd->victim)
                    failf(sc, "conn %d %s: EOF from an aborting peer (recvd %" PRIu64 ")", c->id,
                          who, sd->recvd);
                else if (sd->recvd != sd->to_recv)
                    failf(sc, "conn %d %s: EOF after %" PRIu64 " of %" PRIu64 " bytes", c->id, who,
                          sd->recvd, sd->to_recv);
                break;
            }
            if ((uint64_t)r > sd->to_recv - sd->recvd) {
                failf(sc, "conn %d %s: %" PRIu64 " bytes received, only %" PRIu64 " sent", c->id,
                      who, sd->recvd + (uint64_t)r, sd->to_recv);
                return true;
            }
            for (ssize_t i = 0; i < r; i++) {
                if (buf[i] != stream_byte(sd->key_rx, sd->recvd + (uint64_t)i)) {
                    failf(sc, "conn %d (port %u) %s: byte %" PRIu64 " is %02x, expected %02x", c->id, c->cport, who,
                          sd->recvd + (uint64_t)i, buf[i],
                          stream_byte(sd->key_rx, sd->recvd + (uint64_t)i));
                    return true;
                }
            }
            sd->rx_hash = hash_update(sd->rx_hash, buf, (size_t)r);
            sd->recvd += (uint64_t)r;
            if (sd->read_gap_us) {
                sd->next_read_us = now_us(sc) + sd->read_gap_us;
                break;
            }
        }
    }
    if (!sd->done && (re & POLLERR) && !progress) {
        int e = 0;
        socklen_t el = sizeof(e);
        ns_getsockopt(st, sd->fd, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e) {
            side_error(sc, c, sd, e, "SO_ERROR");
            return true;
        }
    }

    /* Orderly end: everything sent, EOF seen: close (FIN if not yet sent). */
    if (!sd->victim && !sd->aborter && sd->eof && sd->sent == sd->to_send) {
        side_close(sc, sd);
        return true;
    }
    return progress;
}

/* ---- the scheduler ------------------------------------------------------------------ */

static bool conn_finished(const struct conn *c)
{
    if (!c->c.done)
        return false;
    if (c->s.done)
        return true;
    /* The peer of an aborting client may never have been accepted. */
    return c->abort && c->s.fd < 0;
}

static bool all_finished(const struct scenario *sc)
{
    for (int i = 0; i < sc->ncs; i++)
        if (!conn_finished(&sc->cs[i]))
            return false;
    return true;
}

static struct conn *conn_by_client(struct scenario *sc, uint32_t addr, uint16_t port, int listener)
{
    for (int i = 0; i < sc->ncs; i++) {
        struct conn *c = &sc->cs[i];
        if (c->c.opened && c->caddr == addr && c->cport == port && c->listener == listener &&
            c->s.fd < 0 && !c->s.done)
            return c;
    }
    return NULL;
}

static bool do_accepts(struct scenario *sc, int li)
{
    struct listener *l = &sc->ls[li];
    struct ns_stack *st = sc->hosts[l->host];
    bool progress = false;
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t pl = sizeof(peer);
        int fd = ns_accept4(st, l->fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno != EAGAIN)
                failf(sc, "accept on listener %d: %s", li, strerror(errno));
            return progress;
        }
        progress = true;
        uint32_t paddr;
        uint16_t pport;
        sim_addr_port(&peer, &paddr, &pport);
        struct conn *c = conn_by_client(sc, paddr, pport, li);
        if (!c) {
            failf(sc, "listener %d accepted an unknown connection from port %u", li, pport);
            ns_close(st, fd);
            return true;
        }
        c->s.fd = fd;
        c->s.opened = true;
        c->s.connected = true;
    }
}

/* One pass over every stack's sockets. Returns true when anything moved. */
static bool app_pass(struct scenario *sc)
{
    bool progress = false;
    uint64_t t = now_us(sc);
    struct pollfd(*fds)[POLL_CAP] = sc->fds;
    struct pollent(*ents)[POLL_CAP] = sc->ents;
    nfds_t n[MAX_HOSTS] = {0};
    for (int li = 0; li < sc->nls; li++) {
        int h = sc->ls[li].host;
        if (sc->ls[li].fd < 0)
            continue;
        fds[h][n[h]] = (struct pollfd){.fd = sc->ls[li].fd, .events = POLLIN};
        ents[h][n[h]++] = (struct pollent){.li = li};
    }
    for (int i = 0; i < sc->ncs; i++) {
        struct conn *c = &sc->cs[i];
        if (!c->c.opened && t >= c->start_us) {
            client_open(sc, c);
            progress = true;
        }
        struct side *sides[2] = {&c->c, &c->s};
        for (int k = 0; k < 2; k++) {
            struct side *sd = sides[k];
            int h = sd->host;
            if (sd->fd < 0 || sd->done)
                continue;
            fds[h][n[h]] = (struct pollfd){.fd = sd->fd, .events = side_events(sc, sd)};
            ents[h][n[h]++] = (struct pollent){.c = c, .sd = sd, .li = -1};
        }
    }
    for (int h = 0; h < sc->nhosts && !sc->failed; h++) {
        if (n[h] == 0)
            continue;
        int rc = ns_poll(sc->hosts[h], fds[h], n[h], 0);
        if (rc < 0) {
            failf(sc, "ns_poll: %s", strerror(errno));
            return false;
        }
        for (nfds_t i = 0; i < n[h] && !sc->failed; i++) {
            struct pollent *e = &ents[h][i];
            short re = fds[h][i].revents;
            if (e->li >= 0) {
                if (re & POLLIN)
                    progress |= do_accepts(sc, e->li);
                continue;
            }
            /* The aborter acts as soon as its moment comes, and a
             * half-close is due once everything is sent: ready or not. */
            struct side *sd = e->sd;
            if (sd->done)
                continue;
            bool due = sd->aborter || (sd->half_close && !sd->shut_wr &&
                                       sd->sent == sd->to_send && sd->connected);
            if (re || due)
                progress |= side_act(sc, e->c, sd, re);
        }
    }
    return progress;
}

/* The next time the application wants to act by itself. */
static uint64_t app_wake(const struct scenario *sc)
{
    uint64_t w = NS_TIME_NEVER, t = now_us(sc);
    for (int i = 0; i < sc->ncs; i++) {
        const struct conn *c = &sc->cs[i];
        if (!c->c.opened && c->start_us > t && c->start_us < w)
            w = c->start_us;
        const struct side *sides[2] = {&c->c, &c->s};
        for (int k = 0; k < 2; k++)
            if (sides[k]->fd >= 0 && !sides[k]->eof && sides[k]->next_read_us > t &&
                sides[k]->next_read_us < w)
                w = sides[k]->next_read_us;
    }
    return w;
}

static uint32_t tcp_conn_count(struct ns_stack *st) { return st->tcp->nconn; }

static uint32_t tcp_listen_count(struct ns_stack *st)
{
    uint32_t n = 0;
    for (int b = 0; b < 256; b++)
        for (struct tcpcb *tp = st->tcp->listen[b]; tp; tp = tp->hnext)
            n++;
    return n;
}

static void describe_unfinished(struct scenario *sc, char *out, size_t cap)
{
    size_t off = 0;
    for (int i = 0; i < sc->ncs && off + 200 < cap; i++) {
        struct conn *c = &sc->cs[i];
        if (conn_finished(c))
            continue;
        const struct side *sides[2] = {&c->c, &c->s};
        for (int k = 0; k < 2; k++) {
            const struct side *sd = sides[k];
            if (sd->done)
                continue;
            const char *state = "-";
            if (sd->fd >= 0) {
                struct ns_sock *so = fd_get(sc->hosts[sd->host], sd->fd);
                if (so && so->type == SOCK_STREAM)
                    state = tcp_state_names[tcp_sk(so)->state];
            }
            off += (size_t)snprintf(out + off, cap - off,
                                    "\n  conn %d (port %u) %s h%d fd %d %s: sent %" PRIu64 "/%" PRIu64
                                    " recvd %" PRIu64 "/%" PRIu64 "%s%s%s",
                                    c->id, c->cport, sd->is_client ? "client" : "server", sd->host, sd->fd,
                                    state, sd->sent, sd->to_send, sd->recvd, sd->to_recv,
                                    sd->eof ? " eof" : "", sd->aborter ? " aborter" : "",
                                    sd->victim ? " victim" : "");
        }
    }
}

static void check_ends(struct scenario *sc)
{
    for (int i = 0; i < sc->ncs && !sc->failed; i++) {
        struct conn *c = &sc->cs[i];
        struct side *sides[2] = {&c->c, &c->s};
        struct side *peers[2] = {&c->s, &c->c};
        for (int k = 0; k < 2; k++) {
            struct side *sd = sides[k], *pe = peers[k];
            const char *who = sd->is_client ? "client" : "server";
            if (!sd->opened) {
                if (!(c->abort && !sd->is_client))
                    failf(sc, "conn %d %s never opened", c->id, who);
                continue;
            }
            if (sd->victim) {
                if (sd->err != ECONNRESET && sd->err != EPIPE)
                    failf(sc, "conn %d %s: the peer aborted but it ended with %s", c->id, who,
                          sd->err ? strerror(sd->err) : "no error");
                if (sd->recvd > pe->sent)
                    failf(sc, "conn %d %s: received %" PRIu64 " > %" PRIu64 " sent", c->id, who,
                          sd->recvd, pe->sent);
                continue;
            }
            if (sd->aborter)
                continue;
            if (!sd->eof || sd->recvd != sd->to_recv || sd->rx_hash != pe->tx_hash ||
                sd->sent != sd->to_send)
                failf(sc, "conn %d %s: orderly end wrong: eof %d recvd %" PRIu64 "/%" PRIu64
                          " sent %" PRIu64 "/%" PRIu64 " hash %s",
                      c->id, who, sd->eof, sd->recvd, sd->to_recv, sd->sent, sd->to_send,
                      sd->rx_hash == pe->tx_hash ? "ok" : "MISMATCH");
        }
    }
}

/* Close the listeners, then let TIME_WAIT and every retransmission run
 * out; nothing may be left. */
static void check_leaks(struct scenario *sc)
{
    for (int li = 0; li < sc->nls; li++)
        if (sc->ls[li].fd >= 0) {
            ns_close(sc->hosts[sc->ls[li].host], sc->ls[li].fd);
            sc->ls[li].fd = -1;
        }
    ns_sim_run_for(sc->sim, 2 * MSL_US + 500000);
    uint64_t limit = now_us(sc) + 200ull * 1000000u;
    for (;;) {
        uint32_t left = 0;
        for (int h = 0; h < sc->nstacks; h++)
            left += tcp_conn_count(sc->hosts[h]) + tcp_listen_count(sc->hosts[h]);
        if (left == 0 || now_us(sc) >= limit)
            break;
        ns_sim_run_for(sc->sim, 1000000);
    }
    ns_sim_run_for(sc->sim, 5000000);
    for (int h = 0; h < sc->nstacks && !sc->failed; h++) {
        struct ns_stack *st = sc->hosts[h];
        int socks = ns_sock_list(st, NULL, 0);
        if (socks)
            failf(sc, "%s: %d sockets left open", ns_stack_name(st), socks);
        if (tcp_conn_count(st) || tcp_listen_count(st)) {
            char d[256] = "";
            size_t off = 0;
            for (uint32_t b = 0; b <= st->tcp->conn_mask && off + 64 < sizeof(d); b++)
                for (struct tcpcb *tp = st->tcp->conn[b]; tp && off + 64 < sizeof(d); tp = tp->hnext)
                    off += (size_t)snprintf(d + off, sizeof(d) - off, " %u>%u:%s", tp->sock.flow.lport,
                                            tp->sock.flow.rport, tcp_state_names[tp->state]);
            failf(sc, "%s: %u connections and %u listeners left 200 s after the close:%s",
                  ns_stack_name(st), tcp_conn_count(st), tcp_listen_count(st), d);
        }
        struct ns_pbuf_pool_stats ps;
        ns_stack_pbuf_stats(st, &ps);
        if (ps.pool_free != ps.pool_total || ps.heap_bytes != 0)
            failf(sc, "%s: pbufs leaked: pool %u/%u free, heap %" PRIu64 " bytes", ns_stack_name(st),
                  ps.pool_free, ps.pool_total, ps.heap_bytes);
    }
}

/* The application reacts within this long of an event: events closer
 * together than this are processed in one batch before the next pass
 * (a pass after every single event costs more than the stack itself). */
#define APP_LATENCY_US 500u

/* Advance to the next event (or to `limit` when there is none before it),
 * then through every event in the next APP_LATENCY_US. */
static void sim_advance(struct scenario *sc, uint64_t limit)
{
    if (!ns_sim_step(sc->sim, limit)) {
        ns_sim_run_until(sc->sim, limit);
        return;
    }
    uint64_t until = now_us(sc) + APP_LATENCY_US;
    if (until > limit)
        until = limit;
    while (ns_sim_step(sc->sim, until))
        ;
}

struct run_stats {
    uint64_t vtime_us;
    uint64_t bytes;
    uint64_t retrans;
};

/* Every few seconds of wall-clock time: which seed runs, what it is, how
 * far it got, and the command that replays it alone. */
static void progress(const struct scenario *sc, uint64_t t0)
{
    if (!ns_test_progress_due())
        return;
    int done = 0;
    for (int i = 0; i < sc->ncs; i++)
        done += conn_finished(&sc->cs[i]);
    fprintf(stderr,
            "test_sim_tcp: seed %" PRIu64 " (topology %d, %d hosts, %d listeners, %d connections): "
            "%d finished, %.1f s of virtual time; replay: NETSOCK_SEED=%" PRIu64 " %s\n",
            sc->seed, sc->topo, sc->nhosts, sc->nls, sc->ncs, done,
            (double)(now_us(sc) - t0) / 1e6, sc->seed, ns_test_argv0());
}

static bool run_scenario(uint64_t seed, const char *pcap_dir, char *why, size_t why_cap,
                         struct run_stats *rs)
{
    struct scenario *sc = calloc(1, sizeof(*sc));
    assert_non_null(sc);
    sc->seed = seed;
    sc->rng.s = seed * 0x2545f4914f6cdd1dull + 12345;
    sc->pcap_dir = pcap_dir;
    sc->sim = ns_sim_new(seed);
    assert_non_null(sc->sim);
    build_topology(sc);
    make_listeners(sc);
    make_conns(sc);

    uint64_t t0 = now_us(sc);
    uint64_t limit = t0 + SCENARIO_LIMIT_US;
    for (int i = 0; i < sc->ncs; i++)
        sc->cs[i].start_us += t0;
    while (!sc->failed && !all_finished(sc)) {
        progress(sc, t0);
        if (app_pass(sc))
            continue;
        if (now_us(sc) >= limit)
            break;
        uint64_t wake = app_wake(sc);
        if (wake > limit)
            wake = limit;
        sim_advance(sc, wake);
    }
    /* A little more, so late accepts of aborted connections are seen. */
    if (!sc->failed && all_finished(sc)) {
        uint64_t until = now_us(sc) + 3000000;
        while (!sc->failed && now_us(sc) < until) {
            progress(sc, t0);
            if (app_pass(sc))
                continue;
            sim_advance(sc, until);
        }
        while (!sc->failed && !all_finished(sc) && now_us(sc) < limit) {
            progress(sc, t0);
            if (app_pass(sc))
                continue;
            uint64_t wake = app_wake(sc);
            if (wake > limit)
                wake = limit;
            sim_advance(sc, wake);
        }
    }
    if (!sc->failed && !all_finished(sc)) {
        char d[700];
        d[0] = 0;
        describe_unfinished(sc, d, sizeof(d));
        failf(sc, "connections unfinished after %" PRIu64 " s of virtual time:%s",
              (uint64_t)(SCENARIO_LIMIT_US / 1000000u), d);
    }
    rs->vtime_us = now_us(sc) - t0;
    if (!sc->failed)
        check_ends(sc);
    if (!sc->failed) {
        /* Everything the application holds is closed by now. */
        for (int i = 0; i < sc->ncs; i++) {
            side_close(sc, &sc->cs[i].c);
            side_close(sc, &sc->cs[i].s);
        }
        check_leaks(sc);
    }
    rs->bytes = 0;
    for (int i = 0; i < sc->ncs; i++)
        rs->bytes += sc->cs[i].c.sent + sc->cs[i].s.sent;
    rs->retrans = 0;
    for (int h = 0; h < sc->nstacks; h++)
        rs->retrans += ns_stack_counter(sc->hosts[h], NS_CTR_tcp_retrans_segs);
    bool ok = !sc->failed;
    if (!ok) {
        char pools[256] = "";
        size_t off = 0;
        for (int h = 0; h < sc->nstacks && off < sizeof(pools); h++) {
            struct ns_pbuf_pool_stats ps;
            ns_stack_pbuf_stats(sc->hosts[h], &ps);
            off += (size_t)snprintf(pools + off, sizeof(pools) - off, " %s %u/%u (fail %" PRIu64 ")",
                                    ns_stack_name(sc->hosts[h]), ps.pool_free, ps.pool_total,
                                    ps.alloc_fail);
        }
        if (getenv("NETSOCK_VERBOSE")) {
            for (int h = 0; h < sc->nstacks; h++)
                for (int k = 0; k < NS_CTR__COUNT; k++) {
                    uint64_t v = ns_stack_counter(sc->hosts[h], (enum ns_counter)k);
                    if (v && strstr(ns_counter_name((enum ns_counter)k), "drop"))
                        fprintf(stderr, "  %s %s %" PRIu64 "\n", ns_stack_name(sc->hosts[h]),
                                ns_counter_name((enum ns_counter)k), v);
                }
        }
        snprintf(why, why_cap,
                 "%s\n  topology %d, %d hosts (window scaling 0x%x, timestamps 0x%x), %d listeners, "
                 "%d conns\n  links: %s\n  free pbufs:%s",
                 sc->why, sc->topo, sc->nhosts, sc->ws_mask, sc->ts_mask, sc->nls, sc->ncs,
                 sc->params_desc, pools);
    }
    if (getenv("NETSOCK_VERBOSE"))
        fprintf(stderr,
                "seed %" PRIu64 ": topo %d hosts %d ws 0x%x ts 0x%x conns %d bytes %" PRIu64
                " retrans %" PRIu64 " vtime %.1f s %s\n",
                seed, sc->topo, sc->nhosts, sc->ws_mask, sc->ts_mask, sc->ncs, rs->bytes, rs->retrans,
                (double)rs->vtime_us / 1e6, ok ? "ok" : "FAIL");
    ns_sim_free(sc->sim);
    free(sc);
    return ok;
}

#ifndef SIM_TCP_SEEDS
#define SIM_TCP_SEEDS 200
#endif

/* The seeds of this run: --seeds A-B (main), else 1..SIM_TCP_SEEDS. */
static uint64_t g_first = 1, g_count = SIM_TCP_SEEDS;

static void test_tcp_random_scenarios(void **state)
{
    (void)state;
    const char *one = getenv("NETSOCK_SEED");
    const char *many = getenv("NETSOCK_SEEDS");
    uint64_t first = g_first, count = g_count;
    if (one && *one) {
        first = ns_test_seed(1);
        count = 1;
    } else if (many && *many) {
        first = 1;
        count = strtoull(many, NULL, 0);
        const char *from = getenv("NETSOCK_SEED_FIRST");
        if (from && *from)
            first = strtoull(from, NULL, 0);
    }
    fprintf(stderr, "test_sim_tcp: seeds %" PRIu64 "..%" PRIu64 "\n", first, first + count - 1);
    uint64_t bytes = 0, retrans = 0, failures = 0;
    for (uint64_t seed = first; seed < first + count; seed++) {
        char why[2048];
        struct run_stats rs;
        if (run_scenario(seed, NULL, why, sizeof(why), &rs)) {
            bytes += rs.bytes;
            retrans += rs.retrans;
            continue;
        }
        ns_test_seed(seed); /* registers the seed for the hint */
        fprintf(stderr, "test_sim_tcp: seed %" PRIu64 " failed: %s\n", seed, why);
        ns_test_fail_hint();
        char dir[128];
        snprintf(dir, sizeof(dir), "/tmp/netsock-fail-%" PRIu64, seed);
        mkdir(dir, 0755);
        char why2[2048];
        struct run_stats rs2;
        bool again = !run_scenario(seed, dir, why2, sizeof(why2), &rs2);
        /* Capturing must not change the run (determinism): say so if it did. */
        fprintf(stderr, "  pcaps of the replay: %s/ (%s)\n", dir,
                again && !strcmp(why, why2) ? "same failure" : "REPLAY DIFFERED");
        failures++;
        if (!getenv("NETSOCK_KEEP_GOING"))
            fail_msg("seed %" PRIu64 ": %s", seed, why);
    }
    fprintf(stderr, "test_sim_tcp: %" PRIu64 " seeds, %" PRIu64 " failed, %" PRIu64
                    " bytes delivered, %" PRIu64 " segments retransmitted\n",
            count, failures, bytes, retrans);
    NS_ASSERT_SEED(failures == 0);
}

int main(int argc, char **argv)
{
    ns_test_set_argv0(argv[0]);
    if (argc == 3 && !strcmp(argv[1], "--seeds")) {
        char *end;
        uint64_t a = strtoull(argv[2], &end, 10), b = a;
        if (*end == '-')
            b = strtoull(end + 1, &end, 10);
        if (*end || a == 0 || b < a) {
            fprintf(stderr, "usage: %s [--seeds FIRST-LAST]\n", argv[0]);
            return 2;
        }
        g_first = a;
        g_count = b - a + 1;
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--seeds FIRST-LAST]\n", argv[0]);
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_random_scenarios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
