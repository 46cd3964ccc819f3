//! Active OpenFlow controller connections of dvs-switchd, end to end: the switch dials the
//! configured `controllers`, speaks first (HELLO), is probed and redials; `fail_mode` decides what
//! a bridge does without a controller.
//!
//! - A real controller: os-ken with a learning-switch app drives a `secure` bridge between two
//!   namespace VMs. Nothing is forwarded before it connects, its flows forward traffic (and
//!   show in `ovs-ofctl dump-flows`), and they keep forwarding after it is gone. Skips (with the
//!   reason) when os-ken is not installed (`scripts/setup.sh` installs it).
//! - A raw controller written here with the `openflow` codec: a `standalone` bridge whose table
//!   drops everything fails open (NORMAL) while no controller is reachable, goes back to its
//!   table when one connects, fails open again when it leaves, and is redialled.
//! - Without root (mock ports, no namespaces): handshake, inactivity probe with the default
//!   5 s interval, redial after the controller closes, prompt shutdown; and config errors.
//!
//! The switch's timings (see `switchd/src/ofp/active.rs`): backoff 1 s doubling to 8 s, probe
//! after 5 s of silence, fail-open after 3 s without a controller. Waits below are bounded by
//! those plus generous slack.

use openflow::{Hello, Message, SwitchFeatures};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tests::lab::{Lab, VmSpec};
use tests::{mac_str, require_root, Switchd};

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Poll `f` until it holds or `within` passes.
fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `ovs-ofctl -O OpenFlow13 dump-flows` on the switch's management socket for `br0`.
fn dump_flows(sw: &Switchd) -> String {
    let target = format!("unix:{}", sw.dir.join("run/br0.mgmt").display());
    let out = Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13", "dump-flows", &target])
        .output()
        .expect("run ovs-ofctl");
    assert!(
        out.status.success(),
        "ovs-ofctl dump-flows: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn flow_lines(dump: &str) -> Vec<&str> {
    dump.lines().filter(|l| l.contains("actions=")).collect()
}

/// One switch connection as the test controller sees it.
struct Peer {
    s: TcpStream,
}

impl Peer {
    /// Accept the switch's next connection within `within`.
    fn accept(l: &TcpListener, within: Duration) -> Option<Peer> {
        l.set_nonblocking(true).expect("nonblocking");
        let end = Instant::now() + within;
        loop {
            match l.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).expect("blocking");
                    s.set_read_timeout(Some(Duration::from_secs(15)))
                        .expect("timeout");
                    return Some(Peer { s });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= end {
                        return None;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }

    fn recv(&mut self) -> io::Result<Message> {
        let mut buf = vec![0u8; 8];
        self.s.read_exact(&mut buf)?;
        let len = usize::from(u16::from_be_bytes([buf[2], buf[3]])).max(8);
        buf.resize(len, 0);
        self.s.read_exact(&mut buf[8..])?;
        openflow::decode(&buf)
            .map(|(_, m)| m)
            .map_err(|e| io::Error::other(format!("undecodable message: {e:?}")))
    }

    fn send(&mut self, xid: u32, msg: &Message) {
        let mut out = Vec::new();
        openflow::encode(xid, msg, &mut out);
        self.s.write_all(&out).expect("send to switch");
    }

    /// The switch's HELLO (it must come first), ours, then FEATURES_REQUEST, which admits us
    /// as the switch's controller; returns the FEATURES_REPLY.
    fn handshake(&mut self) -> SwitchFeatures {
        let first = self.recv().expect("switch's first message");
        assert!(
            matches!(first, Message::Hello(_)),
            "switch speaks first with HELLO, got {first:?}"
        );
        self.send(1, &Message::Hello(Hello::ours()));
        self.send(2, &Message::FeaturesRequest);
        loop {
            match self.recv().expect("FEATURES_REPLY") {
                Message::FeaturesReply(f) => return f,
                Message::EchoRequest(d) => self.send(0, &Message::EchoReply(d)),
                _ => {}
            }
        }
    }
}

/// os-ken running a learning-switch app, killed on drop.
struct OsKen {
    child: Option<Child>,
    log: PathBuf,
}

impl OsKen {
    /// Start os-ken on 127.0.0.1:`port`. Uses the stock `os_ken.app.simple_switch_13` where
    /// the installed os-ken still ships it, else the equivalent `tests/osken/learning_switch.py`
    /// (os-ken 4.x ships neither the sample apps nor `osken-manager`; `run_controller.py`
    /// replaces the latter).
    fn start(port: u16, dir: &Path) -> OsKen {
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("osken");
        let stock = Command::new("python3")
            .args(["-c", "import os_ken.app.simple_switch_13"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let app = if stock {
            "os_ken.app.simple_switch_13".to_string()
        } else {
            here.join("learning_switch.py").display().to_string()
        };
        eprintln!("controller test: os-ken with {app} on 127.0.0.1:{port}");
        let log = dir.join("osken.log");
        let child = Command::new("python3")
            .arg(here.join("run_controller.py"))
            .args(["127.0.0.1", &port.to_string(), &app])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("os-ken log"))
            .spawn()
            .expect("spawn os-ken");
        OsKen {
            child: Some(child),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then SIGKILL after 3 s.
    fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for OsKen {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("os-ken log:\n{}", self.log());
        }
    }
}

#[test]
fn osken_learning_switch_drives_a_secure_bridge() {
    const TEST: &str = "osken_learning_switch_drives_a_secure_bridge";
    if !require_root(TEST) || !tests::have_ovs_ofctl(TEST) {
        return;
    }
    if let Some(why) = tests::osken_missing() {
        eprintln!("skipping {TEST}: {why}");
        return;
    }
    let port = closed_port();
    let lab = Lab::with_extra(
        &[
            VmSpec::access("vm1", 10, "10.0.7.1/24"),
            VmSpec::access("vm2", 10, "10.0.7.2/24"),
        ],
        &[],
        &format!("controllers = [\"tcp:127.0.0.1:{port}\"]\nfail_mode = \"secure\""),
    );
    let (vm1, vm2) = (lab.vm("vm1"), lab.vm("vm2"));

    // Secure, no controller yet: no flows at all (no default NORMAL flow), nothing forwarded.
    let flows = dump_flows(&lab.sw);
    assert!(
        flow_lines(&flows).is_empty(),
        "no flows before the controller: {flows}"
    );
    assert!(!vm1.ns.ping("10.0.7.2", 2), "no forwarding without flows");

    // The controller comes up; the switch finds it within its backoff (at most 8 s) and the
    // app installs its table-miss flow.
    let mut osken = OsKen::start(port, &lab.sw.dir);
    let miss = eventually(Duration::from_secs(30), || {
        dump_flows(&lab.sw).contains("actions=CONTROLLER:65535")
    });
    assert!(
        miss,
        "table-miss flow never appeared: {}\nos-ken: {}\nswitch: {}",
        dump_flows(&lab.sw),
        osken.log(),
        lab.sw.log()
    );
    assert!(
        vm1.ns.ping_ok("10.0.7.2"),
        "ping through the controller: {}\nos-ken: {}",
        dump_flows(&lab.sw),
        osken.log()
    );
    // The app learned both VMs and installed unicast flows towards them.
    let learned = |dump: &str, mac: [u8; 6]| {
        flow_lines(dump).into_iter().any(|l| {
            l.contains("priority=1")
                && l.contains("in_port=")
                && l.contains(&format!("dl_dst={}", mac_str(mac)))
        })
    };
    let flows = dump_flows(&lab.sw);
    eprintln!("flows installed by os-ken:\n{flows}");
    assert!(
        learned(&flows, vm1.mac) && learned(&flows, vm2.mac),
        "learned flows towards both VMs: {flows}"
    );

    // The controller goes away: in secure mode its flows stay and keep forwarding known
    // traffic, and the bridge does not fail open (a new address, which needs a broadcast ARP
    // through the controller, stays unreachable), even after the standalone grace period.
    osken.stop();
    vm2.ns.ip(&["addr", "add", "10.0.7.22/24", "dev", "eth0"]);
    std::thread::sleep(Duration::from_secs(4));
    let after = dump_flows(&lab.sw);
    assert!(
        learned(&after, vm1.mac) && learned(&after, vm2.mac) && after.contains("CONTROLLER"),
        "flows survive the controller: {after}"
    );
    assert!(
        vm1.ns.ping_ok("10.0.7.2"),
        "known traffic keeps flowing: {after}"
    );
    assert!(!vm1.ns.ping("10.0.7.22", 2), "secure mode never fails open");
}

#[test]
fn standalone_fails_open_without_a_controller_and_redials() {
    const TEST: &str = "standalone_fails_open_without_a_controller_and_redials";
    if !require_root(TEST) {
        return;
    }
    let port = closed_port();
    let lab = Lab::with_extra(
        &[
            VmSpec::access("vm1", 10, "10.0.8.1/24"),
            VmSpec::access("vm2", 10, "10.0.8.2/24"),
        ],
        &["priority=100,actions=drop"],
        &format!("controllers = [\"tcp:127.0.0.1:{port}\"]\nfail_mode = \"standalone\""),
    );
    let vm1 = lab.vm("vm1");
    let started = Instant::now();
    // Within the grace period the table (drop everything) is in charge.
    let early = vm1.ns.ping("10.0.8.2", 1);
    if started.elapsed() < Duration::from_millis(2500) {
        assert!(!early, "dropped before the grace period ends");
    } else {
        eprintln!("(too slow here to check the drop within the 3 s grace period)");
    }
    // No controller for 3 s: fail-open, NORMAL forwarding despite the drop flow.
    assert!(
        eventually(Duration::from_secs(15), || vm1.ns.ping("10.0.8.2", 1)),
        "fail-open forwarding: {}",
        lab.sw.log()
    );

    // A controller appears: the switch dials it within its backoff; once it is admitted the
    // table applies again.
    let l = TcpListener::bind(("127.0.0.1", port)).expect("bind the controller port");
    let mut c = Peer::accept(&l, Duration::from_secs(15)).expect("the switch connects");
    let features = c.handshake();
    assert_eq!(features.n_buffers, 0);
    assert!(
        !vm1.ns.ping("10.0.8.2", 2),
        "the drop flow applies again with a controller"
    );

    // The controller closes: after the grace period the bridge fails open again, and the
    // switch redials within its backoff (at most 8 s).
    let closed = Instant::now();
    drop(c);
    assert!(
        eventually(Duration::from_secs(10), || vm1.ns.ping("10.0.8.2", 1)),
        "fail-open again after the controller left"
    );
    let mut c2 = Peer::accept(&l, Duration::from_secs(15)).expect("the switch redials");
    eprintln!("redialled {:?} after the close", closed.elapsed());
    c2.handshake();
    assert!(
        !vm1.ns.ping("10.0.8.2", 2),
        "back under the table with the new connection"
    );
    let log = lab.sw.log();
    assert!(
        log.contains("entering fail-open") && log.contains("leaving fail-open"),
        "{log}"
    );
}

#[test]
fn switch_dials_its_controller_probes_it_and_redials() {
    // Mock ports only: runs without root.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let mut sw = Switchd::start(&format!(
        "[switch]\npmd_cores = [0]\npool_frames = 256\npmd_sleep_max_us = 1000\n\n\
         [[bridge]]\nname = \"br0\"\ndatapath_id = \"0xd5\"\n\
         controllers = [\"tcp:{addr}\"]\nfail_mode = \"secure\"\n\n\
         [[bridge.port]]\nname = \"p1\"\nkind = \"mock\"\n"
    ));
    let mut c = Peer::accept(&l, Duration::from_secs(10)).expect("the switch dials at start");
    let features = c.handshake();
    assert_eq!(features.datapath_id, 0xd5);
    if tests::have_ovs_ofctl(
        "the dump-flows part of switch_dials_its_controller_probes_it_and_redials",
    ) {
        let flows = dump_flows(&sw);
        assert!(
            flow_lines(&flows).is_empty(),
            "a secure bridge starts without the default flow: {flows}"
        );
    }

    // Silence from the controller: an ECHO_REQUEST after the 5 s inactivity probe interval.
    let quiet = Instant::now();
    loop {
        match c.recv().expect("a probe, not a disconnect") {
            Message::EchoRequest(d) => {
                let t = quiet.elapsed();
                assert!(
                    t >= Duration::from_secs(4) && t < Duration::from_secs(9),
                    "probe after {t:?}"
                );
                c.send(0, &Message::EchoReply(d));
                break;
            }
            other => eprintln!("(ignoring {other:?})"),
        }
    }
    // Answered: the connection stays. Then the controller closes it and is redialled (the
    // connection lived longer than the backoff, so the first retry comes after 1 s).
    c.send(3, &Message::BarrierRequest);
    assert!(matches!(
        c.recv().expect("barrier reply"),
        Message::BarrierReply
    ));
    drop(c);
    let closed = Instant::now();
    let mut c2 = Peer::accept(&l, Duration::from_secs(10)).expect("the switch redials");
    let t = closed.elapsed();
    assert!(t < Duration::from_secs(4), "redial after {t:?}");
    c2.handshake();

    // A controller that stops answering SYNs: the next connect hangs (up to the switch's 5 s
    // connect timeout), and must not hold up the shutdown. The redial comes 2 s after the
    // close (the backoff doubled after the 1 s wait).
    drop(c2);
    drop(l);
    let _hole = black_hole(addr.port());
    std::thread::sleep(Duration::from_millis(3500));
    let t0 = Instant::now();
    assert!(sw.stop(), "clean exit: {}", sw.log());
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        t0.elapsed()
    );
    let log = sw.log();
    assert!(
        log.contains(&format!("controller tcp:{addr}: connected")),
        "{log}"
    );
}

/// A listener on 127.0.0.1:`port` with a full accept queue (backlog 0, one connection queued
/// and never accepted): the kernel drops further SYNs, so connects to it hang like connects to
/// a controller host that is down, without any traffic leaving loopback.
fn black_hole(port: u16) -> (TcpListener, Vec<TcpStream>) {
    use std::os::fd::FromRawFd;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    // SAFETY: socket(2) has no memory preconditions.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
    // SAFETY: `fd` is a fresh socket we own; from here the TcpListener closes it.
    let listener = unsafe { TcpListener::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    // SAFETY: the option value points to a live c_int of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_REUSEADDR: {}", io::Error::last_os_error());
    // SAFETY: sockaddr_in is plain data; all-zero is valid before the fields are set.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = port.to_be();
    sa.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
    // SAFETY: `sa` is a fully initialised sockaddr_in of the length passed.
    let rc = unsafe {
        libc::bind(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "bind {addr}: {}", io::Error::last_os_error());
    // SAFETY: `fd` is a bound stream socket.
    let rc = unsafe { libc::listen(fd, 0) };
    assert_eq!(rc, 0, "listen: {}", io::Error::last_os_error());
    let fillers = (0..3)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(300)).ok())
        .collect();
    (listener, fillers)
}

#[test]
fn bad_controller_target_names_file_line_and_field() {
    let dir = std::env::temp_dir().join(format!("dvs-ctl-cfg-{}", tests::unique_tag()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        "[switch]\npmd_cores = [0]\n\n[[bridge]]\nname = \"br0\"\ncontrollers = [\n  \
         \"tcp:127.0.0.1:6653\",\n  \"tcp:ctl.example:6653\",\n]\n",
    )
    .expect("write");
    let out = Command::new(tests::bin("dvs-switchd"))
        .arg("--check")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run dvs-switchd");
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.toml:8: bridge[0].controllers[1]: bad address \"ctl.example\""),
        "{err}"
    );
}
