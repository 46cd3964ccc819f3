//! A TLS connection shared by a connection's reader and writer threads (see the module above
//! for why the session lock is never held across socket I/O), and the bounded handshake.

use crate::ofp::{Flags, WRITE_TIMEOUT};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest a TLS handshake may take before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a handshake looks at the stop flags.
const HANDSHAKE_SLICE: Duration = Duration::from_millis(100);
/// Longest wait for the close_notify alert to go out when a connection is shut down.
const CLOSE_NOTIFY_WAIT: Duration = Duration::from_millis(100);
/// Bytes taken from the socket per read.
const RAW_READ: usize = 16 << 10;

/// The server side of an accepted `pssl:` connection, after its handshake.
pub(crate) fn accept(
    tcp: TcpStream,
    cfg: Arc<ServerConfig>,
    stop: &Flags,
) -> io::Result<TlsStream> {
    let conn = ServerConnection::new(cfg).map_err(io::Error::other)?;
    handshake(Connection::Server(conn), tcp, stop)
}

/// The client side of a connection to controller `addr`, after its handshake.
pub(crate) fn connect(
    tcp: TcpStream,
    addr: SocketAddr,
    cfg: Arc<ClientConfig>,
    stop: &Flags,
) -> io::Result<TlsStream> {
    let name = ServerName::IpAddress(addr.ip().into());
    let conn = ClientConnection::new(cfg, name).map_err(io::Error::other)?;
    handshake(Connection::Client(conn), tcp, stop)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Run the handshake of `conn` over `tcp` within [`HANDSHAKE_TIMEOUT`], in slices of
/// [`HANDSHAKE_SLICE`] between which `stop` is looked at.
fn handshake(mut conn: Connection, tcp: TcpStream, stop: &Flags) -> io::Result<TlsStream> {
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let slice = |what: &str| -> io::Result<Duration> {
        if stop.stopped() {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the switch is stopping",
            ));
        }
        match deadline.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(left.min(HANDSHAKE_SLICE)),
            _ => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "TLS handshake not done within {} s ({what})",
                    HANDSHAKE_TIMEOUT.as_secs()
                ),
            )),
        }
    };
    let mut io = &tcp;
    while conn.is_handshaking() || conn.wants_write() {
        if conn.wants_write() {
            tcp.set_write_timeout(Some(slice("sending")?))?;
            match conn.write_tls(&mut io) {
                Ok(_) => {}
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(e),
            }
            continue;
        }
        tcp.set_read_timeout(Some(slice("waiting for the peer")?))?;
        match conn.read_tls(&mut io) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection during the TLS handshake",
                ))
            }
            Ok(_) => {
                if let Err(e) = conn.process_new_packets() {
                    // Tell the peer why (the alert rustls queued), as far as it takes it now.
                    let _ = tcp.set_write_timeout(Some(CLOSE_NOTIFY_WAIT));
                    let _ = conn.write_tls(&mut io);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
            }
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(e),
        }
    }
    tcp.set_read_timeout(None)?;
    tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
    Ok(TlsStream {
        shared: Arc::new(Shared {
            tcp,
            conn: Mutex::new(conn),
            send: Mutex::new(()),
            read_timeout: Mutex::new(None),
            closed: AtomicBool::new(false),
        }),
        pending: Vec::new(),
        eof: false,
    })
}

/// What one TLS connection's handles share.
struct Shared {
    /// The socket: read without any lock by the reading handle, written under `send`.
    tcp: TcpStream,
    /// The session state, locked only for in-memory work (never across socket I/O).
    conn: Mutex<Connection>,
    /// Held while records are taken from `conn` and written to the socket, so that they go out
    /// whole and in the order they were made.
    send: Mutex<()>,
    /// How long a read may wait for plaintext (`None`: for ever).
    read_timeout: Mutex<Option<Duration>>,
    /// `shutdown` ran.
    closed: AtomicBool,
}

/// An established TLS connection (either side), as `Sock::Tls` holds it. Every handle
/// ([`TlsStream::try_clone`]) uses the same session; one reads, any may write.
pub(crate) struct TlsStream {
    shared: Arc<Shared>,
    /// Bytes read from the socket that rustls has not taken yet.
    pending: Vec<u8>,
    /// The socket reached its end.
    eof: bool,
}

/// The outcome of feeding the session what was read.
enum Fed {
    /// Plaintext bytes were copied out (0: the connection ended).
    Data(usize),
    /// More bytes are needed from the socket.
    Starved,
}

impl TlsStream {
    /// Another handle on the same session (for the writer thread, or to shut it down).
    pub(crate) fn try_clone(&self) -> TlsStream {
        TlsStream {
            shared: self.shared.clone(),
            pending: Vec::new(),
            eof: false,
        }
    }

    /// Send close_notify if no write is in progress (without waiting for one), then shut the
    /// socket down both ways: a blocked reader or writer returns at once.
    pub(crate) fn shutdown(&self) {
        let s = &self.shared;
        if !s.closed.swap(true, Ordering::Relaxed) {
            if let Ok(_send) = s.send.try_lock() {
                let mut out = Vec::new();
                {
                    let mut c = lock(&s.conn);
                    c.send_close_notify();
                    while c.wants_write() {
                        if c.write_tls(&mut out).is_err() {
                            break;
                        }
                    }
                }
                let _ = s.tcp.set_write_timeout(Some(CLOSE_NOTIFY_WAIT));
                let _ = (&s.tcp).write_all(&out);
            }
        }
        let _ = s.tcp.shutdown(Shutdown::Both);
    }

    /// How long a read waits for plaintext before it fails with `WouldBlock` (`None`: no
    /// limit), as `TcpStream::set_read_timeout`.
    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        if t == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        *lock(&self.shared.read_timeout) = t;
        Ok(())
    }

    /// The socket, for its options.
    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.shared.tcp
    }

    /// Write every record the session has ready, in order.
    fn flush_records(&self) -> io::Result<()> {
        let s = &self.shared;
        let _send = lock(&s.send);
        let mut out = Vec::new();
        loop {
            {
                let mut c = lock(&s.conn);
                while c.wants_write() {
                    c.write_tls(&mut out)?;
                }
            }
            if out.is_empty() {
                return Ok(());
            }
            (&s.tcp).write_all(&out)?;
            out.clear();
        }
    }

    /// Give the session the bytes read so far until it has plaintext for `buf`; also says
    /// whether it has records to send (an alert, a key update).
    fn feed(&mut self, buf: &mut [u8]) -> (io::Result<Fed>, bool) {
        let mut c = lock(&self.shared.conn);
        let mut eof_given = false;
        loop {
            match c.reader().read(buf) {
                Ok(n) => return (Ok(Fed::Data(n)), c.wants_write()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed TCP without close_notify. OpenFlow's own framing shows a cut
                // message, so this is an ordinary end, as on a plain connection.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return (Ok(Fed::Data(0)), false)
                }
                Err(e) => return (Err(e), c.wants_write()),
            }
            if self.pending.is_empty() {
                if !self.eof {
                    return (Ok(Fed::Starved), c.wants_write());
                }
                if eof_given {
                    return (Ok(Fed::Data(0)), false);
                }
                // Tell the session: its reader then reports the end.
                let _ = c.read_tls(&mut io::empty());
                eof_given = true;
            } else {
                match c.read_tls(&mut &self.pending[..]) {
                    Ok(0) => {
                        // A record it cannot take (a length out of range): the end.
                        self.pending.clear();
                        self.eof = true;
                    }
                    Ok(n) => {
                        self.pending.drain(..n);
                    }
                    Err(e) => return (Err(e), c.wants_write()),
                }
            }
            if let Err(e) = c.process_new_packets() {
                return (
                    Err(io::Error::new(io::ErrorKind::InvalidData, e)),
                    c.wants_write(),
                );
            }
        }
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let deadline = lock(&self.shared.read_timeout).map(|t| Instant::now() + t);
        loop {
            let (fed, wants_write) = self.feed(buf);
            if wants_write {
                // Records the session made while reading (an alert saying why it failed, a
                // key update): they go out before the result is returned.
                let sent = self.flush_records();
                if fed.is_ok() {
                    sent?;
                }
            }
            if let Fed::Data(n) = fed? {
                return Ok(n);
            }
            let wait = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(w) if !w.is_zero() => Some(w),
                    _ => return Err(io::ErrorKind::WouldBlock.into()),
                },
            };
            self.shared.tcp.set_read_timeout(wait)?;
            let mut raw = [0u8; RAW_READ];
            let n = (&self.shared.tcp).read(&mut raw)?;
            if n == 0 {
                self.eof = true;
            } else {
                self.pending.extend_from_slice(&raw[..n]);
            }
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = lock(&self.shared.conn).writer().write(buf)?;
        self.flush_records()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_records()
    }
}
