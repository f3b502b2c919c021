/* netsock/sim.h — the simulator: many stacks on simulated links in one
 * process, on virtual time, with seeded faults.
 *
 * Determinism: everything random (link impairments, each host's stack seed,
 * generated MAC addresses) derives from the seed given to ns_sim_new(), and
 * events at the same virtual time are processed in a fixed order (hosts in
 * creation order). Same seed and same program => same frames, byte for byte.
 *
 * A simulated link is a segment with two or more ports. A frame sent from
 * one port is delivered to every other port (a hub; each stack filters by
 * MAC address). Each port has its own transmit parameters (struct
 * ns_link_params): serialization at rate_bps through a queue of
 * queue_bytes, then delay, loss, duplication, reordering and corruption.
 * The queue belongs to the sending host: a frame that does not fit is
 * refused (the device's xmit returns -EAGAIN) and the stack keeps TCP data
 * until the queue has room, as Linux does with a full NIC queue; UDP,
 * ICMP and forwarded packets are dropped (counted in dev_tx_full_drop and
 * in ns_simlink_stats' queue_full). So congestion at a router's egress
 * port still loses packets, and a host's own link does not.
 */
#ifndef NETSOCK_SIM_H
#define NETSOCK_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "netsock/netsock.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ns_sim;
struct ns_simlink;

/* Create an empty simulation at virtual time 0. NULL on allocation failure. */
struct ns_sim *ns_sim_new(uint64_t seed);

/* Free the simulation with every host (stack) and link it made. */
void ns_sim_free(struct ns_sim *sim);

uint64_t ns_sim_now(const struct ns_sim *sim);
uint64_t ns_sim_seed(const struct ns_sim *sim);

/* Create a host: a stack owned by the simulation. cfg may be NULL for
 * defaults; cfg->seed is replaced by one derived from the simulation seed and
 * the host's number, cfg->name by `name`. Returns NULL on failure. */
struct ns_stack *ns_sim_add_host(struct ns_sim *sim, const char *name,
                                 const struct ns_config *cfg);

/* Create a link with nports (2..16) ports, every port transmitting with
 * `params` (NULL: ns_link_params_default). Returns NULL on failure. */
struct ns_simlink *ns_sim_add_link(struct ns_sim *sim, const char *name, unsigned nports,
                                   const struct ns_link_params *params);

/* Change the transmit parameters of one port (frames sent from it). */
void ns_simlink_set_params(struct ns_simlink *link, unsigned port,
                           const struct ns_link_params *params);

/* The device for one port, to give to ns_if_add(). Each port's device can
 * be taken once; later calls return NULL. mac NULL: a locally administered
 * address derived from the seed, link and port. Closing the device (when
 * its stack is freed) detaches the port; frames to a detached port vanish. */
struct ns_dev *ns_simlink_port(struct ns_simlink *link, unsigned port, const uint8_t mac[6]);

/* Impairment statistics of frames sent from `port`. */
void ns_simlink_stats(const struct ns_simlink *link, unsigned port,
                      struct ns_impair_stats *out);

/* Convenience: create a two-port link between two hosts, attach port 0 to
 * a and port 1 to b, and return the interface indexes (either pointer may
 * be NULL). Returns NULL on failure. */
struct ns_simlink *ns_sim_connect(struct ns_sim *sim, struct ns_stack *a, struct ns_stack *b,
                                  const struct ns_link_params *params, int *ifindex_a,
                                  int *ifindex_b);

/* The earliest deadline over all hosts, or NS_TIME_NEVER. */
uint64_t ns_sim_next_deadline(const struct ns_sim *sim);

/* Advance virtual time to the next deadline (if it is <= limit_us) and
 * poll every host due then. Returns false when nothing is due by
 * limit_us (time then stays where it was). */
bool ns_sim_step(struct ns_sim *sim, uint64_t limit_us);

/* Run every event up to and including t_us, then set the time to t_us. */
void ns_sim_run_until(struct ns_sim *sim, uint64_t t_us);

/* ns_sim_run_until(now + dt_us). */
void ns_sim_run_for(struct ns_sim *sim, uint64_t dt_us);

/* Run while pred(ctx) is true, but not past limit_us. Returns true when
 * pred became false, false when the time limit was reached first. */
bool ns_sim_run_while(struct ns_sim *sim, bool (*pred)(void *ctx), void *ctx,
                      uint64_t limit_us);

/* ---- one wait over several hosts ------------------------------------------------
 *
 * A program in the simulator often plays several hosts at once (a client
 * on one, its server on another); ns_poll and ns_epoll_wait each wait on
 * one stack's descriptors. ns_sim_poll waits on descriptors of any hosts
 * of `sim` together, like poll(2): an epoll set is a descriptor too, so a
 * program with one set per host waits on all of them in one call. */
struct ns_sim_pollfd {
    struct ns_stack *st; /* the host the descriptor belongs to */
    int fd;              /* a netsock descriptor of st; negative: ignored (revents 0) */
    short events;        /* as struct pollfd */
    short revents;
};

/* Fill each entry's revents as ns_poll would (POLLNVAL for a descriptor
 * its host does not have; POLLERR and POLLHUP always) and return how many
 * entries have any; while none has, run the simulation (every host) event
 * by event until one has or timeout_ms (virtual milliseconds; negative:
 * none) has passed, then return 0. Costs O(nfds) per simulation event.
 * Returns -1 with errno EFAULT (fds NULL with nfds > 0), EINVAL (an
 * entry's host is not one of sim's) or EDEADLK (no timeout and nothing
 * pending on any host: the wait could never end). */
int ns_sim_poll(struct ns_sim *sim, struct ns_sim_pollfd *fds, size_t nfds, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
