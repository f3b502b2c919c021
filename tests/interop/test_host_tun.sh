#!/usr/bin/env bash
# tests/interop/test_host_tun.sh — `netsock host` over a TUN device (bare
# IPv4 packets: no Ethernet, no ARP) with the Linux kernel as the peer:
#
#     kernel 192.0.2.1 ─tun─ netsock host 192.0.2.2 (echo, discard, chargen, http)
#
# The core transfers of test_host_tap.sh: curl GET /bytes/16777216 has the
# SHA-256 of the pattern, curl POST of 16 MiB to /sink answers its length
# and SHA-256, socat to echo with 4 MiB comes back identical; UDP echo.
# The goodput of each is printed.
# Usage: test_host_tun.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl socat sha256sum python3; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export NETSOCK_RUN_DIR=$TMP

TUN=nsht$$
TUN=${TUN:0:15}

log "netsock host on $TUN"
nsk_netsock_bg host host --link "tun:$TUN" --addr "$NETSOCK_IP/24" --name "$TUN"
host=$NSK_LAST_PID
nsk_wait_dev "$TUN"
nsk_kernel_side "$TUN"
nsk_capture tun "$TUN" 128
kernel_ping k-small -c 3 -i 0.2 -W 2
expect_summary "$TMP/k-small.out" 3

host_get 16777216 60
host_sink 16777216 60
host_echo 4194304 60

log "UDP echo"
got=$(echo hello-udp | in_ns timeout 10 socat -t 2 - "UDP:$NETSOCK_IP:7")
[ "$got" = hello-udp ] || fail "UDP echo: '$got'"

log "SIGTERM: counters printed"
nsk_capture_stop tun
nsk_stop "$host"
nsk_check_log host
grep -q "tcp_passive_opens" "$TMP/host.log" || fail "no counters after SIGTERM"
nsk_pass
