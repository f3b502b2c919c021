#!/usr/bin/env bash
# tests/interop/test_run_fdsem.sh — netsock sockets under `netsock run` are
# real descriptors that behave as the kernel's: tests/interop/run_fdsem.c
# runs its checks (dup, dup2 onto a socket and of a pipe onto one, fcntl
# F_DUPFD; poll, select and epoll mixing a pipe and a socket, one socket
# in two epoll sets, nested epoll, EPOLLET; close in one thread while
# another is blocked in recv, shutdown waking one; signals with and
# without SA_RESTART in recv, accept and a connect whose SYNs a full
# listener drops; MSG_DONTWAIT, FIONBIO, FIONREAD,
# MSG_PEEK, MSG_WAITALL, readv/writev, sendfile, shutdown and the peer's
# FIN, a reset by the peer (ECONNRESET once, then EPIPE); options and
# their errors, TCP_INFO's state numbers (established, CLOSE_WAIT,
# listening), TCP_INQ's control message, TCP_NOTSENT_LOWAT (its value, and
# what a writer can queue while the peer does not read); non-blocking and refused connects with poll and SO_ERROR;
# accept4 flags; fork; UDP with addresses, truncation, SO_TIMESTAMP(NS)
# and ICMP errors;
# AF_UNIX and AF_NETLINK sockets passed to the kernel untouched)
# once on the kernel's sockets and once under netsock run against the same
# kernel server, and the two transcripts must be the same, line for line.
#
#   kernel 192.0.2.1 (run_fdsem server) ─tap─ netsock run 192.0.2.2 -- run_fdsem client
#
# Usage: test_run_fdsem.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
command -v cc >/dev/null || nsk_skip "needs cc"
nsk_setup
. "$(dirname "$0")/run_lib.sh"
export NETSOCK_RUN_DIR=$TMP

log "build run_fdsem"
cc -O1 -g -Wall -Wextra -Werror -pthread -o "$TMP/run_fdsem" "$(dirname "$0")/run_fdsem.c" ||
    fail "cannot build run_fdsem.c"
run_link
PORT=7000
CLOSED=9 # nothing listens there: the kernel answers with a RST, or ICMP for UDP
ip netns exec "$NS" "$TMP/run_fdsem" server "$KERNEL_IP" "$PORT" >"$TMP/server.log" 2>&1 </dev/null &
NSK_PIDS+=($!)
for _ in $(seq 100); do
    grep -q serving "$TMP/server.log" && break
    sleep 0.05
done

log "the checks on the kernel's sockets"
in_ns timeout 60 "$TMP/run_fdsem" client "$KERNEL_IP" "$PORT" "$CLOSED" >"$TMP/kernel.txt" 2>&1 ||
    { cat "$TMP/kernel.txt"; fail "run_fdsem on the kernel's sockets failed"; }
log "the same checks under netsock run"
run_fg fdsem -- "$TMP/run_fdsem" client "$KERNEL_IP" "$PORT" "$CLOSED"
cp "$TMP/fdsem.out" "$TMP/netsock.txt"
[ "$RUN_RC" = 0 ] || { cat "$TMP/netsock.txt"; fail "run_fdsem under netsock run exited $RUN_RC"; }
if ! diff -u "$TMP/kernel.txt" "$TMP/netsock.txt" >"$TMP/diff.txt"; then
    cat "$TMP/diff.txt" >&2
    fail "netsock's sockets behaved differently from the kernel's (- kernel, + netsock)"
fi
checks=$(grep -vc '^==' "$TMP/kernel.txt")
# The transcripts could only be equal because both used the kernel if the
# library did nothing: the stack's counters say it carried the connections.
conns=$(run_tcp_conns "$TMP/fdsem.log")
[ "$conns" -ge 20 ] || fail "the stack made only $conns TCP connections: the checks did not use netsock"
echo "   $checks checks, the same on the kernel's sockets and netsock's ($conns TCP connections through netsock)"
nsk_pass
