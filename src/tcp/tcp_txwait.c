/* tcp/tcp_txwait.c — transmit backpressure: a TCP segment that a full
 * device queue refused was not sent.
 *
 * A device whose queue is local to the host refuses a frame with -EAGAIN
 * when the queue is full (include/netsock/dev.h), and the stack then
 * treats locally generated TCP data as Linux does when a qdisc or driver
 * pushes back: the segment is not "sent". tcp_xmit returns before counting
 * it, tcp_output_one returns before SND.NXT, SND.MAX, the FIN flag, RTT
 * timing or the retransmission timer move, and the connection waits on
 * the interface (link/iface.c ns_tx_wait). When the device has room,
 * ns_stack_poll wakes it and tcp_output builds the same segment again from
 * the send buffer. No data is lost, no retransmission is counted, no timer
 * is needed; congestion control sees nothing (RFC 5681 §3 reacts to loss
 * in the network, and this is not loss).
 *
 * While waiting, every attempt to send (an ACK arriving, the application
 * writing, a timer) returns at once: the device could not take the
 * segment anyway. An ACK owed is kept in TF_ACKNOW; a wanted
 * retransmission of SND.UNA (fast retransmit, RFC 5681 §3.2) in
 * txw_rexmit, and both go out first on waking.
 */
#include <errno.h>

#include "tcp/tcp.h"

static void tcp_tx_wake(struct ns_tx_waiter *w)
{
    struct tcpcb *tp = NS_CONTAINER_OF(w, struct tcpcb, txw);
    if (tp->txw_rexmit) {
        tp->txw_rexmit = false;
        tcp_retransmit_one(tp);
    }
    if (!ns_tx_waiting(w))
        tcp_output(tp);
}

int tcp_tx_refused(struct tcpcb *tp, uint8_t flags)
{
    /* tcp_xmit cleared TF_ACKNOW/TF_DELACK for an ACK that never left. */
    if (flags & NS_TCP_ACK)
        tp->flags |= TF_ACKNOW;
    tp->txw.wake = tcp_tx_wake;
    ns_tx_wait(tp->st, &tp->txw);
    return -EAGAIN;
}
