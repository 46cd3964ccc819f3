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
#[path = "format_tests.rs"]
mod tests;
