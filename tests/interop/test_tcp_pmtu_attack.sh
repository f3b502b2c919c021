#!/usr/bin/env bash
# tests/interop/test_tcp_pmtu_attack.sh — forged ICMP "fragmentation
# needed" with MTU 100 aimed at a netsock connection during a transfer
# (RFC 5927 §7: the PMTUD attack), over TAP without offloads:
#
#     kernel 192.0.2.1 (curl, forger) ─tap─ netsock host 192.0.2.2 (/bytes)
#
#   1. curl GET /bytes/N from `netsock host --offload off`: the goodput
#      without the attack;
#   2. the same transfer while a raw socket in the namespace reads
#      netsock's segments off the TAP and answers the latest with a burst
#      of forged ICMP type 3 code 4, next-hop MTU 100, quoting its IP
#      header and its TCP ports with sequence numbers from its own up to
#      8 MiB past it (one lies in flight, so RFC 5927's check passes, as
#      for a blind attacker), round after round until netsock's segments
#      shrink: the SHA-256 is right, netsock counted the
#      reports (tcp_pmtu_updates), and the data segments it sent (captured
#      on the TAP) carry 500 bytes from then on (Linux min_pmtu 552, less
#      headers and timestamps), under 1 % of them fewer than 100 — before,
#      the MSS fell to 64 for good. The MSS `netsock stat` shows is printed
#      (and checked) when the busy host answers in time.
# Both goodputs and their ratio are printed; the ratio is not asserted
# (a rate on a shared 2-core machine is a benchmark, not a test).
# Usage: test_tcp_pmtu_attack.sh BUILD_DIR (as root; exit 77 = skipped).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl sha256sum python3; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export NETSOCK_RUN_DIR=$TMP

TAP=nspa$$
TAP=${TAP:0:15}
N=134217728

log "netsock host on $TAP, --offload off"
nsk_netsock_bg host host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --name pa --serve http \
    --offload off
HOST=$NSK_LAST_PID
nsk_wait_dev "$TAP"
nsk_kernel_side "$TAP"
kernel_ping ping -c 2 -i 0.2 -W 2
expect_summary "$TMP/ping.out" 2
want=$(pattern_sha "$N")

# get NAME: curl GET /bytes/N, checked; prints "seconds" on stdout.
get() {
    local t0 t1 got
    t0=$(nsk_now)
    got=$(in_ns curl -sS -m 110 "http://$NETSOCK_IP/bytes/$N" | sha)
    t1=$(nsk_now)
    [ "$got" = "$want" ] || fail "$1: /bytes/$N: sha256 $got, want $want"
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

log "1. GET /bytes/$N without the attack"
base=$(get base)
goodput "no attack" "$N" 0 "$base"

log "2. GET /bytes/$N with forged ICMP frag-needed, MTU 100"
cat >"$TMP/forge.py" <<'EOF'
# Read netsock's segments off the TAP (kernel side) and answer the latest
# with a burst of ICMP destination unreachable / fragmentation needed,
# next-hop MTU 100, until netsock's data segments come at most 552 bytes
# long (or 30 s pass); print the rounds and whether they took.
import socket, struct, sys, time
dev, src = sys.argv[1], sys.argv[2]
icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def data_segments(sniff):
    # netsock's TCP segments with payload: (IP header, 8 TCP bytes, IP length)
    while True:
        ip = sniff.recv(65535)[14:]
        if len(ip) < 40 or ip[9] != 6 or socket.inet_ntoa(ip[12:16]) != src:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        if total - ihl - (ip[ihl + 12] >> 4) * 4 > 0:
            yield ip[:ihl], ip[ihl:ihl + 8], total

rounds, took, deadline = 0, False, time.time() + 30
while not took and time.time() < deadline:
    # A fresh socket each round: its first segment is the newest one.
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    sniff.bind((dev, 0))
    sniff.settimeout(5)
    segs = data_segments(sniff)
    iph, tcp8, total = next(segs)
    # Acknowledged within microseconds on this link: quote sequence numbers
    # from this one to 8 MiB past it, so that one lies in flight
    # (SND.UNA..SND.NXT) when the error arrives, as a blind attacker would.
    seq = struct.unpack("!I", tcp8[4:8])[0]
    for k in range(1024):
        q = tcp8[:4] + struct.pack("!I", (seq + k * 8192) & 0xffffffff)
        body = struct.pack("!BBHHH", 3, 4, 0, 0, 100) + iph + q
        body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
        icmp.sendto(body, (src, 0))
    rounds += 1
    time.sleep(0.2)
    small = 0
    for _ in range(200):
        small = small + 1 if next(segs)[2] <= 552 else 0
        if small >= 20:
            took = True
            break
    sniff.close()
print("forged rounds", rounds, "took" if took else "did not take")
EOF
nsk_capture attack "$TAP" 96
in_ns python3 "$TMP/forge.py" "$TAP" "$NETSOCK_IP" >"$TMP/forge.log" 2>&1 &
FORGER=$!
NSK_PIDS+=("$FORGER")
sleep 0.3
t0=$(nsk_now)
in_ns curl -sS -m 110 "http://$NETSOCK_IP/bytes/$N" -o "$TMP/attacked.out" &
CURL=$!
NSK_PIDS+=("$CURL")
# While the transfer runs and after the forger is done: the connection's
# MSS, if the host (busy with small segments) answers in time.
mss=""
for _ in $(seq 300); do
    if ! kill -0 "$FORGER" 2>/dev/null; then
        mss=$(in_ns "$NETSOCK" stat --name pa 2>/dev/null |
            sed -n "s/.*ESTAB.*$KERNEL_IP.* mss:\([0-9]*\).*/\1/p" | head -n 1) || true
        break
    fi
    sleep 0.1
done
wait "$CURL" || fail "curl under attack: exit status $?"
t1=$(nsk_now)
cat "$TMP/forge.log"
grep -q "^forged rounds [1-9]" "$TMP/forge.log" || fail "the forger sent nothing"
got=$(sha <"$TMP/attacked.out")
[ "$got" = "$want" ] || fail "under attack: sha256 $got, want $want"
attacked=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }')
goodput "forged MTU 100" "$N" 0 "$attacked"
awk -v a="$base" -v b="$attacked" 'BEGIN { printf "   goodput under attack / without: %.2f\n", a / b }'
nsk_capture_stop attack
echo "   MSS of the attacked connection (netsock stat): ${mss:-no answer in time}"
[ -z "$mss" ] || [ "$mss" -ge 500 ] || fail "MSS $mss after forged MTU 100: below Linux's floor"
# The segments netsock sent, by payload size: after the attack 500 bytes
# (552 less headers and timestamps, with the tails of its 16 KiB writes
# shorter), not the 52 it used to fall to.
tcpdump -q -n -r "$TMP/attack.pcap" "tcp and src host $NETSOCK_IP" 2>/dev/null |
    sed -n 's/.*: tcp \([0-9]*\).*/\1/p' | awk '
        $1 > 0 { all++ } $1 > 0 && $1 < 100 { tiny++ } $1 >= 400 && $1 <= 600 { floor++ }
        $1 > 600 { full++ } END { printf "%d %d %d %d\n", all, tiny, floor, full }' >"$TMP/sizes"
read -r all tiny floor full <"$TMP/sizes"
echo "   netsock's data segments: $all; $full above 600 bytes, $floor of 400-600 (the floor)," \
    "$tiny below 100"
[ "$floor" -gt 1000 ] || fail "only $floor segments at the 552-byte floor: the reports did not take"
[ "$((tiny * 100))" -lt "$all" ] || fail "$tiny of $all data segments below 100 bytes: MSS below the floor"

nsk_stop "$HOST"
nsk_check_log host
upd=$(nsk_counter "$TMP/host.log" tcp_pmtu_updates)
echo "   netsock tcp_pmtu_updates: $upd"
[ "$upd" -ge 1 ] || fail "netsock took none of the reports: the attack did not land"
nsk_pass
