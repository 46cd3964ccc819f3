//! What the engine tells whoever serves a bridge to the outside (the daemon's OpenFlow server):
//! a member came, went or changed link state, and flows left the tables (timeouts, deletes).
//!
//! The engine knows nothing of OpenFlow sessions: each bridge in service carries an
//! `Arc<dyn BridgeEvents>` next to it, set by the [`super::BridgeRuntime`] that serves it, and
//! [`Quiet`] when nothing does (a switch built without an OpenFlow server, as in tests, or a
//! bridge between its creation and the server's start). Calls come from the control thread and
//! the housekeeping thread, never from a PMD, so an implementation may take locks and write to
//! sockets, but should not block for long: housekeeping (expiry, MAC aging) waits for it.

use crate::bridge::Bridge;
use flowtable::pipeline::{FlowEntry, RemovedReason};
use std::any::Any;
use std::sync::Arc;

/// What happened to a bridge member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortChange {
    /// It joined the bridge.
    Added,
    /// It left the bridge (sent while it is still in the bridge's view).
    Deleted,
    /// Its link went up or down.
    Modified,
}

/// Receives a bridge's events.
pub trait BridgeEvents: Send + Sync {
    /// Member `ofport` was added, is being deleted, or changed link state.
    fn port_changed(&self, change: PortChange, ofport: u32);
    /// These flows left the tables, each for its reason.
    fn flows_removed(&self, removed: &[(Arc<FlowEntry>, RemovedReason)]);
    /// The bridge is no longer served by this receiver (it was removed, or its OpenFlow side is
    /// being replaced): drop whatever connections it holds.
    fn close(&self);
    /// For the daemon, to reach its own type behind the trait object.
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

/// Nobody listening.
pub struct Quiet;

impl BridgeEvents for Quiet {
    fn port_changed(&self, _: PortChange, _: u32) {}
    fn flows_removed(&self, _: &[(Arc<FlowEntry>, RemovedReason)]) {}
    fn close(&self) {}
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// A bridge in service and who hears its events.
#[derive(Clone)]
pub struct Served {
    /// The bridge.
    pub bridge: Arc<Bridge>,
    /// Its receiver.
    pub events: Arc<dyn BridgeEvents>,
}

impl Served {
    /// `bridge`, not served yet.
    pub fn quiet(bridge: Arc<Bridge>) -> Served {
        Served {
            bridge,
            events: Arc::new(Quiet),
        }
    }
}
