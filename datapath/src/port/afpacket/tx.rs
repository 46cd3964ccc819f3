//! The TPACKET_V2 transmit ring: fixed slots the kernel and we hand back and forth through each
//! slot's status word. We copy a packet into the slot at our head if its status is
//! `TP_STATUS_AVAILABLE` (the kernel sets that when the skb built from the slot is freed, so
//! reclaiming is just reading the status), publish it with a release store of
//! `TP_STATUS_SEND_REQUEST`, and after the whole burst make one `sendto(fd, NULL, 0, MSG_DONTWAIT)`
//! that makes the kernel walk the ring from its own head. Kernel and user heads advance in the same
//! order, so a non-available slot at our head means the ring is full: we kick once more (a veth
//! peer usually frees slots synchronously), and frames that still find no slot are `tx_dropped`.
//!
//! A slot the kernel rejects (`TP_STATUS_WRONG_FORMAT`, e.g. longer than the MTU) would stop the
//! kernel's walk at that slot forever, so the socket runs with `PACKET_LOSS` (the kernel skips such
//! slots) and we reject what we can predict before it reaches the ring: shorter than an Ethernet
//! header as `tx_errors`; over the port's MTU (header and leading VLAN tags aside, see
//! [`crate::port::mtu`]) or longer than a slot as `too_big` drops. Should a slot still come back
//! `WRONG_FORMAT`, it is counted as an error and reused. A kick that fails with `EAGAIN`/`ENOBUFS` leaves the requests in the ring and is retried
//! on the next burst.

use super::sys::{self, Mmap};
use crate::mempool::{Batch, PacketPool};
use crate::port::mtu;
use std::mem::offset_of;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;

/// What one transmit burst did, folded into the port counters by the caller.
#[derive(Debug, Default)]
pub(super) struct TxTally {
    pub packets: u64,
    pub bytes: u64,
    pub dropped: u64,
    pub errors: u64,
    /// Frames over the port's MTU (or a slot), not sent.
    pub too_big: u64,
}

const TP_LEN: usize = offset_of!(libc::tpacket2_hdr, tp_len);

/// A mapped TPACKET_V2 transmit ring.
#[derive(Debug)]
pub(super) struct TxRing {
    map: Mmap,
    block_size: usize,
    frame_size: usize,
    frames_per_block: usize,
    frame_count: usize,
    head: usize,
    need_kick: bool,
}

impl TxRing {
    /// Wrap a mapping laid out as `tpacket_req { block_size, frame_size, frame_count }` asked for.
    pub(super) fn new(
        map: Mmap,
        block_size: usize,
        frame_size: usize,
        frame_count: usize,
    ) -> TxRing {
        let frames_per_block = block_size / frame_size;
        debug_assert!(frames_per_block > 0);
        debug_assert!(map.len() >= frame_count.div_ceil(frames_per_block) * block_size);
        TxRing {
            map,
            block_size,
            frame_size,
            frames_per_block,
            frame_count,
            head: 0,
            need_kick: false,
        }
    }

    /// Largest frame a slot holds.
    pub(super) fn slot_capacity(&self) -> usize {
        self.frame_size - sys::V2_TX_DATA
    }

    fn slot(&self, i: usize) -> *mut u8 {
        let off = (i / self.frames_per_block) * self.block_size
            + (i % self.frames_per_block) * self.frame_size;
        // SAFETY: i < frame_count, so the slot lies inside the mapping (checked in `new`).
        unsafe { self.map.base().add(off) }
    }

    /// The slot at our head if the kernel is done with it.
    fn claim(&mut self, t: &mut TxTally) -> Option<*mut u8> {
        let slot = self.slot(self.head);
        // SAFETY: slots start 16-byte aligned inside the mapping; the status word is only accessed
        // atomically by us and with barriers by the kernel.
        let status = unsafe { sys::status_word(slot, 0) }.load(Ordering::Acquire);
        if status == libc::TP_STATUS_AVAILABLE {
            return Some(slot);
        }
        if status & libc::TP_STATUS_WRONG_FORMAT != 0 {
            t.errors += 1;
            return Some(slot);
        }
        None
    }

    /// Ask the kernel to send every pending slot.
    fn kick(&mut self, fd: RawFd) {
        // SAFETY: a zero-length send with null buffers and no address is how a TX ring is flushed;
        // the kernel reads only the ring.
        let rc = unsafe {
            libc::sendto(
                fd,
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
        // Any failure (EAGAIN/ENOBUFS when the socket's send budget is used up, ENETDOWN while the
        // link flaps) leaves the requests in the ring; retry on the next burst.
        self.need_kick = rc < 0;
    }

    /// Transmit every packet of `batch` that fits `mtu`; frames go back to `pool`.
    pub(super) fn send(
        &mut self,
        fd: RawFd,
        mtu: u32,
        pool: &mut PacketPool,
        batch: &mut Batch,
        t: &mut TxTally,
    ) {
        let cap = self.slot_capacity();
        let mut queued = 0usize;
        let mut kicked = false;
        for p in batch.drain() {
            let data = p.data();
            let len = data.len();
            if len < mtu::ETH_HLEN {
                t.errors += 1;
                pool.free(p);
                continue;
            }
            if len > cap || !mtu::fits(data, mtu) {
                t.too_big += 1;
                pool.free(p);
                continue;
            }
            let mut slot = self.claim(t);
            if slot.is_none() && !kicked {
                self.kick(fd);
                kicked = true;
                queued = 0;
                slot = self.claim(t);
            }
            let Some(slot) = slot else {
                t.dropped += 1;
                pool.free(p);
                continue;
            };
            // SAFETY: the slot is ours (status AVAILABLE); `V2_TX_DATA + len <= frame_size` was
            // checked via `cap`; the length field lies in the slot header.
            unsafe {
                std::ptr::copy_nonoverlapping(data.as_ptr(), slot.add(sys::V2_TX_DATA), len);
                std::ptr::write_volatile(slot.add(TP_LEN).cast::<u32>(), len as u32);
                sys::status_word(slot, 0).store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
            }
            self.head = (self.head + 1) % self.frame_count;
            queued += 1;
            t.packets += 1;
            t.bytes += len as u64;
            pool.free(p);
        }
        if queued > 0 || self.need_kick {
            self.kick(fd);
        }
    }
}
