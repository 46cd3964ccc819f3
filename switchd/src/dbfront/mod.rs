//! The Open_vSwitch database front end (`dvs-switchd --db unix:/run/openvswitch/db.sock`): the
//! switch takes its bridges and ports from Debian's `ovsdb-server`, as ovs-vswitchd does, so
//! `ovs-vsctl`, libvirt and os-vif plug VMs in unchanged.
//!
//! One thread runs it. It connects, monitors the tables it reads (`Open_vSwitch`, `Bridge`,
//! `Port`, `Interface`, `Controller`, `SSL`, `QoS`, `Queue`; only the columns it reads, so its own status writes do not
//! wake it for nothing), and on the initial contents and each update:
//! 1. reads the rows as a desired configuration ([`model`]): the same validated
//!    `SwitchConfig` the file front end makes, minus the rows that cannot work (each with its
//!    error);
//! 2. applies it through the one applier, `datapath::reconfig::apply` (all or nothing). When a port
//!    cannot be opened (a device that does not exist, a socket path already bound), that port
//!    gets the error and the rest is applied again without it: a bad row affects nothing else;
//! 3. writes back what ovs-vswitchd writes ([`status`]), `cur_cfg` last in the same
//!    transaction, so `ovs-vsctl` (without `--no-wait`) returns once the change is in force and
//!    sees the new interfaces' `ofport` or `error`.
//!
//! Every few seconds it also refreshes `statistics`, `link_state` and `status`. When the
//! connection drops (ovsdb-server restarted) the switch keeps forwarding with what it has; the
//! thread reconnects with backoff (0.1 s doubling to 8 s) and resynchronizes from a fresh
//! monitor, so changes made meanwhile are applied then. It uses plain `monitor` (whole rows in
//! each update), which every ovsdb-server has; the rows it reads are few, so conditional
//! monitoring would save little.

pub mod model;
mod qos;
pub mod status;

use datapath::reconfig::{self, Change, ReconfigError};
use datapath::switch::Switch;
use model::{Context, Desired};
use ovsdb::{Client, Error, Replica};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often statistics and link states are written back.
const STATS_INTERVAL: Duration = Duration::from_secs(5);
/// Reconnection backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(8);

/// The columns read from each table (and monitored).
fn monitor_requests() -> Value {
    json!({
        "Open_vSwitch": {"columns": ["bridges", "next_cfg", "cur_cfg", "other_config",
            "iface_types", "datapath_types", "dpdk_initialized", "ssl"]},
        "Bridge": {"columns": ["name", "ports", "controller", "fail_mode", "protocols",
            "datapath_type", "other_config", "datapath_id"]},
        "Port": {"columns": ["name", "interfaces", "tag", "trunks", "vlan_mode", "qos"]},
        "QoS": {"columns": ["type", "other_config", "queues"]},
        "Queue": {"columns": ["other_config"]},
        "Interface": {"columns": ["name", "type", "options", "ofport", "ofport_request",
            "mtu_request", "ingress_policing_rate", "ingress_policing_burst",
            "ingress_policing_kpkts_rate", "other_config", "error",
            "link_state", "admin_state", "mtu", "mac_in_use", "status"]},
        "Controller": {"columns": ["target"]},
        "SSL": {"columns": ["private_key", "certificate", "ca_cert"]},
    })
}

/// The running front end.
pub struct DbFront {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl DbFront {
    /// Start following the database at `addr` (`unix:PATH` or `tcp:HOST:PORT`).
    pub fn start(sw: Arc<Switch>, addr: String, ctx: Context) -> std::io::Result<DbFront> {
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let handle = std::thread::Builder::new()
            .name("ovsdb".into())
            .spawn(move || run(&sw, &addr, &ctx, &s2))?;
        Ok(DbFront {
            stop,
            handle: Some(handle),
        })
    }

    /// Stop following the database (the switch keeps what it has).
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for DbFront {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Sleep `d` in slices; false if `stop` was raised meanwhile.
fn nap(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
    }
    !stop.load(Ordering::Relaxed)
}

fn run(sw: &Switch, addr: &str, ctx: &Context, stop: &AtomicBool) {
    let mut backoff = BACKOFF_MIN;
    let mut logged: Option<String> = None;
    let mut state = SyncState::default();
    while !stop.load(Ordering::Relaxed) {
        let client = match Client::connect(addr) {
            Ok(c) => c,
            Err(e) => {
                let msg = e.to_string();
                if logged.as_deref() != Some(&msg) {
                    eprintln!("dvs-switchd: database {addr}: {msg}; forwarding goes on, retrying");
                    logged = Some(msg);
                }
                if !nap(backoff, stop) {
                    return;
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        eprintln!("dvs-switchd: database {addr}: connected");
        logged = None;
        backoff = BACKOFF_MIN;
        match session(sw, &client, ctx, stop, &mut state) {
            Ok(()) => return,
            Err(e) => {
                eprintln!("dvs-switchd: database {addr}: {e}; forwarding goes on, reconnecting");
            }
        }
        if !nap(backoff, stop) {
            return;
        }
    }
}

/// What the last sync logged, so that a warning or error is logged when it appears, not on
/// every update.
#[derive(Default)]
struct SyncState {
    warnings: BTreeSet<String>,
    errors: BTreeSet<(String, String)>,
    /// Statistics last written, by interface row (forgotten on reconnection).
    stats: HashMap<String, Value>,
}

fn session(
    sw: &Switch,
    client: &Client,
    ctx: &Context,
    stop: &AtomicBool,
    state: &mut SyncState,
) -> Result<(), Error> {
    // The new server may have lost what was written to the old one.
    state.stats.clear();
    let id = json!("dvs-switchd");
    let initial = client.monitor(status::DB, &id, &monitor_requests())?;
    let mut db = Replica::default();
    db.apply(&initial).map_err(Error::Protocol)?;
    let mut last_stats = Instant::now();
    let mut links = link_states(sw);
    sync(sw, client, &db, ctx, state, true, HashSet::new())?;
    while !stop.load(Ordering::Relaxed) {
        let mut dirty = false;
        if let Some((_, u)) = client.next_update(Duration::from_millis(200))? {
            db.apply(&u).map_err(Error::Protocol)?;
            dirty = true;
            // Take every update already queued before applying: one sync for a burst.
            while let Some((_, u)) = client.next_update(Duration::ZERO)? {
                db.apply(&u).map_err(Error::Protocol)?;
            }
        }
        // A link that came up or went down (a VM connected) is written within 200 ms, as
        // ovs-vswitchd does, not at the next statistics round.
        let now_links = link_states(sw);
        let flipped: HashSet<String> = now_links
            .iter()
            .filter(|(name, up)| links.get(*name) != Some(*up))
            .map(|(name, _)| name.clone())
            .collect();
        links = now_links;
        let stats_due = last_stats.elapsed() >= STATS_INTERVAL;
        if dirty || stats_due || !flipped.is_empty() {
            if stats_due {
                last_stats = Instant::now();
            }
            sync(sw, client, &db, ctx, state, stats_due, flipped)?;
        }
    }
    Ok(())
}

/// Every running port's link state, by name (an atomic load each).
fn link_states(sw: &Switch) -> HashMap<String, bool> {
    sw.bridges()
        .iter()
        .flat_map(|b| {
            b.view()
                .ports
                .iter()
                .map(|p| (p.name.clone(), p.port.link_up()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Apply what the rows say, then write back the switch's state.
fn sync(
    sw: &Switch,
    client: &Client,
    db: &Replica,
    ctx: &Context,
    state: &mut SyncState,
    statistics: bool,
    mut touched_too: HashSet<String>,
) -> Result<(), Error> {
    let mut d = model::desired(db, ctx);
    let changes = apply(sw, &mut d);
    let warnings: BTreeSet<String> = d.warnings.iter().cloned().collect();
    for w in warnings.difference(&state.warnings) {
        eprintln!("dvs-switchd: database: {w}");
    }
    state.warnings = warnings;
    let errors: BTreeSet<(String, String)> = d.errors.clone().into_iter().collect();
    for (name, e) in errors.difference(&state.errors) {
        eprintln!("dvs-switchd: database: interface {name}: {e}");
    }
    state.errors = errors;
    // Ports' `status` (their details, a few microseconds each) is refreshed for the ports this
    // sync touched, and for all of them with the statistics: at 1000 ports a full refresh on
    // every update would cost more than the change itself.
    let scope = if statistics {
        status::Scope::Full
    } else {
        touched_too.extend(touched(&changes, &d));
        status::Scope::Touched(touched_too)
    };
    let ops = status::ops(sw, db, &d, ctx.dpdk_initialized, &scope, &mut state.stats);
    if !ops.is_empty() {
        client.transact(status::DB, &ops)?;
    }
    Ok(())
}

/// The ports `changes` made or re-made (those of new bridges too).
fn touched(changes: &[Change], d: &Desired) -> HashSet<String> {
    let mut out = HashSet::new();
    for c in changes {
        match c {
            Change::PortAdded { port, .. }
            | Change::PortSetting { port, .. }
            | Change::PortVlan { port, .. } => {
                out.insert(port.clone());
            }
            Change::BridgeAdded { bridge } => {
                for b in d.config.bridges.iter().filter(|b| b.name == *bridge) {
                    out.extend(b.ports.iter().map(|p| p.name.clone()));
                }
            }
            _ => {}
        }
    }
    out
}

/// Apply `d.config`; a port that cannot be opened gets its error and is left out, and the rest
/// is applied again without it (a bridge that cannot be built: the same, its interfaces get the
/// error). Returns the changes made.
fn apply(sw: &Switch, d: &mut Desired) -> Vec<Change> {
    // Each failed round leaves out one more port or bridge, so this ends.
    let mut rounds = 1 + d
        .config
        .bridges
        .iter()
        .map(|b| 1 + b.ports.len())
        .sum::<usize>();
    while rounds > 0 {
        rounds -= 1;
        match reconfig::apply(sw, d.config.clone()) {
            Ok(changes) => {
                for c in &changes {
                    eprintln!("dvs-switchd: database: {}", c.describe());
                }
                return changes;
            }
            Err(ReconfigError::PortOpen { name, reason, .. }) => {
                if let Some(pos) = d.config.bridges.iter().position(|b| b.name == name) {
                    let b = d.config.bridges.remove(pos);
                    for p in b.ports {
                        d.errors
                            .insert(p.name, format!("bridge {name} cannot be started: {reason}"));
                    }
                    eprintln!("dvs-switchd: database: bridge {name}: {reason}");
                } else {
                    for b in &mut d.config.bridges {
                        b.ports.retain(|p| p.name != name);
                    }
                    d.errors.insert(name, reason);
                }
            }
            Err(e) => {
                eprintln!("dvs-switchd: database: {e}");
                return Vec::new();
            }
        }
    }
    Vec::new()
}
