//! Ownership of the kernel-side AF_XDP objects: the UMEM mapping, the four rings libxdp fills in,
//! the libxdp UMEM and socket handles, and the XDP redirect program.
//!
//! libxdp keeps pointers to our `xsk_ring_*` structs (it reads them again in
//! `xsk_socket__delete` to unmap the rings), so each ring struct lives in its own heap allocation
//! whose address never changes; the queues in `queue.rs` only hold raw pointers into them and
//! [`Xsk`] frees them last. Teardown order is fixed by `Drop`: socket, then UMEM handle, then the
//! ring structs, then the UMEM memory.
//!
//! The program is libxdp's default AF_XDP redirect program (`xsk_def_xdp_prog.o`, an XSKMAP
//! lookup on the receive queue that falls back to `XDP_PASS`), but loaded and attached by us
//! rather than implicitly by `xsk_socket__create` (`XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD`). That
//! gives us the native-then-generic fallback, tells us which mode actually took, and lets
//! [`XdpProgram`] detach exactly the program it attached, and only that one, on drop.

use super::{AfXdpError, XdpMode};
use std::ffi::{CStr, CString};
use std::io;
use std::mem::size_of;
use std::ptr::{self, NonNull};
use xdp_sys as sys;

const HUGE_PAGE: usize = 2 << 20;

/// The UMEM memory: one anonymous mapping, hugepages if any are reserved.
#[derive(Debug)]
pub(super) struct UmemArea {
    base: NonNull<u8>,
    map_len: usize,
    len: usize,
    huge: bool,
}

impl UmemArea {
    /// Map `len` bytes (a multiple of the frame size), trying 2 MiB pages first.
    pub(super) fn new(len: usize) -> Result<UmemArea, AfXdpError> {
        let huge_len = len.div_ceil(HUGE_PAGE) * HUGE_PAGE;
        if let Ok(base) = map(huge_len, true) {
            return Ok(UmemArea {
                base,
                map_len: huge_len,
                len,
                huge: true,
            });
        }
        eprintln!(
            "dvs: warning: no hugepages for a {} KiB AF_XDP UMEM; using normal pages",
            len >> 10
        );
        let base = map(len, false).map_err(|source| AfXdpError::UmemMap { bytes: len, source })?;
        Ok(UmemArea {
            base,
            map_len: len,
            len,
            huge: false,
        })
    }

    /// First byte of the UMEM.
    #[inline]
    pub(super) fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Registered length in bytes.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether the UMEM sits in hugepages.
    pub(super) fn is_huge(&self) -> bool {
        self.huge
    }
}

impl Drop for UmemArea {
    fn drop(&mut self) {
        // SAFETY: exactly the range mmap returned; the socket that pinned it is gone (Xsk drops
        // its handles before this field).
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.map_len);
        }
    }
}

fn map(len: usize, huge: bool) -> io::Result<NonNull<u8>> {
    let mut flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE;
    if huge {
        flags |= libc::MAP_HUGETLB;
    }
    // SAFETY: anonymous mapping without address hint; the result is checked.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(p.cast()).ok_or_else(|| io::Error::other("mmap returned null"))
}

/// A heap-pinned ring struct that libxdp may point at.
struct RingBox<T>(NonNull<T>);

impl<T: Default> RingBox<T> {
    fn new() -> RingBox<T> {
        RingBox(NonNull::from(Box::leak(Box::<T>::default())))
    }
}

impl<T> Drop for RingBox<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from Box::leak in `new` and is freed only here.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// Ring sizes and frame geometry for [`Xsk::bind`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Geometry {
    pub frame_size: u32,
    pub rx_ring: u32,
    pub tx_ring: u32,
}

/// An AF_XDP socket with its UMEM and rings.
pub(super) struct Xsk {
    socket: *mut sys::xsk_socket,
    umem: *mut sys::xsk_umem,
    fill: RingBox<sys::xsk_ring_prod>,
    comp: RingBox<sys::xsk_ring_cons>,
    rx: RingBox<sys::xsk_ring_cons>,
    tx: RingBox<sys::xsk_ring_prod>,
    area: UmemArea,
    zero_copy: bool,
}

// SAFETY: the handles are only used through `&mut self` (bind, drop) or for thread-safe syscalls
// on the socket descriptor; the rings are driven by the queues, each behind its own Mutex.
unsafe impl Send for Xsk {}
// SAFETY: see Send; `&Xsk` exposes only the descriptor and immutable geometry.
unsafe impl Sync for Xsk {}

/// The four ring pointers, handed to the queues.
pub(super) struct Rings {
    pub fill: *mut sys::xsk_ring_prod,
    pub comp: *mut sys::xsk_ring_cons,
    pub rx: *mut sys::xsk_ring_cons,
    pub tx: *mut sys::xsk_ring_prod,
}

impl Xsk {
    /// An unbound socket owning `area`.
    pub(super) fn new(area: UmemArea) -> Xsk {
        Xsk {
            socket: ptr::null_mut(),
            umem: ptr::null_mut(),
            fill: RingBox::new(),
            comp: RingBox::new(),
            rx: RingBox::new(),
            tx: RingBox::new(),
            area,
            zero_copy: false,
        }
    }

    /// Register the UMEM and create a socket bound to `ifname`/`queue`, zero-copy or copy.
    /// On failure everything created here is torn down again, so the call can be retried.
    pub(super) fn bind(
        &mut self,
        ifname: &CStr,
        queue: u32,
        g: Geometry,
        zero_copy: bool,
    ) -> Result<(), AfXdpError> {
        debug_assert!(self.socket.is_null() && self.umem.is_null());
        let ucfg = sys::xsk_umem_config {
            fill_size: g.rx_ring,
            comp_size: g.tx_ring,
            frame_size: g.frame_size,
            frame_headroom: 0,
            flags: 0,
        };
        // SAFETY: the area is a live mapping of `len` bytes that outlives the UMEM (dropped after
        // it); the fill/comp structs are heap-pinned for as long as libxdp may use them.
        let rc = unsafe {
            sys::xsk_umem__create(
                &mut self.umem,
                self.area.base().cast(),
                self.area.len() as u64,
                self.fill.0.as_ptr(),
                self.comp.0.as_ptr(),
                &ucfg,
            )
        };
        if rc != 0 {
            self.umem = ptr::null_mut();
            return Err(AfXdpError::UmemCreate(neg_errno(rc)));
        }
        let mode_flag = if zero_copy {
            sys::XDP_ZEROCOPY
        } else {
            sys::XDP_COPY
        };
        let scfg = sys::xsk_socket_config {
            rx_size: g.rx_ring,
            tx_size: g.tx_ring,
            __bindgen_anon_1: sys::xsk_socket_config__bindgen_ty_1 {
                libxdp_flags: sys::XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
            },
            xdp_flags: 0,
            bind_flags: (sys::XDP_USE_NEED_WAKEUP | mode_flag) as u16,
        };
        // SAFETY: `umem` was just created; rx/tx structs are heap-pinned; `ifname` is
        // NUL-terminated.
        let rc = unsafe {
            sys::xsk_socket__create(
                &mut self.socket,
                ifname.as_ptr(),
                queue,
                self.umem,
                self.rx.0.as_ptr(),
                self.tx.0.as_ptr(),
                &scfg,
            )
        };
        if rc != 0 {
            self.socket = ptr::null_mut();
            // SAFETY: no socket uses the UMEM; libxdp 1.3 also unmaps its fill/comp rings here.
            unsafe { sys::xsk_umem__delete(self.umem) };
            self.umem = ptr::null_mut();
            return Err(AfXdpError::SocketCreate {
                ifname: ifname.to_string_lossy().into_owned(),
                queue,
                zero_copy,
                source: neg_errno(rc),
            });
        }
        self.zero_copy = self.query_zero_copy().unwrap_or(zero_copy);
        Ok(())
    }

    fn query_zero_copy(&self) -> io::Result<bool> {
        let mut opts = sys::xdp_options::default();
        getsockopt(self.fd(), sys::XDP_OPTIONS, &mut opts)?;
        Ok(opts.flags & sys::XDP_OPTIONS_ZEROCOPY != 0)
    }

    /// Whether the bound socket runs in zero-copy mode.
    pub(super) fn zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// The socket descriptor (for kicks and statistics).
    pub(super) fn fd(&self) -> i32 {
        // SAFETY: `socket` is a live handle once `bind` succeeded (callers only ask then).
        unsafe { sys::xsk_socket__fd(self.socket) }
    }

    /// Raw ring pointers (valid until this `Xsk` drops).
    pub(super) fn rings(&self) -> Rings {
        Rings {
            fill: self.fill.0.as_ptr(),
            comp: self.comp.0.as_ptr(),
            rx: self.rx.0.as_ptr(),
            tx: self.tx.0.as_ptr(),
        }
    }

    /// The UMEM memory.
    pub(super) fn area(&self) -> &UmemArea {
        &self.area
    }

    /// Point `program`'s XSKMAP entry for our queue at this socket.
    pub(super) fn register(&self, program: &XdpProgram) -> Result<(), AfXdpError> {
        // SAFETY: `socket` is live; the map fd belongs to the loaded program.
        let rc = unsafe { sys::xsk_socket__update_xskmap(self.socket, program.map_fd) };
        if rc != 0 {
            return Err(AfXdpError::XskMap(neg_errno(rc)));
        }
        Ok(())
    }

    /// Kernel-side socket statistics.
    pub(super) fn statistics(&self) -> io::Result<sys::xdp_statistics> {
        let mut s = sys::xdp_statistics::default();
        getsockopt(self.fd(), sys::XDP_STATISTICS, &mut s)?;
        Ok(s)
    }
}

impl Drop for Xsk {
    fn drop(&mut self) {
        if !self.socket.is_null() {
            // SAFETY: live handle, deleted once; the ring structs it points at are still alive.
            unsafe { sys::xsk_socket__delete(self.socket) };
        }
        if !self.umem.is_null() {
            // SAFETY: live handle whose only socket is gone.
            unsafe { sys::xsk_umem__delete(self.umem) };
        }
    }
}

fn getsockopt<T>(fd: i32, name: u32, val: &mut T) -> io::Result<()> {
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `val` is writable for `len` bytes; the kernel writes at most that much.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_XDP,
            name as i32,
            (val as *mut T).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A libxdp return code (`-errno`) as an `io::Error`.
fn neg_errno(rc: impl Into<i64>) -> io::Error {
    let rc = rc.into();
    if rc < 0 && rc > -4096 {
        io::Error::from_raw_os_error(-rc as i32)
    } else {
        io::Error::other(format!("libxdp error {rc}"))
    }
}

/// The redirect program, attached to one interface in one mode, detached on drop.
pub(super) struct XdpProgram {
    prog: NonNull<sys::xdp_program>,
    ifindex: i32,
    mode: sys::xdp_attach_mode,
    map_fd: i32,
}

// SAFETY: the handle is only used in `Drop` (and during construction); libxdp keeps no
// thread-local state for it.
unsafe impl Send for XdpProgram {}
// SAFETY: `&XdpProgram` exposes only plain integers.
unsafe impl Sync for XdpProgram {}

const DEFAULT_PROG: &CStr = c"xsk_def_xdp_prog.o";

impl XdpProgram {
    /// Load the default AF_XDP program and attach it to `ifindex` in `mode` (Native or Generic),
    /// with its XSKMAP large enough for `queue`.
    pub(super) fn attach(
        ifname: &str,
        ifindex: u32,
        queue: u32,
        mode: XdpMode,
    ) -> Result<XdpProgram, AfXdpError> {
        // SAFETY: NUL-terminated file name; NULL section and options select the defaults.
        let raw = unsafe {
            sys::xdp_program__find_file(DEFAULT_PROG.as_ptr(), ptr::null(), ptr::null_mut())
        };
        // SAFETY: libxdp_get_error only inspects the pointer value.
        let err = unsafe { sys::libxdp_get_error(raw.cast()) };
        let prog = match NonNull::new(raw) {
            Some(p) if err == 0 => p,
            _ => return Err(AfXdpError::ProgramLoad(neg_errno(err))),
        };
        // From here on, `p` closes the program on every error path.
        let mut p = XdpProgram {
            prog,
            ifindex: ifindex as i32,
            mode: sys::XDP_MODE_UNSPEC,
            map_fd: -1,
        };
        let map = p.xsks_map()?;
        // SAFETY: `map` belongs to the not-yet-loaded object of `prog`.
        unsafe {
            if sys::bpf_map__max_entries(map.as_ptr()) <= queue {
                let rc = sys::bpf_map__set_max_entries(map.as_ptr(), queue + 1);
                if rc != 0 {
                    return Err(AfXdpError::XskMap(neg_errno(rc)));
                }
            }
        }
        let want = match mode {
            XdpMode::Native => sys::XDP_MODE_NATIVE,
            _ => sys::XDP_MODE_SKB,
        };
        // SAFETY: live program handle; libxdp loads the object and attaches it.
        let rc = unsafe { sys::xdp_program__attach(p.prog.as_ptr(), p.ifindex, want, 0) };
        if rc != 0 {
            return Err(AfXdpError::ProgramAttach {
                ifname: ifname.into(),
                mode,
                source: neg_errno(rc),
            });
        }
        p.mode = want;
        // SAFETY: the object is loaded now, so the map has a descriptor.
        p.map_fd = unsafe { sys::bpf_map__fd(map.as_ptr()) };
        if p.map_fd < 0 {
            return Err(AfXdpError::XskMap(neg_errno(p.map_fd)));
        }
        Ok(p)
    }

    fn xsks_map(&self) -> Result<NonNull<sys::bpf_map>, AfXdpError> {
        // SAFETY: live program handle; its bpf_object lives as long as the program.
        let obj = unsafe { sys::xdp_program__bpf_obj(self.prog.as_ptr()) };
        // SAFETY: `obj` is the program's object (or null, which libbpf rejects).
        let map = unsafe { sys::bpf_object__find_map_by_name(obj, c"xsks_map".as_ptr()) };
        NonNull::new(map).ok_or_else(|| {
            AfXdpError::XskMap(io::Error::new(
                io::ErrorKind::NotFound,
                "no xsks_map in the default program",
            ))
        })
    }

    /// The mode the kernel reports for our program (Native or Generic).
    pub(super) fn attached_mode(&self) -> XdpMode {
        // SAFETY: live program handle.
        match unsafe { sys::xdp_program__is_attached(self.prog.as_ptr(), self.ifindex) } {
            sys::XDP_MODE_NATIVE => XdpMode::Native,
            sys::XDP_MODE_SKB => XdpMode::Generic,
            _ if self.mode == sys::XDP_MODE_NATIVE => XdpMode::Native,
            _ => XdpMode::Generic,
        }
    }
}

impl Drop for XdpProgram {
    fn drop(&mut self) {
        if self.mode != sys::XDP_MODE_UNSPEC {
            // SAFETY: live handle that we attached ourselves, in this mode, to this interface.
            let rc =
                unsafe { sys::xdp_program__detach(self.prog.as_ptr(), self.ifindex, self.mode, 0) };
            if rc != 0 {
                eprintln!(
                    "dvs: warning: detaching the AF_XDP program from ifindex {}: {}",
                    self.ifindex,
                    neg_errno(rc)
                );
            }
        }
        // SAFETY: live handle, closed exactly once.
        unsafe { sys::xdp_program__close(self.prog.as_ptr()) };
    }
}

/// An interface name as a C string.
pub(super) fn c_ifname(name: &str) -> Option<CString> {
    CString::new(name).ok()
}
