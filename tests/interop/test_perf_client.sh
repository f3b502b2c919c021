#!/usr/bin/env bash
# tests/interop/test_perf_client.sh — `netsock perf -c` against the real
# iperf3 server (iperf3 -s -1 -J in the namespace), over TAP:
#
#     kernel 192.0.2.1 (iperf3 -s) ─tap─ netsock perf -c 192.0.2.1 (192.0.2.2)
#
# For each of TCP, TCP -R, TCP -P 2, UDP -b 200M, UDP -R: both sides exit 0
# and write iperf3's JSON (start / intervals / end), and both agree on the
# bytes (perf_lib.sh perf_check): the receiver's count is the same on both
# sides; in reverse TCP netsock reads each stream to its end, so what it
# received equals what iperf3 sent; UDP loss stays within what was sent.
# Then TCP -P 2 in text form: iperf3's interval and summary lines. The rates
# are printed (a timing, not a pass/fail criterion).
# Usage: test_perf_client.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
nsk_setup
. "$(dirname "$0")/perf_lib.sh"
perf_require
TAP=nspc$$
perf_link "${TAP:0:15}"

# run KIND NAME CLIENT-ARGS...: iperf3 -s -1 -J, then netsock perf -c -J.
run() {
    local kind=$1 name=$2
    shift 2
    log "netsock perf -c $* (iperf3 -s)"
    perf_iperf3_bg "$name-srv" -s -1 -J
    local srv=$NSK_LAST_PID
    perf_kernel_listening 5201
    perf_netsock "$name" -c "$KERNEL_IP" -J "$@"
    local cli=$NSK_LAST_PID
    perf_wait "$cli" "netsock perf -c $*"
    perf_wait "$srv" "iperf3 -s"
    nsk_check_log "$name"
    perf_check "$kind" "$TMP/$name.log" "$TMP/$name-srv.out"
    perf_detached
}

run tcp tcp -t 2
run tcp-rev-exact tcp-rev -t 2 -R
run tcp tcp-p2 -t 2 -P 2
run udp udp -t 2 -u -b 200M
run udp-rev udp-rev -t 2 -u -b 200M -R

log "netsock perf -c -t 2 -P 2, text output"
perf_iperf3_bg text-srv -s -1
srv=$NSK_LAST_PID
perf_kernel_listening 5201
perf_netsock text -c "$KERNEL_IP" -t 2 -P 2
perf_wait "$NSK_LAST_PID" "netsock perf -c -P 2"
perf_wait "$srv" "iperf3 -s"
out=$TMP/text.log
grep -q "^Connecting to host $KERNEL_IP, port 5201$" "$out" || fail "no 'Connecting to host' line"
[ "$(grep -c "^\[ *[0-9]*\] local $NETSOCK_IP port [0-9]* connected to $KERNEL_IP port 5201$" "$out")" = 2 ] ||
    fail "not two 'connected' lines"
grep -q "^\[ ID\] Interval           Transfer     Bitrate         Retr  Cwnd$" "$out" ||
    fail "no interval header"
grep -Eq "^\[SUM\]   1\.[0-9]{2}-2\.[0-9]{2}   sec  .* (K|M|G)?bits/sec +[0-9]+ +$" "$out" ||
    fail "no [SUM] line for the second interval"
grep -Eq "^\[SUM\]   0\.00-2\.[0-9]{2}   sec  .*bits/sec +[0-9]+ +sender$" "$out" || fail "no [SUM] sender line"
grep -Eq "^\[SUM\]   0\.00-2\.[0-9]{2}   sec  .*bits/sec +receiver$" "$out" || fail "no [SUM] receiver line"
grep -q "^iperf Done\.$" "$out" || fail "no 'iperf Done.'"
grep "^\[SUM\]   0.00" "$out" | sed 's/^/   /'
nsk_pass
