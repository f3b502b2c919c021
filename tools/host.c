/* tools/host.c — `netsock host`: a user-space host on a real link.
 *
 *   netsock host --link tap:ns0 --addr 192.0.2.2/24 --gw 192.0.2.1 \
 *                --serve echo,discard,chargen,http --pcap host.pcap
 *
 * The stack answers ARP and ping by itself; the services (services.c)
 * serve TCP and UDP; the control socket (ctl.h) answers `netsock stat`.
 * One thread: services_poll() waits in ns_poll, which runs the real-time
 * loop; the loop also runs the control socket's callbacks. SIGINT/SIGTERM
 * stop the loop: connections are closed, the capture flushed, the
 * counters printed. docs/host.md has the details.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"
#include "dhcpd.h"
#include "link.h"
#include "netsock/os.h"
#include "netsock/socket.h"
#include "services.h"
#include "tools.h"

/* --max-conns ceiling: a million connections, the stack's design target. */
#define HOST_MAX_CONNS 1048576u

static void usage(FILE *f)
{
    fprintf(f,
            "usage: netsock host --link tap:NAME|tun:NAME|packet:IFNAME --addr A.B.C.D/N [options]\n"
            "\n"
            "A user-space host on a real link: answers ARP and ping, serves small services.\n"
            "\n"
            "  --serve LIST       services to run (default all): echo (7), discard (9),\n"
            "                     chargen (19) over TCP and UDP, http (80)\n"
            "  --http-port N      HTTP port, 1 to 65535 (default 80)\n"
            "  --max-conns N      TCP connections open at once, 1 to %u (default 4096)\n"
            "  --read-pause B:S   a slow reader: each TCP connection stops reading for S\n"
            "                     seconds once it has read B bytes, then reads on\n"
            "  --dhcp-server[=LIST]  serve DHCP (RFC 2131) on the link: leases from .15 to .30\n"
            "                     of --addr's network, router and server id the host's address;\n"
            "                     LIST changes them: pool=FIRST-LAST,router=A,dns=A,\n"
            "                     lease=SECONDS,mtu=N\n"
            "  -q, --quiet        print nothing but errors\n"
            "  -h, --help         this text\n"
            "%s"
            "\n"
            "The control socket for 'netsock stat' is /run/netsock/NAME.sock (or\n"
            "/tmp/netsock-NAME.sock); NAME is --name, else the interface name.\n",
            HOST_MAX_CONNS, link_usage());
}

/* The DHCP server's configuration for --dhcp-server=spec on a host with
 * --addr addr ("A.B.C.D/N", checked already): the defaults of
 * dhcpd_config_default for its network, the host's address as server and
 * router, no DNS, then spec. 0, or -1 after the usage message. */
static int dhcp_config(const char *prog, const char *addr, const char *spec,
                       struct dhcpd_config *c)
{
    char ip[16];
    const char *slash = strchr(addr, '/');
    size_t len = slash ? (size_t)(slash - addr) : strlen(addr);
    struct in_addr a = {0};
    if (len < sizeof(ip)) {
        memcpy(ip, addr, len);
        ip[len] = '\0';
        inet_pton(AF_INET, ip, &a);
    }
    unsigned prefix = slash ? (unsigned)atoi(slash + 1) : 32;
    uint32_t host = ntohl(a.s_addr);
    dhcpd_config_default(c, host, prefix);
    c->server = c->router = host;
    c->dns = 0;
    char err[160];
    const char *why = NULL;
    if (dhcpd_config_parse(spec ? spec : "", c, err, sizeof(err)) < 0)
        return cli_bad_value(prog, "--dhcp-server", spec, "%s", err);
    if (dhcpd_config_check(c, &why) < 0) {
        cli_usage_error(prog, "--dhcp-server: %s (network of --addr %s)", why, addr);
        return -1;
    }
    return 0;
}

static void dhcp_ready(void *ctx) { dhcpd_service(ctx); }

/* The host's name when --name is not given: the interface name of --link. */
static const char *default_name(const char *link)
{
    const char *colon = link ? strchr(link, ':') : NULL;
    return colon && ctl_name_ok(colon + 1) ? colon + 1 : "netsock";
}

int tool_host(int argc, char **argv)
{
    static const char *const prog = "netsock host";
    static const char shortopts[] = ":qh";
    enum { OPT_SERVE = 0x100, OPT_HTTP_PORT, OPT_MAX_CONNS, OPT_READ_PAUSE, OPT_DHCP };
    static const struct option longopts[] = {
        {"serve", required_argument, NULL, OPT_SERVE},
        {"http-port", required_argument, NULL, OPT_HTTP_PORT},
        {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
        {"read-pause", required_argument, NULL, OPT_READ_PAUSE},
        {"dhcp-server", optional_argument, NULL, OPT_DHCP},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        LINK_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct link_opts lo = {0};
    struct services_config cfg;
    services_config_default(&cfg);
    bool quiet = false, dhcp = false;
    const char *dhcp_spec = NULL;
    uint64_t u;
    int c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        int r = link_opt(&lo, prog, c, optarg);
        if (r < 0)
            return CLI_EXIT_USAGE;
        if (r > 0)
            continue;
        switch (c) {
        case OPT_SERVE: {
            const char *bad;
            size_t bad_len;
            if (services_parse(optarg, &cfg.mask, &bad, &bad_len) < 0) {
                cli_bad_value(prog, "--serve", optarg,
                              "services from echo, discard, chargen, http, all, separated "
                              "by commas ('%.*s' is none of them)",
                              (int)bad_len, bad);
                return CLI_EXIT_USAGE;
            }
            break;
        }
        case OPT_HTTP_PORT:
            if (cli_port(prog, "--http-port", optarg, 1, &cfg.port[3]) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAX_CONNS:
            if (cli_uint(prog, "--max-conns", optarg, 1, HOST_MAX_CONNS, &u) < 0)
                return CLI_EXIT_USAGE;
            cfg.max_conns = (unsigned)u;
            break;
        case OPT_READ_PAUSE: {
            char *end;
            errno = 0;
            unsigned long long b = strtoull(optarg, &end, 10);
            double secs = (end != optarg && *end == ':') ? strtod(end + 1, &end) : -1;
            if (optarg[0] == '-' || errno || *end || !(secs >= 0 && secs <= 86400)) {
                cli_bad_value(prog, "--read-pause", optarg,
                              "BYTES:SECONDS, seconds from 0 to 86400");
                return CLI_EXIT_USAGE;
            }
            cfg.pause_after = b;
            cfg.pause_us = (uint64_t)(secs * 1e6);
            break;
        }
        case OPT_DHCP:
            dhcp = true;
            dhcp_spec = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_getopt_error(prog, c, argv, shortopts);
        }
    }
    if (optind < argc)
        return cli_usage_error(prog, "unexpected argument '%s'", argv[optind]);
    if (link_opts_check(&lo, prog) < 0)
        return CLI_EXIT_USAGE;
    if (!lo.name)
        lo.name = default_name(lo.link);
    struct dhcpd_config dcfg;
    if (dhcp && dhcp_config(prog, lo.addr, dhcp_spec, &dcfg) < 0)
        return CLI_EXIT_USAGE;

    struct link_host h;
    if (link_host_open(&h, &lo) < 0)
        return CLI_EXIT_FAIL;
    int err = 0;
    cfg.ipv6 = lo.n_addr6 > 0;
    struct services *svc = services_new(h.st, &cfg, &err);
    if (!svc) {
        link_host_close(&h);
        return 1;
    }
    struct dhcpd *dhcpd = NULL;
    if (dhcp) {
        dhcpd = dhcpd_new(h.st, h.ifindex, &dcfg, &err, NULL);
        if (!dhcpd) {
            fprintf(stderr, "%s: DHCP server: %s\n", prog, strerror(-err));
            services_free(svc);
            link_host_close(&h);
            return 1;
        }
        services_watch(svc, dhcpd_fd(dhcpd), dhcp_ready, dhcpd);
    }
    struct ctl_server *ctl = NULL;
    if (ctl_server_open(&ctl, lo.name, h.loop, h.st, svc) < 0) {
        dhcpd_free(dhcpd);
        services_free(svc);
        link_host_close(&h);
        return 1;
    }
    if (!quiet) {
        fprintf(stderr, "netsock host %s: %s on %s, serving", lo.name, lo.addr, lo.link);
        static const char *const names[] = {" echo", " discard", " chargen", " http"};
        for (unsigned i = 0; i < 4; i++)
            if (cfg.mask & (1u << i))
                fprintf(stderr, "%s", names[i]);
        if (dhcpd) {
            char a[16], b[16];
            struct in_addr f = {htonl(dcfg.pool_first)};
            struct in_addr l = {htonl(dcfg.pool_first + dcfg.pool_size - 1)};
            fprintf(stderr, " dhcp (%s-%s)", inet_ntop(AF_INET, &f, a, sizeof(a)),
                    inet_ntop(AF_INET, &l, b, sizeof(b)));
        }
        fprintf(stderr, "; control socket %s\n", ctl_server_path(ctl));
    }

    int rc = 0;
    while (!ns_loop_stopped(h.loop)) {
        int n = services_poll(svc, 1000);
        if (n < 0 && n != -EINTR) {
            fprintf(stderr, "netsock host: %s\n", strerror(-n));
            rc = 1;
            break;
        }
    }

    /* Shutdown: close every connection (FIN, or RST where data was left
     * unread), let the stack put those segments on the wire, then report. */
    struct services_stats st;
    services_get_stats(svc, &st);
    ctl_server_close(ctl);
    const struct dhcpd_stats *ds = dhcpd ? &dhcpd_server_of(dhcpd)->stats : NULL;
    if (ds && !quiet)
        fprintf(stderr,
                "netsock host %s: DHCP: %llu received, %llu offers, %llu acks, %llu naks, "
                "%llu released, %llu declined, %llu dropped as malformed, %llu dropped as "
                "BOOTP, %llu refused for a full pool\n",
                lo.name, (unsigned long long)ds->rx, (unsigned long long)ds->offers,
                (unsigned long long)ds->acks, (unsigned long long)ds->naks,
                (unsigned long long)ds->released, (unsigned long long)ds->declined,
                (unsigned long long)ds->drop_malformed, (unsigned long long)ds->drop_bootp,
                (unsigned long long)ds->no_address);
    dhcpd_free(dhcpd);
    services_free(svc);
    ns_stack_poll(h.st, ns_clock_now_us());
    if (!quiet) {
        fprintf(stderr,
                "\nnetsock host %s: stopping; %llu connections served, %llu HTTP requests, "
                "%llu UDP datagrams\n",
                lo.name, (unsigned long long)st.conns_total,
                (unsigned long long)st.http_requests, (unsigned long long)st.udp_in);
        link_print_counters(h.st, stderr);
    }
    link_host_close(&h);
    return rc;
}
