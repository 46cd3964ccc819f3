//! `dvsctl switch show` lines for a vhost-user port: the connection, what was negotiated (bits
//! and their names), the status the frontend last set, every ring's setup and the last protocol
//! error. Together they answer "why has my VM no link" without a packet capture.

use super::format::{num, plural, text};
use serde_json::Value;
use std::fmt::Write;

/// A list of names as one space-separated string ("none" when empty).
fn name_list(v: Option<&Value>) -> String {
    let names: Vec<&str> = v
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(" ")
    }
}

/// The state of a vhost-user port: enough to say why a VM has no link.
pub(super) fn vhost_lines(o: &mut String, d: &Value) {
    let pad = "                ";
    let connected = if d.get("connected").and_then(Value::as_bool) == Some(true) {
        "connected"
    } else {
        "not connected"
    };
    let _ = writeln!(
        o,
        "{pad}vhost-user {} {}: {connected}, {}, {} reconnects",
        text(d, "role"),
        text(d, "socket"),
        plural(num(d, "connections"), "connection"),
        num(d, "reconnects")
    );
    if let Some(mac) = d.get("vm_mac").and_then(Value::as_str) {
        let _ = writeln!(o, "{pad}vm mac: {mac}");
    }
    let _ = writeln!(
        o,
        "{pad}features: {} ({})",
        text(d, "features"),
        name_list(d.get("feature_names"))
    );
    let _ = writeln!(
        o,
        "{pad}protocol features: {} ({})",
        text(d, "protocol_features"),
        name_list(d.get("protocol_feature_names"))
    );
    let _ = match d.get("frontend_status").filter(|s| !s.is_null()) {
        Some(st) => writeln!(
            o,
            "{pad}frontend status: {} ({})",
            text(st, "value"),
            name_list(st.get("names"))
        ),
        None => writeln!(o, "{pad}frontend status: not set"),
    };
    let _ = writeln!(
        o,
        "{pad}queue pairs: {} of {} active",
        num(d, "active_queue_pairs"),
        num(d, "queue_pairs")
    );
    for r in d
        .get("rings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let flags: Vec<&str> = ["addressed", "started", "enabled", "call", "live"]
            .into_iter()
            .filter(|k| r.get(*k).and_then(Value::as_bool) == Some(true))
            .collect();
        let size = num(r, "size");
        let _ = writeln!(
            o,
            "{pad}ring {} ({}): {}{}, {}",
            num(r, "index"),
            text(r, "direction").replace('_', " "),
            if size == 0 {
                "no size".to_string()
            } else {
                format!("size {size}")
            },
            if flags.is_empty() {
                String::new()
            } else {
                format!(", {}", flags.join(" "))
            },
            plural(num(r, "packets"), "packet")
        );
    }
    let last = d
        .get("last_error")
        .and_then(Value::as_str)
        .unwrap_or("none");
    let _ = writeln!(
        o,
        "{pad}protocol errors: {}, ring setup errors: {}, last error: {last}",
        num(d, "protocol_errors"),
        num(d, "ring_setup_errors")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_connected_port_shows_what_was_negotiated_and_every_ring() {
        let d = json!({
            "socket": "/run/dvs/vm1.sock", "role": "server", "connected": true,
            "connections": 2, "reconnects": 1, "vm_mac": "02:00:00:00:00:01",
            "features": "0x140008000", "feature_names": ["MRG_RXBUF", "PROTOCOL_FEATURES", "VERSION_1"],
            "protocol_features": "0x10009", "protocol_feature_names": ["MQ", "REPLY_ACK", "STATUS"],
            "frontend_status": {"value": "0x0f", "names": ["ACKNOWLEDGE", "DRIVER", "DRIVER_OK", "FEATURES_OK"]},
            "queue_pairs": 1, "active_queue_pairs": 1,
            "rings": [
                {"index": 0, "direction": "guest_rx", "size": 256, "addressed": true, "started": true,
                 "enabled": true, "call": true, "live": true, "packets": 7},
                {"index": 1, "direction": "guest_tx", "size": 0, "addressed": false, "started": false,
                 "enabled": false, "call": false, "live": false, "packets": 1}
            ],
            "protocol_errors": 0, "ring_setup_errors": 0, "last_error": null
        });
        let mut o = String::new();
        vhost_lines(&mut o, &d);
        let want = "                vhost-user server /run/dvs/vm1.sock: connected, 2 connections, 1 reconnects
                vm mac: 02:00:00:00:00:01
                features: 0x140008000 (MRG_RXBUF PROTOCOL_FEATURES VERSION_1)
                protocol features: 0x10009 (MQ REPLY_ACK STATUS)
                frontend status: 0x0f (ACKNOWLEDGE DRIVER DRIVER_OK FEATURES_OK)
                queue pairs: 1 of 1 active
                ring 0 (guest rx): size 256, addressed started enabled call live, 7 packets
                ring 1 (guest tx): no size, 1 packet
                protocol errors: 0, ring setup errors: 0, last error: none
";
        assert_eq!(o, want);
    }

    #[test]
    fn a_port_without_a_frontend_says_so() {
        let d = json!({"socket": "/s", "role": "client", "connected": false, "connections": 0,
                       "reconnects": 0, "features": "0x0", "feature_names": [],
                       "protocol_features": "0x0", "protocol_feature_names": [],
                       "frontend_status": null, "queue_pairs": 2, "active_queue_pairs": 0,
                       "rings": [], "last_error": "frontend dropped: bad header"});
        let mut o = String::new();
        vhost_lines(&mut o, &d);
        assert!(
            o.contains("vhost-user client /s: not connected, 0 connections"),
            "{o}"
        );
        assert!(o.contains("features: 0x0 (none)"), "{o}");
        assert!(o.contains("frontend status: not set"), "{o}");
        assert!(o.contains("queue pairs: 0 of 2 active"), "{o}");
        assert!(
            o.contains("last error: frontend dropped: bad header"),
            "{o}"
        );
    }
}
