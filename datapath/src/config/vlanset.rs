//! A set of VLAN ids as a fixed 4096-bit bitmap.
//!
//! Trunk membership is tested for every tagged frame a trunk port receives or may send, so the
//! set is a plain `[u64; 64]`: `contains` is one shift, one load and one mask, with no allocation
//! and no pointer chasing, and the whole set is a 512-byte value that clones cheaply into a bridge
//! snapshot. People write VLAN lists as range lists (`"10,20-30"`, the notation of switch CLIs and
//! OVS's `trunks` column), so that is the text form in both directions and the serialized form.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Lowest usable VLAN id (0 means "priority tag only").
pub const VLAN_MIN: u16 = 1;
/// Highest usable VLAN id (4095 is reserved).
pub const VLAN_MAX: u16 = 4094;

/// Why a VLAN list did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VlanSetError {
    /// The list had no entries.
    #[error("empty VLAN list")]
    Empty,
    /// An entry was not a number or a `low-high` range.
    #[error("bad VLAN list entry \"{0}\" (expected a number or a range like 20-30)")]
    BadEntry(String),
    /// A VLAN id outside 1..4094.
    #[error("VLAN {0} out of range 1..4094")]
    OutOfRange(String),
    /// A range whose low end is above its high end.
    #[error("bad VLAN range {0}-{1} (low end above high end)")]
    Reversed(u16, u16),
}

/// A set of VLAN ids (0..4095), stored as a bitmap.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VlanSet {
    bits: [u64; 64],
}

impl Default for VlanSet {
    fn default() -> Self {
        VlanSet::new()
    }
}

impl VlanSet {
    /// The empty set.
    pub const fn new() -> VlanSet {
        VlanSet { bits: [0; 64] }
    }

    /// Whether `vid` is in the set (ids of 4096 and above never are).
    #[inline]
    pub fn contains(&self, vid: u16) -> bool {
        let vid = usize::from(vid);
        vid < 4096 && self.bits[vid >> 6] & (1u64 << (vid & 63)) != 0
    }

    /// Add `vid`; returns whether it was newly added (always false for ids of 4096 and above).
    pub fn insert(&mut self, vid: u16) -> bool {
        let v = usize::from(vid);
        if v >= 4096 {
            return false;
        }
        let mask = 1u64 << (v & 63);
        let fresh = self.bits[v >> 6] & mask == 0;
        self.bits[v >> 6] |= mask;
        fresh
    }

    /// Remove `vid`; returns whether it was present.
    pub fn remove(&mut self, vid: u16) -> bool {
        let present = self.contains(vid);
        if present {
            let v = usize::from(vid);
            self.bits[v >> 6] &= !(1u64 << (v & 63));
        }
        present
    }

    /// Number of VLANs in the set.
    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }

    /// The members in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.bits.iter().enumerate().flat_map(|(i, &word)| {
            let mut w = word;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                // i < 64 and bit < 64, so the id is below 4096.
                Some((i * 64 + bit) as u16)
            })
        })
    }

    /// The members as maximal `(low, high)` runs, ascending.
    pub fn ranges(&self) -> Vec<(u16, u16)> {
        let mut out: Vec<(u16, u16)> = Vec::new();
        for v in self.iter() {
            match out.last_mut() {
                Some((_, hi)) if *hi + 1 == v => *hi = v,
                _ => out.push((v, v)),
            }
        }
        out
    }
}

impl FromIterator<u16> for VlanSet {
    fn from_iter<I: IntoIterator<Item = u16>>(iter: I) -> Self {
        let mut s = VlanSet::new();
        for v in iter {
            s.insert(v);
        }
        s
    }
}

fn parse_vid(s: &str) -> Result<u16, VlanSetError> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VlanSetError::BadEntry(s.to_string()));
    }
    // All digits: the only possible failure is overflow, which is out of range anyway.
    match s.parse::<u16>() {
        Ok(n) if (VLAN_MIN..=VLAN_MAX).contains(&n) => Ok(n),
        _ => Err(VlanSetError::OutOfRange(s.to_string())),
    }
}

impl FromStr for VlanSet {
    type Err = VlanSetError;

    /// Parse a range list such as `"10,20-30"` (spaces around entries are allowed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(VlanSetError::Empty);
        }
        let mut set = VlanSet::new();
        for entry in s.split(',') {
            let entry = entry.trim();
            match entry.split_once('-') {
                None => {
                    set.insert(parse_vid(entry)?);
                }
                Some((lo, hi)) => {
                    let (lo, hi) = (parse_vid(lo)?, parse_vid(hi)?);
                    if lo > hi {
                        return Err(VlanSetError::Reversed(lo, hi));
                    }
                    for v in lo..=hi {
                        set.insert(v);
                    }
                }
            }
        }
        Ok(set)
    }
}

impl fmt::Display for VlanSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (lo, hi)) in self.ranges().into_iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for VlanSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VlanSet(\"{self}\")")
    }
}

impl Serialize for VlanSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VlanSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        let s: VlanSet = "10, 20-30,31,4094".parse().unwrap();
        assert!(s.contains(10) && s.contains(20) && s.contains(31) && s.contains(4094));
        assert!(!s.contains(11) && !s.contains(19) && !s.contains(32) && !s.contains(0));
        assert_eq!(s.len(), 1 + 12 + 1);
        assert_eq!(s.to_string(), "10,20-31,4094");
        assert_eq!(s.to_string().parse::<VlanSet>().unwrap(), s);
    }

    #[test]
    fn iter_is_ascending_and_complete() {
        let s: VlanSet = [4094u16, 1, 64, 63, 65].into_iter().collect();
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![1, 63, 64, 65, 4094]);
        assert_eq!(s.ranges(), vec![(1, 1), (63, 65), (4094, 4094)]);
    }

    #[test]
    fn insert_remove() {
        let mut s = VlanSet::new();
        assert!(s.is_empty());
        assert!(s.insert(100));
        assert!(!s.insert(100));
        assert!(!s.insert(4096));
        assert!(!s.contains(4096) && !s.contains(u16::MAX));
        assert!(s.remove(100));
        assert!(!s.remove(100));
        assert!(s.is_empty());
    }

    #[test]
    fn parse_errors() {
        let e = |t: &str| t.parse::<VlanSet>().unwrap_err().to_string();
        assert_eq!(e(""), "empty VLAN list");
        assert_eq!(e("5000"), "VLAN 5000 out of range 1..4094");
        assert_eq!(e("0"), "VLAN 0 out of range 1..4094");
        assert_eq!(
            e("10-99999999999999999999999"),
            "VLAN 99999999999999999999999 out of range 1..4094"
        );
        assert_eq!(e("30-20"), "bad VLAN range 30-20 (low end above high end)");
        assert_eq!(
            e("10,,20"),
            "bad VLAN list entry \"\" (expected a number or a range like 20-30)"
        );
        assert_eq!(
            e("ten"),
            "bad VLAN list entry \"ten\" (expected a number or a range like 20-30)"
        );
        assert_eq!(
            e("-5"),
            "bad VLAN list entry \"\" (expected a number or a range like 20-30)"
        );
    }

    #[test]
    fn serde_as_string() {
        let s: VlanSet = "10,20-30".parse().unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"10,20-30\"");
        let back: VlanSet = serde_json::from_str("\"10,20-30\"").unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_str::<VlanSet>("\"5000\"").is_err());
    }
}
