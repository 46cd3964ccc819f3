//! End to end with DPDK's testpmd as the VM: its `net_virtio_user` vdev is a
//! real vhost-user frontend that shares hugepage memory with us. We poll
//! the device from the test thread like a PMD.
//!
//! - server role: testpmd connects to our socket (`server=0`), `txonly`
//!   frames arrive through `rx_burst` (count and 64-byte length), and
//!   frames we `tx_burst` show up in testpmd's `RX-packets` (rxonly mode);
//!   then testpmd is killed and restarted and traffic flows again.
//! - client role: testpmd listens (`server=1`), we connect, traffic flows,
//!   testpmd is restarted and we reconnect by ourselves.
//!
//! Needs root, hugepages and `dpdk-testpmd`; otherwise each test prints why
//! it is skipped and passes.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vhost::{Role, VhostConfig, VhostNetDevice};

/// The tests share two cores with testpmd: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("dpdk-testpmd").is_file()))
        .unwrap_or(false);
    if !found {
        return Some("dpdk-testpmd not installed".into());
    }
    let free = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("HugePages_Free:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                })
        })
        .unwrap_or(0);
    if free < 128 {
        return Some(format!("only {free} free hugepages"));
    }
    None
}

struct TestPmd {
    child: Child,
    stdin: ChildStdin,
    out: Arc<Mutex<String>>,
}

impl TestPmd {
    fn spawn(sock: &Path, server: bool, prefix: &str) -> TestPmd {
        let vdev = format!(
            "net_virtio_user0,path={},queues=1,server={}",
            sock.display(),
            u8::from(server)
        );
        let mut child = Command::new("stdbuf")
            .args([
                "-oL",
                "dpdk-testpmd",
                "-l",
                "0,1",
                "--main-lcore",
                "1",
                "--no-pci",
                "--in-memory",
            ])
            .args([
                "--single-file-segments",
                "-m",
                "256",
                "--file-prefix",
                prefix,
                "--vdev",
                &vdev,
            ])
            .args([
                "--",
                "-i",
                "--nb-cores=1",
                "--txpkts=64",
                "--total-num-mbufs=8192",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dpdk-testpmd");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let out = Arc::new(Mutex::new(String::new()));
        let o2 = out.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut g = o2.lock().unwrap();
                g.push_str(&line);
                g.push('\n');
            }
        });
        TestPmd { child, stdin, out }
    }

    fn cmd(&mut self, c: &str) {
        writeln!(self.stdin, "{c}").expect("write to testpmd");
        self.stdin.flush().expect("flush");
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Wait until the output after byte `from` contains `pat`.
    fn wait_output(&self, from: usize, pat: &str, t: Duration) -> Option<String> {
        let end = Instant::now() + t;
        while Instant::now() < end {
            let o = self.output();
            if o.len() > from && o[from..].contains(pat) {
                return Some(o[from..].to_string());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn rx_packets(&mut self) -> u64 {
        let mark = self.output().len();
        self.cmd("show port stats 0");
        let o = self
            .wait_output(mark, "TX-packets", Duration::from_secs(5))
            .expect("port stats printed");
        let field = o
            .split("RX-packets:")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|v| v.parse().ok());
        field.expect("RX-packets field")
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestPmd {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }
}

fn wait_until(t: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + t;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn sock_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("dvs-vhost-tp-{tag}-{}.sock", std::process::id()))
}

fn device(sock: &Path, role: Role) -> Arc<VhostNetDevice> {
    VhostNetDevice::start(
        "tp",
        VhostConfig {
            socket: sock.to_path_buf(),
            role,
            queue_pairs: 1,
            mtu: 1500,
        },
    )
    .expect("start device")
}

/// Poll rx_burst for up to `t`, until `want` frames; returns (count, all 64 B).
fn receive(dev: &VhostNetDevice, want: usize, t: Duration) -> (usize, bool) {
    let mut store = vec![[0u8; 2048]; 32];
    let mut lens = [0usize; 32];
    let (mut n, mut all64) = (0usize, true);
    let end = Instant::now() + t;
    while n < want && Instant::now() < end {
        let mut bufs: Vec<&mut [u8]> = store.iter_mut().map(|b| &mut b[..]).collect();
        let k = dev.rx_burst(0, &mut bufs, &mut lens);
        all64 &= lens[..k].iter().all(|&l| l == 64);
        n += k;
        if k == 0 {
            std::thread::yield_now();
        }
    }
    (n, all64)
}

fn link_up(dev: &VhostNetDevice, pmd: &TestPmd) {
    assert!(
        wait_until(Duration::from_secs(8), || dev.link_up()),
        "link did not come up; last error {:?}; testpmd said:\n{}",
        dev.last_error(),
        pmd.output()
    );
}

/// testpmd txonly -> our rx_burst.
fn txonly_reaches_us(dev: &VhostNetDevice, pmd: &mut TestPmd) {
    pmd.cmd("set fwd txonly");
    pmd.cmd("start");
    let (n, all64) = receive(dev, 10_000, Duration::from_secs(5));
    pmd.cmd("stop");
    assert!(
        n >= 10_000,
        "received only {n} frames; stats {:?}",
        dev.stats()
    );
    assert!(all64, "all frames are 64 bytes");
    // Drain what is left so the next phase starts clean.
    receive(dev, usize::MAX, Duration::from_millis(200));
}

/// Our tx_burst -> testpmd rxonly's RX-packets.
fn we_reach_testpmd(dev: &VhostNetDevice, pmd: &mut TestPmd) {
    pmd.cmd("set fwd rxonly");
    pmd.cmd("start");
    let before = pmd.rx_packets();
    let frame = [0x5au8; 60];
    let frames = [&frame[..]; 32];
    let mut sent = 0usize;
    let end = Instant::now() + Duration::from_secs(5);
    while sent < 5000 && Instant::now() < end {
        let k = dev.tx_burst(0, &frames);
        sent += k;
        if k == 0 {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    assert!(
        sent >= 5000,
        "delivered only {sent}; stats {:?}",
        dev.stats()
    );
    let got = (0..50)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            pmd.rx_packets() - before
        })
        .find(|&g| g >= sent as u64)
        .unwrap_or(0);
    assert_eq!(
        got, sent as u64,
        "testpmd RX-packets matches what we delivered"
    );
    pmd.cmd("stop");
}

#[test]
fn testpmd_server_role_traffic_and_reconnect() {
    if let Some(why) = skip_reason() {
        println!("SKIP testpmd_server_role_traffic_and_reconnect: {why}");
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sock = sock_path("srv");
    let dev = device(&sock, Role::Server);
    let mut pmd = TestPmd::spawn(&sock, false, &format!("dvsvh-s{}", std::process::id()));
    link_up(&dev, &pmd);
    println!(
        "negotiated features {:#x}, protocol features {:#x}",
        dev.negotiated_features(),
        dev.negotiated_protocol_features()
    );
    assert_eq!(dev.active_queue_pairs(), 1);
    txonly_reaches_us(&dev, &mut pmd);
    we_reach_testpmd(&dev, &mut pmd);

    // The VM dies: link goes down, the device survives, a new VM connects.
    pmd.kill();
    assert!(
        wait_until(Duration::from_secs(5), || !dev.link_up()),
        "link down after kill"
    );
    let before = dev.stats();
    drop(pmd);
    let mut pmd = TestPmd::spawn(&sock, false, &format!("dvsvh-s2{}", std::process::id()));
    link_up(&dev, &pmd);
    txonly_reaches_us(&dev, &mut pmd);
    let after = dev.stats();
    assert!(after.reconnects >= 1, "{after:?}");
    assert!(
        after.rx_packets > before.rx_packets,
        "counters survive and grow"
    );
    assert_eq!(after.bad_descriptors, 0);
    assert_eq!(after.protocol_errors, 0, "{:?}", dev.last_error());
    drop(pmd);
    dev.stop();
    assert!(!sock.exists(), "server socket removed on stop");
}

#[test]
fn testpmd_client_role_connects_and_reconnects() {
    if let Some(why) = skip_reason() {
        println!("SKIP testpmd_client_role_connects_and_reconnects: {why}");
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sock = sock_path("cli");
    let _ = std::fs::remove_file(&sock);
    // The device starts first and retries until testpmd's socket exists.
    let dev = device(&sock, Role::Client);
    let mut pmd = TestPmd::spawn(&sock, true, &format!("dvsvh-c{}", std::process::id()));
    link_up(&dev, &pmd);
    txonly_reaches_us(&dev, &mut pmd);
    pmd.kill();
    assert!(
        wait_until(Duration::from_secs(5), || !dev.link_up()),
        "link down after kill"
    );
    drop(pmd);
    let _ = std::fs::remove_file(&sock);
    let mut pmd = TestPmd::spawn(&sock, true, &format!("dvsvh-c2{}", std::process::id()));
    link_up(&dev, &pmd);
    txonly_reaches_us(&dev, &mut pmd);
    assert!(dev.stats().reconnects >= 1);
    drop(pmd);
    dev.stop();
    let _ = std::fs::remove_file(&sock);
}
