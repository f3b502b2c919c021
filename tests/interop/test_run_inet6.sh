#!/usr/bin/env bash
# tests/interop/test_run_inet6.sh — AF_INET6 sockets through `netsock run`:
#
#   kernel 192.0.2.1 + 2001:db8::1 (http.server, UDP echo, clients)
#     ─tap─ netsock run 192.0.2.2 + 2001:db8::2/64 -- PROGRAM
#
#   1. curl -g -6 under netsock downloads 20 MB from the kernel's HTTP
#      server over IPv6, byte-exact (and by an /etc/hosts name, resolved
#      by the library's getaddrinfo as AAAA); the stack made the
#      connection;
#   2. run_py_inet6.py: getaddrinfo(AF_INET6) of an /etc/hosts name, an
#      AF_INET6 socket downloading over IPv6, AI_V4MAPPED and a dual-stack
#      socket connecting to a v4-mapped address over IPv4 (and the same
#      with IPV6_V6ONLY refused, as Linux), getaddrinfo(AF_UNSPEC) giving
#      AAAA then A, an AF_INET6 UDP socket, and an
#      AF_INET6 listener on [::] that kernel clients reach over IPv6 and
#      over IPv4 (its peers: 2001:db8::1 and ::ffff:192.0.2.1);
#   3. socat listening on [::] under netsock (dual stack, a child per
#      connection): kernel clients over IPv4 and IPv6 each get their 1 MiB
#      back byte-exact.
#
# Usage: test_run_inet6.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl python3 sha256sum socat; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
. "$(dirname "$0")/run_lib.sh"
export NETSOCK_RUN_DIR=$TMP
HERE=$(cd "$(dirname "$0")" && pwd)
K6=2001:db8::1
N6=2001:db8::2
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
in_ns sysctl -qw net.ipv6.conf.default.accept_dad=0

run_link
in_ns ip -6 addr add "$K6/64" dev "$RUN_TAP" nodad
mkdir -p "/etc/netns/$NS"
printf '127.0.0.1 localhost\n%s web6.example\n%s web4.example\n%s dual.example\n%s dual.example\n' \
    "$K6" "$KERNEL_IP" "$K6" "$KERNEL_IP" \
    >"/etc/netns/$NS/hosts"
mkdir "$TMP/www"
head -c 20000000 /dev/urandom >"$TMP/www/blob"
want=$(sha <"$TMP/www/blob")
# One server on both families: http.server binds [::] dual-stack.
ip netns exec "$NS" python3 -m http.server 8000 --bind :: --directory "$TMP/www" \
    >"$TMP/http.log" 2>&1 </dev/null &
NSK_PIDS+=($!)
ip netns exec "$NS" socat UDP6-RECVFROM:7002,bind="[$K6]",fork PIPE >"$TMP/udp.log" 2>&1 </dev/null &
NSK_PIDS+=($!)
for _ in $(seq 100); do
    in_ns curl -g -s -o /dev/null "http://[$K6]:8000/" && break
    sleep 0.1
done

RUN6=(--addr "$N6/64")

log "netsock run -- curl -g -6 http://[$K6]:8000/blob (20 MB)"
run_fg curl6 "${RUN6[@]}" -- curl -g -6 -sS -o "$TMP/got" "http://[$K6]:8000/blob"
[ "$RUN_RC" = 0 ] || fail "curl -6 exited $RUN_RC: $(tail -3 "$TMP/curl6.log")"
got=$(sha <"$TMP/got")
[ "$got" = "$want" ] || fail "download over IPv6: $(stat -c %s "$TMP/got") bytes, sha256 $got, want $want"
[ "$(nsk_counter "$TMP/curl6.log" tcp_active_opens)" = 1 ] || fail "the stack did not make curl's connection"
echo "   20000000 bytes over IPv6, sha256 matches"

log "netsock run -- curl -6 http://web6.example:8000/blob (AAAA from /etc/hosts)"
run_fg curl6n "${RUN6[@]}" -- curl -6 -sS -o "$TMP/got2" "http://web6.example:8000/blob"
[ "$RUN_RC" = 0 ] || fail "curl -6 by name exited $RUN_RC: $(tail -3 "$TMP/curl6n.log")"
[ "$(sha <"$TMP/got2")" = "$want" ] || fail "download by name over IPv6: not byte-exact"
grep -q "\"GET /blob HTTP/1.1\" 200" "$TMP/http.log" || fail "http.server logged no GET"
grep -q "$N6" "$TMP/http.log" || fail "the server saw no request from $N6: $(tail -3 "$TMP/http.log")"

log "a Python program with AF_INET6 sockets"
run_bg py6 "${RUN6[@]}" -- python3 "$HERE/run_py_inet6.py" web6.example web4.example 8000 7002 7300
py=$NSK_LAST_PID
for _ in $(seq 300); do
    grep -q '^listening' "$TMP/py6.out" 2>/dev/null && break
    kill -0 "$py" 2>/dev/null || break
    sleep 0.1
done
grep -q '^listening' "$TMP/py6.out" || fail "the Python program did not get to listen: $(cat "$TMP/py6.out") $(tail -5 "$TMP/py6.log")"
echo "ipv6 client" | in_ns timeout 20 socat -t 10 - "TCP6:[$N6]:7300,shut-down" >"$TMP/py6-c6" ||
    fail "a kernel client over IPv6 could not reach the Python listener"
echo "ipv4 client" | in_ns timeout 20 socat -t 10 - "TCP4:$NETSOCK_IP:7300,shut-down" >"$TMP/py6-c4" ||
    fail "a kernel client over IPv4 could not reach the Python listener on [::]"
rc=0
wait "$py" || rc=$?
nsk_check_log py6
[ "$rc" = 0 ] || fail "the Python program exited $rc: $(cat "$TMP/py6.out") $(tail -5 "$TMP/py6.log")"
[ "$(cat "$TMP/py6-c6")" = "IPV6 CLIENT" ] || fail "the IPv6 client got '$(cat "$TMP/py6-c6")'"
[ "$(cat "$TMP/py6-c4")" = "IPV4 CLIENT" ] || fail "the IPv4 client got '$(cat "$TMP/py6-c4")'"
cat >"$TMP/py6.want" <<EOF
getaddrinfo web6.example AF_INET6 $K6
peer $K6 family AF_INET6
v6 get HTTP/1.0 200 OK $want 20000000
getaddrinfo web4.example AI_V4MAPPED ::ffff:$KERNEL_IP
mapped peer ::ffff:$KERNEL_IP local ::ffff:$NETSOCK_IP
mapped get HTTP/1.0 200 OK $want 20000000
v6only connect to a mapped address: ENETUNREACH
getaddrinfo dual.example AF_UNSPEC $K6 $KERNEL_IP
udp6 echo 4 $K6 True
listening
accepted $K6 ::ffff:$KERNEL_IP
EOF
diff -u "$TMP/py6.want" "$TMP/py6.out" >&2 || fail "the Python program printed something else (- wanted, + got)"
# Two connects (the V6ONLY one fails before a SYN), two accepted.
[ "$(run_tcp_conns "$TMP/py6.log")" = 4 ] ||
    fail "the stack carried $(run_tcp_conns "$TMP/py6.log") TCP connections, want 4"
echo "   AF_INET6 TCP and UDP, v4-mapped, V6ONLY and a dual-stack listener: as on Linux"

log "socat listening on [::] under netsock, kernel clients over IPv4 and IPv6"
run_bg socat6 "${RUN6[@]}" -- socat -d -d TCP6-LISTEN:7400,fork,reuseaddr PIPE
srv=$NSK_LAST_PID
run_wait_listen socat6 7400
head -c 1048576 /dev/urandom >"$TMP/1m"
in_ns timeout 60 socat -t 30 - "TCP6:[$N6]:7400,shut-down" <"$TMP/1m" >"$TMP/echo6" ||
    fail "socat over IPv6 to the [::] listener failed"
in_ns timeout 60 socat -t 30 - "TCP4:$NETSOCK_IP:7400,shut-down" <"$TMP/1m" >"$TMP/echo4" ||
    fail "socat over IPv4 to the [::] listener failed"
[ "$(sha <"$TMP/echo6")" = "$(sha <"$TMP/1m")" ] || fail "over IPv6: $(stat -c %s "$TMP/echo6") bytes back, not the 1 MiB sent"
[ "$(sha <"$TMP/echo4")" = "$(sha <"$TMP/1m")" ] || fail "over IPv4: $(stat -c %s "$TMP/echo4") bytes back, not the 1 MiB sent"
run_stop "$srv" socat6
# socat prints IPv6 addresses in full.
grep -q "accepting connection from AF=10 \[2001:0db8:0000:0000:0000:0000:0000:0001\]" "$TMP/socat6.log" ||
    fail "socat logged no IPv6 peer: $(grep accepting "$TMP/socat6.log")"
grep -q "accepting connection from AF=10 \[0000:0000:0000:0000:0000:ffff:c000:0201\]" "$TMP/socat6.log" ||
    fail "socat logged no v4-mapped peer: $(grep accepting "$TMP/socat6.log")"
echo "   1 MiB each way over IPv6 and IPv4 through one [::] listener"
nsk_pass
