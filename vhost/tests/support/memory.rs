//! Guest memory for the test frontend: one or two memfd-backed regions at
//! chosen guest-physical addresses, mapped shared into this process.
//!
//! The backend maps the same memfds itself (they travel in SET_MEM_TABLE), so
//! both sides see the same pages through different virtual addresses, exactly
//! as with a real VM. Regions are deliberately separated by an unmapped gap
//! in guest-physical space so that tests can build descriptors that point
//! outside any region or run off the end of one. All accesses go through
//! volatile reads/writes: the other side of the memory is a concurrently
//! running device.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::ptr::NonNull;

/// One memfd-backed region of guest memory.
pub struct Region {
    /// Guest-physical address of the first byte.
    pub gpa: u64,
    /// Length in bytes.
    pub len: usize,
    /// The memfd; its raw fd is what SET_MEM_TABLE sends.
    pub file: File,
    ptr: NonNull<u8>,
}

impl Region {
    fn new(gpa: u64, len: usize) -> io::Result<Self> {
        // SAFETY: memfd_create only reads the NUL-terminated name.
        let fd = unsafe { libc::memfd_create(c"dvs-test-guest".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let file = unsafe { File::from_raw_fd(fd) };
        file.set_len(len as u64)?;
        // SAFETY: mapping a file we own with a length it has; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        Ok(Self {
            gpa,
            len,
            file,
            ptr,
        })
    }

    /// Frontend-side virtual address of the region's first byte (what the
    /// vhost-user protocol calls the "user address").
    pub fn host_addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// One past the last guest-physical address of the region.
    pub fn end(&self) -> u64 {
        self.gpa + self.len as u64
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: ptr/len are the mapping made in `new`, unmapped exactly once.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// The guest's physical memory: a list of non-overlapping regions.
pub struct GuestMemory {
    pub regions: Vec<Region>,
}

// SAFETY: the raw pointers refer to shared mappings owned by the regions; all
// access is by volatile copies, so moving the owner across threads is fine.
unsafe impl Send for GuestMemory {}

impl GuestMemory {
    /// Creates regions for the given (guest-physical address, length) pairs.
    pub fn new(layout: &[(u64, usize)]) -> io::Result<Self> {
        let regions = layout
            .iter()
            .map(|&(gpa, len)| Region::new(gpa, len))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self { regions })
    }

    /// Host pointer for `len` bytes at `gpa`; panics if they are not all
    /// inside one region (a test bug, not a backend bug).
    fn ptr(&self, gpa: u64, len: usize) -> *mut u8 {
        for r in &self.regions {
            if gpa >= r.gpa && gpa + len as u64 <= r.end() {
                // SAFETY: the offset is within the region's mapping (checked above).
                return unsafe { r.ptr.as_ptr().add((gpa - r.gpa) as usize) };
            }
        }
        panic!("test bug: guest range {gpa:#x}+{len} is not inside one region");
    }

    /// Frontend virtual address of a guest-physical address.
    pub fn host_addr(&self, gpa: u64) -> u64 {
        self.ptr(gpa, 1) as u64
    }

    pub fn write(&self, gpa: u64, data: &[u8]) {
        let p = self.ptr(gpa, data.len());
        for (i, b) in data.iter().enumerate() {
            // SAFETY: p..p+data.len() is inside a live mapping (checked by `ptr`).
            unsafe { p.add(i).write_volatile(*b) };
        }
    }

    pub fn read(&self, gpa: u64, out: &mut [u8]) {
        let p = self.ptr(gpa, out.len());
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: p..p+out.len() is inside a live mapping (checked by `ptr`).
            *b = unsafe { p.add(i).read_volatile() };
        }
    }

    pub fn fill(&self, gpa: u64, len: usize, byte: u8) {
        let p = self.ptr(gpa, len);
        for i in 0..len {
            // SAFETY: p..p+len is inside a live mapping (checked by `ptr`).
            unsafe { p.add(i).write_volatile(byte) };
        }
    }

    pub fn write_u16(&self, gpa: u64, v: u16) {
        let p = self.ptr(gpa, 2).cast::<u16>();
        assert!(p.is_aligned(), "test bug: unaligned u16 at {gpa:#x}");
        // SAFETY: aligned, inside a live mapping (checked by `ptr`).
        unsafe { p.write_volatile(v.to_le()) };
    }

    pub fn read_u16(&self, gpa: u64) -> u16 {
        let p = self.ptr(gpa, 2).cast::<u16>();
        assert!(p.is_aligned(), "test bug: unaligned u16 at {gpa:#x}");
        // SAFETY: aligned, inside a live mapping (checked by `ptr`).
        u16::from_le(unsafe { p.read_volatile() })
    }

    pub fn write_u32(&self, gpa: u64, v: u32) {
        self.write(gpa, &v.to_le_bytes());
    }

    pub fn read_u32(&self, gpa: u64) -> u32 {
        let mut b = [0u8; 4];
        self.read(gpa, &mut b);
        u32::from_le_bytes(b)
    }

    pub fn write_u64(&self, gpa: u64, v: u64) {
        self.write(gpa, &v.to_le_bytes());
    }
}
