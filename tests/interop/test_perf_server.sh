#!/usr/bin/env bash
# tests/interop/test_perf_server.sh — the real iperf3 client against
# `netsock perf -s`, over TAP:
#
#     kernel 192.0.2.1 (iperf3 -c 192.0.2.2) ─tap─ netsock perf -s (192.0.2.2)
#
# 1. iperf3 -c -J for TCP, UDP -b 200M and TCP -R against `netsock perf -s
#    -1 -J`: both exit 0, both write iperf3's JSON, and they agree on the
#    bytes (perf_lib.sh perf_check). TCP: netsock reads each stream up to
#    the count the client's results name, so received equals sent exactly.
# 2. One server, several tests (no -1): a client that sends a parameter
#    length of 2^31 is refused and dropped without harm; a second client
#    while a test runs hears "the server is busy"; iperf3 --bidir is
#    refused with iperf3's "not implemented yet"; then a normal test still
#    runs; SIGTERM ends the server.
# Usage: test_perf_server.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
nsk_setup
. "$(dirname "$0")/perf_lib.sh"
perf_require
command -v socat >/dev/null || nsk_skip "needs socat"
TAP=nsps$$
perf_link "${TAP:0:15}"

# run KIND NAME CLIENT-ARGS...: netsock perf -s -1 -J, then iperf3 -c -J.
run() {
    local kind=$1 name=$2
    shift 2
    log "iperf3 -c $* (netsock perf -s)"
    perf_netsock "$name-srv" -s -1 -J
    local srv=$NSK_LAST_PID
    perf_attached
    perf_iperf3_bg "$name" -c "$NETSOCK_IP" -J "$@"
    perf_wait "$NSK_LAST_PID" "iperf3 -c $*"
    perf_wait "$srv" "netsock perf -s"
    nsk_check_log "$name-srv"
    perf_check "$kind" "$TMP/$name.out" "$TMP/$name-srv.log"
    perf_detached
}

run tcp-exact tcp -t 2
run udp udp -t 2 -u -b 200M
run tcp-rev rev -t 2 -R

log "one server, several clients"
perf_netsock multi -s
srv=$NSK_LAST_PID
perf_attached
# A cookie, then a parameter length of 2^31: refused before any allocation.
{ printf 'abcdefghijklmnopqrstuvwxyz2345672345\0'; sleep 0.3; printf '\x80\x00\x00\x00'; sleep 1; } |
    in_ns timeout 10 socat -t 2 - "TCP:$NETSOCK_IP:5201" >"$TMP/junk.out" 2>&1 || true
[ "$(head -c 1 "$TMP/junk.out" | od -An -tu1 | tr -d ' ')" = 9 ] ||
    fail "the server did not answer the cookie with PARAM_EXCHANGE (9)"
grep -q "message too long" "$TMP/multi.log" || fail "no 'message too long' for a 2^31 length"

perf_iperf3_bg long -c "$NETSOCK_IP" -t 3
long=$NSK_LAST_PID
sleep 1
ip netns exec "$NS" timeout 20 iperf3 -c "$NETSOCK_IP" -t 1 >"$TMP/busy.out" 2>&1 && fail "a second client was served"
grep -q "the server is busy running a test" "$TMP/busy.out" || fail "busy: $(cat "$TMP/busy.out")"
perf_wait "$long" "iperf3 -c -t 3 (while another client was refused)"
grep -q "receiver$" "$TMP/long.out" || fail "the test beside the refused client did not complete"

ip netns exec "$NS" timeout 20 iperf3 -c "$NETSOCK_IP" -t 1 --bidir >"$TMP/bidir.out" 2>&1 &&
    fail "--bidir was accepted"
grep -q "not implemented yet" "$TMP/bidir.out" || fail "--bidir: $(cat "$TMP/bidir.out")"

perf_iperf3_bg after -c "$NETSOCK_IP" -t 1 -J
perf_wait "$NSK_LAST_PID" "iperf3 -c after the refusals"
python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]; assert e["sum_received"]["bytes"] > 0' \
    "$TMP/after.out" || fail "the last test moved nothing"
grep -c "^Server listening on 5201 (test #" "$TMP/multi.log" | sed 's/^/   tests served or refused: /'
nsk_stop "$srv"
nsk_check_log multi
nsk_pass
