#!/usr/bin/env bash
# tests/interop/test_ping_tun.sh — ping over a TUN device (IP packets, no
# link layer: netsock runs an interface without Ethernet or ARP), both
# ways, with the Linux kernel as the peer:
#   1. netsock creates the TUN, the kernel side gets 192.0.2.1/24 and pings
#      netsock: 56, 1472 and 8000 bytes, a flood of 200 with no loss;
#   2. a persistent TUN (ip tuntap add); netsock attaches and pings the
#      kernel, the same set.
# Usage: test_ping_tun.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
nsk_setup

TUN=nstun$$
TUN=${TUN:0:15}

log "netsock creates $TUN in $NS and answers pings"
nsk_netsock_bg host ping --link "tun:$TUN" --addr "$NETSOCK_IP/24" \
    --pcap "$TMP/host-netsock.pcap" -q -i 3600 "$KERNEL_IP"
host=$NSK_LAST_PID
nsk_wait_dev "$TUN"
nsk_kernel_side "$TUN"
nsk_capture tun-1 "$TUN"
kernel_to_netsock_suite 200
nsk_capture_stop tun-1
nsk_stop "$host"
grep -q "packets transmitted" "$TMP/host.log" || fail "netsock host: no statistics after SIGTERM"
nsk_wait_dev_gone "$TUN" || fail "$TUN still exists after netsock (which created it) exited"

log "persistent $TUN: netsock attaches and pings the kernel"
in_ns ip tuntap add "$TUN" mode tun
nsk_kernel_side "$TUN"
nsk_capture tun-2 "$TUN"
netsock_to_kernel_suite "tun:$TUN" 200

nsk_pass
