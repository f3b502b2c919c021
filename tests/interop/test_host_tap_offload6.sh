#!/usr/bin/env bash
# tests/interop/test_host_tap_offload6.sh — TSO6 over the TAP virtio-net
# header: `netsock host` and the Linux kernel move TCP over IPv6 in large
# segments both ways (TUNSETOFFLOAD TUN_F_TSO6; GSO_TCPV6 out and in):
#
#     kernel 2001:db8::1/64 ─tap (offloads)─ netsock host 2001:db8::2/64
#
#   1. offload on (the default): curl -g -6 GET /bytes/67108864 has the
#      SHA-256 of the pattern and curl -g -6 POST of 64 MiB to /sink
#      answers its length and SHA-256; netsock's counters show TCP
#      segments sent for the kernel to cut (tcp_tso_segs) and IPv6 GSO
#      packets received (ip6_rx_gso), no checksum or offload drops, and
#      its capture (frames as they cross the descriptor) holds IPv6
#      frames above 3000 bytes from each side.
#   2. --offload off: a 16 MiB GET and POST pass, and neither counter moves.
# The goodput of each transfer is printed.
# Usage: test_host_tap_offload6.sh BUILD_DIR (as root; exit 77 = skipped).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl sha256sum python3 tcpdump; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
in_ns sysctl -qw net.ipv6.conf.default.accept_dad=0
export NETSOCK_RUN_DIR=$TMP

K6=2001:db8::1
N6=2001:db8::2
URL="http://[$N6]"
counter() { nsk_counter "$@"; }

# run_host NAME TAP ARGS...: netsock host on TAP (created by it) with
# both families, the kernel side configured; sets HOST.
run_host() {
    local name=$1 tap=$2
    shift 2
    log "netsock host ($name) on $tap: $*"
    nsk_netsock_bg "$name" host --link "tap:$tap" --addr "$NETSOCK_IP/24" --addr "$N6/64" \
        --name "$name" "$@"
    HOST=$NSK_LAST_PID
    nsk_wait_dev "$tap"
    in_ns sysctl -qw "net.ipv6.conf.$tap.accept_dad=0"
    nsk_kernel_side "$tap"
    in_ns ip -6 addr add "$K6/64" dev "$tap" nodad
    in_ns timeout 30 ping -6 -n -c 2 -i 0.2 -W 2 "$N6" >"$TMP/$name-ping.out" 2>&1 || true
    expect_summary "$TMP/$name-ping.out" 2
}

# host_get / host_sink (lib.sh) over IPv6.
NSK_URL=$URL
NSK_CURL_FLAGS="-g -6"
stop_host() {
    nsk_stop "$HOST"
    nsk_check_log "$1"
    grep -q "tcp_passive_opens" "$TMP/$1.log" || fail "$1: no counters after SIGTERM"
    nsk_wait_dev_gone "$2" || fail "$2 still there after netsock stopped"
}

TAP=nst6$$
TAP=${TAP:0:15}

# --- 1. offload on -------------------------------------------------------------
run_host on "$TAP" --pcap "$TMP/on-netsock.pcap"
host_get 67108864
host_sink 67108864
stop_host on "$TAP"
tso=$(counter "$TMP/on.log" tcp_tso_segs)
gro=$(counter "$TMP/on.log" ip6_rx_gso)
echo "   offload on: tcp_tso_segs $tso, ip6_rx_gso $gro"
[ "$tso" -gt 100 ] || fail "offload on: netsock sent $tso IPv6 segments for the kernel to cut"
[ "$gro" -gt 100 ] || fail "offload on: netsock received $gro IPv6 GSO packets"
for c in tcp_drop_bad_csum dev_tx_drop_offload dev_tx_gso_sw; do
    [ "$(counter "$TMP/on.log" $c)" = 0 ] || fail "offload on: $c is $(counter "$TMP/on.log" $c)"
done
big_out=$(tcpdump -n -r "$TMP/on-netsock.pcap" "ip6 and greater 3000 and src host $N6" 2>/dev/null | wc -l)
big_in=$(tcpdump -n -r "$TMP/on-netsock.pcap" "ip6 and greater 3000 and dst host $N6" 2>/dev/null | wc -l)
echo "   capture: $big_out IPv6 frames > 3000 bytes sent, $big_in received"
[ "$big_out" -gt 100 ] && [ "$big_in" -gt 100 ] ||
    fail "capture: $big_out large IPv6 frames sent, $big_in received"

# --- 2. offload off -------------------------------------------------------------
run_host off "$TAP" --offload off
host_get 16777216
host_sink 16777216
stop_host off "$TAP"
for c in tcp_tso_segs ip6_rx_gso dev_tx_gso_sw dev_tx_csum_sw; do
    [ "$(counter "$TMP/off.log" $c)" = 0 ] || fail "offload off: $c is $(counter "$TMP/off.log" $c)"
done
nsk_pass
