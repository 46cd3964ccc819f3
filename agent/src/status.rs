//! The live state dvsm shows an operator: per VM port (by `iface-id`) and per uplink, the link
//! state, OpenFlow number, counters and any error, read from the Interface rows dvs-switchd
//! writes back (`link_state`, `ofport`, `statistics`, `error`) plus the agent's own apply
//! errors. An object the agent could not apply has no row; it still gets an entry carrying its
//! error, so "why is my VM offline" has an answer in dvsm.
//!
//! Each port's `drops` merges three sources by reason name, non-zero only: the packet counts of
//! the port's drop flows (each drop reason is a flow kind of its own, see [`crate::policy`]), its
//! meters' drop bands (`broadcast_suppressed`, `policed`), and the switch's own per-port
//! reasons, which it writes into `Interface.statistics` as `drop_<reason>`.

use crate::ovs::IfaceState;
use crate::plan::{Plan, Role};
use proto::wire::{PortStatus, Status};
use proto::{Key, Kind};
use std::collections::BTreeMap;

/// Prefix of the switch's per-port drop counters in `Interface.statistics`.
pub const DROP_PREFIX: &str = "drop_";

/// Build the status of `plan` from the interfaces as the database shows them.
pub fn build(
    plan: &Plan,
    ifaces: &BTreeMap<String, IfaceState>,
    errors: &BTreeMap<Key, String>,
    drops: &BTreeMap<String, BTreeMap<String, u64>>,
    revision: u64,
) -> Status {
    let mut st = Status {
        revision,
        ..Status::default()
    };
    for b in plan.bridges.values() {
        for p in b.ports.values() {
            let i = ifaces.get(&p.name);
            let mut port_drops = match &p.role {
                Role::Vm { id, .. } => drops.get(id).cloned().unwrap_or_default(),
                Role::Uplink { .. } => BTreeMap::new(),
            };
            // The switch's own reasons: `drop_<reason>` in Interface.statistics.
            for (k, n) in i.map(|i| &i.counters).into_iter().flatten() {
                if let Some(reason) = k.strip_prefix(DROP_PREFIX).filter(|_| *n > 0) {
                    *port_drops.entry(reason.to_string()).or_default() += n;
                }
            }
            let ps = PortStatus {
                link: i.is_some_and(|i| i.link),
                ofport: i.and_then(|i| i.ofport),
                counters: i.map(|i| i.counters.clone()).unwrap_or_default(),
                drops: port_drops,
                error: errors
                    .get(&p.key)
                    .cloned()
                    .or_else(|| i.and_then(|i| i.error.clone()))
                    .or_else(|| i.is_none().then(|| "not in the switch yet".to_string())),
            };
            match &p.role {
                Role::Vm { id, .. } => st.ports.insert(id.clone(), ps),
                Role::Uplink { name } => st.uplinks.insert(name.clone(), ps),
            };
        }
    }
    for (k, e) in errors {
        let ps = PortStatus {
            error: Some(e.clone()),
            ..PortStatus::default()
        };
        match k.kind {
            Kind::Port => {
                st.ports.entry(k.name.clone()).or_insert(ps);
            }
            Kind::Uplink => {
                st.uplinks.entry(k.name.clone()).or_insert(ps);
            }
            _ => {}
        }
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{BridgePlan, PortPlan, PortVlan};

    #[test]
    fn drops_merge_flow_meter_and_switch_reasons_nonzero_only() {
        let port = PortPlan {
            name: "tap1".into(),
            key: Key::new(Kind::Port, "vm1"),
            role: Role::Vm {
                id: "vm1".into(),
                mac: "02:00:00:00:00:01".into(),
            },
            iface_type: "system",
            options: BTreeMap::new(),
            vlan: PortVlan {
                tag: Some(10),
                trunks: Vec::new(),
                mode: "access",
            },
            policy: Default::default(),
        };
        let mut plan = Plan::default();
        plan.bridges.insert(
            "d1".into(),
            BridgePlan {
                dvs: "d1".into(),
                ports: BTreeMap::from([("tap1".to_string(), port)]),
                mtu: 1500,
                egress_kbps: None,
            },
        );
        let mut iface = IfaceState {
            bridge: "d1".into(),
            ofport: Some(1),
            link: true,
            ..IfaceState::default()
        };
        for (k, v) in [
            ("rx_packets", 10),
            ("drop_src_mac_multicast", 3),
            ("drop_runt", 0),
        ] {
            iface.counters.insert(k.to_string(), v);
        }
        let ifaces = BTreeMap::from([("tap1".to_string(), iface)]);
        let drops = BTreeMap::from([(
            "vm1".to_string(),
            BTreeMap::from([
                ("ip_spoof".to_string(), 5),
                ("broadcast_suppressed".to_string(), 7),
            ]),
        )]);
        let st = build(&plan, &ifaces, &BTreeMap::new(), &drops, 4);
        let d = &st.ports["vm1"].drops;
        assert_eq!(d.len(), 3, "{d:?}");
        assert_eq!(d["ip_spoof"], 5);
        assert_eq!(d["broadcast_suppressed"], 7);
        assert_eq!(d["src_mac_multicast"], 3);
        assert_eq!(st.ports["vm1"].counters["rx_packets"], 10);
    }
}
