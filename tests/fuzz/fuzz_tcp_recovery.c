/* tests/fuzz/fuzz_tcp_recovery.c — libFuzzer target for the TCP sender's
 * loss recovery: the SACK scoreboard (RFC 6675), RACK-TLP (RFC 8985), PRR
 * (RFC 6937), reneging and D-SACK undo, fed acknowledgments a peer could
 * send — valid, stale, reordered, reneging or absurd.
 *
 * Setup (a fresh stack per input): 192.0.2.1/24 on a queue device, the
 * peer 192.0.2.10 learnt by ARP; our socket connects, the peer's SYN,ACK
 * permits SACK and carries timestamps and window scale 7; the application
 * writes 256 KiB. Everything the stack sends is taken off the device and
 * dropped (the peer "receives" only what the input's ACKs say).
 *
 * Input: records of 12 bytes, each one ACK from the peer:
 *   [0]      virtual time to advance first, in 250 us units
 *   [1]      bits 0-2: SACK blocks (0-4, more taken as 4); bit 3: write
 *            another 16 KiB first; bit 4: no timestamps; bit 5: zero
 *            window; bit 6: TSecr from the future
 *   [2..3]   cumulative ACK: SND.UNA + this many bytes (big endian; may
 *            pass SND.MAX, which the stack must refuse)
 *   [4..11]  two bytes per block: left edge SND.UNA + 512 * b[0] bytes,
 *            length 512 * (b[1] + 1) (blocks 3 and 4 reuse 0 and 1 mirrored)
 * After each ACK the scoreboard's invariants are checked (tcp_sm_check:
 * records tile [SND.UNA, SND.MAX), the byte counts match the marks) and
 * pipe must not exceed what is outstanding. At the end the socket is
 * closed, time runs out every timer, and every packet buffer must be back
 * in the pool.
 *
 * Run: make fuzz (long), or build-test/tests/fuzz_tcp_recovery -max_total_time=60
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netsock/netsock.h"
#include "netsock/socket.h"
#include "tcp/tcp.h"
#include "wire/bytes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUR_IP 0xc0000201u  /* 192.0.2.1 */
#define PEER_IP 0xc000020au /* 192.0.2.10 */
#define PEER_PORT 40000
#define PEER_ISS 5000u

static const uint8_t our_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x0a};

#define CHECK(c)                                                                \
    do {                                                                        \
        if (!(c))                                                               \
            abort();                                                            \
    } while (0)

struct bench {
    struct ns_stack *st;
    struct ns_dev *dev;
    uint64_t now;
    uint32_t peer_ts;
    uint8_t out[70000];
};

static void drain(struct bench *b)
{
    while (ns_qdev_take(b->dev, b->out, sizeof(b->out)) >= 0)
        ;
}

static void inject(struct bench *b, const uint8_t *frame, size_t len)
{
    CHECK(ns_qdev_inject(b->dev, frame, len) == 0);
    ns_stack_poll(b->st, b->now);
    drain(b);
}

/* Ethernet + IPv4 + TCP from the peer to us. */
static void send_seg(struct bench *b, const struct ns_tcp_repr *th)
{
    uint8_t f[14 + NS_IP4_HLEN + NS_TCP_MAX_HLEN];
    struct ns_eth_repr e = {.ethertype = NS_ETHERTYPE_IPV4};
    memcpy(e.dst, our_mac, 6);
    memcpy(e.src, peer_mac, 6);
    ns_eth_emit(&e, f);
    size_t tl = NS_TCP_HLEN + ns_tcp_opts_len(th);
    uint8_t *tcp = f + 14 + NS_IP4_HLEN;
    ns_tcp_emit(th, tcp);
    ns_wr16(tcp + 16, ns_tcp_csum(PEER_IP, OUR_IP, tcp, tl));
    struct ns_ip4_repr ip = {.hlen = NS_IP4_HLEN, .ttl = 64, .id = 1, .proto = NS_IPPROTO_TCP,
                             .src = PEER_IP, .dst = OUR_IP,
                             .total_len = (uint16_t)(NS_IP4_HLEN + tl)};
    ns_ip4_emit(&ip, f + 14);
    inject(b, f, 14 + NS_IP4_HLEN + tl);
}

/* The peer's ARP request for us: the stack learns its MAC and answers. */
static void learn_peer(struct bench *b)
{
    uint8_t f[14 + NS_ARP_LEN];
    struct ns_eth_repr e = {.ethertype = NS_ETHERTYPE_ARP};
    memset(e.dst, 0xff, 6);
    memcpy(e.src, peer_mac, 6);
    ns_eth_emit(&e, f);
    struct ns_arp_repr a = {.op = NS_ARP_OP_REQUEST, .spa = PEER_IP, .tpa = OUR_IP};
    memcpy(a.sha, peer_mac, 6);
    ns_arp_emit(&a, f + 14);
    inject(b, f, sizeof(f));
}

static void write_more(struct bench *b, int fd, size_t n)
{
    static uint8_t buf[262144];
    if (n > sizeof(buf))
        n = sizeof(buf);
    (void)ns_send(b->st, fd, buf, n, MSG_DONTWAIT);
    ns_stack_poll(b->st, b->now);
    drain(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct bench b;
    struct ns_config cfg;
    ns_config_default(&cfg);
    b.now = 1000000;
    b.peer_ts = 100;
    b.st = ns_stack_new(&cfg, b.now);
    CHECK(b.st);
    b.dev = ns_qdev_new("q", NS_LINK_ETHER, our_mac, 1500);
    CHECK(b.dev);
    int ifx = ns_if_add(b.st, b.dev);
    CHECK(ifx > 0);
    struct in_addr a = {.s_addr = htonl(OUR_IP)};
    CHECK(ns_if_addr_add(b.st, ifx, AF_INET, &a, 24) == 0);
    learn_peer(&b);

    int fd = ns_socket(b.st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CHECK(fd >= 0);
    int sz = 1 << 20;
    ns_setsockopt(b.st, fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(PEER_PORT),
                               .sin_addr.s_addr = htonl(PEER_IP)};
    CHECK(ns_connect(b.st, fd, (struct sockaddr *)&peer, sizeof(peer)) < 0 &&
          errno == EINPROGRESS);
    drain(&b);
    /* Our port, from the socket name. */
    struct sockaddr_in me;
    socklen_t ml = sizeof(me);
    CHECK(ns_getsockname(b.st, fd, (struct sockaddr *)&me, &ml) == 0);
    uint16_t lport = ntohs(me.sin_port);
    struct ns_flow key = ns_flow_ip4(OUR_IP, lport, PEER_IP, PEER_PORT, IPPROTO_TCP);
    struct tcpcb *tp = tcp_lookup(b.st, &key);
    CHECK(tp && tp->state == TCPS_SYN_SENT);
    b.now += 10000;
    struct ns_tcp_repr syn = {.sport = PEER_PORT, .dport = lport, .seq = PEER_ISS,
                              .ack = tp->iss + 1, .flags = NS_TCP_SYN | NS_TCP_ACK,
                              .win = 65535, .has_mss = true, .mss = 1460, .has_wscale = true,
                              .wscale = 7, .sack_ok = true, .has_ts = true,
                              .ts_val = b.peer_ts, .ts_ecr = tcp_ts_now(tp)};
    send_seg(&b, &syn);
    CHECK(tp->state == TCPS_ESTABLISHED && tcp_sack_active(tp));
    write_more(&b, fd, 262144);

    for (size_t off = 0; off + 12 <= size; off += 12) {
        const uint8_t *r = data + off;
        b.now += (uint64_t)r[0] * 250;
        if (r[1] & 0x08)
            write_more(&b, fd, 16384);
        ns_stack_poll(b.st, b.now);
        drain(&b);
        if (tcp_lookup(b.st, &key) != tp)
            break; /* timed out and gone */
        uint32_t una = tp->snd_una;
        struct ns_tcp_repr th = {.sport = PEER_PORT, .dport = lport, .seq = PEER_ISS + 1,
                                 .ack = una + ns_rd16(r + 2), .flags = NS_TCP_ACK,
                                 .win = (r[1] & 0x20) ? 0 : 4096};
        if (!(r[1] & 0x10)) {
            th.has_ts = true;
            th.ts_val = ++b.peer_ts;
            th.ts_ecr = (r[1] & 0x40) ? tcp_ts_now(tp) + 100000 : tcp_ts_now(tp) - r[0] / 4;
        }
        uint8_t n = r[1] & 7;
        th.n_sack = n > NS_TCP_MAX_SACK ? NS_TCP_MAX_SACK : n;
        for (uint8_t k = 0; k < th.n_sack; k++) {
            const uint8_t *bb = r + 4 + 2 * (k % 4);
            uint8_t lo = k < 4 ? bb[0] : bb[1], ln = k < 4 ? bb[1] : bb[0];
            th.sack[k].left = una + 512u * lo;
            th.sack[k].right = th.sack[k].left + 512u * (ln + 1u);
        }
        send_seg(&b, &th);
        if (tcp_lookup(b.st, &key) != tp)
            break;
        tcp_sm_check(tp);
        uint32_t out = tp->snd_max - tp->snd_una;
        CHECK(tp->sacked_bytes <= out && tp->lost_bytes <= out);
        CHECK(tp->retrans_bytes <= tp->lost_bytes);
        CHECK(tcp_pipe(tp) <= out);
    }

    ns_close(b.st, fd);
    for (int i = 0; i < 64; i++) {
        b.now += 60000000;
        ns_stack_poll(b.st, b.now);
        drain(&b);
    }
    struct ns_pbuf_pool_stats ps;
    ns_stack_pbuf_stats(b.st, &ps);
    CHECK(ps.pool_free == ps.pool_total);
    ns_stack_free(b.st);
    return 0;
}
