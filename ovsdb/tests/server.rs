//! The client against Debian's real `ovsdb-server` holding the stock Open_vSwitch schema, with
//! Debian's `ovs-vsctl` making the changes an operator, libvirt or os-vif would make.
//! Each test runs its own server in a private directory; no root needed.

use std::time::{Duration, Instant};

use ovsdb::{datum, Client, Error, Replica, RowChange};
use serde_json::{json, Value};
use tests::ovsdb::OvsDb;

const DB: &str = "Open_vSwitch";

/// A fresh database with its root row, or `None` (saying why) when Open vSwitch's tools are not
/// installed.
fn server(test: &str) -> Option<OvsDb> {
    tests::ovsdb::available(test).then(OvsDb::start)
}

/// Updates for `mon` until `want` holds on the replica (bounded).
fn until(c: &Client, replica: &mut Replica, want: impl Fn(&Replica) -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if want(replica) {
            return true;
        }
        if let Ok(Some((_, u))) = c.next_update(Duration::from_millis(200)) {
            replica.apply(&u).expect("apply update");
        }
    }
    want(replica)
}

#[test]
fn lists_dbs_reads_the_schema_and_echoes() {
    let Some(s) = server("lists_dbs_reads_the_schema_and_echoes") else {
        return;
    };
    let c = Client::connect(&s.addr()).expect("connect");
    assert!(c.list_dbs().unwrap().contains(&DB.to_string()));
    let schema = c.get_schema(DB).unwrap();
    assert_eq!(schema["name"], DB);
    for t in [
        "Open_vSwitch",
        "Bridge",
        "Port",
        "Interface",
        "Controller",
        "QoS",
        "Queue",
    ] {
        assert!(schema["tables"].get(t).is_some(), "schema lacks {t}");
    }
    c.echo().unwrap();
    match c.get_schema("Nope") {
        Err(e @ Error::Rpc { .. }) => {
            let text = e.to_string();
            assert!(
                text.starts_with("OVSDB get_schema: unknown database"),
                "{text}"
            );
        }
        other => panic!("unknown database answered {other:?}"),
    }
    assert!(matches!(
        Client::connect("udp:1.2.3.4"),
        Err(Error::Address(_))
    ));
}

#[test]
fn a_monitor_follows_what_ovs_vsctl_changes() {
    let Some(s) = server("a_monitor_follows_what_ovs_vsctl_changes") else {
        return;
    };
    let c = Client::connect(&s.addr()).expect("connect");
    let req = json!({
        "Bridge": {"columns": ["name", "ports", "fail_mode"]},
        "Port": {"columns": ["name", "tag", "trunks", "interfaces"]},
        "Interface": {"columns": ["name", "type", "options"]}
    });
    let mut r = Replica::default();
    r.apply(&c.monitor(DB, &json!("m"), &req).unwrap()).unwrap();
    assert_eq!(r.table("Bridge").count(), 0);

    // What libvirt runs to plug a vhost-user NIC.
    let (ok, out) = s.vsctl(&[
        "--no-wait",
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
        "--",
        "--may-exist",
        "add-port",
        "br0",
        "vhu1",
        "tag=10",
        "--",
        "set",
        "Interface",
        "vhu1",
        "type=dpdkvhostuserclient",
        "options:vhost-server-path=/tmp/vhu1.sock",
    ]);
    assert!(ok, "{out}");
    assert!(until(&c, &mut r, |r| r
        .find("Port", "name", "vhu1")
        .is_some()));
    let (_, br) = r.find("Bridge", "name", "br0").expect("bridge row");
    let (port_uuid, port) = r.find("Port", "name", "vhu1").unwrap();
    assert!(datum::uuid_set(&br["ports"]).contains(&port_uuid.as_str()));
    assert_eq!(datum::opt_int(&port["tag"]), Some(10));
    let (_, iface) = r.find("Interface", "name", "vhu1").unwrap();
    assert_eq!(iface["type"], "dpdkvhostuserclient");
    assert_eq!(
        datum::str_map(&iface["options"])["vhost-server-path"],
        "/tmp/vhu1.sock"
    );

    // A modification carries the whole row and the old values.
    assert!(s.vsctl(&["--no-wait", "set", "port", "vhu1", "tag=20"]).0);
    let (_, u) = c
        .next_update(Duration::from_secs(10))
        .unwrap()
        .expect("an update");
    let change = u.0["Port"].values().next().expect("port change");
    match change {
        RowChange::Modify { old, new } => {
            assert_eq!(datum::opt_int(&old["tag"]), Some(10));
            assert_eq!(datum::opt_int(&new["tag"]), Some(20));
            assert_eq!(new["name"], "vhu1", "new holds the whole row");
        }
        other => panic!("expected a modify, got {other:?}"),
    }
    r.apply(&u).unwrap();

    assert!(s.vsctl(&["--no-wait", "--if-exists", "del-port", "vhu1"]).0);
    assert!(until(&c, &mut r, |r| r
        .find("Port", "name", "vhu1")
        .is_none()
        && r.find("Interface", "name", "vhu1").is_none()));
    assert!(s.vsctl(&["--no-wait", "del-br", "br0"]).0);
    assert!(until(&c, &mut r, |r| r.table("Bridge").count() == 0));
}

#[test]
fn writing_cur_cfg_releases_a_waiting_ovs_vsctl_and_failed_transactions_change_nothing() {
    let test =
        "writing_cur_cfg_releases_a_waiting_ovs_vsctl_and_failed_transactions_change_nothing";
    let Some(s) = server(test) else {
        return;
    };
    let c = Client::connect(&s.addr()).expect("connect");
    let req = json!({"Open_vSwitch": {"columns": ["next_cfg", "cur_cfg"]}});
    let mut r = Replica::default();
    r.apply(&c.monitor(DB, &json!(1), &req).unwrap()).unwrap();
    let cfg = |r: &Replica, col: &str| {
        r.table("Open_vSwitch")
            .next()
            .and_then(|(_, row)| row[col].as_i64())
            .unwrap_or(-1)
    };

    // ovs-vsctl without --no-wait bumps next_cfg and waits until the switch sets cur_cfg to it,
    // as ovs-vswitchd does once a change is applied. Play the switch.
    let waiting = std::thread::scope(|scope| {
        let vsctl = scope.spawn(|| s.vsctl(&["--timeout=10", "add-br", "br1"]));
        assert!(until(&c, &mut r, |r| cfg(r, "next_cfg") > cfg(r, "cur_cfg")));
        let next = cfg(&r, "next_cfg");
        c.transact(
            DB,
            &[json!({"op": "update", "table": "Open_vSwitch", "where": [],
                     "row": {"cur_cfg": next}})],
        )
        .unwrap();
        vsctl.join().unwrap()
    });
    assert!(
        waiting.0,
        "ovs-vsctl still waiting or failed: {}",
        waiting.1
    );
    assert_eq!(
        s.vsctl(&["get", "open_vswitch", ".", "cur_cfg"]).1.trim(),
        cfg(&r, "next_cfg").to_string()
    );

    // A transaction whose second operation is bad changes nothing, not even the first.
    let before = s.vsctl(&["get", "open_vswitch", ".", "cur_cfg"]).1;
    let e = c
        .transact(
            DB,
            &[
                json!({"op": "update", "table": "Open_vSwitch", "where": [], "row": {"cur_cfg": 999}}),
                json!({"op": "insert", "table": "Bridge", "row": {"name": 7}}),
            ],
        )
        .unwrap_err();
    match e {
        Error::Transaction { index, error, .. } => {
            assert_eq!(index, 1);
            assert!(error.contains("syntax error"), "{error}");
        }
        other => panic!("expected a transaction error, got {other}"),
    }
    assert_eq!(s.vsctl(&["get", "open_vswitch", ".", "cur_cfg"]).1, before);
}

#[test]
fn a_server_that_goes_away_fails_every_call() {
    let Some(mut s) = server("a_server_that_goes_away_fails_every_call") else {
        return;
    };
    let c = Client::connect(&s.addr()).expect("connect");
    c.monitor(DB, &json!("m"), &json!({"Bridge": {"columns": ["name"]}}))
        .unwrap();
    s.kill();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match c.next_update(Duration::from_millis(100)) {
            Err(Error::Closed) => break,
            Ok(_) => assert!(Instant::now() < deadline, "no Closed after the server died"),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(matches!(c.echo(), Err(Error::Closed | Error::Io(_))));
    // A new server on the same database: a new client connects and sees the same rows.
    s.run();
    let c2 = Client::connect(&s.addr()).expect("reconnect");
    let rows: Value = c2
        .transact(
            DB,
            &[json!({"op": "select", "table": "Open_vSwitch", "where": []})],
        )
        .unwrap()[0]["rows"]
        .clone();
    assert_eq!(rows.as_array().map(Vec::len), Some(1));
}
