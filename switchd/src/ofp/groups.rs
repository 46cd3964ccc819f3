//! GROUP_MOD and the group multipart replies (group stats, group description, group features).
//!
//! Every GROUP_MOD is one publish of the bridge view ([`datapath::bridge::Bridge::edit_view`]): the
//! group table is copied, edited and swapped in, so PMDs never see a half-applied change, and the
//! epoch bump makes them re-choose buckets for cached flows. Deleting a group also deletes, in the
//! same publish, every flow whose actions (apply or write) name it (OpenFlow 1.3 section 6.5);
//! those flows get FLOW_REMOVED (reason DELETE) when they asked for it.
//!
//! Errors, in the order they are checked (Open vSwitch's codes where the spec leaves a choice,
//! except a fast-failover bucket watching nothing, which OVS calls INVALID_GROUP):
//! - id above OFPG_MAX (add/modify), or above OFPG_MAX and not OFPG_ALL (delete): INVALID_GROUP;
//! - indirect without exactly one bucket, or a weight on a bucket of a non-select group:
//!   INVALID_GROUP; more than [`MAX_BUCKETS`] buckets: OUT_OF_BUCKETS; a watch port/group on an
//!   all or indirect bucket: WATCH_UNSUPPORTED; a fast-failover bucket that watches nothing, a
//!   reserved watch port other than OFPP_ANY, a reserved watch group other than OFPG_ANY, or the
//!   group watching itself: BAD_WATCH;
//! - an action the datapath cannot run: its BAD_ACTION code (from the codec's conversion);
//! - add of an existing id: GROUP_EXISTS; modify of a missing id: UNKNOWN_GROUP; more than
//!   [`MAX_GROUPS`] groups of one type: OUT_OF_GROUPS;
//! - a watch port the bridge lacks or a watch group that does not exist: BAD_WATCH; an output to
//!   a port the bridge lacks, or to TABLE, LOCAL or ANY: BAD_ACTION/BAD_OUT_PORT; a bucket
//!   naming its own group: LOOP; a group action naming a missing group: BAD_ACTION/BAD_OUT_GROUP;
//! - a chain that comes back to the group: LOOP; a chain longer than
//!   [`datapath::group::MAX_CHAIN`] groups (the translator would cut it): CHAINING_UNSUPPORTED.
//!
//! Delete of a missing id is a silent no-op; delete of a group that buckets of other groups
//! forward to is refused with CHAINED_GROUP (delete the referring groups first, or everything
//! with OFPG_ALL). A group that is only *watched* by another group's bucket may be deleted: the
//! watching bucket is then dead until a group with that id comes back.
//!
//! A modify may change the type. It keeps the group's packet/byte counters and its age (so a
//! poller's rates do not jump; Open vSwitch resets them); the buckets are replaced, so bucket
//! counters start from zero.
//!
//! Group stats and group description list every group by id; group stats for a single id that
//! does not exist return an empty list (what Open vSwitch does). A group's `ref_count` is the
//! number of flows that name it plus the number of buckets of other groups that forward to it.

use super::hub::Hub;
use datapath::bridge::BridgeView;
use datapath::cycles::monotonic_ns;
use datapath::group::{ChainError, Group, GroupBucket, GroupKind, GroupTable, OFPG_ANY};
use flowtable::action::{
    Action, OFPP_ALL, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_MAX, OFPP_NORMAL,
};
use flowtable::pipeline::{FlowEntry, RemovedReason};
use openflow::action::action_type as at;
use openflow::convert::to_flowtable_actions;
use openflow::error::{BadActionCode, ErrorCode, GroupModFailedCode};
use openflow::flow_mod::{OFPG_ALL, OFPG_MAX};
use openflow::multipart::stats::{GroupDesc, GroupFeatures, GroupStats};
use openflow::multipart::MultipartReplyBody;
use openflow::{Bucket, GroupMod, GroupModCommand, GroupType};
use std::collections::HashMap;
use std::sync::Arc;

/// Most groups of each type a bridge may hold (advertised in group features).
pub const MAX_GROUPS: usize = 65_536;
/// Most buckets in one group.
pub const MAX_BUCKETS: usize = 1024;

/// OFPGFC_SELECT_WEIGHT: select groups honour bucket weights.
const OFPGFC_SELECT_WEIGHT: u32 = 1 << 0;
/// OFPGFC_SELECT_LIVENESS: select groups skip dead (watched) buckets.
const OFPGFC_SELECT_LIVENESS: u32 = 1 << 1;
/// OFPGFC_CHAINING: buckets may forward to groups.
const OFPGFC_CHAINING: u32 = 1 << 2;
/// OFPGFC_CHAINING_CHECKS: chains are checked for loops, and chained deletes refused.
const OFPGFC_CHAINING_CHECKS: u32 = 1 << 3;

fn failed(code: GroupModFailedCode) -> ErrorCode {
    ErrorCode::GroupModFailed(code)
}

fn bad_action(code: BadActionCode) -> ErrorCode {
    ErrorCode::BadAction(code)
}

/// The datapath's group kind for a wire group type.
pub fn kind_of(t: GroupType) -> GroupKind {
    match t {
        GroupType::All => GroupKind::All,
        GroupType::Select => GroupKind::Select,
        GroupType::Indirect => GroupKind::Indirect,
        GroupType::FastFailover => GroupKind::FastFailover,
    }
}

/// The wire group type for a datapath group kind.
pub fn type_of(k: GroupKind) -> GroupType {
    match k {
        GroupKind::All => GroupType::All,
        GroupKind::Select => GroupType::Select,
        GroupKind::Indirect => GroupType::Indirect,
        GroupKind::FastFailover => GroupType::FastFailover,
    }
}

/// Apply a GROUP_MOD to the hub's bridge.
pub(super) fn group_mod(hub: &Hub, g: &GroupMod) -> Result<(), ErrorCode> {
    match g.command {
        GroupModCommand::Add | GroupModCommand::Modify => add_or_modify(hub, g),
        GroupModCommand::Delete => delete(hub, g.group_id),
    }
}

/// Checks that need nothing but the message: bucket count and shape, watch fields, ids.
fn check_shape(id: u32, kind: GroupKind, buckets: &[Bucket]) -> Result<(), ErrorCode> {
    use GroupModFailedCode as C;
    if kind == GroupKind::Indirect && buckets.len() != 1 {
        return Err(failed(C::InvalidGroup));
    }
    if buckets.len() > MAX_BUCKETS {
        return Err(failed(C::OutOfBuckets));
    }
    for b in buckets {
        if b.weight != 0 && kind != GroupKind::Select {
            return Err(failed(C::InvalidGroup));
        }
        let watches = b.watch_port != OFPP_ANY || b.watch_group != OFPG_ANY;
        match kind {
            GroupKind::All | GroupKind::Indirect if watches => {
                return Err(failed(C::WatchUnsupported))
            }
            GroupKind::FastFailover if !watches => return Err(failed(C::BadWatch)),
            _ => {}
        }
        let bad_port = b.watch_port > OFPP_MAX && b.watch_port != OFPP_ANY;
        let bad_group =
            b.watch_group != OFPG_ANY && (b.watch_group > OFPG_MAX || b.watch_group == id);
        if bad_port || bad_group {
            return Err(failed(C::BadWatch));
        }
    }
    Ok(())
}

/// An output port a bucket may name: an existing port or a reserved port the datapath handles
/// in a group (TABLE is PACKET_OUT only; the bridge has no LOCAL port).
fn check_output(view: &BridgeView, port: u32) -> Result<(), ErrorCode> {
    match port {
        OFPP_IN_PORT | OFPP_NORMAL | OFPP_FLOOD | OFPP_ALL | OFPP_CONTROLLER => Ok(()),
        p if p <= OFPP_MAX && view.port(p).is_some() => Ok(()),
        _ => Err(bad_action(BadActionCode::BadOutPort)),
    }
}

/// Checks against the bridge: ports, watched and forwarded-to groups.
fn check_refs(view: &BridgeView, id: u32, b: &GroupBucket) -> Result<(), ErrorCode> {
    use GroupModFailedCode as C;
    if b.watch_port != OFPP_ANY && view.port(b.watch_port).is_none() {
        return Err(failed(C::BadWatch));
    }
    if b.watch_group != OFPG_ANY && !view.groups.contains(b.watch_group) {
        return Err(failed(C::BadWatch));
    }
    for a in &b.actions {
        match a {
            Action::Output { port, .. } => check_output(view, *port)?,
            Action::Group(g) if *g == id => return Err(failed(C::Loop)),
            Action::Group(g) if !view.groups.contains(*g) => {
                return Err(bad_action(BadActionCode::BadOutGroup))
            }
            _ => {}
        }
    }
    Ok(())
}

fn add_or_modify(hub: &Hub, g: &GroupMod) -> Result<(), ErrorCode> {
    use GroupModFailedCode as C;
    let id = g.group_id;
    if id > OFPG_MAX {
        return Err(failed(C::InvalidGroup));
    }
    let kind = kind_of(g.group_type);
    check_shape(id, kind, &g.buckets)?;
    let mut buckets = Vec::with_capacity(g.buckets.len());
    for b in &g.buckets {
        let actions = to_flowtable_actions(&b.actions).map_err(|e| e.code())?;
        buckets.push(GroupBucket::new(
            b.weight,
            b.watch_port,
            b.watch_group,
            actions,
        ));
    }
    let now = monotonic_ns();
    hub.bridge.edit_view(|v| {
        let old = v.groups.get(id).cloned();
        match (g.command, &old) {
            (GroupModCommand::Add, Some(_)) => return Err(failed(C::GroupExists)),
            (GroupModCommand::Modify, None) => return Err(failed(C::UnknownGroup)),
            _ => {}
        }
        let same_kind = old.as_ref().is_some_and(|o| o.kind == kind);
        if !same_kind && v.groups.count(kind) >= MAX_GROUPS {
            return Err(failed(C::OutOfGroups));
        }
        for b in &buckets {
            check_refs(v, id, b)?;
        }
        let mut group = Group::new(id, kind, buckets, g.buckets.clone(), now);
        if let Some(o) = &old {
            group.stats = o.stats.clone();
            group.created_ns = o.created_ns;
        }
        let mut table: GroupTable = (*v.groups).clone();
        table.insert(Arc::new(group));
        table.check_chains(id).map_err(|e| {
            failed(match e {
                ChainError::Loop => C::Loop,
                ChainError::TooDeep => C::ChainingUnsupported,
            })
        })?;
        v.groups = Arc::new(table);
        Ok(())
    })
}

fn names_a_group(e: &FlowEntry) -> bool {
    e.instructions
        .apply
        .iter()
        .chain(&e.instructions.write)
        .any(|a| matches!(a, Action::Group(_)))
}

fn delete(hub: &Hub, id: u32) -> Result<(), ErrorCode> {
    if id > OFPG_MAX && id != OFPG_ALL {
        return Err(failed(GroupModFailedCode::InvalidGroup));
    }
    let current = hub.bridge.view();
    if id != OFPG_ALL && !current.groups.contains(id) {
        // OpenFlow 1.3 section 6.5: deleting a missing group is not an error.
        return Ok(());
    }
    if id == OFPG_ALL && current.groups.is_empty() {
        return Ok(());
    }
    drop(current);
    let removed = hub.bridge.edit_view(|v| {
        let mut table: GroupTable = (*v.groups).clone();
        let mut pipeline = (*v.pipeline).clone();
        let removed = if id == OFPG_ALL {
            table.clear();
            pipeline.delete_where(names_a_group)
        } else {
            if !table.referrers(id).is_empty() {
                return Err(failed(GroupModFailedCode::ChainedGroup));
            }
            table.remove(id);
            pipeline.delete_where(|e| e.uses_group(id))
        };
        v.groups = Arc::new(table);
        v.pipeline = Arc::new(pipeline);
        Ok(removed)
    })?;
    hub.flows_deleted_because(removed, RemovedReason::GroupDelete);
    Ok(())
}

/// How many flows and other groups' buckets forward to each group.
fn ref_counts(view: &BridgeView) -> HashMap<u32, u32> {
    let mut refs: HashMap<u32, u32> = HashMap::new();
    let mut seen = Vec::new();
    for e in view.pipeline.flows(None) {
        seen.clear();
        for a in e.instructions.apply.iter().chain(&e.instructions.write) {
            if let Action::Group(g) = a {
                if !seen.contains(g) {
                    seen.push(*g);
                    *refs.entry(*g).or_default() += 1;
                }
            }
        }
    }
    for g in view.groups.iter() {
        for b in &g.buckets {
            seen.clear();
            for t in b.forwards_to() {
                if t != g.id && !seen.contains(&t) {
                    seen.push(t);
                    *refs.entry(t).or_default() += 1;
                }
            }
        }
    }
    refs
}

/// OFPMP_GROUP for `group_id` (OFPG_ALL = every group).
pub(super) fn group_stats(hub: &Hub, group_id: u32) -> Result<MultipartReplyBody, ErrorCode> {
    let view = hub.bridge.view();
    let groups: Vec<Arc<Group>> = if group_id == OFPG_ALL {
        view.groups.sorted().into_iter().cloned().collect()
    } else {
        view.groups.get(group_id).cloned().into_iter().collect()
    };
    if groups.is_empty() {
        return Ok(MultipartReplyBody::Group(Vec::new()));
    }
    let refs = ref_counts(&view);
    let now = monotonic_ns();
    let out = groups
        .iter()
        .map(|g| {
            let s = g.stats.snapshot();
            let age = super::duration(g.created_ns, now);
            GroupStats {
                group_id: g.id,
                ref_count: refs.get(&g.id).copied().unwrap_or(0),
                packet_count: s.packets,
                byte_count: s.bytes,
                duration_sec: age.0,
                duration_nsec: age.1,
                bucket_stats: g
                    .buckets
                    .iter()
                    .map(|b| {
                        let s = b.stats.snapshot();
                        (s.packets, s.bytes)
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(MultipartReplyBody::Group(out))
}

/// OFPMP_GROUP_DESC: every group by id, buckets as the controller sent them.
pub(super) fn group_desc(hub: &Hub) -> Result<MultipartReplyBody, ErrorCode> {
    let view = hub.bridge.view();
    let out = view
        .groups
        .sorted()
        .into_iter()
        .map(|g| GroupDesc {
            group_type: type_of(g.kind),
            group_id: g.id,
            buckets: g.wire.clone(),
        })
        .collect();
    Ok(MultipartReplyBody::GroupDesc(out))
}

/// OFPMP_GROUP_FEATURES.
pub(super) fn group_features(_hub: &Hub) -> Result<MultipartReplyBody, ErrorCode> {
    let actions = [
        at::OUTPUT,
        at::PUSH_VLAN,
        at::POP_VLAN,
        at::SET_QUEUE,
        at::GROUP,
        at::SET_NW_TTL,
        at::DEC_NW_TTL,
        at::SET_FIELD,
    ]
    .iter()
    .fold(0u32, |m, t| m | 1 << t);
    Ok(MultipartReplyBody::GroupFeatures(GroupFeatures {
        types: (1 << GroupType::All as u32)
            | (1 << GroupType::Select as u32)
            | (1 << GroupType::Indirect as u32)
            | (1 << GroupType::FastFailover as u32),
        capabilities: OFPGFC_SELECT_WEIGHT
            | OFPGFC_SELECT_LIVENESS
            | OFPGFC_CHAINING
            | OFPGFC_CHAINING_CHECKS,
        max_groups: [MAX_GROUPS as u32; 4],
        actions: [actions; 4],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(weight: u16, watch_port: u32, watch_group: u32) -> Bucket {
        Bucket {
            weight,
            watch_port,
            watch_group,
            actions: vec![],
        }
    }

    #[test]
    fn shape_errors_follow_open_vswitch() {
        use GroupModFailedCode as C;
        let plain = bucket(0, OFPP_ANY, OFPG_ANY);
        let err = |c| Err(failed(c));
        assert_eq!(
            check_shape(1, GroupKind::Indirect, &[]),
            err(C::InvalidGroup)
        );
        assert_eq!(
            check_shape(1, GroupKind::Indirect, &[plain.clone(), plain.clone()]),
            err(C::InvalidGroup)
        );
        assert_eq!(
            check_shape(1, GroupKind::Indirect, std::slice::from_ref(&plain)),
            Ok(())
        );
        assert_eq!(
            check_shape(1, GroupKind::All, &[bucket(3, OFPP_ANY, OFPG_ANY)]),
            err(C::InvalidGroup)
        );
        assert_eq!(
            check_shape(1, GroupKind::Select, &[bucket(3, 2, OFPG_ANY)]),
            Ok(())
        );
        assert_eq!(
            check_shape(1, GroupKind::All, &[bucket(0, 2, OFPG_ANY)]),
            err(C::WatchUnsupported)
        );
        assert_eq!(
            check_shape(1, GroupKind::FastFailover, std::slice::from_ref(&plain)),
            err(C::BadWatch)
        );
        for (p, g) in [(OFPP_IN_PORT, OFPG_ANY), (2, 1), (2, OFPG_ALL)] {
            assert_eq!(
                check_shape(1, GroupKind::FastFailover, &[bucket(0, p, g)]),
                err(C::BadWatch),
                "{p:#x} {g:#x}"
            );
        }
        let many = vec![plain; MAX_BUCKETS + 1];
        assert_eq!(check_shape(1, GroupKind::All, &many), err(C::OutOfBuckets));
    }

    #[test]
    fn types_round_trip() {
        for t in [
            GroupType::All,
            GroupType::Select,
            GroupType::Indirect,
            GroupType::FastFailover,
        ] {
            assert_eq!(type_of(kind_of(t)), t);
        }
    }
}
