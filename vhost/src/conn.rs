//! The protocol thread: accept (server role) or connect with backoff
//! (client role), then serve one frontend at a time with rust-vmm's
//! `BackendReqHandler` until the socket closes or the frontend violates the
//! protocol; either way the device is reset (link down, rings and memory
//! dropped under the queue locks) and we go back to accepting/connecting.
//!
//! Before each request the loop peeks at its header: the few requests the
//! library does not know, or checks more strictly than QEMU's ordering
//! allows, are answered by [`crate::prefilter`]; everything else goes to the
//! library untouched.

use std::io::ErrorKind;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rvhost::vhost_user::{BackendReqHandler, Error as VuError};

use crate::device::{lock, Shared};
use crate::prefilter::{self, Peeked};
use crate::protocol::Handler;

const POLL: Duration = Duration::from_millis(20);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Thread body. `ours` identifies the server socket file this device bound.
pub(crate) fn run(shared: Arc<Shared>, listener: Option<UnixListener>, ours: Option<(u64, u64)>) {
    match listener {
        Some(l) => serve_listener(&shared, &l),
        None => serve_client(&shared),
    }
    // Remove the server socket only if the path is still ours: a port re-created with the
    // same path (a reload changing its settings) binds its new socket before this one stops.
    if shared.cfg.role == crate::Role::Server
        && ours.is_some()
        && socket_identity(&shared.cfg.socket) == ours
    {
        let _ = std::fs::remove_file(&shared.cfg.socket);
    }
}

/// (device, inode) of the file at `path`, if any.
pub(crate) fn socket_identity(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
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
    loop {
        let r = match prefilter::peek(&side) {
            Peeked::Closed => break,
            Peeked::Ours(hdr) => prefilter::handle(&mut side, &handler, hdr),
            Peeked::Library => library(&mut req),
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
    shared.disconnected();
}
