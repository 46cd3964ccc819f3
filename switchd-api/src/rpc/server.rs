//! The RPC server: socket lifecycle, accept thread, one thread per connection.
//!
//! Binding is careful about the socket file because a leftover file from a crashed switch is
//! normal but a live one belongs to someone else: an existing path is probed by connecting to
//! it, removed only if nothing answers (and only if it is a socket), and refused otherwise. The
//! file is chmod 0600 right after bind, and on shutdown it is removed only if it is still the
//! inode we created, so a switch that lost its socket to a successor never deletes the
//! successor's.
//!
//! Shutdown stops the accept loop (woken by `shutdown(2)` on the listening socket, which makes a
//! blocking `accept` fail on Linux; connecting to our own path would not do, since the path may
//! by then belong to a successor), then shuts down the
//! *read* half of every open connection: a connection thread finishes writing the response it is
//! working on (so `switch/shutdown` still gets its answer) and then sees end-of-file and exits.

use super::{respond, RpcError, RpcHandler, INVALID_REQUEST, MAX_REQUEST};
use serde_json::json;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a response write may block on a client that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long shutdown waits for connection threads to finish their current request.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum RpcServerError {
    /// Another process is accepting connections on the socket.
    #[error("{}: another dvs-switchd is already listening on this socket", path.display())]
    AlreadyRunning {
        /// The socket path.
        path: PathBuf,
    },
    /// The path exists and is not a socket; we do not delete arbitrary files.
    #[error("{}: exists and is not a socket", path.display())]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// Probing or removing an existing socket file failed.
    #[error("{}: cannot remove stale socket: {source}", path.display())]
    RemoveStale {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The socket's directory could not be created.
    #[error("{}: cannot create directory: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// bind(2) or chmod failed.
    #[error("{}: cannot bind: {source}", path.display())]
    Bind {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The accept thread could not be spawned.
    #[error("cannot spawn the RPC accept thread: {0}")]
    Spawn(io::Error),
}

/// State shared by the accept thread, the connection threads and `shutdown`.
struct Shared {
    stopping: AtomicBool,
    next_conn: AtomicU64,
    /// Open connections (a clone of each stream, to shut them down).
    conns: Mutex<HashMap<u64, UnixStream>>,
    /// Signalled whenever a connection thread exits.
    drained: Condvar,
}

/// A running JSON-RPC server on a unix socket.
pub struct RpcServer {
    path: PathBuf,
    /// (device, inode) of the socket file we bound.
    ident: (u64, u64),
    shared: Arc<Shared>,
    /// A second handle on the listening socket, to wake the accept thread on shutdown.
    listener: UnixListener,
    accept: Option<JoinHandle<()>>,
}

impl RpcServer {
    /// Bind `path` (mode 0600) and start serving `handler`.
    pub fn bind(path: &Path, handler: Arc<dyn RpcHandler>) -> Result<RpcServer, RpcServerError> {
        Self::bind_shared(path, handler, None)
    }

    /// [`RpcServer::bind`], with the socket open to group `gid` too (mode 0660) when given.
    pub fn bind_shared(
        path: &Path,
        handler: Arc<dyn RpcHandler>,
        gid: Option<u32>,
    ) -> Result<RpcServer, RpcServerError> {
        clear_stale(path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(|source| RpcServerError::CreateDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
        }
        let bind_err = |source| RpcServerError::Bind {
            path: path.to_path_buf(),
            source,
        };
        let listener = crate::sockfile::bind_private(path, gid).map_err(bind_err)?;
        let meta = std::fs::metadata(path);
        let meta = match meta {
            Ok(m) => m,
            Err(e) => {
                let _ = std::fs::remove_file(path);
                return Err(bind_err(e));
            }
        };
        let shared = Arc::new(Shared {
            stopping: AtomicBool::new(false),
            next_conn: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
            drained: Condvar::new(),
        });
        let waker = match listener.try_clone() {
            Ok(w) => w,
            Err(e) => {
                let _ = std::fs::remove_file(path);
                return Err(bind_err(e));
            }
        };
        let sh = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("rpc-accept".into())
            .spawn(move || accept_loop(listener, handler, sh))
            .map_err(|e| {
                let _ = std::fs::remove_file(path);
                RpcServerError::Spawn(e)
            })?;
        Ok(RpcServer {
            path: path.to_path_buf(),
            ident: (meta.dev(), meta.ino()),
            shared,
            listener: waker,
            accept: Some(accept),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stop accepting, close open connections (after their current request) and remove the
    /// socket file.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::SeqCst);
        // SAFETY: the fd belongs to `self.listener`, which is open for the whole call; shutdown(2)
        // only changes socket state and touches no memory of ours.
        let rc = unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        if rc == 0 {
            let _ = accept.join();
        }
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if (m.dev(), m.ino()) == self.ident {
                let _ = std::fs::remove_file(&self.path);
            }
        }
        let conns = self
            .shared
            .conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for s in conns.values() {
            let _ = s.shutdown(std::net::Shutdown::Read);
        }
        let _ = self
            .shared
            .drained
            .wait_timeout_while(conns, DRAIN_TIMEOUT, |c| !c.is_empty());
    }
}

impl Drop for RpcServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Make `path` free: fine if absent, removed if a dead socket, an error if live or not a socket.
fn clear_stale(path: &Path) -> Result<(), RpcServerError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(RpcServerError::RemoveStale {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(RpcServerError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    if UnixStream::connect(path).is_ok() {
        return Err(RpcServerError::AlreadyRunning {
            path: path.to_path_buf(),
        });
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(RpcServerError::RemoveStale {
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn accept_loop(listener: UnixListener, handler: Arc<dyn RpcHandler>, shared: Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                eprintln!("dvs-switchd: rpc accept: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let Ok(registered) = stream.try_clone() else {
            continue;
        };
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        shared
            .conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, registered);
        let (h, sh) = (Arc::clone(&handler), Arc::clone(&shared));
        let spawned = std::thread::Builder::new()
            .name(format!("rpc-conn-{id}"))
            .spawn(move || {
                serve(stream, &*h);
                let mut conns = sh.conns.lock().unwrap_or_else(PoisonError::into_inner);
                conns.remove(&id);
                sh.drained.notify_all();
            });
        if spawned.is_err() {
            // The stream (moved into the failed closure) is already dropped; forget our clone.
            shared
                .conns
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
        }
    }
}

/// What [`read_line`] found.
enum Line {
    /// A complete line (without the newline) is in the buffer.
    Complete,
    /// The peer closed the connection.
    Eof,
    /// The line exceeded [`MAX_REQUEST`].
    TooLong,
}

/// Read one line into `buf` (cleared first), refusing to buffer more than [`MAX_REQUEST`] bytes.
fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Line> {
    buf.clear();
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            return Ok(if buf.is_empty() {
                Line::Eof
            } else {
                Line::Complete
            });
        }
        let (chunk, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..i], Some(i + 1)),
            None => (avail, None),
        };
        if buf.len() + chunk.len() > MAX_REQUEST {
            return Ok(Line::TooLong);
        }
        buf.extend_from_slice(chunk);
        let used = done.unwrap_or(chunk.len());
        r.consume(used);
        if done.is_some() {
            return Ok(Line::Complete);
        }
    }
}

/// Serve one connection until EOF, an I/O error or an oversized request.
fn serve(stream: UnixStream, handler: &dyn RpcHandler) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    let mut buf = Vec::new();
    loop {
        match read_line(&mut reader, &mut buf) {
            Ok(Line::Complete) => {}
            Ok(Line::TooLong) => {
                let e = RpcError::new(
                    INVALID_REQUEST,
                    format!("request longer than {MAX_REQUEST} bytes"),
                );
                let _ = send(
                    &mut writer,
                    &json!({ "jsonrpc": "2.0", "id": null, "error": e }),
                );
                return;
            }
            Ok(Line::Eof) | Err(_) => return,
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Some(resp) = respond(handler, &buf) {
            if send(&mut writer, &resp).is_err() {
                return;
            }
        }
    }
}

fn send(w: &mut UnixStream, v: &serde_json::Value) -> io::Result<()> {
    let mut line = serde_json::to_vec(v).map_err(io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_line_limits_and_splits() {
        let mut data: &[u8] = b"abc\n\nlast";
        let mut r = BufReader::with_capacity(2, &mut data);
        let mut buf = Vec::new();
        assert!(matches!(
            read_line(&mut r, &mut buf).unwrap(),
            Line::Complete
        ));
        assert_eq!(buf, b"abc");
        assert!(matches!(
            read_line(&mut r, &mut buf).unwrap(),
            Line::Complete
        ));
        assert_eq!(buf, b"");
        assert!(matches!(
            read_line(&mut r, &mut buf).unwrap(),
            Line::Complete
        ));
        assert_eq!(buf, b"last");
        assert!(matches!(read_line(&mut r, &mut buf).unwrap(), Line::Eof));

        let big = vec![b'x'; MAX_REQUEST + 1];
        let mut r = BufReader::new(&big[..]);
        assert!(matches!(
            read_line(&mut r, &mut buf).unwrap(),
            Line::TooLong
        ));
        let mut exact = vec![b'x'; MAX_REQUEST];
        exact.push(b'\n');
        let mut r = BufReader::new(&exact[..]);
        assert!(matches!(
            read_line(&mut r, &mut buf).unwrap(),
            Line::Complete
        ));
        assert_eq!(buf.len(), MAX_REQUEST);
    }
}
