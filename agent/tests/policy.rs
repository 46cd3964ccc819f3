//! Port-group security and broadcast suppression end to end: a real ovsdb-server, a real
//! dvs-switchd (`--db`), the agent and a fake dvsm, with namespace VMs on veths. Attack frames
//! are crafted with scapy (`/usr/bin/python3`) inside the attacker's namespace, each carrying a
//! marker after its last header (outside every length field, so it changes no parsed field),
//! and looked for with a raw socket at the victim.
//!
//! One sequential scenario (the machine has two cores; every step reuses the same switch):
//! 1. group `sec` (IP-MAC binding and DHCP isolation: VMs a and b) and group `open` (nothing:
//!    VMs c and d). From a to b: spoofed IPv4 and IPv6 sources, an ARP reply claiming another
//!    address, a gratuitous ARP for a foreign address, an NA for a foreign target, a frame from
//!    a foreign MAC, a rogue DHCP OFFER and a rogue RA: none reaches b, each is counted under
//!    its reason in a's status `drops` and in its drop flow's counter; a DHCP DISCOVER from
//!    0.0.0.0 does reach b, and b still answers a's pings. From c to d the same frames pass
//!    (but the foreign MAC, which port security drops everywhere).
//! 2. Binding is enabled on `open` while a pings b: c's spoofed IPv4 is dropped from then on,
//!    c's and d's Port rows and OpenFlow numbers are the same, `sec`'s flows keep their cookies,
//!    and not one of a's pings is lost.
//! 3. `sec` gets broadcast suppression at 100 packets/s; a floods broadcast at 10x that: the
//!    rate reaching b stays within 10% of the threshold, the meter's drops show up as
//!    `broadcast_suppressed`, and a's unicast pings are all answered meanwhile.
//! 4. The agent restarts: it adopts the meter and the flows without rewriting any.

mod common;

use common::{obj, Agent, FakeDvsm};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tests::flows::{dump as dump_flows, FlowLine};
use tests::lab::pmd_core;
use tests::ovsdb::{self, OvsDb};
use tests::rawsock::RawSock;
use tests::{mac_str, require_root, unique_tag, vm_mac, wait_until, Netns, Switchd, Veth};

const SCAPY: &str = "/usr/bin/python3";

/// The attacker's script: sends the named frames `count` times each, marked `DVSATK:<name>;`.
const SCRIPT: &str = r#"
import sys, json, logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, IP, IPv6, UDP, ARP, BOOTP, DHCP, Raw, sendp, mac2str
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_RA, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr
from scapy.utils6 import in6_mactoifaceid
a = json.loads(sys.argv[1])
me, victim, ip, vip = a["mac"], a["victim_mac"], a["ip"], a["victim_ip"]
ll = "fe80::" + in6_mactoifaceid(me)
B = "ff:ff:ff:ff:ff:ff"
ALL = "33:33:00:00:00:01"
udp = UDP(sport=1000, dport=2000)
frames = {
  "ip_spoof": Ether(src=me, dst=victim)/IP(src="10.78.9.9", dst=vip)/udp,
  "ipv6_spoof": Ether(src=me, dst=victim)/IPv6(src="fd00::99", dst=a["victim_ip6"])/udp,
  "arp_reply": Ether(src=me, dst=victim)/ARP(op=2, hwsrc=me, psrc=a["other_ip"], hwdst=victim, pdst=vip),
  "garp": Ether(src=me, dst=B)/ARP(op=1, hwsrc=me, psrc="10.78.9.8", hwdst="00:00:00:00:00:00", pdst="10.78.9.8"),
  "na": Ether(src=me, dst=ALL)/IPv6(src=ll, dst="ff02::1")/ICMPv6ND_NA(tgt=a["victim_ip6"], R=0, S=0, O=1)/ICMPv6NDOptDstLLAddr(lladdr=me),
  "foreign_mac": Ether(src="02:0f:00:00:00:99", dst=victim)/IP(src=ip, dst=vip)/udp,
  "dhcp_offer": Ether(src=me, dst=B)/IP(src=ip, dst="255.255.255.255")/UDP(sport=67, dport=68)/BOOTP(op=2, yiaddr="10.78.0.200", chaddr=mac2str(victim))/DHCP(options=[("message-type", "offer"), "end"]),
  "ra": Ether(src=me, dst=ALL)/IPv6(src=ll, dst="ff02::1")/ICMPv6ND_RA()/ICMPv6NDOptSrcLLAddr(lladdr=me),
  "dhcp_discover": Ether(src=me, dst=B)/IP(src="0.0.0.0", dst="255.255.255.255")/UDP(sport=68, dport=67)/BOOTP(chaddr=mac2str(me))/DHCP(options=[("message-type", "discover"), "end"]),
}
for name in a["send"]:
    f = bytes(frames[name]) + b"DVSATK:" + name.encode() + b";"
    sendp(Raw(f), iface="eth0", count=a["count"], verbose=False)
"#;

/// The attacks, with the reason each is dropped under on a bound, isolated port.
const ATTACKS: [(&str, &str); 8] = [
    ("ip_spoof", "ip_spoof"),
    ("ipv6_spoof", "ipv6_spoof"),
    ("arp_reply", "arp_spoof"),
    ("garp", "arp_spoof"),
    ("na", "nd_spoof"),
    ("foreign_mac", "mac_spoof"),
    ("dhcp_offer", "dhcp_server"),
    ("ra", "router_advertisement"),
];
const COUNT: u64 = 5;

fn switch_section() -> String {
    format!(
        "[switch]\npmd_cores = [{}]\npool_frames = 4096\npmd_sleep_max_us = 200\n",
        pmd_core()
    )
}

struct Vm {
    ns: Netns,
    veth: Veth,
    id: &'static str,
    mac: [u8; 6],
    ip: String,
    ip6: String,
}

impl Vm {
    fn new(id: &'static str, n: u8, ip: &str) -> Vm {
        let ns = Netns::new(&format!("pol{id}"));
        let veth = Veth::new(&ns, vm_mac(n), Some(&format!("{ip}/24")));
        Vm {
            ns,
            veth,
            id,
            mac: vm_mac(n),
            ip: ip.to_string(),
            ip6: format!("fd00::{n}"),
        }
    }

    fn port(&self, pg: &str) -> proto::Object {
        obj(
            "port",
            json!({"id": self.id, "host": "h1", "port_group": pg, "mac": mac_str(self.mac),
                   "ips": [self.ip, self.ip6],
                   "backend": {"kind": "linux", "interface": self.veth.host}}),
        )
    }

    /// A permanent neighbour entry for `other` (no ARP broadcast needed to reach it).
    fn knows(&self, other: &Vm) {
        self.ns.ip(&[
            "neigh",
            "replace",
            &other.ip,
            "lladdr",
            &mac_str(other.mac),
            "dev",
            "eth0",
            "nud",
            "permanent",
        ]);
    }

    /// Send `names` from this VM towards `victim` with scapy.
    fn attack(&self, victim: &Vm, names: &[&str], count: u64, script: &std::path::Path) {
        let args = json!({"mac": mac_str(self.mac), "ip": self.ip,
            "victim_mac": mac_str(victim.mac), "victim_ip": victim.ip,
            "victim_ip6": victim.ip6, "other_ip": victim.ip, "send": names, "count": count});
        let (ok, out) = self
            .ns
            .exec(&[SCAPY, &script.display().to_string(), &args.to_string()]);
        assert!(ok, "scapy: {out}");
    }
}

fn marker(name: &str) -> Vec<u8> {
    format!("DVSATK:{name};").into_bytes()
}

fn contains(f: &[u8], m: &[u8]) -> bool {
    f.windows(m.len()).any(|w| w == m)
}

/// Names of the attacks whose marker is in one of `frames`.
fn seen(frames: &[Vec<u8>], names: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter(|n| frames.iter().any(|f| contains(f, &marker(n))))
        .map(|n| n.to_string())
        .collect()
}

fn kind_of(cookie: u64) -> u8 {
    (cookie >> 48) as u8
}

fn origin_of(cookie: u64) -> u16 {
    (cookie >> 32) as u16
}

/// The packets of `port`'s drop flows by reason.
fn flow_drops(flows: &[FlowLine], port: &str) -> BTreeMap<String, u64> {
    let bits = agent::layout::origin_bits(&format!("port/{port}"));
    let mut out = BTreeMap::new();
    for f in flows.iter().filter(|f| agent::layout::is_ours(f.cookie)) {
        if origin_of(f.cookie) != bits {
            continue;
        }
        if let Some(r) = agent::layout::kind::reason(kind_of(f.cookie)) {
            *out.entry(r.to_string()).or_default() += f.packets;
        }
    }
    out
}

fn group(name: &str, dvs: &str, vlan: u16, extra: serde_json::Value) -> proto::Object {
    let mut spec = json!({"name": name, "dvs": dvs, "vlan": {"mode": "access", "vlan": vlan}});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    obj("port_group", spec)
}

/// The last status's drops of `port`.
fn status_drops(fake: &FakeDvsm, port: &str) -> BTreeMap<String, u64> {
    fake.lock()
        .statuses
        .last()
        .and_then(|s| s.ports.get(port))
        .map(|p| p.drops.clone())
        .unwrap_or_default()
}

#[test]
fn port_group_security_drops_and_counts_attacks() {
    let test = "port_group_security_drops_and_counts_attacks";
    if !require_root(test) || !ovsdb::available(test) {
        return;
    }
    if !std::path::Path::new(SCAPY).exists() {
        eprintln!("{test}: skipped: {SCAPY} (with scapy) is not installed");
        return;
    }
    let db = OvsDb::start();
    let sw = Switchd::start_db(&switch_section(), &db.addr(), &db.dir);
    let script = db.dir.join("attack.py");
    std::fs::write(&script, SCRIPT).expect("write the scapy script");
    let a = Vm::new("a", 1, "10.78.0.1");
    let b = Vm::new("b", 2, "10.78.0.2");
    let c = Vm::new("c", 3, "10.78.1.3");
    let d = Vm::new("d", 4, "10.78.1.4");
    a.knows(&b);
    b.knows(&a);
    c.knows(&d);
    d.knows(&c);
    let dvs = format!("dp{}", unique_tag());
    let sec = json!({"ip_mac_binding": true, "dhcp_isolation": true});
    let fake = FakeDvsm::start();
    let rev = fake.update(
        vec![
            obj("host", json!({"name": "h1"})),
            obj(
                "dvs",
                json!({"name": dvs, "vlan_pool": "1-100", "hosts": ["h1"]}),
            ),
            group("sec", &dvs, 10, sec.clone()),
            group("open", &dvs, 20, json!({})),
            a.port("sec"),
            b.port("sec"),
            c.port("open"),
            d.port("open"),
        ],
        Vec::new(),
    );
    let mut agent = Agent::start(&fake.addr, "h1", &db.addr(), db.dir.join("agent.log"));
    let ack = fake.wait_ack(rev, Duration::from_secs(20));
    assert!(ack.errors.is_empty(), "{:?}", ack.errors);
    let mgmt = db.dir.join(format!("{dvs}.mgmt"));
    let a_bits = agent::layout::origin_bits("port/a");
    assert!(
        wait_until(Duration::from_secs(20), || dump_flows(&mgmt).iter().any(
            |f| {
                origin_of(f.cookie) == a_bits && kind_of(f.cookie) == agent::layout::kind::IP_SPOOF
            }
        )),
        "a's binding flows: {:#?}\n{}",
        dump_flows(&mgmt),
        agent.log_text()
    );
    assert!(a.ns.ping_ok(&b.ip), "a -> b: {}", sw.log());
    assert!(c.ns.ping_ok(&d.ip), "c -> d: {}", sw.log());
    assert_eq!(db.get("Interface", &a.veth.host, "mtu_request"), "1500");

    // 1. Attacks from a (bound, isolated) never reach b; from c (open) they reach d.
    let names: Vec<&str> = ATTACKS.iter().map(|(n, _)| *n).collect();
    let rx_b = RawSock::open(&b.ns, "eth0");
    rx_b.drain();
    a.attack(&b, &names, COUNT, &script);
    a.attack(&b, &["dhcp_discover"], COUNT, &script);
    let got = rx_b.collect(Duration::from_millis(1500), |f| contains(f, b"DVSATK:"));
    assert_eq!(
        seen(&got, &names),
        Vec::<String>::new(),
        "no attack reaches b"
    );
    assert_eq!(
        seen(&got, &["dhcp_discover"]),
        ["dhcp_discover"],
        "a DHCP DISCOVER from 0.0.0.0 passes under binding"
    );
    assert!(a.ns.ping_ok(&b.ip), "b still answers a");

    let rx_d = RawSock::open(&d.ns, "eth0");
    rx_d.drain();
    c.attack(&d, &names, COUNT, &script);
    let got = rx_d.collect(Duration::from_millis(1500), |f| contains(f, b"DVSATK:"));
    let passed: Vec<String> = names
        .iter()
        .filter(|n| **n != "foreign_mac")
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        seen(&got, &names),
        passed,
        "without binding and isolation only the foreign MAC is dropped"
    );

    // Counted per reason: in a's drop flows and in a's status.
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for (_, r) in ATTACKS {
        *want.entry(r.to_string()).or_default() += COUNT;
    }
    let flows = dump_flows(&mgmt);
    let fd = flow_drops(&flows, "a");
    for (r, n) in &want {
        assert!(
            fd.get(r).copied().unwrap_or(0) >= *n,
            "flow counter {r}: {fd:?} want {want:?}"
        );
    }
    assert_eq!(
        flow_drops(&flows, "c").keys().collect::<Vec<_>>(),
        ["mac_spoof"],
        "c's only drops are the foreign MAC's"
    );
    let ok = wait_until(Duration::from_secs(15), || {
        let s = status_drops(&fake, "a");
        want.iter()
            .all(|(r, n)| s.get(r).is_some_and(|got| got >= n))
    });
    assert!(
        ok,
        "a's status drops {:?} want at least {want:?}",
        status_drops(&fake, "a")
    );
    assert!(
        status_drops(&fake, "b").is_empty(),
        "b dropped nothing: {:?}",
        status_drops(&fake, "b")
    );

    // 2. Binding on `open`, live, while a pings b.
    let sec_before: BTreeMap<u64, FlowLine> = dump_flows(&mgmt)
        .into_iter()
        .filter(|f| [a_bits, agent::layout::origin_bits("port/b")].contains(&origin_of(f.cookie)))
        .map(|f| (f.cookie, f))
        .collect();
    let uuid_c = db.get("Port", &c.veth.host, "_uuid");
    let ofport_c = db.get("Interface", &c.veth.host, "ofport");
    let (sent, got) = std::thread::scope(|s| {
        let ping = s.spawn(|| {
            a.ns.exec(&[
                "ping", "-n", "-q", "-c", "30", "-i", "0.1", "-W", "1", &b.ip,
            ])
        });
        std::thread::sleep(Duration::from_millis(500));
        let rev = fake.update(vec![group("open", &dvs, 20, sec.clone())], Vec::new());
        fake.wait_ack(rev, Duration::from_secs(10));
        let (_, out) = ping.join().expect("ping thread");
        tests::netns::ping_counts(&out)
    });
    assert_eq!(sent, got, "a's pings lose nothing while `open` changes");
    let c_bits = agent::layout::origin_bits("port/c");
    assert!(
        wait_until(Duration::from_secs(10), || dump_flows(&mgmt).iter().any(
            |f| {
                origin_of(f.cookie) == c_bits && kind_of(f.cookie) == agent::layout::kind::IP_SPOOF
            }
        )),
        "c's binding flows"
    );
    assert_eq!(
        db.get("Port", &c.veth.host, "_uuid"),
        uuid_c,
        "c's row kept"
    );
    assert_eq!(
        db.get("Interface", &c.veth.host, "ofport"),
        ofport_c,
        "c's port kept"
    );
    let now: BTreeMap<u64, FlowLine> = dump_flows(&mgmt)
        .into_iter()
        .map(|f| (f.cookie, f))
        .collect();
    for (cookie, f) in &sec_before {
        let n = now
            .get(cookie)
            .unwrap_or_else(|| panic!("sec's flow was rewritten: {}", f.text));
        assert!(n.duration >= f.duration, "{}", n.text);
    }
    rx_d.drain();
    c.attack(&d, &["ip_spoof"], COUNT, &script);
    let got = rx_d.collect(Duration::from_millis(1000), |f| contains(f, b"DVSATK:"));
    assert!(got.is_empty(), "c's spoofed IPv4 is dropped now");
    assert!(c.ns.ping_ok(&d.ip), "c -> d still works");
    assert!(
        flow_drops(&dump_flows(&mgmt), "c")
            .get("ip_spoof")
            .is_some_and(|n| *n >= COUNT),
        "counted as c's ip_spoof"
    );

    // 3. Broadcast suppression at 100 packets/s; a floods at 1000/s.
    let threshold = 100u64;
    let mut with_bcast = sec.clone();
    with_bcast["broadcast_suppression"] = json!({"pps": threshold});
    let rev = fake.update(vec![group("sec", &dvs, 10, with_bcast)], Vec::new());
    fake.wait_ack(rev, Duration::from_secs(10));
    assert!(
        wait_until(Duration::from_secs(10), || dump_flows(&mgmt).iter().any(
            |f| { origin_of(f.cookie) == a_bits && f.text.contains("meter:") }
        )),
        "a's broadcast flow: {:#?}",
        dump_flows(&mgmt)
    );
    let tx_a = RawSock::open(&a.ns, "eth0");
    rx_b.drain();
    let flood = marker("flood");
    let mut frame = Vec::new();
    frame.extend_from_slice(&[0xff; 6]);
    frame.extend_from_slice(&a.mac);
    frame.extend_from_slice(&0x88b5u16.to_be_bytes());
    frame.extend_from_slice(&flood);
    frame.resize(64, 0);
    let flood_for = Duration::from_secs(4);
    let (elapsed, sent_frames, (ping_sent, ping_got), got) = std::thread::scope(|s| {
        // Read while the flood runs: a socket buffer holds only a few hundred small frames.
        let rx = s.spawn(|| {
            rx_b.collect(flood_for + Duration::from_millis(1500), |f| {
                contains(f, &flood)
            })
            .len() as f64
        });
        let ping = s.spawn(|| {
            a.ns.exec(&[
                "ping", "-n", "-q", "-c", "15", "-i", "0.2", "-W", "1", &b.ip,
            ])
        });
        let t0 = Instant::now();
        let mut n = 0u64;
        while t0.elapsed() < flood_for {
            // 10x the threshold: one frame per millisecond, paced against the clock.
            let due = t0.elapsed().as_millis() as u64;
            while n <= due {
                tx_a.send(&frame);
                n += 1;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        let elapsed = t0.elapsed();
        let (_, out) = ping.join().expect("ping thread");
        let got = rx.join().expect("receiver thread");
        (elapsed, n, tests::netns::ping_counts(&out), got)
    });
    let rate = got / elapsed.as_secs_f64();
    eprintln!(
        "broadcast flood: sent {sent_frames} in {elapsed:?}, {got} reached b: {rate:.1}/s \
         (threshold {threshold}/s); meters: {}",
        tests::run(
            "ovs-ofctl",
            &[
                "-O",
                "OpenFlow13",
                "meter-stats",
                &format!("unix:{}", mgmt.display())
            ]
        )
    );
    assert!(
        sent_frames as f64 / elapsed.as_secs_f64() > 5.0 * threshold as f64,
        "the flood ran well above the threshold"
    );
    assert!(
        (rate - threshold as f64).abs() <= 0.1 * threshold as f64,
        "broadcast reaching b: {rate:.1}/s, threshold {threshold}/s"
    );
    assert_eq!(ping_sent, ping_got, "a's unicast pings unaffected");
    let suppressed = sent_frames - got as u64;
    assert!(
        wait_until(Duration::from_secs(15), || status_drops(&fake, "a")
            .get("broadcast_suppressed")
            .is_some_and(|n| *n >= suppressed * 9 / 10)),
        "a's status counts the suppressed broadcast ({suppressed}): {:?}",
        status_drops(&fake, "a")
    );

    // 4. A restarted agent adopts meters (a's and b's) and flows.
    let before: Vec<u64> = dump_flows(&mgmt).iter().map(|f| f.cookie).collect();
    let log_len = agent.log_text().len();
    agent.kill9();
    agent.launch();
    assert!(
        wait_until(Duration::from_secs(15), || agent.log_text()[log_len..]
            .contains(&format!("bridge {dvs}: flows:"))),
        "the restarted agent synced: {}",
        agent.log_text()
    );
    let restarted = agent.log_text()[log_len..].to_string();
    assert!(
        restarted.contains("flows: 0 added, 0 deleted")
            && restarted.contains("meters: 0 added or modified, 0 deleted, 2 kept"),
        "adopted without rewriting:\n{restarted}"
    );
    let after: Vec<u64> = dump_flows(&mgmt).iter().map(|f| f.cookie).collect();
    assert_eq!(before, after);

    // 5. Shaping and checksum filling are database rows the real server accepts; they go
    // when the group drops them.
    let shaped = json!({"qos_out": {"average_kbps": 8000, "peak_kbps": 16000},
                        "tcp_checksum_fill": true});
    let rev = fake.update(vec![group("open", &dvs, 20, shaped)], Vec::new());
    let ack = fake.wait_ack(rev, Duration::from_secs(10));
    assert!(ack.errors.is_empty(), "{:?}", ack.errors);
    assert!(
        wait_until(Duration::from_secs(10), || db.get(
            "Port",
            &c.veth.host,
            "qos"
        ) != "[]"),
        "c's Port.qos"
    );
    let qos = db.get("Port", &c.veth.host, "qos");
    assert_eq!(db.get("QoS", &qos, "type"), "dvs-shaper");
    assert_eq!(db.get("QoS", &qos, "other_config:cir"), "\"1000000\"");
    assert_eq!(db.get("QoS", &qos, "other_config:pir"), "\"2000000\"");
    assert_eq!(
        db.get("Interface", &c.veth.host, "other_config:tcp-checksum-fill"),
        "\"true\""
    );
    assert_eq!(
        db.must(&["--columns=_uuid", "list", "QoS"])
            .matches("_uuid")
            .count(),
        2
    );
    let rev = fake.update(vec![group("open", &dvs, 20, json!({}))], Vec::new());
    fake.wait_ack(rev, Duration::from_secs(10));
    assert!(
        wait_until(Duration::from_secs(10), || db.get(
            "Port",
            &c.veth.host,
            "qos"
        ) == "[]"),
        "c's Port.qos cleared"
    );
    assert_eq!(
        db.must(&["list", "QoS"]).trim(),
        "",
        "the agent's QoS rows are deleted"
    );
    assert_eq!(db.must(&["list", "Queue"]).trim(), "", "and their queues");
    assert!(c.ns.ping_ok(&d.ip), "c -> d after the QoS changes");
    drop(agent);
    drop(sw);
}
