/* raw/raw.h — raw IPv4 sockets (raw/raw.c): the list of them (st->raw)
 * and what the socket API calls when it creates one. They receive through
 * the network layer's raw tap (net/net.h), registered while any exists. */
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
/* Add a new raw socket to the delivery list (the first one opens the
 * network layer's tap). */
void raw_attach(struct ns_stack *st, struct ns_sock *so);

#endif
