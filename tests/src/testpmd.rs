//! `dpdk-testpmd` with a `net_virtio_user` port as a stand-in VM on a vhost-user socket.
//!
//! testpmd runs interactively with its stdin piped from the test; a reader thread collects its
//! stdout so commands and their answers can be matched by position. Each instance gets its own
//! `--file-prefix` and `--in-memory`, so several VMs share the hugepages without files to clean.
//! The process is killed on drop.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running testpmd VM.
pub struct Testpmd {
    child: Child,
    stdin: ChildStdin,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    ready: bool,
}

/// True when testpmd is installed and enough hugepages are free for a VM.
pub fn available(test: &str) -> bool {
    let have = Command::new("dpdk-testpmd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !have {
        eprintln!("skipping {test}: dpdk-testpmd is not installed (apt-get install dpdk)");
        return false;
    }
    let free = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("HugePages_Free:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    if free < 200 {
        eprintln!(
            "skipping {test}: needs 200 free 2 MiB hugepages (scripts/setup.sh reserves them)"
        );
        return false;
    }
    true
}

impl Testpmd {
    /// Start a VM whose virtio port uses `socket`: `server` = testpmd listens (the switch is a
    /// vhost-user client; testpmd then waits for the switch before showing its prompt, so this
    /// returns without waiting). Forwarding mode starts as `rxonly`.
    pub fn start(socket: &Path, server: bool, mac: [u8; 6]) -> Testpmd {
        Testpmd::start_with(socket, server, mac, &[])
    }

    /// [`Testpmd::start`] with `extra` testpmd (not EAL) arguments, e.g. `--mbuf-size=` and
    /// `--max-pkt-len=` for jumbo frames.
    pub fn start_with(socket: &Path, server: bool, mac: [u8; 6], extra: &[&str]) -> Testpmd {
        let prefix = format!("dvsvm{}", crate::unique_tag());
        let vdev = format!(
            "net_virtio_user0,path={},queues=1,server={},mac={}",
            socket.display(),
            u8::from(server),
            crate::mac_str(mac)
        );
        let mut child = Command::new("stdbuf")
            .args(["-oL", "dpdk-testpmd", "-l", "0,1", "--main-lcore", "1"])
            .args([
                "--no-pci",
                "--in-memory",
                "--single-file-segments",
                "-m",
                "256",
            ])
            .args(["--no-telemetry", "--file-prefix", &prefix, "--vdev", &vdev])
            .args(["--", "-i", "--nb-cores=1", "--rxq=1", "--txq=1"])
            // A small mbuf pool: testpmd's default sizing takes ~340 MB per VM, and several VMs
            // (plus other tests) share the machine's 2 GB of hugepages.
            .args(["--total-num-mbufs=8192"])
            .args(["--forward-mode=rxonly", "--eth-peer=0,ff:ff:ff:ff:ff:ff"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dpdk-testpmd");
        let stdin = child.stdin.take().expect("stdin");
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        // Separate buffers: stderr lines may land in the middle of the stdout prompt.
        for (stream, out) in [
            (
                Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
                out.clone(),
            ),
            (Box::new(child.stderr.take().expect("stderr")), err.clone()),
        ] {
            // Raw chunks, not lines: the "testpmd> " prompt has no newline after it.
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
                    o.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let mut t = Testpmd {
            child,
            stdin,
            out,
            err,
            ready: false,
        };
        if !server {
            t.wait_ready();
        }
        t
    }

    /// Wait for the first prompt (EAL up, the vhost-user connection made).
    pub fn wait_ready(&mut self) {
        if !self.ready {
            self.wait_for("testpmd>", 0, Duration::from_secs(30));
            self.ready = true;
        }
    }

    /// Everything testpmd wrote to stderr so far.
    pub fn errors(&self) -> String {
        self.err.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Everything testpmd printed so far.
    pub fn output(&self) -> String {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn wait_for(&mut self, needle: &str, from: usize, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let o = self.output();
            if let Some(i) = o.get(from..).and_then(|s| s.find(needle)) {
                return o[from..from + i + needle.len()].to_string();
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "testpmd exited ({st}) waiting for {needle:?}:\n{o}\n{}",
                    self.errors()
                );
            }
            assert!(
                Instant::now() < deadline,
                "testpmd: no {needle:?} within {timeout:?}:\n{o}\n{}",
                self.errors()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send one command and return what it printed up to the next prompt.
    pub fn cmd(&mut self, c: &str) -> String {
        self.wait_ready();
        let from = self.output().len();
        writeln!(self.stdin, "{c}").expect("write testpmd command");
        self.stdin.flush().expect("flush");
        self.wait_for("testpmd>", from, Duration::from_secs(20))
    }

    /// (RX-packets, TX-packets) of port 0.
    pub fn stats(&mut self) -> (u64, u64) {
        let o = self.cmd("show port stats 0");
        let num = |key: &str| -> u64 {
            o.split(key)
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in {o}"))
        };
        (num("RX-packets:"), num("TX-packets:"))
    }

    /// Wait until the port reports link up (the switch attached its vhost-user side).
    pub fn wait_link_up(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let o = self.cmd("show port info 0");
            if o.contains("Link status: up") {
                return;
            }
            assert!(Instant::now() < deadline, "virtio link stays down:\n{o}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Send exactly `bursts` x 32 frames of 64 bytes to the broadcast peer, then keep only
    /// receiving (io forwarding of nothing): a fixed, countable amount of traffic.
    pub fn send_bursts(&mut self, bursts: u32) {
        self.cmd("stop");
        self.cmd("set fwd io");
        self.cmd(&format!("start tx_first {bursts}"));
    }

    /// Send exactly `n` frames to the broadcast peer shaped by `txpkts` (testpmd's `set txpkts`:
    /// the frame's segment lengths, one mbuf each, so a list makes a chained frame), one per
    /// burst, then keep only receiving.
    pub fn send_shaped(&mut self, txpkts: &str, n: u32) {
        self.cmd("stop");
        let o = self.cmd(&format!("set txpkts {txpkts}"));
        assert!(
            !o.contains("rror") && !o.contains("nvalid") && !o.contains("ad argument"),
            "set txpkts {txpkts}: {o}"
        );
        self.cmd("set burst 1");
        self.cmd("set fwd io");
        self.cmd(&format!("start tx_first {n}"));
    }

    /// Switch to receive-only and start forwarding.
    pub fn receive(&mut self) {
        self.cmd("stop");
        self.cmd("set fwd rxonly");
        self.cmd("start");
    }

    /// Kill the process now (a VM crash).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Testpmd {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }
}
