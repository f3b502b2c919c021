/* tools/stat.c — `netsock stat`: the socket table (like `ss -tuanei`) or
 * the counters (like `netstat -s`) of a running `netsock host`, read from
 * its control socket (ctl.h, docs/host.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "tools.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: netsock stat [--name NAME | --pid PID] [-s] [--json]\n"
            "\n"
            "Show the sockets of a running 'netsock host' (like ss -tuanei), or with -s\n"
            "its counters (like netstat -s). Without --name or --pid: the only host\n"
            "running. --json: the same as JSON.\n");
}

int tool_stat(int argc, char **argv)
{
    const char *name = NULL;
    long pid = 0;
    bool counters = false, json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--name") && v) {
            name = v;
            i++;
        } else if (!strcmp(a, "--pid") && v) {
            char *end;
            pid = strtol(v, &end, 10);
            if (*end || pid <= 0) {
                fprintf(stderr, "netsock stat: bad pid '%s'\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "-s") || !strcmp(a, "--statistics")) {
            counters = true;
        } else if (!strcmp(a, "--json") || !strcmp(a, "-j")) {
            json = true;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "netsock stat: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    char path[CTL_PATH_MAX];
    if (ctl_find(name, pid, path) < 0)
        return 1;
    char req[32];
    snprintf(req, sizeof(req), "%s%s", counters ? "counters" : "sockets", json ? " json" : "");
    fflush(stdout);
    return ctl_request(path, req, 1) < 0 ? 1 : 0;
}
