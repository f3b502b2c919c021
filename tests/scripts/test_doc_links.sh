#!/usr/bin/env bash
# tests/scripts/test_doc_links.sh — the documentation stands alone and
# points at things that exist:
#   - README.md, docs/*.md, bench/README.md, man/* and the installed headers
#     (include/netsock/) refer to nothing outside the repository (no
#     ../ paths, no design notes kept elsewhere);
#   - every relative Markdown link [text](path#anchor) names an existing
#     file, and its #anchor a heading of that file;
#   - every repository path written in backquotes (`src/tcp/tcp_input.c`,
#     `tests/interop/lib.sh`, `examples/`, `tests/sim/test_*.c`) exists
#     (paths git ignores, such as build outputs, excepted).
# Usage: test_doc_links.sh [BUILD_DIR] (not used).
set -euo pipefail
cd "$(dirname "$0")/../.."
docs=(README.md docs/*.md bench/README.md)
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }

# Nothing outside the repository.
if out=$(grep -nE '(^|[^a-z])\.\./|shared/|DESIGN\.md|STYLE\.md|STYLE §' "${docs[@]}" man/* \
    include/netsock/*.h); then
    bad "references outside the repository:"
    echo "$out" >&2
fi

# anchor TEXT: the GitHub anchor of a heading.
anchor() {
    tr '[:upper:]' '[:lower:]' <<<"$1" | sed -e 's/[^a-z0-9 _-]//g' -e 's/ /-/g'
}

for doc in "${docs[@]}"; do
    dir=$(dirname "$doc")
    # Markdown links to files of the repository.
    while IFS= read -r link; do
        target=${link%%#*}
        frag=${link#"$target"}
        frag=${frag#\#}
        case $target in http://* | https://* | mailto:*) continue ;; esac
        if [ -z "$target" ]; then
            file=$doc
        else
            file="$dir/$target"
        fi
        if [ ! -e "$file" ]; then
            bad "$doc: link to $link: no such file"
            continue
        fi
        if [ -n "$frag" ] && [ -f "$file" ]; then
            found=0
            while IFS= read -r h; do
                [ "$(anchor "$h")" = "$frag" ] && { found=1; break; }
            done < <(sed -n 's/^#\{1,6\} \(.*\)$/\1/p' "$file")
            [ "$found" = 1 ] || bad "$doc: link to $link: no heading for #$frag in $file"
        fi
    done < <(grep -oE '\]\([^) ]+\)' "$doc" | sed -e 's/^](//' -e 's/)$//')
    # Paths in backquotes, from the top of the repository.
    while IFS= read -r p; do
        p=${p%%:*}           # `tools/link.c:120`
        p=${p%[,.;]}
        # shellcheck disable=SC2086 # a glob such as tests/sim/test_*.c
        # (Files the build writes and git ignores, e.g. bench/results/latest.log, pass.)
        if ! compgen -G "$p" >/dev/null && [ ! -e "$p" ] && ! git check-ignore -q "$p" 2>/dev/null; then
            bad "$doc: \`$p\` does not exist"
        fi
    done < <(grep -oE '`(src|tests|docs|examples|include|tools|bench|scripts|man|cmake)/[A-Za-z0-9_.*/-]*`' "$doc" |
        tr -d '`' | sort -u)
done
[ "$fail" = 0 ] && echo "docs: no outside references; every link and path exists"
exit $fail
