/* tests/unit/test_simlink.c — the simulated link driven directly through
 * its port devices' ops: exact delivery times, hub fan-out, MTU drops,
 * detached ports, freeing in either order, pool baselines, determinism. */
#include <errno.h>
#include <string.h>

#include "testutil.h"

#include "netsock/dev.h"
#include "sim/simlink.h"

static struct ns_pbuf_pool *g_pool;
static struct ns_pbuf_pool_stats g_base;

static int setup(void **state)
{
    (void)state;
    g_pool = ns_pbuf_pool_new(64, 1 << 20);
    ns_pbuf_pool_stats(g_pool, &g_base);
    return g_pool ? 0 : -1;
}

/* Every test must give back every buffer. */
static int teardown(void **state)
{
    (void)state;
    struct ns_pbuf_pool_stats ps;
    ns_pbuf_pool_stats(g_pool, &ps);
    assert_int_equal(ps.pool_free, g_base.pool_free);
    assert_int_equal(ps.heap_bytes, 0);
    ns_pbuf_pool_free(g_pool);
    return 0;
}

/* An Ethernet frame of len bytes whose payload bytes carry `tag`. */
static struct ns_pbuf *frame(uint32_t len, uint8_t tag)
{
    struct ns_pbuf *pb = ns_pbuf_alloc(g_pool, NS_PBUF_HEADROOM, len);
    assert_non_null(pb);
    uint8_t *d = ns_pbuf_data(pb);
    memset(d, 0xff, 6);                                       /* broadcast dst */
    memcpy(d + 6, (const uint8_t[]){2, 0, 0, 0, 0, tag}, 6); /* src */
    d[12] = 0x08;
    d[13] = 0x00;
    for (uint32_t i = 14; i < len; i++)
        d[i] = (uint8_t)(tag + i);
    return pb;
}

static int link_send(struct ns_dev *dev, uint32_t len, uint8_t tag, uint64_t now)
{
    return dev->ops->xmit(dev, frame(len, tag), now);
}

static struct ns_pbuf *link_recv(struct ns_dev *dev, uint64_t now)
{
    return dev->ops->recv(dev, g_pool, now);
}

/* Receive at `now` and check it is the frame (len, tag); frees it. */
static void expect_frame(struct ns_dev *dev, uint64_t now, uint32_t len, uint8_t tag)
{
    struct ns_pbuf *pb = link_recv(dev, now);
    assert_non_null(pb);
    assert_int_equal(pb->len, len);
    struct ns_pbuf *want = frame(len, tag);
    assert_memory_equal(ns_pbuf_data(pb), ns_pbuf_data(want), len);
    ns_pbuf_free(want);
    ns_pbuf_free(pb);
}

static void test_two_ports_timing(void **state)
{
    (void)state;
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 1000;
    p.rate_bps = 1000000; /* 8 us per byte */
    struct ns_simlink *link = ns_simlink_new("l", 2, &p, 1);
    assert_non_null(link);
    struct ns_dev *a = ns_simlink_port(link, 0, NULL);
    struct ns_dev *b = ns_simlink_port(link, 1, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(ns_simlink_port(link, 0, NULL)); /* taken once */
    assert_null(ns_simlink_port(link, 2, NULL)); /* no such port */
    assert_int_equal(a->link, NS_LINK_ETHER);
    assert_int_equal(a->mtu, 1500);
    assert_int_equal(b->ops->next_deadline(b), NS_TIME_NEVER);
    assert_int_equal(ns_simlink_next_deadline(link), NS_TIME_NEVER);

    /* 1000 bytes at t=0: 8000 us on the wire + 1000 us delay. A second
     * frame right behind it waits for the first to be serialized. */
    assert_int_equal(link_send(a, 1000, 1, 0), 0);
    assert_int_equal(link_send(a, 500, 2, 10), 0);
    assert_int_equal(b->ops->next_deadline(b), 9000);
    assert_int_equal(ns_simlink_next_deadline(link), 9000);
    assert_int_equal(a->ops->next_deadline(a), NS_TIME_NEVER); /* no echo */
    assert_null(link_recv(b, 8999));
    expect_frame(b, 9000, 1000, 1);
    assert_int_equal(b->ops->next_deadline(b), 8000 + 4000 + 1000);
    assert_null(link_recv(b, 12999));
    expect_frame(b, 13000, 500, 2);
    assert_null(link_recv(b, 100000));
    assert_null(link_recv(a, 100000));

    /* The other direction has its own serializer: idle, so immediate. */
    assert_int_equal(link_send(b, 125, 3, 20000), 0);
    assert_null(link_recv(a, 21999));
    expect_frame(a, 22000, 125, 3);

    assert_int_equal(a->stats.tx_frames, 2);
    assert_int_equal(a->stats.tx_bytes, 1500);
    assert_int_equal(b->stats.rx_frames, 2);
    assert_int_equal(b->stats.rx_bytes, 1500);
    struct ns_impair_stats st;
    ns_simlink_stats(link, 0, &st);
    assert_int_equal(st.frames, 2);
    assert_int_equal(st.delivered, 2);

    ns_dev_close(a);
    ns_dev_close(b);
    ns_simlink_free(link);
}

static void test_hub_three_ports(void **state)
{
    (void)state;
    struct ns_simlink *link = ns_simlink_new("hub", 3, NULL, 5);
    struct ns_dev *d[3];
    for (unsigned i = 0; i < 3; i++)
        assert_non_null(d[i] = ns_simlink_port(link, i, NULL));
    /* Default params: zero delay, unlimited rate: due at once. */
    assert_int_equal(link_send(d[1], 60, 7, 50), 0);
    assert_int_equal(ns_simlink_next_deadline(link), 50);
    assert_null(link_recv(d[0], 49));
    expect_frame(d[0], 50, 60, 7);
    expect_frame(d[2], 50, 60, 7);
    assert_null(link_recv(d[1], 50));
    for (unsigned i = 0; i < 3; i++)
        assert_null(link_recv(d[i], 1000));

    /* Frames from different ports interleave in arrival order at a third. */
    struct ns_link_params slow;
    ns_link_params_default(&slow);
    slow.delay_us = 300;
    ns_simlink_set_params(link, 0, &slow);
    assert_int_equal(link_send(d[0], 60, 1, 100), 0); /* at 2 at t=400 */
    assert_int_equal(link_send(d[1], 60, 2, 200), 0); /* at 2 at t=200 */
    expect_frame(d[2], 400, 60, 2);
    expect_frame(d[2], 400, 60, 1);
    expect_frame(d[1], 400, 60, 1);
    expect_frame(d[0], 400, 60, 2);

    for (unsigned i = 0; i < 3; i++)
        ns_dev_close(d[i]);
    ns_simlink_free(link);
}

static void test_mtu_drop(void **state)
{
    (void)state;
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.mtu = 1000;
    struct ns_simlink *link = ns_simlink_new("m", 2, &p, 1);
    struct ns_dev *a = ns_simlink_port(link, 0, NULL);
    struct ns_dev *b = ns_simlink_port(link, 1, NULL);
    assert_int_equal(a->mtu, 1000);
    assert_int_equal(link_send(a, 1015, 1, 0), -EMSGSIZE);
    assert_int_equal(link_send(a, 1014, 2, 0), 0);
    expect_frame(b, 0, 1014, 2);
    assert_null(link_recv(b, 10));
    struct ns_impair_stats st;
    ns_simlink_stats(link, 0, &st);
    assert_int_equal(st.mtu_drop, 1);
    assert_int_equal(st.frames, 2);
    assert_int_equal(a->stats.tx_drop, 1);
    assert_int_equal(a->stats.tx_frames, 1);

    /* Changing the params changes the advertised MTU. */
    ns_simlink_set_params(link, 0, NULL);
    assert_int_equal(a->mtu, 1500);
    assert_int_equal(link_send(a, 1514, 3, 0), 0);
    expect_frame(b, 0, 1514, 3);
    ns_dev_close(a);
    ns_dev_close(b);
    ns_simlink_free(link);
}

static void test_detached_port(void **state)
{
    (void)state;
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 100;
    struct ns_simlink *link = ns_simlink_new("d", 3, &p, 1);
    struct ns_dev *d0 = ns_simlink_port(link, 0, NULL);
    struct ns_dev *d1 = ns_simlink_port(link, 1, NULL);
    struct ns_dev *d2 = ns_simlink_port(link, 2, NULL);
    /* A frame in flight to port 2 when it closes is discarded with it. */
    assert_int_equal(link_send(d0, 100, 1, 0), 0);
    ns_dev_close(d2);
    assert_null(ns_simlink_port(link, 2, NULL)); /* not handed out again */
    assert_int_equal(link_send(d0, 100, 2, 0), 0);
    expect_frame(d1, 100, 100, 1);
    expect_frame(d1, 100, 100, 2);
    assert_null(link_recv(d1, 200));
    assert_int_equal(ns_simlink_next_deadline(link), NS_TIME_NEVER);

    /* Port 1 gone too: the frame vanishes, the sender is not told. */
    ns_dev_close(d1);
    assert_int_equal(link_send(d0, 100, 3, 0), 0);
    assert_int_equal(ns_simlink_next_deadline(link), NS_TIME_NEVER);
    ns_dev_close(d0);
    ns_simlink_free(link);
}

static void test_free_orders(void **state)
{
    (void)state;
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 1000;

    /* Link first, with frames in flight: open ports become unplugged. */
    struct ns_simlink *link = ns_simlink_new("f1", 2, &p, 1);
    struct ns_dev *a = ns_simlink_port(link, 0, NULL);
    struct ns_dev *b = ns_simlink_port(link, 1, NULL);
    assert_int_equal(link_send(a, 200, 1, 0), 0);
    assert_int_equal(link_send(b, 200, 2, 0), 0);
    ns_simlink_free(link);
    assert_null(link_recv(b, 5000));
    assert_int_equal(b->ops->next_deadline(b), NS_TIME_NEVER);
    assert_int_equal(link_send(a, 200, 3, 5000), -ENETDOWN);
    assert_int_equal(a->stats.tx_drop, 1);
    ns_dev_close(a);
    ns_dev_close(b); /* the last reference frees the link (ASan checks) */

    /* Ports first, then the link, frames in flight. */
    link = ns_simlink_new("f2", 3, &p, 1);
    a = ns_simlink_port(link, 0, NULL);
    b = ns_simlink_port(link, 1, NULL);
    assert_int_equal(link_send(a, 200, 1, 0), 0);
    ns_dev_close(b);
    ns_dev_close(a);
    ns_simlink_free(link);

    /* Ports never taken, and a NULL link. */
    link = ns_simlink_new("f3", 16, NULL, 1);
    assert_non_null(link);
    ns_simlink_free(link);
    ns_simlink_free(NULL);

    /* Bad port counts. */
    assert_null(ns_simlink_new("x", 1, NULL, 1));
    assert_null(ns_simlink_new("x", 17, NULL, 1));
}

static void test_pool_empty_keeps_frame(void **state)
{
    (void)state;
    struct ns_pbuf_pool *tiny = ns_pbuf_pool_new(1, 0);
    struct ns_simlink *link = ns_simlink_new("p", 2, NULL, 1);
    struct ns_dev *a = ns_simlink_port(link, 0, NULL);
    struct ns_dev *b = ns_simlink_port(link, 1, NULL);
    assert_int_equal(link_send(a, 100, 1, 0), 0);
    assert_int_equal(link_send(a, 100, 2, 0), 0);
    struct ns_pbuf *held = b->ops->recv(b, tiny, 0);
    assert_non_null(held);
    assert_int_equal(ns_pbuf_data(held)[11], 1); /* equal times: FIFO */
    assert_null(b->ops->recv(b, tiny, 0)); /* pool empty */
    assert_int_equal(b->ops->next_deadline(b), 0);
    assert_int_equal(b->stats.rx_frames, 1);
    ns_pbuf_free(held);
    struct ns_pbuf *pb = b->ops->recv(b, tiny, 0);
    assert_non_null(pb);
    assert_int_equal(ns_pbuf_data(pb)[11], 2);
    ns_pbuf_free(pb);
    ns_dev_close(a);
    ns_dev_close(b);
    ns_simlink_free(link);
    ns_pbuf_pool_free(tiny);
}

static void test_macs(void **state)
{
    (void)state;
    static const uint8_t given[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    struct ns_simlink *l1 = ns_simlink_new("a", 3, NULL, 77);
    struct ns_simlink *l2 = ns_simlink_new("b", 3, NULL, 77);
    struct ns_simlink *l3 = ns_simlink_new("c", 3, NULL, 78);
    struct ns_dev *a0 = ns_simlink_port(l1, 0, NULL), *a1 = ns_simlink_port(l1, 1, NULL);
    struct ns_dev *a2 = ns_simlink_port(l1, 2, given);
    struct ns_dev *b0 = ns_simlink_port(l2, 0, NULL);
    struct ns_dev *c0 = ns_simlink_port(l3, 0, NULL);
    assert_memory_equal(a2->hwaddr, given, 6);
    assert_int_equal(a0->hwaddr[0], 0x02); /* locally administered unicast */
    assert_int_equal(a1->hwaddr[0], 0x02);
    assert_memory_not_equal(a0->hwaddr, a1->hwaddr, 6);
    assert_memory_equal(a0->hwaddr, b0->hwaddr, 6);     /* same seed */
    assert_memory_not_equal(a0->hwaddr, c0->hwaddr, 6); /* other seed */
    ns_dev_close(a0);
    ns_dev_close(a1);
    ns_dev_close(a2);
    ns_dev_close(b0);
    ns_dev_close(c0);
    ns_simlink_free(l1);
    ns_simlink_free(l2);
    ns_simlink_free(l3);
}

/* Run a fixed traffic pattern over an impaired 3-port link; record every
 * delivery (port, time, bytes) into out. Returns the number recorded. */
struct delivery {
    unsigned port;
    uint64_t time_us;
    uint32_t len;
    uint8_t data[128];
};

static size_t traffic(uint64_t seed, struct delivery *out, size_t cap)
{
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 500;
    p.jitter_us = 300;
    p.rate_bps = 5000000;
    p.queue_bytes = 4000;
    p.loss = 0.1;
    p.dup = 0.1;
    p.reorder = 0.1;
    p.reorder_delay_us = 700;
    p.corrupt = 0.1;
    struct ns_simlink *link = ns_simlink_new("det", 3, &p, seed);
    struct ns_dev *d[3];
    for (unsigned i = 0; i < 3; i++)
        d[i] = ns_simlink_port(link, i, NULL);
    size_t n = 0;
    for (uint64_t t = 0; t < 200000; t += 50) {
        if (t % 150 == 0 && t < 150000)
            link_send(d[(t / 150) % 3], 60 + (uint32_t)(t % 68), (uint8_t)t, t);
        for (unsigned i = 0; i < 3; i++) {
            struct ns_pbuf *pb;
            while ((pb = link_recv(d[i], t))) {
                assert_true(n < cap);
                assert_true(pb->len <= sizeof(out[n].data));
                out[n].port = i;
                out[n].time_us = t;
                out[n].len = pb->len;
                memcpy(out[n].data, ns_pbuf_data(pb), pb->len);
                n++;
                ns_pbuf_free(pb);
            }
        }
    }
    for (unsigned i = 0; i < 3; i++)
        ns_dev_close(d[i]);
    ns_simlink_free(link);
    return n;
}

static void test_determinism(void **state)
{
    (void)state;
    enum { CAP = 4000 };
    static struct delivery a[CAP], b[CAP], c[CAP];
    uint64_t seed = ns_test_seed(314);
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    memset(c, 0, sizeof(c));
    size_t na = traffic(seed, a, CAP);
    size_t nb = traffic(seed, b, CAP);
    size_t nc = traffic(seed + 1, c, CAP);
    NS_ASSERT_SEED(na > 1000);
    NS_ASSERT_SEED(na == nb);
    NS_ASSERT_SEED(memcmp(a, b, na * sizeof(a[0])) == 0);
    NS_ASSERT_SEED(na != nc || memcmp(a, c, na * sizeof(a[0])) != 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_ports_timing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hub_three_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mtu_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detached_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_empty_keeps_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_macs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_determinism, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
