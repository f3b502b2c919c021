#!/usr/bin/env bash
# bench/tap.sh BUILD_DIR bulk | BUILD_DIR loss LOSS — the benchmark rows
# that run over real Linux links, netsock against the kernel. Prints rows
# in the format of bench/bench_util.h; bench/run.sh turns them into the
# table.
#
#   namespace A (made here)                         namespace B (bulk only)
#   kernel 192.0.2.1 ──TAP── netsock host 192.0.2.2
#   kernel 198.51.100.1 ──────────veth─────────── kernel 198.51.100.2
#                                                 (bench_stream discard, chargen)
#
# bulk: four rows, Gbit/s. The kernel sends into `netsock host`'s discard
#   service (kernel -> netsock), and reads its chargen service (netsock ->
#   kernel), with bench_stream (a timed sender / receiver, see
#   bench_stream.c). The Linux column is the same bench_stream against the
#   kernel in namespace B over a veth pair. The two take turns,
#   BENCH_TAP_ROUNDS rounds of BENCH_TAP_SECONDS per transfer; a row gives
#   the mean. Then the same two with `netsock host --io-thread` (the TAP's
#   reads and writes on a thread of their own, docs/links.md "I/O
#   thread") against fresh veth runs.
# loss LOSS: one row, Mbit/s. `netsock host --impair
#   loss=LOSS,delay=BENCH_LOSS_DELAY` impairs both directions of netsock's
#   link, so whichever side sends, data and ACKs cross the same impairment.
#   netsock sending (the kernel reads chargen for BENCH_LOSS_SECONDS)
#   against the kernel sending (into discard for as long).
#
# Needs root (namespaces, TAP, veth); otherwise the rows say "skipped
# (needs root)". Everything made here (namespaces with their devices,
# netsock host, the kernel servers) is removed on every exit path
# (tests/interop/lib.sh's cleanup, plus namespace B); a failure or a
# timeout leaves its rows saying "failed".
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
PART=${2:-bulk}
LOSS=${3:-1%}
HERE=$(cd "$(dirname "$0")" && pwd)
TAP_SECONDS=${BENCH_TAP_SECONDS:-4}
TAP_ROUNDS=${BENCH_TAP_ROUNDS:-2}
LOSS_SECONDS=${BENCH_LOSS_SECONDS:-10}
LOSS_DELAY=${BENCH_LOSS_DELAY:-20ms}
LOSS_SEED=${BENCH_LOSS_SEED:-1}

declare -A ROW_DONE=()
row() {
    printf 'ROW\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"
    ROW_DONE[$1]=1
}
progress() { echo "   $*" >&2; }

TITLE_RX="TCP bulk over TAP, kernel sends, netsock receives (host discard): Gbit/s (Linux: kernel to kernel over veth)"
TITLE_TX="TCP bulk over TAP, netsock sends (host chargen), kernel receives: Gbit/s (Linux: kernel to kernel over veth)"
TITLE_IO_RX="TCP bulk over TAP with --io-thread, kernel sends, netsock receives: Gbit/s (Linux: kernel to kernel over veth)"
TITLE_IO_TX="TCP bulk over TAP with --io-thread, netsock sends, kernel receives: Gbit/s (Linux: kernel to kernel over veth)"
LOSS_ID="tcp_loss_$(echo "$LOSS" | tr -d % | tr . _)pct"
LOSS_TITLE="TCP goodput, loss $LOSS and $LOSS_DELAY delay each way (netsock --impair, both directions): Mbit/s, netsock sending vs kernel sending"

# This part's rows that are not printed yet, with the same text in both
# columns (a skip, or the failure of the script).
remaining_rows() {
    if [ "$PART" = bulk ]; then
        [ -n "${ROW_DONE[tcp_tap_kernel_to_netsock]:-}" ] ||
            row tcp_tap_kernel_to_netsock "$TITLE_RX" higher gbit_s "$1" "$1"
        [ -n "${ROW_DONE[tcp_tap_netsock_to_kernel]:-}" ] ||
            row tcp_tap_netsock_to_kernel "$TITLE_TX" higher gbit_s "$1" "$1"
        [ -n "${ROW_DONE[tcp_tap_iothread_kernel_to_netsock]:-}" ] ||
            row tcp_tap_iothread_kernel_to_netsock "$TITLE_IO_RX" higher gbit_s "$1" "$1"
        [ -n "${ROW_DONE[tcp_tap_iothread_netsock_to_kernel]:-}" ] ||
            row tcp_tap_iothread_netsock_to_kernel "$TITLE_IO_TX" higher gbit_s "$1" "$1"
    else
        [ -n "${ROW_DONE[$LOSS_ID]:-}" ] || row "$LOSS_ID" "$LOSS_TITLE" higher mbit_s "$1" "$1"
    fi
}

case $PART in
bulk | loss) ;;
*)
    echo "usage: $0 BUILD_DIR bulk | BUILD_DIR loss LOSS" >&2
    exit 2
    ;;
esac
if [ "$(id -u)" != 0 ]; then
    remaining_rows "skipped (needs root)"
    exit 0
fi
for tool in ip ping tcpdump timeout; do
    command -v "$tool" >/dev/null || { remaining_rows "skipped (needs $tool)"; exit 0; }
done
[ -c /dev/net/tun ] || { remaining_rows "skipped (needs /dev/net/tun)"; exit 0; }

. "$HERE/../tests/interop/lib.sh" "$BUILD"
STREAM=$BUILD/bench_stream

# lib.sh's cleanup stops NSK_PIDS and removes namespace A (with the TAP and
# the veth, whose deletion takes its peer along); namespace B is ours.
NSB=""
bench_cleanup() {
    local rc=$? p
    set +e
    [ "$rc" = 0 ] || remaining_rows "failed (bench/tap.sh exit $rc; see the log)"
    for p in "${NSK_PIDS[@]}"; do
        nsk_stop "$p" # the kernel servers must leave namespace B first
    done
    [ -n "$NSB" ] && ip netns del "$NSB" 2>/dev/null
    (exit "$rc")
    nsk_cleanup
}
nsk_setup
trap bench_cleanup EXIT
export NETSOCK_RUN_DIR=$TMP
[ -x "$STREAM" ] || fail "no bench_stream in $BUILD"
TAP=nsbt$$
TAP=${TAP:0:15}

# wait_reachable ADDR: a ping answered (10 tries: the link may be lossy).
wait_reachable() {
    for _ in $(seq 10); do
        in_ns ping -c 1 -W 1 -n "$1" >/dev/null 2>&1 && return 0
    done
    fail "$1 does not answer ping"
}

# start_host [IMPAIR [OPTION...]]: netsock host on the TAP (discard,
# chargen) with those options, the kernel's side of it configured, and
# netsock answering. Sets HOST.
start_host() {
    local impair=()
    [ -n "${1:-}" ] && impair=(--impair "$1")
    shift || true
    nsk_netsock_bg host host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --name nsbench \
        --serve discard,chargen "${impair[@]}" "$@"
    HOST=$NSK_LAST_PID
    nsk_wait_dev "$TAP"
    nsk_kernel_side "$TAP"
    wait_reachable "$NETSOCK_IP"
}

# start_veth: namespace B, the veth pair, and the kernel's discard (9) and
# chargen (19) servers there.
start_veth() {
    NSB="nsk-$$-b-$RANDOM"
    ip netns add "$NSB"
    ip netns exec "$NSB" ip link set lo up
    ip netns exec "$NSB" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1
    local va=nsbva$$ vb=nsbvb$$
    va=${va:0:15} vb=${vb:0:15}
    in_ns ip link add "$va" type veth peer name "$vb"
    in_ns ip link set "$vb" netns "$NSB"
    in_ns ip addr add 198.51.100.1/24 dev "$va"
    in_ns ip link set "$va" up
    ip netns exec "$NSB" ip addr add 198.51.100.2/24 dev "$vb"
    ip netns exec "$NSB" ip link set "$vb" up
    local svc
    for svc in "discard 9" "chargen 19"; do
        # shellcheck disable=SC2086 # "mode port"
        ip netns exec "$NSB" "$STREAM" $svc >>"$TMP/servers.log" 2>&1 </dev/null &
        NSK_PIDS+=("$!")
    done
    wait_reachable 198.51.100.2
}

# stream MODE ADDR PORT SECONDS: bench_stream in namespace A; prints its
# Mbit/s, or "-" when it failed. Its TCP_INFO line goes to the log.
stream() {
    local out
    if out=$(in_ns "$STREAM" "$@" 2>"$TMP/stream.err"); then
        echo "${out%% *}"
    else
        echo "-"
        echo "   bench_stream $* failed:" >&2
    fi
    sed 's/^/     /' "$TMP/stream.err" >&2
}

# mean SCALE V...: the mean of the values divided by SCALE; "-" if one is.
mean() {
    local scale=$1
    shift
    echo "$@" | awk -v s="$scale" '{ for (i = 1; i <= NF; i++) { if ($i == "-") { print "-"; exit }
        t += $i } printf "%.2f\n", t / NF / s }'
}

# bulk_row ID TITLE MODE PORT: netsock and veth take turns.
bulk_row() {
    local id=$1 title=$2 mode=$3 port=$4 ns=() lx=() r
    for r in $(seq "$TAP_ROUNDS"); do
        ns+=("$(stream "$mode" "$NETSOCK_IP" "$port" "$TAP_SECONDS")")
        lx+=("$(stream "$mode" 198.51.100.2 "$port" "$TAP_SECONDS")")
        progress "$id round $r: netsock ${ns[-1]} Mbit/s, veth ${lx[-1]} Mbit/s"
    done
    row "$id" "$title" higher gbit_s "$(mean 1000 "${ns[@]}")" "$(mean 1000 "${lx[@]}")"
}

if [ "$PART" = bulk ]; then
    start_veth
    start_host ""
    bulk_row tcp_tap_kernel_to_netsock "$TITLE_RX" send 9
    bulk_row tcp_tap_netsock_to_kernel "$TITLE_TX" recv 19
    nsk_stop "$HOST"
    nsk_wait_dev_gone "$TAP" || fail "$TAP still there after netsock stopped"
    start_host "" --io-thread
    bulk_row tcp_tap_iothread_kernel_to_netsock "$TITLE_IO_RX" send 9
    bulk_row tcp_tap_iothread_netsock_to_kernel "$TITLE_IO_TX" recv 19
else
    start_host "loss=$LOSS,delay=$LOSS_DELAY,seed=$LOSS_SEED"
    ns=$(stream recv "$NETSOCK_IP" 19 "$LOSS_SECONDS")
    lx=$(stream send "$NETSOCK_IP" 9 "$LOSS_SECONDS")
    progress "loss $LOSS: netsock sending $ns Mbit/s, kernel sending $lx Mbit/s"
    row "$LOSS_ID" "$LOSS_TITLE" higher mbit_s "$(mean 1 "$ns")" "$(mean 1 "$lx")"
fi
