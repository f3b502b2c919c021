#!/usr/bin/env bash
# tests/interop/test_run_python.sh — Python programs under `netsock run`:
#
#   kernel 192.0.2.1 (echo, DNS and HTTP servers) ─tap─ netsock run 192.0.2.2 -- python3
#
#   1. run_py_selectors.py: a selectors (epoll) loop serving TCP on
#      netsock, with an AF_UNIX socketpair and a pipe (the kernel's) in the
#      same set, while 8 threads each send 256 KiB through netsock to the
#      kernel's echo server and check what comes back; meanwhile 8 kernel
#      clients get their 100 kB back upper-cased from the loop.
#   2. run_py_dns.py: socket.getaddrinfo (and gethostbyname) against a DNS
#      server the test runs on the kernel's side, named by the namespace's
#      resolv.conf: A records, the search domain, a CNAME with
#      AI_CANONNAME, an answer too large for UDP (TC: asked again over
#      TCP), NXDOMAIN, a name with only AAAA (NODATA for AF_INET), /etc/hosts,
#      numeric and passive addresses, then a connection by name. The
#      server's log shows every query came from netsock's address, over
#      UDP and over TCP — none from the kernel's.
#   3. run_py_tcpinfo.py: after 2 MiB through the kernel's echo server,
#      getsockopt(TCP_INFO) in Linux's whole layout says what `netsock stat
#      --json` says of the same connection (rtt, rttvar, rto, cwnd, mss,
#      ssthresh, retransmissions), and bytes, segments, min_rtt, pmtu and
#      the peer's window fit the transfer.
#
# Usage: test_run_python.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || nsk_skip "needs python3"
for tool in socat curl base64; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
. "$(dirname "$0")/run_lib.sh"
export NETSOCK_RUN_DIR=$TMP
HERE=$(cd "$(dirname "$0")" && pwd)

run_link
ip netns exec "$NS" "$PY" "$HERE/run_py_selectors.py" echo "$KERNEL_IP" 7001 \
    >"$TMP/echo.log" 2>&1 </dev/null &
NSK_PIDS+=($!)
for _ in $(seq 100); do
    grep -q serving "$TMP/echo.log" && break
    sleep 0.05
done

log "selectors (epoll) and 8 threads in one program"
ip netns exec "$NS" "$NETSOCK" run --link "tap:$RUN_TAP" --addr "$NETSOCK_IP/24" --mac "$RUN_MAC" \
    --name py --verbose -- "$PY" "$HERE/run_py_selectors.py" 7100 "$KERNEL_IP" 7001 8 \
    >"$TMP/py.out" 2>"$TMP/py.log" </dev/null &
py=$!
NSK_PIDS+=("$py")
for _ in $(seq 200); do
    grep -q listening "$TMP/py.out" && break
    sleep 0.05
done
grep -q listening "$TMP/py.out" || fail "the Python program did not start: $(cat "$TMP/py.log")"
pids=()
for i in $(seq 8); do
    head -c 100000 /dev/urandom | base64 -w0 >"$TMP/in$i"
    ip netns exec "$NS" timeout 30 socat -t 10 - "TCP:$NETSOCK_IP:7100,shut-down" \
        <"$TMP/in$i" >"$TMP/out$i" 2>"$TMP/socat$i.log" &
    pids+=($!)
done
for p in "${pids[@]}"; do
    wait "$p" || fail "a kernel client of the Python server failed"
done
for i in $(seq 8); do
    [ "$(tr a-z A-Z <"$TMP/in$i" | sha)" = "$(sha <"$TMP/out$i")" ] ||
        fail "kernel client $i: $(stat -c %s "$TMP/out$i") bytes back, not its own upper-cased"
done
rc=0
wait "$py" || rc=$?
nsk_check_log py
[ "$rc" = 0 ] || fail "the Python program exited $rc: $(cat "$TMP/py.out") $(tail -5 "$TMP/py.log")"
grep -q "^threads ok 8, served 8, pipe seen$" "$TMP/py.out" || fail "$(cat "$TMP/py.out")"
conns=$(run_tcp_conns "$TMP/py.log")
[ "$conns" = 16 ] || fail "the stack carried $conns TCP connections, want 16 (8 each way)"
echo "   $(tail -n 1 "$TMP/py.out"); 16 connections through netsock"

log "TCP_INFO in Linux's layout, the same as netsock stat says of the connection"
run_fg tcpinfo -- "$PY" "$HERE/run_py_tcpinfo.py" "$NETSOCK" tcpinfo "$KERNEL_IP" 7001
[ "$RUN_RC" = 0 ] || fail "$(cat "$TMP/tcpinfo.out") $(tail -5 "$TMP/tcpinfo.log")"
grep -q "^tcp_info ok" "$TMP/tcpinfo.out" || fail "$(cat "$TMP/tcpinfo.out")"
echo "   $(cat "$TMP/tcpinfo.out")"

log "getaddrinfo through netsock to a DNS server on the kernel's side"
mkdir -p "/etc/netns/$NS"
printf 'nameserver %s\nsearch test.example\noptions timeout:2 attempts:2\n' "$KERNEL_IP" \
    >"/etc/netns/$NS/resolv.conf"
: >"$TMP/dns-queries.log"
ip netns exec "$NS" "$PY" "$HERE/run_py_dns.py" server "$KERNEL_IP" "$TMP/dns-queries.log" \
    >"$TMP/dns-server.log" 2>&1 </dev/null &
NSK_PIDS+=($!)
mkdir "$TMP/www"
echo hello >"$TMP/www/index.html"
ip netns exec "$NS" "$PY" -m http.server 8000 --bind "$KERNEL_IP" --directory "$TMP/www" \
    >"$TMP/http.log" 2>&1 </dev/null &
NSK_PIDS+=($!)
for _ in $(seq 100); do
    grep -q serving "$TMP/dns-server.log" && in_ns curl -s -o /dev/null "http://$KERNEL_IP:8000/" && break
    sleep 0.1
done
run_fg dns -- "$PY" "$HERE/run_py_dns.py" client
[ "$RUN_RC" = 0 ] || fail "the resolver checks exited $RUN_RC: $(cat "$TMP/dns.out") $(tail -5 "$TMP/dns.log")"
eai_noname=$("$PY" -c 'import socket; print(socket.EAI_NONAME)')
eai_nodata=$("$PY" -c 'import socket; print(socket.EAI_NODATA)')
cat >"$TMP/dns.want" <<EOF
www: 192.0.2.80
www, search domain: 192.0.2.80
alias (CNAME): 192.0.2.80
alias canonical name: www.test.example
many (TCP after TC): count 40 first 198.51.100.1
nx: gaierror $eai_noname want $eai_noname
v6only, AF_INET: gaierror $eai_nodata want $eai_nodata
v6only, AF_INET6: 2001:db8::1
localhost (hosts): 127.0.0.1
numeric: 198.51.100.7
gethostbyname: 192.0.2.80
passive: ('0.0.0.0', 8080)
connect by name: HTTP/1.0 200
EOF
diff -u "$TMP/dns.want" "$TMP/dns.out" >&2 || fail "getaddrinfo answered differently (- wanted, + got)"
# The zone's names are asked for only by the program under netsock (the
# kernel's http.server asks for its own address's name at start).
grep "test\.example$" "$TMP/dns-queries.log" >"$TMP/zone-queries.log" || true
grep -q "^udp $NETSOCK_IP many.test.example$" "$TMP/zone-queries.log" ||
    fail "no UDP query came from netsock's address"
grep -q "^tcp $NETSOCK_IP many.test.example$" "$TMP/zone-queries.log" ||
    fail "no TCP query came from netsock's address"
if grep -v "^[a-z]* $NETSOCK_IP " "$TMP/zone-queries.log" >&2; then
    fail "queries came from elsewhere than netsock (the kernel's resolver?)"
fi
echo "   $(wc -l <"$TMP/zone-queries.log") queries, all from $NETSOCK_IP (UDP and TCP)"
nsk_pass
