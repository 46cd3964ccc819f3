//! The driver (guest) side of one split virtqueue living in [`GuestMemory`]:
//! descriptor table, available ring and used ring, per virtio 1.x §2.7.
//!
//! It is deliberately low level. Well-behaved helpers (`add_chain`) sit next
//! to raw ones (`write_desc`, `push_head`, `set_avail_idx_raw`) so that tests
//! can build any chain a hostile guest could: loops, out-of-range indexes,
//! wrong direction flags, bogus indirect tables, or an available index that
//! jumps ahead of the ring. Descriptor slots are handed out from a free list
//! and come back when the device returns the chain head in the used ring.

use std::collections::HashMap;
use std::sync::atomic::{fence, Ordering};

use super::memory::GuestMemory;

pub const VRING_DESC_F_NEXT: u16 = 1;
pub const VRING_DESC_F_WRITE: u16 = 2;
pub const VRING_DESC_F_INDIRECT: u16 = 4;

/// One descriptor as the guest writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Desc {
    pub addr: u64,
    pub len: u32,
    pub flags: u16,
    pub next: u16,
}

/// One used-ring element as the device wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Used {
    pub id: u32,
    pub len: u32,
}

/// Guest-physical placement of one queue.
#[derive(Clone, Copy, Debug)]
pub struct QueueLayout {
    pub size: u16,
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
    /// Start of this queue's buffer slots: one `slot_len` slot per descriptor.
    pub bufs: u64,
    pub slot_len: u32,
}

pub struct SplitQueue {
    pub layout: QueueLayout,
    /// The driver's available index (next slot it will publish).
    avail_idx: u16,
    /// How far the driver has consumed the used ring.
    last_used: u16,
    free: Vec<u16>,
    /// head -> descriptor slots of the chain, freed when the head is used.
    chains: HashMap<u16, Vec<u16>>,
}

impl SplitQueue {
    /// Zeroes the rings and returns a queue with every descriptor free.
    pub fn new(mem: &GuestMemory, layout: QueueLayout) -> Self {
        let n = usize::from(layout.size);
        mem.fill(layout.desc, 16 * n, 0);
        mem.fill(layout.avail, 6 + 2 * n, 0);
        mem.fill(layout.used, 6 + 8 * n, 0);
        Self {
            layout,
            avail_idx: 0,
            last_used: 0,
            free: (0..layout.size).rev().collect(),
            chains: HashMap::new(),
        }
    }

    pub fn size(&self) -> u16 {
        self.layout.size
    }

    /// Guest-physical address of descriptor slot `i`'s private buffer.
    pub fn slot(&self, i: u16) -> u64 {
        self.layout.bufs + u64::from(i) * u64::from(self.layout.slot_len)
    }

    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    /// Takes `n` free descriptor slots (the chain's head first).
    pub fn alloc(&mut self, n: usize) -> Vec<u16> {
        assert!(self.free.len() >= n, "test bug: queue out of descriptors");
        let at = self.free.len() - n;
        let mut v = self.free.split_off(at);
        v.reverse();
        v
    }

    pub fn write_desc(&self, mem: &GuestMemory, i: u16, d: Desc) {
        // Raw index on purpose: attacks may aim at any slot, but the write
        // itself must stay inside the table.
        let at = self.layout.desc + 16 * u64::from(i % self.layout.size);
        mem.write_u64(at, d.addr);
        mem.write_u32(at + 8, d.len);
        mem.write_u16(at + 12, d.flags);
        mem.write_u16(at + 14, d.next);
    }

    /// Writes `descs` into the slots `ids` (linking them with NEXT unless the
    /// caller already set up `next`/flags), records the chain and publishes its head.
    pub fn add_raw_chain(&mut self, mem: &GuestMemory, ids: &[u16], descs: &[Desc]) -> u16 {
        assert_eq!(ids.len(), descs.len());
        for (&i, &d) in ids.iter().zip(descs) {
            self.write_desc(mem, i, d);
        }
        let head = ids[0];
        self.chains.insert(head, ids.to_vec());
        self.push_head(mem, head);
        head
    }

    /// A well-formed chain of `segments` using each slot's private buffer;
    /// `lens[k]` bytes in segment k. Device-writable if `write`.
    pub fn add_chain(&mut self, mem: &GuestMemory, lens: &[u32], write: bool) -> (u16, Vec<u16>) {
        let ids = self.alloc(lens.len());
        let descs: Vec<Desc> = ids
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                assert!(
                    lens[k] <= self.layout.slot_len,
                    "test bug: segment larger than slot"
                );
                let last = k + 1 == ids.len();
                Desc {
                    addr: self.slot(i),
                    len: lens[k],
                    flags: if write { VRING_DESC_F_WRITE } else { 0 }
                        | if last { 0 } else { VRING_DESC_F_NEXT },
                    next: if last { 0 } else { ids[k + 1] },
                }
            })
            .collect();
        let head = self.add_raw_chain(mem, &ids, &descs);
        (head, ids)
    }

    /// Puts `head` in the next available-ring slot and publishes the index.
    pub fn push_head(&mut self, mem: &GuestMemory, head: u16) {
        let slot = self.avail_idx % self.layout.size;
        mem.write_u16(self.layout.avail + 4 + 2 * u64::from(slot), head);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        fence(Ordering::SeqCst);
        mem.write_u16(self.layout.avail + 2, self.avail_idx);
        fence(Ordering::SeqCst);
    }

    /// Writes the available index without touching the driver's own count
    /// (attack: jump ahead); `restore_avail_idx` puts the honest value back.
    pub fn set_avail_idx_raw(&self, mem: &GuestMemory, idx: u16) {
        fence(Ordering::SeqCst);
        mem.write_u16(self.layout.avail + 2, idx);
        fence(Ordering::SeqCst);
    }

    pub fn avail_idx(&self) -> u16 {
        self.avail_idx
    }

    pub fn restore_avail_idx(&self, mem: &GuestMemory) {
        self.set_avail_idx_raw(mem, self.avail_idx);
    }

    /// The device's used index as currently published.
    pub fn used_idx(&self, mem: &GuestMemory) -> u16 {
        let v = mem.read_u16(self.layout.used + 2);
        fence(Ordering::SeqCst);
        v
    }

    /// Next used element, if the device published one, without consuming it.
    pub fn peek_used(&self, mem: &GuestMemory) -> Option<Used> {
        if self.used_idx(mem) == self.last_used {
            return None;
        }
        let slot = self.last_used % self.layout.size;
        let at = self.layout.used + 4 + 8 * u64::from(slot);
        Some(Used {
            id: mem.read_u32(at),
            len: mem.read_u32(at + 4),
        })
    }

    /// Next used element, if the device published one; frees its chain.
    pub fn pop_used(&mut self, mem: &GuestMemory) -> Option<Used> {
        let u = self.peek_used(mem)?;
        self.last_used = self.last_used.wrapping_add(1);
        if let Ok(head) = u16::try_from(u.id) {
            if let Some(ids) = self.chains.remove(&head) {
                self.free.extend(ids);
            }
        }
        Some(u)
    }

    /// Descriptor slots of a chain still owned by the device.
    pub fn chain(&self, head: u16) -> Option<&[u16]> {
        self.chains.get(&head).map(Vec::as_slice)
    }

    /// Used entries the device has published that the driver has not popped.
    pub fn pending_used(&self, mem: &GuestMemory) -> u16 {
        self.used_idx(mem).wrapping_sub(self.last_used)
    }
}
