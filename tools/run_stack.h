/* tools/run_stack.h — the stack side of `netsock run`: serves the sockets
 * of programs that run with the interposition library (preload/), over a
 * netsock stack on a real-time loop. preload/run_proto.h is the protocol,
 * docs/run.md the design.
 *
 * One thread: the loop's thread. The server watches its own epoll set
 * (the control socket, every control connection, every socket pair)
 * through one ns_loop_add_fd registration, and after each loop iteration
 * run_stack_pump() moves data between the pairs and the stack's sockets.
 */
#ifndef NS_TOOLS_RUN_STACK_H
#define NS_TOOLS_RUN_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsock/netsock.h"
#include "netsock/os.h"

struct run_stack;

/* What the server did (netsock run prints it at exit with -v). */
struct run_stack_stats {
    uint64_t sockets;       /* sockets created (socket(2) and accepted) */
    uint64_t requests;      /* control requests served */
    uint64_t bytes_to_net;  /* bytes the programs wrote, handed to TCP */
    uint64_t bytes_to_prog; /* bytes TCP received, written to the programs */
    uint64_t dgrams_to_net, dgrams_to_prog;
    uint64_t chan_refused;  /* control connections refused: RUN_CHAN_MAX open */
    uint64_t bad_requests;  /* malformed requests (the connection is closed) */
};

/* Start serving on `loop` for stack `st`: bind the control socket
 * "\0netsock-run-<pid>" and watch it. Returns NULL with *err a negative
 * errno. */
struct run_stack *run_stack_new(struct ns_stack *st, struct ns_loop *loop, int *err);

/* The control socket's abstract name without its leading NUL (the value
 * of NETSOCK_RUN_CTL for the programs). */
const char *run_stack_ctl_name(const struct run_stack *rs);

/* Move data between the programs' pairs and the stack's sockets, finish
 * connects and accepts, as far as the buffers on both sides allow. Call
 * after every loop iteration. Returns true when work was left for lack
 * of time (the caller must not sleep before calling again). */
bool run_stack_pump(struct run_stack *rs);

/* The earliest time the server must run again by itself (a blocking
 * connect's SO_SNDTIMEO), NS_TIME_NEVER when none. */
uint64_t run_stack_deadline(const struct run_stack *rs);

/* Sockets that some process still holds (its pair is open), plus those
 * whose last data is still waiting to enter the stack. 0: nothing of the
 * programs is left but what TCP sends on its own. */
size_t run_stack_busy(const struct run_stack *rs);

void run_stack_get_stats(const struct run_stack *rs, struct run_stack_stats *out);

/* Close every pair and control connection and every socket of the stack
 * that is still open (connections get a FIN, or a RST with unread data,
 * as on close). */
void run_stack_free(struct run_stack *rs);

#endif
