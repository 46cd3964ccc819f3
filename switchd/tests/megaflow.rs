//! The megaflow tier and the new-flow budget, through the whole datapath over mock ports: which
//! packets run the slow path, which are served by a wildcarded megaflow, that a table change
//! reaches packets under an old megaflow, that the fields rules read stay in the megaflow mask,
//! and that a flood of new flows from one port is cut at that port's budget and counted.

mod mockrig;

use mockrig::*;
use packet::build;
use serde_json::json;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

fn two_ports() -> String {
    port("a", 1, "") + &port("b", 2, "")
}

fn udp_to(dst: Ipv4Addr, sport: u16) -> Vec<u8> {
    build::udp_ipv4_frame(A, B, Ipv4Addr::new(10, 0, 0, 1), dst, sport, 80, b"mf")
}

fn tcp_to(dport: u16, sport: u16) -> Vec<u8> {
    build::tcp_ipv4_frame(
        A,
        B,
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
        sport,
        dport,
        0x02,
        b"",
    )
}

fn pmd(r: &Rig, field: &str) -> u64 {
    let s = r.call("pmd/stats", json!({}));
    s.as_array()
        .expect("pmds")
        .iter()
        .map(|p| p[field].as_u64().unwrap_or(0))
        .sum()
}

/// Inject every frame into `from` and collect what `to` sends until `want` frames came out or
/// two seconds passed.
fn blast(r: &Rig, from: &str, to: &str, frames: Vec<Vec<u8>>, want: usize) -> Vec<Vec<u8>> {
    r.port(from).inject_all(frames);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut out = Vec::new();
    while Instant::now() < deadline && (out.len() < want || r.port(from).pending() > 0) {
        out.extend(r.port(to).take_sent());
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    out.extend(r.port(to).take_sent());
    out
}

/// Wait until the PMD has published a megaflow count satisfying `ok`.
fn megaflows_become(r: &Rig, ok: impl Fn(u64) -> bool) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let n = pmd(r, "megaflows");
        if ok(n) || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn many_flows_that_normal_decides_alike_share_one_megaflow() {
    let r = Rig::new(&two_ports(), &[]);
    r.send("b", eth(BCAST, B), 1); // learn B
    let up0 = pmd(&r, "upcalls");
    let frames: Vec<Vec<u8>> = (0..300u32)
        .map(|i| udp_to(Ipv4Addr::from(0x0a01_0000 + i), 1000 + i as u16))
        .collect();
    let out = blast(&r, "a", "b", frames.clone(), 300);
    assert_eq!(out.len(), 300, "every flow forwarded");
    let n = frames[17].len();
    assert_eq!(
        out[17][..n],
        frames[17][..],
        "unchanged (padded to 60 bytes)"
    );
    let upcalls = pmd(&r, "upcalls") - up0;
    assert_eq!(
        upcalls, 1,
        "NORMAL reads MACs, not addresses: one slow-path run"
    );
    assert!(
        pmd(&r, "megaflow_hits") >= 250,
        "the rest were megaflow hits (some EMC): {}",
        r.call("pmd/stats", json!({}))
    );
    // B's broadcast made one too; learning A did not end it (nothing had flooded for A).
    assert_eq!(
        megaflows_become(&r, |n| n == 2),
        2,
        "B's broadcast and A's flows"
    );
}

#[test]
fn a_rule_added_later_reaches_flows_under_an_old_megaflow() {
    let r = Rig::new(&two_ports(), &[]);
    r.send("b", eth(BCAST, B), 1);
    let warm: Vec<Vec<u8>> = (0..50u32)
        .map(|i| udp_to(Ipv4Addr::from(0x0a02_0000 + i), 2000))
        .collect();
    assert_eq!(blast(&r, "a", "b", warm, 50).len(), 50);
    r.call(
        "flow/add",
        json!({"bridge": "br0", "flow": "priority=100,udp,nw_dst=10.2.0.7,actions=drop"}),
    );
    let up0 = pmd(&r, "upcalls");
    let drops0 = r.drops("rule_drop");
    // 10.2.0.7 was forwarded by the old megaflow; now it is dropped, the others still go.
    let again: Vec<Vec<u8>> = (0..50u32)
        .map(|i| udp_to(Ipv4Addr::from(0x0a02_0000 + i), 2000))
        .collect();
    let out = blast(&r, "a", "b", again, 49);
    assert_eq!(out.len(), 49, "all but 10.2.0.7");
    assert_eq!(r.drops("rule_drop") - drops0, 1);
    let upcalls = pmd(&r, "upcalls") - up0;
    // The rule splits the old megaflow: the walk now reads nw_dst, so each address is its own
    // megaflow, re-made on its first packet.
    assert_eq!(
        upcalls, 50,
        "revalidated by the slow path, once per new megaflow"
    );
    // The stale megaflow is swept away; 50 new ones (and B's broadcast one is stale too).
    let n = megaflows_become(&r, |n| n == 50);
    assert_eq!(n, 50, "stale megaflows swept");
}

#[test]
fn the_fields_a_rule_reads_stay_in_the_megaflow() {
    let r = Rig::new(
        &two_ports(),
        &[
            "priority=10,tcp,tp_dst=22,actions=drop",
            "priority=5,tcp,actions=output:2",
        ],
    );
    // Alternate ports 80 and 22 with fresh source ports: if tp_dst were wildcarded, the first
    // megaflow would forward the SSH packets too (or drop the web ones).
    let frames: Vec<Vec<u8>> = (0..40u16)
        .map(|i| tcp_to(if i % 2 == 0 { 80 } else { 22 }, 3000 + i))
        .collect();
    let out = blast(&r, "a", "b", frames, 20);
    assert_eq!(out.len(), 20);
    for f in &out {
        assert_eq!(&f[36..38], &80u16.to_be_bytes(), "only port 80 leaves");
    }
    assert_eq!(r.drops("rule_drop"), 20);
    assert_eq!(
        pmd(&r, "upcalls"),
        2,
        "one megaflow per tp_dst, not per flow"
    );
}

#[test]
fn a_flood_of_new_flows_is_cut_at_its_ports_budget_and_counted() {
    let cfg_ports = two_ports();
    let r = Rig::with_switch(&cfg_ports, &[], "upcall_rate_per_port = 1000\n");
    r.send("b", eth(BCAST, B), 1);
    // 2000 frames from 2000 source MACs: NORMAL reads the source, so each is a new flow.
    let flood: Vec<Vec<u8>> = (0..2000u32)
        .map(|i| {
            let mut src = [2, 0x66, 0, 0, 0, 0];
            src[2..].copy_from_slice(&i.to_be_bytes());
            build::udp_ipv4_frame(
                src,
                B,
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::new(10, 0, 0, 2),
                1,
                2,
                b"x",
            )
        })
        .collect();
    let out = blast(&r, "a", "b", flood, 100);
    let limited = r.drops("upcall_limited");
    // Burst 100 (a tenth of the rate, at least 64) plus what a second at 1000/s refills while
    // the PMD works through the queue.
    assert!(
        (100..2000).contains(&out.len()),
        "forwarded {} of 2000",
        out.len()
    );
    assert_eq!(
        limited + out.len() as u64,
        2000,
        "every other one is counted"
    );
    assert!(limited >= 500, "most of the flood was cut: {limited}");
    // Port b's budget is its own: its new flow still goes at once.
    let reply = build::udp_ipv4_frame(
        B,
        [2, 0x66, 0, 0, 0, 5],
        Ipv4Addr::new(10, 0, 0, 2),
        Ipv4Addr::new(10, 0, 0, 1),
        2,
        1,
        b"y",
    );
    assert_eq!(blast(&r, "b", "a", vec![reply], 1).len(), 1);
}

#[test]
fn new_source_addresses_leave_established_flows_cached_but_not_stale_floods() {
    let ports = two_ports() + &port("c", 3, "");
    let r = Rig::new(&ports, &[]);
    r.send("b", eth(BCAST, B), 2);
    let a_to_b = |i: u32| udp_to(Ipv4Addr::from(0x0a03_0000 + i), 4000);
    assert_eq!(
        blast(&r, "a", "b", (0..20).map(a_to_b).collect(), 20).len(),
        20
    );
    let up0 = pmd(&r, "upcalls");
    // 200 new source addresses on c, all sending to the known B.
    let spray: Vec<Vec<u8>> = (0..200u32)
        .map(|i| {
            let mut src = [2, 0x77, 0, 0, 0, 0];
            src[2..].copy_from_slice(&i.to_be_bytes());
            eth(B, src)
        })
        .collect();
    assert_eq!(blast(&r, "c", "b", spray, 200).len(), 200);
    assert_eq!(
        blast(&r, "a", "b", (0..20).map(a_to_b).collect(), 20).len(),
        20
    );
    assert_eq!(
        pmd(&r, "upcalls") - up0,
        200,
        "one per new address; A's megaflow stayed valid"
    );
    // A destination that was flooded while unknown: once it speaks, its flows go to it alone.
    const D: [u8; 6] = [2, 0, 0, 0, 0, 0xd];
    let a_to_d = eth(D, A);
    let out = r.send("a", a_to_d.clone(), 2);
    assert_eq!(out.len(), 2, "flooded to b and c while D is unknown");
    r.send("c", eth(BCAST, D), 2);
    let out = r.send("a", a_to_d, 1);
    let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["c"], "learning D ended the flood");
}

#[test]
fn a_dump_shows_each_megaflow_with_only_the_fields_read() {
    let r = Rig::new(
        &two_ports(),
        &[
            "priority=10,tcp,tp_dst=22,actions=drop",
            "priority=5,tcp,actions=output:2",
        ],
    );
    let out = blast(&r, "a", "b", vec![tcp_to(80, 1), tcp_to(22, 2)], 1);
    assert_eq!(out.len(), 1);
    let dump = r.call("pmd/megaflows", json!({}));
    let flows = dump[0]["megaflows"].as_array().expect("megaflows");
    let lines: Vec<String> = flows
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["match"].as_str().unwrap(),
                f["actions"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let web = lines
        .iter()
        .find(|l| l.contains("tcp_dst=80"))
        .unwrap_or_else(|| panic!("port 80's: {lines:?}"));
    assert!(
        web.contains("in_port=1") && web.contains("tcp") && web.ends_with("output:b"),
        "{web}"
    );
    assert!(
        !web.contains("nw_dst") && !web.contains("tcp_src"),
        "unread fields are wildcarded: {web}"
    );
    let ssh = lines
        .iter()
        .find(|l| l.contains("tcp_dst=22"))
        .expect("port 22's");
    assert!(ssh.ends_with("drop(rule_drop)"), "{ssh}");
    assert_eq!(dump[0]["pmd"], 0);
}
