//! Link state and device counters of a DPDK port.
//!
//! `rte_eth_link_get_nowait` and `rte_eth_stats_get` are cheap for virtual devices but may touch
//! device registers (or the kernel, for `net_tap`) on others, so the fast path never calls them
//! directly: link state is cached for [`REFRESH`] and re-read by whichever thread finds it stale,
//! and device counters are folded in only by `Port::refresh_stats` (the housekeeping thread).
//! Device counters are cumulative, the port counters are bumped by deltas: the baseline of what
//! was already folded is kept under a mutex that the fold only `try_lock`s, so it never waits.

use super::eal::strerror;
use super::{DpdkError, DpdkPort, REFRESH};
use crate::port::PortCounters;
use dpdk_sys as sys;
use std::ffi::{c_int, CStr};
use std::sync::atomic::Ordering;

/// Last device counter values already folded into [`PortCounters`].
#[derive(Default)]
pub(super) struct HwBaseline {
    pub(super) imissed: u64,
    pub(super) ierrors: u64,
    pub(super) oerrors: u64,
    pub(super) rx_nombuf: u64,
}

impl HwBaseline {
    /// The baseline at `s`.
    pub(super) fn at(s: &sys::rte_eth_stats) -> HwBaseline {
        HwBaseline {
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        }
    }

    /// Add what `s` counted since the baseline to `c` and move the baseline to `s`.
    pub(super) fn fold(&mut self, s: &sys::rte_eth_stats, c: &PortCounters) {
        // A counter that went backwards was reset: count from zero.
        let delta = |new: u64, old: &mut u64| {
            let d = if new >= *old { new - *old } else { new };
            *old = new;
            d
        };
        PortCounters::add(&c.rx_dropped, delta(s.imissed, &mut self.imissed));
        PortCounters::add(&c.rx_dropped, delta(s.rx_nombuf, &mut self.rx_nombuf));
        PortCounters::add(&c.rx_errors, delta(s.ierrors, &mut self.ierrors));
        PortCounters::add(&c.tx_errors, delta(s.oerrors, &mut self.oerrors));
    }
}

impl DpdkPort {
    pub(super) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Re-read the link state now.
    pub fn refresh_link(&self) {
        self.link_next_ms.store(
            self.now_ms() + REFRESH.as_millis() as u64,
            Ordering::Relaxed,
        );
        let mut l = sys::rte_eth_link::default();
        // SAFETY: valid port id and out-pointer; the nowait variant does not block.
        let rc = unsafe { sys::rte_eth_link_get_nowait(self.port_id, &mut l) };
        let up = rc == 0 && u32::from(l.link_status()) == sys::RTE_ETH_LINK_UP;
        self.link.store(up, Ordering::Relaxed);
        self.link_speed
            .store(if rc == 0 { l.link_speed } else { 0 }, Ordering::Relaxed);
    }

    pub(super) fn device_stats(&self) -> Option<sys::rte_eth_stats> {
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: valid port id and out-pointer.
        let rc = unsafe { sys::rte_eth_stats_get(self.port_id, &mut s) };
        (rc == 0).then_some(s)
    }

    /// Fold the device's drop/error counters into the port counters now (see the module docs).
    /// Concurrent callers skip instead of waiting.
    pub(super) fn fold_device_stats(&self) {
        let Ok(mut hw) = self.hw.try_lock() else {
            return;
        };
        let Some(s) = self.device_stats() else {
            return;
        };
        hw.fold(&s, &self.counters);
    }

    /// All extended statistics of the device, by name (control path; allocates).
    pub fn xstats(&self) -> Result<Vec<(String, u64)>, DpdkError> {
        let err = |rc: c_int| DpdkError::Xstats {
            dev: self.dev.clone(),
            reason: strerror(rc),
        };
        // SAFETY: a NULL array with size 0 asks for the count only.
        let n = unsafe { sys::rte_eth_xstats_get_names(self.port_id, std::ptr::null_mut(), 0) };
        if n < 0 {
            return Err(err(n));
        }
        let mut names = vec![sys::rte_eth_xstat_name::default(); n as usize];
        let mut vals = vec![sys::rte_eth_xstat::default(); n as usize];
        // SAFETY: `names` has room for `n` entries.
        let got =
            unsafe { sys::rte_eth_xstats_get_names(self.port_id, names.as_mut_ptr(), n as u32) };
        if got < 0 {
            return Err(err(got));
        }
        // SAFETY: `vals` has room for `n` entries.
        let gotv = unsafe { sys::rte_eth_xstats_get(self.port_id, vals.as_mut_ptr(), n as u32) };
        if gotv < 0 {
            return Err(err(gotv));
        }
        let count = (got.min(gotv)) as usize;
        Ok(vals[..count]
            .iter()
            .filter_map(|v| {
                let nm = names.get(v.id as usize)?;
                // SAFETY: DPDK NUL-terminates xstat names inside the fixed-size array.
                let s = unsafe { CStr::from_ptr(nm.name.as_ptr()) };
                Some((s.to_string_lossy().into_owned(), v.value))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(imissed: u64, ierrors: u64, oerrors: u64, rx_nombuf: u64) -> sys::rte_eth_stats {
        sys::rte_eth_stats {
            imissed,
            ierrors,
            oerrors,
            rx_nombuf,
            ..Default::default()
        }
    }

    #[test]
    fn device_counters_fold_as_deltas() {
        let c = PortCounters::default();
        let mut hw = HwBaseline::at(&stats(10, 5, 7, 1));
        hw.fold(&stats(13, 5, 9, 3), &c);
        let s = c.snapshot();
        assert_eq!((s.rx_dropped, s.rx_errors, s.tx_errors), (3 + 2, 0, 2));
        // Unchanged device counters add nothing.
        hw.fold(&stats(13, 5, 9, 3), &c);
        assert_eq!(c.snapshot().rx_dropped, 5);
        // A reset device (counters back near zero) counts from zero.
        hw.fold(&stats(4, 1, 0, 0), &c);
        let s = c.snapshot();
        assert_eq!((s.rx_dropped, s.rx_errors, s.tx_errors), (9, 1, 2));
        assert_eq!((s.rx_packets, s.tx_packets), (0, 0));
    }
}
