"""An os-ken app that installs issue 17's OpenFlow 1.3 matches and actions (used by
tests/tests/osken_of13.rs).

It stands for "a generic OF1.3 controller": every flow is built with os-ken's own
OFP 1.3 parser classes (OFPMatch, OFPActionPushMpls, OFPActionSetField, ...), so the
bytes on the wire are os-ken's encoding, not dvs's. When the switch connects it

1. installs the flows of FLOWS (cookie 0x17000000 + n, so the test can find each
   one in `ovs-ofctl dump-flows`) and the flows of REFUSED, which set read-only
   fields and must be refused with OFPET_BAD_ACTION / OFPBAC_BAD_SET_TYPE;
2. sends a BARRIER_REQUEST: the switch answers it after every flow mod before it,
   so by the reply every error has arrived;
3. reads every flow back with a FLOW_STATS request (os-ken decodes fields that
   ovs-ofctl cannot spell, such as ipv6_exthdr) and compares each with what it sent;
4. writes a JSON report to the file named by $DVS_OF13_REPORT (atomically, by
   rename): what it installed (xid, table, priority, cookie, match, instructions),
   the OFPErrorMsg type/code received per xid, and the read-back comparison. The
   test waits for "done": true.
5. on request, counts: when the test writes a number N to $DVS_OF13_REPORT.count,
   the app reads the flows again and records each flow's packet count under
   "counts" (cookie in hex -> n_packets) with "counts_gen": N. Counting through
   os-ken covers table 3, whose ipv6_exthdr match ovs-ofctl cannot decode.

The port layout is the test's: ports 1, 2 and 3 are three namespace VMs. Tables:
0 classifies by port; 1 matches IPv4 after an MPLS pop; 2 matches tunnel_id; 3
matches ipv6_exthdr; 4 holds the TTL copies (ovs-ofctl can decode neither 3 nor 4).
"""

import json
import os

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER
from os_ken.controller.handler import set_ev_cls
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3

COOKIE_BASE = 0x17000000
FRAG = 0x10  # OFPIEH_FRAG in ipv6_exthdr


def _flows(ofp, p):
    """The flows to install: (name, table, priority, match, instructions)."""

    def apply(*actions):
        return p.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, list(actions))

    def out(port):
        return p.OFPActionOutput(port, 0)

    def goto(table):
        return p.OFPInstructionGotoTable(table)

    return [
        # Port 1 IPv4 UDP: push an MPLS entry (label 1000, TC 5, TTL 33) and out of 2.
        ("mpls_push", 0, 100,
         p.OFPMatch(in_port=1, eth_type=0x0800, ip_proto=17),
         [apply(p.OFPActionPushMpls(0x8847),
                p.OFPActionSetField(mpls_label=1000),
                p.OFPActionSetField(mpls_tc=5),
                p.OFPActionSetMplsTtl(33),
                out(2))]),
        # Port 2 MPLS label 2000 bottom of stack: TTL - 1, pop to IPv4, re-parse in table 1.
        ("mpls_pop", 0, 100,
         p.OFPMatch(in_port=2, eth_type=0x8847, mpls_label=2000, mpls_bos=1),
         [apply(p.OFPActionDecMplsTtl(), p.OFPActionPopMpls(0x0800)), goto(1)]),
        ("popped_udp", 1, 100,
         p.OFPMatch(eth_type=0x0800, ip_proto=17, udp_dst=4000),
         [apply(out(1))]),
        # Port 1 SCTP to 5000: rewritten to 6000 (CRC32c updated), out of 3.
        ("sctp", 0, 100,
         p.OFPMatch(in_port=1, eth_type=0x0800, ip_proto=132, sctp_dst=5000),
         [apply(p.OFPActionSetField(sctp_dst=6000), out(3))]),
        # Port 3 IPv4 UDP: tunnel_id 0x77 as pipeline metadata, matched in table 2.
        ("tunnel_set", 0, 100,
         p.OFPMatch(in_port=3, eth_type=0x0800, ip_proto=17),
         [apply(p.OFPActionSetField(tunnel_id=0x77)), goto(2)]),
        ("tunnel_match", 2, 100, p.OFPMatch(tunnel_id=0x77), [apply(out(1))]),
        ("tunnel_other", 2, 10, p.OFPMatch(), [apply(out(2))]),
        # Port 3 IPv6: a fragment header (ipv6_exthdr FRAG bit) goes to 2, the rest to 1.
        ("to_exthdr", 0, 100, p.OFPMatch(in_port=3, eth_type=0x86dd), [goto(3)]),
        ("exthdr_frag", 3, 100,
         p.OFPMatch(eth_type=0x86dd, ipv6_exthdr=(FRAG, FRAG)),
         [apply(out(2))]),
        ("exthdr_other", 3, 10, p.OFPMatch(eth_type=0x86dd), [apply(out(1))]),
        # Port 1 neighbor solicitation: new ND target and source link-layer address, out of 3.
        ("nd", 0, 100,
         p.OFPMatch(in_port=1, eth_type=0x86dd, ip_proto=58, icmpv6_type=135),
         [apply(p.OFPActionSetField(ipv6_nd_target="2001:db8::99"),
                p.OFPActionSetField(ipv6_nd_sll="02:00:00:00:00:99"),
                out(3))]),
        # Port 2, through table 4 (ovs-ofctl cannot decode the TTL copies; os-ken can):
        # label 3000 with TC 2 -> copy_ttl_in (MPLS TTL into the IP header), pop, out of 3;
        # IPv4 UDP -> push 0x8848, label 3001, TTL 5, then copy_ttl_out (IP TTL into the
        # entry), out of 3.
        ("to_copy_mpls", 0, 100,
         p.OFPMatch(in_port=2, eth_type=0x8847, mpls_label=3000), [goto(4)]),
        ("to_copy_ip", 0, 100,
         p.OFPMatch(in_port=2, eth_type=0x0800, ip_proto=17), [goto(4)]),
        ("copy_in", 4, 100,
         p.OFPMatch(eth_type=0x8847, mpls_tc=2),
         [apply(p.OFPActionCopyTtlIn(), p.OFPActionPopMpls(0x0800), out(3))]),
        ("copy_out", 4, 100,
         p.OFPMatch(eth_type=0x0800, ip_proto=17),
         [apply(p.OFPActionPushMpls(0x8848),
                p.OFPActionSetField(mpls_label=3001),
                p.OFPActionSetMplsTtl(5),
                p.OFPActionCopyTtlOut(),
                out(3))]),
    ]


def _refused(ofp, p):
    """Flows the switch must refuse: set_field on read-only fields."""

    def apply(*actions):
        return p.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, list(actions))

    return [
        ("set_eth_type", 0, 200,
         p.OFPMatch(in_port=1, eth_type=0x0800),
         [apply(p.OFPActionSetField(eth_type=0x86dd), p.OFPActionOutput(2, 0))]),
        ("set_ip_proto", 0, 200,
         p.OFPMatch(in_port=1, eth_type=0x0800, ip_proto=6),
         [apply(p.OFPActionSetField(ip_proto=17), p.OFPActionOutput(2, 0))]),
    ]


def _strip_len(v):
    """A to_jsondict() value without its length fields (set only once serialized)."""
    if isinstance(v, dict):
        return {k: _strip_len(x) for k, x in v.items() if k not in ("len", "length")}
    if isinstance(v, list):
        return [_strip_len(x) for x in v]
    return v


def _match_dict(m):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in m.items()}


def _insts(insts):
    return [_strip_len(i.to_jsondict()) for i in insts]


class Of13Features(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.path = os.environ.get("DVS_OF13_REPORT", "of13_report.json")
        self.dp = None
        self._reset(None)
        hub.spawn(self._watch_count_requests)

    def _reset(self, dpid):
        self.report = {"datapath_id": dpid, "installed": [], "refused": [],
                       "errors": [], "barrier": False, "readback": [],
                       "done": False}
        self.sent = {}  # cookie -> installed entry
        self.stats = []
        self.barrier_xid = None
        self.counting = None  # the count request being answered, if any
        self.counted = 0

    def _stats_request(self, dp):
        ofp, p = dp.ofproto, dp.ofproto_parser
        self.stats = []
        dp.send_msg(p.OFPFlowStatsRequest(dp, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY,
                                          ofp.OFPG_ANY, 0, 0, p.OFPMatch()))

    def _watch_count_requests(self):
        while True:
            hub.sleep(0.2)
            try:
                with open(self.path + ".count") as f:
                    gen = int(f.read().strip() or 0)
            except (OSError, ValueError):
                continue
            if (self.dp is not None and self.report["done"] and self.counting is None
                    and gen > self.counted):
                self.counting = gen
                self._stats_request(self.dp)

    def _write(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.report, f, indent=1, sort_keys=True)
        os.rename(tmp, self.path)

    def _send_flow(self, dp, n, entry, into):
        name, table, prio, match, insts = entry
        ofp, p = dp.ofproto, dp.ofproto_parser
        cookie = COOKIE_BASE + n
        msg = p.OFPFlowMod(datapath=dp, cookie=cookie, table_id=table, priority=prio,
                           command=ofp.OFPFC_ADD, match=match, instructions=insts)
        dp.set_xid(msg)
        dp.send_msg(msg)
        rec = {"name": name, "xid": msg.xid, "cookie": cookie, "table_id": table,
               "priority": prio, "match": _match_dict(match),
               "instructions": _insts(insts)}
        into.append(rec)
        return rec

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def on_features(self, ev):
        dp = ev.msg.datapath
        ofp, p = dp.ofproto, dp.ofproto_parser
        self._reset(dp.id)
        self.dp = dp
        # Start from an empty table set, should the switch reconnect.
        dp.send_msg(p.OFPFlowMod(datapath=dp, table_id=ofp.OFPTT_ALL,
                                 command=ofp.OFPFC_DELETE, out_port=ofp.OFPP_ANY,
                                 out_group=ofp.OFPG_ANY, match=p.OFPMatch()))
        for n, entry in enumerate(_flows(ofp, p), start=1):
            rec = self._send_flow(dp, n, entry, self.report["installed"])
            self.sent[rec["cookie"]] = rec
        for n, entry in enumerate(_refused(ofp, p), start=101):
            self._send_flow(dp, n, entry, self.report["refused"])
        barrier = p.OFPBarrierRequest(dp)
        dp.set_xid(barrier)
        dp.send_msg(barrier)
        self.barrier_xid = barrier.xid
        self.logger.info("switch %016x: %d flows and %d refusable flows sent",
                         dp.id, len(self.report["installed"]), len(self.report["refused"]))
        self._write()

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def on_error(self, ev):
        msg = ev.msg
        self.report["errors"].append({"xid": msg.xid, "type": msg.type, "code": msg.code})
        self.logger.info("error for xid %d: type %d code %d", msg.xid, msg.type, msg.code)
        self._write()

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def on_barrier(self, ev):
        if ev.msg.xid != self.barrier_xid:
            return
        self.report["barrier"] = True
        self._write()
        self._stats_request(ev.msg.datapath)

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def on_flow_stats(self, ev):
        msg = ev.msg
        self.stats.extend(msg.body)
        if msg.flags & msg.datapath.ofproto.OFPMPF_REPLY_MORE:
            return
        if self.counting is not None:
            self.report["counts"] = {"%#x" % s.cookie: s.packet_count for s in self.stats}
            self.report["counts_gen"] = self.counted = self.counting
            self.counting = None
            self._write()
            return
        if self.report["done"]:
            return
        got = {s.cookie: s for s in self.stats}
        for cookie, rec in sorted(self.sent.items()):
            s = got.get(cookie)
            entry = {"name": rec["name"], "cookie": cookie, "present": s is not None}
            if s is not None:
                m, i = _match_dict(s.match), _insts(s.instructions)
                entry.update({
                    "table_id": s.table_id, "priority": s.priority, "match": m,
                    "instructions": i,
                    "same": (s.table_id == rec["table_id"] and s.priority == rec["priority"]
                             and m == rec["match"] and i == rec["instructions"]),
                })
            self.report["readback"].append(entry)
        self.report["flow_count"] = len(self.stats)
        self.report["done"] = True
        self._write()
        self.logger.info("read back %d flows; report in %s", len(self.stats), self.path)
