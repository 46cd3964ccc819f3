//! Port descriptions (`struct ofp_port`, 64 bytes), PORT_STATUS (80 bytes) and PORT_MOD
//! (40 bytes).
//!
//! Config, state and feature words stay plain `u32` bitmaps with named constants: they are sets of
//! independent bits that the switch reports and the controller masks, and unknown bits must
//! survive a round trip.

use crate::error::DecodeError;
use crate::header::{get_str, put_str, Put, Reader};

/// Length of a port name including its terminating NUL.
pub const OFP_MAX_PORT_NAME_LEN: usize = 16;

/// OFPPC_PORT_DOWN: administratively down.
pub const OFPPC_PORT_DOWN: u32 = 1 << 0;
/// OFPPC_NO_RECV: drop received packets.
pub const OFPPC_NO_RECV: u32 = 1 << 2;
/// OFPPC_NO_FWD: drop packets forwarded to the port.
pub const OFPPC_NO_FWD: u32 = 1 << 5;
/// OFPPC_NO_PACKET_IN: no packet-in for this port.
pub const OFPPC_NO_PACKET_IN: u32 = 1 << 6;
/// OFPPS_LINK_DOWN: no physical link.
pub const OFPPS_LINK_DOWN: u32 = 1 << 0;
/// OFPPS_BLOCKED: blocked (e.g. by a fast-failover or STP decision).
pub const OFPPS_BLOCKED: u32 = 1 << 1;
/// OFPPS_LIVE: live for fast-failover groups.
pub const OFPPS_LIVE: u32 = 1 << 2;
/// OFPPF_10GB_FD feature bit.
pub const OFPPF_10GB_FD: u32 = 1 << 6;
/// OFPPF_COPPER feature bit.
pub const OFPPF_COPPER: u32 = 1 << 11;
/// OFPPF_OTHER: other rate, not in the list.
pub const OFPPF_OTHER: u32 = 1 << 12;

/// A port description.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Port {
    /// Port number.
    pub port_no: u32,
    /// MAC address.
    pub hw_addr: [u8; 6],
    /// Name (at most 15 bytes are sent).
    pub name: String,
    /// OFPPC_* bits.
    pub config: u32,
    /// OFPPS_* bits.
    pub state: u32,
    /// Current features (OFPPF_*).
    pub curr: u32,
    /// Advertised features.
    pub advertised: u32,
    /// Supported features.
    pub supported: u32,
    /// Peer's advertised features.
    pub peer: u32,
    /// Current speed in kb/s.
    pub curr_speed: u32,
    /// Maximum speed in kb/s.
    pub max_speed: u32,
}

/// Size of `struct ofp_port`.
pub const PORT_LEN: usize = 64;

impl Port {
    /// Decode one port description.
    pub fn decode(r: &mut Reader<'_>) -> Result<Port, DecodeError> {
        let port_no = r.u32()?;
        r.skip(4)?;
        let hw_addr = r.array()?;
        r.skip(2)?;
        let name = get_str(r.bytes(OFP_MAX_PORT_NAME_LEN)?);
        Ok(Port {
            port_no,
            hw_addr,
            name,
            config: r.u32()?,
            state: r.u32()?,
            curr: r.u32()?,
            advertised: r.u32()?,
            supported: r.u32()?,
            peer: r.u32()?,
            curr_speed: r.u32()?,
            max_speed: r.u32()?,
        })
    }

    /// Append the 64-byte description.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port_no);
        out.put_zeros(4);
        out.extend_from_slice(&self.hw_addr);
        out.put_zeros(2);
        put_str(out, &self.name, OFP_MAX_PORT_NAME_LEN);
        for v in [
            self.config,
            self.state,
            self.curr,
            self.advertised,
            self.supported,
            self.peer,
            self.curr_speed,
            self.max_speed,
        ] {
            out.put_u32(v);
        }
    }
}

/// Why a PORT_STATUS was sent (`enum ofp_port_reason`).
pub mod port_reason {
    /// OFPPR_ADD.
    pub const ADD: u8 = 0;
    /// OFPPR_DELETE.
    pub const DELETE: u8 = 1;
    /// OFPPR_MODIFY.
    pub const MODIFY: u8 = 2;
}

/// An OFPT_PORT_STATUS.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortStatus {
    /// See [`port_reason`].
    pub reason: u8,
    /// The port.
    pub desc: Port,
}

impl PortStatus {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<PortStatus, DecodeError> {
        let reason = r.u8()?;
        r.skip(7)?;
        Ok(PortStatus {
            reason,
            desc: Port::decode(r)?,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.reason);
        out.put_zeros(7);
        self.desc.encode(out);
    }
}

/// An OFPT_PORT_MOD.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortMod {
    /// Port to change.
    pub port_no: u32,
    /// Must equal the port's MAC (a sanity check by the controller).
    pub hw_addr: [u8; 6],
    /// New OFPPC_* bits (only those in `mask` apply).
    pub config: u32,
    /// Which config bits to change.
    pub mask: u32,
    /// Features to advertise (0 = unchanged).
    pub advertise: u32,
}

impl PortMod {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<PortMod, DecodeError> {
        let port_no = r.u32()?;
        r.skip(4)?;
        let hw_addr = r.array()?;
        r.skip(2)?;
        let pm = PortMod {
            port_no,
            hw_addr,
            config: r.u32()?,
            mask: r.u32()?,
            advertise: r.u32()?,
        };
        r.skip(4)?;
        Ok(pm)
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port_no);
        out.put_zeros(4);
        out.extend_from_slice(&self.hw_addr);
        out.put_zeros(2);
        out.put_u32(self.config);
        out.put_u32(self.mask);
        out.put_u32(self.advertise);
        out.put_zeros(4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_is_64_bytes_and_round_trips() {
        let p = Port {
            port_no: 3,
            hw_addr: [2, 0, 0, 0, 0, 3],
            name: "veth3".into(),
            config: OFPPC_NO_PACKET_IN,
            state: OFPPS_LIVE,
            curr: OFPPF_10GB_FD | OFPPF_COPPER,
            advertised: 0,
            supported: 0,
            peer: 0,
            curr_speed: 10_000_000,
            max_speed: 10_000_000,
        };
        let mut out = Vec::new();
        p.encode(&mut out);
        assert_eq!(out.len(), PORT_LEN);
        assert_eq!(&out[..4], &[0, 0, 0, 3]);
        assert_eq!(&out[8..14], &[2, 0, 0, 0, 0, 3]);
        assert_eq!(&out[16..22], b"veth3\0");
        assert_eq!(&out[32..36], &[0, 0, 0, 0x40]);
        assert_eq!(&out[56..60], &10_000_000u32.to_be_bytes());
        let mut r = Reader::new(&out, DecodeError::BadLen);
        assert_eq!(Port::decode(&mut r), Ok(p));
    }
}
