//! Helpers for dvs end-to-end tests: network namespaces and veth pairs the test creates, a
//! `dvs-switchd` process per test, raw AF_PACKET sockets inside namespaces for hand-built (and
//! tagged) frames, and a small JSON-RPC client for the control socket.
//!
//! Everything is a guard: namespaces, links and processes are removed in `Drop`, so a failing
//! assertion (a panic) still cleans up. Names embed the process id and a counter so tests can run in
//! parallel and a crashed earlier run never collides with a new one.

pub mod cluster;
pub mod flows;
pub mod frames;
pub mod guest;
pub mod lab;
pub mod netns;
pub mod ovsdb;
pub mod rawsock;
pub mod scapy;
pub mod switchd;
pub mod testpmd;

pub use netns::{Netns, Veth};
pub use rawsock::RawSock;
pub use switchd::Switchd;

/// True when running as root; otherwise prints why the calling test skips.
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipping {test}: needs root (network namespaces, veth, AF_PACKET)");
    }
    root
}

/// True when Debian's `ovs-ofctl` runs; otherwise prints why the calling test skips.
pub fn have_ovs_ofctl(test: &str) -> bool {
    let ok = std::process::Command::new("ovs-ofctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipping {test}: ovs-ofctl not installed (apt-get install openvswitch-common)");
    }
    ok
}

/// Why os-ken cannot run here, if it cannot.
pub fn osken_missing() -> Option<String> {
    match std::process::Command::new("python3")
        .args(["-c", "import os_ken.base.app_manager"])
        .output()
    {
        Err(e) => Some(format!("python3 not runnable: {e}")),
        Ok(o) if !o.status.success() => Some(format!(
            "os-ken not installed (scripts/setup.sh runs `python3 -m pip install os-ken`): {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
        Ok(_) => None,
    }
}

/// Run a command, returning its stdout; panics with stderr on failure.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run a command and report success (no panic).
pub fn try_run(cmd: &str, args: &[&str]) -> bool {
    std::process::Command::new(cmd)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Wait (at most `timeout`, checking every 200 ms) until `f` holds; true if it did.
pub fn wait_until(timeout: std::time::Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    f()
}

/// A unique short tag for names (interface names are limited to 15 bytes).
pub fn unique_tag() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{}{}", std::process::id() % 100_000, n)
}

/// Directory holding the workspace's built binaries (next to the test executable's `deps/`).
pub fn bin_dir() -> std::path::PathBuf {
    if let Ok(d) = std::env::var("DVS_BIN_DIR") {
        return d.into();
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// Path of a workspace binary; panics with a hint when it has not been built.
pub fn bin(name: &str) -> std::path::PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} not found: build it first (cargo build --workspace --bins)",
        p.display()
    );
    p
}

/// MAC address of test VM number `n` (locally administered).
pub fn vm_mac(n: u8) -> [u8; 6] {
    [0x02, 0xd5, 0x00, 0x00, 0x00, n]
}

/// Format a MAC the usual way.
pub fn mac_str(m: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}
