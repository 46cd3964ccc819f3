//! The objects an administrator manages, as PRODUCT.md describes them, and the rules each one
//! obeys on its own (field formats and ranges). Rules between objects live in [`crate::model`].
//!
//! Every struct refuses unknown fields, so a misspelt field in an API call is a 400 naming it
//! rather than a silently ignored setting. Optional settings default to "off".

use crate::error::RuleError;
use crate::vlan::VlanRanges;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Longest object name.
pub const NAME_MAX: usize = 64;
/// Longest DVS name: it is the bridge name on each host, and the agent keeps bridge names to
/// what a Linux interface could be called.
pub const DVS_NAME_MAX: usize = 15;

/// Check an object name: 1..=`max` bytes of `A-Z a-z 0-9 _ . -`, starting with a letter or digit.
pub fn check_name(field: &str, name: &str, max: usize) -> Result<(), RuleError> {
    if name.is_empty() || name.len() > max {
        return Err(RuleError::invalid(
            field,
            format!("{name:?} must be 1 to {max} characters"),
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(RuleError::invalid(
            field,
            format!(
                "{name:?} may hold only letters, digits, '_', '.' and '-', and must start \
                 with a letter or digit"
            ),
        ));
    }
    Ok(())
}

/// One NIC as the agent found it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nic {
    /// Interface name (or DPDK device).
    pub name: String,
    /// Speed in Mbit/s, 0 when unknown.
    #[serde(default)]
    pub speed_mbps: u64,
    /// `kernel`, `dpdk`, `afxdp`...
    #[serde(default)]
    pub kind: String,
    /// Link up.
    #[serde(default)]
    pub link: bool,
}

/// What an agent reports about its host when it registers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostFacts {
    /// NICs that could be uplinks.
    #[serde(default)]
    pub nics: Vec<Nic>,
    /// Cores the switch polls on.
    #[serde(default)]
    pub pmd_cores: Vec<u32>,
    /// Hugepage memory in MiB.
    #[serde(default)]
    pub hugepages_mb: u64,
    /// Component versions (`agent`, `switchd`...).
    #[serde(default)]
    pub versions: BTreeMap<String, String>,
}

/// A compute host. The administrator creates it (which issues the agent's token); the agent
/// fills in its facts when it registers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// Host name (unique).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

impl Host {
    /// Field rules.
    pub fn check(&self) -> Result<(), RuleError> {
        check_name("name", &self.name, NAME_MAX)
    }
}

/// Jumbo-frame policy of a DVS.
pub const MTUS: [u32; 2] = [1500, 9000];

/// A distributed virtual switch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dvs {
    /// Name (unique; the bridge name on every host).
    pub name: String,
    /// VLANs its port groups may use.
    pub vlan_pool: VlanRanges,
    /// 1500 or 9000.
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// Member hosts.
    #[serde(default)]
    pub hosts: Vec<String>,
}

fn default_mtu() -> u32 {
    1500
}

impl Dvs {
    /// Field rules.
    pub fn check(&self) -> Result<(), RuleError> {
        check_name("name", &self.name, DVS_NAME_MAX)?;
        if self.vlan_pool.is_empty() {
            return Err(RuleError::invalid(
                "vlan_pool",
                "must hold at least one VLAN",
            ));
        }
        if !MTUS.contains(&self.mtu) {
            return Err(RuleError::invalid(
                "mtu",
                format!("{} is not 1500 or 9000", self.mtu),
            ));
        }
        for (i, h) in self.hosts.iter().enumerate() {
            if self.hosts[..i].contains(h) {
                return Err(RuleError::invalid(
                    "hosts",
                    format!("{h:?} is listed twice"),
                ));
            }
        }
        Ok(())
    }
}

/// Bond modes (recorded now; enforced when bonding lands).
pub const BOND_MODES: [&str; 6] = [
    "active-backup",
    "balance-tcp",
    "balance-slb",
    "lacp-mac",
    "lacp-ip-port",
    "round-robin",
];

/// A bond as an uplink.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bond {
    /// Member NICs (two or more).
    pub members: Vec<String>,
    /// One of [`BOND_MODES`].
    pub mode: String,
}

/// A host's uplink into one DVS: exactly one NIC or one bond.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uplink {
    /// Name (unique).
    pub name: String,
    /// The DVS.
    pub dvs: String,
    /// The host.
    pub host: String,
    /// A single NIC...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nic: Option<String>,
    /// ...or a bond.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bond: Option<Bond>,
    /// Shape what the host sends out of this uplink to this rate, kbit/s (absent: no shaping).
    /// Ports then share it by their port group's `qos_in.priority`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_kbps: Option<u64>,
}

/// Longest Linux interface name.
pub const IFNAME_MAX: usize = 15;

fn check_ifname(field: &str, name: &str) -> Result<(), RuleError> {
    if name.is_empty()
        || name.len() > IFNAME_MAX
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(RuleError::invalid(
            field,
            format!(
                "{name:?} is not a Linux interface name (1 to {IFNAME_MAX} characters, no '/', \
                 ':' or spaces)"
            ),
        ));
    }
    Ok(())
}

impl Uplink {
    /// Field rules.
    pub fn check(&self) -> Result<(), RuleError> {
        check_name("name", &self.name, NAME_MAX)?;
        if let Some(r) = self.egress_kbps {
            if r == 0 || r > 400_000_000 {
                return Err(RuleError::invalid(
                    "egress_kbps",
                    "must be 1 to 400000000 kbit/s",
                ));
            }
        }
        match (&self.nic, &self.bond) {
            (Some(nic), None) => check_ifname("nic", nic),
            (None, Some(b)) => {
                if b.members.len() < 2 {
                    return Err(RuleError::invalid(
                        "bond.members",
                        "a bond needs at least two NICs",
                    ));
                }
                for (i, m) in b.members.iter().enumerate() {
                    check_ifname("bond.members", m)?;
                    if b.members[..i].contains(m) {
                        return Err(RuleError::invalid(
                            "bond.members",
                            format!("{m:?} is listed twice"),
                        ));
                    }
                }
                if !BOND_MODES.contains(&b.mode.as_str()) {
                    return Err(RuleError::invalid(
                        "bond.mode",
                        format!("{:?} is not one of {}", b.mode, BOND_MODES.join(", ")),
                    ));
                }
                Ok(())
            }
            _ => Err(RuleError::invalid(
                "nic",
                "an uplink is exactly one of nic or bond",
            )),
        }
    }

    /// The NICs it uses.
    pub fn nics(&self) -> Vec<&str> {
        match (&self.nic, &self.bond) {
            (Some(n), _) => vec![n.as_str()],
            (None, Some(b)) => b.members.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// How a port group's ports carry VLANs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum VlanPolicy {
    /// One VLAN, untagged towards the VM.
    Access {
        /// The VLAN.
        vlan: u16,
    },
    /// VLANs the VM tags itself.
    Trunk {
        /// Allowed VLANs.
        vlans: VlanRanges,
    },
}

impl VlanPolicy {
    /// The VLANs it uses.
    pub fn vlans(&self) -> VlanRanges {
        match self {
            VlanPolicy::Access { vlan } => VlanRanges::from_ranges(vec![(*vlan, *vlan)]),
            VlanPolicy::Trunk { vlans } => vlans.clone(),
        }
    }
}

/// A bandwidth limit in one direction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Qos {
    /// Average rate, kbit/s.
    pub average_kbps: u64,
    /// Peak rate, kbit/s (at least the average; 0: the average).
    #[serde(default)]
    pub peak_kbps: u64,
    /// Burst, kbit (0: the switch's default).
    #[serde(default)]
    pub burst_kb: u64,
    /// Bandwidth priority, 0 (lowest) to 7.
    #[serde(default)]
    pub priority: u8,
}

impl Qos {
    fn check(&self, field: &str) -> Result<(), RuleError> {
        let f = |k: &str| format!("{field}.{k}");
        if self.average_kbps == 0 || self.average_kbps > 400_000_000 {
            return Err(RuleError::invalid(
                &f("average_kbps"),
                "must be 1 to 400000000 kbit/s",
            ));
        }
        if self.peak_kbps != 0 && self.peak_kbps < self.average_kbps {
            return Err(RuleError::invalid(
                &f("peak_kbps"),
                "must be at least average_kbps",
            ));
        }
        if self.peak_kbps > 400_000_000 {
            return Err(RuleError::invalid(
                &f("peak_kbps"),
                "above 400000000 kbit/s",
            ));
        }
        if self.priority > 7 {
            return Err(RuleError::invalid(&f("priority"), "must be 0 to 7"));
        }
        Ok(())
    }
}

/// Broadcast suppression: broadcast a VM sends above the threshold is dropped. Exactly one of
/// the two thresholds is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// Threshold in packets/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pps: Option<u64>,
    /// Threshold in kbit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kbps: Option<u64>,
}

/// A port group: the properties its VM ports share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortGroup {
    /// Name (unique).
    pub name: String,
    /// Its DVS (fixed at creation).
    pub dvs: String,
    /// Access or trunk.
    pub vlan: VlanPolicy,
    /// What the VM may send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos_in: Option<Qos>,
    /// What the VM may receive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos_out: Option<Qos>,
    /// Broadcast suppression (absent: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast_suppression: Option<Suppression>,
    /// VMs may not act as DHCP servers.
    #[serde(default)]
    pub dhcp_isolation: bool,
    /// VMs may send only from their bound MAC and IPs (access port groups only).
    #[serde(default)]
    pub ip_mac_binding: bool,
    /// Fill TCP checksums towards VMs.
    #[serde(default)]
    pub tcp_checksum_fill: bool,
    /// Security group of its ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<String>,
}

impl PortGroup {
    /// Field rules.
    pub fn check(&self) -> Result<(), RuleError> {
        check_name("name", &self.name, NAME_MAX)?;
        if let VlanPolicy::Access { vlan } = self.vlan {
            if !(1..=4094).contains(&vlan) {
                return Err(RuleError::invalid(
                    "vlan.vlan",
                    format!("{vlan} is outside 1-4094"),
                ));
            }
        }
        if let VlanPolicy::Trunk { vlans } = &self.vlan {
            if vlans.is_empty() {
                return Err(RuleError::invalid("vlan.vlans", "must hold a VLAN"));
            }
        }
        if let Some(q) = &self.qos_in {
            q.check("qos_in")?;
        }
        if let Some(q) = &self.qos_out {
            q.check("qos_out")?;
        }
        if let Some(s) = &self.broadcast_suppression {
            match (s.pps, s.kbps) {
                (Some(n), None) | (None, Some(n)) if n > 0 => {}
                _ => {
                    return Err(RuleError::invalid(
                        "broadcast_suppression",
                        "set exactly one of pps or kbps, above 0",
                    ))
                }
            }
        }
        if self.ip_mac_binding && matches!(self.vlan, VlanPolicy::Trunk { .. }) {
            return Err(RuleError::invalid(
                "ip_mac_binding",
                "IP-MAC binding is only for access port groups",
            ));
        }
        Ok(())
    }
}

/// One security group rule (an allow rule; what no rule allows is dropped).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgRule {
    /// `ingress` (towards the VM) or `egress` (from the VM).
    pub direction: String,
    /// `ipv4` or `ipv6`.
    pub ethertype: String,
    /// `tcp`, `udp`, `icmp`, `icmpv6`, or absent for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// First port (tcp/udp only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_min: Option<u16>,
    /// Last port (tcp/udp only; absent: port_min).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_max: Option<u16>,
    /// Remote prefix (`10.0.0.0/8`, `2001:db8::/32`), absent for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}

/// A security group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    /// Name (unique).
    pub name: String,
    /// Its rules.
    #[serde(default)]
    pub rules: Vec<SgRule>,
}

/// Parse a prefix `addr/len`; the error says what is wrong.
pub fn parse_prefix(s: &str) -> Result<(IpAddr, u8), String> {
    let (a, l) = s.split_once('/').ok_or(format!("{s:?} is not addr/len"))?;
    let addr: IpAddr = a.parse().map_err(|_| format!("{a:?} is not an address"))?;
    let len: u8 = l.parse().map_err(|_| format!("{l:?} is not a length"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(format!("/{len} is longer than {max}"));
    }
    Ok((addr, len))
}

impl SecurityGroup {
    /// Field rules.
    pub fn check(&self) -> Result<(), RuleError> {
        check_name("name", &self.name, NAME_MAX)?;
        if self.rules.len() > 1000 {
            return Err(RuleError::invalid("rules", "at most 1000 rules"));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let f = |k: &str| format!("rules[{i}].{k}");
            if !matches!(r.direction.as_str(), "ingress" | "egress") {
                return Err(RuleError::invalid(
                    &f("direction"),
                    format!("{:?} is not ingress or egress", r.direction),
                ));
            }
            let v6 = match r.ethertype.as_str() {
                "ipv4" => false,
                "ipv6" => true,
                e => {
                    return Err(RuleError::invalid(
                        &f("ethertype"),
                        format!("{e:?} is not ipv4 or ipv6"),
                    ))
                }
            };
            let ports = matches!(r.protocol.as_deref(), Some("tcp" | "udp"));
            match r.protocol.as_deref() {
                None | Some("tcp" | "udp") => {}
                Some("icmp") if !v6 => {}
                Some("icmpv6") if v6 => {}
                Some(p) => {
                    return Err(RuleError::invalid(
                        &f("protocol"),
                        format!("{p:?} is not tcp, udp, or icmp/icmpv6 matching the ethertype"),
                    ))
                }
            }
            if !ports && (r.port_min.is_some() || r.port_max.is_some()) {
                return Err(RuleError::invalid(
                    &f("port_min"),
                    "ports need protocol tcp or udp",
                ));
            }
            if let (Some(a), Some(b)) = (r.port_min, r.port_max) {
                if a > b {
                    return Err(RuleError::invalid(&f("port_max"), "below port_min"));
                }
            }
            if r.port_max.is_some() && r.port_min.is_none() {
                return Err(RuleError::invalid(
                    &f("port_min"),
                    "port_max needs port_min",
                ));
            }
            if let Some(p) = &r.remote {
                let (addr, _) = parse_prefix(p).map_err(|e| RuleError::invalid(&f("remote"), e))?;
                if addr.is_ipv6() != v6 {
                    return Err(RuleError::invalid(
                        &f("remote"),
                        format!("{p} does not match ethertype {}", r.ethertype),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Where a VM NIC plugs in on its host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Backend {
    /// A vhost-user socket (QEMU's `-netdev vhost-user`).
    VhostUser {
        /// Socket path on the host.
        socket: String,
        /// `client` (QEMU listens, the switch connects: OVS's `dpdkvhostuserclient`) or
        /// `server` (the switch listens).
        #[serde(default = "default_role")]
        role: String,
    },
    /// A Linux interface (tap, veth) on the host.
    Linux {
        /// Interface name.
        interface: String,
    },
}

fn default_role() -> String {
    "client".into()
}

/// A MAC address as text, checked.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(format!("{s:?} is not a MAC address (xx:xx:xx:xx:xx:xx)"));
    }
    let mut m = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return Err(format!("{s:?} is not a MAC address (xx:xx:xx:xx:xx:xx)"));
        }
        m[i] = u8::from_str_radix(p, 16)
            .map_err(|_| format!("{s:?} is not a MAC address (xx:xx:xx:xx:xx:xx)"))?;
    }
    Ok(m)
}

/// A VM NIC bound to a port group on a host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Id (unique; the `iface-id` on the host).
    pub id: String,
    /// The VM it belongs to.
    #[serde(default)]
    pub vm: String,
    /// The host it runs on (changing it is a migration).
    pub host: String,
    /// Its port group.
    pub port_group: String,
    /// Its MAC.
    pub mac: String,
    /// Its addresses (bound when the port group has IP-MAC binding).
    #[serde(default)]
    pub ips: Vec<String>,
    /// How it plugs in.
    pub backend: Backend,
}

impl Port {
    /// Field rules.
    pub fn check(&self) -> Result<(), RuleError> {
        check_name("id", &self.id, NAME_MAX)?;
        if !self.vm.is_empty() {
            check_name("vm", &self.vm, NAME_MAX)?;
        }
        let mac = parse_mac(&self.mac).map_err(|e| RuleError::invalid("mac", e))?;
        if mac[0] & 1 == 1 {
            return Err(RuleError::invalid(
                "mac",
                format!("{} is a multicast address", self.mac),
            ));
        }
        if mac == [0; 6] {
            return Err(RuleError::invalid(
                "mac",
                "00:00:00:00:00:00 is not a NIC's",
            ));
        }
        let mut seen = Vec::new();
        for ip in &self.ips {
            let a: IpAddr = ip
                .parse()
                .map_err(|_| RuleError::invalid("ips", format!("{ip:?} is not an address")))?;
            if a.is_unspecified() || a.is_multicast() {
                return Err(RuleError::invalid(
                    "ips",
                    format!("{ip} cannot be a NIC's address"),
                ));
            }
            if seen.contains(&a) {
                return Err(RuleError::invalid("ips", format!("{ip} is listed twice")));
            }
            seen.push(a);
        }
        match &self.backend {
            Backend::VhostUser { socket, role } => {
                if !socket.starts_with('/') || socket.len() > 107 || socket.contains("/../") {
                    return Err(RuleError::invalid(
                        "backend.socket",
                        "must be an absolute path of at most 107 bytes without '..'",
                    ));
                }
                if !matches!(role.as_str(), "client" | "server") {
                    return Err(RuleError::invalid(
                        "backend.role",
                        format!("{role:?} is not client or server"),
                    ));
                }
            }
            Backend::Linux { interface } => check_ifname("backend.interface", interface)?,
        }
        Ok(())
    }

    /// The MAC as bytes (checked by [`Port::check`]).
    pub fn mac_bytes(&self) -> [u8; 6] {
        parse_mac(&self.mac).unwrap_or_default()
    }
}
