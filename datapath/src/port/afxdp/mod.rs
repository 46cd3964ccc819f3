//! The AF_XDP port: one receive/transmit queue pair of a Linux interface through an XDP socket.
//!
//! An XDP program on the interface redirects the frames of one hardware queue into an AF_XDP
//! socket whose rings and packet memory (the UMEM) are shared with user space, so received frames
//! skip the kernel stack entirely (in native mode, before an skb is even built). The pieces:
//!
//! * `xsk` owns the kernel objects: the UMEM mapping (2 MiB hugepages when reserved, like the
//!   packet pools), the libxdp UMEM/socket handles and the redirect program. Zero-copy is tried
//!   first unless disabled and falls back to copy mode (`zero_copy: None`); the program is
//!   attached in native (driver) mode first and in generic (SKB) mode if that fails
//!   (`XdpMode::Auto`). The outcome is logged and queryable ([`AfXdpPort::xdp_mode`],
//!   [`AfXdpPort::zero_copy`]). We detach the program on drop because we attached it.
//! * `queue` runs the bursts: receive copies frames into the caller's [`PacketPool`] and recycles
//!   the UMEM frames through the fill ring; transmit copies packets into free UMEM frames, kicks
//!   the kernel when it asks (`XDP_USE_NEED_WAKEUP`, one syscall per burst at most) and reaps the
//!   completion ring. Each side has its own Mutex, taken once per burst.
//!
//! Link state and MTU come from the same cached ioctl watcher as AF_PACKET ports (at most one
//! `SIOCGIFFLAGS` per 100 ms); transmit to a down link is dropped without touching the rings.
//! Unlike AF_PACKET, XDP sees the frame as it was on the wire: 802.1Q tags are still in the data
//! (no re-insertion needed) and no checksum offload metadata exists to complete.
//!
//! Limits of this version: aligned UMEM chunks, so `frame_size` is 2048 or 4096 and the largest
//! frame is `frame_size - 256` on receive (XDP headroom) and `frame_size` on transmit (no jumbo
//! frames); one queue per port (open one port per queue); generic mode and copy mode cost a copy
//! in the kernel on top of ours.

mod queue;
mod xsk;

use super::afpacket::sys::{self as psys, LinkWatch};
use super::mtu::{self, MtuCell, MtuError};
use super::{Port, PortCounters};
use crate::mempool::{Batch, PacketPool};
use queue::{RxQueue, RxTally, TxQueue, TxTally};
use std::fmt;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use thiserror::Error;
use xsk::{Geometry, UmemArea, XdpProgram, Xsk};

/// How the XDP program is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    /// Native first, generic if the driver refuses.
    Auto,
    /// In the driver (`XDP_FLAGS_DRV_MODE`): before skb allocation.
    Native,
    /// In the core stack (`XDP_FLAGS_SKB_MODE`): works everywhere, slower.
    Generic,
}

impl fmt::Display for XdpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            XdpMode::Auto => "auto",
            XdpMode::Native => "native",
            XdpMode::Generic => "generic",
        })
    }
}

/// Errors opening an AF_XDP port.
#[derive(Debug, Error)]
pub enum AfXdpError {
    /// The interface name is empty, too long or contains NUL.
    #[error("invalid interface name {0:?}")]
    InvalidName(String),
    /// The geometry is unusable.
    #[error("invalid AF_XDP options: {0}")]
    Options(&'static str),
    /// No such interface.
    #[error("no interface {ifname}: {source}")]
    NoSuchInterface {
        /// The interface asked for.
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
    /// Mapping the UMEM failed.
    #[error("mapping a {bytes}-byte UMEM failed: {source}")]
    UmemMap {
        /// Requested size.
        bytes: usize,
        /// The OS error.
        source: io::Error,
    },
    /// Registering the UMEM failed.
    #[error("registering the AF_XDP UMEM failed: {0}")]
    UmemCreate(io::Error),
    /// Creating or binding the XDP socket failed.
    #[error("creating the AF_XDP socket on {ifname} queue {queue} (zero-copy: {zero_copy}) failed: {source}")]
    SocketCreate {
        /// The interface.
        ifname: String,
        /// The queue.
        queue: u32,
        /// Whether zero-copy was requested.
        zero_copy: bool,
        /// The OS error.
        source: io::Error,
    },
    /// Loading libxdp's default AF_XDP program failed.
    #[error("loading the AF_XDP redirect program failed: {0}")]
    ProgramLoad(io::Error),
    /// Attaching the XDP program failed.
    #[error("attaching XDP to {ifname} in {mode} mode failed: {source}")]
    ProgramAttach {
        /// The interface.
        ifname: String,
        /// The last mode tried.
        mode: XdpMode,
        /// The OS error.
        source: io::Error,
    },
    /// Sizing, finding or updating the program's XSKMAP failed.
    #[error("setting up the XSKMAP failed: {0}")]
    XskMap(io::Error),
}

/// Queue, attach mode and UMEM geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfXdpOptions {
    /// The interface queue to bind.
    pub queue: u32,
    /// Where the XDP program runs.
    pub mode: XdpMode,
    /// `Some(true)`: require zero-copy; `Some(false)`: copy mode; `None`: try zero-copy, fall back.
    pub zero_copy: Option<bool>,
    /// UMEM chunk size: 2048 or 4096.
    pub frame_size: u32,
    /// UMEM frames; split between receive (`min(n_frames / 2, rx_ring)`) and transmit.
    pub n_frames: u32,
    /// RX and fill ring entries (power of two).
    pub rx_ring: u32,
    /// TX and completion ring entries (power of two).
    pub tx_ring: u32,
}

impl Default for AfXdpOptions {
    /// Queue 0, auto mode, zero-copy if possible, 4096 frames of 2 KiB (8 MiB), 2048-entry rings.
    fn default() -> Self {
        AfXdpOptions {
            queue: 0,
            mode: XdpMode::Auto,
            zero_copy: None,
            frame_size: 2048,
            n_frames: 4096,
            rx_ring: 2048,
            tx_ring: 2048,
        }
    }
}

impl AfXdpOptions {
    fn validate(&self, page: usize) -> Result<(), AfXdpError> {
        let err = |m| Err(AfXdpError::Options(m));
        let fs = self.frame_size as usize;
        if !fs.is_power_of_two() || fs < 2048 || fs > page {
            return err("frame_size must be a power of two between 2048 and the page size");
        }
        if self.n_frames < 2 {
            return err("n_frames must be at least 2");
        }
        if fs
            .checked_mul(self.n_frames as usize)
            .is_none_or(|b| b > 1 << 32)
        {
            return err("UMEM larger than 4 GiB");
        }
        for r in [self.rx_ring, self.tx_ring] {
            if !r.is_power_of_two() || r > 1 << 16 {
                return err("ring sizes must be powers of two up to 65536");
            }
        }
        Ok(())
    }
}

/// A port over one queue of an interface, through an AF_XDP socket.
pub struct AfXdpPort {
    name: String,
    ifname: String,
    queue: u32,
    // Field order is drop order: queues (raw pointers only), then the program (stop redirecting),
    // then the socket, its rings and the UMEM.
    rx: Mutex<RxQueue>,
    tx: Mutex<TxQueue>,
    _program: XdpProgram,
    xsk: Xsk,
    mode: XdpMode,
    /// Largest frame a UMEM chunk holds after the kernel's XDP headroom.
    max_rx: usize,
    /// Kernel socket counters already folded into `counters` (they are cumulative).
    folded: Mutex<XdpSocketStats>,
    link: LinkWatch,
    /// The configured MTU (`MTU_MAX` until the switch sets it: the interface and UMEM rule).
    mtu: MtuCell,
    counters: PortCounters,
}

impl fmt::Debug for AfXdpPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfXdpPort")
            .field("name", &self.name)
            .field("ifname", &self.ifname)
            .field("queue", &self.queue)
            .field("mode", &self.mode)
            .field("zero_copy", &self.xsk.zero_copy())
            .finish_non_exhaustive()
    }
}

/// Kernel-side counters of the XDP socket (`XDP_STATISTICS`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct XdpSocketStats {
    /// Frames dropped for reasons other than a full RX ring or an empty fill ring.
    pub rx_dropped: u64,
    /// Invalid fill-ring descriptors.
    pub rx_invalid_descs: u64,
    /// Invalid TX descriptors.
    pub tx_invalid_descs: u64,
    /// Frames dropped because the RX ring was full.
    pub rx_ring_full: u64,
    /// Times the fill ring was empty when a frame arrived.
    pub rx_fill_ring_empty_descs: u64,
    /// Times the TX ring was empty on a kick.
    pub tx_ring_empty_descs: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Ring indices are only advanced after their entries are complete, so a panic under the lock
    // leaves a consistent ring; take a poisoned lock over.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AfXdpPort {
    /// Open port `name` on queue `opts.queue` of interface `ifname`.
    pub fn open(name: &str, ifname: &str, opts: AfXdpOptions) -> Result<AfXdpPort, AfXdpError> {
        opts.validate(psys::page_size())?;
        let invalid = || AfXdpError::InvalidName(ifname.into());
        let ifn = psys::ifname_array(ifname).ok_or_else(invalid)?;
        let c_name = xsk::c_ifname(ifname).ok_or_else(invalid)?;
        let ifindex = psys::if_index(&ifn).map_err(|source| AfXdpError::NoSuchInterface {
            ifname: ifname.into(),
            source,
        })?;
        let link = LinkWatch::new(ifn).map_err(|source| AfXdpError::LinkState {
            ifname: ifname.into(),
            source,
        })?;

        let area = UmemArea::new(opts.frame_size as usize * opts.n_frames as usize)?;
        let huge = area.is_huge();
        let mut xsk = Xsk::new(area);
        let geom = Geometry {
            frame_size: opts.frame_size,
            rx_ring: opts.rx_ring,
            tx_ring: opts.tx_ring,
        };
        match opts.zero_copy {
            Some(zc) => xsk.bind(&c_name, opts.queue, geom, zc)?,
            None => {
                if let Err(e) = xsk.bind(&c_name, opts.queue, geom, true) {
                    eprintln!("dvs: afxdp {name}: zero-copy unavailable ({e}); using copy mode");
                    xsk.bind(&c_name, opts.queue, geom, false)?;
                }
            }
        }

        let program = match opts.mode {
            XdpMode::Auto => match XdpProgram::attach(ifname, ifindex, opts.queue, XdpMode::Native)
            {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("dvs: afxdp {name}: {e}; falling back to generic XDP");
                    XdpProgram::attach(ifname, ifindex, opts.queue, XdpMode::Generic)?
                }
            },
            m => XdpProgram::attach(ifname, ifindex, opts.queue, m)?,
        };
        xsk.register(&program)?;
        let mode = program.attached_mode();

        let n_rx = (opts.n_frames / 2).min(opts.rx_ring);
        let rings = xsk.rings();
        let (base, len, fd) = (xsk.area().base(), xsk.area().len(), xsk.fd());
        let rx = RxQueue::new(rings.rx, rings.fill, base, len, opts.frame_size, n_rx, fd);
        let tx = TxQueue::new(
            rings.tx,
            rings.comp,
            base,
            opts.frame_size,
            opts.tx_ring,
            n_rx,
            opts.n_frames - n_rx,
            fd,
        );
        let n_queues = rx_queue_count(ifname);
        if n_queues > 1 {
            eprintln!(
                "dvs: warning: afxdp {name}: {ifname} has {n_queues} receive queues but the port \
                 binds only queue {}; open one port per queue or reduce them \
                 (ethtool -L {ifname} combined 1)",
                opts.queue
            );
        }
        eprintln!(
            "dvs: afxdp {name}: {ifname} queue {}: {mode} XDP, {} mode, UMEM {} KiB in {} pages",
            opts.queue,
            if xsk.zero_copy() { "zero-copy" } else { "copy" },
            len >> 10,
            if huge { "2 MiB" } else { "normal" },
        );
        Ok(AfXdpPort {
            name: name.into(),
            ifname: ifname.into(),
            queue: opts.queue,
            rx: Mutex::new(rx),
            tx: Mutex::new(tx),
            _program: program,
            xsk,
            mode,
            max_rx: (opts.frame_size - xdp_sys::XDP_PACKET_HEADROOM) as usize,
            folded: Mutex::new(XdpSocketStats::default()),
            link,
            mtu: MtuCell::new(mtu::MTU_MAX),
            counters: PortCounters::default(),
        })
    }

    /// The kernel interface.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// The interface queue this port is bound to.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// Where the XDP program actually runs (`Native` or `Generic`, never `Auto`).
    pub fn xdp_mode(&self) -> XdpMode {
        self.mode
    }

    /// Whether the socket runs zero-copy (as reported by the kernel).
    pub fn zero_copy(&self) -> bool {
        self.xsk.zero_copy()
    }

    /// The kernel's counters for this socket (one `getsockopt`; not for the hot path).
    pub fn socket_stats(&self) -> io::Result<XdpSocketStats> {
        let s = self.xsk.statistics()?;
        Ok(XdpSocketStats {
            rx_dropped: s.rx_dropped,
            rx_invalid_descs: s.rx_invalid_descs,
            tx_invalid_descs: s.tx_invalid_descs,
            rx_ring_full: s.rx_ring_full,
            rx_fill_ring_empty_descs: s.rx_fill_ring_empty_descs,
            tx_ring_empty_descs: s.tx_ring_empty_descs,
        })
    }
}

/// Receive queues of an interface, from sysfs (0 if unknown).
fn rx_queue_count(ifname: &str) -> usize {
    std::fs::read_dir(format!("/sys/class/net/{ifname}/queues"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
                .count()
        })
        .unwrap_or(0)
}

impl Port for AfXdpPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "afxdp"
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
        lock(&self.tx).send(self.mtu(), pool, batch, &mut t);
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
        // XDP_STATISTICS is cumulative: fold in what changed since the last call. Frames the
        // kernel dropped for lack of a fill buffer or a full RX ring are receive drops; invalid
        // descriptors would be our bug, so they count as errors.
        let Ok(now) = self.socket_stats() else {
            return;
        };
        let mut last = lock(&self.folded);
        let d = |a: u64, b: u64| a.saturating_sub(b);
        let c = &self.counters;
        PortCounters::add(
            &c.rx_dropped,
            d(now.rx_dropped, last.rx_dropped) + d(now.rx_ring_full, last.rx_ring_full),
        );
        PortCounters::add(&c.rx_errors, d(now.rx_invalid_descs, last.rx_invalid_descs));
        PortCounters::add(&c.tx_errors, d(now.tx_invalid_descs, last.tx_invalid_descs));
        *last = now;
    }

    fn mtu(&self) -> u32 {
        self.mtu
            .get()
            .min(self.link.mtu())
            .min(mtu::mtu_for_frame(self.max_rx))
    }

    /// One UMEM frame holds one whole frame: this port does not use multi-buffer AF_XDP
    /// (`XDP_USE_SG`, which needs a frags-aware XDP program and chains of descriptors on both
    /// rings), so an MTU whose frames do not fit a frame is refused here, at configuration time.
    fn set_mtu(&self, mtu: u32) -> Result<(), MtuError> {
        let max_rx = self.max_rx;
        self.mtu.set_checked(
            mtu,
            mtu::mtu_for_frame(max_rx),
            "afxdp",
            || format!("an AF_XDP UMEM frame holds {max_rx}-byte frames after the XDP headroom"),
            "; use kind = \"afpacket\" (or dpdk) for jumbo frames on this interface",
        )
    }
}
