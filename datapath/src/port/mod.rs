//! Ports: one burst-oriented trait for every I/O backend.
//!
//! A port is shared (`Arc<dyn Port>`) between the PMD thread that polls its receive queue and every
//! PMD that may transmit to it, so the methods take `&self`. Backends keep per-queue state behind
//! their own uncontended locks, taken once per burst, never per packet. Counters are relaxed atomics
//! bumped once per burst, readable at any time by the control thread.
//!
//! Receive copies the frame into a pool buffer owned by the polling PMD; transmit consumes the whole
//! batch (sent or dropped) and hands every frame back to the caller's pool, so a port never holds
//! packets between calls.

pub mod afpacket;
pub mod afxdp;
pub mod dpdk;
pub mod mock;
pub mod mtu;
pub mod tap;
pub mod vhost;

use crate::drops::{DropCounters, DropReason, DropStats};
use crate::mempool::{Batch, PacketPool};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// Per-port counters (the OpenFlow port-stats set plus our drop split).
#[derive(Debug, Default)]
pub struct PortCounters {
    /// Packets received.
    pub rx_packets: AtomicU64,
    /// Bytes received.
    pub rx_bytes: AtomicU64,
    /// Received packets dropped by the switch (policy, VLAN mode, no buffer...).
    pub rx_dropped: AtomicU64,
    /// Receive errors (truncated frames, ring errors).
    pub rx_errors: AtomicU64,
    /// Packets transmitted.
    pub tx_packets: AtomicU64,
    /// Bytes transmitted.
    pub tx_bytes: AtomicU64,
    /// Packets that could not be transmitted (ring full, link down).
    pub tx_dropped: AtomicU64,
    /// Transmit errors (send failures).
    pub tx_errors: AtomicU64,
    /// Received frames under the 60-byte Ethernet minimum that were zero-padded to it (not
    /// drops: see `validity`).
    pub rx_runts_padded: AtomicU64,
    /// Received packets dropped, by reason (each also counts in `rx_dropped`).
    pub drops: DropCounters,
}

/// A plain copy of [`PortCounters`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PortStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Packets transmitted.
    pub tx_packets: u64,
    /// Bytes transmitted.
    pub tx_bytes: u64,
    /// Transmit drops.
    pub tx_dropped: u64,
    /// Transmit errors.
    pub tx_errors: u64,
    /// Short frames padded to the Ethernet minimum.
    pub rx_runts_padded: u64,
    /// Received packets dropped, by reason (non-zero reasons when serialized).
    pub drops: DropStats,
}

impl PortCounters {
    /// Count a received burst.
    #[inline]
    pub fn rx(&self, packets: u64, bytes: u64) {
        if packets > 0 {
            self.rx_packets.fetch_add(packets, Ordering::Relaxed);
            self.rx_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Count a transmitted burst.
    #[inline]
    pub fn tx(&self, packets: u64, bytes: u64) {
        if packets > 0 {
            self.tx_packets.fetch_add(packets, Ordering::Relaxed);
            self.tx_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Add to a counter.
    #[inline]
    pub fn add(c: &AtomicU64, n: u64) {
        if n > 0 {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Count `n` received packets dropped for `reason`: in `rx_dropped` and under the reason.
    #[inline]
    pub fn rx_drop(&self, reason: DropReason, n: u64) {
        if n > 0 {
            self.rx_dropped.fetch_add(n, Ordering::Relaxed);
            self.drops.add(reason, n);
        }
    }

    /// Snapshot.
    pub fn snapshot(&self) -> PortStats {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PortStats {
            rx_packets: l(&self.rx_packets),
            rx_bytes: l(&self.rx_bytes),
            rx_dropped: l(&self.rx_dropped),
            rx_errors: l(&self.rx_errors),
            tx_packets: l(&self.tx_packets),
            tx_bytes: l(&self.tx_bytes),
            tx_dropped: l(&self.tx_dropped),
            tx_errors: l(&self.tx_errors),
            rx_runts_padded: l(&self.rx_runts_padded),
            drops: self.drops.snapshot(),
        }
    }
}

/// A switch port backend.
pub trait Port: Send + Sync {
    /// Port name (unique in the switch).
    fn name(&self) -> &str;

    /// Backend kind, for display ("afpacket", "tap", "mock").
    fn kind(&self) -> &'static str;

    /// Number of receive queues.
    fn n_rxq(&self) -> u16 {
        1
    }

    /// Receive up to `batch.room()` packets from queue `rxq` into `batch`, taking frames from
    /// `pool`. Returns the number received. Only one thread polls a given queue.
    fn rx_burst(&self, rxq: u16, pool: &mut PacketPool, batch: &mut Batch) -> usize;

    /// Transmit every packet of `batch` on transmit queue `txq` (the caller's PMD index, modulo the
    /// port's queue count). Packets that cannot be sent are counted as `tx_dropped`. All frames go
    /// back to `pool`; `batch` is empty afterwards.
    fn tx_burst(&self, txq: u16, pool: &mut PacketPool, batch: &mut Batch);

    /// Link state (carrier).
    fn link_up(&self) -> bool;

    /// Counters.
    fn counters(&self) -> &PortCounters;

    /// Largest frame (without FCS) the port can carry: its MTU plus the Ethernet header and
    /// one VLAN tag.
    fn max_frame(&self) -> usize {
        mtu::tagged_max(self.mtu())
    }

    /// The port's effective MTU (see [`mtu`]): frames over it are dropped as `too_big` on
    /// receive and on transmit, never truncated.
    fn mtu(&self) -> u32 {
        mtu::MTU_DEFAULT
    }

    /// Carry payloads up to `mtu` bytes from now on, or say why the backend cannot (its buffers
    /// hold less). The switch calls this right after opening the port, so a refusal is a
    /// configuration error.
    fn set_mtu(&self, mtu: u32) -> Result<(), mtu::MtuError> {
        if mtu == mtu::MTU_DEFAULT {
            Ok(())
        } else {
            Err(mtu::MtuError::TooLarge {
                kind: self.kind(),
                asked: mtu,
                max: mtu::MTU_DEFAULT,
                why: "this backend has a fixed MTU".into(),
                hint: "",
            })
        }
    }

    /// Fold counters kept outside the switch (kernel ring drops, NIC extended stats) into
    /// [`Port::counters`]. Called by the housekeeping thread a few times a second, never by a PMD.
    fn refresh_stats(&self) {}

    /// Backend-specific state for `dvsctl switch show` (e.g. a vhost-user connection's
    /// negotiated features and last error); `null` when there is nothing to add.
    fn details(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}
