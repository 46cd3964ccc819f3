//! The reconciler: one thread that makes the local switch match the share, again and again.
//!
//! Each round ([`Reconciler::round`]) it
//! 1. plans the share ([`crate::plan`]): bridges, ports, per-object errors;
//! 2. diffs the plan against its replica of the Open_vSwitch database and sends the difference
//!    as one transaction ([`crate::ovs`]), then waits for the monitor to echo it, so the next
//!    round diffs against what it just wrote;
//! 3. records the revision as applied, with the per-object errors (the session acks it);
//! 4. computes each bridge's flows from the plan and the `ofport`s dvs-switchd wrote back, and
//!    when they differ from what it last synced (or the connection is new, or [`PERIOD`] has
//!    passed) diffs them against the bridge's installed flows ([`crate::ofp`]);
//! 5. builds the status for dvsm ([`crate::status`]).
//!
//! Rounds run when the share changes, when the database changes (the monitor: a port got its
//! `ofport`, an operator edited a row), when an OpenFlow connection is (re)made, and every
//! [`PERIOD`] anyway: a restarted dvs-switchd has lost its flows, and the periodic dump finds
//! that out. Nothing runs before the first share arrives: an agent that has not heard from dvsm
//! since it started knows nothing, and must not tear down what is installed. When dvsm goes away
//! the share stays as it was and so does the switch.

use crate::layout;
use crate::ofp::OfConn;
use crate::ovs;
use crate::plan::{self, HostView};
use crate::policy::{self, Compiled};
use crate::state::State;
use crate::status;
use ovsdb::{Client, Replica};
use proto::wire::ApplyError;
use proto::Key;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Flows are checked against the switch at least this often.
pub const PERIOD: Duration = Duration::from_secs(3);
/// Flow and meter counters (per-port drops in the status) are read at most this often.
pub const COUNTERS_EVERY: Duration = Duration::from_secs(1);
/// Database reconnection backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What went wrong in a round.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Talking to the database failed.
    #[error("{0}")]
    Ovsdb(#[from] ovsdb::Error),
    /// The database cannot take the plan.
    #[error("{0}")]
    Ovs(#[from] ovs::OvsError),
    /// A monitor update could not be applied to the replica.
    #[error("monitor update: {0}")]
    Replica(String),
}

/// Where the switch is.
#[derive(Clone, Debug)]
pub struct Config {
    /// The database (`unix:PATH` or `tcp:HOST:PORT`).
    pub ovsdb: String,
    /// dvs-switchd's run directory (management and vhost-user sockets).
    pub rundir: PathBuf,
}

/// The reconciler's state across rounds.
pub struct Reconciler {
    cfg: Config,
    state: Arc<State>,
    client: Client,
    db: Replica,
    /// Open OpenFlow connections by bridge.
    conns: BTreeMap<String, OfConn>,
    /// What was last synced per bridge.
    synced: BTreeMap<String, Compiled>,
    /// What each bridge should hold (as last compiled), for naming counters.
    wanted: BTreeMap<String, Compiled>,
    /// Drop counts per VM port id, by reason, from the last counter read.
    drops: BTreeMap<String, BTreeMap<String, u64>>,
    last_counters: Instant,
    last_full: Instant,
    seen_generation: u64,
    logged_errors: BTreeMap<Key, String>,
    logged_ofp: BTreeMap<String, String>,
}

/// Run until `stop`: connect to the database (with backoff), then reconcile.
pub fn run(cfg: Config, state: Arc<State>, stop: &AtomicBool) {
    let mut backoff = BACKOFF_MIN;
    let mut logged = None;
    while !stop.load(Ordering::Relaxed) {
        match Reconciler::connect(cfg.clone(), state.clone()) {
            Ok(mut r) => {
                log!("database {}: connected", cfg.ovsdb);
                logged = None;
                backoff = BACKOFF_MIN;
                if let Err(e) = r.follow(stop) {
                    log!("database {}: {e}; reconnecting", cfg.ovsdb);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                if logged.as_ref() != Some(&msg) {
                    log!("database {}: {msg}; retrying", cfg.ovsdb);
                    logged = Some(msg);
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
        let end = Instant::now() + backoff;
        while Instant::now() < end && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Reconciler {
    /// Connect to the database and take its contents.
    pub fn connect(cfg: Config, state: Arc<State>) -> Result<Reconciler, ReconcileError> {
        let client = Client::connect(&cfg.ovsdb)?;
        let initial = client.monitor(ovs::DB, &json!("dvs-agent"), &ovs::monitor_requests())?;
        let mut db = Replica::default();
        db.apply(&initial).map_err(ReconcileError::Replica)?;
        Ok(Reconciler {
            cfg,
            state,
            client,
            db,
            conns: BTreeMap::new(),
            synced: BTreeMap::new(),
            wanted: BTreeMap::new(),
            drops: BTreeMap::new(),
            last_counters: Instant::now() - COUNTERS_EVERY,
            last_full: Instant::now() - PERIOD,
            seen_generation: u64::MAX,
            logged_errors: BTreeMap::new(),
            logged_ofp: BTreeMap::new(),
        })
    }

    /// Take every queued monitor update; true if there was one. Waits up to `wait` for the
    /// first.
    fn take_updates(&mut self, wait: Duration) -> Result<bool, ReconcileError> {
        let mut any = false;
        let mut wait = wait;
        while let Some((_, u)) = self.client.next_update(wait)? {
            self.db.apply(&u).map_err(ReconcileError::Replica)?;
            any = true;
            wait = Duration::ZERO;
        }
        Ok(any)
    }

    /// Reconcile until `stop` or a database error.
    pub fn follow(&mut self, stop: &AtomicBool) -> Result<(), ReconcileError> {
        let mut dirty = true;
        while !stop.load(Ordering::Relaxed) {
            dirty |= self.take_updates(Duration::from_millis(100))?;
            let generation = self.state.lock().generation;
            if generation != self.seen_generation {
                dirty = true;
            }
            let full = self.last_full.elapsed() >= PERIOD;
            if dirty || full {
                dirty = false;
                self.round(full)?;
            }
        }
        Ok(())
    }

    /// One round (see the module docs); `full` checks every bridge's flows against the switch.
    pub fn round(&mut self, full: bool) -> Result<(), ReconcileError> {
        let (share, revision, generation) = self.state.snapshot();
        let Some(revision) = revision else {
            // No share yet: leave everything as it is.
            return Ok(());
        };
        self.seen_generation = generation;
        let host = HostView {
            nic_exists: &crate::facts::nic_exists,
            rundir: &self.cfg.rundir,
        };
        let p = plan::plan(&share, &host);
        let d = ovs::diff(&self.db, &p)?;
        if !d.ops.is_empty() {
            self.client.transact(ovs::DB, &d.ops)?;
            // Wait for the monitor's echo, so the next round sees what was just written.
            self.take_updates(Duration::from_secs(2))?;
        }
        let mut errors = p.errors.clone();
        errors.extend(d.errors);
        self.log_errors(&errors);
        {
            let list = errors
                .iter()
                .map(|(k, m)| ApplyError {
                    key: k.clone(),
                    message: m.clone(),
                })
                .collect();
            self.state.lock().applied = Some((revision, list));
        }
        if full {
            self.last_full = Instant::now();
        }
        self.flows(&p, full);
        if self.last_counters.elapsed() >= COUNTERS_EVERY {
            self.last_counters = Instant::now();
            self.counters();
        }
        let ifaces = ovs::interfaces(&self.db);
        let st = status::build(&p, &ifaces, &errors, &self.drops, revision);
        self.state.lock().status = st;
        Ok(())
    }

    fn log_errors(&mut self, errors: &BTreeMap<Key, String>) {
        for (k, e) in errors {
            if self.logged_errors.get(k) != Some(e) {
                log!("{k}: {e}");
            }
        }
        for k in self.logged_errors.keys() {
            if !errors.contains_key(k) {
                log!("{k}: applied");
            }
        }
        self.logged_errors = errors.clone();
    }

    /// Bring each bridge's flows in line.
    fn flows(&mut self, p: &plan::Plan, full: bool) {
        let owned = ovs::owned_bridges(&self.db);
        let ifaces = ovs::interfaces(&self.db);
        self.conns.retain(|b, _| p.bridges.contains_key(b));
        self.synced.retain(|b, _| p.bridges.contains_key(b));
        self.wanted.retain(|b, _| p.bridges.contains_key(b));
        for (name, b) in &p.bridges {
            if !owned.contains(name) {
                continue;
            }
            let ofport = |port: &str| {
                ifaces
                    .get(port)
                    .filter(|i| i.bridge == *name)
                    .and_then(|i| i.ofport)
            };
            let want = policy::compile(b, &ofport);
            self.wanted.insert(name.clone(), want.clone());
            let fresh = !self.conns.contains_key(name);
            if !full && !fresh && self.synced.get(name) == Some(&want) {
                continue;
            }
            let path = self.cfg.rundir.join(format!("{name}.mgmt"));
            let attempt = |c: Result<OfConn, _>| {
                c.and_then(|mut c: OfConn| c.sync_all(&want).map(|r| (c, r)))
            };
            let result = match self.conns.remove(name) {
                // A kept connection may have died with a restarted switch: one fresh try.
                Some(c) => attempt(Ok(c)).or_else(|_| attempt(OfConn::connect(&path))),
                None => attempt(OfConn::connect(&path)),
            };
            match result {
                Ok((c, r)) => {
                    // Always on a new connection: a restarted agent says what it adopted.
                    if r.added + r.deleted + r.meters_changed + r.meters_deleted > 0 || fresh {
                        log!(
                            "bridge {name}: flows: {} added, {} deleted, {} kept; meters: {} \
                             added or modified, {} deleted, {} kept",
                            r.added,
                            r.deleted,
                            want.flows.len() - r.added,
                            r.meters_changed,
                            r.meters_deleted,
                            want.meters.len() - r.meters_changed
                        );
                    }
                    self.logged_ofp.remove(name);
                    self.conns.insert(name.clone(), c);
                    self.synced.insert(name.clone(), want);
                }
                Err(e) => {
                    let msg = format!("{}: {e}", path.display());
                    if self.logged_ofp.get(name) != Some(&msg) {
                        log!("bridge {name}: flows not synced: {msg}; retrying");
                        self.logged_ofp.insert(name.clone(), msg);
                    }
                    self.synced.remove(name);
                }
            }
        }
    }

    /// Read every connected bridge's flow and meter counters into per-port drop counts: a
    /// drop flow's packets under its kind's reason, a meter's drop band under the meter's.
    /// A bridge whose read fails keeps no counts this time (its connection is retried by the
    /// next sync).
    fn counters(&mut self) {
        let mut drops: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut failed = Vec::new();
        for (name, c) in &mut self.conns {
            let Some(want) = self.wanted.get(name) else {
                continue;
            };
            let counts = match c.counters() {
                Ok(x) => x,
                Err(e) => {
                    log!("bridge {name}: counters not read: {e}");
                    failed.push(name.clone());
                    continue;
                }
            };
            let mut add = |origin: &str, reason: &str, n: u64| {
                if let Some(port) = origin.strip_prefix("port/").filter(|_| n > 0) {
                    *drops
                        .entry(port.to_string())
                        .or_default()
                        .entry(reason.to_string())
                        .or_default() += n;
                }
            };
            for (cookie, f) in &want.flows {
                if let (Some(reason), Some(n)) =
                    (layout::kind::reason(f.kind), counts.flows.get(cookie))
                {
                    add(&f.origin, reason, *n);
                }
            }
            for (id, m) in &want.meters {
                if let Some(n) = counts.meters.get(id) {
                    add(&m.origin, m.reason, *n);
                }
            }
        }
        for name in failed {
            self.conns.remove(&name);
            self.synced.remove(&name);
        }
        self.drops = drops;
    }
}
