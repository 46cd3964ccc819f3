//! The dvsm <-> agent protocol: JSON-RPC 2.0, one JSON object per line, over TCP (TLS when
//! certificates are configured).
//!
//! The agent speaks first:
//! 1. `register` ([`Register`]: host name, token, facts, and the revision it last applied, if
//!    any). The answer ([`Registered`]) is either the full share (`full: true`: replace what you
//!    hold) or, when dvsm still knows what this agent held at `since`, only the changes.
//! 2. dvsm then sends `update` notifications ([`Update`]) whenever the host's share changes.
//! 3. After applying a revision the agent sends an `ack` notification ([`Ack`]) with any
//!    per-object apply errors; every second it sends `heartbeat`; every few seconds, and when
//!    something changed, `status` ([`Status`]: per-port link and counters).
//!
//! dvsm closes a session that has been silent for [`SILENT_AFTER_MS`]; the agent reconnects
//! with exponential backoff and registers again with its last revision.
//!
//! Lines longer than [`LINE_MAX`] are a protocol error (a full share of 4,096 ports is well
//! under it).

use crate::model::Key;
use crate::objects::HostFacts;
use crate::share::Change;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default TCP port of dvsm's agent listener.
pub const AGENT_PORT: u16 = 6680;
/// Default TCP port of dvsm's REST API.
pub const API_PORT: u16 = 6681;
/// Longest line either side accepts.
pub const LINE_MAX: usize = 64 << 20;
/// Agent heartbeat interval.
pub const HEARTBEAT_MS: u64 = 1000;
/// dvsm marks an agent disconnected after this much silence.
pub const SILENT_AFTER_MS: u64 = 5000;

/// Method names.
pub mod method {
    /// Agent -> dvsm request.
    pub const REGISTER: &str = "register";
    /// dvsm -> agent notification.
    pub const UPDATE: &str = "update";
    /// Agent -> dvsm notification.
    pub const ACK: &str = "ack";
    /// Agent -> dvsm notification.
    pub const HEARTBEAT: &str = "heartbeat";
    /// Agent -> dvsm notification.
    pub const STATUS: &str = "status";
}

/// `register` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    /// The host this agent runs on.
    pub host: String,
    /// Its token (issued when the host was created).
    pub token: String,
    /// What the agent found on its host.
    #[serde(default)]
    pub facts: HostFacts,
    /// The last revision it applied (absent after a fresh start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}

/// `register` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// Revision of the state sent.
    pub revision: u64,
    /// `true`: `changes` is the whole share (drop anything else); `false`: apply `changes` to
    /// what you held at `since`.
    pub full: bool,
    /// The objects.
    pub changes: Vec<Change>,
}

/// `update` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// Revision after these changes.
    pub revision: u64,
    /// What changed in this host's share.
    pub changes: Vec<Change>,
}

/// An object the agent could not apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyError {
    /// Which object.
    pub key: Key,
    /// Why (e.g. "NIC eth9 does not exist").
    pub message: String,
}

/// `ack` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The revision now applied.
    pub revision: u64,
    /// Objects that could not be applied (the rest were).
    #[serde(default)]
    pub errors: Vec<ApplyError>,
}

/// A port's live state on its host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortStatus {
    /// Link up.
    pub link: bool,
    /// OpenFlow port number, when plugged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ofport: Option<u32>,
    /// Counters as the switch reports them (`rx_packets`, `tx_bytes`, `rx_dropped`...).
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
    /// Packets the switch dropped from this port, by reason (`ip_spoof`, `dhcp_server`,
    /// `broadcast_suppressed`, `src_mac_multicast`...; only reasons seen, see the agent's layout).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub drops: BTreeMap<String, u64>,
    /// Why it is not working, if it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `status` params.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// By port id.
    #[serde(default)]
    pub ports: BTreeMap<String, PortStatus>,
    /// By uplink name.
    #[serde(default)]
    pub uplinks: BTreeMap<String, PortStatus>,
    /// Revision applied.
    pub revision: u64,
}
