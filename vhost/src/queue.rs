//! One virtqueue as the protocol thread and the PMD share it: the
//! frontend's configuration (size, frontend-virtual ring addresses, base,
//! started/enabled, call fd), the memory table in force, and the live
//! [`NetQueue`] built from them.
//!
//! The whole thing sits behind one `Mutex` per virtqueue. The PMD takes it
//! with `try_lock` once per burst (never blocking: a busy lock means the
//! protocol thread is reconfiguring, and the burst simply moves nothing);
//! the protocol thread takes it for every vring message. Because the PMD
//! holds the lock for the whole burst, swapping the memory `Arc`, stopping
//! the ring for GET_VRING_BASE or dropping everything on disconnect can never
//! happen under a PMD that is mid-copy, and old mappings are unmapped when
//! the last `Arc` goes. Counters of torn-down rings are folded into
//! `retired` so they survive reconnects.

use std::fs::File;
use std::io::Write;
use std::sync::Arc;

use crate::memory::GuestMem;
use crate::net::{NetQueue, QueueCounters};
use crate::vring::{VringAddrs, VringError};

/// Frontend-virtual ring addresses from SET_VRING_ADDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VaAddrs {
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Vq {
    pub size: u32,
    pub va: Option<VaAddrs>,
    pub base: u16,
    pub started: bool,
    pub enabled: bool,
    pub call: Option<File>,
    pub features: u64,
    pub mem: Option<Arc<GuestMem>>,
    pub net: Option<NetQueue>,
    pub retired: QueueCounters,
    /// Ring setups refused (addresses outside memory, bad size...).
    pub setup_errors: u64,
    pub last_setup_error: Option<VringError>,
    /// On a guest TX queue: polls since its pair's guest RX ring was left
    /// with a deferred interrupt decision (see `VhostNetDevice::rx_burst`).
    pub settle_polls: u8,
}

impl Vq {
    /// Whether the PMD may move packets on this queue.
    pub fn ready(&self) -> bool {
        self.enabled && self.net.is_some() && self.mem.is_some()
    }

    /// Counters over this queue's whole life (live ring included).
    pub fn counters(&self) -> QueueCounters {
        let mut c = self.retired;
        if let Some(n) = &self.net {
            c.add(&n.counters);
        }
        c
    }

    fn retire(&mut self) {
        if let Some(n) = self.net.take() {
            self.base = n.ring().last_avail();
            self.retired.add(&n.counters);
        }
    }

    /// Rebuild or drop the live ring after any configuration change.
    pub fn sync(&mut self) {
        let (Some(va), Some(mem)) = (self.va, self.mem.clone()) else {
            self.retire();
            return;
        };
        if !self.started || self.size == 0 {
            self.retire();
            return;
        }
        let n = self.size;
        let addrs = (|| {
            let t = |name, a, len: u64| {
                mem.va_to_gpa(a, len)
                    .ok_or(VringError::Untranslatable(name, a))
            };
            Ok::<_, VringError>(VringAddrs {
                desc: t("descriptor", va.desc, 16 * u64::from(n))?,
                avail: t("avail", va.avail, 6 + 2 * u64::from(n))?,
                used: t("used", va.used, 6 + 8 * u64::from(n))?,
            })
        })();
        let base = self
            .net
            .as_ref()
            .map_or(self.base, |q| q.ring().last_avail());
        let built = addrs.and_then(|a| NetQueue::new(&mem.mem, n, a, base, self.features));
        self.retire();
        match built {
            Ok(q) => self.net = Some(q),
            Err(e) => {
                self.base = base;
                self.setup_errors += 1;
                self.last_setup_error = Some(e);
            }
        }
    }

    /// SET_VRING_BASE: the next (re)build starts at `base`.
    pub fn set_base(&mut self, base: u16) {
        self.retire();
        self.base = base;
    }

    /// GET_VRING_BASE: stop the ring and return the next avail index.
    pub fn stop(&mut self) -> u16 {
        self.retire();
        self.started = false;
        self.base
    }

    /// Forget everything the frontend configured (keeps counters).
    pub fn reset(&mut self) {
        self.retire();
        let retired = self.retired;
        let setup_errors = self.setup_errors;
        *self = Vq {
            retired,
            setup_errors,
            ..Vq::default()
        };
    }

    /// Interrupt the guest (one eventfd write) and count it.
    pub fn notify(&mut self) {
        if let (Some(call), Some(net)) = (self.call.as_ref(), self.net.as_mut()) {
            let mut f: &File = call;
            // Best effort: EAGAIN means the counter is saturated, i.e. the
            // guest has plenty of pending interrupts already.
            let _ = f.write(&1u64.to_ne_bytes());
            net.counters.notifications += 1;
        }
    }
}
