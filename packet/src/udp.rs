//! UDP datagrams (RFC 768).
//!
//! `new_checked` requires `8 <= length field <= buffer length`; the payload
//! ends at the length field, so trailing bytes (IP or Ethernet padding) are
//! ignored. Checksums take a [`PseudoHeader`], which carries the address
//! family: over IPv4 a zero checksum means "not computed" and verifies as
//! correct, and a computed zero is sent as 0xffff (RFC 768); over IPv6 the
//! checksum is mandatory.

use crate::bytes::{get_u16, set_u16};
use crate::checksum::{self, PseudoHeader};
use crate::ip_protocol;
use crate::{Error, Result};

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
    pub const PAYLOAD: usize = 8;
}

/// Length of the UDP header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// A view of a UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wrap without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wrap after validating the length field against the buffer.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validate everything the accessors rely on.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let l = usize::from(self.len());
        if l < HEADER_LEN {
            return Err(Error::Malformed("UDP length below 8"));
        }
        if len < l {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::DST_PORT)
    }
    /// Length field (header + payload).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }
    /// Payload, up to the length field.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..usize::from(self.len())]
    }
    /// True if the checksum is correct (or absent, over IPv4).
    pub fn verify_checksum(&self, ph: &PseudoHeader) -> bool {
        if ph.is_v4() && self.checksum() == 0 {
            return true;
        }
        let seg = &self.buffer.as_ref()[..usize::from(self.len())];
        checksum::combine(&[ph.sum(ip_protocol::UDP, seg.len()), checksum::sum(seg)]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Set source port.
    pub fn set_src_port(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::SRC_PORT, v);
    }
    /// Set destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::DST_PORT, v);
    }
    /// Set length field.
    pub fn set_len(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::LENGTH, v);
    }
    /// Set the checksum field verbatim.
    pub fn set_checksum(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }
    /// Mutable payload, up to the length field.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let l = usize::from(self.len());
        &mut self.buffer.as_mut()[field::PAYLOAD..l]
    }
    /// Compute and store the checksum over `len` bytes.
    pub fn fill_checksum(&mut self, ph: &PseudoHeader) {
        self.set_checksum(0);
        let seg = &self.buffer.as_ref()[..usize::from(self.len())];
        let c = match checksum::transport_checksum(ph, ip_protocol::UDP, seg) {
            0 => 0xffff,
            c => c,
        };
        self.set_checksum(c);
    }
}

impl<'a> UdpPacket<&'a [u8]> {
    /// The payload (up to the length field) with the buffer's lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        &self.buffer[field::PAYLOAD..usize::from(self.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ph() -> PseudoHeader {
        PseudoHeader::V4 {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
        }
    }

    /// 1234 -> 53, "hi"; checksum by hand:
    /// pseudo 0a00+0001+0a00+0002+0011+000a = 0x141e; header 04d2+0035+000a = 0x0511;
    /// data 6869; total 0x141e+0x0511+0x6869 = 0x8198 -> !0x8198 = 0x7e67.
    const DGRAM: [u8; 10] = [0x04, 0xd2, 0x00, 0x35, 0x00, 0x0a, 0x7e, 0x67, b'h', b'i'];

    #[test]
    fn parse_known() {
        let p = UdpPacket::new_checked(&DGRAM[..]).unwrap();
        assert_eq!(
            (p.src_port(), p.dst_port(), p.len(), p.checksum()),
            (1234, 53, 10, 0x7e67)
        );
        assert_eq!(p.payload(), b"hi");
        assert!(p.verify_checksum(&ph()));
    }

    #[test]
    fn build_known() {
        let mut b = [0u8; 12];
        let mut p = UdpPacket::new_unchecked(&mut b[..]);
        p.set_src_port(1234);
        p.set_dst_port(53);
        p.set_len(10);
        p.payload_mut().copy_from_slice(b"hi");
        p.fill_checksum(&ph());
        assert_eq!(&b[..10], &DGRAM);
        assert_eq!(&b[10..], &[0, 0]);
    }

    #[test]
    fn zero_checksum_rules() {
        let mut b = DGRAM;
        b[6] = 0;
        b[7] = 0;
        assert!(UdpPacket::new_checked(&b[..])
            .unwrap()
            .verify_checksum(&ph()));
        let v6 = PseudoHeader::V6 {
            src: "::1".parse().unwrap(),
            dst: "::2".parse().unwrap(),
        };
        assert!(!UdpPacket::new_checked(&b[..]).unwrap().verify_checksum(&v6));
    }

    #[test]
    fn rejects() {
        assert_eq!(UdpPacket::new_checked(&DGRAM[..9]), Err(Error::Truncated));
        let mut b = DGRAM;
        b[5] = 7;
        assert!(matches!(
            UdpPacket::new_checked(&b[..]),
            Err(Error::Malformed(_))
        ));
    }
}
