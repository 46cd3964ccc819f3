//! TCP checksum fill on transmit: for ports whose receivers need a correct TCP checksum (a guest
//! that did not negotiate checksum offload, whose sender left the checksum partial or wrong).
//!
//! Only ports that enable it pay: the transmit path checks one per-port flag (see
//! [`crate::egress`]) and only then walks the headers. Plain IPv4 (unfragmented: a fragment
//! does not carry the whole segment) and IPv6 whose next header is TCP are handled, behind any
//! VLAN tags; anything else, or a frame whose lengths do not add up, is left as it is.

use packet::checksum::{combine, finish, pseudo_header_v4, pseudo_header_v6, sum};
use packet::ip_protocol::TCP;
use packet::ipv4::Ipv4Packet;
use packet::ipv6::Ipv6Packet;

/// Offset of the checksum in the TCP header.
const TCP_CSUM: usize = 16;
const TCP_MIN: usize = 20;

/// Recompute the TCP checksum of Ethernet frame `frame` in place, if it carries a TCP segment.
/// Returns true when it wrote one.
pub fn fill_tcp(frame: &mut [u8]) -> bool {
    let w = packet::layout::walk(frame);
    let (seg, pseudo) = match w.ethertype {
        Some(0x0800) => match v4(frame, w.l3) {
            Some(x) => x,
            None => return false,
        },
        Some(0x86dd) => match v6(frame, w.l3) {
            Some(x) => x,
            None => return false,
        },
        _ => return false,
    };
    let Some(seg) = frame.get_mut(seg) else {
        return false;
    };
    seg[TCP_CSUM] = 0;
    seg[TCP_CSUM + 1] = 0;
    let c = finish(combine(&[pseudo, sum(seg)]));
    seg[TCP_CSUM..TCP_CSUM + 2].copy_from_slice(&c.to_be_bytes());
    true
}

/// The TCP segment's byte range and pseudo-header sum of the IPv4 packet at `l3` (checked by
/// the `packet` view: version, IHL, total length within the frame).
fn v4(frame: &[u8], l3: usize) -> Option<(std::ops::Range<usize>, u16)> {
    let ip = Ipv4Packet::new_checked(frame.get(l3..)?).ok()?;
    let (ihl, total) = (ip.header_len(), usize::from(ip.total_len()));
    if ip.protocol() != TCP || ip.is_fragment() || total < ihl + TCP_MIN {
        return None;
    }
    let len = u16::try_from(total - ihl).ok()?;
    let pseudo = pseudo_header_v4(ip.src_addr(), ip.dst_addr(), TCP, len);
    Some((l3 + ihl..l3 + total, pseudo))
}

/// The TCP segment's byte range and pseudo-header sum of the IPv6 packet at `l3`, when TCP is
/// its next header (checked by the `packet` view: version, payload length within the frame).
fn v6(frame: &[u8], l3: usize) -> Option<(std::ops::Range<usize>, u16)> {
    let ip = Ipv6Packet::new_checked(frame.get(l3..)?).ok()?;
    let plen = usize::from(ip.payload_len());
    if ip.next_header() != TCP || plen < TCP_MIN {
        return None;
    }
    let pseudo = pseudo_header_v6(ip.src_addr(), ip.dst_addr(), TCP, plen as u32);
    let start = l3 + 40;
    Some((start..start + plen, pseudo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn tcp4(payload: &[u8], csum: [u8; 2]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        let total = 20 + 20 + payload.len();
        f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0, 64]);
        f.extend_from_slice(&[TCP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&[0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18]);
        f.extend_from_slice(&[0xff, 0xff, csum[0], csum[1], 0, 0]);
        f.extend_from_slice(payload);
        f
    }

    fn valid_v4(f: &[u8]) -> bool {
        let seg = &f[34..];
        let ph = pseudo_header_v4(
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            TCP,
            seg.len() as u16,
        );
        combine(&[ph, sum(seg)]) == 0xffff
    }

    #[test]
    fn fixes_a_wrong_ipv4_checksum() {
        let mut f = tcp4(b"odd-length payload!", [0xde, 0xad]);
        assert!(!valid_v4(&f));
        assert!(fill_tcp(&mut f));
        assert!(valid_v4(&f));
        // Idempotent.
        let before = f.clone();
        assert!(fill_tcp(&mut f));
        assert_eq!(f, before);
    }

    #[test]
    fn fixes_tcp_over_ipv6_behind_a_tag() {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x0a];
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 24, TCP, 64]);
        f.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f.extend_from_slice(&[
            0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 1, 0, 9, 9, 0, 0,
        ]);
        f.extend_from_slice(b"abcd");
        assert!(fill_tcp(&mut f));
        let seg = &f[58..];
        let ph = pseudo_header_v6(
            "fe80::1".parse().expect("addr"),
            "fe80::2".parse().expect("addr"),
            TCP,
            seg.len() as u32,
        );
        assert_eq!(combine(&[ph, sum(seg)]), 0xffff);
    }

    #[test]
    fn leaves_other_frames_alone() {
        let mut f = tcp4(b"x", [1, 2]);
        f[23] = 17; // UDP
        let before = f.clone();
        assert!(!fill_tcp(&mut f));
        assert_eq!(f, before);
        let mut f = tcp4(b"x", [1, 2]);
        f[16] = 0xff; // total length beyond the frame
        assert!(!fill_tcp(&mut f));
        let mut arp = vec![0u8; 42];
        arp[12] = 0x08;
        arp[13] = 0x06;
        assert!(!fill_tcp(&mut arp));
    }
}
