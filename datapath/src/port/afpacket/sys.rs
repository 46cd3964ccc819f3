//! The few Linux calls the raw-socket backends need, wrapped once so the ring code above stays
//! readable: socket options, an owned shared mapping, interface name/index lookups and a cached
//! link-state watcher.
//!
//! Link state (`IFF_UP && IFF_RUNNING`) and the MTU come from `SIOCGIFFLAGS`/`SIOCGIFMTU` on a
//! small control socket. The answer is cached in atomics and refreshed at most every
//! [`LINK_POLL`], by whichever thread asks first after the cache went stale, so neither the
//! control thread nor a PMD ever pays an ioctl per packet; a link change is noticed within one
//! poll interval. The ring layouts the AF_PACKET code reads come from `libc`'s uapi structs; only
//! the byte offsets derived from them with `offset_of!` live here.

use std::ffi::{c_char, c_int, c_void};
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a cached link state stays valid.
pub(crate) const LINK_POLL: Duration = Duration::from_millis(100);

/// `TPACKET_V2` / `TPACKET_V3` as the `PACKET_VERSION` option value.
pub(crate) const TPACKET_V2: c_int = libc::tpacket_versions::TPACKET_V2 as c_int;
/// See [`TPACKET_V2`].
pub(crate) const TPACKET_V3: c_int = libc::tpacket_versions::TPACKET_V3 as c_int;

/// Offset of `block_status` in a V3 block descriptor.
pub(crate) const BLOCK_STATUS: usize =
    offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, block_status);
/// Offset of `num_pkts` in a V3 block descriptor.
pub(crate) const BLOCK_NUM_PKTS: usize =
    offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, num_pkts);
/// Offset of `offset_to_first_pkt` in a V3 block descriptor.
pub(crate) const BLOCK_FIRST_PKT: usize = offset_of!(libc::tpacket_block_desc, hdr)
    + offset_of!(libc::tpacket_hdr_v1, offset_to_first_pkt);
/// Size of a V3 block descriptor.
pub(crate) const BLOCK_DESC_LEN: usize = size_of::<libc::tpacket_block_desc>();
/// Where the kernel puts the `sockaddr_ll` after a V3 frame header.
pub(crate) const V3_SLL: usize = align16(size_of::<libc::tpacket3_hdr>());
/// Offset of `sll_pkttype` inside `sockaddr_ll`.
pub(crate) const SLL_PKTTYPE: usize = offset_of!(libc::sockaddr_ll, sll_pkttype);
/// Where the frame data starts in a V2 TX slot (header length without the `sockaddr_ll`).
pub(crate) const V2_TX_DATA: usize = libc::TPACKET2_HDRLEN - size_of::<libc::sockaddr_ll>();

/// Round up to the kernel's `TPACKET_ALIGNMENT` (16).
pub(crate) const fn align16(x: usize) -> usize {
    (x + 15) & !15
}

/// The system page size.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

/// `socket(2)` returning an owned descriptor (close-on-exec).
pub(crate) fn socket(domain: c_int, ty: c_int, proto: c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the result is checked before use.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `setsockopt(2)` with a plain-old-data value.
pub(crate) fn setsockopt<T: Copy>(fd: RawFd, level: c_int, name: c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points at `size_of::<T>()` readable bytes for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (val as *const T).cast::<c_void>(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `bind(2)` an AF_PACKET socket to an interface with a protocol (network byte order).
pub(crate) fn bind_packet(fd: RawFd, ifindex: u32, proto_be: u16) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto_be;
    sll.sll_ifindex = ifindex as c_int;
    // SAFETY: `sll` is a valid sockaddr_ll and the length passed matches it.
    let rc = unsafe {
        libc::bind(
            fd,
            (&sll as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An interface name as the kernel's fixed `IFNAMSIZ` array, or `None` if it cannot be one.
pub(crate) fn ifname_array(name: &str) -> Option<[c_char; libc::IFNAMSIZ]> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() >= libc::IFNAMSIZ || b.contains(&0) {
        return None;
    }
    let mut out = [0 as c_char; libc::IFNAMSIZ];
    for (o, &c) in out.iter_mut().zip(b) {
        *o = c as c_char;
    }
    Some(out)
}

/// Convert the kernel's name array back to a string.
pub(crate) fn ifname_string(a: &[c_char; libc::IFNAMSIZ]) -> String {
    let bytes: Vec<u8> = a
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Interface index for a (validated) name.
pub(crate) fn if_index(name: &[c_char; libc::IFNAMSIZ]) -> io::Result<u32> {
    // SAFETY: `name` is NUL-terminated (ifname_array leaves at least one trailing zero).
    let idx = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if idx == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(idx)
}

/// A `MAP_SHARED` mapping of a descriptor (a packet ring), unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory shared with the kernel; the ring types that hold it serialise
// all user-side access (they sit behind a Mutex) and synchronise with the kernel through atomics.
unsafe impl Send for Mmap {}
// SAFETY: see Send; `&Mmap` only exposes the base pointer and length.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Map `len` bytes of `fd` read/write, shared, prefaulted.
    pub(crate) fn shared(fd: RawFd, len: usize) -> io::Result<Mmap> {
        // SAFETY: no address hint, the kernel picks the range; the result is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mmap { ptr, len })
    }

    /// Base address.
    #[inline]
    pub(crate) fn base(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: exactly the range mmap returned; nothing borrows into it once the owner drops.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// The `u32` at `base + off` viewed as an atomic (a ring status word shared with the kernel).
///
/// # Safety
/// `base + off` must be 4-byte aligned, inside a live mapping, and only ever accessed atomically
/// (or by the kernel with its own barriers) while the returned reference is used.
#[inline]
pub(crate) unsafe fn status_word<'a>(base: *mut u8, off: usize) -> &'a AtomicU32 {
    // SAFETY: forwarded to the caller's contract; AtomicU32 has the layout of u32.
    unsafe { AtomicU32::from_ptr(base.add(off).cast::<u32>()) }
}

/// Cached link state and MTU of one interface.
#[derive(Debug)]
pub(crate) struct LinkWatch {
    ctl: OwnedFd,
    ifname: [c_char; libc::IFNAMSIZ],
    epoch: Instant,
    /// Milliseconds since `epoch` after which the cache is stale.
    next_ms: AtomicU64,
    up: AtomicBool,
    mtu: AtomicU32,
}

impl LinkWatch {
    /// Watch `ifname`; reads the state once.
    pub(crate) fn new(ifname: [c_char; libc::IFNAMSIZ]) -> io::Result<LinkWatch> {
        let ctl = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
        let w = LinkWatch {
            ctl,
            ifname,
            epoch: Instant::now(),
            next_ms: AtomicU64::new(0),
            up: AtomicBool::new(false),
            mtu: AtomicU32::new(1500),
        };
        w.refresh()?;
        Ok(w)
    }

    fn ioctl(&self, req: libc::Ioctl, ifr: &mut libc::ifreq) -> io::Result<()> {
        ifr.ifr_name = self.ifname;
        // SAFETY: `ifr` is a valid ifreq for SIOC[GS]IF* requests, which read/write only it.
        let rc = unsafe { libc::ioctl(self.ctl.as_raw_fd(), req, ifr as *mut libc::ifreq) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Interface flags (`SIOCGIFFLAGS`).
    pub(crate) fn flags(&self) -> io::Result<c_int> {
        // SAFETY: ifreq is plain data; all-zero is valid.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        self.ioctl(libc::SIOCGIFFLAGS, &mut ifr)?;
        // SAFETY: SIOCGIFFLAGS fills the `ifru_flags` member of the union.
        Ok(c_int::from(unsafe { ifr.ifr_ifru.ifru_flags }) & 0xffff)
    }

    /// Set `IFF_UP` (`SIOCSIFFLAGS`) if it is not set.
    pub(crate) fn bring_up(&self) -> io::Result<()> {
        let flags = self.flags()?;
        if flags & libc::IFF_UP != 0 {
            return Ok(());
        }
        // SAFETY: ifreq is plain data; all-zero is valid.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        ifr.ifr_ifru.ifru_flags = (flags | libc::IFF_UP) as libc::c_short;
        self.ioctl(libc::SIOCSIFFLAGS, &mut ifr)?;
        self.next_ms.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// The MTU (`SIOCGIFMTU`).
    fn read_mtu(&self) -> io::Result<u32> {
        // SAFETY: ifreq is plain data; all-zero is valid.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        self.ioctl(libc::SIOCGIFMTU, &mut ifr)?;
        // SAFETY: SIOCGIFMTU fills the `ifru_mtu` member of the union.
        Ok(unsafe { ifr.ifr_ifru.ifru_mtu }.max(0) as u32)
    }

    /// Re-read flags and MTU now.
    pub(crate) fn refresh(&self) -> io::Result<()> {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.next_ms
            .store(now + LINK_POLL.as_millis() as u64, Ordering::Relaxed);
        let flags = match self.flags() {
            Ok(f) => f,
            Err(e) => {
                // The interface vanished (or was renamed): report the link down.
                self.up.store(false, Ordering::Relaxed);
                return Err(e);
            }
        };
        let up = flags & libc::IFF_UP != 0 && flags & libc::IFF_RUNNING != 0;
        self.up.store(up, Ordering::Relaxed);
        if let Ok(m) = self.read_mtu() {
            self.mtu.store(m, Ordering::Relaxed);
        }
        Ok(())
    }

    #[inline]
    fn refresh_if_stale(&self) {
        let now = self.epoch.elapsed().as_millis() as u64;
        if now >= self.next_ms.load(Ordering::Relaxed) {
            // A failure already marked the link down; nothing else to do here.
            let _ = self.refresh();
        }
    }

    /// Carrier up (cached, refreshed at most every [`LINK_POLL`]).
    #[inline]
    pub(crate) fn up(&self) -> bool {
        self.refresh_if_stale();
        self.up.load(Ordering::Relaxed)
    }

    /// MTU (cached like [`LinkWatch::up`]).
    #[inline]
    pub(crate) fn mtu(&self) -> u32 {
        self.refresh_if_stale();
        self.mtu.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_match_the_uapi_layout() {
        assert_eq!(BLOCK_STATUS, 8);
        assert_eq!(BLOCK_NUM_PKTS, 12);
        assert_eq!(BLOCK_FIRST_PKT, 16);
        assert_eq!(BLOCK_DESC_LEN, 48);
        assert_eq!(V3_SLL, 48);
        assert_eq!(V2_TX_DATA, 32);
        assert_eq!(SLL_PKTTYPE, 10);
    }

    #[test]
    fn ifname_validation() {
        assert!(ifname_array("").is_none());
        assert!(ifname_array("0123456789abcdef").is_none());
        assert!(ifname_array("a\0b").is_none());
        let a = ifname_array("veth0").unwrap_or([0; libc::IFNAMSIZ]);
        assert_eq!(ifname_string(&a), "veth0");
    }

    #[test]
    fn loopback_link_watch() {
        let lo = ifname_array("lo").unwrap_or([0; libc::IFNAMSIZ]);
        let w = LinkWatch::new(lo).expect("lo exists");
        assert!(w.up(), "lo is up and running");
        assert_eq!(w.mtu(), 65536);
    }
}
