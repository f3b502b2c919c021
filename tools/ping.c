/* tools/ping.c — `netsock ping`: ping(8) from a netsock stack of its own on
 * a real link.
 *
 *   netsock ping --link tap:t1 --addr 198.51.100.2/24 --gw 198.51.100.1 -c 3 192.0.2.1
 *
 * Echo requests go through a raw ICMP socket on the stack; ns_poll on the
 * socket runs the real-time loop (os.h) between requests, so the stack
 * answers ARP and pings from others the whole time it runs. Output follows
 * iputils ping(8) line for line: the PING header, one line per reply
 * (time with ping's precision rules), (DUP!), ICMP errors as "From ...",
 * flood dots, and the statistics block with its exact wording.
 *
 * Timing as ping(8): one request per interval; after the last one, wait
 * for outstanding replies up to twice the longest RTT seen, or -W seconds
 * (default 10) when nothing came back. Ctrl-C (SIGINT) ends the run early
 * and still prints the statistics.
 *
 * Exit status as ping(8): 0 when a reply came back, 1 when none did, 2 on
 * any other error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "link.h"
#include "netsock/socket.h"
#include "tools.h"
#include "wire/wire.h"

#define PING_MAX_PAYLOAD 65507u /* 65535 - 20 (IP) - 8 (ICMP) */
#define PING_SEQ_SPACE 65536u
#define FLOOD_MIN_INTERVAL_US 10000u /* ping -f: at least 100 per second */
#define LINGER_DEFAULT_S 10.0        /* iputils MAXWAIT */

struct ping_opts {
    struct link_opts link;
    long count;           /* 0: until interrupted */
    double interval_s;
    bool interval_given;
    long size;
    int ttl;              /* 0: the stack's default */
    double timeout_s;     /* -W */
    bool flood, quiet;
    const char *dest;
};

struct ping_state {
    int fd;
    uint16_t id;
    size_t size;
    struct in_addr dst;
    const struct ping_opts *o;
    uint64_t *sent_at;    /* by sequence number */
    uint8_t *answered;    /* by sequence number: replies seen */
    uint8_t *pkt, *buf;
    long transmitted, received, dups, errors;
    uint64_t start_us, last_send_us;
    uint64_t rtt_min, rtt_max; /* microseconds */
    double rtt_sum, rtt_sum2;
    uint64_t rtt_ewma8;   /* iputils' smoothed RTT, scaled by 8 */
    bool last_answered;   /* the newest request has its reply (flood pacing) */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: netsock ping --link L --addr A/N [link options] [-c count] [-i interval]\n"
            "                    [-s size] [-t ttl] [-W timeout] [-f] [-q] destination\n"
            "  -c count     stop after count requests (default: until Ctrl-C)\n"
            "  -i interval  seconds between requests, fractions allowed (default 1;\n"
            "               0 with -f)\n"
            "  -s size      payload bytes (default 56; up to %u, fragmented over the MTU)\n"
            "  -t ttl       IP time to live\n"
            "  -W timeout   seconds to wait for replies after the last request when none\n"
            "               came back (default 10)\n"
            "  -f           flood: send as fast as replies come back, at least 100 per\n"
            "               second; prints '.' per request and a backspace per reply\n"
            "  -q           quiet: only the first line and the statistics\n"
            "%s",
            PING_MAX_PAYLOAD, link_usage());
}

static int parse_num(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = v ? strtod(v, &end) : 0;
    if (!v || end == v || *end || errno || !(d >= lo && d <= hi)) {
        fprintf(stderr, "netsock ping: %s %s: expected a number in [%g, %g]\n", opt,
                v ? v : "(missing)", lo, hi);
        return -1;
    }
    *out = d;
    return 0;
}

/* Returns 0, 1 for --help, -1 on error. */
static int parse_opts(int argc, char **argv, struct ping_opts *o)
{
    for (int i = 1; i < argc;) {
        int r = link_parse_opt(&o->link, argc, argv, &i);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return 1;
        if (!strcmp(a, "-f")) {
            o->flood = true;
            i++;
            continue;
        }
        if (!strcmp(a, "-q")) {
            o->quiet = true;
            i++;
            continue;
        }
        if (!strcmp(a, "-c")) {
            if (parse_num(a, v, 1, 1e12, &d) < 0)
                return -1;
            o->count = (long)d;
        } else if (!strcmp(a, "-i")) {
            if (parse_num(a, v, 0, 1e6, &d) < 0)
                return -1;
            o->interval_s = d;
            o->interval_given = true;
        } else if (!strcmp(a, "-s")) {
            if (parse_num(a, v, 0, PING_MAX_PAYLOAD, &d) < 0)
                return -1;
            o->size = (long)d;
        } else if (!strcmp(a, "-t")) {
            if (parse_num(a, v, 1, 255, &d) < 0)
                return -1;
            o->ttl = (int)d;
        } else if (!strcmp(a, "-W")) {
            if (parse_num(a, v, 0, 1e6, &d) < 0)
                return -1;
            o->timeout_s = d;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "netsock ping: unknown option %s\n", a);
            return -1;
        } else {
            if (o->dest) {
                fprintf(stderr, "netsock ping: one destination only (%s, %s)\n", o->dest, a);
                return -1;
            }
            o->dest = a;
            i++;
            continue;
        }
        i += 2;
    }
    if (!o->dest) {
        fprintf(stderr, "netsock ping: no destination\n");
        return -1;
    }
    if (o->flood && !o->interval_given)
        o->interval_s = 0;
    return 0;
}

/* Payload byte k of the request with sequence number seq: ping(8) fills
 * with a fixed pattern; folding in seq also catches a reply carrying
 * another request's data. */
static uint8_t pattern(uint16_t seq, size_t k) { return (uint8_t)(k + seq * 7u); }

/* "time=" as iputils prints it: 3 significant-ish decimals below 1 ms,
 * fewer as the value grows, none from 100 ms on. */
static void print_time(uint64_t us)
{
    if (us >= 100000)
        printf("time=%" PRIu64 " ms", us / 1000);
    else if (us >= 10000)
        printf("time=%" PRIu64 ".%01" PRIu64 " ms", us / 1000, us % 1000 / 100);
    else if (us >= 1000)
        printf("time=%" PRIu64 ".%02" PRIu64 " ms", us / 1000, us % 1000 / 10);
    else
        printf("time=%" PRIu64 ".%03" PRIu64 " ms", us / 1000, us % 1000);
}


static void flood_char(char c)
{
    putchar(c);
    fflush(stdout);
}

static void on_reply(struct ping_state *p, const struct ns_ip4_repr *ip,
                     const struct ns_icmp4_repr *ic, uint64_t now_us)
{
    char from[INET_ADDRSTRLEN];
    struct in_addr src = {.s_addr = htonl(ip->src)};
    inet_ntop(AF_INET, &src, from, sizeof(from));
    uint16_t seq = ic->seq;
    if (!p->sent_at[seq])
        return; /* never sent by this run */
    uint64_t rtt = now_us - p->sent_at[seq];
    bool dup = p->answered[seq];
    p->answered[seq] = 1;
    /* Check the echoed data (ping(8) "wrong data byte"). */
    long bad = -1;
    uint8_t want = 0;
    for (size_t k = 0; k < ic->payload_len && k < p->size; k++) {
        if (ic->payload[k] != pattern(seq, k)) {
            bad = (long)k;
            want = pattern(seq, k);
            break;
        }
    }
    if (dup) {
        p->dups++;
    } else {
        p->received++;
        if ((uint16_t)p->transmitted == seq)
            p->last_answered = true;
        double ms = (double)rtt / 1000.0;
        p->rtt_sum += ms;
        p->rtt_sum2 += ms * ms;
        if (p->received == 1 || rtt < p->rtt_min)
            p->rtt_min = rtt;
        if (rtt > p->rtt_max)
            p->rtt_max = rtt;
        p->rtt_ewma8 = p->rtt_ewma8 ? p->rtt_ewma8 + rtt - p->rtt_ewma8 / 8 : rtt * 8;
    }
    if (p->o->quiet)
        return;
    if (p->o->flood) {
        if (!dup)
            flood_char('\b');
        return;
    }
    printf("%zu bytes from %s: icmp_seq=%u ttl=%u ", ic->payload_len + NS_ICMP_HLEN, from, seq,
           ip->ttl);
    print_time(rtt);
    if (dup)
        printf(" (DUP!)");
    if (ic->payload_len != p->size)
        printf(" (truncated)");
    printf("\n");
    if (bad >= 0)
        printf("wrong data byte #%ld should be 0x%x but was 0x%x\n", bad, want,
               ic->payload[bad]);
}

static void on_error(struct ping_state *p, const struct ns_ip4_repr *ip,
                     const struct ns_icmp4_repr *ic)
{
    /* The error quotes our request: its IPv4 header, then the echo header. */
    const uint8_t *q = ic->payload;
    if (ic->payload_len < NS_IP4_HLEN + 8 || (q[0] >> 4) != 4)
        return;
    size_t ihl = (size_t)(q[0] & 0xf) * 4;
    if (ihl < NS_IP4_HLEN || ihl + 8 > ic->payload_len || q[9] != NS_IPPROTO_ICMP ||
        q[ihl] != NS_ICMP_ECHO)
        return;
    uint16_t id = (uint16_t)(q[ihl + 4] << 8 | q[ihl + 5]);
    uint16_t seq = (uint16_t)(q[ihl + 6] << 8 | q[ihl + 7]);
    if (id != p->id)
        return;
    p->errors++;
    if (p->o->quiet)
        return;
    if (p->o->flood) {
        flood_char('E');
        return;
    }
    char from[INET_ADDRSTRLEN];
    struct in_addr src = {.s_addr = htonl(ip->src)};
    inet_ntop(AF_INET, &src, from, sizeof(from));
    printf("From %s icmp_seq=%u %s\n", from, seq, ns_icmp4_describe(ic->type, ic->code));
}

/* One datagram from the raw socket: IPv4 header + ICMP message. */
static void handle(struct ping_state *p, const uint8_t *pkt, size_t len, uint64_t now_us)
{
    struct ns_ip4_repr ip;
    struct ns_icmp4_repr ic;
    if (ns_ip4_parse(pkt, len, &ip, true) < 0 ||
        ns_icmp4_parse(pkt + ip.hlen, ip.total_len - ip.hlen, &ic, true) < 0)
        return;
    if (ic.type == NS_ICMP_ECHO_REPLY && ic.id == p->id)
        on_reply(p, &ip, &ic, now_us);
    else if (ic.type == NS_ICMP_DEST_UNREACH || ic.type == NS_ICMP_TIME_EXCEEDED ||
             ic.type == NS_ICMP_PARAM_PROB)
        on_error(p, &ip, &ic);
}

static int send_one(struct ping_state *p, struct ns_stack *st)
{
    uint16_t seq = (uint16_t)(p->transmitted + 1); /* icmp_seq starts at 1 */
    for (size_t k = 0; k < p->size; k++)
        p->pkt[NS_ICMP_HLEN + k] = pattern(seq, k);
    struct ns_icmp4_repr r = {.type = NS_ICMP_ECHO, .id = p->id, .seq = seq,
                              .payload = p->pkt + NS_ICMP_HLEN, .payload_len = p->size};
    ns_icmp4_emit(&r, p->pkt);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = p->dst};
    uint64_t now = ns_clock_now_us();
    p->sent_at[seq] = now ? now : 1;
    p->answered[seq] = 0;
    p->last_send_us = now;
    p->transmitted++;
    p->last_answered = false;
    if (ns_sendto(st, p->fd, p->pkt, NS_ICMP_HLEN + p->size, MSG_DONTWAIT,
                  (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        /* As ping(8): report, count as transmitted, carry on. */
        if (!p->o->quiet)
            printf("ping: sendmsg: %s\n", strerror(errno));
        return -1;
    }
    if (p->o->flood && !p->o->quiet)
        flood_char('.');
    return 0;
}

static void print_stats(const struct ping_state *p, uint64_t end_us)
{
    const struct ping_opts *o = p->o;
    if (o->flood && !o->quiet)
        printf("\n");
    printf("\n--- %s ping statistics ---\n", o->dest);
    printf("%ld packets transmitted, %ld received", p->transmitted, p->received);
    if (p->dups)
        printf(", +%ld duplicates", p->dups);
    if (p->errors)
        printf(", +%ld errors", p->errors);
    if (p->transmitted)
        printf(", %g%% packet loss",
               (double)(p->transmitted - p->received) * 100.0 / (double)p->transmitted);
    printf(", time %" PRIu64 "ms\n", (end_us - p->start_us + 500) / 1000);
    if (p->received) {
        double n_rx = (double)p->received;
        double avg = p->rtt_sum / n_rx;
        double var = p->rtt_sum2 / n_rx - avg * avg;
        printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms", (double)p->rtt_min / 1000.0, avg,
               (double)p->rtt_max / 1000.0, sqrt(var > 0 ? var : 0));
        if (o->flood) {
            double ipg = p->transmitted > 1 ? (double)(p->last_send_us - p->start_us) / 1000.0 /
                                                  (double)(p->transmitted - 1)
                                            : 0;
            printf(", ipg/ewma %.3f/%.3f ms", ipg, (double)p->rtt_ewma8 / 8.0 / 1000.0);
        }
        printf("\n");
    }
}

static int run(struct ping_state *p, struct link_host *h)
{
    const struct ping_opts *o = p->o;
    struct ns_stack *st = h->st;
    uint64_t interval_us = (uint64_t)llround(o->interval_s * 1e6);
    uint64_t linger_us = (uint64_t)llround((o->timeout_s > 0 ? o->timeout_s : LINGER_DEFAULT_S) *
                                           1e6);

    printf("PING %s (%s) %zu(%zu) bytes of data.\n", o->dest, o->dest, p->size, p->size + 28);
    fflush(stdout);
    p->start_us = ns_clock_now_us();
    uint64_t next_send = p->start_us;
    for (;;) {
        uint64_t now = ns_clock_now_us();
        bool more = o->count == 0 || p->transmitted < o->count;
        if (more) {
            /* Flood: the next request goes when the last one is answered,
             * or after 10 ms at the latest (ping -f). */
            bool due = now >= next_send ||
                       (o->flood && p->last_answered && interval_us == 0);
            if (due) {
                send_one(p, st);
                uint64_t gap = interval_us;
                if (o->flood && gap < FLOOD_MIN_INTERVAL_US)
                    gap = FLOOD_MIN_INTERVAL_US;
                next_send = p->last_send_us + gap;
                continue;
            }
        }
        uint64_t wake;
        if (more) {
            wake = next_send;
        } else {
            if (p->received + p->errors >= p->transmitted)
                break; /* everything answered */
            /* After the last request (iputils schedule_exit): twice the
             * longest RTT, at least one interval, when replies came back;
             * else the linger time (-W, default 10 s). */
            uint64_t linger = linger_us;
            if (p->received) {
                linger = 2 * p->rtt_max;
                if (linger < interval_us)
                    linger = interval_us;
                if (linger < 1000)
                    linger = 1000;
            }
            wake = p->last_send_us + linger;
            if (now >= wake)
                break;
        }
        /* Refresh the stack's clock: ns_poll measures its timeout from it. */
        ns_stack_poll(st, now);
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
        int ms = wake > now ? (int)((wake - now + 999) / 1000) : 0;
        int r = ns_poll(st, &pfd, 1, ms);
        if (r < 0 && errno == EINTR)
            break; /* SIGINT/SIGTERM: statistics, as ping(8) */
        if (r < 0) {
            fprintf(stderr, "netsock ping: poll: %s\n", strerror(errno));
            return -1;
        }
        ssize_t n;
        while ((n = ns_recv(st, p->fd, p->buf, NS_IP4_HLEN * 3 + 65536, MSG_DONTWAIT)) > 0)
            handle(p, p->buf, (size_t)n, ns_clock_now_us());
    }
    print_stats(p, ns_clock_now_us());
    return 0;
}

int tool_ping(int argc, char **argv)
{
    struct ping_opts o = {.interval_s = 1.0, .size = 56, .timeout_s = 0};
    int rc = parse_opts(argc, argv, &o);
    if (rc) {
        usage(rc > 0 ? stdout : stderr);
        return rc > 0 ? 0 : 2;
    }
    struct ping_state p = {.o = &o, .size = (size_t)o.size, .id = (uint16_t)getpid(),
                           .fd = -1};
    if (inet_pton(AF_INET, o.dest, &p.dst) != 1) {
        fprintf(stderr, "netsock ping: %s: not an IPv4 address (no name resolution)\n", o.dest);
        return 2;
    }
    if (!o.link.name)
        o.link.name = "ping";
    struct link_host h;
    if (link_host_open(&h, &o.link) < 0)
        return 2;
    int status = 2;
    p.sent_at = calloc(PING_SEQ_SPACE, sizeof(*p.sent_at));
    p.answered = calloc(PING_SEQ_SPACE, 1);
    p.pkt = calloc(1, NS_ICMP_HLEN + p.size);
    p.buf = malloc(NS_IP4_HLEN * 3 + 65536);
    if (!p.sent_at || !p.answered || !p.pkt || !p.buf) {
        fprintf(stderr, "netsock ping: out of memory\n");
        goto out;
    }
    p.fd = ns_socket(h.st, AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (p.fd < 0) {
        fprintf(stderr, "netsock ping: socket: %s\n", strerror(errno));
        goto out;
    }
    if (o.ttl && ns_setsockopt(h.st, p.fd, IPPROTO_IP, IP_TTL, &o.ttl, sizeof(o.ttl)) < 0) {
        fprintf(stderr, "netsock ping: IP_TTL: %s\n", strerror(errno));
        goto out;
    }
    if (run(&p, &h) == 0)
        status = p.received ? 0 : 1;
    if (o.link.verbose)
        link_print_counters(h.st, stderr);
out:
    if (p.fd >= 0)
        ns_close(h.st, p.fd);
    fflush(stdout);
    link_host_close(&h);
    free(p.sent_at);
    free(p.answered);
    free(p.pkt);
    free(p.buf);
    return status;
}
