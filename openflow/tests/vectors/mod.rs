//! Hand-written OpenFlow 1.3 messages (hex, laid out field by field after the 1.3.5 structs)
//! and the values they decode to. Shared by the round-trip, ovs-ofctl and no-panic tests.

#![allow(dead_code)]

use flowtable::action::{OFPP_ANY, OFPP_CONTROLLER};
use flowtable::Field;
use openflow::control::OFPHET_VERSIONBITMAP;
use openflow::multipart::flow::{AggregateStats, FlowStats, FlowStatsRequest, TableStats};
use openflow::multipart::stats::{
    Desc, GroupDesc, GroupFeatures, GroupStats, MeterConfig, MeterFeatures, MeterStats, PortStats,
};
use openflow::multipart::table_features::{ElemId, OxmId, TableFeatureProp, TableFeatures};
use openflow::*;

/// Parse hex, ignoring whitespace and `|` separators.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|c| c.is_ascii_hexdigit())
        .map(|c| (c as char).to_digit(16).unwrap() as u8)
        .collect();
    assert!(digits.len().is_multiple_of(2), "odd hex: {s}");
    digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

/// A NUL-padded string field as hex.
pub fn str_hex(s: &str, width: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    b.resize(width, 0);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One test vector: name, wire bytes, decoded message, and a substring `ovs-ofctl ofp-print`
/// must show (None when OVS cannot print it).
pub struct Vector {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub msg: Message,
    pub ovs: Option<&'static str>,
}

fn v(name: &'static str, h: &str, msg: Message, ovs: Option<&'static str>) -> Vector {
    Vector {
        name,
        bytes: hex(h),
        msg,
        ovs,
    }
}

fn mp_req(body: MultipartRequestBody) -> Message {
    Message::MultipartRequest(MultipartRequest { flags: 0, body })
}

fn mp_rep(body: MultipartReplyBody) -> Message {
    Message::MultipartReply(MultipartReply { flags: 0, body })
}

const ETH: &str = "ffffffffffff 020000000001 0806";

fn eth_frame() -> Vec<u8> {
    hex(ETH)
}

fn ip_match() -> Vec<OxmField> {
    vec![OxmField::exact(Field::EthType, 0x0800)]
}

fn port1() -> Port {
    Port {
        port_no: 1,
        hw_addr: [2, 0, 0, 0, 0, 1],
        name: "p1".into(),
        config: 0,
        state: 4,
        curr: 0x840,
        advertised: 0,
        supported: 0,
        peer: 0,
        curr_speed: 10_000_000,
        max_speed: 10_000_000,
    }
}

const PORT1: &str = "00000001 00000000 020000000001 0000 70310000000000000000000000000000
    00000000 00000004 00000840 00000000 00000000 00000000 00989680 00989680";

fn small_table_features() -> TableFeatures {
    TableFeatures {
        table_id: 0,
        name: "t0".into(),
        metadata_match: 0,
        metadata_write: 0,
        config: 0,
        max_entries: 100,
        properties: vec![
            TableFeatureProp::NextTables {
                miss: false,
                tables: vec![1, 2],
            },
            TableFeatureProp::Instructions {
                miss: false,
                ids: vec![
                    ElemId {
                        typ: 1,
                        data: vec![],
                    },
                    ElemId {
                        typ: 4,
                        data: vec![],
                    },
                ],
            },
            TableFeatureProp::Match(vec![OxmId::of(Field::InPort, false)]),
        ],
    }
}

const SMALL_TF: &str =
    "0060 00 0000000000 7430000000000000000000000000000000000000000000000000000000000000
    0000000000000000 0000000000000000 00000000 00000064
    0002 0006 0102 0000
    0000 000c 0001 0004 0004 0004 00000000
    0008 0008 80000004";

/// Every vector.
pub fn all() -> Vec<Vector> {
    let flow_mod_add = FlowMod {
        cookie: 0x11,
        cookie_mask: 0,
        table_id: 0,
        command: FlowModCommand::Add,
        idle_timeout: 10,
        hard_timeout: 0,
        priority: 0x8000,
        buffer_id: OFP_NO_BUFFER,
        out_port: OFPP_ANY,
        out_group: 0xffff_ffff,
        flags: 1,
        matches: vec![
            OxmField::exact(Field::InPort, 1),
            OxmField::exact(Field::EthType, 0x0800),
            OxmField::masked(Field::Ipv4Dst, 0x0a00_0000, 0xff00_0000),
        ],
        instructions: vec![
            Instruction::ApplyActions(vec![
                Action::PushVlan(0x8100),
                Action::SetField {
                    field: Field::VlanVid,
                    value: 0x1005,
                },
                Action::Output {
                    port: 2,
                    max_len: 0xffff,
                },
            ]),
            Instruction::GotoTable(1),
        ],
    };
    let flow_mod_del = FlowMod {
        cookie: 0x100,
        cookie_mask: 0xff00,
        table_id: 0xff,
        command: FlowModCommand::Delete,
        idle_timeout: 0,
        hard_timeout: 0,
        priority: 0,
        buffer_id: OFP_NO_BUFFER,
        out_port: 3,
        out_group: 0xffff_ffff,
        flags: 0,
        matches: vec![],
        instructions: vec![],
    };
    let fstats_req = FlowStatsRequest {
        table_id: 0xff,
        out_port: OFPP_ANY,
        out_group: 0xffff_ffff,
        cookie: 0,
        cookie_mask: 0,
        matches: vec![],
    };
    let bucket_out1 = Bucket {
        weight: 0,
        watch_port: 1,
        watch_group: 0xffff_ffff,
        actions: vec![Action::Output {
            port: 1,
            max_len: 0,
        }],
    };
    let desc_hex = format!(
        "04130430 00000020 0000 0000 00000000 {} {} {} {} {}",
        str_hex("dvs", 256),
        str_hex("virtual", 256),
        str_hex("0.1.0", 256),
        str_hex("none", 32),
        str_hex("br0", 256)
    );
    vec![
        v("hello", "04000010 00000001 0001 0008 00000010",
            Message::Hello(Hello { elements: vec![HelloElement::VersionBitmap(vec![0x10])] }),
            Some("version bitmap: 0x04")),
        v("hello-empty", "04000008 00000001", Message::Hello(Hello::default()), Some("OFPT_HELLO")),
        v("error", "0401001c 00000002 0004 0009 040e005000000003 0000000000000000",
            Message::Error(ErrorMsg { err_type: ErrorType::BadMatch, code: 9, experimenter: 0,
                data: hex("040e005000000003 0000000000000000") }),
            Some("OFPBMC_BAD_PREREQ")),
        v("error-experimenter", "04010014 00000002 ffff 0a28 4f4e4600 01020304",
            Message::Error(ErrorMsg { err_type: ErrorType::Experimenter, code: 2600,
                experimenter: 0x4f4e4600, data: vec![1, 2, 3, 4] }),
            Some("OFPT_ERROR")),
        v("echo-request", "0402000c 00000003 61626364", Message::EchoRequest(b"abcd".to_vec()),
            Some("OFPT_ECHO_REQUEST")),
        v("echo-reply", "0403000c 00000003 61626364", Message::EchoReply(b"abcd".to_vec()),
            Some("OFPT_ECHO_REPLY")),
        v("features-request", "04050008 00000004", Message::FeaturesRequest,
            Some("OFPT_FEATURES_REQUEST")),
        v("features-reply",
            "04060020 00000004 0000000000000abc 00000100 fe 00 0000 0000004f 00000000",
            Message::FeaturesReply(SwitchFeatures { datapath_id: 0xabc, n_buffers: 256,
                n_tables: 254, auxiliary_id: 0, capabilities: 0x4f, reserved: 0 }),
            Some("dpid:0000000000000abc")),
        v("get-config-request", "04070008 00000005", Message::GetConfigRequest,
            Some("OFPT_GET_CONFIG_REQUEST")),
        v("get-config-reply", "0408000c 00000005 0000 0080",
            Message::GetConfigReply(SwitchConfig { flags: 0, miss_send_len: 128 }),
            Some("miss_send_len=128")),
        v("set-config", "0409000c 00000006 0001 ffe5",
            Message::SetConfig(SwitchConfig { flags: 1, miss_send_len: 0xffe5 }),
            Some("frags=drop")),
        v("packet-in",
            &format!("040a0038 00000000 ffffffff 003c 01 02 0102030405060708
             0001 000c 80000004 00000003 00000000 0000 {ETH}"),
            Message::PacketIn(PacketIn { buffer_id: OFP_NO_BUFFER, total_len: 60, reason: 1,
                table_id: 2, cookie: 0x0102030405060708,
                matches: vec![OxmField::exact(Field::InPort, 3)], data: eth_frame() }),
            Some("total_len=60 in_port=3 (via action)")),
        v("flow-removed",
            "040b0040 00000007 00000000000000aa 0064 00 01 0000000a 00000005 003c 0000
             0000000000000002 0000000000000080 0001 000a 80000a02 0800 000000000000",
            Message::FlowRemoved(FlowRemoved { cookie: 0xaa, priority: 100, reason: 0,
                table_id: 1, duration_sec: 10, duration_nsec: 5, idle_timeout: 60,
                hard_timeout: 0, packet_count: 2, byte_count: 128, matches: ip_match() }),
            Some("reason=idle table_id=1")),
        v("port-status", &format!("040c0050 00000000 02 00000000000000 {PORT1}"),
            Message::PortStatus(PortStatus { reason: 2, desc: port1() }),
            Some("MOD: 1(p1): addr:02:00:00:00:00:01")),
        v("packet-out",
            &format!("040d0036 00000008 ffffffff fffffffd 0010 000000000000
             0000 0010 fffffffb 0000 000000000000 {ETH}"),
            Message::PacketOut(PacketOut { buffer_id: OFP_NO_BUFFER, in_port: OFPP_CONTROLLER,
                actions: vec![Action::Output { port: 0xffff_fffb, max_len: 0 }],
                data: eth_frame() }),
            Some("in_port=CONTROLLER actions=FLOOD")),
        v("flow-mod-add",
            "040e0088 00000009 0000000000000011 0000000000000000 00 00 000a 0000 8000
             ffffffff ffffffff ffffffff 0001 0000
             0001 001e 80000004 00000001 80000a02 0800 80001908 0a000000 ff000000 0000
             0004 0030 00000000
               0011 0008 8100 0000
               0019 0010 80000c02 1005 000000000000
               0000 0010 00000002 ffff 000000000000
             0001 0008 01 000000",
            Message::FlowMod(flow_mod_add),
            Some("ADD ip,in_port=1,nw_dst=10.0.0.0/8 cookie:0x11 idle:10 send_flow_rem \
                  actions=push_vlan:0x8100,set_field:4101->vlan_vid,output:2,goto_table:1")),
        v("flow-mod-delete",
            "040e0038 0000000a 0000000000000100 000000000000ff00 ff 03 0000 0000 0000
             ffffffff 00000003 ffffffff 0000 0000 0001 0004 00000000",
            Message::FlowMod(flow_mod_del),
            Some("DEL table:255 priority=0 cookie:0x100/0xff00 out_port:3 actions=drop")),
        v("group-mod-select",
            "040f0040 0000000b 0000 01 00 00000007
             0020 000a ffffffff ffffffff 00000000 0000 0010 00000001 0000 000000000000
             0010 0014 00000002 ffffffff 00000000",
            Message::GroupMod(GroupMod { command: GroupModCommand::Add,
                group_type: GroupType::Select, group_id: 7, buckets: vec![
                    Bucket { weight: 10, watch_port: 0xffff_ffff, watch_group: 0xffff_ffff,
                        actions: vec![Action::Output { port: 1, max_len: 0 }] },
                    Bucket { weight: 20, watch_port: 2, watch_group: 0xffff_ffff,
                        actions: vec![] }] }),
            Some("ADD group_id=7,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,watch_port:2,actions=drop")),
        v("group-mod-ff",
            "040f0030 0000000c 0001 03 00 00000008
             0020 0000 00000001 ffffffff 00000000 0000 0010 00000001 0000 000000000000",
            Message::GroupMod(GroupMod { command: GroupModCommand::Modify,
                group_type: GroupType::FastFailover, group_id: 8,
                buckets: vec![bucket_out1.clone()] }),
            Some("MOD group_id=8,type=ff,bucket=watch_port:1,actions=output:1")),
        v("port-mod",
            "04100028 0000000d 00000001 00000000 020000000001 0000 00000001 00000001
             00000000 00000000",
            Message::PortMod(PortMod { port_no: 1, hw_addr: [2, 0, 0, 0, 0, 1], config: 1,
                mask: 1, advertise: 0 }),
            Some("port: 1: addr:02:00:00:00:00:01")),
        v("table-mod", "04110010 0000000e 00 000000 00000003",
            Message::TableMod(TableMod { table_id: 0, config: 3 }), Some("OFPT_TABLE_MOD")),
        v("meter-mod",
            "041d0030 0000000f 0000 000d 00000001
             0001 0010 000003e8 00000064 00000000
             0002 0010 000001f4 00000000 01 000000",
            Message::MeterMod(MeterMod { command: MeterModCommand::Add,
                flags: 0xd, meter_id: 1, bands: vec![
                    MeterBand::Drop { rate: 1000, burst_size: 100 },
                    MeterBand::DscpRemark { rate: 500, burst_size: 0, prec_level: 1 }] }),
            Some("ADD meter=1 kbps burst stats bands= type=drop rate=1000 burst_size=100 \
                  type=dscp_remark rate=500 burst_size=0 prec_level=1")),
        v("mp-desc-request", "04120010 00000010 0000 0000 00000000",
            mp_req(MultipartRequestBody::Desc), Some("OFPST_DESC request")),
        v("mp-flow-request",
            "04120038 00000011 0001 0000 00000000 ff 000000 ffffffff ffffffff 00000000
             0000000000000000 0000000000000000 0001 0004 00000000",
            mp_req(MultipartRequestBody::Flow(fstats_req.clone())), Some("OFPST_FLOW request")),
        v("mp-aggregate-request",
            "04120038 00000012 0002 0000 00000000 ff 000000 ffffffff ffffffff 00000000
             0000000000000000 0000000000000000 0001 0004 00000000",
            mp_req(MultipartRequestBody::Aggregate(fstats_req)), Some("OFPST_AGGREGATE request")),
        v("mp-table-request", "04120010 00000013 0003 0000 00000000",
            mp_req(MultipartRequestBody::Table), Some("OFPST_TABLE request")),
        v("mp-port-stats-request", "04120018 00000014 0004 0000 00000000 ffffffff 00000000",
            mp_req(MultipartRequestBody::PortStats(OFPP_ANY)), Some("port_no=ANY")),
        v("mp-group-request", "04120018 00000015 0006 0000 00000000 fffffffc 00000000",
            mp_req(MultipartRequestBody::Group(0xffff_fffc)), Some("OFPST_GROUP request")),
        v("mp-group-desc-request", "04120010 00000016 0007 0000 00000000",
            mp_req(MultipartRequestBody::GroupDesc), Some("OFPST_GROUP_DESC request")),
        v("mp-group-features-request", "04120010 00000017 0008 0000 00000000",
            mp_req(MultipartRequestBody::GroupFeatures), Some("OFPST_GROUP_FEATURES request")),
        v("mp-meter-request", "04120018 00000018 0009 0000 00000000 ffffffff 00000000",
            mp_req(MultipartRequestBody::Meter(0xffff_ffff)), Some("OFPST_METER request")),
        v("mp-meter-config-request", "04120018 00000019 000a 0000 00000000 00000001 00000000",
            mp_req(MultipartRequestBody::MeterConfig(1)), Some("meter=1")),
        v("mp-meter-features-request", "04120010 0000001a 000b 0000 00000000",
            mp_req(MultipartRequestBody::MeterFeatures), Some("OFPST_METER_FEATURES request")),
        v("mp-table-features-request", "04120010 0000001b 000c 0000 00000000",
            mp_req(MultipartRequestBody::TableFeatures(vec![])),
            Some("OFPST_TABLE_FEATURES request")),
        v("mp-table-features-set", &format!("04120070 0000001c 000c 0000 00000000 {SMALL_TF}"),
            mp_req(MultipartRequestBody::TableFeatures(vec![small_table_features()])),
            None),
        v("mp-port-desc-request", "04120010 0000001d 000d 0000 00000000",
            mp_req(MultipartRequestBody::PortDesc), Some("OFPST_PORT_DESC request")),
        v("mp-desc-reply", &desc_hex,
            mp_rep(MultipartReplyBody::Desc(Desc { mfr_desc: "dvs".into(),
                hw_desc: "virtual".into(), sw_desc: "0.1.0".into(), serial_num: "none".into(),
                dp_desc: "br0".into() })),
            Some("Manufacturer: dvs")),
        v("mp-flow-reply",
            "04130068 00000021 0001 0000 00000000
             0058 01 00 00000003 00000004 0064 0000 0000 0000 00000000
             0000000000000abc 0000000000000005 0000000000000190
             0001 000a 80000a02 0800 000000000000
             0004 0018 00000000 0000 0010 00000001 0000 000000000000",
            mp_rep(MultipartReplyBody::Flow(vec![FlowStats { table_id: 1, duration_sec: 3,
                duration_nsec: 4, priority: 100, idle_timeout: 0, hard_timeout: 0, flags: 0,
                cookie: 0xabc, packet_count: 5, byte_count: 400, matches: ip_match(),
                instructions: vec![Instruction::ApplyActions(vec![Action::Output { port: 1,
                    max_len: 0 }])] }])),
            Some("cookie=0xabc, duration=3.000000004s, table=1, n_packets=5, n_bytes=400, \
                  priority=100,ip actions=output:1")),
        v("mp-aggregate-reply",
            "04130028 00000022 0002 0000 00000000 0000000000000005 0000000000000190 00000002 00000000",
            mp_rep(MultipartReplyBody::Aggregate(AggregateStats { packet_count: 5,
                byte_count: 400, flow_count: 2 })),
            Some("packet_count=5 byte_count=400 flow_count=2")),
        v("mp-table-reply",
            "04130028 00000023 0003 0000 00000000 00 000000 00000002 0000000000000064 0000000000000032",
            mp_rep(MultipartReplyBody::Table(vec![TableStats { table_id: 0, active_count: 2,
                lookup_count: 100, matched_count: 50 }])),
            Some("active=2, lookup=100, matched=50")),
        v("mp-port-stats-reply",
            "04130080 00000024 0004 0000 00000000 00000001 00000000
             0000000000000001 0000000000000002 0000000000000003 0000000000000004
             0000000000000005 0000000000000006 0000000000000007 0000000000000008
             0000000000000009 000000000000000a 000000000000000b 000000000000000c
             0000000a 00000000",
            mp_rep(MultipartReplyBody::PortStats(vec![PortStats { port_no: 1, rx_packets: 1,
                tx_packets: 2, rx_bytes: 3, tx_bytes: 4, rx_dropped: 5, tx_dropped: 6,
                rx_errors: 7, tx_errors: 8, rx_frame_err: 9, rx_over_err: 10, rx_crc_err: 11,
                collisions: 12, duration_sec: 10, duration_nsec: 0 }])),
            Some("port  1: rx pkts=1, bytes=3, drop=5, errs=7, frame=9, over=10, crc=11")),
        v("mp-port-desc-reply", &format!("04130050 00000025 000d 0000 00000000 {PORT1}"),
            mp_rep(MultipartReplyBody::PortDesc(vec![port1()])),
            Some("1(p1): addr:02:00:00:00:00:01")),
        v("mp-group-reply",
            "04130048 00000026 0006 0000 00000000
             0038 0000 00000007 00000001 00000000 000000000000000a 0000000000000400
             00000001 00000002 0000000000000003 0000000000000300",
            mp_rep(MultipartReplyBody::Group(vec![GroupStats { group_id: 7, ref_count: 1,
                packet_count: 10, byte_count: 1024, duration_sec: 1, duration_nsec: 2,
                bucket_stats: vec![(3, 768)] }])),
            Some("group_id=7,duration=1.000000002s,ref_count=1,packet_count=10,byte_count=1024,\
                  bucket0:packet_count=3,byte_count=768")),
        v("mp-group-desc-reply",
            "04130038 00000027 0007 0000 00000000 0028 03 00 00000008
             0020 0000 00000001 ffffffff 00000000 0000 0010 00000001 0000 000000000000",
            mp_rep(MultipartReplyBody::GroupDesc(vec![GroupDesc {
                group_type: GroupType::FastFailover, group_id: 8,
                buckets: vec![bucket_out1] }])),
            Some("group_id=8,type=ff,bucket=watch_port:1,actions=output:1")),
        v("mp-group-features-reply",
            "04130038 00000028 0008 0000 00000000 0000000f 00000005
             00000100 00000100 00000100 00000100 03c60001 03c60001 03c60001 03c60001",
            mp_rep(MultipartReplyBody::GroupFeatures(GroupFeatures { types: 0xf,
                capabilities: 5, max_groups: [256; 4], actions: [0x03c6_0001; 4] })),
            Some("Group table:")),
        v("mp-meter-reply",
            "04130048 00000029 0009 0000 00000000 00000001 0038 000000000000 00000002
             0000000000000064 0000000000001000 00000005 00000000
             000000000000000a 0000000000000200",
            mp_rep(MultipartReplyBody::Meter(vec![MeterStats { meter_id: 1, flow_count: 2,
                packet_in_count: 100, byte_in_count: 4096, duration_sec: 5, duration_nsec: 0,
                band_stats: vec![(10, 512)] }])),
            Some("meter:1 flow_count:2 packet_in_count:100 byte_in_count:4096 \
                  duration:5s bands:\n0: packet_count:10 byte_count:512")),
        v("mp-meter-config-reply",
            "04130028 0000002a 000a 0000 00000000 0018 0009 00000001
             0001 0010 00002710 00000000 00000000",
            mp_rep(MultipartReplyBody::MeterConfig(vec![MeterConfig { flags: 9, meter_id: 1,
                bands: vec![MeterBand::Drop { rate: 10_000, burst_size: 0 }] }])),
            Some("meter=1 kbps stats bands=\ntype=drop rate=10000")),
        v("mp-meter-features-reply",
            "04130020 0000002b 000b 0000 00000000 00010000 00000006 0000000f 02 08 0000",
            mp_rep(MultipartReplyBody::MeterFeatures(MeterFeatures { max_meter: 65536,
                band_types: 6, capabilities: 0xf, max_bands: 2, max_color: 8 })),
            Some("max_meter:65536 max_bands:2 max_color:8")),
        v("mp-table-features-reply",
            &format!("04130070 0000002c 000c 0000 00000000 {SMALL_TF}"),
            mp_rep(MultipartReplyBody::TableFeatures(vec![small_table_features()])),
            None),
        v("barrier-request", "04140008 00000030", Message::BarrierRequest,
            Some("OFPT_BARRIER_REQUEST")),
        v("barrier-reply", "04150008 00000030", Message::BarrierReply,
            Some("OFPT_BARRIER_REPLY")),
        v("role-request", "04180018 00000031 00000002 00000000 0000000000000005",
            Message::RoleRequest(Role { role: ControllerRole::Master, generation_id: 5 }),
            Some("role=primary generation_id=5")),
        v("role-reply", "04190018 00000031 00000003 00000000 0000000000000005",
            Message::RoleReply(Role { role: ControllerRole::Slave, generation_id: 5 }),
            Some("role=secondary generation_id=5")),
        v("get-async-request", "041a0008 00000032", Message::GetAsyncRequest,
            Some("OFPT_GET_ASYNC_REQUEST")),
        v("get-async-reply",
            "041b0020 00000032 00000003 00000000 00000007 00000007 0000000f 00000000",
            Message::GetAsyncReply(AsyncConfig { packet_in_mask: [3, 0],
                port_status_mask: [7, 7], flow_removed_mask: [0xf, 0] }),
            Some("PACKET_IN: no_match action")),
        v("set-async",
            "041c0020 00000033 00000003 00000000 00000007 00000007 0000000f 00000000",
            Message::SetAsync(AsyncConfig { packet_in_mask: [3, 0],
                port_status_mask: [7, 7], flow_removed_mask: [0xf, 0] }),
            Some("OFPT_SET_ASYNC")),
        v("experimenter", "04040018 00000034 00abcdef 00000001 01020304 05060708",
            Message::Experimenter(ExperimenterMsg { experimenter: 0xabcdef, exp_type: 1,
                data: hex("0102030405060708") }),
            None),
    ]
}

/// Make sure the hello element type constant is what the vectors use.
pub const HELLO_BITMAP: u16 = OFPHET_VERSIONBITMAP;
