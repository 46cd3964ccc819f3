//! The switch-wide port table (and the bridges the ports belong to) as the PMDs see it, and how
//! it changes while they run.
//!
//! Ports are indexed switch-wide (`gidx`: the PMDs' transmit-queue index, the `Output` target of
//! cached decisions). The table is an immutable [`PortTable`] snapshot published with
//! `arc-swap`, plus a generation number in a plain atomic so that a PMD checks for a new table
//! with one load per loop and takes the snapshot only when it changed.
//!
//! Indexes are never reused: a port added while running gets the next one, and a removed port's
//! slot holds a [`GonePort`] that receives nothing and drops (counting) anything sent to it. So
//! nothing on the hot path needs an `Option`, and a decision or a transmit batch that still
//! names a removed port's index stays harmless.
//!
//! A change is made safe by ordering, not by locks on the hot path:
//! - **add**: publish the table with the new port, wait until every PMD has picked it up
//!   ([`PortSet::wait_seen`]), and only then put the port in its bridge's view and its queues in
//!   the rx assignment; no PMD can meet the index before its own table has it.
//! - **bridge add**: publish the table with the bridge (it has no ports yet), then add its ports
//!   as above; a bridge is removed by removing its ports, and its slot stays.
//! - **remove**: take the port out of the rx assignment and the bridge's view first (the view's
//!   publish invalidates every cached decision), then publish the table with the `GonePort` and
//!   wait until every PMD has passed it; only then is the real port dropped, on the control
//!   thread, so a backend's close (a vhost-user socket, an AF_PACKET ring) never runs on a PMD or
//!   under its feet.

use crate::bridge::Bridge;
use crate::mempool::{Batch, PacketPool};
use crate::port::{Port, PortCounters};
use arc_swap::{ArcSwap, Guard};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One generation of the port table.
#[derive(Clone)]
pub struct PortTable {
    /// Generation number (starts at 1, one more per publish).
    pub generation: u64,
    /// Ports by switch-wide index.
    pub ports: Vec<Arc<dyn Port>>,
    /// For each index: (bridge index, OpenFlow port number).
    pub home: Vec<(usize, u32)>,
    /// Bridges by index. Like port indexes, bridge indexes are never reused: a removed bridge
    /// keeps its slot (with no ports left, no packet reaches it).
    pub bridges: Vec<Arc<Bridge>>,
}

/// The published table and the PMDs' acknowledgements.
pub struct PortSet {
    table: ArcSwap<PortTable>,
    generation: AtomicU64,
}

impl PortSet {
    /// The table a switch starts with.
    pub fn new(
        ports: Vec<Arc<dyn Port>>,
        home: Vec<(usize, u32)>,
        bridges: Vec<Arc<Bridge>>,
    ) -> PortSet {
        PortSet {
            table: ArcSwap::from_pointee(PortTable {
                generation: 1,
                ports,
                home,
                bridges,
            }),
            generation: AtomicU64::new(1),
        }
    }

    /// The current table.
    #[inline]
    pub fn load(&self) -> Guard<Arc<PortTable>> {
        self.table.load()
    }

    /// The current table, owned.
    pub fn load_full(&self) -> Arc<PortTable> {
        self.table.load_full()
    }

    /// The current generation (one relaxed load: the PMD's per-loop check).
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Publish a table built from the current one by `edit` (callers serialize edits); returns
    /// the new generation.
    pub fn publish(&self, edit: impl FnOnce(&mut PortTable)) -> u64 {
        let mut next = PortTable::clone(&self.table.load_full());
        edit(&mut next);
        let generation = next.generation + 1;
        next.generation = generation;
        self.table.store(Arc::new(next));
        self.generation.store(generation, Ordering::Release);
        generation
    }

    /// Wait (at most `timeout`) until every PMD in `seen` reports generation `gen` or later.
    /// Returns false on timeout (a PMD stuck in a burst for that long is a bug elsewhere).
    pub fn wait_seen(&self, seen: &[Arc<AtomicU64>], gen: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if seen.iter().all(|s| s.load(Ordering::Acquire) >= gen) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}

/// What a removed port's index holds: receives nothing, drops and counts what is sent to it.
pub struct GonePort {
    name: String,
    counters: PortCounters,
}

impl GonePort {
    /// The stand-in for removed port `name`.
    pub fn new(name: &str) -> GonePort {
        GonePort {
            name: name.to_string(),
            counters: PortCounters::default(),
        }
    }
}

impl Port for GonePort {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "removed"
    }

    fn n_rxq(&self) -> u16 {
        0
    }

    fn rx_burst(&self, _rxq: u16, _pool: &mut PacketPool, _batch: &mut Batch) -> usize {
        0
    }

    fn tx_burst(&self, _txq: u16, pool: &mut PacketPool, batch: &mut Batch) {
        PortCounters::add(&self.counters.tx_dropped, batch.len() as u64);
        pool.free_batch(batch);
    }

    fn link_up(&self) -> bool {
        false
    }

    fn counters(&self) -> &PortCounters {
        &self.counters
    }
}
