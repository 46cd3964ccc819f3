//! The pipeline's change journal: what an edit did to the tables, rule by rule, so that the
//! same change can be replayed on another copy of the pipeline, or undone on this one.
//!
//! This is what lets the datapath keep two copies of a bridge's pipeline instead of cloning it
//! for every change (see `datapath::bridge`): an edit is made on the copy the PMDs do not see,
//! that copy is published, and the journal is replayed on the other copy once the PMDs have let
//! go of it. Each change then costs in proportion to the rules it touches, not to the rules in
//! the table. A batch that fails half-way is undone from its journal, which keeps batches all
//! or nothing without a copy to throw away.
//!
//! Entries are recorded as effects (this rule went in under this key, that one came out), not
//! as the requests that caused them, so replaying needs no selection, validation or clock, and
//! both copies end up holding the very same `Arc<FlowEntry>`s (hence the same counters).

use super::{FlowEntry, Pipeline, RuleKey};
use std::sync::Arc;

/// One change to one table.
#[derive(Clone)]
pub(super) enum Effect {
    /// `entry` went in under `key`, in place of `replaced` if there was one.
    Insert {
        table: usize,
        key: RuleKey,
        entry: Arc<FlowEntry>,
        replaced: Option<Arc<FlowEntry>>,
    },
    /// `entry` came out.
    Remove {
        table: usize,
        key: RuleKey,
        entry: Arc<FlowEntry>,
    },
    /// The rule under `key` changed from `old` to `new` (instructions, counters reset).
    Replace {
        table: usize,
        key: RuleKey,
        old: Arc<FlowEntry>,
        new: Arc<FlowEntry>,
    },
}

/// The changes made to a pipeline between [`Pipeline::start_journal`] and
/// [`Pipeline::take_journal`].
#[derive(Clone, Default)]
pub struct Journal {
    pub(super) effects: Vec<Effect>,
    pub(super) from_generation: u64,
    pub(super) to_generation: u64,
}

impl Journal {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.effects.is_empty()
    }

    /// Number of rule-level changes.
    pub fn len(&self) -> usize {
        self.effects.len()
    }

    /// Append `later` (recorded after this one, on the same lineage).
    pub fn extend(&mut self, later: Journal) {
        if self.effects.is_empty() {
            self.from_generation = later.from_generation;
        }
        self.effects.extend(later.effects);
        self.to_generation = later.to_generation;
    }
}

impl Pipeline {
    /// Start recording changes (a journal already being recorded is discarded).
    pub fn start_journal(&mut self) {
        self.journal = Some(Journal {
            effects: Vec::new(),
            from_generation: self.generation,
            to_generation: self.generation,
        });
    }

    /// Stop recording and return what changed since [`Pipeline::start_journal`].
    pub fn take_journal(&mut self) -> Journal {
        let mut j = self.journal.take().unwrap_or_default();
        j.to_generation = self.generation;
        j
    }

    /// Make the changes of `j` (recorded on another copy that was equal to this one when the
    /// recording started). Not recorded.
    pub fn replay(&mut self, j: &Journal) {
        for e in &j.effects {
            match e {
                Effect::Insert {
                    table, key, entry, ..
                } => {
                    self.tables[*table].put(*key, entry.clone());
                }
                Effect::Remove { table, key, .. } => {
                    self.tables[*table].take(key);
                }
                Effect::Replace {
                    table, key, new, ..
                } => {
                    self.tables[*table].swap(key, new.clone());
                }
            }
        }
        self.generation = j.to_generation;
    }

    /// Take back the changes of `j`, recorded on this pipeline (newest first). Not recorded.
    pub fn undo(&mut self, j: Journal) {
        for e in j.effects.into_iter().rev() {
            match e {
                Effect::Insert {
                    table,
                    key,
                    replaced,
                    ..
                } => {
                    self.tables[table].take(&key);
                    if let Some(old) = replaced {
                        self.tables[table].put(key, old);
                    }
                }
                Effect::Remove { table, key, entry } => {
                    self.tables[table].put(key, entry);
                }
                Effect::Replace {
                    table, key, old, ..
                } => {
                    self.tables[table].swap(&key, old);
                }
            }
        }
        self.generation = j.from_generation;
    }

    /// Put `entry` in table `t` under `key`, replacing (and returning) the rule there.
    pub(super) fn put(&mut self, t: usize, key: RuleKey, entry: Arc<FlowEntry>) {
        let replaced = self.tables[t].put(key, entry.clone());
        if let Some(j) = &mut self.journal {
            j.effects.push(Effect::Insert {
                table: t,
                key,
                entry,
                replaced,
            });
        }
    }

    /// Take the rule under `key` out of table `t`.
    pub(super) fn take(&mut self, t: usize, key: &RuleKey) -> Option<Arc<FlowEntry>> {
        let entry = self.tables[t].take(key)?;
        if let Some(j) = &mut self.journal {
            j.effects.push(Effect::Remove {
                table: t,
                key: *key,
                entry: entry.clone(),
            });
        }
        Some(entry)
    }

    /// Replace the rule under `key` in table `t` with `new`.
    pub(super) fn swap(&mut self, t: usize, key: &RuleKey, new: Arc<FlowEntry>) {
        let Some(old) = self.tables[t].swap(key, new.clone()) else {
            return;
        };
        if let Some(j) = &mut self.journal {
            j.effects.push(Effect::Replace {
                table: t,
                key: *key,
                old,
                new,
            });
        }
    }
}
