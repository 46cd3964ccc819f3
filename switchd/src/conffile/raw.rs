//! The configuration file as written: serde structs that mirror the TOML one to one.
//!
//! Every field that validation later checks is a `toml::Spanned<T>`, so an error can point at the
//! exact line; numbers are read as `i64` (TOML's integer type) so that a negative or oversized
//! value reaches our own range checks and their uniform messages instead of a generic serde
//! "invalid value". `deny_unknown_fields` everywhere turns a typo'd key into an error rather than
//! a silently ignored setting. Errors raised by serde itself (unknown key, wrong type, missing
//! key) carry only a byte span; [`field_at`] recovers the dotted field path for them by scanning
//! the table headers above that offset, so they read like our own validation errors.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub switch: Option<RawSwitch>,
    #[serde(default)]
    pub bridge: Vec<Spanned<RawBridge>>,
}

/// `[switch]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSwitch {
    pub rundir: Option<Spanned<String>>,
    pub pmd_cores: Option<Spanned<Vec<Spanned<i64>>>>,
    pub pool_frames: Option<Spanned<i64>>,
    pub mtu: Option<Spanned<i64>>,
    pub stats_interval_ms: Option<Spanned<i64>>,
    pub pmd_sleep_max_us: Option<Spanned<i64>>,
    pub upcall_rate_per_port: Option<Spanned<i64>>,
    pub dpdk_eal_args: Option<Spanned<Vec<String>>>,
    pub remote_openflow: Option<Spanned<bool>>,
    pub socket_group: Option<Spanned<String>>,
    pub ssl_private_key: Option<Spanned<String>>,
    pub ssl_certificate: Option<Spanned<String>>,
    pub ssl_ca_cert: Option<Spanned<String>>,
}

/// One `[[bridge]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBridge {
    pub name: Spanned<String>,
    pub datapath_id: Option<Spanned<IntOrText>>,
    pub mac_aging_secs: Option<Spanned<i64>>,
    pub mac_limit: Option<Spanned<i64>>,
    #[serde(default)]
    pub flows: Vec<Spanned<String>>,
    pub flows_file: Option<Spanned<String>>,
    #[serde(default)]
    pub ofp_listen: Vec<Spanned<String>>,
    #[serde(default)]
    pub controllers: Vec<Spanned<String>>,
    pub fail_mode: Option<Spanned<String>>,
    #[serde(default)]
    pub port: Vec<Spanned<RawPort>>,
}

/// One `[[bridge.port]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPort {
    pub name: Spanned<String>,
    pub kind: Spanned<String>,
    pub interface: Option<Spanned<String>>,
    pub ofport: Option<Spanned<i64>>,
    pub vlan_mode: Option<Spanned<String>>,
    pub tag: Option<Spanned<i64>>,
    pub trunks: Option<Spanned<Trunks>>,
    pub native_vlan: Option<Spanned<i64>>,
    pub mac_limit: Option<Spanned<i64>>,
    pub rxq: Option<Spanned<i64>>,
    pub mtu: Option<Spanned<i64>>,
    pub ingress_policing_rate: Option<Spanned<i64>>,
    pub ingress_policing_burst: Option<Spanned<i64>>,
    pub qos: Option<Spanned<super::qos::RawQos>>,
    pub tcp_checksum_fill: Option<Spanned<bool>>,
    pub socket: Option<Spanned<String>>,
    pub vhost_role: Option<Spanned<String>>,
    pub mac: Option<Spanned<String>>,
    pub devargs: Option<Spanned<String>>,
    pub xdp_mode: Option<Spanned<String>>,
    pub xdp_queue: Option<Spanned<i64>>,
}

/// A value written either as an integer or as a string (`datapath_id`).
#[derive(Debug)]
pub(super) enum IntOrText {
    Int(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for IntOrText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a hex string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrText, E> {
                Ok(IntOrText::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrText, E> {
                i64::try_from(v)
                    .map(IntOrText::Int)
                    .map_err(|_| E::custom("integer too large; write it as a hex string"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrText, E> {
                Ok(IntOrText::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `trunks`: a range-list string or an array of VLAN ids.
#[derive(Debug)]
pub(super) enum Trunks {
    Text(String),
    List(Vec<i64>),
}

impl<'de> Deserialize<'de> for Trunks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Trunks;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a VLAN list string like \"10,20-30\" or an array of VLAN ids")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Trunks, E> {
                Ok(Trunks::Text(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Trunks, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<i64>()? {
                    out.push(v);
                }
                Ok(Trunks::List(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// The dotted field path (`bridge[0].port[1].tag`) of the key at byte `offset` of `text`.
///
/// Tracks `[table]` and `[[array]]` headers above the offset (counting array elements, and
/// restarting the count of nested arrays when their parent gets a new element), then names the
/// key on the offending line, or on the nearest line above that starts a `key =` (for errors
/// inside a multi-line array). An error pointing at a header names the table itself. This is a
/// reader for error messages, not a TOML parser: the file already parsed, so lines that look
/// like headers are headers.
pub(super) fn field_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut table = String::new();
    let mut key: Option<String> = None;
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        if line_start > offset {
            break;
        }
        let t = line.trim_start();
        if let Some(header) = header_name(t) {
            let (name, is_array) = header;
            if is_array {
                *counts.entry(name.clone()).or_insert(0) += 1;
                let prefix = format!("{name}.");
                counts.retain(|k, _| !k.starts_with(&prefix));
            }
            table = render_path(&name, &counts);
            key = None;
        } else if let Some(k) = key_of(t) {
            key = Some(k);
        }
        line_start += line.len();
    }
    match (table.is_empty(), key) {
        (_, None) => table,
        (true, Some(k)) => k,
        (false, Some(k)) => format!("{table}.{k}"),
    }
}

/// `[a.b]` -> ("a.b", false), `[[a.b]]` -> ("a.b", true).
fn header_name(line: &str) -> Option<(String, bool)> {
    let line = line.split('#').next().unwrap_or("").trim_end();
    let (inner, is_array) = if let Some(r) = line.strip_prefix("[[") {
        (r.strip_suffix("]]")?, true)
    } else {
        (line.strip_prefix('[')?.strip_suffix(']')?, false)
    };
    let name: Vec<&str> = inner
        .split('.')
        .map(|s| s.trim().trim_matches('"'))
        .collect();
    Some((name.join("."), is_array))
}

/// The bare key a `key = value` line assigns, if it is one.
fn key_of(line: &str) -> Option<String> {
    // Our schema has only bare keys; a line starting with a quote is an array element (a flow
    // such as "table=0,actions=drop" contains '=' too).
    if line.starts_with(['"', '\'']) {
        return None;
    }
    let (k, _) = line.split_once('=')?;
    let k = k.trim();
    let bare = !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    bare.then(|| k.to_string())
}

fn render_path(name: &str, counts: &HashMap<String, usize>) -> String {
    let mut out = String::new();
    let mut prefix = String::new();
    for seg in name.split('.') {
        if !prefix.is_empty() {
            prefix.push('.');
            out.push('.');
        }
        prefix.push_str(seg);
        out.push_str(seg);
        if let Some(n) = counts.get(&prefix) {
            out.push_str(&format!("[{}]", n.saturating_sub(1)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::field_at;

    #[test]
    fn field_paths_follow_headers() {
        let text = "top = 1\n[switch]\nmtu = 1\n[[bridge]]\nname = \"a\"\n[[bridge.port]]\n\
                    name = \"p\"\n[[bridge]]\nname = \"b\"\nflows = [\n  \"x=1\",\n  \"y=2\"]\n\
                    [[bridge.port]]\ntag = 1\n";
        let at = |needle: &str| field_at(text, text.find(needle).unwrap());
        assert_eq!(at("top"), "top");
        assert_eq!(at("mtu"), "switch.mtu");
        assert_eq!(at("name = \"p\""), "bridge[0].port[0].name");
        assert_eq!(at("\"y=2\""), "bridge[1].flows");
        assert_eq!(at("tag"), "bridge[1].port[0].tag");
        assert_eq!(at("[[bridge.port]]\ntag"), "bridge[1].port[0]");
    }
}
