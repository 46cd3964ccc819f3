//! dvs-agent restarting on a loaded host: how long until it has adopted what is installed, and
//! how many flows it rewrote doing so.
//!
//! A real dvsm, ovsdb-server, dvs-switchd and dvs-agent on this machine (no namespaces: one
//! host), with one DVS, 64 port groups and `--ports N` (default 4096) VM ports on the host.
//! The ports are vhost-user ports (the switch as server) whose VMs are not running: the switch
//! has them with their link down, and the agent programs their flows all the same. Note: the
//! switch runs a thread per vhost-user port, and at a few thousand ports those threads alone
//! saturate this 2-core machine; what is measured then is mostly the switch, not the agent.
//!
//! It prints the first programming (time until every flow is in), then, for `--rounds` agent
//! restarts (`kill -9`, start again): the time from the new agent's start until it logged its
//! first flow sync of the bridge (which says how many flows it added and deleted), and how many
//! flows the switch shows as younger than the restart (rewritten).
//!
//! Usage: `agent_restart [--ports N] [--rounds N]`, as root (ovsdb-server and the switch's run
//! directory), from the workspace root after `cargo build --release --workspace --bins`.

use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tests::cluster::Daemon;
use tests::ovsdb::OvsDb;
use tests::Switchd;

fn arg(name: &str, default: usize) -> usize {
    let v: Vec<String> = std::env::args().collect();
    v.iter()
        .position(|a| a == name)
        .and_then(|i| v.get(i + 1))
        .map(|s| s.parse().expect("a number"))
        .unwrap_or(default)
}

fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if f() {
            return Some(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The agent's flows (cookie 0xd5...): (count, count younger than `younger_than` seconds).
fn flows(db: &OvsDb, younger_than: f64) -> (usize, usize) {
    let ours: Vec<_> = tests::flows::dump(&db.dir.join("d1.mgmt"))
        .into_iter()
        .filter(|f| f.cookie >> 56 == 0xd5)
        .collect();
    let young = ours.iter().filter(|f| f.duration < younger_than).count();
    (ours.len(), young)
}

fn main() {
    if !tests::require_root("agent_restart") {
        std::process::exit(2);
    }
    let ports = arg("--ports", 4096);
    let rounds = arg("--rounds", 5);
    let bin = |n: &str| PathBuf::from("target/release").join(n);
    let db = OvsDb::start();
    let section = "[switch]\npmd_cores = [1]\npool_frames = 4096\npmd_sleep_max_us = 200\n";
    let _sw = Switchd::start_db(section, &db.addr(), &db.dir);
    let dvsm = Daemon::start(
        None,
        vec![
            bin("dvsm").display().to_string(),
            "--db".into(),
            db.dir.join("dvsm.db").display().to_string(),
            "--api".into(),
            "127.0.0.1:0".into(),
            "--agents".into(),
            "127.0.0.1:0".into(),
        ],
        db.dir.join("dvsm.log"),
    );
    let mut api = String::new();
    let mut agents = String::new();
    wait_for(Duration::from_secs(10), || {
        let log = dvsm.log_text();
        if let Some(rest) = log.split("listening ").nth(1) {
            for kv in rest.split_whitespace() {
                if let Some(v) = kv.strip_prefix("api=") {
                    api = v.to_string();
                }
                if let Some(v) = kv.strip_prefix("agents=") {
                    agents = v.to_string();
                }
            }
        }
        !agents.is_empty()
    })
    .expect("dvsm did not start");
    let c = dvsm::client::Client::new(format!("http://{api}"));
    let post = |path: &str, body: serde_json::Value| -> serde_json::Value {
        let r = c.call("POST", path, Some(&body), None).expect("post");
        assert!(r.status < 300, "{path}: {} {}", r.status, r.body);
        r.body
    };
    let token = post("/v1/hosts", json!({"name": "h1"}))["token"]
        .as_str()
        .expect("token")
        .to_string();
    post(
        "/v1/dvs",
        json!({"name": "d1", "vlan_pool": "10-100", "hosts": ["h1"]}),
    );
    for g in 0..64 {
        post(
            "/v1/portgroups",
            json!({"name": format!("g{g}"), "dvs": "d1",
                "vlan": {"mode": "access", "vlan": 10 + g}}),
        );
    }
    let t = Instant::now();
    for i in 0..ports {
        post(
            "/v1/ports",
            json!({"id": format!("p{i}"), "host": "h1", "port_group": format!("g{}", i % 64),
                "mac": format!("02:00:00:00:{:02x}:{:02x}", i >> 8, i & 0xff),
                "backend": {"kind": "vhost_user", "role": "server",
                    "socket": db.dir.join(format!("vm{i}.sock")).display().to_string()}}),
        );
    }
    println!(
        "model: {ports} ports written in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // Table 0 and table 10 each get one flow per port, plus five bridge-wide flows (no
    // uplink here).
    let expected = 2 * ports + 5;
    let agent_argv = vec![
        bin("dvs-agent").display().to_string(),
        "--dvsm".into(),
        agents.clone(),
        "--host".into(),
        "h1".into(),
        "--token".into(),
        token,
        "--ovsdb".into(),
        db.addr(),
    ];
    let mut agent = Daemon::start(None, agent_argv, db.dir.join("agent.log"));
    let first = wait_for(Duration::from_secs(600), || flows(&db, 0.0).0 >= expected);
    println!(
        "first programming: {expected} flows for {ports} ports in {}",
        first.map_or("(timed out)".into(), |d| format!(
            "{:.2} s",
            d.as_secs_f64()
        ))
    );
    for round in 0..rounds {
        std::thread::sleep(Duration::from_secs(2));
        agent.kill9();
        let log_len = agent.log_text().len();
        let t = Instant::now();
        agent.restart();
        let synced = wait_for(Duration::from_secs(120), || {
            agent.log_text()[log_len..].contains("bridge d1: flows:")
        });
        let since = t.elapsed().as_secs_f64();
        let line = agent.log_text()[log_len..]
            .lines()
            .find(|l| l.contains("bridge d1: flows:"))
            .unwrap_or("")
            .to_string();
        let (n, young) = flows(&db, since);
        println!(
            "restart {}: adopted in {}; agent: \"{}\"; switch: {n} flows, {young} younger than \
             the restart ({:.2}% rewritten)",
            round + 1,
            synced.map_or("(timed out)".into(), |d| format!(
                "{:.3} s",
                d.as_secs_f64()
            )),
            line.split("dvs-agent: ").nth(1).unwrap_or(&line),
            100.0 * young as f64 / n.max(1) as f64
        );
    }
}
