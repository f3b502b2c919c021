#!/usr/bin/env bash
# tests/scripts/test_man_pages.sh — the man pages in man/ (installed by
# `make install`) are well-formed and complete:
#   - each renders with groff's man macros without a single warning;
#   - each page's .TH names it as its file does (netsock-ping.1: NETSOCK-PING 1);
#   - netsock(1) describes every command `netsock help` lists;
#   - libnetsock(3)'s example program compiles and runs (that is
#     tests/scripts/test_doc_programs.sh, which reads man/*.3 too).
# References to netsock-COMMAND(1) pages not written yet are reported.
# Usage: test_man_pages.sh BUILD_DIR. Exit 77 (skip) without groff.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR}
cd "$(dirname "$0")/../.."
command -v groff >/dev/null || { echo "SKIP: groff not installed"; exit 77; }

fail=0
shopt -s nullglob
pages=(man/*.[1-8])
[ "${#pages[@]}" -ge 2 ] || { echo "FAIL: no man pages in man/" >&2; exit 1; }
for p in "${pages[@]}"; do
    f=$(basename "$p")
    name=${f%.*}
    sec=${f##*.}
    warn=$(groff -man -ww -z -Tutf8 "$p" 2>&1 || true)
    if [ -n "$warn" ]; then
        echo "FAIL: $p: groff warns:" >&2
        echo "$warn" >&2
        fail=1
    fi
    # .TH NAME SECTION ...: the name may be quoted and its hyphens escaped (\-).
    th=$(sed -n 's/^\.TH  *"\{0,1\}\([^ "]*\)"\{0,1\}  *\([^ ]*\).*/\1 \2/p' "$p" | head -1 | sed 's/\\-/-/g')
    want="$(tr '[:lower:]' '[:upper:]' <<<"$name") $sec"
    if [ "$th" != "$want" ]; then
        echo "FAIL: $p: .TH says '$th', want '$want'" >&2
        fail=1
    fi
done

# Every command of `netsock help` has its entry (.TP .B NAME) in netsock(1).
cmds=$("$build/netsock" help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z0-9-]*\)  .*/\1/p')
[ -n "$cmds" ] || { echo "FAIL: no commands found in 'netsock help'" >&2; exit 1; }
for c in $cmds; do
    if ! grep -A1 -x '\.TP' man/netsock.1 | grep -qx "\.B $c"; then
        echo "FAIL: man/netsock.1 has no entry for the command '$c'" >&2
        fail=1
    fi
done

# Pages netsock(1) refers to.
for ref in $(grep -o 'netsock-[a-z]*\s*(1)' man/netsock.1 | tr -d ' ' | sort -u); do
    page=man/${ref%(1)}.1
    [ -f "$page" ] || echo "note: man/netsock.1 refers to $ref; $page is not written yet"
done

[ "$fail" = 0 ] && echo "${#pages[@]} man pages OK; netsock(1) covers: $(echo $cmds)"
exit $fail
