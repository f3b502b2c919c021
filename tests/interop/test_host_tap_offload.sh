#!/usr/bin/env bash
# tests/interop/test_host_tap_offload.sh — `netsock host` over TAP with the
# virtio-net offloads (IFF_VNET_HDR, TUNSETOFFLOAD TUN_F_CSUM|TUN_F_TSO4),
# the Linux kernel as the peer:
#
#     kernel 192.0.2.1 ─tap (offloads)─ netsock host 192.0.2.2
#
#   1. offload on (the default): curl GET /bytes/67108864 has the SHA-256 of
#      the pattern and curl POST of 64 MiB to /sink answers its length and
#      SHA-256; large segments crossed the TAP both ways: netsock's counters
#      show TCP segments sent for the kernel to cut (tcp_tso_segs) and GSO
#      packets received (ip_rx_gso), and its capture (--pcap, which records
#      frames as they cross the descriptor) holds frames above 3000 bytes
#      from each side; ping and UDP echo work with checksums left partial.
#   2. --offload off: the same transfers pass, and neither counter moves.
#   3. offload on behind the fault injector (--impair delay=1ms): it hides
#      TSO and cuts received GSO packets into wire frames, so the stack
#      sees neither; a 16 MiB GET and POST still arrive intact.
# The goodput of each transfer is printed.
# Usage: test_host_tap_offload.sh BUILD_DIR (as root; exit 77 = skipped).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl socat sha256sum python3; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export NETSOCK_RUN_DIR=$TMP

counter() { nsk_counter "$@"; }

# run_host NAME TAP ARGS...: netsock host on TAP (created by it), the kernel
# side configured; sets HOST.
run_host() {
    local name=$1 tap=$2
    shift 2
    log "netsock host ($name) on $tap: $*"
    nsk_netsock_bg "$name" host --link "tap:$tap" --addr "$NETSOCK_IP/24" --name "$name" "$@"
    HOST=$NSK_LAST_PID
    nsk_wait_dev "$tap"
    nsk_kernel_side "$tap"
    kernel_ping "$name-ping" -c 2 -i 0.2 -W 2
    expect_summary "$TMP/$name-ping.out" 2
}

# stop_host NAME TAP: SIGTERM, counters printed, the TAP gone with it.
stop_host() {
    nsk_stop "$HOST"
    nsk_check_log "$1"
    grep -q "tcp_passive_opens" "$TMP/$1.log" || fail "$1: no counters after SIGTERM"
    nsk_wait_dev_gone "$2" || fail "$2 still there after netsock stopped"
}

TAP=nsho$$
TAP=${TAP:0:15}

# --- 1. offload on -------------------------------------------------------------
run_host on "$TAP" --pcap "$TMP/on-netsock.pcap"
host_get 67108864
host_sink 67108864
log "UDP echo (checksum left partial both ways)"
got=$(echo hello-udp | in_ns timeout 10 socat -t 2 - "UDP:$NETSOCK_IP:7")
[ "$got" = hello-udp ] || fail "UDP echo: '$got'"
kernel_ping on-1472 -c 2 -i 0.2 -W 2 -s 1472
expect_summary "$TMP/on-1472.out" 2
stop_host on "$TAP"
tso=$(counter "$TMP/on.log" tcp_tso_segs)
gro=$(counter "$TMP/on.log" ip_rx_gso)
echo "   offload on: tcp_tso_segs $tso, ip_rx_gso $gro"
[ "$tso" -gt 100 ] || fail "offload on: netsock sent $tso segments for the kernel to cut"
[ "$gro" -gt 100 ] || fail "offload on: netsock received $gro GSO packets"
[ "$(counter "$TMP/on.log" tcp_drop_bad_csum)" = 0 ] || fail "offload on: TCP checksum drops"
[ "$(counter "$TMP/on.log" dev_tx_drop_offload)" = 0 ] || fail "offload on: offload drops"
# The capture holds the frames as they crossed the descriptor: large ones
# from netsock (TSO) and from the kernel (its TSO/GRO).
big_out=$(tcpdump -n -r "$TMP/on-netsock.pcap" "greater 3000 and src host $NETSOCK_IP" 2>/dev/null | wc -l)
big_in=$(tcpdump -n -r "$TMP/on-netsock.pcap" "greater 3000 and dst host $NETSOCK_IP" 2>/dev/null | wc -l)
echo "   capture: $big_out frames > 3000 bytes sent, $big_in received"
[ "$big_out" -gt 100 ] && [ "$big_in" -gt 100 ] ||
    fail "capture: $big_out large frames sent, $big_in received"

# --- 2. offload off -------------------------------------------------------------
run_host off "$TAP" --offload off
host_get 67108864
host_sink 67108864
stop_host off "$TAP"
for c in tcp_tso_segs ip_rx_gso dev_tx_gso_sw dev_tx_csum_sw; do
    [ "$(counter "$TMP/off.log" $c)" = 0 ] || fail "offload off: $c is $(counter "$TMP/off.log" $c)"
done

# --- 3. offload on behind the fault injector ------------------------------------
run_host impair "$TAP" --impair delay=1ms,seed=3
host_get 16777216
host_sink 16777216
stop_host impair "$TAP"
for c in tcp_tso_segs ip_rx_gso tcp_drop_bad_csum dev_tx_drop_offload; do
    [ "$(counter "$TMP/impair.log" $c)" = 0 ] ||
        fail "behind the fault injector: $c is $(counter "$TMP/impair.log" $c)"
done
grep -q "impair rx: .* frames" "$TMP/impair.log" || fail "no fault injector statistics"
nsk_pass
