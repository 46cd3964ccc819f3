//! The two halves of an AF_XDP queue and their bursts.
//!
//! The UMEM is split once at open: the first `n_rx` frames belong to the receive side and cycle
//! fill ring -> kernel -> RX ring -> (copied out) -> fill ring; the rest belong to the transmit
//! side and cycle free stack -> TX ring -> kernel -> completion ring -> free stack. Each side
//! touches only its own frames and its own two rings, so [`RxQueue`] and [`TxQueue`] sit behind
//! separate locks and a PMD receiving never waits for one transmitting.
//!
//! Receive copies every frame out of the UMEM into a [`PacketPool`] packet and gives the UMEM
//! frame straight back to the fill ring. The switch keeps its own per-PMD pools (headroom for
//! VLAN pushes, one free-list discipline for every port kind), so the copy is the price of not
//! lending UMEM frames to the pipeline. A zero-copy path would instead wrap the UMEM frame itself
//! in a `Packet` (the UMEM would become a pool whose frames are refilled lazily), release the RX
//! descriptor at once, and return the frame to the fill ring when the packet is freed — or put it
//! straight into the TX ring of the same UMEM when forwarding between queues sharing it.
//! Transmit copies each packet into a free UMEM frame for the same reason.
//!
//! Wakeups honour `XDP_USE_NEED_WAKEUP`: at most one `sendto` (TX) or `recvfrom` (fill) per burst,
//! and only when the kernel set the ring's need-wakeup flag.

use crate::mempool::{Batch, PacketPool};
use std::io;
use xdp_sys as sys;

/// What one receive burst did.
#[derive(Debug, Default)]
pub(super) struct RxTally {
    pub packets: u64,
    pub bytes: u64,
    pub errors: u64,
}

/// What one transmit burst did.
#[derive(Debug, Default)]
pub(super) struct TxTally {
    pub packets: u64,
    pub bytes: u64,
    pub dropped: u64,
    pub errors: u64,
    /// Frames over the port's MTU (or a UMEM frame), not sent.
    pub too_big: u64,
}

/// Receive side: RX ring, fill ring, and the receive frames not currently in the fill ring.
pub(super) struct RxQueue {
    rx: *mut sys::xsk_ring_cons,
    fill: *mut sys::xsk_ring_prod,
    umem: *mut u8,
    umem_len: u64,
    chunk_mask: u64,
    fd: i32,
    /// Frames owned by us, waiting for fill-ring room (capacity = all receive frames).
    spare: Vec<u64>,
}

// SAFETY: the ring pointers target heap-pinned structs and kernel mappings owned by the port's
// `Xsk`, which outlives the queue; the queue is only used behind a Mutex.
unsafe impl Send for RxQueue {}

impl RxQueue {
    /// A receive queue owning frames `[0, n_rx)` of `frame_size` bytes; all go to the fill ring.
    pub(super) fn new(
        rx: *mut sys::xsk_ring_cons,
        fill: *mut sys::xsk_ring_prod,
        umem: *mut u8,
        umem_len: usize,
        frame_size: u32,
        n_rx: u32,
        fd: i32,
    ) -> RxQueue {
        let mut q = RxQueue {
            rx,
            fill,
            umem,
            umem_len: umem_len as u64,
            chunk_mask: !(u64::from(frame_size) - 1),
            fd,
            spare: (0..u64::from(n_rx))
                .rev()
                .map(|i| i * u64::from(frame_size))
                .collect(),
        };
        q.refill();
        q
    }

    /// Move spare frames into the fill ring; kick the kernel if it asks.
    fn refill(&mut self) {
        let want = self.spare.len() as u32;
        if want > 0 {
            // SAFETY: `fill` is our mapped fill ring, used only under the queue lock.
            let n = unsafe { sys::xsk_prod_nb_free(self.fill, want) }.min(want);
            let mut idx = 0u32;
            // SAFETY: as above; `n` entries are free, so the reservation succeeds.
            if n > 0 && unsafe { sys::xsk_ring_prod__reserve(self.fill, n, &mut idx) } == n {
                for i in 0..n {
                    let addr = self.spare.pop().unwrap_or_default();
                    // SAFETY: entry `idx + i` was reserved above.
                    unsafe {
                        *sys::xsk_ring_prod__fill_addr(self.fill, idx.wrapping_add(i)) = addr
                    };
                }
                // SAFETY: the `n` reserved entries are written.
                unsafe { sys::xsk_ring_prod__submit(self.fill, n) };
            }
        }
        // SAFETY: mapped fill ring.
        if unsafe { sys::xsk_ring_prod__needs_wakeup(self.fill) } != 0 {
            // SAFETY: a zero-length non-blocking recvfrom only wakes the driver's RX path.
            unsafe {
                libc::recvfrom(
                    self.fd,
                    std::ptr::null_mut(),
                    0,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
        }
    }

    /// Copy up to `batch.room()` received frames into pool packets.
    pub(super) fn recv(&mut self, pool: &mut PacketPool, batch: &mut Batch, t: &mut RxTally) {
        let want = batch.room().min(pool.available()) as u32;
        let mut idx = 0u32;
        let n = if want == 0 {
            0
        } else {
            // SAFETY: `rx` is our mapped RX ring, used only under the queue lock.
            unsafe { sys::xsk_ring_cons__peek(self.rx, want, &mut idx) }
        };
        let max = pool.max_packet();
        for i in 0..n {
            // SAFETY: entry `idx + i` was peeked and is not yet released.
            let d = unsafe { *sys::xsk_ring_cons__rx_desc(self.rx, idx.wrapping_add(i)) };
            self.spare.push(d.addr & self.chunk_mask);
            let len = d.len as usize;
            if len > max || d.addr.saturating_add(u64::from(d.len)) > self.umem_len {
                t.errors += 1;
                continue;
            }
            let Some(mut p) = pool.alloc() else {
                // Cannot happen (n <= available); treat as a drop rather than panic.
                t.errors += 1;
                continue;
            };
            // SAFETY: `[addr, addr + len)` lies inside the UMEM (checked above) and belongs to us
            // until the frame goes back to the fill ring below.
            let src = unsafe { std::slice::from_raw_parts(self.umem.add(d.addr as usize), len) };
            p.spare_mut()[..len].copy_from_slice(src);
            p.set_len(len);
            t.packets += 1;
            t.bytes += len as u64;
            if let Err(p) = batch.push(p) {
                pool.free(p);
            }
        }
        if n > 0 {
            // SAFETY: the `n` peeked descriptors were read above.
            unsafe { sys::xsk_ring_cons__release(self.rx, n) };
        }
        self.refill();
    }
}

/// Transmit side: TX ring, completion ring, and the free transmit frames.
pub(super) struct TxQueue {
    tx: *mut sys::xsk_ring_prod,
    comp: *mut sys::xsk_ring_cons,
    umem: *mut u8,
    chunk_mask: u64,
    frame_size: usize,
    comp_size: u32,
    fd: i32,
    /// Free transmit frames (capacity = all transmit frames, so pushes never allocate).
    free: Vec<u64>,
}

// SAFETY: as for RxQueue.
unsafe impl Send for TxQueue {}

impl TxQueue {
    /// A transmit queue owning frames `[first, first + n)`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        tx: *mut sys::xsk_ring_prod,
        comp: *mut sys::xsk_ring_cons,
        umem: *mut u8,
        frame_size: u32,
        comp_size: u32,
        first: u32,
        n: u32,
        fd: i32,
    ) -> TxQueue {
        let fs = u64::from(frame_size);
        TxQueue {
            tx,
            comp,
            umem,
            chunk_mask: !(fs - 1),
            frame_size: frame_size as usize,
            comp_size,
            fd,
            free: (u64::from(first)..u64::from(first) + u64::from(n))
                .rev()
                .map(|i| i * fs)
                .collect(),
        }
    }

    /// Recycle completed transmit frames.
    fn reap(&mut self) {
        let mut idx = 0u32;
        // SAFETY: `comp` is our mapped completion ring, used only under the queue lock.
        let n = unsafe { sys::xsk_ring_cons__peek(self.comp, self.comp_size, &mut idx) };
        for i in 0..n {
            // SAFETY: entry `idx + i` was peeked and is not yet released.
            let addr = unsafe { *sys::xsk_ring_cons__comp_addr(self.comp, idx.wrapping_add(i)) };
            if self.free.len() < self.free.capacity() {
                self.free.push(addr & self.chunk_mask);
            }
        }
        if n > 0 {
            // SAFETY: the `n` peeked entries were read.
            unsafe { sys::xsk_ring_cons__release(self.comp, n) };
        }
    }

    /// Copy every packet of `batch` that fits `mtu` into a UMEM frame and queue it; what finds no
    /// frame or ring slot is dropped. Every packet goes back to `pool`.
    pub(super) fn send(
        &mut self,
        mtu: u32,
        pool: &mut PacketPool,
        batch: &mut Batch,
        t: &mut TxTally,
    ) {
        self.reap();
        let mut queued = 0u32;
        let mut full = false;
        for p in batch.drain() {
            let len = p.len();
            if len > self.frame_size || !crate::port::mtu::fits(p.data(), mtu) {
                t.too_big += 1;
                pool.free(p);
                continue;
            }
            let mut idx = 0u32;
            let ok = len >= 14 && !full && !self.free.is_empty() && {
                // SAFETY: `tx` is our mapped TX ring, used only under the queue lock.
                let r = unsafe { sys::xsk_ring_prod__reserve(self.tx, 1, &mut idx) };
                full = r == 0;
                !full
            };
            if !ok {
                t.dropped += 1;
                pool.free(p);
                continue;
            }
            let addr = self.free.pop().unwrap_or_default();
            // SAFETY: `addr` is one of our free transmit frames of `frame_size >= len` bytes,
            // inside the UMEM; nobody else touches it until its completion comes back.
            unsafe {
                std::ptr::copy_nonoverlapping(p.data().as_ptr(), self.umem.add(addr as usize), len)
            };
            // SAFETY: entry `idx` was reserved above.
            let d = unsafe { &mut *sys::xsk_ring_prod__tx_desc(self.tx, idx) };
            d.addr = addr;
            d.len = len as u32;
            d.options = 0;
            queued += 1;
            t.bytes += len as u64;
            pool.free(p);
        }
        t.packets += u64::from(queued);
        if queued > 0 {
            // SAFETY: the `queued` reserved descriptors are written, in reservation order.
            unsafe { sys::xsk_ring_prod__submit(self.tx, queued) };
        }
        self.kick(t);
    }

    /// One `sendto` if the kernel wants a wakeup and the TX ring holds descriptors.
    fn kick(&mut self, t: &mut TxTally) {
        // SAFETY: mapped TX ring, under the queue lock.
        let pending = unsafe {
            let size = (*self.tx).size;
            sys::xsk_prod_nb_free(self.tx, size) < size
        };
        // SAFETY: as above.
        if !pending || unsafe { sys::xsk_ring_prod__needs_wakeup(self.tx) } == 0 {
            return;
        }
        // SAFETY: a zero-length non-blocking sendto on an AF_XDP socket only starts transmission.
        let rc = unsafe {
            libc::sendto(
                self.fd,
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
        if rc < 0 {
            match io::Error::last_os_error().raw_os_error() {
                // Busy driver, full completion ring, link down: the descriptors stay queued and
                // the next burst kicks again.
                Some(libc::EAGAIN | libc::EBUSY | libc::ENOBUFS | libc::ENETDOWN) => {}
                _ => t.errors += 1,
            }
        }
    }
}
