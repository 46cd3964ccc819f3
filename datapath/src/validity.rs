//! Frame validity: what every received frame must satisfy before anything acts on it.
//!
//! Switches are asked to forward frames that no conforming station sends: a source MAC with the
//! group bit set (a broadcast or multicast address cannot be a sender; IEEE 802.1Q bridges never
//! learn or forward such a frame, and accepting it would let a VM poison a MAC table with the
//! broadcast address), and IP headers whose lengths lie about the frame (an IHL below 5, a header
//! or total length beyond the bytes present, an IPv6 payload length beyond the frame). The flow
//! key extractor (`flowtable::extract`) never trusts those lengths, so such a frame cannot make it
//! misbehave, but it does key the frame as IP with addresses taken from a header that is not
//! there in full, and an L3 rule, a security group or an IP-MAC binding check would then decide
//! on garbage. [`check`] rejects them first, on every port, so the pipeline only ever sees frames
//! whose L3 header is what it claims to be. The IP checks are the `packet` crate's own checked
//! constructors ([`Ipv4Packet::check_len`], [`Ipv6Packet::check_len`]), so the switch and every
//! other reader in dvs agree on what a sound header is; they also refuse a wrong IP version under
//! the IPv4/IPv6 EtherType. Frames longer than the IP length (Ethernet padding) are fine, as is
//! everything that is not IP: ARP and other EtherTypes are judged by the pipeline.
//!
//! Short frames are a different matter. Ethernet's minimum is 60 bytes without the FCS, but a
//! veth, a tap or a vhost-user guest hands over whatever the sender's stack built: Linux sends a
//! 42-byte ARP request through a veth every time, and NICs pad such frames only when they put them
//! on a wire. Dropping them would break ARP for every namespace and many guests, so a frame of at
//! least an Ethernet header but under 60 bytes is padded with zeros to 60 ([`pad`]) and counted
//! per port (`rx_runts_padded`), which is also what a physical switch port would have received
//! had the sender been a NIC. It is padded before its flow key is extracted, so the key, the
//! cached decision and the frame that leaves all describe the same 60 bytes; the validity check
//! runs on the frame as received, so padding can never make a lying IP length true. Frames
//! shorter than an Ethernet header carry no addresses at all and stay dropped as `runt_frame`.
//!
//! Cost: one byte test for the source MAC and one EtherType compare for non-IP frames; IP frames
//! add the handful of compares of the header check on bytes the extractor reads next anyway. No
//! allocation, no branch per field beyond that.

use crate::drops::DropReason;
use crate::mempool::Packet;
use packet::layout;
use packet::{Ipv4Packet, Ipv6Packet};

/// Length of an Ethernet header (destination, source, EtherType).
pub const ETH_HEADER_LEN: usize = 14;

/// Smallest Ethernet frame without its FCS; shorter frames are padded up to this.
pub const ETH_MIN_FRAME: usize = 60;

const ETH_TYPE_IPV4: u16 = 0x0800;
const ETH_TYPE_IPV6: u16 = 0x86dd;

/// Is `mac` a group (multicast or broadcast) address, i.e. one no station may send from?
#[inline(always)]
pub fn is_group_mac(mac: &[u8; 6]) -> bool {
    mac[0] & 1 != 0
}

/// Why `frame` (as received, before any padding) must be dropped, or `Ok` when it may go on.
#[inline]
pub fn check(frame: &[u8]) -> Result<(), DropReason> {
    let Some(eth) = frame.first_chunk::<ETH_HEADER_LEN>() else {
        return Err(DropReason::Runt);
    };
    // The source address starts at byte 6; its first byte's low bit is the group bit.
    if eth[6] & 1 != 0 {
        return Err(DropReason::SrcMacMulticast);
    }
    match u16::from_be_bytes([eth[12], eth[13]]) {
        // Untagged IP, the common case: the L3 header starts right after the Ethernet header.
        ETH_TYPE_IPV4 => check_ipv4(&frame[ETH_HEADER_LEN..]),
        ETH_TYPE_IPV6 => check_ipv6(&frame[ETH_HEADER_LEN..]),
        t if packet::vlan::is_tpid(t) => {
            // Tagged: the one shared walk over the tags says where L3 starts.
            let l = layout::walk(frame);
            let l3 = frame.get(l.l3..).unwrap_or_default();
            match l.ethertype {
                Some(ETH_TYPE_IPV4) => check_ipv4(l3),
                Some(ETH_TYPE_IPV6) => check_ipv6(l3),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// An IPv4 header (and what follows it) as it sits in the frame after the L2 header: version
/// 4, IHL of at least 5, header and total length within `l3`.
#[inline]
pub fn check_ipv4(l3: &[u8]) -> Result<(), DropReason> {
    Ipv4Packet::new_unchecked(l3)
        .check_len()
        .map_err(|_| DropReason::BadIpv4Header)
}

/// An IPv6 packet as it sits in the frame after the L2 header: version 6, the whole fixed
/// header present, the payload length within `l3`.
#[inline]
pub fn check_ipv6(l3: &[u8]) -> Result<(), DropReason> {
    Ipv6Packet::new_unchecked(l3)
        .check_len()
        .map_err(|_| DropReason::BadIpv6Length)
}

/// The length `frame_len` is padded to: [`ETH_MIN_FRAME`] for a frame with a whole Ethernet
/// header but under the minimum, `None` when nothing is to be done.
#[inline(always)]
pub fn padded_len(frame_len: usize) -> Option<usize> {
    (ETH_HEADER_LEN..ETH_MIN_FRAME)
        .contains(&frame_len)
        .then_some(ETH_MIN_FRAME)
}

/// Zero-pad a short frame to [`ETH_MIN_FRAME`] bytes; true when it was padded. A pool frame
/// always has room for 60 bytes, so this only fails for a frame that needs no padding.
#[inline]
pub fn pad(pkt: &mut Packet) -> bool {
    let len = pkt.len();
    let Some(to) = padded_len(len) else {
        return false;
    };
    let Some(tail) = pkt.spare_mut().get_mut(len..to) else {
        return false;
    };
    tail.fill(0);
    pkt.set_len(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mempool::PacketPool;

    const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
    const DST: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

    fn eth(src: [u8; 6], tags: &[u16], ethertype: u16, l3: &[u8]) -> Vec<u8> {
        let mut f = DST.to_vec();
        f.extend_from_slice(&src);
        for (i, tpid) in tags.iter().enumerate() {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&(100 + i as u16).to_be_bytes());
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(l3);
        f
    }

    /// An IPv4 header of `ihl` words with total length `total`, followed by `payload` bytes.
    fn ipv4(ihl: u8, total: u16, payload: usize) -> Vec<u8> {
        let hl = usize::from(ihl) * 4;
        let mut p = vec![0u8; hl.max(20) + payload];
        p[0] = 0x40 | ihl;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[8] = 64;
        p[9] = 17;
        p
    }

    /// An IPv6 header with payload length `plen`, followed by `payload` bytes.
    fn ipv6(plen: u16, payload: usize) -> Vec<u8> {
        let mut p = vec![0u8; 40 + payload];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        p[6] = 17;
        p[7] = 64;
        p
    }

    #[test]
    fn good_frames_pass() {
        // Plain IPv4 with an 8-byte payload.
        assert_eq!(check(&eth(SRC, &[], 0x0800, &ipv4(5, 28, 8))), Ok(()));
        // IPv4 with 8 bytes of options (IHL 7).
        assert_eq!(check(&eth(SRC, &[], 0x0800, &ipv4(7, 36, 8))), Ok(()));
        // IPv4 followed by Ethernet padding (total length shorter than the frame).
        assert_eq!(check(&eth(SRC, &[], 0x0800, &ipv4(5, 20, 26))), Ok(()));
        // IPv6, exact and with padding after the payload.
        assert_eq!(check(&eth(SRC, &[], 0x86dd, &ipv6(8, 8))), Ok(()));
        assert_eq!(check(&eth(SRC, &[], 0x86dd, &ipv6(8, 20))), Ok(()));
        // VLAN-tagged and double-tagged IP.
        assert_eq!(check(&eth(SRC, &[0x8100], 0x0800, &ipv4(5, 28, 8))), Ok(()));
        assert_eq!(
            check(&eth(SRC, &[0x88a8, 0x8100], 0x86dd, &ipv6(0, 6))),
            Ok(())
        );
        // ARP (42 bytes, not yet padded) and an unknown EtherType.
        assert_eq!(check(&eth(SRC, &[], 0x0806, &[0u8; 28])), Ok(()));
        assert_eq!(check(&eth(SRC, &[], 0x88b5, &[])), Ok(()));
        // Locally administered unicast sources are fine.
        assert_eq!(check(&eth([0xfe, 1, 2, 3, 4, 5], &[], 0x88b5, &[])), Ok(()));
    }

    #[test]
    fn runt_and_group_sources() {
        assert_eq!(check(&[0u8; 13]), Err(DropReason::Runt));
        assert_eq!(check(&[]), Err(DropReason::Runt));
        let bcast = [0xff; 6];
        let mcast = [0x01, 0x00, 0x5e, 0, 0, 1];
        assert_eq!(
            check(&eth(bcast, &[], 0x0806, &[0u8; 28])),
            Err(DropReason::SrcMacMulticast)
        );
        assert_eq!(
            check(&eth(mcast, &[0x8100], 0x0800, &ipv4(5, 28, 8))),
            Err(DropReason::SrcMacMulticast)
        );
        assert!(is_group_mac(&mcast) && is_group_mac(&bcast) && !is_group_mac(&SRC));
    }

    #[test]
    fn bad_ipv4() {
        let bad = |l3: &[u8], tags: &[u16]| check(&eth(SRC, tags, 0x0800, l3));
        let e = Err(DropReason::BadIpv4Header);
        // IHL 4 (and 0).
        assert_eq!(bad(&ipv4(4, 28, 8), &[]), e);
        assert_eq!(bad(&ipv4(0, 28, 8), &[]), e);
        // Total length beyond the frame, untagged and tagged.
        assert_eq!(bad(&ipv4(5, 100, 8), &[]), e);
        assert_eq!(bad(&ipv4(5, 29, 8), &[0x8100]), e);
        // Header (IHL 15 = 60 bytes) beyond the frame.
        let mut short_opts = ipv4(5, 20, 10);
        short_opts[0] = 0x4f;
        assert_eq!(bad(&short_opts, &[]), e);
        // Total length below the header length.
        assert_eq!(bad(&ipv4(5, 19, 8), &[]), e);
        // Header cut short, or missing entirely.
        assert_eq!(bad(&ipv4(5, 20, 0)[..19], &[]), e);
        assert_eq!(bad(&[], &[]), e);
        // Wrong version under the IPv4 EtherType.
        let mut v6 = ipv4(5, 28, 8);
        v6[0] = 0x65;
        assert_eq!(bad(&v6, &[]), e);
    }

    #[test]
    fn bad_ipv6() {
        let bad = |l3: &[u8], tags: &[u16]| check(&eth(SRC, tags, 0x86dd, l3));
        let e = Err(DropReason::BadIpv6Length);
        // Payload length beyond the frame, untagged and tagged.
        assert_eq!(bad(&ipv6(100, 8), &[]), e);
        assert_eq!(bad(&ipv6(9, 8), &[0x8100]), e);
        // Fixed header cut short.
        assert_eq!(bad(&ipv6(0, 0)[..39], &[]), e);
        assert_eq!(bad(&[], &[0x8100]), e);
        // Wrong version.
        let mut v4 = ipv6(8, 8);
        v4[0] = 0x45;
        assert_eq!(bad(&v4, &[]), e);
    }

    #[test]
    fn checks_agree_with_the_extractor_on_good_frames() {
        // What passes keeps the addresses the extractor reads; a frame the check refuses never
        // reaches a lookup, so only good frames need agreeing keys.
        let mut ip = ipv4(5, 28, 8);
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        let f = eth(SRC, &[0x8100], 0x0800, &ip);
        assert_eq!(check(&f), Ok(()));
        let mut key = flowtable::key::FlowKey::default();
        flowtable::extract::extract(&f, 1, &mut key);
        assert_eq!(key.eth_type, 0x0800);
        assert_eq!(key.ipv4_src, 0x0a00_0001);
    }

    #[test]
    fn padding() {
        assert_eq!(padded_len(13), None);
        assert_eq!(padded_len(14), Some(60));
        assert_eq!(padded_len(42), Some(60));
        assert_eq!(padded_len(59), Some(60));
        assert_eq!(padded_len(60), None);
        let mut pool = PacketPool::new(4, 2048).expect("pool");
        // A recycled frame holds old bytes: padding must write zeros, not expose them.
        let p = pool.alloc_from(&[0xaa; 100]).expect("alloc");
        pool.free(p);
        let arp = eth(SRC, &[], 0x0806, &[7u8; 28]);
        let mut p = pool.alloc_from(&arp).expect("alloc");
        assert_eq!(p.len(), 42);
        assert!(pad(&mut p));
        assert_eq!(p.len(), 60);
        assert_eq!(&p.data()[..42], &arp[..]);
        assert!(p.data()[42..].iter().all(|&b| b == 0));
        // Already long enough: untouched.
        assert!(!pad(&mut p));
        assert_eq!(p.len(), 60);
        let mut tiny = pool.alloc_from(&[1u8; 10]).expect("alloc");
        assert!(!pad(&mut tiny));
        assert_eq!(tiny.len(), 10);
        pool.free(p);
        pool.free(tiny);
    }
}
