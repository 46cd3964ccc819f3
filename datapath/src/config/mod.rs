//! The switch's desired configuration, as every front end produces it (the file and the
//! Open_vSwitch database front ends in `dvs-switchd`): typed and validated, free of any file or
//! database format. `reconfig` diffs it against the running one and applies the difference.
//!
//! Each bridge, port and flow keeps the [`Location`] it came from (a file line, a database
//! row), so that an error found later (a flow that does not parse, a port that does not open)
//! names it the way the front end's own errors do, with [`ConfigError::at`] or
//! [`FlowLine::error`].

mod backend;
mod ofp;
mod qos;
mod vlanset;

pub use backend::{Backend, VhostRole, XdpMode};
pub use ofp::{
    parse_controller, parse_fail_mode, parse_listen, FailMode, OfpController, OfpListen, SslFiles,
    DEFAULT_CONTROLLER_PORT,
};
pub use qos::{ShaperConfig, DEFAULT_QUEUE_PACKETS, MAX_QUEUE};
pub use vlanset::{VlanSet, VlanSetError, VLAN_MAX, VLAN_MIN};

use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// Where something was written: file, line (1-based) and dotted field path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The file (as given, or joined with the config file's directory).
    pub file: PathBuf,
    /// Line number, 1-based.
    pub line: usize,
    /// Field path such as `bridge[0].port[1].tag` (empty for pure syntax errors).
    pub field: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)?;
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        Ok(())
    }
}

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{location}: {message}")]
    Syntax {
        /// Where.
        location: Location,
        /// The parser's message.
        message: String,
    },
    /// A value is wrong (range, consistency, unknown key, a flow the caller could not parse...).
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// An error about the value at `location` (for callers validating further, e.g. flows).
    pub fn at(location: Location, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            location,
            message: message.into(),
        }
    }

    /// Where the error is, if it is about the file's content.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Syntax { location, .. } | ConfigError::Invalid { location, .. } => {
                Some(location)
            }
        }
    }
}

/// A validated switch configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwitchConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// `[switch]`.
    pub switch: SwitchSection,
    /// `[[bridge]]` in file order.
    pub bridges: Vec<BridgeConfig>,
}

/// Switch-wide settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwitchSection {
    /// Run directory (absolute, or relative to the working directory if the config path was).
    pub rundir: PathBuf,
    /// One PMD thread per entry, pinned to that core.
    pub pmd_cores: Vec<usize>,
    /// Packet buffers per PMD.
    pub pool_frames: u32,
    /// Largest frame payload, switch-wide (576..9000).
    pub mtu: u32,
    /// Statistics refresh interval in milliseconds (0 = off).
    pub stats_interval_ms: u64,
    /// Longest nap of an idle PMD in microseconds (0 = never sleep, the default; max 10000).
    pub pmd_sleep_max_us: u64,
    /// New-flow upcalls per second each ingress port may cause on each PMD (0 = unlimited);
    /// packets of new flows over it are dropped as `upcall_limited` (see `upcall`).
    pub upcall_rate_per_port: u32,
    /// DPDK EAL arguments (used only when a `dpdk` port exists; empty = the switch's defaults).
    pub dpdk_eal_args: Vec<String>,
    /// Plain-TCP OpenFlow listeners (`ptcp:`) may bind non-loopback addresses (logged as a
    /// warning; `pssl:` listeners need no such permission).
    pub remote_openflow: bool,
    /// The switch's TLS key, certificate and CA certificate (`ssl_private_key`,
    /// `ssl_certificate`, `ssl_ca_cert`; the database's `SSL` row), which `pssl:` listeners
    /// and `ssl:` controllers use. Front ends attach them to those targets too
    /// ([`OfpListen::with_ssl`]).
    pub ssl: Option<SslFiles>,
    /// The group that may use the control and management sockets (mode 0660 instead of
    /// 0600), by name.
    pub socket_group: Option<String>,
}

/// One bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BridgeConfig {
    /// Bridge name (unique).
    pub name: String,
    /// OpenFlow datapath id.
    pub datapath_id: u64,
    /// Learned MAC lifetime in seconds (0 = never expires).
    pub mac_aging_secs: u64,
    /// Default per-port learned-MAC limit (0 = unlimited).
    pub mac_limit: usize,
    /// Static flows, `flows` first then `flows_file`, unparsed.
    pub flows: Vec<FlowLine>,
    /// Extra OpenFlow listeners (`ofp_listen`), besides `<rundir>/<bridge>.mgmt`.
    pub ofp_listen: Vec<OfpListen>,
    /// Controllers the switch connects to (`controllers`), in file order.
    pub controllers: Vec<OfpController>,
    /// What the bridge does while no controller is connected (`fail_mode`).
    pub fail_mode: FailMode,
    /// Ports in file order.
    pub ports: Vec<PortConfig>,
    /// The `[[bridge]]` header.
    pub location: Location,
}

impl BridgeConfig {
    /// The OpenFlow numbers its ports ask for explicitly.
    pub fn requested_ofports(&self) -> std::collections::HashSet<u32> {
        self.ports
            .iter()
            .filter(|p| p.ofport_requested)
            .map(|p| p.ofport)
            .collect()
    }
}

/// One static flow, in ovs-ofctl syntax, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowLine {
    /// The flow text, trimmed.
    pub text: String,
    /// Its array element in the config, or its line in `flows_file`.
    pub source: Location,
}

impl FlowLine {
    /// An error about this flow, located at it.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::at(self.source.clone(), message)
    }
}

/// Port I/O backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortKind {
    /// An existing kernel interface, through an AF_PACKET socket.
    AfPacket,
    /// A TAP device created by the switch.
    Tap,
    /// In-memory port for tests.
    Mock,
    /// A VM's virtio-net device over vhost-user.
    Vhost,
    /// A DPDK ethdev (PCI NIC or vdev).
    Dpdk,
    /// An existing kernel interface, through an AF_XDP socket.
    AfXdp,
}

impl PortKind {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PortKind::AfPacket => "afpacket",
            PortKind::Tap => "tap",
            PortKind::Mock => "mock",
            PortKind::Vhost => "vhost",
            PortKind::Dpdk => "dpdk",
            PortKind::AfXdp => "afxdp",
        }
    }

    /// The kind named `s` (as the file writes it).
    pub fn from_name(s: &str) -> Option<PortKind> {
        match s {
            "afpacket" => Some(PortKind::AfPacket),
            "tap" => Some(PortKind::Tap),
            "mock" => Some(PortKind::Mock),
            "vhost" => Some(PortKind::Vhost),
            "dpdk" => Some(PortKind::Dpdk),
            "afxdp" => Some(PortKind::AfXdp),
            _ => None,
        }
    }
}

impl fmt::Display for PortKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A port's VLAN behaviour.
// The trunk bitmap is kept inline (512 bytes) on purpose: ingress admission reads it for every
// tagged frame, and a Box would add a pointer chase there; there is one VlanMode per port.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "vlan_mode", rename_all = "lowercase")]
pub enum VlanMode {
    /// No VLAN processing: every frame is accepted as is.
    None,
    /// One VLAN, untagged on the wire.
    Access {
        /// The VLAN.
        tag: u16,
    },
    /// Tagged VLANs in `allowed`; untagged frames belong to `native` (which is in `allowed`).
    Trunk {
        /// Allowed VLANs (includes `native`).
        #[serde(rename = "trunks")]
        allowed: VlanSet,
        /// The untagged VLAN, if any.
        #[serde(rename = "native_vlan")]
        native: Option<u16>,
    },
}

impl VlanMode {
    /// The config spelling of the mode (`none`, `access`, `trunk`).
    pub fn name(&self) -> &'static str {
        match self {
            VlanMode::None => "none",
            VlanMode::Access { .. } => "access",
            VlanMode::Trunk { .. } => "trunk",
        }
    }
}

/// One port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortConfig {
    /// Port name (unique switch-wide).
    pub name: String,
    /// Backend.
    pub kind: PortKind,
    /// Kernel interface (defaults to the port name).
    pub interface: String,
    /// OpenFlow port number (explicit or auto-assigned).
    pub ofport: u32,
    /// `ofport` was written in the file (else it was assigned, and a reload keeps the number the
    /// running port has).
    pub ofport_requested: bool,
    /// VLAN mode.
    pub vlan: VlanMode,
    /// Per-port learned-MAC limit overriding the bridge's (0 = unlimited).
    pub mac_limit: Option<usize>,
    /// Number of receive queues (vhost: queue pairs).
    pub rxq: u16,
    /// Largest payload (frame minus Ethernet header and VLAN tags) the port receives or
    /// transmits; bigger frames are dropped as `too_big`. At most the switch's `mtu`, which
    /// sizes the packet buffers.
    pub mtu: u32,
    /// Ingress policing: what the port may send into the switch (`None`: no limit).
    pub policing: Option<Policing>,
    /// Egress shaping: what the switch sends on the port is queued and paced (`None`: sent
    /// as it comes).
    pub qos: Option<ShaperConfig>,
    /// Recompute the TCP checksum of every TCP segment sent on the port.
    pub tcp_checksum_fill: bool,
    /// Backend-specific settings.
    pub backend: Backend,
    /// The `[[bridge.port]]` header.
    pub location: Location,
}

/// An ingress policer, with OVS's `ingress_policing_rate`/`_burst` meaning: traffic received on
/// the port above `rate_kbps` is dropped, with bursts of up to `burst_kb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Policing {
    /// Rate in kb/s (1000 bits per second), at least 1.
    pub rate_kbps: u32,
    /// Bucket size in kb.
    pub burst_kb: u32,
}

impl Policing {
    /// OVS's default burst when none is given (`ingress_policing_burst` 0): 8000 kb.
    pub const DEFAULT_BURST_KB: u32 = 8000;

    /// The policer for `rate_kbps` (0: none) and `burst_kb` (0: the default).
    pub fn new(rate_kbps: u32, burst_kb: u32) -> Option<Policing> {
        (rate_kbps > 0).then_some(Policing {
            rate_kbps,
            burst_kb: if burst_kb == 0 {
                Self::DEFAULT_BURST_KB
            } else {
                burst_kb
            },
        })
    }
}

/// The CPUs this process may run on (its affinity mask), ascending.
pub fn usable_cores() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 = the calling thread; `set` is a writable cpu_set_t of exactly the size passed.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc == 0 {
        let max = libc::CPU_SETSIZE as usize;
        // SAFETY: CPU_ISSET reads one bit of `set`; every index is below CPU_SETSIZE.
        (0..max)
            .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
            .collect()
    } else {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        (0..n).collect()
    }
}
