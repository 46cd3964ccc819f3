//! The checks the engine makes when it builds a bridge, made without building a switch: what
//! `dvs-switchd --check` and a reload run on top of [`super::load`], so that a configuration
//! they accept is one startup accepts too (short of opening ports and binding sockets).
//!
//! A bridge's tables are built the way the engine builds them (`datapath::switch`'s
//! `new_bridge`): the default `NORMAL` flow unless the bridge is secure, then every static flow,
//! each parsed with the same parser and port names resolved from the bridge's ports, applied as
//! one batch through `flowmod::apply_batch` to a scratch bridge with no ports. So a flow the
//! parser refuses (`priority=99999`, an unknown port name) and one the pipeline refuses (a bad
//! `goto_table`, an unknown group or meter, an overlap) are both reported, with the flow's file,
//! line and field.

use datapath::bridge::Bridge;
use datapath::config::{BridgeConfig, ConfigError, FailMode, SwitchConfig};
use datapath::flowmod::{self, Command, FlowModRequest};
use datapath::switch::DEFAULT_FLOW;
use flowtable::mactable::MacTable;
use flowtable::pipeline::Pipeline;
use flowtable::text::parse_flow;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Check every bridge of `cfg` as the engine will build it; the first problem is the error.
pub fn check(cfg: &SwitchConfig) -> Result<(), ConfigError> {
    cfg.bridges.iter().try_for_each(check_flows)
}

/// Build `b`'s flow tables as the engine does when it creates the bridge, on a scratch bridge
/// without ports, and report the first flow it would refuse (with that flow's location).
pub fn check_flows(b: &BridgeConfig) -> Result<(), ConfigError> {
    let resolve = |name: &str| b.ports.iter().find(|p| p.name == name).map(|p| p.ofport);
    let mut reqs = Vec::with_capacity(b.flows.len() + 1);
    // The location of each request's flow; `None` for the default flow.
    let mut sources = Vec::with_capacity(b.flows.len() + 1);
    if b.fail_mode == FailMode::Standalone {
        let default = parse_flow(DEFAULT_FLOW, &resolve)
            .map_err(|e| ConfigError::at(b.location.clone(), format!("default flow: {e}")))?;
        reqs.push(FlowModRequest::from_text(Command::Add, default));
        sources.push(None);
    }
    for fl in &b.flows {
        let fm = parse_flow(&fl.text, &resolve)
            .map_err(|e| ConfigError::at(fl.source.clone(), e.to_string()))?;
        reqs.push(FlowModRequest::from_text(Command::Add, fm));
        sources.push(Some(&fl.source));
    }
    let scratch = Bridge::new(
        0,
        b.name.clone(),
        b.datapath_id,
        Vec::new(),
        Pipeline::default(),
        MacTable::new(b.mac_aging_secs, b.mac_limit),
        Arc::new(AtomicU64::new(1)),
    );
    flowmod::apply_batch(&scratch, &reqs).map_err(|e| {
        match sources.get(e.index).copied().flatten() {
            Some(source) => ConfigError::at(source.clone(), e.error.to_string()),
            None => ConfigError::at(b.location.clone(), format!("default flow: {}", e.error)),
        }
    })?;
    Ok(())
}
