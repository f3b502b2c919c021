/* tests/sim/test_sim_dhcpd.c — the DHCP server (tools/dhcpd.c) on a
 * netsock stack's UDP socket, and a client written by hand on another
 * stack whose interface has no address yet:
 *
 *   cli (no address) ─link (1 ms)─ srv 192.0.2.2/24 (no route but its network)
 *
 * What the stack must do for a DHCP server, and is checked here:
 *   - srv receives a broadcast to 255.255.255.255 from 0.0.0.0 on port 67
 *     and learns its interface from IP_PKTINFO;
 *   - srv sends to the limited broadcast with SO_BROADCAST through the
 *     interface IP_PKTINFO names although no route covers 255.255.255.255
 *     (and cli sends its DISCOVER so from an interface without an address:
 *     source 0.0.0.0);
 *   - a reply unicast to a client that has no address (RFC 2131 §4.1, no
 *     broadcast bit) reaches its MAC without ARP: ns_neigh_set;
 *   - once cli has its address, a RENEWING request is answered by unicast.
 * And the refusals: IP_PKTINFO naming no interface (ENODEV), ns_neigh_set's.
 *
 * Replay a failure: NETSOCK_SEED=<seed> build-test/tests/test_sim_dhcpd
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/netsock.h"
#include "netsock/sim.h"
#include "netsock/socket.h"
#include "net/net.h" /* arp_lookup */
#include "testutil.h"

#include "../../tools/dhcpd.c"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

struct world {
    struct ns_sim *sim;
    struct ns_stack *srv, *cli;
    int if_s, if_c;
    struct dhcpd *d;
    int cfd; /* cli's socket on 0.0.0.0:68 */
    uint8_t cli_mac[6];
};

static void world_up(struct world *w)
{
    memset(w, 0, sizeof(*w));
    w->sim = ns_sim_new(ns_test_seed(2131));
    assert_non_null(w->sim);
    struct ns_config c;
    ns_config_default(&c);
    w->srv = ns_sim_add_host(w->sim, "srv", &c);
    w->cli = ns_sim_add_host(w->sim, "cli", &c);
    struct ns_link_params p;
    ns_link_params_default(&p);
    p.delay_us = 1000;
    assert_non_null(ns_sim_connect(w->sim, w->srv, w->cli, &p, &w->if_s, &w->if_c));
    struct in_addr a;
    inet_pton(AF_INET, "192.0.2.2", &a);
    assert_int_equal(ns_if_addr_add(w->srv, w->if_s, AF_INET, &a, 24), 0);
    memcpy(w->cli_mac, ns_if_dev(w->cli, w->if_c)->hwaddr, 6);
    ns_sim_run_for(w->sim, 100000);

    struct dhcpd_config dc;
    dhcpd_config_default(&dc, IP(192, 0, 2, 0), 24);
    dc.dns = IP(192, 0, 2, 53);
    dc.mtu = 1400;
    int err = 0;
    w->d = dhcpd_new(w->srv, w->if_s, &dc, &err, NULL);
    assert_non_null(w->d);

    int one = 1;
    w->cfd = ns_socket(w->cli, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(w->cfd >= 0);
    assert_int_equal(ns_setsockopt(w->cli, w->cfd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)), 0);
    assert_int_equal(ns_setsockopt(w->cli, w->cfd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)), 0);
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(DHCP_CLIENT_PORT)};
    assert_int_equal(ns_bind(w->cli, w->cfd, (struct sockaddr *)&any, sizeof(any)), 0);
}

static void world_down(struct world *w)
{
    dhcpd_free(w->d);
    ns_close(w->cli, w->cfd);
    ns_sim_free(w->sim);
}

/* A client message from cli's MAC: BOOTREQUEST, type, then the options
 * given as (code, 4-byte value) pairs (0 ends them). */
static size_t build(const struct world *w, uint8_t *b, uint8_t type, uint16_t flags,
                    uint32_t ciaddr, uint32_t requested, uint32_t server_id)
{
    memset(b, 0, 300);
    b[0] = 1, b[1] = 1, b[2] = 6;
    wr32(b + 4, 0x2131);
    wr16(b + 10, flags);
    wr32(b + 12, ciaddr);
    memcpy(b + 28, w->cli_mac, 6);
    wr32(b + 236, DHCP_MAGIC);
    uint8_t *p = b + 240;
    *p++ = 53, *p++ = 1, *p++ = type;
    if (requested)
        p = opt_put32(p, DHO_REQUESTED_IP, requested);
    if (server_id)
        p = opt_put32(p, DHO_SERVER_ID, server_id);
    *p = 255;
    return 300;
}

/* cli sends len bytes at b to dst:67, out of its interface (IP_PKTINFO),
 * then srv serves and the simulation runs until the reply is on the wire
 * and delivered. */
static void client_send(struct world *w, const uint8_t *b, size_t len, uint32_t dst)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(DHCP_SERVER_PORT),
                             .sin_addr.s_addr = htonl(dst)};
    union dgram_ctl ctl;
    struct iovec iov;
    struct msghdr msg;
    dgram_msg(&msg, &iov, &to, (void *)(uintptr_t)b, len, &ctl, w->if_c);
    assert_int_equal(ns_sendmsg(w->cli, w->cfd, &msg, 0), (ssize_t)len);
    ns_sim_run_for(w->sim, 10000);
    assert_int_equal(dhcpd_service(w->d), 1);
    ns_sim_run_for(w->sim, 10000);
}

/* The reply cli's socket got (type 0 when none), its source, and the
 * destination address it was sent to. */
static struct dhcp_msg client_recv(struct world *w, uint32_t *from, uint32_t *to)
{
    uint8_t buf[1500];
    union dgram_ctl ctl;
    struct sockaddr_in src;
    struct iovec iov;
    struct msghdr msg;
    dgram_msg(&msg, &iov, &src, buf, sizeof(buf), &ctl, 0);
    struct dhcp_msg m;
    memset(&m, 0, sizeof(m));
    ssize_t n = ns_recvmsg(w->cli, w->cfd, &msg, 0);
    if (n < 0)
        return m;
    assert_int_equal(dhcp_parse(buf, (size_t)n, &m), 0);
    *from = ntohl(src.sin_addr.s_addr);
    assert_int_equal(ntohs(src.sin_port), DHCP_SERVER_PORT);
    struct in_pktinfo pi;
    assert_true(dgram_pktinfo(&msg, &pi));
    assert_int_equal(pi.ipi_ifindex, w->if_c);
    *to = ntohl(pi.ipi_addr.s_addr);
    return m;
}

static void test_exchange_over_udp(void **state)
{
    (void)state;
    struct world w;
    world_up(&w);
    uint8_t b[300];
    uint32_t from = 0, to = 0;

    /* DISCOVER from 0.0.0.0 to the limited broadcast, broadcast bit set:
     * the OFFER comes back to 255.255.255.255 from 192.0.2.2:67. */
    client_send(&w, b, build(&w, b, DHCPDISCOVER, DHCP_FLAG_BROADCAST, 0, 0, 0), 0xffffffffu);
    struct dhcp_msg o = client_recv(&w, &from, &to);
    assert_int_equal(o.type, DHCPOFFER);
    assert_int_equal(o.xid, 0x2131);
    assert_int_equal(o.yiaddr, IP(192, 0, 2, 15));
    assert_int_equal(o.server_id, IP(192, 0, 2, 2));
    assert_int_equal(from, IP(192, 0, 2, 2));
    assert_int_equal(to, 0xffffffffu);
    const struct dhcpd_stats *st = &dhcpd_server_of(w.d)->stats;
    assert_int_equal(st->offers, 1);
    assert_int_equal(st->tx_errors, 0);

    /* REQUEST without the broadcast bit: the ACK is unicast to
     * 192.0.2.15 at cli's MAC, with no ARP request (cli could not answer
     * one): cli's IP layer sees a datagram for an address it does not have
     * yet. */
    uint64_t arp_req = ns_stack_counter(w.srv, NS_CTR_arp_tx_request);
    uint64_t not_us = ns_stack_counter(w.cli, NS_CTR_ip_drop_not_for_us);
    client_send(&w, b, build(&w, b, DHCPREQUEST, 0, 0, o.yiaddr, IP(192, 0, 2, 2)), 0xffffffffu);
    assert_int_equal(st->acks, 1);
    assert_int_equal(st->tx_errors, 0);
    assert_int_equal(ns_stack_counter(w.srv, NS_CTR_arp_tx_request), arp_req);
    assert_int_equal(ns_stack_counter(w.cli, NS_CTR_ip_drop_not_for_us), not_us + 1);
    uint8_t mac[6];
    assert_int_equal(arp_lookup(w.srv, w.if_s, IP(192, 0, 2, 15), mac), 0);
    assert_memory_equal(mac, w.cli_mac, 6);
    assert_int_equal(client_recv(&w, &from, &to).type, 0);
    assert_int_equal(dhcpd_server_of(w.d)->leases[0].state, DHCPD_BOUND);

    /* cli takes its address; RENEWING (ciaddr, unicast to the server)
     * gets the ACK unicast to ciaddr, into the socket. */
    struct in_addr a = {htonl(o.yiaddr)};
    assert_int_equal(ns_if_addr_add(w.cli, w.if_c, AF_INET, &a, 24), 0);
    ns_sim_run_for(w.sim, 100000);
    client_send(&w, b, build(&w, b, DHCPREQUEST, 0, o.yiaddr, 0, 0), IP(192, 0, 2, 2));
    struct dhcp_msg ack = client_recv(&w, &from, &to);
    assert_int_equal(ack.type, DHCPACK);
    assert_int_equal(ack.yiaddr, IP(192, 0, 2, 15));
    assert_int_equal(ack.ciaddr, IP(192, 0, 2, 15));
    assert_int_equal(ack.lease_time, 86400);
    assert_int_equal(to, IP(192, 0, 2, 15));

    /* IP_PKTINFO naming an interface that does not exist: ENODEV, as Linux. */
    {
        struct sockaddr_in bc = {.sin_family = AF_INET, .sin_port = htons(67),
                                 .sin_addr.s_addr = htonl(0xffffffffu)};
        union dgram_ctl ctl;
        struct iovec iov;
        struct msghdr msg;
        dgram_msg(&msg, &iov, &bc, b, 300, &ctl, 9);
        assert_int_equal(ns_sendmsg(w.cli, w.cfd, &msg, 0), -1);
        assert_int_equal(errno, ENODEV);
    }

    /* Garbage to port 67 is counted, not answered. */
    memset(b, 0xee, sizeof(b));
    client_send(&w, b, 100, IP(192, 0, 2, 2));
    assert_int_equal(st->drop_malformed, 1);
    assert_int_equal(client_recv(&w, &from, &to).type, 0);
    assert_int_equal(st->rx, 4);
    world_down(&w);
}

static void test_neigh_set_refusals(void **state)
{
    (void)state;
    struct world w;
    world_up(&w);
    static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 9}, mcast[6] = {0x01, 0, 0x5e, 0, 0, 1};
    struct in_addr a, bc, z = {0};
    inet_pton(AF_INET, "192.0.2.77", &a);
    inet_pton(AF_INET, "192.0.2.255", &bc);
    assert_int_equal(ns_neigh_set(w.srv, w.if_s, AF_INET6, &a, mac), -EAFNOSUPPORT);
    assert_int_equal(ns_neigh_set(w.srv, 9, AF_INET, &a, mac), -ENODEV);
    assert_int_equal(ns_neigh_set(w.srv, w.if_s, AF_INET, &a, mcast), -EINVAL);
    assert_int_equal(ns_neigh_set(w.srv, w.if_s, AF_INET, &bc, mac), -EINVAL);
    assert_int_equal(ns_neigh_set(w.srv, w.if_s, AF_INET, &z, mac), -EINVAL);
    assert_int_equal(ns_neigh_set(w.srv, w.if_s, AF_INET, &a, mac), 0);
    uint8_t got[6];
    assert_int_equal(arp_lookup(w.srv, w.if_s, IP(192, 0, 2, 77), got), 0);
    assert_memory_equal(got, mac, 6);
    /* A new MAC replaces the old. */
    static const uint8_t mac2[6] = {0x02, 0, 0, 0, 0, 10};
    assert_int_equal(ns_neigh_set(w.srv, w.if_s, AF_INET, &a, mac2), 0);
    assert_int_equal(arp_lookup(w.srv, w.if_s, IP(192, 0, 2, 77), got), 0);
    assert_memory_equal(got, mac2, 6);
    world_down(&w);
}

int main(int argc, char **argv)
{
    (void)argc;
    ns_test_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exchange_over_udp),
        cmocka_unit_test(test_neigh_set_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
