//! Each connection's outgoing queue and the thread that writes it, so that nothing shared ever
//! waits on one connection's socket.
//!
//! Two kinds of senders use a connection. Its own thread sends replies: it may wait for room in
//! the queue ([`Outbox::send`]), which slows down only the peer that does not read its own
//! answers. Shared threads send asynchronous messages to every connection (PACKET_IN from the
//! packet-in thread; FLOW_REMOVED and PORT_STATUS from housekeeping, the control socket and
//! other connections): they never wait ([`Outbox::offer`]). When the queue already holds more
//! than [`ASYNC_LIMIT`] bytes, the message is dropped and counted, as OpenFlow allows for a
//! controller that cannot keep up, and the senders move on to the next connection.
//!
//! The writer thread sends whatever is queued, in order, with a write timeout: a peer that takes
//! nothing for that long is disconnected (the connection's thread sees its socket shut down and
//! ends). Closing the outbox wakes every waiter.

use super::Sock;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Replies wait while the queue holds more than this (a single larger message still goes when
/// the queue is empty).
pub const REPLY_LIMIT: usize = 4 << 20;
/// Asynchronous messages are dropped while the queue holds more than this.
pub const ASYNC_LIMIT: usize = 1 << 20;
/// Most bytes handed to one write.
const WRITE_CHUNK: usize = 256 << 10;

#[derive(Default)]
struct State {
    queue: VecDeque<Vec<u8>>,
    bytes: usize,
    /// Nothing more is queued; the writer ends once the queue is empty.
    draining: bool,
    closed: bool,
    /// Someone (the writer thread, or a sender writing directly) is writing to the socket.
    writing: bool,
}

/// A connection's outgoing queue.
pub struct Outbox {
    state: Mutex<State>,
    /// Signalled when something is queued, or on close.
    ready: Condvar,
    /// Signalled when bytes leave the queue, or on close.
    room: Condvar,
    /// Asynchronous messages dropped because the queue was full.
    dropped: AtomicU64,
    /// The stream; written by whoever set `writing`.
    sock: Mutex<Sock>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "connection closed")
}

impl Outbox {
    /// An outbox writing to `sock` from a thread of its own (named after `name`).
    pub fn start(sock: Sock, name: &str) -> io::Result<(Arc<Outbox>, JoinHandle<()>)> {
        let ob = Arc::new(Outbox {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            room: Condvar::new(),
            dropped: AtomicU64::new(0),
            sock: Mutex::new(sock),
        });
        let writer = ob.clone();
        let h = std::thread::Builder::new()
            .name(format!("ofp-tx-{name}"))
            .spawn(move || writer.run())?;
        Ok((ob, h))
    }

    /// Queue `bytes` (whole messages), waiting for room; fails once the outbox is closed. When
    /// nothing is queued or being written, the caller writes them itself (a reply then costs
    /// no hand-over to the writer thread; only the connection's own thread sends this way, so
    /// only it can block on its socket).
    pub fn send(&self, bytes: &[u8]) -> io::Result<()> {
        let mut s = lock(&self.state);
        while !s.closed && s.bytes > 0 && s.bytes + bytes.len() > REPLY_LIMIT {
            s = self.room.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if s.closed {
            return Err(closed());
        }
        if !s.writing && s.queue.is_empty() {
            s.writing = true;
            drop(s);
            let ok = self.sock_lock().write_all(bytes).is_ok();
            self.wrote(0, ok);
            return if ok { Ok(()) } else { Err(closed()) };
        }
        s.bytes += bytes.len();
        s.queue.push_back(bytes.to_vec());
        self.ready.notify_one();
        Ok(())
    }

    /// Queue `bytes` unless the queue is over [`ASYNC_LIMIT`] (then they are dropped and
    /// counted) or the outbox is closed. Never waits. True when queued.
    pub fn offer(&self, bytes: &[u8]) -> bool {
        let mut s = lock(&self.state);
        if s.closed {
            return false;
        }
        if s.bytes > ASYNC_LIMIT {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        s.bytes += bytes.len();
        s.queue.push_back(bytes.to_vec());
        self.ready.notify_one();
        true
    }

    /// Asynchronous messages dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Write what is queued, then stop (the connection is ending normally: its last replies,
    /// such as an ERROR before a close, still go out).
    pub fn drain(&self) {
        lock(&self.state).draining = true;
        self.ready.notify_all();
    }

    /// Stop: nothing more is queued or written, and every waiter wakes up.
    pub fn close(&self) {
        lock(&self.state).closed = true;
        self.ready.notify_all();
        self.room.notify_all();
    }

    fn sock_lock(&self) -> MutexGuard<'_, Sock> {
        self.sock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A write of `n` queued bytes (0 for a direct one) ended, well or not. Only those who have
    /// something to do are woken: on this kind of machine a needless wake-up of the writer
    /// thread per reply cost more than the rest of a FLOW_MOD.
    fn wrote(&self, n: usize, ok: bool) {
        let mut s = lock(&self.state);
        s.writing = false;
        s.bytes = s.bytes.saturating_sub(n);
        if !ok {
            // The stream may hold part of a message: it is unusable. The connection's thread
            // sees the shutdown and ends the connection.
            s.closed = true;
            self.sock_lock().shutdown();
        }
        let writer_has_work = !s.queue.is_empty() || s.draining || s.closed;
        drop(s);
        if n > 0 || !ok {
            self.room.notify_all();
        }
        if writer_has_work {
            self.ready.notify_all();
        }
    }

    fn run(&self) {
        let mut chunk = Vec::with_capacity(WRITE_CHUNK);
        loop {
            {
                let mut s = lock(&self.state);
                while !s.closed && (s.writing || (!s.draining && s.queue.is_empty())) {
                    s = self.ready.wait(s).unwrap_or_else(|e| e.into_inner());
                }
                if s.closed || s.queue.is_empty() {
                    s.closed = true;
                    drop(s);
                    self.room.notify_all();
                    break;
                }
                chunk.clear();
                while let Some(m) = s.queue.front() {
                    if !chunk.is_empty() && chunk.len() + m.len() > WRITE_CHUNK {
                        break;
                    }
                    chunk.extend_from_slice(m);
                    s.queue.pop_front();
                }
                s.writing = true;
            }
            let ok = self.sock_lock().write_all(&chunk).is_ok();
            self.wrote(chunk.len(), ok);
            if !ok {
                break;
            }
        }
    }
}
