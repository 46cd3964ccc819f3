//! `trace`: what a bridge would do with a packet, step by step, without sending it.
//!
//! The packet is given as a flow match (with `in_port`); the answer walks the same source-MAC
//! check, VLAN admission, pipeline lookup and translation a PMD runs (translation in dry-run
//! mode, so nothing is learned or sent) and prints each step as text. A drop line names its
//! reason, and for a rule that dropped (or a table miss) the table, priority and cookie, so the
//! origin of the dropping rule can be read off the cookie.

use super::params::Trace;
use super::Control;
use datapath::config::VlanMode;
use datapath::cycles::monotonic_ns;
use datapath::drops::DropReason;
use datapath::validity;
use datapath::vlan;
use datapath::xlate::{self, InPort, Mode};
use flowtable::text::parse_match;
use flowtable::trace::Trace as PipelineTrace;
use serde_json::{json, Value};
use switchd_api::rpc::RpcError;

impl Control {
    /// `trace`: how the bridge would handle the packet `p.flow` describes, as text.
    pub(super) fn trace(&self, p: Trace) -> Result<Value, RpcError> {
        let b = self.bridge(&p.bridge)?;
        let view = b.view();
        let resolve = |n: &str| view.port_by_name(n).map(|p| p.ofport);
        let fm = parse_match(&p.flow, &resolve).map_err(|e| RpcError::failed(e.to_string()))?;
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
        // Frame validity comes first, as in the PMD (`datapath::validity`); of its checks only the
        // source MAC is visible in a described packet (a flow match has no lengths).
        if validity::is_group_mac(&key.eth_src) {
            out.push_str(&format!(
                "\nDatapath actions: drop (reason: {})\n",
                DropReason::SrcMacMulticast.name()
            ));
            return Ok(json!({ "text": out }));
        }
        if let Err(r) = vlan::admit(&in_port.vlan, key.vlan_vid()) {
            out.push_str(&format!(
                "\nDatapath actions: drop (reason: {})\n",
                r.name()
            ));
            return Ok(json!({ "text": out }));
        }
        let now = monotonic_ns();
        let mut trace = PipelineTrace::default();
        let res = view.pipeline.lookup(&key, 64, now, Some(&mut trace));
        out.push('\n');
        let names = |ofport: u32| view.port(ofport).map(|p| p.name.clone());
        out.push_str(&trace.render(&names));
        let (dec, _) = {
            let mut macs = b.macs();
            let inp = InPort::from(in_port);
            xlate::translate(&view, inp, &key, res, &mut macs, now, 64, Mode::DryRun)
        };
        let acts = xlate::describe_actions(&dec.actions, &|g| self.sw.port_name(g));
        if dec.outputs() {
            out.push_str(&format!("\nDatapath actions: {}\n", acts.join(",")));
        } else {
            let reason = dec.drop.unwrap_or(DropReason::RuleDrop);
            // A rule without actions, or a table miss, ended the pipeline: name where.
            let at = match reason {
                DropReason::RuleDrop | DropReason::TableMiss => trace.ending(),
                _ => None,
            };
            let at = at.map(|a| format!("; {a}")).unwrap_or_default();
            out.push_str(&format!(
                "\nDatapath actions: drop (reason: {}{at})\n",
                reason.name()
            ));
        }
        Ok(json!({ "text": out }))
    }
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
