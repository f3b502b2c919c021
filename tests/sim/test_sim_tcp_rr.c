/* tests/sim/test_sim_tcp_rr.c — small-message request/response without
 * stalls, in virtual time.
 *
 * Topology: client alice 192.0.2.10 ─link─ server bob 192.0.2.20, one-way
 * delay D = 1 ms (RTT 2 ms) or 0, no rate limit and no loss, so a
 * transaction that nothing holds back takes exactly one RTT. Default
 * socket options unless a case says otherwise: Nagle on, delayed ACKs
 * (cfg.tcp_delack_us = 40 ms, Linux's TCP_DELACK_MIN). The applications
 * act the moment the stack has something for them (after every
 * ns_sim_step), so every latency below is the stack's own.
 *
 * A transaction: the client writes a request (one or two send() calls, or
 * `pipeline` requests back to back) and reads until it has every response;
 * the server reads until it has whole requests and answers each. Latency =
 * virtual time from the client's first write to its last byte read. For
 * each pattern a user hits we assert the bound Linux gives:
 *
 *   - single write then read (1 and 64 bytes, 1000 times): <= RTT + EPS,
 *     never a 40 ms delayed-ACK or 200 ms RTO stall; and the stack sends 2
 *     segments per transaction (request with the ACK of the previous
 *     response piggybacked, response with the ACK of the request), no
 *     delayed ACK fires;
 *   - request in two send() calls (write-write-read) with TCP_NODELAY:
 *     <= RTT + EPS, 3 segments per transaction;
 *   - write-write-read with Nagle on: the second write waits for the ACK of
 *     the first (RFC 896), which the server delays (RFC 1122 §4.2.3.2)
 *     because it has nothing to answer yet. Linux stalls exactly so (for
 *     its delayed-ACK timeout, 40 ms minimum); we assert every transaction
 *     takes between 40 ms and 40 ms + 2 RTT + EPS: bounded by the delayed
 *     ACK, never by a 200 ms timer. (Linux starts a connection in
 *     "quickack" mode, so its first few transactions do not stall;
 *     netsock has no quickack mode and stalls from the first.)
 *   - a response larger than one MSS (2000 bytes) followed by the next
 *     request: <= RTT + EPS (the sub-MSS tail is not held by Nagle:
 *     Minshall's rule), 3 segments per transaction;
 *   - pipelined requests (8 x 64 bytes in 8 send() calls, the server
 *     answering everything it has read in one send()): with Nagle the
 *     first request goes at once and the other 7 wait for its ACK, which
 *     comes with the first response: <= 2 RTT + EPS, 4 segments per batch;
 *     with TCP_NODELAY <= RTT + EPS. If the server writes each response
 *     with its own send(), Nagle holds responses 3-8 until the client
 *     ACKs response 2, which it delays: between 40 ms and 40 ms + 3 RTT,
 *     as on Linux (batch the responses, or TCP_NODELAY on the server);
 *   - TCP_CORK, a request in two writes, uncork: the request leaves as one
 *     segment at the uncork, <= RTT + EPS, 2 segments per transaction;
 *   - TCP_QUICKACK set by the server after each read (the Linux idiom),
 *     write-write-read with Nagle on: the server ACKs the first write at
 *     once, so <= 2 RTT + EPS from the first transaction on, no delayed
 *     ACK; TCP_QUICKACK set once: not permanent on Linux, so plain
 *     request/response still piggybacks its ACKs (2 segments);
 *   - TCP_CORK never cleared: tcp(7) "there is a 200 millisecond ceiling
 *     on the time for which output is corked" — Linux sends the corked
 *     data when its probe timer (max(RTO, 200 ms)) fires with nothing in
 *     flight. See test_rr_cork_ceiling.
 *
 * Replay a failure: NETSOCK_SEED=<seed> build-test/tests/test_sim_tcp_rr;
 * NETSOCK_VERBOSE=1 prints a line per case.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "testutil.h"

#define PORT 7100
#define SEC 1000000ull
#define MS 1000ull
#define DELACK_US (40 * MS) /* cfg.tcp_delack_us default, Linux TCP_DELACK_MIN */
/* Slack on top of the RTT: the simulated link adds nothing, so a
 * transaction nothing holds back takes exactly the RTT; 100 us is far
 * below any timer the stack has and catches every stall. */
#define EPS_US 100u
#define MAX_PIPELINE 8
#define MAX_MSG 2048

struct rr_case {
    const char *name;
    uint64_t delay_us;     /* one-way */
    uint32_t req_len, resp_len;
    int req_writes;        /* the request is written in this many send() calls */
    int pipeline;          /* requests per batch (1: strict request/response) */
    int batches;           /* transactions (batches) measured */
    bool client_nodelay;   /* TCP_NODELAY on the client */
    bool client_cork;      /* TCP_CORK around the request's writes */
    bool server_quickack;  /* TCP_QUICKACK = 1 after each server read */
    bool server_quickack_once; /* TCP_QUICKACK = 1 once, before the first transaction */
    bool server_each;      /* one send() per response (else one per read batch) */
};

struct rr_result {
    uint64_t min_us, max_us, sum_us;
    int max_at;            /* batch with the largest latency */
    int done;              /* batches completed */
    uint64_t segs;         /* tcp_tx_segs, both hosts, over the batches */
    uint64_t client_segs, server_segs;
    uint64_t client_delacks, server_delacks;
    bool stuck;            /* nothing pending anywhere and the batch not done */
    bool bad_data;
};

struct rr_net {
    struct ns_sim *sim;
    struct ns_stack *alice, *bob;
    int lfd, cfd, sfd;
};

static uint64_t now(const struct rr_net *n) { return ns_sim_now(n->sim); }

static void set_int(struct ns_stack *st, int fd, int level, int name, int v)
{
    assert_int_equal(ns_setsockopt(st, fd, level, name, &v, sizeof(v)), 0);
}

static void net_up(struct rr_net *n, uint64_t seed, uint64_t delay_us)
{
    memset(n, 0, sizeof(*n));
    n->sim = ns_sim_new(seed);
    assert_non_null(n->sim);
    n->alice = ns_sim_add_host(n->sim, "alice", NULL);
    n->bob = ns_sim_add_host(n->sim, "bob", NULL);
    assert_non_null(n->alice);
    assert_non_null(n->bob);
    struct ns_link_params lp;
    ns_link_params_default(&lp);
    lp.delay_us = delay_us;
    int ai, bi;
    assert_non_null(ns_sim_connect(n->sim, n->alice, n->bob, &lp, &ai, &bi));
    struct in_addr a = {htonl(0xc000020au)}, b = {htonl(0xc0000214u)};
    assert_int_equal(ns_if_addr_add(n->alice, ai, AF_INET, &a, 24), 0);
    assert_int_equal(ns_if_addr_add(n->bob, bi, AF_INET, &b, 24), 0);
    ns_sim_run_for(n->sim, 100 * MS);

    n->lfd = ns_socket(n->bob, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(n->lfd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    assert_int_equal(ns_bind(n->bob, n->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(ns_listen(n->bob, n->lfd, 4), 0);
    n->cfd = ns_socket(n->alice, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(n->cfd >= 0);
    sin.sin_addr = b;
    int rc = ns_connect(n->alice, n->cfd, (struct sockaddr *)&sin, sizeof(sin));
    NS_ASSERT_SEED(rc == 0 || errno == EINPROGRESS);
    n->sfd = -1;
    uint64_t limit = now(n) + 5 * SEC;
    while (n->sfd < 0 && now(n) < limit) {
        if (!ns_sim_step(n->sim, limit))
            ns_sim_run_until(n->sim, limit);
        n->sfd = ns_accept4(n->bob, n->lfd, NULL, NULL, SOCK_NONBLOCK);
    }
    NS_ASSERT_SEED(n->sfd >= 0);
    /* Let the handshake's last ACK and any delayed ACK settle. */
    ns_sim_run_for(n->sim, 200 * MS);
}

static void net_down(struct rr_net *n)
{
    ns_close(n->alice, n->cfd);
    ns_close(n->bob, n->sfd);
    ns_close(n->bob, n->lfd);
    ns_sim_free(n->sim);
}

/* Message bytes: request i byte j, response i byte j. */
static uint8_t req_byte(uint64_t i, uint32_t j) { return (uint8_t)(i * 7 + j * 13 + 1); }
static uint8_t resp_byte(uint64_t i, uint32_t j) { return (uint8_t)(i * 11 + j * 3 + 5); }

/* Server side of the run: bytes read, responses owed and written. */
struct server {
    uint64_t rx;          /* request bytes read */
    uint64_t answered;    /* requests answered */
    uint8_t out[MAX_PIPELINE * MAX_MSG];
    uint32_t out_len, out_off; /* response bytes not yet accepted by send() */
    uint64_t tx_base;     /* index of the first request whose response is in out */
};

/* Read what the server has, queue a response for every whole request, and
 * write as much as the socket takes. Returns true if anything happened. */
static bool server_act(struct rr_net *n, const struct rr_case *c, struct server *sv,
                       struct rr_result *r)
{
    bool progress = false;
    uint8_t buf[MAX_PIPELINE * MAX_MSG];
    for (;;) {
        ssize_t got = ns_recv(n->bob, n->sfd, buf, sizeof(buf), 0);
        if (got <= 0)
            break;
        for (ssize_t k = 0; k < got; k++) {
            uint64_t off = sv->rx + (uint64_t)k;
            if (buf[k] != req_byte(off / c->req_len, (uint32_t)(off % c->req_len)))
                r->bad_data = true;
        }
        sv->rx += (uint64_t)got;
        progress = true;
        if (c->server_quickack)
            set_int(n->bob, n->sfd, IPPROTO_TCP, TCP_QUICKACK, 1);
    }
    uint64_t whole = sv->rx / c->req_len;
    while (sv->answered < whole) {
        /* Queue the responses owed: all of them (one send), or one. */
        if (sv->out_off == sv->out_len) {
            sv->out_len = sv->out_off = 0;
            uint64_t upto = c->server_each ? sv->answered + 1 : whole;
            for (uint64_t i = sv->answered; i < upto; i++)
                for (uint32_t j = 0; j < c->resp_len; j++)
                    sv->out[sv->out_len++] = resp_byte(i, j);
            sv->tx_base = upto;
        }
        ssize_t w = ns_send(n->bob, n->sfd, sv->out + sv->out_off, sv->out_len - sv->out_off, 0);
        if (w <= 0)
            break;
        sv->out_off += (uint32_t)w;
        progress = true;
        if (sv->out_off == sv->out_len)
            sv->answered = sv->tx_base;
    }
    return progress;
}

/* Run the case; fills *r. */
static void rr_run(const struct rr_case *c, uint64_t seed, struct rr_result *r)
{
    memset(r, 0, sizeof(*r));
    r->min_us = UINT64_MAX;
    struct rr_net n;
    net_up(&n, seed, c->delay_us);
    if (c->client_nodelay)
        set_int(n.alice, n.cfd, IPPROTO_TCP, TCP_NODELAY, 1);
    if (c->server_quickack_once)
        set_int(n.bob, n.sfd, IPPROTO_TCP, TCP_QUICKACK, 1);

    struct server sv = {0};
    uint64_t c_rx = 0; /* response bytes the client read */
    uint64_t seg0_c = ns_stack_counter(n.alice, NS_CTR_tcp_tx_segs);
    uint64_t seg0_s = ns_stack_counter(n.bob, NS_CTR_tcp_tx_segs);
    uint64_t da0_c = ns_stack_counter(n.alice, NS_CTR_tcp_delayed_acks);
    uint64_t da0_s = ns_stack_counter(n.bob, NS_CTR_tcp_delayed_acks);
    uint8_t buf[MAX_PIPELINE * MAX_MSG];

    for (int b = 0; b < c->batches && !r->stuck; b++) {
        uint64_t t0 = now(&n);
        uint64_t first = (uint64_t)b * (uint64_t)c->pipeline;
        /* The client writes the batch's requests. */
        for (int k = 0; k < c->pipeline; k++) {
            uint64_t i = first + (uint64_t)k;
            uint8_t req[MAX_MSG];
            for (uint32_t j = 0; j < c->req_len; j++)
                req[j] = req_byte(i, j);
            if (c->client_cork)
                set_int(n.alice, n.cfd, IPPROTO_TCP, TCP_CORK, 1);
            uint32_t part = c->req_writes > 1 ? c->req_len / 2 : c->req_len;
            ssize_t w1 = ns_send(n.alice, n.cfd, req, part, 0);
            NS_ASSERT_SEED(w1 == (ssize_t)part);
            if (part < c->req_len) {
                ssize_t w2 = ns_send(n.alice, n.cfd, req + part, c->req_len - part, 0);
                NS_ASSERT_SEED(w2 == (ssize_t)(c->req_len - part));
            }
            if (c->client_cork)
                set_int(n.alice, n.cfd, IPPROTO_TCP, TCP_CORK, 0);
        }
        /* Both sides act on everything the stacks have for them, and time
         * moves on only when neither has anything to do. */
        uint64_t want = (first + (uint64_t)c->pipeline) * c->resp_len;
        uint64_t limit = t0 + 2 * SEC;
        while (c_rx < want) {
            bool progress = server_act(&n, c, &sv, r);
            for (;;) {
                ssize_t got = ns_recv(n.alice, n.cfd, buf, sizeof(buf), 0);
                if (got <= 0)
                    break;
                for (ssize_t k = 0; k < got; k++) {
                    uint64_t off = c_rx + (uint64_t)k;
                    if (buf[k] != resp_byte(off / c->resp_len, (uint32_t)(off % c->resp_len)))
                        r->bad_data = true;
                }
                c_rx += (uint64_t)got;
                progress = true;
            }
            if (progress || c_rx >= want)
                continue;
            if (!ns_sim_step(n.sim, limit)) {
                r->stuck = true; /* nothing pending before the limit: hung */
                break;
            }
        }
        if (r->stuck)
            break;
        uint64_t lat = now(&n) - t0;
        if (lat > r->max_us) {
            r->max_us = lat;
            r->max_at = b;
        }
        if (lat < r->min_us)
            r->min_us = lat;
        r->sum_us += lat;
        r->done++;
    }
    r->client_segs = ns_stack_counter(n.alice, NS_CTR_tcp_tx_segs) - seg0_c;
    r->server_segs = ns_stack_counter(n.bob, NS_CTR_tcp_tx_segs) - seg0_s;
    r->segs = r->client_segs + r->server_segs;
    r->client_delacks = ns_stack_counter(n.alice, NS_CTR_tcp_delayed_acks) - da0_c;
    r->server_delacks = ns_stack_counter(n.bob, NS_CTR_tcp_delayed_acks) - da0_s;
    net_down(&n);
}

static void rr_print(const struct rr_case *c, const struct rr_result *r)
{
    fprintf(stderr,
            "  %-38s D=%4" PRIu64 "us: %4d/%-4d lat min %7.3f mean %7.3f max %7.3f ms (batch %d); "
            "segs/txn %.2f (client %.2f server %.2f); delacks %" PRIu64 "+%" PRIu64 "%s\n",
            c->name, c->delay_us, r->done, c->batches,
            r->min_us == UINT64_MAX ? 0 : r->min_us / 1e3,
            r->done ? (double)r->sum_us / r->done / 1e3 : 0.0, r->max_us / 1e3, r->max_at,
            r->done ? (double)r->segs / r->done : 0.0,
            r->done ? (double)r->client_segs / r->done : 0.0,
            r->done ? (double)r->server_segs / r->done : 0.0, r->client_delacks, r->server_delacks,
            r->stuck ? " STUCK" : "");
}

/* Run `c` and check: every batch done, data intact, latency within
 * [lo_us, hi_us], at most `segs_per` segments per batch (+ `segs_extra`),
 * and (when delacks_max >= 0) at most that many delayed ACKs fired.
 * Returns whether all of it held (printing what did not). */
static bool rr_eval(const struct rr_case *c, uint64_t lo_us, uint64_t hi_us, double segs_per,
                    uint64_t segs_extra, int64_t delacks_max)
{
    uint64_t seed = ns_test_seed(7);
    struct rr_result r;
    rr_run(c, seed, &r);
    rr_print(c, &r);
    bool ok = !r.stuck && !r.bad_data && r.done == c->batches && r.min_us >= lo_us &&
              r.max_us <= hi_us &&
              (double)r.segs <= segs_per * c->batches + (double)segs_extra &&
              (delacks_max < 0 || r.client_delacks + r.server_delacks <= (uint64_t)delacks_max);
    if (!ok)
        fprintf(stderr,
                "  FAIL %s (D=%" PRIu64 " us): want latency in [%.3f, %.3f] ms, <= %.1f segments "
                "per transaction%s, got [%.3f, %.3f] ms (worst: transaction %d), %" PRIu64
                " segments over %d, %" PRIu64 " delayed ACKs%s%s\n",
                c->name, c->delay_us, lo_us / 1e3, hi_us / 1e3, segs_per,
                delacks_max >= 0 ? ", no delayed ACK" : "",
                r.min_us == UINT64_MAX ? 0 : r.min_us / 1e3, r.max_us / 1e3, r.max_at, r.segs,
                r.done, r.client_delacks + r.server_delacks, r.stuck ? ", STUCK" : "",
                r.bad_data ? ", BAD DATA" : "");
    return ok;
}

static void rr_check(const struct rr_case *c, uint64_t lo_us, uint64_t hi_us, double segs_per,
                     uint64_t segs_extra, int64_t delacks_max)
{
    NS_ASSERT_SEED(rr_eval(c, lo_us, hi_us, segs_per, segs_extra, delacks_max));
}


static const uint64_t delays[] = {1000, 0};
#define RTT(d) (2 * (d))

/* Single write, then read: never a stall, two segments per transaction. */
static void test_rr_single_write(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {1, 64};
    for (size_t d = 0; d < 2; d++)
        for (size_t s = 0; s < 2; s++) {
            const char *name = sizes[s] == 1 ? "single write 1B/1B" : "single write 64B/64B";
            struct rr_case c = {.name = name,
                                .delay_us = delays[d], .req_len = sizes[s], .resp_len = sizes[s],
                                .req_writes = 1, .pipeline = 1, .batches = 1000};
            rr_check(&c, 0, RTT(delays[d]) + EPS_US, 2.0, 0, 0);
        }
}

/* Request in two writes, TCP_NODELAY: both segments go at once. */
static void test_rr_write_write_nodelay(void **state)
{
    (void)state;
    for (size_t d = 0; d < 2; d++) {
        struct rr_case c = {.name = "write-write-read, TCP_NODELAY", .delay_us = delays[d],
                            .req_len = 64, .resp_len = 64, .req_writes = 2, .pipeline = 1,
                            .batches = 1000, .client_nodelay = true};
        rr_check(&c, 0, RTT(delays[d]) + EPS_US, 3.0, 0, 0);
    }
}

/* Request in two writes, Nagle on: the stall Linux has too, bounded by the
 * server's delayed ACK. Per transaction: first half (1), delayed ACK (1),
 * second half (1), response (1). */
static void test_rr_write_write_nagle(void **state)
{
    (void)state;
    for (size_t d = 0; d < 2; d++) {
        struct rr_case c = {.name = "write-write-read, Nagle", .delay_us = delays[d],
                            .req_len = 64, .resp_len = 64, .req_writes = 2, .pipeline = 1,
                            .batches = 100};
        rr_check(&c, DELACK_US, DELACK_US + 2 * RTT(delays[d]) + EPS_US, 4.0, 0, -1);
    }
}

/* A response of more than one MSS, then the next request. */
static void test_rr_large_response(void **state)
{
    (void)state;
    for (size_t d = 0; d < 2; d++) {
        struct rr_case c = {.name = "64B request, 2000B response", .delay_us = delays[d],
                            .req_len = 64, .resp_len = 2000, .req_writes = 1, .pipeline = 1,
                            .batches = 1000};
        rr_check(&c, 0, RTT(delays[d]) + EPS_US, 3.0, 0, 0);
    }
}

/* Eight requests in eight writes, then eight responses. */
static void test_rr_pipelined(void **state)
{
    (void)state;
    for (size_t d = 0; d < 2; d++) {
        struct rr_case c = {.name = "pipelined 8x64B, Nagle", .delay_us = delays[d],
                            .req_len = 64, .resp_len = 64, .req_writes = 1,
                            .pipeline = MAX_PIPELINE, .batches = 200};
        /* req 1 | resp 1 (+ACK) | reqs 2-8 coalesced | resps 2-8 */
        rr_check(&c, 0, 2 * RTT(delays[d]) + EPS_US, 4.0, 0, 0);
        struct rr_case nd = c;
        nd.name = "pipelined 8x64B, TCP_NODELAY";
        nd.client_nodelay = true;
        /* 8 request segments, the responses in one or two */
        rr_check(&nd, 0, RTT(delays[d]) + EPS_US, 10.0, 0, 0);
        /* The server writes each response with its own send(): response 2
         * goes (response 1 is acknowledged), 3-8 wait for its ACK, which
         * the client delays since it has nothing to send: the Nagle /
         * delayed-ACK stall again, on the server side, as on Linux. */
        struct rr_case each = c;
        each.name = "pipelined 8x64B, server send()s each";
        each.server_each = true;
        each.batches = 50;
        rr_check(&each, DELACK_US, DELACK_US + 3 * RTT(delays[d]) + EPS_US, 6.0, 0, -1);
    }
}

/* TCP_CORK around a request written in two pieces: one segment at the
 * uncork. */
static void test_rr_cork(void **state)
{
    (void)state;
    for (size_t d = 0; d < 2; d++) {
        struct rr_case c = {.name = "TCP_CORK, 2 writes, uncork", .delay_us = delays[d],
                            .req_len = 64, .resp_len = 64, .req_writes = 2, .pipeline = 1,
                            .batches = 1000, .client_cork = true};
        rr_check(&c, 0, RTT(delays[d]) + EPS_US, 2.0, 0, 0);
    }
}

/* TCP_QUICKACK on the server after each read (the Linux idiom against
 * the write-write-read stall): setting it sends the ACK the stack was
 * delaying (Linux __tcp_sock_set_quickack -> tcp_cleanup_rbuf), so the
 * first half is acknowledged at once: 2 RTT per transaction from the very
 * first, no delayed ACK, and 5 segments (half, ACK, half, the ACK the
 * option flushes after the whole request is read, response: Linux sends
 * the same 5). */
static void test_rr_quickack(void **state)
{
    (void)state;
    bool ok = true;
    for (size_t d = 0; d < 2; d++) {
        struct rr_case c = {.name = "write-write-read, QUICKACK each read",
                            .delay_us = delays[d], .req_len = 64, .resp_len = 64,
                            .req_writes = 2, .pipeline = 1, .batches = 1000,
                            .server_quickack = true};
        ok &= rr_eval(&c, 0, 2 * RTT(delays[d]) + EPS_US, 5.0, 0, 0);
    }
    NS_ASSERT_SEED(ok);
}

/* TCP_QUICKACK set once. tcp(7): "This flag is not permanent, it only
 * enables a switch to or from quickack mode. Subsequent operation of the
 * TCP protocol will once again enter/leave quickack mode depending on
 * internal protocol processing": on Linux a request/response exchange
 * goes back to piggybacking its ACKs, 2 segments per transaction. */
static void test_rr_quickack_once(void **state)
{
    (void)state;
    bool ok = true;
    for (size_t d = 0; d < 2; d++) {
        struct rr_case c = {.name = "single write, QUICKACK set once", .delay_us = delays[d],
                            .req_len = 64, .resp_len = 64, .req_writes = 1, .pipeline = 1,
                            .batches = 1000, .server_quickack_once = true};
        /* + 16: Linux's own quickack mode at the start of a connection
         * (TCP_MAX_QUICKACKS) may ACK the first requests at once. */
        ok &= rr_eval(&c, 0, RTT(delays[d]) + EPS_US, 2.0, 16, 0);
    }
    NS_ASSERT_SEED(ok);
}

/* TCP_CORK set and never cleared. tcp(7): "there is a 200 millisecond
 * ceiling on the time for which output is corked by TCP_CORK. If this
 * ceiling is reached, then queued data is automatically transmitted."
 * (Linux: with nothing in flight, pushing arms the zero-window probe timer,
 * max(RTO, 200 ms); when it fires, tcp_write_wakeup sends the data
 * regardless of the cork.) The server must see the request within
 * 200 ms + RTT + a margin for an RTO above 200 ms, and no earlier than
 * 200 ms (the cork holds). */
static void test_rr_cork_ceiling(void **state)
{
    (void)state;
    struct rr_net n;
    net_up(&n, ns_test_seed(8), 1000);
    set_int(n.alice, n.cfd, IPPROTO_TCP, TCP_CORK, 1);
    uint8_t req[64];
    memset(req, 0x5a, sizeof(req));
    uint64_t t0 = now(&n);
    NS_ASSERT_SEED(ns_send(n.alice, n.cfd, req, sizeof(req), 0) == (ssize_t)sizeof(req));
    uint64_t got_at = 0;
    uint64_t limit = t0 + 2 * SEC;
    while (now(&n) < limit) {
        uint8_t buf[128];
        if (ns_recv(n.bob, n.sfd, buf, sizeof(buf), 0) > 0) {
            got_at = now(&n);
            break;
        }
        if (!ns_sim_step(n.sim, limit))
            ns_sim_run_until(n.sim, limit);
    }
    fprintf(stderr, "  corked 64 bytes, never uncorked (D=1 ms): %s %.3f ms\n",
            got_at ? "received after" : "not received in",
            (double)(got_at ? got_at - t0 : limit - t0) / 1e3);
    bool ok = got_at && got_at - t0 >= 200 * MS - EPS_US && got_at - t0 <= 250 * MS;
    net_down(&n);
    NS_ASSERT_SEED(ok);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rr_single_write),
        cmocka_unit_test(test_rr_write_write_nodelay),
        cmocka_unit_test(test_rr_write_write_nagle),
        cmocka_unit_test(test_rr_large_response),
        cmocka_unit_test(test_rr_pipelined),
        cmocka_unit_test(test_rr_cork),
        cmocka_unit_test(test_rr_quickack),
        cmocka_unit_test(test_rr_quickack_once),
        cmocka_unit_test(test_rr_cork_ceiling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
