//! OpenFlow over TLS (`pssl:` listeners and `ssl:` controllers), with rustls, as OVS's SSL
//! support works: the switch has one identity (a private key and a certificate chain, PEM) and
//! one CA certificate (PEM), and both directions verify the peer against that CA. A `pssl:`
//! listener requires a client certificate signed by the CA (mutual TLS); an `ssl:` connection
//! requires the controller's certificate to chain to the CA and presents the switch's own.
//! Names in the peer's certificate are not checked, as OVS does not check them: targets are IP
//! literals, and the CA is the switch's private trust root, so whoever holds a certificate from
//! it is admitted. (The chain itself is checked in full: signatures, validity period, CA
//! constraints, and the TLS server/client extended key usage when the certificate lists any.)
//!
//! The files are read when a listener is bound and at every connection attempt to a
//! controller, so a controller connection picks up renewed files by itself; a listener does
//! when the bridge's OpenFlow settings change or the switch restarts. Front ends check the
//! files with [`check`] so that a bad file is an error naming its setting.
//!
//! A TLS connection is a [`TlsStream`] shared by the connection's two threads: the one that
//! reads requests and the outbox thread that writes replies (see `outbox`). rustls keeps one
//! state for both directions, so the state sits behind a mutex, and the design keeps that
//! mutex away from socket I/O: the reader waits for bytes on the TCP socket holding no lock
//! (reading and writing one socket from two threads is fine), then locks the state only to
//! decrypt what arrived; the writer locks it only to encrypt, and writes the records to the
//! socket under a second lock (`send`) that keeps records whole and in order. Neither thread
//! ever waits for the network while holding the state, so a reader blocked on a silent peer
//! never delays a reply, and the caller's read timeout keeps its meaning: a read returns
//! `WouldBlock` once that long has passed without a byte of plaintext.
//!
//! The handshake runs in the connection's own thread (never in the accept loop, so a slow
//! client cannot stall accepts), bounded by [`HANDSHAKE_TIMEOUT`] and in short slices that
//! look at the stop flags, so shutdown never waits for it.

use super::{Flags, WRITE_TIMEOUT};
use datapath::config::SslFiles;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{
    ClientConfig, ClientConnection, Connection, DigitallySignedStruct, RootCertStore, ServerConfig,
    ServerConnection, SignatureScheme,
};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest a TLS handshake may take before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest PEM file read.
const PEM_MAX_BYTES: u64 = 1 << 20;
/// How often a handshake looks at the stop flags.
const HANDSHAKE_SLICE: Duration = Duration::from_millis(100);
/// Longest wait for the close_notify alert to go out when a connection is shut down.
const CLOSE_NOTIFY_WAIT: Duration = Duration::from_millis(100);
/// Bytes taken from the socket per read.
const RAW_READ: usize = 16 << 10;

/// One of the three files, named as the configuration file names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslFile {
    /// The private key.
    PrivateKey,
    /// The certificate chain.
    Certificate,
    /// The CA certificate.
    CaCert,
}

impl SslFile {
    /// The `[switch]` key of the config file.
    pub fn key(self) -> &'static str {
        match self {
            SslFile::PrivateKey => "ssl_private_key",
            SslFile::Certificate => "ssl_certificate",
            SslFile::CaCert => "ssl_ca_cert",
        }
    }

    /// The column of the database's `SSL` table.
    pub fn column(self) -> &'static str {
        match self {
            SslFile::PrivateKey => "private_key",
            SslFile::Certificate => "certificate",
            SslFile::CaCert => "ca_cert",
        }
    }

    fn path(self, files: &SslFiles) -> &Path {
        match self {
            SslFile::PrivateKey => &files.private_key,
            SslFile::Certificate => &files.certificate,
            SslFile::CaCert => &files.ca_cert,
        }
    }
}

/// Why the TLS files cannot be used: which file, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslError {
    /// The file at fault.
    pub file: SslFile,
    /// Its path.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for SslError {}

/// The switch's identity and trust root, read and parsed.
struct Identity {
    key: PrivateKeyDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    roots: Arc<RootCertStore>,
}

/// The *ring* provider, explicitly (not the process default, so another crate's choice of
/// rustls features cannot change it). rustls 0.23.48 deprecated this function because *ring*
/// has no post-quantum key exchange; its alternative, aws-lc-rs, needs cmake and a longer
/// build, and OVS peers (OpenSSL 3.0) offer none either, so *ring* it is, on purpose.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn error(file: SslFile, files: &SslFiles, message: impl Into<String>) -> SslError {
    SslError {
        file,
        path: file.path(files).to_path_buf(),
        message: message.into(),
    }
}

/// The PEM text of `file`.
fn read_pem(file: SslFile, files: &SslFiles) -> Result<String, SslError> {
    crate::conffile::read_bounded(file.path(files), PEM_MAX_BYTES)
        .map_err(|e| error(file, files, format!("cannot read: {e}")))
}

/// Every certificate of `file`; at least one.
fn certificates(file: SslFile, files: &SslFiles) -> Result<Vec<CertificateDer<'static>>, SslError> {
    let pem = read_pem(file, files)?;
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(file, files, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(error(
            file,
            files,
            "no certificate in it (expected PEM \"BEGIN CERTIFICATE\" blocks)",
        ));
    }
    Ok(certs)
}

fn load(files: &SslFiles, provider: &CryptoProvider) -> Result<Identity, SslError> {
    use SslFile::*;
    let pem = read_pem(PrivateKey, files)?;
    let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| {
        let why = match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                "no private key in it (expected a PEM PKCS#8, RSA or EC private key)".to_string()
            }
            e => format!("bad PEM: {e}"),
        };
        error(PrivateKey, files, why)
    })?;
    provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| error(PrivateKey, files, format!("unusable private key: {e}")))?;
    let chain = certificates(Certificate, files)?;
    ParsedCertificate::try_from(&chain[0])
        .map_err(|e| error(Certificate, files, format!("bad certificate: {e}")))?;
    let mut roots = RootCertStore::empty();
    for (i, c) in certificates(CaCert, files)?.into_iter().enumerate() {
        roots.add(c).map_err(|e| {
            error(
                CaCert,
                files,
                format!("certificate {} is not a usable CA certificate: {e}", i + 1),
            )
        })?;
    }
    Ok(Identity {
        key,
        chain,
        roots: Arc::new(roots),
    })
}

/// What a config error about a key that does not match the certificate says.
fn mismatch(e: rustls::Error, files: &SslFiles) -> SslError {
    match e {
        rustls::Error::InconsistentKeys(_) => error(
            SslFile::Certificate,
            files,
            format!(
                "its public key does not match the private key {}",
                files.private_key.display()
            ),
        ),
        e => error(SslFile::Certificate, files, e.to_string()),
    }
}

/// The configuration of a `pssl:` listener: the switch's identity, and client certificates
/// required and verified against the CA.
pub fn server_config(files: &SslFiles) -> Result<Arc<ServerConfig>, SslError> {
    let p = provider();
    let id = load(files, &p)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(id.roots.clone(), p.clone())
        .build()
        .map_err(|e| error(SslFile::CaCert, files, e.to_string()))?;
    let cfg = ServerConfig::builder_with_provider(p)
        .with_safe_default_protocol_versions()
        .map_err(|e| error(SslFile::PrivateKey, files, e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(id.chain, id.key)
        .map_err(|e| mismatch(e, files))?;
    Ok(Arc::new(cfg))
}

/// The configuration of an `ssl:` controller connection: the switch's identity as its client
/// certificate, and the controller's certificate verified against the CA (names unchecked,
/// see the module docs).
pub fn client_config(files: &SslFiles) -> Result<Arc<ClientConfig>, SslError> {
    let p = provider();
    let id = load(files, &p)?;
    let verifier = Arc::new(CaVerifier {
        roots: id.roots,
        algorithms: p.signature_verification_algorithms,
    });
    let cfg = ClientConfig::builder_with_provider(p)
        .with_safe_default_protocol_versions()
        .map_err(|e| error(SslFile::PrivateKey, files, e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(id.chain, id.key)
        .map_err(|e| mismatch(e, files))?;
    Ok(Arc::new(cfg))
}

/// Check that `files` make a usable identity and trust root (for front ends: every check the
/// server makes when it starts a TLS listener or connection).
pub fn check(files: &SslFiles) -> Result<(), SslError> {
    server_config(files)?;
    client_config(files)?;
    Ok(())
}

/// Verifies a controller's certificate chain against the CA, without checking its names.
#[derive(Debug)]
struct CaVerifier {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for CaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The server side of an accepted `pssl:` connection, after its handshake.
pub(super) fn accept(
    tcp: TcpStream,
    cfg: Arc<ServerConfig>,
    stop: &Flags,
) -> io::Result<TlsStream> {
    let conn = ServerConnection::new(cfg).map_err(io::Error::other)?;
    handshake(Connection::Server(conn), tcp, stop)
}

/// The client side of a connection to controller `addr`, after its handshake.
pub(super) fn connect(
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

#[cfg(test)]
mod tests {
    use super::super::test_pki::Pki;
    use super::*;
    use std::net::TcpListener;
    use std::sync::atomic::AtomicBool;

    fn files(pki: &Pki, key: &str, cert: &str, ca: &str) -> SslFiles {
        SslFiles {
            private_key: pki.path(key),
            certificate: pki.path(cert),
            ca_cert: pki.path(ca),
        }
    }

    fn switch_files(pki: &Pki) -> SslFiles {
        files(pki, "switch.key", "switch.crt", "ca.crt")
    }

    fn running() -> Flags {
        Flags::new(&Arc::new(AtomicBool::new(false)), &Arc::default())
    }

    #[test]
    fn bad_files_name_the_file_at_fault() {
        let Some(pki) = Pki::new("tls-files") else {
            return;
        };
        assert_eq!(check(&switch_files(&pki)), Ok(()));
        std::fs::write(pki.path("garbage.pem"), "not PEM at all\n").unwrap();
        std::fs::write(pki.path("cut.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n").unwrap();
        std::fs::write(pki.path("empty.pem"), "").unwrap();
        let cases = [
            (
                files(&pki, "missing.key", "switch.crt", "ca.crt"),
                SslFile::PrivateKey,
                "cannot read",
            ),
            (
                files(&pki, "garbage.pem", "switch.crt", "ca.crt"),
                SslFile::PrivateKey,
                "no private key",
            ),
            // A certificate where the key should be.
            (
                files(&pki, "switch.crt", "switch.crt", "ca.crt"),
                SslFile::PrivateKey,
                "no private key",
            ),
            (
                files(&pki, "switch.key", "switch.key", "ca.crt"),
                SslFile::Certificate,
                "no certificate",
            ),
            (
                files(&pki, "switch.key", "cut.pem", "ca.crt"),
                SslFile::Certificate,
                "bad PEM",
            ),
            (
                files(&pki, "switch.key", "client.crt", "ca.crt"),
                SslFile::Certificate,
                "does not match the private key",
            ),
            (
                files(&pki, "switch.key", "switch.crt", "empty.pem"),
                SslFile::CaCert,
                "no certificate",
            ),
            (
                files(
                    &pki,
                    "switch.key",
                    "switch.crt",
                    "dir-that-is-not-there/ca.crt",
                ),
                SslFile::CaCert,
                "cannot read",
            ),
        ];
        for (f, which, want) in cases {
            let e = check(&f).expect_err(want);
            assert_eq!(e.file, which, "{e}");
            assert!(e.message.contains(want), "{want}: {e}");
            assert!(e
                .to_string()
                .starts_with(&which.path(&f).display().to_string()));
        }
    }

    /// A TLS server on loopback with the switch's files; `serve` runs on the accepted
    /// stream (after the handshake) in a thread of its own.
    fn server(
        pki: &Pki,
        serve: impl FnOnce(io::Result<TlsStream>) + Send + 'static,
    ) -> (SocketAddr, std::thread::JoinHandle<()>) {
        let cfg = server_config(&switch_files(pki)).unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (tcp, _) = l.accept().unwrap();
            serve(accept(tcp, cfg, &running()));
        });
        (addr, h)
    }

    fn client(pki: &Pki, addr: SocketAddr, key: &str, cert: &str) -> io::Result<TlsStream> {
        let cfg = client_config(&files(pki, key, cert, "ca.crt")).unwrap();
        let tcp = TcpStream::connect(addr)?;
        connect(tcp, addr, cfg, &running())
    }

    #[test]
    fn a_shared_stream_reads_and_writes_from_two_threads() {
        let Some(pki) = Pki::new("tls-stream") else {
            return;
        };
        // The server echoes lines back, with its reader and writer on different handles, as
        // a connection's reader and outbox thread are.
        let (addr, h) = server(&pki, |s| {
            let mut reader = s.expect("handshake");
            let mut writer = reader.try_clone();
            let mut buf = [0u8; 1024];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => writer.write_all(&buf[..n]).unwrap(),
                }
            }
            writer.shutdown();
        });
        let mut c = client(&pki, addr, "client.key", "client.crt").expect("handshake");
        // A read timeout: nothing arrives, so the read gives up after it, and the stream is
        // still usable afterwards.
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let t0 = Instant::now();
        let e = c.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(
            t0.elapsed() >= Duration::from_millis(190),
            "{:?}",
            t0.elapsed()
        );
        assert!(t0.elapsed() < Duration::from_secs(2));
        // A reader blocked without a timeout does not hold up a writer on another handle.
        c.set_read_timeout(None).unwrap();
        let mut reader = c.try_clone();
        let got = std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            while all.len() < 100_000 {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => all.extend_from_slice(&buf[..n]),
                }
            }
            all
        });
        std::thread::sleep(Duration::from_millis(100));
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let t0 = Instant::now();
        for chunk in data.chunks(10_000) {
            c.write_all(chunk).unwrap();
        }
        let got = got.join().unwrap();
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        assert_eq!(got, data);
        // Shutting down ends the peer's reads; ours then sees the end.
        c.shutdown();
        h.join().unwrap();
    }

    #[test]
    fn peers_without_a_certificate_from_the_ca_are_refused() {
        let Some(pki) = Pki::new("tls-refuse") else {
            return;
        };
        // A client certificate from another CA: the server's handshake fails. (With TLS 1.3
        // the client learns it from the alert on its first read.)
        let (addr, h) = server(&pki, |s| {
            let e = s.err().expect("refused");
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        });
        if let Ok(mut c) = client(&pki, addr, "rogue.key", "rogue.crt") {
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            assert!(c.read(&mut [0u8; 8]).is_err());
        }
        h.join().unwrap();
        // A server whose certificate is from another CA: the client refuses it.
        let cfg = server_config(&files(&pki, "rogue.key", "rogue.crt", "ca.crt")).unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (tcp, _) = l.accept().unwrap();
            let _ = accept(tcp, cfg, &running());
        });
        let e = client(&pki, addr, "switch.key", "switch.crt")
            .err()
            .expect("refused");
        assert!(e.to_string().contains("certificate"), "{e}");
        h.join().unwrap();
        // Plain bytes (an OpenFlow HELLO) are not a TLS handshake.
        let (addr, h) = server(&pki, |s| assert!(s.is_err()));
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.write_all(&[4, 0, 0, 8, 0, 0, 0, 1]).unwrap();
        h.join().unwrap();
    }

    #[test]
    fn a_silent_peer_times_the_handshake_out_and_stop_ends_it_early() {
        let Some(pki) = Pki::new("tls-slow") else {
            return;
        };
        let cfg = server_config(&switch_files(&pki)).unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let _silent = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (tcp, _) = l.accept().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flags = Flags::new(&stop, &Arc::default());
        let stopper = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                stop.store(true, Ordering::Relaxed);
            })
        };
        let t0 = Instant::now();
        let e = accept(tcp, cfg, &flags).err().expect("no handshake");
        assert_eq!(e.kind(), io::ErrorKind::Interrupted, "{e}");
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        stopper.join().unwrap();
    }
}
