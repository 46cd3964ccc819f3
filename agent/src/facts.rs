//! What the agent tells dvsm about its host when it registers: the NICs that could be uplinks
//! (from `/sys/class/net`: name, speed, link) and component versions.
//!
//! Virtual devices (loopback, bridges, tunnels, the switch's own taps) are still listed: which
//! ones an operator may use is dvsm's business, and a veth or tap is a legitimate uplink in a
//! lab. Only `lo` is left out.

use proto::objects::{HostFacts, Nic};
use std::path::Path;

/// Whether a kernel interface exists.
pub fn nic_exists(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('/')
        && name != "."
        && name != ".."
        && Path::new("/sys/class/net").join(name).exists()
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The host's NICs.
pub fn nics() -> Vec<Nic> {
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else {
        return Vec::new();
    };
    let mut out: Vec<Nic> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            if name == "lo" {
                return None;
            }
            let dir = e.path();
            // `speed` reads -1 or fails (EINVAL) when unknown or the link is down.
            let speed_mbps = read(&dir, "speed")
                .and_then(|s| s.parse::<i64>().ok())
                .filter(|s| *s > 0)
                .map_or(0, |s| s as u64);
            let link = read(&dir, "carrier").as_deref() == Some("1");
            Some(Nic {
                name,
                speed_mbps,
                kind: "kernel".into(),
                link,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The facts for `register`.
pub fn gather() -> HostFacts {
    let mut f = HostFacts {
        nics: nics(),
        ..HostFacts::default()
    };
    f.versions
        .insert("agent".into(), crate::VERSION.to_string());
    f
}
