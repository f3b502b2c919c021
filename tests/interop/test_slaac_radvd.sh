#!/usr/bin/env bash
# tests/interop/test_slaac_radvd.sh — IPv6 autoconfiguration against the
# Linux kernel and radvd over TAP:
#
#   kernel 2001:db8:1::1/64 + radvd ─tap─ netsock host --autoconf
#
#   1. radvd advertises 2001:db8:1::/64 (on-link, autonomous); netsock
#      forms a stable link-local address and a SLAAC address in the prefix
#      (RFC 4862 §5.5.3, RFC 7217 identifiers, not the EUI-64 of its MAC),
#      each after DAD; the kernel pings the SLAAC address (ping -6) and the
#      link-local one, and its neighbour table learns netsock's MAC.
#   2. a DAD conflict: netsock host starts again while a node on the link
#      (tests/interop/attack.py dad-defend) answers its first probe for a
#      2001:db8:1:: address with a Neighbor Advertisement claiming it;
#      netsock drops that address (RFC 4862 §5.4.4), forms the next one
#      (RFC 7217 §6, DAD_Counter 1), which the kernel then reaches — and
#      the refused one it does not.
# Usage: test_slaac_radvd.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
nsk_setup
command -v radvd >/dev/null || nsk_skip "needs radvd (scripts/bootstrap installs it)"
command -v python3 >/dev/null || nsk_skip "needs python3"
# nsk_setup turns IPv6 off in the namespace; this test is about it. radvd
# wants forwarding on (the kernel side is the router).
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
in_ns sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.forwarding=1

TAP=nsra$$
TAP=${TAP:0:15}
K6=2001:db8:1::1
MAC=02:00:00:00:6e:0a
EUI64=2001:db8:1::ff:fe00:6e0a

# A persistent TAP, so that the kernel side and radvd stay while netsock
# comes and goes.
in_ns ip tuntap add "$TAP" mode tap
in_ns sysctl -qw "net.ipv6.conf.$TAP.accept_dad=0"
nsk_kernel_side "$TAP"
in_ns ip -6 addr add "$K6/64" dev "$TAP" nodad
cat >"$TMP/radvd.conf" <<EOF
interface $TAP {
    AdvSendAdvert on;
    MinRtrAdvInterval 3;
    MaxRtrAdvInterval 4;
    prefix 2001:db8:1::/64 {
        AdvOnLink on;
        AdvAutonomous on;
    };
};
EOF
ip netns exec "$NS" radvd -n -C "$TMP/radvd.conf" -p "$TMP/radvd.pid" -m stderr \
    >"$TMP/radvd.log" 2>&1 </dev/null &
NSK_PIDS+=("$!")
nsk_capture kernel "$TAP"

# wait_ready LOG: the first 2001:db8:1:: address netsock host logged as
# ready (DAD passed), within 20 s; empty if none.
wait_ready() {
    local log=$1 a=""
    for _ in $(seq 200); do
        a=$(sed -n 's/.*address \(2001:db8:1:[0-9a-f:]*\)\/64 on .* ready (DAD passed).*/\1/p' \
            "$log" | head -n 1)
        [ -n "$a" ] && break
        sleep 0.1
    done
    echo "$a"
}

ping6() {
    local name=$1
    shift
    timeout 60 ip netns exec "$NS" ping -6 -n "$@" >"$TMP/$name.out" 2>&1 || true
}

log "netsock host --autoconf on $TAP, radvd advertising 2001:db8:1::/64"
nsk_netsock_bg host1 host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --autoconf \
    --mac "$MAC" --name sl1 --verbose
host=$NSK_LAST_PID
A=$(wait_ready "$TMP/host1.log")
[ -n "$A" ] || { cat "$TMP/host1.log" >&2; fail "no SLAAC address became ready in 20 s"; }
log "SLAAC address $A"
[ "$A" != "$EUI64" ] || fail "the SLAAC address is the EUI-64 one: want an RFC 7217 identifier"
LL=$(sed -n 's/.*address \(fe80:[0-9a-f:]*\)\/64 on .* ready (DAD passed).*/\1/p' \
    "$TMP/host1.log" | head -n 1)
[ -n "$LL" ] || fail "no link-local address became ready"
[ "$LL" != "fe80::ff:fe00:6e0a" ] || fail "the link-local address is the EUI-64 one"
grep -q "address $A/64 on .* ready" "$TMP/host1.log"

log "ping -6 $A and $LL%$TAP"
ping6 p1 -c 3 -i 0.2 -W 2 "$A"
expect_summary "$TMP/p1.out" 3
ping6 pll -c 2 -i 0.2 -W 2 "$LL%$TAP"
expect_summary "$TMP/pll.out" 2
in_ns ip -6 neigh show dev "$TAP" | grep -i "^$A .*lladdr $MAC" >/dev/null ||
    { in_ns ip -6 neigh show dev "$TAP" >&2; fail "the kernel has no neighbour entry for $A"; }
nsk_stop "$host"

log "DAD conflict: a node claims the first 2001:db8:1:: address netsock probes"
ip netns exec "$NS" python3 "$(dirname "$0")/attack.py" dad-defend --ifname "$TAP" --prefix 2001:db8:1::/64 \
    --count 1 --seconds 40 >"$TMP/defend.log" 2>&1 &
defender=$!
NSK_PIDS+=("$defender")
sleep 0.5 # the raw socket is bound
nsk_netsock_bg host2 host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --autoconf \
    --mac "$MAC" --name sl2 --verbose
host=$NSK_LAST_PID
wait "$defender" || true
REFUSED=$(sed -n 's/^answered //p' "$TMP/defend.log")
[ -n "$REFUSED" ] || { cat "$TMP/defend.log" >&2; fail "netsock sent no DAD probe in the prefix"; }
B=""
for _ in $(seq 200); do
    B=$(sed -n 's/.*address \(2001:db8:1:[0-9a-f:]*\)\/64 on .* ready (DAD passed).*/\1/p' \
        "$TMP/host2.log" | head -n 1)
    [ -n "$B" ] && break
    sleep 0.1
done
[ -n "$B" ] || { cat "$TMP/host2.log" >&2; fail "no second SLAAC address after the conflict"; }
log "refused $REFUSED, took $B"
grep -q "address $REFUSED on .* dropped while tentative" "$TMP/host2.log" ||
    { cat "$TMP/host2.log" >&2; fail "netsock did not drop $REFUSED"; }
[ "$B" != "$REFUSED" ] || fail "netsock kept the address another node claimed"
ping6 p2 -c 3 -i 0.2 -W 2 "$B"
expect_summary "$TMP/p2.out" 3
# The refused address is nobody's: no echo reply (the kernel's NS for it
# goes unanswered).
ping6 p3 -c 2 -i 0.2 -W 1 "$REFUSED"
grep -q " 0 received" "$TMP/p3.out" || { cat "$TMP/p3.out" >&2; fail "$REFUSED answered"; }
nsk_stop "$host"

nsk_pass
