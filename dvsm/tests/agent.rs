//! The agent protocol against the real binary, with a hand-written fake agent: refused
//! tokens, each host's share and nothing else, updates only to the hosts a write concerns,
//! resync with only the changes after a reconnect, silence, and status reports.

mod common;

use common::{fixture, temp_db, Dvsm};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

struct Agent {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Agent {
    fn connect(addr: SocketAddr) -> Agent {
        let w = TcpStream::connect(addr).unwrap();
        let r = BufReader::new(w.try_clone().unwrap());
        Agent { w, r }
    }

    fn send(&mut self, v: Value) {
        let mut s = v.to_string();
        s.push('\n');
        self.w.write_all(s.as_bytes()).unwrap();
    }

    /// The next line within `wait`, None on timeout; Some(Null) on EOF.
    fn recv(&mut self, wait: Duration) -> Option<Value> {
        self.w.set_read_timeout(Some(wait)).unwrap();
        let mut line = String::new();
        match self.r.read_line(&mut line) {
            Ok(0) => Some(Value::Null),
            Ok(_) => Some(serde_json::from_str(&line).unwrap()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(_) => Some(Value::Null),
        }
    }

    fn register(addr: SocketAddr, host: &str, token: &str, since: Option<u64>) -> (Agent, Value) {
        let mut a = Agent::connect(addr);
        let mut params = json!({"host": host, "token": token,
                                "facts": {"hugepages_mb": 1024, "pmd_cores": [2, 3]}});
        if let Some(s) = since {
            params["since"] = json!(s);
        }
        a.send(json!({"jsonrpc": "2.0", "id": 1, "method": "register", "params": params}));
        let r = a.recv(Duration::from_secs(10)).expect("no register reply");
        (a, r)
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }
}

fn keys(changes: &Value) -> BTreeSet<String> {
    changes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let k = c["key"].as_str().unwrap().to_string();
            if c.get("object").is_some() {
                k
            } else {
                format!("-{k}")
            }
        })
        .collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn agent_sessions() {
    let d = Dvsm::start(&temp_db("agents"), &[]);
    fixture(&d);

    // Bad token, unknown host, and a first message that is not register: refused and closed.
    let (mut a, r) = Agent::register(d.agents, "h1", "wrong", None);
    assert_eq!(r["error"]["code"], -32001, "{r}");
    assert_eq!(a.recv(Duration::from_secs(5)), Some(Value::Null));
    let (_, r) = Agent::register(d.agents, "nohost", "t1", None);
    assert_eq!(r["error"]["code"], -32001, "{r}");
    let mut a = Agent::connect(d.agents);
    a.notify("heartbeat", json!({}));
    assert!(a.recv(Duration::from_secs(5)).unwrap()["error"].is_object());
    assert_eq!(d.call("GET", "/v1/hosts/h1", None).body["connected"], false);

    // Full shares: each host's objects only.
    let (mut a1, r1) = Agent::register(d.agents, "h1", "t1", None);
    assert_eq!(r1["id"], 1);
    let res = &r1["result"];
    assert_eq!(res["full"], true);
    let rev = res["revision"].as_u64().unwrap();
    assert_eq!(rev, d.revision());
    assert_eq!(
        keys(&res["changes"]),
        set(&[
            "host/h1",
            "dvs/d1",
            "uplink/u1",
            "port/p1",
            "portgroup/pg1",
            "secgroup/sg1"
        ])
    );
    let (mut a2, r2) = Agent::register(d.agents, "h2", "t2", None);
    assert_eq!(
        keys(&r2["result"]["changes"]),
        set(&[
            "host/h2",
            "dvs/d1",
            "port/p2",
            "port/p3",
            "portgroup/pg2",
            "portgroup/pg3"
        ])
    );
    let (mut a3, r3) = Agent::register(d.agents, "h3", "t3", None);
    assert_eq!(keys(&r3["result"]["changes"]), set(&["host/h3", "dvs/d1"]));
    let h1 = d.call("GET", "/v1/hosts/h1", None).body;
    assert_eq!(h1["connected"], true);
    assert_eq!(h1["facts"]["hugepages_mb"], 1024);
    assert!(h1["last_seen"].as_u64().is_some());

    // A port group change reaches h2 (its ports use it) and nobody else.
    let w = d.ok(
        "PUT",
        "/v1/portgroups/pg2",
        Some(
            json!({"name": "pg2", "dvs": "d1", "vlan": {"mode": "trunk", "vlans": "20-30"},
                    "dhcp_isolation": true}),
        ),
    );
    let new_rev = w.etag.unwrap();
    let u = a2.recv(Duration::from_secs(5)).expect("h2 got no update");
    assert_eq!(u["method"], "update");
    assert_eq!(u["params"]["revision"], new_rev);
    assert_eq!(keys(&u["params"]["changes"]), set(&["portgroup/pg2"]));
    assert_eq!(
        u["params"]["changes"][0]["object"]["object"]["spec"]["dhcp_isolation"],
        true
    );
    assert_eq!(
        a1.recv(Duration::from_millis(500)),
        None,
        "h1 got an update"
    );
    assert_eq!(a3.recv(Duration::from_millis(10)), None, "h3 got an update");

    // Ack, status; they show in the API.
    a2.notify("ack", json!({"revision": new_rev, "errors": []}));
    a1.notify(
        "ack",
        json!({"revision": rev, "errors": [{"key": "uplink/u1", "message": "no eth0"}]}),
    );
    a1.notify(
        "status",
        json!({"revision": rev, "ports": {"p1": {"link": true, "ofport": 3,
               "counters": {"rx_packets": 5}}}, "uplinks": {"u1": {"link": false}}}),
    );
    a1.notify("heartbeat", json!({}));
    wait_for("the status report", || {
        d.call("GET", "/v1/ports/p1/status", None).status == 200
    });
    let s = d.call("GET", "/v1/ports/p1/status", None).body;
    assert_eq!(s["link"], true);
    assert_eq!(s["counters"]["rx_packets"], 5);
    assert!(s["age_ms"].as_u64().unwrap() < 10_000);
    assert_eq!(
        d.call("GET", "/v1/ports/p1", None).body["status"]["ofport"],
        3
    );
    assert_eq!(d.call("GET", "/v1/ports/p2/status", None).status, 404);
    assert_eq!(d.call("GET", "/v1/ports/nope/status", None).status, 404);
    let h1 = d.call("GET", "/v1/hosts/h1", None).body;
    assert_eq!(h1["revision_acked"], rev);
    assert_eq!(h1["apply_errors"][0]["key"], "uplink/u1");
    wait_for("h2's ack", || {
        d.call("GET", "/v1/hosts/h2", None).body["revision_acked"] == new_rev
    });

    // h2 goes away; writes happen; it comes back with since = its ack: only the changes.
    drop(a2);
    wait_for("h2 disconnected", || {
        d.call("GET", "/v1/hosts/h2", None).body["connected"] == false
    });
    assert!(d.call("GET", "/v1/hosts/h2", None).body["last_seen"].is_u64());
    d.ok(
        "PUT",
        "/v1/portgroups/pg2",
        Some(json!({"name": "pg2", "dvs": "d1", "vlan": {"mode": "trunk", "vlans": "20-29"}})),
    );
    d.ok("DELETE", "/v1/ports/p3", None);
    d.ok("PUT", "/v1/secgroups/sg1", Some(json!({"name": "sg1"}))); // h1's only
    let (mut a2, r2) = Agent::register(d.agents, "h2", "t2", Some(new_rev));
    assert_eq!(r2["result"]["full"], false, "{r2}");
    assert_eq!(r2["result"]["revision"], d.revision());
    assert_eq!(
        keys(&r2["result"]["changes"]),
        set(&["portgroup/pg2", "-port/p3", "-portgroup/pg3"])
    );
    // A stale `since` gets the full share.
    let (_a2b, r2b) = Agent::register(d.agents, "h2", "t2", Some(1));
    assert_eq!(r2b["result"]["full"], true);
    assert_eq!(
        keys(&r2b["result"]["changes"]),
        set(&["host/h2", "dvs/d1", "port/p2", "portgroup/pg2"])
    );
    // ...and that second session replaced the first.
    assert_eq!(a2.recv(Duration::from_secs(5)), Some(Value::Null));
    // h1 got the sg1 change.
    let u = a1.recv(Duration::from_secs(5)).expect("h1 got no update");
    assert_eq!(keys(&u["params"]["changes"]), set(&["secgroup/sg1"]));
}

#[test]
fn silent_agents_are_disconnected() {
    let d = Dvsm::start(&temp_db("silence"), &["--agent-silence-ms", "600"]);
    fixture(&d);
    let (mut a, r) = Agent::register(d.agents, "h1", "t1", None);
    assert_eq!(r["result"]["full"], true);
    assert_eq!(d.call("GET", "/v1/hosts/h1", None).body["connected"], true);
    // Heartbeats keep it alive...
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(300));
        a.notify("heartbeat", json!({}));
    }
    assert_eq!(d.call("GET", "/v1/hosts/h1", None).body["connected"], true);
    // ...silence does not.
    wait_for("h1 disconnected", || {
        d.call("GET", "/v1/hosts/h1", None).body["connected"] == false
    });
    let h = d.call("GET", "/v1/hosts/h1", None).body;
    assert!(h["last_seen"].is_u64());
    assert_eq!(a.recv(Duration::from_secs(5)), Some(Value::Null));
}

#[test]
fn restart_forces_a_full_share() {
    let db = temp_db("agent-restart");
    let rev = {
        let d = Dvsm::start(&db, &[]);
        fixture(&d);
        let (mut a, r) = Agent::register(d.agents, "h1", "t1", None);
        let rev = r["result"]["revision"].as_u64().unwrap();
        a.notify("ack", json!({"revision": rev}));
        rev
    };
    let d = Dvsm::start(&db, &[]);
    // Facts were persisted.
    assert_eq!(
        d.call("GET", "/v1/hosts/h1", None).body["facts"]["hugepages_mb"],
        1024
    );
    // The token survived the restart; dvsm no longer knows what it sent, so: full.
    let (_a, r) = Agent::register(d.agents, "h1", "t1", Some(rev));
    assert_eq!(r["result"]["full"], true, "{r}");
    assert_eq!(r["result"]["revision"], rev);
}
