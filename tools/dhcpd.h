/* tools/dhcpd.h — a DHCP server (RFC 2131, options RFC 2132) for the
 * virtual network of `netsock nat`, and for `netsock host --dhcp-server`.
 *
 * Read first: RFC 2131 §2 (message format), §3.1 (the exchange), §4.1
 * (where replies go), §4.3 (what the server does with each message); RFC
 * 2132 §3, §5, §9 (the options sent). docs/nat.md "DHCP server" is the
 * user's view.
 *
 * Three layers, each usable alone:
 *   - wire: dhcp_parse() validates a BOOTP/DHCP message once into a
 *     struct dhcp_msg; dhcp_emit() writes one. No state, no allocation.
 *   - logic: struct dhcpd_server holds the lease pool and decides the
 *     reply to each message (dhcpd_server_input). No sockets, no clock:
 *     time comes in as now_us.
 *   - socket: struct dhcpd runs the logic on a netsock stack's UDP socket
 *     on port 67 (dhcpd_new, dhcpd_service).
 *
 * Bounds: the lease table has one slot per pool address (at most
 * DHCPD_POOL_MAX); a client finding the pool full gets no offer (counted
 * in no_address). Every malformed or unexpected message is a counted drop.
 */
#ifndef NS_TOOLS_DHCPD_H
#define NS_TOOLS_DHCPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsock/netsock.h"

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_FIXED_LEN 236         /* op .. file, before the magic cookie (RFC 2131 §2) */
#define DHCP_MIN_LEN 240           /* the fixed part and the magic cookie */
#define DHCP_BOOTP_MIN_LEN 300     /* RFC 1542 §2.1: relays may drop shorter BOOTP messages */
#define DHCP_MAX_LEN 576           /* RFC 2131 §2: what every client accepts (IP+UDP included) */
#define DHCP_MAGIC 0x63825363u     /* RFC 2131 §3 */
#define DHCP_FLAG_BROADCAST 0x8000 /* RFC 2131 §2, Figure 2 */
#define DHCP_CLIENT_ID_MAX 64      /* longer client identifiers are refused (bad_client_id) */
#define DHCP_PARAMS_MAX 64         /* parameter request list entries kept */
#define DHCPD_POOL_MAX 4096        /* largest pool, so the largest lease table */

/* Message types, option 53 (RFC 2132 §9.6). */
enum dhcp_type {
    DHCPDISCOVER = 1,
    DHCPOFFER = 2,
    DHCPREQUEST = 3,
    DHCPDECLINE = 4,
    DHCPACK = 5,
    DHCPNAK = 6,
    DHCPRELEASE = 7,
    DHCPINFORM = 8,
};

/* Options (RFC 2132). */
enum {
    DHO_PAD = 0,
    DHO_SUBNET_MASK = 1,
    DHO_ROUTER = 3,
    DHO_DNS = 6,
    DHO_MTU = 26,
    DHO_REQUESTED_IP = 50,
    DHO_LEASE_TIME = 51,
    DHO_OVERLOAD = 52,
    DHO_MSG_TYPE = 53,
    DHO_SERVER_ID = 54,
    DHO_PARAMS = 55,
    DHO_MESSAGE = 56,
    DHO_MAX_SIZE = 57,
    DHO_T1 = 58,
    DHO_T2 = 59,
    DHO_CLIENT_ID = 61,
    DHO_END = 255,
};

/* Why dhcp_parse refused a message (negated). */
enum dhcp_parse_err {
    DHCP_E_SHORT = 1,   /* shorter than the fixed part and the cookie */
    DHCP_E_COOKIE,      /* no magic cookie: BOOTP, or not DHCP at all */
    DHCP_E_HLEN,        /* hlen above 16 */
    DHCP_E_OPTION,      /* an option runs past its area, or no END */
    DHCP_E_BAD_VALUE,   /* an option of the wrong length (type, addresses, times) */
    DHCP_E_CLIENT_ID,   /* client identifier shorter than 2 or above DHCP_CLIENT_ID_MAX */
};

/* A message, validated, in host order (addresses too). */
struct dhcp_msg {
    uint8_t op, htype, hlen, hops;
    uint32_t xid;
    uint16_t secs, flags;
    uint32_t ciaddr, yiaddr, siaddr, giaddr;
    uint8_t chaddr[16];
    /* Options (0 / absent when not present): */
    uint8_t type;               /* 53; 0: none */
    uint32_t requested_ip;      /* 50 */
    uint32_t server_id;         /* 54 */
    uint32_t lease_time;        /* 51 */
    uint16_t max_size;          /* 57 */
    uint8_t client_id_len;      /* 61 */
    uint8_t client_id[DHCP_CLIENT_ID_MAX];
    uint8_t n_params;           /* 55 */
    uint8_t params[DHCP_PARAMS_MAX];
};

/* Validate buf (len bytes, the UDP payload) and fill *m. Options are read
 * from the options field, then file and sname when option 52 says so (RFC
 * 2131 §4.1); of an option given twice the first counts. Unknown options
 * are skipped. Returns 0 or -DHCP_E_*; never reads outside buf. */
int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *m);

/* What a reply carries besides the header fields of struct dhcp_msg. */
struct dhcp_reply_opts {
    uint8_t type;               /* DHCPOFFER, DHCPACK, DHCPNAK */
    uint32_t server_id;
    uint32_t lease_s;           /* 0: no lease time, T1 or T2 (INFORM, NAK) */
    uint32_t mask, router, dns; /* 0: option left out */
    uint16_t mtu;               /* 0: option left out */
    const char *message;        /* option 56 (NAK), or NULL */
};

/* Write the reply m (op, xid, flags, yiaddr, giaddr, chaddr ... as given;
 * the rest zero) with the options of o into buf, padded to
 * DHCP_BOOTP_MIN_LEN. Returns the length, or 0 when cap is too small
 * (cap >= DHCP_MAX_LEN - 28 is always enough). */
size_t dhcp_emit(const struct dhcp_msg *m, const struct dhcp_reply_opts *o, uint8_t *buf,
                 size_t cap);

/* ---- the server's logic ---------------------------------------------------------------- */

struct dhcpd_config {
    uint32_t server;     /* our address: server identifier and source (host order) */
    uint32_t mask;       /* the network's mask (option 1) */
    uint32_t router;     /* option 3; 0: none */
    uint32_t dns;        /* option 6; 0: none */
    uint32_t pool_first; /* first address leased */
    unsigned pool_size;  /* addresses leased: pool_first .. pool_first + pool_size - 1,
                            1 to DHCPD_POOL_MAX, all inside the network */
    uint32_t lease_s;    /* lease time (option 51); T1 and T2 at 1/2 and 7/8 (RFC 2131 §4.4.5) */
    uint16_t mtu;        /* option 26; 0: none */
    uint64_t offer_hold_us;   /* an offered address is kept for the client this long */
    uint64_t decline_hold_us; /* a declined address is not leased again for this long */
};

/* Defaults for the network net/prefix_len (host order) in the shape of
 * slirp4netns and libslirp: server and router at .2, DNS at .3, the pool
 * from .15 (16 addresses: libslirp's NB_BOOTP_CLIENTS), leases of 24 hours,
 * no MTU option, offers held 60 s, declined addresses held 10 minutes. For
 * 10.0.2.0/24: 10.0.2.2, 10.0.2.3, 10.0.2.15 .. 10.0.2.30. */
void dhcpd_config_default(struct dhcpd_config *c, uint32_t net, unsigned prefix_len);

/* 0 when c can run: pool inside the network and of a size from 1 to
 * DHCPD_POOL_MAX, not holding the server's, router's or DNS address nor
 * the network or broadcast address, lease_s >= 1; else -EINVAL with *why
 * the reason (a static string). */
int dhcpd_config_check(const struct dhcpd_config *c, const char **why);

/* Change c by a comma-separated list of KEY=VALUE (the value of
 * `--dhcp-server=`): pool=FIRST-LAST, router=A, dns=A (0.0.0.0: none),
 * lease=SECONDS, mtu=N (68..65535; 0: none). "" changes nothing. Returns
 * 0, or -EINVAL with err naming the bad item (c may then be half
 * changed). The result still needs dhcpd_config_check. */
int dhcpd_config_parse(const char *spec, struct dhcpd_config *c, char *err, size_t errlen);

/* Counters: every message received is counted once under rx_* and, when
 * dropped or refused, under the reason. */
struct dhcpd_stats {
    uint64_t rx;               /* datagrams received on port 67 */
    uint64_t rx_discover, rx_request, rx_decline, rx_release, rx_inform;
    uint64_t drop_malformed;   /* dhcp_parse refused it */
    uint64_t drop_bootp;       /* not DHCP: no cookie, or no message type 53 */
    uint64_t drop_not_request; /* op is not BOOTREQUEST, or htype/hlen not Ethernet */
    uint64_t drop_bad_type;    /* a type a server does not take (OFFER, ACK, NAK, unknown) */
    uint64_t drop_other_server;/* REQUEST/DECLINE/RELEASE naming another server */
    uint64_t no_address;       /* DISCOVER with the pool full: no offer (the refusal counter) */
    uint64_t offers, acks, naks;
    uint64_t declined, released;
    uint64_t drop_other_iface; /* came in on another interface than the one served */
    uint64_t tx_errors;        /* a reply the socket would not send */
};

enum dhcpd_lease_state { DHCPD_FREE, DHCPD_OFFERED, DHCPD_BOUND, DHCPD_DECLINED };

/* One slot of the lease table (one per pool address). */
struct dhcpd_lease {
    uint8_t state;             /* enum dhcpd_lease_state */
    uint8_t key_len;           /* the client: its identifier (61), else 0x01 and chaddr */
    uint8_t key[DHCP_CLIENT_ID_MAX];
    uint8_t mac[6];            /* chaddr, for the listing */
    uint64_t expires_us;       /* OFFERED/BOUND/DECLINED end */
};

struct dhcpd_server {
    struct dhcpd_config cfg;
    struct dhcpd_lease *leases; /* cfg.pool_size; index i is pool_first + i */
    struct dhcpd_stats stats;
};

/* Where and how a reply leaves (RFC 2131 §4.1). */
struct dhcpd_reply {
    uint8_t buf[DHCP_MAX_LEN];
    size_t len;
    uint32_t dst;              /* host order: 255.255.255.255, ciaddr, yiaddr or giaddr */
    uint16_t dport;            /* 68, or 67 to a relay */
    bool to_mac;               /* unicast to yiaddr at mac, which has no address yet to
                                  answer ARP with: the caller sets the neighbour entry */
    uint8_t mac[6];
};

/* Set up s with c (checked by dhcpd_config_check first). 0, -EINVAL or
 * -ENOMEM. */
int dhcpd_server_init(struct dhcpd_server *s, const struct dhcpd_config *c);
void dhcpd_server_destroy(struct dhcpd_server *s);

/* Take one message (the UDP payload from port 68 or a relay's 67) at
 * now_us. Returns 1 with *r the reply to send, 0 when nothing is to be
 * sent (dropped, counted, or a message that gets no answer: RELEASE,
 * DECLINE, a REQUEST for another server). */
int dhcpd_server_input(struct dhcpd_server *s, const uint8_t *buf, size_t len, uint64_t now_us,
                       struct dhcpd_reply *r);

/* The pool address of lease slot i. */
static inline uint32_t dhcpd_lease_addr(const struct dhcpd_server *s, unsigned i)
{
    return s->cfg.pool_first + i;
}

/* ---- on a netsock stack ------------------------------------------------------------------ */

struct dhcpd;

/* Serve DHCP on interface ifindex of st: a non-blocking UDP socket bound
 * to 0.0.0.0:67 with SO_BROADCAST and IP_PKTINFO (replies to the limited
 * broadcast leave by the interface the request came in on; requests from
 * other interfaces are dropped). c is copied. NULL with *err: -EINVAL (c
 * refused; *why says why when why is not NULL), -EADDRINUSE, -ENOMEM. */
struct dhcpd *dhcpd_new(struct ns_stack *st, int ifindex, const struct dhcpd_config *c, int *err,
                        const char **why);

/* The socket, to poll for POLLIN (ns_poll), and then call dhcpd_service. */
int dhcpd_fd(const struct dhcpd *d);

/* Read every datagram waiting (non-blocking) and send the replies at the
 * stack's time. Returns how many were read. */
int dhcpd_service(struct dhcpd *d);

/* The logic and its table (read-only: stats, leases). */
const struct dhcpd_server *dhcpd_server_of(const struct dhcpd *d);

/* Close the socket and free d (NULL is fine). */
void dhcpd_free(struct dhcpd *d);

#endif
