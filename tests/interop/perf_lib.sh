# tests/interop/perf_lib.sh — helpers of the `netsock perf` interop tests
# (test_perf_client.sh, test_perf_server.sh), sourced after lib.sh.
#
# The link: a persistent TAP device made in the test's namespace, with the
# kernel's address on it, that each `netsock perf` run attaches to with
# the same MAC (so the kernel's ARP entry stays right from run to run).

PERF_MAC=02:00:00:00:50:02

perf_require() {
    command -v iperf3 >/dev/null || nsk_skip "needs iperf3 (scripts/bootstrap installs it)"
    command -v python3 >/dev/null || nsk_skip "needs python3"
    if "$NETSOCK" perf --help 2>&1 | grep -q "built without cJSON"; then
        nsk_skip "netsock was built without cJSON: no netsock perf"
    fi
}

# perf_link DEV: the persistent TAP and the kernel's side of it.
perf_link() {
    PERF_TAP=$1
    in_ns ip tuntap add "$PERF_TAP" mode tap
    in_ns ip addr add "$KERNEL_IP/24" dev "$PERF_TAP"
    in_ns ip link set "$PERF_TAP" up
}

# perf_netsock NAME ARGS...: netsock perf in the background on the link,
# output in $TMP/NAME.log. Sets NSK_LAST_PID.
perf_netsock() {
    local name=$1
    shift
    nsk_netsock_bg "$name" perf --link "tap:$PERF_TAP" --addr "$NETSOCK_IP/24" --mac "$PERF_MAC" \
        --name "$name" "$@"
}

# perf_iperf3_bg NAME ARGS...: iperf3 in the namespace in the background,
# stdout in $TMP/NAME.json (or .out), stderr in $TMP/NAME.err.
perf_iperf3_bg() {
    local name=$1
    shift
    ip netns exec "$NS" timeout 60 iperf3 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
    NSK_LAST_PID=$!
    NSK_PIDS+=("$NSK_LAST_PID")
}

# perf_wait PID WHAT: wait for a background run; fail unless it exited 0.
perf_wait() {
    local pid=$1 what=$2 rc=0
    wait "$pid" || rc=$?
    [ "$rc" = 0 ] || fail "$what exited with status $rc"
}

# perf_attached: until a netsock run holds the TAP (carrier up), then a
# moment for its listener. perf_detached: until it let go (carrier down).
perf_attached() {
    for _ in $(seq 100); do
        [ "$(in_ns cat "/sys/class/net/$PERF_TAP/carrier" 2>/dev/null)" = 1 ] && { sleep 0.2; return 0; }
        sleep 0.05
    done
    fail "netsock did not attach to $PERF_TAP"
}
perf_detached() {
    for _ in $(seq 100); do
        [ "$(in_ns cat "/sys/class/net/$PERF_TAP/carrier" 2>/dev/null)" = 1 ] || return 0
        sleep 0.05
    done
    fail "netsock did not let go of $PERF_TAP"
}

# perf_kernel_listening PORT: until the kernel (iperf3 -s) listens on PORT.
perf_kernel_listening() {
    for _ in $(seq 100); do
        in_ns ss -ltnH "sport = :$1" | grep -q LISTEN && return 0
        sleep 0.05
    done
    fail "iperf3 -s does not listen on port $1"
}

# perf_check KIND CLIENT_JSON SERVER_JSON: parse both sides' JSON documents
# (iperf3's shape: start / intervals / end), require a completed test, check
# that the two sides agree on the bytes (rules per KIND below) and print the
# rates. KIND: tcp | tcp-exact | tcp-rev | tcp-rev-exact | udp | udp-rev.
perf_check() {
    python3 - "$@" <<'EOF' || fail "$1: the two sides' results do not agree (above)"
import json, sys
kind, cpath, spath = sys.argv[1:4]
def load(p, who):
    try:
        d = json.load(open(p))
    except Exception as e:
        sys.exit("%s: %s is not a JSON document: %s" % (kind, who, e))
    if "error" in d:
        sys.exit("%s: %s reported: %s" % (kind, who, d["error"]))
    for k in ("start", "intervals", "end"):
        if k not in d:
            sys.exit("%s: %s has no %s" % (kind, who, k))
    return d
c, s = load(cpath, "client"), load(spath, "server")
ce, se = c["end"], s["end"]
for who, e in (("client", ce), ("server", se)):
    for k in ("sum_sent", "sum_received"):
        if k not in e or "bytes" not in e[k] or "bits_per_second" not in e[k]:
            sys.exit("%s: %s end has no %s.bytes/bits_per_second" % (kind, who, k))
if len(c["intervals"]) < 2:
    sys.exit("%s: the client has %d intervals, want >= 2" % (kind, len(c["intervals"])))
n = c["start"]["test_start"]["num_streams"]
if len(ce["streams"]) != n or len(se["streams"]) != n:
    sys.exit("%s: %d streams asked, client has %d, server %d" % (kind, n, len(ce["streams"]), len(se["streams"])))
sent, rcvd = ce["sum_sent"]["bytes"], ce["sum_received"]["bytes"]
def need(cond, what):
    if not cond:
        sys.exit("%s: %s (client sent %d received %d; server sent %d received %d)" % (
            kind, what, sent, rcvd, se["sum_sent"]["bytes"], se["sum_received"]["bytes"]))
need(rcvd > 0, "nothing was received")
need(rcvd <= sent, "more received than sent")
if kind.startswith("tcp") and not kind.startswith("tcp-rev"):
    # The server receives: the client's receiver total is the server's count.
    need(se["sum_received"]["bytes"] == rcvd, "the receiver's byte counts differ")
    for i in range(n):
        need(ce["streams"][i]["receiver"]["bytes"] == se["streams"][i]["receiver"]["bytes"],
             "stream %d: the receiver's byte counts differ" % i)
    if kind == "tcp-exact":
        need(rcvd == sent, "the receiver got fewer bytes than were sent")
elif kind.startswith("tcp-rev"):
    need(se["sum_sent"]["bytes"] == sent, "the sender's byte counts differ")
    if kind == "tcp-rev-exact":
        need(rcvd == sent, "the receiver got fewer bytes than were sent")
else:
    # UDP: the counts of the side that had them agree (the receiver's, or
    # in reverse the sender's); datagrams lost are within those sent.
    if kind == "udp":
        need(se["sum_received"]["bytes"] == rcvd, "the receiver's byte counts differ")
    else:
        need(se["sum_sent"]["bytes"] == sent, "the sender's byte counts differ")
    r = ce["sum_received"]
    need(r["packets"] > 0 and r["lost_packets"] <= r["packets"], "lost/total datagrams %d/%d" % (r["lost_packets"], r["packets"]))
    need(ce["sum_sent"]["packets"] >= r["packets"] - r["lost_packets"], "more datagrams received than sent")
    if kind == "udp":
        need(se["sum_received"]["packets"] == r["packets"], "the receiver's datagram counts differ")
print("   %-14s sent %12d B %9.1f Mbit/s, received %12d B %9.1f Mbit/s%s" % (
    kind, sent, ce["sum_sent"]["bits_per_second"] / 1e6, rcvd,
    ce["sum_received"]["bits_per_second"] / 1e6,
    ", jitter %.3f ms, lost %d/%d" % (ce["sum_received"]["jitter_ms"], ce["sum_received"]["lost_packets"], ce["sum_received"]["packets"]) if kind.startswith("udp") else ""))
EOF
}
