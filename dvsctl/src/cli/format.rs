//! Text output for `dvsctl switch ...`, one function per result shape.
//!
//! The formats follow the OVS tools an operator already reads (`ovs-vsctl show`, `ovs-ofctl
//! dump-ports`, `ovs-appctl fdb/show`, `dpif-netdev/pmd-stats-show`, `pmd-rxq-show`). Field
//! access is lenient (a missing counter prints as 0, a missing name as `?`) so a newer switch
//! adding fields, or an older one lacking some, still gives readable output; only a result of the
//! wrong overall shape (an object where a list belongs) is an error, since that means the client
//! and the switch disagree about the protocol.

use super::SwitchCmd;
use serde_json::Value;
use std::fmt::Write;

/// The result did not have the shape the command expects.
#[derive(Debug, thiserror::Error)]
#[error("unexpected result from {method}: expected {expected}")]
pub struct FormatError {
    /// The RPC method.
    pub method: &'static str,
    /// What the result should have been.
    pub expected: &'static str,
}

/// The text to print for `result`, the answer to `cmd` (empty when there is nothing to say).
pub fn render(cmd: &SwitchCmd, result: &Value) -> Result<String, FormatError> {
    match cmd {
        SwitchCmd::Show => show(result),
        SwitchCmd::Ports { .. } => ports(result),
        SwitchCmd::Drops { ports: false } => drops(result),
        SwitchCmd::Drops { ports: true } => port_drops(result),
        SwitchCmd::PmdStats => pmd_stats(result),
        SwitchCmd::RxqShow => rxq_show(result),
        SwitchCmd::Megaflows { .. } => megaflows(result),
        SwitchCmd::DumpFlows { .. } => dump_flows(result),
        SwitchCmd::DumpMacs { .. } => dump_macs(result),
        SwitchCmd::Trace { .. } => trace(result),
        SwitchCmd::DelFlows { .. } => Ok(count_line(result, "deleted")),
        SwitchCmd::ModFlows { .. } => Ok(count_line(result, "modified")),
        SwitchCmd::Call { .. } => Ok(pretty(result)),
        SwitchCmd::Reload { .. } => Ok(reload(result)),
        SwitchCmd::RxqAssign { .. }
        | SwitchCmd::AddFlow { .. }
        | SwitchCmd::AddFlows { .. }
        | SwitchCmd::MacFlush { .. }
        | SwitchCmd::Shutdown => Ok(String::new()),
    }
}

/// What a reload applied (or, dry run, would apply and would refuse), a line each.
fn reload(v: &Value) -> String {
    let list = |key: &str| -> Vec<&str> {
        v.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    };
    let mut o = String::new();
    let sections = [
        ("applied", "reload: applied"),
        ("would_apply", "reload --dry-run: would apply"),
        (
            "needs_restart",
            "reload --dry-run: would be refused, needs a restart:",
        ),
    ];
    for (key, head) in sections {
        let items = list(key);
        if items.is_empty() {
            continue;
        }
        if key == "needs_restart" {
            let _ = writeln!(o, "{head}");
        } else {
            let _ = writeln!(o, "{head} {}", plural(items.len() as u64, "change"));
        }
        for a in items {
            let _ = writeln!(o, "  {a}");
        }
    }
    if o.is_empty() {
        o.push_str("reload: nothing changed\n");
    }
    o
}

/// Pretty-printed JSON plus a newline (`--json` and `switch call`).
pub fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

/// A field as text: strings as is, other scalars in JSON form, missing/null as `?`.
pub(super) fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => "?".to_string(),
        Some(other) => other.to_string(),
    }
}

pub(super) fn num(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn float(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn list<'a>(v: &'a Value, method: &'static str) -> Result<&'a Vec<Value>, FormatError> {
    v.as_array().ok_or(FormatError {
        method,
        expected: "a list",
    })
}

pub(super) fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn count_line(v: &Value, key: &str) -> String {
    match v.get(key).and_then(Value::as_u64) {
        Some(n) => format!("{key} {}\n", plural(n, "flow")),
        None => String::new(),
    }
}

fn show(v: &Value) -> Result<String, FormatError> {
    let bad = FormatError {
        method: "switch/show",
        expected: "an object with \"bridges\"",
    };
    let bridges = v.get("bridges").and_then(Value::as_array).ok_or(bad)?;
    let mut o = String::new();
    let _ = writeln!(o, "dvs-switchd {}", text(v, "version"));
    for pmd in v
        .get("pmds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let _ = match pmd {
            Value::Object(_) => {
                writeln!(o, "    pmd {} core {}", text(pmd, "id"), text(pmd, "core"))
            }
            other => writeln!(o, "    pmd {other}"),
        };
    }
    for b in bridges {
        let _ = writeln!(o, "    Bridge {}", text(b, "name"));
        let _ = match b.get("datapath_id") {
            Some(Value::Number(n)) => {
                writeln!(o, "        datapath_id: {:016x}", n.as_u64().unwrap_or(0))
            }
            Some(Value::String(s)) => writeln!(o, "        datapath_id: {s}"),
            _ => Ok(()),
        };
        if let Some(m) = b.get("mac_table") {
            let _ = writeln!(
                o,
                "        mac table: {} entries, {} moves, {} flapping moves held",
                num(m, "entries"),
                num(m, "moves"),
                num(m, "flaps_held")
            );
        }
        if let Some(of) = b.get("openflow").filter(|v| !v.is_null()) {
            openflow_lines(&mut o, of);
        }
        for p in b
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let _ = writeln!(o, "        Port {}", text(p, "name"));
            let _ = writeln!(o, "            ofport: {}", text(p, "ofport"));
            match p.get("vlan_mode").and_then(Value::as_str) {
                Some("access") => {
                    let _ = writeln!(o, "            tag: {}", text(p, "tag"));
                }
                Some("trunk") => {
                    let _ = writeln!(o, "            trunks: {}", text(p, "trunks"));
                    if p.get("native_vlan").is_some_and(|n| !n.is_null()) {
                        let _ = writeln!(o, "            native_vlan: {}", text(p, "native_vlan"));
                    }
                }
                _ => {}
            }
            let _ = writeln!(o, "            Interface {}", text(p, "interface"));
            let _ = writeln!(o, "                type: {}", text(p, "kind"));
            let link = match p.get("link_up").and_then(Value::as_bool) {
                Some(true) => "up",
                Some(false) => "down",
                None => "?",
            };
            let _ = writeln!(o, "                link: {link}");
            if let Some(d) = p.get("details").filter(|_| text(p, "kind") == "vhost") {
                super::vhost_state::vhost_lines(&mut o, d);
            }
        }
    }
    Ok(o)
}

fn ports(v: &Value) -> Result<String, FormatError> {
    let rows = list(v, "port/stats")?;
    // Group by bridge, keeping the order in which bridges first appear.
    let mut bridges: Vec<String> = Vec::new();
    for r in rows {
        let b = text(r, "bridge");
        if !bridges.contains(&b) {
            bridges.push(b);
        }
    }
    let mut o = String::new();
    for b in &bridges {
        let members: Vec<&Value> = rows.iter().filter(|r| text(r, "bridge") == *b).collect();
        let _ = writeln!(o, "bridge {b}: {}", plural(members.len() as u64, "port"));
        for r in members {
            let link = if r.get("link_up").and_then(Value::as_bool) == Some(false) {
                "down"
            } else {
                "up"
            };
            let head = format!(
                "  port {} ({}, {link}): ",
                text(r, "ofport"),
                text(r, "name")
            );
            let _ = writeln!(
                o,
                "{head}rx pkts={}, bytes={}, drop={}, errs={}",
                num(r, "rx_packets"),
                num(r, "rx_bytes"),
                num(r, "rx_dropped"),
                num(r, "rx_errors")
            );
            let _ = writeln!(
                o,
                "{:w$}tx pkts={}, bytes={}, drop={}, errs={}",
                "",
                num(r, "tx_packets"),
                num(r, "tx_bytes"),
                num(r, "tx_dropped"),
                num(r, "tx_errors"),
                w = head.len()
            );
            let reasons = reason_list(&r["drops"]);
            if !reasons.is_empty() {
                let _ = writeln!(o, "{:w$}rx drops by reason: {reasons}", "", w = head.len());
            }
            let padded = num(r, "rx_runts_padded");
            if padded > 0 {
                let _ = writeln!(
                    o,
                    "{:w$}short frames padded to 60 bytes: {padded}",
                    "",
                    w = head.len()
                );
            }
        }
    }
    Ok(o)
}

/// A port's non-zero drop reasons as `reason=count, ...`, biggest first.
fn reason_list(drops: &Value) -> String {
    let mut rows: Vec<(&str, u64)> = drops
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, c)| (k.as_str(), c.as_u64().unwrap_or(0)))
                .filter(|&(_, c)| c > 0)
                .collect()
        })
        .unwrap_or_default();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    rows.iter()
        .map(|(k, c)| format!("{k}={c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `drops --ports`: the switch-wide table, then each port's drops as the ingress port.
fn port_drops(v: &Value) -> Result<String, FormatError> {
    let shape = FormatError {
        method: "port/drops",
        expected: "an object with \"reasons\" and \"ports\"",
    };
    let (Some(reasons), Some(ports)) = (v.get("reasons"), v.get("ports").and_then(Value::as_array))
    else {
        return Err(shape);
    };
    let mut o = drops(reasons).map_err(|_| shape)?;
    o.push_str("\nby ingress port:\n");
    let mut any = false;
    for p in ports {
        let reasons = reason_list(&p["drops"]);
        if reasons.is_empty() {
            continue;
        }
        any = true;
        let _ = writeln!(
            o,
            "  {} port {} ({}): {reasons}",
            text(p, "bridge"),
            text(p, "ofport"),
            text(p, "name")
        );
    }
    if !any {
        o.push_str("  no port dropped anything\n");
    }
    Ok(o)
}

fn drops(v: &Value) -> Result<String, FormatError> {
    let map = v.as_object().ok_or(FormatError {
        method: "drop/stats",
        expected: "an object of counters",
    })?;
    let mut rows: Vec<(&str, u64)> = map
        .iter()
        .map(|(k, c)| (k.as_str(), c.as_u64().unwrap_or(0)))
        .collect();
    // Nonzero first, biggest first; then the zeros; names break ties.
    rows.sort_by(|a, b| {
        (a.1 == 0)
            .cmp(&(b.1 == 0))
            .then(b.1.cmp(&a.1))
            .then(a.0.cmp(b.0))
    });
    if rows.is_empty() {
        return Ok("no drop counters\n".to_string());
    }
    let w = rows.iter().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
    let cw = rows
        .iter()
        .map(|(_, c)| c.to_string().len())
        .max()
        .unwrap_or(1);
    let mut o = String::new();
    for (k, c) in rows {
        let _ = writeln!(o, "{:<w$} {c:>cw$}", format!("{k}:"));
    }
    Ok(o)
}

fn pct(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        100.0 * part / whole
    } else {
        0.0
    }
}

fn pmd_stats(v: &Value) -> Result<String, FormatError> {
    let mut o = String::new();
    for p in list(v, "pmd/stats")? {
        let (busy, idle) = (num(p, "busy_cycles"), num(p, "idle_cycles"));
        let total = (busy + idle) as f64;
        let _ = writeln!(o, "pmd thread {} core {}:", text(p, "id"), text(p, "core"));
        let _ = writeln!(o, "  packets received: {}", num(p, "packets"));
        let _ = writeln!(
            o,
            "  batches: {} (avg {:.1} packets/batch)",
            num(p, "batches"),
            float(p, "avg_batch")
        );
        let _ = writeln!(o, "  emc hits: {}", num(p, "emc_hits"));
        let _ = writeln!(o, "  megaflow hits: {}", num(p, "megaflow_hits"));
        let _ = writeln!(o, "  classifier hits: {}", num(p, "classifier_hits"));
        let _ = writeln!(o, "  upcalls: {}", num(p, "upcalls"));
        let _ = writeln!(
            o,
            "  megaflows: {} (inserts refused when full: {})",
            num(p, "megaflows"),
            num(p, "megaflow_full")
        );
        let _ = writeln!(
            o,
            "  emc hit rate: {:.1} %",
            100.0 * float(p, "emc_hit_rate")
        );
        let _ = writeln!(
            o,
            "  idle cycles: {idle} ({:.1} %)",
            pct(idle as f64, total)
        );
        let _ = writeln!(
            o,
            "  processing cycles: {busy} ({:.1} %)",
            pct(busy as f64, total)
        );
        let _ = writeln!(
            o,
            "  avg cycles per packet: {:.1}",
            float(p, "cycles_per_packet")
        );
    }
    Ok(o)
}

fn rxq_show(v: &Value) -> Result<String, FormatError> {
    let mut o = String::new();
    for p in list(v, "pmd/rxq-show")? {
        let _ = writeln!(o, "pmd thread {} core {}:", text(p, "pmd"), text(p, "core"));
        let rxqs = p
            .get("rxqs")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        if rxqs.is_empty() {
            let _ = writeln!(o, "  (no rx queues)");
        }
        for q in rxqs {
            let _ = writeln!(
                o,
                "  port: {:<16} queue-id: {:>2}  packets: {}",
                text(q, "port"),
                text(q, "queue"),
                num(q, "packets")
            );
        }
    }
    Ok(o)
}

fn megaflows(v: &Value) -> Result<String, FormatError> {
    let mut o = String::new();
    for p in list(v, "pmd/megaflows")? {
        let _ = writeln!(o, "pmd thread {}:", text(p, "pmd"));
        if let Some(e) = p.get("error").and_then(Value::as_str) {
            let _ = writeln!(o, "  ({e})");
            continue;
        }
        let flows = p
            .get("megaflows")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        if flows.is_empty() {
            let _ = writeln!(o, "  (no megaflows)");
        }
        for f in flows {
            let _ = writeln!(
                o,
                "  {}: {} actions:{}",
                text(f, "bridge"),
                text(f, "match"),
                text(f, "actions")
            );
        }
    }
    Ok(o)
}

fn dump_flows(v: &Value) -> Result<String, FormatError> {
    let flows = v
        .get("flows")
        .and_then(Value::as_array)
        .ok_or(FormatError {
            method: "flow/dump",
            expected: "an object with \"flows\"",
        })?;
    let mut o = String::new();
    for f in flows {
        let _ = match f {
            Value::String(s) => writeln!(o, "{s}"),
            other => writeln!(o, "{other}"),
        };
    }
    Ok(o)
}

fn dump_macs(v: &Value) -> Result<String, FormatError> {
    let mut o = String::from(" port  VLAN  MAC                Age\n");
    for e in list(v, "mac/show")? {
        let port = match e.get("port") {
            Some(Value::String(s)) => s.clone(),
            _ => text(e, "ofport"),
        };
        let _ = writeln!(
            o,
            "{port:>5}  {:>4}  {:<17}  {:>3}",
            text(e, "vlan"),
            text(e, "mac"),
            text(e, "age")
        );
    }
    Ok(o)
}

fn trace(v: &Value) -> Result<String, FormatError> {
    let t = v.get("text").and_then(Value::as_str).ok_or(FormatError {
        method: "trace",
        expected: "an object with \"text\"",
    })?;
    let mut o = t.to_string();
    if !o.ends_with('\n') {
        o.push('\n');
    }
    Ok(o)
}

/// The fail mode, each controller's connection and the packet-in/out counters of one bridge.
fn openflow_lines(o: &mut String, of: &Value) {
    let fail_open = of.get("fail_open").and_then(Value::as_bool) == Some(true);
    let _ = writeln!(
        o,
        "        fail_mode: {}{}",
        text(of, "fail_mode"),
        if fail_open {
            " (failed open: NORMAL)"
        } else {
            ""
        }
    );
    for c in of
        .get("controllers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut line = format!(
            "        Controller \"{}\": {} for {}s",
            text(c, "target"),
            text(c, "state"),
            num(c, "state_secs")
        );
        if c.get("admitted").and_then(Value::as_bool) == Some(true) {
            line.push_str(", admitted");
        }
        if let Some(role) = c.get("role").and_then(Value::as_str) {
            let _ = write!(line, ", role {role}");
        }
        let _ = write!(line, ", {} connections", num(c, "connections"));
        if let Some(e) = c.get("last_error").and_then(Value::as_str) {
            let _ = write!(line, ", last error: {e}");
        }
        let _ = writeln!(o, "{line}");
    }
    if let Some(p) = of.get("packet_io") {
        let _ = writeln!(
            o,
            "        packet_in: {} sent, {} undelivered, {} send errors; packet_out: {} sent, {} refused; \
             {} async messages dropped (slow connections), {} connections refused",
            num(p, "packet_in_sent"),
            num(p, "packet_in_undelivered"),
            num(p, "packet_in_send_errors"),
            num(p, "packet_out_sent"),
            num(p, "packet_out_refused"),
            num(p, "async_dropped"),
            num(p, "connections_refused")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(cmd: SwitchCmd, v: Value) -> String {
        render(&cmd, &v).unwrap()
    }

    fn br(s: &str) -> String {
        s.to_string()
    }

    #[test]
    fn show_tree() {
        let v = json!({
            "version": "0.1.0",
            "pmds": [{"id": 0, "core": 1}],
            "bridges": [{
                "name": "br0", "datapath_id": 42,
                "ports": [
                    {"name": "vm1", "ofport": 1, "kind": "afpacket", "interface": "veth-vm1",
                     "vlan_mode": "access", "tag": 10, "trunks": null, "native_vlan": null, "link_up": true},
                    {"name": "up0", "ofport": 2, "kind": "tap", "interface": "up0",
                     "vlan_mode": "trunk", "tag": null, "trunks": "5,10,20-30", "native_vlan": 5, "link_up": false},
                    {"name": "m", "ofport": 3, "kind": "mock", "interface": "m",
                     "vlan_mode": "none", "tag": null, "trunks": null, "native_vlan": null, "link_up": true}
                ]
            }]
        });
        let want = "\
dvs-switchd 0.1.0
    pmd 0 core 1
    Bridge br0
        datapath_id: 000000000000002a
        Port vm1
            ofport: 1
            tag: 10
            Interface veth-vm1
                type: afpacket
                link: up
        Port up0
            ofport: 2
            trunks: 5,10,20-30
            native_vlan: 5
            Interface up0
                type: tap
                link: down
        Port m
            ofport: 3
            Interface m
                type: mock
                link: up
";
        assert_eq!(r(SwitchCmd::Show, v), want);
        let e = render(&SwitchCmd::Show, &json!([])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unexpected result from switch/show: expected an object with \"bridges\""
        );
    }

    #[test]
    fn port_table_grouped_by_bridge() {
        let row = |b: &str, n: &str, of: u32, up: bool, rx: u64| {
            json!({"bridge": b, "name": n, "ofport": of, "link_up": up,
                   "rx_packets": rx, "rx_bytes": rx * 100, "rx_dropped": 1, "rx_errors": 0,
                   "tx_packets": 7, "tx_bytes": 700, "tx_dropped": 0, "tx_errors": 2})
        };
        let v = json!([
            row("br0", "vm1", 1, true, 10),
            row("br1", "x", 1, true, 0),
            row("br0", "vm2", 2, false, 3)
        ]);
        let mut v = v;
        v[0]["drops"] = json!({"runt_frame": 0, "src_mac_multicast": 1});
        v[0]["rx_runts_padded"] = json!(4);
        let want = "\
bridge br0: 2 ports
  port 1 (vm1, up): rx pkts=10, bytes=1000, drop=1, errs=0
                    tx pkts=7, bytes=700, drop=0, errs=2
                    rx drops by reason: src_mac_multicast=1
                    short frames padded to 60 bytes: 4
  port 2 (vm2, down): rx pkts=3, bytes=300, drop=1, errs=0
                      tx pkts=7, bytes=700, drop=0, errs=2
bridge br1: 1 port
  port 1 (x, up): rx pkts=0, bytes=0, drop=1, errs=0
                  tx pkts=7, bytes=700, drop=0, errs=2
";
        assert_eq!(r(SwitchCmd::Ports { bridge: None }, v), want);
        assert!(render(&SwitchCmd::Ports { bridge: None }, &json!({})).is_err());
    }

    #[test]
    fn drops_sorted_nonzero_first() {
        let v = json!({"runt_frame": 0, "table_miss": 5, "vlan_not_allowed": 120, "acl": 5, "rule_drop": 0});
        let want = "\
vlan_not_allowed: 120
acl:                5
table_miss:         5
rule_drop:          0
runt_frame:         0
";
        assert_eq!(r(SwitchCmd::Drops { ports: false }, v), want);
        assert_eq!(
            r(SwitchCmd::Drops { ports: false }, json!({})),
            "no drop counters\n"
        );
    }

    #[test]
    fn drops_by_port() {
        let v = json!({
            "reasons": {"src_mac_multicast": 3, "bad_ipv4_header": 1, "table_miss": 0},
            "ports": [
                {"bridge": "br0", "name": "vm1", "ofport": 1, "rx_dropped": 4,
                 "drops": {"bad_ipv4_header": 1, "src_mac_multicast": 3}},
                {"bridge": "br0", "name": "vm2", "ofport": 2, "rx_dropped": 0, "drops": {}}
            ]
        });
        let want = "\
src_mac_multicast: 3
bad_ipv4_header:   1
table_miss:        0

by ingress port:
  br0 port 1 (vm1): src_mac_multicast=3, bad_ipv4_header=1
";
        let cmd = SwitchCmd::Drops { ports: true };
        assert_eq!(r(cmd.clone(), v), want);
        let none = json!({"reasons": {"rule_drop": 0}, "ports": []});
        assert_eq!(
            r(cmd.clone(), none),
            "rule_drop: 0\n\nby ingress port:\n  no port dropped anything\n"
        );
        assert!(render(&cmd, &json!([])).is_err());
    }

    #[test]
    fn pmd_stats_block() {
        let v = json!([{"id": 0, "core": 1, "packets": 1000, "batches": 50, "emc_hits": 900,
                        "megaflow_hits": 80, "megaflows": 4, "megaflow_full": 0,
                        "classifier_hits": 10, "upcalls": 10, "emc_hit_rate": 0.9,
                        "busy_cycles": 3000, "idle_cycles": 1000, "cycles_per_packet": 3.0,
                        "avg_batch": 20.0}]);
        let want = "\
pmd thread 0 core 1:
  packets received: 1000
  batches: 50 (avg 20.0 packets/batch)
  emc hits: 900
  megaflow hits: 80
  classifier hits: 10
  upcalls: 10
  megaflows: 4 (inserts refused when full: 0)
  emc hit rate: 90.0 %
  idle cycles: 1000 (25.0 %)
  processing cycles: 3000 (75.0 %)
  avg cycles per packet: 3.0
";
        assert_eq!(r(SwitchCmd::PmdStats, v), want);
        // No cycles yet: no division by zero.
        let idle = r(SwitchCmd::PmdStats, json!([{"id": 1, "core": 0}]));
        assert!(idle.contains("  idle cycles: 0 (0.0 %)\n"), "{idle}");
    }

    #[test]
    fn rxq_listing() {
        let v = json!([
            {"pmd": 0, "core": 0, "rxqs": [{"port": "vm1", "queue": 0, "packets": 12},
                                           {"port": "up0", "queue": 1, "packets": 0}]},
            {"pmd": 1, "core": 1, "rxqs": []}
        ]);
        let want = "\
pmd thread 0 core 0:
  port: vm1              queue-id:  0  packets: 12
  port: up0              queue-id:  1  packets: 0
pmd thread 1 core 1:
  (no rx queues)
";
        assert_eq!(r(SwitchCmd::RxqShow, v), want);
    }

    #[test]
    fn flows_macs_trace_and_counts() {
        let v = json!({"flows": [" table=0, priority=100,ip actions=drop", " priority=0 actions=NORMAL"]});
        assert_eq!(
            r(
                SwitchCmd::DumpFlows {
                    bridge: br("br0"),
                    table: None
                },
                v
            ),
            " table=0, priority=100,ip actions=drop\n priority=0 actions=NORMAL\n"
        );
        let v = json!([{"port": "vm1", "ofport": 1, "vlan": 10, "mac": "aa:bb:cc:dd:ee:01", "age": 3},
                       {"ofport": 2, "vlan": 0, "mac": "aa:bb:cc:dd:ee:02", "age": 120}]);
        let want = " port  VLAN  MAC                Age
  vm1    10  aa:bb:cc:dd:ee:01    3
    2     0  aa:bb:cc:dd:ee:02  120
";
        assert_eq!(r(SwitchCmd::DumpMacs { bridge: br("br0") }, v), want);
        let t = SwitchCmd::Trace {
            bridge: br("br0"),
            flow: br("in_port=1"),
        };
        assert_eq!(
            r(
                t.clone(),
                json!({"text": "Flow: x\nDatapath actions: drop"})
            ),
            "Flow: x\nDatapath actions: drop\n"
        );
        assert!(render(&t, &json!({})).is_err());
        let d = SwitchCmd::DelFlows {
            bridge: br("br0"),
            matches: None,
            strict: false,
            all: true,
        };
        assert_eq!(r(d.clone(), json!({"deleted": 1})), "deleted 1 flow\n");
        assert_eq!(r(d, json!({"deleted": 3})), "deleted 3 flows\n");
        assert_eq!(r(SwitchCmd::MacFlush { bridge: br("br0") }, json!({})), "");
        assert_eq!(
            r(
                SwitchCmd::Call {
                    method: br("x"),
                    params: None
                },
                json!({"a": 1})
            ),
            "{\n  \"a\": 1\n}\n"
        );
    }

    #[test]
    fn show_openflow_status() {
        let of = json!({
            "fail_mode": "secure", "fail_open": false,
            "controllers": [
                {"target": "tcp:127.0.0.1:6653", "state": "connected", "admitted": true,
                 "role": "master", "state_secs": 12, "connections": 2, "last_error": null},
                {"target": "tcp:[::1]:6653", "state": "backoff", "admitted": false,
                 "role": null, "state_secs": 3, "connections": 0,
                 "last_error": "Connection refused"}
            ],
            "packet_io": {"packet_in_sent": 5, "packet_in_undelivered": 1,
                          "packet_in_send_errors": 0, "packet_out_sent": 7,
                          "packet_out_refused": 2, "async_dropped": 4,
                          "connections_refused": 1}
        });
        let mut o = String::new();
        openflow_lines(&mut o, &of);
        assert_eq!(
            o,
            "        fail_mode: secure
        Controller \"tcp:127.0.0.1:6653\": connected for 12s, admitted, role master, 2 connections
        Controller \"tcp:[::1]:6653\": backoff for 3s, 0 connections, last error: Connection refused
        packet_in: 5 sent, 1 undelivered, 0 send errors; packet_out: 7 sent, 2 refused; 4 async messages dropped (slow connections), 1 connections refused
"
        );
        let mut o = String::new();
        openflow_lines(
            &mut o,
            &json!({"fail_mode": "standalone", "fail_open": true}),
        );
        assert_eq!(o, "        fail_mode: standalone (failed open: NORMAL)\n");
    }
}
