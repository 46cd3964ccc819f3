//! Packet traces: which table a packet visited, which rule (if any) matched there, and what the
//! packet looked like on arrival at each table.
//!
//! The pipeline records a [`TraceStep`] per table when the caller passes a [`Trace`] to
//! [`Pipeline::lookup`](crate::pipeline::Pipeline::lookup); the steps hold the matched rule itself
//! (an `Arc`, so rendering later shows the rule as it was when the packet hit it). [`Trace::render`]
//! prints the table part in the spirit of `ovs-appctl ofproto/trace`; the datapath appends its own
//! "Datapath actions:" line after translating NORMAL, groups and meters, which this crate cannot
//! see.

use crate::key::{FlowKey, FRAG_ANY, FRAG_LATER};
use crate::pipeline::FlowEntry;
use crate::text::{format_actions_named, format_match_named, format_port, PortNames};
use std::fmt::Write as _;
use std::sync::Arc;

/// One table visited by a traced packet.
#[derive(Clone, Debug)]
pub struct TraceStep {
    /// Table number.
    pub table: u8,
    /// The rule that matched, or `None` for a table miss.
    pub matched: Option<Arc<FlowEntry>>,
    /// The packet's key when it arrived at this table.
    pub key_before: FlowKey,
}

/// The steps of one traced pipeline walk.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Tables in visiting order.
    pub steps: Vec<TraceStep>,
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Trace {
        Trace::default()
    }

    /// The table part of an `ofproto/trace`-style report: a `Flow:` header with the ingress key,
    /// then per table the matched rule (match, priority, cookie) and its instructions, or a table
    /// miss. `ports` names ports (return `None` to print numbers).
    pub fn render(&self, ports: PortNames<'_>) -> String {
        let mut out = String::new();
        if let Some(first) = self.steps.first() {
            let _ = writeln!(out, "Flow: {}", format_key_named(&first.key_before, ports));
            out.push('\n');
        }
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 && step.key_before != self.steps[i - 1].key_before {
                let _ = writeln!(
                    out,
                    "    (packet now: {})",
                    format_key_named(&step.key_before, ports)
                );
            }
            match &step.matched {
                Some(e) => {
                    let m = format_match_named(&e.m, ports);
                    let m = if m.is_empty() {
                        "(match all)".to_string()
                    } else {
                        m
                    };
                    let _ = writeln!(
                        out,
                        "{:>2}. {}, priority {}, cookie {:#x}",
                        step.table, m, e.priority, e.cookie
                    );
                    let acts = format_actions_named(&e.instructions, ports);
                    for a in split_top_level(&acts) {
                        let _ = writeln!(out, "    {a}");
                    }
                }
                None => {
                    let _ = writeln!(out, "{:>2}. No match.", step.table);
                    let _ = writeln!(out, "    -> table miss: drop");
                }
            }
        }
        out
    }
}

impl Trace {
    /// Where the pipeline walk ended, for the datapath's drop line: the last table visited and
    /// the rule that matched there (`table 11 priority 10 cookie 0xd5`), or `table 3 miss` when
    /// no rule matched. `None` for a trace that visited no table.
    pub fn ending(&self) -> Option<String> {
        let last = self.steps.last()?;
        Some(match &last.matched {
            Some(e) => format!(
                "table {} priority {} cookie {:#x}",
                last.table, e.priority, e.cookie
            ),
            None => format!("table {} miss", last.table),
        })
    }
}

/// Split an action list at commas outside parentheses (one action per trace line).
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// One-line summary of a packet key (the `Flow:` line of a trace), with port numbers.
pub fn format_key(key: &FlowKey) -> String {
    format_key_named(key, &|_| None)
}

/// One-line summary of a packet key, naming ports through `ports`.
pub fn format_key_named(k: &FlowKey, ports: PortNames<'_>) -> String {
    use crate::field::{
        ETH_TYPE_ARP, ETH_TYPE_IPV4, ETH_TYPE_IPV6, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP,
        IPPROTO_UDP,
    };
    let mut parts: Vec<String> = Vec::new();
    let is_ip = matches!(k.eth_type, ETH_TYPE_IPV4 | ETH_TYPE_IPV6);
    let proto_name = match (k.eth_type, k.ip_proto) {
        (ETH_TYPE_IPV4, IPPROTO_TCP) => Some("tcp"),
        (ETH_TYPE_IPV4, IPPROTO_UDP) => Some("udp"),
        (ETH_TYPE_IPV4, IPPROTO_ICMP) => Some("icmp"),
        (ETH_TYPE_IPV4, _) => Some("ip"),
        (ETH_TYPE_IPV6, IPPROTO_TCP) => Some("tcp6"),
        (ETH_TYPE_IPV6, IPPROTO_UDP) => Some("udp6"),
        (ETH_TYPE_IPV6, IPPROTO_ICMPV6) => Some("icmp6"),
        (ETH_TYPE_IPV6, _) => Some("ipv6"),
        (ETH_TYPE_ARP, _) => Some("arp"),
        _ => None,
    };
    if let Some(p) = proto_name {
        parts.push(p.to_string());
    }
    if k.metadata != 0 {
        parts.push(format!("metadata={:#x}", k.metadata));
    }
    for (i, r) in k.regs.iter().enumerate() {
        if *r != 0 {
            parts.push(format!("reg{i}={r:#x}"));
        }
    }
    parts.push(format!("in_port={}", format_port(k.in_port, ports)));
    match k.vlan_vid() {
        Some(vid) => {
            parts.push(format!("dl_vlan={vid}"));
            parts.push(format!("dl_vlan_pcp={}", k.vlan_pcp()));
        }
        None => parts.push("vlan_tci=0x0000".to_string()),
    }
    parts.push(format!("dl_src={}", mac(&k.eth_src)));
    parts.push(format!("dl_dst={}", mac(&k.eth_dst)));
    if proto_name.is_none() {
        parts.push(format!("dl_type={:#06x}", k.eth_type));
    }
    if k.eth_type == ETH_TYPE_ARP {
        parts.push(format!("arp_spa={}", std::net::Ipv4Addr::from(k.ipv4_src)));
        parts.push(format!("arp_tpa={}", std::net::Ipv4Addr::from(k.ipv4_dst)));
        parts.push(format!("arp_op={}", k.arp_op));
        parts.push(format!("arp_sha={}", mac(&k.arp_sha)));
        parts.push(format!("arp_tha={}", mac(&k.arp_tha)));
    }
    if k.eth_type == ETH_TYPE_IPV4 {
        parts.push(format!("nw_src={}", std::net::Ipv4Addr::from(k.ipv4_src)));
        parts.push(format!("nw_dst={}", std::net::Ipv4Addr::from(k.ipv4_dst)));
    }
    if k.eth_type == ETH_TYPE_IPV6 {
        parts.push(format!("ipv6_src={}", std::net::Ipv6Addr::from(k.ipv6_src)));
        parts.push(format!("ipv6_dst={}", std::net::Ipv6Addr::from(k.ipv6_dst)));
        parts.push(format!("ipv6_label={:#07x}", k.ipv6_label));
    }
    if is_ip {
        if !matches!(
            k.ip_proto,
            IPPROTO_TCP | IPPROTO_UDP | IPPROTO_ICMP | IPPROTO_ICMPV6
        ) {
            parts.push(format!("nw_proto={}", k.ip_proto));
        }
        parts.push(format!("nw_tos={}", k.ip_tos & 0xfc));
        parts.push(format!("nw_ecn={}", k.ip_tos & 3));
        parts.push(format!("nw_ttl={}", k.ip_ttl));
        if k.ip_frag & FRAG_ANY != 0 {
            let f = if k.ip_frag & FRAG_LATER != 0 {
                "later"
            } else {
                "first"
            };
            parts.push(format!("nw_frag={f}"));
        }
        match k.ip_proto {
            IPPROTO_TCP | IPPROTO_UDP => {
                parts.push(format!("tp_src={}", k.tp_src));
                parts.push(format!("tp_dst={}", k.tp_dst));
                if k.ip_proto == IPPROTO_TCP {
                    parts.push(format!("tcp_flags={:#05x}", k.tcp_flags));
                }
            }
            IPPROTO_ICMP | IPPROTO_ICMPV6 => {
                let pre = if k.ip_proto == IPPROTO_ICMP {
                    "icmp"
                } else {
                    "icmpv6"
                };
                parts.push(format!("{pre}_type={}", k.icmp_type));
                parts.push(format!("{pre}_code={}", k.icmp_code));
                if k.ip_proto == IPPROTO_ICMPV6 && matches!(k.icmp_type, 135 | 136) {
                    parts.push(format!(
                        "nd_target={}",
                        std::net::Ipv6Addr::from(k.nd_target)
                    ));
                }
            }
            _ => {}
        }
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, Instructions};
    use crate::field::Field;
    use crate::matches::Match;
    use crate::pipeline::{FlowEntry, Pipeline};

    fn key() -> FlowKey {
        FlowKey {
            in_port: 1,
            eth_type: 0x0800,
            ip_proto: 6,
            ipv4_src: 0x0a00_0001,
            ipv4_dst: 0x0a00_0005,
            ip_ttl: 64,
            tp_src: 1234,
            tp_dst: 80,
            ..FlowKey::default()
        }
    }

    #[test]
    fn key_summary_names_fields() {
        let s = format_key(&key());
        assert_eq!(
            s,
            "tcp,in_port=1,vlan_tci=0x0000,dl_src=00:00:00:00:00:00,\
             dl_dst=00:00:00:00:00:00,nw_src=10.0.0.1,nw_dst=10.0.0.5,nw_tos=0,nw_ecn=0,\
             nw_ttl=64,tp_src=1234,tp_dst=80,tcp_flags=0x000"
        );
        let named = format_key_named(&key(), &|p| (p == 1).then(|| "vm1".to_string()));
        assert!(named.contains("in_port=vm1"), "{named}");
    }

    #[test]
    fn render_shows_match_and_miss() {
        let mut p = Pipeline::new();
        let m = Match::new()
            .exact(Field::EthType, 0x0800)
            .exact(Field::Ipv4Dst, 0x0a00_0005);
        let ins = Instructions {
            apply: vec![Action::SetField(Field::Reg(0), 7)],
            goto: Some(3),
            ..Instructions::default()
        };
        let mut e = FlowEntry::new(0, 100, m, ins, 0);
        e.cookie = 0x10;
        p.add(e).expect("add");
        let mut tr = Trace::new();
        let r = p.lookup(&key(), 60, 1, Some(&mut tr));
        assert_eq!(r.miss_drop, Some(3));
        assert_eq!(tr.steps.len(), 2);
        assert_eq!(tr.steps[1].table, 3);
        assert_eq!(tr.steps[1].key_before.regs[0], 7);
        let text = tr.render(&|_| None);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Flow: tcp,in_port=1,"), "{text}");
        assert_eq!(
            lines[2],
            " 0. ip,nw_dst=10.0.0.5, priority 100, cookie 0x10"
        );
        assert_eq!(lines[3], "    set_field:0x7->reg0");
        assert_eq!(lines[4], "    goto_table:3");
        assert!(
            lines[5].starts_with("    (packet now: tcp,reg0=0x7,"),
            "{text}"
        );
        assert_eq!(lines[6], " 3. No match.");
        assert_eq!(lines[7], "    -> table miss: drop");
        assert_eq!(tr.ending().as_deref(), Some("table 3 miss"));
        assert_eq!(Trace::new().ending(), None);
    }

    #[test]
    fn ending_names_the_dropping_rule() {
        let mut p = Pipeline::new();
        let m = Match::new().exact(Field::EthType, 0x0800);
        let mut e = FlowEntry::new(11, 10, m, Instructions::default(), 0);
        e.cookie = 0xd5;
        p.add(e).expect("add");
        let goto = Instructions {
            goto: Some(11),
            ..Instructions::default()
        };
        p.add(FlowEntry::new(0, 0, Match::new(), goto, 0))
            .expect("add");
        let mut tr = Trace::new();
        p.lookup(&key(), 60, 1, Some(&mut tr));
        assert_eq!(
            tr.ending().as_deref(),
            Some("table 11 priority 10 cookie 0xd5")
        );
    }
}
