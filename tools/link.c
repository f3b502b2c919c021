/* tools/link.c — the options every real-link tool shares and the code that
 * turns them into a running stack. See tools/link.h.
 *
 * Device stack, from the stack down to the kernel:
 *
 *     stack ── fault wrapper (--impair) ── pcap (--pcap) ── tap/tun/packet
 *
 * The capture sits on the wire side of the fault injector: it records what
 * crosses the real link, frame for frame what tcpdump on the kernel's side
 * of the interface shows. A frame the injector drops on transmit never
 * reaches the wire and is not in the capture; a frame it drops on receive
 * did cross the wire and is. What the injector did is in its statistics,
 * which link_print_counters prints.
 *
 * The impairments apply to both directions with the same parameters and
 * independent random streams from one seed (seed=N in the spec; default
 * 1), so a run is reproducible up to the timing of the real link.
 */
#include "link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cli.h"
#include "ctl.h"
#include "netsock/dev.h"

/* A host's own unicast address: not 0/8, loopback, multicast or class E
 * (which includes the limited broadcast). */
static bool unicast4(struct in_addr a)
{
    uint32_t h = ntohl(a.s_addr);
    uint32_t top = h >> 24;
    return top != 0 && top != 127 && top < 224;
}

/* "ADDR/N" with an IPv6 unicast address and N 0..128: 0 or -1. */
static int parse_prefix6(const char *s, struct in6_addr *a, unsigned *prefix)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || (size_t)(slash - s) >= INET6_ADDRSTRLEN)
        return -1;
    char buf[INET6_ADDRSTRLEN];
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    char *end;
    unsigned long p = strtoul(slash + 1, &end, 10);
    if (!slash[1] || *end || p > 128 || inet_pton(AF_INET6, buf, a) != 1 ||
        IN6_IS_ADDR_MULTICAST(a) || IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a) ||
        IN6_IS_ADDR_V4MAPPED(a))
        return -1;
    *prefix = (unsigned)p;
    return 0;
}

static int parse_prefix(const char *s, struct in_addr *a, unsigned *prefix)
{
    char buf[32];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof(buf) || slash[1] < '0' || slash[1] > '9')
        return -1;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = 0;
    char *end;
    unsigned long p = strtoul(slash + 1, &end, 10);
    if (*end || p > 32 || inet_pton(AF_INET, buf, a) != 1 || !unicast4(*a))
        return -1;
    *prefix = (unsigned)p;
    return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned b[6];
    char tail;
    if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
                                  &b[4], &b[5], &tail) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
    if (mac[0] & 1)
        return -1; /* a multicast address cannot be a host's */
    if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
        return -1;
    return 0;
}

/* "tap:NAME", "tun:NAME" or "packet:IFNAME" with a Linux interface name
 * (1 to IFNAMSIZ-1 characters, no '/', ':' or white space). */
static bool link_spec_ok(const char *spec)
{
    const char *colon = strchr(spec, ':');
    if (!colon)
        return false;
    size_t kind = (size_t)(colon - spec);
    if (!((kind == 3 && (!strncmp(spec, "tap", 3) || !strncmp(spec, "tun", 3))) ||
          (kind == 6 && !strncmp(spec, "packet", 6))))
        return false;
    const char *name = colon + 1;
    size_t n = strlen(name);
    if (n == 0 || n > 15 || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == ':' || *p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

/* A size: digits with an optional k, M or G (powers of 1024). */
static int parse_size(const char *s, size_t *used, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    default: break;
    }
    if (shift)
        end++;
    if (v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    *used = (size_t)(end - s);
    return 0;
}

/* --tcp-mem LOW,PRESSURE,HIGH (as net.ipv4.tcp_mem, in bytes). */
static int parse_tcp_mem(const char *s, struct ns_config *cfg)
{
    uint64_t v[3];
    for (int i = 0; i < 3; i++) {
        size_t n;
        if (parse_size(s, &n, &v[i]) < 0 || s[n] != (i < 2 ? ',' : '\0'))
            return -1;
        s += n + (i < 2);
    }
    if (v[0] > v[1] || v[1] > v[2])
        return -1;
    cfg->tcp_mem_low = v[0];
    cfg->tcp_mem_pressure = v[1];
    cfg->tcp_mem_high = v[2];
    return 0;
}

const char *link_ifname(const struct link_opts *o)
{
    const char *colon = o->link ? strchr(o->link, ':') : NULL;
    return colon ? colon + 1 : NULL;
}

int link_opt(struct link_opts *o, const char *prog, int code, const char *arg)
{
    struct in_addr a;
    unsigned prefix;
    uint8_t mac[6];
    switch (code) {
    case LINK_OPT_LINK:
        if (!link_spec_ok(arg))
            return cli_bad_value(prog, "--link", arg,
                                 "tap:NAME, tun:NAME or packet:IFNAME (an interface name of "
                                 "1 to 15 characters)");
        o->link = arg;
        return 1;
    case LINK_OPT_ADDR:
        if (strchr(arg, ':')) {
            struct in6_addr a6;
            if (parse_prefix6(arg, &a6, &prefix) < 0)
                return cli_bad_value(prog, "--addr", arg,
                                     "ADDR/N: a unicast IPv6 address and a prefix length "
                                     "from 0 to 128");
            if (o->n_addr6 == LINK_ADDR6_MAX)
                return cli_bad_value(prog, "--addr", arg, "at most %d IPv6 addresses",
                                     LINK_ADDR6_MAX);
            o->addr6[o->n_addr6++] = arg;
            return 1;
        }
        if (parse_prefix(arg, &a, &prefix) < 0)
            return cli_bad_value(prog, "--addr", arg,
                                 "A.B.C.D/N: a unicast IPv4 address and a prefix length "
                                 "from 0 to 32");
        o->addr = arg;
        return 1;
    case LINK_OPT_GW:
        if (inet_pton(AF_INET, arg, &a) != 1 || !unicast4(a))
            return cli_bad_value(prog, "--gw", arg, "a unicast IPv4 address A.B.C.D");
        o->gw = arg;
        return 1;
    case LINK_OPT_MAC:
        if (parse_mac(arg, mac) < 0)
            return cli_bad_value(prog, "--mac", arg,
                                 "a unicast MAC address XX:XX:XX:XX:XX:XX");
        o->mac = arg;
        return 1;
    case LINK_OPT_IMPAIR: {
        struct ns_link_params params;
        uint64_t seed;
        char err[160] = "";
        ns_link_params_default(&params);
        if (!*arg || ns_link_params_parse(arg, &params, &seed, err, sizeof(err)) < 0)
            return cli_bad_value(prog, "--impair", arg,
                                 "a fault list such as loss=1%%,delay=20ms%s%s%s",
                                 *err ? " (" : "", *err ? err : "", *err ? ")" : "");
        o->impair = arg;
        return 1;
    }
    case LINK_OPT_PCAP:
        if (!*arg)
            return cli_bad_value(prog, "--pcap", arg, "a file name");
        o->pcap = arg;
        return 1;
    case LINK_OPT_NAME:
        if (!ctl_name_ok(arg))
            return cli_bad_value(prog, "--name", arg,
                                 "1 to 64 letters, digits, '.', '_' or '-', not starting "
                                 "with '.'");
        o->name = arg;
        return 1;
    case LINK_OPT_OFFLOAD:
        if (strcmp(arg, "on") && strcmp(arg, "off"))
            return cli_bad_value(prog, "--offload", arg, "on or off");
        o->offload = arg;
        return 1;
    case LINK_OPT_VERBOSE:
        o->verbose = true;
        return 1;
    case LINK_OPT_AUTOCONF:
        o->autoconf = true;
        return 1;
    case LINK_OPT_IO_THREAD:
        o->io_thread = true;
        return 1;
    case LINK_OPT_TCP_MEM: {
        struct ns_config c;
        if (parse_tcp_mem(arg, &c) < 0)
            return cli_bad_value(prog, "--tcp-mem", arg,
                                 "LOW,PRESSURE,HIGH: three sizes in bytes (k, M and G "
                                 "suffixes), in increasing order");
        o->tcp_mem = arg;
        return 1;
    }
    default:
        return 0;
    }
}

int link_opts_check(const struct link_opts *o, const char *prog)
{
    if (!o->link || !o->addr) {
        cli_usage_error(prog, "%s required (the real link, e.g. --link tap:ns0 "
                              "--addr 192.0.2.2/24)",
                        !o->link && !o->addr ? "--link and --addr are"
                        : !o->link           ? "--link is"
                                             : "--addr is");
        return -1;
    }
    /* Each value again, for callers that filled the struct themselves. */
    struct link_opts copy = *o;
    static const struct {
        int code;
        size_t off;
    } fields[] = {
        {LINK_OPT_LINK, offsetof(struct link_opts, link)},
        {LINK_OPT_ADDR, offsetof(struct link_opts, addr)},
        {LINK_OPT_GW, offsetof(struct link_opts, gw)},
        {LINK_OPT_MAC, offsetof(struct link_opts, mac)},
        {LINK_OPT_IMPAIR, offsetof(struct link_opts, impair)},
        {LINK_OPT_PCAP, offsetof(struct link_opts, pcap)},
        {LINK_OPT_NAME, offsetof(struct link_opts, name)},
        {LINK_OPT_OFFLOAD, offsetof(struct link_opts, offload)},
        {LINK_OPT_TCP_MEM, offsetof(struct link_opts, tcp_mem)},
    };
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
        const char *v = *(const char *const *)(const void *)((const char *)o + fields[k].off);
        if (v && link_opt(&copy, prog, fields[k].code, v) < 0)
            return -1;
    }
    struct in_addr addr, gw;
    unsigned prefix;
    parse_prefix(o->addr, &addr, &prefix);
    if (o->gw) {
        inet_pton(AF_INET, o->gw, &gw);
        uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
        if (gw.s_addr == addr.s_addr || ((gw.s_addr ^ addr.s_addr) & mask)) {
            cli_usage_error(prog,
                            "invalid --gw value '%s': expected an address other than this "
                            "host's, in the network of --addr %s",
                            o->gw, o->addr);
            return -1;
        }
    }
    return 0;
}

const char *link_usage(void)
{
    return "link options:\n"
           "  --link tap:NAME|tun:NAME|packet:IFNAME\n"
           "                     the real link: a TAP device (created if absent), a TUN\n"
           "                     device (IP packets, no Ethernet), or AF_PACKET on an\n"
           "                     existing interface such as one end of a veth pair\n"
           "  --addr A.B.C.D/N   this host's address and prefix length; again with\n"
           "                     an IPv6 prefix (2001:db8::2/64) to add IPv6 addresses\n"
           "  --autoconf         IPv6 autoconfiguration as a Linux host: a stable\n"
           "                     link-local address, router solicitations, addresses\n"
           "                     and routes from router advertisements, DAD on all\n"
           "  --gw A.B.C.D       default gateway\n"
           "  --mac XX:XX:XX:XX:XX:XX\n"
           "                     MAC address (tap: default random; packet: default the\n"
           "                     interface's own, another one turns on promiscuous mode)\n"
           "  --impair SPEC      faults on the link, both directions, e.g.\n"
           "                     loss=1%,delay=20ms,jitter=1ms,reorder=1%,dup=0.1%,\n"
           "                     corrupt=0.1%,rate=100mbit,queue=64k,mtu=1400,seed=7\n"
           "  --pcap FILE        capture the link (what crosses the wire) to FILE\n"
           "  --offload on|off   tap/tun: checksum offload and 64 KiB TCP segments\n"
           "                     through the virtio-net header (default on)\n"
           "  --io-thread        the device's reads and writes on a thread of their own,\n"
           "                     handing frames to the stack through lock-free rings\n"
           "  --tcp-mem LOW,PRESSURE,HIGH\n"
           "                     the limit on what all TCP buffers hold, in bytes (k, M, G\n"
           "                     suffixes), as net.ipv4.tcp_mem (default 96M,128M,192M)\n"
           "  --name NAME        host name in logs (default netsock)\n"
           "  --verbose          log stack events to stderr\n";
}

static void log_stderr(void *ctx, const char *host, int level, uint64_t now_us, const char *msg)
{
    (void)ctx;
    (void)level;
    fprintf(stderr, "[%" PRIu64 ".%06" PRIu64 "] %s %s\n", now_us / 1000000, now_us % 1000000,
            host, msg);
}

static struct ns_dev *open_device(const char *spec, const uint8_t *mac, unsigned flags, int *err)
{
    const char *colon = strchr(spec, ':');
    if (!colon || !colon[1]) {
        *err = -EINVAL;
        return NULL;
    }
    const char *name = colon + 1;
    size_t kind_len = (size_t)(colon - spec);
    if (kind_len == 3 && !strncmp(spec, "tap", 3))
        return ns_tap_open_flags(name, mac, flags, err);
    if (kind_len == 3 && !strncmp(spec, "tun", 3)) {
        if (mac)
            fprintf(stderr, "netsock: --mac ignored: a TUN link has no MAC addresses\n");
        return ns_tun_open_flags(name, flags, err);
    }
    if (kind_len == 6 && !strncmp(spec, "packet", 6))
        return ns_packet_open(name, mac, err);
    *err = -EINVAL;
    return NULL;
}

int link_host_open(struct link_host *h, const struct link_opts *o)
{
    memset(h, 0, sizeof(*h));
    if (link_opts_check(o, "netsock") < 0)
        return -1;
    /* Every value is valid (link_opts_check). */
    struct in_addr addr, gw = {0};
    unsigned prefix;
    uint8_t mac[6];
    parse_prefix(o->addr, &addr, &prefix);
    if (o->gw)
        inet_pton(AF_INET, o->gw, &gw);
    if (o->mac)
        parse_mac(o->mac, mac);
    unsigned tuntap_flags = o->offload && !strcmp(o->offload, "off") ? NS_TUNTAP_NO_OFFLOAD : 0;
    struct ns_config mem_cfg;
    ns_config_default(&mem_cfg);
    if (o->tcp_mem)
        parse_tcp_mem(o->tcp_mem, &mem_cfg); /* valid: link_opts_check */
    struct ns_link_params params;
    ns_link_params_default(&params);
    params.mtu = 0; /* the device's MTU applies unless the spec sets one */
    uint64_t fault_seed = 1;
    if (o->impair)
        ns_link_params_parse(o->impair, &params, &fault_seed, NULL, 0);

    int err = 0;
    struct ns_dev *dev = open_device(o->link, o->mac ? mac : NULL, tuntap_flags, &err);
    if (!dev) {
        if (err == -EINVAL && !strchr(o->link, ':'))
            fprintf(stderr, "netsock: --link %s: expected tap:NAME, tun:NAME or packet:IFNAME\n",
                    o->link);
        else
            fprintf(stderr, "netsock: --link %s: %s%s\n", o->link, strerror(-err),
                    err == -EPERM ? " (needs CAP_NET_ADMIN / CAP_NET_RAW: run as root)" : "");
        return -1;
    }
    if (o->mtu)
        dev->mtu = o->mtu;
    if (o->io_thread) {
        /* Innermost: the wrappers above run on the stack's thread. */
        struct ns_dev *w = ns_iothread_wrap(dev, &err);
        if (!w) {
            fprintf(stderr, "netsock: --io-thread: %s\n", strerror(-err));
            ns_dev_close(dev);
            return -1;
        }
        dev = w;
    }
    if (o->pcap) {
        /* Wall-clock timestamps, so the capture lines up with tcpdump's on
         * the kernel's side; FILE.pcapng writes pcapng, which names the
         * interface and notes its offloads. */
        struct ns_pcap_opts popts;
        ns_pcap_opts_default(&popts);
        popts.ts_offset_us = ns_clock_realtime_offset_us();
        size_t plen = strlen(o->pcap);
        if (plen > 7 && !strcmp(o->pcap + plen - 7, ".pcapng"))
            popts.format = NS_PCAP_NG;
        struct ns_dev *w = ns_pcap_wrap_opts(dev, o->pcap, &popts, &err);
        if (!w) {
            fprintf(stderr, "netsock: --pcap %s: %s\n", o->pcap, strerror(-err));
            ns_dev_close(dev);
            return -1;
        }
        dev = h->pcap = w;
    }
    if (o->impair) {
        struct ns_dev *w = ns_fault_wrap(dev, &params, &params, fault_seed);
        if (!w) {
            fprintf(stderr, "netsock: --impair: out of memory\n");
            ns_dev_close(dev);
            h->pcap = NULL;
            return -1;
        }
        dev = w;
    }

    struct ns_config cfg;
    ns_config_default(&cfg);
    cfg.name = o->name ? o->name : "netsock";
    cfg.tcp_mem_low = mem_cfg.tcp_mem_low;
    cfg.tcp_mem_pressure = mem_cfg.tcp_mem_pressure;
    cfg.tcp_mem_high = mem_cfg.tcp_mem_high;
    /* A real network: ISNs, ports and IDs must not be predictable. */
    if (getrandom(&cfg.seed, sizeof(cfg.seed), 0) != (ssize_t)sizeof(cfg.seed))
        cfg.seed = ns_clock_now_us();
    if (o->verbose) {
        cfg.log_fn = log_stderr;
        cfg.log_level = NS_LOG_DEBUG;
    }
    h->st = ns_stack_new(&cfg, ns_clock_now_us());
    if (!h->st) {
        fprintf(stderr, "netsock: cannot create the stack\n");
        ns_dev_close(dev);
        h->pcap = NULL;
        return -1;
    }
    h->ifindex = ns_if_add(h->st, dev);
    if (h->ifindex < 0) {
        fprintf(stderr, "netsock: %s: cannot add the interface: %s\n", dev->name,
                strerror(-h->ifindex));
        ns_dev_close(dev);
        h->pcap = NULL;
        goto fail;
    }
    int rc = ns_if_addr_add(h->st, h->ifindex, AF_INET, &addr, prefix);
    if (rc < 0) {
        fprintf(stderr, "netsock: --addr %s: %s\n", o->addr, strerror(-rc));
        goto fail;
    }
    if (o->autoconf && (rc = ns_if_autoconf(h->st, h->ifindex)) < 0) {
        fprintf(stderr, "netsock: --autoconf: %s\n", strerror(-rc));
        goto fail;
    }
    for (unsigned i = 0; i < o->n_addr6; i++) {
        struct in6_addr a6;
        unsigned p6;
        parse_prefix6(o->addr6[i], &a6, &p6); /* valid: link_opt */
        rc = ns_if_addr_add(h->st, h->ifindex, AF_INET6, &a6, p6);
        if (rc < 0) {
            fprintf(stderr, "netsock: --addr %s: %s\n", o->addr6[i], strerror(-rc));
            goto fail;
        }
    }
    if (o->gw) {
        struct in_addr any = {0};
        rc = ns_route_add(h->st, AF_INET, &any, 0, &gw, 0);
        if (rc < 0) {
            fprintf(stderr, "netsock: --gw %s: %s\n", o->gw,
                    rc == -ENETUNREACH ? "not on the network of --addr" : strerror(-rc));
            goto fail;
        }
    }
    h->loop = ns_loop_new();
    if (!h->loop || (rc = ns_loop_add(h->loop, h->st)) < 0) {
        fprintf(stderr, "netsock: cannot set up the event loop: %s\n",
                strerror(h->loop ? -rc : ENOMEM));
        goto fail;
    }
    ns_loop_catch_signals(h->loop);
    if (o->verbose) {
        char mac_s[18] = "";
        if (dev->link == NS_LINK_ETHER)
            snprintf(mac_s, sizeof(mac_s), "%02x:%02x:%02x:%02x:%02x:%02x", dev->hwaddr[0],
                     dev->hwaddr[1], dev->hwaddr[2], dev->hwaddr[3], dev->hwaddr[4],
                     dev->hwaddr[5]);
        fprintf(stderr, "netsock: %s on %s (%s, mtu %u%s%s%s%s) address %s\n", cfg.name, o->link,
                dev->link == NS_LINK_ETHER ? "ethernet" : "ip", dev->mtu, *mac_s ? ", mac " : "",
                mac_s, (dev->offloads & NS_DEV_OFF_TX_CSUM) ? ", csum offload" : "",
                (dev->offloads & NS_DEV_OFF_TSO) ? ", tso" : "", o->addr);
    }
    return 0;

fail:
    link_host_close(h);
    return -1;
}

void link_host_close(struct link_host *h)
{
    if (h->pcap)
        ns_pcap_flush(h->pcap);
    ns_loop_free(h->loop);
    ns_stack_free(h->st); /* closes the devices, and with them the capture */
    memset(h, 0, sizeof(*h));
}

static void print_fault_stats(FILE *f, const char *dev, const char *dir,
                              const struct ns_impair_stats *s)
{
    fprintf(f,
            "    %s impair %s: %" PRIu64 " frames, %" PRIu64 " delivered, %" PRIu64
            " lost, %" PRIu64 " duplicated, %" PRIu64 " reordered, %" PRIu64 " corrupted, %" PRIu64
            " queue drops, %" PRIu64 " mtu drops\n",
            dev, dir, s->frames, s->delivered, s->lost, s->duplicated, s->reordered, s->corrupted,
            s->queue_drop, s->mtu_drop);
}

void link_print_counters(struct ns_stack *st, FILE *f)
{
    uint64_t c[NS_CTR__COUNT];
    ns_stack_counters(st, c);
    fprintf(f, "%s counters:\n", ns_stack_name(st));
    for (unsigned i = 0; i < NS_CTR__COUNT; i++)
        if (c[i])
            fprintf(f, "    %" PRIu64 " %s (%s)\n", c[i], ns_counter_name((enum ns_counter)i),
                    ns_counter_desc((enum ns_counter)i));
    /* The devices (not the loopback): frames, drops, and what a fault
     * wrapper did (ns_fault_stats gives zeros for other devices). */
    for (int i = 1; i < NS_IF_MAX; i++) {
        struct ns_dev *dev = ns_if_dev(st, i);
        if (!dev)
            continue;
        fprintf(f,
                "    %s: rx %" PRIu64 " frames %" PRIu64 " bytes %" PRIu64 " dropped, tx %" PRIu64
                " frames %" PRIu64 " bytes %" PRIu64 " dropped\n",
                dev->name, dev->stats.rx_frames, dev->stats.rx_bytes, dev->stats.rx_drop,
                dev->stats.tx_frames, dev->stats.tx_bytes, dev->stats.tx_drop);
        struct ns_impair_stats tx, rx;
        ns_fault_stats(dev, &tx, &rx);
        if (tx.frames)
            print_fault_stats(f, dev->name, "tx", &tx);
        if (rx.frames)
            print_fault_stats(f, dev->name, "rx", &rx);
        struct ns_iothread_stats io;
        ns_iothread_stats(dev, &io);
        if (io.wake_stack || io.wake_io || io.rx_wait_buf || io.tx_ring_full)
            fprintf(f,
                    "    %s io-thread: %" PRIu64 " stack wake-ups, %" PRIu64
                    " io wake-ups, waited for a receive buffer %" PRIu64 " times, %" PRIu64
                    " tx refused (ring full), pool short %" PRIu64 " times\n",
                    dev->name, io.wake_stack, io.wake_io, io.rx_wait_buf, io.tx_ring_full,
                    io.fill_nobuf);
    }
}
