//! DPDK port tests. EAL can be initialised once per process, so every DPDK test lives in this one
//! binary, shares one EAL (`--no-pci --in-memory`, hugepages if 128 are free, else `--no-huge`)
//! and runs serialised behind a mutex. Tests skip with a printed reason when not root.

use datapath::mempool::{Batch, PacketPool, JUMBO_FRAME, STD_FRAME};
use datapath::port::dpdk::{self, DpdkOptions, DpdkPort};
use datapath::port::Port;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

const ETHERTYPE: u16 = 0x88b5;

static SERIAL: Mutex<()> = Mutex::new(());

/// Serialise, check root, initialise EAL once; `None` (with a printed reason) to skip.
fn setup(test: &str) -> Option<MutexGuard<'static, ()>> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping {test}: DPDK tests need root");
        return None;
    }
    static EAL: OnceLock<Result<(), String>> = OnceLock::new();
    let r = EAL.get_or_init(|| {
        let mut args: Vec<String> = [
            "--no-pci",
            "--in-memory",
            "-l",
            "0",
            "--no-telemetry",
            "--log-level=lib.eal:warning",
            "--vdev=net_null0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if dpdk::hugepages_available(160) {
            args.extend(["-m".into(), "256".into()]);
        } else {
            eprintln!("no free hugepages: EAL runs with --no-huge");
            args.extend(["--no-huge".into(), "-m".into(), "256".into()]);
        }
        dpdk::init_eal(&args).map_err(|e| e.to_string())
    });
    match r {
        Ok(()) => Some(guard),
        Err(e) => panic!("EAL init failed: {e}"),
    }
}

fn opts() -> DpdkOptions {
    DpdkOptions {
        rxq: 1,
        txq: 1,
        ring_size: 256,
        mbufs: 2048,
        mtu: 1500,
    }
}

/// A test frame: broadcast dst, fixed src, our ethertype, `seq` and a pattern to `len` bytes.
fn frame(seq: u8, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0xd0, 0xd0, seq]);
    f[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
    for (i, b) in f[14..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(seq);
    }
    f
}

fn is_ours(f: &[u8]) -> bool {
    f.len() >= 14 && f[12..14] == ETHERTYPE.to_be_bytes()
}

/// Poll `port` until `n` of our frames arrived or `timeout` passed; returns them in order.
fn rx_ours(port: &DpdkPort, pool: &mut PacketPool, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut b = Batch::new();
    let end = Instant::now() + timeout;
    while out.len() < n && Instant::now() < end {
        if port.rx_burst(0, pool, &mut b) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        for p in b.drain() {
            if is_ours(p.data()) {
                out.push(p.data().to_vec());
            }
            pool.free(p);
        }
    }
    out
}

fn batch_of(pool: &mut PacketPool, frames: &[Vec<u8>]) -> Batch {
    let mut b = Batch::new();
    for f in frames {
        let p = pool.alloc_from(f).expect("pool frame");
        b.push(p).expect("batch room");
    }
    b
}

#[test]
fn ring_loopback_is_byte_exact_and_counted() {
    let Some(_g) = setup("ring_loopback_is_byte_exact_and_counted") else {
        return;
    };
    // net_ring with no arguments transmits into the ring it receives from.
    let port = DpdkPort::open("r0", "net_ring0", opts()).expect("open net_ring0");
    assert_eq!(port.kind(), "dpdk");
    assert!(port.link_up());
    let mut pool = PacketPool::new(256, STD_FRAME).expect("pool");
    let free_before = pool.available();
    let mbufs_before = port.mbufs_available();

    let frames: Vec<Vec<u8>> = (0..32u8)
        .map(|i| frame(i, 60 + usize::from(i) * 45))
        .collect();
    let total: u64 = frames.iter().map(|f| f.len() as u64).sum();
    let mut b = batch_of(&mut pool, &frames);
    // txq 7 folds onto the port's only queue.
    port.tx_burst(7, &mut pool, &mut b);
    assert!(b.is_empty());
    assert_eq!(pool.available(), free_before);
    let got = rx_ours(&port, &mut pool, 32, Duration::from_secs(2));
    assert_eq!(got, frames);
    let s = port.counters().snapshot();
    assert_eq!((s.tx_packets, s.tx_bytes), (32, total));
    assert_eq!((s.rx_packets, s.rx_bytes), (32, total));
    assert_eq!((s.tx_dropped, s.tx_errors, s.rx_errors), (0, 0, 0));
    assert_eq!(pool.available(), free_before, "pool frames leaked");
    assert_eq!(port.mbufs_available(), mbufs_before, "mbufs leaked");

    // A frame over the port's MTU (1500) is dropped whole and counted, never truncated.
    let mut jumbo = PacketPool::new(8, JUMBO_FRAME).expect("jumbo pool");
    let mut b = batch_of(&mut jumbo, &[frame(1, 3000), frame(2, 100)]);
    port.tx_burst(0, &mut jumbo, &mut b);
    let s = port.counters().snapshot();
    assert_eq!((s.tx_dropped, s.tx_errors), (1, 0));
    assert_eq!(s.tx_packets, 33);
    // The 100-byte one loops back; received into a pool whose frames hold only 64 bytes it is
    // a receive error.
    let mut tiny = PacketPool::new(8, 128 + 64).expect("tiny pool");
    let got = rx_ours(&port, &mut tiny, 1, Duration::from_millis(300));
    assert!(got.is_empty());
    assert_eq!(port.counters().snapshot().rx_errors, 1);
    assert_eq!(tiny.available(), 8);
    assert_eq!(port.mbufs_available(), mbufs_before, "mbufs leaked");
    drop(port);
    // The hot-plugged device was removed, so the name can be opened again.
    let again = DpdkPort::open("r0", "net_ring0", opts()).expect("reopen net_ring0");
    assert!(again.link_up());
}

#[test]
fn null_vdev_from_eal_args_multiqueue_and_registered_thread() {
    let Some(_g) = setup("null_vdev_from_eal_args_multiqueue_and_registered_thread") else {
        return;
    };
    let o = DpdkOptions {
        rxq: 2,
        txq: 2,
        ..opts()
    };
    // net_null0 was created by --vdev at EAL init: open must find it, not probe it.
    let port = DpdkPort::open("n0", "net_null0", o).expect("open net_null0");
    assert_eq!(port.n_rxq(), 2);
    assert_eq!(port.device_name(), "net_null0");
    let handle = std::thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(dpdk::thread_lcore(), None, "a fresh thread is not an lcore");
            let mut pool = PacketPool::new(128, STD_FRAME).expect("pool");
            let mut b = Batch::new();
            // net_null receives endless 64-byte frames on every queue.
            for q in 0..2 {
                let n = port.rx_burst(q, &mut pool, &mut b);
                assert_eq!(n, 32, "rxq {q}");
                assert!(b.packets().iter().all(|p| p.len() == 64));
                pool.free_batch(&mut b);
            }
            assert_eq!(port.rx_burst(2, &mut pool, &mut b), 0, "no such queue");
            let lcore = dpdk::thread_lcore();
            let mut b = batch_of(&mut pool, &[frame(1, 64), frame(2, 1500), frame(3, 80)]);
            port.tx_burst(3, &mut pool, &mut b);
            assert_eq!(pool.available(), 128);
            lcore
        })
        .join()
        .expect("thread")
    });
    assert!(
        handle.is_some(),
        "the polling thread registered as an EAL lcore"
    );
    let s = port.counters().snapshot();
    assert_eq!((s.rx_packets, s.rx_bytes), (64, 64 * 64));
    assert_eq!(
        (s.tx_packets, s.tx_bytes, s.tx_dropped),
        (3, 64 + 1500 + 80, 0)
    );
    let x = port.xstats().expect("xstats");
    let get = |n: &str| x.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
    assert_eq!(get("rx_good_packets"), Some(64));
    assert_eq!(get("tx_good_packets"), Some(3));
    port.refresh_stats();
    assert_eq!(port.counters().snapshot().rx_dropped, 0);
}

#[test]
fn open_errors_are_reported() {
    let Some(_g) = setup("open_errors_are_reported") else {
        return;
    };
    let e = DpdkPort::open("x", "net_nosuchdriver0", opts()).expect_err("unknown driver");
    assert!(matches!(e, dpdk::DpdkError::Probe { .. }), "{e}");
    let e = DpdkPort::open("x", "", opts()).expect_err("empty devargs");
    assert!(matches!(e, dpdk::DpdkError::InvalidDevargs(_)), "{e}");
    let bad = DpdkOptions { rxq: 0, ..opts() };
    let e = DpdkPort::open("x", "net_ring5", bad).expect_err("zero queues");
    assert!(matches!(e, dpdk::DpdkError::InvalidOptions { .. }), "{e}");
    let e = dpdk::init_eal(&["--no-pci".to_string()]).expect_err("second init");
    assert!(
        matches!(e, dpdk::DpdkError::EalAlreadyInitialised(_)),
        "{e}"
    );
}

// ---- kernel-side helpers for the af_packet and tap tests ----

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{:06x}", std::process::id() & 0xff_ffff)
}

/// A veth pair whose `b` end lives in network namespace `ns`; all deleted on drop.
struct VethNs {
    a: String,
    b: String,
    ns: String,
}

impl VethNs {
    fn new() -> VethNs {
        let v = VethNs {
            a: unique("dpa"),
            b: unique("dpb"),
            ns: unique("dpns"),
        };
        let _ = Command::new("ip").args(["netns", "del", &v.ns]).output();
        ip(&["netns", "add", &v.ns]);
        ip(&["link", "add", &v.a, "type", "veth", "peer", "name", &v.b]);
        ip(&["link", "set", &v.b, "netns", &v.ns]);
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", v.a), "1");
        ip(&[
            "netns",
            "exec",
            &v.ns,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
        ]);
        ip(&["link", "set", &v.a, "up"]);
        ip(&["-n", &v.ns, "link", "set", &v.b, "up"]);
        v
    }
}

impl Drop for VethNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.a]).output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// A raw AF_PACKET socket bound to one interface (optionally created inside a netns).
struct RawSock {
    fd: OwnedFd,
}

impl RawSock {
    fn open(ifname: &str) -> RawSock {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2) call; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
        assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: `raw` is a fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let name = std::ffi::CString::new(ifname).expect("name");
        // SAFETY: NUL-terminated name.
        let idx = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert!(idx > 0, "no interface {ifname}");
        // SAFETY: sockaddr_ll is plain data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = idx as i32;
        // SAFETY: `sll` is a valid sockaddr_ll of the given size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        RawSock { fd }
    }

    /// Open the socket inside network namespace `ns` (from a helper thread that enters it).
    fn open_in(ns: &str, ifname: &str) -> RawSock {
        let path = format!("/var/run/netns/{ns}");
        let ifname = ifname.to_string();
        std::thread::spawn(move || {
            let f = std::fs::File::open(&path).expect("netns file");
            // SAFETY: a valid netns fd; only this short-lived thread changes namespace.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            RawSock::open(&ifname)
        })
        .join()
        .expect("netns thread")
    }

    fn send(&self, f: &[u8]) {
        // SAFETY: `f` is a valid buffer of the given length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), f.as_ptr().cast(), f.len(), 0) };
        assert_eq!(
            n,
            f.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Our incoming frames (not outgoing copies) until `n` arrived or `timeout` passed.
    fn recv_ours(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let end = Instant::now() + timeout;
        let mut buf = vec![0u8; 65536];
        while out.len() < n {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) } <= 0 {
                continue;
            }
            // SAFETY: sockaddr_ll is plain data.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut sl = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            // SAFETY: `buf` and `sll` are valid for the sizes given.
            let r = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                    (&mut sll as *mut libc::sockaddr_ll).cast(),
                    &mut sl,
                )
            };
            if r > 0 && sll.sll_pkttype != libc::PACKET_OUTGOING && is_ours(&buf[..r as usize]) {
                out.push(buf[..r as usize].to_vec());
            }
        }
        out
    }
}

/// Frames both ways between a DPDK port and a kernel AF_PACKET socket `peer`.
fn exchange(port: &DpdkPort, peer: &RawSock) {
    let mut pool = PacketPool::new(256, STD_FRAME).expect("pool");
    assert!(
        (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(5));
            port.link_up()
        }),
        "link never came up"
    );
    // Kernel -> DPDK.
    let inbound: Vec<Vec<u8>> = (0..8u8)
        .map(|i| frame(i, 64 + usize::from(i) * 180))
        .collect();
    for f in &inbound {
        peer.send(f);
    }
    let got = rx_ours(port, &mut pool, inbound.len(), Duration::from_secs(3));
    assert_eq!(got, inbound, "kernel -> dpdk frames differ");
    // DPDK -> kernel.
    let outbound: Vec<Vec<u8>> = (0..8u8)
        .map(|i| frame(100 + i, 1514 - usize::from(i) * 150))
        .collect();
    let mut b = batch_of(&mut pool, &outbound);
    port.tx_burst(0, &mut pool, &mut b);
    let got = peer.recv_ours(outbound.len(), Duration::from_secs(3));
    assert_eq!(got, outbound, "dpdk -> kernel frames differ");
    let s = port.counters().snapshot();
    assert_eq!(s.tx_packets, 8);
    assert!(s.rx_packets >= 8, "{s:?}");
    assert_eq!((s.tx_dropped, s.tx_errors), (0, 0));
    assert_eq!(pool.available(), 256);
}

#[test]
fn af_packet_vdev_on_veth_to_netns() {
    let Some(_g) = setup("af_packet_vdev_on_veth_to_netns") else {
        return;
    };
    let v = VethNs::new();
    let port = DpdkPort::open("afp", &format!("net_af_packet1,iface={}", v.a), opts())
        .expect("open net_af_packet");
    let peer = RawSock::open_in(&v.ns, &v.b);
    exchange(&port, &peer);
    drop(port);
    drop(v);
}

#[test]
fn tap_vdev_to_kernel() {
    let Some(_g) = setup("tap_vdev_to_kernel") else {
        return;
    };
    let ifname = unique("dpt");
    let port = match DpdkPort::open("tap", &format!("net_tap1,iface={ifname}"), opts()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("skipping tap_vdev_to_kernel: net_tap does not work here: {e}");
            return;
        }
    };
    let _ = std::fs::write(
        format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"),
        "1",
    );
    ip(&["link", "set", &ifname, "up"]);
    let peer = RawSock::open(&ifname);
    exchange(&port, &peer);
}
