//! A small client for the Open vSwitch Database Management Protocol (RFC 7047), written for
//! dvs-switchd's database front end: it reads `Bridge`, `Port`, `Interface` and `Controller` rows
//! from Debian's `ovsdb-server` by monitor and writes back what ovs-vswitchd writes (`ofport`,
//! `status`, `statistics`, `cur_cfg`).
//!
//! **Why our own.** The crates that exist (`ovsdb` 0.0.x, `ovsdb-client` 0.0.1 on tokio) are
//! early releases; dvs-switchd has no async runtime, and what it needs is small: JSON-RPC 1.0
//! over a unix or TCP stream, `transact`, `monitor`/`monitor_cond` with their `update`/`update2`
//! notifications, and answering the server's `echo` so an inactivity probe never drops us.
//!
//! **Shape.** [`Client`] owns the connection. A reader thread parses the stream (RFC 7047 sends
//! JSON values back to back, with no framing), hands each reply to the caller waiting on its id,
//! answers `echo` requests itself, and queues update notifications for
//! [`Client::next_update`]. Requests may be made from any thread. When the connection ends every
//! waiting caller gets [`Error::Closed`] and so does every later call; reconnecting (with backoff)
//! is the caller's job, since only it knows what to resynchronize.
//!
//! [`update`] turns notifications into typed row changes; [`datum`] reads and builds the
//! protocol's atoms, sets and maps.

mod client;
pub mod datum;
pub mod update;

pub use client::{Client, Error};
pub use update::{Replica, Row, RowChange, TableUpdates};
