//! Messages captured from `ovs-ofctl -O OpenFlow13` (Open vSwitch 3.1) talking to a fake switch:
//! each must decode, re-encode to the identical bytes, and flow mods must convert to flowtable
//! rules. The comment above each is the command line that produced it.

use flowtable::action::{Action as FtAction, OFPP_CONTROLLER, OFPP_NORMAL};
use flowtable::Field;
use openflow::convert::flow_mod_parts;
use openflow::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn round_trip(h: &str) -> Message {
    let bytes = hex(h);
    let (hdr, m) = decode(&bytes).unwrap_or_else(|e| panic!("{h}: {e}"));
    assert_eq!(encode_to_vec(hdr.xid, &m), bytes, "re-encoding {m:?}");
    m
}

fn flow_mod(h: &str) -> FlowMod {
    match round_trip(h) {
        Message::FlowMod(fm) => fm,
        other => panic!("not a flow mod: {other:?}"),
    }
}

/// add-flow table=0,priority=100,in_port=1,dl_vlan=10,actions=pop_vlan,output:2
const ADD_VLAN: &str = "040e006800000006000000000000000000000000000000000000000000000064ffffffffffffffffffffffff0000000000010012800000040000000180000c02100a0000000000000004002000000000001200080000000000000010000000020000000000000000";
/// add-flow table=1,cookie=0x5,priority=200,tcp,nw_src=10.0.0.0/8,tp_dst=80,tcp_flags=+syn-ack,
/// actions=set_field:00:11:22:33:44:55->eth_dst,dec_ttl,write_actions(group:3),goto_table:2
const ADD_TCP: &str = "040e0098000000060000000000000005000000000000000001000000000000c8ffffffffffffffffffffffff000000000001002d80000a020800800017080a000000ff000000800014010680001c020050ffff55084f4e4600000200120000000004002000000000001900108000060600112233445500000018000800000000000300100000000000160008000000030001000802000000";
/// add-flow table=2,priority=10,ipv6,ipv6_dst=fe80::/10,reg3=0x5/0xff,
/// actions=meter:1,clear_actions,write_metadata:0x1/0xff,goto_table:3
const ADD_IPV6_REG: &str = "040e00a00000000600000000000000000000000000000000020000000000000affffffffffffffffffffffff000000000001003a80000a0286dd80003720fe800000000000000000000000000000ffc000000000000000000000000000000001070800000005000000ff000000000000000600080000000100050008000000000002001800000000000000000000000100000000000000ff0001000803000000";
/// add-flow priority=5,arp,arp_tpa=10.0.0.1,actions=CONTROLLER:65535,NORMAL
const ADD_ARP: &str = "040e007000000006000000000000000000000000000000000000000000000005ffffffffffffffffffffffff000000000001001280000a02080680002e040a000001000000000000000400280000000000000010fffffffdffff00000000000000000010fffffffa0000000000000000";
/// add-flow priority=7,icmp6,icmp_type=135,nd_target=fe80::1,vlan_tci=0x1000/0x1000,
/// actions=mod_nw_ttl:9,set_queue:3,push_vlan:0x88a8,set_field:2->vlan_pcp
const ADD_ND: &str = "040e009000000006000000000000000000000000000000000000000000000007ffffffffffffffffffffffff000000000001003080000a0286dd80000d0410001000800014013a80003a018780003e10fe8000000000000000000000000000010004003000000000001700080900000000150008000000030011000888a800000019001080000e010200000000000000";
/// add-flow priority=8,ip,nw_ttl=3,ip_frag=first,actions=drop
const ADD_TTL_FRAG: &str = "040e004800000006000000000000000000000000000000000000000000000008ffffffffffffffffffffffff000000000001001480000a020800000134010100013a010300000000";
/// add-flow priority=9,udp,udp_src=0x100/0xff00,dl_src=02:00:00:00:00:00/ff:00:00:00:00:00,
/// actions=output:3
const ADD_MASKED: &str = "040e007000000006000000000000000000000000000000000000000000000009ffffffffffffffffffffffff00000000000100278000090c020000000000ff000000000080000a020800800014011180001f040100ff0000000400180000000000000010000000030000000000000000";
/// mod-flows table=1,cookie=0x5/-1,actions=drop
const MOD_COOKIE: &str = "040e0038000000060000000000000005ffffffffffffffff0101000000008000ffffffffffffffffffffffff000000000001000400000000";
/// --strict del-flows table=1,priority=200,tcp,nw_src=10.0.0.0/8,tp_dst=80
const DEL_STRICT: &str = "040e0058000000060000000000000000000000000000000001040000000000c8ffffffffffffffffffffffff000000000001002180000a020800800017080a000000ff000000800014010680001c02005000000000000000";
/// del-flows out_port=2
const DEL_OUT_PORT: &str = "040e00380000000600000000000000000000000000000000ff03000000008000ffffffff00000002ffffffff000000000001000400000000";
/// add-group group_id=3,type=select,bucket=weight:5,output:1,bucket=weight:6,output:2
const GROUP_SELECT: &str = "040f005000000006000001000000000300200005ffffffffffffffff000000000000001000000001000000000000000000200006ffffffffffffffff0000000000000010000000020000000000000000";
/// add-group group_id=4,type=fast_failover,bucket=watch_port:1,output:1,bucket=watch_port:2,output:2
const GROUP_FF: &str = "040f00500000000600000300000000040020000000000001ffffffff00000000000000100000000100000000000000000020000000000002ffffffff0000000000000010000000020000000000000000";
/// add-group group_id=5,type=all,bucket=output:1,bucket=output:2
const GROUP_ALL: &str = "040f005000000006000000000000000500200000ffffffffffffffff000000000000001000000001000000000000000000200000ffffffffffffffff0000000000000010000000020000000000000000";
/// add-group group_id=6,type=indirect,bucket=output:1
const GROUP_INDIRECT: &str = "040f003000000006000002000000000600200000ffffffffffffffff0000000000000010000000010000000000000000";
/// add-meter meter=1,kbps,burst,stats,bands=type=drop,rate=1000,burst_size=100
const METER_DROP: &str = "041d0020000000020000000d0000000100010010000003e80000006400000000";
/// add-meter meter=2,pktps,bands=type=dscp_remark,rate=100,prec_level=1
const METER_DSCP: &str = "041d002000000002000000020000000200020010000000640000000001000000";
/// mod-port 1 down
const PORT_DOWN: &str =
    "04100028000000040000000100000000020000000001000000000001000000010000000000000000";
/// dump-flows table=1,tcp
const DUMP_FLOWS_TCP: &str = "0412004000000006000100000000000001000000ffffffffffffffff00000000000000000000000000000000000000000001000f80000a020800800014010600";
/// dump-group-stats
const DUMP_GROUP_STATS: &str = "04120018000000060006000000000000fffffffc00000000";
/// packet-out in_port=1 packet=ffffffffffff0200000000010806 actions=FLOOD
const PACKET_OUT: &str = "040d003600000006ffffffff00000001001000000000000000000010fffffffb0000000000000000ffffffffffff0200000000010806";

#[test]
fn every_capture_round_trips() {
    for h in [
        ADD_VLAN,
        ADD_TCP,
        ADD_IPV6_REG,
        ADD_ARP,
        ADD_ND,
        ADD_TTL_FRAG,
        ADD_MASKED,
        MOD_COOKIE,
        DEL_STRICT,
        DEL_OUT_PORT,
        GROUP_SELECT,
        GROUP_FF,
        GROUP_ALL,
        GROUP_INDIRECT,
        METER_DROP,
        METER_DSCP,
        PORT_DOWN,
        DUMP_FLOWS_TCP,
        DUMP_GROUP_STATS,
        PACKET_OUT,
    ] {
        round_trip(h);
    }
}

#[test]
fn vlan_flow() {
    let fm = flow_mod(ADD_VLAN);
    assert_eq!(fm.command, FlowModCommand::Add);
    assert_eq!(fm.priority, 100);
    assert_eq!(
        fm.matches,
        vec![
            OxmField::exact(Field::InPort, 1),
            OxmField::exact(Field::VlanVid, 0x1000 | 10)
        ]
    );
    let (m, ins) = flow_mod_parts(&fm).unwrap();
    assert_eq!(m.fields().len(), 2);
    assert_eq!(ins.apply, vec![FtAction::PopVlan, FtAction::output(2)]);
}

#[test]
fn tcp_flow_with_onf_tcp_flags() {
    let fm = flow_mod(ADD_TCP);
    assert_eq!((fm.table_id, fm.cookie, fm.priority), (1, 5, 200));
    assert!(fm
        .matches
        .contains(&OxmField::masked(Field::TcpFlags, 0x002, 0x012)));
    assert!(fm
        .matches
        .contains(&OxmField::masked(Field::Ipv4Src, 0x0a00_0000, 0xff00_0000)));
    let (_, ins) = flow_mod_parts(&fm).unwrap();
    assert_eq!(
        ins.apply,
        vec![
            FtAction::SetField(Field::EthDst, 0x0011_2233_4455),
            FtAction::DecTtl
        ]
    );
    assert_eq!(ins.write, vec![FtAction::Group(3)]);
    assert_eq!(ins.goto, Some(2));
}

#[test]
fn ipv6_register_flow() {
    let fm = flow_mod(ADD_IPV6_REG);
    assert!(fm
        .matches
        .contains(&OxmField::masked(Field::Reg(3), 5, 0xff)));
    assert!(fm.matches.contains(&OxmField::masked(
        Field::Ipv6Dst,
        0xfe80u128 << 112,
        0xffc0u128 << 112
    )));
    let (_, ins) = flow_mod_parts(&fm).unwrap();
    assert_eq!(ins.meter, Some(1));
    assert!(ins.clear);
    assert_eq!(ins.write_metadata, Some((1, 0xff)));
    assert_eq!(ins.goto, Some(3));
}

#[test]
fn arp_controller_normal() {
    let fm = flow_mod(ADD_ARP);
    let (_, ins) = flow_mod_parts(&fm).unwrap();
    assert_eq!(
        ins.apply,
        vec![
            FtAction::Output {
                port: OFPP_CONTROLLER,
                max_len: 0xffff
            },
            FtAction::Output {
                port: OFPP_NORMAL,
                max_len: 0
            }
        ]
    );
}

#[test]
fn nd_flow_and_ttl_actions() {
    let fm = flow_mod(ADD_ND);
    assert!(fm
        .matches
        .contains(&OxmField::exact(Field::NdTarget, (0xfe80u128 << 112) | 1)));
    let (_, ins) = flow_mod_parts(&fm).unwrap();
    assert_eq!(
        ins.apply,
        vec![
            FtAction::SetField(Field::IpTtl, 9),
            FtAction::SetQueue(3),
            FtAction::PushVlan(0x88a8),
            FtAction::SetField(Field::VlanPcp, 2)
        ]
    );
    let fm = flow_mod(ADD_TTL_FRAG);
    assert!(fm.matches.contains(&OxmField::exact(Field::IpTtl, 3)));
    assert!(fm.matches.contains(&OxmField::exact(Field::IpFrag, 1)));
    let fm = flow_mod(ADD_MASKED);
    assert!(fm
        .matches
        .contains(&OxmField::masked(Field::UdpSrc, 0x100, 0xff00)));
    assert!(flow_mod_parts(&fm).is_ok());
}

#[test]
fn modify_and_delete() {
    let fm = flow_mod(MOD_COOKIE);
    assert_eq!(fm.command, FlowModCommand::Modify);
    assert_eq!((fm.cookie, fm.cookie_mask), (5, u64::MAX));
    let fm = flow_mod(DEL_STRICT);
    assert_eq!(fm.command, FlowModCommand::DeleteStrict);
    let fm = flow_mod(DEL_OUT_PORT);
    assert_eq!(
        (fm.command, fm.table_id, fm.out_port),
        (FlowModCommand::Delete, 0xff, 2)
    );
}

#[test]
fn groups_meters_ports() {
    let Message::GroupMod(g) = round_trip(GROUP_SELECT) else {
        panic!()
    };
    assert_eq!((g.group_type, g.group_id), (GroupType::Select, 3));
    assert_eq!(
        g.buckets.iter().map(|b| b.weight).collect::<Vec<_>>(),
        [5, 6]
    );
    let Message::GroupMod(g) = round_trip(GROUP_FF) else {
        panic!()
    };
    assert_eq!(g.group_type, GroupType::FastFailover);
    assert_eq!(g.buckets[1].watch_port, 2);
    let Message::MeterMod(m) = round_trip(METER_DSCP) else {
        panic!()
    };
    assert_eq!(
        m.bands,
        vec![MeterBand::DscpRemark {
            rate: 100,
            burst_size: 0,
            prec_level: 1
        }]
    );
    let Message::PortMod(p) = round_trip(PORT_DOWN) else {
        panic!()
    };
    assert_eq!((p.port_no, p.config, p.mask), (1, 1, 1));
    let Message::MultipartRequest(r) = round_trip(DUMP_FLOWS_TCP) else {
        panic!()
    };
    let MultipartRequestBody::Flow(f) = r.body else {
        panic!()
    };
    assert_eq!(f.table_id, 1);
    assert_eq!(f.matches.len(), 2);
}
