/* sim/simlink.h — simulated link internals used by sim/sim.c. The public
 * part (ns_simlink_port, ns_simlink_set_params, ns_simlink_stats) is in
 * include/netsock/sim.h.
 *
 * Ownership: the simulation creates a link with ns_simlink_new() and frees
 * it with ns_simlink_free(); each port device handed out by
 * ns_simlink_port() belongs to the stack it is given to, which closes it.
 * The two may happen in either order: the link's memory lives until both
 * the simulation has freed it and every handed-out port device is closed.
 * A port device whose link was freed behaves as unplugged (xmit
 * -ENETDOWN, nothing received).
 */
#ifndef NS_SIM_SIMLINK_H
#define NS_SIM_SIMLINK_H

#include <stdint.h>

#include "netsock/dev.h"
#include "netsock/sim.h"

#define NS_SIMLINK_MAX_PORTS 16u

/* Create a link with nports (2..NS_SIMLINK_MAX_PORTS) ports, each
 * transmitting with `params` (NULL: ns_link_params_default()). All
 * randomness (impairments, generated MACs) derives from `seed`. NULL on
 * bad arguments or allocation failure. */
struct ns_simlink *ns_simlink_new(const char *name, unsigned nports,
                                  const struct ns_link_params *params, uint64_t seed);

/* Release the link (NULL ignored). Frames in flight are discarded. Port
 * devices still open keep working as unplugged devices until closed. */
void ns_simlink_free(struct ns_simlink *link);

/* Earliest time a frame becomes due at any attached port, or
 * NS_TIME_NEVER. */
uint64_t ns_simlink_next_deadline(const struct ns_simlink *link);

#endif
