#!/usr/bin/env bash
# tests/interop/test_attack_ooo_stuff.sh — windows stuffed with
# out-of-order data that can never be delivered must not take the host's
# memory:
#
#     kernel 192.0.2.1 ─tap─ netsock host 192.0.2.2 --tcp-mem 8M,12M,16M
#         + attack.py ooo-stuff: 600 TCP connections from a spoofed
#           198.51.100.7 (netsock's answers go to its gateway, the kernel,
#           which drops them), each window (128 KiB) filled with
#           out-of-order data, never the first byte: ~80 MB that no
#           application can ever read
#
# Before the stack-wide TCP memory limit every such segment was kept until
# its connection closed (2000 connections held 297 MB).
#
#   1. The attack runs (its connections established, its data sent), then
#      a legitimate transfer: curl POST /sink of 32 MiB, checked by SHA-256.
#   2. The host's peak RSS (VmHWM) rose by at most the limit's high mark
#      (16 MiB) plus a fixed allowance (32 MiB: the 8 MiB packet-buffer
#      pool being touched, ASan's shadow and redzones, allocator slack)
#      over its RSS before the attack; ASan's quarantine of freed blocks
#      is off for the host, so RSS follows what is live. Measured: +26 MiB
#      in a release build, +36 MiB under ASan; +114 MiB without a limit
#      (--tcp-mem 1G,1G,1G), when the stuffing holds 72 MB.
#   3. The counters show the limit at work: memory pressure entered,
#      out-of-order data refused above tcp_mem_pressure, and pruned to make
#      room for the transfer; `netsock stat -s` shows the memory held.
# Bounded in time: the attack stops after 60 s at most, curl after 120 s.
# Usage: test_attack_ooo_stuff.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl python3 sha256sum; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export NETSOCK_RUN_DIR=$TMP
HERE=$(cd "$(dirname "$0")" && pwd)
# RSS must follow what is live: no quarantine of freed blocks in ASan
# builds (ignored by other builds).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0

TAP=nsao$$
TAP=${TAP:0:15}
CONNS=600
HIGH_MIB=16
ALLOWANCE_MIB=32

log "netsock host on $TAP, --tcp-mem 8M,12M,${HIGH_MIB}M"
nsk_netsock_bg host host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --gw "$KERNEL_IP" \
    --name "$TAP" --tcp-mem "8M,12M,${HIGH_MIB}M"
host=$NSK_LAST_PID
nsk_wait_dev "$TAP"
nsk_kernel_side "$TAP"
in_ns sysctl -qw net.ipv4.ip_forward=0
kernel_ping k-small -c 3 -i 0.2 -W 2
expect_summary "$TMP/k-small.out" 3

# kib FIELD: the host's VmRSS or VmHWM in KiB.
kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$host/status"; }
# counter NAME: the host's counter NAME now.
counter() {
    "$NETSOCK" stat --name "$TAP" -s --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"][sys.argv[1]])' "$1"
}

rss0=$(kib VmRSS)
log "attack: $CONNS connections, every window stuffed with out-of-order data"
in_ns timeout 90 python3 "$HERE/attack.py" ooo-stuff --dst "$NETSOCK_IP" --port 9 \
    --src 198.51.100.7 --ifname "$TAP" --conns "$CONNS" --seconds 60 >"$TMP/attack.log" 2>&1 ||
    fail "attack.py: $(cat "$TMP/attack.log")"
echo "   $(cat "$TMP/attack.log")"
est=$(sed -n 's/^ooo-stuff: \([0-9]*\) of .*/\1/p' "$TMP/attack.log")
[ "${est:-0}" -ge $((CONNS * 9 / 10)) ] || fail "only ${est:-0} of $CONNS connections established"
sleep 1
"$NETSOCK" stat --name "$TAP" -s >"$TMP/stat-attack.out"
grep -A3 "^Memory:" "$TMP/stat-attack.out" | sed 's/^/   /'

log "a transfer during the attack: curl POST /sink, 32 MiB"
head -c 33554432 /dev/urandom >"$TMP/sink.in"
want=$(sha256sum <"$TMP/sink.in" | cut -c1-64)
in_ns curl -sS -m 120 --data-binary @"$TMP/sink.in" "http://$NETSOCK_IP/sink" >"$TMP/sink.out" ||
    fail "curl POST /sink: exit status $?"
grep -q "^{\"bytes\": 33554432, \"sha256\": \"$want\"}$" "$TMP/sink.out" ||
    fail "/sink answered '$(cat "$TMP/sink.out")', want sha256 $want"
rm -f "$TMP/sink.in"

"$NETSOCK" stat --name "$TAP" -s >"$TMP/stat.out"
grep -E "tcp_ooo|tcp_mem|Memory:|TCP|bytes held" "$TMP/stat.out" | sed 's/^/   /'
hwm=$(kib VmHWM)
grew=$(((hwm - rss0) / 1024))
echo "   RSS before the attack $((rss0 / 1024)) MiB, peak $((hwm / 1024)) MiB: grew $grew MiB" \
    "(limit: high $HIGH_MIB MiB + allowance $ALLOWANCE_MIB MiB)"
[ "$grew" -le $((HIGH_MIB + ALLOWANCE_MIB)) ] ||
    fail "the host's RSS grew by $grew MiB, more than the TCP memory limit allows"
[ "$(counter tcp_mem_pressures)" -ge 1 ] || fail "memory pressure never entered"
[ "$(counter tcp_mem_ooo_drop)" -gt 0 ] || fail "no out-of-order data refused above pressure"
[ "$(counter tcp_ooo_pruned)" -gt 0 ] || fail "no out-of-order data pruned for the transfer"

nsk_stop "$host"
nsk_check_log host
nsk_pass
