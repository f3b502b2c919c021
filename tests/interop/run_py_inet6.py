"""tests/interop/run_py_inet6.py — a Python program using AF_INET6 sockets,
for `netsock run` (tests/interop/test_run_inet6.sh).

    run_py_inet6.py NAME6 NAME4 HTTP_PORT UDP_PORT LISTEN_PORT

  1. socket.getaddrinfo(NAME6, HTTP_PORT, AF_INET6) (an /etc/hosts name),
     an AF_INET6 stream socket connects to it and GETs /blob: prints the
     SHA-256 and length of the body;
  2. getaddrinfo(NAME4, ..., AF_INET6, flags=AI_V4MAPPED) gives the
     v4-mapped address; a dual-stack AF_INET6 socket (IPV6_V6ONLY 0)
     connects to it over IPv4: prints its peer and own address as Python
     reports them (::ffff:a.b.c.d) and the body's SHA-256 again; with
     IPV6_V6ONLY 1 the same connect fails (ENETUNREACH, as Linux);
  3. getaddrinfo(AF_UNSPEC) of a name with both records: the IPv6
     address first, then the IPv4 one;
     an AF_INET6 UDP socket exchanges a datagram with the kernel's echo
     at NAME6:UDP_PORT: prints the sender's address family and whether the
     bytes came back;
  4. an AF_INET6 listener on [::]:LISTEN_PORT (dual stack) prints
     "listening", accepts two connections and prints each peer's address
     (the test connects once over IPv6 and once over IPv4) and echoes what
     each one sends, upper-cased.
"""
import errno
import hashlib
import socket
import sys


def http_get(s, host):
    s.sendall(b"GET /blob HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n")
    data = bytearray()
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        data += b
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), hashlib.sha256(body).hexdigest(), len(body)


def main():
    name6, name4, http_port, udp_port, listen_port = sys.argv[1:6]
    http_port, udp_port, listen_port = int(http_port), int(udp_port), int(listen_port)

    ai = socket.getaddrinfo(name6, http_port, socket.AF_INET6, socket.SOCK_STREAM)
    fam, typ, proto, _, sa = ai[0]
    print("getaddrinfo", name6, "AF_INET6" if fam == socket.AF_INET6 else fam, sa[0])
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(sa)
        print("peer", s.getpeername()[0], "family", s.family.name)
        status, digest, n = http_get(s, name6)
        print("v6 get", status, digest, n)

    ai = socket.getaddrinfo(name4, http_port, socket.AF_INET6, socket.SOCK_STREAM,
                            0, socket.AI_V4MAPPED)
    mapped = ai[0][4]
    print("getaddrinfo", name4, "AI_V4MAPPED", mapped[0])
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.connect(mapped)
        print("mapped peer", s.getpeername()[0], "local", s.getsockname()[0])
        status, digest, n = http_get(s, name4)
        print("mapped get", status, digest, n)
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            s.connect(mapped)
            print("v6only connect to a mapped address: connected")
        except OSError as e:
            print("v6only connect to a mapped address:", errno.errorcode.get(e.errno, e.errno))

    # AF_UNSPEC on a stack with IPv6 addresses: AAAA first, then A.
    ai = socket.getaddrinfo("dual.example", http_port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    print("getaddrinfo dual.example AF_UNSPEC", " ".join(x[4][0] for x in ai))

    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as u:
        u.settimeout(10)
        dst = socket.getaddrinfo(name6, udp_port, socket.AF_INET6, socket.SOCK_DGRAM)[0][4]
        payload = b"datagram over IPv6 " * 20
        u.sendto(payload, dst)
        data, src = u.recvfrom(4096)
        print("udp6 echo", len(src), src[0], data == payload)

    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as l:
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        l.bind(("::", listen_port))
        l.listen(8)
        l.settimeout(30)
        print("listening", flush=True)
        peers = []
        for _ in range(2):
            c, peer = l.accept()
            with c:
                c.settimeout(30)
                data = bytearray()
                while True:
                    b = c.recv(1 << 16)
                    if not b:
                        break
                    data += b
                c.sendall(bytes(data).upper())
            peers.append(peer[0])
        print("accepted", " ".join(sorted(peers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
