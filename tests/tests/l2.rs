//! End-to-end L2 behaviour of dvs-switchd over AF_PACKET veths: VLAN access/trunk semantics,
//! learning, flooding, static flows over NORMAL, MAC moves, traces. Every VM is a network namespace
//! made by the test; tagged frames are sent and captured with raw sockets (no 802.1Q module here).

use serde_json::json;
use std::time::Duration;
use tests::frames::{frame, parse, BROADCAST};
use tests::lab::{Lab, VmSpec};
use tests::{mac_str, require_root, RawSock};

const WINDOW: Duration = Duration::from_millis(700);

fn ours(f: &[u8], marker: u32) -> bool {
    parse(f).is_some_and(|(_, _, _, m)| m == marker)
}

#[test]
fn same_vlan_ping_works_and_other_vlan_is_isolated() {
    if !require_root("same_vlan_ping_works_and_other_vlan_is_isolated") {
        return;
    }
    let lab = Lab::new(
        &[
            VmSpec::access("vm1", 10, "10.0.0.1/24"),
            VmSpec::access("vm2", 10, "10.0.0.2/24"),
            VmSpec::access("vm3", 20, "10.0.0.3/24"),
        ],
        &[],
    );
    let (vm1, vm3) = (lab.vm("vm1"), lab.vm("vm3"));
    assert!(
        vm1.ns.ping_ok("10.0.0.2"),
        "vm1 -> vm2 (same VLAN) must work"
    );
    // Same subnet, different VLAN: the ARP request never reaches vm3.
    let cap = RawSock::open(&vm3.ns, "eth0");
    cap.drain();
    assert!(
        !vm1.ns.ping("10.0.0.3", 2),
        "vm1 -> vm3 (VLAN 20) must fail"
    );
    let leaked = cap.collect(WINDOW, |f| f.len() >= 12 && f[6..12] == vm1.mac);
    assert!(
        leaked.is_empty(),
        "vm3 saw {} frames from vm1",
        leaked.len()
    );
    let s1 = lab.sw.port_stats("vm1");
    assert!(s1["rx_packets"].as_u64().unwrap() > 0);
    assert!(lab.sw.port_stats("vm2")["tx_packets"].as_u64().unwrap() > 0);
}

#[test]
fn broadcast_stays_in_its_vlan_and_tagged_frames_on_access_are_dropped() {
    if !require_root("broadcast_stays_in_its_vlan_and_tagged_frames_on_access_are_dropped") {
        return;
    }
    let lab = Lab::new(
        &[
            VmSpec::access("vm1", 10, "10.0.1.1/24"),
            VmSpec::access("vm2", 10, "10.0.1.2/24"),
            VmSpec::access("vm3", 20, "10.0.1.3/24"),
        ],
        &[],
    );
    let (vm1, vm2, vm3) = (lab.vm("vm1"), lab.vm("vm2"), lab.vm("vm3"));
    let tx = RawSock::open(&vm1.ns, "eth0");
    let c2 = RawSock::open(&vm2.ns, "eth0");
    let c3 = RawSock::open(&vm3.ns, "eth0");
    for i in 0..10 {
        tx.send(&frame(BROADCAST, vm1.mac, None, 100 + i));
    }
    let got2 = c2.collect(WINDOW, |f| parse(f).is_some());
    assert_eq!(got2.len(), 10, "vm2 (same VLAN) gets every broadcast");
    assert!(
        got2.iter().all(|f| parse(f).unwrap().2.is_none()),
        "untagged on access"
    );
    assert!(
        c3.collect(WINDOW, |f| parse(f).is_some()).is_empty(),
        "VLAN 20 sees none"
    );

    // VLAN hopping: vm1 tags its own frames with VLAN 20.
    let before = lab.sw.drops("vlan_tagged_on_access");
    for i in 0..5 {
        tx.send(&frame(BROADCAST, vm1.mac, Some(20), 200 + i));
    }
    assert!(
        c3.collect(WINDOW, |f| parse(f).is_some()).is_empty(),
        "no hop into VLAN 20"
    );
    assert!(c2.collect(WINDOW, |f| parse(f).is_some()).is_empty());
    assert_eq!(lab.sw.drops("vlan_tagged_on_access") - before, 5);
    assert!(lab.sw.port_stats("vm1")["rx_dropped"].as_u64().unwrap() >= 5);
}

#[test]
fn trunk_carries_two_tagged_vlans_and_nothing_else() {
    if !require_root("trunk_carries_two_tagged_vlans_and_nothing_else") {
        return;
    }
    let lab = Lab::new(
        &[
            VmSpec::access("vm1", 10, "10.0.2.1/24"),
            VmSpec::access("vm2", 20, "10.0.2.2/24"),
            VmSpec::access("vm3", 30, "10.0.2.3/24"),
            VmSpec::trunk("trunk", "10,20", None),
        ],
        &[],
    );
    let (vm1, vm2, vm3, tr) = (lab.vm("vm1"), lab.vm("vm2"), lab.vm("vm3"), lab.vm("trunk"));
    let t = RawSock::open(&tr.ns, "eth0");
    let c1 = RawSock::open(&vm1.ns, "eth0");
    let c2 = RawSock::open(&vm2.ns, "eth0");
    let c3 = RawSock::open(&vm3.ns, "eth0");

    // From the trunk: VLAN 10 reaches vm1 untagged, VLAN 20 reaches vm2, others nowhere.
    t.send(&frame(BROADCAST, tr.mac, Some(10), 1));
    t.send(&frame(BROADCAST, tr.mac, Some(20), 2));
    t.send(&frame(BROADCAST, tr.mac, Some(30), 3));
    t.send(&frame(BROADCAST, tr.mac, None, 4));
    let g1 = c1.collect(WINDOW, |f| parse(f).is_some());
    let g2 = c2.collect(WINDOW, |f| parse(f).is_some());
    let g3 = c3.collect(WINDOW, |f| parse(f).is_some());
    assert_eq!(
        g1.iter().map(|f| parse(f).unwrap().3).collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(parse(&g1[0]).unwrap().2, None, "access side is untagged");
    assert_eq!(
        g2.iter().map(|f| parse(f).unwrap().3).collect::<Vec<_>>(),
        vec![2]
    );
    assert!(g3.is_empty(), "VLAN 30 is not on the trunk");
    assert_eq!(lab.sw.drops("vlan_not_allowed"), 1);
    assert_eq!(lab.sw.drops("untagged_on_trunk"), 1);

    // Towards the trunk: vm1's broadcast arrives tagged 10, vm2's tagged 20, vm3's not at all.
    let r1 = RawSock::open(&vm1.ns, "eth0");
    r1.send(&frame(BROADCAST, vm1.mac, None, 11));
    RawSock::open(&vm2.ns, "eth0").send(&frame(BROADCAST, vm2.mac, None, 12));
    RawSock::open(&vm3.ns, "eth0").send(&frame(BROADCAST, vm3.mac, None, 13));
    let got: Vec<(Option<u16>, u32)> = t
        .collect(WINDOW, |f| parse(f).is_some())
        .iter()
        .map(|f| {
            let p = parse(f).unwrap();
            (p.2, p.3)
        })
        .collect();
    assert!(got.contains(&(Some(10), 11)), "{got:?}");
    assert!(got.contains(&(Some(20), 12)), "{got:?}");
    assert!(!got.iter().any(|(_, m)| *m == 13), "{got:?}");
    assert_eq!(got.len(), 2, "{got:?}");
}

#[test]
fn learned_unicast_reaches_only_the_learned_port() {
    if !require_root("learned_unicast_reaches_only_the_learned_port") {
        return;
    }
    let lab = Lab::new(
        &[
            VmSpec::access("vm1", 10, "10.0.3.1/24"),
            VmSpec::access("vm2", 10, "10.0.3.2/24"),
            VmSpec::access("vm3", 10, "10.0.3.3/24"),
        ],
        &[],
    );
    let (vm1, vm2, vm3) = (lab.vm("vm1"), lab.vm("vm2"), lab.vm("vm3"));
    let s1 = RawSock::open(&vm1.ns, "eth0");
    let s2 = RawSock::open(&vm2.ns, "eth0");
    let c2 = RawSock::open(&vm2.ns, "eth0");
    let c3 = RawSock::open(&vm3.ns, "eth0");
    // vm2 announces itself, so the switch learns its MAC.
    s2.send(&frame(BROADCAST, vm2.mac, None, 1));
    std::thread::sleep(Duration::from_millis(200));
    c2.drain();
    c3.drain();
    let macs = lab.sw.call("mac/show", json!({"bridge": "br0"}));
    assert!(
        macs.as_array()
            .unwrap()
            .iter()
            .any(|m| m["mac"] == mac_str(vm2.mac) && m["port"] == "vm2" && m["vlan"] == 10),
        "{macs}"
    );
    let tx3_before = lab.sw.port_stats("vm3")["tx_packets"].as_u64().unwrap();
    for i in 0..50 {
        s1.send(&frame(vm2.mac, vm1.mac, None, 1000 + i));
    }
    let g2 = c2.collect(WINDOW, |f| parse(f).is_some_and(|p| p.3 >= 1000));
    let g3 = c3.collect(WINDOW, |f| parse(f).is_some_and(|p| p.3 >= 1000));
    assert_eq!(g2.len(), 50, "vm2 receives every unicast frame");
    assert!(g3.is_empty(), "vm3 must see none of vm2's unicast");
    let tx3_after = lab.sw.port_stats("vm3")["tx_packets"].as_u64().unwrap();
    assert!(
        tx3_after - tx3_before < 50,
        "vm3's port counters show the unicast went elsewhere"
    );
    // The cache served most packets.
    let pmd = lab.sw.call("pmd/stats", json!({}));
    assert!(pmd[0]["emc_hits"].as_u64().unwrap() > 0, "{pmd}");
}

#[test]
fn static_drop_flow_overrides_normal_and_trace_explains_it() {
    if !require_root("static_drop_flow_overrides_normal_and_trace_explains_it") {
        return;
    }
    let lab = Lab::new(
        &[
            VmSpec::access("vm1", 10, "10.0.4.1/24"),
            VmSpec::access("vm2", 10, "10.0.4.2/24"),
            VmSpec::access("vm3", 10, "10.0.4.3/24"),
        ],
        &["table=0,priority=100,ip,nw_dst=10.0.4.2,actions=drop"],
    );
    let vm1 = lab.vm("vm1");
    assert!(
        vm1.ns.ping_ok("10.0.4.3"),
        "other IPs still forward through NORMAL"
    );
    assert!(!vm1.ns.ping("10.0.4.2", 3), "the drop flow blocks 10.0.4.2");
    let flows = lab.sw.call("flow/dump", json!({"bridge": "br0"}));
    let line = flows["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f.as_str())
        .find(|f| f.contains("nw_dst=10.0.4.2"))
        .expect("drop flow listed")
        .to_string();
    let n: u64 = line
        .split("n_packets=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(n >= 3, "the drop flow counted the pings: {line}");
    assert!(lab.sw.drops("rule_drop") >= 3);

    let (ok, out) = lab.sw.dvsctl(&[
        "switch",
        "trace",
        "br0",
        &format!(
            "in_port=vm1,dl_src={},ip,nw_src=10.0.4.1,nw_dst=10.0.4.2",
            mac_str(vm1.mac)
        ),
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("nw_dst=10.0.4.2"),
        "trace names the matching rule:\n{out}"
    );
    assert!(out.contains("drop"), "trace says drop:\n{out}");
    assert!(out.contains("rule_drop"), "trace gives the reason:\n{out}");
    let (ok, out) = lab
        .sw
        .dvsctl(&["switch", "trace", "br0", "in_port=vm1,dl_vlan=20"]);
    assert!(ok, "{out}");
    assert!(out.contains("vlan_tagged_on_access"), "{out}");
}

#[test]
fn mac_move_is_followed() {
    if !require_root("mac_move_is_followed") {
        return;
    }
    let lab = Lab::new(
        &[
            VmSpec::access("vm1", 10, "10.0.5.1/24"),
            VmSpec::access("vm2", 10, "10.0.5.2/24"),
            VmSpec::access("vm3", 10, "10.0.5.3/24"),
        ],
        &[],
    );
    let (vm1, vm2, vm3) = (lab.vm("vm1"), lab.vm("vm2"), lab.vm("vm3"));
    let s1 = RawSock::open(&vm1.ns, "eth0");
    let c2 = RawSock::open(&vm2.ns, "eth0");
    let c3 = RawSock::open(&vm3.ns, "eth0");
    let roaming = [0x02, 0xd5, 0xee, 0, 0, 1];
    // The roaming MAC first lives behind vm2...
    RawSock::open(&vm2.ns, "eth0").send(&frame(BROADCAST, roaming, None, 1));
    std::thread::sleep(Duration::from_millis(200));
    c2.drain();
    c3.drain();
    s1.send(&frame(roaming, vm1.mac, None, 10));
    assert_eq!(c2.collect(WINDOW, |f| ours(f, 10)).len(), 1);
    assert!(c3.collect(WINDOW, |f| ours(f, 10)).is_empty());
    // ...then announces itself behind vm3 (a VM that migrated, with its GARP).
    RawSock::open(&vm3.ns, "eth0").send(&frame(BROADCAST, roaming, None, 2));
    std::thread::sleep(Duration::from_millis(200));
    c2.drain();
    c3.drain();
    let macs = lab.sw.call("mac/show", json!({"bridge": "br0"}));
    assert!(
        macs.as_array()
            .unwrap()
            .iter()
            .any(|m| m["mac"] == mac_str(roaming) && m["port"] == "vm3"),
        "{macs}"
    );
    s1.send(&frame(roaming, vm1.mac, None, 11));
    assert_eq!(
        c3.collect(WINDOW, |f| ours(f, 11)).len(),
        1,
        "follows the move"
    );
    assert!(
        c2.collect(WINDOW, |f| ours(f, 11)).is_empty(),
        "old port gets nothing"
    );
}

#[test]
fn mac_limit_drops_unlearnable_sources() {
    if !require_root("mac_limit_drops_unlearnable_sources") {
        return;
    }
    let lab = Lab::with_extra(
        &[
            VmSpec::access("vm1", 10, "10.0.6.1/24"),
            VmSpec::access("vm2", 10, "10.0.6.2/24"),
        ],
        &[],
        "mac_limit = 2",
    );
    let (vm1, vm2) = (lab.vm("vm1"), lab.vm("vm2"));
    let s1 = RawSock::open(&vm1.ns, "eth0");
    let c2 = RawSock::open(&vm2.ns, "eth0");
    for i in 0..6u8 {
        s1.send(&frame(
            BROADCAST,
            [0x02, 0xd5, 0xaa, 0, 0, i],
            None,
            300 + u32::from(i),
        ));
    }
    let got = c2.collect(WINDOW, |f| parse(f).is_some_and(|p| p.3 >= 300));
    assert_eq!(got.len(), 2, "only the first two source MACs pass");
    assert_eq!(lab.sw.drops("mac_limit"), 4);
}

#[test]
fn jumbo_frames_cross_the_switch() {
    if !require_root("jumbo_frames_cross_the_switch") {
        return;
    }
    let lab = Lab::with_mtu(
        &[
            VmSpec::access("vm1", 10, "10.0.8.1/24"),
            VmSpec::access("vm2", 10, "10.0.8.2/24"),
        ],
        &[],
        9000,
    );
    let vm1 = lab.vm("vm1");
    // 8972 bytes of ICMP payload = a 9000-byte IP packet, DF set: no fragmentation allowed.
    let (ok, out) = vm1.ns.exec(&[
        "ping", "-n", "-q", "-c", "3", "-W", "1", "-i", "0.2", "-M", "do", "-s", "8972", "10.0.8.2",
    ]);
    let ok = ok
        || vm1
            .ns
            .exec(&[
                "ping", "-n", "-q", "-c", "2", "-W", "1", "-M", "do", "-s", "8972", "10.0.8.2",
            ])
            .0;
    assert!(ok, "9000-byte pings must pass: {out}");
    let s2 = lab.sw.port_stats("vm2");
    assert!(s2["tx_bytes"].as_u64().unwrap() > 2 * 9000, "{s2}");
    assert_eq!(lab.sw.port_stats("vm1")["rx_errors"], 0);
}

#[test]
fn afxdp_port_forwards_to_an_afpacket_port() {
    if !require_root("afxdp_port_forwards_to_an_afpacket_port") {
        return;
    }
    let lab = Lab::new(
        &[
            VmSpec::access("vm1", 10, "10.0.9.1/24").kind("afxdp"),
            VmSpec::access("vm2", 10, "10.0.9.2/24"),
        ],
        &[],
    );
    assert!(lab.vm("vm1").ns.ping_ok("10.0.9.2"), "{}", lab.sw.log());
    let show = lab.sw.call("switch/show", json!({}));
    assert_eq!(show["bridges"][0]["ports"][0]["kind"], "afxdp", "{show}");
    assert!(lab.sw.port_stats("vm1")["rx_packets"].as_u64().unwrap() > 0);
}

#[test]
fn dpdk_port_forwards_to_an_afpacket_port() {
    if !require_root("dpdk_port_forwards_to_an_afpacket_port") {
        return;
    }
    let lab = Lab::new(
        &[
            VmSpec::access("vm1", 10, "10.0.10.1/24").kind("dpdk"),
            VmSpec::access("vm2", 10, "10.0.10.2/24"),
        ],
        &[],
    );
    assert!(lab.vm("vm1").ns.ping_ok("10.0.10.2"), "{}", lab.sw.log());
    let show = lab.sw.call("switch/show", json!({}));
    assert_eq!(show["bridges"][0]["ports"][0]["kind"], "dpdk", "{show}");
    assert!(lab.sw.port_stats("vm1")["tx_packets"].as_u64().unwrap() > 0);
}
