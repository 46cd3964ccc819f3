//! A mask compiled for hashing and comparing masked keys: the indices of the key words it
//! touches and its value there, so that a subtable (of the OpenFlow classifier or the megaflow
//! cache) reads only those words, typically 1-3 of the key's 20, instead of all of them.

use crate::key::{FlowKey, KEY_WORDS};

#[inline(always)]
fn mix(h: u64, w: u64) -> u64 {
    let h = (h ^ w).wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 32)
}

const HASH_BASIS: u64 = 0x9e37_79b9_7f4a_7c15;

/// The non-zero words of a mask.
#[derive(Clone, Copy)]
pub(crate) struct MaskWords {
    /// Number of mask words that are not zero.
    pub n_words: usize,
    /// Indices of those words in the key.
    pub word_idx: [u8; KEY_WORDS],
    /// The mask's value at each of those indices (parallel to `word_idx`).
    pub mask_words: [u64; KEY_WORDS],
}

impl MaskWords {
    pub fn new(mask: &FlowKey) -> MaskWords {
        let mut word_idx = [0u8; KEY_WORDS];
        let mut mask_words = [0u64; KEY_WORDS];
        let mut n_words = 0;
        for (i, &w) in mask.words().iter().enumerate() {
            if w != 0 {
                word_idx[n_words] = i as u8;
                mask_words[n_words] = w;
                n_words += 1;
            }
        }
        MaskWords {
            n_words,
            word_idx,
            mask_words,
        }
    }

    /// Hash of `key & mask` over the touched words only.
    #[inline(always)]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        let k = key.words();
        let mut h = HASH_BASIS;
        for j in 0..self.n_words {
            h = mix(h, k[usize::from(self.word_idx[j])] & self.mask_words[j]);
        }
        h ^ (h >> 29)
    }

    /// True when `key & mask == value` (a masked key), comparing only the touched words.
    #[inline(always)]
    pub fn matches(&self, key: &FlowKey, value: &FlowKey) -> bool {
        let (k, v) = (key.words(), value.words());
        let mut diff = 0u64;
        for j in 0..self.n_words {
            let i = usize::from(self.word_idx[j]);
            diff |= (k[i] & self.mask_words[j]) ^ v[i];
        }
        diff == 0
    }

    /// True when `key & mask` equals the packed words `packed` (one per touched word, in order).
    #[inline(always)]
    pub fn matches_packed(&self, key: &FlowKey, packed: &[u64]) -> bool {
        let k = key.words();
        let mut diff = 0u64;
        for (j, &p) in packed.iter().enumerate().take(self.n_words) {
            diff |= (k[usize::from(self.word_idx[j])] & self.mask_words[j]) ^ p;
        }
        diff == 0
    }

    /// Append `key & mask`'s touched words to `out`.
    #[inline]
    pub fn pack(&self, key: &FlowKey, out: &mut Vec<u64>) {
        let k = key.words();
        for j in 0..self.n_words {
            out.push(k[usize::from(self.word_idx[j])] & self.mask_words[j]);
        }
    }
}
