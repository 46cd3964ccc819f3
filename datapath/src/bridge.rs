//! A bridge: one OpenFlow switch instance (one per DVS on the host), its ports, its pipeline and
//! its MAC table.
//!
//! PMD threads read a bridge through an immutable [`BridgeView`] snapshot published with
//! `arc-swap`: an update (flow mod, port change) makes a new view and swaps it in, so a reader
//! never sees a half-applied change and never takes a lock. The view's parts are `Arc`s, so a
//! new view copies only what changed; flow tables are edited on a spare copy that catches up by
//! journal instead of being copied whole (see `tables`). Every publish bumps the
//! bridge's cache epoch, which invalidates every PMD's exact-match cache for it at its next batch: the
//! cost of a flow mod is one cache refill, and no stale decision survives a change.
//!
//! The MAC table is the one piece of shared mutable state: it is behind a mutex that only the slow
//! path (cache misses) and the control thread take. Cache hits refresh a learned entry's timestamp
//! through its `Arc<MacEntry>` without locking.

mod tables;

pub use tables::{EditCounts, RECLAIM_WAIT};

use crate::config::{Policing, VlanMode};
use crate::group::GroupTable;
use crate::inject::InjectQueue;
use crate::meter::{Meter, MeterTable};
use crate::packet_in::PacketInQueue;
use crate::port::Port;
use arc_swap::{ArcSwap, Guard};
use flowtable::mactable::MacTable;
use flowtable::pipeline::Pipeline;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// OpenFlow `OFPPC_*` config bits (PORT_DOWN, NO_RECV, NO_FWD, NO_PACKET_IN) set by
    /// PORT_MOD.
    pub config: u32,
    /// Ingress policer: a one-band drop meter every received packet passes first.
    pub policer: Option<Arc<Meter>>,
}

/// The meter that enforces `p`: one drop band at the rate, with the burst as its bucket
/// (`None` only for a zero rate, which `Policing` never has).
pub fn policer(p: Policing) -> Option<Arc<Meter>> {
    use openflow::meter::{OFPMF_BURST, OFPMF_KBPS};
    let band = openflow::MeterBand::Drop {
        rate: p.rate_kbps,
        burst_size: p.burst_kb,
    };
    Meter::new(
        0,
        OFPMF_KBPS | OFPMF_BURST,
        vec![band],
        crate::cycles::monotonic_ns(),
    )
    .ok()
    .map(Arc::new)
}

/// OFPPC_PORT_DOWN: administratively down (no receive, no transmit).
pub const OFPPC_PORT_DOWN: u32 = 1 << 0;
/// OFPPC_NO_RECV: drop everything received on the port.
pub const OFPPC_NO_RECV: u32 = 1 << 2;
/// OFPPC_NO_FWD: drop everything forwarded to the port.
pub const OFPPC_NO_FWD: u32 = 1 << 5;
/// OFPPC_NO_PACKET_IN: send no packet-ins for packets received on the port.
pub const OFPPC_NO_PACKET_IN: u32 = 1 << 6;

impl BridgePort {
    /// A member with no OpenFlow config bits set.
    pub fn new(name: &str, ofport: u32, gidx: usize, vlan: VlanMode, port: Arc<dyn Port>) -> Self {
        BridgePort {
            name: name.to_string(),
            ofport,
            gidx,
            vlan,
            port,
            config: 0,
            policer: None,
        }
    }

    /// The same member, policed as `policing` says (`None`: not policed).
    pub fn with_policing(mut self, policing: Option<Policing>) -> Self {
        self.policer = policing.and_then(policer);
        self
    }

    /// The port may transmit: not administratively down, not NO_FWD.
    #[inline]
    pub fn forwards(&self) -> bool {
        self.config & (OFPPC_PORT_DOWN | OFPPC_NO_FWD) == 0
    }

    /// The port accepts received packets: not administratively down, not NO_RECV.
    #[inline]
    pub fn receives(&self) -> bool {
        self.config & (OFPPC_PORT_DOWN | OFPPC_NO_RECV) == 0
    }

    /// OpenFlow liveness (fast-failover groups): link up and not administratively down.
    #[inline]
    pub fn live(&self) -> bool {
        self.config & OFPPC_PORT_DOWN == 0 && self.port.link_up()
    }
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
    /// The group table.
    pub groups: Arc<GroupTable>,
    /// The meter table.
    pub meters: Arc<MeterTable>,
}

impl BridgeView {
    /// The member with OpenFlow port number `ofport`.
    #[inline]
    pub fn port(&self, ofport: u32) -> Option<&BridgePort> {
        self.by_ofport.get(&ofport).map(|&i| &self.ports[i])
    }

    /// OpenFlow liveness of `ofport` (false for a port the bridge does not have).
    #[inline]
    pub fn port_live(&self, ofport: u32) -> bool {
        self.port(ofport).is_some_and(BridgePort::live)
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
    /// OpenFlow datapath id (changes live, see [`Bridge::set_datapath_id`]).
    datapath_id: AtomicU64,
    view: ArcSwap<BridgeView>,
    macs: Mutex<MacTable>,
    epoch: Arc<AtomicU64>,
    edit: Mutex<()>,
    fail_open: AtomicBool,
    /// The flow tables' unpublished copy (see `tables`).
    spare: Mutex<Option<tables::Spare>>,
    edit_counts: tables::EditCounters,
    /// Each member's link as housekeeping last saw it (see [`Bridge::link_changes`]).
    links_seen: Mutex<HashMap<u32, bool>>,
    /// Packets on their way to the OpenFlow controllers.
    pub packet_in: PacketInQueue,
    /// Packets from the control plane (PACKET_OUT) on their way to PMD 0.
    pub inject: InjectQueue,
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
            datapath_id: AtomicU64::new(datapath_id),
            view: ArcSwap::from_pointee(BridgeView {
                ports,
                by_ofport,
                pipeline: Arc::new(pipeline),
                groups: Arc::new(GroupTable::default()),
                meters: Arc::new(MeterTable::default()),
            }),
            macs: Mutex::new(macs),
            epoch,
            edit: Mutex::new(()),
            fail_open: AtomicBool::new(false),
            spare: Mutex::new(None),
            edit_counts: tables::EditCounters::default(),
            links_seen: Mutex::new(HashMap::new()),
            packet_in: PacketInQueue::default(),
            inject: InjectQueue::default(),
        }
    }

    /// The members whose link went up or down since the last call. A member seen for the first
    /// time counts as a change only when its link is down (decisions may have been cached while
    /// it was up, before any check saw it). A change invalidates the caches, since fast-failover
    /// groups read liveness.
    pub fn link_changes(&self) -> Vec<u32> {
        let view = self.view();
        let changed: Vec<u32> = {
            let mut seen = self.links_seen.lock().unwrap_or_else(|e| e.into_inner());
            view.ports
                .iter()
                .filter_map(|p| {
                    let up = p.port.link_up();
                    let prev = seen.insert(p.ofport, up);
                    prev.map_or(!up, |was| was != up).then_some(p.ofport)
                })
                .collect()
        };
        if !changed.is_empty() {
            self.bump_epoch();
        }
        changed
    }

    /// The OpenFlow datapath id.
    pub fn datapath_id(&self) -> u64 {
        self.datapath_id.load(Ordering::Relaxed)
    }

    /// Change the datapath id (controllers see it on their next FEATURES_REQUEST; a change
    /// reconnects them, see `reconfig`).
    pub fn set_datapath_id(&self, id: u64) {
        self.datapath_id.store(id, Ordering::Relaxed);
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

    /// Bump the epoch after a MAC table change made by a translation that ran under epoch
    /// `seen`. When nothing else bumped it since, the new epoch is returned: what that
    /// translation decided is current under it, so its caller may cache the decision as new.
    pub fn bump_epoch_from(&self, seen: u64) -> Option<u64> {
        match self
            .epoch
            .compare_exchange(seen, seen + 1, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Some(seen + 1),
            Err(_) => {
                self.bump_epoch();
                None
            }
        }
    }

    /// Apply `f` to the pipeline and publish the result if `f` succeeds: all or nothing, and
    /// concurrent editors are serialized ([`Bridge::edit_tables`] without the view).
    pub fn edit_pipeline<R, E>(
        &self,
        f: impl FnOnce(&mut Pipeline) -> Result<R, E>,
    ) -> Result<R, E> {
        self.edit_tables(|p, _| f(p))
    }

    /// Apply `f` to a copy of the whole view (ports' config, pipeline, groups, meters) and
    /// publish it if `f` succeeds: all or nothing (a group delete removes the group and the flows
    /// that use it in one publish), and concurrent editors are serialized.
    pub fn edit_view<R, E>(&self, f: impl FnOnce(&mut BridgeView) -> Result<R, E>) -> Result<R, E> {
        let _guard = self.edit.lock().unwrap_or_else(|e| e.into_inner());
        let cur = self.view.load_full();
        let mut next = (*cur).clone();
        let r = f(&mut next)?;
        self.view.store(Arc::new(next));
        self.bump_epoch();
        Ok(r)
    }

    /// Replace the `mask` bits of `ofport`'s OpenFlow config bits with those of `config`;
    /// returns (old, new), or `None` when the bridge has no such port.
    pub fn set_port_config(&self, ofport: u32, config: u32, mask: u32) -> Option<(u32, u32)> {
        self.edit_view(|v| {
            let i = *v.by_ofport.get(&ofport).ok_or(())?;
            let p = &mut v.ports[i];
            let old = p.config;
            p.config = (old & !mask) | (config & mask);
            Ok::<_, ()>((old, p.config))
        })
        .ok()
    }

    /// True while the bridge is in fail-open mode (fail mode `standalone` and no controller
    /// reachable): every packet gets NORMAL, the flow tables are bypassed.
    #[inline]
    pub fn fail_open(&self) -> bool {
        self.fail_open.load(Ordering::Acquire)
    }

    /// Enter or leave fail-open mode (invalidating caches when it changes).
    pub fn set_fail_open(&self, on: bool) {
        if self.fail_open.swap(on, Ordering::AcqRel) != on {
            self.bump_epoch();
        }
    }
}
