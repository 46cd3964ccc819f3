use super::*;
use serde_json::json;

/// The time the tests render at (Unix seconds).
const NOW: u64 = 1_700_000_000;

fn list_of(kind: Kind, v: Value) -> String {
    render_at(kind, &ObjCmd::List, &Outcome::Listed(v), NOW).unwrap()
}

fn show_of(kind: Kind, v: Value) -> String {
    render_at(
        kind,
        &ObjCmd::Show { name: "x".into() },
        &Outcome::Shown(v),
        NOW,
    )
    .unwrap()
}

#[test]
fn tables_pad_columns() {
    assert_eq!(
        table(
            &["A", "BB"],
            &[vec!["xyz".into(), "1".into()], vec!["q".into(), "-".into()]]
        ),
        "A    BB\nxyz  1\nq    -\n"
    );
    assert_eq!(table(&["NAME", "X"], &[]), "NAME  X\n");
}

#[test]
fn host_table() {
    let v = json!({"items": [
        {"name": "h1", "description": "", "connected": true, "last_seen": NOW - 2,
         "revision_acked": 12, "apply_errors": [], "revision": 3},
        {"name": "compute-2", "connected": false, "last_seen": NOW - 7300,
         "apply_errors": [{"key": "port/p1", "message": "no such NIC"}]},
        {"name": "new", "connected": false, "last_seen": null, "revision_acked": null}
    ], "revision": 12});
    assert_eq!(
        list_of(Kind::Host, v),
        "\
NAME       CONNECTED  LAST-SEEN  REVISION-ACKED  ERRORS
h1         yes        2s ago     12              0
compute-2  no         2h ago     -               1
new        no         -          -               0
"
    );
    assert_eq!(ago(NOW - 59, NOW), "59s ago");
    assert_eq!(ago(NOW - 60, NOW), "1m ago");
    assert_eq!(ago(NOW - 86400 * 3, NOW), "3d ago");
    assert_eq!(ago(NOW + 5, NOW), "0s ago");
}

#[test]
fn dvs_and_uplink_tables() {
    let v = json!({"dvs": [
        {"name": "dvs1", "vlan_pool": "1-2000,3000", "mtu": 9000, "hosts": ["h1", "h2"]},
        {"name": "d2", "vlan_pool": "5", "mtu": 1500, "hosts": []}
    ]});
    assert_eq!(
        list_of(Kind::Dvs, v),
        "\
NAME  VLAN-POOL    MTU   HOSTS
dvs1  1-2000,3000  9000  h1,h2
d2    5            1500  -
"
    );
    let v = json!([
        {"name": "u1", "dvs": "dvs1", "host": "h1", "nic": "eth1", "status": {"link": true}},
        {"name": "u2", "dvs": "dvs1", "host": "h2",
         "bond": {"members": ["eth1", "eth2"], "mode": "active-backup"}}
    ]);
    assert_eq!(
        list_of(Kind::Uplink, v),
        "\
NAME  DVS   HOST  NIC/BOND                   LINK
u1    dvs1  h1    eth1                       up
u2    dvs1  h2    eth1,eth2 (active-backup)  -
"
    );
}

#[test]
fn portgroup_and_secgroup_tables() {
    let v = json!([
        {"name": "web", "dvs": "dvs1", "vlan": {"mode": "access", "vlan": 10},
         "qos_in": {"average_kbps": 1000, "peak_kbps": 2000}, "qos_out": {"average_kbps": 500},
         "dhcp_isolation": true, "ip_mac_binding": true, "tcp_checksum_fill": false,
         "broadcast_suppression": {"pps": 100}, "security_group": "sg1"},
        {"name": "trunk", "dvs": "dvs1", "vlan": {"mode": "trunk", "vlans": "100-200"},
         "dhcp_isolation": false}
    ]);
    assert_eq!(
        list_of(Kind::PortGroup, v),
        "\
NAME   DVS   VLAN           QOS-IN         QOS-OUT  SECURITY  FLAGS
web    dvs1  access 10      1000-2000kbps  500kbps  sg1       dhcp-isolation,ip-mac-binding,bcast<=100pps
trunk  dvs1  trunk 100-200  -              -        -         -
"
    );
    let v = json!([{"name": "sg1", "rules": [{}, {}]}, {"name": "empty", "rules": []}]);
    assert_eq!(
        list_of(Kind::SecGroup, v),
        "NAME   RULES\nsg1    2\nempty  0\n"
    );
}

#[test]
fn port_table() {
    let v = json!([
        {"id": "p1", "vm": "vm1", "host": "h1", "port_group": "web", "mac": "52:54:00:00:00:01",
         "ips": ["10.0.0.1", "10.0.0.2"],
         "backend": {"kind": "vhost_user", "socket": "/run/vm1.sock", "role": "client"},
         "status": {"link": "up", "ofport": 3}},
        {"id": "p2", "vm": "", "host": "h2", "port_group": "web", "mac": "52:54:00:00:00:02",
         "ips": [], "backend": {"kind": "linux", "interface": "veth1"},
         "status": {"link": false}},
        {"id": "p3", "host": "h2", "port_group": "web", "mac": "52:54:00:00:00:03",
         "backend": {"kind": "linux", "interface": "veth3"}}
    ]);
    assert_eq!(
        list_of(Kind::Port, v),
        "\
ID  VM   HOST  PORT-GROUP  MAC                IPS                BACKEND                            LINK
p1  vm1  h1    web         52:54:00:00:00:01  10.0.0.1,10.0.0.2  vhost_user:/run/vm1.sock (client)  up
p2  -    h2    web         52:54:00:00:00:02  -                  linux:veth1                        down
p3  -    h2    web         52:54:00:00:00:03  -                  linux:veth3                        -
"
    );
}

#[test]
fn a_list_answer_of_the_wrong_shape_is_an_error() {
    let e = render(Kind::Dvs, &ObjCmd::List, &Outcome::Listed(json!({"x": 1}))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unexpected answer from dvsm to GET /v1/dvs: expected a list"
    );
}

#[test]
fn show_prints_every_field_dotted() {
    let v = json!({"name": "web", "dvs": "dvs1", "vlan": {"mode": "access", "vlan": 10},
                   "qos_in": {"average_kbps": 1000, "peak_kbps": 0}, "dhcp_isolation": true,
                   "revision": 4});
    assert_eq!(
        show_of(Kind::PortGroup, v),
        "\
name:                web
dhcp_isolation:      true
dvs:                 dvs1
qos_in.average_kbps: 1000
qos_in.peak_kbps:    0
vlan.mode:           access
vlan.vlan:           10
revision:            4
"
    );
    let v = json!({"name": "sg", "rules": [
        {"direction": "ingress", "ethertype": "ipv4", "port_min": 22},
        {"direction": "egress", "ethertype": "ipv6"}]});
    assert_eq!(
        show_of(Kind::SecGroup, v),
        "\
name:              sg
rules.0.direction: ingress
rules.0.ethertype: ipv4
rules.0.port_min:  22
rules.1.direction: egress
rules.1.ethertype: ipv6
"
    );
    let v = json!({"name": "h1", "description": "", "connected": true, "last_seen": NOW - 5,
                   "revision_acked": 3, "apply_errors": [], "revision": 2,
                   "facts": {"nics": [{"name": "eth0", "link": true}], "pmd_cores": [2, 3],
                             "versions": {}}});
    assert_eq!(
        show_of(Kind::Host, v),
        "\
name:              h1
description:       -
revision:          2
connected:         true
last_seen:         1699999995 (5s ago)
revision_acked:    3
apply_errors:      none
facts.nics.0.link: true
facts.nics.0.name: eth0
facts.pmd_cores:   2,3
facts.versions:    -
"
    );
}

#[test]
fn port_show_includes_live_status() {
    let v = json!({"id": "p1", "vm": "vm1", "host": "h1", "port_group": "web",
                   "mac": "52:54:00:00:00:01", "ips": ["10.0.0.1"],
                   "backend": {"kind": "linux", "interface": "veth1"}, "revision": 9,
                   "status": {"link": "up", "ofport": 3, "age_ms": 1200, "error": null,
                              "counters": {"rx_packets": 10, "tx_packets": 7}}});
    assert_eq!(
        show_of(Kind::Port, v),
        "\
id:                         p1
backend.interface:          veth1
backend.kind:               linux
host:                       h1
ips:                        10.0.0.1
mac:                        52:54:00:00:00:01
port_group:                 web
vm:                         vm1
revision:                   9
status.age_ms:              1200
status.counters.rx_packets: 10
status.counters.tx_packets: 7
status.error:               -
status.link:                up
status.ofport:              3
"
    );
}

#[test]
fn confirmations_and_the_token() {
    let create = ObjCmd::Create {
        name: "h1".into(),
        set: vec![],
        from_json: None,
    };
    let out = render(
        Kind::Host,
        &create,
        &Outcome::Created(json!({"name": "h1", "revision": 1, "token": "s3cr3t"})),
    )
    .unwrap();
    assert_eq!(
        out,
        "created host h1 (revision 1)\ntoken: s3cr3t\n  (the agent on h1 registers with this \
         token; it is not shown again)\n"
    );
    let out = render(
        Kind::Dvs,
        &ObjCmd::Update {
            name: "d".into(),
            set: vec![],
            from_json: None,
            if_match: None,
        },
        &Outcome::Updated(json!({"name": "d"})),
    )
    .unwrap();
    assert_eq!(out, "updated dvs d\n");
    let out = render(
        Kind::Port,
        &ObjCmd::Delete {
            name: "p1".into(),
            if_match: None,
        },
        &Outcome::Deleted(json!({"deleted": "port/p1", "revision": 12})),
    )
    .unwrap();
    assert_eq!(out, "deleted port p1 (revision 12)\n");
}

#[test]
fn show_says_when_no_status_was_reported() {
    let out = show_of(Kind::Uplink, json!({"name": "u1", "nic": "eth1"}));
    assert_eq!(out, "name:   u1\nnic:    eth1\nstatus: none reported yet\n");
    let out = show_of(Kind::Dvs, json!({"name": "d"}));
    assert_eq!(out, "name: d\n");
}

#[test]
fn json_is_dvsm_s_answer() {
    assert_eq!(json(&Outcome::Deleted(Value::Null)), "");
    assert_eq!(
        json(&Outcome::Listed(json!([{"name": "a"}]))),
        "[\n  {\n    \"name\": \"a\"\n  }\n]\n"
    );
}

#[test]
fn revision_line() {
    let o = Outcome::Revision(json!({"revision": 42}));
    assert_eq!(revision_text(&o), "revision 42\n");
    assert_eq!(json(&o), "{\n  \"revision\": 42\n}\n");
}
