/* tools/netsock.c — the `netsock` command: subcommand dispatch.
 *
 *   netsock demo [options]   simulated network demo (what `make demo` runs)
 *   netsock host|stat|cat    host services on a real link (docs/host.md)
 *   netsock perf             iperf3 client/server on a real link (docs/perf.md)
 *   netsock version
 */
#include <stdio.h>
#include <string.h>

#include "netsock/netsock.h"
#include "tools.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: netsock <command> [options]\n"
            "\n"
            "commands:\n"
            "  demo      hosts on a simulated lossy network ping each other;\n"
            "            prints RTTs, changed counters and a pcap path\n"
            "  host      a user-space host on a real link serving echo, discard,\n"
            "            chargen and HTTP\n"
            "  stat      sockets (-s: counters) of a running netsock host\n"
            "  cat       like nc: stdin to a TCP/UDP socket on a real link and back\n"
            "  ping      ping(8) from a netsock stack on a real link (tap, tun, packet)\n"
            "  perf      iperf3 client and server (TCP, UDP, -R, -P) on a real link,\n"
            "            interoperating with the real iperf3\n"
            "  version   print the version\n"
            "\n"
            "Run 'netsock <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "demo"))
        return tool_demo(argc - 1, argv + 1);
    if (!strcmp(cmd, "host"))
        return tool_host(argc - 1, argv + 1);
    if (!strcmp(cmd, "stat"))
        return tool_stat(argc - 1, argv + 1);
    if (!strcmp(cmd, "cat"))
        return tool_cat(argc - 1, argv + 1);
    if (!strcmp(cmd, "ping"))
        return tool_ping(argc - 1, argv + 1);
    if (!strcmp(cmd, "perf"))
        return tool_perf(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("netsock %s\n", NS_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "netsock: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
