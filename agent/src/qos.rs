//! The QoS side of the database: a VM port's `qos_out` and the uplink's `egress_kbps` as QoS
//! rows of type `dvs-shaper` with their Queue rows, referenced from the Port's `qos`.
//!
//! - VM port with `qos_out`: `other_config:cir` = average kbit/s as bytes/s, `cbs` = the burst
//!   in bytes (`burst_kb`, or 100 ms of `cir`, at least 64 KiB), `pir` = the peak as bytes/s
//!   when set; one queue, 0, with `other_config:priority=0`.
//! - the uplink with `egress_kbps`: `cir` from it, `cbs` by the same default, and queues 0..7
//!   with `other_config:priority=<queue id>` (ports pick theirs with `set_queue`, table 21).
//!
//! QoS and Queue are root tables: a row nobody references stays until deleted. So this module,
//! within the one transaction [`crate::ovs::diff`] builds, reuses the agent's existing rows
//! (updating only columns that differ), inserts what is missing, and deletes the agent's QoS and
//! Queue rows that nothing will reference once the transaction commits. Every row carries
//! `external_ids:dvs-owner=dvs-agent`; other rows are never changed or deleted.

use crate::plan::{BridgePlan, PortPlan, Role, OWNER};
use ovsdb::{datum, Replica, Row};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The QoS type dvs-switchd shapes with.
pub const TYPE: &str = "dvs-shaper";
/// The smallest default bucket, bytes.
const MIN_CBS: u64 = 64 * 1024;

/// A QoS row the plan wants on a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QosWant {
    /// `other_config`.
    pub other_config: BTreeMap<String, String>,
    /// Queue id -> that Queue's `other_config`.
    pub queues: BTreeMap<u32, BTreeMap<String, String>>,
}

fn bytes_per_s(kbps: u64) -> u64 {
    kbps.saturating_mul(1000) / 8
}

fn shaper(cir: u64, burst_kb: u64, pir: Option<u64>) -> BTreeMap<String, String> {
    let cbs = if burst_kb > 0 {
        bytes_per_s(burst_kb)
    } else {
        (cir / 10).max(MIN_CBS)
    };
    let mut m = BTreeMap::new();
    m.insert("cir".to_string(), cir.to_string());
    m.insert("cbs".to_string(), cbs.to_string());
    if let Some(p) = pir {
        m.insert("pir".to_string(), p.to_string());
    }
    m
}

fn priority(p: u32) -> BTreeMap<String, String> {
    BTreeMap::from([("priority".to_string(), p.to_string())])
}

/// What QoS port `p` of bridge `b` should have.
pub fn want(p: &PortPlan, b: &BridgePlan) -> Option<QosWant> {
    match &p.role {
        Role::Vm { .. } => {
            let q = p.policy.qos_out.as_ref()?;
            let pir = (q.peak_kbps > 0).then(|| bytes_per_s(q.peak_kbps));
            Some(QosWant {
                other_config: shaper(bytes_per_s(q.average_kbps), q.burst_kb, pir),
                queues: BTreeMap::from([(0, priority(0))]),
            })
        }
        Role::Uplink { .. } => {
            let e = b.egress_kbps?;
            Some(QosWant {
                other_config: shaper(bytes_per_s(e), 0, None),
                queues: (0..8).map(|q| (q, priority(q))).collect(),
            })
        }
    }
}

fn col<'a>(row: &'a Row, name: &str) -> &'a Value {
    row.get(name).unwrap_or(&Value::Null)
}

fn owned(row: &Row) -> bool {
    datum::str_map(col(row, "external_ids"))
        .get("dvs-owner")
        .is_some_and(|o| o == OWNER)
}

/// `QoS.queues` as queue id -> Queue uuid.
pub fn queue_map(v: &Value) -> BTreeMap<u32, String> {
    let mut out = BTreeMap::new();
    if let Some([tag, Value::Array(pairs)]) = v.as_array().map(Vec::as_slice) {
        if tag == "map" {
            for p in pairs {
                if let Some([k, u]) = p.as_array().map(Vec::as_slice) {
                    if let (Some(k), Some(u)) = (
                        k.as_u64().and_then(|k| u32::try_from(k).ok()),
                        datum::uuid(u),
                    ) {
                        out.insert(k, u.to_string());
                    }
                }
            }
        }
    }
    out
}

fn owner_ids(port: &str) -> Value {
    datum::map_of([("dvs-owner", OWNER), ("dvs-port", port)])
}

fn str_map_value(m: &BTreeMap<String, String>) -> Value {
    datum::map_of(m.iter().map(|(k, v)| (k.clone(), v.clone())))
}

/// The `where` clause selecting row `uuid` only while it is the agent's.
fn mine(uuid: &str) -> Value {
    json!([
        ["_uuid", "==", datum::uuid_ref(uuid)],
        [
            "external_ids",
            "includes",
            datum::map_of([("dvs-owner", OWNER)])
        ]
    ])
}

/// The QoS part of one transaction.
pub struct Txn<'a> {
    qos: BTreeMap<&'a str, &'a Row>,
    queues: BTreeMap<&'a str, &'a Row>,
    /// Existing QoS rows that stay referenced (by our ports, as decided here).
    kept_qos: BTreeSet<String>,
    /// Existing Queue rows that stay referenced by QoS rows written here.
    kept_queues: BTreeSet<String>,
    /// QoS rows whose `queues` this transaction rewrites (their old queues don't count).
    rewritten: BTreeSet<String>,
    /// Inserts (they come first in the transaction).
    pub inserts: Vec<Value>,
    /// Updates.
    pub updates: Vec<Value>,
}

impl<'a> Txn<'a> {
    /// Start, indexing the QoS and Queue rows of `db`.
    pub fn new(db: &'a Replica) -> Txn<'a> {
        Txn {
            qos: db.table("QoS").map(|(u, r)| (u.as_str(), r)).collect(),
            queues: db.table("Queue").map(|(u, r)| (u.as_str(), r)).collect(),
            kept_qos: BTreeSet::new(),
            kept_queues: BTreeSet::new(),
            rewritten: BTreeSet::new(),
            inserts: Vec::new(),
            updates: Vec::new(),
        }
    }

    /// The `Port.qos` value port `port` (currently referencing `current`) should have for
    /// `want`; the rows it needs are written into this transaction.
    pub fn port(
        &mut self,
        port: &str,
        current: Option<&str>,
        want: Option<&QosWant>,
        fresh: &mut dyn FnMut(&str) -> String,
    ) -> Value {
        let Some(want) = want else {
            return datum::set_of([]);
        };
        let existing = current.and_then(|u| self.qos.get(u).map(|r| (u, *r)));
        let Some((uuid, row)) = existing.filter(|(_, r)| owned(r)) else {
            // Insert a QoS row with its queues.
            let mut queues = Vec::new();
            for (id, cfg) in &want.queues {
                let name = fresh("q");
                self.inserts
                    .push(json!({"op": "insert", "table": "Queue", "uuid-name": name,
                    "row": {"other_config": str_map_value(cfg), "external_ids": owner_ids(port)}}));
                queues.push(json!([id, datum::named_uuid(&name)]));
            }
            let name = fresh("s");
            self.inserts
                .push(json!({"op": "insert", "table": "QoS", "uuid-name": name,
                "row": {"type": TYPE, "other_config": str_map_value(&want.other_config),
                        "queues": ["map", queues], "external_ids": owner_ids(port)}}));
            return datum::named_uuid(&name);
        };
        self.kept_qos.insert(uuid.to_string());
        let mut cols = serde_json::Map::new();
        if col(row, "type") != &json!(TYPE) {
            cols.insert("type".into(), json!(TYPE));
        }
        let oc = str_map_value(&want.other_config);
        if !datum::same(col(row, "other_config"), &oc) {
            cols.insert("other_config".into(), oc);
        }
        let have = queue_map(col(row, "queues"));
        let mut new_map = Vec::new();
        let mut same_keys = have.len() == want.queues.len();
        for (id, cfg) in &want.queues {
            let reuse = have
                .get(id)
                .filter(|u| self.queues.get(u.as_str()).is_some_and(|r| owned(r)));
            match reuse {
                Some(u) => {
                    let qrow = self.queues[u.as_str()];
                    let v = str_map_value(cfg);
                    if !datum::same(col(qrow, "other_config"), &v) {
                        self.updates.push(json!({"op": "update", "table": "Queue",
                            "where": mine(u), "row": {"other_config": v}}));
                    }
                    self.kept_queues.insert(u.clone());
                    new_map.push(json!([id, datum::uuid_ref(u)]));
                }
                None => {
                    same_keys = false;
                    let name = fresh("q");
                    self.inserts.push(json!({"op": "insert", "table": "Queue",
                        "uuid-name": name, "row": {"other_config": str_map_value(cfg),
                        "external_ids": owner_ids(port)}}));
                    new_map.push(json!([id, datum::named_uuid(&name)]));
                }
            }
        }
        if !same_keys {
            cols.insert("queues".into(), json!(["map", new_map]));
            self.rewritten.insert(uuid.to_string());
        }
        if !cols.is_empty() {
            self.updates
                .push(json!({"op": "update", "table": "QoS", "where": mine(uuid),
                "row": cols}));
        }
        datum::uuid_ref(uuid)
    }

    /// Deletes of the agent's QoS and Queue rows nothing references after this transaction.
    /// `others` are the QoS rows referenced by Port rows this transaction does not decide.
    pub fn deletes(&mut self, others: &BTreeSet<String>) -> Vec<Value> {
        let mut out = Vec::new();
        let mut live_qos: BTreeSet<&str> = BTreeSet::new();
        for (u, r) in &self.qos {
            let keep = self.kept_qos.contains(*u) || others.contains(*u);
            if keep || !owned(r) {
                live_qos.insert(u);
            } else {
                out.push(json!({"op": "delete", "table": "QoS", "where": mine(u)}));
            }
        }
        let mut live_queues: BTreeSet<String> = self.kept_queues.clone();
        for u in &live_qos {
            if !self.rewritten.contains(*u) {
                live_queues.extend(queue_map(col(self.qos[u], "queues")).into_values());
            }
        }
        for (u, r) in &self.queues {
            if owned(r) && !live_queues.contains(*u) {
                out.push(json!({"op": "delete", "table": "Queue", "where": mine(u)}));
            }
        }
        out
    }
}
