//! VM ports: a vhost-user virtio-net device (crate `vhost`) behind the `Port` trait.
//!
//! The device owns the protocol thread and the guest's rings; this wrapper only moves bursts
//! between the rings and the PMD's packet pool. Receive hands the device up to a burst of empty
//! pool frames to copy guest frames into; transmit hands it the frames to copy into the guest's
//! receive buffers. Each receive queue of the port is one virtio queue pair, and a PMD transmits
//! on queue pair `txq % active pairs`, so several PMDs can feed one multiqueue VM without sharing a
//! ring. A guest that is not connected (or rebooting) shows as link down; transmits to it are
//! counted as `tx_dropped`.

use crate::mempool::{Batch, PacketPool, BATCH_SIZE};
use crate::port::{Port, PortCounters};
use ::vhost::{VhostConfig, VhostError, VhostNetDevice};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A vhost-user port.
pub struct VhostPort {
    name: String,
    dev: Arc<VhostNetDevice>,
    queue_pairs: u16,
    counters: PortCounters,
    /// Device error counters already folded into `counters` (they only grow).
    folded_errors: AtomicU64,
}

impl VhostPort {
    /// Start the device (listening or connecting per `cfg.role`); the guest may come later.
    pub fn open(name: &str, cfg: VhostConfig) -> Result<VhostPort, VhostError> {
        let queue_pairs = cfg.queue_pairs.max(1);
        let dev = VhostNetDevice::start(name, cfg)?;
        Ok(VhostPort {
            name: name.to_string(),
            dev,
            queue_pairs,
            counters: PortCounters::default(),
            folded_errors: AtomicU64::new(0),
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
        let sent = if active == 0 || !self.dev.link_up() {
            0
        } else {
            let qp = txq % active;
            let mut frames: [&[u8]; BATCH_SIZE] = [&[]; BATCH_SIZE];
            for (f, p) in frames.iter_mut().zip(batch.packets()) {
                *f = p.data();
            }
            self.dev.tx_burst(qp, &frames[..n.min(BATCH_SIZE)])
        };
        let bytes: u64 = batch.packets()[..sent].iter().map(|p| p.len() as u64).sum();
        self.counters.tx(sent as u64, bytes);
        PortCounters::add(&self.counters.tx_dropped, (n - sent) as u64);
        pool.free_batch(batch);
    }

    fn link_up(&self) -> bool {
        self.dev.link_up()
    }

    fn counters(&self) -> &PortCounters {
        &self.counters
    }

    fn max_frame(&self) -> usize {
        usize::from(self.dev.config().mtu) + 18
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
        // Malformed descriptors from the guest and frames too big for a buffer are receive errors.
        let s = self.dev.stats();
        let total = s.bad_descriptors + s.rx_truncated;
        let prev = self.folded_errors.swap(total, Ordering::Relaxed);
        PortCounters::add(&self.counters.rx_errors, total.saturating_sub(prev));
    }
}
