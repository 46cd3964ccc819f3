//! VLAN range sets as operators write them: `"1-2000,3000,3100-3199"`.
//!
//! A [`VlanRanges`] is kept sorted and merged, so two spellings of one set compare equal and
//! serialize the same way (`"10,11,12"` becomes `"10-12"`). Only 1..=4094 are VLANs; 0 and 4095
//! are reserved by 802.1Q.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Lowest usable VLAN id.
pub const VLAN_MIN: u16 = 1;
/// Highest usable VLAN id.
pub const VLAN_MAX: u16 = 4094;

/// A set of VLAN ids as sorted, merged, inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VlanRanges(Vec<(u16, u16)>);

impl VlanRanges {
    /// Parse `"a-b,c,..."`; the error says what is wrong.
    pub fn parse(s: &str) -> Result<VlanRanges, String> {
        let mut v = Vec::new();
        for part in s.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(format!("{s:?}: empty range"));
            }
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (num(a.trim())?, num(b.trim())?),
                None => (num(part)?, num(part)?),
            };
            if a > b {
                return Err(format!("{part:?}: first VLAN is above the last"));
            }
            v.push((a, b));
        }
        Ok(VlanRanges::from_ranges(v))
    }

    /// A set from ranges (sorted and merged here).
    pub fn from_ranges(mut v: Vec<(u16, u16)>) -> VlanRanges {
        v.sort_unstable();
        let mut out: Vec<(u16, u16)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match out.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        VlanRanges(out)
    }

    /// The ranges, sorted and disjoint.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.0
    }

    /// Whether `vlan` is in the set.
    pub fn contains(&self, vlan: u16) -> bool {
        self.0.iter().any(|&(a, b)| a <= vlan && vlan <= b)
    }

    /// Whether every VLAN of `other` is in this set.
    pub fn covers(&self, other: &VlanRanges) -> bool {
        other
            .0
            .iter()
            .all(|&(a, b)| self.0.iter().any(|&(x, y)| x <= a && b <= y))
    }

    /// How many VLANs the set holds.
    pub fn count(&self) -> u32 {
        self.0.iter().map(|&(a, b)| u32::from(b - a) + 1).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn num(s: &str) -> Result<u16, String> {
    let n: u16 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a VLAN number"))?;
    if !(VLAN_MIN..=VLAN_MAX).contains(&n) {
        return Err(format!("VLAN {n} is outside {VLAN_MIN}-{VLAN_MAX}"));
    }
    Ok(n)
}

impl fmt::Display for VlanRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(a, b)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

impl Serialize for VlanRanges {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VlanRanges {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<VlanRanges, D::Error> {
        let s = String::deserialize(d)?;
        VlanRanges::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_merges_and_prints() {
        let r = VlanRanges::parse("30, 10-12,13,20-25,1").unwrap();
        assert_eq!(r.to_string(), "1,10-13,20-25,30");
        assert_eq!(r.count(), 1 + 4 + 6 + 1);
        assert!(r.contains(13) && !r.contains(14));
        assert!(r.covers(&VlanRanges::parse("21-24,30").unwrap()));
        assert!(!r.covers(&VlanRanges::parse("12-14").unwrap()));
    }

    #[test]
    fn refuses_bad_input() {
        for bad in ["", "0", "4095", "5-2", "a", "1,,2", "1-"] {
            assert!(VlanRanges::parse(bad).is_err(), "{bad:?}");
        }
    }
}
