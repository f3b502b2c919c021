/* sim/sim.c — the simulator loop: hosts (stacks) and links on virtual
 * time. See include/netsock/sim.h for the model and the determinism
 * promise.
 *
 * The loop is discrete-event: the next event time is the minimum of every
 * host's deadline (its timers and its devices, which include frames in
 * flight on links towards it). Time jumps there; every host due is polled
 * in creation order. Nothing here reads a real clock. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/stack.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "sim/simlink.h"

#define SIM_MAX_HOSTS 256
#define SIM_MAX_LINKS 256

struct ns_sim {
    uint64_t seed;
    uint64_t now_us;
    struct ns_stack *hosts[SIM_MAX_HOSTS];
    unsigned n_hosts;
    struct ns_simlink *links[SIM_MAX_LINKS];
    unsigned n_links;
    uint64_t stuck_steps; /* consecutive steps that could not advance time */
};

/* Independent, reproducible seeds for each object from the sim seed. */
static uint64_t derive_seed(uint64_t seed, uint64_t kind, uint64_t index)
{
    uint64_t x = seed ^ (kind << 56) ^ (index * 0x9e3779b97f4a7c15ull);
    ns_rng_splitmix(&x);
    return ns_rng_splitmix(&x);
}

struct ns_sim *ns_sim_new(uint64_t seed)
{
    struct ns_sim *sim = calloc(1, sizeof(*sim));
    if (sim)
        sim->seed = seed;
    return sim;
}

void ns_sim_free(struct ns_sim *sim)
{
    if (!sim)
        return;
    for (unsigned i = 0; i < sim->n_hosts; i++)
        ns_stack_free(sim->hosts[i]);
    for (unsigned i = 0; i < sim->n_links; i++)
        ns_simlink_free(sim->links[i]);
    free(sim);
}

uint64_t ns_sim_now(const struct ns_sim *sim) { return sim->now_us; }
uint64_t ns_sim_seed(const struct ns_sim *sim) { return sim->seed; }

/* The driver behind blocking socket calls on simulated hosts: one event
 * step of the whole simulation, or a jump to the deadline when nothing
 * happens before it. */
static int sim_drive(void *ctx, uint64_t deadline_us)
{
    struct ns_sim *sim = ctx;
    if (ns_sim_step(sim, deadline_us))
        return 0;
    if (deadline_us == NS_TIME_NEVER)
        return -EDEADLK; /* nothing pending anywhere: it would hang forever */
    ns_sim_run_until(sim, deadline_us);
    return 0;
}

struct ns_stack *ns_sim_add_host(struct ns_sim *sim, const char *name,
                                 const struct ns_config *cfg)
{
    if (sim->n_hosts == SIM_MAX_HOSTS)
        return NULL;
    struct ns_config c;
    if (cfg)
        c = *cfg;
    else
        ns_config_default(&c);
    c.seed = derive_seed(sim->seed, 1, sim->n_hosts);
    c.name = name;
    struct ns_stack *st = ns_stack_new(&c, sim->now_us);
    if (!st)
        return NULL;
    ns_stack_set_driver(st, sim_drive, sim);
    sim->hosts[sim->n_hosts++] = st;
    return st;
}

struct ns_simlink *ns_sim_add_link(struct ns_sim *sim, const char *name, unsigned nports,
                                   const struct ns_link_params *params)
{
    if (sim->n_links == SIM_MAX_LINKS)
        return NULL;
    struct ns_simlink *link =
        ns_simlink_new(name, nports, params, derive_seed(sim->seed, 2, sim->n_links));
    if (link)
        sim->links[sim->n_links++] = link;
    return link;
}

struct ns_simlink *ns_sim_connect(struct ns_sim *sim, struct ns_stack *a, struct ns_stack *b,
                                  const struct ns_link_params *params, int *ifindex_a,
                                  int *ifindex_b)
{
    char name[32];
    snprintf(name, sizeof(name), "%.14s-%.14s", ns_stack_name(a), ns_stack_name(b));
    struct ns_simlink *link = ns_sim_add_link(sim, name, 2, params);
    if (!link)
        return NULL;
    int ia = ns_if_add(a, ns_simlink_port(link, 0, NULL));
    int ib = ns_if_add(b, ns_simlink_port(link, 1, NULL));
    if (ia < 0 || ib < 0)
        return NULL;
    if (ifindex_a)
        *ifindex_a = ia;
    if (ifindex_b)
        *ifindex_b = ib;
    return link;
}

uint64_t ns_sim_next_deadline(const struct ns_sim *sim)
{
    uint64_t next = NS_TIME_NEVER;
    for (unsigned i = 0; i < sim->n_hosts; i++) {
        uint64_t d = ns_stack_next_deadline(sim->hosts[i]);
        if (d < next)
            next = d;
    }
    return next;
}

/* A step that stays at the same time this many times in a row means a
 * device reports work it cannot deliver (e.g. an exhausted pool): nudge
 * time forward rather than spin, and say so once per nudge. */
#define SIM_STUCK_LIMIT 100000

/* Say that the simulation is stuck at t_us, through the log hook of the
 * first host with work due then (the library never prints). */
static void sim_log_stuck(struct ns_sim *sim, uint64_t t_us)
{
    for (unsigned i = 0; i < sim->n_hosts; i++) {
        struct ns_stack *st = sim->hosts[i];
        if (ns_stack_next_deadline(st) <= t_us) {
            NS_LOG(st, NS_LOG_WARN, "sim: no progress at t=%llu us; advancing 1 us",
                   (unsigned long long)t_us);
            return;
        }
    }
}

bool ns_sim_step(struct ns_sim *sim, uint64_t limit_us)
{
    /* Each host's deadline, asked once: until a host is polled in this
     * step nothing can have moved another's, so the answers hold. */
    uint64_t due[SIM_MAX_HOSTS];
    uint64_t next = NS_TIME_NEVER;
    for (unsigned i = 0; i < sim->n_hosts; i++) {
        due[i] = ns_stack_next_deadline(sim->hosts[i]);
        if (due[i] < next)
            next = due[i];
    }
    if (next == NS_TIME_NEVER || next > limit_us)
        return false;
    if (next <= sim->now_us) {
        next = sim->now_us;
        if (++sim->stuck_steps == SIM_STUCK_LIMIT) {
            sim_log_stuck(sim, next);
            sim->stuck_steps = 0;
            if (next == limit_us)
                return false;
            next++;
        }
    } else {
        sim->stuck_steps = 0;
    }
    sim->now_us = next;
    bool polled = false;
    for (unsigned i = 0; i < sim->n_hosts; i++) {
        struct ns_stack *st = sim->hosts[i];
        /* A host polled before may have sent to this one: ask again. */
        if ((polled ? ns_stack_next_deadline(st) : due[i]) <= next) {
            ns_stack_poll(st, next);
            polled = true;
        } else {
            ns_stack_set_clock(st, next); /* nothing due: only the clock moves */
        }
    }
    return true;
}

void ns_sim_run_until(struct ns_sim *sim, uint64_t t_us)
{
    while (ns_sim_step(sim, t_us))
        ;
    if (t_us > sim->now_us)
        sim->now_us = t_us;
    /* Bring every host's clock to now, so calls made between runs (a send,
     * a connect) see the current time. */
    for (unsigned i = 0; i < sim->n_hosts; i++)
        ns_stack_poll(sim->hosts[i], sim->now_us);
}

void ns_sim_run_for(struct ns_sim *sim, uint64_t dt_us) { ns_sim_run_until(sim, sim->now_us + dt_us); }

bool ns_sim_run_while(struct ns_sim *sim, bool (*pred)(void *ctx), void *ctx, uint64_t limit_us)
{
    while (pred(ctx)) {
        if (!ns_sim_step(sim, limit_us)) {
            ns_sim_run_until(sim, limit_us);
            return !pred(ctx);
        }
    }
    return true;
}

/* ---- one wait over several hosts ---------------------------------------------------------- */

static bool sim_has_host(const struct ns_sim *sim, const struct ns_stack *st)
{
    for (unsigned i = 0; i < sim->n_hosts; i++)
        if (sim->hosts[i] == st)
            return true;
    return false;
}

/* One look at every entry (ns_poll without a timeout never drives the
 * simulation); returns how many have events. */
static int sim_poll_scan(struct ns_sim_pollfd *fds, size_t nfds)
{
    int ready = 0;
    for (size_t i = 0; i < nfds; i++) {
        struct pollfd p = {.fd = fds[i].fd, .events = fds[i].events};
        if (fds[i].fd >= 0)
            ns_poll(fds[i].st, &p, 1, 0);
        fds[i].revents = p.revents;
        ready += p.revents != 0;
    }
    return ready;
}

int ns_sim_poll(struct ns_sim *sim, struct ns_sim_pollfd *fds, size_t nfds, int timeout_ms)
{
    if (!sim || (nfds && !fds)) {
        errno = EFAULT;
        return -1;
    }
    for (size_t i = 0; i < nfds; i++)
        if (!sim_has_host(sim, fds[i].st)) {
            errno = EINVAL;
            return -1;
        }
    uint64_t deadline =
        timeout_ms < 0 ? NS_TIME_NEVER : sim->now_us + (uint64_t)timeout_ms * 1000u;
    for (;;) {
        int ready = sim_poll_scan(fds, nfds);
        if (ready || sim->now_us >= deadline)
            return ready;
        if (sim_drive(sim, deadline) == -EDEADLK) {
            errno = EDEADLK;
            return -1;
        }
    }
}
