//! The agent against a real Debian ovsdb-server, a real dvs-switchd (`--db`) and a fake dvsm,
//! with namespace VMs on veths.
//!
//! One sequential scenario (the machine has two cores; every step reuses the same switch):
//! 1. a share with one DVS (uplink on a veth, two VM ports on veths, a third VM port on a NIC
//!    that does not exist) and a second DVS with a bond uplink: rows and flows appear, the agent
//!    acks the revision with exactly the two apply errors, the VMs ping each other, a frame with
//!    a foreign source MAC is dropped, status reaches dvsm;
//! 2. one port moves to another port group (VLAN) and gets another MAC: only its rows and its
//!    port-security flow change; every other flow keeps its cookie and its duration;
//! 3. `kill -9` of the agent while a ping runs, then a restart against the same fake dvsm: every
//!    ping is answered and no flow is rewritten (same cookies, durations and counters go on);
//! 4. the fake dvsm drops the connection: the agent registers again with `since` = the last
//!    revision and gets only the changes.

mod common;

use common::{obj, Agent, FakeDvsm};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tests::flows::{dump as dump_flows, FlowLine};
use tests::lab::pmd_core;
use tests::ovsdb::{self, OvsDb};
use tests::rawsock::RawSock;
use tests::{frames, mac_str, require_root, unique_tag, vm_mac, wait_until, Netns, Switchd, Veth};

fn switch_section() -> String {
    format!(
        "[switch]\npmd_cores = [{}]\npool_frames = 4096\npmd_sleep_max_us = 200\n",
        pmd_core()
    )
}

fn by_cookie(flows: &[FlowLine]) -> BTreeMap<u64, FlowLine> {
    flows
        .iter()
        .filter(|f| agent::layout::is_ours(f.cookie))
        .map(|f| (f.cookie, f.clone()))
        .collect()
}

fn origin_of(cookie: u64) -> u16 {
    (cookie >> 32) as u16
}

fn port(id: &str, pg: &str, mac: [u8; 6], iface: &str) -> proto::Object {
    obj(
        "port",
        json!({"id": id, "host": "h1", "port_group": pg, "mac": mac_str(mac),
               "backend": {"kind": "linux", "interface": iface}}),
    )
}

#[test]
fn agent_programs_the_switch_and_survives_restarts() {
    let test = "agent_programs_the_switch_and_survives_restarts";
    if !require_root(test) || !ovsdb::available(test) {
        return;
    }
    let db = OvsDb::start();
    let mut sw = Switchd::start_db(&switch_section(), &db.addr(), &db.dir);
    let ns1 = Netns::new("ag1");
    let ns2 = Netns::new("ag2");
    let nsu = Netns::new("agu");
    let v1 = Veth::new(&ns1, vm_mac(1), Some("10.77.0.1/24"));
    let v2 = Veth::new(&ns2, vm_mac(2), Some("10.77.0.2/24"));
    let vu = Veth::new(&nsu, vm_mac(9), None);
    let tag = unique_tag();
    let (d1, d2) = (format!("da{tag}"), format!("db{tag}"));
    let missing = format!("dvnone{tag}");

    let fake = FakeDvsm::start();
    let rev1 = fake.update(
        vec![
            obj("host", json!({"name": "h1"})),
            obj(
                "dvs",
                json!({"name": d1, "vlan_pool": "1-100", "hosts": ["h1"]}),
            ),
            obj(
                "dvs",
                json!({"name": d2, "vlan_pool": "200-300", "hosts": ["h1"]}),
            ),
            obj(
                "uplink",
                json!({"name": "ua", "dvs": d1, "host": "h1", "nic": vu.host}),
            ),
            obj(
                "uplink",
                json!({"name": "ub", "dvs": d2, "host": "h1",
                       "bond": {"members": ["x1", "x2"], "mode": "active-backup"}}),
            ),
            obj(
                "port_group",
                json!({"name": "pg10", "dvs": d1, "vlan": {"mode": "access", "vlan": 10}}),
            ),
            obj(
                "port_group",
                json!({"name": "pg20", "dvs": d1, "vlan": {"mode": "access", "vlan": 20}}),
            ),
            port("vm1", "pg10", vm_mac(1), &v1.host),
            port("vm2", "pg10", vm_mac(2), &v2.host),
            port("vm3", "pg10", vm_mac(3), &missing),
        ],
        Vec::new(),
    );
    let log = db.dir.join("agent.log");
    let mut agent = Agent::start(&fake.addr, "h1", &db.addr(), log);

    // 1. Registered, applied, acked with exactly the two errors.
    let ack = fake.wait_ack(rev1, Duration::from_secs(20));
    let errors: BTreeMap<String, String> = ack
        .errors
        .iter()
        .map(|e| (e.key.to_string(), e.message.clone()))
        .collect();
    assert_eq!(errors.len(), 2, "errors: {errors:?}");
    assert!(errors["port/vm3"].contains(&missing), "{errors:?}");
    assert_eq!(errors["uplink/ub"], "bonds are not supported yet");
    assert_eq!(fake.lock().registers[0].since, None);
    assert!(fake.lock().registers[0]
        .facts
        .nics
        .iter()
        .any(|n| n.name == v1.host));

    // Rows.
    assert_eq!(db.get("Bridge", &d1, "external_ids:dvs-owner"), "dvs-agent");
    assert_eq!(db.get("Bridge", &d1, "external_ids:dvs-dvs"), d1);
    assert_eq!(db.get("Bridge", &d1, "datapath_type"), "netdev");
    assert_eq!(db.get("Port", &v1.host, "tag"), "10");
    assert_eq!(db.get("Port", &v1.host, "vlan_mode"), "access");
    assert_eq!(db.get("Interface", &v1.host, "type"), "system");
    assert_eq!(
        db.get("Interface", &v1.host, "external_ids:iface-id"),
        "vm1"
    );
    assert_eq!(
        db.get("Interface", &v2.host, "external_ids:attached-mac"),
        format!("\"{}\"", mac_str(vm_mac(2)))
    );
    assert_eq!(db.get("Port", &v2.host, "external_ids:dvs-role"), "vm");
    assert_eq!(db.get("Port", &vu.host, "vlan_mode"), "trunk");
    assert_eq!(db.get("Port", &vu.host, "external_ids:dvs-role"), "uplink");
    let trunks = db.get("Port", &vu.host, "trunks");
    assert!(
        trunks.starts_with("[1, 2, 3") && trunks.ends_with("100]"),
        "{trunks}"
    );
    assert_eq!(db.get("Bridge", &d2, "ports"), "[]");

    // Flows: 8 table defaults, 4 per VM port (classify, MAC, MAC drop, binding pass), 1 for
    // the uplink.
    let mgmt = db.dir.join(format!("{d1}.mgmt"));
    assert!(
        wait_until(Duration::from_secs(20), || by_cookie(&dump_flows(&mgmt))
            .len()
            == 17),
        "flows: {:#?}\n{}",
        dump_flows(&mgmt),
        agent.log_text()
    );
    let flows = dump_flows(&mgmt);
    assert!(
        flows.iter().all(|f| agent::layout::is_ours(f.cookie)),
        "only the agent's flows: {flows:#?}"
    );
    let mac2 = mac_str(vm_mac(2));
    assert!(
        flows
            .iter()
            .any(|f| f.table == 10 && f.text.contains(&format!("dl_src={mac2}"))),
        "{flows:#?}"
    );

    // Traffic, and port security.
    assert!(ns1.ping_ok("10.77.0.2"), "vm1 -> vm2: {}", sw.log());
    let tx = RawSock::open(&ns1, "eth0");
    let rx = RawSock::open(&ns2, "eth0");
    rx.drain();
    let foreign = [0x02, 0xd5, 0, 0, 0, 0x99];
    tx.send(&frames::frame(frames::BROADCAST, foreign, None, 0xbad));
    tx.send(&frames::frame(frames::BROADCAST, vm_mac(1), None, 0x900d));
    let got: Vec<u32> = rx
        .collect(Duration::from_millis(800), |f| frames::parse(f).is_some())
        .iter()
        .filter_map(|f| frames::parse(f).map(|p| p.3))
        .collect();
    assert!(got.contains(&0x900d), "own MAC passes: {got:x?}");
    assert!(
        !got.contains(&0xbad),
        "foreign source MAC is dropped: {got:x?}"
    );

    // Status reaches dvsm.
    fake.wait(Duration::from_secs(10), "status with ofports", |f| {
        f.statuses.last().is_some_and(|s| {
            s.revision >= rev1
                && s.ports
                    .get("vm1")
                    .is_some_and(|p| p.link && p.ofport.is_some())
                && s.ports.get("vm3").is_some_and(|p| p.error.is_some())
                && s.uplinks.get("ua").is_some_and(|p| p.ofport.is_some())
                && s.uplinks.get("ub").is_some_and(|p| p.error.is_some())
        })
    });
    assert!(fake.lock().heartbeats >= 1);

    // Rows and flows that are not the agent's are left alone (checked at the end).
    let op = format!("op{tag}");
    db.must(&["add-port", &d1, &op]);
    let of = |args: &[&str]| {
        let mut a = vec!["-O", "OpenFlow13"];
        a.extend_from_slice(args);
        tests::run("ovs-ofctl", &a)
    };
    let target = format!("unix:{}", mgmt.display());
    of(&[
        "add-flow",
        &target,
        "table=50,priority=5,cookie=0x1,actions=drop",
    ]);

    // 2. vm2 moves to VLAN 20 with a new MAC: only vm2's row and its port-security flow change.
    let before = by_cookie(&dump_flows(&mgmt));
    let uuid1 = db.get("Port", &v1.host, "_uuid");
    let uuid2 = db.get("Port", &v2.host, "_uuid");
    std::thread::sleep(Duration::from_millis(1100));
    let rev2 = fake.update(vec![port("vm2", "pg20", vm_mac(22), &v2.host)], Vec::new());
    fake.wait_ack(rev2, Duration::from_secs(10));
    assert!(wait_until(Duration::from_secs(10), || db
        .get("Port", &v2.host, "tag")
        == "20"));
    let mac22 = mac_str(vm_mac(22));
    assert!(
        wait_until(Duration::from_secs(10), || dump_flows(&mgmt)
            .iter()
            .any(|f| f.text.contains(&mac22))),
        "vm2's new MAC in table 10"
    );
    let after = by_cookie(&dump_flows(&mgmt));
    let vm2_bits = agent::layout::origin_bits("port/vm2");
    for (c, f) in &before {
        if origin_of(*c) == vm2_bits && f.table == 10 && f.text.contains(&mac2) {
            assert!(
                !after.contains_key(c),
                "vm2's old port-security flow is gone"
            );
            continue;
        }
        let a = after
            .get(c)
            .unwrap_or_else(|| panic!("flow {:#x} was rewritten: {after:#?}", c));
        assert!(
            a.duration >= f.duration + 1.0,
            "flow {} kept counting: {} -> {}",
            f.text,
            f.duration,
            a.duration
        );
    }
    assert_eq!(after.len(), before.len());
    assert_eq!(
        db.get("Port", &v1.host, "_uuid"),
        uuid1,
        "vm1's row untouched"
    );
    assert_eq!(db.get("Port", &v1.host, "tag"), "10");
    assert_eq!(
        db.get("Port", &v2.host, "_uuid"),
        uuid2,
        "vm2's row updated in place"
    );
    assert!(!ns1.ping("10.77.0.2", 2), "VLAN 10 and 20 are isolated");

    // Back to VLAN 10 and its real MAC.
    let rev3 = fake.update(vec![port("vm2", "pg10", vm_mac(2), &v2.host)], Vec::new());
    fake.wait_ack(rev3, Duration::from_secs(10));
    assert!(wait_until(Duration::from_secs(10), || {
        db.get("Port", &v2.host, "tag") == "10"
            && dump_flows(&mgmt).iter().any(|f| f.text.contains(&mac2))
    }));
    assert!(ns1.ping_ok("10.77.0.2"), "vm1 -> vm2 again");

    // 3. kill -9 while pinging; a restarted agent adopts what is installed.
    let before = by_cookie(&dump_flows(&mgmt));
    let registers = fake.lock().registers.len();
    let acks = fake.lock().acks.len();
    let log_len = agent.log_text().len();
    let (sent, got) = std::thread::scope(|s| {
        let ping = s.spawn(|| {
            ns1.exec(&[
                "ping",
                "-n",
                "-q",
                "-c",
                "50",
                "-i",
                "0.1",
                "-W",
                "1",
                "10.77.0.2",
            ])
        });
        std::thread::sleep(Duration::from_millis(500));
        agent.kill9();
        std::thread::sleep(Duration::from_millis(500));
        agent.launch();
        fake.wait(Duration::from_secs(10), "re-registration", |f| {
            f.registers.len() > registers && f.acks.len() > acks
        });
        let (_, out) = ping.join().expect("ping thread");
        tests::netns::ping_counts(&out)
    });
    assert_eq!(sent, got, "every ping answered across the agent's restart");
    assert_eq!(fake.lock().registers.last().and_then(|r| r.since), None);
    // Give the restarted agent a few full rounds (it checks flows every 3 s).
    std::thread::sleep(Duration::from_secs(4));
    let after = by_cookie(&dump_flows(&mgmt));
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "same flows"
    );
    for (c, f) in &before {
        let a = &after[c];
        assert!(a.duration > f.duration + 3.0, "not rewritten: {}", a.text);
        assert!(a.packets >= f.packets, "counters go on: {}", a.text);
    }
    let restarted = agent.log_text()[log_len..].to_string();
    assert!(
        restarted.contains("flows: 0 added, 0 deleted"),
        "the restarted agent adopted the flows without adding or deleting any:\n{restarted}"
    );
    assert!(
        !restarted
            .lines()
            .any(|l| l.contains(" added") && !l.contains(" 0 added")),
        "the restarted agent added no flow:\n{restarted}"
    );

    // 4. dvsm drops the connection: re-register with since = the last revision.
    let registers = fake.lock().registers.len();
    let t0 = Instant::now();
    fake.drop_conn();
    fake.wait(Duration::from_secs(10), "reconnection", |f| {
        f.registers.len() > registers
    });
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "backoff starts small"
    );
    assert_eq!(
        fake.lock().registers.last().and_then(|r| r.since),
        Some(rev3)
    );
    // And it keeps working on the new session.
    let rev4 = fake.update(
        vec![obj(
            "port_group",
            json!({"name": "pg20", "dvs": d1, "vlan": {"mode": "access", "vlan": 21}}),
        )],
        Vec::new(),
    );
    fake.wait_ack(rev4, Duration::from_secs(10));
    assert!(ns1.ping_ok("10.77.0.2"));
    // The operator's port and flow are still there.
    assert_eq!(db.get("Port", &op, "name"), op);
    assert!(
        dump_flows(&mgmt).iter().any(|f| f.cookie == 1),
        "the operator's flow is kept"
    );

    // 5. A restarted dvs-switchd has lost its flows: the agent puts them back.
    let before = by_cookie(&dump_flows(&mgmt));
    sw.restart();
    assert!(
        wait_until(Duration::from_secs(15), || by_cookie(&dump_flows(&mgmt))
            .keys()
            .eq(before.keys())),
        "flows reinstalled after a switch restart: {:#?}",
        dump_flows(&mgmt)
    );
    assert!(ns1.ping_ok("10.77.0.2"), "forwarding again: {}", sw.log());
    eprintln!("dvs-agent log:\n{}", agent.log_text());
    drop(agent);
    drop(sw);
}
