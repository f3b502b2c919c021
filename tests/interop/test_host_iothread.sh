#!/usr/bin/env bash
# tests/interop/test_host_iothread.sh — `netsock host --io-thread`: the
# device's reads and writes on a thread of their own (ns_iothread_wrap),
# the Linux kernel as the peer:
#
#     kernel 192.0.2.1 ─tap─ [I/O thread] netsock host 192.0.2.2
#     kernel 192.0.2.1 [nsia] ══veth══ [nsib] AF_PACKET [I/O thread] netsock host
#
#   1. TAP with offloads (the default): curl GET /bytes/67108864 has the
#      SHA-256 of the pattern, curl POST of 64 MiB to /sink answers its
#      length and SHA-256, socat to echo with 4 MiB comes back identical,
#      UDP echo and a 1472-byte ping work; GSO packets crossed the rings
#      both ways (tcp_tso_segs, ip_rx_gso), the I/O thread's line is in
#      the counters, and no received frame was dropped.
#   2. TAP with --offload off, and --pcap on top of the I/O thread: the
#      same transfers (16 MiB), the capture holds frames of both sides.
#   3. AF_PACKET on a veth: the same transfers (16 MiB), no drop.
# The goodput of each transfer is printed (timing is the benchmark's
# business: bench/tap.sh).
# Usage: test_host_iothread.sh BUILD_DIR (as root; exit 77 = skipped).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl socat sha256sum python3; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export NETSOCK_RUN_DIR=$TMP

counter() { nsk_counter "$@"; }

# run_host NAME LINK ARGS...: netsock host --io-thread on LINK; for a TAP
# the kernel side is configured here. Sets HOST.
run_host() {
    local name=$1 link=$2
    shift 2
    log "netsock host ($name) on $link --io-thread $*"
    nsk_netsock_bg "$name" host --link "$link" --addr "$NETSOCK_IP/24" --name "$name" \
        --io-thread "$@"
    HOST=$NSK_LAST_PID
    case $link in
    tap:*)
        nsk_wait_dev "${link#tap:}"
        nsk_kernel_side "${link#tap:}"
        ;;
    *)
        for _ in $(seq 100); do
            [ -S "$TMP/$name.sock" ] && break
            kill -0 "$HOST" 2>/dev/null || fail "netsock host exited: $(cat "$TMP/$name.log")"
            sleep 0.05
        done
        ;;
    esac
    kernel_ping "$name-ping" -c 2 -i 0.2 -W 2
    expect_summary "$TMP/$name-ping.out" 2
}

# transfers N: GET and POST of N bytes, 4 MiB through echo, UDP echo.
transfers() {
    host_get "$1"
    host_sink "$1"
    host_echo 4194304
    log "UDP echo"
    local got
    got=$(echo hello-udp | in_ns timeout 10 socat -t 2 - "UDP:$NETSOCK_IP:7")
    [ "$got" = hello-udp ] || fail "UDP echo: '$got'"
}

# stop_host NAME DEV [wrapped]: SIGTERM; counters printed with the I/O
# thread's line (not when another wrapper is on top: the counters show the
# outermost device), no received frame dropped.
stop_host() {
    nsk_stop "$HOST"
    nsk_check_log "$1"
    grep -q "tcp_passive_opens" "$TMP/$1.log" || fail "$1: no counters after SIGTERM"
    [ "${3:-}" = wrapped ] || grep -q "^ *$2 io-thread: [1-9][0-9]* stack wake-ups" "$TMP/$1.log" ||
        fail "$1: no I/O thread statistics: $(grep "^ *$2" "$TMP/$1.log")"
    grep -q "^ *$2: rx [0-9]* frames [0-9]* bytes 0 dropped" "$TMP/$1.log" ||
        fail "$1: netsock dropped received frames: $(grep "^ *$2: rx" "$TMP/$1.log")"
    sed -n "s/^ *\($2 io-thread: .*\)/   \1/p" "$TMP/$1.log"
}

TAP=nsio$$
TAP=${TAP:0:15}

# --- 1. TAP, offloads on -----------------------------------------------------------
run_host on "tap:$TAP"
transfers 67108864
kernel_ping on-1472 -c 2 -i 0.2 -W 2 -s 1472
expect_summary "$TMP/on-1472.out" 2
stop_host on "$TAP"
nsk_wait_dev_gone "$TAP" || fail "$TAP still there after netsock stopped"
tso=$(counter "$TMP/on.log" tcp_tso_segs)
gro=$(counter "$TMP/on.log" ip_rx_gso)
echo "   offload on: tcp_tso_segs $tso, ip_rx_gso $gro"
[ "$tso" -gt 100 ] || fail "offload on: netsock sent $tso segments for the kernel to cut"
[ "$gro" -gt 100 ] || fail "offload on: netsock received $gro GSO packets"
[ "$(counter "$TMP/on.log" tcp_drop_bad_csum)" = 0 ] || fail "offload on: TCP checksum drops"

# --- 2. TAP, offloads off, a capture on top ------------------------------------------
run_host off "tap:$TAP" --offload off --pcap "$TMP/off.pcap"
transfers 16777216
stop_host off "$TAP" wrapped
nsk_wait_dev_gone "$TAP" || fail "$TAP still there after netsock stopped"
for c in tcp_tso_segs ip_rx_gso; do
    [ "$(counter "$TMP/off.log" $c)" = 0 ] || fail "offload off: $c is $(counter "$TMP/off.log" $c)"
done
from=$(tcpdump -n -r "$TMP/off.pcap" "tcp and src host $NETSOCK_IP" 2>/dev/null | wc -l)
to=$(tcpdump -n -r "$TMP/off.pcap" "tcp and dst host $NETSOCK_IP" 2>/dev/null | wc -l)
echo "   capture: $from TCP frames from netsock, $to to it"
[ "$from" -gt 1000 ] && [ "$to" -gt 1000 ] || fail "capture: $from frames sent, $to received"

# --- 3. AF_PACKET on a veth ------------------------------------------------------------
VA=nsia$$
VB=nsib$$
VA=${VA:0:15}
VB=${VB:0:15}
in_ns ip link add "$VA" type veth peer name "$VB" || nsk_skip "cannot create a veth pair"
nsk_kernel_side "$VA"
in_ns ip link set "$VB" up
run_host "$VB" "packet:$VB"
transfers 16777216
stop_host "$VB" "$VB"
nsk_pass
