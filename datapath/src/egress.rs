//! Per-port transmit treatment besides transmitting: egress shaping ([`crate::shaper`]) and TCP
//! checksum fill ([`crate::csumfill`]).
//!
//! The control plane keeps one [`EgressSet`]: per switch-wide port index, the port's shared
//! [`Shaper`] (if shaped) and its checksum-fill flag, plus a generation number. Each PMD keeps a
//! [`LocalEgress`]: for the ports that have a treatment, its own queues ([`QueueSet`]: packets
//! stay with the PMD whose pool they came from) and the flag. A PMD compares the generation once
//! per loop and re-syncs only when it moved, so a QoS change reaches the data path without
//! re-creating the port or touching its counters.
//!
//! Cost for everything else: a port without treatment is a `None` in `LocalEgress::ports`, so
//! the transmit path pays one predictable branch per output and the PMD loop one length check.
//!
//! Memory: the packets a PMD holds in all its shaping queues together are capped at half its
//! pool (`budget`), so a slow shaped port cannot starve the PMD's receive path of frames;
//! packets refused for that are counted as `qos_queue_full` drops (and in the shaper's
//! `pool_limit`).

use crate::config::ShaperConfig;
use crate::csumfill;
use crate::cycles;
use crate::drops::DropReason;
use crate::mempool::{Batch, Packet, PacketPool};
use crate::pmd::PmdStats;
use crate::port::{Port, PortCounters};
use crate::shaper::{QueueSet, Refused, Shaper};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What one port's transmit path does besides transmitting.
#[derive(Clone, Debug, Default)]
pub struct EgressPort {
    /// The port's shaper (`None`: unshaped).
    pub shaper: Option<Arc<Shaper>>,
    /// Recompute TCP checksums of everything sent on the port.
    pub tcp_checksum_fill: bool,
}

impl EgressPort {
    fn is_plain(&self) -> bool {
        self.shaper.is_none() && !self.tcp_checksum_fill
    }
}

/// Every port's egress treatment, as the control plane sets it.
#[derive(Debug, Default)]
pub struct EgressSet {
    slots: Mutex<Vec<EgressPort>>,
    generation: AtomicU64,
}

impl EgressSet {
    /// The generation (bumped by every change): one load per PMD loop.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<EgressPort>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Set port `gidx`'s treatment: shaped by `qos` (an existing shaper is reconfigured in
    /// place: its queued packets, tokens and counters stay) and checksum fill on or off.
    pub fn set(&self, gidx: usize, qos: Option<&ShaperConfig>, tcp_checksum_fill: bool) {
        let mut slots = self.lock();
        if slots.len() <= gidx {
            slots.resize(gidx + 1, EgressPort::default());
        }
        let slot = &mut slots[gidx];
        match (qos, &slot.shaper) {
            (Some(cfg), Some(s)) => s.reconfigure(cfg.clone()),
            (Some(cfg), None) => {
                slot.shaper = Some(Arc::new(Shaper::new(cfg.clone(), cycles::monotonic_ns())))
            }
            (None, _) => slot.shaper = None,
        }
        slot.tcp_checksum_fill = tcp_checksum_fill;
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Port `gidx`'s treatment.
    pub fn get(&self, gidx: usize) -> EgressPort {
        self.lock().get(gidx).cloned().unwrap_or_default()
    }

    /// Every port's treatment by index.
    pub fn snapshot(&self) -> Vec<EgressPort> {
        self.lock().clone()
    }
}

/// One port's treatment in one PMD.
struct Local {
    shaper: Option<(Arc<Shaper>, QueueSet)>,
    csum: bool,
}

/// A PMD's side of [`EgressSet`].
pub struct LocalEgress {
    /// By switch-wide port index; `None`: nothing to do (the common case).
    ports: Vec<Option<Box<Local>>>,
    /// Indexes of the shaped ports.
    shaped: Vec<usize>,
    /// Packets in all of this PMD's queues, and the most it may hold.
    held: usize,
    budget: usize,
    generation: u64,
}

impl LocalEgress {
    /// Nothing treated yet; queues may hold up to half of a pool of `pool_capacity` frames.
    pub fn new(pool_capacity: usize) -> LocalEgress {
        LocalEgress {
            ports: Vec::new(),
            shaped: Vec::new(),
            held: 0,
            budget: pool_capacity / 2,
            generation: 0,
        }
    }

    /// Make room for `n` port indexes (so that `has` never misses on a valid index).
    pub fn resize(&mut self, n: usize) {
        if self.ports.len() < n {
            self.ports.resize_with(n, || None);
        }
    }

    /// True when this PMD has taken generation `g` of the [`EgressSet`] already.
    #[inline]
    pub fn generation_is(&self, g: u64) -> bool {
        self.generation == g
    }

    /// True when port `gidx` needs [`LocalEgress::offer`].
    #[inline(always)]
    pub fn has(&self, gidx: usize) -> bool {
        matches!(self.ports.get(gidx), Some(Some(_)))
    }

    /// Take `set`'s treatments if its generation moved. Packets queued for a shaper that went
    /// away are handed back in `orphans` (the caller sends them on as plain output).
    pub fn sync(&mut self, set: &EgressSet, orphans: &mut Vec<(usize, Packet)>) {
        let g = set.generation();
        if g == self.generation {
            return;
        }
        self.generation = g;
        let snap = set.snapshot();
        self.resize(snap.len());
        let mut taken = Vec::new();
        for (gidx, want) in snap.iter().enumerate() {
            let mut old = self.ports[gidx].take();
            let keep = match (&mut old, &want.shaper) {
                (Some(l), Some(s)) => match l.shaper.take() {
                    Some((cur, mut q)) if Arc::ptr_eq(&cur, s) => {
                        q.sync(s);
                        Some((cur, q))
                    }
                    Some((_, mut q)) => {
                        self.held -= q.queued();
                        q.take_all(&mut taken);
                        None
                    }
                    None => None,
                },
                (Some(l), None) => {
                    if let Some((_, mut q)) = l.shaper.take() {
                        self.held -= q.queued();
                        q.take_all(&mut taken);
                    }
                    None
                }
                (None, _) => None,
            };
            orphans.extend(taken.drain(..).map(|p| (gidx, p)));
            if want.is_plain() {
                continue;
            }
            let shaper =
                keep.or_else(|| want.shaper.as_ref().map(|s| (s.clone(), QueueSet::new(s))));
            self.ports[gidx] = Some(Box::new(Local {
                shaper,
                csum: want.tcp_checksum_fill,
            }));
        }
        self.shaped = (0..self.ports.len())
            .filter(|&g| matches!(&self.ports[g], Some(l) if l.shaper.is_some()))
            .collect();
    }

    /// Treat `pkt` output on port `gidx` (which [`LocalEgress::has`]): fill its checksum, and
    /// queue it if the port is shaped. Returns the packet when it is to be sent now; a refused
    /// packet is freed and counted here.
    #[cold]
    pub fn offer(
        &mut self,
        gidx: usize,
        mut pkt: Packet,
        queue: u32,
        pool: &mut PacketPool,
        stats: &PmdStats,
        port: &dyn Port,
    ) -> Option<Packet> {
        let Some(Some(l)) = self.ports.get_mut(gidx) else {
            return Some(pkt);
        };
        if l.csum {
            csumfill::fill_tcp(pkt.data_mut());
        }
        let Some((shaper, q)) = &mut l.shaper else {
            return Some(pkt);
        };
        match q.enqueue(pkt, queue, self.held, self.budget) {
            Ok(()) => self.held += 1,
            Err((p, why)) => {
                let c = match why {
                    Refused::QueueFull => &shaper.queue_full,
                    Refused::PoolLimit => &shaper.pool_limit,
                };
                c.fetch_add(1, Ordering::Relaxed);
                stats.drops.add(DropReason::QueueFull, 1);
                PortCounters::add(&port.counters().tx_dropped, 1);
                pool.free(p);
            }
        }
        None
    }

    /// True when no port of this PMD is shaped.
    #[inline]
    pub fn no_shapers(&self) -> bool {
        self.shaped.is_empty()
    }

    /// Move every packet due at `now_ns` into its port's transmit batch (`txq`, by index),
    /// recording ports that got output in `pending` (once). Returns how many moved.
    pub fn drain(&mut self, now_ns: u64, txq: &mut [Batch], pending: &mut Vec<usize>) -> usize {
        let mut moved = 0;
        for &gidx in &self.shaped {
            let (Some(Some(l)), Some(out)) = (self.ports.get_mut(gidx), txq.get_mut(gidx)) else {
                continue;
            };
            let Some((s, q)) = &mut l.shaper else {
                continue;
            };
            if q.queued() == 0 {
                continue;
            }
            let was_empty = out.is_empty();
            let n = q.drain(s, now_ns, out);
            if n > 0 && was_empty {
                pending.push(gidx);
            }
            moved += n;
        }
        self.held -= moved;
        moved
    }

    /// Nanoseconds until the next queued packet of this PMD may leave (`None`: none queued).
    pub fn wait_ns(&self, now_ns: u64) -> Option<u64> {
        self.shaped
            .iter()
            .filter_map(|&g| match &self.ports[g] {
                Some(l) => l.shaper.as_ref().and_then(|(s, q)| q.wait_ns(s, now_ns)),
                None => None,
            })
            .min()
    }

    /// Free every queued packet (on stop).
    pub fn free_all(&mut self, pool: &mut PacketPool) {
        for l in self.ports.iter_mut().flatten() {
            if let Some((_, q)) = &mut l.shaper {
                q.free_all(pool);
            }
        }
        self.held = 0;
    }
}
