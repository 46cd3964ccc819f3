//! Translation: from the OpenFlow pipeline's result to datapath actions.
//!
//! The pipeline says what OpenFlow would do ("output:NORMAL", "set_field", "flood"); the datapath
//! needs concrete steps: which switch-wide port indexes, which tag edits before each output. This
//! module resolves NORMAL (MAC learning per VLAN, honouring port VLAN modes), FLOOD and reserved
//! ports, and produces a [`Decision`] that the exact-match cache stores. A decision depends only on
//! the flow key, the bridge snapshot and the MAC table, which is exactly what the cache epoch
//! tracks, so replaying it for every packet of the flow is correct.
//!
//! Learning happens here, on the slow path; cache hits refresh the learned source entry through
//! `Decision::learned`.

use crate::bridge::{BridgePort, BridgeView};
use crate::drops::DropReason;
use crate::vlan;
use flowtable::action::{
    Action, OFPP_ALL, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_NORMAL,
};
use flowtable::key::{FlowKey, VLAN_PCP_MASK, VLAN_PRESENT, VLAN_VID_MASK};
use flowtable::mactable::{Learn, MacEntry, MacTable};
use flowtable::pipeline::{PipelineResult, RuleStats};
use flowtable::Field;
use std::sync::Arc;

/// A datapath action, applied to the packet in order.
#[derive(Clone, Debug, PartialEq, Eq)]
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
}

/// What to do with every packet of one flow.
#[derive(Clone, Debug, Default)]
pub struct Decision {
    /// Steps in order; no `Output` means the packet is dropped.
    pub actions: Vec<DpAction>,
    /// Why nothing is output (set when `actions` has no output).
    pub drop: Option<DropReason>,
    /// Rules whose counters every packet of this flow bumps.
    pub rules: Vec<Arc<RuleStats>>,
    /// Learned source entry to refresh on every packet.
    pub learned: Option<Arc<MacEntry>>,
}

impl Decision {
    /// A decision that drops for `reason`.
    pub fn dropped(reason: DropReason) -> Decision {
        Decision {
            drop: Some(reason),
            ..Decision::default()
        }
    }

    /// True when some output happens.
    pub fn outputs(&self) -> bool {
        self.actions
            .iter()
            .any(|a| matches!(a, DpAction::Output(_)))
    }
}

/// What happened to the MAC table during a translation (so the caller can bump the epoch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LearnEffect {
    /// The table changed (new entry or move): caches must be invalidated.
    pub changed: bool,
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
    in_port: &'a BridgePort,
    macs: &'a mut MacTable,
    now_ns: u64,
    mode: Mode,
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

/// Translate a pipeline result for a packet that entered on `in_port`.
pub fn translate(
    view: &BridgeView,
    in_port: &BridgePort,
    key: &FlowKey,
    res: PipelineResult,
    macs: &mut MacTable,
    now_ns: u64,
    mode: Mode,
) -> (Decision, LearnEffect) {
    let mut cx = Ctx {
        view,
        in_port,
        macs,
        now_ns,
        mode,
        tci: key.vlan_tci,
        pcp_bits: key.vlan_tci & VLAN_PCP_MASK,
        stopped: false,
        out: Decision {
            rules: res.rules,
            ..Decision::default()
        },
        effect: LearnEffect::default(),
        last_drop: None,
    };
    // A table miss still executes apply-actions gathered before it (OpenFlow 1.3, as OVS).
    let empty_reason = if res.miss_drop.is_some() {
        DropReason::TableMiss
    } else {
        DropReason::RuleDrop
    };
    if res.actions.is_empty() {
        cx.out.drop = Some(empty_reason);
        return (cx.out, cx.effect);
    }
    cx.last_drop = res.miss_drop.map(|_| DropReason::TableMiss);
    let mut working = *key;
    for a in &res.actions {
        cx.action(a, &mut working);
        if cx.out.drop == Some(DropReason::MacLimit) {
            cx.out.actions.clear();
            return (cx.out, cx.effect);
        }
        if cx.stopped {
            // TTL expired: what was output before the dec_ttl stands, nothing after it runs.
            break;
        }
    }
    if !cx.out.outputs() {
        cx.out.actions.clear();
        cx.out.drop = Some(cx.last_drop.unwrap_or(DropReason::RuleDrop));
    }
    (cx.out, cx.effect)
}

impl Ctx<'_> {
    fn action(&mut self, a: &Action, key: &mut FlowKey) {
        match a {
            Action::Output { port, .. } => self.output(*port, key),
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
            Action::Group(_) | Action::SetQueue(_) => {
                self.last_drop = Some(DropReason::Unsupported);
            }
        }
    }

    fn output(&mut self, port: u32, key: &FlowKey) {
        match port {
            OFPP_NORMAL => self.normal(key),
            OFPP_FLOOD => {
                let vlan = match vlan::admit(&self.in_port.vlan, tag_of(self.tci)) {
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
                    if p.ofport != self.in_port.ofport {
                        self.out.actions.push(DpAction::Output(p.gidx));
                    }
                }
            }
            OFPP_IN_PORT => self.out.actions.push(DpAction::Output(self.in_port.gidx)),
            OFPP_CONTROLLER => self.last_drop = Some(DropReason::Controller),
            OFPP_LOCAL => self.last_drop = Some(DropReason::BadOutputPort),
            p if p == self.in_port.ofport => {
                // OpenFlow: output to the ingress port needs IN_PORT explicitly.
                self.last_drop = Some(DropReason::NormalSamePort);
            }
            p => match self.view.port(p) {
                Some(bp) => self.out.actions.push(DpAction::Output(bp.gidx)),
                None => self.last_drop = Some(DropReason::BadOutputPort),
            },
        }
    }

    fn normal(&mut self, key: &FlowKey) {
        let vlan = match vlan::admit(&self.in_port.vlan, tag_of(self.tci)) {
            Ok(v) => v,
            Err(r) => {
                self.last_drop = Some(r);
                return;
            }
        };
        if self.mode == Mode::Learn && !is_multicast(&key.eth_src) {
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
                    if let Some(tag) = vlan::egress(&bp.vlan, vlan) {
                        let gidx = bp.gidx;
                        self.emit_tagged(&[(tag, gidx)]);
                        return;
                    }
                }
            }
        }
        self.flood(vlan);
    }

    fn flood(&mut self, vlan: u16) {
        let mut outs: Vec<(Option<u16>, usize)> = self
            .view
            .ports
            .iter()
            .filter(|p| p.ofport != self.in_port.ofport)
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
