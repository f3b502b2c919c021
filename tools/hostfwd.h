/* tools/hostfwd.h — inbound port forwards of `netsock nat`: the
 * `--forward tcp|udp:[HOSTADDR:]HOSTPORT:GUESTPORT` parser and the table of
 * forwards (add, list, remove by id), which the API socket (apisock.h)
 * also edits. docs/nat.md "Port forwarding" is the user's view.
 *
 * The table only records: what a forward does (a host listener whose
 * connections go to the guest) is the nat tool's, which adds an entry
 * here once its listener is up.
 *
 * A forward is named by its protocol, host address and host port: two
 * forwards of one protocol and port conflict when their host addresses
 * are equal or one is the wildcard of the other's family (0.0.0.0, ::),
 * as two sockets bound so would (EADDRINUSE); the second is refused.
 */
#ifndef NS_TOOLS_HOSTFWD_H
#define NS_TOOLS_HOSTFWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOSTFWD_MAX_DEFAULT 256 /* forwards a table holds unless told otherwise */
#define HOSTFWD_ERR_MAX 256     /* room for any message of this module */

struct hostfwd {
    unsigned id;             /* given by the table, from 1, never reused */
    int proto;               /* IPPROTO_TCP or IPPROTO_UDP */
    int host_family;         /* AF_INET or AF_INET6 */
    uint8_t host_addr[16];   /* network order: 4 bytes (AF_INET) or 16 */
    uint16_t host_port;      /* 1..65535 */
    uint32_t guest_addr;     /* IPv4, network order; 0: the guest's default address */
    uint16_t guest_port;     /* 1..65535 */
};

/* Parse "tcp|udp:[HOSTADDR:]HOSTPORT:GUESTPORT" into *f (id 0, guest_addr
 * 0). HOSTADDR is a numeric IPv4 address or an IPv6 one in brackets
 * ("tcp:[::1]:8080:80"); absent, 0.0.0.0. Ports are decimal, 1 to 65535.
 * Returns 0, or -EINVAL with a one-line reason in err (errlen bytes),
 * e.g. "host port '0' is not a port from 1 to 65535". */
int hostfwd_parse(const char *spec, struct hostfwd *f, char *err, size_t errlen);

/* Write f as the parser reads it, with the guest address when it has one
 * ("tcp:0.0.0.0:8080:80", "udp:[::1]:53:53", "tcp:0.0.0.0:8080:10.0.2.100:80")
 * into buf; returns buf (truncated to len bytes, always terminated). */
char *hostfwd_format(const struct hostfwd *f, char *buf, size_t len);

/* The protocol's name ("tcp", "udp"), and the reverse (0 when neither). */
const char *hostfwd_proto_name(int proto);
int hostfwd_proto_parse(const char *name);

/* True when a and b cannot both be bound (see the header comment). */
bool hostfwd_conflict(const struct hostfwd *a, const struct hostfwd *b);

struct hostfwd_table {
    struct hostfwd *e;       /* n entries, in the order added */
    unsigned n, max;
    unsigned next_id;
    uint64_t refused_dup;    /* adds refused: conflicting with a forward there */
    uint64_t refused_full;   /* adds refused: max forwards there */
    uint64_t refused_bad;    /* adds refused: a port 0, a bad family or protocol */
};

/* An empty table for at most max forwards (0: HOSTFWD_MAX_DEFAULT). The
 * entries are allocated on the first add. */
void hostfwd_table_init(struct hostfwd_table *t, unsigned max);
void hostfwd_table_destroy(struct hostfwd_table *t);

/* Add a copy of f (its id ignored). Returns the new id (>= 1), or
 * -EEXIST (a conflicting forward: err names it and its id), -ENOSPC
 * (table full), -EINVAL (bad protocol, family or port), -ENOMEM; each
 * refusal counted, with err the message. */
int hostfwd_add(struct hostfwd_table *t, const struct hostfwd *f, char *err, size_t errlen);

/* Remove forward id. 0, or -ENOENT with err "no forward with id N". */
int hostfwd_remove(struct hostfwd_table *t, unsigned id, char *err, size_t errlen);

/* Forward id, or NULL. Valid until the table changes. */
const struct hostfwd *hostfwd_find(const struct hostfwd_table *t, unsigned id);

#endif
