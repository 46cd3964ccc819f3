//! Printing rules, matches and instructions in `ovs-ofctl dump-flows` style.
//!
//! The printer is the parser's inverse: every spelling chosen here parses back to the same
//! field, value and mask, in the same order. Shorthands (`ip`, `tcp`, ...) are only used when the
//! ethertype (and protocol) were written together, because `tcp` parses back to those two fields
//! side by side; VLAN matches print as `dl_vlan=` / `vlan_tci=0x0000` when exact, `vlan_vid=` when
//! masked.

use super::actions::CONTROLLER_MAX_LEN;
use super::parse::{flag_names, shorthand};
use super::value::{format_port, format_value};
use super::PortNames;
use crate::action::{Action, Instructions, OFPP_CONTROLLER};
use crate::field::{Field, ETH_TYPE_ARP};
use crate::key::{FlowKey, VLAN_PRESENT, VLAN_VID_MASK};
use crate::matches::{FieldMatch, Match};
use crate::pipeline::{FlowEntry, DEFAULT_PRIORITY};
use std::fmt::Write as _;

fn no_names(_: u32) -> Option<String> {
    None
}

/// One matched field as `name=value`.
fn format_field(f: &FieldMatch, names: PortNames<'_>) -> String {
    let full = f.field.full_mask();
    let exact = f.mask == full;
    match f.field {
        Field::VlanVid if exact && f.value & u128::from(VLAN_PRESENT) != 0 => {
            format!("dl_vlan={}", f.value & u128::from(VLAN_VID_MASK))
        }
        Field::VlanVid if exact && f.value == 0 => "vlan_tci=0x0000".to_string(),
        Field::VlanPcp if exact => format!("dl_vlan_pcp={}", f.value),
        Field::IpDscp if exact => format!("nw_tos={}", f.value << 2),
        Field::IpEcn => format!("nw_ecn={}", format_value(f.field, f.value, f.mask, names)),
        Field::IpFrag => format!("nw_frag={}", format_value(f.field, f.value, f.mask, names)),
        _ => format!(
            "{}={}",
            f.field.name(),
            format_value(f.field, f.value, f.mask, names)
        ),
    }
}

/// A megaflow (a masked key and its mask) in ovs-ofctl match syntax: every field whose mask is
/// not zero, named as its protocol says (`tp_dst` of a TCP key is `tcp_dst`), masked fields
/// with their mask. A field whose bits are read but whose protocol the key does not pin (the
/// pipeline probed a TCP rule's subtable for a UDP packet) is shown under its first name.
pub fn format_megaflow(value: &FlowKey, mask: &FlowKey) -> String {
    let mut shown = FlowKey::default();
    let mut picked = Vec::new();
    let fields = Field::ALL
        .iter()
        .filter(|f| f.prereq().met_by(value))
        .chain(Field::ALL.iter());
    for &f in fields {
        let fm = f.get(mask);
        if fm == 0 || f.get(&shown) == f.full_mask() {
            continue;
        }
        f.set(&mut shown, f.full_mask());
        // An untagged key's PCP is part of "vlan_tci=0x0000" already.
        if f == Field::VlanPcp && value.vlan_tci & VLAN_PRESENT == 0 {
            continue;
        }
        picked.push((f, f.get(value) & fm, fm));
    }
    // Port and VLAN first, so that the ethertype and IP protocol stay together ("tcp", not
    // "ip,...,nw_proto=6").
    picked.sort_by_key(|(f, _, _)| match f {
        Field::InPort => 0,
        Field::VlanVid | Field::VlanPcp => 1,
        _ => 2,
    });
    let mut m = Match::new();
    for (f, v, fm) in picked {
        m.push(f, v, fm);
    }
    if m.fields().is_empty() {
        return "(any)".to_string();
    }
    format_match(&m)
}

/// A match in ovs-ofctl syntax, with port numbers.
pub fn format_match(m: &Match) -> String {
    format_match_named(m, &no_names)
}

/// A match in ovs-ofctl syntax, naming ports through `names`.
pub fn format_match_named(m: &Match, names: PortNames<'_>) -> String {
    let fields = m.fields();
    let mut parts = Vec::with_capacity(fields.len());
    let mut i = 0;
    while i < fields.len() {
        let f = &fields[i];
        if f.field == Field::EthType && f.mask == Field::EthType.full_mask() {
            let eth = f.value as u16;
            let next = fields
                .get(i + 1)
                .filter(|n| n.field == Field::IpProto && n.mask == Field::IpProto.full_mask());
            // `arp` followed by nw_proto would parse back as arp_op, so never merge those.
            if let Some(name) = next
                .filter(|_| eth != ETH_TYPE_ARP)
                .and_then(|n| shorthand(eth, Some(n.value as u8)))
            {
                parts.push(name.to_string());
                i += 2;
                continue;
            }
            if let Some(name) = shorthand(eth, None) {
                parts.push(name.to_string());
                i += 1;
                continue;
            }
        }
        parts.push(format_field(f, names));
        i += 1;
    }
    parts.join(",")
}

/// One plain action.
fn format_action(a: &Action, names: PortNames<'_>) -> String {
    match a {
        Action::Output { port, max_len } if *port == OFPP_CONTROLLER => {
            if *max_len == CONTROLLER_MAX_LEN {
                "CONTROLLER:65535".to_string()
            } else {
                format!("CONTROLLER:{max_len}")
            }
        }
        Action::Output { port, .. } => {
            let p = format_port(*port, names);
            if p.starts_with(|c: char| c.is_ascii_digit()) || names(*port).is_some() {
                format!("output:{p}")
            } else {
                p
            }
        }
        Action::PushVlan(tpid) => format!("push_vlan:{tpid:#06x}"),
        Action::PopVlan => "pop_vlan".to_string(),
        // Sent as OFPAT_SET_MPLS_TTL, so printed as ovs-ofctl prints that action.
        Action::SetField(crate::field::Field::MplsTtl, v) => format!("set_mpls_ttl({v})"),
        Action::SetField(f, v) => format!(
            "set_field:{}->{}",
            format_value(*f, *v, f.full_mask(), names),
            f.name()
        ),
        Action::DecTtl => "dec_ttl".to_string(),
        Action::PushMpls(et) => format!("push_mpls:{et:#06x}"),
        Action::PopMpls(et) => format!("pop_mpls:{et:#06x}"),
        Action::DecMplsTtl => "dec_mpls_ttl".to_string(),
        Action::CopyTtlIn => "copy_ttl_in".to_string(),
        Action::CopyTtlOut => "copy_ttl_out".to_string(),
        Action::Group(g) => format!("group:{g}"),
        Action::SetQueue(q) => format!("set_queue:{q}"),
    }
}

/// Instructions in ovs-ofctl syntax (the text after `actions=`), with port numbers.
pub fn format_actions(ins: &Instructions) -> String {
    format_actions_named(ins, &no_names)
}

/// Instructions in ovs-ofctl syntax, naming ports through `names`.
pub fn format_actions_named(ins: &Instructions, names: PortNames<'_>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = ins.meter {
        parts.push(format!("meter:{m}"));
    }
    parts.extend(ins.apply.iter().map(|a| format_action(a, names)));
    if ins.clear {
        parts.push("clear_actions".to_string());
    }
    if !ins.write.is_empty() {
        let w: Vec<String> = ins.write.iter().map(|a| format_action(a, names)).collect();
        parts.push(format!("write_actions({})", w.join(",")));
    }
    if let Some((v, m)) = ins.write_metadata {
        if m == u64::MAX {
            parts.push(format!("write_metadata:{v:#x}"));
        } else {
            parts.push(format!("write_metadata:{v:#x}/{m:#x}"));
        }
    }
    if let Some(t) = ins.goto {
        parts.push(format!("goto_table:{t}"));
    }
    if parts.is_empty() {
        "drop".to_string()
    } else {
        parts.join(",")
    }
}

/// A rule as `ovs-ofctl dump-flows` prints it, e.g.
/// ` cookie=0x0, duration=1.234s, table=0, n_packets=3, n_bytes=180, idle_timeout=10,
/// priority=100,ip,nw_dst=10.0.0.5 actions=drop`.
pub fn format_flow(e: &FlowEntry, now_ns: u64, names: PortNames<'_>) -> String {
    let st = e.stats.snapshot();
    let age = now_ns.saturating_sub(e.created_ns);
    let mut s = String::new();
    let _ = write!(
        s,
        " cookie={:#x}, duration={}.{:03}s, table={}, n_packets={}, n_bytes={}, ",
        e.cookie,
        age / 1_000_000_000,
        (age % 1_000_000_000) / 1_000_000,
        e.table,
        st.packets,
        st.bytes
    );
    if e.idle_timeout != 0 {
        let _ = write!(s, "idle_timeout={}, ", e.idle_timeout);
    }
    if e.hard_timeout != 0 {
        let _ = write!(s, "hard_timeout={}, ", e.hard_timeout);
    }
    for (name, bit) in flag_names() {
        if e.flags & bit != 0 {
            let _ = write!(s, "{name}, ");
        }
    }
    let mut head = Vec::new();
    if e.priority != DEFAULT_PRIORITY {
        head.push(format!("priority={}", e.priority));
    }
    let m = format_match_named(&e.m, names);
    if !m.is_empty() {
        head.push(m);
    }
    if !head.is_empty() {
        s.push_str(&head.join(","));
        s.push(' ');
    }
    let _ = write!(
        s,
        "actions={}",
        format_actions_named(&e.instructions, names)
    );
    s
}
