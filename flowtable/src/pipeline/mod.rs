//! The OpenFlow 1.3 multi-table pipeline: flow entries, their counters, flow-mod semantics
//! (add / modify / delete, strict and not), timeouts, and the lookup that walks the tables.
//!
//! A [`Pipeline`] is a value, not a service: the datapath keeps the live one behind an `Arc`
//! and publishes a changed copy atomically, so lookups never take a lock and never see a
//! half-applied flow-mod. Two things are shared through `Arc`s between copies instead of copied:
//! each rule's [`RuleStats`] (so packets counted against an old snapshot, or later by a cache
//! hit, still land on the rule) and the per-table lookup/match counters. A copy need not be made
//! per change: an edit can record a [`Journal`] (see `journal`) that brings another copy up to
//! date in proportion to the rules it touched, which is how the datapath edits its tables.
//!
//! Each table is a [`Classifier`] of `Arc<FlowEntry>` plus an index from the compiled (value,
//! mask, priority) to the rule, by a seeded 64-bit hash, which makes "replace the identical
//! rule" on add and strict modify/delete O(1) instead of a scan. The lookup itself lives in
//! `exec`; its `generation` counter tells caches when their entries may be stale.

mod consistency;
mod exec;
mod journal;
#[cfg(test)]
mod tests;

pub use exec::{action_reads, apply_to_key, Origin, PipelineResult};
pub use journal::Journal;

use crate::action::{Action, Instructions};
use crate::classifier::{Classifier, IdHasher, RuleId};
use crate::key::FlowKey;
use crate::matches::{Match, MatchError};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use thiserror::Error;

/// Flow-mod flag: send a flow-removed message when the rule expires or is deleted.
pub const OFPFF_SEND_FLOW_REM: u16 = 1;
/// Flow-mod flag: refuse the add if a rule of the same priority overlaps it.
pub const OFPFF_CHECK_OVERLAP: u16 = 2;
/// Flow-mod flag: reset counters of a replaced/modified rule.
pub const OFPFF_RESET_COUNTS: u16 = 4;
/// Flow-mod flag: do not count packets.
pub const OFPFF_NO_PKT_COUNTS: u16 = 8;
/// Flow-mod flag: do not count bytes.
pub const OFPFF_NO_BYT_COUNTS: u16 = 16;

/// Default (and maximum) number of tables: 0..=254 (255 is OFPTT_ALL on the wire).
pub const DEFAULT_TABLES: usize = 255;
/// Default priority of a flow (OpenFlow's OFP_DEFAULT_PRIORITY).
pub const DEFAULT_PRIORITY: u16 = 0x8000;

const NS_PER_SEC: u64 = 1_000_000_000;

/// Why a flow-mod was refused.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum PipelineError {
    /// The match is invalid (duplicate field or missing prerequisite).
    #[error("bad match: {0}")]
    BadMatch(#[from] MatchError),
    /// The rule's table does not exist.
    #[error("table {0} does not exist")]
    BadTable(u8),
    /// A set-field writes a field the match does not guarantee the packet has.
    #[error("set_field of {0}: the match does not meet the field's prerequisites")]
    MatchInconsistent(&'static str),
    /// goto-table does not point to a later table.
    #[error("goto_table:{to} from table {from}: must go to a later table")]
    GotoBackward {
        /// Table of the rule.
        from: u8,
        /// Target table.
        to: u8,
    },
    /// goto-table points past the last table.
    #[error("goto_table:{0}: table does not exist")]
    BadGotoTable(u8),
    /// CHECK_OVERLAP was set and a rule of the same priority overlaps.
    #[error("rule overlaps an existing rule in table {table} at priority {priority}")]
    Overlap {
        /// Table of the conflict.
        table: u8,
        /// Shared priority.
        priority: u16,
    },
}

/// Why a rule left the pipeline (OpenFlow's flow-removed reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemovedReason {
    /// Not hit for `idle_timeout` seconds.
    IdleTimeout,
    /// Installed `hard_timeout` seconds ago.
    HardTimeout,
    /// Deleted by a flow-mod (or with a meter: OpenFlow 1.3 has no reason of its own for that).
    Delete,
    /// Deleted with the group it forwards to.
    GroupDelete,
}

/// A rule's counters, shared (`Arc`) between pipeline snapshots and the datapath's caches.
///
/// All updates are `Relaxed`: the counters are statistics, read by dumps and by idle-timeout
/// expiry, and nothing is ordered against them.
#[derive(Debug, Default)]
pub struct RuleStats {
    packets: AtomicU64,
    bytes: AtomicU64,
    last_used_ns: AtomicU64,
    /// `OFPFF_NO_PKT_COUNTS | OFPFF_NO_BYT_COUNTS` bits of the owning rule (as a u8).
    no_counts: AtomicU8,
}

/// A copy of a rule's counters at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Packets matched.
    pub packets: u64,
    /// Bytes matched.
    pub bytes: u64,
    /// Time of the last hit (ns, the datapath's clock); 0 = never.
    pub last_used_ns: u64,
}

impl RuleStats {
    /// Fresh counters for a rule with flow-mod `flags`.
    pub fn new(flags: u16) -> RuleStats {
        let s = RuleStats::default();
        s.set_flags(flags);
        s
    }

    /// Record the flags that disable counting (NO_PKT_COUNTS / NO_BYT_COUNTS).
    pub fn set_flags(&self, flags: u16) {
        let bits = flags & (OFPFF_NO_PKT_COUNTS | OFPFF_NO_BYT_COUNTS);
        self.no_counts.store(bits as u8, Ordering::Relaxed);
    }

    /// Count one packet of `bytes` bytes seen at `now_ns` (honours the no-count flags; the
    /// last-used time is always updated because idle timeouts depend on it).
    #[inline]
    pub fn hit(&self, bytes: u64, now_ns: u64) {
        self.hit_n(1, bytes, now_ns);
    }

    /// Count `packets` packets totalling `bytes` bytes (a batch hitting the same cache entry).
    #[inline]
    pub fn hit_n(&self, packets: u64, bytes: u64, now_ns: u64) {
        let off = u16::from(self.no_counts.load(Ordering::Relaxed));
        if off & OFPFF_NO_PKT_COUNTS == 0 {
            self.packets.fetch_add(packets, Ordering::Relaxed);
        }
        if off & OFPFF_NO_BYT_COUNTS == 0 {
            self.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        if self.last_used_ns.load(Ordering::Relaxed) < now_ns {
            self.last_used_ns.store(now_ns, Ordering::Relaxed);
        }
    }

    /// Zero the packet and byte counters (OFPFF_RESET_COUNTS).
    pub fn reset(&self) {
        self.packets.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
    }

    /// Current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            packets: self.packets.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            last_used_ns: self.last_used_ns.load(Ordering::Relaxed),
        }
    }
}

/// One flow entry (rule) of one table.
#[derive(Clone, Debug)]
pub struct FlowEntry {
    /// Table the rule lives in.
    pub table: u8,
    /// Priority; higher wins.
    pub priority: u16,
    /// Opaque controller cookie.
    pub cookie: u64,
    /// Seconds without a hit before removal (0 = never).
    pub idle_timeout: u16,
    /// Seconds after installation before removal (0 = never).
    pub hard_timeout: u16,
    /// `OFPFF_*` flags.
    pub flags: u16,
    /// What the rule matches.
    pub m: Match,
    /// What it does.
    pub instructions: Instructions,
    /// Counters (shared across snapshots and caches).
    pub stats: Arc<RuleStats>,
    /// Installation time (ns).
    pub created_ns: u64,
    /// The match as an OpenFlow controller encoded it (`ofp_match` with its OXM TLVs, in the
    /// order and mask encoding received), so flow statistics echo it byte for byte; `None` for
    /// rules that did not come from the wire (text syntax, configuration).
    pub wire_match: Option<Arc<[u8]>>,
}

impl FlowEntry {
    /// A rule with default cookie, no timeouts, no flags and fresh counters.
    pub fn new(
        table: u8,
        priority: u16,
        m: Match,
        instructions: Instructions,
        now_ns: u64,
    ) -> Self {
        FlowEntry {
            table,
            priority,
            cookie: 0,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: 0,
            m,
            instructions,
            stats: Arc::new(RuleStats::new(0)),
            created_ns: now_ns,
            wire_match: None,
        }
    }

    /// True when the rule has an output action (apply or write) to `port`.
    pub fn outputs_to(&self, port: u32) -> bool {
        self.all_actions()
            .any(|a| matches!(a, Action::Output { port: p, .. } if *p == port))
    }

    /// True when the rule's meter instruction names `meter`.
    pub fn uses_meter(&self, meter: u32) -> bool {
        self.instructions.meter == Some(meter)
    }

    /// True when the rule has a group action (apply or write) for `group`.
    pub fn uses_group(&self, group: u32) -> bool {
        self.all_actions()
            .any(|a| matches!(a, Action::Group(g) if *g == group))
    }

    fn all_actions(&self) -> impl Iterator<Item = &Action> {
        self.instructions
            .apply
            .iter()
            .chain(self.instructions.write.iter())
    }

    /// Why the rule should expire at `now_ns`, if it should.
    pub fn expiry(&self, now_ns: u64) -> Option<RemovedReason> {
        let age = now_ns.saturating_sub(self.created_ns);
        if self.hard_timeout != 0 && age >= u64::from(self.hard_timeout) * NS_PER_SEC {
            return Some(RemovedReason::HardTimeout);
        }
        if self.idle_timeout != 0 {
            let last = self.stats.snapshot().last_used_ns.max(self.created_ns);
            if now_ns.saturating_sub(last) >= u64::from(self.idle_timeout) * NS_PER_SEC {
                return Some(RemovedReason::IdleTimeout);
            }
        }
        None
    }
}

/// Selects rules for modify/delete (and flow-stats requests).
#[derive(Clone, Debug, Default)]
pub struct FlowFilter {
    /// Table to look in; `None` = all tables.
    pub table: Option<u8>,
    /// Match: strict = identical, non-strict = the rule is at least as specific.
    pub m: Match,
    /// Priority (strict only).
    pub priority: u16,
    /// Cookie value compared under `cookie_mask`.
    pub cookie: u64,
    /// Cookie mask; 0 = any cookie.
    pub cookie_mask: u64,
    /// Only rules that output to this port.
    pub out_port: Option<u32>,
    /// Only rules that use this group.
    pub out_group: Option<u32>,
}

impl FlowFilter {
    /// A filter that selects every rule of every table.
    pub fn all() -> FlowFilter {
        FlowFilter::default()
    }

    fn accepts_entry(&self, e: &FlowEntry) -> bool {
        (e.cookie & self.cookie_mask) == (self.cookie & self.cookie_mask)
            && self.out_port.is_none_or(|p| e.outputs_to(p))
            && self.out_group.is_none_or(|g| e.uses_group(g))
    }
}

/// Per-table lookup counters, shared across snapshots.
#[derive(Debug, Default)]
pub struct TableCounters {
    lookups: AtomicU64,
    matched: AtomicU64,
}

/// One table's statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableStats {
    /// Table number.
    pub table: u8,
    /// Rules installed.
    pub active: usize,
    /// Packets looked up.
    pub lookups: u64,
    /// Packets that matched a rule.
    pub matched: u64,
}

/// Index key of a rule: its compiled match and priority.
#[derive(Clone, Copy, PartialEq, Eq)]
struct RuleKey {
    value: FlowKey,
    mask: FlowKey,
    priority: u16,
}

impl RuleKey {
    /// A multiply-xorshift over the key's words, seeded once per process: the index's key.
    /// (The derived `Hash` through SipHash cost a fifth of the time of programming 100k flows;
    /// the seed keeps the hash from being predictable to a controller.)
    fn hash64(&self) -> u64 {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let seed = *SEED.get_or_init(|| {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x6476_7321);
            h.finish() | 1
        });
        let mix = |h: u64, w: u64| {
            let h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            h ^ (h >> 31)
        };
        let mut h = seed ^ u64::from(self.priority);
        for (v, m) in self.value.words().iter().zip(self.mask.words()) {
            if *m != 0 {
                h = mix(mix(h, *v), *m);
            }
        }
        h
    }
}

impl RuleKey {
    fn new(m: &Match, priority: u16) -> RuleKey {
        let (value, mask) = m.to_key_mask();
        RuleKey {
            value: value.masked(&mask),
            mask,
            priority,
        }
    }
}

/// The rules whose keys share one 64-bit hash: almost always exactly one.
#[derive(Clone)]
enum Ids {
    One(RuleId),
    Many(Vec<RuleId>),
}

/// A table: its classifier, and an index from each rule's key (by hash; the classifier holds
/// the key itself, so the index costs 16 bytes a rule rather than a second copy of the key).
#[derive(Clone, Default)]
struct Table {
    cls: Classifier<Arc<FlowEntry>>,
    index: HashMap<u64, Ids, BuildHasherDefault<IdHasher>>,
}

impl Table {
    /// The rule under `key`.
    fn find(&self, key: &RuleKey) -> Option<RuleId> {
        let is = |id: &RuleId| {
            self.cls
                .key_of(*id)
                .is_some_and(|(v, m, p)| p == key.priority && *v == key.value && *m == key.mask)
        };
        match self.index.get(&key.hash64())? {
            Ids::One(id) => is(id).then_some(*id),
            Ids::Many(ids) => ids.iter().copied().find(|id| is(id)),
        }
    }

    /// Put `entry` under `key`, returning the rule it replaces.
    fn put(&mut self, key: RuleKey, entry: Arc<FlowEntry>) -> Option<Arc<FlowEntry>> {
        let old = self.take(&key);
        let id = self.cls.insert(key.value, key.mask, key.priority, entry);
        match self.index.entry(key.hash64()) {
            Entry::Vacant(e) => {
                e.insert(Ids::One(id));
            }
            Entry::Occupied(mut e) => match e.get_mut() {
                Ids::One(first) => {
                    let first = *first;
                    e.insert(Ids::Many(vec![first, id]));
                }
                Ids::Many(ids) => ids.push(id),
            },
        }
        old
    }

    /// Take out the rule under `key`.
    fn take(&mut self, key: &RuleKey) -> Option<Arc<FlowEntry>> {
        let id = self.find(key)?;
        let h = key.hash64();
        let gone = match self.index.get_mut(&h) {
            Some(Ids::Many(ids)) => {
                ids.retain(|i| *i != id);
                ids.is_empty()
            }
            _ => true,
        };
        if gone {
            self.index.remove(&h);
        }
        self.cls.remove(id)
    }

    /// Replace the rule under `key` with `new`, returning the old one (nothing when there is
    /// no such rule).
    fn swap(&mut self, key: &RuleKey, new: Arc<FlowEntry>) -> Option<Arc<FlowEntry>> {
        let id = self.find(key)?;
        let slot = self.cls.get_mut(id)?;
        Some(std::mem::replace(slot, new))
    }

    /// The rule under `key`.
    fn get(&self, key: &RuleKey) -> Option<&Arc<FlowEntry>> {
        self.cls.get(self.find(key)?)
    }
}

/// A set of OpenFlow tables.
pub struct Pipeline {
    tables: Vec<Table>,
    counters: Arc<[TableCounters]>,
    generation: u64,
    /// Changes being recorded (see `journal`); `None` when nobody asked.
    journal: Option<Journal>,
}

/// A copy has the same rules (the same `Arc<FlowEntry>`s) and shares the table counters; it
/// records no journal.
impl Clone for Pipeline {
    fn clone(&self) -> Self {
        Pipeline {
            tables: self.tables.clone(),
            counters: self.counters.clone(),
            generation: self.generation,
            journal: None,
        }
    }
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new()
    }
}

/// Two compiled matches can match a common packet: they agree on every bit both care about.
fn overlaps(a: &RuleKey, v: &FlowKey, m: &FlowKey) -> bool {
    let (av, am, bv, bm) = (a.value.words(), a.mask.words(), v.words(), m.words());
    (0..av.len()).all(|i| (av[i] ^ bv[i]) & am[i] & bm[i] == 0)
}

/// Rule (sv, sm) is at least as specific as filter (fv, fm).
fn is_subset(sv: &FlowKey, sm: &FlowKey, fv: &FlowKey, fm: &FlowKey) -> bool {
    let (sv, sm, fv, fm) = (sv.words(), sm.words(), fv.words(), fm.words());
    (0..sv.len()).all(|i| fm[i] & !sm[i] == 0 && sv[i] & fm[i] == fv[i])
}

impl Pipeline {
    /// A pipeline with the default 255 tables.
    pub fn new() -> Pipeline {
        Pipeline::with_tables(DEFAULT_TABLES)
    }

    /// A pipeline with `n` tables (clamped to 1..=255).
    pub fn with_tables(n: usize) -> Pipeline {
        let n = n.clamp(1, DEFAULT_TABLES);
        Pipeline {
            tables: (0..n).map(|_| Table::default()).collect(),
            counters: (0..n).map(|_| TableCounters::default()).collect(),
            generation: 0,
            journal: None,
        }
    }

    /// Number of tables.
    pub fn n_tables(&self) -> usize {
        self.tables.len()
    }

    /// Bumped on every change that can alter a lookup result.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Total number of rules.
    pub fn len(&self) -> usize {
        self.tables.iter().map(|t| t.cls.len()).sum()
    }

    /// True when there are no rules at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check_instructions(&self, table: u8, ins: &Instructions) -> Result<(), PipelineError> {
        match ins.goto {
            Some(to) if to <= table => Err(PipelineError::GotoBackward { from: table, to }),
            Some(to) if usize::from(to) >= self.tables.len() => {
                Err(PipelineError::BadGotoTable(to))
            }
            _ => Ok(()),
        }
    }

    /// Add a rule, replacing one with the identical match and priority in the same table
    /// (its counters are kept unless the new rule has `OFPFF_RESET_COUNTS`).
    pub fn add(&mut self, mut e: FlowEntry) -> Result<(), PipelineError> {
        e.m.validate()?;
        let t = usize::from(e.table);
        if t >= self.tables.len() {
            return Err(PipelineError::BadTable(e.table));
        }
        self.check_instructions(e.table, &e.instructions)?;
        consistency::check(&e.m.to_key_mask().0, &e.instructions)?;
        let key = RuleKey::new(&e.m, e.priority);
        let table = &mut self.tables[t];
        if e.flags & OFPFF_CHECK_OVERLAP != 0 {
            let clash = table.cls.iter().any(|(_, v, m, p, _)| {
                let k = RuleKey {
                    value: *v,
                    mask: *m,
                    priority: p,
                };
                p == e.priority && overlaps(&k, &key.value, &key.mask)
            });
            if clash {
                return Err(PipelineError::Overlap {
                    table: e.table,
                    priority: e.priority,
                });
            }
        }
        if let Some(old) = table.get(&key) {
            if e.flags & OFPFF_RESET_COUNTS == 0 {
                e.stats = Arc::clone(&old.stats);
            }
        }
        e.stats.set_flags(e.flags);
        self.put(t, key, Arc::new(e));
        self.generation += 1;
        Ok(())
    }

    /// Rules selected by `filter`: (table index, id, index key).
    fn select(&self, filter: &FlowFilter, strict: bool) -> Vec<(usize, RuleId, RuleKey)> {
        let want = RuleKey::new(&filter.m, filter.priority);
        let range = match filter.table {
            Some(t) if usize::from(t) < self.tables.len() => usize::from(t)..usize::from(t) + 1,
            Some(_) => 0..0,
            None => 0..self.tables.len(),
        };
        let mut out = Vec::new();
        for t in range {
            let table = &self.tables[t];
            if strict {
                let Some(id) = table.find(&want) else {
                    continue;
                };
                if table.cls.get(id).is_some_and(|e| filter.accepts_entry(e)) {
                    out.push((t, id, want));
                }
            } else {
                for (id, v, m, prio, e) in table.cls.iter() {
                    if is_subset(v, m, &want.value, &want.mask) && filter.accepts_entry(e) {
                        let key = RuleKey {
                            value: *v,
                            mask: *m,
                            priority: prio,
                        };
                        out.push((t, id, key));
                    }
                }
            }
        }
        out
    }

    /// Replace the instructions of the selected rules (cookie, timeouts and flags stay);
    /// returns how many rules changed. Nothing changes if the new instructions are invalid for
    /// any selected rule's table.
    pub fn modify(
        &mut self,
        filter: &FlowFilter,
        strict: bool,
        instructions: Instructions,
        reset_counts: bool,
    ) -> Result<usize, PipelineError> {
        let sel = self.select(filter, strict);
        for (t, _, key) in &sel {
            self.check_instructions(*t as u8, &instructions)?;
            consistency::check(&key.value, &instructions)?;
        }
        for (t, _, key) in &sel {
            if let Some(old) = self.tables[*t].get(key) {
                let mut e = FlowEntry::clone(old);
                e.instructions = instructions.clone();
                if reset_counts {
                    e.stats.reset();
                }
                self.swap(*t, key, Arc::new(e));
            }
        }
        if !sel.is_empty() {
            self.generation += 1;
        }
        Ok(sel.len())
    }

    /// Remove the selected rules and return them (the caller sends flow-removed messages for
    /// those with `OFPFF_SEND_FLOW_REM`, reason [`RemovedReason::Delete`]).
    pub fn delete(&mut self, filter: &FlowFilter, strict: bool) -> Vec<Arc<FlowEntry>> {
        let sel = self.select(filter, strict);
        let mut out = Vec::with_capacity(sel.len());
        for (t, _, key) in sel {
            if let Some(e) = self.take(t, &key) {
                out.push(e);
            }
        }
        if !out.is_empty() {
            self.generation += 1;
        }
        out
    }

    /// Remove every rule for which `pred` holds (a group or meter that rules depended on was
    /// deleted) and return them.
    pub fn delete_where(&mut self, pred: impl Fn(&FlowEntry) -> bool) -> Vec<Arc<FlowEntry>> {
        let mut out = Vec::new();
        for t in 0..self.tables.len() {
            let dead: Vec<RuleKey> = self.tables[t]
                .cls
                .iter()
                .filter(|(_, _, _, _, e)| pred(e))
                .map(|(_, v, m, priority, _)| RuleKey {
                    value: *v,
                    mask: *m,
                    priority,
                })
                .collect();
            for key in dead {
                if let Some(e) = self.take(t, &key) {
                    out.push(e);
                }
            }
        }
        if !out.is_empty() {
            self.generation += 1;
        }
        out
    }

    /// True when some rule's timeout has passed at `now_ns` (a read-only check, so the caller
    /// only clones and republishes a pipeline when [`Pipeline::expire`] has work to do).
    pub fn has_expired(&self, now_ns: u64) -> bool {
        self.tables.iter().any(|t| {
            t.cls
                .iter()
                .any(|(_, _, _, _, e)| e.expiry(now_ns).is_some())
        })
    }

    /// Remove rules whose idle or hard timeout has passed at `now_ns`.
    pub fn expire(&mut self, now_ns: u64) -> Vec<(Arc<FlowEntry>, RemovedReason)> {
        let mut out = Vec::new();
        for t in 0..self.tables.len() {
            let dead: Vec<(RuleKey, RemovedReason)> = self.tables[t]
                .cls
                .iter()
                .filter_map(|(_, v, m, priority, e)| {
                    let why = e.expiry(now_ns)?;
                    let key = RuleKey {
                        value: *v,
                        mask: *m,
                        priority,
                    };
                    Some((key, why))
                })
                .collect();
            for (key, why) in dead {
                if let Some(e) = self.take(t, &key) {
                    out.push((e, why));
                }
            }
        }
        if !out.is_empty() {
            self.generation += 1;
        }
        out
    }

    /// Rules of one table (or all), sorted by table, then priority (highest first).
    pub fn flows(&self, table: Option<u8>) -> Vec<Arc<FlowEntry>> {
        let mut out: Vec<Arc<FlowEntry>> = self
            .tables
            .iter()
            .enumerate()
            .filter(|(t, _)| table.is_none_or(|want| usize::from(want) == *t))
            .flat_map(|(_, tb)| tb.cls.iter().map(|(_, _, _, _, e)| Arc::clone(e)))
            .collect();
        out.sort_by(|a, b| {
            a.table
                .cmp(&b.table)
                .then(b.priority.cmp(&a.priority))
                .then(a.created_ns.cmp(&b.created_ns))
        });
        out
    }

    /// Statistics of every table.
    pub fn table_stats(&self) -> Vec<TableStats> {
        self.tables
            .iter()
            .zip(self.counters.iter())
            .enumerate()
            .map(|(t, (tb, c))| TableStats {
                table: t as u8,
                active: tb.cls.len(),
                lookups: c.lookups.load(Ordering::Relaxed),
                matched: c.matched.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Re-rank every table's classifier subtables by hit count (call occasionally).
    pub fn rerank(&mut self) {
        for t in &mut self.tables {
            t.cls.rerank();
        }
    }
}
