//! `Port.qos`, `QoS`, `Queue` and `other_config:tcp-checksum-fill` read into port configs.

use super::super::model::{desired, Context, Desired};
use ovsdb::{Replica, TableUpdates};
use serde_json::{json, Value};
use std::path::PathBuf;

fn ctx() -> Context {
    Context {
        switch: crate::conffile::defaults().switch,
        vhost_dir: PathBuf::from("/run/openvswitch"),
        dpdk_initialized: false,
    }
}

/// Bridge br0 with ports p0 (shaped by `qos`, with `queues` rows by id) and p1 (plain);
/// p0's interface has `iface_oc` as other_config.
fn read(qos: Value, queues: &[(i64, Value)], iface_oc: Value) -> Desired {
    let mut t = json!({
        "Open_vSwitch": {"root": {"new": {"bridges": ["uuid", "b0"], "next_cfg": 1}}},
        "Bridge": {"b0": {"new": {"name": "br0",
            "ports": ["set", [["uuid", "p0"], ["uuid", "p1"]]]}}},
        "Port": {
            "p0": {"new": {"name": "p0", "interfaces": ["uuid", "i0"], "qos": ["uuid", "q0"]}},
            "p1": {"new": {"name": "p1", "interfaces": ["uuid", "i1"]}},
        },
        "Interface": {
            "i0": {"new": {"name": "p0", "other_config": iface_oc}},
            "i1": {"new": {"name": "p1"}},
        },
        "QoS": {"q0": {"new": qos}},
        "Queue": {},
    });
    let mut map = Vec::new();
    for (id, q) in queues {
        let u = format!("u{id}");
        t["Queue"][&u] = json!({"new": q});
        map.push(json!([id, ["uuid", u]]));
    }
    t["QoS"]["q0"]["new"]["queues"] = json!(["map", map]);
    let mut r = Replica::default();
    r.apply(&TableUpdates::from_update(&t).expect("updates"))
        .expect("apply");
    desired(&r, &ctx())
}

fn oc(pairs: &[(&str, &str)]) -> Value {
    json!([
        "map",
        pairs.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()
    ])
}

#[test]
fn shaper_and_queues() {
    let d = read(
        json!({"type": "dvs-shaper", "other_config": oc(&[("cir", "5000000"), ("cbs", "100000"),
            ("pir", "8000000"), ("pbs", "20000"), ("queue-packets", "300")])}),
        &[
            (0, json!({"other_config": oc(&[("priority", "0")])})),
            (1, json!({"other_config": oc(&[("priority", "1")])})),
            (2, json!({"other_config": oc(&[("priority", "3")])})),
        ],
        oc(&[("tcp-checksum-fill", "true")]),
    );
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let ports = &d.config.bridges[0].ports;
    let p0 = ports.iter().find(|p| p.name == "p0").expect("p0");
    let q = p0.qos.as_ref().expect("qos");
    assert_eq!(
        (
            q.cir_bytes_per_s,
            q.cbs_bytes,
            q.pir_bytes_per_s,
            q.pbs_bytes,
            q.queue_packets
        ),
        (5_000_000, 100_000, 8_000_000, 20_000, 300)
    );
    let queues: Vec<(u32, u8)> = q.queues.iter().map(|(a, b)| (*a, *b)).collect();
    assert_eq!(queues, vec![(0, 0), (1, 1), (2, 3)]);
    assert!(p0.tcp_checksum_fill);
    let p1 = ports.iter().find(|p| p.name == "p1").expect("p1");
    assert!(p1.qos.is_none() && !p1.tcp_checksum_fill);
}

#[test]
fn other_types_and_bad_values_refuse_the_interface_only() {
    /// A QoS row, its queues, and the error it must give.
    type Case<'a> = (Value, &'a [(i64, Value)], &'a str);
    let cases: &[Case] = &[
        (
            json!({"type": "linux-htb", "other_config": oc(&[("max-rate", "1000")])}),
            &[],
            "type \"linux-htb\" is not supported",
        ),
        (
            json!({"type": "dvs-shaper", "other_config": oc(&[("cbs", "10")])}),
            &[],
            "cir (bytes per second) is required",
        ),
        (
            json!({"type": "dvs-shaper", "other_config": oc(&[("cir", "fast")])}),
            &[],
            "other_config:cir \"fast\" is not a number",
        ),
        (
            json!({"type": "dvs-shaper", "other_config": oc(&[("cir", "1000")])}),
            &[(1, json!({"other_config": oc(&[("priority", "9")])}))],
            "priority must be 0..=7",
        ),
        (
            json!({"type": "dvs-shaper", "other_config": oc(&[("cir", "1000")])}),
            &[(8, json!({"other_config": oc(&[("priority", "1")])}))],
            "queue id must be 0..=7",
        ),
    ];
    for (qos, queues, want) in cases {
        let d = read(qos.clone(), queues, json!(["map", []]));
        let e = d
            .errors
            .get("p0")
            .unwrap_or_else(|| panic!("no error for {want}"));
        assert!(e.starts_with("QoS: ") && e.contains(want), "{e}");
        let names: Vec<&str> = d.config.bridges[0]
            .ports
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, vec!["p1"], "the other port still applies");
    }
}

#[test]
fn checksum_fill_values() {
    let shaper = json!({"type": "dvs-shaper", "other_config": oc(&[("cir", "1000")])});
    let d = read(shaper.clone(), &[], oc(&[("tcp-checksum-fill", "false")]));
    assert!(!d.config.bridges[0].ports[0].tcp_checksum_fill);
    let d = read(shaper, &[], oc(&[("tcp-checksum-fill", "yes")]));
    assert!(d.errors["p0"].contains("tcp-checksum-fill \"yes\""));
}
