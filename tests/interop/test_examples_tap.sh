#!/usr/bin/env bash
# tests/interop/test_examples_tap.sh — the two real-link examples, reached
# by curl through the Linux kernel over a TAP device:
#
#     curl ── kernel 192.0.2.1 ─ tap ns0 ─ 192.0.2.2:80 examples/tap_server
#                                                       examples/epoll_loop
#
# For each example the test runs, inside a namespace it makes, exactly the
# commands written in the example's header comment (the `ip ...` lines,
# the program line with build/ replaced by the build directory, the curl
# line), so those instructions cannot rot. Then it checks:
#   - the program prints its "ready:" line before curl is run;
#   - curl gets "hello from netsock..." with the request number, for
#     several requests (epoll_loop: 40, 8 at a time);
#   - SIGTERM ends the program with exit status 0 and it reports the
#     requests served (epoll_loop: and wake-ups from the stack's
#     descriptor, the sockets' and its own signalfd);
#   - no sanitizer report.
# Usage: test_examples_tap.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
command -v curl >/dev/null || nsk_skip "needs curl"
nsk_setup
SRC=$(cd "$(dirname "$0")/../.." && pwd)
EXAMPLES=$(cd "$NSK_BUILD" && pwd)/examples

# header_cmds FILE: the shell commands of FILE's header comment (the
# indented lines of the first comment that start with "ip ",
# "build/examples/", "curl http" or "kill %"), one per line.
header_cmds() {
    sed -n '1,/\*\//p' "$1" |
        sed -n 's/^ \*     \(\(ip \|build\/examples\/\|curl http\|kill %\).*\)$/\1/p'
}

# run_example NAME REQUESTS PARALLEL: the commands of examples/NAME.c.
run_example() {
    local name=$1 requests=$2 parallel=$3 line pid="" rc body i
    local log="$TMP/$name.log"
    log "examples/$name.c: the commands of its header comment"
    [ -x "$EXAMPLES/$name" ] || fail "no $EXAMPLES/$name"
    local cmds
    cmds=$(header_cmds "$SRC/examples/$name.c")
    grep -q '^ip tuntap add' <<<"$cmds" || fail "$name.c: no ip commands in its header comment"
    while IFS= read -r line; do
        echo "   \$ $line"
        case $line in
        ip\ *)
            # shellcheck disable=SC2086 # the documented command, word for word
            in_ns $line || fail "$name.c: '$line' failed"
            ;;
        build/*)
            line=${line%&}
            # shellcheck disable=SC2086
            set -- ${line#build/examples/}
            ip netns exec "$NS" "$EXAMPLES/$1" "${@:2}" >"$log" 2>&1 </dev/null &
            pid=$!
            NSK_PIDS+=("$pid")
            for _ in $(seq 100); do
                grep -q '^ready: ' "$log" && break
                kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "$name exited before ready"; }
                sleep 0.05
            done
            grep -q "^ready: http://192.0.2.2:80/ on ns0$" "$log" ||
                { cat "$log" >&2; fail "$name: no ready line"; }
            ;;
        curl\ *)
            # shellcheck disable=SC2086
            body=$(in_ns timeout 20 $line -sS -m 10) || fail "$name: '$line' failed"
            grep -qx "hello from netsock\( in your epoll loop\)\?, request 1" <<<"$body" ||
                fail "$name: curl got '$body'"
            echo "   $body"
            # More requests, $parallel at a time; each answer carries its number.
            seq 2 "$requests" | in_ns xargs -P "$parallel" -I{} \
                curl -sS -m 10 -o "$TMP/$name.{}.out" http://192.0.2.2/ ||
                fail "$name: a curl of $requests failed"
            for i in $(seq 2 "$requests"); do
                grep -q "^hello from netsock.*, request [0-9]*$" "$TMP/$name.$i.out" ||
                    fail "$name: request $i got '$(cat "$TMP/$name.$i.out")'"
            done
            echo "   $((requests - 1)) more requests answered ($parallel at a time)"
            ;;
        kill\ *)
            kill -TERM "$pid"
            set +e
            wait "$pid"
            rc=$?
            set -e
            [ "$rc" = 0 ] || { cat "$log" >&2; fail "$name: exit status $rc after SIGTERM"; }
            grep -q "^served $requests requests" "$log" ||
                { cat "$log" >&2; fail "$name: did not report $requests requests served"; }
            sed -n 's/^served/   served/p' "$log"
            ;;
        esac
    done <<<"$cmds"
    in_ns ip link show ns0 >/dev/null 2>&1 && fail "$name.c: ns0 still there after its teardown"
    nsk_check_log "$name"
}

run_example tap_server 5 1
run_example epoll_loop 40 8
grep -q "wake-ups: [1-9][0-9]* stack, [1-9][0-9]* sockets, 1 signal" "$TMP/epoll_loop.log" ||
    fail "epoll_loop: wake-ups not counted: $(tail -1 "$TMP/epoll_loop.log")"
nsk_pass
