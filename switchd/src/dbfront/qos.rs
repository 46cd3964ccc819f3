//! A port's egress treatment from the database: `Port.qos` -> `QoS` row (and its `Queue` rows),
//! and `Interface.other_config:tcp-checksum-fill`.
//!
//! The `QoS` row must have `type` `dvs-shaper` and `other_config` `cir` (bytes/s, required),
//! `cbs` (bytes), `pir` (bytes/s), `pbs` (bytes) and `queue-packets`, in the units of OVS's
//! `egress-policer`. `QoS.queues` maps queue ids (0..7, what `set_queue` names) to `Queue` rows
//! whose `other_config:priority` (0..7, default 0) weighs the queue's share: backlogged queues
//! share the rate in proportion to priority + 1. Any other type, or a value that does not parse
//! or is out of range, refuses the interface with the reason in `Interface.error` (as other
//! refused settings are), so a port never runs unshaped when it was meant to be shaped; every
//! other port still applies.

use datapath::config::{PortConfig, ShaperConfig};
use ovsdb::{datum, Row};
use serde_json::Value;
use std::collections::BTreeMap;

/// The QoS type the switch implements.
pub const SHAPER_TYPE: &str = "dvs-shaper";

fn col<'a>(row: &'a Row, name: &str) -> &'a Value {
    row.get(name).unwrap_or(&Value::Null)
}

/// `pc` with the shaper of port row `port` and the checksum fill of interface row `iface`.
pub(super) fn egress(
    mut pc: PortConfig,
    port: &Row,
    iface: &Row,
    qos: &BTreeMap<&str, &Row>,
    queues: &BTreeMap<&str, &Row>,
    warnings: &mut Vec<String>,
) -> Result<PortConfig, String> {
    let oc = datum::str_map(col(iface, "other_config"));
    pc.tcp_checksum_fill = match oc.get("tcp-checksum-fill").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(format!(
                "other_config:tcp-checksum-fill \"{v}\" is not true or false"
            ))
        }
    };
    let Some(u) = datum::uuid_set(col(port, "qos")).into_iter().next() else {
        return Ok(pc);
    };
    let Some(row) = qos.get(u) else {
        // Referential integrity makes this a transient state of the replica.
        return Ok(pc);
    };
    pc.qos = Some(shaper(row, queues, &pc.name, warnings).map_err(|e| format!("QoS: {e}"))?);
    Ok(pc)
}

fn shaper(
    row: &Row,
    queues: &BTreeMap<&str, &Row>,
    port: &str,
    warnings: &mut Vec<String>,
) -> Result<ShaperConfig, String> {
    let kind = datum::opt_str(col(row, "type")).unwrap_or_default();
    if kind != SHAPER_TYPE {
        return Err(format!(
            "type \"{kind}\" is not supported (the switch shapes with type \"{SHAPER_TYPE}\")"
        ));
    }
    let oc = datum::str_map(col(row, "other_config"));
    let num = |key: &str| -> Result<Option<u64>, String> {
        oc.get(key)
            .map(|s| {
                s.parse::<u64>()
                    .map_err(|_| format!("other_config:{key} \"{s}\" is not a number"))
            })
            .transpose()
    };
    for key in oc.keys() {
        if !["cir", "cbs", "pir", "pbs", "queue-packets"].contains(&key.as_str()) {
            warnings.push(format!(
                "port {port}: QoS other_config:{key} is not a dvs-shaper setting; ignored"
            ));
        }
    }
    let cir = num("cir")?.ok_or("other_config:cir (bytes per second) is required")?;
    let mut cfg = ShaperConfig::new(cir);
    cfg.cbs_bytes = num("cbs")?.unwrap_or(0);
    cfg.pir_bytes_per_s = num("pir")?.unwrap_or(0);
    cfg.pbs_bytes = num("pbs")?.unwrap_or(0);
    if let Some(n) = num("queue-packets")? {
        cfg.queue_packets = u32::try_from(n).unwrap_or(u32::MAX);
    }
    for (id, u) in queue_map(col(row, "queues")) {
        let Some(q) = queues.get(u) else { continue };
        let qoc = datum::str_map(col(q, "other_config"));
        let prio = match qoc.get("priority") {
            None => 0,
            Some(s) => s
                .parse::<u8>()
                .map_err(|_| format!("queue {id}: other_config:priority \"{s}\" is not 0..7"))?,
        };
        let id = u32::try_from(id).map_err(|_| format!("queue id {id} is not 0..7"))?;
        cfg.queues.insert(id, prio);
    }
    cfg.validate()?;
    Ok(cfg)
}

/// The `(key, uuid)` pairs of an integer-to-reference map column (`QoS.queues`).
fn queue_map(v: &Value) -> Vec<(i64, &str)> {
    let mut out = Vec::new();
    if let Some([tag, Value::Array(pairs)]) = v.as_array().map(Vec::as_slice) {
        if tag == "map" {
            for p in pairs {
                if let Some([k, r]) = p.as_array().map(Vec::as_slice) {
                    if let (Some(k), Some(u)) = (k.as_i64(), datum::uuid(r)) {
                        out.push((k, u));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "qos_tests.rs"]
mod tests;
