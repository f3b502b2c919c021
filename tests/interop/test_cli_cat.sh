#!/usr/bin/env bash
# tests/interop/test_cli_cat.sh — `netsock cat` against OpenBSD netcat
# (nc) on this machine, over a TAP device to the kernel in a namespace:
#
#   kernel 192.0.2.1 (nc, socat) ─tap─ netsock cat 192.0.2.2
#
#   1. -v: the same lines nc -v prints for the same connection, refusal
#      and scan (the "nc:"/"netsock cat:" prefix aside); -z exit status;
#   2. -l -v ("Listening on", "Connection received on"), -l -k (two clients
#      one after the other), -p (the peer sees the source port);
#   3. exit status 1 whenever data did not get through: refused, UDP port
#      unreachable, -w idle with data unsent, Ctrl-C mid-transfer;
#      0 for a clean transfer and for -w idle after everything was sent;
#   4. the progress line on a terminal (script(1)), none on a file;
#   5. --json is valid JSON with the bytes and the status;
#   6. IPv6: connect to [2001:db8::1] with nc's -v words, and -l on
#      2001:db8::2, a megabyte each way intact.
# Usage: test_cli_cat.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in nc socat python3 script sha256sum; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nc -h 2>&1 | grep -q "OpenBSD netcat" || nsk_skip "needs OpenBSD netcat (netcat-openbsd)"
nsk_setup

TAP=nscc$$
TAP=${TAP:0:15}
in_ns ip tuntap add "$TAP" mode tap
nsk_kernel_side "$TAP"
CAT=("$NETSOCK" cat --link "tap:$TAP" --addr "$NETSOCK_IP/24")

# nc_cat NAME ARGS...: netsock cat, stdin from $TMP/NAME.in when it exists.
nc_cat() {
    local name=$1 in=/dev/null
    shift
    [ -e "$TMP/$name.in" ] && in=$TMP/$name.in
    set +e
    timeout 60 ip netns exec "$NS" "${CAT[@]}" "$@" <"$in" >"$TMP/$name.out" 2>"$TMP/$name.err"
    rc=$?
    set -e
}
# bg_server NAME CMD...: a kernel-side server in the background.
bg_server() {
    local name=$1
    shift
    ip netns exec "$NS" timeout 60 "$@" >"$TMP/$name.srv" 2>&1 </dev/null &
    NSK_PIDS+=("$!")
    SRV=$!
    sleep 0.3
}
strip_prefix() { sed -E 's/^(nc|netsock cat): //' "$1"; }

log "-v connect, refused and scan: nc's words"
bg_server s1 nc -l "$KERNEL_IP" 5000
head -c 1048576 /dev/urandom >"$TMP/c1.in"
nc_cat c1 -v "$KERNEL_IP" 5000
wait "$SRV" || true
[ "$rc" = 0 ] || fail "transfer: exit status $rc: $(cat "$TMP/c1.err")"
cmp -s "$TMP/c1.in" "$TMP/s1.srv" || fail "transfer: nc received something else"
want="Connection to $KERNEL_IP 5000 port [tcp/*] succeeded!"
[ "$(cat "$TMP/c1.err")" = "$want" ] || fail "-v: '$(cat "$TMP/c1.err")', want '$want'"
nc_cat c2 -v "$KERNEL_IP" 5001
in_ns nc -v -n "$KERNEL_IP" 5001 </dev/null >/dev/null 2>"$TMP/c2.nc" || true
[ "$rc" = 1 ] || fail "refused: exit status $rc"
[ "$(strip_prefix "$TMP/c2.err")" = "$(strip_prefix "$TMP/c2.nc")" ] ||
    fail "refused: '$(cat "$TMP/c2.err")', nc says '$(cat "$TMP/c2.nc")'"
bg_server s3 nc -l "$KERNEL_IP" 5003
nc_cat c3 -vz "$KERNEL_IP" 5001-5003
[ "$rc" = 0 ] || fail "-z with an open port: exit status $rc"
bg_server s3b nc -l "$KERNEL_IP" 5003
in_ns nc -vz -n "$KERNEL_IP" 5001-5003 >/dev/null 2>"$TMP/c3.nc" || true
[ "$(strip_prefix "$TMP/c3.err")" = "$(strip_prefix "$TMP/c3.nc")" ] ||
    fail "-z: '$(cat "$TMP/c3.err")', nc says '$(cat "$TMP/c3.nc")'"
nc_cat c4 -z "$KERNEL_IP" 5001-5002
[ "$rc" = 1 ] && [ ! -s "$TMP/c4.err" ] || fail "-z, all closed: exit status $rc, '$(cat "$TMP/c4.err")'"

log "-l -v, -l -k, -p"
( nc_cat l1 -lv 6000; echo "$rc" >"$TMP/l1.rc" ) &
sleep 0.8
echo hello-l | in_ns timeout 10 socat - "TCP:$NETSOCK_IP:6000,sourceport=47001"
wait $!
[ "$(cat "$TMP/l1.rc")" = 0 ] || fail "-l: exit status $(cat "$TMP/l1.rc")"
[ "$(cat "$TMP/l1.out")" = hello-l ] || fail "-l: received '$(cat "$TMP/l1.out")'"
printf 'Listening on 0.0.0.0 6000\nConnection received on %s 47001\n' "$KERNEL_IP" | diff - "$TMP/l1.err" >&2 ||
    fail "-l -v: nc's lines expected"
( nc_cat l2 -lk --json 6001; echo "$rc" >"$TMP/l2.rc" ) &
catpid=$!
sleep 0.8
echo one | in_ns timeout 10 socat - "TCP:$NETSOCK_IP:6001"
echo two | in_ns timeout 10 socat - "TCP:$NETSOCK_IP:6001"
sleep 0.3
# SIGINT to the netsock process (ip netns exec execs it: the child of the
# subshell's timeout).
pkid=$(pgrep -P "$(pgrep -P "$catpid")" || true)
[ -n "$pkid" ] && kill -INT "$pkid"
wait "$catpid"
[ "$(cat "$TMP/l2.out")" = "$(printf 'one\ntwo')" ] || fail "-lk: received '$(cat "$TMP/l2.out")'"
[ "$(cat "$TMP/l2.rc")" = 0 ] || fail "-lk after two clients, then SIGINT: exit status $(cat "$TMP/l2.rc")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["mode"]=="listen" and d["connections"]==2 and d["bytes_received"]==8 and d["status"]=="ok", d' "$TMP/l2.err" ||
    fail "-lk --json: $(cat "$TMP/l2.err")"
bg_server s5 socat "TCP-LISTEN:5005,reuseaddr" SYSTEM:'echo $SOCAT_PEERPORT'
nc_cat p1 -p 40123 "$KERNEL_IP" 5005
[ "$rc" = 0 ] && [ "$(cat "$TMP/p1.out")" = 40123 ] || fail "-p 40123: the peer saw port '$(cat "$TMP/p1.out")'"

log "exit status 1 when data did not get through"
echo dgram >"$TMP/u1.in"
nc_cat u1 -u -q 2 "$KERNEL_IP" 5999
[ "$rc" = 1 ] && grep -q "Connection refused" "$TMP/u1.err" ||
    fail "-u to a closed port: exit status $rc, '$(cat "$TMP/u1.err")'"
# A server that reads nothing: -w 2 finds the connection idle with data unsent.
bg_server s6 sh -c "nc -l $KERNEL_IP 5006 | sleep 30"
head -c 67108864 /dev/zero >"$TMP/w1.in"
nc_cat w1 -w 2 "$KERNEL_IP" 5006
[ "$rc" = 1 ] && grep -q "idle for 2 s with data unsent" "$TMP/w1.err" ||
    fail "-w with data unsent: exit status $rc, '$(cat "$TMP/w1.err")'"
nsk_stop "$SRV"
# Everything sent, the peer just never closes: -w ends it, exit 0.
bg_server s7 sh -c "nc -l $KERNEL_IP 5007 >/dev/null"
echo small >"$TMP/w2.in"
nc_cat w2 -w 1 "$KERNEL_IP" 5007
[ "$rc" = 0 ] || fail "-w idle after everything was sent: exit status $rc, '$(cat "$TMP/w2.err")'"
nsk_stop "$SRV"
# Ctrl-C in the middle of a transfer.
bg_server s8 sh -c "nc -l $KERNEL_IP 5008 >/dev/null"
( set +e; ip netns exec "$NS" "${CAT[@]}" "$KERNEL_IP" 5008 </dev/zero >/dev/null 2>"$TMP/i1.err"
  echo $? >"$TMP/i1.rc" ) &
sub=$!
sleep 1.5
kill -INT "$(pgrep -P "$sub")"
wait "$sub"
[ "$(cat "$TMP/i1.rc")" = 1 ] && grep -q "interrupted before the connection was complete" "$TMP/i1.err" ||
    fail "SIGINT mid-transfer: exit status $(cat "$TMP/i1.rc"), '$(head -1 "$TMP/i1.err")'"
nsk_stop "$SRV"

log "progress line: on a terminal only"
bg_server s9 sh -c "nc -l $KERNEL_IP 5009 >/dev/null"
head -c 20000000 /dev/zero >"$TMP/big"
script -qfec "ip netns exec $NS ${CAT[*]} --impair rate=80mbit $KERNEL_IP 5009 <$TMP/big >/dev/null" \
    "$TMP/tty.log" >/dev/null </dev/null || fail "cat under script: exit status $?"
grep -qE $'\rnetsock cat: [0-9.]+ MiB sent, 0 B received, [0-9]+ s, [0-9.]+ MiB/s' "$TMP/tty.log" ||
    fail "no progress line on a terminal: $(cat -v "$TMP/tty.log")"
bg_server s10 sh -c "nc -l $KERNEL_IP 5010 >/dev/null"
cp "$TMP/big" "$TMP/np.in"
nc_cat np --impair rate=80mbit "$KERNEL_IP" 5010
[ "$rc" = 0 ] && [ ! -s "$TMP/np.err" ] || fail "stderr not a terminal: '$(cat -v "$TMP/np.err")'"

log "--json"
bg_server s11 nc -l "$KERNEL_IP" 5011
head -c 100000 /dev/urandom >"$TMP/j1.in"
nc_cat j1 --json -v "$KERNEL_IP" 5011
python3 - "$TMP/j1.err" <<'PY' || fail "--json: $(cat "$TMP/j1.err")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["mode"] == "connect" and d["protocol"] == "tcp" and d["peer"] == "192.0.2.1:5011"
assert d["bytes_sent"] == 100000 and d["status"] == "ok" and d["error"] is None and d["exit_status"] == 0
PY
nc_cat j2 --json "$KERNEL_IP" 5012
[ "$rc" = 1 ] || fail "--json refused: exit status $rc"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]=="refused" and "Connection refused" in d["error"] and d["exit_status"]==1, d' "$TMP/j2.err" ||
    fail "--json refused: $(cat "$TMP/j2.err")"
nc_cat j3 --json -z "$KERNEL_IP" 5012-5013
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["mode"]=="scan" and [p["port"] for p in d["scan"]]==[5012,5013] and not any(p["open"] for p in d["scan"]), d' "$TMP/j3.err" ||
    fail "--json -z: $(cat "$TMP/j3.err")"

log "IPv6: connect and -l, as nc -6"
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=0 "net.ipv6.conf.$TAP.disable_ipv6=0" \
    "net.ipv6.conf.$TAP.accept_dad=0"
in_ns ip -6 addr add 2001:db8::1/64 dev "$TAP" nodad
CAT=("$NETSOCK" cat --link "tap:$TAP" --addr "$NETSOCK_IP/24" --addr 2001:db8::2/64)
bg_server s6 nc -6 -l 2001:db8::1 5020
head -c 1048576 /dev/urandom >"$TMP/c6.in"
nc_cat c6 -v 2001:db8::1 5020
wait "$SRV" || true
[ "$rc" = 0 ] || fail "IPv6 connect: exit status $rc: $(cat "$TMP/c6.err")"
cmp -s "$TMP/c6.in" "$TMP/s6.srv" || fail "IPv6 connect: nc received something else"
want="Connection to 2001:db8::1 5020 port [tcp/*] succeeded!"
[ "$(cat "$TMP/c6.err")" = "$want" ] || fail "IPv6 -v: '$(cat "$TMP/c6.err")', want '$want'"
( nc_cat l6 -lv 2001:db8::2 6006; echo "$rc" >"$TMP/l6.rc" ) &
l6=$!
for _ in $(seq 50); do
    in_ns ping -6 -c1 -W1 2001:db8::2 >/dev/null 2>&1 && break
    sleep 0.1
done
sleep 0.5
head -c 1048576 /dev/urandom >"$TMP/l6.send"
in_ns timeout 20 socat -u "OPEN:$TMP/l6.send" "TCP6:[2001:db8::2]:6006,sourceport=47006"
wait "$l6"
[ "$(cat "$TMP/l6.rc")" = 0 ] || fail "IPv6 -l: exit status $(cat "$TMP/l6.rc"): $(cat "$TMP/l6.err")"
cmp -s "$TMP/l6.send" "$TMP/l6.out" || fail "IPv6 -l: netsock cat wrote something else"
grep -q "^Listening on 2001:db8::2 6006$" "$TMP/l6.err" || fail "IPv6 -l -v: '$(cat "$TMP/l6.err")'"
grep -q "^Connection received on 2001:db8::1 47006$" "$TMP/l6.err" ||
    fail "IPv6 -l -v: '$(cat "$TMP/l6.err")'"
echo "   1 MiB each way over IPv6; -v lines as nc -6"
nsk_pass
