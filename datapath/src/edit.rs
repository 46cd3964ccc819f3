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
        // tunnel_id has nothing to rewrite until overlay ports encapsulate with it.
        Field::InPort | Field::Metadata | Field::TunnelId | Field::Reg(_) => true,
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
        Field::Ipv6Label if ip6 => {
            // version(4) traffic class(8) flow label(20): the label's top nibble shares byte 1.
            let w = u32::from_be_bytes([d[l3], d[l3 + 1], d[l3 + 2], d[l3 + 3]]);
            let w = (w & 0xfff0_0000) | (v as u32 & 0x000f_ffff);
            rewrite(d, l3 + 1, &w.to_be_bytes()[1..], &[])
        }
        Field::NdTarget | Field::NdSll | Field::NdTll if ip6 => set_nd(d, l4, f, v, pseudo),
        Field::MplsLabel | Field::MplsTc | Field::MplsTtl
            if flowtable::field::is_mpls(lay.eth_type) && d.len() >= l3 + 4 =>
        {
            // The outermost label stack entry; MPLS has no checksum.
            let mut k = flowtable::FlowKey {
                mpls_lse: u32::from_be_bytes([d[l3], d[l3 + 1], d[l3 + 2], d[l3 + 3]]),
                ..flowtable::FlowKey::default()
            };
            f.set(&mut k, v);
            rewrite(d, l3, &k.mpls_lse.to_be_bytes(), &[])
        }
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
        Field::SctpSrc | Field::SctpDst => {
            let Some((o, 132)) = l4 else { return false };
            set_sctp_port(d, l3, o, f == Field::SctpSrc, v as u16)
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

/// End of the IP datagram that starts at `l3` (IPv4 total length, IPv6 payload length plus the
/// fixed header), so that Ethernet padding is never taken for payload; `None` when the frame is
/// shorter than the header claims.
fn ip_end(d: &[u8], l3: usize) -> Option<usize> {
    let end = match d.get(l3)? >> 4 {
        4 => l3 + usize::from(be16(d, l3 + 2)),
        6 => l3 + 40 + usize::from(be16(d, l3 + 4)),
        _ => return None,
    };
    (end <= d.len()).then_some(end)
}

/// Rewrite an SCTP port and recompute the CRC32c over the SCTP packet (the IP payload from
/// `l4`), which a CRC, unlike the internet checksum, cannot have patched in place cheaply.
fn set_sctp_port(d: &mut [u8], l3: usize, l4: usize, src: bool, port: u16) -> bool {
    let Some(end) = ip_end(d, l3) else {
        return false;
    };
    if end < l4 + packet::sctp::HEADER_LEN {
        return false;
    }
    let mut sctp = packet::sctp::SctpPacket::new_unchecked(&mut d[l4..end]);
    if src {
        sctp.set_src_port(port);
    } else {
        sctp.set_dst_port(port);
    }
    sctp.fill_checksum();
    true
}

/// ICMPv6 types that carry a target address: neighbour solicitation and advertisement.
const ND_NS: u8 = 135;
const ND_NA: u8 = 136;
/// ND option types: source and target link-layer address.
const ND_OPT_SLL: u8 = 1;
const ND_OPT_TLL: u8 = 2;

/// Rewrite the ND target (at ICMPv6 offset 8) or the MAC in the source/target link-layer
/// address option, fixing the ICMPv6 checksum. A message without the option is left as it is
/// and the edit succeeds (as in Open vSwitch: there is nothing to rewrite, and the flow that
/// asked is valid); a malformed option list fails the edit.
fn set_nd(
    d: &mut [u8],
    l4: Option<(usize, u8)>,
    f: Field,
    v: u128,
    csum: Option<(usize, bool)>,
) -> bool {
    let Some((o, 58)) = l4 else { return false };
    if d.len() < o + 24 {
        return false;
    }
    let ty = d[o];
    let want = match f {
        Field::NdTarget if ty == ND_NS || ty == ND_NA => {
            return rewrite(d, o + 8, &v.to_be_bytes(), &[csum])
        }
        Field::NdSll if ty == ND_NS => ND_OPT_SLL,
        Field::NdTll if ty == ND_NA => ND_OPT_TLL,
        _ => return false,
    };
    let mut off = o + 24;
    while off + 2 <= d.len() {
        let olen = usize::from(d[off + 1]) * 8;
        if olen == 0 || off + olen > d.len() {
            return false;
        }
        if d[off] == want && olen >= 8 {
            let b = v.to_be_bytes();
            return rewrite(d, off + 2, &b[10..16], &[csum]);
        }
        off += olen;
    }
    true
}

/// An MPLS edit (OpenFlow's push_mpls, pop_mpls, dec_mpls_ttl, copy_ttl_in, copy_ttl_out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MplsOp {
    /// Insert `lse` as the new outer entry after the Ethernet header and any VLAN tags, and set
    /// the ethertype in front of it.
    Push {
        /// 0x8847 or 0x8848.
        ethertype: u16,
        /// The new entry (computed by translation from the flow key).
        lse: u32,
    },
    /// Remove the outer entry; `ethertype` names what follows it.
    Pop {
        /// Ethertype of the payload.
        ethertype: u16,
    },
    /// Decrement the outer TTL (fails at 0 and 1).
    DecTtl,
    /// Outer TTL to the next entry, or to the IP TTL under the bottom of the stack.
    CopyTtlIn,
    /// The next entry's TTL, or the IP TTL under the bottom of the stack, to the outer TTL.
    CopyTtlOut,
}

/// Apply an MPLS edit (false when the frame is not MPLS, or too short, for anything but a push).
pub fn mpls(p: &mut Packet, op: MplsOp) -> bool {
    let w = packet::layout::walk(p.data());
    let (l3, Some(et)) = (w.l3, w.ethertype) else {
        return false;
    };
    if l3 < ETH_HLEN {
        return false;
    }
    if let MplsOp::Push { ethertype, lse } = op {
        if p.len() < l3 || !p.push_front(4) {
            return false;
        }
        let d = p.data_mut();
        d.copy_within(4..l3 + 4, 0);
        d[l3 - 2..l3].copy_from_slice(&ethertype.to_be_bytes());
        d[l3..l3 + 4].copy_from_slice(&lse.to_be_bytes());
        return true;
    }
    let d = p.data_mut();
    if !flowtable::field::is_mpls(et) || d.len() < l3 + 4 {
        return false;
    }
    let lse = be32(d, l3);
    let bottom = lse & flowtable::mpls::BOS != 0;
    let ttl = flowtable::mpls::ttl(lse);
    match op {
        MplsOp::Push { .. } => false,
        MplsOp::Pop { ethertype } => {
            d[l3 - 2..l3].copy_from_slice(&ethertype.to_be_bytes());
            d.copy_within(0..l3, 4);
            p.pull_front(4)
        }
        MplsOp::DecTtl => ttl > 1 && rewrite(d, l3 + 3, &[ttl - 1], &[]),
        MplsOp::CopyTtlIn if !bottom => {
            let next = l3 + 4;
            d.len() >= next + 4 && rewrite(d, next + 3, &[ttl], &[])
        }
        MplsOp::CopyTtlOut if !bottom => {
            let next = l3 + 4;
            d.len() >= next + 4 && rewrite(d, l3 + 3, &[d[next + 3]], &[])
        }
        MplsOp::CopyTtlIn | MplsOp::CopyTtlOut => {
            // Under the bottom of the stack: IPv4 or IPv6, told by the version nibble.
            let ip = l3 + 4;
            let ttl_at = match d.get(ip).map(|b| b >> 4) {
                Some(4) if d.len() >= ip + 20 => ip + 8,
                Some(6) if d.len() >= ip + 40 => ip + 7,
                _ => return false,
            };
            let csum = (ttl_at == ip + 8).then_some((ip + 10, false));
            if op == MplsOp::CopyTtlIn {
                rewrite(d, ttl_at, &[ttl], &[csum])
            } else {
                rewrite(d, l3 + 3, &[d[ttl_at]], &[])
            }
        }
    }
}

#[inline]
fn be32(d: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([d[off], d[off + 1], d[off + 2], d[off + 3]])
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

    /// ICMPv6 checksum of an untagged IPv6 frame verifies (sums to zero with the pseudo-header).
    fn icmpv6_ok(f: &[u8]) -> bool {
        let mut ph = Vec::new();
        ph.extend_from_slice(&f[22..54]);
        ph.extend_from_slice(&((f.len() - 54) as u32).to_be_bytes());
        ph.extend_from_slice(&[0, 0, 0, 58]);
        ph.extend_from_slice(&f[54..]);
        csum(&ph) == 0
    }

    #[test]
    fn l4_ports_behind_ipv6_extension_headers_are_rewritten_with_checksums() {
        use std::net::Ipv6Addr;
        let (a, b): (Ipv6Addr, Ipv6Addr) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        // UDP behind a hop-by-hop options header (8 bytes: PadN).
        let udp = packet::build::udp_ipv6_frame(
            [2, 0, 0, 0, 0, 1],
            [2, 0, 0, 0, 0, 2],
            a,
            b,
            1000,
            2000,
            b"abcd",
        );
        let mut f = udp[..54].to_vec();
        f[20] = 0; // next header: hop-by-hop
        f.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
        f.extend_from_slice(&udp[54..]);
        let plen = (f.len() - 54) as u16;
        f[18..20].copy_from_slice(&plen.to_be_bytes());
        // The UDP checksum covers the pseudo-header (upper-layer length, next header 17).
        let l4_ok = |f: &[u8]| {
            let seg = &f[62..];
            let mut ph = Vec::new();
            ph.extend_from_slice(&f[22..54]);
            ph.extend_from_slice(&(seg.len() as u32).to_be_bytes());
            ph.extend_from_slice(&[0, 0, 0, 17]);
            ph.extend_from_slice(seg);
            csum(&ph) == 0
        };
        assert!(l4_ok(&f), "the test frame's checksum");
        let mut pool = PacketPool::new(2, STD_FRAME).unwrap();
        let mut p = pool.alloc_from(&f).unwrap();
        assert!(set_field(&mut p, Field::UdpDst, 4444));
        let d = p.data().to_vec();
        assert_eq!(&d[62..64], &1000u16.to_be_bytes(), "source port kept");
        assert_eq!(
            &d[64..66],
            &4444u16.to_be_bytes(),
            "the port after the extension header"
        );
        assert_eq!(&d[54..62], &f[54..62], "the extension header untouched");
        assert!(l4_ok(&d), "UDP checksum must verify");
        pool.free(p);
    }

    #[test]
    fn nd_fields_and_flow_label_are_rewritten_with_checksums() {
        use std::net::Ipv6Addr;
        let mut pool = PacketPool::new(2, STD_FRAME).unwrap();
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let target: Ipv6Addr = "2001:db8::7".parse().unwrap();
        let ns = packet::build::neighbor_solicitation([2, 0, 0, 0, 0, 1], src, target);
        assert!(icmpv6_ok(&ns));
        let mut p = pool.alloc_from(&ns).unwrap();
        let new_t = u128::from(Ipv6Addr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 9]));
        assert!(set_field(&mut p, Field::NdTarget, new_t));
        assert!(set_field(&mut p, Field::NdSll, 0x0a0b_0c0d_0e0f));
        assert!(set_field(&mut p, Field::Ipv6Label, 0xabcde));
        assert!(
            !set_field(&mut p, Field::NdTll, 1),
            "an NS has no TLL field"
        );
        let d = p.data().to_vec();
        assert_eq!(&d[62..78], &new_t.to_be_bytes());
        assert_eq!(&d[80..86], &[0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f]);
        assert_eq!(d[14] >> 4, 6, "version kept");
        assert_eq!(d[15] & 0xf0, ns[15] & 0xf0, "traffic class kept");
        assert_eq!(&d[15..18], &[0x0a, 0xbc, 0xde]);
        assert!(icmpv6_ok(&d), "ICMPv6 checksum must verify");
        assert_eq!(d.len(), ns.len());
        pool.free(p);

        let na = packet::build::neighbor_advertisement(
            [2, 0, 0, 0, 0, 2],
            target,
            [2, 0, 0, 0, 0, 1],
            src,
            true,
        );
        let mut p = pool.alloc_from(&na).unwrap();
        assert!(set_field(&mut p, Field::NdTll, 0x0200_0000_00ff));
        assert!(
            !set_field(&mut p, Field::NdSll, 1),
            "an NA has no SLL field"
        );
        let d = p.data().to_vec();
        assert_eq!(&d[80..86], &[2, 0, 0, 0, 0, 0xff]);
        assert!(icmpv6_ok(&d));
        pool.free(p);

        // An NS without the source link-layer option: nothing to rewrite, not a failure.
        let mut body = vec![0u8; 4];
        body.extend_from_slice(&target.octets());
        let bare = packet::build::icmpv6_frame([2; 6], [3; 6], src, target, 135, &body);
        let mut p = pool.alloc_from(&bare).unwrap();
        assert!(set_field(&mut p, Field::NdSll, 0x0a0b_0c0d_0e0f));
        assert_eq!(p.data(), &bare[..]);
        pool.free(p);
    }

    #[test]
    fn sctp_ports_are_rewritten_with_the_crc32c_recomputed() {
        use packet::sctp;
        let mut pool = PacketPool::new(2, STD_FRAME).unwrap();
        let ips = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let mut f = packet::build::sctp_ipv4_frame([2; 6], [3; 6], ips, (5000, 6000), b"xyz");
        let sctp_len = f.len() - 34;
        // Ethernet padding past the datagram must not enter the CRC.
        f.extend_from_slice(&[0xee; 8]);
        let mut p = pool.alloc_from(&f).unwrap();
        assert!(set_field(&mut p, Field::SctpSrc, 7));
        assert!(set_field(&mut p, Field::SctpDst, 9));
        assert!(!set_field(&mut p, Field::UdpDst, 9), "not UDP");
        let d = p.data().to_vec();
        assert_eq!(&d[34..38], &[0, 7, 0, 9]);
        assert!(sctp::checksum_ok(&d[34..34 + sctp_len]));
        assert_eq!(&d[34 + sctp_len..], &[0xee; 8]);
        pool.free(p);
        // A UDP frame is not SCTP.
        let mut p = pool.alloc_from(&udp_frame()).unwrap();
        assert!(!set_field(&mut p, Field::SctpDst, 9));
        pool.free(p);
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
    fn mpls_push_ttl_copies_and_pop_round_trip() {
        let mut pool = PacketPool::new(1, STD_FRAME).unwrap();
        let orig = udp_frame();
        let mut p = pool.alloc_from(&orig).unwrap();
        assert!(!mpls(&mut p, MplsOp::DecTtl), "not MPLS");
        assert!(!mpls(&mut p, MplsOp::Pop { ethertype: 0x0800 }));
        // Behind a VLAN tag: the entry goes after the tag.
        assert!(push_vlan(&mut p, 0x8100, 5));
        let lse = (100 << 12) | (1 << 8) | 64;
        assert!(mpls(
            &mut p,
            MplsOp::Push {
                ethertype: 0x8847,
                lse
            }
        ));
        let d = p.data().to_vec();
        assert_eq!(&d[12..18], &[0x81, 0x00, 0x00, 0x05, 0x88, 0x47]);
        assert_eq!(&d[18..22], &lse.to_be_bytes());
        assert_eq!(&d[22..], &orig[14..]);
        assert!(mpls(&mut p, MplsOp::DecTtl));
        assert_eq!(p.data()[21], 63);
        assert!(mpls(&mut p, MplsOp::CopyTtlIn));
        assert_eq!(p.data()[22 + 8], 63, "IPv4 TTL");
        assert_eq!(csum(&p.data()[22..42]), 0, "IPv4 checksum still verifies");
        // A second entry: copies go between the two entries.
        assert!(mpls(
            &mut p,
            MplsOp::Push {
                ethertype: 0x8848,
                lse: 7 << 12 | 3
            }
        ));
        assert_eq!(&p.data()[16..18], &[0x88, 0x48]);
        assert!(mpls(&mut p, MplsOp::CopyTtlOut));
        assert_eq!(p.data()[21], 63);
        assert!(mpls(&mut p, MplsOp::Pop { ethertype: 0x8847 }));
        assert_eq!(&p.data()[16..22], &[0x88, 0x47, 0, 0x06, 0x41, 63]);
        // The TTL runs out: the edit fails and the frame is unchanged.
        assert!(set_field(&mut p, Field::MplsTtl, 1));
        let before = p.data().to_vec();
        assert!(!mpls(&mut p, MplsOp::DecTtl));
        assert_eq!(p.data(), &before[..]);
        assert!(set_field(&mut p, Field::MplsTtl, 63));
        assert!(mpls(&mut p, MplsOp::Pop { ethertype: 0x0800 }));
        assert!(pop_vlan(&mut p));
        let mut want = orig.clone();
        want[22] = 63;
        let c = csum(&{
            let mut h = want[14..34].to_vec();
            h[10] = 0;
            h[11] = 0;
            h
        });
        want[24..26].copy_from_slice(&c.to_be_bytes());
        assert_eq!(p.data(), &want[..]);
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
