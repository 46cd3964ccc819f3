//! Conversion between wire types and flowtable's pipeline types.
//!
//! This is where "well-formed" becomes "executable": OpenFlow prerequisites are checked through
//! [`flowtable::Match::validate`] (mapped to `OFPBMC_BAD_PREREQ` / `DUP_FIELD`), actions the
//! datapath cannot perform (TTL copies, MPLS push/pop and TTL decrement, experimenter) are
//! refused with the matching BAD_ACTION code, and instructions are folded into flowtable's
//! one-slot-per-kind
//! [`Instructions`]. The reverse direction renders pipeline state for flow-stats replies and
//! FLOW_REMOVED; `set_nw_ttl` is carried as `SetField(IpTtl)` in flowtable and converted back to
//! the standard action so the round trip stays within OpenFlow 1.3 proper (`set_mpls_ttl` the
//! same way, as `SetField(MplsTtl)`). `set_field` on a field that is not settable (see
//! [`Field::settable`]) is refused with `OFPBAC_BAD_SET_TYPE`.

use crate::action::Action as OfAction;
use crate::error::DecodeError;
use crate::flow_mod::{FlowMod, OFPG_MAX};
use crate::instruction::Instruction;
use crate::oxm::OxmField;
use flowtable::action::{Action as FtAction, Instructions};
use flowtable::field::{ETH_TYPE_QINQ, ETH_TYPE_VLAN};
use flowtable::{Field, Match, MatchError};

/// Build a validated flowtable match from OXM fields (prerequisites and duplicates checked).
pub fn to_flowtable_match(fields: &[OxmField]) -> Result<Match, DecodeError> {
    let mut m = Match::new();
    for f in fields {
        if f.value & !f.field.full_mask() != 0 {
            return Err(DecodeError::MatchBadValue(f.field.name()));
        }
        if let Some(mask) = f.mask {
            if f.value & !mask != 0 {
                return Err(DecodeError::MatchBadWildcards(f.field.name()));
            }
        }
        m.push(f.field, f.value, f.mask.unwrap_or(f.field.full_mask()));
    }
    m.validate().map_err(|e| match e {
        MatchError::Duplicate(n) => DecodeError::MatchDupField(n),
        MatchError::Prerequisite { field, .. } => DecodeError::MatchBadPrereq(field),
        MatchError::BadValue(n) => DecodeError::MatchBadValue(n),
    })?;
    Ok(m)
}

/// Render a flowtable match as OXM fields (exact fields without a mask, in the match's order).
pub fn from_flowtable_match(m: &Match) -> Vec<OxmField> {
    m.fields()
        .iter()
        .map(|f| {
            if f.mask == f.field.full_mask() {
                OxmField::exact(f.field, f.value)
            } else {
                OxmField::masked(f.field, f.value, f.mask)
            }
        })
        .collect()
}

/// Convert one wire action to a pipeline action.
pub fn to_flowtable_action(a: &OfAction) -> Result<FtAction, DecodeError> {
    Ok(match *a {
        OfAction::Output { port, max_len } => FtAction::Output { port, max_len },
        OfAction::PushVlan(tpid) => {
            if tpid != ETH_TYPE_VLAN && tpid != ETH_TYPE_QINQ {
                return Err(DecodeError::ActionBadArgument);
            }
            FtAction::PushVlan(tpid)
        }
        OfAction::PopVlan => FtAction::PopVlan,
        OfAction::SetQueue(q) => FtAction::SetQueue(q),
        OfAction::Group(g) => {
            if g > OFPG_MAX {
                return Err(DecodeError::ActionBadOutGroup(g));
            }
            FtAction::Group(g)
        }
        OfAction::SetNwTtl(ttl) => FtAction::SetField(Field::IpTtl, ttl.into()),
        OfAction::DecNwTtl => FtAction::DecTtl,
        OfAction::SetField { field, value } => {
            if !field.settable() {
                return Err(DecodeError::ActionBadSetType);
            }
            if value & !field.full_mask() != 0 {
                return Err(DecodeError::ActionBadSetArgument);
            }
            FtAction::SetField(field, value)
        }
        OfAction::CopyTtlOut => FtAction::CopyTtlOut,
        OfAction::CopyTtlIn => FtAction::CopyTtlIn,
        OfAction::SetMplsTtl(ttl) => FtAction::SetField(Field::MplsTtl, ttl.into()),
        OfAction::DecMplsTtl => FtAction::DecMplsTtl,
        OfAction::PushMpls(et) => {
            if !flowtable::field::is_mpls(et) {
                return Err(DecodeError::ActionBadArgument);
            }
            FtAction::PushMpls(et)
        }
        OfAction::PopMpls(et) => FtAction::PopMpls(et),
        OfAction::Experimenter { experimenter, .. } => {
            return Err(DecodeError::ActionBadExperimenter(experimenter))
        }
    })
}

/// Convert one pipeline action to its wire form.
pub fn from_flowtable_action(a: &FtAction) -> OfAction {
    match *a {
        FtAction::Output { port, max_len } => OfAction::Output { port, max_len },
        FtAction::PushVlan(tpid) => OfAction::PushVlan(tpid),
        FtAction::PopVlan => OfAction::PopVlan,
        FtAction::SetField(Field::IpTtl, v) => OfAction::SetNwTtl(v as u8),
        FtAction::SetField(Field::MplsTtl, v) => OfAction::SetMplsTtl(v as u8),
        FtAction::SetField(field, value) => OfAction::SetField { field, value },
        FtAction::DecTtl => OfAction::DecNwTtl,
        FtAction::PushMpls(et) => OfAction::PushMpls(et),
        FtAction::PopMpls(et) => OfAction::PopMpls(et),
        FtAction::DecMplsTtl => OfAction::DecMplsTtl,
        FtAction::CopyTtlIn => OfAction::CopyTtlIn,
        FtAction::CopyTtlOut => OfAction::CopyTtlOut,
        FtAction::Group(g) => OfAction::Group(g),
        FtAction::SetQueue(q) => OfAction::SetQueue(q),
    }
}

/// Convert a wire action list.
pub fn to_flowtable_actions(list: &[OfAction]) -> Result<Vec<FtAction>, DecodeError> {
    list.iter().map(to_flowtable_action).collect()
}

/// Convert a pipeline action list.
pub fn from_flowtable_actions(list: &[FtAction]) -> Vec<OfAction> {
    list.iter().map(from_flowtable_action).collect()
}

/// Fold a wire instruction list into flowtable's [`Instructions`].
pub fn to_flowtable_instructions(list: &[Instruction]) -> Result<Instructions, DecodeError> {
    let mut out = Instructions::default();
    let mut seen = 0u8;
    for i in list {
        let bit = 1u8 << (i.type_code() & 7);
        if i.type_code() <= 6 {
            if seen & bit != 0 {
                return Err(DecodeError::InstructionDuplicate(i.type_code()));
            }
            seen |= bit;
        }
        match i {
            Instruction::GotoTable(t) => out.goto = Some(*t),
            Instruction::WriteMetadata { metadata, mask } => {
                out.write_metadata = Some((*metadata, *mask))
            }
            Instruction::WriteActions(a) => out.write = to_flowtable_actions(a)?,
            Instruction::ApplyActions(a) => out.apply = to_flowtable_actions(a)?,
            Instruction::ClearActions => out.clear = true,
            Instruction::Meter(m) => out.meter = Some(*m),
            Instruction::Experimenter { .. } => {
                return Err(DecodeError::InstructionUnsupported("experimenter"))
            }
        }
    }
    Ok(out)
}

/// Render flowtable instructions in OpenFlow execution order (meter, apply, clear, write,
/// write-metadata, goto).
pub fn from_flowtable_instructions(ins: &Instructions) -> Vec<Instruction> {
    let mut v = Vec::new();
    if let Some(m) = ins.meter {
        v.push(Instruction::Meter(m));
    }
    if !ins.apply.is_empty() {
        v.push(Instruction::ApplyActions(from_flowtable_actions(
            &ins.apply,
        )));
    }
    if ins.clear {
        v.push(Instruction::ClearActions);
    }
    if !ins.write.is_empty() {
        v.push(Instruction::WriteActions(from_flowtable_actions(
            &ins.write,
        )));
    }
    if let Some((metadata, mask)) = ins.write_metadata {
        v.push(Instruction::WriteMetadata { metadata, mask });
    }
    if let Some(t) = ins.goto {
        v.push(Instruction::GotoTable(t));
    }
    v
}

/// Check that a rule in `table` may `goto_table` where it says: a later table that exists.
pub fn check_goto(table: u8, n_tables: u8, ins: &Instructions) -> Result<(), DecodeError> {
    match ins.goto {
        Some(t) if t <= table || t >= n_tables => Err(DecodeError::InstructionBadTableId(t)),
        _ => Ok(()),
    }
}

/// The match and instructions of a FLOW_MOD, converted and validated.
pub fn flow_mod_parts(fm: &FlowMod) -> Result<(Match, Instructions), DecodeError> {
    Ok((
        to_flowtable_match(&fm.matches)?,
        to_flowtable_instructions(&fm.instructions)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowtable::action::OFPP_NORMAL;
    use flowtable::field::{ETH_TYPE_IPV4, IPPROTO_TCP};

    #[test]
    fn match_prereqs_map_to_bad_prereq() {
        let tcp_only = [OxmField::exact(Field::TcpDst, 80)];
        assert_eq!(
            to_flowtable_match(&tcp_only),
            Err(DecodeError::MatchBadPrereq("tcp_dst"))
        );
        let ok = [
            OxmField::exact(Field::EthType, ETH_TYPE_IPV4.into()),
            OxmField::exact(Field::IpProto, IPPROTO_TCP.into()),
            OxmField::masked(Field::Ipv4Dst, 0x0a00_0000, 0xff00_0000),
            OxmField::exact(Field::TcpDst, 80),
        ];
        let m = to_flowtable_match(&ok).unwrap();
        assert_eq!(m.fields().len(), 4);
        assert_eq!(from_flowtable_match(&m), ok);
        let dup = [
            OxmField::exact(Field::InPort, 1),
            OxmField::exact(Field::InPort, 2),
        ];
        assert_eq!(
            to_flowtable_match(&dup),
            Err(DecodeError::MatchDupField("in_port"))
        );
    }

    #[test]
    fn vlan_pcp_needs_vlan_present() {
        let m = [OxmField::exact(Field::VlanPcp, 3)];
        assert_eq!(
            to_flowtable_match(&m),
            Err(DecodeError::MatchBadPrereq("vlan_pcp"))
        );
        let m = [
            OxmField::masked(Field::VlanVid, 0x1000, 0x1000),
            OxmField::exact(Field::VlanPcp, 3),
        ];
        assert!(to_flowtable_match(&m).is_ok());
    }

    #[test]
    fn instructions_both_ways() {
        let wire = vec![
            Instruction::Meter(2),
            Instruction::ApplyActions(vec![
                OfAction::PushVlan(0x8100),
                OfAction::SetField {
                    field: Field::VlanVid,
                    value: 0x1000 | 10,
                },
                OfAction::SetNwTtl(5),
                OfAction::DecNwTtl,
                OfAction::Output {
                    port: OFPP_NORMAL,
                    max_len: 0,
                },
            ]),
            Instruction::ClearActions,
            Instruction::WriteActions(vec![OfAction::Group(3), OfAction::SetQueue(1)]),
            Instruction::WriteMetadata {
                metadata: 1,
                mask: 1,
            },
            Instruction::GotoTable(4),
        ];
        let ft = to_flowtable_instructions(&wire).unwrap();
        assert_eq!(ft.meter, Some(2));
        assert_eq!(ft.apply[2], FtAction::SetField(Field::IpTtl, 5));
        assert_eq!(ft.goto, Some(4));
        assert!(ft.clear);
        assert_eq!(from_flowtable_instructions(&ft), wire);
        assert_eq!(check_goto(1, 8, &ft), Ok(()));
        assert_eq!(
            check_goto(4, 8, &ft),
            Err(DecodeError::InstructionBadTableId(4))
        );
        assert_eq!(
            check_goto(1, 4, &ft),
            Err(DecodeError::InstructionBadTableId(4))
        );
    }

    #[test]
    fn mpls_actions_round_trip() {
        let wire = vec![
            OfAction::PushMpls(0x8847),
            OfAction::SetMplsTtl(9),
            OfAction::DecMplsTtl,
            OfAction::CopyTtlIn,
            OfAction::CopyTtlOut,
            OfAction::PopMpls(0x0800),
        ];
        let ft = to_flowtable_actions(&wire).unwrap();
        assert_eq!(
            ft,
            vec![
                FtAction::PushMpls(0x8847),
                FtAction::SetField(Field::MplsTtl, 9),
                FtAction::DecMplsTtl,
                FtAction::CopyTtlIn,
                FtAction::CopyTtlOut,
                FtAction::PopMpls(0x0800),
            ]
        );
        assert_eq!(from_flowtable_actions(&ft), wire);
        let mut bytes = Vec::new();
        crate::action::encode_actions(&wire, &mut bytes);
        assert_eq!(bytes.len(), 8 * wire.len());
        assert_eq!(&bytes[..8], &[0, 19, 0, 8, 0x88, 0x47, 0, 0]);
        assert_eq!(crate::action::decode_actions(&bytes).unwrap(), wire);
    }

    #[test]
    fn unsupported_actions_are_refused() {
        let bad = |a: OfAction| to_flowtable_instructions(&[Instruction::ApplyActions(vec![a])]);
        assert_eq!(
            bad(OfAction::PushMpls(0x0800)),
            Err(DecodeError::ActionBadArgument)
        );
        assert_eq!(
            bad(OfAction::PushVlan(0x0800)),
            Err(DecodeError::ActionBadArgument)
        );
        assert_eq!(
            bad(OfAction::Group(0xffff_fffc)),
            Err(DecodeError::ActionBadOutGroup(0xffff_fffc))
        );
        assert_eq!(
            bad(OfAction::Experimenter {
                experimenter: 0x2320,
                data: vec![]
            }),
            Err(DecodeError::ActionBadExperimenter(0x2320))
        );
        let twice = [Instruction::GotoTable(1), Instruction::GotoTable(2)];
        assert_eq!(
            to_flowtable_instructions(&twice),
            Err(DecodeError::InstructionDuplicate(1))
        );
    }
}
