/* raw/raw.h — raw IPv4 sockets (raw/raw.c): the list of them (st->raw).
 * The socket API makes them through the socket switch (socket/sock.h);
 * they receive through the network layer's raw tap (net/net.h), set while
 * any exists. */
#ifndef NS_RAW_RAW_H
#define NS_RAW_RAW_H

#include "base/stack.h"

struct ns_sock;

/* The raw sockets of a stack, newest first. */
struct raw_table {
    struct ns_sock *list;
};

/* Allocate st->raw (empty). 0 or -ENOMEM. */
int raw_init(struct ns_stack *st);
/* Free st->raw (its sockets were closed first). */
void raw_destroy(struct ns_stack *st);

#endif
