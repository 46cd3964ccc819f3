//! The switch: builds ports, bridges and PMD threads from a validated configuration, runs the
//! housekeeping (flow timeouts, MAC aging), and stops cleanly.
//!
//! Construction is all-or-nothing: every port is opened and every static flow parsed before a
//! single PMD starts, and any failure closes what was opened and reports the configuration
//! location that caused it. Runtime changes go through the bridges' snapshot publication, never
//! by stopping PMDs.

use crate::bridge::{Bridge, BridgePort};
use crate::config::{Backend, ConfigError, PortConfig, PortKind, SwitchConfig, VhostRole, XdpMode};
use crate::cycles::monotonic_ns;
use crate::egress::EgressSet;
use crate::flowmod;
use crate::mempool::{PacketPool, JUMBO_FRAME, STD_FRAME};
use crate::pmd::{self, Assignment, PmdShared, PmdStats, RxqRef};
use crate::port::afpacket::{AfPacketOptions, AfPacketPort};
use crate::port::afxdp::{AfXdpOptions, AfXdpPort, XdpMode as AfXdpMode};
use crate::port::dpdk::{self, DpdkOptions, DpdkPort};
use crate::port::mock::{MockHandle, MockPort};
use crate::port::tap::TapPort;
use crate::port::vhost::VhostPort;
use crate::port::Port;
use crate::ports::PortSet;

mod bridges;
mod events;
mod live;
use ::vhost::{Role, VhostConfig};
use arc_swap::ArcSwap;
pub use bridges::{new_bridge, BridgeRuntime, NewBridge, PreparedBridge};
pub use events::{BridgeEvents, PortChange, Quiet, Served};
pub use live::NewPort;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use thiserror::Error;

/// Errors building or running the switch.
#[derive(Debug, Error)]
pub enum SwitchError {
    /// The configuration is invalid (names file, line and field).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A port could not be opened.
    #[error("{location}: cannot open port {port}: {message}")]
    PortOpen {
        /// Where the port is configured.
        location: String,
        /// Port name.
        port: String,
        /// Why.
        message: String,
    },
    /// The packet pool could not be created.
    #[error("packet pool for pmd{pmd}: {message}")]
    Pool {
        /// PMD index.
        pmd: usize,
        /// Why.
        message: String,
    },
    /// A PMD thread could not be started.
    #[error("cannot start pmd{0}: {1}")]
    Thread(usize, std::io::Error),
}

/// A PMD thread and its counters.
pub struct PmdInfo {
    /// Index.
    pub id: usize,
    /// Pinned core.
    pub core: usize,
    /// Counters.
    pub stats: Arc<PmdStats>,
    /// The port-table generation this PMD has picked up (see `ports`).
    pub seen: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

/// The running switch.
pub struct Switch {
    /// The configuration it was built from.
    pub config: SwitchConfig,
    /// Port configurations by switch-wide index (`None`: the port was removed).
    pub port_cfg: Mutex<Vec<Option<PortConfig>>>,
    /// Ports and their (bridge, ofport) by switch-wide index, as the PMDs see them.
    pub ports: Arc<PortSet>,
    /// The bridges in service with who hears their events: the control plane's list of
    /// bridges. The PMDs find bridges by index in the port table instead (see `ports`).
    served: Arc<ArcSwap<Vec<Served>>>,
    /// Who runs a bridge's OpenFlow listeners and controller connections (the daemon's OpenFlow
    /// server), told when bridges come and go while running.
    runtime: Mutex<Option<Arc<dyn BridgeRuntime>>>,
    /// The Open_vSwitch database the bridges come from (`--db`), if not the file.
    database: Mutex<Option<String>>,
    /// Rx-queue assignment.
    pub assignment: Arc<ArcSwap<Assignment>>,
    /// Every port's egress shaping and TCP checksum fill, by switch-wide index.
    pub egress: Arc<EgressSet>,
    /// PMDs.
    pub pmds: Mutex<Vec<PmdInfo>>,
    /// Test handles of `mock` ports, by port name (inject frames, collect transmitted ones).
    pub mock_handles: Vec<(String, MockHandle)>,
    stop: Arc<AtomicBool>,
    /// The configuration in force: `config` plus every live change applied since (see
    /// `reconfig`).
    running: Mutex<SwitchConfig>,
    pools: Mutex<Vec<PacketPool>>,
    housekeeper: Mutex<Option<JoinHandle<()>>>,
}

/// The flow every new bridge starts with, as in OVS: behave like a learning switch. Bridges in
/// fail mode `secure` start without it (as OVS does), so they forward nothing until flows are
/// installed (by the config, a controller or a tool).
pub const DEFAULT_FLOW: &str = "table=0,priority=0,actions=NORMAL";

impl Switch {
    /// Open every port, parse every flow, allocate pools. Starts no thread.
    pub fn build(config: SwitchConfig) -> Result<Switch, SwitchError> {
        let frame = if config.switch.mtu > 1500 {
            JUMBO_FRAME
        } else {
            STD_FRAME
        };
        let mut ports: Vec<Arc<dyn Port>> = Vec::new();
        let mut port_cfg = Vec::new();
        let mut port_home = Vec::new();
        let mut members: Vec<Vec<BridgePort>> = Vec::new();
        let mut mock_handles = Vec::new();
        start_dpdk_if_needed(&config)?;
        for (bidx, b) in config.bridges.iter().enumerate() {
            let mut list = Vec::new();
            for pc in &b.ports {
                let (port, handle) = open_port(pc, frame, config.switch.pmd_cores.len())?;
                if let Some(h) = handle {
                    mock_handles.push((pc.name.clone(), h));
                }
                let gidx = ports.len();
                list.push(
                    BridgePort::new(&pc.name, pc.ofport, gidx, pc.vlan.clone(), port.clone())
                        .with_policing(pc.policing),
                );
                ports.push(port);
                port_cfg.push(Some(pc.clone()));
                port_home.push((bidx, pc.ofport));
            }
            members.push(list);
        }
        let mut bridges = Vec::new();
        for ((bidx, b), list) in config.bridges.iter().enumerate().zip(members) {
            bridges.push(bridges::new_bridge(bidx, b, list)?);
        }
        let served: Vec<Served> = bridges.iter().cloned().map(Served::quiet).collect();
        let n_pmds = config.switch.pmd_cores.len().max(1);
        let mut pools = Vec::new();
        for id in 0..n_pmds {
            pools.push(
                PacketPool::new(config.switch.pool_frames, frame).map_err(|e| {
                    SwitchError::Pool {
                        pmd: id,
                        message: e.to_string(),
                    }
                })?,
            );
        }
        let assignment = round_robin(&ports, n_pmds);
        let egress = Arc::new(EgressSet::default());
        for (gidx, pc) in port_cfg.iter().flatten().enumerate() {
            egress.set(gidx, pc.qos.as_ref(), pc.tcp_checksum_fill);
        }
        Ok(Switch {
            running: Mutex::new(config.clone()),
            config,
            port_cfg: Mutex::new(port_cfg),
            ports: Arc::new(PortSet::new(ports, port_home, bridges)),
            served: Arc::new(ArcSwap::from_pointee(served)),
            runtime: Mutex::new(None),
            database: Mutex::new(None),
            assignment: Arc::new(ArcSwap::from_pointee(assignment)),
            egress,
            pmds: Mutex::new(Vec::new()),
            mock_handles,
            stop: Arc::new(AtomicBool::new(false)),
            pools: Mutex::new(pools),
            housekeeper: Mutex::new(None),
        })
    }

    /// The configuration in force, locked (reconfiguration holds it while it applies a change).
    pub fn running_config(&self) -> std::sync::MutexGuard<'_, SwitchConfig> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The packet-buffer frame size the switch was built with (from its MTU).
    fn frame_size(&self) -> usize {
        if self.config.switch.mtu > 1500 {
            JUMBO_FRAME
        } else {
            STD_FRAME
        }
    }

    /// Start the PMD threads.
    pub fn start(&self) -> Result<(), SwitchError> {
        let pools: Vec<PacketPool> = std::mem::take(&mut *lock(&self.pools));
        let mut pmds = lock(&self.pmds);
        for (id, pool) in pools.into_iter().enumerate() {
            let core = self.config.switch.pmd_cores.get(id).copied();
            let stats = Arc::new(PmdStats::default());
            let seen = Arc::new(AtomicU64::new(0));
            let sh = PmdShared {
                ports: self.ports.clone(),
                seen: seen.clone(),
                assignment: self.assignment.clone(),
                stop: self.stop.clone(),
                sleep_max_us: self.config.switch.pmd_sleep_max_us,
                upcall_rate: self.config.switch.upcall_rate_per_port,
                mtu: self.config.switch.mtu,
                egress: self.egress.clone(),
            };
            let st = stats.clone();
            let handle = std::thread::Builder::new()
                .name(format!("pmd{id}"))
                .spawn(move || pmd::run(id, core, pool, sh, st))
                .map_err(|e| SwitchError::Thread(id, e))?;
            pmds.push(PmdInfo {
                id,
                core: core.unwrap_or(0),
                stats,
                seen,
                handle: Some(handle),
            });
        }
        let (served, stop) = (self.served.clone(), self.stop.clone());
        let h = std::thread::Builder::new()
            .name("housekeeping".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(250));
                    housekeep(&served.load());
                }
            })
            .map_err(|e| SwitchError::Thread(usize::MAX, e))?;
        *lock(&self.housekeeper) = Some(h);
        Ok(())
    }

    /// Periodic work: flow timeouts and MAC aging (also run by the switch's own housekeeping
    /// thread every 250 ms).
    pub fn housekeeping(&self) {
        housekeep(&self.served.load());
    }

    /// Say that the bridges come from the Open_vSwitch database at `addr` (so a file reload is
    /// refused).
    pub fn set_database(&self, addr: &str) {
        *lock(&self.database) = Some(addr.to_string());
    }

    /// The Open_vSwitch database the bridges come from, if they do.
    pub fn database(&self) -> Option<String> {
        lock(&self.database).clone()
    }

    /// Every bridge in service with its events receiver, in configuration order.
    pub fn served_bridges(&self) -> Arc<Vec<Served>> {
        self.served.load_full()
    }

    /// Every bridge in service, in configuration order.
    pub fn bridges(&self) -> Vec<Arc<Bridge>> {
        self.served
            .load()
            .iter()
            .map(|s| s.bridge.clone())
            .collect()
    }

    /// Bridge `name` in service, with its events receiver.
    pub fn served(&self, name: &str) -> Option<Served> {
        self.served
            .load()
            .iter()
            .find(|s| s.bridge.name == name)
            .cloned()
    }

    /// Bridge `name`.
    pub fn bridge(&self, name: &str) -> Option<Arc<Bridge>> {
        self.served(name).map(|s| s.bridge)
    }

    /// Who hears bridge `name`'s events.
    pub fn bridge_events(&self, name: &str) -> Option<Arc<dyn BridgeEvents>> {
        self.served(name).map(|s| s.events)
    }

    /// The bridge at index `bidx` (in service).
    fn served_at(&self, bidx: usize) -> Option<Served> {
        self.served
            .load()
            .iter()
            .find(|s| s.bridge.index == bidx)
            .cloned()
    }

    /// Move a receive queue to another PMD.
    pub fn assign_rxq(&self, port: &str, queue: u16, pmd: usize) -> Result<(), String> {
        let gidx = self
            .port_index(port)
            .ok_or_else(|| format!("no port named {port}"))?;
        // Holding the PMD list serialises concurrent reassignments (read-modify-publish).
        let pmds = lock(&self.pmds);
        let n_pmds = pmds.len();
        if pmd >= n_pmds {
            return Err(format!("no pmd {pmd} (have {n_pmds})"));
        }
        let cur = self.assignment.load_full();
        let mut next: Assignment = (*cur).clone();
        let mut found = None;
        for list in next.iter_mut() {
            if let Some(i) = list.iter().position(|r| r.gidx == gidx && r.queue == queue) {
                found = Some(list.remove(i));
            }
        }
        let r = found.ok_or_else(|| format!("port {port} has no rx queue {queue}"))?;
        next[pmd].push(r);
        self.assignment.store(Arc::new(next));
        Ok(())
    }

    /// Ask every PMD to stop and wait for them.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let mut pmds = lock(&self.pmds);
        for p in pmds.iter_mut() {
            if let Some(h) = p.handle.take() {
                if h.join().is_err() {
                    eprintln!("dvs-switchd: pmd{} had exited with a panic", p.id);
                }
            }
        }
        if let Some(h) = lock(&self.housekeeper).take() {
            let _ = h.join();
        }
    }

    /// Port name by switch-wide index (a removed port keeps its name there).
    pub fn port_name(&self, gidx: usize) -> String {
        self.ports
            .load()
            .ports
            .get(gidx)
            .map(|p| p.name().to_string())
            .unwrap_or_default()
    }

    /// The switch-wide index of the port named `name` (not a removed one).
    pub fn port_index(&self, name: &str) -> Option<usize> {
        lock(&self.port_cfg)
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| p.name == name))
    }

    /// The configuration of the port at `gidx` (`None`: removed or out of range).
    pub fn port_config(&self, gidx: usize) -> Option<PortConfig> {
        lock(&self.port_cfg).get(gidx).cloned().flatten()
    }
}

/// Expire timed-out flows (republishing a bridge's pipeline only when something expired, and
/// sending FLOW_REMOVED to OpenFlow connections for those that asked) and aged-out MAC entries
/// (invalidating caches when any went).
fn housekeep(served: &[Served]) {
    let now = monotonic_ns();
    for s in served {
        let b = &s.bridge;
        let expired = flowmod::expire(b, now);
        if !expired.is_empty() {
            s.events.flows_removed(&expired);
        }
        let changed = {
            let mut macs = b.macs();
            // An address held by the move hold-down may move now: its cached decisions must go.
            macs.expire(now) > 0 || macs.hold_ended(now)
        };
        if changed {
            b.bump_epoch();
        }
        for p in &b.view().ports {
            p.port.refresh_stats();
        }
        for ofport in b.link_changes() {
            s.events.port_changed(PortChange::Modified, ofport);
        }
    }
}

/// Initialise DPDK's EAL once, and only when some port needs it (see [`start_dpdk`]).
fn start_dpdk_if_needed(config: &SwitchConfig) -> Result<(), SwitchError> {
    let Some(first) = config
        .bridges
        .iter()
        .flat_map(|b| &b.ports)
        .find(|p| p.kind == PortKind::Dpdk)
    else {
        return Ok(());
    };
    start_dpdk(&config.switch).map_err(|message| SwitchError::PortOpen {
        location: first.location.to_string(),
        port: first.name.clone(),
        message,
    })
}

/// Initialise DPDK's EAL with `switch.dpdk_eal_args`, or without them with the switch's
/// defaults: in-memory (no files in /dev/hugepages to clean up), no telemetry socket, the first
/// PMD core as EAL main core, and no hugepages (`--no-huge`) when none are reserved.
pub fn start_dpdk(switch: &crate::config::SwitchSection) -> Result<(), String> {
    let args: Vec<String> = if switch.dpdk_eal_args.is_empty() {
        let core = switch.pmd_cores.first().copied().unwrap_or(0);
        let mut a: Vec<String> = ["--in-memory", "--no-telemetry", "-l"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.push(core.to_string());
        if !dpdk::hugepages_available(128) {
            a.extend(["--no-huge".to_string(), "-m".to_string(), "512".to_string()]);
        }
        a
    } else {
        switch.dpdk_eal_args.clone()
    };
    dpdk::init_eal(&args).map_err(|e| format!("DPDK EAL ({}): {e}", args.join(" ")))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn round_robin(ports: &[Arc<dyn Port>], n_pmds: usize) -> Assignment {
    let mut a: Assignment = vec![Vec::new(); n_pmds];
    let mut next = 0;
    for (gidx, p) in ports.iter().enumerate() {
        for queue in 0..p.n_rxq() {
            a[next % n_pmds].push(Arc::new(RxqRef {
                gidx,
                queue,
                packets: AtomicU64::new(0),
            }));
            next += 1;
        }
    }
    a
}

impl Switch {
    /// The test handle of mock port `name`.
    pub fn mock(&self, name: &str) -> Option<&MockHandle> {
        self.mock_handles
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, h)| h)
    }
}

type Opened = (Arc<dyn Port>, Option<MockHandle>);

fn open_port(pc: &PortConfig, frame: usize, pmd_count: usize) -> Result<Opened, SwitchError> {
    let err = |message: String| SwitchError::PortOpen {
        location: pc.location.to_string(),
        port: pc.name.clone(),
        message,
    };
    let opened: Opened = match pc.kind {
        PortKind::AfPacket => {
            let opts = AfPacketOptions {
                frame_size: frame,
                ..AfPacketOptions::default()
            };
            let p = AfPacketPort::open(&pc.name, &pc.interface, opts)
                .map_err(|e| err(e.to_string()))?;
            (Arc::new(p), None)
        }
        PortKind::Tap => {
            let p = TapPort::open(&pc.name, &pc.interface).map_err(|e| err(e.to_string()))?;
            (Arc::new(p), None)
        }
        PortKind::Mock => {
            let (p, h) = MockPort::new(&pc.name);
            (Arc::new(p), Some(h))
        }
        PortKind::AfXdp => {
            let Backend::AfXdp { mode, queue } = &pc.backend else {
                return Err(err("afxdp port without afxdp settings".into()));
            };
            let opts = AfXdpOptions {
                queue: *queue,
                mode: match mode {
                    XdpMode::Auto => AfXdpMode::Auto,
                    XdpMode::Native => AfXdpMode::Native,
                    XdpMode::Generic => AfXdpMode::Generic,
                },
                ..AfXdpOptions::default()
            };
            let p =
                AfXdpPort::open(&pc.name, &pc.interface, opts).map_err(|e| err(e.to_string()))?;
            (Arc::new(p), None)
        }
        PortKind::Dpdk => {
            let Backend::Dpdk { devargs } = &pc.backend else {
                return Err(err("dpdk port without devargs".into()));
            };
            let opts = DpdkOptions {
                rxq: pc.rxq,
                txq: pmd_count.max(1) as u16,
                mtu: pc.mtu,
                ..DpdkOptions::default()
            };
            let p = DpdkPort::open(&pc.name, devargs, opts).map_err(|e| err(e.to_string()))?;
            (Arc::new(p), None)
        }
        PortKind::Vhost => {
            let Backend::Vhost { socket, role, .. } = &pc.backend else {
                return Err(err("vhost port without a socket".into()));
            };
            let cfg = VhostConfig {
                socket: socket.clone(),
                role: match role {
                    VhostRole::Server => Role::Server,
                    VhostRole::Client => Role::Client,
                },
                queue_pairs: pc.rxq,
                // At most MTU_MAX (9000): fits.
                mtu: pc.mtu.min(crate::port::mtu::MTU_MAX) as u16,
            };
            let p = VhostPort::open(&pc.name, cfg).map_err(|e| err(e.to_string()))?;
            (Arc::new(p), None)
        }
    };
    // The port MTU (at most the switch's, which sized `frame`): refused here if the backend's
    // buffers cannot carry it, so the configuration fails rather than the traffic.
    opened.0.set_mtu(pc.mtu).map_err(|e| err(e.to_string()))?;
    Ok(opened)
}
