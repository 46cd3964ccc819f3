//! OpenFlow meters: per-bridge token-bucket policers (OpenFlow 1.3 section 5.7).
//!
//! STUB: the interface the datapath uses; the token bucket, the bands and the statistics are
//! filled in by the meter work (issue 4).

use std::collections::HashMap;
use std::sync::Arc;

/// What a meter says about one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Under every band's rate: the packet goes on unchanged.
    Pass,
    /// A drop band applies: the packet is dropped (and counted on the band).
    Drop,
    /// A DSCP-remark band applies: raise the drop precedence by this many levels.
    Remark(u8),
}

/// One meter and its state.
#[derive(Debug)]
pub struct Meter {
    /// Meter id.
    pub id: u32,
}

impl Meter {
    /// Police one packet of `bytes` bytes arriving at `now_ns`.
    #[inline]
    pub fn apply(&self, _bytes: u32, _now_ns: u64) -> Verdict {
        Verdict::Pass
    }
}

/// A bridge's meters, published with its view (a METER_MOD publishes a new table).
#[derive(Clone, Debug, Default)]
pub struct MeterTable {
    meters: HashMap<u32, Arc<Meter>>,
}

impl MeterTable {
    /// The meter with id `id`.
    #[inline]
    pub fn get(&self, id: u32) -> Option<&Arc<Meter>> {
        self.meters.get(&id)
    }

    /// True when meter `id` exists.
    pub fn contains(&self, id: u32) -> bool {
        self.meters.contains_key(&id)
    }
}

/// Raise the drop precedence of an IP packet's DSCP by `levels` (a DSCP-remark band); false
/// when the packet cannot be edited.
pub fn remark(_pkt: &mut crate::mempool::Packet, _levels: u8) -> bool {
    true
}
