//! Issue 17's OpenFlow 1.3 matches and actions driven by a generic controller: os-ken, with the
//! app `tests/osken/of13_features.py`, programs a `secure` dvs-switchd bridge between three
//! namespace VMs (ports 1-3, no VLAN processing) through its own OFP 1.3 encoder.
//!
//! - The app installs MPLS push (label/TC set_field, set_mpls_ttl), MPLS pop after dec_mpls_ttl
//!   with table 1 matching the re-parsed IPv4 packet, an SCTP port rewrite, tunnel_id set in
//!   table 0 and matched in table 2, an ipv6_exthdr (fragment header) match in table 3, an ND
//!   target/sll rewrite, and in table 4 copy_ttl_in before a pop (selected by mpls_tc) and
//!   copy_ttl_out after a 0x8848 push; plus two flows that set read-only fields (eth_type,
//!   ip_proto), which the switch must refuse with OFPET_BAD_ACTION / OFPBAC_BAD_SET_TYPE
//!   (type 2, code 13). It reads every flow back with a FLOW_STATS request and reports, in a
//!   JSON file, what it sent, the errors per xid and whether each flow came back as sent.
//! - The test reads the flows back a second time with `ovs-ofctl -O OpenFlow13 dump-flows`
//!   (each as `ovs-ofctl parse-flow` prints the same flow; tables 3 and 4 only through the
//!   app, as Open vSwitch can spell neither `ipv6_exthdr` nor the TTL copies), sends
//!   hand-built frames from the VMs' raw sockets and takes apart what comes out, field by
//!   field, with checksums recomputed by `osken_of13/wire.rs` (not by dvs's `packet` crate),
//!   then checks each flow's packet count, as both os-ken and ovs-ofctl read it.
//! - `expired_mpls_ttl_stops_the_pipeline` (ignored: it fails on a switch bug reported for
//!   issue 17) checks that a packet dropped by dec_mpls_ttl is not counted by a later table.
//!
//! Skips, with the reason, without root, ovs-ofctl or os-ken.

#[path = "osken_of13/wire.rs"]
mod wire;

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tests::lab::{Lab, Mode, VmSpec};
use tests::{mac_str, require_root, RawSock, Switchd};

/// OFPET_BAD_ACTION and OFPBAC_BAD_SET_TYPE (OpenFlow 1.3.5, 7.5.4.3).
const BAD_ACTION: u64 = 2;
const BAD_SET_TYPE: u64 = 13;
/// The app's cookies: 0x17000000 + the flow's position in its list.
const COOKIE_BASE: u64 = 0x1700_0000;

/// The app's flows, as `ovs-ofctl` spells them: (cookie offset, name, table, flow). `None`
/// where ovs-ofctl has no spelling (ipv6_exthdr); those are read back by the app only.
const FLOWS: [(u64, &str, u8, Option<&str>); 15] = [
    (
        1,
        "mpls_push",
        0,
        Some(
            "priority=100,udp,in_port=1,actions=push_mpls:0x8847,set_field:1000->mpls_label,\
             set_field:5->mpls_tc,set_mpls_ttl(33),output:2",
        ),
    ),
    (
        2,
        "mpls_pop",
        0,
        Some(
            "priority=100,mpls,in_port=2,mpls_label=2000,mpls_bos=1,\
             actions=dec_mpls_ttl,pop_mpls:0x0800,goto_table:1",
        ),
    ),
    (
        3,
        "popped_udp",
        1,
        Some("table=1,priority=100,udp,tp_dst=4000,actions=output:1"),
    ),
    (
        4,
        "sctp",
        0,
        Some("priority=100,sctp,in_port=1,tp_dst=5000,actions=set_field:6000->sctp_dst,output:3"),
    ),
    (
        5,
        "tunnel_set",
        0,
        Some("priority=100,udp,in_port=3,actions=set_field:0x77->tun_id,goto_table:2"),
    ),
    (
        6,
        "tunnel_match",
        2,
        Some("table=2,priority=100,tun_id=0x77,actions=output:1"),
    ),
    (
        7,
        "tunnel_other",
        2,
        Some("table=2,priority=10,actions=output:2"),
    ),
    (
        8,
        "to_exthdr",
        0,
        Some("priority=100,ipv6,in_port=3,actions=goto_table:3"),
    ),
    (9, "exthdr_frag", 3, None),
    (
        10,
        "exthdr_other",
        3,
        Some("table=3,priority=10,ipv6,actions=output:1"),
    ),
    (
        11,
        "nd",
        0,
        Some(
            "priority=100,icmp6,in_port=1,icmp_type=135,\
             actions=set_field:2001:db8::99->nd_target,set_field:02:00:00:00:00:99->nd_sll,\
             output:3",
        ),
    ),
    (
        12,
        "to_copy_mpls",
        0,
        Some("priority=100,mpls,in_port=2,mpls_label=3000,actions=goto_table:4"),
    ),
    (
        13,
        "to_copy_ip",
        0,
        Some("priority=100,udp,in_port=2,actions=goto_table:4"),
    ),
    (14, "copy_in", 4, None),
    (15, "copy_out", 4, None),
];

/// os-ken running `of13_features.py`, killed on drop (its log printed if the test failed).
struct OsKen {
    child: Child,
    log: PathBuf,
}

impl OsKen {
    fn start(port: u16, report: &Path, dir: &Path) -> OsKen {
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("osken");
        let log = dir.join("osken-of13.log");
        let child = Command::new("python3")
            .arg(here.join("run_controller.py"))
            .args(["127.0.0.1", &port.to_string()])
            .arg(here.join("of13_features.py"))
            .env("DVS_OF13_REPORT", report)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("os-ken log"))
            .spawn()
            .expect("spawn os-ken");
        OsKen { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for OsKen {
    fn drop(&mut self) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("os-ken log:\n{}", self.log());
        }
    }
}

/// A VM that speaks only through raw sockets: no address, no VLAN processing on its port.
fn raw_vm(name: &'static str) -> VmSpec {
    VmSpec {
        name,
        mode: Mode::None,
        addr: None,
        kind: "afpacket",
    }
}

/// `ovs-ofctl -O OpenFlow13 <cmd> <args>`: (ok, stdout, stderr).
fn ofctl(cmd: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13", "--timeout=10", cmd])
        .args(args)
        .output()
        .expect("run ovs-ofctl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn target(sw: &Switchd) -> String {
    format!("unix:{}", sw.dir.join("run/br0.mgmt").display())
}

/// What `ovs-ofctl parse-flow` makes of `flow`, from `priority=` on (as dump-flows prints it).
fn canonical(flow: &str) -> String {
    let (ok, out, err) = ofctl("parse-flow", &[flow]);
    assert!(ok, "parse-flow {flow}: {err}");
    let line = out
        .lines()
        .find(|l| l.contains("ADD"))
        .unwrap_or_else(|| panic!("parse-flow {flow}: {out}"));
    let at = line.find("priority=").expect("priority");
    line[at..].trim().to_string()
}

/// One table's `dump-flows` lines: (table, n_packets, text from `priority=`) by cookie, or
/// `None` when ovs-ofctl cannot decode the reply (a field or action Open vSwitch has no name
/// for, such as `ipv6_exthdr` or `copy_ttl_in`: it prints `decode error: ...`).
fn dump_table(sw: &Switchd, table: u8) -> Option<BTreeMap<u64, (u8, u64, String)>> {
    let (ok, out, err) = ofctl("dump-flows", &[&target(sw), &format!("table={table}")]);
    assert!(ok, "dump-flows table={table}: {err}");
    if out.contains("decode error") {
        return None;
    }
    Some(
        tests::flows::parse(&out)
            .into_iter()
            .map(|f| {
                let at = f.text.find("priority=").unwrap_or(0);
                (f.cookie, (f.table, f.packets, f.text[at..].to_string()))
            })
            .collect(),
    )
}

/// The app's report once it says it is done (within `within`).
fn wait_report(path: &Path, within: Duration) -> Option<Value> {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if let Some(v) = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        {
            if v["done"] == Value::Bool(true) {
                return Some(v);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// The three VMs' raw sockets.
struct Wires {
    socks: Vec<RawSock>,
}

impl Wires {
    /// Send `frame` from VM `from` (0-based) and collect, on every VM, the frames with the same
    /// source MAC: until `want` have come plus 300 ms, or for 1.5 s when `want` is 0.
    fn exchange(&self, from: usize, frame: &[u8], want: usize) -> Vec<(usize, Vec<u8>)> {
        for s in &self.socks {
            s.drain();
        }
        self.socks[from].send(frame);
        let src = &frame[6..12];
        let mut got = Vec::new();
        let mut end = Instant::now()
            + if want == 0 {
                Duration::from_millis(1500)
            } else {
                Duration::from_secs(5)
            };
        let mut extended = false;
        while Instant::now() < end {
            for (i, s) in self.socks.iter().enumerate() {
                while let Some(f) = s.recv(Duration::from_millis(5)) {
                    if f.get(6..12) == Some(src) {
                        got.push((i, f));
                    }
                }
            }
            if want > 0 && got.len() >= want && !extended {
                extended = true;
                end = Instant::now() + Duration::from_millis(300);
            }
        }
        got
    }

    /// Exactly one frame out, on VM `to`; returns it.
    fn one(&self, what: &str, from: usize, frame: &[u8], to: usize) -> Vec<u8> {
        let got = self.exchange(from, frame, 1);
        let ports: Vec<usize> = got.iter().map(|g| g.0 + 1).collect();
        assert_eq!(
            ports,
            vec![to + 1],
            "{what}: sent {} from port {}, expected one frame out of port {}",
            wire::hex(frame),
            from + 1,
            to + 1
        );
        got.into_iter().next().map(|g| g.1).unwrap_or_default()
    }
}

/// A secure bridge between three raw VMs, programmed by the app, with the app's report.
/// Fields drop in order: sockets, then os-ken, then the lab.
struct Setup {
    w: Wires,
    macs: Vec<[u8; 6]>,
    report: Value,
    report_path: PathBuf,
    osken: OsKen,
    lab: Lab,
}

/// Build the lab, start the app and wait for its report; `None` (with the reason printed)
/// when the test must skip.
fn setup(test: &str) -> Option<Setup> {
    if !require_root(test) || !tests::have_ovs_ofctl(test) {
        return None;
    }
    if let Some(why) = tests::osken_missing() {
        eprintln!("skipping {test}: {why}");
        return None;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let lab = Lab::with_extra(
        &[raw_vm("o13a"), raw_vm("o13b"), raw_vm("o13c")],
        &[],
        &format!("controllers = [\"tcp:127.0.0.1:{port}\"]\nfail_mode = \"secure\""),
    );
    let report_path = lab.sw.dir.join("of13_report.json");
    let osken = OsKen::start(port, &report_path, &lab.sw.dir);
    let report = wait_report(&report_path, Duration::from_secs(40)).unwrap_or_else(|| {
        panic!(
            "the app never finished: {}\nos-ken: {}\nswitch: {}",
            std::fs::read_to_string(&report_path).unwrap_or_default(),
            osken.log(),
            lab.sw.log()
        )
    });
    let socks = lab
        .vms
        .iter()
        .map(|vm| RawSock::open(&vm.ns, &vm.veth.peer))
        .collect();
    let macs: Vec<[u8; 6]> = lab.vms.iter().map(|v| v.mac).collect();
    eprintln!(
        "VMs: {}",
        macs.iter()
            .map(|m| mac_str(*m))
            .collect::<Vec<_>>()
            .join(" ")
    );
    Some(Setup {
        w: Wires { socks },
        macs,
        report,
        report_path,
        osken,
        lab,
    })
}

#[test]
fn osken_app_programs_issue_17_matches_and_actions() {
    let Some(s) = setup("osken_app_programs_issue_17_matches_and_actions") else {
        return;
    };
    eprintln!("app report: {:#}", s.report);
    check_report(&s.report);
    check_dump(&s.lab.sw);
    let (w, m) = (&s.w, &s.macs);
    mpls_push(w, m);
    mpls_pop(w, m);
    sctp_rewrite(w, m);
    tunnel_id(w, m);
    ipv6_exthdr(w, m);
    nd_rewrite(w, m);
    ttl_copies(w, m);
    check_counts(&s.lab.sw, &s.report_path, &MAIN_COUNTS);
    eprintln!("os-ken log:\n{}", s.osken.log());
}

/// An MPLS TTL that expires at `dec_mpls_ttl` in table 0 drops the packet there (OpenFlow
/// 1.3.5, 5.12): nothing comes out, and the table-1 flow that `goto_table` would have reached
/// does not count it: the pipeline walk ends at the expiring decrement.
#[test]
fn expired_mpls_ttl_stops_the_pipeline() {
    let Some(s) = setup("expired_mpls_ttl_stops_the_pipeline") else {
        return;
    };
    let m = &s.macs;
    let ip_frame = wire::udp4_frame(m[0], m[1], 4000, 50, b"issue-17-pop-mpls");
    let expiring = wire::mpls_over(&ip_frame, 2000, 3, true, 1);
    assert!(
        s.w.exchange(1, &expiring, 0).is_empty(),
        "MPLS TTL 1 expires at dec_mpls_ttl"
    );
    // mpls_pop counted it; popped_udp (table 1) must not have.
    let mut want: Vec<(u64, u64)> = (1..=15).map(|n| (n, 0)).collect();
    want[1].1 = 1;
    check_counts(&s.lab.sw, &s.report_path, &want);
}

/// What the app sent, the errors it got and what it read back.
fn check_report(r: &Value) {
    let installed = r["installed"].as_array().expect("installed");
    let refused = r["refused"].as_array().expect("refused");
    let errors = r["errors"].as_array().expect("errors");
    assert_eq!(installed.len(), FLOWS.len(), "flows the app sent");
    assert_eq!(r["barrier"], Value::Bool(true), "barrier answered");
    let err_for = |xid: &Value| -> Vec<(u64, u64)> {
        errors
            .iter()
            .filter(|e| &e["xid"] == xid)
            .map(|e| {
                (
                    e["type"].as_u64().unwrap_or(99),
                    e["code"].as_u64().unwrap_or(99),
                )
            })
            .collect()
    };
    for f in installed {
        assert!(
            err_for(&f["xid"]).is_empty(),
            "flow {} refused: {:?}",
            f["name"],
            err_for(&f["xid"])
        );
    }
    assert_eq!(refused.len(), 2);
    for f in refused {
        assert_eq!(
            err_for(&f["xid"]),
            vec![(BAD_ACTION, BAD_SET_TYPE)],
            "{}: set_field on a read-only field must get BAD_ACTION/BAD_SET_TYPE",
            f["name"]
        );
    }
    assert_eq!(errors.len(), refused.len(), "no other errors: {errors:?}");
    // Every flow read back (FLOW_STATS, decoded by os-ken) as it was sent; nothing else.
    let back = r["readback"].as_array().expect("readback");
    assert_eq!(back.len(), FLOWS.len());
    for (b, sent) in back.iter().zip(installed) {
        assert_eq!(
            b["same"],
            Value::Bool(true),
            "flow {} read back differently:\nsent {sent:#}\n got {b:#}",
            b["name"]
        );
    }
    assert_eq!(
        r["flow_count"].as_u64(),
        Some(FLOWS.len() as u64),
        "no extra flows"
    );
}

/// `ovs-ofctl dump-flows` per table: every flow it can spell, exactly as parse-flow prints it.
/// Table 3 holds the ipv6_exthdr match and table 4 the TTL copies, which ovs-ofctl cannot
/// decode; the app read those back.
fn check_dump(sw: &Switchd) {
    for table in 0..=4u8 {
        let Some(got) = dump_table(sw, table) else {
            assert!(
                FLOWS.iter().any(|f| f.2 == table && f.3.is_none()),
                "ovs-ofctl could not decode table {table}"
            );
            eprintln!("(ovs-ofctl cannot decode table {table}: read back by the app only)");
            continue;
        };
        let want: Vec<_> = FLOWS.iter().filter(|f| f.2 == table).collect();
        assert_eq!(got.len(), want.len(), "table {table}: {got:#?}");
        for (n, name, _, text) in want {
            let cookie = COOKIE_BASE + n;
            let (t, _, line) = got.get(&cookie).unwrap_or_else(|| {
                panic!("{name} (cookie {cookie:#x}) not in table {table}: {got:#?}")
            });
            assert_eq!(*t, table);
            if let Some(text) = text {
                assert_eq!(line, &canonical(text), "{name} read back by ovs-ofctl");
            }
        }
    }
}

/// mpls_push: IPv4 UDP from port 1 leaves port 2 with one label stack entry (label 1000, TC 5,
/// bottom of stack, TTL 33) in front of the untouched IPv4 packet.
fn mpls_push(w: &Wires, m: &[[u8; 6]]) {
    let input = wire::udp4_frame(m[1], m[0], 4444, 64, b"issue-17-push-mpls");
    let out = w.one("push_mpls", 0, &input, 1);
    let e = wire::parse_eth(&out).expect("ethernet");
    assert_eq!((e.dst, e.src), (m[1], m[0]), "MACs kept");
    assert_eq!(e.ethertype, wire::ETH_MPLS, "MPLS unicast ethertype");
    let lse = wire::parse_lse(e.payload).expect("label stack entry");
    assert_eq!(
        lse,
        wire::Lse {
            label: 1000,
            tc: 5,
            bos: true,
            ttl: 33
        }
    );
    let ip = &e.payload[4..];
    assert_eq!(ip, &input[14..], "IPv4 packet under the label");
    assert!(wire::ipv4_ok(ip));
    assert_eq!(out, wire::mpls_over(&input, 1000, 5, true, 33));
}

/// mpls_pop + popped_udp: label 2000 from port 2, TTL decremented then popped; table 1 matches
/// the IPv4 UDP packet underneath and sends it out of port 1 exactly as it was labelled.
fn mpls_pop(w: &Wires, m: &[[u8; 6]]) {
    let ip_frame = wire::udp4_frame(m[0], m[1], 4000, 50, b"issue-17-pop-mpls");
    let input = wire::mpls_over(&ip_frame, 2000, 3, true, 64);
    let out = w.one("pop_mpls", 1, &input, 0);
    let e = wire::parse_eth(&out).expect("ethernet");
    assert_eq!((e.dst, e.src), (m[0], m[1]));
    assert_eq!(e.ethertype, wire::ETH_IPV4, "next ethertype after the pop");
    assert!(wire::ipv4_ok(e.payload), "IPv4 header and UDP checksums");
    assert_eq!(e.payload[8], 50, "IP TTL untouched (no copy_ttl_in)");
    assert_eq!(out, ip_frame, "{}", wire::diff(&ip_frame, &out));

    // Another label misses table 0; another UDP port misses table 1: nothing out.
    let other = wire::mpls_over(&ip_frame, 2001, 3, true, 64);
    assert!(w.exchange(1, &other, 0).is_empty(), "label 2001 dropped");
    let miss = wire::mpls_over(
        &wire::udp4_frame(m[0], m[1], 4001, 50, b"issue-17-pop-mpls"),
        2000,
        3,
        true,
        64,
    );
    assert!(
        w.exchange(1, &miss, 0).is_empty(),
        "udp 4001 misses table 1"
    );
}

/// sctp: destination port 5000 -> 6000 out of port 3, CRC32c recomputed, nothing else changed.
fn sctp_rewrite(w: &Wires, m: &[[u8; 6]]) {
    let input = wire::sctp4_frame(m[2], m[0], 5000);
    let out = w.one("sctp set_field", 0, &input, 2);
    let e = wire::parse_eth(&out).expect("ethernet");
    assert_eq!(e.ethertype, wire::ETH_IPV4);
    assert!(wire::ipv4_ok(e.payload));
    let (sport, dport, crc_ok) = wire::sctp4(e.payload).expect("sctp");
    assert_eq!((sport, dport), (2000, 6000));
    assert!(crc_ok, "CRC32c after the rewrite: {}", wire::hex(&out));
    assert_eq!(out.len(), input.len());
    let changed: Vec<usize> = (0..out.len()).filter(|&i| out[i] != input[i]).collect();
    // Bytes 36-37 (destination port) and 42-45 (CRC32c) only.
    assert!(
        changed.iter().all(|i| [36, 37, 42, 43, 44, 45].contains(i)),
        "{}",
        wire::diff(&input, &out)
    );
}

/// tunnel_set + tunnel_match: UDP from port 3 gets tunnel_id 0x77, table 2 matches it and sends
/// the frame, unchanged, out of port 1 (not port 2, where the table-2 fallback sends).
fn tunnel_id(w: &Wires, m: &[[u8; 6]]) {
    let input = wire::udp4_frame(m[0], m[2], 4500, 64, b"issue-17-tunnel-id");
    let out = w.one("tunnel_id", 2, &input, 0);
    assert_eq!(out, input, "{}", wire::diff(&input, &out));
}

/// to_exthdr + exthdr_*: IPv6 from port 3 behind a fragment header goes to port 2, without one
/// to port 1, both unchanged.
fn ipv6_exthdr(w: &Wires, m: &[[u8; 6]]) {
    let frag = wire::udp6_frame(m[1], m[2], true);
    let out = w.one("ipv6_exthdr FRAG", 2, &frag, 1);
    assert_eq!(out, frag, "{}", wire::diff(&frag, &out));
    let plain = wire::udp6_frame(m[0], m[2], false);
    let out = w.one("ipv6_exthdr none", 2, &plain, 0);
    assert_eq!(out, plain, "{}", wire::diff(&plain, &out));
}

/// nd: a neighbor solicitation from port 1 leaves port 3 with target 2001:db8::99 and source
/// link-layer address 02:00:00:00:00:99, a valid ICMPv6 checksum and nothing else changed.
fn nd_rewrite(w: &Wires, m: &[[u8; 6]]) {
    let target: Ipv6Addr = "2001:db8::2".parse().expect("v6");
    let input = wire::neighbor_solicitation(m[0], target);
    let out = w.one("nd set_field", 0, &input, 2);
    let e = wire::parse_eth(&out).expect("ethernet");
    assert_eq!(e.ethertype, wire::ETH_IPV6);
    let (t, sll, ok) = wire::nd_solicit(e.payload).expect("neighbor solicitation");
    assert_eq!(
        t,
        "2001:db8::99".parse::<Ipv6Addr>().expect("v6"),
        "ND target"
    );
    assert_eq!(
        sll,
        Some([2, 0, 0, 0, 0, 0x99]),
        "ND source link-layer address"
    );
    assert!(ok, "ICMPv6 checksum: {}", wire::hex(&out));
    assert_eq!(out.len(), input.len());
    assert_eq!(
        &out[..54],
        &input[..54],
        "Ethernet and IPv6 headers unchanged"
    );
    // Target (62..78) and option address (80..86) changed, and the checksum (56..58).
    let changed: Vec<usize> = (0..out.len()).filter(|&i| out[i] != input[i]).collect();
    assert!(
        changed
            .iter()
            .all(|&i| (56..58).contains(&i) || (62..78).contains(&i) || (80..86).contains(&i)),
        "{}",
        wire::diff(&input, &out)
    );
}

/// to_copy_* + copy_in/copy_out (table 4): copy_ttl_in puts the MPLS TTL into the IPv4 header
/// (checksum updated) before the pop; copy_ttl_out puts the IP TTL into a pushed 0x8848 entry
/// over set_mpls_ttl's 5; mpls_tc selects (TC 1 misses table 4).
fn ttl_copies(w: &Wires, m: &[[u8; 6]]) {
    let ip_frame = wire::udp4_frame(m[2], m[1], 4600, 50, b"issue-17-copy-ttl");
    let out = w.one(
        "copy_ttl_in",
        1,
        &wire::mpls_over(&ip_frame, 3000, 2, true, 9),
        2,
    );
    let e = wire::parse_eth(&out).expect("ethernet");
    assert_eq!(e.ethertype, wire::ETH_IPV4, "popped to IPv4");
    assert_eq!(e.payload[8], 9, "IP TTL copied in from the MPLS entry");
    assert!(wire::ipv4_ok(e.payload), "IPv4 checksum after the copy");
    assert_eq!(out.len(), ip_frame.len());
    let changed: Vec<usize> = (0..out.len()).filter(|&i| out[i] != ip_frame[i]).collect();
    // TTL (22) and header checksum (24, 25) only.
    assert!(
        changed.iter().all(|i| [22, 24, 25].contains(i)),
        "{}",
        wire::diff(&ip_frame, &out)
    );
    let tc1 = wire::mpls_over(&ip_frame, 3000, 1, true, 9);
    assert!(
        w.exchange(1, &tc1, 0).is_empty(),
        "mpls_tc 1 misses table 4"
    );

    let ip_frame = wire::udp4_frame(m[2], m[1], 4700, 42, b"issue-17-copy-ttl-out");
    let out = w.one("copy_ttl_out", 1, &ip_frame, 2);
    let e = wire::parse_eth(&out).expect("ethernet");
    assert_eq!(e.ethertype, 0x8848, "MPLS multicast ethertype");
    let lse = wire::parse_lse(e.payload).expect("label stack entry");
    assert_eq!(
        lse,
        wire::Lse {
            label: 3001,
            tc: 0,
            bos: true,
            ttl: 42
        },
        "TTL copied out from the IP header"
    );
    assert_eq!(&e.payload[4..], &ip_frame[14..], "IPv4 packet untouched");
}

/// Packets each flow counted after the main test's frames, by cookie offset: push 1; pop 2 (one
/// misses table 1), popped 1; sctp 1; tunnel set 1, match 1, fallback 0; to_exthdr 2, frag 1,
/// other 1; nd 1; to_copy_mpls 2 (one misses table 4), to_copy_ip 1, copy_in 1, copy_out 1.
const MAIN_COUNTS: [(u64, u64); 15] = [
    (1, 1),
    (2, 2),
    (3, 1),
    (4, 1),
    (5, 1),
    (6, 1),
    (7, 0),
    (8, 2),
    (9, 1),
    (10, 1),
    (11, 1),
    (12, 2),
    (13, 1),
    (14, 1),
    (15, 1),
];

/// Each flow counted exactly the frames sent through it (`want`: cookie offset -> packets):
/// read by the app (every table) and by ovs-ofctl (the tables it can decode).
fn check_counts(sw: &Switchd, report: &Path, want: &[(u64, u64)]) {
    let want: BTreeMap<u64, u64> = want.iter().map(|&(n, p)| (COOKIE_BASE + n, p)).collect();
    let mut by_app = BTreeMap::new();
    let mut by_ofctl = BTreeMap::new();
    let mut gen = 0u64;
    let ok = tests::wait_until(Duration::from_secs(10), || {
        gen += 1;
        by_app = app_counts(report, gen);
        by_ofctl = (0..=4u8)
            .filter_map(|t| dump_table(sw, t))
            .flatten()
            .map(|(c, (_, p, _))| (c, p))
            .collect();
        by_app == want && by_ofctl.iter().all(|(c, p)| want.get(c) == Some(p))
    });
    assert!(
        ok,
        "n_packets per cookie: want {want:x?}\n app got {by_app:x?}\n ovs-ofctl got {by_ofctl:x?}"
    );
}

/// Ask the app for packet counts (request number `gen`) and wait for its answer.
fn app_counts(report: &Path, gen: u64) -> BTreeMap<u64, u64> {
    let mut trigger = report.as_os_str().to_owned();
    trigger.push(".count");
    std::fs::write(&trigger, gen.to_string()).expect("write the count request");
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if let Some(v) = std::fs::read(report)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(|v| v["counts_gen"].as_u64() == Some(gen))
        {
            return v["counts"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, n)| {
                            let c = u64::from_str_radix(k.trim_start_matches("0x"), 16).ok()?;
                            Some((c, n.as_u64()?))
                        })
                        .collect()
                })
                .unwrap_or_default();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    BTreeMap::new()
}
