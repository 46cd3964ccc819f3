use super::*;
use crate::plan::{PortVlan, Role};
use ovsdb::TableUpdates;

fn replica(v: Value) -> Replica {
    let mut r = Replica::default();
    r.apply(&TableUpdates::from_update(&v).unwrap()).unwrap();
    r
}

fn ours() -> Value {
    json!(["map", [["dvs-owner", "dvs-agent"]]])
}

fn vm(name: &str, id: &str, tag: u16) -> PortPlan {
    PortPlan {
        name: name.into(),
        key: Key::new(Kind::Port, id),
        role: Role::Vm {
            id: id.into(),
            mac: "02:00:00:00:00:01".into(),
        },
        iface_type: "system",
        options: BTreeMap::new(),
        vlan: PortVlan {
            tag: Some(tag),
            trunks: Vec::new(),
            mode: "access",
        },
        policy: Default::default(),
    }
}

fn plan_of(ports: Vec<PortPlan>) -> Plan {
    let mut p = Plan::default();
    p.bridges.insert(
        "d1".into(),
        BridgePlan {
            dvs: "d1".into(),
            ports: ports.into_iter().map(|p| (p.name.clone(), p)).collect(),
            mtu: 1500,
            egress_kbps: None,
        },
    );
    p
}

fn ops_of(d: &Diff, op: &str, table: &str) -> usize {
    d.ops
        .iter()
        .filter(|o| o["op"] == op && o["table"] == table)
        .count()
}

#[test]
fn an_empty_database_gets_bridge_ports_and_interfaces_in_one_transaction() {
    let db = replica(json!({"Open_vSwitch": {"root": {"new": {"bridges": ["set", []]}}}}));
    let d = diff(
        &db,
        &plan_of(vec![vm("tap1", "vm1", 10), vm("tap2", "vm2", 20)]),
    )
    .unwrap();
    assert!(d.errors.is_empty());
    assert_eq!(ops_of(&d, "insert", "Interface"), 2);
    assert_eq!(ops_of(&d, "insert", "Port"), 2);
    assert_eq!(ops_of(&d, "insert", "Bridge"), 1);
    let br = d.ops.iter().find(|o| o["table"] == "Bridge").unwrap();
    assert_eq!(br["row"]["fail_mode"], "secure");
    assert_eq!(br["row"]["datapath_type"], "netdev");
    // Inserts come before what refers to them.
    let first_bridge = d.ops.iter().position(|o| o["table"] == "Bridge").unwrap();
    let last_port = d.ops.iter().rposition(|o| o["table"] == "Port").unwrap();
    assert!(last_port < first_bridge);
    assert!(diff(&replica(json!({})), &Plan::default()).is_err());
}

/// A database holding what `plan_of([vm(tap1, vm1, 10)])` asks for, plus an operator's port.
fn installed() -> Replica {
    replica(json!({
        "Open_vSwitch": {"root": {"new": {"bridges": ["uuid", "b1"]}}},
        "Bridge": {"b1": {"new": {"name": "d1", "ports": ["set", [["uuid", "p1"], ["uuid", "p9"]]],
            "datapath_type": "netdev", "fail_mode": "secure",
            "external_ids": ["map", [["dvs-owner", "dvs-agent"], ["dvs-dvs", "d1"]]]}}},
        "Port": {
            "p1": {"new": {"name": "tap1", "interfaces": ["uuid", "i1"], "tag": 10,
                "trunks": ["set", []], "vlan_mode": "access",
                "external_ids": ["map", [["attached-mac", "02:00:00:00:00:01"],
                    ["dvs-owner", "dvs-agent"], ["dvs-role", "vm"], ["iface-id", "vm1"]]]}},
            "p9": {"new": {"name": "op0", "interfaces": ["uuid", "i9"], "tag": ["set", []],
                "trunks": ["set", []], "vlan_mode": ["set", []], "external_ids": ["map", []]}}
        },
        "Interface": {
            "i1": {"new": {"name": "tap1", "type": "", "options": ["map", []], "ofport": 3,
                "mtu_request": 1500,
                "external_ids": ["map", [["attached-mac", "02:00:00:00:00:01"],
                    ["dvs-owner", "dvs-agent"], ["dvs-role", "vm"], ["iface-id", "vm1"]]]}},
            "i9": {"new": {"name": "op0", "type": "", "options": ["map", []], "ofport": 4,
                "external_ids": ["map", []]}}
        }
    }))
}

#[test]
fn what_is_right_is_left_alone() {
    let d = diff(&installed(), &plan_of(vec![vm("tap1", "vm1", 10)])).unwrap();
    assert!(d.ops.is_empty(), "{:#?}", d.ops);
    let i = interfaces(&installed());
    assert_eq!(i["tap1"].ofport, Some(3));
    assert!(!i.contains_key("op0"), "only the agent's interfaces");
}

#[test]
fn a_vlan_change_updates_one_port_row_guarded_by_owner() {
    let d = diff(&installed(), &plan_of(vec![vm("tap1", "vm1", 20)])).unwrap();
    let updates: Vec<&Value> = d.ops.iter().filter(|o| o["op"] == "update").collect();
    assert_eq!(updates.len(), 1, "{:#?}", d.ops);
    assert_eq!(updates[0]["table"], "Port");
    assert_eq!(updates[0]["row"], json!({"tag": ["set", [20]]}));
    assert_eq!(updates[0]["where"][1][2], ours());
}

#[test]
fn only_the_agents_rows_are_removed_and_foreign_names_are_refused() {
    // vm1 is gone from the plan, op0 (the operator's) stays; vm2 wants op0's name.
    let d = diff(&installed(), &plan_of(vec![vm("op0", "vm2", 10)])).unwrap();
    assert!(d.errors[&Key::new(Kind::Port, "vm2")].contains("not managed by dvs-agent"));
    let m = d
        .ops
        .iter()
        .find(|o| o["op"] == "mutate" && o["table"] == "Bridge")
        .unwrap();
    assert_eq!(
        m["mutations"][0],
        json!(["ports", "delete", ["set", [["uuid", "p1"]]]])
    );
    // A plan without the DVS drops the agent's bridge from the root row.
    let d = diff(&installed(), &Plan::default()).unwrap();
    let m = d
        .ops
        .iter()
        .find(|o| o["op"] == "mutate" && o["table"] == "Open_vSwitch")
        .unwrap();
    assert_eq!(m["mutations"][0][1], "delete");
}

#[test]
fn a_foreign_bridge_is_not_taken_over() {
    let db = replica(json!({
        "Open_vSwitch": {"root": {"new": {"bridges": ["uuid", "b1"]}}},
        "Bridge": {"b1": {"new": {"name": "d1", "ports": ["set", []],
            "external_ids": ["map", []]}}}
    }));
    let d = diff(&db, &plan_of(vec![vm("tap1", "vm1", 10)])).unwrap();
    assert!(d.ops.is_empty());
    assert!(d.errors.contains_key(&Key::new(Kind::Dvs, "d1")));
    assert!(d.errors.contains_key(&Key::new(Kind::Port, "vm1")));
}

fn with_qos_out(mut p: PortPlan, kbps: u64) -> PortPlan {
    p.policy.qos_out = Some(proto::objects::Qos {
        average_kbps: kbps,
        peak_kbps: 0,
        burst_kb: 0,
        priority: 0,
    });
    p
}

/// `installed()` where tap1 has the agent's QoS for 8000 kbit/s (one queue).
fn installed_with_qos() -> Replica {
    let mut r = installed();
    let u = TableUpdates::from_update(&json!({
        "Port": {"p1": {"old": {"qos": ["set", []]}, "new": {"name": "tap1",
            "interfaces": ["uuid", "i1"], "tag": 10, "trunks": ["set", []], "vlan_mode": "access",
            "qos": ["uuid", "s1"],
            "external_ids": ["map", [["attached-mac", "02:00:00:00:00:01"],
                ["dvs-owner", "dvs-agent"], ["dvs-role", "vm"], ["iface-id", "vm1"]]]}}},
        "QoS": {"s1": {"new": {"type": "dvs-shaper",
            "other_config": ["map", [["cbs", "100000"], ["cir", "1000000"]]],
            "queues": ["map", [[0, ["uuid", "q1"]]]],
            "external_ids": ["map", [["dvs-owner", "dvs-agent"], ["dvs-port", "tap1"]]]}}},
        "Queue": {"q1": {"new": {"other_config": ["map", [["priority", "0"]]],
            "external_ids": ["map", [["dvs-owner", "dvs-agent"], ["dvs-port", "tap1"]]]}}}
    }))
    .unwrap();
    r.apply(&u).unwrap();
    r
}

#[test]
fn qos_out_becomes_a_shaper_qos_with_one_queue() {
    let d = diff(
        &installed(),
        &plan_of(vec![with_qos_out(vm("tap1", "vm1", 10), 1000)]),
    )
    .unwrap();
    assert_eq!(ops_of(&d, "insert", "QoS"), 1, "{:#?}", d.ops);
    assert_eq!(ops_of(&d, "insert", "Queue"), 1);
    let qos = d.ops.iter().find(|o| o["table"] == "QoS").unwrap();
    assert_eq!(qos["row"]["type"], "dvs-shaper");
    let oc = datum::str_map(&qos["row"]["other_config"]);
    assert_eq!(oc["cir"], "125000", "1000 kbit/s in bytes/s");
    assert_eq!(oc["cbs"], "65536", "100 ms of cir, at least 64 KiB");
    assert!(!oc.contains_key("pir"));
    let queue = d.ops.iter().find(|o| o["table"] == "Queue").unwrap();
    assert_eq!(
        datum::str_map(&queue["row"]["other_config"])["priority"],
        "0"
    );
    let port = d
        .ops
        .iter()
        .find(|o| o["op"] == "update" && o["table"] == "Port")
        .unwrap();
    assert_eq!(port["row"]["qos"], json!(["named-uuid", qos["uuid-name"]]));
    // Inserts before the update that refers to them.
    let pos = |t: &str, op: &str| {
        d.ops
            .iter()
            .position(|o| o["table"] == t && o["op"] == op)
            .unwrap()
    };
    assert!(pos("QoS", "insert") < pos("Port", "update"));
}

#[test]
fn a_right_qos_is_left_alone_a_changed_one_updated_a_dropped_one_deleted() {
    let db = installed_with_qos();
    let right = plan_of(vec![with_qos_out(vm("tap1", "vm1", 10), 8000)]);
    assert!(diff(&db, &right).unwrap().ops.is_empty());
    // Another rate: one QoS update, nothing else.
    let d = diff(
        &db,
        &plan_of(vec![with_qos_out(vm("tap1", "vm1", 10), 16000)]),
    )
    .unwrap();
    assert_eq!(ops_of(&d, "update", "QoS"), 1, "{:#?}", d.ops);
    assert_eq!(d.ops.len(), 2, "the update and next_cfg: {:#?}", d.ops);
    // No more qos_out: the reference goes and both rows are deleted.
    let d = diff(&db, &plan_of(vec![vm("tap1", "vm1", 10)])).unwrap();
    let port = d
        .ops
        .iter()
        .find(|o| o["op"] == "update" && o["table"] == "Port")
        .unwrap();
    assert_eq!(port["row"]["qos"], json!(["set", []]));
    assert_eq!(ops_of(&d, "delete", "QoS"), 1);
    assert_eq!(ops_of(&d, "delete", "Queue"), 1);
    let del = d.ops.iter().find(|o| o["op"] == "delete").unwrap();
    assert_eq!(del["where"][1][2], ours(), "guarded by the owner");
    // The port itself goes: its reference is cleared and the rows deleted too.
    let d = diff(&db, &plan_of(vec![])).unwrap();
    assert_eq!(ops_of(&d, "delete", "QoS"), 1, "{:#?}", d.ops);
}

#[test]
fn the_uplink_shapes_with_eight_priority_queues() {
    let mut up = vm("eth1", "u1", 10);
    up.key = Key::new(Kind::Uplink, "u1");
    up.role = Role::Uplink { name: "u1".into() };
    let mut p = plan_of(vec![up]);
    p.bridges.get_mut("d1").unwrap().egress_kbps = Some(80_000);
    let d = diff(&installed(), &p).unwrap();
    assert_eq!(ops_of(&d, "insert", "QoS"), 1);
    assert_eq!(ops_of(&d, "insert", "Queue"), 8);
    let qos = d.ops.iter().find(|o| o["table"] == "QoS").unwrap();
    assert_eq!(
        datum::str_map(&qos["row"]["other_config"])["cir"],
        "10000000"
    );
    let prios: Vec<String> = d
        .ops
        .iter()
        .filter(|o| o["table"] == "Queue")
        .map(|o| datum::str_map(&o["row"]["other_config"])["priority"].clone())
        .collect();
    assert_eq!(prios, ["0", "1", "2", "3", "4", "5", "6", "7"]);
}

#[test]
fn checksum_fill_and_mtu_are_interface_columns() {
    let mut p = vm("tap1", "vm1", 10);
    p.policy.tcp_checksum_fill = true;
    let mut plan = plan_of(vec![p]);
    plan.bridges.get_mut("d1").unwrap().mtu = 9000;
    let d = diff(&installed(), &plan).unwrap();
    let u = d
        .ops
        .iter()
        .find(|o| o["op"] == "update" && o["table"] == "Interface")
        .unwrap();
    assert_eq!(
        datum::str_map(&u["row"]["other_config"])["tcp-checksum-fill"],
        "true"
    );
    assert_eq!(u["row"]["mtu_request"], json!(["set", [9000]]));
    assert_eq!(ops_of(&d, "update", "Interface"), 1);
}
