/* tools/ctl.h — the control socket of `netsock host`, read by `netsock
 * stat` (docs/host.md "Control socket").
 *
 * Transport: a Unix stream socket; one request per connection. The client
 * sends one line, the host writes the reply and closes:
 *
 *   sockets [json] [-FLAGS]   the socket table as ss(8) prints it (or JSON);
 *                             FLAGS are ss's letters: t u w (TCP, UDP, raw;
 *                             none: all three), l (listening only: LISTEN
 *                             and UNCONN), a (all; default: the others),
 *                             n (accepted: always numeric), p (Process
 *                             column), i (TCP internals line), m (skmem
 *                             memory line), e (extended fields), H (no
 *                             header). `netsock stat -tlnp` sends
 *                             "sockets -tlnp".
 *   counters [json]           the counters, like netstat -s
 *   ping                      "pong NAME PID"
 *
 * Paths, for a host named NAME (letters, digits, '.', '_', '-'):
 *   $NETSOCK_RUN_DIR/NAME.sock    when NETSOCK_RUN_DIR is set, else
 *   /run/netsock/NAME.sock        when /run/netsock exists or can be made,
 *                                 and is writable, else
 *   /tmp/netsock-NAME.sock
 * with NAME.pid (netsock-NAME.pid) beside it holding the host's pid, for
 * `netsock stat --pid P`.
 */
#ifndef NS_TOOLS_CTL_H
#define NS_TOOLS_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "netsock/netsock.h"
#include "netsock/os.h"
#include "services.h"

#define CTL_PATH_MAX 108 /* sizeof(sockaddr_un.sun_path) */
#define CTL_REQ_MAX 256  /* longest request line */

/* Which sockets a "sockets" request shows, and how. */
enum { CTL_T_TCP = 1, CTL_T_UDP = 2, CTL_T_RAW = 4 };
enum ctl_states { CTL_S_CONNECTED, CTL_S_LISTENING, CTL_S_ALL };
struct ctl_sock_filter {
    unsigned types;         /* CTL_T_* */
    enum ctl_states states; /* ss: default, -l, -a */
    bool processes, info, memory, extended, no_header;
};

/* The reply to one request, as a malloc'ed NUL-terminated string (*len
 * its length); an unknown request gets "error: ...\n". svc may be NULL. */
char *ctl_reply(struct ns_stack *st, const struct services *svc, const char *request,
                size_t *len);

/* True when name is a valid host name for the control socket. */
int ctl_name_ok(const char *name);

/* ---- host side ---- */

struct ctl_server;

/* Bind the control socket for `name` (replacing a stale one; -EADDRINUSE
 * when a live host already answers there), write the pid file, and watch
 * it with ns_loop_add_fd. Returns 0 or -errno with a message on stderr. */
int ctl_server_open(struct ctl_server **out, const char *name, struct ns_loop *loop,
                    struct ns_stack *st, const struct services *svc);

/* The socket's path. */
const char *ctl_server_path(const struct ctl_server *srv);

/* A tool's own request (netsock nat's "conntrack [json]"): a request
 * whose first word is verb is answered by fn(ctx, request, &len), a
 * malloc'ed reply as ctl_reply's (NULL drops the connection). */
typedef char *(*ctl_extra_fn)(void *ctx, const char *request, size_t *len);
void ctl_server_set_extra(struct ctl_server *srv, const char *verb, ctl_extra_fn fn, void *ctx);

/* Stop watching, close every control connection, remove the socket and
 * the pid file. */
void ctl_server_close(struct ctl_server *srv);

/* ---- client side ---- */

/* Find a running host's socket: by name (name != NULL), by pid (pid > 0),
 * or the only one running (neither). Returns 0 with the path, or -1 with
 * a message on stderr. */
int ctl_find(const char *name, long pid, char path[CTL_PATH_MAX]);

/* Send request to the host at path and copy the reply to fd out. Returns
 * 0, or -1 with a message on stderr. */
int ctl_request(const char *path, const char *request, int out_fd);

#endif
