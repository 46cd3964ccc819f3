//! Packet buffers: a per-PMD pool of fixed-size frames carved from one big mapping, and the
//! `Packet` / `Batch` handles the hot path moves around.
//!
//! Each PMD thread owns its pool outright (no locks, no atomics): a frame is taken from a LIFO free
//! stack on receive and pushed back after transmit or drop, so the most recently used (cache-hot)
//! frames are reused first. The mapping is tried with 2 MiB hugepages first (`MAP_HUGETLB`, fewer
//! TLB misses, the memory DPDK and vhost-user will want later) and falls back to normal pages with a
//! logged warning when no hugepages are reserved. Every frame keeps `HEADROOM` bytes in front of the
//! packet so a VLAN push (or later an encapsulation header) is a pointer move, not a copy.
//!
//! A `Packet` is a raw pointer into the pool plus offsets. That keeps it 16 bytes and free of
//! lifetimes; the price is the ownership rule the pool enforces by construction: a frame is owned by
//! exactly one `Packet` between `alloc` and `free`, and packets never outlive their pool (the PMD
//! drains every batch before dropping the pool).

use std::ptr::NonNull;
use thiserror::Error;

/// Bytes reserved in front of every packet.
pub const HEADROOM: usize = 128;
/// Maximum packets in one burst.
pub const BATCH_SIZE: usize = 32;
/// Frame size that holds a 9000-byte MTU frame plus two VLAN tags and the headroom.
pub const JUMBO_FRAME: usize = 9216 + HEADROOM + 128;
/// Frame size for a standard 1500-byte MTU.
pub const STD_FRAME: usize = 2048;

const HUGE_PAGE: usize = 2 << 20;

/// Errors creating a pool.
#[derive(Debug, Error)]
pub enum PoolError {
    /// mmap failed even with normal pages.
    #[error("cannot map {bytes} bytes for the packet pool: {source}")]
    Map {
        /// Requested size.
        bytes: usize,
        /// The OS error.
        source: std::io::Error,
    },
    /// Bad geometry.
    #[error("invalid pool geometry: {0}")]
    Geometry(&'static str),
}

/// One packet: a frame from a pool, with the packet's bytes at `[off, off + len)`.
#[derive(Debug)]
pub struct Packet {
    frame: NonNull<u8>,
    off: u32,
    len: u32,
    cap: u32,
    /// Index of the frame in its pool.
    index: u32,
}

impl Packet {
    /// The packet bytes.
    #[inline]
    pub fn data(&self) -> &[u8] {
        // SAFETY: `frame` points at a live frame of `cap` bytes owned exclusively by this packet
        // (pool invariant), and `off + len <= cap` is kept by every mutator.
        unsafe {
            std::slice::from_raw_parts(
                self.frame.as_ptr().add(self.off as usize),
                self.len as usize,
            )
        }
    }

    /// The packet bytes, mutable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`; `&mut self` gives exclusive access to the frame.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.frame.as_ptr().add(self.off as usize),
                self.len as usize,
            )
        }
    }

    /// Packet length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True for a zero-length packet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Free bytes in front of the packet.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.off as usize
    }

    /// Largest length the frame can hold from the current offset.
    #[inline]
    pub fn capacity(&self) -> usize {
        (self.cap - self.off) as usize
    }

    /// Grow the packet at the front by `n` bytes (returns false if there is no headroom).
    #[inline]
    pub fn push_front(&mut self, n: usize) -> bool {
        if n > self.off as usize {
            return false;
        }
        self.off -= n as u32;
        self.len += n as u32;
        true
    }

    /// Remove `n` bytes from the front (returns false if the packet is shorter).
    #[inline]
    pub fn pull_front(&mut self, n: usize) -> bool {
        if n > self.len as usize {
            return false;
        }
        self.off += n as u32;
        self.len -= n as u32;
        true
    }

    /// Set the length (returns false if it does not fit in the frame).
    #[inline]
    pub fn set_len(&mut self, len: usize) -> bool {
        if len > self.capacity() {
            return false;
        }
        self.len = len as u32;
        true
    }

    /// The whole writable area from the current offset to the end of the frame (for receive
    /// paths that copy in first and then call `set_len`).
    #[inline]
    pub fn spare_mut(&mut self) -> &mut [u8] {
        // SAFETY: the frame has `cap` bytes owned exclusively by this packet; `off <= cap`.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.frame.as_ptr().add(self.off as usize),
                (self.cap - self.off) as usize,
            )
        }
    }
}

/// Up to [`BATCH_SIZE`] packets moving through the pipeline together.
#[derive(Debug, Default)]
pub struct Batch {
    pkts: Vec<Packet>,
}

impl Batch {
    /// An empty batch with room for a full burst (the only allocation; reuse batches).
    pub fn new() -> Batch {
        Batch {
            pkts: Vec::with_capacity(BATCH_SIZE),
        }
    }

    /// Number of packets.
    #[inline]
    pub fn len(&self) -> usize {
        self.pkts.len()
    }

    /// True when empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    /// True when full.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.pkts.len() >= BATCH_SIZE
    }

    /// Room left.
    #[inline]
    pub fn room(&self) -> usize {
        BATCH_SIZE - self.pkts.len()
    }

    /// Add a packet; gives it back if the batch is full.
    #[inline]
    pub fn push(&mut self, p: Packet) -> Result<(), Packet> {
        if self.is_full() {
            return Err(p);
        }
        self.pkts.push(p);
        Ok(())
    }

    /// The packets.
    #[inline]
    pub fn packets(&self) -> &[Packet] {
        &self.pkts
    }

    /// The packets, mutable.
    #[inline]
    pub fn packets_mut(&mut self) -> &mut [Packet] {
        &mut self.pkts
    }

    /// Take all packets out (keeps the capacity).
    #[inline]
    pub fn drain(&mut self) -> std::vec::Drain<'_, Packet> {
        self.pkts.drain(..)
    }
}

/// A per-PMD pool of equal-size frames.
pub struct PacketPool {
    base: NonNull<u8>,
    map_len: usize,
    frame_size: usize,
    n_frames: u32,
    free: Vec<u32>,
    huge: bool,
}

// SAFETY: the pool owns its mapping; moving it to another thread (before use) moves that ownership.
unsafe impl Send for PacketPool {}

impl PacketPool {
    /// Map `n_frames` frames of at least `frame_size` bytes, hugepages first.
    ///
    /// The frame size is rounded up to an *odd* number of 64-byte lines. With a power-of-two
    /// stride (2048) every packet would start at the same offset modulo 4 KiB and all packet
    /// headers of a burst would compete for two sets of the L1 cache; an odd stride walks them
    /// through every set (DPDK pads its mbufs for the same reason).
    pub fn new(n_frames: u32, frame_size: usize) -> Result<PacketPool, PoolError> {
        if n_frames == 0 || frame_size < HEADROOM + 64 {
            return Err(PoolError::Geometry(
                "need at least one frame of HEADROOM + 64 bytes",
            ));
        }
        let lines = frame_size.div_ceil(64) | 1;
        let frame_size = lines * 64;
        let bytes = frame_size
            .checked_mul(n_frames as usize)
            .ok_or(PoolError::Geometry("pool size overflows"))?;
        let huge_len = bytes.div_ceil(HUGE_PAGE) * HUGE_PAGE;
        let (ptr, map_len, huge) = match map(huge_len, true) {
            Ok(p) => (p, huge_len, true),
            Err(e) => {
                log_fallback(huge_len, &e);
                (
                    map(bytes, false).map_err(|source| PoolError::Map { bytes, source })?,
                    bytes,
                    false,
                )
            }
        };
        Ok(PacketPool {
            base: ptr,
            map_len,
            frame_size,
            n_frames,
            free: (0..n_frames).rev().collect(),
            huge,
        })
    }

    /// Whether the pool sits in hugepages.
    pub fn is_huge(&self) -> bool {
        self.huge
    }

    /// Frame size in bytes.
    pub fn frame_size(&self) -> usize {
        self.frame_size
    }

    /// Largest packet a frame can hold (after the headroom).
    pub fn max_packet(&self) -> usize {
        self.frame_size - HEADROOM
    }

    /// Frames currently free.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    /// Total frames.
    pub fn capacity(&self) -> usize {
        self.n_frames as usize
    }

    /// Take a frame: an empty packet with full headroom, or `None` when the pool is exhausted.
    #[inline]
    pub fn alloc(&mut self) -> Option<Packet> {
        let index = self.free.pop()?;
        // SAFETY: index < n_frames, so the offset lies inside the mapping.
        let frame = unsafe { self.base.as_ptr().add(index as usize * self.frame_size) };
        Some(Packet {
            // SAFETY: derived from a non-null mapping base plus an in-bounds offset.
            frame: unsafe { NonNull::new_unchecked(frame) },
            off: HEADROOM as u32,
            len: 0,
            cap: self.frame_size as u32,
            index,
        })
    }

    /// Copy `bytes` into a new packet.
    #[inline]
    pub fn alloc_from(&mut self, bytes: &[u8]) -> Option<Packet> {
        if bytes.len() > self.max_packet() {
            return None;
        }
        let mut p = self.alloc()?;
        p.spare_mut()[..bytes.len()].copy_from_slice(bytes);
        p.len = bytes.len() as u32;
        Some(p)
    }

    /// Copy a packet (for floods that need different edits per output).
    #[inline]
    pub fn clone_packet(&mut self, p: &Packet) -> Option<Packet> {
        let mut c = self.alloc()?;
        c.off = p.off;
        c.len = p.len;
        c.data_mut().copy_from_slice(p.data());
        Some(c)
    }

    /// Return a packet's frame to the pool.
    #[inline]
    pub fn free(&mut self, p: Packet) {
        debug_assert!(p.index < self.n_frames);
        debug_assert_eq!(
            p.frame.as_ptr() as usize,
            self.base.as_ptr() as usize + p.index as usize * self.frame_size,
            "packet freed into a pool it did not come from"
        );
        self.free.push(p.index);
    }

    /// Free the packets of `b` from index `keep` on (the frames a receive did not fill).
    #[inline]
    pub fn free_tail(&mut self, b: &mut Batch, keep: usize) {
        if keep < b.len() {
            for p in b.pkts.drain(keep..) {
                self.free.push(p.index);
            }
        }
    }

    /// Free every packet of a batch.
    #[inline]
    pub fn free_batch(&mut self, b: &mut Batch) {
        for p in b.drain() {
            self.free.push(p.index);
        }
    }
}

impl Drop for PacketPool {
    fn drop(&mut self) {
        // SAFETY: `base`/`map_len` are exactly what mmap returned; no packet outlives the pool.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.map_len);
        }
    }
}

fn map(len: usize, huge: bool) -> std::io::Result<NonNull<u8>> {
    let mut flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE;
    if huge {
        flags |= libc::MAP_HUGETLB;
    }
    // SAFETY: anonymous mapping with no address hint; the result is checked below.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    NonNull::new(p.cast()).ok_or_else(|| std::io::Error::other("mmap returned null"))
}

fn log_fallback(len: usize, e: &std::io::Error) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static ONCE: AtomicBool = AtomicBool::new(false);
    if !ONCE.swap(true, Ordering::Relaxed) {
        eprintln!(
            "dvs: warning: no hugepages for a {} MiB packet pool ({e}); using normal pages \
             (reserve with: echo 1024 > /proc/sys/vm/nr_hugepages)",
            len >> 20
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_an_odd_number_of_lines() {
        assert_eq!(
            PacketPool::new(2, STD_FRAME).unwrap().frame_size(),
            2048 + 64
        );
        assert_eq!(PacketPool::new(2, 1000).unwrap().frame_size(), 1088);
        assert_eq!(PacketPool::new(2, 1088).unwrap().frame_size(), 1088);
    }

    #[test]
    fn alloc_free_round_trip() {
        let mut pool = PacketPool::new(4, STD_FRAME).unwrap();
        let p = pool.alloc_from(&[1, 2, 3]).unwrap();
        assert_eq!(p.data(), &[1, 2, 3]);
        assert_eq!(p.headroom(), HEADROOM);
        assert_eq!(pool.available(), 3);
        pool.free(p);
        assert_eq!(pool.available(), 4);
    }

    #[test]
    fn exhaustion_is_none() {
        let mut pool = PacketPool::new(2, STD_FRAME).unwrap();
        let a = pool.alloc().unwrap();
        let b = pool.alloc().unwrap();
        assert!(pool.alloc().is_none());
        pool.free(a);
        pool.free(b);
    }

    #[test]
    fn push_pull_headroom() {
        let mut pool = PacketPool::new(1, STD_FRAME).unwrap();
        let mut p = pool.alloc_from(&[0xaa; 60]).unwrap();
        assert!(p.push_front(4));
        assert_eq!(p.len(), 64);
        assert!(p.pull_front(8));
        assert_eq!(p.len(), 56);
        assert!(!p.push_front(HEADROOM + 100));
        assert_eq!(p.headroom(), HEADROOM + 4);
        assert_eq!(p.data(), &[0xaa; 56][..]);
        pool.free(p);
    }

    #[test]
    fn jumbo_frames_fit() {
        let mut pool = PacketPool::new(2, JUMBO_FRAME).unwrap();
        let p = pool.alloc_from(&[7u8; 9018]).unwrap();
        assert_eq!(p.len(), 9018);
        pool.free(p);
    }
}
