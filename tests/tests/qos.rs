//! Egress shaping and TCP checksum fill, configured through the Open_vSwitch database with
//! Debian's `ovs-vsctl` (a `QoS` row of type `dvs-shaper` with `Queue` rows, as an operator
//! would make it) on a real dvs-switchd, with real stacks in namespaces:
//! - iperf3 UDP (offered well above the rate) and TCP through a port shaped to 5 MB/s: the rate
//!   from the switch's tx byte counter over 10 s, and iperf3's receiver figure corrected for
//!   headers, are each within 5% of `cir`; the UDP excess is counted as `qos_queue_full`;
//! - `cir` changed live: the new rate holds and the port keeps its counters;
//! - two senders in queues of priorities 1 and 3 (`set_queue` flows): the split is 2:4;
//! - a TCP segment with a wrong checksum is fixed on an interface with
//!   `other_config:tcp-checksum-fill=true` and arrives unchanged elsewhere.
//!
//! The tests run one at a time (a lock): they measure rates on a small machine.

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tests::lab::pmd_core;
use tests::ovsdb::{self, OvsDb};
use tests::rawsock::RawSock;
use tests::{require_root, scapy, unique_tag, vm_mac, Netns, Switchd, Veth};

static SERIAL: Mutex<()> = Mutex::new(());

/// 5 MB/s = 40 Mbit/s.
const CIR: u64 = 5_000_000;

fn skip(test: &str) -> bool {
    !require_root(test) || !ovsdb::available(test)
}

struct Rig {
    db: OvsDb,
    sw: Switchd,
    br: String,
}

impl Rig {
    fn new() -> Rig {
        let db = OvsDb::start();
        let switch = format!(
            "[switch]\npmd_cores = [{}]\npool_frames = 4096\npmd_sleep_max_us = 200\n",
            pmd_core()
        );
        let sw = Switchd::start_db(&switch, &db.addr(), &db.dir);
        let br = format!("dvq{}", unique_tag());
        db.must(&[
            "add-br",
            &br,
            "--",
            "set",
            "bridge",
            &br,
            "datapath_type=netdev",
        ]);
        Rig { db, sw, br }
    }

    fn host(&self, addr: &str, mac: u8) -> (Netns, Veth) {
        let ns = Netns::new("dvqos");
        let v = Veth::new(&ns, vm_mac(mac), Some(addr));
        self.db.must(&["add-port", &self.br, &v.host]);
        (ns, v)
    }

    /// Shape `port` at `cir` bytes/s with queues 0, 1 and 2 of priorities 0, 1 and 3; returns
    /// the QoS row's UUID.
    fn shape(&self, port: &str, cir: u64) -> String {
        let out = self.db.must(&[
            "set",
            "port",
            port,
            "qos=@q",
            "--",
            "--id=@q",
            "create",
            "qos",
            "type=dvs-shaper",
            &format!("other_config:cir={cir}"),
            "other_config:cbs=1000000",
            "other_config:queue-packets=1000",
            "queues:0=@q0",
            "queues:1=@q1",
            "queues:2=@q2",
            "--",
            "--id=@q0",
            "create",
            "queue",
            "other_config:priority=0",
            "--",
            "--id=@q1",
            "create",
            "queue",
            "other_config:priority=1",
            "--",
            "--id=@q2",
            "create",
            "queue",
            "other_config:priority=3",
        ]);
        out.lines().next().unwrap_or_default().trim().to_string()
    }

    fn stat(&self, port: &str, counter: &str) -> u64 {
        self.sw.port_stats(port)[counter].as_u64().unwrap_or(0)
    }

    fn ofport(&self, port: &str) -> String {
        self.db.get("Interface", port, "ofport")
    }

    fn add_flow(&self, flow: &str) {
        let mgmt = self.db.dir.join(format!("{}.mgmt", self.br));
        let out = Command::new("ovs-ofctl")
            .args(["-O", "OpenFlow13", "add-flow"])
            .arg(format!("unix:{}", mgmt.display()))
            .arg(flow)
            .output()
            .expect("run ovs-ofctl");
        assert!(
            out.status.success(),
            "add-flow {flow}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A process killed on drop.
struct Bg(Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn iperf_server(ns: &Netns, port: u16) -> Bg {
    let p = port.to_string();
    let c = Command::new("ip")
        .args(["netns", "exec", &ns.name, "iperf3", "-s", "-1", "-p", &p])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("iperf3 server");
    std::thread::sleep(Duration::from_millis(500));
    Bg(c)
}

/// iperf3 client in `ns` (JSON); `extra` e.g. `["-u", "-b", "100M"]`.
fn iperf_client(ns: &Netns, dst: &str, port: u16, secs: u32, extra: &[&str]) -> Value {
    let (p, t) = (port.to_string(), secs.to_string());
    let mut args = vec!["iperf3", "-c", dst, "-p", &p, "-t", &t, "-J"];
    args.extend_from_slice(extra);
    let (ok, out) = ns.exec(&args);
    let json_start = out.find('{').unwrap_or(0);
    let v: Value = serde_json::from_str(&out[json_start..]).unwrap_or(Value::Null);
    assert!(ok && !v.is_null(), "iperf3 {}: {out}", args.join(" "));
    v
}

/// Receiver bytes per second of an iperf3 result.
fn received_rate(v: &Value) -> f64 {
    let s = &v["end"]["sum_received"];
    s["bytes"].as_f64().unwrap_or(0.0) / s["seconds"].as_f64().unwrap_or(1.0)
}

/// Bytes per second the switch sent on `port` over `secs`, starting now.
fn tx_rate(r: &Rig, port: &str, secs: u64) -> f64 {
    let (b0, t0) = (r.stat(port, "tx_bytes"), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let (b1, t1) = (r.stat(port, "tx_bytes"), Instant::now());
    (b1 - b0) as f64 / (t1 - t0).as_secs_f64()
}

fn within(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() / want <= tol
}

/// UDP payload bytes per datagram in these tests, and the frame that carries one.
const UDP_LEN: f64 = 1400.0;
const UDP_FRAME: f64 = UDP_LEN + 8.0 + 20.0 + 14.0;
/// A full TCP segment over MTU 1500 with timestamps: 1448 payload bytes in a 1514-byte frame.
const TCP_PAYLOAD: f64 = 1448.0;
const TCP_FRAME: f64 = 1514.0;

/// Run an iperf3 client for 12 s while the switch's counter is read over seconds 1..11.
fn run_measured(r: &Rig, ns: &Netns, port: &str, dst: &str, extra: &[&str]) -> (f64, Value) {
    std::thread::scope(|s| {
        let client = s.spawn(|| iperf_client(ns, dst, 5301, 12, extra));
        std::thread::sleep(Duration::from_secs(1));
        let rate = tx_rate(r, port, 10);
        (rate, client.join().expect("iperf3 thread"))
    })
}

#[test]
fn shaped_port_sends_udp_and_tcp_at_cir_and_follows_a_live_change() {
    if skip("shaped_port_sends_udp_and_tcp_at_cir_and_follows_a_live_change") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Rig::new();
    let (ns1, _v1) = r.host("10.63.0.1/24", 1);
    let (ns2, v2) = r.host("10.63.0.2/24", 2);
    assert!(ns1.ping_ok("10.63.0.2"), "{}", r.sw.log());
    let qos = r.shape(&v2.host, CIR);
    assert_eq!(r.db.get("Interface", &v2.host, "error"), "[]");
    let ofport = r.ofport(&v2.host);
    let full0 = r.sw.drops("qos_queue_full");
    let dropped0 = r.stat(&v2.host, "tx_dropped");

    // UDP offered at 100 Mbit/s (12.5 MB/s) into a 5 MB/s port.
    let _srv = iperf_server(&ns2, 5301);
    let (rate, res) = run_measured(
        &r,
        &ns1,
        &v2.host,
        "10.63.0.2",
        &["-u", "-b", "100M", "-l", "1400"],
    );
    let wire = received_rate(&res) * UDP_FRAME / UDP_LEN;
    eprintln!(
        "udp: switch {rate:.0} B/s, iperf3 receiver {wire:.0} B/s (frames), sender {:.0} B/s, \
         queue-full drops {}, port tx_dropped {}",
        res["end"]["sum_sent"]["bits_per_second"]
            .as_f64()
            .unwrap_or(0.0)
            / 8.0,
        r.sw.drops("qos_queue_full") - full0,
        r.stat(&v2.host, "tx_dropped") - dropped0
    );
    assert!(
        within(rate, CIR as f64, 0.05),
        "switch tx rate {rate:.0} B/s, cir {CIR}"
    );
    assert!(
        within(wire, CIR as f64, 0.05),
        "iperf3 receiver {wire:.0} B/s, cir {CIR}"
    );
    let full = r.sw.drops("qos_queue_full") - full0;
    assert!(
        full > 1000,
        "the excess is tail-dropped and counted: {full}"
    );
    assert!(r.stat(&v2.host, "tx_dropped") - dropped0 >= full);

    // TCP adapts to the shaper.
    let _srv = iperf_server(&ns2, 5301);
    let (rate, res) = run_measured(&r, &ns1, &v2.host, "10.63.0.2", &[]);
    let wire = received_rate(&res) * TCP_FRAME / TCP_PAYLOAD;
    eprintln!("tcp: switch {rate:.0} B/s, iperf3 receiver {wire:.0} B/s (frames)");
    assert!(
        within(rate, CIR as f64, 0.05),
        "switch tx rate {rate:.0} B/s, cir {CIR}"
    );
    assert!(
        within(wire, CIR as f64, 0.05),
        "iperf3 receiver {wire:.0} B/s, cir {CIR}"
    );

    // Half the rate, live: the port is not re-created (same number, counters keep counting).
    let before = r.stat(&v2.host, "tx_bytes");
    let _srv = iperf_server(&ns2, 5301);
    std::thread::scope(|s| {
        let client = s.spawn(|| {
            iperf_client(
                &ns1,
                "10.63.0.2",
                5301,
                14,
                &["-u", "-b", "100M", "-l", "1400"],
            )
        });
        std::thread::sleep(Duration::from_secs(1));
        r.db.must(&["set", "qos", &qos, &format!("other_config:cir={}", CIR / 2)]);
        std::thread::sleep(Duration::from_secs(1));
        let rate = tx_rate(&r, &v2.host, 10);
        eprintln!("after the change: switch {rate:.0} B/s");
        assert!(
            within(rate, (CIR / 2) as f64, 0.05),
            "switch tx rate {rate:.0} B/s, cir {}",
            CIR / 2
        );
        client.join().expect("iperf3 thread");
    });
    assert!(r.stat(&v2.host, "tx_bytes") > before + 10 * CIR / 2);
    assert_eq!(r.ofport(&v2.host), ofport);
    assert!(!r.sw.log().contains("re-created"), "{}", r.sw.log());
}

#[test]
fn set_queue_priorities_split_the_rate_by_weight() {
    if skip("set_queue_priorities_split_the_rate_by_weight") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Rig::new();
    let (ns1, v1) = r.host("10.64.0.1/24", 1);
    let (ns2, v2) = r.host("10.64.0.2/24", 2);
    let (ns3, v3) = r.host("10.64.0.3/24", 3);
    assert!(
        ns1.ping_ok("10.64.0.2") && ns3.ping_ok("10.64.0.2"),
        "{}",
        r.sw.log()
    );
    r.shape(&v2.host, CIR);
    // Queue 1 (priority 1, weight 2) for vm1's traffic, queue 2 (priority 3, weight 4) for
    // vm3's; NORMAL's outputs carry the queue.
    r.add_flow(&format!(
        "priority=10,in_port={},actions=set_queue:1,NORMAL",
        r.ofport(&v1.host)
    ));
    r.add_flow(&format!(
        "priority=10,in_port={},actions=set_queue:2,NORMAL",
        r.ofport(&v3.host)
    ));
    let (_s1, _s3) = (iperf_server(&ns2, 5311), iperf_server(&ns2, 5313));
    let udp = ["-u", "-b", "60M", "-l", "1400"];
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| iperf_client(&ns1, "10.64.0.2", 5311, 8, &udp));
        let b = s.spawn(|| iperf_client(&ns3, "10.64.0.2", 5313, 8, &udp));
        (a.join().expect("vm1"), b.join().expect("vm3"))
    });
    let (low, high) = (received_rate(&a), received_rate(&b));
    let ratio = high / low;
    eprintln!("priority 1: {low:.0} B/s, priority 3: {high:.0} B/s, ratio {ratio:.2}");
    assert!(
        within(ratio, 2.0, 0.10),
        "split {low:.0} : {high:.0} is not 2:4"
    );
    let total = (low + high) * UDP_FRAME / UDP_LEN;
    assert!(within(total, CIR as f64, 0.05), "together {total:.0} B/s");
}

#[test]
fn tcp_checksum_fill_fixes_segments_on_enabled_interfaces_only() {
    if skip("tcp_checksum_fill_fixes_segments_on_enabled_interfaces_only")
        || !scapy::available("tcp_checksum_fill_fixes_segments_on_enabled_interfaces_only")
    {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Rig::new();
    let (ns1, _v1) = r.host("10.65.0.1/24", 1);
    let (ns2, v2) = r.host("10.65.0.2/24", 2);
    let (ns3, _v3) = r.host("10.65.0.3/24", 3);
    r.db.must(&[
        "set",
        "interface",
        &v2.host,
        "other_config:tcp-checksum-fill=true",
    ]);
    assert_eq!(r.db.get("Interface", &v2.host, "error"), "[]");
    // To an unknown MAC: NORMAL floods it to both.
    let frame = scapy::build(
        "Ether(src='02:00:00:00:00:01',dst='02:00:00:00:00:99')/\
         IP(src='10.65.0.1',dst='10.65.0.99')/\
         TCP(sport=40000,dport=80,flags='PA',seq=1,chksum=0xdead)/Raw(b'dvs-csum-marker')",
    );
    let (tx, c2, c3) = (
        RawSock::open(&ns1, "eth0"),
        RawSock::open(&ns2, "eth0"),
        RawSock::open(&ns3, "eth0"),
    );
    c2.drain();
    c3.drain();
    tx.send(&frame);
    let marked = |f: &[u8]| f.windows(15).any(|w| w == b"dvs-csum-marker");
    let window = Duration::from_secs(1);
    let (got2, got3) = (c2.collect(window, marked), c3.collect(window, marked));
    assert_eq!((got2.len(), got3.len()), (1, 1), "{}", r.sw.log());
    let csum = |f: &[u8]| u16::from_be_bytes([f[14 + 20 + 16], f[14 + 20 + 17]]);
    assert_eq!(csum(&got3[0]), 0xdead, "unchanged without checksum fill");
    assert_eq!(got3[0], frame);
    let fixed = scapy::build(
        "Ether(src='02:00:00:00:00:01',dst='02:00:00:00:00:99')/\
         IP(src='10.65.0.1',dst='10.65.0.99')/\
         TCP(sport=40000,dport=80,flags='PA',seq=1)/Raw(b'dvs-csum-marker')",
    );
    assert_ne!(csum(&fixed), 0xdead);
    assert_eq!(csum(&got2[0]), csum(&fixed), "scapy's own checksum");
    assert_eq!(got2[0], fixed);
}
