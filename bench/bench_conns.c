/* bench/bench_conns.c — many connections open in one process: memory per
 * idle endpoint, set-up time per connection, and request/response on one
 * connection while N are open; netsock and Linux in the same run, for
 * each N of a list (default 1000, 100000, 1000000).
 *
 * For each N and each stack, in this order:
 *
 *   1. Guard: from the memory per endpoint measured at the largest N so
 *      far, estimate what N needs; above CONNS_MEM_FRACTION (60 %) of
 *      MemAvailable the side is skipped ("skipped: would need X GiB, have
 *      Y"), and while connections open the side stops if MemAvailable
 *      falls under CONNS_MEM_FLOOR (15 %) of MemTotal.
 *   2. Open N connections, one at a time: connect (blocking), accept,
 *      TCP_NODELAY on both ends. Time per connection is the set-up row.
 *      Connections are spread over N / CONNS_PER_PORT listening ports so
 *      that no (source, destination, destination port) triple needs more
 *      than 10000 ephemeral ports (see "Ports" below).
 *   3. Memory of the connections that never carried data.
 *   4. One byte each way on every connection (client sends, server reads
 *      and answers, client reads), then CONNS_FLUSH_NS of idling so that
 *      the delayed ACKs (40 ms on both stacks) go out; every socket is
 *      then checked to have nothing unacknowledged (TCP_INFO
 *      tcpi_unacked) and nothing to read. netsock's simulator runs on
 *      the wall clock and may lag behind it on a loaded machine (100k
 *      delayed ACKs fall due together): it idles CONNS_FLUSH_NS more at
 *      a time, up to CONNS_FLUSH_MAX times, until every endpoint is
 *      idle.
 *   5. Memory of the idle connections that carried data.
 *   6. Request/response, 1 byte each way, closed loop, on one connection
 *      of the N (the middle one), as bench_rr measures it with one
 *      connection: netsock loops over ns_poll (timeout 0) on that
 *      connection's two ends and one simulator step; Linux over a
 *      level-triggered epoll set holding its two ends.
 *
 * Memory per endpoint is growth over the baseline taken just before the
 * first connect, divided by 2N (each connection has two endpoints: its
 * client and its server socket). The program's own arrays are allocated
 * and touched before the baseline.
 *
 * - netsock: two stacks on a zero-delay simulated link in this process
 *   (bench_util.h: the virtual clock follows the wall clock, so the
 *   delayed-ACK timers run in real time). Two figures: "held", the
 *   growth of the resident set (/proc/self/statm: what the machine pays,
 *   malloc's headers, rounding and free chunks included), and "in use",
 *   the growth of mallinfo2()'s allocated bytes (uordblks + hblkhd: what
 *   the stack asked for plus the 8-byte chunk headers; unaffected by page
 *   granularity and by first touches of the packet-buffer pools, which
 *   dominate the resident-set figure at small N).
 * - Linux: N loopback connections (127.0.0.1 to 127.0.0.1) in this
 *   process; the memory is the kernel's, read from /proc/slabinfo: for
 *   the caches a socket allocates from (slab_counted: TCP, request and
 *   timewait socks, bind buckets, sock_inode_cache, dentry, filp, the LSM
 *   blobs, skbuff_*, every kmalloc-*), "held" is the growth of active
 *   objects times the slab memory per object (pages per slab * page size
 *   / objects per slab: the slab's internal waste included, as a
 *   resident set includes malloc's), "in use" the growth of active
 *   objects times the object size; both plus the growth of the TCP
 *   socket buffer memory (/proc/net/sockstat "TCP: mem", pages).
 *   Counting active objects, not slab pages, keeps slabs left warm by an
 *   earlier, larger run from hiding the new objects. /proc/meminfo's Slab
 *   is not used: it moves with every other process on a shared machine
 *   (dentries and inodes of compilers above all), while the growth of
 *   the socket caches is dominated by our sockets. Caches that grew or
 *   shrank by more than 1 % of 2N objects are listed in the log. Needs
 *   root (slabinfo is 0400). The descriptors are spread over holder
 *   threads with descriptor tables of their own (the Linux section below), so
 *   no fs.nr_open or RLIMIT_NOFILE change is needed; fs.file-max must
 *   leave room for 2N more open files, or the side is skipped.
 *
 * Request/response with N open is also printed as a ratio against the
 * first N (the reference, 1000 by default), the "slowdown": p50(N) /
 * p50(ref), p99(N) / p99(ref), rate(ref) / rate(N), so above 1 is slower.
 * netsock keeps the reference world (its own simulation, its own two
 * stacks) open for the whole run and alternates CONNS_RR_ROUNDS rounds on
 * it with rounds on the N world, so a burst of load from elsewhere hits
 * both alike. Linux cannot: the kernel's tables are shared, so its
 * reference is the measurement made with 1000 open, earlier in the run.
 *
 * Ports: both stacks choose ephemeral ports per (source, destination,
 * destination port), 28232 of them (32768-60999). Linux's connect() takes
 * even ports first and, once they are all taken for a destination, scans
 * the 14116 even ones on every connect before trying odd ones
 * (__inet_hash_connect), which would make set-up quadratic; so each
 * listening port receives at most 10000 connections (netsock:
 * CONNS_PER_PORT per listener; Linux: one listener per holder thread of
 * CONNS_PER_HOLDER, 9000) and the client sockets are not bound (netsock's bind() scans every
 * connection and descriptor for conflicts, tcp_port_in_use, and takes
 * only 8 addresses per interface).
 *
 * Teardown: netsock frees the simulation; Linux closes the client ends
 * with SO_LINGER 0 (a reset, no TIME_WAIT left behind), then the server
 * ends, then waits until sockstat's count of TCP sockets is back.
 *
 * Usage: bench_conns [N ...]   (default 1000 100000 1000000; N >= 2)
 * Environment: BENCH_CONNS_RR_SECONDS (measured per stack and N, default
 * 1), BENCH_CONNS_MEM_FRACTION (0.6), BENCH_CONNS_ONLY (netsock or linux:
 * measure one side, for profiling).
 * Prints rows in the bench_util.h format; diagnostics on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"

#define CONNS_MAX_SIZES 8
#define CONNS_PER_PORT 10000
#define CONNS_NS_PORT0 5100          /* netsock listeners: 5100, 5101, ... */
#define CONNS_MEM_FRACTION 0.6       /* of MemAvailable, for the estimate */
#define CONNS_MEM_FLOOR 0.15         /* of MemTotal: stop opening below this */
#define CONNS_MEM_MARGIN 1.15        /* on the estimate */
#define CONNS_FLUSH_NS 200000000u    /* idle after the exchange: > 40 ms delayed ACK */
#define CONNS_FLUSH_MAX 25           /* netsock: CONNS_FLUSH_NS rounds until idle, at most */
#define CONNS_RR_ROUNDS 4
#define CONNS_RR_WARMUP_NS 50000000u /* per round, not counted */
#define CONNS_PER_HOLDER 9000       /* Linux: connections per holder thread (< CONNS_PER_PORT) */
#define CONNS_FD_SPARE 256           /* Linux: descriptors a holder keeps free */
#define CONNS_FILES_SPARE 65536      /* Linux: fs.file-max headroom left to others */

static const double GIB = 1024.0 * 1024.0 * 1024.0;

/* ---- memory probes --------------------------------------------------------------- */

/* Resident set of this process, bytes (/proc/self/statm, second field). */
static uint64_t mem_rss(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Bytes malloc has handed out: in the arenas and in mmapped chunks. */
static uint64_t mem_heap(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

/* A field of /proc/meminfo in bytes ("MemAvailable"), 0 when absent. */
static uint64_t meminfo(const char *field)
{
    char line[256];
    size_t fl = strlen(field);
    uint64_t v = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long kb;
        if (!strncmp(line, field, fl) && line[fl] == ':' && sscanf(line + fl + 1, "%llu", &kb) == 1) {
            v = kb * 1024u;
            break;
        }
    }
    fclose(f);
    return v;
}

/* MemAvailable has fallen under the floor: opening more would endanger
 * the machine. */
static bool mem_low(void)
{
    return (double)meminfo("MemAvailable") < CONNS_MEM_FLOOR * (double)meminfo("MemTotal");
}

/* One stack's memory reading: held (pages) and in use (objects), bytes. */
struct mem_pt {
    double held, used;
};

/* ---- the kernel's slab caches ------------------------------------------------------ */

#define SLAB_MAX 512

struct slab_cache {
    char name[64];
    uint64_t active;
    double objsize, per_obj; /* bytes of object; bytes of slab per object */
    bool counted;            /* slab_counted() */
};

struct slab_snap {
    int n;
    struct slab_cache c[SLAB_MAX];
    uint64_t tcp_mem_pages;   /* sockstat "TCP: ... mem" */
    uint64_t tcp_alloc;       /* sockstat "TCP: ... alloc" */
};

/* SLUB merges caches of the same object size and flags: /proc/slabinfo
 * then shows the merged cache under one of its names (tcp_bind_bucket and
 * tcp_bind2_bucket appear as "eventpoll_epi" on the machine this was
 * written on) and /sys/kernel/slab/NAME is a link to it. Writes what NAME
 * really is: the link's last component (":A-0000128"), or NAME itself. */
static void slab_identity(const char *name, char *out, size_t len)
{
    char path[160], target[160];
    snprintf(path, sizeof(path), "/sys/kernel/slab/%s", name);
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    const char *id = name;
    if (n > 0) {
        target[n] = 0;
        id = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
    }
    size_t l = strlen(id) < len ? strlen(id) : len - 1;
    memcpy(out, id, l);
    out[l] = 0;
}

/* Does the cache (a /proc/slabinfo name) hold what a TCP socket and its
 * descriptor allocate: the socket, its bind buckets, request and
 * timewait socks, the inode+socket, dentry and file of its descriptor,
 * the LSM blobs, socket buffers, and every kmalloc cache (the slab
 * accounting vectors of memory cgroups live there, one per slab). */
static bool slab_counted(const char *name)
{
    static const char *const names[] = {
        "TCP",       "tw_sock_TCP",      "request_sock_TCP", "tcp_bind_bucket",
        "tcp_bind2_bucket", "sock_inode_cache", "dentry",     "filp",
        "lsm_inode_cache", "lsm_file_cache", "skbuff_head_cache", "skbuff_small_head",
        "skbuff_fclone_cache", "skbuff_ext_cache", "inet_peer_cache",
    };
    enum { N_NAMES = sizeof(names) / sizeof(names[0]) };
    static char ids[N_NAMES][64];
    static bool ids_done;
    if (!ids_done) {
        for (int i = 0; i < N_NAMES; i++)
            slab_identity(names[i], ids[i], sizeof(ids[i]));
        ids_done = true;
    }
    if (!strncmp(name, "kmalloc-", 8))
        return true;
    char id[64];
    slab_identity(name, id, sizeof(id));
    for (int i = 0; i < N_NAMES; i++)
        if (!strcmp(id, ids[i]))
            return true;
    return false;
}

/* Read /proc/slabinfo and /proc/net/sockstat. -1 when slabinfo cannot be
 * read (not root). */
static int slab_read(struct slab_snap *s)
{
    char line[512];
    long page = sysconf(_SC_PAGESIZE);
    s->n = 0;
    FILE *f = fopen("/proc/slabinfo", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f) && s->n < SLAB_MAX) {
        struct slab_cache *c = &s->c[s->n];
        unsigned long long active, total;
        unsigned objsize, perslab, pages;
        if (sscanf(line, "%63s %llu %llu %u %u %u", c->name, &active, &total, &objsize, &perslab,
                   &pages) != 6 || !perslab)
            continue;
        c->active = active;
        c->objsize = objsize;
        c->per_obj = (double)pages * (double)page / perslab;
        c->counted = slab_counted(c->name);
        s->n++;
    }
    fclose(f);
    s->tcp_mem_pages = s->tcp_alloc = 0;
    f = fopen("/proc/net/sockstat", "r");
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            unsigned long long inuse, orphan, tw, alloc, mem;
            if (sscanf(line, "TCP: inuse %llu orphan %llu tw %llu alloc %llu mem %llu", &inuse,
                       &orphan, &tw, &alloc, &mem) == 5) {
                s->tcp_alloc = alloc;
                s->tcp_mem_pages = mem;
            }
        }
        fclose(f);
    }
    return 0;
}

static const struct slab_cache *slab_find(const struct slab_snap *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->c[i].name, name))
            return &s->c[i];
    return NULL;
}

/* Kernel memory grown from a to b (the counted caches and the socket
 * buffers); the caches that grew by more than `note` objects go to the
 * log under `what`. */
static struct mem_pt slab_growth(const struct slab_snap *a, const struct slab_snap *b, double note,
                                 const char *what)
{
    struct mem_pt m = {0, 0};
    double all_held = 0;
    char list[2048] = "";
    size_t used = 0;
    for (int i = 0; i < b->n; i++) {
        const struct slab_cache *cb = &b->c[i], *ca = slab_find(a, cb->name);
        double d = (double)cb->active - (ca ? (double)ca->active : 0);
        all_held += d * cb->per_obj;
        if (cb->counted) {
            m.held += d * cb->per_obj;
            m.used += d * cb->objsize;
        }
        if ((d > note || d < -note) && used < sizeof(list) - 96)
            used += (size_t)snprintf(list + used, sizeof(list) - used, " %s%s %+.0f x %.0f B",
                                     cb->name, cb->counted ? "" : " (not counted)", d,
                                     cb->per_obj);
    }
    double bufs = ((double)b->tcp_mem_pages - (double)a->tcp_mem_pages) * (double)sysconf(_SC_PAGESIZE);
    m.held += bufs;
    m.used += bufs;
    fprintf(stderr, "bench_conns: Linux %s: slab growth%s; socket buffers %+.0f B; all caches %.1f MiB, counted %.1f MiB\n",
            what, list, bufs, all_held / 1048576.0, m.held / 1048576.0);
    return m;
}

/* ---- what one stack measured at one N --------------------------------------------- */

struct rr_acc {
    struct bench_lat lat;
    uint64_t done, measured_ns;
};

struct cell {
    char skip[160];          /* non-empty: this side was skipped or failed, and why */
    struct mem_pt fresh, idle; /* per endpoint */
    double setup_us;         /* per connection */
    double rr_p50, rr_p99, rr_rate;
    bool rr_ok;
    /* netsock only: the reference world measured in the same rounds */
    double ref_p50, ref_p99, ref_rate;
    bool ref_ok;
};

/* p50, p99 and rate of an accumulator; false when empty. Frees it. */
static bool rr_result(struct rr_acc *a, double *p50, double *p99, double *rate)
{
    bool ok = a->done > 0 && a->measured_ns > 0;
    if (ok) {
        *p50 = bench_lat_quantile_us(&a->lat, 0.50);
        *p99 = bench_lat_quantile_us(&a->lat, 0.99);
        *rate = (double)a->done / ((double)a->measured_ns / 1e9);
    }
    bench_lat_free(&a->lat);
    memset(a, 0, sizeof(*a));
    return ok;
}

/* One connection's two ends on either stack, for the request/response
 * loop: send/recv take the end's context (its netsock stack, or NULL on
 * Linux); ready says which ends are readable now (bit 0 the client, bit 1
 * the server; <0 on error); step, when set, moves the world on between
 * two looks (netsock: one simulator step). */
struct rr_ops {
    void *cli_ctx, *srv_ctx;
    int cfd, sfd;
    ssize_t (*send)(void *ctx, int fd, const void *buf, size_t len);
    ssize_t (*recv)(void *ctx, int fd, void *buf, size_t len);
    int (*ready)(void *self);
    void (*step)(void *self);
    void *self;
};

/* One round of closed-loop 1-byte request/response: CONNS_RR_WARMUP_NS
 * of warm-up, then `seconds` recorded into acc. The round ends after the
 * answer in flight is back, so the next round starts clean. Returns 0 or
 * -1 (message on stderr). */
static int rr_round(const struct rr_ops *o, double seconds, struct rr_acc *acc, const char *who)
{
    uint8_t b = 'q';
    uint64_t t0 = bench_now_ns(), t_record = t0 + CONNS_RR_WARMUP_NS;
    uint64_t t_end = t_record + (uint64_t)(seconds * 1e9), t_sent = t0;
    bool in_flight = false, srv_owes = false;
    if (o->send(o->cli_ctx, o->cfd, &b, 1) != 1)
        goto fail;
    in_flight = true;
    for (;;) {
        uint64_t now = bench_now_ns();
        if (now >= t_end + 1000000000u) {
            fprintf(stderr, "bench_conns: %s: an answer is 1 s late\n", who);
            return -1;
        }
        if (!in_flight && now >= t_end)
            break;
        int r = o->ready(o->self);
        if (r < 0)
            goto fail;
        if (r & 2) {
            ssize_t n = o->recv(o->srv_ctx, o->sfd, &b, 1);
            if (n == 1)
                srv_owes = true;
            else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                goto fail;
        }
        if (srv_owes) {
            if (o->send(o->srv_ctx, o->sfd, &b, 1) != 1)
                goto fail;
            srv_owes = false;
        }
        if (r & 1) {
            ssize_t n = o->recv(o->cli_ctx, o->cfd, &b, 1);
            if (n == 1) {
                now = bench_now_ns();
                if (t_sent >= t_record && now < t_end) {
                    acc->done++;
                    if (bench_lat_add(&acc->lat, now - t_sent) < 0)
                        goto fail;
                }
                in_flight = false;
                if (now < t_end) {
                    t_sent = now;
                    if (o->send(o->cli_ctx, o->cfd, &b, 1) != 1)
                        goto fail;
                    in_flight = true;
                }
            } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                goto fail;
            }
        }
        if (o->step)
            o->step(o->self);
    }
    acc->measured_ns += t_end - t_record;
    return 0;
fail:
    fprintf(stderr, "bench_conns: %s: request/response failed: %s\n", who, strerror(errno));
    return -1;
}

/* ---- netsock ------------------------------------------------------------------------ */

struct ns_world {
    struct bench_rtsim r;
    int n, nlisten;
    int *lfd, *cfd, *sfd;
    struct rr_ops rr;
};

static ssize_t ns_io_send(void *st, int fd, const void *b, size_t n) { return ns_send(st, fd, b, n, 0); }
static ssize_t ns_io_recv(void *st, int fd, void *b, size_t n) { return ns_recv(st, fd, b, n, 0); }

static int ns_rr_ready(void *self)
{
    struct ns_world *w = self;
    struct pollfd c = {.fd = w->rr.cfd, .events = POLLIN}, s = {.fd = w->rr.sfd, .events = POLLIN};
    if (ns_poll(w->r.b, &s, 1, 0) < 0 || ns_poll(w->r.a, &c, 1, 0) < 0)
        return -1;
    if ((c.revents | s.revents) & (POLLERR | POLLHUP | POLLNVAL)) {
        errno = ECONNRESET;
        return -1;
    }
    return (c.revents & POLLIN ? 1 : 0) | (s.revents & POLLIN ? 2 : 0);
}

static void ns_rr_step(void *self)
{
    struct ns_world *w = self;
    bench_rtsim_step(&w->r);
}

/* Run the world's stacks in real time for ns nanoseconds. */
static void ns_world_idle(struct ns_world *w, uint64_t ns)
{
    uint64_t until = bench_now_ns() + ns;
    while (bench_now_ns() < until)
        bench_rtsim_step(&w->r);
}

/* Every connection is idle: nothing unacknowledged, nothing unread, on
 * either end. Returns how many endpoints are not. */
static int ns_world_busy(struct ns_world *w)
{
    int busy = 0;
    for (int i = 0; i < w->n; i++) {
        for (int k = 0; k < 2; k++) {
            struct ns_stack *st = k ? w->r.b : w->r.a;
            int fd = k ? w->sfd[i] : w->cfd[i];
            struct tcp_info ti;
            socklen_t len = sizeof(ti);
            uint8_t b;
            if (ns_getsockopt(st, fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 || ti.tcpi_unacked ||
                ns_recv(st, fd, &b, 1, MSG_DONTWAIT | MSG_PEEK) != -1)
                busy++;
        }
    }
    return busy;
}

static void ns_world_free(struct ns_world *w)
{
    bench_rtsim_free(&w->r);
    free(w->lfd);
    free(w->cfd);
    free(w->sfd);
    memset(w, 0, sizeof(*w));
    malloc_trim(0); /* give the pages back: the next world's growth must show in RSS */
}

/* Minor page faults of this process so far. */
static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* Build the world, measure its memory (fresh and idle) and set-up time
 * into c. The world stays open for the request/response rounds. Returns
 * 0, or -1 with c->skip saying why. */
static int ns_world_open(struct ns_world *w, int n, struct cell *c)
{
    memset(w, 0, sizeof(*w));
    w->n = n;
    w->nlisten = (n + CONNS_PER_PORT - 1) / CONNS_PER_PORT;
    w->lfd = calloc((size_t)w->nlisten, sizeof(int));
    w->cfd = calloc((size_t)n, sizeof(int));
    w->sfd = calloc((size_t)n, sizeof(int));
    if (!w->lfd || !w->cfd || !w->sfd || bench_rtsim_new(&w->r, NULL) < 0) {
        snprintf(c->skip, sizeof(c->skip), "failed (cannot build the world)");
        return -1;
    }
    memset(w->cfd, 0xff, (size_t)n * sizeof(int)); /* touched now: not in the growth */
    memset(w->sfd, 0xff, (size_t)n * sizeof(int));
    int one = 1;
    struct sockaddr_in to = w->r.addr_b;
    for (int k = 0; k < w->nlisten; k++) {
        to.sin_port = htons((uint16_t)(CONNS_NS_PORT0 + k));
        w->lfd[k] = ns_socket(w->r.b, AF_INET, SOCK_STREAM, 0);
        if (w->lfd[k] < 0 || ns_bind(w->r.b, w->lfd[k], (struct sockaddr *)&to, sizeof(to)) < 0 ||
            ns_listen(w->r.b, w->lfd[k], 128) < 0)
            goto fail;
    }
    ns_world_idle(w, 1000000);

    /* Free pages malloc still holds (an earlier world's) go back to the
     * system first, or reusing them would hide this world's growth from
     * the resident set. */
    malloc_trim(0);
    long flt0 = minor_faults();
    uint64_t rss0 = mem_rss(), heap0 = mem_heap(), t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        if ((i & 4095) == 4095 && mem_low()) {
            snprintf(c->skip, sizeof(c->skip),
                     "stopped at %d connections: MemAvailable under %.0f%% of MemTotal", i,
                     100 * CONNS_MEM_FLOOR);
            return -1;
        }
        to.sin_port = htons((uint16_t)(CONNS_NS_PORT0 + i % w->nlisten));
        int cfd = ns_socket(w->r.a, AF_INET, SOCK_STREAM, 0);
        w->cfd[i] = cfd;
        if (cfd < 0 || ns_setsockopt(w->r.a, cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
            ns_connect(w->r.a, cfd, (struct sockaddr *)&to, sizeof(to)) < 0)
            goto fail;
        int sfd = ns_accept(w->r.b, w->lfd[i % w->nlisten], NULL, NULL);
        w->sfd[i] = sfd;
        if (sfd < 0 || ns_setsockopt(w->r.b, sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
            goto fail;
    }
    uint64_t t1 = bench_now_ns();
    long flt1 = minor_faults();
    c->setup_us = (double)(t1 - t0) / 1e3 / n;
    ns_world_idle(w, 1000000);
    c->fresh.held = ((double)mem_rss() - (double)rss0) / (2.0 * n);
    c->fresh.used = ((double)mem_heap() - (double)heap0) / (2.0 * n);

    uint8_t b = 'q';
    for (int i = 0; i < n; i++) {
        if (ns_send(w->r.a, w->cfd[i], &b, 1, 0) != 1 || ns_recv(w->r.b, w->sfd[i], &b, 1, 0) != 1 ||
            ns_send(w->r.b, w->sfd[i], &b, 1, 0) != 1 || ns_recv(w->r.a, w->cfd[i], &b, 1, 0) != 1)
            goto fail;
    }
    uint64_t t2 = bench_now_ns();
    long flt2 = minor_faults();
    ns_world_idle(w, CONNS_FLUSH_NS);
    int busy = ns_world_busy(w);
    for (int k = 1; busy && k < CONNS_FLUSH_MAX; k++) {
        ns_world_idle(w, CONNS_FLUSH_NS); /* the simulator lagged the clock */
        busy = ns_world_busy(w);
    }
    c->idle.held = ((double)mem_rss() - (double)rss0) / (2.0 * n);
    c->idle.used = ((double)mem_heap() - (double)heap0) / (2.0 * n);
    fprintf(stderr,
            "bench_conns: netsock %d: set-up %.2f s (%.2f page faults per connection), exchange "
            "%.2f s (%.2f); %d endpoints not idle; retransmitted segments %llu + %llu; next "
            "deadline %+lld us\n",
            n, (t1 - t0) / 1e9, (double)(flt1 - flt0) / n, (t2 - t1) / 1e9,
            (double)(flt2 - flt1) / n, busy,
            (unsigned long long)ns_stack_counter(w->r.a, NS_CTR_tcp_retrans_segs),
            (unsigned long long)ns_stack_counter(w->r.b, NS_CTR_tcp_retrans_segs),
            ns_sim_next_deadline(w->r.sim) == NS_TIME_NEVER
                ? -1LL
                : (long long)(ns_sim_next_deadline(w->r.sim) - ns_sim_now(w->r.sim)));
    if (busy) {
        snprintf(c->skip, sizeof(c->skip), "failed (%d endpoints not idle)", busy);
        return -1;
    }

    int mid = n / 2;
    ns_fcntl(w->r.a, w->cfd[mid], F_SETFL, O_NONBLOCK);
    ns_fcntl(w->r.b, w->sfd[mid], F_SETFL, O_NONBLOCK);
    w->rr = (struct rr_ops){.cli_ctx = w->r.a, .srv_ctx = w->r.b, .cfd = w->cfd[mid],
                            .sfd = w->sfd[mid], .send = ns_io_send, .recv = ns_io_recv,
                            .ready = ns_rr_ready, .step = ns_rr_step, .self = w};
    return 0;
fail:
    fprintf(stderr, "bench_conns: netsock %d: set-up failed: %s\n", n, strerror(errno));
    snprintf(c->skip, sizeof(c->skip), "failed (%s)", strerror(errno));
    return -1;
}

/* ---- Linux ----------------------------------------------------------------------------- */

/* The connections live in holder threads, each with a descriptor table of
 * its own (unshare(CLONE_FILES)) holding at most lx_per_holder of them:
 * RLIMIT_NOFILE bounds each table, and without CAP_SYS_RESOURCE the hard
 * limit cannot be raised (it is 20000 on the machine this was written on),
 * while 1M connections need 2M descriptors. Every socket call on a
 * connection is made by the thread whose table holds it; the main thread
 * hands out one command at a time, so the work stays serial. */
enum lx_cmd { LX_NONE, LX_INIT, LX_OPEN, LX_EXCHANGE, LX_BUSY, LX_RR, LX_QUIT };

struct lx_holder {
    pthread_t tid;
    enum lx_cmd cmd;
    bool done;
    int rc;                     /* 0 or -errno; LX_BUSY: endpoints not idle */
    int n;                      /* connections this holder opens */
    int opened;                 /* ... and has opened */
    int lfd, ep;
    struct sockaddr_in to;      /* its listener */
    int *cfd, *sfd;
    struct rr_ops rr;
    double rr_seconds;          /* LX_RR: one round of this length into rr_acc */
    struct rr_acc *rr_acc;
};

struct lx_world {
    int n, nholders;
    struct lx_holder *h;
};

static pthread_mutex_t lx_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lx_cv = PTHREAD_COND_INITIALIZER;

static ssize_t lx_io_send(void *ctx, int fd, const void *b, size_t n)
{
    (void)ctx;
    return send(fd, b, n, MSG_NOSIGNAL);
}
static ssize_t lx_io_recv(void *ctx, int fd, void *b, size_t n)
{
    (void)ctx;
    return recv(fd, b, n, 0);
}

static int lx_rr_ready(void *self)
{
    struct lx_holder *h = self;
    struct epoll_event ev[2];
    int n = epoll_wait(h->ep, ev, 2, 100);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    int r = 0;
    for (int i = 0; i < n; i++) {
        if (ev[i].events & (EPOLLERR | EPOLLHUP)) {
            errno = ECONNRESET;
            return -1;
        }
        r |= (int)ev[i].data.u32;
    }
    return r;
}

/* LX_INIT: a descriptor table of our own, the arrays, the listener. */
static int lx_init(struct lx_holder *h)
{
    if (unshare(CLONE_FILES) < 0)
        return -errno;
    h->cfd = malloc((size_t)h->n * sizeof(int));
    h->sfd = malloc((size_t)h->n * sizeof(int));
    if (!h->cfd || !h->sfd)
        return -ENOMEM;
    memset(h->cfd, 0xff, (size_t)h->n * sizeof(int)); /* touched now: not in the growth */
    memset(h->sfd, 0xff, (size_t)h->n * sizeof(int));
    socklen_t sl = sizeof(h->to);
    h->to.sin_family = AF_INET;
    h->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (h->lfd < 0 || bind(h->lfd, (struct sockaddr *)&h->to, sizeof(h->to)) < 0 ||
        listen(h->lfd, 128) < 0 || getsockname(h->lfd, (struct sockaddr *)&h->to, &sl) < 0)
        return -errno;
    return 0;
}

/* LX_OPEN: connect and accept, one at a time. -ENOMEM: MemAvailable fell
 * under the floor. */
static int lx_open(struct lx_holder *h)
{
    int one = 1;
    for (int i = 0; i < h->n; i++) {
        if ((i & 4095) == 4095 && mem_low())
            return -ENOMEM;
        int cfd = socket(AF_INET, SOCK_STREAM, 0);
        h->cfd[i] = cfd;
        if (cfd < 0 || setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
            connect(cfd, (struct sockaddr *)&h->to, sizeof(h->to)) < 0)
            return -errno;
        int sfd = accept(h->lfd, NULL, NULL);
        h->sfd[i] = sfd;
        if (sfd < 0 || setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
            return -errno;
        h->opened = i + 1;
    }
    return 0;
}

/* LX_EXCHANGE: one byte each way on every connection. */
static int lx_exchange(struct lx_holder *h)
{
    uint8_t b = 'q';
    for (int i = 0; i < h->n; i++)
        if (send(h->cfd[i], &b, 1, MSG_NOSIGNAL) != 1 || recv(h->sfd[i], &b, 1, 0) != 1 ||
            send(h->sfd[i], &b, 1, MSG_NOSIGNAL) != 1 || recv(h->cfd[i], &b, 1, 0) != 1)
            return errno ? -errno : -EPROTO;
    return 0;
}

/* LX_BUSY: endpoints with something unacknowledged or unread. */
static int lx_busy(struct lx_holder *h)
{
    int busy = 0;
    for (int i = 0; i < h->n; i++) {
        for (int k = 0; k < 2; k++) {
            int fd = k ? h->sfd[i] : h->cfd[i];
            struct tcp_info ti;
            socklen_t len = sizeof(ti);
            uint8_t b;
            if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 || ti.tcpi_unacked ||
                recv(fd, &b, 1, MSG_DONTWAIT | MSG_PEEK) != -1)
                busy++;
        }
    }
    return busy;
}

/* LX_RR: one round on the middle connection (its epoll set made on first use). */
static int lx_rr(struct lx_holder *h)
{
    if (h->ep < 0) {
        int mid = h->n / 2;
        struct epoll_event ec = {.events = EPOLLIN, .data.u32 = 1};
        struct epoll_event es = {.events = EPOLLIN, .data.u32 = 2};
        h->ep = epoll_create1(0);
        if (h->ep < 0 || epoll_ctl(h->ep, EPOLL_CTL_ADD, h->cfd[mid], &ec) < 0 ||
            epoll_ctl(h->ep, EPOLL_CTL_ADD, h->sfd[mid], &es) < 0)
            return -errno;
        fcntl(h->cfd[mid], F_SETFL, O_NONBLOCK);
        fcntl(h->sfd[mid], F_SETFL, O_NONBLOCK);
        h->rr = (struct rr_ops){.cfd = h->cfd[mid], .sfd = h->sfd[mid], .send = lx_io_send,
                                .recv = lx_io_recv, .ready = lx_rr_ready, .self = h};
    }
    return rr_round(&h->rr, h->rr_seconds, h->rr_acc, "Linux") == 0 ? 0 : -EIO;
}

/* LX_QUIT: client ends closed with a reset (SO_LINGER 0: no TIME_WAIT
 * left behind), then the server ends and the listener. */
static void lx_quit(struct lx_holder *h)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    for (int i = 0; h->cfd && i < h->n; i++)
        if (h->cfd[i] >= 0) {
            setsockopt(h->cfd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            close(h->cfd[i]);
        }
    for (int i = 0; h->sfd && i < h->n; i++)
        if (h->sfd[i] >= 0)
            close(h->sfd[i]);
    if (h->lfd >= 0)
        close(h->lfd);
    if (h->ep >= 0)
        close(h->ep);
    free(h->cfd);
    free(h->sfd);
    h->cfd = h->sfd = NULL;
}

static void *lx_holder_main(void *arg)
{
    struct lx_holder *h = arg;
    for (;;) {
        pthread_mutex_lock(&lx_mu);
        while (h->cmd == LX_NONE)
            pthread_cond_wait(&lx_cv, &lx_mu);
        enum lx_cmd cmd = h->cmd;
        pthread_mutex_unlock(&lx_mu);
        int rc = 0;
        switch (cmd) {
        case LX_INIT: rc = lx_init(h); break;
        case LX_OPEN: rc = lx_open(h); break;
        case LX_EXCHANGE: rc = lx_exchange(h); break;
        case LX_BUSY: rc = lx_busy(h); break;
        case LX_RR: rc = lx_rr(h); break;
        case LX_QUIT: lx_quit(h); break;
        case LX_NONE: break;
        }
        pthread_mutex_lock(&lx_mu);
        h->rc = rc;
        h->cmd = LX_NONE;
        h->done = true;
        pthread_cond_broadcast(&lx_cv);
        pthread_mutex_unlock(&lx_mu);
        if (cmd == LX_QUIT)
            return NULL;
    }
}

/* Have holder h run cmd; wait for it and return its result. */
static int lx_do(struct lx_holder *h, enum lx_cmd cmd)
{
    pthread_mutex_lock(&lx_mu);
    h->done = false;
    h->cmd = cmd;
    pthread_cond_broadcast(&lx_cv);
    while (!h->done)
        pthread_cond_wait(&lx_cv, &lx_mu);
    int rc = h->rc;
    pthread_mutex_unlock(&lx_mu);
    return rc;
}

/* Connections one holder may take: both ends and some spare descriptors
 * in one table, and no more than CONNS_PER_PORT on its listener. */
static int lx_per_holder(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    uint64_t per = rl.rlim_cur > 2 * CONNS_FD_SPARE ? (rl.rlim_cur - CONNS_FD_SPARE) / 2 : 0;
    return per > CONNS_PER_HOLDER ? CONNS_PER_HOLDER : (int)per;
}

/* Enough system-wide file handles (fs.file-max) for 2n more? */
static bool lx_files_allow(int n, char *why, size_t len)
{
    long nr[3] = {0, 0, 0};
    FILE *f = fopen("/proc/sys/fs/file-nr", "r");
    if (f) {
        if (fscanf(f, "%ld %ld %ld", &nr[0], &nr[1], &nr[2]) != 3)
            nr[2] = 0;
        fclose(f);
    }
    if (nr[2] <= 0 || nr[0] + 2L * n + CONNS_FILES_SPARE <= nr[2])
        return true;
    snprintf(why, len, "skipped: %d more open files would pass fs.file-max %ld (%ld open)",
             2 * n, nr[2], nr[0]);
    return false;
}

/* Stop the holders and wait until the kernel has freed their sockets
 * (sockstat's TCP count back to tcp_alloc_before, at most 10 s: sockets
 * are freed after an RCU grace period). */
static void lx_world_free(struct lx_world *w, uint64_t tcp_alloc_before)
{
    for (int i = 0; i < w->nholders; i++) {
        if (!w->h[i].tid)
            continue;
        lx_do(&w->h[i], LX_QUIT);
        pthread_join(w->h[i].tid, NULL);
    }
    free(w->h);
    memset(w, 0, sizeof(*w));
    struct slab_snap *s = malloc(sizeof(*s));
    for (int t = 0; s && t < 1000; t++) {
        if (slab_read(s) < 0 || s->tcp_alloc <= tcp_alloc_before + 64)
            break;
        usleep(10000);
    }
    free(s);
}

/* Start the holders, take the baseline, open the n connections, measure
 * (fresh and idle) into c. Returns 0, or -1 with c->skip saying why; the
 * caller frees the world either way. */
static int lx_world_open(struct lx_world *w, int n, struct cell *c, struct slab_snap *base,
                         struct slab_snap *now)
{
    memset(w, 0, sizeof(*w));
    int per = lx_per_holder();
    if (per < 1) {
        snprintf(c->skip, sizeof(c->skip), "skipped: RLIMIT_NOFILE too low");
        return -1;
    }
    w->n = n;
    w->nholders = (n + per - 1) / per;
    w->h = calloc((size_t)w->nholders, sizeof(*w->h));
    if (!w->h) {
        snprintf(c->skip, sizeof(c->skip), "failed (out of memory)");
        return -1;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int rc = 0;
    for (int i = 0; i < w->nholders && !rc; i++) {
        struct lx_holder *h = &w->h[i];
        h->n = n / w->nholders + (i < n % w->nholders);
        h->lfd = h->ep = -1;
        if (pthread_create(&h->tid, &attr, lx_holder_main, h) != 0) {
            h->tid = 0;
            rc = -EAGAIN;
        } else {
            rc = lx_do(h, LX_INIT);
        }
    }
    pthread_attr_destroy(&attr);
    if (rc < 0) {
        snprintf(c->skip, sizeof(c->skip), "failed (holder threads: %s)", strerror(-rc));
        return -1;
    }
    if (slab_read(base) < 0) {
        snprintf(c->skip, sizeof(c->skip), "skipped (needs root: /proc/slabinfo)");
        return -1;
    }

    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < w->nholders && !rc; i++)
        rc = lx_do(&w->h[i], LX_OPEN);
    uint64_t t1 = bench_now_ns();
    if (rc == -ENOMEM) {
        int opened = 0;
        for (int i = 0; i < w->nholders; i++)
            opened += w->h[i].opened;
        snprintf(c->skip, sizeof(c->skip),
                 "stopped at %d connections: MemAvailable under %.0f%% of MemTotal", opened,
                 100 * CONNS_MEM_FLOOR);
        return -1;
    }
    if (rc < 0)
        goto fail;
    c->setup_us = (double)(t1 - t0) / 1e3 / n;
    usleep(1000);
    slab_read(now);
    struct mem_pt m = slab_growth(base, now, 0.01 * 2 * n, "fresh");
    c->fresh.held = m.held / (2.0 * n);
    c->fresh.used = m.used / (2.0 * n);

    for (int i = 0; i < w->nholders && !rc; i++)
        rc = lx_do(&w->h[i], LX_EXCHANGE);
    if (rc < 0)
        goto fail;
    uint64_t t2 = bench_now_ns();
    usleep(CONNS_FLUSH_NS / 1000);
    int busy = 0;
    for (int i = 0; i < w->nholders; i++)
        busy += lx_do(&w->h[i], LX_BUSY);
    slab_read(now);
    m = slab_growth(base, now, 0.01 * 2 * n, "idle");
    c->idle.held = m.held / (2.0 * n);
    c->idle.used = m.used / (2.0 * n);
    fprintf(stderr,
            "bench_conns: Linux %d: %d holder threads; set-up %.2f s, exchange %.2f s; "
            "%d endpoints not idle\n",
            n, w->nholders, (t1 - t0) / 1e9, (t2 - t1) / 1e9, busy);
    if (busy) {
        snprintf(c->skip, sizeof(c->skip), "failed (%d endpoints not idle)", busy);
        return -1;
    }
    return 0;
fail:
    fprintf(stderr, "bench_conns: Linux %d: set-up failed: %s\n", n, strerror(-rc));
    snprintf(c->skip, sizeof(c->skip), "failed (%s)", strerror(-rc));
    return -1;
}

/* One request/response round on the middle holder's middle connection. */
static int lx_world_rr(struct lx_world *w, double seconds, struct rr_acc *acc)
{
    struct lx_holder *h = &w->h[w->nholders / 2];
    h->rr_seconds = seconds;
    h->rr_acc = acc;
    return lx_do(h, LX_RR);
}

/* ---- the run -------------------------------------------------------------------------- */

/* "1k", "100k", "1M", or the number. */
static void n_label(int n, char *out, size_t len)
{
    if (n >= 1000000 && n % 1000000 == 0)
        snprintf(out, len, "%dM", n / 1000000);
    else if (n >= 1000 && n % 1000 == 0)
        snprintf(out, len, "%dk", n / 1000);
    else
        snprintf(out, len, "%d", n);
}

/* Skip a side when its estimate exceeds the share of MemAvailable we may
 * take. per_endpoint: bytes measured at a smaller N (0: none yet). */
static bool mem_guard(int n, double per_endpoint, double fraction, char *why, size_t len)
{
    double need = CONNS_MEM_MARGIN * per_endpoint * 2.0 * n + 3.0 * sizeof(int) * n;
    double avail = (double)meminfo("MemAvailable");
    if (need <= fraction * avail)
        return true;
    snprintf(why, len, "skipped: would need %.1f GiB, have %.1f (%.0f%% of MemAvailable %.1f GiB)",
             need / GIB, fraction * avail / GIB, 100 * fraction, avail / GIB);
    return false;
}

/* One side of a row: the reason it was skipped, "-" for each value when
 * the measurement failed (!ok), or the nvals values (two decimals below
 * 100, none above), comma-separated. */
static void fmt_side(char *out, size_t len, const struct cell *c, bool ok, int nvals, const double *v)
{
    if (c->skip[0]) {
        snprintf(out, len, "%s", c->skip);
        return;
    }
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < nvals && used < len; i++) {
        const char *sep = i ? "," : "";
        if (ok)
            used += (size_t)snprintf(out + used, len - used, "%s%.*f", sep, v[i] >= 100 ? 0 : 2, v[i]);
        else
            used += (size_t)snprintf(out + used, len - used, "%s-", sep);
    }
}

/* Print the row conns_<lab>_<what> (bench_util.h format) with nvals
 * values per side. */
static void conns_row(const char *lab, const char *what, const char *title, const char *better,
                      const char *metrics, int nvals, const struct cell *ns, bool ns_ok,
                      const double *nsv, const struct cell *lx, bool lx_ok, const double *lxv)
{
    char id[64], nss[200], lxs[200];
    snprintf(id, sizeof(id), "conns_%s_%s", lab, what);
    fmt_side(nss, sizeof(nss), ns, ns_ok, nvals, nsv);
    fmt_side(lxs, sizeof(lxs), lx, lx_ok, nvals, lxv);
    bench_row(id, title, better, metrics, nss, lxs);
}

/* The five rows of one N: idle and fresh memory, set-up, request/response
 * latency and rate. */
static void print_rows(int n, const struct cell *ns, const struct cell *lx)
{
    char lab[16], title[256];
    n_label(n, lab, sizeof(lab));

    snprintf(title, sizeof(title),
             "%s TCP connections idle after 1 B each way: bytes per endpoint, held / in use "
             "(lower is better; netsock: RSS / malloc, Linux: slab pages / slab objects)", lab);
    conns_row(lab, "idle_mem", title, "lower", "held_B,used_B", 2, ns, true,
              (const double[]){ns->idle.held, ns->idle.used}, lx, true,
              (const double[]){lx->idle.held, lx->idle.used});
    snprintf(title, sizeof(title),
             "%s TCP connections that never carried data: bytes per endpoint, held / in use "
             "(lower is better)", lab);
    conns_row(lab, "fresh_mem", title, "lower", "held_B,used_B", 2, ns, true,
              (const double[]){ns->fresh.held, ns->fresh.used}, lx, true,
              (const double[]){lx->fresh.held, lx->fresh.used});
    snprintf(title, sizeof(title),
             "Opening %s TCP connections one at a time (connect + accept): µs per connection "
             "(lower is better)", lab);
    conns_row(lab, "setup", title, "lower", "us_per_conn", 1, ns, true, &ns->setup_us, lx, true,
              &lx->setup_us);
    snprintf(title, sizeof(title),
             "TCP request/response, 1 B, on one connection with %s open: latency p50 / p99, µs "
             "(lower is better)", lab);
    conns_row(lab, "rr_latency", title, "lower", "p50_us,p99_us", 2, ns, ns->rr_ok,
              (const double[]){ns->rr_p50, ns->rr_p99}, lx, lx->rr_ok,
              (const double[]){lx->rr_p50, lx->rr_p99});
    snprintf(title, sizeof(title),
             "TCP request/response, 1 B, on one connection with %s open: round trips/s", lab);
    conns_row(lab, "rr_rate", title, "higher", "rt_per_s", 1, ns, ns->rr_ok, &ns->rr_rate, lx,
              lx->rr_ok, &lx->rr_rate);
}

/* The slowdown row: request/response with n open against ref_n open,
 * each stack against itself (netsock: the reference world, same rounds;
 * Linux: the reference measurement, earlier in the run). */
static void print_slowdown(int n, int ref_n, const struct cell *ns, const struct cell *lx,
                           const struct cell *lx_ref)
{
    char lab[16], ref[16], what[32], title[256];
    n_label(n, lab, sizeof(lab));
    n_label(ref_n, ref, sizeof(ref));
    snprintf(what, sizeof(what), "rr_vs_%s", ref);
    snprintf(title, sizeof(title),
             "TCP request/response with %s open against %s open, each stack against itself: "
             "slowdown of p50 / p99 / rate (1: none; lower is better)", lab, ref);
    bool ns_ok = ns->rr_ok && ns->ref_ok;
    bool lx_ok = lx->rr_ok && !lx_ref->skip[0] && lx_ref->rr_ok;
    double nsv[3] = {0, 0, 0}, lxv[3] = {0, 0, 0};
    if (ns_ok) {
        nsv[0] = ns->rr_p50 / ns->ref_p50;
        nsv[1] = ns->rr_p99 / ns->ref_p99;
        nsv[2] = ns->ref_rate / ns->rr_rate;
    }
    if (lx_ok) {
        lxv[0] = lx->rr_p50 / lx_ref->rr_p50;
        lxv[1] = lx->rr_p99 / lx_ref->rr_p99;
        lxv[2] = lx_ref->rr_rate / lx->rr_rate;
    }
    conns_row(lab, what, title, "lower", "p50_x,p99_x,rate_x", 3, ns, ns_ok, nsv, lx, lx_ok, lxv);
}

int main(int argc, char **argv)
{
    int sizes[CONNS_MAX_SIZES], nsizes = 0;
    for (int i = 1; i < argc && nsizes < CONNS_MAX_SIZES; i++) {
        long v = strtol(argv[i], NULL, 0);
        if (v < 2 || v > 4000000) {
            fprintf(stderr, "usage: bench_conns [N ...]   (2 <= N <= 4000000)\n");
            return 2;
        }
        sizes[nsizes++] = (int)v;
    }
    if (!nsizes) {
        sizes[0] = 1000, sizes[1] = 100000, sizes[2] = 1000000;
        nsizes = 3;
    }
    const char *e = getenv("BENCH_CONNS_RR_SECONDS");
    double rr_seconds = e ? atof(e) : 1.0;
    e = getenv("BENCH_CONNS_MEM_FRACTION");
    double fraction = e ? atof(e) : CONNS_MEM_FRACTION;
    const char *only = getenv("BENCH_CONNS_ONLY"); /* "netsock" or "linux": one side */
    bool run_ns = !only || !*only || !strcmp(only, "netsock");
    bool run_lx = !only || !*only || !strcmp(only, "linux");
    if (rr_seconds <= 0 || fraction <= 0 || fraction > 0.9 || (!run_ns && !run_lx)) {
        fprintf(stderr, "bench_conns: BENCH_CONNS_RR_SECONDS > 0, 0 < BENCH_CONNS_MEM_FRACTION <= 0.9, "
                        "BENCH_CONNS_ONLY netsock or linux\n");
        return 2;
    }
    alarm(600); /* a hang ends the program, not make bench */

    static struct slab_snap base, snap;
    struct ns_world ref = {0}, big;
    struct cell lx_ref_cell;
    memset(&lx_ref_cell, 0, sizeof(lx_ref_cell));
    double ns_per_ep = 0, lx_per_ep = 0; /* largest "held" measured so far */
    double slice = rr_seconds / CONNS_RR_ROUNDS;
    int rc = 0;

    for (int si = 0; si < nsizes; si++) {
        int n = sizes[si];
        bool is_ref = si == 0;
        struct cell ns, lx;
        memset(&ns, 0, sizeof(ns));
        memset(&lx, 0, sizeof(lx));

        /* netsock */
        char why[160];
        if (!run_ns) {
            snprintf(ns.skip, sizeof(ns.skip), "skipped (BENCH_CONNS_ONLY=%s)", only);
        } else if (!mem_guard(n, ns_per_ep > 0 ? ns_per_ep : 16384, fraction, why, sizeof(why))) {
            snprintf(ns.skip, sizeof(ns.skip), "%s", why);
            fprintf(stderr, "bench_conns: netsock %d: %s\n", n, why);
        } else {
            struct ns_world *w = is_ref ? &ref : &big;
            if (ns_world_open(w, n, &ns) == 0) {
                struct rr_acc acc = {0}, racc = {0};
                bool ok = true, rok = !is_ref;
                for (int round = 0; round < CONNS_RR_ROUNDS; round++) {
                    ok = ok && rr_round(&w->rr, slice, &acc, "netsock") == 0;
                    if (!is_ref && ref.n)
                        rok = rok && rr_round(&ref.rr, slice, &racc, "netsock reference") == 0;
                }
                ns.rr_ok = ok && rr_result(&acc, &ns.rr_p50, &ns.rr_p99, &ns.rr_rate);
                ns.ref_ok = rok && ref.n && rr_result(&racc, &ns.ref_p50, &ns.ref_p99, &ns.ref_rate);
                bench_lat_free(&acc.lat);
                bench_lat_free(&racc.lat);
                if (ns.idle.held > ns_per_ep)
                    ns_per_ep = ns.idle.held;
                if (ns.idle.used > ns_per_ep)
                    ns_per_ep = ns.idle.used;
            } else {
                fprintf(stderr, "bench_conns: netsock %d: %s\n", n, ns.skip);
            }
            if (!is_ref || ns.skip[0])
                ns_world_free(w);
        }

        /* Linux */
        if (!run_lx) {
            snprintf(lx.skip, sizeof(lx.skip), "skipped (BENCH_CONNS_ONLY=%s)", only);
        } else if (!mem_guard(n, lx_per_ep > 0 ? lx_per_ep : 16384, fraction, why, sizeof(why)) ||
            !lx_files_allow(n, why, sizeof(why))) {
            snprintf(lx.skip, sizeof(lx.skip), "%s", why);
            fprintf(stderr, "bench_conns: Linux %d: %s\n", n, why);
        } else {
            struct lx_world w;
            slab_read(&snap);
            uint64_t alloc_before = snap.tcp_alloc;
            if (lx_world_open(&w, n, &lx, &base, &snap) == 0) {
                struct rr_acc acc = {0};
                bool ok = true;
                for (int round = 0; round < CONNS_RR_ROUNDS; round++)
                    ok = ok && lx_world_rr(&w, slice, &acc) == 0;
                lx.rr_ok = ok && rr_result(&acc, &lx.rr_p50, &lx.rr_p99, &lx.rr_rate);
                bench_lat_free(&acc.lat);
                if (lx.idle.held > lx_per_ep)
                    lx_per_ep = lx.idle.held;
            } else {
                fprintf(stderr, "bench_conns: Linux %d: %s\n", n, lx.skip);
            }
            uint64_t t0 = bench_now_ns();
            lx_world_free(&w, alloc_before);
            fprintf(stderr, "bench_conns: Linux %d: teardown %.2f s\n", n, (bench_now_ns() - t0) / 1e9);
            if (is_ref)
                lx_ref_cell = lx;
        }

        print_rows(n, &ns, &lx);
        if (!is_ref)
            print_slowdown(n, sizes[0], &ns, &lx, &lx_ref_cell);
        if (!strncmp(ns.skip, "failed", 6) || !strncmp(lx.skip, "failed", 6) ||
            (!ns.skip[0] && !ns.rr_ok) || (!lx.skip[0] && !lx.rr_ok))
            rc = 1;
    }
    if (ref.n)
        ns_world_free(&ref);
    return rc;
}
