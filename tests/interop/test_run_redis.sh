#!/usr/bin/env bash
# tests/interop/test_run_redis.sh — redis-server under `netsock run`, the
# kernel's redis-benchmark and redis-cli as clients:
#
#   kernel 192.0.2.1 (redis-benchmark, redis-cli) ─tap─ netsock run 192.0.2.2 -- redis-server
#
#   1. redis-benchmark -n 20000 -c 50 (SET, GET, INCR, LPUSH, LRANGE) runs
#      to the end with no error; the rates are printed;
#   2. what was SET comes back: 2000 keys with random values set through
#      one pipelined connection are read back, each the same, and the
#      benchmark's counter holds the 20000 INCRs;
#   3. SIGTERM: redis shuts down and exits 0, so does netsock run.
#
# Usage: test_run_redis.sh BUILD_DIR (as root; exit 77 = skipped otherwise).
. "$(dirname "$0")/lib.sh" "${1:-}"
for tool in redis-server redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null || nsk_skip "needs $tool (scripts/bootstrap installs redis-server, redis-tools)"
done
nsk_setup
. "$(dirname "$0")/run_lib.sh"
export NETSOCK_RUN_DIR=$TMP

run_link
log "redis-server under netsock run"
run_bg redis -- redis-server --bind "$NETSOCK_IP" --port 6379 --save "" --appendonly no \
    --protected-mode no --dir "$TMP" --logfile "$TMP/redis-server.log"
redis=$NSK_LAST_PID
run_wait_listen redis 6379
cli() { in_ns timeout 20 redis-cli -h "$NETSOCK_IP" -p 6379 "$@"; }

log "redis-benchmark -n 20000 -c 50"
in_ns timeout 50 redis-benchmark -h "$NETSOCK_IP" -p 6379 -n 20000 -c 50 -q \
    -t set,get,incr,lpush,lrange_100 >"$TMP/bench.out" 2>&1 || {
    cat "$TMP/bench.out"
    fail "redis-benchmark failed"
}
tr '\r' '\n' <"$TMP/bench.out" | grep "requests per second" >"$TMP/rates.txt" || true
sed 's/^/   /' "$TMP/rates.txt"
for t in SET GET INCR LPUSH LRANGE_100; do
    grep -Eq "^$t( \(.*\))?: [0-9.]+ requests per second" "$TMP/rates.txt" ||
        fail "redis-benchmark did not finish $t: $(cat "$TMP/rates.txt")"
done
if grep -qiE "error|refused|reset" "$TMP/bench.out"; then
    fail "redis-benchmark reported errors: $(grep -iE "error|refused|reset" "$TMP/bench.out" | head -3)"
fi

log "what was SET comes back"
[ "$(cli GET counter:__rand_int__)" = 20000 ] || fail "INCR counter: '$(cli GET counter:__rand_int__)', want 20000"
: >"$TMP/set.txt"
for i in $(seq 2000); do
    v=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
    echo "SET key:$i $v" >>"$TMP/set.txt"
    echo "key:$i $v" >>"$TMP/want.txt"
done
cli <"$TMP/set.txt" >"$TMP/set.out"
[ "$(grep -c '^OK$' "$TMP/set.out")" = 2000 ] || fail "SET answered: $(sort "$TMP/set.out" | uniq -c | head)"
sed 's/^\(key:[0-9]*\) .*/GET \1/' "$TMP/want.txt" | cli >"$TMP/get.out"
paste -d' ' <(cut -d' ' -f1 "$TMP/want.txt") "$TMP/get.out" | cmp -s - "$TMP/want.txt" ||
    fail "GET did not return what was SET"
[ "$(cli DBSIZE)" -ge 2001 ] || fail "DBSIZE $(cli DBSIZE)"
echo "   2000 keys set and read back, the same"

log "SIGTERM"
run_stop "$redis" redis
[ "$RUN_RC" = 0 ] || fail "netsock run exited $RUN_RC after SIGTERM: $(tail -3 "$TMP/redis-server.log")"
grep -q "ready to exit" "$TMP/redis-server.log" || fail "redis did not shut down cleanly"
conns=$(run_tcp_conns "$TMP/redis.log")
[ "$conns" -ge 250 ] || fail "the stack accepted only $conns connections"
nsk_pass
