/* tools/link.h — the options every real-link tool shares (netsock host,
 * ping, cat) and the code that turns them into a running stack:
 *
 *   --link tap:NAME | tun:NAME | packet:IFNAME
 *   --addr A.B.C.D/PREFIX   --gw A.B.C.D   --mac XX:XX:XX:XX:XX:XX
 *   --impair loss=1%,delay=20ms,jitter=1ms,reorder=1%,dup=0.1%,corrupt=0.1%,
 *            rate=100mbit,queue=64k,seed=7       (both directions)
 *   --pcap FILE   --name NAME   --offload on|off   --verbose
 *   --tcp-mem LOW,PRESSURE,HIGH   (the stack-wide TCP memory limit, as
 *            net.ipv4.tcp_mem but in bytes: 96M,128M,192M by default)
 */
#ifndef NS_TOOLS_LINK_H
#define NS_TOOLS_LINK_H

#include <stdbool.h>
#include <stdio.h>

#include "netsock/netsock.h"
#include "netsock/os.h"

struct link_opts {
    const char *link;   /* required */
    const char *addr;   /* required: address/prefix */
    const char *gw;     /* optional default gateway */
    const char *mac;    /* optional */
    const char *impair; /* optional fault spec */
    const char *pcap;   /* optional capture file */
    const char *name;   /* host name (stack name, control socket name) */
    const char *offload; /* "on" (default) or "off": tap/tun virtio-net offloads */
    const char *tcp_mem; /* optional "LOW,PRESSURE,HIGH": cfg.tcp_mem_* (sizes, k/M/G) */
    bool verbose;       /* log stack events to stderr */
};

/* If argv[*i] is one of the common options, consume it (and its value),
 * advance *i past it and return 1; 0 when it is not ours; -1 with a message
 * on stderr when its value is bad or missing. */
int link_parse_opt(struct link_opts *o, int argc, char **argv, int *i);

/* Help text for the common options (for usage messages). */
const char *link_usage(void);

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
