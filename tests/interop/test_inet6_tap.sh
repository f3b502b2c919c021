#!/usr/bin/env bash
# tests/interop/test_inet6_tap.sh — TCP and UDP over IPv6 between netsock
# host and the Linux kernel over TAP:
#
#   kernel 2001:db8::1/64 ─tap─ netsock host 2001:db8::2/64 (and 192.0.2.2/24)
#
#   1. curl -g -6 GET /bytes/N (1 byte, 1 MiB, 16 MiB) has the SHA-256 of
#      the documented pattern (docs/host.md); curl --data-binary @4MiB to
#      /sink answers the file's length and SHA-256.
#   2. socat to TCP echo over IPv6 with 4 MiB comes back identical.
#   3. UDP echo over IPv6 (socat UDP6), of 10 and 1400 bytes, and of 3000
#      bytes (fragmented both ways).
#   4. A connected kernel UDP socket sending to a port nobody has on
#      netsock gets ECONNREFUSED (netsock's ICMPv6 port unreachable).
#   5. IPv4 still works beside it (curl -4).
# Usage: test_inet6_tap.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl socat sha256sum python3; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
in_ns sysctl -qw net.ipv6.conf.default.accept_dad=0

TAP=nsi6$$
TAP=${TAP:0:15}
K6=2001:db8::1
N6=2001:db8::2

log "netsock host on $TAP with $N6/64"
nsk_netsock_bg host host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --addr "$N6/64" \
    --name i6 --pcap "$TMP/host-netsock.pcap"
host=$NSK_LAST_PID
nsk_wait_dev "$TAP"
in_ns sysctl -qw "net.ipv6.conf.$TAP.accept_dad=0"
nsk_kernel_side "$TAP"
in_ns ip -6 addr add "$K6/64" dev "$TAP" nodad
nsk_capture kernel "$TAP"
in_ns timeout 30 ping -6 -n -c 1 -W 2 "$N6" >/dev/null 2>&1 || true

sha() { sha256sum | cut -c1-64; }
pattern() { python3 -c 'import sys; n=int(sys.argv[1]); sys.stdout.buffer.write((bytes(range(251))*(n//251+1))[:n])' "$1"; }
URL="http://[$N6]"

for n in 1 1048576 16777216; do
    log "curl -g -6 GET /bytes/$n"
    want=$(pattern "$n" | sha)
    got=$(in_ns curl -g -6 -sS -m 120 "$URL/bytes/$n" | sha)
    [ "$got" = "$want" ] || fail "/bytes/$n over IPv6: sha256 $got, want $want"
done

log "curl -g -6 --data-binary @4MiB /sink"
head -c 4194304 /dev/urandom >"$TMP/4m"
in_ns curl -g -6 -sS -m 120 --data-binary @"$TMP/4m" "$URL/sink" >"$TMP/sink.out"
want=$(sha <"$TMP/4m")
grep -q "^{\"bytes\": 4194304, \"sha256\": \"$want\"}$" "$TMP/sink.out" ||
    fail "/sink over IPv6 answered $(cat "$TMP/sink.out"), want sha256 $want"

log "socat -> TCP echo over IPv6, 4 MiB"
got=$(in_ns timeout 120 socat -t 30 - "TCP6:[$N6]:7,shut-down" <"$TMP/4m" | sha)
[ "$got" = "$(sha <"$TMP/4m")" ] || fail "TCP echo over IPv6: sha256 $got"

for n in 10 1400 3000; do
    log "socat -> UDP echo over IPv6, $n bytes"
    head -c "$n" /dev/urandom >"$TMP/u$n"
    got=$(in_ns timeout 10 socat -t 2 -b 65536 - "UDP6:[$N6]:7" <"$TMP/u$n" | sha)
    [ "$got" = "$(sha <"$TMP/u$n")" ] || fail "UDP echo over IPv6 of $n bytes: sha256 $got"
done

log "a connected kernel UDP socket: ECONNREFUSED from netsock's port unreachable"
in_ns python3 - "$N6" >"$TMP/refused.out" 2>&1 <<'PY' || { cat "$TMP/refused.out"; fail "no ECONNREFUSED"; }
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect((sys.argv[1], 9999))
s.send(b"x")
try:
    s.recv(10)
except ConnectionRefusedError:
    print("ECONNREFUSED")
    sys.exit(0)
sys.exit(1)
PY
grep -q ECONNREFUSED "$TMP/refused.out" || fail "no ECONNREFUSED"

log "IPv4 beside it: curl -4"
want=$(pattern 100000 | sha)
got=$(in_ns curl -4 -sS -m 60 "http://$NETSOCK_IP/bytes/100000" | sha)
[ "$got" = "$want" ] || fail "/bytes over IPv4: sha256 $got"

nsk_stop "$host"
wait "$host" 2>/dev/null || true
log "netsock's counters"
for c in udp_delivered tcp_passive_opens icmp6_tx_err; do
    v=$(nsk_counter "$TMP/host.log" "$c")
    echo "   $c $v"
    [ "${v:-0}" -gt 0 ] || { cat "$TMP/host.log"; fail "counter $c is 0"; }
done
nsk_pass
