#!/usr/bin/env bash
# tests/interop/test_ping_tap.sh — ping over a TAP device, both ways, with
# the Linux kernel as the peer:
#   1. netsock creates the TAP (it does not exist), the kernel side gets
#      192.0.2.1/24; the kernel pings netsock (192.0.2.2): 56, 1472 and
#      8000 bytes, then ping -f -c 1000 with no loss. The TAP goes away
#      when netsock exits (it made it).
#   2. a persistent TAP (ip tuntap add) configured first; netsock attaches
#      and pings the kernel, the same set; the TAP stays after netsock exits.
# Usage: test_ping_tap.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
nsk_setup

TAP=nstap$$
TAP=${TAP:0:15}

log "netsock creates $TAP in $NS and answers pings"
# Any netsock stack answers pings: `netsock ping` with one request an hour
# is the host on the link while the kernel pings it.
nsk_netsock_bg host ping --link "tap:$TAP" --addr "$NETSOCK_IP/24" \
    --pcap "$TMP/host-netsock.pcap" -q -i 3600 "$KERNEL_IP"
host=$NSK_LAST_PID
nsk_wait_dev "$TAP"
nsk_kernel_side "$TAP"
nsk_capture tap-1 "$TAP"
kernel_to_netsock_suite 1000
nsk_capture_stop tap-1
nsk_stop "$host"
grep -q "packets transmitted" "$TMP/host.log" || fail "netsock host: no statistics after SIGTERM"
nsk_wait_dev_gone "$TAP" || fail "$TAP still exists after netsock (which created it) exited"

log "persistent $TAP: netsock attaches and pings the kernel"
in_ns ip tuntap add "$TAP" mode tap
nsk_kernel_side "$TAP"
nsk_capture tap-2 "$TAP"
netsock_to_kernel_suite "tap:$TAP" 1000
in_ns ip link show "$TAP" >/dev/null 2>&1 || fail "netsock removed a TAP it did not create"

log "netsock ping with --impair loss=100%: no reply, exit status 1"
set +e
timeout 30 ip netns exec "$NS" "$NETSOCK" ping --link "tap:$TAP" --addr "$NETSOCK_IP/24" \
    --impair loss=100%,seed=3 -c 2 -i 0.2 -W 1 "$KERNEL_IP" >"$TMP/lossy.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$TMP/lossy.out" >&2; fail "exit status $rc with total loss, want 1"; }
grep -q "^2 packets transmitted, 0 received, 100% packet loss" "$TMP/lossy.out" ||
    { cat "$TMP/lossy.out" >&2; fail "total loss not reported"; }

nsk_pass
