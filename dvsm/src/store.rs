//! Durable storage of the desired state, behind the [`Store`] trait.
//!
//! dvsm keeps the whole model in memory and uses the store only to survive restarts: at start
//! it [`Store::load`]s everything once, and every accepted write is [`Store::commit`]ted
//! (object put or delete, together with the new revision, in one atomic, durable transaction)
//! before it is applied in memory. So the trait is small on purpose: a replicated backend
//! (etcd: one transaction that compares the revision key and puts both) can implement it
//! later without the API or the sessions noticing.
//!
//! [`RedbStore`] is the embedded default: one redb file with four tables (`objects`: key
//! string -> JSON of [`Stored`]; `meta`: `revision`; `tokens`: host -> agent token; `facts`:
//! host -> JSON of [`HostFacts`]). redb commits with `Durability::Immediate` (fsync) by
//! default, so a write the API acknowledged survives `kill -9` and power loss. JSON values keep
//! the file readable with generic tools and let fields be added compatibly. [`MemStore`] is
//! the same thing in memory, for unit tests.

use proto::objects::HostFacts;
use proto::{Key, Stored};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open store {path}: {message}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// A read or write failed.
    #[error("store: {0}")]
    Backend(String),
    /// A stored value does not parse.
    #[error("store holds a bad value for {key}: {message}")]
    Corrupt {
        /// Which entry.
        key: String,
        /// Why.
        message: String,
    },
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Everything a store holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Loaded {
    /// Revision of the last write (0: nothing written yet).
    pub revision: u64,
    /// Every object.
    pub objects: Vec<Stored>,
    /// Agent token by host.
    pub tokens: BTreeMap<String, String>,
    /// Facts by host, as its agent last registered them.
    pub facts: BTreeMap<String, HostFacts>,
}

/// One change inside a commit.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Store an object.
    Put(Stored),
    /// Delete an object.
    Delete(Key),
    /// Set a host's agent token.
    Token {
        /// The host.
        host: String,
        /// The token.
        token: String,
    },
    /// Forget a host's token and facts (the host was deleted).
    ForgetHost(String),
}

/// Durable storage. Implementations are shared between threads; dvsm calls `commit` from one
/// writer at a time.
pub trait Store: Send + Sync {
    /// Everything, as last committed.
    fn load(&self) -> Result<Loaded, StoreError>;
    /// Make `ops` and the new `revision` durable, all or nothing.
    fn commit(&self, revision: u64, ops: &[Op]) -> Result<(), StoreError>;
    /// Record a host's facts (no revision: facts are reported, not desired state).
    fn put_facts(&self, host: &str, facts: &HostFacts) -> Result<(), StoreError>;
}

const OBJECTS: TableDefinition<&str, &str> = TableDefinition::new("objects");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const TOKENS: TableDefinition<&str, &str> = TableDefinition::new("tokens");
const FACTS: TableDefinition<&str, &str> = TableDefinition::new("facts");
const REVISION: &str = "revision";

/// The embedded store: one redb file.
pub struct RedbStore {
    db: redb::Database,
}

impl RedbStore {
    /// Open `path`, creating it (and its tables) if needed.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        let open_err = |e: &dyn std::fmt::Display| StoreError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let db = redb::Database::create(path).map_err(|e| open_err(&e))?;
        // Create the tables so that reads never meet a missing one.
        let tx = db.begin_write().map_err(|e| open_err(&e))?;
        {
            tx.open_table(OBJECTS).map_err(|e| open_err(&e))?;
            tx.open_table(META).map_err(|e| open_err(&e))?;
            tx.open_table(TOKENS).map_err(|e| open_err(&e))?;
            tx.open_table(FACTS).map_err(|e| open_err(&e))?;
        }
        tx.commit().map_err(|e| open_err(&e))?;
        Ok(RedbStore { db })
    }
}

impl Store for RedbStore {
    fn load(&self) -> Result<Loaded, StoreError> {
        let tx = self.db.begin_read().map_err(backend)?;
        let mut out = Loaded::default();
        let meta = tx.open_table(META).map_err(backend)?;
        out.revision = meta
            .get(REVISION)
            .map_err(backend)?
            .map(|g| g.value())
            .unwrap_or(0);
        let objects = tx.open_table(OBJECTS).map_err(backend)?;
        for row in objects.iter().map_err(backend)? {
            let (k, v) = row.map_err(backend)?;
            let s: Stored = serde_json::from_str(v.value()).map_err(|e| StoreError::Corrupt {
                key: k.value().to_string(),
                message: e.to_string(),
            })?;
            out.objects.push(s);
        }
        let tokens = tx.open_table(TOKENS).map_err(backend)?;
        for row in tokens.iter().map_err(backend)? {
            let (k, v) = row.map_err(backend)?;
            out.tokens
                .insert(k.value().to_string(), v.value().to_string());
        }
        let facts = tx.open_table(FACTS).map_err(backend)?;
        for row in facts.iter().map_err(backend)? {
            let (k, v) = row.map_err(backend)?;
            let f: HostFacts =
                serde_json::from_str(v.value()).map_err(|e| StoreError::Corrupt {
                    key: format!("facts/{}", k.value()),
                    message: e.to_string(),
                })?;
            out.facts.insert(k.value().to_string(), f);
        }
        Ok(out)
    }

    fn commit(&self, revision: u64, ops: &[Op]) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(backend)?;
        {
            let mut objects = tx.open_table(OBJECTS).map_err(backend)?;
            let mut tokens = tx.open_table(TOKENS).map_err(backend)?;
            let mut facts = tx.open_table(FACTS).map_err(backend)?;
            for op in ops {
                match op {
                    Op::Put(s) => {
                        let key = s.object.key().to_string();
                        let json = serde_json::to_string(s).map_err(backend)?;
                        objects
                            .insert(key.as_str(), json.as_str())
                            .map_err(backend)?;
                    }
                    Op::Delete(k) => {
                        objects.remove(k.to_string().as_str()).map_err(backend)?;
                    }
                    Op::Token { host, token } => {
                        tokens
                            .insert(host.as_str(), token.as_str())
                            .map_err(backend)?;
                    }
                    Op::ForgetHost(h) => {
                        tokens.remove(h.as_str()).map_err(backend)?;
                        facts.remove(h.as_str()).map_err(backend)?;
                    }
                }
            }
            let mut meta = tx.open_table(META).map_err(backend)?;
            meta.insert(REVISION, revision).map_err(backend)?;
        }
        tx.commit().map_err(backend)
    }

    fn put_facts(&self, host: &str, f: &HostFacts) -> Result<(), StoreError> {
        let json = serde_json::to_string(f).map_err(backend)?;
        let tx = self.db.begin_write().map_err(backend)?;
        {
            let mut facts = tx.open_table(FACTS).map_err(backend)?;
            facts.insert(host, json.as_str()).map_err(backend)?;
        }
        tx.commit().map_err(backend)
    }
}

/// A store in memory (unit tests).
#[derive(Default)]
pub struct MemStore {
    inner: Mutex<MemInner>,
}

#[derive(Default)]
struct MemInner {
    revision: u64,
    objects: BTreeMap<Key, Stored>,
    tokens: BTreeMap<String, String>,
    facts: BTreeMap<String, HostFacts>,
    fail: bool,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// Make every later commit fail (to test that a failed commit changes nothing).
    pub fn fail_commits(&self, fail: bool) {
        self.lock().fail = fail;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemStore {
    fn load(&self) -> Result<Loaded, StoreError> {
        let g = self.lock();
        Ok(Loaded {
            revision: g.revision,
            objects: g.objects.values().cloned().collect(),
            tokens: g.tokens.clone(),
            facts: g.facts.clone(),
        })
    }

    fn commit(&self, revision: u64, ops: &[Op]) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.fail {
            return Err(StoreError::Backend("commit refused (test)".into()));
        }
        for op in ops {
            match op {
                Op::Put(s) => {
                    g.objects.insert(s.object.key(), s.clone());
                }
                Op::Delete(k) => {
                    g.objects.remove(k);
                }
                Op::Token { host, token } => {
                    g.tokens.insert(host.clone(), token.clone());
                }
                Op::ForgetHost(h) => {
                    g.tokens.remove(h);
                    g.facts.remove(h);
                }
            }
        }
        g.revision = revision;
        Ok(())
    }

    fn put_facts(&self, host: &str, f: &HostFacts) -> Result<(), StoreError> {
        self.lock().facts.insert(host.to_string(), f.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::objects::Host;
    use proto::{Kind, Object};

    fn host(n: &str, rev: u64) -> Stored {
        Stored {
            revision: rev,
            object: Object::Host(Host {
                name: n.into(),
                description: String::new(),
            }),
        }
    }

    fn exercise(s: &dyn Store) -> Loaded {
        assert_eq!(s.load().unwrap().revision, 0);
        s.commit(
            1,
            &[
                Op::Put(host("a", 1)),
                Op::Token {
                    host: "a".into(),
                    token: "t".into(),
                },
            ],
        )
        .unwrap();
        s.commit(2, &[Op::Put(host("b", 2))]).unwrap();
        s.put_facts(
            "a",
            &HostFacts {
                hugepages_mb: 7,
                ..HostFacts::default()
            },
        )
        .unwrap();
        s.commit(3, &[Op::Delete(Key::new(Kind::Host, "b"))])
            .unwrap();
        s.load().unwrap()
    }

    #[test]
    fn mem_and_redb_agree() {
        let m = exercise(&MemStore::new());
        let dir = std::env::temp_dir().join(format!("dvsm-store-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let r = {
            let s = RedbStore::open(&dir).unwrap();
            exercise(&s)
        };
        assert_eq!(m, r);
        assert_eq!(r.revision, 3);
        assert_eq!(r.objects, vec![host("a", 1)]);
        assert_eq!(r.tokens.get("a").map(String::as_str), Some("t"));
        assert_eq!(r.facts.get("a").map(|f| f.hugepages_mb), Some(7));
        // Reopen: nothing lost.
        let again = RedbStore::open(&dir).unwrap().load().unwrap();
        assert_eq!(again, r);
        let s = RedbStore::open(&dir).unwrap();
        s.commit(4, &[Op::ForgetHost("a".into())]).unwrap();
        let l = s.load().unwrap();
        assert!(l.tokens.is_empty() && l.facts.is_empty());
        drop(s);
        let _ = std::fs::remove_file(&dir);
    }
}
