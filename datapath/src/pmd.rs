//! PMD (poll-mode driver) threads: the packet-processing loop.
//!
//! Each PMD is pinned to one core and owns everything it touches per packet: its packet pool, one
//! exact-match cache per bridge, one transmit batch per port, and its counters. It polls its
//! assigned (port, queue) list forever; a received burst goes through the stages in
//! [`crate::process`], then every port with queued output gets one `tx_burst`. Between bursts it
//! picks up configuration changes (rx-queue assignment, bridge snapshots, the cache epoch) from
//! lock-free snapshots, so the control plane never stops it.
//!
//! When a PMD finds nothing to do for a while it may nap (`pmd_sleep_max_us`, off by default like
//! OVS's pmd-sleep-max): on a small shared machine that returns the core to the kernel threads
//! that feed AF_PACKET rings.

use crate::cycles;
use crate::drops::{DropCounters, DropReason};
use crate::egress::EgressSet;
use crate::mempool::{Batch, PacketPool};
use crate::ports::PortSet;
use crate::process::Worker;
use arc_swap::ArcSwap;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One receive queue as assigned to a PMD, with its own packet counter.
#[derive(Debug)]
pub struct RxqRef {
    /// Switch-wide port index.
    pub gidx: usize,
    /// Queue number.
    pub queue: u16,
    /// Packets received on this queue.
    pub packets: AtomicU64,
}

/// The rx-queue assignment of every PMD: `assign[pmd]` lists its queues.
pub type Assignment = Vec<Vec<Arc<RxqRef>>>;

/// Counters of one PMD, readable by the control thread.
#[derive(Debug, Default)]
pub struct PmdStats {
    /// Packets received and processed.
    pub packets: AtomicU64,
    /// Non-empty bursts.
    pub batches: AtomicU64,
    /// Exact-match cache hits.
    pub emc_hits: AtomicU64,
    /// EMC misses resolved by the megaflow cache.
    pub megaflow_hits: AtomicU64,
    /// Misses resolved by the classifier and pipeline (the slow path).
    pub upcalls: AtomicU64,
    /// Megaflows held (updated when the PMD is idle).
    pub megaflows: AtomicU64,
    /// Slow-path results the megaflow cache had no room for.
    pub megaflow_full: AtomicU64,
    /// Cycles spent in iterations that processed packets.
    pub busy_cycles: AtomicU64,
    /// Cycles spent polling empty queues.
    pub idle_cycles: AtomicU64,
    /// Drops by reason.
    pub drops: DropCounters,
    /// Megaflow dump requests (answered by the PMD).
    pub dump: crate::mfdump::DumpSlot,
}

/// A plain copy of [`PmdStats`] (without drops) plus derived rates.
#[derive(Debug, Clone, Serialize)]
pub struct PmdStatsView {
    /// PMD index.
    pub id: usize,
    /// Core it is pinned to.
    pub core: usize,
    /// Packets.
    pub packets: u64,
    /// Bursts.
    pub batches: u64,
    /// EMC hits.
    pub emc_hits: u64,
    /// EMC misses resolved by the megaflow cache.
    pub megaflow_hits: u64,
    /// Packets resolved by the classifier (upcalls).
    pub classifier_hits: u64,
    /// Upcalls.
    pub upcalls: u64,
    /// Megaflows held (as of the PMD's last idle moment).
    pub megaflows: u64,
    /// Slow-path results the megaflow cache had no room for.
    pub megaflow_full: u64,
    /// Megaflow hit rate over EMC misses, 0..1.
    pub megaflow_hit_rate: f64,
    /// EMC hit rate, 0..1.
    pub emc_hit_rate: f64,
    /// Busy cycles.
    pub busy_cycles: u64,
    /// Idle cycles.
    pub idle_cycles: u64,
    /// Busy cycles per packet.
    pub cycles_per_packet: f64,
    /// Average burst size.
    pub avg_batch: f64,
}

impl PmdStats {
    /// Snapshot with derived values.
    pub fn view(&self, id: usize, core: usize) -> PmdStatsView {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let packets = l(&self.packets);
        let batches = l(&self.batches);
        let emc_hits = l(&self.emc_hits);
        let upcalls = l(&self.upcalls);
        let busy = l(&self.busy_cycles);
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        PmdStatsView {
            id,
            core,
            packets,
            batches,
            emc_hits,
            megaflow_hits: l(&self.megaflow_hits),
            classifier_hits: upcalls,
            upcalls,
            megaflows: l(&self.megaflows),
            megaflow_full: l(&self.megaflow_full),
            megaflow_hit_rate: ratio(l(&self.megaflow_hits), packets.saturating_sub(emc_hits)),
            emc_hit_rate: ratio(emc_hits, packets),
            busy_cycles: busy,
            idle_cycles: l(&self.idle_cycles),
            cycles_per_packet: ratio(busy, packets),
            avg_batch: ratio(packets, batches),
        }
    }
}

/// Consecutive empty polls after which a PMD charges pending cache hits to the rules (a few
/// microseconds of busy polling; naps only start after this many).
const IDLE_FLUSH_POLLS: u32 = 64;

/// Loop iterations between two steps of the stale-megaflow sweep.
const SWEEP_EVERY: u32 = 256;

/// What a PMD thread needs from the switch.
pub struct PmdShared {
    /// The port table (picked up between bursts when its generation changes).
    pub ports: Arc<PortSet>,
    /// Where this PMD reports the port-table generation it has picked up.
    pub seen: Arc<AtomicU64>,
    /// The rx-queue assignment.
    pub assignment: Arc<ArcSwap<Assignment>>,
    /// Set to stop.
    pub stop: Arc<AtomicBool>,
    /// Nap at most this long when idle (0 = pure busy polling).
    pub sleep_max_us: u64,
    /// The switch MTU (larger frames are dropped as `too_big`).
    pub mtu: u32,
    /// New-flow upcalls per second per ingress port (0 = unlimited; see `upcall`).
    pub upcall_rate: u32,
    /// Every port's egress shaping and checksum fill (picked up when its generation moves).
    pub egress: Arc<EgressSet>,
}

/// Run one PMD until `stop` is set. `pool` is moved in; the thread owns it.
pub fn run(id: usize, core: Option<usize>, pool: PacketPool, sh: PmdShared, stats: Arc<PmdStats>) {
    if let Some(c) = core {
        if let Err(e) = pin_to_core(c) {
            eprintln!("dvs-switchd: pmd{id}: cannot pin to core {c}: {e}");
        }
    }
    let mut table = sh.ports.load_full();
    let mut w = Worker::new(id, pool, table.clone(), stats.clone());
    w.set_mtu(sh.mtu);
    w.set_upcall_rate(sh.upcall_rate);
    sh.seen.store(table.generation, Ordering::Release);
    let mut batch = Batch::new();
    let mut idle_polls: u32 = 0;
    let mut loops: u32 = 0;
    let mut t_last = cycles::now();
    while !sh.stop.load(Ordering::Relaxed) {
        // A port added or removed: take the new table between bursts, then say so (the control
        // thread waits for that before it lets the change go further; see `ports`).
        if sh.ports.generation() != table.generation {
            table = sh.ports.load_full();
            w.refresh_ports(table.clone());
            sh.seen.store(table.generation, Ordering::Release);
        }
        w.sync_egress(&sh.egress);
        let assign = sh.assignment.load();
        let mine: &[Arc<RxqRef>] = assign.get(id).map(|v| v.as_slice()).unwrap_or(&[]);
        let mut got = 0usize;
        for rxq in mine {
            let Some(port) = table.ports.get(rxq.gidx) else {
                continue;
            };
            let n = port.rx_burst(rxq.queue, w.pool_mut(), &mut batch);
            if n == 0 {
                continue;
            }
            got += n;
            rxq.packets.fetch_add(n as u64, Ordering::Relaxed);
            // A bug must cost one burst, not the PMD: every queue it polls would go dark.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                w.process(rxq.gidx, &mut batch);
                w.flush();
            }));
            if r.is_err() {
                eprintln!(
                    "dvs-switchd: pmd{id}: internal error processing a burst from port {}; \
                     burst dropped",
                    port.name()
                );
                stats.drops.add(DropReason::Internal, batch.len() as u64);
                w.pool_mut().free_batch(&mut batch);
            }
        }
        if id == 0 {
            got += w.run_injected();
        }
        // Shaped ports: send what their buckets allow now (nothing to do without shapers).
        got += w.run_shapers();
        // Stale megaflows go a little at a time, busy or not (a busy PMD may never idle).
        loops = loops.wrapping_add(1);
        if loops.is_multiple_of(SWEEP_EVERY) {
            w.sweep_megaflows();
            stats.dump.serve(|max| w.megaflow_lines(max));
        }
        let t = cycles::now();
        let spent = t.wrapping_sub(t_last);
        t_last = t;
        if got > 0 {
            stats.busy_cycles.fetch_add(spent, Ordering::Relaxed);
            idle_polls = 0;
        } else {
            stats.idle_cycles.fetch_add(spent, Ordering::Relaxed);
            idle_polls = idle_polls.saturating_add(1);
            if idle_polls == IDLE_FLUSH_POLLS {
                // Traffic has stopped (not just a gap between bursts): charging thousands of
                // flows' pending hits costs hundreds of thousands of cycles, which a busy PMD
                // cannot spend on every empty poll.
                w.flush_stats();
            }
            if sh.sleep_max_us > 0 && idle_polls > IDLE_FLUSH_POLLS {
                let mut us = (u64::from(idle_polls - IDLE_FLUSH_POLLS)).min(sh.sleep_max_us);
                // Queued shaped packets: wake up when the next one is due.
                if let Some(ns) = w.shaper_wait_ns() {
                    us = us.min(ns / 1000);
                }
                if us > 0 {
                    std::thread::sleep(Duration::from_micros(us));
                }
                t_last = cycles::now();
            }
        }
        if mine.is_empty() && got == 0 {
            // No queues to poll: nap, but not past a shaped packet's due time.
            let ns = w.shaper_wait_ns().unwrap_or(1_000_000).min(1_000_000);
            if ns >= 1000 {
                std::thread::sleep(Duration::from_nanos(ns));
            }
        }
    }
    w.shutdown();
}

fn pin_to_core(core: usize) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain data; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes a bit inside `set`; `core` is bounds-checked by the macro's caller
    // (config validation keeps it below the available CPU count, far below CPU_SETSIZE).
    unsafe { libc::CPU_SET(core, &mut set) };
    // SAFETY: pid 0 = this thread; `set` is a valid cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
