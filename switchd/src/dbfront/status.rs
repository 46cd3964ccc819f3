//! What the switch writes back to the Open_vSwitch database, as ovs-vswitchd does: on
//! `Interface` its `ofport`, `error`, `admin_state`, `link_state`, `mtu`, `status` and (every few
//! seconds) `statistics`; on `Bridge` its `datapath_id`; on `Open_vSwitch` `cur_cfg` (which
//! `ovs-vsctl` waits for), `iface_types`, `datapath_types` and `dpdk_initialized`.
//!
//! Everything goes in one transaction per sync, and only columns whose value differs from the
//! replica's are written (the monitor then echoes them back as an update, which changes
//! nothing), so a quiet switch does not churn the database.

use super::model::{Desired, IFACE_TYPES};
use datapath::config::PortKind;
use datapath::switch::Switch;
use ovsdb::{datum, Replica, Row};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

/// The database name.
pub const DB: &str = "Open_vSwitch";

/// One `update` operation on the row `uuid` of `table`.
fn update(table: &str, uuid: &str, row: Map<String, Value>) -> Value {
    json!({
        "op": "update",
        "table": table,
        "where": [["_uuid", "==", datum::uuid_ref(uuid)]],
        "row": row,
    })
}

/// Keep in `want` only the columns whose value differs from `have`'s.
fn changed(have: &Row, want: Map<String, Value>) -> Map<String, Value> {
    want.into_iter()
        .filter(|(k, v)| !same(have.get(k), v))
        .collect()
}

/// Whether two datums mean the same (`ovsdb::datum::same`); a missing column never does.
fn same(a: Option<&Value>, b: &Value) -> bool {
    a.is_some_and(|a| datum::same(a, b))
}

/// How much of each running interface's state to write.
pub enum Scope {
    /// Everything, `status` and `statistics` included (the periodic refresh).
    Full,
    /// `ofport`, `error`, the states and `mtu` of every interface, and `status` only for these
    /// (the ports a change just made).
    Touched(HashSet<String>),
}

/// The operations that bring the database's status columns in line with the switch.
/// `written_stats` holds the statistics last written per interface row: unchanged counters (an
/// idle port) are not written again.
pub fn ops(
    sw: &Switch,
    db: &Replica,
    d: &Desired,
    dpdk_initialized: bool,
    scope: &Scope,
    written_stats: &mut HashMap<String, Value>,
) -> Vec<Value> {
    let mut ops = Vec::new();
    let statistics = matches!(scope, Scope::Full);
    let detailed = |name: &str| match scope {
        Scope::Full => true,
        Scope::Touched(set) => set.contains(name),
    };
    let running = running_ports(sw, &detailed);
    for (uuid, row) in db.table("Interface") {
        let name = row.get("name").and_then(Value::as_str).unwrap_or_default();
        let mut want = Map::new();
        if let Some(err) = d.errors.get(name) {
            want.insert("error".into(), json!(err));
            want.insert("ofport".into(), json!(-1));
            want.insert("link_state".into(), json!(["set", []]));
            want.insert("admin_state".into(), json!(["set", []]));
        } else if let Some(p) = running.get(name) {
            want.insert("error".into(), json!(["set", []]));
            want.insert("ofport".into(), json!(p.ofport));
            want.insert("admin_state".into(), json!("up"));
            want.insert(
                "link_state".into(),
                json!(if p.link_up { "up" } else { "down" }),
            );
            want.insert("mtu".into(), json!(p.mtu));
            if let Some(mac) = &p.mac {
                want.insert("mac_in_use".into(), json!(mac));
            }
            if let Some(details) = &p.details {
                want.insert("status".into(), status_map(details));
            }
            if statistics {
                want.insert("statistics".into(), stats_map(&p.counters));
            }
        } else {
            // Not (or no longer) in any bridge: nothing to report.
            continue;
        }
        let statistics_col = want.remove("statistics");
        let mut row_ops = changed(row, want);
        // Statistics are not monitored (they change all the time): compared with what was
        // last written instead.
        if let Some(s) = statistics_col {
            if written_stats.get(uuid) != Some(&s) {
                written_stats.insert(uuid.clone(), s.clone());
                row_ops.insert("statistics".into(), s);
            }
        }
        if !row_ops.is_empty() {
            ops.push(update("Interface", uuid, row_ops));
        }
    }
    for (uuid, row) in db.table("Bridge") {
        let name = row.get("name").and_then(Value::as_str).unwrap_or_default();
        let Some(b) = sw.bridge(name) else { continue };
        let mut want = Map::new();
        want.insert(
            "datapath_id".into(),
            json!(format!("{:016x}", b.datapath_id())),
        );
        let row_ops = changed(row, want);
        if !row_ops.is_empty() {
            ops.push(update("Bridge", uuid, row_ops));
        }
    }
    if let Some((uuid, row)) = db.table("Open_vSwitch").next() {
        let mut want = Map::new();
        want.insert("cur_cfg".into(), json!(d.next_cfg));
        want.insert(
            "iface_types".into(),
            datum::set_of(IFACE_TYPES.iter().map(|t| json!(t))),
        );
        want.insert("datapath_types".into(), datum::set_of([json!("netdev")]));
        want.insert("dpdk_initialized".into(), json!(dpdk_initialized));
        let row_ops = changed(row, want);
        if !row_ops.is_empty() {
            ops.push(update("Open_vSwitch", uuid, row_ops));
        }
    }
    ops
}

/// What the switch knows about one running port.
struct Running {
    ofport: u32,
    link_up: bool,
    /// The port's effective MTU (its own, bounded by the switch's and the interface's).
    mtu: u32,
    /// The port's details, when asked for.
    details: Option<Value>,
    /// The MAC address of the kernel interface behind the port (when asked for, and there is
    /// one: AF_PACKET, AF_XDP and TAP ports; vhost-user and DPDK ports have none to report).
    mac: Option<String>,
    counters: datapath::port::PortStats,
}

fn running_ports(sw: &Switch, detailed: &dyn Fn(&str) -> bool) -> HashMap<String, Running> {
    let mut out = HashMap::new();
    for b in sw.bridges() {
        for p in &b.view().ports {
            out.insert(
                p.name.clone(),
                Running {
                    ofport: p.ofport,
                    link_up: p.port.link_up(),
                    mtu: p.port.mtu(),
                    details: detailed(&p.name).then(|| p.port.details()),
                    mac: if detailed(&p.name) {
                        kernel_mac(sw, p.gidx)
                    } else {
                        None
                    },
                    counters: p.port.counters().snapshot(),
                },
            );
        }
    }
    out
}

/// The address of port `gidx`'s kernel interface, as sysfs shows it.
fn kernel_mac(sw: &Switch, gidx: usize) -> Option<String> {
    let pc = sw.port_config(gidx)?;
    if !matches!(
        pc.kind,
        PortKind::AfPacket | PortKind::AfXdp | PortKind::Tap
    ) {
        return None;
    }
    let text = std::fs::read_to_string(format!("/sys/class/net/{}/address", pc.interface)).ok()?;
    Some(text.trim().to_string()).filter(|m| m.len() == 17)
}

/// `Interface.status`: the port's top-level details as strings (for vhost-user: the socket,
/// `mode` client or server, the negotiated features, whether a VM is connected).
fn status_map(details: &Value) -> Value {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(o) = details.as_object() {
        for (k, v) in o {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            if k == "role" {
                pairs.push(("mode".into(), s.clone()));
            }
            pairs.push((k.clone(), s));
        }
    }
    datum::map_of(pairs)
}

/// `Interface.statistics`, with OVS's key names, plus one `drop_<reason>` key per drop reason
/// that counted something on this port as the ingress port (e.g. `drop_src_mac_multicast`; the
/// agent reports these to the manager).
fn stats_map(c: &datapath::port::PortStats) -> Value {
    let n = |v: u64| json!(i64::try_from(v).unwrap_or(i64::MAX));
    let mut pairs: Vec<(String, Value)> = [
        ("rx_packets", n(c.rx_packets)),
        ("rx_bytes", n(c.rx_bytes)),
        ("rx_dropped", n(c.rx_dropped)),
        ("rx_errors", n(c.rx_errors)),
        ("tx_packets", n(c.tx_packets)),
        ("tx_bytes", n(c.tx_bytes)),
        ("tx_dropped", n(c.tx_dropped)),
        ("tx_errors", n(c.tx_errors)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (reason, count) in c.drops.nonzero() {
        pairs.push((format!("drop_{}", reason.name()), n(count)));
    }
    datum::map_of(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datums_compare_by_meaning() {
        assert!(same(Some(&json!(["set", [5]])), &json!(5)));
        assert!(same(
            Some(&json!(["map", [["b", "2"], ["a", "1"]]])),
            &json!(["map", [["a", "1"], ["b", "2"]]])
        ));
        assert!(!same(Some(&json!(["set", []])), &json!("x")));
        assert!(same(Some(&json!(["set", []])), &json!(["set", []])));
        assert!(!same(None, &json!(1)));
    }

    #[test]
    fn statistics_name_nonzero_drop_reasons() {
        use datapath::drops::DropReason;
        let c = datapath::port::PortCounters::default();
        c.rx(5, 500);
        c.rx_drop(DropReason::SrcMacMulticast, 2);
        let m = stats_map(&c.snapshot());
        assert!(same(
            Some(&m),
            &datum::map_of([
                ("rx_packets", json!(5)),
                ("rx_bytes", json!(500)),
                ("rx_dropped", json!(2)),
                ("rx_errors", json!(0)),
                ("tx_packets", json!(0)),
                ("tx_bytes", json!(0)),
                ("tx_dropped", json!(0)),
                ("tx_errors", json!(0)),
                ("drop_src_mac_multicast", json!(2)),
            ])
        ));
    }
}
