/* tools/ctl.c — the replies of the control socket of `netsock host`:
 * the socket table like `ss -tuanei` and the counters like `netstat -s`,
 * as text or JSON (ctl.h has the protocol, docs/host.md the output). The
 * transport is in ctlsock.c; this half touches no OS resource, so the
 * simulator tests call ctl_reply() directly. */
#include "ctl.h"

#include <errno.h>
#include <netinet/tcp.h>
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

/* ---- the socket table, as ss(8) -------------------------------------------------------- */

/* ss's state name: netsock's TCP names are ss's, but a TCP socket that is
 * neither connected nor listening is CLOSED here and UNCONN in ss. */
static const char *ss_state(const struct ns_sock_info *s)
{
    return strcmp(s->state, "CLOSED") == 0 ? "UNCONN" : s->state;
}

/* ss's "listening" class (-l): listeners and unconnected sockets (ss
 * counts TCP_CLOSE, shown as UNCONN, with LISTEN). */
static bool ss_listening(const struct ns_sock_info *s)
{
    const char *st = ss_state(s);
    return !strcmp(st, "LISTEN") || !strcmp(st, "UNCONN");
}

static unsigned sock_type_bit(const struct ns_sock_info *s)
{
    return s->type == SOCK_STREAM ? CTL_T_TCP : s->type == SOCK_DGRAM ? CTL_T_UDP : CTL_T_RAW;
}

static bool filter_match(const struct ctl_sock_filter *f, const struct ns_sock_info *s)
{
    if (!(f->types & sock_type_bit(s)))
        return false;
    if (f->states == CTL_S_ALL)
        return true;
    return ss_listening(s) == (f->states == CTL_S_LISTENING);
}

/* What one socket adds to the table beyond ns_sock_info: the TCP_INFO and
 * buffer sizes a netsock socket answers getsockopt with. */
struct sock_extra {
    struct tcp_info ti;
    bool have_ti;
    char cc[16];
    int rcvbuf, sndbuf;
};

static void sock_extra_get(struct ns_stack *st, const struct ns_sock_info *s, struct sock_extra *x)
{
    memset(x, 0, sizeof(*x));
    socklen_t len = sizeof(x->rcvbuf);
    if (ns_getsockopt(st, s->fd, SOL_SOCKET, SO_RCVBUF, &x->rcvbuf, &len) < 0)
        x->rcvbuf = 0;
    len = sizeof(x->sndbuf);
    if (ns_getsockopt(st, s->fd, SOL_SOCKET, SO_SNDBUF, &x->sndbuf, &len) < 0)
        x->sndbuf = 0;
    if (s->type != SOCK_STREAM)
        return;
    len = sizeof(x->ti);
    x->have_ti = ns_getsockopt(st, s->fd, IPPROTO_TCP, TCP_INFO, &x->ti, &len) == 0;
    len = sizeof(x->cc) - 1;
    if (ns_getsockopt(st, s->fd, IPPROTO_TCP, TCP_CONGESTION, x->cc, &len) < 0)
        x->cc[0] = 0;
}

/* The address and port columns: ss -n prints a raw socket's protocol
 * number as its port, and an unconnected socket's peer as 0.0.0.0:*. */
static void fmt_endpoint(char *addr, size_t alen, char *port, size_t plen,
                         const union ns_sockaddr *a, int family, int raw_proto)
{
    uint16_t p = 0;
    if (family == AF_INET6) {
        /* ss(8): "[::ffff:192.0.2.1]", "[::]" for the wildcard. */
        char v6[INET6_ADDRSTRLEN];
        struct in6_addr any = IN6ADDR_ANY_INIT;
        bool set = a->sa.sa_family == AF_INET6;
        inet_ntop(AF_INET6, set ? &a->sin6.sin6_addr : &any, v6, sizeof(v6));
        snprintf(addr, alen, "[%s]", v6);
        p = set ? ntohs(a->sin6.sin6_port) : 0;
    } else {
        struct in_addr any = {0};
        bool set = a->sa.sa_family == AF_INET;
        inet_ntop(AF_INET, set ? &a->sin.sin_addr : &any, addr, (socklen_t)alen);
        p = set ? ntohs(a->sin.sin_port) : 0;
    }
    if (raw_proto >= 0)
        snprintf(port, plen, "%d", raw_proto);
    else if (p)
        snprintf(port, plen, "%u", p);
    else
        snprintf(port, plen, "*");
}

/* ss -e's shutdown marks (<->, -->, <--, ---: '<' while this side still
 * receives, '>' while it still sends), from the TCP state: the peer's FIN
 * ends receiving (CLOSE-WAIT), our FIN ends sending (FIN-WAIT-*). */
static const char *shutdown_marks(const struct ns_sock_info *s)
{
    if (s->type != SOCK_STREAM)
        return "<->";
    const char *st = s->state;
    if (!strcmp(st, "CLOSE-WAIT"))
        return "-->";
    if (!strncmp(st, "FIN-WAIT", 8))
        return "<--";
    if (!strcmp(st, "LAST-ACK") || !strcmp(st, "CLOSING") || !strcmp(st, "TIME-WAIT"))
        return "---";
    return "<->";
}

/* ss -i for one TCP socket: "cubic wscale:7,7 rto:204 rtt:0.5/0.25 mss:1448
 * rcvmss:536 cwnd:10 ...", each field with a leading space. */
static void fmt_tcp_info(struct textbuf *b, const struct ns_sock_info *s,
                         const struct sock_extra *x, bool options)
{
    const struct tcp_info *ti = &x->ti;
    if (options && (ti->tcpi_options & TCPI_OPT_TIMESTAMPS))
        tb_printf(b, " ts");
    if (options && (ti->tcpi_options & TCPI_OPT_SACK))
        tb_printf(b, " sack");
    if (x->cc[0])
        tb_printf(b, " %s", x->cc);
    if (!strcmp(s->state, "LISTEN") || !x->have_ti)
        return;
    if (ti->tcpi_options & TCPI_OPT_WSCALE)
        tb_printf(b, " wscale:%u,%u", ti->tcpi_snd_wscale, ti->tcpi_rcv_wscale);
    tb_printf(b, " rto:%g rtt:%g/%g mss:%u rcvmss:%u cwnd:%u", ti->tcpi_rto / 1000.0,
              ti->tcpi_rtt / 1000.0, ti->tcpi_rttvar / 1000.0, ti->tcpi_snd_mss,
              ti->tcpi_rcv_mss, ti->tcpi_snd_cwnd);
    if (ti->tcpi_snd_ssthresh < 0xffff)
        tb_printf(b, " ssthresh:%u", ti->tcpi_snd_ssthresh);
    if (ti->tcpi_rtt)
        tb_printf(b, " send %.0fbps",
                  (double)ti->tcpi_snd_cwnd * ti->tcpi_snd_mss * 8.0 * 1e6 / ti->tcpi_rtt);
    if (ti->tcpi_retransmits || ti->tcpi_total_retrans)
        tb_printf(b, " retrans:%u/%u", ti->tcpi_retransmits, ti->tcpi_total_retrans);
    if (ti->tcpi_unacked)
        tb_printf(b, " unacked:%u", ti->tcpi_unacked);
    if (ti->tcpi_rcv_space)
        tb_printf(b, " rcv_space:%u", ti->tcpi_rcv_space);
}

#define COL_COUNT 9
enum { C_NETID, C_STATE, C_RECVQ, C_SENDQ, C_LADDR, C_LPORT, C_RADDR, C_RPORT, C_PROC };

struct table_row {
    char col[COL_COUNT][80];
    char *ext;    /* -e: after the Process column (malloc'ed or NULL) */
    char *detail; /* -m, -i: the indented line below (malloc'ed or NULL) */
};

/* Append `text` padded to `width`, right-aligned when `right`. */
static void put_col(struct textbuf *b, const char *text, int width, bool right)
{
    tb_printf(b, right ? "%*s" : "%-*s", width, text);
}

/* The end of a line: drop the padding of the last column, as ss does not
 * leave it for a reader to trip over. */
static void end_line(struct textbuf *b)
{
    while (b->p && b->len && b->p[b->len - 1] == ' ')
        b->len--;
    tb_printf(b, "\n");
}

/* Like ss(8): columns as wide as their widest cell, addresses right-aligned
 * against the ':' and ports left-aligned after it; Netid only when more
 * than one protocol is selected; -e fields after Process; -m and -i on an
 * indented line below. */
static void reply_sockets(struct textbuf *b, struct ns_stack *st, const struct ctl_sock_filter *f)
{
    int n;
    struct ns_sock_info *info = sock_table(st, &n);
    struct table_row *rows = calloc((size_t)n + 1, sizeof(*rows));
    if (!rows) {
        free(info);
        b->failed = 1;
        return;
    }
    static const char *const head[COL_COUNT] = {
        "Netid", "State", "Recv-Q", "Send-Q", "Local Address", "Port", "Peer Address", "Port",
        "Process"};
    int width[COL_COUNT];
    for (int c = 0; c < COL_COUNT; c++)
        width[c] = (int)strlen(head[c]);
    int nrows = 0;
    for (int i = 0; i < n; i++) {
        const struct ns_sock_info *s = &info[i];
        if (!filter_match(f, s))
            continue;
        struct table_row *r = &rows[nrows++];
        struct sock_extra x;
        sock_extra_get(st, s, &x);
        int raw_proto = s->type == SOCK_RAW ? s->protocol : -1;
        snprintf(r->col[C_NETID], sizeof(r->col[0]), "%s", fmt_netid(s->type));
        snprintf(r->col[C_STATE], sizeof(r->col[0]), "%s", ss_state(s));
        snprintf(r->col[C_RECVQ], sizeof(r->col[0]), "%u", s->recv_q);
        snprintf(r->col[C_SENDQ], sizeof(r->col[0]), "%u", s->send_q);
        fmt_endpoint(r->col[C_LADDR], sizeof(r->col[0]), r->col[C_LPORT], sizeof(r->col[0]),
                     &s->local, s->family, raw_proto);
        fmt_endpoint(r->col[C_RADDR], sizeof(r->col[0]), r->col[C_RPORT], sizeof(r->col[0]),
                     &s->remote, s->family, -1);
        if (f->processes)
            snprintf(r->col[C_PROC], sizeof(r->col[0]), "users:((\"%.16s\",pid=%ld,fd=%d))",
                     program_invocation_short_name, (long)getpid(), s->fd);
        for (int c = 0; c < COL_COUNT; c++)
            if ((int)strlen(r->col[c]) > width[c])
                width[c] = (int)strlen(r->col[c]);
        if (f->extended) {
            struct textbuf e = {0};
            if (getuid())
                tb_printf(&e, " uid:%u", (unsigned)getuid());
            tb_printf(&e, " ino:0 sk:%x %s", (unsigned)s->fd, shutdown_marks(s));
            r->ext = e.p;
        }
        if (f->memory || (f->info && s->type == SOCK_STREAM)) {
            struct textbuf d = {0};
            tb_printf(&d, "\t");
            if (f->memory)
                tb_printf(&d, " skmem:(r%u,rb%d,t%u,tb%d,f0,w%u,o0,bl0,d%" PRIu64 ")",
                          s->recv_q, x.rcvbuf, s->send_q, x.sndbuf, s->send_q, s->drops);
            if (f->info && s->type == SOCK_STREAM)
                fmt_tcp_info(&d, s, &x, f->extended);
            r->detail = d.p;
        }
    }
    bool netid = (f->types & (f->types - 1)) != 0; /* more than one protocol */
    if (!f->no_header) {
        if (netid) {
            put_col(b, head[C_NETID], width[C_NETID], false);
            tb_printf(b, " ");
        }
        put_col(b, head[C_STATE], width[C_STATE], false);
        tb_printf(b, " ");
        put_col(b, head[C_RECVQ], width[C_RECVQ], false);
        tb_printf(b, " ");
        put_col(b, head[C_SENDQ], width[C_SENDQ], false);
        tb_printf(b, " ");
        put_col(b, head[C_LADDR], width[C_LADDR], true);
        tb_printf(b, ":");
        put_col(b, head[C_LPORT], width[C_LPORT], false);
        tb_printf(b, " ");
        put_col(b, head[C_RADDR], width[C_RADDR], true);
        tb_printf(b, ":");
        put_col(b, head[C_RPORT], width[C_RPORT], false);
        tb_printf(b, " %s", head[C_PROC]);
        end_line(b);
    }
    for (int i = 0; i < nrows; i++) {
        struct table_row *r = &rows[i];
        if (netid) {
            put_col(b, r->col[C_NETID], width[C_NETID], false);
            tb_printf(b, " ");
        }
        put_col(b, r->col[C_STATE], width[C_STATE], false);
        tb_printf(b, " ");
        put_col(b, r->col[C_RECVQ], width[C_RECVQ], false);
        tb_printf(b, " ");
        put_col(b, r->col[C_SENDQ], width[C_SENDQ], false);
        tb_printf(b, " ");
        put_col(b, r->col[C_LADDR], width[C_LADDR], true);
        tb_printf(b, ":");
        put_col(b, r->col[C_LPORT], width[C_LPORT], false);
        tb_printf(b, " ");
        put_col(b, r->col[C_RADDR], width[C_RADDR], true);
        tb_printf(b, ":");
        put_col(b, r->col[C_RPORT], width[C_RPORT], false);
        tb_printf(b, " ");
        if (r->ext)
            put_col(b, r->col[C_PROC], width[C_PROC], false);
        else
            tb_printf(b, "%s", r->col[C_PROC]);
        if (r->ext)
            tb_printf(b, "%s", r->ext);
        end_line(b);
        if (r->detail) {
            tb_printf(b, "%s", r->detail);
            end_line(b);
        }
        free(r->ext);
        free(r->detail);
    }
    free(rows);
    free(info);
}

static void reply_sockets_json(struct textbuf *b, struct ns_stack *st,
                               const struct ctl_sock_filter *f)
{
    int n;
    struct ns_sock_info *info = sock_table(st, &n);
    tb_printf(b, "{\"host\": ");
    json_str(b, ns_stack_name(st));
    tb_printf(b, ", \"pid\": %ld, \"sockets\": [", (long)getpid());
    int shown = 0;
    for (int i = 0; i < n; i++) {
        const struct ns_sock_info *s = &info[i];
        if (!filter_match(f, s))
            continue;
        struct sock_extra x;
        sock_extra_get(st, s, &x);
        char l[64], r[64];
        fmt_sockaddr(l, sizeof(l), &s->local);
        fmt_sockaddr(r, sizeof(r), &s->remote);
        tb_printf(b,
                  "%s\n  {\"fd\": %d, \"netid\": \"%s\", \"state\": \"%s\", \"recv_q\": %u, "
                  "\"send_q\": %u, \"local\": \"%s\", \"peer\": \"%s\", \"drops\": %" PRIu64
                  ", \"rcvbuf\": %d, \"sndbuf\": %d",
                  shown++ ? "," : "", s->fd, fmt_netid(s->type), ss_state(s), s->recv_q,
                  s->send_q, l, r, s->drops, x.rcvbuf, x.sndbuf);
        if (s->type == SOCK_RAW)
            tb_printf(b, ", \"protocol\": %d", s->protocol);
        if (s->type == SOCK_STREAM) {
            const struct tcp_info *ti = &x.ti;
            bool ws = ti->tcpi_options & TCPI_OPT_WSCALE;
            tb_printf(b,
                      ", \"cc\": \"%s\", \"rtt_us\": %u, \"rttvar_us\": %u, \"rto_us\": %u, "
                      "\"cwnd_bytes\": %u, \"ssthresh_bytes\": %u, \"mss\": %u, "
                      "\"rcv_mss\": %u, \"retrans\": %u, \"retransmits\": %u, "
                      "\"unacked\": %u, \"rcv_space\": %u, \"timestamps\": %s",
                      x.cc, s->srtt_us, ti->tcpi_rttvar, s->rto_us, s->cwnd, s->ssthresh,
                      s->mss, ti->tcpi_rcv_mss, s->retrans, ti->tcpi_retransmits,
                      ti->tcpi_unacked, ti->tcpi_rcv_space,
                      (ti->tcpi_options & TCPI_OPT_TIMESTAMPS) ? "true" : "false");
            if (ws)
                tb_printf(b, ", \"snd_wscale\": %u, \"rcv_wscale\": %u", ti->tcpi_snd_wscale,
                          ti->tcpi_rcv_wscale);
            else
                tb_printf(b, ", \"snd_wscale\": null, \"rcv_wscale\": null");
        }
        tb_printf(b, ", \"process\": {\"name\": ");
        json_str(b, program_invocation_short_name);
        tb_printf(b, ", \"pid\": %ld, \"fd\": %d}}", (long)getpid(), s->fd);
    }
    tb_printf(b, "\n]}\n");
    free(info);
}

/* "sockets [json] [-FLAGS]": FLAGS as ss's letters (ctl.h). Returns 0, or
 * -1 with the offending letter in *bad. */
static int parse_sockets_request(const char *req, bool *json, struct ctl_sock_filter *f,
                                 char *bad)
{
    memset(f, 0, sizeof(*f));
    *json = false;
    const char *p = req + strlen("sockets");
    for (;;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, " ");
        if (n == 4 && !strncmp(p, "json", 4)) {
            *json = true;
        } else if (*p == '-') {
            for (size_t k = 1; k < n; k++) {
                switch (p[k]) {
                case 't': f->types |= CTL_T_TCP; break;
                case 'u': f->types |= CTL_T_UDP; break;
                case 'w': f->types |= CTL_T_RAW; break;
                case 'l': f->states = CTL_S_LISTENING; break;
                case 'a': f->states = CTL_S_ALL; break;
                case 'n': break; /* always numeric */
                case 'p': f->processes = true; break;
                case 'i': f->info = true; break;
                case 'm': f->memory = true; break;
                case 'e': f->extended = true; break;
                case 'H': f->no_header = true; break;
                default: *bad = p[k]; return -1;
                }
            }
        } else {
            *bad = *p;
            return -1;
        }
        p += n;
    }
    if (!f->types)
        f->types = CTL_T_TCP | CTL_T_UDP | CTL_T_RAW;
    return 0;
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
    if (!strncmp(req, "sockets", 7) && (req[7] == 0 || req[7] == ' ')) {
        bool json;
        struct ctl_sock_filter f;
        char bad;
        if (parse_sockets_request(req, &json, &f, &bad) < 0)
            tb_printf(&b, "error: unknown flag '%c' in '%s' (sockets [json] [-tuwlanpimeH])\n",
                      bad, req);
        else if (json)
            reply_sockets_json(&b, st, &f);
        else
            reply_sockets(&b, st, &f);
    }
    else if (!strcmp(req, "counters"))
        reply_counters(&b, st, svc);
    else if (!strcmp(req, "counters json"))
        reply_counters_json(&b, st, svc);
    else if (!strcmp(req, "ping"))
        tb_printf(&b, "pong %s %ld\n", ns_stack_name(st), (long)getpid());
    else
        tb_printf(&b, "error: unknown request '%s' (sockets [json] [-tuwlanpimeH], counters, "
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

