#!/bin/sh
# Regenerating docs/counters.md must change nothing.
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp)
trap 'cp "$tmp" docs/counters.md; rm -f "$tmp"' EXIT
cp docs/counters.md "$tmp"
./scripts/gen-counters-doc
if ! cmp -s "$tmp" docs/counters.md; then
    echo "docs/counters.md is stale: run scripts/gen-counters-doc" >&2
    diff "$tmp" docs/counters.md >&2 || true
    exit 1
fi
echo "docs/counters.md matches include/netsock/counters.h"
