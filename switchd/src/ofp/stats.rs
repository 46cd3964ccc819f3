//! The switch-description replies: FEATURES_REPLY, and the multipart bodies for description,
//! table statistics, port statistics, port descriptions and table features.
//!
//! Everything is read from the bridge's current snapshot and the ports' relaxed counters, so a
//! reply is a consistent picture of one pipeline version but counters may move while it is
//! built (as in any switch). Ports have no MAC address of their own in dvs, so port
//! descriptions carry a stable locally administered address derived from the port name: the
//! same name always shows the same address, which is what tools that key on it need.

use super::hub::Hub;
use datapath::bridge::{BridgePort, BridgeView, OFPPC_PORT_DOWN};
use openflow::control::{OFPC_FLOW_STATS, OFPC_GROUP_STATS, OFPC_PORT_STATS, OFPC_TABLE_STATS};
use openflow::multipart::flow::TableStats;
use openflow::multipart::stats::{Desc, PortStats};
use openflow::multipart::table_features::TableFeatures;
use openflow::port::{OFPPF_10GB_FD, OFPPF_COPPER, OFPPS_LINK_DOWN, OFPPS_LIVE};
use openflow::{Port, SwitchFeatures};

/// Flows a table may hold, as announced in table features.
const MAX_ENTRIES: u32 = 1_000_000;
/// Advertised port speed (kb/s): a placeholder, software ports have no line rate.
const SPEED_KBPS: u32 = 10_000_000;

/// The FEATURES_REPLY of a bridge.
pub(super) fn features(hub: &Hub) -> SwitchFeatures {
    SwitchFeatures {
        datapath_id: hub.bridge.datapath_id(),
        n_buffers: 0,
        n_tables: n_tables(&hub.bridge.view()),
        auxiliary_id: 0,
        capabilities: OFPC_FLOW_STATS | OFPC_TABLE_STATS | OFPC_PORT_STATS | OFPC_GROUP_STATS,
        reserved: 0,
    }
}

fn n_tables(v: &BridgeView) -> u8 {
    u8::try_from(v.pipeline.n_tables()).unwrap_or(u8::MAX)
}

/// OFPMP_DESC.
pub(super) fn desc(hub: &Hub) -> Desc {
    Desc {
        mfr_desc: "dvs project".into(),
        hw_desc: "dvs user-mode virtual switch".into(),
        sw_desc: concat!("dvs-switchd ", env!("CARGO_PKG_VERSION")).into(),
        serial_num: "None".into(),
        dp_desc: hub.bridge.name.clone(),
    }
}

/// OFPMP_TABLE: lookups and matches per table.
pub(super) fn tables(hub: &Hub) -> Vec<TableStats> {
    hub.bridge
        .view()
        .pipeline
        .table_stats()
        .iter()
        .map(|t| TableStats {
            table_id: t.table,
            active_count: u32::try_from(t.active).unwrap_or(u32::MAX),
            lookup_count: t.lookups,
            matched_count: t.matched,
        })
        .collect()
}

/// OFPMP_PORT_STATS for `port_no` (OFPP_ANY = every port); `None` when the port does not exist.
pub(super) fn port_stats(hub: &Hub, port_no: u32, now_ns: u64) -> Option<Vec<PortStats>> {
    let view = hub.bridge.view();
    let age = super::duration(hub.started_ns, now_ns);
    let out: Vec<PortStats> = view
        .ports
        .iter()
        .filter(|p| port_no == flowtable::action::OFPP_ANY || p.ofport == port_no)
        .map(|p| {
            let s = p.port.counters().snapshot();
            PortStats {
                port_no: p.ofport,
                rx_packets: s.rx_packets,
                tx_packets: s.tx_packets,
                rx_bytes: s.rx_bytes,
                tx_bytes: s.tx_bytes,
                rx_dropped: s.rx_dropped,
                tx_dropped: s.tx_dropped,
                rx_errors: s.rx_errors,
                tx_errors: s.tx_errors,
                duration_sec: age.0,
                duration_nsec: age.1,
                ..PortStats::default()
            }
        })
        .collect();
    (port_no == flowtable::action::OFPP_ANY || !out.is_empty()).then_some(out)
}

/// A stable locally administered unicast MAC for a port name (FNV-1a of the name).
pub fn port_mac(name: &str) -> [u8; 6] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let b = h.to_be_bytes();
    [(b[2] & 0xfc) | 0x02, b[3], b[4], b[5], b[6], b[7]]
}

/// The OpenFlow description of one member port.
pub(super) fn port_of(p: &BridgePort) -> Port {
    Port {
        port_no: p.ofport,
        hw_addr: port_mac(&p.name),
        name: p.name.clone(),
        config: p.config,
        state: if p.port.link_up() {
            if p.config & OFPPC_PORT_DOWN == 0 {
                OFPPS_LIVE
            } else {
                0
            }
        } else {
            OFPPS_LINK_DOWN
        },
        curr: OFPPF_10GB_FD | OFPPF_COPPER,
        advertised: 0,
        supported: 0,
        peer: 0,
        curr_speed: SPEED_KBPS,
        max_speed: SPEED_KBPS,
    }
}

/// OFPMP_PORT_DESC.
pub(super) fn port_desc(hub: &Hub) -> Vec<Port> {
    hub.bridge.view().ports.iter().map(port_of).collect()
}

/// OFPMP_TABLE_FEATURES (read-only): every table.
pub(super) fn table_features(hub: &Hub) -> Vec<TableFeatures> {
    let n = n_tables(&hub.bridge.view());
    (0..n)
        .map(|t| TableFeatures::ours(t, n, MAX_ENTRIES))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::port_mac;

    #[test]
    fn port_macs_are_stable_local_unicast() {
        let a = port_mac("vm1");
        assert_eq!(a, port_mac("vm1"));
        assert_ne!(a, port_mac("vm2"));
        assert_eq!(a[0] & 0x03, 0x02, "locally administered, unicast");
    }
}
