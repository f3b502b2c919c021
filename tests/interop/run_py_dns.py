"""tests/interop/run_py_dns.py — a DNS server and a resolver check for the
`netsock run` tests (tests/interop/test_run_python.sh).

    run_py_dns.py server ADDR LOG   a small authoritative server for the
                                    zone test.example on ADDR:53, UDP and
                                    TCP; each query's transport, client
                                    address and name goes to LOG
    run_py_dns.py client            socket.getaddrinfo checks (run under
                                    netsock run): prints one line each

The zone: www.test.example A 192.0.2.80; kernel.test.example A 192.0.2.1
(the kernel's end of the link); alias.test.example CNAME
www.test.example; many.test.example has 40 A records (198.51.100.1..40),
too many for 512 bytes, so the UDP answer is truncated (TC) and the
resolver must ask again over TCP; v6only.test.example has an AAAA record
only (2001:db8::1); anything else in the zone is NXDOMAIN.
"""
import socket
import socketserver
import struct
import sys
import threading

ZONE = "test.example"


def qname_of(query):
    off, labels = 12, []
    while query[off]:
        n = query[off]
        labels.append(query[off + 1:off + 1 + n].decode("ascii").lower())
        off += 1 + n
    return ".".join(labels)


def answer(query):
    """The response to one DNS query (RFC 1035 §4.1)."""
    qid, flags, qd = struct.unpack("!HHH", query[:6])
    off, labels = 12, []
    while query[off]:
        n = query[off]
        labels.append(query[off + 1:off + 1 + n].decode("ascii").lower())
        off += 1 + n
    qname = ".".join(labels)
    qtype, qclass = struct.unpack("!HH", query[off + 1:off + 5])
    question = query[12:off + 5]
    rrs, rcode = [], 0
    name_ptr = b"\xc0\x0c"

    def rr(name, rtype, data):
        return name + struct.pack("!HHIH", rtype, 1, 60, len(data)) + data

    if qname == "www." + ZONE and qtype == 1:
        rrs.append(rr(name_ptr, 1, socket.inet_aton("192.0.2.80")))
    elif qname == "kernel." + ZONE and qtype == 1:
        rrs.append(rr(name_ptr, 1, socket.inet_aton("192.0.2.1")))
    elif qname == "alias." + ZONE and qtype in (1, 5):
        target = b"\x03www\x04test\x07example\x00"
        rrs.append(rr(name_ptr, 5, target))
        if qtype == 1:
            # the target's record, its name by pointer to the CNAME's rdata
            rrs.append(rr(struct.pack("!H", 0xC000 | (12 + len(question) + 12)), 1,
                          socket.inet_aton("192.0.2.80")))
    elif qname == "many." + ZONE and qtype == 1:
        for i in range(1, 41):
            rrs.append(rr(name_ptr, 1, socket.inet_aton(f"198.51.100.{i}")))
    elif qname == "v6only." + ZONE and qtype == 28:
        rrs.append(rr(name_ptr, 28, socket.inet_pton(socket.AF_INET6, "2001:db8::1")))
    elif qname in ("v6only." + ZONE, "www." + ZONE, "many." + ZONE):
        pass  # the name exists, not this type: NODATA
    else:
        rcode = 3  # NXDOMAIN
    hdr = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100) | rcode, 1, len(rrs), 0, 0)
    return hdr + question + b"".join(rrs)


class UDP(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        resp = answer(data)
        with open(LOG, "a") as f:
            f.write(f"udp {self.client_address[0]} {qname_of(data)}\n")
        if len(resp) > 512:
            # truncated: the header and the question only, TC set
            qlen = len(data)
            resp = resp[:2] + struct.pack("!H", struct.unpack("!H", resp[2:4])[0] | 0x0200) + \
                struct.pack("!HHHH", 1, 0, 0, 0) + resp[12:qlen]
        sock.sendto(resp, self.client_address)


class TCP(socketserver.BaseRequestHandler):
    def handle(self):
        n = struct.unpack("!H", self.request.recv(2, socket.MSG_WAITALL))[0]
        data = self.request.recv(n, socket.MSG_WAITALL)
        with open(LOG, "a") as f:
            f.write(f"tcp {self.client_address[0]} {qname_of(data)}\n")
        resp = answer(data)
        self.request.sendall(struct.pack("!H", len(resp)) + resp)


def server(addr, log):
    global LOG
    LOG = log
    socketserver.ThreadingUDPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    u = socketserver.ThreadingUDPServer((addr, 53), UDP)
    t = socketserver.ThreadingTCPServer((addr, 53), TCP)
    threading.Thread(target=t.serve_forever, daemon=True).start()
    print("serving", flush=True)
    u.serve_forever()


def client():
    def addrs(name, family=socket.AF_INET):
        try:
            res = socket.getaddrinfo(name, 80, family, socket.SOCK_STREAM)
            return ",".join(sorted({r[4][0] for r in res}))
        except socket.gaierror as e:
            return f"gaierror {e.errno}"

    print("www:", addrs("www." + ZONE))
    print("www, search domain:", addrs("www"))
    print("alias (CNAME):", addrs("alias." + ZONE))
    res = socket.getaddrinfo("alias." + ZONE, None, socket.AF_INET, socket.SOCK_STREAM, 0,
                             socket.AI_CANONNAME)
    print("alias canonical name:", res[0][3])
    many = addrs("many." + ZONE)
    print("many (TCP after TC): count", len(many.split(",")), "first", many.split(",")[0])
    print("nx:", addrs("nx." + ZONE), "want", socket.EAI_NONAME)
    print("v6only, AF_INET:", addrs("v6only." + ZONE), "want", socket.EAI_NODATA)
    print("v6only, AF_INET6:", addrs("v6only." + ZONE, socket.AF_INET6))
    print("localhost (hosts):", addrs("localhost"))
    print("numeric:", addrs("198.51.100.7"))
    print("gethostbyname:", socket.gethostbyname("www." + ZONE))
    res = socket.getaddrinfo(None, "8080", socket.AF_INET, socket.SOCK_DGRAM, 0, socket.AI_PASSIVE)
    print("passive:", res[0][4])
    # Then use the answer: a connection to the kernel's HTTP server by name.
    s = socket.create_connection(("kernel." + ZONE, 8000), timeout=10)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    print("connect by name:", s.recv(12).decode())
    s.close()


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], sys.argv[3])
    else:
        client()
