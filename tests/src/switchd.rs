//! A `dvs-switchd` process owned by a test: started from a configuration text, talked to over
//! its control socket, stopped (SIGTERM, then SIGKILL) on drop.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running switch.
pub struct Switchd {
    child: Option<Child>,
    /// The arguments it runs with (for `restart`).
    args: Vec<String>,
    /// Private directory with the config, the run directory and the log.
    pub dir: PathBuf,
    /// Control socket path.
    pub socket: PathBuf,
    /// Network namespace it runs in (`None`: the test's own).
    netns: Option<String>,
}

/// A private temporary directory for one switch.
fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("dvs-test-{}", crate::unique_tag()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

impl Switchd {
    /// Write `config` (its `[switch]` section must not set `rundir`: it is filled in) and start the
    /// switch; waits until the control socket answers.
    pub fn start(config: &str) -> Switchd {
        let dir = temp_dir();
        let rundir = dir.join("run");
        let text = config.replacen(
            "[switch]",
            &format!("[switch]\nrundir = \"{}\"", rundir.display()),
            1,
        );
        let cfg = dir.join("switch.toml");
        std::fs::write(&cfg, text).expect("write config");
        let args = vec!["--config".to_string(), cfg.display().to_string()];
        let mut s = Self::spawn(dir, rundir.join("dvs-switchd.sock"), args, None);
        s.launch();
        s
    }

    /// Start the switch on the Open_vSwitch database at `db` (`unix:<dir>/db.sock`), with
    /// `switch` as its `[switch]` section (without `rundir`: the run directory is `rundir`,
    /// normally the database's directory, as on an OVS host).
    pub fn start_db(switch: &str, db: &str, rundir: &std::path::Path) -> Switchd {
        Self::start_db_in(None, switch, db, rundir)
    }

    /// [`Switchd::start_db`] inside network namespace `netns` (a host of a multi-host lab: its
    /// ports are the interfaces of that namespace).
    pub fn start_db_in(
        netns: Option<&str>,
        switch: &str,
        db: &str,
        rundir: &std::path::Path,
    ) -> Switchd {
        let dir = temp_dir();
        let text = switch.replacen(
            "[switch]",
            &format!("[switch]\nrundir = \"{}\"", rundir.display()),
            1,
        );
        let cfg = dir.join("switch.toml");
        std::fs::write(&cfg, text).expect("write config");
        let args = vec![
            "--config".to_string(),
            cfg.display().to_string(),
            "--db".to_string(),
            db.to_string(),
        ];
        let mut s = Self::spawn(dir, rundir.join("dvs-switchd.sock"), args, netns);
        s.launch();
        s
    }

    fn spawn(dir: PathBuf, socket: PathBuf, args: Vec<String>, netns: Option<&str>) -> Switchd {
        Switchd {
            child: None,
            args,
            dir,
            socket,
            netns: netns.map(str::to_string),
        }
    }

    /// Start the process (again, after `stop`) and wait until its control socket answers.
    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("switchd.log"))
            .expect("log");
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(crate::bin("dvs-switchd"));
                c
            }
            None => Command::new(crate::bin("dvs-switchd")),
        };
        let child = cmd
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn dvs-switchd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if self.try_call("switch/show", json!({})).is_ok() {
                return;
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("dvs-switchd exited early ({st}): {}", self.log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "dvs-switchd did not come up: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stop the switch (SIGTERM) and start it again with the same arguments.
    pub fn restart(&mut self) {
        assert!(
            self.stop(),
            "dvs-switchd did not stop cleanly: {}",
            self.log()
        );
        self.launch();
    }

    /// The configuration file the switch was started with (rewrite it, then reload).
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("switch.toml")
    }

    /// Send `sig` to the switch process.
    pub fn signal(&self, sig: i32) {
        if let Some(c) = self.child.as_ref() {
            // SAFETY: signalling our own child process.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }

    /// The switch's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("switchd.log")).unwrap_or_default()
    }

    /// Call a control method; Err carries the RPC error message.
    pub fn try_call(&self, method: &str, params: Value) -> Result<Value, String> {
        let mut s = UnixStream::connect(&self.socket).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let req = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        writeln!(s, "{req}").map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(&s)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&line).map_err(|e| format!("{e}: {line}"))?;
        if let Some(err) = v.get("error") {
            return Err(err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_string());
        }
        Ok(v.get("result").cloned().unwrap_or(Value::Null))
    }

    /// Call a control method; panics on error.
    pub fn call(&self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Counters of one port (the `port/stats` entry).
    pub fn port_stats(&self, port: &str) -> Value {
        let all = self.call("port/stats", json!({}));
        all.as_array()
            .and_then(|a| a.iter().find(|p| p["name"] == port).cloned())
            .unwrap_or_else(|| panic!("no port {port} in {all}"))
    }

    /// A drop counter by reason name.
    pub fn drops(&self, reason: &str) -> u64 {
        self.call("drop/stats", json!({}))[reason]
            .as_u64()
            .unwrap_or(0)
    }

    /// Run `dvsctl` against this switch; returns (success, stdout+stderr).
    pub fn dvsctl(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(crate::bin("dvsctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run dvsctl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    /// Stop with SIGTERM and wait; returns the exit status success.
    pub fn stop(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return true;
        };
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return st.success();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Switchd {
    fn drop(&mut self) {
        self.stop();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!(
                "dvs-switchd log kept in {}:\n{}",
                self.dir.display(),
                self.log()
            );
        }
    }
}
