//! Table updates: what a monitor's initial reply and its notifications say changed, and a
//! [`Replica`] that applies them to a local copy of the monitored rows.
//!
//! RFC 7047's `update` (from `monitor`) carries whole rows: `new` holds every monitored column
//! of an inserted or modified row, `old` the previous values of the columns that changed. That
//! is what a replica needs, so the front end monitors with it. `update2` (from `monitor_cond`)
//! carries only the changed columns of a modified row, as diffs; it is parsed too
//! ([`RowChange::Diff`]) but a replica built from it would have to apply set and map diffs,
//! which nothing here needs yet.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A row: column name to value, in the protocol's JSON form (see [`crate::datum`]).
pub type Row = Map<String, Value>;

/// What happened to one row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowChange {
    /// The row is new to us (a monitor's initial contents, or an insert): all its columns.
    Insert(Row),
    /// The row changed: all its monitored columns as they are now, and the old values of
    /// those that changed (`update` only).
    Modify {
        /// Previous values of the changed columns.
        old: Row,
        /// The whole row now.
        new: Row,
    },
    /// The row changed; only the changed columns, as `update2` diffs.
    Diff(Row),
    /// The row is gone.
    Delete,
}

/// Changes by table, then by row UUID.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableUpdates(pub BTreeMap<String, BTreeMap<String, RowChange>>);

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{what} is not an object: {v}"))
}

impl TableUpdates {
    /// Parse an RFC 7047 `<table-updates>` (from `monitor` and `update`).
    pub fn from_update(v: &Value) -> Result<TableUpdates, String> {
        Self::parse(v, |row| {
            let r = object(row, "row update")?;
            let new = r.get("new").map(|n| object(n, "new")).transpose()?;
            let old = r.get("old").map(|o| object(o, "old")).transpose()?;
            Ok(match (old, new) {
                (None, Some(n)) => RowChange::Insert(n.clone()),
                (Some(o), Some(n)) => RowChange::Modify {
                    old: o.clone(),
                    new: n.clone(),
                },
                (_, None) => RowChange::Delete,
            })
        })
    }

    /// Parse a `<table-updates2>` (from `monitor_cond` and `update2`).
    pub fn from_update2(v: &Value) -> Result<TableUpdates, String> {
        Self::parse(v, |row| {
            let r = object(row, "row update2")?;
            let (kind, body) = r
                .iter()
                .next()
                .ok_or_else(|| "empty row update2".to_string())?;
            Ok(match kind.as_str() {
                "initial" | "insert" => RowChange::Insert(object(body, kind)?.clone()),
                "modify" => RowChange::Diff(object(body, kind)?.clone()),
                "delete" => RowChange::Delete,
                other => return Err(format!("unknown row update2 {other:?}")),
            })
        })
    }

    fn parse(
        v: &Value,
        row: impl Fn(&Value) -> Result<RowChange, String>,
    ) -> Result<TableUpdates, String> {
        let mut out = BTreeMap::new();
        if v.is_null() {
            return Ok(TableUpdates(out));
        }
        for (table, rows) in object(v, "table updates")? {
            let mut changes = BTreeMap::new();
            for (uuid, r) in object(rows, "table update")? {
                changes.insert(uuid.clone(), row(r)?);
            }
            out.insert(table.clone(), changes);
        }
        Ok(TableUpdates(out))
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(BTreeMap::is_empty)
    }
}

/// A local copy of the monitored rows, kept by applying [`TableUpdates`] from `monitor`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replica {
    tables: BTreeMap<String, BTreeMap<String, Row>>,
}

impl Replica {
    /// Apply one batch of changes. `Diff` changes (from `update2`) are refused: this replica
    /// keeps whole rows.
    pub fn apply(&mut self, u: &TableUpdates) -> Result<(), String> {
        for (table, rows) in &u.0 {
            let t = self.tables.entry(table.clone()).or_default();
            for (uuid, change) in rows {
                match change {
                    RowChange::Insert(row) | RowChange::Modify { new: row, .. } => {
                        t.insert(uuid.clone(), row.clone());
                    }
                    RowChange::Delete => {
                        t.remove(uuid);
                    }
                    RowChange::Diff(_) => {
                        return Err(format!("{table} {uuid}: update2 diffs are not supported"))
                    }
                }
            }
        }
        Ok(())
    }

    /// The rows of `table` by UUID.
    pub fn table(&self, table: &str) -> impl Iterator<Item = (&String, &Row)> {
        self.tables.get(table).into_iter().flatten()
    }

    /// The row of `table` with column `name` equal to `value` (e.g. a bridge by name).
    pub fn find(&self, table: &str, column: &str, value: &str) -> Option<(&String, &Row)> {
        self.table(table)
            .find(|(_, r)| r.get(column).and_then(Value::as_str) == Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn update_rows_become_inserts_modifies_and_deletes() {
        let v = json!({"Bridge": {
            "u1": {"new": {"name": "br0"}},
            "u2": {"old": {"name": "a"}, "new": {"name": "b"}},
            "u3": {"old": {"name": "c"}}
        }});
        let u = TableUpdates::from_update(&v).unwrap();
        let b = &u.0["Bridge"];
        assert!(matches!(&b["u1"], RowChange::Insert(r) if r["name"] == "br0"));
        assert!(
            matches!(&b["u2"], RowChange::Modify { old, new } if old["name"] == "a" && new["name"] == "b")
        );
        assert_eq!(b["u3"], RowChange::Delete);
        let mut r = Replica::default();
        r.apply(&u).unwrap();
        assert_eq!(r.table("Bridge").count(), 2);
        assert_eq!(
            r.find("Bridge", "name", "b").map(|(id, _)| id.as_str()),
            Some("u2")
        );
        r.apply(&TableUpdates::from_update(&json!({"Bridge": {"u1": {"old": {}}}})).unwrap())
            .unwrap();
        assert!(r.find("Bridge", "name", "br0").is_none());
    }

    #[test]
    fn update2_rows_and_bad_input() {
        let v = json!({"Port": {
            "p1": {"initial": {"name": "p"}},
            "p2": {"modify": {"tag": 5}},
            "p3": {"delete": null}
        }});
        let u = TableUpdates::from_update2(&v).unwrap();
        assert!(matches!(&u.0["Port"]["p2"], RowChange::Diff(d) if d["tag"] == 5));
        assert_eq!(u.0["Port"]["p3"], RowChange::Delete);
        assert!(Replica::default().apply(&u).is_err(), "diffs are refused");
        assert!(TableUpdates::from_update2(&json!({"Port": {"p": {"bogus": {}}}})).is_err());
        assert!(TableUpdates::from_update(&json!([1, 2])).is_err());
        assert!(TableUpdates::from_update(&Value::Null).unwrap().is_empty());
    }
}
