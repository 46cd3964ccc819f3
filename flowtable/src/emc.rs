//! Exact-match cache (EMC): the first lookup tier, one per PMD thread, no sharing and no locks.
//!
//! Most traffic is a small number of long-lived flows, and for those a full key compare against a
//! handful of recently seen keys is far cheaper than any wildcard search. The cache is a fixed
//! power-of-two array allocated once at construction; each key may live in one of two slots (ways)
//! chosen from different bits of its hash, so two hot flows that collide on one index can still
//! coexist. A lookup touches at most two entries and compares their keys with a branch-free xor/or
//! reduction. An entry is exactly two cache lines, aligned: it stores only the 14 key words a
//! packet can set (metadata, tunnel_id and registers are pipeline scratch, zero in every key extracted from a
//! packet; keys where they are not zero are never cached), its generation and the value, and no
//! hash (the key compare is cheap once the lines are in). With thousands of flows the table
//! outgrows L1 and every probe is a miss, so the lines a probe touches are what a lookup costs:
//! four per packet to prefetch rather than the eight of a 176-byte unaligned entry that kept the
//! whole key and its hash. Insertion overwrites the entry that already holds the key, else a free
//! or stale way, else a victim picked by a hash bit (cheap, pseudo-random, and without recency
//! bookkeeping on the hit path). Hit/miss counters belong to the caller (per-PMD statistics),
//! which keeps `lookup` on `&self` and free of stores.
//!
//! **Invalidation by generation.** The datapath keeps one generation number that it bumps whenever
//! anything an EMC entry was derived from changes: a new pipeline snapshot (flows added, modified,
//! deleted), a MAC table change (learned, moved or aged-out address), a port reconfiguration. Every
//! entry records the generation it was computed under and a lookup with a different current
//! generation treats it as a miss, so invalidating every EMC on every PMD is a single counter bump
//! with no cross-thread access to the caches; stale entries are simply overwritten as traffic
//! re-populates them. `clear` exists for explicit flushes (tests, `dvsctl` commands).
//!
//! **Behind it, the megaflow tier** ([`crate::megaflow`]): a per-PMD tuple-space cache whose
//! entries hold already *translated* datapath decisions under masks that are exactly the key bits
//! the slow path read. A packet that misses here is looked up there; a hit is executed and, one
//! time in a few dozen, inserted here (with many more flows than this cache holds, inserting
//! every hit would only churn it). A miss there runs the OpenFlow pipeline and NORMAL, and the
//! result is installed in both tiers. Megaflows carry the generation too, so one epoch bump
//! invalidates both tiers; a stale megaflow is re-made by the first packet that meets it.

use crate::key::{FlowKey, KEY_WORDS};

/// Default number of entries (a power of two): 8192 like OVS, 1 MiB with pointer-sized values.
pub const DEFAULT_ENTRIES: usize = 8192;

/// Leading key words that hold pipeline scratch (metadata, tunnel_id, reg0..reg7), zero on
/// ingress.
const SCRATCH_WORDS: usize = 6;
const _: () = assert!(core::mem::offset_of!(FlowKey, in_port) == SCRATCH_WORDS * 8);

/// Key words an entry stores.
const STORED_WORDS: usize = KEY_WORDS - SCRATCH_WORDS;

/// One slot: two aligned cache lines when `V` is pointer-sized.
#[repr(C, align(64))]
struct Entry<V> {
    words: [u64; STORED_WORDS],
    generation: u64,
    value: Option<V>,
}

/// The stored part of `key`, or `None` when its scratch words are set (such keys are not cached).
#[inline(always)]
fn stored(key: &FlowKey) -> Option<&[u64; STORED_WORDS]> {
    let (scratch, rest) = key.words().split_at(SCRATCH_WORDS);
    let set = scratch.iter().fold(0, |a, w| a | w);
    (set == 0).then(|| rest.try_into().expect("STORED_WORDS"))
}

/// A fixed-size, 2-way set-associative exact-match cache from [`FlowKey`] to `V`.
pub struct Emc<V> {
    entries: Vec<Entry<V>>,
    mask: usize,
    len: usize,
}

impl<V> Default for Emc<V> {
    fn default() -> Self {
        Self::new(DEFAULT_ENTRIES)
    }
}

/// A fast whole-key hash for the EMC: four independent multiply-xorshift lanes over the 20 words,
/// folded at the end. [`hash_key`](crate::key::hash_key) is one serial chain of 20 dependent
/// multiplies (about 20 ns); running four chains in parallel lets the CPU overlap them.
#[inline]
pub fn hash(key: &FlowKey) -> u64 {
    const M: u64 = 0xff51_afd7_ed55_8ccd;
    let w = key.words();
    let mut lanes = [
        0x9e37_79b9_7f4a_7c15u64,
        0xc2b2_ae3d_27d4_eb4f,
        0x1656_67b1_9e37_79f9,
        0x27d4_eb2f_1656_67c5,
    ];
    let mut i = 0;
    while i + 4 <= KEY_WORDS {
        for (l, lane) in lanes.iter_mut().enumerate() {
            let h = (*lane ^ w[i + l]).wrapping_mul(M);
            *lane = h ^ (h >> 32);
        }
        i += 4;
    }
    while i < KEY_WORDS {
        let h = (lanes[i & 3] ^ w[i]).wrapping_mul(M);
        lanes[i & 3] = h ^ (h >> 32);
        i += 1;
    }
    let h =
        (lanes[0] ^ lanes[1].rotate_left(17) ^ lanes[2].rotate_left(31) ^ lanes[3].rotate_left(47))
            .wrapping_mul(M);
    h ^ (h >> 29)
}

/// Branch-free equality of two stored keys: xor/or over all words (vectorises; no early exit).
#[inline(always)]
fn same_key(a: &[u64; STORED_WORDS], b: &[u64; STORED_WORDS]) -> bool {
    let mut diff = 0u64;
    for i in 0..STORED_WORDS {
        diff |= a[i] ^ b[i];
    }
    diff == 0
}

impl<V> Emc<V> {
    /// A cache of `entries` slots, rounded up to a power of two (at least 2). This is the only
    /// allocation the cache ever makes.
    pub fn new(entries: usize) -> Self {
        let n = entries.max(2).next_power_of_two();
        let mut v = Vec::with_capacity(n);
        v.resize_with(n, || Entry {
            words: [0; STORED_WORDS],
            generation: 0,
            value: None,
        });
        Emc {
            entries: v,
            mask: n - 1,
            len: 0,
        }
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Number of occupied slots, including entries of older generations that have not been
    /// overwritten yet.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no slot is occupied.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The two candidate slots for `hash`: low bits and bits 32.. (independent halves of the hash).
    #[inline(always)]
    fn ways(&self, hash: u64) -> [usize; 2] {
        [hash as usize & self.mask, (hash >> 32) as usize & self.mask]
    }

    /// Ask for the lines of both ways `hash` maps to, ahead of [`Emc::lookup`]. With thousands
    /// of flows the table outgrows L1 and each probe is a miss; a batch that hashes all its keys
    /// first can prefetch every probe and pay those misses together rather than one by one.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        for way in self.ways(hash) {
            let Some(e) = self.entries.get(way) else {
                continue;
            };
            // Entries are line-aligned, so each line is asked for exactly once.
            let start = (e as *const Entry<V>).cast::<u8>();
            for off in (0..std::mem::size_of::<Entry<V>>()).step_by(64) {
                crate::prefetch::read(start.wrapping_add(off));
            }
        }
    }

    /// The value cached for `key` under `generation`. `hash` must be the hash the entry was
    /// inserted with (any function of the key, as long as the caller is consistent).
    #[inline]
    pub fn lookup(&self, key: &FlowKey, hash: u64, generation: u64) -> Option<&V> {
        self.find(key, hash, generation)
            .and_then(|slot| self.value_at(slot))
    }

    /// The slot holding `key` under `generation`, for [`Emc::value_at`]. A batch can find every
    /// key's slot first (and prefetch what the values point to) and use the slots afterwards, as
    /// long as nothing was inserted in between: an insert may reuse any slot.
    #[inline]
    pub fn find(&self, key: &FlowKey, hash: u64, generation: u64) -> Option<usize> {
        let words = stored(key)?;
        self.ways(hash).into_iter().find(|&way| {
            let e = &self.entries[way];
            e.generation == generation && e.value.is_some() && same_key(&e.words, words)
        })
    }

    /// The value in `slot` (from [`Emc::find`], with no insert since).
    #[inline]
    pub fn value_at(&self, slot: usize) -> Option<&V> {
        self.entries.get(slot).and_then(|e| e.value.as_ref())
    }

    /// Cache `value` for `key` under `generation`, replacing the key's previous entry if any, else
    /// a free or stale way, else a pseudo-randomly chosen way. A key whose metadata or registers
    /// are set is not cached.
    #[inline]
    pub fn insert(&mut self, key: FlowKey, hash: u64, generation: u64, value: V) {
        let Some(&words) = stored(&key) else {
            return;
        };
        let ways = self.ways(hash);
        let mut target = None;
        for way in ways {
            let e = &self.entries[way];
            if e.value.is_some() && same_key(&e.words, &words) {
                target = Some(way);
                break;
            }
        }
        let target = target.unwrap_or_else(|| {
            ways.into_iter()
                .find(|&w| {
                    let e = &self.entries[w];
                    e.value.is_none() || e.generation != generation
                })
                .unwrap_or(ways[(hash >> 63) as usize])
        });
        let e = &mut self.entries[target];
        if e.value.is_none() {
            self.len += 1;
        }
        *e = Entry {
            words,
            generation,
            value: Some(value),
        };
    }

    /// Drop every entry (the allocation is kept).
    pub fn clear(&mut self) {
        for e in &mut self.entries {
            e.value = None;
        }
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::hash_key;

    fn key(n: u32) -> FlowKey {
        FlowKey {
            ipv4_dst: n,
            tp_dst: n as u16,
            ..FlowKey::default()
        }
    }

    #[test]
    fn hit_miss_and_overwrite() {
        let mut emc: Emc<u32> = Emc::new(1000);
        assert_eq!(emc.capacity(), 1024);
        let k = key(1);
        let h = hash_key(&k, 0);
        assert_eq!(emc.lookup(&k, h, 0), None);
        emc.insert(k, h, 0, 11);
        assert_eq!(emc.lookup(&k, h, 0), Some(&11));
        assert_eq!(emc.len(), 1);
        emc.insert(k, h, 0, 12);
        assert_eq!(emc.lookup(&k, h, 0), Some(&12));
        assert_eq!(emc.len(), 1);
        // Same hash, different key: a miss (the key words are compared).
        assert_eq!(emc.lookup(&key(2), h, 0), None);
    }

    #[test]
    fn generation_mismatch_is_a_miss_and_slot_is_reused() {
        let mut emc: Emc<&str> = Emc::new(16);
        let k = key(5);
        let h = hash_key(&k, 0);
        emc.insert(k, h, 1, "old");
        assert_eq!(emc.lookup(&k, h, 2), None);
        assert_eq!(emc.lookup(&k, h, 1), Some(&"old"));
        emc.insert(k, h, 2, "new");
        assert_eq!(emc.lookup(&k, h, 2), Some(&"new"));
        assert_eq!(emc.lookup(&k, h, 1), None);
        assert_eq!(emc.len(), 1);
    }

    #[test]
    fn two_ways_hold_colliding_keys() {
        let mut emc: Emc<u32> = Emc::new(16);
        // Same low bits (way 0), different high halves (way 1): both must stay cached.
        let (ha, hb) = (0x0000_0001_0000_0003, 0x0000_0002_0000_0003);
        emc.insert(key(1), ha, 0, 1);
        emc.insert(key(2), hb, 0, 2);
        assert_eq!(emc.lookup(&key(1), ha, 0), Some(&1));
        assert_eq!(emc.lookup(&key(2), hb, 0), Some(&2));
        // A third key on the same two slots evicts exactly one of them.
        let hc = (1u64 << 63) | 0x0000_0002_0000_0003;
        emc.insert(key(3), hc, 0, 3);
        assert_eq!(emc.lookup(&key(3), hc, 0), Some(&3));
        let survivors = [emc.lookup(&key(1), ha, 0), emc.lookup(&key(2), hb, 0)];
        assert_eq!(survivors.iter().filter(|s| s.is_some()).count(), 1);
        assert_eq!(emc.len(), 2);
    }

    #[test]
    fn fast_hash_sees_every_word_and_spreads() {
        let base = key(1);
        let h0 = hash(&base);
        let mut seen = std::collections::HashSet::new();
        for word in 0..KEY_WORDS {
            for bit in [0, 17, 63] {
                let mut k = base;
                k.words_mut()[word] ^= 1 << bit;
                let h = hash(&k);
                assert_ne!(h, h0, "word {word} bit {bit} ignored");
                seen.insert(h & 0x1fff);
            }
        }
        // 57 single-bit variants should land in (nearly) distinct 8192-slot indices.
        assert!(seen.len() >= 50, "{} distinct indices", seen.len());
    }

    #[test]
    fn entries_are_two_aligned_lines() {
        assert_eq!(std::mem::size_of::<Entry<std::sync::Arc<u64>>>(), 128);
        let emc: Emc<std::sync::Arc<u64>> = Emc::new(4);
        assert_eq!(emc.entries.as_ptr() as usize % 64, 0);
    }

    #[test]
    fn keys_with_scratch_set_are_never_cached_nor_confused() {
        let mut emc: Emc<u32> = Emc::new(16);
        let plain = key(7);
        let mut scratch = plain;
        scratch.regs[3] = 9;
        let h = hash(&plain);
        emc.insert(scratch, h, 0, 1);
        assert!(emc.is_empty());
        emc.insert(plain, h, 0, 2);
        assert_eq!(emc.lookup(&plain, h, 0), Some(&2));
        // Same stored words and the same hash, but metadata set: not the cached flow.
        scratch.regs[3] = 0;
        scratch.metadata = 1;
        assert_eq!(emc.lookup(&scratch, h, 0), None);
    }

    #[test]
    fn clear_and_fill() {
        let mut emc: Emc<u32> = Emc::new(256);
        for n in 0..200 {
            let k = key(n);
            emc.insert(k, hash_key(&k, 0), 0, n);
        }
        let hits = (0..200)
            .filter(|&n| emc.lookup(&key(n), hash_key(&key(n), 0), 0) == Some(&n))
            .count();
        assert!(hits > 150, "only {hits} of 200 cached in 256 slots");
        assert!(emc.len() == hits && emc.len() <= 256);
        emc.clear();
        assert!(emc.is_empty());
        assert_eq!(emc.lookup(&key(1), hash_key(&key(1), 0), 0), None);
    }
}
