//! Optional TLS for the agent listener: the server identity loaded from PEM files, and a
//! connection that a session's reader thread and writer thread share.
//!
//! The agent authenticates with its token, so the server asks for no client certificate; TLS
//! only keeps the token and the desired state private on the wire. As in switchd's OpenFlow
//! TLS, rustls keeps one state for both directions, so the state sits behind a mutex that is
//! never held across socket I/O: the reader waits for bytes on the TCP socket holding no lock
//! and locks only to decrypt; the writer locks only to encrypt, then writes the records under
//! a second lock that keeps them whole and in order.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Longest a handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Build the server configuration from a PEM certificate chain and a PEM private key; the
/// error names the file at fault.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key: {e}"))?;
    Ok(Arc::new(cfg))
}

/// The *ring* provider, explicitly (as switchd does): rustls 0.23.48 deprecated it for lack of
/// post-quantum key exchange, but its alternative (aws-lc-rs) needs cmake and a longer build.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server TLS connection after its handshake, shared by a reader and a writer.
pub struct TlsConn {
    state: Mutex<ServerConnection>,
    send: Mutex<()>,
    tcp: TcpStream,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TlsConn {
    /// Run the server handshake on `tcp` (blocking, bounded by [`HANDSHAKE_TIMEOUT`]).
    pub fn accept(mut tcp: TcpStream, cfg: Arc<ServerConfig>) -> io::Result<TlsConn> {
        let mut conn = ServerConnection::new(cfg).map_err(io::Error::other)?;
        let old = tcp.read_timeout()?;
        tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
        tcp.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)?;
        }
        tcp.set_read_timeout(old)?;
        Ok(TlsConn {
            state: Mutex::new(conn),
            send: Mutex::new(()),
            tcp,
        })
    }

    /// The TCP socket under it.
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    fn flush_records(&self, conn: &mut ServerConnection) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut out)?;
        }
        Ok(out)
    }

    fn send_raw(&self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let _g = lock(&self.send);
        (&self.tcp).write_all(bytes)
    }

    /// Encrypt and send `data`.
    pub fn write_all(&self, data: &[u8]) -> io::Result<()> {
        let records = {
            let mut c = lock(&self.state);
            c.writer().write_all(data)?;
            self.flush_records(&mut c)?
        };
        self.send_raw(&records)
    }

    /// Read plaintext; the socket's read timeout applies (`WouldBlock`/`TimedOut`).
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut raw = [0u8; 16 << 10];
        loop {
            {
                let mut c = lock(&self.state);
                match c.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            let n = (&self.tcp).read(&mut raw)?;
            if n == 0 {
                return Ok(0);
            }
            let out = {
                let mut c = lock(&self.state);
                let mut rd = &raw[..n];
                while !rd.is_empty() {
                    c.read_tls(&mut rd)?;
                    c.process_new_packets().map_err(io::Error::other)?;
                }
                self.flush_records(&mut c)?
            };
            self.send_raw(&out)?;
        }
    }
}
