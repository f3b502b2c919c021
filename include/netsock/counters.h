/* netsock/counters.h — the stack's MIB-style counters, one X-macro list.
 *
 * Every drop has its own reason counter: code never drops a
 * frame without incrementing exactly one *_drop_* or *_err_* counter here.
 * `netsock stat` and the demo print them by name.
 *
 * X(name, description)
 */
#ifndef NETSOCK_COUNTERS_H
#define NETSOCK_COUNTERS_H

#define NS_COUNTERS(X)                                                          \
    /* device edge */                                                           \
    X(dev_rx_frames, "frames received from devices")                            \
    X(dev_tx_frames, "frames handed to devices")                                \
    X(dev_tx_err, "frames a device refused to send")                            \
    X(dev_tx_full_drop, "frames dropped: device transmit queue full")           \
    X(dev_tx_deferred, "TCP segments a full device queue refused (sent later)") \
    X(pbuf_alloc_fail, "packet buffer allocations that failed (pool empty)")    \
    X(dev_tx_gso_sw, "GSO packets cut into segments in software (device without TSO)") \
    X(dev_tx_csum_sw, "partial checksums finished in software (no TX checksum offload)") \
    X(dev_tx_drop_offload, "packets dropped: offload work failed (malformed, no buffers)") \
    /* Ethernet */                                                              \
    X(eth_drop_short, "Ethernet frames shorter than the header")                \
    X(eth_drop_not_for_us, "Ethernet frames for another MAC address")           \
    X(eth_drop_bad_src, "Ethernet frames with a multicast source MAC")          \
    X(eth_drop_unknown_type, "Ethernet frames with an unknown EtherType")       \
    /* ARP */                                                                   \
    X(arp_rx, "ARP packets received")                                           \
    X(arp_tx_request, "ARP requests sent")                                      \
    X(arp_tx_reply, "ARP replies sent")                                         \
    X(arp_tx_announce, "gratuitous ARP announcements sent (RFC 5227)")          \
    X(arp_drop_short, "ARP packets too short")                                  \
    X(arp_drop_unsupported, "ARP packets not Ethernet/IPv4")                    \
    X(arp_drop_bad_op, "ARP packets with an unknown opcode")                    \
    X(arp_drop_bad_sender, "ARP packets with a broadcast/multicast sender")     \
    X(arp_conflict, "ARP packets claiming one of our addresses")                \
    X(arp_queue_drop, "packets dropped: a neighbour's ARP hold queue full")     \
    X(arp_queue_total_drop, "held packets dropped: all ARP hold queues together full") \
    X(arp_unres_drop, "packets dropped: arp_unres_max neighbours being resolved")     \
    X(arp_resolve_fail, "packets dropped: neighbour never answered ARP")        \
    X(arp_cache_full, "ARP cache insertions refused: every entry busy")         \
    X(arp_evict, "ARP entries evicted to make room")                            \
    /* IPv4 */                                                                  \
    X(ip_rx, "IPv4 packets received")                                           \
    X(ip_tx, "IPv4 packets sent (after fragmentation)")                         \
    X(ip_delivered, "IPv4 packets delivered to a protocol")                     \
    X(ip_rx_gso, "IPv4 GSO packets received: several wire segments in one (GRO)") \
    X(ip_forwarded, "IPv4 packets forwarded")                                   \
    X(ip_rx_nonlocal, "IPv4 packets for other hosts taken for transparent sockets") \
    X(ip_drop_short, "IPv4 packets shorter than their header")                  \
    X(ip_drop_bad_version, "IPv4 packets with version != 4")                    \
    X(ip_drop_bad_hlen, "IPv4 packets with a bad header length")                \
    X(ip_drop_bad_len, "IPv4 packets whose total length disagrees with frame")  \
    X(ip_drop_bad_csum, "IPv4 packets with a bad header checksum")              \
    X(ip_drop_bad_src, "IPv4 packets from a martian source address")            \
    X(ip_drop_not_for_us, "IPv4 packets for another host (forwarding off)")     \
    X(ip_drop_ttl, "IPv4 packets whose TTL expired in forwarding")              \
    X(ip_drop_no_route, "IPv4 packets with no route to the destination")        \
    X(ip_drop_unknown_proto, "IPv4 packets for a protocol nobody handles")      \
    X(ip_drop_df, "IPv4 packets too big with DF set")                           \
    X(ip_frag_created, "IPv4 fragments created")                                \
    X(ip_frag_ok, "IPv4 datagrams fragmented")                                  \
    X(ip_reass_frags, "IPv4 fragments received for reassembly")                 \
    X(ip_reass_ok, "IPv4 datagrams reassembled")                                \
    X(ip_reass_dup, "IPv4 duplicate fragments ignored")                         \
    X(ip_reass_drop_overlap, "IPv4 datagrams dropped: overlapping fragments")   \
    X(ip_reass_drop_too_big, "IPv4 fragments beyond 65535 bytes")              \
    X(ip_reass_drop_bad_frag, "IPv4 fragments with a length not multiple of 8") \
    X(ip_reass_drop_too_many, "IPv4 datagrams dropped: too many fragments")     \
    X(ip_reass_drop_timeout, "IPv4 datagrams dropped: reassembly timeout")      \
    X(ip_reass_drop_mem, "IPv4 datagrams dropped: reassembly memory cap")       \
    /* ICMPv4 */                                                                \
    X(icmp_rx, "ICMP messages received")                                        \
    X(icmp_tx, "ICMP messages sent")                                            \
    X(icmp_rx_echo, "ICMP echo requests received")                              \
    X(icmp_tx_echo_reply, "ICMP echo replies sent")                             \
    X(icmp_drop_nonlocal_echo, "ICMP echo requests for other hosts left unanswered") \
    X(icmp_rx_echo_reply, "ICMP echo replies received")                         \
    X(icmp_rx_unreach, "ICMP destination unreachable received")                 \
    X(icmp_rx_time_exceeded, "ICMP time exceeded received")                     \
    X(icmp_tx_unreach, "ICMP destination unreachable sent")                     \
    X(icmp_tx_time_exceeded, "ICMP time exceeded sent")                         \
    X(icmp_drop_short, "ICMP messages too short")                               \
    X(icmp_drop_bad_csum, "ICMP messages with a bad checksum")                  \
    X(icmp_drop_bcast_echo, "ICMP echo to broadcast ignored (as Linux)")        \
    X(icmp_drop_unknown_type, "ICMP messages of a type we do not handle")       \
    X(icmp_err_ratelimited, "ICMP errors not sent: rate limit")                 \
    X(icmp_err_suppressed, "ICMP errors not sent: RFC 1122 3.2.2 forbids")       \
    /* IPv6 */                                                                  \
    X(ip6_rx, "IPv6 packets received on an interface with IPv6 on")             \
    X(ip6_rx_gso, "IPv6 GSO packets received (a TSO6 peer's large TCP segments)") \
    X(ip6_tx, "IPv6 packets sent (after fragmentation)")                        \
    X(ip6_delivered, "IPv6 datagrams delivered to a protocol")                  \
    X(ip6_drop_disabled, "IPv6 packets on an interface without IPv6 (dropped)") \
    X(ip6_drop_short, "IPv6 packets shorter than the 40-byte header")           \
    X(ip6_drop_bad_version, "IPv6 packets with version != 6")                   \
    X(ip6_drop_bad_len, "IPv6 packets whose payload length disagrees with the frame, or jumbograms")\
    X(ip6_drop_bad_addr, "IPv6 packets with a forbidden source or destination (RFC 4291)")\
    X(ip6_drop_not_for_us, "IPv6 packets for another host or a group not joined")\
    X(ip6_drop_bad_hdr, "IPv6 packets with a malformed extension header chain") \
    X(ip6_drop_option, "IPv6 packets dropped for an option (unknown with action bits, malformed)")\
    X(ip6_drop_routing, "IPv6 packets with a routing header with segments left (RFC 5095)")\
    X(ip6_drop_unknown_proto, "IPv6 packets for a next header nobody handles")  \
    X(ip6_drop_no_route, "IPv6 packets with no route to the destination")       \
    X(ip6_drop_no_src, "IPv6 packets not sent: no source address for the destination")\
    X(ip6_drop_too_big, "IPv6 packets too big that may not be fragmented")      \
    X(ip6_rx_atomic_frag, "IPv6 atomic fragments processed whole (RFC 6946)")   \
    X(ip6_frag_ok, "IPv6 datagrams fragmented")                                 \
    X(ip6_frag_created, "IPv6 fragments created")                               \
    X(ip6_reass_frags, "IPv6 fragments received for reassembly")                \
    X(ip6_reass_ok, "IPv6 datagrams reassembled")                               \
    X(ip6_reass_dup, "IPv6 duplicate fragments ignored")                        \
    X(ip6_reass_drop_overlap, "IPv6 datagrams dropped: overlapping fragments (RFC 5722)")\
    X(ip6_reass_drop_too_big, "IPv6 fragments beyond 65535 payload bytes")      \
    X(ip6_reass_drop_bad_frag, "IPv6 fragments refused: length, size or incomplete header chain")\
    X(ip6_reass_drop_too_many, "IPv6 datagrams dropped: too many fragments")    \
    X(ip6_reass_drop_timeout, "IPv6 datagrams dropped: reassembly timeout")     \
    X(ip6_reass_drop_mem, "IPv6 datagrams dropped: reassembly memory cap")      \
    /* ICMPv6 */                                                                \
    X(icmp6_rx, "ICMPv6 messages received")                                     \
    X(icmp6_tx, "ICMPv6 messages sent")                                         \
    X(icmp6_rx_echo, "ICMPv6 echo requests received")                           \
    X(icmp6_rx_echo_reply, "ICMPv6 Echo Replies received (for raw ICMPv6 sockets: ping -6)") \
    X(icmp6_tx_echo_reply, "ICMPv6 echo replies sent")                          \
    X(icmp6_rx_err, "ICMPv6 errors received")                                   \
    X(icmp6_tx_err, "ICMPv6 errors sent")                                       \
    X(icmp6_drop_short, "ICMPv6 messages too short")                            \
    X(icmp6_drop_bad_csum, "ICMPv6 messages with a bad checksum")               \
    X(icmp6_drop_unknown_type, "ICMPv6 informational messages of a type nobody handles")\
    X(icmp6_err_ratelimited, "ICMPv6 errors not sent: rate limit (1 per 1000 ms per destination)")\
    X(icmp6_err_suppressed, "ICMPv6 errors not sent: RFC 4443 2.4 (e) forbids") \
    X(icmp6_pmtu_update, "path MTUs lowered by ICMPv6 Packet Too Big (RFC 8201)")\
    X(icmp6_pmtu_ignored, "ICMPv6 Packet Too Big ignored (not lower, or quoting nothing of ours)")\
    /* Neighbour Discovery */                                                   \
    X(nd_rx_ns, "Neighbor Solicitations received")                              \
    X(nd_rx_na, "Neighbor Advertisements received")                             \
    X(nd_tx_ns, "Neighbor Solicitations sent")                                  \
    X(nd_tx_na, "Neighbor Advertisements sent")                                 \
    X(nd_drop_invalid, "NDP messages failing RFC 4861 validation")              \
    X(nd_drop_not_ours, "Neighbor Solicitations for a target that is not ours") \
    X(nd_queue_drop, "packets dropped: a neighbour's hold queue full (shares ARP's byte caps)")\
    X(nd_unres_drop, "packets dropped: arp_unres_max neighbours being resolved")\
    X(nd_resolve_fail, "packets dropped: neighbour never answered NDP")         \
    X(nd_evict, "neighbour entries (IPv6) evicted to make room")                \
    X(nd_dad_conflict, "NA or NS from another node for one of our addresses")   \
    /* UDP */                                                                   \
    X(udp_rx, "UDP datagrams received")                                         \
    X(udp_tx, "UDP datagrams sent")                                             \
    X(udp_delivered, "UDP datagrams queued to a socket")                        \
    X(udp_drop_short, "UDP datagrams shorter than the header")                  \
    X(udp_drop_bad_len, "UDP datagrams whose length field is wrong")            \
    X(udp_drop_bad_csum, "UDP datagrams with a bad checksum")                   \
    X(udp_drop_no_port, "UDP datagrams for a port nobody has bound")            \
    X(udp_drop_rcvbuf, "UDP datagrams dropped: receive buffer full")            \
    /* raw sockets */                                                           \
    X(raw_delivered, "IPv4 packets copied to raw sockets")                      \
    X(raw_drop_rcvbuf, "raw socket copies dropped: receive buffer full")       \
    X(raw6_delivered, "IPv6 datagrams copied to raw sockets")                   \
    X(raw6_drop_bad_csum, "raw IPv6 copies dropped: IPV6_CHECKSUM did not verify") \
    X(raw6_tx, "IPv6 datagrams sent from raw sockets")                          \
    /* TCP (names after the TCP-MIB and Linux netstat -s) */                    \
    X(tcp_active_opens, "TCP connections started by connect()")                \
    X(tcp_passive_opens, "TCP connections accepted from a listener's SYN")     \
    X(tcp_attempt_fails, "TCP connection attempts that failed")                \
    X(tcp_estab_resets, "TCP connections reset from ESTABLISHED/CLOSE_WAIT")   \
    X(tcp_rx_segs, "TCP segments received")                                    \
    X(tcp_tx_segs, "TCP segments sent")                                        \
    X(tcp_retrans_segs, "TCP segments retransmitted")                          \
    X(tcp_tso_segs, "TCP segments larger than the MSS sent for the device to cut (TSO)") \
    X(tcp_tx_rst, "TCP resets sent")                                           \
    X(tcp_rx_rst, "TCP resets accepted")                                       \
    X(tcp_drop_short, "TCP segments shorter than their header")                \
    X(tcp_drop_bad_hlen, "TCP segments with a bad data offset")                \
    X(tcp_drop_bad_csum, "TCP segments with a bad checksum")                   \
    X(tcp_drop_no_socket, "TCP segments for no connection or listener")        \
    X(tcp_drop_bcast, "TCP segments to a broadcast or multicast address")      \
    X(tcp_drop_listen_overflow, "SYNs dropped: listen queue full")             \
    X(tcp_drop_syn_fin, "SYNs with FIN set dropped by a listener")            \
    X(tcp_drop_nomem, "SYNs or handshakes dropped: out of memory")            \
    X(tcp_syncache_added, "half-open connections entered in the syncache")    \
    X(tcp_syncache_dupsyn, "retransmitted SYNs answered from the syncache")   \
    X(tcp_syn_held, "SYNs held for the application's verdict (NS_TCP_DEFER_SYNACK)") \
    X(tcp_held_dupsyn, "retransmitted SYNs of a held connection, left unanswered") \
    X(tcp_held_refused, "held connections refused by the application (RST or ICMP)") \
    X(tcp_drop_nonlocal, "TCP segments for other hosts with no transparent listener") \
    X(tcp_syncache_overflow, "SYNs finding the syncache bucket, syncache or half-open queue full") \
    X(tcp_syncache_expired, "half-open connections expired, SYN,ACK retries run out (no RST sent)") \
    X(tcp_syncache_reset, "half-open connections removed by the peer's RST")  \
    X(tcp_syncache_icmp, "half-open connections removed by an ICMP error about their SYN,ACK") \
    X(tcp_syncookies_sent, "SYN cookies sent")                                 \
    X(tcp_syncookies_recv, "SYN cookies received valid: connections made from them") \
    X(tcp_syncookies_failed, "ACKs to a listener whose SYN cookie was invalid") \
    X(tcp_drop_out_of_window, "TCP segments outside the receive window")       \
    X(tcp_drop_bad_ack, "TCP segments acknowledging unsent data")              \
    X(tcp_drop_rst_ignored, "TCP resets outside the window ignored")           \
    X(tcp_drop_after_close, "TCP data for a closed receiver (reset)")          \
    X(tcp_drop_paws, "TCP segments with an old timestamp dropped (PAWS)")      \
    X(tcp_drop_time_wait, "TCP segments to a connection in TIME-WAIT, answered by an ACK and dropped") \
    X(tcp_challenge_acks, "challenge ACKs sent (RFC 5961)")                    \
    X(tcp_challenge_ack_limited, "challenge ACKs suppressed: 500 ms per connection, or the stack's budget") \
    X(tcp_syn_challenge, "SYNs on a synchronized connection, challenged (RFC 5961 §4)") \
    X(tcp_oow_ack_limited, "ACKs to unacceptable bare ACKs or SYNs suppressed (500 ms limit)") \
    X(tcp_dupacks, "duplicate ACKs received")                                  \
    X(tcp_fast_retransmits, "NewReno fast retransmits")                        \
    X(tcp_rto_timeouts, "retransmission timeouts")                             \
    X(tcp_ooo_segs, "TCP segments queued out of order")                        \
    X(tcp_ooo_drop, "out-of-order segments dropped: queue full")               \
    X(tcp_ooo_merge, "out-of-order segments dropped as duplicates of queued data (or a queued FIN), and queued ones a new segment covered") \
    X(tcp_mem_pressures, "times TCP buffers rose above tcp_mem_pressure (memory pressure)") \
    X(tcp_ooo_pruned, "out-of-order segments discarded to free TCP memory")    \
    X(tcp_mem_ooo_drop, "out-of-order segments dropped: TCP memory above tcp_mem_pressure") \
    X(tcp_mem_rcv_drop, "in-order segments cut short: TCP memory above tcp_mem_high") \
    X(tcp_mem_snd_refused, "send() calls given less room: TCP memory above tcp_mem_high") \
    X(tcp_rcvbuf_trim, "TCP bytes beyond the window trimmed")                  \
    X(tcp_rcv_inwin_drop, "TCP bytes inside an advertised window the receive buffer could not take (out of memory)") \
    X(tcp_rcv_wnd_retract, "advertised windows whose right edge moved left by less than a scale granule (RFC 7323 §2.4)") \
    X(tcp_zero_window_probes, "zero-window probes sent")                       \
    X(tcp_keepalive_probes, "keepalive probes sent")                           \
    X(tcp_timeouts, "TCP connections dropped: ETIMEDOUT")                      \
    X(tcp_delayed_acks, "delayed ACKs sent by the timer")                      \
    X(tcp_tw_reuse, "TIME_WAIT connections replaced by a new SYN (RFC 6191)")  \
    X(tcp_pmtu_updates, "MSS lowered by ICMP fragmentation needed")            \
    X(tcp_pmtu_expired, "path MTUs learned from ICMP forgotten after 10 minutes") \
    X(tcp_sack_recoveries, "SACK loss recoveries entered (RFC 6675, PRR)")     \
    X(tcp_rack_lost, "segments RACK marked lost (RFC 8985)")                   \
    X(tcp_reordering_seen, "connections that saw reordering (RACK)")           \
    X(tcp_tlp_probes, "tail loss probes sent (RFC 8985 §7)")                   \
    X(tcp_tlp_recoveries, "losses repaired by a tail loss probe")              \
    X(tcp_dsack_tx, "D-SACK blocks sent (RFC 2883)")                           \
    X(tcp_dsack_rx, "D-SACK blocks received (RFC 2883)")                       \
    X(tcp_spurious_undo, "recoveries undone: D-SACKs showed them spurious")    \
    X(tcp_sack_bad_blocks, "SACK blocks outside the send window ignored")      \
    X(tcp_sack_reneging, "receivers that discarded SACKed data (RFC 2018 §8)") \
    X(tcp_sack_sm_nomem, "scoreboard records merged: out of memory")            \
    /* IPv6 autoconfiguration (net/addrconf.c, net/mld6.c) */                  \
    X(ra_rx, "Router Advertisements accepted")                                 \
    X(ra_invalid, "Router Solicitations, Advertisements and Redirects failing RFC 4861 validation") \
    X(ra_ignored, "Router Advertisements ignored: accept_ra off or forwarding") \
    X(ra_bad_mtu, "RA MTU options ignored: below 1280 or above the link MTU")  \
    X(ra_bad_prefix, "Prefix Information options ignored: malformed, link-local or multicast prefix, preferred lifetime above valid") \
    X(ra_router_full, "default routers refused: router list full")             \
    X(ra_prefix_full, "on-link prefixes refused: prefix list full")            \
    X(ra_route_full, "routes from RAs and redirects refused: IPv6 route table full") \
    X(rs_tx, "Router Solicitations sent")                                      \
    X(ra_tx, "Router Advertisements sent (advertising as a router)")          \
    X(slaac_addr_added, "addresses formed by stateless autoconfiguration")     \
    X(slaac_bad_plen, "autonomous prefixes not used: length not 64")           \
    X(slaac_addr_full, "autoconfigured addresses refused: max_addresses reached") \
    X(dad_ns_tx, "Duplicate Address Detection probes sent")                    \
    X(dad_conflict, "addresses dropped: Duplicate Address Detection found them in use") \
    X(dad_looped, "DAD probes of our own received back (same nonce)")          \
    X(dad_giveup, "stable addresses given up: idgen_retries conflicts in a row") \
    X(redirect_rx, "Redirects accepted")                                       \
    X(redirect_bad, "Redirects dropped: not from the destination's first-hop router") \
    X(redirect_ignored, "Redirects ignored: forwarding")                       \
    X(redirect_evict, "redirected destinations forgotten to make room")        \
    X(mld_report_tx, "MLDv2 reports sent")                                     \
    X(mld_query_rx, "MLDv2 queries answered")                                  \
    X(mld_query_invalid, "MLD queries failing RFC 3810 validation (source, hop limit, Router Alert, length)") \
    X(mld_v1_ignored, "MLDv1 queries ignored (no MLDv1 compatibility mode)")   \
    X(mld_group_full, "multicast joins refused: group table full")

/* Counter identifiers: NS_CTR_dev_rx_frames, ... */
enum ns_counter {
#define NS_X_ENUM(name, desc) NS_CTR_##name,
    NS_COUNTERS(NS_X_ENUM)
#undef NS_X_ENUM
    NS_CTR__COUNT
};

#endif
