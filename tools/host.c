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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"
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
            "  -q, --quiet        print nothing but errors\n"
            "  -h, --help         this text\n"
            "%s"
            "\n"
            "The control socket for 'netsock stat' is /run/netsock/NAME.sock (or\n"
            "/tmp/netsock-NAME.sock); NAME is --name, else the interface name.\n",
            HOST_MAX_CONNS, link_usage());
}

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
    enum { OPT_SERVE = 0x100, OPT_HTTP_PORT, OPT_MAX_CONNS, OPT_READ_PAUSE };
    static const struct option longopts[] = {
        {"serve", required_argument, NULL, OPT_SERVE},
        {"http-port", required_argument, NULL, OPT_HTTP_PORT},
        {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
        {"read-pause", required_argument, NULL, OPT_READ_PAUSE},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        LINK_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct link_opts lo = {0};
    struct services_config cfg;
    services_config_default(&cfg);
    bool quiet = false;
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
    struct ctl_server *ctl = NULL;
    if (ctl_server_open(&ctl, lo.name, h.loop, h.st, svc) < 0) {
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
