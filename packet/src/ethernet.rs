//! Ethernet II frames and MAC addresses.
//!
//! [`EthernetFrame`] views the 14-byte header (destination, source,
//! EtherType) and the payload behind it. A VLAN-tagged frame is still an
//! Ethernet frame whose EtherType is a TPID; [`crate::vlan`] walks the tags.
//! The FCS is never present: every backend dvs uses strips it.
//!
//! [`EthernetAddress`] is a `[u8; 6]` newtype so that addresses print as
//! `aa:bb:cc:dd:ee:ff` and parse from that form; its field is public so the
//! datapath can keep treating it as plain bytes.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// Well-known EtherType values.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// Reverse ARP (what a migrated VM's host announces it with).
    pub const RARP: u16 = 0x8035;
    /// 802.1Q customer VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// 802.1ad service VLAN tag (QinQ outer tag).
    pub const QINQ: u16 = 0x88a8;
    /// Legacy pre-standard QinQ TPID.
    pub const QINQ_LEGACY: u16 = 0x9100;
    /// LLDP.
    pub const LLDP: u16 = 0x88cc;
}

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: usize = 12;
    pub const PAYLOAD: usize = 14;
}

/// Length of an untagged Ethernet header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// A 48-bit IEEE MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);
    /// 00:00:00:00:00:00.
    pub const ZERO: EthernetAddress = EthernetAddress([0; 6]);

    /// Build from a slice; `None` unless it is exactly six bytes.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        <[u8; 6]>::try_from(b).ok().map(EthernetAddress)
    }

    /// The raw octets.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// All ones.
    pub fn is_broadcast(&self) -> bool {
        self.0 == [0xff; 6]
    }

    /// Group bit set (includes broadcast).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Neither multicast nor broadcast.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Locally administered bit set.
    pub fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    /// The 33:33:xx:xx:xx:xx multicast MAC for an IPv6 multicast address.
    pub fn ipv6_multicast(addr: std::net::Ipv6Addr) -> Self {
        let o = addr.octets();
        EthernetAddress([0x33, 0x33, o[12], o[13], o[14], o[15]])
    }
}

impl From<[u8; 6]> for EthernetAddress {
    fn from(b: [u8; 6]) -> Self {
        EthernetAddress(b)
    }
}

impl From<EthernetAddress> for [u8; 6] {
    fn from(a: EthernetAddress) -> Self {
        a.0
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl FromStr for EthernetAddress {
    type Err = Error;

    /// Parse `aa:bb:cc:dd:ee:ff` (also accepts `-` as separator).
    fn from_str(s: &str) -> Result<Self> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in out.iter_mut() {
            let p = parts.next().ok_or(Error::Malformed("MAC address"))?;
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(Error::Malformed("MAC address"));
            }
            *byte = u8::from_str_radix(p, 16).map_err(|_| Error::Malformed("MAC address"))?;
        }
        if parts.next().is_some() {
            return Err(Error::Malformed("MAC address"));
        }
        Ok(EthernetAddress(out))
    }
}

/// A view of an Ethernet II frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wrap without checking; accessors panic if the buffer is too short.
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wrap after checking the buffer holds a full header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// `Err(Truncated)` if the header does not fit.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC.
    pub fn dst_addr(&self) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        EthernetAddress(a)
    }

    /// Source MAC.
    pub fn src_addr(&self) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        EthernetAddress(a)
    }

    /// EtherType (or TPID for tagged frames).
    pub fn ethertype(&self) -> u16 {
        crate::bytes::get_u16(self.buffer.as_ref(), field::ETHERTYPE)
    }

    /// Everything after the 14-byte header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Set the destination MAC.
    pub fn set_dst_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.0);
    }

    /// Set the source MAC.
    pub fn set_src_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.0);
    }

    /// Set the EtherType.
    pub fn set_ethertype(&mut self, v: u16) {
        crate::bytes::set_u16(self.buffer.as_mut(), field::ETHERTYPE, v);
    }

    /// Mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

impl<'a> EthernetFrame<&'a [u8]> {
    /// The payload with the buffer's lifetime, so the view can be dropped.
    pub fn into_payload(self) -> &'a [u8] {
        &self.buffer[field::PAYLOAD..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: [u8; 18] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0xde,
        0xad, 0xbe, 0xef,
    ];

    #[test]
    fn parse_and_rebuild() {
        let f = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.dst_addr(), EthernetAddress::BROADCAST);
        assert_eq!(f.src_addr(), EthernetAddress([2, 0, 0, 0, 0, 1]));
        assert_eq!(f.ethertype(), ethertype::ARP);
        assert_eq!(f.payload(), &[0xde, 0xad, 0xbe, 0xef]);

        let mut buf = [0u8; 18];
        let mut g = EthernetFrame::new_unchecked(&mut buf[..]);
        g.set_dst_addr(EthernetAddress::BROADCAST);
        g.set_src_addr(EthernetAddress([2, 0, 0, 0, 0, 1]));
        g.set_ethertype(0x0806);
        g.payload_mut().copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(buf, FRAME);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            EthernetFrame::new_checked(&FRAME[..13]),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn mac_display_parse() {
        let a: EthernetAddress = "02:00:5e:0A:ff:01".parse().unwrap();
        assert_eq!(a, EthernetAddress([2, 0, 0x5e, 0x0a, 0xff, 1]));
        assert_eq!(a.to_string(), "02:00:5e:0a:ff:01");
        assert!(a.is_unicast() && a.is_local());
        assert!("02:00:5e:0a:ff".parse::<EthernetAddress>().is_err());
        assert!("02:00:5e:0a:ff:01:02".parse::<EthernetAddress>().is_err());
        assert!("02:00:5e:0a:ff:zz".parse::<EthernetAddress>().is_err());
        assert!("02:00:5e:0a:ff:".parse::<EthernetAddress>().is_err());
        let m = EthernetAddress::ipv6_multicast("ff02::1:ff00:1234".parse().unwrap());
        assert_eq!(m.to_string(), "33:33:ff:00:12:34");
        assert!(m.is_multicast());
    }
}
