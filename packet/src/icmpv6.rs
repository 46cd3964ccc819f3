//! ICMPv6 (RFC 4443) and the Neighbor Discovery messages (RFC 4861).
//!
//! All ICMPv6 messages carry at least 8 bytes (type, code, checksum, four
//! type-specific bytes), so the echo fields and the NA/RA flag bits in bytes
//! 4..8 are plain accessors. Fields further in depend on the type:
//! `new_checked` enforces the fixed length of each ND message it knows
//! (RS 8, RA 16, NS/NA 24, Redirect 40), and the accessors for those fields
//! return `Option`, `None` when the message type does not have them. That
//! keeps "no accessor panics after `new_checked`" true for every input.
//!
//! ND options are type/length(8-octet units)/value; [`NdpOptionIter`] walks
//! them and reports a zero or overrunning length as an error, which ND
//! inspection should treat as a reason to drop. The checksum includes the
//! IPv6 pseudo-header, so verifying needs the addresses.

use std::net::Ipv6Addr;

use crate::bytes::{get_ipv6, get_u16, get_u32, set_u16};
use crate::checksum::{self, PseudoHeader};
use crate::ethernet::EthernetAddress;
use crate::ip_protocol;
use crate::{Error, Result};

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const ECHO_IDENT: usize = 4;
    pub const ECHO_SEQNO: usize = 6;
    pub const BODY: usize = 8;
    pub const NA_FLAGS: usize = 4;
    pub const RA_HOP_LIMIT: usize = 4;
    pub const RA_FLAGS: usize = 5;
    pub const RA_LIFETIME: usize = 6;
    pub const RA_REACHABLE: usize = 8;
    pub const RA_RETRANS: usize = 12;
    pub const TARGET: usize = 8;
}

/// Length of the common header.
pub const HEADER_LEN: usize = field::BODY;

/// Message types.
pub mod msg_type {
    /// Destination unreachable.
    pub const DEST_UNREACHABLE: u8 = 1;
    /// Packet too big.
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 4;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 129;
    /// Router solicitation.
    pub const ROUTER_SOLICIT: u8 = 133;
    /// Router advertisement.
    pub const ROUTER_ADVERT: u8 = 134;
    /// Neighbor solicitation.
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    /// Neighbor advertisement.
    pub const NEIGHBOR_ADVERT: u8 = 136;
    /// Redirect.
    pub const REDIRECT: u8 = 137;
}

/// ND option types.
pub mod ndp_option {
    /// Source link-layer address.
    pub const SOURCE_LL_ADDR: u8 = 1;
    /// Target link-layer address.
    pub const TARGET_LL_ADDR: u8 = 2;
    /// Prefix information.
    pub const PREFIX_INFO: u8 = 3;
    /// Redirected header.
    pub const REDIRECTED_HDR: u8 = 4;
    /// MTU.
    pub const MTU: u8 = 5;
}

/// Fixed length (header + type-specific body, before options) of a message
/// type, or `None` for types without ND options.
fn nd_fixed_len(t: u8) -> Option<usize> {
    match t {
        msg_type::ROUTER_SOLICIT => Some(8),
        msg_type::ROUTER_ADVERT => Some(16),
        msg_type::NEIGHBOR_SOLICIT | msg_type::NEIGHBOR_ADVERT => Some(24),
        msg_type::REDIRECT => Some(40),
        _ => None,
    }
}

/// A view of an ICMPv6 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Wrap without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
    }

    /// Wrap after checking the header and, for ND messages, their fixed part.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validate everything the accessors rely on.
    pub fn check_len(&self) -> Result<()> {
        let len = self.b().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if nd_fixed_len(self.msg_type()).is_some_and(|need| len < need) {
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

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.b()[field::TYPE]
    }
    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.b()[field::CODE]
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.b(), field::CHECKSUM)
    }
    /// Echo identifier (meaningful for echo request/reply).
    pub fn echo_ident(&self) -> u16 {
        get_u16(self.b(), field::ECHO_IDENT)
    }
    /// Echo sequence number (meaningful for echo request/reply).
    pub fn echo_seq_no(&self) -> u16 {
        get_u16(self.b(), field::ECHO_SEQNO)
    }
    /// Everything after the 8-byte header.
    pub fn payload(&self) -> &[u8] {
        &self.b()[field::BODY..]
    }
    /// True for RS, RA, NS, NA and Redirect.
    pub fn is_ndp(&self) -> bool {
        nd_fixed_len(self.msg_type()).is_some()
    }
    /// NA "router" flag (meaningful for NA).
    pub fn na_router_flag(&self) -> bool {
        self.b()[field::NA_FLAGS] & 0x80 != 0
    }
    /// NA "solicited" flag (meaningful for NA).
    pub fn na_solicited_flag(&self) -> bool {
        self.b()[field::NA_FLAGS] & 0x40 != 0
    }
    /// NA "override" flag (meaningful for NA).
    pub fn na_override_flag(&self) -> bool {
        self.b()[field::NA_FLAGS] & 0x20 != 0
    }
    /// RA current hop limit (meaningful for RA).
    pub fn ra_cur_hop_limit(&self) -> u8 {
        self.b()[field::RA_HOP_LIMIT]
    }
    /// RA "managed address configuration" flag.
    pub fn ra_managed_flag(&self) -> bool {
        self.b()[field::RA_FLAGS] & 0x80 != 0
    }
    /// RA "other configuration" flag.
    pub fn ra_other_flag(&self) -> bool {
        self.b()[field::RA_FLAGS] & 0x40 != 0
    }
    /// RA router lifetime in seconds (meaningful for RA).
    pub fn ra_router_lifetime(&self) -> u16 {
        get_u16(self.b(), field::RA_LIFETIME)
    }
    /// RA reachable time (ms); `None` unless this is a long-enough RA.
    pub fn ra_reachable_time(&self) -> Option<u32> {
        self.ra_word(field::RA_REACHABLE)
    }
    /// RA retransmission timer (ms); `None` unless this is a long-enough RA.
    pub fn ra_retrans_timer(&self) -> Option<u32> {
        self.ra_word(field::RA_RETRANS)
    }
    fn ra_word(&self, off: usize) -> Option<u32> {
        (self.msg_type() == msg_type::ROUTER_ADVERT && self.b().len() >= off + 4)
            .then(|| get_u32(self.b(), off))
    }
    /// Target address of an NS, NA or Redirect.
    pub fn target_addr(&self) -> Option<Ipv6Addr> {
        let t = self.msg_type();
        let has = matches!(
            t,
            msg_type::NEIGHBOR_SOLICIT | msg_type::NEIGHBOR_ADVERT | msg_type::REDIRECT
        );
        (has && self.b().len() >= field::TARGET + 16).then(|| get_ipv6(self.b(), field::TARGET))
    }
    /// Destination address of a Redirect.
    pub fn redirect_dst_addr(&self) -> Option<Ipv6Addr> {
        (self.msg_type() == msg_type::REDIRECT && self.b().len() >= 40)
            .then(|| get_ipv6(self.b(), 24))
    }
    /// Raw ND option bytes (empty for non-ND messages).
    pub fn ndp_options(&self) -> &[u8] {
        match nd_fixed_len(self.msg_type()) {
            Some(n) => self.b().get(n..).unwrap_or(&[]),
            None => &[],
        }
    }
    /// Iterate over the ND options.
    pub fn ndp_option_iter(&self) -> NdpOptionIter<'_> {
        NdpOptionIter {
            data: self.ndp_options(),
        }
    }
    /// The source link-layer address option, if present and well formed.
    pub fn source_link_layer_addr(&self) -> Option<EthernetAddress> {
        self.ll_option(ndp_option::SOURCE_LL_ADDR)
    }
    /// The target link-layer address option, if present and well formed.
    pub fn target_link_layer_addr(&self) -> Option<EthernetAddress> {
        self.ll_option(ndp_option::TARGET_LL_ADDR)
    }
    fn ll_option(&self, kind: u8) -> Option<EthernetAddress> {
        self.ndp_option_iter()
            .map_while(|o| o.ok())
            .find(|o| o.kind == kind)
            .and_then(|o| EthernetAddress::from_bytes(o.data.get(..6)?))
    }
    /// True if the checksum (with the IPv6 pseudo-header) is correct.
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let ph = PseudoHeader::V6 { src, dst };
        let len = self.b().len();
        checksum::combine(&[ph.sum(ip_protocol::ICMPV6, len), checksum::sum(self.b())]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    /// Set message type.
    pub fn set_msg_type(&mut self, v: u8) {
        self.bm()[field::TYPE] = v;
    }
    /// Set message code.
    pub fn set_msg_code(&mut self, v: u8) {
        self.bm()[field::CODE] = v;
    }
    /// Set the checksum field verbatim.
    pub fn set_checksum(&mut self, v: u16) {
        set_u16(self.bm(), field::CHECKSUM, v);
    }
    /// Set echo identifier.
    pub fn set_echo_ident(&mut self, v: u16) {
        set_u16(self.bm(), field::ECHO_IDENT, v);
    }
    /// Set echo sequence number.
    pub fn set_echo_seq_no(&mut self, v: u16) {
        set_u16(self.bm(), field::ECHO_SEQNO, v);
    }
    /// Set NA flags (and clear the reserved bits of byte 4..8).
    pub fn set_na_flags(&mut self, router: bool, solicited: bool, override_: bool) {
        let f = (u8::from(router) << 7) | (u8::from(solicited) << 6) | (u8::from(override_) << 5);
        self.bm()[field::NA_FLAGS..field::BODY].copy_from_slice(&[f, 0, 0, 0]);
    }
    /// Set RA hop limit, M/O flags and router lifetime (bytes 4..8).
    pub fn set_ra_header(&mut self, hop_limit: u8, managed: bool, other: bool, lifetime: u16) {
        let b = self.bm();
        b[field::RA_HOP_LIMIT] = hop_limit;
        b[field::RA_FLAGS] = (u8::from(managed) << 7) | (u8::from(other) << 6);
        set_u16(b, field::RA_LIFETIME, lifetime);
    }
    /// Set the target address (bytes 8..24; NS/NA/Redirect).
    pub fn set_target_addr(&mut self, a: Ipv6Addr) {
        self.bm()[field::TARGET..field::TARGET + 16].copy_from_slice(&a.octets());
    }
    /// Mutable bytes after the 8-byte header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.bm()[field::BODY..]
    }
    /// Compute and store the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.set_checksum(0);
        let c = checksum::transport_checksum(
            &PseudoHeader::V6 { src, dst },
            ip_protocol::ICMPV6,
            self.b(),
        );
        self.set_checksum(c);
    }
}

impl<'a> Icmpv6Packet<&'a [u8]> {
    /// The bytes after the 8-byte header with the buffer's lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        &self.buffer[field::BODY..]
    }
}

/// One ND option: type and the bytes after the length byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdpOption<'a> {
    /// Option type.
    pub kind: u8,
    /// Option body (length * 8 - 2 bytes).
    pub data: &'a [u8],
}

/// Iterator over ND options; yields one error and stops on a bad length.
#[derive(Debug, Clone)]
pub struct NdpOptionIter<'a> {
    data: &'a [u8],
}

impl<'a> NdpOptionIter<'a> {
    /// Iterate over raw option bytes.
    pub fn new(data: &'a [u8]) -> Self {
        NdpOptionIter { data }
    }
}

impl<'a> Iterator for NdpOptionIter<'a> {
    type Item = Result<NdpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() {
            return None;
        }
        let len = self.data.get(1).map_or(0, |&l| usize::from(l) * 8);
        if len == 0 || len > self.data.len() {
            self.data = &[];
            return Some(Err(Error::Malformed("ND option length")));
        }
        let opt = NdpOption {
            kind: self.data[0],
            data: &self.data[2..len],
        };
        self.data = &self.data[len..];
        Some(Ok(opt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// NS from fe80::1 for 2001:db8::2 with SLLA 02:00:00:00:00:01, hand-assembled.
    fn ns_bytes() -> Vec<u8> {
        let mut v = vec![135, 0, 0, 0, 0, 0, 0, 0];
        v.extend_from_slice(&a("2001:db8::2").octets());
        v.extend_from_slice(&[1, 1, 2, 0, 0, 0, 0, 1]);
        v
    }

    #[test]
    fn neighbor_solicit() {
        let (src, dst) = (a("fe80::1"), a("ff02::1:ff00:2"));
        let mut buf = ns_bytes();
        Icmpv6Packet::new_unchecked(&mut buf[..]).fill_checksum(src, dst);
        let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum(src, dst));
        assert!(!p.verify_checksum(a("fe80::2"), dst));
        assert!(p.is_ndp());
        assert_eq!(p.target_addr(), Some(a("2001:db8::2")));
        assert_eq!(
            p.source_link_layer_addr(),
            Some(EthernetAddress([2, 0, 0, 0, 0, 1]))
        );
        assert_eq!(p.target_link_layer_addr(), None);
        assert_eq!(p.ra_reachable_time(), None);
        // Checksum by an independent route: sum of pseudo-header and message words.
        let mut words = src.octets().to_vec();
        words.extend_from_slice(&dst.octets());
        words.extend_from_slice(&[0, 0, 0, 32, 0, 0, 0, 58]);
        words.extend_from_slice(&buf);
        assert_eq!(checksum::sum(&words), 0xffff);
        assert_eq!(Icmpv6Packet::new_checked(&buf[..23]), Err(Error::Truncated));
    }

    #[test]
    fn neighbor_advert_and_bad_option() {
        let mut buf = ns_bytes();
        let mut p = Icmpv6Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(msg_type::NEIGHBOR_ADVERT);
        p.set_na_flags(false, true, true);
        buf[24] = 2;
        let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert!(!p.na_router_flag() && p.na_solicited_flag() && p.na_override_flag());
        assert_eq!(
            p.target_link_layer_addr(),
            Some(EthernetAddress([2, 0, 0, 0, 0, 1]))
        );
        buf[25] = 0;
        let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert!(p.ndp_option_iter().next().unwrap().is_err());
        assert_eq!(p.target_link_layer_addr(), None);
    }

    #[test]
    fn router_advert() {
        let mut buf = vec![
            134, 0, 0, 0, 64, 0xc0, 0x07, 0x08, 0, 0, 0x75, 0x30, 0, 0, 0x03, 0xe8,
        ];
        buf.extend_from_slice(&[5, 1, 0, 0, 0, 0, 0x05, 0xdc]);
        let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(
            (p.ra_cur_hop_limit(), p.ra_managed_flag(), p.ra_other_flag()),
            (64, true, true)
        );
        assert_eq!(p.ra_router_lifetime(), 1800);
        assert_eq!(
            (p.ra_reachable_time(), p.ra_retrans_timer()),
            (Some(30000), Some(1000))
        );
        let opts: Vec<_> = p.ndp_option_iter().collect::<Result<_>>().unwrap();
        assert_eq!(
            opts,
            vec![NdpOption {
                kind: 5,
                data: &[0, 0, 0, 0, 0x05, 0xdc]
            }]
        );
        assert_eq!(p.target_addr(), None);
        let mut out = [0u8; 16];
        let mut q = Icmpv6Packet::new_unchecked(&mut out[..]);
        q.set_msg_type(134);
        q.set_ra_header(64, true, true, 1800);
        q.payload_mut()[..8].copy_from_slice(&buf[8..16]);
        assert_eq!(&out[..], &buf[..16]);
    }

    #[test]
    fn echo() {
        let mut buf = vec![128, 0, 0, 0, 0xab, 0xcd, 0, 7, b'h', b'i'];
        let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(
            (p.echo_ident(), p.echo_seq_no(), p.payload()),
            (0xabcd, 7, &b"hi"[..])
        );
        assert!(!p.is_ndp() && p.ndp_options().is_empty() && p.target_addr().is_none());
        Icmpv6Packet::new_unchecked(&mut buf[..]).fill_checksum(a("::1"), a("::1"));
        assert!(Icmpv6Packet::new_checked(&buf[..])
            .unwrap()
            .verify_checksum(a("::1"), a("::1")));
    }
}
