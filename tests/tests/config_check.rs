//! `dvs-switchd --check` against the real binary: it refuses what startup refuses (a static flow
//! the flow table rejects), names the file, line and field, and never reads without bound (a
//! `flows_file` that is a device) nor lets a bridge name leave the run directory. None of this
//! needs root: `--check` opens no port.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Address space `dvs-switchd` may use here: a regression that reads a device without bound
/// fails its allocation instead of waking the OOM killer.
const ADDRESS_SPACE_MAX: u64 = 2 << 30;

/// How long one run may take before the test kills it.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// A private directory holding one test's config, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        let d = std::env::temp_dir().join(format!("dvs-check-{}", tests::unique_tag()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        Dir(d)
    }

    /// Write `switch.toml` with `text` (every `@RUNDIR@` replaced by a run directory inside
    /// this one); its path.
    fn config(&self, text: &str) -> PathBuf {
        let text = text.replace("@RUNDIR@", &self.0.join("run").display().to_string());
        let p = self.0.join("switch.toml");
        std::fs::write(&p, text).expect("write config");
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `dvs-switchd` with `args` under an address-space limit, killing it after
/// [`RUN_TIMEOUT`]; its output, or `None` when it had to be killed.
fn run_switchd(args: &[&str]) -> Option<Output> {
    let mut cmd = Command::new(tests::bin("dvs-switchd"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: the closure only calls setrlimit, which is async-signal-safe, between fork and
    // exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: ADDRESS_SPACE_MAX,
                rlim_max: ADDRESS_SPACE_MAX,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("run dvs-switchd");
    let deadline = Instant::now() + RUN_TIMEOUT;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(child.wait_with_output().expect("output"))
}

/// `dvs-switchd --check --config <path>`: (exit code, stderr).
fn check(path: &Path) -> (Option<i32>, String) {
    let out = run_switchd(&["--check", "--config", path.to_str().expect("utf-8 path")])
        .expect("dvs-switchd --check did not finish");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A one-bridge config (mock ports `p1`, `p2`) with `flows`.
fn bridge_with_flows(flows: &[&str]) -> String {
    let list: Vec<String> = flows.iter().map(|f| format!("  \"{f}\",\n")).collect();
    format!(
        "[switch]\nrundir = \"@RUNDIR@\"\n\n[[bridge]]\nname = \"br0\"\nflows = [\n{}]\n\n\
         [[bridge.port]]\nname = \"p1\"\nkind = \"mock\"\n\n\
         [[bridge.port]]\nname = \"p2\"\nkind = \"mock\"\n",
        list.concat()
    )
}

#[test]
fn check_accepts_a_good_config() {
    let d = Dir::new();
    let cfg = d.config(&bridge_with_flows(&[
        "priority=100,in_port=p1,actions=output:p2",
        "priority=10,ip,actions=goto_table:1",
        "table=1,actions=NORMAL",
    ]));
    let (code, err) = check(&cfg);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn check_refuses_the_flows_startup_refuses() {
    let d = Dir::new();
    for (bad, says) in [
        ("priority=99999,actions=drop", "99999"),
        ("in_port=nosuch,actions=drop", "nosuch"),
        ("priority=5,actions=group:3", "group 3 does not exist"),
    ] {
        let cfg = d.config(&bridge_with_flows(&["priority=1,actions=drop", bad]));
        let (code, err) = check(&cfg);
        assert_eq!(code, Some(2), "--check accepted {bad}: {err}");
        let at = format!("{}:8: bridge[0].flows[1]: ", cfg.display());
        assert!(err.contains(&at) && err.contains(says), "{bad}: {err}");
        // Startup refuses it with the same words, before opening anything.
        let started = run_switchd(&["--config", cfg.to_str().expect("utf-8")])
            .expect("dvs-switchd started with a flow --check refuses");
        let startup_err = String::from_utf8_lossy(&started.stderr);
        assert_eq!(started.status.code(), Some(2), "{startup_err}");
        assert_eq!(startup_err, err, "--check and startup disagree on {bad}");
    }
}

#[test]
fn check_refuses_a_flows_file_that_is_a_device() {
    let d = Dir::new();
    let cfg = d.config(
        "[switch]\nrundir = \"@RUNDIR@\"\n[[bridge]]\nname = \"br0\"\nflows_file = \"/dev/zero\"\n",
    );
    let started = Instant::now();
    let (code, err) = check(&cfg);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{}:5: bridge[0].flows_file: cannot read /dev/zero: not a regular file (a character device)",
            cfg.display()
        )),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn check_refuses_a_bridge_name_outside_the_run_directory() {
    let d = Dir::new();
    let cfg = d.config("[switch]\nrundir = \"@RUNDIR@\"\n[[bridge]]\nname = \"../escaped\"\n");
    let (code, err) = check(&cfg);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{}:4: bridge[0].name: bridge name \"../escaped\" contains '/'",
            cfg.display()
        )),
        "{err}"
    );
    assert!(!d.0.join("escaped.mgmt").exists());
}
