//! OpenFlow 1.3 groups end to end on a running switch (PMD thread, mock ports a(1), b(2), c(3)):
//! Debian's real `ovs-ofctl -O OpenFlow13` for the operator commands (add/mod/del-groups,
//! dump-groups, dump-group-stats, dump-group-features, flows with `group:N`, mod-port), checked
//! against the frames that come out of the mock ports; and a hand-written client for what
//! ovs-ofctl refuses to send (weights on non-select buckets, fast-failover buckets without a
//! watch, unknown types) and for FLOW_REMOVED. Tests that need `ovs-ofctl` print why and pass
//! when it is not installed.

// The shared client has helpers this file does not need.
#[allow(dead_code)]
#[path = "ofctl/client.rs"]
mod client;
#[path = "ofctl/rig.rs"]
mod rig;

use client::{barrier_header, flow_mod, Client};
use openflow::error::ErrorType;
use openflow::flow_mod::{removed_reason, OFPFF_SEND_FLOW_REM, OFPG_ALL};
use openflow::{
    encode_to_vec, Action, Bucket, FlowModCommand, GroupMod, GroupModCommand, GroupType, Message,
};
use packet::build;
use rig::*;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use switchd::ofp::mgmt_path;

const ANY: u32 = 0xffff_ffff;

/// A UDP frame a -> b, 10.0.0.1:`sport` -> 10.0.0.2:80.
fn udp_from(sport: u16) -> Vec<u8> {
    build::udp_ipv4_frame(
        A,
        B,
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
        sport,
        80,
        // 60 bytes, the Ethernet minimum: the switch zero-pads shorter frames.
        b"group-of-eighteen!",
    )
}

/// UDP source port of an untagged IPv4 frame.
fn sport(f: &[u8]) -> u16 {
    u16::from_be_bytes([f[34], f[35]])
}

/// Inject `frames` into port a at once; return the frames b and c sent once `expect` frames
/// came out (or after a short wait when `expect` is 0), and how many a sent.
fn blast(r: &Rig, frames: Vec<Vec<u8>>, expect: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, usize) {
    let a = r.sw.mock("a").expect("a");
    a.inject_all(frames);
    let wait = if expect == 0 { 200 } else { 3000 };
    let deadline = Instant::now() + Duration::from_millis(wait);
    let (mut b, mut c, mut back) = (Vec::new(), Vec::new(), 0);
    while Instant::now() < deadline {
        b.extend(r.sw.mock("b").expect("b").take_sent());
        c.extend(r.sw.mock("c").expect("c").take_sent());
        back += a.take_sent().len();
        if expect > 0 && b.len() + c.len() + back >= expect && a.pending() == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    (b, c, back)
}

/// Which port (b or c) each flow of `sports` left by: one frame per flow, all at once.
fn placement(r: &Rig, sports: &[u16]) -> HashMap<u16, char> {
    let (b, c, a) = blast(
        r,
        sports.iter().map(|s| udp_from(*s)).collect(),
        sports.len(),
    );
    assert_eq!(a, 0);
    assert_eq!(b.len() + c.len(), sports.len(), "one copy per flow");
    let mut m = HashMap::new();
    for (frames, port) in [(b, 'b'), (c, 'c')] {
        for f in frames {
            assert!(m.insert(sport(&f), port).is_none(), "one copy per flow");
        }
    }
    m
}

fn on(m: &HashMap<u16, char>, port: char) -> usize {
    m.values().filter(|p| **p == port).count()
}

/// The dump-group-stats line of group `id`.
fn stats_line(r: &Rig, id: u32) -> String {
    let out = r.ofctl("dump-group-stats", &[&format!("group_id={id}")]);
    let lines = lines_with(&out, &format!("group_id={id},"));
    assert_eq!(lines.len(), 1, "{out}");
    lines[0].trim().to_string()
}

/// The counters after `prefix` (e.g. `bucket1:`) in a group stats line: (packets, bytes).
fn counters(line: &str, prefix: &str) -> (u64, u64) {
    let at = line
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in {line}"));
    let rest = &line[at + prefix.len()..];
    (field(rest, "packet_count"), field(rest, "byte_count"))
}

/// The group lines of dump-groups.
fn desc(r: &Rig) -> Vec<String> {
    r.ofctl("dump-groups", &[])
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn ofctl_add_dump_stats_features_modify_delete() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    let groups = [
        "group_id=1,type=all,bucket=output:2,bucket=output:3",
        "group_id=2,type=select,bucket=output:2,bucket=weight=5,output:3",
        "group_id=3,type=indirect,bucket=output:3",
        "group_id=4,type=ff,bucket=watch_port:2,output:2,bucket=watch_port:3,output:3",
    ];
    for g in groups {
        r.ofctl("add-group", &[g]);
    }
    assert_eq!(
        desc(&r),
        [
            "group_id=1,type=all,bucket=actions=output:2,bucket=actions=output:3",
            "group_id=2,type=select,bucket=actions=output:2,bucket=weight:5,actions=output:3",
            "group_id=3,type=indirect,bucket=actions=output:3",
            "group_id=4,type=ff,bucket=watch_port:2,actions=output:2,\
             bucket=watch_port:3,actions=output:3",
        ]
    );
    let feat = r.ofctl("dump-group-features", &[]);
    assert!(feat.contains("Types:  0xf"), "{feat}");
    assert!(feat.contains("Capabilities:  0xf"), "{feat}");
    assert_eq!(lines_with(&feat, "max_groups=0x10000").len(), 4, "{feat}");
    assert_eq!(
        lines_with(
            &feat,
            "actions: output group set_field strip_vlan push_vlan"
        )
        .len(),
        4,
        "{feat}"
    );

    // Traffic through group 1 is counted on the group and on each bucket.
    r.ofctl("add-flow", &["priority=100,in_port=1,actions=group:1"]);
    let f = udp_from(1000);
    let len = f.len() as u64;
    assert_eq!(r.send("a", f.clone(), 3, 6), [0, 3, 3], "all: b and c");
    let line = stats_line(&r, 1);
    assert!(line.contains("ref_count=1,"), "{line}");
    assert_eq!(field(&line, "packet_count"), 3, "{line}");
    assert_eq!(field(&line, "byte_count"), 3 * len, "{line}");
    assert_eq!(counters(&line, "bucket0:"), (3, 3 * len), "{line}");
    assert_eq!(counters(&line, "bucket1:"), (3, 3 * len), "{line}");
    let all = r.ofctl("dump-group-stats", &[]);
    let ids: Vec<u64> = lines_with(&all, "group_id=")
        .iter()
        .map(|l| field(l, "group_id"))
        .collect();
    assert_eq!(ids, [1, 2, 3, 4], "every group, by id: {all}");
    assert!(
        lines_with(&r.ofctl("dump-group-stats", &["group_id=77"]), "group_id=").is_empty(),
        "an unknown id has no stats"
    );

    // A modify (here changing the type) re-points the flow at once, keeps the group counters
    // and starts the new buckets from zero.
    r.ofctl("mod-group", &["group_id=1,type=indirect,bucket=output:3"]);
    assert_eq!(
        desc(&r)[0],
        "group_id=1,type=indirect,bucket=actions=output:3"
    );
    assert_eq!(r.send("a", f.clone(), 2, 2), [0, 0, 2]);
    let line = stats_line(&r, 1);
    assert_eq!(field(&line, "packet_count"), 5, "{line}");
    assert_eq!(counters(&line, "bucket0:"), (2, 2 * len), "{line}");
    assert!(!line.contains("bucket1:"), "{line}");
    let (ok, _, err) = r.ofctl_status("mod-group", &["group_id=9,type=all,bucket=output:2"]);
    assert!(!ok && err.contains("OFPGMFC_UNKNOWN_GROUP"), "{err}");

    // Deleting group 1 deletes the flow that uses it; NORMAL floods again.
    r.ofctl("del-groups", &["group_id=1"]);
    let dump = r.ofctl("dump-flows", &[]);
    assert!(!dump.contains("group:1"), "{dump}");
    assert_eq!(desc(&r).len(), 3);
    assert_eq!(r.send("a", f.clone(), 1, 2), [0, 1, 1]);
    // Deleting a missing group is not an error; no id deletes every group.
    r.ofctl("del-groups", &["group_id=1"]);
    r.ofctl("del-groups", &[]);
    assert!(desc(&r).is_empty());
}

#[test]
fn add_existing_and_bad_references_are_refused() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    r.ofctl("add-group", &["group_id=1,type=all,bucket=output:2"]);
    let refused = |args: &str, code: &str| {
        let (ok, _, err) = r.ofctl_status("add-group", &[args]);
        assert!(!ok && err.contains(code), "{args}: {err}");
    };
    refused(
        "group_id=1,type=all,bucket=output:3",
        "OFPGMFC_GROUP_EXISTS",
    );
    refused("group_id=2,type=all,bucket=output:7", "OFPBAC_BAD_OUT_PORT");
    refused(
        "group_id=2,type=all,bucket=group:77",
        "OFPBAC_BAD_OUT_GROUP",
    );
    refused("group_id=2,type=all,bucket=group:2", "OFPGMFC_LOOP");
    refused(
        "group_id=2,type=ff,bucket=watch_port:7,output:2",
        "OFPGMFC_BAD_WATCH",
    );
    assert_eq!(desc(&r), ["group_id=1,type=all,bucket=actions=output:2"]);

    // A flow naming a missing group is refused.
    let (ok, _, err) = r.ofctl_status("add-flow", &["in_port=1,actions=group:77"]);
    assert!(!ok && err.contains("OFPBAC_BAD_OUT_GROUP"), "{err}");

    // Chains: 2 -> 1 is fine and counts as a reference of 1; 1 -> 2 would loop; 1 cannot go
    // while 2 forwards to it.
    r.ofctl("add-group", &["group_id=2,type=indirect,bucket=group:1"]);
    r.ofctl("add-flow", &["priority=100,in_port=1,actions=group:2"]);
    assert_eq!(r.send("a", udp_from(1), 1, 1), [0, 1, 0]);
    assert!(stats_line(&r, 1).contains("ref_count=1,"));
    let (ok, _, err) = r.ofctl_status("mod-group", &["group_id=1,type=all,bucket=group:2"]);
    assert!(!ok && err.contains("OFPGMFC_LOOP"), "{err}");
    let (ok, _, err) = r.ofctl_status("del-groups", &["group_id=1"]);
    assert!(!ok && err.contains("OFPGMFC_CHAINED_GROUP"), "{err}");
    r.ofctl("del-groups", &["group_id=2"]);
    assert!(!r.ofctl("dump-flows", &[]).contains("group:2"));
    r.ofctl("del-groups", &["group_id=1"]);
}

#[test]
fn all_group_buckets_edit_their_own_copies() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    r.ofctl(
        "add-group",
        &["group_id=5,type=all,\
           bucket=set_field:10.0.0.7->ip_dst,output:2,\
           bucket=push_vlan:0x8100,set_field:4106->vlan_vid,output:3,\
           bucket=output:3"],
    );
    r.ofctl("add-flow", &["priority=100,in_port=1,actions=group:5"]);
    let f = udp_from(4242);
    let (b, c, a) = blast(&r, vec![f.clone()], 3);
    assert_eq!((b.len(), c.len(), a), (1, 2, 0));
    // b's copy has the new destination (and a valid IPv4 header checksum), no tag.
    assert_eq!(&b[0][12..14], &[0x08, 0x00]);
    assert_eq!(&b[0][30..34], &[10, 0, 0, 7]);
    assert_eq!(packet::checksum::internet_checksum(&b[0][14..34]), 0);
    // c gets a copy tagged with VLAN 10 and the untouched original.
    let tagged = build::vlan_tagged(&f, 0x8100, 10);
    let mut got = c.clone();
    got.sort_by_key(Vec::len);
    assert_eq!(got, [f, tagged]);
}

#[test]
fn indirect_group_is_shared_by_flows() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    r.ofctl("add-group", &["group_id=3,type=indirect,bucket=output:3"]);
    r.ofctl(
        "add-flow",
        &["priority=100,udp,nw_dst=10.0.0.2,actions=group:3"],
    );
    r.ofctl(
        "add-flow",
        &["priority=100,udp,nw_dst=10.0.0.3,actions=group:3"],
    );
    let to = |n| udp_to(Ipv4Addr::new(10, 0, 0, n));
    assert_eq!(r.send("a", to(2), 2, 2), [0, 0, 2]);
    assert_eq!(r.send("a", to(3), 2, 2), [0, 0, 2]);
    let line = stats_line(&r, 3);
    assert!(line.contains("ref_count=2,"), "{line}");
    assert_eq!(field(&line, "packet_count"), 4, "{line}");
    // One group mod re-points both flows.
    r.ofctl("mod-group", &["group_id=3,type=indirect,bucket=output:2"]);
    assert_eq!(r.send("a", to(2), 1, 1), [0, 1, 0]);
    assert_eq!(r.send("a", to(3), 1, 1), [0, 1, 0]);
}

#[test]
fn select_spreads_flows_and_keeps_each_on_one_port() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    r.ofctl(
        "add-group",
        &["group_id=7,type=select,\
           bucket=watch_port:2,output:2,bucket=watch_port:3,output:3"],
    );
    r.ofctl("add-flow", &["priority=100,in_port=1,udp,actions=group:7"]);
    let flows: Vec<u16> = (10_000..10_200).collect();
    let first = placement(&r, &flows);
    for port in ['b', 'c'] {
        let n = on(&first, port);
        assert!((50..=150).contains(&n), "{port}: {n} of 200");
    }
    assert_eq!(placement(&r, &flows), first, "a flow keeps its port");
    let line = stats_line(&r, 7);
    assert_eq!(field(&line, "packet_count"), 400, "{line}");
    assert_eq!(counters(&line, "bucket0:").0, 2 * on(&first, 'b') as u64);

    // A dead bucket moves only its own flows, and they come back when it revives.
    r.ofctl("mod-port", &["b", "down"]);
    let down = placement(&r, &flows);
    assert_eq!(on(&down, 'c'), 200, "every flow on c");
    r.ofctl("mod-port", &["b", "up"]);
    assert_eq!(placement(&r, &flows), first);

    // Weights: 1 for b, 3 for c.
    r.ofctl(
        "mod-group",
        &["group_id=7,type=select,bucket=weight=1,output:2,bucket=weight=3,output:3"],
    );
    let many: Vec<u16> = (20_000..20_400).collect();
    let weighted = placement(&r, &many);
    let c = on(&weighted, 'c');
    assert!((240..=360).contains(&c), "c: {c} of 400");
}

/// Send one frame of a flow at a time until it leaves by the ports `want` says (or 3 s pass);
/// returns where the last one went. The housekeeping thread notices a link change within about
/// 250 ms, and until then a frame may still go to the dead port and be lost.
fn wait_for(r: &Rig, f: &[u8], want: [usize; 3]) -> [usize; 3] {
    let a = r.sw.mock("a").expect("a");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        a.inject(f.to_vec());
        let shot = Instant::now() + Duration::from_millis(100);
        let mut got = [0usize; 3];
        while Instant::now() < shot && got.iter().sum::<usize>() == 0 {
            std::thread::sleep(Duration::from_millis(2));
            for (i, name) in ["a", "b", "c"].iter().enumerate() {
                got[i] += r.sw.mock(name).expect("mock").take_sent().len();
            }
        }
        if got == want || Instant::now() > deadline {
            return got;
        }
    }
}

#[test]
fn fast_failover_follows_port_mod_and_link() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    r.ofctl(
        "add-group",
        &["group_id=4,type=ff,bucket=watch_port:2,output:2,bucket=watch_port:3,output:3"],
    );
    r.ofctl("add-flow", &["priority=100,in_port=1,actions=group:4"]);
    let f = udp_from(1);
    assert_eq!(r.send("a", f.clone(), 2, 2), [0, 2, 0], "b first");
    r.ofctl("mod-port", &["b", "down"]);
    assert_eq!(r.send("a", f.clone(), 2, 2), [0, 0, 2], "b is down: c");
    r.ofctl("mod-port", &["b", "up"]);
    assert_eq!(r.send("a", f.clone(), 2, 2), [0, 2, 0], "b is back");

    let b = r.sw.mock("b").expect("b");
    b.set_link(false);
    assert_eq!(
        wait_for(&r, &f, [0, 0, 1]),
        [0, 0, 1],
        "b's link is down: c"
    );
    r.sw.mock("c").expect("c").set_link(false);
    let before = drops(&r, "group_no_live_bucket");
    let deadline = Instant::now() + Duration::from_secs(3);
    while drops(&r, "group_no_live_bucket") == before && Instant::now() < deadline {
        assert_eq!(r.send("a", f.clone(), 1, 0), [0, 0, 0], "no live bucket");
    }
    assert!(drops(&r, "group_no_live_bucket") > before);
    b.set_link(true);
    assert_eq!(wait_for(&r, &f, [0, 1, 0]), [0, 1, 0], "b's link is back");
}

fn bucket(weight: u16, watch_port: u32, watch_group: u32, actions: Vec<Action>) -> Bucket {
    Bucket {
        weight,
        watch_port,
        watch_group,
        actions,
    }
}

fn out(port: u32) -> Vec<Action> {
    vec![Action::Output { port, max_len: 0 }]
}

fn gm(command: GroupModCommand, t: GroupType, id: u32, buckets: Vec<Bucket>) -> Message {
    Message::GroupMod(GroupMod {
        command,
        group_type: t,
        group_id: id,
        buckets,
    })
}

fn add(t: GroupType, id: u32, buckets: Vec<Bucket>) -> Message {
    gm(GroupModCommand::Add, t, id, buckets)
}

fn barrier(c: &mut Client, xid: u32) {
    c.send(xid, &Message::BarrierRequest);
    assert_eq!(
        c.recv().expect("barrier"),
        (barrier_header(xid), Message::BarrierReply)
    );
}

#[test]
fn group_mod_errors_from_a_raw_client() {
    let r = Rig::new(false);
    let mut c = Client::connect(&mgmt_path(&r.rundir, "br0"));
    let t = ErrorType::GroupModFailed;
    use GroupType::{All, FastFailover as Ff, Indirect, Select};
    // What ovs-ofctl will not send.
    c.send(1, &add(All, 1, vec![bucket(2, ANY, ANY, out(2))]));
    c.expect_error(1, t, 1); // INVALID_GROUP: weight outside select
    let one = || bucket(0, ANY, ANY, out(2));
    c.send(2, &add(Indirect, 1, vec![one(), one()]));
    c.expect_error(2, t, 1); // INVALID_GROUP: indirect needs exactly one bucket
    c.send(3, &add(Indirect, 1, vec![]));
    c.expect_error(3, t, 1);
    c.send(4, &add(Ff, 1, vec![one()]));
    c.expect_error(4, t, 13); // BAD_WATCH: fast-failover bucket watching nothing
    c.send(5, &add(All, 1, vec![bucket(0, 2, ANY, out(2))]));
    c.expect_error(5, t, 6); // WATCH_UNSUPPORTED
    c.send(6, &add(All, 0xffff_ff01, vec![one()]));
    c.expect_error(6, t, 1); // INVALID_GROUP: reserved id
    c.send(7, &add(Ff, 1, vec![bucket(0, ANY, 55, out(2))]));
    c.expect_error(7, t, 13); // BAD_WATCH: watched group missing
    let mut raw = encode_to_vec(8, &add(All, 1, vec![one()]));
    raw[10] = 9;
    c.send_raw(&raw);
    c.expect_error(8, t, 10); // BAD_TYPE
    c.send(9, &gm(GroupModCommand::Modify, All, 1, vec![one()]));
    c.expect_error(9, t, 8); // UNKNOWN_GROUP
    c.send(
        10,
        &add(
            All,
            1,
            vec![bucket(
                0,
                ANY,
                ANY,
                vec![Action::Output {
                    port: 0xffff_fffe,
                    max_len: 0,
                }],
            )],
        ),
    );
    c.expect_error(10, ErrorType::BadAction, 4); // BAD_OUT_PORT: no LOCAL port
                                                 // Deleting a missing group is silent.
    c.send(11, &gm(GroupModCommand::Delete, All, 1, vec![]));
    barrier(&mut c, 12);

    // A chain of 8 groups is accepted, a 9th is not (the translator would cut it).
    c.send(20, &add(Select, 1, vec![bucket(1, ANY, ANY, out(3))]));
    for id in 2..=8 {
        c.send(
            20 + id,
            &add(
                Indirect,
                id,
                vec![bucket(0, ANY, ANY, vec![Action::Group(id - 1)])],
            ),
        );
    }
    barrier(&mut c, 30);
    c.send(
        31,
        &add(
            Indirect,
            9,
            vec![bucket(0, ANY, ANY, vec![Action::Group(8)])],
        ),
    );
    c.expect_error(31, t, 5); // CHAINING_UNSUPPORTED

    // The chain works end to end.
    let mut fm = flow_mod(FlowModCommand::Add, vec![], vec![Action::Group(8)]);
    fm.flags = OFPFF_SEND_FLOW_REM;
    c.send(32, &Message::FlowMod(fm));
    barrier(&mut c, 33);
    assert_eq!(r.send("a", udp_from(5), 1, 1), [0, 0, 1]);
    // Delete everything: the flow goes with FLOW_REMOVED.
    c.send(34, &gm(GroupModCommand::Delete, All, OFPG_ALL, vec![]));
    let (_, m) = c.recv().expect("flow removed");
    let Message::FlowRemoved(fr) = m else {
        panic!("{m:?}")
    };
    assert_eq!((fr.cookie, fr.reason), (0x77, removed_reason::GROUP_DELETE));
    assert_eq!(fr.packet_count, 1);
    barrier(&mut c, 35);
    assert!(
        r.flows_text("br0").iter().all(|f| !f.contains("group")),
        "{:?}",
        r.flows_text("br0")
    );
}
