//! Editing a bridge's flow tables without copying them: two copies of the pipeline, one
//! published to the PMDs and one spare.
//!
//! The PMDs read the pipeline through the published [`BridgeView`] and never lock. Copying the
//! whole pipeline for every change, as a plain clone-and-swap does, costs O(rules) per FLOW_MOD,
//! so programming n flows one message at a time cost O(n²): 27 s for 10,000 flows. Instead an
//! edit is made on the spare copy while recording a [`Journal`]; the spare is published; the
//! copy it replaces becomes the spare, once no PMD reads it any more, and catches up by replaying
//! the journal. Both copies hold the same `Arc<FlowEntry>`s, so counters stay shared, and a
//! change costs O(rules it touches) twice.
//!
//! The previous copy is reclaimed lazily, at the next edit, with `Arc::try_unwrap`: PMDs hold a
//! view for one burst (microseconds), so by then it is almost always free. When something still
//! holds it (a control thread dumping flows, say) after [`RECLAIM_WAIT`], or when the pipeline
//! was replaced by another path (group and meter deletes edit the whole view), the edit falls
//! back to a fresh copy: slower, never wrong. A failed edit is undone from its journal on the
//! spare, so edits stay all or nothing and nothing is published.

use super::{Bridge, BridgeView};
use flowtable::pipeline::{Journal, Pipeline};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an edit waits for the PMDs to let go of the previous copy before copying instead.
pub const RECLAIM_WAIT: Duration = Duration::from_millis(2);

/// The copy of the pipeline that is not published.
pub(super) struct Spare {
    /// The copy (the previously published one, or an unpublished one after a failed edit).
    pipeline: Arc<Pipeline>,
    /// What it lacks to equal the published copy.
    behind: Journal,
    /// The address of the published copy it trails: if another pipeline was published since,
    /// it trails nothing any more.
    trails: usize,
}

/// How edits found their working copy (for statistics and tests).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EditCounts {
    /// Edits made on the reclaimed spare.
    pub reused: u64,
    /// Edits that had to copy the whole pipeline.
    pub copied: u64,
}

fn address(p: &Arc<Pipeline>) -> usize {
    Arc::as_ptr(p) as usize
}

impl Bridge {
    /// Apply `f` to the flow tables (with the current view, for the groups and meters rules may
    /// name) and publish the result if `f` succeeds and changed something: all or nothing, and
    /// concurrent editors are serialized. See the module documentation for how it avoids a copy.
    pub fn edit_tables<R, E>(
        &self,
        f: impl FnOnce(&mut Pipeline, &BridgeView) -> Result<R, E>,
    ) -> Result<R, E> {
        let _guard = self.edit.lock().unwrap_or_else(|e| e.into_inner());
        let cur = self.view.load_full();
        let mut work = self.working_copy(&cur.pipeline);
        work.start_journal();
        let result = f(&mut work, &cur);
        let journal = work.take_journal();
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(r) if !journal.is_empty() => {
                let published = Arc::new(work);
                let mut next = (*cur).clone();
                next.pipeline = published.clone();
                self.view.store(Arc::new(next));
                self.bump_epoch();
                let old = cur.pipeline.clone();
                drop(cur);
                // Catch the old copy up now if no reader holds it (the usual case without
                // traffic), so the journal and the rules it removed are freed at once.
                *spare = Some(match Arc::try_unwrap(old) {
                    Ok(mut p) => {
                        p.replay(&journal);
                        Spare {
                            pipeline: Arc::new(p),
                            behind: Journal::default(),
                            trails: address(&published),
                        }
                    }
                    Err(old) => Spare {
                        pipeline: old,
                        behind: journal,
                        trails: address(&published),
                    },
                });
                Ok(r)
            }
            result => {
                // Nothing to publish: the working copy (put back as it was) is the spare.
                work.undo(journal);
                *spare = Some(Spare {
                    pipeline: Arc::new(work),
                    behind: Journal::default(),
                    trails: address(&cur.pipeline),
                });
                result
            }
        }
    }

    /// A private copy equal to `published`: the spare brought up to date, or a fresh copy.
    fn working_copy(&self, published: &Arc<Pipeline>) -> Pipeline {
        let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(s) = spare.filter(|s| s.trails == address(published)) {
            let deadline = Instant::now() + RECLAIM_WAIT;
            let mut held = s.pipeline;
            loop {
                match Arc::try_unwrap(held) {
                    Ok(mut p) => {
                        p.replay(&s.behind);
                        self.edit_counts.reused.fetch_add(1, Relaxed);
                        return p;
                    }
                    Err(back) if Instant::now() < deadline => {
                        held = back;
                        std::thread::yield_now();
                    }
                    Err(_) => break,
                }
            }
        }
        self.edit_counts.copied.fetch_add(1, Relaxed);
        Pipeline::clone(published)
    }

    /// How edits found their working copy so far.
    pub fn edit_counts(&self) -> EditCounts {
        EditCounts {
            reused: self.edit_counts.reused.load(Relaxed),
            copied: self.edit_counts.copied.load(Relaxed),
        }
    }
}

/// The counters behind [`EditCounts`].
#[derive(Default)]
pub(super) struct EditCounters {
    reused: AtomicU64,
    copied: AtomicU64,
}
