//! DHCPv4 messages (RFC 2131/2132), as far as a switch needs them.
//!
//! DHCP isolation and snooping need to know *who is talking* (op, chaddr,
//! xid), *what kind of message* it is (option 53) and *what was handed out*
//! (yiaddr). The view wraps a UDP payload: `new_checked` requires the
//! 236-byte BOOTP header plus the magic cookie, and the options are read
//! lazily by [`DhcpOptionIter`] (pad skipped, end stops, a length running past
//! the buffer is an error). Option overload (option 52 moving options into
//! `sname`/`file`) is not followed: no client in practice puts option 53 there.

use std::net::Ipv4Addr;

use crate::bytes::{get_ipv4, get_u16, get_u32, set_u16, set_u32};
use crate::ethernet::EthernetAddress;
use crate::{Error, Result};

mod field {
    pub const OP: usize = 0;
    pub const HTYPE: usize = 1;
    pub const HLEN: usize = 2;
    pub const HOPS: usize = 3;
    pub const XID: usize = 4;
    pub const SECS: usize = 8;
    pub const FLAGS: usize = 10;
    pub const CIADDR: usize = 12;
    pub const YIADDR: usize = 16;
    pub const SIADDR: usize = 20;
    pub const GIADDR: usize = 24;
    pub const CHADDR: usize = 28;
    pub const MAGIC: usize = 236;
    pub const OPTIONS: usize = 240;
}

/// Length of the fixed part including the magic cookie.
pub const MIN_LEN: usize = field::OPTIONS;
/// The magic cookie 99.130.83.99.
pub const MAGIC_COOKIE: u32 = 0x6382_5363;
/// UDP port of servers.
pub const SERVER_PORT: u16 = 67;
/// UDP port of clients.
pub const CLIENT_PORT: u16 = 68;
/// `op` of a client request.
pub const OP_BOOTREQUEST: u8 = 1;
/// `op` of a server reply.
pub const OP_BOOTREPLY: u8 = 2;

/// Option codes.
pub mod option {
    /// Padding.
    pub const PAD: u8 = 0;
    /// Subnet mask.
    pub const SUBNET_MASK: u8 = 1;
    /// Router.
    pub const ROUTER: u8 = 3;
    /// Requested IP address.
    pub const REQUESTED_IP: u8 = 50;
    /// Lease time.
    pub const LEASE_TIME: u8 = 51;
    /// DHCP message type.
    pub const MESSAGE_TYPE: u8 = 53;
    /// Server identifier.
    pub const SERVER_ID: u8 = 54;
    /// End of options.
    pub const END: u8 = 255;
}

/// Values of option 53.
pub mod message_type {
    /// DHCPDISCOVER.
    pub const DISCOVER: u8 = 1;
    /// DHCPOFFER.
    pub const OFFER: u8 = 2;
    /// DHCPREQUEST.
    pub const REQUEST: u8 = 3;
    /// DHCPDECLINE.
    pub const DECLINE: u8 = 4;
    /// DHCPACK.
    pub const ACK: u8 = 5;
    /// DHCPNAK.
    pub const NAK: u8 = 6;
    /// DHCPRELEASE.
    pub const RELEASE: u8 = 7;
    /// DHCPINFORM.
    pub const INFORM: u8 = 8;
}

/// True for message types only a server sends (OFFER, ACK, NAK).
pub fn is_server_message_type(t: u8) -> bool {
    matches!(
        t,
        message_type::OFFER | message_type::ACK | message_type::NAK
    )
}

/// The DHCP message type (option 53) of a UDP payload.
pub fn message_type_of(udp_payload: &[u8]) -> Result<u8> {
    DhcpPacket::new_checked(udp_payload)?
        .message_type()
        .ok_or(Error::Malformed("DHCP message type option missing"))
}

/// A view of a DHCPv4 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DhcpPacket<T> {
    /// Wrap without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        DhcpPacket { buffer }
    }

    /// Wrap after checking the fixed header and the magic cookie.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        if p.b().len() < MIN_LEN {
            return Err(Error::Truncated);
        }
        if p.magic_cookie() != MAGIC_COOKIE {
            return Err(Error::Malformed("DHCP magic cookie"));
        }
        Ok(p)
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// 1 = BOOTREQUEST, 2 = BOOTREPLY.
    pub fn op(&self) -> u8 {
        self.b()[field::OP]
    }
    /// Hardware type (1 = Ethernet).
    pub fn htype(&self) -> u8 {
        self.b()[field::HTYPE]
    }
    /// Hardware address length.
    pub fn hlen(&self) -> u8 {
        self.b()[field::HLEN]
    }
    /// Relay hops.
    pub fn hops(&self) -> u8 {
        self.b()[field::HOPS]
    }
    /// Transaction ID.
    pub fn xid(&self) -> u32 {
        get_u32(self.b(), field::XID)
    }
    /// Seconds since the client began.
    pub fn secs(&self) -> u16 {
        get_u16(self.b(), field::SECS)
    }
    /// Flags (0x8000 = broadcast).
    pub fn flags(&self) -> u16 {
        get_u16(self.b(), field::FLAGS)
    }
    /// Client IP address.
    pub fn ciaddr(&self) -> Ipv4Addr {
        get_ipv4(self.b(), field::CIADDR)
    }
    /// "Your" (offered/assigned) IP address.
    pub fn yiaddr(&self) -> Ipv4Addr {
        get_ipv4(self.b(), field::YIADDR)
    }
    /// Next server IP address.
    pub fn siaddr(&self) -> Ipv4Addr {
        get_ipv4(self.b(), field::SIADDR)
    }
    /// Relay agent IP address.
    pub fn giaddr(&self) -> Ipv4Addr {
        get_ipv4(self.b(), field::GIADDR)
    }
    /// Client hardware address (first six bytes of `chaddr`).
    pub fn chaddr(&self) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.b()[field::CHADDR..field::CHADDR + 6]);
        EthernetAddress(a)
    }
    /// The magic cookie field.
    pub fn magic_cookie(&self) -> u32 {
        get_u32(self.b(), field::MAGIC)
    }
    /// Raw option bytes.
    pub fn options(&self) -> &[u8] {
        &self.b()[field::OPTIONS..]
    }
    /// Iterate over the options.
    pub fn option_iter(&self) -> DhcpOptionIter<'_> {
        DhcpOptionIter {
            data: self.options(),
        }
    }
    /// Body of the first well-formed option with `code`.
    pub fn find_option(&self, code: u8) -> Option<&[u8]> {
        self.option_iter()
            .map_while(|o| o.ok())
            .find(|o| o.code == code)
            .map(|o| o.data)
    }
    /// Option 53, if present with a one-byte body.
    pub fn message_type(&self) -> Option<u8> {
        match self.find_option(option::MESSAGE_TYPE) {
            Some(&[t]) => Some(t),
            _ => None,
        }
    }
    /// True if option 53 says OFFER, ACK or NAK.
    pub fn is_server_message(&self) -> bool {
        self.message_type().is_some_and(is_server_message_type)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> DhcpPacket<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    /// Set op.
    pub fn set_op(&mut self, v: u8) {
        self.bm()[field::OP] = v;
    }
    /// Set hardware type and length (Ethernet: 1, 6).
    pub fn set_hardware(&mut self, htype: u8, hlen: u8) {
        self.bm()[field::HTYPE] = htype;
        self.bm()[field::HLEN] = hlen;
    }
    /// Set hops.
    pub fn set_hops(&mut self, v: u8) {
        self.bm()[field::HOPS] = v;
    }
    /// Set transaction ID.
    pub fn set_xid(&mut self, v: u32) {
        set_u32(self.bm(), field::XID, v);
    }
    /// Set seconds.
    pub fn set_secs(&mut self, v: u16) {
        set_u16(self.bm(), field::SECS, v);
    }
    /// Set flags.
    pub fn set_flags(&mut self, v: u16) {
        set_u16(self.bm(), field::FLAGS, v);
    }
    /// Set ciaddr.
    pub fn set_ciaddr(&mut self, a: Ipv4Addr) {
        self.bm()[field::CIADDR..field::CIADDR + 4].copy_from_slice(&a.octets());
    }
    /// Set yiaddr.
    pub fn set_yiaddr(&mut self, a: Ipv4Addr) {
        self.bm()[field::YIADDR..field::YIADDR + 4].copy_from_slice(&a.octets());
    }
    /// Set siaddr.
    pub fn set_siaddr(&mut self, a: Ipv4Addr) {
        self.bm()[field::SIADDR..field::SIADDR + 4].copy_from_slice(&a.octets());
    }
    /// Set giaddr.
    pub fn set_giaddr(&mut self, a: Ipv4Addr) {
        self.bm()[field::GIADDR..field::GIADDR + 4].copy_from_slice(&a.octets());
    }
    /// Set the first six bytes of chaddr.
    pub fn set_chaddr(&mut self, a: EthernetAddress) {
        self.bm()[field::CHADDR..field::CHADDR + 6].copy_from_slice(&a.0);
    }
    /// Write the magic cookie.
    pub fn set_magic_cookie(&mut self) {
        set_u32(self.bm(), field::MAGIC, MAGIC_COOKIE);
    }
    /// Mutable option bytes.
    pub fn options_mut(&mut self) -> &mut [u8] {
        &mut self.bm()[field::OPTIONS..]
    }
}

/// One DHCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpOption<'a> {
    /// Option code.
    pub code: u8,
    /// Option body.
    pub data: &'a [u8],
}

/// Iterator over DHCP options: skips PAD, stops at END or the buffer end,
/// yields one error and stops on a length running past the buffer.
#[derive(Debug, Clone)]
pub struct DhcpOptionIter<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for DhcpOptionIter<'a> {
    type Item = Result<DhcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&code, rest) = self.data.split_first()?;
            match code {
                option::PAD => self.data = rest,
                option::END => {
                    self.data = &[];
                    return None;
                }
                _ => {
                    let len = rest.first().map(|&l| usize::from(l));
                    return match len {
                        Some(l) if l < rest.len() => {
                            let data = &rest[1..1 + l];
                            self.data = &rest[1 + l..];
                            Some(Ok(DhcpOption { code, data }))
                        }
                        _ => {
                            self.data = &[];
                            Some(Err(Error::Malformed("DHCP option length")))
                        }
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discover() -> Vec<u8> {
        let mut v = vec![0u8; 240];
        v[..4].copy_from_slice(&[1, 1, 6, 0]);
        v[4..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        v[10] = 0x80;
        v[28..34].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
        v[236..240].copy_from_slice(&[99, 130, 83, 99]);
        v.extend_from_slice(&[0, 0, 53, 1, 1, 50, 4, 10, 0, 0, 7, 255, 0, 0]);
        v
    }

    #[test]
    fn parse_discover() {
        let buf = discover();
        let p = DhcpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!((p.op(), p.htype(), p.hlen(), p.hops()), (1, 1, 6, 0));
        assert_eq!((p.xid(), p.secs(), p.flags()), (0xdead_beef, 0, 0x8000));
        assert_eq!(p.chaddr(), EthernetAddress([2, 0, 0, 0, 0, 9]));
        assert_eq!(p.yiaddr(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(p.message_type(), Some(message_type::DISCOVER));
        assert!(!p.is_server_message());
        assert_eq!(
            p.find_option(option::REQUESTED_IP),
            Some(&[10, 0, 0, 7][..])
        );
        assert_eq!(p.find_option(option::SERVER_ID), None);
        assert_eq!(p.option_iter().count(), 2);
        assert_eq!(message_type_of(&buf), Ok(1));
    }

    #[test]
    fn build_matches_and_rejects() {
        let mut out = vec![0u8; 254];
        let mut p = DhcpPacket::new_unchecked(&mut out[..]);
        p.set_op(OP_BOOTREQUEST);
        p.set_hardware(1, 6);
        p.set_xid(0xdead_beef);
        p.set_flags(0x8000);
        p.set_chaddr(EthernetAddress([2, 0, 0, 0, 0, 9]));
        p.set_magic_cookie();
        p.options_mut()
            .copy_from_slice(&[0, 0, 53, 1, 1, 50, 4, 10, 0, 0, 7, 255, 0, 0]);
        assert_eq!(out, discover());

        let buf = discover();
        assert_eq!(DhcpPacket::new_checked(&buf[..239]), Err(Error::Truncated));
        let mut bad = buf.clone();
        bad[239] = 0;
        assert!(matches!(
            DhcpPacket::new_checked(&bad[..]),
            Err(Error::Malformed(_))
        ));
        let mut trunc = buf[..244].to_vec();
        trunc[243] = 9; // option 53 claims 9 bytes
        let p = DhcpPacket::new_checked(&trunc[..]).unwrap();
        assert_eq!(p.message_type(), None);
        assert!(p.option_iter().next().unwrap().is_err());
        assert!(message_type_of(&trunc).is_err());
    }

    #[test]
    fn server_message() {
        let mut buf = discover();
        buf[244] = message_type::ACK;
        buf[16..20].copy_from_slice(&[10, 0, 0, 7]);
        let p = DhcpPacket::new_checked(&buf[..]).unwrap();
        assert!(p.is_server_message());
        assert_eq!(p.yiaddr(), Ipv4Addr::new(10, 0, 0, 7));
    }
}
