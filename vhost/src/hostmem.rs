//! Guest-physical to host-pointer translation for one burst.
//!
//! A PMD burst touches every buffer of up to 32 chains, and going through
//! `GuestMemoryMmap::get_slice` for each (once to validate a descriptor and
//! again to copy) costs a binary search over the region list plus a
//! `VolatileSlice` per call, and it reads the region list through a heap
//! allocation the protocol thread made. [`HostMap`] copies the table (start,
//! length, host address of each region) onto the PMD's stack once per burst,
//! so a translation is a compare or two on data already in L1, and a
//! descriptor is translated exactly once: its checked host pointer is what
//! the copy later writes through.
//!
//! A frontend with more regions than fit inline (vhost-user allows 8 with the
//! classic SET_MEM_TABLE) falls back to `get_slice`, still once per
//! descriptor. The map borrows the guest memory, so the mappings it points
//! into cannot be unmapped while it exists.

use vm_memory::{
    GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion, MemoryRegionAddress,
};

/// Regions kept inline (the classic vhost-user memory table limit).
const INLINE: usize = 8;

#[derive(Clone, Copy, Default)]
struct HostRegion {
    gpa: u64,
    len: u64,
    host: usize,
}

/// The regions of one guest memory, as host addresses, for one burst.
pub(crate) struct HostMap<'m> {
    mem: &'m GuestMemoryMmap,
    /// Regions in `regs`, or `None` when there are too many (use `mem`).
    n: Option<usize>,
    regs: [HostRegion; INLINE],
}

impl<'m> HostMap<'m> {
    /// Snapshot `mem`'s region table.
    pub(crate) fn new(mem: &'m GuestMemoryMmap) -> Self {
        let mut regs = [HostRegion::default(); INLINE];
        let mut n = Some(0);
        for (i, r) in mem.iter().enumerate() {
            let host = r.get_host_address(MemoryRegionAddress(0)).ok();
            match (regs.get_mut(i), host) {
                (Some(slot), Some(host)) => {
                    *slot = HostRegion {
                        gpa: r.start_addr().0,
                        len: r.len(),
                        host: host as usize,
                    };
                    n = Some(i + 1);
                }
                _ => {
                    n = None;
                    break;
                }
            }
        }
        Self { mem, n, regs }
    }

    /// Host address of guest-physical `[gpa, gpa + len)`, which must lie
    /// entirely inside one region; `None` otherwise.
    ///
    /// The pointer is valid for reads and writes of `len` bytes for as long
    /// as the borrowed guest memory lives (the region is mapped shared and
    /// writable; the guest may change it concurrently, so callers copy bytes
    /// through raw pointers and never form references into it).
    #[inline]
    pub(crate) fn get(&self, gpa: u64, len: usize) -> Option<*mut u8> {
        let Some(n) = self.n else {
            return self
                .mem
                .get_slice(GuestAddress(gpa), len)
                .ok()
                .map(|s| s.ptr_guard_mut().as_ptr());
        };
        let len = len as u64;
        for r in &self.regs[..n] {
            let off = gpa.wrapping_sub(r.gpa);
            if off < r.len && len <= r.len - off {
                return Some((r.host + off as usize) as *mut u8);
            }
        }
        None
    }
}

/// Ask for the line holding `p` in shared state (a hint; never faults).
#[inline]
pub(crate) fn prefetch_for_read(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Ask for the first lines of `[p, p + len)` in exclusive state ahead of a
/// copy into it: the guest's core usually holds them, and the transfers of a
/// whole burst then overlap instead of stalling the copy one line at a time.
#[inline]
pub(crate) fn prefetch_for_write(p: *mut u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        const LINE: usize = 64;
        if len == 0 {
            return;
        }
        let end = (p as usize).saturating_add(len.min(2 * LINE));
        let mut a = p as usize & !(LINE - 1);
        while a < end {
            // PREFETCHW itself, not `_mm_prefetch::<_MM_HINT_ET0>`: without
            // the `prfchw` target feature that compiles to PREFETCHT0, which
            // fetches the line shared and makes the store pay a second
            // transfer to upgrade it. CPUs without PREFETCHW execute it as a
            // NOP (the 0F 0D opcode space).
            // SAFETY: a prefetch is a hint: it never faults, whatever the
            // address, and touches no register, flag or stack.
            unsafe {
                std::arch::asm!("prefetchw [{0}]", in(reg) a, options(nostack, preserves_flags, readonly))
            };
            a += LINE;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_stays_inside_one_region() {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[
            (GuestAddress(0), 0x1000),
            (GuestAddress(0x1000), 0x1000),
            (GuestAddress(0x10000), 0x1000),
        ])
        .unwrap();
        let m = HostMap::new(&mem);
        let base = |gpa: u64| mem.get_host_address(GuestAddress(gpa)).unwrap();
        assert_eq!(m.get(0x10, 0x10), Some(base(0x10)));
        assert_eq!(m.get(0xff0, 0x10), Some(base(0xff0)));
        // Adjacent regions are separate mappings: a buffer may not span them.
        assert_eq!(m.get(0xff0, 0x20), None);
        assert_eq!(m.get(0x10ff8, 8), Some(base(0x10ff8)));
        assert_eq!(m.get(0x10ff8, 9), None);
        assert_eq!(m.get(0x2000, 1), None);
        assert_eq!(m.get(u64::MAX, 2), None);
        assert_eq!(m.get(0x10000, usize::MAX), None);
    }

    #[test]
    fn many_regions_fall_back_to_the_memory_table() {
        let ranges: Vec<(GuestAddress, usize)> = (0..INLINE as u64 + 2)
            .map(|i| (GuestAddress(i * 0x10000), 0x1000))
            .collect();
        let mem = GuestMemoryMmap::<()>::from_ranges(&ranges).unwrap();
        let m = HostMap::new(&mem);
        assert!(m.n.is_none());
        let last = (INLINE as u64 + 1) * 0x10000;
        assert_eq!(
            m.get(last + 8, 8),
            Some(mem.get_host_address(GuestAddress(last + 8)).unwrap())
        );
        assert_eq!(m.get(last + 0xff8, 16), None);
    }
}
