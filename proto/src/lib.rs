//! What dvsm and its agents agree on: the objects an administrator manages ([`objects`]), the
//! rules between them ([`model`]), each host's share of them ([`share`]) and the messages that
//! carry that share to the host's agent ([`wire`]).
//!
//! Both sides link this crate so a rule has one implementation: dvsm checks a write with
//! [`model::Model::check`] before storing it, the agent trusts what arrives. Nothing here does
//! I/O.

pub mod error;
pub mod model;
pub mod objects;
pub mod share;
pub mod vlan;
pub mod wire;

#[cfg(test)]
mod model_tests;

pub use error::{RuleError, Status};
pub use model::{Key, Kind, Model, Object, Stored, Write};
pub use share::{Change, Sent, Share};
pub use vlan::VlanRanges;
