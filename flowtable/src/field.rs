//! Named match/set fields: the bridge between OpenFlow names (OXM, `ovs-ofctl` syntax) and the
//! slots of a [`FlowKey`].
//!
//! Every field reads and writes its value as a `u128` (wide enough for an IPv6 address), so the
//! text parser, the OpenFlow codec, `set_field` and the tracer share one generic path instead of a
//! match arm per field in each of them. Prerequisites follow OpenFlow 1.3 section 7.2.3.8.

use crate::key::{FlowKey, VLAN_PCP_MASK, VLAN_PCP_SHIFT};
use serde::{Deserialize, Serialize};

/// A field that rules can match on and `set_field` can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Field {
    /// Ingress port.
    InPort,
    /// Pipeline metadata.
    Metadata,
    /// Tunnel id (OXM 38): pipeline state until overlay ports exist (0 on ingress).
    TunnelId,
    /// Register 0..7.
    Reg(u8),
    /// Ethernet destination.
    EthDst,
    /// Ethernet source.
    EthSrc,
    /// Ethertype.
    EthType,
    /// VLAN id with the OFPVID_PRESENT bit (0x1000), as in OXM.
    VlanVid,
    /// VLAN priority.
    VlanPcp,
    /// IP DSCP (6 bits).
    IpDscp,
    /// IP ECN (2 bits).
    IpEcn,
    /// IP protocol.
    IpProto,
    /// IPv4 TTL / IPv6 hop limit (a Nicira extension, not OXM basic).
    IpTtl,
    /// Fragment bits.
    IpFrag,
    /// IPv4 source.
    Ipv4Src,
    /// IPv4 destination.
    Ipv4Dst,
    /// TCP source port.
    TcpSrc,
    /// TCP destination port.
    TcpDst,
    /// UDP source port.
    UdpSrc,
    /// UDP destination port.
    UdpDst,
    /// SCTP source port.
    SctpSrc,
    /// SCTP destination port.
    SctpDst,
    /// TCP flags.
    TcpFlags,
    /// ICMPv4 type.
    Icmpv4Type,
    /// ICMPv4 code.
    Icmpv4Code,
    /// ARP opcode.
    ArpOp,
    /// ARP sender IPv4.
    ArpSpa,
    /// ARP target IPv4.
    ArpTpa,
    /// ARP sender MAC.
    ArpSha,
    /// ARP target MAC.
    ArpTha,
    /// IPv6 source.
    Ipv6Src,
    /// IPv6 destination.
    Ipv6Dst,
    /// IPv6 flow label.
    Ipv6Label,
    /// ICMPv6 type.
    Icmpv6Type,
    /// ICMPv6 code.
    Icmpv6Code,
    /// ND target address.
    NdTarget,
    /// ND source link-layer address.
    NdSll,
    /// ND target link-layer address.
    NdTll,
    /// IPv6 extension header flags (`IPV6_EXTHDR_*`, 9 bits), computed by the parser; read-only.
    Ipv6Exthdr,
    /// Label of the outermost MPLS label stack entry (20 bits).
    MplsLabel,
    /// Traffic class of the outermost MPLS entry (3 bits).
    MplsTc,
    /// Bottom-of-stack bit of the outermost MPLS entry.
    MplsBos,
    /// TTL of the outermost MPLS entry (a Nicira field, not OXM basic).
    MplsTtl,
}

/// What must already be matched for a field to be meaningful (OpenFlow prerequisites).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prereq {
    /// No prerequisite.
    None,
    /// A VLAN tag must be present.
    VlanPresent,
    /// eth_type is IPv4 or IPv6.
    Ip,
    /// eth_type is IPv4.
    Ipv4,
    /// eth_type is IPv6.
    Ipv6,
    /// eth_type is ARP.
    Arp,
    /// ip_proto is TCP (over IPv4 or IPv6).
    Tcp,
    /// ip_proto is UDP (over IPv4 or IPv6).
    Udp,
    /// ip_proto is SCTP (over IPv4 or IPv6).
    Sctp,
    /// IPv4 with ip_proto ICMP.
    Icmpv4,
    /// IPv6 with ip_proto ICMPv6.
    Icmpv6,
    /// ICMPv6 type 135 or 136.
    NdTarget,
    /// ICMPv6 type 135.
    NdSll,
    /// ICMPv6 type 136.
    NdTll,
    /// eth_type is MPLS unicast or multicast.
    Mpls,
}

use packet::ethernet::ethertype;

impl Prereq {
    /// Whether a packet with flow key `k` has the header this prerequisite asks for (the whole
    /// chain: ND needs ICMPv6 needs IPv6). `set_field` uses it to skip an edit the packet has no
    /// field for, as Open vSwitch does, instead of dropping the packet.
    pub fn met_by(self, k: &FlowKey) -> bool {
        let ip4 = k.eth_type == ETH_TYPE_IPV4;
        let ip6 = k.eth_type == ETH_TYPE_IPV6;
        // A later fragment has no L4 header to edit.
        let l4 = k.ip_frag & crate::key::FRAG_LATER == 0;
        let icmp6 = ip6 && l4 && k.ip_proto == IPPROTO_ICMPV6;
        match self {
            Prereq::None => true,
            Prereq::VlanPresent => k.vlan_tci & crate::key::VLAN_PRESENT != 0,
            Prereq::Ip => ip4 || ip6,
            Prereq::Ipv4 => ip4,
            Prereq::Ipv6 => ip6,
            Prereq::Arp => k.eth_type == ETH_TYPE_ARP,
            Prereq::Tcp => (ip4 || ip6) && l4 && k.ip_proto == IPPROTO_TCP,
            Prereq::Udp => (ip4 || ip6) && l4 && k.ip_proto == IPPROTO_UDP,
            Prereq::Sctp => (ip4 || ip6) && l4 && k.ip_proto == IPPROTO_SCTP,
            Prereq::Icmpv4 => ip4 && l4 && k.ip_proto == IPPROTO_ICMP,
            Prereq::Icmpv6 => icmp6,
            Prereq::NdTarget => icmp6 && matches!(k.icmp_type, 135 | 136),
            Prereq::NdSll => icmp6 && k.icmp_type == 135,
            Prereq::NdTll => icmp6 && k.icmp_type == 136,
            Prereq::Mpls => is_mpls(k.eth_type),
        }
    }

    /// Add to `wc` every key bit [`Prereq::met_by`] reads (for the megaflow tier: a decision
    /// that depended on the check is only valid for keys that agree on those bits).
    pub fn read_mask(self, wc: &mut FlowKey) {
        let mut read = |f: Field| f.set(wc, f.full_mask());
        match self {
            Prereq::None => {}
            Prereq::VlanPresent => wc.vlan_tci |= crate::key::VLAN_PRESENT,
            Prereq::Ip | Prereq::Ipv4 | Prereq::Ipv6 | Prereq::Arp | Prereq::Mpls => {
                read(Field::EthType)
            }
            Prereq::Tcp | Prereq::Udp | Prereq::Sctp | Prereq::Icmpv4 | Prereq::Icmpv6 => {
                read(Field::EthType);
                read(Field::IpProto);
                wc.ip_frag |= crate::key::FRAG_LATER;
            }
            Prereq::NdTarget | Prereq::NdSll | Prereq::NdTll => {
                read(Field::EthType);
                read(Field::IpProto);
                read(Field::Icmpv6Type);
                wc.ip_frag |= crate::key::FRAG_LATER;
            }
        }
    }
}

/// Ethertype of IPv4.
pub const ETH_TYPE_IPV4: u16 = ethertype::IPV4;
/// Ethertype of ARP.
pub const ETH_TYPE_ARP: u16 = ethertype::ARP;
/// Ethertype of IPv6.
pub const ETH_TYPE_IPV6: u16 = ethertype::IPV6;
/// Ethertype of an 802.1Q tag.
pub const ETH_TYPE_VLAN: u16 = ethertype::VLAN;
/// Ethertype of an 802.1ad service tag.
pub const ETH_TYPE_QINQ: u16 = ethertype::QINQ;
/// Ethertype of MPLS unicast.
pub const ETH_TYPE_MPLS: u16 = 0x8847;
/// Ethertype of MPLS multicast.
pub const ETH_TYPE_MPLS_MC: u16 = 0x8848;

/// True for the two MPLS ethertypes.
pub fn is_mpls(eth_type: u16) -> bool {
    eth_type == ETH_TYPE_MPLS || eth_type == ETH_TYPE_MPLS_MC
}

/// Bit layout of an MPLS label stack entry (RFC 3032).
pub const MPLS_LABEL_SHIFT: u32 = 12;
/// Shift of the traffic class.
pub const MPLS_TC_SHIFT: u32 = 9;
/// Shift of the bottom-of-stack bit.
pub const MPLS_BOS_SHIFT: u32 = 8;

/// (shift, width) of an MPLS field inside the label stack entry.
fn mpls_slice(f: Field) -> (u32, u32) {
    match f {
        Field::MplsLabel => (MPLS_LABEL_SHIFT, 20),
        Field::MplsTc => (MPLS_TC_SHIFT, 3),
        Field::MplsBos => (MPLS_BOS_SHIFT, 1),
        _ => (0, 8),
    }
}

/// IP protocol numbers.
pub const IPPROTO_ICMP: u8 = 1;
/// TCP.
pub const IPPROTO_TCP: u8 = 6;
/// UDP.
pub const IPPROTO_UDP: u8 = 17;
/// ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;
/// SCTP.
pub const IPPROTO_SCTP: u8 = 132;

fn mac_to_u128(m: [u8; 6]) -> u128 {
    m.iter().fold(0u128, |a, b| (a << 8) | u128::from(*b))
}

fn u128_to_mac(v: u128) -> [u8; 6] {
    let mut m = [0u8; 6];
    for (i, b) in m.iter_mut().enumerate() {
        *b = (v >> (8 * (5 - i))) as u8;
    }
    m
}

impl Field {
    /// Every field, in OXM order (handy for printing and exhaustive tests).
    pub const ALL: &'static [Field] = &[
        Field::InPort,
        Field::Metadata,
        Field::Reg(0),
        Field::Reg(1),
        Field::Reg(2),
        Field::Reg(3),
        Field::Reg(4),
        Field::Reg(5),
        Field::Reg(6),
        Field::Reg(7),
        Field::EthDst,
        Field::EthSrc,
        Field::EthType,
        Field::VlanVid,
        Field::VlanPcp,
        Field::IpDscp,
        Field::IpEcn,
        Field::IpProto,
        Field::IpTtl,
        Field::IpFrag,
        Field::Ipv4Src,
        Field::Ipv4Dst,
        Field::TcpSrc,
        Field::TcpDst,
        Field::UdpSrc,
        Field::UdpDst,
        Field::SctpSrc,
        Field::SctpDst,
        Field::TcpFlags,
        Field::Icmpv4Type,
        Field::Icmpv4Code,
        Field::ArpOp,
        Field::ArpSpa,
        Field::ArpTpa,
        Field::ArpSha,
        Field::ArpTha,
        Field::Ipv6Src,
        Field::Ipv6Dst,
        Field::Ipv6Label,
        Field::Icmpv6Type,
        Field::Icmpv6Code,
        Field::NdTarget,
        Field::NdSll,
        Field::NdTll,
        Field::MplsLabel,
        Field::MplsTc,
        Field::MplsBos,
        Field::TunnelId,
        Field::Ipv6Exthdr,
        Field::MplsTtl,
    ];

    /// Width of the field in bits.
    pub fn bits(self) -> u32 {
        match self {
            Field::InPort | Field::Reg(_) | Field::Ipv4Src | Field::Ipv4Dst => 32,
            Field::ArpSpa | Field::ArpTpa => 32,
            Field::Metadata | Field::TunnelId => 64,
            Field::EthDst | Field::EthSrc | Field::ArpSha | Field::ArpTha => 48,
            Field::NdSll | Field::NdTll => 48,
            Field::EthType | Field::TcpSrc | Field::TcpDst | Field::UdpSrc | Field::UdpDst => 16,
            Field::ArpOp | Field::SctpSrc | Field::SctpDst => 16,
            Field::VlanVid => 13,
            Field::TcpFlags => 12,
            Field::VlanPcp => 3,
            Field::IpDscp => 6,
            Field::IpEcn | Field::IpFrag => 2,
            Field::IpProto | Field::IpTtl => 8,
            Field::Icmpv4Type | Field::Icmpv4Code | Field::Icmpv6Type | Field::Icmpv6Code => 8,
            Field::Ipv6Src | Field::Ipv6Dst | Field::NdTarget => 128,
            Field::Ipv6Label | Field::MplsLabel => 20,
            Field::MplsTc => 3,
            Field::MplsBos => 1,
            Field::MplsTtl => 8,
            Field::Ipv6Exthdr => 9,
        }
    }

    /// All-ones mask for the field's width.
    pub fn full_mask(self) -> u128 {
        let b = self.bits();
        if b == 128 {
            u128::MAX
        } else {
            (1u128 << b) - 1
        }
    }

    /// Whether `set_field` may write the field. OpenFlow 1.3 (A.2.5) rules out the pipeline
    /// fields `in_port` and `metadata` ("not header fields"); Open vSwitch marks `eth_type`,
    /// `ip_proto`, the fragment bits and the TCP flags read-only, since rewriting them would
    /// change what the rest of the frame means; `ipv6_exthdr` describes the header chain rather
    /// than being a header field, so OpenFlow 1.3 does not let it be set either. Registers and
    /// the TTL (Nicira fields) are writable, as in Open vSwitch, and so is `tunnel_id` (OpenFlow
    /// 1.3 marks it settable).
    pub fn settable(self) -> bool {
        !matches!(
            self,
            Field::InPort
                | Field::Metadata
                | Field::EthType
                | Field::IpProto
                | Field::IpFrag
                | Field::TcpFlags
                | Field::MplsBos
                | Field::Ipv6Exthdr
        )
    }

    /// The field's prerequisite.
    pub fn prereq(self) -> Prereq {
        match self {
            Field::VlanPcp => Prereq::VlanPresent,
            Field::IpDscp | Field::IpEcn | Field::IpProto | Field::IpTtl | Field::IpFrag => {
                Prereq::Ip
            }
            Field::Ipv4Src | Field::Ipv4Dst => Prereq::Ipv4,
            Field::Ipv6Src | Field::Ipv6Dst | Field::Ipv6Label | Field::Ipv6Exthdr => Prereq::Ipv6,
            Field::TcpSrc | Field::TcpDst | Field::TcpFlags => Prereq::Tcp,
            Field::UdpSrc | Field::UdpDst => Prereq::Udp,
            Field::SctpSrc | Field::SctpDst => Prereq::Sctp,
            Field::Icmpv4Type | Field::Icmpv4Code => Prereq::Icmpv4,
            Field::Icmpv6Type | Field::Icmpv6Code => Prereq::Icmpv6,
            Field::ArpOp | Field::ArpSpa | Field::ArpTpa | Field::ArpSha | Field::ArpTha => {
                Prereq::Arp
            }
            Field::NdTarget => Prereq::NdTarget,
            Field::NdSll => Prereq::NdSll,
            Field::NdTll => Prereq::NdTll,
            Field::MplsLabel | Field::MplsTc | Field::MplsBos | Field::MplsTtl => Prereq::Mpls,
            _ => Prereq::None,
        }
    }

    /// Read the field from a key.
    pub fn get(self, k: &FlowKey) -> u128 {
        match self {
            Field::InPort => k.in_port.into(),
            Field::Metadata => k.metadata.into(),
            Field::TunnelId => k.tunnel_id.into(),
            Field::Reg(i) => k.regs[usize::from(i & 7)].into(),
            Field::EthDst => mac_to_u128(k.eth_dst),
            Field::EthSrc => mac_to_u128(k.eth_src),
            Field::EthType => k.eth_type.into(),
            Field::VlanVid => (k.vlan_tci & 0x1fff).into(),
            Field::VlanPcp => ((k.vlan_tci & VLAN_PCP_MASK) >> VLAN_PCP_SHIFT).into(),
            Field::IpDscp => (k.ip_tos >> 2).into(),
            Field::IpEcn => (k.ip_tos & 3).into(),
            Field::IpProto => k.ip_proto.into(),
            Field::IpTtl => k.ip_ttl.into(),
            Field::IpFrag => k.ip_frag.into(),
            Field::Ipv4Src | Field::ArpSpa => k.ipv4_src.into(),
            Field::Ipv4Dst | Field::ArpTpa => k.ipv4_dst.into(),
            Field::TcpSrc | Field::UdpSrc | Field::SctpSrc => k.tp_src.into(),
            Field::TcpDst | Field::UdpDst | Field::SctpDst => k.tp_dst.into(),
            Field::TcpFlags => k.tcp_flags.into(),
            Field::Icmpv4Type | Field::Icmpv6Type => k.icmp_type.into(),
            Field::Icmpv4Code | Field::Icmpv6Code => k.icmp_code.into(),
            Field::ArpOp => k.arp_op.into(),
            Field::ArpSha | Field::NdSll => mac_to_u128(k.arp_sha),
            Field::ArpTha | Field::NdTll => mac_to_u128(k.arp_tha),
            Field::Ipv6Src => u128::from_be_bytes(k.ipv6_src),
            Field::Ipv6Dst => u128::from_be_bytes(k.ipv6_dst),
            Field::NdTarget => u128::from_be_bytes(k.nd_target),
            Field::Ipv6Label => k.ipv6_label.into(),
            Field::Ipv6Exthdr => k.ipv6_exthdr.into(),
            Field::MplsLabel | Field::MplsTc | Field::MplsBos | Field::MplsTtl => {
                let (shift, bits) = mpls_slice(self);
                ((k.mpls_lse >> shift) & ((1 << bits) - 1)).into()
            }
        }
    }

    /// Write the field into a key (`v` is truncated to the field's width).
    pub fn set(self, k: &mut FlowKey, v: u128) {
        let v = v & self.full_mask();
        match self {
            Field::InPort => k.in_port = v as u32,
            Field::Metadata => k.metadata = v as u64,
            Field::TunnelId => k.tunnel_id = v as u64,
            Field::Reg(i) => k.regs[usize::from(i & 7)] = v as u32,
            Field::EthDst => k.eth_dst = u128_to_mac(v),
            Field::EthSrc => k.eth_src = u128_to_mac(v),
            Field::EthType => k.eth_type = v as u16,
            Field::VlanVid => k.vlan_tci = (k.vlan_tci & !0x1fff) | v as u16,
            Field::VlanPcp => {
                k.vlan_tci = (k.vlan_tci & !VLAN_PCP_MASK) | ((v as u16) << VLAN_PCP_SHIFT)
            }
            Field::IpDscp => k.ip_tos = (k.ip_tos & 3) | ((v as u8) << 2),
            Field::IpEcn => k.ip_tos = (k.ip_tos & !3) | v as u8,
            Field::IpProto => k.ip_proto = v as u8,
            Field::IpTtl => k.ip_ttl = v as u8,
            Field::IpFrag => k.ip_frag = v as u8,
            Field::Ipv4Src | Field::ArpSpa => k.ipv4_src = v as u32,
            Field::Ipv4Dst | Field::ArpTpa => k.ipv4_dst = v as u32,
            Field::TcpSrc | Field::UdpSrc | Field::SctpSrc => k.tp_src = v as u16,
            Field::TcpDst | Field::UdpDst | Field::SctpDst => k.tp_dst = v as u16,
            Field::TcpFlags => k.tcp_flags = v as u16,
            Field::Icmpv4Type | Field::Icmpv6Type => k.icmp_type = v as u8,
            Field::Icmpv4Code | Field::Icmpv6Code => k.icmp_code = v as u8,
            Field::ArpOp => k.arp_op = v as u16,
            Field::ArpSha | Field::NdSll => k.arp_sha = u128_to_mac(v),
            Field::ArpTha | Field::NdTll => k.arp_tha = u128_to_mac(v),
            Field::Ipv6Src => k.ipv6_src = v.to_be_bytes(),
            Field::Ipv6Dst => k.ipv6_dst = v.to_be_bytes(),
            Field::NdTarget => k.nd_target = v.to_be_bytes(),
            Field::Ipv6Label => k.ipv6_label = v as u32,
            Field::Ipv6Exthdr => k.ipv6_exthdr = v as u16,
            Field::MplsLabel | Field::MplsTc | Field::MplsBos | Field::MplsTtl => {
                let (shift, bits) = mpls_slice(self);
                let m = ((1u32 << bits) - 1) << shift;
                k.mpls_lse = (k.mpls_lse & !m) | ((v as u32) << shift);
            }
        }
    }

    /// The `ovs-ofctl` name of the field (the canonical spelling used when printing flows).
    pub fn name(self) -> &'static str {
        match self {
            Field::InPort => "in_port",
            Field::Metadata => "metadata",
            Field::TunnelId => "tun_id",
            Field::Reg(0) => "reg0",
            Field::Reg(1) => "reg1",
            Field::Reg(2) => "reg2",
            Field::Reg(3) => "reg3",
            Field::Reg(4) => "reg4",
            Field::Reg(5) => "reg5",
            Field::Reg(6) => "reg6",
            Field::Reg(_) => "reg7",
            Field::EthDst => "dl_dst",
            Field::EthSrc => "dl_src",
            Field::EthType => "dl_type",
            Field::VlanVid => "vlan_vid",
            Field::VlanPcp => "vlan_pcp",
            Field::IpDscp => "ip_dscp",
            Field::IpEcn => "ip_ecn",
            Field::IpProto => "nw_proto",
            Field::IpTtl => "nw_ttl",
            Field::IpFrag => "ip_frag",
            Field::Ipv4Src => "nw_src",
            Field::Ipv4Dst => "nw_dst",
            Field::TcpSrc => "tcp_src",
            Field::TcpDst => "tcp_dst",
            Field::UdpSrc => "udp_src",
            Field::UdpDst => "udp_dst",
            Field::SctpSrc => "sctp_src",
            Field::SctpDst => "sctp_dst",
            Field::TcpFlags => "tcp_flags",
            Field::Icmpv4Type => "icmp_type",
            Field::Icmpv4Code => "icmp_code",
            Field::ArpOp => "arp_op",
            Field::ArpSpa => "arp_spa",
            Field::ArpTpa => "arp_tpa",
            Field::ArpSha => "arp_sha",
            Field::ArpTha => "arp_tha",
            Field::Ipv6Src => "ipv6_src",
            Field::Ipv6Dst => "ipv6_dst",
            Field::Ipv6Label => "ipv6_label",
            Field::Icmpv6Type => "icmpv6_type",
            Field::Icmpv6Code => "icmpv6_code",
            Field::NdTarget => "nd_target",
            Field::NdSll => "nd_sll",
            Field::NdTll => "nd_tll",
            Field::MplsLabel => "mpls_label",
            Field::MplsTc => "mpls_tc",
            Field::MplsBos => "mpls_bos",
            Field::MplsTtl => "mpls_ttl",
            Field::Ipv6Exthdr => "ipv6_exthdr",
        }
    }

    /// Mask of `FlowKey` bits this field occupies (for masks built field by field).
    pub fn key_mask(self, field_mask: u128) -> FlowKey {
        let mut m = FlowKey::default();
        self.set(&mut m, field_mask);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_set_round_trip_every_field() {
        for &f in Field::ALL {
            let mut k = FlowKey::default();
            let v = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128 & f.full_mask();
            f.set(&mut k, v);
            assert_eq!(f.get(&k), v, "{f:?}");
        }
    }

    #[test]
    fn vlan_fields_share_tci() {
        let mut k = FlowKey::default();
        Field::VlanVid.set(&mut k, 0x1000 | 100);
        Field::VlanPcp.set(&mut k, 5);
        assert_eq!(k.vlan_vid(), Some(100));
        assert_eq!(k.vlan_pcp(), 5);
    }
}
