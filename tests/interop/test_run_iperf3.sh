#!/usr/bin/env bash
# tests/interop/test_run_iperf3.sh — iperf3 under `netsock run`, both ways,
# against the kernel's iperf3:
#
#   kernel 192.0.2.1 ─tap─ netsock run 192.0.2.2 -- iperf3 -c | -s
#   kernel 198.51.100.1 ──veth── kernel 198.51.100.2   (the reference)
#
#   1. iperf3 -c under netsock to the kernel's iperf3 -s, 2 s: the test
#      completes (iperf3's control connection, its JSON exchange, the data
#      connection with TCP_INFO read at the end) and the receiver counts
#      the bytes the sender sent;
#   2. the kernel's iperf3 -c to iperf3 -s -1 under netsock, the same, and
#      netsock run exits 0 with the server;
#   3. -R (reverse) under netsock, each way, the same;
#   4. the TCP_INFO iperf3 -c under netsock reads every interval (rtt,
#      cwnd, pmtu) is plausible for the link: an RTT under a second, a
#      window of ten segments or more, the TAP's MTU.
# Each prints its goodput beside the kernel's over veth with the same
# iperf3 command in this run (a report, not a check: `make bench` has the
# row); the load average is printed with it.
#
# Usage: test_run_iperf3.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
command -v iperf3 >/dev/null || nsk_skip "needs iperf3"
command -v python3 >/dev/null || nsk_skip "needs python3"
nsk_setup
. "$(dirname "$0")/run_lib.sh"
export NETSOCK_RUN_DIR=$TMP

run_link
run_veth
for cfg in "client" "server" "client -R" "server -R"; do
    set -- $cfg
    log "iperf3 $([ "$1" = client ] && echo "-c under netsock" || echo "-s under netsock") ${2:-}"
    run_iperf3 "$1" 2 ${2:+"$2"}
    if [ "$cfg" = client ]; then
        # The sender's TCP_INFO, as iperf3 read it every interval from
        # netsock: an RTT and a window a TAP link can have.
        python3 - "$TMP/iperf3-client.out" <<'PY' || fail "iperf3 -c under netsock: implausible TCP_INFO"
import json, sys
r = json.load(open(sys.argv[1]))
snd = r["end"]["streams"][0]["sender"]
iv = [i["streams"][0] for i in r["intervals"]]
ok = (0 < snd["min_rtt"] <= snd["mean_rtt"] <= snd["max_rtt"] < 1000000
      and snd["max_snd_cwnd"] >= 10 * 1448
      and all(i["snd_cwnd"] > 0 and i["rtt"] > 0 and i["pmtu"] == 1500 for i in iv))
print("   iperf3's TCP_INFO: rtt %d..%d us (mean %d), cwnd up to %d bytes, pmtu %d"
      % (snd["min_rtt"], snd["max_rtt"], snd["mean_rtt"], snd["max_snd_cwnd"], iv[-1]["pmtu"]))
sys.exit(0 if ok else 1)
PY
    fi
    echo "   netsock run $RUN_NS_GBPS Gbit/s, kernel over veth $RUN_VETH_GBPS Gbit/s;" \
        "load average $(cut -d' ' -f1-3 /proc/loadavg)"
done
nsk_pass
