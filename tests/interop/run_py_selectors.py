"""tests/interop/run_py_selectors.py — a Python program for `netsock run`
(tests/interop/test_run_python.sh): an event loop and threads at once.

    run_py_selectors.py LISTEN_PORT KERNEL_ADDR KERNEL_PORT N_CLIENTS
    run_py_selectors.py echo ADDR PORT   the kernel's echo server (each
                                         connection's bytes back, then its
                                         end when the client's comes)

The main thread runs a selectors.DefaultSelector (epoll) loop holding, all
in one set: a TCP listener (netsock), the connections it accepts (netsock),
one end of a socket.socketpair() (AF_UNIX: the kernel's) and the read end
of an os.pipe(). Each accepted connection gets its bytes back upper-cased.
Meanwhile N_CLIENTS threads each open a blocking TCP connection to the
kernel's echo server at KERNEL_ADDR:KERNEL_PORT, send 256 KiB of random
bytes and check that the same bytes come back; each reports through the
socketpair (and the first through the pipe too), so the loop sees the
kernel's descriptors and netsock's side by side.

Prints "listening" when the listener is ready, and at the end a line
"threads ok N, served M" where M counts connections served to their end;
exits when every thread is done and the kernel's side has connected
SERVE_COUNT times (environment, default 8), or after 40 s.
"""
import hashlib
import os
import selectors
import socket
import sys
import threading
import time


def client(addr, port, results, wake, pipe_w, idx):
    data = os.urandom(256 * 1024)
    ok = False
    try:
        with socket.create_connection((addr, port), timeout=20) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = bytearray()
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
            ok = hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    except OSError as e:
        print(f"thread {idx}: {e}", file=sys.stderr)
    results[idx] = ok
    wake.send(b"t")
    if idx == 0:
        os.write(pipe_w, b"p")


def echo_server(addr, port):
    import socketserver

    class Echo(socketserver.BaseRequestHandler):
        def handle(self):
            while True:
                b = self.request.recv(65536)
                if not b:
                    break
                self.request.sendall(b)

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    srv = socketserver.ThreadingTCPServer((addr, port), Echo)
    print("serving", flush=True)
    srv.serve_forever()


def main():
    if sys.argv[1] == "echo":
        echo_server(sys.argv[2], int(sys.argv[3]))
        return 0
    port, kaddr, kport, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    want_served = int(os.environ.get("SERVE_COUNT", "8"))
    sel = selectors.DefaultSelector()
    assert type(sel).__name__ == "EpollSelector", type(sel).__name__
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("0.0.0.0", port))
    lsock.listen(64)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, "listen")
    wake_r, wake_w = socket.socketpair()  # AF_UNIX: the kernel's
    wake_r.setblocking(False)
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    pipe_r, pipe_w = os.pipe()
    sel.register(pipe_r, selectors.EVENT_READ, "pipe")
    results = [None] * n
    threads = [threading.Thread(target=client, args=(kaddr, kport, results, wake_w, pipe_w, i))
               for i in range(n)]
    print("listening", flush=True)
    for t in threads:
        t.start()
    done_threads = 0
    served = 0
    pipe_seen = False
    deadline = time.monotonic() + 40
    while (done_threads < n or served < want_served or not pipe_seen) and time.monotonic() < deadline:
        for key, mask in sel.select(timeout=1):
            if key.data == "listen":
                c, _ = lsock.accept()
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ, "conn")
            elif key.data == "wake":
                done_threads += len(wake_r.recv(64))
            elif key.data == "pipe":
                pipe_seen = os.read(pipe_r, 1) == b"p"
            else:
                c = key.fileobj
                b = c.recv(65536)
                if b:
                    c.sendall(b.upper())
                else:
                    sel.unregister(c)
                    c.close()
                    served += 1
    for t in threads:
        t.join(timeout=5)
    ok = sum(1 for r in results if r)
    print(f"threads ok {ok}, served {served}, pipe {'seen' if pipe_seen else 'not seen'}", flush=True)
    return 0 if ok == n and served >= want_served and pipe_seen else 1


if __name__ == "__main__":
    sys.exit(main())
