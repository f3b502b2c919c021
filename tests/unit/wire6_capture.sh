#!/usr/bin/env bash
# tests/unit/wire6_capture.sh — capture the Linux kernel's IPv6 packets that
# tests/unit/test_wire6.c and test_icmp6_wire.c embed byte for byte. Not a
# test (nothing runs it in `make test`): run it by hand, as root, to see
# where those bytes came from or to take them again:
#
#     bash tests/unit/wire6_capture.sh /tmp/wire6.pcap    # and /tmp/wire6-mld.pcap
#     python3 tests/unit/wire6_pcap2c.py /tmp/wire6.pcap /tmp/wire6-mld.pcap \
#         > tests/unit/wire6_frames.h
#
# Three namespaces made here and removed on exit, 2001:db8::/32 only:
#
#   A  a0 ---- r0  R  r1 ---- b0  B
#      2001:db8:1::a/64        2001:db8:2::b/64 (link MTU 1280)
#             2001:db8:1::1  2001:db8:2::1, forwarding, radvd on r0
#
# Fixed MACs, so the link-local addresses (modified EUI-64) are fixed too:
# a0 02:00:00:00:01:0a (fe80::ff:fe00:10a), r0 02:00:00:00:01:01
# (fe80::ff:fe00:101). Everything A's a0 sees is captured: A's MLDv2
# reports (hop-by-hop Router Alert), RS, DAD NS, radvd's RA (prefix, MTU,
# RDNSS options), NS/NA, echo, fragments of a 2000-byte echo, R's Packet
# Too Big (from the 1280 link), Time Exceeded (hop limit 1), Port
# Unreachable (UDP to a closed port), Parameter Problem codes 1 (next
# header 253) and 2 (an unknown destination option of type 0x87), a TCP
# SYN and its RST, and a Redirect (A sends to an on-link address via R).
#
# Then MLD queries, into OUT's sibling -mld.pcap: a bridge in namespace Q
# with its multicast querier on sends an MLDv2 General Query, then (set to
# version 1) an MLDv1 one, to H over a veth.
# Needs: ip, ethtool, tcpdump, ping, socat, python3, radvd (Debian packages).
set -euo pipefail

OUT=${1:?usage: $0 OUT.pcap}
for tool in ip ethtool tcpdump ping socat python3 radvd; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }

TAG="w6-$$"
A="$TAG-a" R="$TAG-r" B="$TAG-b" Q="$TAG-q" H="$TAG-h"
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    ip netns del "$A" 2>/dev/null
    ip netns del "$R" 2>/dev/null
    ip netns del "$B" 2>/dev/null
    ip netns del "$Q" 2>/dev/null
    ip netns del "$H" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

a() { ip netns exec "$A" "$@"; }
# Wait until the tcpdump writing its messages to $1 captures.
wait_listening() {
    for _ in $(seq 100); do grep -q "listening on" "$1" 2>/dev/null && return 0; sleep 0.05; done
    cat "$1" >&2
    exit 1
}
r() { ip netns exec "$R" "$@"; }
b() { ip netns exec "$B" "$@"; }

for n in "$A" "$R" "$B"; do
    ip netns add "$n"
    ip netns exec "$n" ip link set lo up
    # No ICMPv6 error rate limit, so every error in the sequence is sent.
    ip netns exec "$n" sysctl -qw net.ipv6.icmp.ratelimit=0
done
ip link add a0 netns "$A" address 02:00:00:00:01:0a type veth \
    peer r0 netns "$R" address 02:00:00:00:01:01
ip link add r1 netns "$R" address 02:00:00:00:02:01 type veth \
    peer b0 netns "$B" address 02:00:00:00:02:0b
# Checksums in full on the wire: a veth otherwise leaves TCP and UDP
# checksums to an offload that never happens (CHECKSUM_PARTIAL).
a ethtool -K a0 tx off >/dev/null
r ethtool -K r0 tx off >/dev/null
r sysctl -qw net.ipv6.conf.all.forwarding=1
r ip link set r0 up
r ip link set r1 mtu 1280 up
b ip link set b0 mtu 1280 up
r ip addr add 2001:db8:1::1/64 dev r0 nodad
r ip addr add 2001:db8:2::1/64 dev r1 nodad
b ip addr add 2001:db8:2::b/64 dev b0 nodad
b ip route add default via 2001:db8:2::1

cat >"$TMP/radvd.conf" <<'EOF'
interface r0 {
    AdvSendAdvert on;
    MinRtrAdvInterval 30;
    MaxRtrAdvInterval 60;
    AdvManagedFlag off;
    AdvOtherConfigFlag on;
    AdvLinkMTU 1500;
    AdvReachableTime 30000;
    AdvRetransTimer 1000;
    AdvCurHopLimit 64;
    AdvDefaultLifetime 1800;
    prefix 2001:db8:1::/64 {
        AdvOnLink on;
        AdvAutonomous on;
        AdvValidLifetime 86400;
        AdvPreferredLifetime 14400;
    };
    RDNSS 2001:db8:1::53 2001:db8:1::54 {
        AdvRDNSSLifetime 600;
    };
};
EOF

# Capture A's link from before IPv6 starts on it (tcpdump needs it up).
a sysctl -qw net.ipv6.conf.a0.disable_ipv6=1
a ip link set a0 up
a tcpdump -i a0 --immediate-mode -U -n -s 0 -w "$OUT" >/dev/null 2>"$TMP/tcpdump.err" </dev/null &
PIDS+=($!)
wait_listening "$TMP/tcpdump.err"

r radvd -C "$TMP/radvd.conf" -p "$TMP/radvd.pid" -n -m stderr >"$TMP/radvd.log" 2>&1 </dev/null &
PIDS+=($!)
sleep 0.5

# IPv6 on: MLDv2 reports, DAD for the link-local address, then an RS that
# radvd answers. accept_ra stays on (A is a host), but the address is set
# by hand so the sequence does not depend on SLAAC's timing.
a sysctl -qw net.ipv6.conf.a0.accept_ra=1
a sysctl -qw net.ipv6.conf.a0.disable_ipv6=0
a ip addr add 2001:db8:1::a/64 dev a0        # DAD: NS from ::
sleep 3
a ip route add 2001:db8:2::/64 via 2001:db8:1::1 2>/dev/null || true

a ping -6 -c 1 -W 2 2001:db8:1::1 >/dev/null            # NS/NA, echo
# Redirect: R forwards back out of the link the packet came in on. First,
# before R's errors below spend the per-source budget it shares with them.
a ip route add 2001:db8:1::99/128 via 2001:db8:1::1
# (Then Address Unreachable, once R's neighbour discovery for it fails.)
a ping -6 -c 1 -W 4 2001:db8:1::99 >/dev/null 2>&1 || true
a ping -6 -c 1 -W 2 -s 2000 2001:db8:1::1 >/dev/null    # fragments both ways
a ping -6 -c 1 -W 2 -s 1400 -M do 2001:db8:2::b >/dev/null 2>&1 || true  # PTB from R
a ping -6 -c 1 -W 2 -t 1 2001:db8:2::b >/dev/null 2>&1 || true   # Time Exceeded
echo hello | a socat -u - UDP6:[2001:db8:1::1]:9 || true         # Port Unreachable
a socat -u /dev/null TCP6:[2001:db8:1::1]:9 2>/dev/null || true  # SYN, RST
a python3 - <<'EOF'
import socket
# Next header 253 (RFC 3692 experiment): Parameter Problem code 1.
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 253)
s.sendto(b"\x00" * 8, ("2001:db8:1::1", 0))
# Destination option 0x87 (action bits 10: always an ICMP error), length 4.
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, bytes([0, 0, 0x87, 4, 0, 0, 0, 0]))
u.sendto(b"opt", ("2001:db8:1::1", 7))
EOF
sleep 1

# MLD queries from a Linux bridge's querier (no DAD, so its link-local
# address, the queries' source, is usable at once).
MLD_OUT="${OUT%.pcap}-mld.pcap"
for n in "$Q" "$H"; do
    ip netns add "$n"
    ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
ip link add q0 netns "$Q" address 02:00:00:00:03:01 type veth \
    peer h0 netns "$H" address 02:00:00:00:03:0b
ip netns exec "$H" ip link set h0 up
ip netns exec "$H" tcpdump -i h0 --immediate-mode -U -n -s 0 -w "$MLD_OUT" ip6 \
    >/dev/null 2>"$TMP/tcpdump-mld.err" </dev/null &
PIDS+=($!)
wait_listening "$TMP/tcpdump-mld.err"
ip netns exec "$Q" ip link add br0 address 02:00:00:00:03:aa type bridge mcast_snooping 1 \
    mcast_querier 1 mcast_mld_version 2
ip netns exec "$Q" ip link set q0 master br0
ip netns exec "$Q" ip link set q0 up
ip netns exec "$Q" ip link set br0 up
sleep 4
ip netns exec "$Q" ip link set br0 type bridge mcast_mld_version 1
ip netns exec "$Q" ip link set br0 type bridge mcast_querier 0
ip netns exec "$Q" ip link set br0 type bridge mcast_querier 1
sleep 3
echo "captured $(tcpdump -r "$OUT" 2>/dev/null | wc -l) packets to $OUT," \
    "$(tcpdump -r "$MLD_OUT" 2>/dev/null | wc -l) to $MLD_OUT"
