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
# 3.7 MB/s, with thousands of failed buffer allocations (here: to 0, every
# round).
#
#   1. A round: curl GET /bytes/... for 2 s without the flood, 2 s with
#      it, 2 s without it again; each transfer is cut at 2 s (curl -m), so
#      the test is bounded whatever the rate. The rate with the flood is
#      compared with the mean of the two around it (the machine's load
#      drifts). Printed for every round.
#   2. Up to five rounds, until one keeps at least half its rate: on a
#      loaded machine (other tests, other jobs, the flood's own sender on
#      the same two cores) a round can lose its CPU, which only ever lowers
#      a rate, so the best round is what the stack allows; a flood that
#      starves the transfer (as before: 0 bytes in every round) fails all
#      five. Every window moved data (no stall), pbuf_alloc_fail stayed 0
#      over the whole test, and the hold queues' total cap was reached.
#      (The flood itself costs netsock 2 % of a core in a release build,
#      12 % under ASan; on an idle machine the first round passes.) The
#      sharp check is pbuf_alloc_fail: the stack before the bounds, under
#      this script, failed 302-1233 allocations (its rounds kept 27-86 %
#      of the rate, or stalled outright with a longer flood). The host is
#      reniced (-10) so that its share of the CPU, not the machine's load,
#      is constant across the windows of a round.
# Flood and transfer both run inside one namespace over one TAP, the
# flood from attack.py (raw socket, IP_HDRINCL, 192.0.2.0/24 sources).
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
SECONDS_PER_RUN=2

log "netsock host on $TAP"
nsk_netsock_bg host host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --name "$TAP"
host=$NSK_LAST_PID
# The host runs ahead of the machine's other load (other tests, other
# jobs on these two cores), so that what the rounds measure is what the
# flood costs the stack, not what the scheduler gives it; the flood's
# sender and curl keep the normal priority.
renice -n -10 -p "$host" >/dev/null
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
best=0
for round in 1 2 3 4 5; do
    log "round $round: transfer, then during a 20000/s echo flood from 151 unresolvable on-link sources, then after"
    r1=$(rate_run before)
    in_ns python3 "$HERE/attack.py" echo-flood --dst "$NETSOCK_IP" --src-net 192.0.2.0/24 \
        --src-from 100 --src-to 250 --pps 20000 --seconds $((SECONDS_PER_RUN + 1)) \
        >"$TMP/flood.log" 2>&1 &
    flood=$!
    NSK_PIDS+=("$flood")
    sleep 0.5 # the hold queues fill
    r2=$(rate_run flood)
    wait "$flood" || fail "attack.py: $(cat "$TMP/flood.log")"
    r3=$(rate_run after)
    echo "   $(cat "$TMP/flood.log")"
    pct=$(awk -v a="$r1" -v b="$r2" -v c="$r3" 'BEGIN {
        base = (a + c) / 2; printf "%d\n", (base > 0 ? 100 * b / base : 0) }')
    awk -v a="$r1" -v b="$r2" -v c="$r3" -v p="$pct" 'BEGIN {
        printf "   rate without the flood %.1f MB/s (mean of %.1f and %.1f), with it %.1f MB/s: %d%%\n",
            (a + c) / 2e6, a / 1e6, c / 1e6, b / 1e6, p }'
    for r in "$r1" "$r2" "$r3"; do
        [ "$r" -gt 0 ] || fail "a transfer stalled: no data in $SECONDS_PER_RUN s (round $round)"
    done
    if [ "$pct" -gt "$best" ]; then best=$pct; fi
    if [ "$best" -ge 50 ]; then break; fi
done

"$NETSOCK" stat --name "$TAP" -s >"$TMP/stat.out"
grep -E "arp_|pbuf_alloc_fail|icmp_tx_echo_reply|icmp_rx_echo|ARP neighbours" "$TMP/stat.out" | sed 's/^/   /'
fails=$(($(counter pbuf_alloc_fail) - fail0))
echo "   best round: ${best}% of the rate without the flood; pbuf_alloc_fail rose by $fails"
[ "$best" -ge 50 ] || fail "the flood cut the transfer below half its rate in every round"
[ "$fails" -eq 0 ] || fail "pbuf_alloc_fail rose by $fails during the floods"
[ "$(counter icmp_rx_echo)" -gt 20000 ] || fail "the flood did not arrive"
[ "$(counter arp_queue_total_drop)" -gt 0 ] ||
    fail "no held reply dropped for the total cap: the flood did not reach the bound"

nsk_stop "$host"
nsk_check_log host
nsk_pass
