//! Byte-exact round trips of every message type against hand-written vectors, plus checks that
//! `ovs-ofctl ofp-print` (Open vSwitch's own decoder) reads our bytes as intended.

mod vectors;

use openflow::{decode, encode_to_vec, frame_len, Header};
use std::process::Command;

#[test]
fn every_vector_round_trips_byte_exact() {
    for v in vectors::all() {
        let (h, m) = decode(&v.bytes).unwrap_or_else(|e| panic!("{}: decode failed: {e}", v.name));
        assert_eq!(m, v.msg, "{}: decoded value", v.name);
        assert_eq!(h, Header::peek(&v.bytes).unwrap());
        let out = encode_to_vec(h.xid, &v.msg);
        assert_eq!(out, v.bytes, "{}: encode(msg) != bytes", v.name);
        assert_eq!(
            decode(&out).map(|(_, m)| m),
            Ok(v.msg.clone()),
            "{}",
            v.name
        );
        assert_eq!(frame_len(&out), Some(out.len()), "{}", v.name);
    }
}

#[test]
fn every_message_type_is_covered() {
    let mut seen: Vec<u8> = vectors::all().iter().map(|v| v.msg.msg_type()).collect();
    seen.sort_unstable();
    seen.dedup();
    let missing: Vec<u8> = (0u8..=29)
        .filter(|t| !seen.contains(t) && *t != 22 && *t != 23)
        .collect();
    assert!(
        missing.is_empty(),
        "message types without a vector: {missing:?}"
    );
}

fn ofctl_available() -> bool {
    Command::new("ovs-ofctl").arg("--version").output().is_ok()
}

fn ofp_print(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let out = Command::new("ovs-ofctl")
        .args(["ofp-print", &hex])
        .output()
        .expect("run ovs-ofctl");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn ovs_ofctl_decodes_our_bytes() {
    if !ofctl_available() {
        eprintln!("ovs-ofctl not installed; skipping");
        return;
    }
    let mut failures = Vec::new();
    for v in vectors::all() {
        let Some(want) = v.ovs else { continue };
        let text = ofp_print(&v.bytes);
        let squashed = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.contains("decode error") || !squashed(&text).contains(&squashed(want)) {
            failures.push(format!("{}: want {want:?}\n{text}", v.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
