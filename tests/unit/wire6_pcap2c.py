#!/usr/bin/env python3
"""tests/unit/wire6_pcap2c.py - turn a capture of wire6_capture.sh into
tests/unit/wire6_frames.h, the kernel-made frames test_wire6.c and
test_icmp6_wire.c check byte for byte.

    python3 tests/unit/wire6_pcap2c.py /tmp/wire6.pcap /tmp/wire6-mld.pcap \
        > tests/unit/wire6_frames.h

Each frame is picked by what it is (the first frame matching), not by its
position, so a capture taken again gives the same set. Its random fields
(echo ids, DAD nonces, flow labels, fragment ids, TCP sequence numbers)
and the source addresses the kernel picks differ from run to run; the
tests assert the values of the committed frames (checked with tshark), so
taking the frames again means updating those assertions.

With --corpus DIR it also writes the seed inputs of tests/fuzz/fuzz_wire.c
there: seed-v6-NAME, each IPv6 packet, and for ICMPv6 ones
seed-v6-NAME-icmp, the message behind the 33 bytes fuzz_icmp6 reads first
(source, destination, hop limit).
"""
import ipaddress
import platform
import struct
import sys
import textwrap

ETH = 14


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(end + "I", data[20:24])[0]
    assert linktype == 1, "expected an Ethernet capture"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        yield data[off:off + incl]
        off += incl


def ip6(frame):
    """(next header, src, dst, payload after the fixed header) or None."""
    if len(frame) < ETH + 40 or frame[12:14] != b"\x86\xdd":
        return None
    p = frame[ETH:]
    return p[6], ipaddress.IPv6Address(p[8:24]), ipaddress.IPv6Address(p[24:40]), p[40:]


def icmp(frame, type_, code=None, src=None, dst=None):
    h = ip6(frame)
    if not h or h[0] != 58:
        return False
    nh, s, d, pl = h
    return (pl[0] == type_ and (code is None or pl[1] == code) and
            (src is None or s == ipaddress.IPv6Address(src)) and
            (dst is None or d == ipaddress.IPv6Address(dst)))


def mld_query(frame, icmp_len):
    """An MLD query behind a Hop-by-Hop header of 8 bytes."""
    h = ip6(frame)
    return bool(h) and h[0] == 0 and h[3][0] == 58 and h[3][8] == 130 and len(h[3]) == 8 + icmp_len


def nh_is(frame, nh, src=None):
    h = ip6(frame)
    return bool(h) and h[0] == nh and (src is None or h[1] == ipaddress.IPv6Address(src))


def frag_off(frame):
    h = ip6(frame)
    return struct.unpack("!H", h[3][2:4])[0] & 0xFFF8


A_LL, A_SLAAC, A, R, R_LL = ("fe80::ff:fe00:10a", "2001:db8:1::ff:fe00:10a", "2001:db8:1::a",
                             "2001:db8:1::1", "fe80::ff:fe00:101")

# name, description, predicate
PICKS = [
    ("mld2_report", "MLDv2 report fe80::ff:fe00:10a > ff02::16, Hop-by-Hop Router Alert "
     "and PadN, 2 records (TO_EX ff02::1:ff00:a, ff02::1:ff00:10a)",
     lambda f: nh_is(f, 0, A_LL)),
    ("ns_dad", "DAD probe :: > ff02::1:ff00:a, who has 2001:db8:1::a, with a Nonce option "
     "(14, RFC 7527)", lambda f: icmp(f, 135, src="::", dst="ff02::1:ff00:a")),
    ("rs", "RS fe80::ff:fe00:10a > ff02::2 with SLLA 02:00:00:00:01:0a",
     lambda f: icmp(f, 133)),
    ("ra", "radvd's RA fe80::ff:fe00:101 > fe80::ff:fe00:10a: hop limit 64, O, lifetime "
     "1800 s, reachable 30000 ms, retrans 1000 ms; prefix 2001:db8:1::/64 L A valid 86400 "
     "preferred 14400; RDNSS 600 s 2001:db8:1::53 ::54; MTU 1500; SLLA 02:00:00:00:01:01",
     lambda f: icmp(f, 134)),
    ("ns_mcast", "NS 2001:db8:1::a > ff02::1:ff00:1, who has 2001:db8:1::1, SLLA",
     lambda f: icmp(f, 135, dst="ff02::1:ff00:1")),
    ("na_rso", "NA 2001:db8:1::1 > 2001:db8:1::a, R S O, TLLA 02:00:00:00:01:01",
     lambda f: icmp(f, 136, src=R) and ip6(f)[3][4] == 0xE0),
    ("na_plain", "NA fe80::ff:fe00:10a > fe80::ff:fe00:101, S only, no option (24 bytes)",
     lambda f: icmp(f, 136, src=A_LL, dst=R_LL)),
    ("echo_req", "echo request 2001:db8:1::a > 2001:db8:1::1, 56 data bytes",
     lambda f: icmp(f, 128, dst=R)),
    ("echo_rep", "echo reply 2001:db8:1::1 > 2001:db8:1::a",
     lambda f: icmp(f, 129, src=R)),
    ("redirect", "Redirect fe80::ff:fe00:101 > 2001:db8:1::a: 2001:db8:1::99 is on-link "
     "(target = destination), Redirected Header with the 104-byte echo request",
     lambda f: icmp(f, 137)),
    ("addr_unreach", "Destination Unreachable code 3 (address) for 2001:db8:1::99",
     lambda f: icmp(f, 1, 3)),
    ("frag1", "first fragment (offset 0, M) of a 2000-byte echo request, 1448 data bytes",
     lambda f: nh_is(f, 44, A_SLAAC) and frag_off(f) == 0),
    ("frag2", "last fragment (offset 1448) of it, 560 data bytes",
     lambda f: nh_is(f, 44, A_SLAAC) and frag_off(f) == 1448),
    ("ptb", "Packet Too Big MTU 1280 from R quoting a 1448-byte echo request as far as "
     "1280 bytes allow", lambda f: icmp(f, 2)),
    ("time_exceeded", "Time Exceeded code 0 (hop limit) from R", lambda f: icmp(f, 3, 0)),
    ("udp", "UDP 2001:db8:1::ff:fe00:10a > 2001:db8:1::1 port 9, 'hello\\n'",
     lambda f: nh_is(f, 17, A_SLAAC)),
    ("port_unreach", "Destination Unreachable code 4 (port) quoting that UDP datagram",
     lambda f: icmp(f, 1, 4)),
    ("tcp_syn", "TCP SYN to port 9 with MSS, SACK-permitted, timestamps, window scale",
     lambda f: nh_is(f, 6, A_SLAAC)),
    ("tcp_rst", "the RST+ACK answering it", lambda f: nh_is(f, 6, R)),
    ("proto253", "next header 253 with 8 zero bytes", lambda f: nh_is(f, 253)),
    ("pp_nexthdr", "Parameter Problem code 1 pointer 6 about it", lambda f: icmp(f, 4, 1)),
    ("dstopt_udp", "UDP 'opt' behind a Destination Options header holding option 0x87 "
     "(action 10) of 4 zero bytes", lambda f: nh_is(f, 60)),
    ("pp_option", "Parameter Problem code 2 pointer 42 about it", lambda f: icmp(f, 4, 2)),
    ("mld2_query", "a Linux bridge querier's MLDv2 General Query fe80::ff:fe00:3aa > ff02::1, "
     "Hop-by-Hop Router Alert and two Pad1, max response 10000 ms, QRV 2, QQIC 125",
     lambda f: mld_query(f, 28)),
    ("mld1_query", "the same querier set to MLDv1: a 24-byte General Query, max response "
     "delay 10000 ms", lambda f: mld_query(f, 24)),
]


def upper(frame):
    """(next header, bytes) of the upper layer after any extension headers."""
    p = frame[ETH:]
    nh, off = p[6], 40
    while nh in (0, 43, 60) and off + 2 <= len(p):
        nh, off = p[off], off + (p[off + 1] + 1) * 8
    return nh, p[off:]


def write_corpus(d, picked):
    import os
    os.makedirs(d, exist_ok=True)
    for name, f in picked:
        with open(os.path.join(d, "seed-v6-" + name), "wb") as out:
            out.write(f[ETH:])
        nh, msg = upper(f)
        if nh == 58:
            p = f[ETH:]
            with open(os.path.join(d, "seed-v6-%s-icmp" % name), "wb") as out:
                out.write(p[8:40] + bytes([p[7]]) + msg)


def main():
    args = sys.argv[1:]
    corpus = None
    if args[:1] == ["--corpus"]:
        corpus, args = args[1], args[2:]
    all_frames = [f for path in args for f in frames(path)]
    picked = []
    out = ["/* tests/unit/wire6_frames.h - frames the Linux kernel (%s) sent or"
           % platform.release(),
           " * received in the namespaces of tests/unit/wire6_capture.sh, Ethernet",
           " * header included; generated by tests/unit/wire6_pcap2c.py. Do not edit. */",
           "#ifndef NS_TEST_WIRE6_FRAMES_H", "#define NS_TEST_WIRE6_FRAMES_H", "",
           "#include <stdint.h>", ""]
    for name, desc, pred in PICKS:
        match = [f for f in all_frames if pred(f)]
        if not match:
            sys.exit("no frame for %s" % name)
        f = match[0]
        picked.append((name, f))
        lines = textwrap.wrap(desc, 74)
        out.append("/* " + "\n * ".join(lines) + " */")
        out.append("static const uint8_t frame_%s[%d] = {" % (name, len(f)))
        for i in range(0, len(f), 16):
            out.append("    " + " ".join("0x%02x," % b for b in f[i:i + 16]))
        out.append("};")
        out.append("")
    out.append("#endif")
    if corpus:
        write_corpus(corpus, picked)
    else:
        print("\n".join(out))


if __name__ == "__main__":
    main()
