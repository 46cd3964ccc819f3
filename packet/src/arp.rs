//! ARP (RFC 826) for Ethernet/IPv4, the only combination a switch sees.
//!
//! The view validates `hlen == 6` and `plen == 4` in `new_checked` because
//! every later offset depends on them; with those fixed the packet is 28
//! bytes and the address accessors return [`EthernetAddress`] and
//! `Ipv4Addr` directly. Hardware/protocol *types* are not enforced: ARP
//! inspection wants to see (and drop) odd packets, not fail to parse them.

use std::net::Ipv4Addr;

use crate::bytes::{get_ipv4, get_u16, set_u16};
use crate::ethernet::EthernetAddress;
use crate::{Error, Result};

mod field {
    use core::ops::Range;
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;
/// `htype` for Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;
/// `oper` of a request.
pub const OPER_REQUEST: u16 = 1;
/// `oper` of a reply.
pub const OPER_REPLY: u16 = 2;
/// `oper` of a reverse (RARP) request (RFC 903).
pub const OPER_REVERSE_REQUEST: u16 = 3;

/// A view of an ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wrap without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wrap after checking length and the Ethernet/IPv4 address sizes.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validate what the accessors rely on.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < field::SHA.start {
            return Err(Error::Truncated);
        }
        if b[field::HLEN] != 6 || b[field::PLEN] != 4 {
            return Err(Error::Unsupported("ARP address lengths other than 6/4"));
        }
        if b.len() < PACKET_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type (1 = Ethernet).
    pub fn htype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::HTYPE)
    }
    /// Protocol type (0x0800 = IPv4).
    pub fn ptype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::PTYPE)
    }
    /// Hardware address length.
    pub fn hlen(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }
    /// Protocol address length.
    pub fn plen(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }
    /// Operation (1 request, 2 reply).
    pub fn oper(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::OPER)
    }
    /// Sender hardware address.
    pub fn sha(&self) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::SHA]);
        EthernetAddress(a)
    }
    /// Sender protocol address.
    pub fn spa(&self) -> Ipv4Addr {
        get_ipv4(self.buffer.as_ref(), field::SPA.start)
    }
    /// Target hardware address.
    pub fn tha(&self) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::THA]);
        EthernetAddress(a)
    }
    /// Target protocol address.
    pub fn tpa(&self) -> Ipv4Addr {
        get_ipv4(self.buffer.as_ref(), field::TPA.start)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Set hardware type.
    pub fn set_htype(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::HTYPE, v);
    }
    /// Set protocol type.
    pub fn set_ptype(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::PTYPE, v);
    }
    /// Set hardware address length.
    pub fn set_hlen(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }
    /// Set protocol address length.
    pub fn set_plen(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v;
    }
    /// Set operation.
    pub fn set_oper(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::OPER, v);
    }
    /// Set sender hardware address.
    pub fn set_sha(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&a.0);
    }
    /// Set sender protocol address.
    pub fn set_spa(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.octets());
    }
    /// Set target hardware address.
    pub fn set_tha(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&a.0);
    }
    /// Set target protocol address.
    pub fn set_tpa(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.octets());
    }

    /// Write the fixed Ethernet/IPv4 preamble (htype, ptype, hlen, plen) and
    /// the given operation and addresses.
    pub fn fill(
        &mut self,
        oper: u16,
        (sha, spa): (EthernetAddress, Ipv4Addr),
        (tha, tpa): (EthernetAddress, Ipv4Addr),
    ) {
        self.set_htype(HTYPE_ETHERNET);
        self.set_ptype(crate::ethernet::ethertype::IPV4);
        self.set_hlen(6);
        self.set_plen(4);
        self.set_oper(oper);
        self.set_sha(sha);
        self.set_spa(spa);
        self.set_tha(tha);
        self.set_tpa(tpa);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Who has 192.168.1.2? Tell 192.168.1.1 (02:00:00:00:00:01).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 192,
        168, 1, 1, 0, 0, 0, 0, 0, 0, 192, 168, 1, 2,
    ];

    #[test]
    fn parse_request() {
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(
            (p.htype(), p.ptype(), p.hlen(), p.plen()),
            (1, 0x0800, 6, 4)
        );
        assert_eq!(p.oper(), OPER_REQUEST);
        assert_eq!(p.sha(), EthernetAddress([2, 0, 0, 0, 0, 1]));
        assert_eq!(p.spa(), Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(p.tha(), EthernetAddress::ZERO);
        assert_eq!(p.tpa(), Ipv4Addr::new(192, 168, 1, 2));
    }

    #[test]
    fn build_request() {
        let mut b = [0xeeu8; 28];
        ArpPacket::new_unchecked(&mut b[..]).fill(
            OPER_REQUEST,
            (
                EthernetAddress([2, 0, 0, 0, 0, 1]),
                Ipv4Addr::new(192, 168, 1, 1),
            ),
            (EthernetAddress::ZERO, Ipv4Addr::new(192, 168, 1, 2)),
        );
        assert_eq!(b, REQUEST);
    }

    #[test]
    fn rejects_bad_lengths() {
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..27]),
            Err(Error::Truncated)
        );
        assert_eq!(ArpPacket::new_checked(&REQUEST[..5]), Err(Error::Truncated));
        let mut b = REQUEST;
        b[4] = 8;
        assert!(matches!(
            ArpPacket::new_checked(&b[..]),
            Err(Error::Unsupported(_))
        ));
    }
}
