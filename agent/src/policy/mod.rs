//! The policy compiler: one bridge's plan (its ports with their port groups' security and QoS
//! settings) plus the OpenFlow numbers of its ports, turned into the exact flows and meters the
//! bridge should hold. Pure: no I/O, so every rule is unit-tested without a switch.
//!
//! # Tables
//!
//! | table | what | flows (priority) |
//! |---|---|---|
//! | 0 | classify | VM port -> 10 (100); uplink -> 40 (100); else drop (0) |
//! | 10 | source MAC | `in_port,dl_src=<MAC>` -> 11 (100); `in_port` drop, `mac_spoof` (10) |
//! | 11 | IP-MAC binding | every VM port: `in_port` -> 12 (1); bound ports: see [`binding`] |
//! | 12 | DHCP isolation, RA guard | `udp,tp_src=67` (`dhcp_server`), `udp6,tp_src=547` (`dhcpv6_server`), `icmp6,icmpv6_type=134` (`router_advertisement`): drop (100); else -> 20 (0) |
//! | 20 | broadcast suppression | `in_port,dl_dst=ff:ff:ff:ff:ff:ff` -> meter (bcast), 21 (100); else -> 21 (0) |
//! | 21 | policing, queue | `in_port` -> meter (police), `set_queue:<qos_in.priority>` when the uplink shapes, 30 (100); else -> 30 (0) |
//! | 30 | security groups | -> 40 (0) |
//! | 40 | L2 | `NORMAL` (0) |
//!
//! Every per-port flow has the port (`port/<id>`) as its origin and a kind of its own
//! ([`crate::layout::kind`]); each drop has a kind of its own too, so the packet counter of a
//! port's drop flow *is* that port's counter for that reason ([`crate::layout::kind::reason`]).
//! A setting of one port group only adds or removes the flows of its own ports in the table it
//! concerns: every other flow keeps its content, hence its cookie, hence its counters.
//!
//! Checks are per table rather than folded into one big match, the way OVN and Neutron lay out
//! port security: a packet trace names the table (the reason) that dropped it, and enabling one
//! feature never rewrites another's flows.
//!
//! # Meters
//!
//! Meter ids are derived from the port's OpenFlow number, so they are deterministic across agent
//! restarts without any stored state: `ofport*4 + 1` is the port's broadcast meter and
//! `ofport*4 + 2` its policing meter ([`meters`]). The agent owns the meter ids that are 1 or 2
//! modulo 4; an operator's own meters should use ids that are 0 or 3 modulo 4.

pub mod binding;
pub mod meters;

use crate::layout::{kind, table, Flow};
use crate::plan::{BridgePlan, PortPlan, Role};
use flowtable::action::OFPP_NORMAL;
use flowtable::field::{ETH_TYPE_IPV4, ETH_TYPE_IPV6, IPPROTO_ICMPV6, IPPROTO_UDP};
use flowtable::Field;
use meters::MeterSpec;
use openflow::{Action, Instruction, OxmField};
use std::collections::BTreeMap;

/// What one bridge should hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compiled {
    /// Flows by cookie.
    pub flows: BTreeMap<u64, Flow>,
    /// Meters by id.
    pub meters: BTreeMap<u32, MeterSpec>,
}

/// An exact match on `f`.
pub(crate) fn m(f: Field, v: u128) -> OxmField {
    OxmField::exact(f, v)
}

pub(crate) fn goto(t: u8) -> Vec<Instruction> {
    vec![Instruction::GotoTable(t)]
}

/// A MAC's text as the OXM value.
pub fn mac_value(mac: &str) -> u128 {
    mac.split(':')
        .filter_map(|p| u8::from_str_radix(p, 16).ok())
        .fold(0u128, |acc, b| acc << 8 | u128::from(b))
}

/// Compile bridge `b`; `ofport` gives a port's OpenFlow number (by port name) once dvs-switchd
/// has one. A port without a number has no flows: its traffic meets table 0's drop.
pub fn compile(b: &BridgePlan, ofport: &dyn Fn(&str) -> Option<u32>) -> Compiled {
    let dvs = format!("dvs/{}", b.dvs);
    let default = |t: u8, instructions: Vec<Instruction>| Flow {
        table: t,
        priority: 0,
        matches: Vec::new(),
        instructions,
        origin: dvs.clone(),
        kind: kind::DEFAULT,
    };
    let mut v = vec![
        default(table::CLASSIFY, Vec::new()),
        default(table::PORT_SECURITY, Vec::new()),
        default(table::BINDING, Vec::new()),
        default(table::DHCP_GUARD, goto(table::BROADCAST)),
        default(table::BROADCAST, goto(table::POLICING)),
        default(table::POLICING, goto(table::SECURITY_GROUPS)),
        default(table::SECURITY_GROUPS, goto(table::L2)),
        default(
            table::L2,
            vec![Instruction::ApplyActions(vec![Action::Output {
                port: OFPP_NORMAL,
                max_len: 0,
            }])],
        ),
    ];
    let mut meters = BTreeMap::new();
    for p in b.ports.values() {
        let Some(n) = ofport(&p.name) else { continue };
        let in_port = m(Field::InPort, u128::from(n));
        let origin = p.key.to_string();
        match &p.role {
            Role::Uplink { .. } => v.push(Flow {
                table: table::CLASSIFY,
                priority: 100,
                matches: vec![in_port],
                instructions: goto(table::L2),
                origin,
                kind: kind::CLASSIFY_UPLINK,
            }),
            Role::Vm { mac, .. } => {
                let port = PortCtx {
                    plan: p,
                    in_port,
                    ofport: n,
                    origin,
                    mac: mac_value(mac),
                };
                vm_flows(&port, b, &mut v, &mut meters);
            }
        }
    }
    Compiled {
        flows: v.into_iter().map(|f| (f.cookie(), f)).collect(),
        meters,
    }
}

/// One VM port being compiled.
pub(crate) struct PortCtx<'a> {
    pub plan: &'a PortPlan,
    pub in_port: OxmField,
    pub ofport: u32,
    pub origin: String,
    pub mac: u128,
}

impl PortCtx<'_> {
    /// A flow of this port: `in_port` plus `matches`.
    pub fn flow(
        &self,
        table: u8,
        priority: u16,
        kind: u8,
        matches: &[OxmField],
        instructions: Vec<Instruction>,
    ) -> Flow {
        let mut all = vec![self.in_port];
        all.extend_from_slice(matches);
        Flow {
            table,
            priority,
            matches: all,
            instructions,
            origin: self.origin.clone(),
            kind,
        }
    }
}

fn vm_flows(
    p: &PortCtx<'_>,
    b: &BridgePlan,
    v: &mut Vec<Flow>,
    meters: &mut BTreeMap<u32, MeterSpec>,
) {
    let pol = &p.plan.policy;
    v.push(p.flow(
        table::CLASSIFY,
        100,
        kind::CLASSIFY_VM,
        &[],
        goto(table::PORT_SECURITY),
    ));
    v.push(p.flow(
        table::PORT_SECURITY,
        100,
        kind::PORT_SECURITY,
        &[m(Field::EthSrc, p.mac)],
        goto(table::BINDING),
    ));
    v.push(p.flow(table::PORT_SECURITY, 10, kind::MAC_SPOOF, &[], Vec::new()));
    v.push(p.flow(
        table::BINDING,
        1,
        kind::BIND_PASS,
        &[],
        goto(table::DHCP_GUARD),
    ));
    if pol.ip_mac_binding {
        binding::flows(p, v);
    }
    if pol.dhcp_isolation {
        let udp4 = [
            m(Field::EthType, ETH_TYPE_IPV4.into()),
            m(Field::IpProto, IPPROTO_UDP.into()),
        ];
        let udp6 = [
            m(Field::EthType, ETH_TYPE_IPV6.into()),
            m(Field::IpProto, IPPROTO_UDP.into()),
        ];
        let icmp6 = [
            m(Field::EthType, ETH_TYPE_IPV6.into()),
            m(Field::IpProto, IPPROTO_ICMPV6.into()),
        ];
        let with = |base: &[OxmField], extra: OxmField| {
            let mut x = base.to_vec();
            x.push(extra);
            x
        };
        v.push(p.flow(
            table::DHCP_GUARD,
            100,
            kind::DHCP_SERVER,
            &with(&udp4, m(Field::UdpSrc, 67)),
            Vec::new(),
        ));
        v.push(p.flow(
            table::DHCP_GUARD,
            100,
            kind::DHCPV6_SERVER,
            &with(&udp6, m(Field::UdpSrc, 547)),
            Vec::new(),
        ));
        v.push(p.flow(
            table::DHCP_GUARD,
            100,
            kind::ROUTER_ADVERTISEMENT,
            &with(&icmp6, m(Field::Icmpv6Type, 134)),
            Vec::new(),
        ));
    }
    if let Some(s) = &pol.broadcast {
        if let Some(meter) = meters::broadcast(p.ofport, s, &p.origin) {
            v.push(p.flow(
                table::BROADCAST,
                100,
                kind::BROADCAST,
                &[m(Field::EthDst, 0xffff_ffff_ffff)],
                vec![
                    Instruction::Meter(meter.id),
                    Instruction::GotoTable(table::POLICING),
                ],
            ));
            meters.insert(meter.id, meter);
        }
    }
    if let Some(q) = &pol.qos_in {
        if let Some(meter) = meters::police(p.ofport, q, &p.origin) {
            let mut ins = vec![Instruction::Meter(meter.id)];
            if b.egress_kbps.is_some() {
                ins.push(Instruction::ApplyActions(vec![Action::SetQueue(
                    u32::from(q.priority),
                )]));
            }
            ins.push(Instruction::GotoTable(table::SECURITY_GROUPS));
            v.push(p.flow(table::POLICING, 100, kind::POLICE, &[], ins));
            meters.insert(meter.id, meter);
        }
    }
}

#[cfg(test)]
mod tests;
