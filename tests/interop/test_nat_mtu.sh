#!/usr/bin/env bash
# tests/interop/test_nat_mtu.sh — `netsock nat --mtu 65520` (slirp4netns's
# jumbo setting, docs/nat.md): --configure gives the guest's tap0 that
# MTU, and 20 MB come down byte-exact over it.
. "$(dirname "$0")/lib.sh" "$1"
. "$(dirname "$0")/nat_lib.sh"
command -v curl >/dev/null || nsk_skip "needs curl"
nat_setup --mtu 65520

link=$(in_guest ip link show tap0)
[[ $link == *"mtu 65520"* ]] || fail "tap0: $link"
mkdir -p "$TMP/www"
head -c 20000000 /dev/urandom >"$TMP/www/f"
host_bg http sh -c "cd '$TMP/www' && exec python3 -m http.server --bind 192.0.2.1 8080"
host_wait_tcp 8080
want=$(sha <"$TMP/www/f")
t0=$(nsk_now)
in_guest curl -sS -m 60 -o "$TMP/f.out" http://192.0.2.1:8080/f || fail "curl: exit $?"
t1=$(nsk_now)
[ "$(sha <"$TMP/f.out")" = "$want" ] || fail "20 MB at MTU 65520: $(stat -c %s "$TMP/f.out") bytes, not the same"
goodput "GET 20 MB, MTU 65520" 20000000 "$t0" "$t1"
nsk_pass
