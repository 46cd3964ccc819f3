//! Frame checks for the header-edit tests, written independently of the switch's code: where
//! the L3 and L4 headers are (VLAN tags and MPLS labels walked), checksums recomputed from
//! scratch, and a byte diff that names the offsets that differ.
#![allow(dead_code)]

/// Ethertypes the walk knows.
pub const VLAN: u16 = 0x8100;
pub const QINQ: u16 = 0x88a8;
pub const MPLS: u16 = 0x8847;
pub const MPLS_MC: u16 = 0x8848;

fn be16(f: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([f[o], f[o + 1]])
}

/// (ethertype after VLAN tags, its offset) of a frame.
pub fn ethertype(f: &[u8]) -> (u16, usize) {
    let mut o = 12;
    while matches!(be16(f, o), VLAN | QINQ) {
        o += 4;
    }
    (be16(f, o), o)
}

/// Offset of the L3 header and its kind (4 or 6), looking through MPLS labels by the first
/// nibble under the bottom of the stack.
pub fn l3(f: &[u8]) -> Option<(usize, u8)> {
    let (ty, o) = ethertype(f);
    let mut l3 = o + 2;
    match ty {
        0x0800 => Some((l3, 4)),
        0x86dd => Some((l3, 6)),
        MPLS | MPLS_MC => {
            loop {
                let bos = f.get(l3 + 2)? & 1;
                l3 += 4;
                if bos == 1 {
                    break;
                }
            }
            match f.get(l3)? >> 4 {
                4 => Some((l3, 4)),
                6 => Some((l3, 6)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn sum(data: &[u8], mut acc: u32) -> u32 {
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

/// Recompute every checksum of the frame (IPv4 header; TCP, UDP, ICMP, ICMPv6 and SCTP's CRC32c
/// over IPv4 or IPv6 without extension headers; a zero UDP-over-IPv4 checksum stays zero). Bytes past the
/// IP datagram (Ethernet padding) are left alone.
pub fn fix_checksums(f: &mut [u8]) {
    let Some((o, v)) = l3(f) else { return };
    let (proto, l4, end, pseudo) = if v == 4 {
        let ihl = usize::from(f[o] & 0x0f) * 4;
        f[o + 10] = 0;
        f[o + 11] = 0;
        let c = fold(sum(&f[o..o + ihl], 0));
        f[o + 10..o + 12].copy_from_slice(&c.to_be_bytes());
        let end = o + usize::from(be16(f, o + 2));
        let l4len = (end - o - ihl) as u32;
        let proto = f[o + 9];
        let pseudo = sum(&f[o + 12..o + 20], 0) + u32::from(proto) + l4len;
        (proto, o + ihl, end, pseudo)
    } else {
        let end = o + 40 + usize::from(be16(f, o + 4));
        let proto = f[o + 6];
        let l4len = (end - o - 40) as u32;
        let pseudo = sum(&f[o + 8..o + 40], 0) + u32::from(proto) + l4len;
        (proto, o + 40, end, pseudo)
    };
    // Fragments other than the first carry no L4 header.
    if v == 4 && be16(f, o + 6) & 0x1fff != 0 {
        return;
    }
    if proto == 132 {
        fix_sctp(&mut f[l4..end]);
        return;
    }
    let (at, with_pseudo) = match proto {
        6 => (16, true),
        17 => (6, true),
        1 => (2, false),
        58 => (2, true),
        _ => return,
    };
    if proto == 17 && v == 4 && be16(f, l4 + 6) == 0 {
        return;
    }
    f[l4 + at] = 0;
    f[l4 + at + 1] = 0;
    let acc = sum(&f[l4..end], if with_pseudo { pseudo } else { 0 });
    let mut c = fold(acc);
    if proto == 17 && c == 0 {
        c = 0xffff;
    }
    f[l4 + at..l4 + at + 2].copy_from_slice(&c.to_be_bytes());
}

/// CRC32c bit by bit (RFC 4960 appendix B; reflected polynomial 0x82F63B78), deliberately not
/// the switch's table-driven one.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Store the CRC32c of an SCTP packet (computed with the field zeroed, least significant byte
/// first on the wire).
fn fix_sctp(p: &mut [u8]) {
    if p.len() < 12 {
        return;
    }
    p[8..12].fill(0);
    let c = crc32c(p);
    p[8..12].copy_from_slice(&c.to_le_bytes());
}

/// True when every checksum of the frame is what a full recompute gives.
pub fn checksums_ok(f: &[u8]) -> bool {
    let mut g = f.to_vec();
    fix_checksums(&mut g);
    g == f
}

/// Offsets where `a` and `b` differ (and the lengths), for failure messages.
pub fn diff(a: &[u8], b: &[u8]) -> String {
    let mut out = format!("len {} vs {}:", a.len(), b.len());
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i), b.get(i));
        if x != y {
            out.push_str(&format!(" @{i}:{x:02x?}->{y:02x?}"));
        }
    }
    out
}

/// Test frames are built at least 60 bytes long (the Ethernet minimum), so that no padding
/// the headers do not account for is added on the way; this asserts it.
pub fn assert_min_len(f: &[u8]) {
    assert!(
        f.len() >= 60,
        "test frames must be >= 60 bytes, got {}",
        f.len()
    );
}
