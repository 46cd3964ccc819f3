//! Running a packet key through the pipeline (OpenFlow 1.3 section 5.1 and 5.10).
//!
//! The walk starts at table 0 with an empty action set and a working copy of the key. In each
//! table the highest-priority matching rule's instructions run in the spec's order: meter,
//! apply-actions (appended to the output list *and* applied to the working key, so later tables
//! match the rewritten packet), clear-actions, write-actions (merged into the action set, one
//! action per kind, later writes replacing earlier ones), write-metadata, goto-table. A rule without
//! goto-table ends the walk and the action set is appended in its canonical order. A table miss ends
//! the walk as a drop: the action set is discarded, but apply-actions from earlier tables have
//! already "executed" and stay in the result, as in the spec and in Open vSwitch.
//!
//! This is the slow path (it runs on a cache miss), so it allocates its result freely; goto-table
//! only goes forward, which bounds the walk to one visit per table.

use super::{Pipeline, RuleStats};
use crate::action::Action;
use crate::field::Field;
use crate::key::{FlowKey, VLAN_PRESENT};
use crate::trace::{Trace, TraceStep};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The outcome of one pipeline walk.
#[derive(Clone, Debug, Default)]
pub struct PipelineResult {
    /// Actions to execute, in order (apply-actions as met, then the action set).
    pub actions: Vec<Action>,
    /// Counters of every matched rule, so a cache hit can bump them later.
    pub rules: Vec<Arc<RuleStats>>,
    /// Meters named by meter instructions, in order, each with the number of `actions` gathered
    /// before it (a meter runs before the apply-actions of its own rule).
    pub meters: Vec<(usize, u32)>,
    /// For each entry of `actions`, the rule it came from (PACKET_IN needs the table, cookie and
    /// whether it was a table-miss entry).
    pub origins: Vec<Origin>,
    /// `Some(table)` when the walk ended in a table miss (the packet is dropped after any
    /// apply-actions already in `actions`).
    pub miss_drop: Option<u8>,
    /// The key after every action of the walk (apply-actions and the action set).
    pub final_key: FlowKey,
    /// Every bit of the packet's key the walk read (the masks of the subtables it probed, the
    /// fields its actions read): any key equal to this one under this mask takes the same walk.
    /// The megaflow tier caches the translated result for all of them.
    pub wc: FlowKey,
}

/// The rule an action came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// Table of the rule.
    pub table: u8,
    /// Its cookie.
    pub cookie: u64,
    /// The rule is a table-miss entry (priority 0, matches everything): a packet it sends to the
    /// controller is reported with reason "no match".
    pub table_miss: bool,
}

/// Apply an action's header rewrite to a key (outputs, groups and queues do not change it).
pub fn apply_to_key(key: &mut FlowKey, a: &Action) {
    match a {
        Action::SetField(f, v) => f.set(key, *v),
        Action::PushVlan(_) => {
            // OpenFlow 1.3: the new tag copies VID/PCP from an existing tag, else zero.
            key.vlan_tci |= VLAN_PRESENT;
        }
        Action::PopVlan => key.vlan_tci = 0,
        Action::DecTtl => key.ip_ttl = key.ip_ttl.saturating_sub(1),
        // Push and pop change the frame's layout: the key becomes what a re-parse of the edited
        // frame gives (OpenFlow 1.3 section 5.12; see `crate::mpls`).
        Action::PushMpls(et) => crate::mpls::push(key, *et),
        Action::PopMpls(et) => crate::mpls::pop(key, *et),
        Action::DecMplsTtl => crate::mpls::dec_ttl(key),
        Action::CopyTtlIn => crate::mpls::copy_ttl_in(key),
        Action::CopyTtlOut => crate::mpls::copy_ttl_out(key),
        Action::Output { .. } | Action::Group(_) | Action::SetQueue(_) => {}
    }
}

/// Add to `wc` the key bits [`apply_to_key`] reads for `a` (over-approximated: a mask that is
/// too wide only makes a cached result apply to fewer keys).
pub fn action_reads(a: &Action, wc: &mut FlowKey) {
    let mut read = |f: Field| f.set(wc, f.full_mask());
    match a {
        Action::PushVlan(_) => read(Field::VlanVid),
        Action::DecTtl
        | Action::PushMpls(_)
        | Action::PopMpls(_)
        | Action::DecMplsTtl
        | Action::CopyTtlIn
        | Action::CopyTtlOut => {
            read(Field::EthType);
            read(Field::IpTtl);
            wc.mpls_lse = u32::MAX;
        }
        Action::SetField(..)
        | Action::PopVlan
        | Action::Output { .. }
        | Action::Group(_)
        | Action::SetQueue(_) => {}
    }
}

/// Whether `a` is a TTL decrement that the packet with key `k` does not survive.
fn ttl_expires(k: &FlowKey, a: &Action) -> bool {
    match a {
        Action::DecTtl => {
            (k.eth_type == crate::field::ETH_TYPE_IPV4 || k.eth_type == crate::field::ETH_TYPE_IPV6)
                && k.ip_ttl <= 1
        }
        Action::DecMplsTtl => {
            crate::field::is_mpls(k.eth_type) && crate::mpls::ttl(k.mpls_lse) <= 1
        }
        _ => false,
    }
}

/// Two actions occupy the same slot of an action set.
fn same_kind(a: &Action, b: &Action) -> bool {
    match (a, b) {
        (Action::SetField(f, _), Action::SetField(g, _)) => same_set_field(*f, *g),
        _ => core::mem::discriminant(a) == core::mem::discriminant(b),
    }
}

/// Set-field slots are per field; fields that alias one key slot (tp ports of TCP/UDP, the
/// ARP/IPv4 addresses, ARP/ND link-layer addresses) share one.
fn same_set_field(f: Field, g: Field) -> bool {
    let (mut a, mut b) = (FlowKey::default(), FlowKey::default());
    f.set(&mut a, f.full_mask());
    g.set(&mut b, g.full_mask());
    f == g || a == b
}

/// Merge `a` (with the rule it came from) into an action set.
fn write_action(set: &mut Vec<(Action, Origin)>, (a, origin): (&Action, Origin)) {
    match set.iter_mut().find(|s| same_kind(&s.0, a)) {
        Some(slot) => *slot = (a.clone(), origin),
        None => set.push((a.clone(), origin)),
    }
}

impl Pipeline {
    /// Run `key` (a packet of `pkt_len` bytes seen at `now_ns`) through the tables, counting
    /// table and rule hits; with `trace`, record one step per table visited.
    pub fn lookup(
        &self,
        key: &FlowKey,
        pkt_len: u32,
        now_ns: u64,
        mut trace: Option<&mut Trace>,
    ) -> PipelineResult {
        let mut res = PipelineResult {
            final_key: *key,
            ..PipelineResult::default()
        };
        // A trace describes a hypothetical packet: it must not move any counter.
        let counting = trace.is_none();
        let mut set: Vec<(Action, Origin)> = Vec::new();
        let mut table = 0u8;
        loop {
            let t = usize::from(table);
            let Some(tb) = self.tables.get(t) else {
                // Unreachable for validated rules (goto is bounds-checked on add); a miss.
                res.miss_drop = Some(table);
                return res;
            };
            let counters = &self.counters[t];
            if counting {
                counters.lookups.fetch_add(1, Ordering::Relaxed);
            }
            let hit = tb
                .cls
                .lookup_tracked(&res.final_key, &mut res.wc)
                .map(|(_, e)| e);
            if let Some(tr) = trace.as_deref_mut() {
                tr.steps.push(TraceStep {
                    table,
                    matched: hit.cloned(),
                    key_before: res.final_key,
                });
            }
            let Some(e) = hit else {
                res.miss_drop = Some(table);
                return res;
            };
            if counting {
                counters.matched.fetch_add(1, Ordering::Relaxed);
                e.stats.hit(u64::from(pkt_len), now_ns);
            }
            res.rules.push(Arc::clone(&e.stats));
            let ins = &e.instructions;
            let origin = Origin {
                table,
                cookie: e.cookie,
                table_miss: e.priority == 0 && e.m.fields().is_empty(),
            };
            if let Some(m) = ins.meter {
                res.meters.push((res.actions.len(), m));
            }
            for a in &ins.apply {
                action_reads(a, &mut res.wc);
                let expires = ttl_expires(&res.final_key, a);
                apply_to_key(&mut res.final_key, a);
                res.actions.push(a.clone());
                res.origins.push(origin);
                if expires {
                    // The packet is dropped here (the datapath's execution of this dec_ttl
                    // fails): no later table sees it, no later rule counts it, and the action
                    // set never runs (OpenFlow 1.3 section 5.12).
                    return res;
                }
            }
            if ins.clear {
                set.clear();
            }
            for a in &ins.write {
                write_action(&mut set, (a, origin));
            }
            if let Some((v, m)) = ins.write_metadata {
                let k = &mut res.final_key;
                k.metadata = (k.metadata & !m) | (v & m);
            }
            match ins.goto {
                Some(next) if next > table => table = next,
                _ => break,
            }
        }
        // The action set executes in its canonical order; a group supersedes an output.
        set.sort_by_key(|(a, _)| a.set_order());
        let has_group = set.iter().any(|(a, _)| matches!(a, Action::Group(_)));
        for (a, origin) in set {
            if has_group && matches!(a, Action::Output { .. }) {
                continue;
            }
            action_reads(&a, &mut res.wc);
            apply_to_key(&mut res.final_key, &a);
            res.actions.push(a);
            res.origins.push(origin);
        }
        res
    }
}
