//! The checks the engine makes when it builds a bridge, made without building a switch: what
//! `dvs-switchd --check` and a reload run on top of [`super::load`], so that a configuration
//! they accept is one startup accepts too (short of opening ports and binding sockets).
//!
//! A bridge's tables are built by the engine's own `datapath::switch::new_bridge`, without
//! ports: the default `NORMAL` flow unless the bridge is secure, then every static flow, each
//! parsed with the same parser and port names resolved from the bridge's ports, applied as one
//! batch. So a flow the
//! parser refuses (`priority=99999`, an unknown port name) and one the pipeline refuses (a bad
//! `goto_table`, an unknown group or meter, an overlap) are both reported, with the flow's file,
//! line and field.

use datapath::config::{BridgeConfig, ConfigError, SwitchConfig};

/// Check every bridge of `cfg` as the engine will build it; the first problem is the error.
pub fn check(cfg: &SwitchConfig) -> Result<(), ConfigError> {
    cfg.bridges.iter().try_for_each(check_flows)
}

/// Build `b`'s flow tables as the engine does when it creates the bridge (the same function),
/// without ports, and report the first flow it would refuse (with that flow's location).
pub fn check_flows(b: &BridgeConfig) -> Result<(), ConfigError> {
    datapath::switch::new_bridge(0, b, Vec::new()).map(|_| ())
}
