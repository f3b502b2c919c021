#!/bin/sh
# tests/scripts/test_library_quiet.sh — library code never prints: nothing
# under src/ writes to stdout or stderr (printf, fprintf, puts, perror, ...).
# What the library has to say goes through the log hook (ns_config.log_fn);
# tests/unit/test_sim_stuck.c checks that for the simulator's one warning.
set -eu
cd "$(dirname "$0")/../.."
hits=$(grep -rnE '\b(v?f?printf|dprintf|f?puts|putchar|perror|psignal)[[:space:]]*\(|\b(stdout|stderr)\b' \
    --include='*.c' --include='*.h' src/ | grep -vE ':[[:space:]]*(/?\*|//)' || true)
if [ -n "$hits" ]; then
    echo "FAIL: library code prints (use NS_LOG and the log hook instead):" >&2
    printf "%s\n" "$hits" >&2
    exit 1
fi
echo "src/ never writes to stdout or stderr"
