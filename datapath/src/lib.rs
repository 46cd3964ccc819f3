//! The dvs engine: ports and their I/O backends, packet buffers, PMD threads, action execution,
//! bridges, and live reconfiguration.
//!
//! Data flows `port::Port::rx_burst` -> `process` (parse, admit, cache, slow path via
//! `flowtable`'s pipeline and `xlate`, execute with `edit`) -> per-port transmit batches. Control
//! comes from the daemon (`dvs-switchd`: the file and database front ends, the control socket and
//! the OpenFlow server) through `reconfig` (ports and bridges) and `flowmod` (the one
//! flow-modification path) into `bridge` snapshots; what the engine has to tell the daemon
//! (ports coming and going, flows expiring) goes out through `switch::BridgeEvents`.

pub mod bridge;
pub mod config;
pub mod csumfill;
pub mod cycles;
pub mod describe;
pub mod drops;
pub mod edit;
pub mod egress;
pub mod flowmod;
pub mod flowstats;
pub mod group;
pub mod inject;
pub mod megatier;
pub mod mempool;
pub mod meter;
pub mod mfdump;
pub mod packet_in;
pub mod pmd;
pub mod port;
pub mod ports;
pub mod process;
pub mod reconfig;
pub mod shaper;
pub mod switch;
pub mod upcall;
pub mod validity;
pub mod vlan;
pub mod xlate;
