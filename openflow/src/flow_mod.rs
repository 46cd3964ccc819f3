//! FLOW_MOD (`struct ofp_flow_mod`, 56 bytes including the 8-byte match header) and
//! FLOW_REMOVED (`struct ofp_flow_removed`, also 56 bytes including the match header).
//!
//! Both keep the match as an [`OxmField`] list and FLOW_MOD keeps its instructions as a wire-order
//! list, so nothing is lost between decode and encode. Unknown commands and flag bits are refused
//! here with the FLOW_MOD_FAILED codes, since a switch must not half-understand a modification.

use crate::error::DecodeError;
use crate::header::{Put, Reader};
use crate::instruction::{decode_instructions, encode_instructions, Instruction};
use crate::oxm::{decode_match, encode_match, OxmField};

/// OFPFF_SEND_FLOW_REM.
pub const OFPFF_SEND_FLOW_REM: u16 = 1 << 0;
/// OFPFF_CHECK_OVERLAP.
pub const OFPFF_CHECK_OVERLAP: u16 = 1 << 1;
/// OFPFF_RESET_COUNTS.
pub const OFPFF_RESET_COUNTS: u16 = 1 << 2;
/// OFPFF_NO_PKT_COUNTS.
pub const OFPFF_NO_PKT_COUNTS: u16 = 1 << 3;
/// OFPFF_NO_BYT_COUNTS.
pub const OFPFF_NO_BYT_COUNTS: u16 = 1 << 4;
/// Every flag OpenFlow 1.3 defines.
pub const OFPFF_ALL: u16 = 0x1f;

/// Table id meaning "all tables" (delete / stats).
pub const OFPTT_ALL: u8 = 0xff;
/// Highest table id.
pub const OFPTT_MAX: u8 = 0xfe;
/// Group id wildcard ("any group").
pub const OFPG_ANY: u32 = 0xffff_ffff;
/// Group id meaning all groups (GROUP_MOD delete).
pub const OFPG_ALL: u32 = 0xffff_fffc;
/// Highest ordinary group id.
pub const OFPG_MAX: u32 = 0xffff_ff00;

/// FLOW_MOD command (`enum ofp_flow_mod_command`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FlowModCommand {
    /// OFPFC_ADD.
    Add = 0,
    /// OFPFC_MODIFY.
    Modify = 1,
    /// OFPFC_MODIFY_STRICT.
    ModifyStrict = 2,
    /// OFPFC_DELETE.
    Delete = 3,
    /// OFPFC_DELETE_STRICT.
    DeleteStrict = 4,
}

impl FlowModCommand {
    /// The command for a wire value.
    pub fn from_u8(v: u8) -> Option<FlowModCommand> {
        Some(match v {
            0 => FlowModCommand::Add,
            1 => FlowModCommand::Modify,
            2 => FlowModCommand::ModifyStrict,
            3 => FlowModCommand::Delete,
            4 => FlowModCommand::DeleteStrict,
            _ => return None,
        })
    }
}

/// An OFPT_FLOW_MOD.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowMod {
    /// Opaque controller cookie.
    pub cookie: u64,
    /// Cookie bits that must match (modify/delete).
    pub cookie_mask: u64,
    /// Table (OFPTT_ALL for delete).
    pub table_id: u8,
    /// Command.
    pub command: FlowModCommand,
    /// Idle timeout in seconds (0 = none).
    pub idle_timeout: u16,
    /// Hard timeout in seconds (0 = none).
    pub hard_timeout: u16,
    /// Priority.
    pub priority: u16,
    /// Buffered packet to apply to, or OFP_NO_BUFFER.
    pub buffer_id: u32,
    /// Delete filter: output port (OFPP_ANY = no filter).
    pub out_port: u32,
    /// Delete filter: output group (OFPG_ANY = no filter).
    pub out_group: u32,
    /// OFPFF_* flags.
    pub flags: u16,
    /// The match, as received.
    pub matches: Vec<OxmField>,
    /// Instructions, as received.
    pub instructions: Vec<Instruction>,
}

impl FlowMod {
    /// Decode the body (after the header).
    pub fn decode(r: &mut Reader<'_>) -> Result<FlowMod, DecodeError> {
        let cookie = r.u64()?;
        let cookie_mask = r.u64()?;
        let table_id = r.u8()?;
        let cmd = r.u8()?;
        let idle_timeout = r.u16()?;
        let hard_timeout = r.u16()?;
        let priority = r.u16()?;
        let buffer_id = r.u32()?;
        let out_port = r.u32()?;
        let out_group = r.u32()?;
        let flags = r.u16()?;
        r.skip(2)?;
        let command = FlowModCommand::from_u8(cmd).ok_or(DecodeError::FlowModBadCommand(cmd))?;
        if flags & !OFPFF_ALL != 0 {
            return Err(DecodeError::FlowModBadFlags(flags));
        }
        let matches = decode_match(r)?;
        let instructions = decode_instructions(r.rest())?;
        Ok(FlowMod {
            cookie,
            cookie_mask,
            table_id,
            command,
            idle_timeout,
            hard_timeout,
            priority,
            buffer_id,
            out_port,
            out_group,
            flags,
            matches,
            instructions,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.cookie);
        out.put_u64(self.cookie_mask);
        out.put_u8(self.table_id);
        out.put_u8(self.command as u8);
        out.put_u16(self.idle_timeout);
        out.put_u16(self.hard_timeout);
        out.put_u16(self.priority);
        out.put_u32(self.buffer_id);
        out.put_u32(self.out_port);
        out.put_u32(self.out_group);
        out.put_u16(self.flags);
        out.put_zeros(2);
        encode_match(&self.matches, out);
        encode_instructions(&self.instructions, out);
    }
}

/// Why a flow was removed (`enum ofp_flow_removed_reason`).
pub mod removed_reason {
    /// OFPRR_IDLE_TIMEOUT.
    pub const IDLE_TIMEOUT: u8 = 0;
    /// OFPRR_HARD_TIMEOUT.
    pub const HARD_TIMEOUT: u8 = 1;
    /// OFPRR_DELETE.
    pub const DELETE: u8 = 2;
    /// OFPRR_GROUP_DELETE.
    pub const GROUP_DELETE: u8 = 3;
}

/// An OFPT_FLOW_REMOVED.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowRemoved {
    /// The flow's cookie.
    pub cookie: u64,
    /// The flow's priority.
    pub priority: u16,
    /// See [`removed_reason`].
    pub reason: u8,
    /// Table the flow was in.
    pub table_id: u8,
    /// Lifetime, seconds part.
    pub duration_sec: u32,
    /// Lifetime, nanoseconds beyond `duration_sec`.
    pub duration_nsec: u32,
    /// The flow's idle timeout.
    pub idle_timeout: u16,
    /// The flow's hard timeout.
    pub hard_timeout: u16,
    /// Packets matched.
    pub packet_count: u64,
    /// Bytes matched.
    pub byte_count: u64,
    /// The flow's match.
    pub matches: Vec<OxmField>,
}

impl FlowRemoved {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<FlowRemoved, DecodeError> {
        let fr = FlowRemoved {
            cookie: r.u64()?,
            priority: r.u16()?,
            reason: r.u8()?,
            table_id: r.u8()?,
            duration_sec: r.u32()?,
            duration_nsec: r.u32()?,
            idle_timeout: r.u16()?,
            hard_timeout: r.u16()?,
            packet_count: r.u64()?,
            byte_count: r.u64()?,
            matches: decode_match(r)?,
        };
        if !r.is_empty() {
            return Err(DecodeError::BadLen);
        }
        Ok(fr)
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.cookie);
        out.put_u16(self.priority);
        out.put_u8(self.reason);
        out.put_u8(self.table_id);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
        out.put_u16(self.idle_timeout);
        out.put_u16(self.hard_timeout);
        out.put_u64(self.packet_count);
        out.put_u64(self.byte_count);
        encode_match(&self.matches, out);
    }
}
