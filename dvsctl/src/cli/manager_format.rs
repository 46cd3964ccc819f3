//! Text output for the manager commands: a table per kind for `list`, `key: value` lines for
//! `show`, and a one-line confirmation for `create`, `update` and `delete`.
//!
//! Tables show the columns an operator scans for (a host's connection and applied revision, a
//! port group's VLAN and QoS, a port's backend and link); `show` prints every field, nested ones
//! under dotted keys spelt the way `update` takes them (`qos_in.average_kbps`,
//! `rules.0.direction`), so what is read can be pasted back. Field access is lenient: a missing
//! field prints as `-`, so a dvsm adding or lacking fields still gives readable output. Only a
//! list answer of the wrong shape is an error.

use super::manager::{Kind, ObjCmd, Outcome};
use serde_json::Value;
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// The list answer was not a list.
#[derive(Debug, thiserror::Error)]
#[error("unexpected answer from dvsm to GET /v1/{collection}: expected a list")]
pub struct FormatError {
    /// The collection listed.
    pub collection: &'static str,
}

/// The text to print for `outcome`, the result of `cmd` on objects of `kind`.
pub fn render(kind: Kind, cmd: &ObjCmd, outcome: &Outcome) -> Result<String, FormatError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    render_at(kind, cmd, outcome, now)
}

/// [`render`] with the time (Unix seconds) that ages like a host's `last_seen` count from.
pub fn render_at(
    kind: Kind,
    cmd: &ObjCmd,
    outcome: &Outcome,
    now: u64,
) -> Result<String, FormatError> {
    let name = match cmd {
        ObjCmd::Create { name, .. }
        | ObjCmd::Show { name }
        | ObjCmd::Update { name, .. }
        | ObjCmd::Delete { name, .. } => name.as_str(),
        ObjCmd::List => "",
    };
    Ok(match outcome {
        Outcome::Created(v) => {
            let mut o = done("created", kind, name, v);
            if let Some(t) = v.get("token").and_then(Value::as_str) {
                let _ = writeln!(o, "token: {t}");
                let _ = writeln!(
                    o,
                    "  (the agent on {name} registers with this token; it is not shown again)"
                );
            }
            o
        }
        Outcome::Updated(v) => done("updated", kind, name, v),
        Outcome::Deleted(v) => done("deleted", kind, name, v),
        Outcome::Shown(v) => show(kind, v, now),
        Outcome::Listed(v) => list(kind, v, now)?,
        Outcome::Revision(_) => revision_text(outcome),
    })
}

fn answer(outcome: &Outcome) -> &Value {
    match outcome {
        Outcome::Created(v)
        | Outcome::Listed(v)
        | Outcome::Shown(v)
        | Outcome::Updated(v)
        | Outcome::Deleted(v)
        | Outcome::Revision(v) => v,
    }
}

/// `--json`: dvsm's answer as it came (pretty), nothing for an empty answer.
pub fn json(outcome: &Outcome) -> String {
    let v = answer(outcome);
    if v.is_null() {
        String::new()
    } else {
        super::format::pretty(v)
    }
}

/// `dvsctl revision`: `revision N`.
pub fn revision_text(outcome: &Outcome) -> String {
    format!("revision {}\n", field(answer(outcome), "revision"))
}

fn done(verb: &str, kind: Kind, name: &str, v: &Value) -> String {
    match v.get("revision").and_then(Value::as_u64) {
        Some(r) => format!("{verb} {} {name} (revision {r})\n", kind.noun()),
        None => format!("{verb} {} {name}\n", kind.noun()),
    }
}

/// A scalar as text: strings as is, others in JSON form; missing, null and `""` as `-`.
fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) if s.is_empty() => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) if a.is_empty() => "-".into(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                o => o.to_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(o) => o.to_string(),
    }
}

fn field(v: &Value, key: &str) -> String {
    cell(v.get(key))
}

fn yes_no(v: Option<&Value>) -> String {
    match v.and_then(Value::as_bool) {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "-".into(),
    }
}

/// The objects in a list answer: a JSON list, or one under the collection's name or `items`.
fn items(kind: Kind, v: &Value) -> Result<&Vec<Value>, FormatError> {
    v.as_array()
        .or_else(|| v.get(kind.collection()).and_then(Value::as_array))
        .or_else(|| v.get("items").and_then(Value::as_array))
        .ok_or(FormatError {
            collection: kind.collection(),
        })
}

/// Rows under headers, columns padded to their widest cell, two spaces apart.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut o = String::new();
    let head: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for r in std::iter::once(&head).chain(rows) {
        let mut line = String::new();
        for (i, (c, w)) in r.iter().zip(&widths).enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                let _ = write!(line, "{c:<w$}  ");
            }
        }
        o.push_str(line.trim_end());
        o.push('\n');
    }
    o
}

/// How long ago Unix time `then` was: `12s ago`, `5m ago`, `3h ago`, `2d ago`.
fn ago(then: u64, now: u64) -> String {
    let d = now.saturating_sub(then);
    match d {
        0..=59 => format!("{d}s ago"),
        60..=3599 => format!("{}m ago", d / 60),
        3600..=86399 => format!("{}h ago", d / 3600),
        _ => format!("{}d ago", d / 86400),
    }
}

fn last_seen(h: &Value, now: u64) -> String {
    match h.get("last_seen").and_then(Value::as_u64) {
        Some(t) => ago(t, now),
        None => field(h, "last_seen"),
    }
}

/// One table row from one object.
type RowFn = fn(&Value) -> Vec<String>;

fn list(kind: Kind, v: &Value, now: u64) -> Result<String, FormatError> {
    let objs = items(kind, v)?;
    let (headers, row): (&[&str], RowFn) = match kind {
        Kind::Host => {
            let rows: Vec<Vec<String>> = objs.iter().map(|h| host_row(h, now)).collect();
            return Ok(table(
                &["NAME", "CONNECTED", "LAST-SEEN", "REVISION-ACKED", "ERRORS"],
                &rows,
            ));
        }
        Kind::Dvs => (&["NAME", "VLAN-POOL", "MTU", "HOSTS"], dvs_row),
        Kind::Uplink => (&["NAME", "DVS", "HOST", "NIC/BOND", "LINK"], uplink_row),
        Kind::PortGroup => (
            &[
                "NAME", "DVS", "VLAN", "QOS-IN", "QOS-OUT", "SECURITY", "FLAGS",
            ],
            portgroup_row,
        ),
        Kind::SecGroup => (&["NAME", "RULES"], secgroup_row),
        Kind::Port => (
            &[
                "ID",
                "VM",
                "HOST",
                "PORT-GROUP",
                "MAC",
                "IPS",
                "BACKEND",
                "LINK",
            ],
            port_row,
        ),
    };
    let rows: Vec<Vec<String>> = objs.iter().map(row).collect();
    Ok(table(headers, &rows))
}

fn count(v: Option<&Value>) -> usize {
    match v {
        Some(Value::Array(a)) => a.len(),
        Some(Value::Object(m)) => m.len(),
        _ => 0,
    }
}

fn host_row(h: &Value, now: u64) -> Vec<String> {
    vec![
        field(h, "name"),
        match (h.get("connected"), h.get("in_sync")) {
            (Some(Value::Bool(true)), Some(Value::Bool(false))) => "yes (syncing)".to_string(),
            (c, _) => yes_no(c),
        },
        last_seen(h, now),
        field(h, "revision_acked"),
        count(h.get("apply_errors")).to_string(),
    ]
}

fn dvs_row(d: &Value) -> Vec<String> {
    vec![
        field(d, "name"),
        field(d, "vlan_pool"),
        field(d, "mtu"),
        field(d, "hosts"),
    ]
}

/// An uplink's NIC, or its bond as `members (mode)`.
fn nic_or_bond(u: &Value) -> String {
    match (u.get("nic"), u.get("bond")) {
        (Some(n), _) if !n.is_null() => cell(Some(n)),
        (_, Some(b)) if b.is_object() => {
            format!("{} ({})", cell(b.get("members")), field(b, "mode"))
        }
        _ => "-".into(),
    }
}

fn uplink_row(u: &Value) -> Vec<String> {
    vec![
        field(u, "name"),
        field(u, "dvs"),
        field(u, "host"),
        nic_or_bond(u),
        link_text(u),
    ]
}

/// `access 10` or `trunk 10-20`.
fn vlan_text(p: &Value) -> String {
    let Some(v) = p.get("vlan").filter(|v| v.is_object()) else {
        return field(p, "vlan");
    };
    match v.get("mode").and_then(Value::as_str) {
        Some("access") => format!("access {}", field(v, "vlan")),
        Some("trunk") => format!("trunk {}", field(v, "vlans")),
        _ => cell(Some(v)),
    }
}

/// `1000kbps`, or `1000-2000kbps` with a peak above the average.
fn qos_text(q: Option<&Value>) -> String {
    let Some(q) = q.filter(|q| q.is_object()) else {
        return "-".into();
    };
    let avg = field(q, "average_kbps");
    match q.get("peak_kbps").and_then(Value::as_u64) {
        Some(p) if p > 0 => format!("{avg}-{p}kbps"),
        _ => format!("{avg}kbps"),
    }
}

fn portgroup_flags(p: &Value) -> String {
    let mut f: Vec<String> = ["dhcp_isolation", "ip_mac_binding", "tcp_checksum_fill"]
        .iter()
        .filter(|k| p.get(**k).and_then(Value::as_bool) == Some(true))
        .map(|k| k.replace('_', "-"))
        .collect();
    if let Some(s) = p.get("broadcast_suppression") {
        for unit in ["pps", "kbps"] {
            if let Some(n) = s.get(unit).and_then(Value::as_u64) {
                f.push(format!("bcast<={n}{unit}"));
            }
        }
    }
    if f.is_empty() {
        "-".into()
    } else {
        f.join(",")
    }
}

fn portgroup_row(p: &Value) -> Vec<String> {
    vec![
        field(p, "name"),
        field(p, "dvs"),
        vlan_text(p),
        qos_text(p.get("qos_in")),
        qos_text(p.get("qos_out")),
        field(p, "security_group"),
        portgroup_flags(p),
    ]
}

fn secgroup_row(s: &Value) -> Vec<String> {
    vec![field(s, "name"), count(s.get("rules")).to_string()]
}

/// `vhost_user:/path (client)` or `linux:veth1`.
fn backend_text(p: &Value) -> String {
    let Some(b) = p.get("backend").filter(|b| b.is_object()) else {
        return "-".into();
    };
    match b.get("kind").and_then(Value::as_str) {
        Some("vhost_user") => format!("vhost_user:{} ({})", field(b, "socket"), field(b, "role")),
        Some("linux") => format!("linux:{}", field(b, "interface")),
        _ => cell(Some(b)),
    }
}

/// A port's or uplink's link from its status: `up`/`down` (or as dvsm spells it), `-` without
/// a status report.
fn link_text(p: &Value) -> String {
    match p.get("status").and_then(|s| s.get("link")) {
        Some(Value::Bool(true)) => "up".into(),
        Some(Value::Bool(false)) => "down".into(),
        l => cell(l),
    }
}

fn port_row(p: &Value) -> Vec<String> {
    vec![
        field(p, "id"),
        field(p, "vm"),
        field(p, "host"),
        field(p, "port_group"),
        field(p, "mac"),
        field(p, "ips"),
        backend_text(p),
        link_text(p),
    ]
}

/// Every leaf of `v` as (dotted key, text): objects by key, lists of scalars joined by commas,
/// lists of objects by index.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                flatten(&join(k), &m[k], out);
            }
        }
        Value::Array(a) if a.iter().any(|x| x.is_object() || x.is_array()) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&join(&i.to_string()), x, out);
            }
        }
        Value::Object(_) => out.push((prefix.to_string(), "-".into())),
        other => out.push((prefix.to_string(), cell(Some(other)))),
    }
}

/// `key: value` lines, the name first, the object's fields, then what dvsm adds (revision,
/// host facts and errors, a port's or uplink's live status) in that order.
fn show(kind: Kind, v: &Value, now: u64) -> String {
    let Some(m) = v.as_object() else {
        return super::format::pretty(v);
    };
    const LATE: [&str; 9] = [
        "revision",
        "connected",
        "in_sync",
        "last_seen",
        "revision_acked",
        "revision_sent",
        "apply_errors",
        "facts",
        "status",
    ];
    let mut keys: Vec<&String> = m.keys().filter(|k| *k != kind.key()).collect();
    keys.sort_by_key(|k| (LATE.iter().position(|l| l == k), k.as_str()));
    let mut lines = Vec::new();
    if let Some(n) = m.get(kind.key()) {
        lines.push((kind.key().to_string(), cell(Some(n))));
    }
    for k in keys {
        if k == "apply_errors" && count(m.get(k)) == 0 {
            lines.push((k.clone(), "none".into()));
            continue;
        }
        if k == "last_seen" {
            if let Some(t) = m[k].as_u64() {
                lines.push((k.clone(), format!("{t} ({})", ago(t, now))));
                continue;
            }
        }
        flatten(k, &m[k], &mut lines);
    }
    if matches!(kind, Kind::Port | Kind::Uplink) && !m.contains_key("status") {
        lines.push(("status".into(), "none reported yet".into()));
    }
    let w = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut o = String::new();
    for (k, val) in lines {
        let _ = writeln!(o, "{:<w$} {val}", format!("{k}:"));
    }
    o
}

#[cfg(test)]
#[path = "manager_format_tests.rs"]
mod tests;
