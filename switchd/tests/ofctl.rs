//! OpenFlow 1.3 management of a running switch (PMD thread, mock ports) through its
//! `<rundir>/br0.mgmt` socket: Debian's real `ovs-ofctl -O OpenFlow13` for the operator
//! commands (each checked against the reply text *and* the traffic through the ports), and a
//! hand-written client for what ovs-ofctl cannot send (malformed messages, roles, barriers,
//! FLOW_REMOVED). Tests that need `ovs-ofctl` print why and pass when it is not installed.

#[path = "ofctl/client.rs"]
mod client;
#[path = "ofctl/rig.rs"]
mod rig;

use client::{barrier_header, flow_mod, flow_stats, udp_dst_match, Client};
use flowtable::field::ETH_TYPE_IPV4;
use flowtable::Field;
use openflow::error::ErrorType;
use openflow::flow_mod::OFPFF_SEND_FLOW_REM;
use openflow::multipart::flow::FlowStats;
use openflow::oxm::OxmField;
use openflow::{encode_to_vec, Action, ControllerRole, FlowMod, FlowModCommand, Message, Role};
use rig::*;
use serde_json::json;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use switchd::ofp::mgmt_path;
use switchd_api::rpc::RpcHandler;

#[test]
fn show_ports_and_tables() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    let show = r.ofctl("show", &[]);
    assert!(show.contains("dpid:0000000000000abc"), "{show}");
    assert!(show.contains("n_tables:255"), "{show}");
    assert!(
        show.contains("FLOW_STATS") && show.contains("PORT_STATS"),
        "{show}"
    );
    for p in [" 1(a): addr:", " 2(b): addr:", " 3(c): addr:"] {
        assert!(show.contains(p), "{p} in {show}");
    }
    let desc = r.ofctl("dump-ports-desc", &[]);
    assert_eq!(lines_with(&desc, "addr:").len(), 3, "{desc}");
    // The configured ptcp listener serves the same bridge.
    let (bridge, addr) = r.ofp.as_ref().expect("ofp").tcp_addrs()[0].clone();
    assert_eq!(bridge, "br0");
    let tcp = Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13", "show"])
        .arg(format!("tcp:{}:{}", addr.ip(), addr.port()))
        .output()
        .expect("run ovs-ofctl");
    assert!(
        String::from_utf8_lossy(&tcp.stdout).contains("dpid:0000000000000abc"),
        "{tcp:?}"
    );
    assert!(desc.contains("speed: 10000 Mbps now"), "{desc}");
    assert!(!desc.contains("LINK_DOWN"), "{desc}");

    // Traffic shows in port and table counters.
    let got = r.send("a", udp_to(Ipv4Addr::new(10, 0, 0, 2)), 4, 8);
    assert_eq!(got, [0, 4, 4], "NORMAL floods to b and c");
    let ports = r.ofctl("dump-ports", &[]);
    let rx1 = ports
        .lines()
        .skip_while(|l| !l.contains("port  \"a\"") && !l.contains("port  1:"))
        .find(|l| l.contains("rx pkts="))
        .unwrap_or_else(|| panic!("port 1 in {ports}"));
    assert_eq!(field(rx1, "rx pkts"), 4, "{ports}");
    let one = r.ofctl("dump-ports", &["2"]);
    let tx2 = lines_with(&one, "tx pkts=");
    assert_eq!(tx2.len(), 1, "{one}");
    assert_eq!(field(tx2[0], "tx pkts"), 4, "{one}");
    let tables = r.ofctl("dump-tables", &[]);
    let t0 = tables
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("table 0"))
        .find(|l| l.contains("lookup="))
        .unwrap_or_else(|| panic!("table 0 in {tables}"));
    assert_eq!(field(t0, "lookup"), 1, "one cache miss: {tables}");
    assert_eq!(field(t0, "matched"), 1, "{tables}");
    assert!(tables.contains("active=1"), "{tables}");

    r.sw.mock("c").expect("c").set_link(false);
    let desc = r.ofctl("dump-ports-desc", &[]);
    assert_eq!(lines_with(&desc, "LINK_DOWN").len(), 1, "{desc}");
    // PORT_DOWN is kept and shown; ovs-ofctl looks the port's address up first.
    r.ofctl("mod-port", &["b", "down"]);
    let desc = r.ofctl("dump-ports-desc", &[]);
    assert_eq!(lines_with(&desc, "PORT_DOWN").len(), 1, "{desc}");
}

#[test]
fn add_mod_del_flows_steer_real_traffic() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    let to_x = udp_to(Ipv4Addr::new(10, 0, 0, 9));
    assert_eq!(r.send("a", to_x.clone(), 1, 2), [0, 1, 1], "NORMAL floods");

    r.ofctl(
        "add-flow",
        &["cookie=0x10,priority=100,in_port=1,udp,nw_dst=10.0.0.9,actions=output:3"],
    );
    assert_eq!(r.send("a", to_x.clone(), 5, 5), [0, 0, 5], "steered to c");
    let dump = r.ofctl("dump-flows", &[]);
    let ours = lines_with(&dump, "priority=100");
    assert_eq!(ours.len(), 1, "{dump}");
    assert_eq!(field(ours[0], "n_packets"), 5, "{dump}");
    assert_eq!(field(ours[0], "n_bytes"), 5 * to_x.len() as u64, "{dump}");
    assert!(ours[0].contains("cookie=0x10"), "{dump}");
    assert!(
        ours[0].contains("udp,in_port=1,nw_dst=10.0.0.9 actions=output:3")
            || ours[0].contains("udp,in_port=a,nw_dst=10.0.0.9 actions=output:c"),
        "match and actions as added: {dump}"
    );

    r.ofctl("mod-flows", &["in_port=1,udp,actions=output:2"]);
    assert_eq!(r.send("a", to_x.clone(), 2, 2), [0, 2, 0], "modified to b");
    let dump = r.ofctl("dump-flows", &[]);
    assert_eq!(
        field(lines_with(&dump, "priority=100")[0], "n_packets"),
        7,
        "modify keeps counters: {dump}"
    );

    // Strict delete needs the exact match and priority.
    r.ofctl_strict_del("priority=99,in_port=1,udp,nw_dst=10.0.0.9");
    assert_eq!(
        lines_with(&r.ofctl("dump-flows", &[]), "priority=100").len(),
        1
    );
    r.ofctl_strict_del("priority=100,in_port=1,udp,nw_dst=10.0.0.9");
    assert!(lines_with(&r.ofctl("dump-flows", &[]), "priority=100").is_empty());
    assert_eq!(r.send("a", to_x, 1, 2), [0, 1, 1], "back to NORMAL");

    // Non-strict delete of everything: the default flow goes too, and traffic stops.
    r.ofctl("del-flows", &[]);
    assert!(lines_with(&r.ofctl("dump-flows", &[]), "actions=").is_empty());
    assert_eq!(
        r.send("a", udp_to(Ipv4Addr::new(10, 0, 0, 3)), 1, 0),
        [0, 0, 0]
    );
}

impl Rig {
    fn ofctl_strict_del(&self, m: &str) {
        let out = Command::new("ovs-ofctl")
            .args([
                "-O",
                "OpenFlow13",
                "--strict",
                "del-flows",
                &self.target(),
                m,
            ])
            .output()
            .expect("run ovs-ofctl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn add_flows_file_and_cookie_masks() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    let file = r.rundir.join("flows.txt");
    std::fs::write(
        &file,
        "# steering\n\
         cookie=0x11,priority=100,udp,nw_dst=10.0.0.11,actions=output:2\n\
         cookie=0x21,priority=100,udp,nw_dst=10.0.0.21,actions=output:3\n\
         cookie=0x12,priority=100,udp,nw_dst=10.0.0.12,actions=output:3\n",
    )
    .expect("write flows");
    r.ofctl("add-flows", &[file.to_str().expect("utf-8 path")]);
    let dump = r.ofctl("dump-flows", &[]);
    assert_eq!(lines_with(&dump, "priority=100").len(), 3, "{dump}");
    let dst = |n| udp_to(Ipv4Addr::new(10, 0, 0, n));
    assert_eq!(r.send("a", dst(11), 1, 1), [0, 1, 0]);
    assert_eq!(r.send("a", dst(21), 1, 1), [0, 0, 1]);

    // Only cookies whose low nibble is 1: 0x11 and 0x21, not 0x12.
    r.ofctl("del-flows", &["cookie=0x01/0x0f"]);
    let dump = r.ofctl("dump-flows", &[]);
    let left = lines_with(&dump, "priority=100");
    assert_eq!(left.len(), 1, "{dump}");
    assert!(left[0].contains("cookie=0x12"), "{dump}");
    assert_eq!(r.send("a", dst(21), 1, 2), [0, 1, 1], "NORMAL again");
    assert_eq!(r.send("a", dst(12), 1, 1), [0, 0, 1], "0x12 still steers");

    // dump-flows filters too.
    let one = r.ofctl("dump-flows", &["cookie=0x12/-1"]);
    assert_eq!(lines_with(&one, "actions=").len(), 1, "{one}");
    let agg = r.ofctl("dump-aggregate", &[]);
    assert!(agg.contains("flow_count=2"), "{agg}");
}

#[test]
fn non_loopback_listeners_need_remote_openflow() {
    let text = "[[bridge]]\nname = \"br0\"\nofp_listen = [\"ptcp:6653:0.0.0.0\"]\n";
    let e = switchd::conffile::parse(text, Path::new("x.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bridge[0].ofp_listen[0]") && e.contains("remote_openflow"),
        "{e}"
    );
    let allowed = format!("[switch]\nremote_openflow = true\n{text}");
    let cfg = switchd::conffile::parse(&allowed, Path::new("x.toml")).expect("allowed");
    assert!(!cfg.bridges[0].ofp_listen[0].is_loopback());
    // Without an address a listener stays on this host.
    let local = "[[bridge]]\nname = \"br0\"\nofp_listen = [\"ptcp:6653\"]\n";
    let cfg = switchd::conffile::parse(local, Path::new("x.toml")).expect("local");
    assert_eq!(
        cfg.bridges[0].ofp_listen[0].to_string(),
        "ptcp:6653:127.0.0.1"
    );
}

#[test]
fn a_socket_group_must_exist() {
    let text = "[switch]\nsocket_group = \"no-such-group-dvs\"\n";
    let e = switchd::conffile::parse(text, Path::new("x.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("switch.socket_group") && e.contains("no group"),
        "{e}"
    );
    let ok = "[switch]\nsocket_group = \"root\"\n";
    let cfg = switchd::conffile::parse(ok, Path::new("x.toml")).expect("root exists");
    assert_eq!(cfg.switch.socket_group.as_deref(), Some("root"));
}

#[test]
fn bad_listener_targets_name_their_line() {
    let text = "[[bridge]]\nname = \"br0\"\nofp_listen = [\"tcp:1.2.3.4:6653\"]\n";
    let e = switchd::conffile::parse(text, Path::new("x.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bridge[0].ofp_listen[0]") && e.contains("ptcp:"),
        "{e}"
    );
}

#[test]
fn malformed_and_unsupported_messages_get_errors_and_the_connection_survives() {
    let r = Rig::new(false);
    let mut c = Client::connect(&mgmt_path(&r.rundir, "br0"));
    // Truncated: a FLOW_MOD far shorter than its fixed part.
    let mut m = vec![4, 14, 0, 18, 0, 0, 0, 11];
    m.extend_from_slice(&[0; 10]);
    c.send_raw(&m);
    c.expect_error(11, ErrorType::BadRequest, 6);
    // Length that does not fit the body: FEATURES_REQUEST with 4 extra bytes.
    c.send_raw(&[4, 5, 0, 12, 0, 0, 0, 12, 1, 2, 3, 4]);
    c.expect_error(12, ErrorType::BadRequest, 6);
    // Unknown message type.
    c.send_raw(&[4, 99, 0, 8, 0, 0, 0, 13]);
    c.expect_error(13, ErrorType::BadRequest, 1);
    // Bad OXM: an unknown OpenFlow-basic field number.
    let mut fm = encode_to_vec(
        14,
        &Message::FlowMod(flow_mod(FlowModCommand::Add, udp_dst_match(9), vec![])),
    );
    assert_eq!(&fm[52..54], &[0x80, 0x00], "first OXM class");
    fm[54] = 120 << 1;
    c.send_raw(&fm);
    c.expect_error(14, ErrorType::BadMatch, 6);
    // Prerequisite missing: udp_dst without ip_proto.
    let bad = vec![OxmField::exact(Field::UdpDst, 53)];
    c.send(
        15,
        &Message::FlowMod(flow_mod(FlowModCommand::Add, bad, vec![])),
    );
    c.expect_error(15, ErrorType::BadMatch, 9);
    // Table 255 is not a table to add to.
    let mut t = flow_mod(FlowModCommand::Add, vec![], vec![]);
    t.table_id = 0xff;
    c.send(16, &Message::FlowMod(t));
    c.expect_error(16, ErrorType::FlowModFailed, 2);
    // Overlap check.
    let mut o = flow_mod(FlowModCommand::Add, vec![], vec![]);
    o.priority = 0;
    o.flags = openflow::flow_mod::OFPFF_CHECK_OVERLAP;
    c.send(17, &Message::FlowMod(o));
    c.expect_error(17, ErrorType::FlowModFailed, 3);
    // The error carries the request's first 64 bytes.
    c.send_raw(&fm);
    let (_, m) = c.recv().expect("error");
    let Message::Error(e) = m else {
        panic!("{m:?}")
    };
    assert_eq!(e.data, fm[..64]);
    // A length below the header size loses the framing: error, then close.
    c.send_raw(&[4, 2, 0, 4, 0, 0, 0, 21]);
    let (h, m) = c.recv().expect("error");
    assert!(
        matches!(m, Message::Error(ref e) if e.err_type == ErrorType::BadRequest && e.code == 6)
    );
    assert_eq!(h.xid, 21);
    assert!(c.recv().is_none(), "closed");

    // A peer without OpenFlow 1.3 gets HELLO_FAILED.
    let mut old = Client::raw(&mgmt_path(&r.rundir, "br0"));
    old.send_raw(&[1, 0, 0, 8, 0, 0, 0, 1]);
    let (_, m) = old.recv().expect("our hello");
    assert!(matches!(m, Message::Hello(_)));
    let (_, m) = old.recv().expect("hello failed");
    assert!(
        matches!(m, Message::Error(ref e) if e.err_type == ErrorType::HelloFailed && e.code == 0),
        "{m:?}"
    );
}

#[test]
fn barrier_reply_means_the_next_packet_sees_the_flow() {
    let r = Rig::new(false);
    let mut c = Client::connect(&mgmt_path(&r.rundir, "br0"));
    let f = udp_to(Ipv4Addr::new(10, 0, 0, 9));
    for _ in 0..3 {
        assert_eq!(
            r.send("a", f.clone(), 1, 2),
            [0, 1, 1],
            "cached NORMAL flood"
        );
    }
    c.send(
        30,
        &Message::FlowMod(flow_mod(FlowModCommand::Add, udp_dst_match(9), vec![])),
    );
    c.send(31, &Message::BarrierRequest);
    assert_eq!(
        c.recv().expect("barrier"),
        (barrier_header(31), Message::BarrierReply)
    );
    assert_eq!(r.send("a", f.clone(), 1, 0), [0, 0, 0], "dropped at once");
    let mut del = flow_mod(FlowModCommand::DeleteStrict, udp_dst_match(9), vec![]);
    del.table_id = 0xff;
    c.send(32, &Message::FlowMod(del));
    c.send(33, &Message::BarrierRequest);
    assert_eq!(
        c.recv().expect("barrier"),
        (barrier_header(33), Message::BarrierReply)
    );
    assert_eq!(r.send("a", f, 1, 2), [0, 1, 1], "forwarded at once");
}

#[test]
fn roles_generation_ids_and_slaves() {
    let r = Rig::new(false);
    let (mut c1, mut c2) = (
        Client::connect(&mgmt_path(&r.rundir, "br0")),
        Client::connect(&mgmt_path(&r.rundir, "br0")),
    );
    let role = |role, generation_id| {
        Message::RoleRequest(Role {
            role,
            generation_id,
        })
    };
    let reply = |role, generation_id| {
        Message::RoleReply(Role {
            role,
            generation_id,
        })
    };
    c1.send(40, &role(ControllerRole::Master, 5));
    assert_eq!(
        c1.recv().expect("reply").1,
        reply(ControllerRole::Master, 5)
    );
    c2.send(41, &role(ControllerRole::Master, 4));
    c2.expect_error(41, ErrorType::RoleRequestFailed, 0);
    c2.send(42, &role(ControllerRole::Slave, 6));
    assert_eq!(c2.recv().expect("reply").1, reply(ControllerRole::Slave, 6));
    c2.send(
        43,
        &Message::FlowMod(flow_mod(FlowModCommand::Add, vec![], vec![])),
    );
    c2.expect_error(43, ErrorType::BadRequest, 10);
    c2.send(44, &role(ControllerRole::Master, 7));
    assert_eq!(
        c2.recv().expect("reply").1,
        reply(ControllerRole::Master, 7)
    );
    c1.send(45, &role(ControllerRole::NoChange, 0));
    assert_eq!(
        c1.recv().expect("reply").1,
        reply(ControllerRole::Slave, 7),
        "the old master was demoted"
    );
}

#[test]
fn flow_stats_echo_the_match_and_timeouts_send_flow_removed() {
    let r = Rig::new(false);
    let mut c = Client::connect(&mgmt_path(&r.rundir, "br0"));
    // Non-canonical order, and an all-ones mask sent explicitly.
    let matches = vec![
        OxmField::masked(Field::Ipv4Dst, 0x0a00_0009, 0xffff_ffff),
        OxmField::exact(Field::EthType, ETH_TYPE_IPV4.into()),
    ];
    let mut fm = flow_mod(
        FlowModCommand::Add,
        matches.clone(),
        vec![Action::Output {
            port: 3,
            max_len: 0,
        }],
    );
    fm.hard_timeout = 1;
    fm.flags = OFPFF_SEND_FLOW_REM;
    c.send(50, &Message::FlowMod(fm.clone()));
    c.send(501, &Message::BarrierRequest);
    assert_eq!(c.recv().expect("barrier").1, Message::BarrierReply);
    assert_eq!(
        r.send("a", udp_to(Ipv4Addr::new(10, 0, 0, 9)), 2, 2),
        [0, 0, 2]
    );
    let st = flow_stats(&mut c, 51);
    let ours: Vec<_> = st.iter().filter(|s| s.priority == 100).collect();
    assert_eq!(ours.len(), 1, "{st:?}");
    assert_eq!(ours[0].matches, matches, "match exactly as sent");
    assert_eq!(ours[0].instructions, fm.instructions);
    assert_eq!(
        (
            ours[0].cookie,
            ours[0].hard_timeout,
            ours[0].flags,
            ours[0].packet_count
        ),
        (0x77, 1, OFPFF_SEND_FLOW_REM, 2)
    );
    let (_, m) = c.recv().expect("flow removed within 3 s");
    let Message::FlowRemoved(fr) = m else {
        panic!("{m:?}")
    };
    assert_eq!(fr.reason, openflow::flow_mod::removed_reason::HARD_TIMEOUT);
    assert_eq!((fr.cookie, fr.priority, fr.packet_count), (0x77, 100, 2));
    assert_eq!(fr.matches, matches);

    // A delete from the control socket notifies OpenFlow connections too.
    fm.hard_timeout = 0;
    c.send(52, &Message::FlowMod(fm));
    c.send(53, &Message::BarrierRequest);
    assert_eq!(c.recv().expect("barrier").1, Message::BarrierReply);
    let v = r
        .ctl
        .call(
            "flow/del",
            json!({"bridge": "br0", "match": "ip,nw_dst=10.0.0.9"}),
        )
        .expect("flow/del");
    assert_eq!(v["deleted"], 1);
    let (_, m) = c.recv().expect("flow removed");
    assert!(
        matches!(m, Message::FlowRemoved(ref fr) if fr.reason == openflow::flow_mod::removed_reason::DELETE),
        "{m:?}"
    );
}

#[test]
fn dvsctl_add_flow_and_flow_mod_dump_identically() {
    let r = Rig::new(true);
    let text = "cookie=0x9,priority=300,idle_timeout=60,ip,nw_dst=10.0.0.0/8,actions=dec_ttl,mod_dl_dst:02:00:00:00:00:01,output:7";
    r.ctl
        .call("flow/add", json!({"bridge": "br0", "flow": text}))
        .expect("flow/add");
    let parsed = flowtable::text::parse_flow(text, &|_| None).expect("parse");
    let fm = FlowMod {
        cookie: parsed.cookie,
        idle_timeout: parsed.idle_timeout,
        priority: parsed.priority,
        matches: openflow::convert::from_flowtable_match(&parsed.m),
        instructions: openflow::convert::from_flowtable_instructions(&parsed.instructions),
        ..flow_mod(FlowModCommand::Add, vec![], vec![])
    };
    let mut c1 = Client::connect(&mgmt_path(&r.rundir, "br1"));
    c1.send(60, &Message::FlowMod(fm));
    c1.send(61, &Message::BarrierRequest);
    assert_eq!(c1.recv().expect("barrier").1, Message::BarrierReply);
    let (t0, t1) = (r.flows_text("br0"), r.flows_text("br1"));
    assert_eq!(t0.len(), 2);
    assert_eq!(t0, t1, "text dumps");
    let mut c0 = Client::connect(&mgmt_path(&r.rundir, "br0"));
    let strip = |v: Vec<FlowStats>| {
        v.into_iter()
            .map(|s| {
                (
                    s.table_id,
                    s.priority,
                    s.cookie,
                    s.idle_timeout,
                    s.flags,
                    s.matches,
                    s.instructions,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip(flow_stats(&mut c0, 62)),
        strip(flow_stats(&mut c1, 63)),
        "OpenFlow dumps"
    );

    // dvsctl batches stay all or nothing.
    let bad = json!({"bridge": "br0", "flows": ["priority=1,in_port=1,actions=drop", "table=2,actions=goto_table:1"]});
    assert!(r.ctl.call("flow/add", bad).is_err());
    assert_eq!(r.flows_text("br0"), t0, "nothing from the failed batch");
}
