#!/usr/bin/env bash
# tests/interop/test_tcp_synflood.sh — a SYN flood from the Linux side
# against netsock's HTTP listener, over TAP (RFC 4987; docs/tcp.md "SYN
# floods"):
#
#     kernel 192.0.2.1 + hping3 (spoofed 198.18.0.0/15) ─tap─ netsock host 192.0.2.2
#
# netsock's default gateway is the kernel, which blackholes 198.18.0.0/15
# (ip route add blackhole): the SYN,ACKs to the spoofed sources vanish, so
# no handshake of the flood ever completes. Four hping3 processes send
# SYNs to port 80 for 10 s (~20k per second in all, each packet a new
# source port, four spoofed addresses). Meanwhile:
#   1. a 100 MB GET /bytes/N from netsock, started as the flood starts,
#      completes byte-exact;
#   2. a new connection made in the middle of the flood succeeds;
#   3. netsock's RSS grows by less than 64 MB (sampled through the flood);
#   4. `netsock stat -s` shows SYN cookies sent and received and the
#      syncache entries expiring silently (no RST to a spoofed source).
# Usage: test_tcp_synflood.sh BUILD_DIR (as root; exit 77 = skipped).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl sha256sum hping3; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export NETSOCK_RUN_DIR=$TMP

TAP=nssf$$
TAP=${TAP:0:15}
# Under ASan (make test's build) freed memory waits in a quarantine (256 MB
# by default) before reuse, which would count as growth here: keep it small.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
nsk_netsock_bg sf host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --gw "$KERNEL_IP" --name sf \
    --serve http
HOST=$NSK_LAST_PID
nsk_wait_dev "$TAP"
nsk_kernel_side "$TAP"
in_ns ip route add blackhole 198.18.0.0/15
kernel_ping up -c 2 -i 0.2 -W 2
expect_summary "$TMP/up.out" 2

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$HOST/status"; }
rss0=$(rss)

log "flood: 4 x hping3 -S -p 80 -i u160 from 198.18.{1,2,3,4}.7 for 10 s"
flooders=()
for i in 1 2 3 4; do
    ip netns exec "$NS" timeout -s INT 10 hping3 -S -p 80 -i u160 -a "198.18.$i.7" \
        "$NETSOCK_IP" >"$TMP/hping$i.out" 2>&1 </dev/null &
    flooders+=("$!")
    NSK_PIDS+=("$!")
done
t0=$(nsk_now)
N=104857600
want=$(pattern_sha "$N")
in_ns curl -sS -m 50 -o "$TMP/get.out" "http://$NETSOCK_IP/bytes/$N" 2>"$TMP/get.err" &
getpid=$!
NSK_PIDS+=("$getpid")
sleep 4
log "a new connection in the middle of the flood"
in_ns curl -sS -m 20 -o "$TMP/small.out" "http://$NETSOCK_IP/bytes/1000" ||
    fail "a new connection during the flood failed: curl exit $?"
[ "$(sha <"$TMP/small.out")" = "$(pattern_sha 1000)" ] || fail "the small GET's body differs"
"$NETSOCK" stat --name sf -s >"$TMP/mid.stat"
peak=$rss0
while kill -0 "${flooders[0]}" 2>/dev/null; do
    r=$(rss)
    [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.2
done
for p in "${flooders[@]}"; do wait "$p" || true; done
t1=$(nsk_now)
wait "$getpid" || fail "curl GET /bytes/$N during the flood: exit status $? ($(cat "$TMP/get.err"))"
got=$(sha <"$TMP/get.out")
[ "$got" = "$want" ] ||
    fail "/bytes/$N during the flood: $(stat -c %s "$TMP/get.out") bytes, sha256 $got, want $want"
rm -f "$TMP/get.out"
echo "   100 MB GET byte-exact; the flood lasted $(echo "$t1 - $t0" | bc 2>/dev/null || echo 10) s"
sent=0
for i in 1 2 3 4; do
    n=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$TMP/hping$i.out")
    sent=$((sent + ${n:-0}))
done
grow=$(((peak - rss0) / 1024))
echo "   hping3 sent $sent SYNs ($((sent / 10)) per second); netsock RSS $((rss0 / 1024)) MB -> peak $((peak / 1024)) MB (+$grow MB)"
[ "$sent" -gt 20000 ] || fail "hping3 sent only $sent SYNs: no flood to speak of"
[ "$grow" -lt 64 ] || fail "netsock's RSS grew by $grow MB under the flood"

"$NETSOCK" stat --name sf -s >"$TMP/end.stat"
grep -E "syncookies|syncache" "$TMP/end.stat" | sed 's/^/   /'
cval() { sed -n "s/^ *\([0-9]*\) .*($2)\$/\1/p" "$1" | head -n 1; }
cs=$(cval "$TMP/end.stat" tcp_syncookies_sent)
cr=$(cval "$TMP/end.stat" tcp_syncookies_recv)
[ "${cs:-0}" -gt 1000 ] || fail "netsock stat -s: tcp_syncookies_sent is '${cs:-}'"
[ "${cr:-0}" -ge 1 ] || fail "netsock stat -s: no cookie was received: the new connection came in some other way"
grep -q tcp_syncookies_sent "$TMP/mid.stat" || fail "no cookies counted in the middle of the flood"
nsk_stop "$HOST"
nsk_check_log sf
nsk_pass
