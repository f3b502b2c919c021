#!/usr/bin/env bash
# tests/interop/test_host_packet.sh — `netsock host` over AF_PACKET on one
# end of a veth pair, with the Linux kernel on the other end:
#
#     kernel 192.0.2.1 [nsqa] ══veth══ [nsqb] AF_PACKET netsock host 192.0.2.2
#
# Both ends live in the test's namespace; nsqb has no address, so the kernel
# leaves its traffic to netsock. The kernel side keeps its default
# offloads — partial checksums (netsock completes them) and TSO/GSO: a veth
# hands its peer the unsegmented skb, which AF_PACKET delivers as one frame
# of up to 64 KiB: the ring's slots hold 64 KiB, and the test checks that
# netsock dropped no received frame with the kernel's default offloads on.
# The core transfers of test_host_tap.sh: curl GET /bytes/16777216 has the
# SHA-256 of the pattern, curl POST of 16 MiB to /sink answers its length
# and SHA-256, socat to echo with 4 MiB comes back identical; UDP echo.
# The goodput of each is printed.
# Usage: test_host_packet.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl socat sha256sum python3; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
export NETSOCK_RUN_DIR=$TMP

VA=nsqa$$
VB=nsqb$$
VA=${VA:0:15}
VB=${VB:0:15}
in_ns ip link add "$VA" type veth peer name "$VB" || nsk_skip "cannot create a veth pair"
nsk_kernel_side "$VA"
in_ns ip link set "$VB" up
nsk_capture veth "$VA" 128

log "netsock host on $VB (AF_PACKET)"
nsk_netsock_bg host host --link "packet:$VB" --addr "$NETSOCK_IP/24" --name "$VB"
host=$NSK_LAST_PID
for _ in $(seq 100); do
    [ -S "$TMP/$VB.sock" ] && break
    kill -0 "$host" 2>/dev/null || fail "netsock host exited: $(cat "$TMP/host.log")"
    sleep 0.05
done
kernel_ping k-small -c 3 -i 0.2 -W 2
expect_summary "$TMP/k-small.out" 3

host_get 16777216 60
host_sink 16777216 60
host_echo 4194304 60

log "UDP echo"
got=$(echo hello-udp | in_ns timeout 10 socat -t 2 - "UDP:$NETSOCK_IP:7")
[ "$got" = hello-udp ] || fail "UDP echo: '$got'"

log "SIGTERM: counters printed"
nsk_capture_stop veth
nsk_stop "$host"
nsk_check_log host
grep -q "tcp_passive_opens" "$TMP/host.log" || fail "no counters after SIGTERM"
grep -q "^ *$VB: rx [0-9]* frames [0-9]* bytes 0 dropped" "$TMP/host.log" ||
    fail "netsock dropped received frames: $(grep "^ *$VB: rx" "$TMP/host.log")"
nsk_pass
