//! Egress QoS of a port: the shaper's rates, bucket sizes and queues, as every front end
//! produces them (the file's `qos` table, the database's `QoS` and `Queue` rows), validated here
//! once so both fronts refuse the same things with the same words.
//!
//! Units are bytes and bytes per second, as Open vSwitch's `egress-policer` writes `cir` and
//! `cbs`; a frame is counted without its FCS, as meters count it. Queue ids and priorities are
//! 0..=7; queue 0 always exists (priority 0 unless configured), and a packet whose `set_queue`
//! names a queue the shaper does not have goes there.

use serde::Serialize;
use std::collections::BTreeMap;

/// Highest queue id and highest priority.
pub const MAX_QUEUE: u32 = 7;
/// Packets a queue holds when the configuration does not say.
pub const DEFAULT_QUEUE_PACKETS: u32 = 1000;
/// Most packets a queue may be configured to hold.
pub const MAX_QUEUE_PACKETS: u32 = 65536;
/// Largest rate accepted (100 GB/s) and largest bucket (1 GB): the token arithmetic stays
/// exact in 64 bits below those.
pub const MAX_RATE_BYTES_PER_S: u64 = 100_000_000_000;
/// Largest bucket, bytes.
pub const MAX_BUCKET_BYTES: u64 = 1_000_000_000;

/// An egress shaper (`type = "dvs-shaper"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShaperConfig {
    /// Committed rate, bytes per second (at least 1).
    pub cir_bytes_per_s: u64,
    /// Committed bucket, bytes (0: 10 ms of `cir`); never less than one jumbo frame in effect.
    pub cbs_bytes: u64,
    /// Peak rate, bytes per second (0: no peak bucket).
    pub pir_bytes_per_s: u64,
    /// Peak bucket, bytes (0: one jumbo frame).
    pub pbs_bytes: u64,
    /// Queue id -> priority (both 0..=7). Queue 0 exists even when absent (priority 0).
    pub queues: BTreeMap<u32, u8>,
    /// Depth of each queue, packets (per PMD thread).
    pub queue_packets: u32,
}

impl ShaperConfig {
    /// A shaper at `cir` bytes/s with default buckets and only queue 0.
    pub fn new(cir_bytes_per_s: u64) -> ShaperConfig {
        ShaperConfig {
            cir_bytes_per_s,
            cbs_bytes: 0,
            pir_bytes_per_s: 0,
            pbs_bytes: 0,
            queues: BTreeMap::new(),
            queue_packets: DEFAULT_QUEUE_PACKETS,
        }
    }

    /// Check ranges; the message names the setting as both fronts spell it.
    pub fn validate(&self) -> Result<(), String> {
        if self.cir_bytes_per_s == 0 || self.cir_bytes_per_s > MAX_RATE_BYTES_PER_S {
            return Err(format!(
                "cir must be 1..={MAX_RATE_BYTES_PER_S} bytes/s, not {}",
                self.cir_bytes_per_s
            ));
        }
        if self.pir_bytes_per_s > MAX_RATE_BYTES_PER_S {
            return Err(format!(
                "pir must be at most {MAX_RATE_BYTES_PER_S} bytes/s, not {}",
                self.pir_bytes_per_s
            ));
        }
        if self.pir_bytes_per_s != 0 && self.pir_bytes_per_s < self.cir_bytes_per_s {
            return Err(format!(
                "pir ({}) must not be below cir ({})",
                self.pir_bytes_per_s, self.cir_bytes_per_s
            ));
        }
        for (name, v) in [("cbs", self.cbs_bytes), ("pbs", self.pbs_bytes)] {
            if v > MAX_BUCKET_BYTES {
                return Err(format!(
                    "{name} must be at most {MAX_BUCKET_BYTES} bytes, not {v}"
                ));
            }
        }
        if self.queue_packets == 0 || self.queue_packets > MAX_QUEUE_PACKETS {
            return Err(format!(
                "queue-packets must be 1..={MAX_QUEUE_PACKETS}, not {}",
                self.queue_packets
            ));
        }
        for (&q, &prio) in &self.queues {
            if q > MAX_QUEUE {
                return Err(format!("queue id must be 0..={MAX_QUEUE}, not {q}"));
            }
            if u32::from(prio) > MAX_QUEUE {
                return Err(format!(
                    "queue {q}: priority must be 0..={MAX_QUEUE}, not {prio}"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let mut c = ShaperConfig::new(5_000_000);
        assert!(c.validate().is_ok());
        c.queues.insert(8, 1);
        assert!(c.validate().unwrap_err().contains("queue id"));
        c.queues.clear();
        c.queues.insert(1, 9);
        assert!(c.validate().unwrap_err().contains("priority"));
        c.queues.clear();
        c.pir_bytes_per_s = 1;
        assert!(c.validate().unwrap_err().contains("pir"));
        c.pir_bytes_per_s = 0;
        c.cir_bytes_per_s = 0;
        assert!(c.validate().unwrap_err().contains("cir"));
    }
}
