//! Debian's `ovsdb-server` with the stock Open_vSwitch schema, owned by a test: a fresh
//! database in a private directory (the run directory of the switch that follows it, so
//! management and vhost-user sockets land next to `db.sock`, as on an OVS host), `ovs-vsctl`
//! against it, and a restart that keeps the database file.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The stock schema.
pub const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// A running ovsdb-server.
pub struct OvsDb {
    /// Private directory: `conf.db`, `db.sock`, and the switch's run directory.
    pub dir: PathBuf,
    child: Option<Child>,
}

/// Whether ovsdb-server, ovs-vsctl and the schema are installed (else says why `test` skips).
pub fn available(test: &str) -> bool {
    let have = |cmd: &str| {
        Command::new(cmd)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !have("ovsdb-server") || !have("ovs-vsctl") || !std::path::Path::new(SCHEMA).exists() {
        eprintln!(
            "skipping {test}: needs ovsdb-server, ovs-vsctl and {SCHEMA} (setup.sh installs \
             openvswitch-switch)"
        );
        return false;
    }
    true
}

impl OvsDb {
    /// A fresh database with its root row (`ovs-vsctl init`).
    pub fn start() -> OvsDb {
        let dir = std::env::temp_dir().join(format!("dvs-db-{}", crate::unique_tag()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("db dir");
        let ok = Command::new("ovsdb-tool")
            .arg("create")
            .arg(dir.join("conf.db"))
            .arg(SCHEMA)
            .status()
            .expect("run ovsdb-tool")
            .success();
        assert!(ok, "ovsdb-tool create failed");
        let mut db = OvsDb { dir, child: None };
        db.run();
        let (ok, out) = db.vsctl(&["--no-wait", "init"]);
        assert!(ok, "ovs-vsctl init: {out}");
        db
    }

    /// The server's socket.
    pub fn sock(&self) -> PathBuf {
        self.dir.join("db.sock")
    }

    /// `unix:<socket>`.
    pub fn addr(&self) -> String {
        format!("unix:{}", self.sock().display())
    }

    /// Start the server on the database file and wait for its socket.
    pub fn run(&mut self) {
        let _ = std::fs::remove_file(self.sock());
        let log = std::fs::File::create(self.dir.join("ovsdb-server.log")).expect("log");
        let child = Command::new("ovsdb-server")
            .arg(format!("--remote=punix:{}", self.sock().display()))
            .arg(format!(
                "--unixctl={}",
                self.dir.join("ovsdb.ctl").display()
            ))
            .arg("--no-chdir")
            .arg(self.dir.join("conf.db"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn ovsdb-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.sock().exists() {
            assert!(Instant::now() < deadline, "ovsdb-server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send the server SIGKILL without waiting for it (usable while others run `vsctl`);
    /// [`OvsDb::kill`] reaps it.
    pub fn sigkill(&self) {
        if let Some(c) = self.child.as_ref() {
            // SAFETY: signalling our own child process, which has not been reaped (it is only
            // waited for in `kill`, which needs `&mut self`).
            unsafe { libc::kill(c.id() as i32, libc::SIGKILL) };
        }
    }

    /// Kill the server (the database file stays).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Run `ovs-vsctl --db=<addr> --timeout=10 ARGS`; (success, stdout + stderr).
    pub fn vsctl(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("ovs-vsctl")
            .arg(format!("--db={}", self.addr()))
            .arg("--timeout=10")
            .args(args)
            .output()
            .expect("run ovs-vsctl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    /// `ovs-vsctl ARGS`, which must succeed; its trimmed output.
    pub fn must(&self, args: &[&str]) -> String {
        let (ok, out) = self.vsctl(args);
        assert!(ok, "ovs-vsctl {}: {out}", args.join(" "));
        out.trim().to_string()
    }

    /// `ovs-vsctl get TABLE RECORD COLUMN`, trimmed (quotes kept as ovs-vsctl prints them).
    pub fn get(&self, table: &str, record: &str, column: &str) -> String {
        self.must(&["get", table, record, column])
    }
}

impl Drop for OvsDb {
    fn drop(&mut self) {
        self.kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("ovsdb-server directory kept: {}", self.dir.display());
        }
    }
}
