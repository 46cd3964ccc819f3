//! Split virtqueue mechanics for a polling device: avail-ring consumption,
//! descriptor-chain walking with every hostile-guest check, batched used-ring
//! publication and the interrupt/kick suppression decisions.
//!
//! The ring is read through three `VolatileSlice`s (descriptor table, avail
//! ring, used ring) resolved from guest memory once per burst by
//! [`SplitRing::view`]; after that every access is an offset into a slice
//! whose length and alignment were checked when the view was made, so a
//! descriptor read costs no region lookup. Indices are free-running `u16`s
//! as in the virtio spec; the slot is `idx % size` (size is a power of two).
//!
//! Per burst the caller does: [`SplitRing::pending`] (one acquire load of
//! `avail->idx`), [`SplitRing::avail_head`] for each chain it takes,
//! [`SplitRing::walk`] over the chain, [`SplitRing::put_used`] for each
//! completed chain (plain writes to slots the guest cannot look at yet), and
//! one [`SplitRing::finish`] which publishes `used->idx` with a single
//! release store and decides whether the guest wants an interrupt
//! (`VRING_AVAIL_F_NO_INTERRUPT`, or `used_event` with `EVENT_IDX`); the
//! fence that decision needs is paid at once for a guest that wants
//! interrupts and every few bursts for a polling one, and
//! [`SplitRing::settle`] lets the device pay it when a ring goes quiet. Kicks
//! are suppressed for good: `VRING_USED_F_NO_NOTIFY` without `EVENT_IDX`,
//! and with it an `avail_event` parked far ahead of anything the guest can
//! reach, refreshed only every 8K consumed entries to keep that cache line
//! quiet.
//!
//! A guest that publishes an avail index more than `size` ahead is counted
//! once per distinct bad value and the ring is left alone until the index
//! makes sense again; nothing here can panic on guest data.

use std::sync::atomic::{fence, Ordering};

use vm_memory::{
    Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, VolatileMemory, VolatileSlice,
};

/// Largest split-ring size the spec allows.
pub const MAX_QUEUE_SIZE: u16 = 32768;

const DESC_SIZE: usize = 16;
/// Descriptor continues via `next`.
pub const VRING_DESC_F_NEXT: u16 = 1;
/// Buffer is device-writable.
pub const VRING_DESC_F_WRITE: u16 = 2;
/// Buffer holds an indirect descriptor table (not negotiated by us).
pub const VRING_DESC_F_INDIRECT: u16 = 4;
const VRING_USED_F_NO_NOTIFY: u16 = 1;
const VRING_AVAIL_F_NO_INTERRUPT: u16 = 1;
/// How far `avail_event` is parked beyond `last_avail + size`.
const AVAIL_EVENT_PARK: u16 = 0x4000;
/// Refresh the parked `avail_event` after this many consumed entries.
const AVAIL_EVENT_REFRESH: u16 = 0x2000;
/// Bursts a polling guest's "no interrupt" is trusted without a fence.
pub(crate) const SETTLE_EVERY: u16 = 8;

/// Why a ring could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VringError {
    /// Queue size is zero, too large or not a power of two.
    #[error("queue size {0} is not a power of two in 1..=32768")]
    BadSize(u32),
    /// A ring area does not have the alignment the spec requires.
    #[error("{0} ring at {1:#x} is misaligned")]
    Misaligned(&'static str, u64),
    /// A ring area is not inside one guest memory region.
    #[error("{0} ring at {1:#x} is not inside guest memory")]
    OutsideMemory(&'static str, u64),
    /// A ring address (frontend virtual address) is in no memory region.
    #[error("{0} ring address {1:#x} is not in the memory table")]
    Untranslatable(&'static str, u64),
}

/// Why one descriptor chain was rejected (each is a counted bad descriptor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainError {
    /// The avail ring named a head index `>= size`.
    HeadOutOfRange,
    /// A descriptor's `next` is `>= size`.
    NextOutOfRange,
    /// More than `size` descriptors: a loop or a lie.
    TooLong,
    /// `VRING_DESC_F_INDIRECT` without the feature.
    Indirect,
    /// A device-writable buffer on a TX chain or a readable one on RX.
    WrongDirection,
    /// A buffer outside guest memory (or straddling two regions).
    OutsideMemory,
    /// Shorter than the virtio-net header.
    TooShort,
    /// More segments than the per-frame scratch can hold.
    TooManySegments,
}

/// Guest-physical addresses of the three ring areas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VringAddrs {
    /// Descriptor table.
    pub desc: GuestAddress,
    /// Avail (driver) ring.
    pub avail: GuestAddress,
    /// Used (device) ring.
    pub used: GuestAddress,
}

/// One descriptor as read from the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Desc {
    /// Guest-physical buffer address.
    pub addr: u64,
    /// Buffer length.
    pub len: u32,
    /// `VRING_DESC_F_*`.
    pub flags: u16,
    /// Next descriptor when `flags & NEXT`.
    pub next: u16,
}

/// The three ring areas of one burst, bounds and alignment checked.
pub(crate) struct RingView<'m> {
    desc: VolatileSlice<'m>,
    avail: VolatileSlice<'m>,
    used: VolatileSlice<'m>,
}

impl RingView<'_> {
    fn load16(s: &VolatileSlice<'_>, off: usize, order: Ordering) -> u16 {
        // Offsets are in range and 2-aligned by construction (checked in
        // `SplitRing::view`); a failure would only mean "read nothing".
        s.load::<u16>(off, order).map(u16::from_le).unwrap_or(0)
    }

    fn store16(s: &VolatileSlice<'_>, off: usize, v: u16, order: Ordering) {
        // See `load16`: cannot fail for the offsets we use.
        let _ = s.store(v.to_le(), off, order);
    }

    fn desc(&self, i: u16) -> Desc {
        let off = usize::from(i) * DESC_SIZE;
        if off + DESC_SIZE > self.desc.len() {
            // Cannot happen: callers check `i < size` and the table holds
            // `size` entries. An all-zero descriptor is refused downstream.
            return Desc {
                addr: 0,
                len: 0,
                flags: 0,
                next: 0,
            };
        }
        let q = self.desc.ptr_guard().as_ptr().wrapping_add(off);
        let (a, b) = if (q as usize).is_multiple_of(8) {
            // SAFETY: `off + 16 <= len` of a slice of mapped guest memory and
            // `q` is 8-aligned, so both reads are in bounds and aligned.
            // Volatile: the guest may be writing the table concurrently.
            unsafe {
                (
                    std::ptr::read_volatile(q.cast::<u64>()),
                    std::ptr::read_volatile(q.add(8).cast::<u64>()),
                )
            }
        } else {
            // A region starting at an odd guest address misaligns the host
            // view of an aligned table: copy bytewise instead.
            let mut raw = [0u8; DESC_SIZE];
            if let Ok(s) = self.desc.get_slice(off, DESC_SIZE) {
                s.copy_to(&mut raw[..]);
            }
            let w = |k: usize| u64::from_ne_bytes(raw[k..k + 8].try_into().unwrap_or_default());
            (w(0), w(8))
        };
        let b = u64::from_le(b);
        Desc {
            addr: u64::from_le(a),
            len: b as u32,
            flags: (b >> 32) as u16,
            next: (b >> 48) as u16,
        }
    }

    /// Write used element `slot` (`id`, `len`).
    fn put_used(&self, slot: u16, id: u16, len: u32) {
        let off = 4 + 8 * usize::from(slot);
        if off + 8 > self.used.len() {
            return; // Cannot happen: `slot < size` and the ring holds `size` entries.
        }
        let q = self.used.ptr_guard_mut().as_ptr().wrapping_add(off);
        if (q as usize).is_multiple_of(4) {
            // SAFETY: `off + 8 <= len` of a slice of mapped guest memory and
            // `q` is 4-aligned, so both writes are in bounds and aligned.
            unsafe {
                std::ptr::write_volatile(q.cast::<u32>(), u32::from(id).to_le());
                std::ptr::write_volatile(q.add(4).cast::<u32>(), len.to_le());
            }
        } else if let Ok(s) = self.used.get_slice(off, 8) {
            // Misaligned host view (see `desc`).
            let e = (u64::from(id) | u64::from(len) << 32).to_le_bytes();
            s.copy_from(&e[..]);
        }
    }
}

/// Driver-visible state of one split ring plus the device's private indices.
#[derive(Debug, Clone)]
pub struct SplitRing {
    size: u16,
    addrs: VringAddrs,
    event_idx: bool,
    last_avail: u16,
    next_used: u16,
    synced: bool,
    avail_event_base: Option<u16>,
    bad_avail: Option<u16>,
    /// Used index up to which the guest's interrupt request was checked
    /// after a full fence (the `old` of `vring_need_event`).
    checked_used: u16,
    /// Bursts published since that check.
    unfenced: u16,
}

impl SplitRing {
    /// A ring of `size` entries starting at avail index `base`.
    pub fn new(
        size: u32,
        addrs: VringAddrs,
        base: u16,
        event_idx: bool,
    ) -> Result<Self, VringError> {
        if size == 0 || size > u32::from(MAX_QUEUE_SIZE) || !size.is_power_of_two() {
            return Err(VringError::BadSize(size));
        }
        let check = |name, a: GuestAddress, align: u64| {
            if a.0.is_multiple_of(align) {
                Ok(())
            } else {
                Err(VringError::Misaligned(name, a.0))
            }
        };
        check("descriptor", addrs.desc, 16)?;
        check("avail", addrs.avail, 2)?;
        check("used", addrs.used, 4)?;
        Ok(Self {
            size: size as u16,
            addrs,
            event_idx,
            last_avail: base,
            next_used: base,
            synced: false,
            avail_event_base: None,
            bad_avail: None,
            checked_used: base,
            unfenced: 0,
        })
    }

    /// Queue size.
    pub fn size(&self) -> u16 {
        self.size
    }

    /// Ring addresses.
    pub fn addrs(&self) -> VringAddrs {
        self.addrs
    }

    /// Next avail index the device will consume (what GET_VRING_BASE returns).
    pub fn last_avail(&self) -> u16 {
        self.last_avail
    }

    /// Next used index the device will publish.
    pub fn next_used(&self) -> u16 {
        self.next_used
    }

    /// Switch `EVENT_IDX` semantics (features may be re-acked while running).
    pub fn set_event_idx(&mut self, on: bool) {
        self.event_idx = on;
        self.avail_event_base = None;
    }

    fn area_lens(&self) -> (usize, usize, usize) {
        let n = usize::from(self.size);
        // The event words (used_event, avail_event) are required whether or
        // not EVENT_IDX is on, so toggling the feature can't go out of range.
        (DESC_SIZE * n, 4 + 2 * n + 2, 4 + 8 * n + 2)
    }

    /// Check that all three areas lie inside guest memory.
    pub fn validate(&self, mem: &GuestMemoryMmap) -> Result<(), VringError> {
        self.view(mem).map(|_| ())
    }

    pub(crate) fn view<'m>(&self, mem: &'m GuestMemoryMmap) -> Result<RingView<'m>, VringError> {
        let (dl, al, ul) = self.area_lens();
        let get = |name, a: GuestAddress, len| {
            mem.get_slice(a, len)
                .map_err(|_| VringError::OutsideMemory(name, a.0))
        };
        Ok(RingView {
            desc: get("descriptor", self.addrs.desc, dl)?,
            avail: get("avail", self.addrs.avail, al)?,
            used: get("used", self.addrs.used, ul)?,
        })
    }

    /// Number of chains the guest has made available (0 on a bogus index,
    /// which is counted once per distinct value into `bad`).
    pub(crate) fn pending(&mut self, view: &RingView<'_>, bad: &mut u64) -> u16 {
        if !self.synced {
            // First burst after (re)start: the used index in memory is the
            // truth (the driver may have kept entries across a reconnect).
            self.next_used = RingView::load16(&view.used, 2, Ordering::Acquire);
            // We never hold chains across bursts, so at a (re)start everything the guest made
            // available before the used index was handed back. A frontend resuming after our
            // reconnect (DPDK virtio_user in server mode) sends base 0 whatever its indexes are:
            // trust the ring, as DPDK's own vhost library does, rather than re-reading stale slots.
            if self.last_avail != self.next_used {
                self.last_avail = self.next_used;
            }
            self.checked_used = self.next_used;
            self.unfenced = 0;
            let flags = if self.event_idx {
                0
            } else {
                VRING_USED_F_NO_NOTIFY
            };
            RingView::store16(&view.used, 0, flags, Ordering::Relaxed);
            self.synced = true;
        }
        let idx = RingView::load16(&view.avail, 2, Ordering::Acquire);
        let n = idx.wrapping_sub(self.last_avail);
        if n > self.size {
            if self.bad_avail != Some(idx) {
                self.bad_avail = Some(idx);
                *bad += 1;
            }
            return 0;
        }
        n
    }

    /// Head index of the `k`-th pending chain.
    pub(crate) fn avail_head(&self, view: &RingView<'_>, k: u16) -> u16 {
        let slot = self.last_avail.wrapping_add(k) & (self.size - 1);
        RingView::load16(&view.avail, 4 + 2 * usize::from(slot), Ordering::Relaxed)
    }

    /// Prefetch the head descriptors of the next `n` pending chains. The
    /// guest's core wrote them, so each line is a cross-core transfer; asked
    /// for all at once they overlap instead of stalling one walk after the
    /// other.
    pub(crate) fn prefetch_heads(&self, view: &RingView<'_>, n: u16) {
        let base = view.desc.ptr_guard().as_ptr();
        let mut last_line = usize::MAX;
        for k in 0..n.min(self.size) {
            let head = self.avail_head(view, k);
            if head < self.size {
                let p = base.wrapping_add(usize::from(head) * DESC_SIZE);
                if p as usize / 64 != last_line {
                    last_line = p as usize / 64;
                    crate::hostmem::prefetch_for_read(p);
                }
            }
        }
    }

    /// Prefetch, for writing, the used-ring lines the next `n` used entries
    /// will go to. The guest reads those lines (8 entries each) to reclaim
    /// its buffers, so each store would otherwise wait for an ownership
    /// transfer, and every later store of the burst would queue behind it.
    pub(crate) fn prefetch_used(&self, view: &RingView<'_>, n: u16) {
        let base = view.used.ptr_guard().as_ptr();
        let mut last_line = usize::MAX;
        for k in 0..n.min(self.size) {
            let slot = self.next_used.wrapping_add(k) & (self.size - 1);
            let p = base.wrapping_add(4 + 8 * usize::from(slot));
            if p as usize / 64 != last_line {
                last_line = p as usize / 64;
                crate::hostmem::prefetch_for_write(p.cast_mut(), 8);
            }
        }
    }

    /// Walk the chain starting at `head`, calling `f` on each descriptor.
    /// Checks head/next ranges, chain length and indirect descriptors; the
    /// callback checks direction and memory.
    pub(crate) fn walk<F>(&self, view: &RingView<'_>, head: u16, mut f: F) -> Result<(), ChainError>
    where
        F: FnMut(&Desc) -> Result<(), ChainError>,
    {
        if head >= self.size {
            return Err(ChainError::HeadOutOfRange);
        }
        let mut idx = head;
        let mut count = 0u32;
        loop {
            count += 1;
            if count > u32::from(self.size) {
                return Err(ChainError::TooLong);
            }
            let d = view.desc(idx);
            if d.flags & VRING_DESC_F_INDIRECT != 0 {
                return Err(ChainError::Indirect);
            }
            f(&d)?;
            if d.flags & VRING_DESC_F_NEXT == 0 {
                return Ok(());
            }
            if d.next >= self.size {
                return Err(ChainError::NextOutOfRange);
            }
            idx = d.next;
        }
    }

    /// Write used element `k` of this burst (not yet visible to the guest).
    pub(crate) fn put_used(&self, view: &RingView<'_>, k: u16, id: u16, len: u32) {
        let slot = self.next_used.wrapping_add(k) & (self.size - 1);
        view.put_used(slot, id, len);
    }

    /// End a burst: retire `consumed` avail entries, publish `used` used
    /// entries, keep kicks suppressed, and say whether to interrupt the guest.
    ///
    /// The guest's interrupt request is first read without a fence. A guest
    /// that asks for one gets the full check (fence, then read) at once; a
    /// polling guest's "no" is only trusted for [`SETTLE_EVERY`] bursts, or
    /// until a burst with nothing to publish, or until [`Self::settle`].
    /// Without the fence a store->load race with a guest that is just
    /// re-enabling interrupts could lose a wake-up, so the check is deferred,
    /// never skipped: everything published since the last fenced check is
    /// covered by the next one. The fence waits for every store still queued
    /// (a burst's copies into guest lines the other core owns), so paying it
    /// once per burst cost a busy PMD several percent.
    pub(crate) fn finish(&mut self, view: &RingView<'_>, consumed: u16, used: u16) -> bool {
        self.last_avail = self.last_avail.wrapping_add(consumed);
        if self.event_idx {
            let stale = self
                .avail_event_base
                .is_none_or(|b| self.last_avail.wrapping_sub(b) >= AVAIL_EVENT_REFRESH);
            if stale {
                let park = self
                    .last_avail
                    .wrapping_add(self.size)
                    .wrapping_add(AVAIL_EVENT_PARK);
                let off = 4 + 8 * usize::from(self.size);
                RingView::store16(&view.used, off, park, Ordering::Relaxed);
                self.avail_event_base = Some(self.last_avail);
            }
        }
        if used > 0 {
            self.next_used = self.next_used.wrapping_add(used);
            RingView::store16(&view.used, 2, self.next_used, Ordering::Release);
            self.unfenced += 1;
        }
        if self.unfenced == 0 {
            return false;
        }
        if used == 0 || self.unfenced >= SETTLE_EVERY || self.wants_interrupt(view) {
            return self.settle(view);
        }
        false
    }

    /// Published entries whose interrupt decision awaits a fenced check.
    pub(crate) fn unsettled(&self) -> bool {
        self.unfenced != 0
    }

    /// The fenced check of everything published since the last one: make
    /// the used index visible, then read the guest's request. Returns
    /// whether to interrupt the guest.
    pub(crate) fn settle(&mut self, view: &RingView<'_>) -> bool {
        if self.unfenced == 0 {
            return false;
        }
        // The used-index store must be visible before we read the guest's
        // interrupt suppression state (store->load ordering).
        fence(Ordering::SeqCst);
        self.unfenced = 0;
        let want = self.wants_interrupt(view);
        self.checked_used = self.next_used;
        want
    }

    /// Whether the guest's current request covers the entries published
    /// since the last fenced check.
    fn wants_interrupt(&self, view: &RingView<'_>) -> bool {
        if self.event_idx {
            let off = 4 + 2 * usize::from(self.size);
            let event = RingView::load16(&view.avail, off, Ordering::Relaxed);
            need_event(event, self.next_used, self.checked_used)
        } else {
            RingView::load16(&view.avail, 0, Ordering::Relaxed) & VRING_AVAIL_F_NO_INTERRUPT == 0
        }
    }
}

/// The virtio `vring_need_event`: did the index move from `old` past `event`?
pub fn need_event(event: u16, new: u16, old: u16) -> bool {
    new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn need_event_matches_spec_examples() {
        // Guest asked for an interrupt after entry 5 was used.
        assert!(need_event(5, 6, 5));
        assert!(need_event(5, 8, 3));
        assert!(!need_event(5, 5, 3));
        assert!(!need_event(9, 8, 3));
        // Wrap-around.
        assert!(need_event(0xffff, 1, 0xfffe));
        assert!(!need_event(2, 1, 0xfffe));
    }

    #[test]
    fn rejects_bad_sizes_and_alignment() {
        let a = VringAddrs {
            desc: GuestAddress(0),
            avail: GuestAddress(0x1000),
            used: GuestAddress(0x2000),
        };
        assert_eq!(
            SplitRing::new(0, a, 0, false).unwrap_err(),
            VringError::BadSize(0)
        );
        assert_eq!(
            SplitRing::new(100, a, 0, false).unwrap_err(),
            VringError::BadSize(100)
        );
        assert_eq!(
            SplitRing::new(65536, a, 0, false).unwrap_err(),
            VringError::BadSize(65536)
        );
        let mis = VringAddrs {
            desc: GuestAddress(8),
            ..a
        };
        assert!(matches!(
            SplitRing::new(256, mis, 0, false),
            Err(VringError::Misaligned("descriptor", 8))
        ));
        assert!(SplitRing::new(32768, a, 7, true).is_ok());
    }

    #[test]
    fn ring_outside_memory_is_rejected() {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x10000)]).unwrap();
        let a = VringAddrs {
            desc: GuestAddress(0),
            avail: GuestAddress(0x1000),
            used: GuestAddress(0xff00),
        };
        let r = SplitRing::new(256, a, 0, false).unwrap();
        assert_eq!(
            r.validate(&mem),
            Err(VringError::OutsideMemory("used", 0xff00))
        );
        let ok = SplitRing::new(
            256,
            VringAddrs {
                used: GuestAddress(0x2000),
                ..a
            },
            0,
            false,
        )
        .unwrap();
        assert!(ok.validate(&mem).is_ok());
    }
}
