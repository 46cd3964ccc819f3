//! Software completion of TCP/UDP checksums for frames the kernel hands us "checksum not ready".
//!
//! A local stack sending over veth (or any device with checksum offload) leaves the transport
//! checksum as a pseudo-header seed and lets the skb carry "finish me" metadata
//! (`CHECKSUM_PARTIAL`). AF_PACKET reports that as `TP_STATUS_CSUMNOTREADY`, but the metadata does
//! not survive the copy into our pool: once the switch transmits the frame it is just bytes, and a
//! receiver would drop it as corrupt. So for exactly those frames we recompute the checksum over
//! the segment. Only plain IPv4 (unfragmented) and IPv6 without extension headers are handled,
//! behind any VLAN tags (`packet::layout`); anything else is left untouched (offload is only used
//! for those).

use packet::checksum::{combine, finish, pseudo_header_v4, pseudo_header_v6, sum};
use std::net::{Ipv4Addr, Ipv6Addr};

const TCP: u8 = 6;
const UDP: u8 = 17;

/// Recompute the TCP/UDP checksum of an Ethernet frame in place. Returns true if it did.
pub(super) fn complete_l4(frame: &mut [u8]) -> bool {
    let w = packet::layout::walk(frame);
    match w.ethertype {
        Some(0x0800) => ipv4(frame, w.l3),
        Some(0x86dd) => ipv6(frame, w.l3),
        _ => false,
    }
}

fn ipv4(frame: &mut [u8], l3: usize) -> bool {
    let Some(ip) = frame.get(l3..l3 + 20) else {
        return false;
    };
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
    let proto = ip[9];
    if ip[0] >> 4 != 4 || ihl < 20 || total < ihl || frag != 0 || l3 + total > frame.len() {
        return false;
    }
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let seg_len = total - ihl;
    let Ok(len16) = u16::try_from(seg_len) else {
        return false;
    };
    let pseudo = pseudo_header_v4(src, dst, proto, len16);
    fill(&mut frame[l3 + ihl..l3 + total], proto, pseudo)
}

fn ipv6(frame: &mut [u8], l3: usize) -> bool {
    let Some(ip) = frame.get(l3..l3 + 40) else {
        return false;
    };
    let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let next = ip[6];
    let mut a = [0u8; 16];
    a.copy_from_slice(&ip[8..24]);
    let src = Ipv6Addr::from(a);
    a.copy_from_slice(&ip[24..40]);
    let dst = Ipv6Addr::from(a);
    let start = l3 + 40;
    if start + plen > frame.len() {
        return false;
    }
    let pseudo = pseudo_header_v6(src, dst, next, plen as u32);
    fill(&mut frame[start..start + plen], next, pseudo)
}

/// Write the checksum of `seg` (a TCP or UDP segment) given the pseudo-header sum.
fn fill(seg: &mut [u8], proto: u8, pseudo: u16) -> bool {
    let at = match proto {
        TCP if seg.len() >= 20 => 16,
        UDP if seg.len() >= 8 => 6,
        _ => return false,
    };
    seg[at] = 0;
    seg[at + 1] = 0;
    let mut c = finish(combine(&[pseudo, sum(seg)]));
    if proto == UDP && c == 0 {
        c = 0xffff;
    }
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet + VLAN + IPv4 + UDP with a payload, checksum field holding garbage.
    fn udp4_tagged() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a, 0x08, 0x00]);
        let payload = b"hello, checksum";
        let udp_len = 8 + payload.len();
        let total = 20 + udp_len;
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            UDP,
            0,
            0,
        ]);
        f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, udp_len as u8, 0xde, 0xad]);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn completes_udp_over_vlan() {
        let mut f = udp4_tagged();
        assert!(complete_l4(&mut f));
        // Verify: pseudo-header + segment (with its checksum) sums to 0xffff.
        let l4 = 18 + 20;
        let seg = &f[l4..];
        let pseudo = pseudo_header_v4(
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            UDP,
            seg.len() as u16,
        );
        assert_eq!(combine(&[pseudo, sum(seg)]), 0xffff);
        assert_ne!(&f[l4 + 6..l4 + 8], &[0xde, 0xad]);
    }

    #[test]
    fn completes_tcp_over_ipv6() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x86, 0xdd]);
        let seg_len = 20 + 4;
        f.extend_from_slice(&[0x60, 0, 0, 0, 0, seg_len as u8, TCP, 64]);
        f.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        let mut tcp = vec![0u8; 20];
        tcp[12] = 0x50;
        tcp[16] = 0x12;
        tcp[17] = 0x34;
        f.extend_from_slice(&tcp);
        f.extend_from_slice(b"data");
        assert!(complete_l4(&mut f));
        let seg = &f[54..];
        let pseudo = pseudo_header_v6(
            "fe80::1".parse().unwrap(),
            "fe80::2".parse().unwrap(),
            TCP,
            seg.len() as u32,
        );
        assert_eq!(combine(&[pseudo, sum(seg)]), 0xffff);
    }

    #[test]
    fn leaves_other_frames_alone() {
        let mut arp = vec![0u8; 42];
        arp[12] = 0x08;
        arp[13] = 0x06;
        let before = arp.clone();
        assert!(!complete_l4(&mut arp));
        assert_eq!(arp, before);
        // Fragmented IPv4 is not touched.
        let mut f = udp4_tagged();
        f[18 + 6] = 0x20; // MF
        let before = f.clone();
        assert!(!complete_l4(&mut f));
        assert_eq!(f, before);
    }
}
