//! `dvsctl <kind> <verb>`: the manager (dvsm) commands, from arguments to REST requests.
//!
//! Each object kind (`host`, `dvs`, `uplink`, `portgroup`, `secgroup`, `port`) takes the same
//! five verbs. `create` and `update` build the object from `key=value` assignments in the style
//! of `ovs-vsctl set`: dotted keys reach nested fields (`vlan.vlan=10`, `rules.0.direction=
//! ingress`), list fields split on commas (`hosts=h1,h2`), a value that reads as a JSON number,
//! bool, list or object becomes one except in fields that are strings (`vlan_pool=1-2000`,
//! `mac=...`), and `key=` removes a field. Setting the tag of a tagged field to a new variant
//! (`vlan.mode=trunk`, `backend.kind=linux`) starts that field afresh, and setting one of two
//! exclusive fields (an uplink's `nic` or `bond`) drops the other, so an update can switch
//! variants without the manager refusing leftovers. `update` reads the object, applies the
//! assignments and writes it back with `If-Match` set to the revision it read, so a concurrent
//! change is a 412 rather than a silent overwrite. [`execute`] runs a command against any
//! transport (a closure), so all of this is unit tested without a server.

use clap::Subcommand;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Environment variable naming dvsm's API URL.
pub const DVSM_ENV: &str = "DVSM_URL";
/// dvsm's API URL when neither `--dvsm` nor `$DVSM_URL` gives one.
pub const DEFAULT_DVSM: &str = "http://127.0.0.1:6681";

/// Why a manager command failed.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// dvsm refused the request; shown as it came.
    #[error("{}", api_text(*status, field, message))]
    Api {
        /// HTTP status.
        status: u16,
        /// The field at fault (may be empty).
        field: String,
        /// dvsm's sentence.
        message: String,
    },
    /// dvsm could not be reached.
    #[error("cannot reach dvsm at {url}: {message}")]
    Unreachable {
        /// The API URL used.
        url: String,
        /// Why.
        message: String,
    },
    /// The exchange with dvsm broke after connecting, or its answer could not be read.
    #[error("dvsm at {url}: {message}")]
    Transport {
        /// The API URL used.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A `key=value` argument is malformed or cannot be applied.
    #[error("{0}")]
    Assignment(String),
    /// The `--from-json` file could not be read.
    #[error("{}: {source}", path.display())]
    ReadJson {
        /// The file (`-` for standard input).
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The `--from-json` file is not a JSON object.
    #[error("{}: {message}", path.display())]
    BadJson {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn api_text(status: u16, field: &str, message: &str) -> String {
    if field.is_empty() {
        format!("{status}: {message}")
    } else {
        format!("{status} {field}: {message}")
    }
}

/// The kinds of object dvsm manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A compute host.
    Host,
    /// A distributed virtual switch.
    Dvs,
    /// A host's uplink into a DVS.
    Uplink,
    /// A port group.
    PortGroup,
    /// A security group.
    SecGroup,
    /// A VM port.
    Port,
}

/// How an assigned value is read, by field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldType {
    /// Always a string.
    Str,
    /// A string that selects a variant of its parent object.
    Tag,
    /// A comma-separated list of strings.
    List,
    /// JSON when it reads as a number, bool, list or object; a string otherwise.
    Auto,
}

use FieldType::{Auto, List, Str, Tag};

/// Fields by dotted path (`#` stands for a list index) and how their values are read. Fields
/// not listed are read as [`FieldType::Auto`].
const HOST_FIELDS: &[(&str, FieldType)] = &[("name", Str), ("description", Str)];
const DVS_FIELDS: &[(&str, FieldType)] = &[
    ("name", Str),
    ("vlan_pool", Str),
    ("mtu", Auto),
    ("hosts", List),
];
const UPLINK_FIELDS: &[(&str, FieldType)] = &[
    ("name", Str),
    ("dvs", Str),
    ("host", Str),
    ("nic", Str),
    ("bond.members", List),
    ("bond.mode", Str),
];
const PORTGROUP_FIELDS: &[(&str, FieldType)] = &[
    ("name", Str),
    ("dvs", Str),
    ("vlan.mode", Tag),
    ("vlan.vlan", Auto),
    ("vlan.vlans", Str),
    ("security_group", Str),
];
const SECGROUP_FIELDS: &[(&str, FieldType)] = &[
    ("name", Str),
    ("rules.#.direction", Str),
    ("rules.#.ethertype", Str),
    ("rules.#.protocol", Str),
    ("rules.#.remote", Str),
];
const PORT_FIELDS: &[(&str, FieldType)] = &[
    ("id", Str),
    ("vm", Str),
    ("host", Str),
    ("port_group", Str),
    ("mac", Str),
    ("ips", List),
    ("backend.kind", Tag),
    ("backend.socket", Str),
    ("backend.role", Str),
    ("backend.interface", Str),
];

/// Fields dvsm adds to its answers that are not part of the object written back. (A host's
/// `token` is not one: it may be given on create or update to choose or rotate the token.)
const SERVER_FIELDS: &[&str] = &[
    "revision",
    "connected",
    "last_seen",
    "facts",
    "revision_acked",
    "revision_sent",
    "in_sync",
    "apply_errors",
    "status",
];

impl Kind {
    /// The REST collection (`/v1/{collection}`).
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Host => "hosts",
            Kind::Dvs => "dvs",
            Kind::Uplink => "uplinks",
            Kind::PortGroup => "portgroups",
            Kind::SecGroup => "secgroups",
            Kind::Port => "ports",
        }
    }

    /// The command-line word.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Host => "host",
            Kind::Dvs => "dvs",
            Kind::Uplink => "uplink",
            Kind::PortGroup => "portgroup",
            Kind::SecGroup => "secgroup",
            Kind::Port => "port",
        }
    }

    /// The field holding the object's name (`id` for ports).
    pub fn key(self) -> &'static str {
        match self {
            Kind::Port => "id",
            _ => "name",
        }
    }

    fn fields(self) -> &'static [(&'static str, FieldType)] {
        match self {
            Kind::Host => HOST_FIELDS,
            Kind::Dvs => DVS_FIELDS,
            Kind::Uplink => UPLINK_FIELDS,
            Kind::PortGroup => PORTGROUP_FIELDS,
            Kind::SecGroup => SECGROUP_FIELDS,
            Kind::Port => PORT_FIELDS,
        }
    }

    /// Top-level fields of which at most one may be set: setting one removes the other.
    fn exclusive(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Uplink => &[("nic", "bond")],
            _ => &[],
        }
    }

    fn field_type(self, path: &[String]) -> FieldType {
        let norm: Vec<&str> = path
            .iter()
            .map(|s| if is_index(s) { "#" } else { s.as_str() })
            .collect();
        let norm = norm.join(".");
        self.fields()
            .iter()
            .find(|(p, _)| *p == norm)
            .map_or(Auto, |(_, t)| *t)
    }
}

fn is_index(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The verbs every kind takes.
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum ObjCmd {
    /// Create one: NAME and KEY=VALUE assignments (dotted keys for nested fields, lists
    /// comma-separated), or the whole object with --from-json.
    Create {
        /// Its name (a port's id).
        name: String,
        /// Fields to set.
        #[arg(value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Start from the object in FILE (`-`: standard input); assignments apply on top.
        #[arg(long, value_name = "FILE")]
        from_json: Option<PathBuf>,
    },
    /// List them all.
    List,
    /// Show one, every field (a port's live status too).
    Show {
        /// Its name (a port's id).
        name: String,
    },
    /// Change fields of one (`KEY=` removes a field); written back only if nobody changed it
    /// since it was read.
    Update {
        /// Its name (a port's id).
        name: String,
        /// Fields to set or (with an empty value) remove.
        #[arg(value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Replace it with the object in FILE (`-`: standard input); assignments apply on top.
        #[arg(long, value_name = "FILE")]
        from_json: Option<PathBuf>,
        /// Write only if it is still at revision REV (default: the revision read, or the
        /// `revision` in the --from-json object).
        #[arg(long, value_name = "REV")]
        if_match: Option<u64>,
    },
    /// Delete one.
    Delete {
        /// Its name (a port's id).
        name: String,
        /// Delete only if it is still at revision REV.
        #[arg(long, value_name = "REV")]
        if_match: Option<u64>,
    },
}

/// The API URL: `--dvsm`, else `$DVSM_URL` (if non-empty), else [`DEFAULT_DVSM`].
pub fn dvsm_url(flag: Option<&str>, env: Option<&str>) -> String {
    match (flag, env) {
        (Some(f), _) => f.to_string(),
        (None, Some(e)) if !e.is_empty() => e.to_string(),
        _ => DEFAULT_DVSM.to_string(),
    }
}

/// One `key=value` argument: the dotted path and the value (`None` for `key=`, a removal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The field, split at dots.
    pub path: Vec<String>,
    /// The value as typed; `None` removes the field.
    pub value: Option<String>,
}

impl Assignment {
    /// Parse `key=value` (`key=` is a removal).
    pub fn parse(arg: &str) -> Result<Assignment, ManagerError> {
        let (k, v) = arg
            .split_once('=')
            .ok_or_else(|| ManagerError::Assignment(format!("{arg:?} is not KEY=VALUE")))?;
        let path: Vec<String> = k.split('.').map(str::to_string).collect();
        if path.iter().any(String::is_empty) {
            return Err(ManagerError::Assignment(format!(
                "{arg:?}: {k:?} is not a field name"
            )));
        }
        Ok(Assignment {
            path,
            value: (!v.is_empty()).then(|| v.to_string()),
        })
    }
}

/// The JSON value `raw` stands for in a field of type `t`.
fn value_for(t: FieldType, raw: &str) -> Value {
    match t {
        Str | Tag => Value::String(raw.to_string()),
        List => {
            if raw.trim_start().starts_with('[') {
                if let Ok(v @ Value::Array(_)) = serde_json::from_str(raw) {
                    return v;
                }
            }
            Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            )
        }
        Auto => match serde_json::from_str::<Value>(raw) {
            Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Array(_) | Value::Object(_))) => v,
            _ => Value::String(raw.to_string()),
        },
    }
}

/// Apply `args` (`key=value` strings) to `body`, an object of `kind`, in order, tags first.
pub fn apply(kind: Kind, body: &mut Value, args: &[String]) -> Result<(), ManagerError> {
    let mut parsed = args
        .iter()
        .map(|a| Assignment::parse(a))
        .collect::<Result<Vec<_>, _>>()?;
    // A tag resets its parent, so it goes before the fields it selects.
    parsed.sort_by_key(|a| kind.field_type(&a.path) != Tag);
    for a in &parsed {
        apply_one(kind, body, a)?;
    }
    Ok(())
}

fn apply_one(kind: Kind, body: &mut Value, a: &Assignment) -> Result<(), ManagerError> {
    let dotted = a.path.join(".");
    let t = kind.field_type(&a.path);
    let Some(raw) = &a.value else {
        remove_path(body, &a.path);
        return Ok(());
    };
    if let Some(top) = a.path.first() {
        for (x, y) in kind.exclusive() {
            if let (Some(obj), true) = (body.as_object_mut(), top == x || top == y) {
                obj.remove(if top == x { *y } else { *x });
            }
        }
    }
    let value = value_for(t, raw);
    let (last, parents) = a
        .path
        .split_last()
        .ok_or_else(|| ManagerError::Assignment("empty field name".into()))?;
    let mut node = body;
    for (i, seg) in parents.iter().enumerate() {
        let next_is_index = is_index(&a.path[i + 1]);
        node = step(node, seg, next_is_index, &dotted)?;
    }
    if t == Tag {
        // A new variant starts its object afresh: the old variant's fields would be refused.
        if let Some(obj) = node.as_object_mut() {
            if obj.get(last.as_str()) != Some(&value) {
                obj.clear();
            }
        }
    }
    set_child(node, last, value, &dotted)
}

/// The child `seg` of `node`, created (as a list when `list` is true, else an object) if absent.
fn step<'a>(
    node: &'a mut Value,
    seg: &str,
    list: bool,
    dotted: &str,
) -> Result<&'a mut Value, ManagerError> {
    let fresh = || {
        if list {
            Value::Array(Vec::new())
        } else {
            Value::Object(Map::new())
        }
    };
    if node.is_null() {
        *node = Value::Object(Map::new());
    }
    match node {
        Value::Object(m) => {
            let child = m.entry(seg.to_string()).or_insert_with(fresh);
            if child.is_null() {
                *child = fresh();
            }
            Ok(child)
        }
        Value::Array(v) => {
            let i = index(seg, v.len(), dotted)?;
            if i == v.len() {
                v.push(fresh());
            }
            Ok(&mut v[i])
        }
        _ => Err(ManagerError::Assignment(format!(
            "{dotted}: {seg:?} is inside a field that is not an object or list"
        ))),
    }
}

fn set_child(node: &mut Value, seg: &str, value: Value, dotted: &str) -> Result<(), ManagerError> {
    if node.is_null() {
        *node = Value::Object(Map::new());
    }
    match node {
        Value::Object(m) => {
            m.insert(seg.to_string(), value);
            Ok(())
        }
        Value::Array(v) => {
            let i = index(seg, v.len(), dotted)?;
            if i == v.len() {
                v.push(value);
            } else {
                v[i] = value;
            }
            Ok(())
        }
        _ => Err(ManagerError::Assignment(format!(
            "{dotted}: the field holding {seg:?} is not an object or list"
        ))),
    }
}

/// A list index: an existing element or the next one (appending).
fn index(seg: &str, len: usize, dotted: &str) -> Result<usize, ManagerError> {
    match seg.parse::<usize>() {
        Ok(i) if i <= len => Ok(i),
        Ok(i) => Err(ManagerError::Assignment(format!(
            "{dotted}: index {i} is past the end of a list of {len} (use {len} to append)"
        ))),
        Err(_) => Err(ManagerError::Assignment(format!(
            "{dotted}: {seg:?} is a name where the field is a list (use an index)"
        ))),
    }
}

fn remove_path(body: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = body;
    for seg in parents {
        let next = match node {
            Value::Object(m) => m.get_mut(seg.as_str()),
            Value::Array(v) => seg.parse::<usize>().ok().and_then(|i| v.get_mut(i)),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return,
        }
    }
    match node {
        Value::Object(m) => {
            m.remove(last.as_str());
        }
        Value::Array(v) => {
            if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < v.len()) {
                v.remove(i);
            }
        }
        _ => {}
    }
}

/// Drop the fields dvsm adds to answers, leaving the object as it is written.
pub fn strip_server_fields(body: &mut Value) {
    if let Some(m) = body.as_object_mut() {
        for f in SERVER_FIELDS {
            m.remove(*f);
        }
    }
}

/// Put `name` in the body's key field; refuse a body that names another object.
fn set_name(kind: Kind, body: &mut Value, name: &str) -> Result<(), ManagerError> {
    let key = kind.key();
    let m = body.as_object_mut().ok_or_else(|| {
        ManagerError::Assignment(format!("the {} must be a JSON object", kind.noun()))
    })?;
    match m.get(key) {
        Some(Value::String(s)) if s != name => Err(ManagerError::Assignment(format!(
            "{key} {s:?} differs from the {} named on the command line ({name:?}); \
             objects cannot be renamed",
            kind.noun()
        ))),
        _ => {
            m.insert(key.to_string(), Value::String(name.to_string()));
            Ok(())
        }
    }
}

/// Read a JSON object from `path` (`-`: standard input).
pub fn read_json(path: &Path) -> Result<Value, ManagerError> {
    let text = super::read_input(path).map_err(|source| ManagerError::ReadJson {
        path: path.to_path_buf(),
        source,
    })?;
    match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ManagerError::BadJson {
            path: path.to_path_buf(),
            message: "not a JSON object".into(),
        }),
        Err(e) => Err(ManagerError::BadJson {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
    }
}

/// One REST request.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// Path from the API root, e.g. `/v1/hosts/h1`.
    pub path: String,
    /// The JSON body, if any.
    pub body: Option<Value>,
    /// `If-Match` revision, if any.
    pub if_match: Option<u64>,
}

/// dvsm's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The `ETag` revision, if sent.
    pub etag: Option<u64>,
    /// The JSON body (`null` when empty).
    pub body: Value,
}

impl Reply {
    /// The body of a 2xx reply, or dvsm's error.
    fn ok(self) -> Result<Reply, ManagerError> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let e = self.body.get("error");
        let s = |k: &str| {
            e.and_then(|e| e.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let message = s("message").unwrap_or_else(|| match &self.body {
            Value::Null => "(no message)".to_string(),
            Value::String(t) => t.clone(),
            b => b.to_string(),
        });
        Err(ManagerError::Api {
            status: self.status,
            field: s("field").unwrap_or_default(),
            message,
        })
    }

    /// The object's revision: the `ETag`, else the body's `revision`.
    fn revision(&self) -> Option<u64> {
        self.etag
            .or_else(|| self.body.get("revision").and_then(Value::as_u64))
    }
}

/// What a command did (dvsm's answer), for [`super::manager_format::render`].
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Created; dvsm's answer (a host's carries its token).
    Created(Value),
    /// The list.
    Listed(Value),
    /// One object (a port's and an uplink's with their live `status`, once reported).
    Shown(Value),
    /// Updated; dvsm's answer.
    Updated(Value),
    /// Deleted; dvsm's answer.
    Deleted(Value),
    /// dvsm's revision (`{"revision": N}`).
    Revision(Value),
}

fn object_path(kind: Kind, name: &str) -> String {
    format!("/v1/{}/{}", kind.collection(), name)
}

/// `dvsctl revision`: dvsm's current revision.
pub fn revision(
    call: &mut dyn FnMut(&Request) -> Result<Reply, ManagerError>,
) -> Result<Outcome, ManagerError> {
    let r = call(&Request {
        method: "GET",
        path: "/v1/revision".into(),
        body: None,
        if_match: None,
    })?
    .ok()?;
    Ok(Outcome::Revision(r.body))
}

/// Run `cmd` on objects of `kind`, sending requests through `call`.
pub fn execute(
    kind: Kind,
    cmd: &ObjCmd,
    call: &mut dyn FnMut(&Request) -> Result<Reply, ManagerError>,
) -> Result<Outcome, ManagerError> {
    let mut send = |method, path: String, body, if_match| {
        call(&Request {
            method,
            path,
            body,
            if_match,
        })?
        .ok()
    };
    match cmd {
        ObjCmd::Create {
            name,
            set,
            from_json,
        } => {
            let mut body = match from_json {
                Some(p) => read_json(p)?,
                None => Value::Object(Map::new()),
            };
            strip_server_fields(&mut body);
            apply(kind, &mut body, set)?;
            set_name(kind, &mut body, name)?;
            let path = format!("/v1/{}", kind.collection());
            Ok(Outcome::Created(send("POST", path, Some(body), None)?.body))
        }
        ObjCmd::List => {
            let path = format!("/v1/{}", kind.collection());
            Ok(Outcome::Listed(send("GET", path, None, None)?.body))
        }
        ObjCmd::Show { name } => Ok(Outcome::Shown(
            send("GET", object_path(kind, name), None, None)?.body,
        )),
        ObjCmd::Update {
            name,
            set,
            from_json,
            if_match,
        } => {
            let (mut body, read_rev) = match from_json {
                Some(p) => {
                    let v = read_json(p)?;
                    let rev = v.get("revision").and_then(Value::as_u64);
                    (v, rev)
                }
                None => {
                    let r = send("GET", object_path(kind, name), None, None)?;
                    let rev = r.revision();
                    (r.body, rev)
                }
            };
            strip_server_fields(&mut body);
            apply(kind, &mut body, set)?;
            set_name(kind, &mut body, name)?;
            let rev = if_match.or(read_rev);
            let r = send("PUT", object_path(kind, name), Some(body), rev)?;
            Ok(Outcome::Updated(r.body))
        }
        ObjCmd::Delete { name, if_match } => {
            let r = send("DELETE", object_path(kind, name), None, *if_match)?;
            Ok(Outcome::Deleted(r.body))
        }
    }
}

#[cfg(test)]
#[path = "manager_tests.rs"]
mod tests;
