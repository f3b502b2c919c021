#!/usr/bin/env bash
# tests/interop/test_run_nginx.sh — nginx under `netsock run`: a master and
# two worker processes, which inherit the master's listening socket across
# fork and accept from it at once (epoll, EPOLLEXCLUSIVE, accept4), and
# serve with sendfile:
#
#   kernel 192.0.2.1 (20 parallel curl) ─tap─ netsock run 192.0.2.2 -- nginx
#
#   1. 200 requests from 20 parallel kernel clients (10 each, keep-alive
#      off and on): every answer 200 and byte-exact, for a 1 MB file
#      (sendfile) and a small one;
#   2. both workers served (the access log names the pid of each request);
#   3. SIGTERM to netsock run reaches nginx, which stops its workers and
#      exits 0: so does netsock run.
#
# Usage: test_run_nginx.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || nsk_skip "needs nginx (scripts/bootstrap installs nginx-light)"
command -v curl >/dev/null || nsk_skip "needs curl"
nsk_setup
. "$(dirname "$0")/run_lib.sh"
export NETSOCK_RUN_DIR=$TMP

run_link
W=$TMP/nginx
mkdir -p "$W/www" "$W/logs"
head -c 1000000 /dev/urandom >"$W/www/big"
echo "small file" >"$W/www/small"
cat >"$W/nginx.conf" <<EOF
daemon off;
user root;
master_process on;
worker_processes 2;
pid $W/nginx.pid;
error_log $W/logs/error.log notice;
events { worker_connections 256; }
http {
    log_format withpid '\$pid \$status \$request_uri \$bytes_sent';
    access_log $W/logs/access.log withpid;
    sendfile on;
    keepalive_requests 100;
    client_body_temp_path $W/body;
    proxy_temp_path $W/proxy;
    fastcgi_temp_path $W/fastcgi;
    uwsgi_temp_path $W/uwsgi;
    scgi_temp_path $W/scgi;
    server {
        listen $NETSOCK_IP:8080;
        root $W/www;
    }
}
EOF
log "nginx (master + 2 workers) under netsock run"
run_bg nginx -- "$NGINX" -p "$W" -c "$W/nginx.conf"
ngx=$NSK_LAST_PID
run_wait_listen nginx 8080
want_big=$(sha <"$W/www/big")
want_small=$(sha <"$W/www/small")

log "200 requests, 20 kernel clients in parallel"
pids=()
for c in $(seq 20); do
    (
        # 5 connections of one request, and one of 5 keep-alive requests
        for r in 1 2 3 4 5; do
            in_ns curl -sS -m 20 -o "$TMP/c$c-$r" "http://$NETSOCK_IP:8080/big" || exit 1
        done
        urls=()
        for r in 6 7 8 9 10; do
            urls+=(-o "$TMP/c$c-$r" "http://$NETSOCK_IP:8080/$([ $((r % 2)) = 0 ] && echo big || echo small)")
        done
        in_ns curl -sS -m 20 "${urls[@]}" || exit 1
    ) &
    pids+=($!)
done 2>"$TMP/curl.err"
for p in "${pids[@]}"; do
    wait "$p" || fail "a kernel client failed: $(cat "$TMP/curl.err")"
done
n=0
for c in $(seq 20); do
    for r in $(seq 10); do
        f=$TMP/c$c-$r
        if [ "$r" -le 5 ] || [ $((r % 2)) = 0 ]; then want=$want_big; else want=$want_small; fi
        [ "$(sha <"$f")" = "$want" ] || fail "client $c request $r: $(stat -c %s "$f") bytes, not the file"
        n=$((n + 1))
    done
done
[ "$n" = 200 ] || fail "$n answers"
ok=$(awk '$2 == 200' "$W/logs/access.log" | wc -l)
[ "$ok" = 200 ] || fail "nginx logged $ok answers with status 200, want 200"
workers=$(awk '{print $1}' "$W/logs/access.log" | sort -u | wc -l)
[ "$workers" = 2 ] || fail "$workers worker(s) served (want both): $(awk '{print $1}' "$W/logs/access.log" | sort | uniq -c)"
echo "   200 answers byte-exact; per worker: $(awk '{print $1}' "$W/logs/access.log" | sort | uniq -c | awk '{printf "%s ", $1}')"

log "SIGTERM: nginx stops, netsock run exits with its status"
run_stop "$ngx" nginx
[ "$RUN_RC" = 0 ] || fail "netsock run exited $RUN_RC after SIGTERM; nginx's log: $(tail -3 "$W/logs/error.log")"
conns=$(run_tcp_conns "$TMP/nginx.log")
[ "$conns" = 120 ] || fail "the stack accepted $conns connections, want 120"
grep -q "exit$" "$W/logs/error.log" || fail "nginx did not exit cleanly: $(tail -3 "$W/logs/error.log")"
nsk_pass
