//! The whole OpenFlow 1.3 set-field table against a running switch: every field either is
//! refused at FLOW_MOD time with `OFPET_BAD_ACTION / OFPBAC_BAD_SET_TYPE`, or, for a matching
//! frame injected on port a, produces exactly one frame on port b that differs from the input
//! in that field only, with every checksum right (recomputed from scratch by the test). A
//! set-field whose prerequisites the rule's match does not meet is refused with
//! `OFPBAC_MATCH_INCONSISTENT`; a packet that still lacks the field at run time (a later
//! fragment under a TCP rule) is forwarded with the edit skipped. Flows
//! are installed with Debian's `ovs-ofctl -O OpenFlow13` and read back with `dump-flows`, which
//! must print them as `ovs-ofctl parse-flow` prints what was sent. Fields `ovs-ofctl` refuses
//! itself (read-only ones) and OXM fields it cannot spell are sent by the raw client.

#[allow(dead_code)]
#[path = "ofctl/client.rs"]
mod client;
#[path = "ofctl/readback.rs"]
mod readback;
#[path = "ofctl/rig.rs"]
mod rig;
#[path = "ofctl/wire.rs"]
mod wire;

use client::{flow_mod, Client};
use flowtable::Field;
use openflow::error::ErrorType;
use openflow::{encode_to_vec, Action, FlowModCommand, Message};
use packet::build;
use readback::{canonical, outputs};
use rig::*;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use switchd::ofp::mgmt_path;

/// OFPBAC_BAD_SET_TYPE.
const BAD_SET_TYPE: u16 = 13;
/// OFPBAC_MATCH_INCONSISTENT.
const MATCH_INCONSISTENT: u16 = 10;

const IP1: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const IP2: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn v6(s: &str) -> Ipv6Addr {
    s.parse().expect("ipv6")
}

fn payload() -> Vec<u8> {
    vec![0x5a; 30]
}

fn udp4() -> Vec<u8> {
    build::udp_ipv4_frame(A, B, IP1, IP2, 1234, 80, &payload())
}

fn tcp4() -> Vec<u8> {
    build::tcp_ipv4_frame(A, B, IP1, IP2, 1234, 80, 0x18, &payload())
}

fn icmp4() -> Vec<u8> {
    build::icmp_echo_ipv4(A, B, IP1, IP2, 7, 1, &payload())
}

fn arp() -> Vec<u8> {
    let mut f = build::arp_request(A, IP1, IP2);
    build::pad_to_min(&mut f);
    f
}

fn udp6() -> Vec<u8> {
    build::udp_ipv6_frame(
        A,
        B,
        v6("2001:db8::1"),
        v6("2001:db8::2"),
        1234,
        80,
        &payload(),
    )
}

fn icmp6() -> Vec<u8> {
    build::icmpv6_echo(A, B, v6("2001:db8::1"), v6("2001:db8::2"), 7, 1, &payload())
}

fn ns() -> Vec<u8> {
    build::neighbor_solicitation(A, v6("2001:db8::1"), v6("2001:db8::2"))
}

fn na() -> Vec<u8> {
    build::neighbor_advertisement(A, v6("2001:db8::2"), B, v6("2001:db8::1"), true)
}

fn sctp4() -> Vec<u8> {
    build::sctp_ipv4_frame(A, B, (IP1, IP2), (1234, 80), &payload())
}

fn sctp6() -> Vec<u8> {
    build::sctp_ipv6_frame(
        A,
        B,
        (v6("2001:db8::1"), v6("2001:db8::2")),
        (1234, 80),
        &payload(),
    )
}

fn tagged() -> Vec<u8> {
    build::vlan_tagged(&udp4(), 0x8100, (3 << 13) | 10)
}

/// One settable field: the action's text, the match that meets its prerequisites, the frame,
/// and the edit the test expects (applied to a copy of the frame before checksums are
/// recomputed).
struct Case {
    action: &'static str,
    matches: &'static str,
    frame: fn() -> Vec<u8>,
    edit: fn(&mut Vec<u8>),
}

fn put(f: &mut [u8], at: usize, b: &[u8]) {
    f[at..at + b.len()].copy_from_slice(b);
}

const MAC9: [u8; 6] = [2, 0, 0, 0, 0, 0x99];

fn cases() -> Vec<Case> {
    vec![
        Case {
            action: "set_field:02:00:00:00:00:99->eth_dst",
            matches: "ip",
            frame: udp4,
            edit: |f| put(f, 0, &MAC9),
        },
        Case {
            action: "set_field:02:00:00:00:00:99->eth_src",
            matches: "ip",
            frame: udp4,
            edit: |f| put(f, 6, &MAC9),
        },
        Case {
            action: "set_field:4116->vlan_vid",
            matches: "dl_vlan=10",
            frame: tagged,
            edit: |f| put(f, 14, &[0x60, 20]),
        },
        Case {
            action: "set_field:5->vlan_pcp",
            matches: "dl_vlan=10",
            frame: tagged,
            edit: |f| put(f, 14, &[0xa0, 10]),
        },
        Case {
            action: "set_field:46->ip_dscp",
            matches: "ip",
            frame: udp4,
            edit: |f| f[15] = (46 << 2) | (f[15] & 3),
        },
        Case {
            action: "set_field:3->ip_ecn",
            matches: "ip",
            frame: udp4,
            edit: |f| f[15] |= 3,
        },
        Case {
            action: "set_field:46->ip_dscp",
            matches: "ipv6",
            frame: udp6,
            edit: |f| {
                // Traffic class is bits 4..12 of the IPv6 header.
                f[14] = (f[14] & 0xf0) | (46 >> 2);
                f[15] = (f[15] & 0x3f) | ((46 & 3) << 6);
            },
        },
        Case {
            // OpenFlow 1.3 spells this set_nw_ttl (nw_ttl is a Nicira field, not OXM basic).
            action: "mod_nw_ttl:9",
            matches: "ip",
            frame: udp4,
            edit: |f| f[22] = 9,
        },
        Case {
            action: "set_field:10.9.8.7->ip_src",
            matches: "ip",
            frame: udp4,
            edit: |f| put(f, 26, &[10, 9, 8, 7]),
        },
        Case {
            action: "set_field:10.9.8.7->ip_dst",
            matches: "ip",
            frame: udp4,
            edit: |f| put(f, 30, &[10, 9, 8, 7]),
        },
        Case {
            action: "set_field:4444->tcp_src",
            matches: "tcp",
            frame: tcp4,
            edit: |f| put(f, 34, &4444u16.to_be_bytes()),
        },
        Case {
            action: "set_field:4444->tcp_dst",
            matches: "tcp",
            frame: tcp4,
            edit: |f| put(f, 36, &4444u16.to_be_bytes()),
        },
        Case {
            action: "set_field:4444->udp_src",
            matches: "udp",
            frame: udp4,
            edit: |f| put(f, 34, &4444u16.to_be_bytes()),
        },
        Case {
            action: "set_field:4444->udp_dst",
            matches: "udp",
            frame: udp4,
            edit: |f| put(f, 36, &4444u16.to_be_bytes()),
        },
        Case {
            action: "set_field:4444->sctp_src",
            matches: "sctp",
            frame: sctp4,
            edit: |f| put(f, 34, &4444u16.to_be_bytes()),
        },
        Case {
            action: "set_field:4444->sctp_dst",
            matches: "sctp6,tp_src=1234",
            frame: sctp6,
            edit: |f| put(f, 56, &4444u16.to_be_bytes()),
        },
        Case {
            action: "set_field:13->icmp_type",
            matches: "icmp",
            frame: icmp4,
            edit: |f| f[34] = 13,
        },
        Case {
            action: "set_field:4->icmp_code",
            matches: "icmp",
            frame: icmp4,
            edit: |f| f[35] = 4,
        },
        Case {
            action: "set_field:2->arp_op",
            matches: "arp",
            frame: arp,
            edit: |f| put(f, 20, &[0, 2]),
        },
        Case {
            action: "set_field:02:00:00:00:00:99->arp_sha",
            matches: "arp",
            frame: arp,
            edit: |f| put(f, 22, &MAC9),
        },
        Case {
            action: "set_field:10.9.8.7->arp_spa",
            matches: "arp",
            frame: arp,
            edit: |f| put(f, 28, &[10, 9, 8, 7]),
        },
        Case {
            action: "set_field:02:00:00:00:00:99->arp_tha",
            matches: "arp",
            frame: arp,
            edit: |f| put(f, 32, &MAC9),
        },
        Case {
            action: "set_field:10.9.8.7->arp_tpa",
            matches: "arp",
            frame: arp,
            edit: |f| put(f, 38, &[10, 9, 8, 7]),
        },
        Case {
            action: "set_field:2001:db8::99->ipv6_src",
            matches: "ipv6",
            frame: udp6,
            edit: |f| put(f, 22, &v6("2001:db8::99").octets()),
        },
        Case {
            action: "set_field:2001:db8::99->ipv6_dst",
            matches: "ipv6",
            frame: udp6,
            edit: |f| put(f, 38, &v6("2001:db8::99").octets()),
        },
        Case {
            action: "set_field:0xabcde->ipv6_label",
            matches: "ipv6",
            frame: udp6,
            edit: |f| {
                f[15] = (f[15] & 0xf0) | 0x0a;
                put(f, 16, &[0xbc, 0xde]);
            },
        },
        Case {
            action: "set_field:129->icmpv6_type",
            matches: "icmp6",
            frame: icmp6,
            edit: |f| f[54] = 129,
        },
        Case {
            action: "set_field:3->icmpv6_code",
            matches: "icmp6",
            frame: icmp6,
            edit: |f| f[55] = 3,
        },
        Case {
            action: "set_field:2001:db8::99->nd_target",
            matches: "icmp6,icmp_type=135",
            frame: ns,
            edit: |f| put(f, 62, &v6("2001:db8::99").octets()),
        },
        Case {
            action: "set_field:02:00:00:00:00:99->nd_sll",
            matches: "icmp6,icmp_type=135",
            frame: ns,
            edit: |f| put(f, 80, &MAC9),
        },
        Case {
            action: "set_field:2001:db8::99->nd_target",
            matches: "icmp6,icmp_type=136",
            frame: na,
            edit: |f| put(f, 62, &v6("2001:db8::99").octets()),
        },
        Case {
            action: "set_field:02:00:00:00:00:99->nd_tll",
            matches: "icmp6,icmp_type=136",
            frame: na,
            edit: |f| put(f, 80, &MAC9),
        },
        Case {
            // tunnel_id is pipeline state until overlays exist: the frame leaves unchanged.
            action: "set_field:0x55->tun_id",
            matches: "ip",
            frame: udp4,
            edit: |_| {},
        },
        Case {
            // A register is pipeline state: the frame leaves unchanged.
            action: "set_field:5->reg0",
            matches: "ip",
            frame: udp4,
            edit: |_| {},
        },
    ]
}

/// Actions that write pipeline state, not the frame.
fn pipeline_only(action: &str) -> bool {
    action.ends_with("reg0") || action.ends_with("tun_id")
}

/// The priority-100 flow of table 0 as `dump-flows` prints it, from `priority=` on.
fn dumped(r: &Rig) -> String {
    let dump = r.ofctl("dump-flows", &[]);
    let lines = lines_with(&dump, "priority=100");
    assert_eq!(lines.len(), 1, "{dump}");
    let l = lines[0];
    l[l.find("priority=").expect("priority")..]
        .trim()
        .to_string()
}

#[test]
fn every_settable_field_is_rewritten_with_checksums_right_and_reads_back() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    let mut failures = Vec::new();
    for c in cases() {
        r.ofctl("del-flows", &[]);
        let flow = format!(
            "priority=100,in_port=1,{},actions={},output:2",
            c.matches, c.action
        );
        r.ofctl("add-flow", &[&flow]);
        assert_eq!(dumped(&r), canonical(&flow), "read back of {flow}");
        let input = (c.frame)();
        wire::assert_min_len(&input);
        assert!(wire::checksums_ok(&input), "test frame for {}", c.action);
        let mut want = input.clone();
        (c.edit)(&mut want);
        wire::fix_checksums(&mut want);
        r.sw.mock("a").expect("a").inject_all([input.clone()]);
        let out = outputs(&r, 1, Duration::from_secs(3));
        match &out[..] {
            [(port, got)] if port == "b" => {
                if got != &want {
                    failures.push(format!(
                        "{}: frame differs from the expected edit: {}",
                        c.action,
                        wire::diff(&want, got)
                    ));
                } else if !wire::checksums_ok(got) {
                    failures.push(format!("{}: checksums wrong", c.action));
                } else if pipeline_only(c.action) != (got == &input) {
                    failures.push(format!("{}: frame unchanged", c.action));
                }
            }
            other => failures.push(format!(
                "{}: expected one frame on b, got {:?}",
                c.action,
                other.iter().map(|(p, f)| (p, f.len())).collect::<Vec<_>>()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(drops(&r, "edit_failed"), 0);
}

#[test]
fn a_set_field_the_match_does_not_guarantee_is_refused_as_match_inconsistent() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    r.ofctl("del-flows", &[]);
    // Through the raw client (ovs-ofctl checks prerequisites itself): `tcp_dst` on a rule that
    // matches only the port, and `ipv6_nd_sll` on one that matches ICMPv6 but not a
    // solicitation, are refused as OpenFlow 1.3 says (and Open vSwitch does).
    let mut c = Client::connect(&mgmt_path(&r.rundir, "br0"));
    let cases = [
        (
            vec![openflow::oxm::OxmField::exact(Field::InPort, 1)],
            Field::TcpDst,
            4444u128,
        ),
        (
            vec![
                openflow::oxm::OxmField::exact(Field::EthType, 0x86dd),
                openflow::oxm::OxmField::exact(Field::IpProto, 58),
            ],
            Field::NdSll,
            0x0200_0000_0099,
        ),
    ];
    for (i, (m, field, value)) in cases.into_iter().enumerate() {
        let xid = 20 + i as u32;
        let fm = flow_mod(
            FlowModCommand::Add,
            m,
            vec![
                Action::SetField { field, value },
                Action::Output {
                    port: 2,
                    max_len: 0,
                },
            ],
        );
        c.send(xid, &Message::FlowMod(fm));
        c.expect_error(xid, ErrorType::BadAction, MATCH_INCONSISTENT);
    }
    // A push_mpls before it makes mpls_label settable on an IPv4 rule.
    let fm = flow_mod(
        FlowModCommand::Add,
        vec![openflow::oxm::OxmField::exact(Field::EthType, 0x0800)],
        vec![
            Action::PushMpls(0x8847),
            Action::SetField {
                field: Field::MplsLabel,
                value: 77,
            },
            Action::Output {
                port: 2,
                max_len: 0,
            },
        ],
    );
    c.send(30, &Message::FlowMod(fm));
    c.send(31, &Message::BarrierRequest);
    let (h, m) = c.recv().expect("barrier reply");
    assert_eq!((h.xid, m), (31, Message::BarrierReply), "accepted");
    assert_eq!(
        lines_with(&r.ofctl("dump-flows", &[]), "push_mpls").len(),
        1
    );
}

#[test]
fn an_edit_the_packet_has_no_field_for_is_skipped_not_a_drop() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    r.ofctl("del-flows", &[]);
    // The rule matches TCP, but a later fragment carries no TCP header: the edit is skipped
    // (as in Open vSwitch), the fragment forwarded unchanged, nothing counted as a failure.
    r.ofctl(
        "add-flow",
        &["priority=100,tcp,in_port=1,actions=set_field:4444->tcp_dst,output:2"],
    );
    let mut frag = tcp4();
    frag[20..22].copy_from_slice(&0x0010u16.to_be_bytes()); // fragment offset 128 bytes
    frag[24..26].copy_from_slice(&[0, 0]);
    let sum = frag[14..34]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    frag[24..26].copy_from_slice(&sum.to_be_bytes());
    r.sw.mock("a").expect("a").inject_all([frag.clone()]);
    let out = outputs(&r, 1, Duration::from_secs(3));
    assert_eq!(out, vec![("b".to_string(), frag)], "forwarded unchanged");
    assert_eq!(drops(&r, "edit_failed"), 0);
}

/// Fields `ovs-ofctl` sends but OpenFlow 1.3 says are not header fields: the switch refuses.
#[test]
fn ofctl_set_field_on_pipeline_fields_is_refused_with_bad_set_type() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    r.ofctl("del-flows", &[]);
    for a in ["set_field:3->in_port", "set_field:0x1->metadata"] {
        let flow = format!("priority=100,in_port=1,actions={a},output:2");
        let (ok, _, err) = r.ofctl_status("add-flow", &[&flow]);
        assert!(!ok, "{a} accepted");
        assert!(
            err.contains("OFPBAC_BAD_SET_TYPE"),
            "{a}: expected OFPBAC_BAD_SET_TYPE, got {err}"
        );
    }
    assert!(lines_with(&r.ofctl("dump-flows", &[]), "priority=100").is_empty());
}

/// A FLOW_MOD whose only action sets the OXM (class 0x8000) field `field` of `len` bytes.
fn raw_set_field(xid: u32, field: u8, len: u8) -> Vec<u8> {
    let fm = flow_mod(
        FlowModCommand::Add,
        vec![],
        vec![Action::SetField {
            field: Field::EthSrc,
            value: 0x0102_0304_0506,
        }],
    );
    let mut b = encode_to_vec(xid, &Message::FlowMod(fm));
    // The placeholder action: type 25, length 16, OXM eth_src (field 4, 6 bytes).
    let at = b
        .windows(8)
        .position(|w| w == [0, 25, 0, 16, 0x80, 0, 4 << 1, 6])
        .expect("set_field action");
    assert!(len <= 8);
    b[at + 6] = field << 1;
    b[at + 7] = len;
    for (i, x) in b[at + 8..at + 16].iter_mut().enumerate() {
        *x = if i < usize::from(len) { 1 } else { 0 };
    }
    b
}

#[test]
fn every_field_that_is_not_settable_gets_bad_set_type() {
    let r = Rig::new(false);
    let mut c = Client::connect(&mgmt_path(&r.rundir, "br0"));
    let before = r.sw.bridge("br0").expect("br0").view().pipeline.len();
    let mut xid = 10;
    // Known fields OpenFlow or OVS rule out.
    for (field, value) in [
        (Field::InPort, 3),
        (Field::Metadata, 1),
        (Field::EthType, 0x0800),
        (Field::IpProto, 6),
        (Field::IpFrag, 1),
        (Field::TcpFlags, 2),
        (Field::MplsBos, 1),
    ] {
        let fm = flow_mod(
            FlowModCommand::Add,
            vec![],
            vec![Action::SetField { field, value }],
        );
        c.send(xid, &Message::FlowMod(fm));
        c.expect_error(xid, ErrorType::BadAction, BAD_SET_TYPE);
        xid += 1;
    }
    // OXM fields the switch has no slot for: in_phy_port, pbb_isid; and mpls_bos and
    // ipv6_exthdr, which it has but may not write.
    for (field, len) in [(1u8, 4u8), (36, 1), (37, 3), (39, 2)] {
        c.send_raw(&raw_set_field(xid, field, len));
        c.expect_error(xid, ErrorType::BadAction, BAD_SET_TYPE);
        xid += 1;
    }
    assert_eq!(
        r.sw.bridge("br0").expect("br0").view().pipeline.len(),
        before
    );
}
