//! The live state dvsm shows an operator: per VM port (by `iface-id`) and per uplink, the link
//! state, OpenFlow number, counters and any error, read from the Interface rows dvs-switchd
//! writes back (`link_state`, `ofport`, `statistics`, `error`) plus the agent's own apply
//! errors. An object the agent could not apply has no row; it still gets an entry carrying its
//! error, so "why is my VM offline" has an answer in dvsm.

use crate::ovs::IfaceState;
use crate::plan::{Plan, Role};
use proto::wire::{PortStatus, Status};
use proto::{Key, Kind};
use std::collections::BTreeMap;

/// Build the status of `plan` from the interfaces as the database shows them.
pub fn build(
    plan: &Plan,
    ifaces: &BTreeMap<String, IfaceState>,
    errors: &BTreeMap<Key, String>,
    revision: u64,
) -> Status {
    let mut st = Status {
        revision,
        ..Status::default()
    };
    for b in plan.bridges.values() {
        for p in b.ports.values() {
            let i = ifaces.get(&p.name);
            let ps = PortStatus {
                link: i.is_some_and(|i| i.link),
                ofport: i.and_then(|i| i.ofport),
                counters: i.map(|i| i.counters.clone()).unwrap_or_default(),
                drops: Default::default(),
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
