//! dvs-switchd following the Open_vSwitch database (`--db`), driven by Debian's `ovs-vsctl`
//! against Debian's `ovsdb-server` with the stock schema, as an operator, libvirt or os-vif
//! would: bridges and ports made and changed while traffic flows on other ports (packets
//! counted), bad rows reported on their own `Interface.error`, restarts of either process, and
//! libvirt's plug sequence for a real QEMU guest.

use serde_json::json;
use std::time::Duration;
use tests::guest::{self, Guest, Nic};
use tests::lab::pmd_core;
use tests::ovsdb::{self, OvsDb};
use tests::{require_root, unique_tag, vm_mac, wait_until as wait, Netns, Switchd, Veth};

fn skip(test: &str) -> bool {
    !require_root(test) || !ovsdb::available(test)
}

fn switch_section() -> String {
    format!(
        "[switch]\npmd_cores = [{}]\npool_frames = 4096\npmd_sleep_max_us = 200\n",
        pmd_core()
    )
}

/// A database, a switch following it, and one bridge (`datapath_type=netdev`, as libvirt and
/// os-vif make it).
struct Rig {
    db: OvsDb,
    sw: Switchd,
    br: String,
}

impl Rig {
    fn new() -> Rig {
        let db = OvsDb::start();
        let sw = Switchd::start_db(&switch_section(), &db.addr(), &db.dir);
        let br = format!("dvb{}", unique_tag());
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

    /// A namespace host on a new veth, plugged as a `system` interface with `extra` settings
    /// (e.g. `tag=10`) on its port.
    fn host(&self, addr: &str, mac: u8, port_settings: &[&str]) -> (Netns, Veth) {
        let ns = Netns::new("dvdb");
        let v = Veth::new(&ns, vm_mac(mac), Some(addr));
        let mut args = vec!["add-port", self.br.as_str(), v.host.as_str()];
        args.extend_from_slice(port_settings);
        self.db.must(&args);
        (ns, v)
    }

    fn iface(&self, name: &str, column: &str) -> String {
        self.db.get("Interface", name, column)
    }

    /// The ports of the bridge as the switch runs them: name -> ofport.
    fn running_ports(&self) -> Vec<(String, u64)> {
        let show = self.sw.call("switch/show", json!({}));
        let mut out: Vec<(String, u64)> = show["bridges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["name"] == self.br.as_str())
            .flat_map(|b| b["ports"].as_array().cloned().unwrap_or_default())
            .map(|p| {
                (
                    p["name"].as_str().unwrap_or_default().to_string(),
                    p["ofport"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        out.sort();
        out
    }
}

/// `count` pings every 10 ms from `ns` to `dst` while `during` runs: (transmitted, received).
fn pings_during(ns: &Netns, dst: &str, count: u32, during: impl FnOnce()) -> (u64, u64) {
    let c = count.to_string();
    let (_, out) = std::thread::scope(|s| {
        let flood =
            s.spawn(|| ns.exec(&["ping", "-n", "-q", "-c", &c, "-i", "0.01", "-W", "1", dst]));
        std::thread::sleep(Duration::from_millis(500));
        during();
        flood.join().expect("ping thread")
    });
    tests::netns::ping_counts(&out)
}

#[test]
fn ovs_vsctl_changes_ports_and_bridges_while_other_ports_forward() {
    if skip("ovs_vsctl_changes_ports_and_bridges_while_other_ports_forward") {
        return;
    }
    let r = Rig::new();
    let (ns1, v1) = r.host("10.61.0.1/24", 1, &["tag=10"]);
    let (_ns2, v2) = r.host("10.61.0.2/24", 2, &["tag=10"]);
    let (ns3, v3) = r.host("10.61.0.3/24", 3, &["tag=20"]);
    // ovs-vsctl waited for cur_cfg: the ports run and have their numbers in the database.
    for v in [&v1, &v2, &v3] {
        let ofport: u64 = r.iface(&v.host, "ofport").parse().expect("ofport");
        assert!(ofport >= 1, "{}: ofport {ofport}", v.host);
        assert_eq!(r.iface(&v.host, "error"), "[]");
        assert!(r.running_ports().contains(&(v.host.clone(), ofport)));
        let sysfs = std::fs::read_to_string(format!("/sys/class/net/{}/address", v.host))
            .expect("host side address");
        assert_eq!(
            r.iface(&v.host, "mac_in_use").trim_matches('"'),
            sysfs.trim(),
            "mac_in_use of {}",
            v.host
        );
    }
    assert_eq!(
        r.db.get("Open_vSwitch", ".", "cur_cfg"),
        r.db.get("Open_vSwitch", ".", "next_cfg")
    );
    let dpid = r.db.get("Bridge", &r.br, "datapath_id");
    assert_eq!(dpid.trim_matches('"').len(), 16, "datapath_id {dpid}");
    assert!(ns1.ping_ok("10.61.0.2"), "same VLAN: {}", r.sw.log());
    assert!(!ns1.ping("10.61.0.3", 2), "VLANs 10 and 20 are isolated");

    // Continuous traffic vm1 -> vm2 while everything else changes.
    let ns4 = Netns::new("dvdb");
    let v4 = Veth::new(&ns4, vm_mac(4), Some("10.61.0.4/24"));
    let mgmt = r.db.dir.join(format!("{}.mgmt", r.br));
    let (sent, got) = pings_during(&ns1, "10.61.0.2", 400, || {
        r.db.must(&["add-port", &r.br, &v4.host, "tag=20"]);
        r.db.must(&["set", "port", &v3.host, "tag=10"]);
        r.db.must(&[
            "set",
            "port",
            &v4.host,
            "vlan_mode=native-untagged",
            "trunks=30",
        ]);
        r.db.must(&["set", "interface", &v4.host, "mtu_request=9000"]);
        r.db.must(&["set-controller", &r.br, "tcp:127.0.0.1:1"]);
        r.db.must(&["set-fail-mode", &r.br, "secure"]);
        r.db.must(&[
            "set",
            "bridge",
            &r.br,
            "other_config:datapath-id=00000000000000d5",
        ]);
        r.db.must(&["del-port", &v4.host]);
    });
    assert_eq!(
        (sent, got),
        (400, 400),
        "pings lost on an unchanged port: {}",
        r.sw.log()
    );
    // The changed port moved to VLAN 10.
    assert!(ns1.ping_ok("10.61.0.3"), "vm3 is in VLAN 10 now");
    assert!(!r.running_ports().iter().any(|(n, _)| *n == v4.host));
    // The OpenFlow side was re-made: new datapath id, controller, fail mode; ovs-ofctl reaches
    // the bridge on its management socket next to db.sock, and the flows stayed.
    assert_eq!(
        r.db.get("Bridge", &r.br, "datapath_id"),
        "\"00000000000000d5\""
    );
    let show = r.sw.call("switch/show", json!({}));
    let b = &show["bridges"][0];
    assert_eq!(b["datapath_id"], "00000000000000d5", "{show}");
    assert_eq!(b["openflow"]["fail_mode"], "secure", "{show}");
    assert_eq!(
        b["openflow"]["controllers"][0]["target"], "tcp:127.0.0.1:1",
        "{show}"
    );
    let flows = tests::run(
        "ovs-ofctl",
        &[
            "-O",
            "OpenFlow13",
            "dump-flows",
            &format!("unix:{}", mgmt.display()),
        ],
    );
    assert!(flows.contains("actions=NORMAL"), "{flows}");
    // Unsupported settings are said in the log, not silently taken.
    let log = r.sw.log();
    assert!(log.contains("mtu_request 9000"), "{log}");
    // Ingress policing on vm3 (1 Mb/s, 100 kb bursts): a 1400-byte flood from it (about 11 Mb/s)
    // is cut down and counted, while vm1 -> vm2 still passes everything.
    r.db.must(&[
        "set",
        "interface",
        &v3.host,
        "ingress_policing_rate=1000",
        "ingress_policing_burst=100",
    ]);
    let policed0 = r.sw.drops("ingress_policed");
    let (sent, got) = pings_during(&ns1, "10.61.0.2", 100, || {
        let _ = ns3.exec(&[
            "ping",
            "-q",
            "-n",
            "-s",
            "1400",
            "-i",
            "0.001",
            "-c",
            "1000",
            "-W",
            "1",
            "10.61.0.1",
        ]);
    });
    assert_eq!((sent, got), (100, 100), "policing vm3 cost vm1 pings");
    let policed = r.sw.drops("ingress_policed") - policed0;
    assert!(
        policed > 300,
        "only {policed} of 1000 frames over 1 Mb/s policed"
    );
    let port3 = r.sw.call("switch/show", json!({}))["bridges"][0]["ports"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == v3.host.as_str()).cloned())
        .expect("vm3 port");
    assert_eq!(
        port3["ingress_policing"],
        json!({"rate_kbps": 1000, "burst_kb": 100}),
        "{port3}"
    );

    // del-br: the bridge, its ports and its management socket go.
    r.db.must(&["del-br", &r.br]);
    let show = r.sw.call("switch/show", json!({}));
    assert_eq!(show["bridges"], json!([]), "{show}");
    assert!(!mgmt.exists(), "management socket left behind");
    assert!(!ns1.ping("10.61.0.2", 2));
}

#[test]
fn each_bad_row_gets_its_error_and_nothing_else_changes() {
    if skip("each_bad_row_gets_its_error_and_nothing_else_changes") {
        return;
    }
    let r = Rig::new();
    let (ns1, v1) = r.host("10.62.0.1/24", 1, &[]);
    let (_ns2, _v2) = r.host("10.62.0.2/24", 2, &[]);
    r.db.must(&["set", "interface", &v1.host, "ofport_request=7"]);
    assert_eq!(r.iface(&v1.host, "ofport"), "7");
    assert!(ns1.ping_ok("10.62.0.2"));
    let before = r.running_ports();
    let missing = format!("dvmiss{}", unique_tag());
    let bad: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "add-port".into(),
                r.br.clone(),
                "dvgen0".into(),
                "--".into(),
                "set".into(),
                "interface".into(),
                "dvgen0".into(),
                "type=geneve".into(),
            ],
            "not supported",
        ),
        (
            vec![
                "add-port".into(),
                r.br.clone(),
                "dvvhc0".into(),
                "--".into(),
                "set".into(),
                "interface".into(),
                "dvvhc0".into(),
                "type=dpdkvhostuserclient".into(),
            ],
            "vhost-server-path",
        ),
        (
            vec!["add-port".into(), r.br.clone(), missing.clone()],
            &missing,
        ),
        (
            vec![
                "add-port".into(),
                r.br.clone(),
                "dvdup0".into(),
                "--".into(),
                "set".into(),
                "interface".into(),
                "dvdup0".into(),
                "type=internal".into(),
                "ofport_request=7".into(),
            ],
            "in use by interface",
        ),
        (
            vec![
                "add-port".into(),
                r.br.clone(),
                "dvvlan0".into(),
                "vlan_mode=access".into(),
                "--".into(),
                "set".into(),
                "interface".into(),
                "dvvlan0".into(),
                "type=internal".into(),
            ],
            "needs a tag",
        ),
    ];
    let (sent, got) = pings_during(&ns1, "10.62.0.2", 300, || {
        for (args, _) in &bad {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (_, out) = r.db.vsctl(&args);
            // ovs-vsctl reads the new interface's error back and reports it, as with OVS.
            assert!(
                out.contains("Error detected while setting up"),
                "ovs-vsctl {}: {out}",
                args.join(" ")
            );
        }
    });
    assert_eq!((sent, got), (300, 300), "pings lost: {}", r.sw.log());
    for (args, want) in &bad {
        let name = &args[2];
        let err = r.iface(name, "error");
        assert!(err.contains(want), "{name}: error {err}, wanted {want}");
        assert_eq!(r.iface(name, "ofport"), "-1", "{name}");
    }
    assert_eq!(
        r.running_ports(),
        before,
        "a bad row changed the running ports"
    );
    // Fixing a row clears its error.
    r.db.must(&["set", "interface", "dvgen0", "type=internal"]);
    assert_eq!(r.iface("dvgen0", "error"), "[]");
    assert!(r.running_ports().iter().any(|(n, _)| n == "dvgen0"));
    // A file reload is refused while the database is the source.
    let (ok, out) = r.sw.dvsctl(&["switch", "reload"]);
    assert!(!ok && out.contains("come from the database"), "{out}");
}

#[test]
fn restarts_of_the_switch_and_of_ovsdb_server() {
    if skip("restarts_of_the_switch_and_of_ovsdb_server") {
        return;
    }
    let mut r = Rig::new();
    let (ns1, _v1) = r.host("10.63.0.1/24", 1, &["tag=5"]);
    let (_ns2, _v2) = r.host("10.63.0.2/24", 2, &["tag=5"]);
    assert!(ns1.ping_ok("10.63.0.2"));
    let before = r.running_ports();
    assert_eq!(
        before.len(),
        3,
        "two hosts and the bridge's own port: {before:?}"
    );

    // dvs-switchd restarts: every port comes back from the database with its number.
    r.sw.restart();
    assert!(
        wait(Duration::from_secs(10), || r.running_ports() == before),
        "after restart {:?}, before {before:?}: {}",
        r.running_ports(),
        r.sw.log()
    );
    assert!(ns1.ping_ok("10.63.0.2"), "{}", r.sw.log());

    // ovsdb-server goes away for a second: forwarding never stops.
    let (sent, got) = pings_during(&ns1, "10.63.0.2", 300, || {
        r.db.kill();
        std::thread::sleep(Duration::from_millis(1000));
        r.db.run();
    });
    assert_eq!((sent, got), (300, 300), "pings lost: {}", r.sw.log());
    // The switch reconnected and follows changes again (ovs-vsctl waits for cur_cfg).
    let ns3 = Netns::new("dvdb");
    let v3 = Veth::new(&ns3, vm_mac(3), Some("10.63.0.3/24"));
    r.db.must(&["add-port", &r.br, &v3.host, "tag=5"]);
    assert!(ns3.ping_ok("10.63.0.1"), "{}", r.sw.log());
    assert!(r.sw.log().contains("reconnecting"), "{}", r.sw.log());
}

/// ovsdb-server killed while ovs-vsctl adds ports one after another: some changes are
/// committed, one may be cut off. Once the database is back, the switch runs exactly the ports
/// the database has (nothing half-applied, nothing kept that the database lost) and `cur_cfg`
/// catches up.
#[test]
fn a_database_that_goes_away_mid_change_leaves_the_switch_consistent() {
    if skip("a_database_that_goes_away_mid_change_leaves_the_switch_consistent") {
        return;
    }
    let mut r = Rig::new();
    let tag = unique_tag();
    let names: Vec<String> = (0..40).map(|i| format!("dvm{tag}x{i}")).collect();
    let added = std::thread::scope(|s| {
        let adder = s.spawn(|| {
            let mut n = 0;
            for name in &names {
                let (ok, _) = r.db.vsctl(&[
                    "add-port",
                    &r.br,
                    name,
                    "--",
                    "set",
                    "interface",
                    name,
                    "type=internal",
                ]);
                if !ok {
                    break;
                }
                n += 1;
            }
            n
        });
        std::thread::sleep(Duration::from_millis(300));
        // While the adder is between (or inside) transactions.
        r.db.sigkill();
        adder.join().expect("adder")
    });
    assert!(added < names.len(), "the database outlived every change");
    std::thread::sleep(Duration::from_millis(500));
    r.db.kill();
    r.db.run();
    let in_db = || -> Vec<String> {
        let mut v: Vec<String> =
            r.db.must(&["list-ports", &r.br])
                .lines()
                .map(str::to_string)
                .collect();
        v.push(r.br.clone());
        v.sort();
        v
    };
    let running = || -> Vec<String> { r.running_ports().into_iter().map(|(n, _)| n).collect() };
    assert!(
        wait(Duration::from_secs(20), || running() == in_db()),
        "switch runs {:?}, database has {:?}: {}",
        running(),
        in_db(),
        r.sw.log()
    );
    assert!(
        wait(Duration::from_secs(10), || r.db.get(
            "Open_vSwitch",
            ".",
            "cur_cfg"
        ) == r.db.get(
            "Open_vSwitch",
            ".",
            "next_cfg"
        )),
        "cur_cfg never caught up"
    );
    // And it follows changes again.
    r.db.must(&["del-port", &r.br, &names[0]]);
    assert!(!running().contains(&names[0]));
}

/// libvirt's sequence for `<interface type='vhostuser'>` with `<virtualport
/// type='openvswitch'/>` (QEMU as the vhost-user server, the switch as client), with a real
/// guest: it forwards once plugged and loses its link once unplugged.
#[test]
fn libvirt_plugs_and_unplugs_a_qemu_guest() {
    if skip("libvirt_plugs_and_unplugs_a_qemu_guest")
        || !guest::available("libvirt_plugs_and_unplugs_a_qemu_guest")
    {
        return;
    }
    let r = Rig::new();
    let (ns, _v) = r.host("10.64.0.2/24", 2, &[]);
    let sock = r.db.dir.join("vhu1.sock");
    let mut vm = Guest::spawn_on(
        &guest::qemu_binary(),
        "vm1",
        &[Nic::new(&sock, true, vm_mac(1))],
    );
    assert!(
        wait(Duration::from_secs(20), || sock.exists()),
        "QEMU made no socket"
    );
    let (ok, out) = r.db.vsctl(&[
        "--timeout=5",
        "--",
        "--may-exist",
        "add-port",
        &r.br,
        "vhu1",
        "--",
        "set",
        "Interface",
        "vhu1",
        "type=dpdkvhostuserclient",
        &format!("options:vhost-server-path={}", sock.display()),
        "--",
        "set",
        "Interface",
        "vhu1",
        &format!(
            "external-ids:attached-mac=\"{}\"",
            tests::mac_str(vm_mac(1))
        ),
        "external-ids:iface-id=4b5c0f0e-5f5e-4d6c-9c33-0123456789ab",
        "external-ids:vm-id=11111111-2222-3333-4444-555555555555",
        "external-ids:iface-status=active",
    ]);
    assert!(ok, "plug: {out}");
    vm.wait_ready();
    vm.ip_up("eth0", "10.64.0.1/24");
    assert!(
        vm.wait_carrier("eth0", Duration::from_secs(30)),
        "no carrier: {}",
        r.sw.dvsctl(&["switch", "show"]).1
    );
    assert!(vm.ping("10.64.0.2"), "guest cannot reach the host");
    assert!(ns.ping_ok("10.64.0.1"));
    // The database shows what ovs-vswitchd shows for such a port.
    let status: String = r.iface("vhu1", "status");
    assert!(status.contains("mode=client"), "{status}");
    assert!(status.contains(&sock.display().to_string()), "{status}");
    // Written when the link came up (within a fraction of a second), not at the next
    // statistics round.
    assert!(
        wait(Duration::from_secs(2), || r.iface("vhu1", "link_state")
            == "up"),
        "link_state {}",
        r.iface("vhu1", "link_state")
    );
    assert!(
        wait(Duration::from_secs(12), || {
            // The key is absent until the first statistics round.
            let (_, s) =
                r.db.vsctl(&["get", "Interface", "vhu1", "statistics:rx_packets"]);
            s.trim().parse::<u64>().unwrap_or(0) > 0
        }),
        "statistics never written"
    );
    // Unplug as libvirt does: the guest loses its link.
    r.db.must(&["--timeout=5", "--", "--if-exists", "del-port", "vhu1"]);
    assert!(!r.running_ports().iter().any(|(n, _)| n == "vhu1"));
    assert!(
        wait(Duration::from_secs(20), || !vm.carrier("eth0")),
        "guest kept its carrier after unplug"
    );
    vm.kill();
}
