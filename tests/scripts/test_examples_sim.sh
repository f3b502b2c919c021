#!/usr/bin/env bash
# tests/scripts/test_examples_sim.sh — the simulator examples run and say
# what their header comments promise:
#   examples/tcp_echo: every echo comes back intact, over a lossy link that
#     really loses frames (the default seed: the client and the server both
#     retransmit), and the server sees the client's close; several seeds.
#   examples/many_clients: 1000 clients, all connected to the server at the
#     same time, every one answered, nothing left open; and a usage error
#     exits 2.
# The real-link examples (tap_server, epoll_loop) are checked by
# tests/interop/test_examples_tap.sh.
# Usage: test_examples_sim.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR}
ex="$build/examples"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netsock-examples-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/out" ] && { echo "--- output ---" >&2; cat "$tmp/out" >&2; }
    exit 1
}
expect() { grep -Eq -- "$1" "$tmp/out" || fail "no line matches /$1/"; }

# tcp_echo, default seed: lines as documented, losses and retransmissions.
"$ex/tcp_echo" >"$tmp/out" 2>&1 || fail "tcp_echo exited with $?"
expect '^server: listening on 192\.0\.2\.2:7$'
expect '^client: connected at t='
for i in 1 2 3 4; do expect "^client: echo $i of 4, [0-9]+ bytes, after [0-9.]+ ms: \""; done
expect '^server: 1 connection, 99 bytes echoed, connection closed: yes$'
expect '^link: [1-9][0-9]* of [0-9]+ frames lost; the client retransmitted [1-9][0-9]*, the server [1-9][0-9]*$'
expect '^PASS: 4 of 4 echoes intact \(seed 4\)$'
sed 's/^/   /' "$tmp/out"
for seed in 1 2 3 5 6 7 8 9; do
    "$ex/tcp_echo" "$seed" >"$tmp/out" 2>&1 || fail "tcp_echo $seed exited with $?"
    expect "^PASS: 4 of 4 echoes intact \\(seed $seed\\)$"
done
echo "tcp_echo: seeds 1-9 intact"

# many_clients: 1000 at once.
"$ex/many_clients" >"$tmp/out" 2>&1 || fail "many_clients exited with $?"
expect '^1000 clients connecting to 192\.0\.2\.2:8000$'
expect '^server: 1000 connections accepted, at most 1000 open at once, 1000 answered, 0 still open$'
expect '^clients: 1000 answered, 0 failed, in [0-9.]+ ms of virtual time$'
expect '^PASS: 1000 of 1000 clients served$'
sed 's/^/   /' "$tmp/out"
"$ex/many_clients" 50 7 >"$tmp/out" 2>&1 || fail "many_clients 50 7 exited with $?"
expect '^PASS: 50 of 50 clients served$'
set +e
"$ex/many_clients" 0 >"$tmp/out" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "many_clients 0: exit status $rc, want 2"
expect '^usage: many_clients'
rm -f "$tmp/out"
echo "examples OK"
