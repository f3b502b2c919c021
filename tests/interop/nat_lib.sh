# tests/interop/nat_lib.sh — the world of the `netsock nat` tests, on top
# of lib.sh (sourced after it):
#
#   $NS   the "host" namespace: veth h0 (192.0.2.1/24, 198.51.100.1/24;
#         its peer h1 is up with no address, so other addresses of those
#         networks are dead: ARP goes unanswered), the servers, and
#         `netsock nat` itself
#   $GNS  the "guest" namespace: nothing but lo and the TAP netsock nat
#         makes there (tap0, configured by --configure: 10.0.2.100/24,
#         default route via 10.0.2.2), its resolv.conf naming 10.0.2.3
#
# nat_setup [NAT OPTIONS...]   make both, start netsock nat, wait for tap0
# in_guest CMD                 run CMD in the guest namespace
# nat_stat ARGS                netsock stat ARGS for the nat (its control socket)
#
# The nat's DNS goes where $TMP/resolv.conf says (192.0.2.1, where a
# test may run tests/interop/run_py_dns.py). Ping sockets are allowed in
# the host namespace (net.ipv4.ping_group_range, per namespace).

GNS=""
NAT_NAME=""

in_guest() { ip netns exec "$GNS" "$@"; }

nat_stat() { in_ns "$NETSOCK" stat --name "$NAT_NAME" "$@"; }

nat_setup() {
    nsk_setup
    command -v python3 >/dev/null || nsk_skip "needs python3"
    GNS="$NS-g"
    ip netns add "$GNS" || fail "cannot create the guest namespace"
    NSK_EXTRA_NS+=("$GNS")
    in_guest sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    mkdir -p "/etc/netns/$GNS"
    echo "nameserver 10.0.2.3" >"/etc/netns/$GNS/resolv.conf"
    NSK_NAT_ETC="/etc/netns/$GNS"
    in_ns ip link add h0 type veth peer name h1
    in_ns ip addr add 192.0.2.1/24 dev h0
    in_ns ip addr add 198.51.100.1/24 dev h0
    in_ns ip link set h0 up
    in_ns ip link set h1 up
    in_ns sysctl -qw net.ipv4.ping_group_range="0 2147483647"
    echo "nameserver 192.0.2.1" >"$TMP/resolv.conf"
    NAT_NAME="nat${NS#nsk}"
    NAT_NAME=${NAT_NAME//-/}
    nsk_netsock_bg nat nat --configure --name "$NAT_NAME" --resolv-conf "$TMP/resolv.conf" \
        "$@" "/run/netns/$GNS" tap0
    NAT_PID=$NSK_LAST_PID
    # --configure adds the route last: wait for it.
    for _ in $(seq 200); do
        in_guest ip route 2>/dev/null | grep -q "default via 10.0.2.2" && break
        sleep 0.05
    done
    # (Whole outputs, not `| grep -q`: with pipefail, grep leaving early
    # can kill ip with SIGPIPE and fail the check.)
    [[ $(in_guest ip -4 addr show tap0) == *10.0.2.100/24* ]] || fail "tap0 was not configured"
    [[ $(in_guest ip route) == *"default via 10.0.2.2"* ]] || fail "no default route in the guest"
    # nsk_cleanup reads the exit status first: keep it through the rm
    # (errexit off first, or the non-zero `(exit)` would end the trap).
    trap 'nat_rc=$?; set +e; rm -rf "$NSK_NAT_ETC"; (exit $nat_rc); nsk_cleanup' EXIT
}

# Start a background process in the host namespace (stopped at exit).
host_bg() {
    local name=$1
    shift
    ip netns exec "$NS" "$@" >"$TMP/$name.log" 2>&1 </dev/null &
    NSK_PIDS+=("$!")
}

# Wait until something listens on TCP port $1 in the host namespace.
host_wait_tcp() {
    for _ in $(seq 200); do
        in_ns ss -Htln "sport = :$1" | grep -q . && return 0
        sleep 0.1
    done
    fail "nothing listens on port $1"
}
