//! The flow key: every header field a rule can match, in one fixed, word-aligned struct.
//!
//! The key is plain old data (`bytemuck::Pod`) so that the classifier can treat it as an array of
//! `u64` words: a mask is another `FlowKey`, a masked key is a word-wise AND, and a subtable hashes
//! only the words its mask touches. Scalars are stored in host byte order (so printing and range
//! checks are natural); MAC and IPv6 addresses are stored as their wire bytes. Fields that only make
//! sense for some packets (ARP, ICMP, ND) have their own slots instead of overlaying others: the key
//! is a little larger, but a rule's mask never aliases two protocols, which keeps OpenFlow
//! prerequisite checking simple and the trace output honest.
//!
//! Field layout (byte offsets) is fixed here and nowhere else; `FIELD_WORDS` documents which `u64`
//! word each field lives in so a future miniflow/megaflow tier can compress keys without guessing.

use bytemuck::{Pod, Zeroable};

/// Number of `u64` words in a [`FlowKey`].
pub const KEY_WORDS: usize = core::mem::size_of::<FlowKey>() / 8;

/// `vlan_tci` bit that says "an 802.1Q tag is present" (OpenFlow's OFPVID_PRESENT, kept in the
/// CFI position as OVS does: real CFI bits are always 0 on Ethernet).
pub const VLAN_PRESENT: u16 = 0x1000;
/// `vlan_tci` bits holding the VLAN id.
pub const VLAN_VID_MASK: u16 = 0x0fff;
/// `vlan_tci` bits holding the priority code point.
pub const VLAN_PCP_MASK: u16 = 0xe000;
/// Shift of the PCP within `vlan_tci`.
pub const VLAN_PCP_SHIFT: u16 = 13;

/// `ip_frag` bit: the packet is a fragment (any fragment).
pub const FRAG_ANY: u8 = 0x01;
/// `ip_frag` bit: the packet is a non-first fragment (no L4 header).
pub const FRAG_LATER: u8 = 0x02;

/// `ipv6_exthdr` flag: a "no next header" (59) was met.
pub const IPV6_EXTHDR_NONEXT: u16 = 1 << 0;
/// `ipv6_exthdr` flag: an encrypted security payload header is present.
pub const IPV6_EXTHDR_ESP: u16 = 1 << 1;
/// `ipv6_exthdr` flag: an authentication header is present.
pub const IPV6_EXTHDR_AUTH: u16 = 1 << 2;
/// `ipv6_exthdr` flag: one or two destination options headers are present.
pub const IPV6_EXTHDR_DEST: u16 = 1 << 3;
/// `ipv6_exthdr` flag: a fragment header is present.
pub const IPV6_EXTHDR_FRAG: u16 = 1 << 4;
/// `ipv6_exthdr` flag: a routing header is present.
pub const IPV6_EXTHDR_ROUTER: u16 = 1 << 5;
/// `ipv6_exthdr` flag: a hop-by-hop options header is present.
pub const IPV6_EXTHDR_HOP: u16 = 1 << 6;
/// `ipv6_exthdr` flag: a header appeared more often than RFC 8200 allows.
pub const IPV6_EXTHDR_UNREP: u16 = 1 << 7;
/// `ipv6_exthdr` flag: headers appeared out of RFC 8200's recommended order.
pub const IPV6_EXTHDR_UNSEQ: u16 = 1 << 8;

/// Everything a rule can match on. See the module documentation for the representation.
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Debug, Pod, Zeroable)]
pub struct FlowKey {
    /// OpenFlow metadata (written by `write_metadata`).
    pub metadata: u64,
    /// OpenFlow `tunnel_id` (OXM 38, ovs-ofctl's `tun_id`): the overlay key a packet arrived with
    /// and, through `set_field`, the one it will leave with. There are no overlay ports yet, so
    /// every packet enters with 0 and the field is pipeline state like `metadata`: it is one of
    /// the leading scratch words the EMC does not store (entries stay two cache lines), at the
    /// cost of a 20th key word. When tunnel ports set it on ingress it has to move into the
    /// stored part (or the EMC learn to store it), else tunnelled packets would not be cached.
    pub tunnel_id: u64,
    /// Registers reg0..reg7 (pipeline scratch, Nicira-style; zero on ingress).
    pub regs: [u32; 8],
    /// Ingress OpenFlow port number.
    pub in_port: u32,
    /// Outer VLAN: `VLAN_PRESENT | pcp << 13 | vid`, 0 when untagged.
    pub vlan_tci: u16,
    /// Ethertype after any VLAN tags (host order).
    pub eth_type: u16,
    /// Ethernet source address.
    pub eth_src: [u8; 6],
    /// Ethernet destination address.
    pub eth_dst: [u8; 6],
    /// IP protocol (IPv4) or final next header (IPv6); for ARP the low byte of the opcode is NOT
    /// stored here (see `arp_op`).
    pub ip_proto: u8,
    /// IP TOS / IPv6 traffic class: DSCP in the upper 6 bits, ECN in the lower 2.
    pub ip_tos: u8,
    /// IPv4 TTL / IPv6 hop limit.
    pub ip_ttl: u8,
    /// Fragment bits: [`FRAG_ANY`], [`FRAG_LATER`].
    pub ip_frag: u8,
    /// IPv4 source, or ARP sender protocol address (host order).
    pub ipv4_src: u32,
    /// IPv4 destination, or ARP target protocol address (host order).
    pub ipv4_dst: u32,
    /// IPv6 source address.
    pub ipv6_src: [u8; 16],
    /// IPv6 destination address.
    pub ipv6_dst: [u8; 16],
    /// ICMPv6 neighbour discovery target address.
    pub nd_target: [u8; 16],
    /// ARP sender hardware address, or ND source link-layer address option.
    pub arp_sha: [u8; 6],
    /// ARP target hardware address, or ND target link-layer address option.
    pub arp_tha: [u8; 6],
    /// ARP opcode.
    pub arp_op: u16,
    /// TCP/UDP/SCTP source port.
    pub tp_src: u16,
    /// TCP/UDP/SCTP destination port.
    pub tp_dst: u16,
    /// TCP flags (the low 12 bits of the offset/flags word).
    pub tcp_flags: u16,
    /// ICMP/ICMPv6 type.
    pub icmp_type: u8,
    /// ICMP/ICMPv6 code.
    pub icmp_code: u8,
    /// IPv6 extension header flags, OpenFlow 1.3's `ipv6_exthdr` pseudo-field (`IPV6_EXTHDR_*`),
    /// computed by the parser from the extension header chain, 0 for anything but IPv6. Its 9
    /// bits live in what used to be the 2 padding bytes after `icmp_code`, so they cost no key
    /// word (and EMC entries stay two cache lines); bits 9..16 are always zero.
    pub ipv6_exthdr: u16,
    /// IPv6 flow label (low 20 bits).
    pub ipv6_label: u32,
    /// Outermost MPLS label stack entry as on the wire (label 20 bits, TC 3, bottom-of-stack 1,
    /// TTL 8), 0 when the frame is not MPLS. Kept whole so push/pop and the TTL actions move one
    /// word; the `Field`s slice it.
    pub mpls_lse: u32,
}

const _: () = assert!(core::mem::size_of::<FlowKey>().is_multiple_of(8));
const _: () = assert!(core::mem::align_of::<FlowKey>() == 8);

impl FlowKey {
    /// The key viewed as words (for hashing and masking).
    #[inline]
    pub fn words(&self) -> &[u64; KEY_WORDS] {
        bytemuck::cast_ref(self)
    }

    /// The key viewed as mutable words.
    #[inline]
    pub fn words_mut(&mut self) -> &mut [u64; KEY_WORDS] {
        bytemuck::cast_mut(self)
    }

    /// `self & mask`, word by word.
    #[inline]
    pub fn masked(&self, mask: &FlowKey) -> FlowKey {
        let mut out = *self;
        for (o, m) in out.words_mut().iter_mut().zip(mask.words()) {
            *o &= *m;
        }
        out
    }

    /// True when `self & mask == value` (value must already be masked).
    #[inline]
    pub fn matches(&self, value: &FlowKey, mask: &FlowKey) -> bool {
        let (k, v, m) = (self.words(), value.words(), mask.words());
        let mut diff = 0u64;
        for i in 0..KEY_WORDS {
            diff |= (k[i] & m[i]) ^ v[i];
        }
        diff == 0
    }

    /// VLAN id of the outer tag, if the packet is tagged.
    #[inline]
    pub fn vlan_vid(&self) -> Option<u16> {
        (self.vlan_tci & VLAN_PRESENT != 0).then_some(self.vlan_tci & VLAN_VID_MASK)
    }

    /// Priority code point of the outer tag (0 when untagged).
    #[inline]
    pub fn vlan_pcp(&self) -> u8 {
        ((self.vlan_tci & VLAN_PCP_MASK) >> VLAN_PCP_SHIFT) as u8
    }

    /// Add `other`'s bits to this mask (word-wise OR): the megaflow tier's "these bits were
    /// read too".
    #[inline]
    pub fn or_with(&mut self, other: &FlowKey) {
        for (o, m) in self.words_mut().iter_mut().zip(other.words()) {
            *o |= *m;
        }
    }

    /// This key where `mask` is set, `other` elsewhere: a key that agrees with this one on
    /// exactly the bits of `mask` (how the megaflow tests make "another packet of the same
    /// megaflow").
    pub fn blend(&self, other: &FlowKey, mask: &FlowKey) -> FlowKey {
        let mut out = *self;
        for ((o, b), m) in out
            .words_mut()
            .iter_mut()
            .zip(other.words())
            .zip(mask.words())
        {
            *o = (*o & m) | (b & !m);
        }
        out
    }

    /// A key with every bit set: the mask of an exact match.
    pub fn all_ones() -> FlowKey {
        let mut k = FlowKey::default();
        for w in k.words_mut() {
            *w = u64::MAX;
        }
        k
    }
}

/// 64-bit hash of the words of `key` selected by `mask`, seeded by `basis`.
///
/// A multiply-xorshift mix per word: cheap, good enough for the EMC and subtable buckets, and
/// deterministic so that benchmarks are repeatable.
#[inline]
pub fn hash_words(words: &[u64], basis: u64) -> u64 {
    let mut h = basis ^ 0x9e37_79b9_7f4a_7c15;
    for &w in words {
        h = (h ^ w).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 32;
    }
    h ^ (h >> 29)
}

/// Hash of a whole key.
#[inline]
pub fn hash_key(key: &FlowKey, basis: u64) -> u64 {
    hash_words(key.words(), basis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_word_aligned() {
        assert_eq!(core::mem::size_of::<FlowKey>(), KEY_WORDS * 8);
        assert_eq!(KEY_WORDS, 20);
    }

    #[test]
    fn masked_match() {
        let k = FlowKey {
            ipv4_dst: 0x0a00_0005,
            tp_dst: 80,
            ..FlowKey::default()
        };
        let m = FlowKey {
            ipv4_dst: 0xffff_ff00,
            ..FlowKey::default()
        };
        let v = k.masked(&m);
        assert!(k.matches(&v, &m));
        let mut other = k;
        other.ipv4_dst = 0x0a00_0105;
        assert!(!other.matches(&v, &m));
        other.ipv4_dst = 0x0a00_00ff;
        assert!(other.matches(&v, &m));
    }

    #[test]
    fn all_ones_covers_every_field() {
        let k = FlowKey::all_ones();
        assert_eq!(k.ipv6_exthdr, u16::MAX);
        assert_eq!(k.in_port, u32::MAX);
    }
}
