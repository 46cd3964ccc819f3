//! Per-bridge OpenFlow state shared by every connection: the connection list (for asynchronous
//! messages such as FLOW_REMOVED), controller roles with the master election generation id, and
//! the port config bits set through PORT_MOD.
//!
//! Each connection's write half sits behind its own mutex, so a FLOW_REMOVED produced by the
//! housekeeping thread or by a delete on another connection interleaves with replies at message
//! boundaries only. Writes have a timeout: a controller that stops reading loses its connection
//! instead of stalling flow expiry.

use super::Sock;
use crate::bridge::Bridge;
use crate::cycles::monotonic_ns;
use flowtable::pipeline::{FlowEntry, RemovedReason, OFPFF_SEND_FLOW_REM};
use openflow::error::{ErrorCode, RoleRequestFailedCode};
use openflow::{encode, AsyncConfig, ControllerRole, Message, PortStatus, Role};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The asynchronous-message configuration a connection starts with (OpenFlow 1.3 section
/// 7.3.10 defaults): masters and equals get packet-ins for no-match and action, every
/// port-status and flow-removed reason; slaves get port-status only.
pub(super) fn default_async() -> AsyncConfig {
    AsyncConfig {
        packet_in_mask: [0x3, 0],
        port_status_mask: [0x7, 0x7],
        flow_removed_mask: [0xf, 0],
    }
}

/// Bytes of a packet sent to the controller on a table miss, until SET_CONFIG says otherwise.
pub(super) const DEFAULT_MISS_SEND_LEN: u16 = 128;

/// One connection as other threads see it.
pub(super) struct ConnShared {
    id: u64,
    writer: Mutex<Sock>,
    /// Current role.
    pub(super) role: Mutex<ControllerRole>,
    /// SET_ASYNC configuration.
    pub(super) async_cfg: Mutex<AsyncConfig>,
    /// SET_CONFIG's miss_send_len (bytes of a table-miss packet-in; 0xffff = whole packet).
    pub(super) miss_send_len: AtomicU16,
}

impl ConnShared {
    /// Encode and send one message (whole, under the write lock).
    pub(super) fn send(&self, xid: u32, msg: &Message) -> std::io::Result<()> {
        let mut out = Vec::new();
        encode(xid, msg, &mut out);
        self.send_raw(&out)
    }

    /// Send already-encoded messages.
    pub(super) fn send_raw(&self, bytes: &[u8]) -> std::io::Result<()> {
        lock(&self.writer).write_all(bytes)
    }

    /// True when the connection is a slave (refuses modifications).
    pub(super) fn is_slave(&self) -> bool {
        *lock(&self.role) == ControllerRole::Slave
    }
}

/// OpenFlow state of one bridge.
pub struct Hub {
    /// The bridge.
    pub bridge: Arc<Bridge>,
    /// When the hub was created (port-stats durations).
    pub(super) started_ns: u64,
    conns: Mutex<(bool, Vec<Arc<ConnShared>>)>,
    next_id: AtomicU64,
    generation: Mutex<Option<u64>>,
    links: Mutex<HashMap<u32, bool>>,
}

/// PORT_STATUS reason: a port's state or config changed.
pub const OFPPR_MODIFY: u8 = 2;

impl Hub {
    /// The OpenFlow state for `bridge`, with no connections.
    pub fn new(bridge: Arc<Bridge>) -> Hub {
        Hub {
            bridge,
            started_ns: monotonic_ns(),
            conns: Mutex::new((false, Vec::new())),
            next_id: AtomicU64::new(1),
            generation: Mutex::new(None),
            links: Mutex::new(HashMap::new()),
        }
    }

    /// Number of open OpenFlow connections.
    pub fn connections(&self) -> usize {
        lock(&self.conns).1.len()
    }

    /// Track a new connection (its write half); `None` once the hub is shutting down.
    pub(super) fn register(&self, writer: Sock) -> Option<Arc<ConnShared>> {
        let mut c = lock(&self.conns);
        if c.0 {
            writer.shutdown();
            return None;
        }
        let conn = Arc::new(ConnShared {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            writer: Mutex::new(writer),
            role: Mutex::new(ControllerRole::Equal),
            async_cfg: Mutex::new(default_async()),
            miss_send_len: AtomicU16::new(DEFAULT_MISS_SEND_LEN),
        });
        c.1.push(conn.clone());
        Some(conn)
    }

    /// The open connections (for asynchronous messages).
    pub(super) fn conns(&self) -> Vec<Arc<ConnShared>> {
        lock(&self.conns).1.clone()
    }

    /// Forget a connection.
    pub(super) fn unregister(&self, conn: &ConnShared) {
        lock(&self.conns).1.retain(|c| c.id != conn.id);
    }

    /// Close every connection and refuse new ones.
    pub(super) fn close_all(&self) {
        let mut c = lock(&self.conns);
        c.0 = true;
        for conn in &c.1 {
            lock(&conn.writer).shutdown();
        }
    }

    /// Send FLOW_REMOVED for every rule in `removed` that asked for it (OFPFF_SEND_FLOW_REM),
    /// to every connection whose asynchronous configuration enables the reason.
    pub fn flows_removed(&self, removed: &[(Arc<FlowEntry>, RemovedReason)]) {
        let now = monotonic_ns();
        let msgs: Vec<(u8, Vec<u8>)> = removed
            .iter()
            .filter(|(e, _)| e.flags & OFPFF_SEND_FLOW_REM != 0)
            .map(|(e, why)| {
                let fr = super::flows::flow_removed(e, *why, now);
                let reason = fr.reason;
                let mut out = Vec::new();
                encode(0, &Message::FlowRemoved(fr), &mut out);
                (reason, out)
            })
            .collect();
        if msgs.is_empty() {
            return;
        }
        let conns: Vec<Arc<ConnShared>> = lock(&self.conns).1.clone();
        for c in conns {
            let slave = usize::from(c.is_slave());
            let mask = lock(&c.async_cfg).flow_removed_mask[slave];
            for (reason, bytes) in &msgs {
                if mask & (1 << reason) != 0 && c.send_raw(bytes).is_err() {
                    lock(&c.writer).shutdown();
                    break;
                }
            }
        }
    }

    /// Rules deleted by a flow mod (reason delete), for [`Hub::flows_removed`].
    pub fn flows_deleted(&self, removed: Vec<Arc<FlowEntry>>) {
        let with_reason: Vec<(Arc<FlowEntry>, RemovedReason)> = removed
            .into_iter()
            .map(|e| (e, RemovedReason::Delete))
            .collect();
        self.flows_removed(&with_reason);
    }

    /// Handle a ROLE_REQUEST from `conn` (OpenFlow 1.3 section 6.3.5): equal needs no
    /// generation id; master and slave must not carry a generation id older than the last one
    /// seen; a new master demotes the previous masters to slaves.
    pub(super) fn request_role(&self, conn: &ConnShared, req: Role) -> Result<Role, ErrorCode> {
        let mut gen = lock(&self.generation);
        match req.role {
            ControllerRole::NoChange => {}
            ControllerRole::Equal => *lock(&conn.role) = ControllerRole::Equal,
            ControllerRole::Master | ControllerRole::Slave => {
                if let Some(cur) = *gen {
                    if (req.generation_id.wrapping_sub(cur) as i64) < 0 {
                        return Err(ErrorCode::RoleRequestFailed(RoleRequestFailedCode::Stale));
                    }
                }
                *gen = Some(req.generation_id);
                if req.role == ControllerRole::Master {
                    for other in lock(&self.conns).1.iter() {
                        if other.id != conn.id {
                            let mut r = lock(&other.role);
                            if *r == ControllerRole::Master {
                                *r = ControllerRole::Slave;
                            }
                        }
                    }
                }
                *lock(&conn.role) = req.role;
            }
        }
        Ok(Role {
            role: *lock(&conn.role),
            generation_id: gen.unwrap_or(0),
        })
    }

    /// Send PORT_STATUS (`reason`: OFPPR_ADD, DELETE or MODIFY) for the member `ofport`, as it
    /// is now, to every connection whose asynchronous configuration enables the reason.
    pub fn port_status(&self, reason: u8, ofport: u32) {
        let Some(desc) = self.bridge.view().port(ofport).map(super::stats::port_of) else {
            return;
        };
        let mut out = Vec::new();
        encode(
            0,
            &Message::PortStatus(PortStatus { reason, desc }),
            &mut out,
        );
        let conns: Vec<Arc<ConnShared>> = lock(&self.conns).1.clone();
        for c in conns {
            let slave = usize::from(c.is_slave());
            let mask = lock(&c.async_cfg).port_status_mask[slave];
            if mask & (1 << reason) != 0 && c.send_raw(&out).is_err() {
                lock(&c.writer).shutdown();
            }
        }
    }

    /// Look for link changes since the last call: each one invalidates the bridge's caches
    /// (fast-failover groups read liveness) and is reported with PORT_STATUS.
    pub fn check_links(&self) {
        let view = self.bridge.view();
        let changed: Vec<u32> = {
            let mut links = lock(&self.links);
            view.ports
                .iter()
                .filter_map(|p| {
                    let up = p.port.link_up();
                    let prev = links.insert(p.ofport, up);
                    (prev.is_some_and(|was| was != up)).then_some(p.ofport)
                })
                .collect()
        };
        if changed.is_empty() {
            return;
        }
        self.bridge.bump_epoch();
        for ofport in changed {
            self.port_status(OFPPR_MODIFY, ofport);
        }
    }
}
