#!/usr/bin/env python3
"""The latency of one FLOW_MOD on a switch's OpenFlow 1.3 management socket: each sample is an
add (or a strict delete) of one flow followed by a BARRIER_REQUEST, timed until the BARRIER_REPLY,
i.e. until the switch says the change is in. Frames are built by hand (struct), so the client adds
no parsing cost of its own.

Usage: ofp_flowmod_latency.py SOCKET_PATH [samples]
Prints: op=add p50_us=.. p99_us=.. and op=del p50_us=.. p99_us=.. (the switch's existing flows
are left as they were).
"""
import socket
import struct
import sys
import time

OFP_VERSION = 4
HELLO, ERROR, FLOW_MOD, BARRIER_REQUEST, BARRIER_REPLY = 0, 1, 14, 20, 21
ADD, DELETE_STRICT = 0, 4
ANY = 0xFFFFFFFF


def header(msg_type, length, xid):
    return struct.pack("!BBHI", OFP_VERSION, msg_type, length, xid)


def oxm(field, value_bytes):
    return struct.pack("!HBB", 0x8000, field << 1, len(value_bytes)) + value_bytes


def flow_mod(xid, command, dst):
    fields = oxm(5, struct.pack("!H", 0x0800)) + oxm(12, struct.pack("!I", dst))
    match_len = 4 + len(fields)
    match = struct.pack("!HH", 1, match_len) + fields + b"\0" * ((8 - match_len % 8) % 8)
    body = struct.pack("!QQBBHHHIIIH2x", 0, 0, 0, command, 0, 0, 200, ANY, ANY, ANY, 0)
    length = 8 + len(body) + len(match)
    return header(FLOW_MOD, length, xid) + body + match


def read_msg(sock, buf):
    while True:
        if len(buf) >= 8:
            length = struct.unpack("!H", buf[2:4])[0]
            if len(buf) >= length:
                msg = bytes(buf[:length])
                del buf[:length]
                return msg
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("connection closed")
        buf.extend(chunk)


def wait_barrier(sock, buf, xid):
    while True:
        msg = read_msg(sock, buf)
        kind, mxid = msg[1], struct.unpack("!I", msg[4:8])[0]
        if kind == ERROR:
            raise SystemExit(f"error for xid {mxid}: {msg[8:12].hex()}")
        if kind == BARRIER_REPLY and mxid == xid:
            return


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, (len(s) * p + 99) // 100 - 1)]


def main():
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    buf = bytearray()
    sock.sendall(header(HELLO, 8, 1))
    read_msg(sock, buf)  # the switch's HELLO
    adds, dels = [], []
    xid = 10
    for i in range(n):
        dst = 0xC0A80000 + i  # 192.168.x.y: not among the bench's 10.x flows
        for command, out in ((ADD, adds), (DELETE_STRICT, dels)):
            xid += 2
            t0 = time.perf_counter()
            sock.sendall(flow_mod(xid, command, dst) + header(BARRIER_REQUEST, 8, xid + 1))
            wait_barrier(sock, buf, xid + 1)
            out.append((time.perf_counter() - t0) * 1e6)
    for name, s in (("add", adds), ("del", dels)):
        print(f"op={name} p50_us={pct(s, 50):.0f} p99_us={pct(s, 99):.0f} samples={len(s)}")


if __name__ == "__main__":
    main()
