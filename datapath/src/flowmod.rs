//! The one flow-modification path: add, modify, modify-strict, delete and delete-strict applied to
//! a bridge's pipeline, shared by OpenFlow FLOW_MOD, the control socket's `flow/*` methods and the
//! static flows of the configuration.
//!
//! A request ([`FlowModRequest`]) is the common denominator of the three front ends: the text
//! syntax and the wire format both reduce to it, so they cannot drift apart in semantics (strict
//! versus non-strict selection, cookie masks, out_port/out_group filters, CHECK_OVERLAP,
//! RESET_COUNTS). A batch is applied inside one [`Bridge::edit_pipeline`] call: every request of the
//! batch lands, or none does and the error names the request that failed. Publishing the edited
//! pipeline bumps the bridge's cache epoch, so the packet after the call sees the new tables.
//!
//! Removed rules (deletes, and timeouts through [`expire`]) are handed back to the caller, which
//! owns the notification channels (OpenFlow FLOW_REMOVED); this module does no I/O.

use crate::bridge::{Bridge, BridgeView};
use crate::cycles::monotonic_ns;
use flowtable::action::{Action, Instructions, OFPP_TABLE};
use flowtable::pipeline::{
    FlowEntry, FlowFilter, Pipeline, PipelineError, RemovedReason, RuleStats, OFPFF_RESET_COUNTS,
};
use flowtable::text;
use flowtable::Match;
use std::sync::Arc;
use thiserror::Error;

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Add (or replace the identical rule).
    Add,
    /// Replace the instructions of every rule at least as specific as the match.
    Modify,
    /// Replace the instructions of the rule with exactly this match and priority.
    ModifyStrict,
    /// Remove every rule at least as specific as the match.
    Delete,
    /// Remove the rule with exactly this match and priority.
    DeleteStrict,
}

impl Command {
    fn strict(self) -> bool {
        matches!(self, Command::ModifyStrict | Command::DeleteStrict)
    }
}

/// One flow modification, independent of where it came from.
#[derive(Clone, Debug)]
pub struct FlowModRequest {
    /// What to do.
    pub command: Command,
    /// Table; `None` = every table (modify/delete only).
    pub table: Option<u8>,
    /// Priority (add, and strict selection).
    pub priority: u16,
    /// Cookie of an added rule, and the value compared under `cookie_mask` when selecting.
    pub cookie: u64,
    /// Cookie bits that must match for modify/delete (0 = any cookie).
    pub cookie_mask: u64,
    /// Idle timeout (add).
    pub idle_timeout: u16,
    /// Hard timeout (add).
    pub hard_timeout: u16,
    /// `OFPFF_*` flags.
    pub flags: u16,
    /// The match (add) or the selection (modify/delete).
    pub m: Match,
    /// The match as encoded on the wire, kept on an added rule for flow statistics.
    pub wire_match: Option<Arc<[u8]>>,
    /// Instructions (add, modify).
    pub instructions: Instructions,
    /// Only rules that output to this port (delete).
    pub out_port: Option<u32>,
    /// Only rules that use this group (delete).
    pub out_group: Option<u32>,
}

impl FlowModRequest {
    /// A request from the `ovs-ofctl` text syntax (`add-flow` defaults to table 0, the others to
    /// every table).
    pub fn from_text(command: Command, fm: text::FlowMod) -> FlowModRequest {
        let table = match command {
            Command::Add => Some(fm.table.unwrap_or(0)),
            _ => fm.table,
        };
        FlowModRequest {
            command,
            table,
            priority: fm.priority,
            cookie: fm.cookie,
            cookie_mask: fm.cookie_mask,
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            flags: fm.flags,
            m: fm.m,
            wire_match: None,
            instructions: fm.instructions,
            out_port: fm.out_port,
            out_group: fm.out_group,
        }
    }

    fn filter(&self) -> FlowFilter {
        FlowFilter {
            table: self.table,
            m: self.m.clone(),
            priority: self.priority,
            cookie: self.cookie,
            cookie_mask: self.cookie_mask,
            out_port: self.out_port,
            out_group: self.out_group,
        }
    }

    fn entry(&self, table: u8, now_ns: u64) -> FlowEntry {
        FlowEntry {
            table,
            priority: self.priority,
            cookie: self.cookie,
            idle_timeout: self.idle_timeout,
            hard_timeout: self.hard_timeout,
            flags: self.flags,
            m: self.m.clone(),
            instructions: self.instructions.clone(),
            stats: Arc::new(RuleStats::new(self.flags)),
            created_ns: now_ns,
            wire_match: self.wire_match.clone(),
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FlowModError {
    /// An add named no table, or OFPTT_ALL.
    #[error("an added flow needs a single table")]
    NoTable,
    /// The pipeline refused the change (bad table, goto, match, overlap).
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// A group action names a group that does not exist.
    #[error("group {0} does not exist")]
    UnknownGroup(u32),
    /// A meter instruction names a meter that does not exist.
    #[error("meter {0} does not exist")]
    UnknownMeter(u32),
    /// output:TABLE is only valid in a PACKET_OUT.
    #[error("output:TABLE is only valid in a packet-out")]
    TableOutput,
}

/// A batch failed: nothing was applied.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("flow mod {index}: {error}")]
pub struct BatchError {
    /// Index of the failing request in the batch.
    pub index: usize,
    /// Why it failed.
    pub error: FlowModError,
}

/// What a batch did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Rules added (or replaced).
    pub added: usize,
    /// Rules whose instructions were replaced.
    pub modified: usize,
    /// Rules deleted, for FLOW_REMOVED (reason delete).
    pub removed: Vec<Arc<FlowEntry>>,
}

/// The groups and meters a rule may name (those of the bridge being edited).
pub trait References {
    /// Group `id` exists.
    fn has_group(&self, id: u32) -> bool;
    /// Meter `id` exists.
    fn has_meter(&self, id: u32) -> bool;
}

impl References for BridgeView {
    fn has_group(&self, id: u32) -> bool {
        self.groups.contains(id)
    }
    fn has_meter(&self, id: u32) -> bool {
        self.meters.contains(id)
    }
}

/// No groups, no meters.
pub struct NoReferences;

impl References for NoReferences {
    fn has_group(&self, _: u32) -> bool {
        false
    }
    fn has_meter(&self, _: u32) -> bool {
        false
    }
}

fn check_references(ins: &Instructions, refs: &dyn References) -> Result<(), FlowModError> {
    if let Some(m) = ins.meter.filter(|m| !refs.has_meter(*m)) {
        return Err(FlowModError::UnknownMeter(m));
    }
    for a in ins.apply.iter().chain(&ins.write) {
        match a {
            Action::Group(g) if !refs.has_group(*g) => return Err(FlowModError::UnknownGroup(*g)),
            Action::Output { port, .. } if *port == OFPP_TABLE => {
                return Err(FlowModError::TableOutput)
            }
            _ => {}
        }
    }
    Ok(())
}

/// Apply one request to a pipeline (the building block of [`apply_batch`] and [`apply_each`]).
/// A request that fails does so before it changes anything: every check (table, match,
/// references, goto, overlap) runs before the first rule moves.
pub fn apply(
    p: &mut Pipeline,
    refs: &dyn References,
    req: &FlowModRequest,
    now_ns: u64,
    out: &mut Applied,
) -> Result<(), FlowModError> {
    match req.command {
        Command::Add => {
            let table = req.table.ok_or(FlowModError::NoTable)?;
            check_references(&req.instructions, refs)?;
            p.add(req.entry(table, now_ns))?;
            out.added += 1;
        }
        Command::Modify | Command::ModifyStrict => {
            check_references(&req.instructions, refs)?;
            req.m.validate().map_err(PipelineError::from)?;
            let reset = req.flags & OFPFF_RESET_COUNTS != 0;
            out.modified += p.modify(
                &req.filter(),
                req.command.strict(),
                req.instructions.clone(),
                reset,
            )?;
        }
        Command::Delete | Command::DeleteStrict => {
            out.removed
                .extend(p.delete(&req.filter(), req.command.strict()));
        }
    }
    Ok(())
}

/// Apply `reqs` to `bridge` all or nothing, and publish the result once.
pub fn apply_batch(bridge: &Bridge, reqs: &[FlowModRequest]) -> Result<Applied, BatchError> {
    let now = monotonic_ns();
    bridge.edit_tables(|p, v| {
        let mut out = Applied::default();
        for (index, r) in reqs.iter().enumerate() {
            apply(p, v, r, now, &mut out).map_err(|error| BatchError { index, error })?;
        }
        Ok(out)
    })
}

/// Apply `reqs` to `bridge` one by one, as separate FLOW_MODs would be: a request that fails
/// changes nothing and is reported with its index, the others land. Everything that landed is
/// published once.
pub fn apply_each(bridge: &Bridge, reqs: &[FlowModRequest]) -> (Applied, Vec<BatchError>) {
    let now = monotonic_ns();
    let mut failed = Vec::new();
    let applied = bridge.edit_tables(|p, v| {
        let mut out = Applied::default();
        for (index, r) in reqs.iter().enumerate() {
            // A request that fails does so before it changes anything (see `apply`).
            if let Err(error) = apply(p, v, r, now, &mut out) {
                failed.push(BatchError { index, error });
            }
        }
        Ok::<_, ()>(out)
    });
    (applied.unwrap_or_default(), failed)
}

/// Remove the rules of `bridge` whose timeouts passed at `now_ns` (republishing only when one
/// did) and return them with the reason.
pub fn expire(bridge: &Bridge, now_ns: u64) -> Vec<(Arc<FlowEntry>, RemovedReason)> {
    if !bridge.view().pipeline.has_expired(now_ns) {
        return Vec::new();
    }
    bridge
        .edit_pipeline(|p| Ok::<_, ()>(p.expire(now_ns)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowtable::mactable::MacTable;
    use flowtable::pipeline::OFPFF_CHECK_OVERLAP;
    use flowtable::text::{parse_flow, parse_match};
    use std::sync::atomic::AtomicU64;

    fn bridge() -> Bridge {
        Bridge::new(
            0,
            "br0".into(),
            1,
            Vec::new(),
            Pipeline::default(),
            MacTable::new(300, 100),
            Arc::new(AtomicU64::new(1)),
        )
    }

    fn req(cmd: Command, s: &str) -> FlowModRequest {
        let none = |_: &str| None;
        let fm = match cmd {
            Command::Add | Command::Modify | Command::ModifyStrict => parse_flow(s, &none),
            Command::Delete | Command::DeleteStrict => parse_match(s, &none),
        };
        FlowModRequest::from_text(cmd, fm.expect(s))
    }

    fn cookies(b: &Bridge) -> Vec<u64> {
        b.view()
            .pipeline
            .flows(None)
            .iter()
            .map(|e| e.cookie)
            .collect()
    }

    #[test]
    fn batches_are_all_or_nothing() {
        let b = bridge();
        let ok = req(Command::Add, "cookie=1,priority=5,in_port=1,actions=drop");
        let bad = req(Command::Add, "check_overlap,priority=5,actions=drop");
        let err = apply_batch(&b, &[ok.clone(), bad]).unwrap_err();
        assert_eq!(err.index, 1);
        assert!(matches!(
            err.error,
            FlowModError::Pipeline(PipelineError::Overlap {
                table: 0,
                priority: 5
            })
        ));
        assert!(
            b.view().pipeline.is_empty(),
            "the good flow was not applied"
        );
        let epoch = b.epoch();
        assert_eq!(apply_batch(&b, &[ok]).unwrap().added, 1);
        assert!(b.epoch() > epoch, "a publish moves the cache epoch");
    }

    #[test]
    fn cookie_masks_strictness_and_overlap() {
        let b = bridge();
        let adds: Vec<FlowModRequest> = [
            "cookie=0x11,priority=5,in_port=1,actions=drop",
            "cookie=0x21,priority=6,in_port=1,actions=drop",
            "cookie=0x12,priority=5,in_port=2,actions=drop",
        ]
        .iter()
        .map(|s| req(Command::Add, s))
        .collect();
        apply_batch(&b, &adds).unwrap();
        let del = req(Command::Delete, "cookie=0x01/0x0f");
        let gone = apply_batch(&b, &[del]).unwrap().removed;
        assert_eq!(gone.len(), 2);
        assert_eq!(cookies(&b), vec![0x12]);
        // Strict delete needs the exact priority.
        let miss = req(Command::DeleteStrict, "priority=6,in_port=2");
        assert!(apply_batch(&b, &[miss]).unwrap().removed.is_empty());
        let mut clash = req(Command::Add, "priority=5,actions=drop");
        clash.flags = OFPFF_CHECK_OVERLAP;
        let err = apply_batch(&b, &[clash]).unwrap_err().error;
        assert!(matches!(
            err,
            FlowModError::Pipeline(PipelineError::Overlap {
                table: 0,
                priority: 5
            })
        ));
        let m = req(
            Command::ModifyStrict,
            "priority=5,in_port=2,actions=output:3",
        );
        assert_eq!(apply_batch(&b, &[m]).unwrap().modified, 1);
        let e = &b.view().pipeline.flows(None)[0];
        assert_eq!(e.instructions.apply, vec![Action::output(3)]);
        let g = req(Command::Add, "priority=1,actions=group:7");
        assert_eq!(
            apply_batch(&b, &[g]).unwrap_err().error,
            FlowModError::UnknownGroup(7)
        );
    }

    #[test]
    fn edits_reuse_the_spare_copy_and_each_request_stands_alone() {
        let b = bridge();
        for n in 0..20u64 {
            let r = req(
                Command::Add,
                &format!("cookie={n},priority=5,ip,nw_dst=10.0.0.{n},actions=drop"),
            );
            apply_batch(&b, &[r]).expect("add");
        }
        // The first edit copies (there is no spare yet); the others reuse it.
        let c = b.edit_counts();
        assert_eq!((c.copied, c.reused), (1, 19), "{c:?}");
        assert_eq!(cookies(&b).len(), 20);

        // One bad request among good ones: only it is refused.
        let reqs = [
            req(Command::Add, "cookie=100,priority=6,actions=drop"),
            req(Command::Add, "priority=7,actions=group:9"),
            req(Command::DeleteStrict, "priority=5,ip,nw_dst=10.0.0.3"),
        ];
        let (applied, failed) = apply_each(&b, &reqs);
        assert_eq!((applied.added, applied.removed.len()), (1, 1));
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].index, 1);
        let mut got = cookies(&b);
        got.sort_unstable();
        let mut want: Vec<u64> = (0..20).filter(|n| *n != 3).chain([100]).collect();
        want.sort_unstable();
        assert_eq!(got, want);

        // A failed batch changes nothing, and the spare stays usable.
        let bad = [
            req(Command::DeleteStrict, "priority=6"),
            req(Command::Add, "priority=7,actions=group:9"),
        ];
        assert!(apply_batch(&b, &bad).is_err());
        let mut again = cookies(&b);
        again.sort_unstable();
        assert_eq!(again, want);
        apply_batch(&b, &[req(Command::DeleteStrict, "priority=6")]).expect("delete");
        assert_eq!(cookies(&b).len(), 19);
        assert_eq!(b.edit_counts().copied, 1, "{:?}", b.edit_counts());

        // A reader that keeps the previous copy makes the next edit copy instead of waiting.
        let held = b.view().pipeline.clone();
        apply_batch(
            &b,
            &[req(Command::DeleteStrict, "priority=5,ip,nw_dst=10.0.0.4")],
        )
        .expect("delete");
        apply_batch(
            &b,
            &[req(Command::DeleteStrict, "priority=5,ip,nw_dst=10.0.0.5")],
        )
        .expect("delete");
        assert_eq!(b.edit_counts().copied, 2);
        assert_eq!(held.len(), 19, "the held copy never changed");
        assert_eq!(cookies(&b).len(), 17);
    }
}
