//! Port-group security and QoS across hosts, end to end: dvsm, two hosts with dvs-switchd,
//! ovsdb-server and dvs-agent, a top of rack, namespace VMs (`tests::cluster`), all configured
//! through `dvsctl`. Frames for attacks are built by scapy and sent with raw sockets.
//!
//! What is checked is what an operator buys these properties for:
//! - a real DHCP server (dnsmasq) behind the uplink still serves a VM under IP-MAC binding and
//!   DHCP isolation, while a VM's rogue DHCP OFFER and rogue router advertisement never reach
//!   another VM (and do on a group without isolation), and are counted on the rogue's port;
//! - enabling binding on a live port group stops a spoofed source at once, without re-creating
//!   its ports, without touching other groups' flows and without losing their pings;
//! - policing, shaping and uplink priorities give the configured rates (see `qos_rates`);
//! - a jumbo DVS carries 9000-byte frames across hosts and drops a bigger one, counted.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;
use tests::cluster::{skip, Cluster};
use tests::netns::Netns;
use tests::rawsock::RawSock;
use tests::{mac_str, scapy, wait_until};

const SYNC: Duration = Duration::from_secs(30);

/// A process killed on drop (dnsmasq, iperf3 servers).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_in(ns: &Netns, argv: &[&str]) -> Killed {
    spawn_logged(ns, argv, None)
}

/// [`spawn_in`] with stdout and stderr into `log`.
fn spawn_logged(ns: &Netns, argv: &[&str], log: Option<&std::path::Path>) -> Killed {
    let out = |l: Option<&std::path::Path>| {
        l.and_then(|p| std::fs::File::create(p).ok())
            .map_or_else(Stdio::null, Stdio::from)
    };
    Killed(
        Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(out(log))
            .stderr(out(log))
            .spawn()
            .expect("spawn"),
    )
}

/// The EUI-64 link-local address of `mac`, as text.
fn link_local(mac: [u8; 6]) -> String {
    format!(
        "fe80::{:02x}{:02x}:{:02x}ff:fe{:02x}:{:02x}{:02x}",
        mac[0] ^ 2,
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5]
    )
}

/// A port's drop counters by reason, as its host last reported them to dvsm.
fn drops(c: &Cluster, port: &str) -> BTreeMap<String, u64> {
    let v = c.ctl_json(&["port", "show", port]);
    v["status"]["drops"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

/// Wait until `port` reports at least `n` drops for `reason`.
fn wait_drops(c: &Cluster, port: &str, reason: &str, n: u64) -> bool {
    wait_until(Duration::from_secs(15), || {
        drops(c, port).get(reason).copied().unwrap_or(0) >= n
    })
}

/// Send `frame` `n` times from VM `from`'s `eth0`; count the copies of it (compared from byte
/// 12 on: a frame may gain a tag or padding on the way, never lose its payload) that VM `to`
/// captured meanwhile.
fn sent_and_seen(c: &Cluster, from: usize, to: usize, frame: &[u8], n: usize) -> usize {
    let tx = RawSock::open(&c.vms[from].ns, "eth0");
    let rx = RawSock::open(&c.vms[to].ns, "eth0");
    rx.drain();
    for _ in 0..n {
        tx.send(frame);
        thread::sleep(Duration::from_millis(20));
    }
    let body = &frame[12..];
    rx.collect(Duration::from_millis(800), |f| {
        f.len() >= frame.len() && f[..6] == frame[..6] && f[12..12 + body.len()] == *body
    })
    .len()
}

#[test]
fn lab_dhcp_server_behind_the_uplink_works_and_rogue_servers_are_stopped() {
    let t = "lab_dhcp_server_behind_the_uplink_works_and_rogue_servers_are_stopped";
    if skip(t) || !scapy::available(t) {
        return;
    }
    if !tests::try_run("dnsmasq", &["--version"]) {
        eprintln!("skipping {t}: needs dnsmasq (dnsmasq-base; setup.sh installs it)");
        return;
    }
    let mut c = Cluster::start(2, "10,20");
    c.dvs("d1", "10-30");
    c.must(&[
        "portgroup",
        "create",
        "secure",
        "dvs=d1",
        "vlan.mode=access",
        "vlan.vlan=10",
        "ip_mac_binding=true",
        "dhcp_isolation=true",
    ]);
    c.access_group("open", "d1", 20);
    let srv = c.tor_host("srv", 10, "10.61.0.1/24");
    let vm1 = c.vm("vm1", 0, "secure", 1, "10.61.0.11/24");
    let vm2 = c.vm("vm2", 1, "secure", 2, "10.61.0.12/24");
    let vm3 = c.vm("vm3", 0, "open", 3, "10.62.0.13/24");
    let vm4 = c.vm("vm4", 1, "open", 4, "10.62.0.14/24");
    assert!(c.wait_synced(SYNC), "agents never caught up: {}", c.logs());
    assert!(
        c.wait_reach(vm1, vm2, SYNC) && c.wait_reach(vm3, vm4, SYNC),
        "VMs never reached each other: {}",
        c.logs()
    );

    // A real DHCP exchange with dnsmasq behind the uplink, from a VM under binding.
    assert!(
        wait_until(SYNC, || srv.ping("10.61.0.11", 1)),
        "the server behind the uplink cannot reach vm1: {}",
        c.logs()
    );
    let leases = c.dir.join("leases");
    let dnsmasq_log = c.dir.join("dnsmasq.log");
    let _dnsmasq = spawn_logged(
        &srv,
        &[
            "dnsmasq",
            "--no-daemon",
            "--conf-file=/dev/null",
            "--port=0",
            "--interface=eth0",
            "--bind-interfaces",
            "--dhcp-range=10.61.0.100,10.61.0.150,255.255.255.0,1h",
            &format!("--dhcp-host={},10.61.0.11", mac_str(c.vms[vm1].mac)),
            &format!("--dhcp-leasefile={}", leases.display()),
            "--log-dhcp",
            "--user=root",
        ],
        Some(&dnsmasq_log),
    );
    c.vms[vm1].ns.ip(&["addr", "flush", "dev", "eth0"]);
    let mut lease = String::new();
    let got = wait_until(Duration::from_secs(20), || {
        let (_, out) = c.vms[vm1].ns.exec(&[
            "busybox",
            "udhcpc",
            "-i",
            "eth0",
            "-n",
            "-q",
            "-f",
            "-t",
            "3",
            "-T",
            "1",
            "-s",
            "/bin/true",
        ]);
        lease = out;
        lease.contains("lease of 10.61.0.11 obtained")
    });
    assert!(
        got,
        "no lease through binding + isolation: {lease}\ndnsmasq: {}\n{}",
        std::fs::read_to_string(&dnsmasq_log).unwrap_or_default(),
        c.logs()
    );

    // udhcpc ran with a script that configures nothing: give vm1 its leased address back.
    c.vms[vm1]
        .ns
        .ip(&["addr", "add", "10.61.0.11/24", "dev", "eth0"]);

    // Rogue DHCP OFFERs and router advertisements from a VM: dropped in `secure`, delivered in
    // `open` (the same frames; only the group differs).
    let offer = |from: usize, to: usize, src: &str, yiaddr: &str| {
        scapy::build(&format!(
            "Ether(src='{}',dst='ff:ff:ff:ff:ff:ff')/IP(src='{src}',dst='255.255.255.255')/\
             UDP(sport=67,dport=68)/BOOTP(op=2,yiaddr='{yiaddr}',chaddr=bytes.fromhex('{}'))/\
             DHCP(options=[('message-type','offer'),('server_id','{src}'),'end'])",
            mac_str(c.vms[from].mac),
            mac_str(c.vms[to].mac).replace(':', "")
        ))
    };
    let ra = |from: usize| {
        let mac = c.vms[from].mac;
        scapy::build(&format!(
            "Ether(src='{}',dst='33:33:00:00:00:01')/IPv6(src='{}',dst='ff02::1')/\
             ICMPv6ND_RA()/ICMPv6NDOptPrefixInfo(prefix='2001:db8:66::',prefixlen=64)",
            mac_str(mac),
            link_local(mac)
        ))
    };
    let rogue = offer(vm2, vm1, "10.61.0.12", "10.61.0.77");
    assert_eq!(
        sent_and_seen(&c, vm2, vm1, &rogue, 5),
        0,
        "a rogue OFFER crossed a DHCP-isolated group"
    );
    let control = offer(vm4, vm3, "10.62.0.14", "10.62.0.77");
    assert!(
        sent_and_seen(&c, vm4, vm3, &control, 5) >= 4,
        "the same OFFER in a group without isolation did not arrive (the check proves nothing)"
    );
    assert_eq!(
        sent_and_seen(&c, vm2, vm1, &ra(vm2), 5),
        0,
        "a rogue RA crossed an RA-guarded group"
    );
    assert!(
        sent_and_seen(&c, vm4, vm3, &ra(vm4), 5) >= 4,
        "the same RA in a group without the guard did not arrive"
    );
    assert!(
        wait_drops(&c, "vm2", "dhcp_server", 5),
        "rogue OFFERs not counted on vm2: {:?}",
        drops(&c, "vm2")
    );
    assert!(
        wait_drops(&c, "vm2", "router_advertisement", 5),
        "rogue RAs not counted on vm2: {:?}",
        drops(&c, "vm2")
    );
    // The server's own traffic and the VMs' unicast are unaffected.
    assert!(c.wait_reach(vm2, vm1, SYNC), "vm2 lost vm1");
    assert!(srv.ping("10.61.0.12", 3), "the server cannot reach vm2");
}

#[test]
fn lab_binding_enabled_live_stops_spoofing_without_disturbing_anything_else() {
    let t = "lab_binding_enabled_live_stops_spoofing_without_disturbing_anything_else";
    if skip(t) || !scapy::available(t) {
        return;
    }
    let mut c = Cluster::start(2, "10,20");
    c.dvs("d1", "10-30");
    c.access_group("pg10", "d1", 10);
    c.access_group("pg20", "d1", 20);
    let vm1 = c.vm("vm1", 0, "pg10", 1, "10.63.0.1/24");
    let vm2 = c.vm("vm2", 1, "pg10", 2, "10.63.0.2/24");
    let vm3 = c.vm("vm3", 0, "pg20", 3, "10.64.0.3/24");
    let vm4 = c.vm("vm4", 1, "pg20", 4, "10.64.0.4/24");
    assert!(c.wait_synced(SYNC), "agents never caught up: {}", c.logs());
    assert!(
        c.wait_reach(vm1, vm2, SYNC) && c.wait_reach(vm3, vm4, SYNC),
        "VMs never reached each other: {}",
        c.logs()
    );
    let spoof = scapy::build(&format!(
        "Ether(src='{}',dst='{}')/IP(src='10.63.0.99',dst='10.63.0.2')/\
         UDP(sport=4444,dport=5555)/Raw(b'spoofed-source')",
        mac_str(c.vms[vm1].mac),
        mac_str(c.vms[vm2].mac)
    ));
    assert!(
        sent_and_seen(&c, vm1, vm2, &spoof, 3) >= 2,
        "without binding the spoofed frame should pass"
    );
    let ofport =
        |c: &Cluster, p: &str| c.ctl_json(&["port", "show", p])["status"]["ofport"].clone();
    assert!(
        wait_until(Duration::from_secs(10), || ["vm1", "vm2", "vm3"]
            .iter()
            .all(|p| ofport(&c, p).is_u64())),
        "the ports' OpenFlow numbers were never reported"
    );
    let (of1, of3) = (ofport(&c, "vm1"), ofport(&c, "vm3"));
    // pg20's flows (and the shared ones) before: they must not move.
    let pg10_ports: Vec<String> = [&of1, &ofport(&c, "vm2")]
        .iter()
        .map(|v| format!("in_port={v}"))
        .collect();
    let others = |c: &Cluster| -> Vec<BTreeMap<u64, f64>> {
        c.hosts
            .iter()
            .map(|h| {
                h.flows("d1")
                    .into_iter()
                    .filter(|f| !pg10_ports.iter().any(|p| f.text.contains(p.as_str())))
                    .map(|f| (f.cookie, f.duration))
                    .collect()
            })
            .collect()
    };
    let before = others(&c);
    let pinger = c.ping_in_background(vm3, vm4, 150, 20);
    thread::sleep(Duration::from_millis(500));
    c.must(&["portgroup", "update", "pg10", "ip_mac_binding=true"]);
    assert!(c.wait_synced(SYNC), "agents never caught up: {}", c.logs());
    let (sent, got) = pinger.join().expect("pinger");
    assert_eq!(sent, got, "pg20 lost pings while pg10 changed");
    let spoof_through = (0..10).any(|_| {
        thread::sleep(Duration::from_millis(300));
        sent_and_seen(&c, vm1, vm2, &spoof, 2) == 0
    });
    assert!(spoof_through, "binding never stopped the spoofed source");
    assert_eq!(
        sent_and_seen(&c, vm1, vm2, &spoof, 5),
        0,
        "a spoofed source crossed once binding was on"
    );
    assert!(c.reach(vm1, vm2), "binding broke vm1's own traffic");
    assert!(
        wait_drops(&c, "vm1", "ip_spoof", 5),
        "spoofed sources not counted on vm1: {:?}",
        drops(&c, "vm1")
    );
    assert_eq!(ofport(&c, "vm1"), of1, "vm1's port was re-created");
    assert_eq!(ofport(&c, "vm3"), of3, "vm3's port was re-created");
    let after = others(&c);
    for (h, (b, a)) in before.iter().zip(&after).enumerate() {
        assert!(!b.is_empty(), "host {h}: no flows to compare");
        for (cookie, d) in b {
            let now = a
                .get(cookie)
                .unwrap_or_else(|| panic!("host {h}: flow {cookie:#x} of another group is gone"));
            assert!(now >= d, "host {h}: flow {cookie:#x} was rewritten");
        }
    }
}

/// Bytes received on `eth0` of a VM.
fn rx_bytes(ns: &Netns) -> u64 {
    let (_, out) = ns.exec(&["cat", "/sys/class/net/eth0/statistics/rx_bytes"]);
    out.trim().parse().unwrap_or(0)
}

/// Run iperf3 clients (`from` VM -> `to` VM, UDP at `udp_mbps` or TCP when `None`), all at
/// once for 14 s, and return each receiver's L2 rate in kbit/s over the 10 s from second 2 to 12
/// (frame bytes, as policers and shapers count them; queues filled before the window and
/// drained after it do not count).
fn rates(c: &Cluster, flows: &[(usize, usize, Option<u32>)]) -> Vec<f64> {
    let mut servers = Vec::new();
    for (i, &(_, to, _)) in flows.iter().enumerate() {
        let port = (5201 + i).to_string();
        servers.push(spawn_in(&c.vms[to].ns, &["iperf3", "-s", "-p", &port]));
    }
    thread::sleep(Duration::from_millis(500));
    let mut clients = Vec::new();
    for (i, &(from, to, udp)) in flows.iter().enumerate() {
        let port = (5201 + i).to_string();
        let mut argv = vec![
            "iperf3".to_string(),
            "-c".into(),
            c.vms[to].ip().to_string(),
            "-p".into(),
            port,
            "-t".into(),
            "14".into(),
        ];
        if let Some(m) = udp {
            argv.extend([
                "-u".into(),
                "-b".into(),
                format!("{m}M"),
                "-l".into(),
                "1400".into(),
            ]);
        }
        let a: Vec<&str> = argv.iter().map(String::as_str).collect();
        clients.push(spawn_in(&c.vms[from].ns, &a));
    }
    thread::sleep(Duration::from_secs(2));
    let start: Vec<u64> = flows.iter().map(|f| rx_bytes(&c.vms[f.1].ns)).collect();
    let t0 = std::time::Instant::now();
    thread::sleep(Duration::from_secs(10));
    let end: Vec<u64> = flows.iter().map(|f| rx_bytes(&c.vms[f.1].ns)).collect();
    let secs = t0.elapsed().as_secs_f64();
    drop(clients);
    drop(servers);
    start
        .iter()
        .zip(&end)
        .map(|(a, b)| (b - a) as f64 * 8.0 / 1000.0 / secs)
        .collect()
}

fn within(what: &str, got: f64, want: f64, tolerance: f64) {
    let err = (got - want).abs() / want;
    eprintln!(
        "{what}: {got:.0} kbit/s, configured {want:.0} ({:+.1}%)",
        100.0 * (got - want) / want
    );
    assert!(
        err <= tolerance,
        "{what}: {got:.0} kbit/s is more than {:.0}% from {want:.0}",
        tolerance * 100.0
    );
}

#[test]
fn lab_qos_rates_hold_and_uplink_priorities_share_the_uplink() {
    let t = "lab_qos_rates_hold_and_uplink_priorities_share_the_uplink";
    if skip(t) {
        return;
    }
    let mut c = Cluster::start(2, "10,20,30");
    // h1's uplink is shaped to 20 Mbit/s; groups lo (priority 1) and hi (priority 3) share it.
    c.dvs_with("d1", "10-30", &[], &["egress_kbps=20000"]);
    for (name, vlan, prio) in [("lo", "10", "1"), ("hi", "20", "3")] {
        c.must(&[
            "portgroup",
            "create",
            name,
            "dvs=d1",
            "vlan.mode=access",
            &format!("vlan.vlan={vlan}"),
            "qos_in.average_kbps=400000",
            &format!("qos_in.priority={prio}"),
        ]);
    }
    c.access_group("lo-rx", "d1", 10);
    c.access_group("hi-rx", "d1", 20);
    // q: policed to 8 Mbit/s sending, shaped to 6 Mbit/s receiving; plain is its peer.
    c.must(&[
        "portgroup",
        "create",
        "q",
        "dvs=d1",
        "vlan.mode=access",
        "vlan.vlan=30",
        "qos_in.average_kbps=8000",
        "qos_out.average_kbps=6000",
    ]);
    c.access_group("plain", "d1", 30);
    let a = c.vm("vma", 0, "lo", 1, "10.65.0.1/24");
    let a2 = c.vm("vma2", 1, "lo-rx", 2, "10.65.0.2/24");
    let b = c.vm("vmb", 0, "hi", 3, "10.66.0.3/24");
    let b2 = c.vm("vmb2", 1, "hi-rx", 4, "10.66.0.4/24");
    let q = c.vm("vmq", 0, "q", 5, "10.67.0.5/24");
    let p = c.vm("vmp", 1, "plain", 6, "10.67.0.6/24");
    assert!(c.wait_synced(SYNC), "agents never caught up: {}", c.logs());
    for (x, y) in [(a, a2), (b, b2), (q, p)] {
        assert!(
            c.wait_reach(x, y, SYNC),
            "VMs never reached each other: {}",
            c.logs()
        );
    }

    // Policing what vmq sends, shaping what it receives: UDP offered well above, then TCP.
    within(
        "policed UDP",
        rates(&c, &[(q, p, Some(30))])[0],
        8000.0,
        0.05,
    );
    within(
        "shaped UDP",
        rates(&c, &[(p, q, Some(30))])[0],
        6000.0,
        0.05,
    );
    within("policed TCP", rates(&c, &[(q, p, None)])[0], 8000.0, 0.05);
    within("shaped TCP", rates(&c, &[(p, q, None)])[0], 6000.0, 0.05);

    // Two groups contend for the shaped uplink: weights priority+1 = 2 and 4.
    let r = rates(&c, &[(a, a2, Some(30)), (b, b2, Some(30))]);
    eprintln!("uplink split: lo {:.0} kbit/s, hi {:.0} kbit/s", r[0], r[1]);
    within("uplink total", r[0] + r[1], 20000.0, 0.05);
    within(
        "hi's share",
        r[1] / (r[0] + r[1]) * 20000.0,
        20000.0 * 4.0 / 6.0,
        0.10,
    );
}

#[test]
fn lab_jumbo_dvs_carries_9000_byte_frames_across_hosts() {
    let t = "lab_jumbo_dvs_carries_9000_byte_frames_across_hosts";
    if skip(t) {
        return;
    }
    let mut c = Cluster::start(2, "10");
    c.dvs_with("d1", "10-30", &["mtu=9000"], &[]);
    c.access_group("pg10", "d1", 10);
    let vm1 = c.vm("vm1", 0, "pg10", 1, "10.68.0.1/24");
    let vm2 = c.vm("vm2", 1, "pg10", 2, "10.68.0.2/24");
    c.set_link_mtu(9000);
    assert!(c.wait_synced(SYNC), "agents never caught up: {}", c.logs());
    assert!(
        c.wait_reach(vm1, vm2, SYNC),
        "VMs never reached each other: {}",
        c.logs()
    );
    let (ok, out) = c.vms[vm1].ns.exec(&[
        "ping",
        "-c",
        "3",
        "-W",
        "2",
        "-M",
        "do",
        "-s",
        "8972",
        "10.68.0.2",
    ]);
    assert!(
        ok && out.contains(" 0% packet loss"),
        "9000-byte ping: {out}\n{}",
        c.logs()
    );
    let r = rates(&c, &[(vm1, vm2, None)]);
    assert!(
        r[0] > 1000.0,
        "iperf3 over jumbo frames moved {:.0} kbit/s",
        r[0]
    );
    // vm1's link takes 9100 bytes, its switch port (the DVS MTU) does not.
    c.hosts[0].ns.ip(&["link", "set", "vm1", "mtu", "9200"]);
    c.vms[vm1].ns.ip(&["link", "set", "eth0", "mtu", "9200"]);
    let big = scapy::build(&format!(
        "Ether(src='{}',dst='{}')/IP(src='10.68.0.1',dst='10.68.0.2')/UDP(sport=7,dport=7)/\
         Raw(b'x'*9100)",
        mac_str(c.vms[vm1].mac),
        mac_str(c.vms[vm2].mac)
    ));
    assert_eq!(
        sent_and_seen(&c, vm1, vm2, &big, 5),
        0,
        "an oversize frame crossed"
    );
    assert!(
        wait_drops(&c, "vm1", "too_big", 5),
        "oversize frames not counted on vm1: {:?}",
        drops(&c, "vm1")
    );
}
