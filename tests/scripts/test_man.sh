#!/bin/bash
# tests/scripts/test_man.sh — the manual pages in man/: every page renders
# without a warning (groff -man -ww, and man -l as a user reads it), and
# the page of each subcommand documents every option its --help lists.
# Usage: test_man.sh BUILD_DIR
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
netsock=$build/netsock
fail() { echo "FAIL: test_man: $*" >&2; exit 1; }
command -v groff >/dev/null || { echo "SKIP: test_man: needs groff"; exit 77; }
[ -x "$netsock" ] || fail "no netsock binary in $build"

pages=("$src"/man/*.1)
[ "${#pages[@]}" -ge 5 ] || fail "expected the pages of demo, host, stat, cat and ping in man/"
for page in "${pages[@]}"; do
    out=$(groff -man -ww -z "$page" 2>&1) || fail "groff failed on $page: $out"
    [ -z "$out" ] || fail "groff warns about $page: $out"
    if command -v man >/dev/null; then
        out=$(MANWIDTH=80 man -l "$page" 2>&1 >/dev/null) || fail "man -l $page failed: $out"
        [ -z "$out" ] || fail "man -l $page warns: $out"
    fi
    grep -q '^\.SH EXIT STATUS' "$page" || grep -q '^\.TH NETSOCK 1' "$page" ||
        fail "$page has no EXIT STATUS section"
done

# Each option in `netsock CMD --help` appears in man/netsock-CMD.1 (where
# a '-' is written '\-').
for cmd in demo host stat cat ping; do
    page=$src/man/netsock-$cmd.1
    [ -f "$page" ] || fail "no man/netsock-$cmd.1"
    grep -q '^\.SH EXAMPLES' "$page" || fail "$page has no EXAMPLES"
    "$netsock" "$cmd" --help >/tmp/test_man.$$ || fail "netsock $cmd --help: exit status $?"
    opts=$(grep -oE '(^|[ ,])--?[A-Za-z][A-Za-z-]*' /tmp/test_man.$$ | tr -d ' ,' | sort -u)
    rm -f /tmp/test_man.$$
    [ -n "$opts" ] || fail "netsock $cmd --help lists no options"
    for opt in $opts; do
        esc=${opt//-/\\\\-}
        grep -qE "(^|[^A-Za-z])$esc([^A-Za-z-]|$)" "$page" ||
            fail "netsock $cmd --help lists $opt, man/netsock-$cmd.1 does not"
    done
done
echo "man pages render cleanly and document every option"
