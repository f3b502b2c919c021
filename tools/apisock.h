/* tools/apisock.h — the API socket of `netsock nat` (`--api-socket PATH`):
 * JSON requests over a Unix stream socket in the shape of slirp4netns's
 * (slirp4netns(1) "API SOCKET"), one request per connection:
 *
 *   {"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "0.0.0.0",
 *    "host_port": 8080, "guest_addr": "10.0.2.100", "guest_port": 80}}
 *                                   -> {"return":{"id":1}}
 *   {"execute": "list_hostfwd"}     -> {"return":{"entries":[{"id":1,"proto":"tcp",...}]}}
 *   {"execute": "remove_hostfwd", "arguments": {"id": 1}} -> {"return":{}}
 *   anything wrong                  -> {"error":{"desc":"bad request: ..."}}
 *
 * The client sends its request and may shut down its writing side; the
 * request is taken as soon as the bytes read parse as JSON, or at the end
 * of the client's data; a request of APISOCK_REQ_MAX bytes or more is
 * refused. The reply is written and the connection closed.
 *
 * What a forward does is not decided here: requests call the ops the
 * caller gives (nat opens a host listener and records it in its
 * hostfwd_table). Needs cJSON (libcjson-dev); without it the tool is
 * built with apisock_nojson.c, whose apisock_open fails with -ENOTSUP.
 */
#ifndef NS_TOOLS_APISOCK_H
#define NS_TOOLS_APISOCK_H

#include <stddef.h>
#include <stdint.h>

#include "hostfwd.h"

#define APISOCK_REQ_MAX 4096 /* as slirp4netns: "A request must be less than 4096 bytes" */
#define APISOCK_CONNS_MAX 16 /* connections at once; one more drops the oldest */

struct ns_loop;

/* What the requests do. Each returns as documented; on an error err holds
 * the message the client sees after "bad request: VERB: ". */
struct apisock_ops {
    /* Add forward f (id 0; guest_addr 0 when the request named none).
     * The new id (>= 1), or a negative errno. */
    int (*add)(void *ctx, const struct hostfwd *f, char *err, size_t errlen);
    /* Remove forward id: 0 or a negative errno. */
    int (*remove)(void *ctx, unsigned id, char *err, size_t errlen);
    /* Call each(arg, f) for every forward, in order. */
    void (*list)(void *ctx, void (*each)(void *arg, const struct hostfwd *f), void *arg);
};

/* ops working on a struct hostfwd_table passed as ctx: a table-only nat,
 * and the tests. */
extern const struct apisock_ops apisock_table_ops;

/* Answer one request (len bytes at req, not necessarily terminated): the
 * reply, compact JSON without a newline, malloc'd (the caller frees it),
 * or NULL when out of memory. */
char *apisock_handle(const struct apisock_ops *ops, void *ctx, const char *req, size_t len);

struct apisock_stats {
    uint64_t requests;         /* requests answered (with return or error) */
    uint64_t errors;           /* of which with error */
    uint64_t conns_dropped;    /* connections closed to make room (APISOCK_CONNS_MAX) */
    uint64_t too_large;        /* requests of APISOCK_REQ_MAX bytes or more */
};

struct apisock;

/* Listen on path (a stale socket file there is replaced; a live one
 * answering: -EADDRINUSE) with the descriptors on loop. ops and ctx are
 * kept. NULL with *err a negative errno (-ENAMETOOLONG, -EADDRINUSE,
 * -ENOTSUP without cJSON ...). */
struct apisock *apisock_open(const char *path, struct ns_loop *loop, const struct apisock_ops *ops,
                             void *ctx, int *err);

void apisock_get_stats(const struct apisock *a, struct apisock_stats *out);

/* Close every connection and the listener, remove the socket file, free a
 * (NULL is fine). */
void apisock_close(struct apisock *a);

#endif
