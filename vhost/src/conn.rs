//! The protocol thread: accept (server role) or connect with backoff
//! (client role), then serve one frontend at a time with rust-vmm's
//! `BackendReqHandler` until the socket closes or the frontend violates the
//! protocol; either way the device is reset (link down, rings and memory
//! dropped under the queue locks) and we go back to accepting/connecting.
//!
//! vhost 0.18's `BackendReqHandler` does not implement SET_STATUS /
//! GET_STATUS, which DPDK's virtio_user uses when offered. Before each
//! request we therefore peek at the 12-byte header (`MSG_PEEK`, which leaves
//! data and any attached fds in the socket); the two status requests carry
//! no fds and at most a u64, so we consume and answer them ourselves, and
//! everything else goes to the library untouched.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rvhost::vhost_user::message::VhostUserProtocolFeatures;
use rvhost::vhost_user::{BackendReqHandler, Error as VuError};

use crate::device::{lock, Shared};
use crate::protocol::Handler;

const SET_FEATURES: u32 = 2;
const SET_VRING_ENABLE: u32 = 18;
const SET_STATUS: u32 = 39;
const GET_STATUS: u32 = 40;
const HDR_LEN: usize = 12;
const FLAG_VERSION: u32 = 0x1;
const FLAG_REPLY: u32 = 0x4;
const FLAG_NEED_REPLY: u32 = 0x8;
const POLL: Duration = Duration::from_millis(20);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Thread body.
pub(crate) fn run(shared: Arc<Shared>, listener: Option<UnixListener>) {
    match listener {
        Some(l) => serve_listener(&shared, &l),
        None => serve_client(&shared),
    }
    if shared.cfg.role == crate::Role::Server {
        let _ = std::fs::remove_file(&shared.cfg.socket);
    }
}

fn stopping(shared: &Shared) -> bool {
    shared.stop.load(Ordering::Acquire)
}

/// Sleep `d` in short steps, returning early when stopping.
fn nap(shared: &Shared, d: Duration) {
    let mut left = d;
    while !left.is_zero() && !stopping(shared) {
        let step = left.min(POLL);
        std::thread::sleep(step);
        left -= step;
    }
}

fn serve_listener(shared: &Arc<Shared>, l: &UnixListener) {
    while !stopping(shared) {
        match l.accept() {
            Ok((s, _)) => serve(shared, s),
            Err(e) if e.kind() == ErrorKind::WouldBlock => nap(shared, POLL),
            Err(e) => {
                shared.note_error(&format!("accept: {e}"));
                nap(shared, BACKOFF_MIN);
            }
        }
    }
}

fn serve_client(shared: &Arc<Shared>) {
    let mut backoff = BACKOFF_MIN;
    while !stopping(shared) {
        match UnixStream::connect(&shared.cfg.socket) {
            Ok(s) => {
                backoff = BACKOFF_MIN;
                serve(shared, s);
                // The VM went away: give it a moment before reconnecting.
                nap(shared, BACKOFF_MIN);
            }
            Err(_) => {
                nap(shared, backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

enum Peek {
    Closed,
    Status(u32, u32, u32),
    /// SET_VRING_ENABLE (flags, size), for the early-enable quirk in `serve`.
    VringEnable(u32, u32),
    /// SET_FEATURES: from now on the library's own checks apply.
    SetFeatures,
    Other,
}

fn peek(s: &UnixStream) -> Peek {
    let mut h = [0u8; HDR_LEN];
    loop {
        // SAFETY: `h` is a valid writable buffer of HDR_LEN bytes for the
        // duration of the call and the fd is owned by `s`, which outlives it.
        let n = unsafe {
            libc::recv(
                s.as_raw_fd(),
                h.as_mut_ptr().cast(),
                HDR_LEN,
                libc::MSG_PEEK | libc::MSG_WAITALL,
            )
        };
        if n < 0 && std::io::Error::last_os_error().kind() == ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            return Peek::Closed;
        }
        if (n as usize) < HDR_LEN {
            return Peek::Other;
        }
        let w = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let (code, flags, size) = (w(0), w(4), w(8));
        if std::env::var_os("DVS_VHOST_TRACE").is_some() {
            eprintln!("vhost: request {code} flags {flags:#x} size {size}");
        }
        return if code == SET_STATUS || code == GET_STATUS {
            Peek::Status(code, flags, size)
        } else if code == SET_VRING_ENABLE {
            Peek::VringEnable(flags, size)
        } else if code == SET_FEATURES {
            Peek::SetFeatures
        } else {
            Peek::Other
        };
    }
}

/// Consume one SET/GET_STATUS request and answer it.
fn handle_status(
    s: &mut UnixStream,
    h: &Mutex<Handler>,
    (code, flags, size): (u32, u32, u32),
) -> Result<(), String> {
    let mut msg = [0u8; HDR_LEN + 8];
    let size = size as usize;
    if size > 8 || flags & 0x3 != FLAG_VERSION || flags & FLAG_REPLY != 0 {
        return Err(format!(
            "bad status request header (flags {flags:#x}, size {size})"
        ));
    }
    s.read_exact(&mut msg[..HDR_LEN + size])
        .map_err(|e| format!("reading status request: {e}"))?;
    let mut handler = lock(h);
    if handler.protocol() & VhostUserProtocolFeatures::STATUS.bits() == 0 {
        return Err("status request without the STATUS protocol feature".into());
    }
    let reply_ack = handler.protocol() & VhostUserProtocolFeatures::REPLY_ACK.bits() != 0;
    let value = if code == SET_STATUS {
        if size != 8 {
            return Err("SET_STATUS without a u64 payload".into());
        }
        let v = u64::from_le_bytes(msg[HDR_LEN..HDR_LEN + 8].try_into().unwrap_or([0; 8]));
        handler.set_status((v & 0xff) as u8);
        if !(reply_ack && flags & FLAG_NEED_REPLY != 0) {
            return Ok(());
        }
        0
    } else {
        u64::from(handler.status())
    };
    drop(handler);
    let mut reply = [0u8; HDR_LEN + 8];
    reply[0..4].copy_from_slice(&code.to_le_bytes());
    reply[4..8].copy_from_slice(&(FLAG_VERSION | FLAG_REPLY).to_le_bytes());
    reply[8..12].copy_from_slice(&8u32.to_le_bytes());
    reply[12..20].copy_from_slice(&value.to_le_bytes());
    s.write_all(&reply)
        .map_err(|e| format!("writing status reply: {e}"))
}

/// Let the rust-vmm handler process the next request.
fn library(req: &mut BackendReqHandler<Mutex<Handler>>) -> Result<(), String> {
    req.handle_request().map_err(|e| {
        if is_disconnect(&e) {
            String::new()
        } else {
            format!("{e}")
        }
    })
}

/// Consume one request without acting on it (answering an ack if one is asked for).
fn skip_message(s: &mut UnixStream, flags: u32, size: u32) -> Result<(), String> {
    if size > 64 || flags & 0x3 != FLAG_VERSION || flags & FLAG_REPLY != 0 {
        return Err(format!(
            "bad request header (flags {flags:#x}, size {size})"
        ));
    }
    let mut msg = [0u8; HDR_LEN + 64];
    s.read_exact(&mut msg[..HDR_LEN + size as usize])
        .map_err(|e| format!("reading request: {e}"))?;
    if flags & FLAG_NEED_REPLY != 0 {
        let mut reply = [0u8; HDR_LEN + 8];
        reply[..4].copy_from_slice(&msg[..4]);
        reply[4..8].copy_from_slice(&(FLAG_VERSION | FLAG_REPLY).to_le_bytes());
        reply[8..12].copy_from_slice(&8u32.to_le_bytes());
        s.write_all(&reply)
            .map_err(|e| format!("writing ack: {e}"))?;
    }
    Ok(())
}

fn is_disconnect(e: &VuError) -> bool {
    matches!(
        e,
        VuError::Disconnected | VuError::SocketBroken(_) | VuError::PartialMessage
    )
}

/// Serve one connection until it ends, then reset the device.
fn serve(shared: &Arc<Shared>, stream: UnixStream) {
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let (Ok(mut side), Ok(stop_clone)) = (stream.try_clone(), stream.try_clone()) else {
        return;
    };
    *lock(&shared.conn) = Some(stop_clone);
    if stopping(shared) {
        // stop() may have run before the clone was visible.
        *lock(&shared.conn) = None;
        return;
    }
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let handler = Arc::new(Mutex::new(Handler::new(shared.clone())));
    let mut req = BackendReqHandler::from_stream(stream, handler.clone());
    let mut features_set = false;
    loop {
        let r = match peek(&side) {
            Peek::Closed => break,
            Peek::Status(c, f, n) => handle_status(&mut side, &handler, (c, f, n)),
            // DPDK's virtio_user in server mode, when the switch reconnects, disables its queues
            // before renegotiating anything. The library would reject that (rings cannot be
            // enabled or disabled before PROTOCOL_FEATURES is acked) and drop the connection;
            // there is nothing to disable yet, so consume it and let the renegotiation follow.
            Peek::VringEnable(f, n) if !features_set => skip_message(&mut side, f, n),
            Peek::SetFeatures => {
                features_set = true;
                library(&mut req)
            }
            Peek::VringEnable(..) | Peek::Other => library(&mut req),
        };
        if let Err(e) = r {
            if !e.is_empty() && !stopping(shared) {
                shared.protocol_errors.fetch_add(1, Ordering::Relaxed);
                shared.note_error(&format!("frontend dropped: {e}"));
            }
            break;
        }
    }
    let _ = side.shutdown(std::net::Shutdown::Both);
    *lock(&shared.conn) = None;
    lock(&handler).reset_queues();
    shared.set_link(false, 0, 0, 0);
}
