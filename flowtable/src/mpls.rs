//! MPLS actions as they change a flow key: push, pop, TTL decrement and TTL copies.
//!
//! OpenFlow 1.3 says the pipeline re-parses the packet after a push or pop, so that later tables
//! match the new headers. The pipeline only has the key, so each action here leaves the key
//! exactly as [`crate::extract`] would produce it from the edited frame. That works because the
//! extractor keys the outer label stack entry *and* parses what lies under the bottom of the
//! stack (IPv4, IPv6 or Ethernet/IPv4 ARP, told apart by their first bytes) into the ordinary
//! L3/L4 slots, with `eth_type` left MPLS so no IP rule matches the labelled frame:
//!
//! - push onto a non-MPLS frame: `eth_type` becomes the MPLS ethertype and the new entry is
//!   label 0, TC 0 (OpenFlow 1.3's "new field" values), bottom of stack, TTL copied from the IP
//!   TTL (64 when the frame is not IP, as Open vSwitch does: a zero TTL would be discarded by the
//!   next router). IP and ARP slots stay (a re-parse finds them under the new entry); anything
//!   else in the L3 slots is cleared.
//! - push onto an MPLS frame: the new entry copies label, TC and TTL of the old outer one, with
//!   the bottom-of-stack bit clear.
//! - pop of the bottom entry: `eth_type` becomes the given ethertype and the L3/L4 slots stay if
//!   it is IPv4, IPv6 or ARP (they were parsed from the payload), else they are cleared.
//!
//! The key holds one label stack entry (it is the EMC's key: one more word would cost a third
//! cache line per entry), so popping one of several entries leaves the key's new outer entry as
//! zero, and a TTL copy between two entries does not show in the key. The packet itself is always
//! edited right (`datapath::edit`); only a later table matching the second entry's fields sees
//! zeros. Stacks of one entry, by far the common case, are exact.

use crate::field::{is_mpls, ETH_TYPE_ARP, ETH_TYPE_IPV4, ETH_TYPE_IPV6, MPLS_BOS_SHIFT};
use crate::key::FlowKey;

/// TTL of an entry pushed onto a frame that has no IP TTL to copy.
pub const DEFAULT_TTL: u8 = 64;
/// Bottom-of-stack bit of a label stack entry.
pub const BOS: u32 = 1 << MPLS_BOS_SHIFT;
/// TTL bits of a label stack entry.
pub const TTL_MASK: u32 = 0xff;

/// The TTL of a label stack entry.
#[inline]
pub fn ttl(lse: u32) -> u8 {
    (lse & TTL_MASK) as u8
}

/// `lse` with its TTL replaced.
#[inline]
pub fn with_ttl(lse: u32, ttl: u8) -> u32 {
    (lse & !TTL_MASK) | u32::from(ttl)
}

fn is_ip(eth_type: u16) -> bool {
    eth_type == ETH_TYPE_IPV4 || eth_type == ETH_TYPE_IPV6
}

/// The label stack entry a push adds to a frame whose key is `key` (see the module docs).
pub fn pushed_lse(key: &FlowKey) -> u32 {
    if is_mpls(key.eth_type) {
        key.mpls_lse & !BOS
    } else if is_ip(key.eth_type) {
        BOS | u32::from(key.ip_ttl)
    } else {
        BOS | u32::from(DEFAULT_TTL)
    }
}

/// Zero every slot filled from the L3 header and beyond.
fn clear_l3(k: &mut FlowKey) {
    *k = FlowKey {
        metadata: k.metadata,
        regs: k.regs,
        in_port: k.in_port,
        vlan_tci: k.vlan_tci,
        eth_type: k.eth_type,
        eth_src: k.eth_src,
        eth_dst: k.eth_dst,
        mpls_lse: k.mpls_lse,
        ..FlowKey::default()
    };
}

/// `push_mpls:ethertype` on the key.
pub fn push(k: &mut FlowKey, ethertype: u16) {
    let lse = pushed_lse(k);
    if !is_mpls(k.eth_type) && !is_ip(k.eth_type) && k.eth_type != ETH_TYPE_ARP {
        clear_l3(k);
    }
    k.mpls_lse = lse;
    k.eth_type = ethertype;
}

/// `pop_mpls:ethertype` on the key (nothing for a frame that is not MPLS).
pub fn pop(k: &mut FlowKey, ethertype: u16) {
    if !is_mpls(k.eth_type) {
        return;
    }
    let bottom = k.mpls_lse & BOS != 0;
    k.mpls_lse = 0;
    k.eth_type = ethertype;
    // Not bottom: the next entry is not in the key (see the module docs), and what was parsed
    // under the stack stays, as a re-parse would find it again under the remaining entries.
    if bottom && !(is_ip(ethertype) || ethertype == ETH_TYPE_ARP) {
        clear_l3(k);
    }
}

/// `dec_mpls_ttl` on the key (saturating; the caller drops at 0 and 1).
pub fn dec_ttl(k: &mut FlowKey) {
    if is_mpls(k.eth_type) {
        k.mpls_lse = with_ttl(k.mpls_lse, ttl(k.mpls_lse).saturating_sub(1));
    }
}

/// `copy_ttl_in` on the key: the outer TTL to the IP TTL under a single entry.
pub fn copy_ttl_in(k: &mut FlowKey) {
    if is_mpls(k.eth_type) && k.mpls_lse & BOS != 0 && ip_under(k) {
        k.ip_ttl = ttl(k.mpls_lse);
    }
}

/// `copy_ttl_out` on the key: the IP TTL under a single entry to the outer TTL.
pub fn copy_ttl_out(k: &mut FlowKey) {
    if is_mpls(k.eth_type) && k.mpls_lse & BOS != 0 && ip_under(k) {
        k.mpls_lse = with_ttl(k.mpls_lse, k.ip_ttl);
    }
}

/// An IP header was parsed under the stack (IPv4 and IPv6 always have a version and a
/// non-zero TTL is not guaranteed, so look at the addresses and protocol slots).
fn ip_under(k: &FlowKey) -> bool {
    k.arp_op == 0
        && (k.ip_proto != 0
            || k.ip_ttl != 0
            || k.ipv4_src | k.ipv4_dst != 0
            || k.ipv6_src != [0; 16]
            || k.ipv6_dst != [0; 16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{ETH_TYPE_MPLS, ETH_TYPE_MPLS_MC};

    fn ip_key() -> FlowKey {
        FlowKey {
            in_port: 1,
            eth_type: ETH_TYPE_IPV4,
            ip_proto: 17,
            ip_ttl: 33,
            ipv4_src: 0x0a00_0001,
            tp_dst: 53,
            ..FlowKey::default()
        }
    }

    #[test]
    fn push_on_ip_copies_the_ttl_and_keeps_l3() {
        let mut k = ip_key();
        push(&mut k, ETH_TYPE_MPLS);
        assert_eq!(k.eth_type, ETH_TYPE_MPLS);
        assert_eq!(k.mpls_lse, BOS | 33, "label 0, tc 0, bos, ttl from IP");
        assert_eq!((k.ip_proto, k.tp_dst), (17, 53));
        // A second push copies the outer entry without the bottom bit.
        k.mpls_lse |= 77 << 12;
        push(&mut k, ETH_TYPE_MPLS_MC);
        assert_eq!(k.mpls_lse, (77 << 12) | 33);
        assert_eq!(k.eth_type, ETH_TYPE_MPLS_MC);
    }

    #[test]
    fn push_on_other_frames_uses_ttl_64_and_clears_l3() {
        let mut k = FlowKey {
            eth_type: 0x88cc,
            ip_proto: 9,
            ..FlowKey::default()
        };
        push(&mut k, ETH_TYPE_MPLS);
        assert_eq!(k.mpls_lse, BOS | 64);
        assert_eq!(k.ip_proto, 0);
    }

    #[test]
    fn pop_restores_the_parsed_payload() {
        let orig = ip_key();
        let mut k = orig;
        push(&mut k, ETH_TYPE_MPLS);
        pop(&mut k, ETH_TYPE_IPV4);
        assert_eq!(k, orig);
        // Popping to something that is not what lies underneath clears the slots.
        push(&mut k, ETH_TYPE_MPLS);
        pop(&mut k, 0x88cc);
        assert_eq!((k.eth_type, k.ip_proto, k.mpls_lse), (0x88cc, 0, 0));
        // Not MPLS: nothing happens.
        let mut k = orig;
        pop(&mut k, ETH_TYPE_IPV6);
        assert_eq!(k, orig);
    }

    #[test]
    fn ttl_actions() {
        let mut k = ip_key();
        push(&mut k, ETH_TYPE_MPLS);
        dec_ttl(&mut k);
        assert_eq!(ttl(k.mpls_lse), 32);
        copy_ttl_in(&mut k);
        assert_eq!(k.ip_ttl, 32);
        k.ip_ttl = 9;
        copy_ttl_out(&mut k);
        assert_eq!(ttl(k.mpls_lse), 9);
        k.mpls_lse = with_ttl(k.mpls_lse, 0);
        dec_ttl(&mut k);
        assert_eq!(ttl(k.mpls_lse), 0, "saturates");
    }
}
