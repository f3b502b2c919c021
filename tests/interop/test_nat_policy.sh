#!/usr/bin/env bash
# tests/interop/test_nat_policy.sh — `netsock nat`'s outbound policy and
# its table's bound (docs/nat.md "Policy", "The table"):
#
#   - --disable-host-loopback: the gateway no longer leads to the host's
#     127.0.0.1 (refused: ICMP administratively prohibited, EHOSTUNREACH);
#   - --deny 198.51.100.0/24 wins over --allow 192.0.2.0/23: a denied
#     destination is refused, an allowed one reached, one outside both
#     (198.18.0.1, the test's DNS-free "elsewhere") refused;
#   - --max-conns 3: with two TCP connections held, each new flow evicts
#     the UDP mapping there is (udp_evicted), and with three TCP
#     connections a fourth is refused (RST: refused_table_full).
. "$(dirname "$0")/lib.sh" "$1"
. "$(dirname "$0")/nat_lib.sh"
PEER="python3 $(dirname "$0")/nat_peer.py"
command -v socat >/dev/null || nsk_skip "needs socat"
nat_setup --disable-host-loopback --allow 192.0.2.0/23 --allow 198.51.100.0/24 \
    --deny 198.51.100.0/24 --max-conns 3

host_bg lo socat TCP-LISTEN:8088,bind=127.0.0.1,reuseaddr,fork PIPE
host_bg echo1 socat TCP-LISTEN:7,bind=192.0.2.1,reuseaddr,fork PIPE
host_bg echo2 socat TCP-LISTEN:7,bind=198.51.100.1,reuseaddr,fork PIPE
host_bg uecho socat UDP-RECVFROM:5555,bind=192.0.2.1,fork PIPE
host_wait_tcp 8088
host_wait_tcp 7
for _ in $(seq 200); do in_ns ss -Hunl | grep -q '192\.0\.2\.1:5555 ' && break; sleep 0.1; done

log "--disable-host-loopback"
r=$(in_guest timeout 10 $PEER connect 10.0.2.2 8088)
[ "$r" = EHOSTUNREACH ] || fail "10.0.2.2:8088 with --disable-host-loopback: $r, want EHOSTUNREACH"

log "--allow and --deny"
r=$(in_guest timeout 10 $PEER connect 192.0.2.1 7)
[ "$r" = OK ] || fail "192.0.2.1:7 (allowed): $r"
r=$(in_guest timeout 10 $PEER connect 198.51.100.1 7)
[ "$r" = EHOSTUNREACH ] || fail "198.51.100.1:7 (denied): $r, want EHOSTUNREACH"
r=$(in_guest timeout 10 $PEER connect 198.18.0.1 7)
[ "$r" = EHOSTUNREACH ] || fail "198.18.0.1:7 (not allowed): $r, want EHOSTUNREACH"

log "--max-conns 3: UDP mappings are evicted, TCP connections refused"
holds=()
for i in 1 2; do
    ip netns exec "$GNS" $PEER hold 192.0.2.1 7 60 >"$TMP/hold$i.log" 2>&1 &
    holds+=("$!")
    NSK_PIDS+=("$!")
    for _ in $(seq 50); do grep -q HOLDING "$TMP/hold$i.log" && break; sleep 0.1; done
done
echo one | in_guest timeout 10 socat -t 2 - UDP:192.0.2.1:5555 >/dev/null
echo two | in_guest timeout 10 socat -t 2 - UDP:192.0.2.1:5555 >"$TMP/u2.out"
[ "$(cat "$TMP/u2.out")" = two ] || fail "the second UDP flow was not relayed"
ip netns exec "$GNS" $PEER hold 192.0.2.1 7 60 >"$TMP/hold3.log" 2>&1 &
NSK_PIDS+=("$!")
for _ in $(seq 50); do grep -q HOLDING "$TMP/hold3.log" && break; sleep 0.1; done
r=$(in_guest timeout 10 $PEER connect 192.0.2.1 7)
[ "$r" = ECONNREFUSED ] || fail "a fourth connection with --max-conns 3: $r, want ECONNREFUSED"
nat_stat -c >"$TMP/ct.txt" || fail "netsock stat -c: exit $?"
cat "$TMP/ct.txt"
grep -q '^3 of at most 3 entries$' "$TMP/ct.txt" || fail "the table is not at its bound"
for c in "2 udp_evicted" "1 refused_table_full" "1 refused_host_loopback" "2 refused_policy"; do
    grep -Eq "^ +$c\$" "$TMP/ct.txt" || fail "counter '$c' missing"
done
nsk_pass
