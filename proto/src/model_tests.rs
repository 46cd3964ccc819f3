//! The rules between objects, one test per rule: the refused write names the field and the
//! model is unchanged.

use crate::model::{Key, Kind, Model, Object, Write};
use crate::share::{diff, hosts_touched, share, Sent};
use crate::Status;
use serde_json::json;

fn obj(kind: Kind, v: serde_json::Value) -> Object {
    Object::from_json(kind, v).expect("valid object")
}

fn put(m: &mut Model, kind: Kind, v: serde_json::Value) {
    let w = Write::Put {
        object: obj(kind, v),
        create: true,
        if_match: None,
    };
    m.check(&w).expect("accepted");
    let rev = m.revision + 1;
    m.apply(&w, rev);
}

fn lab() -> Model {
    let mut m = Model::new();
    put(&mut m, Kind::Host, json!({"name": "h1"}));
    put(&mut m, Kind::Host, json!({"name": "h2"}));
    put(
        &mut m,
        Kind::Dvs,
        json!({"name": "d1", "vlan_pool": "10-20", "hosts": ["h1", "h2"]}),
    );
    put(
        &mut m,
        Kind::Uplink,
        json!({"name": "u1", "dvs": "d1", "host": "h1", "nic": "eth1"}),
    );
    put(
        &mut m,
        Kind::SecurityGroup,
        json!({"name": "web", "rules": [
        {"direction": "ingress", "ethertype": "ipv4", "protocol": "tcp", "port_min": 80}]}),
    );
    put(
        &mut m,
        Kind::PortGroup,
        json!({"name": "pg10", "dvs": "d1",
        "vlan": {"mode": "access", "vlan": 10}, "security_group": "web"}),
    );
    put(
        &mut m,
        Kind::PortGroup,
        json!({"name": "tr", "dvs": "d1",
        "vlan": {"mode": "trunk", "vlans": "15-20"}}),
    );
    put(
        &mut m,
        Kind::Port,
        json!({"id": "p1", "host": "h1", "port_group": "pg10",
        "mac": "52:54:00:00:00:01", "backend": {"kind": "linux", "interface": "v1"}}),
    );
    put(
        &mut m,
        Kind::Port,
        json!({"id": "p2", "host": "h2", "port_group": "pg10",
        "mac": "52:54:00:00:00:02", "backend": {"kind": "linux", "interface": "v2"}}),
    );
    m
}

fn refused(m: &Model, w: Write, status: Status, field: &str) {
    let e = m.check(&w).expect_err("refused");
    assert_eq!((e.status, e.field.as_str()), (status, field), "{e}");
}

fn create(kind: Kind, v: serde_json::Value) -> Write {
    Write::Put {
        object: obj(kind, v),
        create: true,
        if_match: None,
    }
}

fn update(kind: Kind, v: serde_json::Value) -> Write {
    Write::Put {
        object: obj(kind, v),
        create: false,
        if_match: None,
    }
}

#[test]
fn vlan_outside_pool() {
    let m = lab();
    refused(
        &m,
        create(
            Kind::PortGroup,
            json!({"name": "x", "dvs": "d1", "vlan": {"mode": "access", "vlan": 30}}),
        ),
        Status::Invalid,
        "vlan.vlan",
    );
    refused(
        &m,
        create(
            Kind::PortGroup,
            json!({"name": "x", "dvs": "d1", "vlan": {"mode": "trunk", "vlans": "19-21"}}),
        ),
        Status::Invalid,
        "vlan.vlans",
    );
}

#[test]
fn pool_shrink_that_strands_a_group() {
    let m = lab();
    refused(
        &m,
        update(
            Kind::Dvs,
            json!({"name": "d1", "vlan_pool": "11-20", "hosts": ["h1", "h2"]}),
        ),
        Status::Conflict,
        "vlan_pool",
    );
    // A shrink that keeps every group is fine.
    m.check(&update(
        Kind::Dvs,
        json!({"name": "d1", "vlan_pool": "10,15-20", "hosts": ["h1", "h2"]}),
    ))
    .expect("shrink keeping groups");
}

#[test]
fn second_uplink_and_shared_nic() {
    let m = lab();
    refused(
        &m,
        create(
            Kind::Uplink,
            json!({"name": "u2", "dvs": "d1", "host": "h1", "nic": "eth2"}),
        ),
        Status::Conflict,
        "host",
    );
    refused(
        &m,
        create(
            Kind::Uplink,
            json!({"name": "u2", "dvs": "d1", "host": "h1"}),
        ),
        Status::Invalid,
        "nic",
    );
}

#[test]
fn binding_only_on_access() {
    let m = lab();
    refused(
        &m,
        create(
            Kind::PortGroup,
            json!({"name": "x", "dvs": "d1", "ip_mac_binding": true,
            "vlan": {"mode": "trunk", "vlans": "15"}}),
        ),
        Status::Invalid,
        "ip_mac_binding",
    );
}

#[test]
fn duplicate_mac_within_a_dvs() {
    let m = lab();
    refused(
        &m,
        create(
            Kind::Port,
            json!({"id": "p3", "host": "h2", "port_group": "tr",
            "mac": "52:54:00:00:00:01", "backend": {"kind": "linux", "interface": "v3"}}),
        ),
        Status::Conflict,
        "mac",
    );
}

#[test]
fn the_mac_index_survives_a_reload_and_a_move() {
    let m = lab();
    // Reloaded in store order (ports before port groups), the index still knows every MAC.
    let mut stored: Vec<_> = m.all().cloned().collect();
    stored.reverse();
    let m2 = Model::load(m.revision, stored);
    refused(
        &m2,
        create(
            Kind::Port,
            json!({"id": "p3", "host": "h2", "port_group": "tr",
            "mac": "52:54:00:00:00:01", "backend": {"kind": "linux", "interface": "v3"}}),
        ),
        Status::Conflict,
        "mac",
    );
    // A port keeps its own MAC across an update, and frees it when deleted.
    let mut m3 = m2.clone();
    let w = update(
        Kind::Port,
        json!({"id": "p1", "host": "h2", "port_group": "pg10",
        "mac": "52:54:00:00:00:01", "backend": {"kind": "linux", "interface": "v9"}}),
    );
    m3.check(&w).expect("same MAC, new host");
    m3.apply(&w, m3.revision + 1);
    let d = Write::Delete {
        key: Key::new(Kind::Port, "p1"),
        if_match: None,
    };
    m3.apply(&d, m3.revision + 1);
    m3.check(&create(
        Kind::Port,
        json!({"id": "p3", "host": "h2", "port_group": "tr",
        "mac": "52:54:00:00:00:01", "backend": {"kind": "linux", "interface": "v3"}}),
    ))
    .expect("MAC free again");
}

#[test]
fn deleting_what_is_referenced() {
    let m = lab();
    for (kind, name) in [
        (Kind::Dvs, "d1"),
        (Kind::Host, "h1"),
        (Kind::PortGroup, "pg10"),
        (Kind::SecurityGroup, "web"),
    ] {
        refused(
            &m,
            Write::Delete {
                key: Key::new(kind, name),
                if_match: None,
            },
            Status::Conflict,
            "name",
        );
    }
    m.check(&Write::Delete {
        key: Key::new(Kind::PortGroup, "tr"),
        if_match: None,
    })
    .expect("unused group");
}

#[test]
fn port_on_a_host_outside_the_dvs_and_unknown_fields() {
    let mut m = lab();
    put(&mut m, Kind::Host, json!({"name": "h3"}));
    refused(
        &m,
        create(
            Kind::Port,
            json!({"id": "p3", "host": "h3", "port_group": "pg10",
            "mac": "52:54:00:00:00:03", "backend": {"kind": "linux", "interface": "v3"}}),
        ),
        Status::Invalid,
        "host",
    );
    let e = Object::from_json(
        Kind::Dvs,
        json!({"name": "d", "vlan_pool": "1", "colour": 1}),
    )
    .expect_err("unknown field");
    assert_eq!(e.field, "colour");
}

#[test]
fn if_match_must_name_the_current_revision() {
    let m = lab();
    let rev = m
        .get(&Key::new(Kind::PortGroup, "tr"))
        .expect("tr")
        .revision;
    let w = |r| Write::Put {
        object: obj(
            Kind::PortGroup,
            json!({"name": "tr", "dvs": "d1", "vlan": {"mode": "trunk", "vlans": "15"}}),
        ),
        create: false,
        if_match: Some(r),
    };
    m.check(&w(rev)).expect("current revision");
    refused(&m, w(rev - 1), Status::PreconditionFailed, "If-Match");
}

#[test]
fn shares_hold_only_the_hosts_own_objects() {
    let m = lab();
    let s1 = share(&m, "h1");
    let keys: Vec<String> = s1.keys().map(|k| k.to_string()).collect();
    assert_eq!(
        keys,
        [
            "host/h1",
            "dvs/d1",
            "uplink/u1",
            "portgroup/pg10",
            "secgroup/web",
            "port/p1"
        ]
    );
    // A port group change touches the hosts with ports in it.
    let t: Vec<String> = hosts_touched(&m, &Key::new(Kind::PortGroup, "pg10"))
        .into_iter()
        .collect();
    assert_eq!(t, ["h1", "h2"]);
    assert!(hosts_touched(&m, &Key::new(Kind::PortGroup, "tr")).is_empty());
    // Diffs: first everything, then nothing, then only the change.
    let mut sent = Sent::new();
    assert_eq!(diff(&mut sent, &s1).len(), 6);
    assert!(diff(&mut sent, &s1).is_empty());
    let mut m2 = m.clone();
    let w = update(
        Kind::PortGroup,
        json!({"name": "pg10", "dvs": "d1", "vlan": {"mode": "access", "vlan": 11}}),
    );
    m2.check(&w).expect("vlan change");
    m2.apply(&w, m.revision + 1);
    let d = diff(&mut sent, &share(&m2, "h1"));
    let keys: Vec<String> = d.iter().map(|c| c.key.to_string()).collect();
    // The group dropped its security group, so the agent drops it too.
    assert_eq!(keys, ["secgroup/web", "portgroup/pg10"]);
    assert!(d[0].object.is_none());
}

/// The per-key diff agrees with the whole-share diff for every kind of write.
#[test]
fn diff_keys_matches_the_whole_share_diff() {
    use crate::share::{diff_keys, related};
    let writes = [
        update(
            Kind::PortGroup,
            json!({"name": "pg10", "dvs": "d1", "vlan": {"mode": "access", "vlan": 11}}),
        ),
        update(
            Kind::Port,
            json!({"id": "p2", "host": "h1", "port_group": "tr",
            "mac": "52:54:00:00:00:02", "backend": {"kind": "linux", "interface": "v2"}}),
        ),
        create(
            Kind::Port,
            json!({"id": "p9", "host": "h2", "port_group": "tr",
            "mac": "52:54:00:00:00:09", "backend": {"kind": "linux", "interface": "v9"}}),
        ),
        Write::Delete {
            key: Key::new(Kind::Port, "p1"),
            if_match: None,
        },
        update(Kind::SecurityGroup, json!({"name": "web"})),
        update(
            Kind::Dvs,
            json!({"name": "d1", "vlan_pool": "10-25", "hosts": ["h1", "h2"]}),
        ),
    ];
    for w in writes {
        let m = lab();
        let mut m2 = m.clone();
        m2.check(&w).expect("valid write");
        let mut keys = related(&m, &w.key());
        m2.apply(&w, m.revision + 1);
        keys.extend(related(&m2, &w.key()));
        for h in ["h1", "h2"] {
            let mut a = Sent::new();
            diff(&mut a, &share(&m, h));
            let mut b = a.clone();
            let whole = diff(&mut a, &share(&m2, h));
            let part = diff_keys(&m2, h, &mut b, &keys);
            assert_eq!(whole, part, "{w:?} on {h}");
            assert_eq!(a, b, "{w:?} on {h}");
        }
    }
}
