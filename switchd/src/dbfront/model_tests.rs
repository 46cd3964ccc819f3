//! Rows to desired configuration: interface types, bad rows and their errors, ofport hints,
//! names, listeners and TLS targets.

use super::*;
use datapath::config::{OfpController, OfpListen};
use ovsdb::TableUpdates;
use serde_json::json;

fn ctx() -> Context {
    Context {
        switch: crate::conffile::defaults().switch,
        vhost_dir: PathBuf::from("/run/openvswitch"),
        dpdk_initialized: false,
    }
}

/// A database with one bridge `br0` holding one port per `(port row, interface row)`.
fn db(ports: &[(Value, Value)], bridge: Value) -> Replica {
    let mut t = json!({
        "Open_vSwitch": {"root": {"new": {"bridges": ["uuid", "b0"], "next_cfg": 4}}},
        "Bridge": {"b0": {"new": bridge}},
        "Port": {},
        "Interface": {},
    });
    let mut port_refs = Vec::new();
    for (i, (p, iface)) in ports.iter().enumerate() {
        let (pu, iu) = (format!("p{i}"), format!("i{i}"));
        let mut p = p.clone();
        p["interfaces"] = json!(["uuid", iu]);
        t["Port"][&pu] = json!({ "new": p });
        t["Interface"][&iu] = json!({ "new": iface });
        port_refs.push(json!(["uuid", pu]));
    }
    t["Bridge"]["b0"]["new"]["ports"] = json!(["set", port_refs]);
    let mut r = Replica::default();
    r.apply(&TableUpdates::from_update(&t).unwrap()).unwrap();
    r
}

fn one(port: Value, iface: Value) -> Desired {
    desired(&db(&[(port, iface)], json!({"name": "br0"})), &ctx())
}

#[test]
fn interface_types_become_port_kinds() {
    let d = one(
        json!({"name": "v1"}),
        json!({"name": "v1", "type": "dpdkvhostuserclient",
               "options": ["map", [["vhost-server-path", "/tmp/v1.sock"], ["n_rxq", "2"]]]}),
    );
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(d.next_cfg, 4);
    let p = &d.config.bridges[0].ports[0];
    assert_eq!((p.kind, p.rxq), (PortKind::Vhost, 2));
    assert!(
        matches!(&p.backend, Backend::Vhost { socket, role: VhostRole::Client, .. }
        if socket == Path::new("/tmp/v1.sock"))
    );
    let d = one(
        json!({"name": "s"}),
        json!({"name": "s", "type": "dpdkvhostuser"}),
    );
    assert!(matches!(&d.config.bridges[0].ports[0].backend,
        Backend::Vhost { socket, role: VhostRole::Server, .. }
        if socket == Path::new("/run/openvswitch/s")));
    for (t, kind) in [
        ("", PortKind::AfPacket),
        ("system", PortKind::AfPacket),
        ("internal", PortKind::Tap),
        ("tap", PortKind::Tap),
        ("afxdp", PortKind::AfXdp),
    ] {
        let d = one(json!({"name": "x"}), json!({"name": "x", "type": t}));
        assert_eq!(d.config.bridges[0].ports[0].kind, kind, "type {t:?}");
    }
}

#[test]
fn a_bad_row_is_left_out_with_its_error() {
    let cases = [
        (json!({"name": "x", "type": "vxlan"}), "is not supported"),
        (
            json!({"name": "x", "type": "dpdkvhostuserclient"}),
            "vhost-server-path",
        ),
        (
            json!({"name": "x", "type": "dpdk"}),
            "DPDK is not initialized",
        ),
        (
            json!({"name": "x", "options": ["map", [["n_rxq", "2"]]]}),
            "exactly one rx queue",
        ),
        (json!({"name": "x", "ofport_request": 0}), "out of range"),
    ];
    for (iface, want) in cases {
        let d = one(json!({"name": "x"}), iface.clone());
        assert!(d.config.bridges[0].ports.is_empty(), "{iface}");
        assert!(d.errors["x"].contains(want), "{iface}: {}", d.errors["x"]);
    }
    let d = one(
        json!({"name": "x", "vlan_mode": "native-tagged", "tag": 5}),
        json!({"name": "x"}),
    );
    assert!(d.errors["x"].contains("native-tagged is not supported"));
}

#[test]
fn vlan_columns_follow_ovs() {
    let vlan = |p: Value| {
        one(p, json!({"name": "x"})).config.bridges[0].ports[0]
            .vlan
            .clone()
    };
    assert_eq!(vlan(json!({"name": "x"})), VlanMode::None);
    assert_eq!(
        vlan(json!({"name": "x", "tag": 10})),
        VlanMode::Access { tag: 10 }
    );
    let VlanMode::Trunk { allowed, native } =
        vlan(json!({"name": "x", "trunks": ["set", [10, 20]]}))
    else {
        panic!("trunk expected");
    };
    assert_eq!((allowed.len(), native), (2, None));
    let VlanMode::Trunk { allowed, native } =
        vlan(json!({"name": "x", "tag": 5, "trunks": 7, "vlan_mode": "native-untagged"}))
    else {
        panic!("trunk expected");
    };
    assert!(allowed.contains(5) && allowed.contains(7));
    assert_eq!(native, Some(5));
    let d = one(json!({"name": "x", "tag": 5000}), json!({"name": "x"}));
    assert!(d.errors["x"].contains("out of range"));
}

#[test]
fn a_taken_ofport_request_refuses_only_the_newcomer() {
    let d = desired(
        &db(
            &[
                (json!({"name": "a"}), json!({"name": "a", "ofport": 7})),
                (
                    json!({"name": "b"}),
                    json!({"name": "b", "ofport_request": 7}),
                ),
                (json!({"name": "c"}), json!({"name": "c", "ofport": 3})),
            ],
            json!({"name": "br0"}),
        ),
        &ctx(),
    );
    assert!(
        d.errors["b"].contains("in use by interface a"),
        "{:?}",
        d.errors
    );
    let numbers: Vec<(&str, u32)> = d.config.bridges[0]
        .ports
        .iter()
        .map(|p| (p.name.as_str(), p.ofport))
        .collect();
    assert_eq!(numbers, [("a", 7), ("c", 3)], "hints kept");
}

#[test]
fn invalid_interface_names_get_an_error() {
    let cases = [
        (
            json!({"name": "../x", "type": "dpdkvhostuser"}),
            "contains '/'",
        ),
        (
            json!({"name": "..", "type": "dpdkvhostuser"}),
            "is \".\" or \"..\"",
        ),
        (
            json!({"name": "a b", "type": "dpdkvhostuser"}),
            "contains whitespace",
        ),
        (json!({"name": "eth0:1"}), "contains '/', ':' or whitespace"),
        (
            json!({"name": "a-very-long-name-0", "type": "internal"}),
            "must be 1..15 bytes long",
        ),
        (json!({"name": "", "type": "afxdp"}), "must not be empty"),
    ];
    for (iface, want) in cases {
        let name = iface["name"].as_str().unwrap().to_string();
        let d = one(json!({"name": name}), iface.clone());
        assert!(d.config.bridges[0].ports.is_empty(), "{iface}");
        assert!(
            d.errors[&name].contains(want),
            "{iface}: {}",
            d.errors[&name]
        );
    }
    // Kernel interface names are limited to 15 bytes; vhost-user ones are not.
    let long = "vhu0123456789abcdef";
    let d = one(
        json!({"name": long}),
        json!({"name": long, "type": "dpdkvhostuserclient",
               "options": ["map", [["vhost-server-path", "/tmp/v.sock"]]]}),
    );
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(d.config.bridges[0].ports[0].name, long);
}

#[test]
fn a_bridge_with_an_invalid_name_is_left_out_alone() {
    let mut t = json!({
        "Open_vSwitch": {"root": {"new": {"bridges": ["set", [["uuid", "b0"], ["uuid", "b1"]]]}}},
        "Bridge": {
            "b0": {"new": {"name": "../escaped", "ports": ["uuid", "p0"]}},
            "b1": {"new": {"name": "br1", "ports": ["uuid", "p1"]}},
        },
        "Port": {
            "p0": {"new": {"name": "e0", "interfaces": ["uuid", "i0"]}},
            "p1": {"new": {"name": "e1", "interfaces": ["uuid", "i1"]}},
        },
        "Interface": {"i0": {"new": {"name": "e0"}}, "i1": {"new": {"name": "e1"}}},
    });
    let mut r = Replica::default();
    r.apply(&TableUpdates::from_update(&t).unwrap()).unwrap();
    let d = desired(&r, &ctx());
    let names: Vec<&str> = d.config.bridges.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["br1"]);
    assert_eq!(d.config.bridges[0].ports[0].name, "e1");
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("\"../escaped\"") && w.contains("left out")),
        "{:?}",
        d.warnings
    );
    assert!(
        d.errors["e0"].contains("bridge not started"),
        "{:?}",
        d.errors
    );
    assert!(!d.errors.contains_key("e1"));
    // Names that cannot be a file in the run directory, or an option.
    for bad in ["..", ".", "", "-br", "a/b", "br 0"] {
        t["Bridge"]["b0"]["new"]["name"] = json!(bad);
        let mut r = Replica::default();
        r.apply(&TableUpdates::from_update(&t).unwrap()).unwrap();
        let d = desired(&r, &ctx());
        assert_eq!(d.config.bridges.len(), 1, "{bad:?}");
        assert_eq!(d.config.bridges[0].name, "br1", "{bad:?}");
    }
}

#[test]
fn bridge_columns_and_unsupported_settings() {
    let d = desired(
        &db(
            &[],
            json!({"name": "br0", "fail_mode": "secure",
                   "other_config": ["map", [["datapath-id", "00000000000000d5"],
                       ["mac-aging-time", "60"], ["mac-table-size", "1000"]]],
                   "datapath_type": "system"}),
        ),
        &ctx(),
    );
    let b = &d.config.bridges[0];
    assert_eq!(
        (b.datapath_id, b.mac_aging_secs, b.fail_mode),
        (0xd5, 60, FailMode::Secure)
    );
    assert_eq!(d.warnings.len(), 2, "{:?}", d.warnings);
    let plain = desired(&db(&[], json!({"name": "br0"})), &ctx());
    assert_eq!(plain.config.bridges[0].datapath_id, default_dpid("br0"));
    assert!(default_dpid("br0") != default_dpid("br1"));
}

#[test]
fn ptcp_listeners_stay_on_loopback_unless_allowed() {
    let t = json!({
        "Open_vSwitch": {"root": {"new": {"bridges": ["uuid", "b0"], "next_cfg": 1}}},
        "Bridge": {"b0": {"new": {"name": "br0",
            "controller": ["set", [["uuid", "c0"], ["uuid", "c1"]]]}}},
        "Controller": {"c0": {"new": {"target": "ptcp:6653"}},
                       "c1": {"new": {"target": "ptcp:6654:0.0.0.0"}}},
    });
    let mut r = Replica::default();
    r.apply(&TableUpdates::from_update(&t).unwrap()).unwrap();
    let d = desired(&r, &ctx());
    let listen: Vec<String> = d.config.bridges[0]
        .ofp_listen
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert_eq!(listen, ["ptcp:6653:127.0.0.1"]);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("ptcp:6654:0.0.0.0") && w.contains("loopback")),
        "{:?}",
        d.warnings
    );
    let mut allowed = ctx();
    allowed.switch.remote_openflow = true;
    let d = desired(&r, &allowed);
    assert_eq!(d.config.bridges[0].ofp_listen.len(), 2);
}

/// A database whose bridge `br0` has the Controller `targets`, with an SSL row of
/// `ssl` (private_key, certificate, ca_cert) when given.
fn with_controllers(targets: &[&str], ssl: Option<[&Path; 3]>) -> Replica {
    let refs: Vec<Value> = (0..targets.len())
        .map(|i| json!(["uuid", format!("c{i}")]))
        .collect();
    let mut t = json!({
        "Open_vSwitch": {"root": {"new": {"bridges": ["uuid", "b0"], "next_cfg": 1}}},
        "Bridge": {"b0": {"new": {"name": "br0", "controller": ["set", refs]}}},
        "Controller": {},
    });
    for (i, target) in targets.iter().enumerate() {
        t["Controller"][format!("c{i}")] = json!({"new": {"target": target}});
    }
    if let Some([key, cert, ca]) = ssl {
        t["Open_vSwitch"]["root"]["new"]["ssl"] = json!(["uuid", "s0"]);
        t["SSL"] = json!({"s0": {"new": {"private_key": key.display().to_string(),
            "certificate": cert.display().to_string(), "ca_cert": ca.display().to_string()}}});
    }
    let mut r = Replica::default();
    r.apply(&TableUpdates::from_update(&t).unwrap()).unwrap();
    r
}

#[test]
fn tls_targets_use_the_ssl_row_or_are_left_out() {
    let Some(pki) = crate::ofp::test_pki::Pki::new("dbfront") else {
        return;
    };
    let targets = [
        "pssl:0:0.0.0.0",
        "ssl:127.0.0.1",
        "tcp:127.0.0.1:6633",
        "unix:/tmp/ctl.sock",
    ];
    let (key, cert, ca) = (
        pki.path("switch.key"),
        pki.path("switch.crt"),
        pki.path("ca.crt"),
    );
    let d = desired(
        &with_controllers(&targets, Some([&key, &cert, &ca])),
        &ctx(),
    );
    let files = SslFiles {
        private_key: key.clone(),
        certificate: cert.clone(),
        ca_cert: ca.clone(),
    };
    assert_eq!(d.config.switch.ssl, Some(files.clone()));
    let b = &d.config.bridges[0];
    // No remote_openflow needed for a TLS listener on every address.
    assert_eq!(
        b.ofp_listen,
        [OfpListen::Pssl(
            "0.0.0.0:0".parse().unwrap(),
            Some(files.clone())
        )]
    );
    assert_eq!(
        b.controllers,
        [
            OfpController::Ssl("127.0.0.1:6653".parse().unwrap(), Some(files)),
            OfpController::Tcp("127.0.0.1:6633".parse().unwrap()),
        ]
    );
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    assert!(
        d.warnings[0].contains("unix:/tmp/ctl.sock"),
        "{:?}",
        d.warnings
    );

    // Without an SSL row the TLS targets are left out, with a warning each; the rest stays.
    let d = desired(&with_controllers(&targets, None), &ctx());
    let b = &d.config.bridges[0];
    assert!(b.ofp_listen.is_empty());
    assert_eq!(
        b.controllers,
        [OfpController::Tcp("127.0.0.1:6633".parse().unwrap())]
    );
    for t in &targets[..2] {
        assert!(
            d.warnings
                .iter()
                .any(|w| w.contains(t) && w.contains("ovs-vsctl set-ssl")),
            "{t}: {:?}",
            d.warnings
        );
    }
    // An SSL row whose files do not work: the same, and the warning names the column.
    let d = desired(
        &with_controllers(&targets, Some([&key, &cert, &key])),
        &ctx(),
    );
    assert!(d.config.bridges[0].ofp_listen.is_empty());
    assert_eq!(d.config.bridges[0].controllers.len(), 1);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("ssl:127.0.0.1") && w.contains("SSL ca_cert")),
        "{:?}",
        d.warnings
    );
}
