//! PACKET_IN (`struct ofp_packet_in`: 32 bytes including the match header, then the match, 2
//! bytes of padding and the frame) and PACKET_OUT (`struct ofp_packet_out`: 24 bytes, actions,
//! frame).
//!
//! Frames are carried as owned byte vectors: these messages cross the control channel, far from
//! the per-packet path, and owning the bytes keeps the message types free of lifetimes.

use crate::action::{decode_actions, encode_actions, Action};
use crate::error::DecodeError;
use crate::header::{patch_len, Put, Reader};
use crate::oxm::{decode_match, encode_match, OxmField};

/// Why a packet was sent to the controller (`enum ofp_packet_in_reason`).
pub mod packet_in_reason {
    /// OFPR_NO_MATCH: table miss.
    pub const NO_MATCH: u8 = 0;
    /// OFPR_ACTION: output to CONTROLLER.
    pub const ACTION: u8 = 1;
    /// OFPR_INVALID_TTL.
    pub const INVALID_TTL: u8 = 2;
}

/// An OFPT_PACKET_IN.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PacketIn {
    /// Buffer id, or OFP_NO_BUFFER.
    pub buffer_id: u32,
    /// Full length of the frame (may exceed `data`).
    pub total_len: u16,
    /// See [`packet_in_reason`].
    pub reason: u8,
    /// Table the packet was looked up in.
    pub table_id: u8,
    /// Cookie of the flow that sent the packet (all ones on a miss).
    pub cookie: u64,
    /// Pipeline fields (in_port at least).
    pub matches: Vec<OxmField>,
    /// The (possibly truncated) frame.
    pub data: Vec<u8>,
}

impl PacketIn {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<PacketIn, DecodeError> {
        let buffer_id = r.u32()?;
        let total_len = r.u16()?;
        let reason = r.u8()?;
        let table_id = r.u8()?;
        let cookie = r.u64()?;
        let matches = decode_match(r)?;
        r.skip(2)?;
        Ok(PacketIn {
            buffer_id,
            total_len,
            reason,
            table_id,
            cookie,
            matches,
            data: r.rest().to_vec(),
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.buffer_id);
        out.put_u16(self.total_len);
        out.put_u8(self.reason);
        out.put_u8(self.table_id);
        out.put_u64(self.cookie);
        encode_match(&self.matches, out);
        out.put_zeros(2);
        out.extend_from_slice(&self.data);
    }
}

/// An OFPT_PACKET_OUT.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PacketOut {
    /// Buffer id, or OFP_NO_BUFFER when `data` carries the frame.
    pub buffer_id: u32,
    /// Ingress port for the actions (OFPP_CONTROLLER when none).
    pub in_port: u32,
    /// Actions to apply.
    pub actions: Vec<Action>,
    /// The frame (empty when buffered).
    pub data: Vec<u8>,
}

impl PacketOut {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<PacketOut, DecodeError> {
        let buffer_id = r.u32()?;
        let in_port = r.u32()?;
        let actions_len = usize::from(r.u16()?);
        r.skip(6)?;
        let actions = decode_actions(r.bytes(actions_len)?)?;
        Ok(PacketOut {
            buffer_id,
            in_port,
            actions,
            data: r.rest().to_vec(),
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.buffer_id);
        out.put_u32(self.in_port);
        let len_at = out.len();
        out.put_u16(0);
        out.put_zeros(6);
        let start = out.len();
        encode_actions(&self.actions, out);
        patch_len(out, len_at, start);
        out.extend_from_slice(&self.data);
    }
}
