#!/usr/bin/env python3
"""tests/fuzz/gen_corpus6.py — seed inputs for fuzz_ip6 (see its header
for the record format): an echo request, an NS for our address, an NA,
an echo in two fragments, a Packet Too Big, a routing header, options.
Writes tests/fuzz/corpus/fuzz_ip6/seed-*."""
import os
import struct
import sys

OURS = bytes.fromhex("20010db8000000000000000000000002")
PEER = bytes.fromhex("20010db8000000000000000000000010")
PEER_MAC = bytes.fromhex("02aa00000001")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def icmp6(src, dst, typ, code, rest, body=b""):
    msg = struct.pack("!BBH", typ, code, 0) + rest + body
    pseudo = src + dst + struct.pack("!I3xB", len(msg), 58)
    c = csum(pseudo + msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def ip6(src, dst, nh, payload, hops=64):
    return struct.pack("!IHBB", 6 << 28, len(payload), nh, hops) + src + dst + payload


def rec(pkt, ticks=0):
    return struct.pack("!BH", (ticks << 1) | 1, len(pkt)) + pkt


def sol_node(a):
    return bytes.fromhex("ff0200000000000000000001ff") + a[13:]


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_ip6")
    os.makedirs(out, exist_ok=True)
    echo = icmp6(PEER, OURS, 128, 0, struct.pack("!HH", 1, 1), b"x" * 16)
    na = icmp6(PEER, OURS, 136, 0, struct.pack("!I", 0xE0000000), PEER + b"\x02\x01" + PEER_MAC)
    ns = icmp6(PEER, sol_node(OURS), 135, 0, b"\0" * 4, OURS + b"\x01\x01" + PEER_MAC)
    seeds = {
        "echo-na": rec(ip6(PEER, OURS, 58, echo)) + rec(ip6(PEER, OURS, 58, na, 255)),
        "ns": rec(ip6(PEER, sol_node(OURS), 58, ns, 255)),
    }
    big = icmp6(PEER, OURS, 128, 0, struct.pack("!HH", 1, 2), bytes(range(256)) * 8)
    f1 = struct.pack("!BBHI", 58, 0, 0 | 1, 7) + big[:1232]
    f2 = struct.pack("!BBHI", 58, 0, 1232, 7) + big[1232:]
    seeds["frags"] = rec(ip6(PEER, OURS, 44, f2)) + rec(ip6(PEER, OURS, 44, f1), 3)
    quote = ip6(OURS, PEER, 17, b"\0" * 8)
    ptb = icmp6(PEER, OURS, 2, 0, struct.pack("!I", 1280), quote)
    seeds["ptb"] = rec(ip6(PEER, OURS, 58, ptb))
    rh = struct.pack("!BBBB4x", 58, 2, 0, 1) + OURS + PEER
    seeds["rh0"] = rec(ip6(PEER, OURS, 43, rh + echo))
    opts = struct.pack("!BB", 58, 0) + bytes([0x9E, 4, 0, 0, 0, 0])
    seeds["dstopt"] = rec(ip6(PEER, OURS, 60, opts + echo), 50)
    for name, data in seeds.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
