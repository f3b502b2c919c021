/* tools/netsock.c — the `netsock` command: subcommand dispatch.
 *
 *   netsock demo [options]   simulated network demo (what `make demo` runs)
 *   netsock host|stat|cat|ping   host tools on a real link (docs/host.md)
 *   netsock perf             iperf3 client/server on a real link (docs/perf.md)
 *   netsock run -- PROGRAM   an unmodified program on netsock (docs/run.md)
 *   netsock nat NETNS TAP    user-mode networking for a namespace (docs/nat.md)
 *   netsock version | help [COMMAND]
 *
 * Each subcommand parses its own options (getopt_long, cli.h) and has a
 * manual page, man/netsock-COMMAND.1.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
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
            "  stat      sockets (-s: counters) of a running netsock host or run\n"
            "  cat       like nc: stdin to a TCP/UDP socket on a real link and back\n"
            "  ping      ping(8) from a netsock stack on a real link (tap, tun, packet)\n"
            "  perf      iperf3 client and server (TCP, UDP, -R, -P) on a real link,\n"
            "            interoperating with the real iperf3\n"
            "  run       run an unmodified program with netsock as its network stack\n"
            "  nat       user-mode networking for a network namespace (as slirp4netns)\n"
            "  version   print the version\n"
            "  help      this text; 'netsock help COMMAND' for a command's options\n"
            "\n"
            "Run 'netsock <command> --help' for a command's options, 'man netsock-<command>'\n"
            "for its manual.\n");
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    {"demo", tool_demo}, {"host", tool_host}, {"stat", tool_stat},
    {"cat", tool_cat},   {"ping", tool_ping}, {"perf", tool_perf},
    {"run", tool_run},   {"nat", tool_nat},
};

static int (*find_command(const char *name))(int, char **)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(commands[i].name, name))
            return commands[i].fn;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    int (*fn)(int, char **) = find_command(cmd);
    if (fn)
        return fn(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            printf("usage: netsock version\n");
            return CLI_EXIT_OK;
        }
        if (argc > 2)
            return cli_usage_error("netsock version", "unexpected argument '%s'", argv[2]);
        printf("netsock %s\n", NS_VERSION);
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        if (argc > 3)
            return cli_usage_error("netsock help", "unexpected argument '%s'", argv[3]);
        if (argc == 3) {
            /* `netsock help ping` is `netsock ping --help`. */
            int (*sub)(int, char **) = find_command(argv[2]);
            if (!sub)
                return cli_usage_error("netsock help", "unknown command '%s'", argv[2]);
            char *sub_argv[] = {argv[2], "--help", NULL};
            return sub(2, sub_argv);
        }
        usage(stdout);
        return CLI_EXIT_OK;
    }
    return cli_usage_error("netsock", "unknown command '%s' (demo, host, stat, cat, ping, perf, "
                                      "run, nat, version, help)",
                           cmd);
}
