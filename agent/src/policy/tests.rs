use super::*;
use crate::layout::{is_ours, origin_bits};
use crate::plan::{PortPlan, PortPolicy, PortVlan};
use openflow::meter::{OFPMF_BURST, OFPMF_KBPS, OFPMF_PKTPS, OFPMF_STATS};
use openflow::MeterBand;
use proto::objects::{Qos, Suppression};
use proto::{Key, Kind};

fn vm(name: &str, id: &str, mac: &str, group: &str) -> PortPlan {
    PortPlan {
        name: name.into(),
        key: Key::new(Kind::Port, id),
        role: Role::Vm {
            id: id.into(),
            mac: mac.into(),
        },
        iface_type: "system",
        options: BTreeMap::new(),
        vlan: PortVlan {
            tag: Some(10),
            trunks: Vec::new(),
            mode: "access",
        },
        policy: PortPolicy {
            group: group.into(),
            ..PortPolicy::default()
        },
    }
}

fn bridge() -> BridgePlan {
    let mut ports = BTreeMap::new();
    for p in [
        vm("v1", "vm1", "02:00:00:00:00:01", "a"),
        vm("v2", "vm2", "02:00:00:00:00:02", "b"),
    ] {
        ports.insert(p.name.clone(), p);
    }
    BridgePlan {
        dvs: "d1".into(),
        ports,
        mtu: 1500,
        egress_kbps: None,
    }
}

fn ofp(n: &str) -> Option<u32> {
    match n {
        "v1" => Some(1),
        "v2" => Some(2),
        "up" => Some(3),
        _ => None,
    }
}

/// Apply `f` to the policy of every port of group `g`.
fn set(b: &mut BridgePlan, g: &str, f: impl Fn(&mut PortPolicy)) {
    for p in b.ports.values_mut() {
        if p.policy.group == g {
            f(&mut p.policy);
        }
    }
}

fn everything(b: &mut BridgePlan) {
    set(b, "a", |p| {
        p.ip_mac_binding = true;
        p.dhcp_isolation = true;
        p.ips = vec!["10.0.0.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
        p.broadcast = Some(Suppression {
            pps: Some(100),
            kbps: None,
        });
        p.qos_in = Some(Qos {
            average_kbps: 1000,
            peak_kbps: 0,
            burst_kb: 200,
            priority: 5,
        });
    });
}

fn of_port(c: &Compiled, id: &str) -> Vec<Flow> {
    let bits = origin_bits(&format!("port/{id}"));
    c.flows
        .iter()
        .filter(|(k, _)| (*k >> 32) as u16 == bits)
        .map(|(_, f)| f.clone())
        .collect()
}

fn has(flows: &[Flow], table: u8, k: u8) -> usize {
    flows
        .iter()
        .filter(|f| f.table == table && f.kind == k)
        .count()
}

#[test]
fn cookies_name_origin_and_are_stable() {
    let b = bridge();
    let f = compile(&b, &ofp).flows;
    // 8 table defaults; per VM port: classify, MAC, MAC drop, binding pass.
    assert_eq!(f.len(), 8 + 2 * 4);
    assert!(f.keys().all(|c| is_ours(*c)));
    assert_eq!(
        f.keys().collect::<Vec<_>>(),
        compile(&b, &ofp).flows.keys().collect::<Vec<_>>(),
        "no per-process randomness"
    );
    assert_eq!(of_port(&compile(&b, &ofp), "vm1").len(), 4);
    // A port without an ofport has no flows; the others' cookies do not move.
    let only1 = |n: &str| (n == "v1").then_some(1);
    let g = compile(&b, &only1).flows;
    assert_eq!(g.len(), 12);
    assert!(g.keys().all(|c| f.contains_key(c)));
    // A different number changes that port's cookies only.
    let moved = |n: &str| match n {
        "v1" => Some(1),
        _ => Some(7),
    };
    let h = compile(&b, &moved).flows;
    assert_eq!(h.keys().filter(|c| !f.contains_key(c)).count(), 4);
}

#[test]
fn every_flow_is_valid_openflow_and_kinds_are_unique_per_drop() {
    let mut b = bridge();
    everything(&mut b);
    b.egress_kbps = Some(10_000);
    let c = compile(&b, &ofp);
    for f in c.flows.values() {
        let fm = crate::ofp::add_mod(f);
        let (m, ins) =
            openflow::convert::flow_mod_parts(&fm).unwrap_or_else(|e| panic!("{f:?}: {e:?}"));
        m.validate().unwrap_or_else(|e| panic!("{f:?}: {e:?}"));
        openflow::convert::check_goto(f.table, 255, &ins).unwrap();
        // Drops have no instructions, and only drop kinds name a reason.
        assert_eq!(
            f.instructions.is_empty() && f.kind != kind::DEFAULT,
            kind::reason(f.kind).is_some(),
            "{f:?}"
        );
    }
    let reasons: Vec<u8> = [0x11u8, 0x28, 0x29, 0x2a, 0x2b, 0x30, 0x31, 0x32].to_vec();
    let names: std::collections::BTreeSet<_> =
        reasons.iter().filter_map(|k| kind::reason(*k)).collect();
    assert_eq!(names.len(), reasons.len(), "one reason per kind");
}

#[test]
fn binding_allows_the_bound_addresses_and_drops_the_rest() {
    let mut b = bridge();
    everything(&mut b);
    let c = compile(&b, &ofp);
    let f1 = of_port(&c, "vm1");
    let f2 = of_port(&c, "vm2");
    for k in [kind::IP_SPOOF, kind::ARP_SPOOF, kind::IPV6_SPOOF] {
        assert_eq!(has(&f1, table::BINDING, k), 1, "{k:#x}");
        assert_eq!(has(&f2, table::BINDING, k), 0, "{k:#x}");
    }
    assert_eq!(has(&f1, table::BINDING, kind::ND_SPOOF), 2);
    assert_eq!(has(&f1, table::BINDING, kind::BIND_IPV4), 1);
    assert_eq!(has(&f1, table::BINDING, kind::BIND_ARP), 2, "ARP and probe");
    assert_eq!(has(&f1, table::BINDING, kind::BIND_DHCP), 1);
    // v6 sources: 2001:db8::1 and the link-local; plus ICMPv6 from ::.
    assert_eq!(has(&f1, table::BINDING, kind::BIND_IPV6), 3);
    // NS: 2 sources x (MAC, none) + DAD; NA: 2 targets x (MAC, none).
    assert_eq!(has(&f1, table::BINDING, kind::BIND_ND), 4 + 1 + 4);
    // Every VM port passes the rest on.
    assert_eq!(has(&f1, table::BINDING, kind::BIND_PASS), 1);
    assert_eq!(has(&f2, table::BINDING, kind::BIND_PASS), 1);
    // The link-local address of 02:00:00:00:00:01.
    let ll = binding::link_local(mac_value("02:00:00:00:00:01"));
    assert_eq!(ll.to_string(), "fe80::ff:fe00:1");
    let ll = u128::from(ll);
    assert!(f1
        .iter()
        .any(|f| f.kind == kind::BIND_IPV6 && f.matches.contains(&m(Field::Ipv6Src, ll))));
    assert!(f1.iter().any(|f| f.kind == kind::BIND_ND
        && f.matches.contains(&m(Field::NdTarget, ll))
        && f.matches.contains(&m(Field::NdTll, 0))));
    // Priorities: ND checks above the IPv6 allows, drops below them.
    let prio = |k: u8| f1.iter().find(|f| f.kind == k).map(|f| f.priority).unwrap();
    assert!(prio(kind::BIND_ND) > prio(kind::ND_SPOOF));
    assert!(prio(kind::ND_SPOOF) > prio(kind::BIND_IPV6));
    assert!(prio(kind::BIND_IPV4) > prio(kind::IP_SPOOF));
    assert!(prio(kind::IP_SPOOF) > prio(kind::BIND_PASS));
}

#[test]
fn dhcp_isolation_drops_servers_and_router_advertisements() {
    let mut b = bridge();
    everything(&mut b);
    let c = compile(&b, &ofp);
    let f1 = of_port(&c, "vm1");
    for k in [
        kind::DHCP_SERVER,
        kind::DHCPV6_SERVER,
        kind::ROUTER_ADVERTISEMENT,
    ] {
        assert_eq!(has(&f1, table::DHCP_GUARD, k), 1);
        assert_eq!(has(&of_port(&c, "vm2"), table::DHCP_GUARD, k), 0);
    }
    let rs = f1.iter().find(|f| f.kind == kind::DHCP_SERVER).unwrap();
    assert!(rs.matches.contains(&m(Field::UdpSrc, 67)));
}

#[test]
fn a_group_setting_changes_only_its_ports_flows_in_its_table() {
    let base = compile(&bridge(), &ofp).flows;
    let mut b = bridge();
    set(&mut b, "a", |p| p.dhcp_isolation = true);
    let iso = compile(&b, &ofp).flows;
    let added: Vec<&Flow> = iso
        .iter()
        .filter(|(c, _)| !base.contains_key(c))
        .map(|(_, f)| f)
        .collect();
    assert_eq!(added.len(), 3);
    assert!(added
        .iter()
        .all(|f| f.origin == "port/vm1" && f.table == table::DHCP_GUARD));
    assert!(base.keys().all(|c| iso.contains_key(c)), "nothing removed");
    // Binding on group b: vm1's flows untouched.
    set(&mut b, "b", |p| {
        p.ip_mac_binding = true;
        p.ips = vec!["10.0.0.2".parse().unwrap()];
    });
    let bound = compile(&b, &ofp).flows;
    for (c, f) in &iso {
        if f.origin != "port/vm2" {
            assert!(bound.contains_key(c), "{f:?} kept its cookie");
        }
    }
    assert!(bound
        .values()
        .filter(|f| !iso.contains_key(&f.cookie()))
        .all(|f| f.origin == "port/vm2" && f.table == table::BINDING));
    // A port's new address changes only its binding flows.
    set(&mut b, "b", |p| p.ips = vec!["10.0.0.3".parse().unwrap()]);
    let readdr = compile(&b, &ofp).flows;
    let changed: Vec<&Flow> = readdr
        .values()
        .filter(|f| !bound.contains_key(&f.cookie()))
        .collect();
    assert_eq!(
        changed.len(),
        3,
        "the IPv4 allow, the ARP allow and the ARP probe allow: {changed:#?}"
    );
    assert!(changed.iter().all(|f| f.table == table::BINDING));
}

#[test]
fn meters_have_port_derived_ids_and_the_group_rates() {
    let mut b = bridge();
    everything(&mut b);
    let c = compile(&b, &ofp);
    assert_eq!(c.meters.keys().copied().collect::<Vec<_>>(), [5, 6]);
    let bc = &c.meters[&5];
    assert_eq!(bc.flags, OFPMF_PKTPS | OFPMF_STATS);
    assert_eq!(
        bc.bands,
        [MeterBand::Drop {
            rate: 100,
            burst_size: 0
        }]
    );
    assert_eq!(bc.reason, "broadcast_suppressed");
    let po = &c.meters[&6];
    assert_eq!(po.flags, OFPMF_KBPS | OFPMF_STATS | OFPMF_BURST);
    assert_eq!(
        po.bands,
        [MeterBand::Drop {
            rate: 1000,
            burst_size: 200
        }]
    );
    assert!(meters::is_ours(5) && meters::is_ours(6) && !meters::is_ours(7));
    assert!(!meters::is_ours(8));
    let f1 = of_port(&c, "vm1");
    let bcast = f1.iter().find(|f| f.kind == kind::BROADCAST).unwrap();
    assert!(bcast.matches.contains(&m(Field::EthDst, 0xffff_ffff_ffff)));
    assert_eq!(bcast.instructions[0], Instruction::Meter(5));
    let pol = f1.iter().find(|f| f.kind == kind::POLICE).unwrap();
    assert_eq!(
        pol.instructions,
        [
            Instruction::Meter(6),
            Instruction::GotoTable(table::SECURITY_GROUPS)
        ],
        "no queue without uplink shaping"
    );
    // kbps suppression.
    set(&mut b, "a", |p| {
        p.broadcast = Some(Suppression {
            pps: None,
            kbps: Some(64),
        })
    });
    assert_eq!(compile(&b, &ofp).meters[&5].flags, OFPMF_KBPS | OFPMF_STATS);
    // Ids too large for a meter: no meter and no flow.
    assert_eq!(meters::id(u32::MAX / 2, 1), None);
}

#[test]
fn uplink_shaping_adds_the_groups_queue() {
    let mut b = bridge();
    everything(&mut b);
    let before = compile(&b, &ofp).flows;
    b.egress_kbps = Some(50_000);
    let c = compile(&b, &ofp);
    let pol = of_port(&c, "vm1")
        .into_iter()
        .find(|f| f.kind == kind::POLICE)
        .unwrap();
    assert!(pol
        .instructions
        .contains(&Instruction::ApplyActions(vec![Action::SetQueue(5)])));
    // Only that flow changed.
    assert_eq!(
        c.flows.keys().filter(|k| !before.contains_key(k)).count(),
        1
    );
}
