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
#[path = "extract_tests.rs"]
mod tests;
