//! Megaflow cache: the second lookup tier, between the exact-match cache and the OpenFlow
//! pipeline; one per PMD thread per bridge, no sharing and no locks.
//!
//! The exact-match cache holds 8192 flows. Past that, every packet of a flow that is not in it
//! would pay a whole pipeline walk and translation (about half a microsecond) without this tier.
//! A megaflow is the slow path's answer stored under a *wildcarded* key: the pipeline records every
//! key bit it read while deciding (the masks of the classifier subtables it probed, the fields
//! its actions and NORMAL read: `PipelineResult::wc` and the datapath's translation), and any
//! other packet that agrees on exactly those bits would be decided the same way. A thousand
//! flows that differ only in their IP addresses, forwarded by NORMAL, are then one megaflow.
//!
//! Layout is tuple-space search like the classifier, minus priorities: one subtable per distinct
//! mask. Megaflows of one generation never disagree where they overlap (each is the exact set of
//! bits that decided its outcome), so the first hit ends a lookup, and subtables are ordered
//! purely by hits (re-ranked every [`RERANK_EVERY`] lookups) so that the busiest mask is probed
//! first. The value is a `u32` (the datapath's index into its table of shared decisions), which
//! keeps every entry plain data in two flat arrays per subtable, sized for cache misses rather
//! than for generality: with 100k megaflows neither fits in cache, and what a lookup costs is
//! the lines it touches.
//! - an open-addressing index (linear probing, at most half full) of `u64`s: a 32-bit tag of the
//!   masked-key hash and the row number. One line per probe, and its address is known from the
//!   hash alone, so a PMD can prefetch it for a whole burst ([`Megaflows::prefetch`]);
//! - rows of `3 + n` words: generation, full hash, value, then the `n` masked key words the
//!   subtable's mask touches (usually one line).
//!
//! **Invalidation** works by generation, as in the EMC: an entry made under another generation
//! (the bridge's epoch, bumped by every flow table, port or MAC-table change) is stale. The first
//! packet that meets a stale megaflow runs the slow path and its result replaces the entry in
//! place (same mask and masked key) or lands in another subtable if the new walk read other bits;
//! so after a table change, 100k flows under one megaflow cost one slow-path run, not 100k.
//! Entries nobody hits again are removed by [`Megaflows::sweep_step`], a little per call so the
//! PMD never stalls, and all at once when the cache is full.
//!
//! The cache holds at most its capacity; an insert into a full cache that a sweep cannot make
//! room in is refused, and the caller counts it (the packet is still forwarded by the slow path).

use crate::key::FlowKey;
use crate::maskwords::MaskWords;

/// Default capacity per PMD per bridge (OVS's default datapath flow limit is 200000 for the
/// whole switch).
pub const DEFAULT_CAPACITY: usize = 200_000;

/// Lookups between two re-rankings of the subtables.
pub const RERANK_EVERY: u32 = 1 << 16;

/// Row words before the masked key: generation, hash, value.
const HDR: usize = 3;
/// Value word of a free row.
const FREE: u64 = u64::MAX;

/// The index tag of a hash: its high half, never zero (zero marks an empty index slot).
#[inline(always)]
fn tag(h: u64) -> u64 {
    (h >> 32) | 1
}

struct Subtable {
    mask: FlowKey,
    mw: MaskWords,
    /// `tag << 32 | row`, 0 = empty; a power of two long, at most half full.
    index: Vec<u64>,
    /// `HDR + mw.n_words` words per row.
    rows: Vec<u64>,
    free: Vec<u32>,
    live: usize,
    hits: u64,
}

impl Subtable {
    fn new(mask: FlowKey) -> Subtable {
        Subtable {
            mask,
            mw: MaskWords::new(&mask),
            index: vec![0; 16],
            rows: Vec::new(),
            free: Vec::new(),
            live: 0,
            hits: 0,
        }
    }

    #[inline(always)]
    fn stride(&self) -> usize {
        HDR + self.mw.n_words
    }

    #[inline(always)]
    fn row(&self, r: usize) -> &[u64] {
        let s = self.stride();
        &self.rows[r * s..r * s + s]
    }

    fn n_rows(&self) -> usize {
        self.rows.len() / self.stride()
    }

    /// The row holding `key`'s masked value (hash `h`), if any.
    #[inline(always)]
    fn find(&self, key: &FlowKey, h: u64) -> Option<usize> {
        let m = self.index.len() - 1;
        let t = tag(h);
        let mut i = h as usize & m;
        loop {
            let e = self.index[i];
            if e == 0 {
                return None;
            }
            if e >> 32 == t {
                let r = (e & 0xffff_ffff) as usize;
                let row = self.row(r);
                if row[1] == h && self.mw.matches_packed(key, &row[HDR..]) {
                    return Some(r);
                }
            }
            i = (i + 1) & m;
        }
    }

    fn index_insert(&mut self, h: u64, r: usize) {
        let m = self.index.len() - 1;
        let mut i = h as usize & m;
        while self.index[i] != 0 {
            i = (i + 1) & m;
        }
        self.index[i] = tag(h) << 32 | r as u64;
    }

    /// Double the index and re-insert every live row.
    fn grow_index(&mut self) {
        let n = self.index.len() * 2;
        self.index = vec![0; n];
        for r in 0..self.n_rows() {
            let row = self.row(r);
            if row[2] != FREE {
                let h = row[1];
                self.index_insert(h, r);
            }
        }
    }

    /// Remove row `r` (hash `h`) from the index, shifting later entries of its probe run back
    /// so that no lookup stops early at the hole.
    fn index_remove(&mut self, h: u64, r: usize) {
        let m = self.index.len() - 1;
        let want = tag(h) << 32 | r as u64;
        let mut i = h as usize & m;
        while self.index[i] != want {
            if self.index[i] == 0 {
                return;
            }
            i = (i + 1) & m;
        }
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & m;
            let e = self.index[j];
            if e == 0 {
                break;
            }
            let home = self.row((e & 0xffff_ffff) as usize)[1] as usize & m;
            // Move e into the hole unless its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.index[hole] = e;
                hole = j;
            }
        }
        self.index[hole] = 0;
    }

    fn remove(&mut self, r: usize) {
        let s = self.stride();
        if self.rows[r * s + 2] == FREE {
            return;
        }
        let h = self.rows[r * s + 1];
        self.index_remove(h, r);
        self.rows[r * s + 2] = FREE;
        self.free.push(r as u32);
        self.live -= 1;
    }
}

/// What [`Megaflows::find`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A megaflow of the current generation, with its value.
    Hit(u32),
    /// Only megaflows of older generations.
    Stale,
    /// Nothing.
    Miss,
}

/// The first subtable's hash of a key, computed ahead of the lookup (see
/// [`Megaflows::prefetch`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hint {
    h0: u64,
    /// The subtable order it was computed under (0: none).
    order: u32,
}

/// Why an insert did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// Per-PMD megaflow cache from masked [`FlowKey`]s to `u32` values.
pub struct Megaflows {
    subtables: Vec<Subtable>,
    len: usize,
    capacity: usize,
    lookups: u32,
    /// Where [`Megaflows::sweep_step`] goes on: (subtable, row).
    cursor: (usize, usize),
    /// Changes whenever the subtables change order or number (never 0).
    order: u32,
    /// The generation of the last sweep made because the cache was full.
    full_sweep: Option<u64>,
}

impl Default for Megaflows {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl Megaflows {
    /// An empty cache of at most `capacity` megaflows.
    pub fn new(capacity: usize) -> Self {
        Megaflows {
            subtables: Vec::new(),
            len: 0,
            capacity,
            lookups: 0,
            cursor: (0, 0),
            order: 1,
            full_sweep: None,
        }
    }

    /// Ask for the index line the first (busiest) subtable's probe of `key` reads; returns the
    /// hash for [`Megaflows::find_hinted`].
    #[inline]
    pub fn prefetch(&self, key: &FlowKey) -> Hint {
        let Some(st) = self.subtables.first() else {
            return Hint::default();
        };
        let h = st.mw.hash(key);
        let i = h as usize & (st.index.len() - 1);
        crate::prefetch::read(st.index.as_ptr().wrapping_add(i).cast());
        Hint {
            h0: h,
            order: self.order,
        }
    }

    /// Ask for the row the hinted probe's first index entry points at, when its tag matches (a
    /// second prefetch stage: call it once the index line asked for by
    /// [`Megaflows::prefetch`] has had time to arrive).
    #[inline]
    pub fn prefetch_row(&self, hint: Hint) {
        if hint.order != self.order || hint.order == 0 {
            return;
        }
        let Some(st) = self.subtables.first() else {
            return;
        };
        let e = st.index[hint.h0 as usize & (st.index.len() - 1)];
        if e >> 32 == tag(hint.h0) {
            let r = (e & 0xffff_ffff) as usize;
            crate::prefetch::read(st.rows.as_ptr().wrapping_add(r * st.stride()).cast());
        }
    }

    /// The value of the megaflow of generation `generation` that `key` falls under.
    #[inline]
    pub fn lookup(&mut self, key: &FlowKey, generation: u64) -> Option<u32> {
        match self.find(key, generation) {
            Found::Hit(v) => Some(v),
            Found::Stale | Found::Miss => None,
        }
    }

    /// Like [`Megaflows::lookup`], also telling a miss from a stale megaflow (one made under
    /// another generation: the flow is known, its decision must be made again).
    #[inline]
    pub fn find(&mut self, key: &FlowKey, generation: u64) -> Found {
        self.find_hinted(key, generation, Hint::default())
    }

    /// [`Megaflows::find`] with the first subtable's hash computed by [`Megaflows::prefetch`]
    /// (used only if the subtables have not changed order or number since).
    #[inline]
    pub fn find_hinted(&mut self, key: &FlowKey, generation: u64, hint: Hint) -> Found {
        self.lookups += 1;
        if self.lookups >= RERANK_EVERY {
            self.rerank();
        }
        let hinted = hint.order == self.order && self.order != 0;
        let mut stale = false;
        for (i, st) in self.subtables.iter_mut().enumerate() {
            let h = if i == 0 && hinted {
                hint.h0
            } else {
                st.mw.hash(key)
            };
            let Some(r) = st.find(key, h) else {
                continue;
            };
            let row = st.row(r);
            if row[0] == generation {
                let v = row[2] as u32;
                st.hits += 1;
                return Found::Hit(v);
            }
            stale = true;
        }
        if stale {
            Found::Stale
        } else {
            Found::Miss
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
        value: u32,
    ) -> Result<(), Full> {
        if let Some(st) = self.subtables.iter_mut().find(|s| s.mask == *mask) {
            let h = st.mw.hash(key);
            if let Some(r) = st.find(key, h) {
                let s = st.stride();
                st.rows[r * s] = generation;
                st.rows[r * s + 2] = u64::from(value);
                return Ok(());
            }
        }
        if self.len >= self.capacity {
            // Full: a sweep can only help if something went stale since the last one (else a
            // flood of new flows would pay a whole pass over the cache per refused insert).
            if self.full_sweep == Some(generation) {
                return Err(Full);
            }
            self.sweep(generation);
            self.full_sweep = Some(generation);
            if self.len >= self.capacity {
                return Err(Full);
            }
        }
        let st = match self.subtables.iter().position(|s| s.mask == *mask) {
            Some(i) => &mut self.subtables[i],
            None => {
                self.reordered();
                self.subtables.push(Subtable::new(*mask));
                self.subtables.last_mut().expect("just pushed")
            }
        };
        let h = st.mw.hash(key);
        let s = st.stride();
        let r = match st.free.pop() {
            Some(r) => r as usize,
            None => {
                st.rows.resize(st.rows.len() + s, 0);
                st.n_rows() - 1
            }
        };
        let mut packed = Vec::with_capacity(st.mw.n_words);
        st.mw.pack(key, &mut packed);
        let row = &mut st.rows[r * s..r * s + s];
        row[0] = generation;
        row[1] = h;
        row[2] = u64::from(value);
        row[HDR..].copy_from_slice(&packed);
        st.live += 1;
        if st.live * 2 > st.index.len() {
            st.grow_index();
        } else {
            st.index_insert(h, r);
        }
        self.len += 1;
        Ok(())
    }

    /// Remove every entry not of `generation`; returns how many.
    pub fn sweep(&mut self, generation: u64) -> usize {
        let mut removed = 0;
        for st in &mut self.subtables {
            for r in 0..st.n_rows() {
                let row = st.row(r);
                if row[2] != FREE && row[0] != generation {
                    st.remove(r);
                    removed += 1;
                }
            }
        }
        self.len -= removed;
        self.drop_empty();
        self.cursor = (0, 0);
        removed
    }

    /// Examine up to `budget` rows for entries not of `generation`, going on where the last
    /// call stopped, and remove those. Returns true when a full pass over the cache has ended
    /// with this call (the caller may stop calling until the generation changes again).
    pub fn sweep_step(&mut self, generation: u64, budget: usize) -> bool {
        let mut left = budget;
        while left > 0 {
            let (si, mut r) = self.cursor;
            let Some(st) = self.subtables.get_mut(si) else {
                self.cursor = (0, 0);
                self.drop_empty();
                return true;
            };
            let n = st.n_rows();
            while r < n && left > 0 {
                let row = st.row(r);
                if row[2] != FREE && row[0] != generation {
                    st.remove(r);
                    self.len -= 1;
                }
                r += 1;
                left -= 1;
            }
            self.cursor = if r >= n { (si + 1, 0) } else { (si, r) };
        }
        false
    }

    fn drop_empty(&mut self) {
        let before = self.subtables.len();
        self.subtables.retain(|s| s.live > 0);
        if self.subtables.len() != before {
            self.cursor = (0, 0);
            self.reordered();
        }
    }

    fn reordered(&mut self) {
        self.order = self.order.wrapping_add(1).max(1);
    }

    /// Order subtables by hits since the last ranking, busiest first.
    pub fn rerank(&mut self) {
        self.lookups = 0;
        self.subtables.sort_by_key(|s| std::cmp::Reverse(s.hits));
        for st in &mut self.subtables {
            st.hits /= 2;
        }
        self.cursor = (0, 0);
        self.reordered();
    }

    /// Remove everything.
    pub fn clear(&mut self) {
        self.reordered();
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
    pub fn iter(&self) -> impl Iterator<Item = (FlowKey, FlowKey, u64, u32)> + '_ {
        self.subtables.iter().flat_map(|st| {
            (0..st.n_rows()).filter_map(move |r| {
                let row = st.row(r);
                if row[2] == FREE {
                    return None;
                }
                let mut k = FlowKey::default();
                let w = k.words_mut();
                for (j, &p) in row[HDR..].iter().enumerate() {
                    w[usize::from(st.mw.word_idx[j])] = p;
                }
                Some((k, st.mask, row[0], row[2] as u32))
            })
        })
    }
}

#[cfg(test)]
#[path = "megaflow_tests.rs"]
mod tests;
