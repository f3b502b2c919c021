/* tools/perf.c — `netsock perf`: an iperf3 client and server on a netsock
 * stack over a real link, speaking iperf3's protocol (tools/perf.h,
 * docs/perf.md), so either side can be the real iperf3.
 *
 *   netsock perf --link tap:t0 --addr 192.0.2.2/24 -s [-1] [-J]
 *   netsock perf --link tap:t0 --addr 192.0.2.2/24 -c 192.0.2.1 [-u -b 10M] [-R] [-P 2] [-t 3]
 *
 * One thread, every socket non-blocking, one ns_poll over the control
 * connection, the listeners and the data streams (ns_poll runs the
 * real-time loop, so the stack moves while we wait). Where iperf3 blocks
 * (the cookie, the JSON exchanges, stream set-up) this waits the same
 * way but with a deadline, so a silent peer cannot hold it forever.
 *
 * Counting follows iperf3 (iperf_api.c, iperf_tcp.c, iperf_udp.c): the
 * sender counts what the socket took, the receiver what it read; UDP
 * datagrams count only while the test runs. Two differences, both so
 * that the two sides' byte counts of a TCP test agree exactly (iperf3's
 * receiver stops counting when TEST_END arrives, with data still on the
 * way): a receiving client reads each stream to its end before it sends
 * its results, and a receiving server, once the client's results name the
 * bytes it sent, reads each stream up to that count (each for at most
 * PERF_DRAIN_MS) before it answers.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>

#include "cli.h"
#include "link.h"
#include "netsock/dev.h"
#include "netsock/os.h"
#include "netsock/socket.h"
#include "perf.h"
#include "tools.h"

#define PERF_CONNECT_MS 10000 /* control and stream connections */
#define PERF_CTRL_MS 30000    /* a message the peer owes us now */
#define PERF_IDLE_MS 120000   /* the peer's next state change, outside the data phase */
#define PERF_DRAIN_MS 5000    /* reading a stream to its end after TEST_END */
#define PERF_SERVER_GRACE_US 5000000ull /* iperf3: a server gives up 5 s after time + omit */
#define PERF_BURST 16         /* socket calls per stream per wake-up */

struct pstream {
    int fd, id;
    int sock; /* the descriptor as printed ("[  5]", "socket"), kept after close */
    bool sender, eof;
    struct sockaddr_in local, remote;
    uint64_t bytes;      /* sent (taken by the socket) or received */
    uint64_t bytes_omit; /* sender: of them, sent while omitting */
    uint64_t iv_bytes;   /* bytes at the start of the current interval */
    /* UDP */
    uint64_t packets; /* sender: datagrams sent, the last sequence number */
    struct perf_udp_rx rx;
    uint64_t bad_datagrams; /* receiver: too short for the header */
    uint64_t iv_packets, iv_errors;
    uint64_t omit_packets, omit_errors, omit_ooo;
    /* TCP sender (TCP_INFO) */
    uint32_t retrans_base, iv_retrans_base;
    uint32_t max_cwnd, max_rtt, min_rtt;
    uint64_t sum_rtt, n_rtt;
    /* the peer's results for this stream */
    bool have_peer;
    struct perf_stream_result peer;
};

/* One stream's interval, as it is printed. */
struct piv {
    double st, et, dur;
    uint64_t bytes;
    int64_t retrans;
    uint32_t cwnd, rtt, rttvar, pmtu;
    uint64_t packets, errors;
    double jitter_s;
    bool omitted;
};

struct perf {
    /* options */
    bool server, json, one_off, udp64, len_set, rate_set;
    const char *host;
    uint16_t port;
    double interval_s;
    struct perf_params p; /* client: what it asks for; server: what it was asked */
    /* the stack */
    struct ns_stack *st;
    struct ns_loop *loop;
    int ifindex;
    /* the test */
    char cookie[PERF_COOKIE_SIZE];
    int ctrl, listener, udp_listener;
    bool listener_tuned; /* the listener carries the test's TCP options */
    int state;
    bool sender; /* this side sends the data */
    struct pstream s[PERF_MAX_STREAMS];
    int n, next_id;
    uint64_t t0_us, t_end_us, iv_start_us, next_iv_us, deadline_us, omit_end_us;
    uint64_t next_event_us; /* the next interval or the end: senders yield to it */
    bool omitting, header_printed;
    uint8_t *buf;
    size_t buflen;
    uint32_t ctrl_mss;
    int test_no;
    /* CPU use over the test, percent: total, user, system */
    struct rusage ru0;
    uint64_t cpu_t0_us;
    double cpu[3], remote_cpu[3];
    int sender_has_retransmits; /* the sending side's, as known here */
    char remote_cc[16];
    /* -J */
    cJSON *top, *jstart, *jconnected, *jintervals, *jend;
};

/* ---- output ------------------------------------------------------------------------ */

static const char sep_line[] = "- - - - - - - - - - - - - - - - - - - - - - - - -\n";

/* Text output: suppressed under -J (iperf3 prints only the JSON). */
static void out(struct perf *pf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(struct perf *pf, const char *fmt, ...)
{
    if (pf->json)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

/* An error: under -J it becomes the document's "error" member (iperf3's
 * shape), otherwise a line on stderr. */
static void perr(struct perf *pf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr(struct perf *pf, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (pf->json && pf->top) {
        cJSON_DeleteItemFromObject(pf->top, "error");
        cJSON_AddStringToObject(pf->top, "error", msg);
    } else {
        fprintf(stderr, "netsock perf: %s\n", msg);
    }
}

static double secs(uint64_t a_us, uint64_t b_us)
{
    return b_us > a_us ? (double)(b_us - a_us) / 1e6 : 0.0;
}

/* Seconds rounded to the microsecond, as iperf3 prints "start"/"end". */
static double usec_round(double s)
{
    return round(s * 1e6) / 1e6;
}

static void json_begin(struct perf *pf)
{
    if (!pf->json)
        return;
    cJSON_Delete(pf->top);
    pf->top = cJSON_CreateObject();
    pf->jstart = cJSON_AddObjectToObject(pf->top, "start");
    pf->jconnected = cJSON_AddArrayToObject(pf->jstart, "connected");
    pf->jintervals = cJSON_AddArrayToObject(pf->top, "intervals");
    pf->jend = cJSON_AddObjectToObject(pf->top, "end");
    cJSON_AddStringToObject(pf->jstart, "version", "netsock " NS_VERSION " (iperf 3.12 protocol)");
    struct utsname u;
    char sys[512] = "";
    if (uname(&u) == 0)
        snprintf(sys, sizeof(sys), "%s %s %s %s %s", u.sysname, u.nodename, u.release, u.version,
                 u.machine);
    cJSON_AddStringToObject(pf->jstart, "system_info", sys);
}

/* Print the document and start afresh (iperf_json_finish). */
static void json_finish(struct perf *pf)
{
    if (!pf->json || !pf->top)
        return;
    char *s = cJSON_Print(pf->top);
    if (s) {
        printf("%s\n", s);
        free(s);
    }
    fflush(stdout);
    cJSON_Delete(pf->top);
    pf->top = NULL;
}

static void json_timestamp(struct perf *pf)
{
    if (!pf->json)
        return;
    time_t now = time(NULL);
    struct tm tm;
    char buf[64];
    gmtime_r(&now, &tm);
    strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cJSON *t = cJSON_AddObjectToObject(pf->jstart, "timestamp");
    cJSON_AddStringToObject(t, "time", buf);
    cJSON_AddNumberToObject(t, "timesecs", (double)now);
}

static void fmt_addr(const struct sockaddr_in *a, char *buf, size_t n)
{
    inet_ntop(AF_INET, &a->sin_addr, buf, (socklen_t)n);
}

/* "[  5] local A port P connected to B port Q" and start.connected[]. */
static void connected_msg(struct perf *pf, const struct pstream *s)
{
    char l[INET_ADDRSTRLEN], r[INET_ADDRSTRLEN];
    fmt_addr(&s->local, l, sizeof(l));
    fmt_addr(&s->remote, r, sizeof(r));
    out(pf, "[%3d] local %s port %u connected to %s port %u\n", s->sock, l, ntohs(s->local.sin_port),
        r, ntohs(s->remote.sin_port));
    if (pf->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "socket", s->sock);
        cJSON_AddStringToObject(o, "local_host", l);
        cJSON_AddNumberToObject(o, "local_port", ntohs(s->local.sin_port));
        cJSON_AddStringToObject(o, "remote_host", r);
        cJSON_AddNumberToObject(o, "remote_port", ntohs(s->remote.sin_port));
        cJSON_AddItemToArray(pf->jconnected, o);
    }
}

static void json_test_start(struct perf *pf)
{
    if (!pf->json)
        return;
    const struct perf_params *p = &pf->p;
    cJSON_AddNumberToObject(pf->jstart, "target_bitrate", (double)p->rate);
    cJSON_AddNumberToObject(pf->jstart, "sock_bufsize", p->window);
    if (pf->n > 0) {
        int v = 0;
        socklen_t len = sizeof(v);
        if (ns_getsockopt(pf->st, pf->s[0].fd, SOL_SOCKET, SO_SNDBUF, &v, &len) == 0)
            cJSON_AddNumberToObject(pf->jstart, "sndbuf_actual", v);
        len = sizeof(v);
        if (ns_getsockopt(pf->st, pf->s[0].fd, SOL_SOCKET, SO_RCVBUF, &v, &len) == 0)
            cJSON_AddNumberToObject(pf->jstart, "rcvbuf_actual", v);
    }
    cJSON *t = cJSON_AddObjectToObject(pf->jstart, "test_start");
    cJSON_AddStringToObject(t, "protocol", p->udp ? "UDP" : "TCP");
    cJSON_AddNumberToObject(t, "num_streams", p->parallel);
    cJSON_AddNumberToObject(t, "blksize", p->len);
    cJSON_AddNumberToObject(t, "omit", p->omit);
    cJSON_AddNumberToObject(t, "duration", p->duration);
    cJSON_AddNumberToObject(t, "bytes", (double)p->bytes);
    cJSON_AddNumberToObject(t, "blocks", (double)p->blocks);
    cJSON_AddNumberToObject(t, "reverse", p->reverse);
    cJSON_AddNumberToObject(t, "tos", p->tos);
    cJSON_AddNumberToObject(t, "target_bitrate", (double)p->rate);
}

/* ---- control-connection I/O with deadlines ------------------------------------------- */

static uint64_t deadline_in(int ms)
{
    return ns_clock_now_us() + (uint64_t)ms * 1000u;
}

/* Read whatever the receiving streams have, so a peer that is still
 * sending is never stuck behind us while we wait for a control message;
 * bytes count only as perf_recv_stream counts them. */
static void pump_receivers(struct perf *pf);

/* Wait until fd is ready for `events` (POLLIN/POLLOUT) or the deadline.
 * Returns 0, -ETIMEDOUT, or -EINTR (a caught signal). */
static int wait_fd(struct perf *pf, int fd, short events, uint64_t deadline_us)
{
    for (;;) {
        if (ns_loop_stopped(pf->loop))
            return -EINTR;
        uint64_t now = ns_clock_now_us();
        if (now >= deadline_us)
            return -ETIMEDOUT;
        uint64_t left_ms = (deadline_us - now + 999) / 1000;
        struct pollfd q = {.fd = fd, .events = events};
        int n = ns_poll(pf->st, &q, 1, left_ms > 100 ? 100 : (int)left_ms);
        if (n < 0 && errno == EINTR)
            return -EINTR;
        if (n > 0)
            return 0;
        pump_receivers(pf);
    }
}

/* Read exactly len bytes. Returns 0, or a negative errno: -ETIMEDOUT,
 * -EINTR, -ECONNRESET for an early end of the stream, or the socket's. */
static int read_full(struct perf *pf, int fd, void *buf, size_t len, uint64_t deadline_us)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = ns_recv(pf->st, fd, p, len, MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0)
            return -ECONNRESET;
        if (errno != EAGAIN)
            return -errno;
        int rc = wait_fd(pf, fd, POLLIN, deadline_us);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int write_full(struct perf *pf, int fd, const void *buf, size_t len, uint64_t deadline_us)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = ns_send(pf->st, fd, p, len, MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN)
            return -errno;
        int rc = wait_fd(pf, fd, POLLOUT, deadline_us);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int send_state(struct perf *pf, int state)
{
    int8_t b = (int8_t)state;
    pf->state = state;
    return write_full(pf, pf->ctrl, &b, 1, deadline_in(PERF_CTRL_MS));
}

/* One length-prefixed JSON message (JSON_write). */
static int write_json(struct perf *pf, const char *s)
{
    size_t len = strlen(s);
    uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                      (uint8_t)len};
    uint64_t dl = deadline_in(PERF_CTRL_MS);
    int rc = write_full(pf, pf->ctrl, hdr, 4, dl);
    return rc < 0 ? rc : write_full(pf, pf->ctrl, s, len, dl);
}

/* Read one length-prefixed JSON message into a malloc'd, NUL-terminated
 * buffer. A length above PERF_MAX_JSON is refused (-EMSGSIZE) before
 * anything is allocated. */
static int read_json(struct perf *pf, char **outp, size_t *lenp)
{
    uint64_t dl = deadline_in(PERF_CTRL_MS);
    uint8_t hdr[4];
    int rc = read_full(pf, pf->ctrl, hdr, 4, dl);
    if (rc < 0)
        return rc;
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (len > PERF_MAX_JSON)
        return -EMSGSIZE;
    char *s = malloc(len + 1);
    if (!s)
        return -ENOMEM;
    rc = read_full(pf, pf->ctrl, s, len, dl);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s[len] = 0;
    *outp = s;
    *lenp = len;
    return 0;
}

static const char *errtext(int rc)
{
    return rc == -ECONNRESET ? "the connection closed" : rc == -EMSGSIZE ? "message too long"
                                                                         : strerror(-rc);
}

/* ---- streams -------------------------------------------------------------------------- */

/* iperf3 numbers its streams 1, 3, 4, 5, ... (iperf_add_stream counts
 * from 2 and then once more per stream already there) and both sides
 * match results by these numbers, so they must be the same here. */
static int stream_id(int existing)
{
    return existing == 0 ? 1 : existing + 2;
}

static struct pstream *stream_add(struct perf *pf, int fd, bool sender)
{
    struct pstream *s = &pf->s[pf->n];
    memset(s, 0, sizeof(*s));
    s->fd = s->sock = fd;
    s->sender = sender;
    s->id = stream_id(pf->n);
    pf->n++;
    socklen_t len = sizeof(s->local);
    ns_getsockname(pf->st, fd, (struct sockaddr *)&s->local, &len);
    len = sizeof(s->remote);
    ns_getpeername(pf->st, fd, (struct sockaddr *)&s->remote, &len);
    int one = 1;
    if (!pf->p.udp && pf->p.nodelay)
        ns_setsockopt(pf->st, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (pf->p.tos)
        ns_setsockopt(pf->st, fd, IPPROTO_IP, IP_TOS, &pf->p.tos, sizeof(pf->p.tos));
    if (pf->p.window) {
        ns_setsockopt(pf->st, fd, SOL_SOCKET, SO_SNDBUF, &pf->p.window, sizeof(pf->p.window));
        ns_setsockopt(pf->st, fd, SOL_SOCKET, SO_RCVBUF, &pf->p.window, sizeof(pf->p.window));
    }
    if (!pf->p.udp && pf->p.congestion[0])
        ns_setsockopt(pf->st, fd, IPPROTO_TCP, TCP_CONGESTION, pf->p.congestion,
                      (socklen_t)strlen(pf->p.congestion));
    connected_msg(pf, s);
    return s;
}

static void streams_close(struct perf *pf)
{
    for (int i = 0; i < pf->n; i++) {
        if (pf->s[i].fd >= 0)
            ns_close(pf->st, pf->s[i].fd);
        pf->s[i].fd = -1;
    }
}

/* The socket's TCP_INFO, zeroed when it has none. */
static void tcp_info_get(struct perf *pf, int fd, struct tcp_info *ti)
{
    memset(ti, 0, sizeof(*ti));
    socklen_t len = sizeof(*ti);
    if (fd < 0 || ns_getsockopt(pf->st, fd, IPPROTO_TCP, TCP_INFO, ti, &len) < 0)
        memset(ti, 0, sizeof(*ti));
}

/* The current byte counter that intervals and results use. */
static uint64_t stream_bytes(const struct pstream *s)
{
    return s->bytes;
}

static uint64_t stream_packets(const struct pstream *s)
{
    return s->sender ? s->packets : s->rx.packet_count;
}

/* The test starts (TEST_START): counters and the clock of the intervals. */
static void test_clock_start(struct perf *pf)
{
    uint64_t now = ns_clock_now_us();
    pf->t0_us = pf->iv_start_us = now;
    pf->interval_s = pf->interval_s < 0 ? 0 : pf->interval_s;
    pf->next_iv_us = pf->interval_s > 0 ? now + (uint64_t)(pf->interval_s * 1e6) : NS_TIME_NEVER;
    pf->omitting = pf->p.omit > 0;
    pf->omit_end_us = pf->omitting ? now + (uint64_t)pf->p.omit * 1000000u : NS_TIME_NEVER;
    pf->header_printed = false;
    getrusage(RUSAGE_SELF, &pf->ru0);
    pf->cpu_t0_us = now;
    for (int i = 0; i < pf->n; i++) {
        struct tcp_info ti;
        tcp_info_get(pf, pf->s[i].fd, &ti);
        pf->s[i].retrans_base = pf->s[i].iv_retrans_base = ti.tcpi_total_retrans;
    }
}

/* The omit period is over: what was counted so far is left out
 * (iperf_reset_stats), and the intervals count from zero again. */
static void omit_done(struct perf *pf, uint64_t now)
{
    pf->omitting = false;
    pf->omit_end_us = NS_TIME_NEVER;
    pf->t0_us = pf->iv_start_us = now;
    if (pf->interval_s > 0)
        pf->next_iv_us = now + (uint64_t)(pf->interval_s * 1e6);
    for (int i = 0; i < pf->n; i++) {
        struct pstream *s = &pf->s[i];
        if (s->sender) {
            s->bytes_omit = s->bytes;
        } else {
            s->bytes = 0;
        }
        s->iv_bytes = s->bytes;
        s->omit_packets = s->iv_packets = stream_packets(s);
        s->omit_errors = s->iv_errors = s->rx.cnt_error;
        s->omit_ooo = s->rx.outoforder;
        s->rx.jitter_s = 0;
        struct tcp_info ti;
        tcp_info_get(pf, s->fd, &ti);
        s->retrans_base = s->iv_retrans_base = ti.tcpi_total_retrans;
    }
}

static void cpu_measure(struct perf *pf)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double wall = secs(pf->cpu_t0_us, ns_clock_now_us());
    double user = (double)(ru.ru_utime.tv_sec - pf->ru0.ru_utime.tv_sec) +
                  (double)(ru.ru_utime.tv_usec - pf->ru0.ru_utime.tv_usec) / 1e6;
    double sys = (double)(ru.ru_stime.tv_sec - pf->ru0.ru_stime.tv_sec) +
                 (double)(ru.ru_stime.tv_usec - pf->ru0.ru_stime.tv_usec) / 1e6;
    if (wall <= 0)
        wall = 1e-6;
    pf->cpu[1] = 100.0 * user / wall;
    pf->cpu[2] = 100.0 * sys / wall;
    pf->cpu[0] = pf->cpu[1] + pf->cpu[2];
}

/* ---- intervals ------------------------------------------------------------------------ */

static void print_interval_header(struct perf *pf)
{
    if (!pf->p.udp)
        out(pf, pf->sender && pf->sender_has_retransmits
                    ? "[ ID] Interval           Transfer     Bitrate         Retr  Cwnd\n"
                    : "[ ID] Interval           Transfer     Bitrate\n");
    else
        out(pf, pf->sender ? "[ ID] Interval           Transfer     Bitrate         Total Datagrams\n"
                           : "[ ID] Interval           Transfer     Bitrate         Jitter    "
                             "Lost/Total Datagrams\n");
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* One interval line (a stream's, or with id < 0 the [SUM]). */
static void print_iv_line(struct perf *pf, int id, const struct piv *v)
{
    char idb[16], tb[24], rb[24], cb[24];
    if (id < 0)
        snprintf(idb, sizeof(idb), "SUM");
    else
        snprintf(idb, sizeof(idb), "%3d", id);
    perf_fmt_bytes(tb, sizeof(tb), (double)v->bytes);
    perf_fmt_rate(rb, sizeof(rb), v->dur > 0 ? (double)v->bytes / v->dur : 0.0);
    const char *om = v->omitted ? "(omitted)" : "";
    if (!pf->p.udp) {
        if (pf->sender && pf->sender_has_retransmits && id >= 0) {
            perf_fmt_bytes(cb, sizeof(cb), (double)v->cwnd);
            out(pf, "[%s] %6.2f-%-6.2f sec  %s  %s  %3" PRId64 "   %s       %s\n", idb, v->st, v->et,
                tb, rb, v->retrans, cb, om);
        } else if (pf->sender && pf->sender_has_retransmits) {
            out(pf, "[%s] %6.2f-%-6.2f sec  %s  %s  %3" PRId64 "             %s\n", idb, v->st, v->et,
                tb, rb, v->retrans, om);
        } else {
            out(pf, "[%s] %6.2f-%-6.2f sec  %s  %s                  %s\n", idb, v->st, v->et, tb, rb,
                om);
        }
    } else if (pf->sender) {
        out(pf, "[%s] %6.2f-%-6.2f sec  %s  %s  %" PRIu64 "  %s\n", idb, v->st, v->et, tb, rb,
            v->packets, om);
    } else {
        out(pf, "[%s] %6.2f-%-6.2f sec  %s  %s  %5.3f ms  %" PRIu64 "/%" PRIu64 " (%.2g%%)  %s\n",
            idb, v->st, v->et, tb, rb, v->jitter_s * 1000.0, v->errors, v->packets,
            pct(v->errors, v->packets), om);
    }
}

static cJSON *iv_json(struct perf *pf, int fd, const struct piv *v, bool sum)
{
    cJSON *o = cJSON_CreateObject();
    if (!sum)
        cJSON_AddNumberToObject(o, "socket", fd);
    cJSON_AddNumberToObject(o, "start", usec_round(v->st));
    cJSON_AddNumberToObject(o, "end", usec_round(v->et));
    cJSON_AddNumberToObject(o, "seconds", v->dur);
    cJSON_AddNumberToObject(o, "bytes", (double)v->bytes);
    cJSON_AddNumberToObject(o, "bits_per_second", v->dur > 0 ? (double)v->bytes * 8 / v->dur : 0);
    if (!pf->p.udp && pf->sender && pf->sender_has_retransmits) {
        cJSON_AddNumberToObject(o, "retransmits", (double)v->retrans);
        if (!sum) {
            cJSON_AddNumberToObject(o, "snd_cwnd", v->cwnd);
            cJSON_AddNumberToObject(o, "rtt", v->rtt);
            cJSON_AddNumberToObject(o, "rttvar", v->rttvar);
            cJSON_AddNumberToObject(o, "pmtu", v->pmtu);
        }
    } else if (pf->p.udp && pf->sender) {
        cJSON_AddNumberToObject(o, "packets", (double)v->packets);
    } else if (pf->p.udp) {
        cJSON_AddNumberToObject(o, "jitter_ms", v->jitter_s * 1000.0);
        cJSON_AddNumberToObject(o, "lost_packets", (double)v->errors);
        cJSON_AddNumberToObject(o, "packets", (double)v->packets);
        cJSON_AddNumberToObject(o, "lost_percent", pct(v->errors, v->packets));
    }
    cJSON_AddBoolToObject(o, "omitted", v->omitted);
    cJSON_AddBoolToObject(o, "sender", pf->sender);
    return o;
}

/* Close the interval that ends now (iperf_stats_callback) and print it
 * (iperf_print_intermediate): one line per stream and, with several
 * streams, their sum. Like iperf3, an interval shorter than a tenth of
 * -i in which nothing moved is left out (the tail after the last full
 * interval, usually). */
static void interval_close(struct perf *pf, uint64_t now)
{
    struct piv v[PERF_MAX_STREAMS], sum;
    memset(&sum, 0, sizeof(sum));
    bool keep = false;
    uint32_t mtu = 0;
    struct ns_dev *dev = ns_if_dev(pf->st, pf->ifindex);
    if (dev)
        mtu = dev->mtu;
    for (int i = 0; i < pf->n; i++) {
        struct pstream *s = &pf->s[i];
        struct piv *x = &v[i];
        memset(x, 0, sizeof(*x));
        x->st = secs(pf->t0_us, pf->iv_start_us);
        x->et = secs(pf->t0_us, now);
        x->dur = secs(pf->iv_start_us, now);
        x->omitted = pf->omitting;
        x->bytes = stream_bytes(s) - s->iv_bytes;
        s->iv_bytes = stream_bytes(s);
        if (!pf->p.udp && s->sender && s->fd >= 0) {
            struct tcp_info ti;
            tcp_info_get(pf, s->fd, &ti);
            x->retrans = (int64_t)(ti.tcpi_total_retrans - s->iv_retrans_base);
            s->iv_retrans_base = ti.tcpi_total_retrans;
            x->cwnd = ti.tcpi_snd_cwnd * ti.tcpi_snd_mss;
            x->rtt = ti.tcpi_rtt;
            x->rttvar = ti.tcpi_rttvar;
            x->pmtu = mtu;
            if (!pf->omitting) {
                if (x->cwnd > s->max_cwnd)
                    s->max_cwnd = x->cwnd;
                if (x->rtt > s->max_rtt)
                    s->max_rtt = x->rtt;
                if (s->min_rtt == 0 || x->rtt < s->min_rtt)
                    s->min_rtt = x->rtt;
                s->sum_rtt += x->rtt;
                s->n_rtt++;
            }
        } else if (pf->p.udp) {
            x->packets = stream_packets(s) - s->iv_packets;
            s->iv_packets = stream_packets(s);
            x->errors = s->rx.cnt_error - s->iv_errors;
            s->iv_errors = s->rx.cnt_error;
            x->jitter_s = s->rx.jitter_s;
        }
        if (x->dur >= pf->interval_s * 0.1 || x->bytes > 0)
            keep = true;
        sum.st = x->st;
        sum.et = x->et;
        sum.dur = x->dur;
        sum.omitted = x->omitted;
        sum.bytes += x->bytes;
        sum.retrans += x->retrans;
        sum.packets += x->packets;
        sum.errors += x->errors;
        sum.jitter_s += x->jitter_s / pf->n;
    }
    pf->iv_start_us = now;
    if (!keep || pf->n == 0)
        return;
    if (!pf->header_printed) {
        print_interval_header(pf);
        pf->header_printed = true;
    } else if (pf->n > 1) {
        out(pf, "%s", sep_line);
    }
    cJSON *ja = NULL;
    if (pf->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(pf->jintervals, o);
        ja = cJSON_AddArrayToObject(o, "streams");
        cJSON_AddItemToObject(o, "sum", iv_json(pf, -1, &sum, true));
    }
    for (int i = 0; i < pf->n; i++) {
        print_iv_line(pf, pf->s[i].sock, &v[i]);
        if (ja)
            cJSON_AddItemToArray(ja, iv_json(pf, pf->s[i].sock, &v[i], false));
    }
    if (pf->n > 1)
        print_iv_line(pf, -1, &sum);
    if (!pf->json)
        fflush(stdout);
}

/* ---- the data ------------------------------------------------------------------------- */

/* May this stream send now? With a rate (-b), only while its average
 * since the start stays below it (iperf_check_throttle). */
static bool green_light(struct perf *pf, const struct pstream *s, uint64_t now)
{
    if (pf->p.rate == 0)
        return true;
    return (double)s->bytes * 8.0 < (double)pf->p.rate * secs(pf->t0_us, now);
}

/* Stop sending at "num" bytes or "blockcount" blocks (a server in
 * reverse mode; the client's end otherwise). */
static bool send_limit_reached(struct perf *pf)
{
    if (!pf->p.bytes && !pf->p.blocks)
        return false;
    uint64_t bytes = 0, blocks = 0;
    for (int i = 0; i < pf->n; i++) {
        bytes += pf->s[i].bytes;
        blocks += pf->p.len ? pf->s[i].bytes / (uint64_t)pf->p.len : 0;
    }
    return (pf->p.bytes && bytes >= pf->p.bytes) || (pf->p.blocks && blocks >= pf->p.blocks);
}

static void send_stream(struct perf *pf, struct pstream *s, uint64_t now)
{
    for (int k = 0; k < PERF_BURST && s->fd >= 0; k++) {
        if (!green_light(pf, s, now) || send_limit_reached(pf))
            return;
        /* Each TCP write can run the stack's output for a while: an
         * interval's end or the test's comes first. */
        if (k && ns_clock_now_us() >= pf->next_event_us)
            return;
        ssize_t n;
        if (pf->p.udp) {
            uint64_t t = ns_clock_now_us();
            struct perf_udp_hdr h = {.sec = (uint32_t)(t / 1000000u),
                                     .usec = (uint32_t)(t % 1000000u),
                                     .seq = s->packets + 1};
            perf_udp_hdr_encode(pf->buf, &h, pf->p.udp64);
            n = ns_send(pf->st, s->fd, pf->buf, (size_t)pf->p.len, MSG_DONTWAIT);
            if (n > 0)
                s->packets++;
        } else {
            n = ns_send(pf->st, s->fd, pf->buf, (size_t)pf->p.len, MSG_DONTWAIT);
        }
        if (n < 0) {
            /* A full device queue (UDP: ENOBUFS) or socket buffer:
             * later. A peer that went away: the stream is over. */
            if (errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED) {
                s->eof = true;
                ns_close(pf->st, s->fd);
                s->fd = -1;
            }
            return;
        }
        s->bytes += (uint64_t)n;
    }
}

/* Read a receiving stream until it would block; `count` says whether
 * what arrives counts (UDP: only while the test runs). */
static void recv_stream(struct perf *pf, struct pstream *s, bool count)
{
    for (int k = 0; k < PERF_BURST * 4 && s->fd >= 0 && !s->eof; k++) {
        ssize_t n = ns_recv(pf->st, s->fd, pf->buf, pf->buflen, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || (pf->p.udp && errno == ECONNREFUSED))
                return;
            s->eof = true; /* reset: the peer is gone */
            return;
        }
        if (n == 0 && !pf->p.udp) {
            s->eof = true;
            return;
        }
        if (!count)
            continue;
        if (pf->p.udp) {
            struct perf_udp_hdr h;
            if (perf_udp_hdr_decode(pf->buf, (size_t)n, pf->p.udp64, &h) < 0) {
                s->bad_datagrams++;
                continue;
            }
            perf_udp_rx_datagram(&s->rx, &h, ns_clock_now_us());
        }
        s->bytes += (uint64_t)n;
    }
}

static void pump_receivers(struct perf *pf)
{
    for (int i = 0; i < pf->n; i++)
        if (!pf->s[i].sender)
            recv_stream(pf, &pf->s[i], !pf->p.udp);
}

/* Read every receiving TCP stream until its end, or until `want` (per
 * stream, from the peer's results; NULL: to the end) bytes arrived, for
 * at most PERF_DRAIN_MS. What arrives counts. */
static void drain_streams(struct perf *pf, bool to_peer_count)
{
    if (pf->p.udp)
        return;
    uint64_t dl = deadline_in(PERF_DRAIN_MS);
    for (;;) {
        struct pollfd q[PERF_MAX_STREAMS];
        int nq = 0;
        for (int i = 0; i < pf->n; i++) {
            struct pstream *s = &pf->s[i];
            if (s->sender || s->fd < 0 || s->eof)
                continue;
            if (to_peer_count && (!s->have_peer || s->bytes >= s->peer.bytes))
                continue;
            recv_stream(pf, s, true);
            if (!s->eof && !(to_peer_count && s->bytes >= s->peer.bytes))
                q[nq++] = (struct pollfd){.fd = s->fd, .events = POLLIN};
        }
        uint64_t now = ns_clock_now_us();
        if (nq == 0 || now >= dl || ns_loop_stopped(pf->loop))
            return;
        ns_poll(pf->st, q, (nfds_t)nq, 10);
    }
}

/* ---- results -------------------------------------------------------------------------- */

static void results_build(struct perf *pf, struct perf_results *r)
{
    memset(r, 0, sizeof(*r));
    r->cpu_total = pf->cpu[0];
    r->cpu_user = pf->cpu[1];
    r->cpu_system = pf->cpu[2];
    r->sender_has_retransmits = !pf->sender ? -1 : pf->p.udp ? 0 : 1;
    if (!pf->p.udp && pf->n > 0) {
        char cc[16] = "";
        socklen_t len = sizeof(cc) - 1;
        if (pf->s[0].fd >= 0 &&
            ns_getsockopt(pf->st, pf->s[0].fd, IPPROTO_TCP, TCP_CONGESTION, cc, &len) == 0)
            snprintf(r->congestion_used, sizeof(r->congestion_used), "%s", cc);
    }
    r->nstreams = pf->n;
    double end = secs(pf->t0_us, pf->t_end_us);
    for (int i = 0; i < pf->n; i++) {
        const struct pstream *s = &pf->s[i];
        struct perf_stream_result *o = &r->streams[i];
        o->id = s->id;
        o->bytes = s->sender ? s->bytes - s->bytes_omit : s->bytes;
        o->retransmits = s->sender && !pf->p.udp ? (int64_t)(s->iv_retrans_base - s->retrans_base)
                                                 : -1;
        o->jitter_s = s->rx.jitter_s;
        o->errors = (int64_t)(s->rx.cnt_error - s->omit_errors);
        o->omitted_errors = (int64_t)s->omit_errors;
        o->packets = (int64_t)(stream_packets(s) - s->omit_packets);
        o->omitted_packets = (int64_t)s->omit_packets;
        o->start_time = 0;
        o->end_time = end;
    }
}

/* Take the peer's results (get_results): each stream by its id. */
static int results_apply(struct perf *pf, const struct perf_results *r)
{
    pf->remote_cpu[0] = r->cpu_total;
    pf->remote_cpu[1] = r->cpu_user;
    pf->remote_cpu[2] = r->cpu_system;
    if (!pf->sender)
        pf->sender_has_retransmits = r->sender_has_retransmits == 1;
    snprintf(pf->remote_cc, sizeof(pf->remote_cc), "%s", r->congestion_used);
    for (int i = 0; i < r->nstreams; i++) {
        int k = 0;
        while (k < pf->n && pf->s[k].id != r->streams[i].id)
            k++;
        if (k == pf->n) {
            perr(pf, "the peer's results name stream %d, which this test does not have",
                 r->streams[i].id);
            return -1;
        }
        pf->s[k].have_peer = true;
        pf->s[k].peer = r->streams[i];
    }
    return 0;
}

/* Exchange results (iperf_exchange_results): the client sends first. */
static int results_exchange(struct perf *pf)
{
    struct perf_results *mine = malloc(sizeof(*mine)), *theirs = malloc(sizeof(*theirs));
    char *js = NULL, *in = NULL;
    int rc = -1;
    if (!mine || !theirs)
        goto out;
    size_t len;
    char err[128];
    int e;
    if (pf->server) {
        if ((e = read_json(pf, &in, &len)) < 0) {
            perr(pf, "reading the client's results: %s", errtext(e));
            goto out;
        }
        if (perf_results_parse(in, len, theirs, err, sizeof(err)) < 0) {
            perr(pf, "the client's results: %s", err);
            goto out;
        }
        if (results_apply(pf, theirs) < 0)
            goto out;
        drain_streams(pf, true);
    }
    results_build(pf, mine);
    js = perf_results_json(mine);
    if (!js || (e = write_json(pf, js)) < 0) {
        perr(pf, "sending results: %s", js ? errtext(e) : "out of memory");
        goto out;
    }
    if (!pf->server) {
        if ((e = read_json(pf, &in, &len)) < 0) {
            perr(pf, "reading the server's results: %s", errtext(e));
            goto out;
        }
        if (perf_results_parse(in, len, theirs, err, sizeof(err)) < 0) {
            perr(pf, "the server's results: %s", err);
            goto out;
        }
        if (results_apply(pf, theirs) < 0)
            goto out;
    }
    rc = 0;
out:
    free(js);
    free(in);
    free(mine);
    free(theirs);
    return rc;
}

/* ---- the summary ---------------------------------------------------------------------- */

struct side {
    uint64_t bytes;
    double time;
    int64_t retrans;
    uint64_t packets, errors, ooo;
    double jitter_s;
};

/* The sending and the receiving side of stream s, from our counters and
 * the peer's results. */
static void stream_sides(struct perf *pf, const struct pstream *s, struct side *snd,
                         struct side *rcv)
{
    double own = secs(pf->t0_us, pf->t_end_us);
    double peer = s->have_peer && s->peer.end_time > s->peer.start_time
                      ? s->peer.end_time - s->peer.start_time
                      : own;
    memset(snd, 0, sizeof(*snd));
    memset(rcv, 0, sizeof(*rcv));
    if (s->sender) {
        snd->bytes = s->bytes - s->bytes_omit;
        snd->time = own;
        snd->retrans = (int64_t)(s->iv_retrans_base - s->retrans_base);
        snd->packets = s->packets - s->omit_packets;
        rcv->bytes = s->have_peer ? s->peer.bytes : 0;
        rcv->time = peer;
        rcv->packets = s->have_peer ? (uint64_t)s->peer.packets : 0;
        rcv->errors = s->have_peer ? (uint64_t)s->peer.errors : 0;
        rcv->jitter_s = s->have_peer ? s->peer.jitter_s : 0;
    } else {
        snd->bytes = s->have_peer ? s->peer.bytes : 0;
        snd->time = peer;
        snd->retrans = s->have_peer ? s->peer.retransmits : 0;
        snd->packets = s->have_peer ? (uint64_t)s->peer.packets : 0;
        rcv->bytes = s->bytes;
        rcv->time = own;
        rcv->packets = s->rx.packet_count - s->omit_packets;
        rcv->errors = s->rx.cnt_error - s->omit_errors;
        rcv->ooo = s->rx.outoforder - s->omit_ooo;
        rcv->jitter_s = s->rx.jitter_s;
    }
}

static double rate_of(const struct side *x)
{
    return x->time > 0 ? (double)x->bytes / x->time : 0.0;
}

/* A summary line: [ID] or [SUM], the side's numbers, "sender"/"receiver". */
static void print_sum_line(struct perf *pf, int id, const struct side *x, bool sender_line,
                           bool retr)
{
    char idb[16], tb[24], rb[24];
    if (id < 0)
        snprintf(idb, sizeof(idb), "SUM");
    else
        snprintf(idb, sizeof(idb), "%3d", id);
    perf_fmt_bytes(tb, sizeof(tb), (double)x->bytes);
    perf_fmt_rate(rb, sizeof(rb), rate_of(x));
    const char *who = sender_line ? "sender" : "receiver";
    if (!pf->p.udp) {
        if (sender_line && retr)
            out(pf, "[%s] %6.2f-%-6.2f sec  %s  %s  %3" PRId64 "             %s\n", idb, 0.0, x->time,
                tb, rb, x->retrans, who);
        else
            out(pf, "[%s] %6.2f-%-6.2f sec  %s  %s                  %s\n", idb, 0.0, x->time, tb, rb,
                who);
    } else {
        uint64_t lost = sender_line ? 0 : x->errors;
        out(pf, "[%s] %6.2f-%-6.2f sec  %s  %s  %5.3f ms  %" PRIu64 "/%" PRIu64 " (%.2g%%)  %s\n",
            idb, 0.0, x->time, tb, rb, sender_line ? 0.0 : x->jitter_s * 1000.0, lost, x->packets,
            pct(lost, x->packets), who);
    }
}

static cJSON *sum_json(struct perf *pf, int fd, const struct side *x, const struct side *jit,
                       bool is_sender, bool retr, const struct pstream *s)
{
    cJSON *o = cJSON_CreateObject();
    if (s)
        cJSON_AddNumberToObject(o, "socket", fd);
    cJSON_AddNumberToObject(o, "start", 0);
    cJSON_AddNumberToObject(o, "end", usec_round(x->time));
    cJSON_AddNumberToObject(o, "seconds", usec_round(x->time));
    cJSON_AddNumberToObject(o, "bytes", (double)x->bytes);
    cJSON_AddNumberToObject(o, "bits_per_second", rate_of(x) * 8);
    if (!pf->p.udp && retr && is_sender) {
        cJSON_AddNumberToObject(o, "retransmits", (double)x->retrans);
        if (s && s->sender) {
            cJSON_AddNumberToObject(o, "max_snd_cwnd", s->max_cwnd);
            cJSON_AddNumberToObject(o, "max_rtt", s->max_rtt);
            cJSON_AddNumberToObject(o, "min_rtt", s->min_rtt);
            cJSON_AddNumberToObject(o, "mean_rtt", s->n_rtt ? (double)(s->sum_rtt / s->n_rtt) : 0);
        }
    }
    if (pf->p.udp && jit) {
        cJSON_AddNumberToObject(o, "jitter_ms", jit->jitter_s * 1000.0);
        cJSON_AddNumberToObject(o, "lost_packets", (double)jit->errors);
        cJSON_AddNumberToObject(o, "packets", (double)jit->packets);
        cJSON_AddNumberToObject(o, "lost_percent", pct(jit->errors, jit->packets));
    }
    return o;
}

/* The end of the test (iperf_print_results): per stream the sender's and
 * the receiver's totals, their sums, the CPU use; as text (a server
 * prints only its own side, as iperf3) and as end{} under -J. */
static void print_results(struct perf *pf)
{
    bool retr = !pf->p.udp && pf->sender_has_retransmits;
    /* A server prints only its own side: the Retr column only when that
     * is the sender's (iperf3 prints before it hears the client's). */
    bool retr_col = retr && (!pf->server || pf->sender);
    out(pf, "%s", sep_line);
    if (!pf->p.udp)
        out(pf, retr_col ? "[ ID] Interval           Transfer     Bitrate         Retr\n"
                     : "[ ID] Interval           Transfer     Bitrate\n");
    else
        out(pf, "[ ID] Interval           Transfer     Bitrate         Jitter    Lost/Total "
                "Datagrams\n");
    bool show_snd = !pf->server || pf->sender, show_rcv = !pf->server || !pf->sender;
    struct side ts, tr;
    memset(&ts, 0, sizeof(ts));
    memset(&tr, 0, sizeof(tr));
    cJSON *jstreams = pf->json ? cJSON_AddArrayToObject(pf->jend, "streams") : NULL;
    for (int i = 0; i < pf->n; i++) {
        const struct pstream *s = &pf->s[i];
        struct side snd, rcv;
        stream_sides(pf, s, &snd, &rcv);
        ts.bytes += snd.bytes;
        ts.retrans += snd.retrans;
        ts.packets += snd.packets;
        ts.time = snd.time > ts.time ? snd.time : ts.time;
        tr.bytes += rcv.bytes;
        tr.packets += rcv.packets;
        tr.errors += rcv.errors;
        tr.ooo += rcv.ooo;
        tr.jitter_s += rcv.jitter_s / pf->n;
        tr.time = rcv.time > tr.time ? rcv.time : tr.time;
        int id = s->sock;
        if (show_snd)
            print_sum_line(pf, id, &snd, true, retr);
        if (pf->p.udp && rcv.ooo && show_rcv)
            out(pf, "[%3d] %6.2f-%-6.2f sec  %" PRIu64 " datagrams received out-of-order\n", id, 0.0,
                rcv.time, rcv.ooo);
        if (show_rcv)
            print_sum_line(pf, id, &rcv, false, retr);
        if (jstreams) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToArray(jstreams, o);
            if (!pf->p.udp) {
                cJSON *a = sum_json(pf, id, &snd, NULL, true, retr, s);
                cJSON_AddBoolToObject(a, "sender", pf->sender);
                cJSON_AddItemToObject(o, "sender", a);
                cJSON *b = sum_json(pf, id, &rcv, NULL, false, retr, s);
                cJSON_AddBoolToObject(b, "sender", pf->sender);
                cJSON_AddItemToObject(o, "receiver", b);
            } else {
                /* iperf3 writes one "udp" object: the sender's bytes and
                 * time, the receiver's loss and jitter. */
                struct side j = rcv;
                j.packets = snd.packets ? snd.packets : rcv.packets;
                cJSON *u = sum_json(pf, id, &snd, &j, true, false, s);
                cJSON_AddNumberToObject(u, "out_of_order", (double)rcv.ooo);
                cJSON_AddBoolToObject(u, "sender", pf->sender);
                cJSON_AddItemToObject(o, "udp", u);
            }
        }
    }
    for (int i = 0; i < pf->n; i++)
        if (pf->s[i].bad_datagrams)
            fprintf(stderr, "netsock perf: [%3d] %" PRIu64 " datagrams too short for the iperf3 header, not counted\n",
                    pf->s[i].sock, pf->s[i].bad_datagrams);
    if (pf->n > 1) {
        if (show_snd)
            print_sum_line(pf, -1, &ts, true, retr);
        if (show_rcv)
            print_sum_line(pf, -1, &tr, false, retr);
    }
    if (!pf->json)
        return;
    if (pf->p.udp) {
        struct side j = tr;
        j.packets = ts.packets ? ts.packets : tr.packets;
        cJSON *o = sum_json(pf, -2, &ts, &j, true, false, NULL);
        cJSON_ReplaceItemInObject(o, "end", cJSON_CreateNumber(usec_round(tr.time)));
        cJSON_AddBoolToObject(o, "sender", pf->sender);
        cJSON_AddItemToObject(pf->jend, "sum", o);
        struct side z = ts;
        z.jitter_s = 0;
        z.errors = 0;
        o = sum_json(pf, -2, &ts, &z, true, false, NULL);
        cJSON_AddBoolToObject(o, "sender", true);
        cJSON_AddItemToObject(pf->jend, "sum_sent", o);
        o = sum_json(pf, -2, &tr, &tr, false, false, NULL);
        cJSON_AddBoolToObject(o, "sender", false);
        cJSON_AddItemToObject(pf->jend, "sum_received", o);
    } else {
        cJSON *o = sum_json(pf, -2, &ts, NULL, true, retr, NULL);
        cJSON_AddBoolToObject(o, "sender", pf->sender);
        cJSON_AddItemToObject(pf->jend, "sum_sent", o);
        o = sum_json(pf, -2, &tr, NULL, false, retr, NULL);
        cJSON_AddBoolToObject(o, "sender", pf->sender);
        cJSON_AddItemToObject(pf->jend, "sum_received", o);
    }
    cJSON *c = cJSON_AddObjectToObject(pf->jend, "cpu_utilization_percent");
    cJSON_AddNumberToObject(c, "host_total", pf->cpu[0]);
    cJSON_AddNumberToObject(c, "host_user", pf->cpu[1]);
    cJSON_AddNumberToObject(c, "host_system", pf->cpu[2]);
    cJSON_AddNumberToObject(c, "remote_total", pf->remote_cpu[0]);
    cJSON_AddNumberToObject(c, "remote_user", pf->remote_cpu[1]);
    cJSON_AddNumberToObject(c, "remote_system", pf->remote_cpu[2]);
    if (!pf->p.udp) {
        char cc[16] = "";
        if (pf->n > 0) {
            socklen_t len = sizeof(cc) - 1;
            if (pf->s[0].fd < 0 ||
                ns_getsockopt(pf->st, pf->s[0].fd, IPPROTO_TCP, TCP_CONGESTION, cc, &len) < 0)
                snprintf(cc, sizeof(cc), "%s", pf->p.congestion[0] ? pf->p.congestion : "cubic");
        }
        const char *snd = pf->sender ? cc : pf->remote_cc, *rcv = pf->sender ? pf->remote_cc : cc;
        if (snd[0])
            cJSON_AddStringToObject(pf->jend, "sender_tcp_congestion", snd);
        if (rcv[0])
            cJSON_AddStringToObject(pf->jend, "receiver_tcp_congestion", rcv);
    }
}

/* ---- the data phase, both roles -------------------------------------------------------- */

/* Handle one state byte from the peer during or after the data phase.
 * Returns 1 when the test is over (done or failed), 0 to go on. */
static int handle_msg(struct perf *pf, int8_t msg);

/* Run the data phase and the rest of the test until it is over: poll the
 * control connection and the streams, send and receive, close intervals,
 * end the test (client: after -t; server: at the client's TEST_END).
 * Returns 0 when the test completed, -1 when it failed. */
static int run_test(struct perf *pf)
{
    uint64_t end_us = NS_TIME_NEVER;
    if (!pf->server && pf->p.duration > 0)
        end_us = pf->t0_us + (uint64_t)(pf->p.duration + pf->p.omit) * 1000000u;
    if (pf->server && pf->p.duration > 0)
        pf->deadline_us = pf->t0_us + (uint64_t)(pf->p.duration + pf->p.omit) * 1000000u +
                          PERF_SERVER_GRACE_US;
    else
        pf->deadline_us = NS_TIME_NEVER;
    uint64_t idle_dl = NS_TIME_NEVER;
    for (;;) {
        if (ns_loop_stopped(pf->loop))
            return -1;
        uint64_t now = ns_clock_now_us();
        bool running = pf->state == PERF_TEST_RUNNING;
        if (running && now >= pf->omit_end_us)
            omit_done(pf, now);
        /* The client ends the test: after -t, or when a -n/-k count is
         * reached, or when every stream closed under it. */
        if (running && !pf->server) {
            bool all_eof = true;
            for (int i = 0; i < pf->n; i++)
                all_eof &= pf->s[i].eof;
            if (now >= end_us || (pf->sender && send_limit_reached(pf)) || (pf->n && all_eof)) {
                pf->t_end_us = now;
                interval_close(pf, now);
                cpu_measure(pf);
                if (send_state(pf, PERF_TEST_END) < 0) {
                    perr(pf, "the control connection failed at TEST_END");
                    return -1;
                }
                running = false;
                end_us = pf->next_iv_us = NS_TIME_NEVER;
                idle_dl = now + (uint64_t)PERF_CTRL_MS * 1000u;
            }
        }
        if (running && now >= pf->next_iv_us) {
            interval_close(pf, now);
            while (pf->next_iv_us <= now)
                pf->next_iv_us += (uint64_t)(pf->interval_s * 1e6);
        }
        if (pf->server && now >= pf->deadline_us) {
            perr(pf, "the client did not end the test in time: giving up");
            return -1;
        }
        if (now >= idle_dl) {
            perr(pf, "the peer stopped answering");
            return -1;
        }
        /* Who to wait for. */
        struct pollfd q[PERF_MAX_STREAMS + 2];
        int map[PERF_MAX_STREAMS + 2];
        int nq = 0;
        q[nq] = (struct pollfd){.fd = pf->ctrl, .events = POLLIN};
        map[nq++] = -1;
        if (pf->server && pf->listener >= 0) {
            q[nq] = (struct pollfd){.fd = pf->listener, .events = POLLIN};
            map[nq++] = -2;
        }
        uint64_t wake = end_us < pf->next_iv_us ? end_us : pf->next_iv_us;
        pf->next_event_us = wake;
        if (pf->omit_end_us < wake)
            wake = pf->omit_end_us;
        for (int i = 0; i < pf->n; i++) {
            struct pstream *s = &pf->s[i];
            if (s->fd < 0 || s->eof)
                continue;
            if (!s->sender) {
                q[nq] = (struct pollfd){.fd = s->fd, .events = POLLIN};
                map[nq++] = i;
            } else if (running && !send_limit_reached(pf)) {
                if (green_light(pf, s, now)) {
                    q[nq] = (struct pollfd){.fd = s->fd, .events = POLLOUT};
                    map[nq++] = i;
                } else {
                    uint64_t tick = now + (uint64_t)(pf->p.pacing_timer > 0 ? pf->p.pacing_timer : 1000);
                    if (tick < wake)
                        wake = tick;
                }
            }
        }
        /* At least 1 ms: ns_poll with 0 only looks, it does not run the
         * stack (a ready socket still ends the wait at once). */
        int timeout_ms = 100;
        if (wake != NS_TIME_NEVER) {
            uint64_t ms = wake > now ? (wake - now + 999) / 1000 : 1;
            if (ms < (uint64_t)timeout_ms)
                timeout_ms = ms < 1 ? 1 : (int)ms;
        }
        int n = ns_poll(pf->st, q, (nfds_t)nq, timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                return -1;
            perr(pf, "poll: %s", strerror(errno));
            return -1;
        }
        now = ns_clock_now_us();
        for (int k = 0; k < nq; k++) {
            if (!q[k].revents)
                continue;
            if (map[k] >= 0) {
                struct pstream *s = &pf->s[map[k]];
                if (s->sender)
                    send_stream(pf, s, now);
                else
                    recv_stream(pf, s, pf->state == PERF_TEST_RUNNING || !pf->p.udp);
            } else if (map[k] == -2) {
                /* iperf_accept: a second client while a test runs. */
                int c = ns_accept4(pf->st, pf->listener, NULL, NULL, SOCK_NONBLOCK);
                if (c >= 0) {
                    int8_t denied = PERF_ACCESS_DENIED;
                    ns_send(pf->st, c, &denied, 1, MSG_DONTWAIT);
                    ns_close(pf->st, c);
                }
            }
        }
        /* The control connection last, after the data it may follow. */
        if (q[0].revents) {
            int8_t msg;
            ssize_t r = ns_recv(pf->st, pf->ctrl, &msg, 1, MSG_DONTWAIT);
            if (r == 1) {
                int done = handle_msg(pf, msg);
                if (done)
                    return done > 0 ? 0 : -1;
                idle_dl = pf->state == PERF_TEST_RUNNING ? NS_TIME_NEVER
                                                         : ns_clock_now_us() + PERF_CTRL_MS * 1000ull;
            } else if (r == 0 || (r < 0 && errno != EAGAIN)) {
                perr(pf, pf->server ? "the client has unexpectedly closed the connection"
                                    : "control socket has closed unexpectedly");
                return -1;
            }
        }
    }
}

/* ---- the client ------------------------------------------------------------------------ */

static int connect_tcp(struct perf *pf, const struct sockaddr_in *to, int *fdp)
{
    int fd = ns_socket(pf->st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (ns_connect(pf->st, fd, (const struct sockaddr *)to, sizeof(*to)) < 0 &&
        errno != EINPROGRESS) {
        int e = errno;
        ns_close(pf->st, fd);
        return -e;
    }
    int rc = wait_fd(pf, fd, POLLOUT, deadline_in(PERF_CONNECT_MS));
    if (rc == 0) {
        int err = 0;
        socklen_t len = sizeof(err);
        ns_getsockopt(pf->st, fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = -err;
    }
    if (rc < 0) {
        ns_close(pf->st, fd);
        return rc;
    }
    *fdp = fd;
    return 0;
}

/* CREATE_STREAMS on the client (iperf_create_streams): -P connections,
 * each opened with the cookie (TCP) or the hello datagram (UDP). */
static int client_create_streams(struct perf *pf, const struct sockaddr_in *srv)
{
    for (int i = 0; i < pf->p.parallel; i++) {
        int fd, rc;
        if (!pf->p.udp) {
            rc = connect_tcp(pf, srv, &fd);
            if (rc == 0)
                rc = write_full(pf, fd, pf->cookie, PERF_COOKIE_SIZE, deadline_in(PERF_CTRL_MS));
        } else {
            fd = ns_socket(pf->st, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
            rc = fd < 0 ? -errno : 0;
            if (rc == 0 && ns_connect(pf->st, fd, (const struct sockaddr *)srv, sizeof(*srv)) < 0)
                rc = -errno;
            uint32_t hello = PERF_UDP_CONNECT_MSG, reply;
            if (rc == 0 && ns_send(pf->st, fd, &hello, sizeof(hello), 0) < 0)
                rc = -errno;
            /* The server answers from the socket it connected to us. */
            if (rc == 0)
                rc = wait_fd(pf, fd, POLLIN, deadline_in(PERF_CTRL_MS));
            if (rc == 0 && ns_recv(pf->st, fd, &reply, sizeof(reply), MSG_DONTWAIT) != 4)
                rc = -EPROTO;
        }
        if (rc < 0) {
            if (fd >= 0)
                ns_close(pf->st, fd);
            perr(pf, "unable to connect stream: %s", rc == -ETIMEDOUT ? "timed out" : errtext(rc));
            return -1;
        }
        stream_add(pf, fd, !pf->p.reverse);
    }
    return 0;
}

static int handle_msg(struct perf *pf, int8_t msg)
{
    if (pf->server) {
        switch (msg) {
        case PERF_TEST_START:
            return 0;
        case PERF_TEST_END:
            pf->state = PERF_TEST_END;
            pf->t_end_us = ns_clock_now_us();
            interval_close(pf, pf->t_end_us);
            cpu_measure(pf);
            /* iperf3 closes its streams here. A sending stream must end
             * now: the iperf3 client reads its streams with blocking
             * reads of a whole block after TEST_END, and would wait
             * forever for a block that never completes. Our FIN follows
             * what is queued, so every byte counted still arrives. */
            for (int i = 0; i < pf->n; i++)
                if (pf->s[i].sender && pf->s[i].fd >= 0)
                    ns_shutdown(pf->st, pf->s[i].fd, SHUT_WR);
            if (send_state(pf, PERF_EXCHANGE_RESULTS) < 0 || results_exchange(pf) < 0 ||
                send_state(pf, PERF_DISPLAY_RESULTS) < 0)
                return -1;
            print_results(pf);
            streams_close(pf);
            return 0; /* now wait for IPERF_DONE */
        case PERF_IPERF_DONE:
            return 1;
        case PERF_CLIENT_TERMINATE:
            pf->t_end_us = ns_clock_now_us();
            interval_close(pf, pf->t_end_us);
            print_results(pf);
            perr(pf, "the client has terminated");
            return -1;
        default:
            perr(pf, "received an unknown control message %d", msg);
            return -1;
        }
    }
    switch (msg) {
    case PERF_EXCHANGE_RESULTS:
        pf->state = PERF_EXCHANGE_RESULTS;
        /* The server closed its streams before this message: read what
         * it sent to the end, so both counts agree. */
        drain_streams(pf, false);
        return results_exchange(pf) < 0 ? -1 : 0;
    case PERF_DISPLAY_RESULTS:
        pf->state = PERF_DISPLAY_RESULTS;
        streams_close(pf);
        print_results(pf);
        if (send_state(pf, PERF_IPERF_DONE) < 0)
            return -1;
        return 1;
    case PERF_SERVER_TERMINATE:
        if (!pf->t_end_us)
            pf->t_end_us = ns_clock_now_us();
        print_results(pf);
        perr(pf, "the server has terminated");
        return -1;
    case PERF_ACCESS_DENIED:
        perr(pf, "the server is busy running a test. try again later");
        return -1;
    case PERF_SERVER_ERROR: {
        uint8_t e[8];
        if (read_full(pf, pf->ctrl, e, 8, deadline_in(PERF_CTRL_MS)) < 0) {
            perr(pf, "the server reported an error");
            return -1;
        }
        int ie = (int)((uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 | (uint32_t)e[2] << 8 | e[3]);
        int en = (int)((uint32_t)e[4] << 24 | (uint32_t)e[5] << 16 | (uint32_t)e[6] << 8 | e[7]);
        const char *t = perf_strerror(ie);
        perr(pf, "error - %s%s%s (server error %d)", *t ? t : "server error", en ? ": " : "",
             en ? strerror(en) : "", ie);
        return -1;
    }
    case PERF_TEST_START:
    case PERF_TEST_RUNNING:
    case PERF_IPERF_DONE:
        return 0;
    default:
        perr(pf, "received an unknown control message %d", msg);
        return -1;
    }
}

static int client_run(struct perf *pf)
{
    struct sockaddr_in srv = {.sin_family = AF_INET, .sin_port = htons(pf->port)};
    if (inet_pton(AF_INET, pf->host, &srv.sin_addr) != 1) {
        perr(pf, "'%s' is not an IPv4 address", pf->host);
        return -1;
    }
    json_begin(pf);
    int rc = connect_tcp(pf, &srv, &pf->ctrl);
    if (rc < 0) {
        perr(pf, "unable to connect to server %s port %u: %s", pf->host, pf->port,
             rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
        return -1;
    }
    uint8_t rnd[PERF_COOKIE_SIZE - 1];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        perr(pf, "getrandom: %s", strerror(errno));
        return -1;
    }
    perf_cookie_make(rnd, pf->cookie);
    if ((rc = write_full(pf, pf->ctrl, pf->cookie, PERF_COOKIE_SIZE, deadline_in(PERF_CTRL_MS))) < 0) {
        perr(pf, "unable to send cookie to server: %s", errtext(rc));
        return -1;
    }
    int mss = 0;
    socklen_t len = sizeof(mss);
    if (ns_getsockopt(pf->st, pf->ctrl, IPPROTO_TCP, TCP_MAXSEG, &mss, &len) == 0 && mss > 0 &&
        mss <= PERF_MAX_UDP_LEN)
        pf->ctrl_mss = (uint32_t)mss;
    /* iperf_connect: a UDP test without -l sends datagrams the size of
     * the control connection's MSS, so they are not fragmented. */
    if (pf->p.udp && !pf->len_set)
        pf->p.len = pf->ctrl_mss ? (int)pf->ctrl_mss : PERF_DEFAULT_UDP_LEN;
    if (pf->p.udp && !pf->rate_set)
        pf->p.rate = PERF_DEFAULT_UDP_RATE;
    json_timestamp(pf);
    if (pf->json) {
        cJSON *c = cJSON_AddObjectToObject(pf->jstart, "connecting_to");
        cJSON_AddStringToObject(c, "host", pf->host);
        cJSON_AddNumberToObject(c, "port", pf->port);
        cJSON_AddStringToObject(pf->jstart, "cookie", pf->cookie);
        cJSON_AddNumberToObject(pf->jstart, "tcp_mss_default", pf->ctrl_mss);
    }
    out(pf, "Connecting to host %s, port %u\n", pf->host, pf->port);
    if (pf->p.reverse)
        out(pf, "Reverse mode, remote host %s is sending\n", pf->host);
    fflush(stdout);
    pf->sender = !pf->p.reverse;
    pf->sender_has_retransmits = pf->sender && !pf->p.udp;
    /* Up to TEST_RUNNING: one message at a time, as the server sends them. */
    for (;;) {
        int8_t msg;
        rc = read_full(pf, pf->ctrl, &msg, 1, deadline_in(PERF_IDLE_MS));
        if (rc < 0) {
            perr(pf, "%s", rc == -EINTR ? "interrupt - the client has terminated"
                           : rc == -ECONNRESET ? "control socket has closed unexpectedly"
                                               : errtext(rc));
            if (rc == -EINTR) {
                int8_t t = PERF_CLIENT_TERMINATE;
                ns_send(pf->st, pf->ctrl, &t, 1, MSG_DONTWAIT);
            }
            return -1;
        }
        pf->state = msg;
        if (msg == PERF_PARAM_EXCHANGE) {
            char *js = perf_params_json(&pf->p);
            rc = js ? write_json(pf, js) : -ENOMEM;
            free(js);
            if (rc < 0) {
                perr(pf, "unable to send parameters to server: %s", errtext(rc));
                return -1;
            }
        } else if (msg == PERF_CREATE_STREAMS) {
            if (client_create_streams(pf, &srv) < 0)
                return -1;
        } else if (msg == PERF_TEST_START) {
            test_clock_start(pf);
            json_test_start(pf);
        } else if (msg == PERF_TEST_RUNNING) {
            break;
        } else {
            int r = handle_msg(pf, msg);
            if (r != 0)
                return r > 0 ? 0 : -1;
        }
    }
    rc = run_test(pf);
    if (rc < 0 && ns_loop_stopped(pf->loop)) {
        /* iperf_got_sigend: the results so far, and tell the server. */
        uint64_t now = ns_clock_now_us();
        pf->t_end_us = now;
        interval_close(pf, now);
        cpu_measure(pf);
        print_results(pf);
        int8_t t = PERF_CLIENT_TERMINATE;
        ns_send(pf->st, pf->ctrl, &t, 1, MSG_DONTWAIT);
        perr(pf, "interrupt - the client has terminated");
    }
    if (rc == 0)
        out(pf, "\niperf Done.\n");
    return rc;
}

/* ---- the server ------------------------------------------------------------------------ */

/* The TCP listener on the port, with the test's options when `p` is given
 * (iperf_tcp_listen re-creates it so that accepted streams inherit them). */
static int server_listen(struct perf *pf, const struct perf_params *p)
{
    if (pf->listener >= 0)
        ns_close(pf->st, pf->listener);
    pf->listener = -1;
    pf->listener_tuned = false;
    int fd = ns_socket(pf->st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    ns_setsockopt(pf->st, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (p) {
        if (p->nodelay)
            ns_setsockopt(pf->st, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (p->mss)
            ns_setsockopt(pf->st, fd, IPPROTO_TCP, TCP_MAXSEG, &p->mss, sizeof(p->mss));
        if (p->window) {
            ns_setsockopt(pf->st, fd, SOL_SOCKET, SO_RCVBUF, &p->window, sizeof(p->window));
            ns_setsockopt(pf->st, fd, SOL_SOCKET, SO_SNDBUF, &p->window, sizeof(p->window));
        }
        pf->listener_tuned = true;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(pf->port)};
    if (ns_bind(pf->st, fd, (struct sockaddr *)&a, sizeof(a)) < 0 || ns_listen(pf->st, fd, 128) < 0) {
        int e = errno;
        ns_close(pf->st, fd);
        return -e;
    }
    pf->listener = fd;
    return 0;
}

static int udp_listen(struct perf *pf)
{
    int fd = ns_socket(pf->st, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    ns_setsockopt(pf->st, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(pf->port)};
    if (ns_bind(pf->st, fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = errno;
        ns_close(pf->st, fd);
        return -e;
    }
    return fd;
}

/* SERVER_ERROR with iperf3's error number and an errno, then give up. */
static void server_error(struct perf *pf, int ie, int en)
{
    uint8_t b[9] = {(uint8_t)(int8_t)PERF_SERVER_ERROR};
    for (int i = 0; i < 4; i++) {
        b[1 + i] = (uint8_t)((uint32_t)ie >> (24 - 8 * i));
        b[5 + i] = (uint8_t)((uint32_t)en >> (24 - 8 * i));
    }
    write_full(pf, pf->ctrl, b, sizeof(b), deadline_in(1000));
}

/* CREATE_STREAMS on the server: accept -P streams (TCP: connections to
 * the port that send our cookie; UDP: hello datagrams to the port, each
 * answered from a socket connected to its sender). */
static int server_accept_streams(struct perf *pf)
{
    bool sender = pf->p.reverse;
    uint64_t dl = deadline_in(PERF_CTRL_MS);
    while (pf->n < pf->p.parallel) {
        if (ns_loop_stopped(pf->loop))
            return -1;
        if (ns_clock_now_us() >= dl) {
            perr(pf, "the client did not open its %d streams in time", pf->p.parallel);
            return -1;
        }
        struct pollfd q[2] = {{.fd = pf->ctrl, .events = POLLIN},
                              {.fd = pf->p.udp ? pf->udp_listener : pf->listener, .events = POLLIN}};
        if (ns_poll(pf->st, q, 2, 100) < 0 && errno == EINTR)
            return -1;
        if (q[0].revents) {
            int8_t msg;
            ssize_t r = ns_recv(pf->st, pf->ctrl, &msg, 1, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN)) {
                perr(pf, "the client has unexpectedly closed the connection");
                return -1;
            }
            if (r == 1 && msg == PERF_CLIENT_TERMINATE) {
                perr(pf, "the client has terminated");
                return -1;
            }
        }
        if (!q[1].revents)
            continue;
        if (!pf->p.udp) {
            int fd = ns_accept4(pf->st, pf->listener, NULL, NULL, SOCK_NONBLOCK);
            if (fd < 0)
                continue;
            char c[PERF_COOKIE_SIZE];
            int rc = read_full(pf, fd, c, sizeof(c), deadline_in(PERF_CTRL_MS));
            if (rc < 0 || memcmp(c, pf->cookie, sizeof(c)) != 0) {
                /* iperf_tcp_accept: not this test's stream. */
                int8_t denied = PERF_ACCESS_DENIED;
                ns_send(pf->st, fd, &denied, 1, MSG_DONTWAIT);
                ns_close(pf->st, fd);
                continue;
            }
            stream_add(pf, fd, sender);
        } else {
            uint8_t hello[64];
            struct sockaddr_in from;
            socklen_t flen = sizeof(from);
            ssize_t r = ns_recvfrom(pf->st, pf->udp_listener, hello, sizeof(hello), MSG_DONTWAIT,
                                    (struct sockaddr *)&from, &flen);
            if (r < 0)
                continue;
            /* iperf_udp_accept: this socket becomes the stream, a new one
             * listens for the next hello. */
            int fd = pf->udp_listener;
            if (ns_connect(pf->st, fd, (struct sockaddr *)&from, flen) < 0) {
                perr(pf, "unable to accept stream connection: %s", strerror(errno));
                return -1;
            }
            pf->udp_listener = udp_listen(pf);
            if (pf->udp_listener < 0) {
                perr(pf, "unable to start stream listener: %s", strerror(-pf->udp_listener));
                ns_close(pf->st, fd);
                return -1;
            }
            uint32_t reply = PERF_UDP_CONNECT_REPLY;
            ns_send(pf->st, fd, &reply, sizeof(reply), MSG_DONTWAIT);
            stream_add(pf, fd, sender);
        }
    }
    if (pf->udp_listener >= 0)
        ns_close(pf->st, pf->udp_listener);
    pf->udp_listener = -1;
    return 0;
}

/* Check the client's parameters against what this server does and its
 * limits. Returns 0, or iperf3's error number for SERVER_ERROR. */
static int server_check_params(struct perf *pf, const struct perf_params *p)
{
    if (p->sctp) {
        perr(pf, "the client asked for SCTP: not supported");
        return 131;
    }
    if (p->bidir || p->server_output) {
        perr(pf, "the client asked for %s: not supported",
             p->bidir ? "--bidir" : "--get-server-output");
        return PERF_IE_UNIMP;
    }
    return 0;
}

/* One test on the server, from the accepted control connection to its
 * end. Returns 0 when it completed. */
static int server_test(struct perf *pf)
{
    int rc = read_full(pf, pf->ctrl, pf->cookie, PERF_COOKIE_SIZE, deadline_in(PERF_CTRL_MS));
    if (rc < 0) {
        perr(pf, "unable to receive cookie at server: %s", errtext(rc));
        return -1;
    }
    if (!perf_cookie_valid(pf->cookie)) {
        perr(pf, "the client's cookie is not an iperf3 cookie");
        return -1;
    }
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);
    ns_getpeername(pf->st, pf->ctrl, (struct sockaddr *)&peer, &plen);
    char pa[INET_ADDRSTRLEN];
    fmt_addr(&peer, pa, sizeof(pa));
    json_timestamp(pf);
    if (pf->json) {
        cJSON *c = cJSON_AddObjectToObject(pf->jstart, "accepted_connection");
        cJSON_AddStringToObject(c, "host", pa);
        cJSON_AddNumberToObject(c, "port", ntohs(peer.sin_port));
        cJSON_AddStringToObject(pf->jstart, "cookie", pf->cookie);
        cJSON_AddNumberToObject(pf->jstart, "tcp_mss_default", 0);
    }
    out(pf, "Accepted connection from %s, port %u\n", pa, ntohs(peer.sin_port));
    if (send_state(pf, PERF_PARAM_EXCHANGE) < 0)
        return -1;
    char *js;
    size_t len;
    if ((rc = read_json(pf, &js, &len)) < 0) {
        perr(pf, "unable to receive parameters from client: %s", errtext(rc));
        return -1;
    }
    char err[160];
    rc = perf_params_parse(js, len, &pf->p, err, sizeof(err));
    free(js);
    if (rc < 0) {
        perr(pf, "the client's parameters: %s", err);
        server_error(pf, PERF_IE_RECVPARAMS, EINVAL);
        return -1;
    }
    int ie = server_check_params(pf, &pf->p);
    if (ie) {
        server_error(pf, ie, 0);
        return -1;
    }
    pf->sender = pf->p.reverse;
    pf->sender_has_retransmits = pf->sender && !pf->p.udp;
    if (pf->p.udp) {
        pf->udp_listener = udp_listen(pf);
        rc = pf->udp_listener < 0 ? pf->udp_listener : 0;
    } else if (pf->p.nodelay || pf->p.mss || pf->p.window) {
        rc = server_listen(pf, &pf->p);
    }
    if (rc < 0) {
        perr(pf, "unable to start stream listener: %s", strerror(-rc));
        server_error(pf, PERF_IE_STREAMLISTEN, -rc);
        return -1;
    }
    if (send_state(pf, PERF_CREATE_STREAMS) < 0 || server_accept_streams(pf) < 0)
        return -1;
    /* Accepted streams have their options: the next client's control
     * connection gets a plain listener again. */
    if (pf->listener_tuned && server_listen(pf, NULL) < 0) {
        perr(pf, "unable to listen on port %u again", pf->port);
        return -1;
    }
    if (send_state(pf, PERF_TEST_START) < 0)
        return -1;
    test_clock_start(pf);
    json_test_start(pf);
    if (send_state(pf, PERF_TEST_RUNNING) < 0)
        return -1;
    return run_test(pf);
}

/* Size the data buffer for the test's block length, and fill it with
 * random bytes (iperf3 sends random data, so compression cannot help). */
static int buf_prepare(struct perf *pf)
{
    size_t want = (size_t)(pf->p.len > 0 ? pf->p.len : 1);
    if (pf->p.udp && want < PERF_MAX_UDP_LEN)
        want = PERF_MAX_UDP_LEN; /* a receiver reads whatever datagram comes */
    if (want > pf->buflen) {
        uint8_t *b = realloc(pf->buf, want);
        if (!b)
            return -1;
        pf->buf = b;
        pf->buflen = want;
    }
    for (size_t off = 0; off < pf->buflen;) {
        ssize_t n = getrandom(pf->buf + off, pf->buflen - off, 0);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    return 0;
}

static void test_reset(struct perf *pf)
{
    streams_close(pf);
    if (pf->udp_listener >= 0)
        ns_close(pf->st, pf->udp_listener);
    pf->udp_listener = -1;
    if (pf->ctrl >= 0) {
        ns_close(pf->st, pf->ctrl);
        /* Let the FIN leave before anything else happens. */
        if (!ns_loop_stopped(pf->loop))
            ns_loop_run_once(pf->loop, ns_clock_now_us() + 10000);
    }
    pf->ctrl = -1;
    pf->n = 0;
    pf->next_id = 0;
    pf->state = 0;
    pf->t_end_us = 0;
    memset(pf->remote_cpu, 0, sizeof(pf->remote_cpu));
    pf->remote_cc[0] = 0;
}

static int server_run(struct perf *pf)
{
    int rc = server_listen(pf, NULL);
    if (rc < 0) {
        perr(pf, "unable to start listener for connections: %s", strerror(-rc));
        return -1;
    }
    int result = 0;
    for (;;) {
        pf->test_no++;
        out(pf, "-----------------------------------------------------------\n"
                "Server listening on %u (test #%d)\n"
                "-----------------------------------------------------------\n",
            pf->port, pf->test_no);
        fflush(stdout);
        json_begin(pf);
        struct sockaddr_in from;
        socklen_t flen = sizeof(from);
        rc = wait_fd(pf, pf->listener, POLLIN, NS_TIME_NEVER);
        if (rc == -EINTR)
            break;
        pf->ctrl = ns_accept4(pf->st, pf->listener, (struct sockaddr *)&from, &flen, SOCK_NONBLOCK);
        if (pf->ctrl < 0)
            continue;
        /* Block length: the client's, or iperf3's default for TCP. */
        result = server_test(pf) < 0 ? -1 : 0;
        if (result < 0 && ns_loop_stopped(pf->loop) && pf->ctrl >= 0) {
            int8_t t = PERF_SERVER_TERMINATE;
            ns_send(pf->st, pf->ctrl, &t, 1, MSG_DONTWAIT);
            perr(pf, "interrupt - the server has terminated");
        }
        json_finish(pf);
        test_reset(pf);
        if (pf->one_off || ns_loop_stopped(pf->loop))
            break;
    }
    cJSON_Delete(pf->top);
    pf->top = NULL;
    return result;
}

/* ---- options ---------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: netsock perf --link ... --addr A.B.C.D/N -s [options]\n"
            "       netsock perf --link ... --addr A.B.C.D/N -c HOST [options]\n"
            "\n"
            "iperf3 over netsock's own stack: either side may be the real iperf3.\n"
            "\n"
            "  -s, --server          run a server (one test at a time, until interrupted)\n"
            "  -c, --client HOST     run a client against the server at HOST (IPv4)\n"
            "  -p, --port N          server port (default %d)\n"
            "  -1, --one-off         server: one test, then exit\n"
            "  -J, --json            print the results as iperf3's JSON document\n"
            "  -i, --interval SECS   seconds between interval reports (default 1, 0: none)\n"
            "client:\n"
            "  -t, --time SECS       test length (default %d)\n"
            "  -P, --parallel N      streams (default 1, at most %d)\n"
            "  -R, --reverse         the server sends, the client receives\n"
            "  -u, --udp             UDP (default TCP)\n"
            "  -b, --bitrate N[KMG]  target bits/s (UDP default 1M; 0: unlimited)\n"
            "  -l, --length N[KM]    bytes per write (TCP default 128K; UDP: the path MSS)\n"
            "      --udp-counters-64bit  64-bit UDP sequence numbers\n"
            "%s",
            PERF_DEFAULT_PORT, PERF_DEFAULT_TIME, PERF_MAX_STREAMS, link_usage());
}

enum { OPT_UDP64 = 256 };

int tool_perf(int argc, char **argv)
{
    static const char prog[] = "netsock perf";
    static const char shortopts[] = ":sc:p:t:P:Rl:ub:i:J1h";
    static const struct option longopts[] = {
        {"server", no_argument, NULL, 's'},
        {"client", required_argument, NULL, 'c'},
        {"port", required_argument, NULL, 'p'},
        {"time", required_argument, NULL, 't'},
        {"parallel", required_argument, NULL, 'P'},
        {"reverse", no_argument, NULL, 'R'},
        {"length", required_argument, NULL, 'l'},
        {"udp", no_argument, NULL, 'u'},
        {"bitrate", required_argument, NULL, 'b'},
        {"bandwidth", required_argument, NULL, 'b'},
        {"interval", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'J'},
        {"one-off", no_argument, NULL, '1'},
        {"udp-counters-64bit", no_argument, NULL, OPT_UDP64},
        {"help", no_argument, NULL, 'h'},
        LINK_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct perf *pf = calloc(1, sizeof(*pf));
    if (!pf)
        return CLI_EXIT_FAIL;
    struct link_opts lo = {0};
    perf_params_default(&pf->p);
    pf->port = PERF_DEFAULT_PORT;
    pf->interval_s = 1.0;
    pf->ctrl = pf->listener = pf->udp_listener = -1;
    bool client = false;
    int bad = 0; /* -1: a value was refused (the line is printed) */
    uint64_t u;
    int c;
    cli_getopt_reset();
    while (!bad && (c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        int r = link_opt(&lo, prog, c, optarg);
        if (r < 0) {
            bad = -1;
            break;
        }
        if (r > 0)
            continue;
        switch (c) {
        case 's': pf->server = true; break;
        case 'c': client = true; pf->host = optarg; break;
        case 'p': bad = cli_port(prog, "-p", optarg, 1, &pf->port); break;
        case 't':
            bad = cli_uint(prog, "-t", optarg, 0, PERF_MAX_TIME, &u);
            pf->p.duration = (int)u;
            break;
        case 'P':
            bad = cli_uint(prog, "-P", optarg, 1, PERF_MAX_STREAMS, &u);
            pf->p.parallel = (int)u;
            break;
        case 'R': pf->p.reverse = true; break;
        case 'u': pf->p.udp = true; break;
        case 'l':
            if (perf_parse_size(optarg, &u) < 0 || u < 1 || u > PERF_MAX_LEN)
                bad = cli_bad_value(prog, "-l", optarg, "a size from 1 to %d bytes (K and M suffixes)",
                                    PERF_MAX_LEN);
            pf->p.len = (int)u;
            pf->len_set = true;
            break;
        case 'b': {
            char rate[64];
            snprintf(rate, sizeof(rate), "%s", optarg);
            char *slash = strchr(rate, '/'); /* iperf3's N/burst: the burst is not taken */
            if (slash)
                *slash = 0;
            if (perf_parse_rate(rate, &u) < 0)
                bad = cli_bad_value(prog, "-b", optarg, "bits per second (K, M and G suffixes)");
            pf->p.rate = u;
            pf->rate_set = true;
            break;
        }
        case 'i':
            bad = cli_num(prog, "-i", optarg, 0, 60, "seconds", &pf->interval_s);
            if (!bad && pf->interval_s > 0 && pf->interval_s < 0.1)
                bad = cli_bad_value(prog, "-i", optarg, "0 or 0.1 to 60 seconds");
            break;
        case 'J': pf->json = true; break;
        case '1': pf->one_off = true; break;
        case OPT_UDP64: pf->p.udp64 = true; break;
        case 'h':
            usage(stdout);
            free(pf);
            return CLI_EXIT_OK;
        default:
            free(pf);
            return cli_getopt_error(prog, c, argv, shortopts);
        }
    }
    int rc = bad ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    if (!rc && optind < argc)
        rc = cli_usage_error(prog, "unexpected argument '%s'", argv[optind]);
    if (!rc && pf->server == client)
        rc = cli_usage_error(prog, "give either -s or -c HOST");
    if (!rc && link_opts_check(&lo, prog) < 0)
        rc = CLI_EXIT_USAGE;
    if (!rc && pf->p.udp && pf->len_set &&
        (pf->p.len < PERF_MIN_UDP_LEN || pf->p.len > PERF_MAX_UDP_LEN))
        rc = cli_usage_error(prog, "invalid -l value for UDP: expected %d to %d bytes",
                             PERF_MIN_UDP_LEN, PERF_MAX_UDP_LEN);
    if (rc) {
        free(pf);
        return rc;
    }
    if (!lo.name)
        lo.name = "perf";
    struct link_host h;
    if (link_host_open(&h, &lo) < 0) {
        free(pf);
        return CLI_EXIT_FAIL;
    }
    pf->st = h.st;
    pf->loop = h.loop;
    pf->ifindex = h.ifindex;
    if (pf->server) {
        pf->p.len = PERF_MAX_LEN; /* read buffer for any client's -l */
        rc = buf_prepare(pf) < 0 ? -1 : server_run(pf);
    } else {
        /* The UDP default length depends on the control connection: the
         * buffer is sized for the largest datagram. */
        int len = pf->p.len;
        pf->p.len = pf->p.udp ? PERF_MAX_UDP_LEN : pf->p.len;
        rc = buf_prepare(pf);
        pf->p.len = len;
        if (rc == 0)
            rc = client_run(pf);
        json_finish(pf);
        test_reset(pf);
    }
    if (lo.verbose || ns_loop_stopped(pf->loop))
        link_print_counters(h.st, stderr);
    free(pf->buf);
    free(pf);
    link_host_close(&h);
    return rc < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
