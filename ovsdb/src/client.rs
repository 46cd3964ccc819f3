//! The connection: requests by id, a reader thread, echo answers and the update queue.

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};

use crate::update::TableUpdates;

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The address is neither `unix:PATH` nor `tcp:HOST:PORT`.
    #[error("bad OVSDB address {0:?} (expected unix:PATH or tcp:HOST:PORT)")]
    Address(String),
    /// Connecting or writing failed.
    #[error("OVSDB connection: {0}")]
    Io(#[from] std::io::Error),
    /// The connection is gone (the server closed it, or it failed); nothing more will come.
    #[error("OVSDB connection closed")]
    Closed,
    /// No reply within the timeout.
    #[error("no reply from the OVSDB server within {0:?}")]
    Timeout(Duration),
    /// The server answered the request with an error.
    #[error("OVSDB {method}: {}", rpc_text(error))]
    Rpc {
        /// The request's method.
        method: String,
        /// The `error` member of the reply.
        error: Value,
    },
    /// A `transact` operation failed; the whole transaction was rolled back.
    #[error("OVSDB transaction failed at operation {index}: {error}{}", details.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Transaction {
        /// Which operation (0-based), or the number of operations for a commit failure.
        index: usize,
        /// The error string (`constraint violation`, `referential integrity violation`...).
        error: String,
        /// The server's details, if any.
        details: Option<String>,
    },
    /// A reply or notification that does not follow RFC 7047.
    #[error("unexpected OVSDB message: {0}")]
    Protocol(String),
}

/// An RPC error as one line: RFC 7047 errors are `{"error": short, "details": long}` objects.
fn rpc_text(e: &Value) -> String {
    match (
        e.get("error").and_then(Value::as_str),
        e.get("details").and_then(Value::as_str),
    ) {
        (Some(short), Some(details)) => format!("{short} ({details})"),
        (Some(short), None) => short.to_string(),
        _ => e.as_str().map_or_else(|| e.to_string(), str::to_string),
    }
}

/// How long a request waits for its reply by default.
const TIMEOUT: Duration = Duration::from_secs(10);

type Pending = HashMap<u64, Sender<Result<Value, Error>>>;

/// What the client needs of a connected socket (unix or TCP).
trait Stream: std::io::Read + Write + Send + Sync + Sized + 'static {
    fn try_clone_stream(&self) -> std::io::Result<Self>;
    fn shut(&self);
}

impl Stream for UnixStream {
    fn try_clone_stream(&self) -> std::io::Result<Self> {
        self.try_clone()
    }
    fn shut(&self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
}

impl Stream for TcpStream {
    fn try_clone_stream(&self) -> std::io::Result<Self> {
        self.try_clone()
    }
    fn shut(&self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
}

struct Shared {
    writer: Mutex<Box<dyn Write + Send>>,
    pending: Mutex<Option<Pending>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn send(&self, msg: &Value) -> Result<(), Error> {
        // Serialized whole first: one write per message, not one per JSON token.
        let bytes = serde_json::to_vec(msg).map_err(|e| Error::Io(e.into()))?;
        let mut w = lock(&self.writer);
        w.write_all(&bytes)?;
        w.flush()?;
        Ok(())
    }

    /// Fail every waiting request and refuse new ones.
    fn close(&self) {
        if let Some(p) = lock(&self.pending).take() {
            for (_, tx) in p {
                let _ = tx.send(Err(Error::Closed));
            }
        }
    }
}

/// One connection to an OVSDB server.
pub struct Client {
    shared: Arc<Shared>,
    next_id: AtomicU64,
    updates: Mutex<Receiver<(Value, TableUpdates)>>,
    shutdown: Box<dyn Fn() + Send + Sync>,
}

impl Client {
    /// Connect to `unix:PATH` or `tcp:HOST:PORT` and start the reader thread.
    pub fn connect(addr: &str) -> Result<Client, Error> {
        if let Some(path) = addr.strip_prefix("unix:") {
            Self::over(UnixStream::connect(path)?)
        } else if let Some(hp) = addr.strip_prefix("tcp:") {
            let s = TcpStream::connect(hp)?;
            s.set_nodelay(true)?;
            Self::over(s)
        } else {
            Err(Error::Address(addr.to_string()))
        }
    }

    /// Run the protocol over a connected stream.
    fn over<S: Stream>(s: S) -> Result<Client, Error> {
        let (r, w) = (s.try_clone_stream()?, s.try_clone_stream()?);
        Ok(Self::start(
            Box::new(r),
            Box::new(w),
            Box::new(move || s.shut()),
        ))
    }

    fn start(
        reader: Box<dyn std::io::Read + Send>,
        writer: Box<dyn Write + Send>,
        shutdown: Box<dyn Fn() + Send + Sync>,
    ) -> Client {
        let shared = Arc::new(Shared {
            writer: Mutex::new(writer),
            pending: Mutex::new(Some(HashMap::new())),
        });
        let (tx, rx) = mpsc::channel();
        let s2 = shared.clone();
        std::thread::Builder::new()
            .name("ovsdb-reader".into())
            .spawn(move || read_loop(reader, &s2, &tx))
            .map(drop)
            .unwrap_or_else(|_| shared.close());
        Client {
            shared,
            next_id: AtomicU64::new(1),
            updates: Mutex::new(rx),
            shutdown,
        }
    }

    /// Send `method(params)` and wait for its result.
    pub fn request(&self, method: &str, params: Value) -> Result<Value, Error> {
        self.request_timeout(method, params, TIMEOUT)
    }

    /// [`Client::request`] with a timeout of one's own.
    pub fn request_timeout(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        match lock(&self.shared.pending).as_mut() {
            Some(p) => p.insert(id, tx),
            None => return Err(Error::Closed),
        };
        let sent = self
            .shared
            .send(&json!({"method": method, "params": params, "id": id}));
        if let Err(e) = sent {
            if let Some(p) = lock(&self.shared.pending).as_mut() {
                p.remove(&id);
            }
            return Err(e);
        }
        let reply = match rx.recv_timeout(timeout) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(p) = lock(&self.shared.pending).as_mut() {
                    p.remove(&id);
                }
                return Err(Error::Timeout(timeout));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(Error::Closed),
        }?;
        match reply.get("error") {
            None | Some(Value::Null) => Ok(reply.get("result").cloned().unwrap_or(Value::Null)),
            Some(e) => Err(Error::Rpc {
                method: method.to_string(),
                error: e.clone(),
            }),
        }
    }

    /// The databases the server has.
    pub fn list_dbs(&self) -> Result<Vec<String>, Error> {
        let v = self.request("list_dbs", json!([]))?;
        serde_json::from_value(v).map_err(|e| Error::Protocol(e.to_string()))
    }

    /// The schema of `db`.
    pub fn get_schema(&self, db: &str) -> Result<Value, Error> {
        self.request("get_schema", json!([db]))
    }

    /// Run `ops` on `db` as one transaction. Returns each operation's result; a failed
    /// operation (or commit) is an [`Error::Transaction`], and then nothing was changed.
    pub fn transact(&self, db: &str, ops: &[Value]) -> Result<Vec<Value>, Error> {
        let mut params = vec![json!(db)];
        params.extend(ops.iter().cloned());
        let v = self.request("transact", Value::Array(params))?;
        let results = match v {
            Value::Array(r) => r,
            other => return Err(Error::Protocol(format!("transact result {other}"))),
        };
        if let Some((index, r)) = results
            .iter()
            .enumerate()
            .find(|(_, r)| r.get("error").is_some_and(|e| !e.is_null()))
        {
            return Err(Error::Transaction {
                index,
                error: r["error"].as_str().unwrap_or("error").to_string(),
                details: r.get("details").and_then(Value::as_str).map(str::to_string),
            });
        }
        Ok(results)
    }

    /// `monitor_cond` (RFC 7047 `monitor` with `update2` notifications, as ovs-vswitchd
    /// uses): watch `requests` (`{table: [{"columns": [...]}]}`) in `db` under the id `id`.
    /// Returns the current contents; later changes come from [`Client::next_update`].
    pub fn monitor_cond(
        &self,
        db: &str,
        id: &Value,
        requests: &Value,
    ) -> Result<TableUpdates, Error> {
        let v = self.request("monitor_cond", json!([db, id, requests]))?;
        TableUpdates::from_update2(&v).map_err(Error::Protocol)
    }

    /// Plain `monitor` (`update` notifications with old and new rows).
    pub fn monitor(&self, db: &str, id: &Value, requests: &Value) -> Result<TableUpdates, Error> {
        let v = self.request("monitor", json!([db, id, requests]))?;
        TableUpdates::from_update(&v).map_err(Error::Protocol)
    }

    /// Stop the monitor `id`.
    pub fn monitor_cancel(&self, id: &Value) -> Result<(), Error> {
        self.request("monitor_cancel", json!([id])).map(drop)
    }

    /// Ask the server to echo (a liveness check).
    pub fn echo(&self) -> Result<(), Error> {
        let v = self.request("echo", json!(["dvs"]))?;
        if v == json!(["dvs"]) {
            Ok(())
        } else {
            Err(Error::Protocol(format!("echo answered {v}")))
        }
    }

    /// The next update notification (monitor id, changes), waiting at most `timeout`.
    /// `Err(Closed)` once the connection is gone and every queued update was taken.
    pub fn next_update(&self, timeout: Duration) -> Result<Option<(Value, TableUpdates)>, Error> {
        match lock(&self.updates).recv_timeout(timeout) {
            Ok(u) => Ok(Some(u)),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Error::Closed),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        (self.shutdown)();
        self.shared.close();
    }
}

/// The reader thread: until the stream ends, route every message.
fn read_loop(
    reader: Box<dyn std::io::Read + Send>,
    shared: &Shared,
    updates: &Sender<(Value, TableUpdates)>,
) {
    let stream = serde_json::Deserializer::from_reader(BufReader::new(reader)).into_iter::<Value>();
    for msg in stream {
        let Ok(msg) = msg else { break };
        match msg.get("method").and_then(Value::as_str) {
            Some("echo") => {
                // The server's inactivity probe: answer with the same params.
                let reply = json!({"result": msg["params"], "error": null, "id": msg["id"]});
                if shared.send(&reply).is_err() {
                    break;
                }
            }
            Some(m @ ("update" | "update2")) => {
                let params = msg["params"].as_array().cloned().unwrap_or_default();
                let (id, body) = (
                    params.first().cloned().unwrap_or(Value::Null),
                    params.get(1).cloned().unwrap_or(Value::Null),
                );
                let parsed = if m == "update" {
                    TableUpdates::from_update(&body)
                } else {
                    TableUpdates::from_update2(&body)
                };
                // A malformed notification is dropped rather than taking the connection down.
                if let Ok(u) = parsed {
                    let _ = updates.send((id, u));
                }
            }
            Some(_) => {}
            None => {
                let Some(id) = msg.get("id").and_then(Value::as_u64) else {
                    continue;
                };
                let waiter = lock(&shared.pending).as_mut().and_then(|p| p.remove(&id));
                if let Some(tx) = waiter {
                    let _ = tx.send(Ok(msg));
                }
            }
        }
    }
    shared.close();
}
