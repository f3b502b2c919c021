/* link/ethernet.c — Ethernet II input and output.
 *
 * Read first: RFC 894 (IP over Ethernet), RFC 1122 §2.3.2 (link layer),
 * IEEE 802.3 for the frame. A frame is accepted when it is addressed to
 * the interface's MAC or is a broadcast, or is a multicast MAC an upper
 * layer asked for (link_mc_add: IPv6's all-nodes and solicited-node
 * groups); any other multicast is refused. Every refusal is counted. The
 * protocol a frame carries takes it through the ethertype table
 * (link_proto_register), never by name. */
#include <errno.h>
#include <string.h>

#include "link/link.h"
#include "wire/wire.h"

void eth_input(struct ns_stack *st, struct ns_iface *ifp, struct ns_pbuf *pb)
{
    struct ns_eth_repr eth;
    if (ns_eth_parse(ns_pbuf_data(pb), pb->len, &eth) < 0) {
        NS_STAT_INC(st, eth_drop_short);
        goto drop;
    }
    /* IEEE 802.3: the group bit is never set in a source address. */
    if (ns_eth_is_multicast(eth.src)) {
        NS_STAT_INC(st, eth_drop_bad_src);
        goto drop;
    }
    if (ns_eth_is_broadcast(eth.dst)) {
        pb->flags |= NS_PBUF_F_L2_BCAST;
    } else if (ns_eth_is_multicast(eth.dst) && link_mc_has(ifp, eth.dst)) {
        pb->flags |= NS_PBUF_F_L2_BCAST; /* "broadcast/multicast" */
    } else if (memcmp(eth.dst, ifp->dev->hwaddr, NS_ETH_ALEN) != 0) {
        NS_STAT_INC(st, eth_drop_not_for_us);
        goto drop;
    }
    ns_pbuf_pull(pb, NS_ETH_HLEN);
    /* Whoever registered the ethertype (IPv4 and ARP: net/net.h). */
    link_input_fn in = link_proto_input(st, eth.ethertype);
    if (!in) {
        NS_STAT_INC(st, eth_drop_unknown_type);
        goto drop;
    }
    in(st, ifp, pb);
    return;
drop:
    ns_pbuf_free(pb);
}

int eth_output(struct ns_stack *st, struct ns_iface *ifp, const uint8_t dst[6], uint16_t ethertype,
               struct ns_pbuf *pb)
{
    uint8_t *hdr = ns_pbuf_push(pb, NS_ETH_HLEN);
    if (!hdr) {
        /* Every producer reserves NS_PBUF_HEADROOM; reaching here is a bug
         * upstream, but still a counted drop, not a crash. */
        NS_STAT_INC(st, dev_tx_err);
        ns_pbuf_free(pb);
        return -ENOBUFS;
    }
    struct ns_eth_repr eth;
    memcpy(eth.dst, dst, NS_ETH_ALEN);
    memcpy(eth.src, ifp->dev->hwaddr, NS_ETH_ALEN);
    eth.ethertype = ethertype;
    ns_eth_emit(&eth, hdr);
    return if_xmit(st, ifp, pb);
}

/* The filter is a short array: an interface has a handful of groups. */
static int mc_find(const struct ns_iface *ifp, const uint8_t mac[6])
{
    for (unsigned i = 0; i < ifp->n_mc; i++)
        if (memcmp(ifp->mc[i].mac, mac, NS_ETH_ALEN) == 0)
            return (int)i;
    return -1;
}

bool link_mc_has(const struct ns_iface *ifp, const uint8_t mac[6]) { return mc_find(ifp, mac) >= 0; }

int link_mc_add(struct ns_iface *ifp, const uint8_t mac[6])
{
    int i = mc_find(ifp, mac);
    if (i >= 0) {
        ifp->mc[i].users++;
        return 0;
    }
    if (ifp->n_mc == LINK_MC_MAX)
        return -ENOSPC;
    memcpy(ifp->mc[ifp->n_mc].mac, mac, NS_ETH_ALEN);
    ifp->mc[ifp->n_mc].users = 1;
    ifp->n_mc++;
    return 0;
}

int link_mc_del(struct ns_iface *ifp, const uint8_t mac[6])
{
    int i = mc_find(ifp, mac);
    if (i < 0)
        return -ENOENT;
    if (--ifp->mc[i].users == 0)
        ifp->mc[i] = ifp->mc[--ifp->n_mc];
    return 0;
}
