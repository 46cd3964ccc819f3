//! One PMD's megaflow tier for one bridge: the wildcarded cache ([`flowtable::megaflow`]) and
//! the decisions its entries share.
//!
//! Many megaflows decide alike: with 100k flows through 2000 rules on nw_dst, every destination
//! is its own megaflow (the rules read nw_dst), yet all that match no rule go to NORMAL and out
//! of the same port, charging the same rule counters. Each megaflow therefore holds an index
//! into a per-epoch table of distinct decisions rather than a decision of its own: a hit then
//! reads a decision that a thousand other flows keep in cache, instead of one more cold line
//! (and the deferred statistics list has a handful of entries rather than one per flow).
//! Decisions are told apart by [`Decision::same`] (same actions, same counters to charge),
//! interned on the slow path only.
//!
//! The table is emptied when a decision of a newer epoch arrives: every megaflow pointing into
//! it is stale by then, and a stale megaflow's index is never followed (a hit requires the
//! entry's generation to be the current epoch, which is the table's). Within one epoch the
//! table holds at most one decision per slow-path run, and is reset with the cache should it
//! ever reach twice the cache's capacity.

use crate::xlate::Decision;
use flowtable::key::FlowKey;
use flowtable::megaflow::{Found, Full, Hint, Megaflows};
use std::collections::HashMap;
use std::sync::Arc;

/// Stale megaflow rows examined per sweep step.
const SWEEP_BUDGET: usize = 1024;

/// What [`MegaTier::find`] found.
pub enum Tier<'a> {
    /// A current megaflow's decision.
    Hit(&'a Arc<Decision>),
    /// Only a stale megaflow: the flow is known, its decision must be made again.
    Stale,
    /// Nothing.
    Miss,
}

/// The megaflow cache of one bridge on one PMD, with its shared decisions.
#[derive(Default)]
pub struct MegaTier {
    flows: Megaflows,
    decisions: Vec<Arc<Decision>>,
    /// Decision signature -> indexes into `decisions` with that signature.
    interned: HashMap<u64, Vec<u32>>,
    /// The epoch `decisions` belong to.
    epoch: u64,
    /// The epoch up to which stale megaflows have been swept away.
    swept: u64,
}

impl MegaTier {
    /// Start fetching what looking up `key` will read (see [`Megaflows::prefetch`]).
    #[inline]
    pub fn prefetch(&self, key: &FlowKey) -> Hint {
        self.flows.prefetch(key)
    }

    /// Start fetching the row the hinted index line points at (once that line is in).
    #[inline]
    pub fn prefetch_row(&self, hint: Hint) {
        self.flows.prefetch_row(hint);
    }

    /// The decision of `key`'s megaflow under `epoch`.
    #[inline]
    pub fn find(&mut self, key: &FlowKey, epoch: u64, hint: Hint) -> Tier<'_> {
        match self.flows.find_hinted(key, epoch, hint) {
            Found::Hit(i) if epoch == self.epoch => match self.decisions.get(i as usize) {
                Some(d) => Tier::Hit(d),
                None => Tier::Stale,
            },
            Found::Hit(_) | Found::Stale => Tier::Stale,
            Found::Miss => Tier::Miss,
        }
    }

    /// Cache `dec` for every key equal to `key` under `wc`, made under `epoch`.
    pub fn install(
        &mut self,
        key: &FlowKey,
        wc: &FlowKey,
        epoch: u64,
        dec: &Arc<Decision>,
    ) -> Result<(), Full> {
        if epoch != self.epoch {
            self.decisions.clear();
            self.interned.clear();
            self.epoch = epoch;
        } else if self.decisions.len() >= 2 * self.flows.capacity() {
            self.flows.clear();
            self.decisions.clear();
            self.interned.clear();
        }
        let id = self.intern(dec);
        self.flows.insert(key, wc, epoch, id)
    }

    fn intern(&mut self, dec: &Arc<Decision>) -> u32 {
        let ids = self.interned.entry(dec.signature()).or_default();
        if let Some(&id) = ids
            .iter()
            .find(|&&id| self.decisions[id as usize].same(dec))
        {
            return id;
        }
        let id = self.decisions.len() as u32;
        self.decisions.push(Arc::clone(dec));
        ids.push(id);
        id
    }

    /// Remove some megaflows that `epoch` made stale; a bounded amount per call.
    pub fn sweep(&mut self, epoch: u64) {
        if self.swept != epoch && self.flows.sweep_step(epoch, SWEEP_BUDGET) {
            self.swept = epoch;
        }
    }

    /// Up to `max` current megaflows (generation `epoch`) as (masked key, mask, decision).
    pub fn current(&self, epoch: u64, max: usize) -> Vec<(FlowKey, FlowKey, &Arc<Decision>)> {
        if epoch != self.epoch {
            return Vec::new();
        }
        self.flows
            .iter()
            .filter(|(_, _, g, _)| *g == epoch)
            .filter_map(|(k, m, _, id)| Some((k, m, self.decisions.get(id as usize)?)))
            .take(max)
            .collect()
    }

    /// Megaflows held (stale ones until swept).
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// True when no megaflow is held.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Distinct decisions the current epoch's megaflows share.
    pub fn decisions(&self) -> usize {
        self.decisions.len()
    }
}
