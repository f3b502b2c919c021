/* bench/bench_util.h — helpers shared by the benchmark programs: the wall
 * clock, the result-row format bench/run.sh reads, latency percentiles,
 * and two netsock stacks on a zero-delay simulated link whose virtual
 * clock follows the wall clock.
 *
 * Header-only: every bench/bench_*.c is one program (CMakeLists.txt builds
 * each from its single source), so the helpers are static inline.
 *
 * Row format (one line per table row, fields separated by TABs):
 *
 *     ROW  id  title  better  metrics  netsock-values  linux-values
 *
 * better is "higher" or "lower"; metrics, netsock-values and linux-values
 * are comma-separated lists of the same length (e.g. "p50_us,p99_us" and
 * "4.1,9.8"). A value "-" means the measurement failed; any other
 * non-numeric text (e.g. "skipped (needs root)") replaces the whole side.
 * bench/run.sh computes the ratios (always > 1 = netsock better) and writes
 * the Markdown table and the JSON.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Print one result row (format above). ns and lx hold n already formatted
 * values each. */
static inline void bench_row(const char *id, const char *title, const char *better,
                             const char *metrics, const char *ns, const char *lx)
{
    printf("ROW\t%s\t%s\t%s\t%s\t%s\t%s\n", id, title, better, metrics, ns, lx);
    fflush(stdout);
}

/* ---- latency samples ------------------------------------------------------ */

/* A growing array of round-trip times in nanoseconds. */
struct bench_lat {
    uint32_t *ns;
    size_t n, cap;
};

/* Record one sample (saturates at ~4.29 s). Returns 0 or -ENOMEM. */
static inline int bench_lat_add(struct bench_lat *l, uint64_t ns)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1u << 16;
        uint32_t *p = realloc(l->ns, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        l->ns = p;
        l->cap = cap;
    }
    l->ns[l->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
    return 0;
}

static int bench_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0 < q < 1, nearest rank) in microseconds; sorts the
 * samples. -1 when there are none. */
static inline double bench_lat_quantile_us(struct bench_lat *l, double q)
{
    if (!l->n)
        return -1;
    qsort(l->ns, l->n, sizeof(*l->ns), bench_u32_cmp);
    size_t i = (size_t)(q * (double)l->n);
    if (i >= l->n)
        i = l->n - 1;
    return l->ns[i] / 1000.0;
}

static inline void bench_lat_free(struct bench_lat *l)
{
    free(l->ns);
    memset(l, 0, sizeof(*l));
}

/* ---- two netsock stacks, zero-delay link, virtual time = wall time ---------
 *
 * Host "a" (192.0.2.1, the client) and host "b" (192.0.2.2, the server) on a
 * two-port simulated link with the default parameters: no delay, unlimited
 * rate, MTU 1500. One thread runs both stacks and the link.
 *
 * The simulator's virtual clock is tied to the wall clock: virtual time
 * never runs ahead of the real time elapsed since bench_rtsim_new(), so
 * timers (delayed ACK 40 ms, RTO 200 ms, TIME_WAIT) cost what they would
 * cost on a real host, and a stall shows in the measured latency instead
 * of being skipped over as virtual time would. Frames on the zero-delay
 * link are due at once, so in a healthy request/response exchange virtual
 * time just follows along.
 */
struct bench_rtsim {
    struct ns_sim *sim;
    struct ns_stack *a, *b;
    struct sockaddr_in addr_b; /* 192.0.2.2, port 0 */
    uint64_t base_us;          /* virtual time at t0_ns */
    uint64_t t0_ns;
};

/* Virtual time that corresponds to now on the wall clock. */
static inline uint64_t bench_rtsim_wall_us(const struct bench_rtsim *r)
{
    return r->base_us + (bench_now_ns() - r->t0_ns) / 1000u;
}

/* Process every simulator event due by the current wall-clock time; with
 * nothing due, move the virtual clock up to the wall clock (every 50 µs at
 * most, which keeps the millisecond timers and the 4 µs ISN clock honest
 * without polling both stacks on every call). Returns true when an event
 * was processed. */
static inline bool bench_rtsim_step(struct bench_rtsim *r)
{
    uint64_t wall = bench_rtsim_wall_us(r);
    if (ns_sim_step(r->sim, wall))
        return true;
    if (wall > ns_sim_now(r->sim) + 50)
        ns_sim_run_until(r->sim, wall);
    return false;
}

/* The driver behind blocking socket calls on both stacks (ns_stack_set_driver):
 * like the simulator's own, but a wait for a future event spins on the wall
 * clock until it is due instead of jumping there. */
static int bench_rtsim_drive(void *ctx, uint64_t deadline_us)
{
    struct bench_rtsim *r = ctx;
    uint64_t wall = bench_rtsim_wall_us(r);
    /* deadline 0: only bring the stacks up to the current time. */
    uint64_t limit = deadline_us && deadline_us < wall ? deadline_us : wall;
    if (ns_sim_step(r->sim, limit))
        return 0;
    if (deadline_us == NS_TIME_NEVER && ns_sim_next_deadline(r->sim) == NS_TIME_NEVER)
        return -EDEADLK; /* nothing pending anywhere: it would hang forever */
    if (limit > ns_sim_now(r->sim))
        ns_sim_run_until(r->sim, limit);
    return 0;
}

/* Make the two hosts (cfg NULL: defaults) and let their ARP announcements
 * pass. Returns 0 or -1 with a message. */
static inline int bench_rtsim_new(struct bench_rtsim *r, const struct ns_config *cfg)
{
    memset(r, 0, sizeof(*r));
    r->sim = ns_sim_new(1);
    if (!r->sim)
        return -1;
    r->a = ns_sim_add_host(r->sim, "a", cfg);
    r->b = ns_sim_add_host(r->sim, "b", cfg);
    int ia, ib;
    if (!r->a || !r->b || !ns_sim_connect(r->sim, r->a, r->b, NULL, &ia, &ib)) {
        fprintf(stderr, "bench: cannot build the simulated network\n");
        return -1;
    }
    struct in_addr aa, ba;
    inet_pton(AF_INET, "192.0.2.1", &aa);
    inet_pton(AF_INET, "192.0.2.2", &ba);
    if (ns_if_addr_add(r->a, ia, AF_INET, &aa, 24) < 0 ||
        ns_if_addr_add(r->b, ib, AF_INET, &ba, 24) < 0) {
        fprintf(stderr, "bench: cannot add the addresses\n");
        return -1;
    }
    r->addr_b.sin_family = AF_INET;
    r->addr_b.sin_addr = ba;
    ns_sim_run_for(r->sim, 10000000); /* gratuitous ARPs done (virtual time) */
    r->base_us = ns_sim_now(r->sim);
    r->t0_ns = bench_now_ns();
    ns_stack_set_driver(r->a, bench_rtsim_drive, r);
    ns_stack_set_driver(r->b, bench_rtsim_drive, r);
    return 0;
}

static inline void bench_rtsim_free(struct bench_rtsim *r)
{
    if (r->sim)
        ns_sim_free(r->sim);
    memset(r, 0, sizeof(*r));
}

#endif
