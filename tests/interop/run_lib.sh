# tests/interop/run_lib.sh — helpers of the `netsock run` interop tests
# (test_run_*.sh), sourced after lib.sh and nsk_setup.
#
# The link: a persistent TAP device made in the test's namespace with the
# kernel's address on it (so the kernel side is ready before the program
# under netsock makes its first connection); each `netsock run` attaches
# to it with the same MAC, so the kernel's ARP entry stays right.
#
#   kernel 192.0.2.1 ─tap─ netsock run 192.0.2.2 -- PROGRAM

RUN_MAC=02:00:00:00:52:02

# run_link: make the TAP ($RUN_TAP) and the kernel's side of it.
run_link() {
    RUN_TAP=nsrun$$
    RUN_TAP=${RUN_TAP:0:15}
    in_ns ip tuntap add "$RUN_TAP" mode tap
    in_ns ip addr add "$KERNEL_IP/24" dev "$RUN_TAP"
    in_ns ip link set "$RUN_TAP" up
}

# run_fg NAME [RUN_OPTIONS...] -- PROGRAM [ARGS...]: netsock run in the
# namespace, in the foreground, bounded by 60 s; the program's stdout in
# $TMP/NAME.out, netsock's and the program's stderr in $TMP/NAME.log.
# Sets RUN_RC to the exit status.
run_fg() {
    local name=$1
    shift
    RUN_RC=0
    ip netns exec "$NS" timeout 60 "$NETSOCK" run --link "tap:$RUN_TAP" --addr "$NETSOCK_IP/24" \
        --mac "$RUN_MAC" --name "$name" --verbose "$@" >"$TMP/$name.out" 2>"$TMP/$name.log" \
        </dev/null || RUN_RC=$?
    nsk_check_log "$name"
}

# run_bg NAME [RUN_OPTIONS...] -- PROGRAM [ARGS...]: the same in the
# background (stopped, with the program, when the test ends). Sets
# NSK_LAST_PID.
run_bg() {
    local name=$1
    shift
    ip netns exec "$NS" "$NETSOCK" run --link "tap:$RUN_TAP" --addr "$NETSOCK_IP/24" \
        --mac "$RUN_MAC" --name "$name" --verbose "$@" >"$TMP/$name.out" 2>"$TMP/$name.log" \
        </dev/null &
    NSK_LAST_PID=$!
    NSK_PIDS+=("$NSK_LAST_PID")
}

# run_wait_listen NAME PORT: until the stack of `netsock run --name NAME`
# has a TCP socket listening on PORT (asked with netsock stat, as a user
# would).
run_wait_listen() {
    local name=$1 port=$2
    for _ in $(seq 200); do
        in_ns "$NETSOCK" stat --name "$name" -tln 2>/dev/null | grep -q "LISTEN .*:$port " && return 0
        sleep 0.05
    done
    in_ns "$NETSOCK" stat --name "$name" -tan >&2 || true
    fail "nothing listens on port $port under netsock run $name"
}

# run_stop PID NAME: SIGTERM to netsock run (it passes it on to the
# program), then its exit status in RUN_RC and its log checked.
run_stop() {
    local pid=$1 name=$2
    kill -TERM "$pid" 2>/dev/null || true
    RUN_RC=0
    local i
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    wait "$pid" || RUN_RC=$?
    nsk_check_log "$name"
}

# run_tcp_conns LOG: TCP connections the stack opened or accepted, from
# the counters `netsock run --verbose` prints at exit (proof that the
# program's traffic went through netsock, not the kernel).
run_tcp_conns() {
    echo $(($(nsk_counter "$1" tcp_active_opens) + $(nsk_counter "$1" tcp_passive_opens)))
}
