//! A bridge: one OpenFlow switch instance (one per DVS on the host), its ports, its pipeline and
//! its MAC table.
//!
//! PMD threads read a bridge through an immutable [`BridgeView`] snapshot published with
//! `arc-swap`: an update (flow mod, port change) clones the view, edits the clone and swaps it in,
//! so a reader never sees a half-applied change and never takes a lock. Every publish bumps the
//! bridge's cache epoch, which invalidates every PMD's exact-match cache for it at its next batch: the
//! cost of a flow mod is one cache refill, and no stale decision survives a change.
//!
//! The MAC table is the one piece of shared mutable state: it is behind a mutex that only the slow
//! path (cache misses) and the control thread take. Cache hits refresh a learned entry's timestamp
//! through its `Arc<MacEntry>` without locking.

use crate::config::VlanMode;
use crate::port::Port;
use arc_swap::{ArcSwap, Guard};
use flowtable::mactable::MacTable;
use flowtable::pipeline::Pipeline;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// A port as a member of a bridge.
#[derive(Clone)]
pub struct BridgePort {
    /// Port name.
    pub name: String,
    /// OpenFlow port number.
    pub ofport: u32,
    /// Index in the switch-wide port list (the PMDs' transmit-queue index).
    pub gidx: usize,
    /// VLAN mode.
    pub vlan: VlanMode,
    /// The I/O backend.
    pub port: Arc<dyn Port>,
}

/// Immutable snapshot of a bridge, read by PMD threads.
#[derive(Clone)]
pub struct BridgeView {
    /// Ports in configuration order.
    pub ports: Vec<BridgePort>,
    /// OpenFlow port number -> index in `ports`.
    pub by_ofport: HashMap<u32, usize>,
    /// The OpenFlow tables.
    pub pipeline: Arc<Pipeline>,
}

impl BridgeView {
    /// The member with OpenFlow port number `ofport`.
    #[inline]
    pub fn port(&self, ofport: u32) -> Option<&BridgePort> {
        self.by_ofport.get(&ofport).map(|&i| &self.ports[i])
    }

    /// The member with name `name`.
    pub fn port_by_name(&self, name: &str) -> Option<&BridgePort> {
        self.ports.iter().find(|p| p.name == name)
    }
}

/// A bridge.
pub struct Bridge {
    /// Index in the switch's bridge list.
    pub index: usize,
    /// Bridge name.
    pub name: String,
    /// OpenFlow datapath id.
    pub datapath_id: u64,
    view: ArcSwap<BridgeView>,
    macs: Mutex<MacTable>,
    epoch: Arc<AtomicU64>,
    edit: Mutex<()>,
}

impl Bridge {
    /// A bridge with the given members and tables.
    pub fn new(
        index: usize,
        name: String,
        datapath_id: u64,
        ports: Vec<BridgePort>,
        pipeline: Pipeline,
        macs: MacTable,
        epoch: Arc<AtomicU64>,
    ) -> Bridge {
        let by_ofport = ports
            .iter()
            .enumerate()
            .map(|(i, p)| (p.ofport, i))
            .collect();
        Bridge {
            index,
            name,
            datapath_id,
            view: ArcSwap::from_pointee(BridgeView {
                ports,
                by_ofport,
                pipeline: Arc::new(pipeline),
            }),
            macs: Mutex::new(macs),
            epoch,
            edit: Mutex::new(()),
        }
    }

    /// The current snapshot (cheap; no lock).
    #[inline]
    pub fn view(&self) -> Guard<Arc<BridgeView>> {
        self.view.load()
    }

    /// The MAC table, locked (slow path and control thread only).
    pub fn macs(&self) -> MutexGuard<'_, MacTable> {
        self.macs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current cache epoch (a decision cached under an older one is a miss).
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Invalidate every PMD's caches for this bridge (after a MAC table change).
    pub fn bump_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::Release);
    }

    /// Apply `f` to a copy of the pipeline and publish it if `f` succeeds: all or nothing, and
    /// concurrent editors are serialized.
    pub fn edit_pipeline<R, E>(
        &self,
        f: impl FnOnce(&mut Pipeline) -> Result<R, E>,
    ) -> Result<R, E> {
        let _guard = self.edit.lock().unwrap_or_else(|e| e.into_inner());
        let cur = self.view.load_full();
        let mut pipeline = (*cur.pipeline).clone();
        let r = f(&mut pipeline)?;
        let mut next = (*cur).clone();
        next.pipeline = Arc::new(pipeline);
        self.view.store(Arc::new(next));
        self.bump_epoch();
        Ok(r)
    }
}
