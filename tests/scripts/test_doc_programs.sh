#!/usr/bin/env bash
# tests/scripts/test_doc_programs.sh — the C code in the documentation
# compiles, and the complete programs run, so it cannot rot.
#
# Every ```c block in README.md and docs/*.md carries a mark on the line
# right before its opening fence (docs/testing.md "Code in the docs"):
#
#   <!-- program -->           a complete program: compiled against this
#                              build's library, run, must exit 0;
#   <!-- program: compile -->  a complete program that needs what a test
#                              run does not have (root, a real link):
#                              compiled and linked, not run;
#   <!-- fragment -->          part of a program (a declaration, a few
#                              calls): not compiled.
#
# A block without a mark fails the test. In man/*.3, every .nf/.fi block
# of the EXAMPLES section that has an `int main(` is a program (roff
# escapes undone) and is compiled and run too.
#
# Compiler, flags and library come from BUILD_DIR/tests/consumer.env
# (tests/CMakeLists.txt): the build's own compiler and sanitizers, with
# -std=c11 -Wall -Wextra -Werror.
# Usage: test_doc_programs.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR}
env_file="$build/tests/consumer.env"
[ -f "$env_file" ] || { echo "FAIL: no $env_file (configure with NS_TESTS=ON)" >&2; exit 1; }
# shellcheck disable=SC1090
. "$env_file"
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netsock-docs-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Extract the blocks: one file per block, named after where it is, and a
# list "MODE FILE:LINE PATH".
: >"$tmp/list"
for md in README.md docs/*.md; do
    awk -v md="$md" -v dir="$tmp" '
        function base(s) { gsub(/[\/.]/, "_", s); return s }
        !inblock && /^```c[ \t]*$/ {
            mode = "unmarked"
            if (prev ~ /^<!-- program -->[ \t]*$/) mode = "run"
            else if (prev ~ /^<!-- program: compile -->[ \t]*$/) mode = "compile"
            else if (prev ~ /^<!-- fragment -->[ \t]*$/) mode = "fragment"
            inblock = 1; start = NR
            path = dir "/" base(md) "_" NR ".c"
            printf "%s %s:%d %s\n", mode, md, NR, path >> (dir "/list")
            printf "" > path
            prev = $0; next
        }
        inblock && /^```[ \t]*$/ { inblock = 0; close(path); prev = $0; next }
        inblock { print >> path; next }
        { prev = $0 }
        END { if (inblock) printf "unterminated %s:%d -\n", md, start >> (dir "/list") }
    ' "$md"
done
for man in man/*.3; do
    [ -e "$man" ] || continue
    awk -v man="$man" -v dir="$tmp" '
        function base(s) { gsub(/[\/.]/, "_", s); return s }
        /^\.SH / { ex = ($0 ~ /^\.SH EXAMPLES?/) }
        ex && /^\.nf/ { inblock = 1; start = NR; body = ""; next }
        ex && inblock && /^\.fi/ {
            inblock = 0
            if (body ~ /int main\(/) {
                path = dir "/" base(man) "_" start ".c"
                printf "%s", body > path; close(path)
                printf "run %s:%d %s\n", man, start, path >> (dir "/list")
            }
            next
        }
        ex && inblock {
            line = $0
            gsub(/\\-/, "-", line); gsub(/\\\(aq/, "\047", line); gsub(/\\\(dq/, "\"", line)
            gsub(/\\e/, "\\", line); gsub(/\\&/, "", line)
            body = body line "\n"
        }
    ' "$man"
done

fail=0
n_run=0 n_compile=0 n_fragment=0
while read -r mode where path; do
    case $mode in
    unmarked)
        echo "FAIL: $where: a \`\`\`c block without a mark; put <!-- program -->," \
            "<!-- program: compile --> or <!-- fragment --> on the line before it (docs/testing.md)" >&2
        fail=1
        continue
        ;;
    unterminated)
        echo "FAIL: $where: the \`\`\`c block is never closed" >&2
        fail=1
        continue
        ;;
    fragment)
        n_fragment=$((n_fragment + 1))
        continue
        ;;
    esac
    # shellcheck disable=SC2086 # flag lists
    if ! $NS_CC $NS_CFLAGS -o "${path%.c}" "$path" $NS_LIBS >"$path.log" 2>&1; then
        echo "FAIL: $where: the program does not compile:" >&2
        cat "$path.log" >&2
        fail=1
        continue
    fi
    if [ "$mode" = compile ]; then
        n_compile=$((n_compile + 1))
        echo "ok: $where compiles"
        continue
    fi
    if ! timeout 60 "${path%.c}" >"$path.out" 2>&1; then
        echo "FAIL: $where: the program exits with status $?:" >&2
        cat "$path.out" >&2
        fail=1
        continue
    fi
    n_run=$((n_run + 1))
    last=$(tail -n 1 "$path.out")
    echo "ok: $where runs (exit 0)${last:+: $last}"
done <"$tmp/list"
echo "$n_run programs run, $n_compile compiled only, $n_fragment fragments"
[ "$n_run" -ge 1 ] || { echo "FAIL: no program found to run" >&2; fail=1; }
exit $fail
