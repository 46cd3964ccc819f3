//! Frames for `osken_of13.rs`, built and taken apart by hand, independently of the switch's
//! `packet` crate: the test must not check dvs's rewriting with dvs's own code. Builders fill
//! every checksum (IPv4 header, UDP, SCTP's CRC32c, ICMPv6); the views read the fields the test
//! asserts on, and the `*_ok` functions recompute each checksum from scratch.
//!
//! Field offsets are those of the RFCs: Ethernet II (14 bytes, no tag), an MPLS label stack
//! entry (RFC 3032: label 20 bits, TC 3, bottom of stack 1, TTL 8), IPv4 without options
//! (RFC 791), IPv6 (RFC 8200) with an optional 8-byte fragment header, UDP (RFC 768), SCTP
//! (RFC 9260, CRC32c stored least significant byte first as Linux and scapy do) and the
//! neighbor solicitation with a source link-layer address option (RFC 4861).

use std::net::{Ipv4Addr, Ipv6Addr};

pub const ETH_IPV4: u16 = 0x0800;
pub const ETH_IPV6: u16 = 0x86dd;
pub const ETH_MPLS: u16 = 0x8847;

/// One's-complement sum of `data` (odd length padded), not yet inverted.
fn sum16(mut acc: u32, data: &[u8]) -> u32 {
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        acc += u32::from(w);
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// CRC32c (Castagnoli, reflected 0x82f63b78), as SCTP uses it.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 packet (no options, DF set, id 0x1717) with its header checksum.
pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0x00];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0x17, 0x17, 0x40, 0x00, ttl, proto, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let c = fold(sum16(0, &h));
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// A UDP datagram over IPv4 with its checksum.
pub fn udp4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut u = sport.to_be_bytes().to_vec();
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    let c = l4_sum4(src, dst, 17, &u);
    u[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    u
}

fn l4_sum4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, seg: &[u8]) -> u16 {
    let mut ph = src.octets().to_vec();
    ph.extend_from_slice(&dst.octets());
    ph.extend_from_slice(&[0, proto]);
    ph.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    fold(sum16(sum16(0, &ph), seg))
}

fn l4_sum6(src: Ipv6Addr, dst: Ipv6Addr, proto: u8, seg: &[u8]) -> u16 {
    let mut ph = src.octets().to_vec();
    ph.extend_from_slice(&dst.octets());
    ph.extend_from_slice(&(seg.len() as u32).to_be_bytes());
    ph.extend_from_slice(&[0, 0, 0, proto]);
    fold(sum16(sum16(0, &ph), seg))
}

/// An Ethernet frame carrying IPv4 UDP `sport -> dport` with IP TTL `ttl`.
pub fn udp4_frame(dst: [u8; 6], src: [u8; 6], dport: u16, ttl: u8, data: &[u8]) -> Vec<u8> {
    let (s, d) = (Ipv4Addr::new(10, 17, 0, 1), Ipv4Addr::new(10, 17, 0, 2));
    let ip = ipv4(s, d, 17, ttl, &udp4(s, d, 1717, dport, data));
    eth(dst, src, ETH_IPV4, &ip)
}

/// `frame` (untagged Ethernet) with one MPLS entry pushed under the Ethernet header.
pub fn mpls_over(frame: &[u8], label: u32, tc: u8, bos: bool, ttl: u8) -> Vec<u8> {
    let lse = (label << 12) | (u32::from(tc) << 9) | (u32::from(bos) << 8) | u32::from(ttl);
    let mut f = frame[..12].to_vec();
    f.extend_from_slice(&ETH_MPLS.to_be_bytes());
    f.extend_from_slice(&lse.to_be_bytes());
    f.extend_from_slice(&frame[14..]);
    f
}

/// IPv4 SCTP `2000 -> dport` with one DATA chunk and a valid CRC32c.
pub fn sctp4_frame(dst: [u8; 6], src: [u8; 6], dport: u16) -> Vec<u8> {
    let mut s = 2000u16.to_be_bytes().to_vec();
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&0x1122_3344u32.to_be_bytes());
    s.extend_from_slice(&[0; 4]);
    // DATA chunk: type 0, flags B|E, length 16 + 14, TSN, stream, seq, PPID, data, padding.
    s.extend_from_slice(&[0, 3, 0, 30]);
    s.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    s.extend_from_slice(b"hello-sctp-dvs\0\0");
    let c = crc32c(&s);
    s[8..12].copy_from_slice(&c.to_le_bytes());
    let ip = ipv4(
        Ipv4Addr::new(10, 17, 0, 1),
        Ipv4Addr::new(10, 17, 0, 3),
        132,
        64,
        &s,
    );
    eth(dst, src, ETH_IPV4, &ip)
}

fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, hops: u8, payload: &[u8]) -> Vec<u8> {
    // Version 6, traffic class 0, flow label 0x1717.
    let mut h = vec![0x60, 0x00, 0x17, 0x17];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, hops]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h.extend_from_slice(payload);
    h
}

/// IPv6 UDP, behind a fragment header (first fragment, more follow) when `frag`.
pub fn udp6_frame(dst: [u8; 6], src: [u8; 6], frag: bool) -> Vec<u8> {
    let (s, d): (Ipv6Addr, Ipv6Addr) = (
        "2001:db8:17::1".parse().expect("v6"),
        "2001:db8:17::2".parse().expect("v6"),
    );
    let data = b"ipv6-exthdr-dvs";
    let mut u = 1717u16.to_be_bytes().to_vec();
    u.extend_from_slice(&4017u16.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    let c = l4_sum6(s, d, 17, &u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    let (next, payload) = if frag {
        // Next header UDP, offset 0 with M=1, identification 0x17.
        let mut p = vec![17, 0, 0, 1, 0, 0, 0, 0x17];
        p.extend_from_slice(&u);
        (44, p)
    } else {
        (17, u)
    };
    eth(dst, src, ETH_IPV6, &ipv6(s, d, next, 64, &payload))
}

/// A neighbor solicitation from `src` (2001:db8:17::1) for `target`, with a source link-layer
/// address option carrying `src`, to the target's solicited-node group.
pub fn neighbor_solicitation(src: [u8; 6], target: Ipv6Addr) -> Vec<u8> {
    let s: Ipv6Addr = "2001:db8:17::1".parse().expect("v6");
    let t = target.octets();
    let d = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(t[13]),
        u16::from_be_bytes([t[14], t[15]]),
    );
    let mut icmp = vec![135, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&t);
    icmp.extend_from_slice(&[1, 1]);
    icmp.extend_from_slice(&src);
    let c = l4_sum6(s, d, 58, &icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let o = d.octets();
    let mdst = [0x33, 0x33, o[12], o[13], o[14], o[15]];
    eth(mdst, src, ETH_IPV6, &ipv6(s, d, 58, 255, &icmp))
}

/// Ethernet II fields of a received frame.
pub struct Eth<'a> {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    pub ethertype: u16,
    pub payload: &'a [u8],
}

pub fn parse_eth(f: &[u8]) -> Option<Eth<'_>> {
    if f.len() < 14 {
        return None;
    }
    Some(Eth {
        dst: f[0..6].try_into().ok()?,
        src: f[6..12].try_into().ok()?,
        ethertype: u16::from_be_bytes([f[12], f[13]]),
        payload: &f[14..],
    })
}

/// An MPLS label stack entry.
#[derive(Debug, PartialEq, Eq)]
pub struct Lse {
    pub label: u32,
    pub tc: u8,
    pub bos: bool,
    pub ttl: u8,
}

pub fn parse_lse(b: &[u8]) -> Option<Lse> {
    let w = u32::from_be_bytes(b.get(0..4)?.try_into().ok()?);
    Some(Lse {
        label: w >> 12,
        tc: ((w >> 9) & 7) as u8,
        bos: (w >> 8) & 1 == 1,
        ttl: (w & 0xff) as u8,
    })
}

/// Whether an IPv4 packet (no options) has a valid header checksum and, for UDP, a valid UDP
/// checksum.
pub fn ipv4_ok(ip: &[u8]) -> bool {
    if ip.len() < 20 || ip[0] != 0x45 || fold(sum16(0, &ip[..20])) != 0 {
        return false;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if total > ip.len() {
        return false;
    }
    if ip[9] == 17 {
        let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        return l4_sum4(src, dst, 17, &ip[20..total]) == 0;
    }
    true
}

/// The SCTP common header and CRC32c check of an IPv4 SCTP packet: (src, dst, crc ok).
pub fn sctp4(ip: &[u8]) -> Option<(u16, u16, bool)> {
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let s = ip.get(20..total)?;
    if s.len() < 12 {
        return None;
    }
    let stored = u32::from_le_bytes(s[8..12].try_into().ok()?);
    let mut zeroed = s.to_vec();
    zeroed[8..12].fill(0);
    Some((
        u16::from_be_bytes([s[0], s[1]]),
        u16::from_be_bytes([s[2], s[3]]),
        crc32c(&zeroed) == stored,
    ))
}

/// An ICMPv6 neighbor solicitation: (target, source link-layer address option, checksum ok).
pub fn nd_solicit(ip6: &[u8]) -> Option<(Ipv6Addr, Option<[u8; 6]>, bool)> {
    if ip6.len() < 40 || ip6[6] != 58 {
        return None;
    }
    let plen = usize::from(u16::from_be_bytes([ip6[4], ip6[5]]));
    let icmp = ip6.get(40..40 + plen)?;
    if icmp.len() < 24 || icmp[0] != 135 {
        return None;
    }
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip6[8..24]).ok()?);
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&ip6[24..40]).ok()?);
    let target = Ipv6Addr::from(<[u8; 16]>::try_from(&icmp[8..24]).ok()?);
    let mut sll = None;
    let mut opts = &icmp[24..];
    while opts.len() >= 8 {
        let len = usize::from(opts[1]) * 8;
        if len == 0 || len > opts.len() {
            break;
        }
        if opts[0] == 1 {
            sll = opts[2..8].try_into().ok();
        }
        opts = &opts[len..];
    }
    Some((target, sll, l4_sum6(src, dst, 58, icmp) == 0))
}

/// Byte positions where `a` and `b` differ (and a length note), for failure messages.
pub fn diff(a: &[u8], b: &[u8]) -> String {
    let at: Vec<usize> = (0..a.len().min(b.len()))
        .filter(|&i| a[i] != b[i])
        .collect();
    format!(
        "lengths {} vs {}, differing bytes at {at:?}\nexpected {}\n     got {}",
        a.len(),
        b.len(),
        hex(a),
        hex(b)
    )
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn checksums_match_known_values() {
    // RFC 3720's CRC32c check value.
    assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    // The SCTP packet of `sctp4_frame` as scapy builds it (same chunk): CRC32c on the wire.
    let f = sctp4_frame([0; 6], [0; 6], 5000);
    let ip = &f[14..];
    assert_eq!(
        hex(&ip[20..]),
        "07d013881122334434778edc0003001e00000001000000000000000068656c6c6f2d736374702d6476730000"
    );
    assert!(ipv4_ok(ip));
    assert_eq!(sctp4(ip), Some((2000, 5000, true)));
    let ns = neighbor_solicitation([2, 0, 0, 0, 0, 1], "2001:db8::2".parse().expect("v6"));
    // As scapy builds it (checksum 0x1c10 included).
    assert_eq!(
        hex(&ns[14..]),
        "6000171700203aff20010db8001700000000000000000001ff0200000000000000000001ff000002\
         87001c100000000020010db80000000000000000000000020101020000000001"
    );
    let (t, sll, ok) = nd_solicit(&ns[14..]).expect("ns");
    assert_eq!(
        (t, sll, ok),
        (
            "2001:db8::2".parse().expect("v6"),
            Some([2, 0, 0, 0, 0, 1]),
            true
        )
    );
    assert!(ipv4_ok(&udp4_frame([0; 6], [0; 6], 4000, 50, b"x")[14..]));
}
