#!/usr/bin/env bash
# bench/nat_iperf3.sh BUILD_DIR — the `netsock nat` rows (issue 16): iperf3
# from a guest namespace to a server in the host namespace through netsock
# nat, through slirp4netns (Debian's) and over a plain veth pair (the
# kernel's ceiling), in the same run, at MTU 1500 and 65520. Prints rows
# in the format of bench/bench_util.h (bench/run.sh makes the table).
#
#   host namespace (made here): iperf3 -s on 192.0.2.1 and 198.51.100.1
#     guest A ── tap0 ── netsock nat (runs in the host namespace)
#     guest B ── tap0 ── slirp4netns (runs in the host namespace)
#     guest C ── veth ── 198.51.100.1 (no NAT: the ceiling)
#
# Each value: the receiver's goodput from iperf3's JSON, Gbit/s, the mean
# of BENCH_NAT_ROUNDS rounds of BENCH_NAT_SECONDS, the three taking turns.
# Rows: nat_iperf3_MTU_slirp (netsock nat against slirp4netns) and
# nat_iperf3_MTU_veth (netsock nat against the veth) for each MTU. The
# issue's goals: >= 2x slirp4netns at 1500, >= 0.64x veth at 65520.
#
# Needs root, iperf3 and slirp4netns; otherwise the rows say why. Run it
# under `flock /work/wt/bench.lock` on a shared machine.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SECS=${BENCH_NAT_SECONDS:-5}
ROUNDS=${BENCH_NAT_ROUNDS:-2}
MTUS=${BENCH_NAT_MTUS:-1500 65520}

declare -A ROW_DONE=()
row() {
    printf 'ROW\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"
    ROW_DONE[$1]=1
}
remaining_rows() {
    local m
    for m in $MTUS; do
        [ -n "${ROW_DONE[nat_iperf3_${m}_slirp]:-}" ] ||
            row "nat_iperf3_${m}_slirp" "iperf3 guest -> host through netsock nat, MTU $m: Gbit/s (Linux: slirp4netns)" higher gbit_s "$1" "$1"
        [ -n "${ROW_DONE[nat_iperf3_${m}_veth]:-}" ] ||
            row "nat_iperf3_${m}_veth" "iperf3 guest -> host through netsock nat, MTU $m: Gbit/s (Linux: veth, no NAT)" higher gbit_s "$1" "$1"
    done
}
[ "$(id -u)" = 0 ] || { remaining_rows "skipped (needs root)"; exit 0; }
for tool in ip iperf3 slirp4netns python3 timeout; do
    command -v "$tool" >/dev/null || { remaining_rows "skipped (needs $tool)"; exit 0; }
done

. "$HERE/../tests/interop/lib.sh" "$BUILD"
bench_cleanup() {
    local rc=$?
    set +e
    [ "$rc" = 0 ] || remaining_rows "failed (bench/nat_iperf3.sh exit $rc)"
    (exit "$rc")
    nsk_cleanup
}
nsk_setup
trap bench_cleanup EXIT
GA="$NS-a" GB="$NS-b" GC="$NS-c"
for g in "$GA" "$GB" "$GC"; do
    ip netns add "$g"
    NSK_EXTRA_NS+=("$g")
done
in_ns ip link add h0 type veth peer name h1
in_ns ip addr add 192.0.2.1/24 dev h0
in_ns ip link set h0 up
in_ns ip link set h1 up
in_ns ip link add c0 type veth peer name c1 netns "$GC"
in_ns ip addr add 198.51.100.1/24 dev c0
in_ns ip link set c0 up
ip -n "$GC" addr add 198.51.100.2/24 dev c1
ip -n "$GC" link set c1 up
ip -n "$GC" link set lo up
in_ns iperf3 -s -D -B 192.0.2.1 -p 5201 --pidfile "$TMP/s1.pid"
in_ns iperf3 -s -D -B 198.51.100.1 -p 5202 --pidfile "$TMP/s2.pid"
sleep 0.5
NSK_PIDS+=("$(cat "$TMP/s1.pid")" "$(cat "$TMP/s2.pid")")

# gbps NS HOST PORT: one iperf3 run from NS, the receiver's Gbit/s.
gbps() {
    ip netns exec "$1" timeout $((SECS + 20)) iperf3 -c "$2" -p "$3" -t "$SECS" -J >"$TMP/ip.json" 2>&1 ||
        { echo "-"; return; }
    python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$TMP/ip.json" 2>/dev/null || echo "-"
}
mean() { echo "$@" | awk '{ n = 0; for (i = 1; i <= NF; i++) if ($i != "-") { t += $i; n++ } if (n) printf "%.2f\n", t / n; else print "-" }'; }

for m in $MTUS; do
    ip netns exec "$NS" "$NETSOCK" nat -q --configure --mtu "$m" --name "bnat$$" "/run/netns/$GA" tap0 \
        >"$TMP/nat.log" 2>&1 </dev/null &
    nat=$!
    NSK_PIDS+=("$nat")
    ip netns exec "$NS" slirp4netns --configure --mtu "$((m > 65521 ? 65521 : m))" --netns-type=path \
        "/run/netns/$GB" tap0 >"$TMP/slirp.log" 2>&1 </dev/null &
    slirp=$!
    NSK_PIDS+=("$slirp")
    in_ns ip link set c0 mtu "$m"
    ip -n "$GC" link set c1 mtu "$m"
    for g in "$GA" "$GB"; do
        for _ in $(seq 100); do
            ip -n "$g" route 2>/dev/null | grep -q default && break
            sleep 0.05
        done
    done
    a=() b=() c=()
    for r in $(seq "$ROUNDS"); do
        a+=("$(gbps "$GA" 192.0.2.1 5201)")
        b+=("$(gbps "$GB" 192.0.2.1 5201)")
        c+=("$(gbps "$GC" 198.51.100.1 5202)")
        echo "   MTU $m round $r: netsock nat ${a[-1]}, slirp4netns ${b[-1]}, veth ${c[-1]} Gbit/s" >&2
    done
    row "nat_iperf3_${m}_slirp" "iperf3 guest -> host through netsock nat, MTU $m: Gbit/s (Linux: slirp4netns)" \
        higher gbit_s "$(mean "${a[@]}")" "$(mean "${b[@]}")"
    row "nat_iperf3_${m}_veth" "iperf3 guest -> host through netsock nat, MTU $m: Gbit/s (Linux: veth, no NAT)" \
        higher gbit_s "$(mean "${a[@]}")" "$(mean "${c[@]}")"
    nsk_stop "$nat"
    nsk_stop "$slirp"
done
