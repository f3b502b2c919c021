#!/usr/bin/env bash
# tests/interop/test_run_curl.sh — `netsock run` with curl and a shell:
#
#   kernel 192.0.2.1 (python3 http.server) ─tap─ netsock run 192.0.2.2 -- curl | sh
#
#   1. curl under netsock downloads 20 MB from the kernel's HTTP server,
#      byte-exact, and the stack's counters show the connection and the
#      bytes;
#   2. `sh -c 'curl ... | sha256sum'`: sh forks, curl is exec'd and gets
#      netsock too; the digest is the file's; socat uploads 20 MB over a
#      link impaired to 200 Mbit/s and exits long before TCP has sent it
#      all: netsock run still delivers every byte (the drain);
#   2b. a program that exits without closing a connection, a UDP socket,
#      a listener, with a forked child that held them too: netsock run
#      exits 0 (in the sanitizer build, with no leak), the kernel's peer
#      gets every byte and the end of the stream;
#   3. exit status: `sh -c 'exit 3'` exits 3, a program killed by SIGTERM
#      exits 143, a program that does not exist 127; the child starts with
#      SIGPIPE at its default (`yes | head -1` ends);
#   4. while curl downloads slowly, `netsock stat` shows its connection
#      (the run's stack, like a host's); SIGTERM to netsock run reaches
#      curl, and netsock run exits with curl's status.
#
# Usage: test_run_curl.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in curl python3 sha256sum socat; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool"
done
nsk_setup
. "$(dirname "$0")/run_lib.sh"
export NETSOCK_RUN_DIR=$TMP

run_link
mkdir "$TMP/www"
head -c 20000000 /dev/urandom >"$TMP/www/blob"
want=$(sha <"$TMP/www/blob")
ip netns exec "$NS" python3 -m http.server 8000 --bind "$KERNEL_IP" --directory "$TMP/www" \
    >"$TMP/http.log" 2>&1 </dev/null &
NSK_PIDS+=($!)
for _ in $(seq 100); do
    in_ns curl -s -o /dev/null "http://$KERNEL_IP:8000/" && break
    sleep 0.1
done
URL=http://$KERNEL_IP:8000/blob

log "netsock run -- curl $URL (20 MB)"
run_fg curl1 -- curl -sS -o "$TMP/got" "$URL"
[ "$RUN_RC" = 0 ] || fail "curl exited $RUN_RC"
got=$(sha <"$TMP/got")
[ "$got" = "$want" ] || fail "download: $(stat -c %s "$TMP/got") bytes, sha256 $got, want $want"
[ "$(nsk_counter "$TMP/curl1.log" tcp_active_opens)" = 1 ] || fail "the stack did not make curl's connection"
recv=$(sed -n 's/.* \([0-9]*\) received, .*/\1/p' "$TMP/curl1.log")
[ "${recv:-0}" -ge 20000000 ] || fail "the stack passed ${recv:-0} bytes to curl, not 20000000"
echo "   20000000 bytes, sha256 matches; $recv bytes through the stack"

log "netsock run -- sh -c 'curl | sha256sum' (fork and exec)"
run_fg pipe -- sh -c "curl -sS $URL | sha256sum"
[ "$RUN_RC" = 0 ] || fail "sh exited $RUN_RC"
got=$(cut -c1-64 "$TMP/pipe.out")
[ "$got" = "$want" ] || fail "curl | sha256sum printed '$(cat "$TMP/pipe.out")', want $want"
[ "$(nsk_counter "$TMP/pipe.log" tcp_active_opens)" = 1 ] || fail "curl, exec'd by sh, did not use netsock"

log "a program that exits before TCP has sent its bytes (200 Mbit/s link)"
head -c 20000000 /dev/urandom >"$TMP/up.in"
ip netns exec "$NS" timeout 30 socat -u TCP-LISTEN:7002,bind="$KERNEL_IP",reuseaddr \
    "OPEN:$TMP/up.out,creat" >"$TMP/up-server.log" 2>&1 </dev/null &
up_server=$!
NSK_PIDS+=("$up_server")
for _ in $(seq 100); do
    case $(in_ns ss -Htln "sport = :7002") in *7002*) break ;; esac
    sleep 0.05
done
run_fg upload --impair rate=200mbit -- socat -u "OPEN:$TMP/up.in" "TCP:$KERNEL_IP:7002"
[ "$RUN_RC" = 0 ] || fail "socat exited $RUN_RC"
wait "$up_server" || fail "the kernel's receiver failed: $(cat "$TMP/up-server.log")"
cmp -s "$TMP/up.in" "$TMP/up.out" || fail "upload: $(stat -c %s "$TMP/up.out") bytes arrived of 20000000"
echo "   20000000 bytes arrived, the same; netsock run waited for TCP after socat exited"

log "a program that exits holding sockets (a connection, UDP, a listener, a forked child's)"
ip netns exec "$NS" timeout 30 socat -u TCP-LISTEN:7003,bind="$KERNEL_IP",reuseaddr \
    "OPEN:$TMP/held.out,creat" >"$TMP/held-server.log" 2>&1 </dev/null &
held_server=$!
NSK_PIDS+=("$held_server")
for _ in $(seq 100); do
    case $(in_ns ss -Htln "sport = :7003") in *7003*) break ;; esac
    sleep 0.05
done
run_fg held -- python3 -c "
import os, socket
s = socket.create_connection(('$KERNEL_IP', 7003))
s.sendall(b'x' * 100000)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b'u', ('$KERNEL_IP', 9))
l = socket.socket()
l.bind(('0.0.0.0', 0))
l.listen()
if os.fork() == 0:
    os._exit(0)
os.wait()
os._exit(0)"
[ "$RUN_RC" = 0 ] || fail "netsock run exited $RUN_RC for a program that left its sockets open"
wait "$held_server" || fail "the kernel's receiver did not see the connection end: $(cat "$TMP/held-server.log")"
[ "$(stat -c %s "$TMP/held.out")" = 100000 ] || fail "held: $(stat -c %s "$TMP/held.out") bytes arrived of 100000"
grep -q "program exited (status 0); 3 sockets" "$TMP/held.log" ||
    fail "netsock run did not serve the program's 3 sockets: $(grep 'program exited' "$TMP/held.log")"
echo "   netsock run exited 0 (no leak: ASan's leak check runs at its exit), the peer got all and a FIN"

log "exit status"
run_fg exit3 -- sh -c 'exit 3'
[ "$RUN_RC" = 3 ] || fail "netsock run -- sh -c 'exit 3' exited $RUN_RC"
run_fg killed -- sh -c 'kill -TERM $$'
[ "$RUN_RC" = 143 ] || fail "a program killed by SIGTERM: netsock run exited $RUN_RC, want 143"
run_fg missing -- /nonexistent/program
[ "$RUN_RC" = 127 ] || fail "a program that does not exist: exited $RUN_RC, want 127"
grep -q "netsock run: /nonexistent/program: No such file or directory" "$TMP/missing.log" ||
    fail "no message for the missing program: $(cat "$TMP/missing.log")"
run_fg sigpipe -- sh -c 'yes | head -n 1'
[ "$RUN_RC" = 0 ] && [ "$(cat "$TMP/sigpipe.out")" = y ] || fail "yes | head -n 1: exited $RUN_RC"
echo "   3, 143 (SIGTERM), 127 (no such program), SIGPIPE at its default"

log "netsock stat while curl downloads; SIGTERM reaches curl"
run_bg slow -- curl -sS --limit-rate 200k -o /dev/null "$URL"
slow=$NSK_LAST_PID
ok=0
for _ in $(seq 100); do
    if in_ns "$NETSOCK" stat --name slow -tn >"$TMP/stat.txt" 2>&1 &&
        grep -q "ESTAB .* $KERNEL_IP:8000" "$TMP/stat.txt"; then
        ok=1
        break
    fi
    sleep 0.1
done
[ "$ok" = 1 ] || { cat "$TMP/stat.txt"; fail "netsock stat does not show curl's connection"; }
sed 's/^/   /' "$TMP/stat.txt"
run_stop "$slow" slow
[ "$RUN_RC" = 143 ] || fail "after SIGTERM netsock run exited $RUN_RC, want curl's 143"
nsk_pass
