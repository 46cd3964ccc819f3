//! Deferred rule statistics: a PMD counts cache hits on the cached decision itself and charges
//! them to the shared rule counters in periodic batches.
//!
//! Every packet that hits the exact-match cache must eventually bump the packet and byte counters
//! of each rule (and group bucket) its decision came from, and refresh the learned MAC entry it
//! relied on. Those counters are shared by every PMD and read by OpenFlow statistics, so updating
//! them per packet (or per run of consecutive packets) means a locked add on a line that, with
//! thousands of flows, is rarely in cache: with 1000 flows each way that was the largest single
//! cost of the lookup stage. Instead, the PMD adds the packet to [`PendingStats`] inside the
//! decision it just looked up (a line it has already loaded; plain loads and stores, since only
//! the owning PMD writes it) and lists the decision the first time it becomes non-zero. The list
//! is charged to the rules every [`FLUSH_PERIOD_NS`], when it grows past [`MAX_DIRTY`], and
//! whenever the PMD has found no traffic for a few microseconds, so statistics lag busy traffic
//! by at most 100 ms and are exact as soon as traffic stops (as OVS charges its per-PMD flow
//! statistics to OpenFlow rules from its revalidators, only more often).

use crate::xlate::Decision;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Longest a counted packet waits before it shows in the rule counters while traffic flows.
/// Charging is a locked add per rule on a line that is usually a miss: with 4000 flows, a 10 ms
/// period cost about 3% of the PMD. OVS's revalidators lag by up to a second.
pub const FLUSH_PERIOD_NS: u64 = 100_000_000;

/// Decisions listed before a flush is forced regardless of time (bounds the list at one full
/// exact-match cache).
pub const MAX_DIRTY: usize = 8192;

/// Packets counted against a cached decision and not yet charged to its rules.
///
/// Written only by the PMD whose cache holds the decision (decisions are built per PMD and never
/// shared between caches), so counting is a plain load and store rather than a locked add. The
/// fields are atomics only so that the type stays `Sync` and a violation of that rule would lose
/// counts rather than be undefined.
#[derive(Default)]
pub struct PendingStats {
    packets: AtomicU64,
    bytes: AtomicU64,
    last_ns: AtomicU64,
}

impl PendingStats {
    /// Count one packet of `bytes` bytes seen at `now_ns`. True when nothing was pending before,
    /// so the caller must list the decision for the next flush.
    #[inline]
    pub fn add(&self, bytes: u64, now_ns: u64) -> bool {
        let p = self.packets.load(Ordering::Relaxed);
        self.packets.store(p + 1, Ordering::Relaxed);
        let b = self.bytes.load(Ordering::Relaxed);
        self.bytes.store(b + bytes, Ordering::Relaxed);
        self.last_ns.store(now_ns, Ordering::Relaxed);
        p == 0
    }

    /// Take what is pending: (packets, bytes, time of the last packet); zero afterwards.
    pub fn take(&self) -> (u64, u64, u64) {
        let p = self.packets.load(Ordering::Relaxed);
        let b = self.bytes.load(Ordering::Relaxed);
        self.packets.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
        (p, b, self.last_ns.load(Ordering::Relaxed))
    }
}

impl Clone for PendingStats {
    /// A copy of a decision starts with nothing pending: the original's counts are charged once.
    fn clone(&self) -> Self {
        PendingStats::default()
    }
}

impl fmt::Debug for PendingStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingStats")
            .field("packets", &self.packets.load(Ordering::Relaxed))
            .field("bytes", &self.bytes.load(Ordering::Relaxed))
            .finish()
    }
}

/// One PMD's list of decisions with pending counts.
#[derive(Default)]
pub struct Deferred {
    dirty: Vec<Arc<Decision>>,
    last_flush_ns: u64,
}

impl Deferred {
    /// Count a packet of `bytes` bytes that used `dec` at `now_ns`.
    #[inline]
    pub fn count(&mut self, dec: &Arc<Decision>, bytes: u64, now_ns: u64) {
        if dec.pending.add(bytes, now_ns) {
            self.dirty.push(dec.clone());
        }
    }

    /// Charge the list if the period is over or the list is long.
    #[inline]
    pub fn maybe_flush(&mut self, now_ns: u64) {
        if !self.dirty.is_empty()
            && (now_ns.saturating_sub(self.last_flush_ns) >= FLUSH_PERIOD_NS
                || self.dirty.len() >= MAX_DIRTY)
        {
            self.flush(now_ns);
        }
    }

    /// Charge every listed decision's pending packets to its rules and learned MAC now.
    pub fn flush(&mut self, now_ns: u64) {
        for d in self.dirty.drain(..) {
            let (packets, bytes, last) = d.pending.take();
            if packets == 0 {
                continue;
            }
            for r in d.rules.iter().chain(&d.extra) {
                r.hit_n(packets, bytes, last);
            }
            if let Some(l) = &d.learned {
                l.touch(last);
            }
        }
        self.last_flush_ns = now_ns;
    }

    /// True when nothing is waiting to be charged.
    pub fn is_empty(&self) -> bool {
        self.dirty.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowtable::pipeline::RuleStats;

    fn decision(rule: &Arc<RuleStats>) -> Arc<Decision> {
        Arc::new(Decision {
            rules: vec![rule.clone()],
            ..Decision::default()
        })
    }

    #[test]
    fn counts_reach_the_rule_at_flush_not_before() {
        let rule = Arc::new(RuleStats::default());
        let dec = decision(&rule);
        let mut d = Deferred::default();
        d.count(&dec, 64, 5);
        d.count(&dec, 100, 7);
        assert_eq!(rule.snapshot().packets, 0);
        assert_eq!(d.dirty.len(), 1, "listed once however many packets");
        d.flush(8);
        let s = rule.snapshot();
        assert_eq!((s.packets, s.bytes), (2, 164));
        assert!(d.is_empty());
        d.flush(9);
        assert_eq!(rule.snapshot().packets, 2, "nothing charged twice");
        d.count(&dec, 1, 10);
        assert_eq!(d.dirty.len(), 1, "listed again once charged");
    }

    #[test]
    fn flushes_on_period_or_length() {
        let rule = Arc::new(RuleStats::default());
        let dec = decision(&rule);
        let mut d = Deferred::default();
        d.flush(1_000);
        d.count(&dec, 64, 1_000);
        d.maybe_flush(1_000 + FLUSH_PERIOD_NS - 1);
        assert_eq!(rule.snapshot().packets, 0);
        d.maybe_flush(1_000 + FLUSH_PERIOD_NS);
        assert_eq!(rule.snapshot().packets, 1);

        let decs: Vec<_> = (0..MAX_DIRTY).map(|_| decision(&rule)).collect();
        for x in &decs {
            d.count(x, 1, 2_000);
        }
        d.maybe_flush(2_000 + FLUSH_PERIOD_NS);
        assert_eq!(rule.snapshot().packets, 1 + MAX_DIRTY as u64);
    }

    #[test]
    fn a_cloned_decision_starts_empty() {
        let rule = Arc::new(RuleStats::default());
        let dec = decision(&rule);
        dec.pending.add(10, 1);
        let copy = (*dec).clone();
        assert_eq!(copy.pending.take().0, 0);
        assert_eq!(dec.pending.take().0, 1);
    }
}
