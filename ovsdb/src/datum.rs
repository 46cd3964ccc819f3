//! The protocol's values (RFC 7047 section 5.1): an atom is a JSON scalar or `["uuid", U]` /
//! `["named-uuid", N]`; a set is one atom or `["set", [atoms]]`; a map is `["map", [[k, v]...]]`.
//! Readers here are lenient (a missing or mistyped column reads as empty); builders produce
//! exactly what the server accepts.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// The UUID in `["uuid", U]`.
pub fn uuid(v: &Value) -> Option<&str> {
    match v.as_array().map(Vec::as_slice) {
        Some([tag, Value::String(u)]) if tag == "uuid" => Some(u),
        _ => None,
    }
}

/// The members of a set column (a bare atom is a one-member set).
pub fn set(v: &Value) -> Vec<&Value> {
    match v.as_array().map(Vec::as_slice) {
        Some([tag, Value::Array(members)]) if tag == "set" => members.iter().collect(),
        _ if v.is_null() => Vec::new(),
        _ => vec![v],
    }
}

/// The UUIDs of a set-of-references column (`Bridge.ports`, `Port.interfaces`).
pub fn uuid_set(v: &Value) -> Vec<&str> {
    set(v).into_iter().filter_map(uuid).collect()
}

/// An optional integer column (`Port.tag`: a set of at most one integer).
pub fn opt_int(v: &Value) -> Option<i64> {
    set(v).first().and_then(|a| a.as_i64())
}

/// The integers of a set column (`Port.trunks`).
pub fn int_set(v: &Value) -> Vec<i64> {
    set(v).into_iter().filter_map(Value::as_i64).collect()
}

/// An optional string column (`Bridge.fail_mode`).
pub fn opt_str(v: &Value) -> Option<&str> {
    set(v).first().and_then(|a| a.as_str())
}

/// A string-to-string map column (`options`, `other_config`, `external_ids`).
pub fn str_map(v: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some([tag, Value::Array(pairs)]) = v.as_array().map(Vec::as_slice) {
        if tag == "map" {
            for p in pairs {
                if let Some([Value::String(k), Value::String(val)]) =
                    p.as_array().map(Vec::as_slice)
                {
                    out.insert(k.clone(), val.clone());
                }
            }
        }
    }
    out
}

/// `["set", [...]]` of `members`.
pub fn set_of(members: impl IntoIterator<Item = Value>) -> Value {
    json!(["set", members.into_iter().collect::<Vec<_>>()])
}

/// `["map", [[k, v]...]]` of `pairs`.
pub fn map_of<K: Into<Value>, V: Into<Value>>(pairs: impl IntoIterator<Item = (K, V)>) -> Value {
    let pairs: Vec<Value> = pairs
        .into_iter()
        .map(|(k, v)| json!([k.into(), v.into()]))
        .collect();
    json!(["map", pairs])
}

/// `["uuid", u]`.
pub fn uuid_ref(u: &str) -> Value {
    json!(["uuid", u])
}

/// `["named-uuid", name]`, to refer to a row inserted earlier in the same transaction.
pub fn named_uuid(name: &str) -> Value {
    json!(["named-uuid", name])
}

/// Whether two datums mean the same: a one-member set is its atom, map and set member order
/// does not count, and `[]` is the empty set.
pub fn same(a: &Value, b: &Value) -> bool {
    let norm = |v: &Value| -> Value {
        match v.as_array().map(Vec::as_slice) {
            Some([tag, Value::Array(m)]) if tag == "set" && m.len() == 1 => m[0].clone(),
            Some([tag, Value::Array(m)]) if tag == "set" || tag == "map" => {
                let mut m = m.clone();
                m.sort_by_key(|x| x.to_string());
                serde_json::json!([tag, m])
            }
            Some([]) => serde_json::json!(["set", []]),
            _ => v.clone(),
        }
    };
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_server_sends() {
        assert_eq!(uuid(&json!(["uuid", "abc"])), Some("abc"));
        assert_eq!(uuid(&json!("abc")), None);
        assert_eq!(opt_int(&json!(["set", []])), None);
        assert_eq!(opt_int(&json!(10)), Some(10));
        assert_eq!(int_set(&json!(["set", [10, 20]])), [10, 20]);
        assert_eq!(
            uuid_set(&json!(["set", [["uuid", "a"], ["uuid", "b"]]])),
            ["a", "b"]
        );
        assert_eq!(uuid_set(&json!(["uuid", "a"])), ["a"]);
        assert_eq!(opt_str(&json!("secure")), Some("secure"));
        let m = str_map(&json!([
            "map",
            [["vhost-server-path", "/s"], ["n_rxq", "2"]]
        ]));
        assert_eq!(m["vhost-server-path"], "/s");
        assert_eq!(m.len(), 2);
        assert!(str_map(&json!("x")).is_empty());
    }

    #[test]
    fn builds_what_the_server_accepts() {
        assert_eq!(set_of([json!(1), json!(2)]), json!(["set", [1, 2]]));
        assert_eq!(map_of([("ofport", "1")]), json!(["map", [["ofport", "1"]]]));
        assert_eq!(named_uuid("p"), json!(["named-uuid", "p"]));
        assert_eq!(uuid_ref("u"), json!(["uuid", "u"]));
    }
}
