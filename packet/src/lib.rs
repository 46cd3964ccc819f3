//! Zero-copy header views, builders and checksums for the dvs data plane.
//!
//! Every protocol gets a *view*: a thin struct wrapping any `T: AsRef<[u8]>`
//! (a `&[u8]`, a `&mut [u8]`, a `Vec<u8>`, a pool buffer) that reads and
//! writes header fields in place, in network byte order, without copying the
//! packet or parsing it into an owned representation first. This is the
//! shape of smoltcp's `wire` module and it suits a switch: the datapath only
//! ever looks at a handful of fields per packet, so decoding everything up
//! front would be wasted work, and editing in place (set a VLAN, rewrite an
//! address, patch a checksum) needs a mutable view, not a copy.
//!
//! Each view has two constructors. `new_unchecked` trusts the caller and is
//! for buffers the program built itself; `new_checked` validates every length
//! field the accessors rely on (IHL, total length, data offset, ...) so that
//! after it succeeds *no accessor can panic*, whatever bytes arrived from a VM
//! or the wire. Accessors whose presence depends on the message type (an
//! ICMPv6 target address, a DHCP option) return `Option` instead. The
//! `tests/no_panic.rs` property test holds the crate to that promise.
//!
//! Field offsets live in one private `mod field` per protocol; accessors are
//! named after the RFC fields. Addresses use plain types: [`EthernetAddress`]
//! (a `[u8; 6]` newtype), `std::net::Ipv4Addr` and `std::net::Ipv6Addr`.
//!
//! [`checksum`] holds the internet checksum, the IPv4/IPv6 pseudo-header sums
//! and RFC 1624 incremental updates; [`sctp`] the SCTP common header and its
//! CRC32c; [`build`] writes complete, correctly checksummed frames for tests
//! and benchmarks; [`vlan`] also offers in-place tag push/pop helpers for
//! buffers with headroom.

pub mod arp;
pub mod build;
pub mod checksum;
pub mod dhcp;
pub mod ethernet;
pub mod icmp;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod layout;
pub mod sctp;
pub mod tcp;
pub mod udp;
pub mod vlan;

pub use arp::ArpPacket;
pub use checksum::PseudoHeader;
pub use dhcp::DhcpPacket;
pub use ethernet::{EthernetAddress, EthernetFrame};
pub use icmp::Icmpv4Packet;
pub use icmpv6::Icmpv6Packet;
pub use ipv4::Ipv4Packet;
pub use ipv6::Ipv6Packet;
pub use tcp::TcpPacket;
pub use udp::UdpPacket;
pub use vlan::VlanTag;

/// Why a buffer could not be viewed as (or written as) a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than the header or a length field claims.
    #[error("buffer truncated")]
    Truncated,
    /// A field holds a value the protocol forbids (bad version, IHL < 5, ...).
    #[error("malformed header: {0}")]
    Malformed(&'static str),
    /// The header is well formed but uses a variant this crate does not handle.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
}

/// Result alias used throughout the crate.
pub type Result<T> = core::result::Result<T, Error>;

/// IP protocol numbers (IPv4 `protocol`, IPv6 `next_header`).
pub mod ip_protocol {
    /// IPv6 hop-by-hop options.
    pub const HOPOPT: u8 = 0;
    /// ICMP for IPv4.
    pub const ICMP: u8 = 1;
    /// IGMP.
    pub const IGMP: u8 = 2;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 routing header.
    pub const IPV6_ROUTE: u8 = 43;
    /// IPv6 fragment header.
    pub const IPV6_FRAG: u8 = 44;
    /// Encapsulating security payload.
    pub const ESP: u8 = 50;
    /// Authentication header.
    pub const AH: u8 = 51;
    /// ICMP for IPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 "no next header".
    pub const IPV6_NONXT: u8 = 59;
    /// IPv6 destination options.
    pub const IPV6_OPTS: u8 = 60;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// Big-endian field access shared by the views. Callers guarantee bounds.
pub(crate) mod bytes {
    #[inline]
    pub fn get_u16(b: &[u8], off: usize) -> u16 {
        u16::from_be_bytes([b[off], b[off + 1]])
    }
    #[inline]
    pub fn get_u32(b: &[u8], off: usize) -> u32 {
        u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
    }
    #[inline]
    pub fn set_u16(b: &mut [u8], off: usize, v: u16) {
        b[off..off + 2].copy_from_slice(&v.to_be_bytes());
    }
    #[inline]
    pub fn set_u32(b: &mut [u8], off: usize, v: u32) {
        b[off..off + 4].copy_from_slice(&v.to_be_bytes());
    }
    #[inline]
    pub fn get_ipv4(b: &[u8], off: usize) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::new(b[off], b[off + 1], b[off + 2], b[off + 3])
    }
    #[inline]
    pub fn get_ipv6(b: &[u8], off: usize) -> std::net::Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&b[off..off + 16]);
        std::net::Ipv6Addr::from(a)
    }
}
