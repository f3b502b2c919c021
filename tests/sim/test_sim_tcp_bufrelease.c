/* tests/sim/test_sim_tcp_bufrelease.c — an idle connection gives its
 * socket buffers' storage back (tcp_mem_reclaim), and data sent after
 * that still arrives intact.
 *
 * Topology: client alice 192.0.2.10 ─link─ server bob 192.0.2.20, 1 ms
 * each way, no loss, default configuration (no memory pressure anywhere).
 *
 * Checked through the stacks' memory accounting (ns_stack_usage: the
 * bytes of storage the receive and send rings hold), never through time:
 *   - an established connection that never carried data holds no ring
 *     storage;
 *   - after one byte each way (alice sends, bob reads and answers, alice
 *     reads) and the delayed ACKs, so that both sides have read
 *     everything and the peer acknowledged everything, both stacks hold
 *     0 bytes of ring storage again (before issue 14 the four 4 KiB rings
 *     stayed: 8192 bytes on each stack);
 *   - messages of 1, 3000 and 4096 bytes each way after that arrive byte
 *     for byte, and the storage is given back after each;
 *   - a 256 KiB transfer, whose receive ring grows past its first 4 KiB,
 *     arrives byte for byte, and the grown storage is kept once drained
 *     (data that flows in bulk does not pay an allocation per drain);
 *     a 1-byte exchange after it still arrives.
 *
 * Replay: NETSOCK_SEED=<seed> build-test/tests/test_sim_tcp_bufrelease
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "testutil.h"

#define PORT 7200
#define SEC 1000000ull
#define MS 1000ull
#define BULK (256u * 1024)

struct pair {
    struct ns_sim *sim;
    struct ns_stack *alice, *bob;
    int lfd, cfd, sfd;
};

static uint64_t now(const struct pair *p) { return ns_sim_now(p->sim); }

static void pair_up(struct pair *p, uint64_t seed)
{
    memset(p, 0, sizeof(*p));
    p->sim = ns_sim_new(seed);
    assert_non_null(p->sim);
    p->alice = ns_sim_add_host(p->sim, "alice", NULL);
    p->bob = ns_sim_add_host(p->sim, "bob", NULL);
    assert_non_null(p->alice);
    assert_non_null(p->bob);
    struct ns_link_params lp;
    ns_link_params_default(&lp);
    lp.delay_us = 1 * MS;
    int ai, bi;
    assert_non_null(ns_sim_connect(p->sim, p->alice, p->bob, &lp, &ai, &bi));
    struct in_addr a = {htonl(0xc000020au)}, b = {htonl(0xc0000214u)};
    assert_int_equal(ns_if_addr_add(p->alice, ai, AF_INET, &a, 24), 0);
    assert_int_equal(ns_if_addr_add(p->bob, bi, AF_INET, &b, 24), 0);
    ns_sim_run_for(p->sim, 100 * MS);

    p->lfd = ns_socket(p->bob, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(p->lfd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    assert_int_equal(ns_bind(p->bob, p->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(ns_listen(p->bob, p->lfd, 4), 0);
    p->cfd = ns_socket(p->alice, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(p->cfd >= 0);
    sin.sin_addr = b;
    int rc = ns_connect(p->alice, p->cfd, (struct sockaddr *)&sin, sizeof(sin));
    NS_ASSERT_SEED(rc == 0 || errno == EINPROGRESS);
    p->sfd = -1;
    uint64_t limit = now(p) + 5 * SEC;
    while (p->sfd < 0 && now(p) < limit) {
        if (!ns_sim_step(p->sim, limit))
            ns_sim_run_until(p->sim, limit);
        p->sfd = ns_accept4(p->bob, p->lfd, NULL, NULL, SOCK_NONBLOCK);
    }
    NS_ASSERT_SEED(p->sfd >= 0);
    ns_sim_run_for(p->sim, 200 * MS);
}

static void pair_down(struct pair *p)
{
    ns_close(p->alice, p->cfd);
    ns_close(p->bob, p->sfd);
    ns_close(p->bob, p->lfd);
    ns_sim_free(p->sim);
}

/* Bytes of ring storage stack st holds (receive + send rings). */
static uint64_t ring_bytes(const struct ns_stack *st)
{
    struct ns_stack_usage u;
    ns_stack_usage(st, &u);
    return u.tcp_rcv_bytes + u.tcp_snd_bytes;
}

static uint64_t rcv_bytes(const struct ns_stack *st)
{
    struct ns_stack_usage u;
    ns_stack_usage(st, &u);
    return u.tcp_rcv_bytes;
}

/* Byte j of message `tag`. */
static uint8_t msg_byte(unsigned tag, uint32_t j) { return (uint8_t)(tag * 29 + j * 7 + (j >> 8) + 3); }

/* Send len bytes of message `tag` from (sst, sfd) and read them at
 * (rst, rfd), stepping the simulation; assert every byte arrives once and
 * in order, within 30 s of virtual time. */
static void transfer(struct pair *p, struct ns_stack *sst, int sfd, struct ns_stack *rst, int rfd,
                     unsigned tag, uint32_t len)
{
    static uint8_t out[BULK], in[BULK];
    assert_true(len <= BULK);
    for (uint32_t j = 0; j < len; j++)
        out[j] = msg_byte(tag, j);
    uint32_t sent = 0, got = 0;
    uint64_t limit = now(p) + 30 * SEC;
    while (got < len && now(p) < limit) {
        if (sent < len) {
            ssize_t n = ns_send(sst, sfd, out + sent, len - sent, 0);
            NS_ASSERT_SEED(n > 0 || errno == EAGAIN);
            if (n > 0)
                sent += (uint32_t)n;
        }
        ssize_t n = ns_recv(rst, rfd, in + got, len - got, 0);
        NS_ASSERT_SEED(n != 0);
        NS_ASSERT_SEED(n > 0 || errno == EAGAIN);
        if (n > 0) {
            got += (uint32_t)n;
            continue;
        }
        if (!ns_sim_step(p->sim, limit))
            ns_sim_run_until(p->sim, limit);
    }
    NS_ASSERT_SEED(got == len);
    NS_ASSERT_SEED(memcmp(in, out, len) == 0);
    /* Nothing more is readable. */
    char extra;
    NS_ASSERT_SEED(ns_recv(rst, rfd, &extra, 1, 0) < 0 && errno == EAGAIN);
}

/* One message each way (alice to bob, then bob's answer), then idle for
 * 200 ms so that the delayed ACKs go out. */
static void exchange(struct pair *p, unsigned tag, uint32_t len)
{
    transfer(p, p->alice, p->cfd, p->bob, p->sfd, tag, len);
    transfer(p, p->bob, p->sfd, p->alice, p->cfd, tag + 1, len);
    ns_sim_run_for(p->sim, 200 * MS);
}

static void test_idle_after_data_holds_no_ring_storage(void **state)
{
    (void)state;
    struct pair p;
    pair_up(&p, ns_test_seed(14));
    NS_ASSERT_SEED(ring_bytes(p.alice) == 0);
    NS_ASSERT_SEED(ring_bytes(p.bob) == 0);

    exchange(&p, 1, 1);
    if (ring_bytes(p.alice) || ring_bytes(p.bob))
        fprintf(stderr, "ring storage after 1 B each way: alice %llu, bob %llu bytes\n",
                (unsigned long long)ring_bytes(p.alice), (unsigned long long)ring_bytes(p.bob));
    NS_ASSERT_SEED(ring_bytes(p.alice) == 0);
    NS_ASSERT_SEED(ring_bytes(p.bob) == 0);

    /* The storage comes back when data does; given back again after. */
    const uint32_t sizes[] = {1, 3000, 4096, 1};
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        exchange(&p, 10 + 2 * i, sizes[i]);
        NS_ASSERT_SEED(ring_bytes(p.alice) == 0);
        NS_ASSERT_SEED(ring_bytes(p.bob) == 0);
    }
    pair_down(&p);
}

static void test_grown_storage_kept_while_data_flows(void **state)
{
    (void)state;
    struct pair p;
    pair_up(&p, ns_test_seed(15));
    exchange(&p, 1, 1);
    transfer(&p, p.alice, p.cfd, p.bob, p.sfd, 3, BULK);
    ns_sim_run_for(p.sim, 200 * MS);
    /* Bob's receive ring grew past its first 4 KiB to take the window:
     * drained, it keeps what it grew to. */
    NS_ASSERT_SEED(rcv_bytes(p.bob) > 4096);
    exchange(&p, 5, 1);
    pair_down(&p);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_after_data_holds_no_ring_storage),
        cmocka_unit_test(test_grown_storage_kept_while_data_flows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
