//! Flow programming over OpenFlow on a running switch: FLOW_MODs sent back to back are applied
//! together yet answered one by one, bundles (`ovs-ofctl --bundle`, the ONF extension) are all
//! or nothing, and a connection must start with HELLO. Tests that need `ovs-ofctl` print why and
//! pass when it is not installed.

// The shared client has helpers this file does not need.
#[allow(dead_code)]
#[path = "ofctl/client.rs"]
mod client;
#[path = "ofctl/rig.rs"]
mod rig;

use client::{flow_mod, udp_dst_match, Client};
use openflow::error::ErrorType;
use openflow::{encode_to_vec, Action, FlowModCommand, Hello, Message};
use rig::*;
use switchd::ofp::mgmt_path;

fn ofctl_available() -> bool {
    let ok = std::process::Command::new("ovs-ofctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: ovs-ofctl is not installed");
    }
    ok
}

/// The number of flows in table 0 of br0.
fn flow_count(r: &Rig) -> usize {
    r.sw.bridge("br0").expect("br0").view().pipeline.len()
}

#[test]
fn back_to_back_flow_mods_land_in_one_edit_and_keep_their_own_errors_in_order() {
    let r = Rig::new(false);
    let before = flow_count(&r);
    let mut c = Client::connect(&mgmt_path(&r.rundir, "br0"));
    let good = |last| {
        flow_mod(
            FlowModCommand::Add,
            udp_dst_match(last),
            vec![Action::Output {
                port: 2,
                max_len: 0,
            }],
        )
    };
    let mut bad = flow_mod(
        FlowModCommand::Add,
        udp_dst_match(2),
        vec![Action::Group(99)],
    );
    bad.priority = 7;
    let mut buffered = good(4);
    buffered.buffer_id = 5;
    let b0 = r.sw.bridge("br0").expect("br0");
    let edits = |b: &datapath::bridge::Bridge| {
        let e = b.edit_counts();
        e.copied + e.reused
    };
    let edits_before = edits(&b0);
    // One write: four FLOW_MODs and a BARRIER.
    let mut bytes = Vec::new();
    for (xid, fm) in [(10, good(1)), (11, bad), (12, good(3)), (13, buffered)] {
        bytes.extend(encode_to_vec(xid, &Message::FlowMod(fm)));
    }
    bytes.extend(encode_to_vec(14, &Message::BarrierRequest));
    c.send_raw(&bytes);
    let mut got = Vec::new();
    while let Some((h, m)) = c.recv() {
        let done = matches!(m, Message::BarrierReply);
        got.push((h.xid, m));
        if done {
            break;
        }
    }
    let xids: Vec<u32> = got.iter().map(|(x, _)| *x).collect();
    assert_eq!(xids, [11, 13, 14], "{got:?}");
    let Message::Error(e) = &got[0].1 else {
        panic!("{got:?}")
    };
    assert_eq!(e.err_type, ErrorType::BadAction, "{e:?}");
    let Message::Error(e) = &got[1].1 else {
        panic!("{got:?}")
    };
    assert_eq!(e.err_type, ErrorType::BadRequest, "buffer unknown: {e:?}");
    // The three good ones are in (the buffered one too: only its packet is unknown).
    assert_eq!(flow_count(&r), before + 3);
    assert_eq!(edits(&b0) - edits_before, 1, "one edit for the whole run");
    // Traffic follows them.
    let frame = udp(1);
    assert_eq!(r.send("a", frame, 3, 3), [0, 3, 0]);
}

/// A UDP frame a -> b, to 10.0.0.`last`:80.
fn udp(last: u8) -> Vec<u8> {
    packet::build::udp_ipv4_frame(
        A,
        B,
        std::net::Ipv4Addr::new(10, 0, 0, 9),
        std::net::Ipv4Addr::new(10, 0, 0, last),
        1000,
        80,
        b"x",
    )
}

#[test]
fn a_message_before_hello_is_refused_and_the_connection_closed() {
    let r = Rig::new(false);
    let before = flow_count(&r);
    let mut c = Client::raw(&mgmt_path(&r.rundir, "br0"));
    let fm = flow_mod(FlowModCommand::Add, udp_dst_match(1), vec![]);
    c.send(3, &Message::FlowMod(fm));
    let (_, m) = c.recv().expect("the switch's hello");
    assert!(matches!(m, Message::Hello(_)), "{m:?}");
    let (h, m) = c.recv().expect("an error");
    let Message::Error(e) = m else {
        panic!("{m:?}")
    };
    assert_eq!((h.xid, e.err_type), (3, ErrorType::HelloFailed));
    assert!(c.recv().is_none(), "closed");
    assert_eq!(flow_count(&r), before, "the FLOW_MOD was not applied");
    // A client that says HELLO first is served.
    let mut ok = Client::raw(&mgmt_path(&r.rundir, "br0"));
    ok.send(1, &Message::Hello(Hello::ours()));
    assert!(matches!(ok.recv(), Some((_, Message::Hello(_)))));
    ok.send(2, &Message::EchoRequest(vec![1]));
    assert_eq!(ok.recv().map(|(_, m)| m), Some(Message::EchoReply(vec![1])));
}

fn flows_file(r: &Rig, name: &str, lines: &[String]) -> String {
    std::fs::create_dir_all(&r.rundir).expect("rundir");
    let path = r.rundir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("flows file");
    path.display().to_string()
}

#[test]
fn ovs_ofctl_bundles_are_all_or_nothing() {
    if !ofctl_available() {
        return;
    }
    let r = Rig::new(false);
    let before = flow_count(&r);
    let good: Vec<String> = (0..2000)
        .map(|i| {
            format!(
                "priority=100,ip,nw_dst=10.1.{}.{},actions=drop",
                i / 256,
                i % 256
            )
        })
        .collect();
    let file = flows_file(&r, "good.txt", &good);
    let (ok, _, err) = r.ofctl_status("add-flows", &["--bundle", &file]);
    assert!(ok, "{err}");
    assert_eq!(flow_count(&r), before + 2000);

    // One bad flow (a group that does not exist) in the middle: nothing of the bundle lands.
    let mut mixed: Vec<String> = (0..500)
        .map(|i| {
            format!(
                "priority=200,ip,nw_dst=10.2.{}.{},actions=drop",
                i / 256,
                i % 256
            )
        })
        .collect();
    mixed.insert(
        250,
        "priority=200,ip,nw_dst=10.3.0.1,actions=group:99".into(),
    );
    let file = flows_file(&r, "mixed.txt", &mixed);
    let (ok, _, err) = r.ofctl_status("add-flows", &["--bundle", &file]);
    assert!(!ok, "ovs-ofctl reports the failed bundle");
    assert!(err.contains("group") || err.contains("GROUP"), "{err}");
    assert_eq!(
        flow_count(&r),
        before + 2000,
        "nothing of the bundle landed"
    );
    let dump = r.ofctl("dump-flows", &[]);
    assert!(!dump.contains("priority=200"), "{dump}");
}
