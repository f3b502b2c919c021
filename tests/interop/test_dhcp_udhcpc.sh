#!/usr/bin/env bash
# tests/interop/test_dhcp_udhcpc.sh — the kernel gets its address from
# netsock's DHCP server (tools/dhcpd.c, `netsock host --dhcp-server`) over
# TAP, with a real DHCP client: busybox's udhcpc.
#
#     kernel (no address) ─tap─ netsock host 192.0.2.2/24 --dhcp-server
#
#   1. udhcpc (without -B: no broadcast bit) gets 192.0.2.15, the first of
#      the pool, with the router, DNS, MTU, lease time and server id the
#      server was told; its script applies them, and the kernel then pings
#      192.0.2.2 from its new address. On the wire (tcpdump on the kernel's
#      side): DISCOVER and REQUEST from 0.0.0.0 to 255.255.255.255, OFFER
#      and ACK unicast to 192.0.2.15 (RFC 2131 §4.1: the client's hardware
#      address and yiaddr) with no ARP request for it before them.
#   2. A second client (another client identifier, -B: the broadcast bit)
#      gets 192.0.2.16, the OFFER and ACK broadcast to 255.255.255.255.
#   3. The first client again: the same 192.0.2.15 (the server remembers
#      its client); SIGUSR2 makes it send a RELEASE, which the server takes.
#   4. A DISCOVER that is not DHCP (garbage to port 67) is counted, not
#      answered. netsock's DHCP counters at exit say all of this.
# Only 192.0.2.0/24 is used, on the TAP inside the test's namespace.
# Usage: test_dhcp_udhcpc.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
command -v busybox >/dev/null || nsk_skip "needs busybox (udhcpc)"
busybox udhcpc --help >/dev/null 2>&1 || nsk_skip "busybox has no udhcpc"
command -v python3 >/dev/null || nsk_skip "needs python3"
nsk_setup
export NETSOCK_RUN_DIR=$TMP

TAP=nsdh$$
TAP=${TAP:0:15}

# udhcpc's script: record what the server gave, and apply it as a
# distribution's script would (address, default route, MTU).
# The record appears whole (written aside, then renamed) and only once
# the configuration is applied: the test waits for it.
cat >"$TMP/apply.sh" <<'EOF'
#!/bin/sh
out=$DHCP_OUT.$1
case $1 in
bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
    ;;
deconfig)
    ip addr flush dev "$interface"
    ;;
esac
env | grep -E '^(interface|ip|mask|subnet|router|dns|mtu|lease|serverid)=' | sort >"$out.part"
mv "$out.part" "$out"
exit 0
EOF
chmod +x "$TMP/apply.sh"

log "netsock host on $TAP with --dhcp-server"
nsk_netsock_bg host host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --name "$TAP" --serve echo \
    --dhcp-server=dns=192.0.2.53,mtu=1400,lease=600 --pcap "$TMP/host-netsock.pcap"
host=$NSK_LAST_PID
nsk_wait_dev "$TAP"
in_ns ip link set "$TAP" up
nsk_capture tap "$TAP"
for _ in $(seq 100); do
    grep -q "dhcp (192.0.2.15-192.0.2.30)" "$TMP/host.log" && break
    sleep 0.05
done
grep -q "dhcp (192.0.2.15-192.0.2.30)" "$TMP/host.log" || { cat "$TMP/host.log" >&2; fail "host did not start its DHCP server"; }

# udhcpc NAME ARGS...: one run until it has a lease (-q), output in $TMP/NAME.out.
udhcpc() {
    local name=$1
    shift
    DHCP_OUT=$TMP/$name in_ns timeout 30 busybox udhcpc -i "$TAP" -f -q -n -t 5 -T 1 \
        -s "$TMP/apply.sh" "$@" >"$TMP/$name.out" 2>&1 ||
        { cat "$TMP/$name.out" >&2; fail "udhcpc $name: no lease"; }
    sed 's/^/   /' "$TMP/$name.out"
}

# want FILE VAR VALUE: the script saw VAR=VALUE.
want() {
    grep -qx "$2=$3" "$1" || { cat "$1" >&2; fail "$(basename "$1"): want $2=$3"; }
}

log "1. udhcpc without the broadcast bit"
udhcpc c1
b=$TMP/c1.bound
[ -f "$b" ] || fail "udhcpc c1 did not run its script with 'bound'"
want "$b" ip 192.0.2.15
want "$b" subnet 255.255.255.0
want "$b" router 192.0.2.2
want "$b" dns 192.0.2.53
want "$b" mtu 1400
want "$b" lease 600
want "$b" serverid 192.0.2.2
in_ns ip -4 addr show dev "$TAP" | grep -q "inet 192.0.2.15/24" || fail "the kernel has no 192.0.2.15/24"
in_ns ip route show default | grep -q "via 192.0.2.2" || fail "no default route via 192.0.2.2"
in_ns ip link show "$TAP" | grep -q "mtu 1400" || fail "the MTU is not 1400"
in_ns ping -c 2 -i 0.2 -W 2 -I 192.0.2.15 "$NETSOCK_IP" >"$TMP/ping.out" || { cat "$TMP/ping.out" >&2; fail "ping from 192.0.2.15"; }
echo "   $(grep 'packets transmitted' "$TMP/ping.out")"

log "2. a second client, with the broadcast bit (-B) and its own client identifier"
in_ns ip addr flush dev "$TAP"
udhcpc c2 -B -x 0x3d:01020000000002
want "$TMP/c2.bound" ip 192.0.2.16

log "3. the first client again, staying; then SIGUSR2: it releases its lease"
in_ns ip addr flush dev "$TAP"
# Not through in_ns: $! must be udhcpc itself (ip netns exec and env exec).
ip netns exec "$NS" env DHCP_OUT="$TMP/c3" busybox udhcpc -i "$TAP" -f -t 5 -T 1 \
    -s "$TMP/apply.sh" >"$TMP/c3.out" 2>&1 </dev/null &
c3=$!
NSK_PIDS+=("$c3")
for _ in $(seq 100); do
    [ -f "$TMP/c3.bound" ] && break
    sleep 0.1
done
[ -f "$TMP/c3.bound" ] || { cat "$TMP/c3.out" >&2; fail "udhcpc c3: no lease"; }
want "$TMP/c3.bound" ip 192.0.2.15
# The kernel's ARP entry for the server fresh first: a RELEASE sent while
# it resolves waits in the neighbour queue, and udhcpc's deconfig then
# removes the address and the packet with it (seen under load in make test).
in_ns ping -c 1 -W 2 192.0.2.2 >/dev/null 2>&1 || true
kill -USR2 "$c3"
for _ in $(seq 50); do
    grep -q "entering released state" "$TMP/c3.out" && break
    sleep 0.1
done
nsk_stop "$c3"
sed 's/^/   /' "$TMP/c3.out"
grep -q "unicasting a release of 192.0.2.15 to 192.0.2.2" "$TMP/c3.out" || fail "udhcpc c3 sent no RELEASE"

log "4. garbage to port 67"
in_ns ip addr add 192.0.2.15/24 dev "$TAP" 2>/dev/null || true
in_ns python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"\x01" * 100, ("192.0.2.2", 67))
s.sendto(b"\x01\x01\x06\x00" + b"\x00" * 232 + b"\x00\x00\x00\x00", ("192.0.2.2", 67))
'
sleep 0.5

nsk_capture_stop tap
nsk_stop "$host"
log "netsock host said"
grep "DHCP" "$TMP/host.log" | sed 's/^/   /'

# The wire: tcpdump reads the kernel side's capture.
tcpdump -nr "$TMP/tap.pcap" -e 'udp port 67 or udp port 68 or arp' 2>/dev/null >"$TMP/wire.txt"
log "on the wire"
sed 's/^/   /' "$TMP/wire.txt" | head -40
# Requests: from 0.0.0.0:68 to the limited broadcast.
grep -q "0.0.0.0.68 > 255.255.255.255.67: BOOTP/DHCP, Request" "$TMP/wire.txt" ||
    fail "no request from 0.0.0.0 to 255.255.255.255"
# Client 1 (no broadcast bit): replies unicast to 192.0.2.15.
n_uni=$(grep -c "192.0.2.2.67 > 192.0.2.15.68: BOOTP/DHCP, Reply" "$TMP/wire.txt" || true)
n_bc=$(grep -c "192.0.2.2.67 > 255.255.255.255.68: BOOTP/DHCP, Reply" "$TMP/wire.txt" || true)
echo "   replies unicast to 192.0.2.15: $n_uni; broadcast: $n_bc"
[ "$n_uni" -ge 4 ] || fail "want OFFER and ACK unicast to 192.0.2.15 for clients 1 and 3, got $n_uni"
[ "$n_bc" -ge 2 ] || fail "want OFFER and ACK broadcast for client 2 (-B), got $n_bc"
# ... and netsock asked no ARP for 192.0.2.15 before its first unicast
# reply (the client, without an address, could not have answered).
awk '/who-has 192.0.2.15 tell 192.0.2.2/ && !a { a = NR }
     /192.0.2.2.67 > 192.0.2.15.68/ && !u { u = NR }
     END { exit !(a && a < u) }' "$TMP/wire.txt" &&
    fail "netsock asked ARP for 192.0.2.15 before its first unicast reply"
line=$(grep "DHCP:" "$TMP/host.log") || fail "no DHCP summary"
num() { sed -n "s/.* \([0-9]*\) $1.*/\1/p" <<<"$line"; }
[ "$(num offers)" -ge 3 ] || fail "offers: $line"
[ "$(num acks)" -ge 3 ] || fail "acks: $line"
[ "$(num naks)" = 0 ] || fail "naks: $line"
[ "$(num released)" = 1 ] || fail "want one RELEASE: $line"
[ "$(num "dropped as malformed")" -ge 1 ] || fail "the garbage was not counted: $line"
nsk_pass
