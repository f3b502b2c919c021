/* tools/ping.c — `netsock ping`: ping(8) from a netsock stack of its own on
 * a real link.
 *
 *   netsock ping --link tap:t1 --addr 198.51.100.2/24 --gw 198.51.100.1 -c 3 192.0.2.1
 *
 * Echo requests go through a raw ICMP socket on the stack; ns_poll on the
 * socket runs the real-time loop (os.h) between requests, so the stack
 * answers ARP and pings from others the whole time it runs. Options,
 * output and exit status follow iputils ping(8) (man/netsock-ping.1):
 *
 *   - the payload as iputils fills it: a struct timeval of the send time in
 *     the first 16 bytes, then byte i = i (or the -p pattern); replies are
 *     checked from byte 16 on ("wrong data byte"); below 16 bytes of
 *     payload there is no timing, as in ping(8);
 *   - "time=" with ping's rounding; the statistics block word for word:
 *     "+N duplicates", "+N errors", loss as %g, time from the first to the
 *     last request, rtt min/avg/max/mdev in integer microseconds (duplicates
 *     included, as iputils), "pipe N", "ipg/ewma" when flooding;
 *   - ICMP errors quoting our requests as "From A icmp_seq=N <reason>"; a
 *     neighbour that never answers ARP as "From <our address> icmp_seq=N
 *     Destination Host Unreachable", one line per request the stack held
 *     for it (netsock reports the failure once, as EHOSTUNREACH on a raw
 *     socket connected to the destination with IP_RECVERR; there is no
 *     error queue naming each request, but every request still unanswered
 *     then was among the held ones);
 *   - timing: one request per interval; after the last (-c), wait for
 *     replies twice the longest RTT (at least one interval), or -W seconds
 *     (default 10) when none came; -w ends the run at a deadline, sending
 *     until -c replies arrived, and ends it at the first error;
 *   - exit status 0 when replies came (with -w and -c: -c of them), 1 when
 *     none did, 2 for usage and setup errors — among them no route to the
 *     destination ("connect: Network is unreachable");
 *   - IPv6 (-6, or a destination that is an IPv6 literal) as iputils
 *     ping -6: ICMPv6 Echo (RFC 4443 §4) on a raw ICMPv6 socket whose
 *     ICMP6_FILTER passes the reply and the four errors, the checksum the
 *     stack's (RFC 3542 §3.1); "PING A(A) N data bytes", the hop limit of
 *     each reply (IPV6_RECVHOPLIMIT) printed as "ttl=", -t setting
 *     IPV6_UNICAST_HOPS, errors in iputils' words ("Destination
 *     unreachable: Address unreachable"). The source is the first IPv6
 *     --addr.
 *
 * --json replaces the text on stdout by one JSON object (the fields are in
 * the manual page), streamed as replies arrive.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/icmp6.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli.h"
#include "link.h"
#include "netsock/socket.h"
#include "tools.h"
#include "wire/bytes.h"
#include "wire/ipv6.h"
#include "wire/wire.h"

#define PING_MAX_PAYLOAD 65507u /* 65535 - 20 (IP) - 8 (ICMP) */
#define PING6_MAX_PAYLOAD 65527u /* 65535 - 8 (ICMPv6): the IPv6 payload length */
#define PING_SEQ_SPACE 65536u
#define PING_TV_LEN 16u              /* struct timeval in the payload (64-bit Linux) */
#define FLOOD_MIN_INTERVAL_US 10000u /* ping -f: at least 100 per second */
#define LINGER_DEFAULT_S 10.0        /* iputils MAXWAIT */
#define PING_MAX_SECONDS 2147483.0   /* INT_MAX milliseconds, as iputils */

static const char *const prog = "netsock ping";

struct ping_opts {
    struct link_opts link;
    uint64_t count;       /* 0: until interrupted (or -w) */
    double interval_s;
    bool interval_given;
    uint64_t size;
    int ttl;              /* 0: the stack's default */
    double linger_s;      /* -W */
    double deadline_s;    /* -w; 0: none */
    bool flood, quiet, timestamps, outstanding, json;
    int family;           /* -4 / -6: AF_INET or AF_INET6; 0: by the destination */
    const char *iface;    /* -I */
    uint8_t pattern[16];  /* -p */
    size_t pattern_len;
    const char *dest;
};

struct ping_state {
    int fd;               /* unconnected raw ICMP socket: replies and ICMP errors */
    int probe_fd;         /* connected to the destination: local errors (ARP failed) */
    uint16_t id;
    size_t size;
    bool timing;          /* payload holds a timestamp (size >= 16) */
    bool v6;              /* ICMPv6 over IPv6 (ping -6) */
    struct in_addr dst, src;
    struct in6_addr dst6, src6;
    char src_s[INET6_ADDRSTRLEN];
    const struct ping_opts *o;
    uint64_t *sent_at;    /* by sequence number, µs */
    uint8_t *answered;    /* by sequence number: a reply came */
    uint8_t *errored;     /* by sequence number: an error came */
    uint8_t *pkt, *buf, *fill;
    long transmitted, received, dups, errors;
    uint64_t start_us, last_send_us;
    long long tmin, tmax, tsum, tsum2; /* µs, duplicates included (iputils) */
    long long ewma8;      /* iputils' smoothed RTT, scaled by 8 */
    int pipesize;
    uint16_t acked;
    bool last_answered;   /* the newest request has its reply (flood pacing) */
    int json_events;      /* events printed so far (comma placement) */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: netsock ping --link L --addr A/N [link options] [-46DfnOq] [-c count]\n"
            "                    [-i interval] [-I iface|addr] [-p pattern] [-s size] [-t ttl]\n"
            "                    [-W timeout] [-w deadline] [--json] destination\n"
            "\n"
            "ping(8) from a netsock stack of its own on a real link.\n"
            "\n"
            "  -4, -6       IPv4 or IPv6 (ICMPv6 echo from the first IPv6 --addr); by\n"
            "               default the destination's: an IPv6 literal pings over IPv6\n"
            "  -c count     stop after count requests (with -w: after count replies)\n"
            "  -D           print a timestamp [seconds.micros] before each line\n"
            "  -f           flood: as fast as replies come back, at least 100 per second;\n"
            "               '.' per request, a backspace per reply\n"
            "  -i interval  seconds between requests, fractions allowed (default 1;\n"
            "               0 with -f)\n"
            "  -I iface     the interface of --link, or its address (the source address)\n"
            "  -n           accepted; addresses are always numeric\n"
            "  -O           report a request without a reply before sending the next\n"
            "  -p pattern   up to 16 bytes in hex to fill the payload with, e.g. ff00\n"
            "  -q           quiet: only the first line and the statistics\n"
            "  -s size      payload bytes, 0 to %u (IPv6: %u; default 56; fragmented\n"
            "               over the MTU)\n"
            "  -t ttl       IP time to live (IPv6: hop limit), 1 to 255\n"
            "  -W timeout   seconds to wait for a reply when none came back (default 10)\n"
            "  -w deadline  seconds after which ping stops, whatever was sent or received\n"
            "  --json       one JSON object on stdout instead of the text\n"
            "  -h, --help   this text\n"
            "%s"
            "\n"
            "Exit status: 0 replies came back, 1 none did (or fewer than -c before -w),\n"
            "2 usage or setup error (no route: 'connect: Network is unreachable').\n",
            PING_MAX_PAYLOAD, PING6_MAX_PAYLOAD, link_usage());
}

/* -p: hex digits taken two at a time (a last single digit is a byte of
 * its own, as iputils' sscanf("%2x") reads it), at most 16 bytes. */
static int parse_pattern(const char *v, struct ping_opts *o)
{
    size_t n = strlen(v);
    bool ok = n > 0 && n <= 32;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f') ||
             (v[i] >= 'A' && v[i] <= 'F');
    if (!ok)
        return cli_bad_value(prog, "-p", v, "1 to 32 hex digits (up to 16 bytes)");
    o->pattern_len = 0;
    for (size_t i = 0; i < n; i += 2) {
        char byte[3] = {v[i], i + 1 < n ? v[i + 1] : 0, 0};
        o->pattern[o->pattern_len++] = (uint8_t)strtoul(byte, NULL, 16);
    }
    return 0;
}

/* -I: an IPv4 or IPv6 address or an interface name. */
static int parse_iface(const char *v)
{
    struct in6_addr a;
    size_t n = strlen(v);
    if (inet_pton(AF_INET, v, &a) == 1 || inet_pton(AF_INET6, v, &a) == 1)
        return 0;
    bool ok = n > 0 && n <= 15;
    for (size_t i = 0; ok && i < n; i++)
        ok = v[i] > ' ' && v[i] != '/' && v[i] != ':' && v[i] != 0x7f;
    if (!ok)
        return cli_bad_value(prog, "-I", v, "an interface name or an address");
    return 0;
}

/* Returns -1 to go on, else the exit status. */
static int parse_opts(int argc, char **argv, struct ping_opts *o)
{
    static const char shortopts[] = ":46c:Dfhi:I:nOp:qs:t:W:w:";
    enum { OPT_JSON = 0x100 };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        LINK_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    uint64_t u;
    int c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        int r = link_opt(&o->link, prog, c, optarg);
        if (r < 0)
            return CLI_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case 'c':
            if (cli_uint(prog, "-c", optarg, 1, 2147483647, &o->count) < 0)
                return CLI_EXIT_USAGE;
            break;
        case '4': o->family = AF_INET; break;
        case '6': o->family = AF_INET6; break;
        case 'D': o->timestamps = true; break;
        case 'f': o->flood = true; break;
        case 'n': break; /* never resolves names anyway */
        case 'O': o->outstanding = true; break;
        case 'q': o->quiet = true; break;
        case OPT_JSON: o->json = true; break;
        case 'i':
            if (cli_num(prog, "-i", optarg, 0, PING_MAX_SECONDS, "seconds", &o->interval_s) < 0)
                return CLI_EXIT_USAGE;
            o->interval_given = true;
            break;
        case 'I':
            if (parse_iface(optarg) < 0)
                return CLI_EXIT_USAGE;
            o->iface = optarg;
            break;
        case 'p':
            if (parse_pattern(optarg, o) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 's':
            if (cli_uint(prog, "-s", optarg, 0, PING6_MAX_PAYLOAD, &o->size) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 't':
            if (cli_uint(prog, "-t", optarg, 1, 255, &u) < 0)
                return CLI_EXIT_USAGE;
            o->ttl = (int)u;
            break;
        case 'W':
            if (cli_num(prog, "-W", optarg, 0, PING_MAX_SECONDS, "seconds", &o->linger_s) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'w':
            if (cli_num(prog, "-w", optarg, 0, PING_MAX_SECONDS, "seconds", &o->deadline_s) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_getopt_error(prog, c, argv, shortopts);
        }
    }
    if (optind >= argc)
        return cli_usage_error(prog, "no destination");
    if (optind + 1 < argc)
        return cli_usage_error(prog, "one destination only ('%s', then '%s')", argv[optind],
                               argv[optind + 1]);
    o->dest = argv[optind];
    struct in6_addr a6;
    bool is6 = inet_pton(AF_INET6, o->dest, &a6) == 1;
    if (!o->family)
        o->family = is6 ? AF_INET6 : AF_INET;
    if (o->family == AF_INET6) {
        if (!is6) {
            cli_bad_value(prog, "destination", o->dest, "an IPv6 address (-6)");
            return CLI_EXIT_USAGE;
        }
        if (!o->link.n_addr6)
            return cli_usage_error(prog, "an IPv6 destination needs an IPv6 --addr");
    } else {
        struct in_addr a;
        if (cli_ipv4(prog, "destination", o->dest, &a) < 0)
            return CLI_EXIT_USAGE;
        if (o->size > PING_MAX_PAYLOAD) {
            char v[24];
            snprintf(v, sizeof(v), "%" PRIu64, o->size);
            cli_bad_value(prog, "-s", v, "an integer from 0 to %u", PING_MAX_PAYLOAD);
            return CLI_EXIT_USAGE;
        }
    }
    if (o->flood && !o->interval_given)
        o->interval_s = 0;
    if (link_opts_check(&o->link, prog) < 0)
        return CLI_EXIT_USAGE;
    return -1;
}

/* ---- output ---------------------------------------------------------------------------- */

static uint64_t wall_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

/* -D: "[seconds.micros] " before a line. */
static void print_timestamp(const struct ping_opts *o)
{
    if (o->timestamps) {
        uint64_t t = wall_us();
        printf("[%" PRIu64 ".%06" PRIu64 "] ", t / 1000000u, t % 1000000u);
    }
}

/* The start of one event of the JSON stream. */
static void json_event(struct ping_state *p, const char *type)
{
    uint64_t t = wall_us();
    printf("%s\n    {\"type\": \"%s\", \"timestamp\": %" PRIu64 ".%06" PRIu64,
           p->json_events++ ? "," : "", type, t / 1000000u, t % 1000000u);
}

/* "time=" as iputils prints it: µs precision below 1 ms, fewer decimals as
 * the value grows (rounded), none from 100 ms on. */
static void print_time(long long us)
{
    if (us >= 100000)
        printf(" time=%lld ms", (us + 500) / 1000);
    else if (us >= 10000)
        printf(" time=%lld.%01lld ms", (us + 50) / 1000, (us + 50) % 1000 / 100);
    else if (us >= 1000)
        printf(" time=%lld.%02lld ms", (us + 5) / 1000, (us + 5) % 1000 / 10);
    else
        printf(" time=%lld.%03lld ms", us / 1000, us % 1000);
}

static void flood_out(const char *s)
{
    fputs(s, stdout);
    fflush(stdout);
}

/* iputils acknowledge(): the pipe is the most requests outstanding at once,
 * as the sequence number of each answer shows. */
static void acknowledge(struct ping_state *p, uint16_t seq)
{
    uint16_t diff = (uint16_t)((uint16_t)p->transmitted - seq);
    if (diff <= 0x7fff) {
        if ((int)diff + 1 > p->pipesize)
            p->pipesize = (int)diff + 1;
        if ((int16_t)(seq - p->acked) > 0 || (uint16_t)((uint16_t)p->transmitted - p->acked) > 0x7fff)
            p->acked = seq;
    }
}

/* ---- replies and errors ------------------------------------------------------------------- */

/* An Echo Reply of either family: its sender, TTL (IPv6: hop limit),
 * sequence number and data (after the 8-byte echo header). */
struct echo_reply {
    const char *from;
    unsigned ttl;
    uint16_t seq;
    const uint8_t *payload;
    size_t payload_len;
};

static void on_reply(struct ping_state *p, const struct echo_reply *ic, uint64_t now_us)
{
    const struct ping_opts *o = p->o;
    uint16_t seq = ic->seq;
    if (!p->sent_at[seq])
        return; /* never sent by this run */
    const char *from = ic->from;
    long long rtt = (long long)(now_us - p->sent_at[seq]);
    bool dup = p->answered[seq];
    p->answered[seq] = 1;
    acknowledge(p, seq);
    if (p->timing) {
        p->tsum += rtt;
        p->tsum2 += rtt * rtt;
        if (p->received + p->dups == 0 || rtt < p->tmin)
            p->tmin = rtt;
        if (rtt > p->tmax)
            p->tmax = rtt;
        p->ewma8 = p->ewma8 ? p->ewma8 + rtt - p->ewma8 / 8 : rtt * 8;
    }
    if (dup) {
        p->dups++;
    } else {
        p->received++;
        if ((uint16_t)p->transmitted == seq)
            p->last_answered = true;
    }
    /* ping(8) "wrong data byte": the echoed data from byte 16 on. */
    bool truncated = ic->payload_len < p->size;
    long bad = -1;
    for (size_t k = PING_TV_LEN; !truncated && k < p->size; k++)
        if (ic->payload[k] != p->fill[k]) {
            bad = (long)k;
            break;
        }
    size_t bytes = ic->payload_len + NS_ICMP_HLEN;
    if (o->json) {
        json_event(p, "reply");
        printf(", \"seq\": %u, \"from\": \"%s\", \"bytes\": %zu, \"ttl\": %u", seq, from, bytes,
               ic->ttl);
        if (p->timing)
            printf(", \"time_ms\": %lld.%03lld", rtt / 1000, rtt % 1000);
        else
            printf(", \"time_ms\": null");
        printf(", \"duplicate\": %s, \"truncated\": %s, \"wrong_data\": %s}", dup ? "true" : "false",
               truncated ? "true" : "false", bad >= 0 ? "true" : "false");
        return;
    }
    if (o->quiet)
        return;
    if (o->flood) {
        flood_out("\b \b");
        return;
    }
    print_timestamp(o);
    printf("%zu bytes from %s: icmp_seq=%u ttl=%u", bytes, from, seq, ic->ttl);
    if (truncated) {
        printf(" (truncated)\n");
        return;
    }
    if (p->timing)
        print_time(rtt);
    if (dup)
        printf(" (DUP!)");
    if (bad >= 0) {
        printf("\nwrong data byte #%ld should be 0x%x but was 0x%x", bad, p->fill[bad],
               ic->payload[bad]);
        for (size_t k = PING_TV_LEN; k < p->size; k++) {
            if (k % 32 == PING_TV_LEN)
                printf("\n#%zu\t", k);
            printf("%x ", ic->payload[k]);
        }
    }
    printf("\n");
}

/* An error about request `seq` (an ICMP error from `from`, or the stack's
 * own report). */
static void report_error(struct ping_state *p, uint16_t seq, const char *from, const char *what)
{
    const struct ping_opts *o = p->o;
    p->errors++;
    p->errored[seq] = 1;
    acknowledge(p, seq);
    if (o->json) {
        json_event(p, "error");
        printf(", \"seq\": %u, \"from\": \"%s\", \"message\": \"%s\"}", seq, from, what);
        return;
    }
    if (o->quiet)
        return;
    if (o->flood) {
        flood_out("\bE");
        return;
    }
    print_timestamp(o);
    printf("From %s icmp_seq=%u %s\n", from, seq, what);
}

static void on_icmp_error(struct ping_state *p, const struct ns_ip4_repr *ip,
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
    if (id != p->id || !p->sent_at[seq])
        return;
    char from[INET_ADDRSTRLEN];
    struct in_addr src = {.s_addr = htonl(ip->src)};
    inet_ntop(AF_INET, &src, from, sizeof(from));
    report_error(p, seq, from, ns_icmp4_describe(ic->type, ic->code));
}

/* The stack could not deliver to the destination (the neighbour never
 * answered ARP): every request still waiting was held for it. */
static void on_local_error(struct ping_state *p, int err)
{
    /* iputils' words: ping's for IPv4, ping -6's (print_icmp) for IPv6. */
    const char *what = p->v6 ? (err == EHOSTUNREACH   ? "Destination unreachable: Address unreachable"
                                : err == ENETUNREACH ? "Destination unreachable: No route"
                                                     : strerror(err))
                       : err == EHOSTUNREACH ? "Destination Host Unreachable"
                       : err == ENETUNREACH  ? "Destination Net Unreachable"
                                             : strerror(err);
    long first = p->transmitted - (long)PING_SEQ_SPACE / 2;
    for (long n = first > 0 ? first : 1; n <= p->transmitted; n++) {
        uint16_t seq = (uint16_t)n;
        if (p->sent_at[seq] && !p->answered[seq] && !p->errored[seq])
            report_error(p, seq, p->src_s, what);
    }
}

/* One datagram from the raw socket: IPv4 header + ICMP message. */
static void handle(struct ping_state *p, const uint8_t *pkt, size_t len, uint64_t now_us)
{
    struct ns_ip4_repr ip;
    struct ns_icmp4_repr ic;
    if (ns_ip4_parse(pkt, len, &ip, true) < 0 ||
        ns_icmp4_parse(pkt + ip.hlen, ip.total_len - ip.hlen, &ic, true) < 0)
        return;
    if (ic.type == NS_ICMP_ECHO_REPLY && ic.id == p->id) {
        char from[INET_ADDRSTRLEN];
        struct in_addr src = {.s_addr = htonl(ip.src)};
        inet_ntop(AF_INET, &src, from, sizeof(from));
        struct echo_reply r = {.from = from, .ttl = ip.ttl, .seq = ic.seq,
                               .payload = ic.payload, .payload_len = ic.payload_len};
        on_reply(p, &r, now_us);
    }
    else if (ic.type == NS_ICMP_DEST_UNREACH || ic.type == NS_ICMP_TIME_EXCEEDED ||
             ic.type == NS_ICMP_PARAM_PROB)
        on_icmp_error(p, &ip, &ic);
}

/* An ICMPv6 error in iputils' words (ping6_common.c print_icmp), with
 * the MTU of a Packet Too Big and the pointer of a Parameter Problem. */
static void describe6(uint8_t type, uint8_t code, uint32_t info, char *out, size_t n)
{
    static const char *const unreach[] = {"No route", "Administratively prohibited",
                                          "Beyond scope of source address",
                                          "Address unreachable", "Port unreachable"};
    static const char *const pp[] = {"Wrong header field ", "Unknown header ", "Unknown option "};
    switch (type) {
    case NS_ICMP6_DEST_UNREACH:
        if (code < sizeof(unreach) / sizeof(unreach[0]))
            snprintf(out, n, "Destination unreachable: %s", unreach[code]);
        else
            snprintf(out, n, "Destination unreachable: Unknown code %u", code);
        break;
    case NS_ICMP6_PACKET_TOO_BIG:
        snprintf(out, n, code ? "Packet too big: mtu=%u, code=%u" : "Packet too big: mtu=%u",
                 info, code);
        break;
    case NS_ICMP6_TIME_EXCEEDED:
        snprintf(out, n, "Time exceeded: %s",
                 code == 0 ? "Hop limit" : code == 1 ? "Defragmentation failure" : "code");
        break;
    default: /* NS_ICMP6_PARAM_PROB */
        if (code < sizeof(pp) / sizeof(pp[0]))
            snprintf(out, n, "Parameter problem: %sat %u", pp[code], info);
        else
            snprintf(out, n, "Parameter problem: code %u at %u", code, info);
        break;
    }
}

/* One datagram from the raw ICMPv6 socket: the ICMPv6 message alone (no
 * IPv6 header, RFC 3542 §3; its checksum verified by the stack), the
 * sender, the hop limit it arrived with. The socket's ICMP6_FILTER lets
 * only Echo Replies and the errors through. */
static void handle6(struct ping_state *p, const uint8_t *m, size_t len,
                    const struct sockaddr_in6 *from6, int hops, uint64_t now_us)
{
    if (len < NS_ICMP6_HLEN)
        return;
    char from[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &from6->sin6_addr, from, sizeof(from));
    if (m[0] == NS_ICMP6_ECHO_REPLY) {
        if (ns_rd16(m + 4) != p->id)
            return;
        struct echo_reply r = {.from = from, .ttl = hops >= 0 ? (unsigned)hops : 0,
                               .seq = ns_rd16(m + 6), .payload = m + NS_ICMP6_HLEN,
                               .payload_len = len - NS_ICMP6_HLEN};
        on_reply(p, &r, now_us);
        return;
    }
    if (!ns_icmp6_is_error(m[0]))
        return;
    /* RFC 4443 §3: the error quotes our request, its IPv6 header (no
     * extension headers: we send none) and then the echo header. */
    const uint8_t *q = m + NS_ICMP6_HLEN;
    if (len < NS_ICMP6_HLEN + NS_IP6_HLEN + 8 || (q[0] >> 4) != 6 || q[6] != NS_IPPROTO_ICMPV6 ||
        q[NS_IP6_HLEN] != NS_ICMP6_ECHO_REQUEST || ns_rd16(q + NS_IP6_HLEN + 4) != p->id)
        return;
    uint16_t seq = ns_rd16(q + NS_IP6_HLEN + 6);
    if (!p->sent_at[seq])
        return;
    char what[80];
    describe6(m[0], m[1], ns_rd32(m + 4), what, sizeof(what));
    report_error(p, seq, from, what);
}

/* ---- requests ------------------------------------------------------------------------------ */

/* The destination as a sockaddr of its family. */
static socklen_t dest_name(const struct ping_state *p, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (p->v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = p->dst6;
        return sizeof(*s6);
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ss;
    sin->sin_family = AF_INET;
    sin->sin_addr = p->dst;
    return sizeof(*sin);
}

static int send_one(struct ping_state *p, struct ns_stack *st)
{
    const struct ping_opts *o = p->o;
    uint16_t seq = (uint16_t)(p->transmitted + 1); /* icmp_seq starts at 1 */
    if (o->outstanding && p->transmitted > 0 && !p->answered[(uint16_t)p->transmitted] &&
        !p->errored[(uint16_t)p->transmitted]) {
        if (o->json) {
            json_event(p, "no_answer");
            printf(", \"seq\": %u}", (uint16_t)p->transmitted);
        } else {
            print_timestamp(o);
            printf("no answer yet for icmp_seq=%u\n", (uint16_t)p->transmitted);
            fflush(stdout);
        }
    }
    uint8_t *data = p->pkt + NS_ICMP_HLEN;
    memcpy(data, p->fill, p->size);
    uint64_t now = ns_clock_now_us();
    if (p->timing) {
        /* As ping(8): the send time, a struct timeval in host order. */
        struct timeval tv;
        gettimeofday(&tv, NULL);
        int64_t sec = tv.tv_sec, usec = tv.tv_usec;
        memcpy(data, &sec, 8);
        memcpy(data + 8, &usec, 8);
    }
    struct sockaddr_storage to;
    socklen_t tolen = dest_name(p, &to);
    if (p->v6) {
        /* RFC 4443 §4.1; the checksum is the stack's (RFC 3542 §3.1). */
        uint8_t *h = p->pkt;
        h[0] = NS_ICMP6_ECHO_REQUEST;
        h[1] = 0;
        ns_wr16(h + 2, 0);
        ns_wr16(h + 4, p->id);
        ns_wr16(h + 6, seq);
    } else {
        struct ns_icmp4_repr r = {.type = NS_ICMP_ECHO, .id = p->id, .seq = seq,
                                  .payload = data, .payload_len = p->size};
        ns_icmp4_emit(&r, p->pkt);
    }
    p->sent_at[seq] = now ? now : 1;
    p->answered[seq] = 0;
    p->errored[seq] = 0;
    p->last_send_us = now;
    p->transmitted++;
    p->last_answered = false;
    if (ns_sendto(st, p->fd, p->pkt, NS_ICMP_HLEN + p->size, MSG_DONTWAIT,
                  (struct sockaddr *)&to, tolen) < 0) {
        /* As ping(8): report, count as transmitted, carry on. */
        if (o->json) {
            json_event(p, "send_error");
            printf(", \"seq\": %u, \"message\": \"%s\"}", seq, strerror(errno));
        } else if (!o->quiet) {
            if (o->flood)
                flood_out("E");
            else
                fprintf(stderr, "%s: sendmsg: %s\n", prog, strerror(errno));
        }
        return -1;
    }
    if (o->flood && !o->quiet && !o->json)
        flood_out(".");
    return 0;
}

/* Integer square root (mdev), Newton's method as iputils. */
static long long isqrt(long long a)
{
    long long x = a, prev = -1;
    if (x <= 0)
        return 0;
    while (prev < 0 || x < prev) {
        prev = x;
        x = (x + a / x) / 2;
    }
    return prev < x ? prev : x;
}

static int exit_status(const struct ping_state *p)
{
    const struct ping_opts *o = p->o;
    return !p->received || (o->deadline_s > 0 && o->count && (uint64_t)p->received < o->count)
               ? 1
               : 0;
}

static void print_stats(struct ping_state *p)
{
    const struct ping_opts *o = p->o;
    long long elapsed_us = (long long)(p->last_send_us - p->start_us);
    long n = p->received + p->dups;
    long long avg = n ? p->tsum / n : 0;
    long long mdev = n ? isqrt(p->tsum2 / n - avg * avg) : 0;
    double loss = p->transmitted
                      ? (double)(float)((double)(p->transmitted - p->received) * 100.0 /
                                        (double)p->transmitted)
                      : 0;
    bool rtt_line = p->received && p->timing;
    bool ipg_line = p->received && (o->interval_s == 0 || o->flood) && p->transmitted > 1;
    long long ipg = p->transmitted > 1 ? elapsed_us / (p->transmitted - 1) : 0;
    if (o->json) {
        printf("\n  ],\n  \"transmitted\": %ld, \"received\": %ld, \"duplicates\": %ld, "
               "\"errors\": %ld, \"packet_loss_percent\": %g, \"time_ms\": %lld,\n",
               p->transmitted, p->received, p->dups, p->errors, loss, (elapsed_us + 500) / 1000);
        if (rtt_line)
            printf("  \"rtt_ms\": {\"min\": %lld.%03lld, \"avg\": %lld.%03lld, \"max\": "
                   "%lld.%03lld, \"mdev\": %lld.%03lld},\n",
                   p->tmin / 1000, p->tmin % 1000, avg / 1000, avg % 1000, p->tmax / 1000,
                   p->tmax % 1000, mdev / 1000, mdev % 1000);
        else
            printf("  \"rtt_ms\": null,\n");
        if (p->pipesize > 0)
            printf("  \"pipe\": %d, ", p->pipesize);
        else
            printf("  \"pipe\": null, ");
        printf("\"exit_status\": %d\n}\n", exit_status(p));
        return;
    }
    printf("\n--- %s ping statistics ---\n", o->dest);
    printf("%ld packets transmitted, %ld received", p->transmitted, p->received);
    if (p->dups)
        printf(", +%ld duplicates", p->dups);
    if (p->errors)
        printf(", +%ld errors", p->errors);
    if (p->transmitted)
        printf(", %g%% packet loss, time %lldms", loss, (elapsed_us + 500) / 1000);
    printf("\n");
    const char *comma = "";
    if (rtt_line) {
        printf("rtt min/avg/max/mdev = %lld.%03lld/%lld.%03lld/%lld.%03lld/%lld.%03lld ms",
               p->tmin / 1000, p->tmin % 1000, avg / 1000, avg % 1000, p->tmax / 1000,
               p->tmax % 1000, mdev / 1000, mdev % 1000);
        comma = ", ";
    }
    if (p->pipesize > 1) {
        printf("%spipe %d", comma, p->pipesize);
        comma = ", ";
    }
    if (ipg_line)
        printf("%sipg/ewma %lld.%03lld/%lld.%03lld ms", comma, ipg / 1000, ipg % 1000,
               p->ewma8 / 8000, p->ewma8 / 8 % 1000);
    printf("\n");
}

/* Read what both sockets have. */
static void drain(struct ping_state *p, struct ns_stack *st)
{
    ssize_t n;
    while (p->v6) {
        struct sockaddr_in6 from;
        char ctl[64];
        struct iovec iov = {p->buf, NS_IP4_HLEN * 3 + 65536};
        struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
                           .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
        if ((n = ns_recvmsg(st, p->fd, &m, MSG_DONTWAIT)) < 0)
            break;
        int hops = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
            if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)
                memcpy(&hops, CMSG_DATA(c), sizeof(hops));
        handle6(p, p->buf, (size_t)n, &from, hops, ns_clock_now_us());
    }
    while (!p->v6 && (n = ns_recv(st, p->fd, p->buf, NS_IP4_HLEN * 3 + 65536, MSG_DONTWAIT)) > 0)
        handle(p, p->buf, (size_t)n, ns_clock_now_us());
    /* The connected socket sees copies of the replies (dropped here: the
     * other socket has them) and, as a socket error, a failed delivery. */
    for (;;) {
        n = ns_recv(st, p->probe_fd, p->buf, NS_IP4_HLEN * 3 + 65536, MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            on_local_error(p, errno);
        break;
    }
}

static int run(struct ping_state *p, struct link_host *h)
{
    const struct ping_opts *o = p->o;
    struct ns_stack *st = h->st;
    uint64_t interval_us = (uint64_t)llround(o->interval_s * 1e6);
    uint64_t linger_us =
        (uint64_t)llround((o->linger_s > 0 ? o->linger_s : LINGER_DEFAULT_S) * 1e6);
    uint64_t deadline_us = (uint64_t)llround(o->deadline_s * 1e6);

    if (o->json) {
        printf("{\n  \"destination\": \"%s\", \"source\": \"%s\", \"data_bytes\": %zu, "
               "\"pattern\": ",
               o->dest, p->src_s, p->size);
        if (o->pattern_len) {
            printf("\"");
            for (size_t k = 0; k < o->pattern_len; k++)
                printf("%02x", o->pattern[k]);
            printf("\"");
        } else {
            printf("null");
        }
        printf(",\n  \"events\": [");
    } else {
        if (o->pattern_len && !o->quiet) {
            printf("PATTERN: 0x");
            for (size_t k = 0; k < o->pattern_len; k++)
                printf("%02x", o->pattern[k]);
            printf("\n");
        }
        /* iputils: "PING A (A) 56(84) bytes of data." for IPv4, and for
         * IPv6 (ping6_run) "PING A(A) 56 data bytes". */
        printf(p->v6 ? "PING %s(%s) " : "PING %s (%s) ", o->dest, o->dest);
        if (o->iface)
            printf("from %s %s: ", p->src_s, strcmp(o->iface, p->src_s) ? o->iface : "");
        if (p->v6)
            printf("%zu data bytes\n", p->size);
        else
            printf("%zu(%zu) bytes of data.\n", p->size, p->size + 28);
    }
    fflush(stdout);
    p->start_us = p->last_send_us = ns_clock_now_us();
    uint64_t next_send = p->start_us;
    for (;;) {
        uint64_t now = ns_clock_now_us();
        if (o->count && (uint64_t)(p->received + p->errors) >= o->count)
            break;
        if (deadline_us && (p->errors || now >= p->start_us + deadline_us))
            break;
        /* With -w, requests go on until -c replies came (iputils). */
        bool more = !o->count || (uint64_t)p->transmitted < o->count || deadline_us;
        if (more) {
            /* Flood: the next request goes when the last one is answered,
             * or after 10 ms at the latest (ping -f). */
            bool due = now >= next_send || (o->flood && p->last_answered && interval_us == 0);
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
            /* After the last request (iputils schedule_exit): twice the
             * longest RTT, at least one interval, when replies came back;
             * else the linger time (-W, default 10 s). */
            uint64_t linger = linger_us;
            if (p->received) {
                linger = 2 * (uint64_t)p->tmax;
                if (linger < interval_us)
                    linger = interval_us;
                if (linger < 1000)
                    linger = 1000;
            }
            wake = p->last_send_us + linger;
            if (now >= wake)
                break;
        }
        if (deadline_us && wake > p->start_us + deadline_us)
            wake = p->start_us + deadline_us;
        /* Refresh the stack's clock: ns_poll measures its timeout from it. */
        ns_stack_poll(st, now);
        struct pollfd pfd[2] = {{.fd = p->fd, .events = POLLIN},
                                {.fd = p->probe_fd, .events = POLLIN}};
        int ms = wake > now ? (int)((wake - now + 999) / 1000) : 0;
        int r = ns_poll(st, pfd, 2, ms);
        if (r < 0 && errno == EINTR)
            break; /* SIGINT/SIGTERM: statistics, as ping(8) */
        if (r < 0) {
            fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
            return -1;
        }
        drain(p, st);
    }
    print_stats(p);
    return 0;
}

/* -I: the interface of --link or this host's address; anything else is
 * refused as ping(8) refuses it. Binds both sockets to the address. */
static int bind_source(struct ping_state *p, struct link_host *h)
{
    const struct ping_opts *o = p->o;
    if (!o->iface)
        return 0;
    struct in_addr a;
    struct in6_addr a6;
    if (inet_pton(AF_INET, o->iface, &a) == 1 || inet_pton(AF_INET6, o->iface, &a6) == 1) {
        bool ours = p->v6 ? inet_pton(AF_INET6, o->iface, &a6) == 1 &&
                                memcmp(&a6, &p->src6, sizeof(a6)) == 0
                          : inet_pton(AF_INET, o->iface, &a) == 1 && a.s_addr == p->src.s_addr;
        if (!ours) {
            fprintf(stderr, "%s: bind: %s\n", prog, strerror(EADDRNOTAVAIL));
            return -1;
        }
    } else if (strcmp(o->iface, link_ifname(&o->link))) {
        fprintf(stderr, "%s: SO_BINDTODEVICE %s: %s\n", prog, o->iface, strerror(ENODEV));
        return -1;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (p->v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = p->src6;
        len = sizeof(*s6);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_addr = p->src;
        len = sizeof(*sin);
    }
    if (ns_bind(h->st, p->fd, (struct sockaddr *)&ss, len) < 0 ||
        ns_bind(h->st, p->probe_fd, (struct sockaddr *)&ss, len) < 0) {
        fprintf(stderr, "%s: bind: %s\n", prog, strerror(errno));
        return -1;
    }
    return 0;
}

/* The options of the two sockets before they are bound. IPv4, as
 * ping(8): IP_RECVERR on the probe socket, so that a neighbour that never
 * answers ARP (a soft error) is reported. IPv6, as ping -6 (iputils
 * ping6_run): ICMP6_FILTER passing the Echo Reply and the errors and
 * IPV6_RECVHOPLIMIT (for "ttl=") on the main socket; the probe hears
 * nothing but its errors (all blocked, IPV6_RECVERR: a neighbour that
 * never answers neighbour discovery is reported the same way). */
static int socket_opts(struct ping_state *p, struct ns_stack *st)
{
    int one = 1;
    if (!p->v6)
        return ns_setsockopt(st, p->probe_fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
    struct icmp6_filter f;
    ICMP6_FILTER_SETBLOCKALL(&f);
    if (ns_setsockopt(st, p->probe_fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f)) < 0 ||
        ns_setsockopt(st, p->probe_fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one)) < 0)
        return -1;
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
    ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &f);
    ICMP6_FILTER_SETPASS(ICMP6_PACKET_TOO_BIG, &f);
    ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &f);
    ICMP6_FILTER_SETPASS(ICMP6_PARAM_PROB, &f);
    if (ns_setsockopt(st, p->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f)) < 0)
        return -1;
    return ns_setsockopt(st, p->fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one));
}

/* The raw sockets of the destination's family: their options, the source
 * (-I), the probe connected first (as ping(8): no route is an error
 * before anything is sent), the TTL or hop limit (-t). 0, or -1 after
 * the message. */
static int open_sockets(struct ping_state *p, struct link_host *h)
{
    const struct ping_opts *o = p->o;
    int family = p->v6 ? AF_INET6 : AF_INET, proto = p->v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
    p->fd = ns_socket(h->st, family, SOCK_RAW, proto);
    p->probe_fd = ns_socket(h->st, family, SOCK_RAW, proto);
    if (p->fd < 0 || p->probe_fd < 0) {
        fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
        return -1;
    }
    if (socket_opts(p, h->st) < 0) {
        fprintf(stderr, "%s: setsockopt: %s\n", prog, strerror(errno));
        return -1;
    }
    if (bind_source(p, h) < 0)
        return -1;
    struct sockaddr_storage to;
    socklen_t tolen = dest_name(p, &to);
    if (ns_connect(h->st, p->probe_fd, (struct sockaddr *)&to, tolen) < 0) {
        fprintf(stderr, "%s: connect: %s\n", prog, strerror(errno));
        return -1;
    }
    if (!o->ttl)
        return 0;
    int rc = p->v6
                 ? ns_setsockopt(h->st, p->fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &o->ttl,
                                 sizeof(o->ttl)) |
                       ns_setsockopt(h->st, p->fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &o->ttl,
                                     sizeof(o->ttl))
                 : ns_setsockopt(h->st, p->fd, IPPROTO_IP, IP_TTL, &o->ttl, sizeof(o->ttl));
    if (rc < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, p->v6 ? "can't set unicast hop limit" : "IP_TTL",
                strerror(errno));
        return -1;
    }
    return 0;
}

int tool_ping(int argc, char **argv)
{
    struct ping_opts o = {.interval_s = 1.0, .size = 56};
    int rc = parse_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    struct ping_state p = {.o = &o, .size = (size_t)o.size, .id = (uint16_t)getpid(),
                           .fd = -1, .probe_fd = -1, .timing = o.size >= PING_TV_LEN,
                           .v6 = o.family == AF_INET6};
    char addr[64];
    if (p.v6) {
        inet_pton(AF_INET6, o.dest, &p.dst6);
        snprintf(addr, sizeof(addr), "%.*s", (int)strcspn(o.link.addr6[0], "/"), o.link.addr6[0]);
        inet_pton(AF_INET6, addr, &p.src6);
        inet_ntop(AF_INET6, &p.src6, p.src_s, sizeof(p.src_s));
    } else {
        inet_pton(AF_INET, o.dest, &p.dst);
        snprintf(addr, sizeof(addr), "%.*s", (int)strcspn(o.link.addr, "/"), o.link.addr);
        inet_pton(AF_INET, addr, &p.src);
        inet_ntop(AF_INET, &p.src, p.src_s, sizeof(p.src_s));
    }
    if (!o.link.name)
        o.link.name = "ping";
    struct link_host h;
    if (link_host_open(&h, &o.link) < 0)
        return CLI_EXIT_USAGE; /* ping(8): 2 for every error that is not a lost reply */
    int status = CLI_EXIT_USAGE;
    p.sent_at = calloc(PING_SEQ_SPACE, sizeof(*p.sent_at));
    p.answered = calloc(PING_SEQ_SPACE, 1);
    p.errored = calloc(PING_SEQ_SPACE, 1);
    p.pkt = calloc(1, NS_ICMP_HLEN + p.size);
    p.fill = calloc(1, p.size + 1);
    p.buf = malloc(NS_IP4_HLEN * 3 + 65536);
    if (!p.sent_at || !p.answered || !p.errored || !p.pkt || !p.fill || !p.buf) {
        fprintf(stderr, "%s: out of memory\n", prog);
        goto out;
    }
    /* The payload as iputils fills it: byte i = i, or the -p pattern. */
    for (size_t k = 0; k < p.size; k++)
        p.fill[k] = o.pattern_len ? o.pattern[k % o.pattern_len] : (uint8_t)k;
    if (open_sockets(&p, &h) < 0)
        goto out;
    if (run(&p, &h) == 0)
        status = exit_status(&p);
    if (o.link.verbose)
        link_print_counters(h.st, stderr);
out:
    if (p.fd >= 0)
        ns_close(h.st, p.fd);
    if (p.probe_fd >= 0)
        ns_close(h.st, p.probe_fd);
    fflush(stdout);
    link_host_close(&h);
    free(p.sent_at);
    free(p.answered);
    free(p.errored);
    free(p.pkt);
    free(p.fill);
    free(p.buf);
    return status;
}
