#!/usr/bin/env python3
"""tests/fuzz/gen_corpus.py - seed inputs for tests/fuzz/fuzz_input.c.

Writes tests/fuzz/corpus/fuzz_input/seed-<name> files in the target's
record format: for each frame, [flags][len_hi][len_lo][frame bytes], where
flags bit 0 picks the receiving interface and bits 1-7 advance virtual
time in 100 ms units before the frame. The world the target builds:

  interface 0: eth0 02:00:00:00:00:01, 192.0.2.2/24, MTU 1500
  interface 1: eth1 02:00:00:00:00:02, 198.51.100.2/24, MTU 576
  default route via 198.51.100.1; forwarding on
  UDP 0.0.0.0:4000 (echo), UDP 192.0.2.2:4001 connected to 192.0.2.1:5000,
  UDP 0.0.0.0:4002 (tiny SO_RCVBUF), two SO_REUSEPORT on 0.0.0.0:4003,
  raw IPPROTO_ICMP

Run from anywhere: python3 tests/fuzz/gen_corpus.py. Deterministic: the
same files every time (checksums computed here, RFC 1071).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_input")

MAC0 = bytes.fromhex("020000000001")  # our eth0
MAC1 = bytes.fromhex("020000000002")  # our eth1
PEER0 = bytes.fromhex("0200000000aa")  # a neighbour on eth0 (192.0.2.1)
PEER1 = bytes.fromhex("0200000000bb")  # the gateway on eth1 (198.51.100.1)
BCAST = b"\xff" * 6

ME0, ME1 = "192.0.2.2", "198.51.100.2"
NB0, GW1 = "192.0.2.1", "198.51.100.1"


def ip(a):
    return bytes(int(x) for x in a.split("."))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, src, etype, payload):
    return dst + src + struct.pack("!H", etype) + payload


def ipv4(src, dst, proto, payload, ident=1, ttl=64, mf=False, frag_off=0, df=False, tos=0,
         total=None):
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_off // 8)
    total = 20 + len(payload) if total is None else total
    h = struct.pack("!BBHHHBBH4s4s", 0x45, tos, total, ident, flags, ttl, proto, 0, ip(src),
                    ip(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def udp(src, dst, sport, dport, data, zero_csum=False):
    length = 8 + len(data)
    u = struct.pack("!HHHH", sport, dport, length, 0) + data
    if zero_csum:
        return u
    pseudo = ip(src) + ip(dst) + struct.pack("!BBH", 0, 17, length)
    c = csum(pseudo + u) or 0xFFFF
    return u[:6] + struct.pack("!H", c) + u[8:]


def icmp(type_, code, rest, data):
    m = struct.pack("!BBHI", type_, code, 0, rest) + data
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, ip(spa), tha, ip(tpa))


def rec(frame, iface=0, advance=0):
    """One record: advance is in 100 ms units (0..127)."""
    return bytes([(advance << 1) | iface]) + struct.pack("!H", len(frame)) + frame


def on0(ip_packet):
    return eth(MAC0, PEER0, 0x0800, ip_packet)


def on1(ip_packet):
    return eth(MAC1, PEER1, 0x0800, ip_packet)


def udp_pkt(src, dst, sport, dport, data, **kw):
    zero = kw.pop("zero_csum", False)
    return ipv4(src, dst, 17, udp(src, dst, sport, dport, data, zero), **kw)


def fragments(packet_payload, src, dst, proto, size, ident):
    """Split a transport payload into IPv4 fragments of `size` data bytes."""
    out = []
    for off in range(0, len(packet_payload), size):
        chunk = packet_payload[off:off + size]
        mf = off + size < len(packet_payload)
        out.append(ipv4(src, dst, proto, chunk, ident=ident, mf=mf, frag_off=off))
    return out


def seeds():
    s = {}
    arp_req = eth(BCAST, PEER0, 0x0806, arp(1, PEER0, NB0, b"\0" * 6, ME0))
    s["arp-request"] = rec(arp_req)
    s["arp-reply-unsolicited"] = rec(eth(MAC0, PEER0, 0x0806, arp(2, PEER0, NB0, MAC0, ME0)))

    echo = icmp(8, 0, 0x12340001, b"ping" * 14)
    s["icmp-echo"] = rec(arp_req) + rec(on0(ipv4(NB0, ME0, 1, echo)))

    s["udp-wildcard"] = rec(arp_req) + rec(on0(udp_pkt(NB0, ME0, 5000, 4000, b"hello udp")))
    s["udp-zero-csum"] = rec(arp_req) + rec(
        on0(udp_pkt(NB0, ME0, 5001, 4000, b"no checksum", zero_csum=True)))
    s["udp-connected"] = rec(on0(udp_pkt(NB0, ME0, 5000, 4001, b"from the peer"))) + rec(
        on0(udp_pkt("192.0.2.77", ME0, 5000, 4001, b"from a stranger")))
    # The tiny-buffer socket is read only when time advances: the second
    # and third datagrams overflow it.
    s["udp-tiny-rcvbuf"] = b"".join(
        rec(on0(udp_pkt(NB0, ME0, 6000 + k, 4002, bytes([k]) * 200)), advance=int(k == 3))
        for k in range(4))
    s["udp-reuseport"] = b"".join(
        rec(on0(udp_pkt(NB0, ME0, 7000 + k, 4003, b"group %d" % k))) for k in range(4))
    s["udp-closed-port"] = rec(arp_req) + rec(on0(udp_pkt(NB0, ME0, 5000, 9999, b"anyone?")))
    s["udp-broadcast"] = rec(
        eth(BCAST, PEER0, 0x0800, udp_pkt(NB0, "192.0.2.255", 5000, 4000, b"to all")))
    s["udp-bad-len"] = rec(on0(ipv4(NB0, ME0, 17, struct.pack("!HHHH", 5000, 4000, 200, 0) + b"x")))

    # A UDP datagram of 3000 bytes in fragments of 1480, last one first.
    big = udp(NB0, ME0, 5000, 4000, bytes(range(256)) * 11 + bytes(184))
    frags = fragments(big, NB0, ME0, 17, 1480, ident=0x4242)
    s["udp-fragments"] = b"".join(rec(on0(f)) for f in reversed(frags))
    # The same with a duplicate, then 38 s of silence (the 30 s reassembly
    # timeout), then the rest: a new, never completed datagram.
    s["udp-fragments-timeout"] = rec(on0(frags[0])) + rec(on0(frags[0])) + rec(
        b"", advance=127) + rec(b"", advance=127) + rec(on0(frags[1]), advance=127) + rec(
        on0(frags[2]))

    # An ICMP port unreachable about a datagram the connected socket sent.
    sent = udp_pkt(ME0, NB0, 4001, 5000, b"to the peer")
    s["icmp-port-unreach-connected"] = rec(arp_req) + rec(
        on0(ipv4(NB0, ME0, 1, icmp(3, 3, 0, sent[:28]))))
    # A raw ICMP message of an unknown type (only the raw socket wants it).
    s["icmp-unknown-type"] = rec(on0(ipv4(NB0, ME0, 1, icmp(42, 0, 0, b"experimental"))))

    # Forwarding: eth1 -> eth0 (needs ARP for 192.0.2.1 on eth0).
    s["forward-1-to-0"] = rec(on1(udp_pkt("203.0.113.9", NB0, 1234, 80, b"through")), iface=1)
    # eth0 -> beyond the default route on eth1 (MTU 576): fragmented on the
    # way, and with DF set: "fragmentation needed".
    payload = bytes(1200)
    s["forward-0-to-1-fragment"] = rec(arp_req) + rec(
        on0(udp_pkt(NB0, "203.0.113.5", 1234, 53, payload))) + rec(
        eth(MAC1, PEER1, 0x0806, arp(2, PEER1, GW1, MAC1, ME1)), iface=1)
    s["forward-0-to-1-df"] = rec(arp_req) + rec(
        on0(udp_pkt(NB0, "203.0.113.5", 1234, 53, payload, df=True)))
    s["forward-ttl-1"] = rec(arp_req) + rec(on0(udp_pkt(NB0, "203.0.113.5", 1, 2, b"x", ttl=1)))
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(seeds().items()):
        with open(os.path.join(OUT, "seed-" + name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds()), OUT))


if __name__ == "__main__":
    main()
