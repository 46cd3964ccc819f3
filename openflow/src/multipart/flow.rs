//! Flow-related multipart bodies: the flow/aggregate stats request (`struct
//! ofp_flow_stats_request`, 40 bytes including the match header), the flow-stats entry (`struct
//! ofp_flow_stats`, 56 bytes including the match header), the aggregate reply (24 bytes) and the
//! table-stats entry (24 bytes).
//!
//! A flow-stats entry carries the match and instructions exactly as the flow was added, so a
//! controller that compares dumps against what it sent sees identical bytes.

use crate::error::DecodeError;
use crate::header::{patch_len, Put, Reader};
use crate::instruction::{decode_instructions, encode_instructions, Instruction};
use crate::oxm::{decode_match, encode_match, OxmField};

/// Body of OFPMP_FLOW and OFPMP_AGGREGATE requests.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowStatsRequest {
    /// Table, or OFPTT_ALL.
    pub table_id: u8,
    /// Output port filter, or OFPP_ANY.
    pub out_port: u32,
    /// Output group filter, or OFPG_ANY.
    pub out_group: u32,
    /// Cookie filter value.
    pub cookie: u64,
    /// Cookie filter mask (0 = any).
    pub cookie_mask: u64,
    /// Match filter (non-strict).
    pub matches: Vec<OxmField>,
}

impl FlowStatsRequest {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<FlowStatsRequest, DecodeError> {
        let table_id = r.u8()?;
        r.skip(3)?;
        let out_port = r.u32()?;
        let out_group = r.u32()?;
        r.skip(4)?;
        let req = FlowStatsRequest {
            table_id,
            out_port,
            out_group,
            cookie: r.u64()?,
            cookie_mask: r.u64()?,
            matches: decode_match(r)?,
        };
        if !r.is_empty() {
            return Err(DecodeError::BadLen);
        }
        Ok(req)
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.table_id);
        out.put_zeros(3);
        out.put_u32(self.out_port);
        out.put_u32(self.out_group);
        out.put_zeros(4);
        out.put_u64(self.cookie);
        out.put_u64(self.cookie_mask);
        encode_match(&self.matches, out);
    }
}

/// One entry of an OFPMP_FLOW reply.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowStats {
    /// Table.
    pub table_id: u8,
    /// Age, seconds.
    pub duration_sec: u32,
    /// Age, nanoseconds beyond `duration_sec`.
    pub duration_nsec: u32,
    /// Priority.
    pub priority: u16,
    /// Idle timeout.
    pub idle_timeout: u16,
    /// Hard timeout.
    pub hard_timeout: u16,
    /// OFPFF_* flags.
    pub flags: u16,
    /// Cookie.
    pub cookie: u64,
    /// Packets matched.
    pub packet_count: u64,
    /// Bytes matched.
    pub byte_count: u64,
    /// Match as added.
    pub matches: Vec<OxmField>,
    /// Instructions as added.
    pub instructions: Vec<Instruction>,
}

impl FlowStats {
    /// Decode one entry.
    pub fn decode(r: &mut Reader<'_>) -> Result<FlowStats, DecodeError> {
        let len = usize::from(r.u16()?);
        if len < 56 {
            return Err(DecodeError::BadLen);
        }
        let mut b = r.sub(len - 2, DecodeError::BadLen)?;
        let table_id = b.u8()?;
        b.skip(1)?;
        let duration_sec = b.u32()?;
        let duration_nsec = b.u32()?;
        let priority = b.u16()?;
        let idle_timeout = b.u16()?;
        let hard_timeout = b.u16()?;
        let flags = b.u16()?;
        b.skip(4)?;
        Ok(FlowStats {
            table_id,
            duration_sec,
            duration_nsec,
            priority,
            idle_timeout,
            hard_timeout,
            flags,
            cookie: b.u64()?,
            packet_count: b.u64()?,
            byte_count: b.u64()?,
            matches: decode_match(&mut b)?,
            instructions: decode_instructions(b.rest())?,
        })
    }

    /// Append one entry.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u8(self.table_id);
        out.put_u8(0);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
        out.put_u16(self.priority);
        out.put_u16(self.idle_timeout);
        out.put_u16(self.hard_timeout);
        out.put_u16(self.flags);
        out.put_zeros(4);
        out.put_u64(self.cookie);
        out.put_u64(self.packet_count);
        out.put_u64(self.byte_count);
        encode_match(&self.matches, out);
        encode_instructions(&self.instructions, out);
        patch_len(out, start, start);
    }
}

/// Body of an OFPMP_AGGREGATE reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AggregateStats {
    /// Packets matched by the selected flows.
    pub packet_count: u64,
    /// Bytes matched.
    pub byte_count: u64,
    /// Number of flows selected.
    pub flow_count: u32,
}

impl AggregateStats {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<AggregateStats, DecodeError> {
        let a = AggregateStats {
            packet_count: r.u64()?,
            byte_count: r.u64()?,
            flow_count: r.u32()?,
        };
        r.skip(4)?;
        Ok(a)
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.packet_count);
        out.put_u64(self.byte_count);
        out.put_u32(self.flow_count);
        out.put_zeros(4);
    }
}

/// One entry of an OFPMP_TABLE reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TableStats {
    /// Table.
    pub table_id: u8,
    /// Flows in the table.
    pub active_count: u32,
    /// Packets looked up.
    pub lookup_count: u64,
    /// Packets that hit a flow.
    pub matched_count: u64,
}

impl TableStats {
    /// Decode one entry.
    pub fn decode(r: &mut Reader<'_>) -> Result<TableStats, DecodeError> {
        let table_id = r.u8()?;
        r.skip(3)?;
        Ok(TableStats {
            table_id,
            active_count: r.u32()?,
            lookup_count: r.u64()?,
            matched_count: r.u64()?,
        })
    }

    /// Append one entry.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.table_id);
        out.put_zeros(3);
        out.put_u32(self.active_count);
        out.put_u64(self.lookup_count);
        out.put_u64(self.matched_count);
    }
}
