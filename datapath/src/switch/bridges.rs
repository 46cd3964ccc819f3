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
//! by replacing the bridge's [`Hub`]: the listeners are stopped (connections close, controllers
//! reconnect, as with OVS), and new ones started on the same bridge. Flows, ports and learned
//! addresses stay.

use super::{lock, Switch, SwitchError, DEFAULT_FLOW};
use crate::bridge::{Bridge, BridgePort};
use crate::config::{BridgeConfig, ConfigError, FailMode};
use crate::flowmod::{self, Command, FlowModRequest};
use crate::ofp::Hub;
use flowtable::mactable::MacTable;
use flowtable::pipeline::Pipeline;
use flowtable::text::parse_flow;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Whoever serves bridges over OpenFlow (the daemon's OpenFlow server). The engine tells it when
/// bridges come and go, and asks it first to bind what a new bridge needs, so that a bridge
/// whose socket cannot be bound refuses the change before anything happened.
pub trait BridgeRuntime: Send + Sync {
    /// Bind what bridge `cfg` needs (its management socket, its `ofp_listen` listeners) without
    /// serving anything yet.
    fn prepare(&self, cfg: &BridgeConfig) -> Result<Box<dyn PreparedBridge>, String>;
    /// Stop serving bridge `name`: listeners closed, connections closed, controller connections
    /// stopped.
    fn stop(&self, name: &str);
}

/// A bridge's listeners, bound, not serving yet. Dropped unstarted, it releases them.
pub trait PreparedBridge: Send {
    /// Serve `hub` on them.
    fn start(self: Box<Self>, hub: Arc<Hub>);
}

/// A bridge built for adding, not yet part of the switch.
pub struct NewBridge {
    hub: Arc<Hub>,
    prepared: Option<Box<dyn PreparedBridge>>,
}

/// Build bridge number `bidx` of `b` with members `list`: its MAC table, then the default flow
/// (not in secure mode) and the static flows, as one all-or-nothing batch through the same path
/// as FLOW_MOD and `dvsctl switch add-flow`.
pub(super) fn new_bridge(
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
            let prepared = match &rt {
                Some(rt) => Some(rt.prepare(b).map_err(|message| {
                    let e = SwitchError::PortOpen {
                        location: b.location.to_string(),
                        port: b.name.clone(),
                        message,
                    };
                    (b.name.clone(), e)
                })?),
                None => None,
            };
            let hub = Arc::new(Hub::with_controllers(
                bridge,
                b.controllers.clone(),
                b.fail_mode,
            ));
            out.push(NewBridge { hub, prepared });
        }
        Ok(out)
    }

    /// Put a built bridge in service: the PMDs get it, then the control plane, then its
    /// OpenFlow listeners start.
    pub fn add_bridge(&self, nb: NewBridge) {
        let NewBridge { hub, prepared } = nb;
        let generation = self.ports.publish(|t| {
            debug_assert_eq!(t.bridges.len(), hub.bridge.index);
            t.bridges.push(hub.bridge.clone());
        });
        self.wait_pmds(generation);
        let mut list = Vec::clone(&self.hubs.load());
        list.push(hub.clone());
        self.hubs.store(Arc::new(list));
        if let Some(p) = prepared {
            p.start(hub);
        }
    }

    /// Take bridge `name` out of service: its ports are removed (and closed), then its OpenFlow
    /// side stops. Returns false when there is no such bridge.
    pub fn remove_bridge(&self, name: &str) -> bool {
        let Some(hub) = self.hub(name) else {
            return false;
        };
        let ports: Vec<String> = hub
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
        hub.close_all();
        let list: Vec<Arc<Hub>> = self
            .hubs
            .load()
            .iter()
            .filter(|h| h.bridge.name != name)
            .cloned()
            .collect();
        self.hubs.store(Arc::new(list));
        true
    }

    /// Give bridge `b.name` a new OpenFlow side from `b`: controllers, fail mode, datapath id
    /// and extra listeners. Its flows, ports and learned addresses stay.
    pub fn reconfigure_openflow(&self, b: &BridgeConfig) -> Result<(), String> {
        let Some(old) = self.hub(&b.name) else {
            return Err(format!("no bridge {}", b.name));
        };
        let rt = self.runtime();
        if let Some(rt) = &rt {
            rt.stop(&b.name);
        }
        old.close_all();
        old.bridge.set_datapath_id(b.datapath_id);
        let hub = Arc::new(Hub::with_controllers(
            old.bridge.clone(),
            b.controllers.clone(),
            b.fail_mode,
        ));
        // Without controllers nothing can keep a standalone bridge failed closed.
        if b.fail_mode == FailMode::Secure || b.controllers.is_empty() {
            old.bridge.set_fail_open(false);
        }
        let list: Vec<Arc<Hub>> = self
            .hubs
            .load()
            .iter()
            .map(|h| {
                if h.bridge.name == b.name {
                    hub.clone()
                } else {
                    h.clone()
                }
            })
            .collect();
        self.hubs.store(Arc::new(list));
        match rt {
            Some(rt) => {
                let p = rt.prepare(b)?;
                p.start(hub);
                Ok(())
            }
            None => Ok(()),
        }
    }
}
