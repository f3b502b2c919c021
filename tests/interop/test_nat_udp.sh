#!/usr/bin/env bash
# tests/interop/test_nat_udp.sh — `netsock nat` for UDP and ICMP
# (docs/nat.md), guest and host namespaces as nat_lib.sh makes them:
#
#   - UDP echo through the nat, also of an 8000-byte datagram (fragments
#     from the guest reassembled by the stack, fragments made for it);
#   - endpoint-independent mapping (RFC 4787 REQ-1): one guest socket
#     talking to two servers shows both the same host address and port;
#   - DNS at 10.0.2.3 forwarded to the resolver of the nat's resolv.conf
#     (run_py_dns.py on 192.0.2.1), which sees the host's address;
#   - a datagram to a closed port: the host's ICMP port unreachable comes
#     back to the guest's socket (ECONNREFUSED);
#   - ping: a live address answers, a dead one (192.0.2.99) does not;
#   - the mappings in `netsock stat -c`.
. "$(dirname "$0")/lib.sh" "$1"
. "$(dirname "$0")/nat_lib.sh"
D=$(dirname "$0")
PEER="python3 $D/nat_peer.py"
command -v socat >/dev/null || nsk_skip "needs socat"
nat_setup

host_bg uecho socat UDP-RECVFROM:5555,bind=192.0.2.1,fork PIPE
host_bg who1 $PEER udp-who 192.0.2.1 6001
host_bg who2 $PEER udp-who 198.51.100.1 6002
host_bg dns python3 "$D/run_py_dns.py" server 192.0.2.1 "$TMP/dns-queries.log"
servers_up() { [ "$(in_ns ss -Hunl | grep -cE '192\.0\.2\.1:(5555|6001|53) |198\.51\.100\.1:6002 ')" = 4 ]; }
for _ in $(seq 200); do
    servers_up && break
    sleep 0.1
done
servers_up || fail "the UDP servers did not start: $(in_ns ss -Hunl | tr '\n' ' ')"

log "UDP echo"
r=$(echo "hello through the nat" | in_guest timeout 10 socat -t 5 - UDP:192.0.2.1:5555)
[ "$r" = "hello through the nat" ] || fail "UDP echo answered '$r'"
r=$(in_guest timeout 10 $PEER udp-big 192.0.2.1 5555 8000)
[ "$r" = SAME ] || fail "an 8000-byte datagram (fragmented both ways) came back: $r"

log "endpoint-independent mapping"
in_guest timeout 10 $PEER udp-eim 192.0.2.1 6001 198.51.100.1 6002 >"$TMP/eim.out" ||
    fail "udp-eim: exit $?"
cat "$TMP/eim.out"
[ "$(wc -l <"$TMP/eim.out")" = 2 ] || fail "not two answers"
# The same port for both (the address is the host's source address
# towards each, which here differs: both servers live on the host).
[ "$(cut -d: -f2 "$TMP/eim.out" | sort -u | wc -l)" = 1 ] ||
    fail "the two servers saw different host ports: $(tr '\n' ' ' <"$TMP/eim.out")"

log "DNS through 10.0.2.3"
r=$(in_guest timeout 10 python3 -c 'import socket; print(socket.gethostbyname("www.test.example"))')
[ "$r" = 192.0.2.80 ] || fail "www.test.example resolved to '$r', want 192.0.2.80"
grep -q "www.test.example" "$TMP/dns-queries.log" || fail "the resolver saw no query"
grep -q "192.0.2.1" "$TMP/dns-queries.log" || fail "the query did not come from the host's address"

log "a closed UDP port: ICMP port unreachable back to the guest"
r=$(in_guest timeout 10 $PEER udp-refused 192.0.2.1 5556)
[ "$r" = ECONNREFUSED ] || fail "recv after a datagram to a closed port: $r, want ECONNREFUSED"

log "ping: a live address answers, a dead one does not"
in_guest ping -c 2 -W 2 192.0.2.1 >"$TMP/ping-live.out" || fail "ping 192.0.2.1: $(cat "$TMP/ping-live.out")"
grep -q "2 received" "$TMP/ping-live.out" || fail "ping 192.0.2.1: $(tail -2 "$TMP/ping-live.out")"
if in_guest ping -c 2 -W 2 192.0.2.99 >"$TMP/ping-dead.out"; then
    fail "192.0.2.99 (nobody) answered: $(cat "$TMP/ping-dead.out")"
fi
grep -q " 0 received" "$TMP/ping-dead.out" || fail "ping 192.0.2.99: $(tail -2 "$TMP/ping-dead.out")"

log "the mappings in netsock stat -c"
nat_stat -c >"$TMP/ct.txt" || fail "netsock stat -c: exit $?"
cat "$TMP/ct.txt"
grep -Eq '^udp +MAPPED +10\.0\.2\.100:[0-9]+ +10\.0\.2\.3:53 +[0-9.]+:[0-9]+ +192\.0\.2\.1:53 ' "$TMP/ct.txt" ||
    fail "no mapping for the DNS query"
grep -Eq '^icmp +MAPPED +10\.0\.2\.100:[0-9]+ +192\.0\.2\.99:\* ' "$TMP/ct.txt" ||
    fail "no echo mapping for 192.0.2.99"
grep -Eq '^ +[0-9]+ icmp_errors_in$' "$TMP/ct.txt" || fail "icmp_errors_in not counted"
nsk_pass
