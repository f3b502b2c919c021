/* examples/rawproto_lib.h — "rp", a tiny reliable message protocol of our
 * own, carried directly in IPv4 over raw sockets.
 *
 * What it shows: a user-defined transport protocol needs nothing from
 * netsock but a raw socket (SOCK_RAW with its own protocol number). The
 * stack builds the IPv4 header on send, and hands every IPv4 datagram of
 * that protocol addressed to this host to the socket, IPv4 header
 * included (raw(7)); no "protocol unreachable" is sent while a raw socket
 * takes the protocol.
 *
 * The protocol: stop-and-wait ARQ (one message in flight), IP protocol 253
 * (RFC 3692: reserved for experimentation and testing). Each packet, after
 * the IPv4 header:
 *
 *    0      1      2      3
 *   +------+------+------+------+
 *   | type | 0    |  checksum   |   type 1 = DATA, 2 = ACK
 *   +------+------+------+------+
 *   |        sequence number     |   DATA: its number; ACK: the DATA acked
 *   +------+------+------+------+
 *   |   length    |  0          |   DATA payload bytes that follow
 *   +------+------+------+------+
 *
 * The checksum is the RFC 1071 Internet checksum over this header and the
 * payload (raw IP has no transport checksum: without it a corrupted
 * message would be delivered). The sender retransmits DATA until the
 * matching ACK arrives, first after rto_us, then doubling the wait each
 * time up to RP_RTO_MAX_US (the backoff of RFC 6298 §5.5: a long outage,
 * such as an ARP request lost and retried a second later, must not use up
 * the tries); the receiver delivers DATA whose number
 * is the one it expects, and ACKs every DATA it gets (a duplicate means
 * its ACK was lost), so each message is delivered once and in order.
 *
 * Sans-IO style, like netsock itself: the caller passes the time in and
 * asks rp_next_deadline() when to call rp_service() again; nothing here
 * blocks or reads a clock. One rp_conn talks to one peer.
 */
#ifndef RAWPROTO_LIB_H
#define RAWPROTO_LIB_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsock/netsock.h"

#define RP_PROTO 253         /* RFC 3692 experimental protocol number */
#define RP_HDR_LEN 12
#define RP_MAX_MSG 1400      /* fits one Ethernet frame with both headers */
#define RP_TYPE_DATA 1
#define RP_TYPE_ACK 2
#define RP_RTO_MAX_US 2000000u /* backoff ceiling, 2 s */

struct rp_stats {
    uint64_t data_sent;      /* DATA transmissions, first ones and retransmissions */
    uint64_t retransmits;
    uint64_t acks_sent;
    uint64_t acked;          /* messages the peer confirmed */
    uint64_t delivered;      /* messages handed to the deliver callback */
    uint64_t dup_data;       /* DATA seen again (our ACK was lost): ACKed, not delivered */
    uint64_t stale_acks;     /* ACKs for something no longer in flight */
    uint64_t bad;            /* packets dropped: too short, bad checksum, unknown type */
};

/* A message arrived, in order, once. `msg` is valid during the call. */
typedef void (*rp_deliver_fn)(void *ctx, uint32_t seq, const uint8_t *msg, size_t len);
/* One line of trace (no newline); NULL for silence. */
typedef void (*rp_log_fn)(void *ctx, uint64_t now_us, const char *line);

struct rp_conn {
    struct ns_stack *st;
    int fd;                  /* raw socket, connected to the peer */
    const char *name;
    uint64_t rto_us;         /* first retransmission timeout */
    unsigned max_tries;      /* transmissions of one message before giving up */

    /* sender */
    bool inflight;
    uint32_t snd_seq;        /* number of the message in flight (or the next one) */
    uint8_t snd_pkt[RP_HDR_LEN + RP_MAX_MSG];
    size_t snd_len;
    unsigned tries;
    uint64_t cur_rto_us;     /* current timeout, doubled by each retransmission */
    uint64_t rto_at_us;      /* when to retransmit */
    int error;               /* ETIMEDOUT once max_tries ran out */

    /* receiver */
    uint32_t rcv_expect;     /* number of the next message to deliver */

    rp_deliver_fn deliver;
    void *deliver_ctx;
    rp_log_fn log;
    void *log_ctx;
    struct rp_stats stats;
};

/* Open a raw socket of protocol RP_PROTO on st, connected to `peer` (so
 * only its packets are received). Returns 0 or -1 with errno set. */
int rp_open(struct rp_conn *c, struct ns_stack *st, const char *name, struct in_addr peer,
            uint64_t rto_us, rp_deliver_fn deliver, void *deliver_ctx);

/* Set the trace hook (NULL: silent). */
void rp_set_log(struct rp_conn *c, rp_log_fn log, void *ctx);

/* Start sending one message (copied). Returns 0, -EBUSY while the previous
 * one is unacknowledged, -EMSGSIZE beyond RP_MAX_MSG, or -errno from the
 * socket. */
int rp_send(struct rp_conn *c, const void *msg, size_t len, uint64_t now_us);

/* True while a message waits for its ACK. */
bool rp_busy(const struct rp_conn *c);

/* Read every packet queued on the socket (ACK, deliver), and retransmit
 * when the timeout has passed. Call when the socket is readable or at
 * rp_next_deadline(). */
void rp_service(struct rp_conn *c, uint64_t now_us);

/* When rp_service() must run next at the latest (UINT64_MAX: only on input). */
uint64_t rp_next_deadline(const struct rp_conn *c);

void rp_close(struct rp_conn *c);

#endif
