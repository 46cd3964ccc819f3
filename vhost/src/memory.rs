//! Guest memory from a `SET_MEM_TABLE` message: every region's fd is mapped
//! with vm-memory (`MmapRegion::from_file`, shared, at the region's
//! `mmap_offset`) into a `GuestMemoryMmap` indexed by guest-physical
//! address, plus the frontend-virtual-address table that vring addresses are
//! translated through (vhost-user gives ring addresses in the frontend's
//! address space, buffer addresses in the guest's physical space).
//!
//! A table is immutable once built and shared as `Arc<GuestMem>`; a new
//! SET_MEM_TABLE builds a new one and each queue swaps its `Arc` under the
//! queue lock, so the old mappings are unmapped only after the last PMD
//! burst that could touch them has finished. Overlapping or empty regions
//! are refused (the frontend then gets a failure and is disconnected).

use std::fs::File;

use rvhost::vhost_user::message::VhostUserMemoryRegion;
use vm_memory::{FileOffset, GuestAddress, GuestMemoryMmap, GuestRegionMmap, MmapRegion};

/// Why a memory table was refused.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// Number of fds differs from the number of regions.
    #[error("{regions} regions but {fds} fds")]
    FdCount {
        /// Regions in the message.
        regions: usize,
        /// Fds attached.
        fds: usize,
    },
    /// A region's size does not fit this address space.
    #[error("region at {0:#x} is too large")]
    TooLarge(u64),
    /// mmap of a region failed.
    #[error("mapping region at {gpa:#x}: {source}")]
    Map {
        /// Guest-physical start.
        gpa: u64,
        /// vm-memory's error.
        source: vm_memory::mmap::MmapRegionError,
    },
    /// Regions overlap or wrap.
    #[error("bad region layout: {0}")]
    Layout(#[from] vm_memory::GuestRegionCollectionError),
}

#[derive(Debug, Clone, Copy)]
struct VaRange {
    va: u64,
    len: u64,
    gpa: u64,
}

/// One frontend memory table, mapped.
#[derive(Debug)]
pub struct GuestMem {
    /// Guest-physical view used for all buffer and ring access.
    pub mem: GuestMemoryMmap,
    va: Vec<VaRange>,
}

impl GuestMem {
    /// Map `regions` (with their fds, same order).
    pub fn from_regions(
        regions: &[VhostUserMemoryRegion],
        files: Vec<File>,
    ) -> Result<Self, MemoryError> {
        if regions.len() != files.len() {
            return Err(MemoryError::FdCount {
                regions: regions.len(),
                fds: files.len(),
            });
        }
        let mut mapped = Vec::with_capacity(regions.len());
        let mut va = Vec::with_capacity(regions.len());
        for (r, f) in regions.iter().zip(files) {
            let size = usize::try_from(r.memory_size)
                .map_err(|_| MemoryError::TooLarge(r.guest_phys_addr))?;
            let map = MmapRegion::from_file(FileOffset::new(f, r.mmap_offset), size).map_err(
                |source| MemoryError::Map {
                    gpa: r.guest_phys_addr,
                    source,
                },
            )?;
            let region = GuestRegionMmap::new(map, GuestAddress(r.guest_phys_addr))
                .ok_or(MemoryError::TooLarge(r.guest_phys_addr))?;
            mapped.push(region);
            va.push(VaRange {
                va: r.user_addr,
                len: r.memory_size,
                gpa: r.guest_phys_addr,
            });
        }
        mapped.sort_by_key(|r| r.start_addr_raw());
        let mem = GuestMemoryMmap::from_regions(mapped)?;
        Ok(Self { mem, va })
    }

    /// Wrap an existing guest-physical memory whose frontend addresses equal
    /// the guest-physical ones (in-process tests and benches).
    pub fn identity(mem: GuestMemoryMmap) -> Self {
        use vm_memory::{GuestMemoryBackend, GuestMemoryRegion};
        let va = mem
            .iter()
            .map(|r| VaRange {
                va: r.start_addr().0,
                len: r.len(),
                gpa: r.start_addr().0,
            })
            .collect();
        Self { mem, va }
    }

    /// Translate a frontend virtual range to a guest-physical address; the
    /// whole `[va, va + len)` must be inside one region.
    pub fn va_to_gpa(&self, va: u64, len: u64) -> Option<GuestAddress> {
        self.va.iter().find_map(|r| {
            let off = va.checked_sub(r.va)?;
            let end = off.checked_add(len)?;
            (end <= r.len).then(|| GuestAddress(r.gpa + off))
        })
    }
}

trait StartRaw {
    fn start_addr_raw(&self) -> u64;
}

impl StartRaw for GuestRegionMmap {
    fn start_addr_raw(&self) -> u64 {
        use vm_memory::GuestMemoryRegion;
        self.start_addr().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn va_translation_stays_inside_one_region() {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[
            (GuestAddress(0), 0x1000),
            (GuestAddress(0x10000), 0x1000),
        ])
        .unwrap();
        let mut g = GuestMem::identity(mem);
        g.va[1].va = 0x7f00_0000_0000;
        assert_eq!(g.va_to_gpa(0x10, 0x10), Some(GuestAddress(0x10)));
        assert_eq!(g.va_to_gpa(0xff0, 0x20), None);
        assert_eq!(
            g.va_to_gpa(0x7f00_0000_0100, 8),
            Some(GuestAddress(0x10100))
        );
        assert_eq!(g.va_to_gpa(0x10000, 8), None);
        assert_eq!(g.va_to_gpa(u64::MAX, 2), None);
    }
}
