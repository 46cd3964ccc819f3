//! The flow methods: `flow/add`, `flow/mod`, `flow/del` and the paged `flow/dump`.
//!
//! Every change goes through `flowmod` (the path OpenFlow FLOW_MOD uses too, so deletes of rules
//! with `send_flow_rem` notify OpenFlow connections) and the bridge's all-or-nothing pipeline
//! edit, so a batch of flows either lands whole or not at all, and the next packet after the
//! reply sees the new tables (the cache epoch moves with every publish).
//!
//! `flow/dump` pages its answer, because a bridge may hold tens of thousands of flows: one call
//! returns at most `limit` flows (default and maximum [`FLOW_DUMP_MAX`]) and stops early once it
//! holds [`FLOW_DUMP_MAX_BYTES`] of flow text. When flows remain, the answer carries `"next"`, an
//! opaque cursor the client passes back as `"after"` to get the following page. Flows come in the
//! order `Pipeline::flows` gives (table, then priority highest first, then age). The cursor is a
//! position in that order (the last flow's table, priority and installation time, plus how many
//! flows sharing exactly those have been returned), not an index, so flows added or removed
//! elsewhere between two pages are neither repeated nor skipped; only flows that share all three
//! (installed by the same batch at the same priority) can shift among themselves.
//!
//! The resulting bound: one `flow/dump` answer holds at most `max(FLOW_DUMP_MAX_BYTES, the
//! longest single flow's text)` of flow text, and a batch holds at most
//! [`switchd_api::rpc::MAX_BATCH`] calls, so one response line carries at most 64 × 1 MiB = 64 MiB
//! of flow text (plus JSON quoting), however many flows the bridges hold (before paging, a batch
//! of 120 dumps at 35k flows built about 500 MB).

use super::params::{DelTarget, FlowAdd, FlowDel, FlowDump, FlowMod};
use super::Control;
use datapath::bridge::Bridge;
use datapath::cycles::monotonic_ns;
use datapath::flowmod::{self, Applied, Command, FlowModRequest};
use flowtable::pipeline::{FlowEntry, RemovedReason};
use flowtable::text::{format_flow, parse_flow, parse_match, PortLookup, TextError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::cmp::Reverse;
use std::sync::Arc;
use switchd_api::rpc::RpcError;

/// Most flows one `flow/dump` call returns, and the default `limit`.
pub const FLOW_DUMP_MAX: usize = 10_000;

/// Flow text (bytes) after which a `flow/dump` page ends even below its `limit`; a page always
/// holds at least one flow, so it is at most this or one flow's text, whichever is larger.
pub const FLOW_DUMP_MAX_BYTES: usize = 1 << 20;

/// Where a `flow/dump` page ended: clients pass a reply's `next` back as `after` unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowCursor {
    /// Table of the last flow returned.
    table: u8,
    /// Its priority.
    priority: u16,
    /// Its installation time (ns).
    created_ns: u64,
    /// How many flows with exactly this table, priority and installation time were returned.
    seen: usize,
}

/// The order `Pipeline::flows` sorts by; pages are cut along it.
type SortKey = (u8, Reverse<u16>, u64);

fn sort_key(e: &FlowEntry) -> SortKey {
    (e.table, Reverse(e.priority), e.created_ns)
}

impl FlowCursor {
    /// The cursor just after `flows[last]`.
    fn after(flows: &[Arc<FlowEntry>], last: usize) -> FlowCursor {
        let key = sort_key(&flows[last]);
        let first_alike = flows.partition_point(|e| sort_key(e) < key);
        FlowCursor {
            table: key.0,
            priority: key.1 .0,
            created_ns: key.2,
            seen: last + 1 - first_alike,
        }
    }

    /// Where the page after this cursor starts in `flows`.
    fn resume(&self, flows: &[Arc<FlowEntry>]) -> usize {
        let key = (self.table, Reverse(self.priority), self.created_ns);
        let first_alike = flows.partition_point(|e| sort_key(e) < key);
        let past_alike = flows.partition_point(|e| sort_key(e) <= key);
        first_alike.saturating_add(self.seen).min(past_alike)
    }
}

/// One page of `flows` from `start`: at most `limit` texts (at least one when any remain) and
/// no more than [`FLOW_DUMP_MAX_BYTES`] of text beyond the first, plus the cursor after it when
/// flows remain.
fn page(
    flows: &[Arc<FlowEntry>],
    start: usize,
    limit: usize,
    render: impl Fn(&FlowEntry) -> String,
) -> (Vec<String>, Option<FlowCursor>) {
    let mut out: Vec<String> = Vec::new();
    let mut bytes = 0;
    for e in flows.iter().skip(start).take(limit) {
        let text = render(e);
        if !out.is_empty() && bytes + text.len() > FLOW_DUMP_MAX_BYTES {
            break;
        }
        bytes += text.len();
        out.push(text);
    }
    let end = start + out.len();
    let next = (!out.is_empty() && end < flows.len()).then(|| FlowCursor::after(flows, end - 1));
    (out, next)
}

/// Parse `texts` with `parse`, naming ports as the bridge's current ports; on failure, the index
/// of the text that failed and why.
fn parse_all(
    b: &Bridge,
    texts: &[&str],
    parse: fn(&str, PortLookup<'_>) -> Result<flowtable::text::FlowMod, TextError>,
) -> Result<Vec<flowtable::text::FlowMod>, (usize, TextError)> {
    let view = b.view();
    let resolve = |n: &str| view.port_by_name(n).map(|p| p.ofport);
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| parse(t, &resolve).map_err(|e| (i, e)))
        .collect()
}

/// Apply one flow mod given as text (`flow/mod`, `flow/del`).
fn apply_one(
    b: &Bridge,
    cmd: Command,
    text: &str,
    parse: fn(&str, PortLookup<'_>) -> Result<flowtable::text::FlowMod, TextError>,
) -> Result<Applied, RpcError> {
    let fm = parse_all(b, &[text], parse)
        .map_err(|(_, e)| RpcError::failed(e.to_string()))?
        .pop()
        .ok_or_else(|| RpcError::internal("a parsed flow went missing"))?;
    flowmod::apply_batch(b, &[FlowModRequest::from_text(cmd, fm)])
        .map_err(|e| RpcError::failed(e.error.to_string()))
}

impl Control {
    /// `flow/dump`: one page of a bridge's flows as text, with `next` when more remain.
    pub(super) fn flow_dump(&self, p: FlowDump) -> Result<Value, RpcError> {
        let b = self.bridge(&p.bridge)?;
        let view = b.view();
        let flows = view.pipeline.flows(p.table);
        debug_assert!(flows.is_sorted_by_key(|e| sort_key(e)));
        let start = p.after.map_or(0, |c| c.resume(&flows));
        let now = monotonic_ns();
        let names = |ofport: u32| view.port(ofport).map(|p| p.name.clone());
        let (texts, next) = page(&flows, start, p.limit, |e| format_flow(e, now, &names));
        Ok(match next {
            Some(c) => json!({ "flows": texts, "next": c }),
            None => json!({ "flows": texts }),
        })
    }

    /// `flow/add`: add flows, all or nothing.
    pub(super) fn flow_add(&self, p: FlowAdd) -> Result<Value, RpcError> {
        let b = self.bridge(&p.bridge)?;
        let texts: Vec<&str> = p.flows.iter().map(String::as_str).collect();
        let fms = parse_all(&b, &texts, parse_flow)
            .map_err(|(i, e)| RpcError::failed(format!("flow {}: {e}: {}", i + 1, texts[i])))?;
        let reqs: Vec<FlowModRequest> = fms
            .into_iter()
            .map(|fm| FlowModRequest::from_text(Command::Add, fm))
            .collect();
        flowmod::apply_batch(&b, &reqs).map_err(|e| {
            RpcError::failed(format!(
                "flow {}: {}: {}",
                e.index + 1,
                e.error,
                texts[e.index]
            ))
        })?;
        Ok(json!({}))
    }

    /// `flow/mod`: replace the actions of the flows a match selects.
    pub(super) fn flow_mod(&self, p: FlowMod) -> Result<Value, RpcError> {
        let b = self.bridge(&p.bridge)?;
        let cmd = if p.strict {
            Command::ModifyStrict
        } else {
            Command::Modify
        };
        let applied = apply_one(&b, cmd, &p.flow, parse_flow)?;
        Ok(json!({ "modified": applied.modified }))
    }

    /// `flow/del`: delete the flows a match selects, or every flow; OpenFlow connections hear
    /// of the deleted flows that asked for it.
    pub(super) fn flow_del(&self, p: FlowDel) -> Result<Value, RpcError> {
        let b = self.bridge(&p.bridge)?;
        let applied = match &p.target {
            DelTarget::Matching { text, strict: true } => {
                apply_one(&b, Command::DeleteStrict, text, parse_match)?
            }
            DelTarget::Matching {
                text,
                strict: false,
            } => apply_one(&b, Command::Delete, text, parse_match)?,
            // The empty match selects every flow of every table.
            DelTarget::All => apply_one(&b, Command::Delete, "", parse_match)?,
        };
        let n = applied.removed.len();
        if let Some(events) = self.sw.bridge_events(&b.name) {
            let removed: Vec<_> = applied
                .removed
                .into_iter()
                .map(|e| (e, RemovedReason::Delete))
                .collect();
            events.flows_removed(&removed);
        }
        Ok(json!({ "deleted": n }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowtable::action::Instructions;
    use flowtable::matches::Match;

    fn entry(table: u8, priority: u16, created_ns: u64) -> Arc<FlowEntry> {
        Arc::new(FlowEntry::new(
            table,
            priority,
            Match::default(),
            Instructions::default(),
            created_ns,
        ))
    }

    fn label(e: &FlowEntry) -> String {
        format!("{}/{}/{}", e.table, e.priority, e.created_ns)
    }

    /// Every page of `flows` with `limit`, following the cursors.
    fn all_pages(flows: &[Arc<FlowEntry>], limit: usize) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut start = 0;
        loop {
            let (texts, next) = page(flows, start, limit, label);
            pages.push(texts);
            match next {
                Some(c) => start = c.resume(flows),
                None => return pages,
            }
        }
    }

    #[test]
    fn pages_concatenate_to_the_whole_dump() {
        // Sorted as Pipeline::flows sorts; a batch of three shares one key.
        let flows = vec![
            entry(0, 100, 5),
            entry(0, 100, 7),
            entry(0, 100, 7),
            entry(0, 100, 7),
            entry(0, 0, 1),
            entry(3, 9, 2),
        ];
        let whole: Vec<String> = flows.iter().map(|e| label(e)).collect();
        for limit in 1..=7 {
            let pages = all_pages(&flows, limit);
            assert_eq!(pages.concat(), whole, "limit {limit}");
            assert_eq!(pages.len(), whole.len().div_ceil(limit), "limit {limit}");
        }
        assert_eq!(page(&[], 0, 10, label), (vec![], None));
    }

    #[test]
    fn a_cursor_survives_flows_coming_and_going_before_it() {
        let mut flows: Vec<_> = (0..6).map(|i| entry(0, 100 - i, 1)).collect();
        let (first, next) = page(&flows, 0, 3, label);
        assert_eq!(first, ["0/100/1", "0/99/1", "0/98/1"]);
        let c = next.unwrap();
        // One flow already returned goes, one arrives before the cursor and one after it.
        flows.remove(1);
        flows.insert(0, entry(0, 200, 9));
        flows.push(entry(0, 1, 9));
        let (rest, next) = page(&flows, c.resume(&flows), 10, label);
        assert_eq!(rest, ["0/97/1", "0/96/1", "0/95/1", "0/1/9"]);
        assert_eq!(next, None);
        // The cursor's own flow is gone: the page starts with the next one.
        flows.retain(|e| e.priority != 98);
        assert_eq!(page(&flows, c.resume(&flows), 1, label).0, ["0/97/1"]);
    }

    #[test]
    fn a_page_stops_at_the_byte_budget_but_never_empty() {
        let flows: Vec<_> = (0..4).map(|i| entry(0, 10 - i, 1)).collect();
        let big = |_: &FlowEntry| "x".repeat(FLOW_DUMP_MAX_BYTES / 2 + 1);
        let (texts, next) = page(&flows, 0, 10, big);
        assert_eq!(texts.len(), 1, "a second half-budget text would go over");
        assert_eq!(next.map(|c| c.resume(&flows)), Some(1));
        let huge = |_: &FlowEntry| "x".repeat(FLOW_DUMP_MAX_BYTES + 1);
        assert_eq!(page(&flows, 3, 10, huge).0.len(), 1);
    }
}
