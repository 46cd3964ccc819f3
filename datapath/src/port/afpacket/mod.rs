//! The AF_PACKET port: any Linux interface (veth, tap, a NIC) through memory-mapped packet rings.
//!
//! Two sockets per port. The receive socket runs TPACKET_V3 (block-based, see `rx`), is bound to
//! the interface for `ETH_P_ALL`, puts the interface in promiscuous mode (a membership the kernel
//! drops when the socket closes) and ignores outgoing packets (`PACKET_IGNORE_OUTGOING`, plus a
//! `PACKET_OUTGOING` check per frame for older kernels), so the switch never receives its own
//! transmits. The transmit socket runs TPACKET_V2 slots (see `tx`) with `PACKET_QDISC_BYPASS`, and
//! is bound with protocol 0 so it receives nothing. A ring's version is per socket, hence the split;
//! it also means receive and transmit never share a lock.
//!
//! Each ring sits behind its own `Mutex`, taken once per burst. Only the owning PMD polls the
//! receive ring, so that lock is uncontended; the transmit lock is shared by every PMD sending to
//! this port (one TX ring per port for now; a socket per transmit queue would remove that).
//! Counters are bumped once per burst. Link state and MTU come from a cached `SIOCGIFFLAGS` /
//! `SIOCGIFMTU` (at most one ioctl per [`sys::LINK_POLL`]); transmit to a down link is dropped
//! without touching the ring.
//!
//! What the kernel does to frames before a packet socket sees them, and how we undo it: received
//! VLAN tags are stripped into the frame header (we re-insert them), checksums of locally generated
//! traffic may be left for offload (we complete them, see `csum`). GSO super-frames from a peer with
//! TSO enabled exceed a pool frame and are counted as `rx_errors`; peers should run with
//! `ethtool -K <peer> tso off gso off` (or the switch needs `PACKET_VNET_HDR` segmentation later).

mod csum;
mod rx;
pub(crate) mod sys;
mod tx;

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;

use super::mtu::{self, MtuCell, MtuError};
use super::{Port, PortCounters};
use crate::mempool::{Batch, PacketPool, JUMBO_FRAME, STD_FRAME};
use rx::{RxRing, RxTally};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Mutex, MutexGuard, PoisonError};
use sys::{LinkWatch, Mmap};
use thiserror::Error;
use tx::{TxRing, TxTally};

/// Errors opening an AF_PACKET port.
#[derive(Debug, Error)]
pub enum AfPacketError {
    /// The interface name is empty, too long or contains NUL.
    #[error("invalid interface name {0:?}")]
    InvalidName(String),
    /// The ring geometry is unusable.
    #[error("invalid AF_PACKET ring options: {0}")]
    Options(&'static str),
    /// No such interface.
    #[error("no interface {ifname}: {source}")]
    NoSuchInterface {
        /// The interface asked for.
        ifname: String,
        /// The OS error.
        source: io::Error,
    },
    /// `socket(AF_PACKET)` failed (needs CAP_NET_RAW).
    #[error("cannot create AF_PACKET socket: {0}")]
    Socket(io::Error),
    /// A socket option the port needs was refused.
    #[error("setting {option} on the AF_PACKET socket failed: {source}")]
    SetOption {
        /// The option.
        option: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// Mapping a ring failed.
    #[error("mapping the {ring} ring ({bytes} bytes) failed: {source}")]
    Map {
        /// "rx" or "tx".
        ring: &'static str,
        /// Ring size.
        bytes: usize,
        /// The OS error.
        source: io::Error,
    },
    /// Binding to the interface failed.
    #[error("binding to {ifname} failed: {source}")]
    Bind {
        /// The interface.
        ifname: String,
        /// The OS error.
        source: io::Error,
    },
    /// Reading the interface's flags failed.
    #[error("reading the link state of {ifname} failed: {source}")]
    LinkState {
        /// The interface.
        ifname: String,
        /// The OS error.
        source: io::Error,
    },
}

/// Ring geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfPacketOptions {
    /// Receive block size in bytes (a multiple of the page size; holds many frames).
    pub block_size: usize,
    /// Number of receive blocks (ring size = `block_size * block_count`).
    pub block_count: usize,
    /// Largest frame including the ring's slot header (multiple of 16): sizes TX slots.
    pub frame_size: usize,
    /// Number of transmit slots.
    pub tx_frames: usize,
    /// How long the kernel may hold a partly filled receive block, in milliseconds.
    pub block_timeout_ms: u32,
}

impl Default for AfPacketOptions {
    /// A 4 MiB receive ring of 64 KiB blocks, 512 standard-size transmit slots.
    fn default() -> Self {
        AfPacketOptions {
            block_size: 64 << 10,
            block_count: 64,
            frame_size: STD_FRAME,
            tx_frames: 512,
            block_timeout_ms: 1,
        }
    }
}

impl AfPacketOptions {
    /// Defaults sized for 9000-byte MTU frames.
    pub fn jumbo() -> Self {
        AfPacketOptions {
            frame_size: JUMBO_FRAME.div_ceil(16) * 16,
            ..Self::default()
        }
    }

    /// Check the geometry (`page` is a power of two).
    fn validate(&self, page: usize) -> Result<(), AfPacketError> {
        let err = |m| Err(AfPacketError::Options(m));
        if self.block_size == 0 || self.block_size & (page - 1) != 0 {
            return err("block_size must be a non-zero multiple of the page size");
        }
        if self.block_count == 0 || self.tx_frames == 0 {
            return err("block_count and tx_frames must be non-zero");
        }
        if self.frame_size & 15 != 0 || self.frame_size < 256 {
            return err("frame_size must be a multiple of 16 and at least 256");
        }
        if self.frame_size > self.block_size {
            return err("frame_size must not exceed block_size");
        }
        match self.block_size.checked_mul(self.block_count) {
            Some(b) if b <= u32::MAX as usize => {}
            _ => return err("receive ring too large"),
        }
        Ok(())
    }
}

/// `struct tpacket_stats_v3` from linux/if_packet.h.
#[repr(C)]
#[derive(Default)]
struct TpacketStatsV3 {
    tp_packets: u32,
    tp_drops: u32,
    tp_freeze_q_cnt: u32,
}

/// A port over an AF_PACKET socket pair.
#[derive(Debug)]
pub struct AfPacketPort {
    name: String,
    ifname: String,
    // Rings before sockets: fields drop in order, so the mappings go before the descriptors.
    rx: Mutex<RxRing>,
    tx: Mutex<TxRing>,
    rx_fd: OwnedFd,
    tx_fd: OwnedFd,
    link: LinkWatch,
    tx_cap: usize,
    mtu: MtuCell,
    counters: PortCounters,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a ring lock cannot leave the ring half-updated in a way that matters
    // (status words are the source of truth), so a poisoned lock is simply taken over.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

impl AfPacketPort {
    /// Open port `name` on interface `ifname`.
    pub fn open(
        name: &str,
        ifname: &str,
        opts: AfPacketOptions,
    ) -> Result<AfPacketPort, AfPacketError> {
        let page = sys::page_size();
        opts.validate(page)?;
        let ifn =
            sys::ifname_array(ifname).ok_or_else(|| AfPacketError::InvalidName(ifname.into()))?;
        let ifindex = sys::if_index(&ifn).map_err(|source| AfPacketError::NoSuchInterface {
            ifname: ifname.into(),
            source,
        })?;
        let bind_err = |source| AfPacketError::Bind {
            ifname: ifname.into(),
            source,
        };

        // Receive: protocol 0 until the ring exists, so nothing queues on the socket itself.
        let rx_fd =
            sys::socket(libc::AF_PACKET, libc::SOCK_RAW, 0).map_err(AfPacketError::Socket)?;
        let rfd = rx_fd.as_raw_fd();
        setopt(
            rfd,
            libc::PACKET_VERSION,
            &sys::TPACKET_V3,
            "PACKET_VERSION=TPACKET_V3",
        )?;
        let req3 = libc::tpacket_req3 {
            tp_block_size: opts.block_size as u32,
            tp_block_nr: opts.block_count as u32,
            tp_frame_size: opts.frame_size as u32,
            tp_frame_nr: ((opts.block_size / opts.frame_size) * opts.block_count) as u32,
            tp_retire_blk_tov: opts.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setopt(rfd, libc::PACKET_RX_RING, &req3, "PACKET_RX_RING")?;
        let rx_bytes = opts.block_size * opts.block_count;
        let rx_map = Mmap::shared(rfd, rx_bytes).map_err(|source| AfPacketError::Map {
            ring: "rx",
            bytes: rx_bytes,
            source,
        })?;
        // Older kernels lack PACKET_IGNORE_OUTGOING; the per-frame pkttype check covers them.
        let _ = sys::setsockopt(rfd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &1i32);
        let mreq = libc::packet_mreq {
            mr_ifindex: ifindex as i32,
            mr_type: libc::PACKET_MR_PROMISC as u16,
            mr_alen: 0,
            mr_address: [0; 8],
        };
        setopt(
            rfd,
            libc::PACKET_ADD_MEMBERSHIP,
            &mreq,
            "PACKET_ADD_MEMBERSHIP(PROMISC)",
        )?;
        sys::bind_packet(rfd, ifindex, ETH_P_ALL_BE).map_err(bind_err)?;

        // Transmit: bound with protocol 0, so it never receives.
        let tx_fd =
            sys::socket(libc::AF_PACKET, libc::SOCK_RAW, 0).map_err(AfPacketError::Socket)?;
        let tfd = tx_fd.as_raw_fd();
        setopt(
            tfd,
            libc::PACKET_VERSION,
            &sys::TPACKET_V2,
            "PACKET_VERSION=TPACKET_V2",
        )?;
        // Best effort: older kernels queue through the qdisc instead.
        let _ = sys::setsockopt(tfd, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &1i32);
        setopt(tfd, libc::PACKET_LOSS, &1i32, "PACKET_LOSS")?;
        let tx_block = opts.frame_size.div_ceil(page) * page;
        let per_block = tx_block / opts.frame_size;
        let tx_blocks = opts.tx_frames.div_ceil(per_block);
        let tx_frames = tx_blocks * per_block;
        // Let the whole ring be in flight without hitting the socket send budget.
        let sndbuf = i32::try_from(tx_frames * (opts.frame_size + 512)).unwrap_or(i32::MAX);
        if sys::setsockopt(tfd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &sndbuf).is_err() {
            let _ = sys::setsockopt(tfd, libc::SOL_SOCKET, libc::SO_SNDBUF, &sndbuf);
        }
        let req = libc::tpacket_req {
            tp_block_size: tx_block as u32,
            tp_block_nr: tx_blocks as u32,
            tp_frame_size: opts.frame_size as u32,
            tp_frame_nr: tx_frames as u32,
        };
        setopt(tfd, libc::PACKET_TX_RING, &req, "PACKET_TX_RING")?;
        let tx_bytes = tx_block * tx_blocks;
        let tx_map = Mmap::shared(tfd, tx_bytes).map_err(|source| AfPacketError::Map {
            ring: "tx",
            bytes: tx_bytes,
            source,
        })?;
        sys::bind_packet(tfd, ifindex, 0).map_err(bind_err)?;

        let link = LinkWatch::new(ifn).map_err(|source| AfPacketError::LinkState {
            ifname: ifname.into(),
            source,
        })?;
        let tx = TxRing::new(tx_map, tx_block, opts.frame_size, tx_frames);
        Ok(AfPacketPort {
            name: name.into(),
            ifname: ifname.into(),
            rx: Mutex::new(RxRing::new(rx_map, opts.block_size, opts.block_count)),
            tx_cap: tx.slot_capacity(),
            tx: Mutex::new(tx),
            rx_fd,
            tx_fd,
            link,
            // Until the switch sets one, the interface's MTU rules.
            mtu: MtuCell::new(mtu::MTU_MAX),
            counters: PortCounters::default(),
        })
    }

    /// The kernel interface this port is bound to.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }
}

fn setopt<T: Copy>(fd: i32, name: i32, val: &T, option: &'static str) -> Result<(), AfPacketError> {
    sys::setsockopt(fd, libc::SOL_PACKET, name, val)
        .map_err(|source| AfPacketError::SetOption { option, source })
}

impl Port for AfPacketPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "afpacket"
    }

    fn rx_burst(&self, rxq: u16, pool: &mut PacketPool, batch: &mut Batch) -> usize {
        if rxq != 0 {
            return 0;
        }
        let before = batch.len();
        let mut t = RxTally::default();
        lock(&self.rx).recv(pool, batch, &mut t);
        self.counters.rx(t.packets, t.bytes);
        PortCounters::add(&self.counters.rx_errors, t.errors);
        batch.len() - before
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
        let mut t = TxTally::default();
        lock(&self.tx).send(self.tx_fd.as_raw_fd(), self.mtu(), pool, batch, &mut t);
        self.counters.tx(t.packets, t.bytes);
        PortCounters::add(&self.counters.tx_dropped, t.dropped);
        mtu::count_too_big(&self.counters, t.too_big);
        PortCounters::add(&self.counters.tx_errors, t.errors);
    }

    fn link_up(&self) -> bool {
        self.link.up()
    }

    fn counters(&self) -> &PortCounters {
        &self.counters
    }

    fn refresh_stats(&self) {
        // Frames the kernel could not put in a full RX ring; reading the counter resets it.
        let mut st = TpacketStatsV3::default();
        let mut len = std::mem::size_of::<TpacketStatsV3>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `st`, a plain C struct.
        let rc = unsafe {
            libc::getsockopt(
                self.rx_fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut TpacketStatsV3).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            PortCounters::add(&self.counters.rx_dropped, u64::from(st.tp_drops));
        }
    }

    fn mtu(&self) -> u32 {
        self.mtu
            .get()
            .min(self.link.mtu())
            .min(mtu::mtu_for_frame(self.tx_cap))
    }

    fn set_mtu(&self, mtu: u32) -> Result<(), MtuError> {
        let cap = self.tx_cap;
        self.mtu.set_checked(
            mtu,
            mtu::mtu_for_frame(cap),
            "afpacket",
            || format!("a transmit ring slot holds {cap} bytes"),
            "; the switch sizes the ring from [switch] mtu",
        )
    }
}
