//! The meters of a bridge: a port's broadcast-suppression meter and its ingress policer, with
//! ids derived from its OpenFlow number so that a restarted agent computes the same ids and
//! adopts what is installed (no state to store).
//!
//! - broadcast: id `ofport * 4 + 1`, one drop band at the group's threshold, in packets/s
//!   (`OFPMF_PKTPS`) or kb/s (`OFPMF_KBPS`); burst left to the switch (100 ms of the rate);
//! - policing: id `ofport * 4 + 2`, `OFPMF_KBPS`, one drop band at `qos_in.average_kbps`, burst
//!   `qos_in.burst_kb` (`OFPMF_BURST`) or, when 0, the switch's default. `peak_kbps` has no
//!   meaning for a single-rate drop policer and is not used here.
//!
//! Every meter has `OFPMF_STATS`: its drop band's packet count is the port's
//! `broadcast_suppressed` / `policed` count. A port whose number would put an id above
//! `OFPM_MAX` gets no meter (and so no metered flow): numbers that high do not occur in
//! dvs-switchd.

use openflow::meter::{OFPMF_BURST, OFPMF_KBPS, OFPMF_PKTPS, OFPMF_STATS, OFPM_MAX};
use openflow::MeterBand;
use proto::objects::{Qos, Suppression};

/// Offset of the broadcast meter in a port's block of four ids.
pub const BROADCAST: u32 = 1;
/// Offset of the policing meter.
pub const POLICE: u32 = 2;

/// Reason name of packets the broadcast meter drops.
pub const BROADCAST_REASON: &str = "broadcast_suppressed";
/// Reason name of packets the policer drops.
pub const POLICE_REASON: &str = "policed";

/// One meter the agent wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterSpec {
    /// Meter id.
    pub id: u32,
    /// OFPMF_* flags.
    pub flags: u16,
    /// Bands.
    pub bands: Vec<MeterBand>,
    /// Origin key (`port/vm1`).
    pub origin: String,
    /// Reason name its drops are counted under.
    pub reason: &'static str,
}

/// The meter id at `offset` in port `ofport`'s block, if it is a valid id.
pub fn id(ofport: u32, offset: u32) -> Option<u32> {
    ofport
        .checked_mul(4)
        .and_then(|b| b.checked_add(offset))
        .filter(|id| *id <= OFPM_MAX)
}

/// Whether meter `id` is in the agent's id space (1 or 2 modulo 4).
pub fn is_ours(id: u32) -> bool {
    matches!(id % 4, BROADCAST | POLICE) && id <= OFPM_MAX
}

fn rate(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The broadcast meter of port `ofport`.
pub fn broadcast(ofport: u32, s: &Suppression, origin: &str) -> Option<MeterSpec> {
    let (flags, r) = match (s.pps, s.kbps) {
        (Some(p), _) => (OFPMF_PKTPS, p),
        (None, Some(k)) => (OFPMF_KBPS, k),
        (None, None) => return None,
    };
    Some(MeterSpec {
        id: id(ofport, BROADCAST)?,
        flags: flags | OFPMF_STATS,
        bands: vec![MeterBand::Drop {
            rate: rate(r),
            burst_size: 0,
        }],
        origin: origin.to_string(),
        reason: BROADCAST_REASON,
    })
}

/// The ingress policer of port `ofport`.
pub fn police(ofport: u32, q: &Qos, origin: &str) -> Option<MeterSpec> {
    let burst = if q.burst_kb > 0 { OFPMF_BURST } else { 0 };
    Some(MeterSpec {
        id: id(ofport, POLICE)?,
        flags: OFPMF_KBPS | OFPMF_STATS | burst,
        bands: vec![MeterBand::Drop {
            rate: rate(q.average_kbps),
            burst_size: rate(q.burst_kb),
        }],
        origin: origin.to_string(),
        reason: POLICE_REASON,
    })
}
