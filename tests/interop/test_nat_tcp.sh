#!/usr/bin/env bash
# tests/interop/test_nat_tcp.sh — `netsock nat` relays the guest's TCP
# through host sockets (docs/nat.md): a guest namespace that only netsock
# nat connects, a host namespace with the servers (nat_lib.sh).
#
#   - a 50 MB download over HTTP from 192.0.2.1, byte-exact;
#   - 5 MB through an echo server, the guest's FIN (socat shut-down)
#     carried to the host and the server's FIN back (half-close each way);
#   - a closed port answers RST (ECONNREFUSED, at once), a network the
#     host has no route to ICMP net unreachable (ENETUNREACH);
#   - a reset carried across each way; keepalive on the relay's host socket;
#   - the gateway (10.0.2.2) is the host's loopback;
#   - `netsock stat -c` (and --json) lists a held connection's pair.
. "$(dirname "$0")/lib.sh" "$1"
. "$(dirname "$0")/nat_lib.sh"
PEER="python3 $(dirname "$0")/nat_peer.py"
command -v curl >/dev/null || nsk_skip "needs curl"
command -v socat >/dev/null || nsk_skip "needs socat"
nat_setup

mkdir -p "$TMP/www"
head -c 50000000 /dev/urandom >"$TMP/www/big"
host_bg http sh -c "cd '$TMP/www' && exec python3 -m http.server --bind 192.0.2.1 8080"
# The echo server: one thread per connection that reads and sends back
# (socat's PIPE echo can block writing into its own full pipe while it is
# the pipe's only reader: a 5 MB echo then stalls in the kernel's server).
host_bg echo python3 "$(dirname "$0")/run_py_selectors.py" echo 198.51.100.1 7
host_bg lo-http sh -c "cd '$TMP/www' && exec python3 -m http.server --bind 127.0.0.1 8088"
host_wait_tcp 8080
host_wait_tcp 7
host_wait_tcp 8088

log "50 MB download from 192.0.2.1:8080"
want=$(sha <"$TMP/www/big")
t0=$(nsk_now)
in_guest curl -sS -m 100 -o "$TMP/big.out" http://192.0.2.1:8080/big || fail "curl: exit $?"
t1=$(nsk_now)
got=$(sha <"$TMP/big.out")
[ "$got" = "$want" ] || fail "download: $(stat -c %s "$TMP/big.out") bytes, sha256 $got, want $want"
goodput "GET 50 MB through the nat" 50000000 "$t0" "$t1"
rm -f "$TMP/big.out"

log "5 MB through echo: the guest's FIN, then the server's"
head -c 5000000 /dev/urandom >"$TMP/echo.in"
in_guest timeout 60 socat -t 30 - TCP:198.51.100.1:7,shut-down <"$TMP/echo.in" >"$TMP/echo.out" ||
    fail "socat to echo: exit $?"
cmp -s "$TMP/echo.in" "$TMP/echo.out" || fail "echo: $(stat -c %s "$TMP/echo.out") bytes came back differently"

log "a closed port: RST; no route on the host: ICMP net unreachable"
r=$(in_guest timeout 10 $PEER connect 192.0.2.1 8081)
[ "$r" = ECONNREFUSED ] || fail "connect to a closed port: $r, want ECONNREFUSED"
r=$(in_guest timeout 10 $PEER connect 198.18.0.1 80)
[ "$r" = ENETUNREACH ] || fail "connect to an unrouted network: $r, want ENETUNREACH"

log "resets carried across"
host_bg rst1 $PEER rst-server 198.51.100.1 9
host_wait_tcp 9
in_guest timeout 10 $PEER rst-client 198.51.100.1 9 || fail "rst-client: exit $?"
for _ in $(seq 50); do grep -q "RESET\|EOF" "$TMP/rst1.log" && break; sleep 0.1; done
grep -q RESET "$TMP/rst1.log" || fail "the host server saw '$(cat "$TMP/rst1.log")', want RESET"
host_bg rst2 $PEER reset-me 198.51.100.1 10
host_wait_tcp 10
r=$(in_guest timeout 10 $PEER read-reset 198.51.100.1 10)
[ "$r" = RESET ] || fail "the guest saw $r when the server reset, want RESET"

log "the gateway is the host's loopback"
in_guest curl -sS -m 10 -o /dev/null -w '%{http_code}\n' http://10.0.2.2:8088/ >"$TMP/lo.out" ||
    fail "curl 10.0.2.2:8088: exit $?"
grep -q '^200$' "$TMP/lo.out" || fail "10.0.2.2:8088 answered $(cat "$TMP/lo.out")"

log "netsock stat -c lists the pair"
ip netns exec "$GNS" $PEER hold 198.51.100.1 7 30 >"$TMP/hold.log" 2>&1 &
hold=$!
NSK_PIDS+=("$hold")
for _ in $(seq 50); do grep -q HOLDING "$TMP/hold.log" && break; sleep 0.1; done
nat_stat -c >"$TMP/ct.txt" || fail "netsock stat -c: exit $?"
cat "$TMP/ct.txt"
grep -Eq '^tcp +ESTAB +10\.0\.2\.100:[0-9]+ +198\.51\.100\.1:7 +198\.51\.100\.1:[0-9]+ +198\.51\.100\.1:7 ' \
    "$TMP/ct.txt" || fail "no ESTAB line for the held connection"
grep -Eq '^ +1 tcp_refused_by_host$' "$TMP/ct.txt" || fail "tcp_refused_by_host is not 1"
nat_stat -c --json >"$TMP/ct.json" || fail "netsock stat -c --json: exit $?"
python3 - "$TMP/ct.json" <<'PY' || fail "JSON conntrack table: $(cat "$TMP/ct.json")"
import json, sys
t = json.load(open(sys.argv[1]))
e = [x for x in t["entries"] if x["proto"] == "tcp" and x["destination"] == "198.51.100.1:7"]
assert len(e) == 1 and e[0]["state"] == "ESTAB" and e[0]["bytes_out"] == 1, e
assert t["counters"]["tcp_unreachable"] == 1, t["counters"]
PY
# Keepalive on the host side of the relay (its timer in ss -o).
ka=$(in_ns ss -tno state established '( sport = :7 or dport = :7 )')
[[ $ka == *"timer:(keepalive"* ]] || fail "no keepalive on the nat's host socket: $ka"
nsk_stop "$hold"
nsk_pass
