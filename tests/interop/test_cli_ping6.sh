#!/usr/bin/env bash
# tests/interop/test_cli_ping6.sh — `netsock ping` over IPv6 against
# iputils ping -6 on this machine, over a TAP device to the kernel in a
# namespace:
#
#   kernel 2001:db8::1/64 ─tap─ netsock ping 2001:db8::2/64 (and 192.0.2.2/24)
#
#   1. the output of both, numbers masked, is the same line for line: a
#      run with replies chosen by the IPv6 literal alone (-c3 -i0.2) and
#      with -6, bundled -qc2, 1452 bytes (a full 1500-byte packet), 8000
#      bytes (fragmented both ways), -s 8 (no timing), -t 5 (the hop
#      limit on the wire), -p ab12, -I with the source address; a
#      neighbour that never answers neighbour discovery ("From A
#      icmp_seq=N Destination unreachable: Address unreachable", "+3
#      errors", exit 1; error lines masked: the kernel rate-limits its own);
#   2. no route (2001:db8:1::1, off-link with no router): both print
#      "connect: Network is unreachable", exit 2; -4 with an IPv6
#      literal is a usage error (exit 2);
#   3. the capture holds ICMPv6 echo requests whose checksums verify
#      (netsock's raw ICMPv6 socket leaves the sum to the stack), with
#      hop limit 5 under -t 5;
#   4. --json is valid JSON with the counts the text gives.
# Usage: test_cli_ping6.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
command -v python3 >/dev/null || nsk_skip "needs python3"
nsk_setup
# nsk_setup turns IPv6 off in the namespace; this test is about it.
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
in_ns sysctl -qw net.ipv6.conf.default.accept_dad=0

TAP=nsc6$$
TAP=${TAP:0:15}
K6=2001:db8::1
N6=2001:db8::2
in_ns ip tuntap add "$TAP" mode tap
in_ns sysctl -qw "net.ipv6.conf.$TAP.accept_dad=0"
nsk_kernel_side "$TAP"
in_ns ip -6 addr add "$K6/64" dev "$TAP" nodad

# np NAME ARGS...: netsock ping over the TAP; output in $TMP/NAME.out,
# stderr in $TMP/NAME.err, exit status in $rc.
np() {
    local name=$1
    shift
    set +e
    timeout 60 ip netns exec "$NS" "$NETSOCK" ping --link "tap:$TAP" --addr "$NETSOCK_IP/24" \
        --addr "$N6/64" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    rc=$?
    set -e
}
# kp NAME ARGS...: iputils ping -6 from the kernel's side of the same link.
kp() {
    local name=$1
    shift
    set +e
    timeout 60 ip netns exec "$NS" ping -6 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    krc=$?
    set -e
}
# mask FILE: the output with what differs between runs masked (times,
# the rtt figures, the two sides' addresses).
mask() {
    sed -E -e "s/$K6|$N6/ADDR/g" -e 's/time[= ][0-9.]+ ?ms/time T/g' \
        -e 's/= [0-9.]+\/[0-9.]+\/[0-9.]+\/[0-9.]+ ms/= RTT ms/' "$1"
}
# same_as_iputils WHAT NETSOCK_NAME KERNEL_NAME
same_as_iputils() {
    if ! diff <(mask "$TMP/$2.out") <(mask "$TMP/$3.out") >"$TMP/$2.diff"; then
        echo "--- netsock ping, iputils ping -6 (masked):" >&2
        cat "$TMP/$2.diff" >&2
        fail "$1: netsock ping's output differs from iputils'"
    fi
    [ "$rc" = "$krc" ] || fail "$1: exit status $rc, iputils $krc"
    echo "   $1: same as iputils, exit status $rc"
}

log "replies: an IPv6 literal alone, and -6, as iputils ping -6"
np n-reply -c3 -i0.2 "$K6"
kp k-reply -c3 -i0.2 "$K6"
same_as_iputils "-c3 -i0.2" n-reply k-reply
[ "$rc" = 0 ] || fail "replies: exit status $rc"
head -1 "$TMP/n-reply.out" | grep -qx "PING $K6($K6) 56 data bytes" ||
    fail "header '$(head -1 "$TMP/n-reply.out")'"
grep -qE "^64 bytes from $K6: icmp_seq=3 ttl=64 time=[0-9.]+ ms$" "$TMP/n-reply.out" ||
    fail "no 'icmp_seq=3 ttl=64' reply line"
np n-six -6 -c2 -i0.2 "$K6"
kp k-six -c2 -i0.2 "$K6"
same_as_iputils "-6 -c2" n-six k-six
np n-quiet -qc2 -i0.2 "$K6"
kp k-quiet -qc2 -i0.2 "$K6"
same_as_iputils "-qc2" n-quiet k-quiet

log "sizes: 1452 bytes (1500-byte packets), 8000 (fragmented both ways), 8 (no timing)"
np n-1452 -c2 -i0.2 -s 1452 "$K6"
kp k-1452 -c2 -i0.2 -s 1452 "$K6"
same_as_iputils "-s 1452" n-1452 k-1452
grep -q "^1460 bytes from $K6: icmp_seq=2 " "$TMP/n-1452.out" || fail "-s 1452: no 1460-byte reply"
np n-8000 -c2 -i0.2 -s 8000 "$K6"
kp k-8000 -c2 -i0.2 -s 8000 "$K6"
same_as_iputils "-s 8000" n-8000 k-8000
grep -q "^8008 bytes from $K6: icmp_seq=2 " "$TMP/n-8000.out" || fail "-s 8000: no 8008-byte reply"
np n-small -c2 -i0.2 -s 8 "$K6"
kp k-small -c2 -i0.2 -s 8 "$K6"
same_as_iputils "-s 8 (no timing)" n-small k-small

log "-t 5, -p ab12 and the capture"
np n-hops -c2 -i0.2 -t 5 -p ab12 --pcap "$TMP/hops.pcap" "$K6"
kp k-hops -c2 -i0.2 -t 5 -p ab12 "$K6"
same_as_iputils "-t 5 -p ab12" n-hops k-hops
head -1 "$TMP/n-hops.out" | grep -q "^PATTERN: 0xab12$" || fail "-p: no PATTERN line"
# Ethernet (14) + IPv6 (40) + ICMPv6: requests from netsock with hop
# limit 5 and the pattern from byte 16 of the payload, every ICMPv6
# checksum right over the pseudo-header (RFC 8200 §8.1).
python3 - "$TMP/hops.pcap" <<'PY' || fail "the capture: requests not as asked"
import struct, sys
data = open(sys.argv[1], 'rb').read()
def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s
off, requests, replies = 24, 0, 0
while off + 16 <= len(data):
    incl = struct.unpack_from('<I', data, off + 8)[0]
    f = data[off + 16: off + 16 + incl]
    off += 16 + incl
    if len(f) < 62 or f[12:14] != b'\x86\xdd' or f[20] != 58 or f[54] not in (128, 129):
        continue
    plen = struct.unpack_from('!H', f, 18)[0]
    icmp = f[54:54 + plen]
    pseudo = f[22:54] + struct.pack('!IxxxB', plen, 58)
    assert csum(pseudo + icmp) == 0xffff, 'bad checksum'
    assert icmp[8 + 16:8 + 56] == b'\xab\x12' * 20, icmp.hex()
    if icmp[0] == 128:
        assert f[21] == 5, 'hop limit %d' % f[21]
        requests += 1
    else:
        replies += 1
assert (requests, replies) == (2, 2), (requests, replies)
PY
np n-if -c1 -I "$N6" "$K6"
kp k-if -c1 -I "$K6" "$K6"
same_as_iputils "-I address" n-if k-if

log "a neighbour that never answers neighbour discovery: Address unreachable"
# mask_errors FILE: mask, and drop what the kernel's rate limit on its
# own ICMPv6 errors makes vary between iputils' runs (how many error
# lines, the error count, the pipe line), as test_cli_ping.sh does.
mask_errors() {
    mask "$1" | sed -E -e 's/, \+[0-9]+ errors//' -e '/^pipe [0-9]+$/d' \
        -e '/packets transmitted/,$ {/^$/d}' \
        -e '/Destination unreachable: Address unreachable$/d' | uniq
}
np n-unreach -c 3 -i 0.5 2001:db8::99
kp k-unreach -c 3 -i 0.5 2001:db8::99
if ! diff <(mask_errors "$TMP/n-unreach.out") <(mask_errors "$TMP/k-unreach.out") >"$TMP/n-unreach.diff"; then
    cat "$TMP/n-unreach.diff" >&2
    fail "unreachable: netsock ping's output differs from iputils'"
fi
[ "$rc" = 1 ] && [ "$krc" = 1 ] || fail "unreachable: exit status $rc (iputils $krc), want 1"
grep -q "^From $N6 icmp_seq=3 Destination unreachable: Address unreachable$" "$TMP/n-unreach.out" ||
    fail "no 'From $N6 icmp_seq=3 Destination unreachable: Address unreachable'"
grep -q "^3 packets transmitted, 0 received, +3 errors, 100% packet loss" "$TMP/n-unreach.out" ||
    fail "unreachable: summary '$(grep transmitted "$TMP/n-unreach.out")'"
echo "   unreachable: as iputils (error lines masked), exit status 1"

log "no route, -4 with an IPv6 literal"
np n-noroute -c 1 2001:db8:1::1
kp k-noroute -c 1 2001:db8:1::1
[ "$rc" = 2 ] && [ "$krc" = 2 ] || fail "no route: exit status $rc (iputils $krc), want 2"
grep -q "^netsock ping: connect: Network is unreachable$" "$TMP/n-noroute.err" ||
    fail "no route: stderr '$(cat "$TMP/n-noroute.err")'"
grep -q "^ping: connect: Network is unreachable$" "$TMP/k-noroute.err" ||
    fail "iputils says '$(cat "$TMP/k-noroute.err")' here: the test's premise is wrong"
np n-four -4 -c 1 "$K6"
[ "$rc" = 2 ] || fail "-4 with an IPv6 destination: exit status $rc, want 2"

log "--json"
np n-json -c 2 -i 0.2 --json "$K6"
python3 - "$TMP/n-json.out" <<'PY' || fail "--json: $(cat "$TMP/n-json.out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["destination"] == "2001:db8::1" and d["source"] == "2001:db8::2"
assert d["transmitted"] == 2 and d["received"] == 2 and d["errors"] == 0 and d["exit_status"] == 0
assert [e["seq"] for e in d["events"] if e["type"] == "reply"] == [1, 2]
assert all(e["bytes"] == 64 and e["ttl"] == 64 and e["time_ms"] > 0 for e in d["events"])
PY
nsk_pass
