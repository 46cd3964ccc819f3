//! The switch configuration file (`dvs-switchd --config switch.toml`): typed, validated, located.
//!
//! Loading happens in two steps. [`raw`] deserializes the TOML into structs that mirror the file,
//! keeping the byte span of every value that needs checking; [`build`] then validates the whole
//! thing (ranges, VLAN consistency, uniqueness, core availability), applies defaults, assigns
//! OpenFlow port numbers and produces the typed `SwitchConfig` (the engine's type, `datapath::config`). Nothing is started until the
//! whole file has been accepted, so a bad config never leaves a half-built switch behind.
//!
//! Every error names the file, the line and the field (`switch.toml:17: bridge[0].port[1].tag:
//! VLAN 5000 out of range 1..4094`). Flow strings are *not* parsed here (that is the flow
//! table's job, done by the caller); each one carries its [`Location`] so the caller can report a
//! flow-syntax error in the same shape with [`ConfigError::at`] or [`FlowLine::error`].
//!
//! Choices worth knowing:
//! - A trunk's `native_vlan` need not appear in `trunks`; like OVS it is added to the allowed
//!   set, so a frame tagged with the native VLAN is accepted too. `native_vlan` on an access port
//!   is rejected (the access `tag` already is its untagged VLAN).
//! - Relative paths (`rundir`, `flows_file`) are relative to the config file's directory, so a
//!   config works the same from any working directory.
//! - Bridges without `datapath_id` and ports without `ofport` get the lowest numbers (from 1) not
//!   taken explicitly, in file order.
//! - `controllers` (active `tcp:` OpenFlow connections) and `fail_mode` follow OVS: the default
//!   mode is standalone, and a secure bridge starts without the default NORMAL flow. A secure
//!   bridge without controllers is allowed (its flows come from the config, ovs-ofctl or an
//!   agent); the same target listed twice is an error.

mod backend;
mod build;
#[cfg(test)]
mod diff_tests;
mod raw;
#[cfg(test)]
mod tests;

use datapath::config::{usable_cores, ConfigError, SwitchConfig, SwitchSection};
use std::path::{Path, PathBuf};
use switchd_api::DEFAULT_RUNDIR;

/// Read and validate the config file at `path`.
pub fn load(path: &Path) -> Result<SwitchConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Validate config `text` that was read from `path` (used for messages and relative paths).
pub fn parse(text: &str, path: &Path) -> Result<SwitchConfig, ConfigError> {
    build::parse_with_cores(text, path, &usable_cores())
}

/// A configuration without a file: the switch-wide defaults and no bridges (the database front
/// end starts from it).
pub fn defaults() -> SwitchConfig {
    SwitchConfig {
        path: PathBuf::new(),
        switch: SwitchSection {
            rundir: PathBuf::from(DEFAULT_RUNDIR),
            pmd_cores: vec![0],
            pool_frames: 4096,
            mtu: 1500,
            stats_interval_ms: 0,
            pmd_sleep_max_us: 0,
            dpdk_eal_args: Vec::new(),
        },
        bridges: Vec::new(),
    }
}
