#!/usr/bin/env bash
# tests/interop/test_cli_ping.sh — `netsock ping` against iputils ping(8)
# on this machine, over a TAP device to the kernel in a namespace:
#
#   kernel 192.0.2.1 ─tap─ netsock ping 192.0.2.2
#
#   1. the output of both, numbers masked, is the same line for line: a
#      run with replies (bundled -qc, -c3 -i0.2), a neighbour that never
#      answers ARP ("From A icmp_seq=N Destination Host Unreachable",
#      "+3 errors", "pipe 3", exit status 1), -O ("no answer yet"), -w to
#      a host that answers (exit 0) and to one that does not (ends at the
#      first error, exit 1);
#   2. no route: both print "connect: Network is unreachable", exit 2;
#   3. -D timestamps, -p on the wire (the capture holds the pattern from
#      byte 16 of the payload on), -I iface/addr, -s 8 (no timing), -f;
#   4. --json is valid JSON with the counts the text gives.
# Usage: test_cli_ping.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
command -v python3 >/dev/null || nsk_skip "needs python3"
nsk_setup

TAP=nscp$$
TAP=${TAP:0:15}
# On the link, never answering ARP: a fresh address for each of the
# kernel's runs, whose neighbour cache remembers a failure for a while
# (netsock's stack is new every run).
NOBODY=192.0.2.99 NOBODY2=192.0.2.98 NOBODY3=192.0.2.97 NOBODY4=192.0.2.96
in_ns ip tuntap add "$TAP" mode tap
nsk_kernel_side "$TAP"

# np NAME ARGS...: netsock ping over the TAP; output in $TMP/NAME.out,
# stderr in $TMP/NAME.err, exit status in $rc.
np() {
    local name=$1
    shift
    set +e
    timeout 60 ip netns exec "$NS" "$NETSOCK" ping --link "tap:$TAP" --addr "$NETSOCK_IP/24" \
        "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    rc=$?
    set -e
}
# kp NAME ARGS...: iputils ping from the kernel's side of the same link.
kp() {
    local name=$1
    shift
    set +e
    timeout 60 ip netns exec "$NS" ping "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    krc=$?
    set -e
}
# mask FILE: the output with numbers that differ between runs masked
# (times, addresses of the two sides, the rtt figures).
mask() {
    sed -E -e "s/$KERNEL_IP|$NETSOCK_IP/ADDR/g" -e 's/time[= ][0-9.]+ ?ms/time T/g' \
        -e 's/= [0-9.]+\/[0-9.]+\/[0-9.]+\/[0-9.]+ ms/= RTT ms/' "$1"
}
# mask_errors FILE: mask, and also how many errors were seen. The kernel
# rate-limits the host-unreachable errors it makes for its own packets
# (icmp_global_allow, inet_peer_xrlim_allow), so iputils sees one, two or
# three of them from run to run, or none at all when the run before used
# up the tokens, and which (with one, iputils prints no "pipe" line but
# an empty one); and when the first error comes (ARP gives up after
# about 3 s) decides how many requests a -w run sent. So the error lines
# and the error count are masked out entirely here: netsock's own lines
# and counts are checked by the callers.
mask_errors() {
    mask "$1" | sed -E -e 's/, \+[0-9]+ errors//' -e '/^pipe [0-9]+$/d' \
        -e 's/^[0-9]+ packets transmitted/N packets transmitted/' \
        -e '/packets transmitted/,$ {/^$/d}' \
        -e '/Destination Host Unreachable$/d' | uniq
}
# same_as_iputils WHAT NETSOCK_NAME KERNEL_NAME [MASK]
same_as_iputils() {
    local m=${4:-mask}
    if ! diff <("$m" "$TMP/$2.out") <("$m" "$TMP/$3.out") >"$TMP/$2.diff"; then
        echo "--- netsock ping, iputils ping (masked):" >&2
        cat "$TMP/$2.diff" >&2
        fail "$1: netsock ping's output differs from iputils'"
    fi
    [ "$rc" = "$krc" ] || fail "$1: exit status $rc, iputils $krc"
    echo "   $1: same as iputils, exit status $rc"
}

log "replies: -c3 -i0.2 and bundled -qc2, as iputils"
np n-reply -c3 -i0.2 "$KERNEL_IP"
kp k-reply -c3 -i0.2 "$KERNEL_IP"
same_as_iputils "-c3 -i0.2" n-reply k-reply
[ "$rc" = 0 ] || fail "replies: exit status $rc"
np n-quiet -qc2 -i0.2 "$KERNEL_IP"
kp k-quiet -qc2 -i0.2 "$KERNEL_IP"
same_as_iputils "-qc2" n-quiet k-quiet

log "a neighbour that never answers ARP: Destination Host Unreachable"
np n-unreach -c 3 -i 0.5 "$NOBODY"
kp k-unreach -c 3 -i 0.5 "$NOBODY"
same_as_iputils "unreachable" n-unreach k-unreach mask_errors
grep -q "^From $NETSOCK_IP icmp_seq=3 Destination Host Unreachable$" "$TMP/n-unreach.out" ||
    fail "no 'From $NETSOCK_IP icmp_seq=3 Destination Host Unreachable'"
grep -q "^3 packets transmitted, 0 received, +3 errors, 100% packet loss" "$TMP/n-unreach.out" ||
    fail "unreachable: summary"
[ "$rc" = 1 ] || fail "unreachable: exit status $rc, want 1"
np n-outst -O -c 3 -i 0.3 "$NOBODY2"
kp k-outst -O -c 3 -i 0.3 "$NOBODY2"
same_as_iputils "-O" n-outst k-outst mask_errors
grep -q "^no answer yet for icmp_seq=2$" "$TMP/n-outst.out" || fail "-O: no 'no answer yet'"
grep -q "^From $NETSOCK_IP icmp_seq=[0-9]* Destination Host Unreachable$" "$TMP/n-outst.out" ||
    fail "-O: no 'Destination Host Unreachable' once ARP gave up"
grep -qE "^3 packets transmitted, 0 received, \+[1-3] errors, 100% packet loss" "$TMP/n-outst.out" ||
    fail "-O: summary without the errors"

log "-w deadline"
np n-dead -w 1 -i 0.3 "$KERNEL_IP"
[ "$rc" = 0 ] || fail "-w 1 with replies: exit status $rc"
grep -qE "^[34] packets transmitted, [34] received, 0% packet loss, time [0-9]+ms$" "$TMP/n-dead.out" ||
    { cat "$TMP/n-dead.out" >&2; fail "-w 1 -i 0.3: expected 3 or 4 requests, all answered"; }
np n-dead-un -w 5 -c 2 -i 0.3 "$NOBODY3"
kp k-dead-un -w 5 -c 2 -i 0.3 "$NOBODY3"
same_as_iputils "-w to an unreachable host" n-dead-un k-dead-un mask_errors
# It stopped at the first error (ARP gives up after 3 s: about 11
# requests), not at the 5 s deadline (17).
sent=$(sed -nE 's/^([0-9]+) packets transmitted.*/\1/p' "$TMP/n-dead-un.out")
[ -n "$sent" ] && [ "$sent" -ge 9 ] && [ "$sent" -le 14 ] ||
    fail "-w to an unreachable host: $sent requests sent, want 9 to 14 (the first error ends it)"
[ "$rc" = 1 ] || fail "-w to an unreachable host: exit status $rc"

log "no route: connect: Network is unreachable, exit 2"
np n-noroute -c 1 198.18.0.1
kp k-noroute -c 1 198.18.0.1
[ "$rc" = 2 ] && [ "$krc" = 2 ] || fail "no route: exit status $rc (iputils $krc), want 2"
grep -q "^netsock ping: connect: Network is unreachable$" "$TMP/n-noroute.err" ||
    fail "no route: stderr '$(cat "$TMP/n-noroute.err")'"
grep -q "^ping: connect: Network is unreachable$" "$TMP/k-noroute.err" ||
    fail "iputils says '$(cat "$TMP/k-noroute.err")' here: the test's premise is wrong"
[ ! -s "$TMP/n-noroute.out" ] || fail "no route: something was printed on stdout"

log "-D, -p on the wire, -I, -s 8, -f"
np n-ts -D -c 2 -i 0.2 "$KERNEL_IP"
[ "$(grep -cE '^\[[0-9]{10}\.[0-9]{6}\] 64 bytes from ' "$TMP/n-ts.out")" = 2 ] || fail "-D: no timestamps"
np n-pat -c 2 -i 0.2 -p ab12 --pcap "$TMP/pat.pcap" "$KERNEL_IP"
kp k-pat -c 2 -i 0.2 -p ab12 "$KERNEL_IP"
same_as_iputils "-p ab12" n-pat k-pat
head -1 "$TMP/n-pat.out" | grep -q "^PATTERN: 0xab12$" || fail "-p: no PATTERN line"
# Bytes 16.. of the 56-byte payload are the pattern, both ways: ICMP data
# starts at offset 14 + 20 + 8 of each frame.
python3 - "$TMP/pat.pcap" <<'PY' || fail "-p: the pattern is not on the wire"
import struct, sys
data = open(sys.argv[1], 'rb').read()
off, echoes = 24, 0
while off + 16 <= len(data):
    incl = struct.unpack_from('<I', data, off + 8)[0]
    frame = data[off + 16: off + 16 + incl]
    off += 16 + incl
    if len(frame) >= 42 + 56 and frame[12:14] == b'\x08\x00' and frame[23] == 1 and frame[34] in (0, 8):
        payload = frame[42:42 + 56]
        assert payload[16:] == (b'\xab\x12' * 20), payload.hex()
        echoes += 1
assert echoes == 4, echoes
PY
np n-if -c 1 -I "$TAP" "$KERNEL_IP"
kp k-if -c 1 -I "$TAP" "$KERNEL_IP"
head -1 "$TMP/n-if.out" | grep -q "^PING $KERNEL_IP ($KERNEL_IP) from $NETSOCK_IP $TAP: 56(84) bytes of data.$" ||
    fail "-I $TAP: header '$(head -1 "$TMP/n-if.out")'"
[ "$(mask "$TMP/n-if.out" | head -1)" = "$(mask "$TMP/k-if.out" | head -1)" ] ||
    fail "-I: header differs from iputils' '$(head -1 "$TMP/k-if.out")'"
np n-ifaddr -c 1 -I 192.0.2.77 "$KERNEL_IP"
[ "$rc" = 2 ] && grep -q "bind: Cannot assign requested address" "$TMP/n-ifaddr.err" ||
    fail "-I with another address: exit status $rc, $(cat "$TMP/n-ifaddr.err")"
np n-ifbad -c 1 -I nsknone0 "$KERNEL_IP"
[ "$rc" = 2 ] && grep -q "SO_BINDTODEVICE nsknone0: No such device" "$TMP/n-ifbad.err" ||
    fail "-I with another interface: exit status $rc, $(cat "$TMP/n-ifbad.err")"
np n-small -c 2 -i 0.2 -s 8 "$KERNEL_IP"
kp k-small -c 2 -i 0.2 -s 8 "$KERNEL_IP"
same_as_iputils "-s 8 (no timing)" n-small k-small
np n-flood -f -c 200 "$KERNEL_IP"
grep -q "^200 packets transmitted, 200 received, 0% packet loss" "$TMP/n-flood.out" || fail "-f: lost requests"
grep -q ", ipg/ewma [0-9.]*/[0-9.]* ms$" "$TMP/n-flood.out" || fail "-f: no ipg/ewma"
[ "$(head -c 300 "$TMP/n-flood.out" | tail -c +50 | tr -cd '.' | wc -c)" -ge 1 ] || fail "-f: no dots"

log "--json"
np n-json -c 2 -i 0.2 -p ff --json "$KERNEL_IP"
python3 - "$TMP/n-json.out" <<'PY' || fail "--json: $(cat "$TMP/n-json.out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["destination"] == "192.0.2.1" and d["source"] == "192.0.2.2" and d["pattern"] == "ff"
assert d["transmitted"] == 2 and d["received"] == 2 and d["errors"] == 0 and d["exit_status"] == 0
assert [e["seq"] for e in d["events"] if e["type"] == "reply"] == [1, 2]
assert all(e["bytes"] == 64 and e["ttl"] == 64 and e["time_ms"] > 0 for e in d["events"])
assert d["rtt_ms"]["min"] <= d["rtt_ms"]["avg"] <= d["rtt_ms"]["max"]
PY
np n-json-un -c 2 -i 0.3 --json "$NOBODY4"
[ "$rc" = 1 ] || fail "--json unreachable: exit status $rc"
python3 - "$TMP/n-json-un.out" <<'PY' || fail "--json unreachable: $(cat "$TMP/n-json-un.out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["received"] == 0 and d["errors"] == 2 and d["rtt_ms"] is None and d["exit_status"] == 1
assert [e["message"] for e in d["events"]] == ["Destination Host Unreachable"] * 2
PY
nsk_pass
