//! The small fixed-layout messages of the control channel: HELLO (with version-bitmap
//! negotiation), ERROR, FEATURES_REPLY, GET_CONFIG_REPLY / SET_CONFIG, TABLE_MOD,
//! ROLE_REQUEST / ROLE_REPLY, GET_ASYNC_REPLY / SET_ASYNC and EXPERIMENTER.
//!
//! They are grouped here because each is a handful of scalar fields with no nesting; the
//! interesting one is HELLO, whose elements decide the protocol version (OpenFlow 1.3 section
//! 6.3.1: with bitmaps on both sides the highest common bit wins, otherwise the lower header
//! version).

use crate::error::{DecodeError, ErrorMsg, ErrorType};
use crate::header::{Put, Reader, OFP_VERSION};

/// Hello element type OFPHET_VERSIONBITMAP.
pub const OFPHET_VERSIONBITMAP: u16 = 1;

/// One HELLO element.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HelloElement {
    /// Supported versions: bit `n` of word `n / 32` set when version `n` is supported.
    VersionBitmap(Vec<u32>),
    /// An element this crate does not know (kept, ignored for negotiation).
    Unknown {
        /// Element type.
        typ: u16,
        /// Element body (without padding).
        data: Vec<u8>,
    },
}

/// An OFPT_HELLO.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Hello {
    /// Elements in wire order.
    pub elements: Vec<HelloElement>,
}

impl Hello {
    /// The HELLO this crate sends: a version bitmap announcing OpenFlow 1.3 only.
    pub fn ours() -> Hello {
        Hello {
            elements: vec![HelloElement::VersionBitmap(vec![1 << OFP_VERSION])],
        }
    }

    /// The version to speak with a peer whose HELLO this is (sent with header version
    /// `peer_version`), or `None` when the peer does not speak OpenFlow 1.3 (answer with
    /// HELLO_FAILED / INCOMPATIBLE).
    pub fn negotiate(&self, peer_version: u8) -> Option<u8> {
        let bitmap = self.elements.iter().find_map(|e| match e {
            HelloElement::VersionBitmap(b) => Some(b),
            HelloElement::Unknown { .. } => None,
        });
        match bitmap {
            Some(b) => b
                .first()
                .filter(|w| *w & (1 << OFP_VERSION) != 0)
                .map(|_| OFP_VERSION),
            None => (peer_version >= OFP_VERSION).then_some(OFP_VERSION),
        }
    }

    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Hello, DecodeError> {
        let mut elements = Vec::new();
        while !r.is_empty() {
            let typ = r.u16()?;
            let len = usize::from(r.u16()?);
            if len < 4 {
                return Err(DecodeError::BadLen);
            }
            let mut body = r.sub(len - 4, DecodeError::BadLen)?;
            // Elements are padded to 8 bytes; tolerate a peer that omits the final padding.
            let pad = crate::header::pad8(len) - len;
            r.skip(pad.min(r.remaining()))?;
            if typ == OFPHET_VERSIONBITMAP {
                if body.remaining() % 4 != 0 {
                    return Err(DecodeError::BadLen);
                }
                let mut words = Vec::new();
                while !body.is_empty() {
                    words.push(body.u32()?);
                }
                elements.push(HelloElement::VersionBitmap(words));
            } else {
                elements.push(HelloElement::Unknown {
                    typ,
                    data: body.rest().to_vec(),
                });
            }
        }
        Ok(Hello { elements })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for e in &self.elements {
            let start = out.len();
            match e {
                HelloElement::VersionBitmap(words) => {
                    out.put_u16(OFPHET_VERSIONBITMAP);
                    out.put_u16(0);
                    for w in words {
                        out.put_u32(*w);
                    }
                }
                HelloElement::Unknown { typ, data } => {
                    out.put_u16(*typ);
                    out.put_u16(0);
                    out.extend_from_slice(data);
                }
            }
            crate::header::patch_len(out, start + 2, start);
            out.pad8_from(start);
        }
    }
}

impl ErrorMsg {
    /// Decode the body of an OFPT_ERROR.
    pub fn decode(r: &mut Reader<'_>) -> Result<ErrorMsg, DecodeError> {
        let t = r.u16()?;
        let err_type = ErrorType::from_u16(t).ok_or(DecodeError::BadErrorType(t))?;
        let code = r.u16()?;
        let experimenter = if err_type == ErrorType::Experimenter {
            r.u32()?
        } else {
            0
        };
        Ok(ErrorMsg {
            err_type,
            code,
            experimenter,
            data: r.rest().to_vec(),
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.err_type as u16);
        out.put_u16(self.code);
        if self.err_type == ErrorType::Experimenter {
            out.put_u32(self.experimenter);
        }
        out.extend_from_slice(&self.data);
    }
}

/// OFPC_FLOW_STATS capability.
pub const OFPC_FLOW_STATS: u32 = 1 << 0;
/// OFPC_TABLE_STATS capability.
pub const OFPC_TABLE_STATS: u32 = 1 << 1;
/// OFPC_PORT_STATS capability.
pub const OFPC_PORT_STATS: u32 = 1 << 2;
/// OFPC_GROUP_STATS capability.
pub const OFPC_GROUP_STATS: u32 = 1 << 3;
/// OFPC_IP_REASM capability.
pub const OFPC_IP_REASM: u32 = 1 << 5;
/// OFPC_QUEUE_STATS capability.
pub const OFPC_QUEUE_STATS: u32 = 1 << 6;
/// OFPC_PORT_BLOCKED capability.
pub const OFPC_PORT_BLOCKED: u32 = 1 << 8;

/// An OFPT_FEATURES_REPLY (`struct ofp_switch_features`, 32 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SwitchFeatures {
    /// Datapath id (low 48 bits usually a MAC).
    pub datapath_id: u64,
    /// Packets the switch can buffer.
    pub n_buffers: u32,
    /// Number of flow tables.
    pub n_tables: u8,
    /// Auxiliary connection id (0 = main).
    pub auxiliary_id: u8,
    /// OFPC_* bits.
    pub capabilities: u32,
    /// Reserved word.
    pub reserved: u32,
}

impl SwitchFeatures {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<SwitchFeatures, DecodeError> {
        let datapath_id = r.u64()?;
        let n_buffers = r.u32()?;
        let n_tables = r.u8()?;
        let auxiliary_id = r.u8()?;
        r.skip(2)?;
        Ok(SwitchFeatures {
            datapath_id,
            n_buffers,
            n_tables,
            auxiliary_id,
            capabilities: r.u32()?,
            reserved: r.u32()?,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.datapath_id);
        out.put_u32(self.n_buffers);
        out.put_u8(self.n_tables);
        out.put_u8(self.auxiliary_id);
        out.put_zeros(2);
        out.put_u32(self.capabilities);
        out.put_u32(self.reserved);
    }
}

/// Fragment handling bits of [`SwitchConfig::flags`] (OFPC_FRAG_*).
pub const OFPC_FRAG_MASK: u16 = 3;

/// GET_CONFIG_REPLY / SET_CONFIG body (`struct ofp_switch_config`, 12 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SwitchConfig {
    /// OFPC_FRAG_* handling.
    pub flags: u16,
    /// Bytes of a table-miss packet sent to the controller.
    pub miss_send_len: u16,
}

impl SwitchConfig {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<SwitchConfig, DecodeError> {
        let flags = r.u16()?;
        if flags & !OFPC_FRAG_MASK != 0 {
            return Err(DecodeError::SwitchConfigBadFlags(flags));
        }
        Ok(SwitchConfig {
            flags,
            miss_send_len: r.u16()?,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.flags);
        out.put_u16(self.miss_send_len);
    }
}

/// An OFPT_TABLE_MOD (16 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TableMod {
    /// Table (OFPTT_ALL for all).
    pub table_id: u8,
    /// OFPTC_* bits (deprecated in 1.3, kept as received).
    pub config: u32,
}

impl TableMod {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<TableMod, DecodeError> {
        let table_id = r.u8()?;
        r.skip(3)?;
        Ok(TableMod {
            table_id,
            config: r.u32()?,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.table_id);
        out.put_zeros(3);
        out.put_u32(self.config);
    }
}

/// Controller role (`enum ofp_controller_role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ControllerRole {
    /// OFPCR_ROLE_NOCHANGE.
    NoChange = 0,
    /// OFPCR_ROLE_EQUAL.
    Equal = 1,
    /// OFPCR_ROLE_MASTER.
    Master = 2,
    /// OFPCR_ROLE_SLAVE.
    Slave = 3,
}

/// ROLE_REQUEST / ROLE_REPLY body (`struct ofp_role_request`, 24 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Role {
    /// Requested or current role.
    pub role: ControllerRole,
    /// Master election generation id.
    pub generation_id: u64,
}

impl Role {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<Role, DecodeError> {
        let v = r.u32()?;
        r.skip(4)?;
        let role = match v {
            0 => ControllerRole::NoChange,
            1 => ControllerRole::Equal,
            2 => ControllerRole::Master,
            3 => ControllerRole::Slave,
            _ => return Err(DecodeError::RoleBad(v)),
        };
        Ok(Role {
            role,
            generation_id: r.u64()?,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.role as u32);
        out.put_zeros(4);
        out.put_u64(self.generation_id);
    }
}

/// GET_ASYNC_REPLY / SET_ASYNC body (`struct ofp_async_config`, 32 bytes). Index 0 of each
/// pair applies to master/equal connections, index 1 to slaves; bit `n` enables reason `n`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AsyncConfig {
    /// PACKET_IN reasons.
    pub packet_in_mask: [u32; 2],
    /// PORT_STATUS reasons.
    pub port_status_mask: [u32; 2],
    /// FLOW_REMOVED reasons.
    pub flow_removed_mask: [u32; 2],
}

impl AsyncConfig {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<AsyncConfig, DecodeError> {
        Ok(AsyncConfig {
            packet_in_mask: [r.u32()?, r.u32()?],
            port_status_mask: [r.u32()?, r.u32()?],
            flow_removed_mask: [r.u32()?, r.u32()?],
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for m in [
            self.packet_in_mask,
            self.port_status_mask,
            self.flow_removed_mask,
        ] {
            out.put_u32(m[0]);
            out.put_u32(m[1]);
        }
    }
}

/// An OFPT_EXPERIMENTER message, kept opaque.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExperimenterMsg {
    /// Experimenter id.
    pub experimenter: u32,
    /// Experimenter-defined type.
    pub exp_type: u32,
    /// Body.
    pub data: Vec<u8>,
}

impl ExperimenterMsg {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<ExperimenterMsg, DecodeError> {
        Ok(ExperimenterMsg {
            experimenter: r.u32()?,
            exp_type: r.u32()?,
            data: r.rest().to_vec(),
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.experimenter);
        out.put_u32(self.exp_type);
        out.extend_from_slice(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(Hello::ours().negotiate(4), Some(4));
        let h = Hello {
            elements: vec![HelloElement::VersionBitmap(vec![0x12])],
        };
        assert_eq!(h.negotiate(6), Some(4));
        let h = Hello {
            elements: vec![HelloElement::VersionBitmap(vec![0x02])],
        };
        assert_eq!(h.negotiate(1), None);
        assert_eq!(Hello::default().negotiate(5), Some(4));
        assert_eq!(Hello::default().negotiate(1), None);
    }

    #[test]
    fn hello_pads_elements() {
        let mut out = Vec::new();
        Hello::ours().encode(&mut out);
        assert_eq!(out, [0, 1, 0, 8, 0, 0, 0, 0x10]);
        let h = Hello {
            elements: vec![HelloElement::Unknown {
                typ: 9,
                data: vec![1],
            }],
        };
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out, [0, 9, 0, 5, 1, 0, 0, 0]);
        assert_eq!(
            Hello::decode(&mut Reader::new(&out, DecodeError::BadLen)),
            Ok(h)
        );
    }
}
