//! Rates that hold, on real traffic (issue 17, item 3): meters and weighted select groups on a
//! dvs-switchd with AF_PACKET ports on veths into three namespaces (a sender and two
//! receivers), driven with Debian's `ovs-ofctl -O OpenFlow13`.
//!
//! - a `dscp_remark` band (pktps): AF11 UDP offered at 3x the rate for 10 s; at the receiver,
//!   the frames still AF11 are the rate times the duration (plus the bucket) within 5%, the
//!   rest arrive as AF12, none is lost; at 100 pkt/s (the case) and 1000 pkt/s, at 64
//!   and 1500 bytes;
//! - a `drop` band, pktps at 64 bytes and kbps at 1500 bytes: what is delivered is the rate
//!   times the duration (plus the bucket) within 5%;
//! - the same two meters fed from two ports polled by two PMDs (one aggregate policed through
//!   two PMDs' leases);
//! - a select group with buckets of weights 1 and 3 to two ports, 10,000 UDP flows (source
//!   ports) sent round robin, so every flow carries the same number of frames: each port's
//!   share of packets and of bytes is within 5% of its weight's share, at 64 and 1500 bytes.
//!   Why 10,000 flows: a select group places *flows*, by a hash, so with N equal flows the
//!   share of a bucket of weight share p is binomial, relative standard deviation
//!   sqrt((1-p)/(pN)): 5.5% for the weight-1 bucket with 1000 flows (measured: +7.2%), 1.7%
//!   with 10,000 (measured: -0.5%). No per-flow hash can hold 5% over 1000 flows.
//!
//! Every case also checks the switch's own counters (`meter-stats`, `dump-group-stats`)
//! against what the receivers counted. The sender is paced here (a thread per sending port
//! that sends what is due every 200 us, a few thousand frames per second: what this 2-core
//! machine carries without loss); receivers count on AF_PACKET sockets with large buffers,
//! reading only the headers. The tests run one at a time (a lock) and skip, saying why,
//! without root or `ovs-ofctl`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tests::lab::{config_text, pmd_core, Lab, Mode, Vm, VmSpec};
use tests::{require_root, vm_mac, Netns, Switchd, Veth};

static SERIAL: Mutex<()> = Mutex::new(());

/// How long each case offers traffic.
const SECS: f64 = 10.0;
/// Allowed relative error of every rate and share.
const TOL: f64 = 0.05;
/// UDP destination port of the test frames (receivers count only these).
const DPORT: u16 = 7777;
/// DSCP codepoints: AF11 offered, AF12 after one level of drop precedence.
const AF11: u8 = 10;
const AF12: u8 = 12;
/// A meter's default bucket: 100 ms of its rate (see `datapath/src/meter.rs`).
const BUCKET_SECS: f64 = 0.1;

fn skip(test: &str) -> bool {
    !require_root(test) || !tests::have_ovs_ofctl(test)
}

/// A switch with ports 1 (the sender), 2 and 3 (receivers).
struct Rig {
    lab: Lab,
}

impl Rig {
    fn new() -> Rig {
        Rig {
            lab: Lab::new(&Self::specs(), &[]),
        }
    }

    fn specs() -> [VmSpec; 3] {
        let vm = |name| VmSpec {
            name,
            mode: Mode::None,
            addr: None,
            kind: "afpacket",
        };
        [vm("rtx"), vm("rrx2"), vm("rrx3")]
    }

    /// The rig with two PMDs (cores 0 and 1), ports 1 and 3 polled by different ones.
    fn two_pmds() -> Rig {
        let vms: Vec<Vm> = Self::specs()
            .into_iter()
            .enumerate()
            .map(|(i, spec)| {
                let ns = Netns::new(spec.name);
                let mac = vm_mac(i as u8 + 1);
                let veth = Veth::new(&ns, mac, None);
                Vm {
                    spec,
                    mac,
                    ns,
                    veth,
                }
            })
            .collect();
        let cfg = config_text(&vms, &[], "").replacen(
            &format!("pmd_cores = [{}]", pmd_core()),
            "pmd_cores = [0, 1]",
            1,
        );
        assert!(cfg.contains("pmd_cores = [0, 1]"), "{cfg}");
        let sw = Switchd::start(&cfg);
        for (port, pmd) in [("rtx", 0), ("rrx2", 1), ("rrx3", 1)] {
            sw.call(
                "pmd/rxq-assign",
                serde_json::json!({"port": port, "queue": 0, "pmd": pmd}),
            );
        }
        let show = sw.call("pmd/rxq-show", serde_json::json!({}));
        eprintln!("rx queues: {show}");
        Rig {
            lab: Lab { sw, vms },
        }
    }

    fn ns(&self, ofport: usize) -> &Netns {
        &self.lab.vms[ofport - 1].ns
    }

    /// `ovs-ofctl -O OpenFlow13 <cmd> <bridge> <args>`; panics on failure.
    fn ofctl(&self, cmd: &str, args: &[&str]) -> String {
        let target = format!("unix:{}", self.lab.sw.dir.join("run/br0.mgmt").display());
        let out = Command::new("ovs-ofctl")
            .args(["-O", "OpenFlow13", cmd, &target])
            .args(args)
            .output()
            .expect("run ovs-ofctl");
        assert!(
            out.status.success(),
            "ovs-ofctl {cmd} {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.lab.sw.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Replace every flow with one sending port 1's traffic through `actions`.
    fn only_flow(&self, actions: &str) {
        self.ofctl("del-flows", &[]);
        self.ofctl(
            "add-flow",
            &[&format!("priority=100,in_port=1,actions={actions}")],
        );
    }
}

/// What one receiver counted: test frames by DSCP, and their bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    af11: u64,
    af12: u64,
    other: u64,
    bytes: u64,
}

impl Counts {
    fn packets(&self) -> u64 {
        self.af11 + self.af12 + self.other
    }
}

/// An AF_PACKET socket bound to `ifname` in the calling thread's namespace, with a receive
/// buffer large enough for a second of traffic.
fn packet_socket(ifname: &str) -> std::io::Result<OwnedFd> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2) call.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, libc::c_int::from(proto)) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let set = |level: libc::c_int, opt: libc::c_int, v: libc::c_int| {
        // SAFETY: setting an int option on our socket, passing its size.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                level,
                opt,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        }
    };
    // PACKET_IGNORE_OUTGOING: a receiver counts what arrives, a sender hears nothing back.
    set(libc::SOL_PACKET, 23, 1);
    set(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 64 << 20);
    let name = CString::new(ifname).map_err(std::io::Error::other)?;
    // SAFETY: a valid NUL-terminated name.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: sockaddr_ll is plain data.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: binding our socket to a valid sockaddr_ll of the size passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

/// Move the calling thread into namespace `name` (threads spawned for one namespace only).
fn enter(name: &str) {
    let f = std::fs::File::open(format!("/var/run/netns/{name}")).expect("netns file");
    // SAFETY: setns on a valid namespace fd changes only this thread's namespace.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {name}: {}", std::io::Error::last_os_error());
}

/// A thread counting test frames on `eth0` of a namespace until stopped.
struct Receiver {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Counts>,
}

impl Receiver {
    /// Start counting; returns once the socket is bound.
    fn start(ns: &Netns) -> Receiver {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (name, flag) = (ns.name.clone(), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            enter(&name);
            let fd = packet_socket("eth0").expect("receiver socket");
            let _ = ready_tx.send(());
            count_until(&fd, &flag)
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("receiver ready");
        Receiver { stop, thread }
    }

    fn finish(self) -> Counts {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("receiver thread")
    }
}

/// Count our frames (IPv4 UDP to [`DPORT`]) arriving on `fd` until `stop` is set.
fn count_until(fd: &OwnedFd, stop: &AtomicBool) -> Counts {
    let mut c = Counts::default();
    let mut buf = [0u8; 64];
    while !stop.load(Ordering::Relaxed) {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 50) } <= 0 {
            continue;
        }
        loop {
            // SAFETY: a bound packet socket and a buffer valid for its length; MSG_TRUNC makes
            // the call return the frame's real length while copying only the headers.
            let n = unsafe {
                libc::recv(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                break;
            }
            let f = &buf[..(n as usize).min(buf.len())];
            if f.len() < 42
                || f[12..14] != [0x08, 0x00]
                || f[23] != 17
                || f[36..38] != DPORT.to_be_bytes()
            {
                continue;
            }
            match f[15] >> 2 {
                AF11 => c.af11 += 1,
                AF12 => c.af12 += 1,
                _ => c.other += 1,
            }
            c.bytes += n as u64;
        }
    }
    c
}

/// The one's-complement Internet checksum of `b` (even length).
fn inet_csum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An IPv4 UDP frame of `len` bytes (no FCS) from source port `sport` to [`DPORT`] with DSCP
/// `dscp`; the UDP checksum is left zero (allowed over IPv4).
fn udp_frame(len: usize, sport: u16, dscp: u8) -> Vec<u8> {
    assert!((42..=1514).contains(&len));
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&[0x02, 0xd5, 0, 0, 0, 0x02]);
    f.extend_from_slice(&[0x02, 0xd5, 0, 0, 0, 0x01]);
    f.extend_from_slice(&[0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    f.extend_from_slice(&[0x45, dscp << 2]);
    f.extend_from_slice(&ip_len.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[10, 66, 0, 1, 10, 66, 0, 2]);
    let c = inet_csum(&f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&DPORT.to_be_bytes());
    f.extend_from_slice(&(ip_len - 20).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.resize(len, 0xa5);
    f
}

/// What the sender did.
#[derive(Clone, Copy, Debug)]
struct Sent {
    frames: u64,
    /// From the first frame to the last.
    secs: f64,
}

/// Send `frames` round robin from `eth0` of namespace `ns` at `pps` frames per second for
/// [`SECS`]: every 200 us, whatever is due by then. Runs on (and moves) the calling thread.
fn send_paced(ns: &str, frames: &[Vec<u8>], pps: f64) -> Sent {
    enter(ns);
    let fd = packet_socket("eth0").expect("sender socket");
    let total = (pps * SECS) as u64;
    let t0 = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let due = ((t0.elapsed().as_secs_f64() * pps) as u64 + 1).min(total);
        while sent < due {
            let f = &frames[(sent % frames.len() as u64) as usize];
            // SAFETY: a bound packet socket; the buffer is valid for its length.
            let n = unsafe { libc::send(fd.as_raw_fd(), f.as_ptr().cast(), f.len(), 0) };
            if n == f.len() as isize {
                sent += 1;
            } else {
                // A full socket buffer: try again shortly.
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Sent {
        frames: sent,
        secs: t0.elapsed().as_secs_f64(),
    }
}

/// Offer `frames` at `pps` from each port of `from` at once (a thread each) and count what
/// ports 2 and 3 receive; returns what each sender did.
fn run_from(r: &Rig, from: &[usize], frames: &[Vec<u8>], pps: f64) -> (Vec<Sent>, Counts, Counts) {
    let (a, b) = (Receiver::start(r.ns(2)), Receiver::start(r.ns(3)));
    let sent = std::thread::scope(|s| {
        let senders: Vec<_> = from
            .iter()
            .map(|&p| {
                let ns = r.ns(p).name.clone();
                s.spawn(move || send_paced(&ns, frames, pps))
            })
            .collect();
        senders
            .into_iter()
            .map(|t| t.join().expect("sender thread"))
            .collect()
    });
    // The last bursts cross the switch within microseconds; be generous.
    std::thread::sleep(Duration::from_millis(500));
    (sent, a.finish(), b.finish())
}

/// Offer `frames` at `pps` from port 1 and count what ports 2 and 3 receive.
fn run(r: &Rig, frames: &[Vec<u8>], pps: f64) -> (Sent, Counts, Counts) {
    let (sent, a, b) = run_from(r, &[1], frames, pps);
    (sent[0], a, b)
}

/// The number after `name` and `sep` in `line` (0 when absent).
fn num(line: &str, name: &str, sep: char) -> u64 {
    line.split([' ', ',', '\n'])
        .find_map(|w| w.trim().strip_prefix(name)?.strip_prefix(sep))
        .and_then(|v| v.trim_end_matches('s').parse().ok())
        .unwrap_or(0)
}

/// A meter's (packets in, band 0 packets) from `meter-stats`.
fn meter_stats(r: &Rig, id: u32) -> (u64, u64) {
    let out = r.ofctl("meter-stats", &[&format!("meter={id}")]);
    let band = out
        .lines()
        .find(|l| l.trim_start().starts_with("0:"))
        .unwrap_or_else(|| panic!("no band 0 in {out}"));
    (
        num(&out, "packet_in_count", ':'),
        num(band, "packet_count", ':'),
    )
}

/// Relative error of `got` against `want`, in percent.
fn err_pct(got: f64, want: f64) -> f64 {
    (got - want) / want * 100.0
}

/// One meter case: `band` (an ovs-ofctl band spec) on meter `id` in `unit` mode, frames of
/// `len` bytes offered at `pps`; returns what was sent, what port 2 counted and the meter's
/// (packets in, band packets).
fn meter_case(
    r: &Rig,
    id: u32,
    unit: &str,
    band: &str,
    len: usize,
    pps: f64,
) -> (Sent, Counts, (u64, u64)) {
    r.ofctl(
        "add-meter",
        &[&format!("meter={id},{unit},stats,band={band}")],
    );
    r.only_flow(&format!("meter:{id},output:2"));
    let frames = [udp_frame(len, 40000, AF11)];
    let (sent, c2, c3) = run(r, &frames, pps);
    assert_eq!(c3.packets(), 0, "nothing to port 3: {c3:?}");
    (sent, c2, meter_stats(r, id))
}

/// Assert `got` is within [`TOL`] of `want`, printing both.
fn check(what: &str, got: f64, want: f64) {
    let e = err_pct(got, want);
    eprintln!("{what}: {got:.0} against {want:.0} ({e:+.2}%)");
    assert!(
        e.abs() <= TOL * 100.0,
        "{what}: {got:.0} is {e:+.2}% off {want:.0}"
    );
}

#[test]
fn dscp_remark_band_passes_its_rate_unremarked_at_64_and_1500_bytes() {
    let test = "dscp_remark_band_passes_its_rate_unremarked_at_64_and_1500_bytes";
    if skip(test) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Rig::new();
    // The rate the issue measured (100 pkt/s), then the task's (1000 pkt/s) at both sizes.
    for (id, rate, len) in [(1u32, 100.0, 64usize), (2, 1000.0, 64), (3, 1000.0, 1500)] {
        let band = format!("type=dscp_remark,rate={rate},prec_level=1");
        let (sent, c, (m_in, m_band)) = meter_case(&r, id, "pktps", &band, len, 3.0 * rate);
        eprintln!("remark {rate} pkt/s {len} B: sent {sent:?}, received {c:?}, meter in {m_in} band {m_band}");
        let want = rate * (sent.secs + BUCKET_SECS);
        check(
            &format!("remark {rate} pkt/s {len} B: AF11 frames"),
            c.af11 as f64,
            want,
        );
        check(
            &format!("remark {rate} pkt/s {len} B: AF11 rate (pkt/s, bucket excluded)"),
            (c.af11 as f64 - rate * BUCKET_SECS) / sent.secs,
            rate,
        );
        assert_eq!(c.other, 0, "only AF11 and AF12 arrive: {c:?}");
        assert_eq!(c.packets(), sent.frames, "a remark band loses nothing");
        assert_eq!(c.bytes, sent.frames * len as u64);
        assert_eq!(m_in, sent.frames, "meter-stats counts every frame in");
        assert_eq!(m_band, c.af12, "the band counts the frames it remarked");
    }
}

#[test]
fn drop_band_delivers_its_rate_pktps_at_64_and_kbps_at_1500_bytes() {
    let test = "drop_band_delivers_its_rate_pktps_at_64_and_kbps_at_1500_bytes";
    if skip(test) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Rig::new();
    // 1000 pkt/s of 64-byte frames; 12 Mbit/s = 1000 pkt/s of 1500-byte frames.
    let pps = 1000.0;
    let kbps = 12_000.0;
    let (sent, c, (m_in, m_band)) = meter_case(
        &r,
        1,
        "pktps",
        &format!("type=drop,rate={pps}"),
        64,
        3.0 * pps,
    );
    eprintln!("drop pktps 64 B: sent {sent:?}, received {c:?}, meter in {m_in} band {m_band}");
    check(
        "drop pktps 64 B: delivered frames",
        c.af11 as f64,
        pps * (sent.secs + BUCKET_SECS),
    );
    check(
        "drop pktps 64 B: delivered rate (pkt/s, bucket excluded)",
        (c.af11 as f64 - pps * BUCKET_SECS) / sent.secs,
        pps,
    );
    assert_eq!(c.packets(), c.af11, "{c:?}");
    assert_eq!(m_in, sent.frames);
    assert_eq!(
        m_band + c.af11,
        sent.frames,
        "every frame passed or was dropped"
    );

    let len = 1500usize;
    let (sent, c, (m_in, m_band)) = meter_case(
        &r,
        2,
        "kbps",
        &format!("type=drop,rate={kbps}"),
        len,
        3.0 * kbps * 1000.0 / (len as f64 * 8.0),
    );
    eprintln!("drop kbps 1500 B: sent {sent:?}, received {c:?}, meter in {m_in} band {m_band}");
    let bits = (c.bytes * 8) as f64;
    check(
        "drop kbps 1500 B: delivered kbit",
        bits / 1000.0,
        kbps * (sent.secs + BUCKET_SECS),
    );
    check(
        "drop kbps 1500 B: delivered rate (kbit/s, bucket excluded)",
        (bits / 1000.0 - kbps * BUCKET_SECS) / sent.secs,
        kbps,
    );
    assert_eq!(c.bytes, c.packets() * len as u64);
    assert_eq!(m_in, sent.frames);
    assert_eq!(
        m_band + c.packets(),
        sent.frames,
        "every frame passed or was dropped"
    );
}

/// The `bucketN:` (packets, bytes) of a `dump-group-stats` line.
fn bucket_stats(line: &str, n: usize) -> (u64, u64) {
    let tag = format!("bucket{n}:");
    let rest = line
        .split_once(&tag)
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("no {tag} in {line}"));
    (num(rest, "packet_count", '='), num(rest, "byte_count", '='))
}

#[test]
fn select_group_splits_many_flows_by_weight_at_64_and_1500_bytes() {
    let test = "select_group_splits_many_flows_by_weight_at_64_and_1500_bytes";
    if skip(test) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Rig::new();
    let flows = 10_000u16;
    let pps = 3000.0;
    for (id, len) in [(1u32, 64usize), (2, 1500)] {
        r.ofctl(
            "add-group",
            &[&format!(
                "group_id={id},type=select,bucket=weight:1,output:2,bucket=weight:3,output:3"
            )],
        );
        r.only_flow(&format!("group:{id}"));
        let frames: Vec<Vec<u8>> = (0..flows)
            .map(|i| udp_frame(len, 20000 + i, AF11))
            .collect();
        let (sent, c2, c3) = run(&r, &frames, pps);
        let out = r.ofctl("dump-group-stats", &[&format!("group_id={id}")]);
        let line = out
            .lines()
            .find(|l| l.contains(&format!("group_id={id},")))
            .unwrap_or_else(|| panic!("no stats for group {id}: {out}"));
        eprintln!("select {len} B: sent {sent:?}, port 2 {c2:?}, port 3 {c3:?}\n{line}");
        let (p, b) = (c2.packets() + c3.packets(), c2.bytes + c3.bytes);
        assert_eq!(p, sent.frames, "a select group loses nothing");
        for (port, c, share) in [(2, c2, 0.25), (3, c3, 0.75)] {
            check(
                &format!("select {len} B: port {port} packet share (per mille)"),
                c.packets() as f64 / p as f64 * 1000.0,
                share * 1000.0,
            );
            check(
                &format!("select {len} B: port {port} byte share (per mille)"),
                c.bytes as f64 / b as f64 * 1000.0,
                share * 1000.0,
            );
        }
        assert_eq!(bucket_stats(line, 0), (c2.packets(), c2.bytes), "{line}");
        assert_eq!(bucket_stats(line, 1), (c3.packets(), c3.bytes), "{line}");
        r.ofctl("del-flows", &[]);
    }
}

#[test]
fn meter_shared_by_two_pmds_holds_its_rate() {
    let test = "meter_shared_by_two_pmds_holds_its_rate";
    if skip(test) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = Rig::two_pmds();
    // Ports 1 and 3 (polled by PMDs 0 and 1) both send through meter `id` to port 2, each at
    // half of 3x the rate: the PMDs police one aggregate with their own leases.
    let police = |id: u32, unit: &str, band: &str, len: usize, pps_each: f64| {
        r.ofctl(
            "add-meter",
            &[&format!("meter={id},{unit},stats,band={band}")],
        );
        r.ofctl("del-flows", &[]);
        for port in [1, 3] {
            r.ofctl(
                "add-flow",
                &[&format!(
                    "priority=100,in_port={port},actions=meter:{id},output:2"
                )],
            );
        }
        let frames = [udp_frame(len, 40000, AF11)];
        let (sent, c2, _) = run_from(&r, &[1, 3], &frames, pps_each);
        let offered: u64 = sent.iter().map(|s| s.frames).sum();
        let secs = sent.iter().map(|s| s.secs).fold(0.0, f64::max);
        let (m_in, m_band) = meter_stats(&r, id);
        eprintln!(
            "two pmds, {band} {unit} {len} B: sent {sent:?}, received {c2:?}, \
             meter in {m_in} band {m_band}"
        );
        assert_eq!(m_in, offered, "meter-stats counts every frame in");
        (offered, secs, c2, m_band)
    };

    let rate = 1000.0;
    let band = format!("type=dscp_remark,rate={rate},prec_level=1");
    let (offered, secs, c, m_band) = police(1, "pktps", &band, 64, 1.5 * rate);
    check(
        "two pmds, remark 1000 pkt/s 64 B: AF11 frames",
        c.af11 as f64,
        rate * (secs + BUCKET_SECS),
    );
    assert_eq!(c.packets(), offered, "a remark band loses nothing: {c:?}");
    assert_eq!((c.other, m_band), (0, c.af12));

    let kbps = 12_000.0;
    let len = 1500usize;
    let pps_each = 1.5 * kbps * 1000.0 / (len as f64 * 8.0);
    let band = format!("type=drop,rate={kbps}");
    let (offered, secs, c, m_band) = police(2, "kbps", &band, len, pps_each);
    check(
        "two pmds, drop 12000 kbps 1500 B: delivered kbit",
        (c.bytes * 8) as f64 / 1000.0,
        kbps * (secs + BUCKET_SECS),
    );
    assert_eq!(
        m_band + c.packets(),
        offered,
        "every frame passed or was dropped"
    );
}
