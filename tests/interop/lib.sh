# tests/interop/lib.sh — shared helpers for the interop tests: the Linux
# kernel as the peer, inside a network namespace the test makes itself.
#
# A test sources this file with the build directory as $1:
#
#     . "$(dirname "$0")/lib.sh" "$1"
#
# and gets, after nsk_setup:
#   NS        a uniquely named network namespace (nsk-PID-RANDOM), IPv6 off
#   NETSOCK   the netsock binary
#   TMP       a scratch directory: captures and logs; kept on failure
#   in_ns CMD run CMD inside the namespace
#   NSK_EXTRA_NS  add the names of more namespaces made: deleted at exit
# Everything the test made (namespace, with every device in it, background
# processes, captures) goes away on exit, whatever the exit path; on
# failure the captures stay and their paths are printed.
#
# Exit status: 0 pass, 1 fail, 77 skipped (not root, or a tool missing),
# which ctest reports as skipped (SKIP_RETURN_CODE 77).
#
# Addresses: 192.0.2.1/24 for the kernel, 192.0.2.2/24 for netsock
# (RFC 5737 TEST-NET-1), only inside the namespace.

set -euo pipefail

NSK_BUILD=${1:-}
NSK_TEST=$(basename "$0" .sh)
NS=""
TMP=""
NSK_PIDS=()      # background processes to stop on exit
NSK_CAPTURES=()  # "pid:file" of tcpdump captures
NSK_EXTRA_NS=()  # more namespaces a test made (deleted after $NS)
NSK_PASSED=0

KERNEL_IP=192.0.2.1
NETSOCK_IP=192.0.2.2

nsk_skip() {
    echo "SKIP: $NSK_TEST: $*"
    exit 77
}

fail() {
    echo "FAIL: $NSK_TEST: $*" >&2
    exit 1
}

log() { echo "== $*"; }

in_ns() { ip netns exec "$NS" "$@"; }

# Stop one background process by its PID: SIGTERM (netsock catches it,
# flushes its capture and prints statistics), SIGKILL after 5 s.
nsk_stop() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

nsk_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    local p
    for p in "${NSK_PIDS[@]}"; do
        nsk_stop "$p"
    done
    for p in "${NSK_CAPTURES[@]}"; do
        nsk_stop "${p%%:*}"  # tcpdump -U writes each packet; TERM ends it cleanly
    done
    if [ -n "$NS" ]; then
        # Deleting the namespace deletes every device in it (TAP, TUN, both
        # veth ends); a process still inside would keep it alive, and all of
        # ours were stopped above.
        ip netns del "$NS" 2>/dev/null
        # Files a test put in /etc/netns/NS/ (`ip netns exec` mounts them
        # over /etc: a resolv.conf for the namespace).
        rm -rf "/etc/netns/$NS"
    fi
    for p in "${NSK_EXTRA_NS[@]}"; do
        ip netns del "$p" 2>/dev/null
    done
    if [ -n "$TMP" ] && [ -d "$TMP" ]; then
        if [ "$NSK_PASSED" = 1 ] || [ "$rc" = 0 ] || [ "$rc" = 77 ]; then
            rm -rf "$TMP"
        else
            local f kept=0
            for f in "$TMP"/*.pcap; do
                [ -s "$f" ] || continue
                echo "FAIL: $NSK_TEST: capture of the link kept: $f" >&2
                kept=1
            done
            [ "$kept" = 1 ] || echo "FAIL: $NSK_TEST: no capture was written; logs in $TMP" >&2
            for f in "$TMP"/*.log; do
                [ -s "$f" ] || continue
                echo "--- $f ---" >&2
                tail -n 30 "$f" >&2
            done
        fi
    fi
    exit "$rc"
}

# Check the prerequisites (skip with the reason when one is missing), then
# make the namespace and the scratch directory and arm the cleanup.
nsk_setup() {
    [ -n "$NSK_BUILD" ] || fail "usage: $0 BUILD_DIR"
    if [ "$(id -u)" != 0 ]; then
        nsk_skip "needs root (creates network namespaces and TAP/TUN/veth devices)"
    fi
    local tool
    for tool in ip ping tcpdump timeout; do
        command -v "$tool" >/dev/null || nsk_skip "needs $tool"
    done
    [ -c /dev/net/tun ] || nsk_skip "needs /dev/net/tun"
    NETSOCK=$(cd "$NSK_BUILD" && pwd)/netsock
    [ -x "$NETSOCK" ] || fail "no netsock binary in $NSK_BUILD"

    trap nsk_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/$NSK_TEST.XXXXXX")
    NS="nsk-$$-$RANDOM"
    ip netns add "$NS" || { NS=""; nsk_skip "cannot create a network namespace"; }
    in_ns ip link set lo up
    # IPv6 off: router solicitations and MLD reports would only clutter
    # the captures (netsock speaks IPv4 for now).
    in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# Run netsock inside the namespace in the background; its output goes to
# $TMP/NAME.log. Sets NSK_LAST_PID.
nsk_netsock_bg() {
    local name=$1
    shift
    # Not through a shell function: $! must be the process itself (ip netns
    # exec execs the command), so that nsk_stop signals netsock.
    ip netns exec "$NS" "$NETSOCK" "$@" >"$TMP/$name.log" 2>&1 </dev/null &
    NSK_LAST_PID=$!
    NSK_PIDS+=("$NSK_LAST_PID")
}

# Wait until interface $1 exists in the namespace (netsock made it).
nsk_wait_dev() {
    local dev=$1
    for _ in $(seq 100); do
        in_ns ip link show "$dev" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    fail "interface $dev did not appear"
}

# Wait until interface $1 is gone from the namespace.
nsk_wait_dev_gone() {
    local dev=$1
    for _ in $(seq 100); do
        in_ns ip link show "$dev" >/dev/null 2>&1 || return 0
        sleep 0.05
    done
    return 1
}

# Capture interface $2 (kernel side) to $TMP/$1.pcap until the test ends;
# kept only on failure. $3: bytes kept of each packet (default all; the bulk
# transfer tests keep the headers only). Returns once tcpdump is listening.
nsk_capture() {
    local name=$1 dev=$2 snap=${3:-0}
    ip netns exec "$NS" tcpdump -i "$dev" --immediate-mode -U -n -s "$snap" -w "$TMP/$name.pcap" \
        >/dev/null 2>"$TMP/$name.tcpdump.err" </dev/null &
    local pid=$!
    NSK_CAPTURES+=("$pid:$TMP/$name.pcap")
    for _ in $(seq 100); do
        grep -q "listening on" "$TMP/$name.tcpdump.err" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || fail "tcpdump on $dev: $(cat "$TMP/$name.tcpdump.err")"
        sleep 0.05
    done
    fail "tcpdump on $dev did not start"
}

# Stop the capture of interface-capture $1 (before its device goes away).
nsk_capture_stop() {
    local name=$1 c
    for c in "${NSK_CAPTURES[@]}"; do
        [ "${c#*:}" = "$TMP/$name.pcap" ] && nsk_stop "${c%%:*}"
    done
    return 0
}

# Give the kernel side of interface $1 the kernel's address and bring it up.
nsk_kernel_side() {
    local dev=$1
    in_ns ip addr add "$KERNEL_IP/24" dev "$dev"
    in_ns ip link set "$dev" up
}

# expect_summary OUTPUT_FILE TRANSMITTED: ping's statistics show every
# request answered ("N packets transmitted, N received, 0% packet loss")
# and an rtt line. Prints the two summary lines.
expect_summary() {
    local out=$1 n=$2
    grep -q "^$n packets transmitted, $n received, 0% packet loss" "$out" ||
        { cat "$out" >&2; fail "expected $n/$n replies"; }
    grep -q "^rtt min/avg/max/mdev = " "$out" || { cat "$out" >&2; fail "no rtt line"; }
    grep -q "wrong data byte" "$out" && { cat "$out" >&2; fail "reply data differs"; }
    echo "   $(grep 'packets transmitted' "$out")"
    echo "   $(grep '^rtt' "$out")"
}

# kernel_ping NAME ARGS...: ping(8) from the kernel to netsock, output in
# $TMP/NAME.out, bounded by a timeout.
kernel_ping() {
    local name=$1
    shift
    timeout 120 ip netns exec "$NS" ping -n "$@" "$NETSOCK_IP" >"$TMP/$name.out" 2>&1 || true
}

# netsock_ping NAME LINK ARGS...: netsock ping to the kernel.
netsock_ping() {
    local name=$1 link=$2
    shift 2
    timeout 120 ip netns exec "$NS" "$NETSOCK" ping --link "$link" --addr "$NETSOCK_IP/24" \
        --pcap "$TMP/$name-netsock.pcap" "$@" "$KERNEL_IP" >"$TMP/$name.out" 2>&1 || true
}

# The kernel pings netsock (a netsock stack must be running on the link):
# small, 1472 bytes (a full 1500-byte packet), 8000 bytes (fragmented both
# ways), then a flood of $1 requests that must lose none.
kernel_to_netsock_suite() {
    local flood=$1
    log "kernel ping -> netsock: 56 bytes"
    kernel_ping k-small -c 3 -i 0.2 -W 2
    expect_summary "$TMP/k-small.out" 3
    log "kernel ping -> netsock: 1472 bytes (1500-byte packets)"
    kernel_ping k-1472 -c 3 -i 0.2 -W 2 -s 1472
    expect_summary "$TMP/k-1472.out" 3
    log "kernel ping -> netsock: 8000 bytes (fragmented)"
    kernel_ping k-8000 -c 3 -i 0.2 -W 2 -s 8000
    expect_summary "$TMP/k-8000.out" 3
    log "kernel ping -f -c $flood -> netsock"
    kernel_ping k-flood -f -c "$flood" -W 2
    expect_summary "$TMP/k-flood.out" "$flood"
}

# netsock ping to the kernel over link $1, the same set.
netsock_to_kernel_suite() {
    local link=$1 flood=$2
    shift 2
    log "netsock ping -> kernel: 56 bytes"
    netsock_ping n-small "$link" "$@" -c 3 -i 0.2
    expect_summary "$TMP/n-small.out" 3
    grep -q "^PING $KERNEL_IP ($KERNEL_IP) 56(84) bytes of data.$" "$TMP/n-small.out" ||
        fail "netsock ping: no PING header"
    grep -q "^64 bytes from $KERNEL_IP: icmp_seq=1 ttl=64 time=" "$TMP/n-small.out" ||
        fail "netsock ping: no reply line"
    log "netsock ping -> kernel: 1472 bytes (1500-byte packets)"
    netsock_ping n-1472 "$link" "$@" -c 3 -i 0.2 -s 1472
    expect_summary "$TMP/n-1472.out" 3
    log "netsock ping -> kernel: 8000 bytes (fragmented)"
    netsock_ping n-8000 "$link" "$@" -c 3 -i 0.2 -s 8000
    expect_summary "$TMP/n-8000.out" 3
    grep -q "^8008 bytes from $KERNEL_IP" "$TMP/n-8000.out" || fail "netsock ping: no 8008-byte reply"
    log "netsock ping -f -c $flood -> kernel"
    netsock_ping n-flood "$link" "$@" -f -q -c "$flood"
    expect_summary "$TMP/n-flood.out" "$flood"
}

# nsk_check_log NAME: after the process of $TMP/NAME.log stopped, fail when
# the log holds a sanitizer report (the build of `make test` has ASan and
# UBSan, which abort; a leak is reported only at exit).
nsk_check_log() {
    if grep -qE "ERROR: [A-Za-z]*Sanitizer|runtime error:" "$TMP/$1.log"; then
        fail "sanitizer report in $TMP/$1.log"
    fi
}

# --- netsock host: the core transfers (curl, socat) -------------------------

sha() { sha256sum | cut -c1-64; }

# SHA-256 of the first $1 bytes of the /bytes pattern (docs/host.md).
pattern_sha() {
    python3 -c 'import sys; n=int(sys.argv[1]); sys.stdout.buffer.write((bytes(range(251))*(n//251+1))[:n])' "$1" | sha
}

nsk_now() { date +%s.%N; }

# goodput WHAT BYTES T0 T1: print the transfer's goodput (application bytes
# over wall time, connection setup included).
goodput() {
    awk -v w="$1" -v b="$2" -v t0="$3" -v t1="$4" 'BEGIN {
        t = t1 - t0; if (t <= 0) t = 1e-6
        printf "   goodput: %-28s %6.2f MiB in %6.2f s = %8.2f Mbit/s\n", w, b / 1048576, t, b * 8 / t / 1e6 }'
}

# host_get N [TIMEOUT]: curl GET /bytes/N from netsock host; the body has the
# SHA-256 of the pattern. NSK_URL (default http://$NETSOCK_IP) and
# NSK_CURL_FLAGS (e.g. "-g -6") say where and how, for host_sink too.
host_get() {
    local n=$1 tmo=${2:-120} want got t0 t1
    log "curl GET /bytes/$n"
    want=$(pattern_sha "$n")
    t0=$(nsk_now)
    # shellcheck disable=SC2086 # NSK_CURL_FLAGS: words on purpose
    in_ns curl ${NSK_CURL_FLAGS:-} -sS -m "$tmo" -o "$TMP/get.out" "${NSK_URL:-http://$NETSOCK_IP}/bytes/$n" ||
        fail "curl GET /bytes/$n: exit status $?"
    t1=$(nsk_now)
    got=$(sha <"$TMP/get.out")
    [ "$got" = "$want" ] || fail "/bytes/$n: $(stat -c %s "$TMP/get.out") bytes, sha256 $got, want $want"
    rm -f "$TMP/get.out"
    goodput "GET /bytes/$n" "$n" "$t0" "$t1"
}

# host_sink N [TIMEOUT]: curl POST of N random bytes to /sink; the answer has
# their length and SHA-256.
host_sink() {
    local n=$1 tmo=${2:-120} want t0 t1
    log "curl POST /sink, $n random bytes"
    head -c "$n" /dev/urandom >"$TMP/sink.in"
    want=$(sha <"$TMP/sink.in")
    t0=$(nsk_now)
    # shellcheck disable=SC2086
    in_ns curl ${NSK_CURL_FLAGS:-} -sS -m "$tmo" --data-binary @"$TMP/sink.in" \
        "${NSK_URL:-http://$NETSOCK_IP}/sink" >"$TMP/sink.out" ||
        fail "curl POST /sink: exit status $?"
    t1=$(nsk_now)
    grep -q "^{\"bytes\": $n, \"sha256\": \"$want\"}$" "$TMP/sink.out" ||
        fail "/sink answered '$(cat "$TMP/sink.out")', want $n bytes, sha256 $want"
    rm -f "$TMP/sink.in"
    goodput "POST /sink" "$n" "$t0" "$t1"
}

# host_echo N [TIMEOUT]: socat sends N random bytes to TCP echo, then its FIN;
# what comes back is identical. (The goodput counts one direction.)
host_echo() {
    local n=$1 tmo=${2:-120} want got t0 t1
    log "socat -> echo, $n random bytes"
    head -c "$n" /dev/urandom >"$TMP/echo.in"
    want=$(sha <"$TMP/echo.in")
    t0=$(nsk_now)
    in_ns timeout "$tmo" socat -t 30 - "TCP:$NETSOCK_IP:7,shut-down" <"$TMP/echo.in" >"$TMP/echo.out" ||
        fail "socat to echo: exit status $?"
    t1=$(nsk_now)
    got=$(sha <"$TMP/echo.out")
    [ "$got" = "$want" ] || fail "echo: $(stat -c %s "$TMP/echo.out") of $n bytes came back, sha256 $got, want $want"
    rm -f "$TMP/echo.in" "$TMP/echo.out"
    goodput "echo (each way)" "$n" "$t0" "$t1"
}

# nsk_counter LOG NAME: the value netsock printed for counter NAME at exit
# (0 when absent: only non-zero counters are printed).
nsk_counter() {
    local v
    v=$(sed -n "s/^ *\([0-9]*\) $2 (.*/\1/p" "$1" | head -n 1)
    echo "${v:-0}"
}

nsk_pass() {
    NSK_PASSED=1
    echo "PASS: $NSK_TEST"
}
