#!/usr/bin/env bash
# tests/interop/test_tcp_slow_reader.sh — the Linux kernel sends to a
# netsock receiver whose application stops reading, over TAP:
#
#     kernel 192.0.2.1 (curl) ─tap─ netsock host 192.0.2.2 (/sink)
#
#   1. a clean bulk transfer: curl POST of 64 MiB to /sink answers its
#      length and SHA-256;
#   2. a slow reader: `netsock host --read-pause 1048576:15` reads 1 MiB of
#      each connection, then nothing for 15 s, then the rest: curl POST of
#      64 MiB to /sink still answers its length and SHA-256; the kernel
#      probed a zero window meanwhile (TcpExtTCPWinProbe in the namespace)
#      and its connection did not time out.
# In both, netsock took every byte inside every window it advertised:
# tcp_rcvbuf_trim and tcp_rcv_inwin_drop stay 0 (before the window-scale
# rounding was fixed, rounding up put the right edge past the buffer and
# in-window data was trimmed, which the kernel had to retransmit). The
# kernel's retransmissions and the goodput are printed.
# Usage: test_tcp_slow_reader.sh BUILD_DIR (as root; exit 77 = skipped).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl sha256sum nstat; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export NETSOCK_RUN_DIR=$TMP

TAP=nssr$$
TAP=${TAP:0:15}

# run_host NAME ARGS...: netsock host on the TAP, kernel side configured.
run_host() {
    local name=$1
    shift
    log "netsock host ($name) on $TAP: $*"
    nsk_netsock_bg "$name" host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --name "$name" \
        --serve http "$@"
    HOST=$NSK_LAST_PID
    nsk_wait_dev "$TAP"
    nsk_kernel_side "$TAP"
    kernel_ping "$name-ping" -c 2 -i 0.2 -W 2
    expect_summary "$TMP/$name-ping.out" 2
}

# stop_host NAME: SIGTERM; the counters say nothing in a window was lost.
stop_host() {
    local name=$1 c v
    nsk_stop "$HOST"
    nsk_check_log "$name"
    grep -q "tcp_passive_opens" "$TMP/$name.log" || fail "$name: no counters after SIGTERM"
    for c in tcp_rcvbuf_trim tcp_rcv_inwin_drop; do
        v=$(nsk_counter "$TMP/$name.log" $c)
        echo "   netsock $c: $v"
        [ "$v" = 0 ] || fail "$name: $c is $v: data inside the advertised window was not taken"
    done
    nsk_wait_dev_gone "$TAP" || fail "$TAP still there after netsock stopped"
}

kernel_stat() { in_ns nstat -az "$1" | awk -v n="$1" '$1 == n { print $2 }'; }

# --- 1. a clean bulk transfer -----------------------------------------------
run_host bulk
in_ns nstat -n >/dev/null
host_sink 67108864
echo "   kernel: TcpRetransSegs $(kernel_stat TcpRetransSegs)"
stop_host bulk

# --- 2. a reader that pauses 15 s after 1 MiB --------------------------------
run_host slow --read-pause 1048576:15
in_ns nstat -n >/dev/null
host_sink 67108864 120
probes=$(kernel_stat TcpExtTCPWinProbe)
echo "   kernel: TcpExtTCPWinProbe $probes, TcpRetransSegs $(kernel_stat TcpRetransSegs)," \
    "TcpExtTCPTimeouts $(kernel_stat TcpExtTCPTimeouts)"
[ "${probes:-0}" -gt 0 ] || fail "the kernel sent no zero-window probe: netsock's window never closed"
stop_host slow
nsk_pass
