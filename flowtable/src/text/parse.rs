//! Parsing the match part of a flow string (and the flow-mod parameters mixed into it).
//!
//! A first pass over the tokens learns the protocol context (`ip`/`dl_type=`, `tcp`/`nw_proto=`)
//! so that context-dependent names resolve wherever they appear: `tp_dst` becomes `tcp_dst`,
//! `udp_dst` or `icmp_code` depending on the protocol, and `nw_src`/`nw_proto` on an ARP flow
//! become `arp_spa`/`arp_op`, as in ovs-ofctl. The second pass pushes fields in written order;
//! the final [`Match::validate`] reports duplicates and missing prerequisites.

use super::actions::parse_actions;
use super::value::{parse_uint, parse_value};
use super::{FlowMod, PortLookup, TextError};
use crate::field::{
    Field, ETH_TYPE_ARP, ETH_TYPE_IPV4, ETH_TYPE_IPV6, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP,
    IPPROTO_TCP, IPPROTO_UDP,
};
use crate::key::VLAN_PRESENT;
use crate::matches::Match;
use crate::pipeline::{
    OFPFF_CHECK_OVERLAP, OFPFF_NO_BYT_COUNTS, OFPFF_NO_PKT_COUNTS, OFPFF_RESET_COUNTS,
    OFPFF_SEND_FLOW_REM,
};

/// Protocol shorthands: name, ethertype, IP protocol.
const SHORTHANDS: &[(&str, u16, Option<u8>)] = &[
    ("ip", ETH_TYPE_IPV4, None),
    ("ipv6", ETH_TYPE_IPV6, None),
    ("arp", ETH_TYPE_ARP, None),
    ("rarp", 0x8035, None),
    ("tcp", ETH_TYPE_IPV4, Some(IPPROTO_TCP)),
    ("udp", ETH_TYPE_IPV4, Some(IPPROTO_UDP)),
    ("icmp", ETH_TYPE_IPV4, Some(IPPROTO_ICMP)),
    ("tcp6", ETH_TYPE_IPV6, Some(IPPROTO_TCP)),
    ("udp6", ETH_TYPE_IPV6, Some(IPPROTO_UDP)),
    ("icmp6", ETH_TYPE_IPV6, Some(IPPROTO_ICMPV6)),
    ("sctp", ETH_TYPE_IPV4, Some(IPPROTO_SCTP)),
    ("sctp6", ETH_TYPE_IPV6, Some(IPPROTO_SCTP)),
    ("mpls", crate::field::ETH_TYPE_MPLS, None),
    ("mplsm", crate::field::ETH_TYPE_MPLS_MC, None),
];

pub(crate) fn shorthand(eth: u16, proto: Option<u8>) -> Option<&'static str> {
    SHORTHANDS
        .iter()
        .find(|(_, e, p)| *e == eth && *p == proto)
        .map(|(n, _, _)| *n)
}

const FLAG_NAMES: &[(&str, u16)] = &[
    ("send_flow_rem", OFPFF_SEND_FLOW_REM),
    ("check_overlap", OFPFF_CHECK_OVERLAP),
    ("reset_counts", OFPFF_RESET_COUNTS),
    ("no_packet_counts", OFPFF_NO_PKT_COUNTS),
    ("no_byte_counts", OFPFF_NO_BYT_COUNTS),
];

pub(crate) fn flag_names() -> &'static [(&'static str, u16)] {
    FLAG_NAMES
}

/// Statistics printed by dump-flows and ignored on input.
const IGNORED: &[&str] = &["duration", "n_packets", "n_bytes", "idle_age", "hard_age"];

/// Protocol context of a flow: its exact ethertype and IP protocol, if given.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ctx {
    pub eth: Option<u16>,
    pub proto: Option<u8>,
}

impl Ctx {
    /// Context of an already-built match (for actions such as `mod_tp_dst`).
    pub(crate) fn of_match(m: &Match) -> Ctx {
        let exact = |f: Field| {
            m.get(f)
                .filter(|x| x.mask == f.full_mask())
                .map(|x| x.value)
        };
        Ctx {
            eth: exact(Field::EthType).map(|v| v as u16),
            proto: exact(Field::IpProto).map(|v| v as u8),
        }
    }

    /// The field a transport-port name means here (`src` selects source/type).
    pub(crate) fn tp_field(&self, src: bool) -> Option<Field> {
        Some(match (self.proto?, src) {
            (IPPROTO_TCP, true) => Field::TcpSrc,
            (IPPROTO_TCP, false) => Field::TcpDst,
            (IPPROTO_UDP, true) => Field::UdpSrc,
            (IPPROTO_UDP, false) => Field::UdpDst,
            (IPPROTO_SCTP, true) => Field::SctpSrc,
            (IPPROTO_SCTP, false) => Field::SctpDst,
            (IPPROTO_ICMP, true) if self.eth == Some(ETH_TYPE_IPV4) => Field::Icmpv4Type,
            (IPPROTO_ICMP, false) if self.eth == Some(ETH_TYPE_IPV4) => Field::Icmpv4Code,
            (IPPROTO_ICMPV6, true) if self.eth == Some(ETH_TYPE_IPV6) => Field::Icmpv6Type,
            (IPPROTO_ICMPV6, false) if self.eth == Some(ETH_TYPE_IPV6) => Field::Icmpv6Code,
            _ => return None,
        })
    }
}

/// Field names that do not depend on context (the canonical names plus common aliases).
pub(crate) fn field_by_name(name: &str) -> Option<Field> {
    if let Some(f) = Field::ALL.iter().find(|f| f.name() == name) {
        return Some(*f);
    }
    Some(match name {
        "eth_src" => Field::EthSrc,
        "eth_dst" => Field::EthDst,
        "eth_type" => Field::EthType,
        "dl_vlan_pcp" => Field::VlanPcp,
        "nw_ecn" => Field::IpEcn,
        "ip_proto" => Field::IpProto,
        "tunnel_id" => Field::TunnelId,
        "nw_frag" => Field::IpFrag,
        "ip_src" | "ipv4_src" => Field::Ipv4Src,
        "ip_dst" | "ipv4_dst" => Field::Ipv4Dst,
        "icmpv4_type" => Field::Icmpv4Type,
        "icmpv4_code" => Field::Icmpv4Code,
        _ => return None,
    })
}

/// Split the match part at commas and white space.
fn tokens(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
}

/// Split a flow string into (match part, actions part) at a top-level `actions=`.
fn split_actions(s: &str) -> (&str, Option<&str>) {
    let mut from = 0;
    while let Some(i) = s[from..].find("actions=") {
        let at = from + i;
        let boundary = s[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c == ',' || c.is_whitespace());
        if boundary {
            return (&s[..at], Some(&s[at + "actions=".len()..]));
        }
        from = at + 1;
    }
    (s, None)
}

fn bad(token: &str, why: impl Into<String>) -> TextError {
    TextError::BadValue {
        token: token.to_string(),
        why: why.into(),
    }
}

fn num<T: TryFrom<u128>>(token: &str, v: &str, bits: u32) -> Result<T, TextError> {
    let n = parse_uint(v, bits).map_err(|why| bad(token, why))?;
    T::try_from(n).map_err(|_| bad(token, "out of range"))
}

/// First pass: learn ethertype and IP protocol from wherever they are written.
fn context(match_part: &str) -> Ctx {
    let mut ctx = Ctx::default();
    for t in tokens(match_part) {
        if let Some((_, e, p)) = SHORTHANDS.iter().find(|(n, _, _)| *n == t) {
            ctx.eth = Some(*e);
            ctx.proto = ctx.proto.or(*p);
        } else if let Some((k, v)) = t.split_once('=') {
            match k {
                "dl_type" | "eth_type" => ctx.eth = parse_uint(v, 16).ok().map(|v| v as u16),
                "nw_proto" | "ip_proto" => ctx.proto = parse_uint(v, 8).ok().map(|v| v as u8),
                _ => {}
            }
        }
    }
    if ctx.eth == Some(ETH_TYPE_ARP) {
        ctx.proto = None;
    }
    ctx
}

/// Apply one `name=value` token to the flow-mod.
fn parse_assignment(
    fm: &mut FlowMod,
    ctx: &Ctx,
    token: &str,
    name: &str,
    val: &str,
    ports: PortLookup<'_>,
) -> Result<(), TextError> {
    let arp = ctx.eth == Some(ETH_TYPE_ARP);
    let push = |fm: &mut FlowMod, f: Field| -> Result<(), TextError> {
        let (v, m) = parse_value(f, val, ports).map_err(|why| bad(token, why))?;
        fm.m.push(f, v, m);
        Ok(())
    };
    match name {
        "table" => {
            let t: u8 = num(token, val, 8)?;
            // 255 (OFPTT_ALL) means "all tables" in del-flows.
            fm.table = (t != 255).then_some(t);
        }
        "priority" => fm.priority = num(token, val, 16)?,
        "idle_timeout" => fm.idle_timeout = num(token, val, 16)?,
        "hard_timeout" => fm.hard_timeout = num(token, val, 16)?,
        "cookie" => {
            let (v, m) = match val.split_once('/') {
                // ovs-ofctl accepts "-1" for an all-ones cookie mask.
                Some((v, "-1")) => (num(token, v, 64)?, u64::MAX),
                Some((v, m)) => (num(token, v, 64)?, num(token, m, 64)?),
                None => (num(token, val, 64)?, 0),
            };
            fm.cookie = v;
            fm.cookie_mask = m;
        }
        "out_port" => {
            let p = super::value::parse_port(val, ports).map_err(|why| bad(token, why))?;
            fm.out_port = Some(p);
        }
        "out_group" => fm.out_group = Some(num(token, val, 32)?),
        n if IGNORED.contains(&n) => {}
        "dl_vlan" => {
            let v: u16 = num(token, val, 16)?;
            let vid = match v {
                0xffff => 0,
                v if v < 4096 => VLAN_PRESENT | v,
                _ => return Err(bad(token, "VLAN id must be below 4096 (or 0xffff)")),
            };
            fm.m.push(Field::VlanVid, vid.into(), Field::VlanVid.full_mask());
        }
        "vlan_tci" => {
            let (v, m) = match val.split_once('/') {
                Some((v, m)) => (num::<u16>(token, v, 16)?, num::<u16>(token, m, 16)?),
                None => (num::<u16>(token, val, 16)?, 0xffff),
            };
            if v & !m != 0 {
                return Err(bad(token, "value has bits outside the mask"));
            }
            fm.m.push(Field::VlanVid, (v & 0x1fff).into(), (m & 0x1fff).into());
            // PCP bits only mean something on a tagged packet.
            if m >> 13 != 0 && v & VLAN_PRESENT != 0 {
                fm.m.push(Field::VlanPcp, (v >> 13).into(), (m >> 13).into());
            }
        }
        "nw_tos" => {
            let tos: u8 = num(token, val, 8)?;
            if tos & 3 != 0 {
                return Err(bad(
                    token,
                    "nw_tos must be a multiple of 4 (use ip_ecn for ECN)",
                ));
            }
            fm.m.push(Field::IpDscp, (tos >> 2).into(), Field::IpDscp.full_mask());
        }
        "nw_src" | "nw_dst" | "nw_proto" if arp => {
            let f = match name {
                "nw_src" => Field::ArpSpa,
                "nw_dst" => Field::ArpTpa,
                _ => Field::ArpOp,
            };
            push(fm, f)?;
        }
        "tp_src" | "tp_dst" => {
            let f = ctx.tp_field(name == "tp_src").ok_or_else(|| {
                bad(
                    token,
                    format!("{name} requires tcp, udp, sctp, icmp or icmp6"),
                )
            })?;
            push(fm, f)?;
        }
        _ => {
            let f = field_by_name(name).ok_or_else(|| TextError::UnknownField(name.into()))?;
            push(fm, f)?;
        }
    }
    Ok(())
}

/// A VLAN priority match implies a tag: add `vlan_vid=0x1000/0x1000` just before it when no VLAN
/// id match was written (ovs-ofctl does the same for `dl_vlan_pcp`).
fn imply_vlan_present(m: Match) -> Match {
    if m.get(Field::VlanPcp).is_none() || m.get(Field::VlanVid).is_some() {
        return m;
    }
    let mut out = Match::new();
    for f in m.fields() {
        if f.field == Field::VlanPcp {
            out.push(Field::VlanVid, VLAN_PRESENT.into(), VLAN_PRESENT.into());
        }
        out.push(f.field, f.value, f.mask);
    }
    out
}

fn parse_common(s: &str, ports: PortLookup<'_>) -> Result<FlowMod, TextError> {
    let (match_part, actions) = split_actions(s);
    let ctx = context(match_part);
    let mut fm = FlowMod::default();
    for t in tokens(match_part) {
        if let Some((_, e, p)) = SHORTHANDS.iter().find(|(n, _, _)| *n == t) {
            fm.m.push(Field::EthType, (*e).into(), Field::EthType.full_mask());
            if let Some(p) = p {
                fm.m.push(Field::IpProto, (*p).into(), Field::IpProto.full_mask());
            }
        } else if let Some((_, bit)) = FLAG_NAMES.iter().find(|(n, _)| *n == t) {
            fm.flags |= bit;
        } else if let Some((name, val)) = t.split_once('=') {
            parse_assignment(&mut fm, &ctx, t, name, val, ports)?;
        } else {
            return Err(TextError::UnknownField(t.to_string()));
        }
    }
    fm.m = imply_vlan_present(std::mem::take(&mut fm.m));
    fm.m.validate()?;
    if let Some(a) = actions {
        fm.instructions = parse_actions(a.trim(), &fm.m, fm.table, ports)?;
        fm.has_actions = true;
    }
    Ok(fm)
}

/// Parse an `add-flow` string: match, flow-mod parameters and a mandatory `actions=`.
pub fn parse_flow(s: &str, ports: PortLookup<'_>) -> Result<FlowMod, TextError> {
    let fm = parse_common(s, ports)?;
    if !fm.has_actions {
        return Err(TextError::MissingActions);
    }
    Ok(fm)
}

/// Parse a `del-flows`/`dump-flows`/trace string: actions are optional.
pub fn parse_match(s: &str, ports: PortLookup<'_>) -> Result<FlowMod, TextError> {
    parse_common(s, ports)
}
