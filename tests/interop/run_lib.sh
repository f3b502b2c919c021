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
    local out
    for _ in $(seq 200); do
        out=$(in_ns "$NETSOCK" stat --name "$name" -tln 2>/dev/null || true)
        case $out in *"LISTEN "*":$port "*) return 0 ;; esac
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

# ---- iperf3 under netsock run, and the kernel over veth with the same command

# run_veth: the kernel's reference link: namespace $RUN_NSB joined to
# ours by a veth pair, 198.51.100.1 here and 198.51.100.2 there.
run_veth() {
    RUN_NSB="$NS-b"
    ip netns add "$RUN_NSB"
    NSK_EXTRA_NS+=("$RUN_NSB")
    ip netns exec "$RUN_NSB" ip link set lo up
    ip netns exec "$RUN_NSB" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1
    local va=nsrva$$ vb=nsrvb$$
    va=${va:0:15} vb=${vb:0:15}
    in_ns ip link add "$va" type veth peer name "$vb"
    in_ns ip link set "$vb" netns "$RUN_NSB"
    in_ns ip addr add 198.51.100.1/24 dev "$va"
    in_ns ip link set "$va" up
    ip netns exec "$RUN_NSB" ip addr add 198.51.100.2/24 dev "$vb"
    ip netns exec "$RUN_NSB" ip link set "$vb" up
}

# run_iperf3_gbps JSON: the goodput (receiver's bits/s) of an iperf3
# client's JSON report, in Gbit/s; fails when the test did not complete.
run_iperf3_gbps() {
    python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if "error" in r:
    sys.exit("iperf3: " + r["error"])
end = r["end"]
rx = end["sum_received"]
if rx["bytes"] <= 0 or end["sum_sent"]["bytes"] < rx["bytes"]:
    sys.exit("iperf3: nothing received")
print("%.2f" % (rx["bits_per_second"] / 1e9))
PY
}

# run_iperf3_wait_kernel NS ADDR: until the kernel's iperf3 server in
# namespace NS listens on ADDR (asked with ss: a connection would be its
# one test).
run_iperf3_wait_kernel() {
    local ns=$1 addr=$2 out
    for _ in $(seq 100); do
        out=$(ip netns exec "$ns" ss -Htln "sport = :5201" 2>/dev/null || true)
        case $out in *"$addr:5201"*) return 0 ;; esac
        sleep 0.05
    done
    fail "no iperf3 server on $addr"
}

# run_iperf3 DIRECTION SECONDS [IPERF3 OPTIONS...]: one transfer, the same
# iperf3 command over netsock run on the TAP and between two kernels over
# the veth (run_link and run_veth first). DIRECTION: client (iperf3 -c
# under netsock, the kernel's iperf3 -s) or server (iperf3 -s under
# netsock, the kernel's iperf3 -c). Sets RUN_NS_GBPS and RUN_VETH_GBPS.
run_iperf3() {
    local dir=$1 secs=$2
    shift 2
    local opts=("$@") name=iperf3-$dir
    if [ "$dir" = client ]; then
        ip netns exec "$NS" iperf3 -s -1 -B "$KERNEL_IP" >"$TMP/$name-srv.log" 2>&1 </dev/null &
        NSK_PIDS+=($!)
        run_iperf3_wait_kernel "$NS" "$KERNEL_IP"
        run_fg "$name" -- iperf3 -c "$KERNEL_IP" -t "$secs" -J "${opts[@]}"
        [ "$RUN_RC" = 0 ] || fail "iperf3 -c under netsock run exited $RUN_RC: $(head -c 400 "$TMP/$name.out")"
        RUN_NS_GBPS=$(run_iperf3_gbps "$TMP/$name.out") || fail "iperf3 -c under netsock run"
        ip netns exec "$NS" iperf3 -s -1 -B 198.51.100.1 >"$TMP/$name-veth-srv.log" 2>&1 </dev/null &
        NSK_PIDS+=($!)
        run_iperf3_wait_kernel "$NS" 198.51.100.1
        ip netns exec "$RUN_NSB" timeout 60 iperf3 -c 198.51.100.1 -t "$secs" -J "${opts[@]}" \
            >"$TMP/$name-veth.json" 2>&1 || fail "iperf3 over veth failed"
    else
        run_bg "$name" -- iperf3 -s -1 -4 -B "$NETSOCK_IP" -J
        local srv=$NSK_LAST_PID
        run_wait_listen "$name" 5201
        in_ns timeout 60 iperf3 -c "$NETSOCK_IP" -t "$secs" -J "${opts[@]}" >"$TMP/$name.json" 2>&1 ||
            fail "the kernel's iperf3 -c to iperf3 -s under netsock run failed: $(head -c 400 "$TMP/$name.json")"
        local rc=0
        wait "$srv" || rc=$?
        nsk_check_log "$name"
        [ "$rc" = 0 ] || fail "iperf3 -s -1 under netsock run exited $rc"
        RUN_NS_GBPS=$(run_iperf3_gbps "$TMP/$name.json") || fail "iperf3 to netsock run"
        ip netns exec "$RUN_NSB" iperf3 -s -1 -4 -B 198.51.100.2 >"$TMP/$name-veth-srv.log" 2>&1 \
            </dev/null &
        NSK_PIDS+=($!)
        run_iperf3_wait_kernel "$RUN_NSB" 198.51.100.2
        in_ns timeout 60 iperf3 -c 198.51.100.2 -t "$secs" -J "${opts[@]}" >"$TMP/$name-veth.json" 2>&1 ||
            fail "iperf3 over veth failed"
    fi
    RUN_VETH_GBPS=$(run_iperf3_gbps "$TMP/$name-veth.json") || fail "iperf3 over veth"
}
