#!/usr/bin/env bash
# tests/interop/test_ping6_tap.sh — IPv6 over TAP with the Linux kernel as
# the peer: the kernel pings netsock host (given an IPv6 address with a
# second --addr) and learns it through Neighbour Discovery.
#
#   kernel 2001:db8::1/64 ─tap─ netsock host 2001:db8::2/64 (and 192.0.2.2/24)
#
#   1. ping -6 at 56 bytes, 1452 bytes (a full 1500-byte packet) and 8000
#      bytes (fragmented both ways: the kernel's fragments reassembled by
#      netsock, netsock's reply fragmented to the link MTU), every reply
#      right (ping checks the data).
#   2. ping -6 to netsock's link-local address (fe80::EUI-64 from its MAC,
#      scope the TAP) answers too.
#   3. the kernel's neighbour table has netsock's MAC for 2001:db8::2 in a
#      NUD state of a live neighbour (REACHABLE, STALE, DELAY or PROBE);
#      netsock counted the NS/NA exchange and the reassembly.
# Usage: test_ping6_tap.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
nsk_setup
# nsk_setup turns IPv6 off in the namespace; this test is about it.
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
in_ns sysctl -qw net.ipv6.conf.default.accept_dad=0

TAP=nsp6$$
TAP=${TAP:0:15}
K6=2001:db8::1
N6=2001:db8::2
MAC=02:00:00:00:6e:02

log "netsock host on $TAP with $N6/64"
nsk_netsock_bg host host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --addr "$N6/64" \
    --mac "$MAC" --name h6 --pcap "$TMP/host-netsock.pcap"
host=$NSK_LAST_PID
nsk_wait_dev "$TAP"
in_ns sysctl -qw "net.ipv6.conf.$TAP.accept_dad=0"
nsk_kernel_side "$TAP"
in_ns ip -6 addr add "$K6/64" dev "$TAP" nodad
nsk_capture kernel "$TAP"

ping6() {
    local name=$1
    shift
    timeout 120 ip netns exec "$NS" ping -6 -n "$@" >"$TMP/$name.out" 2>&1 || true
}

log "ping -6: 56 bytes"
ping6 p56 -c 3 -i 0.2 -W 2 "$N6"
expect_summary "$TMP/p56.out" 3
log "ping -6: 1452 bytes (1500-byte packets)"
ping6 p1452 -c 3 -i 0.2 -W 2 -s 1452 "$N6"
expect_summary "$TMP/p1452.out" 3
grep -q "^1460 bytes from $N6" "$TMP/p1452.out" || { cat "$TMP/p1452.out"; fail "no 1460-byte reply"; }
log "ping -6: 8000 bytes (fragmented both ways)"
ping6 p8000 -c 3 -i 0.2 -W 2 -s 8000 "$N6"
expect_summary "$TMP/p8000.out" 3
grep -q "^8008 bytes from $N6" "$TMP/p8000.out" || { cat "$TMP/p8000.out"; fail "no 8008-byte reply"; }

log "ping -6 to the link-local fe80::ff:fe00:6e02%$TAP"
ping6 pll -c 2 -i 0.2 -W 2 "fe80::ff:fe00:6e02%$TAP"
expect_summary "$TMP/pll.out" 2

log "the kernel's neighbour table knows netsock"
in_ns ip -6 neigh show dev "$TAP" >"$TMP/neigh.out"
cat "$TMP/neigh.out" | sed 's/^/   /'
grep -Eq "^$N6 lladdr $MAC (router )?(REACHABLE|STALE|DELAY|PROBE)" "$TMP/neigh.out" ||
    fail "no live neighbour entry for $N6 at $MAC"

nsk_stop "$host"
wait "$host" 2>/dev/null || true
log "netsock's counters"
for c in nd_rx_ns nd_tx_na icmp6_tx_echo_reply ip6_reass_ok ip6_frag_ok; do
    v=$(nsk_counter "$TMP/host.log" "$c")
    echo "   $c $v"
    [ "$v" -gt 0 ] || { cat "$TMP/host.log"; fail "counter $c is 0"; }
done
nsk_pass
