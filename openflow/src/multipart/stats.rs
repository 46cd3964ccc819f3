//! Reply bodies for switch description, port/queue counters, groups and meters.
//!
//! Fixed-size entries (`ofp_port_stats` 112 bytes, `ofp_queue_stats` 40, `ofp_group_features`
//! 40, `ofp_meter_features` 16, `ofp_desc` 1056) are plain field lists; variable entries
//! (`ofp_group_stats`, `ofp_group_desc`, `ofp_meter_stats`, `ofp_meter_config`) carry their own
//! length, which is written by back-patching and checked against the nested lists on decode.

use crate::error::DecodeError;
use crate::group::{decode_buckets, encode_buckets, Bucket, GroupType};
use crate::header::{get_str, patch_len, put_str, Put, Reader};
use crate::meter::{decode_bands, encode_bands, MeterBand};

/// Body of an OFPMP_DESC reply (`struct ofp_desc`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Desc {
    /// Manufacturer (256 bytes on the wire).
    pub mfr_desc: String,
    /// Hardware description (256).
    pub hw_desc: String,
    /// Software description (256).
    pub sw_desc: String,
    /// Serial number (32).
    pub serial_num: String,
    /// Datapath description (256).
    pub dp_desc: String,
}

const DESC_STR_LEN: usize = 256;
const SERIAL_NUM_LEN: usize = 32;

impl Desc {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Desc, DecodeError> {
        Ok(Desc {
            mfr_desc: get_str(r.bytes(DESC_STR_LEN)?),
            hw_desc: get_str(r.bytes(DESC_STR_LEN)?),
            sw_desc: get_str(r.bytes(DESC_STR_LEN)?),
            serial_num: get_str(r.bytes(SERIAL_NUM_LEN)?),
            dp_desc: get_str(r.bytes(DESC_STR_LEN)?),
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_str(out, &self.mfr_desc, DESC_STR_LEN);
        put_str(out, &self.hw_desc, DESC_STR_LEN);
        put_str(out, &self.sw_desc, DESC_STR_LEN);
        put_str(out, &self.serial_num, SERIAL_NUM_LEN);
        put_str(out, &self.dp_desc, DESC_STR_LEN);
    }
}

/// One entry of an OFPMP_PORT_STATS reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct PortStats {
    pub port_no: u32,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_frame_err: u64,
    pub rx_over_err: u64,
    pub rx_crc_err: u64,
    pub collisions: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

impl PortStats {
    /// Decode one entry.
    pub fn decode(r: &mut Reader<'_>) -> Result<PortStats, DecodeError> {
        let port_no = r.u32()?;
        r.skip(4)?;
        Ok(PortStats {
            port_no,
            rx_packets: r.u64()?,
            tx_packets: r.u64()?,
            rx_bytes: r.u64()?,
            tx_bytes: r.u64()?,
            rx_dropped: r.u64()?,
            tx_dropped: r.u64()?,
            rx_errors: r.u64()?,
            tx_errors: r.u64()?,
            rx_frame_err: r.u64()?,
            rx_over_err: r.u64()?,
            rx_crc_err: r.u64()?,
            collisions: r.u64()?,
            duration_sec: r.u32()?,
            duration_nsec: r.u32()?,
        })
    }

    /// Append one entry.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port_no);
        out.put_zeros(4);
        for v in [
            self.rx_packets,
            self.tx_packets,
            self.rx_bytes,
            self.tx_bytes,
            self.rx_dropped,
            self.tx_dropped,
            self.rx_errors,
            self.tx_errors,
            self.rx_frame_err,
            self.rx_over_err,
            self.rx_crc_err,
            self.collisions,
        ] {
            out.put_u64(v);
        }
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
    }
}

/// One entry of an OFPMP_QUEUE reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub struct QueueStats {
    pub port_no: u32,
    pub queue_id: u32,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

impl QueueStats {
    /// Decode one entry.
    pub fn decode(r: &mut Reader<'_>) -> Result<QueueStats, DecodeError> {
        Ok(QueueStats {
            port_no: r.u32()?,
            queue_id: r.u32()?,
            tx_bytes: r.u64()?,
            tx_packets: r.u64()?,
            tx_errors: r.u64()?,
            duration_sec: r.u32()?,
            duration_nsec: r.u32()?,
        })
    }

    /// Append one entry.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port_no);
        out.put_u32(self.queue_id);
        out.put_u64(self.tx_bytes);
        out.put_u64(self.tx_packets);
        out.put_u64(self.tx_errors);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
    }
}

/// One entry of an OFPMP_GROUP reply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct GroupStats {
    /// Group id.
    pub group_id: u32,
    /// Flows and groups forwarding to this group.
    pub ref_count: u32,
    /// Packets processed.
    pub packet_count: u64,
    /// Bytes processed.
    pub byte_count: u64,
    /// Age, seconds.
    pub duration_sec: u32,
    /// Age, nanoseconds beyond `duration_sec`.
    pub duration_nsec: u32,
    /// Per-bucket (packets, bytes).
    pub bucket_stats: Vec<(u64, u64)>,
}

impl GroupStats {
    /// Decode one entry.
    pub fn decode(r: &mut Reader<'_>) -> Result<GroupStats, DecodeError> {
        let len = usize::from(r.u16()?);
        if len < 40 || (len - 40) % 16 != 0 {
            return Err(DecodeError::BadLen);
        }
        let mut b = r.sub(len - 2, DecodeError::BadLen)?;
        b.skip(2)?;
        let group_id = b.u32()?;
        let ref_count = b.u32()?;
        b.skip(4)?;
        let mut g = GroupStats {
            group_id,
            ref_count,
            packet_count: b.u64()?,
            byte_count: b.u64()?,
            duration_sec: b.u32()?,
            duration_nsec: b.u32()?,
            bucket_stats: Vec::new(),
        };
        while !b.is_empty() {
            g.bucket_stats.push((b.u64()?, b.u64()?));
        }
        Ok(g)
    }

    /// Append one entry.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_zeros(2);
        out.put_u32(self.group_id);
        out.put_u32(self.ref_count);
        out.put_zeros(4);
        out.put_u64(self.packet_count);
        out.put_u64(self.byte_count);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
        for (p, b) in &self.bucket_stats {
            out.put_u64(*p);
            out.put_u64(*b);
        }
        patch_len(out, start, start);
    }
}

/// One entry of an OFPMP_GROUP_DESC reply.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupDesc {
    /// Group type.
    pub group_type: GroupType,
    /// Group id.
    pub group_id: u32,
    /// Buckets.
    pub buckets: Vec<Bucket>,
}

impl GroupDesc {
    /// Decode one entry.
    pub fn decode(r: &mut Reader<'_>) -> Result<GroupDesc, DecodeError> {
        let len = usize::from(r.u16()?);
        if len < 8 {
            return Err(DecodeError::BadLen);
        }
        let mut b = r.sub(len - 2, DecodeError::BadLen)?;
        let group_type = GroupType::from_u8(b.u8()?)?;
        b.skip(1)?;
        Ok(GroupDesc {
            group_type,
            group_id: b.u32()?,
            buckets: decode_buckets(b.rest())?,
        })
    }

    /// Append one entry.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u8(self.group_type as u8);
        out.put_u8(0);
        out.put_u32(self.group_id);
        encode_buckets(&self.buckets, out);
        patch_len(out, start, start);
    }
}

/// Body of an OFPMP_GROUP_FEATURES reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GroupFeatures {
    /// Bitmap of supported group types (bit n = type n).
    pub types: u32,
    /// OFPGFC_* capability bits.
    pub capabilities: u32,
    /// Maximum groups per type.
    pub max_groups: [u32; 4],
    /// Supported actions per type (bit n = action type n).
    pub actions: [u32; 4],
}

impl GroupFeatures {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<GroupFeatures, DecodeError> {
        let mut g = GroupFeatures {
            types: r.u32()?,
            capabilities: r.u32()?,
            ..GroupFeatures::default()
        };
        for m in &mut g.max_groups {
            *m = r.u32()?;
        }
        for a in &mut g.actions {
            *a = r.u32()?;
        }
        Ok(g)
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.types);
        out.put_u32(self.capabilities);
        for v in self.max_groups.iter().chain(&self.actions) {
            out.put_u32(*v);
        }
    }
}

/// One entry of an OFPMP_METER reply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MeterStats {
    /// Meter id.
    pub meter_id: u32,
    /// Flows using the meter.
    pub flow_count: u32,
    /// Packets into the meter.
    pub packet_in_count: u64,
    /// Bytes into the meter.
    pub byte_in_count: u64,
    /// Age, seconds.
    pub duration_sec: u32,
    /// Age, nanoseconds beyond `duration_sec`.
    pub duration_nsec: u32,
    /// Per-band (packets, bytes) over the band's rate.
    pub band_stats: Vec<(u64, u64)>,
}

impl MeterStats {
    /// Decode one entry.
    pub fn decode(r: &mut Reader<'_>) -> Result<MeterStats, DecodeError> {
        let meter_id = r.u32()?;
        let len = usize::from(r.u16()?);
        if len < 40 || (len - 40) % 16 != 0 {
            return Err(DecodeError::BadLen);
        }
        let mut b = r.sub(len - 6, DecodeError::BadLen)?;
        b.skip(6)?;
        let mut m = MeterStats {
            meter_id,
            flow_count: b.u32()?,
            packet_in_count: b.u64()?,
            byte_in_count: b.u64()?,
            duration_sec: b.u32()?,
            duration_nsec: b.u32()?,
            band_stats: Vec::new(),
        };
        while !b.is_empty() {
            m.band_stats.push((b.u64()?, b.u64()?));
        }
        Ok(m)
    }

    /// Append one entry.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u32(self.meter_id);
        out.put_u16(0);
        out.put_zeros(6);
        out.put_u32(self.flow_count);
        out.put_u64(self.packet_in_count);
        out.put_u64(self.byte_in_count);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
        for (p, b) in &self.band_stats {
            out.put_u64(*p);
            out.put_u64(*b);
        }
        patch_len(out, start + 4, start);
    }
}

/// One entry of an OFPMP_METER_CONFIG reply.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MeterConfig {
    /// OFPMF_* flags.
    pub flags: u16,
    /// Meter id.
    pub meter_id: u32,
    /// Bands.
    pub bands: Vec<MeterBand>,
}

impl MeterConfig {
    /// Decode one entry.
    pub fn decode(r: &mut Reader<'_>) -> Result<MeterConfig, DecodeError> {
        let len = usize::from(r.u16()?);
        if len < 8 {
            return Err(DecodeError::BadLen);
        }
        let mut b = r.sub(len - 2, DecodeError::BadLen)?;
        Ok(MeterConfig {
            flags: b.u16()?,
            meter_id: b.u32()?,
            bands: decode_bands(b.rest())?,
        })
    }

    /// Append one entry.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u16(self.flags);
        out.put_u32(self.meter_id);
        encode_bands(&self.bands, out);
        patch_len(out, start, start);
    }
}

/// Body of an OFPMP_METER_FEATURES reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MeterFeatures {
    /// Highest meter id.
    pub max_meter: u32,
    /// Bitmap of band types (bit n = type n).
    pub band_types: u32,
    /// OFPMF_* flags supported.
    pub capabilities: u32,
    /// Maximum bands per meter.
    pub max_bands: u8,
    /// Maximum color value.
    pub max_color: u8,
}

impl MeterFeatures {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<MeterFeatures, DecodeError> {
        let m = MeterFeatures {
            max_meter: r.u32()?,
            band_types: r.u32()?,
            capabilities: r.u32()?,
            max_bands: r.u8()?,
            max_color: r.u8()?,
        };
        r.skip(2)?;
        Ok(m)
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.max_meter);
        out.put_u32(self.band_types);
        out.put_u32(self.capabilities);
        out.put_u8(self.max_bands);
        out.put_u8(self.max_color);
        out.put_zeros(2);
    }
}
