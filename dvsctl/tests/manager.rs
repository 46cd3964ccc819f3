//! End to end: the real `dvsm` on a fresh store, driven by the real `dvsctl` through create,
//! list, show, update and delete for every kind of object, plus what it must refuse (a VLAN
//! outside the pool, a stale `If-Match`, an unreachable manager) and concurrent updates.
//!
//! dvsm is a sibling binary that `cargo test -p dvsctl` does not build: run
//! `cargo build -p dvsm` (or `cargo build --workspace --bins`) first. Without it these tests
//! print why and pass, so a dvsctl-only build still tests everything else.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DVSCTL: &str = env!("CARGO_BIN_EXE_dvsctl");

/// A dvsm on a temporary store; killed and its store removed on drop.
struct Dvsm {
    child: Child,
    dir: PathBuf,
    url: String,
    log: Arc<Mutex<String>>,
}

impl Drop for Dvsm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Start dvsm with its API and agent listener on ephemeral loopback ports, or say why not.
fn start_dvsm(tag: &str) -> Option<Dvsm> {
    let bin = PathBuf::from(DVSCTL).with_file_name("dvsm");
    if !bin.exists() {
        println!(
            "skipped: {} is missing; run `cargo build -p dvsm` (or `cargo build --workspace \
             --bins`) first",
            bin.display()
        );
        return None;
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("dvsctl-e2e-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut child = Command::new(&bin)
        .arg("--db")
        .arg(dir.join("dvsm.db"))
        .args(["--api", "127.0.0.1:0", "--agents", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dvsm");
    let stderr = child.stderr.take().expect("dvsm stderr");
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    {
        let log = log.clone();
        // Keeps reading after the address is found, so dvsm never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening api=").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
                log.lock().unwrap().push_str(&(line + "\n"));
            }
        });
    }
    let mut d = Dvsm {
        child,
        dir,
        url: String::new(),
        log,
    };
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(addr) => d.url = format!("http://{addr}"),
        Err(_) => panic!("dvsm did not start: {}", d.log.lock().unwrap()),
    }
    Some(d)
}

/// What one dvsctl run gave.
#[derive(Debug)]
struct Run {
    code: i32,
    out: String,
    err: String,
}

impl Dvsm {
    /// `dvsctl --dvsm URL ARGS`, with `stdin` on its standard input.
    fn run_with(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = Command::new(DVSCTL)
            .arg("--dvsm")
            .arg(&self.url)
            .args(args)
            .env_remove("DVSM_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run dvsctl");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.as_bytes()).expect("write stdin");
        drop(input);
        let o = child.wait_with_output().expect("dvsctl output");
        Run {
            code: o.status.code().unwrap_or(-1),
            out: String::from_utf8_lossy(&o.stdout).into_owned(),
            err: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, "")
    }

    /// A run that must succeed (silently on stderr); its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert!(
            r.code == 0 && r.err.is_empty(),
            "dvsctl {}: {r:?}\ndvsm log:\n{}",
            args.join(" "),
            self.log.lock().unwrap()
        );
        r.out
    }

    /// `--json ARGS`, parsed.
    fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.ok(&a);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// A run that must fail with exit status 1 and nothing on stdout; its stderr.
    fn refused(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 1, "dvsctl {}: {r:?}", args.join(" "));
        assert!(r.out.is_empty(), "dvsctl {}: {r:?}", args.join(" "));
        r.err
    }
}

/// The value of `key:` in `show` output.
fn shown<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == key).then(|| v.trim())
    })
}

/// The row of a table whose first column is `name`, split into columns at runs of 2+ spaces.
fn row(table: &str, name: &str) -> Vec<String> {
    table
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .find(|cols| cols.first().map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in\n{table}"))
}

/// Table rows, without the header.
fn rows(table: &str) -> usize {
    table.lines().count().saturating_sub(1)
}

#[test]
fn every_kind_through_its_life() {
    let Some(m) = start_dvsm("life") else {
        return;
    };

    // Hosts: the token once, clearly labelled.
    let out = m.ok(&["host", "create", "h1"]);
    assert!(out.starts_with("created host h1 (revision "), "{out}");
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .unwrap_or_else(|| panic!("no token line in {out}"));
    assert!(token.len() >= 16, "{out}");
    assert!(out.contains("not shown again"), "{out}");
    m.ok(&["host", "create", "h2", "description=rack 2"]);
    let list = m.ok(&["host", "list"]);
    assert!(
        list.starts_with("NAME  CONNECTED  LAST-SEEN  REVISION-ACKED  ERRORS\n"),
        "{list}"
    );
    assert_eq!(row(&list, "h1"), ["h1", "no", "-", "-", "0"]);
    assert_eq!(rows(&list), 2);
    let show = m.ok(&["host", "show", "h2"]);
    assert_eq!(shown(&show, "description"), Some("rack 2"));
    assert_eq!(shown(&show, "connected"), Some("false"));
    assert!(
        !show.contains(token),
        "the token is shown only once: {show}"
    );
    let out = m.ok(&["host", "update", "h2", "description=rack 3"]);
    assert!(out.starts_with("updated host h2 (revision "), "{out}");
    assert_eq!(
        shown(&m.ok(&["host", "show", "h2"]), "description"),
        Some("rack 3")
    );

    // A DVS: the pool stays a string, the MTU a number, hosts a list.
    m.ok(&[
        "dvs",
        "create",
        "dvs1",
        "vlan_pool=1-2000,3000",
        "mtu=9000",
        "hosts=h1,h2",
    ]);
    let v = m.json(&["dvs", "show", "dvs1"]);
    assert_eq!(v["vlan_pool"], "1-2000,3000");
    assert_eq!(v["mtu"], 9000);
    assert_eq!(v["hosts"], serde_json::json!(["h1", "h2"]));
    assert_eq!(
        row(&m.ok(&["dvs", "list"]), "dvs1"),
        ["dvs1", "1-2000,3000", "9000", "h1,h2"]
    );
    m.ok(&["dvs", "update", "dvs1", "mtu=1500"]);
    assert_eq!(shown(&m.ok(&["dvs", "show", "dvs1"]), "mtu"), Some("1500"));

    // Uplinks: a NIC, a bond, and switching one to the other.
    m.ok(&["uplink", "create", "u1", "dvs=dvs1", "host=h1", "nic=eth1"]);
    m.ok(&[
        "uplink",
        "create",
        "u2",
        "dvs=dvs1",
        "host=h2",
        "bond.members=eth1,eth2",
        "bond.mode=active-backup",
    ]);
    let list = m.ok(&["uplink", "list"]);
    assert_eq!(row(&list, "u1"), ["u1", "dvs1", "h1", "eth1", "-"]);
    assert_eq!(
        row(&list, "u2"),
        ["u2", "dvs1", "h2", "eth1,eth2 (active-backup)", "-"]
    );
    m.ok(&["uplink", "update", "u2", "nic=eth3"]);
    let show = m.ok(&["uplink", "show", "u2"]);
    assert_eq!(shown(&show, "nic"), Some("eth3"));
    assert_eq!(shown(&show, "bond.mode"), None, "{show}");

    // A security group, its rules by index.
    m.ok(&[
        "secgroup",
        "create",
        "web",
        "rules.0.direction=ingress",
        "rules.0.ethertype=ipv4",
        "rules.0.protocol=tcp",
        "rules.0.port_min=80",
        "rules.0.remote=10.0.0.0/8",
    ]);
    assert_eq!(row(&m.ok(&["secgroup", "list"]), "web"), ["web", "1"]);
    m.ok(&[
        "secgroup",
        "update",
        "web",
        "rules.1.direction=egress",
        "rules.1.ethertype=ipv6",
    ]);
    let show = m.ok(&["secgroup", "show", "web"]);
    assert_eq!(shown(&show, "rules.0.port_min"), Some("80"));
    assert_eq!(shown(&show, "rules.1.ethertype"), Some("ipv6"));
    assert_eq!(row(&m.ok(&["secgroup", "list"]), "web"), ["web", "2"]);

    // Port groups: access to trunk, an optional field removed.
    m.ok(&[
        "portgroup",
        "create",
        "pg1",
        "dvs=dvs1",
        "vlan.mode=access",
        "vlan.vlan=10",
        "qos_in.average_kbps=1000",
        "qos_in.peak_kbps=2000",
        "dhcp_isolation=true",
        "security_group=web",
    ]);
    assert_eq!(
        row(&m.ok(&["portgroup", "list"]), "pg1"),
        [
            "pg1",
            "dvs1",
            "access 10",
            "1000-2000kbps",
            "-",
            "web",
            "dhcp-isolation"
        ]
    );
    m.ok(&[
        "portgroup",
        "update",
        "pg1",
        "vlan.vlans=10-20",
        "vlan.mode=trunk",
        "qos_in=",
    ]);
    let show = m.ok(&["portgroup", "show", "pg1"]);
    assert_eq!(shown(&show, "vlan.mode"), Some("trunk"));
    assert_eq!(shown(&show, "vlan.vlans"), Some("10-20"));
    assert_eq!(shown(&show, "vlan.vlan"), None, "{show}");
    assert_eq!(shown(&show, "qos_in.average_kbps"), None, "{show}");
    assert_eq!(shown(&show, "dhcp_isolation"), Some("true"));

    // Ports: both backends; the MAC and IPs stay strings.
    m.ok(&[
        "port",
        "create",
        "p1",
        "vm=vm1",
        "host=h1",
        "port_group=pg1",
        "mac=52:54:00:00:00:01",
        "ips=10.0.0.1",
        "backend.kind=linux",
        "backend.interface=veth1",
    ]);
    m.ok(&[
        "port",
        "create",
        "p2",
        "vm=vm2",
        "host=h2",
        "port_group=pg1",
        "mac=52:54:00:00:00:02",
        "backend.kind=vhost_user",
        "backend.socket=/run/vm2.sock",
    ]);
    let list = m.ok(&["port", "list"]);
    assert!(list.starts_with("ID  VM   HOST  PORT-GROUP  MAC"), "{list}");
    assert_eq!(
        row(&list, "p1"),
        [
            "p1",
            "vm1",
            "h1",
            "pg1",
            "52:54:00:00:00:01",
            "10.0.0.1",
            "linux:veth1",
            "-"
        ]
    );
    assert_eq!(row(&list, "p2")[6], "vhost_user:/run/vm2.sock (client)");
    m.ok(&[
        "port",
        "update",
        "p1",
        "host=h2",
        "ips=10.0.0.1,10.0.0.2",
        "backend.kind=vhost_user",
        "backend.socket=/run/vm1.sock",
        "backend.role=server",
    ]);
    let show = m.ok(&["port", "show", "p1"]);
    assert_eq!(shown(&show, "host"), Some("h2"));
    assert_eq!(shown(&show, "ips"), Some("10.0.0.1,10.0.0.2"));
    assert_eq!(shown(&show, "backend.role"), Some("server"));
    assert_eq!(shown(&show, "backend.interface"), None, "{show}");
    // No agent runs, so no live status yet; show says so.
    assert_eq!(shown(&show, "status"), Some("none reported yet"));
    let v = m.json(&["port", "list"]);
    assert_eq!(v["items"].as_array().map(Vec::len), Some(2), "{v}");

    // --from-json: the shown object edited and written back (its revision is the If-Match),
    // and a whole object on standard input.
    let mut dvs = m.json(&["dvs", "show", "dvs1"]);
    dvs["mtu"] = 9000.into();
    let file = m.dir.join("dvs1.json");
    std::fs::write(&file, dvs.to_string()).expect("write dvs1.json");
    m.ok(&[
        "dvs",
        "update",
        "dvs1",
        "--from-json",
        file.to_str().expect("path"),
    ]);
    assert_eq!(m.json(&["dvs", "show", "dvs1"])["mtu"], 9000);
    let r = m.run_with(
        &["host", "create", "h3", "--from-json", "-"],
        r#"{"description": "from stdin"}"#,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(m.json(&["host", "show", "h3"])["description"], "from stdin");

    // The revision, and $DVSM_URL in place of --dvsm.
    let rev = m.json(&["revision"])["revision"]
        .as_u64()
        .expect("revision");
    let out = Command::new(DVSCTL)
        .arg("revision")
        .env("DVSM_URL", &m.url)
        .output()
        .expect("dvsctl revision");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("revision {rev}\n")
    );

    // Delete everything, dependents first.
    for (kind, names) in [
        ("port", &["p1", "p2"][..]),
        ("portgroup", &["pg1"]),
        ("secgroup", &["web"]),
        ("uplink", &["u1", "u2"]),
        ("dvs", &["dvs1"]),
        ("host", &["h1", "h2", "h3"]),
    ] {
        for n in names {
            let out = m.ok(&[kind, "delete", n]);
            assert!(out.starts_with(&format!("deleted {kind} {n}")), "{out}");
        }
        assert_eq!(rows(&m.ok(&[kind, "list"])), 0, "{kind} list");
    }
}

/// Whether a change is in an object.
type Landed = fn(&Value) -> bool;

#[test]
fn refusals_and_concurrent_updates() {
    let Some(m) = start_dvsm("refuse") else {
        return;
    };
    m.ok(&["host", "create", "h1"]);
    m.ok(&["dvs", "create", "dvs1", "vlan_pool=1-2000", "hosts=h1"]);

    // A VLAN outside the pool: dvsm's words, as they came, and exit status 1.
    let err = m.refused(&[
        "portgroup",
        "create",
        "pg1",
        "dvs=dvs1",
        "vlan.mode=access",
        "vlan.vlan=2500",
    ]);
    assert!(err.starts_with("dvsctl: 400 vlan.vlan: "), "{err}");
    assert!(err.contains("2500") && err.contains("1-2000"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Nothing was created.
    assert_eq!(rows(&m.ok(&["portgroup", "list"])), 0);
    // A misspelt field is named by dvsm.
    let err = m.refused(&["host", "update", "h1", "descripton=x"]);
    assert!(err.starts_with("dvsctl: 400 descripton: "), "{err}");
    // Missing objects.
    let err = m.refused(&["dvs", "show", "nope"]);
    assert!(err.starts_with("dvsctl: 404"), "{err}");
    // Still in use.
    let err = m.refused(&["host", "delete", "h1"]);
    assert!(err.starts_with("dvsctl: 409"), "{err}");
    // A malformed assignment never reaches dvsm.
    let err = m.refused(&["host", "update", "h1", "description"]);
    assert_eq!(err, "dvsctl: \"description\" is not KEY=VALUE\n");

    // A stale If-Match: 412, and the object is unchanged.
    m.ok(&[
        "portgroup",
        "create",
        "pg1",
        "dvs=dvs1",
        "vlan.mode=access",
        "vlan.vlan=10",
    ]);
    let read = m.json(&["portgroup", "show", "pg1"])["revision"]
        .as_u64()
        .expect("revision");
    m.ok(&["portgroup", "update", "pg1", "vlan.vlan=11"]);
    let err = m.refused(&[
        "portgroup",
        "update",
        "pg1",
        "vlan.vlan=12",
        "--if-match",
        &read.to_string(),
    ]);
    assert!(err.starts_with("dvsctl: 412 "), "{err}");
    assert_eq!(m.json(&["portgroup", "show", "pg1"])["vlan"]["vlan"], 11);
    let err = m.refused(&[
        "portgroup",
        "delete",
        "pg1",
        "--if-match",
        &read.to_string(),
    ]);
    assert!(err.starts_with("dvsctl: 412 "), "{err}");

    // Concurrent read-modify-writes of different fields of one object: each either lands or
    // is refused with 412, and none that reported success is lost.
    let changes: [(&str, Landed); 4] = [
        ("dhcp_isolation=true", |v| v["dhcp_isolation"] == true),
        ("tcp_checksum_fill=true", |v| v["tcp_checksum_fill"] == true),
        ("qos_out.average_kbps=500", |v| {
            v["qos_out"]["average_kbps"] == 500
        }),
        ("broadcast_suppression.pps=100", |v| {
            v["broadcast_suppression"]["pps"] == 100
        }),
    ];
    let mut saw_412 = false;
    for round in 0..5 {
        m.ok(&[
            "portgroup",
            "update",
            "pg1",
            "dhcp_isolation=false",
            "tcp_checksum_fill=false",
            "qos_out=",
            "broadcast_suppression=",
        ]);
        let results: Vec<Run> = std::thread::scope(|s| {
            let handles: Vec<_> = changes
                .iter()
                .map(|(set, _)| s.spawn(|| m.run(&["portgroup", "update", "pg1", set])))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("updater"))
                .collect()
        });
        let now = m.json(&["portgroup", "show", "pg1"]);
        for ((set, landed), r) in changes.iter().zip(&results) {
            if r.code == 0 {
                assert!(
                    landed(&now),
                    "round {round}: {set} succeeded but was lost: {now}"
                );
            } else {
                assert!(
                    r.err.starts_with("dvsctl: 412 "),
                    "round {round}: {set}: {r:?}"
                );
                saw_412 = true;
            }
        }
    }
    println!(
        "concurrent updates: a 412 was {}seen",
        if saw_412 { "" } else { "not " }
    );

    // A manager that is not there.
    let r = Command::new(DVSCTL)
        .args(["--dvsm", "http://127.0.0.1:1", "host", "list"])
        .output()
        .expect("dvsctl");
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.starts_with("dvsctl: cannot reach dvsm at http://127.0.0.1:1: "),
        "{err}"
    );
}
