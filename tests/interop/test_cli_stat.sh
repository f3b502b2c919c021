#!/usr/bin/env bash
# tests/interop/test_cli_stat.sh — `netsock stat` against a running
# `netsock host` over TAP, read as ss(8) is read:
#
#   kernel 192.0.2.1 (socat clients) ─tap─ netsock host 192.0.2.2
#
#   1. the header has ss's columns; by default only non-listening sockets
#      (the two connections the kernel holds open), -l only listeners,
#      -a both; -t/-u/-w select protocols, Netid only with several;
#   2. each connection is the kernel's, seen from the other end: the
#      tuples ss -tn shows in the namespace, reversed;
#   3. -p, -i (cubic wscale rto rtt mss cwnd), -m (skmem), -e (ino sk <->),
#      -H; every ':' of the Local column under the header's;
#   4. --json is valid JSON, filtered the same way; -s --json too.
# Usage: test_cli_stat.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in socat ss python3; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export NETSOCK_RUN_DIR=$TMP

TAP=nscs$$
TAP=${TAP:0:15}
nsk_netsock_bg host host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --name h1
host=$NSK_LAST_PID
nsk_wait_dev "$TAP"
nsk_kernel_side "$TAP"
kernel_ping k-up -c 1 -W 2
# Two connections the kernel keeps open for the test: to echo and discard.
for port in 7 9; do
    ip netns exec "$NS" timeout 60 socat -u "EXEC:sleep 50" "TCP:$NETSOCK_IP:$port" \
        >/dev/null 2>&1 </dev/null &
    NSK_PIDS+=("$!")
done
for _ in $(seq 50); do
    [ "$(in_ns ss -Htn state established "dst $NETSOCK_IP" | wc -l)" = 2 ] && break
    sleep 0.1
done
sleep 0.3

st() { "$NETSOCK" stat --name h1 "$@"; }
header="State Recv-Q Send-Q Local Address:Port Peer Address:Port Process"
# ss 6.1 glues "Port" and "Process" in its header: compare word by word.
ss_header=$(in_ns ss -tn | head -1 | sed 's/PortProcess/Port Process/' | tr -s ' ')
[ "$ss_header" = "$header" ] || fail "ss here prints '$ss_header': the test's premise is wrong"

log "default, -l, -a, protocols"
st >"$TMP/def.out"
cat "$TMP/def.out"
[ "$(head -1 "$TMP/def.out" | tr -s ' ')" = "Netid $header" ] || fail "default header: $(head -1 "$TMP/def.out")"
[ "$(grep -c '^tcp   ESTAB ' "$TMP/def.out")" = 2 ] || fail "default: want the two connections"
grep -qE "LISTEN|UNCONN" "$TMP/def.out" && fail "default: listening sockets shown"
st -t >"$TMP/t.out"
[ "$(head -1 "$TMP/t.out" | tr -s ' ')" = "$header" ] || fail "-t: Netid with one protocol"
[ "$(grep -c '^ESTAB ' "$TMP/t.out")" = 2 ] || fail "-t: want the two connections"
st -tl >"$TMP/tl.out"
[ "$(grep -c '^LISTEN ' "$TMP/tl.out")" = 4 ] && [ "$(wc -l <"$TMP/tl.out")" = 5 ] ||
    fail "-tl: want the 4 TCP listeners only: $(cat "$TMP/tl.out")"
st -ul >"$TMP/ul.out"
[ "$(grep -c '^UNCONN ' "$TMP/ul.out")" = 3 ] || fail "-ul: want 3 UDP sockets"
st -a >"$TMP/a.out"
[ "$(wc -l <"$TMP/a.out")" = $((1 + 2 + 7)) ] || fail "-a: want 2 connections and 7 listeners"
st -w >"$TMP/w.out"
[ "$(wc -l <"$TMP/w.out")" = 1 ] || fail "-w: the host has no raw socket"

log "the connections are the kernel's, reversed"
in_ns ss -Htn state established "dst $NETSOCK_IP" | awk '{print $4, $3}' | sort >"$TMP/kernel.tuples"
st -tH | awk '{print $4, $5}' | sort >"$TMP/netsock.tuples"
diff "$TMP/kernel.tuples" "$TMP/netsock.tuples" >&2 || fail "netsock stat and ss disagree on the connections"

log "-p, -i, -m, -e, -H, alignment"
st -tlnp >"$TMP/p.out"
[ "$(grep -cE "users:\(\(\"netsock\",pid=$host,fd=[0-9]+\)\)$" "$TMP/p.out")" = 4 ] ||
    fail "-tlnp: no Process column: $(cat "$TMP/p.out")"
st -ti >"$TMP/i.out"
cat "$TMP/i.out"
[ "$(grep -cE $'^\t cubic wscale:[0-9]+,[0-9]+ rto:[0-9.]+ rtt:[0-9.]+/[0-9.]+ mss:[0-9]+ rcvmss:[0-9]+ cwnd:[0-9]+' "$TMP/i.out")" = 2 ] ||
    fail "-ti: no ss -i line per connection"
st -tm >"$TMP/m.out"
[ "$(grep -cE $'^\t skmem:\\(r[0-9]+,rb[0-9]+,t[0-9]+,tb[0-9]+,f0,w[0-9]+,o0,bl0,d[0-9]+\\)$' "$TMP/m.out")" = 2 ] ||
    fail "-tm: no skmem line per connection"
st -te >"$TMP/e.out"
[ "$(grep -cE ' ino:0 sk:[0-9a-f]+ <->$' "$TMP/e.out")" = 2 ] || fail "-te: no extended fields"
st -taH >"$TMP/h.out"
grep -q "^State" "$TMP/h.out" && fail "-H: a header"
[ "$(wc -l <"$TMP/h.out")" = 6 ] || fail "-taH: want 6 lines"
python3 - "$TMP/a.out" <<'PY' || fail "-a: the Local column is not aligned on ':'"
import sys
lines = open(sys.argv[1]).read().splitlines()
col = lines[0].index(":")
assert all(l[col] == ":" for l in lines), lines
PY

log "--json"
st -a --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["host"]=="h1" and len(d["sockets"])==9, d' ||
    fail "-a --json"
st -t --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
s = d["sockets"]
assert len(s) == 2 and all(x["state"] == "ESTAB" and x["cc"] == "cubic" and x["mss"] > 0 for x in s), s
assert all(x["process"]["pid"] == d["pid"] for x in s)' || fail "-t --json"
st -s --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["counters"]["tcp_passive_opens"]>=2' ||
    fail "-s --json"
nsk_pass
