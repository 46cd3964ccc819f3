//! The whole desired state and the rules between objects.
//!
//! [`Model`] holds every object with the revision that last wrote it, plus the indexes the rules
//! and the share computation need (ports by host and by port group, port groups by DVS...).
//! A write is checked first ([`Model::check`]), then stored by dvsm, then applied
//! ([`Model::apply`]): the check never mutates, so a refused request changes nothing, and dvsm
//! applies only what its store has made durable.
//!
//! Every object kind has one unique name (a port's is its `id`); [`Key`] is `kind/name`.

use crate::error::RuleError;
use crate::objects::{Dvs, Host, Port, PortGroup, SecurityGroup, Uplink, VlanPolicy};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Object kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// [`Host`].
    Host,
    /// [`Dvs`].
    Dvs,
    /// [`Uplink`].
    Uplink,
    /// [`PortGroup`].
    PortGroup,
    /// [`SecurityGroup`].
    SecurityGroup,
    /// [`Port`].
    Port,
}

impl Kind {
    /// Every kind, in dependency order (what a thing refers to comes before it).
    pub const ALL: [Kind; 6] = [
        Kind::Host,
        Kind::Dvs,
        Kind::SecurityGroup,
        Kind::Uplink,
        Kind::PortGroup,
        Kind::Port,
    ];

    /// The REST collection name (`/v1/<collection>`).
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Host => "hosts",
            Kind::Dvs => "dvs",
            Kind::Uplink => "uplinks",
            Kind::PortGroup => "portgroups",
            Kind::SecurityGroup => "secgroups",
            Kind::Port => "ports",
        }
    }

    /// The kind of a REST collection name.
    pub fn from_collection(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.collection() == s)
    }

    /// Singular name for messages and keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Host => "host",
            Kind::Dvs => "dvs",
            Kind::Uplink => "uplink",
            Kind::PortGroup => "portgroup",
            Kind::SecurityGroup => "secgroup",
            Kind::Port => "port",
        }
    }

    /// The kind of a singular name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An object's identity: `kind/name`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// Its kind.
    pub kind: Kind,
    /// Its unique name (a port's id).
    pub name: String,
}

impl Key {
    /// A key.
    pub fn new(kind: Kind, name: &str) -> Key {
        Key {
            kind,
            name: name.to_string(),
        }
    }

    /// Parse `kind/name`.
    pub fn parse(s: &str) -> Option<Key> {
        let (k, n) = s.split_once('/')?;
        Some(Key::new(Kind::parse(k)?, n))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.name)
    }
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        let s = String::deserialize(d)?;
        Key::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("bad key {s:?}")))
    }
}

/// Any object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "spec", rename_all = "snake_case")]
pub enum Object {
    /// A host.
    Host(Host),
    /// A DVS.
    Dvs(Dvs),
    /// An uplink.
    Uplink(Uplink),
    /// A port group.
    PortGroup(PortGroup),
    /// A security group.
    SecurityGroup(SecurityGroup),
    /// A VM NIC.
    Port(Port),
}

impl Object {
    /// Its key.
    pub fn key(&self) -> Key {
        match self {
            Object::Host(o) => Key::new(Kind::Host, &o.name),
            Object::Dvs(o) => Key::new(Kind::Dvs, &o.name),
            Object::Uplink(o) => Key::new(Kind::Uplink, &o.name),
            Object::PortGroup(o) => Key::new(Kind::PortGroup, &o.name),
            Object::SecurityGroup(o) => Key::new(Kind::SecurityGroup, &o.name),
            Object::Port(o) => Key::new(Kind::Port, &o.id),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> Kind {
        self.key().kind
    }

    /// Parse the JSON body of a REST write for `kind`.
    pub fn from_json(kind: Kind, v: serde_json::Value) -> Result<Object, RuleError> {
        let bad = |e: serde_json::Error| RuleError::invalid(&field_of(&e), e.to_string());
        Ok(match kind {
            Kind::Host => Object::Host(serde_json::from_value(v).map_err(bad)?),
            Kind::Dvs => Object::Dvs(serde_json::from_value(v).map_err(bad)?),
            Kind::Uplink => Object::Uplink(serde_json::from_value(v).map_err(bad)?),
            Kind::PortGroup => Object::PortGroup(serde_json::from_value(v).map_err(bad)?),
            Kind::SecurityGroup => Object::SecurityGroup(serde_json::from_value(v).map_err(bad)?),
            Kind::Port => Object::Port(serde_json::from_value(v).map_err(bad)?),
        })
    }

    /// The object alone as JSON (what the REST API shows).
    pub fn to_json(&self) -> serde_json::Value {
        let r = match self {
            Object::Host(o) => serde_json::to_value(o),
            Object::Dvs(o) => serde_json::to_value(o),
            Object::Uplink(o) => serde_json::to_value(o),
            Object::PortGroup(o) => serde_json::to_value(o),
            Object::SecurityGroup(o) => serde_json::to_value(o),
            Object::Port(o) => serde_json::to_value(o),
        };
        r.unwrap_or(serde_json::Value::Null)
    }

    /// Its own field rules.
    pub fn check(&self) -> Result<(), RuleError> {
        match self {
            Object::Host(o) => o.check(),
            Object::Dvs(o) => o.check(),
            Object::Uplink(o) => o.check(),
            Object::PortGroup(o) => o.check(),
            Object::SecurityGroup(o) => o.check(),
            Object::Port(o) => o.check(),
        }
    }
}

/// The field a serde error is about: serde_json names unknown and missing fields in backquotes.
fn field_of(e: &serde_json::Error) -> String {
    let s = e.to_string();
    s.split('`').nth(1).unwrap_or("").to_string()
}

/// An object with the revision that last wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    /// Revision of its last write.
    pub revision: u64,
    /// The object.
    pub object: Object,
}

/// One write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// Create (`expect_new`) or replace an object.
    Put {
        /// The new object.
        object: Object,
        /// Refuse if it exists (POST) / if it does not (PUT: false).
        create: bool,
        /// `If-Match`: the revision the writer last saw.
        if_match: Option<u64>,
    },
    /// Delete an object.
    Delete {
        /// Which.
        key: Key,
        /// `If-Match`.
        if_match: Option<u64>,
    },
}

impl Write {
    /// The key written.
    pub fn key(&self) -> Key {
        match self {
            Write::Put { object, .. } => object.key(),
            Write::Delete { key, .. } => key.clone(),
        }
    }
}

/// Everything, with indexes.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// Revision of the last write.
    pub revision: u64,
    objects: BTreeMap<Key, Stored>,
    ports_by_host: BTreeMap<String, BTreeSet<String>>,
    ports_by_group: BTreeMap<String, BTreeSet<String>>,
    groups_by_dvs: BTreeMap<String, BTreeSet<String>>,
    groups_by_sg: BTreeMap<String, BTreeSet<String>>,
    uplinks_by_dvs: BTreeMap<String, BTreeSet<String>>,
    dvs_by_host: BTreeMap<String, BTreeSet<String>>,
    /// Port ids by (DVS, MAC): the duplicate-MAC rule without a scan.
    macs: BTreeMap<(String, [u8; 6]), BTreeSet<String>>,
}

fn index_add(ix: &mut BTreeMap<String, BTreeSet<String>>, k: &str, v: &str) {
    ix.entry(k.to_string()).or_default().insert(v.to_string());
}

fn index_del(ix: &mut BTreeMap<String, BTreeSet<String>>, k: &str, v: &str) {
    if let Some(s) = ix.get_mut(k) {
        s.remove(v);
        if s.is_empty() {
            ix.remove(k);
        }
    }
}

fn names<'a>(
    ix: &'a BTreeMap<String, BTreeSet<String>>,
    k: &str,
) -> impl Iterator<Item = &'a String> {
    ix.get(k).into_iter().flatten()
}

impl Model {
    /// An empty model.
    pub fn new() -> Model {
        Model::default()
    }

    /// Load stored objects (e.g. from dvsm's store at start). Rules are not re-checked: the
    /// store holds only what passed them.
    pub fn load(revision: u64, objects: impl IntoIterator<Item = Stored>) -> Model {
        let mut m = Model {
            revision,
            ..Model::default()
        };
        // Port groups before ports: the MAC index looks a port's DVS up through its group.
        let mut all: Vec<Stored> = objects.into_iter().collect();
        all.sort_by_key(|s| s.object.kind());
        for s in all {
            m.insert(s);
        }
        m
    }

    /// One object.
    pub fn get(&self, key: &Key) -> Option<&Stored> {
        self.objects.get(key)
    }

    /// All objects of a kind, by name.
    pub fn list(&self, kind: Kind) -> impl Iterator<Item = &Stored> {
        let lo = Key::new(kind, "");
        self.objects
            .range(lo..)
            .take_while(move |(k, _)| k.kind == kind)
            .map(|(_, s)| s)
    }

    /// Every object.
    pub fn all(&self) -> impl Iterator<Item = &Stored> {
        self.objects.values()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    fn dvs(&self, name: &str) -> Option<&Dvs> {
        match self.get(&Key::new(Kind::Dvs, name)).map(|s| &s.object) {
            Some(Object::Dvs(d)) => Some(d),
            _ => None,
        }
    }

    /// A port group.
    pub fn port_group(&self, name: &str) -> Option<&PortGroup> {
        match self
            .get(&Key::new(Kind::PortGroup, name))
            .map(|s| &s.object)
        {
            Some(Object::PortGroup(p)) => Some(p),
            _ => None,
        }
    }

    /// A port.
    pub fn port(&self, id: &str) -> Option<&Port> {
        match self.get(&Key::new(Kind::Port, id)).map(|s| &s.object) {
            Some(Object::Port(p)) => Some(p),
            _ => None,
        }
    }

    fn exists(&self, kind: Kind, name: &str) -> bool {
        self.objects.contains_key(&Key::new(kind, name))
    }

    /// Ids of the ports on a host.
    pub fn ports_on(&self, host: &str) -> impl Iterator<Item = &String> {
        names(&self.ports_by_host, host)
    }

    /// Ids of the ports in a port group.
    pub fn ports_in(&self, group: &str) -> impl Iterator<Item = &String> {
        names(&self.ports_by_group, group)
    }

    /// Names of the port groups that use a security group.
    pub fn groups_using(&self, sg: &str) -> impl Iterator<Item = &String> {
        names(&self.groups_by_sg, sg)
    }

    /// Names of the DVSes a host is a member of.
    pub fn dvs_of(&self, host: &str) -> impl Iterator<Item = &String> {
        names(&self.dvs_by_host, host)
    }

    /// Names of a DVS's uplinks.
    pub fn uplinks_of(&self, dvs: &str) -> impl Iterator<Item = &String> {
        names(&self.uplinks_by_dvs, dvs)
    }

    /// Check a write against the stored objects; nothing changes.
    pub fn check(&self, w: &Write) -> Result<(), RuleError> {
        match w {
            Write::Put {
                object,
                create,
                if_match,
            } => {
                object.check()?;
                let key = object.key();
                let old = self.get(&key);
                match (old, create) {
                    (Some(_), true) => {
                        return Err(RuleError::conflict(
                            if key.kind == Kind::Port { "id" } else { "name" },
                            format!("{key} already exists"),
                        ))
                    }
                    (None, false) => return Err(RuleError::not_found(format!("no {key}"))),
                    _ => {}
                }
                if let (Some(want), Some(old)) = (if_match, old) {
                    if *want != old.revision {
                        return Err(RuleError::precondition(format!(
                            "{key} is at revision {}, not {want}: someone changed it; read it again",
                            old.revision
                        )));
                    }
                }
                if if_match.is_some() && old.is_none() && !create {
                    return Err(RuleError::not_found(format!("no {key}")));
                }
                self.check_refs(object, old.map(|s| &s.object))
            }
            Write::Delete { key, if_match } => {
                let old = self
                    .get(key)
                    .ok_or_else(|| RuleError::not_found(format!("no {key}")))?;
                if let Some(want) = if_match {
                    if *want != old.revision {
                        return Err(RuleError::precondition(format!(
                            "{key} is at revision {}, not {want}: someone changed it; read it again",
                            old.revision
                        )));
                    }
                }
                self.check_delete(key)
            }
        }
    }

    fn check_refs(&self, new: &Object, old: Option<&Object>) -> Result<(), RuleError> {
        match new {
            Object::Host(_) => Ok(()),
            Object::Dvs(d) => self.check_dvs(d),
            Object::Uplink(u) => {
                if let Some(Object::Uplink(o)) = old {
                    if o.dvs != u.dvs || o.host != u.host {
                        return Err(RuleError::invalid(
                            if o.dvs != u.dvs { "dvs" } else { "host" },
                            "an uplink's dvs and host are fixed; delete it and make another",
                        ));
                    }
                }
                let dvs = self.dvs(&u.dvs).ok_or_else(|| {
                    RuleError::invalid("dvs", format!("no DVS named {:?}", u.dvs))
                })?;
                if !self.exists(Kind::Host, &u.host) {
                    return Err(RuleError::invalid(
                        "host",
                        format!("no host named {:?}", u.host),
                    ));
                }
                if !dvs.hosts.contains(&u.host) {
                    return Err(RuleError::invalid(
                        "host",
                        format!("host {} is not a member of DVS {}", u.host, u.dvs),
                    ));
                }
                for other in self.uplinks_of(&u.dvs) {
                    if *other == u.name {
                        continue;
                    }
                    if let Some(Object::Uplink(o)) =
                        self.get(&Key::new(Kind::Uplink, other)).map(|s| &s.object)
                    {
                        if o.host == u.host {
                            return Err(RuleError::conflict(
                                "host",
                                format!(
                                    "host {} already has uplink {} in DVS {}: one uplink per \
                                     DVS per host (make it a bond for more NICs)",
                                    u.host, o.name, u.dvs
                                ),
                            ));
                        }
                    }
                }
                // A NIC serves one DVS: two DVSes sharing a NIC would not be isolated.
                for s in self.list(Kind::Uplink) {
                    if let Object::Uplink(o) = &s.object {
                        if o.name != u.name && o.host == u.host {
                            if let Some(n) = u.nics().into_iter().find(|n| o.nics().contains(n)) {
                                return Err(RuleError::conflict(
                                    if u.nic.is_some() {
                                        "nic"
                                    } else {
                                        "bond.members"
                                    },
                                    format!(
                                        "NIC {n} of host {} is already uplink {} of DVS {}",
                                        u.host, o.name, o.dvs
                                    ),
                                ));
                            }
                        }
                    }
                }
                Ok(())
            }
            Object::PortGroup(p) => {
                if let Some(Object::PortGroup(o)) = old {
                    if o.dvs != p.dvs {
                        return Err(RuleError::invalid(
                            "dvs",
                            "a port group's dvs is fixed; make a new port group",
                        ));
                    }
                }
                let dvs = self.dvs(&p.dvs).ok_or_else(|| {
                    RuleError::invalid("dvs", format!("no DVS named {:?}", p.dvs))
                })?;
                let vlans = p.vlan.vlans();
                if !dvs.vlan_pool.covers(&vlans) {
                    let field = match p.vlan {
                        VlanPolicy::Access { .. } => "vlan.vlan",
                        VlanPolicy::Trunk { .. } => "vlan.vlans",
                    };
                    return Err(RuleError::invalid(
                        field,
                        format!(
                            "VLAN {vlans} is outside DVS {}'s pool {}",
                            dvs.name, dvs.vlan_pool
                        ),
                    ));
                }
                if let Some(sg) = &p.security_group {
                    if !self.exists(Kind::SecurityGroup, sg) {
                        return Err(RuleError::invalid(
                            "security_group",
                            format!("no security group named {sg:?}"),
                        ));
                    }
                }
                Ok(())
            }
            Object::SecurityGroup(_) => Ok(()),
            Object::Port(p) => self.check_port(p),
        }
    }

    fn check_dvs(&self, d: &Dvs) -> Result<(), RuleError> {
        for h in &d.hosts {
            if !self.exists(Kind::Host, h) {
                return Err(RuleError::invalid("hosts", format!("no host named {h:?}")));
            }
        }
        // Shrinking the pool may not strand a port group; dropping a host may not strand its
        // uplink or its ports.
        for g in names(&self.groups_by_dvs, &d.name) {
            if let Some(p) = self.port_group(g) {
                let vlans = p.vlan.vlans();
                if !d.vlan_pool.covers(&vlans) {
                    return Err(RuleError::conflict(
                        "vlan_pool",
                        format!(
                            "port group {} uses VLAN {vlans}, outside the new pool {}",
                            p.name, d.vlan_pool
                        ),
                    ));
                }
                for id in self.ports_in(g) {
                    if let Some(port) = self.port(id) {
                        if !d.hosts.contains(&port.host) {
                            return Err(RuleError::conflict(
                                "hosts",
                                format!(
                                    "port {} of port group {} is on host {}; move or delete it \
                                     first",
                                    port.id, p.name, port.host
                                ),
                            ));
                        }
                    }
                }
            }
        }
        for u in self.uplinks_of(&d.name) {
            if let Some(Object::Uplink(u)) = self.get(&Key::new(Kind::Uplink, u)).map(|s| &s.object)
            {
                if !d.hosts.contains(&u.host) {
                    return Err(RuleError::conflict(
                        "hosts",
                        format!("uplink {} is on host {}; delete it first", u.name, u.host),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_port(&self, p: &Port) -> Result<(), RuleError> {
        let g = self.port_group(&p.port_group).ok_or_else(|| {
            RuleError::invalid(
                "port_group",
                format!("no port group named {:?}", p.port_group),
            )
        })?;
        if !self.exists(Kind::Host, &p.host) {
            return Err(RuleError::invalid(
                "host",
                format!("no host named {:?}", p.host),
            ));
        }
        let dvs = self.dvs(&g.dvs).ok_or_else(|| {
            RuleError::invalid("port_group", format!("port group's DVS {} is gone", g.dvs))
        })?;
        if !dvs.hosts.contains(&p.host) {
            return Err(RuleError::invalid(
                "host",
                format!("host {} is not a member of DVS {}", p.host, dvs.name),
            ));
        }
        let mac = p.mac_bytes();
        if let Some(other) = self
            .macs
            .get(&(dvs.name.clone(), mac))
            .and_then(|ids| ids.iter().find(|id| **id != p.id))
        {
            return Err(RuleError::conflict(
                "mac",
                format!(
                    "{} is already port {other}'s MAC in DVS {}",
                    p.mac, dvs.name
                ),
            ));
        }
        // Two ports on one host cannot share a backend.
        for id in self.ports_on(&p.host) {
            if *id == p.id {
                continue;
            }
            if let Some(o) = self.port(id) {
                if o.backend == p.backend {
                    return Err(RuleError::conflict(
                        "backend",
                        format!("port {} on host {} already uses this backend", o.id, p.host),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_delete(&self, key: &Key) -> Result<(), RuleError> {
        let used = |what: String| {
            Err(RuleError::conflict(
                if key.kind == Kind::Port { "id" } else { "name" },
                format!("{key} is still used by {what}; delete or change that first"),
            ))
        };
        match key.kind {
            Kind::Host => {
                if let Some(d) = self.dvs_of(&key.name).next() {
                    return used(format!("DVS {d}"));
                }
                if let Some(p) = self.ports_on(&key.name).next() {
                    return used(format!("port {p}"));
                }
                Ok(())
            }
            Kind::Dvs => {
                if let Some(g) = names(&self.groups_by_dvs, &key.name).next() {
                    return used(format!("port group {g}"));
                }
                if let Some(u) = self.uplinks_of(&key.name).next() {
                    return used(format!("uplink {u}"));
                }
                Ok(())
            }
            Kind::PortGroup => match self.ports_in(&key.name).next() {
                Some(p) => used(format!("port {p}")),
                None => Ok(()),
            },
            Kind::SecurityGroup => match self.groups_using(&key.name).next() {
                Some(g) => used(format!("port group {g}")),
                None => Ok(()),
            },
            Kind::Uplink | Kind::Port => Ok(()),
        }
    }

    /// Apply a checked write at `revision` (dvsm calls this after its store committed it).
    /// Returns the object it replaced or deleted.
    pub fn apply(&mut self, w: &Write, revision: u64) -> Option<Stored> {
        self.revision = self.revision.max(revision);
        match w {
            Write::Put { object, .. } => {
                let old = self.remove(&object.key());
                self.insert(Stored {
                    revision,
                    object: object.clone(),
                });
                old
            }
            Write::Delete { key, .. } => self.remove(key),
        }
    }

    fn insert(&mut self, s: Stored) {
        match &s.object {
            Object::Port(p) => {
                index_add(&mut self.ports_by_host, &p.host, &p.id);
                index_add(&mut self.ports_by_group, &p.port_group, &p.id);
                if let Some(g) = self.port_group(&p.port_group) {
                    let k = (g.dvs.clone(), p.mac_bytes());
                    self.macs.entry(k).or_default().insert(p.id.clone());
                }
            }
            Object::PortGroup(g) => {
                index_add(&mut self.groups_by_dvs, &g.dvs, &g.name);
                if let Some(sg) = &g.security_group {
                    index_add(&mut self.groups_by_sg, sg, &g.name);
                }
            }
            Object::Uplink(u) => index_add(&mut self.uplinks_by_dvs, &u.dvs, &u.name),
            Object::Dvs(d) => {
                for h in &d.hosts {
                    index_add(&mut self.dvs_by_host, h, &d.name);
                }
            }
            Object::Host(_) | Object::SecurityGroup(_) => {}
        }
        self.objects.insert(s.object.key(), s);
    }

    fn remove(&mut self, key: &Key) -> Option<Stored> {
        let s = self.objects.remove(key)?;
        match &s.object {
            Object::Port(p) => {
                index_del(&mut self.ports_by_host, &p.host, &p.id);
                index_del(&mut self.ports_by_group, &p.port_group, &p.id);
                if let Some(g) = self.port_group(&p.port_group) {
                    let k = (g.dvs.clone(), p.mac_bytes());
                    if let Some(ids) = self.macs.get_mut(&k) {
                        ids.remove(&p.id);
                        if ids.is_empty() {
                            self.macs.remove(&k);
                        }
                    }
                }
            }
            Object::PortGroup(g) => {
                index_del(&mut self.groups_by_dvs, &g.dvs, &g.name);
                if let Some(sg) = &g.security_group {
                    index_del(&mut self.groups_by_sg, sg, &g.name);
                }
            }
            Object::Uplink(u) => index_del(&mut self.uplinks_by_dvs, &u.dvs, &u.name),
            Object::Dvs(d) => {
                for h in &d.hosts {
                    index_del(&mut self.dvs_by_host, h, &d.name);
                }
            }
            Object::Host(_) | Object::SecurityGroup(_) => {}
        }
        Some(s)
    }
}
