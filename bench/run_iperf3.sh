#!/usr/bin/env bash
# bench/run_iperf3.sh BUILD_DIR — the `netsock run` rows: the real iperf3,
# unmodified, on netsock through `netsock run` over a TAP, against the same
# iperf3 command between two kernels over a veth pair, in the same run.
# Prints rows in the format of bench/bench_util.h; bench/run.sh turns them
# into the table.
#
#   namespace A (made here)                            namespace B
#   kernel 192.0.2.1 ──TAP── netsock run 192.0.2.2 -- iperf3
#   kernel 198.51.100.1 ─────────────veth─────────────── kernel 198.51.100.2
#
# Two rows, Gbit/s (the receiver's goodput from iperf3's JSON), each the
# mean of BENCH_RUN_ROUNDS rounds of BENCH_RUN_SECONDS, netsock and veth
# taking turns:
#   netsock sends:    iperf3 -c under netsock run to the kernel's iperf3 -s;
#                     Linux: iperf3 -c in B to iperf3 -s in A over the veth
#   netsock receives: the kernel's iperf3 -c to iperf3 -s under netsock run;
#                     Linux: iperf3 -c in A to iperf3 -s in B.
# One thread runs the whole stack (netsock run's process); iperf3 is one
# process on each side. The helpers are tests/interop/run_lib.sh's, which
# test_run_iperf3.sh also uses.
#
# Needs root and iperf3; otherwise the rows say "skipped (...)". Everything
# made here goes on every exit path (tests/interop/lib.sh's cleanup).
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SECONDS_EACH=${BENCH_RUN_SECONDS:-3}
ROUNDS=${BENCH_RUN_ROUNDS:-2}

declare -A ROW_DONE=()
row() {
    printf 'ROW\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"
    ROW_DONE[$1]=1
}
TITLE_TX="netsock run -- iperf3 -c (TAP) sends to the kernel's iperf3 -s: Gbit/s (Linux: the same iperf3 command, kernel to kernel over veth)"
TITLE_RX="the kernel's iperf3 -c sends to netsock run -- iperf3 -s (TAP): Gbit/s (Linux: the same iperf3 command, kernel to kernel over veth)"
remaining_rows() {
    [ -n "${ROW_DONE[run_iperf3_netsock_sends]:-}" ] ||
        row run_iperf3_netsock_sends "$TITLE_TX" higher gbit_s "$1" "$1"
    [ -n "${ROW_DONE[run_iperf3_netsock_receives]:-}" ] ||
        row run_iperf3_netsock_receives "$TITLE_RX" higher gbit_s "$1" "$1"
}
if [ "$(id -u)" != 0 ]; then
    remaining_rows "skipped (needs root)"
    exit 0
fi
for tool in ip iperf3 python3 timeout; do
    command -v "$tool" >/dev/null || { remaining_rows "skipped (needs $tool)"; exit 0; }
done
[ -c /dev/net/tun ] || { remaining_rows "skipped (needs /dev/net/tun)"; exit 0; }

. "$HERE/../tests/interop/lib.sh" "$BUILD"
bench_cleanup() {
    local rc=$?
    set +e
    [ "$rc" = 0 ] || remaining_rows "failed (bench/run_iperf3.sh exit $rc; see the log)"
    (exit "$rc")
    nsk_cleanup
}
nsk_setup
trap bench_cleanup EXIT
. "$HERE/../tests/interop/run_lib.sh"
export NETSOCK_RUN_DIR=$TMP
run_link
run_veth

# mean V...: the mean of the values.
mean() { echo "$@" | awk '{ for (i = 1; i <= NF; i++) t += $i; printf "%.2f\n", t / NF }'; }

for dir in client server; do
    ns=() lx=()
    for r in $(seq "$ROUNDS"); do
        run_iperf3 "$dir" "$SECONDS_EACH"
        ns+=("$RUN_NS_GBPS")
        lx+=("$RUN_VETH_GBPS")
        echo "   iperf3 under netsock run as $dir, round $r: netsock $RUN_NS_GBPS Gbit/s, veth $RUN_VETH_GBPS Gbit/s" >&2
    done
    if [ "$dir" = client ]; then
        row run_iperf3_netsock_sends "$TITLE_TX" higher gbit_s "$(mean "${ns[@]}")" "$(mean "${lx[@]}")"
    else
        row run_iperf3_netsock_receives "$TITLE_RX" higher gbit_s "$(mean "${ns[@]}")" "$(mean "${lx[@]}")"
    fi
done
