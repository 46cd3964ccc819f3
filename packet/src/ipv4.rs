//! IPv4 headers (RFC 791), including options.
//!
//! `new_checked` enforces version 4, `IHL >= 5`, that the header fits, and
//! that `header_len <= total_len <= buffer length`. The buffer may be longer
//! than `total_len` (Ethernet pads short frames to 60 bytes), so
//! [`Ipv4Packet::payload`] ends at `total_len`, never at the buffer end.
//!
//! Options are exposed both raw ([`Ipv4Packet::options`]) and through
//! [`OptionIter`], which understands the two one-byte options (EOL, NOP) and
//! yields an error for a length byte that would run past the header.

use std::net::Ipv4Addr;

use crate::bytes::{get_ipv4, get_u16, set_u16};
use crate::checksum;
use crate::{Error, Result};

mod field {
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
    pub const OPTIONS: usize = 20;
}

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS;
/// Longest possible header (IHL 15).
pub const MAX_HEADER_LEN: usize = 60;

/// A view of an IPv4 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wrap without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wrap after validating version, IHL and total length.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validate everything the accessors rely on.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < MIN_HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 4 {
            return Err(Error::Malformed("IPv4 version"));
        }
        let hl = self.header_len();
        if hl < MIN_HEADER_LEN {
            return Err(Error::Malformed("IPv4 IHL below 5"));
        }
        if len < hl {
            return Err(Error::Truncated);
        }
        let tl = usize::from(self.total_len());
        if tl < hl {
            return Err(Error::Malformed("IPv4 total length below header length"));
        }
        if len < tl {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Version (4).
    pub fn version(&self) -> u8 {
        self.b()[field::VER_IHL] >> 4
    }
    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[field::VER_IHL] & 0x0f) * 4
    }
    /// Differentiated services code point.
    pub fn dscp(&self) -> u8 {
        self.b()[field::DSCP_ECN] >> 2
    }
    /// Explicit congestion notification.
    pub fn ecn(&self) -> u8 {
        self.b()[field::DSCP_ECN] & 0x03
    }
    /// Total length (header + payload).
    pub fn total_len(&self) -> u16 {
        get_u16(self.b(), field::LENGTH)
    }
    /// Identification.
    pub fn ident(&self) -> u16 {
        get_u16(self.b(), field::IDENT)
    }
    /// Don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        get_u16(self.b(), field::FLG_OFF) & 0x4000 != 0
    }
    /// More-fragments flag.
    pub fn more_frags(&self) -> bool {
        get_u16(self.b(), field::FLG_OFF) & 0x2000 != 0
    }
    /// Fragment offset in 8-octet units (the raw RFC field).
    pub fn frag_offset(&self) -> u16 {
        get_u16(self.b(), field::FLG_OFF) & 0x1fff
    }
    /// True for any fragment (first or later).
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.b()[field::TTL]
    }
    /// Upper-layer protocol (see [`crate::ip_protocol`]).
    pub fn protocol(&self) -> u8 {
        self.b()[field::PROTOCOL]
    }
    /// Header checksum.
    pub fn checksum(&self) -> u16 {
        get_u16(self.b(), field::CHECKSUM)
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        get_ipv4(self.b(), field::SRC)
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        get_ipv4(self.b(), field::DST)
    }
    /// Raw option bytes (empty when IHL is 5).
    pub fn options(&self) -> &[u8] {
        &self.b()[field::OPTIONS..self.header_len()]
    }
    /// Iterate over the options.
    pub fn option_iter(&self) -> OptionIter<'_> {
        OptionIter {
            data: self.options(),
        }
    }
    /// Payload: from the end of the header to `total_len`.
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..usize::from(self.total_len())]
    }
    /// True if the header checksum is correct.
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(&self.b()[..self.header_len()]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Set version to 4 and the header length (bytes, multiple of 4).
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.bm()[field::VER_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }
    /// Set DSCP.
    pub fn set_dscp(&mut self, v: u8) {
        let b = self.bm();
        b[field::DSCP_ECN] = (b[field::DSCP_ECN] & 0x03) | (v << 2);
    }
    /// Set ECN.
    pub fn set_ecn(&mut self, v: u8) {
        let b = self.bm();
        b[field::DSCP_ECN] = (b[field::DSCP_ECN] & 0xfc) | (v & 0x03);
    }
    /// Set total length.
    pub fn set_total_len(&mut self, v: u16) {
        set_u16(self.bm(), field::LENGTH, v);
    }
    /// Set identification.
    pub fn set_ident(&mut self, v: u16) {
        set_u16(self.bm(), field::IDENT, v);
    }
    /// Set flags and fragment offset (8-octet units) in one go.
    pub fn set_frag(&mut self, dont_frag: bool, more_frags: bool, offset: u16) {
        let v = (u16::from(dont_frag) << 14) | (u16::from(more_frags) << 13) | (offset & 0x1fff);
        set_u16(self.bm(), field::FLG_OFF, v);
    }
    /// Set TTL.
    pub fn set_ttl(&mut self, v: u8) {
        self.bm()[field::TTL] = v;
    }
    /// Set protocol.
    pub fn set_protocol(&mut self, v: u8) {
        self.bm()[field::PROTOCOL] = v;
    }
    /// Set the checksum field verbatim.
    pub fn set_checksum(&mut self, v: u16) {
        set_u16(self.bm(), field::CHECKSUM, v);
    }
    /// Set source address.
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.bm()[field::SRC..field::SRC + 4].copy_from_slice(&a.octets());
    }
    /// Set destination address.
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.bm()[field::DST..field::DST + 4].copy_from_slice(&a.octets());
    }
    /// Mutable option bytes.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.bm()[field::OPTIONS..hl]
    }
    /// Mutable payload (up to `total_len`).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (hl, tl) = (self.header_len(), usize::from(self.total_len()));
        &mut self.bm()[hl..tl]
    }
    /// Compute and store the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::internet_checksum(&self.b()[..self.header_len()]);
        self.set_checksum(c);
    }
    /// Decrement TTL, patching the checksum incrementally (RFC 1624).
    /// Returns the new TTL; a TTL of 0 is left alone.
    pub fn decrement_ttl(&mut self) -> u8 {
        let ttl = self.ttl();
        if ttl == 0 {
            return 0;
        }
        let old = get_u16(self.b(), field::TTL);
        self.set_ttl(ttl - 1);
        let new = get_u16(self.b(), field::TTL);
        let c = checksum::update16(self.checksum(), old, new);
        self.set_checksum(c);
        ttl - 1
    }
}

impl<'a> Ipv4Packet<&'a [u8]> {
    /// The payload (up to `total_len`) with the buffer's lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        let (hl, tl) = (self.header_len(), usize::from(self.total_len()));
        &self.buffer[hl..tl]
    }
}

/// One IPv4 option: its type byte and the bytes after the length byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Option<'a> {
    /// Option type (copied flag, class, number).
    pub kind: u8,
    /// Option data (empty for NOP).
    pub data: &'a [u8],
}

/// Option kinds.
pub mod option {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No operation (padding).
    pub const NOP: u8 = 1;
    /// Record route.
    pub const RR: u8 = 7;
    /// Router alert.
    pub const ROUTER_ALERT: u8 = 148;
}

/// Iterator over IPv4 options; stops at EOL, yields one error then stops on
/// a bad length.
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<Ipv4Option<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, rest) = self.data.split_first()?;
        match kind {
            option::EOL => {
                self.data = &[];
                None
            }
            option::NOP => {
                self.data = rest;
                Some(Ok(Ipv4Option { kind, data: &[] }))
            }
            _ => {
                let len = rest.first().map(|&l| usize::from(l));
                match len {
                    Some(l) if l >= 2 && l <= self.data.len() => {
                        let data = &self.data[2..l];
                        self.data = &self.data[l..];
                        Some(Ok(Ipv4Option { kind, data }))
                    }
                    _ => {
                        self.data = &[];
                        Some(Err(Error::Malformed("IPv4 option length")))
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classic example header: 192.168.0.1 -> 192.168.0.199, UDP, checksum 0xb861.
    const HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    fn packet() -> Vec<u8> {
        let mut v = HDR.to_vec();
        v.resize(0x73, 0xab);
        v
    }

    #[test]
    fn parse_known_header() {
        let buf = packet();
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(
            (p.version(), p.header_len(), p.dscp(), p.ecn()),
            (4, 20, 0, 0)
        );
        assert_eq!(
            (p.total_len(), p.ident(), p.dont_frag(), p.more_frags()),
            (0x73, 0, true, false)
        );
        assert_eq!(
            (p.frag_offset(), p.is_fragment(), p.ttl(), p.protocol()),
            (0, false, 64, 17)
        );
        assert_eq!(p.checksum(), 0xb861);
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 168, 0, 199));
        assert!(p.options().is_empty());
        assert_eq!(p.payload().len(), 0x73 - 20);
        assert!(p.verify_checksum());
    }

    #[test]
    fn build_known_header() {
        let mut b = [0u8; 20];
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.set_version_and_header_len(20);
        p.set_total_len(0x73);
        p.set_frag(true, false, 0);
        p.set_ttl(64);
        p.set_protocol(17);
        p.set_src_addr(Ipv4Addr::new(192, 168, 0, 1));
        p.set_dst_addr(Ipv4Addr::new(192, 168, 0, 199));
        p.fill_checksum();
        assert_eq!(b, HDR);
    }

    #[test]
    fn ttl_decrement_keeps_checksum_valid() {
        let mut buf = packet();
        let mut p = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
        assert_eq!(p.decrement_ttl(), 63);
        assert!(p.verify_checksum());
        let c = p.checksum();
        p.fill_checksum();
        assert_eq!(c, p.checksum());
    }

    #[test]
    fn checked_constructor_rejects() {
        let buf = packet();
        assert_eq!(Ipv4Packet::new_checked(&buf[..19]), Err(Error::Truncated));
        assert_eq!(Ipv4Packet::new_checked(&buf[..0x72]), Err(Error::Truncated));
        let mut b = buf.clone();
        b[0] = 0x44;
        assert!(matches!(
            Ipv4Packet::new_checked(&b[..]),
            Err(Error::Malformed(_))
        ));
        b[0] = 0x65;
        assert!(matches!(
            Ipv4Packet::new_checked(&b[..]),
            Err(Error::Malformed(_))
        ));
        let mut b = buf.clone();
        b[3] = 19;
        assert!(matches!(
            Ipv4Packet::new_checked(&b[..]),
            Err(Error::Malformed(_))
        ));
        // Ethernet padding beyond total_len is fine and not part of the payload.
        let mut b = buf;
        b.extend_from_slice(&[0; 10]);
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap().payload().len(),
            0x73 - 20
        );
    }

    #[test]
    fn options() {
        // IHL 7: router alert (4 bytes), NOP, record route len 3 (1 data byte).
        let mut b = vec![
            0x47, 0, 0, 28, 0, 0, 0, 0, 1, 2, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        b.extend_from_slice(&[148, 4, 0, 0, 1, 7, 3, 9]);
        let mut p = Ipv4Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert_eq!(p.header_len(), 28);
        let opts: Vec<_> = p.option_iter().collect::<Result<_>>().unwrap();
        assert_eq!(
            opts,
            vec![
                Ipv4Option {
                    kind: 148,
                    data: &[0, 0]
                },
                Ipv4Option { kind: 1, data: &[] },
                Ipv4Option {
                    kind: 7,
                    data: &[9]
                },
            ]
        );
        let bad = OptionIter { data: &[7, 9, 0] }.collect::<Vec<_>>();
        assert_eq!(bad.len(), 1);
        assert!(bad[0].is_err());
        assert_eq!(OptionIter { data: &[0, 7, 9] }.count(), 0);
    }
}
