/* examples/rawproto_lib.c — the "rp" stop-and-wait protocol over raw IPv4
 * sockets. See rawproto_lib.h for the packet format and the rules.
 *
 * Read first: raw(7) (what a raw socket sends and receives), RFC 3692
 * (experimental protocol numbers), RFC 1071 (the checksum), and any
 * textbook's stop-and-wait ARQ (alternating bit protocol, here with 32-bit
 * numbers so reordered or duplicated old packets cannot be mistaken for
 * new ones).
 */
#include "rawproto_lib.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netsock/socket.h"

static void rp_logf(struct rp_conn *c, uint64_t now_us, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void rp_logf(struct rp_conn *c, uint64_t now_us, const char *fmt, ...)
{
    if (!c->log)
        return;
    char line[160];
    int n = snprintf(line, sizeof(line), "%-6s ", c->name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    c->log(c->log_ctx, now_us, line);
}

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)(v >> 16)), wr16(p + 2, (uint16_t)v); }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) << 16 | rd16(p + 2); }

/* RFC 1071 Internet checksum. */
static uint16_t rp_csum(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += rd16(p + i);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Write a header (and the payload already after it) and its checksum. */
static size_t rp_build(uint8_t *pkt, uint8_t type, uint32_t seq, size_t len)
{
    pkt[0] = type;
    pkt[1] = 0;
    wr16(pkt + 2, 0);
    wr32(pkt + 4, seq);
    wr16(pkt + 8, (uint16_t)len);
    wr16(pkt + 10, 0);
    wr16(pkt + 2, rp_csum(pkt, RP_HDR_LEN + len));
    return RP_HDR_LEN + len;
}

int rp_open(struct rp_conn *c, struct ns_stack *st, const char *name, struct in_addr peer,
            uint64_t rto_us, rp_deliver_fn deliver, void *deliver_ctx)
{
    memset(c, 0, sizeof(*c));
    c->st = st;
    c->name = name;
    c->rto_us = rto_us;
    c->max_tries = 50;
    c->deliver = deliver;
    c->deliver_ctx = deliver_ctx;
    c->fd = ns_socket(st, AF_INET, SOCK_RAW | SOCK_NONBLOCK, RP_PROTO);
    if (c->fd < 0)
        return -1;
    /* connect(2) on a raw socket: send() goes to the peer, and only the
     * peer's packets are queued to us. */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = peer};
    if (ns_connect(st, c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        int e = errno;
        ns_close(st, c->fd);
        errno = e;
        return -1;
    }
    return 0;
}

void rp_set_log(struct rp_conn *c, rp_log_fn log, void *ctx)
{
    c->log = log;
    c->log_ctx = ctx;
}

static int rp_xmit(struct rp_conn *c, const uint8_t *pkt, size_t len)
{
    /* The stack adds the IPv4 header: protocol RP_PROTO, to the peer. */
    ssize_t n = ns_send(c->st, c->fd, pkt, len, 0);
    return n < 0 ? -errno : 0;
}

int rp_send(struct rp_conn *c, const void *msg, size_t len, uint64_t now_us)
{
    if (c->inflight)
        return -EBUSY;
    if (len > RP_MAX_MSG)
        return -EMSGSIZE;
    memcpy(c->snd_pkt + RP_HDR_LEN, msg, len);
    c->snd_len = rp_build(c->snd_pkt, RP_TYPE_DATA, c->snd_seq, len);
    c->inflight = true;
    c->tries = 1;
    c->cur_rto_us = c->rto_us;
    c->rto_at_us = now_us + c->cur_rto_us;
    c->stats.data_sent++;
    rp_logf(c, now_us, "DATA seq=%u len=%zu sent", c->snd_seq, len);
    return rp_xmit(c, c->snd_pkt, c->snd_len);
}

bool rp_busy(const struct rp_conn *c) { return c->inflight; }

uint64_t rp_next_deadline(const struct rp_conn *c)
{
    return c->inflight ? c->rto_at_us : UINT64_MAX;
}

static void rp_send_ack(struct rp_conn *c, uint32_t seq, uint64_t now_us)
{
    uint8_t ack[RP_HDR_LEN];
    rp_build(ack, RP_TYPE_ACK, seq, 0);
    c->stats.acks_sent++;
    (void)now_us;
    rp_xmit(c, ack, sizeof(ack));
}

/* One packet from the peer: p[0..len) after the IPv4 header. */
static void rp_input(struct rp_conn *c, const uint8_t *p, size_t len, uint64_t now_us)
{
    if (len < RP_HDR_LEN || rp_csum(p, len) != 0 || rd16(p + 8) != len - RP_HDR_LEN) {
        c->stats.bad++;
        rp_logf(c, now_us, "dropped a damaged packet (%zu bytes)", len);
        return;
    }
    uint32_t seq = rd32(p + 4);
    switch (p[0]) {
    case RP_TYPE_DATA:
        if (seq == c->rcv_expect) {
            c->rcv_expect++;
            c->stats.delivered++;
            rp_logf(c, now_us, "DATA seq=%u delivered, ACK sent", seq);
            if (c->deliver)
                c->deliver(c->deliver_ctx, seq, p + RP_HDR_LEN, len - RP_HDR_LEN);
            rp_send_ack(c, seq, now_us);
        } else if (seq < c->rcv_expect) {
            /* Our ACK was lost and the sender tried again: ACK again. */
            c->stats.dup_data++;
            rp_logf(c, now_us, "DATA seq=%u again (our ACK was lost), ACK resent", seq);
            rp_send_ack(c, seq, now_us);
        } else {
            c->stats.bad++; /* from the future: a confused peer */
        }
        return;
    case RP_TYPE_ACK:
        if (c->inflight && seq == c->snd_seq) {
            c->inflight = false;
            c->snd_seq++;
            c->stats.acked++;
            rp_logf(c, now_us, "ACK seq=%u received after %u transmission%s", seq, c->tries,
                    c->tries == 1 ? "" : "s");
        } else {
            c->stats.stale_acks++;
        }
        return;
    default:
        c->stats.bad++;
        return;
    }
}

void rp_service(struct rp_conn *c, uint64_t now_us)
{
    uint8_t pkt[60 + RP_HDR_LEN + RP_MAX_MSG];
    for (;;) {
        ssize_t n = ns_recv(c->st, c->fd, pkt, sizeof(pkt), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            continue; /* an ICMP error reported on the socket: try again */
        }
        /* A raw socket receives the IPv4 header too: skip IHL words. */
        size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
        if ((size_t)n < ihl) {
            c->stats.bad++;
            continue;
        }
        rp_input(c, pkt + ihl, (size_t)n - ihl, now_us);
    }
    if (c->inflight && now_us >= c->rto_at_us) {
        if (c->tries >= c->max_tries) {
            c->inflight = false;
            c->error = ETIMEDOUT;
            rp_logf(c, now_us, "DATA seq=%u: no ACK after %u tries, giving up", c->snd_seq,
                    c->tries);
            return;
        }
        c->tries++;
        c->stats.data_sent++;
        c->stats.retransmits++;
        c->cur_rto_us = c->cur_rto_us * 2 > RP_RTO_MAX_US ? RP_RTO_MAX_US : c->cur_rto_us * 2;
        c->rto_at_us = now_us + c->cur_rto_us;
        rp_logf(c, now_us, "DATA seq=%u timed out, retransmission %u (next wait %llu ms)",
                c->snd_seq, c->tries - 1, (unsigned long long)(c->cur_rto_us / 1000));
        rp_xmit(c, c->snd_pkt, c->snd_len);
    }
}

void rp_close(struct rp_conn *c)
{
    if (c->fd >= 0)
        ns_close(c->st, c->fd);
    c->fd = -1;
}
