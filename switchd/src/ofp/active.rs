//! Active OpenFlow connections: the switch dials each configured controller
//! (`controllers = ["tcp:...", "ssl:..."]`), serves the connection with the same handler as
//! accepted ones, and dials again when it ends, for as long as the switch runs. An `ssl:`
//! controller's TLS files are read at every attempt and the handshake runs in the controller's
//! thread after the TCP connect (see `tls`); a failure there counts as a failed attempt.
//!
//! One thread per controller, because each connection is a blocking read loop anyway (see
//! `conn`) and a bridge has a handful of controllers at most. The thread's life is a loop:
//! connect (with [`ControllerTiming::connect_timeout`]), serve until the connection ends, wait
//! the backoff, repeat. The backoff follows OVS's `rconn`: it starts at `backoff_min`, doubles
//! after every failed attempt or short-lived connection up to `backoff_max`, and returns to
//! `backoff_min` when a connection stayed up at least as long as the backoff in force when it was
//! made (a controller that accepts and immediately drops us cannot make the switch spin).
//!
//! Shutdown must never wait for the network. `TcpStream::connect_timeout` cannot be interrupted,
//! so the connect runs on a short-lived helper thread and the controller thread waits for its
//! result in 50 ms slices, checking the stop flag: on shutdown the controller thread returns at
//! once (and is joined) while the helper, if still connecting, finishes on its own within the
//! connect timeout and closes whatever it got. Backoff sleeps are sliced the same way, and a
//! connection being served is ended by the hub closing every socket.
//!
//! Liveness of a connection (ECHO probes after `probe_interval` of silence) is `conn`'s job; the
//! fail-mode clock (enter fail-open after `fail_grace` without an admitted controller) is the
//! hub's, advanced by one thread for all bridges that need it ([`spawn_fail_clock`]).
//!
//! Default timings, and why:
//! - connect timeout 5 s: covers the SYN and two retransmissions (1 s, 3 s) to a slow peer; it
//!   delays nothing else, as each controller has its own thread.
//! - backoff 1 s doubling to 8 s: OVS's defaults (`max_backoff` 8 s). A restarted controller is
//!   found within 8 s and a dead one costs one attempt per 8 s.
//! - inactivity probe 5 s: OVS's default `inactivity_probe`; a controller that is silent for
//!   5 s gets an ECHO_REQUEST and is dropped if another 5 s pass without a byte from it, so a
//!   vanished controller (no FIN, e.g. its host died) is noticed within 10 s.
//! - fail-open grace 3 s: OVS enters fail-open after three probe intervals (15 s). That is long
//!   for a bridge whose only path is its controller; 3 s still covers a controller that is
//!   restarting or a connection that is being re-established (the first reconnect comes after
//!   1 s), while traffic resumes quickly when the controller is really gone.

use super::conn::{self, Origin};
use super::hub::Hub;
use super::{tls, Flags, Sock};
use datapath::config::OfpController;
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often waiting threads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// How often the fail-mode clock ticks.
const FAIL_TICK: Duration = Duration::from_millis(100);

/// Timings of controller connections and of the fail mode (see the module docs for the
/// defaults and why).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControllerTiming {
    /// Longest wait for a TCP connect.
    pub connect_timeout: Duration,
    /// First wait between attempts (and after a connection that stayed up).
    pub backoff_min: Duration,
    /// Longest wait between attempts.
    pub backoff_max: Duration,
    /// Silence after which a controller gets an ECHO_REQUEST, and after which, once more, it is
    /// dropped.
    pub probe_interval: Duration,
    /// How long a standalone bridge waits without an admitted controller before failing open.
    pub fail_grace: Duration,
}

impl Default for ControllerTiming {
    fn default() -> Self {
        ControllerTiming {
            connect_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(8),
            probe_interval: Duration::from_secs(5),
            fail_grace: Duration::from_secs(3),
        }
    }
}

impl ControllerTiming {
    /// The wait before the next attempt and the backoff after it, given the backoff in force
    /// (`current`) and how long the last connection lasted (`None`: no connection was made).
    pub(super) fn backoff(
        &self,
        current: Duration,
        lived: Option<Duration>,
    ) -> (Duration, Duration) {
        let wait = if lived.is_some_and(|l| l >= current) {
            self.backoff_min
        } else {
            current
        };
        (wait, (wait * 2).clamp(self.backoff_min, self.backoff_max))
    }
}

/// Start the thread that keeps controller `index` of `hub` (at `target`) connected.
pub(super) fn spawn_controller(
    hub: Arc<Hub>,
    index: usize,
    target: OfpController,
    stop: Flags,
    timing: ControllerTiming,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("ofp-ctl{index}-{}", hub.bridge.name))
        .spawn(move || controller_loop(&hub, index, &target, &stop, timing))
}

/// Start the fail-mode clock: every tick, each bridge in service that can fail open (standalone
/// with controllers) is checked. The list is read anew each tick, so bridges added or
/// re-configured while running are covered.
pub(super) fn spawn_fail_clock(
    bridges: Arc<Mutex<HashMap<String, super::Running>>>,
    stop: Arc<AtomicBool>,
    timing: ControllerTiming,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("ofp-failmode".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let now = Instant::now();
                let hubs: Vec<Arc<Hub>> = super::lock(&bridges)
                    .values()
                    .map(|r| r.hub.clone())
                    .collect();
                for h in &hubs {
                    if h.fail_mode() == datapath::config::FailMode::Standalone
                        && h.has_controllers()
                    {
                        h.fail_tick(now, timing.fail_grace);
                    }
                }
                std::thread::sleep(FAIL_TICK);
            }
        })
}

fn controller_loop(
    hub: &Arc<Hub>,
    index: usize,
    target: &OfpController,
    stop: &Flags,
    timing: ControllerTiming,
) {
    let bridge = hub.bridge.name.clone();
    let mut backoff = timing.backoff_min;
    // The last failure logged, so a controller that stays down is reported once, not every 8 s.
    let mut logged: Option<String> = None;
    while !stop.stopped() {
        hub.controller_connecting(index);
        let lived = match open(target, timing.connect_timeout, stop) {
            None => return,
            Some(Err(e)) => {
                let msg = e.to_string();
                if logged.as_deref() != Some(msg.as_str()) {
                    eprintln!("dvs-switchd: {bridge}: controller {target}: cannot connect: {msg} (retrying)");
                    logged = Some(msg.clone());
                }
                hub.controller_backoff(index, Some(msg));
                None
            }
            Some(Ok(sock)) => {
                logged = None;
                let started = Instant::now();
                eprintln!("dvs-switchd: {bridge}: controller {target}: connected");
                let origin = Origin::Controller {
                    index,
                    probe: timing.probe_interval,
                };
                let result = conn::serve(hub.clone(), sock, origin);
                if !stop.stopped() {
                    match &result {
                        Ok(()) => eprintln!(
                            "dvs-switchd: {bridge}: controller {target}: connection closed"
                        ),
                        Err(e) => eprintln!(
                            "dvs-switchd: {bridge}: controller {target}: connection lost: {e}"
                        ),
                    }
                }
                Some(started.elapsed())
            }
        };
        let (wait, next) = timing.backoff(backoff, lived);
        if !sleep_unless_stopped(wait, stop) {
            return;
        }
        backoff = next;
    }
}

/// Connect to `target` and make the stream ready for OpenFlow (TCP options; for `ssl:`, its TLS
/// files read and the handshake done); `None` if `stop` was raised first.
fn open(target: &OfpController, timeout: Duration, stop: &Flags) -> Option<io::Result<Sock>> {
    let tls = match target {
        OfpController::Tcp(_) => None,
        OfpController::Ssl(_, None) => {
            return Some(Err(io::Error::other(
                "no TLS private key, certificate and CA certificate are configured",
            )))
        }
        OfpController::Ssl(_, Some(files)) => match tls::client_config(files) {
            Ok(cfg) => Some(cfg),
            Err(e) => return Some(Err(io::Error::other(e))),
        },
    };
    let addr = target.addr();
    let stream = match connect(addr, timeout, stop)? {
        Ok(s) => s,
        Err(e) => return Some(Err(e)),
    };
    let ready = super::prepare_tcp(&stream).and_then(|()| match tls {
        None => Ok(Sock::Tcp(stream)),
        Some(cfg) => {
            let s = Sock::Tls(tls::connect(stream, addr, cfg, stop)?);
            s.prepare()?;
            Ok(s)
        }
    });
    if ready.is_err() && stop.stopped() {
        return None;
    }
    Some(ready)
}

/// Connect to `addr` within `timeout`; `None` if `stop` was raised first (the attempt is then
/// abandoned to its helper thread, which ends within `timeout`).
fn connect(addr: SocketAddr, timeout: Duration, stop: &Flags) -> Option<io::Result<TcpStream>> {
    let (tx, rx) = mpsc::channel();
    let helper = std::thread::Builder::new()
        .name("ofp-connect".into())
        .spawn(move || {
            // If the receiver is gone (shutdown), the stream is dropped here: closed.
            let _ = tx.send(TcpStream::connect_timeout(&addr, timeout));
        });
    let helper = match helper {
        Ok(h) => h,
        Err(e) => return Some(Err(e)),
    };
    loop {
        if stop.stopped() {
            return None;
        }
        match rx.recv_timeout(POLL) {
            Ok(r) => {
                // It has sent its only message and is returning.
                let _ = helper.join();
                return Some(r);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Some(Err(io::Error::other(
                    "connect thread ended without a result",
                )))
            }
        }
    }
}

/// Sleep `d` in slices; false if `stop` was raised meanwhile.
fn sleep_unless_stopped(d: Duration, stop: &Flags) -> bool {
    let end = Instant::now() + d;
    loop {
        if stop.stopped() {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep(POLL.min(end - now));
    }
}

#[cfg(test)]
mod tests {
    use super::super::hub::ControllerState;
    use super::*;

    #[test]
    fn backoff_doubles_to_the_max_and_resets_after_a_stable_connection() {
        let t = ControllerTiming::default();
        let s = Duration::from_secs;
        let mut b = t.backoff_min;
        let mut waits = Vec::new();
        for _ in 0..6 {
            let (wait, next) = t.backoff(b, None);
            waits.push(wait.as_secs());
            b = next;
        }
        assert_eq!(waits, [1, 2, 4, 8, 8, 8]);
        // A connection that dropped right away keeps backing off.
        assert_eq!(
            t.backoff(s(4), Some(Duration::from_millis(10))),
            (s(4), s(8))
        );
        // One that stayed up at least as long as the backoff in force resets it.
        assert_eq!(t.backoff(s(8), Some(s(9))), (s(1), s(2)));
    }

    #[test]
    fn connect_gives_up_at_once_when_stopping() {
        let stop = Flags::new(&Arc::new(AtomicBool::new(true)), &Arc::default());
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t0 = Instant::now();
        assert!(connect(addr, Duration::from_secs(5), &stop).is_none());
        assert!(t0.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn connect_reports_a_refused_port() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let stop = Flags::new(&Arc::default(), &Arc::default());
        let r = connect(addr, Duration::from_secs(2), &stop).expect("not stopped");
        assert!(r.is_err());
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let r = connect(l.local_addr().unwrap(), Duration::from_secs(2), &stop).unwrap();
        assert!(r.is_ok());
    }

    /// A switch with one mock port whose bridge `br0` has `bridge_extra` config lines, its
    /// OpenFlow side started with `timing`.
    fn switch(
        bridge_extra: &str,
        timing: ControllerTiming,
    ) -> (Arc<datapath::switch::Switch>, super::super::OfpServer) {
        use std::sync::atomic::AtomicU32;
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let rundir = std::env::temp_dir().join(format!("dvs-active-{}-{n}", std::process::id()));
        let text = format!(
            "[switch]\nrundir = \"{}\"\npmd_cores = [0]\npool_frames = 64\n\n\
             [[bridge]]\nname = \"br0\"\n{bridge_extra}\n\n\
             [[bridge.port]]\nname = \"p1\"\nkind = \"mock\"\n",
            rundir.display()
        );
        let cfg = crate::conffile::parse(&text, std::path::Path::new("test.toml")).unwrap();
        let sw = Arc::new(datapath::switch::Switch::build(cfg).unwrap());
        let server = super::super::OfpServer::start_with(&sw, timing).unwrap();
        (sw, server)
    }

    fn fast() -> ControllerTiming {
        ControllerTiming {
            connect_timeout: Duration::from_secs(2),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(400),
            probe_interval: Duration::from_millis(500),
            fail_grace: Duration::from_millis(300),
        }
    }

    /// Wait up to `within` for `f` to hold.
    fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        f()
    }

    /// Read one whole OpenFlow message.
    fn recv(s: &mut TcpStream) -> io::Result<openflow::Message> {
        use std::io::Read;
        let mut h = [0u8; 8];
        s.read_exact(&mut h)?;
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        let mut buf = h.to_vec();
        buf.resize(len.max(8), 0);
        s.read_exact(&mut buf[8..])?;
        openflow::decode(&buf)
            .map(|(_, m)| m)
            .map_err(|e| io::Error::other(format!("{e:?}")))
    }

    fn send(s: &mut TcpStream, msg: &openflow::Message) {
        use std::io::Write;
        let mut out = Vec::new();
        openflow::encode(7, msg, &mut out);
        s.write_all(&out).unwrap();
    }

    #[test]
    fn standalone_fails_open_until_a_controller_is_admitted_and_reconnects() {
        use openflow::{Hello, Message as M};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let (sw, server) = switch(&format!("controllers = [\"tcp:{addr}\"]"), fast());
        let hub = server.hub(&sw.bridges()[0].name).unwrap();
        let bridge = sw.bridges()[0].clone();
        // Nobody listens yet: the grace period runs out.
        assert!(!bridge.fail_open());
        assert!(eventually(Duration::from_secs(3), || bridge.fail_open()));
        assert_eq!(
            hub.fail_status().controllers[0].connections,
            0,
            "connections were refused"
        );
        let l = std::net::TcpListener::bind(addr).unwrap();
        let (mut c, _) = l.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        assert!(
            matches!(recv(&mut c).unwrap(), M::Hello(_)),
            "switch says HELLO first"
        );
        send(&mut c, &M::Hello(Hello::ours()));
        assert!(
            bridge.fail_open(),
            "a HELLO alone does not admit the controller"
        );
        send(&mut c, &M::FeaturesRequest);
        assert!(matches!(recv(&mut c).unwrap(), M::FeaturesReply(_)));
        assert!(eventually(Duration::from_secs(1), || !bridge.fail_open()));
        let st = hub.fail_status();
        assert_eq!(st.controllers.len(), 1);
        assert_eq!(st.controllers[0].target, format!("tcp:{addr}"));
        assert_eq!(st.controllers[0].state, ControllerState::Connected);
        assert!(st.controllers[0].admitted);
        assert_eq!(st.controllers[0].role, Some("equal"));
        assert_eq!(st.controllers[0].connections, 1);

        // Silence: the switch probes with ECHO_REQUEST, then drops the connection.
        let t0 = Instant::now();
        let probe = recv(&mut c).unwrap();
        assert!(matches!(probe, M::EchoRequest(_)), "{probe:?}");
        assert!(t0.elapsed() >= Duration::from_millis(400));
        let end = recv(&mut c);
        assert!(end.is_err(), "dropped after an unanswered probe: {end:?}");
        assert!(eventually(Duration::from_secs(1), || {
            hub.fail_status().controllers[0].state != ControllerState::Connected
        }));
        let st = hub.fail_status();
        assert!(
            st.controllers[0]
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("echo")),
            "{st:?}"
        );
        // ... and comes back within the backoff; the bridge fails open again meanwhile.
        let (mut c2, _) = l.accept().unwrap();
        c2.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        assert!(matches!(recv(&mut c2).unwrap(), M::Hello(_)));
        assert!(eventually(Duration::from_secs(2), || bridge.fail_open()));
        // Answering probes keeps a connection up.
        send(&mut c2, &M::Hello(Hello::ours()));
        send(&mut c2, &M::BarrierRequest);
        assert!(matches!(recv(&mut c2).unwrap(), M::BarrierReply));
        assert!(eventually(Duration::from_secs(1), || !bridge.fail_open()));
        for _ in 0..3 {
            match recv(&mut c2).unwrap() {
                M::EchoRequest(d) => send(&mut c2, &M::EchoReply(d)),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(hub.fail_status().controllers[0].connections, 2);
        let t0 = Instant::now();
        server.shutdown();
        assert!(t0.elapsed() < Duration::from_secs(2), "shutdown is prompt");
        assert!(recv(&mut c2).is_err(), "closed on shutdown");
    }

    #[test]
    fn secure_never_fails_open_and_starts_without_the_default_flow() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let (sw, server) = switch(
            &format!("controllers = [\"tcp:{addr}\"]\nfail_mode = \"secure\""),
            fast(),
        );
        assert_eq!(sw.bridges()[0].view().pipeline.len(), 0);
        std::thread::sleep(Duration::from_millis(800));
        assert!(!sw.bridges()[0].fail_open());
        let st = server.hub(&sw.bridges()[0].name).unwrap().fail_status();
        assert_eq!(st.fail_mode, datapath::config::FailMode::Secure);
        assert!(st.controllers[0].last_error.is_some(), "{st:?}");
        assert_eq!(st.controllers[0].connections, 0);
        server.shutdown();

        // Without controllers a standalone bridge keeps its default flow and never fails open.
        let (sw, server) = switch("", fast());
        assert_eq!(sw.bridges()[0].view().pipeline.len(), 1);
        std::thread::sleep(Duration::from_millis(600));
        assert!(!sw.bridges()[0].fail_open());
        assert!(server
            .hub(&sw.bridges()[0].name)
            .unwrap()
            .fail_status()
            .controllers
            .is_empty());
        server.shutdown();
    }

    #[test]
    fn each_controller_has_its_own_connection_and_role() {
        use openflow::{ControllerRole, Hello, Message as M, Role};
        let la = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let lb = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (a, b) = (la.local_addr().unwrap(), lb.local_addr().unwrap());
        // Probes are not what this test is about: a long interval keeps them out of the way.
        let timing = ControllerTiming {
            probe_interval: Duration::from_secs(10),
            ..fast()
        };
        let (sw, server) = switch(&format!("controllers = [\"tcp:{a}\", \"tcp:{b}\"]"), timing);
        let hub = server.hub(&sw.bridges()[0].name).unwrap();
        let bridge = sw.bridges()[0].clone();
        let open = |l: &std::net::TcpListener| {
            let (mut c, _) = l.accept().unwrap();
            c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            assert!(matches!(recv(&mut c).unwrap(), M::Hello(_)));
            send(&mut c, &M::Hello(Hello::ours()));
            send(&mut c, &M::FeaturesRequest);
            // The switch may probe us meanwhile (short probe interval on a busy machine).
            loop {
                match recv(&mut c).unwrap() {
                    M::FeaturesReply(_) => return c,
                    M::EchoRequest(d) => send(&mut c, &M::EchoReply(d)),
                    other => panic!("unexpected {other:?}"),
                }
            }
        };
        let (mut ca, mut cb) = (open(&la), open(&lb));
        let role = |c: &mut TcpStream, role, generation_id| {
            send(
                c,
                &M::RoleRequest(Role {
                    role,
                    generation_id,
                }),
            );
            loop {
                match recv(c).unwrap() {
                    M::RoleReply(r) => return r.role,
                    M::EchoRequest(d) => send(c, &M::EchoReply(d)),
                    other => panic!("unexpected {other:?}"),
                }
            }
        };
        assert_eq!(
            role(&mut ca, ControllerRole::Master, 1),
            ControllerRole::Master
        );
        let roles = |h: &Hub| -> Vec<Option<&'static str>> {
            h.fail_status().controllers.iter().map(|c| c.role).collect()
        };
        assert_eq!(roles(&hub), [Some("master"), Some("equal")]);
        // A new master demotes the old one.
        assert_eq!(
            role(&mut cb, ControllerRole::Master, 2),
            ControllerRole::Master
        );
        assert_eq!(roles(&hub), [Some("slave"), Some("master")]);
        // One controller left is enough to stay out of fail-open.
        drop(ca);
        assert!(eventually(Duration::from_secs(1), || {
            hub.fail_status().controllers[0].state != ControllerState::Connected
        }));
        std::thread::sleep(Duration::from_millis(500));
        assert!(!bridge.fail_open());
        // Its reconnection starts equal again.
        let ca = open(&la);
        assert!(eventually(Duration::from_secs(1), || roles(&hub)[0] == Some("equal")));
        assert_eq!(hub.fail_status().controllers[0].connections, 2);
        server.shutdown();
        drop((ca, cb));
    }
}
