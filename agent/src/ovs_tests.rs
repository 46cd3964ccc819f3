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
    }
}

fn plan_of(ports: Vec<PortPlan>) -> Plan {
    let mut p = Plan::default();
    p.bridges.insert(
        "d1".into(),
        BridgePlan {
            dvs: "d1".into(),
            ports: ports.into_iter().map(|p| (p.name.clone(), p)).collect(),
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
