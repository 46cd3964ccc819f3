//! A rule's match: an ordered list of (field, value, mask) as the user or controller wrote it,
//! compiled once into a (value, mask) pair of [`FlowKey`]s for the classifier.
//!
//! Keeping the original list lets flow dumps show a rule exactly as it was added (field order and
//! mask encoding), while the compiled form is what the lookup paths use. Prerequisites are checked
//! here so that no rule can match "tcp_dst=80" on a packet that is not TCP.

use crate::field::{
    Field, Prereq, ETH_TYPE_ARP, ETH_TYPE_IPV4, ETH_TYPE_IPV6, IPPROTO_ICMP, IPPROTO_ICMPV6,
    IPPROTO_TCP, IPPROTO_UDP,
};
use crate::key::FlowKey;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a match is invalid.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum MatchError {
    /// A field appears twice.
    #[error("field {0} is matched twice")]
    Duplicate(&'static str),
    /// A field's prerequisite is not matched.
    #[error("field {field} requires {needs}")]
    Prerequisite {
        /// The field whose prerequisite is missing.
        field: &'static str,
        /// What it needs, in words.
        needs: &'static str,
    },
    /// Value has bits outside the mask or the field width.
    #[error("value of {0} has bits outside its mask or width")]
    BadValue(&'static str),
}

/// One matched field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldMatch {
    /// The field.
    pub field: Field,
    /// Value (already masked).
    pub value: u128,
    /// Mask; `field.full_mask()` for an exact match.
    pub mask: u128,
}

/// A rule's match, in the order the fields were given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Match {
    fields: Vec<FieldMatch>,
}

impl Match {
    /// The empty (match-everything) match.
    pub fn new() -> Match {
        Match::default()
    }

    /// Add an exact match on `field`.
    pub fn exact(self, field: Field, value: u128) -> Match {
        self.masked(field, value, field.full_mask())
    }

    /// Add a masked match on `field` (the value is masked for you).
    pub fn masked(mut self, field: Field, value: u128, mask: u128) -> Match {
        self.push(field, value, mask);
        self
    }

    /// Add a field in place. A later duplicate is reported by [`Match::validate`].
    pub fn push(&mut self, field: Field, value: u128, mask: u128) {
        let mask = mask & field.full_mask();
        self.fields.push(FieldMatch {
            field,
            value: value & mask,
            mask,
        });
    }

    /// The fields in insertion order.
    pub fn fields(&self) -> &[FieldMatch] {
        &self.fields
    }

    /// The match on `field`, if any.
    pub fn get(&self, field: Field) -> Option<&FieldMatch> {
        self.fields.iter().find(|f| f.field == field)
    }

    fn exact_value(&self, field: Field) -> Option<u128> {
        self.get(field)
            .filter(|f| f.mask == field.full_mask())
            .map(|f| f.value)
    }

    /// Check duplicates and OpenFlow prerequisites.
    pub fn validate(&self) -> Result<(), MatchError> {
        for (i, f) in self.fields.iter().enumerate() {
            if self.fields[..i].iter().any(|g| g.field == f.field) {
                return Err(MatchError::Duplicate(f.field.name()));
            }
            self.check_prereq(f.field)?;
        }
        Ok(())
    }

    fn check_prereq(&self, field: Field) -> Result<(), MatchError> {
        let eth = self.exact_value(Field::EthType).map(|v| v as u16);
        let proto = self.exact_value(Field::IpProto).map(|v| v as u8);
        let is_ip = matches!(eth, Some(ETH_TYPE_IPV4) | Some(ETH_TYPE_IPV6));
        let icmp6_type = self.exact_value(Field::Icmpv6Type).map(|v| v as u8);
        let (ok, needs) = match field.prereq() {
            Prereq::None => (true, ""),
            Prereq::VlanPresent => (
                self.get(Field::VlanVid)
                    .is_some_and(|f| f.mask & 0x1000 != 0 && f.value & 0x1000 != 0),
                "a VLAN tag (vlan_vid with the present bit)",
            ),
            Prereq::Ip => (is_ip, "dl_type=0x0800 or 0x86dd"),
            Prereq::Ipv4 => (eth == Some(ETH_TYPE_IPV4), "dl_type=0x0800 (ip)"),
            Prereq::Ipv6 => (eth == Some(ETH_TYPE_IPV6), "dl_type=0x86dd (ipv6)"),
            Prereq::Arp => (eth == Some(ETH_TYPE_ARP), "dl_type=0x0806 (arp)"),
            Prereq::Tcp => (
                is_ip && proto == Some(IPPROTO_TCP),
                "ip and nw_proto=6 (tcp)",
            ),
            Prereq::Udp => (
                is_ip && proto == Some(IPPROTO_UDP),
                "ip and nw_proto=17 (udp)",
            ),
            Prereq::Sctp => (
                is_ip && proto == Some(crate::field::IPPROTO_SCTP),
                "ip and nw_proto=132 (sctp)",
            ),
            Prereq::Icmpv4 => (
                eth == Some(ETH_TYPE_IPV4) && proto == Some(IPPROTO_ICMP),
                "ip and nw_proto=1 (icmp)",
            ),
            Prereq::Icmpv6 => (
                eth == Some(ETH_TYPE_IPV6) && proto == Some(IPPROTO_ICMPV6),
                "ipv6 and nw_proto=58 (icmp6)",
            ),
            Prereq::NdTarget => (
                matches!(icmp6_type, Some(135) | Some(136)),
                "icmp6 with icmpv6_type=135 or 136",
            ),
            Prereq::NdSll => (icmp6_type == Some(135), "icmp6 with icmpv6_type=135"),
            Prereq::NdTll => (icmp6_type == Some(136), "icmp6 with icmpv6_type=136"),
            Prereq::Mpls => (
                eth.is_some_and(crate::field::is_mpls),
                "dl_type=0x8847 or 0x8848 (mpls)",
            ),
        };
        if ok {
            Ok(())
        } else {
            Err(MatchError::Prerequisite {
                field: field.name(),
                needs,
            })
        }
    }

    /// Compile into (value, mask) keys for the classifier.
    pub fn to_key_mask(&self) -> (FlowKey, FlowKey) {
        let mut value = FlowKey::default();
        let mut mask = FlowKey::default();
        for f in &self.fields {
            // Fields that share a slot (VLAN vid/pcp, DSCP/ECN) must merge, not overwrite.
            let mut vm = FlowKey::default();
            f.field.set(&mut vm, f.value);
            let mut mm = FlowKey::default();
            f.field.set(&mut mm, f.mask);
            for ((v, m), (nv, nm)) in value
                .words_mut()
                .iter_mut()
                .zip(mask.words_mut().iter_mut())
                .zip(vm.words().iter().zip(mm.words()))
            {
                *v = (*v & !nm) | (nv & nm);
                *m |= nm;
            }
        }
        (value, mask)
    }

    /// True when this match is identical to `other` as a set of (field, value, mask), ignoring
    /// order: the OpenFlow "strict" comparison.
    pub fn same_as(&self, other: &Match) -> bool {
        self.to_key_mask() == other.to_key_mask()
    }

    /// True when every packet matched by `self` is also matched by `other` (`other` is at
    /// least as wide): the OpenFlow non-strict delete/modify filter.
    pub fn is_subset_of(&self, other: &Match) -> bool {
        let (sv, sm) = self.to_key_mask();
        let (ov, om) = other.to_key_mask();
        sv.words()
            .iter()
            .zip(sm.words())
            .zip(ov.words().iter().zip(om.words()))
            .all(|((sv, sm), (ov, om))| (om & !sm) == 0 && (sv & om) == *ov)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prerequisites_enforced() {
        let m = Match::new().exact(Field::TcpDst, 80);
        assert!(matches!(m.validate(), Err(MatchError::Prerequisite { .. })));
        let m = Match::new()
            .exact(Field::EthType, ETH_TYPE_IPV4.into())
            .exact(Field::IpProto, IPPROTO_TCP.into())
            .exact(Field::TcpDst, 80);
        assert_eq!(m.validate(), Ok(()));
    }

    #[test]
    fn duplicates_rejected() {
        let m = Match::new().exact(Field::InPort, 1).exact(Field::InPort, 2);
        assert_eq!(m.validate(), Err(MatchError::Duplicate("in_port")));
    }

    #[test]
    fn subset_semantics() {
        let wide = Match::new().exact(Field::EthType, 0x800);
        let narrow = Match::new().exact(Field::EthType, 0x800).masked(
            Field::Ipv4Dst,
            0x0a000000,
            0xff000000,
        );
        assert!(narrow.is_subset_of(&wide));
        assert!(!wide.is_subset_of(&narrow));
        assert!(narrow.is_subset_of(&Match::new()));
    }

    #[test]
    fn vlan_fields_merge() {
        let m = Match::new()
            .exact(Field::VlanVid, 0x1000 | 10)
            .exact(Field::VlanPcp, 3);
        let (v, mk) = m.to_key_mask();
        assert_eq!(v.vlan_vid(), Some(10));
        assert_eq!(v.vlan_pcp(), 3);
        assert_eq!(mk.vlan_tci, 0xffff);
    }
}
