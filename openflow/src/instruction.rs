//! OpenFlow 1.3 instructions (`struct ofp_instruction_*`): what a flow entry does with a packet.
//!
//! Instructions are kept as an ordered list in wire order so flow-stats replies re-encode exactly;
//! the "at most one of each type" rule is checked when decoding (it is structural), while mapping
//! to flowtable's one-slot-per-kind [`flowtable::Instructions`] happens in [`crate::convert`].

use crate::action::{decode_actions, encode_actions, Action};
use crate::error::DecodeError;
use crate::header::{patch_len, Put, Reader};

/// Instruction type numbers (`enum ofp_instruction_type`).
pub mod instruction_type {
    /// OFPIT_GOTO_TABLE.
    pub const GOTO_TABLE: u16 = 1;
    /// OFPIT_WRITE_METADATA.
    pub const WRITE_METADATA: u16 = 2;
    /// OFPIT_WRITE_ACTIONS.
    pub const WRITE_ACTIONS: u16 = 3;
    /// OFPIT_APPLY_ACTIONS.
    pub const APPLY_ACTIONS: u16 = 4;
    /// OFPIT_CLEAR_ACTIONS.
    pub const CLEAR_ACTIONS: u16 = 5;
    /// OFPIT_METER.
    pub const METER: u16 = 6;
    /// OFPIT_EXPERIMENTER.
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// One instruction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Instruction {
    /// OFPIT_GOTO_TABLE.
    GotoTable(u8),
    /// OFPIT_WRITE_METADATA.
    WriteMetadata {
        /// Value.
        metadata: u64,
        /// Which bits to write.
        mask: u64,
    },
    /// OFPIT_WRITE_ACTIONS.
    WriteActions(Vec<Action>),
    /// OFPIT_APPLY_ACTIONS.
    ApplyActions(Vec<Action>),
    /// OFPIT_CLEAR_ACTIONS.
    ClearActions,
    /// OFPIT_METER.
    Meter(u32),
    /// OFPIT_EXPERIMENTER, kept opaque.
    Experimenter {
        /// Experimenter id.
        experimenter: u32,
        /// Bytes after the experimenter id.
        data: Vec<u8>,
    },
}

impl Instruction {
    /// The wire type number.
    pub fn type_code(&self) -> u16 {
        use instruction_type as t;
        match self {
            Instruction::GotoTable(_) => t::GOTO_TABLE,
            Instruction::WriteMetadata { .. } => t::WRITE_METADATA,
            Instruction::WriteActions(_) => t::WRITE_ACTIONS,
            Instruction::ApplyActions(_) => t::APPLY_ACTIONS,
            Instruction::ClearActions => t::CLEAR_ACTIONS,
            Instruction::Meter(_) => t::METER,
            Instruction::Experimenter { .. } => t::EXPERIMENTER,
        }
    }
}

fn want(len: usize, n: usize) -> Result<(), DecodeError> {
    if len == n {
        Ok(())
    } else {
        Err(DecodeError::InstructionBadLen)
    }
}

/// Decode one instruction.
pub fn decode_instruction(r: &mut Reader<'_>) -> Result<Instruction, DecodeError> {
    use instruction_type as t;
    let typ = r.u16()?;
    let len = usize::from(r.u16()?);
    if len < 8 || len % 8 != 0 {
        return Err(DecodeError::InstructionBadLen);
    }
    let mut b = r.sub(len - 4, DecodeError::InstructionBadLen)?;
    Ok(match typ {
        t::GOTO_TABLE => {
            want(len, 8)?;
            Instruction::GotoTable(b.u8()?)
        }
        t::WRITE_METADATA => {
            want(len, 24)?;
            b.skip(4)?;
            Instruction::WriteMetadata {
                metadata: b.u64()?,
                mask: b.u64()?,
            }
        }
        t::WRITE_ACTIONS | t::APPLY_ACTIONS => {
            b.skip(4)?;
            let actions = decode_actions(b.rest())?;
            if typ == t::WRITE_ACTIONS {
                Instruction::WriteActions(actions)
            } else {
                Instruction::ApplyActions(actions)
            }
        }
        t::CLEAR_ACTIONS => {
            want(len, 8)?;
            Instruction::ClearActions
        }
        t::METER => {
            want(len, 8)?;
            Instruction::Meter(b.u32()?)
        }
        t::EXPERIMENTER => Instruction::Experimenter {
            experimenter: b.u32()?,
            data: b.rest().to_vec(),
        },
        other => return Err(DecodeError::InstructionUnknown(other)),
    })
}

/// Decode an instruction list filling `b` exactly; a type appearing twice is refused.
pub fn decode_instructions(b: &[u8]) -> Result<Vec<Instruction>, DecodeError> {
    let mut r = Reader::new(b, DecodeError::InstructionBadLen);
    let mut v: Vec<Instruction> = Vec::new();
    while !r.is_empty() {
        let i = decode_instruction(&mut r)?;
        let t = i.type_code();
        if t != instruction_type::EXPERIMENTER && v.iter().any(|j| j.type_code() == t) {
            return Err(DecodeError::InstructionDuplicate(t));
        }
        v.push(i);
    }
    Ok(v)
}

/// Append one instruction.
pub fn encode_instruction(i: &Instruction, out: &mut Vec<u8>) {
    let start = out.len();
    out.put_u16(i.type_code());
    out.put_u16(0);
    match i {
        Instruction::GotoTable(t) => {
            out.put_u8(*t);
            out.put_zeros(3);
        }
        Instruction::WriteMetadata { metadata, mask } => {
            out.put_zeros(4);
            out.put_u64(*metadata);
            out.put_u64(*mask);
        }
        Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
            out.put_zeros(4);
            encode_actions(a, out);
        }
        Instruction::ClearActions => out.put_zeros(4),
        Instruction::Meter(m) => out.put_u32(*m),
        Instruction::Experimenter { experimenter, data } => {
            out.put_u32(*experimenter);
            out.extend_from_slice(data);
            out.pad8_from(start);
        }
    }
    patch_len(out, start + 2, start);
}

/// Append an instruction list.
pub fn encode_instructions(list: &[Instruction], out: &mut Vec<u8>) {
    for i in list {
        encode_instruction(i, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_round_trip() {
        let list = vec![
            Instruction::Meter(5),
            Instruction::ApplyActions(vec![Action::PopVlan]),
            Instruction::ClearActions,
            Instruction::WriteActions(vec![Action::Group(1)]),
            Instruction::WriteMetadata {
                metadata: 0x11,
                mask: 0xff,
            },
            Instruction::GotoTable(3),
        ];
        #[rustfmt::skip]
        let bytes: Vec<u8> = vec![
            0, 6, 0, 8, 0, 0, 0, 5,
            0, 4, 0, 16, 0, 0, 0, 0, 0, 18, 0, 8, 0, 0, 0, 0,
            0, 5, 0, 8, 0, 0, 0, 0,
            0, 3, 0, 16, 0, 0, 0, 0, 0, 22, 0, 8, 0, 0, 0, 1,
            0, 2, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0, 0, 0, 0, 0, 0, 0, 0xff,
            0, 1, 0, 8, 3, 0, 0, 0,
        ];
        let mut out = Vec::new();
        encode_instructions(&list, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(decode_instructions(&bytes), Ok(list));
    }

    #[test]
    fn errors() {
        assert_eq!(
            decode_instructions(&[0, 9, 0, 8, 0, 0, 0, 0]),
            Err(DecodeError::InstructionUnknown(9))
        );
        assert_eq!(
            decode_instructions(&[0, 1, 0, 16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(DecodeError::InstructionBadLen)
        );
        assert_eq!(
            decode_instructions(&[0, 1, 0, 8, 1, 0, 0, 0, 0, 1, 0, 8, 2, 0, 0, 0]),
            Err(DecodeError::InstructionDuplicate(1))
        );
        assert_eq!(
            decode_instructions(&[0, 1, 0, 8, 1]),
            Err(DecodeError::InstructionBadLen)
        );
    }
}
