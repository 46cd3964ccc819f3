//! Megaflow cache: the second lookup tier, between the exact-match cache and the OpenFlow
//! pipeline; one per PMD thread per bridge, no sharing and no locks.
//!
//! The exact-match cache holds 8192 flows. Past that, every packet of a flow that is not in it
//! would pay a whole pipeline walk and translation (a few microseconds) without this tier. A
//! megaflow is the slow path's answer stored under a *wildcarded* key: the pipeline records every
//! key bit it read while deciding (the masks of the classifier subtables it probed, the fields
//! its actions and NORMAL read: `PipelineResult::wc` and the datapath's translation), and any
//! other packet that agrees on exactly those bits would be decided the same way. A thousand
//! flows that differ only in their IP addresses, forwarded by NORMAL, are then one megaflow.
//!
//! Layout is tuple-space search like the classifier, minus priorities: one subtable per distinct
//! mask, each an exact-match hash map from the masked key to a slot. Megaflows of one generation
//! never disagree where they overlap (each is the exact set of bits that decided its outcome), so
//! the first hit ends a lookup and subtables are ordered purely by hits (re-ranked every
//! [`RERANK_EVERY`] lookups), so that the busiest mask is probed first. A slot stores only the
//! masked key's touched words, packed, plus its generation and value.
//!
//! **Invalidation** works by generation, as in the EMC: an entry made under another generation
//! (the bridge's epoch, bumped by every flow table, port or MAC-table change) is a miss. The first
//! packet that meets a stale megaflow runs the slow path and its result replaces the entry in
//! place (same mask, same slot) or lands in another subtable if the new walk read other bits; so
//! after a table change, 100k flows under one megaflow cost one slow-path run, not 100k. Entries
//! nobody hits again are removed by [`Megaflows::sweep_step`], a little per call so the PMD never
//! stalls, and all at once when the cache is full.
//!
//! The cache holds at most its capacity; an insert into a full cache that a sweep cannot make
//! room in is refused, and the caller counts it (the packet is still forwarded by the slow path).

use crate::classifier::HashIndex;
use crate::key::FlowKey;
use crate::maskwords::MaskWords;

/// Default capacity per PMD per bridge (OVS's default datapath flow limit is 200000 for the
/// whole switch).
pub const DEFAULT_CAPACITY: usize = 200_000;

/// Lookups between two re-rankings of the subtables.
pub const RERANK_EVERY: u32 = 1 << 16;

struct Slot<V> {
    hash: u64,
    generation: u64,
    value: Option<V>,
}

struct Subtable<V> {
    mask: FlowKey,
    mw: MaskWords,
    /// Masked-key hash -> slot. A 64-bit collision between two masked keys makes the second
    /// insert take the first one's slot: in a cache that is only a miss later.
    map: HashIndex<u32>,
    /// `mw.n_words` words per slot: the masked key.
    packed: Vec<u64>,
    slots: Vec<Slot<V>>,
    free: Vec<u32>,
    live: usize,
    hits: u64,
}

impl<V> Subtable<V> {
    fn new(mask: FlowKey) -> Self {
        Subtable {
            mask,
            mw: MaskWords::new(&mask),
            map: HashIndex::default(),
            packed: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            hits: 0,
        }
    }

    fn packed(&self, slot: usize) -> &[u64] {
        let n = self.mw.n_words;
        &self.packed[slot * n..slot * n + n]
    }

    /// Put `key`'s masked words into `slot`.
    fn write(&mut self, slot: usize, key: &FlowKey) {
        let n = self.mw.n_words;
        let mut tmp = Vec::with_capacity(n);
        self.mw.pack(key, &mut tmp);
        self.packed[slot * n..slot * n + n].copy_from_slice(&tmp);
    }

    fn remove(&mut self, slot: usize) {
        let s = &mut self.slots[slot];
        if s.value.take().is_some() {
            self.map.remove(&s.hash);
            self.free.push(slot as u32);
            self.live -= 1;
        }
    }
}

/// Per-PMD megaflow cache from masked [`FlowKey`]s to `V`.
pub struct Megaflows<V> {
    subtables: Vec<Subtable<V>>,
    len: usize,
    capacity: usize,
    lookups: u32,
    /// Where [`Megaflows::sweep_step`] goes on: (subtable, slot).
    cursor: (usize, usize),
}

impl<V> Default for Megaflows<V> {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

/// What [`Megaflows::find`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Found<'a, V> {
    /// A megaflow of the current generation.
    Hit(&'a V),
    /// Only megaflows of older generations.
    Stale,
    /// Nothing.
    Miss,
}

/// Why an insert did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

impl<V> Megaflows<V> {
    /// An empty cache of at most `capacity` megaflows.
    pub fn new(capacity: usize) -> Self {
        Megaflows {
            subtables: Vec::new(),
            len: 0,
            capacity,
            lookups: 0,
            cursor: (0, 0),
        }
    }

    /// The value of the megaflow of generation `generation` that `key` falls under.
    #[inline]
    pub fn lookup(&mut self, key: &FlowKey, generation: u64) -> Option<&V> {
        match self.find(key, generation) {
            Found::Hit(v) => Some(v),
            Found::Stale | Found::Miss => None,
        }
    }

    /// Like [`Megaflows::lookup`], also telling a miss from a stale megaflow (one made under
    /// another generation: the flow is known, its decision must be made again).
    #[inline]
    pub fn find(&mut self, key: &FlowKey, generation: u64) -> Found<'_, V> {
        self.lookups += 1;
        if self.lookups >= RERANK_EVERY {
            self.rerank();
        }
        let mut found = None;
        let mut stale = false;
        for (i, st) in self.subtables.iter().enumerate() {
            let Some(&slot) = st.map.get(&st.mw.hash(key)) else {
                continue;
            };
            let slot = slot as usize;
            let s = &st.slots[slot];
            if s.value.is_some() && st.mw.matches_packed(key, st.packed(slot)) {
                if s.generation == generation {
                    found = Some((i, slot));
                    break;
                }
                stale = true;
            }
        }
        let Some((i, slot)) = found else {
            return if stale { Found::Stale } else { Found::Miss };
        };
        let st = &mut self.subtables[i];
        st.hits += 1;
        match st.slots[slot].value.as_ref() {
            Some(v) => Found::Hit(v),
            None => Found::Miss,
        }
    }

    /// Cache `value` for every key equal to `key` under `mask`, made under `generation`. An
    /// entry with the same mask and masked key is replaced. Refused when the cache is full of
    /// entries of the current generation.
    pub fn insert(
        &mut self,
        key: &FlowKey,
        mask: &FlowKey,
        generation: u64,
        value: V,
    ) -> Result<(), Full> {
        let i = match self.subtables.iter().position(|s| s.mask == *mask) {
            Some(i) => i,
            None => {
                self.subtables.push(Subtable::new(*mask));
                self.subtables.len() - 1
            }
        };
        let h = self.subtables[i].mw.hash(key);
        if let Some(&slot) = self.subtables[i].map.get(&h) {
            let st = &mut self.subtables[i];
            let slot = slot as usize;
            st.write(slot, key);
            st.slots[slot].generation = generation;
            st.slots[slot].value = Some(value);
            return Ok(());
        }
        if self.len >= self.capacity {
            self.sweep(generation);
            if self.len >= self.capacity {
                self.drop_empty();
                return Err(Full);
            }
        }
        let i = match self.subtables.iter().position(|s| s.mask == *mask) {
            Some(i) => i,
            None => {
                self.subtables.push(Subtable::new(*mask));
                self.subtables.len() - 1
            }
        };
        let st = &mut self.subtables[i];
        let slot = match st.free.pop() {
            Some(s) => s as usize,
            None => {
                st.slots.push(Slot {
                    hash: 0,
                    generation: 0,
                    value: None,
                });
                st.packed.resize(st.packed.len() + st.mw.n_words, 0);
                st.slots.len() - 1
            }
        };
        st.write(slot, key);
        st.slots[slot] = Slot {
            hash: h,
            generation,
            value: Some(value),
        };
        st.map.insert(h, slot as u32);
        st.live += 1;
        self.len += 1;
        Ok(())
    }

    /// Remove every entry not of `generation`; returns how many.
    pub fn sweep(&mut self, generation: u64) -> usize {
        let mut removed = 0;
        for st in &mut self.subtables {
            for slot in 0..st.slots.len() {
                let s = &st.slots[slot];
                if s.value.is_some() && s.generation != generation {
                    st.remove(slot);
                    removed += 1;
                }
            }
        }
        self.len -= removed;
        self.drop_empty();
        self.cursor = (0, 0);
        removed
    }

    /// Examine up to `budget` slots for entries not of `generation`, going on where the last
    /// call stopped, and remove those. Returns true when a full pass over the cache has ended
    /// with this call (the caller may stop calling until the generation changes again).
    pub fn sweep_step(&mut self, generation: u64, budget: usize) -> bool {
        let mut left = budget;
        while left > 0 {
            let (si, mut slot) = self.cursor;
            let Some(st) = self.subtables.get_mut(si) else {
                self.cursor = (0, 0);
                self.drop_empty();
                return true;
            };
            while slot < st.slots.len() && left > 0 {
                let s = &st.slots[slot];
                if s.value.is_some() && s.generation != generation {
                    st.remove(slot);
                    self.len -= 1;
                }
                slot += 1;
                left -= 1;
            }
            self.cursor = if slot >= st.slots.len() {
                (si + 1, 0)
            } else {
                (si, slot)
            };
        }
        false
    }

    fn drop_empty(&mut self) {
        let before = self.subtables.len();
        self.subtables.retain(|s| s.live > 0);
        if self.subtables.len() != before {
            self.cursor = (0, 0);
        }
    }

    /// Order subtables by hits since the last ranking, busiest first.
    pub fn rerank(&mut self) {
        self.lookups = 0;
        self.subtables.sort_by_key(|s| std::cmp::Reverse(s.hits));
        for st in &mut self.subtables {
            st.hits /= 2;
        }
        self.cursor = (0, 0);
    }

    /// Remove everything.
    pub fn clear(&mut self) {
        self.subtables.clear();
        self.len = 0;
        self.cursor = (0, 0);
    }

    /// Megaflows held (stale ones included until swept).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no megaflow is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of distinct masks.
    pub fn subtables(&self) -> usize {
        self.subtables.len()
    }

    /// Most megaflows this cache holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Every held megaflow as (masked key, mask, generation, value), for dumps and tests.
    pub fn iter(&self) -> impl Iterator<Item = (FlowKey, FlowKey, u64, &V)> {
        self.subtables.iter().flat_map(|st| {
            st.slots.iter().enumerate().filter_map(move |(i, s)| {
                let v = s.value.as_ref()?;
                let mut k = FlowKey::default();
                let w = k.words_mut();
                for (j, &p) in st.packed(i).iter().enumerate() {
                    w[usize::from(st.mw.word_idx[j])] = p;
                }
                Some((k, st.mask, s.generation, v))
            })
        })
    }
}

#[cfg(test)]
#[path = "megaflow_tests.rs"]
mod tests;
