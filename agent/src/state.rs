//! What the session and the reconciler share: the share as last received (with its revision),
//! and what the reconciler made of it (the revision applied, its per-object errors, the status
//! to report).
//!
//! One mutex, held only to copy in or out: the session never waits for the switch, and the
//! reconciler never waits for dvsm. A generation counter tells the reconciler the share changed
//! without it having to compare shares.

use proto::wire::{ApplyError, Status};
use proto::{Change, Share};
use std::sync::{Mutex, MutexGuard};

/// The shared state.
#[derive(Default)]
pub struct State {
    inner: Mutex<Inner>,
}

/// Its contents.
#[derive(Default, Clone)]
pub struct Inner {
    /// The host's share as received.
    pub share: Share,
    /// The revision of `share` (`None` before the first registration).
    pub revision: Option<u64>,
    /// Bumped on every change of `share`.
    pub generation: u64,
    /// The last revision the reconciler applied, with its errors.
    pub applied: Option<(u64, Vec<ApplyError>)>,
    /// Status for dvsm.
    pub status: Status,
}

impl State {
    /// Lock (a poisoned lock is still usable: every writer leaves it consistent).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replace the share (a full registration answer).
    pub fn replace(&self, revision: u64, changes: &[Change]) {
        let mut s = self.lock();
        s.share.clear();
        proto::share::apply(&mut s.share, changes);
        s.revision = Some(revision);
        s.generation += 1;
    }

    /// Apply incremental changes.
    pub fn apply(&self, revision: u64, changes: &[Change]) {
        let mut s = self.lock();
        proto::share::apply(&mut s.share, changes);
        s.revision = Some(revision);
        s.generation += 1;
    }

    /// A copy of the share with its revision and generation.
    pub fn snapshot(&self) -> (Share, Option<u64>, u64) {
        let s = self.lock();
        (s.share.clone(), s.revision, s.generation)
    }
}
