//! FLOW_MOD to the shared flow-mod path, and the flow-related replies: flow statistics,
//! aggregate statistics and FLOW_REMOVED.
//!
//! A FLOW_MOD is decoded by the `openflow` crate, converted (match prerequisites, supported
//! actions) by its `convert` module, and then becomes a [`FlowModRequest`] like every other flow
//! change. The match of an added flow is kept as the controller encoded it
//! ([`FlowEntry::wire_match`]), so flow statistics and FLOW_REMOVED return the fields in the order
//! and mask encoding received; rules from the text syntax are rendered from their match.

use datapath::flowmod::{Command, FlowModError, FlowModRequest};
use flowtable::action::OFPP_ANY;
use flowtable::pipeline::{FlowEntry, Pipeline, PipelineError, RemovedReason};
use flowtable::MatchError;
use openflow::convert::{
    flow_mod_parts, from_flowtable_instructions, from_flowtable_match, to_flowtable_match,
};
use openflow::error::{
    BadActionCode, BadInstructionCode, BadMatchCode, BadRequestCode, ErrorCode, FlowModFailedCode,
    MeterModFailedCode,
};
use openflow::flow_mod::{removed_reason, OFPG_ANY, OFPTT_ALL};
use openflow::header::Reader;
use openflow::multipart::flow::{AggregateStats, FlowStats, FlowStatsRequest};
use openflow::oxm::{decode_match, encode_match, OxmField};
use openflow::{DecodeError, FlowMod, FlowModCommand, FlowRemoved};
use std::sync::Arc;

/// The shared-path request for a decoded FLOW_MOD.
pub(super) fn to_request(fm: &FlowMod) -> Result<FlowModRequest, ErrorCode> {
    let (m, instructions) = flow_mod_parts(fm).map_err(|e| e.code())?;
    let command = match fm.command {
        FlowModCommand::Add => Command::Add,
        FlowModCommand::Modify => Command::Modify,
        FlowModCommand::ModifyStrict => Command::ModifyStrict,
        FlowModCommand::Delete => Command::Delete,
        FlowModCommand::DeleteStrict => Command::DeleteStrict,
    };
    let table = match (fm.table_id, command) {
        (OFPTT_ALL, Command::Add) => {
            return Err(ErrorCode::FlowModFailed(FlowModFailedCode::BadTableId))
        }
        (OFPTT_ALL, _) => None,
        (t, _) => Some(t),
    };
    let deleting = matches!(command, Command::Delete | Command::DeleteStrict);
    let wire_match = (command == Command::Add).then(|| {
        let mut v = Vec::new();
        encode_match(&fm.matches, &mut v);
        Arc::<[u8]>::from(v)
    });
    Ok(FlowModRequest {
        command,
        table,
        priority: fm.priority,
        cookie: fm.cookie,
        cookie_mask: fm.cookie_mask,
        idle_timeout: fm.idle_timeout,
        hard_timeout: fm.hard_timeout,
        flags: fm.flags,
        m,
        wire_match,
        instructions,
        // OpenFlow 1.3 section 6.4: out_port/out_group only filter deletes.
        out_port: (deleting && fm.out_port != OFPP_ANY).then_some(fm.out_port),
        out_group: (deleting && fm.out_group != OFPG_ANY).then_some(fm.out_group),
    })
}

/// The OpenFlow error for a refused flow mod.
pub(super) fn error_code(e: &FlowModError) -> ErrorCode {
    match e {
        FlowModError::NoTable | FlowModError::Pipeline(PipelineError::BadTable(_)) => {
            ErrorCode::FlowModFailed(FlowModFailedCode::BadTableId)
        }
        FlowModError::Pipeline(PipelineError::Overlap { .. }) => {
            ErrorCode::FlowModFailed(FlowModFailedCode::Overlap)
        }
        FlowModError::Pipeline(
            PipelineError::GotoBackward { .. } | PipelineError::BadGotoTable(_),
        ) => ErrorCode::BadInstruction(BadInstructionCode::BadTableId),
        FlowModError::Pipeline(PipelineError::BadMatch(m)) => ErrorCode::BadMatch(match m {
            MatchError::Duplicate(_) => BadMatchCode::DupField,
            MatchError::Prerequisite { .. } => BadMatchCode::BadPrereq,
            MatchError::BadValue(_) => BadMatchCode::BadValue,
        }),
        FlowModError::Pipeline(PipelineError::MatchInconsistent(_)) => {
            ErrorCode::BadAction(BadActionCode::MatchInconsistent)
        }
        FlowModError::UnknownGroup(_) => ErrorCode::BadAction(BadActionCode::BadOutGroup),
        FlowModError::TableOutput => ErrorCode::BadAction(BadActionCode::BadOutPort),
        FlowModError::UnknownMeter(_) => {
            ErrorCode::MeterModFailed(MeterModFailedCode::UnknownMeter)
        }
    }
}

/// The match of `e` as it should appear on the wire.
fn wire_match(e: &FlowEntry) -> Vec<OxmField> {
    e.wire_match
        .as_ref()
        .and_then(|b| decode_match(&mut Reader::new(b, DecodeError::MatchBadLen)).ok())
        .unwrap_or_else(|| from_flowtable_match(&e.m))
}

fn duration(e: &FlowEntry, now_ns: u64) -> (u32, u32) {
    super::duration(e.created_ns, now_ns)
}

/// The FLOW_REMOVED for a rule that left the pipeline.
pub(super) fn flow_removed(e: &FlowEntry, why: RemovedReason, now_ns: u64) -> FlowRemoved {
    let (duration_sec, duration_nsec) = duration(e, now_ns);
    let s = e.stats.snapshot();
    FlowRemoved {
        cookie: e.cookie,
        priority: e.priority,
        reason: match why {
            RemovedReason::IdleTimeout => removed_reason::IDLE_TIMEOUT,
            RemovedReason::HardTimeout => removed_reason::HARD_TIMEOUT,
            RemovedReason::Delete => removed_reason::DELETE,
            RemovedReason::GroupDelete => removed_reason::GROUP_DELETE,
        },
        table_id: e.table,
        duration_sec,
        duration_nsec,
        idle_timeout: e.idle_timeout,
        hard_timeout: e.hard_timeout,
        packet_count: s.packets,
        byte_count: s.bytes,
        matches: wire_match(e),
    }
}

/// The rules a flow or aggregate statistics request selects (non-strict match, cookie under
/// mask, out_port and out_group filters, one table or all).
fn select(p: &Pipeline, req: &FlowStatsRequest) -> Result<Vec<Arc<FlowEntry>>, ErrorCode> {
    let table = match req.table_id {
        OFPTT_ALL => None,
        t if usize::from(t) < p.n_tables() => Some(t),
        _ => return Err(ErrorCode::BadRequest(BadRequestCode::BadTableId)),
    };
    let m = to_flowtable_match(&req.matches).map_err(|e| e.code())?;
    Ok(p.flows(table)
        .into_iter()
        .filter(|e| {
            (e.cookie & req.cookie_mask) == (req.cookie & req.cookie_mask)
                && (req.out_port == OFPP_ANY || e.outputs_to(req.out_port))
                && (req.out_group == OFPG_ANY || e.uses_group(req.out_group))
                && e.m.is_subset_of(&m)
        })
        .collect())
}

/// OFPMP_FLOW reply entries.
pub(super) fn flow_stats(
    p: &Pipeline,
    req: &FlowStatsRequest,
    now_ns: u64,
) -> Result<Vec<FlowStats>, ErrorCode> {
    Ok(select(p, req)?
        .iter()
        .map(|e| {
            let (duration_sec, duration_nsec) = duration(e, now_ns);
            let s = e.stats.snapshot();
            FlowStats {
                table_id: e.table,
                duration_sec,
                duration_nsec,
                priority: e.priority,
                idle_timeout: e.idle_timeout,
                hard_timeout: e.hard_timeout,
                flags: e.flags,
                cookie: e.cookie,
                packet_count: s.packets,
                byte_count: s.bytes,
                matches: wire_match(e),
                instructions: from_flowtable_instructions(&e.instructions),
            }
        })
        .collect())
}

/// OFPMP_AGGREGATE reply.
pub(super) fn aggregate(p: &Pipeline, req: &FlowStatsRequest) -> Result<AggregateStats, ErrorCode> {
    let mut a = AggregateStats::default();
    for e in select(p, req)? {
        let s = e.stats.snapshot();
        a.packet_count += s.packets;
        a.byte_count += s.bytes;
        a.flow_count += 1;
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowtable::field::ETH_TYPE_IPV4;
    use flowtable::Field;
    use openflow::instruction::Instruction;
    use openflow::Action;

    fn add(matches: Vec<OxmField>, table: u8) -> FlowMod {
        FlowMod {
            cookie: 7,
            cookie_mask: 0,
            table_id: table,
            command: FlowModCommand::Add,
            idle_timeout: 0,
            hard_timeout: 0,
            priority: 9,
            buffer_id: openflow::OFP_NO_BUFFER,
            out_port: OFPP_ANY,
            out_group: OFPG_ANY,
            flags: 0,
            matches,
            instructions: vec![Instruction::ApplyActions(vec![Action::Output {
                port: 2,
                max_len: 0,
            }])],
        }
    }

    #[test]
    fn stats_echo_the_match_as_received() {
        // Masked on the wire even though the mask is all ones: the dump must say so too.
        let matches = vec![
            OxmField::masked(Field::Ipv4Dst, 0x0a00_0001, 0xffff_ffff),
            OxmField::exact(Field::EthType, ETH_TYPE_IPV4.into()),
        ];
        let req = to_request(&add(matches.clone(), 0)).unwrap();
        let mut p = Pipeline::default();
        let mut out = datapath::flowmod::Applied::default();
        datapath::flowmod::apply(&mut p, &datapath::flowmod::NoReferences, &req, 0, &mut out)
            .unwrap();
        let all = FlowStatsRequest {
            table_id: OFPTT_ALL,
            out_port: OFPP_ANY,
            out_group: OFPG_ANY,
            cookie: 0,
            cookie_mask: 0,
            matches: vec![],
        };
        let st = flow_stats(&p, &all, 2_500_000_000).unwrap();
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].matches, matches);
        assert_eq!((st[0].duration_sec, st[0].duration_nsec), (2, 500_000_000));
        assert_eq!(st[0].cookie, 7);
        let by_port = FlowStatsRequest {
            out_port: 3,
            ..all.clone()
        };
        assert!(flow_stats(&p, &by_port, 0).unwrap().is_empty());
        let bad_table = FlowStatsRequest {
            table_id: 0xfe,
            ..all
        };
        assert!(flow_stats(&p, &bad_table, 0).is_ok(), "254 tables exist");
        assert_eq!(
            to_request(&add(vec![], OFPTT_ALL)).unwrap_err(),
            ErrorCode::FlowModFailed(FlowModFailedCode::BadTableId)
        );
    }
}
