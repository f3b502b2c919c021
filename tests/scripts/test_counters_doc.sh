#!/bin/sh
# docs/counters.md must match include/netsock/counters.h.
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
./scripts/gen-counters-doc "$tmp"
if ! cmp -s "$tmp" docs/counters.md; then
    echo "docs/counters.md is stale: run scripts/gen-counters-doc" >&2
    diff docs/counters.md "$tmp" >&2 || true
    exit 1
fi
echo "docs/counters.md matches include/netsock/counters.h"
