//! Fuzz the OVSDB client's update parser: the input is read as the client's reader thread reads
//! the socket (JSON values back to back, no framing); each value, and the `params[1]` of each
//! value that looks like a notification, is parsed as `<table-updates>` and `<table-updates2>`,
//! applied to a replica, and read back through the `datum` helpers the database front end uses
//! on every column.
//!
//! Property beyond "no panic": applying an `update` to a replica leaves exactly the inserted and
//! modified rows of the batch, and none of the deleted ones.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ovsdb::{datum, Replica, RowChange, TableUpdates};
use serde_json::Value;

fn columns(row: &ovsdb::Row) {
    for v in row.values() {
        let _ = (datum::uuid(v), datum::set(v).len(), datum::uuid_set(v));
        let _ = (datum::opt_int(v), datum::int_set(v), datum::opt_str(v));
        let _ = datum::str_map(v);
    }
}

fn updates(v: &Value) {
    if let Ok(u) = TableUpdates::from_update(v) {
        let mut r = Replica::default();
        r.apply(&u).expect("an update (not update2) always applies");
        for (table, rows) in &u.0 {
            for (uuid, change) in rows {
                let have = r
                    .table(table)
                    .find(|(id, _)| *id == uuid)
                    .map(|(_, row)| row);
                match change {
                    RowChange::Insert(row) | RowChange::Modify { new: row, .. } => {
                        assert_eq!(have, Some(row), "{table} {uuid} is in the replica");
                        columns(row);
                    }
                    RowChange::Delete => assert!(have.is_none(), "{table} {uuid} was deleted"),
                    RowChange::Diff(_) => panic!("update gave an update2 diff"),
                }
            }
        }
        let _ = r.find("Bridge", "name", "br0");
    }
    if let Ok(u) = TableUpdates::from_update2(v) {
        for rows in u.0.values() {
            for change in rows.values() {
                if let RowChange::Insert(row) | RowChange::Diff(row) = change {
                    columns(row);
                }
            }
        }
        let _ = Replica::default().apply(&u);
    }
}

fuzz_target!(|data: &[u8]| {
    for msg in serde_json::Deserializer::from_slice(data).into_iter::<Value>() {
        let Ok(msg) = msg else { break };
        updates(&msg);
        updates(&msg["params"][1]);
    }
});
