//! Live reconfiguration: a validated desired configuration is diffed against the running one
//! ([`diff`]) and the difference applied in place ([`apply`]).
//!
//! Every front end (today the file, `dvsctl switch reload` and SIGHUP; later the Open_vSwitch
//! database and the agent) validates a whole desired [`SwitchConfig`] first, then diffs it against
//! the running one and hands the list to one applier, [`apply`].
//!
//! Each change says whether the engine can apply it while traffic flows ([`Change::live`]). Today
//! that is bridges added and removed (see `crate::switch::bridges`), ports added and removed
//! (see `crate::ports`), a port whose kind, interface, backend settings, ofport or queues
//! changed (re-created: the new instance is added as the old one is removed), a port's VLAN
//! mode, tag and trunks (published in the bridge's snapshot, so the next batch of every PMD sees
//! it), its egress shaping and TCP checksum fill (`crate::egress`, changed in place: queued
//! packets and counters stay), MAC aging and limits, and a bridge's OpenFlow side (controllers, fail mode, datapath id,
//! extra listeners: its listeners are restarted, its flows stay). The others (a bridge's static
//! flows, switch-wide settings) still need a restart: a desired configuration that contains any
//! of them is refused as a whole with the list.
//!
//! All or nothing: every new bridge is built (its flows installed, its OpenFlow listeners bound)
//! and every new port, and the new instance of every re-created one, is opened first, while the
//! old ones still run; if one cannot be (an interface that does not exist, a
//! socket path that cannot be bound, a DPDK device or AF_XDP queue the old instance still holds)
//! nothing is changed. Only then are ports and bridges removed, the new ones added, and the
//! other changes made; none of those steps can fail, except re-binding the listeners of a bridge
//! whose OpenFlow side changed (its old listeners must close first): that is logged. A vhost-user server re-created on the same socket path
//! takes the path over (the old one leaves the file alone when it stops).

mod diff;

pub use diff::{diff, keep_ofports, Change};

use crate::config::{BridgeConfig, SwitchConfig};
use crate::switch::Switch;

/// Why a desired configuration was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ReconfigError {
    /// It contains changes the engine cannot make while running; nothing was applied.
    #[error("these changes need a restart of dvs-switchd, so nothing was applied: {}", .0.join("; "))]
    NeedsRestart(Vec<String>),
    /// A new port (or bridge) could not be opened; nothing was applied.
    #[error("{message}; nothing was applied")]
    PortOpen {
        /// The port's (or bridge's) name.
        name: String,
        /// Why, without the location (what a database front end shows on the row).
        reason: String,
        /// Why, with where it was configured.
        message: String,
    },
}

impl ReconfigError {
    fn open(name: &str, e: crate::switch::SwitchError) -> ReconfigError {
        let reason = match &e {
            crate::switch::SwitchError::PortOpen { message, .. } => message.clone(),
            other => other.to_string(),
        };
        ReconfigError::PortOpen {
            name: name.to_string(),
            reason,
            message: e.to_string(),
        }
    }
}

/// What applying `desired` would do, without doing it: every change, and whether the switch
/// can make it while running (`dvsctl switch reload --dry-run`).
pub fn plan(sw: &Switch, mut desired: SwitchConfig) -> Vec<Change> {
    let running = sw.running_config();
    keep_ofports(&running, &mut desired);
    diff(&running, &desired)
}

/// Apply `desired` to the running switch: every change or none. Returns the changes made
/// (empty when `desired` means what is running already).
pub fn apply(sw: &Switch, mut desired: SwitchConfig) -> Result<Vec<Change>, ReconfigError> {
    let mut running = sw.running_config();
    keep_ofports(&running, &mut desired);
    let changes = diff(&running, &desired);
    let refused: Vec<String> = changes
        .iter()
        .filter(|c| !c.live())
        .map(Change::describe)
        .collect();
    if !refused.is_empty() {
        return Err(ReconfigError::NeedsRestart(refused));
    }
    // Ports whose backend settings changed are re-created (once each, however many settings).
    let mut recreated: Vec<(&String, &String)> = Vec::new();
    let mut openflow: Vec<&String> = Vec::new();
    for c in &changes {
        match c {
            Change::PortSetting { bridge, port, .. } if !recreated.contains(&(bridge, port)) => {
                recreated.push((bridge, port));
            }
            Change::BridgeSetting { bridge, .. } if !openflow.contains(&bridge) => {
                openflow.push(bridge);
            }
            _ => {}
        }
    }
    let find = |name: &str| desired.bridges.iter().find(|b| b.name == name);
    // Build every new bridge (flows checked, listeners bound) and open every new port (those
    // of new bridges too) and every re-created port's new instance, before anything changes.
    let new_bridges: Vec<&BridgeConfig> = changes
        .iter()
        .filter_map(|c| match c {
            Change::BridgeAdded { bridge } => find(bridge),
            _ => None,
        })
        .collect();
    let built = sw
        .build_bridges(&new_bridges)
        .map_err(|(name, e)| ReconfigError::open(&name, e))?;
    let added = changes.iter().filter_map(|c| match c {
        Change::PortAdded { bridge, port } => Some((bridge, port)),
        _ => None,
    });
    let in_new_bridges = new_bridges
        .iter()
        .flat_map(|b| b.ports.iter().map(move |p| (&b.name, &p.name)));
    let mut opened = Vec::new();
    for (bridge, port) in added.chain(in_new_bridges).chain(recreated.iter().copied()) {
        let Some(pc) = find(bridge).and_then(|b| b.ports.iter().find(|p| p.name == *port)) else {
            continue;
        };
        opened.push(
            sw.open_new_port(bridge, pc)
                .map_err(|e| ReconfigError::open(port, e))?,
        );
    }
    for c in &changes {
        match c {
            Change::PortRemoved { port, .. } => {
                sw.remove_port(port);
            }
            Change::BridgeRemoved { bridge } => {
                sw.remove_bridge(bridge);
            }
            _ => {}
        }
    }
    for (_, port) in &recreated {
        sw.remove_port(port);
    }
    for b in built {
        sw.add_bridge(b);
    }
    for o in opened {
        sw.add_port(o);
    }
    for c in &changes {
        apply_one(sw, c);
    }
    for name in openflow {
        if let Some(b) = find(name) {
            if let Err(e) = sw.reconfigure_openflow(b) {
                eprintln!("dvs-switchd: bridge {name}: OpenFlow listeners: {e}");
            }
        }
    }
    if changes.iter().any(|c| {
        matches!(
            c,
            Change::PortVlan { .. }
                | Change::PortPolicing { .. }
                | Change::PortMacLimit { .. }
                | Change::PortEgress { .. }
        )
    }) {
        sw.update_port_configs(desired.bridges.iter().flat_map(|b| &b.ports));
    }
    *running = desired;
    Ok(changes)
}

/// Make one live change. The bridge and port exist: the change came from diffing the running
/// configuration, which the switch was built from.
fn apply_one(sw: &Switch, c: &Change) {
    let bridge = |name: &str| sw.bridge(name);
    match c {
        Change::MacAging { bridge: b, secs } => {
            if let Some(b) = bridge(b) {
                b.macs().set_aging(*secs);
                b.bump_epoch();
            }
        }
        Change::MacLimit { bridge: b, limit } => {
            if let Some(b) = bridge(b) {
                b.macs().set_default_limit(*limit);
            }
        }
        Change::PortMacLimit {
            bridge: b,
            ofport,
            limit,
            ..
        } => {
            if let Some(b) = bridge(b) {
                b.macs().set_port_limit(*ofport, *limit);
            }
        }
        Change::PortVlan {
            bridge: b,
            port,
            vlan,
        } => {
            let Some(b) = bridge(b) else { return };
            // The next batch of every PMD sees the new snapshot (the publish bumps the cache
            // epoch). Addresses learned on the port belonged to its old VLAN: forget them, as
            // OVS does, rather than send frames of the old VLAN there.
            let ofport = b
                .edit_view(|v| {
                    let p = v.ports.iter_mut().find(|p| p.name == *port).ok_or(())?;
                    p.vlan = (**vlan).clone();
                    Ok::<_, ()>(p.ofport)
                })
                .ok();
            if let Some(ofport) = ofport {
                b.macs().flush_port(ofport);
                b.bump_epoch();
            }
        }
        Change::PortPolicing {
            bridge: b,
            port,
            policing,
        } => {
            // A new policer starts with a full bucket; the next batch of every PMD uses it.
            if let Some(b) = bridge(b) {
                let _ = b.edit_view(|v| {
                    let p = v.ports.iter_mut().find(|p| p.name == *port).ok_or(())?;
                    p.policer = policing.and_then(crate::bridge::policer);
                    Ok::<_, ()>(())
                });
            }
        }
        Change::PortEgress {
            port,
            qos,
            tcp_checksum_fill,
            ..
        } => {
            // In place: queued packets, tokens and the port's counters stay.
            sw.set_port_egress(port, qos.as_ref(), *tcp_checksum_fill);
        }
        // Done by `apply` before the others.
        Change::PortAdded { .. } | Change::PortRemoved { .. } | Change::PortSetting { .. } => {}
        // Done by `apply` before (bridges) or after (their OpenFlow side) the others.
        Change::BridgeAdded { .. }
        | Change::BridgeRemoved { .. }
        | Change::BridgeSetting { .. } => {}
        // Not live: `apply` refused the whole configuration before getting here.
        Change::Switch { .. } => {}
    }
}
