//! The dvs user-mode switch.
pub mod mempool;
