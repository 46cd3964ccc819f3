//! VM ports: a vhost-user virtio-net device (crate `vhost`) behind the `Port` trait.
//!
//! The device owns the protocol thread and the guest's rings; this wrapper only moves bursts
//! between the rings and the PMD's packet pool. Receive hands the device up to a burst of empty
//! pool frames to copy guest frames into; transmit hands it the frames to copy into the guest's
//! receive buffers. Each receive queue of the port is one virtio queue pair, and a PMD transmits
//! on queue pair `txq % active pairs`, so several PMDs can feed one multiqueue VM without sharing a
//! ring. A guest that is not connected (or rebooting) shows as link down; transmits to it are
//! counted as `tx_dropped`.
//!
//! Jumbo frames: a frame for the guest longer than one of its receive buffers spreads over
//! several buffers when the guest negotiated `VIRTIO_NET_F_MRG_RXBUF` (`num_buffers` in the
//! header); without it, the device skips the frame and counts it (`tx_oversize`, never a
//! truncated copy), and this port counts it as `tx_dropped`. Guest frames arrive in one descriptor
//! or a chain of any shape, copied whole into one pool frame; one over the port's MTU is dropped by
//! the PMD as `too_big`, and one too big for a pool frame (which holds more than any MTU) is
//! dropped whole by the device and counted on this port under the same reason. Frames for the
//! guest over the port's MTU (the switch's `mtu` or the port's own) are dropped before the device
//! sees them, on `tx_dropped` (see [`crate::port::mtu`]).

use crate::drops::DropReason;
use crate::mempool::{Batch, PacketPool, BATCH_SIZE};
use crate::port::mtu::{self, MtuCell, MtuError};
use crate::port::{Port, PortCounters};
use ::vhost::{VhostConfig, VhostError, VhostNetDevice};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A vhost-user port.
pub struct VhostPort {
    name: String,
    dev: Arc<VhostNetDevice>,
    queue_pairs: u16,
    mtu: MtuCell,
    counters: PortCounters,
    /// Device counters already folded into `counters` (they only grow).
    folded: Folded,
}

/// The device's receive-side drop counters as last folded into the port's (see
/// `refresh_stats` below): malformed chains and headers are receive errors; frames bigger than
/// a pool frame and runts are drops under their reasons.
#[derive(Debug, Default)]
struct Folded {
    errors: AtomicU64,
    too_big: AtomicU64,
    runts: AtomicU64,
}

impl Folded {
    /// The growth of `cell` since it last held a value, now that the device says `total`.
    fn delta(cell: &AtomicU64, total: u64) -> u64 {
        total.saturating_sub(cell.swap(total, Ordering::Relaxed))
    }
}

impl VhostPort {
    /// Start the device (listening or connecting per `cfg.role`); the guest may come later.
    pub fn open(name: &str, cfg: VhostConfig) -> Result<VhostPort, VhostError> {
        let queue_pairs = cfg.queue_pairs.max(1);
        let mtu = MtuCell::new(u32::from(cfg.mtu));
        let dev = VhostNetDevice::start(name, cfg)?;
        Ok(VhostPort {
            name: name.to_string(),
            dev,
            queue_pairs,
            mtu,
            counters: PortCounters::default(),
            folded: Folded::default(),
        })
    }

    /// The underlying device (for diagnostics).
    pub fn device(&self) -> &Arc<VhostNetDevice> {
        &self.dev
    }
}

impl Drop for VhostPort {
    fn drop(&mut self) {
        self.dev.stop();
    }
}

impl Port for VhostPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "vhost"
    }

    fn n_rxq(&self) -> u16 {
        self.queue_pairs
    }

    fn rx_burst(&self, rxq: u16, pool: &mut PacketPool, batch: &mut Batch) -> usize {
        if rxq >= self.dev.active_queue_pairs() {
            return 0;
        }
        // Empty frames go straight into the batch and the device copies into them in place;
        // whatever it did not fill goes back to the pool.
        let start = batch.len();
        let want = batch.room().min(BATCH_SIZE);
        for _ in 0..want {
            let Some(p) = pool.alloc() else { break };
            if let Err(p) = batch.push(p) {
                pool.free(p);
                break;
            }
        }
        let have = batch.len() - start;
        let mut lens = [0usize; BATCH_SIZE];
        let n = {
            let mut bufs: [&mut [u8]; BATCH_SIZE] = std::array::from_fn(|_| <&mut [u8]>::default());
            for (b, p) in bufs.iter_mut().zip(&mut batch.packets_mut()[start..]) {
                *b = p.spare_mut();
            }
            self.dev.rx_burst(rxq, &mut bufs[..have], &mut lens[..have])
        };
        pool.free_tail(batch, start + n);
        let mut bytes = 0u64;
        for (p, &len) in batch.packets_mut()[start..].iter_mut().zip(&lens[..n]) {
            // The device never reports more than the buffer it was given; if it did, the frame
            // is left empty and the pipeline drops it as a runt (counted).
            if p.set_len(len) {
                bytes += len as u64;
            } else {
                p.set_len(0);
            }
        }
        self.counters.rx(n as u64, bytes);
        n
    }

    fn tx_burst(&self, txq: u16, pool: &mut PacketPool, batch: &mut Batch) {
        let n = batch.len();
        if n == 0 {
            return;
        }
        let active = self.dev.active_queue_pairs();
        let mtu = self.mtu.get();
        let mut frames: [&[u8]; BATCH_SIZE] = [&[]; BATCH_SIZE];
        let mut fit = 0;
        for p in batch.packets().iter().take(BATCH_SIZE) {
            if mtu::fits(p.data(), mtu) {
                frames[fit] = p.data();
                fit += 1;
            }
        }
        let sent = if active == 0 || !self.dev.link_up() {
            0
        } else {
            self.dev.tx_burst(txq % active, &frames[..fit])
        };
        let bytes: u64 = frames[..sent].iter().map(|f| f.len() as u64).sum();
        self.counters.tx(sent as u64, bytes);
        PortCounters::add(&self.counters.tx_dropped, (fit - sent) as u64);
        mtu::count_too_big(&self.counters, (n - fit) as u64);
        pool.free_batch(batch);
    }

    fn link_up(&self) -> bool {
        self.dev.link_up()
    }

    fn counters(&self) -> &PortCounters {
        &self.counters
    }

    fn mtu(&self) -> u32 {
        self.mtu.get()
    }

    fn set_mtu(&self, mtu: u32) -> Result<(), MtuError> {
        let max = u32::from(self.dev.config().mtu);
        self.mtu.set_checked(
            mtu,
            max,
            "vhost",
            || format!("the device was started with MTU {max}"),
            "",
        )
    }

    fn details(&self) -> serde_json::Value {
        use ::vhost::names;
        let s = self.dev.stats();
        let (features, protocol) = (
            self.dev.negotiated_features(),
            self.dev.negotiated_protocol_features(),
        );
        let rings: Vec<serde_json::Value> = self
            .dev
            .vrings()
            .iter()
            .map(|r| {
                serde_json::json!({
                    "index": r.index,
                    "queue_pair": r.index / 2,
                    "direction": if r.index % 2 == 0 { "guest_rx" } else { "guest_tx" },
                    "size": r.size,
                    "addressed": r.addressed,
                    "started": r.started,
                    "enabled": r.enabled,
                    "call": r.call,
                    "live": r.live,
                    "packets": r.packets,
                })
            })
            .collect();
        serde_json::json!({
            "socket": self.dev.config().socket.display().to_string(),
            "role": match self.dev.config().role {
                ::vhost::Role::Server => "server",
                ::vhost::Role::Client => "client",
            },
            "connected": self.dev.link_up(),
            "queue_pairs": self.queue_pairs,
            "active_queue_pairs": self.dev.active_queue_pairs(),
            "features": format!("{features:#x}"),
            "feature_names": names::feature_names(features),
            "protocol_features": format!("{protocol:#x}"),
            "protocol_feature_names": names::protocol_feature_names(protocol),
            "frontend_status": self.dev.frontend_status().map(|st| serde_json::json!({
                "value": format!("{st:#04x}"),
                "names": names::status_names(st),
            })),
            "rings": rings,
            "last_error": self.dev.last_error(),
            "connections": s.connections,
            "reconnects": s.reconnects,
            "bad_descriptors": s.bad_descriptors,
            "protocol_errors": s.protocol_errors,
            "ring_setup_errors": s.ring_setup_errors,
            "tx_no_buffers": s.tx_no_buffers,
            "tx_not_ready": s.tx_not_ready,
            "guest_notifications": s.guest_notifications,
            "rarps_sent": s.rarps_sent,
        })
    }

    fn refresh_stats(&self) {
        // Malformed descriptors and headers from the guest are receive errors. A guest frame
        // bigger than a pool frame (which holds more than any MTU) never reaches the PMD's
        // `too_big` check, so it is counted here under that reason, on this port only; a runt
        // likewise.
        let s = self.dev.stats();
        let f = &self.folded;
        let errors = Folded::delta(&f.errors, s.bad_descriptors + s.bad_headers);
        PortCounters::add(&self.counters.rx_errors, errors);
        let too_big = Folded::delta(&f.too_big, s.rx_oversize);
        self.counters.rx_drop(DropReason::TooBig, too_big);
        let runts = Folded::delta(&f.runts, s.rx_runts);
        self.counters.rx_drop(DropReason::Runt, runts);
    }
}
