//! Shared pieces of the agent's end-to-end tests: a fake dvsm speaking `proto::wire` over a
//! `TcpListener`, the agent process and share objects (flow dumps: `tests::flows`).

#![allow(dead_code)]

use proto::wire::{Ack, Register, Registered, Status, Update};
use proto::{Change, Key, Object, Share, Stored};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the fake dvsm has seen and holds.
#[derive(Default)]
pub struct Fake {
    pub share: Share,
    pub revision: u64,
    pub conn: Option<TcpStream>,
    pub registers: Vec<Register>,
    pub acks: Vec<Ack>,
    pub statuses: Vec<Status>,
    pub heartbeats: u64,
}

/// A fake dvsm on 127.0.0.1.
pub struct FakeDvsm {
    pub addr: String,
    inner: Arc<Mutex<Fake>>,
}

fn lock(m: &Mutex<Fake>) -> MutexGuard<'_, Fake> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeDvsm {
    pub fn start() -> FakeDvsm {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        let inner = Arc::new(Mutex::new(Fake::default()));
        let i2 = inner.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let i3 = i2.clone();
                std::thread::spawn(move || serve(s, &i3));
            }
        });
        FakeDvsm { addr, inner }
    }

    pub fn lock(&self) -> MutexGuard<'_, Fake> {
        lock(&self.inner)
    }

    /// Set objects (upsert) and drop keys, as one new revision; sends it to the agent if
    /// connected. Returns the revision.
    pub fn update(&self, set: Vec<Object>, drop: Vec<Key>) -> u64 {
        let mut f = self.lock();
        f.revision += 1;
        let rev = f.revision;
        let mut changes = Vec::new();
        for o in set {
            changes.push(Change {
                key: o.key(),
                object: Some(Stored {
                    revision: rev,
                    object: o,
                }),
            });
        }
        for k in drop {
            changes.push(Change {
                key: k,
                object: None,
            });
        }
        proto::share::apply(&mut f.share, &changes);
        let msg = json!({"jsonrpc": "2.0", "method": "update",
                         "params": Update { revision: rev, changes }});
        if let Some(c) = f.conn.as_mut() {
            let _ = writeln!(c, "{msg}");
        }
        rev
    }

    /// Close the agent's connection.
    pub fn drop_conn(&self) {
        if let Some(c) = self.lock().conn.take() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    /// Wait for an ack of at least `rev`; returns it.
    pub fn wait_ack(&self, rev: u64, within: Duration) -> Ack {
        let end = Instant::now() + within;
        loop {
            if let Some(a) = self.lock().acks.iter().rev().find(|a| a.revision >= rev) {
                return a.clone();
            }
            assert!(
                Instant::now() < end,
                "no ack of revision {rev} within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until `f` holds on the fake's state.
    pub fn wait(&self, within: Duration, what: &str, f: impl Fn(&Fake) -> bool) {
        let end = Instant::now() + within;
        while !f(&self.lock()) {
            assert!(Instant::now() < end, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve(s: TcpStream, inner: &Mutex<Fake>) {
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let v: Value = serde_json::from_str(&line).expect("register JSON");
    assert_eq!(v["method"], "register");
    let reg: Register = serde_json::from_value(v["params"].clone()).expect("register params");
    {
        let mut f = lock(inner);
        let answer = if reg.since == Some(f.revision) {
            Registered {
                revision: f.revision,
                full: false,
                changes: Vec::new(),
            }
        } else {
            Registered {
                revision: f.revision,
                full: true,
                changes: f
                    .share
                    .iter()
                    .map(|(k, s)| Change {
                        key: k.clone(),
                        object: Some(s.clone()),
                    })
                    .collect(),
            }
        };
        f.registers.push(reg);
        let mut w = s.try_clone().expect("clone");
        let _ = writeln!(
            w,
            "{}",
            json!({"jsonrpc": "2.0", "id": v["id"], "result": answer})
        );
        f.conn = Some(w);
    }
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let mut f = lock(inner);
        match v["method"].as_str() {
            Some("ack") => f
                .acks
                .push(serde_json::from_value(v["params"].clone()).expect("ack")),
            Some("status") => f
                .statuses
                .push(serde_json::from_value(v["params"].clone()).expect("status")),
            Some("heartbeat") => f.heartbeats += 1,
            other => panic!("unexpected message {other:?}: {line}"),
        }
    }
}

/// An object from its JSON spec.
pub fn obj(kind: &str, spec: Value) -> Object {
    serde_json::from_value(json!({"kind": kind, "spec": spec})).expect("object")
}

/// The agent process.
pub struct Agent {
    child: Option<Child>,
    args: Vec<String>,
    pub log: PathBuf,
}

impl Agent {
    pub fn start(dvsm: &str, host: &str, ovsdb: &str, log: PathBuf) -> Agent {
        Self::start_with(dvsm, host, ovsdb, log, &[])
    }

    /// Start with extra arguments.
    pub fn start_with(
        dvsm: &str,
        host: &str,
        ovsdb: &str,
        log: PathBuf,
        extra: &[String],
    ) -> Agent {
        let mut args = vec![
            "--dvsm".to_string(),
            dvsm.to_string(),
            "--host".into(),
            host.into(),
            "--token".into(),
            "secret".into(),
            "--ovsdb".into(),
            ovsdb.into(),
        ];
        args.extend_from_slice(extra);
        let mut a = Agent {
            child: None,
            args,
            log,
        };
        a.launch();
        a
    }

    pub fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("agent log");
        let child = Command::new(env!("CARGO_BIN_EXE_dvs-agent"))
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn dvs-agent");
        self.child = Some(child);
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!("dvs-agent log:\n{}", self.log_text());
        }
    }
}
