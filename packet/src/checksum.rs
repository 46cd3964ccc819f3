//! The internet checksum (RFC 1071), pseudo-header sums and RFC 1624
//! incremental updates.
//!
//! Sums are kept as folded ones'-complement values (`u16`, *not* inverted)
//! so they compose: a transport checksum is `finish(combine(pseudo, data))`.
//! [`sum`] reads 32-bit big-endian words into a 64-bit accumulator, which is
//! equivalent to summing 16-bit words (2^16 is 1 modulo 2^16-1) while halving
//! the loop count; the fold happens once at the end.
//!
//! When the datapath rewrites a field it should not re-sum the whole packet:
//! [`update16`], [`update32`] and [`update_bytes`] apply RFC 1624 equation 3,
//! `HC' = ~(~HC + ~m + m')`, which is exact (no -0/+0 ambiguity). Beware the
//! one protocol quirk they cannot know about: an IPv4 UDP checksum of zero
//! means "no checksum" and must be left alone by the caller.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Fold a wide accumulator into a 16-bit ones'-complement sum.
#[inline]
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Ones'-complement sum of `data` as big-endian 16-bit words (odd trailing
/// byte padded with zero). Not inverted.
pub fn sum(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    acc += u64::from(u32::from_be_bytes(tail));
    fold(acc)
}

/// Ones'-complement addition of several partial sums.
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// Turn a partial sum into the value stored in a checksum field.
#[inline]
pub fn finish(partial: u16) -> u16 {
    !partial
}

/// The RFC 1071 internet checksum of `data`: what an IPv4 header or an ICMP
/// message stores (computed with the checksum field zeroed). Verifying a
/// buffer that contains its checksum yields 0.
pub fn internet_checksum(data: &[u8]) -> u16 {
    finish(sum(data))
}

/// Partial sum of the IPv4 pseudo-header (RFC 768/793).
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u16 {
    let mut acc = u64::from(u32::from(src)) + u64::from(u32::from(dst));
    acc += u64::from(protocol) + u64::from(length);
    fold(acc)
}

/// Partial sum of the IPv6 pseudo-header (RFC 8200 section 8.1).
pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, length: u32) -> u16 {
    let mut acc = u64::from(sum(&src.octets())) + u64::from(sum(&dst.octets()));
    acc += u64::from(length >> 16) + u64::from(length & 0xffff) + u64::from(next_header);
    fold(acc)
}

/// The addresses a TCP/UDP/ICMPv6 checksum covers, for either IP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PseudoHeader {
    /// IPv4 source and destination.
    V4 { src: Ipv4Addr, dst: Ipv4Addr },
    /// IPv6 source and destination.
    V6 { src: Ipv6Addr, dst: Ipv6Addr },
}

impl PseudoHeader {
    /// Partial sum of the pseudo-header for `protocol` and an upper-layer
    /// length of `length` bytes. IPv4 lengths above 65535 are truncated,
    /// which cannot happen for a real IPv4 payload.
    pub fn sum(&self, protocol: u8, length: usize) -> u16 {
        match *self {
            PseudoHeader::V4 { src, dst } => pseudo_header_v4(src, dst, protocol, length as u16),
            PseudoHeader::V6 { src, dst } => pseudo_header_v6(src, dst, protocol, length as u32),
        }
    }

    /// True for the IPv4 variant (where a zero UDP checksum means "none").
    pub fn is_v4(&self) -> bool {
        matches!(self, PseudoHeader::V4 { .. })
    }
}

/// Checksum field value for an upper-layer `segment` (its checksum field
/// zeroed) under the pseudo-header `ph`.
pub fn transport_checksum(ph: &PseudoHeader, protocol: u8, segment: &[u8]) -> u16 {
    finish(combine(&[ph.sum(protocol, segment.len()), sum(segment)]))
}

/// RFC 1624 eqn. 3: new checksum after a 16-bit field changed `old -> new`.
pub fn update16(checksum: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!checksum) + u64::from(!old) + u64::from(new))
}

/// RFC 1624 update for a 32-bit field (e.g. an IPv4 address or TCP seq).
pub fn update32(checksum: u16, old: u32, new: u32) -> u16 {
    let c = update16(checksum, (old >> 16) as u16, (new >> 16) as u16);
    update16(c, old as u16, new as u16)
}

/// RFC 1624 update for an arbitrary run of bytes that starts at an even
/// offset (e.g. an IPv6 address or a MAC inside an ICMPv6 option). `old` and
/// `new` must have the same length; if they do not, the shorter is treated as
/// zero-padded, which is still a well-defined (if meaningless) result.
pub fn update_bytes(checksum: u16, old: &[u8], new: &[u8]) -> u16 {
    !fold(u64::from(!checksum) + u64::from(!sum(old)) + u64::from(sum(new)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example: sum of 0001 f203 f4f5 f6f7 is ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
        assert_eq!(internet_checksum(&data), 0x220d);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
        assert_eq!(sum(&[0xab]), 0xab00);
        assert_eq!(sum(&[]), 0);
    }

    #[test]
    fn incremental_matches_recompute() {
        let mut data = [
            0x45u8, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 0x40, 1, 0, 0, 10, 0, 0, 1,
        ];
        let c0 = internet_checksum(&data);
        data[8] = 0x3f; // TTL 64 -> 63
        let c1 = update16(c0, 0x4001, 0x3f01);
        assert_eq!(c1, internet_checksum(&data));
        let old = u32::from_be_bytes([data[12], data[13], data[14], data[15]]);
        data[12..16].copy_from_slice(&[192, 168, 7, 9]);
        let c2 = update32(c1, old, u32::from_be_bytes([192, 168, 7, 9]));
        assert_eq!(c2, internet_checksum(&data));
        let c3 = update_bytes(c2, &data[12..16], &[1, 2, 3, 4]);
        data[12..16].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(c3, internet_checksum(&data));
    }

    #[test]
    fn pseudo_headers() {
        let v4 = pseudo_header_v4(
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            17,
            12,
        );
        // 0a00 + 0001 + 0a00 + 0002 + 0011 + 000c
        assert_eq!(v4, 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 0x0011 + 0x000c);
        let s: Ipv6Addr = "fe80::1".parse().unwrap();
        let d: Ipv6Addr = "ff02::1".parse().unwrap();
        let v6 = pseudo_header_v6(s, d, 58, 0x0001_0010);
        // fe80 + 0001 + ff02 + 0001 + 0001 + 0010 + 003a = 0x1_fdcf, folded 0xfdd0.
        assert_eq!(v6, 0xfdd0);
    }
}
