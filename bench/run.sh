#!/bin/sh
# bench/run.sh BUILD_DIR — run every benchmark, netsock and Linux side by
# side in the same run, and write bench/results/latest.md (+ .json).
# See bench/README.md for how to read the table.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
out=bench/results/latest.md
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
    echo "# netsock benchmarks"
    echo
    echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -r); command: \`make bench\`."
    echo
    echo "| benchmark | netsock | Linux | ratio (netsock / Linux) |"
    echo "|---|---|---|---|"
    "$build/bench_ping" "${BENCH_PING_N:-200000}"
    "$build/bench_tcp" "${BENCH_TCP_MB:-200}"
} > "$tmp"
cp "$tmp" "$out"
# JSON: one object per table row.
awk -F'|' 'BEGIN { print "[" } /^\| [A-Z]/ && !/benchmark/ {
    gsub(/^ +| +$/, "", $2); gsub(/^ +| +$/, "", $3); gsub(/^ +| +$/, "", $4); gsub(/^ +| +$/, "", $5);
    printf "%s  {\"benchmark\": \"%s\", \"netsock\": \"%s\", \"linux\": \"%s\", \"ratio\": \"%s\"}", sep, $2, $3, $4, $5; sep = ",\n" }
    END { print "\n]" }' "$out" > bench/results/latest.json
cat "$out"
echo
echo "written: $out bench/results/latest.json"
