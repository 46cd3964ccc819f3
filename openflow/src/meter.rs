//! METER_MOD (`struct ofp_meter_mod`, 16 bytes) and meter bands (`struct ofp_meter_band_*`,
//! 16 bytes each), shared with the meter-config multipart reply.
//!
//! Drop and DSCP-remark bands are typed; experimenter bands are kept opaque so they round-trip
//! and the switch can refuse them with a precise code.

use crate::error::DecodeError;
use crate::header::{Put, Reader};

/// OFPMF_KBPS: rates in kb/s.
pub const OFPMF_KBPS: u16 = 1 << 0;
/// OFPMF_PKTPS: rates in packets/s.
pub const OFPMF_PKTPS: u16 = 1 << 1;
/// OFPMF_BURST: burst sizes are meaningful.
pub const OFPMF_BURST: u16 = 1 << 2;
/// OFPMF_STATS: collect statistics.
pub const OFPMF_STATS: u16 = 1 << 3;
/// Every meter flag OpenFlow 1.3 defines.
pub const OFPMF_ALL: u16 = 0xf;

/// Highest ordinary meter id.
pub const OFPM_MAX: u32 = 0xffff_0000;
/// Meter for slow-path traffic.
pub const OFPM_SLOWPATH: u32 = 0xffff_fffd;
/// Meter for controller traffic.
pub const OFPM_CONTROLLER: u32 = 0xffff_fffe;
/// All meters (delete / stats).
pub const OFPM_ALL: u32 = 0xffff_ffff;

/// METER_MOD command (`enum ofp_meter_mod_command`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum MeterModCommand {
    /// OFPMC_ADD.
    Add = 0,
    /// OFPMC_MODIFY.
    Modify = 1,
    /// OFPMC_DELETE.
    Delete = 2,
}

/// One meter band.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MeterBand {
    /// OFPMBT_DROP.
    Drop {
        /// Rate above which packets are dropped.
        rate: u32,
        /// Burst size.
        burst_size: u32,
    },
    /// OFPMBT_DSCP_REMARK.
    DscpRemark {
        /// Rate above which DSCP is remarked.
        rate: u32,
        /// Burst size.
        burst_size: u32,
        /// Drop-precedence levels to add.
        prec_level: u8,
    },
    /// OFPMBT_EXPERIMENTER, opaque.
    Experimenter {
        /// Rate.
        rate: u32,
        /// Burst size.
        burst_size: u32,
        /// Experimenter id.
        experimenter: u32,
        /// Bytes after the experimenter id.
        data: Vec<u8>,
    },
}

/// Band type OFPMBT_DROP.
pub const OFPMBT_DROP: u16 = 1;
/// Band type OFPMBT_DSCP_REMARK.
pub const OFPMBT_DSCP_REMARK: u16 = 2;
/// Band type OFPMBT_EXPERIMENTER.
pub const OFPMBT_EXPERIMENTER: u16 = 0xffff;

/// Decode a band list filling `b` exactly.
pub fn decode_bands(b: &[u8]) -> Result<Vec<MeterBand>, DecodeError> {
    let mut r = Reader::new(b, DecodeError::MeterBadBand(0));
    let mut v = Vec::new();
    while !r.is_empty() {
        let typ = r.u16()?;
        let len = usize::from(r.u16()?);
        let bad = DecodeError::MeterBadBand(typ);
        if len < 16 || len % 8 != 0 || (typ != OFPMBT_EXPERIMENTER && len != 16) {
            return Err(bad);
        }
        let mut br = r.sub(len - 4, bad)?;
        let rate = br.u32()?;
        let burst_size = br.u32()?;
        v.push(match typ {
            OFPMBT_DROP => MeterBand::Drop { rate, burst_size },
            OFPMBT_DSCP_REMARK => MeterBand::DscpRemark {
                rate,
                burst_size,
                prec_level: br.u8()?,
            },
            OFPMBT_EXPERIMENTER => MeterBand::Experimenter {
                rate,
                burst_size,
                experimenter: br.u32()?,
                data: br.rest().to_vec(),
            },
            _ => return Err(bad),
        });
    }
    Ok(v)
}

/// Append a band list.
pub fn encode_bands(bands: &[MeterBand], out: &mut Vec<u8>) {
    for b in bands {
        match b {
            MeterBand::Drop { rate, burst_size } => {
                out.put_u16(OFPMBT_DROP);
                out.put_u16(16);
                out.put_u32(*rate);
                out.put_u32(*burst_size);
                out.put_zeros(4);
            }
            MeterBand::DscpRemark {
                rate,
                burst_size,
                prec_level,
            } => {
                out.put_u16(OFPMBT_DSCP_REMARK);
                out.put_u16(16);
                out.put_u32(*rate);
                out.put_u32(*burst_size);
                out.put_u8(*prec_level);
                out.put_zeros(3);
            }
            MeterBand::Experimenter {
                rate,
                burst_size,
                experimenter,
                data,
            } => {
                let start = out.len();
                out.put_u16(OFPMBT_EXPERIMENTER);
                out.put_u16(0);
                out.put_u32(*rate);
                out.put_u32(*burst_size);
                out.put_u32(*experimenter);
                out.extend_from_slice(data);
                out.pad8_from(start);
                crate::header::patch_len(out, start + 2, start);
            }
        }
    }
}

/// An OFPT_METER_MOD.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MeterMod {
    /// Command.
    pub command: MeterModCommand,
    /// OFPMF_* flags.
    pub flags: u16,
    /// Meter id.
    pub meter_id: u32,
    /// Bands.
    pub bands: Vec<MeterBand>,
}

impl MeterMod {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<MeterMod, DecodeError> {
        let cmd = r.u16()?;
        let flags = r.u16()?;
        let meter_id = r.u32()?;
        let command = match cmd {
            0 => MeterModCommand::Add,
            1 => MeterModCommand::Modify,
            2 => MeterModCommand::Delete,
            _ => return Err(DecodeError::MeterBadCommand(cmd)),
        };
        if flags & !OFPMF_ALL != 0 {
            return Err(DecodeError::MeterBadFlags(flags));
        }
        Ok(MeterMod {
            command,
            flags,
            meter_id,
            bands: decode_bands(r.rest())?,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.command as u16);
        out.put_u16(self.flags);
        out.put_u32(self.meter_id);
        encode_bands(&self.bands, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_mod_round_trips() {
        let m = MeterMod {
            command: MeterModCommand::Add,
            flags: OFPMF_KBPS | OFPMF_BURST | OFPMF_STATS,
            meter_id: 1,
            bands: vec![
                MeterBand::Drop {
                    rate: 1000,
                    burst_size: 100,
                },
                MeterBand::DscpRemark {
                    rate: 500,
                    burst_size: 0,
                    prec_level: 1,
                },
            ],
        };
        #[rustfmt::skip]
        let bytes: Vec<u8> = vec![
            0, 0, 0, 0x0d, 0, 0, 0, 1,
            0, 1, 0, 16, 0, 0, 0x03, 0xe8, 0, 0, 0, 100, 0, 0, 0, 0,
            0, 2, 0, 16, 0, 0, 0x01, 0xf4, 0, 0, 0, 0, 1, 0, 0, 0,
        ];
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out, bytes);
        let mut r = Reader::new(&bytes, DecodeError::BadLen);
        assert_eq!(MeterMod::decode(&mut r), Ok(m));
    }

    #[test]
    fn bad_band_and_flags() {
        let b = [0, 3, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(decode_bands(&b), Err(DecodeError::MeterBadBand(3)));
        let mut r = Reader::new(&[0, 0, 0, 0x10, 0, 0, 0, 1], DecodeError::BadLen);
        assert_eq!(
            MeterMod::decode(&mut r),
            Err(DecodeError::MeterBadFlags(0x10))
        );
    }
}
