#!/bin/bash
# tests/scripts/test_man.sh — the manual pages in man/ (installed by
# `make install`) are well-formed and complete:
#   - every page renders without a warning (groff -man -ww, and man -l as
#     a user reads it), and its .TH names it as its file does
#     (netsock-ping.1: NETSOCK-PING 1);
#   - netsock(1) has an entry for every command `netsock help` lists, and
#     every netsock-COMMAND(1) it refers to exists;
#   - the page of each subcommand documents every option its --help lists
#     and has EXIT STATUS and EXAMPLES sections.
# libnetsock(3)'s example program is compiled and run by
# tests/scripts/test_doc_programs.sh.
# Usage: test_man.sh BUILD_DIR (exit 77, skipped, without groff)
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
netsock=$build/netsock
fail() { echo "FAIL: test_man: $*" >&2; exit 1; }
command -v groff >/dev/null || { echo "SKIP: test_man: needs groff"; exit 77; }
[ -x "$netsock" ] || fail "no netsock binary in $build"

shopt -s nullglob
pages=("$src"/man/*.[1-8])
[ "${#pages[@]}" -ge 2 ] || fail "no man pages in man/"
for page in "${pages[@]}"; do
    out=$(groff -man -ww -z "$page" 2>&1) || fail "groff failed on $page: $out"
    [ -z "$out" ] || fail "groff warns about $page: $out"
    if command -v man >/dev/null; then
        out=$(MANWIDTH=80 man -l "$page" 2>&1 >/dev/null) || fail "man -l $page failed: $out"
        [ -z "$out" ] || fail "man -l $page warns: $out"
    fi
    f=$(basename "$page")
    # .TH NAME SECTION ...: the name may be quoted and its hyphens escaped (\-).
    th=$(sed -n 's/^\.TH  *"\{0,1\}\([^ "]*\)"\{0,1\}  *\([^ ]*\).*/\1 \2/p' "$page" | head -1 | sed 's/\\-/-/g')
    want="$(tr '[:lower:]' '[:upper:]' <<<"${f%.*}") ${f##*.}"
    [ "$th" = "$want" ] || fail "$page: .TH says '$th', want '$want'"
done

# netsock(1): an entry (.TP .B NAME) for every command of `netsock help`,
# and every page it refers to written.
cmds=$("$netsock" help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z0-9-]*\)  .*/\1/p')
[ -n "$cmds" ] || fail "no commands found in 'netsock help'"
for c in $cmds; do
    grep -A1 -x '\.TP' "$src/man/netsock.1" | grep -qx "\.B $c" ||
        fail "man/netsock.1 has no entry for the command '$c'"
done
for ref in $(grep -o 'netsock-[a-z]*\s*(1)' "$src/man/netsock.1" | tr -d ' ' | sort -u); do
    [ -f "$src/man/${ref%(1)}.1" ] || fail "man/netsock.1 refers to $ref, which does not exist"
done

# Each subcommand's page: EXIT STATUS, EXAMPLES, and each option of
# `netsock CMD --help` (where a '-' is written '\-').
for cmd in $cmds; do
    case $cmd in version | help) continue ;; esac
    page=$src/man/netsock-$cmd.1
    [ -f "$page" ] || fail "no man/netsock-$cmd.1"
    grep -q '^\.SH EXIT STATUS' "$page" || fail "$page has no EXIT STATUS section"
    grep -q '^\.SH EXAMPLES' "$page" || fail "$page has no EXAMPLES"
    help=$("$netsock" "$cmd" --help) || fail "netsock $cmd --help: exit status $?"
    opts=$(grep -oE '(^|[ ,])--?[A-Za-z][A-Za-z0-9-]*' <<<"$help" | tr -d ' ,' | sort -u)
    [ -n "$opts" ] || fail "netsock $cmd --help lists no options"
    for opt in $opts; do
        esc=${opt//-/\\\\-}
        grep -qE "(^|[^A-Za-z])$esc([^A-Za-z-]|$)" "$page" ||
            fail "netsock $cmd --help lists $opt, man/netsock-$cmd.1 does not"
    done
done
echo "${#pages[@]} man pages render cleanly; netsock(1) covers: $(echo $cmds); each documents every option"
