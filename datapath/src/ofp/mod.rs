//! OpenFlow 1.3 management for dvs-switchd: per bridge, a unix socket at
//! `<rundir>/<bridge>.mgmt` (the OVS convention, so `ovs-ofctl -O OpenFlow13 dump-flows
//! unix:<rundir>/br0.mgmt` works), any `ptcp:` listeners from the configuration, and active
//! connections to the configured `controllers` (kept up by `active`, with the fail mode kept by
//! the [`Hub`]).
//!
//! This is control plane, so the design favours obviousness over throughput: one accept thread
//! per listener and one thread per connection, each reading whole messages with blocking I/O and
//! answering them in order. Every request is applied synchronously before the next one is read,
//! which is what makes BARRIER trivial: when the barrier is read, everything before it has been
//! published, and a publish bumps the bridge's cache epoch, so the next packet already sees it.
//!
//! State that spans connections (roles and the master generation id, port config bits set with
//! PORT_MOD, the list of connections that receive asynchronous messages) lives in a per-bridge
//! [`Hub`], which the switch also holds so that flow expiry and control-socket deletes can send
//! FLOW_REMOVED. The message handling itself is split into `conn` (framing, handshake, dispatch),
//! `flows` (FLOW_MOD and the flow statistics) and `stats` (the other replies).
//!
//! Accepted and switch-initiated connections run the same handler; the switch sends HELLO first
//! on both. Every thread started here (accept loops, packet-in delivery, controller connectors,
//! the fail-mode clock) looks at the shared stop flag at least every 100 ms, so
//! [`OfpServer::shutdown`] joins them all promptly, even during a controller's connect attempt
//! (connection threads end when the hub closes their sockets).

mod active;
mod conn;
mod flows;
mod groups;
mod hub;
mod meters;
mod packet_io;
mod stats;

pub use active::ControllerTiming;
pub use hub::{ControllerState, ControllerStatus, FailStatus, Hub, OFPPR_ADD, OFPPR_DELETE};
pub use packet_io::{PacketIoCounts, PacketIoStats};

use crate::config::OfpListen;
use crate::switch::Switch;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use thiserror::Error;

/// How often an accept loop checks for shutdown.
const ACCEPT_POLL: Duration = Duration::from_millis(50);
/// How long a write may block on a peer that does not read (then the connection is dropped).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the OpenFlow listeners could not start.
#[derive(Debug, Error)]
pub enum OfpError {
    /// A management socket path is held by a live process.
    #[error("{}: another process is listening on this socket", .0.display())]
    SocketInUse(PathBuf),
    /// Binding a listener failed.
    #[error("cannot listen on {target}: {source}")]
    Bind {
        /// The target (socket path or ptcp target).
        target: String,
        /// Why.
        source: io::Error,
    },
    /// An accept thread could not be started.
    #[error("cannot start OpenFlow thread: {0}")]
    Thread(io::Error),
}

/// An OpenFlow duration (seconds, nanoseconds) from `since_ns` to `now_ns` (monotonic ns), as
/// flow, port, group and meter statistics report it.
pub(crate) fn duration(since_ns: u64, now_ns: u64) -> (u32, u32) {
    const NS_PER_SEC: u64 = 1_000_000_000;
    let d = now_ns.saturating_sub(since_ns);
    (
        u32::try_from(d / NS_PER_SEC).unwrap_or(u32::MAX),
        (d % NS_PER_SEC) as u32,
    )
}

/// The management socket path of bridge `bridge` in `rundir`.
pub fn mgmt_path(rundir: &Path, bridge: &str) -> PathBuf {
    rundir.join(format!("{bridge}.mgmt"))
}

/// A connected OpenFlow stream, unix or TCP.
pub(crate) enum Sock {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Sock {
    fn try_clone(&self) -> io::Result<Sock> {
        Ok(match self {
            Sock::Unix(s) => Sock::Unix(s.try_clone()?),
            Sock::Tcp(s) => Sock::Tcp(s.try_clone()?),
        })
    }

    fn shutdown(&self) {
        let _ = match self {
            Sock::Unix(s) => s.shutdown(Shutdown::Both),
            Sock::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }

    /// Read timeout (`None` blocks forever).
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Sock::Unix(s) => s.set_read_timeout(t),
            Sock::Tcp(s) => s.set_read_timeout(t),
        }
    }

    fn prepare(&self) -> io::Result<()> {
        match self {
            Sock::Unix(s) => {
                s.set_nonblocking(false)?;
                s.set_write_timeout(Some(WRITE_TIMEOUT))
            }
            Sock::Tcp(s) => {
                s.set_nonblocking(false)?;
                s.set_nodelay(true)?;
                s.set_write_timeout(Some(WRITE_TIMEOUT))
            }
        }
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Unix(s) => s.read(buf),
            Sock::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Unix(s) => s.write(buf),
            Sock::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Listener {
    fn accept(&self) -> io::Result<Sock> {
        Ok(match self {
            Listener::Unix(l) => Sock::Unix(l.accept()?.0),
            Listener::Tcp(l) => Sock::Tcp(l.accept()?.0),
        })
    }
}

/// The running OpenFlow listeners of every bridge.
pub struct OfpServer {
    stop: Arc<AtomicBool>,
    accept_threads: Vec<JoinHandle<()>>,
    /// Controller connectors: joined after the hubs closed their connections.
    active_threads: Vec<JoinHandle<()>>,
    conn_threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    hubs: Arc<Vec<Arc<Hub>>>,
    sockets: Vec<PathBuf>,
    tcp: Vec<(String, SocketAddr)>,
}

/// Remove a leftover socket file, unless something still accepts on it.
fn clear_stale(path: &Path) -> Result<(), OfpError> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if UnixStream::connect(path).is_ok() {
        return Err(OfpError::SocketInUse(path.to_path_buf()));
    }
    if meta.file_type().is_socket() {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

impl OfpServer {
    /// Bind every bridge's management socket (in the switch's run directory) and configured
    /// `ptcp:` listeners, start accepting, and start connecting to the configured controllers
    /// (with the default [`ControllerTiming`]).
    pub fn start(sw: &Arc<Switch>) -> Result<OfpServer, OfpError> {
        Self::start_with(sw, ControllerTiming::default())
    }

    /// [`OfpServer::start`] with other controller timings (tests use short ones).
    pub fn start_with(sw: &Arc<Switch>, timing: ControllerTiming) -> Result<OfpServer, OfpError> {
        let mut server = OfpServer {
            stop: Arc::new(AtomicBool::new(false)),
            accept_threads: Vec::new(),
            active_threads: Vec::new(),
            conn_threads: Arc::new(Mutex::new(Vec::new())),
            hubs: sw.ofp.clone(),
            sockets: Vec::new(),
            tcp: Vec::new(),
        };
        let rundir = &sw.config.switch.rundir;
        for (b, hub) in sw.config.bridges.iter().zip(sw.ofp.iter()) {
            let path = mgmt_path(rundir, &b.name);
            let bind_err = |source| OfpError::Bind {
                target: path.display().to_string(),
                source,
            };
            std::fs::create_dir_all(rundir).map_err(bind_err)?;
            clear_stale(&path)?;
            let l = UnixListener::bind(&path).map_err(bind_err)?;
            server.sockets.push(path.clone());
            server.spawn_accept(Listener::Unix(l), hub.clone())?;
            let pin = packet_io::spawn_packet_in(hub.clone(), server.stop.clone())
                .map_err(OfpError::Thread)?;
            server.accept_threads.push(pin);
            for target in &b.ofp_listen {
                let OfpListen::Ptcp(addr) = target;
                let l = TcpListener::bind(addr).map_err(|source| OfpError::Bind {
                    target: target.to_string(),
                    source,
                })?;
                let local = l.local_addr().unwrap_or(*addr);
                server.tcp.push((b.name.clone(), local));
                server.spawn_accept(Listener::Tcp(l), hub.clone())?;
            }
        }
        let now = std::time::Instant::now();
        for hub in sw.ofp.iter() {
            hub.arm_fail_clock(now);
            for (index, target) in hub.controller_targets().into_iter().enumerate() {
                let h = active::spawn_controller(
                    hub.clone(),
                    index,
                    target,
                    server.stop.clone(),
                    timing,
                )
                .map_err(OfpError::Thread)?;
                server.active_threads.push(h);
            }
        }
        if let Some(h) = active::spawn_fail_clock(&sw.ofp, server.stop.clone(), timing)
            .map_err(OfpError::Thread)?
        {
            server.accept_threads.push(h);
        }
        Ok(server)
    }

    fn spawn_accept(&mut self, l: Listener, hub: Arc<Hub>) -> Result<(), OfpError> {
        let nb = match &l {
            Listener::Unix(u) => u.set_nonblocking(true),
            Listener::Tcp(t) => t.set_nonblocking(true),
        };
        nb.map_err(OfpError::Thread)?;
        let (stop, conns) = (self.stop.clone(), self.conn_threads.clone());
        let h = std::thread::Builder::new()
            .name(format!("ofp-{}", hub.bridge.name))
            .spawn(move || accept_loop(l, hub, stop, conns))
            .map_err(OfpError::Thread)?;
        self.accept_threads.push(h);
        Ok(())
    }

    /// Bound TCP listeners as (bridge, address) (useful with port 0).
    pub fn tcp_addrs(&self) -> &[(String, SocketAddr)] {
        &self.tcp
    }

    /// Stop accepting, close every connection and remove the socket files.
    pub fn shutdown(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.accept_threads.drain(..) {
            let _ = h.join();
        }
        for hub in self.hubs.iter() {
            hub.close_all();
        }
        for h in self.active_threads.drain(..) {
            let _ = h.join();
        }
        let conns: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.conn_threads.lock().unwrap_or_else(|e| e.into_inner()));
        for h in conns {
            let _ = h.join();
        }
        for p in self.sockets.drain(..) {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for OfpServer {
    fn drop(&mut self) {
        self.stop_all();
    }
}

fn accept_loop(
    l: Listener,
    hub: Arc<Hub>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
) {
    while !stop.load(Ordering::Relaxed) {
        let sock = match l.accept() {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
            Err(e) => {
                eprintln!("dvs-switchd: ofp accept on {}: {e}", hub.bridge.name);
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
        };
        if sock.prepare().is_err() {
            continue;
        }
        let hub = hub.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("ofp-conn-{}", hub.bridge.name))
            .spawn(move || {
                let _ = conn::serve(hub, sock, conn::Origin::Passive);
            });
        let mut list = conns.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|h| !h.is_finished());
        match spawned {
            Ok(h) => list.push(h),
            Err(e) => eprintln!("dvs-switchd: ofp connection thread: {e}"),
        }
    }
}
