//! AF_XDP port against a real veth pair whose peer end lives in a network namespace created for
//! the test. The namespace side is played by plain AF_PACKET sockets (created inside the
//! namespace by a thread that `setns`es into it), so every frame crosses the veth for real.
//! Needs root; without it each test prints why it is skipped. The namespace and the veth pair
//! are removed by guards, also when an assertion fails.

use datapath::mempool::{Batch, PacketPool, STD_FRAME};
use datapath::port::afxdp::{AfXdpError, AfXdpOptions, AfXdpPort, XdpMode};
use datapath::port::Port;
use std::fs::File;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const ETHERTYPE: [u8; 2] = [0x88, 0xb5];

fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    eprintln!("skipping {test}: needs root (netns, veth, XDP)");
    false
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{:06x}{n:02x}", std::process::id() & 0xff_ffff)
}

/// A network namespace, deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        let name = unique("dvxn");
        run("ip", &["netns", "add", &name]);
        Netns { name }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A veth pair: `a` here, `b` moved into the namespace; both up, IPv6 off. Deleted on drop.
struct Veth {
    a: String,
    b: String,
}

impl Veth {
    fn new(ns: &Netns) -> Veth {
        let base = unique("dvx");
        let v = Veth {
            a: format!("{base}a"),
            b: format!("{base}b"),
        };
        // One queue per end: AF_XDP binds one queue, and a multi-queue veth would spread the
        // peer's frames over receive queues by the sender's transmit queue.
        let one_q = ["numtxqueues", "1", "numrxqueues", "1"];
        let mut args = vec!["link", "add", v.a.as_str()];
        args.extend(one_q);
        args.extend(["type", "veth", "peer", "name", v.b.as_str()]);
        args.extend(one_q);
        run("ip", &args);
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", v.a), "1");
        run("ip", &["link", "set", &v.b, "netns", &ns.name]);
        run(
            "ip",
            &[
                "netns",
                "exec",
                &ns.name,
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{}.disable_ipv6=1", v.b),
            ],
        );
        run("ip", &["-n", &ns.name, "link", "set", &v.b, "up"]);
        run("ip", &["link", "set", &v.a, "up"]);
        v
    }

    /// `ip -d link show` of the local end.
    fn details(&self) -> String {
        let out = Command::new("ip")
            .args(["-d", "link", "show", "dev", &self.a])
            .output()
            .expect("ip link show");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.a]).output();
    }
}

/// An AF_PACKET socket bound to `ifname` inside namespace `ns`.
struct NsSocket {
    fd: OwnedFd,
}

impl NsSocket {
    fn open(ns: &Netns, ifname: &str) -> NsSocket {
        let path = format!("/run/netns/{}", ns.name);
        let ifname = ifname.to_owned();
        let fd = std::thread::spawn(move || {
            let nsf = File::open(&path).expect("open netns");
            // SAFETY: valid namespace descriptor; only this short-lived thread switches.
            let rc = unsafe { libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let proto = (libc::ETH_P_ALL as u16).to_be();
            // SAFETY: plain socket creation; the result is checked.
            let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
            assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
            // SAFETY: fresh descriptor owned by nobody else.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let cname = std::ffi::CString::new(ifname).expect("name");
            // SAFETY: NUL-terminated name.
            let idx = unsafe { libc::if_nametoindex(cname.as_ptr()) };
            assert_ne!(idx, 0, "no such interface in the namespace");
            let one = 1i32;
            // SAFETY: valid option value of the stated size.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_IGNORE_OUTGOING,
                    (&one as *const i32).cast(),
                    size_of::<i32>() as u32,
                )
            };
            // SAFETY: sockaddr_ll is plain data.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = idx as i32;
            // SAFETY: valid sockaddr_ll of the stated size.
            let rc = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&sll as *const libc::sockaddr_ll).cast(),
                    size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
            fd
        })
        .join()
        .expect("netns thread");
        NsSocket { fd }
    }

    fn send(&self, frame: &[u8]) {
        // SAFETY: valid buffer of the given length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(
            n,
            frame.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Frames with our test ethertype (untagged) arriving within `timeout`, up to `max`.
    fn recv(&self, max: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let end = Instant::now() + timeout;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        while got.len() < max {
            let left = end.saturating_duration_since(Instant::now());
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) } <= 0 {
                break;
            }
            // SAFETY: `buf` is writable for its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n >= 14 && buf[12..14] == ETHERTYPE {
                got.push(buf[..n as usize].to_vec());
            }
        }
        got
    }
}

/// A frame with optional 802.1Q tag, our ethertype and a `len`-byte payload derived from `seed`.
fn frame(seed: u8, vlan: Option<u16>, len: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x99, 0x02, 0, 0, 0, 0x11, seed];
    if let Some(vid) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&vid.to_be_bytes());
    }
    f.extend_from_slice(&ETHERTYPE);
    f.extend((0..len).map(|i| seed.wrapping_add(i as u8)));
    f
}

fn report(test: &str, port: &AfXdpPort) {
    println!(
        "{test}: AF_XDP on {} queue {}: {} XDP, {} mode",
        port.ifname(),
        port.queue(),
        port.xdp_mode(),
        if port.zero_copy() {
            "zero-copy"
        } else {
            "copy"
        }
    );
}

/// Poll `port` until `n` of our frames arrived or `timeout` passed.
fn rx_until(port: &AfXdpPort, pool: &mut PacketPool, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
    let end = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut batch = Batch::new();
    while got.len() < n && Instant::now() < end {
        if port.rx_burst(0, pool, &mut batch) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        for p in batch.drain() {
            let d = p.data();
            // Keep ours (tagged or not); ignore anything the kernel may emit on its own.
            let ours = d.len() >= 14
                && (d[12..14] == ETHERTYPE || (d[12..14] == [0x81, 0] && d[16..18] == ETHERTYPE));
            if ours {
                got.push(d.to_vec());
            }
            pool.free(p);
        }
    }
    got
}

fn small_opts(mode: XdpMode) -> AfXdpOptions {
    AfXdpOptions {
        mode,
        n_frames: 64,
        rx_ring: 32,
        tx_ring: 32,
        ..AfXdpOptions::default()
    }
}

fn rx_case(test: &str, mode: XdpMode, zero_copy: Option<bool>) {
    let ns = Netns::new();
    let veth = Veth::new(&ns);
    let peer = NsSocket::open(&ns, &veth.b);
    let opts = AfXdpOptions {
        zero_copy,
        ..small_opts(mode)
    };
    let port = AfXdpPort::open("x0", &veth.a, opts).expect("open AF_XDP port");
    report(test, &port);
    if mode != XdpMode::Auto {
        assert_eq!(port.xdp_mode(), mode);
    }
    assert!(
        veth.details().contains("prog/xdp"),
        "an XDP program is attached: {}",
        veth.details()
    );
    assert!(port.link_up());

    // Untagged frames of many sizes, then 802.1Q-tagged ones: XDP sees the raw frame, so the
    // tag must still be in the data (AF_PACKET would have stripped it into metadata).
    let mut sent: Vec<Vec<u8>> = (0..24u8)
        .map(|i| frame(i, None, 46 + usize::from(i) * 61))
        .collect();
    sent.extend((0..8u8).map(|i| frame(100 + i, Some(100 + u16::from(i)), 50 + usize::from(i))));
    let mut pool = PacketPool::new(256, STD_FRAME).expect("pool");
    for f in &sent {
        peer.send(f);
    }
    let got = rx_until(&port, &mut pool, sent.len(), Duration::from_secs(3));
    assert_eq!(got.len(), sent.len(), "every frame received");
    for (g, s) in got.iter().zip(&sent) {
        assert_eq!(g, s, "byte-exact");
    }
    let tagged = got.iter().filter(|f| f[12..14] == [0x81, 0x00]).count();
    assert_eq!(tagged, 8, "VLAN tags are still in the frame under XDP");
    let st = port.counters().snapshot();
    assert!(st.rx_packets >= sent.len() as u64);
    assert_eq!(st.rx_errors, 0);
    assert_eq!(pool.available(), 256, "no packet leaked");

    drop(port);
    assert!(
        !veth.details().contains("prog/xdp"),
        "the XDP program is detached on drop: {}",
        veth.details()
    );
}

#[test]
fn rx_auto_mode_byte_exact_with_vlan_tags() {
    if require_root("rx_auto_mode_byte_exact_with_vlan_tags") {
        rx_case("auto", XdpMode::Auto, None);
    }
}

#[test]
fn rx_generic_copy_mode() {
    if require_root("rx_generic_copy_mode") {
        rx_case("generic", XdpMode::Generic, Some(false));
    }
}

#[test]
fn rx_native_mode() {
    if require_root("rx_native_mode") {
        rx_case("native", XdpMode::Native, None);
    }
}

#[test]
fn kernel_rx_drops_are_folded_into_counters() {
    if !require_root("kernel_rx_drops_are_folded_into_counters") {
        return;
    }
    let ns = Netns::new();
    let veth = Veth::new(&ns);
    let peer = NsSocket::open(&ns, &veth.b);
    // 32 receive frames: a 64-frame burst sent before any poll cannot all fit.
    let port = AfXdpPort::open("x5", &veth.a, small_opts(XdpMode::Auto)).expect("open");
    let offered = 64usize;
    for i in 0..offered {
        peer.send(&frame(i as u8, None, 60));
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut pool = PacketPool::new(128, STD_FRAME).expect("pool");
    let got = rx_until(&port, &mut pool, offered, Duration::from_millis(500));
    port.refresh_stats();
    port.refresh_stats(); // idempotent: counters are cumulative, only deltas are added
    let st = port.counters().snapshot();
    let ks = port.socket_stats().expect("XDP_STATISTICS");
    println!("rx-drops: received {}, kernel {ks:?}", got.len());
    assert_eq!(
        got.len(),
        32,
        "exactly the receive frames' worth got through"
    );
    assert_eq!(st.rx_packets + st.rx_dropped, offered as u64, "{st:?}");
}

#[test]
fn tx_frames_arrive_and_umem_frames_recycle() {
    if !require_root("tx_frames_arrive_and_umem_frames_recycle") {
        return;
    }
    let ns = Netns::new();
    let veth = Veth::new(&ns);
    let peer = NsSocket::open(&ns, &veth.b);
    // 32 transmit frames; 4 bursts of 16 only get through if completions are reaped.
    let port = AfXdpPort::open("x1", &veth.a, small_opts(XdpMode::Auto)).expect("open");
    report("tx", &port);
    let mut pool = PacketPool::new(64, STD_FRAME).expect("pool");
    let mut batch = Batch::new();
    for round in 0..4u8 {
        let frames: Vec<Vec<u8>> = (0..16u8)
            .map(|i| frame(round * 16 + i, None, 46 + usize::from(i) * 90))
            .collect();
        for f in &frames {
            batch
                .push(pool.alloc_from(f).expect("alloc"))
                .expect("room");
        }
        port.tx_burst(0, &mut pool, &mut batch);
        assert!(batch.is_empty());
        let got = peer.recv(frames.len(), Duration::from_secs(2));
        assert_eq!(
            got, frames,
            "round {round}: frames arrive byte-exact and in order"
        );
    }
    let st = port.counters().snapshot();
    assert_eq!(st.tx_packets, 64);
    assert_eq!(st.tx_dropped, 0);
    assert_eq!(st.tx_errors, 0);
    assert_eq!(pool.available(), 64, "every packet returned to the pool");
}

#[test]
fn tx_burst_larger_than_ring_is_accounted() {
    if !require_root("tx_burst_larger_than_ring_is_accounted") {
        return;
    }
    let ns = Netns::new();
    let veth = Veth::new(&ns);
    let peer = NsSocket::open(&ns, &veth.b);
    let opts = AfXdpOptions {
        tx_ring: 8,
        ..small_opts(XdpMode::Auto)
    };
    let port = AfXdpPort::open("x2", &veth.a, opts).expect("open");
    report("tx-overflow", &port);
    let mut pool = PacketPool::new(64, STD_FRAME).expect("pool");
    let mut batch = Batch::new();
    let offered = 32u64;
    for i in 0..offered as u8 {
        batch
            .push(pool.alloc_from(&frame(i, None, 100)).expect("alloc"))
            .expect("room");
    }
    port.tx_burst(0, &mut pool, &mut batch);
    let st = port.counters().snapshot();
    println!(
        "tx-overflow: offered {offered}, sent {}, dropped {}",
        st.tx_packets, st.tx_dropped
    );
    assert_eq!(st.tx_packets + st.tx_dropped, offered);
    assert!(
        st.tx_packets >= 1 && st.tx_packets <= 8,
        "at most one ring of 8 fits"
    );
    let got = peer.recv(offered as usize, Duration::from_millis(500));
    assert_eq!(
        got.len() as u64,
        st.tx_packets,
        "exactly the accepted frames arrive"
    );
    for (k, g) in got.iter().enumerate() {
        assert_eq!(
            g,
            &frame(k as u8, None, 100),
            "the first frames of the burst went out"
        );
    }
    assert_eq!(pool.available(), 64);
}

#[test]
fn tx_to_down_link_is_dropped() {
    if !require_root("tx_to_down_link_is_dropped") {
        return;
    }
    let ns = Netns::new();
    let veth = Veth::new(&ns);
    let port = AfXdpPort::open("x3", &veth.a, small_opts(XdpMode::Generic)).expect("open");
    run("ip", &["link", "set", &veth.a, "down"]);
    let end = Instant::now() + Duration::from_secs(1);
    while port.link_up() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !port.link_up(),
        "link-down noticed within the cache interval"
    );
    let mut pool = PacketPool::new(8, STD_FRAME).expect("pool");
    let mut batch = Batch::new();
    for i in 0..4 {
        batch
            .push(pool.alloc_from(&frame(i, None, 60)).expect("alloc"))
            .expect("room");
    }
    port.tx_burst(0, &mut pool, &mut batch);
    let st = port.counters().snapshot();
    assert_eq!((st.tx_packets, st.tx_dropped), (0, 4));
    assert_eq!(pool.available(), 8);
}

#[test]
fn forced_zero_copy_on_veth_fails_cleanly_or_is_real() {
    if !require_root("forced_zero_copy_on_veth_fails_cleanly_or_is_real") {
        return;
    }
    let ns = Netns::new();
    let veth = Veth::new(&ns);
    let opts = AfXdpOptions {
        zero_copy: Some(true),
        ..small_opts(XdpMode::Auto)
    };
    match AfXdpPort::open("x4", &veth.a, opts) {
        Ok(p) => {
            report("forced-zc", &p);
            assert!(p.zero_copy());
        }
        Err(e) => {
            println!("forced-zc: {e}");
            assert!(
                matches!(
                    e,
                    AfXdpError::SocketCreate {
                        zero_copy: true,
                        ..
                    }
                ),
                "{e}"
            );
            assert!(
                !veth.details().contains("prog/xdp"),
                "nothing left attached"
            );
        }
    }
}

#[test]
fn bad_options_are_rejected() {
    let bad = [
        AfXdpOptions {
            frame_size: 3000,
            ..AfXdpOptions::default()
        },
        AfXdpOptions {
            rx_ring: 100,
            ..AfXdpOptions::default()
        },
        AfXdpOptions {
            n_frames: 1,
            ..AfXdpOptions::default()
        },
    ];
    for o in bad {
        assert!(matches!(
            AfXdpPort::open("x", "lo", o),
            Err(AfXdpError::Options(_))
        ));
    }
    assert!(matches!(
        AfXdpPort::open("x", "", AfXdpOptions::default()),
        Err(AfXdpError::InvalidName(_))
    ));
}
