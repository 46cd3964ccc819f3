//! The difference between two validated configurations, as a list of [`Change`]s, each marked
//! live (the engine applies it while traffic flows) or not (it needs a restart today). The diff
//! compares meaning, not text: where something was written never counts, and bridges and ports
//! are matched by name, so reordering a file changes nothing.

use crate::config::{BridgeConfig, Policing, PortConfig, ShaperConfig, SwitchConfig, VlanMode};

/// One difference between two configurations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A `[switch]` setting.
    Switch {
        /// The setting's name.
        field: &'static str,
    },
    /// A bridge that only the desired configuration has.
    BridgeAdded {
        /// Bridge name.
        bridge: String,
    },
    /// A bridge that only the running configuration has.
    BridgeRemoved {
        /// Bridge name.
        bridge: String,
    },
    /// A bridge setting: its static flows (not live yet), or its OpenFlow side (controllers,
    /// fail mode, datapath id, extra listeners).
    BridgeSetting {
        /// Bridge name.
        bridge: String,
        /// The setting's name.
        field: &'static str,
    },
    /// The bridge's MAC aging time.
    MacAging {
        /// Bridge name.
        bridge: String,
        /// New aging time in seconds (0 = never).
        secs: u64,
    },
    /// The bridge's default per-port MAC limit.
    MacLimit {
        /// Bridge name.
        bridge: String,
        /// New limit (0 = unlimited).
        limit: usize,
    },
    /// A port that only the desired configuration has (on this bridge).
    PortAdded {
        /// Bridge name.
        bridge: String,
        /// Port name.
        port: String,
    },
    /// A port that only the running configuration has (on this bridge).
    PortRemoved {
        /// Bridge name.
        bridge: String,
        /// Port name.
        port: String,
    },
    /// A port's VLAN mode, tag or trunks.
    PortVlan {
        /// Bridge name.
        bridge: String,
        /// Port name.
        port: String,
        /// The new VLAN behaviour (boxed: a trunk's VLAN bitmap is 512 bytes).
        vlan: Box<VlanMode>,
    },
    /// A port's ingress policing (`None`: none).
    PortPolicing {
        /// Bridge name.
        bridge: String,
        /// Port name.
        port: String,
        /// The new policer.
        policing: Option<Policing>,
    },
    /// A port's egress shaping or TCP checksum fill (changed in place: the port stays).
    PortEgress {
        /// Bridge name.
        bridge: String,
        /// Port name.
        port: String,
        /// The new shaper (`None`: unshaped).
        qos: Option<ShaperConfig>,
        /// The new checksum-fill setting.
        tcp_checksum_fill: bool,
    },
    /// A port's own MAC limit (`None`: the bridge's).
    PortMacLimit {
        /// Bridge name.
        bridge: String,
        /// Port name.
        port: String,
        /// The port's OpenFlow number (the MAC table's key).
        ofport: u32,
        /// New limit.
        limit: Option<usize>,
    },
    /// A port setting the backend fixes when it opens (kind, interface, backend settings,
    /// ofport, queues): the port is re-created.
    PortSetting {
        /// Bridge name.
        bridge: String,
        /// Port name.
        port: String,
        /// The setting's name.
        field: &'static str,
    },
}

impl Change {
    /// Whether the engine applies this change while running.
    pub fn live(&self) -> bool {
        if let Change::BridgeSetting { field, .. } = self {
            return *field != "flows";
        }
        matches!(
            self,
            Change::BridgeAdded { .. }
                | Change::BridgeRemoved { .. }
                | Change::MacAging { .. }
                | Change::MacLimit { .. }
                | Change::PortAdded { .. }
                | Change::PortRemoved { .. }
                | Change::PortSetting { .. }
                | Change::PortVlan { .. }
                | Change::PortPolicing { .. }
                | Change::PortEgress { .. }
                | Change::PortMacLimit { .. }
        )
    }

    /// One line for an operator.
    pub fn describe(&self) -> String {
        match self {
            Change::Switch { field } => format!("switch.{field} changed"),
            Change::BridgeAdded { bridge } => format!("bridge {bridge} added"),
            Change::BridgeRemoved { bridge } => format!("bridge {bridge} removed"),
            Change::BridgeSetting { bridge, field } => format!("bridge {bridge}: {field} changed"),
            Change::MacAging { bridge, secs } => format!("bridge {bridge}: mac_aging_secs {secs}"),
            Change::MacLimit { bridge, limit } => format!("bridge {bridge}: mac_limit {limit}"),
            Change::PortAdded { bridge, port } => format!("bridge {bridge}: port {port} added"),
            Change::PortRemoved { bridge, port } => {
                format!("bridge {bridge}: port {port} removed")
            }
            Change::PortVlan { bridge, port, vlan } => {
                format!("bridge {bridge}: port {port}: {}", vlan_text(vlan))
            }
            Change::PortPolicing {
                bridge,
                port,
                policing,
            } => match policing {
                Some(p) => format!(
                    "bridge {bridge}: port {port}: ingress policing {} kb/s, burst {} kb",
                    p.rate_kbps, p.burst_kb
                ),
                None => format!("bridge {bridge}: port {port}: no ingress policing"),
            },
            Change::PortEgress {
                bridge,
                port,
                qos,
                tcp_checksum_fill,
            } => {
                let shaping = match qos {
                    Some(q) => format!(
                        "shaped at {} bytes/s ({} queue(s))",
                        q.cir_bytes_per_s,
                        q.queues.len().max(1)
                    ),
                    None => "not shaped".to_string(),
                };
                let fill = if *tcp_checksum_fill { "on" } else { "off" };
                format!("bridge {bridge}: port {port}: {shaping}, tcp checksum fill {fill}")
            }
            Change::PortMacLimit {
                bridge,
                port,
                limit,
                ..
            } => match limit {
                Some(l) => format!("bridge {bridge}: port {port}: mac_limit {l}"),
                None => format!("bridge {bridge}: port {port}: mac_limit from the bridge"),
            },
            Change::PortSetting {
                bridge,
                port,
                field,
            } => format!("bridge {bridge}: port {port}: {field} changed (port re-created)"),
        }
    }
}

fn vlan_text(v: &VlanMode) -> String {
    match v {
        VlanMode::None => "vlan_mode none".into(),
        VlanMode::Access { tag } => format!("vlan_mode access, tag {tag}"),
        VlanMode::Trunk { allowed, native } => match native {
            Some(n) => format!("vlan_mode trunk, trunks {allowed}, native_vlan {n}"),
            None => format!("vlan_mode trunk, trunks {allowed}"),
        },
    }
}

/// Give the ports of `desired` that did not ask for an ofport the number they have in `running`
/// where that number is still free, and the lowest free number otherwise. Assignment in file
/// order would renumber every later port when one is removed; OVS keeps numbers stable the same
/// way (`ofport_request` or else the number a port already has).
pub fn keep_ofports(running: &SwitchConfig, desired: &mut SwitchConfig) {
    use std::collections::HashMap;
    for b in &mut desired.bridges {
        let was: HashMap<&str, u32> = running
            .bridges
            .iter()
            .find(|o| o.name == b.name)
            .map(|o| {
                o.ports
                    .iter()
                    .map(|p| (p.name.as_str(), p.ofport))
                    .collect()
            })
            .unwrap_or_default();
        let mut taken = b.requested_ofports();
        let mut unplaced = Vec::new();
        for (i, p) in b.ports.iter_mut().enumerate() {
            if p.ofport_requested {
                continue;
            }
            match was.get(p.name.as_str()) {
                Some(&n) if !taken.contains(&n) => {
                    p.ofport = n;
                    taken.insert(n);
                }
                _ => unplaced.push(i),
            }
        }
        // The lowest free numbers, in file order (one cursor: numbers are only taken).
        let mut next = 1u32;
        for i in unplaced {
            while taken.contains(&next) {
                next += 1;
            }
            b.ports[i].ofport = next;
            taken.insert(next);
        }
    }
}

/// Everything that differs from `running` to `desired`, bridges and ports in the desired
/// configuration's order (removals first).
pub fn diff(running: &SwitchConfig, desired: &SwitchConfig) -> Vec<Change> {
    let mut out = Vec::new();
    let (a, b) = (&running.switch, &desired.switch);
    for (differs, field) in [
        (a.rundir != b.rundir, "rundir"),
        (a.pmd_cores != b.pmd_cores, "pmd_cores"),
        (a.pool_frames != b.pool_frames, "pool_frames"),
        (a.mtu != b.mtu, "mtu"),
        (
            a.stats_interval_ms != b.stats_interval_ms,
            "stats_interval_ms",
        ),
        (a.pmd_sleep_max_us != b.pmd_sleep_max_us, "pmd_sleep_max_us"),
        (
            a.upcall_rate_per_port != b.upcall_rate_per_port,
            "upcall_rate_per_port",
        ),
        (a.dpdk_eal_args != b.dpdk_eal_args, "dpdk_eal_args"),
    ] {
        if differs {
            out.push(Change::Switch { field });
        }
    }
    for old in &running.bridges {
        if !desired.bridges.iter().any(|n| n.name == old.name) {
            out.push(Change::BridgeRemoved {
                bridge: old.name.clone(),
            });
        }
    }
    for new in &desired.bridges {
        match running.bridges.iter().find(|o| o.name == new.name) {
            None => out.push(Change::BridgeAdded {
                bridge: new.name.clone(),
            }),
            Some(old) => bridge_diff(old, new, &mut out),
        }
    }
    out
}

fn bridge_diff(old: &BridgeConfig, new: &BridgeConfig, out: &mut Vec<Change>) {
    let bridge = || new.name.clone();
    let texts = |b: &BridgeConfig| b.flows.iter().map(|f| f.text.clone()).collect::<Vec<_>>();
    for (differs, field) in [
        (old.datapath_id != new.datapath_id, "datapath_id"),
        (texts(old) != texts(new), "flows"),
        (old.ofp_listen != new.ofp_listen, "ofp_listen"),
        (old.controllers != new.controllers, "controllers"),
        (old.fail_mode != new.fail_mode, "fail_mode"),
    ] {
        if differs {
            out.push(Change::BridgeSetting {
                bridge: bridge(),
                field,
            });
        }
    }
    if old.mac_aging_secs != new.mac_aging_secs {
        out.push(Change::MacAging {
            bridge: bridge(),
            secs: new.mac_aging_secs,
        });
    }
    if old.mac_limit != new.mac_limit {
        out.push(Change::MacLimit {
            bridge: bridge(),
            limit: new.mac_limit,
        });
    }
    let by_name = |ports: &'_ [PortConfig]| -> std::collections::HashMap<String, usize> {
        ports
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect()
    };
    let (old_names, new_names) = (by_name(&old.ports), by_name(&new.ports));
    for p in &old.ports {
        if !new_names.contains_key(&p.name) {
            out.push(Change::PortRemoved {
                bridge: bridge(),
                port: p.name.clone(),
            });
        }
    }
    for p in &new.ports {
        match old_names.get(&p.name).map(|&i| &old.ports[i]) {
            None => out.push(Change::PortAdded {
                bridge: bridge(),
                port: p.name.clone(),
            }),
            Some(o) => port_diff(&new.name, o, p, out),
        }
    }
}

fn port_diff(bridge: &str, old: &PortConfig, new: &PortConfig, out: &mut Vec<Change>) {
    let (b, p) = (bridge.to_string(), new.name.clone());
    for (differs, field) in [
        (old.kind != new.kind, "kind"),
        (old.interface != new.interface, "interface"),
        (old.ofport != new.ofport, "ofport"),
        (old.rxq != new.rxq, "rxq"),
        // Re-opened with the new MTU (a DPDK or vhost device is set up for it at open).
        (old.mtu != new.mtu, "mtu"),
        (old.backend != new.backend, "backend settings"),
    ] {
        if differs {
            out.push(Change::PortSetting {
                bridge: b.clone(),
                port: p.clone(),
                field,
            });
        }
    }
    if old.vlan != new.vlan {
        out.push(Change::PortVlan {
            bridge: b.clone(),
            port: p.clone(),
            vlan: Box::new(new.vlan.clone()),
        });
    }
    if old.policing != new.policing {
        out.push(Change::PortPolicing {
            bridge: b.clone(),
            port: p.clone(),
            policing: new.policing,
        });
    }
    if old.qos != new.qos || old.tcp_checksum_fill != new.tcp_checksum_fill {
        out.push(Change::PortEgress {
            bridge: b.clone(),
            port: p.clone(),
            qos: new.qos.clone(),
            tcp_checksum_fill: new.tcp_checksum_fill,
        });
    }
    if old.mac_limit != new.mac_limit {
        out.push(Change::PortMacLimit {
            bridge: b,
            port: p,
            ofport: new.ofport,
            limit: new.mac_limit,
        });
    }
}
