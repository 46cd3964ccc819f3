//! Port VLAN modes: ingress admission and the egress tag a port wants.
//!
//! The semantics are PRODUCT.md's port types. An *access* port belongs to one VLAN: frames enter and
//! leave it untagged, and a tagged frame arriving on it is dropped (otherwise a VM could hop into
//! any VLAN by tagging its own frames). A *trunk* carries an allowed set of VLANs tagged, plus an
//! optional native VLAN that travels untagged. A port with no VLAN mode behaves like an OVS port
//! without `tag`/`trunks`: it accepts everything and carries every VLAN tagged (VLAN 0 = untagged).
//!
//! Admission runs before the OpenFlow pipeline (a port property, like OVS's VLAN handling, but
//! enforced for every packet, not only NORMAL ones); the egress tag is used when NORMAL or flooding
//! picks output ports.

use crate::config::VlanMode;
use crate::drops::DropReason;

/// The VLAN a frame belongs to on ingress, or why it is refused.
///
/// `tag` is the frame's outer VLAN id (`None` when untagged). Returns the logical VLAN (0 means
/// "untagged, no VLAN" on a mode-less port).
#[inline]
pub fn admit(mode: &VlanMode, tag: Option<u16>) -> Result<u16, DropReason> {
    match (mode, tag) {
        (VlanMode::None, t) => Ok(t.unwrap_or(0)),
        (VlanMode::Access { .. }, Some(_)) => Err(DropReason::VlanTaggedOnAccess),
        (VlanMode::Access { tag }, None) => Ok(*tag),
        (VlanMode::Trunk { allowed, .. }, Some(v)) => {
            if allowed.contains(v) {
                Ok(v)
            } else {
                Err(DropReason::VlanNotAllowed)
            }
        }
        (
            VlanMode::Trunk {
                native: Some(n), ..
            },
            None,
        ) => Ok(*n),
        (VlanMode::Trunk { native: None, .. }, None) => Err(DropReason::UntaggedOnTrunk),
    }
}

/// Whether a port is a member of `vlan`, and if so, whether the frame leaves it tagged:
/// `None` = not a member, `Some(None)` = untagged, `Some(Some(vid))` = tagged with `vid`.
#[inline]
pub fn egress(mode: &VlanMode, vlan: u16) -> Option<Option<u16>> {
    match mode {
        VlanMode::None => Some((vlan != 0).then_some(vlan)),
        VlanMode::Access { tag } => (*tag == vlan).then_some(None),
        VlanMode::Trunk { allowed, native } => {
            if *native == Some(vlan) {
                Some(None)
            } else if vlan != 0 && allowed.contains(vlan) {
                Some(Some(vlan))
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::VlanSet;

    fn trunk(list: &str, native: Option<u16>) -> VlanMode {
        VlanMode::Trunk {
            allowed: list.parse::<VlanSet>().unwrap(),
            native,
        }
    }

    #[test]
    fn access_admission() {
        let m = VlanMode::Access { tag: 10 };
        assert_eq!(admit(&m, None), Ok(10));
        assert_eq!(admit(&m, Some(10)), Err(DropReason::VlanTaggedOnAccess));
        assert_eq!(admit(&m, Some(20)), Err(DropReason::VlanTaggedOnAccess));
    }

    #[test]
    fn trunk_admission() {
        let m = trunk("10,20-30", None);
        assert_eq!(admit(&m, Some(25)), Ok(25));
        assert_eq!(admit(&m, Some(11)), Err(DropReason::VlanNotAllowed));
        assert_eq!(admit(&m, None), Err(DropReason::UntaggedOnTrunk));
        let m = trunk("10", Some(5));
        assert_eq!(admit(&m, None), Ok(5));
    }

    #[test]
    fn egress_membership() {
        assert_eq!(egress(&VlanMode::Access { tag: 10 }, 10), Some(None));
        assert_eq!(egress(&VlanMode::Access { tag: 10 }, 20), None);
        let t = trunk("10,20", Some(5));
        assert_eq!(egress(&t, 10), Some(Some(10)));
        assert_eq!(egress(&t, 5), Some(None));
        assert_eq!(egress(&t, 30), None);
        assert_eq!(egress(&VlanMode::None, 0), Some(None));
        assert_eq!(egress(&VlanMode::None, 7), Some(Some(7)));
    }
}
