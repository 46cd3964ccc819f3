//! What the OpenFlow tests read back from a running switch: the frames its mock ports a, b and c
//! sent, and a flow as `ovs-ofctl parse-flow` prints it (to compare with `dump-flows`).

#![allow(dead_code)]

use crate::rig::Rig;
use std::time::{Duration, Instant};

/// Frames that came out of a, b and c within `wait`. Once `want` have come, one more 20 ms round
/// catches any extra still in flight; `want` 0 watches the whole window (for "nothing comes out").
pub fn outputs(r: &Rig, want: usize, wait: Duration) -> Vec<(String, Vec<u8>)> {
    let take = |out: &mut Vec<(String, Vec<u8>)>| {
        for n in ["a", "b", "c"] {
            for f in r.sw.mock(n).expect("mock").take_sent() {
                out.push((n.to_string(), f));
            }
        }
    };
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        take(&mut out);
        if want > 0 && out.len() >= want {
            std::thread::sleep(Duration::from_millis(20));
            take(&mut out);
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    out
}

/// What `ovs-ofctl -O OpenFlow13 parse-flow` makes of `flow`, from `priority=` on (as
/// `dump-flows` prints a flow, without its table).
pub fn canonical(flow: &str) -> String {
    let out = std::process::Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13", "parse-flow", flow])
        .output()
        .expect("parse-flow");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("ADD"))
        .unwrap_or_else(|| panic!("parse-flow {flow}: {text}"));
    let at = line.find("priority=").expect("priority");
    line[at..].trim().to_string()
}
