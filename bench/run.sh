#!/usr/bin/env bash
# bench/run.sh BUILD_DIR — run every benchmark, netsock and Linux side by
# side in the same run, and write bench/results/latest.md, latest.json
# (and latest.log, the programs' diagnostics). `make bench` runs it after
# the release build. See bench/README.md for what each row measures and
# how to read it.
#
# Each group of rows (one program run: one row, or two for bench_rr and
# the TAP bulk pair, 17 for bench_conns) has a time budget, printed as it
# starts, and a hard limit of twice that (timeout(1)). With the default
# knobs the budgets add up to ~7.5 minutes (a run takes ~5: the many-
# connections group alone ~3, most of it the kernel opening and closing
# a million connections) and the limits to 15, so `make bench` ends
# within 16 minutes even when something hangs. A group that fails or
# times out still leaves a row saying so. Exit status 0 when every
# measurement succeeded, 1 otherwise (skipped rows do not count).
#
# Knobs (environment): BENCH_PING_N (ICMP round trips, 200000),
# BENCH_TCP_MB (MiB per bulk transfer, 1024), BENCH_RR_SECONDS (measured
# per stack and row, 3), BENCH_CRR_SECONDS (3), BENCH_SYNFLOOD_SECONDS (3), BENCH_CONNS_N (connection
# counts, "1000 100000 1000000"; "1000 100000" takes ~25 s),
# BENCH_CONNS_RR_SECONDS (1), and bench/tap.sh's BENCH_TAP_SECONDS (4),
# BENCH_TAP_ROUNDS (2), BENCH_LOSS_SECONDS (10), BENCH_LOSS_LEVELS
# ("0.1% 1% 5%"), BENCH_LOSS_DELAY (20ms), and bench/run_iperf3.sh's
# BENCH_RUN_SECONDS (3), BENCH_RUN_ROUNDS (2).
set -uo pipefail
BUILD=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/.."
OUT=bench/results
mkdir -p "$OUT"
ROWS=$(mktemp)
TIMES=$(mktemp)
LOG=$OUT/latest.log
trap 'rm -f "$ROWS" "$TIMES"' EXIT
: >"$LOG"

export BENCH_TAP_SECONDS=${BENCH_TAP_SECONDS:-4}
export BENCH_TAP_ROUNDS=${BENCH_TAP_ROUNDS:-2}
export BENCH_LOSS_SECONDS=${BENCH_LOSS_SECONDS:-10}
export BENCH_RUN_SECONDS=${BENCH_RUN_SECONDS:-3}
export BENCH_RUN_ROUNDS=${BENCH_RUN_ROUNDS:-2}
LOSS_LEVELS=${BENCH_LOSS_LEVELS-0.1% 1% 5%}
RR_SECONDS=${BENCH_RR_SECONDS:-3}
CRR_SECONDS=${BENCH_CRR_SECONDS:-3}
SYNFLOOD_SECONDS=${BENCH_SYNFLOOD_SECONDS:-3}
CONNS_N=${BENCH_CONNS_N:-1000 100000 1000000}
STARTED=$(date -u +%Y-%m-%dT%H:%MZ)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date +%s)
FAILED=0

# group NAME BUDGET_S CMD...: run CMD (its rows to $ROWS, its stderr to the
# log) under timeout 2*BUDGET, and report the time it took.
group() {
    local name=$1 budget=$2 t0 t1 rc before
    shift 2
    echo "== $name (budget ~${budget} s)" >&2
    echo "== $name: $*" >>"$LOG"
    before=$(wc -l <"$ROWS")
    t0=$(date +%s.%N)
    timeout -k 60 $((2 * budget)) "$@" >>"$ROWS" 2>>"$LOG"
    rc=$?
    t1=$(date +%s.%N)
    local took
    took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
    printf '%s\t%s\t%s\n' "$name" "$budget" "$took" >>"$TIMES"
    if [ "$rc" != 0 ]; then
        FAILED=1
        local why="exit status $rc"
        [ "$rc" = 124 ] && why="timed out after $((2 * budget)) s"
        echo "   FAILED: $why; the end of $LOG:" >&2
        tail -n 5 "$LOG" | sed 's/^/   | /' >&2
        if [ "$(wc -l <"$ROWS")" = "$before" ]; then
            printf 'ROW\t%s\t%s\thigher\tvalue\tfailed (%s)\tfailed (%s)\n' \
                "$name" "$name: $*" "$why" "$why" >>"$ROWS"
        fi
    fi
    echo "   took ${took} s" >&2
}

group icmp_echo 10 "$BUILD/bench_ping" "${BENCH_PING_N:-200000}"
group tcp_bulk_sim 30 "$BUILD/bench_tcp" "${BENCH_TCP_MB:-1024}"
for cfg in "1 1" "64 1" "1 32" "64 32"; do
    set -- $cfg
    group "tcp_rr_${1}b_${2}c" $((2 * RR_SECONDS + 5)) "$BUILD/bench_rr" "$1" "$2" "$RR_SECONDS"
done
group tcp_crr $((2 * CRR_SECONDS + 5)) "$BUILD/bench_crr" "$CRR_SECONDS"
group tcp_synflood $((2 * SYNFLOOD_SECONDS + 5)) "$BUILD/bench_synflood" "$SYNFLOOD_SECONDS"
# 4 measurements of RR_SECONDS (+0.5 s warm-up each) and 2 x 20,001 connections set up.
group tcp_rr_epoll $((4 * RR_SECONDS + 20)) "$BUILD/bench_epoll_rr" "$RR_SECONDS"
# netsock and Linux, 1 then 2 threads, twice each: 4 x RR_SECONDS measured.
group stacks_2_threads $((4 * RR_SECONDS + 10)) "$BUILD/bench_threads" "$RR_SECONDS"
# ~165 s at a load average of 10 on 2 cores: Linux opens, idles and closes
# 1M connections in ~130 of them (netsock's 1M row is skipped until its
# idle connections fit in 60 % of MemAvailable).
# shellcheck disable=SC2086 # CONNS_N is a list of numbers
group tcp_conns 210 "$BUILD/bench_conns" $CONNS_N
group tcp_tap_bulk $((8 * BENCH_TAP_ROUNDS * BENCH_TAP_SECONDS + 25)) bench/tap.sh "$BUILD" bulk
for loss in $LOSS_LEVELS; do
    group "tcp_loss_$loss" $((2 * BENCH_LOSS_SECONDS + 10)) bench/tap.sh "$BUILD" loss "$loss"
done
group run_iperf3 $((4 * BENCH_RUN_ROUNDS * (BENCH_RUN_SECONDS + 2) + 15)) bench/run_iperf3.sh "$BUILD"
group nat_iperf3 $((6 * ${BENCH_NAT_ROUNDS:-2} * (${BENCH_NAT_SECONDS:-5} + 3) + 20)) bench/nat_iperf3.sh "$BUILD"
T_END=$(date +%s)

# ---- the table and the JSON, from the rows -----------------------------------
# A value is a number, "-" (that measurement failed) or, for a whole side,
# a text such as "skipped (needs root)". Ratios: netsock / Linux where
# higher is better, Linux / netsock where lower is better, so > 1 always
# means netsock is better.
render() {
    awk -F'\t' -v mode="$1" '
    function num(v) { return v ~ /^-?[0-9]+(\.[0-9]+)?$/ }
    function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
    function cells(vals, n, out,   i, s) {
        s = ""
        for (i = 1; i <= n; i++) s = s (i > 1 ? " / " : "") (vals[i] == "-" ? "failed" : vals[i])
        return s
    }
    function jarr(vals, n,   i, s) {
        s = "["
        for (i = 1; i <= n; i++) s = s (i > 1 ? ", " : "") (num(vals[i]) ? vals[i] + 0 : "null")
        return s "]"
    }
    $1 == "ROW" {
        id = $2; title = $3; better = $4
        n = split($5, metric, ",")
        # A side that is text (a skip or a failure) fills every cell.
        if (split($6, nsv, ",") != n || (!num(nsv[1]) && nsv[1] != "-")) { nsnote = $6; for (i = 1; i <= n; i++) nsv[i] = $6 } else nsnote = ""
        if (split($7, lxv, ",") != n || (!num(lxv[1]) && lxv[1] != "-")) { lxnote = $7; for (i = 1; i <= n; i++) lxv[i] = $7 } else lxnote = ""
        for (i = 1; i <= n; i++) {
            if (num(nsv[i]) && num(lxv[i]) && nsv[i] + 0 > 0 && lxv[i] + 0 > 0)
                ratio[i] = sprintf("%.2f", better == "lower" ? lxv[i] / nsv[i] : nsv[i] / lxv[i])
            else
                ratio[i] = "n/a"
        }
        if (mode == "md") {
            nscell = nsnote != "" ? nsnote : cells(nsv, n)
            lxcell = lxnote != "" ? lxnote : cells(lxv, n)
            printf "| %s | %s | %s | %s |\n", title, nscell, lxcell, cells(ratio, n)
        } else {
            printf "%s  {\"id\": %s, \"benchmark\": %s, \"better\": %s, \"metrics\": [", sep, jstr(id), jstr(title), jstr(better)
            for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? ", " : ""), jstr(metric[i])
            printf "], \"netsock\": %s, \"linux\": %s, \"ratio\": %s", jarr(nsv, n), jarr(lxv, n), jarr(ratio, n)
            if (nsnote != "") printf ", \"netsock_note\": %s", jstr(nsnote)
            if (lxnote != "") printf ", \"linux_note\": %s", jstr(lxnote)
            printf "}"
            sep = ",\n"
        }
    }' "$ROWS"
}

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
    echo "# netsock benchmarks"
    echo
    echo "Measured $STARTED on $(nproc) cores ($CPU), Linux $(uname -r), load average" \
        "before the run $LOAD_BEFORE; command: \`make bench\`$( [ "$(id -u)" = 0 ] || echo ' (not root)')."
    echo
    echo "| benchmark | netsock | Linux | ratio (> 1: netsock better) |"
    echo "|---|---|---|---|"
    render md
    echo
    echo "Ratio: netsock / Linux for rates, Linux / netsock for latencies (rows" \
        "marked \"lower is better\"), so above 1 netsock is better either way." \
        "How each row is measured: bench/README.md."
    echo
    echo "Run time $((T_END - T_START)) s; per group, seconds taken (budget):" \
        "$(awk -F'\t' '{ printf "%s%s %s (%s)", sep, $1, $3, $2; sep = ", " }' "$TIMES")."
} >"$OUT/latest.md"
{
    echo "{"
    echo "  \"measured\": \"$STARTED\", \"cores\": $(nproc), \"kernel\": \"$(uname -r)\","
    echo "  \"load_before\": \"$LOAD_BEFORE\", \"seconds\": $((T_END - T_START)),"
    echo "  \"rows\": ["
    render json
    echo
    echo "  ]"
    echo "}"
} >"$OUT/latest.json"

echo
cat "$OUT/latest.md"
echo
echo "written: $OUT/latest.md $OUT/latest.json (diagnostics: $LOG)"
exit "$FAILED"
