/* tools/stat.c — `netsock stat`: the sockets of a running `netsock host`
 * as ss(8) shows the kernel's (the same filters, columns and state
 * names), or its counters like `netstat -s`, read from the host's control
 * socket (ctl.h, docs/host.md). The table is formatted by the host
 * (ctl.c); this side turns the options into the request line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"
#include "tools.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: netsock stat [-tuwlanpimeH] [--json] [--name NAME | --pid PID]\n"
            "       netsock stat -s [--json] [--name NAME | --pid PID]\n"
            "       netsock stat -c [--json] [--name NAME | --pid PID]\n"
            "\n"
            "The sockets of a running 'netsock host', as ss(8) shows the kernel's, or with\n"
            "-s its counters (like netstat -s). Without --name or --pid: the only host\n"
            "running.\n"
            "\n"
            "  -t, --tcp          TCP sockets\n"
            "  -u, --udp          UDP sockets\n"
            "  -w, --raw          raw sockets (none of -t -u -w: all three)\n"
            "  -l, --listening    only listening sockets (LISTEN, and UNCONN datagram sockets)\n"
            "  -a, --all          listening and non-listening sockets (default: non-listening)\n"
            "  -n, --numeric      accepted; addresses and ports are always numeric\n"
            "  -p, --processes    the Process column: users:((\"netsock\",pid=P,fd=F))\n"
            "  -i, --info         TCP internals: cc wscale rto rtt mss cwnd ssthresh ...\n"
            "  -m, --memory       socket memory: skmem:(r,rb,t,tb,f,w,o,bl,d)\n"
            "  -e, --extended     uid, ino, sk and the shutdown marks (<->)\n"
            "  -H, --no-header    no header line\n"
            "  -s, --statistics   the counters instead of the sockets (as netstat -s)\n"
            "  -c, --conntrack    the connection tracking table of a 'netsock nat': each\n"
            "                     guest socket pair, its host socket pair, state, bytes,\n"
            "                     idle time; then the table's counters\n"
            "  -j, --json         JSON (field names in 'man netsock-stat')\n"
            "      --name NAME    the host named NAME\n"
            "      --pid PID      the host whose process is PID\n"
            "  -h, --help         this text\n");
}

int tool_stat(int argc, char **argv)
{
    static const char *const prog = "netsock stat";
    static const char shortopts[] = ":tuwlanpimeHscjh";
    enum { OPT_NAME = 0x100, OPT_PID };
    static const struct option longopts[] = {
        {"tcp", no_argument, NULL, 't'},
        {"udp", no_argument, NULL, 'u'},
        {"raw", no_argument, NULL, 'w'},
        {"listening", no_argument, NULL, 'l'},
        {"all", no_argument, NULL, 'a'},
        {"numeric", no_argument, NULL, 'n'},
        {"processes", no_argument, NULL, 'p'},
        {"info", no_argument, NULL, 'i'},
        {"memory", no_argument, NULL, 'm'},
        {"extended", no_argument, NULL, 'e'},
        {"no-header", no_argument, NULL, 'H'},
        {"statistics", no_argument, NULL, 's'},
        {"conntrack", no_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"name", required_argument, NULL, OPT_NAME},
        {"pid", required_argument, NULL, OPT_PID},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = NULL;
    uint64_t pid = 0;
    bool counters = false, json = false, conntrack = false;
    char flags[16] = "";
    size_t nflags = 0;
    int c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        switch (c) {
        case 'l': /* as ss: the last of -l and -a counts */
        case 'a':
            if (strchr(flags, c == 'l' ? 'a' : 'l'))
                *strchr(flags, c == 'l' ? 'a' : 'l') = (char)c;
            else if (!strchr(flags, c) && nflags < sizeof(flags) - 1)
                flags[nflags++] = (char)c;
            break;
        case 't': case 'u': case 'w': case 'n':
        case 'p': case 'i': case 'm': case 'e': case 'H':
            if (!strchr(flags, c) && nflags < sizeof(flags) - 1) {
                flags[nflags++] = (char)c;
                flags[nflags] = 0;
            }
            break;
        case 's':
            counters = true;
            break;
        case 'c':
            conntrack = true;
            break;
        case 'j':
            json = true;
            break;
        case OPT_NAME:
            if (!ctl_name_ok(optarg)) {
                cli_bad_value(prog, "--name", optarg,
                              "1 to 64 letters, digits, '.', '_' or '-', not starting with '.'");
                return CLI_EXIT_USAGE;
            }
            name = optarg;
            break;
        case OPT_PID:
            if (cli_uint(prog, "--pid", optarg, 1, 4194304, &pid) < 0) /* PID_MAX_LIMIT */
                return CLI_EXIT_USAGE;
            break;
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_getopt_error(prog, c, argv, shortopts);
        }
    }
    if (optind < argc)
        return cli_usage_error(prog, "unexpected argument '%s' (no filter expressions: use "
                                     "-t, -u, -w, -l, -a)",
                               argv[optind]);
    if (name && pid)
        return cli_usage_error(prog, "--name and --pid exclude each other");
    if (conntrack && (counters || nflags))
        return cli_usage_error(prog, "-c shows the conntrack table: no -s or socket filters with it");
    if (counters && nflags)
        return cli_usage_error(prog, "-s shows the counters: -%s apply to the socket table",
                               flags);

    char path[CTL_PATH_MAX];
    if (ctl_find(name, (long)pid, path) < 0)
        return CLI_EXIT_FAIL;
    char req[64];
    if (conntrack)
        snprintf(req, sizeof(req), "conntrack%s", json ? " json" : "");
    else if (counters)
        snprintf(req, sizeof(req), "counters%s", json ? " json" : "");
    else
        snprintf(req, sizeof(req), "sockets%s%s%s", json ? " json" : "", nflags ? " -" : "",
                 flags);
    fflush(stdout);
    return ctl_request(path, req, 1) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
