//! The switch configuration file (`dvs-switchd --config switch.toml`): typed, validated, located.
//!
//! Loading happens in two steps. [`raw`] deserializes the TOML into structs that mirror the file,
//! keeping the byte span of every value that needs checking; [`build`] then validates the whole
//! thing (ranges, VLAN consistency, uniqueness, core availability), applies defaults, assigns
//! OpenFlow port numbers and produces the typed `SwitchConfig` (the engine's type, `datapath::config`). Nothing is started until the
//! whole file has been accepted, so a bad config never leaves a half-built switch behind.
//!
//! Every error names the file, the line and the field (`switch.toml:17: bridge[0].port[1].tag:
//! VLAN 5000 out of range 1..4094`). Flow strings are *not* parsed by [`load`] (that is the flow
//! table's job, done by the engine when it builds a bridge); each one carries its [`Location`]
//! so a flow-syntax error is reported in the same shape with [`ConfigError::at`] or
//! [`FlowLine::error`]. [`check`] (and [`load_checked`], which `--check` and a reload use) runs
//! the engine's flow checks too, without building a switch.
//!
//! The config file and every `flows_file` must be regular files no larger than
//! [`CONFIG_MAX_BYTES`] and [`FLOWS_FILE_MAX_BYTES`]; bridge, port and interface names follow
//! [`names`] (shared with the database front end).
//!
//! Choices worth knowing:
//! - A trunk's `native_vlan` need not appear in `trunks`; like OVS it is added to the allowed
//!   set, so a frame tagged with the native VLAN is accepted too. `native_vlan` on an access port
//!   is rejected (the access `tag` already is its untagged VLAN).
//! - Relative paths (`rundir`, `flows_file`, `ssl_*`) are relative to the config file's
//!   directory, so a config works the same from any working directory.
//! - Bridges without `datapath_id` and ports without `ofport` get the lowest numbers (from 1) not
//!   taken explicitly, in file order.
//! - `controllers` (active `tcp:` OpenFlow connections) and `fail_mode` follow OVS: the default
//!   mode is standalone, and a secure bridge starts without the default NORMAL flow. A secure
//!   bridge without controllers is allowed (its flows come from the config, ovs-ofctl or an
//!   agent); the same target listed twice is an error.
//! - OpenFlow over TLS (`pssl:` listeners, `ssl:` controllers) takes the switch's files from
//!   `[switch] ssl_private_key`, `ssl_certificate` and `ssl_ca_cert` (PEM, as OVS's SSL table):
//!   all three go together and are required once any TLS target exists; they are read and
//!   parsed here (`ofp::check_ssl`), so a bad key or certificate is refused with its key. A
//!   `pssl:` listener may bind any address; a plain `ptcp:` one off loopback needs
//!   `remote_openflow = true`.

mod backend;
mod build;
mod check;
#[cfg(test)]
mod diff_tests;
pub mod names;
#[cfg(test)]
mod ofp_tests;
mod ports;
mod qos;
#[cfg(test)]
mod qos_tests;
mod raw;
mod read;
#[cfg(test)]
mod safety_tests;
#[cfg(test)]
mod tests;

pub use check::{check, check_flows};
pub(crate) use read::read_bounded;
pub use read::{CONFIG_MAX_BYTES, FLOWS_FILE_MAX_BYTES};

use datapath::config::{usable_cores, ConfigError, SwitchConfig, SwitchSection};
use std::path::{Path, PathBuf};
use switchd_api::DEFAULT_RUNDIR;

/// Read and validate the config file at `path` (a regular file of at most
/// [`CONFIG_MAX_BYTES`]).
pub fn load(path: &Path) -> Result<SwitchConfig, ConfigError> {
    let text = read::read_bounded(path, CONFIG_MAX_BYTES).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// [`load`], then [`check`]: everything startup validates short of opening ports, for
/// `dvs-switchd --check` and reloads.
pub fn load_checked(path: &Path) -> Result<SwitchConfig, ConfigError> {
    let cfg = load(path)?;
    check(&cfg)?;
    Ok(cfg)
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
            upcall_rate_per_port: datapath::upcall::DEFAULT_RATE,
            dpdk_eal_args: Vec::new(),
            remote_openflow: false,
            socket_group: None,
            ssl: None,
        },
        bridges: Vec::new(),
    }
}
