#!/usr/bin/env bash
# tests/interop/test_nat_forward.sh — inbound port forwarding into the
# guest (`--forward`, the API socket) and the DHCP server of `netsock
# nat` (docs/nat.md), guest and host namespaces as nat_lib.sh makes them:
#
#   - --forward tcp:127.0.0.1:18080:80: the host's curl to 127.0.0.1:18080
#     reaches the guest's HTTP server on port 80, 10 MB byte-exact, the
#     connection coming from the gateway (10.0.2.2) as in slirp4netns;
#   - the API socket: add_hostfwd opens 18081 (it works), list_hostfwd
#     lists both, remove_hostfwd closes it again (refused after);
#   - a forward to a guest port nobody listens on: the host's client is
#     reset (fwd_refused_by_guest);
#   - --forward udp:127.0.0.1:15353:5353: datagrams of two host clients
#     reach the guest's echo server and its answers come back to each;
#   - DHCP: busybox udhcpc in the guest gets a lease from the gateway.
. "$(dirname "$0")/lib.sh" "$1"
. "$(dirname "$0")/nat_lib.sh"
command -v curl >/dev/null || nsk_skip "needs curl"
command -v socat >/dev/null || nsk_skip "needs socat"
API="${TMPDIR:-/tmp}/nsk-nat-api-$$.sock" # $TMP is made by nat_setup; netsock nat removes it
nat_setup --forward tcp:127.0.0.1:18080:80 --forward tcp:127.0.0.1:18082:81 \
    --forward udp:127.0.0.1:15353:5353 --api-socket "$API"

mkdir -p "$TMP/www"
head -c 10000000 /dev/urandom >"$TMP/www/f"
ip netns exec "$GNS" sh -c "cd '$TMP/www' && exec python3 -m http.server --bind 0.0.0.0 80" \
    >"$TMP/guest-http.log" 2>&1 </dev/null &
NSK_PIDS+=("$!")
for _ in $(seq 200); do
    [[ $(in_guest ss -Htln) == *":80 "* ]] && break
    sleep 0.1
done

log "--forward: host 127.0.0.1:18080 -> guest :80"
want=$(sha <"$TMP/www/f")
in_ns curl -sS -m 60 -o "$TMP/f.out" http://127.0.0.1:18080/f || fail "curl through the forward: exit $?"
[ "$(sha <"$TMP/f.out")" = "$want" ] || fail "10 MB through the forward: not the same bytes"
grep -q '^10\.0\.2\.2 ' "$TMP/guest-http.log" ||
    fail "the guest's server did not see the gateway as the client: $(tail -1 "$TMP/guest-http.log")"

api() { in_ns socat -t 5 - "UNIX-CONNECT:$API" <<<"$1"; }
log "the API socket"
r=$(api '{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": 18081, "guest_port": 80}}')
[[ $r == *'"return"'*'"id"'* ]] || fail "add_hostfwd answered $r"
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["return"]["id"])' "$r")
in_ns curl -sS -m 20 -o /dev/null http://127.0.0.1:18081/f || fail "curl through the added forward: exit $?"
r=$(api '{"execute": "list_hostfwd"}')
python3 - "$r" <<'PY' || fail "list_hostfwd answered $r"
import json, sys
e = json.loads(sys.argv[1])["return"]["entries"]
assert sorted(x["host_port"] for x in e) == [15353, 18080, 18081, 18082], e
PY
r=$(api "{\"execute\": \"remove_hostfwd\", \"arguments\": {\"id\": $id}}")
[[ $r == *'"return"'* ]] || fail "remove_hostfwd answered $r"
if in_ns curl -sS -m 5 -o /dev/null http://127.0.0.1:18081/f 2>/dev/null; then
    fail "18081 still forwards after remove_hostfwd"
fi

log "a forward to a closed guest port: the client is reset"
if in_ns curl -sS -m 10 -o /dev/null http://127.0.0.1:18082/ 2>"$TMP/closed.err"; then
    fail "a forward to a closed guest port answered"
fi
nat_stat -c >"$TMP/ct.txt" || fail "netsock stat -c: exit $?"
cat "$TMP/ct.txt"
grep -Eq '^ +1 fwd_refused_by_guest$' "$TMP/ct.txt" || fail "fwd_refused_by_guest is not 1"

log "--forward udp: two host clients, each answered"
ip netns exec "$GNS" socat UDP-RECVFROM:5353,fork PIPE >/dev/null 2>&1 </dev/null &
NSK_PIDS+=("$!")
for _ in $(seq 200); do [[ $(in_guest ss -Hunl) == *":5353 "* ]] && break; sleep 0.1; done
for who in one two; do
    r=$(echo "$who" | in_ns timeout 10 socat -t 2 - UDP:127.0.0.1:15353)
    [ "$r" = "$who" ] || fail "the UDP forward answered '$r' to client $who"
done
nat_stat -c >"$TMP/ct2.txt" || fail "netsock stat -c: exit $?"
[ "$(grep -cE '^udp +MAPPED +10\.0\.2\.2:[0-9]+ +10\.0\.2\.100:5353 +127\.0\.0\.1:15353 +127\.0\.0\.1:[0-9]+ ' "$TMP/ct2.txt")" = 2 ] ||
    fail "not two UDP forward mappings: $(cat "$TMP/ct2.txt")"

if command -v busybox >/dev/null; then
    log "DHCP: udhcpc in the guest gets a lease"
    printf '#!/bin/sh\n[ "$1" = bound ] && echo "$ip $router $dns" >"%s/lease"\nexit 0\n' "$TMP" >"$TMP/udhcpc.sh"
    chmod +x "$TMP/udhcpc.sh"
    in_guest timeout 20 busybox udhcpc -i tap0 -n -q -f -t 5 -s "$TMP/udhcpc.sh" >"$TMP/udhcpc.log" 2>&1 ||
        fail "udhcpc: $(tail -3 "$TMP/udhcpc.log")"
    read -r ip router dns <"$TMP/lease"
    [ "$router" = 10.0.2.2 ] && [ "$dns" = 10.0.2.3 ] && [[ $ip == 10.0.2.* ]] ||
        fail "the lease: address $ip, router $router, DNS $dns"
fi
nsk_pass
