#!/usr/bin/python3
"""Write the seed sessions of the ofp_conn fuzz target to fuzz/seeds/ofp_conn/.

Each seed is one control byte (0: the target sends a HELLO first and shapes the stream; see
fuzz_targets/ofp_conn.rs) followed by OpenFlow 1.3 messages, encoded here by hand from the
specification (section 7) and the ONF bundle extension, against the target's switch: bridge br0
with mock ports a(1), b(2), c(3). Run it again after changing a session:

    /usr/bin/python3 fuzz/tools/ofp_conn_seeds.py

and check what each seed reaches with

    DVS_FUZZ_TRACE=1 fuzz/target/x86_64-unknown-linux-gnu/release/ofp_conn fuzz/seeds/ofp_conn/NAME
"""

import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "seeds", "ofp_conn")

ANY = 0xFFFFFFFF
NO_BUFFER = 0xFFFFFFFF
P_CONTROLLER = 0xFFFFFFFD
P_TABLE = 0xFFFFFFF9
P_NORMAL = 0xFFFFFFFA
P_FLOOD = 0xFFFFFFFB
P_ALL = 0xFFFFFFFC
P_IN_PORT = 0xFFFFFFF8
ONF = 0x4F4E4600

_xid = [0]


def msg(mtype, body=b"", xid=None):
    if xid is None:
        _xid[0] += 1
        xid = _xid[0]
    return struct.pack(">BBHI", 4, mtype, 8 + len(body), xid) + body


def pad8(b):
    return b + b"\0" * (-len(b) % 8)


# OXM (class OPENFLOW_BASIC)
def oxm(field, value, mask=None):
    has = mask is not None
    payload = value + (mask or b"")
    return struct.pack(">HBB", 0x8000, (field << 1) | has, len(payload)) + payload


IN_PORT, ETH_DST, ETH_SRC, ETH_TYPE, VLAN_VID, IP_PROTO = 0, 3, 4, 5, 6, 10
IPV4_SRC, IPV4_DST, TCP_DST, UDP_DST = 11, 12, 14, 16


def u8(v):
    return struct.pack(">B", v)


def u16(v):
    return struct.pack(">H", v)


def u32(v):
    return struct.pack(">I", v)


def match(*fields):
    body = b"".join(fields)
    return pad8(struct.pack(">HH", 1, 4 + len(body)) + body)


# Actions
def output(port, max_len=0xFFFF):
    return struct.pack(">HHIH6x", 0, 16, port, max_len)


def group(gid):
    return struct.pack(">HHI", 22, 8, gid)


def push_vlan():
    return struct.pack(">HHH2x", 17, 8, 0x8100)


def pop_vlan():
    return struct.pack(">HH4x", 18, 8)


def set_field(f):
    return pad8(struct.pack(">HH", 25, len(pad8(b"\0" * 4 + f))) + f)


# Instructions
def goto(table):
    return struct.pack(">HHB3x", 1, 8, table)


def apply(*acts):
    a = b"".join(acts)
    return struct.pack(">HH4x", 4, 8 + len(a)) + a


def write_actions(*acts):
    a = b"".join(acts)
    return struct.pack(">HH4x", 3, 8 + len(a)) + a


def meter(mid):
    return struct.pack(">HHI", 6, 8, mid)


def flow_mod(cmd, m, instrs=b"", table=0, prio=100, cookie=0, flags=0, idle=0, hard=0,
             out_port=ANY, out_group=ANY, cookie_mask=0):
    body = struct.pack(">QQBBHHHIIIH2x", cookie, cookie_mask, table, cmd, idle, hard, prio,
                       NO_BUFFER, out_port, out_group, flags)
    return msg(14, body + m + instrs)


ADD, MODIFY, MODIFY_STRICT, DELETE, DELETE_STRICT = 0, 1, 2, 3, 4


def packet_out(in_port, acts, frame):
    return msg(13, struct.pack(">IIH6x", NO_BUFFER, in_port, len(acts)) + acts + frame)


def frame(dst=b"\xff" * 6, src=b"\x02\0\0\0\0\x0a", ethertype=0x0800, payload=None):
    if payload is None:
        # IPv4/UDP 10.0.0.10 -> 10.0.0.11, port 80 (checksum not checked by the switch).
        udp = struct.pack(">HHHH", 1000, 80, 8 + 18, 0) + b"x" * 18
        payload = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                              bytes([10, 0, 0, 10]), bytes([10, 0, 0, 11])) + udp
    f = dst + src + u16(ethertype) + payload
    return f + b"\0" * max(0, 60 - len(f))


def bucket(acts, weight=0, watch_port=ANY, watch_group=ANY):
    return struct.pack(">HHII4x", 16 + len(acts), weight, watch_port, watch_group) + acts


def group_mod(cmd, gtype, gid, buckets=b""):
    return msg(15, struct.pack(">HBxI", cmd, gtype, gid) + buckets)


def meter_mod(cmd, flags, mid, bands=b""):
    return msg(29, struct.pack(">HHI", cmd, flags, mid) + bands)


def drop_band(rate, burst=0):
    return struct.pack(">HHII4x", 1, 16, rate, burst)


def multipart(mptype, body=b"", flags=0):
    return msg(18, struct.pack(">HH4x", mptype, flags) + body)


def flow_stats_req(table=0xFF, m=None, mptype=1):
    body = struct.pack(">B3xII4xQQ", table, ANY, ANY, 0, 0) + (m or match())
    return multipart(mptype, body)


def role(r, gen=0):
    return msg(24, struct.pack(">I4xQ", r, gen))


def port_mac(name):
    """The switch's made-up port address (FNV-1a 64, as switchd's stats::port_mac)."""
    h = 0xCBF29CE484222325
    for b in name.encode():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    b = h.to_bytes(8, "big")
    return bytes([(b[2] & 0xFC) | 0x02]) + b[3:8]


def port_mod(port, hw, config, mask):
    return msg(16, struct.pack(">I4x6s2xIII4x", port, hw, config, mask, 0))


def bundle_ctrl(bid, kind, flags=0):
    return msg(4, struct.pack(">IIIHH", ONF, 2300, bid, kind, flags))


def bundle_add(bid, inner, flags=0):
    xid = struct.unpack(">I", inner[4:8])[0]
    return msg(4, struct.pack(">IIIHH", ONF, 2301, bid, 0, flags) + inner, xid=xid)


BARRIER = lambda: msg(20)
IPV4 = u16(0x0800)

SEEDS = {
    # The handshake and the read-only requests a controller starts with.
    "hello_features": [
        msg(5), msg(7), msg(9, struct.pack(">HH", 0, 0xFFFF)), msg(7), msg(2, b"ping"),
        multipart(0), multipart(13), multipart(3), multipart(4, struct.pack(">I4x", ANY)),
        multipart(4, struct.pack(">I4x", 2)), multipart(5, struct.pack(">II", ANY, ANY)),
        multipart(8), multipart(11), BARRIER(),
    ],
    # Flows added, modified, dumped, deleted strictly and then all at once.
    "flow_add_delete": [
        flow_mod(ADD, match(oxm(IN_PORT, u32(1))), apply(output(2))),
        flow_mod(ADD, match(oxm(ETH_TYPE, IPV4), oxm(IPV4_DST, bytes([10, 0, 0, 0]),
                                                   bytes([255, 255, 255, 0]))),
                 apply(output(3)) + goto(1), prio=200, cookie=0x17, flags=1, idle=60),
        flow_mod(ADD, match(oxm(ETH_TYPE, IPV4), oxm(IP_PROTO, u8(17)), oxm(UDP_DST, u16(53))),
                 apply(output(P_CONTROLLER, 128)), table=1, prio=5),
        flow_mod(MODIFY, match(oxm(IN_PORT, u32(1))), apply(push_vlan(),
                 set_field(oxm(VLAN_VID, u16(0x1000 | 10))), output(2))),
        flow_stats_req(), flow_stats_req(table=1), flow_stats_req(mptype=2),
        flow_mod(DELETE_STRICT, match(oxm(IN_PORT, u32(1))), prio=100),
        flow_mod(DELETE, match(), table=0xFF, cookie=0x17, cookie_mask=0xFFFFFFFFFFFFFFFF),
        BARRIER(), flow_stats_req(),
        flow_mod(DELETE, match(), table=0xFF), BARRIER(),
    ],
    # PACKET_OUT to a port, ALL, FLOOD, the tables (NORMAL) and the controller.
    "packet_out": [
        flow_mod(ADD, match(), apply(output(P_NORMAL)), prio=0),
        packet_out(P_CONTROLLER, output(2), frame()),
        packet_out(P_CONTROLLER, output(P_ALL), frame()),
        packet_out(1, output(P_FLOOD), frame(dst=b"\x02\0\0\0\0\x0b")),
        packet_out(2, output(P_TABLE), frame(src=b"\x02\0\0\0\0\x0b", dst=b"\x02\0\0\0\0\x0a")),
        packet_out(P_CONTROLLER, output(P_CONTROLLER, 64), frame()),
        packet_out(1, pop_vlan() + output(P_IN_PORT), frame()),
        BARRIER(),
    ],
    # A bundle: open, two FLOW_MODs added, closed, committed; then one that fails at commit (an unknown group), and a discard.
    "bundle": [
        bundle_ctrl(1, 0),
        bundle_add(1, flow_mod(ADD, match(oxm(IN_PORT, u32(2))), apply(output(1)))),
        bundle_add(1, flow_mod(ADD, match(oxm(IN_PORT, u32(3))), apply(output(1)), prio=7)),
        bundle_ctrl(1, 2), bundle_ctrl(1, 4),
        bundle_add(2, flow_mod(ADD, match(), apply(group(77)))),
        bundle_ctrl(2, 4),
        bundle_ctrl(3, 0, flags=1), bundle_add(3, msg(20), flags=1), bundle_ctrl(3, 6, flags=1),
        flow_stats_req(), BARRIER(),
    ],
    # Groups and meters, a flow using both, their statistics, then deletes.
    "group_meter": [
        group_mod(0, 1, 1, bucket(output(1), weight=1) + bucket(output(2), weight=1)),
        group_mod(0, 3, 2, bucket(output(1), watch_port=1) + bucket(output(3), watch_port=3)),
        group_mod(0, 0, 3, bucket(output(1)) + bucket(group(2))),
        meter_mod(0, 2 | 4 | 8, 1, drop_band(100, 10)),
        meter_mod(0, 1, 2, drop_band(1000)),
        flow_mod(ADD, match(oxm(IN_PORT, u32(1))), meter(1) + apply(group(1))),
        flow_mod(ADD, match(oxm(IN_PORT, u32(2))), write_actions(group(2))),
        packet_out(1, group(3), frame()),
        multipart(6, struct.pack(">I4x", 0xFFFFFFFC)), multipart(7), multipart(8),
        multipart(9, struct.pack(">I4x", ANY)), multipart(10, struct.pack(">I4x", ANY)),
        multipart(11),
        group_mod(1, 1, 1, bucket(output(3), weight=2)),
        meter_mod(1, 2, 1, drop_band(50)),
        group_mod(2, 0, 0xFFFFFFFC), meter_mod(2, 0, 0xFFFFFFFF), BARRIER(),
    ],
    # Roles, asynchronous configuration, PORT_MOD and TABLE_MOD, and a slave refused.
    "roles_ports": [
        role(2, 1), msg(26),
        msg(28, struct.pack(">IIIIII", 3, 0, 7, 7, 15, 0)), msg(26),
        port_mod(1, port_mac("a"), 1 << 6, 1 << 6), port_mod(1, port_mac("a"), 0, 1 << 6),
        port_mod(2, b"\0" * 6, 1, 1), port_mod(9, b"\0" * 6, 1, 1),
        msg(17, struct.pack(">B3xI", 0, 0)), msg(17, struct.pack(">B3xI", 0xFE, 0)),
        role(3, 2), flow_mod(ADD, match(), apply(output(1))), role(2, 1), role(1, 3),
        flow_mod(ADD, match(), apply(output(1))), BARRIER(),
    ],
    # Table features (large reply), echo and experimenter refusals, replies sent the wrong way.
    "odd_requests": [
        multipart(12), msg(2, b"x" * 300), msg(4, struct.pack(">II", 0x2320, 1)),
        multipart(0xFFFF, struct.pack(">II", 0x2320, 0)), msg(6), msg(21), BARRIER(),
    ],
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, msgs in SEEDS.items():
        _xid[0] = 0
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(b"\0" + b"".join(msgs))
    # Raw mode (control byte 7): our own HELLO with a version bitmap, then a FEATURES_REQUEST
    # and a message cut off by the end of the stream.
    hello = msg(0, struct.pack(">HHI", 1, 8, 1 << 4), xid=0)
    with open(os.path.join(OUT, "raw_bitmap_hello"), "wb") as f:
        f.write(b"\x07" + hello + msg(5) + msg(20)[:5])
    print("wrote", len(SEEDS) + 1, "seeds to", os.path.normpath(OUT))


main()
