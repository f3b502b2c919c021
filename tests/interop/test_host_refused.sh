#!/usr/bin/env bash
# tests/interop/test_host_refused.sh — closed ports on a netsock host, seen
# from the Linux kernel over TAP:
#
#     kernel 192.0.2.1 ─tap─ netsock host 192.0.2.2 (echo and http only)
#
#   1. TCP: curl to a closed port (81; and 9, discard, which is not served)
#      fails at once with "Connection refused" (exit status 7); on the wire
#      (tcpdump on the kernel's side) netsock answered the SYN with a RST:
#      no SYN-ACK, flags R+ACK, seq 0, ack = the SYN's seq + 1 (RFC 9293
#      3.10.7.1); the SYN was not retransmitted.
#   2. UDP: a kernel-side connected UDP socket sends to a closed port (9, and
#      5555); netsock answers with ICMP port unreachable (type 3 code 3)
#      quoting the datagram, so the socket's next recv fails with
#      ECONNREFUSED (ConnectionRefusedError in Python).
#   3. The open ports still work: curl GET / is 200, UDP echo answers.
# Usage: test_host_refused.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl socat python3; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export NETSOCK_RUN_DIR=$TMP

TAP=nshr$$
TAP=${TAP:0:15}

log "netsock host on $TAP, serving echo and http"
nsk_netsock_bg host host --link "tap:$TAP" --addr "$NETSOCK_IP/24" --gw "$KERNEL_IP" \
    --name "$TAP" --serve echo,http --pcap "$TMP/host-netsock.pcap"
host=$NSK_LAST_PID
nsk_wait_dev "$TAP"
nsk_kernel_side "$TAP"
nsk_capture tap "$TAP"
kernel_ping k-small -c 3 -i 0.2 -W 2
expect_summary "$TMP/k-small.out" 3

# tcp_refused PORT: curl to PORT is refused at once; the capture gets checked
# afterwards.
tcp_refused() {
    local port=$1 rc t0 t1
    log "TCP: curl to closed port $port"
    t0=$(nsk_now)
    set +e
    in_ns curl -sS -v --connect-timeout 5 -m 10 "http://$NETSOCK_IP:$port/" >"$TMP/curl-$port.out" 2>&1
    rc=$?
    set -e
    t1=$(nsk_now)
    grep -E "Failed to connect|Connection refused|connect to" "$TMP/curl-$port.out" | sed 's/^/   /'
    [ "$rc" = 7 ] || { cat "$TMP/curl-$port.out" >&2; fail "curl to port $port: exit status $rc, want 7"; }
    grep -q "Connection refused" "$TMP/curl-$port.out" ||
        { cat "$TMP/curl-$port.out" >&2; fail "curl to port $port: no 'Connection refused'"; }
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 1) }' ||
        fail "curl to port $port took $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s (a SYN retransmitted?)"
}

# udp_refused PORT: a connected UDP socket sends to PORT; recv fails with
# ECONNREFUSED.
udp_refused() {
    local port=$1
    log "UDP: connected socket to closed port $port"
    in_ns python3 -c '
import socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect((ip, port))
s.send(b"anyone there?")
try:
    data = s.recv(2048)
except ConnectionRefusedError as e:
    print("   recv:", e)
    sys.exit(0)
except socket.timeout:
    print("recv: timed out, no ICMP port unreachable", file=sys.stderr)
    sys.exit(1)
print("recv: got %r from a closed port" % data, file=sys.stderr)
sys.exit(1)
' "$NETSOCK_IP" "$port" || fail "UDP to closed port $port: no ECONNREFUSED"
}

tcp_refused 81
tcp_refused 9
udp_refused 9
udp_refused 5555

log "open ports still answer"
code=$(in_ns curl -sS -m 10 -o /dev/null -w '%{http_code}' "http://$NETSOCK_IP/")
[ "$code" = 200 ] || fail "GET /: $code"
got=$(echo hello-udp | in_ns timeout 10 socat -t 2 - "UDP:$NETSOCK_IP:7")
[ "$got" = hello-udp ] || fail "UDP echo: '$got'"

log "the capture on the kernel's side"
sleep 0.2
nsk_capture_stop tap
cap() { tcpdump -r "$TMP/tap.pcap" -n -S "$@" 2>/dev/null; }
for port in 81 9; do
    syns=$(cap "tcp and dst host $NETSOCK_IP and dst port $port and tcp[tcpflags] == tcp-syn")
    rsts=$(cap "tcp and src host $NETSOCK_IP and src port $port")
    echo "$syns" | sed 's/^/   /'
    echo "$rsts" | sed 's/^/   /'
    [ "$(echo "$syns" | grep -c .)" = 1 ] || fail "port $port: expected one SYN (no retransmission)"
    [ "$(echo "$rsts" | grep -c .)" = 1 ] || fail "port $port: expected exactly one segment back"
    seq=$(echo "$syns" | sed -n 's/.* seq \([0-9]*\),.*/\1/p')
    want_ack=$(( (seq + 1) % 4294967296 ))
    echo "$rsts" | grep -q "Flags \[R\.\], seq 0, ack $want_ack, win 0, length 0" ||
        fail "port $port: want RST+ACK seq 0 ack $want_ack"
done
for port in 9 5555; do
    icmp=$(cap "icmp and src host $NETSOCK_IP and icmp[icmptype] == icmp-unreach and icmp[icmpcode] == 3")
    echo "$icmp" | grep -q "udp port $port unreachable" ||
        { echo "$icmp" >&2; fail "no ICMP port unreachable for UDP port $port on the wire"; }
done
cap "icmp and src host $NETSOCK_IP and icmp[icmptype] == icmp-unreach" | sed 's/^/   /'

nsk_stop "$host"
nsk_check_log host
grep -q "tcp_tx_rst" "$TMP/host.log" || fail "no tcp_tx_rst counted"
nsk_pass
