#!/usr/bin/env bash
# tests/interop/test_host_tap.sh — `netsock host`, `netsock stat` and
# `netsock cat` over TAP with the Linux kernel (curl, socat) as the peer:
#
#   kernel 192.0.2.1 ─tap A─ netsock host 192.0.2.2 (echo, discard, chargen, http)
#   kernel 198.51.100.1 ─tap B─ netsock cat 198.51.100.2 (the kernel routes A <-> B)
#
#   1. ping; curl GET /bytes/67108864 has the SHA-256 of the documented
#      pattern (docs/host.md); curl --data-binary @64MiB to /sink answers
#      the file's length and SHA-256; socat to echo with 16 MiB comes back
#      identical; chargen's first line is RFC 864's; UDP echo.
#   2. 500 curl requests, 50 at a time, all 200; afterwards `netsock stat`
#      -a shows only the listening sockets (closed ones are in TIME_WAIT,
#      which has no descriptor); --json and -s work, by name and by pid.
#   3. netsock cat to a socat server that answers only after our EOF
#      (half-close), both directions; netsock cat to netsock host across
#      the kernel router (TCP echo of 16 MiB, UDP echo).
#   4. SIGTERM: the host prints its counters, removes its control socket.
# Usage: test_host_tap.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl socat sha256sum python3 xargs; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export NETSOCK_RUN_DIR=$TMP

TAPA=nsha$$
TAPA=${TAPA:0:15}
TAPB=nshb$$
TAPB=${TAPB:0:15}
CAT_IP=198.51.100.2

log "netsock host on $TAPA"
nsk_netsock_bg host host --link "tap:$TAPA" --addr "$NETSOCK_IP/24" --gw "$KERNEL_IP" \
    --name h1 --pcap "$TMP/host-netsock.pcap"
host=$NSK_LAST_PID
nsk_wait_dev "$TAPA"
nsk_kernel_side "$TAPA"
in_ns ip tuntap add "$TAPB" mode tap
in_ns ip addr add 198.51.100.1/24 dev "$TAPB"
in_ns ip link set "$TAPB" up
in_ns sysctl -qw net.ipv4.ip_forward=1
kernel_ping k-small -c 3 -i 0.2 -W 2
expect_summary "$TMP/k-small.out" 3

sha() { sha256sum | cut -c1-64; }
URL=http://$NETSOCK_IP

log "curl GET /bytes/67108864: the documented pattern"
want=$(python3 -c 'import sys; n=int(sys.argv[1]); sys.stdout.buffer.write((bytes(range(251))*(n//251+1))[:n])' 67108864 | sha)
got=$(in_ns curl -sS -m 120 "$URL/bytes/67108864" | sha)
[ "$got" = "$want" ] || fail "/bytes/67108864: sha256 $got, want $want"

log "curl --data-binary @64MiB /sink"
head -c 67108864 /dev/urandom >"$TMP/64m"
want=$(sha <"$TMP/64m")
in_ns curl -sS -m 120 --data-binary @"$TMP/64m" "$URL/sink" >"$TMP/sink.out"
grep -q "^{\"bytes\": 67108864, \"sha256\": \"$want\"}$" "$TMP/sink.out" ||
    fail "/sink answered $(cat "$TMP/sink.out"), want sha256 $want"

log "socat -> echo, 16 MiB"
head -c 16777216 /dev/urandom >"$TMP/16m"
want=$(sha <"$TMP/16m")
got=$(in_ns timeout 120 socat -t 30 - "TCP:$NETSOCK_IP:7,shut-down" <"$TMP/16m" | sha)
[ "$got" = "$want" ] || fail "echo of 16 MiB differs"

log "chargen, UDP echo"
line=$(in_ns timeout 10 socat -u "TCP:$NETSOCK_IP:19" - 2>/dev/null | head -c 74 || true)
[ "$line" = ' !"#$%&'"'"'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefg'$'\r' ] ||
    fail "chargen's first line: '$line'"
got=$(echo hello-udp | in_ns timeout 10 socat -t 2 - "UDP:$NETSOCK_IP:7")
[ "$got" = hello-udp ] || fail "UDP echo: '$got'"

log "500 curl requests, 50 at a time"
seq 1 500 | in_ns xargs -P 50 -I{} curl -s -m 60 -o /dev/null -w '%{http_code}\n' \
    "$URL/bytes/{}000" >"$TMP/codes.out"
[ "$(grep -c '^200$' "$TMP/codes.out")" = 500 ] ||
    fail "not all 200: $(sort "$TMP/codes.out" | uniq -c | tr '\n' ' ')"
sleep 1
"$NETSOCK" stat -a --name h1 >"$TMP/stat.out"
cat "$TMP/stat.out"
[ "$(grep -c . "$TMP/stat.out")" = 8 ] || fail "stat: expected a header and 7 listening sockets"
[ "$(grep -Ec '^(tcp +LISTEN|udp +UNCONN) ' "$TMP/stat.out")" = 7 ] || fail "stat: sockets left over"
"$NETSOCK" stat -a --pid "$host" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["host"]=="h1" and len(d["sockets"])==7' ||
    fail "stat --pid --json"
"$NETSOCK" stat -s --json | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["services"]; assert s["http_requests"]>=502 and s["conns_open"]==0, s' ||
    fail "stat -s --json"
"$NETSOCK" stat -s | grep -q "^Tcp:$" || fail "stat -s: no Tcp section"

CAT=("$NETSOCK" cat --link "tap:$TAPB" --addr "$CAT_IP/24" --gw 198.51.100.1)

log "netsock cat -> socat server that answers after our EOF (half-close)"
in_ns timeout 60 socat TCP-LISTEN:5000,reuseaddr SYSTEM:sha256sum >/dev/null &
srv=$!
sleep 0.3
got=$(in_ns timeout 60 "${CAT[@]}" 198.51.100.1 5000 <"$TMP/16m" | cut -c1-64)
wait "$srv" || true
[ "$got" = "$want" ] || fail "half-close: the server's answer was '$got'"

log "socat client -> netsock cat -l, both directions at once"
( in_ns timeout 60 "${CAT[@]}" -l 6000 <"$TMP/64m" >"$TMP/cat-l.out" ) &
catpid=$!
sleep 0.8
in_ns timeout 60 socat -t 30 "TCP:$CAT_IP:6000" - <"$TMP/16m" >"$TMP/socat.out"
wait "$catpid" || fail "netsock cat -l failed"
[ "$(sha <"$TMP/cat-l.out")" = "$want" ] || fail "cat -l received something else"
[ "$(sha <"$TMP/socat.out")" = "$(sha <"$TMP/64m")" ] || fail "socat received something else"

log "netsock cat -> netsock host across the kernel router"
got=$(in_ns timeout 60 "${CAT[@]}" "$NETSOCK_IP" 7 <"$TMP/16m" | sha)
[ "$got" = "$want" ] || fail "cat to host echo differs"
got=$(echo hello-cat | in_ns timeout 20 "${CAT[@]}" -u -q 1 "$NETSOCK_IP" 7)
[ "$got" = hello-cat ] || fail "cat -u to host echo: '$got'"

log "SIGTERM: counters printed, control socket removed"
nsk_stop "$host"
grep -q "tcp_passive_opens" "$TMP/host.log" || fail "no counters after SIGTERM"
[ ! -e "$TMP/h1.sock" ] || fail "control socket left behind"
nsk_pass
