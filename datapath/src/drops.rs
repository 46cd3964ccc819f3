//! Drop reasons and their counters.
//!
//! Every packet the switch does not deliver is counted under exactly one reason, so "where did my
//! packet go" always has an answer (`dvsctl switch drops`, and the trace command names the reason
//! for a described packet). Counters are per PMD, plain relaxed atomics: drops are off the fast
//! path, and the control thread sums them across PMDs when asked.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! drop_reasons {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// Why a packet was dropped.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason {
            $(#[doc = $doc] $variant,)*
        }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant,)*];

            /// Stable name used in counters and traces.
            pub fn name(self) -> &'static str {
                match self {
                    $(DropReason::$variant => $name,)*
                }
            }
        }
    };
}

drop_reasons! {
    Runt => "runt_frame", "Frame shorter than an Ethernet header.";
    SrcMacMulticast => "src_mac_multicast", "Source MAC is a multicast or broadcast address (IEEE 802.1Q bridges never forward such a frame).";
    BadIpv4Header => "bad_ipv4_header", "IPv4 header with an IHL below 5, or a header or total length beyond the frame.";
    BadIpv6Length => "bad_ipv6_length", "IPv6 header cut short, or a payload length beyond the frame.";
    VlanTaggedOnAccess => "vlan_tagged_on_access", "Tagged frame arrived on an access port (VLAN hopping attempt).";
    VlanNotAllowed => "vlan_not_allowed", "Tagged frame for a VLAN outside the trunk's allowed set.";
    UntaggedOnTrunk => "untagged_on_trunk", "Untagged frame on a trunk without a native VLAN.";
    VlanDoubleTagged => "vlan_double_tagged", "Frame with two VLAN tags on an access or trunk port (double-tagging attack).";
    TableMiss => "table_miss", "No rule matched in a table and there was no miss rule.";
    RuleDrop => "rule_drop", "A rule with an empty action list matched.";
    NormalSamePort => "normal_same_port", "NORMAL: the destination was learned on the ingress port.";
    NormalNoPort => "normal_no_output", "NORMAL: no other port is a member of the packet's VLAN.";
    MacLimit => "mac_limit", "The ingress port reached its learned-MAC limit; unknown sources are dropped.";
    TtlExpired => "ttl_expired", "dec_ttl on a packet whose TTL would reach zero.";
    BadOutputPort => "bad_output_port", "Output to a port number the bridge does not have.";
    Controller => "controller_queue_full", "Output to CONTROLLER while the bridge's packet-in queue was full.";
    NoPacketIn => "no_packet_in", "Output to CONTROLLER for a packet from a port set to no_packet_in (PORT_MOD).";
    Unsupported => "unsupported_action", "An action the datapath cannot execute.";
    QueueFull => "qos_queue_full", "An egress shaping queue was full (tail drop).";
    Meter => "meter_drop", "A meter's drop band policed the packet.";
    Policed => "ingress_policed", "Received above the port's ingress policing rate (ingress_policing_rate).";
    UnknownMeter => "unknown_meter", "A meter instruction names a meter that was deleted while the packet was in flight.";
    UnknownGroup => "unknown_group", "A group action names a group that does not exist.";
    GroupNoBucket => "group_no_live_bucket", "A group had no bucket to execute (fast-failover with every bucket dead, or no buckets).";
    PortNoRecv => "port_no_recv", "Received on a port that is administratively down or set to no_recv (PORT_MOD).";
    PortNoFwd => "port_no_fwd", "Output to a port that is administratively down or set to no_fwd (PORT_MOD).";
    NoBuffer => "no_buffer", "Packet pool exhausted while copying a packet for an extra output.";
    PortDown => "port_down", "Output port has no carrier.";
    TooBig => "too_big", "Frame over the switch MTU when received (plus 4 bytes per VLAN tag), or over the output port's frame size after editing.";
    EditFailed => "edit_failed", "A header edit could not be applied (e.g. pop on an untagged frame).";
    UpcallLimited => "upcall_limited", "A packet of a new flow over its ingress port's slow-path budget (upcall_rate_per_port): a flood of new flows cannot starve established ones.";
    Internal => "internal_error", "A burst lost to an internal error (a bug: the PMD logged it and went on).";
}

/// Number of reasons.
pub const N_REASONS: usize = DropReason::ALL.len();

/// One counter per reason.
#[derive(Debug)]
pub struct DropCounters {
    counts: [AtomicU64; N_REASONS],
}

impl Default for DropCounters {
    fn default() -> Self {
        DropCounters {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl DropCounters {
    /// Count `n` drops for `reason`.
    #[inline]
    pub fn add(&self, reason: DropReason, n: u64) {
        self.counts[reason as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Current value for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts[reason as usize].load(Ordering::Relaxed)
    }

    /// A plain copy of every counter.
    pub fn snapshot(&self) -> DropStats {
        DropStats {
            counts: std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed)),
        }
    }
}

/// A plain copy of [`DropCounters`] (e.g. one port's drops, by reason). Serializes as a map of
/// reason name to count holding only the reasons that counted something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropStats {
    counts: [u64; N_REASONS],
}

impl Default for DropStats {
    fn default() -> Self {
        DropStats {
            counts: [0; N_REASONS],
        }
    }
}

impl DropStats {
    /// The count for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts[reason as usize]
    }

    /// The reasons with a non-zero count, in counter order.
    pub fn nonzero(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|&r| (r, self.counts[r as usize]))
            .filter(|&(_, n)| n > 0)
    }

    /// Sum over every reason.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

impl serde::Serialize for DropStats {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for (r, n) in self.nonzero() {
            m.serialize_entry(r.name(), &n)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), N_REASONS);
    }

    #[test]
    fn counting() {
        let c = DropCounters::default();
        c.add(DropReason::MacLimit, 3);
        assert_eq!(c.get(DropReason::MacLimit), 3);
        assert_eq!(c.get(DropReason::Runt), 0);
        c.add(DropReason::Runt, 1);
        let s = c.snapshot();
        assert_eq!(s.get(DropReason::MacLimit), 3);
        assert_eq!(s.total(), 4);
        let nz: Vec<_> = s.nonzero().collect();
        assert_eq!(nz, [(DropReason::Runt, 1), (DropReason::MacLimit, 3)]);
        assert_eq!(
            serde_json::to_value(s).expect("json"),
            serde_json::json!({"runt_frame": 1, "mac_limit": 3})
        );
        assert_eq!(
            serde_json::to_value(DropStats::default()).expect("json"),
            serde_json::json!({})
        );
    }
}
