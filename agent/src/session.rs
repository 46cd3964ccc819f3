//! The dvsm session: one TCP connection (TLS when a CA is given) carrying newline-delimited
//! JSON-RPC 2.0 ([`proto::wire`]).
//!
//! One thread does everything, in a loop that never blocks longer than [`TICK`]: read what
//! arrived (the `register` answer, then `update` notifications, applied to the shared state at
//! once), send a `heartbeat` every [`HEARTBEAT_MS`](proto::wire::HEARTBEAT_MS), an `ack` as soon
//! as the reconciler reports a revision applied (or its errors change), and a `status` every
//! [`STATUS_EVERY`]. One thread means no lock around the connection, which matters for TLS:
//! rustls keeps one state for both directions.
//!
//! Any failure (refused connection, TLS error, closed socket, malformed line, dvsm refusing the
//! registration) ends the session; [`run`] reconnects after an exponential backoff (200 ms
//! doubling to 5 s, with jitter so a thousand agents do not come back in step) and registers
//! again with `since` = the last revision applied, so dvsm can answer with only what changed.
//! Nothing here touches the switch: dvsm being away changes nothing on the host.

use crate::state::State;
use proto::wire::{self, method, Ack, Register, Registered, Update};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest the loop waits for input before doing its periodic work.
pub const TICK: Duration = Duration::from_millis(100);
/// How often `status` is sent.
pub const STATUS_EVERY: Duration = Duration::from_secs(2);
/// Backoff bounds.
pub const BACKOFF_MIN: Duration = Duration::from_millis(200);
/// Longest backoff.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long connecting, the TLS handshake and the `register` answer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What ended a session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The address does not resolve or is malformed.
    #[error("bad dvsm address {0:?}")]
    Address(String),
    /// Socket I/O failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// TLS setup failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// dvsm closed the connection.
    #[error("dvsm closed the connection")]
    Closed,
    /// dvsm refused the registration.
    #[error("dvsm refused the registration: {0}")]
    Refused(String),
    /// A message that does not follow the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// No answer to `register` in time.
    #[error("no answer to register within {0:?}")]
    Timeout(Duration),
}

/// How to reach dvsm and who we are.
#[derive(Clone, Debug)]
pub struct Config {
    /// `HOST:PORT`.
    pub dvsm: String,
    /// This host's name.
    pub host: String,
    /// Its token.
    pub token: String,
    /// CA certificate (PEM) to verify dvsm with; `None`: plain TCP.
    pub tls_ca: Option<PathBuf>,
    /// Name to verify dvsm's certificate against (default: the host part of `dvsm`).
    pub tls_name: Option<String>,
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// The host part of `HOST:PORT` (`[v6]:port` too).
pub fn host_part(addr: &str) -> &str {
    let h = match addr.rsplit_once(':') {
        Some((h, _)) => h,
        None => addr,
    };
    h.trim_start_matches('[').trim_end_matches(']')
}

/// The *ring* provider, explicitly (dvsm and switchd use it too: aws-lc-rs needs cmake).
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS client configuration trusting the CA in `ca` (PEM).
pub fn tls_config(ca: &std::path::Path) -> Result<Arc<rustls::ClientConfig>, SessionError> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .map_err(|e| SessionError::Tls(format!("{}: {e}", ca.display())))?;
    for c in certs {
        let c = c.map_err(|e| SessionError::Tls(format!("{}: {e}", ca.display())))?;
        roots
            .add(c)
            .map_err(|e| SessionError::Tls(format!("{}: {e}", ca.display())))?;
    }
    if roots.is_empty() {
        return Err(SessionError::Tls(format!(
            "{}: no certificate in it",
            ca.display()
        )));
    }
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| SessionError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// A connected, line-oriented JSON-RPC stream.
struct Conn {
    stream: Box<dyn Stream>,
    buf: Vec<u8>,
}

impl Conn {
    fn open(cfg: &Config) -> Result<Conn, SessionError> {
        use std::net::ToSocketAddrs;
        let addr = cfg
            .dvsm
            .to_socket_addrs()
            .map_err(|_| SessionError::Address(cfg.dvsm.clone()))?
            .next()
            .ok_or_else(|| SessionError::Address(cfg.dvsm.clone()))?;
        let tcp = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
        tcp.set_nodelay(true)?;
        tcp.set_write_timeout(Some(CONNECT_TIMEOUT))?;
        let stream: Box<dyn Stream> = match &cfg.tls_ca {
            None => {
                tcp.set_read_timeout(Some(TICK))?;
                Box::new(tcp)
            }
            Some(ca) => {
                let tls = tls_config(ca)?;
                let name = cfg
                    .tls_name
                    .clone()
                    .unwrap_or_else(|| host_part(&cfg.dvsm).to_string());
                let server = ServerName::try_from(name.clone())
                    .map_err(|e| SessionError::Tls(format!("server name {name:?}: {e}")))?;
                let conn = rustls::ClientConnection::new(tls, server)
                    .map_err(|e| SessionError::Tls(e.to_string()))?;
                let mut s = rustls::StreamOwned::new(conn, tcp);
                // Handshake now (blocking), so a bad certificate is reported as such.
                s.sock.set_read_timeout(Some(CONNECT_TIMEOUT))?;
                while s.conn.is_handshaking() {
                    s.conn
                        .complete_io(&mut s.sock)
                        .map_err(|e| SessionError::Tls(e.to_string()))?;
                }
                s.sock.set_read_timeout(Some(TICK))?;
                Box::new(s)
            }
        };
        Ok(Conn {
            stream,
            buf: Vec::new(),
        })
    }

    fn send(&mut self, v: &Value) -> Result<(), SessionError> {
        let mut line = serde_json::to_vec(v).map_err(|e| SessionError::Protocol(e.to_string()))?;
        line.push(b'\n');
        self.stream.write_all(&line)?;
        self.stream.flush()?;
        Ok(())
    }

    fn notify(&mut self, m: &str, params: Value) -> Result<(), SessionError> {
        self.send(&json!({"jsonrpc": "2.0", "method": m, "params": params}))
    }

    /// The next complete line, or `None` after waiting up to [`TICK`].
    fn line(&mut self) -> Result<Option<Vec<u8>>, SessionError> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Ok(Some(line));
            }
            if self.buf.len() > wire::LINE_MAX {
                return Err(SessionError::Protocol("line too long".into()));
            }
            let mut chunk = [0u8; 16384];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(SessionError::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(None)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// A small xorshift for backoff jitter (no need for a crate).
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Jitter(t ^ u64::from(std::process::id()) << 32 | 1)
    }

    /// A duration uniformly in `[d/2, d]`.
    fn spread(&mut self, d: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let half = d.as_millis() as u64 / 2;
        Duration::from_millis(half + self.0 % (half + 1))
    }
}

/// Follow dvsm until `stop`, reconnecting as needed.
pub fn run(cfg: &Config, state: &State, stop: &AtomicBool) {
    let mut backoff = BACKOFF_MIN;
    let mut jitter = Jitter::new();
    let mut last_error = None;
    while !stop.load(Ordering::Relaxed) {
        let mut registered = false;
        let r = session(cfg, state, stop, &mut registered);
        if registered {
            backoff = BACKOFF_MIN;
        }
        match r {
            Ok(()) => return,
            Err(e) => {
                let msg = e.to_string();
                if registered || last_error.as_ref() != Some(&msg) {
                    log!("dvsm {}: {msg}; reconnecting", cfg.dvsm);
                    last_error = Some(msg);
                }
            }
        }
        let wait = jitter.spread(backoff);
        backoff = (backoff * 2).min(BACKOFF_MAX);
        let end = Instant::now() + wait;
        while Instant::now() < end && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One session: connect, register, then serve until an error or `stop`.
fn session(
    cfg: &Config,
    state: &State,
    stop: &AtomicBool,
    registered: &mut bool,
) -> Result<(), SessionError> {
    let mut c = Conn::open(cfg)?;
    let since = state.lock().applied.as_ref().map(|(r, _)| *r);
    let reg = Register {
        host: cfg.host.clone(),
        token: cfg.token.clone(),
        facts: crate::facts::gather(),
        since,
    };
    c.send(
        &json!({"jsonrpc": "2.0", "id": 1, "method": method::REGISTER,
                   "params": reg}),
    )?;
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let answer = loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        match c.line()? {
            Some(l) => {
                let v: Value = serde_json::from_slice(&l)
                    .map_err(|e| SessionError::Protocol(format!("not JSON: {e}")))?;
                if v.get("id") == Some(&json!(1)) {
                    break v;
                }
            }
            None if Instant::now() > deadline => {
                return Err(SessionError::Timeout(CONNECT_TIMEOUT))
            }
            None => {}
        }
    };
    if let Some(e) = answer.get("error").filter(|e| !e.is_null()) {
        let msg = e
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| e.to_string(), str::to_string);
        return Err(SessionError::Refused(msg));
    }
    let r: Registered = serde_json::from_value(answer.get("result").cloned().unwrap_or_default())
        .map_err(|e| SessionError::Protocol(format!("register result: {e}")))?;
    if r.full {
        state.replace(r.revision, &r.changes);
    } else {
        state.apply(r.revision, &r.changes);
    }
    *registered = true;
    log!(
        "dvsm {}: registered as {} (revision {}, {} with {} changes{})",
        cfg.dvsm,
        cfg.host,
        r.revision,
        if r.full { "full share" } else { "changes only" },
        r.changes.len(),
        since.map(|s| format!(", since {s}")).unwrap_or_default()
    );
    let mut last_heartbeat = Instant::now();
    let mut last_status: Option<Instant> = None;
    let mut acked: Option<(u64, Vec<wire::ApplyError>)> = None;
    while !stop.load(Ordering::Relaxed) {
        if let Some(l) = c.line()? {
            handle(state, &l)?;
            // Drain what is already here before the periodic work.
            continue;
        }
        let (applied, status) = {
            let s = state.lock();
            (s.applied.clone(), s.status.clone())
        };
        if let Some(a) = applied.filter(|a| acked.as_ref() != Some(a)) {
            let ack = Ack {
                revision: a.0,
                errors: a.1.clone(),
            };
            c.notify(method::ACK, json!(ack))?;
            acked = Some(a);
        }
        if last_heartbeat.elapsed() >= Duration::from_millis(wire::HEARTBEAT_MS) {
            c.notify(method::HEARTBEAT, json!({}))?;
            last_heartbeat = Instant::now();
        }
        if acked.is_some() && last_status.is_none_or(|t| t.elapsed() >= STATUS_EVERY) {
            c.notify(method::STATUS, json!(status))?;
            last_status = Some(Instant::now());
        }
    }
    Ok(())
}

/// Handle one line from dvsm.
fn handle(state: &State, line: &[u8]) -> Result<(), SessionError> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let v: Value = serde_json::from_slice(line)
        .map_err(|e| SessionError::Protocol(format!("not JSON: {e}")))?;
    match v.get("method").and_then(Value::as_str) {
        Some(method::UPDATE) => {
            let u: Update = serde_json::from_value(v.get("params").cloned().unwrap_or_default())
                .map_err(|e| SessionError::Protocol(format!("update params: {e}")))?;
            state.apply(u.revision, &u.changes);
            Ok(())
        }
        // Answers to our notifications (none expected) and unknown methods are ignored.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_part_of_addresses() {
        assert_eq!(host_part("dvsm.example:6680"), "dvsm.example");
        assert_eq!(host_part("10.0.0.1:6680"), "10.0.0.1");
        assert_eq!(host_part("[::1]:6680"), "::1");
        assert_eq!(host_part("dvsm"), "dvsm");
    }

    #[test]
    fn jitter_stays_in_range() {
        let mut j = Jitter::new();
        for _ in 0..1000 {
            let d = j.spread(Duration::from_millis(400));
            assert!(d >= Duration::from_millis(200) && d <= Duration::from_millis(400));
        }
    }

    #[test]
    fn tls_config_needs_a_certificate() {
        let p = std::env::temp_dir().join(format!("dvs-agent-ca-{}.pem", std::process::id()));
        std::fs::write(&p, "not a certificate\n").unwrap();
        assert!(tls_config(&p).is_err());
        let _ = std::fs::remove_file(&p);
        assert!(tls_config(std::path::Path::new("/nonexistent/ca.pem")).is_err());
    }
}
