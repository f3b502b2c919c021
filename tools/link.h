/* tools/link.h — the options every real-link tool shares (netsock host,
 * ping, cat) and the code that turns them into a running stack:
 *
 *   --link tap:NAME | tun:NAME | packet:IFNAME
 *   --addr A.B.C.D/PREFIX   --gw A.B.C.D   --mac XX:XX:XX:XX:XX:XX
 *   --impair loss=1%,delay=20ms,jitter=1ms,reorder=1%,dup=0.1%,corrupt=0.1%,
 *            rate=100mbit,queue=64k,seed=7       (both directions)
 *   --pcap FILE   --name NAME   --offload on|off   --io-thread   --verbose
 *   --tcp-mem LOW,PRESSURE,HIGH   (the stack-wide TCP memory limit, as
 *            net.ipv4.tcp_mem but in bytes: 96M,128M,192M by default)
 */
#ifndef NS_TOOLS_LINK_H
#define NS_TOOLS_LINK_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "netsock/netsock.h"
#include "netsock/os.h"

struct link_opts {
    const char *link;   /* required */
    const char *addr;   /* required: the IPv4 address/prefix */
    /* --addr again with IPv6 prefixes (2001:db8::2/64), in order: each is
     * added to the interface, which turns IPv6 on there (link-local
     * first). */
#define LINK_ADDR6_MAX 8
    const char *addr6[LINK_ADDR6_MAX];
    unsigned n_addr6;
    const char *gw;     /* optional default gateway */
    const char *mac;    /* optional */
    const char *impair; /* optional fault spec */
    const char *pcap;   /* optional capture file */
    const char *name;   /* host name (stack name, control socket name) */
    const char *offload; /* "on" (default) or "off": tap/tun virtio-net offloads */
    const char *tcp_mem; /* optional "LOW,PRESSURE,HIGH": cfg.tcp_mem_* (sizes, k/M/G) */
    bool verbose;       /* log stack events to stderr */
    bool autoconf;      /* IPv6 autoconfiguration on the interface (ns_if_autoconf) */
    bool io_thread;     /* the device's reads and writes on a thread of their own */
    unsigned mtu;       /* not an option: when set, the device's MTU (netsock nat --mtu) */
};

/* ---- parsing with getopt_long ----
 *
 * A tool puts LINK_LONG_OPTIONS into its `struct option` table and hands
 * every code getopt_long returns to link_opt() before its own switch:
 *
 *     static const struct option longopts[] = {
 *         {"count", required_argument, NULL, 'c'},
 *         LINK_LONG_OPTIONS,
 *         {NULL, 0, NULL, 0},
 *     };
 *     cli_getopt_reset();
 *     while ((c = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
 *         int r = link_opt(&lo, "netsock perf", c, optarg);
 *         if (r < 0)
 *             return CLI_EXIT_USAGE;        (the message is printed)
 *         if (r > 0)
 *             continue;
 *         switch (c) { ... }
 *     }
 *     if (link_opts_check(&lo, "netsock perf") < 0)
 *         return CLI_EXIT_USAGE;
 *
 * The codes are above every character, so they never clash with a
 * tool's short options. */
enum {
    LINK_OPT_LINK = 0x4c00,
    LINK_OPT_ADDR,
    LINK_OPT_GW,
    LINK_OPT_MAC,
    LINK_OPT_IMPAIR,
    LINK_OPT_PCAP,
    LINK_OPT_NAME,
    LINK_OPT_OFFLOAD,
    LINK_OPT_VERBOSE,
    LINK_OPT_TCP_MEM,
    LINK_OPT_AUTOCONF,
    LINK_OPT_IO_THREAD,
};

#define LINK_LONG_OPTIONS                                                                         \
    {"link", required_argument, NULL, LINK_OPT_LINK},                                             \
        {"addr", required_argument, NULL, LINK_OPT_ADDR},                                         \
        {"gw", required_argument, NULL, LINK_OPT_GW},                                             \
        {"mac", required_argument, NULL, LINK_OPT_MAC},                                           \
        {"impair", required_argument, NULL, LINK_OPT_IMPAIR},                                     \
        {"pcap", required_argument, NULL, LINK_OPT_PCAP},                                         \
        {"name", required_argument, NULL, LINK_OPT_NAME},                                         \
        {"offload", required_argument, NULL, LINK_OPT_OFFLOAD},                                   \
        {"verbose", no_argument, NULL, LINK_OPT_VERBOSE},                                         \
        {"tcp-mem", required_argument, NULL, LINK_OPT_TCP_MEM},                                   \
        {"autoconf", no_argument, NULL, LINK_OPT_AUTOCONF},                                       \
        {"io-thread", no_argument, NULL, LINK_OPT_IO_THREAD}

/* Take one option code from getopt_long: 1 when it was a link option (its
 * value, in `arg`, checked and stored), 0 when it is not one, -1 after
 * printing "PROG: invalid --addr value '...': expected ..." when the
 * value is bad. */
int link_opt(struct link_opts *o, const char *prog, int code, const char *arg);

/* After parsing: --link and --addr given, and the options consistent
 * (--gw inside the network of --addr, --impair parses). Returns 0, or -1
 * with a one-line message. */
int link_opts_check(const struct link_opts *o, const char *prog);

/* Help text for the common options (for usage messages). */
const char *link_usage(void);

/* The interface name in --link ("t1" of tap:t1), or NULL. */
const char *link_ifname(const struct link_opts *o);

struct link_host {
    struct ns_stack *st;
    struct ns_loop *loop;
    int ifindex;
    struct ns_dev *pcap; /* the pcap wrapper when --pcap was given */
};

/* Build the host: stack, device (wrapped by the fault injector and pcap
 * capture as asked), address, default route, real-time loop with signals
 * caught. Prints the reason and returns -1 on failure. */
int link_host_open(struct link_host *h, const struct link_opts *o);

/* Flush the capture and free everything. */
void link_host_close(struct link_host *h);

/* Print the non-zero counters like `netstat -s` (one per line). */
void link_print_counters(struct ns_stack *st, FILE *f);

#endif
