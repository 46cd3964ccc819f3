//! The switch's management methods, served over JSON-RPC on the control socket.
//!
//! Method names and result shapes are the contract with `dvsctl` (see `cli`). Every flow change
//! goes through `flowmod` (the path OpenFlow FLOW_MOD uses too, so deletes of rules with
//! `send_flow_rem` notify OpenFlow connections) and the bridge's all-or-nothing pipeline edit, so a batch of flows either lands whole or
//! not at all, and the next packet after the reply sees the new tables (the cache epoch moves with
//! every publish).

use crate::ofp::Hub;
use datapath::bridge::Bridge;
use datapath::config::VlanMode;
use datapath::cycles::monotonic_ns;
use datapath::drops::DropReason;
use datapath::flowmod::{self, Command, FlowModRequest};
use datapath::switch::Switch;
use datapath::vlan;
use datapath::xlate::{self, DpAction, InPort, Mode};
use flowtable::pipeline::RemovedReason;
use flowtable::text::{format_flow, parse_flow, parse_match};
use flowtable::trace::Trace;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use switchd_api::rpc::{RpcError, RpcHandler};

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

    fn bridge(&self, params: &Value) -> Result<Arc<Bridge>, RpcError> {
        let name = params
            .get("bridge")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("missing \"bridge\""))?;
        self.sw
            .bridge(name)
            .ok_or_else(|| RpcError::failed(format!("no bridge named {name}")))
    }

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

    fn port_stats(&self, params: &Value) -> Result<Value, RpcError> {
        let filter = params.get("bridge").and_then(Value::as_str);
        if let Some(f) = filter {
            if self.sw.bridge(f).is_none() {
                return Err(RpcError::failed(format!("no bridge named {f}")));
            }
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
            }));
        }
        Ok(Value::Array(out))
    }

    fn drop_stats(&self) -> Value {
        let pmds = self.sw.pmds.lock().unwrap_or_else(|e| e.into_inner());
        let mut m = serde_json::Map::new();
        for r in DropReason::ALL {
            let n: u64 = pmds.iter().map(|p| p.stats.drops.get(*r)).sum();
            m.insert(r.name().to_string(), json!(n));
        }
        Value::Object(m)
    }

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

    fn flow_dump(&self, params: &Value) -> Result<Value, RpcError> {
        let b = self.bridge(params)?;
        let table = params.get("table").and_then(Value::as_u64).map(|t| t as u8);
        let view = b.view();
        let now = monotonic_ns();
        let names = |ofport: u32| view.port(ofport).map(|p| p.name.clone());
        let flows: Vec<String> = view
            .pipeline
            .flows(table)
            .iter()
            .map(|e| format_flow(e, now, &names))
            .collect();
        Ok(json!({ "flows": flows }))
    }

    fn flow_add(&self, params: &Value) -> Result<Value, RpcError> {
        let b = self.bridge(params)?;
        let texts: Vec<String> = match (params.get("flow"), params.get("flows")) {
            (Some(Value::String(s)), _) => vec![s.clone()],
            (_, Some(Value::Array(a))) => a
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| RpcError::invalid_params("\"flows\" must be strings"))?,
            _ => return Err(RpcError::invalid_params("missing \"flow\" or \"flows\"")),
        };
        let view = b.view();
        let resolve = |n: &str| view.port_by_name(n).map(|p| p.ofport);
        let mut reqs = Vec::with_capacity(texts.len());
        for (i, t) in texts.iter().enumerate() {
            let fm = parse_flow(t, &resolve)
                .map_err(|e| RpcError::failed(format!("flow {}: {e}: {t}", i + 1)))?;
            reqs.push(FlowModRequest::from_text(Command::Add, fm));
        }
        drop(view);
        flowmod::apply_batch(&b, &reqs).map_err(|e| {
            RpcError::failed(format!(
                "flow {}: {}: {}",
                e.index + 1,
                e.error,
                texts[e.index]
            ))
        })?;
        Ok(json!({}))
    }

    fn flow_mod(&self, params: &Value) -> Result<Value, RpcError> {
        let b = self.bridge(params)?;
        let text = params
            .get("flow")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("missing \"flow\""))?;
        let strict = params
            .get("strict")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let view = b.view();
        let resolve = |n: &str| view.port_by_name(n).map(|p| p.ofport);
        let fm = parse_flow(text, &resolve).map_err(|e| RpcError::failed(e.to_string()))?;
        drop(view);
        let cmd = if strict {
            Command::ModifyStrict
        } else {
            Command::Modify
        };
        let applied = flowmod::apply_batch(&b, &[FlowModRequest::from_text(cmd, fm)])
            .map_err(|e| RpcError::failed(e.error.to_string()))?;
        Ok(json!({ "modified": applied.modified }))
    }

    fn flow_del(&self, params: &Value) -> Result<Value, RpcError> {
        let b = self.bridge(params)?;
        let text = params.get("match").and_then(Value::as_str).unwrap_or("");
        let strict = params
            .get("strict")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let view = b.view();
        let resolve = |n: &str| view.port_by_name(n).map(|p| p.ofport);
        let fm = parse_match(text, &resolve).map_err(|e| RpcError::failed(e.to_string()))?;
        drop(view);
        let cmd = if strict {
            Command::DeleteStrict
        } else {
            Command::Delete
        };
        let applied = flowmod::apply_batch(&b, &[FlowModRequest::from_text(cmd, fm)])
            .map_err(|e| RpcError::failed(e.error.to_string()))?;
        let n = applied.removed.len();
        if let Some(events) = self.sw.bridge_events(&b.name) {
            let removed: Vec<_> = applied
                .removed
                .into_iter()
                .map(|e| (e, RemovedReason::Delete))
                .collect();
            events.flows_removed(&removed);
        }
        Ok(json!({ "deleted": n }))
    }

    /// Re-read the configuration file and apply the difference (see `reconfig`); with
    /// `"dry_run": true` only say what would change.
    fn reload(&self, params: &Value) -> Result<Value, RpcError> {
        let dry_run = match params.get("dry_run") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(RpcError::invalid_params(format!(
                    "\"dry_run\" must be true or false, not {other}"
                )))
            }
        };
        if let Some(db) = self.sw.database() {
            return Err(RpcError::failed(format!(
                "reload: bridges and ports come from the database {db}: change them with \
                 ovs-vsctl; nothing was changed"
            )));
        }
        let desired = crate::conffile::load(&self.sw.config.path)
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

    fn mac_show(&self, params: &Value) -> Result<Value, RpcError> {
        let b = self.bridge(params)?;
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

    fn trace(&self, params: &Value) -> Result<Value, RpcError> {
        let b = self.bridge(params)?;
        let text = params
            .get("flow")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("missing \"flow\""))?;
        let view = b.view();
        let resolve = |n: &str| view.port_by_name(n).map(|p| p.ofport);
        let fm = parse_match(text, &resolve).map_err(|e| RpcError::failed(e.to_string()))?;
        let (key, _mask) = fm.m.to_key_mask();
        let in_port = view.port(key.in_port).ok_or_else(|| {
            RpcError::failed("the packet needs in_port=<port> naming a port of this bridge")
        })?;
        let mut out = String::new();
        out.push_str(&format!(
            "Ingress: port {} (ofport {}), VLAN mode {}\n",
            in_port.name,
            in_port.ofport,
            describe_vlan(&in_port.vlan)
        ));
        if let Err(r) = vlan::admit(&in_port.vlan, key.vlan_vid()) {
            out.push_str(&format!(
                "\nDatapath actions: drop (reason: {})\n",
                r.name()
            ));
            return Ok(json!({ "text": out }));
        }
        let now = monotonic_ns();
        let mut trace = Trace::default();
        let res = view.pipeline.lookup(&key, 64, now, Some(&mut trace));
        out.push('\n');
        let names = |ofport: u32| view.port(ofport).map(|p| p.name.clone());
        out.push_str(&trace.render(&names));
        let (dec, _) = {
            let mut macs = b.macs();
            let inp = InPort::from(in_port);
            xlate::translate(&view, inp, &key, res, &mut macs, now, 64, Mode::DryRun)
        };
        let acts = describe_actions(&self.sw, &dec.actions);
        if dec.outputs() {
            out.push_str(&format!("\nDatapath actions: {}\n", acts.join(",")));
        } else {
            let reason = dec.drop.unwrap_or(DropReason::RuleDrop);
            out.push_str(&format!(
                "\nDatapath actions: drop (reason: {})\n",
                reason.name()
            ));
        }
        Ok(json!({ "text": out }))
    }
}

/// Datapath actions as `dvsctl switch trace` prints them.
fn describe_actions(sw: &Switch, actions: &[DpAction]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            DpAction::Output(g) => format!("output:{}", sw.port_name(*g)),
            DpAction::PushVlan { tpid, tci } => {
                format!(
                    "push_vlan(tpid=0x{tpid:04x},vid={},pcp={})",
                    tci & 0xfff,
                    tci >> 13
                )
            }
            DpAction::PopVlan => "pop_vlan".to_string(),
            DpAction::SetField(f, v) => format!("set_field:{v:#x}->{}", f.name()),
            DpAction::DecTtl => "dec_ttl".to_string(),
            DpAction::Meter(m) => format!("meter({})", m.0.id),
            DpAction::Controller(c) => format!(
                "controller(reason={},table={},max_len={})",
                if c.reason == xlate::OFPR_NO_MATCH {
                    "no_match"
                } else {
                    "action"
                },
                c.table,
                c.max_len
            ),
            DpAction::Clone(sub) => format!("clone({})", describe_actions(sw, sub).join(",")),
        })
        .collect()
}

fn describe_vlan(m: &VlanMode) -> String {
    match m {
        VlanMode::None => "none (all VLANs as received)".to_string(),
        VlanMode::Access { tag } => format!("access, VLAN {tag}"),
        VlanMode::Trunk { allowed, native } => match native {
            Some(n) => format!("trunk {allowed}, native VLAN {n}"),
            None => format!("trunk {allowed}"),
        },
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
            "switch/show" => Ok(self.show()),
            "port/stats" => self.port_stats(&params),
            "drop/stats" => Ok(self.drop_stats()),
            "pmd/stats" => Ok(Value::Array(pmds_json(&self.sw))),
            "pmd/rxq-show" => Ok(self.rxq_show()),
            "pmd/rxq-assign" => {
                let port = params.get("port").and_then(Value::as_str);
                let queue = params.get("queue").and_then(Value::as_u64);
                let pmd = params.get("pmd").and_then(Value::as_u64);
                match (port, queue, pmd) {
                    (Some(_), Some(q), Some(_)) if q > u64::from(u16::MAX) => {
                        Err(RpcError::invalid_params(format!("queue {q} out of range")))
                    }
                    (Some(p), Some(q), Some(d)) => self
                        .sw
                        .assign_rxq(p, q as u16, d as usize)
                        .map(|_| json!({}))
                        .map_err(RpcError::failed),
                    _ => Err(RpcError::invalid_params("need port, queue and pmd")),
                }
            }
            "flow/dump" => self.flow_dump(&params),
            "flow/add" => self.flow_add(&params),
            "flow/mod" => self.flow_mod(&params),
            "flow/del" => self.flow_del(&params),
            "mac/show" => self.mac_show(&params),
            "mac/flush" => {
                let b = self.bridge(&params)?;
                b.macs().flush_all();
                b.bump_epoch();
                Ok(json!({}))
            }
            "trace" => self.trace(&params),
            "switch/reload" => self.reload(&params),
            "switch/shutdown" => {
                self.shutdown.store(true, Ordering::Relaxed);
                Ok(json!({}))
            }
            _ => Err(RpcError::method_not_found(method)),
        }
    }
}
