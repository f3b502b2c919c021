/* udp/udp.h — UDP (udp/udp.c): its demultiplexing table (st->udp, private
 * to udp.c) and its life with the stack. Sockets reach UDP through the
 * ops it registered (udp_sock_ops, socket/sock.h), datagrams through the
 * IP protocol table (net/net.h). */
#ifndef NS_UDP_UDP_H
#define NS_UDP_UDP_H

#include "base/stack.h"

/* Allocate st->udp and register UDP with the network layer. 0 or -ENOMEM. */
int udp_init(struct ns_stack *st);
/* Free st->udp (its sockets were closed first). */
void udp_destroy(struct ns_stack *st);

#endif
