"""tests/interop/nat_peer.py — small peers for the `netsock nat` tests
(tests/interop/test_nat_*.sh), each on one side of the nat:

    nat_peer.py connect HOST PORT       guest: connect, print the errno name
                                        (or OK) the attempt ended with
    nat_peer.py rst-server ADDR PORT    host: accept one connection, read;
                                        print RESET or EOF as it ended
    nat_peer.py rst-client HOST PORT    guest: connect, send, close with a
                                        RST (SO_LINGER 0)
    nat_peer.py reset-me ADDR PORT      host: accept one connection, send
                                        "bye", close with a RST
    nat_peer.py read-reset HOST PORT    guest: connect, read until the end;
                                        print RESET or EOF
    nat_peer.py hold HOST PORT SECONDS  guest: connect, send a byte, hold
                                        the connection open
    nat_peer.py udp-who ADDR PORT       host: answer each datagram with the
                                        source address:port it came from
    nat_peer.py udp-eim A1 P1 A2 P2     guest: one socket to both udp-who
                                        servers: print what each saw
    nat_peer.py udp-refused HOST PORT   guest: connected UDP to a closed
                                        port: print the errno name of recv
    nat_peer.py udp-big HOST PORT N     guest: N random bytes to a UDP echo
                                        server: print SAME when they came
                                        back intact
"""
import errno
import socket
import struct
import sys
import time


def err_name(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "connect":
        try:
            socket.create_connection((args[0], int(args[1])), timeout=20).close()
            print("OK")
        except OSError as e:
            print(err_name(e) if e.errno else "TIMEOUT")
    elif cmd in ("rst-server", "reset-me"):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args[0], int(args[1])))
        s.listen(1)
        print("LISTENING", flush=True)
        c, _ = s.accept()
        if cmd == "reset-me":
            c.sendall(b"bye")
            time.sleep(0.5)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            print("SENT RST", flush=True)
            return
        try:
            while c.recv(65536):
                pass
            print("EOF", flush=True)
        except ConnectionResetError:
            print("RESET", flush=True)
    elif cmd == "rst-client":
        c = socket.create_connection((args[0], int(args[1])), timeout=10)
        c.sendall(b"hello")
        time.sleep(0.5)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    elif cmd == "read-reset":
        c = socket.create_connection((args[0], int(args[1])), timeout=10)
        try:
            while c.recv(65536):
                pass
            print("EOF")
        except ConnectionResetError:
            print("RESET")
    elif cmd == "hold":
        c = socket.create_connection((args[0], int(args[1])), timeout=10)
        c.sendall(b"x")
        print("HOLDING", flush=True)
        time.sleep(float(args[2]))
    elif cmd == "udp-who":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((args[0], int(args[1])))
        while True:
            _, a = s.recvfrom(2048)
            s.sendto(("%s:%d" % a).encode(), a)
    elif cmd == "udp-eim":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        for i in (0, 2):
            s.sendto(b"?", (args[i], int(args[i + 1])))
            print(s.recvfrom(2048)[0].decode())
    elif cmd == "udp-refused":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.connect((args[0], int(args[1])))
        s.send(b"anyone?")
        try:
            s.recv(2048)
            print("DATA")
        except OSError as e:
            print(err_name(e) if e.errno else "TIMEOUT")
    elif cmd == "udp-big":
        import os
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        data = os.urandom(int(args[2]))
        s.sendto(data, (args[0], int(args[1])))
        try:
            back = s.recv(65536)
            print("SAME" if back == data else "DIFFERENT (%d bytes)" % len(back))
        except socket.timeout:
            print("TIMEOUT")
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
