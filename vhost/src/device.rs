//! The PMD-facing device: [`VhostNetDevice`] owns the shared queue array and
//! the protocol thread, and offers the burst calls the datapath's port wraps.
//!
//! Virtqueue `2*qp` is the guest's RX queue (our `tx_burst`), `2*qp + 1` its
//! TX queue (our `rx_burst`). A burst takes the queue's lock with `try_lock`
//! (never blocks for long: `tx_burst` retries for a moment), works on the
//! ring, and writes the call eventfd at most once if the guest asked for an
//! interrupt. The fenced interrupt check of a guest RX ring may be deferred
//! (see `vring`); `rx_burst`, which every PMD loop calls, settles it for its
//! queue pair when the guest's TX is idle or every few polls. Link state, active queue pairs
//! and negotiated features are published by the protocol thread in atomics
//! so that `link_up()` and friends cost a load.

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::thread::JoinHandle;

use crate::net::QueueCounters;
use crate::queue::Vq;

/// Which side opens the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We listen on the socket path and accept the VM's connection.
    Server,
    /// We connect to the VM's socket and reconnect (100 ms .. 1 s backoff)
    /// whenever it goes away (OVS `dpdkvhostuserclient` semantics).
    Client,
}

/// Device configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VhostConfig {
    /// Unix socket path.
    pub socket: PathBuf,
    /// Server or client.
    pub role: Role,
    /// Maximum queue pairs offered (VIRTIO_NET_F_MQ).
    pub queue_pairs: u16,
    /// Largest payload the switch hands this guest (its MTU). Not offered in config space:
    /// QEMU takes the guest's MTU from its own `host_mtu` property.
    pub mtu: u16,
}

/// What the frontend set up on one virtqueue, for diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VringInfo {
    /// Virtqueue index (even: the guest's RX, odd: its TX).
    pub index: u16,
    /// Ring size from SET_VRING_NUM (0: not set).
    pub size: u32,
    /// Ring addresses were given (SET_VRING_ADDR).
    pub addressed: bool,
    /// Started by SET_VRING_KICK and not stopped since (GET_VRING_BASE, reset).
    pub started: bool,
    /// Enabled (SET_VRING_ENABLE, or implicitly without PROTOCOL_FEATURES).
    pub enabled: bool,
    /// A call eventfd is installed (interrupts can reach the guest).
    pub call: bool,
    /// The ring is mapped and the PMD moves packets on it.
    pub live: bool,
    /// Frames moved on this ring over the device's life.
    pub packets: u64,
}

/// Largest `queue_pairs` accepted (vhost-user ring indexes are 8 bits).
pub const MAX_QUEUE_PAIRS: u16 = 128;

/// Errors of [`VhostNetDevice::start`].
#[derive(Debug, thiserror::Error)]
pub enum VhostError {
    /// `queue_pairs` is zero or too large.
    #[error("queue_pairs must be 1..={MAX_QUEUE_PAIRS}, got {0}")]
    BadQueuePairs(u16),
    /// The server socket could not be created.
    #[error("cannot listen on {path}: {source}")]
    Listen {
        /// Socket path.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// The protocol thread could not be spawned.
    #[error("cannot spawn the vhost-user protocol thread: {0}")]
    Spawn(std::io::Error),
}

/// Device counters (a plain copy).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct VhostStats {
    /// Malformed descriptor chains or ring indexes (dropped, counted).
    pub bad_descriptors: u64,
    /// Unusable virtio-net headers on guest TX.
    pub bad_headers: u64,
    /// Guest frames larger than the caller's buffer (dropped whole).
    pub rx_oversize: u64,
    /// Guest frames shorter than an Ethernet header (dropped).
    pub rx_runts: u64,
    /// Frames for the guest that found no RX buffers.
    pub tx_no_buffers: u64,
    /// Frames for the guest that fit no single buffer (no MRG_RXBUF).
    pub tx_oversize: u64,
    /// tx_burst calls on a queue that was not ready.
    pub tx_not_ready: u64,
    /// Connections after the first one.
    pub reconnects: u64,
    /// Connections accepted or made.
    pub connections: u64,
    /// Connections dropped for a protocol violation.
    pub protocol_errors: u64,
    /// Ring setups refused (ring outside memory, misaligned...).
    pub ring_setup_errors: u64,
    /// Interrupts sent to the guest (call eventfd writes).
    pub guest_notifications: u64,
    /// NEEDS_CSUM checksums completed in software.
    pub csum_completed: u64,
    /// Frames received from the guest.
    pub rx_packets: u64,
    /// Bytes received from the guest.
    pub rx_bytes: u64,
    /// Frames delivered to the guest.
    pub tx_packets: u64,
    /// Bytes delivered to the guest.
    pub tx_bytes: u64,
    /// RARP announcements sent for the guest (SEND_RARP).
    pub rarps_sent: u64,
}

/// State shared by the protocol thread and the PMDs.
pub(crate) struct Shared {
    pub cfg: VhostConfig,
    pub vqs: Box<[Mutex<Vq>]>,
    /// Per virtqueue: a guest RX ring holds entries whose interrupt decision
    /// was deferred (set by `tx_burst`, cleared by `rx_burst`'s settle).
    unsettled: Box<[AtomicBool]>,
    link: AtomicBool,
    active_qps: AtomicU16,
    features: AtomicU64,
    protocol: AtomicU64,
    pub stop: AtomicBool,
    /// Clone of the live connection, for `stop()` to shut it down.
    pub conn: Mutex<Option<UnixStream>>,
    pub connections: AtomicU64,
    pub protocol_errors: AtomicU64,
    tx_not_ready: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Device status the frontend last set (SET_STATUS), plus one; 0 = never set on this
    /// connection.
    status: AtomicU16,
    /// A MAC to announce from the guest (SEND_RARP), taken by the next `rx_burst`.
    rarp: Mutex<Option<[u8; 6]>>,
    rarp_pending: AtomicBool,
    rarps_sent: AtomicU64,
}

/// Polls of a busy guest TX queue after which its pair's deferred guest RX
/// interrupt decision is made anyway.
const SETTLE_POLLS: u8 = 8;

/// Spins `try_lock_briefly` makes before giving up (a few hundred
/// nanoseconds: enough for another PMD's settle, not for a reconfiguration).
const LOCK_SPINS: u32 = 256;

/// `try_lock`, retried for a moment: a guest RX ring is locked briefly by
/// the PMD that settles its interrupt decision (`rx_burst`), and a burst
/// should wait that out rather than drop its frames.
fn try_lock_briefly(m: &Mutex<Vq>) -> Option<MutexGuard<'_, Vq>> {
    for _ in 0..LOCK_SPINS {
        match m.try_lock() {
            Ok(g) => return Some(g),
            Err(TryLockError::Poisoned(e)) => return Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => std::hint::spin_loop(),
        }
    }
    None
}

fn net_unsettled(q: &Vq) -> bool {
    q.net.as_ref().is_some_and(|n| n.unsettled())
}

/// Lock a mutex, recovering from poisoning (queue state stays consistent
/// because every mutation is a plain assignment).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn set_link(&self, up: bool, active: u16, features: u64, protocol: u64) {
        self.features.store(features, Ordering::Relaxed);
        self.protocol.store(protocol, Ordering::Relaxed);
        self.active_qps.store(active, Ordering::Relaxed);
        self.link.store(up, Ordering::Release);
    }

    pub fn note_error(&self, msg: &str) {
        *lock(&self.last_error) = Some(msg.to_string());
    }

    /// Record the status the frontend set with SET_STATUS.
    pub fn note_status(&self, status: u8) {
        self.status.store(u16::from(status) + 1, Ordering::Relaxed);
    }

    /// A connection ended: forget its status and any RARP it queued.
    pub fn disconnected(&self) {
        self.status.store(0, Ordering::Relaxed);
        *lock(&self.rarp) = None;
        self.rarp_pending.store(false, Ordering::Relaxed);
        self.set_link(false, 0, 0, 0);
    }

    /// Queue a RARP announcing `mac` (SEND_RARP).
    pub fn queue_rarp(&self, mac: [u8; 6]) {
        *lock(&self.rarp) = Some(mac);
        self.rarp_pending.store(true, Ordering::Release);
    }
}

/// A vhost-user virtio-net device (backend side), polled by PMD threads.
pub struct VhostNetDevice {
    name: String,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl VhostNetDevice {
    /// Create the device and spawn its protocol thread. Server role binds
    /// the socket before returning; the guest may connect at any time later.
    pub fn start(name: &str, cfg: VhostConfig) -> Result<Arc<VhostNetDevice>, VhostError> {
        if cfg.queue_pairs == 0 || cfg.queue_pairs > MAX_QUEUE_PAIRS {
            return Err(VhostError::BadQueuePairs(cfg.queue_pairs));
        }
        let listener = match cfg.role {
            Role::Server => {
                // A stale socket from a previous run would make bind fail.
                let _ = std::fs::remove_file(&cfg.socket);
                let l = UnixListener::bind(&cfg.socket).map_err(|source| VhostError::Listen {
                    path: cfg.socket.clone(),
                    source,
                })?;
                l.set_nonblocking(true)
                    .map_err(|source| VhostError::Listen {
                        path: cfg.socket.clone(),
                        source,
                    })?;
                Some(l)
            }
            Role::Client => None,
        };
        // Taken now, before anyone else can bind the path: the thread removes the file on
        // exit only if it is still this one.
        let ours = listener
            .as_ref()
            .and_then(|_| crate::conn::socket_identity(&cfg.socket));
        let nvq = usize::from(cfg.queue_pairs) * 2;
        let shared = Arc::new(Shared {
            cfg,
            vqs: (0..nvq).map(|_| Mutex::new(Vq::default())).collect(),
            unsettled: (0..nvq).map(|_| AtomicBool::new(false)).collect(),
            link: AtomicBool::new(false),
            active_qps: AtomicU16::new(0),
            features: AtomicU64::new(0),
            protocol: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            conn: Mutex::new(None),
            connections: AtomicU64::new(0),
            protocol_errors: AtomicU64::new(0),
            tx_not_ready: AtomicU64::new(0),
            last_error: Mutex::new(None),
            status: AtomicU16::new(0),
            rarp: Mutex::new(None),
            rarp_pending: AtomicBool::new(false),
            rarps_sent: AtomicU64::new(0),
        });
        let s2 = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("vhost-{name}"))
            .spawn(move || crate::conn::run(s2, listener, ours))
            .map_err(VhostError::Spawn)?;
        Ok(Arc::new(VhostNetDevice {
            name: name.to_string(),
            shared,
            thread: Mutex::new(Some(thread)),
        }))
    }

    /// Device name given at start.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Configuration given at start.
    pub fn config(&self) -> &VhostConfig {
        &self.shared.cfg
    }

    /// Dequeue up to `bufs.len()` packets from the guest's TX virtqueue of
    /// queue pair `qp` into the caller's buffers (copy, headers stripped);
    /// `lens[i]` = frame length. Returns the count. Never blocks.
    pub fn rx_burst(&self, qp: u16, bufs: &mut [&mut [u8]], lens: &mut [usize]) -> usize {
        let Some(vq) = self.shared.vqs.get(usize::from(qp) * 2 + 1) else {
            return 0;
        };
        let mut g = match vq.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return 0,
        };
        let q = &mut *g;
        let mut packets = 0;
        if let (true, Some(net), Some(mem)) = (q.enabled, q.net.as_mut(), q.mem.as_ref()) {
            let b = net.dequeue(&mem.mem, bufs, lens);
            if b.notify {
                q.notify();
            }
            packets = b.packets;
            if self.shared.rarp_pending.load(Ordering::Relaxed) && packets < bufs.len() {
                packets += self.announce(bufs[packets], &mut lens[packets]);
            }
        }
        self.settle_guest_rx(qp, q, packets == 0);
        packets
    }

    /// Write the queued RARP (SEND_RARP) into `buf` as a frame from the guest; returns how
    /// many frames were written (0 or 1).
    #[cold]
    fn announce(&self, buf: &mut [u8], len: &mut usize) -> usize {
        let Some(mac) = lock(&self.shared.rarp).take() else {
            return 0;
        };
        self.shared.rarp_pending.store(false, Ordering::Relaxed);
        match packet::build::emit_rarp_announce(buf, mac) {
            Ok(n) => {
                *len = n;
                self.shared.rarps_sent.fetch_add(1, Ordering::Relaxed);
                1
            }
            Err(_) => 0,
        }
    }

    /// The deferred interrupt decision of queue pair `qp`'s guest RX ring
    /// (see `SplitRing::finish`), made here because this is the call a PMD
    /// makes on every loop whether or not frames flow to the guest: at once
    /// when the guest's TX is idle, else every [`SETTLE_POLLS`] polls. A
    /// guest that just re-enabled interrupts waits at most that long for
    /// the one that covers frames already in its ring.
    fn settle_guest_rx(&self, qp: u16, txq: &mut Vq, idle: bool) {
        let i = usize::from(qp) * 2;
        let Some(flag) = self.shared.unsettled.get(i) else {
            return;
        };
        if !flag.load(Ordering::Relaxed) {
            return;
        }
        txq.settle_polls = txq.settle_polls.saturating_add(1);
        if !idle && txq.settle_polls < SETTLE_POLLS {
            return;
        }
        let mut g = match self.shared.vqs[i].try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            // Busy (reconfiguring, or another PMD's burst): next poll.
            Err(TryLockError::WouldBlock) => return,
        };
        txq.settle_polls = 0;
        flag.store(false, Ordering::Relaxed);
        let q = &mut *g;
        let (Some(net), Some(mem)) = (q.net.as_mut(), q.mem.as_ref()) else {
            return;
        };
        if net.settle(&mem.mem) {
            q.notify();
        }
    }

    /// Enqueue `frames` into the guest's RX virtqueue of queue pair `qp`
    /// (copy, virtio-net header prepended, MRG_RXBUF honoured). Returns how
    /// many were delivered; the rest are the caller's drops.
    pub fn tx_burst(&self, qp: u16, frames: &[&[u8]]) -> usize {
        if frames.is_empty() {
            return 0;
        }
        let not_ready = || {
            self.shared.tx_not_ready.fetch_add(1, Ordering::Relaxed);
            0
        };
        let Some(vq) = self.shared.vqs.get(usize::from(qp) * 2) else {
            return not_ready();
        };
        let Some(mut g) = try_lock_briefly(vq) else {
            return not_ready();
        };
        let q = &mut *g;
        if !q.enabled {
            return not_ready();
        }
        let (Some(net), Some(mem)) = (q.net.as_mut(), q.mem.as_ref()) else {
            return not_ready();
        };
        let b = net.enqueue(&mem.mem, frames);
        if b.notify {
            q.notify();
        }
        let flag = &self.shared.unsettled[usize::from(qp) * 2];
        if net_unsettled(q) && !flag.load(Ordering::Relaxed) {
            flag.store(true, Ordering::Relaxed);
        }
        b.packets
    }

    /// Frontend connected and queue pair 0 ready (and DRIVER_OK when the
    /// STATUS protocol feature is in use).
    pub fn link_up(&self) -> bool {
        self.shared.link.load(Ordering::Acquire)
    }

    /// Queue pairs whose both virtqueues are ready.
    pub fn active_queue_pairs(&self) -> u16 {
        self.shared.active_qps.load(Ordering::Relaxed)
    }

    /// Virtio features the frontend acked on the current connection.
    pub fn negotiated_features(&self) -> u64 {
        self.shared.features.load(Ordering::Relaxed)
    }

    /// vhost-user protocol features acked on the current connection.
    pub fn negotiated_protocol_features(&self) -> u64 {
        self.shared.protocol.load(Ordering::Relaxed)
    }

    /// Last connection-level error (protocol violation, mapping failure).
    pub fn last_error(&self) -> Option<String> {
        lock(&self.shared.last_error).clone()
    }

    /// The device status the frontend last set with SET_STATUS on the current connection
    /// (`None`: it has not used SET_STATUS, or nothing is connected).
    pub fn frontend_status(&self) -> Option<u8> {
        match self.shared.status.load(Ordering::Relaxed) {
            0 => None,
            s => Some((s - 1) as u8),
        }
    }

    /// What the frontend set up on every virtqueue.
    pub fn vrings(&self) -> Vec<VringInfo> {
        self.shared
            .vqs
            .iter()
            .enumerate()
            .map(|(i, vq)| {
                let g = lock(vq);
                VringInfo {
                    index: i as u16,
                    size: g.size,
                    addressed: g.va.is_some(),
                    started: g.started,
                    enabled: g.enabled,
                    call: g.call.is_some(),
                    live: g.ready(),
                    packets: g.counters().packets,
                }
            })
            .collect()
    }

    /// Counters, summed over all queues (they survive reconnects).
    pub fn stats(&self) -> VhostStats {
        let mut s = VhostStats::default();
        for (i, vq) in self.shared.vqs.iter().enumerate() {
            let (c, setup): (QueueCounters, u64) = {
                let g = lock(vq);
                (g.counters(), g.setup_errors)
            };
            s.bad_descriptors += c.bad_descriptors;
            s.bad_headers += c.bad_headers;
            s.rx_oversize += c.rx_oversize;
            s.rx_runts += c.rx_runts;
            s.tx_no_buffers += c.tx_no_buffers;
            s.tx_oversize += c.tx_oversize;
            s.guest_notifications += c.notifications;
            s.csum_completed += c.csum_completed;
            s.ring_setup_errors += setup;
            if i % 2 == 1 {
                s.rx_packets += c.packets;
                s.rx_bytes += c.bytes;
            } else {
                s.tx_packets += c.packets;
                s.tx_bytes += c.bytes;
            }
        }
        let conns = self.shared.connections.load(Ordering::Relaxed);
        s.connections = conns;
        s.reconnects = conns.saturating_sub(1);
        s.protocol_errors = self.shared.protocol_errors.load(Ordering::Relaxed);
        s.tx_not_ready = self.shared.tx_not_ready.load(Ordering::Relaxed);
        s.rarps_sent = self.shared.rarps_sent.load(Ordering::Relaxed);
        s
    }

    /// Stop the protocol thread, drop the connection and queue state, and
    /// remove the server socket. Idempotent.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(c) = lock(&self.shared.conn).as_ref() {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
    }
}

impl Drop for VhostNetDevice {
    fn drop(&mut self) {
        self.stop();
    }
}
