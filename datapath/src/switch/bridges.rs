//! Bridges built, added to, removed from and re-configured in a running switch.
//!
//! A bridge is added in two steps, like a port: [`Switch::build_bridges`] makes the bridge (its
//! static flows parsed and installed, so a bad flow refuses the change before anything happened)
//! and binds its OpenFlow listeners through the [`BridgeRuntime`]; [`Switch::add_bridge`] then
//! publishes it in the port table (waiting until every PMD has it) and in the list of bridges in
//! service, and starts its listeners. Its ports are added afterwards, as any port.
//!
//! A removed bridge loses its ports first (each removed as any port), then its OpenFlow side;
//! its slot in the port table stays, like a removed port's (indexes are never reused).
//!
//! The OpenFlow side of a bridge (controllers, fail mode, datapath id, extra listeners) changes
//! by replacing its events receiver (see `events`): the runtime's listeners are stopped
//! (connections close, controllers reconnect, as with OVS), and new ones started on the same
//! bridge. Flows, ports and learned addresses stay.

use super::events::{BridgeEvents, Served};
use super::{lock, Switch, SwitchError, DEFAULT_FLOW};
use crate::bridge::{Bridge, BridgePort};
use crate::config::{BridgeConfig, ConfigError, FailMode};
use crate::flowmod::{self, Command, FlowModRequest};
use flowtable::mactable::MacTable;
use flowtable::pipeline::Pipeline;
use flowtable::text::parse_flow;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Whoever serves bridges over OpenFlow (the daemon's OpenFlow server). The engine tells it when
/// bridges come and go, and asks it first to bind what a new bridge needs, so that a bridge
/// whose socket cannot be bound refuses the change before anything happened.
pub trait BridgeRuntime: Send + Sync {
    /// Bind what `bridge` (configured as `cfg`) needs, such as its management socket and its
    /// `ofp_listen` listeners, without serving anything yet.
    fn prepare(
        &self,
        bridge: &Arc<Bridge>,
        cfg: &BridgeConfig,
    ) -> Result<Box<dyn PreparedBridge>, String>;
    /// Stop serving bridge `name`: listeners closed, connections closed, controller connections
    /// stopped.
    fn stop(&self, name: &str);
}

/// A bridge's listeners, bound, not serving yet. Dropped unstarted, it releases them.
pub trait PreparedBridge: Send {
    /// Who will hear the bridge's events once it is served.
    fn events(&self) -> Arc<dyn BridgeEvents>;
    /// Start serving.
    fn start(self: Box<Self>);
}

/// A bridge built for adding, not yet part of the switch.
pub struct NewBridge {
    served: Served,
    prepared: Option<Box<dyn PreparedBridge>>,
}

/// Build bridge number `bidx` of `b` with members `list`: its MAC table, then the default flow
/// (not in secure mode) and the static flows, as one all-or-nothing batch through the same path
/// as FLOW_MOD and `dvsctl switch add-flow`. Front ends call it without members to check a
/// configuration the way startup will (`dvs-switchd --check`).
pub fn new_bridge(
    bidx: usize,
    b: &BridgeConfig,
    list: Vec<BridgePort>,
) -> Result<Arc<Bridge>, ConfigError> {
    // Flows name ports by name: resolve them from the configuration (a bridge added while
    // running gets its ports after its flows).
    let resolve = |name: &str| b.ports.iter().find(|p| p.name == name).map(|p| p.ofport);
    let mut reqs = Vec::with_capacity(b.flows.len() + 1);
    let mut sources = Vec::with_capacity(b.flows.len() + 1);
    if b.fail_mode == FailMode::Standalone {
        let default = parse_flow(DEFAULT_FLOW, &resolve)
            .map_err(|e| ConfigError::at(b.location.clone(), format!("default flow: {e}")))?;
        reqs.push(FlowModRequest::from_text(Command::Add, default));
        sources.push(None);
    }
    for fl in &b.flows {
        let fm = parse_flow(&fl.text, &resolve)
            .map_err(|e| ConfigError::at(fl.source.clone(), format!("{e}")))?;
        reqs.push(FlowModRequest::from_text(Command::Add, fm));
        sources.push(Some(fl));
    }
    let mut macs = MacTable::new(b.mac_aging_secs, b.mac_limit);
    for p in &b.ports {
        if let Some(l) = p.mac_limit {
            macs.set_port_limit(p.ofport, Some(l));
        }
    }
    let bridge = Arc::new(Bridge::new(
        bidx,
        b.name.clone(),
        b.datapath_id,
        list,
        Pipeline::default(),
        macs,
        // Each bridge has its own epoch: a MAC storm in one DVS must not flush the caches of
        // another.
        Arc::new(AtomicU64::new(1)),
    ));
    flowmod::apply_batch(&bridge, &reqs).map_err(|e| {
        match sources.get(e.index).copied().flatten() {
            Some(fl) => ConfigError::at(fl.source.clone(), format!("{}", e.error)),
            None => ConfigError::at(b.location.clone(), format!("default flow: {}", e.error)),
        }
    })?;
    Ok(bridge)
}

impl Switch {
    /// Let `rt` serve bridges added or re-configured from now on (the OpenFlow server registers
    /// itself when it starts).
    pub fn set_runtime(&self, rt: Arc<dyn BridgeRuntime>) {
        *lock(&self.runtime) = Some(rt);
    }

    fn runtime(&self) -> Option<Arc<dyn BridgeRuntime>> {
        lock(&self.runtime).clone()
    }

    /// Build the bridges `cfgs` (without their ports) and bind their listeners, changing
    /// nothing yet. They take the next bridge indexes, in order: add them with
    /// [`Switch::add_bridge`] in the same order, before any other bridge is built. An error
    /// names the bridge.
    pub fn build_bridges(
        &self,
        cfgs: &[&BridgeConfig],
    ) -> Result<Vec<NewBridge>, (String, SwitchError)> {
        let first = self.ports.load().bridges.len();
        let rt = self.runtime();
        let mut out = Vec::with_capacity(cfgs.len());
        for (i, b) in cfgs.iter().enumerate() {
            let bridge =
                new_bridge(first + i, b, Vec::new()).map_err(|e| (b.name.clone(), e.into()))?;
            let mut served = Served::quiet(bridge);
            let prepared = match &rt {
                Some(rt) => {
                    let p = rt.prepare(&served.bridge, b).map_err(|message| {
                        let e = SwitchError::PortOpen {
                            location: b.location.to_string(),
                            port: b.name.clone(),
                            message,
                        };
                        (b.name.clone(), e)
                    })?;
                    served.events = p.events();
                    Some(p)
                }
                None => None,
            };
            out.push(NewBridge { served, prepared });
        }
        Ok(out)
    }

    /// Put a built bridge in service: the PMDs get it, then the control plane, then its
    /// OpenFlow listeners start.
    pub fn add_bridge(&self, nb: NewBridge) {
        let NewBridge { served, prepared } = nb;
        let generation = self.ports.publish(|t| {
            debug_assert_eq!(t.bridges.len(), served.bridge.index);
            t.bridges.push(served.bridge.clone());
        });
        self.wait_pmds(generation);
        let mut list = Vec::clone(&self.served.load());
        list.push(served);
        self.served.store(Arc::new(list));
        if let Some(p) = prepared {
            p.start();
        }
    }

    /// Take bridge `name` out of service: its ports are removed (and closed), then its OpenFlow
    /// side stops. Returns false when there is no such bridge.
    pub fn remove_bridge(&self, name: &str) -> bool {
        let Some(served) = self.served(name) else {
            return false;
        };
        let ports: Vec<String> = served
            .bridge
            .view()
            .ports
            .iter()
            .map(|p| p.name.clone())
            .collect();
        for p in ports {
            self.remove_port(&p);
        }
        if let Some(rt) = self.runtime() {
            rt.stop(name);
        }
        served.events.close();
        let list: Vec<Served> = self
            .served
            .load()
            .iter()
            .filter(|s| s.bridge.name != name)
            .cloned()
            .collect();
        self.served.store(Arc::new(list));
        true
    }

    /// Replace who hears bridge `name`'s events (the OpenFlow server, for the bridges the
    /// switch was built with). The previous receiver is closed. Returns false when there is no
    /// such bridge.
    pub fn set_events(&self, name: &str, events: Arc<dyn BridgeEvents>) -> bool {
        let Some(old) = self.served(name) else {
            return false;
        };
        self.swap_events(name, events);
        old.events.close();
        true
    }

    fn swap_events(&self, name: &str, events: Arc<dyn BridgeEvents>) {
        let list: Vec<Served> = self
            .served
            .load()
            .iter()
            .map(|s| {
                if s.bridge.name == name {
                    Served {
                        bridge: s.bridge.clone(),
                        events: events.clone(),
                    }
                } else {
                    s.clone()
                }
            })
            .collect();
        self.served.store(Arc::new(list));
    }

    /// Give bridge `b.name` a new OpenFlow side from `b`: controllers, fail mode, datapath id
    /// and extra listeners. Its flows, ports and learned addresses stay.
    pub fn reconfigure_openflow(&self, b: &BridgeConfig) -> Result<(), String> {
        let Some(old) = self.served(&b.name) else {
            return Err(format!("no bridge {}", b.name));
        };
        let rt = self.runtime();
        if let Some(rt) = &rt {
            rt.stop(&b.name);
        }
        old.events.close();
        old.bridge.set_datapath_id(b.datapath_id);
        // Without controllers nothing can keep a standalone bridge failed closed.
        if b.fail_mode == FailMode::Secure || b.controllers.is_empty() {
            old.bridge.set_fail_open(false);
        }
        let Some(rt) = rt else {
            return Ok(());
        };
        match rt.prepare(&old.bridge, b) {
            Ok(p) => {
                self.swap_events(&b.name, p.events());
                p.start();
                Ok(())
            }
            Err(e) => {
                self.swap_events(&b.name, Arc::new(super::events::Quiet));
                Err(e)
            }
        }
    }
}
