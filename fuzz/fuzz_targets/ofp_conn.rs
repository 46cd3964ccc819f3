//! Fuzz the OpenFlow connection state machine: one dvs-switchd connection (the HELLO handshake,
//! stream framing, dispatch of every request type, roles, bundles, packet-out, the multipart
//! replies) driven through `switchd::ofp::serve_stream` against a real running switch.
//!
//! A switch with one bridge of three mock ports and one PMD is built once per process (building
//! one costs far more than a session). Each input is one session on a fresh socket pair and a
//! fresh `Hub` (so roles and the master generation id do not leak from one input into the
//! next); afterwards the bridge's view (flows, groups, meters, port config bits) is put back to
//! what it was at start, and the mock ports' output and the packet-in queue are emptied, so every
//! input starts from the same switch.
//!
//! Input layout: byte 0 is a control byte, the rest is the byte stream the peer sends.
//! - Unless both low bits of the control byte are set (3 inputs in 4), a valid HELLO is sent
//!   first, so that the fuzzer spends its time past the handshake.
//! - Unless bit 2 is set, the stream is "shaped" before it is sent: walking it message by
//!   message, each header gets version 0x04 and a length clamped to what is left of the input
//!   (at least 8), so mutations of a version or length byte do not throw away the framing of
//!   every later message. With bit 2 set the bytes go as they are (bad versions, lengths below
//!   8, a message cut off by the end of the stream).
//!
//! The peer side (a scoped thread) writes the stream without blocking, half-closes the socket,
//! and reads and discards every reply until end of file, which must come once `serve_stream`
//! has returned: a connection handle the switch kept open after that is reported as a crash,
//! as is a thread or descriptor count that grows from input to input. Nothing can hang: the
//! peer never waits without a deadline, and the switch side ends when the stream does.
#![no_main]

use datapath::bridge::{Bridge, BridgeView};
use datapath::config::FailMode;
use datapath::packet_in::PacketInMsg;
use datapath::switch::Switch;
use libfuzzer_sys::fuzz_target;
use openflow::{decode, encode_to_vec, frame_len, Hello, Message, OFP_VERSION};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use switchd::ofp::{serve_stream, Hub};

/// The switch under test, built once.
struct Rig {
    sw: Arc<Switch>,
    bridge: Arc<Bridge>,
    /// The bridge's view at start: restored after every input.
    initial: Arc<BridgeView>,
    /// The bridge's packet-in queue (no packet-in thread runs here): emptied after every input.
    packet_in: Mutex<Receiver<PacketInMsg>>,
    /// Threads and open descriptors after a warm-up session.
    threads: usize,
    fds: usize,
}

const CONFIG: &str = "[switch]\npmd_cores = [0]\npool_frames = 1024\npmd_sleep_max_us = 100\n\n\
[[bridge]]\nname = \"br0\"\ndatapath_id = \"0xabc\"\n\
[[bridge.port]]\nname = \"a\"\nkind = \"mock\"\nofport = 1\n\
[[bridge.port]]\nname = \"b\"\nkind = \"mock\"\nofport = 2\n\
[[bridge.port]]\nname = \"c\"\nkind = \"mock\"\nofport = 3\n";

/// Longest the peer waits for the end of the stream once the switch side has returned.
const EOF_GRACE: Duration = Duration::from_secs(2);
/// Growth in threads or descriptors over the warm-up figures that counts as a leak (a little
/// slack for threads the runtime may start late).
const SLACK: usize = 4;

fn count_dir(path: &str) -> usize {
    std::fs::read_dir(path).map_or(0, |d| d.count())
}

fn rig() -> &'static Rig {
    static RIG: OnceLock<Rig> = OnceLock::new();
    RIG.get_or_init(|| {
        // The daemon's Rust `main` ignores SIGPIPE; libFuzzer's `main` does not. A peer that
        // closed early must give EPIPE, not kill the process.
        // SAFETY: setting a signal disposition to SIG_IGN installs no handler code; done once,
        // before any socket is written.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let cfg =
            switchd::conffile::parse(CONFIG, Path::new("/nonexistent/dvs-fuzz/ofp_conn.toml"))
                .expect("fuzz switch config parses");
        let sw = Arc::new(Switch::build(cfg).expect("fuzz switch builds"));
        sw.start().expect("fuzz switch starts");
        let bridge = sw.bridge("br0").expect("bridge br0");
        let initial = Arc::clone(&*bridge.view());
        let packet_in = bridge
            .packet_in
            .take_receiver()
            .expect("packet-in receiver");
        let mut r = Rig {
            sw,
            bridge,
            initial,
            packet_in: Mutex::new(packet_in),
            threads: 0,
            fds: 0,
        };
        // Warm up (first packet-out, first flow edits), then take the figures leaks are
        // measured against.
        session(&r, &warm_up());
        let out = r.sw.mock("b").map(|h| h.take_sent()).unwrap_or_default();
        assert_eq!(
            out.len(),
            1,
            "the warm-up's PACKET_OUT (output:table, flow output:2) leaves port b once"
        );
        reset(&r);
        r.threads = count_dir("/proc/self/task");
        r.fds = count_dir("/proc/self/fd");
        r
    })
}

/// A session with a flow, a packet-out and a flow dump, for the warm-up.
fn warm_up() -> Vec<u8> {
    let mut s = hello();
    // FLOW_MOD add, table 0, priority 1, match-all, apply-actions output:2.
    let mut fm = vec![4, 14, 0, 0, 0, 0, 0, 1];
    fm.extend_from_slice(&[0; 16]); // cookie, cookie mask
    fm.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]); // table, command, timeouts, priority
    fm.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]); // buffer_id
    fm.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    fm.extend_from_slice(&[0, 1, 0, 4, 0, 0, 0, 0]); // empty OXM match, padded
    fm.extend_from_slice(&[
        0, 4, 0, 24, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    let n = fm.len() as u16;
    fm[2..4].copy_from_slice(&n.to_be_bytes());
    s.extend_from_slice(&fm);
    // PACKET_OUT in_port CONTROLLER, output:TABLE, a 60-byte frame.
    let mut po = vec![
        4, 13, 0, 0, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd,
    ];
    po.extend_from_slice(&[0, 16, 0, 0, 0, 0, 0, 0]);
    po.extend_from_slice(&[
        0, 0, 0, 16, 0xff, 0xff, 0xff, 0xf9, 0xff, 0xff, 0, 0, 0, 0, 0, 0,
    ]);
    po.extend_from_slice(&[0xff; 6]);
    po.extend_from_slice(&[2, 0, 0, 0, 0, 0xa, 0x88, 0xb5]);
    po.resize(po.len() + 46, 0);
    let n = po.len() as u16;
    po[2..4].copy_from_slice(&n.to_be_bytes());
    s.extend_from_slice(&po);
    // MULTIPART flow stats for everything, then BARRIER.
    s.extend_from_slice(&[4, 18, 0, 56, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0, 0, 0]);
    s.extend_from_slice(&[
        0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    s.extend_from_slice(&[0; 16]);
    s.extend_from_slice(&[0, 1, 0, 4, 0, 0, 0, 0]);
    s.extend_from_slice(&[4, 20, 0, 8, 0, 0, 0, 4]);
    s
}

fn hello() -> Vec<u8> {
    encode_to_vec(0, &Message::Hello(Hello::ours()))
}

/// The stream to send for input `data` (see the module comment for the layout).
fn stream(data: &[u8]) -> Vec<u8> {
    let Some((&control, body)) = data.split_first() else {
        return hello();
    };
    let mut s = if control & 3 == 3 {
        Vec::new()
    } else {
        hello()
    };
    let start = s.len();
    s.extend_from_slice(body);
    if control & 4 == 0 {
        shape(&mut s[start..]);
    }
    s
}

/// Give every message in `s` version 0x04 and a length that keeps the framing: at least a
/// header, at most what is left. A tail shorter than a header is left as it is.
fn shape(s: &mut [u8]) {
    let mut at = 0;
    while s.len() - at >= 8 {
        let left = s.len() - at;
        let want = usize::from(u16::from_be_bytes([s[at + 2], s[at + 3]]));
        let len = want.clamp(8, left.min(usize::from(u16::MAX)));
        s[at] = OFP_VERSION;
        s[at + 2..at + 4].copy_from_slice(&(len as u16).to_be_bytes());
        at += len;
    }
}

/// Run one session: the switch side in this thread, the peer in a scoped one.
fn session(r: &Rig, bytes: &[u8]) {
    let (peer, ours) = UnixStream::pair().expect("socket pair");
    let hub = Arc::new(Hub::with_controllers(
        r.bridge.clone(),
        Vec::new(),
        FailMode::Standalone,
    ));
    let served = AtomicBool::new(false);
    std::thread::scope(|s| {
        let p = s.spawn(|| drive(peer, bytes, &served));
        let _ = serve_stream(hub.clone(), ours);
        served.store(true, Ordering::Release);
        if let Err(e) = p.join() {
            std::panic::resume_unwind(e);
        }
    });
    assert_eq!(hub.connections(), 0, "the connection is still registered");
}

/// The peer: write `bytes` and read everything back, without ever blocking without a
/// deadline; returns at end of file.
fn drive(mut sock: UnixStream, bytes: &[u8], served: &AtomicBool) {
    sock.set_nonblocking(true).expect("nonblocking peer");
    let mut sent = 0;
    let mut write_open = true;
    let mut buf = vec![0u8; 1 << 16];
    let mut served_at: Option<Instant> = None;
    let mut replies = Vec::new();
    loop {
        if write_open && sent == bytes.len() {
            let _ = sock.shutdown(Shutdown::Write);
            write_open = false;
        }
        if write_open {
            match sock.write(&bytes[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The switch closed the connection early (a bad HELLO, a lost framing).
                Err(_) => write_open = false,
            }
        }
        match sock.read(&mut buf) {
            Ok(0) => return trace(&replies),
            Ok(n) => {
                if tracing() {
                    replies.extend_from_slice(&buf[..n]);
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return trace(&replies),
            Err(e) => panic!("peer read: {e}"),
        }
        if served.load(Ordering::Acquire) {
            let since = *served_at.get_or_insert_with(Instant::now);
            assert!(
                since.elapsed() < EOF_GRACE,
                "the switch returned from serve_stream but kept the connection's socket open"
            );
        }
        wait(&sock, write_open);
    }
}

/// True when `DVS_FUZZ_TRACE` is set: then every reply is printed (to check what a seed or a
/// crash input reaches: `DVS_FUZZ_TRACE=1 target/.../ofp_conn seeds/ofp_conn/*`).
fn tracing() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("DVS_FUZZ_TRACE").is_some())
}

/// Print the replies in `bytes` (with tracing on).
fn trace(bytes: &[u8]) {
    if !tracing() {
        return;
    }
    let mut at = 0;
    while let Some(n) = frame_len(&bytes[at..]).filter(|n| *n > 0) {
        match decode(&bytes[at..at + n]) {
            Ok((h, m)) => {
                let text = format!("{m:?}");
                let cut: String = text.chars().take(160).collect();
                eprintln!("ofp_conn: reply xid {:#x}: {cut}", h.xid);
            }
            Err(e) => eprintln!("ofp_conn: undecodable reply ({n} bytes): {e}"),
        }
        at += n;
    }
    if at < bytes.len() {
        eprintln!("ofp_conn: {} trailing reply bytes", bytes.len() - at);
    }
}

/// Wait up to 10 ms for the peer socket to become readable (or writable, while writing).
fn wait(sock: &UnixStream, writing: bool) {
    let mut events = libc::POLLIN;
    if writing {
        events |= libc::POLLOUT;
    }
    let mut p = libc::pollfd {
        fd: sock.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd for the duration of the call, on a descriptor `sock`
    // keeps open.
    unsafe { libc::poll(&mut p, 1, 10) };
}

/// Put the switch back as it was at start.
fn reset(r: &Rig) {
    let initial = r.initial.clone();
    let _ = r.bridge.edit_view(|v| {
        *v = (*initial).clone();
        Ok::<(), ()>(())
    });
    for (_, h) in &r.sw.mock_handles {
        h.take_sent();
    }
    let rx = r.packet_in.lock().unwrap_or_else(|e| e.into_inner());
    while rx.try_recv().is_ok() {}
}

fuzz_target!(|data: &[u8]| {
    let r = rig();
    session(r, &stream(data));
    reset(r);
    let (threads, fds) = (count_dir("/proc/self/task"), count_dir("/proc/self/fd"));
    assert!(
        threads <= r.threads + SLACK,
        "threads grew from {} to {threads}: a connection thread outlived its session",
        r.threads
    );
    assert!(
        fds <= r.fds + SLACK,
        "open descriptors grew from {} to {fds}: a session leaked a socket",
        r.fds
    );
});
