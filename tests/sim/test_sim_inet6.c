/* tests/sim/test_sim_inet6.c — UDP and TCP over native IPv6: on ::1
 * inside one stack, and between two simulated stacks with IPv6
 * addresses (and a lossy link for TCP).
 *
 * Topology: alice 192.0.2.10/24 + 2001:db8::10/64 ─link─ bob
 * 192.0.2.20/24 + 2001:db8::20/64 (the IPv4 addresses only because an
 * interface is made with one; no IPv4 is sent here).
 *
 * Checked: names are sockaddr_in6 with the IPv6 addresses; bytes arrive
 * whole and in order (datagrams larger than the MTU are fragmented and
 * reassembled); a connected UDP socket hears ICMPv6 port unreachable as
 * ECONNREFUSED; TCP's MSS is the path MTU minus 60; a Packet Too Big
 * lowers a connection's MSS; raw ICMPv6 sockets carry echo between the
 * stacks (ping -6's job) and see a Parameter Problem for a protocol
 * nobody has; a TSO6 device is handed TCPv6 GSO packets (a TSO-only one
 * none); every buffer is back in its pool at the end.
 *
 * Replay a failure: NETSOCK_SEED=<seed> build-test/tests/test_sim_inet6
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "netsock/dev.h"
#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "net/net.h"
#include "tcp/tcp.h"
#include "wire/ipv6.h"
#include "testutil.h"

#define CHECK(cond) NS_ASSERT_SEED(cond)
#define PORT 4000

struct world {
    struct ns_sim *sim;
    struct ns_stack *a, *b;
    struct ns_simlink *link;
};

static void attach(struct ns_stack *st, struct ns_simlink *link, unsigned port, const char *v4,
                   const char *v6)
{
    struct ns_dev *dev = ns_simlink_port(link, port, NULL);
    assert_non_null(dev);
    int ifindex = ns_if_add(st, dev);
    assert_true(ifindex > 0);
    struct in_addr a;
    struct in6_addr a6;
    assert_int_equal(inet_pton(AF_INET, v4, &a), 1);
    assert_int_equal(ns_if_addr_add(st, ifindex, AF_INET, &a, 24), 0);
    assert_int_equal(inet_pton(AF_INET6, v6, &a6), 1);
    assert_int_equal(ns_if_addr_add(st, ifindex, AF_INET6, &a6, 64), 0);
}

static void world_init(struct world *w, uint64_t seed, const struct ns_link_params *p)
{
    memset(w, 0, sizeof(*w));
    w->sim = ns_sim_new(seed);
    assert_non_null(w->sim);
    w->a = ns_sim_add_host(w->sim, "alice", NULL);
    w->b = ns_sim_add_host(w->sim, "bob", NULL);
    w->link = ns_sim_add_link(w->sim, "link", 2, p);
    attach(w->a, w->link, 0, "192.0.2.10", "2001:db8::10");
    attach(w->b, w->link, 1, "192.0.2.20", "2001:db8::20");
    ns_sim_run_for(w->sim, 100000);
}

/* Close what is open, let the timers run out, require every pool full. */
static void world_finish(struct world *w)
{
    struct ns_stack *hosts[2] = {w->a, w->b};
    struct ns_sock_info info[64];
    for (int i = 0; i < 2; i++) {
        int n = ns_sock_list(hosts[i], info, 64);
        for (int k = 0; k < n && k < 64; k++)
            ns_close(hosts[i], info[k].fd);
    }
    ns_sim_run_for(w->sim, 200000000); /* TIME_WAIT, reassembly, neighbours */
    for (int i = 0; i < 2; i++) {
        struct ns_pbuf_pool_stats ps;
        ns_stack_pbuf_stats(hosts[i], &ps);
        CHECK(ps.pool_free == ps.pool_total);
        CHECK(ps.heap_bytes == 0);
    }
    ns_sim_free(w->sim);
}

static struct sockaddr_in6 sa6(const char *text, uint16_t port)
{
    struct sockaddr_in6 s;
    memset(&s, 0, sizeof(s));
    s.sin6_family = AF_INET6;
    s.sin6_port = htons(port);
    assert_int_equal(inet_pton(AF_INET6, text, &s.sin6_addr), 1);
    return s;
}

static bool sa6_is(const struct sockaddr_in6 *s, socklen_t len, const char *text, uint16_t port)
{
    struct sockaddr_in6 want = sa6(text, port);
    return len == sizeof(*s) && s->sin6_family == AF_INET6 &&
           memcmp(&s->sin6_addr, &want.sin6_addr, 16) == 0 &&
           (port == 0 || s->sin6_port == want.sin6_port);
}

static uint16_t local_port(struct ns_stack *st, int fd)
{
    struct sockaddr_in6 s;
    socklen_t len = sizeof(s);
    CHECK(ns_getsockname(st, fd, (struct sockaddr *)&s, &len) == 0);
    return ntohs(s.sin6_port);
}

static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)((i * 131u + seed * 7u) >> 3);
}

/* ---- UDP ---------------------------------------------------------------------------- */

/* [::1] inside one stack: bind, sendto, recvfrom names the sender
 * [::1]:port (28 bytes), IPV6_RECVHOPLIMIT and IPV6_RECVPKTINFO give the
 * hop limit and the destination; :: as a destination is ::1 (RFC 4291
 * §2.5.3); an address that is not the host's is EADDRNOTAVAIL. */
static void test_udp_loopback6(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, ns_test_seed(61), NULL);
    struct ns_stack *a = w.a;
    int r = ns_socket(a, AF_INET6, SOCK_DGRAM, 0), s = ns_socket(a, AF_INET6, SOCK_DGRAM, 0);
    CHECK(r >= 0 && s >= 0);
    struct sockaddr_in6 other = sa6("2001:db8::99", PORT);
    errno = 0;
    CHECK(ns_bind(a, r, (struct sockaddr *)&other, sizeof(other)) == -1 && errno == EADDRNOTAVAIL);
    struct sockaddr_in6 lo = sa6("::1", PORT);
    CHECK(ns_bind(a, r, (struct sockaddr *)&lo, sizeof(lo)) == 0);
    int one = 1;
    CHECK(ns_setsockopt(a, r, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) == 0);
    CHECK(ns_setsockopt(a, r, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) == 0);
    int hops = 7;
    CHECK(ns_setsockopt(a, s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops)) == 0);
    CHECK(ns_sendto(a, s, "hello", 5, 0, (struct sockaddr *)&lo, sizeof(lo)) == 5);
    uint16_t sport = local_port(a, s);
    CHECK(sport != 0);

    char buf[64];
    char ctl[256];
    struct sockaddr_in6 from;
    struct iovec iov = {buf, sizeof(buf)};
    struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
                       .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    CHECK(ns_recvmsg(a, r, &m, 0) == 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK(sa6_is(&from, m.msg_namelen, "::1", sport));
    int got_hops = -1;
    bool got_pi = false;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)
            memcpy(&got_hops, CMSG_DATA(c), sizeof(got_hops));
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            got_pi = IN6_IS_ADDR_LOOPBACK(&pi.ipi6_addr);
        }
    }
    CHECK(got_hops == 7);
    CHECK(got_pi);

    /* Connected to [::]:PORT, which is [::1]:PORT; the peer's name. */
    struct sockaddr_in6 any = sa6("::", PORT);
    CHECK(ns_connect(a, s, (struct sockaddr *)&any, sizeof(any)) == 0);
    struct sockaddr_in6 peer;
    socklen_t plen = sizeof(peer);
    CHECK(ns_getpeername(a, s, (struct sockaddr *)&peer, &plen) == 0);
    CHECK(sa6_is(&peer, plen, "::1", PORT));
    plen = sizeof(peer);
    CHECK(ns_getsockname(a, s, (struct sockaddr *)&peer, &plen) == 0);
    CHECK(sa6_is(&peer, plen, "::1", sport));
    CHECK(ns_send(a, s, "again", 5, 0) == 5);
    socklen_t flen = sizeof(from);
    CHECK(ns_recvfrom(a, r, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen) == 5);
    CHECK(memcmp(buf, "again", 5) == 0);
    ns_close(a, r);
    ns_close(a, s);
    world_finish(&w);
}

/* Between two stacks: bob's server on [2001:db8::20]:PORT echoes what
 * alice's connected socket sends, datagrams of 1 byte to 20000 bytes (over
 * a 1500-byte link: fragmented, reassembled), each byte checked, both
 * names IPv6. An AF_INET socket on the port's IPv4 address sees none of it. */
static void test_udp_between_stacks(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, ns_test_seed(62), NULL);
    int srv = ns_socket(w.b, AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 baddr = sa6("2001:db8::20", PORT);
    CHECK(ns_bind(w.b, srv, (struct sockaddr *)&baddr, sizeof(baddr)) == 0);
    /* An IPv4 socket on the port's IPv4 address sees none of it. */
    int v4 = ns_socket(w.b, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in b4 = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    inet_pton(AF_INET, "192.0.2.20", &b4.sin_addr);
    CHECK(ns_bind(w.b, v4, (struct sockaddr *)&b4, sizeof(b4)) == 0);
    int c = ns_socket(w.a, AF_INET6, SOCK_DGRAM, 0);
    CHECK(ns_connect(w.a, c, (struct sockaddr *)&baddr, sizeof(baddr)) == 0);
    struct sockaddr_in6 me;
    socklen_t mlen = sizeof(me);
    CHECK(ns_getsockname(w.a, c, (struct sockaddr *)&me, &mlen) == 0);
    CHECK(sa6_is(&me, mlen, "2001:db8::10", 0));
    uint16_t cport = ntohs(me.sin6_port);

    static const size_t sizes[] = {1, 100, 1232, 1452, 1453, 3000, 8000, 20000, 65527};
    static uint8_t out[65527], in[65536];
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        fill(out, sizes[i], (uint32_t)i);
        CHECK(ns_send(w.a, c, out, sizes[i], 0) == (ssize_t)sizes[i]);
        ns_sim_run_for(w.sim, 100000);
        struct sockaddr_in6 from;
        socklen_t flen = sizeof(from);
        CHECK(ns_recvfrom(w.b, srv, in, sizeof(in), MSG_DONTWAIT, (struct sockaddr *)&from,
                          &flen) == (ssize_t)sizes[i]);
        CHECK(memcmp(in, out, sizes[i]) == 0);
        CHECK(sa6_is(&from, flen, "2001:db8::10", cport));
        /* The echo, to the name recvfrom gave. */
        CHECK(ns_sendto(w.b, srv, in, sizes[i], 0, (struct sockaddr *)&from, flen) ==
              (ssize_t)sizes[i]);
        ns_sim_run_for(w.sim, 100000);
        CHECK(ns_recv(w.a, c, in, sizeof(in), MSG_DONTWAIT) == (ssize_t)sizes[i]);
        CHECK(memcmp(in, out, sizes[i]) == 0);
    }
    errno = 0;
    CHECK(ns_send(w.a, c, out, 65528, 0) == -1 && errno == EMSGSIZE);
    char b1;
    errno = 0;
    CHECK(ns_recv(w.b, v4, &b1, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN);
    world_finish(&w);
}

/* RFC 4443 §3.1 code 4: a datagram to a port nobody has is answered
 * port unreachable; the connected sender's next call says ECONNREFUSED
 * (Linux __udp6_lib_err), an unconnected one hears nothing. */
static void test_udp_port_unreachable6(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, ns_test_seed(63), NULL);
    struct sockaddr_in6 closed = sa6("2001:db8::20", 9999);
    int c = ns_socket(w.a, AF_INET6, SOCK_DGRAM, 0), u = ns_socket(w.a, AF_INET6, SOCK_DGRAM, 0);
    CHECK(ns_connect(w.a, c, (struct sockaddr *)&closed, sizeof(closed)) == 0);
    CHECK(ns_send(w.a, c, "x", 1, 0) == 1);
    CHECK(ns_sendto(w.a, u, "x", 1, 0, (struct sockaddr *)&closed, sizeof(closed)) == 1);
    ns_sim_run_for(w.sim, 100000);
    struct pollfd p = {.fd = c, .events = POLLIN};
    CHECK(ns_poll(w.a, &p, 1, 0) == 1 && (p.revents & POLLERR));
    char b;
    errno = 0;
    CHECK(ns_recv(w.a, c, &b, 1, MSG_DONTWAIT) == -1 && errno == ECONNREFUSED);
    errno = 0;
    CHECK(ns_recv(w.a, u, &b, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN);
    /* An unreachable destination (no route for 2001:db9::/32). */
    struct sockaddr_in6 far = sa6("2001:db9::1", 7);
    errno = 0;
    CHECK(ns_connect(w.a, u, (struct sockaddr *)&far, sizeof(far)) == -1 && errno == ENETUNREACH);
    world_finish(&w);
}


/* ---- TCP ---------------------------------------------------------------------------- */

/* Move `total` bytes from (sa, fa) to (sb, fb), both non-blocking, the
 * simulation stepped between; every byte checked against fill(). True
 * when all arrived before `limit_us` of virtual time. */
static bool pump(struct world *w, struct ns_stack *sa, int fa, struct ns_stack *sb, int fb,
                 size_t total, uint64_t limit_us)
{
    static uint8_t src[65536], got[65536];
    size_t sent = 0, recvd = 0;
    uint64_t end = ns_sim_now(w->sim) + limit_us;
    while (recvd < total && ns_sim_now(w->sim) < end) {
        while (sent < total) {
            size_t n = total - sent < sizeof(src) ? total - sent : sizeof(src);
            for (size_t i = 0; i < n; i++)
                src[i] = (uint8_t)((sent + i) * 131u >> 3);
            ssize_t k = ns_send(sa, fa, src, n, MSG_DONTWAIT);
            if (k <= 0)
                break;
            sent += (size_t)k;
        }
        for (;;) {
            ssize_t k = ns_recv(sb, fb, got, sizeof(got), MSG_DONTWAIT);
            if (k <= 0)
                break;
            for (ssize_t i = 0; i < k; i++)
                if (got[i] != (uint8_t)((recvd + (size_t)i) * 131u >> 3))
                    return false;
            recvd += (size_t)k;
        }
        ns_sim_run_for(w->sim, 1000);
    }
    return recvd == total;
}

static int mss_of(struct ns_stack *st, int fd)
{
    int v = 0;
    socklen_t len = sizeof(v);
    CHECK(ns_getsockopt(st, fd, IPPROTO_TCP, TCP_MAXSEG, &v, &len) == 0);
    return v;
}

/* Listen, connect, accept over IPv6 between st_c and st_s (the same
 * stack for ::1); the accepted socket's peer and the client's names are
 * IPv6. Returns the client's fd, the server's in *srv. */
static int tcp6_pair(struct world *w, struct ns_stack *st_c, struct ns_stack *st_s,
                     const char *srv_addr, const char *cli_addr, int *srv)
{
    int l = ns_socket(st_s, AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in6 any = sa6("::", PORT), dst = sa6(srv_addr, PORT);
    CHECK(ns_bind(st_s, l, (struct sockaddr *)&any, sizeof(any)) == 0);
    CHECK(ns_listen(st_s, l, 8) == 0);
    int c = ns_socket(st_c, AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    errno = 0;
    CHECK(ns_connect(st_c, c, (struct sockaddr *)&dst, sizeof(dst)) == -1 && errno == EINPROGRESS);
    struct sockaddr_in6 peer;
    socklen_t plen = sizeof(peer);
    int s = -1;
    for (int i = 0; i < 1000 && s < 0; i++) {
        ns_sim_run_for(w->sim, 1000);
        plen = sizeof(peer);
        s = ns_accept4(st_s, l, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK);
    }
    CHECK(s >= 0);
    ns_sim_run_for(w->sim, 10000);
    uint16_t cport = local_port(st_c, c);
    CHECK(sa6_is(&peer, plen, cli_addr, cport));
    struct sockaddr_in6 me;
    socklen_t mlen = sizeof(me);
    CHECK(ns_getsockname(st_c, c, (struct sockaddr *)&me, &mlen) == 0);
    CHECK(sa6_is(&me, mlen, cli_addr, cport));
    mlen = sizeof(me);
    CHECK(ns_getpeername(st_c, c, (struct sockaddr *)&me, &mlen) == 0);
    CHECK(sa6_is(&me, mlen, srv_addr, PORT));
    mlen = sizeof(me);
    CHECK(ns_getsockname(st_s, s, (struct sockaddr *)&me, &mlen) == 0);
    CHECK(sa6_is(&me, mlen, srv_addr, PORT));
    ns_close(st_s, l);
    *srv = s;
    return c;
}

/* TCP over [::1] inside one stack: the handshake, 1 MB each way, the
 * names, an orderly close. */
static void test_tcp_loopback6(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, ns_test_seed(64), NULL);
    int s, c = tcp6_pair(&w, w.a, w.a, "::1", "::1", &s);
    CHECK(pump(&w, w.a, c, w.a, s, 1 << 20, 60000000));
    CHECK(pump(&w, w.a, s, w.a, c, 1 << 20, 60000000));
    CHECK(ns_shutdown(w.a, c, SHUT_WR) == 0);
    ns_sim_run_for(w.sim, 100000);
    char b;
    CHECK(ns_recv(w.a, s, &b, 1, MSG_DONTWAIT) == 0);
    ns_close(w.a, c);
    ns_close(w.a, s);
    world_finish(&w);
}

/* Between two stacks over a link losing, reordering and duplicating
 * frames: 2 MB each way arrive whole and in order (SACK, timestamps,
 * window scaling negotiated as over IPv4); the MSS is 1500 - 60 - 12. */
static void test_tcp_between_stacks_lossy(void **state)
{
    (void)state;
    uint64_t seed = ns_test_seed(65);
    for (uint64_t k = 0; k < 3; k++) {
        struct ns_link_params p;
        ns_link_params_default(&p);
        p.rate_bps = 100000000;
        p.delay_us = 2000;
        p.loss = 0.02;
        p.reorder = 0.02;
        p.reorder_delay_us = 3000;
        p.dup = 0.01;
        struct world w;
        world_init(&w, seed + k, &p);
        int s, c = tcp6_pair(&w, w.a, w.b, "2001:db8::20", "2001:db8::10", &s);
        CHECK(mss_of(w.a, c) == 1500 - 60 - 12);
        CHECK(mss_of(w.b, s) == 1500 - 60 - 12);
        CHECK(pump(&w, w.a, c, w.b, s, 2 << 20, 120000000));
        CHECK(pump(&w, w.b, s, w.a, c, 2 << 20, 120000000));
        ns_close(w.a, c);
        ns_close(w.b, s);
        world_finish(&w);
    }
}

/* RFC 8201 §4-§5: a Packet Too Big about a segment in flight lowers the
 * path MTU (never below 1280) and with it the connection's MSS; the
 * transfer goes on, whole. The error is sent over the link by bob's
 * stack, quoting alice's segment as a router would. */
static void test_tcp_packet_too_big(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, ns_test_seed(66), NULL);
    int s, c = tcp6_pair(&w, w.a, w.b, "2001:db8::20", "2001:db8::10", &s);
    CHECK(pump(&w, w.a, c, w.b, s, 100000, 10000000));
    CHECK(mss_of(w.a, c) == 1428);
    /* The quote: alice's IPv6 header and the start of a TCP header at a
     * sequence number inside the window (SND.UNA itself). */
    uint8_t msg[8 + 40 + 20];
    memset(msg, 0, sizeof(msg));
    msg[0] = 2; /* Packet Too Big */
    uint32_t mtu = htonl(1000); /* below the minimum: 1280 is used */
    memcpy(msg + 4, &mtu, 4);
    uint8_t *ip = msg + 8;
    ip[0] = 0x60;
    ip[5] = 20;
    ip[6] = 6;
    ip[7] = 64;
    struct in6_addr a6, b6;
    inet_pton(AF_INET6, "2001:db8::10", &a6);
    inet_pton(AF_INET6, "2001:db8::20", &b6);
    memcpy(ip + 8, &a6, 16);
    memcpy(ip + 24, &b6, 16);
    uint8_t *th = ip + 40;
    uint16_t cport = htons(local_port(w.a, c)), sport = htons(PORT);
    memcpy(th, &cport, 2);
    memcpy(th + 2, &sport, 2);
    /* Any sequence number from SND.UNA to SND.MAX is accepted: send data
     * so that some is in flight, and quote SND.UNA. */
    static uint8_t junk[200000];
    CHECK(ns_send(w.a, c, junk, sizeof(junk), MSG_DONTWAIT) == (ssize_t)sizeof(junk));
    ns_sim_run_for(w.sim, 100);
    struct ns_ip6_addr aa, bb;
    memcpy(aa.b, &a6, 16);
    memcpy(bb.b, &b6, 16);
    struct ns_flow f = ns_flow_ip6(&aa, ntohs(cport), &bb, PORT, NS_IPPROTO_TCP);
    struct tcpcb *tp = tcp_lookup(w.a, &f);
    CHECK(tp != NULL);
    uint32_t seq = htonl(tp->snd_una);
    memcpy(th + 4, &seq, 4);
    th[12] = 0x50;
    CHECK(icmp6_send(w.b, NULL, NULL, &aa, 0, msg, sizeof(msg)) == 0);
    ns_sim_run_for(w.sim, 10000);
    CHECK(mss_of(w.a, c) == 1280 - 60 - 12);
    /* What was queued, then more, arrive whole. */
    uint8_t buf[65536];
    size_t got = 0;
    for (int i = 0; i < 100000 && got < sizeof(junk); i++) {
        ssize_t k = ns_recv(w.b, s, buf, sizeof(buf), MSG_DONTWAIT);
        if (k > 0)
            got += (size_t)k;
        else
            ns_sim_run_for(w.sim, 1000);
    }
    CHECK(got == sizeof(junk));
    CHECK(pump(&w, w.a, c, w.b, s, 500000, 30000000));
    ns_close(w.a, c);
    ns_close(w.b, s);
    world_finish(&w);
}

/* ---- raw ICMPv6 ---------------------------------------------------------------------- */

static uint64_t counter(struct ns_stack *st, enum ns_counter c)
{
    uint64_t v[NS_CTR__COUNT];
    ns_stack_counters(st, v);
    return v[c];
}

/* One datagram from a raw IPv6 socket, its sender, the hop limit of its
 * IPV6_HOPLIMIT control message (-1 without one); -1 when none is queued. */
static ssize_t raw6_recv(struct ns_stack *st, int fd, uint8_t *buf, size_t cap,
                         struct sockaddr_in6 *from, socklen_t *flen, int *hops)
{
    char ctl[128];
    struct iovec iov = {buf, cap};
    struct msghdr m = {.msg_name = from, .msg_namelen = *flen, .msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    ssize_t n = ns_recvmsg(st, fd, &m, MSG_DONTWAIT);
    *flen = m.msg_namelen;
    *hops = -1;
    if (n >= 0)
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
            if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)
                memcpy(hops, CMSG_DATA(c), sizeof(*hops));
    return n;
}

/* Echo over raw ICMPv6 between two stacks (what ping -6 does): alice's
 * raw socket sends Echo Requests whose checksum field holds rubbish (the
 * stack fills it in, RFC 3542 §3.1) at 56, 1452 and 8000 bytes of data
 * (the last fragmented and reassembled both ways); bob's stack answers
 * (RFC 4443 §4.2) and bob's own raw ICMPv6 socket sees each request;
 * alice's, filtered to Echo Reply (ICMP6_FILTER: none of the neighbour
 * discovery), sees only the replies,
 * whole, named [2001:db8::20]:0, with hop limit 64 and a checksum that
 * verifies, within 10 ms of virtual time each. */
static void test_raw6_echo_between_stacks(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, ns_test_seed(64), NULL);
    int ra = ns_socket(w.a, AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    int rb = ns_socket(w.b, AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    CHECK(ra >= 0 && rb >= 0);
    struct icmp6_filter f;
    ICMP6_FILTER_SETBLOCKALL(&f);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
    CHECK(ns_setsockopt(w.a, ra, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f)) == 0);
    /* Bob's: requests only (not the neighbour discovery around them). */
    ICMP6_FILTER_SETBLOCKALL(&f);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REQUEST, &f);
    CHECK(ns_setsockopt(w.b, rb, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f)) == 0);
    int on = 1;
    CHECK(ns_setsockopt(w.a, ra, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof(on)) == 0);
    struct sockaddr_in6 bob = sa6("2001:db8::20", 0);
    static const size_t sizes[] = {56, 1452, 8000};
    static uint8_t req[8 + 8000], in[65536];
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len = 8 + sizes[i];
        fill(req + 8, sizes[i], (uint32_t)i);
        req[0] = ICMP6_ECHO_REQUEST;
        req[1] = 0;
        req[2] = 0xbe; /* rubbish the stack replaces */
        req[3] = 0xef;
        req[4] = 0x12, req[5] = 0x34, req[6] = 0, req[7] = (uint8_t)(i + 1);
        CHECK(ns_sendto(w.a, ra, req, len, 0, (struct sockaddr *)&bob, sizeof(bob)) ==
              (ssize_t)len);
        ns_sim_run_for(w.sim, 10000);
        struct sockaddr_in6 from;
        socklen_t flen = sizeof(from);
        int hops;
        ssize_t n = raw6_recv(w.a, ra, in, sizeof(in), &from, &flen, &hops);
        CHECK(n == (ssize_t)len);
        CHECK(in[0] == ICMP6_ECHO_REPLY && in[1] == 0 && in[7] == i + 1);
        CHECK(memcmp(in + 8, req + 8, sizes[i]) == 0);
        CHECK(sa6_is(&from, flen, "2001:db8::20", 0) && from.sin6_port == 0);
        CHECK(hops == 64);
        struct ns_ip6_addr s6, d6;
        memcpy(s6.b, &from.sin6_addr, 16);
        inet_pton(AF_INET6, "2001:db8::10", d6.b);
        CHECK(ns_ip6_upper_csum(&s6, &d6, NS_IPPROTO_ICMPV6, in, (size_t)n) == 0);
        flen = sizeof(from);
        CHECK(raw6_recv(w.a, ra, in, sizeof(in), &from, &flen, &hops) == -1 && errno == EAGAIN);
        /* Bob's raw socket got a copy of the request, checksum right. */
        flen = sizeof(from);
        n = raw6_recv(w.b, rb, in, sizeof(in), &from, &flen, &hops);
        CHECK(n == (ssize_t)len && in[0] == ICMP6_ECHO_REQUEST);
        CHECK(sa6_is(&from, flen, "2001:db8::10", 0));
        CHECK(ns_ip6_upper_csum(&d6, &s6, NS_IPPROTO_ICMPV6, in, (size_t)n) == 0);
    }
    CHECK(counter(w.b, NS_CTR_icmp6_tx_echo_reply) == 3);
    CHECK(counter(w.a, NS_CTR_raw6_tx) == 3);
    world_finish(&w);
}

/* A protocol neither stack implements (253, RFC 3692), over raw IPv6
 * with IPV6_CHECKSUM: with a raw socket of that protocol at bob it is
 * delivered there (and no Parameter Problem comes back); without one,
 * bob answers Parameter Problem code 1 pointing at the Next Header
 * (RFC 8200 §4), which alice's raw ICMPv6 socket, filtered to that
 * type, receives. */
static void test_raw6_unknown_proto(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, ns_test_seed(65), NULL);
    int pa = ns_socket(w.a, AF_INET6, SOCK_RAW, 253);
    int ia = ns_socket(w.a, AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    int pb = ns_socket(w.b, AF_INET6, SOCK_RAW, 253);
    struct icmp6_filter f;
    ICMP6_FILTER_SETBLOCKALL(&f);
    ICMP6_FILTER_SETPASS(ICMP6_PARAM_PROB, &f);
    CHECK(ns_setsockopt(w.a, ia, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f)) == 0);
    int two = 2;
    CHECK(ns_setsockopt(w.a, pa, IPPROTO_IPV6, IPV6_CHECKSUM, &two, sizeof(two)) == 0);
    CHECK(ns_setsockopt(w.b, pb, IPPROTO_IPV6, IPV6_CHECKSUM, &two, sizeof(two)) == 0);
    struct sockaddr_in6 bob = sa6("2001:db8::20", 0);
    uint8_t msg[16] = {'n', 's', 0, 0, 'e', 'x', 'p', 'e', 'r', 'i', 'm', 'e', 'n', 't', '!', '!'};
    CHECK(ns_sendto(w.a, pa, msg, sizeof(msg), 0, (struct sockaddr *)&bob, sizeof(bob)) == 16);
    ns_sim_run_for(w.sim, 10000);
    uint8_t in[1500];
    struct sockaddr_in6 from;
    socklen_t flen = sizeof(from);
    int hops;
    CHECK(raw6_recv(w.b, pb, in, sizeof(in), &from, &flen, &hops) == 16);
    CHECK(memcmp(in + 4, msg + 4, 12) == 0);
    flen = sizeof(from);
    CHECK(raw6_recv(w.a, ia, in, sizeof(in), &from, &flen, &hops) == -1);
    CHECK(counter(w.b, NS_CTR_ip6_drop_unknown_proto) == 0);
    ns_close(w.b, pb);
    ns_sim_run_for(w.sim, 1100000); /* past the ICMPv6 rate limit's interval */
    CHECK(ns_sendto(w.a, pa, msg, sizeof(msg), 0, (struct sockaddr *)&bob, sizeof(bob)) == 16);
    ns_sim_run_for(w.sim, 10000);
    flen = sizeof(from);
    ssize_t n = raw6_recv(w.a, ia, in, sizeof(in), &from, &flen, &hops);
    CHECK(n == 8 + 40 + 16);
    CHECK(in[0] == ICMP6_PARAM_PROB && in[1] == ICMP6_PARAMPROB_NEXTHEADER);
    CHECK((in[4] << 24 | in[5] << 16 | in[6] << 8 | in[7]) == 6); /* the Next Header field */
    CHECK(sa6_is(&from, flen, "2001:db8::20", 0));
    CHECK(counter(w.b, NS_CTR_ip6_drop_unknown_proto) == 1);
    world_finish(&w);
}

/* ---- TSO6 ------------------------------------------------------------------------------ */

/* A NIC over a simulated port offering `offloads`: it counts the GSO
 * packets the stack hands it by type, checks it is handed only what it
 * offers, and does the work (ns_gso_segment, ns_pbuf_csum_finish)
 * before the wire. */
struct tso_nic {
    struct ns_dev dev;
    struct ns_dev *inner;
    unsigned gso4, gso6; /* GSO packets handed over */
    uint32_t max_len;    /* the longest frame handed over */
};

static int tso_nic_xmit(struct ns_dev *dev, struct ns_pbuf *pb, uint64_t now_us)
{
    struct tso_nic *n = (struct tso_nic *)dev;
    if (pb->len > n->max_len)
        n->max_len = pb->len;
    struct ns_pbuf_queue q;
    ns_pbuf_queue_init(&q);
    if (pb->gso_size) {
        bool v6 = pb->gso_type == NS_GSO_TCPV6;
        CHECK(dev->offloads & (v6 ? NS_DEV_OFF_TSO6 : NS_DEV_OFF_TSO));
        CHECK(pb->len <= NS_ETH_HLEN + dev->gso_max_size);
        *(v6 ? &n->gso6 : &n->gso4) += 1;
        CHECK(ns_gso_segment(pb, NS_ETH_HLEN, &q) > 0);
    } else {
        CHECK(ns_pbuf_csum_finish(pb) == 0);
        ns_pbuf_queue_push(&q, pb);
    }
    int rc = 0;
    struct ns_pbuf *s;
    while ((s = ns_pbuf_queue_pop(&q))) {
        int r = n->inner->ops->xmit(n->inner, s, now_us);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

static struct ns_pbuf *tso_nic_recv(struct ns_dev *dev, struct ns_pbuf_pool *pool,
                                    uint64_t now_us)
{
    struct tso_nic *n = (struct tso_nic *)dev;
    return n->inner->ops->recv(n->inner, pool, now_us);
}

static uint64_t tso_nic_deadline(struct ns_dev *dev)
{
    struct tso_nic *n = (struct tso_nic *)dev;
    return n->inner->ops->next_deadline(n->inner);
}

static void tso_nic_close(struct ns_dev *dev)
{
    struct tso_nic *n = (struct tso_nic *)dev;
    ns_dev_close(n->inner);
    free(n);
}

static const struct ns_dev_ops tso_nic_ops = {.xmit = tso_nic_xmit,
                                              .recv = tso_nic_recv,
                                              .next_deadline = tso_nic_deadline,
                                              .close = tso_nic_close};

/* TCP over IPv6 from a stack whose device offers TSO6 (as a TAP with
 * TUN_F_TSO6 does) hands it GSO packets of type TCPv6, several MSS long
 * and within the 64 KiB limit; with TSO (TCPv4) alone it hands IPv6
 * nothing of the kind. Either way 1 MiB arrives whole and in order. */
static void test_tcp6_tso6(void **state)
{
    (void)state;
    for (int with6 = 1; with6 >= 0; with6--) {
        struct world w;
        memset(&w, 0, sizeof(w));
        w.sim = ns_sim_new(ns_test_seed(66));
        w.a = ns_sim_add_host(w.sim, "alice", NULL);
        w.b = ns_sim_add_host(w.sim, "bob", NULL);
        w.link = ns_sim_add_link(w.sim, "link", 2, NULL);
        struct tso_nic *n = calloc(1, sizeof(*n));
        assert_non_null(n);
        n->inner = ns_simlink_port(w.link, 0, NULL);
        assert_non_null(n->inner);
        n->dev = *n->inner;
        n->dev.ops = &tso_nic_ops;
        n->dev.offloads = NS_DEV_OFF_TX_CSUM | NS_DEV_OFF_TSO | (with6 ? NS_DEV_OFF_TSO6 : 0);
        n->dev.gso_max_size = NS_IP4_MAX_LEN;
        int ifa = ns_if_add(w.a, &n->dev);
        CHECK(ifa > 0);
        struct in6_addr a6;
        inet_pton(AF_INET6, "2001:db8::10", &a6);
        CHECK(ns_if_addr_add(w.a, ifa, AF_INET6, &a6, 64) == 0);
        attach(w.b, w.link, 1, "192.0.2.20", "2001:db8::20");
        ns_sim_run_for(w.sim, 100000);
        int srv, c = tcp6_pair(&w, w.a, w.b, "2001:db8::20", "2001:db8::10", &srv);
        CHECK(pump(&w, w.a, c, w.b, srv, 1 << 20, 30000000));
        if (with6) {
            CHECK(n->gso6 > 10);
            CHECK(n->max_len > NS_ETH_HLEN + 2 * 1500);
        } else {
            CHECK(n->gso6 == 0);
            CHECK(n->max_len <= NS_ETH_HLEN + 1500);
        }
        CHECK(n->gso4 == 0);
        world_finish(&w);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_loopback6),
        cmocka_unit_test(test_udp_between_stacks),
        cmocka_unit_test(test_udp_port_unreachable6),
        cmocka_unit_test(test_tcp_loopback6),
        cmocka_unit_test(test_tcp_between_stacks_lossy),
        cmocka_unit_test(test_tcp_packet_too_big),
        cmocka_unit_test(test_raw6_echo_between_stacks),
        cmocka_unit_test(test_raw6_unknown_proto),
        cmocka_unit_test(test_tcp6_tso6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
