/* tests/sim/test_sim_transparent.c — transparent sockets (IP_TRANSPARENT)
 * and deferred SYN,ACKs (NS_TCP_DEFER_SYNACK), the stack features
 * `netsock nat` stands on (netsock/socket.h, docs/sockets.md
 * "Transparent sockets").
 *
 *   guest 198.18.0.100/24 ─ 1 ms ─ gw 198.18.0.2/24 (default route of the guest)
 *
 * The guest talks to 192.0.2.7, which is nobody: the gateway's catch-all
 * sockets take it. A held SYN is not answered until the gateway's
 * verdict; the verdict decides what the guest sees (a connection, a
 * RST, an ICMP host unreachable); an echo request to 192.0.2.7 gets no
 * forged reply; a UDP datagram to 192.0.2.7:53 reaches the catch-all
 * with its destination (IP_ORIGDSTADDR).
 *
 * Replay a failure: NETSOCK_SEED=<seed> build-test/tests/test_sim_transparent
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "testutil.h"

struct world {
    struct ns_sim *sim;
    struct ns_stack *guest, *gw;
    struct sockaddr_in far; /* 192.0.2.7:80, an address nobody has */
};

static void world_init(struct world *w)
{
    w->sim = ns_sim_new(ns_test_seed(16));
    w->guest = ns_sim_add_host(w->sim, "guest", NULL);
    w->gw = ns_sim_add_host(w->sim, "gw", NULL);
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 1000;
    int ig, iw;
    NS_ASSERT_SEED(ns_sim_connect(w->sim, w->guest, w->gw, &p, &ig, &iw) != NULL);
    struct in_addr ga, wa, any = {0};
    inet_pton(AF_INET, "198.18.0.100", &ga);
    inet_pton(AF_INET, "198.18.0.2", &wa);
    NS_ASSERT_SEED(ns_if_addr_add(w->guest, ig, AF_INET, &ga, 24) == 0);
    NS_ASSERT_SEED(ns_if_addr_add(w->gw, iw, AF_INET, &wa, 24) == 0);
    NS_ASSERT_SEED(ns_route_add(w->guest, AF_INET, &any, 0, &wa, 0) == 0);
    w->far = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(80)};
    inet_pton(AF_INET, "192.0.2.7", &w->far.sin_addr);
}

/* The gateway's catch-all TCP listener, deferring its SYN,ACKs. */
static int catch_all(struct world *w)
{
    int one = 1;
    int l = ns_socket(w->gw, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    NS_ASSERT_SEED(l >= 0);
    NS_ASSERT_SEED(ns_setsockopt(w->gw, l, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one)) == 0);
    NS_ASSERT_SEED(ns_setsockopt(w->gw, l, IPPROTO_TCP, NS_TCP_DEFER_SYNACK, &one, sizeof(one)) ==
                   0);
    NS_ASSERT_SEED(ns_listen(w->gw, l, 16) == 0);
    return l;
}

/* A non-blocking guest connect to w->far: EINPROGRESS. */
static int guest_connect(struct world *w)
{
    int c = ns_socket(w->guest, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    NS_ASSERT_SEED(c >= 0);
    NS_ASSERT_SEED(ns_connect(w->guest, c, (struct sockaddr *)&w->far, sizeof(w->far)) == -1 &&
                   errno == EINPROGRESS);
    return c;
}

static int so_error(struct ns_stack *st, int fd)
{
    int err = -1;
    socklen_t len = sizeof(err);
    NS_ASSERT_SEED(ns_getsockopt(st, fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
    return err;
}

/* Accept the held connection of a guest connect and check what it says. */
static int accept_held(struct world *w, int l, int c)
{
    ns_sim_run_for(w->sim, 10000);
    struct sockaddr_in peer, dst;
    socklen_t plen = sizeof(peer), dlen = sizeof(dst);
    int a = ns_accept(w->gw, l, (struct sockaddr *)&peer, &plen);
    NS_ASSERT_SEED(a >= 0);
    /* The destination the guest asked for, and the guest itself. */
    NS_ASSERT_SEED(ns_getsockname(w->gw, a, (struct sockaddr *)&dst, &dlen) == 0);
    NS_ASSERT_SEED(dst.sin_addr.s_addr == w->far.sin_addr.s_addr && dst.sin_port == htons(80));
    struct sockaddr_in gname;
    socklen_t glen = sizeof(gname);
    NS_ASSERT_SEED(ns_getsockname(w->guest, c, (struct sockaddr *)&gname, &glen) == 0);
    NS_ASSERT_SEED(peer.sin_addr.s_addr == gname.sin_addr.s_addr && peer.sin_port == gname.sin_port);
    int held = 0;
    socklen_t hl = sizeof(held);
    NS_ASSERT_SEED(ns_getsockopt(w->gw, a, IPPROTO_TCP, NS_TCP_SYNACK_VERDICT, &held, &hl) == 0);
    NS_ASSERT_SEED(held == 1);
    return a;
}

static void test_held_until_accepted(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    int l = catch_all(&w);
    int c = guest_connect(&w);
    int a = accept_held(&w, l, c);
    NS_ASSERT_SEED(ns_stack_counter(w.gw, NS_CTR_tcp_syn_held) == 1);
    /* Nothing answers the SYN while it is held: 1.5 s later the guest
     * retransmitted it and is still connecting. */
    ns_sim_run_for(w.sim, 1500000);
    struct pollfd pfd = {.fd = c, .events = POLLOUT};
    NS_ASSERT_SEED(ns_poll(w.guest, &pfd, 1, 0) == 0);
    NS_ASSERT_SEED(ns_stack_counter(w.gw, NS_CTR_tcp_held_dupsyn) >= 1);
    NS_ASSERT_SEED(ns_stack_counter(w.guest, NS_CTR_tcp_rx_rst) == 0);

    int v = NS_SYNACK_ACCEPT;
    NS_ASSERT_SEED(ns_setsockopt(w.gw, a, IPPROTO_TCP, NS_TCP_SYNACK_VERDICT, &v, sizeof(v)) == 0);
    /* A second verdict is refused: the connection is no longer held. */
    NS_ASSERT_SEED(ns_setsockopt(w.gw, a, IPPROTO_TCP, NS_TCP_SYNACK_VERDICT, &v, sizeof(v)) ==
                       -1 &&
                   errno == EINVAL);
    ns_sim_run_for(w.sim, 10000);
    NS_ASSERT_SEED(ns_poll(w.guest, &pfd, 1, 0) == 1 && (pfd.revents & POLLOUT));
    NS_ASSERT_SEED(so_error(w.guest, c) == 0);
    /* The handshake carried the guest's options: window scaling, SACK. */
    struct tcp_info ti;
    socklen_t tl = sizeof(ti);
    NS_ASSERT_SEED(ns_getsockopt(w.guest, c, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0);
    NS_ASSERT_SEED(ti.tcpi_state == TCP_ESTABLISHED && (ti.tcpi_options & TCPI_OPT_WSCALE));
    /* Bytes both ways, from and to "192.0.2.7". */
    NS_ASSERT_SEED(ns_send(w.guest, c, "ping", 4, 0) == 4);
    NS_ASSERT_SEED(ns_send(w.gw, a, "pong!", 5, 0) == 5);
    ns_sim_run_for(w.sim, 10000);
    char buf[8];
    NS_ASSERT_SEED(ns_recv(w.gw, a, buf, sizeof(buf), MSG_DONTWAIT) == 4 && !memcmp(buf, "ping", 4));
    NS_ASSERT_SEED(ns_recv(w.guest, c, buf, sizeof(buf), MSG_DONTWAIT) == 5 &&
                   !memcmp(buf, "pong!", 5));
    ns_close(w.guest, c);
    ns_close(w.gw, a);
    ns_close(w.gw, l);
    ns_sim_free(w.sim);
}

/* The verdict `v` on a held connection; the guest's connect ends with
 * errno `want`. */
static void refuse(int v, int want)
{
    struct world w;
    world_init(&w);
    int l = catch_all(&w);
    int c = guest_connect(&w);
    int a = accept_held(&w, l, c);
    if (v)
        NS_ASSERT_SEED(ns_setsockopt(w.gw, a, IPPROTO_TCP, NS_TCP_SYNACK_VERDICT, &v, sizeof(v)) ==
                       0);
    else
        NS_ASSERT_SEED(ns_close(w.gw, a) == 0); /* closed before any verdict */
    ns_sim_run_for(w.sim, 10000);
    NS_ASSERT_SEED(so_error(w.guest, c) == want);
    NS_ASSERT_SEED(ns_stack_counter(w.gw, NS_CTR_tcp_held_refused) == 1);
    if (v) {
        char b;
        NS_ASSERT_SEED(ns_recv(w.gw, a, &b, 1, MSG_DONTWAIT) == -1 && errno == ECONNREFUSED);
        ns_close(w.gw, a);
    }
    ns_close(w.guest, c);
    ns_close(w.gw, l);
    ns_sim_run_for(w.sim, 1000000);
    struct ns_pbuf_pool_stats ps;
    ns_stack_pbuf_stats(w.gw, &ps);
    NS_ASSERT_SEED(ps.pool_free == ps.pool_total);
    ns_sim_free(w.sim);
}

static void test_verdict_reset(void **state)
{
    (void)state;
    refuse(NS_SYNACK_RESET, ECONNREFUSED);
}

static void test_verdict_unreachable(void **state)
{
    (void)state;
    refuse(NS_SYNACK_UNREACH(1), EHOSTUNREACH);
}

static void test_close_before_verdict_resets(void **state)
{
    (void)state;
    refuse(0, ECONNREFUSED);
}

/* Only one catch-all per protocol; without one, traffic for others is
 * dropped, never answered. */
static void test_one_catch_all(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    int l = catch_all(&w);
    int one = 1;
    int l2 = ns_socket(w.gw, AF_INET, SOCK_STREAM, 0);
    NS_ASSERT_SEED(ns_setsockopt(w.gw, l2, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one)) == 0);
    NS_ASSERT_SEED(ns_listen(w.gw, l2, 4) == -1 && errno == EADDRINUSE);
    ns_close(w.gw, l2);
    ns_close(w.gw, l);
    int c = guest_connect(&w);
    ns_sim_run_for(w.sim, 10000);
    NS_ASSERT_SEED(ns_stack_counter(w.gw, NS_CTR_ip_drop_not_for_us) >= 1);
    NS_ASSERT_SEED(ns_stack_counter(w.gw, NS_CTR_tcp_drop_no_socket) == 0);
    NS_ASSERT_SEED(so_error(w.guest, c) == 0); /* still trying: nobody refused */
    ns_close(w.guest, c);
    ns_sim_free(w.sim);
}

/* The ICMP checksum of len bytes (RFC 1071). */
static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void test_udp_catch_all_and_no_forged_echo(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    int one = 1;
    int u = ns_socket(w.gw, AF_INET, SOCK_DGRAM, 0);
    NS_ASSERT_SEED(ns_setsockopt(w.gw, u, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one)) == 0);
    NS_ASSERT_SEED(ns_setsockopt(w.gw, u, IPPROTO_IP, IP_RECVORIGDSTADDR, &one, sizeof(one)) == 0);
    struct sockaddr_in any = {.sin_family = AF_INET};
    NS_ASSERT_SEED(ns_bind(w.gw, u, (struct sockaddr *)&any, sizeof(any)) == 0);
    int u2 = ns_socket(w.gw, AF_INET, SOCK_DGRAM, 0);
    NS_ASSERT_SEED(ns_setsockopt(w.gw, u2, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one)) == 0);
    NS_ASSERT_SEED(ns_bind(w.gw, u2, (struct sockaddr *)&any, sizeof(any)) == -1 &&
                   errno == EADDRINUSE);
    ns_close(w.gw, u2);

    int g = ns_socket(w.guest, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in dns = w.far;
    dns.sin_port = htons(53);
    NS_ASSERT_SEED(ns_sendto(w.guest, g, "query", 5, 0, (struct sockaddr *)&dns, sizeof(dns)) == 5);
    /* An echo request to the same nobody. */
    int r = ns_socket(w.guest, AF_INET, SOCK_RAW, IPPROTO_ICMP);
    NS_ASSERT_SEED(r >= 0);
    uint8_t echo[16] = {8, 0, 0, 0, 0x12, 0x34, 0, 1, 'n', 'e', 't', 's', 'o', 'c', 'k', '!'};
    uint16_t ck = csum(echo, sizeof(echo));
    echo[2] = (uint8_t)(ck >> 8);
    echo[3] = (uint8_t)ck;
    NS_ASSERT_SEED(ns_sendto(w.guest, r, echo, sizeof(echo), 0, (struct sockaddr *)&w.far,
                             sizeof(w.far)) == (ssize_t)sizeof(echo));
    ns_sim_run_for(w.sim, 100000);

    char buf[16];
    union {
        struct cmsghdr h;
        char b[64];
    } ctl;
    struct sockaddr_in from;
    struct iovec iov = {buf, sizeof(buf)};
    struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
                       .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
    NS_ASSERT_SEED(ns_recvmsg(w.gw, u, &m, MSG_DONTWAIT) == 5 && !memcmp(buf, "query", 5));
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    NS_ASSERT_SEED(cm && cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_ORIGDSTADDR);
    struct sockaddr_in od;
    memcpy(&od, CMSG_DATA(cm), sizeof(od));
    NS_ASSERT_SEED(od.sin_addr.s_addr == dns.sin_addr.s_addr && od.sin_port == htons(53));
    /* No echo reply came back: 192.0.2.7 does not exist. */
    NS_ASSERT_SEED(ns_stack_counter(w.gw, NS_CTR_icmp_drop_nonlocal_echo) == 1);
    NS_ASSERT_SEED(ns_stack_counter(w.guest, NS_CTR_icmp_rx_echo_reply) == 0);
    NS_ASSERT_SEED(ns_stack_counter(w.gw, NS_CTR_icmp_tx) == 0); /* nor any error */
    ns_close(w.guest, g);
    ns_close(w.guest, r);
    ns_close(w.gw, u);
    ns_sim_free(w.sim);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_until_accepted),
        cmocka_unit_test(test_verdict_reset),
        cmocka_unit_test(test_verdict_unreachable),
        cmocka_unit_test(test_close_before_verdict_resets),
        cmocka_unit_test(test_one_catch_all),
        cmocka_unit_test(test_udp_catch_all_and_no_forged_echo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
