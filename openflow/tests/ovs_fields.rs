//! Every OXM field this crate encodes, and our table-features reply, fed to `ovs-ofctl
//! ofp-print`: Open vSwitch must decode them without error and print the field by name. Skipped
//! when ovs-ofctl is not installed.

use flowtable::{Field, Match};
use openflow::multipart::table_features::TableFeatures;
use openflow::*;
use std::process::Command;

fn ofp_print(bytes: &[u8]) -> Option<String> {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let out = Command::new("ovs-ofctl")
        .args(["ofp-print", &hex])
        .output()
        .ok()?;
    Some(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// Fields that make `f` meaningful (OpenFlow prerequisites).
fn prereqs(f: Field) -> Vec<OxmField> {
    let eth = |t: u128| OxmField::exact(Field::EthType, t);
    let proto = |p: u128| OxmField::exact(Field::IpProto, p);
    match f {
        Field::VlanPcp => vec![OxmField::masked(Field::VlanVid, 0x1000, 0x1000)],
        Field::IpDscp | Field::IpEcn | Field::IpProto | Field::IpTtl | Field::IpFrag => {
            vec![eth(0x800)]
        }
        Field::Ipv4Src | Field::Ipv4Dst => vec![eth(0x800)],
        Field::Ipv6Src | Field::Ipv6Dst | Field::Ipv6Label | Field::Ipv6Exthdr => {
            vec![eth(0x86dd)]
        }
        Field::ArpOp | Field::ArpSpa | Field::ArpTpa | Field::ArpSha | Field::ArpTha => {
            vec![eth(0x806)]
        }
        Field::TcpSrc | Field::TcpDst | Field::TcpFlags => vec![eth(0x800), proto(6)],
        Field::UdpSrc | Field::UdpDst => vec![eth(0x800), proto(17)],
        Field::SctpSrc | Field::SctpDst => vec![eth(0x800), proto(132)],
        Field::Icmpv4Type | Field::Icmpv4Code => vec![eth(0x800), proto(1)],
        Field::Icmpv6Type | Field::Icmpv6Code => vec![eth(0x86dd), proto(58)],
        Field::NdTarget | Field::NdSll => vec![
            eth(0x86dd),
            proto(58),
            OxmField::exact(Field::Icmpv6Type, 135),
        ],
        Field::NdTll => vec![
            eth(0x86dd),
            proto(58),
            OxmField::exact(Field::Icmpv6Type, 136),
        ],
        Field::MplsLabel | Field::MplsTc | Field::MplsBos | Field::MplsTtl => vec![eth(0x8847)],
        _ => vec![],
    }
}

fn value(f: Field) -> u128 {
    match f {
        Field::VlanVid => 0x1005,
        Field::IpFrag => 1,
        Field::Icmpv6Type => 135,
        Field::InPort => 7,
        Field::ArpOp => 2,
        _ => 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10 & f.full_mask(),
    }
}

fn flow_mod(matches: Vec<OxmField>, actions: Vec<Action>) -> Vec<u8> {
    let fm = FlowMod {
        cookie: 0,
        cookie_mask: 0,
        table_id: 0,
        command: FlowModCommand::Add,
        idle_timeout: 0,
        hard_timeout: 0,
        priority: 1,
        buffer_id: OFP_NO_BUFFER,
        out_port: 0xffff_ffff,
        out_group: 0xffff_ffff,
        flags: 0,
        matches,
        instructions: vec![Instruction::ApplyActions(actions)],
    };
    encode_to_vec(1, &Message::FlowMod(fm))
}

/// How `ovs-ofctl` names a field when printing a match.
fn ovs_name(f: Field) -> &'static str {
    match f {
        Field::VlanVid => "dl_vlan",
        Field::IpProto => "nw_proto",
        Field::EthType => "dl_type",
        Field::IpFrag => "nw_frag",
        Field::Icmpv6Type => "icmp_type",
        Field::Icmpv6Code => "icmp_code",
        Field::IpDscp => "nw_tos",
        Field::IpEcn => "nw_ecn",
        Field::Ipv6Label => "ipv6_label",
        Field::TcpSrc | Field::UdpSrc | Field::SctpSrc => "tp_src",
        Field::TcpDst | Field::UdpDst | Field::SctpDst => "tp_dst",
        _ => f.name(),
    }
}

#[test]
fn ovs_decodes_every_match_field() {
    if ofp_print(&[]).is_none() {
        eprintln!("ovs-ofctl not installed; skipping");
        return;
    }
    let mut failures = Vec::new();
    for &f in Field::ALL {
        let mut m = prereqs(f);
        if !m.iter().any(|p| p.field == f) {
            m.push(OxmField::exact(f, value(f)));
        }
        let ft: Match = openflow::convert::to_flowtable_match(&m).expect("valid match");
        assert_eq!(openflow::convert::from_flowtable_match(&ft), m);
        if f == Field::Ipv6Exthdr {
            // Open vSwitch has no ipv6_exthdr: its decoder refuses OXM 39 (BAD_FIELD).
            continue;
        }
        let text = ofp_print(&flow_mod(m.clone(), vec![])).unwrap_or_default();
        let shown = text.contains(ovs_name(f)) || matches!(f, Field::EthType | Field::IpProto); // printed as "ip", "tcp", ...
        if text.contains("decode error") || !shown {
            failures.push(format!("{f:?}: {text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ovs_decodes_set_field_of_writable_fields() {
    if ofp_print(&[]).is_none() {
        return;
    }
    let writable = [
        Field::Metadata,
        Field::Reg(3),
        Field::EthDst,
        Field::EthSrc,
        Field::VlanVid,
        Field::VlanPcp,
        Field::IpDscp,
        Field::IpEcn,
        Field::IpTtl,
        Field::Ipv4Src,
        Field::Ipv4Dst,
        Field::TcpSrc,
        Field::TcpDst,
        Field::UdpSrc,
        Field::UdpDst,
        Field::SctpSrc,
        Field::SctpDst,
        Field::TunnelId,
        Field::Ipv6Src,
        Field::Ipv6Dst,
        Field::Ipv6Label,
        Field::ArpSpa,
        Field::ArpTha,
    ];
    let mut failures = Vec::new();
    for f in writable {
        let action = Action::SetField {
            field: f,
            value: value(f),
        };
        let mut m = prereqs(f);
        if f == Field::VlanVid {
            // Rewriting the VID needs a tag to be there.
            m.push(OxmField::masked(Field::VlanVid, 0x1000, 0x1000));
        }
        let bytes = flow_mod(m, vec![action.clone()]);
        let (_, back) = decode(&bytes).expect("own encoding decodes");
        let Message::FlowMod(fm) = back else {
            panic!("not a flow_mod")
        };
        assert_eq!(
            fm.instructions,
            vec![Instruction::ApplyActions(vec![action])]
        );
        let text = ofp_print(&bytes).unwrap_or_default();
        if text.contains("decode error") || !text.contains("actions=") {
            failures.push(format!("{f:?}: {text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ovs_decodes_our_table_features() {
    if ofp_print(&[]).is_none() {
        return;
    }
    let reply = Message::MultipartReply(MultipartReply {
        flags: 0,
        body: MultipartReplyBody::TableFeatures(vec![
            TableFeatures::ours(0, 2, 1_000_000),
            TableFeatures::ours(1, 2, 1_000_000),
        ]),
    });
    let bytes = encode_to_vec(7, &reply);
    assert_eq!(decode(&bytes).map(|(_, m)| m), Ok(reply));
    let text = ofp_print(&bytes).unwrap_or_default();
    assert!(!text.contains("decode error"), "{text}");
    assert!(text.contains("max_entries=1000000"), "{text}");
    assert!(text.contains("table 1"), "{text}");
}
