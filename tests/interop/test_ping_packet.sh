#!/usr/bin/env bash
# tests/interop/test_ping_packet.sh — ping over AF_PACKET on one end of a
# veth pair, both ways, with the Linux kernel on the other end:
#
#     kernel 192.0.2.1 [nsva] ══veth══ [nsvb] AF_PACKET netsock 192.0.2.2
#
# Both ends live in the test's namespace; nsvb has no address, so the
# kernel leaves its traffic to netsock.
#   1. netsock on nsvb (the interface's own MAC) answers the kernel's pings:
#      56, 1472 and 8000 bytes, a flood of 200 with no loss;
#   2. netsock pings the kernel, the same set;
#   3. again with a MAC of netsock's own (--mac: promiscuous mode).
# Usage: test_ping_packet.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
nsk_setup

VA=nsva$$
VB=nsvb$$
VA=${VA:0:15}
VB=${VB:0:15}
in_ns ip link add "$VA" type veth peer name "$VB" || nsk_skip "cannot create a veth pair"
nsk_kernel_side "$VA"
in_ns ip link set "$VB" up
nsk_capture veth "$VA"

log "netsock on $VB (AF_PACKET) answers pings"
nsk_netsock_bg host ping --link "packet:$VB" --addr "$NETSOCK_IP/24" \
    --pcap "$TMP/host-netsock.pcap" -q -i 3600 "$KERNEL_IP"
host=$NSK_LAST_PID
sleep 0.2 # the socket and its ring are up well before this
kill -0 "$host" 2>/dev/null || fail "netsock on $VB exited: $(cat "$TMP/host.log")"
kernel_to_netsock_suite 200
nsk_stop "$host"
grep -q "packets transmitted" "$TMP/host.log" || fail "netsock host: no statistics after SIGTERM"

log "netsock on $VB pings the kernel"
in_ns ip neigh flush dev "$VA"
netsock_to_kernel_suite "packet:$VB" 200

log "netsock on $VB with a MAC of its own (promiscuous) pings the kernel"
in_ns ip neigh flush dev "$VA"
netsock_ping promisc "packet:$VB" --mac 02:00:5e:10:00:02 -c 3 -i 0.2
expect_summary "$TMP/promisc.out" 3
in_ns ip neigh show dev "$VA" | grep -q "02:00:5e:10:00:02" ||
    fail "the kernel did not learn netsock's own MAC"

nsk_pass
