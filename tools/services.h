/* tools/services.h — the small services of `netsock host`, event-driven on
 * one stack: echo (RFC 862), discard (RFC 863), chargen (RFC 864) over TCP
 * and UDP, and a small HTTP/1.1 server (docs/host.md lists its paths and
 * the /bytes pattern).
 *
 * Model: every socket is non-blocking; services_poll() makes one ns_poll()
 * over all of them (ns_poll drives the stack's loop: the real-time loop on
 * a real link, the simulator in tests) and runs each ready connection's
 * state machine until it would block. Nothing waits on one client, so
 * hundreds are served at once. Memory per connection is bounded: an 8 KiB
 * request buffer and a 16 KiB output buffer; a client that does not read
 * is not read from either (echo backpressure), and responses are generated
 * as the socket accepts them (GET /bytes/N streams any N).
 *
 * The services run on ANY stack: nothing here knows about devices, loops
 * or clocks (time is ns_stack_now(), for idle timeouts only).
 */
#ifndef NS_TOOLS_SERVICES_H
#define NS_TOOLS_SERVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "netsock/netsock.h"

enum {
    SVC_ECHO = 1u << 0,    /* TCP and UDP port 7 */
    SVC_DISCARD = 1u << 1, /* TCP and UDP port 9 */
    SVC_CHARGEN = 1u << 2, /* TCP and UDP port 19 */
    SVC_HTTP = 1u << 3,    /* TCP port 80 */
    SVC_ALL = 0xfu,
};

struct services_config {
    unsigned mask;          /* SVC_* to serve; default SVC_ALL */
    uint32_t addr;          /* local address to bind, network order; default INADDR_ANY */
    uint16_t port[4];       /* per service, indexed by bit number; default 7, 9, 19, 80 */
    unsigned max_conns;     /* open TCP connections at once; default 4096. At the limit the
                               listeners are not polled, so new clients wait in the backlog */
    int backlog;            /* listen backlog; default 511 (nginx, Apache) */
    uint64_t http_idle_us;  /* an HTTP connection with no request in progress is closed after
                               this long; default 60 s */
    uint64_t sink_max;      /* largest POST /sink body; default 2^40 bytes (413 above) */
    uint64_t bytes_max;     /* largest GET /bytes/N; default 2^40 bytes (400 above) */
    uint64_t seed;          /* UDP chargen reply lengths; default 1 */
    /* A slow reader (--read-pause): every TCP connection stops reading for
     * pause_us once it has read pause_after bytes, then reads on; 0: never. */
    uint64_t pause_after, pause_us;
    /* The host has IPv6 addresses: serve IPv6 too, on [::] (v6-only
     * sockets beside the IPv4 ones; only when addr is INADDR_ANY). */
    bool ipv6;
};

/* Fill cfg with the defaults above. */
void services_config_default(struct services_config *cfg);

/* Parse "echo,discard,chargen,http" (or "all") into *mask. Returns 0, or
 * -1 with *bad and *bad_len the first item that is not a service (an empty
 * one for "", "echo," or "echo,,http"); *mask is then unchanged. */
int services_parse(const char *list, unsigned *mask, const char **bad, size_t *bad_len);

struct services_stats {
    uint64_t conns_open;      /* TCP connections open now */
    uint64_t conns_total;     /* TCP connections accepted */
    uint64_t bytes_in;        /* TCP payload bytes read */
    uint64_t bytes_out;       /* TCP payload bytes queued to send */
    uint64_t udp_in;          /* UDP datagrams received */
    uint64_t udp_out;         /* UDP datagrams sent */
    uint64_t http_requests;   /* HTTP requests answered (any status) */
    uint64_t http_errors;     /* of which 4xx */
    uint64_t accept_errors;   /* failed ns_accept (EMFILE, ENOMEM...) */
};

struct services;

/* Open the listening sockets on `st` (which must outlive the services).
 * Returns NULL with *err a negative errno (-EADDRINUSE, -ENOMEM...) and a
 * message on stderr. */
struct services *services_new(struct ns_stack *st, const struct services_config *cfg, int *err);

/* One step: ns_poll over every socket with timeout_ms (-1: until
 * something happens), then serve whatever is ready. Returns the number of
 * sockets that had events (0 on timeout), or a negative errno from ns_poll
 * (-EINTR when the loop was stopped by a signal, -EDEADLK in a simulator
 * with nothing left to do). */
int services_poll(struct services *s, int timeout_ms);

/* Poll one more socket of st's in services_poll: when fd is readable,
 * cb(ctx) runs (before the connections are served). One at a time (a new
 * call replaces the last); fd -1 stops. `netsock host --dhcp-server`
 * watches the DHCP server's socket so. */
void services_watch(struct services *s, int fd, void (*cb)(void *ctx), void *ctx);

/* Close every connection (orderly: FIN after queued data; RST when the
 * peer's data was left unread, as close(2)) and every listening socket,
 * and free s. */
void services_free(struct services *s);

void services_get_stats(const struct services *s, struct services_stats *out);

/* The /bytes/N pattern: byte i of the body is i mod 251 (docs/host.md). */
static inline uint8_t services_bytes_at(uint64_t i) { return (uint8_t)(i % 251u); }

/* The RFC 864 chargen stream: 72 printable characters then CR LF per line
 * (74 bytes); line k starts with character 32 + k mod 95 and runs on
 * through the 95 printable ASCII characters, wrapping. */
static inline uint8_t services_chargen_at(uint64_t i)
{
    uint64_t line = i / 74u, col = i % 74u;
    if (col == 72)
        return '\r';
    if (col == 73)
        return '\n';
    return (uint8_t)(32u + (line + col) % 95u);
}

#endif
