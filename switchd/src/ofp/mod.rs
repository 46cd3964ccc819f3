//! OpenFlow 1.3 management for dvs-switchd: per bridge, a unix socket at
//! `<rundir>/<bridge>.mgmt` (the OVS convention, so `ovs-ofctl -O OpenFlow13 dump-flows
//! unix:<rundir>/br0.mgmt` works), any `ptcp:` and `pssl:` (TLS, see `tls`) listeners from the
//! configuration, and active connections to the configured `controllers` (kept up by `active`,
//! with the fail mode kept by the [`Hub`]).
//!
//! This is control plane, so the design favours obviousness over throughput: one accept thread
//! per listener and one thread per connection, each reading whole messages with blocking I/O and
//! answering them in order. Every request is applied synchronously before the next one is read,
//! which is what makes BARRIER trivial: when the barrier is read, everything before it has been
//! published, and a publish bumps the bridge's cache epoch, so the next packet already sees it.
//!
//! State that spans connections (roles and the master generation id, port config bits set with
//! PORT_MOD, the list of connections that receive asynchronous messages) lives in a per-bridge
//! [`Hub`]. The hub is also the bridge's `BridgeEvents` receiver in the engine, so that flow
//! expiry, control-socket deletes, and ports coming, going or changing link send FLOW_REMOVED and
//! PORT_STATUS. The message handling itself is split into `conn` (framing, handshake, dispatch),
//! `flows` (FLOW_MOD and the flow statistics) and `stats` (the other replies).
//!
//! Accepted and switch-initiated connections run the same handler; the switch sends HELLO first
//! on both. Every thread started here (accept loops, packet-in delivery, controller connectors,
//! the fail-mode clock) looks at the shared stop flag at least every 100 ms, so
//! [`OfpServer::shutdown`] joins them all promptly, even during a controller's connect attempt
//! (connection threads end when the hub closes their sockets; one still in its TLS handshake,
//! which runs in the connection's own thread, looks at the flags every 100 ms too).

mod active;
mod bundle;
mod coalesce;
mod conn;
mod flows;
mod groups;
mod hub;
mod limits;
mod meters;
mod outbox;
mod packet_io;
mod stats;
#[cfg(test)]
#[path = "../../tests/of_tls/pki.rs"]
pub(crate) mod test_pki;
mod tls;

pub use active::ControllerTiming;
pub use hub::{ControllerState, ControllerStatus, FailStatus, Hub, OFPPR_ADD, OFPPR_DELETE};
pub use packet_io::{PacketIoCounts, PacketIoStats};
pub use tls::{check as check_ssl, SslError, SslFile, HANDSHAKE_TIMEOUT};

use datapath::bridge::Bridge;
use datapath::config::{BridgeConfig, OfpListen};
use datapath::switch::{BridgeEvents, BridgeRuntime, PreparedBridge, Switch};
pub use limits::raise_nofile;
use limits::{RateLog, Reserve, MAX_CONNECTIONS};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use thiserror::Error;

/// How often an accept loop checks for shutdown while no connection arrives.
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
        /// The target (socket path, or ptcp/pssl target).
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

/// Serve one OpenFlow connection over `stream` for `hub`, in the calling thread, exactly as a
/// connection accepted on the management socket is served (the switch sends HELLO, then
/// answers requests in order; the connection's writer thread is joined before this returns).
/// Returns when the peer shuts its side down, the stream fails or the hub closes. The seam the
/// `ofp_conn` fuzz target drives the connection state machine through, without a listener.
pub fn serve_stream(hub: Arc<Hub>, stream: UnixStream) -> io::Result<()> {
    let sock = Sock::Unix(stream);
    sock.prepare()?;
    conn::serve(hub, sock, conn::Origin::Passive)
}

/// The management socket path of bridge `bridge` in `rundir`.
pub fn mgmt_path(rundir: &Path, bridge: &str) -> PathBuf {
    rundir.join(format!("{bridge}.mgmt"))
}

/// A connected OpenFlow stream: unix, TCP, or TLS over TCP (after its handshake). The
/// connection's reader and its outbox writer each hold one (see [`Sock::try_clone`]).
pub(crate) enum Sock {
    Unix(UnixStream),
    Tcp(TcpStream),
    /// Either side of a TLS session; its handles share the session (see `tls`).
    Tls(tls::TlsStream),
}

/// Blocking mode, no Nagle delay, and the write timeout, on a TCP stream.
fn prepare_tcp(s: &TcpStream) -> io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_nodelay(true)?;
    s.set_write_timeout(Some(WRITE_TIMEOUT))
}

impl Sock {
    /// Another handle on the same stream (a TLS one shares its session, as a rustls session
    /// cannot be duplicated).
    fn try_clone(&self) -> io::Result<Sock> {
        Ok(match self {
            Sock::Unix(s) => Sock::Unix(s.try_clone()?),
            Sock::Tcp(s) => Sock::Tcp(s.try_clone()?),
            Sock::Tls(s) => Sock::Tls(s.try_clone()),
        })
    }

    fn shutdown(&self) {
        let _ = match self {
            Sock::Unix(s) => s.shutdown(Shutdown::Both),
            Sock::Tcp(s) => s.shutdown(Shutdown::Both),
            Sock::Tls(s) => {
                s.shutdown();
                Ok(())
            }
        };
    }

    /// Read timeout (`None` blocks forever): a read that got nothing for that long fails with
    /// `WouldBlock`.
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Sock::Unix(s) => s.set_read_timeout(t),
            Sock::Tcp(s) => s.set_read_timeout(t),
            Sock::Tls(s) => s.set_read_timeout(t),
        }
    }

    fn prepare(&self) -> io::Result<()> {
        match self {
            Sock::Unix(s) => {
                s.set_nonblocking(false)?;
                s.set_write_timeout(Some(WRITE_TIMEOUT))
            }
            Sock::Tcp(s) => prepare_tcp(s),
            Sock::Tls(s) => prepare_tcp(s.tcp()),
        }
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Unix(s) => s.read(buf),
            Sock::Tcp(s) => s.read(buf),
            Sock::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Unix(s) => s.write(buf),
            Sock::Tcp(s) => s.write(buf),
            Sock::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
    /// `pssl:`: TCP, with the TLS configuration of the connections it accepts.
    Tls(TcpListener, Arc<rustls::ServerConfig>),
}

/// An accepted connection, before its TLS handshake if it has one.
enum Accepted {
    Ready(Sock),
    Tls(TcpStream, Arc<rustls::ServerConfig>),
}

impl Listener {
    fn accept(&self) -> io::Result<Accepted> {
        Ok(match self {
            Listener::Unix(l) => Accepted::Ready(Sock::Unix(l.accept()?.0)),
            Listener::Tcp(l) => Accepted::Ready(Sock::Tcp(l.accept()?.0)),
            Listener::Tls(l, cfg) => Accepted::Tls(l.accept()?.0, cfg.clone()),
        })
    }

    fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Listener::Unix(u) => u.set_nonblocking(true),
            Listener::Tcp(t) | Listener::Tls(t, _) => t.set_nonblocking(true),
        }
    }

    /// Wait up to `limit` for a connection to accept (true), so that the accept loop takes a
    /// connection the moment it arrives yet still looks at its stop flags regularly.
    fn wait(&self, limit: Duration) -> bool {
        use std::os::fd::AsRawFd;
        let fd = match self {
            Listener::Unix(u) => u.as_raw_fd(),
            Listener::Tcp(t) | Listener::Tls(t, _) => t.as_raw_fd(),
        };
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(limit.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `p` is one valid pollfd for the duration of the call; `fd` is the listener's,
        // open while `self` lives.
        unsafe { libc::poll(&mut p, 1, ms) > 0 }
    }
}

impl Accepted {
    fn prepare(&self) -> io::Result<()> {
        match self {
            Accepted::Ready(s) => s.prepare(),
            Accepted::Tls(s, _) => prepare_tcp(s),
        }
    }

    /// The stream OpenFlow runs on: a TLS connection's once its handshake is done (run by the
    /// connection's own thread, bounded by [`HANDSHAKE_TIMEOUT`] and by `stop`).
    fn establish(self, stop: &Flags) -> io::Result<Sock> {
        match self {
            Accepted::Ready(s) => Ok(s),
            Accepted::Tls(tcp, cfg) => {
                let s = Sock::Tls(tls::accept(tcp, cfg, stop)?);
                s.prepare()?;
                Ok(s)
            }
        }
    }
}

/// The running OpenFlow listeners of every bridge. Bridges come and go while the switch runs
/// (the switch tells the server through [`BridgeRuntime`]); each has its own set of threads and
/// its own stop flag.
pub struct OfpServer {
    inner: Arc<Inner>,
}

struct Inner {
    rundir: PathBuf,
    /// The group the management sockets are shared with (see `crate::access`).
    gid: Option<u32>,
    timing: ControllerTiming,
    /// Set when the whole server stops.
    stop: Arc<AtomicBool>,
    bridges: Arc<Mutex<HashMap<String, Running>>>,
    conn_threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    fail_clock: Mutex<Option<JoinHandle<()>>>,
    tcp: Mutex<Vec<(String, SocketAddr)>>,
    ssl: Mutex<Vec<(String, SocketAddr)>>,
}

/// One bridge's listeners and threads.
struct Running {
    hub: Arc<Hub>,
    stop: Arc<AtomicBool>,
    /// Accept loops and the packet-in thread.
    threads: Vec<JoinHandle<()>>,
    /// Controller connectors: joined after the hub closed their connections.
    active: Vec<JoinHandle<()>>,
    sockets: Vec<PathBuf>,
}

/// A bridge's listeners, bound but not yet serving (see [`BridgeRuntime::prepare`]). Dropped
/// unstarted, it closes them and removes its socket file.
struct Bound {
    server: Arc<Inner>,
    name: String,
    hub: Arc<Hub>,
    listeners: Vec<Listener>,
    sockets: Vec<PathBuf>,
    tcp: Vec<SocketAddr>,
    ssl: Vec<SocketAddr>,
}

impl Drop for Bound {
    fn drop(&mut self) {
        for p in self.sockets.drain(..) {
            let _ = std::fs::remove_file(p);
        }
    }
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
    /// `ptcp:`/`pssl:` listeners, start accepting, and start connecting to the configured
    /// controllers (with the default [`ControllerTiming`]).
    pub fn start(sw: &Arc<Switch>) -> Result<OfpServer, OfpError> {
        Self::start_with(sw, ControllerTiming::default())
    }

    /// [`OfpServer::start`] with other controller timings (tests use short ones). The server
    /// registers itself with the switch, so bridges added or re-configured later get their
    /// listeners too.
    pub fn start_with(sw: &Arc<Switch>, timing: ControllerTiming) -> Result<OfpServer, OfpError> {
        let gid =
            crate::access::socket_gid(sw.config.switch.socket_group.as_deref()).map_err(|e| {
                OfpError::Bind {
                    target: "socket_group".into(),
                    source: io::Error::other(e),
                }
            })?;
        let inner = Arc::new(Inner {
            rundir: sw.config.switch.rundir.clone(),
            gid,
            timing,
            stop: Arc::new(AtomicBool::new(false)),
            bridges: Arc::new(Mutex::new(HashMap::new())),
            conn_threads: Arc::new(Mutex::new(Vec::new())),
            fail_clock: Mutex::new(None),
            tcp: Mutex::new(Vec::new()),
            ssl: Mutex::new(Vec::new()),
        });
        let server = OfpServer { inner };
        let running = sw.running_config().clone();
        for bridge in sw.bridges() {
            let Some(cfg) = running.bridges.iter().find(|b| b.name == bridge.name) else {
                continue;
            };
            let bound = server.inner.bind(&bridge, cfg)?;
            sw.set_events(&bridge.name, bound.hub.clone());
            server.inner.run(bound)?;
        }
        let clock = active::spawn_fail_clock(
            server.inner.bridges.clone(),
            server.inner.stop.clone(),
            timing,
        )
        .map_err(OfpError::Thread)?;
        *lock(&server.inner.fail_clock) = Some(clock);
        sw.set_runtime(Arc::new(Runtime(server.inner.clone())));
        Ok(server)
    }

    /// The OpenFlow state of bridge `name`, while it is served.
    pub fn hub(&self, name: &str) -> Option<Arc<Hub>> {
        lock(&self.inner.bridges).get(name).map(|r| r.hub.clone())
    }

    /// Bound TCP listeners (`ptcp:`) as (bridge, address) (useful with port 0).
    pub fn tcp_addrs(&self) -> Vec<(String, SocketAddr)> {
        lock(&self.inner.tcp).clone()
    }

    /// Bound TLS listeners (`pssl:`) as (bridge, address) (useful with port 0).
    pub fn ssl_addrs(&self) -> Vec<(String, SocketAddr)> {
        lock(&self.inner.ssl).clone()
    }

    /// Stop accepting, close every connection and remove the socket files.
    pub fn shutdown(self) {
        self.inner.stop_all();
    }
}

impl Drop for OfpServer {
    fn drop(&mut self) {
        self.inner.stop_all();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    /// Bind bridge `cfg`'s management socket and `ptcp:`/`pssl:` listeners (reading a TLS
    /// listener's files), and make its hub.
    fn bind(self: &Arc<Self>, bridge: &Arc<Bridge>, cfg: &BridgeConfig) -> Result<Bound, OfpError> {
        let mut bound = Bound {
            server: self.clone(),
            name: cfg.name.clone(),
            hub: Arc::new(Hub::with_controllers(
                bridge.clone(),
                cfg.controllers.clone(),
                cfg.fail_mode,
            )),
            listeners: Vec::new(),
            sockets: Vec::new(),
            tcp: Vec::new(),
            ssl: Vec::new(),
        };
        let path = mgmt_path(&self.rundir, &cfg.name);
        let bind_err = |source| OfpError::Bind {
            target: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&self.rundir).map_err(bind_err)?;
        clear_stale(&path)?;
        let l = switchd_api::sockfile::bind_private(&path, self.gid).map_err(bind_err)?;
        bound.sockets.push(path.clone());
        bound.listeners.push(Listener::Unix(l));
        for target in &cfg.ofp_listen {
            let bind_err = |source| OfpError::Bind {
                target: target.to_string(),
                source,
            };
            // Read the TLS files before taking the port: bad files change nothing.
            let tls = match target {
                OfpListen::Ptcp(_) => None,
                OfpListen::Pssl(_, None) => {
                    return Err(bind_err(io::Error::other(
                        "no TLS private key, certificate and CA certificate are configured",
                    )))
                }
                OfpListen::Pssl(_, Some(files)) => {
                    Some(tls::server_config(files).map_err(|e| bind_err(io::Error::other(e)))?)
                }
            };
            if tls.is_none() && !target.is_loopback() {
                eprintln!(
                    "dvs-switchd: warning: bridge {}: OpenFlow listener {target} is reachable from \
                     the network without TLS: whoever reaches it can rewrite the flow tables",
                    cfg.name
                );
            }
            let addr = target.addr();
            let l = TcpListener::bind(addr).map_err(bind_err)?;
            let local = l.local_addr().unwrap_or(addr);
            match tls {
                None => {
                    bound.tcp.push(local);
                    bound.listeners.push(Listener::Tcp(l));
                }
                Some(cfg) => {
                    bound.ssl.push(local);
                    bound.listeners.push(Listener::Tls(l, cfg));
                }
            }
        }
        Ok(bound)
    }

    /// Serve `hub` on the listeners of `bound`: accept loops, packet-in delivery, controller
    /// connections.
    fn run(&self, mut bound: Bound) -> Result<(), OfpError> {
        let hub = bound.hub.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let mut r = Running {
            hub: hub.clone(),
            stop: stop.clone(),
            threads: Vec::new(),
            active: Vec::new(),
            sockets: std::mem::take(&mut bound.sockets),
        };
        let result = self.spawn_all(&mut bound, &hub, &mut r);
        lock(&self.tcp).extend(bound.tcp.iter().map(|a| (bound.name.clone(), *a)));
        lock(&self.ssl).extend(bound.ssl.iter().map(|a| (bound.name.clone(), *a)));
        lock(&self.bridges).insert(bound.name.clone(), r);
        result
    }

    fn spawn_all(
        &self,
        bound: &mut Bound,
        hub: &Arc<Hub>,
        r: &mut Running,
    ) -> Result<(), OfpError> {
        for l in bound.listeners.drain(..) {
            r.threads
                .push(self.spawn_accept(l, hub.clone(), r.stop.clone())?);
        }
        let flags = Flags::new(&self.stop, &r.stop);
        r.threads.push(
            packet_io::spawn_packet_in(hub.clone(), flags.clone()).map_err(OfpError::Thread)?,
        );
        hub.arm_fail_clock(std::time::Instant::now());
        for (index, target) in hub.controller_targets().into_iter().enumerate() {
            let h =
                active::spawn_controller(hub.clone(), index, target, flags.clone(), self.timing)
                    .map_err(OfpError::Thread)?;
            r.active.push(h);
        }
        Ok(())
    }

    fn spawn_accept(
        &self,
        l: Listener,
        hub: Arc<Hub>,
        bridge_stop: Arc<AtomicBool>,
    ) -> Result<JoinHandle<()>, OfpError> {
        l.set_nonblocking().map_err(OfpError::Thread)?;
        let (flags, conns) = (
            Flags::new(&self.stop, &bridge_stop),
            self.conn_threads.clone(),
        );
        std::thread::Builder::new()
            .name(format!("ofp-{}", hub.bridge.name))
            .spawn(move || accept_loop(l, hub, flags, conns))
            .map_err(OfpError::Thread)
    }

    /// Stop serving bridge `name` (its connections are closed, its socket file removed).
    fn stop_bridge(&self, name: &str) {
        let Some(r) = lock(&self.bridges).remove(name) else {
            return;
        };
        lock(&self.tcp).retain(|(b, _)| b != name);
        lock(&self.ssl).retain(|(b, _)| b != name);
        r.finish();
    }

    fn stop_all(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = lock(&self.fail_clock).take() {
            let _ = h.join();
        }
        let all: Vec<Running> = lock(&self.bridges).drain().map(|(_, r)| r).collect();
        for r in all {
            r.finish();
        }
        let conns: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.conn_threads));
        for h in conns {
            let _ = h.join();
        }
    }
}

impl Running {
    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.threads {
            let _ = h.join();
        }
        self.hub.close_all();
        for h in self.active {
            let _ = h.join();
        }
        for p in self.sockets {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The stop flags a bridge's threads watch: the server's and the bridge's own.
#[derive(Clone)]
pub(crate) struct Flags {
    server: Arc<AtomicBool>,
    bridge: Arc<AtomicBool>,
}

impl Flags {
    pub(crate) fn new(server: &Arc<AtomicBool>, bridge: &Arc<AtomicBool>) -> Flags {
        Flags {
            server: server.clone(),
            bridge: bridge.clone(),
        }
    }

    /// Either says stop.
    pub(crate) fn stopped(&self) -> bool {
        self.server.load(Ordering::Relaxed) || self.bridge.load(Ordering::Relaxed)
    }
}

/// The server as the switch sees it (see [`BridgeRuntime`]).
struct Runtime(Arc<Inner>);

impl BridgeRuntime for Runtime {
    fn prepare(
        &self,
        bridge: &Arc<Bridge>,
        cfg: &BridgeConfig,
    ) -> Result<Box<dyn PreparedBridge>, String> {
        self.0
            .bind(bridge, cfg)
            .map(|b| Box::new(b) as Box<dyn PreparedBridge>)
            .map_err(|e| e.to_string())
    }

    fn stop(&self, name: &str) {
        self.0.stop_bridge(name);
    }
}

impl PreparedBridge for Bound {
    fn events(&self) -> Arc<dyn BridgeEvents> {
        self.hub.clone()
    }

    fn start(self: Box<Self>) {
        let server = self.server.clone();
        let name = self.name.clone();
        if let Err(e) = server.run(*self) {
            eprintln!("dvs-switchd: OpenFlow for bridge {name}: {e}");
        }
    }
}

fn accept_loop(l: Listener, hub: Arc<Hub>, stop: Flags, conns: Arc<Mutex<Vec<JoinHandle<()>>>>) {
    let live = Arc::new(AtomicUsize::new(0));
    let (reserve, errors, refusals) = (Reserve::new(), RateLog::default(), RateLog::default());
    let handshakes = Arc::new(RateLog::default());
    let name = hub.bridge.name.clone();
    while !stop.stopped() {
        let accepted = match l.accept() {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                l.wait(ACCEPT_POLL);
                continue;
            }
            Err(e) if limits::out_of_descriptors(&e) => {
                // Take the waiting connection off the queue with the spare descriptor, and
                // close it: the peer learns at once, and the loop does not spin on it.
                reserve.with_spare(|| drop(l.accept()));
                bump(&hub.packet_io.connections_refused);
                errors.log(|| format!("ofp accept on {name}: {e}: connection closed"));
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
            Err(e) => {
                errors.log(|| format!("ofp accept on {name}: {e}"));
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
        };
        if live.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            drop(accepted);
            bump(&hub.packet_io.connections_refused);
            refusals.log(|| {
                format!("bridge {name}: {MAX_CONNECTIONS} OpenFlow connections on one listener already; refused one")
            });
            continue;
        }
        if accepted.prepare().is_err() {
            continue;
        }
        let (hub, flags, handshakes) = (hub.clone(), stop.clone(), handshakes.clone());
        live.fetch_add(1, Ordering::Relaxed);
        let held = live.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("ofp-conn-{}", hub.bridge.name))
            .spawn(move || {
                let peer = match &accepted {
                    Accepted::Tls(s, _) => s.peer_addr().ok(),
                    Accepted::Ready(_) => None,
                };
                match accepted.establish(&flags) {
                    Ok(sock) => {
                        let _ = conn::serve(hub, sock, conn::Origin::Passive);
                    }
                    Err(e) if !flags.stopped() => handshakes.log(|| {
                        let from = peer.map_or_else(String::new, |p| format!(" from {p}"));
                        format!(
                            "bridge {}: OpenFlow TLS connection{from} refused: {e}",
                            hub.bridge.name
                        )
                    }),
                    Err(_) => {}
                }
                held.fetch_sub(1, Ordering::Relaxed);
            });
        let mut list = conns.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|h| !h.is_finished());
        match spawned {
            Ok(h) => list.push(h),
            Err(e) => {
                live.fetch_sub(1, Ordering::Relaxed);
                errors.log(|| format!("ofp connection thread: {e}"));
            }
        }
    }
}

fn bump(c: &std::sync::atomic::AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}
