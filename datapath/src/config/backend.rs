//! Backend-specific port settings: what each port kind needs beyond its interface (a vhost-user
//! socket and role, DPDK device arguments, an AF_XDP mode and queue).

use serde::Serialize;
use std::path::PathBuf;

/// Which side of a vhost-user socket the switch takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VhostRole {
    /// The switch listens; the VM (QEMU) connects.
    Server,
    /// The VM (QEMU) listens; the switch connects and reconnects (the recommended mode: the
    /// switch can restart without the VM noticing more than a link flap).
    Client,
}

/// XDP attach mode for an AF_XDP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum XdpMode {
    /// Native (driver) mode if it works, else generic.
    Auto,
    /// Driver mode only.
    Native,
    /// Generic (SKB) mode.
    Generic,
}

/// Settings that only some port kinds have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub enum Backend {
    /// afpacket, tap and mock ports: nothing beyond the interface.
    Plain,
    /// A vhost-user VM port.
    Vhost {
        /// Unix socket path.
        socket: PathBuf,
        /// Our side of the socket.
        role: VhostRole,
        /// The VM's MAC, if the operator gave it: shown with the port. The guest's MAC itself
        /// is set where the VM is defined (QEMU's `-device virtio-net-pci,mac=`).
        mac: Option<[u8; 6]>,
    },
    /// A DPDK port.
    Dpdk {
        /// Device arguments: a PCI address or a vdev string (`net_tap0,iface=x`).
        devargs: String,
    },
    /// An AF_XDP port.
    AfXdp {
        /// Attach mode.
        mode: XdpMode,
        /// The interface queue the socket binds to.
        queue: u32,
    },
}
