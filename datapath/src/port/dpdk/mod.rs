//! The DPDK port: any DPDK ethdev — a virtual device (`net_af_packet0,iface=veth1`,
//! `net_tap0,iface=dtap0`, `net_vhost0,iface=/tmp/sock`, `net_virtio_user0,path=...`, `net_null0`,
//! `net_ring0`) or a PCI NIC (`0000:01:00.0`) — behind the burst [`Port`] trait.
//!
//! Opening a port finds the ethdev by the device name (the devargs up to the first comma); if it
//! does not exist yet (not given with `--vdev` at EAL init) it is hot-plugged with
//! `rte_dev_probe(devargs)`, and removed again when the port is dropped. Each port gets its own
//! mbuf pool (`rte_pktmbuf_pool_create`, in EAL memory: hugepages unless EAL runs `--no-huge`)
//! sized for every descriptor of every queue plus the per-lcore caches, with a data room big
//! enough for one MTU-sized frame in one segment. The device is configured with the requested
//! queue counts (RSS over whatever hash types it supports when there is more than one receive
//! queue), promiscuous mode and the MTU, then started.
//!
//! The fast path copies: receive copies each mbuf (chains included) into a frame of the polling
//! PMD's [`PacketPool`](crate::mempool::PacketPool) and frees the whole burst of mbufs with one
//! `rte_pktmbuf_free_bulk`;
//! transmit takes a burst of mbufs with one `rte_pktmbuf_alloc_bulk`, copies the packets in and
//! calls `rte_eth_tx_burst`. Copying keeps one buffer type in the switch (the same as the kernel
//! backends) at the cost of a memcpy per packet, which for 64-byte to 1500-byte frames is small
//! next to classification. DPDK queues are not thread-safe, so each queue has a mutex, taken once
//! per burst and uncontended in a correct setup (one poller per receive queue; transmit queue =
//! caller's queue index modulo the port's queue count).
//!
//! Link state (`rte_eth_link_get_nowait`) is cached and re-read at most every 100 ms, lazily
//! from `link_up()` (about once per transmit burst — the cost is a clock read). The device's
//! error counters (`rte_eth_stats_get`) are folded in by [`Port::refresh_stats`], which the
//! switch's housekeeping thread calls a few times a second — never the PMDs, so `counters()`
//! costs nothing on the fast path. They are folded in as deltas: `imissed` (the NIC ran
//! out of descriptors because we polled too slowly) and `rx_nombuf` become `rx_dropped`,
//! `ierrors` becomes `rx_errors`, `oerrors` becomes `tx_errors`; packet and byte counts stay the
//! switch's own. The full driver-specific set is available with [`DpdkPort::xstats`].

mod burst;
mod eal;
mod stats;

pub use eal::{eal_initialised, hugepages_available, init_eal, plugin_dir, thread_lcore};

use super::{Port, PortCounters};
use crate::mempool::BATCH_SIZE;
use dpdk_sys as sys;
use eal::{last_error, strerror};
use stats::HwBaseline;
use std::ffi::{CStr, CString};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use thiserror::Error;

/// How long cached link state and device counters stay fresh.
pub const REFRESH: Duration = Duration::from_millis(100);

/// Errors from EAL or from opening a DPDK port.
#[derive(Debug, Error)]
pub enum DpdkError {
    /// An EAL argument contains a NUL byte.
    #[error("invalid EAL argument {0:?}")]
    EalArgument(String),
    /// `rte_eal_init` failed.
    #[error("DPDK EAL initialisation failed: {0}")]
    EalInit(String),
    /// EAL was already initialised (or failed) with other arguments.
    #[error("DPDK EAL already initialised with different arguments: {0}")]
    EalAlreadyInitialised(String),
    /// A port was opened before [`init_eal`].
    #[error("DPDK EAL is not initialised")]
    EalNotInitialised,
    /// The devargs are empty or contain a NUL byte.
    #[error("invalid DPDK devargs {0:?}")]
    InvalidDevargs(String),
    /// The options make no sense (zero queues, zero ring size).
    #[error("invalid DPDK port options for {dev}: {reason}")]
    InvalidOptions {
        /// Device name.
        dev: String,
        /// What is wrong.
        reason: String,
    },
    /// `rte_dev_probe` failed (unknown driver, bad devargs, missing interface).
    #[error("probing DPDK device {devargs:?} failed: {reason}")]
    Probe {
        /// The devargs.
        devargs: String,
        /// DPDK's error text.
        reason: String,
    },
    /// No ethdev with that name exists after probing.
    #[error("no DPDK ethdev named {0:?}")]
    PortNotFound(String),
    /// `rte_eth_dev_info_get` failed.
    #[error("reading device info of {dev} failed: {reason}")]
    DeviceInfo {
        /// Device name.
        dev: String,
        /// DPDK's error text.
        reason: String,
    },
    /// More queues were asked for than the device has.
    #[error("{dev} supports {max} {dir} queues, {asked} asked for")]
    TooManyQueues {
        /// Device name.
        dev: String,
        /// "rx" or "tx".
        dir: &'static str,
        /// Requested.
        asked: u16,
        /// Device maximum.
        max: u16,
    },
    /// The MTU is outside the device's range.
    #[error("{dev} supports MTU {min}..={max}, {asked} asked for")]
    Mtu {
        /// Device name.
        dev: String,
        /// Requested.
        asked: u32,
        /// Device minimum.
        min: u32,
        /// Device maximum.
        max: u32,
    },
    /// `rte_eth_dev_configure` (or descriptor adjustment) failed.
    #[error("configuring {dev} failed: {reason}")]
    Configure {
        /// Device name.
        dev: String,
        /// DPDK's error text.
        reason: String,
    },
    /// `rte_pktmbuf_pool_create` failed (usually not enough EAL memory).
    #[error("creating the mbuf pool for {dev} ({mbufs} mbufs) failed: {reason}")]
    MempoolCreate {
        /// Device name.
        dev: String,
        /// Pool size asked for.
        mbufs: u32,
        /// DPDK's error text.
        reason: String,
    },
    /// `rte_eth_rx_queue_setup` failed.
    #[error("setting up rx queue {queue} of {dev} failed: {reason}")]
    RxQueueSetup {
        /// Device name.
        dev: String,
        /// Queue index.
        queue: u16,
        /// DPDK's error text.
        reason: String,
    },
    /// `rte_eth_tx_queue_setup` failed.
    #[error("setting up tx queue {queue} of {dev} failed: {reason}")]
    TxQueueSetup {
        /// Device name.
        dev: String,
        /// Queue index.
        queue: u16,
        /// DPDK's error text.
        reason: String,
    },
    /// `rte_eth_dev_start` failed.
    #[error("starting {dev} failed: {reason}")]
    Start {
        /// Device name.
        dev: String,
        /// DPDK's error text.
        reason: String,
    },
    /// `rte_eth_xstats_get{,_names}` failed.
    #[error("reading extended stats of {dev} failed: {reason}")]
    Xstats {
        /// Device name.
        dev: String,
        /// DPDK's error text.
        reason: String,
    },
}

/// Geometry of a DPDK port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpdkOptions {
    /// Receive queues.
    pub rxq: u16,
    /// Transmit queues.
    pub txq: u16,
    /// Descriptors per queue (adjusted to the device's limits).
    pub ring_size: u16,
    /// Mbufs in the port's pool (raised to what the rings and caches need).
    pub mbufs: u32,
    /// MTU (L3 bytes); 0 keeps the device default.
    pub mtu: u32,
}

impl Default for DpdkOptions {
    fn default() -> DpdkOptions {
        DpdkOptions {
            rxq: 1,
            txq: 1,
            ring_size: 1024,
            mbufs: 8192,
            mtu: 1500,
        }
    }
}

/// Per-lcore mempool cache size (mbufs).
const MEMPOOL_CACHE: u32 = 256;
/// Ethernet header + two VLAN tags + FCS on top of the MTU.
const L2_OVERHEAD: u32 = 14 + 8 + 4;

/// Scratch mbuf pointers of one queue; the mutex around it is the queue's ownership.
struct QueueState {
    mbufs: [*mut sys::rte_mbuf; BATCH_SIZE],
    lens: [u32; BATCH_SIZE],
}

impl QueueState {
    fn new() -> QueueState {
        QueueState {
            mbufs: [std::ptr::null_mut(); BATCH_SIZE],
            lens: [0; BATCH_SIZE],
        }
    }
}

/// A port over a DPDK ethdev.
pub struct DpdkPort {
    name: String,
    dev: String,
    port_id: u16,
    n_rxq: u16,
    n_txq: u16,
    max_frame: usize,
    /// The MTU the device and its mbufs were set up for (the most this port carries).
    mtu_max: u32,
    /// The port's MTU: frames over it are not sent (`too_big`).
    mtu: crate::port::mtu::MtuCell,
    pool: NonNull<sys::rte_mempool>,
    /// The device, when this port hot-plugged it (removed on drop).
    probed: Option<NonNull<sys::rte_device>>,
    rxqs: Box<[Mutex<QueueState>]>,
    txqs: Box<[Mutex<QueueState>]>,
    counters: PortCounters,
    epoch: Instant,
    link_next_ms: AtomicU64,
    link: AtomicBool,
    link_speed: AtomicU32,
    hw: Mutex<HwBaseline>,
}

// SAFETY: the raw pointers are a DPDK mempool and device, both usable from any thread (mempools
// are multi-producer/multi-consumer; the device pointer is only passed to rte_dev_remove on drop).
// The mbuf scratch arrays are only touched under their queue mutex.
unsafe impl Send for DpdkPort {}
// SAFETY: see `Send`; every shared-state access is atomic or behind a mutex.
unsafe impl Sync for DpdkPort {}

impl std::fmt::Debug for DpdkPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpdkPort")
            .field("name", &self.name)
            .field("dev", &self.dev)
            .field("port_id", &self.port_id)
            .field("rxq", &self.n_rxq)
            .field("txq", &self.n_txq)
            .finish_non_exhaustive()
    }
}

fn port_by_name(dev: &CStr) -> Option<u16> {
    let mut id = 0u16;
    // SAFETY: `dev` is NUL-terminated; `id` is a valid out-pointer.
    let rc = unsafe { sys::rte_eth_dev_get_port_by_name(dev.as_ptr(), &mut id) };
    (rc == 0).then_some(id)
}

/// Undoes a partial open (and a full one, from `DpdkPort::drop`).
struct Teardown {
    port_id: Option<u16>,
    started: bool,
    pool: Option<NonNull<sys::rte_mempool>>,
    probed: Option<NonNull<sys::rte_device>>,
}

impl Teardown {
    fn run(&mut self) {
        if let Some(id) = self.port_id.take() {
            if self.started {
                // SAFETY: `id` is a valid, started port owned by this DpdkPort.
                unsafe { sys::rte_eth_dev_stop(id) };
            }
            match self.probed.take() {
                // SAFETY: we probed this device; removing it also closes its ethdev.
                Some(dev) => unsafe {
                    sys::rte_dev_remove(dev.as_ptr());
                },
                // SAFETY: `id` is a valid stopped port; closing releases its queues.
                // A failed open closes a pre-existing device too: its queues may hold mbufs of
                // the pool freed below.
                None => unsafe {
                    sys::rte_eth_dev_close(id);
                },
            }
        }
        if let Some(mp) = self.pool.take() {
            // SAFETY: the device using the pool is closed and we hold no mbufs between bursts.
            unsafe { sys::rte_mempool_free(mp.as_ptr()) };
        }
    }
}

static POOL_SEQ: AtomicU32 = AtomicU32::new(0);

impl DpdkPort {
    /// Open (probing if needed), configure and start the ethdev named by `devargs`.
    pub fn open(name: &str, devargs: &str, opts: DpdkOptions) -> Result<DpdkPort, DpdkError> {
        if !eal_initialised() {
            return Err(DpdkError::EalNotInitialised);
        }
        let devname = devargs.split(',').next().unwrap_or("").trim();
        let bad = || DpdkError::InvalidDevargs(devargs.to_string());
        if devname.is_empty() {
            return Err(bad());
        }
        let c_dev = CString::new(devname).map_err(|_| bad())?;
        let c_args = CString::new(devargs).map_err(|_| bad())?;
        let dev = devname.to_string();
        if opts.rxq == 0 || opts.txq == 0 || opts.ring_size == 0 {
            return Err(DpdkError::InvalidOptions {
                dev,
                reason: "queue counts and ring size must be at least 1".into(),
            });
        }

        let mut td = Teardown {
            port_id: None,
            started: false,
            pool: None,
            probed: None,
        };
        let port_id = match port_by_name(&c_dev) {
            Some(id) => id,
            None => {
                // SAFETY: `c_args` is NUL-terminated; EAL is initialised.
                let rc = unsafe { sys::rte_dev_probe(c_args.as_ptr()) };
                if rc < 0 {
                    return Err(DpdkError::Probe {
                        devargs: devargs.into(),
                        reason: strerror(rc),
                    });
                }
                let id =
                    port_by_name(&c_dev).ok_or_else(|| DpdkError::PortNotFound(dev.clone()))?;
                td.probed = device_of(id);
                id
            }
        };
        td.port_id = Some(port_id);
        match Self::setup(name, &dev, port_id, opts, &mut td) {
            Ok(port) => Ok(port),
            Err(e) => {
                td.run();
                Err(e)
            }
        }
    }

    fn setup(
        name: &str,
        dev: &str,
        port_id: u16,
        opts: DpdkOptions,
        td: &mut Teardown,
    ) -> Result<DpdkPort, DpdkError> {
        let info = dev_info(port_id).map_err(|reason| DpdkError::DeviceInfo {
            dev: dev.into(),
            reason,
        })?;
        for (dir, asked, max) in [
            ("rx", opts.rxq, info.max_rx_queues),
            ("tx", opts.txq, info.max_tx_queues),
        ] {
            if asked > max {
                return Err(DpdkError::TooManyQueues {
                    dev: dev.into(),
                    dir,
                    asked,
                    max,
                });
            }
        }
        if opts.mtu != 0
            && (opts.mtu < u32::from(info.min_mtu) || opts.mtu > u32::from(info.max_mtu))
        {
            return Err(DpdkError::Mtu {
                dev: dev.into(),
                asked: opts.mtu,
                min: info.min_mtu.into(),
                max: info.max_mtu.into(),
            });
        }
        let configure_err = |reason: String| DpdkError::Configure {
            dev: dev.into(),
            reason,
        };

        let mut conf = sys::rte_eth_conf::default();
        conf.rxmode.mtu = opts.mtu;
        if opts.rxq > 1 && info.flow_type_rss_offloads != 0 {
            conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads;
        }
        // SAFETY: valid port id and a fully initialised conf that outlives the call.
        let rc = unsafe { sys::rte_eth_dev_configure(port_id, opts.rxq, opts.txq, &conf) };
        if rc < 0 {
            return Err(configure_err(strerror(rc)));
        }
        let (mut nb_rx, mut nb_tx) = (opts.ring_size, opts.ring_size);
        // SAFETY: valid port id and out-pointers.
        let rc = unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &mut nb_rx, &mut nb_tx) };
        if rc < 0 {
            return Err(configure_err(strerror(rc)));
        }

        // SAFETY: valid port id.
        let socket = unsafe { sys::rte_eth_dev_socket_id(port_id) };
        let socket = if socket < 0 {
            sys::SOCKET_ID_ANY
        } else {
            socket
        };
        let mtu = if opts.mtu == 0 { 1500 } else { opts.mtu };
        let data_room = (mtu + L2_OVERHEAD)
            .max(sys::RTE_MBUF_DEFAULT_DATAROOM)
            .saturating_add(sys::RTE_PKTMBUF_HEADROOM)
            .min(u32::from(u16::MAX));
        // Every descriptor may hold an mbuf, every lcore cache up to 1.5x its size, plus bursts
        // in flight.
        let need = u32::from(opts.rxq) * u32::from(nb_rx)
            + u32::from(opts.txq) * u32::from(nb_tx)
            + 4 * MEMPOOL_CACHE * 3 / 2
            + 4 * BATCH_SIZE as u32;
        let n_mbufs = opts.mbufs.max(need);
        let seq = POOL_SEQ.fetch_add(1, Ordering::Relaxed);
        let pool_name = CString::new(format!("dvs_mb{port_id}_{seq}"))
            .map_err(|_| DpdkError::InvalidDevargs(dev.into()))?;
        // SAFETY: NUL-terminated name, sizes in range; returns NULL with rte_errno on failure.
        let mp = unsafe {
            sys::rte_pktmbuf_pool_create(
                pool_name.as_ptr(),
                n_mbufs,
                MEMPOOL_CACHE,
                0,
                data_room as u16,
                socket,
            )
        };
        let pool = NonNull::new(mp).ok_or_else(|| DpdkError::MempoolCreate {
            dev: dev.into(),
            mbufs: n_mbufs,
            reason: last_error(),
        })?;
        td.pool = Some(pool);

        for q in 0..opts.rxq {
            // SAFETY: configured port, queue < rxq, NULL conf means driver defaults, live pool.
            let rc = unsafe {
                sys::rte_eth_rx_queue_setup(
                    port_id,
                    q,
                    nb_rx,
                    socket as u32,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            };
            if rc < 0 {
                return Err(DpdkError::RxQueueSetup {
                    dev: dev.into(),
                    queue: q,
                    reason: strerror(rc),
                });
            }
        }
        for q in 0..opts.txq {
            // SAFETY: configured port, queue < txq, NULL conf means driver defaults.
            let rc = unsafe {
                sys::rte_eth_tx_queue_setup(port_id, q, nb_tx, socket as u32, std::ptr::null())
            };
            if rc < 0 {
                return Err(DpdkError::TxQueueSetup {
                    dev: dev.into(),
                    queue: q,
                    reason: strerror(rc),
                });
            }
        }
        // Not every driver has promiscuous mode (ENOTSUP); receiving is still possible then.
        // SAFETY: valid, configured port.
        let _ = unsafe { sys::rte_eth_promiscuous_enable(port_id) };
        // SAFETY: valid, fully configured port.
        let rc = unsafe { sys::rte_eth_dev_start(port_id) };
        if rc < 0 {
            return Err(DpdkError::Start {
                dev: dev.into(),
                reason: strerror(rc),
            });
        }
        td.started = true;

        let port = DpdkPort {
            name: name.into(),
            dev: dev.into(),
            port_id,
            n_rxq: opts.rxq,
            n_txq: opts.txq,
            max_frame: (mtu + 14 + 8) as usize,
            mtu_max: mtu,
            mtu: crate::port::mtu::MtuCell::new(mtu),
            pool,
            probed: td.probed.take(),
            rxqs: (0..opts.rxq)
                .map(|_| Mutex::new(QueueState::new()))
                .collect(),
            txqs: (0..opts.txq)
                .map(|_| Mutex::new(QueueState::new()))
                .collect(),
            counters: PortCounters::default(),
            epoch: Instant::now(),
            link_next_ms: AtomicU64::new(0),
            link: AtomicBool::new(false),
            link_speed: AtomicU32::new(0),
            hw: Mutex::new(HwBaseline::default()),
        };
        // Ownership of port, pool and device moved into `port` (its Drop tears down).
        td.port_id = None;
        td.pool = None;
        port.refresh_link();
        // Start the device counters from zero as far as the switch is concerned.
        if let Some(s) = port.device_stats() {
            let mut hw = port.hw.lock().unwrap_or_else(|e| e.into_inner());
            *hw = HwBaseline::at(&s);
        }
        Ok(port)
    }

    /// The DPDK port id.
    pub fn port_id(&self) -> u16 {
        self.port_id
    }

    /// The ethdev name (devargs up to the first comma).
    pub fn device_name(&self) -> &str {
        &self.dev
    }

    /// Number of transmit queues.
    pub fn n_txq(&self) -> u16 {
        self.n_txq
    }

    /// Mbufs currently free in the port's pool (for leak checks and monitoring).
    pub fn mbufs_available(&self) -> u32 {
        // SAFETY: the pool is live for the port's lifetime.
        unsafe { sys::rte_mempool_avail_count(self.pool.as_ptr()) }
    }

    /// Link speed in Mbit/s from the last link refresh (0 if unknown).
    pub fn link_speed(&self) -> u32 {
        self.link_speed.load(Ordering::Relaxed)
    }

    /// The device's MAC address.
    pub fn mac(&self) -> Option<[u8; 6]> {
        let mut a = sys::rte_ether_addr::default();
        // SAFETY: valid port id and out-pointer.
        let rc = unsafe { sys::rte_eth_macaddr_get(self.port_id, &mut a) };
        (rc == 0).then_some(a.addr_bytes)
    }
}

fn dev_info(port_id: u16) -> Result<sys::rte_eth_dev_info, String> {
    let mut info = sys::rte_eth_dev_info::default();
    // SAFETY: valid out-pointer; the function validates the port id.
    let rc = unsafe { sys::rte_eth_dev_info_get(port_id, &mut info) };
    if rc < 0 {
        return Err(strerror(rc));
    }
    Ok(info)
}

fn device_of(port_id: u16) -> Option<NonNull<sys::rte_device>> {
    dev_info(port_id).ok().and_then(|i| NonNull::new(i.device))
}

impl Drop for DpdkPort {
    fn drop(&mut self) {
        Teardown {
            port_id: Some(self.port_id),
            started: true,
            pool: Some(self.pool),
            probed: self.probed.take(),
        }
        .run();
    }
}

impl Port for DpdkPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "dpdk"
    }

    fn n_rxq(&self) -> u16 {
        self.n_rxq
    }

    fn rx_burst(
        &self,
        rxq: u16,
        pool: &mut crate::mempool::PacketPool,
        batch: &mut crate::mempool::Batch,
    ) -> usize {
        self.rx(rxq, pool, batch)
    }

    fn tx_burst(
        &self,
        txq: u16,
        pool: &mut crate::mempool::PacketPool,
        batch: &mut crate::mempool::Batch,
    ) {
        self.tx(txq, pool, batch)
    }

    fn link_up(&self) -> bool {
        if self.now_ms() >= self.link_next_ms.load(Ordering::Relaxed) {
            self.refresh_link();
        }
        self.link.load(Ordering::Relaxed)
    }

    fn counters(&self) -> &PortCounters {
        &self.counters
    }

    fn refresh_stats(&self) {
        self.fold_device_stats();
    }

    fn max_frame(&self) -> usize {
        self.max_frame
    }

    fn mtu(&self) -> u32 {
        self.mtu.get()
    }

    /// Up to the MTU the device was configured with at open (its mbufs hold one such frame
    /// each, no scatter needed); more needs the port re-opened, which a changed `mtu` in the
    /// configuration does.
    fn set_mtu(&self, mtu: u32) -> Result<(), crate::port::mtu::MtuError> {
        let max = self.mtu_max;
        self.mtu.set_checked(
            mtu,
            max,
            "dpdk",
            || format!("the device was configured for MTU {max}"),
            "",
        )
    }
}
