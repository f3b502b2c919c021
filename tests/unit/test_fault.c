/* tests/unit/test_fault.c — the queue device and the fault-injection
 * wrapper around it: tx delay/loss/dup/corruption seen through
 * ns_qdev_take at the right times, rx impairments on injected frames,
 * pass-through with NULL params, pool baselines after close. */
#include <errno.h>
#include <string.h>

#include "testutil.h"

#include "netsock/dev.h"

static struct ns_pbuf_pool *g_pool;
static struct ns_pbuf_pool_stats g_base;

static int setup(void **state)
{
    (void)state;
    g_pool = ns_pbuf_pool_new(64, 1 << 20);
    ns_pbuf_pool_stats(g_pool, &g_base);
    return g_pool ? 0 : -1;
}

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

static void fill(uint8_t *d, uint32_t len, uint8_t tag)
{
    for (uint32_t i = 0; i < len; i++)
        d[i] = (uint8_t)(tag * 31 + i);
}

static int xmit(struct ns_dev *dev, uint32_t len, uint8_t tag, uint64_t now)
{
    struct ns_pbuf *pb = ns_pbuf_alloc(g_pool, NS_PBUF_HEADROOM, len);
    assert_non_null(pb);
    fill(ns_pbuf_data(pb), len, tag);
    return dev->ops->xmit(dev, pb, now);
}

static void inject(struct ns_dev *q, uint32_t len, uint8_t tag)
{
    uint8_t buf[10000];
    fill(buf, len, tag);
    assert_int_equal(ns_qdev_inject(q, buf, len), 0);
}

/* Take the next frame from the qdev and check it is (len, tag). */
static void expect_taken(struct ns_dev *q, uint32_t len, uint8_t tag)
{
    uint8_t got[10000], want[10000];
    assert_int_equal(ns_qdev_take(q, got, sizeof(got)), len);
    fill(want, len, tag);
    assert_memory_equal(got, want, len);
}

static void expect_recv(struct ns_dev *dev, uint64_t now, uint32_t len, uint8_t tag)
{
    uint8_t want[10000];
    struct ns_pbuf *pb = dev->ops->recv(dev, g_pool, now);
    assert_non_null(pb);
    assert_int_equal(pb->len, len);
    fill(want, len, tag);
    assert_memory_equal(ns_pbuf_data(pb), want, len);
    ns_pbuf_free(pb);
}

static void test_qdev(void **state)
{
    (void)state;
    struct ns_dev *q = ns_qdev_new("q0", NS_LINK_ETHER, NULL, 1500);
    assert_non_null(q);
    static const uint8_t defmac[6] = {2, 0, 0, 0, 0, 1};
    assert_memory_equal(q->hwaddr, defmac, 6);
    assert_string_equal(q->name, "q0");
    assert_int_equal(q->mtu, 1500);
    assert_int_equal(q->ops->next_deadline(q), NS_TIME_NEVER);

    /* Stack -> program: FIFO, full length returned even when truncated. */
    assert_int_equal(ns_qdev_take(q, NULL, 0), -1);
    assert_int_equal(xmit(q, 100, 1, 0), 0);
    assert_int_equal(xmit(q, 200, 2, 0), 0);
    assert_int_equal(xmit(q, 1515, 3, 0), -EMSGSIZE); /* IP size 1501 */
    assert_int_equal(ns_qdev_pending(q), 2);
    uint8_t small[10], want[10];
    assert_int_equal(ns_qdev_take(q, small, sizeof(small)), 100);
    fill(want, 10, 1);
    assert_memory_equal(small, want, 10);
    expect_taken(q, 200, 2);
    assert_int_equal(ns_qdev_pending(q), 0);
    assert_int_equal(q->stats.tx_frames, 2);
    assert_int_equal(q->stats.tx_bytes, 300);
    assert_int_equal(q->stats.tx_drop, 1);

    /* Program -> stack: due at once, FIFO; an empty pool keeps the frame. */
    inject(q, 60, 4);
    inject(q, 70, 5);
    assert_int_equal(q->ops->next_deadline(q), 0);
    struct ns_pbuf_pool *tiny = ns_pbuf_pool_new(1, 0);
    struct ns_pbuf *held = q->ops->recv(q, tiny, 0);
    assert_non_null(held);
    assert_null(q->ops->recv(q, tiny, 0));
    ns_pbuf_free(held);
    ns_pbuf_pool_free(tiny);
    expect_recv(q, 0, 70, 5);
    assert_null(q->ops->recv(q, g_pool, 0));
    assert_int_equal(q->stats.rx_frames, 2);
    assert_int_equal(q->stats.rx_bytes, 130);

    /* Untaken frames and uninjected frames are freed on close (ASan). */
    xmit(q, 100, 6, 0);
    inject(q, 100, 7);
    ns_dev_close(q);

    /* Not a qdev. */
    struct ns_dev *ip = ns_qdev_new(NULL, NS_LINK_IP, (const uint8_t[6]){2, 1, 2, 3, 4, 5}, 0);
    assert_int_equal(ip->hwaddr[5], 5);
    assert_int_equal(xmit(ip, 9000, 1, 0), 0); /* mtu 0: no limit */
    expect_taken(ip, 9000, 1);
    struct ns_dev *f = ns_fault_wrap(ip, NULL, NULL, 1);
    assert_int_equal(ns_qdev_inject(f, "x", 1), -EINVAL);
    assert_int_equal(ns_qdev_take(f, NULL, 0), -1);
    assert_int_equal(ns_qdev_pending(f), 0);
    ns_dev_close(f);
}

static void test_passthrough(void **state)
{
    (void)state;
    struct ns_dev *q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    struct ns_dev *f = ns_fault_wrap(q, NULL, NULL, 1);
    assert_non_null(f);
    assert_string_equal(f->name, "q");
    assert_int_equal(f->mtu, 1500);
    assert_memory_equal(f->hwaddr, q->hwaddr, 6);
    assert_int_equal(f->link, NS_LINK_ETHER);

    assert_int_equal(xmit(f, 100, 1, 0), 0);
    assert_int_equal(ns_qdev_pending(q), 1); /* at once, no tick needed */
    expect_taken(q, 100, 1);
    assert_int_equal(xmit(f, 1515, 2, 0), -EMSGSIZE); /* inner's error passes up */
    assert_int_equal(f->stats.tx_drop, 1);
    inject(q, 80, 3);
    assert_int_equal(f->ops->next_deadline(f), 0); /* inner's deadline */
    expect_recv(f, 0, 80, 3);
    assert_int_equal(f->ops->next_deadline(f), NS_TIME_NEVER);
    assert_int_equal(f->ops->fd(f), -1);

    struct ns_impair_stats tx, rx;
    ns_fault_stats(f, &tx, &rx);
    assert_int_equal(tx.frames, 0);
    assert_int_equal(rx.frames, 0);
    assert_int_equal(f->stats.tx_frames, 1);
    assert_int_equal(f->stats.rx_frames, 1);
    ns_dev_close(f); /* closes q too */
}

static void test_tx_delay(void **state)
{
    (void)state;
    struct ns_link_params tx;
    ns_link_params_default(&tx);
    tx.delay_us = 500;
    tx.rate_bps = 8000000; /* 1 us per byte */
    struct ns_dev *q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    struct ns_dev *f = ns_fault_wrap(q, &tx, NULL, 1);

    assert_int_equal(xmit(f, 100, 1, 1000), 0); /* due 1000 + 100 + 500 */
    assert_int_equal(xmit(f, 100, 2, 1000), 0); /* due 1700 */
    assert_int_equal(ns_qdev_pending(q), 0);
    assert_int_equal(f->ops->next_deadline(f), 1600);
    f->ops->tick(f, 1599);
    assert_int_equal(ns_qdev_pending(q), 0);
    f->ops->tick(f, 1600);
    assert_int_equal(ns_qdev_pending(q), 1);
    expect_taken(q, 100, 1);
    assert_int_equal(f->ops->next_deadline(f), 1700);

    /* Released at the start of xmit too, before the new frame. */
    assert_int_equal(xmit(f, 100, 3, 1750), 0);
    assert_int_equal(ns_qdev_pending(q), 1);
    expect_taken(q, 100, 2);
    /* ... and at the start of recv. */
    assert_null(f->ops->recv(f, g_pool, 2350));
    assert_int_equal(ns_qdev_pending(q), 1);
    expect_taken(q, 100, 3);
    assert_int_equal(f->ops->next_deadline(f), NS_TIME_NEVER);

    /* MTU drop is reported to the caller, not delayed. */
    tx.mtu = 100;
    ns_dev_close(f);
    q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    f = ns_fault_wrap(q, &tx, NULL, 1);
    assert_int_equal(xmit(f, 115, 4, 0), -EMSGSIZE);
    assert_int_equal(f->stats.tx_drop, 1);
    struct ns_impair_stats st;
    ns_fault_stats(f, &st, NULL);
    assert_int_equal(st.mtu_drop, 1);

    /* Frames still queued at close go back to the pool (teardown checks). */
    assert_int_equal(xmit(f, 100, 5, 0), 0);
    assert_int_equal(ns_qdev_pending(q), 0);
    ns_dev_close(f);
}

static void test_tx_loss_dup_corrupt(void **state)
{
    (void)state;
    struct ns_link_params tx;
    uint64_t seed = ns_test_seed(11);

    /* loss 1: nothing ever leaves, xmit still reports success. */
    ns_link_params_default(&tx);
    tx.loss = 1.0;
    struct ns_dev *q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    struct ns_dev *f = ns_fault_wrap(q, &tx, NULL, seed);
    for (uint8_t i = 0; i < 10; i++)
        assert_int_equal(xmit(f, 100, i, 0), 0);
    f->ops->tick(f, 1000000);
    assert_int_equal(ns_qdev_pending(q), 0);
    struct ns_impair_stats st;
    ns_fault_stats(f, &st, NULL);
    assert_int_equal(st.lost, 10);
    assert_int_equal(st.frames, 10);
    ns_dev_close(f);

    /* dup 1: every frame twice, identical, in order. */
    ns_link_params_default(&tx);
    tx.dup = 1.0;
    tx.delay_us = 10;
    q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    f = ns_fault_wrap(q, &tx, NULL, seed);
    assert_int_equal(xmit(f, 100, 1, 0), 0);
    assert_int_equal(xmit(f, 200, 2, 0), 0);
    f->ops->tick(f, 10);
    assert_int_equal(ns_qdev_pending(q), 4);
    expect_taken(q, 100, 1);
    expect_taken(q, 100, 1);
    expect_taken(q, 200, 2);
    expect_taken(q, 200, 2);
    ns_fault_stats(f, &st, NULL);
    assert_int_equal(st.duplicated, 2);
    assert_int_equal(st.delivered, 4);
    ns_dev_close(f);

    /* corrupt 1: exactly one bit differs, never in the Ethernet header. */
    ns_link_params_default(&tx);
    tx.corrupt = 1.0;
    q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    f = ns_fault_wrap(q, &tx, NULL, seed);
    for (uint8_t i = 0; i < 50; i++) {
        uint8_t got[100], want[100];
        NS_ASSERT_SEED(xmit(f, 100, i, 0) == 0);
        NS_ASSERT_SEED(ns_qdev_take(q, got, sizeof(got)) == 100);
        fill(want, 100, i);
        int bits = 0;
        for (int k = 0; k < 100; k++) {
            bits += __builtin_popcount((unsigned)(got[k] ^ want[k]));
            if (k < 14)
                NS_ASSERT_SEED(got[k] == want[k]);
        }
        NS_ASSERT_SEED(bits == 1);
    }
    ns_fault_stats(f, &st, NULL);
    assert_int_equal(st.corrupted, 50);
    ns_dev_close(f);
}

static void test_rx_impairments(void **state)
{
    (void)state;
    struct ns_link_params rx;
    ns_link_params_default(&rx);
    rx.delay_us = 300;
    struct ns_dev *q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    struct ns_dev *f = ns_fault_wrap(q, NULL, &rx, 3);

    inject(q, 60, 1);
    inject(q, 61, 2);
    assert_int_equal(f->ops->next_deadline(f), 0); /* inner has input */
    assert_null(f->ops->recv(f, g_pool, 100));     /* pulled, delayed */
    assert_int_equal(f->ops->next_deadline(f), 400);
    assert_null(f->ops->recv(f, g_pool, 399));
    expect_recv(f, 400, 60, 1);
    expect_recv(f, 400, 61, 2);
    assert_null(f->ops->recv(f, g_pool, 400));
    assert_int_equal(f->ops->next_deadline(f), NS_TIME_NEVER);

    /* tx is untouched: straight through. */
    assert_int_equal(xmit(f, 100, 3, 500), 0);
    expect_taken(q, 100, 3);

    /* Queued rx frames are returned to the pool on close. */
    inject(q, 60, 4);
    assert_null(f->ops->recv(f, g_pool, 500));
    ns_dev_close(f);

    /* rx loss, duplication, MTU. */
    ns_link_params_default(&rx);
    rx.loss = 1.0;
    q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    f = ns_fault_wrap(q, NULL, &rx, 3);
    for (uint8_t i = 0; i < 5; i++)
        inject(q, 60, i);
    assert_null(f->ops->recv(f, g_pool, 0));
    assert_int_equal(f->ops->next_deadline(f), NS_TIME_NEVER);
    struct ns_impair_stats st;
    ns_fault_stats(f, NULL, &st);
    assert_int_equal(st.lost, 5);
    ns_dev_close(f);

    ns_link_params_default(&rx);
    rx.dup = 1.0;
    rx.mtu = 100;
    q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    f = ns_fault_wrap(q, NULL, &rx, 3);
    inject(q, 60, 1);
    inject(q, 115, 2); /* IP size 101 > 100 */
    inject(q, 70, 3);
    expect_recv(f, 0, 60, 1);
    expect_recv(f, 0, 60, 1);
    expect_recv(f, 0, 70, 3);
    expect_recv(f, 0, 70, 3);
    assert_null(f->ops->recv(f, g_pool, 0));
    ns_fault_stats(f, NULL, &st);
    assert_int_equal(st.mtu_drop, 1);
    assert_int_equal(st.duplicated, 2);
    assert_int_equal(f->stats.rx_drop, 1);
    assert_int_equal(f->stats.rx_frames, 4);
    ns_dev_close(f);
}

/* Same seed, same faults: the sequence of taken frames is identical. */
static size_t fault_run(uint64_t seed, uint8_t *log, size_t cap)
{
    struct ns_link_params tx;
    ns_link_params_default(&tx);
    tx.loss = 0.2;
    tx.dup = 0.2;
    tx.corrupt = 0.2;
    tx.jitter_us = 50;
    tx.reorder = 0.2;
    tx.reorder_delay_us = 100;
    struct ns_dev *q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    struct ns_dev *f = ns_fault_wrap(q, &tx, NULL, seed);
    size_t n = 0;
    for (uint64_t t = 0; t < 5000; t += 10) {
        xmit(f, 40, (uint8_t)t, t);
        f->ops->tick(f, t);
        long len;
        while (n + 40 <= cap && (len = ns_qdev_take(q, log + n, 40)) > 0)
            n += (size_t)len;
    }
    ns_dev_close(f);
    return n;
}

static void test_determinism(void **state)
{
    (void)state;
    static uint8_t a[40000], b[40000], c[40000];
    uint64_t seed = ns_test_seed(5);
    size_t na = fault_run(seed, a, sizeof(a));
    size_t nb = fault_run(seed, b, sizeof(b));
    size_t nc = fault_run(seed + 1, c, sizeof(c));
    NS_ASSERT_SEED(na > 40 * 300);
    NS_ASSERT_SEED(na == nb && memcmp(a, b, na) == 0);
    NS_ASSERT_SEED(na != nc || memcmp(a, c, na) != 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_qdev, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passthrough, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_loss_dup_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_impairments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_determinism, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
