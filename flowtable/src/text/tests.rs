use super::*;
use crate::action::{Action, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_LOCAL, OFPP_NORMAL};
use crate::field::Field;
use crate::pipeline::{Pipeline, OFPFF_CHECK_OVERLAP, OFPFF_NO_PKT_COUNTS, OFPFF_SEND_FLOW_REM};

fn ports(name: &str) -> Option<u32> {
    match name {
        "vm1" => Some(1),
        "vm2" => Some(2),
        _ => None,
    }
}

fn names(p: u32) -> Option<String> {
    match p {
        1 => Some("vm1".into()),
        2 => Some("vm2".into()),
        _ => None,
    }
}

fn parse(s: &str) -> FlowMod {
    parse_flow(s, &ports).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn err(s: &str) -> String {
    match parse_flow(s, &ports) {
        Ok(fm) => panic!("{s}: parsed to {fm:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn basic_flow() {
    let fm = parse("table=0,priority=100,ip,nw_dst=10.0.0.5,actions=drop");
    assert_eq!(fm.table, Some(0));
    assert_eq!(fm.priority, 100);
    let want = Match::new()
        .exact(Field::EthType, 0x0800)
        .exact(Field::Ipv4Dst, 0x0a00_0005);
    assert_eq!(fm.m, want);
    assert!(fm.instructions.is_drop());
    assert!(fm.has_actions);
}

#[test]
fn field_order_is_preserved() {
    let fm = parse("tcp_dst=80,in_port=vm1,tcp,dl_src=aa:bb:cc:dd:ee:ff actions=output:vm2");
    let fields: Vec<Field> = fm.m.fields().iter().map(|f| f.field).collect();
    assert_eq!(
        fields,
        vec![
            Field::TcpDst,
            Field::InPort,
            Field::EthType,
            Field::IpProto,
            Field::EthSrc
        ]
    );
    assert_eq!(fm.m.get(Field::InPort).map(|f| f.value), Some(1));
    assert_eq!(fm.instructions.apply, vec![Action::output(2)]);
}

#[test]
fn parameters_and_flags() {
    let fm = parse(
        "cookie=0x10/0xff,idle_timeout=10,hard_timeout=30,send_flow_rem,check_overlap,\
         table=3,priority=7,actions=normal",
    );
    assert_eq!((fm.cookie, fm.cookie_mask), (0x10, 0xff));
    assert_eq!((fm.idle_timeout, fm.hard_timeout), (10, 30));
    assert_eq!(fm.flags, OFPFF_SEND_FLOW_REM | OFPFF_CHECK_OVERLAP);
    assert_eq!(fm.instructions.apply, vec![Action::normal()]);
    let e = fm.clone().into_entry(5);
    assert_eq!(
        (e.table, e.priority, e.cookie, e.created_ns),
        (3, 7, 0x10, 5)
    );
    let f = fm.to_filter(true);
    assert_eq!((f.table, f.cookie_mask, f.priority), (Some(3), 0xff, 7));
}

#[test]
fn vlan_spellings() {
    let fm = parse("dl_vlan=10,actions=drop");
    assert_eq!(fm.m, Match::new().exact(Field::VlanVid, 0x1000 | 10));
    let fm = parse("vlan_tci=0x1000/0x1000,actions=drop");
    assert_eq!(fm.m, Match::new().masked(Field::VlanVid, 0x1000, 0x1000));
    let fm = parse("vlan_tci=0x0000,actions=drop");
    assert_eq!(fm.m, Match::new().exact(Field::VlanVid, 0));
    let fm = parse("dl_vlan_pcp=3,actions=drop");
    assert_eq!(
        fm.m,
        Match::new()
            .masked(Field::VlanVid, 0x1000, 0x1000)
            .exact(Field::VlanPcp, 3)
    );
    let fm = parse("vlan_tci=0x7005,actions=drop");
    assert_eq!(fm.m.get(Field::VlanPcp).map(|f| f.value), Some(3));
}

#[test]
fn protocol_context() {
    let fm = parse("tp_dst=80,tcp,actions=drop");
    assert!(fm.m.get(Field::TcpDst).is_some());
    let fm = parse("udp6,tp_src=53,actions=drop");
    assert!(fm.m.get(Field::UdpSrc).is_some());
    let fm = parse("sctp6,tp_src=53,tp_dst=54,actions=mod_tp_dst:9");
    assert_eq!(fm.m.get(Field::SctpSrc).map(|f| f.value), Some(53));
    assert_eq!(fm.m.get(Field::SctpDst).map(|f| f.value), Some(54));
    assert_eq!(
        fm.m.get(Field::EthType).map(|f| f.value),
        Some(0x86dd),
        "sctp6 is IPv6"
    );
    let fm = parse("icmp,tp_src=8,actions=drop");
    assert_eq!(fm.m.get(Field::Icmpv4Type).map(|f| f.value), Some(8));
    let fm = parse("arp,nw_src=10.0.0.1,nw_proto=1,arp_sha=02:00:00:00:00:01,actions=drop");
    assert!(fm.m.get(Field::ArpSpa).is_some());
    assert_eq!(fm.m.get(Field::ArpOp).map(|f| f.value), Some(1));
    let fm = parse("ip,nw_tos=184,ip_ecn=1,nw_ttl=5,actions=drop");
    assert_eq!(fm.m.get(Field::IpDscp).map(|f| f.value), Some(46));
    let fm = parse("tcp,tcp_flags=+syn-ack,actions=drop");
    let tf = fm.m.get(Field::TcpFlags).copied().expect("flags");
    assert_eq!((tf.value, tf.mask), (0x002, 0x012));
    let fm = parse("icmp6,icmpv6_type=135,nd_target=fe80::1,nd_sll=02:00:00:00:00:01,actions=drop");
    assert!(fm.m.get(Field::NdSll).is_some());
    let fm = parse("ipv6,ipv6_src=2001:db8::/32,ipv6_label=0x12345,actions=drop");
    assert_eq!(fm.m.get(Field::Ipv6Src).map(|f| f.mask), Some(!0u128 << 96));
    let fm = parse("metadata=0x1/0xff,reg3=7,dl_type=0x0800,actions=drop");
    assert_eq!(fm.m.get(Field::Reg(3)).map(|f| f.value), Some(7));
}

#[test]
fn actions() {
    let fm = parse(
        "in_port=1,actions=push_vlan:0x8100,mod_vlan_vid:10,mod_vlan_pcp:2,output:2,3,vm1,\
         flood,controller:128,local,in_port,strip_vlan,dec_ttl,group:4,set_queue:1,\
         set_field:02:00:00:00:00:09->eth_dst,meter:3,write_metadata:0x1/0xff,\
         write_actions(output:4,group:5),clear_actions,goto_table:2",
    );
    let i = &fm.instructions;
    assert_eq!(
        i.apply,
        vec![
            Action::PushVlan(0x8100),
            Action::SetField(Field::VlanVid, 0x1000 | 10),
            Action::SetField(Field::VlanPcp, 2),
            Action::output(2),
            Action::output(3),
            Action::output(1),
            Action::output(OFPP_FLOOD),
            Action::Output {
                port: OFPP_CONTROLLER,
                max_len: 128
            },
            Action::output(OFPP_LOCAL),
            Action::output(crate::action::OFPP_IN_PORT),
            Action::PopVlan,
            Action::DecTtl,
            Action::Group(4),
            Action::SetQueue(1),
            Action::SetField(Field::EthDst, 0x0200_0000_0009),
        ]
    );
    assert_eq!(i.meter, Some(3));
    assert_eq!(i.write_metadata, Some((1, 0xff)));
    assert_eq!(i.write, vec![Action::output(4), Action::Group(5)]);
    assert!(i.clear);
    assert_eq!(i.goto, Some(2));
    let fm = parse("table=1,tcp,actions=mod_tp_dst:8080,mod_nw_dst:10.0.0.1,resubmit(,4)");
    assert_eq!(
        fm.instructions.apply[0],
        Action::SetField(Field::TcpDst, 8080)
    );
    assert_eq!(fm.instructions.goto, Some(4));
}

#[test]
fn clear_errors() {
    assert_eq!(
        err("nw_dts=10.0.0.1,actions=drop"),
        "unknown field 'nw_dts'"
    );
    assert_eq!(
        err("ip,nw_dst=10.0.0.300,actions=drop"),
        "nw_dst=10.0.0.300: bad IPv4 address"
    );
    assert!(err("tcp_dst=80,actions=drop").contains("tcp_dst requires"));
    assert!(err("tp_dst=80,actions=drop").contains("tp_dst requires tcp"));
    assert_eq!(
        err("in_port=vm9,actions=drop"),
        "in_port=vm9: unknown port 'vm9'"
    );
    assert_eq!(err("ip"), "must specify actions (e.g. actions=drop)");
    assert_eq!(err("actions=frobnicate"), "unknown action 'frobnicate'");
    assert!(err("table=2,actions=goto_table:1").contains("must go to a table after 2"));
    assert!(err("actions=resubmit(,0)").contains("must go to a table after 0"));
    assert!(err("actions=write_actions(output:1").contains("unbalanced"));
    assert!(err("actions=output:1,drop").contains("drop must be the only action"));
    assert!(err("in_port=1,in_port=2,actions=drop").contains("twice"));
    assert!(err("actions=mod_tp_dst:80").contains("tcp, udp or sctp"));
    assert!(err("dl_vlan=5000,actions=drop").contains("below 4096"));
    assert!(err("priority=70000,actions=drop").starts_with("priority=70000"));
    // del-flows style: no actions needed.
    let fm = parse_match("cookie=0x5/-1", &ports).expect("match");
    assert_eq!((fm.cookie, fm.cookie_mask), (5, u64::MAX));
    let fm = parse_match("cookie=0x1/0x1,out_port=vm2", &ports).expect("match");
    assert_eq!(fm.out_port, Some(2));
    assert!(!fm.has_actions);
}

const ROUND_TRIP: &[&str] = &[
    "priority=100,ip,nw_dst=10.0.0.5 actions=drop",
    "table=0,tcp,nw_src=10.0.0.0/24,tp_dst=80 actions=output:2",
    "in_port=vm1,dl_src=aa:bb:cc:dd:ee:ff,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=normal",
    "dl_vlan=10,dl_vlan_pcp=5 actions=strip_vlan,output:3",
    "vlan_tci=0x0000 actions=push_vlan:0x8100,mod_vlan_vid:20,output:vm2",
    "vlan_tci=0x1000/0x1000 actions=flood",
    "arp,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/8,arp_op=2,arp_sha=02:00:00:00:00:01 actions=all",
    "udp6,ipv6_src=2001:db8::/32,ipv6_dst=fe80::1,udp_dst=53 actions=controller",
    "icmp6,icmpv6_type=135,nd_target=fe80::2,nd_sll=02:00:00:00:00:02 actions=local",
    "icmp,icmp_type=8,icmp_code=0 actions=controller:64",
    "tcp,tcp_flags=+syn-ack actions=drop",
    "tcp,tcp_flags=0x002 actions=drop",
    "ip,nw_tos=184,nw_ecn=1,nw_ttl=3,nw_frag=later actions=dec_ttl,in_port",
    "ip,nw_src=10.1.0.1/255.0.255.0 actions=mod_nw_src:10.0.0.9,mod_dl_dst:02:00:00:00:00:09,output:1",
    "metadata=0x1/0xff,reg0=0x5,reg7=0x10/0xf0 actions=write_metadata:0x2/0xf,goto_table:3",
    "dl_type=0x88cc actions=meter:1,group:2,set_queue:3",
    "ip actions=push_mpls:0x8847,set_field:100->mpls_label,copy_ttl_out,goto_table:1",
    "mpls,mpls_label=100,mpls_bos=1 actions=dec_mpls_ttl,set_mpls_ttl(9),copy_ttl_in,pop_mpls:0x0800,output:2",
    "mplsm actions=write_actions(pop_mpls:0x8847,push_mpls:0x8848,output:1)",
    "cookie=0x99,idle_timeout=10,hard_timeout=20,send_flow_rem,no_packet_counts,table=2,priority=0 \
     actions=clear_actions,write_actions(pop_vlan,set_field:10.0.0.1->nw_dst,output:4),goto_table:9",
    "ipv6,ipv6_label=0x12345/0xfffff actions=set_field:4->reg2",
    "dl_type=0x0800,nw_proto=47 actions=drop",
    "tp_dst=443,in_port=LOCAL,tcp6 actions=mod_tp_dst:8443",
    "sctp,sctp_src=5,tp_dst=7 actions=set_field:9->sctp_src,mod_tp_dst:10,output:2",
    "sctp6,sctp_dst=0x100/0xff00 actions=set_field:9->sctp_dst",
    "tun_id=0x55/0xff,ipv6,ipv6_exthdr=0x50/0x1d0 actions=set_field:0x1234->tun_id,goto_table:1",
    "ipv6,ipv6_exthdr=0x41,tunnel_id=7 actions=drop",
];

#[test]
fn round_trip_through_format_flow() {
    for s in ROUND_TRIP {
        let fm = parse(s);
        let entry = fm.clone().into_entry(0);
        entry.stats.hit(60, 1);
        let text = format_flow(&entry, 1_234_000_000, &names);
        let back = parse(&text);
        assert_eq!(back.m, fm.m, "{s} -> {text}");
        assert_eq!(back.instructions, fm.instructions, "{s} -> {text}");
        assert_eq!(
            (
                back.priority,
                back.cookie,
                back.idle_timeout,
                back.hard_timeout,
                back.flags
            ),
            (
                fm.priority,
                fm.cookie,
                fm.idle_timeout,
                fm.hard_timeout,
                fm.flags
            ),
            "{s} -> {text}"
        );
        assert_eq!(
            back.table.unwrap_or(0),
            fm.table.unwrap_or(0),
            "{s} -> {text}"
        );
        // And the match/actions printers alone round-trip with numeric ports.
        let short = format!(
            "{} actions={}",
            format_match(&fm.m),
            format_actions(&fm.instructions)
        );
        let again = parse(short.trim_start());
        assert_eq!(again.m, fm.m, "{short}");
        assert_eq!(again.instructions, fm.instructions, "{short}");
    }
}

#[test]
fn dump_flows_style() {
    let fm = parse("priority=100,idle_timeout=10,ip,nw_dst=10.0.0.5,actions=drop");
    let e = fm.into_entry(0);
    e.stats.hit(60, 1);
    e.stats.hit(60, 2);
    e.stats.hit(60, 3);
    assert_eq!(
        format_flow(&e, 1_234_000_000, &names),
        " cookie=0x0, duration=1.234s, table=0, n_packets=3, n_bytes=180, idle_timeout=10, \
         priority=100,ip,nw_dst=10.0.0.5 actions=drop"
    );
    let e = parse("in_port=1,actions=output:2,normal").into_entry(0);
    assert_eq!(
        format_flow(&e, 0, &names),
        " cookie=0x0, duration=0.000s, table=0, n_packets=0, n_bytes=0, in_port=vm1 \
         actions=output:vm2,NORMAL"
    );
    let mut e = parse("actions=drop").into_entry(0);
    e.flags = OFPFF_NO_PKT_COUNTS;
    assert_eq!(
        format_flow(&e, 0, &|_| None),
        " cookie=0x0, duration=0.000s, table=0, n_packets=0, n_bytes=0, no_packet_counts, \
         actions=drop"
    );
    assert_eq!(
        format_actions(&crate::action::Instructions::apply(vec![Action::output(
            OFPP_NORMAL
        )])),
        "NORMAL"
    );
}

#[test]
fn parsed_flows_drive_the_pipeline() {
    let mut p = Pipeline::new();
    for s in [
        "table=0,priority=10,in_port=vm1,actions=goto_table:1",
        "table=1,priority=20,tcp,tp_dst=80,actions=output:vm2",
        "table=1,priority=10,actions=drop",
    ] {
        p.add(parse(s).into_entry(0)).expect(s);
    }
    let k = crate::key::FlowKey {
        in_port: 1,
        eth_type: 0x0800,
        ip_proto: 6,
        tp_dst: 80,
        ..Default::default()
    };
    assert_eq!(p.lookup(&k, 60, 1, None).actions, vec![Action::output(2)]);
    let del = parse_match("table=1,tcp", &ports).expect("filter");
    assert_eq!(p.delete(&del.to_filter(false), false).len(), 1);
    assert!(p.lookup(&k, 60, 1, None).actions.is_empty());
}
