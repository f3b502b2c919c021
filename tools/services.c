/* tools/services.c — echo, discard, chargen and HTTP/1.1 for `netsock
 * host`, event-driven over one stack (see services.h for the model).
 *
 * Read first: RFC 862 (echo), RFC 863 (discard), RFC 864 (chargen), RFC
 * 9112 (HTTP/1.1 message syntax: request line §3, fields §5, body length
 * §6.3, chunked coding §7.1, persistence §9) and RFC 9110 (status codes
 * §15, Expect: 100-continue §10.1.1).
 *
 * Each TCP connection is a small state machine run by conn_run() until
 * its socket would block; conn_events() says what it waits for. Output
 * goes through a fixed 16 KiB buffer that is refilled only when it has
 * been sent, so a client that does not read stops the generation of more
 * (and, for echo, the reading of more).
 */
#include "services.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "netsock/socket.h"
#include "sha256.h"
#include "textbuf.h"

#define IN_CAP 8192u        /* request head (and body staging) per connection */
#define OUT_CAP 16384u      /* output buffer per connection */
/* RFC 864's pattern: 72 printable characters a line, starting one
 * character later on each line, 95 lines before it repeats. */
#define CHARGEN_PERIOD (95u * 74u)
#define UDP_BURST 64        /* datagrams served per socket per step */
#define LINGER_US 2000000u  /* after our FIN, read and drop for this long (lingering close) */
#define SWEEP_MS 1000       /* poll at least this often while timeouts are pending */

static const char *const svc_names[4] = {"echo", "discard", "chargen", "http"};
static const uint16_t svc_ports[4] = {7, 9, 19, 80};

enum http_state {
    H_HEAD,   /* reading the request line and fields */
    H_BODY,   /* reading (hashing or dropping) the request body */
    H_RESP,   /* sending the response */
    H_LINGER, /* response sent with our FIN: drop input until the peer's FIN */
};

enum body_kind { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };
enum chunk_state { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

struct conn {
    int fd;
    unsigned svc;          /* bit number: 0 echo, 1 discard, 2 chargen, 3 http */
    bool rd_eof;           /* the peer's FIN arrived */
    bool dead;             /* closed; freed at the end of the step */
    uint64_t last_us;      /* last activity (HTTP idle timeout) */
    uint64_t nread;        /* bytes read (--read-pause) */
    uint64_t pause_until_us; /* not reading until then (0: the pause has not begun) */
    bool pause_done;

    uint8_t out[OUT_CAP];
    size_t out_off, out_len; /* unsent bytes: out[out_off .. out_len) */
    uint64_t gen_pos;        /* chargen: position in the stream */

    /* HTTP */
    enum http_state hs;
    uint8_t in[IN_CAP];
    size_t in_off, in_len;   /* unparsed bytes: in[in_off .. in_len) */
    bool keep_alive;         /* after this response */
    bool http10;
    bool head_only;
    enum body_kind body;
    uint64_t body_left;      /* BODY_LENGTH: bytes; BODY_CHUNKED: of the current chunk */
    enum chunk_state chunk;
    uint64_t body_total;
    bool body_hash;          /* POST /sink: hash the body */
    struct sha256 sha;
    int status;              /* response decided from the head */
    const char *allow;       /* Allow field for 405 */
    uint64_t bytes_n;        /* GET /bytes/N */
    /* response body source: a heap buffer, or the /bytes pattern */
    char *resp_buf;
    size_t resp_len, resp_off;
    uint64_t pat_left, pat_pos;
};

struct listener {
    int fd;
    unsigned svc;
    int type;               /* SOCK_STREAM or SOCK_DGRAM */
    uint64_t chargen_line;  /* UDP chargen: next datagram starts at this line */
};

struct services {
    struct ns_stack *st;
    struct services_config cfg;
    struct listener lis[16]; /* 7 sockets per family (IPv4, IPv6) */
    unsigned nlis;
    struct conn **conns;
    size_t nconns, conns_cap;
    struct pollfd *pfds;
    size_t pfds_cap;
    uint8_t *scratch;       /* 64 KiB: UDP datagrams, dropped input */
    uint8_t *chargen;       /* RFC 864's pattern from its start, one period + 64 KiB */
    uint64_t rng;
    struct services_stats stats;
    /* One more socket of the caller's (services_watch): fd -1 when none. */
    int watch_fd;
    void (*watch_cb)(void *ctx);
    void *watch_ctx;
};

void services_config_default(struct services_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mask = SVC_ALL;
    cfg->addr = htonl(INADDR_ANY);
    for (unsigned i = 0; i < 4; i++)
        cfg->port[i] = svc_ports[i];
    cfg->max_conns = 4096;
    cfg->backlog = 511;
    cfg->http_idle_us = 60u * 1000000u;
    cfg->sink_max = (uint64_t)1 << 40;
    cfg->bytes_max = (uint64_t)1 << 40;
    cfg->seed = 1;
}

int services_parse(const char *list, unsigned *mask, const char **bad, size_t *bad_len)
{
    unsigned m = 0;
    const char *p = list;
    *bad = list;
    *bad_len = 0;
    do {
        size_t n = strcspn(p, ",");
        bool found = n == 3 && !strncmp(p, "all", 3);
        if (found)
            m |= SVC_ALL;
        for (unsigned i = 0; i < 4 && !found; i++)
            if (strlen(svc_names[i]) == n && !strncmp(p, svc_names[i], n)) {
                m |= 1u << i;
                found = true;
            }
        if (!found) { /* also an empty item: "", "echo,", "echo,,http" */
            *bad = p;
            *bad_len = n;
            return -1;
        }
        p += n;
    } while (*p++ == ',');
    *mask = m;
    return 0;
}

/* xorshift64*: UDP chargen lengths (RFC 864 asks for "random"). */
static uint64_t svc_rand(struct services *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 2685821657736338717ull;
}

/* A listener (TCP) or server socket (UDP) of service svc: IPv4 on
 * cfg.addr, or (v6) IPv6 on [::] with IPV6_V6ONLY, beside the IPv4 one
 * (Linux lets 0.0.0.0:P and a v6-only [::]:P coexist). */
static int open_socket(struct services *s, unsigned svc, int type, bool v6)
{
    struct ns_stack *st = s->st;
    int fd = ns_socket(st, v6 ? AF_INET6 : AF_INET, type | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    ns_setsockopt(st, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sslen;
    if (v6) {
        ns_setsockopt(st, fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(s->cfg.port[svc]);
        sslen = sizeof(*sin6);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(s->cfg.port[svc]);
        sin->sin_addr.s_addr = s->cfg.addr;
        sslen = sizeof(*sin);
    }
    if (ns_bind(st, fd, (struct sockaddr *)&ss, sslen) < 0 ||
        (type == SOCK_STREAM && ns_listen(st, fd, s->cfg.backlog) < 0)) {
        int e = errno;
        fprintf(stderr, "%s: %s%s port %u: %s\n", svc_names[svc],
                type == SOCK_STREAM ? "tcp" : "udp", v6 ? "6" : "", s->cfg.port[svc], strerror(e));
        ns_close(st, fd);
        return -e;
    }
    s->lis[s->nlis++] = (struct listener){.fd = fd, .svc = svc, .type = type};
    return 0;
}

static void chargen_fill(uint8_t *dst, size_t len, uint64_t pos);

struct services *services_new(struct ns_stack *st, const struct services_config *cfg, int *err)
{
    struct services *s = calloc(1, sizeof(*s));
    if (!s || !(s->scratch = malloc(65536)) || !(s->chargen = malloc(CHARGEN_PERIOD + 65536))) {
        if (s)
            free(s->scratch);
    free(s->chargen);
        free(s);
        *err = -ENOMEM;
        return NULL;
    }
    s->watch_fd = -1;
    chargen_fill(s->chargen, CHARGEN_PERIOD + 65536, 0);
    s->st = st;
    if (cfg)
        s->cfg = *cfg;
    else
        services_config_default(&s->cfg);
    s->rng = s->cfg.seed ? s->cfg.seed : 1;
    for (unsigned svc = 0; svc < 4; svc++) {
        if (!(s->cfg.mask & (1u << svc)))
            continue;
        int rc = 0;
        for (int v6 = 0; v6 <= (s->cfg.ipv6 && s->cfg.addr == INADDR_ANY) && rc == 0; v6++) {
            rc = open_socket(s, svc, SOCK_STREAM, v6);
            if (rc == 0 && svc != 3)
                rc = open_socket(s, svc, SOCK_DGRAM, v6);
        }
        if (rc < 0) {
            *err = rc;
            services_free(s);
            return NULL;
        }
    }
    return s;
}

void services_get_stats(const struct services *s, struct services_stats *out) { *out = s->stats; }

/* ---- connections --------------------------------------------------------------- */

static void conn_close(struct services *s, struct conn *c)
{
    if (c->dead)
        return;
    ns_close(s->st, c->fd);
    c->dead = true;
    free(c->resp_buf);
    c->resp_buf = NULL;
    s->stats.conns_open--;
}

/* Send what is buffered. Returns 1 when everything went, 0 when the socket
 * is full, -1 when the connection failed (and was closed). */
static int conn_flush(struct services *s, struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = ns_send(s->st, c->fd, c->out + c->out_off, c->out_len - c->out_off, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            conn_close(s, c);
            return -1;
        }
        c->out_off += (size_t)n;
        s->stats.bytes_out += (uint64_t)n;
    }
    c->out_off = c->out_len = 0;
    return 1;
}

/* Read into buf. Returns bytes (> 0), 0 at the peer's FIN (sets rd_eof),
 * -EAGAIN, or -1 when the connection failed (and was closed). */
/* --read-pause: is the connection in its pause now? The pause begins
 * when pause_after bytes have been read. */
static bool conn_paused(const struct services *s, const struct conn *c)
{
    if (!s->cfg.pause_us || c->pause_done || c->nread < s->cfg.pause_after)
        return false;
    return !c->pause_until_us || ns_stack_now(s->st) < c->pause_until_us;
}

static ssize_t conn_read(struct services *s, struct conn *c, void *buf, size_t len)
{
    if (s->cfg.pause_us && !c->pause_done) {
        if (conn_paused(s, c)) {
            if (!c->pause_until_us)
                c->pause_until_us = ns_stack_now(s->st) + s->cfg.pause_us;
            return -EAGAIN;
        }
        if (c->nread >= s->cfg.pause_after)
            c->pause_done = true; /* the pause is over */
        else if (len > s->cfg.pause_after - c->nread)
            len = (size_t)(s->cfg.pause_after - c->nread); /* stop exactly there */
    }
    ssize_t n = ns_recv(s->st, c->fd, buf, len, 0);
    if (n > 0) {
        c->nread += (uint64_t)n;
        s->stats.bytes_in += (uint64_t)n;
        c->last_us = ns_stack_now(s->st);
        return n;
    }
    if (n == 0) {
        c->rd_eof = true;
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return -EAGAIN;
    conn_close(s, c);
    return -1;
}

/* RFC 862: send back what arrives; after the peer's FIN, send the rest
 * and close. Reads only into an empty output buffer: backpressure. */
static void run_echo(struct services *s, struct conn *c)
{
    for (;;) {
        int f = conn_flush(s, c);
        if (f <= 0)
            return;
        if (c->rd_eof) {
            conn_close(s, c); /* FIN after the queued echo */
            return;
        }
        ssize_t n = conn_read(s, c, c->out, OUT_CAP);
        if (n == -EAGAIN || n == -1)
            return;
        c->out_len = (size_t)n;
    }
}

/* Read and drop everything; close at the peer's FIN. */
static void drain_input(struct services *s, struct conn *c)
{
    while (!c->dead && !c->rd_eof) {
        ssize_t n = conn_read(s, c, s->scratch, 65536);
        if (n < 0)
            return;
    }
    if (!c->dead && c->rd_eof)
        conn_close(s, c);
}

/* RFC 863: throw everything away. */
static void run_discard(struct services *s, struct conn *c) { drain_input(s, c); }

static void chargen_fill(uint8_t *dst, size_t len, uint64_t pos)
{
    uint64_t line = pos / 74u, col = pos % 74u;
    for (size_t i = 0; i < len; i++) {
        dst[i] = col < 72 ? (uint8_t)(32u + (line + col) % 95u) : col == 72 ? '\r' : '\n';
        if (++col == 74) {
            col = 0;
            line++;
        }
    }
}

/* RFC 864: send the pattern until the client closes (input is dropped). */
static void run_chargen(struct services *s, struct conn *c)
{
    drain_input(s, c);
    while (!c->dead) {
        int f = conn_flush(s, c);
        if (f <= 0)
            return;
        /* The pattern repeats every CHARGEN_PERIOD bytes: copy, not compute. */
        memcpy(c->out, s->chargen + c->gen_pos % CHARGEN_PERIOD, OUT_CAP);
        c->gen_pos += OUT_CAP;
        c->out_len = OUT_CAP;
    }
}

/* ---- HTTP/1.1 -------------------------------------------------------------------- */

static const char *status_text(int code)
{
    switch (code) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* Append to the output buffer (the caller knows it fits: heads are small). */
static void out_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)c->out + c->out_len, OUT_CAP - c->out_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        c->out_len += (size_t)n < OUT_CAP - c->out_len ? (size_t)n : OUT_CAP - 1 - c->out_len;
}

/* GET /: the host's sockets, as a table. */
static char *index_page(struct services *s, size_t *len)
{
    struct textbuf b = {0};
    int n = ns_sock_list(s->st, NULL, 0);
    struct ns_sock_info *info = calloc((size_t)n + 1, sizeof(*info));
    if (info)
        n = ns_sock_list(s->st, info, n);
    else
        n = 0;
    const char *name = ns_stack_name(s->st);
    tb_printf(&b,
              "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>netsock host %s</title>"
              "</head>\n<body>\n<h1>netsock host %s</h1>\n"
              "<p>Services: echo (7), discard (9), chargen (19) over TCP and UDP as enabled; "
              "HTTP: <a href=\"/\">/</a> (this page), <a href=\"/bytes/1024\">/bytes/N</a> "
              "(N bytes, byte i = i mod 251), POST /sink (replies with the body's length and "
              "SHA-256).</p>\n<h2>Sockets</h2>\n<table>\n"
              "<tr><th>fd</th><th>Netid</th><th>State</th><th>Recv-Q</th><th>Send-Q</th>"
              "<th>Local Address:Port</th><th>Peer Address:Port</th></tr>\n",
              name, name);
    for (int i = 0; i < n; i++) {
        char l[64], r[64];
        fmt_sockaddr(l, sizeof(l), &info[i].local);
        fmt_sockaddr(r, sizeof(r), &info[i].remote);
        const char *proto = fmt_netid(info[i].type);
        tb_printf(&b,
                  "<tr><td>%d</td><td>%s</td><td>%s</td><td>%u</td><td>%u</td><td>%s</td>"
                  "<td>%s</td></tr>\n",
                  info[i].fd, proto, info[i].state, info[i].recv_q, info[i].send_q, l, r);
    }
    tb_printf(&b, "</table>\n<p>%d sockets; %" PRIu64 " connections served.</p>\n</body></html>\n",
              n, s->stats.conns_total);
    free(info);
    *len = b.p ? b.len : 0;
    return b.p;
}

/* Start the response for the request whose head (and body) has been read:
 * the head goes to the output buffer, the body source is set up. */
static void http_respond(struct services *s, struct conn *c)
{
    const char *ctype = "text/plain";
    uint64_t clen = 0;
    char small[160];
    size_t small_len = 0;
    c->resp_buf = NULL;
    c->resp_len = c->resp_off = 0;
    c->pat_left = c->pat_pos = 0;

    switch (c->status) {
    case 200:
        if (c->body_hash) {
            uint8_t d[SHA256_LEN];
            char hex[2 * SHA256_LEN + 1];
            sha256_final(&c->sha, d);
            sha256_hex(d, hex);
            small_len = (size_t)snprintf(small, sizeof(small),
                                         "{\"bytes\": %" PRIu64 ", \"sha256\": \"%s\"}\n",
                                         c->body_total, hex);
            ctype = "application/json";
            clen = small_len;
        } else if (c->bytes_n != UINT64_MAX) {
            ctype = "application/octet-stream";
            clen = c->bytes_n;
            c->pat_left = c->head_only ? 0 : c->bytes_n;
        } else {
            ctype = "text/html; charset=utf-8";
            c->resp_buf = index_page(s, &c->resp_len);
            clen = c->resp_len;
        }
        break;
    default:
        small_len = (size_t)snprintf(small, sizeof(small), "%d %s\n", c->status,
                                     status_text(c->status));
        clen = small_len;
        s->stats.http_errors++;
        break;
    }
    s->stats.http_requests++;
    out_printf(c, "HTTP/1.1 %d %s\r\nServer: netsock/%s\r\nContent-Type: %s\r\n"
               "Content-Length: %" PRIu64 "\r\n",
               c->status, status_text(c->status), NS_VERSION, ctype, clen);
    if (c->allow)
        out_printf(c, "Allow: %s\r\n", c->allow);
    if (!c->keep_alive)
        out_printf(c, "Connection: close\r\n");
    else if (c->http10)
        out_printf(c, "Connection: keep-alive\r\n");
    out_printf(c, "\r\n");
    if (c->head_only) {
        free(c->resp_buf);
        c->resp_buf = NULL;
        c->resp_len = 0;
    } else if (small_len) {
        memcpy(c->out + c->out_len, small, small_len);
        c->out_len += small_len;
    }
    c->hs = H_RESP;
}

/* Fill the output buffer from the body source. Returns false when the
 * body is complete (nothing was added). */
static bool http_fill(struct conn *c)
{
    size_t room = OUT_CAP - c->out_len;
    if (c->resp_off < c->resp_len) {
        size_t k = c->resp_len - c->resp_off < room ? c->resp_len - c->resp_off : room;
        memcpy(c->out + c->out_len, c->resp_buf + c->resp_off, k);
        c->out_len += k;
        c->resp_off += k;
        return true;
    }
    if (c->pat_left) {
        size_t k = c->pat_left < room ? (size_t)c->pat_left : room;
        unsigned v = (unsigned)(c->pat_pos % 251u);
        uint8_t *p = c->out + c->out_len;
        for (size_t i = 0; i < k; i++) {
            p[i] = (uint8_t)v;
            if (++v == 251)
                v = 0;
        }
        c->out_len += k;
        c->pat_left -= k;
        c->pat_pos += k;
        return true;
    }
    return false;
}

/* Case-insensitive: does the comma-separated field value contain token? */
static bool has_token(const char *v, size_t len, const char *token)
{
    size_t tl = strlen(token), i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t j = i;
        while (j < len && v[j] != ',')
            j++;
        size_t e = j;
        while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - i == tl && !strncasecmp(v + i, token, tl))
            return true;
        i = j;
    }
    return false;
}

/* Parse an unsigned decimal of up to 19 digits; false if anything else. */
static bool parse_u64(const char *p, size_t len, uint64_t *out)
{
    if (len == 0 || len > 19)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = v;
    return true;
}

/* Find the end of the line starting at in[off]: returns the index after
 * its '\n' and the line length without CR LF, or 0 when incomplete. */
static size_t next_line(const struct conn *c, size_t off, size_t *line_len)
{
    const uint8_t *nl = memchr(c->in + off, '\n', c->in_len - off);
    if (!nl)
        return 0;
    size_t end = (size_t)(nl - c->in);
    size_t l = end - off;
    if (l && c->in[end - 1] == '\r')
        l--;
    *line_len = l;
    return end + 1;
}

/* Route the request: method and target decide status and what happens to
 * the body. */
static void http_route(struct services *s, struct conn *c, const char *m, size_t ml,
                       const char *t, size_t tl)
{
    /* RFC 9112 §3.2.2: absolute-form; keep the path. */
    if (tl > 7 && !strncasecmp(t, "http://", 7)) {
        const char *p = memchr(t + 7, '/', tl - 7);
        if (!p) {
            t = "/";
            tl = 1;
        } else {
            tl -= (size_t)(p - t);
            t = p;
        }
    }
    const char *q = memchr(t, '?', tl);
    if (q)
        tl = (size_t)(q - t);
    bool get = ml == 3 && !memcmp(m, "GET", 3);
    bool head = ml == 4 && !memcmp(m, "HEAD", 4);
    bool post = ml == 4 && !memcmp(m, "POST", 4);
    c->head_only = head;
    c->status = 200;
    if (tl == 1 && t[0] == '/') {
        if (!get && !head) {
            c->status = 405;
            c->allow = "GET, HEAD";
        }
    } else if (tl >= 7 && !memcmp(t, "/bytes/", 7)) {
        if (!get && !head) {
            c->status = 405;
            c->allow = "GET, HEAD";
        } else if (!parse_u64(t + 7, tl - 7, &c->bytes_n) || c->bytes_n > s->cfg.bytes_max) {
            c->bytes_n = UINT64_MAX;
            c->status = 400;
        }
    } else if (tl == 5 && !memcmp(t, "/sink", 5)) {
        if (!post) {
            c->status = 405;
            c->allow = "POST";
        } else {
            c->body_hash = true;
            sha256_init(&c->sha);
        }
    } else {
        c->status = 404;
    }
}

static bool is_tchar(char ch)
{
    /* RFC 9110 §5.6.2 token characters. */
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Parse a complete head in in[in_off..). Returns 1 with the request
 * routed (and in_off past the head), 0 when more bytes are needed, or an
 * error status (400, 431, 501, 505) for a request we cannot read on. */
static int http_parse_head(struct services *s, struct conn *c)
{
    size_t off = c->in_off, ll = 0, nxt;
    /* RFC 9112 §2.2: ignore empty lines before the request line. */
    while ((nxt = next_line(c, off, &ll)) && ll == 0)
        off = nxt;
    if (!nxt) {
        c->in_off = off; /* forget the empty lines */
        return 0;
    }
    /* Is the whole head here? */
    size_t end = nxt, l2;
    for (;;) {
        size_t n2 = next_line(c, end, &l2);
        if (!n2)
            return 0; /* run_http answers 431 when the head fills the buffer */
        end = n2;
        if (l2 == 0)
            break;
    }

    /* request-line = method SP request-target SP HTTP-version */
    const char *line = (const char *)c->in + off;
    const char *sp1 = memchr(line, ' ', ll);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', ll - (size_t)(sp1 + 1 - line)) : NULL;
    if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1)
        return 400;
    const char *ver = sp2 + 1;
    size_t vl = ll - (size_t)(ver - line);
    for (const char *p = line; p < sp1; p++)
        if (!is_tchar(*p))
            return 400;
    if (vl != 8 || memcmp(ver, "HTTP/", 5) || ver[6] != '.' || ver[5] < '0' || ver[5] > '9' ||
        ver[7] < '0' || ver[7] > '9')
        return 400;
    if (ver[5] != '1')
        return 505;
    c->http10 = ver[7] == '0';
    c->keep_alive = !c->http10;
    const char *target = sp1 + 1;
    size_t tl = (size_t)(sp2 - target);
    if (memchr(target, ' ', tl) || target[0] == 0)
        return 400;

    /* Fields. */
    bool have_len = false, have_host = false, chunked = false, expect100 = false;
    uint64_t clen = 0;
    size_t p = nxt;
    for (;;) {
        size_t fl;
        size_t n2 = next_line(c, p, &fl);
        const char *f = (const char *)c->in + p;
        p = n2;
        if (fl == 0)
            break;
        const char *colon = memchr(f, ':', fl);
        if (!colon || colon == f)
            return 400;
        size_t nl = (size_t)(colon - f);
        for (size_t i = 0; i < nl; i++)
            if (!is_tchar(f[i]))
                return 400; /* RFC 9112 §5.1: no whitespace before the colon */
        const char *v = colon + 1;
        size_t vlen = fl - nl - 1;
        while (vlen && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        if (nl == 14 && !strncasecmp(f, "Content-Length", 14)) {
            uint64_t n;
            if (!parse_u64(v, vlen, &n) || (have_len && n != clen))
                return 400; /* RFC 9112 §6.3 item 5 */
            have_len = true;
            clen = n;
        } else if (nl == 17 && !strncasecmp(f, "Transfer-Encoding", 17)) {
            if (vlen == 7 && !strncasecmp(v, "chunked", 7))
                chunked = true;
            else
                return 501; /* RFC 9112 §6.1: unknown coding */
        } else if (nl == 10 && !strncasecmp(f, "Connection", 10)) {
            if (has_token(v, vlen, "close"))
                c->keep_alive = false;
            else if (has_token(v, vlen, "keep-alive"))
                c->keep_alive = true;
        } else if (nl == 4 && !strncasecmp(f, "Host", 4)) {
            if (have_host)
                return 400;
            have_host = true;
        } else if (nl == 6 && !strncasecmp(f, "Expect", 6)) {
            expect100 = vlen == 12 && !strncasecmp(v, "100-continue", 12);
        }
    }
    /* RFC 9112 §3.2: a 1.1 request without Host is a 400. */
    if (!c->http10 && !have_host)
        return 400;
    c->in_off = end;

    c->allow = NULL;
    c->body_hash = false;
    c->body_total = 0;
    c->bytes_n = UINT64_MAX;
    http_route(s, c, line, (size_t)(sp1 - line), target, tl);
    if (chunked) {
        /* RFC 9112 §6.1: chunked wins over Content-Length, and such a
         * message must not be kept alive. */
        c->body = BODY_CHUNKED;
        c->chunk = CH_SIZE;
        c->body_left = 0;
        if (have_len)
            c->keep_alive = false;
    } else if (have_len && clen) {
        c->body = BODY_LENGTH;
        c->body_left = clen;
    } else {
        c->body = BODY_NONE;
    }
    if (c->body_hash && c->body == BODY_LENGTH && clen > s->cfg.sink_max) {
        c->status = 413;
        c->body_hash = false;
        c->keep_alive = false;
        return 1; /* answered at once; the body is never read */
    }
    if (c->body != BODY_NONE && c->status == 200 && !c->body_hash) {
        /* A body where none is expected: read and drop it (bounded by
         * sink_max too), so the connection stays usable. */
        if (c->body == BODY_LENGTH && clen > s->cfg.sink_max) {
            c->status = 413;
            c->keep_alive = false;
            return 1;
        }
    }
    if (expect100 && c->body != BODY_NONE && !c->http10)
        out_printf(c, "HTTP/1.1 100 Continue\r\n\r\n"); /* RFC 9110 §10.1.1 */
    return 1;
}

/* Consume body bytes from the input buffer. Returns 1 when the body is
 * complete, 0 when more input is needed, or an error status. */
static int http_body(struct services *s, struct conn *c)
{
    for (;;) {
        size_t avail = c->in_len - c->in_off;
        if (c->body == BODY_NONE)
            return 1;
        if (c->body == BODY_LENGTH || c->chunk == CH_DATA) {
            size_t k = avail < c->body_left ? avail : (size_t)c->body_left;
            if (c->body_hash)
                sha256_update(&c->sha, c->in + c->in_off, k);
            c->in_off += k;
            c->body_left -= k;
            c->body_total += k;
            if (c->body_left)
                return 0;
            if (c->body == BODY_LENGTH) {
                c->body = BODY_NONE;
                return 1;
            }
            c->chunk = CH_DATA_END;
            continue;
        }
        size_t ll;
        size_t nxt = next_line(c, c->in_off, &ll);
        if (!nxt)
            return 0;
        const char *line = (const char *)c->in + c->in_off;
        c->in_off = nxt;
        switch (c->chunk) {
        case CH_SIZE: {
            /* chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1) */
            uint64_t v = 0;
            size_t i = 0;
            for (; i < ll; i++) {
                char ch = line[i];
                int d = ch >= '0' && ch <= '9'   ? ch - '0'
                        : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                        : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                 : -1;
                if (d < 0)
                    break;
                if (v >> 60)
                    return 400;
                v = v * 16 + (uint64_t)d;
            }
            if (i == 0 || (i < ll && line[i] != ';' && line[i] != ' ' && line[i] != '\t'))
                return 400;
            if (c->body_total + v > s->cfg.sink_max)
                return 413;
            if (v == 0) {
                c->chunk = CH_TRAILER;
            } else {
                c->body_left = v;
                c->chunk = CH_DATA;
            }
            break;
        }
        case CH_DATA_END:
            if (ll != 0)
                return 400;
            c->chunk = CH_SIZE;
            break;
        case CH_TRAILER:
            if (ll == 0) {
                c->body = BODY_NONE;
                return 1;
            }
            break; /* trailer fields are ignored */
        case CH_DATA:
            break;
        }
    }
}

/* Make room at the end of the input buffer: drop parsed bytes. */
static void in_compact(struct conn *c)
{
    if (c->in_off == 0)
        return;
    memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
    c->in_len -= c->in_off;
    c->in_off = 0;
}

/* Answer with an error status and close (the request cannot be read on). */
static void http_fail(struct services *s, struct conn *c, int status)
{
    c->status = status;
    c->allow = NULL;
    c->keep_alive = false;
    c->head_only = false;
    c->body_hash = false;
    c->bytes_n = UINT64_MAX;
    c->out_off = c->out_len = 0; /* a pending 100 Continue is moot */
    http_respond(s, c);
}

static void run_http(struct services *s, struct conn *c)
{
    for (;;) {
        if (c->dead)
            return;
        int f = conn_flush(s, c);
        if (f < 0)
            return;
        if (f == 0 && c->hs != H_HEAD && c->hs != H_BODY)
            return;
        if (f == 0 && c->hs == H_BODY)
            return; /* 100 Continue still queued: send it before reading on */
        switch (c->hs) {
        case H_HEAD: {
            if (f == 0)
                return; /* a response's tail is still going out */
            int r = http_parse_head(s, c);
            if (r == 1) {
                if (c->status != 200 && c->body == BODY_NONE) {
                    http_respond(s, c);
                } else if (c->status == 413) {
                    http_respond(s, c);
                } else {
                    c->hs = H_BODY;
                }
                continue;
            }
            if (r > 1) {
                http_fail(s, c, r);
                continue;
            }
            if (c->rd_eof) {
                conn_close(s, c); /* between requests, or a partial one */
                return;
            }
            in_compact(c);
            if (c->in_len == IN_CAP) {
                http_fail(s, c, 431);
                continue;
            }
            ssize_t n = conn_read(s, c, c->in + c->in_len, IN_CAP - c->in_len);
            if (n == -EAGAIN || n == -1)
                return;
            c->in_len += (size_t)n;
            break;
        }
        case H_BODY: {
            int r = http_body(s, c);
            if (r == 1) {
                http_respond(s, c);
                continue;
            }
            if (r > 1) {
                http_fail(s, c, r);
                continue;
            }
            if (c->rd_eof) {
                conn_close(s, c); /* the body was cut short */
                return;
            }
            in_compact(c);
            if (c->in_len == IN_CAP) {
                http_fail(s, c, 400); /* a chunk-size or trailer line longer than 8 KiB */
                continue;
            }
            ssize_t n = conn_read(s, c, c->in + c->in_len, IN_CAP - c->in_len);
            if (n == -EAGAIN || n == -1)
                return;
            c->in_len += (size_t)n;
            break;
        }
        case H_RESP:
            if (http_fill(c))
                continue;
            /* The response is complete. */
            free(c->resp_buf);
            c->resp_buf = NULL;
            if (c->keep_alive) {
                c->hs = H_HEAD;
                c->last_us = ns_stack_now(s->st);
                continue;
            }
            /* Lingering close: our FIN now, then drop what the client
             * still sends until its FIN, so an unread request body does
             * not turn our close into a RST that could destroy the
             * response before the client has read it. */
            ns_shutdown(s->st, c->fd, SHUT_WR);
            c->hs = H_LINGER;
            c->last_us = ns_stack_now(s->st);
            drain_input(s, c);
            return;
        case H_LINGER:
            drain_input(s, c);
            return;
        }
    }
}

static void conn_run(struct services *s, struct conn *c)
{
    switch (c->svc) {
    case 0: run_echo(s, c); break;
    case 1: run_discard(s, c); break;
    case 2: run_chargen(s, c); break;
    default: run_http(s, c); break;
    }
}

/* What the connection waits for. */
static short conn_events(const struct services *s, const struct conn *c)
{
    bool pending = c->out_off < c->out_len;
    if (c->pause_until_us && conn_paused(s, c))
        return pending ? POLLOUT : 0; /* not reading for now */
    switch (c->svc) {
    case 0: return pending ? POLLOUT : POLLIN;
    case 1: return POLLIN;
    case 2: return POLLIN | POLLOUT;
    default:
        if (c->hs == H_RESP)
            return POLLOUT;
        return pending ? (short)(POLLOUT | POLLIN) : POLLIN;
    }
}

/* ---- listeners and UDP -------------------------------------------------------------- */

/* Room for one more connection pointer. */
static int conns_reserve(struct services *s)
{
    if (s->nconns < s->conns_cap)
        return 0;
    size_t cap = s->conns_cap ? s->conns_cap * 2 : 64;
    struct conn **n = realloc(s->conns, cap * sizeof(*n));
    if (!n)
        return -ENOMEM;
    s->conns = n;
    s->conns_cap = cap;
    return 0;
}

static void accept_all(struct services *s, struct listener *l)
{
    while (s->stats.conns_open < s->cfg.max_conns) {
        int fd = ns_accept4(s->st, l->fd, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                s->stats.accept_errors++;
            return;
        }
        struct conn *c = calloc(1, sizeof(*c));
        if (!c || conns_reserve(s) < 0) {
            free(c);
            ns_close(s->st, fd);
            s->stats.accept_errors++;
            return;
        }
        c->fd = fd;
        c->svc = l->svc;
        c->hs = H_HEAD;
        c->last_us = ns_stack_now(s->st);
        s->conns[s->nconns++] = c;
        s->stats.conns_open++;
        s->stats.conns_total++;
        conn_run(s, c);
    }
}

static void udp_serve(struct services *s, struct listener *l)
{
    for (int i = 0; i < UDP_BURST; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        ssize_t n = ns_recvfrom(s->st, l->fd, s->scratch, 65536, 0, (struct sockaddr *)&peer,
                                &plen);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            continue; /* an ICMP error reported on the socket: go on */
        }
        s->stats.udp_in++;
        size_t out_len;
        switch (l->svc) {
        case 0: /* RFC 862: send the datagram back */
            out_len = (size_t)n;
            break;
        case 2: /* RFC 864: "a random number (between 0 and 512) of characters" */
            out_len = (size_t)(svc_rand(s) % 513u);
            memcpy(s->scratch, s->chargen + l->chargen_line * 74u, out_len);
            l->chargen_line = (l->chargen_line + 1) % 95u;
            break;
        default: /* RFC 863 */
            continue;
        }
        if (ns_sendto(s->st, l->fd, s->scratch, out_len, 0, (struct sockaddr *)&peer, plen) >= 0)
            s->stats.udp_out++;
    }
}

/* ---- the step ------------------------------------------------------------------------ */

/* Close connections whose time is up; free the closed ones. Returns
 * whether a timeout is pending (so the step should not sleep forever). */
static bool sweep(struct services *s)
{
    uint64_t now = ns_stack_now(s->st);
    bool timed = false;
    size_t j = 0;
    for (size_t i = 0; i < s->nconns; i++) {
        struct conn *c = s->conns[i];
        if (!c->dead && c->svc == 3) {
            if (c->hs == H_LINGER) {
                if (now - c->last_us >= LINGER_US)
                    conn_close(s, c);
                else
                    timed = true;
            } else if (c->hs == H_HEAD && c->in_len == c->in_off && c->out_len == 0) {
                if (now - c->last_us >= s->cfg.http_idle_us)
                    conn_close(s, c);
                else
                    timed = true;
            }
        }
        if (!c->dead && c->pause_until_us && conn_paused(s, c))
            timed = true; /* wake up when the pause ends */
        if (c->dead) {
            free(c);
            continue;
        }
        s->conns[j++] = c;
    }
    s->nconns = j;
    return timed;
}

int services_poll(struct services *s, int timeout_ms)
{
    bool timed = sweep(s);
    size_t n = s->nlis + s->nconns + 1; /* the last slot: the watched socket */
    if (n > s->pfds_cap) {
        size_t cap = s->pfds_cap ? s->pfds_cap : 64;
        while (cap < n)
            cap *= 2;
        struct pollfd *p = realloc(s->pfds, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->pfds = p;
        s->pfds_cap = cap;
    }
    for (unsigned i = 0; i < s->nlis; i++) {
        struct listener *l = &s->lis[i];
        bool full = l->type == SOCK_STREAM && s->stats.conns_open >= s->cfg.max_conns;
        s->pfds[i] = (struct pollfd){.fd = full ? -1 : l->fd, .events = POLLIN};
    }
    size_t nconns = s->nconns;
    for (size_t i = 0; i < nconns; i++)
        s->pfds[s->nlis + i] =
            (struct pollfd){.fd = s->conns[i]->fd, .events = conn_events(s, s->conns[i])};
    s->pfds[n - 1] = (struct pollfd){.fd = s->watch_fd, .events = POLLIN};
    if (timed && (timeout_ms < 0 || timeout_ms > SWEEP_MS))
        timeout_ms = SWEEP_MS;
    int ready = ns_poll(s->st, s->pfds, (nfds_t)n, timeout_ms);
    if (ready < 0)
        return -errno;
    if (ready == 0)
        return 0;
    if (s->pfds[n - 1].revents & POLLIN)
        s->watch_cb(s->watch_ctx);
    for (size_t i = 0; i < nconns; i++) {
        struct conn *c = s->conns[i];
        if (s->pfds[s->nlis + i].revents && !c->dead)
            conn_run(s, c);
    }
    for (unsigned i = 0; i < s->nlis; i++) {
        if (!s->pfds[i].revents)
            continue;
        if (s->lis[i].type == SOCK_STREAM)
            accept_all(s, &s->lis[i]);
        else
            udp_serve(s, &s->lis[i]);
    }
    sweep(s);
    return ready;
}

void services_watch(struct services *s, int fd, void (*cb)(void *ctx), void *ctx)
{
    s->watch_fd = fd;
    s->watch_cb = cb;
    s->watch_ctx = ctx;
}

void services_free(struct services *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nconns; i++) {
        conn_close(s, s->conns[i]);
        free(s->conns[i]);
    }
    for (unsigned i = 0; i < s->nlis; i++)
        ns_close(s->st, s->lis[i].fd);
    free(s->conns);
    free(s->pfds);
    free(s->scratch);
    free(s->chargen);
    free(s);
}
