//! Test helpers for the kernel-backed ports: root detection, throw-away veth pairs that are
//! deleted even when a test panics, and a plain AF_PACKET socket playing the peer.

use super::sys;
use std::ffi::c_void;
use std::mem::size_of;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// True if running as root; otherwise prints why `test` is skipped.
pub(crate) fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    eprintln!("skipping {test}: needs root (CAP_NET_ADMIN/CAP_NET_RAW)");
    false
}

/// A fresh interface name: `prefix` + 8 hex digits (pid and a counter).
pub(crate) fn unique_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let salt = std::process::id().wrapping_mul(0x9e37_79b9) ^ (n << 24) ^ n;
    format!("{prefix}{salt:08x}")
}

/// Run `ip args...`, panicking with its stderr on failure.
pub(crate) fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Turn IPv6 off on an interface so it sends no autoconfiguration noise.
pub(crate) fn disable_ipv6(ifname: &str) {
    let _ = std::fs::write(
        format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"),
        "1",
    );
}

/// `/sys/class/net/<if>/flags` (the kernel's own flags, including socket-held promiscuity).
pub(crate) fn sysfs_flags(ifname: &str) -> u32 {
    let s = std::fs::read_to_string(format!("/sys/class/net/{ifname}/flags")).expect("sysfs flags");
    u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).expect("hex flags")
}

/// Poll `f` until it is true or `timeout` passes.
pub(crate) fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}

/// A veth pair, both ends up, IPv6 off; deleted on drop.
pub(crate) struct Veth {
    /// The switch-side end.
    pub a: String,
    /// The peer end.
    pub b: String,
}

impl Veth {
    pub(crate) fn new() -> Veth {
        let base = unique_name("dv");
        let v = Veth {
            a: format!("{base}a"),
            b: format!("{base}b"),
        };
        ip(&["link", "add", &v.a, "type", "veth", "peer", "name", &v.b]);
        for i in [&v.a, &v.b] {
            disable_ipv6(i);
            ip(&["link", "set", i, "up"]);
        }
        v
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.a]).output();
    }
}

/// A plain (unmapped) AF_PACKET socket on an interface, VLAN tags restored from auxdata.
pub(crate) struct RawSocket {
    fd: OwnedFd,
}

impl RawSocket {
    pub(crate) fn bind(ifname: &str) -> RawSocket {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        let fd =
            sys::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)).expect("packet socket");
        let ifn = sys::ifname_array(ifname).expect("name");
        let idx = sys::if_index(&ifn).expect("ifindex");
        sys::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_AUXDATA,
            &1i32,
        )
        .expect("auxdata");
        sys::bind_packet(fd.as_raw_fd(), idx, proto).expect("bind");
        RawSocket { fd }
    }

    pub(crate) fn send(&self, frame: &[u8]) {
        // SAFETY: `frame` is a valid buffer of the given length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(
            n,
            frame.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Next incoming (not outgoing) frame within `timeout`.
    pub(crate) fn recv(&self, timeout: Duration) -> Option<Vec<u8>> {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
            if rc <= 0 {
                return None;
            }
            if let Some(f) = self.recv_one() {
                return Some(f);
            }
        }
    }

    fn recv_one(&self) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 65536];
        let mut ctrl = [0u64; 16];
        // SAFETY: sockaddr_ll is plain data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast::<c_void>(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain data.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut sll as *mut libc::sockaddr_ll).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_ll>() as u32;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = ctrl.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 16]>();
        // SAFETY: every pointer in `msg` refers to a live local buffer of the stated size.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            return None;
        }
        buf.truncate(n as usize);
        if sll.sll_pkttype == libc::PACKET_OUTGOING {
            return None;
        }
        // SAFETY: `msg` was filled by recvmsg; the CMSG macros walk its control buffer.
        let mut c = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        while !c.is_null() {
            // SAFETY: `c` is a valid cmsghdr inside `ctrl`.
            let h = unsafe { &*c };
            if h.cmsg_level == libc::SOL_PACKET && h.cmsg_type == libc::PACKET_AUXDATA {
                // SAFETY: PACKET_AUXDATA carries a tpacket_auxdata.
                let aux = unsafe {
                    std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::tpacket_auxdata>())
                };
                if aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0 {
                    let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                        aux.tp_vlan_tpid
                    } else {
                        0x8100
                    };
                    let mut tag = tpid.to_be_bytes().to_vec();
                    tag.extend_from_slice(&aux.tp_vlan_tci.to_be_bytes());
                    buf.splice(12..12, tag);
                }
            }
            // SAFETY: as above.
            c = unsafe { libc::CMSG_NXTHDR(&msg, c) };
        }
        Some(buf)
    }
}

/// An Ethernet frame from `src` with ethertype 0x88b5 (local experimental), optional tags, and a
/// payload of `len` bytes derived from `seed`.
pub(crate) fn test_frame(src: [u8; 6], tags: &[(u16, u16)], seed: u8, len: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x99];
    f.extend_from_slice(&src);
    for &(tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&[0x88, 0xb5]);
    f.extend((0..len).map(|i| seed.wrapping_add(i as u8)));
    f
}
