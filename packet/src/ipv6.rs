//! IPv6 headers (RFC 8200) and the extension-header walk.
//!
//! The fixed header is 40 bytes; `new_checked` enforces version 6 and that
//! `40 + payload_len` fits in the buffer (longer buffers are allowed, as with
//! Ethernet padding). Jumbograms (payload length 0 with a hop-by-hop jumbo
//! option) are not supported: their payload reads as empty.
//!
//! A switch needs the upper-layer protocol and its offset, not the
//! extension headers themselves, so [`Ipv6Packet::upper_layer`] (and the
//! free function [`skip_extension_headers`]) skip hop-by-hop, routing,
//! fragment, destination-options and AH headers and report where the
//! transport header starts. A non-first fragment has no transport header;
//! the result says so instead of pointing into fragment data.

use std::net::Ipv6Addr;

use crate::bytes::{get_ipv6, get_u16, get_u32, set_u16, set_u32};
use crate::ip_protocol as proto;
use crate::{Error, Result};

mod field {
    pub const VER_TC_FL: usize = 0;
    pub const LENGTH: usize = 4;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
    pub const PAYLOAD: usize = 40;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// The solicited-node multicast address ff02::1:ffXX:XXXX of `addr`.
pub fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    let mut m = [0u8; 16];
    m[..2].copy_from_slice(&[0xff, 0x02]);
    m[11..13].copy_from_slice(&[0x01, 0xff]);
    m[13..].copy_from_slice(&o[13..]);
    Ipv6Addr::from(m)
}

/// Where the upper-layer header of an IPv6 packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpperLayer {
    /// Protocol of the first non-extension header (e.g. TCP, UDP, ICMPv6,
    /// ESP, or NONXT).
    pub protocol: u8,
    /// Offset of that header from the start of the walked data (for
    /// [`Ipv6Packet::upper_layer`], from the start of the IPv6 header).
    pub offset: usize,
    /// Fragment header contents if one was seen: (offset in 8-octet units, M flag).
    pub fragment: Option<(u16, bool)>,
}

impl UpperLayer {
    /// True if this is a fragment other than the first: `offset` then
    /// points at fragment data, not at a transport header.
    pub fn is_later_fragment(&self) -> bool {
        matches!(self.fragment, Some((off, _)) if off != 0)
    }
}

/// Skip extension headers in `data` (the bytes after the fixed header, or
/// any later point), starting with `next_header`. Stops at the first
/// protocol that is not hop-by-hop, routing, fragment, destination options
/// or AH, or after a fragment header with a non-zero offset.
pub fn skip_extension_headers(mut next_header: u8, data: &[u8]) -> Result<UpperLayer> {
    let mut offset = 0usize;
    let mut fragment = None;
    loop {
        let len = match next_header {
            proto::HOPOPT | proto::IPV6_ROUTE | proto::IPV6_OPTS => {
                let l = *data.get(offset + 1).ok_or(Error::Truncated)?;
                (usize::from(l) + 1) * 8
            }
            proto::IPV6_FRAG => 8,
            proto::AH => {
                let l = *data.get(offset + 1).ok_or(Error::Truncated)?;
                (usize::from(l) + 2) * 4
            }
            _ => {
                return Ok(UpperLayer {
                    protocol: next_header,
                    offset,
                    fragment,
                })
            }
        };
        if data.len() < offset + len {
            return Err(Error::Truncated);
        }
        let this = next_header;
        next_header = data[offset];
        if this == proto::IPV6_FRAG {
            let v = get_u16(data, offset + 2);
            let (frag_off, more) = (v >> 3, v & 1 != 0);
            fragment = Some((frag_off, more));
            if frag_off != 0 {
                return Ok(UpperLayer {
                    protocol: next_header,
                    offset: offset + len,
                    fragment,
                });
            }
        }
        offset += len;
    }
}

/// A view of an IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wrap without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wrap after validating version and payload length.
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
        if self.version() != 6 {
            return Err(Error::Malformed("IPv6 version"));
        }
        if len < HEADER_LEN + usize::from(self.payload_len()) {
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

    /// Version (6).
    pub fn version(&self) -> u8 {
        self.b()[field::VER_TC_FL] >> 4
    }
    /// Traffic class (DSCP << 2 | ECN).
    pub fn traffic_class(&self) -> u8 {
        (get_u16(self.b(), field::VER_TC_FL) >> 4) as u8
    }
    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        get_u32(self.b(), field::VER_TC_FL) & 0x000f_ffff
    }
    /// Payload length (everything after the fixed header).
    pub fn payload_len(&self) -> u16 {
        get_u16(self.b(), field::LENGTH)
    }
    /// Next header.
    pub fn next_header(&self) -> u8 {
        self.b()[field::NXT_HDR]
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.b()[field::HOP_LIMIT]
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        get_ipv6(self.b(), field::SRC)
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        get_ipv6(self.b(), field::DST)
    }
    /// Payload (extension headers included), `payload_len` bytes.
    pub fn payload(&self) -> &[u8] {
        &self.b()[field::PAYLOAD..field::PAYLOAD + usize::from(self.payload_len())]
    }
    /// Walk the extension headers; `offset` is from the start of this header.
    pub fn upper_layer(&self) -> Result<UpperLayer> {
        let mut ul = skip_extension_headers(self.next_header(), self.payload())?;
        ul.offset += HEADER_LEN;
        Ok(ul)
    }
    /// The upper-layer protocol and its bytes, if reachable (not a later fragment).
    pub fn upper_layer_payload(&self) -> Result<(u8, &[u8])> {
        let ul = self.upper_layer()?;
        if ul.is_later_fragment() {
            return Err(Error::Unsupported("IPv6 non-first fragment"));
        }
        let end = HEADER_LEN + usize::from(self.payload_len());
        Ok((ul.protocol, &self.b()[ul.offset..end]))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Set version 6, traffic class and flow label in one word.
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let v = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        set_u32(self.bm(), field::VER_TC_FL, v);
    }
    /// Set traffic class, keeping version and flow label.
    pub fn set_traffic_class(&mut self, tc: u8) {
        let w = get_u32(self.b(), field::VER_TC_FL);
        let w = (w & 0xf00f_ffff) | (u32::from(tc) << 20);
        set_u32(self.bm(), field::VER_TC_FL, w);
    }
    /// Set flow label, keeping version and traffic class.
    pub fn set_flow_label(&mut self, fl: u32) {
        let w = get_u32(self.b(), field::VER_TC_FL);
        set_u32(
            self.bm(),
            field::VER_TC_FL,
            (w & 0xfff0_0000) | (fl & 0x000f_ffff),
        );
    }
    /// Set payload length.
    pub fn set_payload_len(&mut self, v: u16) {
        set_u16(self.bm(), field::LENGTH, v);
    }
    /// Set next header.
    pub fn set_next_header(&mut self, v: u8) {
        self.bm()[field::NXT_HDR] = v;
    }
    /// Set hop limit.
    pub fn set_hop_limit(&mut self, v: u8) {
        self.bm()[field::HOP_LIMIT] = v;
    }
    /// Set source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.bm()[field::SRC..field::SRC + 16].copy_from_slice(&a.octets());
    }
    /// Set destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.bm()[field::DST..field::DST + 16].copy_from_slice(&a.octets());
    }
    /// Mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = field::PAYLOAD + usize::from(self.payload_len());
        &mut self.bm()[field::PAYLOAD..end]
    }
}

impl<'a> Ipv6Packet<&'a [u8]> {
    /// The payload (extension headers included) with the buffer's lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        &self.buffer[field::PAYLOAD..field::PAYLOAD + usize::from(self.payload_len())]
    }
    /// Like [`Ipv6Packet::upper_layer_payload`], with the buffer's lifetime.
    pub fn into_upper_layer_payload(self) -> Result<(u8, &'a [u8])> {
        let ul = self.upper_layer()?;
        if ul.is_later_fragment() {
            return Err(Error::Unsupported("IPv6 non-first fragment"));
        }
        let end = HEADER_LEN + usize::from(self.payload_len());
        Ok((ul.protocol, &self.buffer[ul.offset..end]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x6b, 0x81, 0x23, 0x45, 0, payload.len() as u8, next, 64];
        v.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&"ff02::1".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn parse_and_build_fixed_header() {
        let buf = header(17, &[1, 2, 3, 4, 5, 6, 7, 8]);
        let p = Ipv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(
            (p.version(), p.traffic_class(), p.flow_label()),
            (6, 0xb8, 0x12345)
        );
        assert_eq!(
            (p.payload_len(), p.next_header(), p.hop_limit()),
            (8, 17, 64)
        );
        assert_eq!(p.src_addr(), "2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.dst_addr(), "ff02::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            p.upper_layer().unwrap(),
            UpperLayer {
                protocol: 17,
                offset: 40,
                fragment: None
            }
        );

        let mut out = vec![0u8; 48];
        let mut q = Ipv6Packet::new_unchecked(&mut out[..]);
        q.set_version_tc_flow(0, 0);
        q.set_traffic_class(0xb8);
        q.set_flow_label(0x12345);
        q.set_payload_len(8);
        q.set_next_header(17);
        q.set_hop_limit(64);
        q.set_src_addr(p.src_addr());
        q.set_dst_addr(p.dst_addr());
        q.payload_mut().copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(out, buf);
    }

    #[test]
    fn rejects() {
        let buf = header(17, &[0; 8]);
        assert_eq!(Ipv6Packet::new_checked(&buf[..47]), Err(Error::Truncated));
        assert_eq!(Ipv6Packet::new_checked(&buf[..39]), Err(Error::Truncated));
        let mut b = buf;
        b[0] = 0x4b;
        assert!(matches!(
            Ipv6Packet::new_checked(&b[..]),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn skips_extension_chain() {
        let mut ext = vec![];
        ext.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop -> routing (8 bytes)
        ext.extend_from_slice(&[60, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // routing 16 -> dstopts
        ext.extend_from_slice(&[51, 0, 0, 0, 0, 0, 0, 0]); // dstopts -> AH
        ext.extend_from_slice(&[44, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // AH len 1 => 12 bytes -> frag
        ext.extend_from_slice(&[6, 0, 0, 1, 0, 0, 0, 7]); // first fragment, M=1 -> TCP
        ext.extend_from_slice(&[0xaa; 20]);
        let buf = header(0, &ext);
        let p = Ipv6Packet::new_checked(&buf[..]).unwrap();
        let ul = p.upper_layer().unwrap();
        assert_eq!(
            ul,
            UpperLayer {
                protocol: 6,
                offset: 40 + 52,
                fragment: Some((0, true))
            }
        );
        assert!(!ul.is_later_fragment());
        let (proto, l4) = p.upper_layer_payload().unwrap();
        assert_eq!((proto, l4.len()), (6, 20));
        // Truncate inside the AH header.
        let short = header(0, &ext[..34]);
        let p = Ipv6Packet::new_checked(&short[..]).unwrap();
        assert_eq!(p.upper_layer(), Err(Error::Truncated));
    }

    #[test]
    fn solicited_node_address() {
        let a: Ipv6Addr = "2001:db8::aabb:ccdd".parse().unwrap();
        assert_eq!(
            solicited_node(a),
            "ff02::1:ffbb:ccdd".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn later_fragment() {
        let buf = header(44, &[17, 0, 0x05, 0x48, 0, 0, 0, 9, 0xde, 0xad]);
        let p = Ipv6Packet::new_checked(&buf[..]).unwrap();
        let ul = p.upper_layer().unwrap();
        assert_eq!(
            ul,
            UpperLayer {
                protocol: 17,
                offset: 48,
                fragment: Some((0xa9, false))
            }
        );
        assert!(ul.is_later_fragment());
        assert!(p.upper_layer_payload().is_err());
    }
}
