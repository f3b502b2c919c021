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

#include "ctl.h"
#include "link.h"
#include "netsock/os.h"
#include "netsock/socket.h"
#include "services.h"
#include "tools.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: netsock host --link tap:NAME|tun:NAME|packet:IFNAME --addr A.B.C.D/N [options]\n"
            "\n"
            "A user-space host on a real link: answers ARP and ping, serves small services.\n"
            "\n"
            "  --serve LIST       services to run (default all): echo (7), discard (9),\n"
            "                     chargen (19) over TCP and UDP, http (80)\n"
            "  --http-port N      HTTP port (default 80)\n"
            "  --max-conns N      TCP connections open at once (default 4096)\n"
            "  --read-pause B:S   a slow reader: each TCP connection stops reading for S\n"
            "                     seconds once it has read B bytes, then reads on\n"
            "  --quiet            print nothing but errors\n"
            "%s"
            "\n"
            "The control socket for 'netsock stat' is /run/netsock/NAME.sock (or\n"
            "/tmp/netsock-NAME.sock); NAME is --name, else the interface name.\n",
            link_usage());
}

/* The host's name when --name is not given: the interface name of --link. */
static const char *default_name(const char *link)
{
    const char *colon = link ? strchr(link, ':') : NULL;
    return colon && ctl_name_ok(colon + 1) ? colon + 1 : "netsock";
}

int tool_host(int argc, char **argv)
{
    struct link_opts lo = {0};
    struct services_config cfg;
    services_config_default(&cfg);
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        int rc = link_parse_opt(&lo, argc, argv, &i);
        if (rc < 0)
            return 2;
        if (rc > 0) {
            i--; /* link_parse_opt moved past the option; the loop adds one */
            continue;
        }
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--serve") && v) {
            if (services_parse(v, &cfg.mask) < 0)
                return 2;
            i++;
        } else if (!strcmp(a, "--http-port") && v) {
            long p = strtol(v, NULL, 10);
            if (p <= 0 || p > 65535) {
                fprintf(stderr, "netsock host: bad port '%s'\n", v);
                return 2;
            }
            cfg.port[3] = (uint16_t)p;
            i++;
        } else if (!strcmp(a, "--max-conns") && v) {
            cfg.max_conns = (unsigned)strtoul(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--read-pause") && v) {
            char *end;
            unsigned long long b = strtoull(v, &end, 10);
            double secs = *end == ':' ? strtod(end + 1, &end) : -1;
            if (*end || secs < 0 || secs > 86400) {
                fprintf(stderr, "netsock host: bad --read-pause '%s' (BYTES:SECONDS)\n", v);
                return 2;
            }
            cfg.pause_after = b;
            cfg.pause_us = (uint64_t)(secs * 1e6);
            i++;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = true;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "netsock host: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!lo.link || !lo.addr) {
        usage(stderr);
        return 2;
    }
    if (!lo.name)
        lo.name = default_name(lo.link);
    if (!ctl_name_ok(lo.name)) {
        fprintf(stderr, "netsock host: bad --name '%s' (letters, digits, . _ -)\n", lo.name);
        return 2;
    }

    struct link_host h;
    if (link_host_open(&h, &lo) < 0)
        return 1;
    int err = 0;
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
