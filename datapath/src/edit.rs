//! In-place header edits: VLAN push/pop, set-field and TTL decrement, with checksum fix-up.
//!
//! Edits work on the raw frame: a VLAN push moves the 12 address bytes into the headroom (no copy
//! of the payload), a pop moves them back. Field rewrites patch checksums incrementally
//! (RFC 1624) over the 16-bit words that changed, so an edit costs the same for a 64-byte and a
//! 9000-byte frame. Offsets are found with a minimal walk (tags, IPv4 IHL, IPv6 without extension
//! headers for L4 edits); a frame that does not have the header an edit needs is left untouched
//! and the edit reports failure, which the caller counts.

use crate::mempool::Packet;
use flowtable::Field;
use packet::checksum;
use packet::vlan::is_tpid;

const ETH_HLEN: usize = 14;

/// Insert an outer tag.
pub fn push_vlan(p: &mut Packet, tpid: u16, tci: u16) -> bool {
    if p.len() < 12 || !p.push_front(4) {
        return false;
    }
    let d = p.data_mut();
    d.copy_within(4..16, 0);
    d[12..14].copy_from_slice(&tpid.to_be_bytes());
    d[14..16].copy_from_slice(&tci.to_be_bytes());
    true
}

/// Remove the outer tag (false if the frame is untagged).
pub fn pop_vlan(p: &mut Packet) -> bool {
    let d = p.data_mut();
    if d.len() < ETH_HLEN + 4 || !is_tpid(be16(d, 12)) {
        return false;
    }
    d.copy_within(0..12, 4);
    p.pull_front(4)
}

#[inline]
fn be16(d: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([d[off], d[off + 1]])
}

/// Header offsets of a frame (from the one walker, `packet::layout`).
struct Layout {
    l3: usize,
    eth_type: u16,
    /// L4 offset and protocol, when the L4 header is present (not a later fragment).
    l4: Option<(usize, u8)>,
}

fn layout(d: &[u8]) -> Option<Layout> {
    let w = packet::layout::walk(d);
    Some(Layout {
        l3: w.l3,
        eth_type: w.ethertype?,
        l4: w.l4(d),
    })
}

/// Offset of the L4 checksum for `proto`, if any.
fn l4_csum(proto: u8) -> Option<usize> {
    match proto {
        6 => Some(16),
        17 => Some(6),
        58 => Some(2),
        _ => None,
    }
}

/// Write `new` at `off` and patch the 16-bit ones'-complement checksums at `csums`
/// (`(offset, is_udp)`; a zero UDP checksum means "none" and stays zero).
fn rewrite(d: &mut [u8], off: usize, new: &[u8], csums: &[Option<(usize, bool)>]) -> bool {
    let end = off + new.len();
    let a = off & !1;
    let b = (end + 1) & !1;
    if b > d.len() || b - a > 18 {
        return false;
    }
    let mut old = [0u8; 18];
    old[..b - a].copy_from_slice(&d[a..b]);
    d[off..end].copy_from_slice(new);
    for &(c, is_udp) in csums.iter().flatten() {
        if c + 2 > d.len() {
            continue;
        }
        let hc = be16(d, c);
        if is_udp && hc == 0 {
            continue;
        }
        let mut hc2 = checksum::update_bytes(hc, &old[..b - a], &d[a..b]);
        if is_udp && hc2 == 0 {
            hc2 = 0xffff;
        }
        d[c..c + 2].copy_from_slice(&hc2.to_be_bytes());
    }
    true
}

/// Set a header field in the frame. Pipeline-only fields (metadata, registers, in_port) are a
/// no-op that succeeds.
pub fn set_field(p: &mut Packet, f: Field, v: u128) -> bool {
    let d = p.data_mut();
    let Some(lay) = layout(d) else { return false };
    let l3 = lay.l3;
    // Only whole headers are edited: a runt claiming to be IP or ARP is left alone.
    let ip4 = lay.eth_type == 0x0800 && d.len() >= l3 + 20;
    let ip6 = lay.eth_type == 0x86dd && d.len() >= l3 + 40;
    let arp = lay.eth_type == 0x0806 && d.len() >= l3 + 28;
    let l4 = lay.l4;
    // Checksums that cover the IP addresses via the pseudo-header.
    let pseudo: Option<(usize, bool)> = l4.and_then(|(o, proto)| {
        l4_csum(proto)
            .filter(|_| proto != 58 || ip6)
            .map(|c| (o + c, proto == 17))
    });
    let ip_csum = Some((l3 + 10, false));
    let mac = |v: u128| -> [u8; 6] {
        let b = v.to_be_bytes();
        [b[10], b[11], b[12], b[13], b[14], b[15]]
    };
    match f {
        Field::InPort | Field::Metadata | Field::Reg(_) => true,
        Field::EthDst => rewrite(d, 0, &mac(v), &[]),
        Field::EthSrc => rewrite(d, 6, &mac(v), &[]),
        Field::VlanVid | Field::VlanPcp => {
            if !is_tpid(be16(d, 12)) || d.len() < 16 {
                return false;
            }
            let tci = be16(d, 14);
            let tci = if f == Field::VlanVid {
                (tci & 0xf000) | (v as u16 & 0x0fff)
            } else {
                (tci & 0x1fff) | ((v as u16 & 7) << 13)
            };
            rewrite(d, 14, &tci.to_be_bytes(), &[])
        }
        Field::Ipv4Src | Field::Ipv4Dst if ip4 => {
            let off = l3 + if f == Field::Ipv4Src { 12 } else { 16 };
            rewrite(d, off, &(v as u32).to_be_bytes(), &[ip_csum, pseudo])
        }
        Field::IpDscp | Field::IpEcn if ip4 => {
            let tos = d[l3 + 1];
            let tos = if f == Field::IpDscp {
                (tos & 3) | ((v as u8) << 2)
            } else {
                (tos & !3) | (v as u8 & 3)
            };
            rewrite(d, l3 + 1, &[tos], &[ip_csum])
        }
        Field::IpDscp | Field::IpEcn if ip6 => {
            // Traffic class straddles bytes 0 and 1: version(4) tc(8) label(20).
            let w = be16(d, l3);
            let tc = ((w >> 4) & 0xff) as u8;
            let tc = if f == Field::IpDscp {
                (tc & 3) | ((v as u8) << 2)
            } else {
                (tc & !3) | (v as u8 & 3)
            };
            let w = (w & 0xf00f) | (u16::from(tc) << 4);
            rewrite(d, l3, &w.to_be_bytes(), &[])
        }
        Field::IpTtl if ip4 => rewrite(d, l3 + 8, &[v as u8], &[ip_csum]),
        Field::IpTtl if ip6 => rewrite(d, l3 + 7, &[v as u8], &[]),
        Field::Ipv6Src | Field::Ipv6Dst if ip6 => {
            let off = l3 + if f == Field::Ipv6Src { 8 } else { 24 };
            rewrite(d, off, &v.to_be_bytes(), &[pseudo])
        }
        Field::TcpSrc | Field::TcpDst | Field::UdpSrc | Field::UdpDst => {
            let Some((o, proto)) = l4 else { return false };
            let want = if matches!(f, Field::TcpSrc | Field::TcpDst) {
                6
            } else {
                17
            };
            if proto != want {
                return false;
            }
            let off = o + if matches!(f, Field::TcpSrc | Field::UdpSrc) {
                0
            } else {
                2
            };
            let cs = l4_csum(proto).map(|c| (o + c, proto == 17));
            rewrite(d, off, &(v as u16).to_be_bytes(), &[cs])
        }
        Field::Icmpv4Type | Field::Icmpv4Code | Field::Icmpv6Type | Field::Icmpv6Code => {
            let Some((o, proto)) = l4 else { return false };
            if proto != 1 && proto != 58 {
                return false;
            }
            let off = o + usize::from(matches!(f, Field::Icmpv4Code | Field::Icmpv6Code));
            let cs = if proto == 58 {
                pseudo
            } else {
                Some((o + 2, false))
            };
            rewrite(d, off, &[v as u8], &[cs])
        }
        Field::ArpOp | Field::ArpSpa | Field::ArpTpa | Field::ArpSha | Field::ArpTha if arp => {
            match f {
                Field::ArpOp => rewrite(d, l3 + 6, &(v as u16).to_be_bytes(), &[]),
                Field::ArpSha => rewrite(d, l3 + 8, &mac(v), &[]),
                Field::ArpSpa => rewrite(d, l3 + 14, &(v as u32).to_be_bytes(), &[]),
                Field::ArpTha => rewrite(d, l3 + 18, &mac(v), &[]),
                _ => rewrite(d, l3 + 24, &(v as u32).to_be_bytes(), &[]),
            }
        }
        _ => false,
    }
}

/// Decrement the IPv4 TTL or IPv6 hop limit (false when not IP or already <= 1).
pub fn dec_ttl(p: &mut Packet) -> bool {
    let d = p.data_mut();
    let Some(lay) = layout(d) else { return false };
    match lay.eth_type {
        0x0800 if d.len() >= lay.l3 + 20 => {
            let ttl = d[lay.l3 + 8];
            ttl > 1 && rewrite(d, lay.l3 + 8, &[ttl - 1], &[Some((lay.l3 + 10, false))])
        }
        0x86dd if d.len() >= lay.l3 + 40 => {
            let h = d[lay.l3 + 7];
            h > 1 && rewrite(d, lay.l3 + 7, &[h - 1], &[])
        }
        _ => false,
    }
}

/// True when a tagged frame carries a second tag right behind the outer one (QinQ or a
/// double-tagging attack).
pub fn has_inner_tag(d: &[u8]) -> bool {
    d.len() >= 18 && is_tpid(be16(d, 12)) && is_tpid(be16(d, 16))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mempool::{PacketPool, STD_FRAME};

    fn csum(b: &[u8]) -> u16 {
        checksum::internet_checksum(b)
    }

    fn udp_frame() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8 + 4];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&32u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let c = csum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        f[34..36].copy_from_slice(&1000u16.to_be_bytes());
        f[36..38].copy_from_slice(&2000u16.to_be_bytes());
        f[38..40].copy_from_slice(&12u16.to_be_bytes());
        f[42..46].copy_from_slice(b"abcd");
        let uc = udp_csum(&f);
        f[40..42].copy_from_slice(&uc.to_be_bytes());
        f
    }

    fn udp_csum(f: &[u8]) -> u16 {
        let mut ph = Vec::new();
        ph.extend_from_slice(&f[26..34]);
        ph.extend_from_slice(&[0, 17]);
        ph.extend_from_slice(&f[38..40]);
        let mut seg = f[34..].to_vec();
        seg[6] = 0;
        seg[7] = 0;
        ph.extend_from_slice(&seg);
        csum(&ph)
    }

    #[test]
    fn runts_claiming_ip_are_not_edited() {
        let mut pool = PacketPool::new(1, STD_FRAME).unwrap();
        let mut f = udp_frame();
        f.truncate(15);
        let mut p = pool.alloc_from(&f).unwrap();
        for field in [
            Field::IpDscp,
            Field::IpEcn,
            Field::IpTtl,
            Field::Ipv4Dst,
            Field::UdpDst,
        ] {
            assert!(!set_field(&mut p, field, 1), "{field:?}");
        }
        assert!(!dec_ttl(&mut p));
        assert_eq!(p.data(), &f[..]);
        pool.free(p);
    }

    #[test]
    fn vlan_push_pop_round_trip() {
        let mut pool = PacketPool::new(1, STD_FRAME).unwrap();
        let orig = udp_frame();
        let mut p = pool.alloc_from(&orig).unwrap();
        assert!(push_vlan(&mut p, 0x8100, 0x2000 | 10));
        assert_eq!(&p.data()[12..16], &[0x81, 0x00, 0x20, 0x0a]);
        assert_eq!(&p.data()[0..12], &orig[0..12]);
        assert_eq!(&p.data()[16..], &orig[12..]);
        assert!(set_field(&mut p, Field::VlanVid, 20));
        assert_eq!(&p.data()[14..16], &[0x20, 0x14]);
        assert!(pop_vlan(&mut p));
        assert_eq!(p.data(), &orig[..]);
        assert!(!pop_vlan(&mut p));
        pool.free(p);
    }

    #[test]
    fn set_ip_and_port_fix_checksums() {
        let mut pool = PacketPool::new(1, STD_FRAME).unwrap();
        let mut p = pool.alloc_from(&udp_frame()).unwrap();
        assert!(set_field(&mut p, Field::Ipv4Dst, 0xc0a8_0105));
        assert!(set_field(&mut p, Field::UdpDst, 53));
        assert!(set_field(&mut p, Field::IpDscp, 46));
        let d = p.data().to_vec();
        assert_eq!(&d[30..34], &[192, 168, 1, 5]);
        assert_eq!(csum(&d[14..34]), 0, "IPv4 header checksum must verify");
        let got = u16::from_be_bytes([d[40], d[41]]);
        assert_eq!(
            got,
            udp_csum(&d),
            "UDP checksum must match a full recompute"
        );
        assert!(dec_ttl(&mut p));
        assert_eq!(p.data()[22], 63);
        assert_eq!(csum(&p.data()[14..34]), 0);
        assert!(!set_field(&mut p, Field::TcpDst, 80), "not TCP");
        pool.free(p);
    }
}
