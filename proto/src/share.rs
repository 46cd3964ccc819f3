//! A host's share of the desired state, which hosts a write concerns, and the difference between
//! what an agent has and what it should have.
//!
//! An agent receives only its own host's share ([`share`]): the host itself, the DVSes it is a
//! member of, its uplinks, its ports, their port groups and those groups' security groups. Never
//! another host's ports.
//!
//! dvsm remembers, per host, the revision of every object it last sent ([`Sent`]). After a
//! write it asks [`hosts_touched`] which hosts the written object concerned (before and after
//! the write), recomputes just their shares and sends [`diff`] of each: so a port group change
//! reaches the hosts with ports in it and nobody else, and an agent that reconnects after a
//! short absence gets only what changed while it was away.

use crate::model::{Key, Kind, Model, Object, Stored};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A host's share: its objects by key.
pub type Share = BTreeMap<Key, Stored>;

/// What an agent has: the revision of each object it holds.
pub type Sent = BTreeMap<Key, u64>;

/// One change for an agent: an object to hold (`object` set) or to drop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Which object.
    pub key: Key,
    /// The object at its revision, or `None` when the agent should drop it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<Stored>,
}

/// `host`'s share of `m`.
pub fn share(m: &Model, host: &str) -> Share {
    let mut out = Share::new();
    let mut add = |k: Key| {
        if let Some(s) = m.get(&k) {
            out.insert(k, s.clone());
        }
    };
    add(Key::new(Kind::Host, host));
    let mut groups = BTreeSet::new();
    for dvs in m.dvs_of(host) {
        add(Key::new(Kind::Dvs, dvs));
        for u in m.uplinks_of(dvs) {
            if let Some(Object::Uplink(up)) = m.get(&Key::new(Kind::Uplink, u)).map(|s| &s.object) {
                if up.host == host {
                    add(Key::new(Kind::Uplink, u));
                }
            }
        }
    }
    for id in m.ports_on(host) {
        add(Key::new(Kind::Port, id));
        if let Some(p) = m.port(id) {
            groups.insert(p.port_group.clone());
        }
    }
    let mut sgs = BTreeSet::new();
    for g in groups {
        if let Some(pg) = m.port_group(&g) {
            if let Some(sg) = &pg.security_group {
                sgs.insert(sg.clone());
            }
        }
        add(Key::new(Kind::PortGroup, &g));
    }
    for sg in sgs {
        add(Key::new(Kind::SecurityGroup, &sg));
    }
    out
}

/// The hosts whose share holds `key` in `m` (call it before and after a write, and take both).
pub fn hosts_touched(m: &Model, key: &Key) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Some(s) = m.get(key) else {
        return out;
    };
    let group_hosts = |g: &str, out: &mut BTreeSet<String>| {
        for id in m.ports_in(g) {
            if let Some(p) = m.port(id) {
                out.insert(p.host.clone());
            }
        }
    };
    match &s.object {
        Object::Host(h) => {
            out.insert(h.name.clone());
        }
        Object::Dvs(d) => out.extend(d.hosts.iter().cloned()),
        Object::Uplink(u) => {
            out.insert(u.host.clone());
        }
        Object::PortGroup(g) => group_hosts(&g.name, &mut out),
        Object::SecurityGroup(sg) => {
            for g in m.groups_using(&sg.name) {
                group_hosts(g, &mut out);
            }
        }
        Object::Port(p) => {
            out.insert(p.host.clone());
        }
    }
    out
}

/// What to send an agent holding `sent` so it holds `share`; `sent` is updated to match.
pub fn diff(sent: &mut Sent, share: &Share) -> Vec<Change> {
    let mut out = Vec::new();
    sent.retain(|k, _| {
        let keep = share.contains_key(k);
        if !keep {
            out.push(Change {
                key: k.clone(),
                object: None,
            });
        }
        keep
    });
    for (k, s) in share {
        if sent.get(k) != Some(&s.revision) {
            sent.insert(k.clone(), s.revision);
            out.push(Change {
                key: k.clone(),
                object: Some(s.clone()),
            });
        }
    }
    out
}

/// Apply changes to a share (the agent's side).
pub fn apply(share: &mut Share, changes: &[Change]) {
    for c in changes {
        match &c.object {
            Some(s) => {
                share.insert(c.key.clone(), s.clone());
            }
            None => {
                share.remove(&c.key);
            }
        }
    }
}

/// Whether `key` belongs in `host`'s share of `m` (what [`share`] would hold), without
/// computing the share.
pub fn in_share(m: &Model, host: &str, key: &Key) -> bool {
    let Some(s) = m.get(key) else {
        return false;
    };
    let groups_on_host = || {
        m.ports_on(host)
            .filter_map(|id| m.port(id))
            .map(|p| p.port_group.as_str())
    };
    match &s.object {
        Object::Host(h) => h.name == host,
        Object::Dvs(d) => d.hosts.iter().any(|h| h == host),
        Object::Uplink(u) => u.host == host && m.dvs_of(host).any(|d| *d == u.dvs),
        Object::Port(p) => p.host == host,
        Object::PortGroup(g) => groups_on_host().any(|n| n == g.name),
        Object::SecurityGroup(sg) => groups_on_host().any(|n| {
            m.port_group(n)
                .is_some_and(|g| g.security_group.as_deref() == Some(sg.name.as_str()))
        }),
    }
}

/// The keys whose place in some share a write of `key` can change, as seen in `m` (call it
/// before and after the write, and take both): the object itself, and for a port its port
/// group and that group's security group, for a port group its security group.
pub fn related(m: &Model, key: &Key) -> BTreeSet<Key> {
    let mut out = BTreeSet::from([key.clone()]);
    let group = |g: &str, out: &mut BTreeSet<Key>| {
        out.insert(Key::new(Kind::PortGroup, g));
        if let Some(sg) = m.port_group(g).and_then(|pg| pg.security_group.as_ref()) {
            out.insert(Key::new(Kind::SecurityGroup, sg));
        }
    };
    match m.get(key).map(|s| &s.object) {
        Some(Object::Port(p)) => group(&p.port_group, &mut out),
        Some(Object::PortGroup(g)) => group(&g.name, &mut out),
        _ => {}
    }
    out
}

/// [`diff`] restricted to `keys`: what to send an agent holding `sent` after a write that can
/// only have changed those keys' place in its share (see [`related`]). Costs a few index
/// lookups per key instead of a whole share, which matters when one write reaches every host.
pub fn diff_keys(m: &Model, host: &str, sent: &mut Sent, keys: &BTreeSet<Key>) -> Vec<Change> {
    // Drops first, then puts, as `diff` orders them.
    let mut drops = Vec::new();
    let mut puts = Vec::new();
    for k in keys {
        match m.get(k).filter(|_| in_share(m, host, k)) {
            Some(s) => {
                if sent.get(k) != Some(&s.revision) {
                    sent.insert(k.clone(), s.revision);
                    puts.push(Change {
                        key: k.clone(),
                        object: Some(s.clone()),
                    });
                }
            }
            None => {
                if sent.remove(k).is_some() {
                    drops.push(Change {
                        key: k.clone(),
                        object: None,
                    });
                }
            }
        }
    }
    drops.extend(puts);
    drops
}
