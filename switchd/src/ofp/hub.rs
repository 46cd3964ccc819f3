//! Per-bridge OpenFlow state shared by every connection: the connection list (for asynchronous
//! messages such as FLOW_REMOVED), controller roles with the master election generation id, the
//! port config bits set through PORT_MOD, and the configured controllers with the fail-mode
//! state machine.
//!
//! Each connection's write half sits behind its own mutex, so a FLOW_REMOVED produced by the
//! housekeeping thread or by a delete on another connection interleaves with replies at message
//! boundaries only. Writes have a timeout: a controller that stops reading loses its connection
//! instead of stalling flow expiry.
//!
//! **Fail mode.** Only connections the switch opened to its configured `controllers` count (the
//! management socket and `ptcp:` listeners serve tools and agents, which are not controllers),
//! and a controller counts as connected once it is *admitted*: it has sent something beyond the
//! handshake (HELLO, ECHO, ERROR), normally its FEATURES_REQUEST. That is OVS's rule too, and it
//! keeps a port that accepts TCP but never manages the switch (a dead controller process behind a
//! live proxy) from taking a standalone bridge out of fail-open. The machine, per bridge:
//! - `standalone` with controllers: when no controller has been admitted for the grace period
//!   (counted from the OpenFlow start, or from the moment the last admitted controller
//!   disconnected), the bridge enters fail-open ([`Bridge::set_fail_open`]: NORMAL for every
//!   packet, tables bypassed). The first admission leaves it at once. The clock is advanced by
//!   [`Hub::fail_tick`], which `OfpServer` calls every 100 ms.
//! - `secure`: never fails open; whatever flows exist stay in charge.
//! - no controllers configured: never fails open, whatever the mode.

use super::outbox::Outbox;
use super::packet_io::PacketIoStats;
use super::Sock;
use datapath::bridge::Bridge;
use datapath::config::{FailMode, OfpController};
use datapath::cycles::monotonic_ns;
use datapath::switch::{BridgeEvents, PortChange};
use flowtable::pipeline::{FlowEntry, RemovedReason, OFPFF_SEND_FLOW_REM};
use openflow::error::{ErrorCode, RoleRequestFailedCode};
use openflow::{encode, AsyncConfig, ControllerRole, Message, PortStatus, Role};
use serde::Serialize;
use std::any::Any;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    /// Its outgoing queue (see `outbox`).
    outbox: Arc<Outbox>,
    /// The writer thread of the queue.
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The stream, to shut it down.
    sock: Sock,
    /// Current role.
    pub(super) role: Mutex<ControllerRole>,
    /// SET_ASYNC configuration.
    pub(super) async_cfg: Mutex<AsyncConfig>,
    /// SET_CONFIG's miss_send_len (bytes of a table-miss packet-in; 0xffff = whole packet).
    pub(super) miss_send_len: AtomicU16,
}

impl ConnShared {
    /// Encode and queue one reply (waiting for room: see `outbox`).
    pub(super) fn send(&self, xid: u32, msg: &Message) -> std::io::Result<()> {
        let mut out = Vec::new();
        encode(xid, msg, &mut out);
        self.send_raw(&out)
    }

    /// Queue already-encoded replies (waiting for room).
    pub(super) fn send_raw(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.outbox.send(bytes)
    }

    /// Queue an asynchronous message without waiting: false when it was dropped (the queue
    /// is full, counted in the hub's `async_dropped`) or the connection is closing.
    pub(super) fn offer(&self, hub: &Hub, bytes: &[u8]) -> bool {
        let before = self.outbox.dropped();
        if self.outbox.offer(bytes) {
            return true;
        }
        if self.outbox.dropped() != before {
            hub.packet_io.async_dropped.fetch_add(1, Ordering::Relaxed);
        }
        false
    }

    /// Shut the stream down both ways: the connection's own thread sees it on its next read
    /// and ends.
    pub(super) fn shutdown(&self) {
        self.outbox.close();
        self.sock.shutdown();
    }

    /// The connection is over: write what is queued (bounded by the write timeout), then
    /// shut the stream down.
    pub(super) fn finish(&self) {
        self.outbox.drain();
        if let Some(h) = lock(&self.writer).take() {
            let _ = h.join();
        }
        self.sock.shutdown();
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
    fail_mode: FailMode,
    controllers: Mutex<Controllers>,
    /// PACKET_IN and PACKET_OUT counters.
    pub packet_io: PacketIoStats,
}

/// Where the connection to one configured controller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ControllerState {
    /// A TCP connect is in progress.
    Connecting,
    /// The TCP connection is up (see [`ControllerStatus::admitted`] for whether it manages the
    /// switch yet).
    Connected,
    /// Waiting before the next attempt (after a failure or a disconnect).
    Backoff,
}

/// One configured controller as `dvsctl switch show` can print it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ControllerStatus {
    /// The target, in config syntax (`tcp:127.0.0.1:6653`).
    pub target: String,
    /// Connection state.
    pub state: ControllerState,
    /// True once the controller sent a request beyond the handshake on this connection: it
    /// counts as connected for the fail mode.
    pub admitted: bool,
    /// The connection's role (`equal`, `master`, `slave`) while connected.
    pub role: Option<&'static str>,
    /// Whole seconds in the current state.
    pub state_secs: u64,
    /// TCP connections established so far.
    pub connections: u64,
    /// Why the last attempt failed or the last connection ended, if it did.
    pub last_error: Option<String>,
}

/// A bridge's fail mode, whether it is failing open now, and its controllers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailStatus {
    /// Configured fail mode.
    pub fail_mode: FailMode,
    /// True while the bridge bypasses its tables with NORMAL (standalone, no controller).
    pub fail_open: bool,
    /// The configured controllers, in config order.
    pub controllers: Vec<ControllerStatus>,
}

/// Per-controller bookkeeping behind [`ControllerStatus`].
struct Slot {
    target: OfpController,
    state: ControllerState,
    since: Instant,
    conn: Option<Arc<ConnShared>>,
    admitted: bool,
    connections: u64,
    last_error: Option<String>,
}

/// The configured controllers and the fail-mode clock.
struct Controllers {
    slots: Vec<Slot>,
    /// Since when no controller has been admitted (`None` while one is).
    alone_since: Option<Instant>,
}

fn role_name(r: ControllerRole) -> &'static str {
    match r {
        ControllerRole::NoChange | ControllerRole::Equal => "equal",
        ControllerRole::Master => "master",
        ControllerRole::Slave => "slave",
    }
}

/// PORT_STATUS reason: a port's state or config changed.
pub const OFPPR_MODIFY: u8 = 2;
/// PORT_STATUS reason: a port was added.
pub const OFPPR_ADD: u8 = 0;
/// PORT_STATUS reason: a port was removed.
pub const OFPPR_DELETE: u8 = 1;

impl Hub {
    /// The OpenFlow state for `bridge`, which connects to `controllers` (started by
    /// `OfpServer::start`) and behaves as `fail_mode` says while none is connected.
    pub fn with_controllers(
        bridge: Arc<Bridge>,
        controllers: Vec<OfpController>,
        fail_mode: FailMode,
    ) -> Hub {
        let now = Instant::now();
        let slots = controllers
            .into_iter()
            .map(|target| Slot {
                target,
                state: ControllerState::Backoff,
                since: now,
                conn: None,
                admitted: false,
                connections: 0,
                last_error: None,
            })
            .collect();
        Hub {
            bridge,
            started_ns: monotonic_ns(),
            conns: Mutex::new((false, Vec::new())),
            next_id: AtomicU64::new(1),
            generation: Mutex::new(None),
            fail_mode,
            controllers: Mutex::new(Controllers {
                slots,
                alone_since: Some(now),
            }),
            packet_io: PacketIoStats::default(),
        }
    }

    /// The configured fail mode.
    pub fn fail_mode(&self) -> FailMode {
        self.fail_mode
    }

    /// The configured controller targets, in config order.
    pub fn controller_targets(&self) -> Vec<OfpController> {
        lock(&self.controllers)
            .slots
            .iter()
            .map(|s| s.target.clone())
            .collect()
    }

    /// Whether the bridge has controllers configured.
    pub fn has_controllers(&self) -> bool {
        !lock(&self.controllers).slots.is_empty()
    }

    /// Fail mode, fail-open state and every controller's connection status (for
    /// `dvsctl switch show`).
    pub fn fail_status(&self) -> FailStatus {
        let now = Instant::now();
        let controllers = lock(&self.controllers)
            .slots
            .iter()
            .map(|s| ControllerStatus {
                target: s.target.to_string(),
                state: s.state,
                admitted: s.admitted,
                role: s.conn.as_ref().map(|c| role_name(*lock(&c.role))),
                state_secs: now.saturating_duration_since(s.since).as_secs(),
                connections: s.connections,
                last_error: s.last_error.clone(),
            })
            .collect();
        FailStatus {
            fail_mode: self.fail_mode,
            fail_open: self.bridge.fail_open(),
            controllers,
        }
    }

    /// Restart the grace period (the OpenFlow side starts now).
    pub(super) fn arm_fail_clock(&self, now: Instant) {
        let mut c = lock(&self.controllers);
        if c.slots.iter().all(|s| !s.admitted) {
            c.alone_since = Some(now);
        }
    }

    fn set_slot(&self, index: usize, f: impl FnOnce(&mut Slot)) {
        if let Some(s) = lock(&self.controllers).slots.get_mut(index) {
            f(s);
        }
    }

    /// Controller `index`: a connect attempt starts.
    pub(super) fn controller_connecting(&self, index: usize) {
        self.set_slot(index, |s| {
            s.state = ControllerState::Connecting;
            s.since = Instant::now();
        });
    }

    /// Controller `index`: waiting before the next attempt, after `error` (if one).
    pub(super) fn controller_backoff(&self, index: usize, error: Option<String>) {
        self.set_slot(index, |s| {
            s.state = ControllerState::Backoff;
            s.since = Instant::now();
            if error.is_some() {
                s.last_error = error;
            }
        });
    }

    /// Controller `index` is connected on `conn` (not admitted yet).
    pub(super) fn controller_connected(&self, index: usize, conn: &Arc<ConnShared>) {
        self.set_slot(index, |s| {
            s.state = ControllerState::Connected;
            s.since = Instant::now();
            s.conn = Some(conn.clone());
            s.admitted = false;
            s.connections += 1;
        });
    }

    /// Controller `index` sent its first real request: it manages the switch now, so a
    /// fail-open bridge goes back to its flow tables.
    pub(super) fn controller_admitted(&self, index: usize) {
        let mut c = lock(&self.controllers);
        let Some(s) = c.slots.get_mut(index) else {
            return;
        };
        s.admitted = true;
        let target = s.target.to_string();
        c.alone_since = None;
        if self.bridge.fail_open() {
            self.bridge.set_fail_open(false);
            eprintln!(
                "dvs-switchd: {}: controller {target} connected: leaving fail-open mode",
                self.bridge.name
            );
        }
    }

    /// Controller `index`'s connection ended (`why`, if it failed).
    pub(super) fn controller_disconnected(&self, index: usize, why: Option<String>) {
        let now = Instant::now();
        let mut c = lock(&self.controllers);
        let Some(s) = c.slots.get_mut(index) else {
            return;
        };
        s.state = ControllerState::Backoff;
        s.since = now;
        s.conn = None;
        s.admitted = false;
        s.last_error = why.or_else(|| Some("connection closed by the controller".into()));
        if c.alone_since.is_none() && c.slots.iter().all(|s| !s.admitted) {
            c.alone_since = Some(now);
        }
    }

    /// Advance the fail-mode clock: a standalone bridge with controllers, none of them
    /// admitted for `grace`, enters fail-open. Returns whether the bridge is failing open.
    pub fn fail_tick(&self, now: Instant, grace: Duration) -> bool {
        let c = lock(&self.controllers);
        if self.fail_mode != FailMode::Standalone || c.slots.is_empty() {
            return false;
        }
        let due = c
            .alone_since
            .is_some_and(|t| now.saturating_duration_since(t) >= grace);
        if due && !self.bridge.fail_open() {
            self.bridge.set_fail_open(true);
            eprintln!(
                "dvs-switchd: {}: no controller connected for {} ms: entering fail-open mode \
                 (standalone: forwarding with NORMAL)",
                self.bridge.name,
                grace.as_millis()
            );
        }
        self.bridge.fail_open()
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
        let sock = writer.try_clone().ok()?;
        let (outbox, handle) = match Outbox::start(writer, &self.bridge.name) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("dvs-switchd: ofp writer thread: {e}");
                sock.shutdown();
                return None;
            }
        };
        let conn = Arc::new(ConnShared {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            outbox,
            writer: Mutex::new(Some(handle)),
            sock,
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
    pub fn close_all(&self) {
        let mut c = lock(&self.conns);
        c.0 = true;
        for conn in &c.1 {
            conn.shutdown();
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
                if mask & (1 << reason) != 0 {
                    c.offer(self, bytes);
                }
            }
        }
    }

    /// Rules deleted by a flow mod (reason delete), for [`Hub::flows_removed`].
    pub fn flows_deleted(&self, removed: Vec<Arc<FlowEntry>>) {
        self.flows_deleted_because(removed, RemovedReason::Delete);
    }

    /// Rules deleted for `why` (a flow mod, a group or meter deletion).
    pub fn flows_deleted_because(&self, removed: Vec<Arc<FlowEntry>>, why: RemovedReason) {
        let with_reason: Vec<(Arc<FlowEntry>, RemovedReason)> =
            removed.into_iter().map(|e| (e, why)).collect();
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
            if mask & (1 << reason) != 0 {
                c.offer(self, &out);
            }
        }
    }
}

impl BridgeEvents for Hub {
    fn port_changed(&self, change: PortChange, ofport: u32) {
        let reason = match change {
            PortChange::Added => OFPPR_ADD,
            PortChange::Deleted => OFPPR_DELETE,
            PortChange::Modified => OFPPR_MODIFY,
        };
        self.port_status(reason, ofport);
    }

    fn flows_removed(&self, removed: &[(Arc<FlowEntry>, RemovedReason)]) {
        Hub::flows_removed(self, removed);
    }

    fn close(&self) {
        self.close_all();
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}
