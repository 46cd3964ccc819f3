//! MULTIPART_REQUEST / MULTIPART_REPLY (`struct ofp_multipart_request/reply`: 16 bytes, then a
//! body whose layout depends on the multipart type).
//!
//! Request and reply bodies are two enums keyed by the same type numbers; list-valued replies
//! hold `Vec`s of entries. A reply body can be longer than the 64 KiB an OpenFlow message may
//! carry, so [`MultipartReplyBody::split`] cuts list bodies into chunks that fit; every chunk but
//! the last is then sent with [`OFPMPF_REPLY_MORE`].

pub mod flow;
pub mod stats;
pub mod table_features;

use crate::error::DecodeError;
use crate::header::{Put, Reader};
use crate::port::Port;
use flow::{AggregateStats, FlowStats, FlowStatsRequest, TableStats};
use stats::{
    Desc, GroupDesc, GroupFeatures, GroupStats, MeterConfig, MeterFeatures, MeterStats, PortStats,
    QueueStats,
};
use table_features::TableFeatures;

/// Request flag: more request parts follow.
pub const OFPMPF_REQ_MORE: u16 = 1;
/// Reply flag: more reply parts follow.
pub const OFPMPF_REPLY_MORE: u16 = 1;

/// Multipart type numbers (`enum ofp_multipart_type`).
pub mod multipart_type {
    /// OFPMP_DESC.
    pub const DESC: u16 = 0;
    /// OFPMP_FLOW.
    pub const FLOW: u16 = 1;
    /// OFPMP_AGGREGATE.
    pub const AGGREGATE: u16 = 2;
    /// OFPMP_TABLE.
    pub const TABLE: u16 = 3;
    /// OFPMP_PORT_STATS.
    pub const PORT_STATS: u16 = 4;
    /// OFPMP_QUEUE.
    pub const QUEUE: u16 = 5;
    /// OFPMP_GROUP.
    pub const GROUP: u16 = 6;
    /// OFPMP_GROUP_DESC.
    pub const GROUP_DESC: u16 = 7;
    /// OFPMP_GROUP_FEATURES.
    pub const GROUP_FEATURES: u16 = 8;
    /// OFPMP_METER.
    pub const METER: u16 = 9;
    /// OFPMP_METER_CONFIG.
    pub const METER_CONFIG: u16 = 10;
    /// OFPMP_METER_FEATURES.
    pub const METER_FEATURES: u16 = 11;
    /// OFPMP_TABLE_FEATURES.
    pub const TABLE_FEATURES: u16 = 12;
    /// OFPMP_PORT_DESC.
    pub const PORT_DESC: u16 = 13;
    /// OFPMP_EXPERIMENTER.
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// A multipart request body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MultipartRequestBody {
    /// OFPMP_DESC.
    Desc,
    /// OFPMP_FLOW.
    Flow(FlowStatsRequest),
    /// OFPMP_AGGREGATE.
    Aggregate(FlowStatsRequest),
    /// OFPMP_TABLE.
    Table,
    /// OFPMP_PORT_STATS for a port (OFPP_ANY = all).
    PortStats(u32),
    /// OFPMP_QUEUE for (port, queue) (OFPP_ANY / OFPQ_ALL = all).
    Queue {
        /// Port filter.
        port_no: u32,
        /// Queue filter.
        queue_id: u32,
    },
    /// OFPMP_GROUP for a group (OFPG_ALL = all).
    Group(u32),
    /// OFPMP_GROUP_DESC.
    GroupDesc,
    /// OFPMP_GROUP_FEATURES.
    GroupFeatures,
    /// OFPMP_METER for a meter (OFPM_ALL = all).
    Meter(u32),
    /// OFPMP_METER_CONFIG for a meter (OFPM_ALL = all).
    MeterConfig(u32),
    /// OFPMP_METER_FEATURES.
    MeterFeatures,
    /// OFPMP_TABLE_FEATURES: empty to query, non-empty to set.
    TableFeatures(Vec<TableFeatures>),
    /// OFPMP_PORT_DESC.
    PortDesc,
    /// OFPMP_EXPERIMENTER, opaque.
    Experimenter {
        /// Experimenter id.
        experimenter: u32,
        /// Experimenter type.
        exp_type: u32,
        /// Body.
        data: Vec<u8>,
    },
}

/// An OFPT_MULTIPART_REQUEST.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MultipartRequest {
    /// OFPMPF_REQ_* flags.
    pub flags: u16,
    /// Body.
    pub body: MultipartRequestBody,
}

/// A multipart reply body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum MultipartReplyBody {
    Desc(Desc),
    Flow(Vec<FlowStats>),
    Aggregate(AggregateStats),
    Table(Vec<TableStats>),
    PortStats(Vec<PortStats>),
    Queue(Vec<QueueStats>),
    Group(Vec<GroupStats>),
    GroupDesc(Vec<GroupDesc>),
    GroupFeatures(GroupFeatures),
    Meter(Vec<MeterStats>),
    MeterConfig(Vec<MeterConfig>),
    MeterFeatures(MeterFeatures),
    TableFeatures(Vec<TableFeatures>),
    PortDesc(Vec<Port>),
    /// OFPMP_EXPERIMENTER, opaque.
    Experimenter {
        /// Experimenter id.
        experimenter: u32,
        /// Experimenter type.
        exp_type: u32,
        /// Body.
        data: Vec<u8>,
    },
}

/// An OFPT_MULTIPART_REPLY.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MultipartReply {
    /// OFPMPF_REPLY_* flags.
    pub flags: u16,
    /// Body.
    pub body: MultipartReplyBody,
}

fn list<T>(
    r: &mut Reader<'_>,
    f: impl Fn(&mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut v = Vec::new();
    while !r.is_empty() {
        v.push(f(r)?);
    }
    Ok(v)
}

fn id_pad(r: &mut Reader<'_>) -> Result<u32, DecodeError> {
    let id = r.u32()?;
    r.skip(4)?;
    Ok(id)
}

fn put_id_pad(out: &mut Vec<u8>, id: u32) {
    out.put_u32(id);
    out.put_zeros(4);
}

impl MultipartRequest {
    /// The multipart type number.
    pub fn type_code(&self) -> u16 {
        use multipart_type as t;
        use MultipartRequestBody as B;
        match &self.body {
            B::Desc => t::DESC,
            B::Flow(_) => t::FLOW,
            B::Aggregate(_) => t::AGGREGATE,
            B::Table => t::TABLE,
            B::PortStats(_) => t::PORT_STATS,
            B::Queue { .. } => t::QUEUE,
            B::Group(_) => t::GROUP,
            B::GroupDesc => t::GROUP_DESC,
            B::GroupFeatures => t::GROUP_FEATURES,
            B::Meter(_) => t::METER,
            B::MeterConfig(_) => t::METER_CONFIG,
            B::MeterFeatures => t::METER_FEATURES,
            B::TableFeatures(_) => t::TABLE_FEATURES,
            B::PortDesc => t::PORT_DESC,
            B::Experimenter { .. } => t::EXPERIMENTER,
        }
    }

    /// Decode the message body (after the OpenFlow header).
    pub fn decode(r: &mut Reader<'_>) -> Result<MultipartRequest, DecodeError> {
        use multipart_type as t;
        use MultipartRequestBody as B;
        let typ = r.u16()?;
        let flags = r.u16()?;
        r.skip(4)?;
        let body = match typ {
            t::DESC => B::Desc,
            t::FLOW => B::Flow(FlowStatsRequest::decode(r)?),
            t::AGGREGATE => B::Aggregate(FlowStatsRequest::decode(r)?),
            t::TABLE => B::Table,
            t::PORT_STATS => B::PortStats(id_pad(r)?),
            t::QUEUE => B::Queue {
                port_no: r.u32()?,
                queue_id: r.u32()?,
            },
            t::GROUP => B::Group(id_pad(r)?),
            t::GROUP_DESC => B::GroupDesc,
            t::GROUP_FEATURES => B::GroupFeatures,
            t::METER => B::Meter(id_pad(r)?),
            t::METER_CONFIG => B::MeterConfig(id_pad(r)?),
            t::METER_FEATURES => B::MeterFeatures,
            t::TABLE_FEATURES => B::TableFeatures(list(r, TableFeatures::decode)?),
            t::PORT_DESC => B::PortDesc,
            t::EXPERIMENTER => B::Experimenter {
                experimenter: r.u32()?,
                exp_type: r.u32()?,
                data: r.rest().to_vec(),
            },
            other => return Err(DecodeError::BadMultipart(other)),
        };
        if !r.is_empty() {
            return Err(DecodeError::BadLen);
        }
        Ok(MultipartRequest { flags, body })
    }

    /// Append the message body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use MultipartRequestBody as B;
        out.put_u16(self.type_code());
        out.put_u16(self.flags);
        out.put_zeros(4);
        match &self.body {
            B::Desc
            | B::Table
            | B::GroupDesc
            | B::GroupFeatures
            | B::MeterFeatures
            | B::PortDesc => {}
            B::Flow(f) | B::Aggregate(f) => f.encode(out),
            B::PortStats(id) | B::Group(id) | B::Meter(id) | B::MeterConfig(id) => {
                put_id_pad(out, *id)
            }
            B::Queue { port_no, queue_id } => {
                out.put_u32(*port_no);
                out.put_u32(*queue_id);
            }
            B::TableFeatures(v) => v.iter().for_each(|t| t.encode(out)),
            B::Experimenter {
                experimenter,
                exp_type,
                data,
            } => {
                out.put_u32(*experimenter);
                out.put_u32(*exp_type);
                out.extend_from_slice(data);
            }
        }
    }
}

impl MultipartReplyBody {
    /// The multipart type number.
    pub fn type_code(&self) -> u16 {
        use multipart_type as t;
        use MultipartReplyBody as B;
        match self {
            B::Desc(_) => t::DESC,
            B::Flow(_) => t::FLOW,
            B::Aggregate(_) => t::AGGREGATE,
            B::Table(_) => t::TABLE,
            B::PortStats(_) => t::PORT_STATS,
            B::Queue(_) => t::QUEUE,
            B::Group(_) => t::GROUP,
            B::GroupDesc(_) => t::GROUP_DESC,
            B::GroupFeatures(_) => t::GROUP_FEATURES,
            B::Meter(_) => t::METER,
            B::MeterConfig(_) => t::METER_CONFIG,
            B::MeterFeatures(_) => t::METER_FEATURES,
            B::TableFeatures(_) => t::TABLE_FEATURES,
            B::PortDesc(_) => t::PORT_DESC,
            B::Experimenter { .. } => t::EXPERIMENTER,
        }
    }

    /// Append the body (without the 8-byte multipart header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        use MultipartReplyBody as B;
        match self {
            B::Desc(d) => d.encode(out),
            B::Flow(v) => v.iter().for_each(|e| e.encode(out)),
            B::Aggregate(a) => a.encode(out),
            B::Table(v) => v.iter().for_each(|e| e.encode(out)),
            B::PortStats(v) => v.iter().for_each(|e| e.encode(out)),
            B::Queue(v) => v.iter().for_each(|e| e.encode(out)),
            B::Group(v) => v.iter().for_each(|e| e.encode(out)),
            B::GroupDesc(v) => v.iter().for_each(|e| e.encode(out)),
            B::GroupFeatures(g) => g.encode(out),
            B::Meter(v) => v.iter().for_each(|e| e.encode(out)),
            B::MeterConfig(v) => v.iter().for_each(|e| e.encode(out)),
            B::MeterFeatures(m) => m.encode(out),
            B::TableFeatures(v) => v.iter().for_each(|e| e.encode(out)),
            B::PortDesc(v) => v.iter().for_each(|e| e.encode(out)),
            B::Experimenter {
                experimenter,
                exp_type,
                data,
            } => {
                out.put_u32(*experimenter);
                out.put_u32(*exp_type);
                out.extend_from_slice(data);
            }
        }
    }

    /// Cut a list body into bodies whose encoding is at most `max_body` bytes each (one entry
    /// per chunk at least, however large). Single-valued bodies come back unchanged. Use
    /// [`MAX_REPLY_BODY`] to fit OpenFlow's 64 KiB message limit.
    pub fn split(self, max_body: usize) -> Vec<MultipartReplyBody> {
        use MultipartReplyBody as B;
        match self {
            B::Flow(v) => chunk(v, max_body, FlowStats::encode, B::Flow),
            B::Table(v) => chunk(v, max_body, TableStats::encode, B::Table),
            B::PortStats(v) => chunk(v, max_body, PortStats::encode, B::PortStats),
            B::Queue(v) => chunk(v, max_body, QueueStats::encode, B::Queue),
            B::Group(v) => chunk(v, max_body, GroupStats::encode, B::Group),
            B::GroupDesc(v) => chunk(v, max_body, GroupDesc::encode, B::GroupDesc),
            B::Meter(v) => chunk(v, max_body, MeterStats::encode, B::Meter),
            B::MeterConfig(v) => chunk(v, max_body, MeterConfig::encode, B::MeterConfig),
            B::TableFeatures(v) => chunk(v, max_body, TableFeatures::encode, B::TableFeatures),
            B::PortDesc(v) => chunk(v, max_body, Port::encode, B::PortDesc),
            other => vec![other],
        }
    }
}

/// Largest reply body that fits one message (65535 minus the 16-byte header, rounded down to 8).
pub const MAX_REPLY_BODY: usize = 65_512;

fn chunk<T>(
    v: Vec<T>,
    max: usize,
    enc: fn(&T, &mut Vec<u8>),
    wrap: fn(Vec<T>) -> MultipartReplyBody,
) -> Vec<MultipartReplyBody> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut cur_len = 0;
    let mut scratch = Vec::new();
    for e in v {
        scratch.clear();
        enc(&e, &mut scratch);
        if !cur.is_empty() && cur_len + scratch.len() > max {
            out.push(wrap(std::mem::take(&mut cur)));
            cur_len = 0;
        }
        cur_len += scratch.len();
        cur.push(e);
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(wrap(cur));
    }
    out
}

impl MultipartReply {
    /// Decode the message body (after the OpenFlow header).
    pub fn decode(r: &mut Reader<'_>) -> Result<MultipartReply, DecodeError> {
        use multipart_type as t;
        use MultipartReplyBody as B;
        let typ = r.u16()?;
        let flags = r.u16()?;
        r.skip(4)?;
        let body = match typ {
            t::DESC => B::Desc(Desc::decode(r)?),
            t::FLOW => B::Flow(list(r, FlowStats::decode)?),
            t::AGGREGATE => B::Aggregate(AggregateStats::decode(r)?),
            t::TABLE => B::Table(list(r, TableStats::decode)?),
            t::PORT_STATS => B::PortStats(list(r, PortStats::decode)?),
            t::QUEUE => B::Queue(list(r, QueueStats::decode)?),
            t::GROUP => B::Group(list(r, GroupStats::decode)?),
            t::GROUP_DESC => B::GroupDesc(list(r, GroupDesc::decode)?),
            t::GROUP_FEATURES => B::GroupFeatures(GroupFeatures::decode(r)?),
            t::METER => B::Meter(list(r, MeterStats::decode)?),
            t::METER_CONFIG => B::MeterConfig(list(r, MeterConfig::decode)?),
            t::METER_FEATURES => B::MeterFeatures(MeterFeatures::decode(r)?),
            t::TABLE_FEATURES => B::TableFeatures(list(r, TableFeatures::decode)?),
            t::PORT_DESC => B::PortDesc(list(r, Port::decode)?),
            t::EXPERIMENTER => B::Experimenter {
                experimenter: r.u32()?,
                exp_type: r.u32()?,
                data: r.rest().to_vec(),
            },
            other => return Err(DecodeError::BadMultipart(other)),
        };
        if !r.is_empty() {
            return Err(DecodeError::BadLen);
        }
        Ok(MultipartReply { flags, body })
    }

    /// Append the message body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.body.type_code());
        out.put_u16(self.flags);
        out.put_zeros(4);
        self.body.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_the_limit() {
        let ports: Vec<Port> = (1..=100)
            .map(|i| Port {
                port_no: i,
                ..Port::default()
            })
            .collect();
        let parts = MultipartReplyBody::PortDesc(ports.clone()).split(64 * 30);
        assert_eq!(parts.len(), 4);
        let mut joined = Vec::new();
        for p in parts {
            let MultipartReplyBody::PortDesc(v) = p else {
                panic!("wrong body")
            };
            assert!(v.len() <= 30);
            joined.extend(v);
        }
        assert_eq!(joined, ports);
        assert_eq!(
            MultipartReplyBody::PortDesc(vec![]).split(10),
            vec![MultipartReplyBody::PortDesc(vec![])]
        );
    }
}
