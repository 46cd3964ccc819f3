//! The host's share, read as the switch configuration it asks for: one bridge per DVS, the
//! uplink and the VM ports of each, with their interface types, VLAN settings and the
//! `external_ids` that mark them as the agent's.
//!
//! This is pure (no I/O but the `nic_exists` probe the caller passes in), so the rules are
//! unit-tested without a switch. What cannot be applied becomes a per-object error, never a
//! failure of the whole plan: a bond uplink, a NIC that does not exist, a port whose port group
//! is missing, a vhost-user server socket dvs-switchd cannot create at the requested path, two
//! objects wanting one interface name. Everything else still applies.
//!
//! Naming: the bridge is the DVS's name; an uplink's Port and Interface are named after its NIC;
//! a Linux-backed VM port after its interface; a vhost-user client port `vhu-<port id>`; a
//! vhost-user server port after its socket file, because dvs-switchd (like OVS) creates a
//! `dpdkvhostuser` socket as `<rundir>/<interface name>`: a server socket elsewhere cannot be
//! honoured.

use proto::objects::{Backend, Dvs, Port, PortGroup, Qos, Suppression, Uplink, VlanPolicy};
use proto::{Key, Kind, Object, Share};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

/// `external_ids:dvs-owner` value on every row the agent manages.
pub const OWNER: &str = "dvs-agent";
/// Longest Port/Interface name dvs-switchd accepts.
const PORT_NAME_MAX: usize = 64;

/// What a switch port is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// A VM NIC: its port id and MAC.
    Vm {
        /// Port id (`iface-id`).
        id: String,
        /// MAC, lower-case `xx:xx:xx:xx:xx:xx`.
        mac: String,
    },
    /// The DVS's uplink: its name.
    Uplink {
        /// Uplink name.
        name: String,
    },
}

/// VLAN settings of a Port row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortVlan {
    /// `tag` (access).
    pub tag: Option<u16>,
    /// `trunks` (trunk), sorted.
    pub trunks: Vec<u16>,
    /// `vlan_mode`.
    pub mode: &'static str,
}

impl PortVlan {
    fn trunk(vlans: &proto::VlanRanges) -> PortVlan {
        PortVlan {
            tag: None,
            trunks: vlans.ranges().iter().flat_map(|&(a, b)| a..=b).collect(),
            mode: "trunk",
        }
    }
}

/// One switch port (a Port row with one Interface row of the same name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortPlan {
    /// Port and Interface name.
    pub name: String,
    /// The share object it comes from.
    pub key: Key,
    /// VM port or uplink.
    pub role: Role,
    /// `Interface.type`.
    pub iface_type: &'static str,
    /// `Interface.options`.
    pub options: BTreeMap<String, String>,
    /// `Port.tag`, `trunks`, `vlan_mode`.
    pub vlan: PortVlan,
    /// The port group's security and QoS settings (VM ports; all off for an uplink).
    pub policy: PortPolicy,
}

/// What a VM port's port group asks of its traffic (compiled by [`crate::policy`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortPolicy {
    /// The port group's name.
    pub group: String,
    /// The port's addresses (bound when `ip_mac_binding`).
    pub ips: Vec<IpAddr>,
    /// Only the port's MAC and IPs may be sent from.
    pub ip_mac_binding: bool,
    /// No DHCP server or router advertisement from the VM.
    pub dhcp_isolation: bool,
    /// Broadcast threshold.
    pub broadcast: Option<Suppression>,
    /// What the VM may send.
    pub qos_in: Option<Qos>,
    /// What the VM may receive.
    pub qos_out: Option<Qos>,
    /// Fill TCP checksums towards the VM.
    pub tcp_checksum_fill: bool,
}

impl PortPolicy {
    fn of(g: &PortGroup, p: &Port) -> PortPolicy {
        PortPolicy {
            group: g.name.clone(),
            ips: p.ips.iter().filter_map(|a| a.parse().ok()).collect(),
            ip_mac_binding: g.ip_mac_binding,
            dhcp_isolation: g.dhcp_isolation,
            broadcast: g.broadcast_suppression.clone(),
            qos_in: g.qos_in.clone(),
            qos_out: g.qos_out.clone(),
            tcp_checksum_fill: g.tcp_checksum_fill,
        }
    }
}

impl PortPlan {
    /// The `external_ids` of its Port and Interface rows.
    pub fn external_ids(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("dvs-owner".to_string(), OWNER.to_string());
        match &self.role {
            Role::Vm { id, mac } => {
                m.insert("dvs-role".into(), "vm".into());
                m.insert("iface-id".into(), id.clone());
                m.insert("attached-mac".into(), mac.clone());
            }
            Role::Uplink { name } => {
                m.insert("dvs-role".into(), "uplink".into());
                m.insert("dvs-uplink".into(), name.clone());
            }
        }
        m
    }
}

/// One bridge (a DVS on this host).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgePlan {
    /// The DVS (and bridge) name.
    pub dvs: String,
    /// Its ports by name.
    pub ports: BTreeMap<String, PortPlan>,
    /// The DVS's MTU (every interface's `mtu_request`).
    pub mtu: u32,
    /// The uplink's egress shaping rate on this host, kbit/s.
    pub egress_kbps: Option<u64>,
}

impl BridgePlan {
    /// The `external_ids` of its Bridge row.
    pub fn external_ids(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("dvs-owner".to_string(), OWNER.to_string());
        m.insert("dvs-dvs".to_string(), self.dvs.clone());
        m
    }
}

/// The whole desired configuration, and what could not be planned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Bridges by DVS name.
    pub bridges: BTreeMap<String, BridgePlan>,
    /// Objects that cannot be applied, with why.
    pub errors: BTreeMap<Key, String>,
}

/// What the plan needs to know about the host.
pub struct HostView<'a> {
    /// Whether a kernel interface exists.
    pub nic_exists: &'a dyn Fn(&str) -> bool,
    /// dvs-switchd's run directory (where it creates `dpdkvhostuser` sockets).
    pub rundir: &'a Path,
}

/// Plan `share` for this host.
pub fn plan(share: &Share, host: &HostView<'_>) -> Plan {
    let mut out = Plan::default();
    let mut groups: BTreeMap<&str, &PortGroup> = BTreeMap::new();
    let mut uplinks: Vec<&Uplink> = Vec::new();
    let mut ports: Vec<&Port> = Vec::new();
    for s in share.values() {
        match &s.object {
            Object::Dvs(d) => {
                out.bridges.insert(d.name.clone(), bridge(d));
            }
            Object::PortGroup(g) => {
                groups.insert(&g.name, g);
            }
            Object::Uplink(u) => uplinks.push(u),
            Object::Port(p) => ports.push(p),
            Object::Host(_) | Object::SecurityGroup(_) => {}
        }
    }
    let pools: BTreeMap<String, proto::VlanRanges> = share
        .values()
        .filter_map(|s| match &s.object {
            Object::Dvs(d) => Some((d.name.clone(), d.vlan_pool.clone())),
            _ => None,
        })
        .collect();
    // Interface names taken so far (one interface cannot be in two ports).
    let mut taken: BTreeMap<String, Key> = BTreeMap::new();
    let mut claim = |name: &str, key: &Key, errors: &mut BTreeMap<Key, String>| -> bool {
        if let Some(other) = taken.get(name) {
            errors.insert(
                key.clone(),
                format!("interface {name} is already used by {other}"),
            );
            return false;
        }
        taken.insert(name.to_string(), key.clone());
        true
    };
    let mut with_uplink = BTreeSet::new();
    for u in uplinks {
        let key = Key::new(Kind::Uplink, &u.name);
        let Some(pool) = pools.get(&u.dvs) else {
            out.errors
                .insert(key, format!("DVS {} is not in this host's share", u.dvs));
            continue;
        };
        if u.bond.is_some() {
            out.errors.insert(key, "bonds are not supported yet".into());
            continue;
        }
        let Some(nic) = u.nic.as_deref() else {
            out.errors.insert(key, "the uplink has no NIC".into());
            continue;
        };
        if !with_uplink.insert(u.dvs.clone()) {
            out.errors.insert(
                key,
                format!("DVS {} already has an uplink on this host", u.dvs),
            );
            continue;
        }
        if !(host.nic_exists)(nic) {
            out.errors.insert(key, format!("NIC {nic} does not exist"));
            continue;
        }
        if !claim(nic, &key, &mut out.errors) {
            continue;
        }
        let p = PortPlan {
            name: nic.to_string(),
            key,
            role: Role::Uplink {
                name: u.name.clone(),
            },
            iface_type: "system",
            options: BTreeMap::new(),
            vlan: PortVlan::trunk(pool),
            policy: PortPolicy::default(),
        };
        if let Some(b) = out.bridges.get_mut(&u.dvs) {
            b.egress_kbps = u.egress_kbps;
            b.ports.insert(p.name.clone(), p);
        }
    }
    for p in ports {
        let key = Key::new(Kind::Port, &p.id);
        let Some(g) = groups.get(p.port_group.as_str()) else {
            out.errors.insert(
                key,
                format!("port group {} is not in this host's share", p.port_group),
            );
            continue;
        };
        if !out.bridges.contains_key(&g.dvs) {
            out.errors
                .insert(key, format!("DVS {} is not in this host's share", g.dvs));
            continue;
        }
        let vlan = match &g.vlan {
            VlanPolicy::Access { vlan } => PortVlan {
                tag: Some(*vlan),
                trunks: Vec::new(),
                mode: "access",
            },
            VlanPolicy::Trunk { vlans } => PortVlan::trunk(vlans),
        };
        let (name, iface_type, options) = match backend(p, host) {
            Ok(b) => b,
            Err(e) => {
                out.errors.insert(key, e);
                continue;
            }
        };
        if !claim(&name, &key, &mut out.errors) {
            continue;
        }
        let mac = p.mac_bytes();
        let plan = PortPlan {
            name: name.clone(),
            key,
            role: Role::Vm {
                id: p.id.clone(),
                mac: mac_text(mac),
            },
            iface_type,
            options,
            vlan,
            policy: PortPolicy::of(g, p),
        };
        if let Some(b) = out.bridges.get_mut(&g.dvs) {
            b.ports.insert(name, plan);
        }
    }
    out
}

fn bridge(d: &Dvs) -> BridgePlan {
    BridgePlan {
        dvs: d.name.clone(),
        ports: BTreeMap::new(),
        mtu: d.mtu,
        egress_kbps: None,
    }
}

/// A MAC as lower-case text.
pub fn mac_text(m: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

type Backed = (String, &'static str, BTreeMap<String, String>);

/// A VM port's interface name, type and options.
fn backend(p: &Port, host: &HostView<'_>) -> Result<Backed, String> {
    match &p.backend {
        Backend::Linux { interface } => {
            if !(host.nic_exists)(interface) {
                return Err(format!("interface {interface} does not exist"));
            }
            Ok((interface.clone(), "system", BTreeMap::new()))
        }
        Backend::VhostUser { socket, role } if role == "server" => {
            let path = Path::new(socket);
            let (dir, file) = match (path.parent(), path.file_name().and_then(|f| f.to_str())) {
                (Some(d), Some(f)) => (d, f),
                _ => return Err(format!("vhost-user socket {socket} has no file name")),
            };
            if dir != host.rundir || file.len() > PORT_NAME_MAX || file == "." || file == ".." {
                return Err(format!(
                    "vhost-user server socket {socket} cannot be honoured: dvs-switchd creates \
                     server sockets as {}/<interface name> (at most {PORT_NAME_MAX} bytes)",
                    host.rundir.display()
                ));
            }
            Ok((file.to_string(), "dpdkvhostuser", BTreeMap::new()))
        }
        Backend::VhostUser { socket, .. } => {
            let name = format!("vhu-{}", p.id);
            if name.len() > PORT_NAME_MAX {
                return Err(format!(
                    "port id {} is too long for an interface name ({PORT_NAME_MAX} bytes with \
                     the vhu- prefix)",
                    p.id
                ));
            }
            let mut o = BTreeMap::new();
            o.insert("vhost-server-path".to_string(), socket.clone());
            Ok((name, "dpdkvhostuserclient", o))
        }
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
