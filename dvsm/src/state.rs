//! The manager's state: the in-memory [`Model`], the durable [`Store`] behind it, and what dvsm
//! knows at run time about each host (its token, its agent session, what it was sent, what it
//! acked, its last status reports).
//!
//! Writes go one at a time through [`State::write`]: under the writer mutex, the write is
//! checked against the model ([`Model::check`] never mutates), committed to the store at
//! revision + 1, applied to the model, and only then pushed to the agents whose share it
//! touched. A refused write or a failed commit therefore changes nothing. Readers never wait
//! for the store or the network: the model sits in an `RwLock` whose write side is held only
//! for the in-memory apply, and pushing to agents only enqueues on each session's bounded
//! queue (a full queue drops that session, see [`crate::agents`]).
//!
//! Lock order, to stay deadlock-free: `writer` -> `model` -> `hosts`. Agent registration also
//! takes `writer`, so a register reply and the updates after it leave in revision order.

use crate::store::{Op, Store, StoreError};
use proto::objects::HostFacts;
use proto::share::{diff_keys, hosts_touched, related};
use proto::wire::{self, ApplyError, PortStatus};
use proto::{Key, Kind, Model, RuleError, Sent, Write};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A rule refused it.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// The store could not commit it (nothing changed).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A live agent session, as the state sees it: where to queue messages and how to cut it.
pub struct SessionHandle {
    /// Unique per session.
    pub id: u64,
    /// Its bounded outgoing queue (one JSON line per entry).
    pub tx: SyncSender<Vec<u8>>,
    /// Its socket, to shut it down.
    pub tcp: TcpStream,
}

impl SessionHandle {
    /// Cut the session: its reader sees EOF and cleans up.
    pub fn close(&self) {
        let _ = self.tcp.shutdown(Shutdown::Both);
    }
}

/// One status report entry with its arrival time.
#[derive(Clone, Debug)]
pub struct Reported {
    /// What the agent said.
    pub status: PortStatus,
    /// When it arrived.
    pub at: Instant,
    /// The revision the agent had applied.
    pub revision: u64,
}

/// What dvsm knows at run time about one host.
#[derive(Default)]
pub struct HostRuntime {
    /// Agent token.
    pub token: Option<String>,
    /// Facts from the last registration.
    pub facts: Option<HostFacts>,
    /// The live session.
    pub session: Option<SessionHandle>,
    /// What the agent was sent (None: nothing since dvsm started).
    pub sent: Option<Sent>,
    /// Drops sent and not yet acked, with the revision that sent them.
    pub unacked_drops: BTreeMap<Key, u64>,
    /// Last acked revision (this run of dvsm).
    pub acked: Option<u64>,
    /// Revision of the last share or update sent to the agent (this run of dvsm): the agent is
    /// in sync when it has acked at least this.
    pub sent_revision: Option<u64>,
    /// Errors of the last ack.
    pub apply_errors: Vec<ApplyError>,
    /// Unix seconds of the last message from its agent.
    pub last_seen: Option<u64>,
    /// Latest status per port id.
    pub ports: BTreeMap<String, Reported>,
    /// Latest status per uplink name.
    pub uplinks: BTreeMap<String, Reported>,
}

/// Unix seconds now.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The manager's state.
pub struct State {
    writer: Mutex<()>,
    model: RwLock<Model>,
    store: Box<dyn Store>,
    hosts: Mutex<BTreeMap<String, HostRuntime>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A JSON-RPC notification line.
pub fn notification(method: &str, params: &impl serde::Serialize) -> Vec<u8> {
    let mut v = serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0",
        "method": method,
        "params": params,
    }))
    .unwrap_or_default();
    v.push(b'\n');
    v
}

impl State {
    /// Load everything from `store`.
    pub fn open(store: Box<dyn Store>) -> Result<State, StoreError> {
        let l = store.load()?;
        let model = Model::load(l.revision, l.objects);
        let mut hosts: BTreeMap<String, HostRuntime> = BTreeMap::new();
        for (h, t) in l.tokens {
            hosts.entry(h).or_default().token = Some(t);
        }
        for (h, f) in l.facts {
            hosts.entry(h).or_default().facts = Some(f);
        }
        Ok(State {
            writer: Mutex::new(()),
            model: RwLock::new(model),
            store,
            hosts: Mutex::new(hosts),
        })
    }

    /// Read the model (briefly: writers' applies wait for this).
    pub fn model(&self) -> RwLockReadGuard<'_, Model> {
        self.model.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The current revision.
    pub fn revision(&self) -> u64 {
        self.model().revision
    }

    /// The per-host runtime table.
    pub fn hosts(&self) -> MutexGuard<'_, BTreeMap<String, HostRuntime>> {
        lock(&self.hosts)
    }

    /// Take the writer mutex (agent registration uses it to order its reply with updates).
    pub fn writer(&self) -> MutexGuard<'_, ()> {
        lock(&self.writer)
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Check, commit, apply and push one write; `token` sets a host's agent token in the same
    /// commit. Returns the new revision.
    pub fn write(&self, w: Write, token: Option<String>) -> Result<u64, WriteError> {
        let _w = self.writer();
        let key = w.key();
        let (revision, mut touched) = {
            let m = self.model();
            m.check(&w)?;
            (m.revision + 1, hosts_touched(&m, &key))
        };
        let mut keys = related(&self.model(), &key);
        let mut ops = Vec::new();
        match &w {
            Write::Put { object, .. } => ops.push(Op::Put(proto::Stored {
                revision,
                object: object.clone(),
            })),
            Write::Delete { key, .. } => {
                ops.push(Op::Delete(key.clone()));
                if key.kind == Kind::Host {
                    ops.push(Op::ForgetHost(key.name.clone()));
                }
            }
        }
        if let (Some(t), Kind::Host) = (&token, key.kind) {
            ops.push(Op::Token {
                host: key.name.clone(),
                token: t.clone(),
            });
        }
        self.store.commit(revision, &ops)?;
        {
            let mut m = self.model.write().unwrap_or_else(|e| e.into_inner());
            m.apply(&w, revision);
            touched.extend(hosts_touched(&m, &key));
            keys.extend(related(&m, &key));
        }
        {
            let mut hosts = self.hosts();
            match (&w, key.kind) {
                (Write::Delete { .. }, Kind::Host) => {
                    if let Some(rt) = hosts.remove(&key.name) {
                        if let Some(s) = rt.session {
                            s.close();
                        }
                    }
                }
                (Write::Put { .. }, Kind::Host) => {
                    let rt = hosts.entry(key.name.clone()).or_default();
                    if token.is_some() {
                        rt.token = token;
                    }
                }
                _ => {}
            }
        }
        self.push(&touched, &keys, revision);
        Ok(revision)
    }

    /// Send each of `hosts` with a live session what changed in its share, looking only at
    /// `keys` (the written object and the objects whose place in a share it can change: see
    /// `proto::share::related`). Called with the writer mutex held.
    fn push(&self, hosts: &BTreeSet<String>, keys: &BTreeSet<Key>, revision: u64) {
        let m = self.model();
        let mut all = self.hosts();
        for h in hosts {
            let Some(rt) = all.get_mut(h) else { continue };
            if rt.session.is_none() {
                continue;
            }
            let sent = rt.sent.get_or_insert_with(Sent::new);
            let before: BTreeSet<Key> = keys
                .iter()
                .filter(|k| sent.contains_key(*k))
                .cloned()
                .collect();
            let changes = diff_keys(&m, h, sent, keys);
            if changes.is_empty() {
                continue;
            }
            for c in &changes {
                if c.object.is_none() && before.contains(&c.key) {
                    rt.unacked_drops.insert(c.key.clone(), revision);
                }
            }
            rt.sent_revision = Some(revision);
            let line = notification(wire::method::UPDATE, &wire::Update { revision, changes });
            let Some(s) = &rt.session else { continue };
            match s.tx.try_send(line) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    crate::log!("host {h}: agent queue full; dropping its session to resync");
                    s.close();
                    rt.session = None;
                }
                Err(TrySendError::Disconnected(_)) => {
                    s.close();
                    rt.session = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;
    use proto::objects::{Dvs, Host};
    use proto::{Object, VlanRanges};

    fn put(o: Object, create: bool) -> Write {
        Write::Put {
            object: o,
            create,
            if_match: None,
        }
    }

    fn host(n: &str) -> Object {
        Object::Host(Host {
            name: n.into(),
            description: String::new(),
        })
    }

    #[test]
    fn refused_writes_change_nothing() {
        let st = State::open(Box::new(MemStore::new())).unwrap();
        assert_eq!(
            st.write(put(host("h1"), true), Some("tok".into())).unwrap(),
            1
        );
        // Duplicate: 409, revision unchanged.
        let e = st.write(put(host("h1"), true), None).unwrap_err();
        assert!(matches!(e, WriteError::Rule(ref r) if r.status.code() == 409));
        assert_eq!(st.revision(), 1);
        let dvs = Object::Dvs(Dvs {
            name: "d".into(),
            vlan_pool: VlanRanges::from_ranges(vec![(1, 10)]),
            mtu: 1500,
            hosts: vec!["nope".into()],
        });
        assert!(st.write(put(dvs, true), None).is_err());
        assert_eq!(st.revision(), 1);
        assert_eq!(st.model().len(), 1);
        assert_eq!(st.hosts()["h1"].token.as_deref(), Some("tok"));
    }

    #[test]
    fn failed_commit_changes_nothing() {
        let store = std::sync::Arc::new(MemStore::new());
        struct Shared(std::sync::Arc<MemStore>);
        impl Store for Shared {
            fn load(&self) -> Result<crate::store::Loaded, StoreError> {
                self.0.load()
            }
            fn commit(&self, r: u64, ops: &[Op]) -> Result<(), StoreError> {
                self.0.commit(r, ops)
            }
            fn put_facts(&self, h: &str, f: &HostFacts) -> Result<(), StoreError> {
                self.0.put_facts(h, f)
            }
        }
        let st = State::open(Box::new(Shared(store.clone()))).unwrap();
        store.fail_commits(true);
        assert!(matches!(
            st.write(put(host("h1"), true), None),
            Err(WriteError::Store(_))
        ));
        assert_eq!(st.revision(), 0);
        assert!(st.model().is_empty());
        store.fail_commits(false);
        assert_eq!(st.write(put(host("h1"), true), None).unwrap(), 1);
        // Reload from the store: same state.
        let again = State::open(Box::new(Shared(store))).unwrap();
        assert_eq!(again.revision(), 1);
        assert_eq!(again.model().len(), 1);
    }
}
