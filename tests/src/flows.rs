//! Flows as `ovs-ofctl -O OpenFlow13 dump-flows` prints them, parsed for the tests and benches
//! that compare flows before and after a change (same cookies; durations that kept counting
//! mean nothing was rewritten).

use std::path::Path;
use std::process::Command;

/// One flow.
#[derive(Clone, Debug)]
pub struct FlowLine {
    /// `cookie=`.
    pub cookie: u64,
    /// `duration=`, in seconds.
    pub duration: f64,
    /// `table=`.
    pub table: u8,
    /// `n_packets=`.
    pub packets: u64,
    /// The whole line, trimmed.
    pub text: String,
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split([',', ' '])
        .map(str::trim)
        .find_map(|w| w.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
}

/// Parse `dump-flows` output (lines without `actions=` are headers and are skipped).
pub fn parse(text: &str) -> Vec<FlowLine> {
    text.lines()
        .filter(|l| l.contains("actions="))
        .map(|l| FlowLine {
            cookie: field(l, "cookie")
                .and_then(|c| u64::from_str_radix(c.trim_start_matches("0x"), 16).ok())
                .unwrap_or(0),
            duration: field(l, "duration")
                .and_then(|d| d.trim_end_matches('s').parse().ok())
                .unwrap_or(0.0),
            table: field(l, "table").and_then(|t| t.parse().ok()).unwrap_or(0),
            packets: field(l, "n_packets")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0),
            text: l.trim().to_string(),
        })
        .collect()
}

/// `ovs-ofctl -O OpenFlow13 dump-flows unix:<mgmt>` (a bridge's management socket); empty
/// when the switch does not answer.
pub fn dump(mgmt: &Path) -> Vec<FlowLine> {
    let out = Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13", "dump-flows"])
        .arg(format!("unix:{}", mgmt.display()))
        .output()
        .expect("run ovs-ofctl");
    if !out.status.success() {
        return Vec::new();
    }
    parse(&String::from_utf8_lossy(&out.stdout))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_a_flow_line() {
        let f = super::parse(
            "OFPST_FLOW reply (OF1.3) (xid=0x2):\n cookie=0xd5104379713cf6ae, \
             duration=40.95s, table=10, n_packets=13, n_bytes=826, priority=100,in_port=2 \
             actions=goto_table:20\n",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].cookie, f[0].duration, f[0].table, f[0].packets),
            (0xd510_4379_713c_f6ae, 40.95, 10, 13)
        );
    }
}
