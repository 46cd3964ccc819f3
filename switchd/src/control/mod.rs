//! The switch's management methods, served over JSON-RPC on the control socket.
//!
//! Method names and result shapes are the contract with `dvsctl` (see its `cli`). Each method's
//! parameters are decoded into a typed struct first (`params`): a request with an unknown key
//! or a value of the wrong type is refused as `INVALID_PARAMS` and changes nothing. The flow
//! methods, with `flow/dump`'s paging, are in `flows`; `trace` is in `trace`; the status
//! methods, `switch/reload` and the MAC table methods are here.

mod flows;
mod params;
mod trace;

pub use flows::{FlowCursor, FLOW_DUMP_MAX, FLOW_DUMP_MAX_BYTES};

use crate::ofp::Hub;
use datapath::bridge::Bridge;
use datapath::config::VlanMode;
use datapath::cycles::monotonic_ns;
use datapath::drops::DropReason;
use datapath::switch::Switch;
use params::{BridgeOnly, PortStats, Reload, RxqAssign};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use switchd_api::rpc::{decode, RpcError, RpcHandler};

/// The RPC handler: a switch plus a shutdown flag for `switch/shutdown`.
pub struct Control {
    sw: Arc<Switch>,
    shutdown: Arc<AtomicBool>,
}

impl Control {
    /// Serve `sw`; `shutdown` is set when a client asks the switch to exit.
    pub fn new(sw: Arc<Switch>, shutdown: Arc<AtomicBool>) -> Control {
        Control { sw, shutdown }
    }

    /// The bridge named `name`.
    fn bridge(&self, name: &str) -> Result<Arc<Bridge>, RpcError> {
        self.sw
            .bridge(name)
            .ok_or_else(|| RpcError::failed(format!("no bridge named {name}")))
    }

    /// `switch/show`: bridges, ports with their backend details, OpenFlow state and PMDs.
    fn show(&self) -> Value {
        let bridges: Vec<Value> = self
            .sw
            .served_bridges()
            .iter()
            .map(|served| {
                let b = &served.bridge;
                let hub = served.events.clone().into_any().downcast::<Hub>().ok();
                let view = b.view();
                let ports: Vec<Value> = view
                    .ports
                    .iter()
                    .map(|p| {
                        let pc = self.sw.port_config(p.gidx);
                        let (mode, tag, trunks, native) = match &p.vlan {
                            VlanMode::None => ("none", None, None, None),
                            VlanMode::Access { tag } => ("access", Some(*tag), None, None),
                            VlanMode::Trunk { allowed, native } => {
                                ("trunk", None, Some(allowed.to_string()), *native)
                            }
                        };
                        let mut details = p.port.details();
                        if let (
                            Some(datapath::config::Backend::Vhost { mac: Some(m), .. }),
                            Some(d),
                        ) = (pc.as_ref().map(|c| &c.backend), details.as_object_mut())
                        {
                            d.insert(
                                "vm_mac".into(),
                                json!(packet::EthernetAddress(*m).to_string()),
                            );
                        }
                        let policing = pc.as_ref().and_then(|c| c.policing);
                        let interface = pc.map(|c| c.interface);
                        json!({
                            "name": p.name, "ofport": p.ofport, "kind": p.port.kind(),
                            "interface": interface, "vlan_mode": mode, "tag": tag,
                            "trunks": trunks, "native_vlan": native, "link_up": p.port.link_up(),
                            "ingress_policing": policing, "details": details,
                            "drops": p.port.counters().drops.snapshot(),
                        })
                    })
                    .collect();
                let macs = b.macs();
                let mac_table = json!({
                    "entries": macs.len(), "moves": macs.moves(), "flaps_held": macs.flaps(),
                });
                drop(macs);
                // A bridge the OpenFlow server does not serve (yet) has no OpenFlow state.
                let openflow = hub.map_or(Value::Null, |hub| {
                    let mut o = serde_json::to_value(hub.fail_status()).unwrap_or(Value::Null);
                    if let Value::Object(o) = &mut o {
                        o.insert("packet_io".into(), json!(hub.packet_io.snapshot()));
                    }
                    o
                });
                json!({"name": b.name, "datapath_id": format!("{:016x}", b.datapath_id()),
                       "mac_table": mac_table, "openflow": openflow, "ports": ports})
            })
            .collect();
        let pmds: Vec<Value> = pmds_json(&self.sw);
        json!({"version": env!("CARGO_PKG_VERSION"), "pmds": pmds, "bridges": bridges})
    }

    /// `port/stats`: every port's counters, or one bridge's ports'.
    fn port_stats(&self, p: PortStats) -> Result<Value, RpcError> {
        let filter = p.bridge.as_deref();
        if let Some(f) = filter {
            self.bridge(f)?;
        }
        let mut out = Vec::new();
        let table = self.sw.ports.load();
        for (port, &(bidx, ofport)) in table.ports.iter().zip(&table.home) {
            if port.kind() == "removed" {
                continue;
            }
            let bname = &table.bridges[bidx].name;
            if filter.is_some_and(|f| f != bname) {
                continue;
            }
            let s = port.counters().snapshot();
            out.push(json!({
                "bridge": bname, "name": port.name(), "ofport": ofport, "link_up": port.link_up(),
                "rx_packets": s.rx_packets, "rx_bytes": s.rx_bytes, "rx_dropped": s.rx_dropped,
                "rx_errors": s.rx_errors, "tx_packets": s.tx_packets, "tx_bytes": s.tx_bytes,
                "tx_dropped": s.tx_dropped, "tx_errors": s.tx_errors,
                "rx_runts_padded": s.rx_runts_padded, "drops": s.drops,
            }));
        }
        Ok(Value::Array(out))
    }

    /// `port/drops`: the switch-wide drop counters (as `drop/stats`) and, per port, the drops
    /// charged to it as the ingress port, by reason (non-zero reasons only).
    fn port_drops(&self, p: PortStats) -> Result<Value, RpcError> {
        let stats = self.port_stats(p)?;
        let ports: Vec<Value> = stats
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        json!({"bridge": r["bridge"], "name": r["name"], "ofport": r["ofport"],
                               "rx_dropped": r["rx_dropped"], "drops": r["drops"]})
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(json!({ "reasons": self.drop_stats(), "ports": ports }))
    }

    /// `drop/stats`: every drop reason with its count, summed over the PMDs.
    fn drop_stats(&self) -> Value {
        let pmds = self.sw.pmds.lock().unwrap_or_else(|e| e.into_inner());
        let mut m = serde_json::Map::new();
        for r in DropReason::ALL {
            let n: u64 = pmds.iter().map(|p| p.stats.drops.get(*r)).sum();
            m.insert(r.name().to_string(), json!(n));
        }
        Value::Object(m)
    }

    /// `pmd/rxq-show`: which receive queues each PMD polls.
    fn rxq_show(&self) -> Value {
        let assign = self.sw.assignment.load();
        let pmds = self.sw.pmds.lock().unwrap_or_else(|e| e.into_inner());
        let out: Vec<Value> = pmds
            .iter()
            .map(|p| {
                let rxqs: Vec<Value> = assign
                    .get(p.id)
                    .map(|l| {
                        l.iter()
                            .map(|r| {
                                json!({"port": self.sw.port_name(r.gidx), "queue": r.queue,
                                       "packets": r.packets.load(Ordering::Relaxed)})
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                json!({"pmd": p.id, "core": p.core, "rxqs": rxqs})
            })
            .collect();
        Value::Array(out)
    }

    /// `switch/reload`: re-read the configuration file and apply the difference (see `reconfig`); with
    /// `"dry_run": true` only say what would change.
    fn reload(&self, p: Reload) -> Result<Value, RpcError> {
        let dry_run = p.dry_run;
        if let Some(db) = self.sw.database() {
            return Err(RpcError::failed(format!(
                "reload: bridges and ports come from the database {db}: change them with \
                 ovs-vsctl; nothing was changed"
            )));
        }
        let desired = crate::conffile::load_checked(&self.sw.config.path)
            .map_err(|e| RpcError::failed(format!("reload: {e}; nothing was changed")))?;
        if dry_run {
            let plan = datapath::reconfig::plan(&self.sw, desired);
            let (live, restart): (Vec<_>, Vec<_>) = plan.iter().partition(|c| c.live());
            let text = |v: Vec<&datapath::reconfig::Change>| -> Vec<String> {
                v.into_iter()
                    .map(datapath::reconfig::Change::describe)
                    .collect()
            };
            return Ok(json!({ "would_apply": text(live), "needs_restart": text(restart) }));
        }
        let applied = datapath::reconfig::apply(&self.sw, desired)
            .map_err(|e| RpcError::failed(format!("reload: {e}")))?;
        let applied: Vec<String> = applied
            .iter()
            .map(datapath::reconfig::Change::describe)
            .collect();
        Ok(json!({ "applied": applied }))
    }

    /// `mac/show`: a bridge's learned MAC table.
    fn mac_show(&self, p: BridgeOnly) -> Result<Value, RpcError> {
        let b = self.bridge(&p.bridge)?;
        let view = b.view();
        let entries = b.macs().entries(monotonic_ns());
        let out: Vec<Value> = entries
            .iter()
            .map(|e| {
                let name = view.port(e.port).map(|p| p.name.clone()).unwrap_or_default();
                let m = e.mac;
                json!({
                    "port": name, "ofport": e.port, "vlan": e.vlan,
                    "mac": format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]),
                    "age": e.age_secs,
                })
            })
            .collect();
        Ok(Value::Array(out))
    }
}

/// `pmd/stats`: every PMD's counters.
/// Longest wait for a PMD to answer a megaflow dump.
const DUMP_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Control {
    /// `pmd/megaflows`: each PMD's current megaflows (`[{pmd, megaflows: [{bridge, match,
    /// actions}]}]`); a PMD that does not answer within two seconds is reported as such.
    fn megaflows(&self, p: params::Megaflows) -> Result<Value, RpcError> {
        let limit = p.limit.unwrap_or(1000).min(100_000);
        let pmds: Vec<(usize, Arc<datapath::pmd::PmdStats>)> = {
            let pmds = self.sw.pmds.lock().unwrap_or_else(|e| e.into_inner());
            pmds.iter().map(|p| (p.id, p.stats.clone())).collect()
        };
        let mut out = Vec::new();
        for (id, stats) in pmds {
            let entry = match stats.dump.request(limit, DUMP_WAIT) {
                Some(lines) => {
                    let flows: Vec<Value> = lines
                        .iter()
                        .map(|l| {
                            json!({
                                "bridge": l.bridge,
                                "match": l.matches,
                                "actions": l.actions,
                            })
                        })
                        .collect();
                    json!({ "pmd": id, "megaflows": flows })
                }
                None => json!({ "pmd": id, "error": "the PMD did not answer" }),
            };
            out.push(entry);
        }
        Ok(Value::Array(out))
    }
}

fn pmds_json(sw: &Switch) -> Vec<Value> {
    let pmds = sw.pmds.lock().unwrap_or_else(|e| e.into_inner());
    pmds.iter()
        .map(|p| serde_json::to_value(p.stats.view(p.id, p.core)).unwrap_or(Value::Null))
        .collect()
}

impl RpcHandler for Control {
    fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        match method {
            "switch/show" => decode::<()>(params).map(|()| self.show()),
            "port/stats" => self.port_stats(decode(params)?),
            "drop/stats" => decode::<()>(params).map(|()| self.drop_stats()),
            "port/drops" => self.port_drops(decode(params)?),
            "pmd/stats" => decode::<()>(params).map(|()| Value::Array(pmds_json(&self.sw))),
            "pmd/rxq-show" => decode::<()>(params).map(|()| self.rxq_show()),
            "pmd/megaflows" => self.megaflows(decode(params)?),
            "pmd/rxq-assign" => {
                let p: RxqAssign = decode(params)?;
                self.sw
                    .assign_rxq(&p.port, p.queue, p.pmd)
                    .map(|_| json!({}))
                    .map_err(RpcError::failed)
            }
            "flow/dump" => self.flow_dump(decode(params)?),
            "flow/add" => self.flow_add(decode(params)?),
            "flow/mod" => self.flow_mod(decode(params)?),
            "flow/del" => self.flow_del(decode(params)?),
            "mac/show" => self.mac_show(decode(params)?),
            "mac/flush" => {
                let p: BridgeOnly = decode(params)?;
                let b = self.bridge(&p.bridge)?;
                b.macs().flush_all();
                b.bump_epoch();
                Ok(json!({}))
            }
            "trace" => self.trace(decode(params)?),
            "switch/reload" => self.reload(decode(params)?),
            "switch/shutdown" => {
                decode::<()>(params)?;
                self.shutdown.store(true, Ordering::Relaxed);
                Ok(json!({}))
            }
            _ => Err(RpcError::method_not_found(method)),
        }
    }
}
