use super::*;
use proto::Stored;
use serde_json::json;
use std::path::PathBuf;

fn obj(kind: &str, spec: serde_json::Value) -> Object {
    serde_json::from_value(json!({"kind": kind, "spec": spec})).unwrap()
}

fn share(objs: Vec<Object>) -> Share {
    let mut s = Share::new();
    for o in objs {
        let key = match &o {
            Object::Host(h) => Key::new(Kind::Host, &h.name),
            Object::Dvs(d) => Key::new(Kind::Dvs, &d.name),
            Object::Uplink(u) => Key::new(Kind::Uplink, &u.name),
            Object::PortGroup(g) => Key::new(Kind::PortGroup, &g.name),
            Object::SecurityGroup(g) => Key::new(Kind::SecurityGroup, &g.name),
            Object::Port(p) => Key::new(Kind::Port, &p.id),
        };
        s.insert(
            key,
            Stored {
                revision: 1,
                object: o,
            },
        );
    }
    s
}

fn base() -> Vec<Object> {
    vec![
        obj("dvs", json!({"name": "d1", "vlan_pool": "10-12"})),
        obj(
            "uplink",
            json!({"name": "u1", "dvs": "d1", "host": "h", "nic": "eth1"}),
        ),
        obj(
            "port_group",
            json!({"name": "acc", "dvs": "d1", "vlan": {"mode": "access", "vlan": 10}}),
        ),
        obj(
            "port_group",
            json!({"name": "tr", "dvs": "d1", "vlan": {"mode": "trunk", "vlans": "11-12"}}),
        ),
        obj(
            "port",
            json!({"id": "vm1", "host": "h", "port_group": "acc", "mac": "02:00:00:00:00:AA",
                   "backend": {"kind": "linux", "interface": "tap1"}}),
        ),
        obj(
            "port",
            json!({"id": "vm2", "host": "h", "port_group": "tr", "mac": "02:00:00:00:00:02",
                   "backend": {"kind": "vhost_user", "socket": "/var/run/vm2.sock"}}),
        ),
        obj(
            "port",
            json!({"id": "vm3", "host": "h", "port_group": "acc", "mac": "02:00:00:00:00:03",
                   "backend": {"kind": "vhost_user", "socket": "/run/dvs/vm3",
                               "role": "server"}}),
        ),
    ]
}

fn run(objs: Vec<Object>) -> Plan {
    let exists = |n: &str| ["eth1", "tap1", "eth2"].contains(&n);
    let rundir = PathBuf::from("/run/dvs");
    plan(
        &share(objs),
        &HostView {
            nic_exists: &exists,
            rundir: &rundir,
        },
    )
}

#[test]
fn a_dvs_becomes_a_bridge_with_its_ports() {
    let p = run(base());
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let b = &p.bridges["d1"];
    let names: Vec<&str> = b.ports.keys().map(String::as_str).collect();
    assert_eq!(names, ["eth1", "tap1", "vhu-vm2", "vm3"]);
    let up = &b.ports["eth1"];
    assert_eq!(up.vlan.trunks, [10, 11, 12]);
    assert_eq!(up.vlan.mode, "trunk");
    assert_eq!(up.external_ids()["dvs-role"], "uplink");
    let vm1 = &b.ports["tap1"];
    assert_eq!(vm1.iface_type, "system");
    assert_eq!(vm1.vlan.tag, Some(10));
    assert_eq!(vm1.vlan.mode, "access");
    let ids = vm1.external_ids();
    assert_eq!(ids["iface-id"], "vm1");
    assert_eq!(
        ids["attached-mac"], "02:00:00:00:00:aa",
        "MACs are normalized"
    );
    assert_eq!(ids["dvs-owner"], OWNER);
    let vm2 = &b.ports["vhu-vm2"];
    assert_eq!(vm2.iface_type, "dpdkvhostuserclient");
    assert_eq!(vm2.options["vhost-server-path"], "/var/run/vm2.sock");
    assert_eq!(vm2.vlan.trunks, [11, 12]);
    assert_eq!(b.ports["vm3"].iface_type, "dpdkvhostuser");
}

#[test]
fn what_cannot_apply_is_an_error_and_the_rest_applies() {
    let mut objs = base();
    objs.push(obj("dvs", json!({"name": "d2", "vlan_pool": "1"})));
    objs.push(obj(
        "uplink",
        json!({"name": "u2", "dvs": "d2", "host": "h",
               "bond": {"members": ["eth2", "eth3"], "mode": "active-backup"}}),
    ));
    objs.push(obj(
        "port",
        json!({"id": "vm4", "host": "h", "port_group": "acc", "mac": "02:00:00:00:00:04",
               "backend": {"kind": "linux", "interface": "tap9"}}),
    ));
    objs.push(obj(
        "port",
        json!({"id": "vm5", "host": "h", "port_group": "acc", "mac": "02:00:00:00:00:05",
               "backend": {"kind": "vhost_user", "socket": "/tmp/vm5", "role": "server"}}),
    ));
    objs.push(obj(
        "port",
        json!({"id": "vm6", "host": "h", "port_group": "gone", "mac": "02:00:00:00:00:06",
               "backend": {"kind": "linux", "interface": "tap1"}}),
    ));
    objs.push(obj(
        "port",
        json!({"id": "vm7", "host": "h", "port_group": "acc", "mac": "02:00:00:00:00:07",
               "backend": {"kind": "linux", "interface": "eth1"}}),
    ));
    let p = run(objs);
    let e = |k: Kind, n: &str| p.errors.get(&Key::new(k, n)).cloned().unwrap_or_default();
    assert_eq!(e(Kind::Uplink, "u2"), "bonds are not supported yet");
    assert!(e(Kind::Port, "vm4").contains("tap9"), "{:?}", p.errors);
    assert!(e(Kind::Port, "vm5").contains("cannot be honoured"));
    assert!(e(Kind::Port, "vm6").contains("port group gone"));
    assert!(e(Kind::Port, "vm7").contains("uplink/u1"), "{:?}", p.errors);
    assert_eq!(p.errors.len(), 5);
    // Everything else is there.
    assert_eq!(p.bridges["d1"].ports.len(), 4);
    assert!(p.bridges["d2"].ports.is_empty());
}

#[test]
fn a_missing_uplink_nic_is_named() {
    let mut objs = base();
    objs[1] = obj(
        "uplink",
        json!({"name": "u1", "dvs": "d1", "host": "h", "nic": "eth7"}),
    );
    let p = run(objs);
    assert_eq!(
        p.errors[&Key::new(Kind::Uplink, "u1")],
        "NIC eth7 does not exist"
    );
    assert_eq!(p.bridges["d1"].ports.len(), 3);
}
