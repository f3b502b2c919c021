#!/usr/bin/env bash
# tests/scripts/test_pcap_tshark.sh — decode the pcap files written by the
# pcap wrapper (tests/unit/test_pcap.c) with real tools: tcpdump and, when
# installed, tshark and capinfos. Checks that the file headers are
# accepted, that the expected number of packets parse, that an ARP request
# and an ICMP echo request decode as such, and that their checksums
# verify; that a capture with a wall-clock offset shows the time of day
# (2023-11-14 22:13:21 UTC); and that the pcapng file reads in both, with
# its interface name, its offload comment and the writing application.
#
# Usage: test_pcap_tshark.sh BUILD_DIR. Exit 77 (skip) without either tool.
set -euo pipefail

build=${1:?usage: $0 BUILD_DIR}
prog="$build/tests/test_pcap"
[ -x "$prog" ] || { echo "missing $prog" >&2; exit 1; }

have_tcpdump=0; command -v tcpdump >/dev/null 2>&1 && have_tcpdump=1
have_tshark=0; command -v tshark >/dev/null 2>&1 && have_tshark=1
if [ $have_tcpdump = 0 ] && [ $have_tshark = 0 ]; then
    echo "SKIP: neither tcpdump nor tshark installed"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/netsock-pcap-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out="$tmp/capture.pcap"

NETSOCK_PCAP_OUT="$out" "$prog" >"$tmp/test.log" 2>&1 || { cat "$tmp/test.log"; exit 1; }
for f in "$out" "$out.raw" "$out.wall.pcap" "$out.pcapng"; do
    [ -s "$f" ] || { echo "FAIL: capture file $f not written" >&2; exit 1; }
done

fail=0
expect() { # expect LABEL FILE PATTERN: FILE (a decoder's output) must match PATTERN
    if grep -Eq -- "$3" "$2"; then
        echo "ok: $1"
    else
        echo "FAIL: $1: no line matches /$3/ in:" >&2; cat "$2" >&2; fail=1
    fi
}
count() { # count LABEL FILE N: FILE has exactly N packet lines
    local n; n=$(grep -Ec "$4" "$2" || true)
    if [ "$n" = "$3" ]; then echo "ok: $1 ($n packets)"; else
        echo "FAIL: $1: $n packets, expected $3" >&2; cat "$2" >&2; fail=1; fi
}

if [ $have_tcpdump = 1 ]; then
    # -vv also verifies the IPv4 header and ICMP checksums.
    tcpdump -r "$out" -nn -vv >"$tmp/eth.txt" 2>"$tmp/eth.err" || { cat "$tmp/eth.err" >&2; exit 1; }
    tcpdump -r "$out.raw" -nn -vv >"$tmp/raw.txt" 2>"$tmp/raw.err" || { cat "$tmp/raw.err" >&2; exit 1; }
    expect "tcpdump: Ethernet link type" "$tmp/eth.err" 'link-type EN10MB'
    expect "tcpdump: raw IP link type" "$tmp/raw.err" 'link-type RAW'
    count "tcpdump: Ethernet capture" "$tmp/eth.txt" 2 '^[0-9]{2}:[0-9]{2}:'
    count "tcpdump: raw capture" "$tmp/raw.txt" 1 '^[0-9]{2}:[0-9]{2}:'
    expect "tcpdump: ARP request" "$tmp/eth.txt" '^00:00:01\.500000 ARP, .*Request who-has 192\.0\.2\.2 tell 192\.0\.2\.1'
    expect "tcpdump: ICMP echo (Ethernet)" "$tmp/eth.txt" '192\.0\.2\.2 > 192\.0\.2\.1: ICMP echo request, id 4660, seq 1'
    expect "tcpdump: ICMP echo (raw)" "$tmp/raw.txt" '192\.0\.2\.2 > 192\.0\.2\.1: ICMP echo request, id 4660, seq 1'
    if grep -Eqi 'bad cksum|wrong icmp cksum|truncated' "$tmp/eth.txt" "$tmp/raw.txt"; then
        echo "FAIL: tcpdump reports a bad checksum or truncation" >&2; cat "$tmp/eth.txt" "$tmp/raw.txt" >&2; fail=1
    fi
    # Wall-clock timestamps (-tttt: the date, in UTC) and pcapng (-tt: epoch).
    TZ=UTC tcpdump -r "$out.wall.pcap" -nn -tttt >"$tmp/wall.txt" 2>"$tmp/wall.err" || { cat "$tmp/wall.err" >&2; exit 1; }
    expect "tcpdump: wall-clock time (classic pcap)" "$tmp/wall.txt" '^2023-11-14 22:13:21\.623456 ARP, Request who-has'
    expect "tcpdump: wall-clock time, second frame" "$tmp/wall.txt" '^2023-11-14 22:13:22\.123457 IP 192\.0\.2\.2 > 192\.0\.2\.1: ICMP echo request'
    tcpdump -r "$out.pcapng" -nn -tt >"$tmp/ng.txt" 2>"$tmp/ng.err" || { cat "$tmp/ng.err" >&2; exit 1; }
    expect "tcpdump: pcapng, Ethernet" "$tmp/ng.err" 'link-type EN10MB'
    count "tcpdump: pcapng capture" "$tmp/ng.txt" 2 '^[0-9]{10}\.[0-9]{6} '
    expect "tcpdump: pcapng ARP request" "$tmp/ng.txt" '^1700000001\.500000 ARP, .*Request who-has 192\.0\.2\.2 tell 192\.0\.2\.1'
    expect "tcpdump: pcapng ICMP echo" "$tmp/ng.txt" '^1700000002\.000001 IP 192\.0\.2\.2 > 192\.0\.2\.1: ICMP echo request, id 4660, seq 1'
fi

if [ $have_tshark = 1 ]; then
    export HOME="$tmp" # tshark wants a writable profile directory
    tshark -r "$out" -o ip.check_checksum:TRUE >"$tmp/ts-eth.txt" 2>"$tmp/ts.err" || { cat "$tmp/ts.err" >&2; exit 1; }
    tshark -r "$out.raw" -o ip.check_checksum:TRUE >"$tmp/ts-raw.txt" 2>>"$tmp/ts.err" || { cat "$tmp/ts.err" >&2; exit 1; }
    count "tshark: Ethernet capture" "$tmp/ts-eth.txt" 2 '^ *[0-9]+ +[0-9.]+ '
    count "tshark: raw capture" "$tmp/ts-raw.txt" 1 '^ *[0-9]+ +[0-9.]+ '
    expect "tshark: ARP request" "$tmp/ts-eth.txt" 'ARP .*Who has 192\.0\.2\.2\? Tell 192\.0\.2\.1'
    expect "tshark: ICMP echo (Ethernet)" "$tmp/ts-eth.txt" 'ICMP .*Echo \(ping\) request +id=0x1234, seq=1'
    expect "tshark: ICMP echo (raw)" "$tmp/ts-raw.txt" 'ICMP .*Echo \(ping\) request +id=0x1234, seq=1'
    if grep -Eqi 'malformed|bad|incorrect' "$tmp/ts-eth.txt" "$tmp/ts-raw.txt"; then
        echo "FAIL: tshark reports a malformed packet" >&2; cat "$tmp/ts-eth.txt" "$tmp/ts-raw.txt" >&2; fail=1
    fi
    # pcapng: each frame on interface "tap7" at its wall-clock time.
    tshark -r "$out.pcapng" -T fields -e frame.interface_name -e frame.time_epoch -e _ws.col.Protocol \
        >"$tmp/ts-ng.txt" 2>>"$tmp/ts.err" || { cat "$tmp/ts.err" >&2; exit 1; }
    count "tshark: pcapng capture" "$tmp/ts-ng.txt" 2 '^tap7'$'\t'
    expect "tshark: pcapng ARP on tap7 at its time" "$tmp/ts-ng.txt" '^tap7'$'\t''1700000001\.500000000'$'\t''ARP$'
    expect "tshark: pcapng ICMP on tap7 at its time" "$tmp/ts-ng.txt" '^tap7'$'\t''1700000002\.000001000'$'\t''ICMP$'
    TZ=UTC tshark -r "$out.wall.pcap" -t ud >"$tmp/ts-wall.txt" 2>>"$tmp/ts.err" || { cat "$tmp/ts.err" >&2; exit 1; }
    expect "tshark: wall-clock time (classic pcap)" "$tmp/ts-wall.txt" '2023-11-14 22:13:21\.623456 .*ARP'
fi

# The pcapng file's interface description and writer, as capinfos reads them.
if command -v capinfos >/dev/null 2>&1; then
    capinfos "$out.pcapng" >"$tmp/capinfos.txt" 2>&1 || { cat "$tmp/capinfos.txt" >&2; exit 1; }
    expect "capinfos: pcapng" "$tmp/capinfos.txt" '^File type: +Wireshark/\.\.\. - pcapng'
    expect "capinfos: written by netsock" "$tmp/capinfos.txt" '^Capture application: +netsock [0-9]'
    expect "capinfos: interface name" "$tmp/capinfos.txt" '^ +Name = tap7$'
    expect "capinfos: the offloads in the interface comment" "$tmp/capinfos.txt" \
        '^ +Comment = netsock .*: ethernet, mtu 1500; offloads: tx-checksum tso\(65535 bytes\); .*checksums may be partial'
    expect "capinfos: microsecond timestamps" "$tmp/capinfos.txt" 'Time precision = microseconds \(6\)'
fi

exit $fail
