/* tests/sim/test_sim_tcp_synflood.c — a spoofed SYN flood against a
 * listener while a legitimate client connects and downloads (RFC 4987;
 * docs/tcp.md "SYN floods").
 *
 *   cli 192.0.2.1 ─ 1 ms ─ srv 192.0.2.2 / 198.51.100.2 ─ 1 ms ─ atk 198.51.100.3
 *
 * The attacker writes SYNs with raw sockets (IP_HDRINCL) from sources
 * drawn at random (seeded) from 198.18.0.0/15, 5,000 per second of
 * virtual time for 10 s. The server routes 198.18.0.0/15 to the attacker,
 * which drops the SYN,ACKs (not its addresses): the handshakes never
 * complete. Two seconds in, the client connects and downloads 2 MB; at
 * 6 s a second client connection is made. Checked: both connections
 * open and every byte arrives in order; the syncache never holds more
 * than its bound, the listener's half-open queue never more than
 * 2 * backlog + 16; cookies were sent and at least one validated (the
 * client's); after the flood every entry expires without a RST, and the
 * pools are whole.
 *
 * Replay a failure: NETSOCK_SEED=<seed> build-test/tests/test_sim_tcp_synflood
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "testutil.h"

/* The internals this test checks bounds on. */
#include "base/stack.h"
#include "socket/fdtable.h"
#include "tcp/tcp.h"

#define BACKLOG 128
#define FLOOD_PPS 5000u
#define FLOOD_US 10000000ull
#define DOWNLOAD_BYTES (2u << 20)

struct world {
    struct ns_sim *sim;
    struct ns_stack *cli, *srv, *atk;
    struct sockaddr_in srv_addr;
    uint32_t atk_dst;       /* the server's address on the attacker's link (host order) */
    uint64_t rng;
};

static void add_addr(struct ns_stack *st, int ifx, const char *a, unsigned prefix)
{
    struct in_addr in;
    inet_pton(AF_INET, a, &in);
    NS_ASSERT_SEED(ns_if_addr_add(st, ifx, AF_INET, &in, prefix) == 0);
}

static void world_init(struct world *w)
{
    uint64_t seed = ns_test_seed(14);
    w->sim = ns_sim_new(seed);
    w->rng = seed * 0x9e3779b97f4a7c15ull + 1;
    w->cli = ns_sim_add_host(w->sim, "cli", NULL);
    w->srv = ns_sim_add_host(w->sim, "srv", NULL);
    w->atk = ns_sim_add_host(w->sim, "atk", NULL);
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 1000;
    int ic, is1, is2, ia;
    NS_ASSERT_SEED(ns_sim_connect(w->sim, w->cli, w->srv, &p, &ic, &is1) != NULL);
    NS_ASSERT_SEED(ns_sim_connect(w->sim, w->atk, w->srv, &p, &ia, &is2) != NULL);
    add_addr(w->cli, ic, "192.0.2.1", 24);
    add_addr(w->srv, is1, "192.0.2.2", 24);
    add_addr(w->srv, is2, "198.51.100.2", 24);
    add_addr(w->atk, ia, "198.51.100.3", 24);
    /* The spoofed sources are routed to the attacker, which drops them. */
    struct in_addr net, gw;
    inet_pton(AF_INET, "198.18.0.0", &net);
    inet_pton(AF_INET, "198.51.100.3", &gw);
    NS_ASSERT_SEED(ns_route_add(w->srv, AF_INET, &net, 15, &gw, is2) == 0);
    w->atk_dst = 0xc6336402u; /* 198.51.100.2 */
    struct in_addr sa;
    inet_pton(AF_INET, "192.0.2.2", &sa);
    w->srv_addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(80), .sin_addr = sa};
}

static uint64_t rnd(struct world *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

static void wr16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, v >> 16);
    wr16(p + 2, v);
}

/* One spoofed SYN (IPv4 + TCP with an MSS option) from a random source
 * in 198.18.0.0/15 to the server's port 80, sent by a raw socket. */
static void send_spoofed_syn(struct world *w, int raw)
{
    uint8_t pkt[44] = {0};
    uint64_t r = rnd(w);
    uint32_t src = 0xc6120000u | (uint32_t)(r & 0x1ffff); /* 198.18.0.0/15 */
    pkt[0] = 0x45;
    pkt[8] = 64;
    pkt[9] = IPPROTO_TCP;
    wr32(pkt + 12, src);
    wr32(pkt + 16, w->atk_dst);
    uint8_t *t = pkt + 20;
    wr16(t, 1024 + (uint32_t)((r >> 17) % 60000));
    wr16(t + 2, 80);
    wr32(t + 4, (uint32_t)(r >> 32));
    t[12] = 6 << 4; /* 24 bytes */
    t[13] = 0x02;   /* SYN */
    wr16(t + 14, 65535);
    t[20] = 2;
    t[21] = 4;
    wr16(t + 22, 1460);
    /* RFC 9293 §3.1: the checksum over the pseudo-header and segment. */
    uint32_t sum = (src >> 16) + (src & 0xffff) + (w->atk_dst >> 16) + (w->atk_dst & 0xffff) +
                   IPPROTO_TCP + 24;
    for (int i = 0; i < 24; i += 2)
        sum += (uint32_t)(t[i] << 8 | t[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    wr16(t + 16, ~sum & 0xffff);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(w->atk_dst)};
    ssize_t n = ns_sendto(w->atk, raw, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to));
    NS_ASSERT_SEED(n == (ssize_t)sizeof(pkt));
}

static uint8_t pat(uint32_t i) { return (uint8_t)(i * 31 + (i >> 9)); }

/* The download: server side sends DOWNLOAD_BYTES, client reads them. */
struct xfer {
    int cfd, sfd;
    uint32_t sent, rcvd;
    bool connected;
};

static void xfer_step(struct world *w, int lfd, struct xfer *x)
{
    if (x->cfd < 0)
        return;
    if (x->sfd < 0) {
        x->sfd = ns_accept4(w->srv, lfd, NULL, NULL, SOCK_NONBLOCK);
    }
    uint8_t buf[16384];
    while (x->sfd >= 0 && x->sent < DOWNLOAD_BYTES) {
        uint32_t n = DOWNLOAD_BYTES - x->sent < sizeof(buf) ? DOWNLOAD_BYTES - x->sent : sizeof(buf);
        for (uint32_t i = 0; i < n; i++)
            buf[i] = pat(x->sent + i);
        ssize_t k = ns_send(w->srv, x->sfd, buf, n, 0);
        if (k <= 0) {
            NS_ASSERT_SEED(k < 0 && errno == EAGAIN);
            break;
        }
        x->sent += (uint32_t)k;
    }
    for (;;) {
        ssize_t k = ns_recv(w->cli, x->cfd, buf, sizeof(buf), 0);
        if (k < 0) {
            NS_ASSERT_SEED(errno == EAGAIN || errno == EINPROGRESS || errno == ENOTCONN);
            break;
        }
        NS_ASSERT_SEED(k > 0 || x->rcvd == DOWNLOAD_BYTES);
        if (k == 0)
            break;
        for (ssize_t i = 0; i < k; i++)
            NS_ASSERT_SEED(buf[i] == pat(x->rcvd + (uint32_t)i));
        x->rcvd += (uint32_t)k;
    }
}

static void xfer_start(struct world *w, struct xfer *x)
{
    x->cfd = ns_socket(w->cli, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    NS_ASSERT_SEED(x->cfd >= 0);
    int rc = ns_connect(w->cli, x->cfd, (struct sockaddr *)&w->srv_addr, sizeof(w->srv_addr));
    NS_ASSERT_SEED(rc == -1 && errno == EINPROGRESS);
}

static void test_synflood(void)
{
    struct world w;
    world_init(&w);
    int lfd = ns_socket(w.srv, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(80)};
    NS_ASSERT_SEED(ns_bind(w.srv, lfd, (struct sockaddr *)&any, sizeof(any)) == 0);
    NS_ASSERT_SEED(ns_listen(w.srv, lfd, BACKLOG) == 0);
    int raw = ns_socket(w.atk, AF_INET, SOCK_RAW, IPPROTO_RAW);
    NS_ASSERT_SEED(raw >= 0);

    struct tcp_table *tt = w.srv->tcp;
    struct ns_sock *ls = w.srv->fds->fds[lfd];
    struct tcpcb *l = tcp_sk(ls);
    struct xfer x1 = {.cfd = -1, .sfd = -1}, x2 = {.cfd = -1, .sfd = -1};
    uint32_t max_cache = 0, max_synq = 0;
    uint64_t t0 = ns_sim_now(w.sim);
    const uint32_t per_ms = FLOOD_PPS / 1000;
    for (uint64_t ms = 0; ms < FLOOD_US / 1000; ms++) {
        for (uint32_t i = 0; i < per_ms; i++)
            send_spoofed_syn(&w, raw);
        if (ms == 2000)
            xfer_start(&w, &x1);
        if (ms == 6000)
            xfer_start(&w, &x2);
        ns_sim_run_until(w.sim, t0 + (ms + 1) * 1000);
        xfer_step(&w, lfd, &x1);
        xfer_step(&w, lfd, &x2);
        if (tt->syncache.count > max_cache)
            max_cache = tt->syncache.count;
        if (l->synq_len > max_synq)
            max_synq = l->synq_len;
    }
    /* The client's download finishes after the flood if need be. */
    for (int i = 0; i < 20000 && (x1.rcvd < DOWNLOAD_BYTES || x2.rcvd < DOWNLOAD_BYTES); i++) {
        ns_sim_run_for(w.sim, 1000);
        xfer_step(&w, lfd, &x1);
        xfer_step(&w, lfd, &x2);
    }
    uint64_t sent = ns_stack_counter(w.srv, NS_CTR_tcp_syncookies_sent);
    uint64_t valid = ns_stack_counter(w.srv, NS_CTR_tcp_syncookies_recv);
    printf("flood: %u SYNs, syncache max %u (bound %u), half-open max %u (bound %u), "
           "cookies sent %llu, valid %llu, failed %llu; downloads %u + %u bytes\n",
           (unsigned)(FLOOD_PPS * (FLOOD_US / 1000000)), max_cache, TCP_SYNCACHE_LIMIT, max_synq,
           2 * BACKLOG + 16, (unsigned long long)sent, (unsigned long long)valid,
           (unsigned long long)ns_stack_counter(w.srv, NS_CTR_tcp_syncookies_failed), x1.rcvd, x2.rcvd);
    NS_ASSERT_SEED(x1.rcvd == DOWNLOAD_BYTES);
    NS_ASSERT_SEED(x2.rcvd == DOWNLOAD_BYTES);
    NS_ASSERT_SEED(max_cache <= TCP_SYNCACHE_LIMIT);
    NS_ASSERT_SEED(max_synq <= 2 * BACKLOG + 16);
    NS_ASSERT_SEED(max_synq == 2 * BACKLOG + 16); /* the flood did fill it */
    NS_ASSERT_SEED(sent > 40000);
    NS_ASSERT_SEED(valid >= 2); /* both clients came in on cookies */
    NS_ASSERT_SEED(ns_stack_counter(w.srv, NS_CTR_tcp_syncookies_failed) == 0);

    /* After the flood every entry expires (63 s), silently. */
    uint64_t rst_before = ns_stack_counter(w.srv, NS_CTR_tcp_tx_rst);
    ns_sim_run_for(w.sim, 70ull * 1000000);
    NS_ASSERT_SEED(tt->syncache.count == 0);
    NS_ASSERT_SEED(l->synq_len == 0);
    NS_ASSERT_SEED(ns_stack_counter(w.srv, NS_CTR_tcp_syncache_expired) ==
                   ns_stack_counter(w.srv, NS_CTR_tcp_syncache_added));
    NS_ASSERT_SEED(ns_stack_counter(w.srv, NS_CTR_tcp_tx_rst) == rst_before);
    ns_close(w.cli, x1.cfd);
    ns_close(w.cli, x2.cfd);
    ns_close(w.srv, x1.sfd);
    ns_close(w.srv, x2.sfd);
    ns_close(w.srv, lfd);
    ns_close(w.atk, raw);
    ns_sim_run_for(w.sim, 5000000);
    ns_sim_free(w.sim);
}

int main(int argc, char **argv)
{
    ns_test_set_argv0(argv[0]);
    (void)argc;
    test_synflood();
    printf("ok\n");
    return 0;
}
