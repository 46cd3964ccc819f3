//! Flow classification for dvs: flow keys and their extraction from packets, OpenFlow-style
//! matches, rules and a multi-table pipeline, the NORMAL action's MAC learning table, and the
//! per-PMD exact-match cache in front of the wildcard classifier.
//!
//! The crate is pure computation: no I/O, no threads. The datapath owns threads and decides when to
//! publish new pipeline snapshots; everything here is either immutable-after-build (shared between
//! PMD threads behind an `Arc`) or owned by one thread (the caches).

pub mod action;
pub mod classifier;
pub mod emc;
pub mod extract;
pub mod field;
pub mod key;
pub mod mactable;
mod maskwords;
pub mod matches;
pub mod megaflow;
pub mod mpls;
pub mod pipeline;
pub mod prefetch;
pub mod text;
pub mod trace;

pub use action::{Action, Instructions};
pub use classifier::{Classifier, RuleId};
pub use field::Field;
pub use key::FlowKey;
pub use matches::{Match, MatchError};
pub use pipeline::{FlowEntry, FlowFilter, Pipeline, PipelineResult};
