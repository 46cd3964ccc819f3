//! The TPACKET_V3 receive ring: the kernel fills whole blocks of frames and hands each block over
//! by setting `TP_STATUS_USER` in its descriptor; we walk the frames of the oldest user-owned block,
//! copy each into a pool packet and give the block back (`TP_STATUS_KERNEL`) once its last frame is
//! consumed. A burst may stop in the middle of a block (batch full, pool empty); the cursor remembers
//! where, so the block stays ours until the next burst finishes it.
//!
//! Block-based V3 is used (rather than V2's fixed slots) because variable-size frames pack densely
//! and one status word covers many packets: a burst touches one or two descriptors instead of 32.
//! The price is latency for sparse traffic: a partly filled block is only handed over when the
//! kernel's retire timer fires, which `block_timeout_ms` bounds.
//!
//! The kernel untags every received 802.1Q/802.1ad frame before packet sockets see it and reports
//! the tag in the frame header (`TP_STATUS_VLAN_VALID`); we put it back so the switch sees the wire
//! format. Frames the kernel marks `TP_STATUS_CSUMNOTREADY` (sent by a local stack with checksum
//! offload, typical on veth) get their TCP/UDP checksum completed in software, since the frame
//! leaves this host's checksum metadata behind when the switch forwards it.

use super::csum;
use super::sys::{self, Mmap};
use crate::mempool::{Batch, PacketPool};
use std::sync::atomic::{fence, Ordering};

/// What one receive burst did, folded into the port counters by the caller.
#[derive(Debug, Default)]
pub(super) struct RxTally {
    pub packets: u64,
    pub bytes: u64,
    pub errors: u64,
}

/// Position inside the block currently owned by user space.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    remaining: u32,
    off: usize,
}

/// A mapped TPACKET_V3 receive ring.
#[derive(Debug)]
pub(super) struct RxRing {
    map: Mmap,
    block_size: usize,
    block_count: usize,
    block: usize,
    cur: Option<Cursor>,
}

/// One frame header, decoded.
struct Frame {
    next: usize,
    snaplen: usize,
    len: usize,
    mac: usize,
    status: u32,
    tci: u16,
    tpid: u16,
    pkttype: u8,
}

impl RxRing {
    /// Wrap a mapping of `block_count` blocks of `block_size` bytes.
    pub(super) fn new(map: Mmap, block_size: usize, block_count: usize) -> RxRing {
        debug_assert!(map.len() >= block_size * block_count);
        RxRing {
            map,
            block_size,
            block_count,
            block: 0,
            cur: None,
        }
    }

    fn block_base(&self) -> *mut u8 {
        // SAFETY: block < block_count, so the offset stays inside the mapping.
        unsafe { self.map.base().add(self.block * self.block_size) }
    }

    /// Take ownership of the current block if the kernel has handed it over.
    fn open_block(&mut self) -> Option<Cursor> {
        let base = self.block_base();
        // SAFETY: the descriptor sits at the (page-aligned) block start inside the mapping, and the
        // status word is only accessed atomically by us; the kernel publishes it with smp_wmb.
        let status = unsafe { sys::status_word(base, sys::BLOCK_STATUS) };
        if status.load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
            return None;
        }
        // Everything the kernel wrote into the block is visible after the acquire above.
        fence(Ordering::Acquire);
        // SAFETY: the block is ours (TP_STATUS_USER); the fields lie inside its descriptor.
        let (n, first) = unsafe {
            (
                std::ptr::read_volatile(base.add(sys::BLOCK_NUM_PKTS).cast::<u32>()),
                std::ptr::read_volatile(base.add(sys::BLOCK_FIRST_PKT).cast::<u32>()),
            )
        };
        Some(Cursor {
            remaining: n,
            off: first as usize,
        })
    }

    /// Hand the current block back to the kernel and move to the next one.
    fn release_block(&mut self) {
        let base = self.block_base();
        // SAFETY: as in `open_block`; the release store orders all our reads of the block before
        // the kernel may overwrite it.
        let status = unsafe { sys::status_word(base, sys::BLOCK_STATUS) };
        status.store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.block = (self.block + 1) % self.block_count;
        self.cur = None;
    }

    /// Decode the frame header at `off` in the current block, or `None` if it does not fit.
    fn frame_at(&self, off: usize) -> Option<Frame> {
        if off < sys::BLOCK_DESC_LEN || off + sys::V3_SLL + sys::SLL_PKTTYPE + 1 > self.block_size {
            return None;
        }
        // SAFETY: the block is user-owned and `off + header` is inside it (checked above); the
        // header is 16-byte aligned by the kernel, and read_unaligned does not rely on it anyway.
        let (h, pkttype) = unsafe {
            let p = self.block_base().add(off);
            (
                std::ptr::read_unaligned(p.cast::<libc::tpacket3_hdr>()),
                *p.add(sys::V3_SLL + sys::SLL_PKTTYPE),
            )
        };
        let f = Frame {
            next: h.tp_next_offset as usize,
            snaplen: h.tp_snaplen as usize,
            len: h.tp_len as usize,
            mac: h.tp_mac as usize,
            status: h.tp_status,
            tci: h.hv1.tp_vlan_tci as u16,
            tpid: h.hv1.tp_vlan_tpid,
            pkttype,
        };
        if off + f.mac + f.snaplen > self.block_size {
            return None;
        }
        Some(f)
    }

    /// Receive up to `batch.room()` frames.
    pub(super) fn recv(&mut self, pool: &mut PacketPool, batch: &mut Batch, t: &mut RxTally) {
        let max = pool.max_packet();
        while !batch.is_full() {
            let mut cur = match self.cur {
                Some(c) => c,
                None => match self.open_block() {
                    Some(c) => c,
                    None => return,
                },
            };
            while cur.remaining > 0 && !batch.is_full() {
                let Some(f) = self.frame_at(cur.off) else {
                    // A header that does not fit its block: give up on the rest of the block.
                    t.errors += 1;
                    cur.remaining = 0;
                    break;
                };
                if f.pkttype != libc::PACKET_OUTGOING
                    && !self.deliver(&f, cur.off, max, pool, batch, t)
                {
                    // Pool exhausted: keep the frame for the next burst.
                    self.cur = Some(cur);
                    return;
                }
                cur.remaining -= 1;
                cur.off += f.next;
            }
            if cur.remaining == 0 {
                self.release_block();
            } else {
                self.cur = Some(cur);
            }
        }
    }

    /// Copy one frame into a pool packet; false only when the pool is empty.
    fn deliver(
        &self,
        f: &Frame,
        off: usize,
        max: usize,
        pool: &mut PacketPool,
        batch: &mut Batch,
        t: &mut RxTally,
    ) -> bool {
        let tagged = f.status & libc::TP_STATUS_VLAN_VALID != 0;
        let out_len = f.snaplen + if tagged { 4 } else { 0 };
        if f.snaplen < f.len || out_len > max || f.snaplen < 12 {
            // Truncated by the ring or too big for a pool frame (e.g. a GSO super-frame).
            t.errors += 1;
            return true;
        }
        let Some(mut p) = pool.alloc() else {
            return false;
        };
        // SAFETY: `frame_at` checked `off + mac + snaplen <= block_size`; the block is user-owned.
        let src = unsafe {
            std::slice::from_raw_parts(self.block_base().add(off + f.mac).cast_const(), f.snaplen)
        };
        let dst = &mut p.spare_mut()[..out_len];
        if tagged {
            let tpid = if f.status & libc::TP_STATUS_VLAN_TPID_VALID != 0 && f.tpid != 0 {
                f.tpid
            } else {
                0x8100
            };
            dst[..12].copy_from_slice(&src[..12]);
            dst[12..14].copy_from_slice(&tpid.to_be_bytes());
            dst[14..16].copy_from_slice(&f.tci.to_be_bytes());
            dst[16..].copy_from_slice(&src[12..]);
        } else {
            dst.copy_from_slice(src);
        }
        if f.status & libc::TP_STATUS_CSUMNOTREADY != 0 {
            csum::complete_l4(dst);
        }
        p.set_len(out_len);
        t.packets += 1;
        t.bytes += out_len as u64;
        if let Err(p) = batch.push(p) {
            // Unreachable: the caller checked the batch has room.
            pool.free(p);
        }
        true
    }
}
