#!/usr/bin/env bash
# tests/interop/test_pcap_realtime.sh — captures of a real link line up with
# the kernel's:
#
#     kernel 192.0.2.1 ─ persistent TAP ─ netsock ping 192.0.2.2 --pcap
#
#   1. netsock ping -c 3 to the kernel with --pcap FILE.pcap while tcpdump
#      captures the kernel's side: every echo request in netsock's capture
#      carries a wall-clock (UTC) time, the same as tcpdump's for the same
#      request to within a second (they differ by seconds since boot against
#      decades when the capture is on the monotonic clock), and within a
#      minute of `date` around the run;
#   2. the same with FILE.pcapng: tcpdump and tshark read it, capinfos shows
#      the interface's name (the TAP) and a comment naming the TAP's
#      offloads (tx-checksum, tso); with --offload off, "offloads: none".
# Usage: test_pcap_realtime.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in tshark capinfos; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export HOME=$TMP # tshark wants a writable profile directory

TAP=nspc$$
TAP=${TAP:0:15}
in_ns ip tuntap add "$TAP" mode tap
nsk_kernel_side "$TAP"
nsk_capture kernel "$TAP"

# echo_times FILE: "seq epoch-seconds" of each ICMP echo request in FILE.
echo_times() {
    tshark -r "$1" -Y 'icmp.type == 8' -T fields -e icmp.seq -e frame.time_epoch 2>/dev/null
}

t0=$(date +%s)
log "netsock ping -c 3 --pcap ping.pcap"
netsock_ping ping "tap:$TAP" -c 3 -i 0.2
expect_summary "$TMP/ping.out" 3
log "netsock ping -c 3 --pcap ping.pcapng"
timeout 60 ip netns exec "$NS" "$NETSOCK" ping --link "tap:$TAP" --addr "$NETSOCK_IP/24" \
    --pcap "$TMP/ping.pcapng" -c 3 -i 0.2 "$KERNEL_IP" >"$TMP/ng.out" 2>&1 || true
expect_summary "$TMP/ng.out" 3
log "netsock ping --offload off --pcap off.pcapng"
timeout 60 ip netns exec "$NS" "$NETSOCK" ping --link "tap:$TAP" --addr "$NETSOCK_IP/24" \
    --offload off --pcap "$TMP/off.pcapng" -c 1 "$KERNEL_IP" >"$TMP/off.out" 2>&1 || true
expect_summary "$TMP/off.out" 1
t1=$(date +%s)
sleep 0.2
nsk_capture_stop kernel

log "timestamps: netsock's captures against tcpdump's and the clock"
echo_times "$TMP/kernel.pcap" >"$TMP/kernel.times"
[ "$(wc -l <"$TMP/kernel.times")" -ge 7 ] || fail "tcpdump saw $(wc -l <"$TMP/kernel.times") echo requests, want 7"
for cap in ping-netsock.pcap ping.pcapng; do
    echo_times "$TMP/$cap" >"$TMP/$cap.times"
    [ "$(wc -l <"$TMP/$cap.times")" = 3 ] || fail "$cap: $(wc -l <"$TMP/$cap.times") echo requests, want 3"
    while read -r seq t; do
        awk -v t="$t" -v a="$t0" -v b="$t1" 'BEGIN { exit !(t >= a - 60 && t <= b + 60) }' ||
            fail "$cap: echo request $seq at $t, not between $t0 and $t1 (wall clock)"
        # The kernel saw each request (same seq, 3 runs: the closest one).
        awk -v s="$seq" -v t="$t" '$1 == s { d = $2 - t; if (d < 0) d = -d; if (best == "" || d < best) best = d }
            END { exit !(best != "" && best < 1) }' "$TMP/kernel.times" ||
            fail "$cap: echo request $seq at $t has no twin in tcpdump's capture within 1 s"
    done <"$TMP/$cap.times"
    echo "   $cap: 3 echo requests at $(head -1 "$TMP/$cap.times" | cut -f2)..., tcpdump's within 1 s"
done

log "pcapng: interface name and offloads"
tcpdump -r "$TMP/ping.pcapng" -nn >"$TMP/ng.tcpdump" 2>&1 || fail "tcpdump cannot read ping.pcapng: $(cat "$TMP/ng.tcpdump")"
grep -q "ICMP echo request" "$TMP/ng.tcpdump" || fail "tcpdump: no echo request in ping.pcapng"
capinfos "$TMP/ping.pcapng" >"$TMP/ng.capinfos"
grep -Eq "^ +Name = $TAP$" "$TMP/ng.capinfos" || { cat "$TMP/ng.capinfos" >&2; fail "no interface name $TAP"; }
grep -Eq "^ +Comment = netsock .*ethernet, mtu 1500; offloads: tx-checksum tso\\(65535 bytes\\)" "$TMP/ng.capinfos" ||
    { cat "$TMP/ng.capinfos" >&2; fail "the offloads are not in the interface comment"; }
grep -E "^ +(Name|Comment) = " "$TMP/ng.capinfos" | sed 's/^ */   /'
capinfos "$TMP/off.pcapng" >"$TMP/off.capinfos"
grep -Eq "^ +Comment = netsock .*offloads: none$" "$TMP/off.capinfos" ||
    { cat "$TMP/off.capinfos" >&2; fail "--offload off: comment does not say 'offloads: none'"; }
nsk_pass
