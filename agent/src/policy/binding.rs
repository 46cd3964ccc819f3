//! Table 11, IP-MAC binding: what a port of a group with `ip_mac_binding` may send, beyond its
//! source MAC (table 10 checked that already).
//!
//! Allowed, and sent on to table 12:
//! - priority 300, ND inspection: a neighbour solicitation (`icmpv6_type=135`) from each of the
//!   port's IPv6 sources (its bound v6 addresses and the EUI-64 link-local derived from its MAC)
//!   whose `nd_sll` is the port's MAC or absent, and a DAD solicitation from `::` with no
//!   `nd_sll` (RFC 4862 forbids one); a neighbour advertisement (`136`) whose `nd_target` is one
//!   of the port's IPv6 sources and whose `nd_tll` is the port's MAC or absent. The flow key
//!   reads an absent link-layer option as `00:00:00:00:00:00` (and clears every ND field when
//!   the options are malformed), so "absent" is an exact match on zero.
//! - priority 200: IPv4 from each bound v4; a DHCP client's `0.0.0.0:68 -> :67`; ARP whose
//!   `arp_sha` is the MAC and `arp_spa` a bound v4, and ARP probes (`arp_spa=0.0.0.0`) for a
//!   bound v4; IPv6 from each IPv6 source; ICMPv6 from `::` (DAD's MLD reports).
//!
//! Dropped, each under its own reason (a flow kind of its own): other solicitations and
//! advertisements at 250 (`nd_spoof`, above the IPv6 allows so an NA from the port's own address
//! still has its target checked), other IPv4 (`ip_spoof`), ARP (`arp_spoof`) and IPv6
//! (`ipv6_spoof`) at 100. Other ethertypes meet the port's `in_port` flow at 1 (every VM port
//! has it) and go on to table 12.

use super::{goto, m, PortCtx};
use crate::layout::{kind, table, Flow};
use flowtable::field::{ETH_TYPE_ARP, ETH_TYPE_IPV4, ETH_TYPE_IPV6, IPPROTO_ICMPV6, IPPROTO_UDP};
use flowtable::Field;
use openflow::OxmField;
use std::net::{IpAddr, Ipv6Addr};

/// The EUI-64 link-local address of `mac` (RFC 4291 appendix A).
pub fn link_local(mac: u128) -> Ipv6Addr {
    let b = mac.to_be_bytes();
    let mac = &b[10..16];
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        mac[0] ^ 0x02,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ])
}

fn eth(t: u16) -> OxmField {
    m(Field::EthType, t.into())
}

fn icmp6(typ: u8) -> [OxmField; 3] {
    [
        eth(ETH_TYPE_IPV6),
        m(Field::IpProto, IPPROTO_ICMPV6.into()),
        m(Field::Icmpv6Type, typ.into()),
    ]
}

/// Append the table-11 flows of bound port `p`.
pub(crate) fn flows(p: &PortCtx<'_>, v: &mut Vec<Flow>) {
    let v4: Vec<u128> = p
        .plan
        .policy
        .ips
        .iter()
        .filter_map(|a| match a {
            IpAddr::V4(a) => Some(u128::from(u32::from(*a))),
            IpAddr::V6(_) => None,
        })
        .collect();
    let mut v6: Vec<u128> = vec![u128::from(link_local(p.mac))];
    for a in &p.plan.policy.ips {
        if let IpAddr::V6(a) = a {
            let a = u128::from(*a);
            if !v6.contains(&a) {
                v6.push(a);
            }
        }
    }
    let pass = || goto(table::DHCP_GUARD);
    let allow = |prio: u16, k: u8, ms: &[OxmField]| p.flow(table::BINDING, prio, k, ms, pass());
    let drop = |prio: u16, k: u8, ms: &[OxmField]| p.flow(table::BINDING, prio, k, ms, Vec::new());
    // ND inspection.
    for src in &v6 {
        for sll in [p.mac, 0] {
            let mut ms = icmp6(135).to_vec();
            ms.push(m(Field::Ipv6Src, *src));
            ms.push(m(Field::NdSll, sll));
            v.push(allow(300, kind::BIND_ND, &ms));
        }
    }
    let mut dad = icmp6(135).to_vec();
    dad.push(m(Field::Ipv6Src, 0));
    dad.push(m(Field::NdSll, 0));
    v.push(allow(300, kind::BIND_ND, &dad));
    for target in &v6 {
        for tll in [p.mac, 0] {
            let mut ms = icmp6(136).to_vec();
            ms.push(m(Field::NdTarget, *target));
            ms.push(m(Field::NdTll, tll));
            v.push(allow(300, kind::BIND_ND, &ms));
        }
    }
    v.push(drop(250, kind::ND_SPOOF, &icmp6(135)));
    v.push(drop(250, kind::ND_SPOOF, &icmp6(136)));
    // IPv4 and ARP.
    for a in &v4 {
        v.push(allow(
            200,
            kind::BIND_IPV4,
            &[eth(ETH_TYPE_IPV4), m(Field::Ipv4Src, *a)],
        ));
        v.push(allow(
            200,
            kind::BIND_ARP,
            &[
                eth(ETH_TYPE_ARP),
                m(Field::ArpSha, p.mac),
                m(Field::ArpSpa, *a),
            ],
        ));
        v.push(allow(
            200,
            kind::BIND_ARP,
            &[
                eth(ETH_TYPE_ARP),
                m(Field::ArpSha, p.mac),
                m(Field::ArpSpa, 0),
                m(Field::ArpTpa, *a),
            ],
        ));
    }
    v.push(allow(
        200,
        kind::BIND_DHCP,
        &[
            eth(ETH_TYPE_IPV4),
            m(Field::IpProto, IPPROTO_UDP.into()),
            m(Field::Ipv4Src, 0),
            m(Field::UdpSrc, 68),
            m(Field::UdpDst, 67),
        ],
    ));
    // IPv6.
    for src in &v6 {
        v.push(allow(
            200,
            kind::BIND_IPV6,
            &[eth(ETH_TYPE_IPV6), m(Field::Ipv6Src, *src)],
        ));
    }
    v.push(allow(
        200,
        kind::BIND_IPV6,
        &[
            eth(ETH_TYPE_IPV6),
            m(Field::IpProto, IPPROTO_ICMPV6.into()),
            m(Field::Ipv6Src, 0),
        ],
    ));
    v.push(drop(100, kind::IP_SPOOF, &[eth(ETH_TYPE_IPV4)]));
    v.push(drop(100, kind::ARP_SPOOF, &[eth(ETH_TYPE_ARP)]));
    v.push(drop(100, kind::IPV6_SPOOF, &[eth(ETH_TYPE_IPV6)]));
}
