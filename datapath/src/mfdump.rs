//! Megaflow dumps (`dvsctl switch megaflows`, like `ovs-appctl dpctl/dump-flows`): a request
//! slot per PMD, answered by the PMD itself.
//!
//! The megaflow caches belong to their PMD thread and are never locked, so the control thread
//! cannot walk them. It raises the slot's flag instead; the PMD sees it among its periodic
//! chores (every few hundred loop iterations, busy or idle), renders up to the requested number
//! of its megaflows as text under the slot's lock, and lowers the flag. The control thread waits
//! (bounded) for that. A dump therefore costs the PMD one pass over its caches, only when asked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One megaflow as a dump shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MegaflowLine {
    /// Bridge name.
    pub bridge: String,
    /// The megaflow's match (wildcarded fields left out), ovs-ofctl syntax.
    pub matches: String,
    /// The decision's datapath actions (switch-wide port indexes), or `drop(reason)`.
    pub actions: String,
}

/// The request slot of one PMD.
#[derive(Debug, Default)]
pub struct DumpSlot {
    wanted: AtomicBool,
    /// (most lines to render, the result).
    inner: Mutex<(usize, Vec<MegaflowLine>)>,
}

impl DumpSlot {
    /// Ask the PMD for up to `max` of its current megaflows and wait up to `timeout` for them;
    /// `None` when the PMD did not answer in time (stopped, or stuck).
    pub fn request(&self, max: usize, timeout: Duration) -> Option<Vec<MegaflowLine>> {
        {
            let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            *g = (max, Vec::new());
        }
        self.wanted.store(true, Ordering::Release);
        let deadline = Instant::now() + timeout;
        while self.wanted.load(Ordering::Acquire) {
            if Instant::now() > deadline {
                self.wanted.store(false, Ordering::Release);
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Some(std::mem::take(&mut g.1))
    }

    /// For the PMD: if a dump is wanted, fill it with `render(max)` and say it is done.
    #[inline]
    pub fn serve(&self, render: impl FnOnce(usize) -> Vec<MegaflowLine>) {
        if !self.wanted.load(Ordering::Acquire) {
            return;
        }
        {
            let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            g.1 = render(g.0);
        }
        self.wanted.store(false, Ordering::Release);
    }
}
