#!/usr/bin/env bash
# tests/interop/test_attack_arp_flood.sh — an ICMP echo flood from
# unresolvable on-link sources must not starve a transfer:
#
#     kernel 192.0.2.1 ─tap─ netsock host 192.0.2.2
#         + attack.py echo-flood: 20000 echo requests/s from 192.0.2.100-250
#           (spoofed: nobody answers ARP for them)
#
# Every echo reply netsock makes waits in an ARP hold queue for a neighbour
# that never answers. Before the hold queues were bounded in total (64
# packets per neighbour x 1024 neighbours against a 4096-buffer pool) the
# flood filled the packet-buffer pool and a transfer fell from 122 to
# 3.7 MB/s, with thousands of failed buffer allocations.
#
#   1. curl GET /bytes/... for 3 s without the flood, 3 s with it, and 3 s
#      without it again (the machine's load changes: the rate with the flood
#      is compared with the mean of the two around it). Each transfer is cut
#      at 3 s (curl -m), so the test is bounded whatever the rate.
#   2. The rate with the flood is at least half the rate without (both are
#      printed), nothing stalled (every 3 s window moved data), and
#      pbuf_alloc_fail stayed 0; the ARP counters show the bounds at work
#      (held replies dropped, unresolved entries refused or expired) and
#      the hold queues never held more than their total cap.
# Usage: test_attack_arp_flood.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl python3; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export NETSOCK_RUN_DIR=$TMP
HERE=$(cd "$(dirname "$0")" && pwd)

TAP=nsaf$$
TAP=${TAP:0:15}
SECONDS_PER_RUN=3

log "netsock host on $TAP"
nsk_netsock_bg host host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --name "$TAP"
host=$NSK_LAST_PID
nsk_wait_dev "$TAP"
nsk_kernel_side "$TAP"
kernel_ping k-small -c 3 -i 0.2 -W 2
expect_summary "$TMP/k-small.out" 3

# counter NAME: the host's counter NAME now.
counter() {
    "$NETSOCK" stat --name "$TAP" -s --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"][sys.argv[1]])' "$1"
}

# rate_run NAME: GET a practically endless /bytes for SECONDS_PER_RUN
# seconds; prints the bytes received per second.
rate_run() {
    local name=$1 bytes
    set +e
    bytes=$(in_ns curl -s -m "$SECONDS_PER_RUN" -o /dev/null -w '%{size_download}' \
        "http://$NETSOCK_IP/bytes/1099511627776")
    set -e
    [ -n "$bytes" ] || bytes=0
    awk -v b="$bytes" -v s="$SECONDS_PER_RUN" 'BEGIN { printf "%.0f\n", b / s }'
}

fail0=$(counter pbuf_alloc_fail)
log "transfer without the flood"
r1=$(rate_run before)
echo "   $(awk -v r="$r1" 'BEGIN { printf "%.1f MB/s", r / 1e6 }')"

log "transfer during a 20000/s echo flood from 151 unresolvable on-link sources"
in_ns python3 "$HERE/attack.py" echo-flood --dst "$NETSOCK_IP" --src-net 192.0.2.0/24 \
    --src-from 100 --src-to 250 --pps 20000 --seconds $((SECONDS_PER_RUN + 2)) \
    >"$TMP/flood.log" 2>&1 &
flood=$!
NSK_PIDS+=("$flood")
sleep 1 # the hold queues fill
r2=$(rate_run flood)
wait "$flood" || fail "attack.py: $(cat "$TMP/flood.log")"
echo "   $(awk -v r="$r2" 'BEGIN { printf "%.1f MB/s", r / 1e6 }'); $(cat "$TMP/flood.log")"

log "transfer after the flood"
sleep 4 # unresolved entries expire (3 requests, 1 s apart)
r3=$(rate_run after)
echo "   $(awk -v r="$r3" 'BEGIN { printf "%.1f MB/s", r / 1e6 }')"

"$NETSOCK" stat --name "$TAP" -s >"$TMP/stat.out"
grep -E "arp_|pbuf_alloc_fail|icmp_tx_echo_reply|icmp_rx_echo" "$TMP/stat.out" | sed 's/^/   /'
fails=$(($(counter pbuf_alloc_fail) - fail0))

awk -v a="$r1" -v b="$r2" -v c="$r3" 'BEGIN {
    base = (a + c) / 2
    printf "   rate without the flood %.1f MB/s (mean of %.1f and %.1f), with it %.1f MB/s: %.0f%%\n",
        base / 1e6, a / 1e6, c / 1e6, b / 1e6, base > 0 ? 100 * b / base : 0 }'
for r in "$r1" "$r2" "$r3"; do
    [ "$r" -gt 0 ] || fail "a transfer stalled: no data in $SECONDS_PER_RUN s"
done
awk -v a="$r1" -v b="$r2" -v c="$r3" 'BEGIN { exit !(b >= 0.5 * (a + c) / 2) }' ||
    fail "the flood cut the transfer below half its rate"
[ "$fails" -eq 0 ] || fail "pbuf_alloc_fail rose by $fails during the flood"
[ "$(counter icmp_rx_echo)" -gt 20000 ] || fail "the flood did not arrive"
[ "$(counter arp_queue_total_drop)" -gt 0 ] ||
    fail "no held reply dropped for the total cap: the flood did not reach the bound"

nsk_stop "$host"
nsk_check_log host
nsk_pass
