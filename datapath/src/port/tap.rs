//! The TAP port: a kernel tap interface whose other side is this process, through
//! `/dev/net/tun` (`IFF_TAP | IFF_NO_PI`, non-blocking).
//!
//! This is the compatibility backend, not a fast one: a tap file descriptor moves exactly one frame
//! per `read(2)`/`write(2)`, so receive and transmit cost a syscall per packet — inherent to the
//! interface (the fast alternative for the same job is an AF_PACKET port on a veth pair). A receive
//! burst reads until `EAGAIN` or the batch is full; a transmit burst writes each packet. Reads go
//! into the pool frame directly plus a small spill buffer (`readv`), so a frame longer than a pool
//! frame is detected and counted as `rx_errors` instead of silently truncated. No lock is needed:
//! every read and write moves one whole frame atomically, and only the owning PMD reads.
//!
//! The interface is created (or attached to, if it exists and is persistent) and brought up on
//! open, and disappears when the port is dropped unless someone made it persistent. Link state is
//! the interface's `IFF_UP && IFF_RUNNING`, cached like every port's.

use super::afpacket::sys::{self, LinkWatch};
use super::mtu::{self, MtuCell, MtuError};
use super::{Port, PortCounters};
use crate::mempool::{Batch, PacketPool};
use std::ffi::c_void;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use thiserror::Error;

/// Errors opening a TAP port.
#[derive(Debug, Error)]
pub enum TapError {
    /// The interface name is empty, too long or contains NUL.
    #[error("invalid tap interface name {0:?}")]
    InvalidName(String),
    /// `/dev/net/tun` could not be opened.
    #[error("cannot open /dev/net/tun: {0}")]
    OpenTun(io::Error),
    /// `TUNSETIFF` failed (name in use by a non-tap device, or no CAP_NET_ADMIN).
    #[error("creating tap {ifname} failed: {source}")]
    CreateTap {
        /// The interface asked for.
        ifname: String,
        /// The OS error.
        source: io::Error,
    },
    /// Bringing the interface up or reading its state failed.
    #[error("bringing {ifname} up failed: {source}")]
    BringUp {
        /// The interface.
        ifname: String,
        /// The OS error.
        source: io::Error,
    },
}

/// A port over a tap interface.
#[derive(Debug)]
pub struct TapPort {
    name: String,
    ifname: String,
    fd: OwnedFd,
    link: LinkWatch,
    /// The configured MTU (`MTU_MAX` until the switch sets it: the interface's rules).
    mtu: MtuCell,
    counters: PortCounters,
}

impl TapPort {
    /// Create (or attach to) tap interface `ifname` and bring it up.
    pub fn open(name: &str, ifname: &str) -> Result<TapPort, TapError> {
        let ifn = sys::ifname_array(ifname).ok_or_else(|| TapError::InvalidName(ifname.into()))?;
        // SAFETY: a NUL-terminated literal path; the result is checked.
        let raw = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(TapError::OpenTun(io::Error::last_os_error()));
        }
        // SAFETY: `raw` was just returned by open(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: ifreq is plain data; all-zero is valid.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        ifr.ifr_name = ifn;
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one ifreq, which `ifr` is.
        let rc = unsafe {
            libc::ioctl(
                fd.as_raw_fd(),
                libc::TUNSETIFF,
                &mut ifr as *mut libc::ifreq,
            )
        };
        if rc < 0 {
            return Err(TapError::CreateTap {
                ifname: ifname.into(),
                source: io::Error::last_os_error(),
            });
        }
        // The kernel writes back the actual name (matters for patterns like "tap%d").
        let actual = sys::ifname_string(&ifr.ifr_name);
        let bring_up_err = |source| TapError::BringUp {
            ifname: actual.clone(),
            source,
        };
        let link = LinkWatch::new(ifr.ifr_name).map_err(bring_up_err)?;
        link.bring_up().map_err(bring_up_err)?;
        link.refresh().map_err(bring_up_err)?;
        Ok(TapPort {
            name: name.into(),
            ifname: actual,
            fd,
            link,
            mtu: MtuCell::new(mtu::MTU_MAX),
            counters: PortCounters::default(),
        })
    }

    /// The kernel interface name.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }
}

impl Port for TapPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "tap"
    }

    fn rx_burst(&self, rxq: u16, pool: &mut PacketPool, batch: &mut Batch) -> usize {
        if rxq != 0 {
            return 0;
        }
        let (mut n, mut bytes, mut errors) = (0u64, 0u64, 0u64);
        let mut spill = [0u8; 64];
        while !batch.is_full() {
            let Some(mut p) = pool.alloc() else {
                break;
            };
            let room = p.spare_mut();
            let iov = [
                libc::iovec {
                    iov_base: room.as_mut_ptr().cast::<c_void>(),
                    iov_len: room.len(),
                },
                libc::iovec {
                    iov_base: spill.as_mut_ptr().cast::<c_void>(),
                    iov_len: spill.len(),
                },
            ];
            // SAFETY: both iovecs describe live, exclusively borrowed buffers of the stated size.
            let r = unsafe { libc::readv(self.fd.as_raw_fd(), iov.as_ptr(), 2) };
            if r < 0 {
                pool.free(p);
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted {
                    errors += 1;
                }
                break;
            }
            let len = r as usize;
            if len == 0 || !p.set_len(len) {
                // Empty read, or the frame spilled past the pool frame: too big for us.
                errors += 1;
                pool.free(p);
                continue;
            }
            n += 1;
            bytes += len as u64;
            if let Err(p) = batch.push(p) {
                pool.free(p);
            }
        }
        self.counters.rx(n, bytes);
        PortCounters::add(&self.counters.rx_errors, errors);
        n as usize
    }

    fn tx_burst(&self, _txq: u16, pool: &mut PacketPool, batch: &mut Batch) {
        if batch.is_empty() {
            return;
        }
        if !self.link.up() {
            PortCounters::add(&self.counters.tx_dropped, batch.len() as u64);
            pool.free_batch(batch);
            return;
        }
        let (mut n, mut bytes, mut dropped, mut errors) = (0u64, 0u64, 0u64, 0u64);
        let (mtu, mut too_big) = (self.mtu(), 0u64);
        for p in batch.drain() {
            let d = p.data();
            if !mtu::fits(d, mtu) {
                too_big += 1;
                pool.free(p);
                continue;
            }
            // SAFETY: `d` is a valid buffer of `d.len()` bytes.
            let r = unsafe { libc::write(self.fd.as_raw_fd(), d.as_ptr().cast(), d.len()) };
            if r == d.len() as isize {
                n += 1;
                bytes += d.len() as u64;
            } else if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock {
                dropped += 1;
            } else {
                errors += 1;
            }
            pool.free(p);
        }
        self.counters.tx(n, bytes);
        PortCounters::add(&self.counters.tx_dropped, dropped);
        PortCounters::add(&self.counters.tx_errors, errors);
        mtu::count_too_big(&self.counters, too_big);
    }

    fn link_up(&self) -> bool {
        self.link.up()
    }

    fn counters(&self) -> &PortCounters {
        &self.counters
    }

    fn mtu(&self) -> u32 {
        self.mtu.get().min(self.link.mtu())
    }

    fn set_mtu(&self, mtu: u32) -> Result<(), MtuError> {
        self.mtu
            .set_checked(mtu, mtu::MTU_MAX, "tap", String::new, "")
    }
}

#[cfg(test)]
mod tests {
    use super::super::afpacket::testutil::{
        disable_ipv6, ip, require_root, unique_name, wait_until,
    };
    use super::*;
    use crate::mempool::STD_FRAME;
    use std::time::Duration;

    const MY_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30];

    fn arp_request(sender_ip: [u8; 4], target_ip: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&MY_MAC);
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
        f.extend_from_slice(&MY_MAC);
        f.extend_from_slice(&sender_ip);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&target_ip);
        f.resize(60, 0);
        f
    }

    #[test]
    fn kernel_answers_arp_through_the_tap() {
        if !require_root("tap ARP test") {
            return;
        }
        let ifname = unique_name("dvt");
        let port = TapPort::open("tap0", &ifname).expect("open tap");
        assert_eq!(port.ifname(), ifname);
        assert_eq!(port.kind(), "tap");
        disable_ipv6(&ifname);
        // A per-process subnet so concurrent test runs do not answer for each other.
        let net = (std::process::id() % 250) as u8 + 1;
        ip(&["addr", "add", &format!("198.18.{net}.1/24"), "dev", &ifname]);
        assert!(
            wait_until(Duration::from_secs(1), || port.link_up()),
            "tap is up"
        );
        assert_eq!(port.max_frame(), 1518);

        let mut pool = PacketPool::new(64, STD_FRAME).expect("pool");
        let mut batch = Batch::new();
        let req = arp_request([198, 18, net, 2], [198, 18, net, 1]);
        assert!(batch.push(pool.alloc_from(&req).expect("alloc")).is_ok());
        port.tx_burst(0, &mut pool, &mut batch);
        let s = port.counters().snapshot();
        assert_eq!((s.tx_packets, s.tx_bytes, s.tx_errors), (1, 60, 0));

        let mut reply = None;
        let mut received = 0u64;
        let mut received_bytes = 0u64;
        wait_until(Duration::from_secs(2), || {
            received += port.rx_burst(0, &mut pool, &mut batch) as u64;
            for p in batch.packets() {
                received_bytes += p.len() as u64;
                let d = p.data();
                if d.len() >= 42 && d[12..14] == [0x08, 0x06] && d[20..22] == [0, 2] {
                    reply = Some(d.to_vec());
                }
            }
            pool.free_batch(&mut batch);
            reply.is_some()
        });
        let reply = reply.expect("ARP reply from the kernel");
        assert_eq!(&reply[0..6], &MY_MAC, "reply is addressed to us");
        assert_eq!(
            &reply[28..32],
            &[198, 18, net, 1],
            "sender IP is the tap's address"
        );
        assert_eq!(&reply[32..38], &MY_MAC, "target MAC");
        assert_eq!(&reply[38..42], &[198, 18, net, 2], "target IP");
        let s = port.counters().snapshot();
        assert_eq!(s.rx_packets, received);
        assert_eq!(s.rx_bytes, received_bytes);
        assert_eq!(pool.available(), 64);

        drop(port);
        let sysfs = format!("/sys/class/net/{ifname}");
        assert!(
            wait_until(Duration::from_secs(2), || !std::path::Path::new(&sysfs)
                .exists()),
            "non-persistent tap disappears with the port"
        );
    }

    #[test]
    fn bad_names_are_rejected() {
        assert!(matches!(
            TapPort::open("t", ""),
            Err(TapError::InvalidName(_))
        ));
        assert!(matches!(
            TapPort::open("t", "0123456789abcdefg"),
            Err(TapError::InvalidName(_))
        ));
    }
}
