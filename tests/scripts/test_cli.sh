#!/bin/bash
# tests/scripts/test_cli.sh — the command-line conventions of every
# subcommand (tools/cli.h), without root and without a network:
#   - getopt_long forms are accepted: bundled flags (-qc1), attached values
#     (-c1), --opt=value, options after the operands, `--`;
#   - each bad argument gets exit status 2 and ONE line naming it and what
#     was expected, then the pointer to --help (never the usage text);
#   - --help goes to stdout with exit status 0; runtime failures exit 1
#     (ping: 2, as iputils).
# Options that parse get as far as opening the link: --link
# packet:nsknone0 names no interface, so each run stops there, with
# "--link packet:nsknone0: ..." and no usage error — nothing is created.
# Usage: test_cli.sh BUILD_DIR
set -uo pipefail
build=$1
netsock=$build/netsock
[ -x "$netsock" ] || { echo "FAIL: no netsock binary in $build" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export NETSOCK_RUN_DIR=$tmp/run # stat finds no host here
mkdir -p "$NETSOCK_RUN_DIR"
failures=0
checks=0
LINK=(--link packet:nsknone0 --addr 192.0.2.2/24)

bad() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# run CMD...: exit status in $rc, stdout in $out, stderr in $err.
run() {
    "$netsock" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

# usage_error 'EXPECTED FIRST LINE (an ERE)' ARGS...: exit 2, the line, then
# only the --help pointer.
usage_error() {
    local want=$1
    shift
    checks=$((checks + 1))
    run "$@"
    local first second n
    first=$(sed -n 1p "$tmp/err")
    second=$(sed -n 2p "$tmp/err")
    n=$(wc -l <"$tmp/err")
    if [ "$rc" != 2 ]; then
        bad "netsock $*: exit status $rc, want 2 ($err)"
    elif ! grep -qE "^($want)\$" <<<"$first"; then
        bad "netsock $*: first line '$first', want /$want/"
    elif [ "$n" != 2 ] || ! grep -qE "^Try 'netsock( [a-z]+)? --help' for more information\.\$" <<<"$second"; then
        bad "netsock $*: want one line and the --help pointer, got: $err"
    fi
}

# link_reached ARGS...: the options parsed; the run stopped at the link.
link_reached() {
    checks=$((checks + 1))
    local want_rc=$1
    shift
    run "$@"
    if [ "$rc" != "$want_rc" ] || ! grep -q "^netsock: --link packet:nsknone0: " <<<"$err" ||
        grep -qiE "invalid|unknown|needs|usage" <<<"$err"; then
        bad "netsock $*: exit status $rc (want $want_rc), stderr: $err"
    fi
}

# --- help, version, dispatch --------------------------------------------------
for cmd in demo host stat cat ping perf; do
    checks=$((checks + 1))
    run "$cmd" --help
    { [ "$rc" = 0 ] && grep -q "^usage: netsock $cmd" <<<"$out" && [ -z "$err" ]; } ||
        bad "netsock $cmd --help: exit status $rc"
    checks=$((checks + 1))
    run help "$cmd"
    { [ "$rc" = 0 ] && grep -q "^usage: netsock $cmd" <<<"$out"; } || bad "netsock help $cmd"
    usage_error "netsock $cmd: unknown or ambiguous option '--bogus'" "$cmd" --bogus
    usage_error "netsock $cmd: unknown option '-Z'" "$cmd" -Z
done
run version
[ "$rc" = 0 ] && grep -qE '^netsock [0-9]+\.[0-9]+' <<<"$out" || bad "netsock version: $rc $out"
usage_error "netsock: unknown command 'frobnicate' .*" frobnicate
usage_error "netsock version: unexpected argument 'x'" version x
usage_error "netsock help: unknown command 'x'" help x
run
[ "$rc" = 2 ] || bad "netsock without a command: exit status $rc"

# --- link options (shared by host, ping, cat) -------------------------------------
usage_error "netsock host: --link and --addr are required .*" host
usage_error "netsock host: --addr is required .*" host --link tap:x
usage_error "netsock host: invalid --link value 'eth0': expected tap:NAME, tun:NAME or packet:IFNAME .*" host --link eth0 --addr 192.0.2.2/24
usage_error "netsock host: invalid --link value 'tap:': .*" host --link tap: --addr 192.0.2.2/24
usage_error "netsock host: invalid --link value 'tap:averyveryverylongname': .*" host --link tap:averyveryverylongname --addr 192.0.2.2/24
for a in 192.0.2.2 192.0.2.2/33 192.0.2.2/ 192.0.2/24 0.0.0.0/24 127.0.0.1/8 224.0.0.1/4 255.255.255.255/32 192.0.2.2/-1 192.0.2.2/2x; do
    usage_error "netsock ping: invalid --addr value '$a': expected A.B.C.D/N: a unicast IPv4 address and a prefix length from 0 to 32" ping --link tap:x --addr "$a" 192.0.2.1
done
usage_error "netsock cat: invalid --gw value '198.51.100.1': expected an address other than this host's, in the network of --addr 192.0.2.2/24" cat "${LINK[@]}" --gw 198.51.100.1 192.0.2.1 9
usage_error "netsock cat: invalid --gw value '192.0.2.2': .*" cat "${LINK[@]}" --gw 192.0.2.2 192.0.2.1 9
usage_error "netsock cat: invalid --gw value '192.0.2.x': expected a unicast IPv4 address A.B.C.D" cat "${LINK[@]}" --gw 192.0.2.x 192.0.2.1 9
usage_error "netsock host: invalid --mac value '01:00:5e:00:00:01': expected a unicast MAC address XX:XX:XX:XX:XX:XX" host "${LINK[@]}" --mac 01:00:5e:00:00:01
usage_error "netsock host: invalid --mac value '02:00:00:00:00': .*" host "${LINK[@]}" --mac 02:00:00:00:00
usage_error "netsock host: invalid --impair value 'loss=abc': expected a fault list such as loss=1%,delay=20ms \(.*\)" host "${LINK[@]}" --impair loss=abc
usage_error "netsock host: invalid --impair value '': .*" host "${LINK[@]}" --impair ''
usage_error "netsock host: invalid --offload value 'maybe': expected on or off" host "${LINK[@]}" --offload maybe
for m in 1M 1M,2M 2M,1M,3M 1M,2M,3M,4M 1X,2M,3M ,,; do
    usage_error "netsock host: invalid --tcp-mem value '$m': expected LOW,PRESSURE,HIGH: three sizes in bytes \(k, M and G suffixes\), in increasing order" host "${LINK[@]}" --tcp-mem "$m"
done
link_reached 1 host "${LINK[@]}" --tcp-mem=8M,12M,16M
usage_error "netsock host: invalid --name value '../x': .*" host "${LINK[@]}" --name ../x
usage_error "netsock host: invalid --pcap value '': expected a file name" host "${LINK[@]}" --pcap ''
usage_error "netsock host: option '--link' needs a value" host --addr 192.0.2.2/24 --link
usage_error "netsock host: option '--verbose' takes no value" host "${LINK[@]}" --verbose=1

# --- host ----------------------------------------------------------------------
for s in '' , echo, ,echo echo,,http ftp 'echo,ftp'; do
    usage_error "netsock host: invalid --serve value '$s': expected services from echo, discard, chargen, http, all, separated by commas .*" host "${LINK[@]}" --serve "$s"
done
for n in 0 -1 abc 1048577 ' 5' 5x 99999999999999999999; do
    usage_error "netsock host: invalid --max-conns value '$n': expected an integer from 1 to 1048576" host "${LINK[@]}" --max-conns "$n"
done
for p in 0 65536 -1 http 8o; do
    usage_error "netsock host: invalid --http-port value '$p': expected a port number from 1 to 65535" host "${LINK[@]}" --http-port "$p"
done
usage_error "netsock host: unexpected argument 'extra'" host "${LINK[@]}" extra
for d in mtu=67 lease=0 bogus=1 pool=192.0.2.9-192.0.2.8 'dns=x' 'lease=10,'; do
    usage_error "netsock host: invalid --dhcp-server value '$d': expected .*" host "${LINK[@]}" --dhcp-server="$d"
done
usage_error "netsock host: --dhcp-server: the pool is not inside the server's network \(network of --addr 192.0.2.2/24\)" host "${LINK[@]}" --dhcp-server=pool=198.51.100.15-198.51.100.30
usage_error "netsock host: --dhcp-server: the pool holds the server's, the router's or the DNS address .*" host "${LINK[@]}" --dhcp-server=pool=192.0.2.1-192.0.2.9
link_reached 1 host "${LINK[@]}" --dhcp-server
link_reached 1 host "${LINK[@]}" --dhcp-server=pool=192.0.2.100-192.0.2.199,dns=192.0.2.53,lease=600,mtu=1400
link_reached 1 host "${LINK[@]}" --serve=echo,http --http-port=8080 --max-conns=10 -q
link_reached 1 host --link=packet:nsknone0 --addr=192.0.2.2/24 --gw=192.0.2.1 --serve all --quiet

# --- ping ----------------------------------------------------------------------
usage_error "netsock ping: invalid -c value 'abc': expected an integer from 1 to 2147483647" ping "${LINK[@]}" -c abc 192.0.2.1
usage_error "netsock ping: invalid -c value '0': expected an integer from 1 to 2147483647" ping "${LINK[@]}" -c0 192.0.2.1
usage_error "netsock ping: invalid -c value '2147483648': .*" ping "${LINK[@]}" -c 2147483648 192.0.2.1
usage_error "netsock ping: invalid -s value '65508': expected an integer from 0 to 65507" ping "${LINK[@]}" -s 65508 192.0.2.1
usage_error "netsock ping: invalid -t value '0': expected an integer from 1 to 255" ping "${LINK[@]}" -t 0 192.0.2.1
usage_error "netsock ping: invalid -t value '256': expected an integer from 1 to 255" ping "${LINK[@]}" -t256 192.0.2.1
usage_error "netsock ping: invalid -i value 'abc': expected a number of seconds from 0 to 2147483" ping "${LINK[@]}" -i abc 192.0.2.1
usage_error "netsock ping: invalid -i value '-1': .*" ping "${LINK[@]}" -i -1 192.0.2.1
usage_error "netsock ping: invalid -W value 'inf': .*" ping "${LINK[@]}" -W inf 192.0.2.1
usage_error "netsock ping: invalid -w value 'nan': .*" ping "${LINK[@]}" -w nan 192.0.2.1
usage_error "netsock ping: invalid -p value 'xyz': expected 1 to 32 hex digits \(up to 16 bytes\)" ping "${LINK[@]}" -p xyz 192.0.2.1
usage_error "netsock ping: invalid -p value '0123456789abcdef0123456789abcdef0': .*" ping "${LINK[@]}" -p 0123456789abcdef0123456789abcdef0 192.0.2.1
usage_error "netsock ping: invalid -I value 'a/b': expected an interface name or an IPv4 address" ping "${LINK[@]}" -I a/b 192.0.2.1
usage_error "netsock ping: option '-c' needs a value" ping "${LINK[@]}" 192.0.2.1 -c
usage_error "netsock ping: option '-c' needs a value" ping "${LINK[@]}" 192.0.2.1 -qc
usage_error "netsock ping: no destination" ping "${LINK[@]}"
usage_error "netsock ping: one destination only \('192.0.2.1', then '192.0.2.3'\)" ping "${LINK[@]}" 192.0.2.1 192.0.2.3
usage_error "netsock ping: invalid destination value 'example.com': expected an IPv4 address A.B.C.D \(names are not resolved\)" ping "${LINK[@]}" example.com
usage_error "netsock ping: --link and --addr are required .*" ping -c1 192.0.2.1
# The forms users type: bundled flags, attached values, --opt=value,
# options after the destination, `--`. ping's setup errors exit 2.
link_reached 2 ping "${LINK[@]}" -c1 192.0.2.1
link_reached 2 ping "${LINK[@]}" -qnc1 -i0.2 -s 100 -t 3 -W 1 -w 5 -DO -p ff00 192.0.2.1
link_reached 2 ping "${LINK[@]}" -f -c 10 --json -I 192.0.2.2 192.0.2.1
link_reached 2 ping 192.0.2.1 -c 1 "${LINK[@]}"
link_reached 2 ping "${LINK[@]}" -c 1 -- 192.0.2.1

# --- cat -----------------------------------------------------------------------
usage_error "netsock cat: no host and port" cat "${LINK[@]}"
usage_error "netsock cat: no port after the host '192.0.2.1'" cat "${LINK[@]}" 192.0.2.1
usage_error "netsock cat: invalid port value '99999': expected a port number from 1 to 65535" cat "${LINK[@]}" 192.0.2.1 99999
usage_error "netsock cat: invalid port value '0': expected a port number from 1 to 65535" cat "${LINK[@]}" 192.0.2.1 0
usage_error "netsock cat: invalid port value '1-5': expected one port from 1 to 65535 \(ranges only with -z\)" cat "${LINK[@]}" 192.0.2.1 1-5
usage_error "netsock cat: invalid port range value '5-3': expected LO-HI with LO <= HI" cat "${LINK[@]}" -z 192.0.2.1 5-3
usage_error "netsock cat: invalid host value '1.2.3.x': expected an IPv4 address A.B.C.D or an IPv6 address \(names are not resolved\)" cat "${LINK[@]}" 1.2.3.x 80
usage_error "netsock cat: invalid -w value 'abc': expected a number of seconds from 0.001 to 2147483" cat "${LINK[@]}" -w abc 192.0.2.1 80
usage_error "netsock cat: invalid -w value '0': .*" cat "${LINK[@]}" -w 0 192.0.2.1 80
usage_error "netsock cat: invalid -q value 'abc': expected a number of seconds from -1 to 2147483" cat "${LINK[@]}" -q abc 192.0.2.1 80
usage_error "netsock cat: invalid -p value '99999': expected a port number from 1 to 65535" cat "${LINK[@]}" -p 99999 192.0.2.1 80
usage_error "netsock cat: -k needs -l" cat "${LINK[@]}" -k 192.0.2.1 80
usage_error "netsock cat: -z and -l exclude each other" cat "${LINK[@]}" -lz 80
usage_error "netsock cat: -l needs a port to listen on" cat "${LINK[@]}" -l
usage_error "netsock cat: invalid listen address value '1.2.3.x': .*" cat "${LINK[@]}" -l 1.2.3.x 80
usage_error "netsock cat: -p 81 and port 80: two ports to listen on" cat "${LINK[@]}" -l -p 81 80
usage_error "netsock cat: unexpected argument '9'" cat "${LINK[@]}" 192.0.2.1 7 9
link_reached 1 cat "${LINK[@]}" -vn -w5 -q1 192.0.2.1 9
link_reached 1 cat "${LINK[@]}" -lkuv 5000
link_reached 1 cat "${LINK[@]}" -l -p 5000
link_reached 1 cat "${LINK[@]}" -vz 192.0.2.1 1-1024
link_reached 1 cat "${LINK[@]}" -u -p 4000 --json 192.0.2.1 53

# --- stat ----------------------------------------------------------------------
usage_error "netsock stat: unknown option '-x'" stat -tx
usage_error "netsock stat: invalid --pid value '0': expected an integer from 1 to 4194304" stat --pid 0
usage_error "netsock stat: invalid --pid value 'abc': .*" stat --pid=abc
usage_error "netsock stat: invalid --name value '../x': .*" stat --name ../x
usage_error "netsock stat: --name and --pid exclude each other" stat --name a --pid 1
usage_error "netsock stat: -s shows the counters: -t apply to the socket table" stat -st
usage_error "netsock stat: unexpected argument 'dport' .*" stat -t dport
for a in -tlnp -tuwlanpimeH "-t -l" --tcp "--listening --processes" -a --json -s "-s --json" "--name=h1" "--pid 1"; do
    checks=$((checks + 1))
    # shellcheck disable=SC2086 # several options in one string
    run stat $a
    { [ "$rc" = 1 ] && grep -qE "^netsock stat: no running (netsock host found|host named 'h1'|host with pid 1)" <<<"$err"; } ||
        bad "netsock stat $a without a host: exit status $rc, stderr: $err"
done

# --- perf ----------------------------------------------------------------------
usage_error "netsock perf: give either -s or -c HOST" perf "${LINK[@]}"
usage_error "netsock perf: give either -s or -c HOST" perf "${LINK[@]}" -s -c 192.0.2.1
usage_error "netsock perf: --link and --addr are required .*" perf -s
usage_error "netsock perf: invalid -t value 'abc': expected an integer from 0 to 86400" perf "${LINK[@]}" -c 192.0.2.1 -t abc
usage_error "netsock perf: invalid -P value '0': expected an integer from 1 to 128" perf "${LINK[@]}" -c 192.0.2.1 -P0
usage_error "netsock perf: invalid -p value '65536': expected a port number from 1 to 65535" perf "${LINK[@]}" -s -p 65536
usage_error "netsock perf: invalid -l value '0': expected a size from 1 to .*" perf "${LINK[@]}" -c 192.0.2.1 -l 0
usage_error "netsock perf: invalid -b value 'fast': expected bits per second .*" perf "${LINK[@]}" -c 192.0.2.1 -u -b fast
usage_error "netsock perf: invalid -i value '0.01': expected 0 or 0.1 to 60 seconds" perf "${LINK[@]}" -c 192.0.2.1 -i 0.01
usage_error "netsock perf: invalid -l value for UDP: expected .*" perf "${LINK[@]}" -c 192.0.2.1 -u -l 4
usage_error "netsock perf: option '-c' needs a value" perf "${LINK[@]}" -c
usage_error "netsock perf: unexpected argument 'x'" perf "${LINK[@]}" -s x
link_reached 1 perf "${LINK[@]}" -s -1 -p5202 -J
link_reached 1 perf --link=packet:nsknone0 --addr=192.0.2.2/24 -c 192.0.2.1 -t1 -P2 -R -l128K

# --- demo ----------------------------------------------------------------------
usage_error "netsock demo: invalid --seed value 'abc': expected an integer from 0 to 18446744073709551615" demo --seed abc
usage_error "netsock demo: invalid --seed value '-1': .*" demo --seed=-1
usage_error "netsock demo: invalid --count value '0': expected an integer from 1 to 1000" demo --count 0
usage_error "netsock demo: invalid --loss value '101': expected a number of percent from 0 to 100" demo --loss 101
usage_error "netsock demo: invalid --tcp-bytes value '0': .*" demo --tcp-bytes 0
usage_error "netsock demo: --quiet and --verbose exclude each other" demo -qv
usage_error "netsock demo: option '--seed' needs a value" demo --seed
usage_error "netsock demo: unexpected argument '7'" demo 7
checks=$((checks + 1))
"$netsock" demo --seed=7 -q --count=2 --tcp-bytes=20000 --pcap-dir="$tmp/d1" >"$tmp/d1.out" 2>&1 &&
    "$netsock" demo --seed 7 --quiet --count 2 --tcp-bytes 20000 --pcap-dir "$tmp/d2" >"$tmp/d2.out" 2>&1 ||
    bad "netsock demo --seed=7: exit status $?"
cmp -s "$tmp/d1/alice.pcap" "$tmp/d2/alice.pcap" || bad "demo --seed=7 and --seed 7 differ"

if [ "$failures" != 0 ]; then
    echo "FAIL: test_cli: $failures of $checks checks failed" >&2
    exit 1
fi
echo "command line: $checks checks passed"
