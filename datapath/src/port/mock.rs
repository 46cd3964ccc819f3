//! An in-memory port for datapath tests and benchmarks.
//!
//! A [`MockPort`] and its [`MockHandle`] share one small state: frames the test injects are what
//! `rx_burst` returns (in order), frames the datapath transmits are collected for `take_sent`, and
//! the link state is a flag the test flips. Locks and a `VecDeque` are fine here — this port exists
//! to make datapath behaviour observable, not fast — except in the two bench modes: a *sink* only
//! counts what it is given, and *repeat* replays the injected frames forever, so a benchmark can
//! drive the pipeline without a kernel. Both still take their lock once per burst, like real ports.

use super::mtu::{self, MtuCell, MtuError};
use super::{Port, PortCounters};
use crate::mempool::{Batch, PacketPool};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// How a mock port behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockOptions {
    /// Count transmitted frames without keeping them.
    pub sink: bool,
    /// Replay injected frames cyclically instead of consuming them.
    pub repeat: bool,
    /// Largest frame the port accepts on receive (bigger injected frames count as `rx_errors`).
    pub max_frame: usize,
    /// Initial link state.
    pub link_up: bool,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            sink: false,
            repeat: false,
            max_frame: 1518,
            link_up: true,
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    inbox: Mutex<Inbox>,
    sent: Mutex<Vec<Vec<u8>>>,
    link: AtomicBool,
    sunk: AtomicUsize,
}

#[derive(Debug, Default)]
struct Inbox {
    frames: VecDeque<Vec<u8>>,
    /// Next frame to replay in repeat mode.
    cursor: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The in-memory port.
#[derive(Debug)]
pub struct MockPort {
    name: String,
    opts: MockOptions,
    shared: Arc<Shared>,
    /// Frames over it are dropped on transmit (`MTU_MAX` until the switch sets the port's).
    mtu: MtuCell,
    counters: PortCounters,
}

/// The test's side of a [`MockPort`].
#[derive(Debug, Clone)]
pub struct MockHandle {
    shared: Arc<Shared>,
}

impl MockPort {
    /// A mock port with default options.
    pub fn new(name: &str) -> (MockPort, MockHandle) {
        Self::with_options(name, MockOptions::default())
    }

    /// A port that counts transmitted frames and discards them (for benchmarks).
    pub fn sink(name: &str) -> (MockPort, MockHandle) {
        Self::with_options(
            name,
            MockOptions {
                sink: true,
                ..MockOptions::default()
            },
        )
    }

    /// A mock port with explicit options.
    pub fn with_options(name: &str, opts: MockOptions) -> (MockPort, MockHandle) {
        let shared = Arc::new(Shared::default());
        shared.link.store(opts.link_up, Ordering::Relaxed);
        let port = MockPort {
            name: name.into(),
            opts,
            shared: Arc::clone(&shared),
            mtu: MtuCell::new(mtu::MTU_MAX),
            counters: PortCounters::default(),
        };
        (port, MockHandle { shared })
    }
}

impl MockHandle {
    /// Queue a frame for `rx_burst`.
    pub fn inject(&self, frame: Vec<u8>) {
        lock(&self.shared.inbox).frames.push_back(frame);
    }

    /// Queue several frames.
    pub fn inject_all(&self, frames: impl IntoIterator<Item = Vec<u8>>) {
        lock(&self.shared.inbox).frames.extend(frames);
    }

    /// Frames injected but not yet received (in repeat mode: the replay set).
    pub fn pending(&self) -> usize {
        lock(&self.shared.inbox).frames.len()
    }

    /// Take every frame transmitted so far (empty for a sink).
    pub fn take_sent(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *lock(&self.shared.sent))
    }

    /// Frames a sink has swallowed.
    pub fn sunk(&self) -> usize {
        self.shared.sunk.load(Ordering::Relaxed)
    }

    /// Set the link state.
    pub fn set_link(&self, up: bool) {
        self.shared.link.store(up, Ordering::Relaxed);
    }
}

impl Port for MockPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "mock"
    }

    fn rx_burst(&self, rxq: u16, pool: &mut PacketPool, batch: &mut Batch) -> usize {
        if rxq != 0 || !self.link_up() {
            return 0;
        }
        let max = self.opts.max_frame.min(pool.max_packet());
        let (mut n, mut bytes, mut errors) = (0u64, 0u64, 0u64);
        let mut inbox = lock(&self.shared.inbox);
        while !batch.is_full() {
            let frame = if self.opts.repeat {
                if inbox.frames.is_empty() {
                    break;
                }
                let i = inbox.cursor % inbox.frames.len();
                inbox.cursor = i + 1;
                &inbox.frames[i]
            } else {
                match inbox.frames.front() {
                    Some(f) => f,
                    None => break,
                }
            };
            if frame.len() > max {
                errors += 1;
            } else {
                let Some(p) = pool.alloc_from(frame) else {
                    // Pool empty: leave the frame queued (and the replay cursor where it was).
                    if self.opts.repeat {
                        inbox.cursor -= 1;
                    }
                    break;
                };
                n += 1;
                bytes += p.len() as u64;
                if let Err(p) = batch.push(p) {
                    pool.free(p);
                }
            }
            if !self.opts.repeat {
                inbox.frames.pop_front();
            }
        }
        drop(inbox);
        self.counters.rx(n, bytes);
        PortCounters::add(&self.counters.rx_errors, errors);
        n as usize
    }

    fn tx_burst(&self, _txq: u16, pool: &mut PacketPool, batch: &mut Batch) {
        let count = batch.len() as u64;
        if count == 0 {
            return;
        }
        if !self.link_up() {
            PortCounters::add(&self.counters.tx_dropped, count);
            pool.free_batch(batch);
            return;
        }
        let mtu = self.mtu.get();
        if batch.packets().iter().any(|p| !mtu::fits(p.data(), mtu)) {
            // Rare: split off the frames over the MTU (dropped, counted) from the rest.
            let mut all = std::mem::replace(batch, Batch::new());
            let mut too_big = 0;
            for p in all.drain() {
                if mtu::fits(p.data(), mtu) {
                    let _ = batch.push(p);
                } else {
                    too_big += 1;
                    pool.free(p);
                }
            }
            mtu::count_too_big(&self.counters, too_big);
        }
        let count = batch.len() as u64;
        let bytes: u64 = batch.packets().iter().map(|p| p.len() as u64).sum();
        if self.opts.sink {
            self.shared
                .sunk
                .fetch_add(count as usize, Ordering::Relaxed);
        } else {
            lock(&self.shared.sent).extend(batch.packets().iter().map(|p| p.data().to_vec()));
        }
        pool.free_batch(batch);
        self.counters.tx(count, bytes);
    }

    fn link_up(&self) -> bool {
        self.shared.link.load(Ordering::Relaxed)
    }

    fn counters(&self) -> &PortCounters {
        &self.counters
    }

    fn max_frame(&self) -> usize {
        self.opts.max_frame
    }

    fn mtu(&self) -> u32 {
        self.mtu.get()
    }

    fn set_mtu(&self, mtu: u32) -> Result<(), MtuError> {
        self.mtu
            .set_checked(mtu, mtu::MTU_MAX, "mock", String::new, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mempool::{BATCH_SIZE, STD_FRAME};

    fn frame(i: u8, len: usize) -> Vec<u8> {
        vec![i; len]
    }

    #[test]
    fn injected_frames_come_out_in_order_and_sent_frames_are_collected() {
        let (port, h) = MockPort::new("m0");
        assert_eq!((port.name(), port.kind()), ("m0", "mock"));
        let mut pool = PacketPool::new(64, STD_FRAME).unwrap();
        let mut batch = Batch::new();
        h.inject_all((0..40).map(|i| frame(i, 60 + usize::from(i))));
        assert_eq!(port.rx_burst(0, &mut pool, &mut batch), BATCH_SIZE);
        assert_eq!(batch.packets()[0].data(), &frame(0, 60)[..]);
        assert_eq!(batch.packets()[31].data(), &frame(31, 91)[..]);
        assert_eq!(h.pending(), 8);
        port.tx_burst(0, &mut pool, &mut batch);
        assert!(batch.is_empty());
        assert_eq!(pool.available(), 64);
        let sent = h.take_sent();
        assert_eq!(sent.len(), BATCH_SIZE);
        assert_eq!(sent[5], frame(5, 65));
        assert!(h.take_sent().is_empty());
        assert_eq!(port.rx_burst(0, &mut pool, &mut batch), 8);
        assert_eq!(port.rx_burst(0, &mut pool, &mut batch), 0);
        pool.free_batch(&mut batch);
        let s = port.counters().snapshot();
        assert_eq!(s.rx_packets, 40);
        assert_eq!(s.rx_bytes, (0..40u64).map(|i| 60 + i).sum::<u64>());
        assert_eq!(s.tx_packets, 32);
        assert_eq!(s.tx_bytes, (0..32u64).map(|i| 60 + i).sum::<u64>());
    }

    #[test]
    fn link_down_holds_rx_and_drops_tx() {
        let (port, h) = MockPort::new("m0");
        let mut pool = PacketPool::new(8, STD_FRAME).unwrap();
        let mut batch = Batch::new();
        h.inject(frame(1, 64));
        h.set_link(false);
        assert!(!port.link_up());
        assert_eq!(port.rx_burst(0, &mut pool, &mut batch), 0);
        batch.push(pool.alloc_from(&frame(2, 64)).unwrap()).unwrap();
        port.tx_burst(0, &mut pool, &mut batch);
        assert_eq!(port.counters().snapshot().tx_dropped, 1);
        assert!(h.take_sent().is_empty());
        h.set_link(true);
        assert_eq!(port.rx_burst(0, &mut pool, &mut batch), 1);
        pool.free_batch(&mut batch);
        assert_eq!(pool.available(), 8);
    }

    #[test]
    fn oversize_frames_are_rx_errors_and_empty_pool_keeps_frames() {
        let (port, h) = MockPort::new("m0");
        let mut pool = PacketPool::new(1, STD_FRAME).unwrap();
        let mut batch = Batch::new();
        h.inject_all([frame(1, 2000), frame(2, 64), frame(3, 64)]);
        assert_eq!(port.rx_burst(0, &mut pool, &mut batch), 1);
        assert_eq!(port.counters().snapshot().rx_errors, 1);
        assert_eq!(h.pending(), 1, "third frame waits for a buffer");
        pool.free_batch(&mut batch);
        assert_eq!(port.rx_burst(0, &mut pool, &mut batch), 1);
        assert_eq!(batch.packets()[0].data(), &frame(3, 64)[..]);
        pool.free_batch(&mut batch);
    }

    #[test]
    fn sink_counts_and_repeat_replays() {
        let opts = MockOptions {
            sink: true,
            repeat: true,
            ..MockOptions::default()
        };
        let (port, h) = MockPort::with_options("bench", opts);
        let mut pool = PacketPool::new(64, STD_FRAME).unwrap();
        let mut batch = Batch::new();
        h.inject_all([frame(1, 64), frame(2, 128), frame(3, 256)]);
        for _ in 0..3 {
            assert_eq!(port.rx_burst(0, &mut pool, &mut batch), BATCH_SIZE);
            port.tx_burst(0, &mut pool, &mut batch);
        }
        assert_eq!(h.pending(), 3, "repeat mode never consumes");
        assert_eq!(h.sunk(), 3 * BATCH_SIZE);
        assert!(h.take_sent().is_empty());
        let s = port.counters().snapshot();
        assert_eq!(s.tx_packets, 96);
        // 96 frames cycling 64/128/256 bytes.
        assert_eq!(s.tx_bytes, 32 * (64 + 128 + 256));
        assert_eq!(pool.available(), 64);
    }

    #[test]
    fn handle_works_across_threads() {
        let (port, h) = MockPort::new("m0");
        let h2 = h.clone();
        std::thread::spawn(move || h2.inject(frame(9, 64)))
            .join()
            .unwrap();
        let port = Arc::new(port);
        let p2 = Arc::clone(&port);
        let n = std::thread::spawn(move || {
            let mut pool = PacketPool::new(4, STD_FRAME).unwrap();
            let mut batch = Batch::new();
            let n = p2.rx_burst(0, &mut pool, &mut batch);
            p2.tx_burst(0, &mut pool, &mut batch);
            n
        })
        .join()
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(h.take_sent(), vec![frame(9, 64)]);
    }
}
