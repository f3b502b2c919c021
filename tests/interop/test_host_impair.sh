#!/usr/bin/env bash
# tests/interop/test_host_impair.sh — `netsock host` over TAP behind its own
# fault injector, with the Linux kernel as the peer:
#
#     kernel 192.0.2.1 ─tap─ [loss 2%, delay 10 ms, reorder 1%] netsock host 192.0.2.2
#
# --impair loss=2%,delay=10ms,reorder=1%,seed=7 applies to both directions
# (independent streams from one seed): 20 ms of round trip, 2 % of the
# frames lost each way, 1 % held back 10 ms so that later ones overtake them.
# TCP must recover every loss, in both roles:
#   1. curl GET /bytes/4194304 (netsock sends) has the SHA-256 of the pattern;
#   2. curl POST of 8 MiB of random bytes to /sink (the kernel sends) answers
#      their length and SHA-256;
#   3. socat to echo with 2 MiB (both at once) comes back identical.
# The goodput of each is printed, and the host's retransmission counters.
# The capture of the link (tcpdump on the kernel's side, headers only) is
# kept on failure; the fault seed makes the drops reproducible.
# Usage: test_host_impair.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl socat sha256sum python3; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export NETSOCK_RUN_DIR=$TMP
# The kernel's senders (curl POST, socat) use the namespace's default
# congestion control, which this test cannot change (a child namespace may
# only pick from tcp_allowed_congestion_control). Say which it is: with
# BBR, blind to random loss, the kernel-sending goodput below is not
# comparable with netsock's CUBIC (bench/tap.sh pins CUBIC per socket).
echo "   kernel congestion control: $(in_ns sysctl -n net.ipv4.tcp_congestion_control 2>/dev/null || echo unknown)"

TAP=nshi$$
TAP=${TAP:0:15}
IMPAIR=loss=2%,delay=10ms,reorder=1%,seed=7
# About 30 s in all: netsock's NewReno (no SACK yet) sends at 2-3 Mbit/s
# here, the kernel's TCP at about 10.
GET_BYTES=4194304
SINK_BYTES=8388608
ECHO_BYTES=2097152

log "netsock host on $TAP with --impair $IMPAIR"
nsk_netsock_bg host host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --gw "$KERNEL_IP" \
    --name "$TAP" --impair "$IMPAIR"
host=$NSK_LAST_PID
nsk_wait_dev "$TAP"
nsk_kernel_side "$TAP"
nsk_capture tap "$TAP" 128
# Some of these may be lost: the link works when most come back.
kernel_ping k-small -c 10 -i 0.05 -W 2
grep -q " received, " "$TMP/k-small.out" || fail "ping: $(cat "$TMP/k-small.out")"
echo "   $(grep 'packets transmitted' "$TMP/k-small.out")"
echo "   $(grep '^rtt' "$TMP/k-small.out")"

host_get "$GET_BYTES" 90
host_sink "$SINK_BYTES" 90
host_echo "$ECHO_BYTES" 90

log "the host's counters"
"$NETSOCK" stat --name "$TAP" -s >"$TMP/counters.out"
grep -E "retrans|rto|sack|dup|ooo|fast|timeout|loss|drop" "$TMP/counters.out" | sed 's/^ */   /' || true

nsk_capture_stop tap

# SACK between netsock and the kernel, as tshark reads the capture (taken
# on the kernel's side of the TAP): both ends offer SACK-permitted on their
# SYNs, each end's ACKs carry SACK blocks while data is missing, and
# netsock recovered with them (RFC 2018, RFC 6675 / RACK-TLP).
if command -v tshark >/dev/null; then
    log "SACK on the wire (tshark)"
    pcap="$TMP/tap.pcap"
    count() { tshark -r "$pcap" -Y "$1" -T fields -e frame.number 2>/dev/null | wc -l; }
    ours_perm=$(count "ip.src==$NETSOCK_IP && tcp.flags.syn==1 && tcp.options.sack_perm")
    theirs_perm=$(count "ip.src==$KERNEL_IP && tcp.flags.syn==1 && tcp.options.sack_perm")
    ours_sack=$(count "ip.src==$NETSOCK_IP && tcp.options.sack_le")
    theirs_sack=$(count "ip.src==$KERNEL_IP && tcp.options.sack_le")
    echo "   SYNs with SACK-permitted: netsock $ours_perm, kernel $theirs_perm; ACKs with SACK blocks: netsock $ours_sack, kernel $theirs_sack"
    [ "$ours_perm" -ge 1 ] && [ "$theirs_perm" -ge 1 ] || fail "SACK-permitted missing on a SYN"
    [ "$ours_sack" -ge 1 ] || fail "netsock never sent a SACK block while receiving with 2% loss"
    [ "$theirs_sack" -ge 1 ] || fail "the kernel never sent a SACK block while netsock sent with 2% loss"
    recov=$(awk '/tcp_sack_recoveries/ {print $1}' "$TMP/counters.out")
    [ "${recov:-0}" -ge 1 ] || fail "netsock never entered SACK recovery (tcp_sack_recoveries)"
fi

nsk_stop "$host"
nsk_check_log host
grep -q "tcp_passive_opens" "$TMP/host.log" || fail "no counters after SIGTERM"
nsk_pass
