/* tests/unit/test_backpressure.c — transmit backpressure, the device
 * contract of include/netsock/dev.h: a device whose queue is full refuses
 * a frame with -EAGAIN (consumed, counted in tx_busy, not tx_drop) and
 * says through tx_ready when it takes frames again.
 *
 * Device level: the queue device with a limit, a simulated link port
 * (exact ready times from the serializer), the pcap and fault wrappers
 * passing it on. Stack level, two stacks joined by queue devices that the
 * test moves frames between by hand: TCP keeps a refused segment unsent
 * (SND.MAX stays, no retransmission, no loss counted) and sends it when
 * the program takes frames and polls; a UDP datagram refused is dropped
 * and counted (as ICMP, ARP and forwarded packets: one path, if_xmit).
 *
 * Replay a failure with the printed NETSOCK_SEED. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "netsock/dev.h"
#include "netsock/netsock.h"
#include "netsock/socket.h"
#include "sim/simlink.h"

static struct ns_pbuf_pool *g_pool;

static int setup(void **state)
{
    (void)state;
    g_pool = ns_pbuf_pool_new(64, 1 << 20);
    return g_pool ? 0 : -1;
}

/* Every test gives back every buffer, refused ones included. */
static int teardown(void **state)
{
    (void)state;
    struct ns_pbuf_pool_stats ps;
    ns_pbuf_pool_stats(g_pool, &ps);
    assert_int_equal(ps.pool_free, ps.pool_total);
    assert_int_equal(ps.heap_bytes, 0);
    ns_pbuf_pool_free(g_pool);
    return 0;
}

static int send_frame(struct ns_dev *dev, uint32_t len, uint8_t tag, uint64_t now)
{
    struct ns_pbuf *pb = ns_pbuf_alloc(g_pool, NS_PBUF_HEADROOM, len);
    assert_non_null(pb);
    uint8_t *d = ns_pbuf_data(pb);
    memset(d, 0xff, 6);
    memcpy(d + 6, (const uint8_t[]){2, 0, 0, 0, 0, tag}, 6);
    d[12] = 0x08;
    d[13] = 0x00;
    for (uint32_t i = 14; i < len; i++)
        d[i] = (uint8_t)(tag + i);
    return dev->ops->xmit(dev, pb, now);
}

/* ---- devices ------------------------------------------------------------- */

static void test_qdev_limit(void **state)
{
    (void)state;
    struct ns_dev *q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    assert_non_null(q);
    /* Unbounded by default: never refuses. */
    assert_int_equal(q->ops->tx_ready(q, 5), 5);
    assert_int_equal(ns_qdev_set_tx_limit(q, 2), 0);
    assert_int_equal(send_frame(q, 100, 1, 0), 0);
    assert_int_equal(send_frame(q, 100, 2, 0), 0);
    assert_int_equal(q->ops->tx_ready(q, 0), NS_TIME_NEVER);
    assert_int_equal(send_frame(q, 100, 3, 0), -EAGAIN);
    assert_int_equal(send_frame(q, 100, 4, 0), -EAGAIN);
    assert_int_equal(ns_qdev_pending(q), 2);
    assert_int_equal(q->stats.tx_frames, 2);
    assert_int_equal(q->stats.tx_busy, 2);
    assert_int_equal(q->stats.tx_drop, 0);
    /* The program takes a frame: room for exactly one. */
    uint8_t buf[200];
    assert_int_equal(ns_qdev_take(q, buf, sizeof(buf)), 100);
    assert_int_equal(buf[11], 1);
    assert_int_equal(q->ops->tx_ready(q, 7), 7);
    assert_int_equal(send_frame(q, 100, 5, 0), 0);
    assert_int_equal(send_frame(q, 100, 6, 0), -EAGAIN);
    /* Refused frames are not queued: 2 then 5 come out. */
    assert_int_equal(ns_qdev_take(q, buf, sizeof(buf)), 100);
    assert_int_equal(buf[11], 2);
    assert_int_equal(ns_qdev_take(q, buf, sizeof(buf)), 100);
    assert_int_equal(buf[11], 5);
    /* An oversized frame is dropped, never refused. */
    assert_int_equal(send_frame(q, 1515, 7, 0), -EMSGSIZE);
    assert_int_equal(q->stats.tx_drop, 1);
    assert_int_equal(ns_qdev_set_tx_limit(NULL, 1), -EINVAL);
    ns_dev_close(q);
}

static void test_simlink_refuses_when_full(void **state)
{
    (void)state;
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.rate_bps = 8000000; /* one byte per microsecond */
    p.queue_bytes = 3000;
    p.delay_us = 10;
    struct ns_simlink *link = ns_simlink_new("bp", 2, &p, 7);
    struct ns_dev *a = ns_simlink_port(link, 0, NULL);
    struct ns_dev *b = ns_simlink_port(link, 1, NULL);
    assert_int_equal(a->ops->tx_ready(a, 0), 0);
    /* Three 1000-byte frames fill the 3000-byte queue... */
    for (uint8_t i = 1; i <= 3; i++)
        assert_int_equal(send_frame(a, 1000, i, 0), 0);
    /* ...the fourth is refused, and may come when 1000 bytes have left. */
    assert_int_equal(send_frame(a, 1000, 4, 0), -EAGAIN);
    assert_int_equal(a->ops->tx_ready(a, 0), 1000);
    assert_int_equal(a->ops->tx_ready(a, 400), 1000);
    assert_int_equal(send_frame(a, 1000, 4, 999), -EAGAIN);
    assert_int_equal(a->ops->tx_ready(a, 1000), 1000);
    assert_int_equal(send_frame(a, 1000, 4, 1000), 0);
    /* A smaller frame fits earlier than a full one: ready for what was
     * refused last. */
    assert_int_equal(send_frame(a, 100, 5, 1000), -EAGAIN);
    assert_int_equal(a->ops->tx_ready(a, 1000), 1100);
    /* A frame larger than the whole queue can never fit: dropped. */
    struct ns_link_params big = p;
    big.mtu = 0;
    ns_simlink_set_params(link, 0, &big);
    assert_int_equal(send_frame(a, 3015, 6, 1000), -ENOBUFS);

    struct ns_impair_stats st;
    ns_simlink_stats(link, 0, &st);
    assert_int_equal(st.frames, 5);      /* 1-4 and the oversized one: refused ones are not offered */
    assert_int_equal(st.queue_full, 3);
    assert_int_equal(st.queue_drop, 1);  /* only the oversized frame */
    assert_int_equal(a->stats.tx_busy, 3);
    assert_int_equal(a->stats.tx_drop, 1);
    assert_int_equal(a->stats.tx_frames, 4);
    /* Frames 1-4 arrive in order, serialized back to back. */
    for (uint8_t i = 1; i <= 4; i++) {
        struct ns_pbuf *pb = b->ops->recv(b, g_pool, 10000);
        assert_non_null(pb);
        assert_int_equal(ns_pbuf_data(pb)[11], i);
        ns_pbuf_free(pb);
    }
    assert_null(b->ops->recv(b, g_pool, 10000));
    ns_dev_close(a);
    ns_dev_close(b);
    ns_simlink_free(link);
}

static void test_simlink_refusal_is_deterministic(void **state)
{
    (void)state;
    /* Refusing consumes no randomness: a lossy link loses the same frames
     * whether or not refused attempts came in between. */
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.rate_bps = 8000000;
    p.queue_bytes = 1000;
    p.loss = 0.5;
    struct ns_impair_stats s1, s2;
    uint64_t lost_mask[2] = {0, 0};
    for (int run = 0; run < 2; run++) {
        struct ns_simlink *link = ns_simlink_new("d", 2, &p, 42);
        struct ns_dev *a = ns_simlink_port(link, 0, NULL);
        struct ns_dev *b = ns_simlink_port(link, 1, NULL);
        for (int i = 0; i < 64; i++) {
            uint64_t t = (uint64_t)i * 1000;
            assert_int_equal(send_frame(a, 500, 9, t), 0);
            if (run == 1) /* 500 queued + 600 > 1000 */
                assert_int_equal(send_frame(a, 600, 9, t), -EAGAIN);
            struct ns_pbuf *pb = b->ops->recv(b, g_pool, t + 999);
            if (!pb)
                lost_mask[run] |= 1ull << i;
            ns_pbuf_free(pb);
        }
        ns_simlink_stats(link, 0, run ? &s2 : &s1);
        ns_dev_close(a);
        ns_dev_close(b);
        ns_simlink_free(link);
    }
    assert_int_equal(lost_mask[0], lost_mask[1]);
    assert_int_equal(s1.lost, s2.lost);
    assert_true(s1.lost > 10 && s1.lost < 54);
    assert_int_equal(s2.queue_full, 64);
}

static void test_wrappers_pass_it_on(void **state)
{
    (void)state;
    char path[] = "/tmp/ns-bp-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct ns_dev *q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    assert_int_equal(ns_qdev_set_tx_limit(q, 1), 0);
    int err = 0;
    struct ns_dev *pc = ns_pcap_wrap(q, path, &err);
    assert_non_null(pc);
    struct ns_dev *f = ns_fault_wrap(pc, NULL, NULL, 1); /* pass-through */
    assert_non_null(f);
    assert_int_equal(send_frame(f, 60, 1, 0), 0);
    assert_int_equal(send_frame(f, 60, 2, 0), -EAGAIN);
    assert_int_equal(f->ops->tx_ready(f, 3), NS_TIME_NEVER);
    assert_int_equal(f->stats.tx_busy, 1);
    assert_int_equal(f->stats.tx_drop, 0);
    assert_int_equal(pc->stats.tx_busy, 1);
    /* The refused frame is not in the capture: it never reached the wire. */
    assert_int_equal(ns_pcap_count(pc), 1);
    uint8_t buf[100];
    assert_int_equal(ns_qdev_take(q, buf, sizeof(buf)), 60);
    assert_int_equal(f->ops->tx_ready(f, 3), 3);
    assert_int_equal(send_frame(f, 60, 2, 4), 0);
    assert_int_equal(ns_pcap_count(pc), 2);
    ns_dev_close(f);

    /* With transmit impairments the wrapper is a link of its own: its
     * corruption never touches the bytes a pcap wrapper outside it holds. */
    struct ns_link_params tx;
    ns_link_params_default(&tx);
    tx.corrupt = 1.0;
    q = ns_qdev_new("q", NS_LINK_ETHER, NULL, 1500);
    f = ns_fault_wrap(q, &tx, NULL, 1);
    pc = ns_pcap_wrap(f, path, &err);
    assert_non_null(pc);
    assert_int_equal(pc->ops->tx_ready(pc, 9), 9);
    uint8_t pattern[60];
    memset(pattern, 0x5a, sizeof(pattern));
    struct ns_pbuf *pb = ns_pbuf_alloc(g_pool, NS_PBUF_HEADROOM, 60);
    assert_non_null(pb);
    memcpy(ns_pbuf_data(pb), pattern, 60);
    ns_pbuf_ref(pb); /* keep an eye on the bytes the stack handed over */
    assert_int_equal(pc->ops->xmit(pc, pb, 0), 0);
    assert_memory_equal(ns_pbuf_data(pb), pattern, 60);
    ns_pbuf_free(pb);
    assert_int_equal(ns_qdev_take(q, buf, sizeof(buf)), 60);
    assert_memory_not_equal(buf, pattern, 60); /* the wire got the corrupted copy */
    ns_dev_close(pc);
    unlink(path);
}

/* ---- two stacks over queue devices, frames moved by the test ------------- */

struct pair {
    struct ns_stack *st[2];
    struct ns_dev *q[2];
    uint64_t now;
};

static const uint8_t mac_a[6] = {2, 0, 0, 0, 0, 0xa}, mac_b[6] = {2, 0, 0, 0, 0, 0xb};

static void pair_init(struct pair *p)
{
    memset(p, 0, sizeof(*p));
    for (int i = 0; i < 2; i++) {
        struct ns_config cfg;
        ns_config_default(&cfg);
        cfg.seed = ns_test_seed(0xbac9) + (uint64_t)i;
        cfg.name = i ? "b" : "a";
        cfg.pbuf_count = 256;
        p->st[i] = ns_stack_new(&cfg, 0);
        assert_non_null(p->st[i]);
        p->q[i] = ns_qdev_new(i ? "qb" : "qa", NS_LINK_ETHER, i ? mac_b : mac_a, 1500);
        assert_int_equal(ns_if_add(p->st[i], p->q[i]), 1);
        struct in_addr a;
        inet_pton(AF_INET, i ? "192.0.2.2" : "192.0.2.1", &a);
        assert_int_equal(ns_if_addr_add(p->st[i], 1, AF_INET, &a, 24), 0);
    }
}

static void pair_free(struct pair *p)
{
    for (int i = 0; i < 2; i++)
        ns_stack_free(p->st[i]);
}

/* Move up to `max` frames from each side's queue device to the other's,
 * then advance the time by 100 us and poll both (the poll wakes senders
 * that wait for room). Returns the frames moved. */
static int pair_step(struct pair *p, int max)
{
    uint8_t buf[2048];
    int moved = 0;
    for (int i = 0; i < 2; i++) {
        for (int n = 0; n < max; n++) {
            long len = ns_qdev_take(p->q[i], buf, sizeof(buf));
            if (len < 0)
                break;
            assert_int_equal(ns_qdev_inject(p->q[!i], buf, (size_t)len), 0);
            moved++;
        }
    }
    p->now += 100;
    for (int i = 0; i < 2; i++)
        ns_stack_poll(p->st[i], p->now);
    return moved;
}

static uint64_t ctr(struct pair *p, int i, enum ns_counter c) { return ns_stack_counter(p->st[i], c); }

static void test_tcp_waits_for_the_queue(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(7000)};
    inet_pton(AF_INET, "192.0.2.2", &sin.sin_addr);
    int l = ns_socket(p.st[1], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_int_equal(ns_bind(p.st[1], l, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(ns_listen(p.st[1], l, 1), 0);
    int c = ns_socket(p.st[0], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_int_equal(ns_connect(p.st[0], c, (struct sockaddr *)&sin, sizeof(sin)), -1);
    int s = -1;
    for (int i = 0; i < 100 && s < 0; i++) {
        pair_step(&p, 100);
        s = ns_accept(p.st[1], l, NULL, NULL);
    }
    assert_true(s >= 0);
    ns_fcntl(p.st[1], s, F_SETFL, O_NONBLOCK);
    for (int i = 0; i < 10; i++)
        pair_step(&p, 100); /* let the handshake's ACKs settle */

    /* Room for 3 frames on a's device, and a write of 11 segments: the
     * initial window (10) would send 10 at once; 3 go, the 4th is refused
     * and a waits, with SND.MAX after the third. */
    assert_int_equal(ns_qdev_set_tx_limit(p.q[0], 3), 0);
    enum { LEN = 11 * 1448 }; /* fits the 16 KiB send buffer */
    uint8_t *out = malloc(LEN), *in = malloc(LEN);
    for (int i = 0; i < LEN; i++)
        out[i] = (uint8_t)(i * 7 + 3);
    assert_int_equal(ns_send(p.st[0], c, out, LEN, 0), LEN);
    assert_int_equal(ns_qdev_pending(p.q[0]), 3);
    struct tcp_info ti;
    socklen_t tl = sizeof(ti);
    assert_int_equal(ns_getsockopt(p.st[0], c, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
    assert_int_equal(ti.tcpi_unacked, 3);
    assert_int_equal(ctr(&p, 0, NS_CTR_dev_tx_deferred), 1);
    assert_int_equal(ctr(&p, 0, NS_CTR_dev_tx_full_drop), 0);
    assert_int_equal(p.q[0]->stats.tx_busy, 1);
    assert_int_equal(p.q[0]->stats.tx_drop, 0);
    /* Nothing is due on its own: the queue device says NS_TIME_NEVER. */
    uint64_t before = ctr(&p, 0, NS_CTR_dev_tx_deferred);
    assert_true(ns_stack_next_deadline(p.st[0]) > p.now + 1000);
    ns_stack_poll(p.st[0], p.now);
    assert_int_equal(ns_qdev_pending(p.q[0]), 3);
    /* While waiting, sending is not even tried (no new refusals). */
    assert_int_equal(ctr(&p, 0, NS_CTR_dev_tx_deferred), before);

    /* Take one frame at a time: each poll lets exactly one more out. */
    size_t got = 0;
    for (int i = 0; i < 2000 && got < LEN; i++) {
        pair_step(&p, 1);
        ssize_t r = ns_recv(p.st[1], s, in + got, LEN - got, 0);
        if (r > 0)
            got += (size_t)r;
        assert_true(ns_qdev_pending(p.q[0]) <= 3);
    }
    assert_int_equal(got, LEN);
    assert_memory_equal(in, out, LEN);
    /* No loss: nothing retransmitted, nothing dropped, yet refusals seen. */
    assert_int_equal(ctr(&p, 0, NS_CTR_tcp_retrans_segs), 0);
    assert_int_equal(ctr(&p, 0, NS_CTR_tcp_rto_timeouts), 0);
    assert_int_equal(ctr(&p, 0, NS_CTR_dev_tx_full_drop), 0);
    assert_int_equal(p.q[0]->stats.tx_drop, 0);
    assert_true(ctr(&p, 0, NS_CTR_dev_tx_deferred) > 1);
    assert_int_equal(ns_getsockopt(p.st[0], c, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
    assert_int_equal(ti.tcpi_total_retrans, 0);
    free(out);
    free(in);
    pair_free(&p);
}

static void test_udp_drops(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p);
    /* Resolve ARP first. */
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
    inet_pton(AF_INET, "192.0.2.2", &to.sin_addr);
    int u = ns_socket(p.st[0], AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_int_equal(ns_sendto(p.st[0], u, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)), 1);
    for (int i = 0; i < 10; i++)
        pair_step(&p, 100);
    while (ns_qdev_take(p.q[0], (uint8_t[2048]){0}, 2048) >= 0)
        ;
    assert_int_equal(ns_qdev_set_tx_limit(p.q[0], 2), 0);
    uint64_t sent = ctr(&p, 0, NS_CTR_dev_tx_frames);
    /* Five datagrams: two queued, three dropped and counted; the sender
     * hears ENOBUFS for those, as it did before devices could refuse. */
    for (int i = 0; i < 5; i++) {
        ssize_t n = ns_sendto(p.st[0], u, "hello", 5, 0, (struct sockaddr *)&to, sizeof(to));
        if (i < 2) {
            assert_int_equal(n, 5);
        } else {
            assert_int_equal(n, -1);
            assert_int_equal(errno, ENOBUFS);
        }
    }
    assert_int_equal(ns_qdev_pending(p.q[0]), 2);
    assert_int_equal(ctr(&p, 0, NS_CTR_dev_tx_frames) - sent, 2);
    assert_int_equal(ctr(&p, 0, NS_CTR_dev_tx_full_drop), 3);
    assert_int_equal(ctr(&p, 0, NS_CTR_dev_tx_deferred), 0);
    assert_int_equal(p.q[0]->stats.tx_busy, 3);
    /* No one waits: no deadline, and the next datagram after room is made
     * goes straight out. */
    assert_int_equal(ns_stack_next_deadline(p.st[0]) == p.now, 0);
    assert_int_equal(ns_qdev_take(p.q[0], (uint8_t[2048]){0}, 2048) > 0, 1);
    assert_int_equal(ns_sendto(p.st[0], u, "again", 5, 0, (struct sockaddr *)&to, sizeof(to)), 5);
    assert_int_equal(ns_qdev_pending(p.q[0]), 2);
    assert_int_equal(ctr(&p, 0, NS_CTR_dev_tx_full_drop), 3);
    pair_free(&p);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_qdev_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simlink_refuses_when_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simlink_refusal_is_deterministic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrappers_pass_it_on, setup, teardown),
        cmocka_unit_test(test_tcp_waits_for_the_queue),
        cmocka_unit_test(test_udp_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
