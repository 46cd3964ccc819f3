//! Shared by the integration tests: run the real `dvsm` binary on a temporary store with port
//! 0 listeners, talk to it with [`dvsm::client::Client`], and a small fixture.
#![allow(dead_code)]

use dvsm::client::{Client, Response};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Dvsm {
    pub child: Child,
    pub client: Client,
    pub agents: SocketAddr,
    pub db: PathBuf,
}

pub fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dvsm-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("store.redb")
}

impl Dvsm {
    pub fn start(db: &PathBuf, extra: &[&str]) -> Dvsm {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dvsm"))
            .arg("--db")
            .arg(db)
            .args(["--api", "127.0.0.1:0", "--agents", "127.0.0.1:0"])
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("DVSM_TEST_LOG").is_some() {
                    eprintln!("[dvsm] {line}");
                }
                if let Some(rest) = line.split("listening ").nth(1) {
                    let _ = tx.send(rest.to_string());
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("dvsm did not print its listening line");
        let mut api = None;
        let mut agents = None;
        for w in line.split_whitespace() {
            if let Some(a) = w.strip_prefix("api=") {
                api = Some(a.to_string());
            }
            if let Some(a) = w.strip_prefix("agents=") {
                agents = Some(a.parse().unwrap());
            }
        }
        Dvsm {
            child,
            client: Client::new(format!("http://{}", api.unwrap())),
            agents: agents.unwrap(),
            db: db.clone(),
        }
    }

    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        self.client.call(method, path, body.as_ref(), None).unwrap()
    }

    pub fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        let r = self.call(method, path, body);
        assert!(
            r.status == 200 || r.status == 201,
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
        r
    }

    pub fn revision(&self) -> u64 {
        self.call("GET", "/v1/revision", None).body["revision"]
            .as_u64()
            .unwrap()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Dvsm {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Hosts h1 (token t1), h2 (t2), h3 (t3); DVS d1 (VLANs 1-100, all three hosts); uplink u1
/// (h1, eth0); security group sg1; port groups pg1 (access 10, sg1), pg2 (trunk 20-30),
/// pg3 (access 40); ports p1 (h1, pg1), p2 (h2, pg2), p3 (h2, pg3).
pub fn fixture(d: &Dvsm) {
    for (h, t) in [("h1", "t1"), ("h2", "t2"), ("h3", "t3")] {
        d.ok("POST", "/v1/hosts", Some(json!({"name": h, "token": t})));
    }
    d.ok(
        "POST",
        "/v1/dvs",
        Some(json!({"name": "d1", "vlan_pool": "1-100", "hosts": ["h1", "h2", "h3"]})),
    );
    d.ok(
        "POST",
        "/v1/uplinks",
        Some(json!({"name": "u1", "dvs": "d1", "host": "h1", "nic": "eth0"})),
    );
    d.ok(
        "POST",
        "/v1/secgroups",
        Some(json!({"name": "sg1", "rules": []})),
    );
    d.ok(
        "POST",
        "/v1/portgroups",
        Some(
            json!({"name": "pg1", "dvs": "d1", "vlan": {"mode": "access", "vlan": 10},
                    "security_group": "sg1"}),
        ),
    );
    d.ok(
        "POST",
        "/v1/portgroups",
        Some(json!({"name": "pg2", "dvs": "d1", "vlan": {"mode": "trunk", "vlans": "20-30"}})),
    );
    d.ok(
        "POST",
        "/v1/portgroups",
        Some(json!({"name": "pg3", "dvs": "d1", "vlan": {"mode": "access", "vlan": 40}})),
    );
    d.ok(
        "POST",
        "/v1/ports",
        Some(port("p1", "h1", "pg1", "02:00:00:00:00:01")),
    );
    d.ok(
        "POST",
        "/v1/ports",
        Some(port("p2", "h2", "pg2", "02:00:00:00:00:02")),
    );
    d.ok(
        "POST",
        "/v1/ports",
        Some(port("p3", "h2", "pg3", "02:00:00:00:00:03")),
    );
}

pub fn port(id: &str, host: &str, pg: &str, mac: &str) -> Value {
    json!({"id": id, "host": host, "port_group": pg, "mac": mac,
           "backend": {"kind": "vhost_user", "socket": format!("/run/vhu-{id}.sock")}})
}
