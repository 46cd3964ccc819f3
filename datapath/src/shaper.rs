//! Egress shaping: packets output to a shaped port wait in priority queues and leave at the
//! configured rate, instead of being policed (dropped) above it.
//!
//! **Rate.** A dual token bucket: committed (`cir`, `cbs`) and, when `pir` is set, peak (`pir`,
//! `pbs`, one jumbo frame by default). A packet leaves only when both buckets hold its length
//! (frame bytes without FCS, as meters count). Arithmetic is integer and exact, as in
//! [`crate::meter`]: one byte is 10^9 tokens, so one nanosecond adds exactly `rate` tokens
//! (bytes per second) and refills never round. Buckets start full. The committed bucket is never
//! smaller than one jumbo frame, so any frame the switch carries can eventually leave.
//!
//! **Queues.** Up to eight FIFOs (queue ids 0..=7, chosen by OpenFlow `set_queue`; unknown ids and
//! packets without `set_queue` use queue 0), each bounded (`queue_packets`): a full queue
//! tail-drops (`qos_queue_full`). Among backlogged queues the next packet is picked by **deficit
//! round robin weighted by priority + 1**: each visit adds `(priority + 1) * QUANTUM` bytes of
//! credit to a queue, which sends head packets while its credit covers them. Two backlogged
//! queues of priorities 1 and 3 thus share the rate 2:4; no queue starves, and packet sizes do
//! not skew the split (credit is in bytes). When the buckets cannot pay for the packet DRR
//! picked, nothing else is sent either (skipping ahead to a smaller packet of another queue would
//! break the weights); the packet waits for tokens.
//!
//! **Threads.** Packets belong to the pool of the PMD that received them, and a pool is never
//! touched by another thread, so the queues are per PMD ([`QueueSet`], one per shaped port per
//! PMD) and only the buckets are shared ([`Shaper`]: a small `Mutex`, taken once per drain of
//! up to a burst, as meters take theirs once per packet). The rate is therefore exact for the
//! port as a whole; the priority split is exact among the packets of one PMD (and first come,
//! first served between PMDs). A QoS change updates the shared [`Shaper`] in place, so queued
//! packets, tokens and counters survive it and the port is not touched.

use crate::config::ShaperConfig;
use crate::mempool::{Batch, Packet, PacketPool};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Tokens per byte: a rate of R bytes/s adds R tokens per nanosecond.
const TOKENS_PER_BYTE: u64 = 1_000_000_000;
/// The largest frame dvs carries: the smallest committed bucket and the default peak bucket.
pub const MAX_FRAME_BYTES: u64 = 9216;
/// Default committed bucket when `cbs` is 0: this many ns worth of `cir` (10 ms).
const DEFAULT_CBS_NS: u64 = 10_000_000;
/// DRR credit per visit per unit of weight (bytes): about one full-size standard frame.
pub const QUANTUM: u64 = 1536;
/// Number of queues.
pub const N_QUEUES: usize = 8;

/// The shared part of a shaper: its buckets, its queue layout and its counters.
#[derive(Debug)]
pub struct Shaper {
    state: Mutex<Buckets>,
    /// Bumped by every reconfiguration, so PMDs re-read the queue layout.
    version: AtomicU64,
    /// Packets and bytes that left.
    pub sent_packets: AtomicU64,
    /// Bytes that left.
    pub sent_bytes: AtomicU64,
    /// Packets tail-dropped because their queue was full.
    pub queue_full: AtomicU64,
    /// Packets refused because the PMD's queued packets reached its share of the pool.
    pub pool_limit: AtomicU64,
}

/// The buckets and the configuration they were derived from.
#[derive(Debug)]
struct Buckets {
    cfg: ShaperConfig,
    cir: u64,
    c_cap: u64,
    c_tokens: u64,
    /// 0: no peak bucket.
    pir: u64,
    p_cap: u64,
    p_tokens: u64,
    last_ns: u64,
}

impl Buckets {
    fn new(cfg: ShaperConfig, now_ns: u64) -> Buckets {
        let mut b = Buckets {
            cfg: ShaperConfig::new(1),
            cir: 0,
            c_cap: 0,
            c_tokens: 0,
            pir: 0,
            p_cap: 0,
            p_tokens: 0,
            last_ns: now_ns,
        };
        b.set(cfg);
        b.c_tokens = b.c_cap;
        b.p_tokens = b.p_cap;
        b
    }

    /// Take the rates and sizes of `cfg`, keeping the tokens (clamped to the new sizes).
    fn set(&mut self, cfg: ShaperConfig) {
        self.cir = cfg.cir_bytes_per_s.max(1);
        let cbs = if cfg.cbs_bytes == 0 {
            mul_div(self.cir, DEFAULT_CBS_NS, 1_000_000_000)
        } else {
            cfg.cbs_bytes
        };
        self.c_cap = cbs.max(MAX_FRAME_BYTES) * TOKENS_PER_BYTE;
        self.pir = cfg.pir_bytes_per_s;
        let pbs = if cfg.pbs_bytes == 0 {
            MAX_FRAME_BYTES
        } else {
            cfg.pbs_bytes.max(MAX_FRAME_BYTES)
        };
        self.p_cap = if self.pir == 0 {
            0
        } else {
            pbs * TOKENS_PER_BYTE
        };
        self.c_tokens = self.c_tokens.min(self.c_cap);
        self.p_tokens = self.p_tokens.min(self.p_cap);
        self.cfg = cfg;
    }

    fn refill(&mut self, now_ns: u64) {
        let dt = now_ns.saturating_sub(self.last_ns);
        if dt == 0 {
            return;
        }
        self.last_ns = now_ns;
        self.c_tokens = add_capped(self.c_tokens, dt, self.cir, self.c_cap);
        if self.pir != 0 {
            self.p_tokens = add_capped(self.p_tokens, dt, self.pir, self.p_cap);
        }
    }

    /// Take `len` bytes' worth from both buckets if both hold it (after a refill at `now_ns`).
    fn take(&mut self, len: u64) -> bool {
        let need = len * TOKENS_PER_BYTE;
        if self.c_tokens < need || (self.pir != 0 && self.p_tokens < need) {
            return false;
        }
        self.c_tokens -= need;
        if self.pir != 0 {
            self.p_tokens -= need;
        }
        true
    }

    /// Nanoseconds from the last refill until both buckets hold `len` bytes.
    fn wait_ns(&self, len: u64) -> u64 {
        let need = len * TOKENS_PER_BYTE;
        let c = need.saturating_sub(self.c_tokens).div_ceil(self.cir);
        let p = if self.pir == 0 {
            0
        } else {
            need.saturating_sub(self.p_tokens).div_ceil(self.pir)
        };
        c.max(p)
    }
}

/// `tokens + dt * rate`, at most `cap` (wide arithmetic: a long idle time times a high rate
/// does not fit 64 bits).
fn add_capped(tokens: u64, dt: u64, rate: u64, cap: u64) -> u64 {
    let t = u128::from(tokens) + u128::from(dt) * u128::from(rate);
    t.min(u128::from(cap)) as u64
}

fn mul_div(a: u64, b: u64, c: u64) -> u64 {
    (u128::from(a) * u128::from(b) / u128::from(c)) as u64
}

impl Shaper {
    /// A shaper for `cfg` (validated by the caller), buckets full at `now_ns`.
    pub fn new(cfg: ShaperConfig, now_ns: u64) -> Shaper {
        Shaper {
            state: Mutex::new(Buckets::new(cfg, now_ns)),
            version: AtomicU64::new(1),
            sent_packets: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            queue_full: AtomicU64::new(0),
            pool_limit: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buckets> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Change the configuration in place: tokens, counters and queued packets stay.
    pub fn reconfigure(&self, cfg: ShaperConfig) {
        let mut b = self.lock();
        if b.cfg != cfg {
            b.set(cfg);
            self.version.fetch_add(1, Ordering::Release);
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> ShaperConfig {
        self.lock().cfg.clone()
    }

    /// The configuration version (bumped by every [`Shaper::reconfigure`] that changed it).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }
}

/// Why a packet was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its queue was full.
    QueueFull,
    /// The PMD already holds its share of the pool in shaping queues.
    PoolLimit,
}

/// One PMD's queues for one shaped port.
#[derive(Debug)]
pub struct QueueSet {
    version: u64,
    queues: [VecDeque<Packet>; N_QUEUES],
    /// DRR weight (priority + 1) per queue; 0: the queue does not exist (its packets go to 0).
    weight: [u64; N_QUEUES],
    deficit: [u64; N_QUEUES],
    /// The queue DRR is visiting, and whether it got its credit for this visit.
    cur: usize,
    granted: bool,
    depth: usize,
    queued: usize,
}

impl QueueSet {
    /// Empty queues laid out as `shaper` says.
    pub fn new(shaper: &Shaper) -> QueueSet {
        let mut q = QueueSet {
            version: 0,
            queues: std::array::from_fn(|_| VecDeque::new()),
            weight: [0; N_QUEUES],
            deficit: [0; N_QUEUES],
            cur: 0,
            granted: false,
            depth: 0,
            queued: 0,
        };
        q.sync(shaper);
        q
    }

    /// Take the shaper's current queue layout if it changed. Packets already in a queue that no
    /// longer exists stay there and drain with weight 1.
    pub fn sync(&mut self, shaper: &Shaper) {
        let v = shaper.version();
        if v == self.version {
            return;
        }
        let cfg = shaper.config();
        self.version = v;
        self.weight = [0; N_QUEUES];
        self.weight[0] = 1;
        for (&id, &prio) in &cfg.queues {
            if let Some(w) = self.weight.get_mut(id as usize) {
                *w = u64::from(prio) + 1;
            }
        }
        self.depth = cfg.queue_packets as usize;
        for (i, q) in self.queues.iter_mut().enumerate() {
            if self.weight[i] != 0 && q.capacity() < self.depth {
                // Control-time allocation, so that the hot path never grows a queue.
                q.reserve_exact(self.depth - q.len());
            }
        }
    }

    /// Packets queued.
    #[inline]
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Queue `pkt` on queue `queue` (0 when the shaper has no such queue), unless that queue is
    /// full or this PMD already holds `budget` packets in queues (`held`).
    pub fn enqueue(
        &mut self,
        pkt: Packet,
        queue: u32,
        held: usize,
        budget: usize,
    ) -> Result<(), (Packet, Refused)> {
        let q = match self.weight.get(queue as usize) {
            Some(&w) if w != 0 => queue as usize,
            _ => 0,
        };
        if self.queues[q].len() >= self.depth {
            return Err((pkt, Refused::QueueFull));
        }
        if held >= budget {
            return Err((pkt, Refused::PoolLimit));
        }
        self.queues[q].push_back(pkt);
        self.queued += 1;
        Ok(())
    }

    /// Move the packets that may leave at `now_ns` into `out` (up to its room), in DRR order.
    /// Returns how many moved.
    pub fn drain(&mut self, shaper: &Shaper, now_ns: u64, out: &mut Batch) -> usize {
        if self.queued == 0 {
            return 0;
        }
        let mut b = shaper.lock();
        b.refill(now_ns);
        let (mut n, mut bytes) = (0usize, 0u64);
        // Every visit either sends, or moves on; a full round adds credit to every backlogged
        // queue, so a jumbo frame at weight 1 needs at most a handful of rounds.
        let mut visits = 0usize;
        while self.queued > 0 && !out.is_full() && visits < 64 * N_QUEUES {
            let c = self.cur;
            let Some(head) = self.queues[c].front().map(|p| p.len() as u64) else {
                self.deficit[c] = 0;
                self.next();
                visits += 1;
                continue;
            };
            if !self.granted {
                self.deficit[c] += self.weight[c].max(1) * QUANTUM;
                self.granted = true;
            }
            if head > self.deficit[c] {
                self.next();
                visits += 1;
                continue;
            }
            if !b.take(head) {
                break;
            }
            self.deficit[c] -= head;
            let Some(p) = self.queues[c].pop_front() else {
                break;
            };
            self.queued -= 1;
            n += 1;
            bytes += head;
            if let Err(p) = out.push(p) {
                // Cannot happen (room checked above); put it back rather than lose it.
                self.queues[c].push_front(p);
                self.queued += 1;
                n -= 1;
                break;
            }
            if self.queues[c].is_empty() {
                self.deficit[c] = 0;
                self.next();
            }
        }
        drop(b);
        if n > 0 {
            shaper.sent_packets.fetch_add(n as u64, Ordering::Relaxed);
            shaper.sent_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        n
    }

    fn next(&mut self) {
        self.cur = (self.cur + 1) % N_QUEUES;
        self.granted = false;
    }

    /// Nanoseconds from `now_ns` until the next queued packet may leave (`None`: nothing is
    /// queued). An estimate for napping: the packet DRR will pick next may be another one.
    pub fn wait_ns(&self, shaper: &Shaper, now_ns: u64) -> Option<u64> {
        if self.queued == 0 {
            return None;
        }
        let len = self
            .queues
            .iter()
            .filter_map(|q| q.front())
            .map(|p| p.len() as u64)
            .min()
            .unwrap_or(0);
        let b = shaper.lock();
        let since = now_ns.saturating_sub(b.last_ns);
        Some(b.wait_ns(len).saturating_sub(since))
    }

    /// Every queued packet, oldest first per queue (for sending unshaped when the shaper goes).
    pub fn take_all(&mut self, out: &mut Vec<Packet>) {
        for q in &mut self.queues {
            out.extend(q.drain(..));
        }
        self.queued = 0;
        self.deficit = [0; N_QUEUES];
    }

    /// Free every queued packet (on stop).
    pub fn free_all(&mut self, pool: &mut PacketPool) {
        for q in &mut self.queues {
            for p in q.drain(..) {
                pool.free(p);
            }
        }
        self.queued = 0;
    }
}

#[cfg(test)]
#[path = "shaper_tests.rs"]
mod tests;
