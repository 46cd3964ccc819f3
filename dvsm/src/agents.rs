//! The agent listener and its sessions: newline-delimited JSON-RPC 2.0 over TCP (or TLS), one
//! thread per session reading, one writer thread per session sending.
//!
//! A session must open with `register`; the token is compared in constant time with the
//! host's stored token, and a bad token or unknown host gets a JSON-RPC error and the door.
//! The reply is the host's share: only the changes when the agent reports (`since`) the
//! revision it last acked and dvsm still holds what it sent that agent (it has not restarted
//! since), else the whole share. After that [`crate::state::State::write`] pushes `update`s.
//!
//! Sending never blocks the writer of the model: each session has a bounded queue drained by
//! its own thread, and a queue that overflows drops the session (the agent reconnects and
//! resyncs). A session silent for longer than the silence limit is closed and its host shown
//! disconnected; a second session for a host replaces the first.
//!
//! Resync after a lost connection stays exact: what dvsm "sent" is not what the agent "has"
//! until acked, so on a `since` reconnect every object sent after `since` is sent again and
//! every drop sent after `since` is repeated.

use crate::state::{now_unix, HostRuntime, Reported, SessionHandle, State};
use crate::tls::TlsConn;
use proto::share::{diff, share};
use proto::wire::{self, Ack, Register, Registered};
use proto::Sent;
use rustls::ServerConfig;
use serde_json::{json, Value};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Messages queued per session before it is considered stuck and dropped.
pub const QUEUE_MAX: usize = 1024;
/// How often a blocked read wakes to look at the silence clock.
const READ_SLICE: Duration = Duration::from_millis(200);
/// Longest a send may block before the session is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// JSON-RPC error codes.
pub mod code {
    /// Not JSON.
    pub const PARSE: i64 = -32700;
    /// Not a JSON-RPC request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// Unknown method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Bad params.
    pub const INVALID_PARAMS: i64 = -32602;
    /// Unknown host or bad token.
    pub const UNAUTHORIZED: i64 = -32001;
    /// Something other than `register` came first.
    pub const NOT_REGISTERED: i64 = -32002;
}

/// Listener settings.
#[derive(Clone)]
pub struct AgentConfig {
    /// Close a session after this much silence.
    pub silent_after: Duration,
    /// TLS, when configured.
    pub tls: Option<Arc<ServerConfig>>,
    /// Longest line accepted.
    pub line_max: usize,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            silent_after: Duration::from_millis(wire::SILENT_AFTER_MS),
            tls: None,
            line_max: wire::LINE_MAX,
        }
    }
}

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// Accept agents on `listener` forever (run it on its own thread).
pub fn serve(listener: TcpListener, state: Arc<State>, cfg: AgentConfig) {
    for conn in listener.incoming() {
        match conn {
            Ok(tcp) => {
                let (state, cfg) = (state.clone(), cfg.clone());
                let spawned =
                    std::thread::Builder::new()
                        .name("dvsm-agent".into())
                        .spawn(move || {
                            let peer = tcp
                                .peer_addr()
                                .map(|a| a.to_string())
                                .unwrap_or_else(|_| "?".into());
                            if let Err(e) = session(tcp, &state, &cfg) {
                                log!("agent session from {peer}: {e}");
                            }
                        });
                if let Err(e) = spawned {
                    log!("cannot start an agent session thread: {e}");
                }
            }
            Err(e) => {
                log!("agent listener accept: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// The two directions of a connection, plain or TLS.
#[derive(Clone)]
enum Conn {
    Plain(Arc<TcpStream>),
    Tls(Arc<TlsConn>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(t) => t,
            Conn::Tls(t) => t.tcp(),
        }
    }

    fn send(&self, b: &[u8]) -> io::Result<()> {
        match self {
            Conn::Plain(t) => (&**t).write_all(b),
            Conn::Tls(t) => t.write_all(b),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(t) => (&**t).read(buf),
            Conn::Tls(t) => t.read(buf),
        }
    }
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Socket trouble.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The peer broke the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The peer did not authenticate.
    #[error("refused: {0}")]
    Refused(String),
    /// Nothing heard for too long.
    #[error("silent for {0} ms; closed")]
    Silent(u128),
}

/// Outcome of reading one line.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// A whole line (without the newline).
    Line(Vec<u8>),
    /// End of stream.
    Eof,
    /// Nothing yet (timeout slice).
    Idle,
}

/// Read one line of at most `max` bytes; a partial line stays in `buf` across idle slices.
pub fn read_line<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<Line, SessionError> {
    loop {
        let room = (max + 1).saturating_sub(buf.len()) as u64;
        match r.by_ref().take(room).read_until(b'\n', buf) {
            Ok(0) => {
                return Ok(if buf.len() > max {
                    Err(SessionError::Protocol(format!(
                        "line longer than {max} bytes"
                    )))?
                } else {
                    Line::Eof
                })
            }
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                    if buf.last() == Some(&b'\r') {
                        buf.pop();
                    }
                    if buf.len() > max {
                        return Err(SessionError::Protocol(format!(
                            "line longer than {max} bytes"
                        )));
                    }
                    return Ok(Line::Line(std::mem::take(buf)));
                }
                if buf.len() > max {
                    return Err(SessionError::Protocol(format!(
                        "line longer than {max} bytes"
                    )));
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(Line::Idle)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn response(id: &Value, result: Value) -> Vec<u8> {
    let mut v = serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "result": result}))
        .unwrap_or_default();
    v.push(b'\n');
    v
}

fn error(id: &Value, code: i64, message: &str) -> Vec<u8> {
    let mut v = serde_json::to_vec(&json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": message},
    }))
    .unwrap_or_default();
    v.push(b'\n');
    v
}

/// Compare two secrets in time that depends only on their lengths.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut d = 0u8;
    for (x, y) in a.iter().zip(b) {
        d |= x ^ y;
    }
    // Keep the compiler from short-circuiting the fold.
    std::hint::black_box(d) == 0
}

fn parse(line: &[u8]) -> Result<(Value, String, Value), (Value, i64, String)> {
    let v: Value = serde_json::from_slice(line)
        .map_err(|e| (Value::Null, code::PARSE, format!("not JSON: {e}")))?;
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = v.get("method").and_then(Value::as_str) else {
        return Err((id, code::INVALID_REQUEST, "no method".into()));
    };
    if v.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err((id, code::INVALID_REQUEST, "jsonrpc must be \"2.0\"".into()));
    }
    let params = v.get("params").cloned().unwrap_or(Value::Null);
    Ok((id, method.to_string(), params))
}

fn session(tcp: TcpStream, state: &Arc<State>, cfg: &AgentConfig) -> Result<(), SessionError> {
    let _ = tcp.set_nodelay(true);
    tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let conn = match &cfg.tls {
        Some(tls) => Conn::Tls(Arc::new(TlsConn::accept(tcp, tls.clone())?)),
        None => Conn::Plain(Arc::new(tcp)),
    };
    conn.tcp().set_read_timeout(Some(READ_SLICE))?;
    let mut reader = BufReader::with_capacity(64 << 10, conn.clone());
    let mut buf = Vec::new();
    let mut last_rx = Instant::now();

    // 1. register.
    let line = loop {
        match read_line(&mut reader, &mut buf, cfg.line_max)? {
            Line::Line(l) => break l,
            Line::Eof => return Ok(()),
            Line::Idle if last_rx.elapsed() > cfg.silent_after => {
                return Err(SessionError::Silent(last_rx.elapsed().as_millis()))
            }
            Line::Idle => {}
        }
    };
    let refuse = |id: &Value, code: i64, msg: String| -> Result<(), SessionError> {
        let _ = conn.send(&error(id, code, &msg));
        Err(SessionError::Refused(msg))
    };
    let (id, method, params) = match parse(&line) {
        Ok(p) => p,
        Err((id, c, m)) => return refuse(&id, c, m),
    };
    if method != wire::method::REGISTER {
        return refuse(
            &id,
            code::NOT_REGISTERED,
            format!("the first message must be register, not {method}"),
        );
    }
    let reg: Register = match serde_json::from_value(params) {
        Ok(r) => r,
        Err(e) => return refuse(&id, code::INVALID_PARAMS, format!("register params: {e}")),
    };
    let authorized = state
        .hosts()
        .get(&reg.host)
        .and_then(|rt| rt.token.as_deref())
        .is_some_and(|t| same_secret(t.as_bytes(), reg.token.as_bytes()));
    if !authorized {
        return refuse(
            &id,
            code::UNAUTHORIZED,
            format!("unknown host {:?} or bad token", reg.host),
        );
    }
    if let Err(e) = state.store().put_facts(&reg.host, &reg.facts) {
        log!("host {}: cannot store facts: {e}", reg.host);
    }
    let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE_MAX);
    let sid = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
    let handle = SessionHandle {
        id: sid,
        tx,
        tcp: conn.tcp().try_clone()?,
    };
    let (revision, full, nchanges) = {
        // Under the writer mutex: no write can slip between this share and its updates.
        let _w = state.writer();
        let m = state.model();
        if m.get(&proto::Key::new(proto::Kind::Host, &reg.host))
            .is_none()
        {
            drop(m);
            return refuse(
                &id,
                code::UNAUTHORIZED,
                format!("unknown host {:?}", reg.host),
            );
        }
        let sh = share(&m, &reg.host);
        let revision = m.revision;
        drop(m);
        let mut hosts = state.hosts();
        let rt = hosts.entry(reg.host.clone()).or_default();
        let incremental = reg.since.is_some() && reg.since == rt.acked && rt.sent.is_some();
        let changes = if incremental {
            let since = reg.since.unwrap_or(0);
            let sent = rt.sent.get_or_insert_with(Sent::new);
            // Sent after `since` is not known to have arrived: send it again.
            sent.retain(|_, r| *r <= since);
            for (k, r) in &rt.unacked_drops {
                if *r > since {
                    sent.insert(k.clone(), 0);
                }
            }
            rt.unacked_drops.clear();
            diff(sent, &sh)
        } else {
            let mut sent = Sent::new();
            let c = diff(&mut sent, &sh);
            rt.sent = Some(sent);
            rt.unacked_drops.clear();
            c
        };
        let n = changes.len();
        rt.sent_revision = Some(revision);
        let reply = Registered {
            revision,
            full: !incremental,
            changes,
        };
        let line = response(&id, serde_json::to_value(&reply).unwrap_or(Value::Null));
        // The queue is fresh: this cannot be full.
        let _ = handle.tx.try_send(line);
        if let Some(old) = rt.session.replace(handle) {
            log!(
                "host {}: a new session replaces session {}",
                reg.host,
                old.id
            );
            old.close();
        }
        rt.facts = Some(reg.facts.clone());
        rt.last_seen = Some(now_unix());
        (revision, !incremental, n)
    };
    log!(
        "host {}: agent registered (session {sid}, revision {revision}, {} with {nchanges} changes)",
        reg.host,
        if full { "full share" } else { "changes only" }
    );
    let writer = spawn_writer(conn.clone(), rx);
    let host = reg.host.clone();
    last_rx = Instant::now();

    // 2. Messages until EOF, error or silence.
    let result = loop {
        let line = match read_line(&mut reader, &mut buf, cfg.line_max) {
            Ok(Line::Line(l)) => l,
            Ok(Line::Eof) => break Ok(()),
            Ok(Line::Idle) => {
                if last_rx.elapsed() > cfg.silent_after {
                    break Err(SessionError::Silent(last_rx.elapsed().as_millis()));
                }
                if !is_current(state, &host, sid) {
                    break Ok(());
                }
                continue;
            }
            Err(e) => break Err(e),
        };
        last_rx = Instant::now();
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let reply = handle_message(state, &host, sid, &line);
        if let Some(r) = reply {
            let sent = state.hosts().get(&host).and_then(|rt| {
                rt.session
                    .as_ref()
                    .filter(|s| s.id == sid)
                    .map(|s| s.tx.try_send(r))
            });
            if !matches!(sent, Some(Ok(()))) {
                break Ok(());
            }
        }
    };

    // 3. Clean up: only if this session is still the host's.
    {
        let mut hosts = state.hosts();
        if let Some(rt) = hosts.get_mut(&host) {
            if rt.session.as_ref().is_some_and(|s| s.id == sid) {
                if let Some(s) = rt.session.take() {
                    s.close();
                }
            }
        }
    }
    let _ = conn.tcp().shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    log!("host {host}: session {sid} closed");
    result
}

fn is_current(state: &State, host: &str, sid: u64) -> bool {
    state
        .hosts()
        .get(host)
        .is_some_and(|rt| rt.session.as_ref().is_some_and(|s| s.id == sid))
}

fn spawn_writer(conn: Conn, rx: Receiver<Vec<u8>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while let Ok(line) = rx.recv() {
            if conn.send(&line).is_err() {
                let _ = conn.tcp().shutdown(std::net::Shutdown::Both);
                break;
            }
        }
    })
}

/// Handle one message after registration; returns a reply line for requests.
fn handle_message(state: &State, host: &str, sid: u64, line: &[u8]) -> Option<Vec<u8>> {
    let (id, method, params) = match parse(line) {
        Ok(p) => p,
        Err((id, c, m)) => return Some(error(&id, c, &m)),
    };
    let is_request = !id.is_null();
    let mut hosts = state.hosts();
    let rt: &mut HostRuntime = hosts.get_mut(host)?;
    if rt.session.as_ref().is_none_or(|s| s.id != sid) {
        return None;
    }
    rt.last_seen = Some(now_unix());
    let bad = |e: serde_json::Error| Some(error(&id, code::INVALID_PARAMS, &e.to_string()));
    match method.as_str() {
        wire::method::HEARTBEAT => {}
        wire::method::ACK => {
            let a: Ack = match serde_json::from_value(params) {
                Ok(a) => a,
                Err(e) => return bad(e),
            };
            rt.unacked_drops.retain(|_, r| *r > a.revision);
            rt.acked = Some(a.revision);
            rt.apply_errors = a.errors;
        }
        wire::method::STATUS => {
            let s: wire::Status = match serde_json::from_value(params) {
                Ok(s) => s,
                Err(e) => return bad(e),
            };
            let at = Instant::now();
            for (p, st) in s.ports {
                rt.ports.insert(
                    p,
                    Reported {
                        status: st,
                        at,
                        revision: s.revision,
                    },
                );
            }
            for (u, st) in s.uplinks {
                rt.uplinks.insert(
                    u,
                    Reported {
                        status: st,
                        at,
                        revision: s.revision,
                    },
                );
            }
        }
        m => {
            return is_request
                .then(|| error(&id, code::METHOD_NOT_FOUND, &format!("unknown method {m}")))
        }
    }
    is_request.then(|| response(&id, Value::Null))
}

/// Whether an address is loopback (plain TCP elsewhere earns a warning).
pub fn is_loopback(a: &SocketAddr) -> bool {
    a.ip().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_limits() {
        let data = b"abc\nde\r\nxxxxxxxxxxxx\n".to_vec();
        let mut r = BufReader::new(&data[..]);
        let mut b = Vec::new();
        assert_eq!(
            read_line(&mut r, &mut b, 8).unwrap(),
            Line::Line(b"abc".to_vec())
        );
        assert_eq!(
            read_line(&mut r, &mut b, 8).unwrap(),
            Line::Line(b"de".to_vec())
        );
        assert!(matches!(
            read_line(&mut r, &mut b, 8),
            Err(SessionError::Protocol(_))
        ));
        let mut r = BufReader::new(&b""[..]);
        assert_eq!(read_line(&mut r, &mut Vec::new(), 8).unwrap(), Line::Eof);
    }

    #[test]
    fn secrets() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"ab"));
    }
}
