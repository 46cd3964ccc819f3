//! Translation: from the OpenFlow pipeline's result to datapath actions.
//!
//! The pipeline says what OpenFlow would do ("output:NORMAL", "set_field", "flood", "group:1",
//! "meter:2"); the datapath needs concrete steps: which switch-wide port indexes, which tag edits
//! before each output, which meter to police with, which group buckets to run on copies of the
//! packet. This module resolves NORMAL (MAC learning per VLAN, honouring port VLAN modes), FLOOD,
//! reserved ports, groups (bucket choice and liveness), meters and CONTROLLER, and produces a
//! [`Decision`] that the exact-match cache stores. A decision depends only on the flow key, the
//! bridge snapshot (ports and their config bits, tables, groups, meters) and the MAC table, which
//! is exactly what the cache epoch tracks, so replaying it for every packet of the flow is correct.
//! Port liveness, which fast-failover groups read, is part of that too: the housekeeping thread
//! bumps the epoch when a link changes.
//!
//! Learning happens here, on the slow path; cache hits refresh the learned source entry through
//! `Decision::learned`.

use crate::bridge::{BridgePort, BridgeView, OFPPC_NO_PACKET_IN};
use crate::config::VlanMode;
use crate::drops::DropReason;
use crate::edit::MplsOp;
use crate::flowstats::PendingStats;
use crate::meter::Meter;
use crate::vlan;
use flowtable::action::{
    Action, OFPP_ALL, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_NORMAL,
    OFPP_TABLE,
};
use flowtable::key::{FlowKey, VLAN_PCP_MASK, VLAN_PRESENT, VLAN_VID_MASK};
use flowtable::mactable::{Learn, MacEntry, MacTable};
use flowtable::pipeline::{Origin, PipelineResult, RuleStats};
use flowtable::Field;
use std::sync::Arc;

pub use crate::describe::{describe, describe_actions};

/// Group chains deeper than this are cut (a group whose bucket names a group...).
const MAX_GROUP_DEPTH: u8 = 8;

/// OFPR_NO_MATCH: a table-miss entry sent the packet.
pub const OFPR_NO_MATCH: u8 = 0;
/// OFPR_ACTION: an output-to-controller action sent the packet.
pub const OFPR_ACTION: u8 = 1;

/// A meter as a datapath action refers to it (compared by identity).
#[derive(Clone, Debug)]
pub struct MeterRef(pub Arc<Meter>);

impl PartialEq for MeterRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for MeterRef {}

impl std::hash::Hash for MeterRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.0).hash(state);
    }
}

/// Where a packet sent to the controllers came from (the PACKET_IN header fields).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ControllerOut {
    /// OFPR_NO_MATCH or OFPR_ACTION.
    pub reason: u8,
    /// Table of the rule.
    pub table: u8,
    /// Cookie of the rule.
    pub cookie: u64,
    /// Bytes to send (OFPCML_NO_BUFFER = all).
    pub max_len: u16,
    /// Ingress OpenFlow port.
    pub in_port: u32,
    /// Pipeline metadata at that point.
    pub metadata: u64,
    /// Tunnel id at that point (set by a `set_field`; 0 until overlay ports exist).
    pub tunnel_id: u64,
}

/// The ingress port of a translation: a bridge member, or the controller (PACKET_OUT with
/// `in_port=CONTROLLER`).
#[derive(Clone, Copy, Debug)]
pub struct InPort<'a> {
    /// OpenFlow port number.
    pub ofport: u32,
    /// Switch-wide index; `None` for the controller.
    pub gidx: Option<usize>,
    /// VLAN mode (none for the controller).
    pub vlan: &'a VlanMode,
    /// OpenFlow config bits.
    pub config: u32,
}

static NO_VLAN: VlanMode = VlanMode::None;

impl InPort<'static> {
    /// The controller as an ingress port.
    pub fn controller() -> InPort<'static> {
        InPort {
            ofport: OFPP_CONTROLLER,
            gidx: None,
            vlan: &NO_VLAN,
            config: 0,
        }
    }
}

impl<'a> From<&'a BridgePort> for InPort<'a> {
    fn from(p: &'a BridgePort) -> InPort<'a> {
        InPort {
            ofport: p.ofport,
            gidx: Some(p.gidx),
            vlan: &p.vlan,
            config: p.config,
        }
    }
}

/// A datapath action, applied to the packet in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DpAction {
    /// Transmit a copy (or, for the last output, the packet itself) on a switch-wide port index.
    Output(usize),
    /// Push an outer tag.
    PushVlan {
        /// Tag protocol id.
        tpid: u16,
        /// Tag control information (PCP and VID; the CFI/DEI bit is always 0).
        tci: u16,
    },
    /// Remove the outer tag.
    PopVlan,
    /// Set a header field (checksums fixed up).
    SetField(Field, u128),
    /// Decrement the IP TTL / hop limit; drop at zero.
    DecTtl,
    /// An MPLS push, pop or TTL edit.
    Mpls(crate::edit::MplsOp),
    /// Police with a meter: the packet may be dropped or its DSCP remarked.
    Meter(MeterRef),
    /// Send a copy (as it is at this point) to the controllers.
    Controller(ControllerOut),
    /// Run the nested actions on a copy of the packet (a group bucket): edits made inside do not
    /// leak into the actions that follow.
    Clone(Vec<DpAction>),
    /// Use this egress queue for the outputs that follow (OpenFlow `set_queue`; NORMAL's
    /// outputs included). On a shaped port it picks the shaping queue (unknown ids: queue 0);
    /// elsewhere it does nothing.
    SetQueue(u32),
}

impl DpAction {
    /// True when the action needs the packet after it (an output of some kind).
    #[inline]
    pub fn uses_packet(&self) -> bool {
        matches!(
            self,
            DpAction::Output(_) | DpAction::Controller(_) | DpAction::Clone(_)
        )
    }
}

/// What to do with every packet of one flow.
///
/// `repr(C)` with the fields a cache hit reads (`actions`, `pending`, `drop`) first, so that a
/// hit touches the first 56 bytes only and the PMD can prefetch them (see [`Decision::prefetch_hot`]).
#[repr(C)]
#[derive(Clone, Debug, Default)]
pub struct Decision {
    /// Steps in order; no `Output` means the packet is dropped.
    pub actions: Vec<DpAction>,
    /// Cache hits not yet charged to `rules`, `extra` and `learned` (see [`crate::flowstats`]).
    pub pending: PendingStats,
    /// Why nothing is output (set when `actions` has no output).
    pub drop: Option<DropReason>,
    /// Rules whose counters every packet of this flow bumps.
    pub rules: Vec<Arc<RuleStats>>,
    /// Group and bucket counters every packet of this flow bumps (the pipeline lookup counts
    /// `rules` itself on the slow path; these are counted by whoever executes the decision).
    pub extra: Vec<Arc<RuleStats>>,
    /// Learned source entry to refresh on every packet.
    pub learned: Option<Arc<MacEntry>>,
}

impl Decision {
    /// Ask for the lines of the fields a cache hit reads.
    #[inline]
    pub fn prefetch_hot(&self) {
        let p = (self as *const Decision).cast::<u8>();
        flowtable::prefetch::read(p);
        flowtable::prefetch::read(p.wrapping_add(HOT_BYTES - 1));
    }

    /// Ask for the first line of the action list (reads `actions`, so it belongs a few packets
    /// after [`Decision::prefetch_hot`]).
    #[inline]
    pub fn prefetch_actions(&self) {
        flowtable::prefetch::read(self.actions.as_ptr().cast());
    }

    /// A decision that drops for `reason`.
    pub fn dropped(reason: DropReason) -> Decision {
        Decision {
            drop: Some(reason),
            ..Decision::default()
        }
    }

    /// Hash of what [`Decision::same`] compares.
    pub fn signature(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = SigHasher(0x243f_6a88_85a3_08d3);
        self.actions.hash(&mut h);
        self.drop.hash(&mut h);
        for r in self.rules.iter().chain(&self.extra) {
            Arc::as_ptr(r).hash(&mut h);
        }
        self.learned.as_ref().map(Arc::as_ptr).hash(&mut h);
        h.finish()
    }

    /// Two decisions do the same thing to a packet and charge the same counters (so one can
    /// stand for the other in a cache).
    pub fn same(&self, other: &Decision) -> bool {
        let ptrs = |a: &[Arc<RuleStats>], b: &[Arc<RuleStats>]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y))
        };
        self.actions == other.actions
            && self.drop == other.drop
            && ptrs(&self.rules, &other.rules)
            && ptrs(&self.extra, &other.extra)
            && match (&self.learned, &other.learned) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }

    /// True when some output happens (to a port, to the controller, or inside a bucket).
    pub fn outputs(&self) -> bool {
        self.actions.iter().any(DpAction::uses_packet)
    }
}

/// A fast, non-keyed hasher for [`Decision::signature`] (slow path only; collisions cost a
/// [`Decision::same`] compare, nothing else).
struct SigHasher(u64);

impl std::hash::Hasher for SigHasher {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let h = (self.0 ^ n).wrapping_mul(0xff51_afd7_ed55_8ccd);
        self.0 = h ^ (h >> 32);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Bytes at the start of a [`Decision`] that a cache hit reads.
const HOT_BYTES: usize = std::mem::offset_of!(Decision, drop) + 8;

/// What a translation did besides deciding: whether it changed the MAC table (so the caller
/// bumps the epoch), and which key bits the decision depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LearnEffect {
    /// The table changed (new entry or move): caches must be invalidated.
    pub changed: bool,
    /// Every bit of the packet's key the pipeline walk and the translation read (the megaflow
    /// mask): a packet whose key agrees with this one on these bits gets the same decision
    /// under the same epoch.
    pub wc: FlowKey,
}

/// Mode of a translation: `Learn` for real packets, `DryRun` for traces (no learning).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Learn source MACs.
    Learn,
    /// Do not modify the MAC table.
    DryRun,
}

struct Ctx<'a> {
    view: &'a BridgeView,
    in_port: InPort<'a>,
    macs: &'a mut MacTable,
    now_ns: u64,
    pkt_len: u32,
    mode: Mode,
    /// Nesting of output:TABLE (PACKET_OUT) and of groups.
    depth: u8,
    /// Current outer tag (TCI with VLAN_PRESENT), tracking edits made so far.
    tci: u16,
    /// Priority of the frame as received (re-used whenever a tag is pushed back).
    pcp_bits: u16,
    /// A dec_ttl found TTL 1: later actions are not executed.
    stopped: bool,
    out: Decision,
    effect: LearnEffect,
    last_drop: Option<DropReason>,
}

/// Add `f`'s bits to the read mask `wc`.
fn read(wc: &mut FlowKey, f: Field) {
    f.set(wc, f.full_mask());
}

/// Translate a pipeline result for a packet of `pkt_len` bytes that entered on `in_port`.
#[allow(clippy::too_many_arguments)]
pub fn translate(
    view: &BridgeView,
    in_port: InPort<'_>,
    key: &FlowKey,
    res: PipelineResult,
    macs: &mut MacTable,
    now_ns: u64,
    pkt_len: u32,
    mode: Mode,
) -> (Decision, LearnEffect) {
    let mut cx = Ctx {
        view,
        in_port,
        macs,
        now_ns,
        pkt_len,
        mode,
        depth: 0,
        tci: key.vlan_tci,
        pcp_bits: key.vlan_tci & VLAN_PCP_MASK,
        stopped: false,
        out: Decision::default(),
        effect: LearnEffect::default(),
        last_drop: None,
    };
    // The port's VLAN handling reads the whole tag; every decision depends on the ingress port.
    read(&mut cx.effect.wc, Field::InPort);
    cx.effect.wc.vlan_tci = u16::MAX;
    let mut working = *key;
    cx.run(res, &mut working);
    if cx.out.drop == Some(DropReason::MacLimit) {
        cx.out.actions.clear();
    } else if !cx.out.outputs() {
        cx.out.actions.clear();
        cx.out.drop = Some(cx.last_drop.unwrap_or(DropReason::RuleDrop));
    }
    (cx.out, cx.effect)
}

/// A pipeline result for a bridge in fail-open mode: NORMAL, as if the tables held only the
/// default flow.
pub fn fail_open_result(key: &FlowKey) -> PipelineResult {
    PipelineResult {
        actions: vec![Action::normal()],
        origins: vec![Origin::default()],
        final_key: *key,
        ..PipelineResult::default()
    }
}

impl Ctx<'_> {
    /// Execute one pipeline result's actions (with its meters in place) on the working key.
    fn run(&mut self, res: PipelineResult, key: &mut FlowKey) {
        // Write-metadata instructions change the pipeline's key, not the packet's: carry the
        // final value so PACKET_IN reports what the controller's flows wrote.
        key.metadata = res.final_key.metadata;
        self.effect.wc.or_with(&res.wc);
        self.out.rules.extend(res.rules);
        // A table miss still executes apply-actions gathered before it (OpenFlow 1.3, as OVS).
        if res.miss_drop.is_some() {
            self.last_drop = Some(DropReason::TableMiss);
        }
        let mut meters = res.meters.iter().peekable();
        for (i, a) in res.actions.iter().enumerate() {
            while let Some(&(_, id)) = meters.next_if(|(pos, _)| *pos <= i) {
                self.meter(id);
            }
            if self.stopped {
                // TTL expired or a meter vanished: what was output before stands, nothing
                // after runs.
                return;
            }
            let origin = res.origins.get(i).copied().unwrap_or_default();
            self.action(a, key, origin);
            if self.out.drop == Some(DropReason::MacLimit) || self.stopped {
                return;
            }
        }
    }

    fn meter(&mut self, id: u32) {
        match self.view.meters.get(id) {
            Some(m) => self.out.actions.push(DpAction::Meter(MeterRef(m.clone()))),
            None => {
                self.last_drop = Some(DropReason::UnknownMeter);
                self.stopped = true;
            }
        }
    }

    fn action(&mut self, a: &Action, key: &mut FlowKey, origin: Origin) {
        match a {
            Action::Output { port, max_len } => self.output(*port, *max_len, key, origin),
            Action::PushVlan(tpid) => {
                // OpenFlow 1.3: the new tag copies VID/PCP from an existing tag, else zero.
                let tci = self.tci & (VLAN_PCP_MASK | VLAN_VID_MASK);
                self.out
                    .actions
                    .push(DpAction::PushVlan { tpid: *tpid, tci });
                self.tci = tci | VLAN_PRESENT;
                key.vlan_tci = self.tci;
            }
            Action::PopVlan => {
                if self.tci & VLAN_PRESENT != 0 {
                    self.out.actions.push(DpAction::PopVlan);
                    self.tci = 0;
                    key.vlan_tci = 0;
                } else {
                    self.last_drop = Some(DropReason::EditFailed);
                }
            }
            Action::SetField(f, _)
                if {
                    f.prereq().read_mask(&mut self.effect.wc);
                    !f.prereq().met_by(key)
                } =>
            {
                // The packet has no such field: the edit does not apply (as in Open vSwitch),
                // and the packet goes on unchanged rather than being dropped.
            }
            Action::SetField(f, v) => {
                f.set(key, *v);
                if matches!(f, Field::VlanVid | Field::VlanPcp) {
                    if self.tci & VLAN_PRESENT == 0 {
                        self.last_drop = Some(DropReason::EditFailed);
                        return;
                    }
                    self.tci = (key.vlan_tci & !VLAN_PRESENT) | VLAN_PRESENT;
                    self.pcp_bits = self.tci & VLAN_PCP_MASK;
                }
                self.out.actions.push(DpAction::SetField(*f, *v));
            }
            Action::DecTtl => {
                read(&mut self.effect.wc, Field::EthType);
                read(&mut self.effect.wc, Field::IpTtl);
                if key.eth_type != 0x0800 && key.eth_type != 0x86dd {
                    // No TTL to decrement: the action does not apply (as in OVS).
                } else if key.ip_ttl <= 1 {
                    self.last_drop = Some(DropReason::TtlExpired);
                    self.stopped = true;
                } else {
                    key.ip_ttl -= 1;
                    self.out.actions.push(DpAction::DecTtl);
                }
            }
            Action::Group(g) => self.group(*g, key, origin),
            Action::SetQueue(q) => self.out.actions.push(DpAction::SetQueue(*q)),
            Action::PushMpls(_)
            | Action::PopMpls(_)
            | Action::DecMplsTtl
            | Action::CopyTtlIn
            | Action::CopyTtlOut => self.mpls(a, key),
        }
    }

    /// MPLS actions: the key follows the frame (see `flowtable::mpls`). On a frame that is not
    /// MPLS, pop and the TTL actions do not apply (as a set-field without its header); a TTL
    /// that would reach zero drops the packet as `dec_ttl` does.
    fn mpls(&mut self, a: &Action, key: &mut FlowKey) {
        flowtable::pipeline::action_reads(a, &mut self.effect.wc);
        let is_mpls = flowtable::field::is_mpls(key.eth_type);
        let op = match *a {
            Action::PushMpls(ethertype) => MplsOp::Push {
                ethertype,
                lse: flowtable::mpls::pushed_lse(key),
            },
            _ if !is_mpls => return,
            Action::PopMpls(ethertype) => MplsOp::Pop { ethertype },
            Action::DecMplsTtl if flowtable::mpls::ttl(key.mpls_lse) <= 1 => {
                self.last_drop = Some(DropReason::TtlExpired);
                self.stopped = true;
                return;
            }
            Action::DecMplsTtl => MplsOp::DecTtl,
            Action::CopyTtlIn => MplsOp::CopyTtlIn,
            _ => MplsOp::CopyTtlOut,
        };
        flowtable::pipeline::apply_to_key(key, a);
        self.out.actions.push(DpAction::Mpls(op));
    }

    /// Run a group: each chosen bucket's actions are translated on a copy of the state and, when
    /// they edit the packet, wrapped in a `Clone` so the edits stay inside the bucket.
    fn group(&mut self, id: u32, key: &FlowKey, origin: Origin) {
        let Some(g) = self.view.groups.get(id).cloned() else {
            self.last_drop = Some(DropReason::UnknownGroup);
            return;
        };
        if self.depth >= MAX_GROUP_DEPTH {
            self.last_drop = Some(DropReason::UnknownGroup);
            return;
        }
        let mut chosen = Vec::new();
        g.choose(self.view, key, &mut chosen);
        g.read_mask(&mut self.effect.wc);
        if chosen.is_empty() {
            self.last_drop = Some(DropReason::GroupNoBucket);
            return;
        }
        self.out.extra.push(g.stats.clone());
        for b in chosen {
            let Some(bucket) = g.buckets.get(b) else {
                continue;
            };
            self.out.extra.push(bucket.stats.clone());
            let (tci, pcp_bits, stopped) = (self.tci, self.pcp_bits, self.stopped);
            let outer = std::mem::take(&mut self.out.actions);
            let mut k = *key;
            self.depth += 1;
            for a in &bucket.actions {
                self.action(a, &mut k, origin);
                if self.stopped || self.out.drop == Some(DropReason::MacLimit) {
                    break;
                }
            }
            self.depth -= 1;
            let sub = std::mem::replace(&mut self.out.actions, outer);
            (self.tci, self.pcp_bits, self.stopped) = (tci, pcp_bits, stopped);
            if !sub.iter().any(DpAction::uses_packet) {
                continue;
            }
            if sub.iter().all(DpAction::uses_packet) {
                // Nothing in the bucket edits the packet: no copy needed.
                self.out.actions.extend(sub);
            } else {
                self.out.actions.push(DpAction::Clone(sub));
            }
        }
    }

    /// The member `ofport` if it may transmit (else records why not).
    fn forwarding_port(&mut self, ofport: u32) -> Option<usize> {
        match self.view.port(ofport) {
            Some(bp) if bp.forwards() => Some(bp.gidx),
            Some(_) => {
                self.last_drop = Some(DropReason::PortNoFwd);
                None
            }
            None => {
                self.last_drop = Some(DropReason::BadOutputPort);
                None
            }
        }
    }

    fn output(&mut self, port: u32, max_len: u16, key: &FlowKey, origin: Origin) {
        match port {
            OFPP_NORMAL => self.normal(key),
            OFPP_FLOOD => {
                let vlan = match vlan::admit(self.in_port.vlan, tag_of(self.tci)) {
                    Ok(v) => v,
                    Err(r) => {
                        self.last_drop = Some(r);
                        return;
                    }
                };
                self.flood(vlan);
            }
            OFPP_ALL => {
                for p in &self.view.ports {
                    if p.ofport != self.in_port.ofport && p.forwards() {
                        self.out.actions.push(DpAction::Output(p.gidx));
                    }
                }
            }
            OFPP_IN_PORT => match self.in_port.gidx {
                Some(_) => {
                    if let Some(g) = self.forwarding_port(self.in_port.ofport) {
                        self.out.actions.push(DpAction::Output(g));
                    }
                }
                None => self.last_drop = Some(DropReason::BadOutputPort),
            },
            OFPP_CONTROLLER => {
                if self.in_port.config & OFPPC_NO_PACKET_IN != 0 {
                    self.last_drop = Some(DropReason::NoPacketIn);
                    return;
                }
                read(&mut self.effect.wc, Field::Metadata);
                read(&mut self.effect.wc, Field::TunnelId);
                let reason = if origin.table_miss {
                    OFPR_NO_MATCH
                } else {
                    OFPR_ACTION
                };
                self.out.actions.push(DpAction::Controller(ControllerOut {
                    reason,
                    table: origin.table,
                    cookie: origin.cookie,
                    max_len,
                    in_port: self.in_port.ofport,
                    metadata: key.metadata,
                    tunnel_id: key.tunnel_id,
                }));
            }
            OFPP_TABLE => {
                // Only a PACKET_OUT submits to the tables (flow validation refuses TABLE in
                // rules), and only once.
                if self.depth > 0 {
                    self.last_drop = Some(DropReason::BadOutputPort);
                    return;
                }
                let res = self
                    .view
                    .pipeline
                    .lookup(key, self.pkt_len, self.now_ns, None);
                let mut k = *key;
                self.depth += 1;
                self.run(res, &mut k);
                self.depth -= 1;
            }
            OFPP_LOCAL => self.last_drop = Some(DropReason::BadOutputPort),
            p if p == self.in_port.ofport => {
                // OpenFlow: output to the ingress port needs IN_PORT explicitly.
                self.last_drop = Some(DropReason::NormalSamePort);
            }
            p => {
                if let Some(g) = self.forwarding_port(p) {
                    self.out.actions.push(DpAction::Output(g));
                }
            }
        }
    }

    fn normal(&mut self, key: &FlowKey) {
        read(&mut self.effect.wc, Field::EthSrc);
        read(&mut self.effect.wc, Field::EthDst);
        let vlan = match vlan::admit(self.in_port.vlan, tag_of(self.tci)) {
            Ok(v) => v,
            Err(r) => {
                self.last_drop = Some(r);
                return;
            }
        };
        // The controller is not a place a MAC address lives.
        let learn = self.mode == Mode::Learn && self.in_port.gidx.is_some();
        if learn && !is_multicast(&key.eth_src) {
            let gen = self.macs.generation();
            match self
                .macs
                .learn(vlan, key.eth_src, self.in_port.ofport, self.now_ns)
            {
                Learn::New(e) | Learn::Refreshed(e) | Learn::Moved { entry: e, .. } => {
                    self.out.learned = Some(e)
                }
                Learn::LimitReached => {
                    self.out.drop = Some(DropReason::MacLimit);
                    return;
                }
                // Cached like any decision; the switch's housekeeping invalidates the caches when
                // the hold-down ends (`MacTable::hold_ended`), so the address learns again then.
                Learn::NotUnicast | Learn::Flapping { .. } => {}
            }
            if self.macs.generation() != gen {
                self.effect.changed = true;
            }
        }
        if !is_multicast(&key.eth_dst) {
            if let Some(ofport) = self.macs.lookup(vlan, key.eth_dst, self.now_ns) {
                if ofport == self.in_port.ofport {
                    self.last_drop = Some(DropReason::NormalSamePort);
                    return;
                }
                if let Some(bp) = self.view.port(ofport) {
                    if !bp.forwards() {
                        self.last_drop = Some(DropReason::PortNoFwd);
                        return;
                    }
                    if let Some(tag) = vlan::egress(&bp.vlan, vlan) {
                        let gidx = bp.gidx;
                        self.emit_tagged(&[(tag, gidx)]);
                        return;
                    }
                }
            } else if self.mode == Mode::Learn {
                // This decision stands only until the address is learned.
                self.macs.note_unknown(vlan, key.eth_dst);
            }
        }
        self.flood(vlan);
    }

    fn flood(&mut self, vlan: u16) {
        let mut outs: Vec<(Option<u16>, usize)> = self
            .view
            .ports
            .iter()
            .filter(|p| p.ofport != self.in_port.ofport && p.forwards())
            .filter_map(|p| vlan::egress(&p.vlan, vlan).map(|t| (t, p.gidx)))
            .collect();
        if outs.is_empty() {
            self.last_drop = Some(DropReason::NormalNoPort);
            return;
        }
        // Group outputs that want the same tag, untagged first, so each edit is emitted once.
        outs.sort_by_key(|(t, g)| (t.map_or(0, |v| v + 1), *g));
        self.emit_tagged(&outs);
    }

    fn emit_tagged(&mut self, outs: &[(Option<u16>, usize)]) {
        for &(want, gidx) in outs {
            let cur = tag_of(self.tci);
            match (cur, want) {
                (None, None) => {}
                (Some(_), None) => {
                    self.out.actions.push(DpAction::PopVlan);
                    self.tci = 0;
                }
                (None, Some(v)) => {
                    let tci = v | self.pcp_bits;
                    self.out
                        .actions
                        .push(DpAction::PushVlan { tpid: 0x8100, tci });
                    self.tci = tci | VLAN_PRESENT;
                }
                (Some(c), Some(v)) if c != v => {
                    self.out.actions.push(DpAction::SetField(
                        Field::VlanVid,
                        u128::from(v | VLAN_PRESENT),
                    ));
                    self.tci = (self.tci & !VLAN_VID_MASK) | v;
                }
                _ => {}
            }
            self.out.actions.push(DpAction::Output(gidx));
        }
    }
}

#[inline]
fn tag_of(tci: u16) -> Option<u16> {
    (tci & VLAN_PRESENT != 0).then_some(tci & VLAN_VID_MASK)
}

#[inline]
fn is_multicast(mac: &[u8; 6]) -> bool {
    mac[0] & 1 != 0
}
