//! OpenFlow 1.3 match fields beyond the basics, against a running switch: `ipv6_exthdr` (the
//! pseudo-field the parser computes from the IPv6 extension header chain) selects frames by their
//! extension headers, and `tunnel_id`, pipeline state until overlay ports exist, is 0 for frames
//! from ports, is written by `set_field` in table 0 and matched in table 1 after `goto_table`.
//! Frames are injected on mock port a and collected on b and c; flows are read back exactly,
//! with `ovs-ofctl dump-flows` where Open vSwitch can spell the field (`tun_id`) and with a raw
//! flow-stats request where it cannot (OVS has no `ipv6_exthdr`). SCTP ports are covered by
//! `of_set_field.rs`.

#[allow(dead_code)]
#[path = "ofctl/client.rs"]
mod client;
#[path = "ofctl/readback.rs"]
mod readback;
#[path = "ofctl/rig.rs"]
mod rig;

use client::{flow_mod, flow_stats, Client};
use flowtable::Field;
use openflow::oxm::OxmField;
use openflow::{Action, FlowModCommand, Instruction, Message};
use packet::build;
use packet::checksum::PseudoHeader;
use readback::{canonical, outputs};
use rig::*;
use std::net::Ipv6Addr;
use std::time::Duration;
use switchd::ofp::mgmt_path;

/// `ipv6_exthdr` flags (OpenFlow 1.3 `ofp_ipv6exthdr_flags`).
const HOP: u128 = 1 << 6;
const FRAG: u128 = 1 << 4;
const ROUTER: u128 = 1 << 5;
const UNREP: u128 = 1 << 7;

fn v6(s: &str) -> Ipv6Addr {
    s.parse().expect("ipv6")
}

/// An IPv6 UDP frame behind the extension headers `chain` (hop-by-hop, routing or fragment,
/// 8 bytes each; the fragment header says "first fragment, more follow").
fn udp6_behind(chain: &[u8]) -> Vec<u8> {
    let (src, dst) = (v6("2001:db8::1"), v6("2001:db8::2"));
    let ph = PseudoHeader::V6 { src, dst };
    let udp = build::udp_datagram(&ph, 1234, 80, &[0x5a; 30]);
    let mut payload = Vec::new();
    for (i, &h) in chain.iter().enumerate() {
        let next = chain.get(i + 1).copied().unwrap_or(17);
        let mut ext = vec![next, 0, 0, 0, 0, 0, 0, 0];
        if h == 44 {
            // Offset 0, M=1, identification 7.
            ext[3] = 1;
            ext[7] = 7;
        }
        payload.extend_from_slice(&ext);
    }
    payload.extend_from_slice(&udp);
    let first = chain.first().copied().unwrap_or(17);
    let l3 = build::ipv6_packet(src, dst, first, &payload);
    build::ethernet_frame(A, B, 0x86dd, &l3)
}

/// Send `frame` on a and return the ports it left by.
fn ports_for(r: &Rig, frame: &[u8]) -> Vec<String> {
    r.sw.mock("a").expect("a").inject_all([frame.to_vec()]);
    let out = outputs(r, 1, Duration::from_secs(3));
    for (_, f) in &out {
        assert_eq!(f, frame, "forwarded unchanged");
    }
    out.into_iter().map(|(p, _)| p).collect()
}

fn barrier(c: &mut Client, xid: u32) {
    c.send(xid, &Message::BarrierRequest);
    let (h, m) = c.recv().expect("barrier reply");
    assert_eq!((h.xid, m), (xid, Message::BarrierReply));
}

#[test]
fn ipv6_exthdr_selects_frames_by_their_extension_headers_and_reads_back() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    r.ofctl("del-flows", &[]);
    let mut c = Client::connect(&mgmt_path(&r.rundir, "br0"));
    let out = |port| Action::Output { port, max_len: 0 };
    // Hop-by-hop and fragment present, routing absent, no repeats: to b.
    let exthdr = OxmField::masked(Field::Ipv6Exthdr, HOP | FRAG, HOP | FRAG | ROUTER | UNREP);
    let m = vec![
        OxmField::exact(Field::InPort, 1),
        OxmField::exact(Field::EthType, 0x86dd),
        exthdr,
    ];
    c.send(
        2,
        &Message::FlowMod(flow_mod(FlowModCommand::Add, m.clone(), vec![out(2)])),
    );
    // Everything else from a: to c.
    let mut rest = flow_mod(
        FlowModCommand::Add,
        vec![OxmField::exact(Field::InPort, 1)],
        vec![out(3)],
    );
    rest.priority = 50;
    c.send(3, &Message::FlowMod(rest));
    barrier(&mut c, 4);

    // The flow reads back exactly as sent (mask included).
    let stats = flow_stats(&mut c, 5);
    let ours: Vec<_> = stats.iter().filter(|s| s.priority == 100).collect();
    assert_eq!(ours.len(), 1, "{stats:?}");
    assert_eq!(ours[0].matches, m);
    assert_eq!(
        ours[0].instructions,
        vec![Instruction::ApplyActions(vec![out(2)])]
    );

    let hop_frag = udp6_behind(&[0, 44]);
    assert!(hop_frag.len() >= 60);
    assert_eq!(ports_for(&r, &hop_frag), ["b"], "hop-by-hop + fragment");
    assert_eq!(
        ports_for(&r, &udp6_behind(&[])),
        ["c"],
        "no extension headers"
    );
    assert_eq!(ports_for(&r, &udp6_behind(&[0])), ["c"], "hop-by-hop only");
    assert_eq!(
        ports_for(&r, &udp6_behind(&[0, 43, 44])),
        ["c"],
        "with routing"
    );
    assert_eq!(
        ports_for(&r, &udp6_behind(&[0, 44, 44])),
        ["c"],
        "repeated fragment"
    );

    // An exact match on the flags of hop-by-hop + fragment, in a higher-priority flow.
    let exact = vec![
        OxmField::exact(Field::EthType, 0x86dd),
        OxmField::exact(Field::Ipv6Exthdr, HOP | FRAG),
    ];
    let mut fm = flow_mod(FlowModCommand::Add, exact, vec![out(3)]);
    fm.priority = 200;
    c.send(6, &Message::FlowMod(fm));
    barrier(&mut c, 7);
    assert_eq!(ports_for(&r, &hop_frag), ["c"], "exact ipv6_exthdr=0x50");
    assert_eq!(drops(&r, "edit_failed"), 0);
}

#[test]
fn ipv6_exthdr_needs_ipv6_and_cannot_be_set() {
    let r = Rig::new(false);
    let mut c = Client::connect(&mgmt_path(&r.rundir, "br0"));
    // Prerequisite: eth_type=0x86dd.
    let fm = flow_mod(
        FlowModCommand::Add,
        vec![OxmField::exact(Field::Ipv6Exthdr, HOP)],
        vec![],
    );
    c.send(2, &Message::FlowMod(fm));
    // OFPET_BAD_MATCH / OFPBMC_BAD_PREREQ.
    c.expect_error(2, openflow::error::ErrorType::BadMatch, 9);
    let fm = flow_mod(
        FlowModCommand::Add,
        vec![OxmField::exact(Field::EthType, 0x86dd)],
        vec![Action::SetField {
            field: Field::Ipv6Exthdr,
            value: HOP,
        }],
    );
    c.send(3, &Message::FlowMod(fm));
    // OFPET_BAD_ACTION / OFPBAC_BAD_SET_TYPE.
    c.expect_error(3, openflow::error::ErrorType::BadAction, 13);
}

/// The flows of `table` as `dump-flows` prints them, from `priority=` on, sorted.
fn dumped(r: &Rig, table: u8) -> Vec<String> {
    let dump = r.ofctl("dump-flows", &[&format!("table={table}")]);
    let mut v: Vec<String> = dump
        .lines()
        .filter_map(|l| l.find("priority=").map(|i| l[i..].trim().to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn tunnel_id_is_zero_from_ports_set_in_table_0_and_matched_in_table_1() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    r.ofctl("del-flows", &[]);
    let t0 = "priority=100,in_port=1,tun_id=0,actions=set_field:0x55->tun_id,goto_table:1";
    let t1 = [
        "table=1,priority=100,tun_id=0x55,actions=output:2",
        "table=1,priority=90,tun_id=0x50/0xf0,actions=output:3",
        "table=1,priority=10,actions=drop",
    ];
    r.ofctl("add-flow", &[t0]);
    for f in t1 {
        r.ofctl("add-flow", &[f]);
    }
    assert_eq!(dumped(&r, 0), vec![canonical(t0)]);
    let mut want: Vec<String> = t1.iter().map(|f| canonical(f)).collect();
    want.sort();
    assert_eq!(dumped(&r, 1), want);

    let frame = build::udp_ipv4_frame(
        A,
        B,
        [10, 0, 0, 1].into(),
        [10, 0, 0, 2].into(),
        1234,
        80,
        &[0x5a; 30],
    );
    assert_eq!(
        ports_for(&r, &frame),
        ["b"],
        "tun_id 0x55 set, matched exactly"
    );

    // Another id: only the masked rule of table 1 matches.
    r.ofctl(
        "mod-flows",
        &["in_port=1,tun_id=0,actions=set_field:0x5a->tun_id,goto_table:1"],
    );
    assert_eq!(ports_for(&r, &frame), ["c"], "tun_id 0x5a, masked match");

    // Without the set_field the id stays 0 and table 1 drops.
    r.ofctl("mod-flows", &["in_port=1,tun_id=0,actions=goto_table:1"]);
    assert!(
        ports_for(&r, &frame).is_empty(),
        "tun_id 0 reaches the drop"
    );

    // A frame from a port never has a tunnel id: a table 0 rule on a non-zero id misses.
    r.ofctl("del-flows", &[]);
    r.ofctl("add-flow", &["priority=100,tun_id=0x55,actions=output:2"]);
    r.ofctl("add-flow", &["priority=10,actions=output:3"]);
    assert_eq!(ports_for(&r, &frame), ["c"]);
    assert_eq!(drops(&r, "edit_failed"), 0);
}
