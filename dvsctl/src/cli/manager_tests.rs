use super::*;
use crate::cli::{Cli, Top};
use clap::Parser;
use serde_json::json;

/// A fake dvsm: answers from a queue, records what was asked.
struct Fake {
    sent: Vec<Request>,
    replies: Vec<Result<Reply, ManagerError>>,
}

impl Fake {
    fn new(replies: Vec<Reply>) -> Fake {
        Fake {
            sent: Vec::new(),
            replies: replies.into_iter().map(Ok).collect(),
        }
    }

    fn run(&mut self, kind: Kind, cmd: &ObjCmd) -> Result<Outcome, ManagerError> {
        self.replies.reverse();
        let mut call = |r: &Request| {
            self.sent.push(r.clone());
            self.replies.pop().unwrap_or_else(|| Ok(ok(json!({}))))
        };
        execute(kind, cmd, &mut call)
    }
}

fn ok(body: Value) -> Reply {
    Reply {
        status: 200,
        etag: None,
        body,
    }
}

fn parse(args: &[&str]) -> (Kind, ObjCmd) {
    let mut full = vec!["dvsctl"];
    full.extend_from_slice(args);
    let cli = Cli::try_parse_from(full).unwrap();
    let (k, c) = cli.command.manager().unwrap();
    (k, c.clone())
}

/// The body `create` POSTs for `args` (`dvsctl <args>`), checking the path.
fn created(args: &[&str]) -> Value {
    let (kind, cmd) = parse(args);
    let mut fake = Fake::new(vec![ok(json!({"revision": 1}))]);
    fake.run(kind, &cmd).unwrap();
    assert_eq!(fake.sent.len(), 1);
    let r = &fake.sent[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/v1/{}", kind.collection()));
    assert_eq!(r.if_match, None);
    r.body.clone().unwrap()
}

#[test]
fn create_builds_each_kind() {
    assert_eq!(
        created(&["host", "create", "h1", "description=rack 4"]),
        json!({"name": "h1", "description": "rack 4"})
    );
    assert_eq!(
        created(&[
            "dvs",
            "create",
            "dvs1",
            "vlan_pool=1-2000,3000",
            "mtu=9000",
            "hosts=h1,h2"
        ]),
        json!({"name": "dvs1", "vlan_pool": "1-2000,3000", "mtu": 9000, "hosts": ["h1", "h2"]})
    );
    assert_eq!(
        created(&["uplink", "create", "u1", "dvs=dvs1", "host=h1", "nic=eth1"]),
        json!({"name": "u1", "dvs": "dvs1", "host": "h1", "nic": "eth1"})
    );
    assert_eq!(
        created(&[
            "uplink",
            "create",
            "u2",
            "dvs=dvs1",
            "host=h1",
            "bond.members=eth1,eth2",
            "bond.mode=active-backup"
        ]),
        json!({"name": "u2", "dvs": "dvs1", "host": "h1",
               "bond": {"members": ["eth1", "eth2"], "mode": "active-backup"}})
    );
    assert_eq!(
        created(&[
            "portgroup",
            "create",
            "pg1",
            "dvs=dvs1",
            "vlan.vlan=10",
            "vlan.mode=access",
            "qos_in.average_kbps=1000",
            "qos_in.peak_kbps=2000",
            "broadcast_suppression.pps=100",
            "dhcp_isolation=true",
            "ip_mac_binding=false",
            "security_group=web"
        ]),
        json!({"name": "pg1", "dvs": "dvs1", "vlan": {"mode": "access", "vlan": 10},
               "qos_in": {"average_kbps": 1000, "peak_kbps": 2000},
               "broadcast_suppression": {"pps": 100},
               "dhcp_isolation": true, "ip_mac_binding": false, "security_group": "web"})
    );
    assert_eq!(
        created(&[
            "portgroup",
            "create",
            "pg2",
            "dvs=dvs1",
            "vlan.mode=trunk",
            "vlan.vlans=10-20"
        ]),
        json!({"name": "pg2", "dvs": "dvs1", "vlan": {"mode": "trunk", "vlans": "10-20"}})
    );
    assert_eq!(
        created(&[
            "secgroup",
            "create",
            "web",
            "rules.0.direction=ingress",
            "rules.0.ethertype=ipv4",
            "rules.0.protocol=tcp",
            "rules.0.port_min=80",
            "rules.0.port_max=443",
            "rules.0.remote=10.0.0.0/8",
            "rules.1.direction=egress",
            "rules.1.ethertype=ipv6"
        ]),
        json!({"name": "web", "rules": [
            {"direction": "ingress", "ethertype": "ipv4", "protocol": "tcp",
             "port_min": 80, "port_max": 443, "remote": "10.0.0.0/8"},
            {"direction": "egress", "ethertype": "ipv6"}]})
    );
    assert_eq!(
        created(&[
            "port",
            "create",
            "p1",
            "vm=vm1",
            "host=h1",
            "port_group=pg1",
            "mac=52:54:00:00:00:01",
            "ips=10.0.0.1,10.0.0.2",
            "backend.kind=vhost_user",
            "backend.socket=/run/vm1.sock",
            "backend.role=server"
        ]),
        json!({"id": "p1", "vm": "vm1", "host": "h1", "port_group": "pg1",
               "mac": "52:54:00:00:00:01", "ips": ["10.0.0.1", "10.0.0.2"],
               "backend": {"kind": "vhost_user", "socket": "/run/vm1.sock", "role": "server"}})
    );
    assert_eq!(
        created(&[
            "port",
            "create",
            "p2",
            "backend.kind=linux",
            "backend.interface=veth1"
        ])["backend"],
        json!({"kind": "linux", "interface": "veth1"})
    );
}

#[test]
fn string_fields_stay_strings() {
    // Numbers and bools in string fields are kept as typed.
    assert_eq!(
        created(&["dvs", "create", "d", "vlan_pool=100", "hosts=1,2"]),
        json!({"name": "d", "vlan_pool": "100", "hosts": ["1", "2"]})
    );
    assert_eq!(
        created(&["host", "create", "7", "description=true"]),
        json!({"name": "7", "description": "true"})
    );
    assert_eq!(
        created(&[
            "port",
            "create",
            "42",
            "vm=12",
            "mac=00",
            "backend.interface=1"
        ]),
        json!({"id": "42", "vm": "12", "mac": "00", "backend": {"interface": "1"}})
    );
    // Fields dvsctl does not know are read as JSON when they can be, so dvsm can name them.
    assert_eq!(
        created(&["host", "create", "h", "colour=3", "shade=dark"]),
        json!({"name": "h", "colour": 3, "shade": "dark"})
    );
    // A JSON list or object where a whole field goes.
    assert_eq!(
        created(&[
            "secgroup",
            "create",
            "s",
            r#"rules=[{"direction":"egress","ethertype":"ipv4"}]"#
        ]),
        json!({"name": "s", "rules": [{"direction": "egress", "ethertype": "ipv4"}]})
    );
    assert_eq!(
        created(&[
            "dvs",
            "create",
            "d",
            r#"hosts=["a","b"]"#,
            "vlan_pool=1-2,5"
        ]),
        json!({"name": "d", "hosts": ["a", "b"], "vlan_pool": "1-2,5"})
    );
    // Values may hold '=' (only the first one splits).
    assert_eq!(
        created(&["host", "create", "h", "description=a=b"]),
        json!({"name": "h", "description": "a=b"})
    );
    // An empty value on create leaves the field out.
    assert_eq!(
        created(&["host", "create", "h", "description="]),
        json!({"name": "h"})
    );
}

#[test]
fn bad_assignments_are_refused() {
    for (args, msg) in [
        (
            &["host", "create", "h", "description"][..],
            "\"description\" is not KEY=VALUE",
        ),
        (
            &["host", "create", "h", "a..b=1"],
            "\"a..b=1\": \"a..b\" is not a field name",
        ),
        (
            &["host", "create", "h", "=1"],
            "\"=1\": \"\" is not a field name",
        ),
        (
            &["secgroup", "create", "s", "rules.1.direction=ingress"],
            "rules.1.direction: index 1 is past the end of a list of 0 (use 0 to append)",
        ),
        (
            &["dvs", "create", "d", "mtu=9000", "mtu.x=1"],
            "mtu.x: the field holding \"x\" is not an object or list",
        ),
        (
            &["host", "create", "h1", "name=h2"],
            "name \"h2\" differs from the host named on the command line (\"h1\"); objects \
             cannot be renamed",
        ),
    ] {
        let (kind, cmd) = parse(args);
        let mut fake = Fake::new(vec![]);
        let e = fake.run(kind, &cmd).unwrap_err();
        assert_eq!(e.to_string(), msg, "{args:?}");
        assert!(fake.sent.is_empty(), "{args:?} sent a request");
    }
}

/// What `update` PUTs after reading `current` (with ETag `etag`), and the If-Match it sends.
fn updated(args: &[&str], current: Value, etag: Option<u64>) -> (Value, Option<u64>) {
    let (kind, cmd) = parse(args);
    let mut fake = Fake::new(vec![Reply {
        status: 200,
        etag,
        body: current,
    }]);
    fake.run(kind, &cmd).unwrap();
    assert_eq!(fake.sent.len(), 2);
    let (get, put) = (&fake.sent[0], &fake.sent[1]);
    assert_eq!(get.method, "GET");
    assert_eq!(put.method, "PUT");
    assert_eq!(get.path, put.path);
    assert_eq!(put.path, format!("/v1/{}/{}", kind.collection(), args[2]));
    (put.body.clone().unwrap(), put.if_match)
}

#[test]
fn update_reads_modifies_and_writes_with_if_match() {
    let pg = json!({"name": "pg1", "dvs": "dvs1", "vlan": {"mode": "access", "vlan": 10},
                    "qos_in": {"average_kbps": 1000, "peak_kbps": 2000},
                    "dhcp_isolation": true, "revision": 7});
    // The revision from the ETag; server fields are not sent back.
    let (body, rev) = updated(
        &[
            "portgroup",
            "update",
            "pg1",
            "vlan.vlan=20",
            "qos_in.peak_kbps=",
        ],
        pg.clone(),
        Some(8),
    );
    assert_eq!(rev, Some(8));
    assert_eq!(
        body,
        json!({"name": "pg1", "dvs": "dvs1", "vlan": {"mode": "access", "vlan": 20},
               "qos_in": {"average_kbps": 1000}, "dhcp_isolation": true})
    );
    // Without an ETag, the body's revision; a whole optional field removed.
    let (body, rev) = updated(&["portgroup", "update", "pg1", "qos_in="], pg.clone(), None);
    assert_eq!(rev, Some(7));
    assert!(body.get("qos_in").is_none());
    // A new VLAN mode starts the vlan object afresh (wherever the tag is on the line).
    let (body, _) = updated(
        &[
            "portgroup",
            "update",
            "pg1",
            "vlan.vlans=100-200",
            "vlan.mode=trunk",
        ],
        pg.clone(),
        None,
    );
    assert_eq!(body["vlan"], json!({"mode": "trunk", "vlans": "100-200"}));
    // The same mode keeps the object.
    let (body, _) = updated(
        &["portgroup", "update", "pg1", "vlan.mode=access"],
        pg,
        None,
    );
    assert_eq!(body["vlan"], json!({"mode": "access", "vlan": 10}));
    // --if-match wins over the revision read.
    let (_, rev) = updated(
        &["host", "update", "h1", "description=x", "--if-match", "3"],
        json!({"name": "h1", "revision": 9}),
        Some(9),
    );
    assert_eq!(rev, Some(3));
}

#[test]
fn update_drops_what_dvsm_adds() {
    let host = json!({"name": "h1", "description": "old", "revision": 4, "connected": true,
                      "last_seen": 123, "facts": {"nics": []}, "revision_acked": 4,
                      "apply_errors": []});
    let (body, rev) = updated(&["host", "update", "h1", "description=new"], host, None);
    assert_eq!(rev, Some(4));
    assert_eq!(body, json!({"name": "h1", "description": "new"}));
    // A token may be chosen (or rotated): it is the caller's, not dvsm's decoration.
    let (body, _) = updated(
        &["host", "update", "h1", "token=n3w-s3cr3t"],
        json!({"name": "h1", "revision": 4}),
        None,
    );
    assert_eq!(body, json!({"name": "h1", "token": "n3w-s3cr3t"}));
    let port = json!({"id": "p1", "host": "h1", "port_group": "pg1", "mac": "52:54:00:00:00:01",
                      "ips": ["10.0.0.1"], "revision": 2,
                      "backend": {"kind": "vhost_user", "socket": "/s", "role": "client"},
                      "status": {"link": "up", "ofport": 3}});
    let (body, _) = updated(
        &[
            "port",
            "update",
            "p1",
            "backend.kind=linux",
            "backend.interface=tap1",
            "ips=",
            "host=h2",
        ],
        port,
        None,
    );
    assert_eq!(
        body,
        json!({"id": "p1", "host": "h2", "port_group": "pg1", "mac": "52:54:00:00:00:01",
               "backend": {"kind": "linux", "interface": "tap1"}})
    );
}

#[test]
fn uplink_nic_and_bond_replace_each_other() {
    let nic = json!({"name": "u1", "dvs": "d", "host": "h", "nic": "eth1", "revision": 1});
    let (body, _) = updated(
        &[
            "uplink",
            "update",
            "u1",
            "bond.members=eth1,eth2",
            "bond.mode=balance-slb",
        ],
        nic,
        None,
    );
    assert_eq!(
        body,
        json!({"name": "u1", "dvs": "d", "host": "h",
               "bond": {"members": ["eth1", "eth2"], "mode": "balance-slb"}})
    );
    let (body, _) = updated(&["uplink", "update", "u1", "nic=eth3"], body, None);
    assert_eq!(
        body,
        json!({"name": "u1", "dvs": "d", "host": "h", "nic": "eth3"})
    );
}

#[test]
fn secgroup_rules_by_index() {
    let sg = json!({"name": "s", "rules": [
        {"direction": "ingress", "ethertype": "ipv4", "protocol": "tcp", "port_min": 22},
        {"direction": "egress", "ethertype": "ipv4"}]});
    let (body, _) = updated(
        &[
            "secgroup",
            "update",
            "s",
            "rules.0.port_min=2222",
            "rules.0.remote=10.0.0.0/8",
            "rules.1=",
            "rules.1.direction=egress",
            "rules.1.ethertype=ipv6",
        ],
        sg.clone(),
        None,
    );
    assert_eq!(
        body["rules"],
        json!([
            {"direction": "ingress", "ethertype": "ipv4", "protocol": "tcp", "port_min": 2222,
             "remote": "10.0.0.0/8"},
            {"direction": "egress", "ethertype": "ipv6"}])
    );
    let (body, _) = updated(&["secgroup", "update", "s", "rules="], sg, None);
    assert_eq!(body, json!({"name": "s"}));
}

fn temp_json(tag: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("dvsctl-{tag}-{}.json", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn from_json_gives_the_body() {
    let path = temp_json(
        "create",
        r#"{"vlan_pool": "1-100", "mtu": 1500, "revision": 3}"#,
    );
    let p = path.to_str().unwrap();
    // Create: the file, assignments on top, the name from the command line.
    assert_eq!(
        created(&["dvs", "create", "d1", "--from-json", p, "mtu=9000"]),
        json!({"name": "d1", "vlan_pool": "1-100", "mtu": 9000})
    );
    // Update: no GET; If-Match from the file's revision, or --if-match.
    for (extra, want) in [(&[][..], Some(3)), (&["--if-match", "5"][..], Some(5))] {
        let mut args = vec!["dvs", "update", "d1", "--from-json", p];
        args.extend_from_slice(extra);
        let (kind, cmd) = parse(&args);
        let mut fake = Fake::new(vec![]);
        fake.run(kind, &cmd).unwrap();
        assert_eq!(fake.sent.len(), 1);
        assert_eq!(fake.sent[0].method, "PUT");
        assert_eq!(fake.sent[0].if_match, want);
        assert_eq!(
            fake.sent[0].body,
            Some(json!({"name": "d1", "vlan_pool": "1-100", "mtu": 1500}))
        );
    }
    std::fs::remove_file(&path).unwrap();
    let (kind, cmd) = parse(&["dvs", "create", "d1", "--from-json", p]);
    let e = Fake::new(vec![]).run(kind, &cmd).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{p}: No such file or directory (os error 2)")
    );
    let bad = temp_json("bad", "[1]");
    let b = bad.to_str().unwrap();
    let (kind, cmd) = parse(&["dvs", "create", "d1", "--from-json", b]);
    let e = Fake::new(vec![]).run(kind, &cmd).unwrap_err();
    assert_eq!(e.to_string(), format!("{b}: not a JSON object"));
    std::fs::write(&bad, r#"{"name": "other"}"#).unwrap();
    let e = Fake::new(vec![]).run(kind, &cmd).unwrap_err();
    assert!(e.to_string().contains("cannot be renamed"), "{e}");
    std::fs::remove_file(&bad).unwrap();
}

#[test]
fn list_show_delete_requests() {
    let (kind, cmd) = parse(&["secgroup", "list"]);
    let mut fake = Fake::new(vec![ok(json!([]))]);
    assert_eq!(fake.run(kind, &cmd).unwrap(), Outcome::Listed(json!([])));
    assert_eq!(
        fake.sent,
        vec![Request {
            method: "GET",
            path: "/v1/secgroups".into(),
            body: None,
            if_match: None
        }]
    );
    let (kind, cmd) = parse(&["dvs", "delete", "d1", "--if-match", "4"]);
    let mut fake = Fake::new(vec![ok(Value::Null)]);
    assert_eq!(fake.run(kind, &cmd).unwrap(), Outcome::Deleted(Value::Null));
    assert_eq!(
        fake.sent,
        vec![Request {
            method: "DELETE",
            path: "/v1/dvs/d1".into(),
            body: None,
            if_match: Some(4)
        }]
    );
    let (kind, cmd) = parse(&["host", "show", "h1"]);
    let mut fake = Fake::new(vec![ok(json!({"name": "h1"}))]);
    assert_eq!(
        fake.run(kind, &cmd).unwrap(),
        Outcome::Shown(json!({"name": "h1"}))
    );
    assert_eq!(fake.sent.len(), 1);
}

#[test]
fn dvsm_errors_as_they_come() {
    let refusal = |status, body| Reply {
        status,
        etag: None,
        body,
    };
    let (kind, cmd) = parse(&[
        "portgroup",
        "create",
        "pg",
        "vlan.mode=access",
        "vlan.vlan=4000",
    ]);
    let mut fake = Fake::new(vec![refusal(
        409,
        json!({"error": {"status": 409, "field": "vlan", "message": "VLAN 4000 is outside dvs1's pool 1-2000"}}),
    )]);
    let e = fake.run(kind, &cmd).unwrap_err();
    assert_eq!(
        e.to_string(),
        "409 vlan: VLAN 4000 is outside dvs1's pool 1-2000"
    );
    let (kind, cmd) = parse(&["host", "show", "nope"]);
    let mut fake = Fake::new(vec![refusal(
        404,
        json!({"error": {"status": 404, "field": "", "message": "no host nope"}}),
    )]);
    assert_eq!(
        fake.run(kind, &cmd).unwrap_err().to_string(),
        "404: no host nope"
    );
    // An update whose object changed under it: the 412 from the PUT.
    let (kind, cmd) = parse(&["host", "update", "h1", "description=x"]);
    let mut fake = Fake::new(vec![
        ok(json!({"name": "h1", "revision": 3})),
        refusal(
            412,
            json!({"error": {"status": 412, "field": "If-Match", "message": "h1 is at revision 4, not 3"}}),
        ),
    ]);
    assert_eq!(
        fake.run(kind, &cmd).unwrap_err().to_string(),
        "412 If-Match: h1 is at revision 4, not 3"
    );
    // A body without dvsm's error shape is shown whole.
    let mut fake = Fake::new(vec![refusal(500, json!("boom"))]);
    assert_eq!(fake.run(kind, &cmd).unwrap_err().to_string(), "500: boom");
    // A transport failure stops at the first request.
    let mut fake = Fake {
        sent: Vec::new(),
        replies: vec![Err(ManagerError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            message: "Connection refused (os error 111)".into(),
        })],
    };
    assert_eq!(
        fake.run(kind, &cmd).unwrap_err().to_string(),
        "cannot reach dvsm at http://127.0.0.1:1: Connection refused (os error 111)"
    );
    assert_eq!(fake.sent.len(), 1);
}

#[test]
fn revision_request() {
    let c = Cli::try_parse_from(["dvsctl", "revision"]).unwrap();
    assert!(matches!(c.command, Top::Revision));
    assert!(c.command.manager().is_none());
    let mut sent = Vec::new();
    let mut call = |r: &Request| {
        sent.push(r.clone());
        Ok(ok(json!({"revision": 7})))
    };
    assert_eq!(
        revision(&mut call).unwrap(),
        Outcome::Revision(json!({"revision": 7}))
    );
    assert_eq!(sent[0].path, "/v1/revision");
    assert_eq!(sent[0].method, "GET");
}

#[test]
fn url_resolution() {
    assert_eq!(dvsm_url(None, None), "http://127.0.0.1:6681");
    assert_eq!(dvsm_url(None, Some("")), "http://127.0.0.1:6681");
    assert_eq!(dvsm_url(None, Some("http://e:1")), "http://e:1");
    assert_eq!(
        dvsm_url(Some("http://f:2"), Some("http://e:1")),
        "http://f:2"
    );
}

#[test]
fn cli_shape() {
    let c =
        Cli::try_parse_from(["dvsctl", "port", "list", "--json", "--dvsm", "http://m:1"]).unwrap();
    assert!(c.json);
    assert_eq!(c.dvsm.as_deref(), Some("http://m:1"));
    assert!(matches!(c.command, Top::Port(ObjCmd::List)));
    for kind in ["host", "dvs", "uplink", "portgroup", "secgroup", "port"] {
        for verb in [
            &["list"][..],
            &["show", "x"],
            &["create", "x", "a=b"],
            &["update", "x", "a="],
            &["delete", "x"],
        ] {
            let mut args = vec!["dvsctl", kind];
            args.extend_from_slice(verb);
            assert!(Cli::try_parse_from(&args).is_ok(), "{args:?}");
        }
        assert!(Cli::try_parse_from(["dvsctl", kind, "show"]).is_err());
        assert!(Cli::try_parse_from(["dvsctl", kind, "frob"]).is_err());
    }
    // --if-match only where it means something.
    assert!(Cli::try_parse_from(["dvsctl", "host", "create", "h", "--if-match", "1"]).is_err());
    // The switch commands still parse as before.
    let c = Cli::try_parse_from(["dvsctl", "switch", "show"]).unwrap();
    assert!(c.command.manager().is_none());
}
