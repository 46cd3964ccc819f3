//! One-pass flow key extraction: read a raw Ethernet frame once, front to back, and fill every
//! [`FlowKey`] slot the headers provide.
//!
//! This is the first stage of the datapath's per-batch pipeline and runs for every received packet,
//! so it is written for speed and for hostile input at once. Each header is taken with a single
//! bounds check that yields a fixed-size array reference (`first_chunk::<N>()`); after that check
//! every field read is a constant-offset index the compiler proves in bounds, so there is one
//! branch per header rather than one per field, no allocation and no `unsafe`. A header that does
//! not fit in the frame simply ends parsing: the fields already written stay, later ones stay zero
//! (the key is zeroed first), and nothing can panic.
//!
//! Conventions follow `key.rs` (host-order scalars, wire-order addresses) and OVS where OpenFlow is
//! silent: 802.3 frames (ethertype below 0x600) get `eth_type` 0x05ff; the outer 802.1Q/802.1ad
//! tag fills `vlan_tci` and inner tags are skipped to find the real ethertype; IPv4 and IPv6
//! fragments set [`FRAG_ANY`], non-first fragments also [`FRAG_LATER`] and carry no L4 fields; ARP
//! is only decoded for Ethernet/IPv4 (htype 1, ptype 0x0800, 6/4 address lengths); neighbour
//! discovery options are decoded only for NS/NA with code 0, and a malformed option (length 0, or a
//! repeated link-layer option) clears all ND fields, as OVS does, so that a rule on `nd_sll` never
//! matches half-parsed garbage.
//!
//! The IPv4 total length and IPv6 payload length bound where L4 parsing may look, so Ethernet
//! padding after a short IP packet is never mistaken for a transport header. The walk over IPv6
//! extension headers also computes OpenFlow's `ipv6_exthdr` flags (see `ExthdrChain`).

use crate::key::{FlowKey, FRAG_ANY, FRAG_LATER, VLAN_PRESENT};
use crate::key::{
    IPV6_EXTHDR_AUTH, IPV6_EXTHDR_DEST, IPV6_EXTHDR_ESP, IPV6_EXTHDR_FRAG, IPV6_EXTHDR_HOP,
    IPV6_EXTHDR_NONEXT, IPV6_EXTHDR_ROUTER, IPV6_EXTHDR_UNREP, IPV6_EXTHDR_UNSEQ,
};

/// Ethertype written for 802.3 (length-field) frames, as OVS does (`FLOW_DL_TYPE_NONE`).
pub const ETH_TYPE_NONE: u16 = 0x05ff;
// The EtherTypes are defined once, with the flow fields.
pub use crate::field::{ETH_TYPE_ARP, ETH_TYPE_IPV4, ETH_TYPE_IPV6, ETH_TYPE_QINQ, ETH_TYPE_VLAN};

/// IP protocol numbers the extractor decodes.
pub const IPPROTO_ICMP: u8 = 1;
/// TCP.
pub const IPPROTO_TCP: u8 = 6;
/// UDP.
pub const IPPROTO_UDP: u8 = 17;
/// SCTP.
pub const IPPROTO_SCTP: u8 = 132;
/// ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;

const IPV6_HOPOPTS: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_AH: u8 = 51;
const IPV6_ESP: u8 = 50;
const IPV6_NONXT: u8 = 59;
const IPV6_DSTOPTS: u8 = 60;

const ND_NEIGHBOR_SOLICIT: u8 = 135;
const ND_NEIGHBOR_ADVERT: u8 = 136;
const ND_OPT_SLL: u8 = 1;
const ND_OPT_TLL: u8 = 2;

/// The `N` bytes of `b` starting at `off`, or `None` when they are not all there.
#[inline(always)]
fn chunk<const N: usize>(b: &[u8], off: usize) -> Option<&[u8; N]> {
    b.get(off..)?.first_chunk::<N>()
}

#[inline(always)]
fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

#[inline(always)]
fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

#[inline(always)]
fn mac(b: &[u8], off: usize) -> [u8; 6] {
    [
        b[off],
        b[off + 1],
        b[off + 2],
        b[off + 3],
        b[off + 4],
        b[off + 5],
    ]
}

#[inline(always)]
fn addr16(b: &[u8], off: usize) -> [u8; 16] {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[off..off + 16]);
    a
}

/// Fill `key` from `frame` received on `in_port`. Never panics; see the module documentation.
#[inline]
pub fn extract(frame: &[u8], in_port: u32, key: &mut FlowKey) {
    *key = FlowKey::default();
    key.in_port = in_port;
    // `None` only means "ran out of frame": the key holds whatever was parsed up to that point.
    let _ = parse_l2(frame, key);
}

/// [`extract`] for a whole batch: `keys[i]` is filled from `frames[i]`; extra keys are untouched.
#[inline]
pub fn extract_batch(frames: &[&[u8]], in_port: u32, keys: &mut [FlowKey]) {
    for (frame, key) in frames.iter().zip(keys.iter_mut()) {
        extract(frame, in_port, key);
    }
}

#[inline(always)]
fn parse_l2(frame: &[u8], key: &mut FlowKey) -> Option<()> {
    let eth = chunk::<14>(frame, 0)?;
    key.eth_dst = mac(eth, 0);
    key.eth_src = mac(eth, 6);
    // The one walk over tags (`packet::layout`): what a VLAN tag is is decided there.
    let l = packet::layout::walk(frame);
    if l.tagged {
        // A truncated tag still marks the frame as tagged: an access port must refuse it.
        // PCP and VID; the DEI/CFI bit position carries VLAN_PRESENT instead.
        key.vlan_tci = l.outer_tci.map_or(0, |t| t & !VLAN_PRESENT) | VLAN_PRESENT;
    }
    let eth_type = l.ethertype?;
    let off = l.l3;
    if eth_type < 0x600 {
        key.eth_type = ETH_TYPE_NONE;
        return Some(());
    }
    key.eth_type = eth_type;
    let l3 = &frame[off..];
    match eth_type {
        ETH_TYPE_IPV4 => parse_ipv4(l3, key),
        ETH_TYPE_IPV6 => parse_ipv6(l3, key),
        ETH_TYPE_ARP => parse_arp(l3, key),
        crate::field::ETH_TYPE_MPLS | crate::field::ETH_TYPE_MPLS_MC => parse_mpls(l3, key),
        _ => Some(()),
    }
}

/// Label stack entries walked looking for the bottom of the stack; a deeper stack keeps its
/// payload unparsed (it bounds the walk on hostile frames).
const MPLS_MAX_WALK: usize = 8;

/// The outermost label stack entry is keyed; then, if the bottom of the stack is found within
/// [`MPLS_MAX_WALK`] entries, the payload is parsed as IPv4 or IPv6 by its version nibble, or as
/// ARP when it has the Ethernet/IPv4 ARP header (MPLS does not say what it carries), into the ordinary L3/L4 slots. `eth_type` stays MPLS, so no IP
/// rule matches such a frame (its prerequisites want 0x0800/0x86dd); the slots are there so that a
/// `pop_mpls` in the pipeline leaves the key exactly as a re-parse of the popped frame would be
/// (see `pipeline::exec::apply_to_key`).
#[inline(always)]
fn parse_mpls(l3: &[u8], key: &mut FlowKey) -> Option<()> {
    key.mpls_lse = be32(chunk::<4>(l3, 0)?, 0);
    for i in 0..MPLS_MAX_WALK {
        let lse = be32(chunk::<4>(l3, i * 4)?, 0);
        if lse & (1 << crate::field::MPLS_BOS_SHIFT) != 0 {
            let payload = &l3[(i + 1) * 4..];
            return match payload.first()? >> 4 {
                4 => parse_ipv4(payload, key),
                6 => parse_ipv6(payload, key),
                // Ethernet/IPv4 ARP (hardware type 1) is recognised by its fixed header.
                0 => parse_arp(payload, key),
                _ => Some(()),
            };
        }
    }
    Some(())
}

#[inline(always)]
fn parse_ipv4(l3: &[u8], key: &mut FlowKey) -> Option<()> {
    let ip = chunk::<20>(l3, 0)?;
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ip[0] >> 4 != 4 || ihl < 20 {
        return Some(());
    }
    key.ip_tos = ip[1];
    let frag = be16(ip, 6);
    key.ip_ttl = ip[8];
    key.ip_proto = ip[9];
    key.ipv4_src = be32(ip, 12);
    key.ipv4_dst = be32(ip, 16);
    if frag & 0x3fff != 0 {
        key.ip_frag = FRAG_ANY;
        if frag & 0x1fff != 0 {
            key.ip_frag = FRAG_ANY | FRAG_LATER;
            return Some(());
        }
    }
    let tot_len = usize::from(be16(ip, 2));
    let end = if tot_len >= ihl && tot_len <= l3.len() {
        tot_len
    } else {
        l3.len()
    };
    let l4 = l3.get(ihl..end)?;
    parse_l4(l4, key.ip_proto, key)
}

#[inline(always)]
fn parse_ipv6(l3: &[u8], key: &mut FlowKey) -> Option<()> {
    let ip = chunk::<40>(l3, 0)?;
    let w0 = be32(ip, 0);
    if w0 >> 28 != 6 {
        return Some(());
    }
    key.ip_tos = (w0 >> 20) as u8;
    key.ipv6_label = w0 & 0x000f_ffff;
    let mut next = ip[6];
    key.ip_ttl = ip[7];
    key.ipv6_src = addr16(ip, 8);
    key.ipv6_dst = addr16(ip, 24);
    let payload = usize::from(be16(ip, 4));
    let end = if 40 + payload <= l3.len() && payload != 0 {
        40 + payload
    } else {
        l3.len()
    };
    let pkt = &l3[..end];
    let mut off = 40;
    let mut chain = ExthdrChain::default();
    // Every extension header is at least 8 bytes, so this loop always advances and terminates.
    loop {
        key.ip_proto = next;
        // Flags are stored as they are learnt, so a chain cut short keeps what was seen.
        key.ipv6_exthdr = chain.see(next);
        match next {
            IPV6_HOPOPTS | IPV6_ROUTING | IPV6_DSTOPTS => {
                let h = chunk::<2>(pkt, off)?;
                next = h[0];
                off += (usize::from(h[1]) + 1) * 8;
            }
            IPV6_AH => {
                let h = chunk::<2>(pkt, off)?;
                next = h[0];
                off += (usize::from(h[1]) + 2) * 4;
            }
            IPV6_FRAGMENT => {
                let h = chunk::<8>(pkt, off)?;
                next = h[0];
                off += 8;
                let frag = be16(h, 2);
                key.ip_frag = FRAG_ANY;
                if frag & 0xfff8 != 0 {
                    key.ip_frag = FRAG_ANY | FRAG_LATER;
                    key.ip_proto = next;
                    // The rest of the chain is in the first fragment; still, a "no next
                    // header" or ESP right after the fragment header is known.
                    key.ipv6_exthdr = chain.see(next);
                    return Some(());
                }
            }
            _ => break,
        }
    }
    let l4 = pkt.get(off..)?;
    parse_l4(l4, next, key)
}

/// The state behind OpenFlow 1.3's `ipv6_exthdr` flags while walking an extension header chain.
///
/// RFC 8200 section 4.1 gives the order: hop-by-hop (only first), destination options (before a
/// routing header), routing, fragment, authentication, ESP, destination options (final). Each
/// header kind has a rank in that order; a header whose rank is below the highest seen so far
/// sets UNSEQ, and a kind seen more often than allowed (destination options twice, every other
/// once) sets UNREP. A destination options header ranks 1 until a routing, fragment, AH or ESP
/// header is seen and 6 after: the first is the "before routing" one, the second the final one.
#[derive(Default)]
struct ExthdrChain {
    flags: u16,
    rank: u8,
    dest: u8,
}

impl ExthdrChain {
    /// Account for next-header value `nh` and return the flags so far.
    #[inline(always)]
    fn see(&mut self, nh: u8) -> u16 {
        let (flag, rank) = match nh {
            IPV6_HOPOPTS => (IPV6_EXTHDR_HOP, 0),
            IPV6_DSTOPTS => (IPV6_EXTHDR_DEST, if self.rank <= 1 { 1 } else { 6 }),
            IPV6_ROUTING => (IPV6_EXTHDR_ROUTER, 2),
            IPV6_FRAGMENT => (IPV6_EXTHDR_FRAG, 3),
            IPV6_AH => (IPV6_EXTHDR_AUTH, 4),
            IPV6_ESP => (IPV6_EXTHDR_ESP, 5),
            IPV6_NONXT => {
                self.flags |= IPV6_EXTHDR_NONEXT;
                return self.flags;
            }
            _ => return self.flags,
        };
        let repeated = if nh == IPV6_DSTOPTS {
            self.dest += 1;
            // Two are allowed only as one before routing and one final.
            self.dest > 2 || (self.dest == 2 && rank == 1)
        } else {
            self.flags & flag != 0
        };
        if repeated {
            self.flags |= IPV6_EXTHDR_UNREP;
        }
        // Hop-by-hop must come straight after the IPv6 header.
        if rank < self.rank || (nh == IPV6_HOPOPTS && self.flags != 0) {
            self.flags |= IPV6_EXTHDR_UNSEQ;
        }
        self.rank = self.rank.max(rank);
        self.flags |= flag;
        self.flags
    }
}

#[inline(always)]
fn parse_arp(l3: &[u8], key: &mut FlowKey) -> Option<()> {
    let arp = chunk::<28>(l3, 0)?;
    if be16(arp, 0) != 1 || be16(arp, 2) != ETH_TYPE_IPV4 || arp[4] != 6 || arp[5] != 4 {
        return Some(());
    }
    key.arp_op = be16(arp, 6);
    key.arp_sha = mac(arp, 8);
    key.ipv4_src = be32(arp, 14);
    key.arp_tha = mac(arp, 18);
    key.ipv4_dst = be32(arp, 24);
    Some(())
}

#[inline(always)]
fn parse_l4(l4: &[u8], proto: u8, key: &mut FlowKey) -> Option<()> {
    match proto {
        IPPROTO_TCP => {
            let tcp = chunk::<20>(l4, 0)?;
            key.tp_src = be16(tcp, 0);
            key.tp_dst = be16(tcp, 2);
            key.tcp_flags = be16(tcp, 12) & 0x0fff;
        }
        IPPROTO_UDP => {
            let udp = chunk::<8>(l4, 0)?;
            key.tp_src = be16(udp, 0);
            key.tp_dst = be16(udp, 2);
        }
        IPPROTO_SCTP => {
            let sctp = chunk::<12>(l4, 0)?;
            key.tp_src = be16(sctp, 0);
            key.tp_dst = be16(sctp, 2);
        }
        IPPROTO_ICMP => {
            let icmp = chunk::<4>(l4, 0)?;
            key.icmp_type = icmp[0];
            key.icmp_code = icmp[1];
        }
        IPPROTO_ICMPV6 => {
            let icmp = chunk::<4>(l4, 0)?;
            key.icmp_type = icmp[0];
            key.icmp_code = icmp[1];
            if (icmp[0] == ND_NEIGHBOR_SOLICIT || icmp[0] == ND_NEIGHBOR_ADVERT) && icmp[1] == 0 {
                parse_nd(l4, key);
            }
        }
        _ => {}
    }
    Some(())
}

/// Neighbour solicitation/advertisement: target address and link-layer address options.
#[inline]
fn parse_nd(l4: &[u8], key: &mut FlowKey) {
    let Some(nd) = chunk::<24>(l4, 0) else {
        return;
    };
    key.nd_target = addr16(nd, 8);
    let (mut sll, mut tll) = (false, false);
    let mut off = 24;
    while let Some(opt) = chunk::<2>(l4, off) {
        let len = usize::from(opt[1]) * 8;
        let body = if len == 0 {
            None
        } else {
            l4.get(off..off + len)
        };
        let Some(body) = body else {
            if len == 0 {
                // Malformed: a zero-length option would loop forever in a naive parser.
                key.nd_target = [0; 16];
                key.arp_sha = [0; 6];
                key.arp_tha = [0; 6];
            }
            return;
        };
        if len == 8 {
            let slot = match opt[0] {
                ND_OPT_SLL => Some((&mut sll, &mut key.arp_sha)),
                ND_OPT_TLL => Some((&mut tll, &mut key.arp_tha)),
                _ => None,
            };
            if let Some((seen, field)) = slot {
                if *seen {
                    key.nd_target = [0; 16];
                    key.arp_sha = [0; 6];
                    key.arp_tha = [0; 6];
                    return;
                }
                *seen = true;
                *field = mac(body, 2);
            }
        }
        off += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

    /// Ethernet frame with optional tags `(tpid, tci)` in front of `ethertype`.
    fn eth(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&DST);
        f.extend_from_slice(&SRC);
        for (tpid, tci) in tags {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&tci.to_be_bytes());
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// IPv4 header (`options` must be a multiple of 4 bytes) followed by `l4`.
    fn ipv4(proto: u8, frag: u16, options: &[u8], l4: &[u8]) -> Vec<u8> {
        let hlen = 20 + options.len();
        let mut h = vec![0x40 | (hlen / 4) as u8, 0xb8];
        h.extend_from_slice(&((hlen + l4.len()) as u16).to_be_bytes());
        h.extend_from_slice(&[0x12, 0x34]);
        h.extend_from_slice(&frag.to_be_bytes());
        h.extend_from_slice(&[64, proto, 0, 0]);
        h.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        h.extend_from_slice(options);
        h.extend_from_slice(l4);
        h
    }

    fn v6addr(last: u8) -> [u8; 16] {
        let mut a = [0u8; 16];
        a[0] = 0xfe;
        a[1] = 0x80;
        a[15] = last;
        a
    }

    /// IPv6 header with traffic class 0x2a, label 0xabcde, hop limit 255, then `rest`.
    fn ipv6(next: u8, rest: &[u8]) -> Vec<u8> {
        let w0: u32 = (6 << 28) | (0x2a << 20) | 0xabcde;
        let mut h = w0.to_be_bytes().to_vec();
        h.extend_from_slice(&(rest.len() as u16).to_be_bytes());
        h.extend_from_slice(&[next, 255]);
        h.extend_from_slice(&v6addr(1));
        h.extend_from_slice(&v6addr(2));
        h.extend_from_slice(rest);
        h
    }

    fn ports(src: u16, dst: u16, len: usize) -> Vec<u8> {
        let mut l4 = vec![0u8; len];
        l4[0..2].copy_from_slice(&src.to_be_bytes());
        l4[2..4].copy_from_slice(&dst.to_be_bytes());
        l4
    }

    fn tcp(src: u16, dst: u16, flags: u16) -> Vec<u8> {
        let mut t = ports(src, dst, 20);
        t[12..14].copy_from_slice(&((5u16 << 12) | flags).to_be_bytes());
        t
    }

    fn key_of(frame: &[u8]) -> FlowKey {
        let mut k = FlowKey::all_ones();
        extract(frame, 7, &mut k);
        k
    }

    #[test]
    fn ethernet_only_and_8023() {
        let k = key_of(&eth(&[], 0x88cc, &[0; 30]));
        assert_eq!(
            (k.in_port, k.eth_dst, k.eth_src, k.eth_type),
            (7, DST, SRC, 0x88cc)
        );
        assert_eq!((k.vlan_tci, k.ip_proto, k.metadata), (0, 0, 0));
        let k = key_of(&eth(&[], 46, &[0xaa; 46]));
        assert_eq!(k.eth_type, ETH_TYPE_NONE);
        let k = key_of(&DST);
        assert_eq!((k.in_port, k.eth_dst, k.eth_type), (7, [0; 6], 0));
    }

    #[test]
    fn vlan_tags() {
        let udp = ipv4(IPPROTO_UDP, 0, &[], &ports(1, 2, 8));
        let k = key_of(&eth(
            &[(ETH_TYPE_VLAN, (5 << 13) | 100)],
            ETH_TYPE_IPV4,
            &udp,
        ));
        assert_eq!(k.vlan_tci, VLAN_PRESENT | (5 << 13) | 100);
        assert_eq!((k.vlan_vid(), k.vlan_pcp()), (Some(100), 5));
        assert_eq!((k.eth_type, k.tp_dst), (ETH_TYPE_IPV4, 2));
        // The legacy 0x9100 is an EtherType, not a tag (as in edit and the checksum code).
        let k = key_of(&eth(&[(0x9100, 100)], ETH_TYPE_IPV4, &udp));
        assert_eq!((k.vlan_tci, k.eth_type), (0, 0x9100));
        // 802.1ad outer, 802.1Q inner: the outer tag wins, the inner one is skipped. The DEI bit
        // of the outer tag must not leak into VLAN_PRESENT's position.
        let tags = [(ETH_TYPE_QINQ, 0x1000 | 300), (ETH_TYPE_VLAN, 42)];
        let k = key_of(&eth(&tags, ETH_TYPE_IPV4, &udp));
        assert_eq!(k.vlan_tci, VLAN_PRESENT | 300);
        assert_eq!(
            (k.eth_type, k.ipv4_src, k.tp_src),
            (ETH_TYPE_IPV4, 0x0a00_0001, 1)
        );
        // Truncated inner tag: outer VLAN known, eth_type unknown.
        let mut f = eth(&tags, ETH_TYPE_IPV4, &[]);
        f.truncate(20);
        let k = key_of(&f);
        assert_eq!((k.vlan_tci, k.eth_type), (VLAN_PRESENT | 300, 0));
    }

    #[test]
    fn ipv4_udp_tcp_sctp_icmp() {
        let k = key_of(&eth(
            &[],
            ETH_TYPE_IPV4,
            &ipv4(IPPROTO_UDP, 0, &[], &ports(53, 5353, 8)),
        ));
        assert_eq!((k.ipv4_src, k.ipv4_dst), (0x0a00_0001, 0x0a00_0002));
        assert_eq!(
            (k.ip_proto, k.ip_tos, k.ip_ttl, k.ip_frag),
            (17, 0xb8, 64, 0)
        );
        assert_eq!((k.tp_src, k.tp_dst, k.tcp_flags), (53, 5353, 0));

        let k = key_of(&eth(
            &[],
            ETH_TYPE_IPV4,
            &ipv4(IPPROTO_TCP, 0, &[], &tcp(1234, 80, 0x112)),
        ));
        assert_eq!(
            (k.ip_proto, k.tp_src, k.tp_dst, k.tcp_flags),
            (6, 1234, 80, 0x112)
        );

        let k = key_of(&eth(
            &[],
            ETH_TYPE_IPV4,
            &ipv4(IPPROTO_SCTP, 0, &[], &ports(9, 10, 12)),
        ));
        assert_eq!((k.ip_proto, k.tp_src, k.tp_dst), (132, 9, 10));

        let icmp = [8u8, 3, 0, 0, 0, 1, 0, 1];
        let k = key_of(&eth(&[], ETH_TYPE_IPV4, &ipv4(IPPROTO_ICMP, 0, &[], &icmp)));
        assert_eq!((k.icmp_type, k.icmp_code, k.tp_src, k.tp_dst), (8, 3, 0, 0));
    }

    #[test]
    fn ipv4_options_are_skipped() {
        let opts = [1, 1, 1, 0, 0x94, 4, 0, 0];
        let k = key_of(&eth(
            &[],
            ETH_TYPE_IPV4,
            &ipv4(IPPROTO_UDP, 0, &opts, &ports(7, 8, 8)),
        ));
        assert_eq!((k.ipv4_dst, k.tp_src, k.tp_dst), (0x0a00_0002, 7, 8));
        // IHL below 5 is not IPv4 we can trust: only the ethertype is known.
        let mut ip = ipv4(IPPROTO_UDP, 0, &[], &ports(7, 8, 8));
        ip[0] = 0x44;
        let k = key_of(&eth(&[], ETH_TYPE_IPV4, &ip));
        assert_eq!((k.eth_type, k.ipv4_src, k.tp_dst), (ETH_TYPE_IPV4, 0, 0));
    }

    #[test]
    fn ipv4_fragments() {
        let l4 = ports(7, 8, 8);
        let first = key_of(&eth(
            &[],
            ETH_TYPE_IPV4,
            &ipv4(IPPROTO_UDP, 0x2000, &[], &l4),
        ));
        assert_eq!((first.ip_frag, first.tp_dst), (FRAG_ANY, 8));
        let later = key_of(&eth(
            &[],
            ETH_TYPE_IPV4,
            &ipv4(IPPROTO_UDP, 0x2004, &[], &l4),
        ));
        assert_eq!(
            (later.ip_frag, later.ip_proto, later.tp_dst),
            (FRAG_ANY | FRAG_LATER, 17, 0)
        );
        let last = key_of(&eth(
            &[],
            ETH_TYPE_IPV4,
            &ipv4(IPPROTO_UDP, 0x0004, &[], &l4),
        ));
        assert_eq!((last.ip_frag, last.tp_src), (FRAG_ANY | FRAG_LATER, 0));
        // DF alone is not a fragment.
        let df = key_of(&eth(
            &[],
            ETH_TYPE_IPV4,
            &ipv4(IPPROTO_UDP, 0x4000, &[], &l4),
        ));
        assert_eq!((df.ip_frag, df.tp_src), (0, 7));
    }

    #[test]
    fn ipv4_total_length_bounds_l4() {
        // A bare 20-byte IPv4 header claiming UDP, padded to 60 bytes by Ethernet: the padding is
        // not a UDP header.
        let mut ip = ipv4(IPPROTO_UDP, 0, &[], &[]);
        ip.extend_from_slice(&[0x55; 26]);
        let k = key_of(&eth(&[], ETH_TYPE_IPV4, &ip));
        assert_eq!((k.ip_proto, k.tp_src, k.tp_dst), (17, 0, 0));
    }

    #[test]
    fn ipv6_tcp_and_extension_headers() {
        let k = key_of(&eth(
            &[],
            ETH_TYPE_IPV6,
            &ipv6(IPPROTO_TCP, &tcp(40000, 443, 0x002)),
        ));
        assert_eq!((k.ipv6_src, k.ipv6_dst), (v6addr(1), v6addr(2)));
        assert_eq!((k.ip_tos, k.ipv6_label, k.ip_ttl), (0x2a, 0xabcde, 255));
        assert_eq!(
            (k.ip_proto, k.tp_src, k.tp_dst, k.tcp_flags),
            (6, 40000, 443, 2)
        );
        assert_eq!((k.ipv4_src, k.ip_frag), (0, 0));

        // hop-by-hop (8) -> routing (24) -> AH (16) -> dstopts (8) -> UDP.
        let mut rest = vec![IPV6_ROUTING, 0, 0, 0, 0, 0, 0, 0];
        rest.extend_from_slice(&[IPV6_AH, 2]);
        rest.extend_from_slice(&[0; 22]);
        rest.extend_from_slice(&[IPV6_DSTOPTS, 2]);
        rest.extend_from_slice(&[0; 14]);
        rest.extend_from_slice(&[IPPROTO_UDP, 0, 0, 0, 0, 0, 0, 0]);
        rest.extend_from_slice(&ports(546, 547, 8));
        let k = key_of(&eth(&[], ETH_TYPE_IPV6, &ipv6(IPV6_HOPOPTS, &rest)));
        assert_eq!((k.ip_proto, k.tp_src, k.tp_dst), (17, 546, 547));
        assert_eq!(
            k.ipv6_exthdr,
            IPV6_EXTHDR_HOP | IPV6_EXTHDR_ROUTER | IPV6_EXTHDR_AUTH | IPV6_EXTHDR_DEST
        );

        // Truncated extension header: proto is the header we could not walk, no L4.
        let k = key_of(&eth(
            &[],
            ETH_TYPE_IPV6,
            &ipv6(IPV6_ROUTING, &[IPPROTO_UDP]),
        ));
        assert_eq!((k.ip_proto, k.tp_dst), (IPV6_ROUTING, 0));
        assert_eq!(
            k.ipv6_exthdr, IPV6_EXTHDR_ROUTER,
            "announced, then cut short"
        );
    }

    /// One 8-byte extension header whose next header is `next`.
    fn ext8(next: u8) -> Vec<u8> {
        vec![next, 0, 0, 0, 0, 0, 0, 0]
    }

    /// `ipv6_exthdr` of a UDP packet behind the extension headers `chain`, 8 bytes each.
    fn exthdr_of(chain: &[u8]) -> u16 {
        let mut rest = Vec::new();
        for (i, _) in chain.iter().enumerate() {
            rest.extend_from_slice(&ext8(chain.get(i + 1).copied().unwrap_or(IPPROTO_UDP)));
        }
        rest.extend_from_slice(&ports(1, 2, 8));
        let first = chain.first().copied().unwrap_or(IPPROTO_UDP);
        key_of(&eth(&[], ETH_TYPE_IPV6, &ipv6(first, &rest))).ipv6_exthdr
    }

    #[test]
    fn ipv6_exthdr_flags() {
        // No extension headers, and anything that is not IPv6: no flags.
        assert_eq!(exthdr_of(&[]), 0);
        let k = key_of(&eth(
            &[],
            ETH_TYPE_IPV4,
            &ipv4(IPPROTO_UDP, 0, &[], &ports(1, 2, 8)),
        ));
        assert_eq!(k.ipv6_exthdr, 0);
        // Hop-by-hop then a (first) fragment.
        let hop_frag = exthdr_of(&[IPV6_HOPOPTS, IPV6_FRAGMENT]);
        assert_eq!(hop_frag, IPV6_EXTHDR_HOP | IPV6_EXTHDR_FRAG);
        // Destination options before routing and as the final header: allowed twice.
        let two_dest = exthdr_of(&[IPV6_DSTOPTS, IPV6_ROUTING, IPV6_DSTOPTS]);
        assert_eq!(two_dest, IPV6_EXTHDR_DEST | IPV6_EXTHDR_ROUTER);
        // A repeated routing header.
        let rep = exthdr_of(&[IPV6_ROUTING, IPV6_ROUTING]);
        assert_eq!(rep, IPV6_EXTHDR_ROUTER | IPV6_EXTHDR_UNREP);
        // Two destination options headers in a row: repeated.
        let dd = exthdr_of(&[IPV6_DSTOPTS, IPV6_DSTOPTS]);
        assert_eq!(dd, IPV6_EXTHDR_DEST | IPV6_EXTHDR_UNREP);
        // Fragment before routing, and hop-by-hop not first: out of sequence.
        let fr = exthdr_of(&[IPV6_FRAGMENT, IPV6_ROUTING]);
        assert_eq!(
            fr,
            IPV6_EXTHDR_FRAG | IPV6_EXTHDR_ROUTER | IPV6_EXTHDR_UNSEQ
        );
        let rh = exthdr_of(&[IPV6_ROUTING, IPV6_HOPOPTS]);
        assert_eq!(rh, IPV6_EXTHDR_ROUTER | IPV6_EXTHDR_HOP | IPV6_EXTHDR_UNSEQ);
        // "No next header" straight away, and after a hop-by-hop header.
        let k = key_of(&eth(&[], ETH_TYPE_IPV6, &ipv6(IPV6_NONXT, &[0; 8])));
        assert_eq!(
            (k.ipv6_exthdr, k.ip_proto),
            (IPV6_EXTHDR_NONEXT, IPV6_NONXT)
        );
        let k = key_of(&eth(
            &[],
            ETH_TYPE_IPV6,
            &ipv6(IPV6_HOPOPTS, &ext8(IPV6_NONXT)),
        ));
        assert_eq!(k.ipv6_exthdr, IPV6_EXTHDR_HOP | IPV6_EXTHDR_NONEXT);
        // ESP ends the walk (what follows is encrypted); AH before it is fine.
        let mut ah = vec![IPV6_ESP, 2];
        ah.extend_from_slice(&[0; 14]);
        ah.extend_from_slice(&[0; 16]);
        let k = key_of(&eth(&[], ETH_TYPE_IPV6, &ipv6(IPV6_AH, &ah)));
        assert_eq!(
            (k.ipv6_exthdr, k.ip_proto),
            (IPV6_EXTHDR_AUTH | IPV6_EXTHDR_ESP, IPV6_ESP)
        );
    }

    #[test]
    fn ipv6_fragments() {
        let mut first = vec![IPPROTO_UDP, 0, 0x00, 0x01, 0, 0, 0, 1];
        first.extend_from_slice(&ports(1, 2, 8));
        let k = key_of(&eth(&[], ETH_TYPE_IPV6, &ipv6(IPV6_FRAGMENT, &first)));
        assert_eq!((k.ip_frag, k.ip_proto, k.tp_dst), (FRAG_ANY, 17, 2));
        let mut later = vec![IPPROTO_UDP, 0, 0x05, 0x01, 0, 0, 0, 1];
        later.extend_from_slice(&ports(1, 2, 8));
        let k = key_of(&eth(&[], ETH_TYPE_IPV6, &ipv6(IPV6_FRAGMENT, &later)));
        assert_eq!(
            (k.ip_frag, k.ip_proto, k.tp_dst),
            (FRAG_ANY | FRAG_LATER, 17, 0)
        );
    }

    #[test]
    fn arp() {
        let mut a = vec![0, 1, 0x08, 0, 6, 4, 0, 2];
        a.extend_from_slice(&SRC);
        a.extend_from_slice(&[192, 168, 0, 1]);
        a.extend_from_slice(&DST);
        a.extend_from_slice(&[192, 168, 0, 2]);
        let k = key_of(&eth(&[], ETH_TYPE_ARP, &a));
        assert_eq!((k.eth_type, k.arp_op, k.ip_proto), (ETH_TYPE_ARP, 2, 0));
        assert_eq!((k.ipv4_src, k.ipv4_dst), (0xc0a8_0001, 0xc0a8_0002));
        assert_eq!((k.arp_sha, k.arp_tha), (SRC, DST));
        // Not Ethernet/IPv4 ARP: nothing beyond the ethertype.
        a[1] = 6;
        let k = key_of(&eth(&[], ETH_TYPE_ARP, &a));
        assert_eq!((k.arp_op, k.ipv4_src), (0, 0));
    }

    #[test]
    fn mpls_outer_entry_and_ip_under_the_stack() {
        use crate::Field;
        // label 1000, tc 5, bos 1, ttl 63; then IPv4/UDP, parsed into the L3/L4 slots.
        let lse: u32 = (1000 << 12) | (5 << 9) | (1 << 8) | 63;
        let mut l3 = lse.to_be_bytes().to_vec();
        l3.extend_from_slice(&ipv4(IPPROTO_UDP, 0, &[], &ports(7, 9, 8)));
        let k = key_of(&eth(&[], crate::field::ETH_TYPE_MPLS, &l3));
        assert_eq!(k.mpls_lse, lse);
        assert_eq!(Field::MplsLabel.get(&k), 1000);
        assert_eq!(Field::MplsTc.get(&k), 5);
        assert_eq!(Field::MplsBos.get(&k), 1);
        assert_eq!(Field::MplsTtl.get(&k), 63);
        assert_eq!(k.eth_type, crate::field::ETH_TYPE_MPLS);
        assert_eq!((k.ip_proto, k.ipv4_src, k.tp_dst), (17, 0x0a00_0001, 9));
        // Two entries: the outer one is keyed, IPv6 under the bottom one is parsed.
        let outer: u32 = (16 << 12) | 7;
        let mut two = outer.to_be_bytes().to_vec();
        two.extend_from_slice(&lse.to_be_bytes());
        two.extend_from_slice(&ipv6(IPPROTO_TCP, &ports(1, 2, 20)));
        let k = key_of(&eth(&[], crate::field::ETH_TYPE_MPLS_MC, &two));
        assert_eq!((k.mpls_lse, k.ip_proto, k.tp_src), (outer, 6, 1));
        assert_eq!(k.ipv6_dst, v6addr(2));
        // No bottom of stack within the walk: nothing under it is parsed.
        let deep: Vec<u8> = (0..9)
            .flat_map(|_| outer.to_be_bytes())
            .chain(l3.clone())
            .collect();
        let k = key_of(&eth(&[], crate::field::ETH_TYPE_MPLS, &deep));
        assert_eq!((k.mpls_lse, k.ip_proto), (outer, 0));
        // Neither IPv4 nor IPv6 under the stack.
        let mut other = lse.to_be_bytes().to_vec();
        other.extend_from_slice(&[0x12; 30]);
        let k = key_of(&eth(&[], crate::field::ETH_TYPE_MPLS, &other));
        assert_eq!((k.mpls_lse, k.ip_proto, k.ip_ttl), (lse, 0, 0));
        // Cut inside the entry: the ethertype only.
        let k = key_of(&eth(&[], crate::field::ETH_TYPE_MPLS, &l3[..3]));
        assert_eq!((k.eth_type, k.mpls_lse), (crate::field::ETH_TYPE_MPLS, 0));
    }

    fn nd(ty: u8, code: u8, options: &[u8]) -> Vec<u8> {
        let mut m = vec![ty, code, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&v6addr(9));
        m.extend_from_slice(options);
        ipv6(IPPROTO_ICMPV6, &m)
    }

    #[test]
    fn icmpv6_and_neighbour_discovery() {
        let echo = ipv6(IPPROTO_ICMPV6, &[128, 0, 0, 0, 0, 0, 0, 0]);
        let k = key_of(&eth(&[], ETH_TYPE_IPV6, &echo));
        assert_eq!((k.ip_proto, k.icmp_type, k.icmp_code), (58, 128, 0));
        assert_eq!(k.nd_target, [0; 16]);

        let mut sll = vec![ND_OPT_SLL, 1];
        sll.extend_from_slice(&SRC);
        let mut unknown = vec![14, 1, 0, 0, 0, 0, 0, 0];
        unknown.extend_from_slice(&sll);
        let k = key_of(&eth(&[], ETH_TYPE_IPV6, &nd(135, 0, &unknown)));
        assert_eq!(
            (k.icmp_type, k.nd_target, k.arp_sha, k.arp_tha),
            (135, v6addr(9), SRC, [0; 6])
        );

        let mut tll = vec![ND_OPT_TLL, 1];
        tll.extend_from_slice(&DST);
        let k = key_of(&eth(&[], ETH_TYPE_IPV6, &nd(136, 0, &tll)));
        assert_eq!(
            (k.icmp_type, k.nd_target, k.arp_sha, k.arp_tha),
            (136, v6addr(9), [0; 6], DST)
        );

        // Zero-length option: malformed, ND fields cleared; type/code stay.
        let k = key_of(&eth(
            &[],
            ETH_TYPE_IPV6,
            &nd(135, 0, &[ND_OPT_SLL, 0, 1, 2, 3, 4, 5, 6]),
        ));
        assert_eq!(
            (k.icmp_type, k.nd_target, k.arp_sha),
            (135, [0; 16], [0; 6])
        );
        // Duplicate SLL: malformed too.
        let dup = [sll.clone(), sll.clone()].concat();
        let k = key_of(&eth(&[], ETH_TYPE_IPV6, &nd(135, 0, &dup)));
        assert_eq!((k.nd_target, k.arp_sha), ([0; 16], [0; 6]));
        // Non-zero code: not ND as far as the key goes.
        let k = key_of(&eth(&[], ETH_TYPE_IPV6, &nd(135, 1, &sll)));
        assert_eq!((k.icmp_code, k.nd_target, k.arp_sha), (1, [0; 16], [0; 6]));
    }

    /// Every prefix of a valid frame parses to a key whose bytes are each either zero or the byte
    /// of the full frame's key: truncation only ever loses fields.
    #[test]
    fn truncation_only_loses_fields() {
        let mut sll = vec![ND_OPT_SLL, 1];
        sll.extend_from_slice(&SRC);
        let frames = [
            eth(
                &[(ETH_TYPE_VLAN, 10)],
                ETH_TYPE_IPV4,
                &ipv4(6, 0, &[1, 1, 1, 0], &tcp(1, 2, 3)),
            ),
            eth(&[], ETH_TYPE_IPV6, &nd(135, 0, &sll)),
        ];
        for frame in &frames {
            let full = key_of(frame);
            for len in 0..frame.len() {
                let k = key_of(&frame[..len]);
                let (kb, fb) = (bytemuck::bytes_of(&k), bytemuck::bytes_of(&full));
                for (i, (a, b)) in kb.iter().zip(fb).enumerate() {
                    assert!(*a == 0 || a == b, "len {len} byte {i}: {a:#x} vs {b:#x}");
                }
            }
        }
    }

    #[test]
    fn batch_fills_each_key() {
        let a = eth(
            &[],
            ETH_TYPE_IPV4,
            &ipv4(IPPROTO_UDP, 0, &[], &ports(1, 2, 8)),
        );
        let b = eth(&[], ETH_TYPE_IPV6, &ipv6(IPPROTO_TCP, &tcp(3, 4, 0)));
        let mut keys = [FlowKey::all_ones(); 3];
        extract_batch(&[&a, &b], 3, &mut keys);
        assert_eq!(
            (keys[0].eth_type, keys[0].tp_dst, keys[0].in_port),
            (0x0800, 2, 3)
        );
        assert_eq!((keys[1].eth_type, keys[1].tp_dst), (0x86dd, 4));
        assert_eq!(keys[2], FlowKey::all_ones());
    }
}
