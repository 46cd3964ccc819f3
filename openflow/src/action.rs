//! OpenFlow 1.3 actions (`struct ofp_action_*`) as they appear on the wire.
//!
//! [`Action`] is the wire-level view: it keeps things the datapath cannot execute (TTL copies,
//! MPLS TTL, experimenter actions) so that a message can be decoded, inspected and re-encoded
//! byte for byte; [`crate::convert`] is where unsupported actions are refused. Structural checks
//! that do not need switch state happen here: lengths (multiples of 8, exact for fixed actions),
//! output ports that can never be valid, and set-field TLVs (no mask, value within width).

use crate::error::DecodeError;
use crate::header::{patch_len, Put, Reader};
use crate::oxm::{decode_oxm, encode_oxm, OxmField};
use flowtable::action::{OFPP_IN_PORT, OFPP_LOCAL, OFPP_MAX};
use flowtable::Field;

/// Action type numbers (`enum ofp_action_type`).
pub mod action_type {
    /// OFPAT_OUTPUT.
    pub const OUTPUT: u16 = 0;
    /// OFPAT_COPY_TTL_OUT.
    pub const COPY_TTL_OUT: u16 = 11;
    /// OFPAT_COPY_TTL_IN.
    pub const COPY_TTL_IN: u16 = 12;
    /// OFPAT_SET_MPLS_TTL.
    pub const SET_MPLS_TTL: u16 = 15;
    /// OFPAT_DEC_MPLS_TTL.
    pub const DEC_MPLS_TTL: u16 = 16;
    /// OFPAT_PUSH_VLAN.
    pub const PUSH_VLAN: u16 = 17;
    /// OFPAT_POP_VLAN.
    pub const POP_VLAN: u16 = 18;
    /// OFPAT_PUSH_MPLS.
    pub const PUSH_MPLS: u16 = 19;
    /// OFPAT_POP_MPLS.
    pub const POP_MPLS: u16 = 20;
    /// OFPAT_SET_QUEUE.
    pub const SET_QUEUE: u16 = 21;
    /// OFPAT_GROUP.
    pub const GROUP: u16 = 22;
    /// OFPAT_SET_NW_TTL.
    pub const SET_NW_TTL: u16 = 23;
    /// OFPAT_DEC_NW_TTL.
    pub const DEC_NW_TTL: u16 = 24;
    /// OFPAT_SET_FIELD.
    pub const SET_FIELD: u16 = 25;
    /// OFPAT_PUSH_PBB.
    pub const PUSH_PBB: u16 = 26;
    /// OFPAT_POP_PBB.
    pub const POP_PBB: u16 = 27;
    /// OFPAT_EXPERIMENTER.
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// `max_len` asking the switch to send the whole packet to the controller.
pub const OFPCML_NO_BUFFER: u16 = 0xffff;

/// One action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// OFPAT_OUTPUT.
    Output {
        /// Port (ordinary or reserved).
        port: u32,
        /// Bytes to send to the controller.
        max_len: u16,
    },
    /// OFPAT_COPY_TTL_OUT.
    CopyTtlOut,
    /// OFPAT_COPY_TTL_IN.
    CopyTtlIn,
    /// OFPAT_SET_MPLS_TTL.
    SetMplsTtl(u8),
    /// OFPAT_DEC_MPLS_TTL.
    DecMplsTtl,
    /// OFPAT_PUSH_VLAN with this ethertype.
    PushVlan(u16),
    /// OFPAT_POP_VLAN.
    PopVlan,
    /// OFPAT_PUSH_MPLS with this ethertype.
    PushMpls(u16),
    /// OFPAT_POP_MPLS with the ethertype of what follows the popped entry.
    PopMpls(u16),
    /// OFPAT_SET_QUEUE.
    SetQueue(u32),
    /// OFPAT_GROUP.
    Group(u32),
    /// OFPAT_SET_NW_TTL.
    SetNwTtl(u8),
    /// OFPAT_DEC_NW_TTL.
    DecNwTtl,
    /// OFPAT_SET_FIELD (never masked in 1.3).
    SetField {
        /// Field written.
        field: Field,
        /// Value written.
        value: u128,
    },
    /// OFPAT_EXPERIMENTER, kept opaque.
    Experimenter {
        /// Experimenter id.
        experimenter: u32,
        /// Bytes after the experimenter id (including any padding).
        data: Vec<u8>,
    },
}

/// True when `port` can ever be an output port (an ordinary port or a reserved one other than
/// ANY); whether the port exists is the switch's business.
pub fn valid_output_port(port: u32) -> bool {
    (port != 0 && port <= OFPP_MAX) || (OFPP_IN_PORT..=OFPP_LOCAL).contains(&port)
}

fn fixed(r: &mut Reader<'_>, len: usize, want: usize) -> Result<(), DecodeError> {
    if len != want {
        return Err(DecodeError::ActionBadLen);
    }
    r.skip(want - 4)
}

/// Decode one action from `r`.
pub fn decode_action(r: &mut Reader<'_>) -> Result<Action, DecodeError> {
    use action_type as t;
    let typ = r.u16()?;
    let len = usize::from(r.u16()?);
    if len < 8 || len % 8 != 0 {
        return Err(DecodeError::ActionBadLen);
    }
    let mut b = r.sub(len - 4, DecodeError::ActionBadLen)?;
    let a = match typ {
        t::OUTPUT => {
            if len != 16 {
                return Err(DecodeError::ActionBadLen);
            }
            let port = b.u32()?;
            let max_len = b.u16()?;
            b.skip(6)?;
            if !valid_output_port(port) {
                return Err(DecodeError::ActionBadOutPort(port));
            }
            Action::Output { port, max_len }
        }
        t::COPY_TTL_OUT => fixed(&mut b, len, 8).map(|_| Action::CopyTtlOut)?,
        t::COPY_TTL_IN => fixed(&mut b, len, 8).map(|_| Action::CopyTtlIn)?,
        t::DEC_MPLS_TTL => fixed(&mut b, len, 8).map(|_| Action::DecMplsTtl)?,
        t::POP_VLAN => fixed(&mut b, len, 8).map(|_| Action::PopVlan)?,
        t::DEC_NW_TTL => fixed(&mut b, len, 8).map(|_| Action::DecNwTtl)?,
        t::SET_MPLS_TTL | t::SET_NW_TTL => {
            if len != 8 {
                return Err(DecodeError::ActionBadLen);
            }
            let ttl = b.u8()?;
            b.skip(3)?;
            if typ == t::SET_MPLS_TTL {
                Action::SetMplsTtl(ttl)
            } else {
                Action::SetNwTtl(ttl)
            }
        }
        t::PUSH_VLAN | t::PUSH_MPLS | t::POP_MPLS => {
            if len != 8 {
                return Err(DecodeError::ActionBadLen);
            }
            let ethertype = b.u16()?;
            b.skip(2)?;
            match typ {
                t::PUSH_VLAN => Action::PushVlan(ethertype),
                t::PUSH_MPLS => Action::PushMpls(ethertype),
                _ => Action::PopMpls(ethertype),
            }
        }
        t::SET_QUEUE | t::GROUP => {
            if len != 8 {
                return Err(DecodeError::ActionBadLen);
            }
            let id = b.u32()?;
            if typ == t::SET_QUEUE {
                Action::SetQueue(id)
            } else {
                Action::Group(id)
            }
        }
        t::SET_FIELD => {
            let f: OxmField = decode_oxm(&mut b, true)?;
            // What is left must be padding that makes the action a multiple of 8 (under 8 bytes).
            if b.remaining() >= 8 {
                return Err(DecodeError::ActionBadSetLen);
            }
            Action::SetField {
                field: f.field,
                value: f.value,
            }
        }
        t::EXPERIMENTER => Action::Experimenter {
            experimenter: b.u32()?,
            data: b.rest().to_vec(),
        },
        other => return Err(DecodeError::ActionBadType(other)),
    };
    Ok(a)
}

/// Decode a packed action list that fills `b` exactly.
pub fn decode_actions(b: &[u8]) -> Result<Vec<Action>, DecodeError> {
    let mut r = Reader::new(b, DecodeError::ActionBadLen);
    let mut v = Vec::new();
    while !r.is_empty() {
        v.push(decode_action(&mut r)?);
    }
    Ok(v)
}

fn put_short(out: &mut Vec<u8>, typ: u16, arg: &[u8]) {
    out.put_u16(typ);
    out.put_u16(8);
    out.extend_from_slice(arg);
    out.put_zeros(4 - arg.len());
}

/// Append one action.
pub fn encode_action(a: &Action, out: &mut Vec<u8>) {
    use action_type as t;
    match a {
        Action::Output { port, max_len } => {
            out.put_u16(t::OUTPUT);
            out.put_u16(16);
            out.put_u32(*port);
            out.put_u16(*max_len);
            out.put_zeros(6);
        }
        Action::CopyTtlOut => put_short(out, t::COPY_TTL_OUT, &[]),
        Action::CopyTtlIn => put_short(out, t::COPY_TTL_IN, &[]),
        Action::SetMplsTtl(ttl) => put_short(out, t::SET_MPLS_TTL, &[*ttl]),
        Action::DecMplsTtl => put_short(out, t::DEC_MPLS_TTL, &[]),
        Action::PushVlan(e) => put_short(out, t::PUSH_VLAN, &e.to_be_bytes()),
        Action::PopVlan => put_short(out, t::POP_VLAN, &[]),
        Action::PushMpls(e) => put_short(out, t::PUSH_MPLS, &e.to_be_bytes()),
        Action::PopMpls(e) => put_short(out, t::POP_MPLS, &e.to_be_bytes()),
        Action::SetQueue(q) => put_short(out, t::SET_QUEUE, &q.to_be_bytes()),
        Action::Group(g) => put_short(out, t::GROUP, &g.to_be_bytes()),
        Action::SetNwTtl(ttl) => put_short(out, t::SET_NW_TTL, &[*ttl]),
        Action::DecNwTtl => put_short(out, t::DEC_NW_TTL, &[]),
        Action::SetField { field, value } => {
            let start = out.len();
            out.put_u16(t::SET_FIELD);
            out.put_u16(0);
            encode_oxm(&OxmField::exact(*field, *value), out);
            out.pad8_from(start);
            patch_len(out, start + 2, start);
        }
        Action::Experimenter { experimenter, data } => {
            let start = out.len();
            out.put_u16(t::EXPERIMENTER);
            out.put_u16(0);
            out.put_u32(*experimenter);
            out.extend_from_slice(data);
            out.pad8_from(start);
            patch_len(out, start + 2, start);
        }
    }
}

/// Append a packed action list.
pub fn encode_actions(actions: &[Action], out: &mut Vec<u8>) {
    for a in actions {
        encode_action(a, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowtable::action::{OFPP_ANY, OFPP_CONTROLLER, OFPP_NORMAL};

    fn round_trip(a: Action, bytes: &[u8]) {
        let mut out = Vec::new();
        encode_action(&a, &mut out);
        assert_eq!(out, bytes, "{a:?}");
        assert_eq!(decode_actions(bytes), Ok(vec![a]));
    }

    #[test]
    fn fixed_layouts() {
        round_trip(
            Action::Output {
                port: OFPP_CONTROLLER,
                max_len: 0xffe5,
            },
            &[
                0, 0, 0, 16, 0xff, 0xff, 0xff, 0xfd, 0xff, 0xe5, 0, 0, 0, 0, 0, 0,
            ],
        );
        round_trip(Action::PushVlan(0x8100), &[0, 17, 0, 8, 0x81, 0, 0, 0]);
        round_trip(Action::PopVlan, &[0, 18, 0, 8, 0, 0, 0, 0]);
        round_trip(Action::CopyTtlOut, &[0, 11, 0, 8, 0, 0, 0, 0]);
        round_trip(Action::CopyTtlIn, &[0, 12, 0, 8, 0, 0, 0, 0]);
        round_trip(Action::SetMplsTtl(9), &[0, 15, 0, 8, 9, 0, 0, 0]);
        round_trip(Action::SetQueue(3), &[0, 21, 0, 8, 0, 0, 0, 3]);
        round_trip(Action::Group(0x10), &[0, 22, 0, 8, 0, 0, 0, 0x10]);
        round_trip(Action::SetNwTtl(64), &[0, 23, 0, 8, 64, 0, 0, 0]);
        round_trip(Action::DecNwTtl, &[0, 24, 0, 8, 0, 0, 0, 0]);
        round_trip(
            Action::Experimenter {
                experimenter: 0x2320,
                data: vec![0, 0x25, 0, 0, 0, 0, 0, 0],
            },
            &[
                0xff, 0xff, 0, 16, 0, 0, 0x23, 0x20, 0, 0x25, 0, 0, 0, 0, 0, 0,
            ],
        );
    }

    #[test]
    fn set_field_is_padded() {
        // set_field vlan_vid=0x1005: 4 + 4 + 2 = 10 -> 16.
        round_trip(
            Action::SetField {
                field: Field::VlanVid,
                value: 0x1005,
            },
            &[0, 25, 0, 16, 0x80, 0, 0x0c, 2, 0x10, 0x05, 0, 0, 0, 0, 0, 0],
        );
        // set_field eth_dst: 4 + 4 + 6 = 14 -> 16.
        round_trip(
            Action::SetField {
                field: Field::EthDst,
                value: 0x0000_0102_0304_0506,
            },
            &[0, 25, 0, 16, 0x80, 0, 0x06, 6, 1, 2, 3, 4, 5, 6, 0, 0],
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            decode_actions(&[0, 0, 0, 16, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(DecodeError::ActionBadOutPort(OFPP_ANY))
        );
        assert_eq!(
            decode_actions(&[0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(DecodeError::ActionBadOutPort(0))
        );
        assert_eq!(
            decode_actions(&[0, 0, 0, 8, 0, 0, 0, 1]),
            Err(DecodeError::ActionBadLen)
        );
        assert_eq!(
            decode_actions(&[0, 99, 0, 8, 0, 0, 0, 1]),
            Err(DecodeError::ActionBadType(99))
        );
        assert_eq!(
            decode_actions(&[0, 18, 0, 12, 0, 0, 0, 0]),
            Err(DecodeError::ActionBadLen)
        );
        assert_eq!(
            decode_actions(&[0, 18, 0, 16, 0, 0, 0, 0]),
            Err(DecodeError::ActionBadLen)
        );
        // masked set_field
        assert_eq!(
            decode_actions(&[0, 25, 0, 16, 0x80, 0, 0x0d, 4, 0x10, 0x05, 0x1f, 0xff, 0, 0, 0, 0]),
            Err(DecodeError::ActionBadSetArgument)
        );
        assert!(valid_output_port(OFPP_NORMAL));
        assert!(valid_output_port(1));
    }
}
