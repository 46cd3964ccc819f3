//! Who can use the switch's sockets: the control socket and each bridge's OpenFlow management
//! socket are private to the switch's user even when it runs under umask 000, and
//! `[switch] socket_group` lets one group in. Checked with real clients (`ovs-ofctl`, `dvsctl`)
//! run as `nobody` with `runuser`. Root-only (they start a switch and switch users).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use tests::switchd::Switchd;
use tests::{bin, require_root};

const CONFIG: &str =
    "[switch]\npmd_cores = [0]\npool_frames = 512\n\n[[bridge]]\nname = \"br0\"\n\n\
    [[bridge.port]]\nname = \"p1\"\nkind = \"mock\"\n";

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("socket").permissions().mode() & 0o777
}

/// Start a switch with `extra` added to its `[switch]` section, under umask 000.
fn start(extra: &str) -> Switchd {
    let config = CONFIG.replacen("[switch]", &format!("[switch]\n{extra}"), 1);
    // SAFETY: umask only changes this process's file creation mask, restored right after the
    // switch was spawned (which inherits 000).
    let old = unsafe { libc::umask(0) };
    let sw = Switchd::start(&config);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    // Let others walk down to the sockets: only the sockets' own modes may keep them out.
    for d in [sw.dir.clone(), sw.dir.join("run")] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    sw
}

/// A copy of `dvsctl` that `nobody` can run (the build directory may not be readable).
fn dvsctl_for_nobody(sw: &Switchd) -> PathBuf {
    let p = sw.dir.join("dvsctl");
    std::fs::copy(bin("dvsctl"), &p).expect("copy dvsctl");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

/// Run `args` as nobody; (success, output).
fn as_nobody(args: &[&str]) -> (bool, String) {
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .args(args)
        .output()
        .expect("runuser");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `dvsctl switch show` on `sw`'s control socket, run as nobody.
fn dvsctl_show_as_nobody(sw: &Switchd) -> (bool, String) {
    let dvsctl = dvsctl_for_nobody(sw);
    let sock = sw.socket.display().to_string();
    as_nobody(&[
        dvsctl.to_str().unwrap(),
        "--socket",
        &sock,
        "switch",
        "show",
    ])
}

fn ofctl_available() -> bool {
    Command::new("ovs-ofctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn sockets_are_private_even_under_umask_000() {
    if !require_root("sockets_are_private_even_under_umask_000") || !ofctl_available() {
        return;
    }
    let sw = start("");
    let mgmt = sw.dir.join("run/br0.mgmt");
    assert_eq!(mode(&sw.socket), 0o600, "control socket");
    assert_eq!(mode(&mgmt), 0o600, "management socket");
    let target = format!("unix:{}", mgmt.display());
    let (ok, out) = as_nobody(&[
        "ovs-ofctl",
        "-O",
        "OpenFlow13",
        "add-flow",
        &target,
        "actions=drop",
    ]);
    assert!(!ok && out.contains("Permission denied"), "{out}");
    let (ok, out) = dvsctl_show_as_nobody(&sw);
    assert!(
        !ok && out.to_lowercase().contains("permission denied"),
        "{out}"
    );
    // Root still gets in.
    let out = Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13", "dump-flows", &target])
        .output()
        .expect("ovs-ofctl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_socket_group_lets_its_members_in() {
    if !require_root("the_socket_group_lets_its_members_in") || !ofctl_available() {
        return;
    }
    // nobody's primary group on Debian.
    let sw = start("socket_group = \"nogroup\"");
    let mgmt = sw.dir.join("run/br0.mgmt");
    assert_eq!(mode(&sw.socket), 0o660);
    assert_eq!(mode(&mgmt), 0o660);
    let target = format!("unix:{}", mgmt.display());
    let (ok, out) = as_nobody(&["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", &target]);
    assert!(ok && out.contains("actions=NORMAL"), "{out}");
    let (ok, out) = dvsctl_show_as_nobody(&sw);
    assert!(ok && out.contains("br0"), "{out}");
}

/// Set process `pid`'s open-file limit (soft and hard) to `n`.
fn limit_files(pid: u32, n: u64) {
    let lim = libc::rlimit {
        rlim_cur: n,
        rlim_max: n,
    };
    // SAFETY: `lim` is a valid rlimit; a null old-limit pointer is allowed.
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

#[test]
fn two_thousand_idle_connections_under_ulimit_1024_leave_dvsctl_working() {
    if !require_root("two_thousand_idle_connections_under_ulimit_1024_leave_dvsctl_working") {
        return;
    }
    let sw = Switchd::start(CONFIG);
    limit_files(sw.pid().expect("running"), 1024);
    // This test needs 2,000 descriptors of its own.
    let lim = libc::rlimit {
        rlim_cur: 4096,
        rlim_max: 4096,
    };
    // SAFETY: as above, for this process.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    let mgmt = sw.dir.join("run/br0.mgmt");
    let mut held = Vec::new();
    for _ in 0..2000 {
        match std::os::unix::net::UnixStream::connect(&mgmt) {
            Ok(s) => held.push(s),
            Err(e) => panic!("connect: {e}"),
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (ok, out) = sw.dvsctl(&["switch", "show"]);
    assert!(ok && out.contains("br0"), "{out}");
    let refused = sw.call("switch/show", serde_json::json!({}))["bridges"][0]["openflow"]
        ["packet_io"]["connections_refused"]
        .as_u64()
        .expect("connections_refused");
    assert!(refused >= 1000, "refused {refused}");
    // The log is not flooded with one line per refusal.
    let log = sw.log();
    let lines = log
        .lines()
        .filter(|l| l.contains("refused") || l.contains("Too many"))
        .count();
    assert!(lines <= 3, "{log}");
    drop(held);
}
