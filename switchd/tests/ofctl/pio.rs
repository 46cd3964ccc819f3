//! What the packet-in/packet-out tests share: OpenFlow constants, frames, and the raw client's
//! synchronous steps (connect, barrier, wait for a PACKET_IN, install a flow).
#![allow(dead_code)]

use super::client::{barrier_header, flow_mod, Client};
use super::rig::*;
use flowtable::Field;
use openflow::control::SwitchConfig;
use openflow::oxm::OxmField;
use openflow::{Action, FlowModCommand, Message, PacketIn, PacketOut, OFP_NO_BUFFER};
use packet::build;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use switchd::ofp::mgmt_path;

pub const OFPP_CONTROLLER: u32 = 0xffff_fffd;
pub const OFPP_LOCAL: u32 = 0xffff_fffe;
pub const OFPP_ANY: u32 = 0xffff_ffff;
pub const NO_BUFFER_LEN: u16 = 0xffff;

/// OFPBRC_* / OFPBAC_* codes the tests expect.
pub const BRC_BAD_PORT: u16 = 11;
pub const BRC_BUFFER_UNKNOWN: u16 = 8;
pub const BRC_BAD_PACKET: u16 = 12;
pub const BRC_IS_SLAVE: u16 = 10;
pub const BAC_BAD_TYPE: u16 = 0;
/// OFPBAC_BAD_EXPERIMENTER.
pub const BAC_BAD_EXPERIMENTER: u16 = 2;
pub const BAC_BAD_OUT_PORT: u16 = 4;
pub const BAC_BAD_OUT_GROUP: u16 = 9;

/// A UDP frame from A to B, 10.0.0.1 -> 10.0.0.`last`, destination port `dport`, `len` bytes
/// in all.
pub fn udp(last: u8, dport: u16, len: usize) -> Vec<u8> {
    udp_macs(A, B, last, dport, len)
}

pub fn udp_macs(src: [u8; 6], dst: [u8; 6], last: u8, dport: u16, len: usize) -> Vec<u8> {
    let payload = vec![0x5a; len.saturating_sub(42)];
    build::udp_ipv4_frame(
        src,
        dst,
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, last),
        4321,
        dport,
        &payload,
    )
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Frames sent by a, b and c (by name) once `expect` came out, or after 200 ms when `expect`
/// is 0; sorted by port name.
pub fn collect(r: &Rig, expect: usize) -> Vec<(String, Vec<u8>)> {
    let deadline = Instant::now() + Duration::from_millis(if expect == 0 { 200 } else { 3000 });
    let mut out = Vec::new();
    loop {
        for name in ["a", "b", "c"] {
            for f in r.sw.mock(name).expect("mock").take_sent() {
                out.push((name.to_string(), f));
            }
        }
        if (expect > 0 && out.len() >= expect) || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    out.sort();
    out
}

pub fn names(out: &[(String, Vec<u8>)]) -> Vec<&str> {
    out.iter().map(|(n, _)| n.as_str()).collect()
}

/// `ovs-ofctl packet-out` with the packet-out syntax of ovs-ofctl 2.8 and later.
pub fn packet_out(r: &Rig, spec: &str) -> (bool, String) {
    let (ok, out, err) = r.ofctl_status("packet-out", &[spec]);
    (ok, format!("{out}{err}"))
}

pub fn connect(r: &Rig) -> Client {
    Client::connect(&mgmt_path(&r.rundir, "br0"))
}

/// Send `m` and wait for the barrier after it (everything before it has been applied).
pub fn send_sync(c: &mut Client, xid: u32, m: &Message) {
    c.send(xid, m);
    barrier(c, xid + 1);
}

pub fn barrier(c: &mut Client, xid: u32) {
    c.send(xid, &Message::BarrierRequest);
    loop {
        match c.recv().expect("barrier reply") {
            (h, Message::BarrierReply) => {
                assert_eq!(h, barrier_header(xid));
                return;
            }
            (_, Message::PortStatus(_)) => {}
            other => panic!("while waiting for barrier {xid}: {other:?}"),
        }
    }
}

/// The next PACKET_IN (asynchronous PORT_STATUS messages are skipped).
pub fn next_packet_in(c: &mut Client) -> PacketIn {
    loop {
        match c.recv().expect("a packet-in") {
            (h, Message::PacketIn(p)) => {
                assert_eq!(h.xid, 0, "asynchronous messages carry xid 0");
                return p;
            }
            (_, Message::PortStatus(_)) => {}
            other => panic!("expected a packet-in, got {other:?}"),
        }
    }
}

/// Check that no PACKET_IN is waiting: an echo sent now is answered first.
pub fn expect_no_packet_in(c: &mut Client, xid: u32) {
    c.send(xid, &Message::EchoRequest(vec![7]));
    loop {
        match c.recv().expect("echo reply") {
            (h, Message::EchoReply(d)) => {
                assert_eq!((h.xid, d), (xid, vec![7]));
                return;
            }
            (_, Message::PortStatus(_)) => {}
            other => panic!("expected no packet-in, got {other:?}"),
        }
    }
}

pub fn in_port_match(p: u32) -> OxmField {
    OxmField::exact(Field::InPort, p.into())
}

/// A flow mod (cookie 0x77, table 0) with `priority`, `matches` and apply-actions `actions`.
pub fn add_flow(
    c: &mut Client,
    xid: u32,
    priority: u16,
    matches: Vec<OxmField>,
    actions: Vec<Action>,
) {
    let mut fm = flow_mod(FlowModCommand::Add, matches, actions);
    fm.priority = priority;
    send_sync(c, xid, &Message::FlowMod(fm));
}

pub fn to_controller(max_len: u16) -> Action {
    Action::Output {
        port: OFPP_CONTROLLER,
        max_len,
    }
}

pub fn set_miss_send_len(c: &mut Client, xid: u32, len: u16) {
    let cfg = SwitchConfig {
        flags: 0,
        miss_send_len: len,
    };
    send_sync(c, xid, &Message::SetConfig(cfg));
}

pub fn raw_packet_out(in_port: u32, actions: Vec<Action>, data: Vec<u8>) -> Message {
    Message::PacketOut(PacketOut {
        buffer_id: OFP_NO_BUFFER,
        in_port,
        actions,
        data,
    })
}
