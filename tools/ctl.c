/* tools/ctl.c — the replies of the control socket of `netsock host`:
 * the socket table like `ss -tuanei` and the counters like `netstat -s`,
 * as text or JSON (ctl.h has the protocol, docs/host.md the output). The
 * transport is in ctlsock.c; this half touches no OS resource, so the
 * simulator tests call ctl_reply() directly. */
#include "ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netsock/socket.h"
#include "textbuf.h"


/* ---- replies --------------------------------------------------------------------------- */

/* JSON string contents: the names here are plain ASCII, but escape anyway. */
static void json_str(struct textbuf *b, const char *s)
{
    tb_printf(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            tb_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            tb_printf(b, "\\u%04x", ch);
        else
            tb_printf(b, "%c", ch);
    }
    tb_printf(b, "\"");
}

static struct ns_sock_info *sock_table(struct ns_stack *st, int *n)
{
    int want = ns_sock_list(st, NULL, 0);
    struct ns_sock_info *info = calloc((size_t)want + 1, sizeof(*info));
    if (!info) {
        *n = 0;
        return NULL;
    }
    *n = ns_sock_list(st, info, want);
    if (*n > want)
        *n = want;
    return info;
}

/* Like `ss -tuanei`: one line per socket, TCP details after it. */
static void reply_sockets(struct textbuf *b, struct ns_stack *st)
{
    int n;
    struct ns_sock_info *info = sock_table(st, &n);
    tb_printf(b, "%-5s %-10s %6s %6s %-21s %-21s %s\n", "Netid", "State", "Recv-Q", "Send-Q",
              "Local Address:Port", "Peer Address:Port", "Details");
    for (int i = 0; i < n; i++) {
        const struct ns_sock_info *s = &info[i];
        char l[32], r[32];
        fmt_sockaddr(l, sizeof(l), &s->local);
        fmt_sockaddr(r, sizeof(r), &s->remote);
        tb_printf(b, "%-5s %-10s %6u %6u %-21s %-21s fd:%d", fmt_netid(s->type), s->state,
                  s->recv_q, s->send_q, l, r, s->fd);
        if (s->type == SOCK_STREAM && strcmp(s->state, "LISTEN") != 0 &&
            strcmp(s->state, "CLOSE") != 0) {
            uint32_t mss = s->mss ? s->mss : 1;
            tb_printf(b, " rto:%.0f rtt:%.3f mss:%u cwnd:%u", s->rto_us / 1000.0,
                      s->srtt_us / 1000.0, s->mss, s->cwnd / mss);
            if (s->ssthresh && s->ssthresh != UINT32_MAX)
                tb_printf(b, " ssthresh:%u", s->ssthresh / mss);
            tb_printf(b, " retrans:%u rb:%u tb:%u", s->retrans, s->rcvbuf, s->sndbuf);
        }
        if (s->drops)
            tb_printf(b, " drops:%" PRIu64, s->drops);
        tb_printf(b, "\n");
    }
    free(info);
}

static void reply_sockets_json(struct textbuf *b, struct ns_stack *st)
{
    int n;
    struct ns_sock_info *info = sock_table(st, &n);
    tb_printf(b, "{\"host\": ");
    json_str(b, ns_stack_name(st));
    tb_printf(b, ", \"sockets\": [");
    for (int i = 0; i < n; i++) {
        const struct ns_sock_info *s = &info[i];
        char l[32], r[32];
        fmt_sockaddr(l, sizeof(l), &s->local);
        fmt_sockaddr(r, sizeof(r), &s->remote);
        tb_printf(b,
                  "%s\n  {\"fd\": %d, \"netid\": \"%s\", \"state\": \"%s\", \"recv_q\": %u, "
                  "\"send_q\": %u, \"local\": \"%s\", \"peer\": \"%s\", \"drops\": %" PRIu64,
                  i ? "," : "", s->fd, fmt_netid(s->type), s->state, s->recv_q, s->send_q, l, r,
                  s->drops);
        if (s->type == SOCK_STREAM)
            tb_printf(b,
                      ", \"rtt_us\": %u, \"rto_us\": %u, \"cwnd_bytes\": %u, "
                      "\"ssthresh_bytes\": %u, \"mss\": %u, \"retrans\": %u, "
                      "\"rcvbuf\": %u, \"sndbuf\": %u",
                      s->srtt_us, s->rto_us, s->cwnd, s->ssthresh, s->mss, s->retrans,
                      s->rcvbuf, s->sndbuf);
        tb_printf(b, "}");
    }
    tb_printf(b, "\n]}\n");
    free(info);
}

/* The group a counter is printed under: its name up to the first '_'. */
static size_t counter_group(const char *name)
{
    const char *u = strchr(name, '_');
    return u ? (size_t)(u - name) : strlen(name);
}

/* What the bounded resources hold now, and their limits (docs/host.md). */
static void reply_usage(struct textbuf *b, struct ns_stack *st)
{
    struct ns_stack_usage u;
    ns_stack_usage(st, &u);
    tb_printf(b,
              "Memory:\n    %" PRIu64 " bytes held by TCP buffers: %" PRIu64 " receive, %" PRIu64
              " send, %" PRIu64 " out of order; peak %" PRIu64 "\n    TCP memory limits: low %" PRIu64
              ", pressure %" PRIu64 ", high %" PRIu64 "; under pressure: %s\n    %u ARP "
              "neighbours, %u being resolved, %u packets held for them (%" PRIu64
              " of at most %" PRIu64 " bytes)\n",
              u.tcp_bytes, u.tcp_rcv_bytes, u.tcp_snd_bytes, u.tcp_ooo_bytes, u.tcp_peak_bytes,
              u.tcp_limit_low, u.tcp_limit_pressure, u.tcp_limit_high,
              u.tcp_pressure ? "yes" : "no", u.arp_entries, u.arp_unres, u.arp_hold_pkts,
              u.arp_hold_bytes, u.arp_hold_limit);
}

static void reply_usage_json(struct textbuf *b, struct ns_stack *st)
{
    struct ns_stack_usage u;
    ns_stack_usage(st, &u);
    tb_printf(b,
              ", \"usage\": {\"tcp_bytes\": %" PRIu64 ", \"tcp_rcv_bytes\": %" PRIu64
              ", \"tcp_snd_bytes\": %" PRIu64 ", \"tcp_ooo_bytes\": %" PRIu64
              ", \"tcp_peak_bytes\": %" PRIu64 ", \"tcp_pressure\": %s, \"tcp_mem_low\": %" PRIu64
              ", \"tcp_mem_pressure\": %" PRIu64 ", \"tcp_mem_high\": %" PRIu64
              ", \"arp_entries\": %u, \"arp_unres\": %u, \"arp_hold_pkts\": %u"
              ", \"arp_hold_bytes\": %" PRIu64 ", \"arp_hold_limit\": %" PRIu64 "}",
              u.tcp_bytes, u.tcp_rcv_bytes, u.tcp_snd_bytes, u.tcp_ooo_bytes, u.tcp_peak_bytes,
              u.tcp_pressure ? "true" : "false", u.tcp_limit_low, u.tcp_limit_pressure,
              u.tcp_limit_high, u.arp_entries, u.arp_unres, u.arp_hold_pkts, u.arp_hold_bytes,
              u.arp_hold_limit);
}

/* Like `netstat -s`: per protocol, "    VALUE description", non-zero only;
 * then what the bounded resources hold. */
static void reply_counters(struct textbuf *b, struct ns_stack *st, const struct services *svc)
{
    uint64_t v[NS_CTR__COUNT];
    ns_stack_counters(st, v);
    const char *group = NULL;
    size_t glen = 0;
    for (unsigned c = 0; c < NS_CTR__COUNT; c++) {
        if (!v[c])
            continue;
        const char *name = ns_counter_name((enum ns_counter)c);
        size_t g = counter_group(name);
        if (!group || g != glen || strncmp(group, name, g) != 0) {
            tb_printf(b, "%c%.*s:\n", name[0] - 32, (int)g - 1, name + 1);
            group = name;
            glen = g;
        }
        tb_printf(b, "    %" PRIu64 " %s (%s)\n", v[c], ns_counter_desc((enum ns_counter)c), name);
    }
    reply_usage(b, st);
    if (svc) {
        struct services_stats s;
        services_get_stats(svc, &s);
        tb_printf(b,
                  "Services:\n    %" PRIu64 " connections open\n    %" PRIu64
                  " connections accepted\n    %" PRIu64 " bytes received\n    %" PRIu64
                  " bytes sent\n    %" PRIu64 " UDP datagrams received\n    %" PRIu64
                  " UDP datagrams sent\n    %" PRIu64 " HTTP requests answered\n    %" PRIu64
                  " HTTP requests answered with an error status\n    %" PRIu64
                  " failed accepts\n",
                  s.conns_open, s.conns_total, s.bytes_in, s.bytes_out, s.udp_in, s.udp_out,
                  s.http_requests, s.http_errors, s.accept_errors);
    }
}

static void reply_counters_json(struct textbuf *b, struct ns_stack *st, const struct services *svc)
{
    uint64_t v[NS_CTR__COUNT];
    ns_stack_counters(st, v);
    tb_printf(b, "{\"host\": ");
    json_str(b, ns_stack_name(st));
    tb_printf(b, ", \"counters\": {");
    for (unsigned c = 0; c < NS_CTR__COUNT; c++)
        tb_printf(b, "%s\n  \"%s\": %" PRIu64, c ? "," : "", ns_counter_name((enum ns_counter)c),
                  v[c]);
    tb_printf(b, "\n}");
    reply_usage_json(b, st);
    if (svc) {
        struct services_stats s;
        services_get_stats(svc, &s);
        tb_printf(b,
                  ", \"services\": {\"conns_open\": %" PRIu64 ", \"conns_total\": %" PRIu64
                  ", \"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64 ", \"udp_in\": %" PRIu64
                  ", \"udp_out\": %" PRIu64 ", \"http_requests\": %" PRIu64
                  ", \"http_errors\": %" PRIu64 ", \"accept_errors\": %" PRIu64 "}",
                  s.conns_open, s.conns_total, s.bytes_in, s.bytes_out, s.udp_in, s.udp_out,
                  s.http_requests, s.http_errors, s.accept_errors);
    }
    tb_printf(b, "}\n");
}

char *ctl_reply(struct ns_stack *st, const struct services *svc, const char *request,
                size_t *len)
{
    struct textbuf b = {0};
    char req[CTL_REQ_MAX];
    size_t n = strcspn(request, "\r\n");
    if (n >= sizeof(req))
        n = sizeof(req) - 1;
    memcpy(req, request, n);
    req[n] = 0;
    if (!strcmp(req, "sockets"))
        reply_sockets(&b, st);
    else if (!strcmp(req, "sockets json"))
        reply_sockets_json(&b, st);
    else if (!strcmp(req, "counters"))
        reply_counters(&b, st, svc);
    else if (!strcmp(req, "counters json"))
        reply_counters_json(&b, st, svc);
    else if (!strcmp(req, "ping"))
        tb_printf(&b, "pong %s %ld\n", ns_stack_name(st), (long)getpid());
    else
        tb_printf(&b, "error: unknown request '%s' (sockets, sockets json, counters, "
                      "counters json, ping)\n", req);
    if (b.failed || !b.p) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

int ctl_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

