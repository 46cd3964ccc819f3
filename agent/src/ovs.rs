//! The Open_vSwitch database side: which tables and columns the agent follows, and the one
//! transaction that turns what the database holds into what the plan asks for.
//!
//! The agent keeps a [`Replica`] of the rows it reads (by `monitor`) and computes the
//! difference against the plan ([`diff`]): Bridge rows to insert or update, Port and Interface
//! rows to insert, update, or drop (by removing them from their bridge's `ports`, which lets the
//! database garbage-collect them, as ovs-vsctl does). Everything goes in one `transact`, so
//! dvs-switchd sees a change set whole. Rows without `external_ids:dvs-owner=dvs-agent` are
//! never changed or deleted: every `update` carries the owner in its `where` clause, so even a
//! row an operator took over between our read and our write is left alone. A name the plan wants
//! that an unowned row already has becomes an apply error for that object, not a fight.
//!
//! Unchanged rows produce no operation; a quiet host does not write to the database.
//!
//! Port settings beyond VLANs: every Interface gets the DVS's MTU as `mtu_request` and, for
//! groups with `tcp_checksum_fill`, `other_config:tcp-checksum-fill=true`; shaping becomes QoS
//! and Queue rows ([`crate::qos`]) in the same transaction.

use crate::plan::{BridgePlan, Plan, PortPlan, OWNER};
use crate::qos;
use ovsdb::{datum, Replica, Row};
use proto::{Key, Kind};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The database.
pub const DB: &str = "Open_vSwitch";

/// What went wrong building the transaction.
#[derive(Debug, thiserror::Error)]
pub enum OvsError {
    /// The database has no `Open_vSwitch` row (`ovs-vsctl init` was never run).
    #[error("the database has no Open_vSwitch row (run ovs-vsctl init)")]
    NoRoot,
}

/// The monitor request: the columns read from each table.
pub fn monitor_requests() -> Value {
    json!({
        "Open_vSwitch": {"columns": ["bridges"]},
        "Bridge": {"columns": ["name", "ports", "external_ids", "datapath_type", "fail_mode"]},
        "Port": {"columns": ["name", "interfaces", "tag", "trunks", "vlan_mode", "external_ids",
            "qos"]},
        "Interface": {"columns": ["name", "type", "options", "external_ids", "ofport",
            "link_state", "error", "statistics", "other_config", "mtu_request"]},
        "QoS": {"columns": ["type", "other_config", "queues", "external_ids"]},
        "Queue": {"columns": ["other_config", "external_ids"]},
    })
}

fn col<'a>(row: &'a Row, name: &str) -> &'a Value {
    row.get(name).unwrap_or(&Value::Null)
}

fn name_of(row: &Row) -> &str {
    col(row, "name").as_str().unwrap_or_default()
}

/// Whether a row carries `external_ids:dvs-owner=dvs-agent`.
pub fn owned(row: &Row) -> bool {
    datum::str_map(col(row, "external_ids"))
        .get("dvs-owner")
        .is_some_and(|o| o == OWNER)
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

fn str_map_value(m: &BTreeMap<String, String>) -> Value {
    datum::map_of(m.iter().map(|(k, v)| (k.clone(), v.clone())))
}

/// The Port row columns of `p`.
fn port_columns(p: &PortPlan) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("tag".into(), datum::set_of(p.vlan.tag.map(|t| json!(t))));
    m.insert(
        "trunks".into(),
        datum::set_of(p.vlan.trunks.iter().map(|t| json!(t))),
    );
    m.insert("vlan_mode".into(), json!(p.vlan.mode));
    m.insert("external_ids".into(), str_map_value(&p.external_ids()));
    m
}

/// The Interface row columns of `p` in bridge `b`: `mtu_request` is the DVS's MTU, and
/// `other_config:tcp-checksum-fill=true` marks ports of groups with `tcp_checksum_fill`.
fn iface_columns(p: &PortPlan, b: &BridgePlan) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("type".into(), json!(p.iface_type));
    m.insert("options".into(), str_map_value(&p.options));
    m.insert("mtu_request".into(), datum::set_of([json!(b.mtu)]));
    let mut oc = BTreeMap::new();
    if p.policy.tcp_checksum_fill {
        oc.insert("tcp-checksum-fill".to_string(), "true".to_string());
    }
    m.insert("other_config".into(), str_map_value(&oc));
    m.insert("external_ids".into(), str_map_value(&p.external_ids()));
    m
}

fn bridge_columns(b: &BridgePlan) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("datapath_type".into(), json!("netdev"));
    m.insert("fail_mode".into(), json!("secure"));
    m.insert("external_ids".into(), str_map_value(&b.external_ids()));
    m
}

/// Whether a column holds `want` (see `ovsdb::datum::same`; an empty interface type is
/// "system"; a column the replica lacks is empty).
fn same(have: &Value, want: &Value) -> bool {
    let empty =
        |v: &Value| datum::same(v, &json!(["set", []])) || datum::same(v, &json!(["map", []]));
    ovsdb::datum::same(have, want)
        || (*have == json!("") && *want == json!("system"))
        || (have.is_null() && empty(want))
}

/// The columns of `want` that `row` does not hold yet.
fn changed(row: &Row, want: serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    want.into_iter()
        .filter(|(k, v)| !same(col(row, k), v))
        .collect()
}

/// The transaction's operations (empty: nothing to do) and the objects it could not place.
#[derive(Debug, Default)]
pub struct Diff {
    /// Operations for one `transact`.
    pub ops: Vec<Value>,
    /// Objects refused because an unowned row holds the name they need.
    pub errors: BTreeMap<Key, String>,
}

/// The operations that make `db` hold `plan`.
pub fn diff(db: &Replica, plan: &Plan) -> Result<Diff, OvsError> {
    let (root_uuid, _) = db.table("Open_vSwitch").next().ok_or(OvsError::NoRoot)?;
    let bridges: BTreeMap<&str, (&String, &Row)> = db
        .table("Bridge")
        .map(|(u, r)| (name_of(r), (u, r)))
        .collect();
    let ports: BTreeMap<&str, (&String, &Row)> = db
        .table("Port")
        .map(|(u, r)| (name_of(r), (u, r)))
        .collect();
    let ifaces: BTreeMap<&str, (&String, &Row)> = db
        .table("Interface")
        .map(|(u, r)| (name_of(r), (u, r)))
        .collect();
    let port_rows: BTreeMap<&str, &Row> = db.table("Port").map(|(u, r)| (u.as_str(), r)).collect();
    let iface_rows: BTreeMap<&str, &Row> = db
        .table("Interface")
        .map(|(u, r)| (u.as_str(), r))
        .collect();
    let mut out = Diff::default();
    let mut inserts = Vec::new(); // Interface, Port, Bridge inserts (in that order)
    let mut port_inserts = Vec::new();
    let mut bridge_inserts = Vec::new();
    let mut updates = Vec::new();
    let mut mutates = Vec::new();
    let mut n = 0usize;
    let mut fresh = |prefix: &str| {
        n += 1;
        format!("{prefix}{n}")
    };
    let mut q = qos::Txn::new(db);
    // Port rows whose `qos` this transaction decides.
    let mut decided: BTreeSet<&str> = BTreeSet::new();
    for (name, b) in &plan.bridges {
        let existing = bridges.get(name.as_str());
        if let Some((_, row)) = existing {
            if !owned(row) {
                let why = format!("bridge {name} exists and is not managed by dvs-agent");
                out.errors.insert(Key::new(Kind::Dvs, name), why.clone());
                for p in b.ports.values() {
                    out.errors.insert(p.key.clone(), why.clone());
                }
                continue;
            }
        }
        // The agent's ports currently in this bridge, by name.
        let mut current: BTreeMap<&str, &str> = BTreeMap::new();
        if let Some((_, row)) = existing {
            for u in datum::uuid_set(col(row, "ports")) {
                if let Some(pr) = port_rows.get(u) {
                    if owned(pr) {
                        current.insert(name_of(pr), u);
                    }
                }
            }
        }
        let mut new_ports = Vec::new();
        let mut gone: Vec<&str> = Vec::new();
        for p in b.ports.values() {
            // A name held by a row that is not ours: refuse rather than take it over.
            let foreign_port = ports.get(p.name.as_str()).is_some_and(|(_, r)| !owned(r));
            let foreign_iface = ifaces.get(p.name.as_str()).is_some_and(|(_, r)| !owned(r));
            if foreign_port || foreign_iface {
                out.errors.insert(
                    p.key.clone(),
                    format!(
                        "interface {} is already in the database and not managed by dvs-agent",
                        p.name
                    ),
                );
                continue;
            }
            match current.get(p.name.as_str()) {
                Some(puuid) => {
                    let Some(prow) = port_rows.get(puuid) else {
                        continue;
                    };
                    decided.insert(puuid);
                    let mut cols = changed(prow, port_columns(p));
                    let current = datum::uuid_set(col(prow, "qos")).first().copied();
                    let want = qos::want(p, b);
                    let qcol = q.port(&p.name, current, want.as_ref(), &mut fresh);
                    if !same(col(prow, "qos"), &qcol) {
                        cols.insert("qos".into(), qcol);
                    }
                    if !cols.is_empty() {
                        updates.push(update("Port", puuid, cols));
                    }
                    let members = datum::uuid_set(col(prow, "interfaces"));
                    let iface = members
                        .iter()
                        .find_map(|u| iface_rows.get(u).map(|r| (*u, *r)));
                    match iface {
                        Some((iu, irow)) if members.len() == 1 && name_of(irow) == p.name => {
                            let cols = changed(irow, iface_columns(p, b));
                            if !cols.is_empty() {
                                updates.push(update("Interface", iu, cols));
                            }
                        }
                        _ => {
                            // Not the one interface it should have: replace its interfaces.
                            let iname = fresh("i");
                            let mut irow = iface_columns(p, b);
                            irow.insert("name".into(), json!(p.name));
                            inserts.push(insert("Interface", &iname, irow));
                            updates.push(json!({
                                "op": "update", "table": "Port", "where": mine(puuid),
                                "row": {"interfaces": datum::named_uuid(&iname)},
                            }));
                        }
                    }
                }
                None => {
                    // New here (or moving from another bridge: its old row goes below and the
                    // database collects it in the same commit).
                    let (iname, pname) = (fresh("i"), fresh("p"));
                    let mut irow = iface_columns(p, b);
                    irow.insert("name".into(), json!(p.name));
                    inserts.push(insert("Interface", &iname, irow));
                    let mut prow = port_columns(p);
                    prow.insert("name".into(), json!(p.name));
                    let want = qos::want(p, b);
                    prow.insert(
                        "qos".into(),
                        q.port(&p.name, None, want.as_ref(), &mut fresh),
                    );
                    prow.insert("interfaces".into(), datum::named_uuid(&iname));
                    port_inserts.push(insert("Port", &pname, prow));
                    new_ports.push(pname);
                }
            }
        }
        for (pname, puuid) in &current {
            if !b.ports.contains_key(*pname) {
                gone.push(puuid);
                // Drop its QoS reference explicitly, so its QoS row can go in this commit.
                decided.insert(puuid);
                let has_qos = port_rows
                    .get(puuid)
                    .is_some_and(|r| !datum::uuid_set(col(r, "qos")).is_empty());
                if has_qos {
                    updates.push(update(
                        "Port",
                        puuid,
                        serde_json::Map::from_iter([("qos".to_string(), datum::set_of([]))]),
                    ));
                }
            }
        }
        match existing {
            Some((buuid, brow)) => {
                let cols = changed(brow, bridge_columns(b));
                if !cols.is_empty() {
                    updates.push(update("Bridge", buuid, cols));
                }
                if !gone.is_empty() {
                    mutates.push(mutate(
                        "Bridge",
                        buuid,
                        "ports",
                        "delete",
                        datum::set_of(gone.iter().map(|u| datum::uuid_ref(u))),
                    ));
                }
                if !new_ports.is_empty() {
                    mutates.push(mutate(
                        "Bridge",
                        buuid,
                        "ports",
                        "insert",
                        datum::set_of(new_ports.iter().map(|p| datum::named_uuid(p))),
                    ));
                }
            }
            None => {
                let bname = fresh("b");
                let mut row = bridge_columns(b);
                row.insert("name".into(), json!(name));
                row.insert(
                    "ports".into(),
                    datum::set_of(new_ports.iter().map(|p| datum::named_uuid(p))),
                );
                bridge_inserts.push(insert("Bridge", &bname, row));
                mutates.push(json!({
                    "op": "mutate", "table": "Open_vSwitch",
                    "where": [["_uuid", "==", datum::uuid_ref(root_uuid)]],
                    "mutations": [["bridges", "insert", datum::named_uuid(&bname)]],
                }));
            }
        }
    }
    // The agent's ports that sit in a bridge it does not own, or in one of its bridges the plan
    // dropped, are handled with their bridge; its bridges the plan no longer has go entirely.
    let wanted: BTreeSet<&str> = plan.bridges.keys().map(String::as_str).collect();
    let stale: Vec<&String> = db
        .table("Bridge")
        .filter(|(_, r)| owned(r) && !wanted.contains(name_of(r)))
        .map(|(u, _)| u)
        .collect();
    if !stale.is_empty() {
        mutates.push(json!({
            "op": "mutate", "table": "Open_vSwitch",
            "where": [["_uuid", "==", datum::uuid_ref(root_uuid)]],
            "mutations": [["bridges", "delete",
                datum::set_of(stale.iter().map(|u| datum::uuid_ref(u)))]],
        }));
    }
    let others: BTreeSet<String> = db
        .table("Port")
        .filter(|(u, _)| !decided.contains(u.as_str()))
        .flat_map(|(_, r)| datum::uuid_set(col(r, "qos")))
        .map(str::to_string)
        .collect();
    let qos_deletes = q.deletes(&others);
    out.ops.extend(q.inserts);
    out.ops.extend(inserts);
    out.ops.extend(port_inserts);
    out.ops.extend(bridge_inserts);
    out.ops.extend(updates);
    out.ops.extend(q.updates);
    out.ops.extend(mutates);
    out.ops.extend(qos_deletes);
    if !out.ops.is_empty() {
        // Like ovs-vsctl: ask the switch to report when this configuration is in force.
        out.ops.push(json!({
            "op": "mutate", "table": "Open_vSwitch",
            "where": [["_uuid", "==", datum::uuid_ref(root_uuid)]],
            "mutations": [["next_cfg", "+=", 1]],
        }));
    }
    Ok(out)
}

fn insert(table: &str, name: &str, row: serde_json::Map<String, Value>) -> Value {
    json!({"op": "insert", "table": table, "uuid-name": name, "row": row})
}

fn update(table: &str, uuid: &str, row: serde_json::Map<String, Value>) -> Value {
    json!({"op": "update", "table": table, "where": mine(uuid), "row": row})
}

fn mutate(table: &str, uuid: &str, column: &str, mutator: &str, value: Value) -> Value {
    json!({"op": "mutate", "table": table, "where": mine(uuid),
           "mutations": [[column, mutator, value]]})
}

/// One of the agent's interfaces as the database shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IfaceState {
    /// Bridge it is in.
    pub bridge: String,
    /// `ofport`, when valid.
    pub ofport: Option<u32>,
    /// `link_state` is `up`.
    pub link: bool,
    /// `error`.
    pub error: Option<String>,
    /// `statistics`.
    pub counters: BTreeMap<String, u64>,
    /// `external_ids`.
    pub external_ids: BTreeMap<String, String>,
}

/// The agent's interfaces by name (only rows it owns, in bridges it owns).
pub fn interfaces(db: &Replica) -> BTreeMap<String, IfaceState> {
    let port_rows: BTreeMap<&str, &Row> = db.table("Port").map(|(u, r)| (u.as_str(), r)).collect();
    let iface_rows: BTreeMap<&str, &Row> = db
        .table("Interface")
        .map(|(u, r)| (u.as_str(), r))
        .collect();
    let mut out = BTreeMap::new();
    for (_, b) in db.table("Bridge").filter(|(_, r)| owned(r)) {
        for pu in datum::uuid_set(col(b, "ports")) {
            let Some(p) = port_rows.get(pu).filter(|p| owned(p)) else {
                continue;
            };
            for iu in datum::uuid_set(col(p, "interfaces")) {
                let Some(i) = iface_rows.get(iu).filter(|i| owned(i)) else {
                    continue;
                };
                let ofport = datum::opt_int(col(i, "ofport"))
                    .filter(|n| (1..=0xffff_ff00).contains(n))
                    .and_then(|n| u32::try_from(n).ok());
                let counters = match col(i, "statistics").as_array().map(Vec::as_slice) {
                    Some([tag, Value::Array(pairs)]) if tag == "map" => pairs
                        .iter()
                        .filter_map(|p| match p.as_array().map(Vec::as_slice) {
                            Some([Value::String(k), v]) => Some((k.clone(), v.as_u64()?)),
                            _ => None,
                        })
                        .collect(),
                    _ => BTreeMap::new(),
                };
                out.insert(
                    name_of(i).to_string(),
                    IfaceState {
                        bridge: name_of(b).to_string(),
                        ofport,
                        link: datum::opt_str(col(i, "link_state")) == Some("up"),
                        error: datum::opt_str(col(i, "error"))
                            .filter(|e| !e.is_empty())
                            .map(str::to_string),
                        counters,
                        external_ids: datum::str_map(col(i, "external_ids")),
                    },
                );
            }
        }
    }
    out
}

/// Names of the bridges the agent owns.
pub fn owned_bridges(db: &Replica) -> BTreeSet<String> {
    db.table("Bridge")
        .filter(|(_, r)| owned(r))
        .map(|(_, r)| name_of(r).to_string())
        .collect()
}

#[cfg(test)]
#[path = "ovs_tests.rs"]
mod tests;
