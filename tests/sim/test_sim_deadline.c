/* tests/sim/test_sim_deadline.c — a stack keeps its devices' next deadline
 * between calls (link/iface.c, netsock/dev.h "deadline events"); every
 * event that moves it must reach the stack, or the stack is polled late.
 *
 * On virtual time "late" is exact: a datagram sent over a link with a
 * 1000 us delay is due at the receiver at T + 1000 exactly. Right after
 * the send, before anything polls the receiver, the receiver's
 * ns_stack_next_deadline must already say T + 1000 (it said something
 * later a moment before: the cached answer), and the datagram must be
 * readable at T + 1000 and not at T + 999. Checked for a bare port, a port
 * behind the pcap and fault wrappers (the event comes up through them),
 * and for the queue device, whose frames the program injects.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "testutil.h"

#define DELAY_US 1000
#define PORT 4000

enum wrap { WRAP_NONE, WRAP_PCAP, WRAP_FAULT };

struct world {
    struct ns_sim *sim;
    struct ns_stack *a, *b;
    int ua, ub; /* UDP sockets: a sends, b (bound to PORT) receives */
    struct sockaddr_in to;
    char pcap_path[64];
};

static void world_init(struct world *w, enum wrap wrap)
{
    memset(w, 0, sizeof(*w));
    w->sim = ns_sim_new(ns_test_seed(1));
    w->a = ns_sim_add_host(w->sim, "a", NULL);
    w->b = ns_sim_add_host(w->sim, "b", NULL);
    struct ns_link_params lp;
    ns_link_params_default(&lp);
    lp.delay_us = DELAY_US;
    struct ns_simlink *link = ns_sim_add_link(w->sim, "ab", 2, &lp);
    assert_non_null(link);
    struct ns_dev *pa = ns_simlink_port(link, 0, NULL), *pb = ns_simlink_port(link, 1, NULL);
    if (wrap == WRAP_PCAP) {
        int err;
        snprintf(w->pcap_path, sizeof(w->pcap_path), "/tmp/test_sim_deadline-%d.pcap",
                 (int)getpid());
        pb = ns_pcap_wrap(pb, w->pcap_path, &err);
    } else if (wrap == WRAP_FAULT) {
        pb = ns_fault_wrap(pb, NULL, NULL, 7); /* no faults: only the wrapping */
    }
    assert_non_null(pb);
    int ia = ns_if_add(w->a, pa), ib = ns_if_add(w->b, pb);
    assert_true(ia > 0 && ib > 0);
    struct in_addr aa, ba;
    inet_pton(AF_INET, "192.0.2.1", &aa);
    inet_pton(AF_INET, "192.0.2.2", &ba);
    assert_int_equal(ns_if_addr_add(w->a, ia, AF_INET, &aa, 24), 0);
    assert_int_equal(ns_if_addr_add(w->b, ib, AF_INET, &ba, 24), 0);

    w->ub = ns_socket(w->b, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    w->ua = ns_socket(w->a, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(w->ua >= 0 && w->ub >= 0);
    w->to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(PORT), .sin_addr = ba};
    assert_int_equal(ns_bind(w->b, w->ub, (struct sockaddr *)&w->to, sizeof(w->to)), 0);

    /* One datagram first, so ARP is resolved and the next send goes out
     * at once; then let everything settle. */
    assert_int_equal(ns_sendto(w->a, w->ua, "x", 1, 0, (struct sockaddr *)&w->to, sizeof(w->to)), 1);
    ns_sim_run_for(w->sim, 10 * DELAY_US);
    char c;
    assert_int_equal(ns_recv(w->b, w->ub, &c, 1, 0), 1);
}

static void world_free(struct world *w)
{
    ns_sim_free(w->sim);
    if (w->pcap_path[0])
        unlink(w->pcap_path);
}

/* The check of the file header, on world w. */
static void check_no_late_delivery(struct world *w)
{
    uint64_t t = ns_sim_now(w->sim);
    /* Asked (and kept) before the send: nothing due at b for a while. */
    uint64_t before = ns_stack_next_deadline(w->b);
    assert_true(before > t + DELAY_US);
    assert_true(ns_stack_next_deadline(w->b) == before);

    assert_int_equal(ns_sendto(w->a, w->ua, "y", 1, 0, (struct sockaddr *)&w->to, sizeof(w->to)), 1);
    /* a's send put the frame on b's port: b's answer moved, unpolled. */
    assert_int_equal(ns_stack_next_deadline(w->b), t + DELAY_US);
    assert_true(ns_sim_next_deadline(w->sim) <= t + DELAY_US);

    char c;
    ns_sim_run_until(w->sim, t + DELAY_US - 1);
    assert_int_equal(ns_recv(w->b, w->ub, &c, 1, 0), -1);
    assert_int_equal(errno, EAGAIN);
    ns_sim_run_until(w->sim, t + DELAY_US);
    assert_int_equal(ns_recv(w->b, w->ub, &c, 1, 0), 1);
    assert_int_equal(c, 'y');
    /* Taken: b's devices have nothing due any more. */
    assert_true(ns_stack_next_deadline(w->b) > t + DELAY_US);
}

static void test_port(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, WRAP_NONE);
    check_no_late_delivery(&w);
    world_free(&w);
}

static void test_port_behind_pcap(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, WRAP_PCAP);
    check_no_late_delivery(&w);
    world_free(&w);
}

static void test_port_behind_fault(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, WRAP_FAULT);
    check_no_late_delivery(&w);
    world_free(&w);
}

/* A frame the program injects into a queue device is due at once, also
 * when the stack's answer was asked (and kept) just before. */
static void test_qdev_inject(void **state)
{
    (void)state;
    struct ns_stack *st = ns_stack_new(NULL, 5000);
    assert_non_null(st);
    struct ns_dev *q = ns_qdev_new("q0", NS_LINK_ETHER, NULL, 1500);
    assert_true(ns_if_add(st, q) > 0);
    uint64_t before = ns_stack_next_deadline(st);
    assert_true(before > 5000);
    static const uint8_t frame[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 9,
                                      0x08, 0x06};
    assert_int_equal(ns_qdev_inject(q, frame, sizeof(frame)), 0);
    assert_true(ns_stack_next_deadline(st) <= 5000);
    ns_stack_poll(st, 5000);
    assert_int_equal(ns_stack_next_deadline(st), before);
    ns_stack_free(st);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port),
        cmocka_unit_test(test_port_behind_pcap),
        cmocka_unit_test(test_port_behind_fault),
        cmocka_unit_test(test_qdev_inject),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
