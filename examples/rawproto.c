/* examples/rawproto.c — a transport protocol of your own over raw sockets.
 *
 * Two simulated hosts, alice 192.0.2.1 and bob 192.0.2.2, on a link that
 * loses 25% of the frames in each direction (5 ms one way). Alice sends
 * bob a few messages with "rp", the stop-and-wait protocol in
 * rawproto_lib.c, carried in IPv4 as protocol 253 (RFC 3692,
 * experimental) through netsock raw sockets. Both sides print what they
 * do, on the simulator's virtual time; every message arrives once and in
 * order however many frames are lost.
 *
 * Build: add `add_subdirectory(examples)` to the top-level CMakeLists.txt,
 * then `cmake --build build && build/examples/rawproto [seed]`.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "rawproto_lib.h"

static void print_line(void *ctx, uint64_t now_us, const char *line)
{
    (void)ctx;
    printf("%8.3f ms  %s\n", (double)now_us / 1000.0, line);
}

static void on_message(void *ctx, uint32_t seq, const uint8_t *msg, size_t len)
{
    unsigned *count = ctx;
    (*count)++;
    printf("            bob    got message %" PRIu32 ": \"%.*s\"\n", seq, (int)len,
           (const char *)msg);
}

static struct ns_stack *host(struct ns_sim *sim, const char *name)
{
    struct ns_stack *st = ns_sim_add_host(sim, name, NULL);
    if (!st) {
        fprintf(stderr, "cannot create host %s\n", name);
        exit(1);
    }
    return st;
}

int main(int argc, char **argv)
{
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 42;
    static const char *messages[] = {
        "hello, bob",
        "this is rp: IP protocol 253, stop-and-wait",
        "every message waits for its ACK",
        "lost DATA is sent again after 30 ms, then 60, 120, ...",
        "a lost ACK makes bob see DATA twice; he ACKs it again but delivers it once",
        "bye",
    };
    const unsigned nmsg = sizeof(messages) / sizeof(messages[0]);

    struct ns_sim *sim = ns_sim_new(seed);
    struct ns_stack *alice = host(sim, "alice"), *bob = host(sim, "bob");
    struct ns_link_params lossy;
    ns_link_params_default(&lossy);
    lossy.delay_us = 5000;
    lossy.loss = 0.25;
    int ia, ib;
    if (!ns_sim_connect(sim, alice, bob, &lossy, &ia, &ib)) {
        fprintf(stderr, "cannot create the link\n");
        return 1;
    }
    struct in_addr a_ip, b_ip;
    inet_pton(AF_INET, "192.0.2.1", &a_ip);
    inet_pton(AF_INET, "192.0.2.2", &b_ip);
    ns_if_addr_add(alice, ia, AF_INET, &a_ip, 24);
    ns_if_addr_add(bob, ib, AF_INET, &b_ip, 24);

    unsigned got = 0;
    struct rp_conn a, b;
    if (rp_open(&a, alice, "alice", b_ip, 30000, NULL, NULL) < 0 ||
        rp_open(&b, bob, "bob", a_ip, 30000, on_message, &got) < 0) {
        perror("rp_open");
        return 1;
    }
    rp_set_log(&a, print_line, NULL);
    rp_set_log(&b, print_line, NULL);
    printf("seed %" PRIu64 ": alice -> bob, %u messages, 25%% loss each way\n\n", seed, nmsg);

    /* The event loop: run the network to the next event (a frame arriving
     * or a timer of either stack, or an rp retransmission timeout), then
     * let both endpoints look at their sockets and clocks. */
    unsigned next = 0;
    const uint64_t limit_us = 60 * 1000000ull;
    while (got < nmsg && !a.error && ns_sim_now(sim) < limit_us) {
        uint64_t now = ns_sim_now(sim);
        if (!rp_busy(&a) && next < nmsg) {
            rp_send(&a, messages[next], strlen(messages[next]), now);
            next++;
        }
        uint64_t t = ns_sim_next_deadline(sim);
        if (rp_next_deadline(&a) < t)
            t = rp_next_deadline(&a);
        if (rp_next_deadline(&b) < t)
            t = rp_next_deadline(&b);
        if (t == NS_TIME_NEVER)
            break;
        ns_sim_run_until(sim, t > now ? t : now);
        rp_service(&a, ns_sim_now(sim));
        rp_service(&b, ns_sim_now(sim));
    }
    /* Let alice hear the last ACK. */
    while (rp_busy(&a) && !a.error && ns_sim_now(sim) < limit_us) {
        uint64_t t = ns_sim_next_deadline(sim);
        if (rp_next_deadline(&a) < t)
            t = rp_next_deadline(&a);
        ns_sim_run_until(sim, t);
        rp_service(&a, ns_sim_now(sim));
        rp_service(&b, ns_sim_now(sim));
    }

    printf("\n%u of %u messages delivered in %.1f ms of virtual time\n", got, nmsg,
           (double)ns_sim_now(sim) / 1000.0);
    printf("alice: %" PRIu64 " DATA sent (%" PRIu64 " retransmissions), %" PRIu64 " acked\n",
           a.stats.data_sent, a.stats.retransmits, a.stats.acked);
    printf("bob:   %" PRIu64 " delivered, %" PRIu64 " duplicates re-ACKed, %" PRIu64
           " ACKs sent\n",
           b.stats.delivered, b.stats.dup_data, b.stats.acks_sent);
    rp_close(&a);
    rp_close(&b);
    ns_sim_free(sim);
    return got == nmsg ? 0 : 1;
}
