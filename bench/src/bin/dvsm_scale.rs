//! dvsm at cluster scale: 1024 simulated agents speaking the real protocol (one thread each, in
//! this process) against a real `dvsm` process, with a model of 1024 hosts, 65,536 ports and
//! 4,096 port groups.
//!
//! It measures, and prints as one line each:
//! - **populate**: API writes per second while the model is built (every write is a durable
//!   store commit), and the API's responsiveness meanwhile (a probe reads `/v1/revision` every
//!   10 ms: p50/p99/max);
//! - **rss**: dvsm's resident memory with the whole model loaded and every agent connected;
//! - **propagation**: a port group with a port on every host changes VLAN; the time from the
//!   API call to each agent receiving its update and acknowledging it (p50/p99 over all agents
//!   and rounds, and the median of each round's slowest agent);
//! - **resync**: dvsm is killed and restarted on its store; the time until every agent has
//!   registered again and holds its full share.
//!
//! Usage: `dvsm_scale [--hosts N] [--ports-per-host N] [--groups N] [--rounds N] [--dvsm PATH]`
//! (defaults 1024, 64, 4096, 20, target/release/dvsm). Needs no root; loopback only. The
//! simulated agents open one connection each: the process raises its descriptor limit.

use proto::wire::{method, Register, Registered, Update};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Args {
    hosts: usize,
    ports_per_host: usize,
    groups: usize,
    rounds: usize,
    dvsm: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        hosts: 1024,
        ports_per_host: 64,
        groups: 4096,
        rounds: 20,
        dvsm: PathBuf::from("target/release/dvsm"),
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < v.len() {
        let n = || v[i + 1].parse().expect("a number");
        match v[i].as_str() {
            "--hosts" => a.hosts = n(),
            "--ports-per-host" => a.ports_per_host = n(),
            "--groups" => a.groups = n(),
            "--rounds" => a.rounds = n(),
            "--dvsm" => a.dvsm = PathBuf::from(&v[i + 1]),
            o => panic!("unknown option {o}"),
        }
        i += 2;
    }
    a
}

/// The dvsm process and where it listens.
struct Manager {
    child: Child,
    api: String,
    agents: String,
}

fn start_dvsm(bin: &PathBuf, store: &PathBuf, api: &str, agents: &str) -> Manager {
    let mut child = Command::new(bin)
        .args(["--db"])
        .arg(store)
        .args(["--api", api, "--agents", agents])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let (mut a, mut g) = (String::new(), String::new());
    for l in lines.by_ref() {
        let l = l.expect("dvsm stderr");
        if let Some(rest) = l.split("listening ").nth(1) {
            for kv in rest.split_whitespace() {
                if let Some(v) = kv.strip_prefix("api=") {
                    a = v.to_string();
                }
                if let Some(v) = kv.strip_prefix("agents=") {
                    g = v.to_string();
                }
            }
            break;
        }
    }
    assert!(!a.is_empty(), "dvsm never said where it listens");
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Manager {
        child,
        api: format!("http://{a}"),
        agents: g,
    }
}

fn rss_mb(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// One simulated agent's view, shared with the measuring thread.
struct Sim {
    /// Revision of the last update received (and acknowledged).
    revision: AtomicU64,
    /// When it arrived, in µs since the run's start.
    at_us: AtomicU64,
    /// Registered since the last reset (full share received).
    registered: AtomicBool,
}

fn rpc_line(v: &Value) -> String {
    let mut s = v.to_string();
    s.push('\n');
    s
}

/// Run one agent: register, then acknowledge every update; on any error reconnect after
/// 100 ms (dvsm restarting), until `stop`.
fn agent(
    addr: Arc<Mutex<String>>,
    host: String,
    token: String,
    sim: Arc<Sim>,
    t0: Instant,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let a = addr.lock().map(|a| a.clone()).unwrap_or_default();
        let Ok(stream) = TcpStream::connect(&a) else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut w = match stream.try_clone() {
            Ok(w) => w,
            Err(_) => continue,
        };
        let reg = Register {
            host: host.clone(),
            token: token.clone(),
            facts: Default::default(),
            since: None,
        };
        let req = json!({"jsonrpc": "2.0", "id": 1, "method": method::REGISTER, "params": reg});
        if w.write_all(rpc_line(&req).as_bytes()).is_err() {
            continue;
        }
        let mut r = BufReader::new(stream);
        let mut line = String::new();
        let mut last_beat = Instant::now();
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            if last_beat.elapsed() > Duration::from_millis(1000) {
                last_beat = Instant::now();
                let hb = json!({"jsonrpc": "2.0", "method": method::HEARTBEAT, "params": {}});
                if w.write_all(rpc_line(&hb).as_bytes()).is_err() {
                    break;
                }
            }
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(_) => break,
            }
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                break;
            };
            let rev = if let Some(res) = v.get("result") {
                let Ok(reg) = serde_json::from_value::<Registered>(res.clone()) else {
                    break;
                };
                sim.registered.store(true, Ordering::Relaxed);
                reg.revision
            } else if v.get("method").and_then(Value::as_str) == Some(method::UPDATE) {
                let Ok(u) = serde_json::from_value::<Update>(v["params"].clone()) else {
                    break;
                };
                u.revision
            } else if v.get("error").is_some() {
                eprintln!("{host}: refused: {}", v["error"]);
                std::thread::sleep(Duration::from_secs(1));
                break;
            } else {
                continue;
            };
            let ack = json!({"jsonrpc": "2.0", "method": method::ACK,
                "params": {"revision": rev, "errors": []}});
            if w.write_all(rpc_line(&ack).as_bytes()).is_err() {
                break;
            }
            sim.at_us
                .store(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
            sim.revision.store(rev, Ordering::Release);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn raise_nofile() {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid, initialized rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

fn main() {
    let a = args();
    raise_nofile();
    let dir = std::env::temp_dir().join(format!("dvsm-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store = dir.join("dvsm.db");
    let mut m = start_dvsm(&a.dvsm, &store, "127.0.0.1:0", "127.0.0.1:0");
    let api = dvsm::client::Client::new(&m.api);
    let call = |method: &str, path: &str, body: Option<&Value>| -> Value {
        let r = api
            .call(method, path, body, None)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.body);
        r.body
    };

    // The probe: GET /v1/revision every 10 ms, latencies recorded.
    let probe_stop = Arc::new(AtomicBool::new(false));
    let probe_lat = Arc::new(Mutex::new(Vec::<f64>::new()));
    let probe = {
        let (stop, lat, base) = (probe_stop.clone(), probe_lat.clone(), m.api.clone());
        std::thread::spawn(move || {
            let c = dvsm::client::Client::new(&base);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if c.call("GET", "/v1/revision", None, None).is_ok() {
                    if let Ok(mut l) = lat.lock() {
                        l.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    // Populate: hosts, one DVS over all of them, groups, ports (64 per host, in 64 groups),
    // plus group `pg-all` with one more port on every host.
    let t = Instant::now();
    let mut writes = 0u64;
    let mut tokens = Vec::new();
    for h in 0..a.hosts {
        let r = call("POST", "/v1/hosts", Some(&json!({"name": format!("h{h}")})));
        tokens.push(r["token"].as_str().expect("token").to_string());
        writes += 1;
    }
    let hosts: Vec<String> = (0..a.hosts).map(|h| format!("h{h}")).collect();
    call(
        "POST",
        "/v1/dvs",
        Some(&json!({"name": "d1", "vlan_pool": "1-4094", "hosts": hosts})),
    );
    writes += 1;
    let groups = a.groups.max(1);
    let workers = 4;
    let next = Arc::new(AtomicU64::new(0));
    let total_groups = groups as u64;
    let total_ports = (a.hosts * a.ports_per_host) as u64;
    let spawn_writers = |total: u64, body: Arc<dyn Fn(u64) -> (String, Value) + Send + Sync>| {
        next.store(0, Ordering::Relaxed);
        let hs: Vec<_> = (0..workers)
            .map(|_| {
                let (next, base, body) = (next.clone(), m.api.clone(), body.clone());
                std::thread::spawn(move || {
                    let c = dvsm::client::Client::new(&base);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total {
                            break;
                        }
                        let (path, b) = body(i);
                        let r = c.call("POST", &path, Some(&b), None).expect("write");
                        assert!(r.status < 300, "{path}: {} {}", r.status, r.body);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().expect("writer");
        }
    };
    spawn_writers(
        total_groups,
        Arc::new(|i| {
            (
                "/v1/portgroups".into(),
                json!({"name": format!("pg{i}"), "dvs": "d1",
                    "vlan": {"mode": "access", "vlan": 1 + i % 4094}}),
            )
        }),
    );
    writes += total_groups;
    call(
        "POST",
        "/v1/portgroups",
        Some(&json!({"name": "pg-all", "dvs": "d1", "vlan": {"mode": "access", "vlan": 100}})),
    );
    let pph = a.ports_per_host as u64;
    spawn_writers(
        total_ports + a.hosts as u64,
        Arc::new(move |i| {
            let (h, j) = (i / (pph + 1), i % (pph + 1));
            let group = if j == pph {
                "pg-all".to_string()
            } else {
                format!("pg{}", (h * pph + j) % total_groups)
            };
            let mac = format!(
                "02:00:{:02x}:{:02x}:{:02x}:{:02x}",
                (i >> 24) & 0xff,
                (i >> 16) & 0xff,
                (i >> 8) & 0xff,
                i & 0xff
            );
            (
                "/v1/ports".into(),
                json!({"id": format!("p{h}-{j}"), "host": format!("h{h}"),
                    "port_group": group, "mac": mac,
                    "backend": {"kind": "linux", "interface": format!("tap{j}")}}),
            )
        }),
    );
    writes += total_ports + a.hosts as u64 + 1;
    let secs = t.elapsed().as_secs_f64();
    probe_stop.store(true, Ordering::Relaxed);
    probe.join().expect("probe");
    let mut lat = std::mem::take(&mut *probe_lat.lock().expect("probe"));
    println!(
        "populate: {writes} writes in {secs:.1} s = {:.0} writes/s; API probe during it: \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} probes)",
        writes as f64 / secs,
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99),
        pct(&mut lat, 1.0),
        lat.len()
    );

    // Agents.
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let addr = Arc::new(Mutex::new(m.agents.clone()));
    let sims: Vec<Arc<Sim>> = (0..a.hosts)
        .map(|_| {
            Arc::new(Sim {
                revision: AtomicU64::new(0),
                at_us: AtomicU64::new(0),
                registered: AtomicBool::new(false),
            })
        })
        .collect();
    let mut threads = Vec::new();
    for (h, sim) in sims.iter().enumerate() {
        let (addr, sim, stop, token) = (addr.clone(), sim.clone(), stop.clone(), tokens[h].clone());
        threads.push(
            std::thread::Builder::new()
                .stack_size(128 << 10)
                .spawn(move || agent(addr, format!("h{h}"), token, sim, t0, stop))
                .expect("agent thread"),
        );
    }
    let wait_all = |deadline: Duration, f: &dyn Fn(&Sim) -> bool| -> Option<f64> {
        let t = Instant::now();
        while t.elapsed() < deadline {
            if sims.iter().all(|s| f(s)) {
                return Some(t.elapsed().as_secs_f64());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    };
    let conn = wait_all(Duration::from_secs(120), &|s| {
        s.registered.load(Ordering::Relaxed)
    });
    println!(
        "connect: {} agents registered with their full share in {}",
        a.hosts,
        conn.map_or("(timed out)".into(), |s| format!("{s:.2} s"))
    );
    println!(
        "rss: dvsm {:.0} MB with {} hosts, {} ports, {} port groups, {} agents connected",
        rss_mb(m.child.id()),
        a.hosts,
        total_ports + a.hosts as u64,
        groups + 1,
        a.hosts
    );

    // Propagation rounds.
    let mut per_agent = Vec::new();
    let mut slowest = Vec::new();
    for round in 0..a.rounds {
        let vlan = 200 + round as u64 % 100;
        let t_call = t0.elapsed().as_micros() as u64;
        let r = api
            .call(
                "PUT",
                "/v1/portgroups/pg-all",
                Some(&json!({"name": "pg-all", "dvs": "d1",
                    "vlan": {"mode": "access", "vlan": vlan}})),
                None,
            )
            .expect("put");
        assert!(r.status < 300, "{} {}", r.status, r.body);
        let rev = r.body["revision"].as_u64().expect("revision");
        let ok = wait_all(Duration::from_secs(30), &|s| {
            s.revision.load(Ordering::Acquire) >= rev
        });
        assert!(
            ok.is_some(),
            "round {round}: not every agent got revision {rev}"
        );
        let mut worst: f64 = 0.0;
        for s in &sims {
            let ms = (s.at_us.load(Ordering::Relaxed).saturating_sub(t_call)) as f64 / 1e3;
            per_agent.push(ms);
            worst = worst.max(ms);
        }
        slowest.push(worst);
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "propagation: one port-group change to {} agents, {} rounds: per agent p50 {:.1} ms, \
         p99 {:.1} ms; slowest agent per round: median {:.1} ms, max {:.1} ms",
        a.hosts,
        a.rounds,
        pct(&mut per_agent, 0.5),
        pct(&mut per_agent, 0.99),
        pct(&mut slowest, 0.5),
        pct(&mut slowest, 1.0)
    );

    // Resync after a dvsm restart.
    let _ = m.child.kill();
    let _ = m.child.wait();
    for s in &sims {
        s.registered.store(false, Ordering::Relaxed);
    }
    let t_restart = Instant::now();
    let m2 = start_dvsm(&a.dvsm, &store, "127.0.0.1:0", "127.0.0.1:0");
    let up = t_restart.elapsed().as_secs_f64();
    if let Ok(mut g) = addr.lock() {
        *g = m2.agents.clone();
    }
    let resync = wait_all(Duration::from_secs(120), &|s| {
        s.registered.load(Ordering::Relaxed)
    });
    println!(
        "resync: dvsm restarted (store loaded, listening) in {up:.2} s; all {} agents \
         re-registered with their full share {} after that",
        a.hosts,
        resync.map_or("(timed out)".into(), |s| format!("{s:.2} s"))
    );
    stop.store(true, Ordering::Relaxed);
    let mut m2 = m2;
    let _ = m2.child.kill();
    let _ = m2.child.wait();
    for t in threads {
        let _ = t.join();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
