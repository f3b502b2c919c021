"""tests/interop/run_py_tcpinfo.py — TCP_INFO under `netsock run` against
the stack's own view of the same connection (tests/interop/test_run_python.sh).

    run_py_tcpinfo.py NETSOCK NAME ECHO_ADDR ECHO_PORT

Sends 2 MiB through the kernel's echo server at ECHO_ADDR:ECHO_PORT and
reads them back, waits until the connection is quiet, then reads
getsockopt(TCP_INFO) in Linux's whole layout (232 bytes) and runs
`NETSOCK stat --name NAME -tn --json` (the stack process's control
socket: AF_UNIX, the kernel's). Checks that the fields both have are
equal (rtt, rttvar, rto, cwnd, mss, ssthresh, retransmissions, unacked)
and that the rest fits the transfer (bytes acknowledged and received, the
segment counts, nothing unsent, min_rtt, pmtu, the peer's window). Prints
"tcp_info ok" and the values, or the first mismatch (exit 1).
"""
import json
import os
import socket
import struct
import subprocess
import sys
import time

# linux/tcp.h struct tcp_info (6.1): 8 bytes, 24 u32, then the 64-bit and
# 32-bit fields after glibc's end (tcpi_total_retrans).
FIELDS = ("state ca_state retransmits probes backoff options wscale app_limited "
          "rto ato snd_mss rcv_mss unacked sacked lost retrans fackets last_data_sent "
          "last_ack_sent last_data_recv last_ack_recv pmtu rcv_ssthresh rtt rttvar "
          "snd_ssthresh snd_cwnd advmss reordering rcv_rtt rcv_space total_retrans "
          "pacing_rate max_pacing_rate bytes_acked bytes_received segs_out segs_in "
          "notsent_bytes min_rtt data_segs_in data_segs_out delivery_rate busy_time "
          "rwnd_limited sndbuf_limited delivered delivered_ce bytes_sent bytes_retrans "
          "dsack_dups reord_seen rcv_ooopack snd_wnd").split()
FORMAT = "<8B24I4Q6I4Q2I2Q4I"
assert struct.calcsize(FORMAT) == 232 and len(FIELDS) == len(struct.unpack(FORMAT, bytes(232)))

N = 2 << 20


def fail(msg):
    print("tcp_info mismatch:", msg)
    sys.exit(1)


def main():
    netsock, name, addr, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    data = os.urandom(N)
    s = socket.create_connection((addr, port), timeout=30)
    s.sendall(data)
    got = bytearray()
    while len(got) < N:
        b = s.recv(1 << 16)
        if not b:
            fail("the echo ended early")
        got += b
    if bytes(got) != data:
        fail("the echo is not what was sent")
    time.sleep(0.5)  # the last ACKs come and go: the state is still
    raw = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    if len(raw) != 232:
        fail("TCP_INFO gave %d bytes, not Linux's 232" % len(raw))
    ti = dict(zip(FIELDS, struct.unpack(FORMAT, raw)))
    out = subprocess.run([netsock, "stat", "--name", name, "-tn", "--json"], check=True,
                         capture_output=True, text=True).stdout
    lport = s.getsockname()[1]
    mine = [x for x in json.loads(out)["sockets"] if x["local"].endswith(":%d" % lport)]
    if len(mine) != 1:
        fail("netsock stat shows %d sockets on port %d: %s" % (len(mine), lport, out))
    st = mine[0]
    # The same connection, the same moment: the same numbers.
    pairs = [("rtt", ti["rtt"], st["rtt_us"]), ("rttvar", ti["rttvar"], st["rttvar_us"]),
             ("rto", ti["rto"], st["rto_us"]), ("mss", ti["snd_mss"], st["mss"]),
             ("cwnd", ti["snd_cwnd"], st["cwnd_bytes"] // st["mss"]),
             ("total_retrans", ti["total_retrans"], st["retrans"]),
             ("unacked", ti["unacked"], st["unacked"]),
             ("rcv_mss", ti["rcv_mss"], st["rcv_mss"])]
    if st["ssthresh_bytes"] < (1 << 31):
        pairs.append(("ssthresh", ti["snd_ssthresh"], st["ssthresh_bytes"] // st["mss"]))
    for what, a, b in pairs:
        if a != b:
            fail("%s: TCP_INFO %d, netsock stat %d" % (what, a, b))
    # The rest against the transfer.
    checks = [
        ("state ESTABLISHED", ti["state"] == 1),
        ("ca_state open", ti["ca_state"] == 0),
        ("rtt set", 0 < ti["rtt"] < 1000000),
        ("min_rtt in (0, rtt + rttvar * 4]", 0 < ti["min_rtt"] <= ti["rtt"] + 4 * ti["rttvar"]),
        ("cwnd at least 10", ti["snd_cwnd"] >= 10),
        ("bytes_acked", ti["bytes_acked"] == N),
        ("bytes_received", ti["bytes_received"] == N),
        ("bytes_sent", ti["bytes_sent"] == N),
        ("notsent_bytes", ti["notsent_bytes"] == 0),
        ("data_segs_out covers the bytes", ti["data_segs_out"] >= N // ti["snd_mss"]),
        ("segs_out counts them", ti["segs_out"] >= ti["data_segs_out"]),
        ("data_segs_in covers the bytes", ti["data_segs_in"] >= N // ti["rcv_mss"]),
        ("segs_in counts them", ti["segs_in"] >= ti["data_segs_in"]),
        ("pmtu", ti["pmtu"] == 1500),
        ("snd_wnd", ti["snd_wnd"] > 0),
        ("pacing_rate", ti["pacing_rate"] > 0),
        ("timestamps, sack and window scaling", ti["options"] & 7 == 7),
    ]
    for what, ok in checks:
        if not ok:
            fail("%s: %s" % (what, {k: ti[k] for k in FIELDS if ti[k]}))
    s.close()
    print("tcp_info ok: rtt %d us rttvar %d cwnd %d mss %d; %d bytes each way, "
          "%d/%d segments out/in" % (ti["rtt"], ti["rttvar"], ti["snd_cwnd"], ti["snd_mss"],
                                      ti["bytes_acked"], ti["data_segs_out"], ti["data_segs_in"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
