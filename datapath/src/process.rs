//! The per-burst stages of a PMD: parse, admit, cache lookup, slow path, execute, transmit.
//!
//! Stages run over the whole burst and keep per-packet results in fixed side arrays (`keys`,
//! `hashes`, `slots`), VPP/OVS style, so the parse loop and the cache loop each stay hot in the
//! instruction cache, and so that each stage can prefetch what the next one reads: with thousands
//! of flows the cache entries, the decisions and their action lists are all L1 misses, and a
//! stage that asks for all of them at once pays those misses together instead of one by one
//! (hash -> cache lines, find -> decision, execute -> action list a few packets ahead). Nothing
//! here allocates per packet except the slow path, which runs once per new flow (or after an
//! epoch change) and builds the cached [`Decision`].
//!
//! Cache hits borrow the decision straight out of the cache (no reference-count traffic), and the
//! shared counters a decision touches (rule statistics, the learned MAC's timestamp) are not
//! touched per packet: the hit is counted in the decision and charged to them in periodic batches
//! ([`crate::flowstats`]). Per-packet atomic adds on shared lines would cost more than the lookup.
//!
//! Output is batched per port: executing a decision only appends the packet to the output port's
//! transmit batch; [`Worker::flush`] sends each non-empty batch with one `tx_burst`.

use crate::bridge::Bridge;
use crate::config::VlanMode;
use crate::cycles;
use crate::drops::DropReason;
use crate::edit;
use crate::egress::{EgressSet, LocalEgress};
use crate::flowstats::Deferred;
use crate::inject::Inject;
use crate::megatier::{MegaTier, Tier};
use crate::mempool::{Batch, Packet, PacketPool, BATCH_SIZE};
use crate::meter::{self, Verdict};
use crate::packet_in::{PacketInMsg, NO_BUFFER_LEN};
use crate::pmd::PmdStats;
use crate::port::PortCounters;
use crate::ports::PortTable;
use crate::upcall::UpcallBudgets;
use crate::validity;
use crate::vlan;
use crate::xlate::{self, ControllerOut, Decision, DpAction, InPort, Mode};
use flowtable::emc::{self, Emc};
use flowtable::extract::extract;
use flowtable::key::FlowKey;
use flowtable::megaflow::Hint;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

/// Exact-match cache entries per bridge per PMD.
pub const EMC_ENTRIES: usize = 8192;

const _: () = assert!(BATCH_SIZE <= 32, "stage 2 marks repeats in a u32");

/// `Worker::slots` value of a packet that missed the cache.
const NO_SLOT: u32 = u32::MAX;

/// How many packets ahead of the one being executed stage 4 prefetches the action list.
const ACTIONS_AHEAD: usize = 4;

/// One in this many megaflow hits also enters the exact-match cache (a flow's first packet,
/// the one that ran the slow path, always does). With more flows than the EMC holds, inserting
/// every hit would evict as fast as it fills; a flow that stays busy gets in within a few dozen
/// packets (as OVS's `emc-insert-inv-prob`, whose default is 100).
const EMC_INSERT_INV_PROB: u32 = 32;

/// The state one PMD owns.
pub struct Worker {
    emcs: Vec<Emc<Arc<Decision>>>,
    /// The megaflow tier, one per bridge (see `flowtable::megaflow`).
    megaflows: Vec<MegaTier>,
    /// Each packet's megaflow lookup hint from stage 3 (EMC misses only).
    hints: [Hint; BATCH_SIZE],
    /// New-flow slow-path budgets per ingress port.
    budgets: UpcallBudgets,
    /// Pseudo-random state for the EMC insertion choice (xorshift).
    rng: u32,
    keys: Box<[FlowKey; BATCH_SIZE]>,
    hashes: [u64; BATCH_SIZE],
    /// Each packet's cache slot as found in stage 3 ([`NO_SLOT`] on a miss).
    slots: [u32; BATCH_SIZE],
    /// Each packet's frame validity verdict from stage 1 (`validity::check`), acted on in stage 4.
    verdicts: [Result<(), DropReason>; BATCH_SIZE],
    /// PACKET_OUT queues of every bridge (PMD 0 only).
    injects: Vec<(usize, Receiver<Inject>)>,
    /// Cache hits not yet charged to their rules.
    deferred: Deferred,
    /// Largest untagged frame admitted: Ethernet header plus the switch MTU (4 bytes more per
    /// VLAN tag). Bigger frames are dropped as `too_big`.
    frame_max: usize,
    tx: Tx,
}

/// Everything executing a decision touches: kept apart from the caches so a decision can be
/// borrowed from a cache while the packet is executed.
struct Tx {
    id: usize,
    pool: PacketPool,
    /// The port table this PMD works with (replaced between bursts by `refresh_ports`).
    table: Arc<PortTable>,
    txq: Vec<Batch>,
    pending: Vec<usize>,
    stats: Arc<PmdStats>,
    /// Shaping queues and checksum fill of the ports that have them (see `egress`).
    egress: LocalEgress,
    /// This burst's shares of the meters its decisions police with, settled at its end.
    meters: meter::Leases,
}

impl Worker {
    /// Build the worker state for PMD `id`, on port table `table`.
    pub fn new(id: usize, pool: PacketPool, table: Arc<PortTable>, stats: Arc<PmdStats>) -> Worker {
        let n_ports = table.ports.len();
        let mut egress = LocalEgress::new(pool.capacity());
        egress.resize(n_ports);
        let mut w = Worker {
            emcs: Vec::new(),
            megaflows: Vec::new(),
            hints: [Hint::default(); BATCH_SIZE],
            budgets: UpcallBudgets::new(crate::upcall::DEFAULT_RATE),
            rng: 0x9e37_79b9 ^ (id as u32).wrapping_mul(0x85eb_ca6b) | 1,
            keys: Box::new([FlowKey::default(); BATCH_SIZE]),
            hashes: [0; BATCH_SIZE],
            slots: [NO_SLOT; BATCH_SIZE],
            verdicts: [Ok(()); BATCH_SIZE],
            injects: Vec::new(),
            deferred: Deferred::default(),
            frame_max: 14 + 9000,
            tx: Tx {
                id,
                pool,
                table,
                txq: (0..n_ports).map(|_| Batch::new()).collect(),
                pending: Vec::with_capacity(n_ports),
                stats,
                egress,
                meters: meter::Leases::default(),
            },
        };
        w.take_new_bridges();
        w
    }

    /// Caches (and on PMD 0, PACKET_OUT queues) for bridges the table has and this worker does
    /// not yet: at start, and when bridges were added while running.
    fn take_new_bridges(&mut self) {
        let bridges = &self.tx.table.bridges;
        for (i, b) in bridges.iter().enumerate().skip(self.emcs.len()) {
            self.emcs.push(Emc::new(EMC_ENTRIES));
            self.megaflows.push(MegaTier::default());
            if self.tx.id == 0 {
                if let Some(r) = b.inject.take_receiver() {
                    self.injects.push((i, r));
                }
            }
        }
    }

    /// Work with a new port table from now on (ports or bridges were added or removed). Output queued for
    /// the old one is sent first; a removed port's index holds a `GonePort` there, which drops
    /// it, counted.
    pub fn refresh_ports(&mut self, table: Arc<PortTable>) {
        self.tx.flush();
        let n = table.ports.len();
        while self.tx.txq.len() < n {
            self.tx.txq.push(Batch::new());
        }
        self.tx.egress.resize(n);
        self.tx
            .pending
            .reserve(n.saturating_sub(self.tx.pending.len()));
        self.tx.table = table;
        self.take_new_bridges();
    }

    /// Admit frames up to `mtu` bytes of payload (the switch MTU; 9000 until set).
    pub fn set_mtu(&mut self, mtu: u32) {
        self.frame_max = 14 + mtu as usize;
    }

    /// Allow `rate` new-flow upcalls per second per ingress port (0 = unlimited).
    pub fn set_upcall_rate(&mut self, rate: u32) {
        self.budgets.set_rate(rate);
    }

    /// Megaflows held, over all bridges (stale ones until swept).
    pub fn megaflow_count(&self) -> usize {
        self.megaflows.iter().map(MegaTier::len).sum()
    }

    /// Up to `max` current megaflows of every bridge, as text (for dumps).
    pub fn megaflow_lines(&self, max: usize) -> Vec<crate::mfdump::MegaflowLine> {
        let mut out = Vec::new();
        for (i, mf) in self.megaflows.iter().enumerate() {
            let Some(b) = self.tx.table.bridges.get(i) else {
                continue;
            };
            for (k, m, dec) in mf.current(b.epoch(), max.saturating_sub(out.len())) {
                out.push(crate::mfdump::MegaflowLine {
                    bridge: b.name.clone(),
                    matches: flowtable::text::format_megaflow(&k, &m),
                    actions: xlate::describe(dec, &|g| {
                        self.tx
                            .table
                            .ports
                            .get(g)
                            .map_or_else(|| format!("#{g}"), |p| p.name().to_string())
                    }),
                });
            }
        }
        out
    }

    /// Remove some megaflows a newer epoch made stale (a bounded amount per call: the PMD calls
    /// this when it found no traffic, so a table change with 100k megaflows never stalls it).
    pub fn sweep_megaflows(&mut self) {
        for (i, mf) in self.megaflows.iter_mut().enumerate() {
            let Some(b) = self.tx.table.bridges.get(i) else {
                continue;
            };
            mf.sweep(b.epoch());
        }
        self.tx
            .stats
            .megaflows
            .store(self.megaflow_count() as u64, Ordering::Relaxed);
    }

    /// The PMD's packet pool.
    pub fn pool_mut(&mut self) -> &mut PacketPool {
        &mut self.tx.pool
    }

    /// Process a received burst from switch-wide port `gidx`; `batch` is empty afterwards.
    pub fn process(&mut self, gidx: usize, batch: &mut Batch) {
        let (bidx, ofport) = self.tx.table.home[gidx];
        // The epoch is read before the snapshot: a decision built from this view is tagged with
        // an epoch no newer than the view, so a concurrent publish can only make it a miss.
        let bridge = self.tx.table.bridges[bidx].clone();
        let mut epoch = bridge.epoch();
        let view = bridge.view();
        let in_dev = self.tx.table.ports[gidx].clone();
        let counters = in_dev.counters();
        let Some(in_port) = view.port(ofport) else {
            // The port left the bridge between snapshots: count and drop.
            let n = batch.len() as u64;
            self.tx.stats.drops.add(DropReason::BadOutputPort, n);
            counters.rx_drop(DropReason::BadOutputPort, n);
            self.tx.pool.free_batch(batch);
            return;
        };
        let now = cycles::monotonic_ns();
        let n = batch.len();
        if !in_port.receives() {
            // PORT_MOD set the port down or no_recv.
            self.tx.stats.drops.add(DropReason::PortNoRecv, n as u64);
            counters.rx_drop(DropReason::PortNoRecv, n as u64);
            self.tx.pool.free_batch(batch);
            return;
        }
        let strict_vlan = !matches!(in_port.vlan, VlanMode::None);
        // The ingress port's own MTU, within the switch's (one call per burst).
        let frame_max = self
            .frame_max
            .min(crate::port::mtu::untagged_max(in_dev.mtu()));

        // Stage 1: judge every frame as received (runt, group source MAC, lying IP lengths:
        // `validity`), zero-pad a short one to the Ethernet minimum, and parse it into its key
        // (after padding, so the key describes the frame that is forwarded).
        let mut padded = 0u64;
        for (i, p) in batch.packets_mut().iter_mut().enumerate() {
            self.verdicts[i] = validity::check(p.data());
            if self.verdicts[i].is_ok() && validity::pad(p) {
                padded += 1;
            }
            extract(p.data(), ofport, &mut self.keys[i]);
        }
        PortCounters::add(&counters.rx_runts_padded, padded);
        // Stage 2: hash keys and prefetch their cache entries. A packet of the same flow as the
        // one before it (a VM's bulk stream arrives in such runs) reuses its hash and, below, its
        // slot: one compare instead of a hash and a probe.
        let emc = &self.emcs[bidx];
        let mut same = 0u32;
        for i in 0..n {
            if i > 0 && same_flow(&self.keys[i], &self.keys[i - 1]) {
                self.hashes[i] = self.hashes[i - 1];
                same |= 1 << i;
                continue;
            }
            self.hashes[i] = emc::hash(&self.keys[i]);
            emc.prefetch(self.hashes[i]);
        }
        // Stage 3: find every packet's cache slot and prefetch its decision's hot fields.
        for i in 0..n {
            if same & (1 << i) != 0 {
                self.slots[i] = self.slots[i - 1];
                self.hints[i] = self.hints[i - 1];
                continue;
            }
            let slot = emc.find(&self.keys[i], self.hashes[i], epoch);
            self.slots[i] = slot.map_or(NO_SLOT, |s| s as u32);
            match slot.and_then(|s| emc.value_at(s)) {
                Some(dec) => {
                    dec.prefetch_hot();
                    // No hint: should the entry be evicted before stage 4 reaches the packet,
                    // a hint left from another burst would name another key's hash.
                    self.hints[i] = Hint::default();
                }
                // An EMC miss: start on the megaflow index line it will probe.
                None => self.hints[i] = self.megaflows[bidx].prefetch(&self.keys[i]),
            }
        }
        // Stage 3b: for the misses, the megaflow rows those index lines point at.
        for i in 0..n {
            if self.slots[i] == NO_SLOT && same & (1 << i) == 0 {
                self.megaflows[bidx].prefetch_row(self.hints[i]);
            }
        }
        // Stage 4: admit, look up, execute. The slots found above stay valid until the first
        // insert of the burst (an upcall); after one, later packets look up again.
        let mut hits = 0u64;
        let mut mf_hits = 0u64;
        let mut upcalls = 0u64;
        let mut slots_valid = true;
        let emc = &mut self.emcs[bidx];
        let mf = &mut self.megaflows[bidx];
        for (i, pkt) in batch.drain().enumerate() {
            if slots_valid {
                if let Some(d) = self
                    .slots
                    .get(i + ACTIONS_AHEAD)
                    .and_then(|&s| emc.value_at(s as usize))
                {
                    d.prefetch_actions();
                }
            }
            // Invalid frames go before anything else (MTU, policer, VLAN, cache, rules) sees them.
            if let Err(reason) = self.verdicts[i] {
                self.tx.drop_pkt(pkt, reason, counters);
                continue;
            }
            // Over the MTU: 4 bytes more for a VLAN tag, 8 on a port that takes stacked tags.
            let key = &self.keys[i];
            let tags = if key.vlan_vid().is_some() {
                if strict_vlan {
                    4
                } else {
                    8
                }
            } else {
                0
            };
            if pkt.len() > frame_max + tags {
                self.tx.drop_pkt(pkt, DropReason::TooBig, counters);
                continue;
            }
            if let Some(p) = &in_port.policer {
                if p.apply(pkt.len() as u32, now) == Verdict::Drop {
                    self.tx.drop_pkt(pkt, DropReason::Policed, counters);
                    continue;
                }
            }
            if let Err(reason) = vlan::admit(&in_port.vlan, key.vlan_vid()) {
                self.tx.drop_pkt(pkt, reason, counters);
                continue;
            }
            if strict_vlan && edit::has_inner_tag(pkt.data()) {
                self.tx
                    .drop_pkt(pkt, DropReason::VlanDoubleTagged, counters);
                continue;
            }
            let hash = self.hashes[i];
            let cached = if slots_valid {
                emc.value_at(self.slots[i] as usize)
            } else {
                emc.lookup(key, hash, epoch)
            };
            if let Some(dec) = cached {
                hits += 1;
                self.deferred.count(dec, pkt.len() as u64, now);
                self.tx.execute(&bridge, dec, pkt, counters, now);
                continue;
            }
            // Tier two: the megaflow cache. A hit that is chosen also enters the EMC.
            let stale = match mf.find(key, epoch, self.hints[i]) {
                Tier::Hit(dec) => {
                    mf_hits += 1;
                    self.deferred.count(dec, pkt.len() as u64, now);
                    self.tx.execute(&bridge, dec, pkt, counters, now);
                    if one_in(&mut self.rng, EMC_INSERT_INV_PROB) {
                        emc.insert(*key, hash, epoch, Arc::clone(dec));
                        slots_valid = false;
                    }
                    continue;
                }
                Tier::Stale => true,
                Tier::Miss => false,
            };
            // The slow path. A flow no tier knows is charged to its port's budget; one whose
            // megaflow went stale is re-translated regardless (see `upcall`).
            if !stale && !self.budgets.take(gidx, now) {
                self.tx.drop_pkt(pkt, DropReason::UpcallLimited, counters);
                continue;
            }
            upcalls += 1;
            let len = pkt.len() as u32;
            let res = if bridge.fail_open() {
                xlate::fail_open_result(key)
            } else {
                view.pipeline.lookup(key, len, now, None)
            };
            let (dec, effect) = {
                let mut macs = bridge.macs();
                let inp = InPort::from(in_port);
                xlate::translate(&view, inp, key, res, &mut macs, now, len, Mode::Learn)
            };
            // A MAC table change invalidates every cache. The decision just made is current
            // under the new epoch unless something else moved the epoch meanwhile; then it is
            // not cached as new (the old epoch tags it stale).
            let mut fresh = true;
            if effect.changed {
                match bridge.bump_epoch_from(epoch) {
                    Some(e) => epoch = e,
                    None => fresh = false,
                }
            }
            // The pipeline already counted this packet against its rules; groups are counted
            // by whoever executes the decision.
            for r in &dec.extra {
                r.hit(u64::from(len), now);
            }
            self.tx.execute(&bridge, &dec, pkt, counters, now);
            let dec = Arc::new(dec);
            if fresh && mf.install(key, &effect.wc, epoch, &dec).is_err() {
                self.tx.stats.megaflow_full.fetch_add(1, Ordering::Relaxed);
            }
            emc.insert(*key, hash, epoch, dec);
            slots_valid = false;
        }
        self.tx.meters.settle();
        self.deferred.maybe_flush(now);
        let st = &self.tx.stats;
        st.packets.fetch_add(n as u64, Ordering::Relaxed);
        st.batches.fetch_add(1, Ordering::Relaxed);
        st.emc_hits.fetch_add(hits, Ordering::Relaxed);
        st.megaflow_hits.fetch_add(mf_hits, Ordering::Relaxed);
        st.upcalls.fetch_add(upcalls, Ordering::Relaxed);
    }

    /// Charge every cache hit counted so far to its rules (the PMD calls this when it finds no
    /// traffic, so statistics are exact once traffic stops).
    pub fn flush_stats(&mut self) {
        if !self.deferred.is_empty() {
            self.deferred.flush(cycles::monotonic_ns());
        }
    }

    /// Transmit every pending output batch.
    pub fn flush(&mut self) {
        self.tx.flush();
    }

    /// Execute packets injected by the control plane (PACKET_OUT); PMD 0 only. Returns how
    /// many were handled.
    pub fn run_injected(&mut self) -> usize {
        let mut done = 0;
        for i in 0..self.injects.len() {
            let bidx = self.injects[i].0;
            while let Ok(inj) = self.injects[i].1.try_recv() {
                let bridge = self.tx.table.bridges[bidx].clone();
                let now = cycles::monotonic_ns();
                match self.tx.pool.alloc_from(&inj.data) {
                    Some(pkt) => {
                        for r in &inj.decision.extra {
                            r.hit(inj.data.len() as u64, now);
                        }
                        let counters = PortCounters::default();
                        self.tx.execute(&bridge, &inj.decision, pkt, &counters, now);
                    }
                    None => self.tx.stats.drops.add(DropReason::NoBuffer, 1),
                }
                if let Some(d) = inj.done {
                    // The sender's BARRIER waits on this: the packet must be on the wire first.
                    self.tx.flush();
                    let _ = d.try_send(());
                }
                done += 1;
            }
        }
        if done > 0 {
            self.tx.flush();
        }
        done
    }

    /// Take the egress treatments (shapers, checksum fill) of `set` if they changed. Packets
    /// queued for a shaper that went away are sent unshaped.
    pub fn sync_egress(&mut self, set: &EgressSet) {
        if self.tx.egress.generation_is(set.generation()) {
            return;
        }
        let mut orphans = Vec::new();
        self.tx.egress.sync(set, &mut orphans);
        for (gidx, p) in orphans {
            self.tx.enqueue(gidx, p, 0);
        }
        self.tx.flush();
    }

    /// Send what the shapers let go now; returns how many packets. One branch when this PMD
    /// shapes no port.
    #[inline]
    pub fn run_shapers(&mut self) -> usize {
        if self.tx.egress.no_shapers() {
            return 0;
        }
        let now = cycles::monotonic_ns();
        let tx = &mut self.tx;
        let n = tx.egress.drain(now, &mut tx.txq, &mut tx.pending);
        if n > 0 {
            tx.flush();
        }
        n
    }

    /// Nanoseconds until a queued packet is due (`None`: nothing queued): how long an idle PMD
    /// may nap.
    pub fn shaper_wait_ns(&self) -> Option<u64> {
        if self.tx.egress.no_shapers() {
            return None;
        }
        self.tx.egress.wait_ns(cycles::monotonic_ns())
    }

    /// Drop any queued output and release frames (on stop).
    pub fn shutdown(&mut self) {
        self.flush_stats();
        self.tx.flush();
        self.tx.egress.free_all(&mut self.tx.pool);
        for q in &mut self.tx.txq {
            self.tx.pool.free_batch(q);
        }
    }
}

/// True once in about `n` calls (xorshift32 on `state`).
#[inline(always)]
fn one_in(state: &mut u32, n: u32) -> bool {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    x.is_multiple_of(n)
}

/// Do two packets belong to the same flow? The fields that differ between the flows of a
/// many-flow stream (addresses) are checked first, so a differing pair costs two compares; an
/// equal pair is confirmed on the whole key.
#[inline(always)]
fn same_flow(a: &FlowKey, b: &FlowKey) -> bool {
    if a.ipv4_dst != b.ipv4_dst || a.eth_dst != b.eth_dst {
        return false;
    }
    let (a, b) = (a.words(), b.words());
    a.iter().zip(b).fold(0, |d, (x, y)| d | (x ^ y)) == 0
}

impl Tx {
    fn drop_pkt(&mut self, pkt: Packet, reason: DropReason, counters: &PortCounters) {
        self.stats.drops.add(reason, 1);
        counters.rx_drop(reason, 1);
        self.pool.free(pkt);
    }

    fn execute(
        &mut self,
        bridge: &Bridge,
        dec: &Decision,
        pkt: Packet,
        counters: &PortCounters,
        now: u64,
    ) {
        // The common decisions, one output and nothing else, or a policer and one output,
        // skip the action interpreter.
        match dec.actions[..] {
            [DpAction::Output(g)] => {
                self.enqueue(g, pkt, 0);
                return;
            }
            [DpAction::Meter(ref m), DpAction::Output(g)] => {
                self.police_then_output(&m.0, g, pkt, counters, now);
                return;
            }
            _ => {}
        }
        if !dec.outputs() {
            self.drop_pkt(pkt, dec.drop.unwrap_or(DropReason::RuleDrop), counters);
            return;
        }
        if let Some(left) = self.run_actions(bridge, &dec.actions, pkt, counters, now, 0) {
            // Every output was a copy (or a meter/edit failure already took the packet).
            self.pool.free(left);
        }
    }

    /// `[Meter(m), Output(g)]`, as `run_actions` would run it.
    #[inline]
    fn police_then_output(
        &mut self,
        m: &Arc<meter::Meter>,
        g: usize,
        mut pkt: Packet,
        counters: &PortCounters,
        now: u64,
    ) {
        match self.meters.apply(m, pkt.len() as u32, now) {
            Verdict::Pass => self.enqueue(g, pkt, 0),
            Verdict::Drop => self.drop_pkt(pkt, DropReason::Meter, counters),
            Verdict::Remark(levels) => {
                if meter::remark(&mut pkt, levels) {
                    self.enqueue(g, pkt, 0);
                } else {
                    self.drop_pkt(pkt, DropReason::EditFailed, counters);
                }
            }
        }
    }

    /// Run `actions` on `pkt`, whose egress queue (`set_queue`) is `queue` so far; returns the
    /// packet when no action consumed it.
    fn run_actions(
        &mut self,
        bridge: &Bridge,
        actions: &[DpAction],
        mut pkt: Packet,
        counters: &PortCounters,
        now: u64,
        mut queue: u32,
    ) -> Option<Packet> {
        // The last action that needs the packet gets the packet itself; earlier ones get copies.
        let last_use = actions.iter().rposition(DpAction::uses_packet)?;
        for (i, a) in actions[..=last_use].iter().enumerate() {
            let ok = match a {
                DpAction::Output(g) => {
                    if i == last_use {
                        self.enqueue(*g, pkt, queue);
                        return None;
                    }
                    match self.pool.clone_packet(&pkt) {
                        Some(c) => self.enqueue(*g, c, queue),
                        None => {
                            self.stats.drops.add(DropReason::NoBuffer, 1);
                            PortCounters::add(&self.table.ports[*g].counters().tx_dropped, 1);
                        }
                    }
                    true
                }
                DpAction::Clone(sub) => {
                    match self.pool.clone_packet(&pkt) {
                        Some(c) => {
                            if let Some(left) =
                                self.run_actions(bridge, sub, c, counters, now, queue)
                            {
                                self.pool.free(left);
                            }
                        }
                        None => self.stats.drops.add(DropReason::NoBuffer, 1),
                    }
                    true
                }
                DpAction::Controller(c) => {
                    self.send_to_controller(bridge, c, &pkt);
                    true
                }
                DpAction::Meter(m) => match self.meters.apply(&m.0, pkt.len() as u32, now) {
                    Verdict::Pass => true,
                    Verdict::Drop => {
                        self.drop_pkt(pkt, DropReason::Meter, counters);
                        return None;
                    }
                    Verdict::Remark(levels) => meter::remark(&mut pkt, levels),
                },
                DpAction::PushVlan { tpid, tci } => edit::push_vlan(&mut pkt, *tpid, *tci),
                DpAction::PopVlan => edit::pop_vlan(&mut pkt),
                DpAction::SetField(f, v) => edit::set_field(&mut pkt, *f, *v),
                DpAction::DecTtl => edit::dec_ttl(&mut pkt),
                DpAction::Mpls(op) => edit::mpls(&mut pkt, *op),
                DpAction::SetQueue(q) => {
                    queue = *q;
                    true
                }
            };
            if !ok {
                self.drop_pkt(pkt, DropReason::EditFailed, counters);
                return None;
            }
        }
        Some(pkt)
    }

    /// Offer a copy of `pkt` to the bridge's controllers.
    fn send_to_controller(&mut self, bridge: &Bridge, c: &ControllerOut, pkt: &Packet) {
        let data = pkt.data();
        let keep = if c.max_len == NO_BUFFER_LEN {
            data.len()
        } else {
            data.len().min(usize::from(c.max_len))
        };
        let msg = PacketInMsg {
            in_port: c.in_port,
            reason: c.reason,
            table: c.table,
            cookie: c.cookie,
            metadata: c.metadata,
            tunnel_id: c.tunnel_id,
            total_len: data.len(),
            max_len: c.max_len,
            data: data[..keep].to_vec(),
        };
        if !bridge.packet_in.push(msg) {
            self.stats.drops.add(DropReason::Controller, 1);
        }
    }

    /// Append `pkt` to port `gidx`'s transmit batch, or hand it to the port's egress treatment
    /// (shaping queue `queue`, checksum fill) when it has one.
    #[inline]
    fn enqueue(&mut self, gidx: usize, pkt: Packet, queue: u32) {
        let pkt = if self.egress.has(gidx) {
            let port = &*self.table.ports[gidx];
            match self
                .egress
                .offer(gidx, pkt, queue, &mut self.pool, &self.stats, port)
            {
                Some(p) => p,
                None => return,
            }
        } else {
            pkt
        };
        let q = &mut self.txq[gidx];
        if q.is_empty() {
            self.pending.push(gidx);
        } else if q.is_full() {
            // Full: send what we have, then queue this one.
            self.table.ports[gidx].tx_burst(self.id as u16, &mut self.pool, q);
        }
        if let Err(p) = q.push(pkt) {
            // Only a backend that broke the tx_burst contract (left packets behind) gets here.
            PortCounters::add(&self.table.ports[gidx].counters().tx_dropped, 1);
            self.pool.free(p);
        }
    }

    fn flush(&mut self) {
        // Packets executed outside a burst (PACKET_OUT) hold meter leases too.
        self.meters.settle();
        for gidx in self.pending.drain(..) {
            let q = &mut self.txq[gidx];
            if !q.is_empty() {
                self.table.ports[gidx].tx_burst(self.id as u16, &mut self.pool, q);
            }
        }
    }
}
