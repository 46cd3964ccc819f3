//! dvsm, the DVS manager: it validates and stores the desired state (DVSes, uplinks, port
//! groups, security groups, VM ports), serves it over a REST API, and pushes each host's share
//! to that host's agent over a JSON-RPC session.
//!
//! The pieces: [`store`] makes writes durable, [`state`] serializes writes through the rule
//! check, the store and the in-memory model, [`agents`] runs the agent sessions, [`api`] is the
//! REST front end, and [`client`] is the small HTTP client dvsctl and the tests use.

pub mod client;
#[macro_use]
pub mod log;
pub mod agents;
pub mod api;
pub mod state;
pub mod store;
pub mod tls;
