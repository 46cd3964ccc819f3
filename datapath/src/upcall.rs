//! Slow-path budgets: how many new flows each ingress port may send through the slow path.
//!
//! A packet that no cache tier knows costs a pipeline walk, a translation under the bridge's MAC
//! table lock and a megaflow insert: microseconds, against tens of nanoseconds for a cache hit.
//! A guest that sprays new flows (random source MACs, port scans) could keep a PMD busy with
//! upcalls and starve every established flow that PMD serves. So each PMD keeps one budget per
//! ingress port, a GCRA token bucket (`rate` upcalls per second, bursts of `burst`), and a
//! packet over its port's budget is dropped and counted as `upcall_limited` instead of walking
//! the pipeline. Only new flows are charged: re-translating a megaflow that a table change made
//! stale is bounded by the megaflows already admitted, and charging it would drop established
//! traffic after every flow-table change. Budgets are per port so that one flooding guest spends
//! only its own.

/// Default new-flow upcalls per second per ingress port per PMD.
pub const DEFAULT_RATE: u32 = 100_000;

/// Burst of new flows a port may send at once, over its rate (a tenth of a second's worth).
fn burst_of(rate: u32) -> u64 {
    (u64::from(rate) / 10).max(64)
}

/// One PMD's budgets, indexed by switch-wide port index.
#[derive(Debug, Default)]
pub struct UpcallBudgets {
    /// Nanoseconds one upcall costs the budget (0 = unlimited).
    interval_ns: u64,
    /// How far ahead of now a port's theoretical arrival time may run (burst * interval).
    tolerance_ns: u64,
    /// Theoretical arrival time of each port's next upcall.
    tat: Vec<u64>,
}

impl UpcallBudgets {
    /// Budgets of `rate` new-flow upcalls per second per port (0 = unlimited).
    pub fn new(rate: u32) -> UpcallBudgets {
        let mut b = UpcallBudgets::default();
        b.set_rate(rate);
        b
    }

    /// Change the rate (budgets restart full).
    pub fn set_rate(&mut self, rate: u32) {
        if rate == 0 {
            self.interval_ns = 0;
            self.tolerance_ns = 0;
        } else {
            self.interval_ns = (1_000_000_000 / u64::from(rate)).max(1);
            self.tolerance_ns = self.interval_ns * burst_of(rate);
        }
        self.tat.clear();
    }

    /// Charge one upcall to port `gidx` at `now_ns`: true when it is within the budget.
    #[inline]
    pub fn take(&mut self, gidx: usize, now_ns: u64) -> bool {
        if self.interval_ns == 0 {
            return true;
        }
        if self.tat.len() <= gidx {
            self.tat.resize(gidx + 1, 0);
        }
        let tat = self.tat[gidx].max(now_ns);
        let next = tat + self.interval_ns;
        if next - now_ns > self.tolerance_ns {
            return false;
        }
        self.tat[gidx] = next;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_port_gets_its_burst_then_its_rate() {
        let mut b = UpcallBudgets::new(1000);
        let t0 = 10 * S;
        let burst = (0..1000).take_while(|_| b.take(3, t0)).count();
        assert_eq!(burst, 100, "a tenth of a second's worth at once");
        assert!(!b.take(3, t0));
        // One second later: 1000 more (the bucket holds at most the burst, so spread them).
        let mut ok = 0;
        for i in 0..2000u64 {
            if b.take(3, t0 + S / 2 + i * S / 2000) {
                ok += 1;
            }
        }
        assert!((1000..=1100).contains(&ok), "{ok} in a second at 1000/s");
    }

    #[test]
    fn ports_do_not_share_a_budget() {
        let mut b = UpcallBudgets::new(1000);
        while b.take(1, S) {}
        assert!(b.take(2, S), "port 2 still has its own");
    }

    #[test]
    fn zero_is_unlimited() {
        let mut b = UpcallBudgets::new(0);
        assert!((0..100_000).all(|_| b.take(0, S)));
    }
}
