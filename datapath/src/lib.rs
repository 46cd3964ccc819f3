//! dvs-switchd, the dvs user-mode switch: ports and their I/O backends, packet buffers, PMD
//! threads, action execution, bridges, and the management (JSON-RPC) server.
//!
//! Data flows `port::Port::rx_burst` -> `process` (parse, admit, cache, slow path via
//! `flowtable`'s pipeline and `xlate`, execute with `edit`) -> per-port transmit batches. Control
//! flows from `config` (at start), `control` (at run time) and `ofp` (OpenFlow 1.3 connections)
//! through `flowmod`, the one flow-modification path, into `bridge` snapshots.

pub mod bridge;
pub mod config;
pub mod cycles;
pub mod drops;
pub mod edit;
pub mod flowmod;
pub mod flowstats;
pub mod group;
pub mod inject;
pub mod mempool;
pub mod meter;
pub mod ofp;
pub mod packet_in;
pub mod pmd;
pub mod port;
pub mod ports;
pub mod process;
pub mod reconfig;
/// The management interface's protocol and server shell (the `dvs-switchd-api` crate).
pub use switchd_api::rpc;
pub mod switch;
pub mod vlan;
pub mod xlate;
