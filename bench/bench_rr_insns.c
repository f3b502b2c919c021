/* bench/bench_rr_insns.c — a fixed number of 1-byte TCP request/response
 * round trips between two netsock stacks, on virtual time only: the
 * program to count instructions with (callgrind), never to time.
 *
 * bench_rr measures round trips per second against the wall clock, so the
 * work it does depends on the machine's speed; this one does the same
 * exchange ROUNDS times and nothing else, so under
 *
 *     valgrind --tool=callgrind build/bench_rr_insns ROUNDS
 *
 * the instruction count is a deterministic function of the code. The cost
 * of one round trip is the difference between two runs divided by the
 * difference of their ROUNDS (which cancels set-up and tear-down):
 *
 *     (Ir(11000) - Ir(1000)) / 10000
 *
 * The world: client and server hosts on a lossless, zero-delay simulated
 * link (the default link parameters), one connection with TCP_NODELAY on
 * both ends, non-blocking sockets, one simulator step whenever neither end
 * can move (as bench_tcp's loop). The client sends 1 byte, the server reads
 * it and answers 1 byte, the client reads the answer: one round trip.
 *
 * Usage: bench_rr_insns [ROUNDS]   (default 10000)
 * Prints "rounds N" and exits 0, or a message and 1 when the exchange
 * stalled. Not run by bench/run.sh (it prints no ROW).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"

/* Run the simulation until fd on st has a byte to read, then read it.
 * Returns 1, or 0 when nothing more can happen (a stall). */
static int rr_recv1(struct ns_sim *sim, struct ns_stack *st, int fd)
{
    char b;
    for (;;) {
        if (ns_recv(st, fd, &b, 1, 0) == 1)
            return 1;
        if (!ns_sim_step(sim, NS_TIME_NEVER))
            return 0;
    }
}

int main(int argc, char **argv)
{
    unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 0) : 10000;
    struct ns_sim *sim = ns_sim_new(1);
    struct ns_stack *cl = ns_sim_add_host(sim, "client", NULL);
    struct ns_stack *sv = ns_sim_add_host(sim, "server", NULL);
    int ic, is;
    ns_sim_connect(sim, cl, sv, NULL, &ic, &is);
    struct in_addr ca, sa;
    inet_pton(AF_INET, "192.0.2.1", &ca);
    inet_pton(AF_INET, "192.0.2.2", &sa);
    ns_if_addr_add(cl, ic, AF_INET, &ca, 24);
    ns_if_addr_add(sv, is, AF_INET, &sa, 24);

    int one = 1;
    int l = ns_socket(sv, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(5002), .sin_addr = sa};
    ns_bind(sv, l, (struct sockaddr *)&sin, sizeof(sin));
    ns_listen(sv, l, 1);
    int c = ns_socket(cl, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ns_setsockopt(cl, c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ns_connect(cl, c, (struct sockaddr *)&sin, sizeof(sin));
    int s = ns_accept(sv, l, NULL, NULL); /* blocking: drives the simulator */
    if (s < 0) {
        fprintf(stderr, "bench_rr_insns: the connection was not accepted\n");
        return 1;
    }
    ns_fcntl(sv, s, F_SETFL, O_NONBLOCK);
    ns_setsockopt(sv, s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    unsigned long done = 0;
    for (; done < rounds; done++) {
        if (ns_send(cl, c, "q", 1, 0) != 1 || !rr_recv1(sim, sv, s) ||
            ns_send(sv, s, "a", 1, 0) != 1 || !rr_recv1(sim, cl, c))
            break;
    }
    ns_sim_free(sim);
    if (done != rounds) {
        fprintf(stderr, "bench_rr_insns: stalled after %lu of %lu round trips\n", done, rounds);
        return 1;
    }
    printf("rounds %lu\n", done);
    return 0;
}
