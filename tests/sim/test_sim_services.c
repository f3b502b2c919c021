/* tests/sim/test_sim_services.c — the services of `netsock host`
 * (tools/services.c) and its control-socket replies (tools/ctl.c) on the
 * simulator:
 *
 *   cli 192.0.2.10 ─link (1 ms, 100 Mbit/s)─ srv 192.0.2.2
 *
 * srv runs the services exactly as `netsock host` does; cli plays the
 * clients through ordinary socket calls. Both run in this one thread: cli's
 * blocking calls drive a loop that serves srv (services_poll with timeout
 * 0) and steps the simulation (install_client_driver).
 *
 * Checked: TCP echo of 1 MiB of random data comes back identical (also
 * over a lossy link); discard eats; chargen sends the RFC 864 pattern; UDP
 * echo, discard and chargen; HTTP GET / lists the listening sockets; GET
 * /bytes/N matches the documented pattern for N = 0, 1, 1000, 1 MiB; POST
 * /sink returns the length and SHA-256 of 1 MiB (Content-Length and
 * chunked); keep-alive and pipelining; 200 concurrent clients; 400, 404,
 * 405, 413, 431 for bad requests. After each test every connection is
 * closed on both sides, srv has only its listening sockets, and once
 * TIME_WAIT has passed every packet buffer is back in its pool.
 *
 * Replay a failure: NETSOCK_SEED=<seed> build-test/tests/test_sim_services
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "testutil.h"

#include "../../tools/ctl.c"
#include "../../tools/services.c"
#include "../../tools/sha256.c"

#define SRV_IP "192.0.2.2"
#define CLI_IP "192.0.2.10"
#define MIB (1u << 20)

struct world {
    struct ns_sim *sim;
    struct ns_stack *srv, *cli;
    struct services *svc;
    unsigned spins; /* services steps in a row without a simulation step */
    uint64_t rng;
    struct ns_pbuf_pool_stats base_srv, base_cli;
};

/* cli's blocking calls: serve srv, and when it has nothing to do, advance
 * the simulation by one event (or to the deadline). */
static int client_drive(void *ctx, uint64_t deadline_us)
{
    struct world *w = ctx;
    int n = services_poll(w->svc, 0);
    NS_ASSERT_SEED(n >= 0);
    if (n > 0 && ++w->spins < 64)
        return 0;
    w->spins = 0;
    if (ns_sim_step(w->sim, deadline_us))
        return 0;
    if (deadline_us == NS_TIME_NEVER)
        return -EDEADLK;
    ns_sim_run_until(w->sim, deadline_us);
    return 0;
}

static uint64_t rnd(struct world *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

static void world_up(struct world *w, double loss, const struct services_config *cfg)
{
    memset(w, 0, sizeof(*w));
    uint64_t seed = ns_test_seed(862);
    w->rng = seed * 2654435761u + 1;
    w->sim = ns_sim_new(seed);
    assert_non_null(w->sim);
    struct ns_config c;
    ns_config_default(&c);
    c.tcp_msl_us = 1000000; /* TIME_WAIT of 2 s keeps the leak check short */
    w->srv = ns_sim_add_host(w->sim, "srv", &c);
    w->cli = ns_sim_add_host(w->sim, "cli", &c);
    assert_non_null(w->srv);
    assert_non_null(w->cli);
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 1000;
    p.rate_bps = 100000000;
    p.queue_bytes = 256 * 1024;
    p.loss = loss;
    int if_s, if_c;
    assert_non_null(ns_sim_connect(w->sim, w->srv, w->cli, &p, &if_s, &if_c));
    struct in_addr a;
    inet_pton(AF_INET, SRV_IP, &a);
    assert_int_equal(ns_if_addr_add(w->srv, if_s, AF_INET, &a, 24), 0);
    inet_pton(AF_INET, CLI_IP, &a);
    assert_int_equal(ns_if_addr_add(w->cli, if_c, AF_INET, &a, 24), 0);
    ns_sim_run_for(w->sim, 100000);
    ns_stack_pbuf_stats(w->srv, &w->base_srv);
    ns_stack_pbuf_stats(w->cli, &w->base_cli);
    int err = 0;
    w->svc = services_new(w->srv, cfg, &err);
    assert_non_null(w->svc);
    ns_stack_set_driver(w->cli, client_drive, w);
}

/* Listening TCP sockets and bound UDP sockets of the services. */
static int listener_count(struct world *w)
{
    struct ns_sock_info info[64];
    int n = ns_sock_list(w->srv, info, 64);
    int l = 0;
    for (int i = 0; i < n && i < 64; i++)
        if (!strcmp(info[i].state, "LISTEN") || info[i].type == SOCK_DGRAM)
            l++;
    NS_ASSERT_SEED(n <= 64);
    return n == l ? l : -n;
}

/* After a test: the client has closed everything; serve until srv has
 * closed its side too, check that only listeners remain, then free the
 * services, let TIME_WAIT run out and check the pools. */
static void world_down(struct world *w)
{
    NS_ASSERT_SEED(ns_sock_list(w->cli, NULL, 0) == 0);
    uint64_t until = ns_sim_now(w->sim) + 5000000;
    struct services_stats s;
    do {
        NS_ASSERT_SEED(services_poll(w->svc, 100) >= 0);
        services_get_stats(w->svc, &s);
    } while (s.conns_open && ns_sim_now(w->sim) < until);
    NS_ASSERT_SEED(s.conns_open == 0);
    int nl = listener_count(w);
    if (nl < 0) {
        char *t = ctl_reply(w->srv, w->svc, "sockets -a", &(size_t){0});
        fprintf(stderr, "sockets left on srv:\n%s", t);
        free(t);
    }
    NS_ASSERT_SEED(nl == 7); /* tcp 7 9 19 80, udp 7 9 19 */
    services_free(w->svc);
    NS_ASSERT_SEED(ns_sock_list(w->srv, NULL, 0) == 0);
    ns_stack_set_driver(w->cli, NULL, NULL);
    ns_sim_run_for(w->sim, 10000000); /* TIME_WAIT (2 s), FIN_WAIT_2, ARP */
    struct ns_pbuf_pool_stats ps;
    ns_stack_pbuf_stats(w->srv, &ps);
    NS_ASSERT_SEED(ps.pool_free == w->base_srv.pool_free && ps.heap_bytes == 0);
    ns_stack_pbuf_stats(w->cli, &ps);
    NS_ASSERT_SEED(ps.pool_free == w->base_cli.pool_free && ps.heap_bytes == 0);
    ns_sim_free(w->sim);
}

static int cli_connect(struct world *w, int type, uint16_t port)
{
    int fd = ns_socket(w->cli, AF_INET, type, 0);
    NS_ASSERT_SEED(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, SRV_IP, &sin.sin_addr);
    NS_ASSERT_SEED(ns_connect(w->cli, fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
    return fd;
}

static void send_all(struct world *w, int fd, const void *buf, size_t len)
{
    NS_ASSERT_SEED(ns_send(w->cli, fd, buf, len, 0) == (ssize_t)len);
}

/* Read until the peer's FIN; returns the bytes (malloc'ed) and *len. */
static uint8_t *recv_to_eof(struct world *w, int fd, size_t *len)
{
    size_t cap = 65536, n = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (n == cap)
            b = realloc(b, cap *= 2);
        ssize_t r = ns_recv(w->cli, fd, b + n, cap - n, 0);
        NS_ASSERT_SEED(r >= 0);
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return b;
}

/* ---- echo, discard, chargen over TCP ------------------------------------------------ */

/* Send and receive at once (echo pushes back: a client that only sent
 * would fill both directions and stall, as it would on Linux). */
static void echo_roundtrip(struct world *w, size_t len)
{
    uint8_t *out = malloc(len), *in = malloc(len);
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)rnd(w);
    int fd = cli_connect(w, SOCK_STREAM, 7);
    ns_fcntl(w->cli, fd, F_SETFL, O_NONBLOCK);
    size_t sent = 0, got = 0;
    bool eof = false, shut = false;
    while (!eof) {
        struct pollfd p = {.fd = fd, .events = (short)(POLLIN | (sent < len ? POLLOUT : 0))};
        NS_ASSERT_SEED(ns_poll(w->cli, &p, 1, -1) == 1);
        if (sent < len && (p.revents & POLLOUT)) {
            ssize_t n = ns_send(w->cli, fd, out + sent, len - sent, 0);
            NS_ASSERT_SEED(n > 0 || (n < 0 && errno == EAGAIN));
            if (n > 0)
                sent += (size_t)n;
        }
        if (sent == len && !shut) {
            NS_ASSERT_SEED(ns_shutdown(w->cli, fd, SHUT_WR) == 0);
            shut = true;
        }
        if (p.revents & (POLLIN | POLLHUP)) {
            ssize_t n = ns_recv(w->cli, fd, in + got, len - got + 1, 0);
            NS_ASSERT_SEED(n >= 0 || errno == EAGAIN);
            if (n == 0)
                eof = true;
            else if (n > 0)
                got += (size_t)n;
            NS_ASSERT_SEED(got <= len);
        }
    }
    NS_ASSERT_SEED(got == len);
    NS_ASSERT_SEED(memcmp(out, in, len) == 0);
    ns_close(w->cli, fd);
    free(out);
    free(in);
}

static void test_tcp_echo_1mib(void **state)
{
    (void)state;
    struct world w;
    world_up(&w, 0, NULL);
    echo_roundtrip(&w, MIB);
    echo_roundtrip(&w, 1); /* and a tiny one after it */
    struct services_stats s;
    services_get_stats(w.svc, &s);
    NS_ASSERT_SEED(s.bytes_in == MIB + 1 && s.bytes_out == MIB + 1);
    world_down(&w);
}

static void test_tcp_echo_lossy(void **state)
{
    (void)state;
    struct world w;
    world_up(&w, 0.02, NULL);
    echo_roundtrip(&w, 256 * 1024);
    world_down(&w);
}

static void test_tcp_discard(void **state)
{
    (void)state;
    struct world w;
    world_up(&w, 0, NULL);
    int fd = cli_connect(&w, SOCK_STREAM, 9);
    uint8_t *buf = calloc(1, 256 * 1024);
    send_all(&w, fd, buf, 256 * 1024);
    ns_shutdown(w.cli, fd, SHUT_WR);
    size_t n;
    uint8_t *back = recv_to_eof(&w, fd, &n);
    NS_ASSERT_SEED(n == 0); /* nothing back, then the server's FIN */
    ns_close(w.cli, fd);
    struct services_stats s;
    services_get_stats(w.svc, &s);
    NS_ASSERT_SEED(s.bytes_in == 256 * 1024 && s.bytes_out == 0);
    free(buf);
    free(back);
    world_down(&w);
}

/* RFC 864's example starts with this line. */
static const char chargen_line0[] =
    " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n";

/* Character `col` of chargen line `line`, from RFC 864's description. */
static char chargen_ref(uint64_t line, unsigned col)
{
    return (char)(' ' + (line + col) % 95);
}

static void test_tcp_chargen(void **state)
{
    (void)state;
    struct world w;
    world_up(&w, 0, NULL);
    int fd = cli_connect(&w, SOCK_STREAM, 19);
    size_t want = 95 * 74 * 3 + 100; /* the pattern repeats every 95 lines */
    char *b = malloc(want);
    NS_ASSERT_SEED(ns_recv(w.cli, fd, b, want, MSG_WAITALL) == (ssize_t)want);
    NS_ASSERT_SEED(memcmp(b, chargen_line0, 74) == 0);
    for (size_t i = 0; i < want; i++) {
        uint64_t line = i / 74;
        unsigned col = (unsigned)(i % 74);
        char exp = col == 72 ? '\r' : col == 73 ? '\n' : chargen_ref(line, col);
        NS_ASSERT_SEED(b[i] == exp);
    }
    NS_ASSERT_SEED(!memcmp(b + 95 * 74, b, 74)); /* line 95 is line 0 again */
    /* The client closes; the server must notice and close (its unread
     * output makes our close a RST, as on Linux). */
    ns_close(w.cli, fd);
    free(b);
    world_down(&w);
}

/* ---- UDP ------------------------------------------------------------------------------------ */

static void test_udp_services(void **state)
{
    (void)state;
    struct world w;
    world_up(&w, 0, NULL);
    struct timeval tv = {.tv_sec = 1};
    uint8_t out[8000], in[8001];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)rnd(&w);

    /* echo: the same datagram back, for sizes up to a fragmented one */
    int fd = cli_connect(&w, SOCK_DGRAM, 7);
    ns_setsockopt(w.cli, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    static const size_t sizes[] = {0, 1, 512, 1472, 8000};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        NS_ASSERT_SEED(ns_send(w.cli, fd, out, sizes[k], 0) == (ssize_t)sizes[k]);
        NS_ASSERT_SEED(ns_recv(w.cli, fd, in, sizeof(in), 0) == (ssize_t)sizes[k]);
        NS_ASSERT_SEED(memcmp(in, out, sizes[k]) == 0);
    }
    ns_close(w.cli, fd);

    /* discard: nothing comes back */
    fd = cli_connect(&w, SOCK_DGRAM, 9);
    ns_setsockopt(w.cli, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    NS_ASSERT_SEED(ns_send(w.cli, fd, out, 100, 0) == 100);
    NS_ASSERT_SEED(ns_recv(w.cli, fd, in, sizeof(in), 0) < 0 && errno == EAGAIN);
    ns_close(w.cli, fd);

    /* chargen: one datagram of 0..512 characters of the pattern per
     * datagram, whatever we send */
    fd = cli_connect(&w, SOCK_DGRAM, 19);
    ns_setsockopt(w.cli, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    size_t min_len = 1000, max_len = 0;
    for (int k = 0; k < 50; k++) {
        NS_ASSERT_SEED(ns_send(w.cli, fd, "x", 1, 0) == 1);
        ssize_t n = ns_recv(w.cli, fd, in, sizeof(in), 0);
        NS_ASSERT_SEED(n >= 0 && n <= 512);
        if ((size_t)n < min_len)
            min_len = (size_t)n;
        if ((size_t)n > max_len)
            max_len = (size_t)n;
        if (n == 0)
            continue;
        uint64_t line = (uint64_t)(in[0] - ' '); /* the datagram starts a line */
        for (ssize_t i = 0; i < n; i++) {
            uint64_t l = line + (uint64_t)i / 74;
            unsigned col = (unsigned)(i % 74);
            char exp = col == 72 ? '\r' : col == 73 ? '\n' : chargen_ref(l, col);
            NS_ASSERT_SEED((char)in[i] == exp);
        }
    }
    NS_ASSERT_SEED(min_len < max_len); /* random lengths */
    ns_close(w.cli, fd);
    struct services_stats s;
    services_get_stats(w.svc, &s);
    NS_ASSERT_SEED(s.udp_in == 5 + 1 + 50 && s.udp_out == 5 + 50);
    world_down(&w);
}

/* ---- HTTP --------------------------------------------------------------------------------------- */

struct response {
    int status;
    char head[4096];
    uint8_t *body;
    size_t body_len;
    long long content_length;
};

/* Read one response (head, then Content-Length bytes) from a blocking
 * socket. Returns false at a clean EOF before any byte. */
static bool read_response(struct world *w, int fd, struct response *r, bool head_only)
{
    memset(r, 0, sizeof(*r));
    size_t n = 0;
    /* Byte by byte up to the blank line: simple, and never reads into
     * the next pipelined response. */
    while (n < sizeof(r->head) - 1) {
        ssize_t k = ns_recv(w->cli, fd, r->head + n, 1, 0);
        NS_ASSERT_SEED(k >= 0);
        if (k == 0) {
            NS_ASSERT_SEED(n == 0);
            return false;
        }
        n++;
        if (n >= 4 && !memcmp(r->head + n - 4, "\r\n\r\n", 4))
            break;
    }
    r->head[n] = 0;
    NS_ASSERT_SEED(sscanf(r->head, "HTTP/1.1 %d ", &r->status) == 1);
    const char *cl = strcasestr(r->head, "\r\nContent-Length: ");
    NS_ASSERT_SEED(cl != NULL);
    r->content_length = atoll(cl + 18);
    if (head_only)
        return true;
    r->body_len = (size_t)r->content_length;
    r->body = malloc(r->body_len + 1);
    if (r->body_len)
        NS_ASSERT_SEED(ns_recv(w->cli, fd, r->body, r->body_len, MSG_WAITALL) ==
                       (ssize_t)r->body_len);
    r->body[r->body_len] = 0;
    return true;
}

/* One request on a new connection with Connection: close; the server's
 * FIN must follow the response. */
static void http_once(struct world *w, const char *req, size_t req_len, const void *body,
                      size_t body_len, struct response *r)
{
    int fd = cli_connect(w, SOCK_STREAM, 80);
    send_all(w, fd, req, req_len);
    if (body_len)
        send_all(w, fd, body, body_len);
    NS_ASSERT_SEED(read_response(w, fd, r, strncmp(req, "HEAD ", 5) == 0));
    char c;
    NS_ASSERT_SEED(ns_recv(w->cli, fd, &c, 1, 0) == 0);
    ns_close(w->cli, fd);
}

static void http_get(struct world *w, const char *path, struct response *r)
{
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: srv\r\nConnection: close\r\n\r\n",
                     path);
    http_once(w, req, (size_t)n, NULL, 0, r);
}

static void test_http_index(void **state)
{
    (void)state;
    struct world w;
    world_up(&w, 0, NULL);
    struct response r;
    http_get(&w, "/", &r);
    NS_ASSERT_SEED(r.status == 200);
    NS_ASSERT_SEED(strcasestr(r.head, "Content-Type: text/html") != NULL);
    const char *body = (const char *)r.body;
    NS_ASSERT_SEED(strstr(body, "<td>LISTEN</td>") != NULL);
    static const char *const listen[] = {"0.0.0.0:7<", "0.0.0.0:9<", "0.0.0.0:19<",
                                         "0.0.0.0:80<"};
    for (int i = 0; i < 4; i++)
        NS_ASSERT_SEED(strstr(body, listen[i]) != NULL);
    /* Our own connection is in the table too. */
    NS_ASSERT_SEED(strstr(body, CLI_IP ":") != NULL);
    free(r.body);
    world_down(&w);
}

static void test_http_bytes(void **state)
{
    (void)state;
    struct world w;
    world_up(&w, 0, NULL);
    static const size_t ns[] = {0, 1, 1000, MIB};
    for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
        char path[64];
        snprintf(path, sizeof(path), "/bytes/%zu", ns[k]);
        struct response r;
        http_get(&w, path, &r);
        NS_ASSERT_SEED(r.status == 200 && r.body_len == ns[k]);
        NS_ASSERT_SEED(strcasestr(r.head, "Content-Type: application/octet-stream") != NULL);
        for (size_t i = 0; i < ns[k]; i++)
            NS_ASSERT_SEED(r.body[i] == (uint8_t)(i % 251)); /* docs/host.md */
        free(r.body);
    }
    /* HEAD: the length, no body. */
    struct response r;
    const char head[] = "HEAD /bytes/5000 HTTP/1.1\r\nHost: srv\r\nConnection: close\r\n\r\n";
    http_once(&w, head, sizeof(head) - 1, NULL, 0, &r);
    NS_ASSERT_SEED(r.status == 200 && r.content_length == 5000);
    world_down(&w);
}

static void sink_expect(struct response *r, const uint8_t *data, size_t len)
{
    uint8_t d[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1], want[160];
    sha256(data, len, d);
    sha256_hex(d, hex);
    snprintf(want, sizeof(want), "{\"bytes\": %zu, \"sha256\": \"%s\"}\n", len, hex);
    NS_ASSERT_SEED(r->status == 200);
    NS_ASSERT_SEED(strcmp((const char *)r->body, want) == 0);
}

static void test_http_sink(void **state)
{
    (void)state;
    struct world w;
    world_up(&w, 0, NULL);
    uint8_t *data = malloc(MIB);
    for (size_t i = 0; i < MIB; i++)
        data[i] = (uint8_t)rnd(&w);

    /* Content-Length, with Expect: 100-continue as curl sends it */
    char req[256];
    int n = snprintf(req, sizeof(req),
                     "POST /sink HTTP/1.1\r\nHost: srv\r\nContent-Length: %u\r\n"
                     "Expect: 100-continue\r\nConnection: close\r\n\r\n",
                     MIB);
    int fd = cli_connect(&w, SOCK_STREAM, 80);
    send_all(&w, fd, req, (size_t)n);
    char cont[25];
    NS_ASSERT_SEED(ns_recv(w.cli, fd, cont, 25, MSG_WAITALL) == 25);
    NS_ASSERT_SEED(!memcmp(cont, "HTTP/1.1 100 Continue\r\n\r\n", 25));
    send_all(&w, fd, data, MIB);
    struct response r;
    NS_ASSERT_SEED(read_response(&w, fd, &r, false));
    sink_expect(&r, data, MIB);
    free(r.body);
    ns_close(w.cli, fd);

    /* chunked, in uneven chunks with an extension and a trailer */
    fd = cli_connect(&w, SOCK_STREAM, 80);
    const char hdr[] = "POST /sink HTTP/1.1\r\nHost: srv\r\nTransfer-Encoding: chunked\r\n\r\n";
    send_all(&w, fd, hdr, sizeof(hdr) - 1);
    size_t off = 0, total = 300000;
    for (size_t k = 1; off < total; k++) {
        size_t len = k * 7919 % 40000 + 1;
        if (len > total - off)
            len = total - off;
        n = snprintf(req, sizeof(req), k == 2 ? "%zx;ext=1\r\n" : "%zX\r\n", len);
        send_all(&w, fd, req, (size_t)n);
        send_all(&w, fd, data + off, len);
        send_all(&w, fd, "\r\n", 2);
        off += len;
    }
    const char end[] = "0\r\nX-Trailer: yes\r\n\r\n";
    send_all(&w, fd, end, sizeof(end) - 1);
    NS_ASSERT_SEED(read_response(&w, fd, &r, false));
    sink_expect(&r, data, total);
    free(r.body);
    /* keep-alive: an empty body next, on the same connection */
    const char empty[] = "POST /sink HTTP/1.1\r\nHost: srv\r\nContent-Length: 0\r\n\r\n";
    send_all(&w, fd, empty, sizeof(empty) - 1);
    NS_ASSERT_SEED(read_response(&w, fd, &r, false));
    sink_expect(&r, data, 0);
    free(r.body);
    ns_close(w.cli, fd);
    free(data);
    world_down(&w);
}

static void test_http_keepalive_pipelined(void **state)
{
    (void)state;
    struct world w;
    world_up(&w, 0, NULL);
    int fd = cli_connect(&w, SOCK_STREAM, 80);
    struct response r;
    /* two requests one after the other on one connection */
    const char r1[] = "GET /bytes/10 HTTP/1.1\r\nHost: srv\r\n\r\n";
    send_all(&w, fd, r1, sizeof(r1) - 1);
    NS_ASSERT_SEED(read_response(&w, fd, &r, false) && r.status == 200 && r.body_len == 10);
    NS_ASSERT_SEED(strcasestr(r.head, "Connection: close") == NULL);
    free(r.body);
    const char r2[] = "GET / HTTP/1.1\r\nHost: srv\r\n\r\n";
    send_all(&w, fd, r2, sizeof(r2) - 1);
    NS_ASSERT_SEED(read_response(&w, fd, &r, false) && r.status == 200);
    free(r.body);
    /* three pipelined in one send, the last one closing */
    const char p[] = "GET /bytes/70000 HTTP/1.1\r\nHost: srv\r\n\r\n"
                     "GET /nope HTTP/1.1\r\nHost: srv\r\n\r\n"
                     "GET /bytes/3 HTTP/1.1\r\nHost: srv\r\nConnection: close\r\n\r\n";
    send_all(&w, fd, p, sizeof(p) - 1);
    NS_ASSERT_SEED(read_response(&w, fd, &r, false) && r.status == 200 && r.body_len == 70000);
    for (size_t i = 0; i < r.body_len; i++)
        NS_ASSERT_SEED(r.body[i] == (uint8_t)(i % 251));
    free(r.body);
    NS_ASSERT_SEED(read_response(&w, fd, &r, false) && r.status == 404);
    free(r.body);
    NS_ASSERT_SEED(read_response(&w, fd, &r, false) && r.status == 200 && r.body_len == 3);
    NS_ASSERT_SEED(strcasestr(r.head, "Connection: close") != NULL);
    free(r.body);
    NS_ASSERT_SEED(!read_response(&w, fd, &r, false)); /* then EOF */
    ns_close(w.cli, fd);
    /* HTTP/1.0 closes by default */
    const char old[] = "GET /bytes/4 HTTP/1.0\r\n\r\n";
    http_once(&w, old, sizeof(old) - 1, NULL, 0, &r);
    NS_ASSERT_SEED(r.status == 200 && r.body_len == 4);
    free(r.body);
    world_down(&w);
}

static void expect_status(struct world *w, const char *req, int status)
{
    struct response r;
    http_once(w, req, strlen(req), NULL, 0, &r);
    if (r.status != status)
        fprintf(stderr, "request %s-> %d, want %d\n", req, r.status, status);
    NS_ASSERT_SEED(r.status == status);
    free(r.body);
}

static void test_http_errors(void **state)
{
    (void)state;
    struct world w;
    struct services_config cfg;
    services_config_default(&cfg);
    cfg.sink_max = 1000;
    world_up(&w, 0, &cfg);
    expect_status(&w, "garbage\r\n\r\n", 400);
    expect_status(&w, "GET /\r\n\r\n", 400);
    expect_status(&w, "GET / HTTP/1.1\r\n\r\n", 400); /* no Host */
    expect_status(&w, "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
    expect_status(&w, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400);
    expect_status(&w, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                  400);
    expect_status(&w, "GET /bytes/abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400);
    expect_status(&w, "GET /bytes/99999999999999999999 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400);
    expect_status(&w, "GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404);
    expect_status(&w, "GET /bytes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404);
    expect_status(&w, "DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405);
    expect_status(&w, "GET /sink HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405);
    expect_status(&w, "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
    expect_status(&w, "POST /sink HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
    expect_status(&w, "POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n", 413);
    /* 413 for a chunked body that grows too big, sent in full */
    {
        struct response r;
        char body[1600];
        int n = snprintf(body, sizeof(body), "POST /sink HTTP/1.1\r\nHost: x\r\n"
                                             "Transfer-Encoding: chunked\r\n\r\n%x\r\n", 1200);
        memset(body + n, 'z', 1200);
        memcpy(body + n + 1200, "\r\n0\r\n\r\n", 7);
        http_once(&w, body, (size_t)n + 1207, NULL, 0, &r);
        NS_ASSERT_SEED(r.status == 413);
        free(r.body);
    }
    /* 405 carries Allow */
    struct response r;
    const char post[] = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
    http_once(&w, post, sizeof(post) - 1, NULL, 0, &r);
    NS_ASSERT_SEED(r.status == 405 && strstr(r.head, "\r\nAllow: GET, HEAD\r\n"));
    free(r.body);
    /* a head that never ends: 431 once 8 KiB have arrived */
    char *big = malloc(10000);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    memset(big + 19, 'a', 10000 - 19);
    int fd = cli_connect(&w, SOCK_STREAM, 80);
    send_all(&w, fd, big, 10000);
    NS_ASSERT_SEED(read_response(&w, fd, &r, false) && r.status == 431);
    free(r.body);
    ns_close(w.cli, fd);
    free(big);
    /* A 404 with a body keeps the connection usable. */
    fd = cli_connect(&w, SOCK_STREAM, 80);
    const char two[] = "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                       "GET /bytes/2 HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(&w, fd, two, sizeof(two) - 1);
    NS_ASSERT_SEED(read_response(&w, fd, &r, false) && r.status == 404);
    free(r.body);
    NS_ASSERT_SEED(read_response(&w, fd, &r, false) && r.status == 200 && r.body_len == 2);
    free(r.body);
    ns_close(w.cli, fd);
    struct services_stats s;
    services_get_stats(w.svc, &s);
    NS_ASSERT_SEED(s.http_errors == 19 && s.http_requests == 20);
    world_down(&w);
}

/* ---- many clients at once -------------------------------------------------------------------- */

#define NCLIENTS 200

struct client {
    int fd;
    char req[128];
    size_t req_len, req_off;
    uint8_t buf[4096];
    size_t got;
    bool done;
};

static void test_http_concurrent(void **state)
{
    (void)state;
    struct world w;
    world_up(&w, 0, NULL);
    struct client *c = calloc(NCLIENTS, sizeof(*c));
    struct pollfd pfd[NCLIENTS];
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
    inet_pton(AF_INET, SRV_IP, &sin.sin_addr);
    for (int i = 0; i < NCLIENTS; i++) {
        c[i].fd = ns_socket(w.cli, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        NS_ASSERT_SEED(c[i].fd >= 0);
        NS_ASSERT_SEED(ns_connect(w.cli, c[i].fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 &&
                       errno == EINPROGRESS);
        c[i].req_len = (size_t)snprintf(c[i].req, sizeof(c[i].req),
                                        "GET /bytes/%d HTTP/1.1\r\nHost: srv\r\n"
                                        "Connection: close\r\n\r\n",
                                        1000 + i);
    }
    int left = NCLIENTS, peak = 0;
    while (left) {
        for (int i = 0; i < NCLIENTS; i++) {
            pfd[i].fd = c[i].done ? -1 : c[i].fd;
            pfd[i].events = (short)(c[i].req_off < c[i].req_len ? POLLOUT : POLLIN);
        }
        NS_ASSERT_SEED(ns_poll(w.cli, pfd, NCLIENTS, -1) > 0);
        struct services_stats s;
        services_get_stats(w.svc, &s);
        if ((int)s.conns_open > peak)
            peak = (int)s.conns_open;
        for (int i = 0; i < NCLIENTS; i++) {
            struct client *k = &c[i];
            if (!pfd[i].revents)
                continue;
            NS_ASSERT_SEED(!(pfd[i].revents & POLLERR));
            if (k->req_off < k->req_len) {
                ssize_t n = ns_send(w.cli, k->fd, k->req + k->req_off, k->req_len - k->req_off, 0);
                NS_ASSERT_SEED(n > 0);
                k->req_off += (size_t)n;
                continue;
            }
            ssize_t n = ns_recv(w.cli, k->fd, k->buf + k->got, sizeof(k->buf) - k->got, 0);
            NS_ASSERT_SEED(n >= 0 || errno == EAGAIN);
            if (n > 0)
                k->got += (size_t)n;
            if (n == 0) {
                k->done = true;
                left--;
            }
        }
    }
    for (int i = 0; i < NCLIENTS; i++) {
        struct client *k = &c[i];
        k->buf[k->got < sizeof(k->buf) ? k->got : sizeof(k->buf) - 1] = 0;
        const char *body = strstr((const char *)k->buf, "\r\n\r\n");
        NS_ASSERT_SEED(!strncmp((const char *)k->buf, "HTTP/1.1 200 OK\r\n", 17) && body);
        body += 4;
        size_t len = k->got - (size_t)((const uint8_t *)body - k->buf);
        NS_ASSERT_SEED(len == (size_t)(1000 + i));
        for (size_t j = 0; j < len; j++)
            NS_ASSERT_SEED((uint8_t)body[j] == (uint8_t)(j % 251));
        ns_close(w.cli, k->fd);
    }
    NS_ASSERT_SEED(peak > 50); /* they really were served at the same time */
    struct services_stats s;
    services_get_stats(w.svc, &s);
    NS_ASSERT_SEED(s.http_requests == NCLIENTS && s.http_errors == 0 &&
                   s.conns_total == NCLIENTS);
    free(c);
    world_down(&w);
}

/* ---- the control socket's replies ----------------------------------------------------------- */

static void test_ctl_replies(void **state)
{
    (void)state;
    struct world w;
    world_up(&w, 0, NULL);
    int fd = cli_connect(&w, SOCK_STREAM, 9); /* one established connection */
    send_all(&w, fd, "x", 1);
    ns_sim_run_for(w.sim, 10000);
    services_poll(w.svc, 0);
    size_t len;
    /* As ss -a: every socket, Netid column (three protocols), LISTEN and
     * UNCONN as ss names them, TCP internals only with -i. */
    char *t = ctl_reply(w.srv, w.svc, "sockets -a\n", &len);
    NS_ASSERT_SEED(t && strlen(t) == len);
    NS_ASSERT_SEED(!strncmp(t, "Netid State  Recv-Q Send-Q Local Address:Port ", 46));
    NS_ASSERT_SEED(strstr(t, "\ntcp   LISTEN 0      511          0.0.0.0:80  "));
    NS_ASSERT_SEED(strstr(t, "\nudp   UNCONN 0      0            0.0.0.0:19  "));
    NS_ASSERT_SEED(strstr(t, "\ntcp   ESTAB ") && strstr(t, SRV_IP ":9 "));
    NS_ASSERT_SEED(!strstr(t, "rto:") && !strstr(t, "users:"));
    /* Every ':' of the Local column under the header's. */
    size_t colon = (size_t)(strchr(t, ':') - t);
    for (const char *line = strchr(t, '\n') + 1; *line; line = strchr(line, '\n') + 1)
        NS_ASSERT_SEED(line[colon] == ':');
    free(t);
    /* ss's default: no listening (or unconnected) socket. */
    t = ctl_reply(w.srv, w.svc, "sockets", &len);
    NS_ASSERT_SEED(t && !strstr(t, "LISTEN") && !strstr(t, "UNCONN") && strstr(t, "ESTAB"));
    free(t);
    /* -tl: TCP listeners only, no Netid column (one protocol). */
    t = ctl_reply(w.srv, w.svc, "sockets -tl", &len);
    NS_ASSERT_SEED(t && !strncmp(t, "State  Recv-Q", 13));
    NS_ASSERT_SEED(!strstr(t, "ESTAB") && !strstr(t, "UNCONN") && !strstr(t, "udp"));
    int lines = 0;
    for (const char *q = t; (q = strchr(q, '\n')); q++)
        lines++;
    NS_ASSERT_SEED(lines == 1 + 4); /* header, 7 9 19 80 */
    free(t);
    t = ctl_reply(w.srv, w.svc, "sockets -ul", &len);
    lines = 0;
    for (const char *q = t; (q = strchr(q, '\n')); q++)
        lines++;
    NS_ASSERT_SEED(t && lines == 1 + 3 && !strstr(t, "LISTEN"));
    free(t);
    /* -H: no header. -p: the Process column. */
    t = ctl_reply(w.srv, w.svc, "sockets -tnpH", &len);
    NS_ASSERT_SEED(t && !strncmp(t, "ESTAB", 5) && strstr(t, "users:((\"") &&
                   strstr(t, ",fd="));
    free(t);
    /* -i: the TCP line below the socket, as ss -i. -m: skmem. -e: the
     * extended fields, and with -i the options. */
    t = ctl_reply(w.srv, w.svc, "sockets -ti", &len);
    NS_ASSERT_SEED(t && strstr(t, "\n\t cubic wscale:") && strstr(t, " rto:") &&
                   strstr(t, " rtt:") && strstr(t, " mss:1448 ") && strstr(t, " cwnd:"));
    free(t);
    t = ctl_reply(w.srv, w.svc, "sockets -tm", &len);
    NS_ASSERT_SEED(t && strstr(t, "\n\t skmem:(r0,rb") && !strstr(t, "cubic"));
    free(t);
    t = ctl_reply(w.srv, w.svc, "sockets -tie", &len);
    NS_ASSERT_SEED(t && strstr(t, " ino:0 sk:") && strstr(t, " <->\n") &&
                   strstr(t, "\t ts sack cubic"));
    free(t);
    t = ctl_reply(w.srv, w.svc, "sockets -tx", &len);
    NS_ASSERT_SEED(t && !strncmp(t, "error: unknown flag 'x'", 23));
    free(t);
    t = ctl_reply(w.srv, w.svc, "sockets json -a", &len);
    NS_ASSERT_SEED(t && !strncmp(t, "{\"host\": \"srv\", \"pid\": ", 23));
    NS_ASSERT_SEED(strstr(t, "\"state\": \"ESTAB\"") && strstr(t, "\"rto_us\": ") &&
                   strstr(t, "\"cc\": \"cubic\"") && strstr(t, "\"process\": {"));
    free(t);
    t = ctl_reply(w.srv, w.svc, "sockets json -u", &len); /* no connected UDP socket */
    NS_ASSERT_SEED(t && strstr(t, "\"sockets\": [\n]}"));
    free(t);
    t = ctl_reply(w.srv, w.svc, "counters", &len);
    NS_ASSERT_SEED(t && strstr(t, "\nTcp:\n") && strstr(t, "Services:\n    1 connections open"));
    /* What the bounded resources hold, and the limits (defaults). */
    struct ns_stack_usage u;
    ns_stack_usage(w.srv, &u);
    /* The discard connection's service read everything: its receive
     * ring's storage went back when it drained (tcp_mem_reclaim). */
    NS_ASSERT_SEED(u.tcp_bytes == 0);
    char want[160];
    snprintf(want, sizeof(want), "Memory:\n    %llu bytes held by TCP buffers: %llu receive, ",
             (unsigned long long)u.tcp_bytes, (unsigned long long)u.tcp_rcv_bytes);
    NS_ASSERT_SEED(strstr(t, want));
    NS_ASSERT_SEED(strstr(t, "TCP memory limits: low 100663296, pressure 134217728, high "
                             "201326592; under pressure: no\n"));
    NS_ASSERT_SEED(strstr(t, "(0 of at most 524288 bytes)"));
    free(t);
    t = ctl_reply(w.srv, w.svc, "counters json", &len);
    NS_ASSERT_SEED(t && strstr(t, "\"tcp_") && strstr(t, "\"services\": {\"conns_open\": 1"));
    snprintf(want, sizeof(want), "\"usage\": {\"tcp_bytes\": %llu, ", (unsigned long long)u.tcp_bytes);
    NS_ASSERT_SEED(strstr(t, want) && strstr(t, "\"tcp_pressure\": false"));
    free(t);
    t = ctl_reply(w.srv, w.svc, "bogus", &len);
    NS_ASSERT_SEED(t && !strncmp(t, "error:", 6));
    free(t);
    ns_shutdown(w.cli, fd, SHUT_WR);
    char c;
    NS_ASSERT_SEED(ns_recv(w.cli, fd, &c, 1, 0) == 0);
    ns_close(w.cli, fd);
    world_down(&w);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_echo_1mib),
        cmocka_unit_test(test_tcp_echo_lossy),
        cmocka_unit_test(test_tcp_discard),
        cmocka_unit_test(test_tcp_chargen),
        cmocka_unit_test(test_udp_services),
        cmocka_unit_test(test_http_index),
        cmocka_unit_test(test_http_bytes),
        cmocka_unit_test(test_http_sink),
        cmocka_unit_test(test_http_keepalive_pipelined),
        cmocka_unit_test(test_http_errors),
        cmocka_unit_test(test_http_concurrent),
        cmocka_unit_test(test_ctl_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
