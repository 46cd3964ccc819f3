//! Ports added to and removed from a running switch (see `crate::ports` for why the order of
//! the steps makes them safe for the PMDs, and `crate::reconfig` for who calls these).

use super::{lock, open_port, PortChange, Switch, SwitchError};
use crate::bridge::BridgePort;
use crate::config::PortConfig;
use crate::pmd::{Assignment, RxqRef};
use crate::port::Port;
use crate::ports::GonePort;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

/// How long a change waits for the PMDs to pick up a new port table (they do between bursts:
/// microseconds, or one nap).
const PMD_ACK: Duration = Duration::from_secs(2);

/// A port opened for adding, not yet part of the switch.
pub struct NewPort {
    bridge: String,
    config: PortConfig,
    port: Arc<dyn Port>,
}

impl Switch {
    /// Open the port `pc` of bridge `bridge` without adding it anywhere yet (so that a reload
    /// can open every new port before it changes anything). The bridge need not exist yet; it
    /// must when the port is added.
    pub fn open_new_port(&self, bridge: &str, pc: &PortConfig) -> Result<NewPort, SwitchError> {
        let (port, _mock) = open_port(pc, self.frame_size(), self.config.switch.pmd_cores.len())?;
        Ok(NewPort {
            bridge: bridge.to_string(),
            config: pc.clone(),
            port,
        })
    }

    /// Make an opened port part of the switch: table, bridge view, MAC limit, rx queues.
    /// Returns false (and closes the port) when its bridge is not in service.
    pub fn add_port(&self, o: NewPort) -> bool {
        let NewPort {
            bridge,
            config: pc,
            port,
        } = o;
        let Some(served) = self.served(&bridge) else {
            return false;
        };
        let bidx = served.bridge.index;
        let gidx = {
            let mut cfg = lock(&self.port_cfg);
            cfg.push(Some(pc.clone()));
            cfg.len() - 1
        };
        let generation = self.ports.publish(|t| {
            t.ports.push(port.clone());
            t.home.push((bidx, pc.ofport));
        });
        self.wait_pmds(generation);
        let bridge = &served.bridge;
        if let Some(l) = pc.mac_limit {
            bridge.macs().set_port_limit(pc.ofport, Some(l));
        }
        let _ = bridge.edit_view(|v| {
            v.by_ofport.insert(pc.ofport, v.ports.len());
            v.ports.push(
                BridgePort::new(&pc.name, pc.ofport, gidx, pc.vlan.clone(), port.clone())
                    .with_policing(pc.policing),
            );
            Ok::<_, ()>(())
        });
        self.egress.set(gidx, pc.qos.as_ref(), pc.tcp_checksum_fill);
        self.assign_new_queues(gidx, port.n_rxq());
        served.events.port_changed(PortChange::Added, pc.ofport);
        true
    }

    /// Take port `name` out of the switch; it is closed (dropped) here, once no PMD can touch it.
    /// Returns false when there is no such port.
    pub fn remove_port(&self, name: &str) -> bool {
        let Some(gidx) = self.port_index(name) else {
            return false;
        };
        let (bidx, ofport) = self.ports.load().home[gidx];
        let bridge = self.ports.load().bridges[bidx].clone();
        // Out of the rx assignment and the bridge first: after this no new decision names it.
        {
            let _pmds = lock(&self.pmds);
            let cur = self.assignment.load_full();
            let next: Assignment = cur
                .iter()
                .map(|l| l.iter().filter(|r| r.gidx != gidx).cloned().collect())
                .collect();
            self.assignment.store(Arc::new(next));
        }
        if let Some(served) = self.served_at(bidx) {
            served.events.port_changed(PortChange::Deleted, ofport);
        }
        let _ = bridge.edit_view(|v| {
            v.ports.retain(|p| p.gidx != gidx);
            v.by_ofport = v
                .ports
                .iter()
                .enumerate()
                .map(|(i, p)| (p.ofport, i))
                .collect();
            Ok::<_, ()>(())
        });
        {
            let mut macs = bridge.macs();
            macs.flush_port(ofport);
            macs.set_port_limit(ofport, None);
        }
        bridge.bump_epoch();
        // Packets still queued for its shaper go to the stand-in (which counts them dropped).
        self.egress.set(gidx, None, false);
        let old = self.ports.load().ports[gidx].clone();
        let generation = self.ports.publish(|t| {
            t.ports[gidx] = Arc::new(GonePort::new(name));
        });
        lock(&self.port_cfg)[gidx] = None;
        self.wait_pmds(generation);
        // The last reference (PMDs have let go of the old table): the backend closes here.
        drop(old);
        true
    }

    /// Record the configurations of running ports changed in place (VLAN, policing, MAC
    /// limit), so that what the switch shows is what it does.
    pub fn update_port_configs<'a>(&self, ports: impl IntoIterator<Item = &'a PortConfig>) {
        let mut cfg = lock(&self.port_cfg);
        for pc in ports {
            if let Some(slot) = cfg
                .iter_mut()
                .find(|c| c.as_ref().is_some_and(|c| c.name == pc.name))
            {
                *slot = Some(pc.clone());
            }
        }
    }

    /// Change port `name`'s egress shaping and TCP checksum fill in place (the port, its
    /// counters and the packets queued for it stay). Returns false when there is no such port.
    pub fn set_port_egress(
        &self,
        name: &str,
        qos: Option<&crate::config::ShaperConfig>,
        tcp_checksum_fill: bool,
    ) -> bool {
        let Some(gidx) = self.port_index(name) else {
            return false;
        };
        self.egress.set(gidx, qos, tcp_checksum_fill);
        true
    }

    /// Wait until every running PMD works with port-table `generation` or later.
    pub(super) fn wait_pmds(&self, generation: u64) {
        let seen: Vec<Arc<AtomicU64>> = lock(&self.pmds)
            .iter()
            .filter(|p| p.running())
            .map(|p| p.seen.clone())
            .collect();
        if !self.ports.wait_seen(&seen, generation, PMD_ACK) {
            eprintln!(
                "dvs-switchd: a PMD did not pick up port table {generation} within {PMD_ACK:?}"
            );
        }
    }

    /// Give the new port's queues to the PMDs with the fewest.
    fn assign_new_queues(&self, gidx: usize, queues: u16) {
        let pmds = lock(&self.pmds);
        let n = pmds.len().max(1);
        let cur = self.assignment.load_full();
        let mut next: Assignment = (*cur).clone();
        next.resize(n, Vec::new());
        for queue in 0..queues {
            let (least, _) = next
                .iter()
                .enumerate()
                .min_by_key(|(_, l)| l.len())
                .unwrap_or((0, &Vec::new()));
            next[least].push(Arc::new(RxqRef {
                gidx,
                queue,
                packets: AtomicU64::new(0),
            }));
        }
        self.assignment.store(Arc::new(next));
    }
}

impl super::PmdInfo {
    /// The thread is alive (not stopped or exited).
    fn running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }
}
