#!/usr/bin/env bash
# tests/interop/measure_tap_offload.sh — throughput of `netsock host` over
# TAP with the virtio-net offloads on or off (docs/links.md "Offloads").
# Not a test (nothing asserted, not run by ctest): the numbers in
# docs/links.md come from it.
#
#   sudo bash tests/interop/measure_tap_offload.sh build RUNS on|off
#
# Each run moves 64 MiB three ways: curl GET /bytes/67108864 (netsock
# sends), curl POST to /sink (netsock receives and hashes), socat to
# discard (netsock receives). Printed per transfer: goodput and the host
# process's CPU time (user + system, from /proc), which says more than
# the goodput on a machine shared with other work.
. "$(dirname "$0")/lib.sh" "${1:-}"
RUNS=${2:-3}
MODE=${3:-on}
for tool in curl socat; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export NETSOCK_RUN_DIR=$TMP
TAP=nshm$$
TAP=${TAP:0:15}
nsk_netsock_bg host host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --name m1 --offload "$MODE"
host=$NSK_LAST_PID
nsk_wait_dev "$TAP"
nsk_kernel_side "$TAP"
kernel_ping k -c 2 -i 0.2 -W 2
expect_summary "$TMP/k.out" 2 >/dev/null
cpu_ticks() { awk '{print $14 + $15}' "/proc/$host/stat"; }
hz=$(getconf CLK_TCK)
head -c 67108864 /dev/urandom >"$TMP/in"
for _ in $(seq "$RUNS"); do
    for what in get post discard; do
        c0=$(cpu_ticks)
        t0=$(nsk_now)
        case $what in
        get) in_ns curl -sS -o /dev/null "http://$NETSOCK_IP/bytes/67108864" ;;
        post) in_ns curl -sS -o /dev/null --data-binary @"$TMP/in" "http://$NETSOCK_IP/sink" ;;
        discard) in_ns timeout 60 socat -u - "TCP:$NETSOCK_IP:9" <"$TMP/in" ;;
        esac
        t1=$(nsk_now)
        c1=$(cpu_ticks)
        awk -v m="$MODE" -v w="$what" -v t0="$t0" -v t1="$t1" -v c=$((c1 - c0)) -v hz="$hz" 'BEGIN {
            printf "offload %-3s %-8s %7.1f Mbit/s  netsock cpu %5.2f s\n", m, w, 67108864 * 8 / (t1 - t0) / 1e6, c / hz }'
    done
done
nsk_pass >/dev/null
