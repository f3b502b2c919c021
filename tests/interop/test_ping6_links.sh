#!/usr/bin/env bash
# tests/interop/test_ping6_links.sh — IPv6 over TUN and over AF_PACKET,
# with the Linux kernel as the peer:
#
#   kernel 2001:db8::1 ─tun─ netsock host 2001:db8::2       (IPv6 packets, no ND)
#   kernel 2001:db8:1::1 [va] ══veth══ [vb] AF_PACKET netsock 2001:db8:1::2
#
#   1. TUN: ping -6 at 56, 1452 and 8000 bytes (fragmented both ways).
#   2. AF_PACKET: the same, through Neighbour Discovery; the kernel's
#      neighbour table has netsock's MAC (the interface's own).
# Usage: test_ping6_links.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
nsk_setup
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
in_ns sysctl -qw net.ipv6.conf.default.accept_dad=0

ping6_suite() {
    local dst=$1 tag=$2
    for size in 56 1452 8000; do
        log "$tag: ping -6 -s $size $dst"
        timeout 120 ip netns exec "$NS" ping -6 -n -c 3 -i 0.2 -W 2 -s "$size" "$dst" \
            >"$TMP/$tag-$size.out" 2>&1 || true
        expect_summary "$TMP/$tag-$size.out" 3
        grep -q "^$((size + 8)) bytes from $dst" "$TMP/$tag-$size.out" ||
            { cat "$TMP/$tag-$size.out"; fail "no $((size + 8))-byte reply"; }
    done
}

TUN=nst6$$
TUN=${TUN:0:15}
nsk_netsock_bg tun host --link "tun:$TUN" --addr "$NETSOCK_IP/24" --addr 2001:db8::2/64 \
    --name t6 --pcap "$TMP/tun-netsock.pcap"
tun=$NSK_LAST_PID
nsk_wait_dev "$TUN"
nsk_kernel_side "$TUN"
in_ns ip -6 addr add 2001:db8::1/64 dev "$TUN" nodad
ping6_suite 2001:db8::2 tun
nsk_stop "$tun"

VA=nsa6$$
VB=nsb6$$
VA=${VA:0:15}
VB=${VB:0:15}
in_ns ip link add "$VA" type veth peer name "$VB" || nsk_skip "cannot create a veth pair"
in_ns sysctl -qw "net.ipv6.conf.$VB.disable_ipv6=1"
in_ns ip link set "$VA" up
in_ns ip link set "$VB" up
in_ns ip -6 addr add 2001:db8:1::1/64 dev "$VA" nodad
nsk_capture veth "$VA"
nsk_netsock_bg pkt host --link "packet:$VB" --addr 198.51.100.2/24 --addr 2001:db8:1::2/64 \
    --name p6 --pcap "$TMP/pkt-netsock.pcap"
pkt=$NSK_LAST_PID
sleep 0.2
kill -0 "$pkt" 2>/dev/null || fail "netsock on $VB exited: $(cat "$TMP/pkt.log")"
ping6_suite 2001:db8:1::2 packet
mac=$(in_ns cat "/sys/class/net/$VB/address")
in_ns ip -6 neigh show dev "$VA" | grep -Eq "^2001:db8:1::2 lladdr $mac (REACHABLE|STALE|DELAY|PROBE)" ||
    { in_ns ip -6 neigh show dev "$VA"; fail "the kernel did not learn netsock's MAC $mac"; }
nsk_stop "$pkt"
nsk_pass
